/*
 * pooling.c — the pooling kinds' layout and reference (docs/keras-semantics.md,
 * Pooling): a window's maximum or mean over the steps of the window that lie inside the
 * sequence, per channel. The global kinds pool the whole sequence as one window.
 */
#include "layers/pooling.h"
#include "reference/ref_layers.h"

#include <string.h>

/* The input steps [*u0, *u1) of output step t's window. */
static void window_steps(const rnn_window *w, int t, int *u0, int *u1) {
    const int a = t * w->stride - w->pad_left, b = a + w->size;
    *u0 = a < 0 ? 0 : a;
    *u1 = b > w->in ? w->in : b;
}

/* out [B, w.out, C], x [B, w.in, C] */
void rnn_ref_pool1d_forward(rnn_real *out, const rnn_real *x, int average, int B, int C, const rnn_window *w) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < w->out; t++) {
            int u0, u1;
            window_steps(w, t, &u0, &u1);
            rnn_real *y = out + ((size_t)b * (size_t)w->out + (size_t)t) * (size_t)C;
            const rnn_real *x0 = x + ((size_t)b * (size_t)w->in + (size_t)u0) * (size_t)C;
            for (int c = 0; c < C; c++) y[c] = average ? 0 : x0[c];
            for (int u = u0 + (average ? 0 : 1); u < u1; u++) {
                const rnn_real *xu = x + ((size_t)b * (size_t)w->in + (size_t)u) * (size_t)C;
                for (int c = 0; c < C; c++) y[c] = average ? y[c] + xu[c] : (xu[c] > y[c] ? xu[c] : y[c]);
            }
            if (average)
                for (int c = 0; c < C; c++) y[c] /= (rnn_real)(u1 - u0);
        }
}

/* dx [B, w.in, C] */
void rnn_ref_pool1d_backward(rnn_real *dx, const rnn_real *dout, const rnn_real *x, const rnn_real *out, int average,
                             int B, int C, const rnn_window *w) {
    memset(dx, 0, (size_t)B * (size_t)w->in * (size_t)C * sizeof *dx);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < w->out; t++) {
            int u0, u1;
            window_steps(w, t, &u0, &u1);
            const size_t yt = ((size_t)b * (size_t)w->out + (size_t)t) * (size_t)C;
            for (int c = 0; c < C; c++) {
                for (int u = u0; u < u1; u++) {
                    const size_t xu = ((size_t)b * (size_t)w->in + (size_t)u) * (size_t)C + (size_t)c;
                    if (average) {
                        dx[xu] += dout[yt + (size_t)c] / (rnn_real)(u1 - u0);
                    } else if (x[xu] == out[yt + (size_t)c]) {   /* the first step holding the maximum */
                        dx[xu] += dout[yt + (size_t)c];
                        break;
                    }
                }
            }
        }
}

rnn_window rnn_ref_global_window(int T) {
    rnn_window w = {T, T, 1, 0, T, 1, T};
    return w;
}

/* ---- the kinds' shared parts ------------------------------------------------------------- */

void rnn_pool_defaults(rnn_layer *l) { l->pool_size = 2; }

int rnn_pool_layout(rnn_layout *c, rnn_layer *l) {
    if (rnn_layout_units(c, "pool_size", l->pool_size, RNN_MAX_TIMESTEPS)) return -1;
    if (l->strides == 0) l->strides = l->pool_size;   /* Keras: strides=None means pool_size */
    if (rnn_layout_units(c, "strides", l->strides, RNN_MAX_TIMESTEPS)) return -1;
    if (l->padding != RNN_PADDING_VALID && l->padding != RNN_PADDING_SAME)
        return rnn_layout_error(c, "padding must be \"valid\" or \"same\" (got \"%s\")", rnn_padding_name(l->padding));
    if (rnn_layout_sequence_input(c, l)) return -1;
    rnn_window w = rnn_layer_window(l);
    if (w.out < 1)
        return rnn_layout_error(c, "the output would be empty: pool_size %d is longer than the input sequence (%d steps) "
                                   "with padding = \"valid\"",
                                l->pool_size, l->timesteps);
    l->out_seq = 1;
    l->out_features = l->in_features;
    l->out_timesteps = w.out;
    return 0;
}

int rnn_global_pool_layout(rnn_layout *c, rnn_layer *l) {
    if (rnn_layout_sequence_input(c, l)) return -1;
    l->out_seq = 0;
    l->out_features = l->in_features;
    return 0;
}

static rnn_window window_of(const rnn_layer *l, int global) {
    return global ? rnn_ref_global_window(l->timesteps) : rnn_layer_window(l);
}

size_t rnn_pool_forward(rnn_ref_layer *s, const rnn_ref_pass *p, int average, int global) {
    rnn_window w = window_of(p->l, global);
    rnn_ref_pool1d_forward(s->out, p->x, average, p->n, p->l->in_features, &w);
    return 0;
}

void rnn_pool_backward(rnn_ref_layer *s, const rnn_ref_pass *p, int average, int global) {
    rnn_window w = window_of(p->l, global);
    rnn_ref_pool1d_backward(p->dx, s->dout, p->x, s->out, average, p->n, p->l->in_features, &w);
}
