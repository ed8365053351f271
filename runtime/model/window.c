/*
 * window.c — where a convolution's or a pooling layer's windows lie (rnn_layer_window):
 * TensorFlow's output lengths and padding, which Keras's Conv1D and pooling layers use
 * (docs/keras-semantics.md, Conv1D and Pooling).
 */
#include "rnn_arch.h"

rnn_window rnn_layer_window(const rnn_layer *l) {
    rnn_window w = {0, 0, 1, 0, l->timesteps, 0, l->timesteps};
    w.size = l->kernel_size > 0 ? l->kernel_size : l->pool_size;   /* a conv1d's, else a pooling layer's */
    w.stride = l->strides > 0 ? l->strides : w.size;                /* pooling: strides default to pool_size */
    w.dilation = l->dilation_rate > 0 ? l->dilation_rate : 1;
    const long span = (long)(w.size - 1) * w.dilation + 1, in = l->timesteps;
    switch (l->padding) {
    case RNN_PADDING_SAME: {   /* ceil(in / stride) windows, the padding split with the odd step after */
        w.out = (int)((in + w.stride - 1) / w.stride);
        long total = (long)(w.out - 1) * w.stride + span - in;
        if (total < 0) total = 0;
        w.pad_left = (int)(total / 2);
        w.padded = (int)(in + total);
        break;
    }
    case RNN_PADDING_CAUSAL:   /* the span less one step of zeros before: output t sees inputs up to t */
        w.pad_left = (int)(span - 1);
        w.out = (int)((in + w.stride - 1) / w.stride);
        w.padded = (int)(in + span - 1);
        break;
    default:                   /* valid: whole windows inside the sequence */
        w.out = in >= span ? (int)((in - span) / w.stride + 1) : 0;
        break;
    }
    return w;
}
