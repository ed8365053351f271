/*
 * rnn_kernels.h — the conventions of generated kernels, shared by every generated
 * trainer and predictor. Header-only, no link dependency.
 *
 * Generated code runs samples in blocks of RNN_W lanes and keeps every activation as
 * [index][lane]: element i of lane l is p[i * RNN_W + l]. RNN_V(p) is the RNN_W lanes
 * at p as one GNU C vector (one AVX-512 register, two AVX2 ones), so a statement on
 * RNN_V is one SIMD operation across the samples with the weights broadcast. Generated
 * code therefore needs gcc or clang.
 */
#ifndef RNN_KERNELS_H
#define RNN_KERNELS_H

#include <math.h>
#include <stddef.h>

#if !defined(__GNUC__) && !defined(__clang__)
#error "generated code needs GNU C vector extensions (gcc or clang)"
#endif

#define RNN_W 16   /* samples per lane block */

typedef float rnn_vec __attribute__((vector_size(RNN_W * sizeof(float)), aligned(sizeof(float)), may_alias));
#define RNN_V(p) (*(rnn_vec *)(p))

/* RNN_LANES_STORED(p): the vectors just stored at p are read back element by element
 * by the next loop. Without it clang forwards the first element from the store and
 * carries the load across that loop's iterations, which then stays scalar. An empty
 * asm that may read p: no instruction. */
#define RNN_LANES_STORED(p) __asm__ volatile("" : : "r"(p) : "memory")

/* The time loop carries h from one step to the next through memory; clang with AVX-512
 * vectorizes it across steps once a step function is inlined, which breaks that
 * dependence, so it is never vectorized (the lanes inside a step are). RNN_ROW_LOOP
 * marks a loop over rows whose body is a loop over the lanes, which clang would
 * otherwise vectorize across rows with gathers and scatters. */
#if defined(__clang__)
#define RNN_TIME_LOOP _Pragma("clang loop vectorize(disable) interleave(disable)")
#define RNN_ROW_LOOP RNN_TIME_LOOP
#else
#define RNN_TIME_LOOP
#define RNN_ROW_LOOP
#endif

/* A step function that stays a call (the generator decides which, per layer). */
#define RNN_NOINLINE __attribute__((noinline))

/* An rnn_vec with x in every lane: exactly x (no arithmetic, so -0 stays -0). A macro:
 * a function returning a 64-byte vector has another ABI with and without AVX-512. */
#define RNN_SPLAT(x)                                                                    \
    (__extension__({                                                                    \
        rnn_vec splat_;                                                                 \
        for (int lane_ = 0; lane_ < RNN_W; lane_++) splat_[lane_] = (x);                \
        splat_;                                                                         \
    }))

/* dst = src, and dst = 0, over n floats (a multiple of RNN_W) as vector stores that the C
 * compiler keeps: a loop of plain copies or zeros becomes a call to memcpy or memset,
 * which a predictor (libm only) must not make. */
static inline void rnn_lanes_copy(float *restrict dst, const float *restrict src, size_t n) {
    for (size_t k = 0; k < n; k += RNN_W) {
        RNN_V(dst + k) = RNN_V(src + k);
        RNN_LANES_STORED(dst);
    }
}

static inline void rnn_lanes_zero(float *restrict dst, size_t n) {
    for (size_t k = 0; k < n; k += RNN_W) {
        RNN_V(dst + k) = (rnn_vec){0};
        RNN_LANES_STORED(dst);
    }
}

static inline float rnn_relu(float x) { return x > 0.0f ? x : 0.0f; }

/* rnn_relu of each lane of the vector v: v where v > 0, else +0 (a NaN too), the lanes
 * where the comparison's all-ones mask keeps the bits. */
typedef int rnn_ivec __attribute__((vector_size(RNN_W * sizeof(int))));
#define RNN_RELU_V(v) ((rnn_vec)((rnn_ivec)((v) > 0.0f) & (rnn_ivec)(v)))

/* The logistic function of an output logit, as the reference computes it (the exponent
 * never overflows). */
static inline float rnn_probability(float z) {
    return z >= 0.0f ? 1.0f / (1.0f + expf(-z)) : expf(z) / (1.0f + expf(z));
}

#endif
