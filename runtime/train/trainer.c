/*
 * trainer.c — a model instance with its buffers, batching, and evaluation.
 */
#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int rnn_trainer_init(rnn_trainer *tr, const rnn_model *m, const rnn_model_ops *ops, int max_batch,
                     char *err, size_t errlen) {
    memset(tr, 0, sizeof *tr);
    tr->m = m;
    tr->ops = ops;
    tr->max_batch = max_batch;
    tr->opt = m->optimizer;
    tr->opt_slots = rnn_optimizer_slots(&m->optimizer);
    size_t P = m->param_buffer_len;
    tr->params = calloc(P ? P : 1, sizeof *tr->params);
    tr->grads = calloc(P ? P : 1, sizeof *tr->grads);
    tr->opt_state = calloc(P * (size_t)tr->opt_slots + 1, sizeof *tr->opt_state);
    tr->tokens = calloc((size_t)max_batch * (size_t)m->timesteps, sizeof *tr->tokens);
    tr->samples = calloc((size_t)max_batch, sizeof *tr->samples);
    tr->labels = calloc((size_t)max_batch * (size_t)(m->label_width > 0 ? m->label_width : 1), sizeof *tr->labels);
    tr->weights = calloc((size_t)max_batch, sizeof *tr->weights);
    tr->rows = calloc((size_t)max_batch, sizeof *tr->rows);
    tr->out = calloc((size_t)max_batch * (size_t)m->n_outputs, sizeof *tr->out);
    tr->impl = ops->create(m, max_batch);
    if (!tr->params || !tr->grads || !tr->opt_state || !tr->tokens || !tr->samples || !tr->labels || !tr->weights ||
        !tr->rows || !tr->out || !tr->impl) {
        snprintf(err, errlen, "out of memory for the model (%zu parameters, batches of %d)", m->n_params, max_batch);
        rnn_trainer_free(tr);
        return -1;
    }
    rnn_parallel_start();
    return 0;
}

void rnn_trainer_free(rnn_trainer *tr) {
    if (tr->impl) tr->ops->destroy(tr->impl);
    free(tr->params);
    free(tr->grads);
    free(tr->opt_state);
    free(tr->tokens);
    free(tr->samples);
    free(tr->labels);
    free(tr->weights);
    free(tr->rows);
    free(tr->out);
    memset(tr, 0, sizeof *tr);
}

/* Start loading what rnn_trainer_gather(tr, d, idx, start, n) (or, after rnn_trainer_select, the
 * model) will read: the next batch's rows sit at random places in the data, and gathered
 * cold they cost part of the serial work between a step's parallel jobs, when the other
 * threads wait. A hint only: nothing changes without a prefetch builtin. */
void rnn_trainer_prefetch(const rnn_data *d, const uint32_t *idx, size_t start, int n) {
#if defined(__GNUC__) || defined(__clang__)
    const size_t T = (size_t)d->T, line = 64 / sizeof *d->x;
    for (int b = 0; b < n && start + (size_t)b < d->n; b++) {
        const int32_t *row = d->x + (idx ? idx[start + (size_t)b] : start + (size_t)b) * T;
        for (size_t k = 0; k < T; k += line) __builtin_prefetch(row + k);
        __builtin_prefetch(row + T - 1);
    }
#else
    (void)d, (void)idx, (void)start, (void)n;
#endif
}

void rnn_trainer_select(rnn_trainer *tr, const rnn_data *d, const uint32_t *idx, size_t start, int n) {
    const size_t T = (size_t)d->T, L = (size_t)(tr->m->label_width > 0 ? tr->m->label_width : 1);
    for (int b = 0; b < n; b++) {
        size_t row = idx ? idx[start + (size_t)b] : start + (size_t)b;
        tr->samples[b] = d->x + row * T;
        for (size_t k = 0; k < L; k++) tr->labels[(size_t)b * L + k] = d->y ? (rnn_real)d->y[row * L + k] : 0;
        tr->weights[b] = d->w ? d->w[row] : 1.0f;
        tr->rows[b] = (uint32_t)row;
    }
}

rnn_dropout_ctx rnn_trainer_ctx(const rnn_trainer *tr, const rnn_data *d, int training, uint64_t seed, int epoch) {
    rnn_dropout_ctx ctx = {.training = training, .seed = seed, .epoch = (uint32_t)epoch, .rows = tr->rows,
                           .sample_weights = d->w ? tr->weights : NULL};
    return ctx;
}

void rnn_trainer_gather(rnn_trainer *tr, const rnn_data *d, const uint32_t *idx, size_t start, int n) {
    rnn_trainer_select(tr, d, idx, start, n);
    size_t T = (size_t)d->T;
    for (int b = 0; b < n; b++) memcpy(tr->tokens + (size_t)b * T, tr->samples[b], T * sizeof *tr->tokens);
}

void rnn_trainer_evaluate(rnn_trainer *tr, const rnn_data *d, int bs, double *loss, double *acc, rnn_real *probs) {
    double sum_loss = 0;
    long long correct = 0;
    size_t K = (size_t)tr->m->n_outputs;
    if (bs > tr->max_batch) bs = tr->max_batch;
    for (size_t start = 0; start < d->n; start += (size_t)bs) {
        int n = (int)(d->n - start < (size_t)bs ? d->n - start : (size_t)bs);
        rnn_trainer_gather(tr, d, NULL, start, n);
        const rnn_dropout_ctx ctx = rnn_trainer_ctx(tr, d, 0, 0, 0);   /* inference: only the weights */
        double l = tr->ops->forward(tr->impl, tr->params, tr->tokens, d->y ? tr->labels : NULL, n,
                                    d->w ? &ctx : NULL, tr->out);
        sum_loss += l * n;
        if (d->y) correct += tr->ops->correct(tr->impl);
        if (probs) memcpy(probs + start * K, tr->out, (size_t)n * K * sizeof *probs);
    }
    if (loss) *loss = d->n ? sum_loss / (double)d->n : NAN;
    if (acc) *acc = d->n ? (double)correct / ((double)d->n * rnn_accuracy_units(tr->m)) : NAN;
}
