/*
 * test_plan.c — the code generator's planner and kernel IR (compiler/plan.c,
 * compiler/kernel.c): the decisions for known models, buffers that grow with the
 * model (a deep stack has hundreds), operands checked when a kernel is made (a bad one
 * aborts the generator instead of printing wrong code), and the text of small kernels,
 * written out by hand here.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "kinds.h"
#include "models.h"

static rnnc_emit_options opts(rnnc_unroll unroll, long budget) {
    rnnc_emit_options o = {unroll, budget, 0, 0, 0};
    return o;
}

/* Embedding(500, 16, T) → LSTM(8) → Dense(1, sigmoid), batch 64. */
static void seed_lstm(rnn_model *m, int T, double dropout) {
    rnn_model_init(m, "m", "t.lua");
    add_embedding(m, 500, 16, T);
    add_layer(m, RNN_LAYER_LSTM, 8)->dropout = dropout;
    add_layer(m, RNN_LAYER_DENSE, 1)->activation = RNN_ACT_SIGMOID;
    m->fit.batch_size = 64;
    layout(m);
}

Test(plan, folds_the_embedding_when_the_batch_has_more_tokens_than_rows) {
    rnn_model m;
    seed_lstm(&m, 100, 0);
    rnnc_emit_options o = opts(RNNC_UNROLL_KERNELS, 4096);
    plan p;
    plan_make(&p, &m, &o, 0);
    cr_expect(p.fold && !p.parts);
    cr_expect(plan_folded(&p, 1) && plan_projected(&p, 1) && !plan_hoisted(&p, 1));
    cr_expect_eq(plan_size(&p, "ek"), 500u * 32);           /* V x 4U */
    cr_expect_eq(plan_size(&p, "h1"), 100u * 8 * W);         /* T x U lanes */
    cr_expect_eq(plan_size(&p, "gates1"), 100u * 32 * W);
    cr_expect_eq(plan_size(&p, "d2"), (size_t)W);
    cr_expect(!plan_has(&p, "a0") && !plan_has(&p, "xmask1"));
    plan_free(&p);
    /* 640 tokens a batch, fewer than 2 * 500 rows: no fold; a block's 160 lookups, fewer
     * than the table's rows: no table of its own either (one task scatters every block) */
    seed_lstm(&m, 10, 0);
    plan_make(&p, &m, &o, 0);
    cr_expect(!p.fold && !p.parts && plan_has(&p, "a0") && !plan_has(&p, "de"));
    plan_free(&p);
}

Test(plan, input_dropout_prevents_the_fold_and_a_predictor_never_folds) {
    rnn_model m;
    seed_lstm(&m, 100, 0.3);
    rnnc_emit_options o = opts(RNNC_UNROLL_KERNELS, 4096);
    plan p;
    plan_make(&p, &m, &o, 0);
    cr_expect(!p.fold && p.parts);   /* 1600 lookups a block: a table of its own */
    cr_expect(plan_has(&p, "xmask1") && !plan_has(&p, "xd1"));   /* layer 1 drops its input in place */
    plan_free(&p);
    seed_lstm(&m, 100, 0);
    plan_make(&p, &m, &o, 1);
    cr_expect(!p.fold && !p.parts && !plan_has(&p, "dzs1") && !plan_has(&p, "d2"));
    plan_free(&p);
}

Test(plan, a_layer_over_the_budget_is_hoisted) {
    rnn_model m;
    seed_lstm(&m, 10, 0.3);   /* not folded: 16 x 32 = 512 multiply-adds of input side */
    rnnc_emit_options o = opts(RNNC_UNROLL_KERNELS, 511);
    plan p;
    plan_make(&p, &m, &o, 0);
    cr_expect(plan_hoisted(&p, 1) && plan_has(&p, "xk"));
    cr_expect_eq(plan_size(&p, "xk"), 10u * 32 * W);
    plan_free(&p);
    o.unroll_budget = 512;
    plan_make(&p, &m, &o, 0);
    cr_expect(!plan_hoisted(&p, 1) && !plan_has(&p, "xk"));
    plan_free(&p);
}

/* 31 LSTMs with both dropouts after the embedding: 10 buffers each, more than a table
 * sized for 8 per layer holds. */
Test(plan, buffers_grow_with_a_deep_stack) {
    rnn_model m;
    rnn_model_init(&m, "deep", "t.lua");
    add_embedding(&m, 50, 4, 5);
    for (int i = 0; i < 30; i++) {
        rnn_layer *l = add_layer(&m, RNN_LAYER_LSTM, 3);
        l->dropout = 0.2;
        l->recurrent_dropout = 0.1;
        l->return_sequences = i < 29;
    }
    add_layer(&m, RNN_LAYER_DENSE, 1)->activation = RNN_ACT_SIGMOID;
    layout(&m);
    rnnc_emit_options o = opts(RNNC_UNROLL_KERNELS, 4096);
    plan p;
    plan_make(&p, &m, &o, 0);
    /* per LSTM: h c tc gates xmask xd rmask s dzs d (layer 1: no xd); the embedding: a0 d0;
     * the dense: a d; the block's table: de */
    cr_expect_eq(p.n_buffers, 30 * 10 - 1 + 2 + 2 + 1);
    cr_expect(plan_has(&p, "xd30") && plan_has(&p, "rmask17") && plan_has(&p, "d31"));
    plan_free(&p);
}

Test(plan, a_missing_buffer_is_a_generator_bug, .signal = SIGABRT) {
    rnn_model m;
    seed_lstm(&m, 100, 0);
    rnnc_emit_options o = opts(RNNC_UNROLL_KERNELS, 4096);
    plan p;
    plan_make(&p, &m, &o, 0);
    (void)plan_size(&p, "h7");
}

/* ---- the kernel IR --------------------------------------------------------------------------- */

static const char *print(const plan *p, const kir *k) {
    textbuf b;
    tb_init(&b);
    emitter e = {&b, p->m, p->o, p};
    kir_print(&e, k, "");
    return b.data;   /* leaked: one small string per test */
}

Test(kir, a_projection_within_the_budget_is_straight_line) {
    rnn_model m;
    seed_lstm(&m, 100, 0);
    rnnc_emit_options o = opts(RNNC_UNROLL_KERNELS, 4096);
    plan p;
    plan_make(&p, &m, &o, 0);
    kir k;
    kir_init(&k);
    kir_lanes_decl(&k, "x", 2);
    kir_lanes_decl(&k, "y", 2);
    kir_matrix_decl(&k, "M", 2, 3);
    kir_term t = {"x", NULL, "M", 2, 1, 0, 0, 0};
    kir_project(&k, "y", 2, "B", &t, 1);   /* y[c] = B[c] + x0 M[0][1 + c] + x1 M[1][1 + c] */
    cr_expect_str_eq(print(&p, &k),
                     "{\n"
                     "    const rnn_vec x0 = V(x + 0 * W);\n"
                     "    const rnn_vec x1 = V(x + 1 * W);\n"
                     "    {\n"
                     "        rnn_vec sum0 = B[0] + x0 * M[1];\n"
                     "        rnn_vec sum1 = B[1] + x0 * M[2];\n"
                     "        sum0 += x1 * M[4];\n"
                     "        sum1 += x1 * M[5];\n"
                     "        V(y + 0 * W) = sum0;\n"
                     "        V(y + 1 * W) = sum1;\n"
                     "    }\n"
                     "    RNN_LANES_STORED(y);\n"
                     "}\n");
    kir_free(&k);
    plan_free(&p);
}

Test(kir, an_outer_product_over_the_budget_is_a_loop) {
    rnn_model m;
    seed_lstm(&m, 100, 0);
    rnnc_emit_options o = opts(RNNC_UNROLL_NONE, 4096);
    plan p;
    plan_make(&p, &m, &o, 0);
    kir k;
    kir_init(&k);
    kir_lanes_decl(&k, "acc", 6);
    kir_lanes_decl(&k, "x", 2);
    kir_lanes_decl(&k, "g", 3);
    kir_outer_acc(&k, "acc", "x", NULL, 2, "g", 3, 3, 0);
    cr_expect_str_eq(print(&p, &k),
                     "for (int r = 0; r < 2; r++) {\n"
                     "    const rnn_vec xv = V(x + r * W);\n"
                     "    for (int c = 0; c < 3; c++) V(acc + (r * 3 + 0 + c) * W) += xv * V(g + c * W);\n"
                     "}\n");
    kir_free(&k);
    plan_free(&p);
}

Test(kir, a_window_past_the_matrix_is_a_generator_bug, .signal = SIGABRT) {
    kir k;
    kir_init(&k);
    kir_lanes_decl(&k, "x", 2);
    kir_lanes_decl(&k, "y", 3);
    kir_matrix_decl(&k, "M", 2, 3);
    kir_term t = {"x", NULL, "M", 2, 1, 0, 0, 0};
    kir_project(&k, "y", 3, NULL, &t, 1);   /* columns 1..3 of a matrix of 3 */
}

Test(kir, an_operand_shorter_than_the_kernel_reads_is_a_generator_bug, .signal = SIGABRT) {
    kir k;
    kir_init(&k);
    kir_lanes_decl(&k, "dx", 4);
    kir_lanes_decl(&k, "dz", 3);
    kir_matrix_decl(&k, "K", 5, 3);
    kir_back_product(&k, "dx", 5, "dz", 3, "K", 0, NULL);
}

Test(kir, code_that_indexes_an_undeclared_array_is_a_generator_bug, .signal = SIGABRT) {
    kir k;
    kir_init(&k);
    kir_lanes_decl(&k, "gt", 8);
    kir_code(&k, "for (int k = 0; k < 8 * W; k++) gt[k] = ht[k]; /* gt[1] in a comment is fine */");
}

Test(kir, code_over_declared_operands_is_printed_line_by_line) {
    rnn_model m;
    seed_lstm(&m, 100, 0);
    rnnc_emit_options o = opts(RNNC_UNROLL_KERNELS, 4096);
    plan p;
    plan_make(&p, &m, &o, 0);
    kir k;
    kir_init(&k);
    kir_lanes_decl(&k, "gt", 8);
    kir_code(&k, "for (int k = 0; k < %d * W; k++) {\n    gt[k] = rnn_fast_sigmoidf(gt[k]);\n}", 8);
    cr_expect_str_eq(print(&p, &k), "for (int k = 0; k < 8 * W; k++) {\n    gt[k] = rnn_fast_sigmoidf(gt[k]);\n}\n");
    kir_free(&k);
    plan_free(&p);
}
