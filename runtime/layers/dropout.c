/*
 * dropout.c — the Dropout layer: out = x ⊙ mask in training, x otherwise, one mask
 * element per (sample, timestep, feature) (docs/keras-semantics.md, Dropout layer).
 * The masks themselves are reference/dropout_mask.c's.
 */
#include "model/kind.h"
#include "reference/ref_layers.h"

#include <stdlib.h>
#include <string.h>

static int dropout_layout(rnn_layout *c, rnn_layer *l) {
    if (!rnn_is_rate(l->dropout)) return rnn_layout_error(c, "rate must be in [0, 1) (got %g)", l->dropout);
    l->out_seq = l->in_seq;
    l->out_features = l->in_features;
    return 0;
}

typedef struct {
    rnn_real *mask;   /* [B, T, F] or [B, F] */
    int active;       /* the last forward dropped */
} dropout_state;

static size_t in_len(const rnn_layer *l) {
    return (l->in_seq ? (size_t)l->timesteps : 1) * (size_t)l->in_features;
}

static int ref_create(rnn_ref_layer *s, const rnn_model *m, const rnn_layer *l, int max_batch) {
    (void)m;
    dropout_state *d = calloc(1, sizeof *d);
    if (!d) return -1;
    s->priv = d;
    int ok = 1;
    if (l->dropout > 0) d->mask = rnn_ref_alloc((size_t)max_batch * in_len(l), &ok);
    return ok ? 0 : -1;
}

static void ref_destroy(rnn_ref_layer *s) {
    dropout_state *d = s->priv;
    if (d) free(d->mask);
    free(d);
    s->priv = NULL;
}

static size_t ref_forward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    dropout_state *d = s->priv;
    const rnn_layer *l = p->l;
    const rnn_dropout_ctx *ctx = p->ctx;
    size_t len = (size_t)p->n * in_len(l);
    d->active = p->training && l->dropout > 0;
    if (d->active) {
        rnn_ref_dropout_mask(d->mask, ctx->seed, RNN_RNG_DROPOUT, (uint32_t)p->index, ctx->epoch, ctx->rows, l->dropout, 1,
                             p->n, l->in_seq ? p->l->timesteps : 1, l->in_features);
        rnn_ref_dropout_forward(s->out, p->x, d->mask, len);
    } else {
        memcpy(s->out, p->x, len * sizeof *s->out);
    }
    return 0;
}

static void ref_backward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    const dropout_state *d = s->priv;
    size_t len = (size_t)p->n * in_len(p->l);
    if (d->active) rnn_ref_dropout_backward(p->dx, s->dout, d->mask, len);
    else memcpy(p->dx, s->dout, len * sizeof *s->dout);
}

const rnn_kind rnn_kind_dropout = {NULL, dropout_layout, ref_create, ref_destroy, ref_forward, ref_backward, NULL, 0,
                                   RNN_MASK_PASSED};
