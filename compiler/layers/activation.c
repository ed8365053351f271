/*
 * activation.c — the Activation kind in the compiler: activation { "relu" }, y = act(x)
 * element-wise (softmax over the features of each step). As the output layer it copies
 * its input, the logits: the loss applies the sigmoid or softmax.
 * runtime/layers/activation.c is the reference.
 */
#include "kinds.h"

static const char *const activations[] = {"linear", "sigmoid", "tanh", "relu", "softmax", NULL};

static const rnnc_keyword keywords[] = {
    {"activation", KW_ENUM, KW_FIELD(activation), 1, "activation is required, as in activation { \"relu\" }", activations, 0},
    {NULL, KW_INT, 0, 0, NULL, NULL, 0}};

/* vectors of in_features: one per step, or one */
static int vectors(const rnn_layer *ly) { return ly->in_seq ? ly->timesteps : 1; }

static void plan_activation(plan *p, int i) {
    const rnn_layer *ly = &p->m->layers[i];
    plan_add(p, (size_t)vectors(ly) * (size_t)ly->in_features * W, 0, "output", "a%d", i);
}

static void emit_activation(emitter *e, int i) {
    const rnn_layer *ly = &e->m->layers[i];
    const int last = i == e->m->n_layers - 1, n = vectors(ly), F = ly->in_features;
    const rnn_activation act = last ? RNN_ACT_LINEAR : ly->activation;
    const size_t len = plan_size(e->p, "a%d", i);
    char in[200];
    gen_out_ptr(in, sizeof in, e->p, i - 1);
    P("/* ---- %s (Activation): %s", ly->name, rnn_activation_name(ly->activation));
    if (ly->in_seq) P(" on (%d, %d)", n, F);
    else P(" on (%d)", F);
    P("%s ---- */\n", last ? " (the output layer: logits here, the activation is applied with the loss)" : "");
    P("static void forward_%d(workspace *w, const rnn_real *params, int g, const rnn_dropout_ctx *ctx) {\n", i);
    P("    (void)params;\n    (void)ctx;\n    const rnn_real *x = %s;\n    rnn_real *y = w->a%d + (size_t)g * %zu;\n", in, i, len);
    P("    rnn_lanes_copy(y, x, %zu);\n", len);
    gen_activation_forward(e, "y", n, F, act, "    ");
    P("}\n\n");
    if (e->p->infer) return;
    P("static void backward_%d(workspace *w, const rnn_real *params, int g) {\n", i);
    P("    (void)params;\n    const rnn_real *y = w->a%d + (size_t)g * %zu, *dy = w->d%d + (size_t)g * %zu;\n", i, len, i, len);
    P("    rnn_real *dx = w->d%d + (size_t)g * %zu;\n    (void)y;\n", i - 1, len);
    P("    rnn_lanes_copy(dx, dy, %zu);\n", len);
    gen_activation_backward(e, "dx", "y", n, F, act, "    ");
    P("}\n\n");
}

const rnnc_kind rnnc_kind_activation = {.keywords = keywords, .plan = plan_activation, .emit = emit_activation};
