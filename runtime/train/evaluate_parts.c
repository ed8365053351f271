/*
 * evaluate_parts.c — evaluation on several trainers: each evaluates a run of whole
 * batches, the batches' sums go to every rank, and each adds them in batch order as
 * rnn_trainer_evaluate does on one: the loss, the accuracy and the probabilities are
 * one trainer's, bit for bit (with the same batch size).
 */
#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double loss;      /* the batch's mean loss times its size, as one trainer adds it */
    int64_t correct;
} batch_sums;

int rnn_trainer_evaluate_parts(rnn_trainer *tr, const rnn_reducer *r, const rnn_data *d, int bs, double *loss,
                               double *acc, rnn_real *probs) {
    if (bs > tr->max_batch) bs = tr->max_batch;
    const size_t n = d->n, K = (size_t)tr->m->n_outputs, nb = (n + (size_t)bs - 1) / (size_t)bs, R = (size_t)r->size;
    batch_sums *s = calloc(nb ? nb : 1, sizeof *s);
    size_t *part = malloc(4 * R * sizeof *part);   /* batches: first, count; rows: first, count */
    int rc = -1;
    if (!s || !part) goto done;
    for (size_t k = 0; k < R; k++) {
        const size_t b0 = nb * k / R, b1 = nb * (k + 1) / R;
        part[k] = b0;
        part[R + k] = b1 - b0;
        part[2 * R + k] = b0 * (size_t)bs;
        part[3 * R + k] = (b1 * (size_t)bs < n ? b1 * (size_t)bs : n) - (b0 * (size_t)bs < n ? b0 * (size_t)bs : n);
    }
    const size_t mine = (size_t)r->rank;
    for (size_t b = part[mine]; b < part[mine] + part[R + mine]; b++) {
        const size_t start = b * (size_t)bs;
        const int m = (int)(n - start < (size_t)bs ? n - start : (size_t)bs);
        rnn_trainer_gather(tr, d, NULL, start, m);
        const rnn_dropout_ctx ctx = rnn_trainer_ctx(tr, d, 0, 0, 0);   /* inference: only the weights */
        const double l = tr->ops->forward(tr->impl, tr->params, tr->tokens, d->y ? tr->labels : NULL, m,
                                          d->w ? &ctx : NULL, tr->out);
        s[b].loss = l * m;
        s[b].correct = d->y ? tr->ops->correct(tr->impl) : 0;
        if (probs) memcpy(probs + start * K, tr->out, (size_t)m * K * sizeof *probs);
    }
    if (rnn_reducer_gather_parts(r, s, sizeof *s, part, part + R)) goto done;
    if (probs && rnn_reducer_gather_parts(r, probs, K * sizeof *probs, part + 2 * R, part + 3 * R)) goto done;
    double sum_loss = 0;
    long long correct = 0;
    for (size_t b = 0; b < nb; b++) {
        sum_loss += s[b].loss;
        correct += s[b].correct;
    }
    if (loss) *loss = n ? sum_loss / (double)n : NAN;
    if (acc) *acc = n ? (double)correct / ((double)n * rnn_accuracy_units(tr->m)) : NAN;
    rc = 0;
done:
    free(s);
    free(part);
    return rc;
}
