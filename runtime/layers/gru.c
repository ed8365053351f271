/*
 * gru.c — GRU with Keras's layout (gate blocks z, r, h), both reset_after variants.
 * K [F, 3U], R [U, 3U]; hm = h_{t-1} ⊙ recurrent mask (or h_{t-1}).
 */
#include "layers/recurrent.h"

#include <string.h>

/* Σ_k v_k (mask_k) M[k, col] for a row-major M with `cols` columns; v NULL is zero. */
static rnn_real dot_column(const rnn_real *v, const rnn_real *mask, const rnn_real *matrix,
                           size_t cols, size_t col, int rows) {
    rnn_real sum = 0;
    if (!v) return 0;
    for (int k = 0; k < rows; k++) sum += v[k] * (mask ? mask[k] : 1) * matrix[(size_t)k * cols + col];
    return sum;
}

/* reset_after = 1 (TF2 default; bias [2, 3U], row 0 input side, row 1 recurrent side):
 *   z = σ(x·K_z + b0_z + hm·R_z + b1_z)
 *   r = σ(x·K_r + b0_r + hm·R_r + b1_r)
 *   q = hm·R_h + b1_h                       (cached: the reset gate multiplies it)
 *   n = tanh(x·K_h + b0_h + r ⊙ q)
 * reset_after = 0 (Keras <= 2.3, TF1 API; bias [3U], input side only):
 *   z = σ(x·K_z + b_z + hm·R_z)    r = σ(x·K_r + b_r + hm·R_r)
 *   n = tanh(x·K_h + b_h + (r ⊙ hm)·R_h)
 * Both: h_t = z ⊙ h_{t-1} + (1 - z) ⊙ n, with the unmasked h_{t-1}; a step of padding
 * (step_mask) keeps h_{t-1}.
 * Cache gates [B, T, 4U] = (z, r, n, q); q is unused with reset_after = 0. */
void rnn_ref_gru_forward(rnn_real *h, rnn_real *gates, const rnn_real *x, const rnn_real *kernel,
                         const rnn_real *recurrent_kernel, const rnn_real *bias,
                         const rnn_real *recurrent_mask, const rnn_real *step_mask, int reset_after,
                         int B, int T, int F, int U) {
    const size_t G = 3 * (size_t)U;   /* columns of K and R */
    const rnn_real *bias_in = bias;                             /* [3U]         */
    const rnn_real *bias_rec = reset_after ? bias + G : NULL;  /* [3U] or none */
    for (int b = 0; b < B; b++) {
        const rnn_real *m = recurrent_mask ? recurrent_mask + (size_t)b * (size_t)U : NULL;
        for (int t = 0; t < T; t++) {
            size_t step = (size_t)b * (size_t)T + (size_t)t;
            const rnn_real *xt = x + step * (size_t)F;
            const rnn_real *hprev = t > 0 ? h + (step - 1) * (size_t)U : NULL;
            rnn_real *zt = gates + step * 4 * (size_t)U, *rt = zt + U, *nt = zt + 2 * U, *qt = zt + 3 * U;
            rnn_real *ht = h + step * (size_t)U;

            /* z and r first: with reset_after = 0 the candidate needs all of r. */
            for (int u = 0; u < U; u++) {
                size_t cz = (size_t)u, cr = (size_t)U + (size_t)u;
                rnn_real pre_z = bias_in[cz] + dot_column(xt, NULL, kernel, G, cz, F) +
                                 dot_column(hprev, m, recurrent_kernel, G, cz, U);
                rnn_real pre_r = bias_in[cr] + dot_column(xt, NULL, kernel, G, cr, F) +
                                 dot_column(hprev, m, recurrent_kernel, G, cr, U);
                if (bias_rec) {
                    pre_z += bias_rec[cz];
                    pre_r += bias_rec[cr];
                }
                zt[u] = rnn_ref_sigmoid(pre_z);
                rt[u] = rnn_ref_sigmoid(pre_r);
            }
            for (int u = 0; u < U; u++) {
                size_t ch = 2 * (size_t)U + (size_t)u;
                rnn_real xh = bias_in[ch] + dot_column(xt, NULL, kernel, G, ch, F);
                if (reset_after) {
                    qt[u] = bias_rec[ch] + dot_column(hprev, m, recurrent_kernel, G, ch, U);
                    nt[u] = REF_TANH(xh + rt[u] * qt[u]);
                } else {
                    rnn_real reset_h = 0;   /* (r ⊙ hm)·R_h */
                    if (hprev)
                        for (int k = 0; k < U; k++)
                            reset_h += rt[k] * hprev[k] * (m ? m[k] : 1) * recurrent_kernel[(size_t)k * G + ch];
                    qt[u] = 0;
                    nt[u] = REF_TANH(xh + reset_h);
                }
            }
            for (int u = 0; u < U; u++) ht[u] = zt[u] * (hprev ? hprev[u] : 0) + (1 - zt[u]) * nt[u];
            if (rnn_recurrent_step_masked(step_mask, step)) rnn_recurrent_carry(ht, hprev, U);
        }
    }
}

/* With dh = upstream dh_t + the part from step t+1 and hp = h_{t-1}:
 *   dz_pre = dh ⊙ (hp - n) ⊙ z(1-z)     dn_pre = dh ⊙ (1-z) ⊙ (1-n²)
 *   reset_after = 1: dq = dn_pre ⊙ r;  dr_pre = dn_pre ⊙ q ⊙ r(1-r)
 *     input side  (z, r, h) = (dz_pre, dr_pre, dn_pre) → dK, db0, dx
 *     recurrent   (z, r, h) = (dz_pre, dr_pre, dq)     → dR, db1, dhm
 *   reset_after = 0: d(r⊙hm) = dn_pre·R_hᵀ;  dr_pre = d(r⊙hm) ⊙ hm ⊙ r(1-r)
 *     input side  (dz_pre, dr_pre, dn_pre) → dK, db, dx
 *     recurrent   dR_z,r += hmᵀ (dz_pre, dr_pre);  dR_h += (r⊙hm)ᵀ dn_pre
 *     dhm = (dz_pre, dr_pre)·R_{z,r}ᵀ + d(r⊙hm) ⊙ r
 *   dh_next = dh ⊙ z + dhm ⊙ mask
 * A step of padding passes dh on to step t-1 unchanged. */
void rnn_ref_gru_backward(rnn_real *dx, rnn_real *dkernel, rnn_real *drecurrent_kernel,
                          rnn_real *dbias, rnn_real *scratch, const rnn_real *dh,
                          const rnn_real *x, const rnn_real *h, const rnn_real *gates,
                          const rnn_real *kernel, const rnn_real *recurrent_kernel,
                          const rnn_real *recurrent_mask, const rnn_real *step_mask, int reset_after,
                          int B, int T, int F, int U) {
    const size_t G = 3 * (size_t)U;
    rnn_real *dbias_in = dbias, *dbias_rec = reset_after ? dbias + G : NULL;
    rnn_real *dh_next = scratch;            /* [U]  gradient reaching h_t from step t+1  */
    rnn_real *d_in = scratch + U;           /* [3U] gradient at x·K + b_in, per block    */
    rnn_real *d_rec = scratch + 4 * U;      /* [3U] gradient at the recurrent products   */
    rnn_real *dhm = scratch + 7 * U;        /* [U]  gradient at the masked h_{t-1}       */
    rnn_real *dh_carry = scratch + 8 * U;   /* [U]  dh ⊙ z: the unmasked path            */
    for (int b = 0; b < B; b++) {
        const rnn_real *m = recurrent_mask ? recurrent_mask + (size_t)b * (size_t)U : NULL;
        memset(dh_next, 0, (size_t)U * sizeof *dh_next);
        for (int t = T - 1; t >= 0; t--) {
            size_t step = (size_t)b * (size_t)T + (size_t)t;
            const rnn_real *xt = x + step * (size_t)F;
            const rnn_real *zt = gates + step * 4 * (size_t)U, *rt = zt + U, *nt = zt + 2 * U, *qt = zt + 3 * U;
            const rnn_real *hprev = t > 0 ? h + (step - 1) * (size_t)U : NULL;
            const rnn_real *dht = dh + step * (size_t)U;
            rnn_real *dxt = dx + step * (size_t)F;
            if (rnn_recurrent_step_masked(step_mask, step)) {
                rnn_recurrent_carry_grad(dh_next, dht, dxt, U, F);
                continue;
            }

            for (int u = 0; u < U; u++) {
                rnn_real z = zt[u], n = nt[u], hp = hprev ? hprev[u] : 0;
                rnn_real dh_total = dht[u] + dh_next[u];
                d_in[u] = dh_total * (hp - n) * z * (1 - z);
                d_in[2 * U + u] = dh_total * (1 - z) * (1 - n * n);
                dh_carry[u] = dh_total * z;
            }
            for (int k = 0; k < U; k++) dhm[k] = 0;

            if (reset_after) {
                for (int u = 0; u < U; u++) {
                    rnn_real r = rt[u], dn_pre = d_in[2 * U + u];
                    d_in[U + u] = dn_pre * qt[u] * r * (1 - r);
                    d_rec[u] = d_in[u];
                    d_rec[U + u] = d_in[U + u];
                    d_rec[2 * U + u] = dn_pre * r;
                }
                for (size_t col = 0; col < G; col++) dbias_rec[col] += d_rec[col];
                for (int k = 0; k < U; k++) {
                    rnn_real hm = hprev ? hprev[k] * (m ? m[k] : 1) : 0;
                    for (size_t col = 0; col < G; col++) {
                        drecurrent_kernel[(size_t)k * G + col] += hm * d_rec[col];
                        dhm[k] += d_rec[col] * recurrent_kernel[(size_t)k * G + col];
                    }
                }
            } else {
                /* d(r ⊙ hm)_k = Σ_u dn_pre_u R_h[k, u], reusing d_rec's first U as room. */
                rnn_real *d_rhm = d_rec;
                for (int k = 0; k < U; k++) {
                    rnn_real hm = hprev ? hprev[k] * (m ? m[k] : 1) : 0;
                    rnn_real s = 0;
                    for (int u = 0; u < U; u++) {
                        size_t col = 2 * (size_t)U + (size_t)u;
                        s += d_in[col] * recurrent_kernel[(size_t)k * G + col];
                        drecurrent_kernel[(size_t)k * G + col] += rt[k] * hm * d_in[col];
                    }
                    d_rhm[k] = s;
                }
                for (int k = 0; k < U; k++) {
                    rnn_real r = rt[k], hm = hprev ? hprev[k] * (m ? m[k] : 1) : 0;
                    d_in[U + k] = d_rhm[k] * hm * r * (1 - r);
                    dhm[k] = d_rhm[k] * r;
                }
                /* z and r blocks: their recurrent gradient equals the input-side one. */
                for (int k = 0; k < U; k++) {
                    rnn_real hm = hprev ? hprev[k] * (m ? m[k] : 1) : 0;
                    for (size_t col = 0; col < 2 * (size_t)U; col++) {
                        drecurrent_kernel[(size_t)k * G + col] += hm * d_in[col];
                        dhm[k] += d_in[col] * recurrent_kernel[(size_t)k * G + col];
                    }
                }
            }

            rnn_recurrent_input_grad(dbias_in, dkernel, dxt, xt, d_in, kernel, F, G);
            for (int k = 0; k < U; k++) dh_next[k] = dh_carry[k] + dhm[k] * (m ? m[k] : 1);
        }
    }
}

/* ---- the kind --------------------------------------------------------------------------- */

static int gru_layout(rnn_layout *c, rnn_layer *l) {
    return rnn_recurrent_layout(c, l, 3, l->reset_after ? 2 : 1, RNN_INIT_ZEROS);
}

static void cell_forward(rnn_recurrent_state *s, const rnn_ref_pass *p, const rnn_real *x, const rnn_real *rmask) {
    const rnn_layer *l = p->l;
    rnn_ref_gru_forward(s->h, s->gates, x, rnn_ref_param(p, RNN_T_KERNEL), rnn_ref_param(p, RNN_T_RECURRENT_KERNEL),
                        rnn_ref_param(p, RNN_T_RNN_BIAS), rmask, s->step_mask, l->reset_after, p->n, p->l->timesteps,
                        l->in_features, l->units);
}

static void cell_backward(rnn_recurrent_state *s, const rnn_ref_pass *p, rnn_real *dx, const rnn_real *x,
                          const rnn_real *rmask) {
    const rnn_layer *l = p->l;
    rnn_ref_gru_backward(dx, rnn_ref_grad(p, RNN_T_KERNEL), rnn_ref_grad(p, RNN_T_RECURRENT_KERNEL),
                         rnn_ref_grad(p, RNN_T_RNN_BIAS), s->scratch, s->dh, x, s->h, s->gates,
                         rnn_ref_param(p, RNN_T_KERNEL), rnn_ref_param(p, RNN_T_RECURRENT_KERNEL), rmask, s->step_mask,
                         l->reset_after, p->n, p->l->timesteps, l->in_features, l->units);
}

static const rnn_recurrent_cell cell = {0, 1, cell_forward, cell_backward};

const rnn_kind rnn_kind_gru = {NULL, gru_layout, rnn_recurrent_create,
                               rnn_recurrent_destroy, rnn_recurrent_forward, rnn_recurrent_backward, &cell, 0,
                               RNN_MASK_USED};
