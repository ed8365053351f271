/*
 * models.h — building rnn_model descriptions by hand in Criterion tests. Header-only.
 *
 *   add_layer(m, kind, units)            append a layer with rnn_layer_defaults
 *   add_embedding(m, vocab, dim, T)      append an Embedding(vocab, dim) of T tokens
 *   layout(m)                            rnn_model_layout, asserting that it succeeds
 */
#ifndef RNNC_TESTS_MODELS_H
#define RNNC_TESTS_MODELS_H

#include <criterion/criterion.h>

#include "rnnrt.h"

static inline rnn_layer *add_layer(rnn_model *m, rnn_layer_kind kind, int units) {
    rnn_layer *l = &m->layers[m->n_layers++];
    rnn_layer_defaults(l, kind);
    l->units = units;
    return l;
}

static inline void add_embedding(rnn_model *m, int vocab, int dim, int T) {
    rnn_layer *l = add_layer(m, RNN_LAYER_EMBEDDING, dim);
    l->input_dim = vocab;
    l->input_length = T;
}

static inline void layout(rnn_model *m) {
    char err[256];
    cr_assert_eq(rnn_model_layout(m, err, sizeof err), 0, "layout: %s", err);
}

#endif /* RNNC_TESTS_MODELS_H */
