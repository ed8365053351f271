/*
 * rnn_isa.h — the x86-64 levels generated code is built for, and the best one this CPU
 * runs. Header-only, no link dependency, no state of its own.
 *
 * rnnc's default build of a trainer on x86-64 compiles the generated file once per
 * level, with -march=NAME -DRNN_ISA_LEVEL=N, and links the copies into one program;
 * the baseline copy's main runs the copy of the best level the CPU has (rnn_gen.h,
 * RNN_GEN_MAIN). A predictor file built the same way does so at every call.
 *
 *   N  NAME (-march)  what code built for it may use
 *   1  x86-64         SSE2: every x86-64
 *   2  x86-64-v2      + SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT (Nehalem, 2008)
 *   3  x86-64-v3      + AVX, AVX2, FMA, BMI1, BMI2 (Haswell, 2013; Zen)
 *   4  x86-64-v4      + AVX512F, AVX512BW, AVX512CD, AVX512DQ, AVX512VL (Skylake-SP, Zen 4)
 *
 *   int rnn_isa_cpu_level(void)        the best level this CPU and OS run, 1 to 4
 *   const char *rnn_isa_name(int N)    NAME of level N; NULL outside 1..4
 *   RNN_ISA_NAMED(prefix)              prefix pasted with RNN_ISA_LEVEL: prefix3
 *   RNN_ISA_LEVEL_NAME                 NAME of RNN_ISA_LEVEL, a string literal
 *
 * The level is told from the features the compiler's run-time CPU check reports
 * (__builtin_cpu_supports: libgcc or compiler-rt read cpuid once at start-up and check
 * with xgetbv that the OS saves the AVX and AVX-512 registers). The psABI levels also
 * name CMPXCHG16B, LAHF and XSAVE (v2), F16C, LZCNT and MOVBE (v3), which that check
 * cannot name in both gcc and clang; every CPU with the features above has them.
 *
 * Arithmetic. Levels 1 and 2 have no fused multiply-add, levels 3 and 4 have: there
 * sigmoid and tanh use fmaf (rnn_fastmath.h) and clang contracts a * b + c in one
 * expression to one rounding. So one lane computes the same bits at levels 1 and 2, and
 * the same bits at 3 and 4 (and with -march=native on a CPU with FMA); between the two
 * pairs results differ by rounding (tests/shipping.sh trains with each and compares).
 */
#ifndef RNN_ISA_H
#define RNN_ISA_H

#define RNN_ISA_LEVELS 4

static inline const char *rnn_isa_name(int level) {
    static const char *const names[RNN_ISA_LEVELS] = {"x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4"};
    return level >= 1 && level <= RNN_ISA_LEVELS ? names[level - 1] : 0;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
static inline int rnn_isa_cpu_level(void) {
    __builtin_cpu_init();   /* needed before constructors run; cheap after */
    const int v2 = __builtin_cpu_supports("sse3") && __builtin_cpu_supports("ssse3") &&
                   __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("sse4.2") &&
                   __builtin_cpu_supports("popcnt");
    const int v3 = v2 && __builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2") &&
                   __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
    const int v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
                   __builtin_cpu_supports("avx512vl");
    return v4 ? 4 : v3 ? 3 : v2 ? 2 : 1;
}
#endif

#if defined(RNN_ISA_LEVEL)
#if !defined(__x86_64__)
#error "RNN_ISA_LEVEL names an x86-64 level (rnn_isa.h); build without it for other targets"
#elif RNN_ISA_LEVEL == 1
#define RNN_ISA_LEVEL_NAME "x86-64"
#elif RNN_ISA_LEVEL == 2
#define RNN_ISA_LEVEL_NAME "x86-64-v2"
#elif RNN_ISA_LEVEL == 3
#define RNN_ISA_LEVEL_NAME "x86-64-v3"
#elif RNN_ISA_LEVEL == 4
#define RNN_ISA_LEVEL_NAME "x86-64-v4"
#else
#error "RNN_ISA_LEVEL must be 1, 2, 3 or 4 (rnn_isa.h)"
#endif
/* A copy built for a level its -march does not match would crash on the CPUs it is
 * picked for, or break the arithmetic promise above. */
#if (RNN_ISA_LEVEL >= 2) != defined(__SSE4_2__) || (RNN_ISA_LEVEL >= 3) != (defined(__AVX2__) && defined(__FMA__)) || \
    (RNN_ISA_LEVEL >= 4) != defined(__AVX512F__)
#error "a file built with -DRNN_ISA_LEVEL=N needs -march=<level N's name> (rnn_isa.h)"
#endif
#define RNN_ISA_PASTE2_(a, b) a##b
#define RNN_ISA_PASTE_(a, b) RNN_ISA_PASTE2_(a, b)
#define RNN_ISA_NAMED(prefix) RNN_ISA_PASTE_(prefix, RNN_ISA_LEVEL)
#endif

#endif /* RNN_ISA_H */
