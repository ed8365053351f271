/*
 * peak.c — the single-core floating-point ceiling the generated trainers are measured
 * against: GFLOP/s of independent single-precision multiply-adds, in C17 with GNU C
 * vector types (gcc or clang).
 *
 * Each kernel updates NV independent accumulators, each a vector of 16 floats (64 bytes,
 * one AVX-512 zmm register, two AVX2 ymm registers): a[i] = a[i] * m + c, which the
 * compiler contracts into one FMA per register (clang's default -ffp-contract=on does;
 * gcc in ISO C mode does not contract at all, hence -ffp-contract=fast below).
 * NV is a compile-time constant, so the inner loop is fully unrolled and the accumulators
 * stay in registers: a stream of NV (AVX2: 2 NV) independent FMA chains. Written with
 * explicit 64-byte vectors rather than a float loop left to the auto-vectorizer, because
 * clang -march=native on AVX-512 machines prefers 256-bit vectors for auto-vectorized
 * loops (half the real peak); bench.py builds it with -mprefer-vector-width=512 as well.
 * Kernels of several sizes are timed (too few chains are latency-bound, too many spill)
 * and the best median is the peak, at 2 FLOPs per lane per FMA. The kernels are named
 * by their number of float accumulators (16 × NV). Output: one line of JSON,
 * {"kernels": {...}, "gflops": best, "runs": R}.
 *     clang -std=c17 -O3 -march=native -mprefer-vector-width=512 -ffp-contract=fast \
 *           bench/peak.c -o build/bench/peak
 *     build/bench/peak [FLOPS_PER_RUN [RUNS]]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define LANES 16
typedef float v16 __attribute__((vector_size(LANES * sizeof(float))));

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static volatile float g_sink;

#define KERNEL(NV)                                                              \
    static double kernel_##NV(long rounds, float m, float c) {                  \
        v16 a[NV];                                                              \
        v16 mv = {0}, cv = {0};                                                 \
        mv += m;                                                                \
        cv += c;                                                                \
        for (int i = 0; i < NV; i++)                                            \
            for (int l = 0; l < LANES; l++) a[i][l] = (float)(i * LANES + l) * 1e-4f; \
        double t0 = now();                                                      \
        for (long r = 0; r < rounds; r++) {                                     \
            for (int i = 0; i < NV; i++) a[i] = a[i] * mv + cv;                 \
        }                                                                       \
        double dt = now() - t0;                                                 \
        v16 s = {0};                                                            \
        for (int i = 0; i < NV; i++) s += a[i];                                 \
        float t = 0;                                                            \
        for (int l = 0; l < LANES; l++) t += s[l];                              \
        g_sink = t;                                                             \
        return 2.0 * LANES * NV * (double)rounds / dt * 1e-9;                   \
    }

KERNEL(2)
KERNEL(4)
KERNEL(6)
KERNEL(8)
KERNEL(10)
KERNEL(12)
KERNEL(16)
KERNEL(20)
KERNEL(24)

static int cmp(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv) {
    long flops_per_run = argc > 1 ? atol(argv[1]) : 10000000000L; /* 1e10 FLOPs: ~0.05 s a run at 200 GFLOP/s */
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (runs < 1 || runs > 99) runs = 5;
    if (flops_per_run < 100000000L) flops_per_run = 100000000L;
    volatile float m = 0.99999f, c = 1e-6f; /* volatile: no constant folding */
    struct { const char *name; int nacc; double (*f)(long, float, float); } k[] = {
        {"32", 2 * LANES, kernel_2},   {"64", 4 * LANES, kernel_4},   {"96", 6 * LANES, kernel_6},
        {"128", 8 * LANES, kernel_8},  {"160", 10 * LANES, kernel_10}, {"192", 12 * LANES, kernel_12},
        {"256", 16 * LANES, kernel_16}, {"320", 20 * LANES, kernel_20}, {"384", 24 * LANES, kernel_24},
    };
    int nk = (int)(sizeof k / sizeof k[0]);
    double best = 0, meds[16];
    for (int j = 0; j < nk; j++) k[j].f(flops_per_run / (2 * k[j].nacc) / 20, m, c); /* warm-up */
    double res[16][99];
    for (int r = 0; r < runs; r++)               /* interleaved: the machine may be shared */
        for (int j = 0; j < nk; j++) res[j][r] = k[j].f(flops_per_run / (2 * k[j].nacc), m, c);
    printf("{\"kernels\": {");
    for (int j = 0; j < nk; j++) {
        qsort(res[j], (size_t)runs, sizeof(double), cmp);
        meds[j] = res[j][runs / 2];
        if (meds[j] > best) best = meds[j];
        printf("%s\"%s\": %.2f", j ? ", " : "", k[j].name, meds[j]);
    }
    printf("}, \"gflops\": %.2f, \"runs\": %d}\n", best, runs);
    return 0;
}
