/*
 * rng.c — Philox4x32-10, the counter-based generator behind every random draw.
 * See rnnrt.h for the mapping from (seed, purpose, layer, epoch, i, j, k) to values.
 */
#include "rnnrt.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t *hi) {
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

void rnn_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = mulhilo(PHILOX_M0, c0, &hi0);
        uint32_t lo1 = mulhilo(PHILOX_M1, c2, &hi1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

rnn_rng rnn_rng_stream(uint64_t seed, rnn_rng_purpose purpose, uint32_t layer, uint32_t epoch) {
    const uint32_t ctr[4] = {(uint32_t)purpose, layer, epoch, 0x726e6e63u};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t out[4];
    rnn_philox4x32(ctr, key, out);
    rnn_rng s = {{out[0], out[1]}};
    return s;
}

uint32_t rnn_rng_u32(const rnn_rng *s, uint32_t i, uint32_t j, uint32_t k) {
    const uint32_t ctr[4] = {i >> 2, j, k, 0};
    uint32_t out[4];
    rnn_philox4x32(ctr, s->key, out);
    return out[i & 3];
}

float rnn_rng_uniform(const rnn_rng *s, uint32_t i, uint32_t j, uint32_t k) {
    return (float)(rnn_rng_u32(s, i, j, k) >> 8) * 0x1p-24f;
}

double rnn_rng_normal(const rnn_rng *s, uint32_t i, uint32_t j, uint32_t k) {
    /* 1 - u is in (0, 1], so the log is finite. */
    double u1 = 1.0 - (double)rnn_rng_uniform(s, 2 * i, j, k);
    double u2 = (double)rnn_rng_uniform(s, 2 * i + 1, j, k);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint32_t rnn_rng_below(const rnn_rng *s, uint32_t n, uint32_t i, uint32_t j, uint32_t k) {
    uint64_t x = ((uint64_t)rnn_rng_u32(s, 2 * i, j, k) << 32) | rnn_rng_u32(s, 2 * i + 1, j, k);
    /* floor(x * n / 2^64): bias below 2^-32 for any n < 2^32. */
    uint64_t hi = (x >> 32) * n, lo = (x & 0xffffffffu) * n;
    return (uint32_t)((hi + (lo >> 32)) >> 32);
}

void rnn_rng_permutation(const rnn_rng *s, uint32_t *perm, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) perm[i] = i;
    for (uint32_t i = n; i-- > 1;) {
        uint32_t j = rnn_rng_below(s, i + 1, i, 0, 0);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}
