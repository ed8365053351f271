/*
 * emit_conv.c — a layer computed as a convolution over the steps of a block (kinds.h,
 * gen_conv_layer): Conv1D, and Dense on a sequence or on a vector too large for
 * straight-line code. Its buffers, and its forward_i and backward_i around the products
 * of conv_kernels.c:
 *
 *   forward    [the input copied between zero steps] -> y = b + windows . K -> act(y)
 *   backward   dz = d loss / d y . act'(y) -> the bias's gradient (per lane), the
 *              kernel's (lanes summed, rnn_gemm.h) -> dx [from the padded copy's rows]
 *
 * After it a global max pooling passes back one step per filter and lane (plan.c,
 * plan_give_step_grad): the backward then works on those steps alone, T times less.
 */
#include "kinds.h"

#include <stdio.h>

/* The input is copied into a buffer with the padding's zero steps around it. */
static int padded(const gen_conv_layer *L) { return L->c.in_steps != L->in_steps || L->pad_left > 0; }

void gen_conv_plan(plan *p, int i, const gen_conv_layer *L) {
    const kir_conv *c = &L->c;
    const rnn_layer *ly = &p->m->layers[i];
    plan_add(p, (size_t)c->T * (size_t)c->O * W, 0, "output [T][O][W]", "a%d", i);
    if (padded(L)) plan_add(p, (size_t)c->in_steps * (size_t)c->C * W, 0, "the input between zero steps, then its gradient", "xp%d", i);
    if (p->infer) return;
    plan_lane_sum(p, ly->first_tensor + RNN_T_KERNEL);
    plan_add(p, WG_DT_FLOATS, 0, "the kernel gradient's transposed dz, a chunk of steps (rnn_gemm.h)", "wgd%d", i);
    plan_add(p, kir_conv_grad_sums(c), 0, "the kernel gradient's sums, a panel of columns (rnn_gemm.h)", "wgs%d", i);
    if (L->act != RNN_ACT_SOFTMAX)   /* (a softmax's derivative needs every filter of a step) */
        plan_can_take_step_grad(p, i, 2 * (size_t)c->k * (size_t)c->C * (size_t)c->O + (size_t)c->T + 1 + (size_t)c->O * W);
}

/* A relu is applied by the forward's tiles as they store (not as the output layer's). */
static int fused_relu(const emitter *e, int i, const gen_conv_layer *L) {
    return L->act == RNN_ACT_RELU && i < e->m->n_layers - 1;
}

/* K and B (NULL without a bias) of layer i, declared. */
static void print_weights(emitter *e, int i, const gen_conv_layer *L) {
    const rnn_tensor *K = plan_tensor(e->m, i, RNN_T_KERNEL);
    P("    const rnn_real *K = params + %zu; /* %s [%d, %d] */\n", K->offset, K->name, L->c.k * L->c.C, L->c.O);
    if (L->bias) {
        const rnn_tensor *B = plan_tensor(e->m, i, RNN_T_DENSE_BIAS);
        P("    const rnn_real *B = params + %zu; /* %s [%d] */\n", B->offset, B->name, L->c.O);
    } else {
        P("    const rnn_real *B = NULL; /* no bias (use_bias = false) */\n");
    }
}

static void emit_forward(emitter *e, int i, const gen_conv_layer *L, const char *in) {
    const kir_conv *c = &L->c;
    const int last = i == e->m->n_layers - 1;
    P("static void forward_%d(workspace *w, const rnn_real *params, int g, const rnn_dropout_ctx *ctx) {\n", i);
    P("    (void)ctx;\n");
    print_weights(e, i, L);
    P("    const rnn_real *x = %s; /* [%d][%d][W] */\n", in, L->in_steps, c->C);
    P("    rnn_real *y = w->a%d + (size_t)g * %zu;\n", i, plan_size(e->p, "a%d", i));
    if (padded(L)) {
        const size_t CW = (size_t)c->C * W, head = (size_t)L->pad_left * CW, body = (size_t)L->in_steps * CW;
        P("    rnn_real *xp = w->xp%d + (size_t)g * %zu; /* %d zero steps, the input, %d zero steps */\n", i,
          plan_size(e->p, "xp%d", i), L->pad_left, c->in_steps - L->pad_left - L->in_steps);
        P("    rnn_lanes_zero(xp, %zu);\n", head);
        P("    rnn_lanes_copy(xp + %zu, x, %zu);\n", head, body);
        P("    rnn_lanes_zero(xp + %zu, %zu);\n", head + body, (size_t)c->in_steps * CW - head - body);
        P("    x = xp;\n");
    }
    P("    conv_forward_%d(y, x, K, B);%s\n", i, fused_relu(e, i, L) ? " /* relu included */" : "");
    if (!last && !fused_relu(e, i, L)) gen_activation_forward(e, "y", c->T, c->O, L->act, "    ");
    P("}\n\n");
}

static void emit_backward(emitter *e, int i, const gen_conv_layer *L, const char *in) {
    const kir_conv *c = &L->c;
    const int last = i == e->m->n_layers - 1;
    const rnn_tensor *K = plan_tensor(e->m, i, RNN_T_KERNEL);
    P("static void backward_%d(workspace *w, const rnn_real *params, int g) {\n", i);
    P("    const rnn_real *K = params + %zu;\n", K->offset);
    if (padded(L)) P("    rnn_real *xp = w->xp%d + (size_t)g * %zu; /* the padded input, then its gradient */\n", i,
                     plan_size(e->p, "xp%d", i));
    else P("    const rnn_real *xp = %s;\n", in);
    P("    const rnn_real *y = w->a%d + (size_t)g * %zu;\n", i, plan_size(e->p, "a%d", i));
    P("    rnn_real *dz = w->d%d + (size_t)g * %zu; /* d loss / d output, made d loss / d pre-activation here */\n", i,
      plan_size(e->p, "d%d", i));
    P("    rnn_real *dx = w->d%d + (size_t)g * %zu;\n", i - 1, plan_size(e->p, "d%d", i - 1));
    P("    (void)y;\n");
    if (!last) gen_activation_backward(e, "dz", "y", c->T, c->O, L->act, "    ");
    if (L->bias) {
        const rnn_tensor *B = plan_tensor(e->m, i, RNN_T_DENSE_BIAS);
        P("    rnn_real *aB = w->base.acc + (size_t)g * LANE_LEN * W + %zu;\n", plan_acc_index(e->p, B->offset));
        P("    for (int t = 0; t < %d; t++)\n", c->T);
        P("        for (int k = 0; k < %d * W; k++) aB[k] += dz[(size_t)t * %d * W + (size_t)k];\n", c->O, c->O);
    }
    P("    rnn_real *sK = w->base.bsum + (size_t)g * ACC_LEN + %zu; /* its gradient, lanes summed */\n",
      plan_sum_index(e->p, K->offset));
    char dT[64], sums[64];
    snprintf(dT, sizeof dT, "w->wgd%d + (size_t)g * %zu", i, plan_size(e->p, "wgd%d", i));
    snprintf(sums, sizeof sums, "w->wgs%d + (size_t)g * %zu", i, plan_size(e->p, "wgs%d", i));
    kir_conv_kernel_grad(e, c, "sK", "xp", "dz", dT, sums, "    ");
    if (!padded(L)) {
        P("    conv_input_grad_%d(dx, dz, K);\n}\n\n", i);
        return;
    }
    P("    conv_input_grad_%d(xp, dz, K); /* over the padded steps, then the input's */\n", i);
    P("    rnn_lanes_copy(dx, xp + %zu, %zu);\n}\n\n", (size_t)L->pad_left * c->C * W, (size_t)L->in_steps * c->C * W);
}

/* A window's rows r < k * C of lane l at step t of p (the padded input or its gradient). */
static void window_loop(emitter *e, const kir_conv *c, const char *body) {
    if (c->dilation == 1) {
        P("        for (int r = 0; r < %d; r++) %s\n", c->k * c->C, body);
        return;
    }
    P("        for (int j = 0; j < %d; j++)\n", c->k);
    P("            for (int cc = 0; cc < %d; cc++) {\n", c->C);
    P("                const int r = j * %d + cc, rw = j * %d + cc;\n", c->C, c->dilation * c->C);
    P("                %s\n            }\n", body);
}

/* The backward from one step per filter and lane (gstep, gval of plan_give_step_grad):
 * the activation's derivative and the bias's gradient at those steps, then the kernel's
 * gradient and dx pair by pair, from K transposed (each filter's k * C weights in a row),
 * the (filter, lane) pairs in the order of their steps (a counting sort), so that the
 * pairs at a step find its window's cache lines loaded. Exact: the other steps' terms are
 * zeros, and so are those of the pairs whose d is 0 (after a relu, most). */
static void emit_backward_steps(emitter *e, int i, const gen_conv_layer *L, const char *in) {
    const kir_conv *c = &L->c;
    const int O = c->O, kC = c->k * c->C, last = i == e->m->n_layers - 1;
    const rnn_tensor *K = plan_tensor(e->m, i, RNN_T_KERNEL);
    char grad[64];
    P("static void backward_%d(workspace *w, const rnn_real *params, int g) {\n", i);
    P("    const rnn_real *K = params + %zu; /* [%d, %d] */\n", K->offset, kC, O);
    if (padded(L)) P("    rnn_real *xp = w->xp%d + (size_t)g * %zu; /* the padded input, then its gradient */\n", i,
                     plan_size(e->p, "xp%d", i));
    else P("    const rnn_real *xp = %s;\n", in);
    P("    const rnn_real *y = w->a%d + (size_t)g * %zu;\n", i, plan_size(e->p, "a%d", i));
    P("    const rnn_real *gstep = w->gstep%d + (size_t)g * %d * W;\n", i, O);
    P("    rnn_real *gval = w->gval%d + (size_t)g * %d * W; /* d loss / d output there, made d loss / d pre-activation */\n", i, O);
    P("    rnn_real *dx = w->d%d + (size_t)g * %zu;\n", i - 1, plan_size(e->p, "d%d", i - 1));
    P("    rnn_real *Kt = w->st%d + (size_t)g * %zu, *sKt = Kt + %d; /* K transposed [%d][%d], its gradient's sums */\n", i,
      plan_size(e->p, "st%d", i), O * kC, O, kC);
    P("    rnn_real *start = sKt + %d, *order = start + %d; /* where each step's pairs start; the pairs by step */\n", O * kC,
      c->T + 1);
    P("    for (int t = 0; t <= %d; t++) start[t] = 0.0f;\n", c->T);
    P("    rnn_real *sK = w->base.bsum + (size_t)g * ACC_LEN + %zu; /* K's gradient, lanes summed */\n",
      plan_sum_index(e->p, K->offset));
    if (L->bias) {
        const rnn_tensor *B = plan_tensor(e->m, i, RNN_T_DENSE_BIAS);
        P("    rnn_real *aB = w->base.acc + (size_t)g * LANE_LEN * W + %zu;\n", plan_acc_index(e->p, B->offset));
    }
    P("    for (int k = 0; k < %d * W; k++) { /* k = o * W + l */\n", O);
    if (!last && L->act != RNN_ACT_LINEAR) {
        P("        const rnn_real yk = y[(size_t)gstep[k] * %d * W + (size_t)k];\n", O);
        P("        gval[k] *= %s;\n", gen_act_grad(grad, sizeof grad, L->act, "yk"));
    } else {
        P("        (void)y;\n");
    }
    if (L->bias) P("        aB[k] += gval[k];\n");
    P("        if (gval[k] != 0.0f) start[(int)gstep[k] + 1] += 1.0f;\n");
    P("    }\n");
    P("    for (int t = 0; t < %d; t++) start[t + 1] += start[t];\n", c->T);
    P("    for (int k = 0; k < %d * W; k++)\n", O);
    P("        if (gval[k] != 0.0f) order[(int)start[(int)gstep[k]]++] = (rnn_real)k;\n");
    P("    const int pairs = (int)start[%d];\n", c->T);
    P("    for (int r = 0; r < %d; r++)\n        for (int o = 0; o < %d; o++) {\n", kC, O);
    P("            Kt[o * %d + r] = K[r * %d + o];\n            sKt[o * %d + r] = 0.0f;\n        }\n", kC, O, kC);
    P("    for (int q = 0; q < pairs; q++) { /* the kernel's gradient: each pair's window times its d */\n");
    P("        const int k = (int)order[q], o = k / W, l = k %% W;\n");
    P("        const rnn_real d = gval[k];\n");
    P("        const rnn_real *xw = xp + (size_t)gstep[k] * %d * W + (size_t)l;\n", c->stride * c->C);
    P("        rnn_real *s = sKt + o * %d;\n", kC);
    window_loop(e, c, c->dilation == 1 ? "s[r] += xw[r * W] * d;" : "s[r] += xw[rw * W] * d;");
    P("    }\n");
    P("    for (int r = 0; r < %d; r++)\n        for (int o = 0; o < %d; o++) sK[r * %d + o] += sKt[o * %d + r];\n", kC, O, O,
      kC);
    const char *dxp = padded(L) ? "xp" : "dx";
    P("    rnn_lanes_zero(%s, (size_t)%d * W);\n", dxp, c->in_steps * c->C);
    P("    for (int q = 0; q < pairs; q++) { /* dx: each pair's d times its filter's weights, into its window */\n");
    P("        const int k = (int)order[q], o = k / W, l = k %% W;\n");
    P("        const rnn_real d = gval[k];\n");
    P("        rnn_real *dw = %s + (size_t)gstep[k] * %d * W + (size_t)l;\n", dxp, c->stride * c->C);
    P("        const rnn_real *kt = Kt + o * %d;\n", kC);
    window_loop(e, c, c->dilation == 1 ? "dw[r * W] += kt[r] * d;" : "dw[rw * W] += kt[r] * d;");
    P("    }\n");
    if (padded(L)) P("    rnn_lanes_copy(dx, xp + %zu, %zu);\n", (size_t)L->pad_left * c->C * W, (size_t)L->in_steps * c->C * W);
    P("}\n\n");
}

void gen_conv_emit(emitter *e, int i, const gen_conv_layer *L) {
    char in[200], name[32];
    gen_out_ptr(in, sizeof in, e->p, i - 1);
    snprintf(name, sizeof name, "conv_forward_%d", i);
    kir_conv_forward_function(e, name, &L->c, L->bias, fused_relu(e, i, L) ? RNN_ACT_RELU : RNN_ACT_LINEAR);
    if (!e->p->infer && !plan_step_grad(e->p, i)) {
        snprintf(name, sizeof name, "conv_input_grad_%d", i);
        kir_conv_input_grad_function(e, name, &L->c);
    }
    emit_forward(e, i, L, in);
    if (e->p->infer) return;
    if (plan_step_grad(e->p, i)) emit_backward_steps(e, i, L, in);
    else emit_backward(e, i, L, in);
}
