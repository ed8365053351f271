/*
 * bidirectional.c — the Bidirectional kind in the compiler: bidirectional { layer,
 * merge_mode }, layer a simple_rnn, lstm or gru constructor's result, whose options
 * become this layer's. Its two halves are the wrapped kind's cell in emit_recurrent.c's
 * directions (the same step functions and kernels, each half with its own weights,
 * state and masks; the backward half reads from the last step); this file merges their
 * outputs and splits the gradient back (runtime/layers/bidirectional.c is the
 * reference).
 */
#include "kinds.h"

#include <stdio.h>

static const char *const merge_modes[] = {"concat", "sum", "mul", "ave", "none", NULL};

static const rnnc_keyword keywords[] = {
    {"layer", KW_LAYER, KW_FIELD(wrapped), 1, "layer is required, as in bidirectional { lstm { 64 } }", NULL, 0},
    {"merge_mode", KW_ENUM, KW_FIELD(merge_mode), 0, NULL, merge_modes, 0},
    {NULL, KW_INT, 0, 0, NULL, NULL, 0}};

/* Output steps: T with return_sequences, else 1. */
static int steps(const rnn_layer *l) { return l->out_seq ? l->timesteps : 1; }

static void plan_bidirectional(plan *p, int i) {
    const rnn_layer *ly = &p->m->layers[i];
    size_t S = (size_t)steps(ly), U = (size_t)ly->units, T = (size_t)ly->timesteps, F = (size_t)ly->in_features;
    gen_dir d[2];
    gen_dirs(p, i, d);
    gen_recurrent_dir_plan(p, &d[0]);
    gen_recurrent_dir_plan(p, &d[1]);
    gen_recurrent_layer_plan(p, i);
    plan_add(p, S * (size_t)ly->out_features * W, 0, "output: the halves merged", "a%d", i);
    if (p->infer) return;
    plan_add(p, S * U * W, 0, "d loss / d the forward half's output", "%s", d[0].up);
    plan_add(p, S * U * W, 0, "d loss / d the backward half's output", "%s", d[1].up);
    plan_add(p, T * F * W, 0, "the backward half's part of d loss / d input", "%s", d[1].dx);
}

/* Where a half's last state is (without return_sequences): the step it read last. */
static void last_state(char *buf, size_t n, const rnn_layer *ly, const gen_dir *d) {
    snprintf(buf, n, "(size_t)%d * %d * W", d->reversed ? 0 : ly->timesteps - 1, ly->units);
}

/* The merge of the halves' states into the output, or of the output's gradient into the
 * halves' (backward), one output step t at a time. With return_sequences both halves'
 * states at output step t are those after reading x_t — or, wrapping a go_backwards
 * layer (Keras 2: the forward half reads from the last step and returns its states in
 * that order, the backward half's are flipped to match), after reading x_{T-1-t}. */
static void emit_merge(emitter *e, int i, const gen_dir *d, int backward) {
    const rnn_layer *ly = &e->m->layers[i];
    int U = ly->units, S = steps(ly), O = ly->out_features;
    size_t hn = plan_size(e->p, "h%s", d[0].tag);
    char f[64] = "0", b[64] = "0";
    if (!ly->out_seq) {
        last_state(f, sizeof f, ly, &d[0]);
        last_state(b, sizeof b, ly, &d[1]);
    }
    P("    const rnn_real *hf = w->h%s + (size_t)g * %zu + %s; /* the forward half's states%s */\n", d[0].tag, hn, f,
      ly->out_seq ? "" : ": its last");
    P("    const rnn_real *hb = w->h%s + (size_t)g * %zu + %s; /* the backward half's */\n", d[1].tag, hn, b);
    P("    %srnn_real *y = w->%s%d + (size_t)g * %d * W; /* the output%s */\n", backward ? "const " : "", backward ? "d" : "a", i,
      S * O, backward ? "'s gradient" : "");
    if (backward)
        P("    rnn_real *df = w->%s + (size_t)g * %d * W, *db = w->%s + (size_t)g * %d * W;\n", d[0].up, S * U, d[1].up, S * U);
    P("    (void)hf;\n    (void)hb;\n");
    /* with the embedding's mask and return_sequences, an output step whose input step is
     * padding is 0 (Keras's zero_output_for_mask), and so is its gradient to the halves */
    int zero = ly->out_seq && ly->mask_in;
    const char *vf = zero ? "(m[k % W] != 0 ? hf[s] : 0.0f)" : "hf[s]", *vb = zero ? "(m[k % W] != 0 ? hb[s] : 0.0f)" : "hb[s]";
    const char *g0 = zero ? "(m[k % W] != 0 ? y[o] : 0.0f)" : "y[o]";
    P("    for (int t = 0; t < %d; t++)%s\n", S, zero ? " {" : "");
    if (zero) {
        P("        rnn_real m[W]; /* mask_zero: 0 where the states' input step is padding */\n");
        char step[32];
        if (ly->go_backwards) snprintf(step, sizeof step, "(size_t)(%d - t)", S - 1);
        else snprintf(step, sizeof step, "(size_t)t");
        P("        for (int l = 0; l < W; l++) m[l] = w->base.tokens[((size_t)g * W + l) * %d + %s] != 0 ? 1.0f : 0.0f;\n",
          e->m->timesteps, step);
    }
    P("        for (int k = 0; k < %d * W; k++) {\n", U);
    if (ly->out_seq && ly->go_backwards)
        P("            const size_t o = (size_t)t * %d * W + (size_t)k, s = (size_t)(%d - t) * %d * W + (size_t)k;\n", O,
          S - 1, U);
    else P("            const size_t o = (size_t)t * %d * W + (size_t)k, s = (size_t)t * %d * W + (size_t)k;\n", O, U);
    switch (ly->merge_mode) {
    case RNN_MERGE_CONCAT:
        if (backward && zero) P("            df[s] = %s;\n            db[s] = m[k %% W] != 0 ? y[o + %d * W] : 0.0f;\n", g0, U);
        else if (backward) P("            df[s] = y[o];\n            db[s] = y[o + %d * W];\n", U);
        else P("            y[o] = %s;\n            y[o + %d * W] = %s;\n", vf, U, vb);
        break;
    case RNN_MERGE_SUM:
        if (backward) P("            df[s] = db[s] = %s;\n", g0);
        else P("            y[o] = %s + %s;\n", vf, vb);
        break;
    case RNN_MERGE_MUL:
        if (backward) P("            df[s] = %s * hb[s];\n            db[s] = %s * hf[s];\n", g0, g0);
        else P("            y[o] = %s * %s;\n", vf, vb);
        break;
    default:   /* ave: (y + yb) / 2 */
        if (backward) P("            df[s] = db[s] = %s / 2.0f;\n", g0);
        else P("            y[o] = (%s + %s) / 2.0f;\n", vf, vb);
        break;
    }
    P("        }\n%s", zero ? "    }\n" : "");
}

static void emit_bidirectional(emitter *e, int i) {
    const rnn_layer *ly = &e->m->layers[i];
    gen_dir d[2];
    gen_dirs(e->p, i, d);
    gen_recurrent_header(e, i);
    gen_recurrent_layer_functions(e, i, 0);
    gen_recurrent_dir_emit(e, &d[0], 0);
    gen_recurrent_dir_emit(e, &d[1], 0);
    P("/* %s: both halves over the same input, then merge_mode %s%s */\n", ly->name, rnn_merge_mode_name(ly->merge_mode),
      ly->out_seq ? " at each time t (the backward half's state at t is the one after reading x_t)" : " of their last states");
    P("static void forward_%d(workspace *w, const rnn_real *params, int g, const rnn_dropout_ctx *ctx) {\n", i);
    P("    forward_%s(w, params, g, ctx);\n    forward_%s(w, params, g, ctx);\n", d[0].tag, d[1].tag);
    emit_merge(e, i, d, 0);
    P("}\n\n");
    if (e->p->infer) return;
    gen_recurrent_layer_functions(e, i, 1);
    gen_recurrent_dir_emit(e, &d[0], 1);
    gen_recurrent_dir_emit(e, &d[1], 1);
    int T = ly->timesteps, F = ly->in_features;
    P("/* %s: the output's gradient split between the halves; d loss / d input is the sum of theirs */\n", ly->name);
    P("static void backward_%d(workspace *w, const rnn_real *params, int g) {\n", i);
    emit_merge(e, i, d, 1);
    P("    backward_%s(w, params, g);\n    backward_%s(w, params, g);\n", d[0].tag, d[1].tag);
    P("    rnn_real *dx = w->%s + (size_t)g * %d * W;\n", d[0].dx, T * F);
    P("    const rnn_real *dxb = w->%s + (size_t)g * %d * W;\n", d[1].dx, T * F);
    P("    for (int k = 0; k < %d * W; k++) dx[k] += dxb[k];\n}\n\n", T * F);
}

const rnnc_kind rnnc_kind_bidirectional = {keywords, plan_bidirectional, emit_bidirectional, NULL, gen_recurrent_kernel_shapes};
