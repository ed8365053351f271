/*
 * keras_kinds.c — every layer kind's Keras config keys (see keras_kinds.h), from
 * Keras 2's get_config (keras/layers/...), Keras 3's (keras/src/layers/...) and
 * tfjs-layers' (docs/keras-semantics.md, "Interop"). Keys a version does not write are
 * simply absent from its JSON.
 */
#include "interop/keras_kinds.h"

#include <string.h>


const rnn_keras_key rnn_keras_common_keys[] = {
    {"name", KK_IGNORED, NULL, 1},
    {"trainable", KK_FIXED, "true", 1},   /* rnnc trains every layer */
    {"dtype", KK_DTYPE, NULL, 1},
    {"batch_input_shape", KK_IGNORED, NULL, 0},   /* Keras 2, TF.js: the first layer's input */
    {"batch_shape", KK_IGNORED, NULL, 0},         /* Keras 3 */
    {"input_shape", KK_IGNORED, NULL, 0},
    {NULL, KK_IGNORED, NULL, 0}};

static const rnn_keras_key embedding_keys[] = {
    {"input_dim", KK_OPTION, "input_dim", 1},
    {"output_dim", KK_OPTION, "units", 1},
    {"embeddings_initializer", KK_INIT, "random_uniform", 1},
    {"embeddings_regularizer", KK_FIXED, "null", 1},
    {"activity_regularizer", KK_FIXED, "null", 1},
    {"embeddings_constraint", KK_FIXED, "null", 1},
    {"mask_zero", KK_OPTION, "mask_zero", 1},
    {"input_length", KK_OPTION, "input_length", 1},
    {"sparse", KK_FIXED, "false", 0},
    {"quantization_config", KK_FIXED, "null", 0},
    {"lora_rank", KK_FIXED, "null", 0},
    {"lora_alpha", KK_FIXED, "null", 0},
    {NULL, KK_IGNORED, NULL, 0}};

/* What the three recurrent kinds share, in Keras 2's order: RNN.get_config's keys
 * first, then the cell's. */
#define RNN_BASE_KEYS                                                                      \
    {"return_sequences", KK_OPTION, "return_sequences", 1}, {"return_state", KK_FIXED, "false", 1}, \
        {"go_backwards", KK_OPTION, "go_backwards", 1}, {"stateful", KK_FIXED, "false", 1},        \
        {"unroll", KK_IGNORED, "false", 1}, {"time_major", KK_FIXED, "false", 1},             \
        {"zero_output_for_mask", KK_IGNORED, NULL, 0}
#define RNN_CELL_KEYS_HEAD                                                                 \
    {"units", KK_OPTION, "units", 1}
#define RNN_CELL_WEIGHT_KEYS                                                               \
    {"use_bias", KK_FIXED, "true", 1}, {"kernel_initializer", KK_INIT, "glorot_uniform", 1}, \
        {"recurrent_initializer", KK_INIT, "orthogonal", 1}, {"bias_initializer", KK_INIT, "zeros", 1}
#define RNN_CELL_TAIL_KEYS                                                                 \
    {"kernel_regularizer", KK_FIXED, "null", 1}, {"recurrent_regularizer", KK_FIXED, "null", 1}, \
        {"bias_regularizer", KK_FIXED, "null", 1}, {"activity_regularizer", KK_FIXED, "null", 1}, \
        {"kernel_constraint", KK_FIXED, "null", 1}, {"recurrent_constraint", KK_FIXED, "null", 1}, \
        {"bias_constraint", KK_FIXED, "null", 1}, {"dropout", KK_OPTION, "dropout", 1},    \
        {"recurrent_dropout", KK_OPTION, "recurrent_dropout", 1}, {"seed", KK_IGNORED, NULL, 0}

static const rnn_keras_key simple_rnn_keys[] = {
    RNN_BASE_KEYS, RNN_CELL_KEYS_HEAD, {"activation", KK_OPTION, "activation", 1}, RNN_CELL_WEIGHT_KEYS,
    RNN_CELL_TAIL_KEYS, {NULL, KK_IGNORED, NULL, 0}};

static const rnn_keras_key lstm_keys[] = {
    RNN_BASE_KEYS, RNN_CELL_KEYS_HEAD, {"activation", KK_FIXED, "\"tanh\"", 1},
    {"recurrent_activation", KK_FIXED, "\"sigmoid\"", 1}, RNN_CELL_WEIGHT_KEYS,
    {"unit_forget_bias", KK_OPTION, "unit_forget_bias", 1}, RNN_CELL_TAIL_KEYS,
    {"implementation", KK_IGNORED, "2", 1},   /* 1 and 2 compute the same step */
    {"use_cudnn", KK_IGNORED, NULL, 0}, {NULL, KK_IGNORED, NULL, 0}};

static const rnn_keras_key gru_keys[] = {
    RNN_BASE_KEYS, RNN_CELL_KEYS_HEAD, {"activation", KK_FIXED, "\"tanh\"", 1},
    {"recurrent_activation", KK_FIXED, "\"sigmoid\"", 1}, RNN_CELL_WEIGHT_KEYS, RNN_CELL_TAIL_KEYS,
    {"implementation", KK_IGNORED, "2", 1}, {"reset_after", KK_OPTION, "reset_after", 1},
    {"use_cudnn", KK_IGNORED, NULL, 0}, {NULL, KK_IGNORED, NULL, 0}};

/* A kernel and a bias, with Keras's default initializers and nothing else on them
 * (Dense, Conv1D). */
#define KERNEL_BIAS_KEYS                                                                       \
    {"kernel_initializer", KK_INIT, "glorot_uniform", 1}, {"bias_initializer", KK_INIT, "zeros", 1},   \
        {"kernel_regularizer", KK_FIXED, "null", 1}, {"bias_regularizer", KK_FIXED, "null", 1},     \
        {"activity_regularizer", KK_FIXED, "null", 1}, {"kernel_constraint", KK_FIXED, "null", 1},  \
        {"bias_constraint", KK_FIXED, "null", 1}, {"lora_rank", KK_FIXED, "null", 0},               \
        {"lora_alpha", KK_FIXED, "null", 0}, {"quantization_config", KK_FIXED, "null", 0}

static const rnn_keras_key dense_keys[] = {
    {"units", KK_OPTION, "units", 1},
    {"activation", KK_OPTION, "activation", 1},
    {"use_bias", KK_FIXED, "true", 1},
    KERNEL_BIAS_KEYS,
    {NULL, KK_IGNORED, NULL, 0}};

static const rnn_keras_key dropout_keys[] = {
    {"rate", KK_OPTION, "dropout", 1},
    {"noise_shape", KK_FIXED, "null", 1},
    {"seed", KK_IGNORED, "null", 1},
    {NULL, KK_IGNORED, NULL, 0}};

static const rnn_keras_key conv1d_keys[] = {
    {"filters", KK_OPTION, "units", 1},
    {"kernel_size", KK_TUPLE, "kernel_size", 1},
    {"strides", KK_TUPLE, "strides", 1},
    {"padding", KK_OPTION, "padding", 1},
    {"data_format", KK_FIXED, "\"channels_last\"", 1},
    {"dilation_rate", KK_TUPLE, "dilation_rate", 1},
    {"groups", KK_FIXED, "1", 1},
    {"activation", KK_OPTION, "activation", 1},
    {"use_bias", KK_OPTION, "use_bias", 1},
    KERNEL_BIAS_KEYS,
    {NULL, KK_IGNORED, NULL, 0}};

/* MaxPooling1D, AveragePooling1D (Keras 2's Pooling1D.get_config order) */
static const rnn_keras_key pooling_keys[] = {
    {"strides", KK_TUPLE, "strides", 1},
    {"pool_size", KK_TUPLE, "pool_size", 1},
    {"padding", KK_OPTION, "padding", 1},
    {"data_format", KK_FIXED, "\"channels_last\"", 1},
    {NULL, KK_IGNORED, NULL, 0}};

static const rnn_keras_key global_pooling_keys[] = {
    {"data_format", KK_FIXED, "\"channels_last\"", 1},
    {"keepdims", KK_FIXED, "false", 1},
    {NULL, KK_IGNORED, NULL, 0}};

static const rnn_keras_key flatten_keys[] = {
    {"data_format", KK_FIXED, "\"channels_last\"|null", 1},
    {NULL, KK_IGNORED, NULL, 0}};

static const rnn_keras_key activation_keys[] = {
    {"activation", KK_OPTION, "activation", 1},
    {NULL, KK_IGNORED, NULL, 0}};

/* Keras 2's Bidirectional.get_config (keras/layers/rnn/bidirectional.py): Wrapper's
 * "layer" (the wrapped layer's config, under its own name), then "merge_mode"; tfjs-layers'
 * Bidirectional.getConfig writes the same keys. Keras 3 adds "backward_layer" (the
 * backward half's config: keras_read.c checks it is the mirror of "layer"). */
static const rnn_keras_key bidirectional_keys[] = {
    {"layer", KK_LAYER, NULL, 1},
    {"merge_mode", KK_OPTION, "merge_mode", 1},
    {"backward_layer", KK_LAYER, "backward", 0},
    {NULL, KK_IGNORED, NULL, 0}};

static const rnn_keras_kind k_embedding = {embedding_keys, 0, NULL};
static const rnn_keras_kind k_simple_rnn = {simple_rnn_keys, 0, "simple_rnn_cell"};
static const rnn_keras_kind k_lstm = {lstm_keys, 1, "lstm_cell"};
static const rnn_keras_kind k_gru = {gru_keys, 1, "gru_cell"};
static const rnn_keras_kind k_dense = {dense_keys, 0, NULL};
static const rnn_keras_kind k_dropout = {dropout_keys, 0, NULL};
static const rnn_keras_kind k_conv1d = {conv1d_keys, 0, NULL};
static const rnn_keras_kind k_pooling = {pooling_keys, 0, NULL};
static const rnn_keras_kind k_global_pooling = {global_pooling_keys, 0, NULL};
static const rnn_keras_kind k_flatten = {flatten_keys, 0, NULL};
static const rnn_keras_kind k_activation = {activation_keys, 0, NULL};
static const rnn_keras_kind k_bidirectional = {bidirectional_keys, 0, NULL};   /* cell: the wrapped kind's */

/* A kind registered in RNN_LAYER_KINDS gets its line here when it has a Keras form. */
static const rnn_keras_kind *const kinds[RNN_LAYER_KIND_COUNT] = {
    [RNN_LAYER_EMBEDDING] = &k_embedding, [RNN_LAYER_SIMPLE_RNN] = &k_simple_rnn,
    [RNN_LAYER_LSTM] = &k_lstm,           [RNN_LAYER_GRU] = &k_gru,
    [RNN_LAYER_DENSE] = &k_dense,         [RNN_LAYER_DROPOUT] = &k_dropout,
    [RNN_LAYER_CONV1D] = &k_conv1d,       [RNN_LAYER_MAX_POOLING1D] = &k_pooling,
    [RNN_LAYER_AVERAGE_POOLING1D] = &k_pooling,
    [RNN_LAYER_GLOBAL_MAX_POOLING1D] = &k_global_pooling,
    [RNN_LAYER_GLOBAL_AVERAGE_POOLING1D] = &k_global_pooling,
    [RNN_LAYER_FLATTEN] = &k_flatten,     [RNN_LAYER_ACTIVATION] = &k_activation,
    [RNN_LAYER_SPATIAL_DROPOUT1D] = &k_dropout,
    [RNN_LAYER_BIDIRECTIONAL] = &k_bidirectional,
};

const rnn_keras_kind *rnn_keras_kind_of(rnn_layer_kind k) {
    return (unsigned)k < RNN_LAYER_KIND_COUNT ? kinds[k] : NULL;
}

int rnn_keras_kind_by_class(const char *cls) {
    for (int k = 0; k < RNN_LAYER_KIND_COUNT; k++)
        if (strcmp(rnn_layer_class_name((rnn_layer_kind)k), cls) == 0) return k;
    return -1;
}
