/*
 * bidirectional.c — Bidirectional: a wrapper that runs the recurrent layer it wraps
 * twice over the same input, as Keras 2 builds it (docs/keras-semantics.md,
 * Bidirectional): a forward half, the wrapped layer as it is, and a backward half, a
 * copy with go_backwards flipped, each with weights and dropout masks of its own. Both
 * halves are the wrapped kind's cell inside recurrent.c's direction (the same reference
 * steps a plain layer runs); this file only lays out the two halves and merges them.
 *
 *   y  = forward half's output  [n, T, U] with return_sequences, else [n, U]
 *   yb = backward half's output, its steps flipped back in time with return_sequences
 *   out = concat(y, yb) [.., 2U] | y + yb | y ⊙ yb | (y + yb) / 2     (merge_mode)
 *
 * Tensors: LAYER/forward_INNER/{kernel, recurrent_kernel, bias}, then
 * LAYER/backward_INNER/{...}, INNER the wrapped layer's name.
 */
#include "layers/recurrent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bidirectional_layout(rnn_layout *c, rnn_layer *l) {
    const rnn_kind *w = (unsigned)l->wrapped < RNN_LAYER_KIND_COUNT ? rnn_kind_of(l->wrapped) : NULL;
    if (!w || !w->cell)
        return rnn_layout_error(c, "it wraps a recurrent layer (simple_rnn, lstm or gru), not %s",
                                (unsigned)l->wrapped < RNN_LAYER_KIND_COUNT ? rnn_layer_dsl_name(l->wrapped) : "?");
    if (l->merge_mode == RNN_MERGE_NONE)   /* Keras's None: a list of the two outputs */
        return rnn_layout_error(c, "merge_mode \"none\" (Keras's None) returns the two halves' outputs as a list, which "
                                   "a sequential model cannot pass on; use \"concat\", \"sum\", \"mul\" or \"ave\"");
    if ((unsigned)l->merge_mode >= RNN_MERGE_COUNT)
        return rnn_layout_error(c, "merge_mode must be \"concat\", \"sum\", \"mul\" or \"ave\"");
    /* each half is the wrapped layer laid out under its own name; its messages blame
     * the wrapped layer */
    char scope[RNN_NAME_MAX + 16];
    c->who = l->wrapped_name;
    c->line = l->wrapped_line > 0 ? l->wrapped_line : l->line;
    for (int half = 0; half < 2; half++) {
        snprintf(scope, sizeof scope, "%s_%s", half ? "backward" : "forward", l->wrapped_name);
        c->scope = scope;
        if (w->layout(c, l)) return -1;
    }
    c->scope = c->who = NULL;
    if (l->merge_mode == RNN_MERGE_CONCAT) l->out_features = 2 * l->units;
    return 0;
}

/* ---- the reference ---------------------------------------------------------------------- */

typedef struct {
    rnn_recurrent_state half[2];
    rnn_real *dx_backward;   /* [B, T, F] the backward half's part of d loss / d input */
} bidirectional_state;

static int ref_create(rnn_ref_layer *s, const rnn_model *m, const rnn_layer *l, int max_batch) {
    bidirectional_state *b = calloc(1, sizeof *b);
    if (!b) return -1;
    s->priv = b;
    const rnn_recurrent_cell *cell = rnn_kind_of(l->wrapped)->cell;
    int ok = 1;
    for (int half = 0; half < 2; half++)   /* Keras 2: the backward half flips go_backwards */
        if (rnn_recurrent_half_create(&b->half[half], m, l, max_batch, cell, half, half ? !l->go_backwards : l->go_backwards,
                                      NULL, NULL))
            ok = 0;
    b->dx_backward = rnn_ref_alloc((size_t)max_batch * (size_t)l->timesteps * (size_t)l->in_features, &ok);
    return ok ? 0 : -1;
}

static void ref_destroy(rnn_ref_layer *s) {
    bidirectional_state *b = s->priv;
    if (!b) return;
    for (int half = 0; half < 2; half++) rnn_recurrent_half_destroy(&b->half[half]);
    free(b->dx_backward);
    free(b);
    s->priv = NULL;
}

/* Where output step t (or the only output, t = 0, without return_sequences) of each half
 * is in its states [T][U] of sample b: the forward half's in step order, the backward
 * half's flipped back (Keras reverses y_rev) — or the last step each ran. */
static size_t state_row(const rnn_layer *l, int T, int b, int t, int half) {
    int step = !l->return_sequences ? T - 1 : half ? T - 1 - t : t;
    return ((size_t)b * (size_t)T + (size_t)step) * (size_t)l->units;
}

/* With the embedding's mask and return_sequences, output step t is 0 where its input
 * step is padding (Keras 2's Bidirectional sets zero_output_for_mask on both halves
 * then): the step each half's state at t read, x_t or, wrapping a go_backwards layer,
 * x_{T-1-t}. */
static int zero_output(const rnn_ref_pass *p, int n, int t) {
    const rnn_layer *l = p->l;
    const int T = l->timesteps;
    if (!l->mask_in || !l->return_sequences) return 0;
    return p->tokens[(size_t)n * (size_t)T + (size_t)(l->go_backwards ? T - 1 - t : t)] == 0;
}

static size_t ref_forward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    bidirectional_state *b = s->priv;
    const rnn_layer *l = p->l;
    const int T = l->timesteps, U = l->units, steps = l->return_sequences ? T : 1;
    for (int half = 0; half < 2; half++) rnn_recurrent_half_forward(&b->half[half], p);
    for (int n = 0; n < p->n; n++)
        for (int t = 0; t < steps; t++) {
            const rnn_real *y = b->half[0].h + state_row(l, T, n, t, 0), *yb = b->half[1].h + state_row(l, T, n, t, 1);
            rnn_real *o = s->out + ((size_t)n * (size_t)steps + (size_t)t) * (size_t)l->out_features;
            if (zero_output(p, n, t)) {
                for (int k = 0; k < l->out_features; k++) o[k] = 0;
                continue;
            }
            for (int u = 0; u < U; u++) {
                switch (l->merge_mode) {
                case RNN_MERGE_CONCAT: o[u] = y[u], o[U + u] = yb[u]; break;
                case RNN_MERGE_SUM: o[u] = y[u] + yb[u]; break;
                case RNN_MERGE_MUL: o[u] = y[u] * yb[u]; break;
                default: o[u] = (y[u] + yb[u]) / 2; break;   /* ave */
                }
            }
        }
    return 0;
}

static void ref_backward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    bidirectional_state *b = s->priv;
    const rnn_layer *l = p->l;
    const int T = l->timesteps, U = l->units, steps = l->return_sequences ? T : 1;
    for (int half = 0; half < 2; half++)   /* without return_sequences only the last step gets a gradient */
        memset(b->half[half].dh, 0, (size_t)p->n * (size_t)T * (size_t)U * sizeof *b->half[half].dh);
    for (int n = 0; n < p->n; n++)
        for (int t = 0; t < steps; t++) {
            size_t r0 = state_row(l, T, n, t, 0), r1 = state_row(l, T, n, t, 1);
            const rnn_real *y = b->half[0].h + r0, *yb = b->half[1].h + r1;
            rnn_real *dy = b->half[0].dh + r0, *dyb = b->half[1].dh + r1;
            const rnn_real *g = s->dout + ((size_t)n * (size_t)steps + (size_t)t) * (size_t)l->out_features;
            if (zero_output(p, n, t)) continue;   /* a constant 0: dy, dyb stay 0 */
            for (int u = 0; u < U; u++) {
                switch (l->merge_mode) {
                case RNN_MERGE_CONCAT: dy[u] = g[u], dyb[u] = g[U + u]; break;
                case RNN_MERGE_SUM: dy[u] = dyb[u] = g[u]; break;
                case RNN_MERGE_MUL: dy[u] = g[u] * yb[u], dyb[u] = g[u] * y[u]; break;
                default: dy[u] = dyb[u] = g[u] / 2; break;   /* ave */
                }
            }
        }
    rnn_recurrent_half_backward(&b->half[0], p, p->dx);
    rnn_recurrent_half_backward(&b->half[1], p, b->dx_backward);
    size_t len = (size_t)p->n * (size_t)T * (size_t)l->in_features;
    for (size_t k = 0; k < len; k++) p->dx[k] += b->dx_backward[k];
}

const rnn_kind rnn_kind_bidirectional = {NULL, bidirectional_layout, ref_create, ref_destroy, ref_forward, ref_backward, NULL, 0,
                                         RNN_MASK_USED};
