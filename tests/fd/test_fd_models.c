/*
 * test_fd_models.c — whole models through rnn_ref_forward / rnn_ref_backward against
 * central differences of the returned batch-mean loss.
 *
 * Dropout and recurrent dropout are ACTIVE (training = 1): the masks are pure functions
 * of the ctx (seed, epoch, rows), so each perturbed forward sees the same masks and the
 * loss stays a smooth function of the parameters. Batches are partial (n < max_batch)
 * with scattered dataset rows unless a case says otherwise.
 */
#include "fd_support.h"
#include "models.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

enum { T_STEPS = 7, N_SAMPLES = 5, MAX_BATCH = 8 };

static rnn_layer *add_recurrent(rnn_model *m, rnn_layer_kind kind, int units, int return_sequences,
                                double dropout, double recurrent_dropout) {
    rnn_layer *l = add_layer(m, kind, units);
    l->return_sequences = return_sequences;
    l->dropout = dropout;
    l->recurrent_dropout = recurrent_dropout;
    return l;
}

static void add_dense(rnn_model *m, int units, rnn_activation act) {
    add_layer(m, RNN_LAYER_DENSE, units)->activation = act;
}

static void add_dropout(rnn_model *m, double rate) {
    add_layer(m, RNN_LAYER_DROPOUT, 0)->dropout = rate;
}

typedef struct {
    rnn_ref *ref;
    rnn_real *params;
    int32_t *tokens;
    rnn_real *labels;
    int n;
    rnn_dropout_ctx ctx;
} model_case;

static double model_loss(void *state) {
    model_case *c = state;
    return rnn_ref_forward(c->ref, c->params, c->tokens, c->labels, c->n, &c->ctx, NULL);
}

typedef struct {
    int n;               /* samples in the batch                                    */
    int training;        /* dropout on                                              */
    int scattered_rows;  /* ctx.rows = arbitrary dataset rows (else NULL)           */
    int distinct_tokens; /* every (b, t) its own id: checks rnn_ref_input_grad too  */
} run_options;

static void check_model(const char *name, rnn_model *m, run_options opt) {
    char err[256];
    cr_assert_eq(rnn_model_layout(m, err, sizeof err), 0, "%s: layout failed: %s", name, err);
    const int T = m->timesteps, n = opt.n, E = m->layers[0].units, V = m->vocab, C = m->n_outputs;
    const size_t len = m->param_buffer_len;

    model_case c = {.n = n};
    c.ref = rnn_ref_create(m, MAX_BATCH);
    cr_assert_not_null(c.ref, "%s: rnn_ref_create failed", name);
    c.params = fd_alloc(len);
    rnn_real *grads = fd_alloc(len);
    c.tokens = calloc((size_t)n * T, sizeof *c.tokens);
    cr_assert_not_null(c.tokens);
    c.labels = fd_alloc((size_t)n);
    for (int k = 0; k < m->n_tensors; k++)
        fd_fill_uniform(c.params + m->tensors[k].offset, m->tensors[k].size, 0.5, 100u + (uint32_t)k);
    for (int p = 0; p < n * T; p++)
        c.tokens[p] = opt.distinct_tokens ? (int32_t)((p * 11 + 2) % V) : (int32_t)((p * 5 + 1) % V);
    if (opt.distinct_tokens) cr_assert_geq(V, n * T, "%s: distinct tokens need vocab >= n*T", name);
    static const double binary_labels[] = {0.0, 1.0, 0.3, 0.8, 1.0, 0.0, 0.55, 0.1};
    for (int b = 0; b < n; b++)
        c.labels[b] = m->loss == RNN_LOSS_BINARY_CROSSENTROPY ? (rnn_real)binary_labels[b % 8]
                                                              : (rnn_real)((b * 2 + 1) % C);
    static const uint32_t rows[MAX_BATCH] = {17, 3, 4242, 8, 1000, 5, 77, 123456};
    c.ctx = (rnn_dropout_ctx){.training = opt.training, .seed = 2024, .epoch = 3,
                              .rows = opt.scattered_rows ? rows : NULL};

    if (opt.training) {   /* the masks really are in play: inference gives another loss */
        rnn_dropout_ctx training_ctx = c.ctx;
        c.ctx.training = 0;
        double inference_loss = model_loss(&c);
        c.ctx = training_ctx;
        cr_expect_neq(inference_loss, model_loss(&c), "%s: dropout changed nothing", name);
    }
    double loss = model_loss(&c);
    cr_assert(isfinite(loss) && loss > 0, "%s: loss %g", name, loss);
    int correct = rnn_ref_correct(c.ref);
    cr_expect(correct >= 0 && correct <= n, "%s: correct %d of %d", name, correct, n);
    for (size_t i = 0; i < len; i++) grads[i] = 7;   /* backward must overwrite all, padding too */
    rnn_ref_backward(c.ref, c.params, grads);

    /* Padding between tensors is zero. */
    size_t end = 0;
    for (int k = 0; k < m->n_tensors; k++) {
        for (size_t i = end; i < m->tensors[k].offset; i++) cr_expect_eq(grads[i], 0.0, "%s: padding at %zu", name, i);
        end = m->tensors[k].offset + m->tensors[k].size;
    }
    for (size_t i = end; i < len; i++) cr_expect_eq(grads[i], 0.0, "%s: padding at %zu", name, i);

    /* The embedding-output gradient, laid out like the table (each row used once). */
    rnn_real *input_grad_as_table = NULL;
    if (opt.distinct_tokens) {
        input_grad_as_table = fd_alloc((size_t)V * E);
        const rnn_real *input_grad = rnn_ref_input_grad(c.ref);
        for (int p = 0; p < n * T; p++)
            memcpy(input_grad_as_table + (size_t)c.tokens[p] * E, input_grad + (size_t)p * E, (size_t)E * sizeof(rnn_real));
    }

    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        double e = fd_check(c.params + t->offset, grads + t->offset, t->size, model_loss, &c);
        char what[160];
        snprintf(what, sizeof what, "%s %s", name, t->name);
        fd_report(what, e);
        cr_expect_leq(e, FD_TOLERANCE, "%s: relative error %g", what, e);
    }
    if (input_grad_as_table) {
        const rnn_tensor *t = &m->tensors[m->layers[0].first_tensor];
        double e = fd_check(c.params + t->offset, input_grad_as_table, t->size, model_loss, &c);
        char what[160];
        snprintf(what, sizeof what, "%s rnn_ref_input_grad", name);
        fd_report(what, e);
        cr_expect_leq(e, FD_TOLERANCE, "%s: relative error %g", what, e);
        free(input_grad_as_table);
    }
    rnn_ref_destroy(c.ref);
    free(c.params), free(grads), free(c.tokens), free(c.labels);
}

static const run_options partial_training = {.n = N_SAMPLES, .training = 1, .scattered_rows = 1};

/* The notebook's lstm2, with both dropout kinds on and recurrent dropout added. */
static void build_lstm_stack(rnn_model *m, int vocab) {
    rnn_model_init(m, "lstm_stack", "test_fd_models.c");
    add_embedding(m, vocab, 5, T_STEPS);
    add_recurrent(m, RNN_LAYER_LSTM, 6, 1, 0.3, 0.25)->dropout_mask = RNN_DROPOUT_PER_STEP;
    add_recurrent(m, RNN_LAYER_LSTM, 4, 0, 0.2, 0.3)->dropout_mask = RNN_DROPOUT_PER_SEQUENCE;
    add_dense(m, 1, RNN_ACT_SIGMOID);
}

Test(fd_models, lstm_stack_binary_dropout_partial_batch) {
    rnn_model m;
    build_lstm_stack(&m, 13);
    check_model("lstm_stack", &m, partial_training);
}

Test(fd_models, lstm_stack_input_grad) {
    rnn_model m;
    build_lstm_stack(&m, 40);
    check_model("lstm_stack distinct ids", &m, (run_options){.n = N_SAMPLES, .training = 1, .scattered_rows = 1, .distinct_tokens = 1});
}

Test(fd_models, lstm_stack_inference_full_batch) {
    rnn_model m;
    build_lstm_stack(&m, 13);
    check_model("lstm_stack inference", &m, (run_options){.n = MAX_BATCH, .training = 0});
}

Test(fd_models, lstm_stack_training_rows_null) {
    rnn_model m;
    build_lstm_stack(&m, 13);
    check_model("lstm_stack rows NULL", &m, (run_options){.n = MAX_BATCH, .training = 1});
}

Test(fd_models, gru_stack_softmax_head) {
    rnn_model m;
    rnn_model_init(&m, "gru_stack", "test_fd_models.c");
    m.loss = RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    add_embedding(&m, 11, 4, T_STEPS);
    rnn_layer *g1 = add_recurrent(&m, RNN_LAYER_GRU, 5, 1, 0.3, 0.2);
    g1->reset_after = 1, g1->dropout_mask = RNN_DROPOUT_PER_STEP;
    rnn_layer *g2 = add_recurrent(&m, RNN_LAYER_GRU, 3, 1, 0.25, 0.3);
    g2->reset_after = 0, g2->dropout_mask = RNN_DROPOUT_PER_SEQUENCE;
    add_recurrent(&m, RNN_LAYER_GRU, 6, 0, 0.0, 0.0)->reset_after = 1;
    add_dense(&m, 7, RNN_ACT_RELU);
    add_dense(&m, 3, RNN_ACT_SOFTMAX);
    check_model("gru_stack", &m, partial_training);
}

Test(fd_models, simple_rnn_with_dropout_layers_every_dense_activation) {
    rnn_model m;
    rnn_model_init(&m, "simple_stack", "test_fd_models.c");
    add_embedding(&m, 40, 3, T_STEPS);
    add_dropout(&m, 0.3);                                                       /* on the embedding sequence */
    add_recurrent(&m, RNN_LAYER_SIMPLE_RNN, 5, 1, 0.2, 0.3)->activation = RNN_ACT_RELU;
    add_dropout(&m, 0.25);                                                      /* on an RNN sequence */
    add_recurrent(&m, RNN_LAYER_SIMPLE_RNN, 4, 0, 0.1, 0.0);                    /* tanh */
    add_dropout(&m, 0.4);                                                       /* on a vector */
    add_dense(&m, 5, RNN_ACT_TANH);
    add_dense(&m, 4, RNN_ACT_SIGMOID);
    add_dense(&m, 3, RNN_ACT_LINEAR);
    add_dense(&m, 6, RNN_ACT_SOFTMAX);
    add_dense(&m, 9, RNN_ACT_RELU);
    add_dense(&m, 1, RNN_ACT_SIGMOID);
    check_model("simple_stack", &m, (run_options){.n = N_SAMPLES, .training = 1, .scattered_rows = 1, .distinct_tokens = 1});
}

Test(fd_models, mixed_kinds_softmax_head) {
    rnn_model m;
    rnn_model_init(&m, "mixed", "test_fd_models.c");
    m.loss = RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    add_embedding(&m, 40, 6, T_STEPS);
    add_recurrent(&m, RNN_LAYER_LSTM, 3, 1, 0.0, 0.2);
    add_recurrent(&m, RNN_LAYER_GRU, 4, 1, 0.3, 0.0)->reset_after = 0;
    add_recurrent(&m, RNN_LAYER_SIMPLE_RNN, 5, 1, 0.0, 0.0)->activation = RNN_ACT_SIGMOID;
    add_recurrent(&m, RNN_LAYER_SIMPLE_RNN, 11, 0, 0.15, 0.25)->activation = RNN_ACT_LINEAR;
    add_dense(&m, 4, RNN_ACT_SOFTMAX);
    check_model("mixed", &m, (run_options){.n = N_SAMPLES, .training = 1, .scattered_rows = 1, .distinct_tokens = 1});
}
