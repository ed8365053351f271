/*
 * dropout.c — the Dropout kind in the compiler: dropout { rate }, y = x * mask in
 * training (a mask element per sample, step and feature), y = x otherwise.
 * runtime/layers/dropout.c is the reference.
 */
#include "kinds.h"

static const rnnc_keyword keywords[] = {
    {"rate", KW_NUMBER, KW_FIELD(dropout), 1, "rate is required, as in dropout { 0.3 }", NULL, 0},
    {NULL, KW_INT, 0, 0, NULL, NULL, 0}};

static size_t out_len(const rnn_layer *ly) { return (size_t)(ly->in_seq ? ly->timesteps : 1) * (size_t)ly->in_features * W; }

static void plan_dropout(plan *p, int i) {
    const rnn_layer *ly = &p->m->layers[i];
    plan_add(p, out_len(ly), 0, "output", "a%d", i);
    if (!p->infer && ly->dropout > 0) plan_add(p, out_len(ly), 0, "dropout mask", "mask%d", i);
}

static void emit_dropout(emitter *e, int i) {
    const rnn_layer *ly = &e->m->layers[i];
    int T = ly->timesteps, F = ly->in_features, seq = ly->in_seq;
    size_t n = out_len(ly);
    char in[200];
    gen_out_ptr(in, sizeof in, e->p, i - 1);
    P("/* ---- %s (Dropout %g): %s(%d), element-wise per (sample, %sfeature) ---- */\n", ly->name, ly->dropout,
      seq ? "sequence " : "", F, seq ? "timestep, " : "");
    P("static void forward_%d(workspace *w, const rnn_real *params, int g, const rnn_dropout_ctx *ctx) {\n", i);
    P("    (void)params;\n    const rnn_real *x = %s;\n", in);
    if (e->p->infer || ly->dropout == 0) {   /* inference, or rate 0: dropout is the identity */
        P("    (void)ctx;\n    rnn_real *y = w->a%d + (size_t)g * %zu;\n", i, n);
        if (e->p->infer) {   /* (a plain copy loop would become memcpy: a predictor calls nothing but libm) */
            P("    rnn_lanes_copy(y, x, %zu);\n}\n\n", n);
            return;
        }
        P("    for (size_t k = 0; k < %zu; k++) y[k] = x[k];\n}\n\n", n);
    } else {
        P("    rnn_real *y = w->a%d + (size_t)g * %zu, *mask = w->mask%d + (size_t)g * %zu;\n", i, n, i, n);
        P("    if (!w->base.training) {\n        for (size_t k = 0; k < %zu; k++) y[k] = x[k];\n        return;\n    }\n", n);
        P("    rnn_gen_draw_mask(mask, ctx, RNN_RNG_DROPOUT, %d, %d, %d, %d, ", i, seq ? T : 1, seq, F);
        emit_double(e, ly->dropout);
        P(", w->base.rows + (size_t)g * W);\n");
        P("    for (size_t k = 0; k < %zu; k++) y[k] = x[k] * mask[k];\n}\n\n", n);
    }
    P("static void backward_%d(workspace *w, const rnn_real *params, int g) {\n", i);
    P("    (void)params;\n");
    if (ly->dropout == 0) {
        P("    const rnn_real *dy = w->d%d + (size_t)g * %zu;\n    rnn_real *dx = w->d%d + (size_t)g * %zu;\n", i, n, i - 1, n);
        P("    for (size_t k = 0; k < %zu; k++) dx[k] = dy[k];\n}\n\n", n);
        return;
    }
    P("    const rnn_real *dy = w->d%d + (size_t)g * %zu, *mask = w->mask%d + (size_t)g * %zu;\n", i, n, i, n);
    P("    rnn_real *dx = w->d%d + (size_t)g * %zu;\n", i - 1, n);
    P("    for (size_t k = 0; k < %zu; k++) dx[k] = w->base.training ? dy[k] * mask[k] : dy[k];\n}\n\n", n);
}

const rnnc_kind rnnc_kind_dropout = {keywords, plan_dropout, emit_dropout, NULL, NULL};
