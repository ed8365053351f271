/*
 * rnn_fastmath.h — exp, sigmoid and tanh in float for generated code. Header-only.
 *
 *   float rnn_fast_expf(float x);      e^x
 *   float rnn_fast_sigmoidf(float x);  1 / (1 + e^-x)
 *   float rnn_fast_tanhf(float x);     tanh x
 *
 * Plain C17 that clang and gcc inline and auto-vectorize at -O2/-O3, which a call to
 * expf or tanhf in generated code's 16-lane loops prevents. Not for -ffast-math:
 * reassociation would fold the rounding trick (t + C) - C.
 */
#ifndef RNN_FASTMATH_H
#define RNN_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Accuracy over every float whose result is normal (for exp: x in [-87.33, 88.72]; for
 * tanh all of it, tanh x = x exactly for |x| <= 2^-12), in ulps of the exact result,
 * against double exp/tanh over all 2^32 inputs, clang and gcc, with and without FMA:
 *                      max over all inputs       bound asserted by tests/test_fastmath.c
 *   rnn_fast_expf      1.10 ulp, rel 9.3e-8      1.25 ulp, rel 1.0e-7
 *   rnn_fast_sigmoidf  2.40 ulp, rel 1.9e-7      2.6 ulp,  rel 2.0e-7
 *   rnn_fast_tanhf     1.55 ulp, rel 1.6e-7      1.75 ulp, rel 1.75e-7
 * Subnormal results (exp and sigmoid below -87.33) are within 0.75 of the smallest
 * subnormal, except that sigmoid is 0 below -87.68, where the exact result is under
 * 8.3e-39 (a gate value that small is 0 for every later use). */

/* Edges: exp overflows to +inf exactly where e^x > FLT_MAX and is 0 below -103.97;
 * sigmoid(+-inf) = 1 / 0; tanh(+-inf) = +-1 and |x| >= 9.02 gives exactly +-1; NaN in
 * gives NaN out. sigmoid and tanh are non-decreasing over the tests' strided sweeps
 * (not claimed between adjacent floats, where an ulp of error can exceed the true step). */

/* Vectorizable: no branch on the value (every path is computed and the result picked
 * with a ?: select or a bit mask, which become max/min/blend), no table, no errno, bits
 * moved through memcpy. To check that a loop vectorizes:
 *   clang -O3 -march=native -Rpass=loop-vectorize -Rpass-missed=loop-vectorize -c f.c
 *   gcc   -O3 -march=native -fopt-info-vec-optimized -c f.c
 * or look for ymm registers and no "call expf" in -S output (tests/test_fastmath.c does
 * the latter with clang and gcc, -O3 -march=x86-64-v3). */

/* a*b + c, fused where the hardware does it in one instruction; elsewhere fmaf would be
 * a library call. gcc and clang get the builtins, which stay inline instructions under
 * -ffreestanding too (a predictor for a microcontroller calls no libm). */
#if defined(__GNUC__) || defined(__clang__)
#define RNN_FM_FMAF_(a, b, c) __builtin_fmaf((a), (b), (c))
#define RNN_FM_FABSF_(x) __builtin_fabsf(x)
#define RNN_FM_COPYSIGNF_(x, y) __builtin_copysignf((x), (y))
#else
#define RNN_FM_FMAF_(a, b, c) fmaf((a), (b), (c))
#define RNN_FM_FABSF_(x) fabsf(x)
#define RNN_FM_COPYSIGNF_(x, y) copysignf((x), (y))
#endif
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA) || defined(__aarch64__) || defined(FP_FAST_FMAF)
#define RNN_FM_FMA_(a, b, c) RNN_FM_FMAF_(a, b, c)
#else
#define RNN_FM_FMA_(a, b, c) ((a) * (b) + (c))
#endif

static inline uint32_t rnn_fm_bits_(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float rnn_fm_float_(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* e^x = p * 2^k for x clamped to [lo, hi], a sub-interval of [-104, 89]: returns p and
 * sets *k to k (as uint32_t, two's complement). k = round(x / ln 2) by adding 1.5 * 2^23
 * (no float->int conversion, which is undefined for NaN); Cody-Waite reduction
 * r = x - k ln2_hi - k ln2_lo, |r| <= ln2/2; p = 1 + r + r^2 Q(r), Q a degree-4
 * near-minimax (Chebyshev) fit, Horner with fmaf. The clamp is a parameter so that tanh
 * can clamp once: a clamp of its own followed by exp's would let gcc's jump threading
 * turn the selects into a CFG its if-conversion gives up on. */
static inline float rnn_fm_exp_reduce_(float x, float lo, float hi, uint32_t *k) {
    /* Comparisons, so NaN passes through; they become max/min instructions. */
    x = x < lo ? lo : x;
    x = x > hi ? hi : x;

    /* 1.5 * 2^23: t lies in [2^23, 2^24), where the float spacing is 1, so the add
     * rounds x/ln2 to the nearest integer and leaves it in the low mantissa bits. */
    const float shifter = 12582912.0f;
    float t = RNN_FM_FMA_(x, 1.44269504088896341f, shifter);
    float kf = t - shifter;

    const float ln2_hi = 0.693145751953125f;     /* 15 bits: kf * ln2_hi is exact */
    const float ln2_lo = 1.42860682030941723e-6f; /* ln 2 - ln2_hi                 */
    float r = RNN_FM_FMA_(-kf, ln2_hi, x);
    r = RNN_FM_FMA_(-kf, ln2_lo, r);

    /* e^r = 1 + r + r^2 Q(r), |r| <= ln2/2; Q fits (e^r - 1 - r)/r^2 to 6.5e-8. */
    float q = 1.39261761e-3f;
    q = RNN_FM_FMA_(q, r, 8.36317307e-3f);
    q = RNN_FM_FMA_(q, r, 4.16665547e-2f);
    q = RNN_FM_FMA_(q, r, 1.66665770e-1f);
    q = RNN_FM_FMA_(q, r, 0.5f);
    *k = rnn_fm_bits_(t) - rnn_fm_bits_(shifter);
    return 1.0f + RNN_FM_FMA_(r * r, q, r);
}

/* e^x for x clamped to [lo, hi], a sub-interval of [-104, 89]. 2^k is applied as two
 * factors, both normal for every k in [-150, 128], so overflow gives +inf and the
 * subnormal range underflows gradually to 0 like libm (exactly 0 below about -103.97). */
static inline float rnn_fm_exp_(float x, float lo, float hi) {
    uint32_t k;
    float p = rnn_fm_exp_reduce_(x, lo, hi, &k);
    /* K = k + 150 in [0, 278] for every non-NaN x (unsigned: no overflow questions
     * for the NaN bit pattern). 2^k = 2^(K1-75) * 2^(K2-75) with both exponents in
     * [-75, 65], so each factor is a normal float; biased exponent = K1 + 52. */
    uint32_t K = k + 150u;
    uint32_t K1 = K >> 1;
    uint32_t K2 = K - K1;
    float s1 = rnn_fm_float_((K1 + 52u) << 23);
    float s2 = rnn_fm_float_((K2 + 52u) << 23);
    return p * s1 * s2;
}

/* e^x for x clamped to [lo, hi] with lo >= -87.68 and hi <= 88, where 2^k is a normal
 * float (k >= -126): one scale factor instead of two. Multiplying by powers of two is
 * exact while the results stay normal, so this gives the same bits as rnn_fm_exp_ on
 * that range wherever the result is normal; a subnormal result is p 2^k rounded once.
 * lo down to -88 gives k = -127 below -87.68, a factor whose bits are 0: the result is 0
 * there (rnn_fast_sigmoidf's flush). */
static inline float rnn_fm_exp_normal_(float x, float lo, float hi) {
    uint32_t k;
    float p = rnn_fm_exp_reduce_(x, lo, hi, &k);
    return p * rnn_fm_float_((k + 127u) << 23);   /* k + 127 in [0, 254]: 2^k's biased exponent (0: the factor is 0) */
}

static inline float rnn_fast_expf(float x) {
    /* Beyond these e^x is +inf or 0 in float; clamping keeps k in [-150, 128]. */
    return rnn_fm_exp_(x, -104.0f, 89.0f);
}

/* e = exp(-|x|) in (0, 1] never overflows; sigmoid = 1/(1+e) for x >= 0 and e/(1+e) for
 * x < 0: one division, no cancellation, +-inf give exactly 1 and 0. e takes one scale
 * factor (rnn_fm_exp_normal_), four operations fewer than the two-factor exp: normal
 * results have the same bits, subnormal ones are rounded once, and below -87.68
 * (results under 2^-126.5 = 8.3e-39) e and the result are 0. */
static inline float rnn_fast_sigmoidf(float x) {
    float e = rnn_fm_exp_normal_(-RNN_FM_FABSF_(x), -88.0f, 0.0f);
    float num = x < 0.0f ? e : 1.0f;
    return num / (1.0f + e);
}

/* On a = |x|, the sign of x copied back (tanh(-0) = -0, NaN stays NaN). a < 0.55:
 * a + a^3 P(a^2), P a degree-4 near-minimax fit, so tanh x ~ x keeps full relative
 * accuracy near 0, down to subnormals. Otherwise (1-e)/(1+e), e = exp(-2 min(a, 9.1)):
 * tanh rounds to 1 in float beyond 9.02, and the clamp keeps e normal (no slow
 * subnormal arithmetic), so 2^k is one factor (rnn_fm_exp_normal_: over all 2^32
 * inputs the same bits as the two-factor form, clang and gcc, with and without FMA). */
static inline float rnn_fast_tanhf(float x) {
    float ax = RNN_FM_FABSF_(x);

    /* Near 0: odd polynomial, P fits (tanh s - s)/s^3 in s^2 on [0, 0.55^2]. It is
     * evaluated on |x| and the sign put back at the end, so tanh(-0) = -0. */
    float x2 = ax * ax;
    float p = -6.61022783e-3f;
    p = RNN_FM_FMA_(p, x2, 2.13093887e-2f);
    p = RNN_FM_FMA_(p, x2, -5.39094288e-2f);
    p = RNN_FM_FMA_(p, x2, 1.33331137e-1f);
    p = RNN_FM_FMA_(p, x2, -3.33333320e-1f);
    float small = RNN_FM_FMA_(ax * x2, p, ax);

    /* Elsewhere: (1 - e)/(1 + e), e = e^-2|x| in [1.2e-8, 0.34]: no cancellation
     * worse than a factor 1, and tanh(9.1) already rounds to 1. */
    float e = rnn_fm_exp_normal_(-2.0f * ax, -18.2f, 0.0f);
    float large = (1.0f - e) / (1.0f + e);

    /* The pick is a bit mask, not ?:. With ?: gcc sinks the division into the branch
     * that uses it and then, under the default -ftrapping-math, refuses to if-convert
     * a branch holding an operation that may trap — the loop would stay scalar. */
    uint32_t m = 0u - (uint32_t)(ax < 0.55f); /* all ones where the polynomial applies */
    float t = rnn_fm_float_((rnn_fm_bits_(small) & m) | (rnn_fm_bits_(large) & ~m));
    return RNN_FM_COPYSIGNF_(t, x);
}

#endif /* RNN_FASTMATH_H */
