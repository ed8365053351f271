/*
 * fastmath_bench.c — libm vs runtime/rnn_fastmath.h for sigmoid and tanh, for the
 * record (not a test). 10^8 evaluations per function: a 4096-element input block,
 * swept repeatedly, in the 8-lane shape of generated code; each timing is the median
 * of 5 runs. Build and run (see bench/README.md):
 *
 *   clang -std=c17 -O3 -march=native -Iruntime bench/fastmath_bench.c -lm -o build/fastmath_bench
 *   build/fastmath_bench
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rnn_fastmath.h"

#define BLOCK 4096
#define EVALS 100000000L
#define RUNS 5

static float in[BLOCK], out[BLOCK];

/* libm sigmoid written like the reference runtime's: e^|x| never overflows. */
static inline float libm_sigmoidf(float x) {
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

/* The loops live in separate non-inlined functions so each is compiled (and
 * vectorized, or not) on its own, as in generated code. */
#define KERNEL(name, expr)                                                               \
    static __attribute__((noinline)) void name(float *restrict y, const float *restrict x) { \
        for (int b = 0; b < BLOCK; b += 8)                                               \
            for (int l = 0; l < 8; l++) y[b + l] = expr(x[b + l]);                       \
    }
KERNEL(k_libm_sigmoid, libm_sigmoidf)
KERNEL(k_fast_sigmoid, rnn_fast_sigmoidf)
KERNEL(k_libm_tanh, tanhf)
KERNEL(k_fast_tanh, rnn_fast_tanhf)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median over RUNS of the time for EVALS evaluations; a checksum keeps the work live. */
static double time_kernel(void (*k)(float *restrict, const float *restrict), double *sum) {
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        for (long n = 0; n < EVALS; n += BLOCK) {
            k(out, in);
            *sum += out[n / BLOCK % BLOCK];
        }
        t[r] = now() - t0;
    }
    qsort(t, RUNS, sizeof t[0], cmp_double);
    return t[RUNS / 2];
}

int main(void) {
    /* Pre-activations as an RNN sees them: mostly within a few units of 0. */
    unsigned s = 12345;
    for (int i = 0; i < BLOCK; i++) {
        s = s * 1664525u + 1013904223u;
        in[i] = ((float)(s >> 8) * 0x1p-24f - 0.5f) * 16.0f;
    }
    double sum = 0;
    double ls = time_kernel(k_libm_sigmoid, &sum), fs = time_kernel(k_fast_sigmoid, &sum);
    double lt = time_kernel(k_libm_tanh, &sum), ft = time_kernel(k_fast_tanh, &sum);
    printf("sigmoid: libm %.3f s, fast %.3f s, %.1fx  (%.2f vs %.2f ns/eval)\n", ls, fs, ls / fs,
           1e9 * ls / EVALS, 1e9 * fs / EVALS);
    printf("tanh:    libm %.3f s, fast %.3f s, %.1fx  (%.2f vs %.2f ns/eval)\n", lt, ft, lt / ft,
           1e9 * lt / EVALS, 1e9 * ft / EVALS);
    printf("(checksum %g)\n", sum);
    return 0;
}
