/*
 * global_max_pooling1d.c — GlobalMaxPooling1D: each channel's maximum over the whole
 * sequence, (None, T, C) -> (None, C). pooling.c has the layout and the reference.
 */
#include "layers/pooling.h"

static size_t ref_forward(rnn_ref_layer *s, const rnn_ref_pass *p) { return rnn_pool_forward(s, p, 0, 1); }

static void ref_backward(rnn_ref_layer *s, const rnn_ref_pass *p) { rnn_pool_backward(s, p, 0, 1); }

const rnn_kind rnn_kind_global_max_pooling1d = {
    .layout = rnn_global_pool_layout, .ref_forward = ref_forward, .ref_backward = ref_backward};
