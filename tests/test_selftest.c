/*
 * test_selftest.c — rnn_selftest, the generated-versus-reference check.
 *
 * The reference against itself must pass with every error exactly 0 on several
 * models (dropout of every kind, GRU reset_after false, a softmax head, each
 * optimizer). Deliberately wrong implementations — the reference wrapped in a
 * test-local rnn_model_ops that spoils one thing — must fail, and the output must
 * name what failed (and only that, where the fault is local). The reference summing
 * the batch in another order (a correct implementation that rounds differently) must
 * pass on every model and seed, by the float-noise floor where the plain error of a
 * cancelling sum is above the tolerance.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnrt.h"
#include "models.h"


/* ---- models ------------------------------------------------------------------------ */

/* lstm2 of the notebook, smaller: two LSTMs with 30% input dropout, RMSprop 1e-4. */
static void build_lstm2(rnn_model *m) {
    rnn_model_init(m, "lstm2", "test_selftest.c");
    add_embedding(m, 60, 6, 12);
    rnn_layer *l = add_layer(m, RNN_LAYER_LSTM, 5);
    l->dropout = 0.3, l->return_sequences = 1;
    add_layer(m, RNN_LAYER_LSTM, 4)->dropout = 0.3;
    add_layer(m, RNN_LAYER_DENSE, 1)->activation = RNN_ACT_SIGMOID;
    m->optimizer.kind = RNN_OPT_RMSPROP;
    m->optimizer.learning_rate = 1e-4;
    layout(m);
}

/* GRU with reset_after = false, per-sequence input dropout and recurrent dropout,
 * then a Dropout layer; Adam with clipnorm. */
static void build_gru_v1(rnn_model *m) {
    rnn_model_init(m, "gru_v1", "test_selftest.c");
    add_embedding(m, 40, 5, 9);
    rnn_layer *l = add_layer(m, RNN_LAYER_GRU, 6);
    l->reset_after = 0, l->dropout = 0.2, l->recurrent_dropout = 0.4, l->dropout_mask = RNN_DROPOUT_PER_SEQUENCE;
    add_layer(m, RNN_LAYER_DROPOUT, 0)->dropout = 0.25;
    add_layer(m, RNN_LAYER_DENSE, 1)->activation = RNN_ACT_SIGMOID;
    m->optimizer.kind = RNN_OPT_ADAM;
    m->optimizer.learning_rate = 1e-3;
    m->optimizer.clipnorm = 0.5;
    layout(m);
}

/* A softmax head over 4 classes (sparse categorical cross-entropy): SimpleRNN with
 * dropout returning sequences, a Dropout layer on the sequence, an LSTM with
 * recurrent dropout, a relu Dense, the softmax Dense; SGD with Nesterov momentum. */
static void build_softmax(rnn_model *m) {
    rnn_model_init(m, "softmax_head", "test_selftest.c");
    add_embedding(m, 30, 4, 8);
    rnn_layer *l = add_layer(m, RNN_LAYER_SIMPLE_RNN, 5);
    l->dropout = 0.2, l->return_sequences = 1;
    add_layer(m, RNN_LAYER_DROPOUT, 0)->dropout = 0.3;
    add_layer(m, RNN_LAYER_LSTM, 6)->recurrent_dropout = 0.3;
    add_layer(m, RNN_LAYER_DENSE, 7)->activation = RNN_ACT_RELU;
    add_layer(m, RNN_LAYER_DENSE, 4)->activation = RNN_ACT_SOFTMAX;
    m->loss = RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    m->optimizer.kind = RNN_OPT_SGD;
    m->optimizer.learning_rate = 0.05;
    m->optimizer.momentum = 0.9;
    m->optimizer.nesterov = 1;
    layout(m);
}

/* A last bias whose gradient is a sum over the batch that cancels: Embedding(66, 2),
 * SimpleRNN(5, relu), Dropout, Dense(2, linear), Dense(1, sigmoid) over 7 steps (one
 * of the random specs of the property test, seed 777, whose selftest failed on float
 * noise before the float-noise floor). */
static void build_cancelling(rnn_model *m) {
    rnn_model_init(m, "cancelling", "test_selftest.c");
    add_embedding(m, 66, 2, 7);
    add_layer(m, RNN_LAYER_SIMPLE_RNN, 5)->activation = RNN_ACT_RELU;
    add_layer(m, RNN_LAYER_DROPOUT, 0)->dropout = 0.05;
    add_layer(m, RNN_LAYER_DENSE, 2)->activation = RNN_ACT_LINEAR;
    add_layer(m, RNN_LAYER_DENSE, 1)->activation = RNN_ACT_SIGMOID;
    layout(m);
}

/* No dropout at all, GRU reset_after (the default). */
static void build_plain_gru(rnn_model *m) {
    rnn_model_init(m, "gru", "test_selftest.c");
    add_embedding(m, 50, 8, 10);
    add_layer(m, RNN_LAYER_GRU, 4);
    add_layer(m, RNN_LAYER_DENSE, 1)->activation = RNN_ACT_SIGMOID;
    layout(m);
}

/* ---- running it ------------------------------------------------------------------- */

/* Run the selftest into a memory buffer; *text is malloc'd. */
static int run(const rnn_model *m, const rnn_model_ops *ops, uint64_t seed, char **text) {
    size_t len = 0;
    *text = NULL;
    FILE *f = open_memstream(text, &len);
    cr_assert_not_null(f);
    int rc = rnn_selftest(m, ops, seed, f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_not_null(*text);
    return rc;
}

/* The table line whose label is exactly `label` (followed by spaces), or NULL. The
 * result is a copy of the line, malloc'd. */
static char *line_of(const char *text, const char *label) {
    const size_t ll = strlen(label);
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 2 + ll && !strncmp(p, "  ", 2) && !strncmp(p + 2, label, ll) && p[2 + ll] == ' ') {
            char *s = malloc(n + 1);
            cr_assert_not_null(s);
            memcpy(s, p, n);
            s[n] = 0;
            return s;
        }
        p += n + (e != NULL);
    }
    return NULL;
}

static int line_fails(const char *text, const char *label) {
    char *s = line_of(text, label);
    cr_assert_not_null(s, "no line '%s' in:\n%s", label, text);
    int f = strstr(s, "FAIL") != NULL;
    free(s);
    return f;
}

/* Every number in scientific notation in a table row is exactly zero, every
 * "correct" row agrees, and there is one row per tensor in each section (and two for
 * forward_backward when the ops have it: without and with the optimizer's step). */
static void expect_all_zero(const rnn_model *m, const char *text, int fused) {
    int rows = 0;
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 2 && !strncmp(p, "  ", 2)) {
            rows++;
            char line[512];
            cr_assert_lt(n, sizeof line);
            memcpy(line, p, n);
            line[n] = 0;
            cr_expect_null(strstr(line, "FAIL"), "%s", line);
            cr_expect_null(strstr(line, "NaN"), "%s", line);
            int a, r;
            const char *c = strstr(line, "correct");
            if (c && sscanf(c + strlen("correct"), " %d (reference %d)", &a, &r) == 2) {
                cr_expect_eq(a, r, "%s", line);
            } else {
                int numbers = 0;
                for (char *tok = strtok(line, " "); tok; tok = strtok(NULL, " ")) {
                    if (!strchr(tok, 'e') || strchr(tok, '/')) continue;
                    char *end;
                    double v = strtod(tok, &end);
                    if (*end || end == tok) continue;
                    numbers++;
                    cr_expect_eq(v, 0.0, "not exactly 0: %s in '%.*s'", tok, (int)n, p);
                }
                cr_expect_geq(numbers, 1, "a row without an error value: '%.*s'", (int)n, p);
            }
        }
        p += n + (e != NULL);
    }
    /* probabilities, loss, grads, padding, correct, the embedding's lookups (clipping by a
     * norm per lookup), forward_backward's two, 3 inference rows, the gradient after an
     * inference, step loss, steps */
    cr_expect_eq(rows, 2 + m->n_tensors + 2 + rnn_clips_lookup_norm(m) + 2 * fused + 3 + 1 + 1 + m->n_tensors, "rows: %d\n%s",
                 rows, text);
    const char *opt = "sgd";   /* the selftest's steps are SGD whatever the spec's optimizer */
    for (int k = 0; k < m->n_tensors; k++) {
        char label[160];
        snprintf(label, sizeof label, "grad %s", m->tensors[k].name);
        char *s = line_of(text, label);
        cr_expect_not_null(s, "no row for %s", label);
        free(s);
        snprintf(label, sizeof label, "after 3 %s steps: %s", opt, m->tensors[k].name);
        s = line_of(text, label);
        cr_expect_not_null(s, "no row for %s", label);
        free(s);
    }
    cr_expect_not_null(strstr(text, "\nPASS\n"), "%s", text);
}

static void expect_reference_passes(const rnn_model *m, uint64_t seed, const char *dropout_words) {
    char *text;
    int rc = run(m, &rnn_reference_ops, seed, &text);
    cr_expect_eq(rc, 0, "%s", text);
    char head[256];
    snprintf(head, sizeof head,
             "selftest: model \"%s\" (reference) vs reference, 11 samples of 13, %s, tolerance 1e-05\n", m->name,
             dropout_words);
    cr_expect_eq(strncmp(text, head, strlen(head)), 0, "header:\n%s\nwanted:\n%s", text, head);
    expect_all_zero(m, text, 0);
    free(text);
}

Test(selftest, reference_against_itself_lstm2_with_dropout) {
    rnn_model m;
    build_lstm2(&m);
    expect_reference_passes(&m, 0, "dropout on");
    expect_reference_passes(&m, 12345, "dropout on");
}

Test(selftest, reference_against_itself_gru_reset_before_with_recurrent_dropout) {
    rnn_model m;
    build_gru_v1(&m);
    expect_reference_passes(&m, 7, "dropout on");
}

Test(selftest, reference_against_itself_softmax_head) {
    rnn_model m;
    build_softmax(&m);
    expect_reference_passes(&m, 3, "dropout on");
}

Test(selftest, reference_against_itself_without_dropout) {
    rnn_model m;
    build_plain_gru(&m);
    expect_reference_passes(&m, 1, "no dropout in the model");
}

/* ---- deliberately wrong implementations ------------------------------------------- */

typedef enum {
    FAULT_NONE,
    FAULT_GRAD_SCALE,       /* one gradient tensor times (1 + 1e-4)                 */
    FAULT_DROPOUT_EPOCH,    /* training forward with epoch + 1: other masks          */
    FAULT_FIXED_EPOCH,      /* training forward always with epoch 2 (ignores epoch)  */
    FAULT_LOSS,             /* loss times (1 + 1e-4)                                  */
    FAULT_GRAD_NAN,         /* one gradient element NaN                               */
    FAULT_GRAD_UNWRITTEN,   /* one gradient element never written                     */
    FAULT_GRAD_PADDING,     /* garbage in the alignment padding                       */
    FAULT_CORRECT,          /* correct count off by one                               */
    FAULT_PROB,             /* one probability off by 1e-4 relative                  */
    FAULT_FUSED,            /* forward_backward: one gradient element off by 1 ulp    */
    FAULT_REORDER,          /* not a fault: the batch in reverse order (sums rounded in
                               another order), the outputs put back                    */
    FAULT_STEP_EARLY        /* forward_backward's optimizer step: one tensor's weights
                               updated before the pass reads them                       */
} fault_kind;

static fault_kind g_fault;
static const char *g_tensor;   /* the tensor of the gradient faults */

typedef struct {
    rnn_ref *r;
    const rnn_model *m;
    rnn_real *scratch;
    int32_t *tokens; /* forward_backward's samples, gathered */
    int32_t *rev;    /* FAULT_REORDER: the batch reversed, */
    rnn_real *rev_labels;
    uint32_t *rev_rows;
    float *rev_weights;
} faulty;

static void faulty_destroy(void *impl) {
    faulty *f = impl;
    rnn_ref_destroy(f->r);
    free(f->scratch);
    free(f->tokens);
    free(f->rev);
    free(f->rev_labels);
    free(f->rev_rows);
    free(f->rev_weights);
    free(f);
}

static void *faulty_create(const rnn_model *m, int max_batch) {
    faulty *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->m = m;
    f->r = rnn_ref_create(m, max_batch);
    f->scratch = calloc(m->param_buffer_len, sizeof *f->scratch);
    f->tokens = calloc((size_t)max_batch * (size_t)m->timesteps, sizeof *f->tokens);
    f->rev = calloc((size_t)max_batch * (size_t)m->timesteps, sizeof *f->rev);
    f->rev_labels = calloc((size_t)max_batch, sizeof *f->rev_labels);
    f->rev_rows = calloc((size_t)max_batch, sizeof *f->rev_rows);
    f->rev_weights = calloc((size_t)max_batch, sizeof *f->rev_weights);
    if (!f->r || !f->scratch || !f->tokens || !f->rev || !f->rev_labels || !f->rev_rows || !f->rev_weights) {
        faulty_destroy(f);
        return NULL;
    }
    return f;
}

static double faulty_forward(void *impl, const rnn_real *params, const int32_t *tokens, const rnn_real *labels,
                             int n, const rnn_dropout_ctx *ctx, rnn_real *out) {
    faulty *f = impl;
    rnn_dropout_ctx c;
    if (ctx) {
        c = *ctx;
        if (g_fault == FAULT_DROPOUT_EPOCH && c.training) c.epoch++;
        if (g_fault == FAULT_FIXED_EPOCH && c.training) c.epoch = 2;
    }
    if (g_fault == FAULT_REORDER) { /* sample b goes to n - 1 - b, with its row (its dropout masks) */
        const size_t T = (size_t)f->m->timesteps, K = (size_t)f->m->n_outputs;
        for (int b = 0; b < n; b++) {
            memcpy(f->rev + (size_t)(n - 1 - b) * T, tokens + (size_t)b * T, T * sizeof *f->rev);
            if (labels) f->rev_labels[n - 1 - b] = labels[b];
            if (ctx && ctx->rows) f->rev_rows[n - 1 - b] = ctx->rows[b];
            if (ctx && ctx->sample_weights) f->rev_weights[n - 1 - b] = ctx->sample_weights[b];
        }
        if (ctx && ctx->rows) c.rows = f->rev_rows;
        if (ctx && ctx->sample_weights) c.sample_weights = f->rev_weights;
        double loss = rnn_ref_forward(f->r, params, f->rev, labels ? f->rev_labels : NULL, n, ctx ? &c : NULL, out);
        for (int b = 0; out && b < n / 2; b++)
            for (size_t j = 0; j < K; j++) {
                rnn_real *x = out + (size_t)b * K + j, *y = out + (size_t)(n - 1 - b) * K + j, t = *x;
                *x = *y, *y = t;
            }
        return loss;
    }
    double loss = rnn_ref_forward(f->r, params, tokens, labels, n, ctx ? &c : NULL, out);
    if (g_fault == FAULT_LOSS) loss *= 1 + 1e-4;
    if (g_fault == FAULT_PROB && out) out[n - 1] = (rnn_real)((double)out[n - 1] * (1 + 1e-4));
    return loss;
}

static rnn_real *fault_tensor(const faulty *f, rnn_real *grads, size_t *size) {
    int k = rnn_model_find_tensor(f->m, g_tensor);
    cr_assert_geq(k, 0, "no tensor %s", g_tensor);
    *size = f->m->tensors[k].size;
    return grads + f->m->tensors[k].offset;
}

static void faulty_backward(void *impl, const rnn_real *params, rnn_real *grads) {
    faulty *f = impl;
    const rnn_model *m = f->m;
    size_t size;
    if (g_fault == FAULT_GRAD_UNWRITTEN) {
        /* Compute elsewhere, then copy every tensor but the last element of one. */
        rnn_ref_backward(f->r, params, f->scratch);
        rnn_real *skip = fault_tensor(f, grads, &size) + size - 1;
        for (size_t i = 0; i < m->param_buffer_len; i++)
            if (grads + i != skip) grads[i] = f->scratch[i];
        return;
    }
    rnn_ref_backward(f->r, params, grads);
    if (g_fault == FAULT_GRAD_SCALE) {
        rnn_real *g = fault_tensor(f, grads, &size);
        for (size_t i = 0; i < size; i++) g[i] = (rnn_real)((double)g[i] * (1 + 1e-4));
    } else if (g_fault == FAULT_GRAD_NAN) {
        fault_tensor(f, grads, &size)[size / 2] = (rnn_real)NAN;
    } else if (g_fault == FAULT_GRAD_PADDING) {
        rnn_real *g = fault_tensor(f, grads, &size);
        g[size] = (rnn_real)1e-3;   /* the tests pick a tensor followed by padding */
    }
}

static int faulty_correct(const void *impl) {
    const faulty *f = impl;
    return rnn_ref_correct(f->r) + (g_fault == FAULT_CORRECT);
}

/* forward then backward, then the optimizer's step if asked; but FAULT_FUSED moves one
 * element of a gradient by one ulp, and FAULT_STEP_EARLY changes the weights of g_tensor
 * (by a factor 1 - 1e-3) between the forward and the backward pass, as a model that
 * updated them before the backward had read them would */
static double faulty_forward_backward(void *impl, rnn_real *params, const int32_t *const *samples,
                                      const rnn_real *labels, int n, const rnn_dropout_ctx *ctx, rnn_real *out,
                                      rnn_real *grads, rnn_update *update) {
    faulty *f = impl;
    const rnn_model *m = f->m;
    const size_t T = (size_t)m->timesteps;
    for (int b = 0; b < n; b++) memcpy(f->tokens + (size_t)b * T, samples[b], T * sizeof *f->tokens);
    const double loss = faulty_forward(impl, params, f->tokens, labels, n, ctx, out);
    size_t size;
    if (g_fault == FAULT_STEP_EARLY && update) {
        const rnn_real *g = fault_tensor(f, grads, &size);
        rnn_real *w = params + (g - grads);
        for (size_t i = 0; i < size; i++) w[i] = (rnn_real)((double)w[i] * (1.0 - 1e-3));
    }
    faulty_backward(impl, params, grads);
    if (g_fault == FAULT_FUSED) {
        rnn_real *g = fault_tensor(f, grads, &size);
        g[0] = nextafterf(g[0], INFINITY);
    }
    if (update) rnn_update_apply(update, 0, m->param_buffer_len);
    return loss;
}

static double faulty_lookup_sumsq(const void *impl) { return rnn_ref_lookup_sumsq(((const faulty *)impl)->r); }

static const rnn_model_ops faulty_ops = {"faulty", faulty_create, faulty_destroy, faulty_forward, faulty_backward,
                                         faulty_correct, faulty_forward_backward, NULL, NULL, NULL, faulty_lookup_sumsq};

/* Run with the fault; it must fail, and the FAIL summary must name `first`. */
static char *expect_failure(const rnn_model *m, fault_kind fault, const char *tensor, const char *first) {
    g_fault = fault;
    g_tensor = tensor;
    char *text;
    int rc = run(m, &faulty_ops, 11, &text);
    cr_expect_eq(rc, 1, "fault %d passed:\n%s", (int)fault, text);
    cr_expect_null(strstr(text, "\nPASS\n"), "%s", text);
    char want[256];
    snprintf(want, sizeof want, "\nFAIL: ");
    const char *fl = strstr(text, want);
    cr_expect_not_null(fl, "no FAIL line:\n%s", text);
    if (fl) {
        snprintf(want, sizeof want, "the first: %s\n", first);
        cr_expect_not_null(strstr(fl, want), "FAIL line does not name '%s':\n%s", first, text);
    }
    return text;
}

/* Summing the batch in another order changes only the rounding: the selftest must
 * pass on every model and seed, also where a gradient is a sum that cancels and its
 * plain error is above the tolerance (the float-noise floor, measured on the reference
 * itself, is what passes it; there must be such a case here, or the test proves
 * nothing about the floor). */
Test(selftest, another_summation_order_passes_within_float_noise) {
    static const struct {
        void (*build)(rnn_model *);
        int seeds;
    } models[] = {{build_cancelling, 250}, {build_lstm2, 250}, {build_softmax, 12}, {build_gru_v1, 12},
                  {build_plain_gru, 12}};
    g_fault = FAULT_REORDER;
    int floored = 0, runs = 0;
    for (size_t i = 0; i < sizeof models / sizeof *models; i++)
        for (int seed = 1; seed <= models[i].seeds; seed++, runs++) {
            rnn_model m;
            models[i].build(&m);
            char *text;
            const int rc = run(&m, &faulty_ops, (uint64_t)seed, &text);
            cr_expect_eq(rc, 0, "%s, seed %d: another summation order failed:\n%s", m.name, seed, text);
            floored += strstr(text, "without the float-noise floor") != NULL;
            free(text);
        }
    /* (with clang 14 -O2: 2 of the cancelling model's seeds and 2 of lstm2's; which
     * ones depends on the compiler's rounding, how many hardly) */
    cr_log_info("selftest: the float-noise floor decided %d of %d runs", floored, runs);
    cr_expect_gt(floored, 0, "no run needed the float-noise floor: the test shows nothing about it");
    g_fault = FAULT_NONE;
}

Test(selftest, wrapper_without_fault_passes) {
    rnn_model m;
    build_lstm2(&m);
    g_fault = FAULT_NONE;
    char *text;
    cr_expect_eq(run(&m, &faulty_ops, 11, &text), 0, "%s", text);
    cr_expect_not_null(strstr(text, "(faulty) vs reference"), "%s", text);
    expect_all_zero(&m, text, 1);
    free(text);
}

Test(selftest, a_forward_backward_off_by_one_ulp_fails) {
    rnn_model m;
    build_lstm2(&m);
    char *text = expect_failure(&m, FAULT_FUSED, "lstm/kernel", "forward_backward = forward, backward");
    cr_expect_not_null(strstr(text, "forward_backward = forward, backward"), "%s", text);
    free(text);
}

Test(selftest, an_optimizer_step_applied_too_early_fails) {
    rnn_model m;
    build_lstm2(&m);
    char *text = expect_failure(&m, FAULT_STEP_EARLY, "lstm/kernel", "forward_backward + optimizer step");
    cr_expect(line_fails(text, "forward_backward + optimizer step"), "%s", text);
    /* (only that row: the other rows call forward_backward without a step) */
    cr_expect(!line_fails(text, "forward_backward = forward, backward"), "%s", text);
    free(text);
}

Test(selftest, a_gradient_off_by_1e_4_fails_and_is_named) {
    rnn_model m;
    build_lstm2(&m);
    char *text = expect_failure(&m, FAULT_GRAD_SCALE, "lstm_1/recurrent_kernel", "grad lstm_1/recurrent_kernel");
    cr_expect(line_fails(text, "grad lstm_1/recurrent_kernel"), "%s", text);
    char *s = line_of(text, "grad lstm_1/recurrent_kernel");
    /* (shown as it is, or, when the reference's float noise for this tensor is above
     * 1e-5 of its scale / 8, next to the value against the float-noise floor) */
    cr_expect_not_null(strstr(s, "1.0e-04"), "the error is the 1e-4 scaling: %s", s);
    free(s);
    /* nothing else of the first pass is wrong */
    for (int k = 0; k < m.n_tensors; k++) {
        if (!strcmp(m.tensors[k].name, "lstm_1/recurrent_kernel")) continue;
        char label[160];
        snprintf(label, sizeof label, "grad %s", m.tensors[k].name);
        cr_expect(!line_fails(text, label), "%s should pass:\n%s", label, text);
    }
    cr_expect(!line_fails(text, "probabilities"), "%s", text);
    cr_expect(!line_fails(text, "loss"), "%s", text);
    free(text);
}

Test(selftest, a_gradient_off_in_the_softmax_head_fails) {
    rnn_model m;
    build_softmax(&m);
    char *text = expect_failure(&m, FAULT_GRAD_SCALE, "simple_rnn/kernel", "grad simple_rnn/kernel");
    cr_expect(line_fails(text, "grad simple_rnn/kernel"), "%s", text);
    cr_expect(!line_fails(text, "grad dense_1/kernel"), "%s", text);
    free(text);
}

Test(selftest, other_dropout_masks_fail_in_training_only) {
    rnn_model m;
    build_lstm2(&m);
    char *text = expect_failure(&m, FAULT_DROPOUT_EPOCH, NULL, "probabilities");
    cr_expect(line_fails(text, "probabilities"), "%s", text);
    cr_expect(line_fails(text, "loss"), "%s", text);
    cr_expect(line_fails(text, "grad lstm/kernel"), "%s", text);
    cr_expect(!line_fails(text, "inference probabilities"), "inference has no dropout:\n%s", text);
    cr_expect(!line_fails(text, "inference loss"), "%s", text);
    free(text);
}

Test(selftest, other_recurrent_dropout_masks_fail) {
    rnn_model m;
    build_gru_v1(&m);
    char *text = expect_failure(&m, FAULT_DROPOUT_EPOCH, NULL, "probabilities");
    cr_expect(line_fails(text, "grad gru/recurrent_kernel"), "%s", text);
    cr_expect(!line_fails(text, "inference probabilities"), "%s", text);
    free(text);
}

Test(selftest, ignoring_the_epoch_fails_only_in_the_optimizer_steps) {
    rnn_model m;
    build_lstm2(&m);
    char *text = expect_failure(&m, FAULT_FIXED_EPOCH, NULL, "loss at sgd steps 1-3");
    cr_expect(!line_fails(text, "probabilities"), "epoch 2 is right in the first pass:\n%s", text);
    cr_expect(!line_fails(text, "grad lstm/kernel"), "%s", text);
    cr_expect(line_fails(text, "loss at sgd steps 1-3"), "%s", text);
    cr_expect(line_fails(text, "after 3 sgd steps: lstm/kernel"), "%s", text);
    free(text);
}

Test(selftest, a_loss_off_by_1e_4_fails) {
    rnn_model m;
    build_lstm2(&m);
    char *text = expect_failure(&m, FAULT_LOSS, NULL, "loss");
    cr_expect(line_fails(text, "loss"), "%s", text);
    cr_expect(line_fails(text, "inference loss"), "%s", text);
    cr_expect(!line_fails(text, "probabilities"), "%s", text);
    cr_expect(!line_fails(text, "grad lstm/kernel"), "%s", text);
    free(text);
}

Test(selftest, one_probability_off_by_1e_4_fails) {
    rnn_model m;
    build_softmax(&m);
    char *text = expect_failure(&m, FAULT_PROB, NULL, "probabilities");
    cr_expect(line_fails(text, "inference probabilities"), "%s", text);
    cr_expect(!line_fails(text, "loss"), "%s", text);
    free(text);
}

Test(selftest, a_nan_gradient_fails) {
    rnn_model m;
    build_lstm2(&m);
    char *text = expect_failure(&m, FAULT_GRAD_NAN, "lstm/bias", "grad lstm/bias");
    char *s = line_of(text, "grad lstm/bias");
    cr_expect_not_null(strstr(s, "NaN"), "%s", s);
    free(s);
    free(text);
}

Test(selftest, an_unwritten_gradient_element_fails) {
    rnn_model m;
    build_gru_v1(&m);
    char *text = expect_failure(&m, FAULT_GRAD_UNWRITTEN, "dense/bias", "grad dense/bias");
    cr_expect(!line_fails(text, "grad dense/kernel"), "%s", text);
    free(text);
}

Test(selftest, garbage_in_the_gradient_padding_fails) {
    rnn_model m;
    build_lstm2(&m);
    int k = rnn_model_find_tensor(&m, "dense/bias");
    cr_assert_geq(k, 0);
    cr_assert_gt(m.param_buffer_len, m.tensors[k].offset + m.tensors[k].size, "dense/bias is followed by padding");
    char *text = expect_failure(&m, FAULT_GRAD_PADDING, "dense/bias", "grad padding (must be 0)");
    cr_expect(!line_fails(text, "grad dense/bias"), "%s", text);
    free(text);
}

Test(selftest, a_wrong_correct_count_fails) {
    rnn_model m;
    build_plain_gru(&m);
    char *text = expect_failure(&m, FAULT_CORRECT, NULL, "correct");
    cr_expect(line_fails(text, "inference correct"), "%s", text);
    cr_expect(!line_fails(text, "loss"), "%s", text);
    free(text);
}
