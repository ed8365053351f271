/*
 * reducer.c — which rows of a batch each of several trainers holds (rnn_reducer).
 */
#include "rnnrt.h"

void rnn_reducer_part(const rnn_reducer *r, int n, int *first, int *count) {
    const long long nb = (n + RNN_REDUCE_ROWS - 1) / RNN_REDUCE_ROWS;
    const long long b0 = nb * r->rank / r->size, b1 = nb * (r->rank + 1) / r->size;
    const long long lo = b0 * RNN_REDUCE_ROWS, hi = b1 * RNN_REDUCE_ROWS < n ? b1 * RNN_REDUCE_ROWS : n;
    *first = (int)lo;
    *count = hi > lo ? (int)(hi - lo) : 0;
}
