/*
 * embedding.c — the token lookup that starts every model.
 *
 * Keras's Embedding is a plain row gather: out[b, t, :] = E[id[b, t], :]. Padding id 0
 * is an ordinary row (mask_zero is off), so it is looked up and trained like any other.
 */
#include "ref_layers.h"

#include <string.h>

/* out [B, T, E], tokens [B, T], table [V, E] */
size_t rnn_ref_embedding_forward(rnn_real *out, const int32_t *tokens, const rnn_real *table,
                                 int B, int T, int V, int E) {
    size_t bad_ids = 0;
    for (size_t pos = 0; pos < (size_t)B * (size_t)T; pos++) {
        rnn_real *row_out = out + pos * (size_t)E;
        int32_t id = tokens[pos];
        if (id < 0 || id >= V) {
            /* Never read outside the table; the caller turns the count into an error. */
            memset(row_out, 0, (size_t)E * sizeof *row_out);
            bad_ids++;
            continue;
        }
        memcpy(row_out, table + (size_t)id * (size_t)E, (size_t)E * sizeof *row_out);
    }
    return bad_ids;
}

/* dtable [V, E] += scatter(dout [B, T, E]) */
void rnn_ref_embedding_backward(rnn_real *dtable, const rnn_real *dout, const int32_t *tokens,
                                int B, int T, int V, int E) {
    for (size_t pos = 0; pos < (size_t)B * (size_t)T; pos++) {
        int32_t id = tokens[pos];
        if (id < 0 || id >= V) continue;
        const rnn_real *g = dout + pos * (size_t)E;
        rnn_real *drow = dtable + (size_t)id * (size_t)E;
        for (int e = 0; e < E; e++) drow[e] += g[e];
    }
}
