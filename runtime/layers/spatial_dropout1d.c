/*
 * spatial_dropout1d.c — SpatialDropout1D: in training, out[t][f] = x[t][f] · mask[f],
 * one mask element per sample and channel for every step (Keras's noise_shape
 * (batch, 1, channels)); out = x otherwise. The mask rule is the Dropout layer's
 * (docs/keras-semantics.md, SpatialDropout1D).
 */
#include "model/kind.h"
#include "reference/ref_layers.h"

#include <stdlib.h>
#include <string.h>

void rnn_ref_spatial_dropout_forward(rnn_real *out, const rnn_real *x, const rnn_real *mask, int B, int T, int F) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int f = 0; f < F; f++) {
                const size_t k = ((size_t)b * (size_t)T + (size_t)t) * (size_t)F + (size_t)f;
                out[k] = x[k] * mask[(size_t)b * (size_t)F + (size_t)f];
            }
}

void rnn_ref_spatial_dropout_backward(rnn_real *dx, const rnn_real *dout, const rnn_real *mask, int B, int T, int F) {
    rnn_ref_spatial_dropout_forward(dx, dout, mask, B, T, F);   /* the same product */
}

static int spatial_dropout_layout(rnn_layout *c, rnn_layer *l) {
    if (!rnn_is_rate(l->dropout)) return rnn_layout_error(c, "rate must be in [0, 1) (got %g)", l->dropout);
    if (rnn_layout_sequence_input(c, l)) return -1;
    l->out_seq = 1;
    l->out_features = l->in_features;
    return 0;
}

typedef struct {
    rnn_real *mask;   /* [B, F] */
    int active;       /* the last forward dropped */
} spatial_state;

static int ref_create(rnn_ref_layer *s, const rnn_model *m, const rnn_layer *l, int max_batch) {
    (void)m;
    spatial_state *d = calloc(1, sizeof *d);
    if (!d) return -1;
    s->priv = d;
    int ok = 1;
    d->mask = rnn_ref_alloc((size_t)max_batch * (size_t)l->in_features, &ok);
    return ok ? 0 : -1;
}

static void ref_destroy(rnn_ref_layer *s) {
    spatial_state *d = s->priv;
    if (d) free(d->mask);
    free(d);
    s->priv = NULL;
}

static size_t ref_forward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    spatial_state *d = s->priv;
    const rnn_layer *l = p->l;
    const rnn_dropout_ctx *ctx = p->ctx;
    d->active = p->training && l->dropout > 0;
    if (d->active) {   /* one draw per (sample, channel): the mask of a single step */
        rnn_ref_dropout_mask(d->mask, ctx->seed, RNN_RNG_DROPOUT, (uint32_t)p->index, ctx->epoch, ctx->rows, l->dropout, 0,
                             p->n, 1, l->in_features);
        rnn_ref_spatial_dropout_forward(s->out, p->x, d->mask, p->n, l->timesteps, l->in_features);
    } else {
        memcpy(s->out, p->x, (size_t)p->n * (size_t)l->timesteps * (size_t)l->in_features * sizeof *s->out);
    }
    return 0;
}

static void ref_backward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    const spatial_state *d = s->priv;
    const rnn_layer *l = p->l;
    if (d->active) rnn_ref_spatial_dropout_backward(p->dx, s->dout, d->mask, p->n, l->timesteps, l->in_features);
    else memcpy(p->dx, s->dout, (size_t)p->n * (size_t)l->timesteps * (size_t)l->in_features * sizeof *p->dx);
}

const rnn_kind rnn_kind_spatial_dropout1d = {.layout = spatial_dropout_layout, .ref_create = ref_create,
                                             .ref_destroy = ref_destroy, .ref_forward = ref_forward,
                                             .ref_backward = ref_backward,
                                             .mask = RNN_MASK_PASSED};
