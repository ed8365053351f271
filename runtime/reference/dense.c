/*
 * dense.c — Dense: out = act(x·K + b) on one vector per sample.
 *
 * The activation's derivative is computed from the output y (which the forward keeps
 * anyway): sigmoid y(1-y), tanh 1-y², relu [y > 0], linear 1, and for softmax the
 * Jacobian-vector product y ⊙ (dy - <dy, y>).
 */
#include "ref_layers.h"

void rnn_ref_activate(rnn_real *v, rnn_activation act, int B, int O) {
    for (int b = 0; b < B; b++) {
        rnn_real *row = v + (size_t)b * (size_t)O;
        switch (act) {
        case RNN_ACT_LINEAR:
            break;
        case RNN_ACT_SIGMOID:
            for (int o = 0; o < O; o++) row[o] = rnn_ref_sigmoid(row[o]);
            break;
        case RNN_ACT_TANH:
            for (int o = 0; o < O; o++) row[o] = REF_TANH(row[o]);
            break;
        case RNN_ACT_RELU:
            for (int o = 0; o < O; o++) row[o] = row[o] > 0 ? row[o] : 0;
            break;
        case RNN_ACT_SOFTMAX: {
            /* Subtracting the row maximum keeps every exponent <= 0 (no overflow). */
            rnn_real max = row[0];
            for (int o = 1; o < O; o++)
                if (row[o] > max) max = row[o];
            rnn_real sum = 0;
            for (int o = 0; o < O; o++) {
                row[o] = REF_EXP(row[o] - max);
                sum += row[o];
            }
            for (int o = 0; o < O; o++) row[o] /= sum;
            break;
        }
        default:
            break;
        }
    }
}

/* out [B, O], x [B, I], kernel [I, O], bias [O] */
void rnn_ref_dense_forward(rnn_real *out, const rnn_real *x, const rnn_real *kernel,
                           const rnn_real *bias, rnn_activation act, int B, int I, int O) {
    for (int b = 0; b < B; b++) {
        const rnn_real *xb = x + (size_t)b * (size_t)I;
        rnn_real *yb = out + (size_t)b * (size_t)O;
        for (int o = 0; o < O; o++) {
            rnn_real sum = bias[o];
            for (int i = 0; i < I; i++) sum += xb[i] * kernel[(size_t)i * (size_t)O + (size_t)o];
            yb[o] = sum;
        }
    }
    rnn_ref_activate(out, act, B, O);
}

/* dx [B, I] = dpre·Kᵀ; dkernel [I, O] += xᵀ·dpre; dbias [O] += Σ_b dpre; dpre [B, O] scratch */
void rnn_ref_dense_backward(rnn_real *dx, rnn_real *dkernel, rnn_real *dbias, rnn_real *dpre,
                            const rnn_real *dout, const rnn_real *x, const rnn_real *out,
                            const rnn_real *kernel, rnn_activation act, int B, int I, int O) {
    for (int b = 0; b < B; b++) {
        const rnn_real *y = out + (size_t)b * (size_t)O;
        const rnn_real *dy = dout + (size_t)b * (size_t)O;
        rnn_real *dp = dpre + (size_t)b * (size_t)O;
        rnn_real dot = 0;   /* <dy, y>, for softmax */
        if (act == RNN_ACT_SOFTMAX)
            for (int o = 0; o < O; o++) dot += dy[o] * y[o];
        for (int o = 0; o < O; o++) {
            switch (act) {
            case RNN_ACT_SIGMOID: dp[o] = dy[o] * y[o] * (1 - y[o]); break;
            case RNN_ACT_TANH:    dp[o] = dy[o] * (1 - y[o] * y[o]); break;
            case RNN_ACT_RELU:    dp[o] = y[o] > 0 ? dy[o] : 0; break;
            case RNN_ACT_SOFTMAX: dp[o] = y[o] * (dy[o] - dot); break;
            default:              dp[o] = dy[o]; break;
            }
        }
    }
    for (int b = 0; b < B; b++) {
        const rnn_real *xb = x + (size_t)b * (size_t)I;
        const rnn_real *dp = dpre + (size_t)b * (size_t)O;
        rnn_real *dxb = dx + (size_t)b * (size_t)I;
        for (int o = 0; o < O; o++) dbias[o] += dp[o];
        for (int i = 0; i < I; i++) {
            const rnn_real *krow = kernel + (size_t)i * (size_t)O;
            rnn_real *dkrow = dkernel + (size_t)i * (size_t)O;
            rnn_real sum = 0;
            for (int o = 0; o < O; o++) {
                dkrow[o] += xb[i] * dp[o];
                sum += dp[o] * krow[o];
            }
            dxb[i] = sum;
        }
    }
}
