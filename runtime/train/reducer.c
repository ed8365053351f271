/*
 * reducer.c — several trainers on one batch (rnn_reducer): which rows each holds, and
 * the collectives the trainer builds on the reducer's allgather: one rank's bytes to
 * all, and a check that every rank starts from the same place.
 */
#include "train/trainer.h"

#include <stdlib.h>
#include <string.h>

void rnn_reducer_part(const rnn_reducer *r, int n, int *first, int *count) {
    const long long nb = (n + RNN_REDUCE_ROWS - 1) / RNN_REDUCE_ROWS;
    const long long b0 = nb * r->rank / r->size, b1 = nb * (r->rank + 1) / r->size;
    const long long lo = b0 * RNN_REDUCE_ROWS, hi = b1 * RNN_REDUCE_ROWS < n ? b1 * RNN_REDUCE_ROWS : n;
    *first = (int)lo;
    *count = hi > lo ? (int)(hi - lo) : 0;
}

int rnn_reducer_gather_parts(const rnn_reducer *r, void *buf, size_t unit, const size_t *first, const size_t *count) {
    size_t *off = malloc(2 * (size_t)r->size * sizeof *off);
    if (!off) return -1;
    for (int k = 0; k < r->size; k++) {
        off[k] = first[k] * unit;
        off[r->size + k] = count[k] * unit;
    }
    int rc = r->allgather(r->ctx, buf, off, off + r->size);
    free(off);
    return rc;
}

/* (in pieces of at most 1 GiB, which any transport's count holds) */
int rnn_reducer_broadcast(const rnn_reducer *r, void *buf, size_t bytes) {
    size_t *c = calloc(2 * (size_t)r->size, sizeof *c);
    if (!c) return -1;
    int rc = 0;
    for (size_t done = 0; rc == 0 && done < bytes; done += c[r->size]) {
        c[r->size] = bytes - done < ((size_t)1 << 30) ? bytes - done : (size_t)1 << 30;   /* rank 0's; offsets 0 */
        rc = r->allgather(r->ctx, (char *)buf + done, c, c + r->size);
    }
    free(c);
    return rc;
}

int rnn_reducer_agree(const rnn_reducer *r, const uint64_t *words, int n, int *rank, int *word, uint64_t value[2]) {
    const size_t K = (size_t)r->size, N = (size_t)n;
    uint64_t *all = malloc(K * N * sizeof *all);
    size_t *c = calloc(2 * K, sizeof *c);
    int rc = -1;
    if (all && c) {
        for (size_t k = 0; k < K; k++) {
            c[k] = k * N * sizeof *all;
            c[K + k] = N * sizeof *all;
        }
        memcpy(all + (size_t)r->rank * N, words, N * sizeof *all);
        rc = r->allgather(r->ctx, all, c, c + K);
    }
    *rank = *word = -1;
    for (size_t k = 1; rc == 0 && k < K && *rank < 0; k++)
        for (int i = 0; i < n; i++)
            if (all[k * N + (size_t)i] != all[i]) {
                *rank = (int)k;
                *word = i;
                value[0] = all[k * N + (size_t)i];
                value[1] = all[i];
                break;
            }
    free(all);
    free(c);
    return rc;
}
