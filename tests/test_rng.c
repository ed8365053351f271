/*
 * test_rng.c — Philox4x32-10 and the counter-based mapping of rnnrt.h.
 *
 * The block function is pinned by Random123's known-answer vectors; every derived
 * function (stream key, u32, uniform, below, permutation) is then checked against
 * the mapping written out in rnnrt.h, recomputed here from rnn_philox4x32 alone,
 * and its statistics against bounds several standard deviations wide.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rnnrt.h"

/* Random123 kat_vectors, "philox4x32 10 CTR[4] KEY[2] -> OUT[4]". */
Test(rng, philox_known_answers) {
    static const struct {
        uint32_t ctr[4], key[2], out[4];
    } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
        {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
         {0xffffffffu, 0xffffffffu},
         {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
        {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
         {0xa4093822u, 0x299f31d0u},
         {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
    };
    for (size_t t = 0; t < sizeof kat / sizeof kat[0]; t++) {
        uint32_t out[4] = {0, 0, 0, 0};
        rnn_philox4x32(kat[t].ctr, kat[t].key, out);
        for (int w = 0; w < 4; w++)
            cr_expect_eq(out[w], kat[t].out[w], "vector %zu word %d: got %08x want %08x", t, w,
                         out[w], kat[t].out[w]);
    }
}

/* The documented mapping: key = words 0,1 of philox({purpose, layer, epoch, "rnnc"},
 * {seed lo, seed hi}); value = word i&3 of philox({i>>2, j, k, 0}, key);
 * uniform = (value >> 8) * 2^-24. */
Test(rng, mapping_matches_contract) {
    const uint64_t seed = 0x0123456789abcdefull;
    rnn_rng s = rnn_rng_stream(seed, RNN_RNG_DROPOUT, 3, 7);
    uint32_t ctr[4] = {RNN_RNG_DROPOUT, 3, 7, 0x726e6e63u}, key[2] = {0x89abcdefu, 0x01234567u}, out[4];
    rnn_philox4x32(ctr, key, out);
    cr_assert_eq(s.key[0], out[0]);
    cr_assert_eq(s.key[1], out[1]);

    for (uint32_t i = 0; i < 40; i++) {
        for (uint32_t j = 0; j < 3; j++) {
            uint32_t c[4] = {i >> 2, j, 5 + j, 0};
            rnn_philox4x32(c, s.key, out);
            uint32_t v = rnn_rng_u32(&s, i, j, 5 + j);
            cr_assert_eq(v, out[i & 3], "i=%u j=%u", i, j);
            float u = rnn_rng_uniform(&s, i, j, 5 + j);
            cr_assert_eq(u, (float)((double)(out[i & 3] >> 8) / 16777216.0));
            cr_assert(u >= 0.0f && u < 1.0f);
        }
    }
}

/* Pure function of the indices: a grid drawn forward equals the grid drawn backward,
 * interleaved with draws from other streams. */
Test(rng, order_independent) {
    enum { NI = 37, NJ = 5, NK = 4 };
    static uint32_t fwd[NI][NJ][NK];
    static double nfwd[NI][NJ][NK];
    rnn_rng s = rnn_rng_stream(42, RNN_RNG_TEST, 1, 2);
    rnn_rng other = rnn_rng_stream(43, RNN_RNG_TEST, 1, 2);
    for (uint32_t i = 0; i < NI; i++)
        for (uint32_t j = 0; j < NJ; j++)
            for (uint32_t k = 0; k < NK; k++) {
                fwd[i][j][k] = rnn_rng_u32(&s, i, j, k);
                nfwd[i][j][k] = rnn_rng_normal(&s, i, j, k);
            }
    for (int i = NI - 1; i >= 0; i--)
        for (int j = NJ - 1; j >= 0; j--)
            for (int k = NK - 1; k >= 0; k--) {
                (void)rnn_rng_u32(&other, (uint32_t)k, (uint32_t)i, (uint32_t)j);
                cr_assert_eq(rnn_rng_u32(&s, (uint32_t)i, (uint32_t)j, (uint32_t)k), fwd[i][j][k]);
                cr_assert_eq(rnn_rng_normal(&s, (uint32_t)i, (uint32_t)j, (uint32_t)k), nfwd[i][j][k]);
            }
    /* A stream re-derived from the same arguments is the same stream. */
    rnn_rng s2 = rnn_rng_stream(42, RNN_RNG_TEST, 1, 2);
    cr_assert_eq(memcmp(&s, &s2, sizeof s), 0);
}

static int count_equal(const rnn_rng *a, const rnn_rng *b) {
    int same = 0;
    for (uint32_t i = 0; i < 256; i++) same += rnn_rng_u32(a, i, 0, 0) == rnn_rng_u32(b, i, 0, 0);
    return same;
}

/* Changing any one of seed (low or high word), purpose, layer or epoch gives an
 * unrelated stream: among 256 32-bit values, chance coincidences are ~256/2^32. */
Test(rng, streams_differ) {
    const rnn_rng base = rnn_rng_stream(1234, RNN_RNG_DROPOUT, 2, 3);
    const rnn_rng variants[] = {
        rnn_rng_stream(1235, RNN_RNG_DROPOUT, 2, 3),
        rnn_rng_stream(1234 + (1ull << 32), RNN_RNG_DROPOUT, 2, 3),
        rnn_rng_stream(1234, RNN_RNG_RECURRENT_DROPOUT, 2, 3),
        rnn_rng_stream(1234, RNN_RNG_INIT, 2, 3),
        rnn_rng_stream(1234, RNN_RNG_DROPOUT, 1, 3),
        rnn_rng_stream(1234, RNN_RNG_DROPOUT, 2, 4),
        rnn_rng_stream(1234, RNN_RNG_DROPOUT, 3, 2),   /* layer/epoch swapped */
    };
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        cr_expect(memcmp(&variants[v], &base, sizeof base) != 0, "variant %zu has the same key", v);
        cr_expect_leq(count_equal(&base, &variants[v]), 1, "variant %zu", v);
    }
    /* Within a stream, j and k select different values too. */
    int same_j = 0, same_k = 0;
    for (uint32_t i = 0; i < 256; i++) {
        same_j += rnn_rng_u32(&base, i, 0, 0) == rnn_rng_u32(&base, i, 1, 0);
        same_k += rnn_rng_u32(&base, i, 0, 0) == rnn_rng_u32(&base, i, 0, 1);
    }
    cr_expect_leq(same_j, 1);
    cr_expect_leq(same_k, 1);
}

/* 1e6 uniforms: mean 1/2 and variance 1/12 within 6 standard errors; 16-bin counts
 * within 6 sigma of n/16; every value a multiple of 2^-24 in [0, 1). */
Test(rng, uniform_statistics) {
    const uint32_t n = 1000000;
    rnn_rng s = rnn_rng_stream(7, RNN_RNG_TEST, 0, 0);
    double sum = 0, sum2 = 0;
    long bins[16] = {0};
    for (uint32_t i = 0; i < n; i++) {
        float u = rnn_rng_uniform(&s, i, 0, 0);
        cr_assert(u >= 0.0f && u < 1.0f);
        double scaled = (double)u * 16777216.0;
        cr_assert_eq(scaled, floor(scaled));
        sum += u;
        sum2 += ((double)u - 0.5) * ((double)u - 0.5);
        bins[(int)(u * 16.0f)]++;
    }
    double mean = sum / n, var = sum2 / n;
    double se_mean = sqrt(1.0 / 12.0 / n);
    double se_var = sqrt((1.0 / 80.0 - 1.0 / 144.0) / n);   /* Var((u-1/2)^2) = 1/80 - 1/144 */
    cr_expect(fabs(mean - 0.5) < 6 * se_mean, "mean %.6f", mean);
    cr_expect(fabs(var - 1.0 / 12.0) < 6 * se_var, "variance %.6f", var);
    double p = 1.0 / 16, sd_bin = sqrt(n * p * (1 - p));
    for (int b = 0; b < 16; b++)
        cr_expect(fabs((double)bins[b] - n * p) < 6 * sd_bin, "bin %d: %ld", b, bins[b]);
    /* Successive values are not correlated (lag-1 autocorrelation ~ N(0, 1/n)). */
    double acc = 0;
    for (uint32_t i = 0; i + 1 < 200000; i++)
        acc += ((double)rnn_rng_uniform(&s, i, 0, 0) - 0.5) * ((double)rnn_rng_uniform(&s, i + 1, 0, 0) - 0.5);
    double rho = acc / 199999.0 * 12.0;
    cr_expect(fabs(rho) < 6.0 / sqrt(200000.0), "lag-1 correlation %.5f", rho);
}

/* Box-Muller normals: mean 0, variance 1, and the documented pairing of uniforms. */
Test(rng, normal_statistics) {
    const uint32_t n = 200000;
    rnn_rng s = rnn_rng_stream(8, RNN_RNG_TEST, 0, 0);
    double sum = 0, sum2 = 0, sum4 = 0;
    for (uint32_t i = 0; i < n; i++) {
        double z = rnn_rng_normal(&s, i, 0, 0);
        cr_assert(isfinite(z));
        sum += z;
        sum2 += z * z;
        sum4 += z * z * z * z;
    }
    cr_expect(fabs(sum / n) < 6 / sqrt((double)n), "mean %.5f", sum / n);
    cr_expect(fabs(sum2 / n - 1) < 6 * sqrt(2.0 / n), "variance %.5f", sum2 / n);
    cr_expect(fabs(sum4 / n - 3) < 6 * sqrt(96.0 / n), "kurtosis %.4f", sum4 / n);
    /* rnn_rng_normal(i) uses the uniforms at 2i and 2i+1. */
    for (uint32_t i = 0; i < 50; i++) {
        double u1 = 1.0 - (double)rnn_rng_uniform(&s, 2 * i, 0, 0);
        double u2 = (double)rnn_rng_uniform(&s, 2 * i + 1, 0, 0);
        double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        cr_assert(fabs(z - rnn_rng_normal(&s, i, 0, 0)) < 1e-12, "i=%u", i);
    }
}

/* rnn_rng_below: always < n, n = 1 gives 0, bucket counts within 6 sigma, and the
 * value is floor(x * n / 2^64) of the 64-bit x made of the values at 2i and 2i+1. */
Test(rng, below_range_and_uniformity) {
    rnn_rng s = rnn_rng_stream(9, RNN_RNG_TEST, 0, 0);
    static const uint32_t ns[] = {1, 2, 3, 7, 10, 1000, 65537, 0x80000001u, 0xffffffffu};
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++)
        for (uint32_t i = 0; i < 5000; i++) {
            uint32_t v = rnn_rng_below(&s, ns[t], i, 1, 2);
            cr_assert_lt(v, ns[t], "n=%u i=%u v=%u", ns[t], i, v);
            if (ns[t] == 1) cr_assert_eq(v, 0u);
        }

    const uint32_t draws = 600000, n = 6;
    long cnt[6] = {0};
    for (uint32_t i = 0; i < draws; i++) cnt[rnn_rng_below(&s, n, i, 0, 0)]++;
    double p = 1.0 / n, sd = sqrt(draws * p * (1 - p));
    for (uint32_t b = 0; b < n; b++)
        cr_expect(fabs((double)cnt[b] - draws * p) < 6 * sd, "bucket %u: %ld", b, cnt[b]);

    /* A large n that is not a power of two: the top half of [0, n) is hit half of the
     * time (a modulo-biased generator would not be off here, but a broken shift would). */
    const uint32_t big = 3000000000u;
    long upper = 0;
    for (uint32_t i = 0; i < 100000; i++) upper += rnn_rng_below(&s, big, i, 3, 0) >= big / 2;
    cr_expect(fabs(upper - 50000.0) < 6 * sqrt(25000.0), "upper half %ld", upper);

    for (uint32_t i = 0; i < 100; i++) {
        uint64_t x = ((uint64_t)rnn_rng_u32(&s, 2 * i, 4, 0) << 32) | rnn_rng_u32(&s, 2 * i + 1, 4, 0);
        /* floor(x * n / 2^64) with a 128-bit product split into 32-bit halves. */
        uint64_t n64 = 1000003, hi = (x >> 32) * n64, lo = (x & 0xffffffffu) * n64;
        uint32_t want = (uint32_t)((hi + (lo >> 32)) >> 32);
        cr_assert_eq(rnn_rng_below(&s, 1000003, i, 4, 0), want, "i=%u", i);
    }
}

static int is_permutation(const uint32_t *p, uint32_t n) {
    unsigned char *seen = calloc(n ? n : 1, 1);
    int ok = 1;
    for (uint32_t i = 0; i < n && ok; i++) {
        if (p[i] >= n || seen[p[i]]) ok = 0;
        else seen[p[i]] = 1;
    }
    free(seen);
    return ok;
}

Test(rng, permutations) {
    enum { N = 1000 };
    static uint32_t a[N], b[N], c[N], ref[N];
    rnn_rng e1 = rnn_rng_stream(5, RNN_RNG_SHUFFLE, 0, 1);
    rnn_rng e1b = rnn_rng_stream(5, RNN_RNG_SHUFFLE, 0, 1);
    rnn_rng e2 = rnn_rng_stream(5, RNN_RNG_SHUFFLE, 0, 2);
    rnn_rng_permutation(&e1, a, N);
    rnn_rng_permutation(&e1b, b, N);
    rnn_rng_permutation(&e2, c, N);
    cr_assert(is_permutation(a, N));
    cr_assert(is_permutation(c, N));
    cr_assert_eq(memcmp(a, b, sizeof a), 0, "same stream, different permutation");
    int same = 0, fixed = 0;
    for (int i = 0; i < N; i++) {
        same += a[i] == c[i];
        fixed += a[i] == (uint32_t)i;
    }
    cr_expect_lt(same, 20, "epochs 1 and 2 agree at %d positions", same);   /* expected ~1 */
    cr_expect_lt(fixed, 20, "%d fixed points", fixed);

    /* The documented Fisher-Yates: step i (n-1 down to 1) swaps i with below(i+1, i). */
    for (uint32_t i = 0; i < N; i++) ref[i] = i;
    for (uint32_t i = N - 1; i >= 1; i--) {
        uint32_t j = rnn_rng_below(&e1, i + 1, i, 0, 0), t = ref[i];
        ref[i] = ref[j];
        ref[j] = t;
    }
    cr_assert_eq(memcmp(a, ref, sizeof a), 0);

    /* Edge sizes. */
    uint32_t one[1] = {77};
    rnn_rng_permutation(&e1, one, 1);
    cr_assert_eq(one[0], 0u);
    rnn_rng_permutation(&e1, one, 0);   /* must not touch or crash */

    /* Uniform over positions: where element 0 of 5 lands over 5000 epochs. */
    long where[5] = {0};
    for (uint32_t ep = 0; ep < 5000; ep++) {
        uint32_t p[5];
        rnn_rng s = rnn_rng_stream(11, RNN_RNG_SHUFFLE, 0, ep);
        rnn_rng_permutation(&s, p, 5);
        cr_assert(is_permutation(p, 5));
        for (int i = 0; i < 5; i++)
            if (p[i] == 0) where[i]++;
    }
    for (int i = 0; i < 5; i++)
        cr_expect(fabs(where[i] - 1000.0) < 6 * sqrt(800.0), "position %d: %ld", i, where[i]);
}
