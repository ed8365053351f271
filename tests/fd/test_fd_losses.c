/*
 * test_fd_losses.c — every loss of rnn_ref_loss_sum / rnn_ref_loss_grad, weighted by
 * samples, against central differences in double: multi-label binary cross-entropy (the
 * mean of C sigmoid outputs, fractional labels), categorical cross-entropy on one-hot and
 * on probability rows, sparse categorical cross-entropy; the batch loss is
 * sum_b w_b loss_b / N with N larger than the samples given (a trainer's part of a batch).
 */
#include "fd_support.h"
#include "reference/ref_layers.h"

#include <criterion/criterion.h>

typedef struct {
    rnn_loss_kind loss;
    int B, C, N;
    rnn_real *logits, *labels;
    const float *weights;
} wloss_case;

static double wloss_scalar(void *state) {
    wloss_case *k = state;
    return rnn_ref_loss_sum(k->loss, k->logits, k->labels, k->weights, k->B, k->C, 0) / k->N;
}

static void check_loss(rnn_loss_kind loss, int B, int C, const double *labels, const char *what) {
    static const float w[6] = {0.5f, 2.0f, 1.0f, 0.0f, 1.75f, 0.25f};
    const int L = loss == RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY ? 1 : C;
    wloss_case k = {loss, B, C, B + 3, fd_alloc((size_t)B * C), fd_alloc((size_t)B * L), w};
    rnn_real *grad = fd_alloc((size_t)B * C);
    fd_fill_uniform(k.logits, (size_t)B * C, 2.5, 51);
    for (int i = 0; i < B * L; i++) k.labels[i] = labels[i];
    rnn_ref_loss_grad(loss, grad, k.logits, k.labels, k.weights, B, C, k.N);
    double err = fd_check(k.logits, grad, (size_t)B * C, wloss_scalar, &k);
    fd_report(what, err);
    cr_expect_leq(err, FD_TOLERANCE, "%s", what);
    free(k.logits), free(k.labels), free(grad);
}

Test(fd_losses, multi_label_binary_crossentropy_weighted) {
    const double y[6 * 3] = {1, 0, 1, 0.25, 1, 0, 0, 0, 0, 1, 1, 1, 0.5, 0, 0.75, 0, 1, 0};
    check_loss(RNN_LOSS_BINARY_CROSSENTROPY, 6, 3, y, "binary_crossentropy, 3 outputs, weighted");
}

Test(fd_losses, categorical_crossentropy_weighted) {
    const double onehot[6 * 4] = {1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0};
    check_loss(RNN_LOSS_CATEGORICAL_CROSSENTROPY, 6, 4, onehot, "categorical_crossentropy one-hot, weighted");
    const double probs[6 * 4] = {0.7, 0.1, 0.1, 0.1, 0.25, 0.25, 0.25, 0.25, 0, 0.5, 0.5, 0,
                                 0, 0, 0, 1, 0.2, 0.3, 0.4, 0.1, 1, 0, 0, 0};
    check_loss(RNN_LOSS_CATEGORICAL_CROSSENTROPY, 6, 4, probs, "categorical_crossentropy probabilities, weighted");
}

Test(fd_losses, sparse_categorical_crossentropy_weighted) {
    const double y[6] = {0, 3, 1, 2, 2, 0};
    check_loss(RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 6, 4, y, "sparse_categorical_crossentropy, weighted");
}

/* A sample of weight 0 takes no part: its logits' gradient is exactly 0. */
Test(fd_losses, zero_weight_contributes_nothing) {
    static const float w[2] = {1.0f, 0.0f};
    rnn_real z[4] = {0.3, -1.2, 2.0, 0.7}, y[4] = {1, 0, 0, 1}, g[4];
    rnn_ref_loss_grad(RNN_LOSS_BINARY_CROSSENTROPY, g, z, y, w, 2, 2, 2);
    cr_expect(g[2] == 0 && g[3] == 0);
    cr_expect(g[0] != 0 && g[1] != 0);
    double with = rnn_ref_loss_sum(RNN_LOSS_BINARY_CROSSENTROPY, z, y, w, 2, 2, 0);
    double first = rnn_ref_loss_sum(RNN_LOSS_BINARY_CROSSENTROPY, z, y, NULL, 1, 2, 0);
    cr_expect(fabs(with - first) < 1e-15, "the second sample's weight is 0: %.17g vs %.17g", with, first);
}
