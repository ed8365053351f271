/*
 * main.c — the rnnc command line.
 *
 *   rnnc SPEC.lua [--check]       validate the spec (default action)
 *   rnnc SPEC.lua --summary       print the Keras-style summary table
 *   rnnc SPEC.lua -o OUT.c        generate the specialized C file
 *   rnnc SPEC.lua -o OUT          generate it and compile it into a trainer
 *   rnnc SPEC.lua --interpret COMMAND [ARGS]
 *                                 run the trainer (fit, evaluate, predict, summary) on the
 *                                 reference runtime; its exit codes are the trainer's
 *   rnnc --help | --version
 *
 * Exit codes: 0 ok, 1 spec error, 2 usage error.
 */
#include "emit_c.h"
#include "rnnc.h"
#include "rnnrt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_OK = 0, EXIT_SPEC = 1, EXIT_USAGE = 2 };

static void usage(FILE *out) {
    fputs("usage: rnnc SPEC.lua [--check | --summary | -o OUT] [options]\n"
          "       rnnc --help | --version\n"
          "\n"
          "Compile a recurrent text classifier described in a Lua spec.\n"
          "\n"
          "  --check             validate the spec and print a one-line description (default)\n"
          "  --summary           print the Keras-style model summary\n"
          "  -o OUT.c            write the specialized C file (atomically)\n"
          "  -o OUT              also compile and link it into the trainer OUT ($CC, default\n"
          "                      clang; $CFLAGS, default -O3 -march=native)\n"
          "  --portable          build for any x86-64 (no -march=native)\n"
          "  --keep-c            keep OUT.c beside the executable\n"
          "  --unroll MODE       kernels (default), full (timesteps too) or none\n"
          "  --unroll-budget N   largest kernel unrolled, in multiply-adds (default 4096)\n"
          "  --no-fold           do not fold the embedding into the first input projection\n"
          "  --weights F         with -o P.c: an inference-only predictor with the weights of\n"
          "                      F embedded (API: int NAME_predict(const int32_t *tokens,\n"
          "                      int n, float *out); no allocation, no file I/O)\n"
          "  --interpret CMD ... run the trainer on the reference runtime: fit, evaluate,\n"
          "                      predict, summary (everything after CMD goes to it; see\n"
          "                      'rnnc SPEC.lua --interpret CMD --help')\n"
          "  --time-limit S      wall-clock limit for evaluating the spec (default 10)\n"
          "  --memory-limit MIB  Lua heap limit for evaluating the spec (default 256)\n"
          "  --help, --version\n"
          "\n"
          "Exit codes: 0 ok, 1 spec error, 2 usage error.\n",
          out);
}

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "rnnc: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'rnnc --help'.\n");
    return EXIT_USAGE;
}

/* A positive number with nothing after it. */
static int parse_positive(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0) || v > 1e9) return -1;
    *out = v;
    return 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Write text to path atomically. */
static int write_file_atomic(const char *path, const char *text, size_t len) {
    char err[RNNC_ERR_MAX];
    if (rnn_write_file_atomic(path, text, len, err, sizeof err) == 0) return 0;
    fprintf(stderr, "rnnc: %s\n", err);
    return -1;
}

/* -o OUT.c: the C file; -o OUT: the C file compiled and linked into a trainer. */
static int generate(const rnn_model *m, const rnnc_emit_options *eo, const char *out, int portable, int keep_c) {
    char *text;
    size_t len;
    rnnc_emit_c(m, eo, &text, &len);
    int rc = EXIT_SPEC;
    if (ends_with(out, ".c")) {
        rc = write_file_atomic(out, text, len) == 0 ? EXIT_OK : EXIT_SPEC;
    } else {
        char cpath[4200], err[4096];
        if (keep_c) {
            if (snprintf(cpath, sizeof cpath, "%s.c", out) >= (int)sizeof cpath) {
                fprintf(stderr, "rnnc: -o %s: the path is too long\n", out);
                goto done;
            }
            if (write_file_atomic(cpath, text, len) != 0) goto done;
        } else {
            if (rnnc_make_temp(out, ".c", cpath, sizeof cpath, err, sizeof err) != 0) {
                fprintf(stderr, "%s\n", err);
                goto done;
            }
            FILE *f = fopen(cpath, "wb");
            int ok = f && fwrite(text, 1, len, f) == len;
            if (f && fclose(f) != 0) ok = 0;
            if (!ok) {
                fprintf(stderr, "rnnc: cannot write %s\n", cpath);
                remove(cpath);
                goto done;
            }
        }
        if (rnnc_build_executable(cpath, out, portable, err, sizeof err) == 0) rc = EXIT_OK;
        else fprintf(stderr, "%s\n", err);
        if (!keep_c) remove(cpath);
    }
done:
    free(text);
    return rc;
}

/* --weights F -o P.c: the weights of F (checked as the trainer checks them: written for
 * this model, every tensor's name, dtype and shape, finite values) embedded in an
 * inference-only predictor. */
static int generate_predictor(const rnn_model *m, const rnnc_emit_options *eo, const char *weights, const char *out) {
    char err[RNNC_ERR_MAX];
    rnn_real *params = calloc(m->param_buffer_len ? m->param_buffer_len : 1, sizeof *params);
    if (!params) {
        fprintf(stderr, "rnnc: out of memory\n");
        return EXIT_SPEC;
    }
    int rc = EXIT_SPEC;
    if (rnn_weights_load(m, weights, params, err, sizeof err) != 0) {
        fprintf(stderr, "rnnc: %s\n", err);
    } else {
        char *text;
        size_t len;
        rnnc_emit_predictor(m, params, weights, eo, &text, &len);
        rc = write_file_atomic(out, text, len) == 0 ? EXIT_OK : EXIT_SPEC;
        free(text);
    }
    free(params);
    return rc;
}

int main(int argc, char **argv) {
    const char *spec = NULL, *out = NULL;
    enum { ACT_CHECK, ACT_SUMMARY } action = ACT_CHECK;
    rnnc_limits lim = {RNNC_DEFAULT_TIME_LIMIT, RNNC_DEFAULT_MEMORY_LIMIT};
    int interpret_at = 0;   /* argv index of the trainer's command */
    int portable = 0, keep_c = 0;
    const char *weights = NULL;   /* --weights F: an inference-only predictor */
    rnnc_emit_options eo = {RNNC_UNROLL_KERNELS, RNNC_DEFAULT_UNROLL_BUDGET, 0};

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("rnnc %s\n", RNN_VERSION);
            return EXIT_OK;
        } else if (strcmp(a, "--check") == 0) {
            action = ACT_CHECK;
        } else if (strcmp(a, "--summary") == 0) {
            action = ACT_SUMMARY;
        } else if (strcmp(a, "--weights") == 0) {
            if (++i >= argc) return usage_error("%s needs a safetensors file", a);
            weights = argv[i];
        } else if (strcmp(a, "--no-fold") == 0) {
            eo.no_fold = 1;
        } else if (strcmp(a, "--portable") == 0) {
            portable = 1;
        } else if (strcmp(a, "--keep-c") == 0) {
            keep_c = 1;
        } else if (strcmp(a, "--unroll") == 0) {
            if (++i >= argc) return usage_error("%s needs a mode: kernels, full or none", a);
            if (!strcmp(argv[i], "kernels")) eo.unroll = RNNC_UNROLL_KERNELS;
            else if (!strcmp(argv[i], "full")) eo.unroll = RNNC_UNROLL_FULL;
            else if (!strcmp(argv[i], "none")) eo.unroll = RNNC_UNROLL_NONE;
            else return usage_error("invalid --unroll mode '%s' (kernels, full or none)", argv[i]);
        } else if (strcmp(a, "--unroll-budget") == 0) {
            double v;
            if (++i >= argc) return usage_error("%s needs a value", a);
            if (parse_positive(argv[i], &v) || v > 1e8) return usage_error("invalid --unroll-budget '%s'", argv[i]);
            eo.unroll_budget = (long)v;
        } else if (strcmp(a, "--interpret") == 0) {
            if (i + 1 >= argc) return usage_error("%s needs a command: fit, evaluate, predict or summary", a);
            interpret_at = i + 1;
            break;
        } else if (strcmp(a, "-o") == 0) {
            if (++i >= argc) return usage_error("%s needs an output path", a);
            out = argv[i];
        } else if (strcmp(a, "--time-limit") == 0 || strcmp(a, "--memory-limit") == 0) {
            double v;
            if (i + 1 >= argc) return usage_error("%s needs a value", a);
            if (parse_positive(argv[++i], &v)) return usage_error("invalid value '%s' (a positive number)", argv[i]);
            if (a[2] == 't') lim.time_limit_s = v;
            else if (v < 1 || v > 65536) return usage_error("invalid --memory-limit '%s' (1 to 65536 MiB)", argv[i]);
            else lim.memory_limit = (size_t)v << 20;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("unknown option '%s'", a);
        } else if (!spec) {
            spec = a;
        } else {
            return usage_error("more than one spec given ('%s')", a);
        }
    }
    if (!spec) return usage_error("%s", "no spec given");
    if ((portable || keep_c) && !out) return usage_error("%s", "--portable and --keep-c go with -o OUT (an executable)");

    static rnn_model m;
    char err[RNNC_ERR_MAX];
    if (rnnc_load_spec(spec, &lim, &m, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return EXIT_SPEC;
    }
    if (interpret_at) {
        if (out) return usage_error("%s", "-o and --interpret exclude each other");
        char program[RNN_PATH_MAX + 32];
        snprintf(program, sizeof program, "rnnc %s --interpret", spec);
        return rnn_trainer_main(&m, &rnn_reference_ops, program, argc - interpret_at, argv + interpret_at);
    }
    if (weights && (!out || !ends_with(out, ".c"))) return usage_error("%s", "--weights goes with -o PREDICTOR.c");
    if (out && weights) return generate_predictor(&m, &eo, weights, out);
    if (out) return generate(&m, &eo, out, portable, keep_c);
    if (action == ACT_SUMMARY) {
        rnn_model_summary(&m, stdout);
    } else {
        printf("%s: ok: model \"%s\", %d layers, %zu parameters\n", spec, m.name, m.n_layers, m.n_params);
    }
    return EXIT_OK;
}
