/*
 * fd_support.c — see fd_support.h.
 */
#include "fd_support.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void fd_fill_uniform(rnn_real *v, size_t n, double scale, uint32_t stream) {
    const rnn_rng s = rnn_rng_stream(12345, RNN_RNG_TEST, stream, 0);
    for (size_t i = 0; i < n; i++) v[i] = (rnn_real)(scale * (2.0 * (double)rnn_rng_uniform(&s, (uint32_t)i, 0, 0) - 1.0));
}

double fd_check(rnn_real *theta, const rnn_real *analytic, size_t n, fd_scalar_fn f, void *state) {
    double max_diff = 0, max_numeric = 0;
    for (size_t i = 0; i < n; i++) {
        const rnn_real saved = theta[i];
        theta[i] = saved + (rnn_real)FD_STEP;
        double plus = f(state);
        theta[i] = saved - (rnn_real)FD_STEP;
        double minus = f(state);
        theta[i] = saved;
        double numeric = (plus - minus) / (2 * FD_STEP);
        max_diff = fmax(max_diff, fabs((double)analytic[i] - numeric));
        max_numeric = fmax(max_numeric, fabs(numeric));
    }
    return max_diff / fmax(max_numeric, 1e-12);
}

double fd_weighted_sum(const rnn_real *w, const rnn_real *v, size_t n) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += (double)w[i] * (double)v[i];
    return sum;
}

void fd_report(const char *what, double err) {
    fprintf(stderr, "FD %-48s rel err %.3e\n", what, err);
}

rnn_real *fd_alloc(size_t n) {
    rnn_real *p = calloc(n ? n : 1, sizeof *p);
    cr_assert_not_null(p, "out of memory");
    return p;
}
