/*
 * embedding.c — the token lookup that starts every model.
 *
 * Keras's Embedding is a plain row gather: out[b, t, :] = E[id[b, t], :]. Padding id 0
 * is an ordinary row, looked up like any other; with mask_zero the embedding also makes
 * the mask of the steps that hold it, which the layers after it use (rnn_ref_step_mask;
 * docs/keras-semantics.md, Masking).
 */
#include "model/kind.h"
#include "reference/ref_layers.h"

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

/* step_mask [B, T]: 1 where the token is not 0, else 0 (Keras's mask_zero); reversed:
 * step t of each row holds token T-1-t's */
void rnn_ref_step_mask(rnn_real *step_mask, const int32_t *tokens, int B, int T, int reversed) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            step_mask[(size_t)b * (size_t)T + (size_t)t] = tokens[(size_t)b * (size_t)T + (size_t)(reversed ? T - 1 - t : t)] != 0;
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

void rnn_ref_embedding_backward_clipped(rnn_real *dtable, const rnn_real *dout, const int32_t *tokens, int B, int T,
                                        int V, int E, double clip) {
    const rnn_real c = (rnn_real)clip;
    for (size_t pos = 0; pos < (size_t)B * (size_t)T; pos++) {
        int32_t id = tokens[pos];
        if (id < 0 || id >= V) continue;
        const rnn_real *g = dout + pos * (size_t)E;
        rnn_real *drow = dtable + (size_t)id * (size_t)E;
        for (int e = 0; e < E; e++) drow[e] += g[e] > c ? c : g[e] < -c ? -c : g[e];
    }
}

/* ---- the kind --------------------------------------------------------------------------- */

static int embedding_layout(rnn_layout *c, rnn_layer *l) {
    if (rnn_layout_units(c, "input_dim", l->input_dim, RNN_MAX_VOCAB)) return -1;
    if (rnn_layout_units(c, "output_dim", l->units, RNN_MAX_UNITS)) return -1;
    if (l->input_length == 0)
        return rnn_layout_error(c, "input_length is required (rnnc compiles for a fixed sequence length)");
    if (rnn_layout_units(c, "input_length", l->input_length, RNN_MAX_TIMESTEPS)) return -1;
    l->timesteps = l->input_length;
    l->mask_out = l->mask_zero != 0;   /* token 0 is padding: the steps holding it are masked */
    l->in_seq = 0;
    l->in_features = 0;
    l->out_seq = 1;
    l->out_features = l->units;
    rnn_layout_tensor(c, "embeddings", l->input_dim, l->units, 2, RNN_INIT_EMBEDDING);
    return 0;
}

static size_t ref_forward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    const rnn_layer *l = p->l;
    return rnn_ref_embedding_forward(s->out, p->tokens, rnn_ref_param(p, RNN_T_EMBEDDINGS), p->n, p->m->timesteps,
                                     l->input_dim, l->units);
}

/* With the spec's clipvalue on a trainable embedding, Keras clips each lookup's row
 * before the rows of repeated tokens are summed (rnn_lookup_clipvalue). */
static void ref_backward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    const rnn_layer *l = p->l;
    const double clip = rnn_lookup_clipvalue(p->m);
    if (clip > 0)
        rnn_ref_embedding_backward_clipped(rnn_ref_grad(p, RNN_T_EMBEDDINGS), s->dout, p->tokens, p->n, p->m->timesteps,
                                           l->input_dim, l->units, clip);
    else
        rnn_ref_embedding_backward(rnn_ref_grad(p, RNN_T_EMBEDDINGS), s->dout, p->tokens, p->n, p->m->timesteps,
                                   l->input_dim, l->units);
}

const rnn_kind rnn_kind_embedding = {NULL, embedding_layout, NULL, NULL, ref_forward, ref_backward, NULL, 0,
                                     RNN_MASK_REFUSED};
