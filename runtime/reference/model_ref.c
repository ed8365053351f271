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
    rnn_real *labels;         /* [B, label_width] copy of the last forward's labels          */
    float *weights;           /* [B] copy of the last forward's sample weights              */
    int weighted;             /* the last forward had sample weights                        */
    double lookup_sumsq;      /* of the last backward: sum of the squares of layer 0's dout  */
    int32_t *tokens;          /* [B, T] copy of the last forward's tokens                   */
    int n;                    /* samples in the last forward                                */
    int has_labels;           /* the last forward had labels and valid tokens               */
    int correct;
    const rnn_dropout_ctx *ctx; /* of the forward being run (the layers' backward do not read it) */
    void *part_buf;           /* what passes between trainers (rnn_ref_forward_backward_part) */
};

/* Elements per sample of a layer's output. */
static size_t out_len(const rnn_layer *l) {
    return (l->out_seq ? (size_t)l->out_timesteps : 1) * (size_t)l->out_features;
}

rnn_real *rnn_ref_alloc(size_t n, int *ok) {
    rnn_real *p = calloc(n ? n : 1, sizeof *p);
    if (!p) *ok = 0;
    return p;
}

const rnn_real *rnn_ref_param(const rnn_ref_pass *p, int slot) {
    return p->params + p->m->tensors[p->l->first_tensor + p->slot0 + slot].offset;
}

rnn_real *rnn_ref_grad(const rnn_ref_pass *p, int slot) {
    return p->grads + p->m->tensors[p->l->first_tensor + p->slot0 + slot].offset;
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
    free(r->weights);
    free(r->tokens);
    free(r->part_buf);
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
        s->out = rnn_ref_alloc(B * out_len(l), &ok);
        s->dout = rnn_ref_alloc(B * out_len(l), &ok);
        const rnn_kind *k = rnn_kind_of(l->kind);
        if (ok && k->ref_create && k->ref_create(s, m, l, max_batch) != 0) ok = 0;
    }
    r->probs = rnn_ref_alloc(B * (size_t)m->n_outputs, &ok);
    r->labels = rnn_ref_alloc(B * (size_t)(m->label_width > 0 ? m->label_width : 1), &ok);
    r->weights = calloc(B, sizeof *r->weights);
    r->tokens = calloc(B * T, sizeof *r->tokens);
    if (!r->tokens || !r->weights) ok = 0;
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
                      grads, r->tokens, i > 0 ? r->layers[i - 1].out : NULL, i > 0 ? r->layers[i - 1].dout : NULL, 0};
    return p;
}

/* The layers' forward of n samples whose tokens are in r->tokens, and the probabilities;
 * how many token ids were out of range. */
static size_t forward_layers(rnn_ref *r, const rnn_real *params, int n, const rnn_dropout_ctx *ctx) {
    const rnn_model *m = r->m;
    const int last = m->n_layers - 1, C = m->n_outputs;
    r->n = n;
    r->ctx = ctx;
    size_t bad_inputs = 0;
    for (int i = 0; i <= last; i++) {
        rnn_ref_pass p = pass_of(r, i, params, NULL);
        bad_inputs += rnn_kind_of(m->layers[i].kind)->ref_forward(&r->layers[i], &p);
    }
    r->ctx = NULL;
    memcpy(r->probs, r->layers[last].out, (size_t)n * (size_t)C * sizeof *r->probs);
    rnn_ref_activate(r->probs, m->loss == RNN_LOSS_BINARY_CROSSENTROPY ? RNN_ACT_SIGMOID : RNN_ACT_SOFTMAX, n, C);
    return bad_inputs;
}

/* sum + the weighted losses of the last forward's n samples (their labels and weights,
 * NULL for 1, copied to r), in order, and their correct count into r->correct. */
static double loss_sum(rnn_ref *r, const rnn_real *labels, const float *weights, double sum) {
    const rnn_model *m = r->m;
    const int n = r->n, C = m->n_outputs;
    const rnn_real *logits = r->layers[m->n_layers - 1].out;
    memcpy(r->labels, labels, (size_t)n * (size_t)m->label_width * sizeof *r->labels);
    r->weighted = weights != NULL;
    if (weights) memcpy(r->weights, weights, (size_t)n * sizeof *r->weights);
    r->has_labels = 1;
    r->correct = rnn_ref_count_correct(m->accuracy_kind, r->probs, r->labels, n, C);
    return rnn_ref_loss_sum(m->loss, logits, r->labels, weights, n, C, sum);
}

double rnn_ref_forward(rnn_ref *r, const rnn_real *params, const int32_t *tokens,
                       const rnn_real *labels, int n, const rnn_dropout_ctx *ctx, rnn_real *out) {
    const rnn_model *m = r->m;
    r->has_labels = 0;
    r->correct = 0;
    r->n = 0;
    if (n < 1 || n > r->max_batch) return NAN;
    memcpy(r->tokens, tokens, (size_t)n * (size_t)m->timesteps * sizeof *r->tokens);
    size_t bad_inputs = forward_layers(r, params, n, ctx);
    if (out) memcpy(out, r->probs, (size_t)n * (size_t)m->n_outputs * sizeof *out);
    if (bad_inputs) return NAN;   /* a token id outside the vocabulary: no loss, no gradient */
    if (!labels) return 0;
    return loss_sum(r, labels, ctx ? ctx->sample_weights : NULL, 0) / n;
}

/* The last forward's gradient added into grads, its loss the mean over `total` samples. */
static void backward_sums(rnn_ref *r, const rnn_real *params, rnn_real *grads, int total) {
    const rnn_model *m = r->m;
    const int n = r->n, last = m->n_layers - 1, C = m->n_outputs;
    rnn_real *dlogits = r->layers[last].dout;
    rnn_ref_loss_grad(m->loss, dlogits, r->layers[last].out, r->labels, r->weighted ? r->weights : NULL, n, C, total);
    for (int i = last; i >= 0; i--) {
        rnn_ref_pass p = pass_of(r, i, params, grads);
        rnn_kind_of(m->layers[i].kind)->ref_backward(&r->layers[i], &p);
    }
    /* the embedding's gradient row of every lookup, as Keras's clipping sees it */
    const rnn_real *d0 = r->layers[0].dout;
    double ss = 0;
    for (size_t i = 0; i < (size_t)n * out_len(&m->layers[0]); i++) ss += (double)d0[i] * (double)d0[i];
    r->lookup_sumsq += ss;
}

void rnn_ref_backward(rnn_ref *r, const rnn_real *params, rnn_real *grads) {
    const rnn_model *m = r->m;
    /* Zero everything first: layers accumulate, and the alignment padding stays zero. */
    memset(grads, 0, m->param_buffer_len * sizeof *grads);
    r->lookup_sumsq = 0;
    if (!r->has_labels) {   /* nothing to differentiate: every gradient is zero */
        memset(r->layers[0].dout, 0, (size_t)r->n * out_len(&m->layers[0]) * sizeof *r->layers[0].dout);
        return;
    }
    backward_sums(r, params, grads, r->n);
}

/* What passes between trainers: the loss summed so far, the correct count, the gradient
 * sums (the layers add every sample's part in sample order). */
typedef struct {
    double loss, correct, lookup_sumsq;
} part_head;

double rnn_ref_forward_backward_part(rnn_ref *r, const rnn_real *params, const int32_t *const *samples,
                                     const rnn_real *labels, int n, int total, const rnn_dropout_ctx *ctx,
                                     rnn_real *grads, const rnn_reducer *red) {
    const rnn_model *m = r->m;
    const size_t P = m->param_buffer_len, bytes = sizeof(part_head) + P * sizeof(rnn_real);
    if (n < 0 || n > r->max_batch || total < n || total < 1) return NAN;
    if (!r->part_buf && !(r->part_buf = malloc(bytes))) return NAN;
    part_head head = {0, 0, 0};
    r->has_labels = 0;
    size_t bad_inputs = 0;
    for (int b = 0; b < n; b++)
        memcpy(r->tokens + (size_t)b * (size_t)m->timesteps, samples[b], (size_t)m->timesteps * sizeof *r->tokens);
    if (n > 0) bad_inputs = forward_layers(r, params, n, ctx);
    if (red->rank > 0) {   /* the sums of the parts before this one */
        if (red->receive(red->ctx, r->part_buf, bytes)) return NAN;
        memcpy(&head, r->part_buf, sizeof head);
        memcpy(grads, (char *)r->part_buf + sizeof head, P * sizeof *grads);
    } else {
        memset(grads, 0, P * sizeof *grads);
    }
    if (n > 0) {   /* this part's, continuing them (a bad id: no gradient, and the loss NaN) */
        head.loss = bad_inputs ? NAN : loss_sum(r, labels, ctx ? ctx->sample_weights : NULL, head.loss);
        head.correct += r->correct;
        r->lookup_sumsq = head.lookup_sumsq;
        if (!bad_inputs) backward_sums(r, params, grads, total);
        head.lookup_sumsq = r->lookup_sumsq;
    }
    memcpy(r->part_buf, &head, sizeof head);
    memcpy((char *)r->part_buf + sizeof head, grads, P * sizeof *grads);
    if (red->pass_on(red->ctx, r->part_buf, bytes)) return NAN;
    memcpy(&head, r->part_buf, sizeof head);
    memcpy(grads, (char *)r->part_buf + sizeof head, P * sizeof *grads);
    r->correct = (int)head.correct;
    r->lookup_sumsq = head.lookup_sumsq;
    return head.loss / total;
}

const rnn_real *rnn_ref_input_grad(const rnn_ref *r) {
    return r->layers[0].dout;
}

int rnn_ref_correct(const rnn_ref *r) {
    return r->correct;
}

double rnn_ref_lookup_sumsq(const rnn_ref *r) {
    return r->lookup_sumsq;
}
