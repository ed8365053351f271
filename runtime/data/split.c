/*
 * split.c — validation_split: a seeded permutation (RNN_RNG_SPLIT) instead of Keras's
 * "last rows", so a file sorted by label (aclImdb: all neg, then all pos) still gives
 * a representative validation set. The sizes are Keras's: n − floor(n · (1 − split))
 * validation rows (train_validation_split), the first n_val rows of the permutation, the
 * rest training, both in permutation order.
 */
#include "core/errors.h"
#include "data/data.h"
#include "rnnrt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


int rnn_data_split(rnn_data *all, double split, uint64_t seed, rnn_data *train, rnn_data *val, char *err,
                   size_t errlen) {
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    int rc = 0;
    const size_t n = all->n, t = (size_t)all->T, L = all->label_width > 0 ? (size_t)all->label_width : 1;
    size_t n_val = 0;
    if (!(split >= 0.0 && split < 1.0)) {
        rc = rnn_fail(err, errlen, "validation split %g is outside [0, 1)", split);
    } else if (n == 0 || n > UINT32_MAX || !all->x || !all->y) {
        rc = rnn_fail(err, errlen, "validation split: %zu samples cannot be split", n);
    } else {
        n_val = n - (size_t)floor((double)n * (1.0 - split));   /* Keras's split_at, in doubles */
        if (n_val >= n)
            rc = rnn_fail(err, errlen, "validation split %g of %zu samples leaves none to train on", split, n);
    }
    uint32_t *perm = NULL;
    if (rc == 0) {
        perm = malloc(n * sizeof *perm);
        train->x = malloc((n - n_val) * t * sizeof *train->x);
        train->y = malloc((n - n_val) * L * sizeof *train->y);
        val->x = malloc((n_val ? n_val : 1) * t * sizeof *val->x);
        val->y = malloc((n_val ? n_val : 1) * L * sizeof *val->y);
        if (all->w) {   /* sample weights go with their rows, as Keras splits them */
            train->w = malloc((n - n_val) * sizeof *train->w);
            val->w = malloc((n_val ? n_val : 1) * sizeof *val->w);
        }
        if (!perm || !train->x || !train->y || !val->x || !val->y || (all->w && (!train->w || !val->w))) {
            rnn_data_free(train);
            rnn_data_free(val);
            rc = rnn_fail(err, errlen, "validation split: out of memory");
        }
    }
    if (rc == 0) {
        const rnn_rng s = rnn_rng_stream(seed, RNN_RNG_SPLIT, 0, 0);
        rnn_rng_permutation(&s, perm, (uint32_t)n);
        for (size_t k = 0; k < n; k++) {
            rnn_data *dst = k < n_val ? val : train;
            size_t row = k < n_val ? k : k - n_val;
            memcpy(dst->x + row * t, all->x + (size_t)perm[k] * t, t * sizeof *dst->x);
            memcpy(dst->y + row * L, all->y + (size_t)perm[k] * L, L * sizeof *dst->y);
            if (all->w) dst->w[row] = all->w[perm[k]];
        }
        train->label_width = val->label_width = all->label_width;
        train->n = n - n_val;
        train->T = all->T;
        val->n = n_val;
        val->T = all->T;
        if (n_val == 0) {  /* an empty set holds no buffers */
            free(val->x);
            free(val->y);
            free(val->w);
            val->x = NULL;
            val->y = NULL;
            val->w = NULL;
        }
    }
    free(perm);
    rnn_data_free(all);
    return rc;
}
