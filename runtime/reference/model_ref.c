/*
 * model_ref.c — runs any laid-out rnn_model with the reference layers (the rnn_ref_*
 * API of rnnrt.h).
 *
 * Every buffer is allocated once, for max_batch samples, in rnn_ref_create; forward
 * and backward only index into them. Layer i reads layer i-1's `out` and, going back,
 * writes layer i-1's `dout`. The output layer (always dense) is computed without its
 * activation: those logits feed the loss, and the sigmoid/softmax is applied into
 * `probs` only for what the caller sees and for accuracy.
 */
#include "ref_layers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    rnn_real *out;            /* [B, T, F] or [B, F]: what the next layer reads           */
    rnn_real *dout;           /* same shape: d loss / d out                                */
    /* recurrent layers */
    rnn_real *h;              /* [B, T, U] every hidden state (is `out` with return_sequences) */
    rnn_real *dh;             /* [B, T, U] d loss / d h_t (is `dout` with return_sequences) */
    rnn_real *c;              /* [B, T, U] lstm cell states                                */
    rnn_real *gates;          /* [B, T, 4U] lstm / gru gate cache                          */
    rnn_real *recurrent_mask; /* [B, U] when recurrent_dropout > 0                         */
    rnn_real *dropped_input;  /* [B, T, F] x ⊙ input mask, when dropout > 0                */
    rnn_real *ddropped_input; /* [B, T, F] its gradient                                    */
    /* recurrent layers with dropout, and Dropout layers */
    rnn_real *input_mask;     /* [B, T, F] (or [B, F] for a Dropout layer on vectors)      */
    /* dense */
    rnn_real *dpre;           /* [B, O] scratch of the backward                             */
    /* what the last forward did */
    int dropout_active, recurrent_dropout_active;
} layer_state;

struct rnn_ref {
    const rnn_model *m;
    int max_batch;
    layer_state layers[RNN_MAX_LAYERS];
    rnn_real *scratch;        /* recurrent backward, rnn_ref_rnn_scratch_len(max units)    */
    rnn_real *probs;          /* [B, n_outputs] the output layer after sigmoid / softmax    */
    rnn_real *labels;         /* [B] copy of the last forward's labels                      */
    int32_t *tokens;          /* [B, T] copy of the last forward's tokens                   */
    int n;                    /* samples in the last forward                                */
    int has_labels;           /* the last forward had labels and valid tokens               */
    int correct;
};

static int is_recurrent(rnn_layer_kind kind) {
    return kind == RNN_LAYER_SIMPLE_RNN || kind == RNN_LAYER_LSTM || kind == RNN_LAYER_GRU;
}

/* Elements per sample of a layer's output. */
static size_t out_len(const rnn_model *m, const rnn_layer *l) {
    return (l->out_seq ? (size_t)m->timesteps : 1) * (size_t)l->out_features;
}
static size_t in_len(const rnn_model *m, const rnn_layer *l) {
    return (l->in_seq ? (size_t)m->timesteps : 1) * (size_t)l->in_features;
}

/* calloc that records failure in *ok instead of making every caller check. */
static rnn_real *alloc_reals(size_t n, int *ok) {
    rnn_real *p = calloc(n ? n : 1, sizeof *p);
    if (!p) *ok = 0;
    return p;
}

void rnn_ref_destroy(rnn_ref *r) {
    if (!r) return;
    for (int i = 0; i < RNN_MAX_LAYERS; i++) {
        layer_state *s = &r->layers[i];
        /* h/dh alias out/dout with return_sequences: free each block once. */
        if (s->h != s->out) free(s->h);
        if (s->dh != s->dout) free(s->dh);
        free(s->out);
        free(s->dout);
        free(s->c);
        free(s->gates);
        free(s->recurrent_mask);
        free(s->dropped_input);
        free(s->ddropped_input);
        free(s->input_mask);
        free(s->dpre);
    }
    free(r->scratch);
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
    int ok = 1, max_units = 1;
    for (int i = 0; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        layer_state *s = &r->layers[i];
        s->out = alloc_reals(B * out_len(m, l), &ok);
        s->dout = alloc_reals(B * out_len(m, l), &ok);
        if (is_recurrent(l->kind)) {
            size_t U = (size_t)l->units;
            if (l->units > max_units) max_units = l->units;
            s->h = l->return_sequences ? s->out : alloc_reals(B * T * U, &ok);
            s->dh = l->return_sequences ? s->dout : alloc_reals(B * T * U, &ok);
            if (l->kind == RNN_LAYER_LSTM) s->c = alloc_reals(B * T * U, &ok);
            if (l->kind != RNN_LAYER_SIMPLE_RNN) s->gates = alloc_reals(B * T * 4 * U, &ok);
            if (l->recurrent_dropout > 0) s->recurrent_mask = alloc_reals(B * U, &ok);
            if (l->dropout > 0) {
                s->input_mask = alloc_reals(B * in_len(m, l), &ok);
                s->dropped_input = alloc_reals(B * in_len(m, l), &ok);
                s->ddropped_input = alloc_reals(B * in_len(m, l), &ok);
            }
        } else if (l->kind == RNN_LAYER_DENSE) {
            s->dpre = alloc_reals(B * (size_t)l->units, &ok);
        } else if (l->kind == RNN_LAYER_DROPOUT && l->dropout > 0) {
            s->input_mask = alloc_reals(B * in_len(m, l), &ok);
        }
    }
    r->scratch = alloc_reals(rnn_ref_rnn_scratch_len(max_units), &ok);
    r->probs = alloc_reals(B * (size_t)m->n_outputs, &ok);
    r->labels = alloc_reals(B, &ok);
    r->tokens = calloc(B * T, sizeof *r->tokens);
    if (!r->tokens) ok = 0;
    if (!ok) {
        rnn_ref_destroy(r);
        return NULL;
    }
    return r;
}

static const rnn_real *param(const rnn_model *m, const rnn_real *params, const rnn_layer *l, int slot) {
    return params + m->tensors[l->first_tensor + slot].offset;
}
static rnn_real *grad(const rnn_model *m, rnn_real *grads, const rnn_layer *l, int slot) {
    return grads + m->tensors[l->first_tensor + slot].offset;
}

/* The input x [n, T, F] of recurrent layer i as its recurrence sees it. */
static const rnn_real *recurrent_input(const rnn_ref *r, int i) {
    const layer_state *s = &r->layers[i];
    return s->dropout_active ? s->dropped_input : r->layers[i - 1].out;
}

static void forward_recurrent(rnn_ref *r, const rnn_real *params, int i, int n,
                              const rnn_dropout_ctx *ctx) {
    const rnn_model *m = r->m;
    const rnn_layer *l = &m->layers[i];
    layer_state *s = &r->layers[i];
    const int T = m->timesteps, F = l->in_features, U = l->units;
    const int training = ctx && ctx->training;

    s->dropout_active = training && l->dropout > 0;
    if (s->dropout_active) {
        /* SimpleRNN's input dropout is always one mask per sequence. */
        int per_step = l->kind != RNN_LAYER_SIMPLE_RNN && l->dropout_mask == RNN_DROPOUT_PER_STEP;
        rnn_ref_dropout_mask(s->input_mask, ctx->seed, RNN_RNG_DROPOUT, (uint32_t)i, ctx->epoch,
                             ctx->rows, l->dropout, per_step, n, T, F);
        rnn_ref_dropout_forward(s->dropped_input, r->layers[i - 1].out, s->input_mask,
                                (size_t)n * (size_t)T * (size_t)F);
    }
    s->recurrent_dropout_active = training && l->recurrent_dropout > 0;
    if (s->recurrent_dropout_active)
        rnn_ref_dropout_mask(s->recurrent_mask, ctx->seed, RNN_RNG_RECURRENT_DROPOUT, (uint32_t)i,
                             ctx->epoch, ctx->rows, l->recurrent_dropout, 0, n, 1, U);
    const rnn_real *rmask = s->recurrent_dropout_active ? s->recurrent_mask : NULL;
    const rnn_real *x = recurrent_input(r, i);
    const rnn_real *K = param(m, params, l, RNN_T_KERNEL);
    const rnn_real *R = param(m, params, l, RNN_T_RECURRENT_KERNEL);
    const rnn_real *bias = param(m, params, l, RNN_T_RNN_BIAS);

    switch (l->kind) {
    case RNN_LAYER_SIMPLE_RNN:
        rnn_ref_simple_rnn_forward(s->h, x, K, R, bias, rmask, l->activation, n, T, F, U);
        break;
    case RNN_LAYER_LSTM:
        rnn_ref_lstm_forward(s->h, s->c, s->gates, x, K, R, bias, rmask, n, T, F, U);
        break;
    default:
        rnn_ref_gru_forward(s->h, s->gates, x, K, R, bias, rmask, l->reset_after, n, T, F, U);
        break;
    }
    if (!l->return_sequences)   /* the output is h_T alone */
        for (int b = 0; b < n; b++)
            memcpy(s->out + (size_t)b * (size_t)U, s->h + ((size_t)b * (size_t)T + (size_t)T - 1) * (size_t)U,
                   (size_t)U * sizeof *s->out);
}

static void backward_recurrent(rnn_ref *r, const rnn_real *params, rnn_real *grads, int i, int n) {
    const rnn_model *m = r->m;
    const rnn_layer *l = &m->layers[i];
    layer_state *s = &r->layers[i];
    const int T = m->timesteps, F = l->in_features, U = l->units;

    if (!l->return_sequences) {   /* only h_T was used: every other step gets zero from above */
        memset(s->dh, 0, (size_t)n * (size_t)T * (size_t)U * sizeof *s->dh);
        for (int b = 0; b < n; b++)
            memcpy(s->dh + ((size_t)b * (size_t)T + (size_t)T - 1) * (size_t)U, s->dout + (size_t)b * (size_t)U,
                   (size_t)U * sizeof *s->dh);
    }
    rnn_real *dx = s->dropout_active ? s->ddropped_input : r->layers[i - 1].dout;
    const rnn_real *rmask = s->recurrent_dropout_active ? s->recurrent_mask : NULL;
    const rnn_real *x = recurrent_input(r, i);
    const rnn_real *K = param(m, params, l, RNN_T_KERNEL);
    const rnn_real *R = param(m, params, l, RNN_T_RECURRENT_KERNEL);
    rnn_real *dK = grad(m, grads, l, RNN_T_KERNEL);
    rnn_real *dR = grad(m, grads, l, RNN_T_RECURRENT_KERNEL);
    rnn_real *dbias = grad(m, grads, l, RNN_T_RNN_BIAS);

    switch (l->kind) {
    case RNN_LAYER_SIMPLE_RNN:
        rnn_ref_simple_rnn_backward(dx, dK, dR, dbias, r->scratch, s->dh, x, s->h, K, R, rmask,
                                    l->activation, n, T, F, U);
        break;
    case RNN_LAYER_LSTM:
        rnn_ref_lstm_backward(dx, dK, dR, dbias, r->scratch, s->dh, x, s->h, s->c, s->gates, K, R,
                              rmask, n, T, F, U);
        break;
    default:
        rnn_ref_gru_backward(dx, dK, dR, dbias, r->scratch, s->dh, x, s->h, s->gates, K, R, rmask,
                             l->reset_after, n, T, F, U);
        break;
    }
    if (s->dropout_active)
        rnn_ref_dropout_backward(r->layers[i - 1].dout, s->ddropped_input, s->input_mask,
                                 (size_t)n * (size_t)T * (size_t)F);
}

double rnn_ref_forward(rnn_ref *r, const rnn_real *params, const int32_t *tokens,
                       const rnn_real *labels, int n, const rnn_dropout_ctx *ctx, rnn_real *out) {
    const rnn_model *m = r->m;
    r->has_labels = 0;
    r->correct = 0;
    r->n = 0;
    if (n < 1 || n > r->max_batch) return NAN;
    r->n = n;
    const int T = m->timesteps, last = m->n_layers - 1, C = m->n_outputs;

    const rnn_layer *emb = &m->layers[0];
    memcpy(r->tokens, tokens, (size_t)n * (size_t)T * sizeof *r->tokens);
    size_t bad_ids = rnn_ref_embedding_forward(r->layers[0].out, r->tokens, param(m, params, emb, RNN_T_EMBEDDINGS),
                                               n, T, emb->input_dim, emb->units);

    for (int i = 1; i <= last; i++) {
        const rnn_layer *l = &m->layers[i];
        layer_state *s = &r->layers[i];
        const rnn_real *x = r->layers[i - 1].out;
        if (is_recurrent(l->kind)) {
            forward_recurrent(r, params, i, n, ctx);
        } else if (l->kind == RNN_LAYER_DENSE) {
            rnn_activation act = i == last ? RNN_ACT_LINEAR : l->activation;   /* logits */
            rnn_ref_dense_forward(s->out, x, param(m, params, l, RNN_T_KERNEL),
                                  param(m, params, l, RNN_T_DENSE_BIAS), act, n, l->in_features, l->units);
        } else if (l->kind == RNN_LAYER_DROPOUT) {
            size_t len = (size_t)n * in_len(m, l);
            s->dropout_active = ctx && ctx->training && l->dropout > 0;
            if (s->dropout_active) {
                rnn_ref_dropout_mask(s->input_mask, ctx->seed, RNN_RNG_DROPOUT, (uint32_t)i, ctx->epoch,
                                     ctx->rows, l->dropout, 1, n, l->in_seq ? T : 1, l->in_features);
                rnn_ref_dropout_forward(s->out, x, s->input_mask, len);
            } else {
                memcpy(s->out, x, len * sizeof *s->out);
            }
        }
    }

    const rnn_real *logits = r->layers[last].out;
    memcpy(r->probs, logits, (size_t)n * (size_t)C * sizeof *r->probs);
    rnn_ref_activate(r->probs, m->loss == RNN_LOSS_BINARY_CROSSENTROPY ? RNN_ACT_SIGMOID : RNN_ACT_SOFTMAX, n, C);
    if (out) memcpy(out, r->probs, (size_t)n * (size_t)C * sizeof *out);
    if (bad_ids) return NAN;   /* a token id outside the vocabulary: no loss, no gradient */
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
    const int n = r->n, T = m->timesteps, last = m->n_layers - 1, C = m->n_outputs;
    if (!r->has_labels) {   /* nothing to differentiate: every gradient is zero */
        memset(r->layers[0].dout, 0, (size_t)n * out_len(m, &m->layers[0]) * sizeof *r->layers[0].dout);
        return;
    }

    rnn_real *dlogits = r->layers[last].dout;
    if (m->loss == RNN_LOSS_BINARY_CROSSENTROPY)
        rnn_ref_bce_backward(dlogits, r->layers[last].out, r->labels, n);
    else
        rnn_ref_sparse_cce_backward(dlogits, r->layers[last].out, r->labels, n, C);

    for (int i = last; i >= 1; i--) {
        const rnn_layer *l = &m->layers[i];
        layer_state *s = &r->layers[i];
        if (is_recurrent(l->kind)) {
            backward_recurrent(r, params, grads, i, n);
        } else if (l->kind == RNN_LAYER_DENSE) {
            rnn_activation act = i == last ? RNN_ACT_LINEAR : l->activation;
            rnn_ref_dense_backward(r->layers[i - 1].dout, grad(m, grads, l, RNN_T_KERNEL),
                                   grad(m, grads, l, RNN_T_DENSE_BIAS), s->dpre, s->dout, r->layers[i - 1].out,
                                   s->out, param(m, params, l, RNN_T_KERNEL), act, n, l->in_features, l->units);
        } else if (l->kind == RNN_LAYER_DROPOUT) {
            size_t len = (size_t)n * in_len(m, l);
            if (s->dropout_active) rnn_ref_dropout_backward(r->layers[i - 1].dout, s->dout, s->input_mask, len);
            else memcpy(r->layers[i - 1].dout, s->dout, len * sizeof *s->dout);
        }
    }
    const rnn_layer *emb = &m->layers[0];
    rnn_ref_embedding_backward(grad(m, grads, emb, RNN_T_EMBEDDINGS), r->layers[0].dout, r->tokens, n, T,
                               emb->input_dim, emb->units);
}

const rnn_real *rnn_ref_input_grad(const rnn_ref *r) {
    return r->layers[0].dout;
}

int rnn_ref_correct(const rnn_ref *r) {
    return r->correct;
}
