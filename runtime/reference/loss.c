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

/* ---- every loss, weighted, for any output (the model's, through rnn_ref_loss_*) ----------------
 * Per sample b with weight w_b (1 without weights), logits z [C] and labels y [L]:
 *   binary, C sigmoid outputs:  (1/C) sum_k bce(z_k, y_k)        (Keras: the mean over the last axis)
 *   sparse categorical:          logsumexp(z) - z_y
 *   categorical:                 sum_k y_k (logsumexp(z) - z_k)
 * The batch loss is sum_b w_b loss_b / N (SUM_OVER_BATCH_SIZE); its gradient is taken
 * with respect to z, for the categorical loss p sum(y) - y, which is p - y (TensorFlow's)
 * for the label rows the data readers accept (summing to 1). */

static double weight_of(const float *w, int b) { return w ? (double)w[b] : 1.0; }

/* One sample's loss; NaN for a class index outside [0, C). */
static double sample_loss(rnn_loss_kind loss, const rnn_real *z, const rnn_real *y, int C) {
    if (loss == RNN_LOSS_BINARY_CROSSENTROPY) {
        if (C == 1) return rnn_ref_bce_sum(z, y, 1, 0);
        return rnn_ref_bce_sum(z, y, C, 0) / C;
    }
    if (loss == RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY) return rnn_ref_sparse_cce_sum(z, y, 1, C, 0);
    const double lse = log_sum_exp(z, C);
    double l = 0;
    for (int k = 0; k < C; k++) l += (double)y[k] * (lse - (double)z[k]);
    return l;
}

double rnn_ref_loss_sum(rnn_loss_kind loss, const rnn_real *logits, const rnn_real *labels, const float *weights, int B,
                        int C, double sum) {
    const int L = loss == RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY ? 1 : C;
    for (int b = 0; b < B; b++) {
        const double l = sample_loss(loss, logits + (size_t)b * (size_t)C, labels + (size_t)b * (size_t)L, C);
        if (isnan(l)) return NAN;
        sum += weights ? weight_of(weights, b) * l : l;
    }
    return sum;
}

void rnn_ref_loss_grad(rnn_loss_kind loss, rnn_real *dlogits, const rnn_real *logits, const rnn_real *labels,
                       const float *weights, int B, int C, int N) {
    const int L = loss == RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY ? 1 : C;
    for (int b = 0; b < B; b++) {
        const rnn_real *z = logits + (size_t)b * (size_t)C, *y = labels + (size_t)b * (size_t)L;
        rnn_real *dz = dlogits + (size_t)b * (size_t)C;
        if (loss == RNN_LOSS_BINARY_CROSSENTROPY && !weights) {
            rnn_ref_bce_grad(dz, z, y, C, C * N);   /* (the unweighted form, as it always was) */
        } else if (loss == RNN_LOSS_BINARY_CROSSENTROPY) {
            const rnn_real w = weights[b];
            for (int k = 0; k < C; k++) dz[k] = (rnn_ref_sigmoid(z[k]) - y[k]) * w / (rnn_real)(C * N);
        } else if (loss == RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY) {
            rnn_ref_sparse_cce_grad(dz, z, y, 1, C, N);
            if (weights)
                for (int k = 0; k < C; k++) dz[k] *= weights[b];
        } else {
            const double lse = log_sum_exp(z, C), w = weight_of(weights, b);
            double ysum = 0;
            for (int k = 0; k < C; k++) ysum += (double)y[k];
            for (int k = 0; k < C; k++) dz[k] = (rnn_real)(w * (exp((double)z[k] - lse) * ysum - (double)y[k]) / N);
        }
    }
}

/* The first index of the largest of v[0..C) (numpy's argmax). */
static int argmax(const rnn_real *v, int C) {
    int best = 0;
    for (int c = 1; c < C; c++)
        if (v[c] > v[best]) best = c;
    return best;
}

int rnn_ref_count_correct(rnn_accuracy_kind acc, const rnn_real *probs, const rnn_real *labels, int B, int C) {
    int correct = 0;
    for (int b = 0; b < B; b++) {
        const rnn_real *p = probs + (size_t)b * (size_t)C;
        if (acc == RNN_ACCURACY_BINARY) {
            correct += rnn_ref_binary_correct(p, labels + (size_t)b * (size_t)C, C);
        } else if (acc == RNN_ACCURACY_SPARSE_CATEGORICAL) {
            correct += argmax(p, C) == class_of(labels[b], C);
        } else {
            correct += argmax(p, C) == argmax(labels + (size_t)b * (size_t)C, C);
        }
    }
    return correct;
}
