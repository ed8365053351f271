/*
 * lstm.c — LSTM with Keras's fused layout (gate blocks i, f, c, o).
 *
 *   z   = x_t·K + hm_{t-1}·R + b          K [F, 4U], R [U, 4U], b [4U]
 *   i = σ(z_i)  f = σ(z_f)  g = tanh(z_c)  o = σ(z_o)
 *   c_t = f ⊙ c_{t-1} + i ⊙ g
 *   h_t = o ⊙ tanh(c_t)
 *
 * hm_{t-1} = h_{t-1} ⊙ recurrent mask (or h_{t-1}); c is never masked. A step of padding
 * (step_mask) keeps c_{t-1} and h_{t-1}.
 * Caches: h [B, T, U], c [B, T, U], gates [B, T, 4U] = (i, f, g, o) after activation.
 */
#include "layers/recurrent.h"

#include <string.h>

void rnn_ref_lstm_forward(rnn_real *h, rnn_real *c, rnn_real *gates, const rnn_real *x,
                          const rnn_real *kernel, const rnn_real *recurrent_kernel,
                          const rnn_real *bias, const rnn_real *recurrent_mask, const rnn_real *step_mask,
                          int B, int T, int F, int U) {
    const size_t G = 4 * (size_t)U;   /* columns of K and R */
    for (int b = 0; b < B; b++) {
        const rnn_real *m = recurrent_mask ? recurrent_mask + (size_t)b * (size_t)U : NULL;
        for (int t = 0; t < T; t++) {
            size_t step = (size_t)b * (size_t)T + (size_t)t;
            const rnn_real *xt = x + step * (size_t)F;
            const rnn_real *hprev = t > 0 ? h + (step - 1) * (size_t)U : NULL;
            const rnn_real *cprev = t > 0 ? c + (step - 1) * (size_t)U : NULL;
            rnn_real *gt = gates + step * G;
            for (size_t col = 0; col < G; col++) {
                rnn_real z = bias[col];
                for (int f = 0; f < F; f++) z += xt[f] * kernel[(size_t)f * G + col];
                if (hprev)
                    for (int k = 0; k < U; k++) z += hprev[k] * (m ? m[k] : 1) * recurrent_kernel[(size_t)k * G + col];
                gt[col] = z;
            }
            rnn_real *ct = c + step * (size_t)U, *ht = h + step * (size_t)U;
            for (int u = 0; u < U; u++) {
                rnn_real i = rnn_ref_sigmoid(gt[u]);
                rnn_real f = rnn_ref_sigmoid(gt[U + u]);
                rnn_real g = REF_TANH(gt[2 * U + u]);
                rnn_real o = rnn_ref_sigmoid(gt[3 * U + u]);
                gt[u] = i;
                gt[U + u] = f;
                gt[2 * U + u] = g;
                gt[3 * U + u] = o;
                ct[u] = f * (cprev ? cprev[u] : 0) + i * g;
                ht[u] = o * REF_TANH(ct[u]);
            }
            if (rnn_recurrent_step_masked(step_mask, step)) {   /* padding: the state carries over */
                rnn_recurrent_carry(ct, cprev, U);
                rnn_recurrent_carry(ht, hprev, U);
            }
        }
    }
}

/* Per step from T-1 down, with dh = upstream dh_t + the part from step t+1:
 *   do = dh ⊙ tanh(c_t)                    dz_o = do ⊙ o(1-o)
 *   dc = dc_next + dh ⊙ o ⊙ (1 - tanh²c_t)
 *   dz_i = dc ⊙ g ⊙ i(1-i)   dz_f = dc ⊙ c_{t-1} ⊙ f(1-f)   dz_c = dc ⊙ i ⊙ (1-g²)
 *   dc_next = dc ⊙ f;   dK += x_tᵀ dz;  dR += hmᵀ dz;  db += dz
 *   dx_t = dz·Kᵀ;       dh_next = (dz·Rᵀ) ⊙ mask
 * A step of padding passes dh and dc_next on to step t-1 unchanged. */
void rnn_ref_lstm_backward(rnn_real *dx, rnn_real *dkernel, rnn_real *drecurrent_kernel,
                           rnn_real *dbias, rnn_real *scratch, const rnn_real *dh,
                           const rnn_real *x, const rnn_real *h, const rnn_real *c,
                           const rnn_real *gates, const rnn_real *kernel,
                           const rnn_real *recurrent_kernel, const rnn_real *recurrent_mask,
                           const rnn_real *step_mask, int B, int T, int F, int U) {
    const size_t G = 4 * (size_t)U;
    rnn_real *dh_next = scratch;          /* [U]  gradient reaching h_t from step t+1 */
    rnn_real *dc_next = scratch + U;      /* [U]  gradient reaching c_t from step t+1 */
    rnn_real *dz = scratch + 2 * U;       /* [4U] gradient at the gate pre-activations */
    for (int b = 0; b < B; b++) {
        const rnn_real *m = recurrent_mask ? recurrent_mask + (size_t)b * (size_t)U : NULL;
        memset(dh_next, 0, (size_t)U * sizeof *dh_next);
        memset(dc_next, 0, (size_t)U * sizeof *dc_next);
        for (int t = T - 1; t >= 0; t--) {
            size_t step = (size_t)b * (size_t)T + (size_t)t;
            const rnn_real *xt = x + step * (size_t)F;
            const rnn_real *gt = gates + step * G;
            const rnn_real *ct = c + step * (size_t)U;
            const rnn_real *hprev = t > 0 ? h + (step - 1) * (size_t)U : NULL;
            const rnn_real *cprev = t > 0 ? c + (step - 1) * (size_t)U : NULL;
            const rnn_real *dht = dh + step * (size_t)U;
            rnn_real *dxt = dx + step * (size_t)F;
            if (rnn_recurrent_step_masked(step_mask, step)) {
                rnn_recurrent_carry_grad(dh_next, dht, dxt, U, F);
                continue;
            }

            for (int u = 0; u < U; u++) {
                rnn_real i = gt[u], f = gt[U + u], g = gt[2 * U + u], o = gt[3 * U + u];
                rnn_real tanh_c = REF_TANH(ct[u]);
                rnn_real dh_total = dht[u] + dh_next[u];
                rnn_real dc = dc_next[u] + dh_total * o * (1 - tanh_c * tanh_c);
                dz[u] = dc * g * i * (1 - i);
                dz[U + u] = dc * (cprev ? cprev[u] : 0) * f * (1 - f);
                dz[2 * U + u] = dc * i * (1 - g * g);
                dz[3 * U + u] = dh_total * tanh_c * o * (1 - o);
                dc_next[u] = dc * f;
            }

            rnn_recurrent_input_grad(dbias, dkernel, dxt, xt, dz, kernel, F, G);
            rnn_recurrent_state_grad(drecurrent_kernel, dh_next, hprev, m, dz, recurrent_kernel, U, G);
        }
    }
}

/* ---- the kind --------------------------------------------------------------------------- */

static int lstm_layout(rnn_layout *c, rnn_layer *l) {
    /* Keras builds the bias [zeros(U), ones(U), zeros(2U)] with unit_forget_bias */
    return rnn_recurrent_layout(c, l, 4, 1, l->unit_forget_bias ? RNN_INIT_FORGET_BIAS : RNN_INIT_ZEROS);
}

static void cell_forward(rnn_recurrent_state *s, const rnn_ref_pass *p, const rnn_real *x, const rnn_real *rmask) {
    const rnn_layer *l = p->l;
    rnn_ref_lstm_forward(s->h, s->c, s->gates, x, rnn_ref_param(p, RNN_T_KERNEL), rnn_ref_param(p, RNN_T_RECURRENT_KERNEL),
                         rnn_ref_param(p, RNN_T_RNN_BIAS), rmask, s->step_mask, p->n, p->l->timesteps, l->in_features,
                         l->units);
}

static void cell_backward(rnn_recurrent_state *s, const rnn_ref_pass *p, rnn_real *dx, const rnn_real *x,
                          const rnn_real *rmask) {
    const rnn_layer *l = p->l;
    rnn_ref_lstm_backward(dx, rnn_ref_grad(p, RNN_T_KERNEL), rnn_ref_grad(p, RNN_T_RECURRENT_KERNEL),
                          rnn_ref_grad(p, RNN_T_RNN_BIAS), s->scratch, s->dh, x, s->h, s->c, s->gates,
                          rnn_ref_param(p, RNN_T_KERNEL), rnn_ref_param(p, RNN_T_RECURRENT_KERNEL), rmask, s->step_mask,
                          p->n, p->l->timesteps, l->in_features, l->units);
}

static const rnn_recurrent_cell cell = {1, 1, cell_forward, cell_backward};

const rnn_kind rnn_kind_lstm = {NULL, lstm_layout, rnn_recurrent_create,
                                rnn_recurrent_destroy, rnn_recurrent_forward, rnn_recurrent_backward, &cell, 0,
                                RNN_MASK_USED};
