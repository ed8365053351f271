/*
 * test_fastmath.c — the vectorizable exp/sigmoid/tanh of runtime/rnn_fastmath.h.
 *
 * Accuracy: every float of [-20, 20] (and of exp's whole finite range) at a stride of a
 * few thousand bit patterns, plus consecutive floats around the points where something
 * changes (0, tanh's switch at 0.55, the saturation and overflow/underflow points),
 * compared in double with libm. The bounds are the ones rnn_fastmath.h documents
 * (measured exhaustively over all 2^32 floats, with and without FMA) plus a little
 * margin, so a regression of even one ulp shows. Limits and special values are exact.
 *
 * Vectorization: not a timing test. A tiny translation unit with 64-element loops is
 * compiled to assembly with clang (and gcc, when present) for x86-64-v3 (AVX2 + FMA);
 * the loops must use ymm registers and call nothing (no expf/tanhf/fmaf left behind).
 * This file itself is built without -march, i.e. on the mul+add path; the FMA path
 * that generated code uses is checked by building and running a small sweep program
 * the same way (skipped on a CPU without AVX2 + FMA).
 */
#include "run.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rnn_fastmath.h"

/* The bounds rnn_fastmath.h documents, in float ulps of the exact result and relative
 * (exhaustive maxima: exp 1.10 ulp 9.3e-8, sigmoid 2.40 ulp 1.9e-7, tanh 1.55 ulp 1.6e-7). */
#define EXP_MAX_ULP 1.25
#define EXP_MAX_REL 1.0e-7
#define SIG_MAX_ULP 2.6
#define SIG_MAX_REL 2.0e-7
#define TANH_MAX_ULP 1.75
#define TANH_MAX_REL 1.75e-7
/* Results in the subnormal range: absolute error in units of the smallest subnormal. */
#define SUB_MAX_STEPS 1.0

typedef float (*fast_fn)(float);
typedef double (*ref_fn)(double);

static double ref_exp(double x) { return exp(x); }
static double ref_tanh(double x) { return tanh(x); }
/* In double e^-|x| never overflows in the float range and the form has no cancellation.
 * rnn_fast_sigmoidf is 0 where the exact result is below 2^-126.5 (x < -126.5 ln 2,
 * rnn_fastmath.h): so is the reference, and check_point then wants 0 within one
 * subnormal step. Which side of that line a float x falls is decided by the float
 * rounding of x / ln 2: within FLUSH_EDGE of it, either 0 or the exact value. */
#define SIG_FLUSH_AT (-126.5 * 0.693147180559945309)
#define FLUSH_EDGE 2e-5 /* about 3 floats */
static double ref_sigmoid(double x) {
    double e = exp(-fabs(x));
    double r = (x < 0 ? e : 1.0) / (1.0 + e);
    return x < SIG_FLUSH_AT ? 0.0 : r;
}

static float fast_exp(float x) { return rnn_fast_expf(x); }
static float fast_sigmoid(float x) { return rnn_fast_sigmoidf(x); }
static float fast_tanh(float x) { return rnn_fast_tanhf(x); }

typedef struct {
    double max_ulp, max_rel, max_sub; /* worst errors seen                      */
    float at_ulp, at_rel;             /* where                                  */
    long points, mono_breaks;         /* points checked, decreasing steps seen  */
    float mono_at;
} err_stats;

/* Float ulp at the magnitude of an exact (double) result that is a normal float. */
static double float_ulp(double r) {
    int e;
    frexp(fabs(r), &e);
    return ldexp(1.0, e - 24);
}

static void check_point(fast_fn f, ref_fn ref, float x, err_stats *s) {
    double y = f(x), r = ref(x);
    s->points++;
    if (r > FLT_MAX) { /* the float result is +inf */
        cr_assert(isinf(y) && y > 0, "f(%a) = %a, want +inf", (double)x, y);
        return;
    }
    cr_assert(isfinite(y), "f(%a) = %a, want %a", (double)x, y, r);
    if (ref == ref_sigmoid && fabs(x - SIG_FLUSH_AT) < FLUSH_EDGE) { /* at the flush's edge */
        if (y == 0.0) return;
        r = exp(x) / (1.0 + exp(x)); /* not flushed here: then the exact value */
    }
    double d = fabs(y - r);
    if (fabs(r) < FLT_MIN) {
        double steps = d / ldexp(1.0, -149);
        if (steps > s->max_sub) s->max_sub = steps;
        return;
    }
    double u = d / float_ulp(r), rel = d / fabs(r);
    if (u > s->max_ulp) { s->max_ulp = u; s->at_ulp = x; }
    if (rel > s->max_rel) { s->max_rel = rel; s->at_rel = x; }
}

/* Floats ordered as integers: ... -1 -> -(bits of 1.0f), +-0 -> 0, 1 -> bits of 1.0f. */
static int64_t float_key(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (u >> 31) ? -(int64_t)(u & 0x7fffffffu) : (int64_t)u;
}

static float key_float(int64_t k) {
    uint32_t u = k < 0 ? 0x80000000u | (uint32_t)(-k) : (uint32_t)k;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Every stride-th float from lo to hi (inclusive) in increasing order; when mono,
 * also count the steps where the function decreases. */
static void sweep(fast_fn f, ref_fn ref, float lo, float hi, int64_t stride, int mono,
                  err_stats *s) {
    float prev = -INFINITY;
    for (int64_t k = float_key(lo); k <= float_key(hi); k += stride) {
        float x = key_float(k);
        check_point(f, ref, x, s);
        if (mono) {
            float y = f(x);
            if (y < prev) { s->mono_breaks++; s->mono_at = x; }
            prev = y;
        }
    }
}

/* 2^16 consecutive floats centred on c. */
static void dense(fast_fn f, ref_fn ref, float c, err_stats *s) {
    int64_t k = float_key(c);
    sweep(f, ref, key_float(k - 32768), key_float(k + 32768), 1, 0, s);
}

static void expect_bounds(const char *name, const err_stats *s, double max_ulp, double max_rel) {
    cr_log_info("%s: %ld points, max %.3f ulp at %a, max rel %.3g at %a, subnormal %.2f steps",
                name, s->points, s->max_ulp, (double)s->at_ulp, s->max_rel, (double)s->at_rel,
                s->max_sub);
    cr_expect_leq(s->max_ulp, max_ulp, "%s: %.3f ulp at %a (bound %.2f)", name, s->max_ulp,
                  (double)s->at_ulp, max_ulp);
    cr_expect_leq(s->max_rel, max_rel, "%s: relative %.3g at %a (bound %.3g)", name, s->max_rel,
                  (double)s->at_rel, max_rel);
    cr_expect_leq(s->max_sub, SUB_MAX_STEPS, "%s: %.2f subnormal steps", name, s->max_sub);
}

/* ---- accuracy ------------------------------------------------------------------- */

Test(fastmath, exp_accuracy) {
    err_stats s = {0};
    sweep(fast_exp, ref_exp, -20.0f, 20.0f, 4099, 0, &s);
    sweep(fast_exp, ref_exp, -110.0f, 95.0f, 2053, 0, &s);   /* whole range, both ends */
    sweep(fast_exp, ref_exp, -0x1p-6f, 0x1p-6f, 257, 0, &s); /* near 0, to subnormals   */
    const float points[] = {0.0f, 0.34657359f, -0.34657359f, 0.69314718f, 1.0f, -1.0f,
                            88.7228394f, -87.3365479f, -103.972084f, 10.0f, -10.0f};
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++)
        dense(fast_exp, ref_exp, points[i], &s);
    expect_bounds("exp", &s, EXP_MAX_ULP, EXP_MAX_REL);
}

Test(fastmath, sigmoid_accuracy_and_monotonic) {
    err_stats s = {0};
    sweep(fast_sigmoid, ref_sigmoid, -20.0f, 20.0f, 4099, 1, &s);
    sweep(fast_sigmoid, ref_sigmoid, -110.0f, 110.0f, 2053, 1, &s);
    sweep(fast_sigmoid, ref_sigmoid, -0x1p-6f, 0x1p-6f, 257, 1, &s);
    const float points[] = {0.0f, 1.0f, -1.0f, 5.2f, -5.2f, 16.6355324f, 17.3286791f,
                            -87.3365479f, -87.6831989f /* the flush */, -103.972084f};
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++)
        dense(fast_sigmoid, ref_sigmoid, points[i], &s);
    expect_bounds("sigmoid", &s, SIG_MAX_ULP, SIG_MAX_REL);
    cr_expect_eq(s.mono_breaks, 0, "sigmoid decreases %ld times, last at %a", s.mono_breaks,
                 (double)s.mono_at);
}

Test(fastmath, tanh_accuracy_and_monotonic) {
    err_stats s = {0};
    sweep(fast_tanh, ref_tanh, -20.0f, 20.0f, 4099, 1, &s);
    sweep(fast_tanh, ref_tanh, -0x1p-6f, 0x1p-6f, 257, 1, &s); /* tanh x ~ x near 0 */
    sweep(fast_tanh, ref_tanh, -1.0f, 1.0f, 1021, 1, &s);
    const float points[] = {0.0f, 0.55f, -0.55f, 0x1p-12f, -0x1p-12f, 0.866f, 9.01f, -9.01f,
                            9.1f, -9.1f};
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++)
        dense(fast_tanh, ref_tanh, points[i], &s);
    expect_bounds("tanh", &s, TANH_MAX_ULP, TANH_MAX_REL);
    cr_expect_eq(s.mono_breaks, 0, "tanh decreases %ld times, last at %a", s.mono_breaks,
                 (double)s.mono_at);
}

/* ---- limits and special values --------------------------------------------------- */

Test(fastmath, exp_limits) {
    cr_expect_eq(rnn_fast_expf(0.0f), 1.0f);
    cr_expect_eq(rnn_fast_expf(-0.0f), 1.0f);
    cr_expect_eq(rnn_fast_expf(FLT_TRUE_MIN), 1.0f);
    cr_expect_eq(rnn_fast_expf(-FLT_TRUE_MIN), 1.0f);
    cr_expect_eq(rnn_fast_expf(-INFINITY), 0.0f);
    cr_expect_eq(rnn_fast_expf(-FLT_MAX), 0.0f);
    cr_expect(isinf(rnn_fast_expf(INFINITY)) && rnn_fast_expf(INFINITY) > 0);
    cr_expect(isinf(rnn_fast_expf(FLT_MAX)) && rnn_fast_expf(FLT_MAX) > 0);
    cr_expect(isnan(rnn_fast_expf(NAN)));
    cr_expect(isnan(rnn_fast_expf(-NAN)));
    /* Overflow: e^x > FLT_MAX from 88.7228394 (= ln FLT_MAX rounded up) on. */
    cr_expect(isfinite(rnn_fast_expf(88.72f)));
    for (float x = 88.7228394f; x < 200.0f; x = x * 1.01f)
        cr_expect(isinf(rnn_fast_expf(x)), "exp(%a) = %a, want inf", (double)x,
                  (double)rnn_fast_expf(x));
    /* Underflow: below -88 the result is subnormal, then exactly 0 below ln 2^-150. */
    for (float x = -88.0f; x > -103.9f; x -= 0.25f) {
        float y = rnn_fast_expf(x);
        cr_expect(y >= 0.0f && y < FLT_MIN, "exp(%a) = %a, want a subnormal", (double)x,
                  (double)y);
    }
    for (float x = -103.98f; x > -1000.0f; x = x * 1.01f)
        cr_expect_eq(rnn_fast_expf(x), 0.0f, "exp(%a) = %a, want 0", (double)x,
                     (double)rnn_fast_expf(x));
    cr_expect(!signbit(rnn_fast_expf(-200.0f)));
}

Test(fastmath, sigmoid_limits) {
    cr_expect_eq(rnn_fast_sigmoidf(0.0f), 0.5f);
    cr_expect_eq(rnn_fast_sigmoidf(-0.0f), 0.5f);
    cr_expect_eq(rnn_fast_sigmoidf(FLT_TRUE_MIN), 0.5f);
    cr_expect_eq(rnn_fast_sigmoidf(-FLT_TRUE_MIN), 0.5f);
    cr_expect_eq(rnn_fast_sigmoidf(INFINITY), 1.0f);
    cr_expect_eq(rnn_fast_sigmoidf(-INFINITY), 0.0f);
    cr_expect_eq(rnn_fast_sigmoidf(FLT_MAX), 1.0f);
    cr_expect_eq(rnn_fast_sigmoidf(-FLT_MAX), 0.0f);
    cr_expect(isnan(rnn_fast_sigmoidf(NAN)));
    cr_expect(isnan(rnn_fast_sigmoidf(-NAN)));
    /* 1 - sigmoid(x) < 2^-25 from about 17.33: the float result is exactly 1. */
    for (float x = 17.33f; x < 1e30f; x = x * 1.5f) {
        cr_expect_eq(rnn_fast_sigmoidf(x), 1.0f, "sigmoid(%a) = %a", (double)x,
                     (double)rnn_fast_sigmoidf(x));
        float y = rnn_fast_sigmoidf(-x);
        cr_expect(y >= 0.0f && y < 3e-8f, "sigmoid(%a) = %a", (double)-x, (double)y);
    }
    cr_expect_eq(rnn_fast_sigmoidf(-110.0f), 0.0f);
    /* Always in [0, 1], whatever the input. */
    for (int64_t k = float_key(-INFINITY); k <= float_key(INFINITY); k += 99991) {
        float y = rnn_fast_sigmoidf(key_float(k));
        cr_assert(y >= 0.0f && y <= 1.0f, "sigmoid(%a) = %a", (double)key_float(k), (double)y);
    }
}

Test(fastmath, tanh_limits) {
    cr_expect_eq(rnn_fast_tanhf(0.0f), 0.0f);
    cr_expect(!signbit(rnn_fast_tanhf(0.0f)));
    cr_expect(signbit(rnn_fast_tanhf(-0.0f)) && rnn_fast_tanhf(-0.0f) == 0.0f);
    cr_expect_eq(rnn_fast_tanhf(INFINITY), 1.0f);
    cr_expect_eq(rnn_fast_tanhf(-INFINITY), -1.0f);
    cr_expect_eq(rnn_fast_tanhf(FLT_MAX), 1.0f);
    cr_expect_eq(rnn_fast_tanhf(-FLT_MAX), -1.0f);
    cr_expect(isnan(rnn_fast_tanhf(NAN)));
    cr_expect(isnan(rnn_fast_tanhf(-NAN)));
    /* tanh x rounds to x itself for |x| <= 2^-12 (x^3/3 is under half an ulp of x),
     * subnormals included. */
    const float tiny[] = {FLT_TRUE_MIN, 3 * FLT_TRUE_MIN, FLT_MIN / 3, FLT_MIN, 1e-30f, 1e-10f,
                          1e-5f, 0x1p-12f};
    for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
        cr_expect_eq(rnn_fast_tanhf(tiny[i]), tiny[i], "tanh(%a) = %a", (double)tiny[i],
                     (double)rnn_fast_tanhf(tiny[i]));
        cr_expect_eq(rnn_fast_tanhf(-tiny[i]), -tiny[i], "tanh(%a) = %a", (double)-tiny[i],
                     (double)rnn_fast_tanhf(-tiny[i]));
    }
    /* Saturation: 1 - tanh x < 2^-25 from about 9.02; the result is exactly +-1. */
    for (float x = 9.02f; x < 1e30f; x = x * 1.25f) {
        cr_expect_eq(rnn_fast_tanhf(x), 1.0f, "tanh(%a) = %a", (double)x,
                     (double)rnn_fast_tanhf(x));
        cr_expect_eq(rnn_fast_tanhf(-x), -1.0f, "tanh(%a) = %a", (double)-x,
                     (double)rnn_fast_tanhf(-x));
    }
    /* Odd and within [-1, 1], whatever the input. */
    for (int64_t k = 0; k <= float_key(INFINITY); k += 99991) {
        float x = key_float(k), y = rnn_fast_tanhf(x);
        cr_assert(y >= 0.0f && y <= 1.0f, "tanh(%a) = %a", (double)x, (double)y);
        cr_assert_eq(rnn_fast_tanhf(-x), -y, "tanh(%a) is not -tanh(%a)", (double)-x, (double)x);
    }
}

/* ---- vectorization ----------------------------------------------------------------- */

/* Compile `code` with `cc` for x86-64-v3 at -O3 and check the assembly: vector code
 * (ymm registers) and no call at all — the functions must be fully inlined, with no
 * expf/tanhf/fmaf library call left in the loop. */
static void check_vectorizes(const char *cc, const char *what, const char *code) {
    char runtime[PATH_MAX];
    cr_assert_not_null(realpath("runtime", runtime), "run the tests from the repository root");
    char *dir = make_temp_dir();
    write_file(dir, "vec.c", code, strlen(code));
    char *const argv[] = {(char *)cc, "-std=c17", "-Wall", "-Wextra", "-Werror", "-O3",
                          "-march=x86-64-v3", "-I", runtime, "-S", "-o", "vec.s", "vec.c", NULL};
    run_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    run_in(dir, argv, r);
    cr_assert_eq(r->status, 0, "%s failed on the %s loop:\n%s", cc, what, r->err);

    char spath[PATH_MAX];
    snprintf(spath, sizeof spath, "%s/vec.s", dir);
    static char asm_text[1 << 20];
    slurp(spath, asm_text, sizeof asm_text);
    cr_expect(strstr(asm_text, "ymm") != NULL, "%s: the %s loop does not use ymm registers", cc,
              what);
    cr_expect(strstr(asm_text, "\tcall") == NULL, "%s: the %s loop still calls a function", cc,
              what);
    cr_expect(strstr(asm_text, "expf") == NULL && strstr(asm_text, "tanhf") == NULL &&
                  strstr(asm_text, "fmaf") == NULL,
              "%s: the %s loop references libm", cc, what);
    free(r);
    rm_tree(dir);
    free(dir);
}

static const char *const vec_sources[][2] = {
    {"sigmoid", "#include \"rnn_fastmath.h\"\n"
                "void sig64(float *restrict y, const float *restrict x) {\n"
                "    for (int i = 0; i < 64; i++) y[i] = rnn_fast_sigmoidf(x[i]);\n"
                "}\n"},
    {"tanh", "#include \"rnn_fastmath.h\"\n"
             "void tanh64(float *restrict y, const float *restrict x) {\n"
             "    for (int i = 0; i < 64; i++) y[i] = rnn_fast_tanhf(x[i]);\n"
             "}\n"},
    {"exp", "#include \"rnn_fastmath.h\"\n"
            "void exp64(float *restrict y, const float *restrict x) {\n"
            "    for (int i = 0; i < 64; i++) y[i] = rnn_fast_expf(x[i]);\n"
            "}\n"},
    /* The shape generated code has: 8 lanes, an LSTM-style gate product. */
    {"8-lane gate", "#include \"rnn_fastmath.h\"\n"
                    "void gate8(float *restrict h, const float *restrict z) {\n"
                    "    for (int l = 0; l < 8; l++)\n"
                    "        h[l] = rnn_fast_sigmoidf(z[l]) * rnn_fast_tanhf(z[8 + l]);\n"
                    "}\n"},
};

Test(fastmath, clang_vectorizes) {
    const char *cc = find_program("clang");
    if (!cc) cr_skip_test("clang is not installed");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", cc);
    for (size_t i = 0; i < sizeof vec_sources / sizeof vec_sources[0]; i++)
        check_vectorizes(path, vec_sources[i][0], vec_sources[i][1]);
}

Test(fastmath, gcc_vectorizes) {
    const char *cc = find_program("gcc");
    if (!cc) cr_skip_test("gcc is not installed");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", cc);
    for (size_t i = 0; i < sizeof vec_sources / sizeof vec_sources[0]; i++)
        check_vectorizes(path, vec_sources[i][0], vec_sources[i][1]);
}

/* The production configuration — vectorized, with FMA — checked by running it: a
 * program built like generated code (-O3 -march=x86-64-v3) sweeps [-20, 20] in blocks
 * and prints its worst errors in ulps; they must meet the same bounds. */
static const char vec_accuracy_src[] =
    "#include \"rnn_fastmath.h\"\n"
    "#include <float.h>\n#include <math.h>\n#include <stdio.h>\n#include <string.h>\n"
    "static double ulps(double y, double r) {\n"
    "    int e; frexp(fabs(r), &e);\n"
    "    return fabs(y - r) / ldexp(1.0, (fabs(r) < FLT_MIN ? -125 : e) - 24);\n"
    "}\n"
    "static float x[4096], ye[4096], ys[4096], yt[4096];\n"
    "int main(void) {\n"
    "    double me = 0, ms = 0, mt = 0;\n"
    "    for (long k = -0x41a00000L; k <= 0x41a00000L; k += 4096L * 97) {\n"
    "        for (int i = 0; i < 4096; i++) {\n"
    "            long b = k + 97L * i;\n"
    "            unsigned u = b < 0 ? 0x80000000u | (unsigned)-b : (unsigned)b;\n"
    "            memcpy(&x[i], &u, 4);\n"
    "        }\n"
    "        for (int i = 0; i < 4096; i++) ye[i] = rnn_fast_expf(x[i]);\n"
    "        for (int i = 0; i < 4096; i++) ys[i] = rnn_fast_sigmoidf(x[i]);\n"
    "        for (int i = 0; i < 4096; i++) yt[i] = rnn_fast_tanhf(x[i]);\n"
    "        for (int i = 0; i < 4096; i++) {\n"
    "            double v = x[i], e = exp(-fabs(v)), u;\n"
    "            if (v >= -20 && v <= 20) { u = ulps(ye[i], exp(v)); if (u > me) me = u; }\n"
    "            u = ulps(ys[i], (v < 0 ? e : 1.0) / (1.0 + e)); if (u > ms) ms = u;\n"
    "            u = ulps(yt[i], tanh(v)); if (u > mt) mt = u;\n"
    "        }\n"
    "    }\n"
    "    printf(\"%.4f %.4f %.4f\\n\", me, ms, mt);\n"
    "    return 0;\n"
    "}\n";

Test(fastmath, vectorized_fma_build_accuracy) {
    const char *found = find_program("clang");
    if (!found) found = find_program("gcc");
    if (!found) cr_skip_test("neither clang nor gcc is installed");
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        cr_skip_test("this CPU has no AVX2 + FMA");
    char cc[PATH_MAX], runtime[PATH_MAX];
    snprintf(cc, sizeof cc, "%s", found);
    cr_assert_not_null(realpath("runtime", runtime), "run the tests from the repository root");
    char *dir = make_temp_dir();
    write_file(dir, "acc.c", vec_accuracy_src, strlen(vec_accuracy_src));
    char *const build[] = {cc, "-std=c17", "-O3", "-march=x86-64-v3", "-I", runtime, "-o", "acc",
                           "acc.c", "-lm", NULL};
    run_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    run_in(dir, build, r);
    cr_assert_eq(r->status, 0, "%s failed:\n%s", cc, r->err);
    char exe[PATH_MAX];
    snprintf(exe, sizeof exe, "%s/acc", dir);
    char *const run[] = {exe, NULL};
    run_in(dir, run, r);
    cr_assert_eq(r->status, 0, "the accuracy program failed:\n%s", r->err);
    double e = -1, sg = -1, t = -1;
    cr_assert_eq(sscanf(r->out, "%lf %lf %lf", &e, &sg, &t), 3, "output: %s", r->out);
    cr_log_info("vectorized FMA build: exp %.3f, sigmoid %.3f, tanh %.3f ulp", e, sg, t);
    cr_expect_leq(e, EXP_MAX_ULP, "exp: %.3f ulp", e);
    cr_expect_leq(sg, SIG_MAX_ULP, "sigmoid: %.3f ulp", sg);
    cr_expect_leq(t, TANH_MAX_ULP, "tanh: %.3f ulp", t);
    free(r);
    rm_tree(dir);
    free(dir);
}
