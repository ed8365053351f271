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

const rnnc_cell *gen_cell(const rnn_layer *l) { return rnnc_kind_of(l->wrapped ? l->wrapped : l->kind)->cell; }

int gen_dirs(const plan *p, int i, gen_dir *d) {
    const rnn_layer *ly = &p->m->layers[i];
    int n = ly->wrapped ? 2 : 1;   /* a bidirectional layer: its forward and backward halves */
    for (int k = 0; k < n; k++) {
        gen_dir *r = &d[k];
        memset(r, 0, sizeof *r);
        r->i = i;
        r->half = k;
        r->reversed = k ? !ly->go_backwards : ly->go_backwards;   /* Keras 2 flips go_backwards */
        if (n == 1) {
            r->run_order_out = ly->go_backwards && ly->out_seq;
            snprintf(r->tag, sizeof r->tag, "%d", i);
            snprintf(r->up, sizeof r->up, "d%d", i);
            snprintf(r->dx, sizeof r->dx, "d%d", i - 1);
        } else {
            snprintf(r->tag, sizeof r->tag, "%d%s", i, k ? "b" : "f");
            snprintf(r->up, sizeof r->up, "du%s", r->tag);
            if (k) snprintf(r->dx, sizeof r->dx, "dxb%d", i);
            else snprintf(r->dx, sizeof r->dx, "d%d", i - 1);
        }
    }
    return n;
}

const rnn_tensor *gen_dir_tensor(const rnn_model *m, const gen_dir *d, int slot) {
    return plan_tensor(m, d->i, d->half * RNN_T_RECURRENT_COUNT + slot);
}

void gen_out_ptr(char *buf, size_t n, const plan *p, int i) {
    const rnn_layer *ly = &p->m->layers[i];
    char a[32];
    snprintf(a, sizeof a, "a%d", i);
    if (plan_recurrent(ly) && !plan_has(p, a)) {   /* its states are its output */
        size_t per = plan_size(p, "h%d", i);
        int last = ly->go_backwards ? 0 : ly->timesteps - 1;   /* the step it read last */
        if (ly->out_seq || ly->go_backwards) snprintf(buf, n, "w->h%d + (size_t)g * %zu", i, per);
        else snprintf(buf, n, "w->h%d + (size_t)g * %zu + %zu", i, per, (size_t)last * ly->units * W);
    } else {
        snprintf(buf, n, "w->a%d + (size_t)g * %zu", i, plan_size(p, "a%d", i));
    }
}

void gen_recurrent_layer_plan(plan *p, int i) {
    const rnn_layer *ly = &p->m->layers[i];
    size_t T = (size_t)ly->timesteps, F = (size_t)ly->in_features, U = (size_t)ly->units, G = (size_t)ly->gates * U;
    plan_add(p, (2 * G + 6 * U) * W, 0, "per-step temporaries", "s%d", i);
    if (!p->infer) plan_add(p, T * G * W, 0, "dz of every step [T][G][W], for the weight gradients", "dzs%d", i);
    if (plan_lane_summed(p, i)) {
        plan_add(p, WG_DT_FLOATS, 0, "the weight gradients' transposed dz, a chunk of steps (rnn_gemm.h)", "wgd%d", i);
        plan_add(p, (F + U) * WG_PANEL, 0, "the weight gradients' sums, a panel of columns (rnn_gemm.h)", "wgs%d", i);
    }
}

void gen_recurrent_dir_plan(plan *p, const gen_dir *d) {
    const int i = d->i;
    const rnn_layer *ly = &p->m->layers[i];
    const rnnc_cell *cell = gen_cell(ly);
    size_t T = (size_t)ly->timesteps, F = (size_t)ly->in_features, U = (size_t)ly->units, G = (size_t)ly->gates * U;
    plan_add(p, T * U * W, 0, "every hidden state [T][U][W]", "h%s", d->tag);
    if (plan_packed(p, i))
        plan_add(p, U * ((G + KIR_PANEL - 1) / KIR_PANEL * KIR_PANEL), 1, "the recurrent kernel in panels of 16 columns", "rp%s",
                 d->tag);
    cell->buffers(p, i, d->tag);
    if (plan_input_dropout(ly)) {
        plan_add(p, (plan_per_step_mask(ly) ? T : 1) * F * W, 0, "input dropout mask", "xmask%s", d->tag);
        if (!plan_xd_in_place(p, i)) plan_add(p, T * F * W, 0, "dropped input [T][F][W]", "xd%s", d->tag);
    }
    if (ly->recurrent_dropout > 0) plan_add(p, U * W, 0, "recurrent dropout mask [U][W]", "rmask%s", d->tag);
    if (ly->mask_in && !p->infer)
        plan_add(p, 3 * U * W, 0, "mask_zero: a padded step's d loss / d output, d h and d c carried [3][U][W]", "mk%s", d->tag);
}

/* The layer alone: its one direction, with the shared buffers in between as they
 * always were; a go_backwards layer's sequence output in the order its steps ran. */
void gen_recurrent_plan(plan *p, int i) {
    const rnn_layer *ly = &p->m->layers[i];
    gen_dir d[2];
    GEN_ASSERT(gen_dirs(p, i, d) == 1, "layer %s has two directions", ly->name);
    size_t T = (size_t)ly->timesteps, U = (size_t)ly->units;
    gen_recurrent_dir_plan(p, &d[0]);
    gen_recurrent_layer_plan(p, i);
    if (d[0].run_order_out) plan_add(p, T * U * W, 0, "output: the states in the order the steps ran [T][U][W]", "a%d", i);
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
    const rnnc_cell *cell = gen_cell(ly);
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
 * layer's output. A reversed direction's previous step is t + 1, and its first t = T - 1. */
static void emit_operand_arg(emitter *e, const gen_dir *d, step_operand o, int slots) {
    const rnn_layer *ly = &e->m->layers[d->i];
    int T = ly->timesteps, F = ly->in_features, U = ly->units, G = ly->gates * U;
    const char *prev = d->reversed ? "(size_t)(t + 1)" : "(size_t)(t - 1)";
    const char *hs = slots && !ly->out_seq ? "s" : "(size_t)t", *hsp = slots && !ly->out_seq ? "sp" : prev;
    const char *cs = slots ? "s" : "(size_t)t", *csp = slots ? "sp" : prev, *s1 = slots ? "s1" : "(size_t)t";
    char first[32];   /* the test "this step has a previous one" */
    if (d->reversed) snprintf(first, sizeof first, "t < %d", T - 1);
    else snprintf(first, sizeof first, "t > 0");
    switch (o) {
    case SO_UP:
        if (ly->out_seq && d->run_order_out) P("dout + (size_t)(%d - t) * %d * W", T - 1, U);
        else if (ly->out_seq) P("dout + (size_t)t * %d * W", U);
        else P("t == %d ? dout : ZERO", d->reversed ? 0 : T - 1);
        break;
    case SO_XT: P("x + (size_t)t * %d * W", F); break;
    case SO_HP: P("%s ? h + %s * %d * W : ZERO", first, hsp, U); break;
    case SO_CP: P("%s ? c + %s * %d * W : ZERO", first, csp, U); break;
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

static void emit_step_call(emitter *e, const gen_dir *d, int backward, int slots, const char *ind) {
    const rnn_layer *ly = &e->m->layers[d->i];
    step_operand ops[32];
    int n = gen_cell(ly)->operands(e->p, d->i, backward, ops);
    P("%s%s_step_%d(", ind, backward ? "backward" : "forward", d->i);
    for (int j = 0; j < n; j++) {
        P("%s", j ? ", " : "");
        if (backward && ops[j] == SO_UP && ly->mask_in) P("upm");   /* masked: emit_masked_backward */
        else emit_operand_arg(e, d, ops[j], slots);
    }
    P(");\n");
}

/* ---- the embedding's mask (mask_zero) ---------------------------------------------------------- */

/* Whether layer i's step (forward or backward) has operand o. */
static int step_has(const plan *p, int i, int backward, step_operand o) {
    step_operand ops[32];
    int n = gen_cell(&p->m->layers[i])->operands(p, i, backward, ops);
    for (int j = 0; j < n; j++)
        if (ops[j] == o) return 1;
    return 0;
}

/* m[l] = 1 where step t of lane l is a token, 0 where it is padding (token id 0): the
 * embedding's mask, by the input's own step t whichever way the direction reads. */
static void emit_step_mask(emitter *e, const char *ind) {
    P("%srnn_real m[W];\n", ind);
    P("%sfor (int l = 0; l < W; l++) m[l] = w->base.tokens[((size_t)g * W + l) * %d + t] != 0 ? 1.0f : 0.0f;\n", ind,
      e->m->timesteps);
}

/* After a forward step: a padded step keeps the previous state, h_t = m ? h_t : h_{t-1}
 * (and c), as Keras's rnn with a mask does; a lane-wise select. */
static void emit_masked_forward(emitter *e, const gen_dir *d, int slots, const char *ind) {
    const rnn_layer *ly = &e->m->layers[d->i];
    int U = ly->units, has_c = step_has(e->p, d->i, 0, SO_CT);
    P("%s{ /* mask_zero: a padded step carries the state over */\n", ind);
    char in2[64];
    snprintf(in2, sizeof in2, "%s    ", ind);
    emit_step_mask(e, in2);
    for (int j = 0; j < 1 + has_c; j++) {
        P("%s{\n%s    rnn_real *now = ", in2, in2);
        emit_operand_arg(e, d, j ? SO_CT : SO_HT, slots);
        P(";\n%s    const rnn_real *was = ", in2);
        emit_operand_arg(e, d, j ? SO_CP : SO_HP, slots);
        P(";\n%s    for (int u = 0; u < %d; u++)\n", in2, U);
        P("%s        for (int l = 0; l < W; l++) now[u * W + l] = m[l] != 0 ? now[u * W + l] : was[u * W + l];\n%s}\n", in2, in2);
    }
    P("%s}\n", ind);
}

/* Around a backward step: a padded step's dz is 0 (the step gets d loss / d output and
 * dh, dc times 0: its backward is linear in them) and its d loss / d h_t, the output's
 * included, goes on to h_{t-1} unchanged (and dc to c_{t-1}). */
static void emit_masked_backward(emitter *e, const gen_dir *d, int after, const char *ind) {
    const rnn_layer *ly = &e->m->layers[d->i];
    int U = ly->units, has_c = step_has(e->p, d->i, 1, SO_DCN);
    if (after) {
        P("%sfor (int u = 0; u < %d; u++)\n%s    for (int l = 0; l < W; l++) {\n", ind, U, ind);
        P("%s        dhn[u * W + l] = m[l] != 0 ? dhn[u * W + l] : hcarry[u * W + l];\n", ind);
        if (has_c) P("%s        dcn[u * W + l] = m[l] != 0 ? dcn[u * W + l] : ccarry[u * W + l];\n", ind);
        P("%s    }\n", ind);
        return;
    }
    emit_step_mask(e, ind);
    P("%sconst rnn_real *upt = ", ind);
    emit_operand_arg(e, d, SO_UP, 0);
    P(";\n%sfor (int u = 0; u < %d; u++)\n%s    for (int l = 0; l < W; l++) {\n", ind, U, ind);
    P("%s        const int k = u * W + l;\n", ind);
    P("%s        hcarry[k] = dhn[k] + upt[k];\n", ind);
    P("%s        upm[k] = m[l] != 0 ? upt[k] : 0.0f;\n", ind);
    P("%s        dhn[k] = m[l] != 0 ? dhn[k] : 0.0f;\n", ind);
    if (has_c) P("%s        ccarry[k] = dcn[k];\n%s        dcn[k] = m[l] != 0 ? dcn[k] : 0.0f;\n", ind, ind);
    P("%s    }\n", ind);
}

/* A step in the time loop: the call, and with a mask what goes around it. */
static void emit_step(emitter *e, const gen_dir *d, int backward, int slots, const char *ind) {
    int masked = e->m->layers[d->i].mask_in;
    if (masked && backward) emit_masked_backward(e, d, 0, ind);
    emit_step_call(e, d, backward, slots, ind);
    if (masked && backward) emit_masked_backward(e, d, 1, ind);
    else if (masked) emit_masked_forward(e, d, slots, ind);
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

/* The loop over timesteps in the order the direction reads them (going back, the
 * other way); with --unroll full, T calls with a constant t each. */
static void emit_time_loop(emitter *e, const gen_dir *d, int backward, int slots, const char *ind) {
    int i = d->i, T = e->m->layers[i].timesteps, scatter = backward && plan_folded(e->p, i);
    int down = backward != d->reversed;   /* t from T - 1 down to 0 */
    char in2[64];
    snprintf(in2, sizeof in2, "%s    ", ind);
    if (e->p->full) {
        for (int s = 0; s < T; s++) {
            int t = down ? T - 1 - s : s;
            P("%s{ /* t = %d */\n%s    const int t = %d;\n", ind, t, ind, t);
            emit_step(e, d, backward, 0, in2);
            if (scatter) emit_fold_scatter(e, i, in2);
            P("%s}\n", ind);
        }
        return;
    }
    P("%sRNN_TIME_LOOP\n", ind);
    if (down) P("%sfor (int t = %d; t >= 0; t--) {\n", ind, T - 1);
    else P("%sfor (int t = 0; t < %d; t++) {\n", ind, T);
    if (slots) {
        P("%s    const size_t s = keep ? (size_t)t : (size_t)t %% 2, sp = keep ? (size_t)t %s 1 : (size_t)(t + 1) %% 2;\n", ind,
          d->reversed ? "+" : "-");
        P("%s    const size_t s1 = keep ? (size_t)t : 0;\n", ind);
        P("%s    (void)s;\n%s    (void)sp;\n%s    (void)s1;\n", ind, ind, ind);
    }
    emit_step(e, d, backward, slots, in2);
    if (scatter) emit_fold_scatter(e, i, in2);
    P("%s}\n", ind);
}

/* The forward's time loop: the training forward keeps every step's state for the
 * backward pass (w->keep); an inference keeps only what the next step and the next
 * layer read. A predictor only ever infers; with --unroll full every forward keeps. */
static void emit_forward_steps(emitter *e, const gen_dir *d) {
    const rnn_layer *ly = &e->m->layers[d->i];
    int T = ly->timesteps, U = ly->units;
    int last = d->reversed ? 0 : T - 1, copy_last = !ly->out_seq && last % 2 != last;
    if (e->p->full && !e->p->infer) {
        emit_time_loop(e, d, 0, 0, "    ");
        return;
    }
    P("    const int keep = %s; /* every step's state, for the backward pass */\n", e->p->infer ? "0" : "w->base.keep");
    emit_time_loop(e, d, 0, 1, "    ");
    if (copy_last)
        P("    if (!keep) /* the output: the last h, in its slot */\n"
          "        for (int k = 0; k < %d * W; k++) h[(size_t)%d * %d * W + k] = h[(size_t)%d * %d * W + k];\n",
          U, last, U, last % 2, U);
}

/* ---- the prologue ------------------------------------------------------------------------------- */

static void emit_weights(emitter *e, const gen_dir *d, int backward) {
    const int i = d->i;
    const rnn_layer *ly = &e->m->layers[i];
    const rnn_tensor *K = gen_dir_tensor(e->m, d, RNN_T_KERNEL), *R = gen_dir_tensor(e->m, d, RNN_T_RECURRENT_KERNEL),
                     *B = gen_dir_tensor(e->m, d, RNN_T_RNN_BIAS);
    int F = ly->in_features, U = ly->units, G = ly->gates * U, fold = plan_folded(e->p, i);
    int two_biases = B->rank == 2;   /* a GRU with reset_after: input side, recurrent side */
    if (!fold) P("    const rnn_real *K = params + %zu; /* %s [%d, %d] */\n", K->offset, K->name, F, G);
    if (!backward && plan_packed(e->p, i))
        P("    const rnn_real *R = w->rp%s; /* %s [%d, %d] in panels of %d columns (pack_weights) */\n", d->tag, R->name, U, G,
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

/* The layer a direction's dropout masks are drawn for: its own index, or
 * RNN_RNG_BACKWARD_HALF + it for a backward half. */
static void emit_mask_layer(emitter *e, const gen_dir *d) {
    if (d->half) P("RNN_RNG_BACKWARD_HALF + %d", d->i);
    else P("%d", d->i);
}

/* Input dropout: the mask drawn in training and the dropped input (in place for layer 1). */
static void emit_input_dropout(emitter *e, const gen_dir *d, int backward) {
    const rnn_layer *ly = &e->m->layers[d->i];
    int T = ly->timesteps, F = ly->in_features, ps = plan_per_step_mask(ly), inplace = plan_xd_in_place(e->p, d->i);
    P("    rnn_real *xmask = w->xmask%s + (size_t)g * %zu, *xd = w->", d->tag, (size_t)(ps ? T : 1) * F * W);
    if (inplace) P("a0");
    else P("xd%s", d->tag);
    P(" + (size_t)g * %zu;%s\n", (size_t)T * F * W, inplace ? " /* in place */" : "");
    if (!backward) {
        P("    if (w->base.training) { /* dropout %g: one mask shared by all gates, %s */\n", ly->dropout,
          ps ? "a new one at every step (tf.keras 2.x)" : "the same at every step");
        P("        rnn_gen_draw_mask(xmask, ctx, RNN_RNG_DROPOUT, ");
        emit_mask_layer(e, d);
        P(", %d, %d, %d, ", ps ? T : 1, ps, F);
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

static void emit_recurrent_dropout(emitter *e, const gen_dir *d, int backward) {
    const rnn_layer *ly = &e->m->layers[d->i];
    int U = ly->units;
    P("    rnn_real *rmask = w->rmask%s + (size_t)g * %zu; /* recurrent dropout, one mask per sequence */\n", d->tag,
      (size_t)U * W);
    if (backward) return;
    P("    if (w->base.training) {\n        rnn_gen_draw_mask(rmask, ctx, RNN_RNG_RECURRENT_DROPOUT, ");
    emit_mask_layer(e, d);
    P(", 1, 0, %d, ", U);
    emit_double(e, ly->recurrent_dropout);
    P(", w->base.rows + (size_t)g * W);\n    } else {\n        for (int k = 0; k < %d * W; k++) rmask[k] = 1.0f;\n    }\n", U);
}

/* The backward's gradients: d loss / d output and input, the accumulators, the step's
 * temporaries. */
static void emit_backward_pointers(emitter *e, const gen_dir *d) {
    const int i = d->i;
    const rnn_model *m = e->m;
    const rnn_layer *ly = &m->layers[i];
    const rnn_tensor *K = gen_dir_tensor(m, d, RNN_T_KERNEL), *R = gen_dir_tensor(m, d, RNN_T_RECURRENT_KERNEL),
                     *B = gen_dir_tensor(m, d, RNN_T_RNN_BIAS);
    int T = ly->timesteps, F = ly->in_features, U = ly->units, G = ly->gates * U;
    P("    const rnn_real *dout = w->%s + (size_t)g * %zu; /* d loss / d output */\n", d->up, (size_t)(ly->out_seq ? T : 1) * U * W);
    int summed = plan_lane_summed(e->p, i);
    rnnc_grad_term terms[2];
    int r_summed = summed && gen_cell(ly)->recurrent_grads(e->p, i, terms) > 0;
    if (!plan_folded(e->p, i)) {
        P("    rnn_real *dx = w->%s + (size_t)g * %zu; /* d loss / d input */\n", d->dx, (size_t)T * F * W);
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
    if (ly->mask_in)
        P("    rnn_real *upm = w->mk%s + (size_t)g * %zu, *hcarry = upm + %d * W, *ccarry = hcarry + %d * W; /* mask_zero */\n"
          "    (void)ccarry;\n", d->tag, plan_size(e->p, "mk%s", d->tag), U, U);
}

static void emit_prologue(emitter *e, const gen_dir *d, int backward) {
    const int i = d->i;
    const rnn_layer *ly = &e->m->layers[i];
    int T = ly->timesteps, F = ly->in_features, U = ly->units, G = ly->gates * U, fold = plan_folded(e->p, i);
    emit_weights(e, d, backward);
    P("    rnn_real *h = w->h%s + (size_t)g * %zu;\n", d->tag, (size_t)T * U * W);
    gen_cell(ly)->state_pointers(e, i, d->tag, backward);
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
    if (plan_input_dropout(ly)) emit_input_dropout(e, d, backward);
    if (ly->recurrent_dropout > 0) emit_recurrent_dropout(e, d, backward);
    if (plan_hoisted(e->p, i) && !backward)
        P("    input_projection_%d(xk, x, K, B); /* one matrix product for all the steps */\n", i);
    if (backward) {
        emit_backward_pointers(e, d);
    } else {
        P("    rnn_real *xa = w->s%d + (size_t)g * %zu, *ha = xa + %d * W, *rh = ha + %d * W, *hn = rh + %d * W;\n", i,
          plan_size(e->p, "s%d", i), G, G, U);
        P("    (void)xa; (void)ha; (void)rh; (void)hn;\n");
    }
}

/* ---- the layer -------------------------------------------------------------------------------- */

void gen_recurrent_header(emitter *e, int i) {
    const rnn_layer *ly = &e->m->layers[i];
    P("/* ---- %s (%s", ly->name, rnn_layer_class_name(ly->kind));
    if (ly->wrapped) P(" of %s", rnn_layer_class_name(ly->wrapped));
    P("): (%d, %d) -> %s(%d) ----", ly->timesteps, ly->in_features, ly->return_sequences ? "sequence " : "", ly->out_features);
    if (ly->wrapped)
        P("\n * halves forward_%s (%d units, reads from the %s step) and backward_%s (from the %s), merge_mode %s",
          ly->wrapped_name, ly->units, ly->go_backwards ? "last" : "first", ly->wrapped_name, ly->go_backwards ? "first" : "last",
          rnn_merge_mode_name(ly->merge_mode));
    else if (ly->go_backwards) P("\n * go_backwards: reads the sequence from its last step");
    if (ly->dropout > 0) P("\n * dropout %g", ly->dropout);
    if (ly->recurrent_dropout > 0) P("\n * recurrent_dropout %g", ly->recurrent_dropout);
    const rnnc_cell *cell = gen_cell(ly);
    if (cell->comment) cell->comment(e, i);
    P(" */\n");
}

/* The recurrent kernel's gradient terms of a direction: a reversed direction's previous
 * state is the next one in memory. */
static int dir_recurrent_grads(const plan *p, const gen_dir *d, rnnc_grad_term *terms) {
    int nr = gen_cell(&p->m->layers[d->i])->recurrent_grads(p, d->i, terms);
    GEN_ASSERT(nr >= 0 && nr <= 2, "layer %s: %d recurrent kernel gradient terms", p->m->layers[d->i].name, nr);
    for (int k = 0; k < nr && d->reversed; k++)
        if (terms[k].g.shift == -1) terms[k].g.shift = 1;
    return nr;
}

/* The name of recurrent kernel gradient term k of n, for a reversed direction or not. */
static void recurrent_grad_name(char *buf, size_t len, int i, int k, int n, int reversed) {
    if (n == 1) snprintf(buf, len, "recurrent_kernel_grad_%d%s", i, reversed ? "_reversed" : "");
    else snprintf(buf, len, "recurrent_kernel_grad_%d_%d%s", i, k, reversed ? "_reversed" : "");
}

/* The lane-summed weight gradients of a large layer (rnn_gemm.h): K's and R's terms,
 * those with the same dz window in one rnn_wg_grads call (that window transposed once
 * for them), through a function of the layer's per window, weight_grads_I[_J], which
 * both halves of a bidirectional layer call (one copy of the inlined products). */
typedef struct {
    const char *acc, *a, *mask, *d;
    int rows, shift, d_stride, d_col0, cols, acc_col0;
} summed_term;

static int summed_terms(const plan *p, const gen_dir *d, summed_term *q) {
    const rnn_layer *ly = &p->m->layers[d->i];
    int F = ly->in_features, G = ly->gates * ly->units, n = 0;
    rnnc_grad_term rt[2];
    int nr = dir_recurrent_grads(p, d, rt);
    if (!plan_folded(p, d->i)) q[n++] = (summed_term){"sK", "x", NULL, "dzs", F, 0, G, 0, G, 0};
    for (int k = 0; k < nr; k++)
        q[n++] = (summed_term){"sR", rt[k].a, rt[k].g.masked ? "rmask" : NULL, rt[k].d, rt[k].g.rows, rt[k].g.shift,
                               rt[k].g.d_stride, rt[k].g.d_col0, rt[k].g.cols, rt[k].g.acc_col0};
    return n;
}

static int same_window(const summed_term *a, const summed_term *b) {
    return !strcmp(a->d, b->d) && a->d_col0 == b->d_col0 && a->cols == b->cols && a->d_stride == b->d_stride;
}

/* The terms' windows: group[k] is term k's window (windows numbered in order of first
 * use); returns how many there are. */
static int summed_windows(const summed_term *q, int n, int *group) {
    int groups = 0;
    for (int k = 0; k < n; k++) {
        group[k] = -1;
        for (int j = 0; j < k && group[k] < 0; j++)
            if (same_window(&q[j], &q[k])) group[k] = group[j];
        if (group[k] < 0) group[k] = groups++;
    }
    return groups;
}

static void weight_grads_name(char *buf, size_t len, int i, int window, int windows) {
    if (windows == 1) snprintf(buf, len, "weight_grads_%d", i);
    else snprintf(buf, len, "weight_grads_%d_%d", i, window);
}

static void emit_weight_grads_functions(emitter *e, int i) {
    const rnn_layer *ly = &e->m->layers[i];
    gen_dir d[2];   /* the windows are the same for every direction: the first's */
    gen_dirs(e->p, i, d);
    summed_term q[3];
    int n = summed_terms(e->p, &d[0], q), group[3], windows = summed_windows(q, n, group);
    for (int w = 0; w < windows; w++) {
        int first = -1, count = 0;
        for (int k = 0; k < n; k++)
            if (group[k] == w) count++, first = first < 0 ? k : first;
        char name[64];
        weight_grads_name(name, sizeof name, i, w, windows);
        P("/* %s's weight gradients from %s's window [%d, %d) (rnn_gemm.h), %d term%s */\n", ly->name, q[first].d,
          q[first].d_col0, q[first].d_col0 + q[first].cols, count, count > 1 ? "s" : "");
        P("RNN_NOINLINE static void %s(const rnn_wg_term *restrict terms, const rnn_real *restrict d, rnn_real *restrict dT,\n"
          "        rnn_real *restrict sums) {\n", name);
        P("    rnn_wg_grads(terms, %d, d, %d, %d, %d, %d, dT, sums);\n}\n\n", count, q[first].d_stride, q[first].d_col0,
          q[first].cols, ly->timesteps);
    }
}

static void emit_lane_summed_grads(emitter *e, const gen_dir *d) {
    const int i = d->i;
    const rnn_layer *ly = &e->m->layers[i];
    int G = ly->gates * ly->units;
    summed_term q[3];
    int n = summed_terms(e->p, d, q), group[3], windows = summed_windows(q, n, group);
    P("    /* the kernels' gradients over the steps and lanes: K += x_t^T dz_t, R += h_{t%s1}^T dz_t */\n",
      d->reversed ? "+" : "-");
    for (int w = 0; w < windows; w++) {
        P("    {\n        const rnn_wg_term terms[] = {");
        int count = 0, first = -1;
        for (int j = 0; j < n; j++) {
            if (group[j] != w) continue;
            first = first < 0 ? j : first;
            GEN_ASSERT(q[j].shift >= -1 && q[j].shift <= 1, "weight-gradient shift %d", q[j].shift);
            P("%s{%s + %d, %d, %s, %s, %d, %d}", count++ ? ", " : "", q[j].acc, q[j].acc_col0, G, q[j].a,
              q[j].mask ? q[j].mask : "NULL", q[j].rows, q[j].shift);
        }
        char name[64];
        weight_grads_name(name, sizeof name, i, w, windows);
        P("};\n        %s(terms, %s, w->wgd%d + (size_t)g * %zu, w->wgs%d + (size_t)g * %zu);\n    }\n", name, q[first].d, i,
          plan_size(e->p, "wgd%d", i), i, plan_size(e->p, "wgs%d", i));
    }
}

/* The layer's functions, which every direction calls: going forward the hoisted input
 * side and the forward step; going back the backward step and the weight-gradient
 * kernels over the steps (for each way the layer's directions read). */
void gen_recurrent_layer_functions(emitter *e, int i, int backward) {
    const rnn_layer *ly = &e->m->layers[i];
    int T = ly->timesteps, F = ly->in_features, G = ly->gates * ly->units;
    if (!backward) {
        if (plan_hoisted(e->p, i)) kir_input_side_functions(e, i);
        emit_step_function(e, i, 0);
        return;
    }
    emit_step_function(e, i, 1);
    if (plan_lane_summed(e->p, i)) {
        emit_weight_grads_functions(e, i);
        return;
    }
    kir_grad kg = {T, F, G, 0, 0, G, 0, G, 0};
    char name[64];
    snprintf(name, sizeof name, "kernel_grad_%d", i);
    if (!plan_folded(e->p, i)) kir_time_outer_function(e, name, &kg);
    gen_dir dirs[2];
    int nd = gen_dirs(e->p, i, dirs), emitted[2] = {0, 0};
    for (int j = 0; j < nd; j++) {
        if (emitted[dirs[j].reversed]) continue;
        emitted[dirs[j].reversed] = 1;
        rnnc_grad_term terms[2];
        int nr = dir_recurrent_grads(e->p, &dirs[j], terms);
        for (int k = 0; k < nr; k++) {
            recurrent_grad_name(name, sizeof name, i, k, nr, dirs[j].reversed);
            kir_time_outer_function(e, name, &terms[k].g);
        }
    }
}

static void emit_dir_backward(emitter *e, const gen_dir *d) {
    const int i = d->i;
    const rnn_layer *ly = &e->m->layers[i];
    rnnc_grad_term terms[2];
    int nr = dir_recurrent_grads(e->p, d, terms);
    P("static void backward_%s(workspace *w, const rnn_real *params, int g) {\n", d->tag);
    emit_prologue(e, d, 1);
    emit_time_loop(e, d, 1, 0, "    ");
    if (plan_hoisted(e->p, i))
        P("    input_grad_%d(dx, dzs, K%s); /* dx_t = dz_t . K^T for all the steps */\n", i,
          plan_input_dropout(ly) ? ", xmask" : "");
    if (plan_lane_summed(e->p, i)) {
        emit_lane_summed_grads(e, d);
        P("}\n\n");
        return;
    }
    P("    /* the kernels' gradients, summed over the steps: K += x_t^T dz_t, R += h_{t%s1}^T dz_t */\n",
      d->reversed ? "+" : "-");
    if (!plan_folded(e->p, i)) P("    kernel_grad_%d(aK, x, dzs);\n", i);
    char name[64];
    for (int k = 0; k < nr; k++) {
        recurrent_grad_name(name, sizeof name, i, k, nr, d->reversed);
        P("    %s(aR, %s, %s%s);\n", name, terms[k].a, terms[k].d, terms[k].g.masked ? ", rmask" : "");
    }
    P("}\n\n");
}

void gen_recurrent_dir_emit(emitter *e, const gen_dir *d, int backward) {
    const int i = d->i;
    const rnn_layer *ly = &e->m->layers[i];
    if (backward) {
        emit_dir_backward(e, d);
        return;
    }
    P("static void forward_%s(workspace *w, const rnn_real *params, int g, const rnn_dropout_ctx *ctx) {\n", d->tag);
    P("    (void)ctx;\n");
    if (plan_folded(e->p, i) && plan_packed(e->p, i)) P("    (void)params; /* everything it reads was made before the blocks */\n");
    emit_prologue(e, d, 0);
    emit_forward_steps(e, d);
    if (d->run_order_out) {
        int T = ly->timesteps, U = ly->units;
        P("    /* the output: the states in the order the steps ran, from x_%d's to x_0's */\n", T - 1);
        P("    rnn_real *out = w->a%d + (size_t)g * %zu;\n", i, plan_size(e->p, "a%d", i));
        P("    for (int t = 0; t < %d; t++)\n", T);
        P("        for (int k = 0; k < %d * W; k++) out[(size_t)t * %d * W + k] = h[(size_t)(%d - t) * %d * W + k];\n", U, U, T - 1,
          U);
    }
    P("}\n\n");
}

void gen_recurrent_emit(emitter *e, int i) {
    gen_dir d[2];
    GEN_ASSERT(gen_dirs(e->p, i, d) == 1, "layer %s has two directions", e->m->layers[i].name);
    gen_recurrent_header(e, i);
    gen_recurrent_layer_functions(e, i, 0);
    gen_recurrent_dir_emit(e, &d[0], 0);
    if (e->p->infer) return;
    gen_recurrent_layer_functions(e, i, 1);
    gen_recurrent_dir_emit(e, &d[0], 1);
}

void gen_recurrent_pack(emitter *e, int i) {
    const rnn_layer *ly = &e->m->layers[i];
    int U = ly->units, G = ly->gates * U;
    gen_dir dirs[2];
    int nd = gen_dirs(e->p, i, dirs);
    for (int j = 0; j < nd; j++) {
        const rnn_tensor *R = gen_dir_tensor(e->m, &dirs[j], RNN_T_RECURRENT_KERNEL);
        P("    { /* %s [%d, %d] in panels of %d columns */\n", R->name, U, G, KIR_PANEL);
        P("        const rnn_real *R = a->params + %zu;\n", R->offset);
        P("        for (int c0 = 0; c0 < %d; c0 += %d)\n", G, KIR_PANEL);
        P("            for (int r = 0; r < %d; r++)\n", U);
        P("                for (int c = 0; c < %d; c++)\n", KIR_PANEL);
        P("                    w->rp%s[((size_t)c0 / %d * %d + (size_t)r) * %d + (size_t)c] = c0 + c < %d ? R[(size_t)r * %d + (size_t)(c0 + c)] : 0.0f;\n",
          dirs[j].tag, KIR_PANEL, U, KIR_PANEL, G, G);
        P("    }\n");
    }
}
