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

/* ---- go_backwards and bidirectional (docs/keras-semantics.md, go_backwards, Bidirectional) ---- */

/* A wrapper of `kind` (its options set on the returned layer). */
static rnn_layer *add_bidirectional(rnn_model *m, rnn_layer_kind kind, int units, int return_sequences,
                                    rnn_merge_mode merge) {
    rnn_layer *l = add_recurrent(m, RNN_LAYER_BIDIRECTIONAL, units, return_sequences, 0.0, 0.0);
    l->wrapped = kind;
    l->merge_mode = merge;
    return l;
}

Test(fd_models, go_backwards_every_kind_sequences_and_last) {
    rnn_model m;
    rnn_model_init(&m, "backwards", "test_fd_models.c");
    add_embedding(&m, 40, 4, T_STEPS);
    add_recurrent(&m, RNN_LAYER_LSTM, 5, 1, 0.3, 0.2)->go_backwards = 1;   /* a sequence, in the order read */
    rnn_layer *g = add_recurrent(&m, RNN_LAYER_GRU, 4, 1, 0.0, 0.25);
    g->go_backwards = 1, g->reset_after = 0;
    add_recurrent(&m, RNN_LAYER_GRU, 3, 1, 0.2, 0.0)->go_backwards = 1;   /* reset_after */
    add_recurrent(&m, RNN_LAYER_SIMPLE_RNN, 6, 0, 0.2, 0.3)->go_backwards = 1;   /* its last step */
    add_dense(&m, 1, RNN_ACT_SIGMOID);
    check_model("go_backwards", &m, (run_options){.n = N_SAMPLES, .training = 1, .scattered_rows = 1, .distinct_tokens = 1});
}

Test(fd_models, go_backwards_last_step_lstm_gru) {
    rnn_model m;
    rnn_model_init(&m, "backwards_last", "test_fd_models.c");
    add_embedding(&m, 13, 4, T_STEPS);
    add_recurrent(&m, RNN_LAYER_GRU, 5, 1, 0.0, 0.0)->go_backwards = 0;
    add_recurrent(&m, RNN_LAYER_LSTM, 4, 0, 0.25, 0.0)->go_backwards = 1;
    add_dense(&m, 1, RNN_ACT_SIGMOID);
    check_model("go_backwards last", &m, partial_training);
}

Test(fd_models, bidirectional_every_merge_mode_sequences) {
    static const rnn_merge_mode modes[] = {RNN_MERGE_CONCAT, RNN_MERGE_SUM, RNN_MERGE_MUL, RNN_MERGE_AVE};
    for (int k = 0; k < 4; k++) {
        rnn_model m;
        rnn_model_init(&m, "bidi_seq", "test_fd_models.c");
        m.loss = RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
        add_embedding(&m, 40, 4, T_STEPS);
        rnn_layer *b = add_bidirectional(&m, RNN_LAYER_LSTM, 5, 1, modes[k]);
        b->dropout = 0.3, b->recurrent_dropout = 0.2;
        add_bidirectional(&m, RNN_LAYER_GRU, 3, 1, modes[(k + 1) % 4])->reset_after = k % 2;
        add_recurrent(&m, RNN_LAYER_SIMPLE_RNN, 4, 0, 0.0, 0.0);
        add_dense(&m, 3, RNN_ACT_SOFTMAX);
        char name[64];
        snprintf(name, sizeof name, "bidirectional %s sequences", rnn_merge_mode_name(modes[k]));
        check_model(name, &m, (run_options){.n = N_SAMPLES, .training = 1, .scattered_rows = 1, .distinct_tokens = 1});
    }
}

Test(fd_models, bidirectional_every_merge_mode_last_step) {
    static const rnn_merge_mode modes[] = {RNN_MERGE_CONCAT, RNN_MERGE_SUM, RNN_MERGE_MUL, RNN_MERGE_AVE};
    static const rnn_layer_kind kinds[] = {RNN_LAYER_SIMPLE_RNN, RNN_LAYER_GRU, RNN_LAYER_LSTM, RNN_LAYER_GRU};
    for (int k = 0; k < 4; k++) {
        rnn_model m;
        rnn_model_init(&m, "bidi_last", "test_fd_models.c");
        add_embedding(&m, 40, 4, T_STEPS);
        rnn_layer *b = add_bidirectional(&m, kinds[k], 5, 0, modes[k]);
        b->dropout = 0.2, b->recurrent_dropout = k % 2 ? 0.3 : 0.0;
        b->reset_after = k == 3 ? 0 : 1;
        add_dense(&m, 3, RNN_ACT_TANH);
        add_dense(&m, 1, RNN_ACT_SIGMOID);
        char name[64];
        snprintf(name, sizeof name, "bidirectional %s last", rnn_merge_mode_name(modes[k]));
        check_model(name, &m, (run_options){.n = N_SAMPLES, .training = 1, .scattered_rows = 1, .distinct_tokens = 1});
    }
}

/* Keras 2 flips go_backwards for the backward half: wrapping a go_backwards layer makes
 * the forward half read from the last step and the backward half from the first. */
Test(fd_models, bidirectional_of_go_backwards) {
    for (int seq = 0; seq < 2; seq++) {
        rnn_model m;
        rnn_model_init(&m, "bidi_backwards", "test_fd_models.c");
        add_embedding(&m, 40, 3, T_STEPS);
        rnn_layer *b = add_bidirectional(&m, RNN_LAYER_LSTM, 4, seq, RNN_MERGE_CONCAT);
        b->go_backwards = 1, b->dropout = 0.25;
        if (seq) add_recurrent(&m, RNN_LAYER_GRU, 3, 0, 0.0, 0.0);
        add_dense(&m, 1, RNN_ACT_SIGMOID);
        check_model(seq ? "bidirectional of go_backwards sequences" : "bidirectional of go_backwards last", &m,
                    (run_options){.n = N_SAMPLES, .training = 1, .scattered_rows = 1, .distinct_tokens = 1});
    }
}

/* ---- convolution, pooling, flatten, activation layers ------------------------------------------ */

static rnn_layer *add_conv1d(rnn_model *m, int filters, int size, int strides, rnn_padding padding, rnn_activation act) {
    rnn_layer *l = add_layer(m, RNN_LAYER_CONV1D, filters);
    l->kernel_size = size, l->strides = strides, l->padding = padding, l->activation = act;
    return l;
}

static rnn_layer *add_pool(rnn_model *m, rnn_layer_kind kind, int size, int strides, rnn_padding padding) {
    rnn_layer *l = add_layer(m, kind, 0);
    l->pool_size = size, l->strides = strides, l->padding = padding;
    return l;
}

static void add_activation(rnn_model *m, rnn_activation act) { add_layer(m, RNN_LAYER_ACTIVATION, 0)->activation = act; }

/* Keras's imdb_cnn.py, small: the output layer is Activation(sigmoid) after Dense(1). */
Test(fd_models, conv_global_max_dense_activation_head) {
    rnn_model m;
    rnn_model_init(&m, "cnn", "test_fd_models.c");
    add_embedding(&m, 60, 5, 9);
    add_dropout(&m, 0.2);
    add_conv1d(&m, 6, 3, 1, RNN_PADDING_VALID, RNN_ACT_RELU);
    add_layer(&m, RNN_LAYER_GLOBAL_MAX_POOLING1D, 0);
    add_dense(&m, 4, RNN_ACT_LINEAR);
    add_dropout(&m, 0.3);
    add_activation(&m, RNN_ACT_RELU);
    add_dense(&m, 1, RNN_ACT_LINEAR);
    add_activation(&m, RNN_ACT_SIGMOID);
    check_model("conv global_max activation head", &m,
                (run_options){.n = N_SAMPLES, .training = 1, .scattered_rows = 1, .distinct_tokens = 1});
}

/* Keras's imdb_cnn_lstm.py, small, with a spatial dropout and the windows padded. */
Test(fd_models, conv_max_pooling_lstm) {
    rnn_model m;
    rnn_model_init(&m, "cnn_lstm", "test_fd_models.c");
    add_embedding(&m, 60, 4, 11);
    add_layer(&m, RNN_LAYER_SPATIAL_DROPOUT1D, 0)->dropout = 0.3;
    add_conv1d(&m, 5, 3, 1, RNN_PADDING_SAME, RNN_ACT_TANH);
    add_pool(&m, RNN_LAYER_MAX_POOLING1D, 3, 2, RNN_PADDING_SAME);
    add_recurrent(&m, RNN_LAYER_LSTM, 4, 0, 0.2, 0.0);
    add_dense(&m, 1, RNN_ACT_LINEAR);
    add_activation(&m, RNN_ACT_SIGMOID);
    check_model("conv max_pooling lstm", &m, (run_options){.n = N_SAMPLES, .training = 1, .scattered_rows = 1, .distinct_tokens = 1});
}

/* Keras's imdb_fasttext.py and Deep Learning with Python's Flatten model, a softmax head. */
Test(fd_models, global_average_and_flatten_heads) {
    for (int k = 0; k < 2; k++) {
        rnn_model m;
        rnn_model_init(&m, k ? "flatten" : "fasttext", "test_fd_models.c");
        m.loss = RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
        add_embedding(&m, 50, 4, 9);
        add_layer(&m, k ? RNN_LAYER_FLATTEN : RNN_LAYER_GLOBAL_AVERAGE_POOLING1D, 0);
        add_dense(&m, 3, RNN_ACT_SOFTMAX);
        check_model(k ? "flatten softmax" : "global_average softmax", &m, (run_options){.n = N_SAMPLES, .distinct_tokens = 1});
    }
}

/* Causal dilated and strided convolutions without a bias, average pooling, dropout on the
 * pooled steps, Dense and Activation(softmax) at every step, then Flatten; the output
 * layer Activation(softmax). */
Test(fd_models, causal_strided_average_pooling_steps) {
    for (int k = 0; k < 2; k++) {
        rnn_model m;
        rnn_model_init(&m, "steps", "test_fd_models.c");
        m.loss = RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
        add_embedding(&m, 50, 3, 10);
        rnn_layer *c = add_conv1d(&m, 4, 3, k ? 2 : 1, RNN_PADDING_CAUSAL, RNN_ACT_SIGMOID);
        c->dilation_rate = k ? 1 : 2, c->use_bias = 0;
        add_pool(&m, RNN_LAYER_AVERAGE_POOLING1D, 3, 2, k ? RNN_PADDING_SAME : RNN_PADDING_VALID);
        add_dropout(&m, 0.25);   /* on the shorter sequence */
        add_dense(&m, 5, RNN_ACT_TANH);
        add_activation(&m, RNN_ACT_SOFTMAX);
        add_layer(&m, RNN_LAYER_FLATTEN, 0);
        add_dense(&m, 3, RNN_ACT_LINEAR);
        add_activation(&m, RNN_ACT_SOFTMAX);
        check_model(k ? "causal strided average_pooling same" : "causal dilated average_pooling valid", &m,
                    (run_options){.n = N_SAMPLES, .training = 1, .scattered_rows = 1, .distinct_tokens = 1});
    }
}

/* The output layer's activation is the loss's wherever it is written: Dense(1) followed
 * by Activation(sigmoid) (Dense(K) by Activation(softmax)) computes the same logits,
 * loss and gradients, bit for bit, as Dense(1, sigmoid) (Dense(K, softmax)), and an
 * activation before it is an ordinary hidden activation. */
Test(fd_models, output_activation_layer_is_the_loss_activation) {
    for (int sparse = 0; sparse <= 1; sparse++) {
        rnn_model a, b;
        const int K = sparse ? 3 : 1;
        const rnn_activation out = sparse ? RNN_ACT_SOFTMAX : RNN_ACT_SIGMOID;
        for (int v = 0; v < 2; v++) {
            rnn_model *m = v ? &b : &a;
            rnn_model_init(m, "head", "test_fd_models.c");
            m->loss = sparse ? RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY : RNN_LOSS_BINARY_CROSSENTROPY;
            add_embedding(m, 30, 4, 6);
            add_layer(m, RNN_LAYER_GLOBAL_AVERAGE_POOLING1D, 0);
            add_dense(m, 5, RNN_ACT_LINEAR);
            add_activation(m, RNN_ACT_TANH);
            add_dense(m, K, v ? RNN_ACT_LINEAR : out);
            if (v) add_activation(m, out);
            layout(m);
        }
        cr_assert_eq(a.param_buffer_len, b.param_buffer_len);
        const size_t P = a.param_buffer_len;
        rnn_real *params = fd_alloc(P), *ga = fd_alloc(P), *gb = fd_alloc(P), *pa = fd_alloc(8 * 3), *pb = fd_alloc(8 * 3);
        for (int k = 0; k < a.n_tensors; k++)
            fd_fill_uniform(params + a.tensors[k].offset, a.tensors[k].size, 0.5, 300u + (uint32_t)k);
        int32_t tokens[5 * 6];
        rnn_real labels[5];
        for (int p = 0; p < 5 * 6; p++) tokens[p] = (p * 7 + 3) % 30;
        for (int s = 0; s < 5; s++) labels[s] = sparse ? (rnn_real)(s % 3) : (rnn_real)(s % 2);
        rnn_ref *ra = rnn_ref_create(&a, 8), *rb = rnn_ref_create(&b, 8);
        cr_assert(ra && rb);
        const double la = rnn_ref_forward(ra, params, tokens, labels, 5, NULL, pa);
        const double lb = rnn_ref_forward(rb, params, tokens, labels, 5, NULL, pb);
        cr_expect(isfinite(la) && la == lb, "%s: loss %.17g against %.17g", sparse ? "softmax" : "sigmoid", la, lb);
        cr_expect_eq(memcmp(pa, pb, 5 * (size_t)K * sizeof *pa), 0, "the probabilities differ");
        rnn_ref_backward(ra, params, ga);
        rnn_ref_backward(rb, params, gb);
        cr_expect_eq(memcmp(ga, gb, P * sizeof *ga), 0, "the gradients differ");
        rnn_ref_destroy(ra), rnn_ref_destroy(rb);
        free(params), free(ga), free(gb), free(pa), free(pb);
        check_model(sparse ? "dense then activation softmax" : "dense then activation sigmoid", &b, (run_options){.n = N_SAMPLES});
    }
}
