/*
 * lstm.c — the LSTM kind in the compiler: lstm { units, dropout, recurrent_dropout,
 * return_sequences, unit_forget_bias, dropout_mask }, and its cell
 *   z = b + x_t.K + h_{t-1}.R (columns i | f | c | o)
 *   i, f, o = sigmoid; g = tanh; c_t = f c_{t-1} + i g; h_t = o tanh(c_t)
 * (runtime/layers/lstm.c is the reference).
 */
#include "kinds.h"

static const rnnc_keyword keywords[] = {
    RNNC_RECURRENT_KEYWORDS("lstm { 8 }"),
    {"unit_forget_bias", KW_BOOL, KW_FIELD(unit_forget_bias), 0, NULL, NULL, 0},
    {"dropout_mask", KW_ENUM, KW_FIELD(dropout_mask), 0, NULL, rnnc_dropout_mask_names, 0},
    {NULL, KW_INT, 0, 0, NULL, NULL, 0}};

static void buffers(plan *p, int i, const char *tag) {
    const rnn_layer *ly = &p->m->layers[i];
    size_t T = (size_t)ly->timesteps, U = (size_t)ly->units;
    plan_add(p, T * U * W, 0, "cell states [T][U][W]", "c%s", tag);
    plan_add(p, T * U * W, 0, "tanh of the cell states [T][U][W], for the backward pass", "tc%s", tag);
    plan_add(p, T * 4 * U * W, 0, "gate activations [T][G*U][W]", "gates%s", tag);
}

static void state_pointers(emitter *e, int i, const char *tag, int backward) {
    (void)backward;
    const rnn_layer *ly = &e->m->layers[i];
    size_t T = (size_t)ly->timesteps, U = (size_t)ly->units;
    P("    rnn_real *c = w->c%s + (size_t)g * %zu;\n", tag, T * U * W);
    P("    rnn_real *tc = w->tc%s + (size_t)g * %zu;\n", tag, T * U * W);
    P("    rnn_real *gates = w->gates%s + (size_t)g * %zu;\n", tag, T * 4 * U * W);
}

static int operands(const plan *p, int i, int backward, step_operand *ops) {
    const rnn_layer *ly = &p->m->layers[i];
    int n = gen_step_inputs(p, i, backward, SO_XK, 0, ops);
    if (!backward) ops[n++] = SO_HP;
    ops[n++] = SO_CP;
    ops[n++] = SO_GT;
    if (!backward) ops[n++] = SO_CT;   /* going back, tanh(c_t) is all that is needed */
    ops[n++] = SO_TCT;
    if (!backward) ops[n++] = SO_HT;
    if (ly->recurrent_dropout > 0) ops[n++] = SO_RMASK;
    if (!backward) return n;
    n += gen_step_gradients(p, i, ops + n);
    ops[n++] = SO_DCN;
    if (!plan_folded(p, i)) ops[n++] = SO_AB;
    return n;
}

static void forward_step(const plan *p, int i, kir *k) {
    const rnn_layer *ly = &p->m->layers[i];
    int F = ly->in_features, U = ly->units, G = 4 * U;
    kir_code(k, "/* z = b + x_t.K + h_{t-1}.R, columns i | f | c | o */");
    kir_term terms[2] = {{"xt", NULL, "K", F, 0, 0, 0, 0}, {"hp", gen_rmask(ly), "R", U, 0, 0, 0, 0}};
    if (plan_projected(p, i)) kir_project(k, "gt", G, "@xk", terms + 1, 1);   /* xk = b + x_t.K, made before */
    else kir_project(k, "gt", G, "B", terms, 2);
    /* one loop per function over whole gates: the activations of a step are independent,
     * and this way the compiler lays their vectors side by side */
    kir_code(k, "/* the gates: i | f sigmoid, c tanh, o sigmoid; then the cell */");
    kir_code(k, "for (int k = 0; k < %d * W; k++) gt[k] = rnn_fast_sigmoidf(gt[k]);", 2 * U);
    kir_code(k, "for (int k = %d * W; k < %d * W; k++) gt[k] = rnn_fast_tanhf(gt[k]);", 2 * U, 3 * U);
    kir_code(k, "for (int k = %d * W; k < %d * W; k++) gt[k] = rnn_fast_sigmoidf(gt[k]);", 3 * U, 4 * U);
    kir_code(k,
             "for (int k = 0; k < %d * W; k++) {\n"
             "    const rnn_real cn = gt[%d * W + k] * cp[k] + gt[k] * gt[%d * W + k]; /* f c_{t-1} + i g */\n"
             "    const rnn_real tcn = rnn_fast_tanhf(cn);\n"
             "    ct[k] = cn;\n"
             "    tct[k] = tcn;\n"
             "    ht[k] = gt[%d * W + k] * tcn;\n"
             "}",
             U, U, 2 * U, 3 * U);
}

static void backward_step(const plan *p, int i, kir *k) {
    const rnn_layer *ly = &p->m->layers[i];
    int F = ly->in_features, U = ly->units, G = 4 * U;
    kir_code(k,
             "for (int u = 0; u < %d; u++)\n"
             "    for (int l = 0; l < W; l++) {\n"
             "        const rnn_real dh = dhn[u * W + l] + up[u * W + l];\n"
             "        const rnn_real ig = gt[u * W + l], fg = gt[(%d + u) * W + l];\n"
             "        const rnn_real cg = gt[(%d + u) * W + l], og = gt[(%d + u) * W + l];\n"
             "        const rnn_real tc = tct[u * W + l]; /* tanh(c_t), kept by the forward pass */\n"
             "        const rnn_real dc = dcn[u * W + l] + dh * og * (1.0f - tc * tc);\n"
             "        dz[u * W + l] = dc * cg * ig * (1.0f - ig);\n"
             "        dz[(%d + u) * W + l] = dc * cp[u * W + l] * fg * (1.0f - fg);\n"
             "        dz[(%d + u) * W + l] = dc * ig * (1.0f - cg * cg);\n"
             "        dz[(%d + u) * W + l] = dh * tc * og * (1.0f - og);\n"
             "        dcn[u * W + l] = dc * fg;\n"
             "    }",
             U, U, 2 * U, 3 * U, U, 2 * U, 3 * U);
    if (!plan_folded(p, i)) kir_code(k, "for (int k = 0; k < %d * W; k++) aB[k] += dz[k];", G);
    if (!plan_projected(p, i)) {
        kir_code(k, "/* dx_t = dz . K^T%s (K's gradient is summed over the steps afterwards) */",
                 plan_input_dropout(ly) ? ", times the input dropout mask" : "");
        kir_back_product(k, "dxt", F, "dz", G, "K", 0, plan_input_dropout(ly) ? "xm" : NULL);
    }
    kir_code(k, "/* dh_{t-1} = dz . R^T%s (R's gradient is summed over the steps afterwards) */",
             ly->recurrent_dropout > 0 ? " (times the mask)" : "");
    kir_back_product(k, "dhn", U, "dz", G, "R", 0, NULL);
    if (ly->recurrent_dropout > 0) kir_code(k, "for (int k = 0; k < %d * W; k++) dhn[k] *= rmask[k];", U);
}

static const rnnc_cell cell = {buffers, state_pointers, operands, forward_step, backward_step, gen_recurrent_grad_h, NULL};

const rnnc_kind rnnc_kind_lstm = {keywords, gen_recurrent_plan, gen_recurrent_emit, &cell, gen_recurrent_kernel_shapes};
