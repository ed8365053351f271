/*
 * test_fd_layers.c — every reference layer on its own against central differences.
 *
 * Each case draws random inputs and weights (about ±0.5, so no gate saturates), takes a
 * random upstream gradient w and the scalar L = Σ w ⊙ out, and checks the layer's
 * backward for every parameter tensor and for the input.
 */
#include "fd_support.h"

#include <criterion/criterion.h>
#include <string.h>

/* ---- recurrent layers ------------------------------------------------------------ */

typedef struct {
    rnn_layer_kind kind;
    rnn_activation act;     /* simple_rnn */
    int reset_after;        /* gru */
    int B, T, F, U;
    size_t kernel_len, recurrent_len, bias_len;
    rnn_real *x, *kernel, *recurrent_kernel, *bias, *mask;   /* mask [B, U] or NULL */
    rnn_real *step_mask;      /* [B, T] or NULL: 0 at a padded step (mask_zero) */
    rnn_real *h, *c, *gates, *w;
    rnn_real *dx, *dkernel, *drecurrent_kernel, *dbias, *scratch;
} rnn_case;

static void rnn_case_forward(rnn_case *k) {
    switch (k->kind) {
    case RNN_LAYER_SIMPLE_RNN:
        rnn_ref_simple_rnn_forward(k->h, k->x, k->kernel, k->recurrent_kernel, k->bias, k->mask, k->step_mask, k->act,
                                   k->B, k->T, k->F, k->U);
        break;
    case RNN_LAYER_LSTM:
        rnn_ref_lstm_forward(k->h, k->c, k->gates, k->x, k->kernel, k->recurrent_kernel, k->bias, k->mask, k->step_mask,
                             k->B, k->T, k->F, k->U);
        break;
    default:
        rnn_ref_gru_forward(k->h, k->gates, k->x, k->kernel, k->recurrent_kernel, k->bias, k->mask, k->step_mask,
                            k->reset_after, k->B, k->T, k->F, k->U);
        break;
    }
}

static double rnn_case_scalar(void *state) {
    rnn_case *k = state;
    rnn_case_forward(k);
    return fd_weighted_sum(k->w, k->h, (size_t)k->B * (size_t)k->T * (size_t)k->U);
}

static void rnn_case_init(rnn_case *k, rnn_layer_kind kind, int B, int T, int F, int U, int masked) {
    k->kind = kind;
    k->B = B, k->T = T, k->F = F, k->U = U;
    int G = kind == RNN_LAYER_LSTM ? 4 : kind == RNN_LAYER_GRU ? 3 : 1;
    k->kernel_len = (size_t)F * (size_t)(G * U);
    k->recurrent_len = (size_t)U * (size_t)(G * U);
    k->bias_len = (size_t)(G * U) * (kind == RNN_LAYER_GRU && k->reset_after ? 2 : 1);
    size_t seq_in = (size_t)B * (size_t)T * (size_t)F, seq_out = (size_t)B * (size_t)T * (size_t)U;
    k->x = fd_alloc(seq_in);
    k->kernel = fd_alloc(k->kernel_len);
    k->recurrent_kernel = fd_alloc(k->recurrent_len);
    k->bias = fd_alloc(k->bias_len);
    k->h = fd_alloc(seq_out);
    k->c = fd_alloc(seq_out);
    k->gates = fd_alloc(seq_out * 4);
    k->w = fd_alloc(seq_out);
    k->dx = fd_alloc(seq_in);
    k->dkernel = fd_alloc(k->kernel_len);
    k->drecurrent_kernel = fd_alloc(k->recurrent_len);
    k->dbias = fd_alloc(k->bias_len);
    k->scratch = fd_alloc(rnn_ref_rnn_scratch_len(U));
    fd_fill_uniform(k->x, seq_in, 1.0, 1);
    fd_fill_uniform(k->kernel, k->kernel_len, 0.5, 2);
    fd_fill_uniform(k->recurrent_kernel, k->recurrent_len, 0.5, 3);
    fd_fill_uniform(k->bias, k->bias_len, 0.5, 4);
    fd_fill_uniform(k->w, seq_out, 1.0, 5);
    k->mask = NULL;
    if (masked) {
        k->mask = fd_alloc((size_t)B * (size_t)U);
        rnn_ref_dropout_mask(k->mask, 99, RNN_RNG_RECURRENT_DROPOUT, 1, 0, NULL, 0.3, 0, B, 1, U);
    }
}

static void rnn_case_free(rnn_case *k) {
    rnn_real *all[] = {k->x, k->kernel, k->recurrent_kernel, k->bias, k->mask, k->step_mask, k->h, k->c, k->gates,
                       k->w, k->dx, k->dkernel, k->drecurrent_kernel, k->dbias, k->scratch};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

static void check_rnn_case(const char *name, rnn_case *k) {
    rnn_case_forward(k);
    switch (k->kind) {
    case RNN_LAYER_SIMPLE_RNN:
        rnn_ref_simple_rnn_backward(k->dx, k->dkernel, k->drecurrent_kernel, k->dbias, k->scratch, k->w, k->x,
                                    k->h, k->kernel, k->recurrent_kernel, k->mask, k->step_mask, k->act, k->B, k->T, k->F, k->U);
        break;
    case RNN_LAYER_LSTM:
        rnn_ref_lstm_backward(k->dx, k->dkernel, k->drecurrent_kernel, k->dbias, k->scratch, k->w, k->x, k->h,
                              k->c, k->gates, k->kernel, k->recurrent_kernel, k->mask, k->step_mask, k->B, k->T, k->F, k->U);
        break;
    default:
        rnn_ref_gru_backward(k->dx, k->dkernel, k->drecurrent_kernel, k->dbias, k->scratch, k->w, k->x, k->h,
                             k->gates, k->kernel, k->recurrent_kernel, k->mask, k->step_mask, k->reset_after, k->B, k->T, k->F,
                             k->U);
        break;
    }
    struct {
        const char *tensor;
        rnn_real *theta, *analytic;
        size_t n;
    } checks[] = {
        {"kernel", k->kernel, k->dkernel, k->kernel_len},
        {"recurrent_kernel", k->recurrent_kernel, k->drecurrent_kernel, k->recurrent_len},
        {"bias", k->bias, k->dbias, k->bias_len},
        {"input", k->x, k->dx, (size_t)k->B * (size_t)k->T * (size_t)k->F},
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        double err = fd_check(checks[i].theta, checks[i].analytic, checks[i].n, rnn_case_scalar, k);
        char what[96];
        snprintf(what, sizeof what, "%s %s", name, checks[i].tensor);
        fd_report(what, err);
        cr_expect_leq(err, FD_TOLERANCE, "%s: relative error %g", what, err);
    }
}

Test(fd_layers, simple_rnn_every_activation) {
    const rnn_activation acts[] = {RNN_ACT_TANH, RNN_ACT_RELU, RNN_ACT_SIGMOID, RNN_ACT_LINEAR};
    for (int a = 0; a < 4; a++)
        for (int masked = 0; masked <= 1; masked++) {
            rnn_case k = {0};
            k.act = acts[a];
            rnn_case_init(&k, RNN_LAYER_SIMPLE_RNN, 5, 7, 4, 6, masked);
            char name[64];
            snprintf(name, sizeof name, "simple_rnn %s%s", rnn_activation_name(acts[a]), masked ? " masked" : "");
            check_rnn_case(name, &k);
            rnn_case_free(&k);
        }
}

Test(fd_layers, lstm) {
    for (int masked = 0; masked <= 1; masked++) {
        rnn_case k = {0};
        rnn_case_init(&k, RNN_LAYER_LSTM, 5, 7, 3, 5, masked);
        check_rnn_case(masked ? "lstm masked" : "lstm", &k);
        rnn_case_free(&k);
    }
}

Test(fd_layers, gru_both_reset_after) {
    for (int reset_after = 0; reset_after <= 1; reset_after++)
        for (int masked = 0; masked <= 1; masked++) {
            rnn_case k = {0};
            k.reset_after = reset_after;
            rnn_case_init(&k, RNN_LAYER_GRU, 5, 7, 5, 4, masked);
            char name[64];
            snprintf(name, sizeof name, "gru reset_after=%d%s", reset_after, masked ? " masked" : "");
            check_rnn_case(name, &k);
            rnn_case_free(&k);
        }
}

/* The embedding's mask over 5 rows of 7 steps, in the order the steps run: a row of
 * padding only, a row without padding, padding after, before and between tokens. */
static void set_step_mask(rnn_case *k) {
    static const char rows[5][8] = {"0000000", "1111111", "1110000", "0000111", "0110101"};
    cr_assert_eq(k->B, 5);
    cr_assert_eq(k->T, 7);
    k->step_mask = fd_alloc(35);
    for (int b = 0; b < 5; b++)
        for (int t = 0; t < 7; t++) k->step_mask[b * 7 + t] = rows[b][t] == '1';
}

Test(fd_layers, every_kind_with_the_embedding_mask) {
    static const rnn_layer_kind kinds[] = {RNN_LAYER_SIMPLE_RNN, RNN_LAYER_LSTM, RNN_LAYER_GRU, RNN_LAYER_GRU};
    for (int i = 0; i < 4; i++)
        for (int dropped = 0; dropped <= 1; dropped++) {
            rnn_case k = {0};
            k.act = RNN_ACT_TANH;
            k.reset_after = i == 2;
            rnn_case_init(&k, kinds[i], 5, 7, 3, 4, dropped);
            set_step_mask(&k);
            char name[64];
            snprintf(name, sizeof name, "%s%s step mask%s", rnn_layer_dsl_name(kinds[i]), i == 3 ? " reset_after=0" : "",
                     dropped ? ", recurrent dropout" : "");
            check_rnn_case(name, &k);
            /* a masked step carries the state: row 0's states are all 0, row 2's last
             * four are its third step's */
            for (int u = 0; u < k.U; u++) {
                for (int t = 0; t < 7; t++) cr_expect_eq(k.h[(size_t)t * (size_t)k.U + (size_t)u], 0.0, "%s: row 0", name);
                for (int t = 3; t < 7; t++)
                    cr_expect_eq(k.h[((size_t)2 * 7 + (size_t)t) * (size_t)k.U + (size_t)u],
                                 k.h[((size_t)2 * 7 + 2) * (size_t)k.U + (size_t)u], "%s: row 2 step %d", name, t);
            }
            rnn_case_free(&k);
        }
}

/* ---- dense ------------------------------------------------------------------------- */

typedef struct {
    rnn_activation act;
    int B, I, O;
    rnn_real *x, *kernel, *bias, *out, *w, *dx, *dkernel, *dbias, *dpre;
} dense_case;

static double dense_scalar(void *state) {
    dense_case *k = state;
    rnn_ref_dense_forward(k->out, k->x, k->kernel, k->bias, k->act, k->B, k->I, k->O);
    return fd_weighted_sum(k->w, k->out, (size_t)k->B * (size_t)k->O);
}

Test(fd_layers, dense_every_activation) {
    for (int a = 0; a < RNN_ACT_COUNT; a++) {
        dense_case k = {.act = (rnn_activation)a, .B = 5, .I = 7, .O = 4};
        size_t xn = (size_t)k.B * k.I, kn = (size_t)k.I * k.O, on = (size_t)k.B * k.O;
        k.x = fd_alloc(xn), k.kernel = fd_alloc(kn), k.bias = fd_alloc(k.O), k.out = fd_alloc(on);
        k.w = fd_alloc(on), k.dx = fd_alloc(xn), k.dkernel = fd_alloc(kn), k.dbias = fd_alloc(k.O);
        k.dpre = fd_alloc(on);
        fd_fill_uniform(k.x, xn, 1.0, 11);
        fd_fill_uniform(k.kernel, kn, 0.5, 12);
        fd_fill_uniform(k.bias, k.O, 0.5, 13);
        fd_fill_uniform(k.w, on, 1.0, 14);
        dense_scalar(&k);
        rnn_ref_dense_backward(k.dx, k.dkernel, k.dbias, k.dpre, k.w, k.x, k.out, k.kernel, k.act, k.B, k.I, k.O);
        struct {
            const char *tensor;
            rnn_real *theta, *analytic;
            size_t n;
        } checks[] = {{"kernel", k.kernel, k.dkernel, kn}, {"bias", k.bias, k.dbias, (size_t)k.O}, {"input", k.x, k.dx, xn}};
        for (int i = 0; i < 3; i++) {
            char what[64];
            snprintf(what, sizeof what, "dense %s %s", rnn_activation_name(k.act), checks[i].tensor);
            double err = fd_check(checks[i].theta, checks[i].analytic, checks[i].n, dense_scalar, &k);
            fd_report(what, err);
            cr_expect_leq(err, FD_TOLERANCE, "%s: relative error %g", what, err);
        }
        rnn_real *all[] = {k.x, k.kernel, k.bias, k.out, k.w, k.dx, k.dkernel, k.dbias, k.dpre};
        for (int i = 0; i < 9; i++) free(all[i]);
    }
}

/* ---- embedding ---------------------------------------------------------------------- */

typedef struct {
    int B, T, V, E;
    int32_t *tokens;
    rnn_real *table, *out, *w;
} embedding_case;

static double embedding_scalar(void *state) {
    embedding_case *k = state;
    rnn_ref_embedding_forward(k->out, k->tokens, k->table, k->B, k->T, k->V, k->E);
    return fd_weighted_sum(k->w, k->out, (size_t)k->B * k->T * k->E);
}

Test(fd_layers, embedding_with_repeated_ids) {
    /* V = 9 rows for 35 positions: ids repeat, so the scatter must accumulate. */
    embedding_case k = {.B = 5, .T = 7, .V = 9, .E = 3};
    size_t positions = (size_t)k.B * k.T, vn = (size_t)k.V * k.E;
    k.tokens = calloc(positions, sizeof *k.tokens);
    cr_assert_not_null(k.tokens);
    for (size_t p = 0; p < positions; p++) k.tokens[p] = (int32_t)((p * 7 + 3) % 8);   /* row 8 never used */
    k.table = fd_alloc(vn), k.out = fd_alloc(positions * k.E), k.w = fd_alloc(positions * k.E);
    rnn_real *dtable = fd_alloc(vn);
    fd_fill_uniform(k.table, vn, 0.5, 21);
    fd_fill_uniform(k.w, positions * k.E, 1.0, 22);
    rnn_ref_embedding_backward(dtable, k.w, k.tokens, k.B, k.T, k.V, k.E);
    double err = fd_check(k.table, dtable, vn, embedding_scalar, &k);
    fd_report("embedding embeddings", err);
    cr_expect_leq(err, FD_TOLERANCE);
    for (int e = 0; e < k.E; e++) cr_expect_eq(dtable[8 * k.E + e], 0.0, "an unused row gets no gradient");
    free(k.tokens), free(k.table), free(k.out), free(k.w), free(dtable);
}

/* ---- dropout ------------------------------------------------------------------------- */

typedef struct {
    size_t n;
    rnn_real *x, *mask, *out, *w;
} dropout_case;

static double dropout_scalar(void *state) {
    dropout_case *k = state;
    rnn_ref_dropout_forward(k->out, k->x, k->mask, k->n);
    return fd_weighted_sum(k->w, k->out, k->n);
}

Test(fd_layers, dropout) {
    const int B = 5, T = 7, F = 6;
    dropout_case k = {.n = (size_t)B * T * F};
    k.x = fd_alloc(k.n), k.mask = fd_alloc(k.n), k.out = fd_alloc(k.n), k.w = fd_alloc(k.n);
    rnn_real *dx = fd_alloc(k.n);
    fd_fill_uniform(k.x, k.n, 1.0, 31);
    fd_fill_uniform(k.w, k.n, 1.0, 32);
    rnn_ref_dropout_mask(k.mask, 7, RNN_RNG_DROPOUT, 2, 1, NULL, 0.4, 1, B, T, F);
    rnn_ref_dropout_backward(dx, k.w, k.mask, k.n);
    double err = fd_check(k.x, dx, k.n, dropout_scalar, &k);
    fd_report("dropout input", err);
    cr_expect_leq(err, FD_TOLERANCE);
    free(k.x), free(k.mask), free(k.out), free(k.w), free(dx);
}

/* ---- losses ------------------------------------------------------------------------ */

typedef struct {
    int B, C;   /* C = 0: binary cross-entropy */
    rnn_real *logits, *labels;
} loss_case;

static double loss_scalar(void *state) {
    loss_case *k = state;
    return k->C ? rnn_ref_sparse_cce_forward(k->logits, k->labels, k->B, k->C)
                : rnn_ref_bce_forward(k->logits, k->labels, k->B);
}

Test(fd_layers, binary_crossentropy_fractional_labels) {
    loss_case k = {.B = 7, .C = 0};
    k.logits = fd_alloc(7), k.labels = fd_alloc(7);
    rnn_real *dlogits = fd_alloc(7);
    const double z[7] = {-3.0, -0.7, 0.0, 0.2, 1.3, 4.0, -0.05};
    const double y[7] = {0.0, 1.0, 0.25, 0.5, 1.0, 0.9, 0.0};
    for (int b = 0; b < 7; b++) k.logits[b] = z[b], k.labels[b] = y[b];
    rnn_ref_bce_backward(dlogits, k.logits, k.labels, k.B);
    double err = fd_check(k.logits, dlogits, 7, loss_scalar, &k);
    fd_report("binary_crossentropy logits", err);
    cr_expect_leq(err, FD_TOLERANCE);
    free(k.logits), free(k.labels), free(dlogits);
}

Test(fd_layers, sparse_categorical_crossentropy) {
    loss_case k = {.B = 5, .C = 4};
    k.logits = fd_alloc(20), k.labels = fd_alloc(5);
    rnn_real *dlogits = fd_alloc(20);
    fd_fill_uniform(k.logits, 20, 2.0, 41);
    for (int b = 0; b < 5; b++) k.labels[b] = (rnn_real)((b * 3) % 4);
    rnn_ref_sparse_cce_backward(dlogits, k.logits, k.labels, k.B, k.C);
    double err = fd_check(k.logits, dlogits, 20, loss_scalar, &k);
    fd_report("sparse_categorical_crossentropy logits", err);
    cr_expect_leq(err, FD_TOLERANCE);
    free(k.logits), free(k.labels), free(dlogits);
}
