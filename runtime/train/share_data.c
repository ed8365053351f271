/*
 * share_data.c — fit --scatter-data: rank 0 reads the data and sends every rank all of
 * it (each epoch's permutation gives every rank other rows, so each needs the whole
 * set), for ranks without a shared file system. Only the ids and labels travel: the
 * vocabulary of raw text matters only to the files rank 0 writes.
 */
#include "train/trainer.h"

#include <stdlib.h>

/* The set's header words: n, T, labels per sample (0: none), has weights. */
static void header_of(const rnn_data *d, uint64_t *w) {
    w[0] = d->n;
    w[1] = (uint64_t)d->T;
    w[2] = d->y != NULL ? (uint64_t)(d->label_width > 0 ? d->label_width : 1) : 0;
    w[3] = d->w != NULL;
}

/* d from rank 0 (words h), allocating it on the other ranks. */
static int share_set(const rnn_reducer *r, const uint64_t *h, rnn_data *d) {
    const size_t n = (size_t)h[0], T = (size_t)h[1], ids = n * T, L = (size_t)h[2];
    if (r->rank > 0) {
        d->n = n;
        d->T = (int)T;
        d->label_width = (int)L;
        d->x = malloc((ids ? ids : 1) * sizeof *d->x);
        d->y = L ? malloc((n ? n : 1) * L * sizeof *d->y) : NULL;
        d->w = h[3] ? malloc((n ? n : 1) * sizeof *d->w) : NULL;
        if (!d->x || (L && !d->y) || (h[3] && !d->w)) return -1;
    }
    if (ids && rnn_reducer_broadcast(r, d->x, ids * sizeof *d->x)) return -1;
    if (h[3] && n && rnn_reducer_broadcast(r, d->w, n * sizeof *d->w)) return -1;
    return L && n ? rnn_reducer_broadcast(r, d->y, n * L * sizeof *d->y) : 0;
}

int rnn_share_data(const rnn_reducer *r, int ok, rnn_data *train, rnn_data *val, int *has_val, char *err,
                   size_t errlen) {
    uint64_t h[10] = {0};
    if (r->rank == 0 && ok) {
        h[0] = 1;
        header_of(train, h + 1);
        header_of(val, h + 5);
        h[9] = *has_val != 0;
    }
    if (rnn_reducer_broadcast(r, h, sizeof h)) {
        snprintf(err, errlen, "--scatter-data: the data did not reach every rank");
        return -1;
    }
    if (!h[0]) {   /* rank 0 could not read it, and says why */
        if (r->rank > 0) snprintf(err, errlen, "--scatter-data: rank 0 could not read the data");
        return -1;
    }
    if (r->rank > 0) *has_val = (int)h[9];
    if (share_set(r, h + 1, train) || share_set(r, h + 5, val)) {
        snprintf(err, errlen, "--scatter-data: out of memory, or the data did not reach every rank");
        return -1;
    }
    return 0;
}
