/*
 * rnn_lanes.h — moving rows of a table into 16 SIMD lanes and back. Header-only.
 *   void rnn_lanes_gather16(float *dst, const float *const src[16], int col, int ncols);
 *       dst[k*16 + l] = src[l][col + k]   for k < ncols <= 16, l < 16
 *   void rnn_lanes_scatter_add16(float *const dst[16], int col, const float *src, int nrows);
 *       dst[l][col + k] += src[k*16 + l]  for k < nrows <= 16, lane l = 0, 1, ..., 15 in turn
 *   void rnn_lanes_philox16(uint32_t x[4][4][16], uint32_t k0, uint32_t k1);
 *       Philox4x32-10 (rnn_philox4x32 of rnnrt.h) with key (k0, k1) on 4 blocks of 16
 *       lanes at once, in place: x[b][w][l] is word w of lane l's counter in block b,
 *       replaced by word w of its output.
 */
#ifndef RNN_LANES_H
#define RNN_LANES_H

#include <stdint.h>
#include <string.h>

/* Generated code keeps the activations of a block of 16 samples as [feature][lane], so
 * that one statement is one SIMD operation across the samples, while the tables whose
 * rows token ids pick (the embedding, or the folded table b + E.K) are [row][feature].
 * Going in, 16 rows become 16-lane vectors; going back, the gradient's lane vectors are
 * added to the rows: a 16 x 16 transpose each way, done in registers with shuffles.
 * Exactness: only floats are moved, and the scatter adds in lane order, so rows that
 * repeat among the lanes (one token in several samples) get the same sums in the same
 * order as the scalar loop
 *     for (l = 0; l < 16; l++) for (k = 0; k < nrows; k++) dst[l][col + k] += src[k*16 + l];
 * Only the ncols (nrows) columns named are read and written: no padding is assumed. */

/* Always inlined: with a constant ncols, the row copies are fixed-size memcpy calls that
 * compilers turn into one or two vector loads; out of line they would be calls to
 * libc's memmove. */
#if defined(__GNUC__) || defined(__clang__)
#define RNN_LANES_INLINE static inline __attribute__((always_inline))
#else
#define RNN_LANES_INLINE static inline
#endif

/* The shuffles use GNU vector extensions (__builtin_shufflevector: clang, and gcc from
 * version 12) on 16-float registers with AVX-512, 8-float ones with AVX2. Other
 * compilers and targets get the scalar loops, with the same results: without AVX2,
 * 16-float vector code is lowered to shuffles slower than the scalar moves. */
#if (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)) && defined(__AVX512F__)
#define RNN_LANES_SHUFFLE 16

typedef float rnn_lanes_v16_ __attribute__((vector_size(64)));

#define RNN_LANES_SHUF_(a, b, ...) __builtin_shufflevector((a), (b), __VA_ARGS__)

/* v[k] = column k of the 16 x 16 block whose row l is v[l] (in place): four rounds of
 * interleaving, at distances 1, 2, 4 and 8 rows, with 1-, 2-, 4- and 8-float units. */
RNN_LANES_INLINE void rnn_lanes_transpose16_(rnn_lanes_v16_ v[16]) {
    rnn_lanes_v16_ a[16];
    for (int i = 0; i < 16; i += 2) {
        a[i] = RNN_LANES_SHUF_(v[i], v[i + 1], 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
        a[i + 1] = RNN_LANES_SHUF_(v[i], v[i + 1], 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
    }
    for (int q = 0; q < 16; q += 4)
        for (int s = 0; s < 2; s++) {
            v[q + s] = RNN_LANES_SHUF_(a[q + s], a[q + s + 2], 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);
            v[q + s + 2] = RNN_LANES_SHUF_(a[q + s], a[q + s + 2], 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
        }
    for (int q = 0; q < 16; q += 8)
        for (int s = 0; s < 4; s++) {
            a[q + s] = RNN_LANES_SHUF_(v[q + s], v[q + s + 4], 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
            a[q + s + 4] = RNN_LANES_SHUF_(v[q + s], v[q + s + 4], 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
        }
    for (int s = 0; s < 8; s++) {
        v[s] = RNN_LANES_SHUF_(a[s], a[s + 8], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
        v[s + 8] = RNN_LANES_SHUF_(a[s], a[s + 8], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    }
}

typedef float rnn_lanes_v8h_ __attribute__((vector_size(32)));

/* n floats from p in the low lanes of a vector, the others 0 (n a constant after
 * inlining). For 8 and 16 it is one load: as a memcpy into a zeroed vector, gcc 12
 * wrote the row to the stack in 32 bytes and read 64 back, a failed store-to-load
 * forwarding for every row. */
RNN_LANES_INLINE rnn_lanes_v16_ rnn_lanes_load_part_(const float *p, int n) {
    if (n == 16) {
        rnn_lanes_v16_ v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    if (n == 8) {
        rnn_lanes_v8h_ h;
        memcpy(&h, p, sizeof h);
        return RNN_LANES_SHUF_(h, (rnn_lanes_v8h_){0}, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    }
    rnn_lanes_v16_ v = {0};
    memcpy(&v, p, (size_t)n * sizeof(float));
    return v;
}

/* The low n floats of v to p (rnn_lanes_load_part_'s counterpart). */
RNN_LANES_INLINE void rnn_lanes_store_part_(float *p, rnn_lanes_v16_ v, int n) {
    if (n == 16) {
        memcpy(p, &v, sizeof v);
    } else if (n == 8) {
        const rnn_lanes_v8h_ h = RNN_LANES_SHUF_(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
        memcpy(p, &h, sizeof h);
    } else {
        memcpy(p, &v, (size_t)n * sizeof(float));
    }
}

RNN_LANES_INLINE void rnn_lanes_gather16(float *dst, const float *const src[16], int col, int ncols) {
    rnn_lanes_v16_ v[16];
    for (int l = 0; l < 16; l++) v[l] = rnn_lanes_load_part_(src[l] + col, ncols);
    rnn_lanes_transpose16_(v);
    for (int k = 0; k < ncols; k++) memcpy(dst + (size_t)k * 16, &v[k], sizeof v[k]);
}

RNN_LANES_INLINE void rnn_lanes_scatter_add16(float *const dst[16], int col, const float *src, int nrows) {
    rnn_lanes_v16_ v[16];
    for (int k = 0; k < 16; k++) {
        v[k] = (rnn_lanes_v16_){0};
        if (k < nrows) memcpy(&v[k], src + (size_t)k * 16, sizeof v[k]);
    }
    rnn_lanes_transpose16_(v);
    for (int l = 0; l < 16; l++) /* in lane order: rows may repeat */
        rnn_lanes_store_part_(dst[l] + col, rnn_lanes_load_part_(dst[l] + col, nrows) + v[l], nrows);
}

typedef uint32_t rnn_lanes_u32x16_ __attribute__((vector_size(64)));
typedef uint64_t rnn_lanes_u64x8_ __attribute__((vector_size(64)));

/* The high 32 bits of m * x in every lane: the 32x32 -> 64-bit products on 64-bit
 * lanes (even and odd words multiplied separately, the high halves picked with one
 * shuffle), which compilers turn into vpmuludq. */
RNN_LANES_INLINE rnn_lanes_u32x16_ rnn_lanes_mulhi_(rnn_lanes_u32x16_ x, uint32_t m) {
    const rnn_lanes_u64x8_ low = (rnn_lanes_u64x8_){0} + 0xffffffffu, mm = (rnn_lanes_u64x8_){0} + m;
    rnn_lanes_u64x8_ even = ((rnn_lanes_u64x8_)x & low) * mm, odd = ((rnn_lanes_u64x8_)x >> 32) * mm;
    return RNN_LANES_SHUF_((rnn_lanes_u32x16_)even, (rnn_lanes_u32x16_)odd, 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27,
                           13, 29, 15, 31);
}

/* Generated code draws dropout masks for 16 samples (lanes) and 4 blocks of features at
 * a time. Ten dependent rounds make one block a latency chain, so the four blocks go
 * through the rounds side by side. Integer arithmetic: every implementation gives the
 * same bits as rnn_philox4x32. */
RNN_LANES_INLINE void rnn_lanes_philox16(uint32_t x[4][4][16], uint32_t k0, uint32_t k1) {
    rnn_lanes_u32x16_ c[4][4];
    for (int b = 0; b < 4; b++)
        for (int w = 0; w < 4; w++) memcpy(&c[b][w], x[b][w], sizeof c[b][w]);
    for (int round = 0; round < 10; round++) {
        for (int b = 0; b < 4; b++) {
            rnn_lanes_u32x16_ hi0 = rnn_lanes_mulhi_(c[b][0], 0xD2511F53u), hi1 = rnn_lanes_mulhi_(c[b][2], 0xCD9E8D57u);
            rnn_lanes_u32x16_ lo0 = c[b][0] * 0xD2511F53u, lo1 = c[b][2] * 0xCD9E8D57u;
            c[b][0] = hi1 ^ c[b][1] ^ k0;
            c[b][1] = lo1;
            c[b][2] = hi0 ^ c[b][3] ^ k1;
            c[b][3] = lo0;
        }
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    for (int b = 0; b < 4; b++)
        for (int w = 0; w < 4; w++) memcpy(x[b][w], &c[b][w], sizeof c[b][w]);
}

#elif (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12)) && defined(__AVX2__)
#define RNN_LANES_SHUFFLE 8

/* The same with AVX2's 8-float registers: four 8 x 8 transposes per 16 x 16 block. */
typedef float rnn_lanes_v8_ __attribute__((vector_size(32)));

#define RNN_LANES_SHUF_(a, b, ...) __builtin_shufflevector((a), (b), __VA_ARGS__)

RNN_LANES_INLINE void rnn_lanes_transpose8_(rnn_lanes_v8_ v[8]) {
    rnn_lanes_v8_ a[8];
    for (int i = 0; i < 8; i += 2) {
        a[i] = RNN_LANES_SHUF_(v[i], v[i + 1], 0, 8, 2, 10, 4, 12, 6, 14);
        a[i + 1] = RNN_LANES_SHUF_(v[i], v[i + 1], 1, 9, 3, 11, 5, 13, 7, 15);
    }
    for (int q = 0; q < 8; q += 4)
        for (int s = 0; s < 2; s++) {
            v[q + s] = RNN_LANES_SHUF_(a[q + s], a[q + s + 2], 0, 1, 8, 9, 4, 5, 12, 13);
            v[q + s + 2] = RNN_LANES_SHUF_(a[q + s], a[q + s + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        }
    for (int s = 0; s < 4; s++) {
        a[s] = RNN_LANES_SHUF_(v[s], v[s + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        a[s + 4] = RNN_LANES_SHUF_(v[s], v[s + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
    for (int i = 0; i < 8; i++) v[i] = a[i];
}

RNN_LANES_INLINE void rnn_lanes_gather16(float *dst, const float *const src[16], int col, int ncols) {
    for (int kb = 0; kb < ncols; kb += 8) {
        const int nk = ncols - kb < 8 ? ncols - kb : 8;
        for (int lb = 0; lb < 16; lb += 8) {
            rnn_lanes_v8_ v[8];
            for (int l = 0; l < 8; l++) {
                v[l] = (rnn_lanes_v8_){0};
                memcpy(&v[l], src[lb + l] + col + kb, (size_t)nk * sizeof(float));
            }
            rnn_lanes_transpose8_(v);
            for (int k = 0; k < nk; k++) memcpy(dst + (size_t)(kb + k) * 16 + (size_t)lb, &v[k], sizeof v[k]);
        }
    }
}

RNN_LANES_INLINE void rnn_lanes_scatter_add16(float *const dst[16], int col, const float *src, int nrows) {
    for (int kb = 0; kb < nrows; kb += 8) {
        const int nk = nrows - kb < 8 ? nrows - kb : 8;
        rnn_lanes_v8_ v[2][8];
        for (int lb = 0; lb < 2; lb++) {
            for (int k = 0; k < 8; k++) {
                v[lb][k] = (rnn_lanes_v8_){0};
                if (k < nk) memcpy(&v[lb][k], src + (size_t)(kb + k) * 16 + (size_t)lb * 8, sizeof v[lb][k]);
            }
            rnn_lanes_transpose8_(v[lb]);
        }
        for (int l = 0; l < 16; l++) { /* in lane order: rows may repeat */
            rnn_lanes_v8_ r = {0};
            memcpy(&r, dst[l] + col + kb, (size_t)nk * sizeof(float));
            r += v[l / 8][l % 8];
            memcpy(dst[l] + col + kb, &r, (size_t)nk * sizeof(float));
        }
    }
}

#else /* no vector extensions or no wide registers: the same moves, one float at a time */
#define RNN_LANES_SHUFFLE 0

RNN_LANES_INLINE void rnn_lanes_gather16(float *dst, const float *const src[16], int col, int ncols) {
    for (int k = 0; k < ncols; k++)
        for (int l = 0; l < 16; l++) dst[(size_t)k * 16 + (size_t)l] = src[l][col + k];
}

RNN_LANES_INLINE void rnn_lanes_scatter_add16(float *const dst[16], int col, const float *src, int nrows) {
    for (int l = 0; l < 16; l++)
        for (int k = 0; k < nrows; k++) dst[l][col + k] += src[(size_t)k * 16 + (size_t)l];
}
#endif

#if RNN_LANES_SHUFFLE != 16
/* Philox on plain arrays (AVX2 and the rest; gcc lowers 16-lane integer vectors poorly
 * without AVX-512): the four blocks still go through each round side by side. */
RNN_LANES_INLINE void rnn_lanes_philox16(uint32_t x[4][4][16], uint32_t k0, uint32_t k1) {
    for (int round = 0; round < 10; round++) {
        for (int b = 0; b < 4; b++)
            for (int l = 0; l < 16; l++) {
                const uint64_t p0 = (uint64_t)0xD2511F53u * x[b][0][l], p1 = (uint64_t)0xCD9E8D57u * x[b][2][l];
                const uint32_t n0 = (uint32_t)(p1 >> 32) ^ x[b][1][l] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ x[b][3][l] ^ k1;
                x[b][0][l] = n0;
                x[b][1][l] = (uint32_t)p1;
                x[b][2][l] = n2;
                x[b][3][l] = (uint32_t)p0;
            }
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
}
#endif

#endif /* RNN_LANES_H */
