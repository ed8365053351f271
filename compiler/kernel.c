/*
 * kernel.c — the kernel IR (see gen.h) and its printer.
 *
 * Straight-line kernels (within the unroll budget) are written on rnn_vec, the W lanes
 * of one element as one GNU C vector, and V(p), the vector at p. Written as a loop over
 * the lanes instead, clang hoists a broadcast of every weight out of that
 * one-iteration loop and spills them to the stack, then reads them back every step;
 * as vectors the weights stay broadcast operands of the multiply-adds. Output sums
 * advance together in groups of SUM_GROUP, one term at a time, so that that many
 * independent multiply-add chains are in flight; each output's sum is still taken in
 * the reference's order. Kernels over the budget are constant-bound loops, register-
 * blocked by 4.
 */
#include "gen.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUM_GROUP 8

/* ---- building ---------------------------------------------------------------------------- */

void kir_init(kir *k) { memset(k, 0, sizeof *k); }

void kir_free(kir *k) {
    for (int i = 0; i < k->n_ops; i++) free(k->ops[i].code);
    free(k->ops);
    memset(k, 0, sizeof *k);
}

void kir_lanes_decl(kir *k, const char *name, int len) {
    GEN_ASSERT(k->n_lanes < KIR_MAX_OPERANDS, "too many operands");
    GEN_ASSERT(len >= 0, "operand %s of negative length", name);
    k->lanes[k->n_lanes++] = (kir_lanes){name, len};
}

void kir_matrix_decl(kir *k, const char *name, int rows, int ld) {
    GEN_ASSERT(k->n_mats < (int)(sizeof k->mats / sizeof k->mats[0]), "too many matrices");
    k->mats[k->n_mats++] = (kir_matrix){name, rows, ld, 0};
}

void kir_packed_matrix_decl(kir *k, const char *name, int rows, int ld) {
    kir_matrix_decl(k, name, rows, ld);
    k->mats[k->n_mats - 1].packed = 1;
}

/* Where element (r, c) of a matrix is. */
static long matrix_index(int packed, int rows, int ld, int r, int c) {
    return packed ? ((long)(c / KIR_PANEL) * rows + r) * KIR_PANEL + c % KIR_PANEL : (long)r * ld + c;
}

/* The length of lane operand name (which must be declared). */
static int lanes_len(const kir *k, const char *name) {
    for (int i = 0; i < k->n_lanes; i++)
        if (!strcmp(k->lanes[i].name, name)) return k->lanes[i].len;
    gen_bug("lane operand %s is not declared", name);
}

static const kir_matrix *matrix(const kir *k, const char *name) {
    for (int i = 0; i < k->n_mats; i++)
        if (!strcmp(k->mats[i].name, name)) return &k->mats[i];
    gen_bug("matrix %s is not declared", name);
}

/* x[0, rows) times M's window [0, rows) x [col0, col0 + cols): both must be inside. */
static void check_term(const kir *k, const char *x, const char *mask, const char *M, int rows, int col0, int cols) {
    GEN_ASSERT(rows >= 0 && cols >= 0 && col0 >= 0, "negative sizes");
    GEN_ASSERT(lanes_len(k, x) >= rows, "%s has %d elements, the kernel reads %d", x, lanes_len(k, x), rows);
    if (mask) GEN_ASSERT(lanes_len(k, mask) >= rows, "mask %s is shorter than %d", mask, rows);
    const kir_matrix *mt = matrix(k, M);
    GEN_ASSERT(rows <= mt->rows && col0 + cols <= mt->ld, "%s [%d, %d] has no window [%d, %d + %d)", M, mt->rows, mt->ld,
               rows, col0, cols);
}

static kir_op *add_op(kir *k, kir_kind kind) {
    if (k->n_ops == k->cap) {
        int cap = k->cap ? 2 * k->cap : 16;
        kir_op *ops = realloc(k->ops, (size_t)cap * sizeof *ops);
        if (!ops) {
            fprintf(stderr, "rnnc: out of memory while generating code\n");
            exit(1);
        }
        k->ops = ops;
        k->cap = cap;
    }
    kir_op *op = &k->ops[k->n_ops++];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    return op;
}

void kir_project(kir *k, const char *y, int cols, const char *init, const kir_term *terms, int nterms) {
    GEN_ASSERT(nterms >= 1 && nterms <= 2, "a projection has one or two terms");
    GEN_ASSERT(lanes_len(k, y) >= cols, "%s is shorter than the %d outputs", y, cols);
    if (init && init[0] == '@') GEN_ASSERT(lanes_len(k, init + 1) >= cols, "%s is shorter than %d", init + 1, cols);
    for (int t = 0; t < nterms; t++)
        check_term(k, terms[t].x, terms[t].mask, terms[t].M, terms[t].rows, terms[t].col0, cols);
    kir_op *op = add_op(k, KIR_PROJECT);
    op->y = y;
    op->cols = cols;
    op->init = init;
    memcpy(op->terms, terms, (size_t)nterms * sizeof *terms);
    for (int t = 0; t < nterms; t++) {
        const kir_matrix *mt = matrix(k, terms[t].M);
        op->terms[t].ld = mt->ld;
        op->terms[t].mrows = mt->rows;
        op->terms[t].packed = mt->packed;
    }
    op->nterms = nterms;
}

void kir_back_product(kir *k, const char *y, int rows, const char *g, int cols, const char *M, int col0, const char *mask) {
    GEN_ASSERT(lanes_len(k, y) >= rows, "%s is shorter than %d", y, rows);
    check_term(k, g, NULL, M, 0, col0, cols);
    GEN_ASSERT(lanes_len(k, g) >= cols && matrix(k, M)->rows >= rows, "%s . %s^T out of range", g, M);
    if (mask) GEN_ASSERT(lanes_len(k, mask) >= rows, "mask %s is shorter than %d", mask, rows);
    kir_op *op = add_op(k, KIR_BACK_PRODUCT);
    op->y = y;
    op->rows = rows;
    op->cols = cols;
    op->g = g;
    op->M = M;
    op->ld = matrix(k, M)->ld;
    GEN_ASSERT(!matrix(k, M)->packed, "back product over packed %s", M);
    op->col0 = col0;
    op->mask = mask;
}

void kir_outer_acc(kir *k, const char *acc, const char *x, const char *mask, int rows, const char *g, int cols, int ld,
                   int col0) {
    GEN_ASSERT(lanes_len(k, acc) >= (rows - 1) * ld + col0 + cols, "accumulator %s too short", acc);
    GEN_ASSERT(col0 + cols <= ld, "columns past the row");
    GEN_ASSERT(lanes_len(k, x) >= rows && lanes_len(k, g) >= cols, "outer product operands too short");
    if (mask) GEN_ASSERT(lanes_len(k, mask) >= rows, "mask %s is shorter than %d", mask, rows);
    kir_op *op = add_op(k, KIR_OUTER_ACC);
    op->y = acc;
    op->x = x;
    op->mask = mask;
    op->rows = rows;
    op->g = g;
    op->cols = cols;
    op->ld = ld;
    op->col0 = col0;
}

static int is_ident_start(int c) { return isalpha(c) || c == '_'; }

/* Every identifier indexed with [ in code must be a declared operand or an array the
 * code declares itself ("name[" after a type). */
static void check_code(const kir *k, const char *code) {
    for (const char *p = code; *p;) {
        if (p[0] == '/' && p[1] == '*') {   /* comments may say anything */
            const char *end = strstr(p + 2, "*/");
            p = end ? end + 2 : p + strlen(p);
            continue;
        }
        if (!is_ident_start((unsigned char)*p) || (p > code && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))) {
            p++;
            continue;
        }
        const char *s = p;
        while (isalnum((unsigned char)*p) || *p == '_') p++;
        if (*p != '[') continue;
        char name[64];
        size_t n = (size_t)(p - s) < sizeof name - 1 ? (size_t)(p - s) : sizeof name - 1;
        memcpy(name, s, n);
        name[n] = 0;
        int known = 0;
        for (int i = 0; i < k->n_lanes && !known; i++) known = !strcmp(k->lanes[i].name, name);
        for (int i = 0; i < k->n_mats && !known; i++) known = !strcmp(k->mats[i].name, name);
        GEN_ASSERT(known, "element-wise code indexes %s, which is not an operand of the kernel", name);
    }
}

void kir_code(kir *k, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    GEN_ASSERT(n >= 0, "bad format");
    char *code = malloc((size_t)n + 1);
    if (!code) {
        fprintf(stderr, "rnnc: out of memory while generating code\n");
        exit(1);
    }
    va_start(ap, fmt);
    vsnprintf(code, (size_t)n + 1, fmt, ap);
    va_end(ap);
    check_code(k, code);
    kir_op *op = add_op(k, KIR_CODE);
    op->code = code;
}

/* ---- printing: straight-line sums -------------------------------------------------------------- */

/* One output sum of a group: "name = first terms" then "name += term". */
typedef void (*term_fn)(emitter *e, const kir_op *op, int out, int k);

static void print_grouped_sums(emitter *e, const kir_op *op, int outs, int nterms, term_fn term, const char *init,
                               int init_is_vec, const char *mask, const char *ind) {
    const char *y = op->y;
    for (int o0 = 0; o0 < outs; o0 += SUM_GROUP) {
        int n = outs - o0 < SUM_GROUP ? outs - o0 : SUM_GROUP;
        P("%s    {\n", ind);
        for (int j = 0; j < n; j++) {
            /* The first statement holds the initial value and the first term, or the
             * first two terms, exactly as the one-expression sum would start. */
            P("%s        rnn_vec sum%d = ", ind, j);
            int k = 0;
            if (init) {
                if (init_is_vec) P("V(%s + %d * W)", init, o0 + j);
                else P("%s[%d]", init, o0 + j);
            } else {
                term(e, op, o0 + j, k++);
            }
            if (k < nterms) {
                P(" + ");
                term(e, op, o0 + j, k++);
            }
            P(";\n");
        }
        for (int k = init ? 1 : 2; k < nterms; k++)
            for (int j = 0; j < n; j++) {
                P("%s        sum%d += ", ind, j);
                term(e, op, o0 + j, k);
                P(";\n");
            }
        for (int j = 0; j < n; j++) {
            if (mask) P("%s        V(%s + %d * W) = sum%d * V(%s + %d * W);\n", ind, y, o0 + j, j, mask, o0 + j);
            else P("%s        V(%s + %d * W) = sum%d;\n", ind, y, o0 + j, j);
        }
        P("%s    }\n", ind);
    }
    P("%s    RNN_LANES_STORED(%s);\n", ind, y);   /* y is read back element by element next */
}

static void projection_term(emitter *e, const kir_op *op, int c, int k) {
    int t = 0;
    while (k >= op->terms[t].rows) k -= op->terms[t++].rows;
    const kir_term *pt = &op->terms[t];
    P("%s%d * %s[%ld]", pt->x, k, pt->M, matrix_index(pt->packed, pt->mrows, pt->ld, k, pt->col0 + c));
}

/* the loads of x_k (times its mask) as vectors */
static void print_vector_loads(emitter *e, const char *x, const char *mask, int rows, const char *ind) {
    for (int r = 0; r < rows; r++) {
        if (mask) P("%s    const rnn_vec %s%d = V(%s + %d * W) * V(%s + %d * W);\n", ind, x, r, x, r, mask, r);
        else P("%s    const rnn_vec %s%d = V(%s + %d * W);\n", ind, x, r, x, r);
    }
}

/* ---- printing: loops ------------------------------------------------------------------------- */

/* A row-major matrix of at least this many floats is read with a prefetch PREFETCH_ROWS
 * rows ahead: a tile's column of weights is one cache line per row, a stride the
 * hardware prefetchers do not follow across pages. */
#define PREFETCH_MIN 32768
#define PREFETCH_ROWS 16

/* One loop over tiles of `tile` output columns, c from c0 to c1: the tile's sums stay in
 * vector registers over all the rows, one load of x and a broadcast weight per
 * multiply-add, `tile` independent chains. */
static void print_project_tiles(emitter *e, const kir_op *op, const kir_term *t, int first, int c0, int c1, int tile,
                                const char *ind) {
    const char *y = op->y;
    P("%sfor (int c = %d; c < %d; c += %d) {\n", ind, c0, c1, tile);
    P("%s    rnn_vec", ind);
    for (int j = 0; j < tile; j++) {   /* the first term's sums start from init, the others' from y */
        P("%s s%d = ", j ? "," : "", j);
        if (!first) P("V(%s + (c + %d) * W)", y, j);
        else if (op->init && op->init[0] == '@') P("V(%s + (c + %d) * W)", op->init + 1, j);
        else if (op->init) P("RNN_SPLAT(%s[c + %d])", op->init, j);
        else P("(rnn_vec){0}");
    }
    P(";\n%s    for (int r = 0; r < %d; r++) {\n", ind, t->rows);
    if (t->mask) P("%s        const rnn_vec xv = V(%s + r * W) * V(%s + r * W);\n", ind, t->x, t->mask);
    else P("%s        const rnn_vec xv = V(%s + r * W);\n", ind, t->x);
    if (t->packed) {
        P("%s        const rnn_real *m = %s + ((size_t)(%d + c) / %d * %d + (size_t)r) * %d + (%d + c) %% %d;\n", ind, t->M,
          t->col0, KIR_PANEL, t->mrows, KIR_PANEL, t->col0, KIR_PANEL);
    } else {
        P("%s        const rnn_real *m = %s + r * %d + %d + c;\n", ind, t->M, t->ld, t->col0);
        if ((long)t->mrows * t->ld >= PREFETCH_MIN)
            P("%s        __builtin_prefetch(m + (r + %d < %d ? %d : 0));\n", ind, PREFETCH_ROWS, t->rows, PREFETCH_ROWS * t->ld);
    }
    for (int j = 0; j < tile; j++) P("%s        s%d += xv * m[%d];\n", ind, j, j);
    P("%s    }\n", ind);
    for (int j = 0; j < tile; j++) P("%s    V(%s + (c + %d) * W) = s%d;\n", ind, y, j, j);
    P("%s}\n", ind);
}

/* The projection as loops: each term's tiles of 16 columns (a packed matrix's panels),
 * then 8, 4, 1 for the rest, the first term's from init, the next's from y; a packed
 * matrix's tiles never cross a panel. */
static void print_project_loops(emitter *e, const kir_op *op, const char *ind) {
    int cols = op->cols;
    for (int k = 0; k < op->nterms; k++) {
        const kir_term *t = &op->terms[k];
        for (int c0 = 0; c0 < cols;) {
            int at = (t->col0 + c0) % KIR_PANEL, left = cols - c0;
            int room = t->packed ? KIR_PANEL - at : left;   /* to the panel's end */
            int span = room < left ? room : left, tile;
            if (span >= 16 && (!t->packed || at == 0)) {
                tile = 16;
                span = t->packed ? left / 16 * 16 : span;
            } else {
                tile = span >= 8 ? 8 : span >= 4 ? 4 : 1;
            }
            int c1 = c0 + span / tile * tile;
            print_project_tiles(e, op, t, k == 0, c0, c1, tile, ind);
            c0 = c1;
        }
    }
}

static void print_project(emitter *e, const kir_op *op, const char *ind) {
    long work = 0;
    int nrows = 0;
    for (int k = 0; k < op->nterms; k++) {
        work += (long)op->terms[k].rows * op->cols;
        nrows += op->terms[k].rows;
    }
    if (!plan_unrolled(e->p, work, nrows, op->cols)) {
        print_project_loops(e, op, ind);
        return;
    }
    P("%s{\n", ind);
    for (int k = 0; k < op->nterms; k++) print_vector_loads(e, op->terms[k].x, op->terms[k].mask, op->terms[k].rows, ind);
    const char *init = op->init && op->init[0] == '@' ? op->init + 1 : op->init;
    print_grouped_sums(e, op, op->cols, nrows, projection_term, init, op->init && op->init[0] == '@', NULL, ind);
    P("%s}\n", ind);
}

static void back_term(emitter *e, const kir_op *op, int r, int c) {
    P("%s%d * %s[%d]", op->g, c, op->M, r * op->ld + op->col0 + c);
}

/* Tiles of 8 (then 4, then 1) output rows whose sums stay in vector registers over all
 * the columns: one load of g and a broadcast weight per multiply-add. */
static void print_back_loops(emitter *e, const kir_op *op, const char *ind) {
    const char *y = op->y, *g = op->g, *M = op->M, *mask = op->mask;
    int rows = op->rows, cols = op->cols, ld = op->ld, col0 = op->col0;
    for (int r0 = 0, tile = 8; r0 < rows; tile /= 2) {
        int r1 = r0 + (rows - r0) / tile * tile;
        if (r1 == r0) continue;
        P("%sfor (int r = %d; r < %d; r += %d) {\n", ind, r0, r1, tile);
        P("%s    rnn_vec", ind);
        for (int j = 0; j < tile; j++) P("%s s%d = {0}", j ? "," : "", j);
        P(";\n%s    const rnn_real *m0 = %s + r * %d + %d", ind, M, ld, col0);
        for (int j = 1; j < tile; j++) P(", *m%d = m0 + %d", j, j * ld);
        P(";\n%s    for (int c = 0; c < %d; c++) {\n", ind, cols);
        P("%s        const rnn_vec gv = V(%s + c * W);\n", ind, g);
        for (int j = 0; j < tile; j++) P("%s        s%d += gv * m%d[c];\n", ind, j, j);
        P("%s    }\n", ind);
        for (int j = 0; j < tile; j++) {
            if (mask) P("%s    V(%s + (r + %d) * W) = s%d * V(%s + (r + %d) * W);\n", ind, y, j, j, mask, j);
            else P("%s    V(%s + (r + %d) * W) = s%d;\n", ind, y, j, j);
        }
        P("%s}\n", ind);
        r0 = r1;
    }
}

static void print_back_product(emitter *e, const kir_op *op, const char *ind) {
    if (!plan_unrolled(e->p, (long)op->rows * op->cols, op->cols, op->rows)) {
        print_back_loops(e, op, ind);
        return;
    }
    P("%s{\n", ind);
    print_vector_loads(e, op->g, NULL, op->cols, ind);
    print_grouped_sums(e, op, op->rows, op->cols, back_term, NULL, 0, op->mask, ind);
    P("%s}\n", ind);
}

static void print_outer_acc(emitter *e, const kir_op *op, const char *ind) {
    const char *acc = op->y, *x = op->x, *mask = op->mask, *g = op->g;
    int rows = op->rows, cols = op->cols, ld = op->ld, col0 = op->col0;
    if (plan_unrolled(e->p, (long)rows * cols, (long)rows + cols, (long)rows * cols)) {
        P("%s{\n", ind);
        print_vector_loads(e, x, mask, rows, ind);
        print_vector_loads(e, g, NULL, cols, ind);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) P("%s    V(%s + %d * W) += %s%d * %s%d;\n", ind, acc, r * ld + col0 + c, x, r, g, c);
        P("%s}\n", ind);
        return;
    }
    P("%sfor (int r = 0; r < %d; r++) {\n", ind, rows);
    if (mask) P("%s    const rnn_vec xv = V(%s + r * W) * V(%s + r * W);\n", ind, x, mask);
    else P("%s    const rnn_vec xv = V(%s + r * W);\n", ind, x);
    P("%s    for (int c = 0; c < %d; c++) V(%s + (r * %d + %d + c) * W) += xv * V(%s + c * W);\n%s}\n", ind, cols, acc, ld, col0,
      g, ind);
}

void kir_print(emitter *e, const kir *k, const char *ind) {
    for (int i = 0; i < k->n_ops; i++) {
        const kir_op *op = &k->ops[i];
        switch (op->kind) {
        case KIR_PROJECT: print_project(e, op, ind); break;
        case KIR_BACK_PRODUCT: print_back_product(e, op, ind); break;
        case KIR_OUTER_ACC: print_outer_acc(e, op, ind); break;
        case KIR_CODE:
            for (const char *s = op->code; *s;) {   /* each line indented */
                const char *nl = strchr(s, '\n');
                size_t n = nl ? (size_t)(nl - s) : strlen(s);
                P("%s%.*s\n", ind, (int)n, s);
                s += n + (nl ? 1 : 0);
            }
            break;
        }
    }
}

/* ---- kernels over all the steps --------------------------------------------------------------- */

/* The largest of 4, 2, 1 that divides n: a register-block size. */
static int block_of(int n) { return n % 4 == 0 ? 4 : n % 2 == 0 ? 2 : 1; }

/* The partial sums of a rows x cols register tile, rnn_vec s<r><c> (zeroed if zero),
 * declared in one statement. */
static void print_tile_sums(emitter *e, const char *ind, int rows, int cols, int zero) {
    P("%srnn_vec", ind);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) P("%s s%d%d%s", r + c ? "," : "", r, c, zero ? " = {0}" : "");
    P(";\n");
}

/* Steps per chunk of a weight gradient's time loop: the chunk's a and d rows, CHUNK_BYTES
 * of them, stay in L1 while every tile passes over them. One chunk when fewer than 8
 * steps would fit (a large layer: the tiles' sums would be stored and reloaded too
 * often), or when the steps make less than two chunks. */
#define CHUNK_BYTES (60 * 1024)

static int time_chunk(int T, int A, int G) {
    int tc = CHUNK_BYTES / ((A + G) * W * (int)sizeof(float));
    return tc < 8 || 2 * tc > T ? T : tc;
}

void kir_time_outer_function(emitter *e, const char *name, const kir_grad *g) {
    const int T = g->T, A = g->rows, G = g->cols;
    GEN_ASSERT(T > 0 && A > 0 && G > 0 && g->shift >= -1 && g->shift <= 1, "bad weight-gradient kernel %s", name);
    GEN_ASSERT(g->d_col0 + G <= g->d_stride && g->acc_col0 + G <= g->acc_stride, "window of %s past its rows", name);
    int RB = block_of(A), CB = block_of(G);
    /* the steps t with a[t + shift]: [t0, T) shifted back, [0, T - 1) shifted forward */
    int t0 = g->shift < 0 ? -g->shift : 0, tn = g->shift > 0 ? T - g->shift : T, TC = time_chunk(tn, A, G);
    char dcol[32] = "", acol[32] = "";   /* the windows' first columns, when not 0 */
    if (g->d_col0) snprintf(dcol, sizeof dcol, "%d + ", g->d_col0);
    if (g->acc_col0) snprintf(acol, sizeof acol, "%d + ", g->acc_col0);
    P("static void %s(rnn_real *restrict acc, const rnn_real *restrict a, const rnn_real *restrict d%s) {\n", name,
      g->masked ? ", const rnn_real *restrict mask" : "");
    if (TC < tn) {
        P("    for (int t0 = %d; t0 < %d; t0 += %d) { /* chunks of steps that stay in L1 */\n", t0, tn, TC);
        P("        const int t1 = t0 + %d < %d ? t0 + %d : %d;\n", TC, tn, TC, tn);
    } else {
        P("    { /* the steps in one chunk */\n");
        P("        const int t0 = %d, t1 = %d;\n", t0, tn);
    }
    P("        for (int r0 = 0; r0 < %d; r0 += %d)\n", A, RB);
    P("            for (int c0 = 0; c0 < %d; c0 += %d) {\n", G, CB);
    print_tile_sums(e, "                ", RB, CB, 1);
    P("                for (int t = t0; t < t1; t++) {\n");
    if (g->shift > 0) P("                    const rnn_real *at = a + ((size_t)(t + %d) * %d + (size_t)r0) * W;\n", g->shift, A);
    else P("                    const rnn_real *at = a + ((size_t)(t - %d) * %d + (size_t)r0) * W;\n", t0, A);
    if (g->d_col0) P("                    const rnn_real *dt = d + ((size_t)t * %d + (size_t)(%sc0)) * W;\n", g->d_stride, dcol);
    else P("                    const rnn_real *dt = d + ((size_t)t * %d + (size_t)c0) * W;\n", g->d_stride);
    for (int r = 0; r < RB; r++) P("                    const rnn_vec a%d = V(at + %d * W);\n", r, r);
    for (int c = 0; c < CB; c++) P("                    const rnn_vec d%d = V(dt + %d * W);\n", c, c);
    for (int r = 0; r < RB; r++)
        for (int c = 0; c < CB; c++) P("                    s%d%d += a%d * d%d;\n", r, c, r, c);
    P("                }\n");
    for (int r = 0; r < RB; r++)
        for (int c = 0; c < CB; c++) {
            P("                V(acc + ((size_t)(r0 + %d) * %d + (size_t)(%sc0 + %d)) * W) += s%d%d", r, g->acc_stride, acol, c, r,
              c);
            if (g->masked) P(" * V(mask + (r0 + %d) * W)", r);   /* the mask is constant over time */
            P(";\n");
        }
    P("            }\n    }\n}\n\n");
}

/* input_projection_i: xk[t][c] = b[c] + Σ_r x[t][r] K[r][c], before the forward steps.
 * Register-blocked TB steps by CB columns: each broadcast weight feeds TB multiply-adds
 * and each lane vector CB; each sum in the reference's order (b, then r = 0, 1, ...). */
static void print_input_projection(emitter *e, int i, int T, int F, int G) {
    int TB = block_of(T), CB = block_of(G);
    P("static void input_projection_%d(rnn_real *restrict xk, const rnn_real *restrict x, const rnn_real *restrict K,\n"
      "                               const rnn_real *restrict B) {\n", i);
    P("    for (int t0 = 0; t0 < %d; t0 += %d)\n        for (int c0 = 0; c0 < %d; c0 += %d) {\n", T, TB, G, CB);
    print_tile_sums(e, "            ", TB, CB, 0);
    for (int c = 0; c < CB; c++) {
        P("            s0%d = RNN_SPLAT(B[c0 + %d]);\n", c, c);
        for (int a = 1; a < TB; a++) P("            s%d%d = s0%d;\n", a, c, c);
    }
    P("            for (int r = 0; r < %d; r++) {\n", F);
    P("                const rnn_real *xr = x + ((size_t)t0 * %d + (size_t)r) * W, *kr = K + (size_t)r * %d + c0;\n", F, G);
    for (int a = 0; a < TB; a++) P("                const rnn_vec x%d = V(xr + %d * W);\n", a, a * F);
    for (int a = 0; a < TB; a++)
        for (int c = 0; c < CB; c++) P("                s%d%d += x%d * kr[%d];\n", a, c, a, c);
    P("            }\n");
    for (int a = 0; a < TB; a++)
        for (int c = 0; c < CB; c++)
            P("            V(xk + ((size_t)(t0 + %d) * %d + (size_t)(c0 + %d)) * W) = s%d%d;\n", a, G, c, a, c);
    P("        }\n}\n\n");
}

/* input_grad_i: dx[t][r] = (Σ_c dz[t][c] K[r][c]) (times the input dropout mask), after
 * the backward steps; c = 0, 1, ... in order. */
static void print_input_grad(emitter *e, int i, int T, int F, int G, int masked, int per_step) {
    int TB = block_of(T), RB = block_of(F);
    P("static void input_grad_%d(rnn_real *restrict dx, const rnn_real *restrict dz, const rnn_real *restrict K%s) {\n", i,
      masked ? ", const rnn_real *restrict xm" : "");
    P("    for (int t0 = 0; t0 < %d; t0 += %d)\n        for (int r0 = 0; r0 < %d; r0 += %d) {\n", T, TB, F, RB);
    print_tile_sums(e, "            ", TB, RB, 1);
    P("            for (int c = 0; c < %d; c++) {\n", G);
    P("                const rnn_real *dc = dz + ((size_t)t0 * %d + (size_t)c) * W, *kc = K + (size_t)r0 * %d + c;\n", G, G);
    for (int a = 0; a < TB; a++) P("                const rnn_vec d%d = V(dc + %d * W);\n", a, a * G);
    for (int a = 0; a < TB; a++)
        for (int r = 0; r < RB; r++) P("                s%d%d += d%d * kc[%d];\n", a, r, a, r * G);
    P("            }\n");
    for (int a = 0; a < TB; a++)
        for (int r = 0; r < RB; r++) {
            P("            V(dx + ((size_t)(t0 + %d) * %d + (size_t)(r0 + %d)) * W) = s%d%d", a, F, r, a, r);
            if (masked && per_step) P(" * V(xm + ((size_t)(t0 + %d) * %d + (size_t)(r0 + %d)) * W)", a, F, r);
            else if (masked) P(" * V(xm + (size_t)(r0 + %d) * W)", r);
            P(";\n");
        }
    P("        }\n}\n\n");
}

void kir_input_side_functions(emitter *e, int i) {
    const rnn_layer *ly = &e->m->layers[i];
    int T = ly->timesteps, F = ly->in_features, G = ly->gates * ly->units;
    GEN_ASSERT(plan_hoisted(e->p, i), "layer %s is not hoisted", ly->name);
    print_input_projection(e, i, T, F, G);
    if (e->p->infer) return;
    print_input_grad(e, i, T, F, G, plan_input_dropout(ly), plan_per_step_mask(ly));
}

void kir_lanes_calls(emitter *e, int scatter, const char *vec, int n, const char *ind) {
    for (int c = 0; c < n; c += 16) {
        int k = n - c < 16 ? n - c : 16;
        if (scatter) P("%srnn_lanes_scatter_add16(rows, %d, %s + ((size_t)t * %d + %d) * W, %d);\n", ind, c, vec, n, c, k);
        else P("%srnn_lanes_gather16(%s + ((size_t)t * %d + %d) * W, rows, %d, %d);\n", ind, vec, n, c, c, k);
    }
}
