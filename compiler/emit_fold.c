/*
 * emit_fold.c — the folded embedding table of a generated trainer.
 *
 * When the first recurrent layer reads the embedding without dropout in between,
 * b + E[v].K is the same for every occurrence of token v: the trainer builds the table
 * ek[v] = b + E[v].K once per batch (exact in real arithmetic), the layer's steps read
 * their input projection from it, and its backward scatters dz into the table's
 * gradient dek, from which the sums after the blocks make dE = dek.K^T, dK = E^T dek
 * and db = sum of dek over the rows that the batch touched.
 */
#include "gen.h"

static void emit_fold_table(emitter *e, int F1, int G1) {
    /* The row as G1/vw vectors and K loaded once: the same operations in the same order
     * as the loops (so the same bits with either compiler), which gcc vectorizes across
     * rows with permutes otherwise. Rows of 8 or of a multiple of 16 only: other rows
     * keep the loops. */
    const int vw = G1 % 16 == 0 && G1 <= 64 ? 16 : G1 == 8 ? 8 : 0; /* floats per vector */
    const int nv = vw ? G1 / vw : 0;
    if (vw) P("/* ek[v] = b + E[v].K for the rows v0 <= v < v1, a row as %d vector%s of %d */\n", nv, nv > 1 ? "s" : "", vw);
    else P("/* ek[v] = b + E[v].K for the rows v0 <= v < v1: restrict parameters, so the rows vectorize */\n");
    P("static void fold_table(rnn_real *restrict ek, const rnn_real *restrict E, const rnn_real *restrict K,\n"
      "                       const rnn_real *restrict B, int v0, int v1) {\n");
    if (vw) {
        P("    typedef rnn_real rowv __attribute__((vector_size(%d * sizeof(rnn_real))));\n", vw);
        P("    rowv k[%d][%d], b[%d];\n", F1, nv, nv);
        P("    memcpy(b, B, sizeof b);\n");
        P("    memcpy(k, K, sizeof k);\n");
        P("    for (int v = v0; v < v1; v++) {\n");
        P("        rowv s[%d];\n", nv);
        P("        for (int c = 0; c < %d; c++) s[c] = b[c];\n", nv);
        P("        for (int f = 0; f < %d; f++)\n", F1);
        P("            for (int c = 0; c < %d; c++) s[c] += E[(size_t)v * %d + f] * k[f][c];\n", nv, F1);
        P("        memcpy(ek + (size_t)v * %d, s, sizeof s);\n    }\n}\n\n", G1);
        return;
    }
    P("    for (int v = v0; v < v1; v++) {\n");
    P("        rnn_real *row = ek + (size_t)v * %d;\n", G1);
    P("        for (int j = 0; j < %d; j++) row[j] = B[j];\n", G1);
    P("        for (int f = 0; f < %d; f++) {\n", F1);
    P("            const rnn_real x = E[(size_t)v * %d + f];\n", F1);
    P("            for (int j = 0; j < %d; j++) row[j] += x * K[f * %d + j];\n        }\n    }\n}\n\n", G1, G1);
}

/* prepare(): the table rebuilt unless K, b and E are bit for bit those of its last build
 * (an evaluation's batches); a training step changes them before the next forward, so
 * a table built in training is not remembered. */
static void emit_prepare(emitter *e, const rnn_tensor *E, const rnn_tensor *K1, const rnn_tensor *B1, int F1, int G1) {
    const int V = e->m->vocab;
    size_t nE = (size_t)V * (size_t)F1, nK = (size_t)F1 * (size_t)G1;
    P("/* the table in RNN_GEN_TAIL_CHUNKS row ranges, one task each */\n");
    P("static void fold_table_chunk(void *arg, int c) {\n    const rnn_gen_batch *a = arg;\n    workspace *w = a->w;\n");
    P("    fold_table(w->ek, a->params + %zu, a->params + %zu, a->params + %zu, c * %d / RNN_GEN_TAIL_CHUNKS,\n"
      "               (c + 1) * %d / RNN_GEN_TAIL_CHUNKS);\n}\n\n", E->offset, K1->offset, B1->offset, V, V);
    P("/* Is ek the table of these K, b and E? (the inputs of its last build, compared bit for bit) */\n");
    P("static int fold_table_current(const workspace *w, const rnn_real *params) {\n");
    P("    return w->ek_built && !memcmp(w->ek_from, params + %zu, %zu * sizeof *params) &&\n", K1->offset, nK);
    P("           !memcmp(w->ek_from + %zu, params + %zu, %d * sizeof *params) &&\n", nK, B1->offset, G1);
    P("           !memcmp(w->ek_from + %zu, params + %zu, %zu * sizeof *params);\n}\n\n", nK + (size_t)G1, E->offset, nE);
    P("static void fold_table_remember(workspace *w, const rnn_real *params) {\n");
    P("    memcpy(w->ek_from, params + %zu, %zu * sizeof *params);\n", K1->offset, nK);
    P("    memcpy(w->ek_from + %zu, params + %zu, %d * sizeof *params);\n", nK, B1->offset, G1);
    P("    memcpy(w->ek_from + %zu, params + %zu, %zu * sizeof *params);\n", nK + (size_t)G1, E->offset, nE);
    P("    w->ek_built = 1;\n}\n\n");
    P("/* before the blocks: the embedding folded into %s's input projection */\n", e->m->layers[1].name);
    P("static void fold_prepare(rnn_gen_batch *a) {\n    workspace *w = a->w;\n");
    P("    if (fold_table_current(w, a->params)) return;\n");
    P("    rnn_parallel_for(RNN_GEN_TAIL_CHUNKS, fold_table_chunk, a);\n");
    P("    if (w->base.training) w->ek_built = 0;\n    else fold_table_remember(w, a->params);\n}\n\n");
}

/* A row chunk's part of dK = sum over v of E[v]^T dek[v] and of db = sum of dek[v]. */
static void emit_fold_kernel_part(emitter *e, int F1, int G1) {
    P("/* A row chunk's part of dK = sum over v of E[v]^T dek[v] and of db = sum of dek[v]: its\n"
      " * touched rows in order, four rows of K at a time (the sums do not wait on one\n"
      " * another). fold_kernel_sum adds the chunks' parts in chunk order. */\n");
    P("static void fold_kernel_part(rnn_real *restrict part, const rnn_real *restrict dek, const rnn_real *restrict E,\n"
      "                             const int *restrict list, int n) {\n");
    P("    for (int f0 = 0; f0 < %d; f0 += 4) {\n", F1);
    P("        const int nf = %d - f0 < 4 ? %d - f0 : 4;\n", F1, F1);
    P("        /* rows past the last one (when %d is not a multiple of 4) repeat it; not stored */\n", F1);
    P("        const int f1 = f0 + 1 < %d ? f0 + 1 : %d, f2 = f0 + 2 < %d ? f0 + 2 : %d, f3 = f0 + 3 < %d ? f0 + 3 : %d;\n", F1,
      F1 - 1, F1, F1 - 1, F1, F1 - 1);
    P("        rnn_real s0[%d] = {0}, s1[%d] = {0}, s2[%d] = {0}, s3[%d] = {0};\n", G1, G1, G1, G1);
    P("        for (int i = 0; i < n; i++) {\n");
    P("            const rnn_real *d = dek + (size_t)list[i] * %d, *x = E + (size_t)list[i] * %d;\n", G1, F1);
    P("            const rnn_real x0 = x[f0], x1 = x[f1], x2 = x[f2], x3 = x[f3];\n");
    P("            for (int j = 0; j < %d; j++) {\n", G1);
    P("                s0[j] += x0 * d[j];\n                s1[j] += x1 * d[j];\n");
    P("                s2[j] += x2 * d[j];\n                s3[j] += x3 * d[j];\n            }\n        }\n");
    P("        rnn_real *out = part + (size_t)f0 * %d;\n", G1);
    P("        for (int j = 0; j < %d; j++) {\n", G1);
    P("            out[j] = s0[j];\n");
    P("            if (nf > 1) out[%d + j] = s1[j];\n", G1);
    P("            if (nf > 2) out[%d + j] = s2[j];\n", 2 * G1);
    P("            if (nf > 3) out[%d + j] = s3[j];\n        }\n    }\n", 3 * G1);
    P("    rnn_real sb[%d] = {0};\n", G1);
    P("    for (int i = 0; i < n; i++)\n");
    P("        for (int j = 0; j < %d; j++) sb[j] += dek[(size_t)list[i] * %d + j];\n", G1, G1);
    P("    for (int j = 0; j < %d; j++) part[%d + j] = sb[j];\n}\n\n", G1, F1 * G1);
}

/* dE[v] = dek_sum[v].K^T for the touched rows of the chunk, four rows at a time. */
static void emit_fold_rows_de(emitter *e, int F1, int G1) {
    P("    /* dE[v] = dek_sum[v].K^T, each summed over j in order; four rows at a time, so that\n"
      "     * the sums do not wait on one another */\n");
    P("    for (int i = 0; i < n; i += 4) {\n");
    P("        const int nr = n - i < 4 ? n - i : 4;\n");
    P("        const rnn_real *d[4];\n");
    P("        for (int r = 0; r < 4; r++) d[r] = w->dek_sum + (size_t)list[i + (r < nr ? r : 0)] * %d;\n", G1);
    P("        rnn_real e0[%d] = {0}, e1[%d] = {0}, e2[%d] = {0}, e3[%d] = {0}; /* named: kept in registers */\n", F1, F1, F1,
      F1);
    P("        for (int j = 0; j < %d; j++)\n", G1);
    P("            for (int f = 0; f < %d; f++) {\n", F1);
    P("                e0[f] += d[0][j] * KT[j * %d + f];\n                e1[f] += d[1][j] * KT[j * %d + f];\n", F1, F1);
    P("                e2[f] += d[2][j] * KT[j * %d + f];\n                e3[f] += d[3][j] * KT[j * %d + f];\n", F1, F1);
    P("            }\n");
    for (int r = 0; r < 4; r++) {
        if (r == 0) P("        {\n");
        else P("        if (nr > %d) {\n", r);
        P("            rnn_real *dEv = dE + (size_t)list[i + %d] * %d;\n", r, F1);
        P("            for (int f = 0; f < %d; f++) dEv[f] = e%d[f];\n        }\n", F1, r);
    }
    P("    }\n");
}

static void emit_fold_rows_chunk(emitter *e, const rnn_tensor *E, const rnn_tensor *K1, int F1, int G1) {
    const int V = e->m->vocab;
    P("/* The folded table's rows of chunk c: dek[v] summed over the blocks (into dek_sum: a row\n"
      " * chunk's task writes only what the same task reads), dE[v] = dek_sum[v].K^T, and the\n"
      " * chunk's part of dK and db */\n");
    P("static void fold_rows_chunk(const rnn_gen_tail *t, int c) {\n    workspace *w = t->w;\n");
    P("    const rnn_real *K = t->params + %zu;\n", K1->offset);
    P("    rnn_real KT[%d * %d]; /* K transposed, so dE's rows vectorize */\n", G1, F1);
    P("    for (int f = 0; f < %d; f++)\n        for (int j = 0; j < %d; j++) KT[j * %d + f] = K[f * %d + j];\n", F1, G1, F1,
      G1);
    P("    rnn_real *dE = t->grads + %zu;\n", E->offset);
    P("    const int v0 = c * %d / RNN_GEN_TAIL_CHUNKS, v1 = (c + 1) * %d / RNN_GEN_TAIL_CHUNKS;\n", V, V);
    P("    int list[%d], n = 0; /* the rows touched in this batch */\n", (V + 7) / 8);
    P("    for (int v = v0; v < v1; v++) {\n");
    P("        rnn_real d[%d] = {0};\n        int any = 0;\n", G1);
    P("        /* every block's row, in block order: a row a block did not touch is zeros (a\n"
      "         * test per block would be a branch the CPU cannot predict) */\n");
    P("        for (int g = 0; g < t->nblk; g++) {\n");
    P("            any |= w->touched[(size_t)g * %d + v] != 0.0f;\n", V);
    P("            const rnn_real *r = w->dek + ((size_t)g * %d + (size_t)v) * %d;\n", V, G1);
    P("            for (int j = 0; j < %d; j++) d[j] += r[j];\n        }\n", G1);
    P("        if (!any) { /* (every row is written here: the backward zeroes nothing first) */\n");
    P("            memset(dE + (size_t)v * %d, 0, %d * sizeof *dE);\n            continue;\n        }\n", F1, F1);
    P("        list[n++] = v;\n");
    P("        rnn_real *row = w->dek_sum + (size_t)v * %d;\n", G1);
    P("        for (int j = 0; j < %d; j++) row[j] = d[j];\n    }\n", G1);
    emit_fold_rows_de(e, F1, G1);
    P("    fold_kernel_part(w->fk + (size_t)c * %d, w->dek_sum, t->params + %zu, list, n);\n", F1 * G1 + G1, E->offset);
    P("    rnn_gen_step_range(t, %zu + (size_t)v0 * %d, %zu + (size_t)v1 * %d); /* its rows of E, read above */\n}\n\n",
      E->offset, F1, E->offset, F1);
}

/* fold_finish(): dK and db, the row chunks' parts added in chunk order after the tail's
 * tasks (which read K), then their step. */
static void emit_fold_finish(emitter *e, const rnn_tensor *K1, const rnn_tensor *B1, int F1, int G1) {
    P("static void fold_finish(rnn_gen_tail *t) {\n    const workspace *w = t->w;\n");
    P("    rnn_real *dK = t->grads + %zu, *db = t->grads + %zu;\n", K1->offset, B1->offset);
    P("    for (int c = 0; c < RNN_GEN_TAIL_CHUNKS; c++) {\n");
    P("        const rnn_real *part = w->fk + (size_t)c * %d;\n", F1 * G1 + G1);
    P("        for (int k = 0; k < %d; k++) dK[k] += part[k];\n", F1 * G1);
    P("        for (int j = 0; j < %d; j++) db[j] += part[%d + j];\n    }\n", G1, F1 * G1);
    P("    rnn_gen_step_range(t, %zu, %zu);\n", K1->offset, K1->offset + K1->size);
    P("    rnn_gen_step_range(t, %zu, %zu);\n}\n\n", B1->offset, B1->offset + B1->size);
}

void emit_fold(emitter *e) {
    const rnn_model *m = e->m;
    const rnn_layer *l1 = &m->layers[1];
    int F1 = l1->in_features, G1 = l1->gates * l1->units;
    const rnn_tensor *E = plan_tensor(m, 0, RNN_T_EMBEDDINGS), *K1 = plan_tensor(m, 1, RNN_T_KERNEL),
                     *B1 = plan_tensor(m, 1, RNN_T_RNN_BIAS);
    GEN_ASSERT(e->p->fold && plan_recurrent(l1), "no folded table here");
    P("/* ==== the folded embedding table ==== */\n\n");
    emit_fold_table(e, F1, G1);
    emit_prepare(e, E, K1, B1, F1, G1);
    emit_fold_kernel_part(e, F1, G1);
    emit_fold_rows_chunk(e, E, K1, F1, G1);
    emit_fold_finish(e, K1, B1, F1, G1);
}
