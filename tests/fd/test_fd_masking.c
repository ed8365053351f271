/*
 * test_fd_masking.c — the embedding's mask (mask_zero) through whole models, in double:
 * rnn_ref_backward against central differences of the batch-mean loss for each
 * recurrent kind (forward and go_backwards, stacked with return_sequences, with dropout
 * and recurrent dropout active), bidirectional with return_sequences (its masked output
 * steps 0), Dense, Dropout and Activation on sequences and GlobalAveragePooling1D, over a
 * batch with a row of padding only, a row without padding, rows padded after ('post')
 * and before ('pre') their tokens and a row with padding between tokens. And the values
 * the mask gives: a row padded before its tokens predicts what the same tokens padded
 * after them predict (the padded steps are skipped), which without the mask they do not;
 * a row of padding only predicts the output layer's bias alone.
 */
#include "fd_support.h"
#include "models.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

enum { T_STEPS = 7, N_ROWS = 6, VOCAB = 23 };

/* Row b of the batch: 0 = padding. */
static const int32_t batch_tokens[N_ROWS][T_STEPS] = {
    {0, 0, 0, 0, 0, 0, 0},         /* fully masked                   */
    {5, 9, 1, 17, 22, 3, 11},      /* never masked                   */
    {7, 2, 19, 0, 0, 0, 0},        /* 'post' padding                 */
    {0, 0, 0, 0, 14, 6, 21},       /* 'pre' padding                  */
    {0, 8, 0, 0, 13, 0, 4},        /* padding between tokens too     */
    {12, 0, 0, 0, 0, 0, 0},        /* one token                      */
};
static const double batch_labels[N_ROWS] = {1.0, 0.0, 0.3, 0.8, 1.0, 0.45};

static rnn_layer *add_rnn(rnn_model *m, rnn_layer_kind kind, int units, int seq, double dropout, double rdropout) {
    rnn_layer *l = add_layer(m, kind, units);
    l->return_sequences = seq;
    l->dropout = dropout;
    l->recurrent_dropout = rdropout;
    return l;
}

static rnn_layer *add_bidi(rnn_model *m, rnn_layer_kind kind, int units, int seq, rnn_merge_mode mode) {
    rnn_layer *l = add_rnn(m, RNN_LAYER_BIDIRECTIONAL, units, seq, 0, 0);
    l->wrapped = kind;
    l->merge_mode = mode;
    return l;
}

static void add_masked_embedding(rnn_model *m, const char *name, int dim) {
    rnn_model_init(m, name, "test_fd_masking.c");
    add_embedding(m, VOCAB, dim, T_STEPS);
    m->layers[0].mask_zero = 1;
}

static void add_head(rnn_model *m) { add_layer(m, RNN_LAYER_DENSE, 1)->activation = RNN_ACT_SIGMOID; }

typedef struct {
    rnn_ref *ref;
    rnn_real *params;
    int32_t *tokens;
    rnn_real *labels;
    rnn_dropout_ctx ctx;
} masked_case;

static double case_loss(void *state) {
    masked_case *c = state;
    return rnn_ref_forward(c->ref, c->params, c->tokens, c->labels, N_ROWS, &c->ctx, NULL);
}

static void case_init(masked_case *c, rnn_model *m, int training) {
    char err[256];
    cr_assert_eq(rnn_model_layout(m, err, sizeof err), 0, "%s: layout failed: %s", m->name, err);
    c->ref = rnn_ref_create(m, N_ROWS);
    cr_assert_not_null(c->ref);
    c->params = fd_alloc(m->param_buffer_len);
    c->tokens = calloc((size_t)N_ROWS * T_STEPS, sizeof *c->tokens);
    c->labels = fd_alloc(N_ROWS);
    cr_assert_not_null(c->tokens);
    for (int k = 0; k < m->n_tensors; k++)
        fd_fill_uniform(c->params + m->tensors[k].offset, m->tensors[k].size, 0.5, 300u + (uint32_t)k);
    for (int b = 0; b < N_ROWS; b++) {
        for (int t = 0; t < T_STEPS; t++) c->tokens[b * T_STEPS + t] = batch_tokens[b][t];
        c->labels[b] = (rnn_real)batch_labels[b];
    }
    static const uint32_t rows[N_ROWS] = {41, 7, 900, 3, 12, 555};
    c->ctx = (rnn_dropout_ctx){.training = training, .seed = 77, .epoch = 2, .rows = rows};
}

static void case_free(masked_case *c) {
    rnn_ref_destroy(c->ref);
    free(c->params), free(c->tokens), free(c->labels);
}

/* Every tensor's gradient against central differences. */
static void check_fd(rnn_model *m) {
    masked_case c;
    case_init(&c, m, 1);
    double loss = case_loss(&c);
    cr_assert(isfinite(loss) && loss > 0, "%s: loss %g", m->name, loss);
    rnn_real *grads = fd_alloc(m->param_buffer_len);
    rnn_ref_backward(c.ref, c.params, grads);
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        double e = fd_check(c.params + t->offset, grads + t->offset, t->size, case_loss, &c);
        char what[160];
        snprintf(what, sizeof what, "%s %s", m->name, t->name);
        fd_report(what, e);
        cr_expect_leq(e, FD_TOLERANCE, "%s: relative error %g", what, e);
    }
    /* the padding's embedding row gets nothing: no padded step reaches the loss */
    const rnn_tensor *table = &m->tensors[m->layers[0].first_tensor];
    for (int e = 0; e < m->layers[0].units; e++)
        cr_expect_eq(grads[table->offset + (size_t)e], 0.0, "%s: the padding's row has a gradient", m->name);
    free(grads);
    case_free(&c);
}

static const rnn_layer_kind kinds[] = {RNN_LAYER_SIMPLE_RNN, RNN_LAYER_LSTM, RNN_LAYER_GRU, RNN_LAYER_GRU};

Test(fd_masking, every_kind_stacked_forward_and_go_backwards) {
    for (int k = 0; k < 4; k++) {
        rnn_model m;
        add_masked_embedding(&m, rnn_layer_dsl_name(kinds[k]), 4);
        rnn_layer *a = add_rnn(&m, kinds[k], 5, 1, 0.2, 0.25);
        rnn_layer *b = add_rnn(&m, kinds[k], 4, 0, 0.0, 0.3);
        b->go_backwards = 1;
        a->reset_after = b->reset_after = k == 2;
        add_head(&m);
        check_fd(&m);
    }
}

Test(fd_masking, go_backwards_sequence_then_last) {
    for (int k = 0; k < 4; k++) {
        rnn_model m;
        add_masked_embedding(&m, "backwards", 3);
        rnn_layer *a = add_rnn(&m, kinds[k], 4, 1, 0.0, 0.0);
        a->go_backwards = 1, a->reset_after = k != 3;
        add_rnn(&m, kinds[(k + 1) % 4], 3, 0, 0.2, 0.0);
        add_head(&m);
        check_fd(&m);
    }
}

Test(fd_masking, bidirectional_sequences_every_merge_mode) {
    static const rnn_merge_mode modes[] = {RNN_MERGE_CONCAT, RNN_MERGE_SUM, RNN_MERGE_MUL, RNN_MERGE_AVE};
    for (int k = 0; k < 4; k++) {
        rnn_model m;
        add_masked_embedding(&m, rnn_merge_mode_name(modes[k]), 3);
        rnn_layer *b = add_bidi(&m, kinds[k], 4, 1, modes[k]);
        b->go_backwards = k % 2, b->dropout = 0.2;
        add_bidi(&m, kinds[(k + 2) % 4], 3, 0, modes[(k + 1) % 4]);
        add_head(&m);
        check_fd(&m);
    }
}

Test(fd_masking, dense_dropout_activation_on_sequences_global_average) {
    rnn_model m;
    add_masked_embedding(&m, "dense_sequence", 4);
    add_layer(&m, RNN_LAYER_DROPOUT, 0)->dropout = 0.3;
    add_layer(&m, RNN_LAYER_DENSE, 5)->activation = RNN_ACT_TANH;
    add_layer(&m, RNN_LAYER_ACTIVATION, 0)->activation = RNN_ACT_SIGMOID;
    add_rnn(&m, RNN_LAYER_LSTM, 4, 1, 0.0, 0.0);
    add_layer(&m, RNN_LAYER_GLOBAL_AVERAGE_POOLING1D, 0);
    add_head(&m);
    check_fd(&m);
}

/* The probability of every row, inference. */
static void predict(rnn_model *m, const int32_t rows[][T_STEPS], int n, rnn_real *probs) {
    masked_case c;
    case_init(&c, m, 0);
    for (int b = 0; b < n; b++)
        for (int t = 0; t < T_STEPS; t++) c.tokens[b * T_STEPS + t] = rows[b][t];
    for (int b = n; b < N_ROWS; b++)
        for (int t = 0; t < T_STEPS; t++) c.tokens[b * T_STEPS + t] = 1;
    rnn_real out[N_ROWS];
    rnn_ref_forward(c.ref, c.params, c.tokens, NULL, N_ROWS, &c.ctx, out);
    for (int b = 0; b < n; b++) probs[b] = out[b];
    case_free(&c);
}

Test(fd_masking, pre_and_post_padding_predict_alike) {
    static const int32_t rows[4][T_STEPS] = {{7, 2, 19, 0, 0, 0, 0}, {0, 0, 0, 0, 7, 2, 19},
                                             {0, 0, 0, 0, 0, 0, 0}, {7, 2, 19, 5, 5, 5, 5}};
    for (int k = 0; k < 8; k++) {
        for (int mask = 0; mask < 2; mask++) {
            rnn_model m;
            add_masked_embedding(&m, "padding", 3);
            m.layers[0].mask_zero = mask;
            if (k < 4) add_rnn(&m, kinds[k], 4, 0, 0, 0)->reset_after = k != 3;
            else if (k < 6) add_rnn(&m, kinds[k - 4], 4, 0, 0, 0)->go_backwards = 1;
            else if (k == 6) add_bidi(&m, RNN_LAYER_GRU, 4, 0, RNN_MERGE_CONCAT);
            else add_layer(&m, RNN_LAYER_GLOBAL_AVERAGE_POOLING1D, 0);
            add_head(&m);
            rnn_real p[4];
            predict(&m, rows, 4, p);
            if (mask) {
                cr_expect_eq(p[0], p[1], "case %d: 'post' %.17g, 'pre' %.17g", k, p[0], p[1]);
                cr_expect_neq(p[0], p[3], "case %d: the padding read as a token", k);
                /* padding only: the state stays 0, the output is sigmoid(bias) */
                const rnn_tensor *bias = &m.tensors[m.n_tensors - 1];
                masked_case c;
                case_init(&c, &m, 0);
                double want = 1 / (1 + exp(-(double)c.params[bias->offset]));
                cr_expect(fabs(p[2] - want) < 1e-15, "case %d: padding only gives %.17g, not sigmoid(bias) %.17g", k, p[2], want);
                case_free(&c);
            } else if (k < 7) {   /* (a mean is the same in any order) */
                cr_expect_neq(p[0], p[1], "case %d without the mask: 'pre' and 'post' alike", k);
            }
        }
    }
}
