/*
 * model_ref.c — runs any laid-out rnn_model with the reference layers (the rnn_ref_*
 * API of rnnrt.h).
 *
 * Every buffer is allocated once, for max_batch samples, in rnn_ref_create; forward
 * and backward only index into them. Each layer is its kind's reference implementation
 * (runtime/layers/): layer i reads layer i-1's `out` and, going back, writes layer
 * i-1's `dout`. The output layer (always dense) is computed without its activation:
 * those logits feed the loss, and the sigmoid/softmax is applied into `probs` only for
 * what the caller sees and for accuracy.
 */
#include "model/kind.h"
#include "reference/ref_layers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct rnn_ref {
    const rnn_model *m;
    int max_batch;
    rnn_ref_layer layers[RNN_MAX_LAYERS];
    rnn_real *probs;          /* [B, n_outputs] the output layer after sigmoid / softmax    */
    rnn_real *labels;         /* [B] copy of the last forward's labels                      */
    int32_t *tokens;          /* [B, T] copy of the last forward's tokens                   */
    int n;                    /* samples in the last forward                                */
    int has_labels;           /* the last forward had labels and valid tokens               */
    int correct;
    const rnn_dropout_ctx *ctx; /* of the last forward (the layers' backward do not read it) */
};

/* Elements per sample of a layer's output. */
static size_t out_len(const rnn_model *m, const rnn_layer *l) {
    return (l->out_seq ? (size_t)m->timesteps : 1) * (size_t)l->out_features;
}

rnn_real *rnn_ref_alloc(size_t n, int *ok) {
    rnn_real *p = calloc(n ? n : 1, sizeof *p);
    if (!p) *ok = 0;
    return p;
}

const rnn_real *rnn_ref_param(const rnn_ref_pass *p, int slot) {
    return p->params + p->m->tensors[p->l->first_tensor + slot].offset;
}

rnn_real *rnn_ref_grad(const rnn_ref_pass *p, int slot) {
    return p->grads + p->m->tensors[p->l->first_tensor + slot].offset;
}

void rnn_ref_destroy(rnn_ref *r) {
    if (!r) return;
    for (int i = 0; i < r->m->n_layers; i++) {
        rnn_ref_layer *s = &r->layers[i];
        const rnn_kind *k = rnn_kind_of(r->m->layers[i].kind);
        if (k->ref_destroy) k->ref_destroy(s);   /* before out and dout: it may alias them */
        free(s->out);
        free(s->dout);
    }
    free(r->probs);
    free(r->labels);
    free(r->tokens);
    free(r);
}

rnn_ref *rnn_ref_create(const rnn_model *m, int max_batch) {
    if (!m || m->n_layers < 2 || m->n_layers > RNN_MAX_LAYERS || max_batch < 1 || max_batch > RNN_MAX_BATCH)
        return NULL;
    rnn_ref *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->m = m;
    r->max_batch = max_batch;
    const size_t B = (size_t)max_batch, T = (size_t)m->timesteps;
    int ok = 1;
    for (int i = 0; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        rnn_ref_layer *s = &r->layers[i];
        s->out = rnn_ref_alloc(B * out_len(m, l), &ok);
        s->dout = rnn_ref_alloc(B * out_len(m, l), &ok);
        const rnn_kind *k = rnn_kind_of(l->kind);
        if (ok && k->ref_create && k->ref_create(s, m, l, max_batch) != 0) ok = 0;
    }
    r->probs = rnn_ref_alloc(B * (size_t)m->n_outputs, &ok);
    r->labels = rnn_ref_alloc(B, &ok);
    r->tokens = calloc(B * T, sizeof *r->tokens);
    if (!r->tokens) ok = 0;
    if (!ok) {
        rnn_ref_destroy(r);
        return NULL;
    }
    return r;
}

/* What layer i's forward or backward sees. */
static rnn_ref_pass pass_of(const rnn_ref *r, int i, const rnn_real *params, rnn_real *grads) {
    const rnn_model *m = r->m;
    rnn_ref_pass p = {m, &m->layers[i], i, i == m->n_layers - 1, r->n, r->ctx, r->ctx && r->ctx->training, params,
                      grads, r->tokens, i > 0 ? r->layers[i - 1].out : NULL, i > 0 ? r->layers[i - 1].dout : NULL};
    return p;
}

double rnn_ref_forward(rnn_ref *r, const rnn_real *params, const int32_t *tokens,
                       const rnn_real *labels, int n, const rnn_dropout_ctx *ctx, rnn_real *out) {
    const rnn_model *m = r->m;
    r->has_labels = 0;
    r->correct = 0;
    r->n = 0;
    if (n < 1 || n > r->max_batch) return NAN;
    r->n = n;
    r->ctx = ctx;
    const int T = m->timesteps, last = m->n_layers - 1, C = m->n_outputs;
    memcpy(r->tokens, tokens, (size_t)n * (size_t)T * sizeof *r->tokens);
    size_t bad_inputs = 0;
    for (int i = 0; i <= last; i++) {
        rnn_ref_pass p = pass_of(r, i, params, NULL);
        bad_inputs += rnn_kind_of(m->layers[i].kind)->ref_forward(&r->layers[i], &p);
    }
    r->ctx = NULL;

    const rnn_real *logits = r->layers[last].out;
    memcpy(r->probs, logits, (size_t)n * (size_t)C * sizeof *r->probs);
    rnn_ref_activate(r->probs, m->loss == RNN_LOSS_BINARY_CROSSENTROPY ? RNN_ACT_SIGMOID : RNN_ACT_SOFTMAX, n, C);
    if (out) memcpy(out, r->probs, (size_t)n * (size_t)C * sizeof *out);
    if (bad_inputs) return NAN;   /* a token id outside the vocabulary: no loss, no gradient */
    if (!labels) return 0;

    memcpy(r->labels, labels, (size_t)n * sizeof *r->labels);
    r->has_labels = 1;
    if (m->loss == RNN_LOSS_BINARY_CROSSENTROPY) {
        r->correct = rnn_ref_binary_correct(r->probs, r->labels, n);
        return rnn_ref_bce_forward(logits, r->labels, n);
    }
    r->correct = rnn_ref_sparse_correct(r->probs, r->labels, n, C);
    return rnn_ref_sparse_cce_forward(logits, r->labels, n, C);
}

void rnn_ref_backward(rnn_ref *r, const rnn_real *params, rnn_real *grads) {
    const rnn_model *m = r->m;
    /* Zero everything first: layers accumulate, and the alignment padding stays zero. */
    memset(grads, 0, m->param_buffer_len * sizeof *grads);
    const int n = r->n, last = m->n_layers - 1, C = m->n_outputs;
    if (!r->has_labels) {   /* nothing to differentiate: every gradient is zero */
        memset(r->layers[0].dout, 0, (size_t)n * out_len(m, &m->layers[0]) * sizeof *r->layers[0].dout);
        return;
    }
    rnn_real *dlogits = r->layers[last].dout;
    if (m->loss == RNN_LOSS_BINARY_CROSSENTROPY)
        rnn_ref_bce_backward(dlogits, r->layers[last].out, r->labels, n);
    else
        rnn_ref_sparse_cce_backward(dlogits, r->layers[last].out, r->labels, n, C);
    for (int i = last; i >= 0; i--) {
        rnn_ref_pass p = pass_of(r, i, params, grads);
        rnn_kind_of(m->layers[i].kind)->ref_backward(&r->layers[i], &p);
    }
}

const rnn_real *rnn_ref_input_grad(const rnn_ref *r) {
    return r->layers[0].dout;
}

int rnn_ref_correct(const rnn_ref *r) {
    return r->correct;
}
