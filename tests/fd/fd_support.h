/*
 * fd_support.h — helpers of the finite-difference suite (built with -DRNN_DOUBLE).
 *
 * A check perturbs one element of a tensor by ±h, evaluates a scalar function of
 * everything, and compares (f(+h) - f(-h)) / 2h with the analytic derivative:
 *   relative error = max|analytic - numeric| / max(max|numeric|, 1e-12).
 */
#ifndef FD_SUPPORT_H
#define FD_SUPPORT_H

#include "reference/ref_layers.h"

#include <stddef.h>
#include <stdint.h>

#define FD_STEP 1e-5       /* central differences in double: truncation ~h², rounding ~1e-16/h */
#define FD_TOLERANCE 1e-6  /* the bound every check must meet */

/* v[i] = scale * (2u - 1), u from the RNN_RNG_TEST stream `stream` (i = element). */
void fd_fill_uniform(rnn_real *v, size_t n, double scale, uint32_t stream);

/* A scalar function of some state that the checked tensor lives in. */
typedef double (*fd_scalar_fn)(void *state);

/* Relative error of analytic [n] against central differences of f with respect to
 * theta [n] (theta is perturbed in place and restored). */
double fd_check(rnn_real *theta, const rnn_real *analytic, size_t n, fd_scalar_fn f, void *state);

/* Σ w ⊙ v, in double: the scalar whose gradient with respect to v is w. */
double fd_weighted_sum(const rnn_real *w, const rnn_real *v, size_t n);

/* Prints "FD <what> rel err <err>" to stderr, so a run shows every measured error. */
void fd_report(const char *what, double err);

/* Allocates n zeroed reals; aborts the test on failure. */
rnn_real *fd_alloc(size_t n);

#endif
