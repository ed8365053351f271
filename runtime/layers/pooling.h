/*
 * pooling.h — what the four pooling kinds share (internal to librnnrt): the layout of a
 * windowed (max_pooling1d, average_pooling1d) or global pooling layer, and its
 * reference forward and backward (rnn_ref_pool1d_* of ref_layers.h) over the window.
 */
#ifndef RNN_LAYERS_POOLING_H
#define RNN_LAYERS_POOLING_H

#include "model/kind.h"

/* pool_size 2, strides = pool_size, padding "valid" (Keras's MaxPooling1D and
 * AveragePooling1D defaults) */
void rnn_pool_defaults(rnn_layer *l);
/* The checks and shapes of a windowed pooling layer ((None, T, C) -> (None, T', C)), or of
 * a global one ((None, T, C) -> (None, C)). */
int rnn_pool_layout(rnn_layout *c, rnn_layer *l);
int rnn_global_pool_layout(rnn_layout *c, rnn_layer *l);
/* The reference passes: the maximum (average 0) or the mean (1), over the layer's
 * windows (global: the whole sequence). */
size_t rnn_pool_forward(rnn_ref_layer *s, const rnn_ref_pass *p, int average, int global);
void rnn_pool_backward(rnn_ref_layer *s, const rnn_ref_pass *p, int average, int global);

#endif
