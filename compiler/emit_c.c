/*
 * emit_c.c — rnn_model → one C file specialized to that model.
 *
 * The generated file implements the model interface (rnn_model_ops of rnnrt.h) with
 * every size a constant, and a main() that runs the shared trainer command line. Its
 * layout of the computation:
 *
 *   - Samples are processed in blocks of W = 16 lanes: every activation of a block is
 *     stored [time][feature][lane], so each statement of the form
 *       for (int l = 0; l < W; l++) z[j*W + l] = ...;
 *     or, in the straight-line kernels, on rnn_vec (the 16 lanes as one GNU C vector)
 *       V(z + j * W) = ...;
 *     is one or two SIMD operations across 16 samples with the weights broadcast (one
 *     AVX-512 register, two AVX2 ones; 16 measured 1.2-1.55x faster than 8 lanes and
 *     faster than 32 on the seed specs, bench/README.md). Generated code therefore
 *     needs gcc or clang. A partial batch fills the
 *     last block with padding lanes (token 0) whose loss gradient is zero, so they
 *     contribute nothing. Table rows (embedding, folded table) move into lanes and
 *     their gradients back with register transposes (rnn_lanes.h).
 *   - The small kernels (gate pre-activations, their gradients, the weight-gradient
 *     accumulations) are straight-line code: the sums of eight outputs advance
 *     together term by term, each in the reference's order of summation. A layer whose (F + U) * G exceeds the
 *     unroll budget gets constant-bound loops instead. The time loop is a loop unless
 *     --unroll full; --unroll none keeps every loop. A training forward keeps every
 *     step's state for the backward pass; an inference keeps only c and h of the last
 *     two steps (the backward redoes a forward when asked after one).
 *   - Weight gradients accumulate per lane (acc, laid out like the parameters times W),
 *     over the steps in L1-sized chunks, and are summed over the block's lanes at the
 *     end of its backward, in a fixed order; the sums after the blocks add the blocks'
 *     in block order. The embedding gradient is scattered per block into the block's
 *     own table (folded: the folded table's rows), and the tables are summed per row
 *     chunk in block order (folded: with the kernel's part); a vocabulary larger than
 *     a block's W*T lookups is scattered directly, in block order, by one task.
 *   - In training (gen_forward_backward) a block's backward runs right after its
 *     forward, in the same task.
 *   - Dropout masks are drawn with the same counter-based generator as the reference
 *     (four features per Philox block, four blocks at once), so given the same seed
 *     the generated trainer and the interpreter train the same way up to float
 *     rounding.
 *   - Work outside the lane blocks (the folded table, the sums after the blocks) is
 *     split in fixed chunks; everything summed across blocks is summed in block
 *     order, so the weights are the same bit for bit whatever the number of threads.
 *   - sigmoid and tanh in the recurrences use rnn_fastmath.h (vectorizable, within a
 *     few ulps of libm); the loss uses libm in double like the reference.
 *
 * The output is a pure function of the model and the options: same spec, same bytes.
 */
#include "emit_c.h"
#include "textbuf.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W 16  /* lanes per block; also in the generated code (see the top comment) */
_Static_assert(W == 16, "rnn_lanes.h moves rows into 16 lanes");

typedef struct {
    textbuf *b;
    const rnn_model *m;
    const rnnc_emit_options *o;
    int fold;   /* the embedding is folded into layer 1's input projection */
    int parts;  /* not folded: each block sums its part of the embedding's gradient (de) */
    int infer;  /* an inference-only predictor: no backward, no dropout */
} emitter;

/* Is layer i the recurrent layer whose input projection is folded into the table? */
static int folded(const emitter *e, int i) { return e->fold && i == 1; }

/* Is a kernel of `terms` multiply-adds written as straight-line code? */
static int unrolled(const emitter *e, long terms) {
    if (e->o->unroll == RNNC_UNROLL_NONE) return 0;
    return terms <= e->o->unroll_budget;
}

/* Is layer i's input side computed outside its time loop, as two matrix products over all
 * the steps (input_projection_i before the forward steps, input_grad_i after the
 * backward ones)? For layers whose x_t.K is too large to unroll: large_lstm's LSTM(128)
 * on 128 inputs, 9.6 -> 8.3 s per epoch. Small unrolled layers keep it in the step,
 * where its multiply-adds fill the gaps of the activations (the seed specs were 1-3 %
 * slower hoisted; bench/README.md). */
static int hoisted(const emitter *e, int i) {
    const rnn_layer *l = &e->m->layers[i];
    return !folded(e, i) && !unrolled(e, (long)l->in_features * l->gates * l->units);
}

/* Does layer i's step get b + x_t.K ready-made (xk), from the folded table or hoisted? */
static int projected(const emitter *e, int i) { return folded(e, i) || hoisted(e, i); }

/* Does layer i accumulate its recurrent-kernel gradient after the time loop, from the
 * stored dz of every step (LSTM, SimpleRNN), rather than inside each step (GRU, whose
 * gate blocks see different vectors)? */
static int recurrent_post(const rnn_layer *l) { return l->kind != RNN_LAYER_GRU; }

#define P(...) tb_printf(e->b, __VA_ARGS__)

/* ---- names and small helpers ------------------------------------------------------ */

static const rnn_tensor *tensor(const rnn_model *m, int layer, int slot) {
    return &m->tensors[m->layers[layer].first_tensor + slot];
}

/* Lanes of the accumulator of parameter element `offset`. */
static size_t acc_index(const rnn_model *m, size_t offset) { return (offset - m->tensors[1].offset) * W; }

/* C string literal with everything unusual escaped (no trigraphs, no raw bytes). */
static void emit_cstring(emitter *e, const char *s) {
    P("\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') P("\\%c", *p);
        else if (*p == '?') P("\\?");
        else if (*p >= 0x20 && *p < 0x7f) P("%c", *p);
        else P("\\%03o", *p);
    }
    P("\"");
}

/* A comment-safe copy of s (no "*" followed by "/", printable ASCII only). */
static void emit_comment_text(emitter *e, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '*' && p[1] == '/') P("* ");
        else if (*p >= 0x20 && *p < 0x7f) P("%c", *p);
        else P("?");
    }
}

static const char *act_fn(rnn_activation a) {
    switch (a) {
    case RNN_ACT_SIGMOID: return "rnn_fast_sigmoidf";
    case RNN_ACT_TANH: return "rnn_fast_tanhf";
    case RNN_ACT_RELU: return "relu";
    default: return "";
    }
}

/* d act / d pre-activation from the output value y, as a C expression. */
static void emit_act_grad(emitter *e, rnn_activation a, const char *y) {
    switch (a) {
    case RNN_ACT_SIGMOID: P("%s * (1.0f - %s)", y, y); break;
    case RNN_ACT_TANH: P("(1.0f - %s * %s)", y, y); break;
    case RNN_ACT_RELU: P("(%s > 0.0f ? 1.0f : 0.0f)", y); break;
    default: P("1.0f"); break;
    }
}

/* ---- generic lane kernels ------------------------------------------------------------
 * All vectors are [index][lane] arrays: element i of lane l is v[i*W + l]. */

/* Straight-line kernels (within the unroll budget) are written on rnn_vec, the W lanes
 * of one element as one GNU C vector (the generated file's header defines it; V(p) is
 * the vector at p). Written as a loop over the lanes instead, clang 14 hoists a
 * broadcast of every weight out of that one-iteration loop and spills them all to the
 * stack (50 KB for LSTM(8) on 16 inputs), then reads them back every step; as vectors
 * the weights stay broadcast operands of the multiply-adds. Measured: lstm_dropout
 * inference 0.063 -> 0.038 s per 20000 samples. */

/* Output sums are advanced together in groups of SUM_GROUP, one term at a time, so
 * that SUM_GROUP independent multiply-add chains are in flight instead of one chain
 * per output (each output's sum is still taken in the reference's order). The sums
 * go to y[o] (times mask[o] if given), then LANES_STORED(y). */
#define SUM_GROUP 8

/* One output sum of a group: "name = first terms" then "name += term". */
typedef void (*term_fn)(emitter *e, const void *ctx, int out, int k);

static void emit_grouped_sums(emitter *e, const char *y, int outs, int nterms, term_fn term, const void *ctx,
                              const char *init, int init_is_vec, const char *mask, const char *indent) {
    for (int o0 = 0; o0 < outs; o0 += SUM_GROUP) {
        int n = outs - o0 < SUM_GROUP ? outs - o0 : SUM_GROUP;
        P("%s    {\n", indent);
        for (int j = 0; j < n; j++) {
            /* The first statement holds the initial value and the first term, or the
             * first two terms, exactly as the one-expression sum would start. */
            P("%s        rnn_vec sum%d = ", indent, j);
            int k = 0;
            if (init) {
                if (init_is_vec) P("V(%s + %d * W)", init, o0 + j);
                else P("%s[%d]", init, o0 + j);
            } else {
                term(e, ctx, o0 + j, k++);
            }
            if (k < nterms) {
                P(" + ");
                term(e, ctx, o0 + j, k++);
            }
            P(";\n");
        }
        int first = init ? 1 : 2;
        for (int k = first; k < nterms; k++)
            for (int j = 0; j < n; j++) {
                P("%s        sum%d += ", indent, j);
                term(e, ctx, o0 + j, k);
                P(";\n");
            }
        for (int j = 0; j < n; j++) {
            if (mask) P("%s        V(%s + %d * W) = sum%d * V(%s + %d * W);\n", indent, y, o0 + j, j, mask, o0 + j);
            else P("%s        V(%s + %d * W) = sum%d;\n", indent, y, o0 + j, j);
        }
        P("%s    }\n", indent);
    }
    P("%s    LANES_STORED(%s);\n", indent, y);   /* y is read back element by element next */
}

/* y[c] = init[c] + Σ_r x[r] * M[r*ld + col0 + c] for c in [0, cols), optionally with x
 * masked elementwise by mask[r]; init is NULL (0), a parameter vector, or "@name" for
 * a lane vector. In the reference's order: init first, then r = 0, 1, ... */
typedef struct {
    const char *x, *mask;   /* vector names (lane arrays); mask may be NULL          */
    const char *M;          /* matrix pointer name                                    */
    int rows, ld, col0;
} proj_term;

typedef struct {
    const proj_term *terms;
} proj_ctx;

static void projection_term(emitter *e, const void *ctx, int c, int k) {
    const proj_ctx *p = ctx;
    int t = 0;
    while (k >= p->terms[t].rows) k -= p->terms[t++].rows;
    const proj_term *pt = &p->terms[t];
    P("%s%d * %s[%d]", pt->x, k, pt->M, k * pt->ld + pt->col0 + c);
}

static void emit_projection(emitter *e, const char *y, int cols, const char *init, const proj_term *terms, int nterms,
                            const char *indent) {
    long work = 0;
    int nrows = 0;
    for (int k = 0; k < nterms; k++) {
        work += (long)terms[k].rows * cols;
        nrows += terms[k].rows;
    }
    if (unrolled(e, work)) {
        P("%s{\n", indent);
        for (int k = 0; k < nterms; k++)
            for (int r = 0; r < terms[k].rows; r++) {
                if (terms[k].mask)
                    P("%s    const rnn_vec %s%d = V(%s + %d * W) * V(%s + %d * W);\n", indent, terms[k].x, r, terms[k].x, r,
                      terms[k].mask, r);
                else
                    P("%s    const rnn_vec %s%d = V(%s + %d * W);\n", indent, terms[k].x, r, terms[k].x, r);
            }
        proj_ctx ctx = {terms};
        const char *iv = init && init[0] == '@' ? init + 1 : init;
        emit_grouped_sums(e, y, cols, nrows, projection_term, &ctx, iv, init && init[0] == '@', NULL, indent);
        P("%s}\n", indent);
        return;
    }
    P("%sROW_LOOP\n%sfor (int c = 0; c < %d; c++)\n%s    for (int l = 0; l < W; l++) %s[c * W + l] = ", indent, indent, cols,
      indent, y);
    if (init && init[0] == '@') P("%s[c * W + l];\n", init + 1);
    else if (init) P("%s[c];\n", init);
    else P("0.0f;\n");
    /* Columns in blocks of 4 whose partial sums stay in registers over all the rows
     * (one load of x and four broadcasts per four multiply-adds), then the rest. */
    int c4 = cols / 4 * 4;
    for (int k = 0; k < nterms; k++) {
        const proj_term *t = &terms[k];
        char xr[96];
        if (t->mask) snprintf(xr, sizeof xr, "%s[r * W + l] * %s[r * W + l]", t->x, t->mask);
        else snprintf(xr, sizeof xr, "%s[r * W + l]", t->x);
        if (c4 > 0) {
            P("%sfor (int c = 0; c < %d; c += 4) {\n", indent, c4);
            P("%s    rnn_real s0[W], s1[W], s2[W], s3[W];\n", indent);
            P("%s    for (int l = 0; l < W; l++) {\n", indent);
            P("%s        s0[l] = %s[c * W + l];\n%s        s1[l] = %s[(c + 1) * W + l];\n", indent, y, indent, y);
            P("%s        s2[l] = %s[(c + 2) * W + l];\n%s        s3[l] = %s[(c + 3) * W + l];\n%s    }\n", indent, y, indent, y,
              indent);
            P("%s    for (int r = 0; r < %d; r++) {\n", indent, t->rows);
            P("%s        const rnn_real *m = %s + r * %d + %d + c;\n", indent, t->M, t->ld, t->col0);
            P("%s        for (int l = 0; l < W; l++) {\n", indent);
            P("%s            const rnn_real xv = %s;\n", indent, xr);
            P("%s            s0[l] += xv * m[0];\n%s            s1[l] += xv * m[1];\n", indent, indent);
            P("%s            s2[l] += xv * m[2];\n%s            s3[l] += xv * m[3];\n", indent, indent);
            P("%s        }\n%s    }\n", indent, indent);
            P("%s    for (int l = 0; l < W; l++) {\n", indent);
            P("%s        %s[c * W + l] = s0[l];\n%s        %s[(c + 1) * W + l] = s1[l];\n", indent, y, indent, y);
            P("%s        %s[(c + 2) * W + l] = s2[l];\n%s        %s[(c + 3) * W + l] = s3[l];\n%s    }\n", indent, y, indent, y,
              indent);
            P("%s}\n", indent);
        }
        if (c4 < cols) {
            P("%sfor (int r = 0; r < %d; r++)\n", indent, t->rows);
            P("%s    for (int c = %d; c < %d; c++) {\n", indent, c4, cols);
            P("%s        const rnn_real m = %s[r * %d + %d + c];\n", indent, t->M, t->ld, t->col0);
            P("%s        for (int l = 0; l < W; l++) %s[c * W + l] += %s * m;\n", indent, y, xr);
            P("%s    }\n", indent);
        }
    }
}

/* y[r] = Σ_c g[c] * M[r*ld + col0 + c] for r in [0, rows): the transposed product of
 * the backward pass (dx = dz · Kᵀ); with mask, each y[r] is then multiplied by mask[r]. */
typedef struct {
    const char *g, *M;
    int ld, col0;
} back_ctx;

static void back_term(emitter *e, const void *ctx, int r, int c) {
    const back_ctx *b = ctx;
    P("%s%d * %s[%d]", b->g, c, b->M, r * b->ld + b->col0 + c);
}

static void emit_back_product(emitter *e, const char *y, int rows, const char *g, int cols, const char *M, int ld,
                              int col0, const char *mask, const char *indent) {
    if (unrolled(e, (long)rows * cols)) {
        P("%s{\n", indent);
        for (int c = 0; c < cols; c++) P("%s    const rnn_vec %s%d = V(%s + %d * W);\n", indent, g, c, g, c);
        back_ctx ctx = {g, M, ld, col0};
        emit_grouped_sums(e, y, rows, cols, back_term, &ctx, NULL, 0, mask, indent);
        P("%s}\n", indent);
        return;
    }
    /* Rows in blocks of 4 whose sums stay in registers over all the columns (one load
     * of g and four broadcasts per four multiply-adds), then the rest. */
    int r4 = rows / 4 * 4;
    if (r4 > 0) {
        P("%sfor (int r = 0; r < %d; r += 4) {\n", indent, r4);
        P("%s    rnn_real s0[W] = {0}, s1[W] = {0}, s2[W] = {0}, s3[W] = {0};\n", indent);
        P("%s    const rnn_real *m0 = %s + r * %d + %d, *m1 = m0 + %d, *m2 = m1 + %d, *m3 = m2 + %d;\n", indent, M, ld, col0, ld,
          ld, ld);
        P("%s    for (int c = 0; c < %d; c++)\n", indent, cols);
        P("%s        for (int l = 0; l < W; l++) {\n", indent);
        P("%s            const rnn_real gv = %s[c * W + l];\n", indent, g);
        P("%s            s0[l] += gv * m0[c];\n%s            s1[l] += gv * m1[c];\n", indent, indent);
        P("%s            s2[l] += gv * m2[c];\n%s            s3[l] += gv * m3[c];\n", indent, indent);
        P("%s        }\n", indent);
        char mk[4][64] = {"", "", "", ""};   /* " * mask[(r + q) * W + l]" */
        for (int q = 0; mask && q < 4; q++) snprintf(mk[q], sizeof mk[q], " * %s[(r + %d) * W + l]", mask, q);
        P("%s    for (int l = 0; l < W; l++) {\n", indent);
        P("%s        %s[r * W + l] = s0[l]%s;\n%s        %s[(r + 1) * W + l] = s1[l]%s;\n", indent, y, mk[0], indent, y, mk[1]);
        P("%s        %s[(r + 2) * W + l] = s2[l]%s;\n%s        %s[(r + 3) * W + l] = s3[l]%s;\n%s    }\n", indent, y, mk[2],
          indent, y, mk[3], indent);
        P("%s}\n", indent);
    }
    if (r4 < rows) {
        P("%sfor (int r = %d; r < %d; r++) {\n", indent, r4, rows);
        P("%s    rnn_real s[W];\n", indent);
        P("%s    for (int l = 0; l < W; l++) s[l] = 0.0f;\n", indent);
        P("%s    for (int c = 0; c < %d; c++) {\n", indent, cols);
        P("%s        const rnn_real m = %s[r * %d + %d + c];\n", indent, M, ld, col0);
        P("%s        for (int l = 0; l < W; l++) s[l] += %s[c * W + l] * m;\n", indent, g);
        P("%s    }\n", indent);
        if (mask) P("%s    for (int l = 0; l < W; l++) %s[r * W + l] = s[l] * %s[r * W + l];\n", indent, y, mask);
        else P("%s    for (int l = 0; l < W; l++) %s[r * W + l] = s[l];\n", indent, y);
        P("%s}\n", indent);
    }
}

/* acc[((r*ld + col0 + c) * W) + l] += x[r] (⊙ mask[r]) * g[c]: the weight gradient, per lane. */
static void emit_outer_acc(emitter *e, const char *acc, const char *x, const char *mask, int rows, const char *g, int cols,
                           int ld, int col0, const char *indent) {
    if (unrolled(e, (long)rows * cols)) {
        P("%s{\n", indent);
        for (int r = 0; r < rows; r++) {
            if (mask) P("%s    const rnn_vec %s%d = V(%s + %d * W) * V(%s + %d * W);\n", indent, x, r, x, r, mask, r);
            else P("%s    const rnn_vec %s%d = V(%s + %d * W);\n", indent, x, r, x, r);
        }
        for (int c = 0; c < cols; c++) P("%s    const rnn_vec %s%d = V(%s + %d * W);\n", indent, g, c, g, c);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                P("%s    V(%s + %d * W) += %s%d * %s%d;\n", indent, acc, r * ld + col0 + c, x, r, g, c);
        P("%s}\n", indent);
        return;
    }
    P("%sfor (int r = 0; r < %d; r++)\n", indent, rows);
    P("%s    for (int c = 0; c < %d; c++)\n", indent, cols);
    if (mask)
        P("%s        for (int l = 0; l < W; l++) %s[(r * %d + %d + c) * W + l] += %s[r * W + l] * %s[r * W + l] * %s[c * W + l];\n",
          indent, acc, ld, col0, x, mask, g);
    else
        P("%s        for (int l = 0; l < W; l++) %s[(r * %d + %d + c) * W + l] += %s[r * W + l] * %s[c * W + l];\n", indent, acc,
          ld, col0, x, g);
}

/* ---- the model description ------------------------------------------------------------ */

static void emit_double(emitter *e, double v) { P("%.17g", v); }

static void emit_model(emitter *e) {
    const rnn_model *m = e->m;
    P("/* ==== the model description (rnn_model_layout fills in the rest at start-up) ==== */\n\n");
    P("static rnn_model MODEL = {\n    .name = ");
    emit_cstring(e, m->name);
    P(",\n    .source = ");
    emit_cstring(e, m->source);
    P(",\n    .line = %d,\n    .n_layers = %d,\n    .layers = {\n", m->line, m->n_layers);
    static const char *const kinds[] = {"RNN_LAYER_EMBEDDING", "RNN_LAYER_SIMPLE_RNN", "RNN_LAYER_LSTM",
                                        "RNN_LAYER_GRU", "RNN_LAYER_DENSE", "RNN_LAYER_DROPOUT"};
    static const char *const acts[] = {"RNN_ACT_LINEAR", "RNN_ACT_SIGMOID", "RNN_ACT_TANH", "RNN_ACT_RELU", "RNN_ACT_SOFTMAX"};
    for (int i = 0; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        P("        {.kind = %s, .name = ", kinds[l->kind]);
        emit_cstring(e, l->name);
        P(", .line = %d, .units = %d, .input_dim = %d, .input_length = %d,\n", l->line, l->units, l->input_dim,
          l->input_length);
        P("         .activation = %s, .dropout = ", acts[l->activation]);
        emit_double(e, l->dropout);
        P(", .recurrent_dropout = ");
        emit_double(e, l->recurrent_dropout);
        P(",\n         .return_sequences = %d, .unit_forget_bias = %d, .reset_after = %d, .dropout_mask = %s},\n",
          l->return_sequences, l->unit_forget_bias, l->reset_after,
          l->dropout_mask == RNN_DROPOUT_PER_SEQUENCE ? "RNN_DROPOUT_PER_SEQUENCE" : "RNN_DROPOUT_PER_STEP");
    }
    const rnn_optimizer *o = &m->optimizer;
    static const char *const opts[] = {"RNN_OPT_RMSPROP", "RNN_OPT_ADAM", "RNN_OPT_SGD"};
    /* doubles as %.17g: they read back exactly */
    P("    },\n    .optimizer = {.kind = %s, .line = %d, .learning_rate = %.17g, .rho = %.17g, .epsilon = %.17g,\n"
      "                  .epsilon_outside = %d, .beta_1 = %.17g, .beta_2 = %.17g, .momentum = %.17g, .nesterov = %d,\n"
      "                  .clipnorm = %.17g, .global_clipnorm = %.17g, .clipvalue = %.17g},\n",
      opts[o->kind], o->line, o->learning_rate, o->rho, o->epsilon, o->epsilon_outside, o->beta_1, o->beta_2,
      o->momentum, o->nesterov, o->clipnorm, o->global_clipnorm, o->clipvalue);
    P("    .loss = %s,\n    .metric_accuracy = %d,\n",
      m->loss == RNN_LOSS_BINARY_CROSSENTROPY ? "RNN_LOSS_BINARY_CROSSENTROPY" : "RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY",
      m->metric_accuracy);
    P("    .fit = {.epochs = %d, .batch_size = %d, .validation_split = ", m->fit.epochs, m->fit.batch_size);
    emit_double(e, m->fit.validation_split);
    P(", .shuffle = %d, .seed = %" PRIu64 "u,\n            .n_callbacks = %d", m->fit.shuffle, m->fit.seed,
      m->fit.n_callbacks);
    if (m->fit.n_callbacks > 0) P(", .callbacks = {\n");   /* C has no empty initializer */
    static const char *const cbk[] = {"RNN_CB_MODEL_CHECKPOINT", "RNN_CB_EARLY_STOPPING", "RNN_CB_CSV_LOGGER"};
    static const char *const mons[] = {"RNN_MONITOR_VAL_LOSS", "RNN_MONITOR_VAL_ACCURACY", "RNN_MONITOR_LOSS",
                                       "RNN_MONITOR_ACCURACY"};
    static const char *const modes[] = {"RNN_MODE_AUTO", "RNN_MODE_MIN", "RNN_MODE_MAX"};
    for (int i = 0; i < m->fit.n_callbacks; i++) {
        const rnn_callback *c = &m->fit.callbacks[i];
        P("                {.kind = %s, .line = %d, .path = ", cbk[c->kind], c->line);
        emit_cstring(e, c->path);
        P(", .monitor = %s, .mode = %s,\n", mons[c->monitor], modes[c->mode]);
        P("                 .save_best_only = %d, .patience = %d, .min_delta = ", c->save_best_only, c->patience);
        emit_double(e, c->min_delta);
        P(", .restore_best_weights = %d, .restore_at_end = %d,\n", c->restore_best_weights, c->restore_at_end);
        P("                 .start_from_epoch = %d, .has_baseline = %d, .baseline = ", c->start_from_epoch, c->has_baseline);
        emit_double(e, c->baseline);
        P("},\n");
    }
    P(m->fit.n_callbacks > 0 ? "            }},\n};\n\n" : "},\n};\n\n");

    P("/* Lay the description out and check that the runtime agrees with the offsets this\n"
      " * file was generated for (a librnnrt of another version might not). */\n");
    P("static void model_init(void) {\n    char err[1024];\n");
    P("    if (rnn_model_layout(&MODEL, err, sizeof err) != 0) {\n"
      "        fprintf(stderr, \"%%s\\n\", err);\n        exit(1);\n    }\n");
    P("    static const size_t offsets[%d] = {", m->n_tensors);
    for (int k = 0; k < m->n_tensors; k++) P("%s%zu", k ? ", " : "", m->tensors[k].offset);
    P("};\n");
    P("    int ok = MODEL.n_tensors == %d && MODEL.param_buffer_len == %zu;\n", m->n_tensors, m->param_buffer_len);
    P("    for (int k = 0; ok && k < %d; k++) ok = MODEL.tensors[k].offset == offsets[k];\n", m->n_tensors);
    P("    if (!ok) {\n        fprintf(stderr, \"%%s: this trainer was generated for another parameter layout; regenerate it with this rnnc\\n\", MODEL.name);\n        exit(1);\n    }\n}\n\n");
}

/* ---- per-layer buffers --------------------------------------------------------------------
 * Every buffer holds one block per lane block: <name> + g * <size>. */

typedef struct {
    char name[32];
    size_t per_block;   /* floats per lane block, or in all for scratch */
    int scratch;        /* one copy, not one per block                  */
    const char *what;
} buffer;

static int n_buffers;
static buffer buffers[8 * RNN_MAX_LAYERS];

static void add_buffer(const char *name, size_t per_block, const char *what) {
    buffer *b = &buffers[n_buffers++];
    snprintf(b->name, sizeof b->name, "%s", name);
    b->per_block = per_block;
    b->scratch = 0;
    b->what = what;
}

static int input_dropout(const rnn_layer *l) {
    return (l->kind == RNN_LAYER_LSTM || l->kind == RNN_LAYER_GRU || l->kind == RNN_LAYER_SIMPLE_RNN) && l->dropout > 0;
}
static int per_step_mask(const rnn_layer *l) {
    return l->kind != RNN_LAYER_SIMPLE_RNN && l->dropout_mask == RNN_DROPOUT_PER_STEP;
}
/* Does layer i's dropped input overwrite its input? Layer 1's input is the embedding's
 * output, which nothing else reads: one buffer of T * F lanes less per block (100 KB for
 * lstm_dropout; about 1 % per epoch, medians of 7 paired runs). */
static int xd_in_place(int i) { return i == 1; }

static int is_rnn(const rnn_layer *l) {
    return l->kind == RNN_LAYER_LSTM || l->kind == RNN_LAYER_GRU || l->kind == RNN_LAYER_SIMPLE_RNN;
}

/* Tasks that the work outside the lane blocks is split into (TAIL_CHUNKS in the
 * generated code too). */
#define TAIL_CHUNKS 8

static void plan_buffers(const emitter *e) {
    const rnn_model *m = e->m;
    n_buffers = 0;
    char n[32];
    if (e->fold) {
        const rnn_layer *l1 = &m->layers[1];
        size_t G = (size_t)l1->gates * (size_t)l1->units;
        add_buffer("ek", (size_t)m->vocab * G, "the folded table b + E.K [V][G]");
        add_buffer("dek", (size_t)m->vocab * G, "its gradient [V][G]");
        add_buffer("touched", (size_t)m->vocab, "rows of dek written in this batch");
        buffers[n_buffers - 3].scratch = 1;   /* ek is read-only in the blocks: one copy; the rest per block */
        add_buffer("ek_from", (size_t)m->vocab * (size_t)l1->in_features + (size_t)l1->in_features * G + G,
                   "K, b and E as ek was last built from them");
        buffers[n_buffers - 1].scratch = 1;
        add_buffer("fk", TAIL_CHUNKS * ((size_t)l1->in_features * G + G),
                   "each row chunk's part of the folded K's and b's gradients [TAIL_CHUNKS][F*G + G]");
        buffers[n_buffers - 1].scratch = 1;
        add_buffer("dek_sum", (size_t)m->vocab * G, "the touched rows of dek summed over the blocks [V][G]");
        buffers[n_buffers - 1].scratch = 1;
    }
    if (e->parts)
        add_buffer("de", (size_t)m->vocab * (size_t)m->layers[0].units, "the block's part of the embedding's gradient [V][E]");
    size_t xk = 0;   /* one buffer for the projected input of whichever layer runs */
    for (int i = 1; i < m->n_layers; i++)
        if (is_rnn(&m->layers[i]) && projected(e, i)) {
            const rnn_layer *l = &m->layers[i];
            size_t n = (size_t)l->timesteps * (size_t)l->gates * (size_t)l->units * W;
            if (n > xk) xk = n;
        }
    if (xk) add_buffer("xk", xk, "a layer's input projection b + x_t.K of every step [T][G][W]");
    for (int i = e->fold ? 1 : 0; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        size_t T = (size_t)l->timesteps, F = (size_t)l->in_features, U = (size_t)l->out_features;
        size_t out = (l->out_seq ? T : 1) * U * W;
        if (is_rnn(l)) {
            snprintf(n, sizeof n, "h%d", i);
            add_buffer(n, T * U * W, "every hidden state [T][U][W]");
            if (l->kind == RNN_LAYER_LSTM) {
                snprintf(n, sizeof n, "c%d", i);
                add_buffer(n, T * U * W, "cell states [T][U][W]");
                snprintf(n, sizeof n, "tc%d", i);
                add_buffer(n, T * U * W, "tanh of the cell states [T][U][W], for the backward pass");
            }
            if (l->kind != RNN_LAYER_SIMPLE_RNN) {
                snprintf(n, sizeof n, "gates%d", i);
                add_buffer(n, T * (size_t)l->gates * U * W, "gate activations [T][G*U][W]");
            }
            if (l->kind == RNN_LAYER_GRU && l->reset_after) {
                snprintf(n, sizeof n, "hh%d", i);
                add_buffer(n, T * U * W, "recurrent candidate h.R_h + b [T][U][W]");
            }
            if (input_dropout(l)) {
                snprintf(n, sizeof n, "xmask%d", i);
                add_buffer(n, (per_step_mask(l) ? T : 1) * F * W, "input dropout mask");
                snprintf(n, sizeof n, "xd%d", i);
                if (!xd_in_place(i)) add_buffer(n, T * F * W, "dropped input [T][F][W]");
            }
            if (l->recurrent_dropout > 0) {
                snprintf(n, sizeof n, "rmask%d", i);
                add_buffer(n, U * W, "recurrent dropout mask [U][W]");
            }
            snprintf(n, sizeof n, "s%d", i);
            add_buffer(n, (2 * (size_t)l->gates * U + 6 * U) * W, "per-step temporaries");
            if (!e->infer) {
                snprintf(n, sizeof n, "dzs%d", i);
                add_buffer(n, T * (size_t)l->gates * U * W, "dz of every step [T][G][W], for the weight gradients");
            }
        } else {
            snprintf(n, sizeof n, "a%d", i);
            add_buffer(n, out, l->kind == RNN_LAYER_EMBEDDING ? "embedding output [T][E][W]" : "output");
            if (l->kind == RNN_LAYER_DROPOUT && !e->infer && l->dropout > 0) {
                snprintf(n, sizeof n, "mask%d", i);
                add_buffer(n, out, "dropout mask");
            }
        }
        if (e->infer) continue;
        snprintf(n, sizeof n, "d%d", i);
        add_buffer(n, out, "d loss / d output");
    }
}

/* C expression: the output of layer i in block g (a pointer). */
static void out_ptr(char *buf, size_t n, const rnn_model *m, int i) {
    const rnn_layer *l = &m->layers[i];
    if (is_rnn(l)) {
        if (l->out_seq) snprintf(buf, n, "w->h%d + g * %zu", i, (size_t)l->timesteps * l->units * W);
        else snprintf(buf, n, "w->h%d + g * %zu + %zu", i, (size_t)l->timesteps * l->units * W,
                      (size_t)(l->timesteps - 1) * l->units * W);
    } else {
        size_t out = (l->out_seq ? (size_t)l->timesteps : 1) * (size_t)l->out_features * W;
        snprintf(buf, n, "w->a%d + g * %zu", i, out);
    }
}

static size_t buf_size(const char *name) {
    for (int i = 0; i < n_buffers; i++)
        if (!strcmp(buffers[i].name, name)) return buffers[i].per_block;
    return 0;
}

/* ---- the support code every generated file carries ------------------------------------- */

static void emit_support(emitter *e) {
    const rnn_model *m = e->m;
    int any_relu = 0, any_dropout = 0;
    for (int i = 1; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        any_relu |= l->activation == RNN_ACT_RELU && i < m->n_layers - 1;
        any_dropout |= l->dropout > 0 || l->recurrent_dropout > 0;
    }
    if (e->infer) any_dropout = 0;   /* dropout is the identity at inference */
    if (!any_relu && !any_dropout) return;
    P("/* ==== support ==== */\n\n");
    if (any_relu) P("static inline rnn_real relu(rnn_real x) { return x > 0.0f ? x : 0.0f; }\n\n");
    if (!any_dropout) return;
    P("/* A dropout mask for the lanes of one block: element (j, f) of lane l is kept iff\n"
      " * rnn_rng_uniform(stream, f, j, rows[l]) >= rate, exactly as the reference decides\n"
      " * (the integer form of that test). Philox4x32-10 runs on the W lanes at once (the\n"
      " * counter differs only in the row), four blocks side by side (rnn_lanes_philox16),\n"
      " * and one block gives four features of one step: the blocks are taken in (step,\n"
      " * features) order, four at a time, so that a layer with fewer than 16 inputs fills\n"
      " * the four with the next step's instead of drawing blocks it does not use. */\n");
    P("static void draw_mask(rnn_real *mask, const rnn_dropout_ctx *ctx, rnn_rng_purpose purpose, uint32_t layer,\n"
      "                      int steps, int per_step, int F, double rate, const uint32_t *rows) {\n"
      "    const rnn_rng s = rnn_rng_stream(ctx->seed, purpose, layer, ctx->epoch);\n"
      "    const rnn_real kept = (rnn_real)(1.0 / (1.0 - rate));\n"
      "    const uint32_t threshold = (uint32_t)ceil(rate * 16777216.0);\n"
      "    const int nfb = (F + 3) / 4, nblocks = steps * nfb; /* Philox blocks: (step, four features) */\n"
      "    for (int p0 = 0; p0 < nblocks; p0 += 4) {\n"
      "        const int nb = nblocks - p0 < 4 ? nblocks - p0 : 4;\n"
      "        uint32_t x[4][4][W];\n"
      "        for (int b = 0; b < 4; b++) {\n"
      "            const int p = p0 + (b < nb ? b : nb - 1); /* past the end: a copy, not used */\n"
      "            for (int l = 0; l < W; l++) {\n"
      "                x[b][0][l] = (uint32_t)(p %% nfb);\n"
      "                x[b][1][l] = per_step ? (uint32_t)(p / nfb) : 0u;\n"
      "                x[b][2][l] = rows[l];\n"
      "                x[b][3][l] = 0;\n"
      "            }\n"
      "        }\n"
      "        rnn_lanes_philox16(x, s.key[0], s.key[1]);\n"
      "        for (int b = 0; b < nb; b++) {\n"
      "            const int t = (p0 + b) / nfb, f0 = (p0 + b) %% nfb * 4, nq = F - f0 < 4 ? F - f0 : 4;\n"
      "            ROW_LOOP\n"
      "            for (int q = 0; q < nq; q++) { /* feature f0 + q is word q of block b */\n"
      "                const uint32_t *v = x[b][q];\n"
      "                rnn_real *m = mask + ((size_t)t * F + (size_t)(f0 + q)) * W;\n"
      "                for (int l = 0; l < W; l++) m[l] = (v[l] >> 8) >= threshold ? kept : 0.0f;\n"
      "            }\n"
      "        }\n"
      "    }\n"
      "}\n\n");
}

/* ---- the workspace ---------------------------------------------------------------------- */

static void emit_workspace(emitter *e) {
    const rnn_model *m = e->m;
    P("/* ==== the workspace: every buffer allocated once, for max_batch samples ==== */\n\n");
    P("typedef struct {\n");
    P("    int nblk;              /* lane blocks allocated                         */\n");
    P("    int n;                 /* samples of the last forward                   */\n");
    P("    int training, labelled, correct;\n");
    P("    int keep;              /* the last forward kept every step's state (backward needs it) */\n");
    P("    int fused;             /* the last forward did: gen_backward has only the sums left */\n");
    if (e->fold) P("    int ek_built;          /* ek and ek_from hold a table and what it was built from */\n");
    P("    int32_t *tokens;       /* [nblk * W][%d] token ids, padding lanes 0      */\n", m->timesteps);
    P("    rnn_real *labels;      /* [nblk * W]                                    */\n");
    P("    uint32_t *rows;        /* [nblk * W] dataset rows (dropout masks)       */\n");
    P("    rnn_real *acc;         /* [nblk][ACC_LEN][W] per-block, per-lane weight gradients */\n");
    P("    rnn_real *bsum;        /* [nblk][ACC_LEN] the same summed over the block's lanes */\n");
    P("    double *block_loss;    /* [nblk] loss summed over a block's samples     */\n");
    P("    int *block_correct;    /* [nblk]                                        */\n");
    P("    int *block_bad;        /* [nblk] a label out of range                   */\n");
    for (int i = 0; i < n_buffers; i++)
        P("    rnn_real *%s; /* %zu %s: %s */\n", buffers[i].name, buffers[i].per_block,
          buffers[i].scratch ? "in all" : "per block", buffers[i].what);
    P("} workspace;\n\n");
    P("/* Zeroed floats on a 64-byte boundary: every lane vector of a block is then one cache\n"
      " * line. calloc returns addresses 16 or 32 bytes past one (glibc), and a vector load\n"
      " * that spans two lines costs two (measured: lstm_dropout 0.119 -> 0.107 s per epoch). */\n");
    P("static rnn_real *lanes_calloc(size_t n) {\n");
    P("    const size_t bytes = (n * sizeof(rnn_real) + 63) / 64 * 64;\n");
    P("    rnn_real *p = aligned_alloc(64, bytes);\n");
    P("    if (p) memset(p, 0, bytes);\n    return p;\n}\n\n");
    P("static void *gen_create(const rnn_model *m, int max_batch) {\n");
    P("    (void)m;\n    if (max_batch < 1) return NULL;\n");
    P("    workspace *w = calloc(1, sizeof *w);\n    if (!w) return NULL;\n");
    P("    w->nblk = (max_batch + W - 1) / W;\n    const size_t nb = (size_t)w->nblk;\n    int ok = 1;\n");
    P("    ok &= (w->tokens = calloc(nb * W * %d, sizeof *w->tokens)) != NULL;\n", m->timesteps);
    P("    ok &= (w->labels = calloc(nb * W, sizeof *w->labels)) != NULL;\n");
    P("    ok &= (w->rows = calloc(nb * W, sizeof *w->rows)) != NULL;\n");
    P("    ok &= (w->acc = lanes_calloc(nb * ACC_LEN * W)) != NULL;\n");
    P("    ok &= (w->bsum = lanes_calloc(nb * ACC_LEN)) != NULL;\n");
    P("    ok &= (w->block_loss = calloc(nb, sizeof *w->block_loss)) != NULL;\n");
    P("    ok &= (w->block_correct = calloc(nb, sizeof *w->block_correct)) != NULL;\n");
    P("    ok &= (w->block_bad = calloc(nb, sizeof *w->block_bad)) != NULL;\n");
    for (int i = 0; i < n_buffers; i++)
        P("    ok &= (w->%s = lanes_calloc(%s%zu)) != NULL;\n", buffers[i].name, buffers[i].scratch ? "" : "nb * ",
          buffers[i].per_block);
    P("    if (!ok) {\n        gen_destroy(w);\n        return NULL;\n    }\n    return w;\n}\n\n");
}

static void emit_destroy(emitter *e) {
    P("static void gen_destroy(void *impl) {\n    workspace *w = impl;\n    if (!w) return;\n");
    P("    free(w->tokens);\n    free(w->labels);\n    free(w->rows);\n    free(w->acc);\n    free(w->bsum);\n");
    P("    free(w->block_loss);\n    free(w->block_correct);\n    free(w->block_bad);\n");
    for (int i = 0; i < n_buffers; i++) P("    free(w->%s);\n", buffers[i].name);
    P("    free(w);\n}\n\n");
}

/* ---- layers: forward ---------------------------------------------------------------------- */

/* Rows of a table to lanes and back (rnn_lanes.h): for the step t of the caller, the
 * n columns of the W rows rows[l] become the vectors vec[(t*n + j)*W ...] (gather), or
 * those vectors are added to the rows (scatter), 16 columns per call. */
static void emit_lanes_calls(emitter *e, int scatter, const char *vec, int n, const char *ind) {
    for (int c = 0; c < n; c += 16) {
        int k = n - c < 16 ? n - c : 16;
        if (scatter) P("%srnn_lanes_scatter_add16(rows, %d, %s + ((size_t)t * %d + %d) * W, %d);\n", ind, c, vec, n, c, k);
        else P("%srnn_lanes_gather16(%s + ((size_t)t * %d + %d) * W, rows, %d, %d);\n", ind, vec, n, c, c, k);
    }
}

/* The embedding's backward for block g: d0 (d loss / d output, [T][E][W]) added into the
 * looked-up rows of `table` ([V][E]), step by step and lane by lane; padding lanes into
 * `sink`. Needs w, g, n, d0 and sink in scope. */
static void emit_embedding_scatter(emitter *e, const char *table, const char *ind) {
    const rnn_layer *emb0 = &e->m->layers[0];
    P("%sfor (int t = 0; t < %d; t++) {\n", ind, emb0->timesteps);
    P("%s    rnn_real *rows[W];\n", ind);
    P("%s    for (int l = 0; l < W; l++)\n", ind);
    P("%s        rows[l] = g * W + l < n ? %s + (size_t)w->tokens[((size_t)g * W + l) * %d + t] * %d : sink;\n", ind, table,
      emb0->timesteps, emb0->units);
    char in2[64];
    snprintf(in2, sizeof in2, "%s    ", ind);
    emit_lanes_calls(e, 1, "d0", emb0->units, in2);
    P("%s}\n", ind);
}

static void emit_embedding_forward(emitter *e, int i) {
    const rnn_layer *l = &e->m->layers[i];
    const rnn_tensor *t = tensor(e->m, i, RNN_T_EMBEDDINGS);
    P("/* ---- %s (Embedding): tokens [%d] -> (%d, %d) ----\n", l->name, l->timesteps, l->timesteps, l->units);
    P(" * out[t][e][l] = %s[token of lane l at t][e] */\n", t->name);
    P("static void forward_%d(workspace *w, const rnn_real *params, int g) {\n", i);
    P("    const rnn_real *table = params + %zu; /* %s [%d, %d] */\n", t->offset, t->name, t->shape[0], t->shape[1]);
    P("    rnn_real *out = w->a%d + (size_t)g * %zu;\n", i, buf_size("a0"));
    P("    for (int t = 0; t < %d; t++) {\n", l->timesteps);
    P("        const rnn_real *rows[W];\n");
    P("        for (int l = 0; l < W; l++) rows[l] = table + (size_t)w->tokens[((size_t)g * W + l) * %d + t] * %d;\n",
      l->timesteps, l->units);
    emit_lanes_calls(e, 0, "out", l->units, "        ");
    P("    }\n}\n\n");
}


/* ---- the time loop and the step functions ---------------------------------------------------
 * Each timestep is a call to a static step function whose pointers are restrict
 * parameters: that is what tells the C compiler that the lanes of different buffers
 * never overlap, so that it vectorizes the lane loops without run-time checks (clang
 * ignores restrict on local variables). */

typedef void (*step_body)(emitter *e, int layer, const char *indent);

typedef struct {
    const char *name;
    int is_const;
} step_param;

/* The parameters of layer i's step function, in order. With the embedding folded into
 * the input projection (fold), the step gets xk = b + x_t.K from the table instead of
 * x_t, K and b, and the backward step leaves the input side to the table's gradient. */
static int step_params(const rnn_layer *l, int backward, int fold, int proj, step_param *p) {
    int n = 0, lstm = l->kind == RNN_LAYER_LSTM, gru = l->kind == RNN_LAYER_GRU, ra = gru && l->reset_after;
#define ADD(nm, c) (p[n].name = (nm), p[n].is_const = (c), n++)
    if (!proj) ADD("K", 1);
    ADD("R", 1);
    if (!backward && !proj) ADD("B", 1);
    if (!backward && ra) ADD("B1", 1);
    if (backward) ADD("up", 1);
    if (!proj && !backward) ADD("xt", 1);   /* going back, x only enters K's gradient, after the loop */
    if (proj && !backward) ADD(gru ? "xa" : "xk", 1);
    if (!backward || gru) ADD("hp", 1);     /* LSTM and SimpleRNN use h_{t-1} only in R's gradient */
    if (lstm) ADD("cp", 1);
    if (lstm || gru) ADD("gt", backward);
    if (lstm && !backward) ADD("ct", 0);   /* going back, tanh(c_t) is all that is needed */
    if (lstm) ADD("tct", backward);
    if (!backward || l->kind == RNN_LAYER_SIMPLE_RNN) ADD("ht", backward);
    if (ra) ADD("hht", backward);
    if (l->recurrent_dropout > 0) ADD("rmask", 1);
    if (!backward && gru) {
        if (!proj) ADD("xa", 0);
        ADD("ha", 0);
        if (!ra) {
            ADD("rh", 0);
            ADD("hn", 0);
        }
    }
    if (backward && !proj && input_dropout(l)) ADD("xm", 1);   /* the input dropout mask of step t, on dx_t */
    if (backward) {
        if (!proj) ADD("dxt", 0);
        ADD("dz", 0);
        ADD("dhn", 0);
        if (lstm) ADD("dcn", 0);
        if (gru) {
            if (ra) ADD("dzh", 0);
            ADD("dhd", 0);
            if (!ra) {
                ADD("drh", 0);
                ADD("rh", 0);
            }
        }
        if (gru) ADD("aR", 0);
        if (!fold || ra) ADD("aB", 0);
    }
#undef ADD
    return n;
}

/* The step function of layer i: the body with every pointer a restrict parameter. */
static void emit_step_function(emitter *e, int i, int backward, step_body body) {
    const rnn_layer *l = &e->m->layers[i];
    step_param p[32];
    int n = step_params(l, backward, folded(e, i), projected(e, i), p);
    /* Step functions stay calls, except the backward step of a folded layer. Inlined
     * into the time loop, clang hoists the broadcast of every weight out of the loop into
     * a stack array of vectors (16 KB for a folded LSTM(8), 50 KB with its 16 inputs)
     * that each step then reads back, where the called step uses the weights as
     * broadcast operands. Measured on this design (AVX-512, clang 14, medians of 5):
     * per epoch lstm_dropout 0.129 -> 0.116 s and lstm2 0.213 -> 0.193 s with their
     * backward steps as calls too; folded backward steps are as fast or faster inlined. */
    int call = !backward || !folded(e, i);
    P("%sstatic void %s_step_%d(", call ? "NOINLINE " : "", backward ? "backward" : "forward", i);
    for (int k = 0; k < n; k++) P("%s%srnn_real *restrict %s", k ? ", " : "", p[k].is_const ? "const " : "", p[k].name);
    P(") {\n");
    body(e, i, "    ");
    P("}\n\n");
}

/* Pointers of step t in the caller, then the call. slots (forward only): the step's
 * state goes to slot s (c, h), s1 (the gates, tanh(c), the GRU's candidate) and the
 * previous step's is read from slot sp, variables of the time loop (emit_forward_steps):
 * every step its own slot when the state is kept for the backward pass, otherwise two
 * alternating slots for c and h and one for the rest. h stays one slot per step when
 * the whole sequence is the layer's output. One call site either way, so the step
 * function stays inlined. */
static void emit_step_call(emitter *e, int i, int backward, int slots, const char *ind) {
    const rnn_layer *l = &e->m->layers[i];
    int T = l->timesteps, F = l->in_features, U = l->units, G = l->gates * U;
    const char *hs = slots && !l->out_seq ? "s" : "(size_t)t", *hsp = slots && !l->out_seq ? "sp" : "(size_t)(t - 1)";
    const char *cs = slots ? "s" : "(size_t)t", *csp = slots ? "sp" : "(size_t)(t - 1)", *s1 = slots ? "s1" : "(size_t)t";
    step_param p[32];
    int n = step_params(l, backward, folded(e, i), projected(e, i), p);
    P("%s%s_step_%d(", ind, backward ? "backward" : "forward", i);
    for (int k = 0; k < n; k++) {
        const char *nm = p[k].name;
        P("%s", k ? ", " : "");
        if (!strcmp(nm, "up")) {
            if (l->out_seq) P("dout + (size_t)t * %d * W", U);
            else P("t == %d ? dout : ZERO", T - 1);
        } else if (!strcmp(nm, "xt")) P("x + (size_t)t * %d * W", F);
        else if (!strcmp(nm, "hp")) P("t > 0 ? h + %s * %d * W : ZERO", hsp, U);
        else if (!strcmp(nm, "cp")) P("t > 0 ? c + %s * %d * W : ZERO", csp, U);
        else if (!strcmp(nm, "gt")) P("gates + %s * %d * W", s1, G);
        else if (!strcmp(nm, "ct")) P("c + %s * %d * W", cs, U);
        else if (!strcmp(nm, "tct")) P("tc + %s * %d * W", s1, U);
        else if (!strcmp(nm, "ht")) P("h + %s * %d * W", hs, U);
        else if (!strcmp(nm, "hht")) P("hh + %s * %d * W", s1, U);
        else if (!strcmp(nm, "dxt")) P("dx + (size_t)t * %d * W", F);
        else if (!strcmp(nm, "xm")) P(per_step_mask(l) ? "xmask + (size_t)t * %d * W" : "xmask", F);
        else if (!strcmp(nm, "dz")) P("dzs + (size_t)t * %d * W", G);
        else if (!strcmp(nm, "xk") || (!strcmp(nm, "xa") && p[k].is_const)) P("xk + (size_t)t * %d * W", G);
        else P("%s", nm);
    }
    P(");\n");
}

/* The folded layer's input-side gradient dz_t goes into the table's gradient dEK. */
static void emit_fold_scatter(emitter *e, int i, const char *ind) {
    const rnn_layer *l = &e->m->layers[i];
    int T = l->timesteps, G = l->gates * l->units;
    P("%s{\n%s    rnn_real *rows[W];\n", ind, ind);
    P("%s    for (int l = 0; l < W; l++) {\n", ind);
    P("%s        const int32_t id = w->tokens[((size_t)g * W + l) * %d + t];\n", ind, T);
    P("%s        rows[l] = w->dek + ((size_t)g * %d + (size_t)id) * %d;\n", ind, e->m->vocab, G);
    P("%s        w->touched[(size_t)g * %d + (size_t)id] = 1;\n%s    }\n", ind, e->m->vocab, ind);
    char in2[64];
    snprintf(in2, sizeof in2, "%s    ", ind);
    emit_lanes_calls(e, 1, "dzs", G, in2);
    P("%s}\n", ind);
}

/* The loop over timesteps; with --unroll full, T calls with a constant t each. */
static void emit_time_loop(emitter *e, int i, int backward, int slots, const char *ind) {
    int T = e->m->layers[i].timesteps, scatter = backward && folded(e, i);
    char in2[64];
    snprintf(in2, sizeof in2, "%s    ", ind);
    if (e->o->unroll == RNNC_UNROLL_FULL) {
        for (int s = 0; s < T; s++) {
            int t = backward ? T - 1 - s : s;
            P("%s{ /* t = %d */\n%s    const int t = %d;\n", ind, t, ind, t);
            emit_step_call(e, i, backward, 0, in2);
            if (scatter) emit_fold_scatter(e, i, in2);
            P("%s}\n", ind);
        }
        return;
    }
    P("%sTIME_LOOP\n", ind);
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
 * layer read, which saves the stores and, for large batches, the memory traffic
 * (measured on lstm: evaluate 19 % faster at batch 64, 30 % at 1000). A predictor
 * only ever infers. With --unroll full every forward keeps (the steps are constant). */
static void emit_forward_steps(emitter *e, int i) {
    const rnn_layer *l = &e->m->layers[i];
    int T = l->timesteps, U = l->units;
    int last = T - 1, copy_last = !l->out_seq && last % 2 != last;
    if (e->o->unroll == RNNC_UNROLL_FULL && !e->infer) {
        emit_time_loop(e, i, 0, 0, "    ");
        return;
    }
    P("    const int keep = %s; /* every step's state, for the backward pass */\n", e->infer ? "0" : "w->keep");
    emit_time_loop(e, i, 0, 1, "    ");
    if (copy_last)
        P("    if (!keep) /* the output: the last h, in its slot */\n"
          "        for (int k = 0; k < %d * W; k++) h[(size_t)%d * %d * W + k] = h[(size_t)%d * %d * W + k];\n",
          U, last, U, last % 2, U);
}

/* ---- recurrent layers: what every step function starts with -------------------------------- */

static const char *rmask_name(const rnn_layer *l) { return l->recurrent_dropout > 0 ? "rmask" : NULL; }

static void emit_rnn_prologue(emitter *e, int i, int backward) {
    const rnn_layer *l = &e->m->layers[i];
    const rnn_model *m = e->m;
    const rnn_tensor *K = tensor(m, i, RNN_T_KERNEL), *R = tensor(m, i, RNN_T_RECURRENT_KERNEL),
                     *B = tensor(m, i, RNN_T_RNN_BIAS);
    int T = l->timesteps, F = l->in_features, U = l->units, G = l->gates * U;
    char in[200];
    int fold = folded(e, i);
    out_ptr(in, sizeof in, m, i - 1);
    if (!fold) P("    const rnn_real *K = params + %zu; /* %s [%d, %d] */\n", K->offset, K->name, F, G);
    P("    const rnn_real *R = params + %zu; /* %s [%d, %d] */\n", R->offset, R->name, U, G);
    if (backward)
        ; /* the bias is not read going back */
    else if (fold && l->kind == RNN_LAYER_GRU && l->reset_after)
        P("    const rnn_real *B1 = params + %zu; /* %s [1]: the recurrent side */\n", B->offset + (size_t)G, B->name);
    else if (fold)
        ; /* the bias is in the folded table */
    else if (l->kind == RNN_LAYER_GRU && l->reset_after)
        P("    const rnn_real *B = params + %zu, *B1 = B + %d; /* %s [2, %d]: input side, recurrent side */\n", B->offset,
          G, B->name, G);
    else
        P("    const rnn_real *B = params + %zu; /* %s [%d] */\n", B->offset, B->name, G);
    P("    rnn_real *h = w->h%d + (size_t)g * %zu;\n", i, (size_t)T * U * W);
    if (l->kind == RNN_LAYER_LSTM) {
        P("    rnn_real *c = w->c%d + (size_t)g * %zu;\n", i, (size_t)T * U * W);
        P("    rnn_real *tc = w->tc%d + (size_t)g * %zu;\n", i, (size_t)T * U * W);
    }
    if (l->kind != RNN_LAYER_SIMPLE_RNN) P("    rnn_real *gates = w->gates%d + (size_t)g * %zu;\n", i, (size_t)T * G * W);
    if (l->kind == RNN_LAYER_GRU && l->reset_after) P("    rnn_real *hh = w->hh%d + (size_t)g * %zu;\n", i, (size_t)T * U * W);
    if (projected(e, i) && !backward)
        P("    rnn_real *xk = w->xk + (size_t)g * %zu; /* b + x_t.K of every step */\n", buf_size("xk"));
    if (fold && !backward) {
        P("    /* gathered from the folded table */\n");
        P("    for (int t = 0; t < %d; t++) {\n", T);
        P("        const rnn_real *rows[W];\n");
        P("        for (int l = 0; l < W; l++) rows[l] = w->ek + (size_t)w->tokens[((size_t)g * W + l) * %d + t] * %d;\n", T, G);
        emit_lanes_calls(e, 0, "xk", G, "        ");
        P("    }\n");
    }
    if (!fold) P("    const rnn_real *x = %s; /* input [%d][%d][W] */\n", in, T, F);
    if (input_dropout(l)) {
        int ps = per_step_mask(l);
        P("    rnn_real *xmask = w->xmask%d + (size_t)g * %zu, *xd = w->%s%d + (size_t)g * %zu;%s\n", i,
          (size_t)(ps ? T : 1) * F * W, xd_in_place(i) ? "a" : "xd", xd_in_place(i) ? 0 : i, (size_t)T * F * W,
          xd_in_place(i) ? " /* in place */" : "");
        if (!backward) {
            P("    if (w->training) { /* dropout %g: one mask shared by all gates, %s */\n", l->dropout,
              ps ? "a new one at every step (tf.keras 2.x)" : "the same at every step");
            P("        draw_mask(xmask, ctx, RNN_RNG_DROPOUT, %d, %d, %d, %d, ", i, ps ? T : 1, ps, F);
            emit_double(e, l->dropout);
            P(", w->rows + (size_t)g * W);\n");
            P("        for (int t = 0; t < %d; t++)\n", T);
            /* in place as *=: written as xd = x * mask with xd == x, the loop would check the
             * pointers for overlap at run time and take its scalar version */
            char mk[64], val[96];
            if (ps) snprintf(mk, sizeof mk, "xmask[t * %d * W + k]", F);
            else snprintf(mk, sizeof mk, "xmask[k]");
            if (xd_in_place(i)) snprintf(val, sizeof val, "*= %s", mk);
            else snprintf(val, sizeof val, "= x[t * %d * W + k] * %s", F, mk);
            P("            for (int k = 0; k < %d * W; k++) xd[t * %d * W + k] %s;\n", F, F, val);
            P("    }\n");
        }
        P("    if (w->training) x = xd;\n");
        if (backward)
            P("    else /* going back after an inference (no dropout): dx is not masked */\n"
              "        for (int k = 0; k < %d * W; k++) xmask[k] = 1.0f;\n", (ps ? T : 1) * F);
    }
    if (l->recurrent_dropout > 0) {
        P("    rnn_real *rmask = w->rmask%d + (size_t)g * %zu; /* recurrent dropout, one mask per sequence */\n", i,
          (size_t)U * W);
        if (!backward) {
            P("    if (w->training) {\n        draw_mask(rmask, ctx, RNN_RNG_RECURRENT_DROPOUT, %d, 1, 0, %d, ", i, U);
            emit_double(e, l->recurrent_dropout);
            P(", w->rows + (size_t)g * W);\n    } else {\n        for (int k = 0; k < %d * W; k++) rmask[k] = 1.0f;\n    }\n", U);
        }
    }
    if (hoisted(e, i) && !backward)
        P("    input_projection_%d(xk, x, K, B); /* one matrix product for all the steps */\n", i);
    if (backward) {
        const rnn_layer *l = &m->layers[i];
        size_t acc0 = acc_index(m, K->offset), acc1 = acc_index(m, R->offset), acc2 = acc_index(m, B->offset);
        P("    const rnn_real *dout = w->d%d + (size_t)g * %zu; /* d loss / d output */\n", i,
          (size_t)(l->out_seq ? T : 1) * U * W);
        if (!fold) {
            P("    rnn_real *dx = w->d%d + (size_t)g * %zu; /* d loss / d input */\n", i - 1, (size_t)T * F * W);
            P("    rnn_real *aK = w->acc + (size_t)g * ACC_LEN * W + %zu;\n", acc0);
        }
        P("    rnn_real *aR = w->acc + (size_t)g * ACC_LEN * W + %zu, *aB = w->acc + (size_t)g * ACC_LEN * W + %zu;\n"
          "    (void)aB;\n", acc1, acc2);
        char dzsname[32], sname[32];
        snprintf(dzsname, sizeof dzsname, "dzs%d", i);
        snprintf(sname, sizeof sname, "s%d", i);
        P("    rnn_real *dzs = w->dzs%d + (size_t)g * %zu; /* dz of every step */\n", i, buf_size(dzsname));
        P("    rnn_real *dz = w->s%d + (size_t)g * %zu, *dzh = dz + %d * W, *dhn = dzh + %d * W, *dcn = dhn + %d * W;\n", i,
          buf_size(sname), G, G, U);
        P("    rnn_real *dhd = dcn + %d * W, *drh = dhd + %d * W, *rh = drh + %d * W;\n", U, U, U);
        P("    (void)dzh; (void)dcn; (void)dhd; (void)drh; (void)rh;\n");
        P("    for (int k = 0; k < %d * W; k++) dhn[k] = dcn[k] = 0.0f;\n", U);
    } else {
        char sname[32];
        snprintf(sname, sizeof sname, "s%d", i);
        P("    rnn_real *xa = w->s%d + (size_t)g * %zu, *ha = xa + %d * W, *rh = ha + %d * W, *hn = rh + %d * W;\n", i,
          buf_size(sname), G, G, U);
        P("    (void)xa; (void)ha; (void)rh; (void)hn;\n");
    }
}

/* dx_t = dz . K^T and K += x_t^T dz (per lane). */
static void emit_input_side(emitter *e, const rnn_layer *l, const char *ind) {
    int F = l->in_features, G = l->gates * l->units;
    P("%s/* dx_t = dz . K^T%s (K's gradient is summed over the steps afterwards) */\n", ind,
      input_dropout(l) ? ", times the input dropout mask" : "");
    emit_back_product(e, "dxt", F, "dz", G, "K", G, 0, input_dropout(l) ? "xm" : NULL, ind);
}

/* ---- LSTM ------------------------------------------------------------------------------------ */

static void lstm_forward_step(emitter *e, int i, const char *ind) {
    const rnn_layer *l = &e->m->layers[i];
    int F = l->in_features, U = l->units, G = 4 * U;
    P("%s/* z = b + x_t.K + h_{t-1}.R, columns i | f | c | o */\n", ind);
    proj_term terms[2] = {{"xt", NULL, "K", F, G, 0}, {"hp", rmask_name(l), "R", U, G, 0}};
    if (projected(e, i)) emit_projection(e, "gt", G, "@xk", terms + 1, 1, ind);   /* xk = b + x_t.K, made before */
    else emit_projection(e, "gt", G, "B", terms, 2, ind);
    /* One loop per function over whole gates rather than one loop over the units doing
     * all five: the activations of a step are independent of one another, and this way
     * the compiler lays their vectors side by side (measured 3-4 % faster on lstm). */
    P("%s/* the gates: i | f sigmoid, c tanh, o sigmoid; then the cell */\n", ind);
    P("%sfor (int k = 0; k < %d * W; k++) gt[k] = rnn_fast_sigmoidf(gt[k]);\n", ind, 2 * U);
    P("%sfor (int k = %d * W; k < %d * W; k++) gt[k] = rnn_fast_tanhf(gt[k]);\n", ind, 2 * U, 3 * U);
    P("%sfor (int k = %d * W; k < %d * W; k++) gt[k] = rnn_fast_sigmoidf(gt[k]);\n", ind, 3 * U, 4 * U);
    P("%sfor (int k = 0; k < %d * W; k++) {\n", ind, U);
    P("%s    const rnn_real cn = gt[%d * W + k] * cp[k] + gt[k] * gt[%d * W + k]; /* f c_{t-1} + i g */\n", ind, U, 2 * U);
    P("%s    const rnn_real tcn = rnn_fast_tanhf(cn);\n", ind);
    P("%s    ct[k] = cn;\n%s    tct[k] = tcn;\n", ind, ind);
    P("%s    ht[k] = gt[%d * W + k] * tcn;\n", ind, 3 * U);
    P("%s}\n", ind);
}

static void lstm_backward_step(emitter *e, int i, const char *ind) {
    const rnn_layer *l = &e->m->layers[i];
    int U = l->units, G = 4 * U;
    P("%sfor (int u = 0; u < %d; u++)\n", ind, U);
    P("%s    for (int l = 0; l < W; l++) {\n", ind);
    P("%s        const rnn_real dh = dhn[u * W + l] + up[u * W + l];\n", ind);
    P("%s        const rnn_real ig = gt[u * W + l], fg = gt[(%d + u) * W + l];\n", ind, U);
    P("%s        const rnn_real cg = gt[(%d + u) * W + l], og = gt[(%d + u) * W + l];\n", ind, 2 * U, 3 * U);
    P("%s        const rnn_real tc = tct[u * W + l]; /* tanh(c_t), kept by the forward pass */\n", ind);
    P("%s        const rnn_real dc = dcn[u * W + l] + dh * og * (1.0f - tc * tc);\n", ind);
    P("%s        dz[u * W + l] = dc * cg * ig * (1.0f - ig);\n", ind);
    P("%s        dz[(%d + u) * W + l] = dc * cp[u * W + l] * fg * (1.0f - fg);\n", ind, U);
    P("%s        dz[(%d + u) * W + l] = dc * ig * (1.0f - cg * cg);\n", ind, 2 * U);
    P("%s        dz[(%d + u) * W + l] = dh * tc * og * (1.0f - og);\n", ind, 3 * U);
    P("%s        dcn[u * W + l] = dc * fg;\n", ind);
    P("%s    }\n", ind);
    if (!folded(e, i)) P("%sfor (int k = 0; k < %d * W; k++) aB[k] += dz[k];\n", ind, G);
    if (!projected(e, i)) emit_input_side(e, l, ind);
    P("%s/* dh_{t-1} = dz . R^T%s (R's gradient is summed over the steps afterwards) */\n", ind,
      l->recurrent_dropout > 0 ? " (times the mask)" : "");
    emit_back_product(e, "dhn", U, "dz", G, "R", G, 0, NULL, ind);
    if (l->recurrent_dropout > 0) P("%sfor (int k = 0; k < %d * W; k++) dhn[k] *= rmask[k];\n", ind, U);
}

/* ---- GRU --------------------------------------------------------------------------------------- */

static void gru_forward_step(emitter *e, int i, const char *ind) {
    const rnn_layer *l = &e->m->layers[i];
    int F = l->in_features, U = l->units, G = 3 * U;
    const char *rm = rmask_name(l);
    proj_term xterm[1] = {{"xt", NULL, "K", F, G, 0}};
    proj_term hterm[1] = {{"hp", rm, "R", U, G, 0}};
    if (l->reset_after) {
        P("%s/* xa = b[0] + x_t.K; ha = b[1] + h_{t-1}.R; columns z | r | h */\n", ind);
        if (!projected(e, i)) emit_projection(e, "xa", G, "B", xterm, 1, ind);
        /* the candidate's part, b[1]_h + h_{t-1}.R_h, goes straight to hht, which the
         * backward pass keeps (copied there from ha, clang turns the copy into memcpy) */
        emit_projection(e, "ha", 2 * U, "B1", hterm, 1, ind);
        char b1h[32];
        snprintf(b1h, sizeof b1h, "(B1 + %d)", 2 * U);
        proj_term hterm_h[1] = {{"hp", rm, "R", U, G, 2 * U}};
        emit_projection(e, "hht", U, b1h, hterm_h, 1, ind);
        /* z | r in one loop over both gates (independent vectors side by side), then the
         * candidate, which needs r */
        P("%sfor (int k = 0; k < %d * W; k++) gt[k] = rnn_fast_sigmoidf(xa[k] + ha[k]);\n", ind, 2 * U);
        P("%sfor (int k = 0; k < %d * W; k++) {\n", ind, U);
        P("%s    const rnn_real zg = gt[k], rg = gt[%d * W + k];\n", ind, U);
        P("%s    const rnn_real ng = rnn_fast_tanhf(xa[%d * W + k] + rg * hht[k]);\n", ind, 2 * U);
        P("%s    gt[%d * W + k] = ng;\n", ind, 2 * U);
        P("%s    ht[k] = zg * hp[k] + (1.0f - zg) * ng;\n", ind);
        P("%s}\n", ind);
        return;
    } else {
        P("%s/* xa = b + x_t.K; ha = h_{t-1}.R for z | r; the candidate gets (r * h_{t-1}).R_h */\n", ind);
        if (!projected(e, i)) emit_projection(e, "xa", G, "B", xterm, 1, ind);
        emit_projection(e, "ha", 2 * U, NULL, hterm, 1, ind);
        P("%sfor (int k = 0; k < %d * W; k++) {\n", ind, U);
        P("%s    gt[k] = rnn_fast_sigmoidf(xa[k] + ha[k]);\n", ind);
        P("%s    gt[%d * W + k] = rnn_fast_sigmoidf(xa[%d * W + k] + ha[%d * W + k]);\n", ind, U, U, U);
        P("%s    rh[k] = gt[%d * W + k] * hp[k]%s;\n", ind, U, rm ? " * rmask[k]" : "");
        P("%s}\n", ind);
        proj_term rterm[1] = {{"rh", NULL, "R", U, G, 2 * U}};
        emit_projection(e, "hn", U, NULL, rterm, 1, ind);
        P("%sfor (int u = 0; u < %d; u++)\n", ind, U);
        P("%s    for (int l = 0; l < W; l++) {\n", ind);
        P("%s        const rnn_real zg = gt[u * W + l], rg = gt[(%d + u) * W + l];\n", ind, U);
        P("%s        const rnn_real ng = rnn_fast_tanhf(xa[(%d + u) * W + l] + hn[u * W + l]);\n", ind, 2 * U);
    }
    P("%s        gt[u * W + l] = zg;\n", ind);
    P("%s        gt[(%d + u) * W + l] = rg;\n", ind, U);
    P("%s        gt[(%d + u) * W + l] = ng;\n", ind, 2 * U);
    P("%s        ht[u * W + l] = zg * hp[u * W + l] + (1.0f - zg) * ng;\n", ind);
    P("%s    }\n", ind);
}

static void gru_backward_step(emitter *e, int i, const char *ind) {
    const rnn_layer *l = &e->m->layers[i];
    int U = l->units, G = 3 * U;
    const char *rm = rmask_name(l);
    P("%sfor (int u = 0; u < %d; u++)\n", ind, U);
    P("%s    for (int l = 0; l < W; l++) {\n", ind);
    P("%s        const rnn_real dh = dhn[u * W + l] + up[u * W + l];\n", ind);
    P("%s        const rnn_real zg = gt[u * W + l], ng = gt[(%d + u) * W + l];\n", ind, 2 * U);
    P("%s        const rnn_real dan = dh * (1.0f - zg) * (1.0f - ng * ng);\n", ind);
    P("%s        dz[u * W + l] = dh * (hp[u * W + l] - ng) * zg * (1.0f - zg);\n", ind);
    P("%s        dz[(%d + u) * W + l] = dan;\n", ind, 2 * U);
    P("%s        dhd[u * W + l] = dh * zg; /* the direct path z * h_{t-1} */\n", ind);
    if (l->reset_after) {
        P("%s        const rnn_real rg = gt[(%d + u) * W + l];\n", ind, U);
        P("%s        dz[(%d + u) * W + l] = dan * hht[u * W + l] * rg * (1.0f - rg);\n", ind, U);
        P("%s        dzh[u * W + l] = dz[u * W + l];\n", ind);
        P("%s        dzh[(%d + u) * W + l] = dz[(%d + u) * W + l];\n", ind, U, U);
        P("%s        dzh[(%d + u) * W + l] = dan * rg;\n", ind, 2 * U);
        P("%s    }\n", ind);
        if (folded(e, i)) {
            P("%sfor (int k = 0; k < %d * W; k++) aB[%d * W + k] += dzh[k];\n", ind, G, G);
        } else {
            P("%sfor (int k = 0; k < %d * W; k++) {\n%s    aB[k] += dz[k];\n%s    aB[%d * W + k] += dzh[k];\n%s}\n", ind, G,
              ind, ind, G, ind);
            if (!projected(e, i)) emit_input_side(e, l, ind);
        }
        P("%s/* dh_{t-1} = z * dh + (dzh . R^T)%s; per-lane R += h_{t-1}^T dzh */\n", ind, rm ? " * mask" : "");
        emit_back_product(e, "dhn", U, "dzh", G, "R", G, 0, NULL, ind);
        emit_outer_acc(e, "aR", "hp", rm, U, "dzh", G, G, 0, ind);
        P("%sfor (int k = 0; k < %d * W; k++) dhn[k] = dhd[k] + dhn[k]%s;\n", ind, U, rm ? " * rmask[k]" : "");
        return;
    }
    P("%s    }\n", ind);
    P("%sconst rnn_real *dzn = dz + %d * W; /* the candidate's gradient */\n", ind, 2 * U);
    P("%s/* d(r * h) = dzn . R_h^T */\n", ind);
    emit_back_product(e, "drh", U, "dzn", U, "R", G, 2 * U, NULL, ind);
    P("%sfor (int k = 0; k < %d * W; k++) {\n", ind, U);
    P("%s    const rnn_real rg = gt[%d * W + k], hm = hp[k]%s;\n", ind, U, rm ? " * rmask[k]" : "");
    P("%s    dz[%d * W + k] = drh[k] * hm * rg * (1.0f - rg);\n", ind, U);
    P("%s    rh[k] = rg * hm;\n", ind);
    P("%s}\n", ind);
    if (!folded(e, i)) P("%sfor (int k = 0; k < %d * W; k++) aB[k] += dz[k];\n", ind, G);
    if (!projected(e, i)) emit_input_side(e, l, ind);
    P("%s/* dh_{t-1} = z * dh + (dz[z|r] . R[z|r]^T + r * d(r * h))%s */\n", ind, rm ? " * mask" : "");
    emit_back_product(e, "dhn", U, "dz", 2 * U, "R", G, 0, NULL, ind);
    P("%sfor (int k = 0; k < %d * W; k++) dhn[k] = dhd[k] + (dhn[k] + drh[k] * gt[%d * W + k])%s;\n", ind, U, U,
      rm ? " * rmask[k]" : "");
    P("%s/* per-lane R[z|r] += h_{t-1}^T dz[z|r], R_h += (r * h_{t-1})^T dzn */\n", ind);
    emit_outer_acc(e, "aR", "hp", rm, U, "dz", 2 * U, G, 0, ind);
    emit_outer_acc(e, "aR", "rh", NULL, U, "dzn", U, G, 2 * U, ind);
}

/* ---- SimpleRNN ----------------------------------------------------------------------------- */

static void simple_rnn_forward_step(emitter *e, int i, const char *ind) {
    const rnn_layer *l = &e->m->layers[i];
    int F = l->in_features, U = l->units;
    P("%s/* h_t = %s(b + x_t.K + h_{t-1}.R) */\n", ind, rnn_activation_name(l->activation));
    proj_term terms[2] = {{"xt", NULL, "K", F, U, 0}, {"hp", rmask_name(l), "R", U, U, 0}};
    if (projected(e, i)) emit_projection(e, "ht", U, "@xk", terms + 1, 1, ind);
    else emit_projection(e, "ht", U, "B", terms, 2, ind);
    if (l->activation != RNN_ACT_LINEAR)
        P("%sfor (int k = 0; k < %d * W; k++) ht[k] = %s(ht[k]);\n", ind, U, act_fn(l->activation));
}

static void simple_rnn_backward_step(emitter *e, int i, const char *ind) {
    const rnn_layer *l = &e->m->layers[i];
    int U = l->units;
    P("%sfor (int k = 0; k < %d * W; k++) {\n", ind, U);
    P("%s    const rnn_real y = ht[k];\n", ind);
    P("%s    dz[k] = (dhn[k] + up[k]) * ", ind);
    emit_act_grad(e, l->activation, "y");
    P(";\n%s    (void)y;\n", ind);
    if (!folded(e, i)) P("%s    aB[k] += dz[k];\n", ind);
    P("%s}\n", ind);
    if (!projected(e, i)) emit_input_side(e, l, ind);
    emit_back_product(e, "dhn", U, "dz", U, "R", U, 0, NULL, ind);
    if (l->recurrent_dropout > 0) P("%sfor (int k = 0; k < %d * W; k++) dhn[k] *= rmask[k];\n", ind, U);
}

/* The largest of 4, 2, 1 that divides n: a register-block size. */
static int block_of(int n) { return n % 4 == 0 ? 4 : n % 2 == 0 ? 2 : 1; }

/* The partial sums of a rows x cols register tile, s<r><c>[W] (zeroed if zero), declared
 * in one statement indented by ind. */
static void emit_tile_sums(emitter *e, const char *ind, int rows, int cols, int zero) {
    P("%srnn_real", ind);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) P("%s s%d%d[W]%s", r + c ? "," : "", r, c, zero ? " = {0}" : "");
    P(";\n");
}

/* Steps per chunk of a weight gradient's time loop: the chunk's a and d rows, CHUNK_BYTES
 * of them, stay in L1 while every tile passes over them (one thread, lstm_dropout: whole
 * time loop 0.0986 s per epoch; chunks of 10 steps 0.0942, 20 0.0910, 25 0.0912, 34
 * 0.0920, 50 0.0941; lstm2 0.163 -> 0.154). One chunk when fewer than 8 steps would fit
 * (a large layer: the tiles' sums would be stored and reloaded too often), or when the
 * steps make less than two chunks (simplernn's 8 x 8 recurrent kernel, 4 tiles: chunks
 * of 60 steps were 3 % slower). */
#define CHUNK_BYTES (60 * 1024)

static int time_chunk(int T, int A, int G) {
    int tc = CHUNK_BYTES / ((A + G) * W * (int)sizeof(float));
    return tc < 8 || 2 * tc > T ? T : tc;
}

/* acc[(r*G + c)*W + l] += sum over t of a[t + a_shift][r][l] * d[t][c][l] (times mask[r][l]):
 * a weight gradient summed over the time steps, register-blocked RB x CB so the partial
 * sums stay in registers across a chunk of steps instead of a load and a store per
 * multiply-add (each chunk's sums added to acc in turn). a_shift = -1 pairs h_{t-1} with
 * dz_t (t = 0 contributes nothing). */
static void emit_time_outer_function(emitter *e, const char *name, int T, int A, int G, int shift, int masked) {
    int RB = block_of(A), CB = block_of(G), TC = time_chunk(T, A, G);
    int t0 = shift < 0 ? -shift : 0;
    P("static void %s(rnn_real *restrict acc, const rnn_real *restrict a, const rnn_real *restrict d%s) {\n", name,
      masked ? ", const rnn_real *restrict mask" : "");
    if (TC < T) {
        P("    for (int t0 = %d; t0 < %d; t0 += %d) { /* chunks of steps that stay in L1 */\n", t0, T, TC);
        P("        const int t1 = t0 + %d < %d ? t0 + %d : %d;\n", TC, T, TC, T);
    } else {
        P("    { /* the steps in one chunk (time_chunk in emit_c.c) */\n");
        P("        const int t0 = %d, t1 = %d;\n", t0, T);
    }
    P("        for (int r0 = 0; r0 < %d; r0 += %d)\n", A, RB);
    P("            for (int c0 = 0; c0 < %d; c0 += %d) {\n", G, CB);
    emit_tile_sums(e, "                ", RB, CB, 1);
    P("                for (int t = t0; t < t1; t++) {\n");
    P("                    const rnn_real *at = a + ((size_t)(t - %d) * %d + (size_t)r0) * W;\n", t0, A);
    P("                    const rnn_real *dt = d + ((size_t)t * %d + (size_t)c0) * W;\n", G);
    P("                    for (int l = 0; l < W; l++) {\n");
    for (int r = 0; r < RB; r++) P("                        const rnn_real a%d = at[%d * W + l];\n", r, r);
    for (int c = 0; c < CB; c++) P("                        const rnn_real d%d = dt[%d * W + l];\n", c, c);
    for (int r = 0; r < RB; r++)
        for (int c = 0; c < CB; c++) P("                        s%d%d[l] += a%d * d%d;\n", r, c, r, c);
    P("                    }\n                }\n");
    P("                for (int l = 0; l < W; l++) {\n");
    for (int r = 0; r < RB; r++)
        for (int c = 0; c < CB; c++) {
            P("                    acc[((size_t)(r0 + %d) * %d + (size_t)(c0 + %d)) * W + l] += s%d%d[l]", r, G, c, r, c);
            if (masked) P(" * mask[(r0 + %d) * W + l]", r);   /* the mask is constant over time */
            P(";\n");
        }
    P("                }\n            }\n    }\n}\n\n");
}

/* A hoisted layer's input side, as two matrix products over all the steps of a block:
 *   input_projection_i: xk[t][c] = b[c] + Σ_r x[t][r] K[r][c], before the forward steps;
 *   input_grad_i:       dx[t][r] = (Σ_c dz[t][c] K[r][c]) (times the input dropout
 *                       mask), after the backward steps.
 * Register-blocked TB steps by CB columns (or RB rows): each broadcast weight feeds TB
 * multiply-adds and each lane vector CB. Each sum in the reference's order (b, then
 * r = 0, 1, ...; c = 0, 1, ...). */
static void emit_input_side_functions(emitter *e, int i) {
    const rnn_layer *l = &e->m->layers[i];
    int T = l->timesteps, F = l->in_features, G = l->gates * l->units;
    int TB = block_of(T), CB = block_of(G), RB = block_of(F);
    P("static void input_projection_%d(rnn_real *restrict xk, const rnn_real *restrict x, const rnn_real *restrict K,\n"
      "                               const rnn_real *restrict B) {\n", i);
    P("    for (int t0 = 0; t0 < %d; t0 += %d)\n        for (int c0 = 0; c0 < %d; c0 += %d) {\n", T, TB, G, CB);
    emit_tile_sums(e, "            ", TB, CB, 0);
    P("            for (int l = 0; l < W; l++) {\n");
    for (int a = 0; a < TB; a++)
        for (int c = 0; c < CB; c++) P("                s%d%d[l] = B[c0 + %d];\n", a, c, c);
    P("            }\n            for (int r = 0; r < %d; r++) {\n", F);
    P("                const rnn_real *xr = x + ((size_t)t0 * %d + (size_t)r) * W, *kr = K + (size_t)r * %d + c0;\n", F, G);
    P("                for (int l = 0; l < W; l++) {\n");
    for (int a = 0; a < TB; a++) P("                    const rnn_real x%d = xr[%d * W + l];\n", a, a * F);
    for (int a = 0; a < TB; a++)
        for (int c = 0; c < CB; c++) P("                    s%d%d[l] += x%d * kr[%d];\n", a, c, a, c);
    P("                }\n            }\n            for (int l = 0; l < W; l++) {\n");
    for (int a = 0; a < TB; a++)
        for (int c = 0; c < CB; c++)
            P("                xk[((size_t)(t0 + %d) * %d + (size_t)(c0 + %d)) * W + l] = s%d%d[l];\n", a, G, c, a, c);
    P("            }\n        }\n}\n\n");
    if (e->infer) return;
    int masked = input_dropout(l), ps = per_step_mask(l);
    P("static void input_grad_%d(rnn_real *restrict dx, const rnn_real *restrict dz, const rnn_real *restrict K%s) {\n", i,
      masked ? ", const rnn_real *restrict xm" : "");
    P("    for (int t0 = 0; t0 < %d; t0 += %d)\n        for (int r0 = 0; r0 < %d; r0 += %d) {\n", T, TB, F, RB);
    emit_tile_sums(e, "            ", TB, RB, 1);
    P("            for (int c = 0; c < %d; c++) {\n", G);
    P("                const rnn_real *dc = dz + ((size_t)t0 * %d + (size_t)c) * W, *kc = K + (size_t)r0 * %d + c;\n", G, G);
    P("                for (int l = 0; l < W; l++) {\n");
    for (int a = 0; a < TB; a++) P("                    const rnn_real d%d = dc[%d * W + l];\n", a, a * G);
    for (int a = 0; a < TB; a++)
        for (int r = 0; r < RB; r++) P("                    s%d%d[l] += d%d * kc[%d];\n", a, r, a, r * G);
    P("                }\n            }\n            for (int l = 0; l < W; l++) {\n");
    for (int a = 0; a < TB; a++)
        for (int r = 0; r < RB; r++) {
            P("                dx[((size_t)(t0 + %d) * %d + (size_t)(r0 + %d)) * W + l] = s%d%d[l]", a, F, r, a, r);
            if (masked && ps) P(" * xm[((size_t)(t0 + %d) * %d + (size_t)(r0 + %d)) * W + l]", a, F, r);
            else if (masked) P(" * xm[(size_t)(r0 + %d) * W + l]", r);
            P(";\n");
        }
    P("            }\n        }\n}\n\n");
}

static void emit_rnn_layer(emitter *e, int i) {
    const rnn_layer *l = &e->m->layers[i];
    int T = l->timesteps, F = l->in_features, U = l->units;
    step_body fwd = l->kind == RNN_LAYER_LSTM ? lstm_forward_step : l->kind == RNN_LAYER_GRU ? gru_forward_step
                                                                                               : simple_rnn_forward_step;
    step_body bwd = l->kind == RNN_LAYER_LSTM ? lstm_backward_step : l->kind == RNN_LAYER_GRU ? gru_backward_step
                                                                                                : simple_rnn_backward_step;
    P("/* ---- %s (%s): (%d, %d) -> %s(%d) ----", l->name, rnn_layer_class_name(l->kind), T, F,
      l->return_sequences ? "sequence " : "", U);
    if (l->dropout > 0) P("\n * dropout %g", l->dropout);
    if (l->recurrent_dropout > 0) P("\n * recurrent_dropout %g", l->recurrent_dropout);
    if (l->kind == RNN_LAYER_GRU) P("\n * reset_after = %s", l->reset_after ? "true" : "false");
    if (l->kind == RNN_LAYER_SIMPLE_RNN) P("\n * activation %s", rnn_activation_name(l->activation));
    P(" */\n");
    if (hoisted(e, i)) emit_input_side_functions(e, i);
    emit_step_function(e, i, 0, fwd);
    P("static void forward_%d(workspace *w, const rnn_real *params, int g, const rnn_dropout_ctx *ctx) {\n", i);
    P("    (void)ctx;\n");
    emit_rnn_prologue(e, i, 0);
    emit_forward_steps(e, i);
    P("}\n\n");
    if (e->infer) return;
    emit_step_function(e, i, 1, bwd);
    int G = l->gates * U;
    char kname[48], rname[48];
    snprintf(kname, sizeof kname, "kernel_grad_%d", i);
    snprintf(rname, sizeof rname, "recurrent_kernel_grad_%d", i);
    if (!folded(e, i)) emit_time_outer_function(e, kname, T, F, G, 0, 0);
    if (recurrent_post(l)) emit_time_outer_function(e, rname, T, U, G, -1, l->recurrent_dropout > 0);
    P("static void backward_%d(workspace *w, const rnn_real *params, int g) {\n", i);
    emit_rnn_prologue(e, i, 1);
    emit_time_loop(e, i, 1, 0, "    ");
    if (hoisted(e, i))
        P("    input_grad_%d(dx, dzs, K%s); /* dx_t = dz_t . K^T for all the steps */\n", i, input_dropout(l) ? ", xmask" : "");
    P("    /* the kernels' gradients, summed over the steps: K += x_t^T dz_t, R += h_{t-1}^T dz_t */\n");
    if (!folded(e, i)) P("    %s(aK, x, dzs);\n", kname);
    if (recurrent_post(l)) P("    %s(aR, h, dzs%s);\n", rname, l->recurrent_dropout > 0 ? ", rmask" : "");
    P("}\n\n");
}

/* ---- Dense ----------------------------------------------------------------------------------- */

static void emit_dense_layer(emitter *e, int i) {
    const rnn_model *m = e->m;
    const rnn_layer *l = &m->layers[i];
    int F = l->in_features, O = l->units, last = i == m->n_layers - 1;
    const rnn_tensor *K = tensor(m, i, RNN_T_KERNEL), *B = tensor(m, i, RNN_T_DENSE_BIAS);
    char in[200];
    out_ptr(in, sizeof in, m, i - 1);
    P("/* ---- %s (Dense): (%d) -> (%d), %s%s ---- */\n", l->name, F, O, rnn_activation_name(l->activation),
      last ? " (the output layer: logits here, the activation is applied with the loss)" : "");
    P("static void forward_%d(workspace *w, const rnn_real *params, int g, const rnn_dropout_ctx *ctx) {\n", i);
    P("    (void)ctx;\n");
    P("    const rnn_real *K = params + %zu; /* %s [%d, %d] */\n", K->offset, K->name, F, O);
    P("    const rnn_real *B = params + %zu; /* %s [%d] */\n", B->offset, B->name, O);
    P("    const rnn_real *x = %s;\n", in);
    P("    rnn_real *y = w->a%d + (size_t)g * %d * W;\n", i, O);
    proj_term terms[1] = {{"x", NULL, "K", F, O, 0}};
    emit_projection(e, "y", O, "B", terms, 1, "    ");
    if (!last && l->activation == RNN_ACT_SOFTMAX) {
        P("    for (int l = 0; l < W; l++) {\n        rnn_real mx = y[l], s = 0.0f;\n");
        P("        for (int o = 1; o < %d; o++) mx = y[o * W + l] > mx ? y[o * W + l] : mx;\n", O);
        P("        for (int o = 0; o < %d; o++) s += (y[o * W + l] = expf(y[o * W + l] - mx));\n", O);
        P("        for (int o = 0; o < %d; o++) y[o * W + l] /= s;\n    }\n", O);
    } else if (!last && l->activation != RNN_ACT_LINEAR) {
        P("    for (int k = 0; k < %d * W; k++) y[k] = %s(y[k]);\n", O, act_fn(l->activation));
    }
    P("}\n\n");
    if (e->infer) return;
    P("static void backward_%d(workspace *w, const rnn_real *params, int g) {\n", i);
    P("    const rnn_real *K = params + %zu;\n", K->offset);
    P("    const rnn_real *x = %s;\n", in);
    P("    const rnn_real *y = w->a%d + (size_t)g * %d * W;\n", i, O);
    P("    rnn_real *dz = w->d%d + (size_t)g * %d * W; /* d loss / d output, made d loss / d pre-activation here */\n", i, O);
    P("    rnn_real *dx = w->d%d + (size_t)g * %d * W;\n", i - 1, F);
    P("    rnn_real *aK = w->acc + (size_t)g * ACC_LEN * W + %zu, *aB = w->acc + (size_t)g * ACC_LEN * W + %zu;\n",
      acc_index(m, K->offset), acc_index(m, B->offset));
    P("    (void)y;\n");
    if (!last && l->activation == RNN_ACT_SOFTMAX) {
        P("    for (int l = 0; l < W; l++) {\n        rnn_real dot = 0.0f;\n");
        P("        for (int o = 0; o < %d; o++) dot += dz[o * W + l] * y[o * W + l];\n", O);
        P("        for (int o = 0; o < %d; o++) dz[o * W + l] = y[o * W + l] * (dz[o * W + l] - dot);\n    }\n", O);
    } else if (!last && l->activation != RNN_ACT_LINEAR) {
        P("    for (int k = 0; k < %d * W; k++) dz[k] *= ", O);
        emit_act_grad(e, l->activation, "y[k]");
        P(";\n");
    }
    P("    for (int k = 0; k < %d * W; k++) aB[k] += dz[k];\n", O);
    emit_back_product(e, "dx", F, "dz", O, "K", O, 0, NULL, "    ");
    emit_outer_acc(e, "aK", "x", NULL, F, "dz", O, O, 0, "    ");
    P("}\n\n");
}

/* ---- Dropout ------------------------------------------------------------------------------------ */

static void emit_dropout_layer(emitter *e, int i) {
    const rnn_model *m = e->m;
    const rnn_layer *l = &m->layers[i];
    int T = l->timesteps, F = l->in_features, seq = l->in_seq;
    size_t n = (size_t)(seq ? T : 1) * F * W;
    char in[200];
    out_ptr(in, sizeof in, m, i - 1);
    P("/* ---- %s (Dropout %g): %s(%d), element-wise per (sample, %sfeature) ---- */\n", l->name, l->dropout,
      seq ? "sequence " : "", F, seq ? "timestep, " : "");
    P("static void forward_%d(workspace *w, const rnn_real *params, int g, const rnn_dropout_ctx *ctx) {\n", i);
    P("    (void)params;\n    const rnn_real *x = %s;\n", in);
    if (e->infer || l->dropout == 0) {   /* inference, or rate 0: dropout is the identity */
        P("    (void)ctx;\n    rnn_real *y = w->a%d + (size_t)g * %zu;\n", i, n);
        P("    for (size_t k = 0; k < %zu; k++) y[k] = x[k];\n}\n\n", n);
        if (e->infer) return;
    } else {
        P("    rnn_real *y = w->a%d + (size_t)g * %zu, *mask = w->mask%d + (size_t)g * %zu;\n", i, n, i, n);
        P("    if (!w->training) {\n        for (size_t k = 0; k < %zu; k++) y[k] = x[k];\n        return;\n    }\n", n);
        P("    draw_mask(mask, ctx, RNN_RNG_DROPOUT, %d, %d, %d, %d, ", i, seq ? T : 1, seq, F);
        emit_double(e, l->dropout);
        P(", w->rows + (size_t)g * W);\n");
        P("    for (size_t k = 0; k < %zu; k++) y[k] = x[k] * mask[k];\n}\n\n", n);
    }
    P("static void backward_%d(workspace *w, const rnn_real *params, int g) {\n", i);
    P("    (void)params;\n");
    if (l->dropout == 0) {
        P("    const rnn_real *dy = w->d%d + (size_t)g * %zu;\n    rnn_real *dx = w->d%d + (size_t)g * %zu;\n", i, n, i - 1, n);
        P("    for (size_t k = 0; k < %zu; k++) dx[k] = dy[k];\n}\n\n", n);
        return;
    }
    P("    const rnn_real *dy = w->d%d + (size_t)g * %zu, *mask = w->mask%d + (size_t)g * %zu;\n", i, n, i, n);
    P("    rnn_real *dx = w->d%d + (size_t)g * %zu;\n", i - 1, n);
    P("    for (size_t k = 0; k < %zu; k++) dx[k] = w->training ? dy[k] * mask[k] : dy[k];\n}\n\n", n);
}

/* ---- the model interface ------------------------------------------------------------------------ */

/* The probability of a binary head from its logit, as the reference computes it (the
 * exponent never overflows). */
static void emit_probability_helper(emitter *e) {
    P("/* sigmoid of the output logit, as the reference computes it: the exponent never overflows */\n");
    P("static inline rnn_real probability(rnn_real z) { return z >= 0.0f ? 1.0f / (1.0f + expf(-z)) : expf(z) / (1.0f + expf(z)); }\n\n");
}

static void emit_drivers(emitter *e) {
    const rnn_model *m = e->m;
    int L = m->n_layers - 1, O = m->n_outputs, T = m->timesteps, V = m->vocab;
    int binary = m->loss == RNN_LOSS_BINARY_CROSSENTROPY;
    P("/* ==== the model interface (rnn_model_ops): same contracts as rnn_ref_* ====\n"
      " * The lane blocks of a batch are independent: they run on rnn_parallel_for's threads,\n"
      " * each writing only its own buffers, and whatever is summed over blocks (loss,\n"
      " * accuracy, gradients) is summed afterwards in block order, so the result is the\n"
      " * same bit for bit whatever the number of threads. */\n\n");
    if (binary) emit_probability_helper(e);
    P("typedef struct {\n    workspace *w;\n    const rnn_real *params;\n    const rnn_dropout_ctx *ctx;\n");
    P("    const int32_t *tokens;          /* [n][T] ids (gen_forward), */\n");
    P("    const int32_t *const *samples;  /* or each sample's row of ids (gen_forward_backward) */\n");
    P("    const rnn_real *labels;\n    rnn_real *out;\n    int n;\n} batch;\n\n");
    P("/* work outside the lane blocks (the folded table, the sums after the blocks) is split\n"
      " * into this many tasks */\n#define TAIL_CHUNKS %d\n\n", TAIL_CHUNKS);

    /* ---- forward of one block ---- */
    P("static void forward_block(void *arg, int g) {\n");
    P("    const batch *a = arg;\n    workspace *w = a->w;\n    const rnn_real *params = a->params;\n");
    P("    const rnn_dropout_ctx *ctx = a->ctx;\n    const rnn_real *labels = a->labels;\n");
    P("    rnn_real *out = a->out;\n    const int n = a->n;\n    (void)ctx;\n");
    P("    /* this block's token ids (padding lanes: 0), labels and dataset rows, copied on the\n"
      "     * block's thread; an id out of range stops the block before anything reads with it,\n"
      "     * and the batch returns NaN as the reference does */\n");
    P("    for (int l = 0; l < W && (a->tokens || a->samples); l++) { /* (neither: a redone forward, all in place) */\n");
    P("        const int b = g * W + l;\n");
    P("        int32_t *ids = w->tokens + (size_t)b * %d;\n", T);
    P("        if (b < n) {\n");
    P("            const int32_t *src = a->samples ? a->samples[b] : a->tokens + (size_t)b * %d;\n", T);
    P("            uint32_t bad = 0; /* one test after the copy, which then vectorizes */\n");
    P("            for (int t = 0; t < %d; t++) {\n", T);
    P("                bad |= (uint32_t)src[t] >= %du;\n                ids[t] = src[t];\n            }\n", V);
    P("            if (bad) {\n                w->block_bad[g] = 1;\n                return;\n            }\n");
    P("        } else {\n            memset(ids, 0, %d * sizeof *ids);\n        }\n", T);
    P("        w->labels[b] = b < n && labels ? labels[b] : 0.0f;\n");
    P("        w->rows[b] = b < n ? (ctx && ctx->rows ? ctx->rows[b] : (uint32_t)b) : 0u;\n    }\n");
    if (!e->fold) P("    forward_0(w, params, g);\n");
    for (int i = 1; i <= L; i++) P("    forward_%d(w, params, g, ctx);\n", i);
    P("    const rnn_real *z = w->a%d + (size_t)g * %d * W; /* logits [%d][W] */\n", L, O, O);
    P("    double loss = 0.0;\n    int correct = 0;\n");
    P("    for (int l = 0; l < W && g * W + l < n; l++) {\n");
    P("        const int b = g * W + l;\n");
    if (binary) {
        P("        const double zl = (double)z[l];\n");
        P("        const rnn_real p = probability(z[l]);\n");
        P("        if (out) out[b] = p;\n");
        P("        if (labels) {\n");
        P("            const double y = (double)labels[b];\n");
        P("            loss += fmax(zl, 0.0) - zl * y + log1p(exp(-fabs(zl)));\n");
        P("            correct += (p > 0.5f) == (labels[b] > 0.5f);\n        }\n");
    } else {
        P("        double mx = (double)z[l], s = 0.0;\n");
        P("        int best = 0;\n");
        P("        for (int o = 1; o < %d; o++)\n", O);
        P("            if ((double)z[o * W + l] > mx) mx = (double)z[o * W + l];\n");
        P("        for (int o = 0; o < %d; o++) s += exp((double)z[o * W + l] - mx);\n", O);
        P("        const double lse = mx + log(s);\n");
        P("        for (int o = 0; o < %d; o++) {\n", O);
        P("            const rnn_real p = (rnn_real)exp((double)z[o * W + l] - lse);\n");
        P("            if (out) out[(size_t)b * %d + o] = p;\n", O);
        P("            if (z[o * W + l] > z[best * W + l]) best = o;\n        }\n");
        P("        if (labels) {\n");
        P("            const rnn_real y = labels[b];\n");
        P("            if (!(y >= 0.0f && y < %d.0f)) {\n                w->block_bad[g] = 1;\n                continue;\n            }\n", O);
        P("            loss += lse - (double)z[(int)y * W + l];\n");
        P("            correct += best == (int)y;\n        }\n");
    }
    P("    }\n    w->block_loss[g] = loss;\n    w->block_correct[g] = correct;\n}\n\n");

    if (e->fold) {
        const rnn_layer *l1 = &m->layers[1];
        int F1 = l1->in_features, G1 = l1->gates * l1->units;
        const rnn_tensor *E1 = tensor(m, 0, RNN_T_EMBEDDINGS), *K1 = tensor(m, 1, RNN_T_KERNEL), *B1 = tensor(m, 1, RNN_T_RNN_BIAS);
        /* The row as G1/vw vectors and K loaded once: the same operations in the same order
         * as the loops (so the same bits with either compiler), which gcc 12 vectorized
         * across rows with permutes (built with gcc: simplernn 0.0290 -> 0.0260 s per
         * epoch). Rows of 8 or of a multiple of 16 only: as vectors of 8, clang's code for
         * gru's rows of 24 was 1 % slower than its own loops, which other rows keep. */
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
        } else {
            P("    for (int v = v0; v < v1; v++) {\n");
            P("        rnn_real *row = ek + (size_t)v * %d;\n", G1);
            P("        for (int j = 0; j < %d; j++) row[j] = B[j];\n", G1);
            P("        for (int f = 0; f < %d; f++) {\n", F1);
            P("            const rnn_real x = E[(size_t)v * %d + f];\n", F1);
            P("            for (int j = 0; j < %d; j++) row[j] += x * K[f * %d + j];\n        }\n    }\n}\n\n", G1, G1);
        }
        P("/* the table in TAIL_CHUNKS row ranges, one task each */\n");
        P("static void fold_table_chunk(void *arg, int c) {\n    const batch *a = arg;\n");
        P("    fold_table(a->w->ek, a->params + %zu, a->params + %zu, a->params + %zu, c * %d / TAIL_CHUNKS,\n"
          "               (c + 1) * %d / TAIL_CHUNKS);\n}\n\n", E1->offset, K1->offset, B1->offset, V, V);
        /* K first: in training it differs from the last batch's at once. */
        size_t nE = (size_t)V * F1, nK = (size_t)F1 * G1;
        P("/* Is ek the table of these K, b and E? (the inputs of its last build, compared bit for bit) */\n");
        P("static int fold_table_current(const workspace *w, const rnn_real *params) {\n");
        P("    return w->ek_built && !memcmp(w->ek_from, params + %zu, %zu * sizeof *params) &&\n", K1->offset, nK);
        P("           !memcmp(w->ek_from + %zu, params + %zu, %d * sizeof *params) &&\n", nK, B1->offset, G1);
        P("           !memcmp(w->ek_from + %zu, params + %zu, %zu * sizeof *params);\n}\n\n", nK + (size_t)G1, E1->offset, nE);
        P("static void fold_table_remember(workspace *w, const rnn_real *params) {\n");
        P("    memcpy(w->ek_from, params + %zu, %zu * sizeof *params);\n", K1->offset, nK);
        P("    memcpy(w->ek_from + %zu, params + %zu, %d * sizeof *params);\n", nK, B1->offset, G1);
        P("    memcpy(w->ek_from + %zu, params + %zu, %zu * sizeof *params);\n", nK + (size_t)G1, E1->offset, nE);
        P("    w->ek_built = 1;\n}\n\n");
    }
    P("static void backward_block(void *arg, int g);\n\n");
    P("/* A block's forward and, its ids all in range, its backward, in one task (gen_forward_backward):\n"
      " * the block's state is still in the core's cache, and the threads meet once less per batch\n"
      " * (measured on lstm_dropout, one thread: 4 %% faster epochs) */\n");
    P("static void train_block(void *arg, int g) {\n");
    P("    forward_block(arg, g);\n");
    P("    const batch *a = arg;\n");
    P("    if (!a->w->block_bad[g]) backward_block(arg, g);\n}\n\n");
    P("/* gen_forward; with fuse (gen_forward_backward), each block's backward in the same task */\n");
    P("static double forward_batch(workspace *w, const rnn_real *params, const int32_t *tokens,\n"
      "                            const int32_t *const *samples, const rnn_real *labels, int n,\n"
      "                            const rnn_dropout_ctx *ctx, rnn_real *out, int fuse) {\n");
    P("    if (n < 1 || n > w->nblk * W) return NAN;\n");
    P("    const int nblk = (n + W - 1) / W;\n");
    P("    w->n = n;\n    w->training = ctx && ctx->training;\n    w->labelled = labels != NULL;\n    w->correct = 0;\n");
    if (e->o->unroll == RNNC_UNROLL_FULL) P("    w->keep = 1; /* --unroll full: every forward keeps every step */\n");
    else P("    w->keep = w->training; /* an inference keeps nothing per step (gen_backward redoes it if asked) */\n");
    P("    batch a = {w, params, ctx, tokens, samples, labels, out, n};\n");
    if (e->fold) {
        P("    /* the embedding folded into %s's input projection: ek[v] = b + E[v].K (exact in real arithmetic),\n"
          "     * rebuilt unless K, b and E are bit for bit those of the last build (an evaluation's batches);\n"
          "     * a training step changes them before the next forward, so its table is not remembered (a\n"
          "     * copy of K, b and E that no later forward could use) */\n",
          m->layers[1].name);
        P("    if (!fold_table_current(w, params)) {\n");
        P("        rnn_parallel_for(TAIL_CHUNKS, fold_table_chunk, &a);\n");
        P("        if (w->training) w->ek_built = 0;\n");
        P("        else fold_table_remember(w, params);\n    }\n");
    }
    P("    for (int g = 0; g < nblk; g++) w->block_bad[g] = 0;\n");
    P("    w->fused = fuse && w->training && labels; /* (an inference's backward redoes the forward) */\n");
    P("    rnn_parallel_for(nblk, w->fused ? train_block : forward_block, &a);\n");
    P("    double loss = 0.0;\n");
    P("    for (int g = 0; g < nblk; g++) { /* in block order */\n");
    P("        if (w->block_bad[g]) return NAN;\n");
    P("        loss += w->block_loss[g];\n        w->correct += w->block_correct[g];\n    }\n");
    P("    return labels ? loss / n : 0.0;\n}\n\n");
    P("static double gen_forward(void *impl, const rnn_real *params, const int32_t *tokens, const rnn_real *labels, int n,\n"
      "                          const rnn_dropout_ctx *ctx, rnn_real *out) {\n");
    P("    return forward_batch(impl, params, tokens, NULL, labels, n, ctx, out, 0);\n}\n\n");

    /* ---- backward of one block ---- */
    const rnn_tensor *E = tensor(m, 0, RNN_T_EMBEDDINGS);
    P("/* A block's weight gradients summed over its lanes, on the core that ran the block\n"
      " * while they are in its cache: the sums after the blocks then read ACC_LEN numbers\n"
      " * per block instead of W times as many (one thread: lstm_dropout 0.0877 -> 0.0861 s\n"
      " * per epoch, lstm 0.0517 -> 0.0513). Each sum a fixed tree over the W = 16 lanes:\n"
      " * (l, l + 8), then 4, 2, 1 apart. */\n");
    P("static void lane_sums(workspace *w, int g) {\n");
    P("    typedef rnn_real half __attribute__((vector_size(8 * sizeof(rnn_real))));\n");
    P("    typedef rnn_real quarter __attribute__((vector_size(4 * sizeof(rnn_real))));\n");
    P("    const rnn_real *acc = w->acc + (size_t)g * ACC_LEN * W;\n");
    P("    rnn_real *bs = w->bsum + (size_t)g * ACC_LEN;\n");
    P("    for (int k = 0; k < ACC_LEN; k++) {\n");
    P("        const rnn_vec v = V(acc + (size_t)k * W);\n");
    P("        const half h = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +\n"
      "                       __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);\n");
    P("        const quarter q = __builtin_shufflevector(h, h, 0, 1, 2, 3) + __builtin_shufflevector(h, h, 4, 5, 6, 7);\n");
    P("        bs[k] = (q[0] + q[2]) + (q[1] + q[3]);\n    }\n}\n\n");
    if (e->parts) {
        const rnn_layer *emb0 = &m->layers[0];
        const size_t VE = buf_size("de");
        P("/* The block's part of the embedding's gradient: d loss / d output scattered into the\n"
          " * looked-up rows of the block's own table, on the block's thread while d0 is in its\n"
          " * cache. The sums add the blocks' tables row by row: a thread then reads another's\n"
          " * table (%zu KB) instead of its d0 (%zu KB), which matters when moving data between\n"
          " * the cores is slow (measured on a VM at such times, medians of 41 runs: lstm_dropout\n"
          " * with two threads 0.069 -> 0.053 s per epoch; at other times and on one thread, the\n"
          " * same). */\n",
          VE * sizeof(float) / 1024, buf_size("d0") * sizeof(float) / 1024);
        P("static void embedding_part(workspace *w, int g) {\n");
        P("    const int n = w->n;\n");
        P("    rnn_real *de = w->de + (size_t)g * %zu;\n", VE);
        P("    memset(de, 0, %zu * sizeof *de);\n", VE);
        P("    const rnn_real *d0 = w->d0 + (size_t)g * %zu;\n", buf_size("d0"));
        P("    rnn_real sink[%d]; /* the rows of padding lanes */\n", emb0->units);
        emit_embedding_scatter(e, "de", "    ");
        P("}\n\n");
    }
    P("static void backward_block(void *arg, int g) {\n");
    P("    const batch *a = arg;\n    workspace *w = a->w;\n    const rnn_real *params = a->params;\n    const int n = a->n;\n");
    P("    memset(w->acc + (size_t)g * ACC_LEN * W, 0, ACC_LEN * W * sizeof *w->acc);\n");
    if (e->fold) {
        int G1 = m->layers[1].gates * m->layers[1].units;
        P("    memset(w->dek + (size_t)g * %zu, 0, %zu * sizeof *w->dek);\n", (size_t)V * G1, (size_t)V * G1);
        P("    memset(w->touched + (size_t)g * %d, 0, %d * sizeof *w->touched);\n", V, V);
    }
    P("    /* d loss / d logits of the mean loss; padding lanes get 0 */\n");
    P("    const rnn_real *z = w->a%d + (size_t)g * %d * W;\n", L, O);
    P("    rnn_real *dz = w->d%d + (size_t)g * %d * W;\n", L, O);
    P("    for (int l = 0; l < W; l++) {\n");
    P("        const int b = g * W + l;\n");
    if (binary) {
        P("        const rnn_real p = probability(z[l]);\n");
        P("        dz[l] = b < n ? (p - w->labels[b]) / (rnn_real)n : 0.0f;\n");
    } else {
        P("        if (b >= n) {\n            for (int o = 0; o < %d; o++) dz[o * W + l] = 0.0f;\n            continue;\n        }\n", O);
        P("        double mx = (double)z[l], s = 0.0;\n");
        P("        for (int o = 1; o < %d; o++)\n", O);
        P("            if ((double)z[o * W + l] > mx) mx = (double)z[o * W + l];\n");
        P("        for (int o = 0; o < %d; o++) s += exp((double)z[o * W + l] - mx);\n", O);
        P("        const double lse = mx + log(s);\n");
        P("        const int y = (int)w->labels[b];\n");
        P("        for (int o = 0; o < %d; o++)\n", O);
        P("            dz[o * W + l] = (rnn_real)((exp((double)z[o * W + l] - lse) - (o == y ? 1.0 : 0.0)) / n);\n");
    }
    P("    }\n");
    for (int i = L; i >= 1; i--) P("    backward_%d(w, params, g);\n", i);
    if (e->parts) P("    embedding_part(w, g);\n");
    P("    lane_sums(w, g);\n}\n\n");

    /* ---- what follows the blocks: in chunks, each writing only its own part ---- */
    P("/* After the blocks: the per-lane sums, and the folded table's gradient, split in\n"
      " * TAIL_CHUNKS independent chunks so the threads share them (every output element is\n"
      " * summed by one chunk, in a fixed order). From gen_forward_backward with an update,\n"
      " * the optimizer's step too: each chunk applies it to the parameters whose gradients\n"
      " * it has just summed, while they are in its core's cache (no job and no pass over the\n"
      " * gradients of its own). */\n");
    P("typedef struct {\n    workspace *w;\n    const rnn_real *params;\n    rnn_real *grads;\n    int nblk;\n"
      "    rnn_update *up; /* or NULL: gradients only */\n} tail;\n\n");
    P("/* the optimizer's step for the parameters [lo, hi), if asked for */\n");
    P("static void step_range(const tail *a, size_t lo, size_t hi) {\n");
    P("    if (a->up) rnn_update_apply(a->up, lo, hi);\n}\n\n");
    if (e->fold) {
        /* the folded layer's K and b get their gradients' last terms after the job
         * (fold_kernel_sum), and fold_rows_chunk reads K: both are stepped after it.
         * (rnn_model_layout lays the tensors out in order: the lane sums' range starts
         * with layer 1's K, and its b comes after it.) */
        const rnn_tensor *K1 = tensor(m, 1, RNN_T_KERNEL), *B1 = tensor(m, 1, RNN_T_RNN_BIAS);
        P("/* step_range for a range of the lane sums (from %s on) but for the folded\n"
          " * layer's K and b, whose gradients are complete only after the job (fold_kernel_sum)\n"
          " * and whose K the job's tasks read */\n", K1->name);
        P("static void step_range_early(const tail *a, size_t lo, size_t hi) {\n");
        P("    step_range(a, lo > %zu ? lo : %zu, hi < %zu ? hi : %zu); /* between */\n", K1->offset + K1->size,
          K1->offset + K1->size, B1->offset, B1->offset);
        P("    step_range(a, lo > %zu ? lo : %zu, hi); /* after %s */\n}\n\n", B1->offset + B1->size,
          B1->offset + B1->size, B1->name);
    }
    P("/* dst[k] = the sum of part[g * stride + k] over the nblk blocks, in block order; restrict\n"
      " * pointers and the blocks outside, so the elements vectorize (one scalar sum per element\n"
      " * took 5 %% of a one-thread lstm_dropout epoch for the embedding's 8000) */\n");
    P("static void add_parts(rnn_real *restrict dst, const rnn_real *restrict part, size_t n, int nblk, size_t stride) {\n");
    P("    for (size_t k = 0; k < n; k++) dst[k] = part[k];\n");
    P("    for (int g = 1; g < nblk; g++)\n");
    P("        for (size_t k = 0; k < n; k++) dst[k] += part[(size_t)g * stride + k];\n}\n\n");
    P("/* the blocks' lane sums of chunk c, in block order */\n");
    P("static void reduce_chunk(void *arg, int c) {\n");
    P("    const tail *a = arg;\n");
    P("    const size_t k0 = (size_t)c * ACC_LEN / TAIL_CHUNKS, k1 = (size_t)(c + 1) * ACC_LEN / TAIL_CHUNKS;\n");
    P("    add_parts(a->grads + %zu + k0, a->w->bsum + k0, k1 - k0, a->nblk, ACC_LEN);\n", m->tensors[1].offset);
    P("    %s(a, %zu + k0, %zu + k1);\n}\n\n", e->fold ? "step_range_early" : "step_range", m->tensors[1].offset,
      m->tensors[1].offset);
    if (e->parts) {
        const rnn_layer *emb0 = &m->layers[0];
        P("/* the embedding's gradient in the rows of chunk c: the blocks' parts added in block order */\n");
        P("static void embedding_rows(const tail *a, int c) {\n");
        P("    const size_t k0 = (size_t)(c * %d / TAIL_CHUNKS) * %d, k1 = (size_t)((c + 1) * %d / TAIL_CHUNKS) * %d;\n", V,
          emb0->units, V, emb0->units);
        P("    add_parts(a->grads + %zu + k0, a->w->de + k0, k1 - k0, a->nblk, %zu); /* %s [%d, %d] */\n",
          E->offset, buf_size("de"), E->name, E->shape[0], E->shape[1]);
        P("    step_range(a, %zu + k0, %zu + k1);\n}\n\n", E->offset, E->offset);
        P("static void sums_chunk(void *arg, int c) {\n");
        P("    reduce_chunk(arg, c);\n    embedding_rows(arg, c);\n}\n\n");
    } else if (!e->fold) {
        const rnn_layer *emb0 = &m->layers[0];
        P("/* the embedding: d loss / d output scattered into the looked-up rows, in block order\n"
          " * (rows repeat across blocks, so one task does it all) */\n");
        P("static void embedding_grad(const tail *a) {\n");
        P("    const workspace *w = a->w;\n    const int n = w->n;\n");
        P("    rnn_real *dE = a->grads + %zu; /* %s [%d, %d] */\n", E->offset, E->name, E->shape[0], E->shape[1]);
        P("    rnn_real sink[%d]; /* the rows of padding lanes */\n", emb0->units);
        P("    memset(dE, 0, %zu * sizeof *dE); /* (here, not in gen_backward: on two threads beside the sums) */\n",
          E->size);
        P("    for (int g = 0; g < a->nblk; g++) {\n");
        P("        const rnn_real *d0 = w->d0 + (size_t)g * %zu;\n", buf_size("d0"));
        emit_embedding_scatter(e, "dE", "        ");
        P("    }\n}\n\n");
        P("/* the embedding's step, in row chunks after the job that made its gradient (in the\n"
          " * one task that makes it, the step would leave the other threads waiting) */\n");
        P("static void embedding_step_chunk(void *arg, int c) {\n");
        P("    step_range(arg, %zu + (size_t)(c * %d / TAIL_CHUNKS) * %d, %zu + (size_t)((c + 1) * %d / TAIL_CHUNKS) * %d);\n}\n\n",
          E->offset, V, emb0->units, E->offset, V, emb0->units);
        P("/* the embedding's gradient next to the per-lane sums, which write other gradients:\n"
          " * on two threads the one serial task overlaps the sums */\n");
        P("static void sums_chunk(void *arg, int c) {\n");
        P("    if (c == 0) embedding_grad(arg);\n    else reduce_chunk(arg, c - 1);\n}\n\n");
    }
    if (e->fold) {
        const rnn_layer *l1 = &m->layers[1];
        int F1 = l1->in_features, G1 = l1->gates * l1->units;
        const rnn_tensor *K1 = tensor(m, 1, RNN_T_KERNEL), *B1 = tensor(m, 1, RNN_T_RNN_BIAS);
        P("/* A row chunk's part of dK = sum over v of E[v]^T dek[v] and of db = sum of dek[v]: its\n"
          " * touched rows in order, four rows of K at a time (the sums do not wait on one\n"
          " * another). fold_kernel_sum adds the chunks' parts in chunk order, so the kernel's\n"
          " * gradient needs no job of its own (one hand-off between the threads fewer per batch).\n"
          " * restrict pointers, so that the sums stay in registers. */\n");
        P("static void fold_kernel_part(rnn_real *restrict part, const rnn_real *restrict dek, const rnn_real *restrict E,\n"
          "                             const int *restrict list, int n) {\n");
        P("    for (int f0 = 0; f0 < %d; f0 += 4) {\n", F1);
        P("        const int nf = %d - f0 < 4 ? %d - f0 : 4;\n", F1, F1);
        P("        /* rows past the last one (when %d is not a multiple of 4) repeat it; not stored */\n", F1);
        P("        const int f1 = f0 + 1 < %d ? f0 + 1 : %d, f2 = f0 + 2 < %d ? f0 + 2 : %d, f3 = f0 + 3 < %d ? f0 + 3 : %d;\n",
          F1, F1 - 1, F1, F1 - 1, F1, F1 - 1);
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
        P("/* the folded table's rows: dek[v] summed over the blocks (into dek_sum, not into a\n"
          " * block's row: a row chunk's task writes only what the same task reads, and no block\n"
          " * has to fetch its table back from another core), dE[v] = dek_sum[v].K^T, and this\n"
          " * chunk's part of dK and db */\n");
        P("static void fold_rows_chunk(void *arg, int c) {\n");
        P("    const tail *a = arg;\n    workspace *w = a->w;\n");
        P("    const rnn_real *K = a->params + %zu;\n", K1->offset);
        P("    rnn_real KT[%d * %d]; /* K transposed, so dE's rows vectorize */\n", G1, F1);
        P("    for (int f = 0; f < %d; f++)\n        for (int j = 0; j < %d; j++) KT[j * %d + f] = K[f * %d + j];\n", F1, G1,
          F1, G1);
        P("    rnn_real *dE = a->grads + %zu;\n", E->offset);
        P("    const int v0 = c * %d / TAIL_CHUNKS, v1 = (c + 1) * %d / TAIL_CHUNKS;\n", V, V);
        P("    int list[%d], n = 0; /* the rows touched in this batch */\n", (V + 7) / 8);
        P("    for (int v = v0; v < v1; v++) {\n");
        P("        rnn_real d[%d] = {0};\n        int any = 0;\n", G1);
        P("        /* every block's row, in block order: a row a block did not touch is zeros (a\n"
          "         * test per block would be a branch the CPU cannot predict; the sum stays with the\n"
          "         * touched test, not in add_parts: as two passes the rows measured 6 %% slower) */\n");
        P("        for (int g = 0; g < a->nblk; g++) {\n");
        P("            any |= w->touched[(size_t)g * %d + v] != 0.0f;\n", V);
        P("            const rnn_real *r = w->dek + ((size_t)g * %d + (size_t)v) * %d;\n", V, G1);
        P("            for (int j = 0; j < %d; j++) d[j] += r[j];\n        }\n", G1);
        P("        if (!any) { /* (every row is written here: gen_backward zeroes nothing first) */\n");
        P("            memset(dE + (size_t)v * %d, 0, %d * sizeof *dE);\n            continue;\n        }\n", F1, F1);
        P("        list[n++] = v;\n");
        P("        rnn_real *row = w->dek_sum + (size_t)v * %d;\n", G1);
        P("        for (int j = 0; j < %d; j++) row[j] = d[j];\n    }\n", G1);
        P("    /* dE[v] = dek_sum[v].K^T, each summed over j in order; four rows at a time, so that\n"
          "     * the sums do not wait on one another */\n");
        P("    for (int i = 0; i < n; i += 4) {\n");
        P("        const int nr = n - i < 4 ? n - i : 4;\n");
        P("        const rnn_real *d[4];\n");
        P("        for (int r = 0; r < 4; r++) d[r] = w->dek_sum + (size_t)list[i + (r < nr ? r : 0)] * %d;\n", G1);
        P("        rnn_real e0[%d] = {0}, e1[%d] = {0}, e2[%d] = {0}, e3[%d] = {0}; /* named: kept in registers */\n",
          F1, F1, F1, F1);
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
        P("    fold_kernel_part(w->fk + (size_t)c * %d, w->dek_sum, a->params + %zu, list, n);\n", F1 * G1 + G1,
          E->offset);
        P("    step_range(a, %zu + (size_t)v0 * %d, %zu + (size_t)v1 * %d); /* its rows of E, read above */\n}\n\n",
          E->offset, F1, E->offset, F1);
        P("/* the per-lane sums and the table's rows in one job (one hand-off between the threads\n"
          " * fewer per batch), chunk c of each in one task: rnn_parallel_for gives each thread\n"
          " * a run of tasks first, so a thread sums the rows of E whose update (the optimizer's\n"
          " * chunks) and folding (fold_table_chunk) it also gets first */\n");
        P("static void sums_chunk(void *arg, int c) {\n");
        P("    reduce_chunk(arg, c);\n    fold_rows_chunk(arg, c);\n}\n\n");
        P("/* dK and db: the row chunks' parts, added in chunk order */\n");
        P("static void fold_kernel_sum(const workspace *w, rnn_real *grads) {\n");
        P("    rnn_real *dK = grads + %zu, *db = grads + %zu;\n", K1->offset, B1->offset);
        P("    for (int c = 0; c < TAIL_CHUNKS; c++) {\n");
        P("        const rnn_real *part = w->fk + (size_t)c * %d;\n", F1 * G1 + G1);
        P("        for (int k = 0; k < %d; k++) dK[k] += part[k];\n", F1 * G1);
        P("        for (int j = 0; j < %d; j++) db[j] += part[%d + j];\n    }\n}\n\n", G1, F1 * G1);
    }
    size_t nE = E->size, gap = m->tensors[1].offset - nE;
    P("/* gen_backward, and the optimizer's step if up != NULL (gen_forward_backward) */\n");
    P("static void backward_step(void *impl, const rnn_real *params, rnn_real *grads, rnn_update *up) {\n");
    P("    workspace *w = impl;\n");
    P("    if (!w->labelled) {\n        memset(grads, 0, %zu * sizeof *grads);\n", m->param_buffer_len);
    P("        if (up) rnn_update_apply(up, 0, %zu);\n        return;\n    }\n", m->param_buffer_len);
    P("    /* Every gradient is written once by the sums' tasks, nothing zeroed first in this\n"
      "     * serial part: the lane sums write [%zu, %zu), the embedding's rows [0, %zu)%s. */\n",
      m->tensors[1].offset, m->param_buffer_len, nE, gap ? ", the padding between them here" : "");
    if (gap) P("    memset(grads + %zu, 0, %zu * sizeof *grads);\n", nE, gap);
    P("    const int n = w->n, nblk = (n + W - 1) / W;\n");
    P("    if (!w->keep) { /* the last forward was an inference: redo it, keeping every step */\n");
    P("        w->keep = 1;\n");
    P("        batch f = {w, params, NULL, NULL, NULL, NULL, NULL, n};\n");
    P("        rnn_parallel_for(nblk, forward_block, &f);\n    }\n");
    P("    batch a = {w, params, NULL, NULL, NULL, NULL, NULL, n};\n");
    P("    if (!w->fused) rnn_parallel_for(nblk, backward_block, &a);\n");
    P("    w->fused = 0;\n");
    P("    tail t = {w, params, grads, nblk, up};\n");
    /* (the one serial embedding scatter is a task of its own beside the chunks) */
    P("    rnn_parallel_for(%sTAIL_CHUNKS, sums_chunk, &t);\n", e->fold || e->parts ? "" : "1 + ");
    if (!e->fold && !e->parts) P("    if (up) rnn_parallel_for(TAIL_CHUNKS, embedding_step_chunk, &t);\n");
    if (e->fold) {
        const rnn_tensor *K1 = tensor(m, 1, RNN_T_KERNEL), *B1 = tensor(m, 1, RNN_T_RNN_BIAS);
        P("    fold_kernel_sum(w, grads);\n");
        P("    if (up) { /* K and b, complete now (step_range_early) */\n");
        P("        rnn_update_apply(up, %zu, %zu);\n        rnn_update_apply(up, %zu, %zu);\n    }\n", K1->offset,
          K1->offset + K1->size, B1->offset, B1->offset + B1->size);
    }
    P("}\n\n");
    P("static void gen_backward(void *impl, const rnn_real *params, rnn_real *grads) {\n"
      "    backward_step(impl, params, grads, NULL);\n}\n\n");
    P("static int gen_correct(const void *impl) { return ((const workspace *)impl)->correct; }\n\n");
    P("/* forward, then backward, with the blocks' backward inside the forward's job (train_block),\n"
      " * and the optimizer's step inside the sums' job when asked (update) */\n");
    P("static double gen_forward_backward(void *impl, rnn_real *params, const int32_t *const *samples,\n"
      "                                   const rnn_real *labels, int n, const rnn_dropout_ctx *ctx, rnn_real *out,\n"
      "                                   rnn_real *grads, rnn_update *update) {\n");
    P("    const double loss = forward_batch(impl, params, NULL, samples, labels, n, ctx, out, 1);\n");
    P("    if (isnan(loss)) return loss; /* grads unspecified (rnnrt.h): the trainer stops */\n");
    P("    backward_step(impl, params, grads, update);\n    return loss;\n}\n\n");
    P("static const rnn_model_ops OPS = {\"generated\", gen_create, gen_destroy, gen_forward, gen_backward, gen_correct,\n"
      "                                  gen_forward_backward};\n\n");
}

/* ---- the whole file ------------------------------------------------------------------------------ */

/* The macros every generated file uses: loop pragmas, NOINLINE, and rnn_vec, the W
 * lanes of one element as one vector (GNU C vector extensions: generated code needs
 * gcc or clang, which every supported build uses). */
static void emit_lane_macros(emitter *e) {
    P("#if defined(__clang__)\n#define TIME_LOOP _Pragma(\"clang loop vectorize(disable) interleave(disable)\")\n"
      "#define ROW_LOOP TIME_LOOP\n#else\n#define TIME_LOOP\n#define ROW_LOOP\n#endif\n\n");
    P("/* a step function that stays a call (see its definition) */\n"
      "#if defined(__GNUC__) || defined(__clang__)\n#define NOINLINE __attribute__((noinline))\n#else\n#define NOINLINE\n#endif\n\n");
    P("/* rnn_vec: the W lanes of one element, one SIMD register (two with AVX2); V(p) is the\n"
      " * vector at p, an element of a [index][lane] array. The straight-line kernels use it\n"
      " * (see emit_c.c: a loop over the lanes lets clang spill hoisted weight broadcasts). */\n"
      "#if !defined(__GNUC__) && !defined(__clang__)\n#error \"generated code needs GNU C vector extensions (gcc or clang)\"\n#endif\n"
      "typedef rnn_real rnn_vec __attribute__((vector_size(W * sizeof(rnn_real)), aligned(sizeof(rnn_real)), may_alias));\n"
      "#define V(p) (*(rnn_vec *)(p))\n"
      "/* LANES_STORED(p): the vectors just stored at p are read back element by element by\n"
      " * the next loop. Without it clang 14 forwards the first element from the store and\n"
      " * carries the load across the loop's iterations, and that loop stays scalar. An\n"
      " * empty asm that may read p: no instruction. */\n"
      "#define LANES_STORED(p) __asm__ volatile(\"\" : : \"r\"(p) : \"memory\")\n\n");
}

static void emit_header(emitter *e) {
    const rnn_model *m = e->m;
    P("/*\n * %s.c — generated by rnnc %s from ", m->name, RNN_VERSION);
    emit_comment_text(e, m->source);
    P(". Do not edit: regenerate.\n *\n");
    P(" * Model \"%s\": %d layers, %zu parameters, sequences of %d token ids < %d.\n", m->name, m->n_layers, m->n_params,
      m->timesteps, m->vocab);
    for (int i = 0; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        P(" *   %-12s %-10s -> ", l->name, rnn_layer_class_name(l->kind));
        if (l->out_seq) P("(%d, %d)", l->timesteps, l->out_features);
        else P("(%d)", l->out_features);
        P(", %zu params\n", l->n_params);
    }
    P(" *\n * Samples run in blocks of W = %d SIMD lanes; activations are [time][feature][lane].\n", W);
    if (e->fold)
        P(" * The embedding is folded into %s's input projection (a table b + E.K per batch).\n",
          m->layers[1].name);
    P(" * Threads: the lane blocks of a batch run on rnn_parallel_for (--threads).\n");
    P(" * Unrolling: %s (budget %ld multiply-adds per kernel).\n",
      e->o->unroll == RNNC_UNROLL_FULL ? "full (timesteps too)" : e->o->unroll == RNNC_UNROLL_NONE ? "none" : "kernels",
      e->o->unroll_budget);
    P(" * Build: cc -std=c17 -O3 -march=native THIS.c -I<include> <lib>/librnnrt.a -lm\n */\n");
    P("#include <math.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n");
    P("#include \"rnnrt.h\"\n#include \"rnn_fastmath.h\"\n#include \"rnn_lanes.h\"\n\n");
    P("#define W %d /* samples per lane block */\n", W);
    P("#define ACC_LEN %zu /* parameters after the embedding table: the per-lane gradient accumulators */\n\n",
      m->param_buffer_len - m->tensors[1].offset);
    P("/* The time loop carries h from one step to the next through memory. clang 14 with\n"
      " * AVX-512 vectorizes it across steps once the step function (whose pointers are\n"
      " * restrict within one call) is inlined, which breaks that dependence; so the time\n"
      " * loop is never vectorized (the lanes inside a step are). ROW_LOOP marks a loop over\n"
      " * rows whose body is a loop over the lanes: clang 14 would vectorize it across rows,\n"
      " * with gathers and scatters, instead of across the lanes. */\n");
    emit_lane_macros(e);
    int zmax = 1;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].out_features > zmax) zmax = m->layers[i].out_features;
    P("/* h_{-1} = c_{-1} = 0, and the upstream gradient of steps that have none */\n");
    P("static const rnn_real ZERO[%d * W];\n\n", zmax);
}

int rnnc_emit_c(const rnn_model *m, const rnnc_emit_options *o, char **text, size_t *len) {
    textbuf b;
    tb_init(&b);
    emitter em = {&b, m, o, 0, 0, 0}, *e = &em;
    const rnn_layer *l1 = m->n_layers > 1 ? &m->layers[1] : NULL;
    /* Folding costs V*F*G multiply-adds per batch and saves T*F*G per sample (twice
     * over, forward and backward): worth it when the batch has more tokens than the
     * vocabulary has rows. */
    e->fold = !o->no_fold && l1 && is_rnn(l1) && !input_dropout(l1) &&
              (size_t)m->vocab * 2 <= (size_t)m->fit.batch_size * (size_t)m->timesteps;
    /* A block's own table costs zeroing V rows and adding them to the other blocks' per
     * batch, against scattering its W*T rows: worth it when the block looks up at least
     * as many rows as the table has. */
    e->parts = !e->fold && (size_t)m->vocab <= (size_t)W * (size_t)m->timesteps;
    plan_buffers(e);
    emit_header(e);
    emit_model(e);
    emit_support(e);
    P("static void gen_destroy(void *impl);\n\n");
    emit_workspace(e);
    emit_destroy(e);
    P("/* ==== layers: forward and backward of one block of W samples ==== */\n\n");
    if (!e->fold) emit_embedding_forward(e, 0);
    for (int i = 1; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        if (is_rnn(l)) emit_rnn_layer(e, i);
        else if (l->kind == RNN_LAYER_DENSE) emit_dense_layer(e, i);
        else emit_dropout_layer(e, i);
    }
    emit_drivers(e);
    P("int main(int argc, char **argv) {\n    model_init();\n");
    P("    return rnn_trainer_main(&MODEL, &OPS, argv[0], argc - 1, argv + 1);\n}\n");
    *text = b.data;
    *len = b.len;
    return 0;
}

/* ---- the inference-only predictor (rnnc SPEC --weights F -o predictor.c) ---------------------
 * The same forward kernels, with the trained weights as a static const array, dropout
 * as the identity, and the workspace of one block in thread-local static storage: no
 * allocation and no file I/O at run time, and no link dependency (rnn_fastmath.h and
 * rnn_lanes.h are header-only). Every forward is an inference: nothing is kept per
 * step but c and h. */

static void emit_predictor_workspace(emitter *e) {
    const rnn_model *m = e->m;
    P("/* ==== the workspace of one block of W samples, per thread ==== */\n\n");
    P("typedef struct {\n    int training;\n    const int32_t *tokens;\n");
    for (int i = 0; i < n_buffers; i++) P("    rnn_real *%s;\n", buffers[i].name);
    P("} workspace;\n\n");
    P("static _Thread_local int32_t TOKENS[W * %d];\n", m->timesteps);
    for (int i = 0; i < n_buffers; i++)
        P("static _Thread_local _Alignas(64) rnn_real BUF_%s[%zu]; /* %s */\n", buffers[i].name, buffers[i].per_block,
          buffers[i].what);
    P("\n");
}

static void emit_params_array(emitter *e, const rnn_real *params) {
    const rnn_model *m = e->m;
    P("/* ==== the trained weights (hexadecimal floats: exact) ==== */\n\n");
    P("static const rnn_real PARAMS[%zu] = {\n", m->param_buffer_len);
    size_t next = 0;
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        for (; next < t->offset; next++) P("    0, /* alignment */\n");
        P("    /* %s [%d, %d] at %zu */\n", t->name, t->shape[0], t->shape[1], t->offset);
        for (size_t i = 0; i < t->size; i++) {
            P("%s%a,", i % 6 == 0 ? "    " : " ", (double)params[t->offset + i]);
            if (i % 6 == 5 || i + 1 == t->size) P("\n");
        }
        next = t->offset + t->size;
    }
    for (; next < m->param_buffer_len; next++) P("    0,\n");
    P("};\n\n");
}

int rnnc_emit_predictor(const rnn_model *model, const rnn_real *params, const char *weights_path,
                        const rnnc_emit_options *o, char **text, size_t *len) {
    static rnn_model mi;
    mi = *model;
    for (int i = 0; i < mi.n_layers; i++) {   /* inference: no dropout anywhere */
        if (mi.layers[i].kind != RNN_LAYER_DROPOUT) mi.layers[i].dropout = 0;
        mi.layers[i].recurrent_dropout = 0;
    }
    const rnn_model *m = &mi;
    textbuf b;
    tb_init(&b);
    emitter em = {&b, m, o, 0, 0, 1}, *e = &em;
    plan_buffers(e);
    int L = m->n_layers - 1, O = m->n_outputs, T = m->timesteps, V = m->vocab;
    int binary = m->loss == RNN_LOSS_BINARY_CROSSENTROPY;
    P("/*\n * %s.c — an inference-only predictor generated by rnnc %s from ", m->name, RNN_VERSION);
    emit_comment_text(e, m->source);
    P("\n * with the weights of ");
    emit_comment_text(e, weights_path);
    P(". Do not edit: regenerate.\n *\n");
    P(" * API (declare it where you use it):\n");
    P(" *   int %s_predict(const int32_t *tokens, int n, float *out);\n", m->name);
    P(" *     tokens  [n][%d] token ids in [0, %d), padded and truncated 'pre' like Keras's pad_sequences\n", T, V);
    P(" *     out     [n][%d] %s\n", O, binary ? "the probability of the positive class" : "the class probabilities");
    P(" *     returns 0, or -1 (nothing written past the bad sample) if an id is out of range.\n");
    P(" * No allocation and no file I/O; thread-safe (the workspace is thread-local).\n");
    P(" * Build: cc -std=c17 -O3 -march=native -c %s.c -I<dir of rnn_fastmath.h and rnn_lanes.h>\n */\n", m->name);
    P("#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n\n#include \"rnn_fastmath.h\"\n#include \"rnn_lanes.h\"\n\n");
    P("typedef float rnn_real;\ntypedef void rnn_dropout_ctx; /* unused: no dropout at inference */\n\n");
    P("#define W %d /* samples per lane block */\n\n", W);
    emit_lane_macros(e);
    int zmax = 1;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].out_features > zmax) zmax = m->layers[i].out_features;
    P("static const rnn_real ZERO[%d * W];\n\n", zmax);
    emit_params_array(e, params);
    emit_support(e);
    emit_predictor_workspace(e);
    P("/* ==== layers: forward of one block of W samples ==== */\n\n");
    emit_embedding_forward(e, 0);
    for (int i = 1; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        if (is_rnn(l)) emit_rnn_layer(e, i);
        else if (l->kind == RNN_LAYER_DENSE) emit_dense_layer(e, i);
        else emit_dropout_layer(e, i);
    }
    if (binary) emit_probability_helper(e);
    P("int %s_predict(const int32_t *tokens, int n, float *out);\n\n", m->name);
    P("int %s_predict(const int32_t *tokens, int n, float *out) {\n", m->name);
    P("    workspace ws = {0, TOKENS");
    for (int i = 0; i < n_buffers; i++) P(", BUF_%s", buffers[i].name);
    P("}, *w = &ws;\n");
    P("    for (int start = 0; start < n; start += W) {\n");
    P("        for (int l = 0; l < W; l++)\n            for (int t = 0; t < %d; t++) {\n", T);
    P("                const int32_t id = start + l < n ? tokens[(size_t)(start + l) * %d + t] : 0;\n", T);
    P("                if (id < 0 || id >= %d) return -1;\n", V);
    P("                TOKENS[l * %d + t] = id;\n            }\n", T);
    P("        forward_0(w, PARAMS, 0);\n");
    for (int i = 1; i <= L; i++) P("        forward_%d(w, PARAMS, 0, NULL);\n", i);
    P("        const rnn_real *z = BUF_a%d; /* logits [%d][W] */\n", L, O);
    P("        for (int l = 0; l < W && start + l < n; l++) {\n");
    if (binary) {
        P("            out[start + l] = probability(z[l]);\n");
    } else {
        P("            float mx = z[l], s = 0.0f;\n");
        P("            for (int o = 1; o < %d; o++) mx = z[o * W + l] > mx ? z[o * W + l] : mx;\n", O);
        P("            for (int o = 0; o < %d; o++) s += expf(z[o * W + l] - mx);\n", O);
        P("            for (int o = 0; o < %d; o++) out[(size_t)(start + l) * %d + o] = expf(z[o * W + l] - mx) / s;\n", O, O);
    }
    P("        }\n    }\n    return 0;\n}\n");
    *text = b.data;
    *len = b.len;
    return 0;
}
