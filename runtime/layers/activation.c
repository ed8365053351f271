/*
 * activation.c — Activation: out = act(x) element-wise (softmax over the features of
 * each step or vector), any shape kept. It may end a model: act is then the output's
 * sigmoid or softmax, which the loss applies, and its forward writes x, the logits
 * (docs/keras-semantics.md, Losses).
 */
#include "model/kind.h"
#include "reference/ref_layers.h"

#include <string.h>

static int activation_layout(rnn_layout *c, rnn_layer *l) {
    if ((unsigned)l->activation >= RNN_ACT_COUNT) return rnn_layout_error(c, "unknown activation");
    l->out_seq = l->in_seq;
    l->out_features = l->in_features;
    return 0;
}

/* The rows the activation maps: one per sample, or per sample and step. */
static int rows_of(const rnn_ref_pass *p) { return p->l->in_seq ? p->n * p->l->timesteps : p->n; }

static size_t ref_forward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    const int rows = rows_of(p), F = p->l->in_features;
    memcpy(s->out, p->x, (size_t)rows * (size_t)F * sizeof *s->out);
    if (!p->last) rnn_ref_activate(s->out, p->l->activation, rows, F);
    return 0;
}

static void ref_backward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    const int rows = rows_of(p), F = p->l->in_features;
    rnn_ref_activation_backward(p->dx, s->dout, s->out, p->last ? RNN_ACT_LINEAR : p->l->activation, rows, F);
}

const rnn_kind rnn_kind_activation = {
    .layout = activation_layout, .ref_forward = ref_forward, .ref_backward = ref_backward, .output = 1,
    .mask = RNN_MASK_PASSED};
