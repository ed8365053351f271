/*
 * test_fpenv.c — rnn_flush_subnormals (runtime/core/fpenv.c): with the mode on, a product
 * below the normal range is zero and a subnormal input reads as zero, on the calling
 * thread and in rnn_parallel_for's workers; off, both are IEEE's subnormals again.
 */
#include <criterion/criterion.h>

#include <float.h>
#include <string.h>

#include "rnnrt.h"

/* volatile: the compiler must not fold the products at compile time */
static volatile float g_min = FLT_MIN, g_half = 0.5f, g_one = 1.0f;

static float subnormal_input(void) {
    uint32_t bits = 0x00000100u; /* a subnormal: exponent field 0, fraction non-zero */
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* The two results as bits (a comparison of floats would itself read a subnormal as
 * zero when the mode is on): FLT_MIN / 2 computed, and a subnormal times 1. */
static void results(uint32_t *under, uint32_t *read) {
    volatile float sub = subnormal_input();
    *under = bits_of(g_min * g_half);
    *read = bits_of(sub * g_one);
}

/* 1 if this thread flushes: both results are +0 */
static int flushes(void) {
    uint32_t under, read;
    results(&under, &read);
    return under == 0 && read == 0;
}

/* 1 if this thread keeps IEEE subnormals: 2^-127 (0x00400000) and the input itself */
static int keeps(void) {
    uint32_t under, read;
    results(&under, &read);
    return under == 0x00400000u && read == 0x00000100u;
}

typedef struct {
    int flushed[8], kept[8];
} seen;

static void look(void *arg, int i) {
    seen *s = arg;
    s->flushed[i] = flushes();
    s->kept[i] = keeps();
}

Test(fpenv, default_keeps_subnormals) { cr_assert(keeps(), "a C program starts with gradual underflow"); }

#if defined(__x86_64__) || defined(__aarch64__)
Test(fpenv, flush_on_and_off_on_every_thread) {
    rnn_set_threads(2);
    cr_assert_eq(rnn_flush_subnormals(1), 1);
    cr_assert(flushes(), "the calling thread flushes");
    seen s = {{0}, {0}};
    rnn_parallel_for(8, look, &s);
    for (int i = 0; i < 8; i++) cr_assert(s.flushed[i] && !s.kept[i], "item %d ran on a thread that flushes", i);

    cr_assert_eq(rnn_flush_subnormals(0), 1);
    cr_assert(keeps(), "the calling thread keeps subnormals again");
    memset(&s, 0, sizeof s);
    rnn_parallel_for(8, look, &s);
    for (int i = 0; i < 8; i++) cr_assert(s.kept[i] && !s.flushed[i], "item %d ran on a thread that keeps them", i);
}
#else
Test(fpenv, no_mode_elsewhere) {
    cr_assert_eq(rnn_flush_subnormals(1), 0);
    cr_assert(keeps(), "nothing changed");
}
#endif
