/*
 * global_average_pooling1d.c — GlobalAveragePooling1D: each channel's mean over the
 * whole sequence, (None, T, C) -> (None, C). pooling.c has the layout and the
 * reference. With the embedding's mask (mask_zero) the mean is over the unmasked steps
 * only, as Keras's call(mask) computes it: Σ_t m_t x_t / Σ_t m_t (docs/keras-semantics.md,
 * Masking); a row with every step masked gives 0 where Keras gives 0/0 = NaN.
 */
#include "layers/pooling.h"

/* The unmasked steps of row b (0 for a row of padding). */
static int kept_steps(const int32_t *tokens, int b, int T) {
    int n = 0;
    for (int t = 0; t < T; t++) n += tokens[(size_t)b * (size_t)T + (size_t)t] != 0;
    return n;
}

static size_t masked_forward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    const int T = p->l->timesteps, C = p->l->in_features;
    for (int b = 0; b < p->n; b++) {
        rnn_real *y = s->out + (size_t)b * (size_t)C;
        for (int c = 0; c < C; c++) y[c] = 0;
        for (int t = 0; t < T; t++) {
            if (p->tokens[(size_t)b * (size_t)T + (size_t)t] == 0) continue;
            const rnn_real *x = p->x + ((size_t)b * (size_t)T + (size_t)t) * (size_t)C;
            for (int c = 0; c < C; c++) y[c] += x[c];
        }
        const int n = kept_steps(p->tokens, b, T);
        for (int c = 0; c < C; c++) y[c] /= (rnn_real)(n > 0 ? n : 1);
    }
    return 0;
}

static void masked_backward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    const int T = p->l->timesteps, C = p->l->in_features;
    for (int b = 0; b < p->n; b++) {
        const int n = kept_steps(p->tokens, b, T);
        const rnn_real *dy = s->dout + (size_t)b * (size_t)C;
        for (int t = 0; t < T; t++) {
            rnn_real *dx = p->dx + ((size_t)b * (size_t)T + (size_t)t) * (size_t)C;
            const int kept = p->tokens[(size_t)b * (size_t)T + (size_t)t] != 0;
            for (int c = 0; c < C; c++) dx[c] = kept ? dy[c] / (rnn_real)n : 0;
        }
    }
}

static size_t ref_forward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    if (p->l->mask_in) return masked_forward(s, p);
    return rnn_pool_forward(s, p, 1, 1);
}

static void ref_backward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    if (p->l->mask_in) masked_backward(s, p);
    else rnn_pool_backward(s, p, 1, 1);
}

const rnn_kind rnn_kind_global_average_pooling1d = {
    .layout = rnn_global_pool_layout, .ref_forward = ref_forward, .ref_backward = ref_backward, .mask = RNN_MASK_USED};
