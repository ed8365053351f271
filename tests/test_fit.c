/*
 * test_fit.c — the training loop's semantics (docs/keras-semantics.md, The fit loop)
 * against a mock model whose loss is known in advance: every batch's loss is its size
 * n, so the epoch's batch-size-weighted running mean is sum(n^2) / N, which an
 * unweighted mean of the batches would get wrong. The mock records what the loop asks
 * of it: batch sizes (the last partial batch kept), the dropout context (training for
 * the steps, none for validation), and the dataset rows of each epoch (a fresh
 * permutation).
 */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train/trainer.h"
#include "models.h"

#define MAX_CALLS 64

static struct {
    int calls;
    int n[MAX_CALLS];
    int training[MAX_CALLS];
    uint32_t rows[MAX_CALLS][8];
    int last_n;
} rec;

static void *mock_create(const rnn_model *m, int max_batch) {
    (void)m;
    (void)max_batch;
    static int dummy;
    return &dummy;
}
static void mock_destroy(void *impl) { (void)impl; }
static double mock_forward(void *impl, const rnn_real *params, const int32_t *tokens, const rnn_real *labels, int n,
                           const rnn_dropout_ctx *ctx, rnn_real *out) {
    (void)impl, (void)params, (void)tokens, (void)labels;
    if (rec.calls < MAX_CALLS) {
        rec.n[rec.calls] = n;
        rec.training[rec.calls] = ctx && ctx->training;
        for (int b = 0; b < n && b < 8; b++) rec.rows[rec.calls][b] = ctx && ctx->rows ? ctx->rows[b] : 0xffffffffu;
        rec.calls++;
    }
    rec.last_n = n;
    for (int b = 0; out && b < n; b++) out[b] = 0.5f;
    return labels ? (double)n : 0.0;
}
static void mock_backward(void *impl, const rnn_real *params, rnn_real *grads) {
    (void)impl, (void)params;
    (void)grads; /* the trainer zero-fills nothing: leave grads as they are (zero from calloc) */
}
static int mock_correct(const void *impl) {
    (void)impl;
    return rec.last_n / 2;
}
static const rnn_model_ops MOCK = {"mock", mock_create, mock_destroy, mock_forward, mock_backward, mock_correct, NULL};

static void small_model(rnn_model *m) {
    rnn_model_init(m, "fit", "test_fit.c");
    add_embedding(m, 50, 3, 5);
    add_layer(m, RNN_LAYER_LSTM, 2);
    add_layer(m, RNN_LAYER_DENSE, 1)->activation = RNN_ACT_SIGMOID;
    m->metric_accuracy = 1;
    m->optimizer.kind = RNN_OPT_SGD;
    m->optimizer.learning_rate = 0.1;
    m->fit.batch_size = 4;
    m->fit.epochs = 2;
    char err[256];
    cr_assert_eq(rnn_model_layout(m, err, sizeof err), 0, "%s", err);
}

Test(fit, partial_batch_running_means_and_shuffle) {
    static rnn_model m;
    small_model(&m);
    char dir[] = "/tmp/rnnc-fit-XXXXXX";
    cr_assert(mkdtemp(dir));
    char hist[256];
    snprintf(hist, sizeof hist, "%s/h.csv", dir);
    rnn_fit_options o;
    memset(&o, 0, sizeof o);
    o.epochs = o.batch_size = -1;
    o.learning_rate = -1;
    o.validation_split = NAN;
    o.builtin_train = 10;
    o.builtin_val = 3;
    o.history = hist;
    o.quiet = 1;
    memset(&rec, 0, sizeof rec);
    cr_assert_eq(rnn_fit(&m, &MOCK, &o), 0);

    /* 2 epochs of 10 samples in batches of 4: 4, 4, 2 (the partial batch is kept), then
     * one validation batch of 3 without dropout */
    const int want_n[8] = {4, 4, 2, 3, 4, 4, 2, 3}, want_train[8] = {1, 1, 1, 0, 1, 1, 1, 0};
    cr_assert_eq(rec.calls, 8);
    for (int c = 0; c < 8; c++) {
        cr_expect_eq(rec.n[c], want_n[c], "call %d: n = %d", c, rec.n[c]);
        cr_expect_eq(rec.training[c], want_train[c], "call %d: training = %d", c, rec.training[c]);
    }
    /* each epoch's rows are a permutation of 0..9, and the two epochs differ */
    int seen[2][10] = {{0}};
    uint32_t order[2][10];
    for (int ep = 0; ep < 2; ep++) {
        int k = 0;
        for (int c = ep * 4; c < ep * 4 + 3; c++)
            for (int b = 0; b < rec.n[c]; b++) {
                cr_assert_lt(rec.rows[c][b], 10u);
                seen[ep][rec.rows[c][b]]++;
                order[ep][k++] = rec.rows[c][b];
            }
        for (int r = 0; r < 10; r++) cr_expect_eq(seen[ep][r], 1, "epoch %d row %d seen %d times", ep, r, seen[ep][r]);
    }
    cr_expect(memcmp(order[0], order[1], sizeof order[0]) != 0, "the same order in both epochs");

    /* loss: (4*4 + 4*4 + 2*2) / 10 = 3.6, not the unweighted (4 + 4 + 2) / 3;
     * accuracy: (2 + 2 + 1) / 10; validation: one batch of 3 */
    FILE *f = fopen(hist, "r");
    cr_assert_not_null(f);
    char line[256];
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_expect_str_eq(line, "epoch,accuracy,loss,val_accuracy,val_loss\r\n");
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_expect_str_eq(line, "0,0.5,3.6,0.3333333333333333,3.0\r\n");
    cr_assert_not_null(fgets(line, sizeof line, f));
    cr_expect_str_eq(line, "1,0.5,3.6,0.3333333333333333,3.0\r\n");
    fclose(f);
    unlink(hist);
    rmdir(dir);
}

Test(fit, no_shuffle_keeps_the_order) {
    static rnn_model m;
    small_model(&m);
    rnn_fit_options o;
    memset(&o, 0, sizeof o);
    o.epochs = 1;
    o.batch_size = 4;
    o.learning_rate = -1;
    o.validation_split = NAN;
    o.builtin_train = 10;
    o.builtin_val = 0;
    o.no_shuffle = 1;
    o.quiet = 1;
    memset(&rec, 0, sizeof rec);
    cr_assert_eq(rnn_fit(&m, &MOCK, &o), 0);
    cr_assert_eq(rec.calls, 3, "no validation data: 3 training calls only (got %d)", rec.calls);
    uint32_t r = 0;
    for (int c = 0; c < 3; c++)
        for (int b = 0; b < rec.n[c]; b++) cr_expect_eq(rec.rows[c][b], r++, "call %d sample %d", c, b);
}
