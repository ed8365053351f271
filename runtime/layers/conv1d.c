/*
 * conv1d.c — Conv1D over the steps of a sequence (docs/keras-semantics.md, Conv1D):
 *
 *   out[t][o] = act(b[o] + Σ_j Σ_c x[t·stride + j·dilation − pad_left][c] · K[j][c][o])
 *
 * K [kernel_size, in, filters] as Keras stores it, the steps outside the input zeros
 * (rnn_layer_window says where the windows lie).
 */
#include "model/kind.h"
#include "reference/ref_layers.h"

#include <stdlib.h>
#include <string.h>

/* The input step under tap j of output step t, or -1 in the padding. */
static int tap(const rnn_window *w, int t, int j) {
    int u = t * w->stride + j * w->dilation - w->pad_left;
    return u >= 0 && u < w->in ? u : -1;
}

/* out [B, w.out, O], x [B, w.in, C], kernel [w.size, C, O], bias [O] or NULL */
void rnn_ref_conv1d_forward(rnn_real *out, const rnn_real *x, const rnn_real *kernel, const rnn_real *bias,
                            rnn_activation act, int B, int C, int O, const rnn_window *w) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < w->out; t++) {
            rnn_real *y = out + ((size_t)b * (size_t)w->out + (size_t)t) * (size_t)O;
            for (int o = 0; o < O; o++) y[o] = bias ? bias[o] : 0;
            for (int j = 0; j < w->size; j++) {
                int u = tap(w, t, j);
                if (u < 0) continue;
                const rnn_real *xu = x + ((size_t)b * (size_t)w->in + (size_t)u) * (size_t)C;
                const rnn_real *kj = kernel + (size_t)j * (size_t)C * (size_t)O;
                for (int c = 0; c < C; c++)
                    for (int o = 0; o < O; o++) y[o] += xu[c] * kj[(size_t)c * (size_t)O + (size_t)o];
            }
        }
    rnn_ref_activate(out, act, B * w->out, O);
}

/* dx [B, w.in, C] = Σ over the taps that read each step of dpre·K[j]ᵀ;
 * dkernel [w.size, C, O] += Σ x[tap]ᵀ·dpre; dbias [O] += Σ dpre */
void rnn_ref_conv1d_backward(rnn_real *dx, rnn_real *dkernel, rnn_real *dbias, rnn_real *dpre, const rnn_real *dout,
                             const rnn_real *x, const rnn_real *out, const rnn_real *kernel, rnn_activation act, int B,
                             int C, int O, const rnn_window *w) {
    rnn_ref_activation_backward(dpre, dout, out, act, B * w->out, O);
    memset(dx, 0, (size_t)B * (size_t)w->in * (size_t)C * sizeof *dx);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < w->out; t++) {
            const rnn_real *dp = dpre + ((size_t)b * (size_t)w->out + (size_t)t) * (size_t)O;
            if (dbias)
                for (int o = 0; o < O; o++) dbias[o] += dp[o];
            for (int j = 0; j < w->size; j++) {
                int u = tap(w, t, j);
                if (u < 0) continue;
                const rnn_real *xu = x + ((size_t)b * (size_t)w->in + (size_t)u) * (size_t)C;
                rnn_real *dxu = dx + ((size_t)b * (size_t)w->in + (size_t)u) * (size_t)C;
                const size_t kj = (size_t)j * (size_t)C * (size_t)O;
                for (int c = 0; c < C; c++) {
                    rnn_real sum = 0;
                    for (int o = 0; o < O; o++) {
                        dkernel[kj + (size_t)c * (size_t)O + (size_t)o] += xu[c] * dp[o];
                        sum += dp[o] * kernel[kj + (size_t)c * (size_t)O + (size_t)o];
                    }
                    dxu[c] += sum;
                }
            }
        }
}

/* ---- the kind --------------------------------------------------------------------------- */

static void conv1d_defaults(rnn_layer *l) {
    l->strides = 1;
    l->dilation_rate = 1;
    l->use_bias = 1;
}

static int conv1d_layout(rnn_layout *c, rnn_layer *l) {
    if (rnn_layout_units(c, "filters", l->units, RNN_MAX_UNITS) ||
        rnn_layout_units(c, "kernel_size", l->kernel_size, RNN_MAX_TIMESTEPS) ||
        rnn_layout_units(c, "strides", l->strides, RNN_MAX_TIMESTEPS) ||
        rnn_layout_units(c, "dilation_rate", l->dilation_rate, RNN_MAX_TIMESTEPS))
        return -1;
    if ((unsigned)l->activation >= RNN_ACT_COUNT) return rnn_layout_error(c, "unknown activation");
    if ((unsigned)l->padding >= RNN_PADDING_COUNT) return rnn_layout_error(c, "unknown padding");
    if (l->strides > 1 && l->dilation_rate > 1)   /* as Keras and TensorFlow refuse */
        return rnn_layout_error(c, "strides > 1 cannot be combined with dilation_rate > 1 (got strides = %d, dilation_rate = %d)",
                                l->strides, l->dilation_rate);
    if (rnn_layout_sequence_input(c, l)) return -1;
    rnn_window w = rnn_layer_window(l);
    if (w.out < 1)
        return rnn_layout_error(c, "the output would be empty: the input has %d steps, fewer than the kernel spans "
                                   "(kernel_size %d, dilation_rate %d: %ld steps) with padding = \"valid\"",
                                l->timesteps, l->kernel_size, l->dilation_rate, (long)(l->kernel_size - 1) * l->dilation_rate + 1);
    l->out_seq = 1;
    l->out_features = l->units;
    l->out_timesteps = w.out;
    rnn_layout_tensor3(c, "kernel", l->kernel_size, l->in_features, l->units, RNN_INIT_GLOROT_UNIFORM);
    if (l->use_bias) rnn_layout_tensor(c, "bias", l->units, 1, 1, RNN_INIT_ZEROS);
    return 0;
}

/* priv: dpre [B, T_out, filters], the backward's scratch */
static int ref_create(rnn_ref_layer *s, const rnn_model *m, const rnn_layer *l, int max_batch) {
    (void)m;
    int ok = 1;
    s->priv = rnn_ref_alloc((size_t)max_batch * (size_t)l->out_timesteps * (size_t)l->units, &ok);
    return ok ? 0 : -1;
}

static void ref_destroy(rnn_ref_layer *s) {
    free(s->priv);
    s->priv = NULL;
}

static size_t ref_forward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    const rnn_layer *l = p->l;
    rnn_window w = rnn_layer_window(l);
    rnn_ref_conv1d_forward(s->out, p->x, rnn_ref_param(p, RNN_T_KERNEL), l->use_bias ? rnn_ref_param(p, RNN_T_DENSE_BIAS) : NULL,
                           l->activation, p->n, l->in_features, l->units, &w);
    return 0;
}

static void ref_backward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    const rnn_layer *l = p->l;
    rnn_window w = rnn_layer_window(l);
    rnn_ref_conv1d_backward(p->dx, rnn_ref_grad(p, RNN_T_KERNEL), l->use_bias ? rnn_ref_grad(p, RNN_T_DENSE_BIAS) : NULL,
                            s->priv, s->dout, p->x, s->out, rnn_ref_param(p, RNN_T_KERNEL), l->activation, p->n,
                            l->in_features, l->units, &w);
}

const rnn_kind rnn_kind_conv1d = {.defaults = conv1d_defaults, .layout = conv1d_layout, .ref_create = ref_create,
                                  .ref_destroy = ref_destroy, .ref_forward = ref_forward, .ref_backward = ref_backward};
