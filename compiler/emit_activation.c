/*
 * emit_activation.c — element-wise activations in generated code (gen.h): the forward in
 * place on [n][F][W] vectors and the backward from the activation's output, as the
 * reference computes them (runtime/layers/dense.c). Conv1D, Activation and Dense on a
 * sequence print them.
 */
#include "gen.h"

#include <stdio.h>

/* The loops over the n vectors and the W lanes around a softmax's body, which sees the
 * vector's features at p[o * W + l]. */
static void softmax_loops(emitter *e, const char *p, const char *base, int n, int F, const char *ind) {
    P("%sfor (int t = 0; t < %d; t++) /* softmax over the %d features of each vector and lane */\n", ind, n, F);
    P("%s    for (int l = 0; l < W; l++) {\n", ind);
    P("%s        rnn_real *%s = %s + (size_t)t * %d * W;\n", ind, p, base, F);
}

void gen_activation_forward(emitter *e, const char *v, int n, int F, rnn_activation act, const char *ind) {
    if (act == RNN_ACT_LINEAR) return;
    if (act != RNN_ACT_SOFTMAX) {
        P("%sfor (size_t k = 0; k < (size_t)%d * W; k++) %s[k] = %s(%s[k]);\n", ind, n * F, v, emit_act_fn(act), v);
        return;
    }
    softmax_loops(e, "p", v, n, F, ind);
    P("%s        rnn_real mx = p[l], s = 0.0f;\n", ind);
    P("%s        for (int o = 1; o < %d; o++) mx = p[o * W + l] > mx ? p[o * W + l] : mx;\n", ind, F);
    P("%s        for (int o = 0; o < %d; o++) s += (p[o * W + l] = expf(p[o * W + l] - mx));\n", ind, F);
    P("%s        for (int o = 0; o < %d; o++) p[o * W + l] /= s;\n%s    }\n", ind, F, ind);
}

void gen_activation_backward(emitter *e, const char *d, const char *y, int n, int F, rnn_activation act, const char *ind) {
    char grad[64];
    if (act == RNN_ACT_LINEAR) return;
    if (act != RNN_ACT_SOFTMAX) {
        char yk[48];
        snprintf(yk, sizeof yk, "%s[k]", y);
        P("%sfor (size_t k = 0; k < (size_t)%d * W; k++) %s[k] *= %s;\n", ind, n * F, d, gen_act_grad(grad, sizeof grad, act, yk));
        return;
    }
    softmax_loops(e, "p", d, n, F, ind);
    P("%s        const rnn_real *q = %s + (size_t)t * %d * W;\n", ind, y, F);
    P("%s        rnn_real dot = 0.0f;\n", ind);
    P("%s        for (int o = 0; o < %d; o++) dot += p[o * W + l] * q[o * W + l];\n", ind, F);
    P("%s        for (int o = 0; o < %d; o++) p[o * W + l] = q[o * W + l] * (p[o * W + l] - dot);\n%s    }\n", ind, F, ind);
}
