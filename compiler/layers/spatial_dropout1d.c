/*
 * spatial_dropout1d.c — the SpatialDropout1D kind in the compiler: spatial_dropout1d
 * { rate }, y[t][f] = x[t][f] * mask[f] in training, one mask element per sample and
 * channel for every step; y = x otherwise. runtime/layers/spatial_dropout1d.c is the
 * reference.
 */
#include "kinds.h"

static const rnnc_keyword keywords[] = {
    {"rate", KW_NUMBER, KW_FIELD(dropout), 1, "rate is required, as in spatial_dropout1d { 0.2 }", NULL, 0},
    {NULL, KW_INT, 0, 0, NULL, NULL, 0}};

static void plan_spatial(plan *p, int i) {
    const rnn_layer *ly = &p->m->layers[i];
    plan_add(p, (size_t)ly->timesteps * (size_t)ly->in_features * W, 0, "output [T][F][W]", "a%d", i);
    if (!p->infer && ly->dropout > 0) plan_add(p, (size_t)ly->in_features * W, 0, "dropout mask [F][W]", "mask%d", i);
}

static void emit_spatial(emitter *e, int i) {
    const rnn_layer *ly = &e->m->layers[i];
    const int T = ly->timesteps, F = ly->in_features, drops = !e->p->infer && ly->dropout > 0;
    const size_t n = plan_size(e->p, "a%d", i);
    char in[200];
    gen_out_ptr(in, sizeof in, e->p, i - 1);
    P("/* ---- %s (SpatialDropout1D %g): (%d, %d), one mask element per (sample, channel) for every step ---- */\n", ly->name,
      ly->dropout, T, F);
    P("static void forward_%d(workspace *w, const rnn_real *params, int g, const rnn_dropout_ctx *ctx) {\n", i);
    P("    (void)params;\n    const rnn_real *x = %s;\n    rnn_real *y = w->a%d + (size_t)g * %zu;\n", in, i, n);
    if (!drops) {   /* inference, or rate 0: the identity */
        P("    (void)ctx;\n    rnn_lanes_copy(y, x, %zu);\n}\n\n", n);
    } else {
        P("    rnn_real *mask = w->mask%d + (size_t)g * %d * W;\n", i, F);
        P("    if (!w->base.training) {\n        rnn_lanes_copy(y, x, %zu);\n        return;\n    }\n", n);
        P("    rnn_gen_draw_mask(mask, ctx, RNN_RNG_DROPOUT, %d, 1, 0, %d, ", i, F);
        emit_double(e, ly->dropout);
        P(", w->base.rows + (size_t)g * W);\n");
        P("    for (int t = 0; t < %d; t++)\n", T);
        P("        for (int k = 0; k < %d * W; k++) y[(size_t)t * %d * W + (size_t)k] = x[(size_t)t * %d * W + (size_t)k] * mask[k];\n}\n\n",
          F, F, F);
    }
    if (e->p->infer) return;
    P("static void backward_%d(workspace *w, const rnn_real *params, int g) {\n", i);
    P("    (void)params;\n    const rnn_real *dy = w->d%d + (size_t)g * %zu;\n    rnn_real *dx = w->d%d + (size_t)g * %zu;\n", i, n,
      i - 1, n);
    if (!drops) {
        P("    rnn_lanes_copy(dx, dy, %zu);\n}\n\n", n);
        return;
    }
    P("    const rnn_real *mask = w->mask%d + (size_t)g * %d * W;\n", i, F);
    P("    for (int t = 0; t < %d; t++)\n", T);
    P("        for (int k = 0; k < %d * W; k++)\n", F);
    P("            dx[(size_t)t * %d * W + (size_t)k] = w->base.training ? dy[(size_t)t * %d * W + (size_t)k] * mask[k]\n", F, F);
    P("                                                                  : dy[(size_t)t * %d * W + (size_t)k];\n}\n\n", F);
}

const rnnc_kind rnnc_kind_spatial_dropout1d = {.keywords = keywords, .plan = plan_spatial, .emit = emit_spatial};
