/*
 * simple_rnn.c — the SimpleRNN kind in the compiler: simple_rnn { units, activation,
 * dropout, recurrent_dropout, return_sequences }, and its cell
 *   h_t = act(b + x_t.K + h_{t-1}.R)
 * (runtime/layers/simple_rnn.c is the reference).
 */
#include "kinds.h"

static const char *const activations[] = {"linear", "sigmoid", "tanh", "relu", NULL};

static const rnnc_keyword keywords[] = {
    RNNC_RECURRENT_KEYWORDS("simple_rnn { 8 }"),
    {"activation", KW_ENUM, KW_FIELD(activation), 0, NULL, activations, 0},
    {NULL, KW_INT, 0, 0, NULL, NULL, 0}};

static void buffers(plan *p, int i, const char *tag) {
    (void)p;
    (void)i;
    (void)tag;   /* h is all the state */
}

static void state_pointers(emitter *e, int i, const char *tag, int backward) {
    (void)backward;
    (void)e;
    (void)i;
    (void)tag;
}

static int operands(const plan *p, int i, int backward, step_operand *ops) {
    const rnn_layer *ly = &p->m->layers[i];
    int n = gen_step_inputs(p, i, backward, SO_XK, 0, ops);
    if (!backward) ops[n++] = SO_HP;
    ops[n++] = SO_HT;
    if (ly->recurrent_dropout > 0) ops[n++] = SO_RMASK;
    if (!backward) return n;
    n += gen_step_gradients(p, i, ops + n);
    if (!plan_folded(p, i)) ops[n++] = SO_AB;
    return n;
}

static void forward_step(const plan *p, int i, kir *k) {
    const rnn_layer *ly = &p->m->layers[i];
    int F = ly->in_features, U = ly->units;
    kir_code(k, "/* h_t = %s(b + x_t.K + h_{t-1}.R) */", rnn_activation_name(ly->activation));
    kir_term terms[2] = {{"xt", NULL, "K", F, 0, 0, 0, 0}, {"hp", gen_rmask(ly), "R", U, 0, 0, 0, 0}};
    if (plan_projected(p, i)) kir_project(k, "ht", U, "@xk", terms + 1, 1);
    else kir_project(k, "ht", U, "B", terms, 2);
    if (ly->activation != RNN_ACT_LINEAR)
        kir_code(k, "for (int k = 0; k < %d * W; k++) ht[k] = %s(ht[k]);", U, emit_act_fn(ly->activation));
}

static void backward_step(const plan *p, int i, kir *k) {
    const rnn_layer *ly = &p->m->layers[i];
    int F = ly->in_features, U = ly->units;
    char grad[64];
    kir_code(k,
             "for (int k = 0; k < %d * W; k++) {\n"
             "    const rnn_real y = ht[k];\n"
             "    dz[k] = (dhn[k] + up[k]) * %s;\n"
             "    (void)y;%s\n"
             "}",
             U, gen_act_grad(grad, sizeof grad, ly->activation, "y"), plan_folded(p, i) ? "" : "\n    aB[k] += dz[k];");
    if (!plan_projected(p, i)) {
        kir_code(k, "/* dx_t = dz . K^T%s (K's gradient is summed over the steps afterwards) */",
                 plan_input_dropout(ly) ? ", times the input dropout mask" : "");
        kir_back_product(k, "dxt", F, "dz", U, "K", 0, plan_input_dropout(ly) ? "xm" : NULL);
    }
    kir_back_product(k, "dhn", U, "dz", U, "R", 0, NULL);
    if (ly->recurrent_dropout > 0) kir_code(k, "for (int k = 0; k < %d * W; k++) dhn[k] *= rmask[k];", U);
}

static void comment(emitter *e, int i) { P("\n * activation %s", rnn_activation_name(e->m->layers[i].activation)); }

static const rnnc_cell cell = {buffers, state_pointers, operands, forward_step, backward_step, gen_recurrent_grad_h, comment};

const rnnc_kind rnnc_kind_simple_rnn = {keywords, gen_recurrent_plan, gen_recurrent_emit, &cell, gen_recurrent_kernel_shapes};
