/*
 * conv1d.c — the Conv1D kind in the compiler: conv1d { filters, kernel_size, strides,
 * padding, dilation_rate = 1, activation = "linear", use_bias = true }, a convolution over
 * the steps (emit_conv.c) with the window rnn_layer_window places.
 * runtime/layers/conv1d.c is the reference.
 */
#include "kinds.h"

static const char *const activations[] = {"linear", "sigmoid", "tanh", "relu", "softmax", NULL};
static const char *const paddings[] = {"valid", "same", "causal", NULL};

static const rnnc_keyword keywords[] = {
    {"filters", KW_INT, KW_FIELD(units), 1, "filters is required, as in conv1d { 64, 3 }", NULL, 0},
    {"kernel_size", KW_INT, KW_FIELD(kernel_size), 2, "kernel_size is required, as in conv1d { 64, 3 }", NULL, 0},
    {"strides", KW_INT, KW_FIELD(strides), 3, NULL, NULL, 0},
    {"padding", KW_ENUM, KW_FIELD(padding), 4, NULL, paddings, 0},
    {"dilation_rate", KW_INT, KW_FIELD(dilation_rate), 0, NULL, NULL, 0},
    {"activation", KW_ENUM, KW_FIELD(activation), 0, NULL, activations, 0},
    {"use_bias", KW_BOOL, KW_FIELD(use_bias), 0, NULL, NULL, 0},
    {NULL, KW_INT, 0, 0, NULL, NULL, 0}};

static gen_conv_layer conv_of(const rnn_layer *ly) {
    const rnn_window w = rnn_layer_window(ly);
    gen_conv_layer L = {{w.out, w.padded, ly->in_features, ly->units, w.size, w.stride, w.dilation},
                        w.in, w.pad_left, ly->activation, ly->use_bias};
    return L;
}

static void plan_conv1d(plan *p, int i) {
    gen_conv_layer L = conv_of(&p->m->layers[i]);
    gen_conv_plan(p, i, &L);
}

static void emit_conv1d(emitter *e, int i) {
    const rnn_layer *ly = &e->m->layers[i];
    gen_conv_layer L = conv_of(ly);
    P("/* ---- %s (Conv1D): (%d, %d) -> (%d, %d), kernel_size %d, strides %d, padding \"%s\", dilation_rate %d, %s%s ----\n",
      ly->name, ly->timesteps, ly->in_features, ly->out_timesteps, ly->units, ly->kernel_size, ly->strides,
      rnn_padding_name(ly->padding), ly->dilation_rate, rnn_activation_name(ly->activation), ly->use_bias ? "" : ", no bias");
    P(" * y[t][o] = act(b[o] + Σ_j Σ_c x[t * %d + j * %d - %d][c] K[j][c][o]), x zero outside its %d steps */\n", L.c.stride,
      L.c.dilation, L.pad_left, L.in_steps);
    gen_conv_emit(e, i, &L);
}

const rnnc_kind rnnc_kind_conv1d = {.keywords = keywords, .plan = plan_conv1d, .emit = emit_conv1d};
