/*
 * gru.c — the GRU kind in the compiler: gru { units, dropout, recurrent_dropout,
 * return_sequences, reset_after, dropout_mask }, and its cell (columns z | r | h)
 *   reset_after:  n = tanh(x_t.K_h + b0_h + r (h_{t-1}.R_h + b1_h))
 *   otherwise:    n = tanh(x_t.K_h + b_h + (r h_{t-1}).R_h)
 *   h_t = z h_{t-1} + (1 - z) n
 * (runtime/layers/gru.c is the reference). R's gradient is summed after the backward
 * steps from vectors they keep: its column blocks see different vectors (dzh, or h and
 * r * h).
 */
#include "kinds.h"

#include <stdio.h>

static const rnnc_keyword keywords[] = {
    RNNC_RECURRENT_KEYWORDS("gru { 8 }"),
    {"reset_after", KW_BOOL, KW_FIELD(reset_after), 0, NULL, NULL, 0},
    {"dropout_mask", KW_ENUM, KW_FIELD(dropout_mask), 0, NULL, rnnc_dropout_mask_names, 0},
    {NULL, KW_INT, 0, 0, NULL, NULL, 0}};

/* Is R's gradient accumulated inside each backward step, per lane? When that outer
 * product is straight-line code its sums stay in registers, and it costs less than
 * storing the step's vectors for a kernel after the steps; a larger one would read and
 * write U x 3U x W floats of accumulator every step. */
static int grad_in_step(const plan *p, int i) {
    const rnn_layer *ly = &p->m->layers[i];
    return plan_unrolled(p, (long)ly->units * 3 * ly->units, (long)ly->units * 4, (long)ly->units * 3 * ly->units);
}

/* Besides the gates (and reset_after's recurrent candidate), what R's gradient needs
 * after the backward steps: reset_after, the recurrent side's dz of every step;
 * otherwise r * h_{t-1} of every step, the candidate's input. */
static void buffers(plan *p, int i, const char *tag) {
    const rnn_layer *ly = &p->m->layers[i];
    size_t T = (size_t)ly->timesteps, U = (size_t)ly->units;
    plan_add(p, T * 3 * U * W, 0, "gate activations [T][G*U][W]", "gates%s", tag);
    if (ly->reset_after) plan_add(p, T * U * W, 0, "recurrent candidate h.R_h + b [T][U][W]", "hh%s", tag);
    if (p->infer || grad_in_step(p, i)) return;
    if (ly->reset_after) plan_add(p, T * 3 * U * W, 0, "the recurrent side's dz of every step [T][G][W]", "dzhs%s", tag);
    else plan_add(p, T * U * W, 0, "r * h_{t-1} of every step [T][U][W]", "rhs%s", tag);
}

static void state_pointers(emitter *e, int i, const char *tag, int backward) {
    const rnn_layer *ly = &e->m->layers[i];
    size_t T = (size_t)ly->timesteps, U = (size_t)ly->units;
    P("    rnn_real *gates = w->gates%s + (size_t)g * %zu;\n", tag, T * 3 * U * W);
    if (ly->reset_after) P("    rnn_real *hh = w->hh%s + (size_t)g * %zu;\n", tag, T * U * W);
    if (!backward || grad_in_step(e->p, i)) return;
    if (ly->reset_after) P("    rnn_real *dzhs = w->dzhs%s + (size_t)g * %zu;\n", tag, T * 3 * U * W);
    else P("    rnn_real *rhs = w->rhs%s + (size_t)g * %zu;\n", tag, T * U * W);
}

static int operands(const plan *p, int i, int backward, step_operand *ops) {
    const rnn_layer *ly = &p->m->layers[i];
    int proj = plan_projected(p, i), ra = ly->reset_after;
    int n = gen_step_inputs(p, i, backward, SO_XA_IN, ra && !backward, ops);
    ops[n++] = SO_HP;
    ops[n++] = SO_GT;
    if (!backward) ops[n++] = SO_HT;
    if (ra) ops[n++] = SO_HHT;
    if (ly->recurrent_dropout > 0) ops[n++] = SO_RMASK;
    if (!backward) {
        if (!proj) ops[n++] = SO_XA;
        ops[n++] = SO_HA;
        if (!ra) {
            ops[n++] = SO_RH;
            ops[n++] = SO_HN;
        }
        return n;
    }
    n += gen_step_gradients(p, i, ops + n);
    if (ra) ops[n++] = grad_in_step(p, i) ? SO_DZH : SO_DZHS;
    ops[n++] = SO_DHD;
    if (!ra) {
        ops[n++] = SO_DRH;
        ops[n++] = grad_in_step(p, i) ? SO_RH : SO_RHS;
    }
    if (grad_in_step(p, i)) ops[n++] = SO_AR;
    if (!plan_folded(p, i) || ra) ops[n++] = SO_AB;
    return n;
}

static void forward_reset_after(const plan *p, int i, kir *k) {
    const rnn_layer *ly = &p->m->layers[i];
    int F = ly->in_features, U = ly->units, G = 3 * U;
    const char *rm = gen_rmask(ly);
    kir_term xterm = {"xt", NULL, "K", F, 0, 0, 0, 0}, hterm = {"hp", rm, "R", U, 0, 0, 0, 0}, hterm_h = {"hp", rm, "R", U, 2 * U, 0, 0, 0};
    kir_code(k, "/* xa = b[0] + x_t.K; ha = b[1] + h_{t-1}.R; columns z | r | h */");
    if (!plan_projected(p, i)) kir_project(k, "xa", G, "B", &xterm, 1);
    /* the candidate's part, b[1]_h + h_{t-1}.R_h, goes straight to hht, which the
     * backward pass keeps */
    kir_project(k, "ha", 2 * U, "B1", &hterm, 1);
    static char b1h[32];
    snprintf(b1h, sizeof b1h, "(B1 + %d)", 2 * U);
    kir_project(k, "hht", U, b1h, &hterm_h, 1);
    /* z | r in one loop over both gates (independent vectors side by side), then the
     * candidate, which needs r */
    kir_code(k, "for (int k = 0; k < %d * W; k++) gt[k] = rnn_fast_sigmoidf(xa[k] + ha[k]);", 2 * U);
    kir_code(k,
             "for (int k = 0; k < %d * W; k++) {\n"
             "    const rnn_real zg = gt[k], rg = gt[%d * W + k];\n"
             "    const rnn_real ng = rnn_fast_tanhf(xa[%d * W + k] + rg * hht[k]);\n"
             "    gt[%d * W + k] = ng;\n"
             "    ht[k] = zg * hp[k] + (1.0f - zg) * ng;\n"
             "}",
             U, U, 2 * U, 2 * U);
}

static void forward_reset_before(const plan *p, int i, kir *k) {
    const rnn_layer *ly = &p->m->layers[i];
    int F = ly->in_features, U = ly->units, G = 3 * U;
    const char *rm = gen_rmask(ly);
    kir_term xterm = {"xt", NULL, "K", F, 0, 0, 0, 0}, hterm = {"hp", rm, "R", U, 0, 0, 0, 0}, rterm = {"rh", NULL, "R", U, 2 * U, 0, 0, 0};
    kir_code(k, "/* xa = b + x_t.K; ha = h_{t-1}.R for z | r; the candidate gets (r * h_{t-1}).R_h */");
    if (!plan_projected(p, i)) kir_project(k, "xa", G, "B", &xterm, 1);
    kir_project(k, "ha", 2 * U, NULL, &hterm, 1);
    kir_code(k,
             "for (int k = 0; k < %d * W; k++) {\n"
             "    gt[k] = rnn_fast_sigmoidf(xa[k] + ha[k]);\n"
             "    gt[%d * W + k] = rnn_fast_sigmoidf(xa[%d * W + k] + ha[%d * W + k]);\n"
             "    rh[k] = gt[%d * W + k] * hp[k]%s;\n"
             "}",
             U, U, U, U, U, rm ? " * rmask[k]" : "");
    kir_project(k, "hn", U, NULL, &rterm, 1);
    kir_code(k,
             "for (int u = 0; u < %d; u++)\n"
             "    for (int l = 0; l < W; l++) {\n"
             "        const rnn_real zg = gt[u * W + l], rg = gt[(%d + u) * W + l];\n"
             "        const rnn_real ng = rnn_fast_tanhf(xa[(%d + u) * W + l] + hn[u * W + l]);\n"
             "        gt[u * W + l] = zg;\n"
             "        gt[(%d + u) * W + l] = rg;\n"
             "        gt[(%d + u) * W + l] = ng;\n"
             "        ht[u * W + l] = zg * hp[u * W + l] + (1.0f - zg) * ng;\n"
             "    }",
             U, U, 2 * U, U, 2 * U);
}

static void forward_step(const plan *p, int i, kir *k) {
    if (p->m->layers[i].reset_after) forward_reset_after(p, i, k);
    else forward_reset_before(p, i, k);
}

/* dx_t = dz . K^T (times the input mask), unless the input side is done elsewhere */
static void input_side(const plan *p, int i, kir *k) {
    const rnn_layer *ly = &p->m->layers[i];
    if (plan_projected(p, i)) return;
    kir_code(k, "/* dx_t = dz . K^T%s (K's gradient is summed over the steps afterwards) */",
             plan_input_dropout(ly) ? ", times the input dropout mask" : "");
    kir_back_product(k, "dxt", ly->in_features, "dz", 3 * ly->units, "K", 0, plan_input_dropout(ly) ? "xm" : NULL);
}

static void backward_reset_after(const plan *p, int i, kir *k) {
    const rnn_layer *ly = &p->m->layers[i];
    int U = ly->units, G = 3 * U;
    const char *rm = gen_rmask(ly);
    if (plan_folded(p, i)) {
        kir_code(k, "for (int k = 0; k < %d * W; k++) aB[%d * W + k] += dzh[k];", G, G);
    } else {
        kir_code(k, "for (int k = 0; k < %d * W; k++) {\n    aB[k] += dz[k];\n    aB[%d * W + k] += dzh[k];\n}", G, G);
        input_side(p, i, k);
    }
    if (grad_in_step(p, i)) {
        kir_code(k, "/* dh_{t-1} = z * dh + (dzh . R^T)%s; per-lane R += h_{t-1}^T dzh */", rm ? " * mask" : "");
        kir_back_product(k, "dhn", U, "dzh", G, "R", 0, NULL);
        kir_outer_acc(k, "aR", "hp", rm, U, "dzh", G, G, 0);
    } else {
        kir_code(k, "/* dh_{t-1} = z * dh + (dzh . R^T)%s (R's gradient is summed over the steps afterwards) */",
                 rm ? " * mask" : "");
        kir_back_product(k, "dhn", U, "dzh", G, "R", 0, NULL);
    }
    kir_code(k, "for (int k = 0; k < %d * W; k++) dhn[k] = dhd[k] + dhn[k]%s;", U, rm ? " * rmask[k]" : "");
}

static void backward_reset_before(const plan *p, int i, kir *k) {
    const rnn_layer *ly = &p->m->layers[i];
    int U = ly->units, G = 3 * U;
    const char *rm = gen_rmask(ly);
    kir_lanes_decl(k, "dzn", U);
    kir_code(k, "const rnn_real *dzn = dz + %d * W; /* the candidate's gradient */", 2 * U);
    kir_code(k, "/* d(r * h) = dzn . R_h^T */");
    kir_back_product(k, "drh", U, "dzn", U, "R", 2 * U, NULL);
    kir_code(k,
             "for (int k = 0; k < %d * W; k++) {\n"
             "    const rnn_real rg = gt[%d * W + k], hm = hp[k]%s;\n"
             "    dz[%d * W + k] = drh[k] * hm * rg * (1.0f - rg);\n"
             "    rh[k] = rg * hm;\n"
             "}",
             U, U, rm ? " * rmask[k]" : "", U);
    if (!plan_folded(p, i)) kir_code(k, "for (int k = 0; k < %d * W; k++) aB[k] += dz[k];", G);
    input_side(p, i, k);
    kir_code(k, "/* dh_{t-1} = z * dh + (dz[z|r] . R[z|r]^T + r * d(r * h))%s */", rm ? " * mask" : "");
    kir_back_product(k, "dhn", U, "dz", 2 * U, "R", 0, NULL);
    kir_code(k, "for (int k = 0; k < %d * W; k++) dhn[k] = dhd[k] + (dhn[k] + drh[k] * gt[%d * W + k])%s;", U, U,
             rm ? " * rmask[k]" : "");
    if (!grad_in_step(p, i)) return;
    kir_code(k, "/* per-lane R[z|r] += h_{t-1}^T dz[z|r], R_h += (r * h_{t-1})^T dzn */");
    kir_outer_acc(k, "aR", "hp", rm, U, "dz", 2 * U, G, 0);
    kir_outer_acc(k, "aR", "rh", NULL, U, "dzn", U, G, 2 * U);
}

static void backward_step(const plan *p, int i, kir *k) {
    const rnn_layer *ly = &p->m->layers[i];
    int U = ly->units, ra = ly->reset_after;
    char reset[512] = "";   /* reset_after: the reset gate's part, inside the same loop */
    if (ra)
        snprintf(reset, sizeof reset,
                 "        const rnn_real rg = gt[(%d + u) * W + l];\n"
                 "        dz[(%d + u) * W + l] = dan * hht[u * W + l] * rg * (1.0f - rg);\n"
                 "        dzh[u * W + l] = dz[u * W + l];\n"
                 "        dzh[(%d + u) * W + l] = dz[(%d + u) * W + l];\n"
                 "        dzh[(%d + u) * W + l] = dan * rg;\n",
                 U, U, U, U, 2 * U);
    kir_code(k,
             "for (int u = 0; u < %d; u++)\n"
             "    for (int l = 0; l < W; l++) {\n"
             "        const rnn_real dh = dhn[u * W + l] + up[u * W + l];\n"
             "        const rnn_real zg = gt[u * W + l], ng = gt[(%d + u) * W + l];\n"
             "        const rnn_real dan = dh * (1.0f - zg) * (1.0f - ng * ng);\n"
             "        dz[u * W + l] = dh * (hp[u * W + l] - ng) * zg * (1.0f - zg);\n"
             "        dz[(%d + u) * W + l] = dan;\n"
             "        dhd[u * W + l] = dh * zg; /* the direct path z * h_{t-1} */\n"
             "%s"
             "    }",
             U, 2 * U, 2 * U, reset);
    if (ra) backward_reset_after(p, i, k);
    else backward_reset_before(p, i, k);
}

/* R[z|r] += h_{t-1}^T dz[z|r] and R_h += (r * h_{t-1})^T dzn, or with reset_after
 * R += h_{t-1}^T dzh, over the steps */
static int recurrent_grads(const plan *p, int i, rnnc_grad_term *terms) {
    const rnn_layer *ly = &p->m->layers[i];
    int T = ly->timesteps, U = ly->units, G = 3 * U, rm = ly->recurrent_dropout > 0;
    if (grad_in_step(p, i)) return 0;
    if (ly->reset_after) {
        terms[0] = (rnnc_grad_term){"h", "dzhs", {T, U, G, -1, rm, G, 0, G, 0}};
        return 1;
    }
    terms[0] = (rnnc_grad_term){"h", "dzs", {T, U, 2 * U, -1, rm, G, 0, G, 0}};
    terms[1] = (rnnc_grad_term){"rhs", "dzs", {T, U, U, 0, 0, G, 2 * U, G, 2 * U}};
    return 2;
}

static void comment(emitter *e, int i) { P("\n * reset_after = %s", e->m->layers[i].reset_after ? "true" : "false"); }

static const rnnc_cell cell = {buffers, state_pointers, operands, forward_step, backward_step, recurrent_grads, comment};

const rnnc_kind rnnc_kind_gru = {keywords, gen_recurrent_plan, gen_recurrent_emit, &cell, gen_recurrent_kernel_shapes};
