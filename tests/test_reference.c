/*
 * test_reference.c — properties of the reference runtime that do not trust its code.
 *
 * The finite-difference suite (tests/fd) proves that backward is the derivative of
 * forward; this file checks that forward computes the right thing: hand-computed tiny
 * models from the formulas of docs/keras-semantics.md, dropout masks recomputed from the
 * rule in dropout.c, batch-position independence, and the losses against their naive
 * formulas. Built in float, like the shipped library.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reference/ref_layers.h"
#include "rnnrt.h"
#include "models.h"

/* ---- model building ---------------------------------------------------------------- */

static rnn_real *tensor(const rnn_model *m, rnn_real *params, const char *name) {
    int k = rnn_model_find_tensor(m, name);
    cr_assert_geq(k, 0, "no tensor %s", name);
    return params + m->tensors[k].offset;
}

/* Every tensor U(-0.5, 0.5) from the RNN_RNG_TEST stream. */
static rnn_real *random_params(const rnn_model *m, uint32_t stream) {
    rnn_real *p = calloc(m->param_buffer_len, sizeof *p);
    cr_assert_not_null(p);
    const rnn_rng s = rnn_rng_stream(777, RNN_RNG_TEST, stream, 0);
    for (int k = 0; k < m->n_tensors; k++)
        for (size_t i = 0; i < m->tensors[k].size; i++)
            p[m->tensors[k].offset + i] = rnn_rng_uniform(&s, (uint32_t)(m->tensors[k].offset + i), 0, 0) - 0.5f;
    return p;
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* A model with every kind of dropout on: LSTM per step + recurrent, GRU per sequence
 * + recurrent, a Dropout layer on a sequence and one on a vector. */
static void build_dropout_model(rnn_model *m) {
    rnn_model_init(m, "dropout_model", "test_reference.c");
    add_embedding(m, 50, 6, 9);
    rnn_layer *l = add_layer(m, RNN_LAYER_LSTM, 5);
    l->return_sequences = 1, l->dropout = 0.3, l->recurrent_dropout = 0.2;
    add_layer(m, RNN_LAYER_DROPOUT, 0)->dropout = 0.25;
    l = add_layer(m, RNN_LAYER_GRU, 4);
    l->dropout = 0.3, l->recurrent_dropout = 0.4, l->dropout_mask = RNN_DROPOUT_PER_SEQUENCE;
    add_layer(m, RNN_LAYER_DROPOUT, 0)->dropout = 0.5;
    add_layer(m, RNN_LAYER_DENSE, 1)->activation = RNN_ACT_SIGMOID;
    layout(m);
}

/* ---- inference versus training ---------------------------------------------------- */

Test(reference, inference_equals_training_when_every_rate_is_zero) {
    rnn_model m;
    build_dropout_model(&m);
    for (int i = 0; i < m.n_layers; i++) m.layers[i].dropout = m.layers[i].recurrent_dropout = 0;
    layout(&m);
    rnn_real *params = random_params(&m, 1);
    rnn_ref *r = rnn_ref_create(&m, 4);
    cr_assert_not_null(r);
    int32_t tokens[4 * 9];
    for (int i = 0; i < 36; i++) tokens[i] = (i * 7) % 50;
    const rnn_real labels[4] = {0, 1, 1, 0};
    rnn_real out_inference[4], out_training[4];
    const rnn_dropout_ctx training = {.training = 1, .seed = 5, .epoch = 2, .rows = NULL};
    double loss_inference = rnn_ref_forward(r, params, tokens, labels, 4, NULL, out_inference);
    double loss_training = rnn_ref_forward(r, params, tokens, labels, 4, &training, out_training);
    cr_expect_eq(loss_inference, loss_training);
    cr_expect_eq(memcmp(out_inference, out_training, sizeof out_training), 0);
    rnn_ref_destroy(r);
    free(params);
}

Test(reference, dropout_changes_training_but_not_inference) {
    rnn_model m;
    build_dropout_model(&m);
    rnn_real *params = random_params(&m, 2);
    rnn_ref *r = rnn_ref_create(&m, 4);
    cr_assert_not_null(r);
    int32_t tokens[4 * 9];
    for (int i = 0; i < 36; i++) tokens[i] = (i * 11) % 50;
    rnn_real plain[4], off[4], on[4];
    rnn_ref_forward(r, params, tokens, NULL, 4, NULL, plain);
    const rnn_dropout_ctx inference = {.training = 0, .seed = 5};
    const rnn_dropout_ctx training = {.training = 1, .seed = 5};
    rnn_ref_forward(r, params, tokens, NULL, 4, &inference, off);
    rnn_ref_forward(r, params, tokens, NULL, 4, &training, on);
    cr_expect_eq(memcmp(plain, off, sizeof off), 0, "training = 0 is inference");
    cr_expect_neq(memcmp(plain, on, sizeof on), 0, "training = 1 applies masks");
    rnn_ref_destroy(r);
    free(params);
}

/* ---- batch-position independence ------------------------------------------------- */

Test(reference, a_row_does_not_depend_on_its_batch_position_or_neighbours) {
    enum { B = 6, T = 9 };
    rnn_model m;
    build_dropout_model(&m);
    rnn_real *params = random_params(&m, 3);
    rnn_ref *r = rnn_ref_create(&m, B);
    cr_assert_not_null(r);
    const uint32_t rows[B] = {40, 3, 19, 7, 1234, 8};
    int32_t tokens[B * T];
    for (int i = 0; i < B * T; i++) tokens[i] = (i * 13 + 5) % 50;
    rnn_real out[B];
    const rnn_dropout_ctx ctx = {.training = 1, .seed = 99, .epoch = 4, .rows = rows};
    rnn_ref_forward(r, params, tokens, NULL, B, &ctx, out);

    /* The same rows in another order give the same outputs, bit for bit. */
    const int perm[B] = {4, 0, 5, 2, 1, 3};
    uint32_t rows_p[B];
    int32_t tokens_p[B * T];
    for (int b = 0; b < B; b++) {
        rows_p[b] = rows[perm[b]];
        memcpy(tokens_p + b * T, tokens + perm[b] * T, T * sizeof *tokens);
    }
    rnn_real out_p[B];
    const rnn_dropout_ctx ctx_p = {.training = 1, .seed = 99, .epoch = 4, .rows = rows_p};
    rnn_ref_forward(r, params, tokens_p, NULL, B, &ctx_p, out_p);
    for (int b = 0; b < B; b++) cr_expect_eq(out_p[b], out[perm[b]], "row %u moved to %d", rows[perm[b]], b);

    /* Alone in a batch of one, a row gives the same output too. */
    for (int b = 0; b < B; b++) {
        rnn_real alone;
        const rnn_dropout_ctx ctx_1 = {.training = 1, .seed = 99, .epoch = 4, .rows = &rows[b]};
        rnn_ref_forward(r, params, tokens + b * T, NULL, 1, &ctx_1, &alone);
        cr_expect_eq(alone, out[b], "row %u alone", rows[b]);
    }
    /* A different row id (same tokens) draws another mask, so the output changes. */
    const uint32_t other_row = 41;
    const rnn_dropout_ctx ctx_o = {.training = 1, .seed = 99, .epoch = 4, .rows = &other_row};
    rnn_real other;
    rnn_ref_forward(r, params, tokens, NULL, 1, &ctx_o, &other);
    cr_expect_neq(other, out[0]);
    rnn_ref_destroy(r);
    free(params);
}

Test(reference, mask_rows_follow_dataset_rows_not_positions) {
    enum { B = 5, T = 4, F = 7 };
    const uint32_t rows[B] = {9, 100, 2, 55, 31}, rows_rev[B] = {31, 55, 2, 100, 9};
    rnn_real mask[B * T * F], mask_rev[B * T * F];
    rnn_ref_dropout_mask(mask, 3, RNN_RNG_DROPOUT, 2, 1, rows, 0.5, 1, B, T, F);
    rnn_ref_dropout_mask(mask_rev, 3, RNN_RNG_DROPOUT, 2, 1, rows_rev, 0.5, 1, B, T, F);
    for (int b = 0; b < B; b++)
        cr_expect_eq(memcmp(mask + b * T * F, mask_rev + (B - 1 - b) * T * F, T * F * sizeof(rnn_real)), 0,
                     "row %u", rows[b]);
}

/* ---- masks ----------------------------------------------------------------------- */

Test(reference, masks_follow_the_documented_rule) {
    enum { B = 3, T = 5, F = 6 };
    const uint32_t rows[B] = {8, 0, 77};
    const double rate = 0.35;
    const rnn_real kept = (rnn_real)(1.0 / (1.0 - rate));
    rnn_real step_mask[B * T * F], seq_mask[B * T * F], rec_mask[B * F];
    rnn_ref_dropout_mask(step_mask, 42, RNN_RNG_DROPOUT, 3, 6, rows, rate, 1, B, T, F);
    rnn_ref_dropout_mask(seq_mask, 42, RNN_RNG_DROPOUT, 3, 6, rows, rate, 0, B, T, F);
    rnn_ref_dropout_mask(rec_mask, 42, RNN_RNG_RECURRENT_DROPOUT, 3, 6, rows, rate, 0, B, 1, F);
    const rnn_rng drop = rnn_rng_stream(42, RNN_RNG_DROPOUT, 3, 6);
    const rnn_rng rec = rnn_rng_stream(42, RNN_RNG_RECURRENT_DROPOUT, 3, 6);
    int differs_over_time = 0;
    for (int b = 0; b < B; b++)
        for (int f = 0; f < F; f++) {
            float u_rec = rnn_rng_uniform(&rec, (uint32_t)f, 0, rows[b]);
            cr_expect_eq(rec_mask[b * F + f], u_rec >= rate ? kept : 0);
            for (int t = 0; t < T; t++) {
                float u_step = rnn_rng_uniform(&drop, (uint32_t)f, (uint32_t)t, rows[b]);
                float u_seq = rnn_rng_uniform(&drop, (uint32_t)f, 0, rows[b]);
                int i = (b * T + t) * F + f;
                cr_expect_eq(step_mask[i], u_step >= rate ? kept : 0, "per step (%d,%d,%d)", b, t, f);
                cr_expect_eq(seq_mask[i], u_seq >= rate ? kept : 0, "per sequence (%d,%d,%d)", b, t, f);
                cr_expect_eq(seq_mask[i], seq_mask[b * T * F + f], "per sequence is constant in t");
                differs_over_time |= step_mask[i] != step_mask[b * T * F + f];
            }
        }
    cr_expect(differs_over_time, "per-step masks vary over time");
}

Test(reference, masks_keep_about_one_minus_rate_and_scale_kept_elements) {
    enum { B = 64, T = 50, F = 32 };
    static rnn_real mask[B * T * F];
    const double rates[] = {0.1, 0.3, 0.5, 0.9};
    for (int k = 0; k < 4; k++) {
        rnn_ref_dropout_mask(mask, 1, RNN_RNG_DROPOUT, 1, 0, NULL, rates[k], 1, B, T, F);
        const rnn_real kept_value = (rnn_real)(1.0 / (1.0 - rates[k]));
        size_t kept = 0, n = (size_t)B * T * F;
        double sum = 0;
        for (size_t i = 0; i < n; i++) {
            cr_assert(mask[i] == 0 || mask[i] == kept_value, "mask value %g", (double)mask[i]);
            kept += mask[i] != 0;
            sum += mask[i];
        }
        double fraction = (double)kept / (double)n;
        double sd = sqrt(rates[k] * (1 - rates[k]) / (double)n);
        cr_expect(fabs(fraction - (1 - rates[k])) < 6 * sd, "rate %g: kept %g", rates[k], fraction);
        /* Inverted dropout keeps the expectation: the mean mask value is about 1. */
        cr_expect(fabs(sum / (double)n - 1) < 6 * sd / (1 - rates[k]), "rate %g: mean %g", rates[k], sum / (double)n);
    }
    rnn_ref_dropout_mask(mask, 1, RNN_RNG_DROPOUT, 1, 0, NULL, 0.0, 1, B, T, F);
    for (size_t i = 0; i < (size_t)B * T * F; i++) cr_assert_eq(mask[i], 1, "rate 0 keeps everything");
}

/* ---- losses and accuracy ----------------------------------------------------------- */

Test(reference, bce_from_logit_equals_the_naive_formula) {
    const double ys[] = {0.0, 0.3, 0.5, 1.0};
    for (double z = -8; z <= 8; z += 0.25)
        for (int k = 0; k < 4; k++) {
            rnn_real zr = (rnn_real)z, yr = (rnn_real)ys[k];
            double y = (double)yr;   /* the label as the runtime sees it (0.3 is not a float) */
            double p = sigmoid(z);
            double naive = -(y * log(p) + (1 - y) * log(1 - p));
            double got = rnn_ref_bce_forward(&zr, &yr, 1);
            cr_expect(fabs(got - naive) <= 1e-12 * fmax(1, naive), "z %g y %g: %.17g vs %.17g", z, y, got, naive);
        }
}

Test(reference, bce_is_finite_for_huge_logits) {
    const rnn_real z[4] = {100, -100, 100, -100}, y[4] = {0, 1, 1, 0};
    const double want[4] = {100, 100, 0, 0};
    for (int b = 0; b < 4; b++) {
        double loss = rnn_ref_bce_forward(&z[b], &y[b], 1);
        cr_expect(isfinite(loss) && fabs(loss - want[b]) < 1e-9, "z %g y %g: %g", (double)z[b], (double)y[b], loss);
    }
    rnn_real grad[4];
    rnn_ref_bce_backward(grad, z, y, 4);
    const double want_grad[4] = {0.25, -0.25, 0, 0};   /* (σ(z) - y) / 4 */
    for (int b = 0; b < 4; b++) cr_expect(fabs(grad[b] - want_grad[b]) < 1e-7, "grad %d: %g", b, (double)grad[b]);
    /* The batch loss is the mean over the samples given. */
    cr_expect(fabs(rnn_ref_bce_forward(z, y, 4) - 50) < 1e-9);
}

Test(reference, sparse_cce_equals_minus_log_softmax) {
    const rnn_real logits[2 * 3] = {0.5f, -1.25f, 2.0f, 1000, 0, -1000};
    const rnn_real labels[2] = {1, 2};
    double e0 = exp(0.5), e1 = exp(-1.25), e2 = exp(2.0);
    double first = -log(e1 / (e0 + e1 + e2));
    cr_expect(fabs(rnn_ref_sparse_cce_forward(logits, labels, 1, 3) - first) < 1e-9);
    double second = rnn_ref_sparse_cce_forward(logits + 3, labels + 1, 1, 3);
    cr_expect(isfinite(second) && fabs(second - 2000) < 1e-6, "huge logits: %g", second);
    cr_expect(fabs(rnn_ref_sparse_cce_forward(logits, labels, 2, 3) - (first + 2000) / 2) < 1e-6);
    const rnn_real bad_label = 3;
    cr_expect(isnan(rnn_ref_sparse_cce_forward(logits, &bad_label, 1, 3)), "a label outside [0, C) is an error");
}

Test(reference, accuracy_counts) {
    const rnn_real probs[5] = {0.5f, 0.51f, 0.49f, 0.9f, 0.2f}, labels[5] = {0, 1, 0, 0.4f, 0.6f};
    /* 0.5 predicts 0 (strict >), 0.4 and 0.6 are labels 0 and 1: correct are 0, 1, 2. */
    cr_expect_eq(rnn_ref_binary_correct(probs, labels, 5), 3);
    const rnn_real sm[3 * 3] = {0.2f, 0.5f, 0.3f, 0.4f, 0.4f, 0.2f, 0.1f, 0.1f, 0.8f};
    const rnn_real classes[3] = {1, 1, 2};   /* row 1 ties: the first maximum (0) wins */
    cr_expect_eq(rnn_ref_sparse_correct(sm, classes, 3, 3), 2);
}

/* ---- hand-computed tiny models ----------------------------------------------------- */

/* Embedding(3, 1, T=2) → RNN(1) → Dense(1, sigmoid), tokens [2, 1], label 1. */
typedef struct {
    rnn_model m;
    rnn_real *params;
    double x[2];        /* the embedded inputs */
} tiny_model;

static void tiny_build(tiny_model *t, rnn_layer_kind kind) {
    rnn_model_init(&t->m, "tiny", "test_reference.c");
    add_embedding(&t->m, 3, 1, 2);
    add_layer(&t->m, kind, 1);
    add_layer(&t->m, RNN_LAYER_DENSE, 1)->activation = RNN_ACT_SIGMOID;
}

static void tiny_layout(tiny_model *t, const char *rnn_name, const double *kernel, const double *recurrent,
                        const double *bias, int bias_len) {
    layout(&t->m);
    t->params = calloc(t->m.param_buffer_len, sizeof *t->params);
    cr_assert_not_null(t->params);
    rnn_real *emb = tensor(&t->m, t->params, "embedding/embeddings");
    emb[0] = 0.5f, emb[1] = -0.25f, emb[2] = 0.75f;
    t->x[0] = 0.75, t->x[1] = -0.25;   /* tokens 2, 1 */
    int G = t->m.layers[1].gates;
    char name[64];
    snprintf(name, sizeof name, "%s/kernel", rnn_name);
    for (int g = 0; g < G; g++) tensor(&t->m, t->params, name)[g] = (rnn_real)kernel[g];
    snprintf(name, sizeof name, "%s/recurrent_kernel", rnn_name);
    for (int g = 0; g < G; g++) tensor(&t->m, t->params, name)[g] = (rnn_real)recurrent[g];
    snprintf(name, sizeof name, "%s/bias", rnn_name);
    for (int g = 0; g < bias_len; g++) tensor(&t->m, t->params, name)[g] = (rnn_real)bias[g];
    tensor(&t->m, t->params, "dense/kernel")[0] = 1.5f;
    tensor(&t->m, t->params, "dense/bias")[0] = -0.125f;
}

/* Runs the tiny model and compares p, the loss and the dense gradients with h_T. */
static void tiny_check(tiny_model *t, double h_last, const rnn_dropout_ctx *ctx) {
    rnn_ref *r = rnn_ref_create(&t->m, 1);
    cr_assert_not_null(r);
    const int32_t tokens[2] = {2, 1};
    const rnn_real label = 1;
    rnn_real p;
    double loss = rnn_ref_forward(r, t->params, tokens, &label, 1, ctx, &p);
    double z = 1.5 * h_last - 0.125, want_p = sigmoid(z);
    cr_expect(fabs(p - want_p) < 1e-6, "p %.9g, by hand %.9g", (double)p, want_p);
    cr_expect(fabs(loss - log1p(exp(-z))) < 1e-6, "loss %.9g, by hand %.9g", loss, log1p(exp(-z)));
    rnn_real *grads = calloc(t->m.param_buffer_len, sizeof *grads);
    cr_assert_not_null(grads);
    rnn_ref_backward(r, t->params, grads);
    cr_expect(fabs(tensor(&t->m, grads, "dense/bias")[0] - (want_p - 1)) < 1e-6);
    cr_expect(fabs(tensor(&t->m, grads, "dense/kernel")[0] - (want_p - 1) * h_last) < 1e-6);
    cr_expect_eq(rnn_ref_correct(r), want_p > 0.5);
    free(grads);
    rnn_ref_destroy(r);
    free(t->params);
}

Test(reference, lstm_by_hand) {
    const double K[4] = {0.4, -0.3, 0.9, 0.2}, R[4] = {0.1, 0.5, -0.6, 0.3}, b[4] = {0.05, 1.0, -0.1, 0.2};
    tiny_model t;
    tiny_build(&t, RNN_LAYER_LSTM);
    tiny_layout(&t, "lstm", K, R, b, 4);
    double h = 0, c = 0;
    for (int s = 0; s < 2; s++) {
        double i = sigmoid(t.x[s] * K[0] + h * R[0] + b[0]);
        double f = sigmoid(t.x[s] * K[1] + h * R[1] + b[1]);
        double g = tanh(t.x[s] * K[2] + h * R[2] + b[2]);
        double o = sigmoid(t.x[s] * K[3] + h * R[3] + b[3]);
        c = f * c + i * g;
        h = o * tanh(c);
    }
    tiny_check(&t, h, NULL);
}

Test(reference, lstm_by_hand_with_dropout_masks) {
    const double K[4] = {0.4, -0.3, 0.9, 0.2}, R[4] = {0.1, 0.5, -0.6, 0.3}, b[4] = {0.05, 1.0, -0.1, 0.2};
    const double rate = 0.5, rec_rate = 0.5;
    /* Find a row whose masks are not all ones, so the test sees the masks act. */
    const uint64_t seed = 11;
    const uint32_t epoch = 2;
    const rnn_rng drop = rnn_rng_stream(seed, RNN_RNG_DROPOUT, 1, epoch);
    const rnn_rng rec = rnn_rng_stream(seed, RNN_RNG_RECURRENT_DROPOUT, 1, epoch);
    uint32_t row = 0;
    double mx[2], mh;
    for (;; row++) {
        mx[0] = rnn_rng_uniform(&drop, 0, 0, row) >= rate ? 2 : 0;
        mx[1] = rnn_rng_uniform(&drop, 0, 1, row) >= rate ? 2 : 0;
        mh = rnn_rng_uniform(&rec, 0, 0, row) >= rec_rate ? 2 : 0;
        if (mx[0] == 2 && mx[1] == 2 && mh == 2) break;   /* all kept and scaled by 2 */
        cr_assert_lt(row, 1000);
    }
    for (int per_step = 0; per_step <= 1; per_step++) {
        tiny_model t;
        tiny_build(&t, RNN_LAYER_LSTM);
        t.m.layers[1].dropout = rate;
        t.m.layers[1].recurrent_dropout = rec_rate;
        t.m.layers[1].dropout_mask = per_step ? RNN_DROPOUT_PER_STEP : RNN_DROPOUT_PER_SEQUENCE;
        tiny_layout(&t, "lstm", K, R, b, 4);
        double h = 0, c = 0;
        for (int s = 0; s < 2; s++) {
            double x = t.x[s] * mx[per_step ? s : 0], hm = h * mh;   /* c and the carried h unmasked */
            double i = sigmoid(x * K[0] + hm * R[0] + b[0]);
            double f = sigmoid(x * K[1] + hm * R[1] + b[1]);
            double g = tanh(x * K[2] + hm * R[2] + b[2]);
            double o = sigmoid(x * K[3] + hm * R[3] + b[3]);
            c = f * c + i * g;
            h = o * tanh(c);
        }
        const rnn_dropout_ctx ctx = {.training = 1, .seed = seed, .epoch = epoch, .rows = &row};
        tiny_check(&t, h, &ctx);
    }
}

Test(reference, gru_by_hand_both_reset_after) {
    const double K[3] = {0.7, -0.4, 0.6}, R[3] = {0.3, 0.8, -0.5};
    const double b_after[6] = {0.1, -0.2, 0.05, 0.15, 0.3, -0.25};   /* rows: input, recurrent */
    const double b_before[3] = {0.1, -0.2, 0.05};
    for (int reset_after = 0; reset_after <= 1; reset_after++) {
        tiny_model t;
        tiny_build(&t, RNN_LAYER_GRU);
        t.m.layers[1].reset_after = reset_after;
        tiny_layout(&t, "gru", K, R, reset_after ? b_after : b_before, reset_after ? 6 : 3);
        double h = 0;
        for (int s = 0; s < 2; s++) {
            double x = t.x[s], z, r, n;
            if (reset_after) {
                z = sigmoid(x * K[0] + b_after[0] + h * R[0] + b_after[3]);
                r = sigmoid(x * K[1] + b_after[1] + h * R[1] + b_after[4]);
                n = tanh(x * K[2] + b_after[2] + r * (h * R[2] + b_after[5]));
            } else {
                z = sigmoid(x * K[0] + b_before[0] + h * R[0]);
                r = sigmoid(x * K[1] + b_before[1] + h * R[1]);
                n = tanh(x * K[2] + b_before[2] + (r * h) * R[2]);
            }
            h = z * h + (1 - z) * n;
        }
        tiny_check(&t, h, NULL);
    }
}

Test(reference, simple_rnn_by_hand_every_activation) {
    const double K[1] = {0.9}, R[1] = {-0.7}, b[1] = {0.2};
    const rnn_activation acts[4] = {RNN_ACT_TANH, RNN_ACT_RELU, RNN_ACT_SIGMOID, RNN_ACT_LINEAR};
    for (int a = 0; a < 4; a++) {
        tiny_model t;
        tiny_build(&t, RNN_LAYER_SIMPLE_RNN);
        t.m.layers[1].activation = acts[a];
        tiny_layout(&t, "simple_rnn", K, R, b, 1);
        double h = 0;
        for (int s = 0; s < 2; s++) {
            double pre = t.x[s] * K[0] + b[0] + h * R[0];
            h = acts[a] == RNN_ACT_TANH ? tanh(pre) : acts[a] == RNN_ACT_RELU ? fmax(pre, 0)
                : acts[a] == RNN_ACT_SIGMOID ? sigmoid(pre) : pre;
        }
        tiny_check(&t, h, NULL);
    }
}

Test(reference, dense_hidden_and_softmax_head_by_hand) {
    /* Embedding(2, 2, T=1) → SimpleRNN(2, linear, identity weights) → Dense(3, relu) →
     * Dense(3, softmax): the RNN passes the embedding through, so everything after it
     * is a plain two-layer perceptron computed here. */
    rnn_model m;
    rnn_model_init(&m, "softmax", "test_reference.c");
    m.loss = RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    add_embedding(&m, 2, 2, 1);
    add_layer(&m, RNN_LAYER_SIMPLE_RNN, 2)->activation = RNN_ACT_LINEAR;
    add_layer(&m, RNN_LAYER_DENSE, 3)->activation = RNN_ACT_RELU;
    add_layer(&m, RNN_LAYER_DENSE, 3)->activation = RNN_ACT_SOFTMAX;
    layout(&m);
    rnn_real *params = calloc(m.param_buffer_len, sizeof *params);
    cr_assert_not_null(params);
    const double x[2] = {0.6, -0.4};
    tensor(&m, params, "embedding/embeddings")[2] = (rnn_real)x[0];
    tensor(&m, params, "embedding/embeddings")[3] = (rnn_real)x[1];
    tensor(&m, params, "simple_rnn/kernel")[0] = 1;
    tensor(&m, params, "simple_rnn/kernel")[3] = 1;
    const double W1[2][3] = {{0.5, -1.0, 0.25}, {0.75, 0.5, -0.5}}, b1[3] = {0.1, 0.0, -0.3};
    const double W2[3][3] = {{1.0, -0.5, 0.2}, {0.3, 0.8, -1.1}, {-0.7, 0.4, 0.9}}, b2[3] = {0.05, -0.05, 0.0};
    for (int i = 0; i < 2; i++)
        for (int o = 0; o < 3; o++) tensor(&m, params, "dense/kernel")[i * 3 + o] = (rnn_real)W1[i][o];
    for (int i = 0; i < 3; i++)
        for (int o = 0; o < 3; o++) tensor(&m, params, "dense_1/kernel")[i * 3 + o] = (rnn_real)W2[i][o];
    for (int o = 0; o < 3; o++) {
        tensor(&m, params, "dense/bias")[o] = (rnn_real)b1[o];
        tensor(&m, params, "dense_1/bias")[o] = (rnn_real)b2[o];
    }
    double hidden[3], logit[3], sum = 0;
    for (int o = 0; o < 3; o++) hidden[o] = fmax(0, x[0] * W1[0][o] + x[1] * W1[1][o] + b1[o]);
    for (int o = 0; o < 3; o++) {
        logit[o] = b2[o];
        for (int i = 0; i < 3; i++) logit[o] += hidden[i] * W2[i][o];
        sum += exp(logit[o]);
    }
    rnn_ref *r = rnn_ref_create(&m, 2);
    cr_assert_not_null(r);
    const int32_t token = 1;
    const rnn_real label = 2;
    rnn_real probs[3];
    double loss = rnn_ref_forward(r, params, &token, &label, 1, NULL, probs);
    double total = 0;
    for (int o = 0; o < 3; o++) {
        cr_expect(fabs(probs[o] - exp(logit[o]) / sum) < 1e-6, "p[%d] %g vs %g", o, (double)probs[o], exp(logit[o]) / sum);
        total += probs[o];
    }
    cr_expect(fabs(total - 1) < 1e-6);
    cr_expect(fabs(loss - (log(sum) - logit[2])) < 1e-6, "loss %g vs %g", loss, log(sum) - logit[2]);
    int argmax = 0;
    for (int o = 1; o < 3; o++)
        if (logit[o] > logit[argmax]) argmax = o;
    cr_expect_eq(rnn_ref_correct(r), argmax == 2);
    rnn_ref_destroy(r);
    free(params);
}

/* ---- misuse ------------------------------------------------------------------------ */

Test(reference, bad_sizes_and_ids_are_reported_not_read) {
    rnn_model m;
    build_dropout_model(&m);
    cr_expect_null(rnn_ref_create(&m, 0));
    rnn_real *params = random_params(&m, 4);
    rnn_ref *r = rnn_ref_create(&m, 2);
    cr_assert_not_null(r);
    int32_t tokens[3 * 9] = {0};
    const rnn_real labels[3] = {1, 0, 1};
    cr_expect(isnan(rnn_ref_forward(r, params, tokens, labels, 0, NULL, NULL)));
    cr_expect(isnan(rnn_ref_forward(r, params, tokens, labels, 3, NULL, NULL)));
    cr_expect(isfinite(rnn_ref_forward(r, params, tokens, labels, 2, NULL, NULL)));
    tokens[5] = 50;   /* vocab is 50 */
    cr_expect(isnan(rnn_ref_forward(r, params, tokens, labels, 2, NULL, NULL)));
    tokens[5] = -1;
    cr_expect(isnan(rnn_ref_forward(r, params, tokens, labels, 2, NULL, NULL)));
    /* Without labels the loss is 0, and a backward afterwards gives zero gradients. */
    tokens[5] = 3;
    cr_expect_eq(rnn_ref_forward(r, params, tokens, NULL, 2, NULL, NULL), 0.0);
    rnn_real *grads = malloc(m.param_buffer_len * sizeof *grads);
    cr_assert_not_null(grads);
    for (size_t i = 0; i < m.param_buffer_len; i++) grads[i] = 1;
    rnn_ref_backward(r, params, grads);
    for (size_t i = 0; i < m.param_buffer_len; i++) cr_assert_eq(grads[i], 0, "grad %zu", i);
    free(grads);
    rnn_ref_destroy(r);
    free(params);
}
