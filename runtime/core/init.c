/*
 * init.c — Keras's default initializers for every parameter tensor of a model.
 *
 * Every random value comes from the RNN_RNG_INIT stream of its tensor (layer = tensor
 * index, epoch 0), element e drawn at i = e, j = k = 0 (rnnrt.h). The values are
 * therefore a pure function of (seed, architecture): the same on every machine and
 * independent of the order in which tensors are filled.
 *
 * Scalars are computed in double and rounded once to rnn_real, so float and double
 * builds hold the same numbers up to that one rounding.
 */
#include "rnnrt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RandomUniform(-0.05, 0.05), Keras's "uniform" alias used by Embedding:
 * minval + (maxval - minval) * u. */
static void init_embedding(const rnn_rng *s, rnn_real *dst, size_t n) {
    for (size_t e = 0; e < n; e++) {
        double u = (double)rnn_rng_uniform(s, (uint32_t)e, 0, 0);
        dst[e] = (rnn_real)(-0.05 + 0.1 * u);
    }
}

/* glorot_uniform: U(-l, l) with l = sqrt(6 / (fan_in + fan_out)). The fans are those
 * of the whole tensor (for a fused RNN kernel, fan_out = gates * units, not per gate),
 * as Keras's _compute_fans sees the (rows, cols) variable; a convolution's kernel
 * [k, in, out] has fan_in = k * in and fan_out = k * out (the receptive field times
 * each of the last two dimensions). */
static void init_glorot(const rnn_rng *s, rnn_real *dst, const rnn_tensor *t) {
    const double field = t->rank == 3 ? (double)t->shape[0] : 1.0;
    const double fan_in = field * (double)t->shape[t->rank == 3 ? 1 : 0], fan_out = field * (double)t->shape[t->rank == 3 ? 2 : 1];
    double l = sqrt(6.0 / (fan_in + fan_out));
    size_t n = t->size;
    for (size_t e = 0; e < n; e++) {
        double u = (double)rnn_rng_uniform(s, (uint32_t)e, 0, 0);
        dst[e] = (rnn_real)(-l + 2.0 * l * u);
    }
}

/* Orthogonal, gain 1 (Keras's Orthogonal initializer):
 *   A [n = max(r,c), p = min(r,c)], element e (row-major) = rnn_rng_normal(s, e, 0, 0)
 *   A = Q R (thin QR), Q <- Q * sign(diag R), result Q [r, c] or Q^T when r < c.
 * QR by modified Gram-Schmidt applied twice per column (a second pass brings the
 * orthogonality one pass loses, in proportion to cond(A), back to double rounding).
 * Unlike Householder it needs only the n x p matrix (no separate Q for the largest
 * layers), and its R has a positive diagonal by construction (each R_jj is a norm):
 * Q is the unique thin-QR factor with positive diag R that Keras's sign fix gives.
 * A is stored column-major (column j contiguous at a[j*n ...]) so the inner loops run
 * over contiguous memory. Returns -1 on allocation failure. */
static int init_orthogonal(const rnn_rng *s, rnn_real *dst, int r, int c) {
    const size_t n = (size_t)(r > c ? r : c), p = (size_t)(r > c ? c : r);
    double *a = malloc(n * p * sizeof *a);
    if (!a) return -1;
    for (size_t row = 0; row < n; row++)
        for (size_t col = 0; col < p; col++)
            a[col * n + row] = rnn_rng_normal(s, (uint32_t)(row * p + col), 0, 0);

    for (size_t j = 0; j < p; j++) {
        double *qj = a + j * n;
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < j; i++) {
                const double *qi = a + i * n;
                double dot = 0.0;
                for (size_t t = 0; t < n; t++) dot += qi[t] * qj[t];
                for (size_t t = 0; t < n; t++) qj[t] -= dot * qi[t];
            }
        }
        double nrm = 0.0;
        for (size_t t = 0; t < n; t++) nrm += qj[t] * qj[t];
        nrm = sqrt(nrm);
        /* R_jj = nrm >= 0, so sign(R_jj) = +1 and the sign fix leaves Q unchanged.
         * nrm == 0 would need a column of A in the span of the previous ones, which
         * Gaussian draws never give; leave it rather than divide by zero. */
        if (nrm > 0.0)
            for (size_t t = 0; t < n; t++) qj[t] /= nrm;
    }

    /* Q is [n, p] stored column-major. When r >= c the result is Q itself (row-major
     * [r, c]); when r < c it is Q^T [p, n] row-major, which is Q's column-major array. */
    if (r >= c) {
        for (size_t row = 0; row < n; row++)
            for (size_t col = 0; col < p; col++) dst[row * p + col] = (rnn_real)a[col * n + row];
    } else {
        for (size_t t = 0; t < n * p; t++) dst[t] = (rnn_real)a[t];
    }
    free(a);
    return 0;
}

void rnn_init_params(const rnn_model *m, uint64_t seed, rnn_real *params) {
    /* Zero everything first: biases start at zero and the alignment padding must be
     * zero (checkpoints and norms read whole buffers). */
    memset(params, 0, m->param_buffer_len * sizeof *params);

    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        rnn_real *dst = params + t->offset;
        const rnn_rng s = rnn_rng_stream(seed, RNN_RNG_INIT, (uint32_t)k, 0);
        switch (t->init) {
        case RNN_INIT_ZEROS:
            break;
        case RNN_INIT_EMBEDDING:
            init_embedding(&s, dst, t->size);
            break;
        case RNN_INIT_GLOROT_UNIFORM:
            init_glorot(&s, dst, t);
            break;
        case RNN_INIT_ORTHOGONAL:
            if (init_orthogonal(&s, dst, t->shape[0], t->shape[1])) {
                /* The API has no error path and a half-initialized model must never
                 * train silently. */
                fprintf(stderr, "rnnrt: out of memory initializing %s\n", t->name);
                abort();
            }
            break;
        case RNN_INIT_FORGET_BIAS: {
            /* Keras builds [zeros(U), ones(U), zeros(2U)]: gates i, f, c, o. */
            const int U = m->layers[t->layer].units;
            for (int u = U; u < 2 * U; u++) dst[u] = (rnn_real)1;
            break;
        }
        }
    }
}
