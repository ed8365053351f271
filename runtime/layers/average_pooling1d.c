/*
 * average_pooling1d.c — AveragePooling1D: each channel's mean over windows of pool_size
 * steps every strides steps, (None, T, C) -> (None, T', C); with padding = "same" a
 * window at an end averages only its steps inside the sequence. pooling.c has the
 * layout and the reference.
 */
#include "layers/pooling.h"

static size_t ref_forward(rnn_ref_layer *s, const rnn_ref_pass *p) { return rnn_pool_forward(s, p, 1, 0); }

static void ref_backward(rnn_ref_layer *s, const rnn_ref_pass *p) { rnn_pool_backward(s, p, 1, 0); }

const rnn_kind rnn_kind_average_pooling1d = {
    .defaults = rnn_pool_defaults, .layout = rnn_pool_layout, .ref_forward = ref_forward, .ref_backward = ref_backward};
