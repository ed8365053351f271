/*
 * flatten.c — the Flatten kind in the compiler: flatten { }, a sequence [T][F][W] becomes
 * the vector [T * F][W], the same floats in the same order (a copy).
 * runtime/layers/flatten.c is the reference.
 */
#include "kinds.h"

static const rnnc_keyword keywords[] = {{NULL, KW_INT, 0, 0, NULL, NULL, 0}};

static void plan_flatten(plan *p, int i) {
    plan_add(p, (size_t)p->m->layers[i].out_features * W, 0, "output [T * F][W]", "a%d", i);
}

static void emit_flatten(emitter *e, int i) {
    const rnn_layer *ly = &e->m->layers[i];
    const size_t n = plan_size(e->p, "a%d", i);
    char in[200];
    gen_out_ptr(in, sizeof in, e->p, i - 1);
    if (ly->in_seq) P("/* ---- %s (Flatten): (%d, %d) -> (%d) ---- */\n", ly->name, ly->timesteps, ly->in_features, ly->out_features);
    else P("/* ---- %s (Flatten): (%d) -> (%d) ---- */\n", ly->name, ly->in_features, ly->out_features);
    P("static void forward_%d(workspace *w, const rnn_real *params, int g, const rnn_dropout_ctx *ctx) {\n", i);
    P("    (void)params;\n    (void)ctx;\n    const rnn_real *x = %s;\n    rnn_real *y = w->a%d + (size_t)g * %zu;\n", in, i, n);
    P("    rnn_lanes_copy(y, x, %zu);\n}\n\n", n);
    if (e->p->infer) return;
    P("static void backward_%d(workspace *w, const rnn_real *params, int g) {\n", i);
    P("    (void)params;\n    const rnn_real *dy = w->d%d + (size_t)g * %zu;\n    rnn_real *dx = w->d%d + (size_t)g * %zu;\n", i, n,
      i - 1, n);
    P("    rnn_lanes_copy(dx, dy, %zu);\n}\n\n", n);
}

const rnnc_kind rnnc_kind_flatten = {.keywords = keywords, .plan = plan_flatten, .emit = emit_flatten};
