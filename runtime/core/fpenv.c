/*
 * fpenv.c — subnormal floats flushed to zero, the mode TensorFlow runs Keras's ops in:
 * every thread of its pools sets it when it starts (TF 2.15,
 * tensorflow/tsl/platform/threadpool.cc, EigenEnvironment::CreateThread:
 * port::ScopedFlushDenormal; docs/keras-semantics.md, Subnormal numbers).
 *
 * Without it, a gradient that fades through a long sequence (a masked GRU's 200 steps,
 * a stack of recurrent layers) reaches the subnormal range, where each operation on it
 * takes the CPU a slow path of a hundred cycles or more, and a whole epoch can run
 * several times slower. Flushed, such a value is zero, as in Keras.
 *
 * The mode is a per-thread register (x86-64: MXCSR's flush-to-zero and
 * denormals-are-zero bits; aarch64: FPCR.FZ). rnn_flush_subnormals records the wish and
 * sets the calling thread; rnn_parallel_for's workers apply it before each job
 * (rnn_fpenv_apply), so every thread of a step computes alike.
 */
#include "rnnrt.h"
#include "core/fpenv.h"

#include <stdatomic.h>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define MXCSR_FTZ 0x8000u /* results below the normal range become zero */
#define MXCSR_DAZ 0x0040u /* subnormal inputs are read as zero */
#endif

static atomic_int g_flush; /* 1: flush; 0: IEEE gradual underflow (the C default) */

/* This thread's mode set to `on`; 1 if the CPU has the mode. */
static int set_thread_mode(int on) {
#if defined(__x86_64__) || defined(__i386__)
    const unsigned bits = MXCSR_FTZ | MXCSR_DAZ;
    const unsigned csr = _mm_getcsr();
    const unsigned want = on ? (csr | bits) : (csr & ~bits);
    if (want != csr) _mm_setcsr(want);
    return 1;
#elif defined(__aarch64__)
    const unsigned long long fz = 1ull << 24;
    unsigned long long fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    const unsigned long long want = on ? (fpcr | fz) : (fpcr & ~fz);
    if (want != fpcr) __asm__ __volatile__("msr fpcr, %0" : : "r"(want));
    return 1;
#else
    (void)on;
    return 0;
#endif
}

int rnn_flush_subnormals(int on) {
    atomic_store_explicit(&g_flush, on ? 1 : 0, memory_order_relaxed);
    return set_thread_mode(on);
}

/* The register is written only when the wish changed since this thread last applied
 * it (-1: never). */
void rnn_fpenv_apply(void) {
    static _Thread_local int applied = -1;
    const int want = atomic_load_explicit(&g_flush, memory_order_relaxed);
    if (want == applied) return;
    (void)set_thread_mode(want);
    applied = want;
}
