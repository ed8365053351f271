/*
 * flatten.c — Flatten: a sequence (None, T, F) becomes one vector (None, T * F) per
 * sample, step after step (Keras's row-major reshape); a vector passes unchanged. The
 * values do not move: [B, T, F] and [B, T * F] are the same array.
 */
#include "model/kind.h"

#include <string.h>

static int flatten_layout(rnn_layout *c, rnn_layer *l) {
    (void)c;
    l->out_seq = 0;
    l->out_features = l->in_seq ? l->timesteps * l->in_features : l->in_features;
    return 0;
}

static size_t len(const rnn_ref_pass *p) { return (size_t)p->n * (size_t)p->l->out_features; }

static size_t ref_forward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    memcpy(s->out, p->x, len(p) * sizeof *s->out);
    return 0;
}

static void ref_backward(rnn_ref_layer *s, const rnn_ref_pass *p) { memcpy(p->dx, s->dout, len(p) * sizeof *p->dx); }

const rnn_kind rnn_kind_flatten = {.layout = flatten_layout, .ref_forward = ref_forward, .ref_backward = ref_backward};
