/*
 * emit_c.h — the C code generator (emit_c.c).
 */
#ifndef RNNC_EMIT_C_H
#define RNNC_EMIT_C_H

#include "rnnrt.h"

#include <stddef.h>

typedef enum {
    RNNC_UNROLL_KERNELS = 0,   /* default: straight-line kernels within the budget, time loop kept */
    RNNC_UNROLL_FULL,          /* every timestep straight-line too                                */
    RNNC_UNROLL_NONE           /* every loop kept                                                 */
} rnnc_unroll;

/* Kernels with more multiply-adds than this per timestep get constant-bound loops (the
 * packed-panel products of rnn_gemm.h). Above about a thousand, those run as fast as the
 * straight-line code or faster, and the straight-line code only makes the compile long
 * (bench/README.md, The unroll budget). */
#define RNNC_DEFAULT_UNROLL_BUDGET 1024

typedef struct {
    rnnc_unroll unroll;
    long unroll_budget;
    int no_fold;   /* never fold the embedding into the first input projection */
    int mpi;       /* main() runs the trainer data-parallel under MPI (rnn_mpi.h) */
    int freestanding;   /* a predictor for -ffreestanding (microcontrollers): its workspace static */
} rnnc_emit_options;

/* Generate the C file of the laid-out model m into a malloc'd buffer (*text, *len). */
int rnnc_emit_c(const rnn_model *m, const rnnc_emit_options *o, char **text, size_t *len);

/* Generate an inference-only predictor of m with the weights params (param_buffer_len
 * elements) embedded; weights_path only goes into the header comment. */
int rnnc_emit_predictor(const rnn_model *m, const rnn_real *params, const char *weights_path,
                        const rnnc_emit_options *o, char **text, size_t *len);

#endif
