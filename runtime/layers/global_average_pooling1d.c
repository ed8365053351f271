/*
 * global_average_pooling1d.c — GlobalAveragePooling1D: each channel's mean over the
 * whole sequence, (None, T, C) -> (None, C). pooling.c has the layout and the
 * reference. With a per-step mask (Keras's mask_zero, not yet supported) the mean
 * would be over the unmasked steps only, its divisor their count per sample.
 */
#include "layers/pooling.h"

static size_t ref_forward(rnn_ref_layer *s, const rnn_ref_pass *p) { return rnn_pool_forward(s, p, 1, 1); }

static void ref_backward(rnn_ref_layer *s, const rnn_ref_pass *p) { rnn_pool_backward(s, p, 1, 1); }

const rnn_kind rnn_kind_global_average_pooling1d = {
    .layout = rnn_global_pool_layout, .ref_forward = ref_forward, .ref_backward = ref_backward, .mask = RNN_MASK_USED};
