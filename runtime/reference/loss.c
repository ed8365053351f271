/*
 * loss.c — the losses and the accuracy count, all read from the output layer's logits.
 *
 * Keras recovers the logit behind Dense(1, sigmoid) and uses
 * sigmoid_cross_entropy_with_logits (docs/keras-semantics.md, Losses): no clipping, no
 * epsilon, finite for any logit. The batch loss is the mean over the samples actually
 * present.
 */
#include "ref_layers.h"

#include <math.h>

double rnn_ref_bce_sum(const rnn_real *logits, const rnn_real *labels, int B, double sum) {
    for (int b = 0; b < B; b++) {
        double z = (double)logits[b], y = (double)labels[b];
        sum += fmax(z, 0.0) - z * y + log1p(exp(-fabs(z)));
    }
    return sum;
}

double rnn_ref_bce_forward(const rnn_real *logits, const rnn_real *labels, int B) {
    return rnn_ref_bce_sum(logits, labels, B, 0) / B;
}

void rnn_ref_bce_grad(rnn_real *dlogits, const rnn_real *logits, const rnn_real *labels, int B, int N) {
    for (int b = 0; b < B; b++)
        dlogits[b] = (rnn_ref_sigmoid(logits[b]) - labels[b]) / (rnn_real)N;
}

void rnn_ref_bce_backward(rnn_real *dlogits, const rnn_real *logits, const rnn_real *labels, int B) {
    rnn_ref_bce_grad(dlogits, logits, labels, B, B);
}

/* The label as a class index, or -1 when it is not one of 0..C-1. */
static int class_of(rnn_real label, int C) {
    if (!(label >= 0 && label < (rnn_real)C)) return -1;   /* also rejects NaN */
    return (int)label;
}

/* log Σ_c exp(z_c), shifted by the maximum so no exponent is positive. */
static double log_sum_exp(const rnn_real *z, int C) {
    double max = (double)z[0];
    for (int c = 1; c < C; c++)
        if ((double)z[c] > max) max = (double)z[c];
    double sum = 0;
    for (int c = 0; c < C; c++) sum += exp((double)z[c] - max);
    return max + log(sum);
}

double rnn_ref_sparse_cce_sum(const rnn_real *logits, const rnn_real *labels, int B, int C, double sum) {
    for (int b = 0; b < B; b++) {
        const rnn_real *z = logits + (size_t)b * (size_t)C;
        int y = class_of(labels[b], C);
        if (y < 0) return NAN;
        sum += log_sum_exp(z, C) - (double)z[y];
    }
    return sum;
}

double rnn_ref_sparse_cce_forward(const rnn_real *logits, const rnn_real *labels, int B, int C) {
    return rnn_ref_sparse_cce_sum(logits, labels, B, C, 0) / B;
}

void rnn_ref_sparse_cce_backward(rnn_real *dlogits, const rnn_real *logits, const rnn_real *labels, int B, int C) {
    rnn_ref_sparse_cce_grad(dlogits, logits, labels, B, C, B);
}

void rnn_ref_sparse_cce_grad(rnn_real *dlogits, const rnn_real *logits, const rnn_real *labels, int B, int C, int N) {
    for (int b = 0; b < B; b++) {
        const rnn_real *z = logits + (size_t)b * (size_t)C;
        rnn_real *dz = dlogits + (size_t)b * (size_t)C;
        int y = class_of(labels[b], C);
        if (y < 0) {
            for (int c = 0; c < C; c++) dz[c] = 0;
            continue;
        }
        double lse = log_sum_exp(z, C);
        for (int c = 0; c < C; c++) {
            double p = exp((double)z[c] - lse);
            dz[c] = (rnn_real)((p - (c == y ? 1.0 : 0.0)) / N);
        }
    }
}

int rnn_ref_binary_correct(const rnn_real *probs, const rnn_real *labels, int B) {
    int correct = 0;
    for (int b = 0; b < B; b++)
        correct += (probs[b] > (rnn_real)0.5) == (labels[b] > (rnn_real)0.5);
    return correct;
}

int rnn_ref_sparse_correct(const rnn_real *probs, const rnn_real *labels, int B, int C) {
    int correct = 0;
    for (int b = 0; b < B; b++) {
        const rnn_real *p = probs + (size_t)b * (size_t)C;
        int best = 0;
        for (int c = 1; c < C; c++)
            if (p[c] > p[best]) best = c;   /* strict: the first maximum wins, as numpy */
        correct += best == class_of(labels[b], C);
    }
    return correct;
}
