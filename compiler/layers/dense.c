/*
 * dense.c — the Dense kind in the compiler: dense { units, activation }, y = act(b + x.K)
 * on one vector per sample, or at every step of a sequence. The output layer leaves its
 * activation to the loss (its output is the logits). A small layer on a vector is
 * straight-line kernels (the kernel IR); on a sequence, or too large, it is a
 * convolution of kernel_size 1 over the steps (emit_conv.c). runtime/layers/dense.c is
 * the reference.
 */
#include "kinds.h"

#include <stdio.h>

static const char *const activations[] = {"linear", "sigmoid", "tanh", "relu", "softmax", NULL};

static const rnnc_keyword keywords[] = {
    {"units", KW_INT, KW_FIELD(units), 1, "units is required, as in dense { 1, activation = \"sigmoid\" }", NULL, 0},
    {"activation", KW_ENUM, KW_FIELD(activation), 2, NULL, activations, 0},
    {NULL, KW_INT, 0, 0, NULL, NULL, 0}};

/* From this many weights on, a layer on a vector has its gradient summed over the lanes
 * as a product (rnn_gemm.h) instead of W partial sums of every weight. */
#define OVER_STEPS_MIN 4096

static int over_steps(const rnn_layer *ly) { return ly->in_seq || (long)ly->in_features * ly->units >= OVER_STEPS_MIN; }

static gen_conv_layer conv_of(const rnn_layer *ly) {
    const int T = ly->in_seq ? ly->timesteps : 1;
    gen_conv_layer L = {{T, T, ly->in_features, ly->units, 1, 1, 1}, T, 0, ly->activation, 1};
    return L;
}

static void plan_dense(plan *p, int i) {
    const rnn_layer *ly = &p->m->layers[i];
    if (over_steps(ly)) {
        gen_conv_layer L = conv_of(ly);
        gen_conv_plan(p, i, &L);
        return;
    }
    plan_add(p, (size_t)ly->units * W, 0, "output", "a%d", i);
}

/* The kernel of forward_i / backward_i: x [F], y and dz [O], K [F, O], the accumulators. */
static void dense_kernel(kir *k, const rnn_layer *ly, const rnn_model *m, int i) {
    int F = ly->in_features, O = ly->units;
    kir_init(k);
    kir_lanes_decl(k, "x", F);
    kir_lanes_decl(k, "y", O);
    kir_lanes_decl(k, "dz", O);
    kir_lanes_decl(k, "dx", F);
    kir_lanes_decl(k, "aK", (int)plan_tensor(m, i, RNN_T_KERNEL)->size);
    kir_lanes_decl(k, "aB", O);
    kir_matrix_decl(k, "K", F, O);
}

static void emit_forward(emitter *e, int i, const char *in) {
    const rnn_layer *ly = &e->m->layers[i];
    int F = ly->in_features, O = ly->units, last = i == e->m->n_layers - 1;
    const rnn_tensor *K = plan_tensor(e->m, i, RNN_T_KERNEL), *B = plan_tensor(e->m, i, RNN_T_DENSE_BIAS);
    P("static void forward_%d(workspace *w, const rnn_real *params, int g, const rnn_dropout_ctx *ctx) {\n", i);
    P("    (void)ctx;\n");
    P("    const rnn_real *K = params + %zu; /* %s [%d, %d] */\n", K->offset, K->name, F, O);
    P("    const rnn_real *B = params + %zu; /* %s [%d] */\n", B->offset, B->name, O);
    P("    const rnn_real *x = %s;\n", in);
    P("    rnn_real *y = w->a%d + (size_t)g * %d * W;\n", i, O);
    kir k;
    dense_kernel(&k, ly, e->m, i);
    kir_term term = {"x", NULL, "K", F, 0, 0, 0, 0};
    kir_project(&k, "y", O, "B", &term, 1);
    if (!last && ly->activation == RNN_ACT_SOFTMAX)
        kir_code(&k,
                 "for (int l = 0; l < W; l++) {\n"
                 "    rnn_real mx = y[l], s = 0.0f;\n"
                 "    for (int o = 1; o < %d; o++) mx = y[o * W + l] > mx ? y[o * W + l] : mx;\n"
                 "    for (int o = 0; o < %d; o++) s += (y[o * W + l] = expf(y[o * W + l] - mx));\n"
                 "    for (int o = 0; o < %d; o++) y[o * W + l] /= s;\n"
                 "}",
                 O, O, O);
    else if (!last && ly->activation != RNN_ACT_LINEAR)
        kir_code(&k, "for (int k = 0; k < %d * W; k++) y[k] = %s(y[k]);", O, emit_act_fn(ly->activation));
    kir_print(e, &k, "    ");
    kir_free(&k);
    P("}\n\n");
}

static void emit_backward(emitter *e, int i, const char *in) {
    const rnn_model *m = e->m;
    const rnn_layer *ly = &m->layers[i];
    int F = ly->in_features, O = ly->units, last = i == m->n_layers - 1;
    const rnn_tensor *K = plan_tensor(m, i, RNN_T_KERNEL), *B = plan_tensor(m, i, RNN_T_DENSE_BIAS);
    P("static void backward_%d(workspace *w, const rnn_real *params, int g) {\n", i);
    P("    const rnn_real *K = params + %zu;\n", K->offset);
    P("    const rnn_real *x = %s;\n", in);
    P("    const rnn_real *y = w->a%d + (size_t)g * %d * W;\n", i, O);
    P("    rnn_real *dz = w->d%d + (size_t)g * %d * W; /* d loss / d output, made d loss / d pre-activation here */\n", i, O);
    P("    rnn_real *dx = w->d%d + (size_t)g * %d * W;\n", i - 1, F);
    P("    rnn_real *aK = w->base.acc + (size_t)g * LANE_LEN * W + %zu, *aB = w->base.acc + (size_t)g * LANE_LEN * W + %zu;\n",
      plan_acc_index(e->p, K->offset), plan_acc_index(e->p, B->offset));
    P("    (void)y;\n");
    kir k;
    dense_kernel(&k, ly, m, i);
    char grad[64];
    if (!last && ly->activation == RNN_ACT_SOFTMAX)
        kir_code(&k,
                 "for (int l = 0; l < W; l++) {\n"
                 "    rnn_real dot = 0.0f;\n"
                 "    for (int o = 0; o < %d; o++) dot += dz[o * W + l] * y[o * W + l];\n"
                 "    for (int o = 0; o < %d; o++) dz[o * W + l] = y[o * W + l] * (dz[o * W + l] - dot);\n"
                 "}",
                 O, O);
    else if (!last && ly->activation != RNN_ACT_LINEAR)
        kir_code(&k, "for (int k = 0; k < %d * W; k++) dz[k] *= %s;", O,
                 gen_act_grad(grad, sizeof grad, ly->activation, "y[k]"));
    kir_code(&k, "for (int k = 0; k < %d * W; k++) aB[k] += dz[k];", O);
    kir_back_product(&k, "dx", F, "dz", O, "K", 0, NULL);
    kir_outer_acc(&k, "aK", "x", NULL, F, "dz", O, O, 0);
    kir_print(e, &k, "    ");
    kir_free(&k);
    P("}\n\n");
}

static void emit_dense(emitter *e, int i) {
    const rnn_layer *ly = &e->m->layers[i];
    int last = i == e->m->n_layers - 1;
    char in[200];
    gen_out_ptr(in, sizeof in, e->p, i - 1);
    if (ly->in_seq)
        P("/* ---- %s (Dense): (%d, %d) -> (%d, %d), the kernel at every step, %s%s ---- */\n", ly->name, ly->timesteps,
          ly->in_features, ly->timesteps, ly->units, rnn_activation_name(ly->activation),
          last ? " (the output layer: logits here, the activation is applied with the loss)" : "");
    else
        P("/* ---- %s (Dense): (%d) -> (%d), %s%s ---- */\n", ly->name, ly->in_features, ly->units,
          rnn_activation_name(ly->activation),
          last ? " (the output layer: logits here, the activation is applied with the loss)" : "");
    if (over_steps(ly)) {
        gen_conv_layer L = conv_of(ly);
        gen_conv_emit(e, i, &L);
        return;
    }
    emit_forward(e, i, in);
    if (!e->p->infer) emit_backward(e, i, in);
}

/* y = b + x.K, then dx = dz.K^T and K += x^T dz */
static int kernel_shapes(const rnn_layer *l, rnnc_kernel_shape *k) {
    long F = l->in_features, O = l->units;
    if (over_steps(l)) return 0;   /* loops */
    k[0] = (rnnc_kernel_shape){F * O, F, O};
    k[1] = (rnnc_kernel_shape){F * O, O, F};
    k[2] = (rnnc_kernel_shape){F * O, F + O, F * O};
    return 3;
}

const rnnc_kind rnnc_kind_dense = {.keywords = keywords, .plan = plan_dense, .emit = emit_dense, .kernel_shapes = kernel_shapes};
