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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/safetensors.h"
#include "models.h"
#include "train/trainer.h"

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
static const rnn_model_ops MOCK = {"mock", mock_create, mock_destroy, mock_forward, mock_backward, mock_correct, NULL, NULL, NULL, NULL, NULL};

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
    char hist[256], weights[256];
    snprintf(hist, sizeof hist, "%s/h.csv", dir);
    snprintf(weights, sizeof weights, "%s/w.safetensors", dir);
    rnn_fit_options o;
    memset(&o, 0, sizeof o);
    o.save_weights = weights;   /* (every fit writes its final weights) */
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
    unlink(weights);
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
    char dir[] = "/tmp/rnnc-fit-XXXXXX", weights[256];
    cr_assert(mkdtemp(dir));
    snprintf(weights, sizeof weights, "%s/w.safetensors", dir);
    o.save_weights = weights;   /* (every fit writes its final weights) */
    memset(&rec, 0, sizeof rec);
    cr_assert_eq(rnn_fit(&m, &MOCK, &o), 0);
    unlink(weights);
    rmdir(dir);
    cr_assert_eq(rec.calls, 3, "no validation data: 3 training calls only (got %d)", rec.calls);
    uint32_t r = 0;
    for (int c = 0; c < 3; c++)
        for (int b = 0; b < rec.n[c]; b++) cr_expect_eq(rec.rows[c][b], r++, "call %d sample %d", c, b);
}

/* ---- several trainers on every batch (rnn_reducer) -------------------------------------------
 * An in-process reducer: the ranks hand the sums along in one buffer, the last one's
 * sums go to every rank through a second. Each rank counts its steps; a buffer holds
 * whose sums of which step it has. */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int size;
    unsigned char *pass, *final;
    long pass_step, final_step;   /* the step of the sums in pass (from rank pass_from), in final */
    int pass_from;
} chain;

typedef struct {
    chain *c;
    int rank;
    long step;                    /* this rank's steps so far */
    rnn_reducer red;
} link_ctx;

static int chain_receive(void *ctx, void *buf, size_t bytes) {
    link_ctx *k = ctx;
    chain *c = k->c;
    pthread_mutex_lock(&c->mu);
    while (!(c->pass_step == k->step && c->pass_from == k->rank - 1)) pthread_cond_wait(&c->cv, &c->mu);
    memcpy(buf, c->pass, bytes);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

static int chain_pass_on(void *ctx, void *buf, size_t bytes) {
    link_ctx *k = ctx;
    chain *c = k->c;
    pthread_mutex_lock(&c->mu);
    if (k->rank < c->size - 1) {
        memcpy(c->pass, buf, bytes);
        c->pass_step = k->step;
        c->pass_from = k->rank;
    } else {
        memcpy(c->final, buf, bytes);
        c->final_step = k->step;
    }
    pthread_cond_broadcast(&c->cv);
    while (c->final_step != k->step) pthread_cond_wait(&c->cv, &c->mu);
    memcpy(buf, c->final, bytes);
    k->step++;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

typedef struct {
    const rnn_model *m;
    rnn_fit_options o;
    int rc;
} fit_job;

static void *run_fit(void *arg) {
    fit_job *j = arg;
    j->rc = rnn_fit(j->m, &rnn_reference_ops, &j->o);
    return NULL;
}

/* An LSTM with dropout and a validation set, batches of 48: three blocks of 16 rows a
 * batch, so that every trainer's part has whole blocks, and a last batch of 8 rows (one
 * block) that leaves the other parts empty. */
static void reducer_model(rnn_model *m) {
    rnn_model_init(m, "par", "test_fit.c");
    add_embedding(m, 60, 4, 6);
    add_layer(m, RNN_LAYER_LSTM, 3)->dropout = 0.3;
    add_layer(m, RNN_LAYER_DENSE, 1)->activation = RNN_ACT_SIGMOID;
    m->metric_accuracy = 1;
    m->optimizer.kind = RNN_OPT_RMSPROP;
    m->optimizer.learning_rate = 0.01;
    m->fit.batch_size = 48;
    m->fit.epochs = 2;
    char err[256];
    cr_assert_eq(rnn_model_layout(m, err, sizeof err), 0, "%s", err);
}

static rnn_fit_options reducer_options(const char *weights, const char *history) {
    rnn_fit_options o;
    memset(&o, 0, sizeof o);
    o.epochs = o.batch_size = -1;
    o.learning_rate = -1;
    o.validation_split = NAN;
    o.builtin_train = 200;
    o.builtin_val = 40;
    o.save_weights = weights;
    o.history = history;
    o.quiet = 1;
    return o;
}

static long slurp_file(const char *path, unsigned char *buf, long cap) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    long n = (long)fread(buf, 1, (size_t)cap, f);
    fclose(f);
    return n;
}

/* K trainers, each on its part of every batch, end with one trainer's weights and history,
 * byte for byte; only rank 0 writes. */
static void trainers_match_one(int K) {
    static rnn_model m;
    reducer_model(&m);
    char dir[] = "/tmp/rnnc-reduce-XXXXXX";
    cr_assert(mkdtemp(dir));
    char one_w[256], one_h[256], par_w[4][256], par_h[4][256];
    snprintf(one_w, sizeof one_w, "%s/one.safetensors", dir);
    snprintf(one_h, sizeof one_h, "%s/one.csv", dir);
    rnn_fit_options o = reducer_options(one_w, one_h);
    cr_assert_eq(rnn_fit(&m, &rnn_reference_ops, &o), 0);

    chain c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, K, NULL, NULL, -1, -1, -1};
    c.pass = malloc(1 << 20);
    c.final = malloc(1 << 20);
    link_ctx links[4];
    fit_job jobs[4];
    pthread_t th[4];
    for (int k = 0; k < K; k++) {
        links[k] = (link_ctx){&c, k, 0, {k, K, &links[k], chain_receive, chain_pass_on, NULL}};
        snprintf(par_w[k], sizeof par_w[k], "%s/part%d.safetensors", dir, k);
        snprintf(par_h[k], sizeof par_h[k], "%s/part%d.csv", dir, k);
        jobs[k] = (fit_job){&m, reducer_options(par_w[k], par_h[k]), -1};
        jobs[k].o.reducer = &links[k].red;
        cr_assert_eq(pthread_create(&th[k], NULL, run_fit, &jobs[k]), 0);
    }
    for (int k = 0; k < K; k++) {
        pthread_join(th[k], NULL);
        cr_expect_eq(jobs[k].rc, 0, "trainer %d of %d", k, K);
        cr_expect_eq(access(par_w[k], F_OK) == 0, k == 0, "trainer %d of %d: only rank 0 writes", k, K);
    }
    static unsigned char a[1 << 20], b[1 << 20];
    long na = slurp_file(one_w, a, sizeof a), nb = slurp_file(par_w[0], b, sizeof b);
    cr_expect(na == nb && memcmp(a, b, (size_t)na) == 0, "%d trainers: the weights differ from one trainer's", K);
    na = slurp_file(one_h, a, sizeof a);
    nb = slurp_file(par_h[0], b, sizeof b);
    cr_expect(na == nb && memcmp(a, b, (size_t)na) == 0, "%d trainers: the history differs from one trainer's", K);
    free(c.pass);
    free(c.final);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

Test(fit, two_trainers_sum_to_one_trainer_bit_for_bit) { trainers_match_one(2); }
Test(fit, three_trainers_sum_to_one_trainer_bit_for_bit) { trainers_match_one(3); }

Test(fit, the_parts_of_a_batch_are_whole_blocks_in_order) {
    rnn_reducer r = {0, 3, NULL, NULL, NULL, NULL};
    int first, count, next = 0;
    for (r.rank = 0; r.rank < 3; r.rank++) {   /* 100 rows: 7 blocks as 2, 2, 3 */
        rnn_reducer_part(&r, 100, &first, &count);
        cr_expect_eq(first, next);
        cr_expect_eq(first % RNN_REDUCE_ROWS, 0);
        next = first + count;
    }
    cr_expect_eq(next, 100);
    r.rank = 1;
    rnn_reducer_part(&r, 16, &first, &count);   /* one block: rank 0 has it all */
    cr_expect_eq(count, 0);
}

/* ---- a model that keeps its own weights (params_in, params_out) ---------------------------------
 * Its gradient is 0.25 for every weight; it takes SGD's step on its own copy and never
 * writes the trainer's params. The saved weights must be its own. */

static struct {
    const rnn_model *m;
    rnn_real *w;
    int steps;
} own;

static void *own_create(const rnn_model *m, int max_batch) {
    (void)max_batch;
    own.m = m;
    own.w = calloc(m->param_buffer_len, sizeof *own.w);
    own.steps = 0;
    return own.w;
}
static void own_destroy(void *impl) { free(impl); }
static double own_forward(void *impl, const rnn_real *params, const int32_t *tokens, const rnn_real *labels, int n,
                          const rnn_dropout_ctx *ctx, rnn_real *out) {
    (void)impl, (void)params, (void)tokens, (void)labels, (void)ctx;
    for (int b = 0; out && b < n; b++) out[b] = 0.5f;
    return 0.5;
}
static void own_backward(void *impl, const rnn_real *params, rnn_real *grads) { (void)impl, (void)params, (void)grads; }
static int own_correct(const void *impl) {
    (void)impl;
    return 0;
}
static double own_forward_backward(void *impl, rnn_real *params, const int32_t *const *samples, const rnn_real *labels,
                                   int n, const rnn_dropout_ctx *ctx, rnn_real *out, rnn_real *grads, rnn_update *up) {
    (void)params, (void)samples, (void)labels, (void)n, (void)ctx, (void)out, (void)grads;
    cr_assert_not_null(up, "an implementation with its own weights gets every step");
    rnn_real *w = impl;
    const rnn_real lr = (rnn_real)up->o->learning_rate;
    for (int k = 0; k < own.m->n_tensors; k++)
        for (size_t i = 0; i < own.m->tensors[k].size; i++) w[own.m->tensors[k].offset + i] -= lr * (rnn_real)0.25;
    own.steps++;
    return 0.5;
}
static void own_params_in(void *impl, const rnn_real *params) {
    memcpy(impl, params, own.m->param_buffer_len * sizeof *params);
}
static void own_params_out(void *impl, rnn_real *params) {
    memcpy(params, impl, own.m->param_buffer_len * sizeof *params);
}
static const rnn_model_ops OWN = {"own", own_create, own_destroy, own_forward, own_backward, own_correct,
                                  own_forward_backward, NULL, own_params_in, own_params_out, NULL};

Test(fit, a_model_that_keeps_its_weights_hands_them_over_for_saving) {
    static rnn_model m;
    small_model(&m);
    char dir[] = "/tmp/rnnc-own-XXXXXX";
    cr_assert(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    rnn_fit_options o;
    memset(&o, 0, sizeof o);
    o.epochs = o.batch_size = -1;
    o.learning_rate = -1;
    o.validation_split = NAN;
    o.builtin_train = 10;
    o.builtin_val = 0;
    o.save_weights = path;
    o.quiet = 1;
    cr_assert_eq(rnn_fit(&m, &OWN, &o), 0);
    cr_assert_eq(own.steps, 6, "2 epochs of 3 batches");
    rnn_real *want = calloc(m.param_buffer_len, sizeof *want);
    rnn_init_params(&m, m.fit.seed, want);
    for (int k = 0; k < m.n_tensors; k++)
        for (size_t i = 0; i < m.tensors[k].size; i++)
            for (int s = 0; s < 6; s++) want[m.tensors[k].offset + i] -= (rnn_real)m.optimizer.learning_rate * (rnn_real)0.25;
    char err[256];
    rnn_st_file *f = rnn_st_open(path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    for (int k = 0; k < m.n_tensors; k++) {
        const rnn_st_tensor *t = rnn_st_find(f, m.tensors[k].name);
        cr_assert_not_null(t, "%s", m.tensors[k].name);
        cr_expect_eq(memcmp(t->data, want + m.tensors[k].offset, m.tensors[k].size * sizeof(float)), 0,
                     "%s is not the model's own weights", m.tensors[k].name);
    }
    rnn_st_close(f);
    free(want);
    unlink(path);
    rmdir(dir);
}
