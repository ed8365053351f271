/*
 * emit_recurrent.c — what every recurrent kind's generated code shares: its buffers,
 * the prologue of forward_i and backward_i (weights, state, dropout masks), the time
 * loop, and step functions whose pointers are restrict parameters (that is what tells
 * the C compiler that the lanes of different buffers never overlap, so it vectorizes
 * the lane loops without run-time checks). The cell — the step's kernels — is the
 * kind's (rnnc_cell).
 */
#include "kinds.h"

#include <stdio.h>
#include <string.h>

const char *gen_rmask(const rnn_layer *l) { return l->recurrent_dropout > 0 ? "rmask" : NULL; }

void gen_out_ptr(char *buf, size_t n, const plan *p, int i) {
    const rnn_layer *ly = &p->m->layers[i];
    if (plan_recurrent(ly)) {
        size_t per = plan_size(p, "h%d", i);
        if (ly->out_seq) snprintf(buf, n, "w->h%d + (size_t)g * %zu", i, per);
        else snprintf(buf, n, "w->h%d + (size_t)g * %zu + %zu", i, per, (size_t)(ly->timesteps - 1) * ly->units * W);
    } else {
        snprintf(buf, n, "w->a%d + (size_t)g * %zu", i, plan_size(p, "a%d", i));
    }
}

void gen_recurrent_plan(plan *p, int i) {
    const rnn_layer *ly = &p->m->layers[i];
    const rnnc_cell *cell = rnnc_kind_of(ly->kind)->cell;
    size_t T = (size_t)ly->timesteps, F = (size_t)ly->in_features, U = (size_t)ly->units, G = (size_t)ly->gates * U;
    plan_add(p, T * U * W, 0, "every hidden state [T][U][W]", "h%d", i);
    if (plan_packed(p, i))
        plan_add(p, U * ((G + KIR_PANEL - 1) / KIR_PANEL * KIR_PANEL), 1, "the recurrent kernel in panels of 16 columns", "rp%d", i);
    cell->buffers(p, i);
    if (plan_input_dropout(ly)) {
        plan_add(p, (plan_per_step_mask(ly) ? T : 1) * F * W, 0, "input dropout mask", "xmask%d", i);
        if (!plan_xd_in_place(i)) plan_add(p, T * F * W, 0, "dropped input [T][F][W]", "xd%d", i);
    }
    if (ly->recurrent_dropout > 0) plan_add(p, U * W, 0, "recurrent dropout mask [U][W]", "rmask%d", i);
    plan_add(p, (2 * G + 6 * U) * W, 0, "per-step temporaries", "s%d", i);
    if (!p->infer) plan_add(p, T * G * W, 0, "dz of every step [T][G][W], for the weight gradients", "dzs%d", i);
    if (plan_lane_summed(p, i)) {
        plan_add(p, WG_DT_FLOATS, 0, "the weight gradients' transposed dz, a chunk of steps (rnn_gemm.h)", "wgd%d", i);
        plan_add(p, (F + U) * WG_PANEL, 0, "the weight gradients' sums, a panel of columns (rnn_gemm.h)", "wgs%d", i);
    }
}

/* ---- step operands ---------------------------------------------------------------------------- */

static const struct {
    const char *name;
    int is_const;           /* 1, 0, or -1: const in the backward step only */
} operand_info[SO_COUNT] = {
    [SO_K] = {"K", 1},     [SO_R] = {"R", 1},         [SO_B] = {"B", 1},     [SO_B1] = {"B1", 1},
    [SO_UP] = {"up", 1},   [SO_XT] = {"xt", 1},       [SO_XK] = {"xk", 1},   [SO_XA_IN] = {"xa", 1},
    [SO_HP] = {"hp", 1},   [SO_CP] = {"cp", 1},       [SO_GT] = {"gt", -1},  [SO_CT] = {"ct", 0},
    [SO_TCT] = {"tct", -1}, [SO_HT] = {"ht", -1},     [SO_HHT] = {"hht", -1}, [SO_RMASK] = {"rmask", 1},
    [SO_XA] = {"xa", 0},   [SO_HA] = {"ha", 0},       [SO_RH] = {"rh", 0},   [SO_HN] = {"hn", 0},
    [SO_XM] = {"xm", 1},   [SO_DXT] = {"dxt", 0},     [SO_DZ] = {"dz", 0},   [SO_DHN] = {"dhn", 0},
    [SO_DCN] = {"dcn", 0}, [SO_DZH] = {"dzh", 0},     [SO_DHD] = {"dhd", 0}, [SO_DRH] = {"drh", 0},
    [SO_RHS] = {"rh", 0},  [SO_DZHS] = {"dzh", 0},    [SO_AR] = {"aR", 0},   [SO_AB] = {"aB", 0},
};

static int operand_const(step_operand o, int backward) {
    int c = operand_info[o].is_const;
    return c < 0 ? backward : c;
}

const char *const rnnc_dropout_mask_names[] = {"per_step", "per_sequence", NULL};

int gen_step_inputs(const plan *p, int i, int backward, step_operand projected, int second_bias, step_operand *ops) {
    int n = 0, proj = plan_projected(p, i);
    if (!proj) ops[n++] = SO_K;
    ops[n++] = SO_R;
    if (backward) {
        ops[n++] = SO_UP;
        return n;
    }
    if (!proj) ops[n++] = SO_B;
    if (second_bias) ops[n++] = SO_B1;
    ops[n++] = proj ? projected : SO_XT;
    return n;
}

int gen_recurrent_kernel_shapes(const rnn_layer *l, rnnc_kernel_shape *k) {
    long F = l->in_features, U = l->units, G = (long)l->gates * U;
    k[0] = (rnnc_kernel_shape){(F + U) * G, F + U, G};
    k[1] = (rnnc_kernel_shape){F * G, G, F};
    k[2] = (rnnc_kernel_shape){U * G, G, U};
    return 3;
}

int gen_recurrent_grad_h(const plan *p, int i, rnnc_grad_term *terms) {
    const rnn_layer *ly = &p->m->layers[i];
    int U = ly->units, G = ly->gates * U;
    terms[0] = (rnnc_grad_term){"h", "dzs", {ly->timesteps, U, G, -1, ly->recurrent_dropout > 0, G, 0, G, 0}};
    return 1;
}

int gen_step_gradients(const plan *p, int i, step_operand *ops) {
    int n = 0, proj = plan_projected(p, i);
    if (!proj && plan_input_dropout(&p->m->layers[i])) ops[n++] = SO_XM;   /* the input mask of step t, on dx_t */
    if (!proj) ops[n++] = SO_DXT;
    ops[n++] = SO_DZ;
    ops[n++] = SO_DHN;
    return n;
}

/* Elements (per lane) of a lane operand; K, R, B and B1 are not lane operands (0). */
static int operand_len(const plan *p, int i, step_operand o) {
    const rnn_layer *ly = &p->m->layers[i];
    int F = ly->in_features, U = ly->units, G = ly->gates * U;
    switch (o) {
    case SO_K: case SO_R: case SO_B: case SO_B1: return 0;
    case SO_XT: case SO_XM: case SO_DXT: return F;
    case SO_XK: case SO_XA_IN: case SO_GT: case SO_XA: case SO_HA: case SO_DZ: case SO_DZH: case SO_DZHS: return G;
    case SO_AR: return U * G;
    case SO_AB: return (int)plan_tensor(p->m, i, RNN_T_RNN_BIAS)->size;
    default: return U;
    }
}

/* The kernel of a step: its lane operands and matrices declared. */
static void step_kernel(const plan *p, int i, int backward, kir *k, step_operand *ops, int n) {
    const rnn_layer *ly = &p->m->layers[i];
    int U = ly->units, G = ly->gates * U;
    kir_init(k);
    kir_matrix_decl(k, "K", ly->in_features, G);
    if (!backward && plan_packed(p, i)) kir_packed_matrix_decl(k, "R", U, G);
    else kir_matrix_decl(k, "R", U, G);
    for (int j = 0; j < n; j++)
        if (operand_len(p, i, ops[j]) > 0) kir_lanes_decl(k, operand_info[ops[j]].name, operand_len(p, i, ops[j]));
}

/* The step function of layer i: the cell's kernel with every pointer a restrict
 * parameter. Step functions stay calls, except the backward step of a folded layer:
 * inlined into the time loop, clang hoists the broadcast of every weight out of the loop
 * into a stack array of vectors that each step reads back, where a called step uses the
 * weights as broadcast operands; a folded backward step is as fast or faster inlined. */
static void emit_step_function(emitter *e, int i, int backward) {
    const rnn_layer *ly = &e->m->layers[i];
    const rnnc_cell *cell = rnnc_kind_of(ly->kind)->cell;
    step_operand ops[32];
    int n = cell->operands(e->p, i, backward, ops);
    GEN_ASSERT(n <= 32, "too many step operands");
    kir k;
    step_kernel(e->p, i, backward, &k, ops, n);
    if (backward) cell->backward_step(e->p, i, &k);
    else cell->forward_step(e->p, i, &k);
    int call = !backward || !plan_folded(e->p, i);
    P("%sstatic void %s_step_%d(", call ? "RNN_NOINLINE " : "", backward ? "backward" : "forward", i);
    for (int j = 0; j < n; j++)
        P("%s%srnn_real *restrict %s", j ? ", " : "", operand_const(ops[j], backward) ? "const " : "", operand_info[ops[j]].name);
    P(") {\n");
    kir_print(e, &k, "    ");
    P("}\n\n");
    kir_free(&k);
}

/* The argument for operand o at step t in the caller. slots (forward only): the step's
 * state goes to slot s (c, h), s1 (the gates, tanh(c), the GRU's candidate) and the
 * previous step's is read from slot sp, variables of the time loop: every step its own
 * slot when the state is kept for the backward pass, otherwise two alternating slots for
 * c and h and one for the rest. h stays one slot per step when the whole sequence is the
 * layer's output. */
static void emit_operand_arg(emitter *e, int i, step_operand o, int slots) {
    const rnn_layer *ly = &e->m->layers[i];
    int T = ly->timesteps, F = ly->in_features, U = ly->units, G = ly->gates * U;
    const char *hs = slots && !ly->out_seq ? "s" : "(size_t)t", *hsp = slots && !ly->out_seq ? "sp" : "(size_t)(t - 1)";
    const char *cs = slots ? "s" : "(size_t)t", *csp = slots ? "sp" : "(size_t)(t - 1)", *s1 = slots ? "s1" : "(size_t)t";
    switch (o) {
    case SO_UP:
        if (ly->out_seq) P("dout + (size_t)t * %d * W", U);
        else P("t == %d ? dout : ZERO", T - 1);
        break;
    case SO_XT: P("x + (size_t)t * %d * W", F); break;
    case SO_HP: P("t > 0 ? h + %s * %d * W : ZERO", hsp, U); break;
    case SO_CP: P("t > 0 ? c + %s * %d * W : ZERO", csp, U); break;
    case SO_GT: P("gates + %s * %d * W", s1, G); break;
    case SO_CT: P("c + %s * %d * W", cs, U); break;
    case SO_TCT: P("tc + %s * %d * W", s1, U); break;
    case SO_HT: P("h + %s * %d * W", hs, U); break;
    case SO_HHT: P("hh + %s * %d * W", s1, U); break;
    case SO_DXT: P("dx + (size_t)t * %d * W", F); break;
    case SO_XM: P(plan_per_step_mask(ly) ? "xmask + (size_t)t * %d * W" : "xmask", F); break;
    case SO_DZ: P("dzs + (size_t)t * %d * W", G); break;
    case SO_DZHS: P("dzhs + (size_t)t * %d * W", G); break;   /* kept for the recurrent kernel's gradient */
    case SO_RHS: P("rhs + (size_t)t * %d * W", U); break;
    case SO_XK: case SO_XA_IN: P("xk + (size_t)t * %d * W", G); break;
    default: P("%s", operand_info[o].name); break;   /* a pointer of the prologue */
    }
}

static void emit_step_call(emitter *e, int i, int backward, int slots, const char *ind) {
    const rnn_layer *ly = &e->m->layers[i];
    step_operand ops[32];
    int n = rnnc_kind_of(ly->kind)->cell->operands(e->p, i, backward, ops);
    P("%s%s_step_%d(", ind, backward ? "backward" : "forward", i);
    for (int j = 0; j < n; j++) {
        P("%s", j ? ", " : "");
        emit_operand_arg(e, i, ops[j], slots);
    }
    P(");\n");
}

/* ---- the time loop ------------------------------------------------------------------------------ */

/* The folded layer's input-side gradient dz_t goes into the table's gradient dek. */
static void emit_fold_scatter(emitter *e, int i, const char *ind) {
    const rnn_layer *ly = &e->m->layers[i];
    int T = ly->timesteps, G = ly->gates * ly->units;
    P("%s{\n%s    rnn_real *rows[W];\n", ind, ind);
    P("%s    for (int l = 0; l < W; l++) {\n", ind);
    P("%s        const int32_t id = w->base.tokens[((size_t)g * W + l) * %d + t];\n", ind, T);
    P("%s        rows[l] = w->dek + ((size_t)g * %d + (size_t)id) * %d;\n", ind, e->m->vocab, G);
    P("%s        w->touched[(size_t)g * %d + (size_t)id] = 1;\n%s    }\n", ind, e->m->vocab, ind);
    char in2[64];
    snprintf(in2, sizeof in2, "%s    ", ind);
    kir_lanes_calls(e, 1, "dzs", G, in2);
    P("%s}\n", ind);
}

/* The loop over timesteps (backward: from the last); with --unroll full, T calls with a
 * constant t each. */
static void emit_time_loop(emitter *e, int i, int backward, int slots, const char *ind) {
    int T = e->m->layers[i].timesteps, scatter = backward && plan_folded(e->p, i);
    char in2[64];
    snprintf(in2, sizeof in2, "%s    ", ind);
    if (e->p->full) {
        for (int s = 0; s < T; s++) {
            int t = backward ? T - 1 - s : s;
            P("%s{ /* t = %d */\n%s    const int t = %d;\n", ind, t, ind, t);
            emit_step_call(e, i, backward, 0, in2);
            if (scatter) emit_fold_scatter(e, i, in2);
            P("%s}\n", ind);
        }
        return;
    }
    P("%sRNN_TIME_LOOP\n", ind);
    if (backward) P("%sfor (int t = %d; t >= 0; t--) {\n", ind, T - 1);
    else P("%sfor (int t = 0; t < %d; t++) {\n", ind, T);
    if (slots) {
        P("%s    const size_t s = keep ? (size_t)t : (size_t)t %% 2, sp = keep ? (size_t)t - 1 : (size_t)(t + 1) %% 2;\n", ind);
        P("%s    const size_t s1 = keep ? (size_t)t : 0;\n", ind);
        P("%s    (void)s;\n%s    (void)sp;\n%s    (void)s1;\n", ind, ind, ind);
    }
    emit_step_call(e, i, backward, slots, in2);
    if (scatter) emit_fold_scatter(e, i, in2);
    P("%s}\n", ind);
}

/* The forward's time loop: the training forward keeps every step's state for the
 * backward pass (w->keep); an inference keeps only what the next step and the next
 * layer read. A predictor only ever infers; with --unroll full every forward keeps. */
static void emit_forward_steps(emitter *e, int i) {
    const rnn_layer *ly = &e->m->layers[i];
    int T = ly->timesteps, U = ly->units;
    int last = T - 1, copy_last = !ly->out_seq && last % 2 != last;
    if (e->p->full && !e->p->infer) {
        emit_time_loop(e, i, 0, 0, "    ");
        return;
    }
    P("    const int keep = %s; /* every step's state, for the backward pass */\n", e->p->infer ? "0" : "w->base.keep");
    emit_time_loop(e, i, 0, 1, "    ");
    if (copy_last)
        P("    if (!keep) /* the output: the last h, in its slot */\n"
          "        for (int k = 0; k < %d * W; k++) h[(size_t)%d * %d * W + k] = h[(size_t)%d * %d * W + k];\n",
          U, last, U, last % 2, U);
}

/* ---- the prologue ------------------------------------------------------------------------------- */

static void emit_weights(emitter *e, int i, int backward) {
    const rnn_layer *ly = &e->m->layers[i];
    const rnn_tensor *K = plan_tensor(e->m, i, RNN_T_KERNEL), *R = plan_tensor(e->m, i, RNN_T_RECURRENT_KERNEL),
                     *B = plan_tensor(e->m, i, RNN_T_RNN_BIAS);
    int F = ly->in_features, U = ly->units, G = ly->gates * U, fold = plan_folded(e->p, i);
    int two_biases = B->rank == 2;   /* a GRU with reset_after: input side, recurrent side */
    if (!fold) P("    const rnn_real *K = params + %zu; /* %s [%d, %d] */\n", K->offset, K->name, F, G);
    if (!backward && plan_packed(e->p, i))
        P("    const rnn_real *R = w->rp%d; /* %s [%d, %d] in panels of %d columns (pack_weights) */\n", i, R->name, U, G,
          KIR_PANEL);
    else P("    const rnn_real *R = params + %zu; /* %s [%d, %d] */\n", R->offset, R->name, U, G);
    if (backward) return;   /* the bias is not read going back */
    if (fold && two_biases)
        P("    const rnn_real *B1 = params + %zu; /* %s [1]: the recurrent side */\n", B->offset + (size_t)G, B->name);
    else if (fold)
        ; /* the bias is in the folded table */
    else if (two_biases)
        P("    const rnn_real *B = params + %zu, *B1 = B + %d; /* %s [2, %d]: input side, recurrent side */\n", B->offset, G,
          B->name, G);
    else
        P("    const rnn_real *B = params + %zu; /* %s [%d] */\n", B->offset, B->name, G);
}

/* Input dropout: the mask drawn in training and the dropped input (in place for layer 1). */
static void emit_input_dropout(emitter *e, int i, int backward) {
    const rnn_layer *ly = &e->m->layers[i];
    int T = ly->timesteps, F = ly->in_features, ps = plan_per_step_mask(ly), inplace = plan_xd_in_place(i);
    P("    rnn_real *xmask = w->xmask%d + (size_t)g * %zu, *xd = w->%s%d + (size_t)g * %zu;%s\n", i,
      (size_t)(ps ? T : 1) * F * W, inplace ? "a" : "xd", inplace ? 0 : i, (size_t)T * F * W, inplace ? " /* in place */" : "");
    if (!backward) {
        P("    if (w->base.training) { /* dropout %g: one mask shared by all gates, %s */\n", ly->dropout,
          ps ? "a new one at every step (tf.keras 2.x)" : "the same at every step");
        P("        rnn_gen_draw_mask(xmask, ctx, RNN_RNG_DROPOUT, %d, %d, %d, %d, ", i, ps ? T : 1, ps, F);
        emit_double(e, ly->dropout);
        P(", w->base.rows + (size_t)g * W);\n");
        P("        for (int t = 0; t < %d; t++)\n", T);
        /* in place as *=: written as xd = x * mask with xd == x, the loop would check the
         * pointers for overlap at run time and take its scalar version */
        char mk[64], val[96];
        if (ps) snprintf(mk, sizeof mk, "xmask[t * %d * W + k]", F);
        else snprintf(mk, sizeof mk, "xmask[k]");
        if (inplace) snprintf(val, sizeof val, "*= %s", mk);
        else snprintf(val, sizeof val, "= x[t * %d * W + k] * %s", F, mk);
        P("            for (int k = 0; k < %d * W; k++) xd[t * %d * W + k] %s;\n", F, F, val);
        P("    }\n");
    }
    P("    if (w->base.training) x = xd;\n");
    if (backward)
        P("    else /* going back after an inference (no dropout): dx is not masked */\n"
          "        for (int k = 0; k < %d * W; k++) xmask[k] = 1.0f;\n", (ps ? T : 1) * F);
}

static void emit_recurrent_dropout(emitter *e, int i, int backward) {
    const rnn_layer *ly = &e->m->layers[i];
    int U = ly->units;
    P("    rnn_real *rmask = w->rmask%d + (size_t)g * %zu; /* recurrent dropout, one mask per sequence */\n", i,
      (size_t)U * W);
    if (backward) return;
    P("    if (w->base.training) {\n        rnn_gen_draw_mask(rmask, ctx, RNN_RNG_RECURRENT_DROPOUT, %d, 1, 0, %d, ", i, U);
    emit_double(e, ly->recurrent_dropout);
    P(", w->base.rows + (size_t)g * W);\n    } else {\n        for (int k = 0; k < %d * W; k++) rmask[k] = 1.0f;\n    }\n", U);
}

/* The backward's gradients: d loss / d output and input, the accumulators, the step's
 * temporaries. */
static void emit_backward_pointers(emitter *e, int i) {
    const rnn_model *m = e->m;
    const rnn_layer *ly = &m->layers[i];
    const rnn_tensor *K = plan_tensor(m, i, RNN_T_KERNEL), *R = plan_tensor(m, i, RNN_T_RECURRENT_KERNEL),
                     *B = plan_tensor(m, i, RNN_T_RNN_BIAS);
    int T = ly->timesteps, F = ly->in_features, U = ly->units, G = ly->gates * U;
    P("    const rnn_real *dout = w->d%d + (size_t)g * %zu; /* d loss / d output */\n", i, (size_t)(ly->out_seq ? T : 1) * U * W);
    int summed = plan_lane_summed(e->p, i);
    rnnc_grad_term terms[2];
    int r_summed = summed && rnnc_kind_of(ly->kind)->cell->recurrent_grads(e->p, i, terms) > 0;
    if (!plan_folded(e->p, i)) {
        P("    rnn_real *dx = w->d%d + (size_t)g * %zu; /* d loss / d input */\n", i - 1, (size_t)T * F * W);
        if (summed) P("    rnn_real *sK = w->base.bsum + (size_t)g * ACC_LEN + %zu; /* its gradient, lanes summed */\n",
                      plan_sum_index(e->p, K->offset));
        else P("    rnn_real *aK = w->base.acc + (size_t)g * LANE_LEN * W + %zu;\n", plan_acc_index(e->p, K->offset));
    }
    if (r_summed) P("    rnn_real *sR = w->base.bsum + (size_t)g * ACC_LEN + %zu; /* its gradient, lanes summed */\n",
                    plan_sum_index(e->p, R->offset));
    else P("    rnn_real *aR = w->base.acc + (size_t)g * LANE_LEN * W + %zu;\n", plan_acc_index(e->p, R->offset));
    P("    rnn_real *aB = w->base.acc + (size_t)g * LANE_LEN * W + %zu;\n    (void)aB;\n", plan_acc_index(e->p, B->offset));
    P("    rnn_real *dzs = w->dzs%d + (size_t)g * %zu; /* dz of every step */\n", i, plan_size(e->p, "dzs%d", i));
    P("    rnn_real *dz = w->s%d + (size_t)g * %zu, *dzh = dz + %d * W, *dhn = dzh + %d * W, *dcn = dhn + %d * W;\n", i,
      plan_size(e->p, "s%d", i), G, G, U);
    P("    rnn_real *dhd = dcn + %d * W, *drh = dhd + %d * W, *rh = drh + %d * W;\n", U, U, U);
    P("    (void)dzh; (void)dcn; (void)dhd; (void)drh; (void)rh;\n");
    P("    for (int k = 0; k < %d * W; k++) dhn[k] = dcn[k] = 0.0f;\n", U);
}

static void emit_prologue(emitter *e, int i, int backward) {
    const rnn_layer *ly = &e->m->layers[i];
    int T = ly->timesteps, F = ly->in_features, U = ly->units, G = ly->gates * U, fold = plan_folded(e->p, i);
    emit_weights(e, i, backward);
    P("    rnn_real *h = w->h%d + (size_t)g * %zu;\n", i, (size_t)T * U * W);
    rnnc_kind_of(ly->kind)->cell->state_pointers(e, i, backward);
    if (plan_projected(e->p, i) && !backward)
        P("    rnn_real *xk = w->xk + (size_t)g * %zu; /* b + x_t.K of every step */\n", plan_size(e->p, "xk"));
    if (fold && !backward) {
        P("    /* gathered from the folded table */\n");
        P("    for (int t = 0; t < %d; t++) {\n", T);
        P("        const rnn_real *rows[W];\n");
        P("        for (int l = 0; l < W; l++) rows[l] = w->ek + (size_t)w->base.tokens[((size_t)g * W + l) * %d + t] * %d;\n", T, G);
        kir_lanes_calls(e, 0, "xk", G, "        ");
        P("    }\n");
    }
    if (!fold) {
        char in[200];
        gen_out_ptr(in, sizeof in, e->p, i - 1);
        P("    const rnn_real *x = %s; /* input [%d][%d][W] */\n", in, T, F);
    }
    if (plan_input_dropout(ly)) emit_input_dropout(e, i, backward);
    if (ly->recurrent_dropout > 0) emit_recurrent_dropout(e, i, backward);
    if (plan_hoisted(e->p, i) && !backward)
        P("    input_projection_%d(xk, x, K, B); /* one matrix product for all the steps */\n", i);
    if (backward) {
        emit_backward_pointers(e, i);
    } else {
        P("    rnn_real *xa = w->s%d + (size_t)g * %zu, *ha = xa + %d * W, *rh = ha + %d * W, *hn = rh + %d * W;\n", i,
          plan_size(e->p, "s%d", i), G, G, U);
        P("    (void)xa; (void)ha; (void)rh; (void)hn;\n");
    }
}

/* ---- the layer -------------------------------------------------------------------------------- */

static void emit_header_comment(emitter *e, int i) {
    const rnn_layer *ly = &e->m->layers[i];
    P("/* ---- %s (%s): (%d, %d) -> %s(%d) ----", ly->name, rnn_layer_class_name(ly->kind), ly->timesteps, ly->in_features,
      ly->return_sequences ? "sequence " : "", ly->units);
    if (ly->dropout > 0) P("\n * dropout %g", ly->dropout);
    if (ly->recurrent_dropout > 0) P("\n * recurrent_dropout %g", ly->recurrent_dropout);
    const rnnc_cell *cell = rnnc_kind_of(ly->kind)->cell;
    if (cell->comment) cell->comment(e, i);
    P(" */\n");
}

/* The lane-summed weight gradients of a large layer (rnn_gemm.h): K's and R's terms,
 * those with the same dz window in one rnn_wg_grads call (that window transposed once
 * for them). */
typedef struct {
    const char *acc, *a, *mask, *d;
    int rows, shift, d_stride, d_col0, cols, acc_col0;
} summed_term;

static void emit_lane_summed_grads(emitter *e, int i, const rnnc_grad_term *rt, int nr) {
    const rnn_layer *ly = &e->m->layers[i];
    int T = ly->timesteps, F = ly->in_features, G = ly->gates * ly->units;
    summed_term q[3];
    int n = 0, done[3] = {0, 0, 0};
    if (!plan_folded(e->p, i)) q[n++] = (summed_term){"sK", "x", NULL, "dzs", F, 0, G, 0, G, 0};
    for (int k = 0; k < nr; k++)
        q[n++] = (summed_term){"sR", rt[k].a, rt[k].g.masked ? "rmask" : NULL, rt[k].d, rt[k].g.rows, rt[k].g.shift,
                               rt[k].g.d_stride, rt[k].g.d_col0, rt[k].g.cols, rt[k].g.acc_col0};
    P("    /* the kernels' gradients over the steps and lanes: K += x_t^T dz_t, R += h_{t-1}^T dz_t */\n");
    for (int k = 0; k < n; k++) {
        if (done[k]) continue;
        P("    {\n        const rnn_wg_term terms[] = {");
        int count = 0;
        for (int j = k; j < n; j++) {
            if (strcmp(q[j].d, q[k].d) || q[j].d_col0 != q[k].d_col0 || q[j].cols != q[k].cols || q[j].d_stride != q[k].d_stride)
                continue;
            done[j] = 1;
            GEN_ASSERT(q[j].shift == 0 || q[j].shift == -1, "weight-gradient shift %d", q[j].shift);
            P("%s{%s + %d, %d, %s, %s, %d, %d}", count++ ? ", " : "", q[j].acc, q[j].acc_col0, G, q[j].a,
              q[j].mask ? q[j].mask : "NULL", q[j].rows, q[j].shift);
        }
        P("};\n        rnn_wg_grads(terms, %d, %s, %d, %d, %d, %d, w->wgd%d + (size_t)g * %zu, w->wgs%d + (size_t)g * %zu);\n    }\n",
          count, q[k].d, q[k].d_stride, q[k].d_col0, q[k].cols, T, i, plan_size(e->p, "wgd%d", i), i,
          plan_size(e->p, "wgs%d", i));
    }
}

static void emit_backward(emitter *e, int i) {
    const rnn_layer *ly = &e->m->layers[i];
    const rnnc_cell *cell = rnnc_kind_of(ly->kind)->cell;
    int T = ly->timesteps, F = ly->in_features, G = ly->gates * ly->units, fold = plan_folded(e->p, i);
    emit_step_function(e, i, 1);
    rnnc_grad_term terms[2];
    int nr = cell->recurrent_grads(e->p, i, terms);
    GEN_ASSERT(nr >= 0 && nr <= 2, "layer %s: %d recurrent kernel gradient terms", ly->name, nr);
    char names[3][48];
    int summed = plan_lane_summed(e->p, i);
    snprintf(names[0], sizeof names[0], "kernel_grad_%d", i);
    kir_grad kg = {T, F, G, 0, 0, G, 0, G, 0};
    if (!fold && !summed) kir_time_outer_function(e, names[0], &kg);
    for (int k = 0; k < nr && !summed; k++) {
        if (nr == 1) snprintf(names[1 + k], sizeof names[1 + k], "recurrent_kernel_grad_%d", i);
        else snprintf(names[1 + k], sizeof names[1 + k], "recurrent_kernel_grad_%d_%d", i, k);
        kir_time_outer_function(e, names[1 + k], &terms[k].g);
    }
    P("static void backward_%d(workspace *w, const rnn_real *params, int g) {\n", i);
    emit_prologue(e, i, 1);
    emit_time_loop(e, i, 1, 0, "    ");
    if (plan_hoisted(e->p, i))
        P("    input_grad_%d(dx, dzs, K%s); /* dx_t = dz_t . K^T for all the steps */\n", i,
          plan_input_dropout(ly) ? ", xmask" : "");
    if (summed) {
        emit_lane_summed_grads(e, i, terms, nr);
        P("}\n\n");
        return;
    }
    P("    /* the kernels' gradients, summed over the steps: K += x_t^T dz_t, R += h_{t-1}^T dz_t */\n");
    if (!fold) P("    %s(aK, x, dzs);\n", names[0]);
    for (int k = 0; k < nr; k++)
        P("    %s(aR, %s, %s%s);\n", names[1 + k], terms[k].a, terms[k].d, terms[k].g.masked ? ", rmask" : "");
    P("}\n\n");
}

void gen_recurrent_emit(emitter *e, int i) {
    emit_header_comment(e, i);
    if (plan_hoisted(e->p, i)) kir_input_side_functions(e, i);
    emit_step_function(e, i, 0);
    P("static void forward_%d(workspace *w, const rnn_real *params, int g, const rnn_dropout_ctx *ctx) {\n", i);
    P("    (void)ctx;\n");
    if (plan_folded(e->p, i) && plan_packed(e->p, i)) P("    (void)params; /* everything it reads was made before the blocks */\n");
    emit_prologue(e, i, 0);
    emit_forward_steps(e, i);
    P("}\n\n");
    if (!e->p->infer) emit_backward(e, i);
}
