/*
 * dense.c — Dense: out = act(x·K + b) on one vector per sample, or on every step of a
 * sequence (Keras's Dense on 3-D input: the kernel on the last axis at each step).
 *
 * The activation's derivative is computed from the output y (which the forward keeps
 * anyway): sigmoid y(1-y), tanh 1-y², relu [y > 0], linear 1, and for softmax the
 * Jacobian-vector product y ⊙ (dy - <dy, y>).
 */
#include "model/kind.h"
#include "reference/ref_layers.h"

#include <stdlib.h>

void rnn_ref_activate(rnn_real *v, rnn_activation act, int B, int O) {
    for (int b = 0; b < B; b++) {
        rnn_real *row = v + (size_t)b * (size_t)O;
        switch (act) {
        case RNN_ACT_LINEAR:
            break;
        case RNN_ACT_SIGMOID:
            for (int o = 0; o < O; o++) row[o] = rnn_ref_sigmoid(row[o]);
            break;
        case RNN_ACT_TANH:
            for (int o = 0; o < O; o++) row[o] = REF_TANH(row[o]);
            break;
        case RNN_ACT_RELU:
            for (int o = 0; o < O; o++) row[o] = row[o] > 0 ? row[o] : 0;
            break;
        case RNN_ACT_SOFTMAX: {
            /* Subtracting the row maximum keeps every exponent <= 0 (no overflow). */
            rnn_real max = row[0];
            for (int o = 1; o < O; o++)
                if (row[o] > max) max = row[o];
            rnn_real sum = 0;
            for (int o = 0; o < O; o++) {
                row[o] = REF_EXP(row[o] - max);
                sum += row[o];
            }
            for (int o = 0; o < O; o++) row[o] /= sum;
            break;
        }
        default:
            break;
        }
    }
}

/* out [B, O], x [B, I], kernel [I, O], bias [O] */
void rnn_ref_dense_forward(rnn_real *out, const rnn_real *x, const rnn_real *kernel,
                           const rnn_real *bias, rnn_activation act, int B, int I, int O) {
    for (int b = 0; b < B; b++) {
        const rnn_real *xb = x + (size_t)b * (size_t)I;
        rnn_real *yb = out + (size_t)b * (size_t)O;
        for (int o = 0; o < O; o++) {
            rnn_real sum = bias[o];
            for (int i = 0; i < I; i++) sum += xb[i] * kernel[(size_t)i * (size_t)O + (size_t)o];
            yb[o] = sum;
        }
    }
    rnn_ref_activate(out, act, B, O);
}

/* dpre [B, O] = d loss / d pre-activation, from dout and the activation's output out */
void rnn_ref_activation_backward(rnn_real *dpre, const rnn_real *dout, const rnn_real *out, rnn_activation act, int B, int O) {
    for (int b = 0; b < B; b++) {
        const rnn_real *y = out + (size_t)b * (size_t)O;
        const rnn_real *dy = dout + (size_t)b * (size_t)O;
        rnn_real *dp = dpre + (size_t)b * (size_t)O;
        rnn_real dot = 0;   /* <dy, y>, for softmax */
        if (act == RNN_ACT_SOFTMAX)
            for (int o = 0; o < O; o++) dot += dy[o] * y[o];
        for (int o = 0; o < O; o++) {
            switch (act) {
            case RNN_ACT_SIGMOID: dp[o] = dy[o] * y[o] * (1 - y[o]); break;
            case RNN_ACT_TANH:    dp[o] = dy[o] * (1 - y[o] * y[o]); break;
            case RNN_ACT_RELU:    dp[o] = y[o] > 0 ? dy[o] : 0; break;
            case RNN_ACT_SOFTMAX: dp[o] = y[o] * (dy[o] - dot); break;
            default:              dp[o] = dy[o]; break;
            }
        }
    }
}

/* dx [B, I] = dpre·Kᵀ; dkernel [I, O] += xᵀ·dpre; dbias [O] += Σ_b dpre; dpre [B, O] scratch */
void rnn_ref_dense_backward(rnn_real *dx, rnn_real *dkernel, rnn_real *dbias, rnn_real *dpre,
                            const rnn_real *dout, const rnn_real *x, const rnn_real *out,
                            const rnn_real *kernel, rnn_activation act, int B, int I, int O) {
    rnn_ref_activation_backward(dpre, dout, out, act, B, O);
    for (int b = 0; b < B; b++) {
        const rnn_real *xb = x + (size_t)b * (size_t)I;
        const rnn_real *dp = dpre + (size_t)b * (size_t)O;
        rnn_real *dxb = dx + (size_t)b * (size_t)I;
        for (int o = 0; o < O; o++) dbias[o] += dp[o];
        for (int i = 0; i < I; i++) {
            const rnn_real *krow = kernel + (size_t)i * (size_t)O;
            rnn_real *dkrow = dkernel + (size_t)i * (size_t)O;
            rnn_real sum = 0;
            for (int o = 0; o < O; o++) {
                dkrow[o] += xb[i] * dp[o];
                sum += dp[o] * krow[o];
            }
            dxb[i] = sum;
        }
    }
}

/* ---- the kind --------------------------------------------------------------------------- */

/* On a sequence the same kernel maps each step: (None, T, F) -> (None, T, units). */
static int dense_layout(rnn_layout *c, rnn_layer *l) {
    if (rnn_layout_units(c, "units", l->units, RNN_MAX_UNITS)) return -1;
    if ((unsigned)l->activation >= RNN_ACT_COUNT) return rnn_layout_error(c, "unknown activation");
    l->out_seq = l->in_seq;
    l->out_features = l->units;
    rnn_layout_tensor(c, "kernel", l->in_features, l->units, 2, RNN_INIT_GLOROT_UNIFORM);
    rnn_layout_tensor(c, "bias", l->units, 1, 1, RNN_INIT_ZEROS);
    return 0;
}

/* The rows the kernel maps: one per sample, or one per sample and step. */
static int rows_of(const rnn_layer *l, int n) { return l->in_seq ? n * l->timesteps : n; }

/* priv: dpre [rows, O], the backward's scratch */
static int ref_create(rnn_ref_layer *s, const rnn_model *m, const rnn_layer *l, int max_batch) {
    (void)m;
    int ok = 1;
    s->priv = rnn_ref_alloc((size_t)rows_of(l, max_batch) * (size_t)l->units, &ok);
    return ok ? 0 : -1;
}

static void ref_destroy(rnn_ref_layer *s) {
    free(s->priv);
    s->priv = NULL;
}

/* The output layer writes logits: the loss applies its sigmoid or softmax. */
static rnn_activation activation(const rnn_ref_pass *p) { return p->last ? RNN_ACT_LINEAR : p->l->activation; }

static size_t ref_forward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    const rnn_layer *l = p->l;
    rnn_ref_dense_forward(s->out, p->x, rnn_ref_param(p, RNN_T_KERNEL), rnn_ref_param(p, RNN_T_DENSE_BIAS),
                          activation(p), rows_of(l, p->n), l->in_features, l->units);
    return 0;
}

static void ref_backward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    const rnn_layer *l = p->l;
    rnn_ref_dense_backward(p->dx, rnn_ref_grad(p, RNN_T_KERNEL), rnn_ref_grad(p, RNN_T_DENSE_BIAS), s->priv, s->dout,
                           p->x, s->out, rnn_ref_param(p, RNN_T_KERNEL), activation(p), rows_of(l, p->n), l->in_features,
                           l->units);
}

const rnn_kind rnn_kind_dense = {NULL, dense_layout, ref_create, ref_destroy, ref_forward, ref_backward, NULL, 1,
                                 RNN_MASK_PASSED};
