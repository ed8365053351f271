/*
 * emit_pool.c — what the pooling kinds' generated code shares (kinds.h, gen_pool_*): a
 * window's maximum or mean per channel and lane, the window's bounds computed per output
 * step; the global kinds' one window is the whole sequence. Going back, a mean spreads
 * its gradient over its steps; a maximum gives it to the first step of its window that
 * holds it, found again by comparing with the output (runtime/layers/pooling.c).
 */
#include "kinds.h"

static const char *const paddings[] = {"valid", "same", NULL};

const rnnc_keyword rnnc_pool_keywords[] = {
    {"pool_size", KW_INT, KW_FIELD(pool_size), 1, NULL, NULL, 0},
    {"strides", KW_INT, KW_FIELD(strides), 2, NULL, NULL, 1},
    {"padding", KW_ENUM, KW_FIELD(padding), 3, NULL, paddings, 0},
    {NULL, KW_INT, 0, 0, NULL, NULL, 0}};

/* The window of layer i: its own, or the whole sequence for a global kind. */
static rnn_window window_of(const rnn_layer *ly, int global) {
    if (!global) return rnn_layer_window(ly);
    rnn_window w = {ly->timesteps, ly->timesteps, 1, 0, ly->timesteps, 1, ly->timesteps};
    return w;
}

void gen_pool_plan(plan *p, int i, int average, int global) {
    const rnn_layer *ly = &p->m->layers[i];
    const rnn_window w = window_of(ly, global);
    plan_add(p, (size_t)w.out * (size_t)ly->in_features * W, 0, "output [T][C][W]", "a%d", i);
    /* a global maximum's gradient is one step per feature and lane: given so if the layer
     * before can take it (plan_give_step_grad) */
    if (!p->infer && !average && !(global && plan_give_step_grad(p, i - 1)))
        plan_add(p, (size_t)ly->in_features * W, 0, "1 where a window's maximum has taken the gradient", "taken%d", i);
}

/* The loop over the output steps with each window's input steps [u0, u1). */
static void window_loop(emitter *e, const rnn_window *w) {
    P("    for (int t = 0; t < %d; t++) {\n", w->out);
    P("        const int a = t * %d - %d, u0 = a < 0 ? 0 : a, u1 = a + %d < %d ? a + %d : %d;\n", w->stride, w->pad_left, w->size,
      w->in, w->size, w->in);
}

static void emit_forward(emitter *e, int i, const rnn_window *w, int average, const char *in) {
    const int CW = e->m->layers[i].in_features;
    P("static void forward_%d(workspace *w, const rnn_real *params, int g, const rnn_dropout_ctx *ctx) {\n", i);
    P("    (void)params;\n    (void)ctx;\n");
    P("    const rnn_real *x = %s; /* [%d][%d][W] */\n", in, w->in, CW);
    P("    rnn_real *y = w->a%d + (size_t)g * %zu;\n", i, plan_size(e->p, "a%d", i));
    window_loop(e, w);
    P("        rnn_real *yt = y + (size_t)t * %d * W;\n", CW);
    if (average) {
        P("        rnn_lanes_zero(yt, %d * W);\n", CW);
        P("        for (int u = u0; u < u1; u++)\n");
        P("            for (int k = 0; k < %d * W; k++) yt[k] += x[(size_t)u * %d * W + (size_t)k];\n", CW, CW);
        P("        for (int k = 0; k < %d * W; k++) yt[k] /= (rnn_real)(u1 - u0);\n", CW);
    } else {
        P("        rnn_lanes_copy(yt, x + (size_t)u0 * %d * W, %d * W);\n", CW, CW);
        P("        for (int u = u0 + 1; u < u1; u++)\n");
        P("            for (int k = 0; k < %d * W; k++) {\n", CW);
        P("                const rnn_real v = x[(size_t)u * %d * W + (size_t)k];\n", CW);
        P("                yt[k] = v > yt[k] ? v : yt[k];\n            }\n");
    }
    P("    }\n}\n\n");
}

static void emit_backward(emitter *e, int i, const rnn_window *w, int average, const char *in) {
    const int CW = e->m->layers[i].in_features;
    P("static void backward_%d(workspace *w, const rnn_real *params, int g) {\n", i);
    P("    (void)params;\n");
    P("    const rnn_real *x = %s, *y = w->a%d + (size_t)g * %zu, *dy = w->d%d + (size_t)g * %zu;\n", in, i,
      plan_size(e->p, "a%d", i), i, plan_size(e->p, "d%d", i));
    P("    rnn_real *dx = w->d%d + (size_t)g * %zu;\n", i - 1, plan_size(e->p, "d%d", i - 1));
    if (average) P("    (void)x;\n    (void)y;\n");
    else P("    rnn_real *taken = w->taken%d + (size_t)g * %zu;\n", i, plan_size(e->p, "taken%d", i));
    P("    rnn_lanes_zero(dx, (size_t)%d * W);\n", w->in * CW);
    window_loop(e, w);
    P("        const rnn_real *yt = y + (size_t)t * %d * W, *dyt = dy + (size_t)t * %d * W;\n", CW, CW);
    P("        (void)yt;\n");
    if (!average) P("        rnn_lanes_zero(taken, %d * W);\n", CW);
    P("        for (int u = u0; u < u1; u++) {\n");
    P("            rnn_real *dxu = dx + (size_t)u * %d * W;\n", CW);
    if (average) {
        P("            for (int k = 0; k < %d * W; k++) dxu[k] += dyt[k] / (rnn_real)(u1 - u0);\n", CW);
    } else {
        P("            const rnn_real *xu = x + (size_t)u * %d * W;\n", CW);
        P("            for (int k = 0; k < %d * W; k++) { /* the first step holding the maximum */\n", CW);
        P("                const int first = taken[k] == 0.0f && xu[k] == yt[k];\n");
        P("                dxu[k] += first ? dyt[k] : 0.0f;\n");
        P("                taken[k] = first ? 1.0f : taken[k];\n            }\n");
    }
    P("        }\n    }\n}\n\n");
}

/* A global maximum's backward giving its steps to the layer before (plan_give_step_grad):
 * the first step holding each maximum (the steps scanned from the last, so the first
 * match is written last), and d loss / d maximum. */
static void emit_backward_steps(emitter *e, int i, const rnn_window *w, const char *in) {
    const int CW = e->m->layers[i].in_features;
    P("static void backward_%d(workspace *w, const rnn_real *params, int g) {\n", i);
    P("    (void)params;\n");
    P("    const rnn_real *x = %s, *y = w->a%d + (size_t)g * %zu, *dy = w->d%d + (size_t)g * %zu;\n", in, i,
      plan_size(e->p, "a%d", i), i, plan_size(e->p, "d%d", i));
    P("    rnn_real *gstep = w->gstep%d + (size_t)g * %d * W, *gval = w->gval%d + (size_t)g * %d * W;\n", i - 1, CW, i - 1, CW);
    P("    rnn_lanes_copy(gval, dy, %d * W);\n", CW);
    P("    for (int t = %d; t >= 0; t--)\n", w->in - 1);
    P("        for (int k = 0; k < %d * W; k++) gstep[k] = x[(size_t)t * %d * W + (size_t)k] == y[k] ? (rnn_real)t : gstep[k];\n}\n\n",
      CW, CW);
}

/* GlobalAveragePooling1D with the embedding's mask (mask_zero): the mean over the steps
 * that are not padding, n[l] of them in lane l (a lane of padding gives 0, see
 * runtime/layers/global_average_pooling1d.c); going back, dy / n to those steps. */
static void emit_masked_mean(emitter *e, int i, const char *in, int backward) {
    const int T = e->m->layers[i].timesteps, CW = e->m->layers[i].in_features;
    if (backward) {
        P("static void backward_%d(workspace *w, const rnn_real *params, int g) {\n", i);
        P("    (void)params;\n");
        P("    const rnn_real *dy = w->d%d + (size_t)g * %zu;\n", i, plan_size(e->p, "d%d", i));
        P("    rnn_real *dx = w->d%d + (size_t)g * %zu;\n", i - 1, plan_size(e->p, "d%d", i - 1));
    } else {
        P("static void forward_%d(workspace *w, const rnn_real *params, int g, const rnn_dropout_ctx *ctx) {\n", i);
        P("    (void)params;\n    (void)ctx;\n");
        P("    const rnn_real *x = %s; /* [%d][%d][W] */\n", in, T, CW);
        P("    rnn_real *y = w->a%d + (size_t)g * %zu;\n", i, plan_size(e->p, "a%d", i));
        P("    rnn_lanes_zero(y, %d * W);\n", CW);
    }
    P("    const int32_t *ids = w->base.tokens + (size_t)g * W * %d;\n", e->m->timesteps);
    P("    rnn_real n[W]; /* the steps that are not padding */\n");
    P("    for (int l = 0; l < W; l++) {\n        n[l] = 0.0f;\n");
    P("        for (int t = 0; t < %d; t++) n[l] += ids[(size_t)l * %d + (size_t)t] != 0 ? 1.0f : 0.0f;\n", T, e->m->timesteps);
    P("        n[l] = n[l] > 0.0f ? n[l] : 1.0f;\n    }\n");
    P("    for (int t = 0; t < %d; t++) {\n", T);
    P("        rnn_real m[W];\n");
    P("        for (int l = 0; l < W; l++) m[l] = ids[(size_t)l * %d + (size_t)t] != 0 ? 1.0f : 0.0f;\n", e->m->timesteps);
    P("        for (int c = 0; c < %d; c++)\n            for (int l = 0; l < W; l++) {\n", CW);
    P("                const size_t k = ((size_t)t * %d + (size_t)c) * W + (size_t)l;\n", CW);
    if (backward) P("                dx[k] = m[l] != 0 ? dy[(size_t)c * W + (size_t)l] / n[l] : 0.0f;\n");
    else P("                y[(size_t)c * W + (size_t)l] += m[l] != 0 ? x[k] : 0.0f;\n");
    P("            }\n    }\n");
    if (!backward)
        P("    for (int c = 0; c < %d; c++)\n        for (int l = 0; l < W; l++) y[(size_t)c * W + (size_t)l] /= n[l];\n", CW);
    P("}\n\n");
}

void gen_pool_emit(emitter *e, int i, int average, int global) {
    const rnn_layer *ly = &e->m->layers[i];
    const rnn_window w = window_of(ly, global);
    char in[200];
    gen_out_ptr(in, sizeof in, e->p, i - 1);
    P("/* ---- %s (%s): (%d, %d) -> ", ly->name, rnn_layer_class_name(ly->kind), w.in, ly->in_features);
    if (global) P("(%d), the %s over all the steps ---- */\n", ly->in_features, average ? "mean" : "maximum");
    else
        P("(%d, %d), the %s of windows of %d steps every %d, padding \"%s\" ---- */\n", w.out, ly->in_features,
          average ? "mean" : "maximum", w.size, w.stride, rnn_padding_name(ly->padding));
    if (ly->mask_in) {   /* the layout lets only the global mean take a mask */
        GEN_ASSERT(average && global, "layer %s: a pooling layer with a mask", ly->name);
        emit_masked_mean(e, i, in, 0);
        if (!e->p->infer) emit_masked_mean(e, i, in, 1);
        return;
    }
    emit_forward(e, i, &w, average, in);
    if (e->p->infer) return;
    if (plan_step_grad(e->p, i - 1)) emit_backward_steps(e, i, &w, in);
    else emit_backward(e, i, &w, average, in);
}
