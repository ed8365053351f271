/*
 * simple_rnn.c — SimpleRNN: h_t = act(x_t·K + b + hm_{t-1}·R), hm = h ⊙ recurrent mask.
 *
 * Shapes: x [B, T, F], kernel [F, U], recurrent_kernel [U, U], bias [U], h [B, T, U].
 * The activation's derivative is taken from h itself (tanh 1-h², sigmoid h(1-h),
 * relu [h > 0], linear 1), so the forward needs no other cache. A step of padding
 * (step_mask) keeps h_{t-1}.
 * The kind: simple_rnn { units, activation = "tanh", dropout, recurrent_dropout,
 * return_sequences } (tensors kernel, recurrent_kernel, bias).
 */
#include "layers/recurrent.h"

#include <string.h>

static rnn_real activate(rnn_activation act, rnn_real a) {
    switch (act) {
    case RNN_ACT_SIGMOID: return rnn_ref_sigmoid(a);
    case RNN_ACT_TANH:    return REF_TANH(a);
    case RNN_ACT_RELU:    return a > 0 ? a : 0;
    default:              return a;
    }
}

/* d act / d a expressed through the output h = act(a). */
static rnn_real activation_slope(rnn_activation act, rnn_real h) {
    switch (act) {
    case RNN_ACT_SIGMOID: return h * (1 - h);
    case RNN_ACT_TANH:    return 1 - h * h;
    case RNN_ACT_RELU:    return h > 0 ? 1 : 0;
    default:              return 1;
    }
}

void rnn_ref_simple_rnn_forward(rnn_real *h, const rnn_real *x, const rnn_real *kernel,
                                const rnn_real *recurrent_kernel, const rnn_real *bias,
                                const rnn_real *recurrent_mask, const rnn_real *step_mask, rnn_activation act,
                                int B, int T, int F, int U) {
    for (int b = 0; b < B; b++) {
        const rnn_real *m = recurrent_mask ? recurrent_mask + (size_t)b * (size_t)U : NULL;
        for (int t = 0; t < T; t++) {
            const rnn_real *xt = x + ((size_t)b * (size_t)T + (size_t)t) * (size_t)F;
            const rnn_real *hprev = t > 0 ? h + ((size_t)b * (size_t)T + (size_t)t - 1) * (size_t)U : NULL;
            rnn_real *ht = h + ((size_t)b * (size_t)T + (size_t)t) * (size_t)U;
            for (int u = 0; u < U; u++) {
                rnn_real a = bias[u];
                for (int f = 0; f < F; f++) a += xt[f] * kernel[(size_t)f * (size_t)U + (size_t)u];
                if (hprev)
                    for (int k = 0; k < U; k++)
                        a += hprev[k] * (m ? m[k] : 1) * recurrent_kernel[(size_t)k * (size_t)U + (size_t)u];
                ht[u] = activate(act, a);
            }
            if (rnn_recurrent_step_masked(step_mask, (size_t)b * (size_t)T + (size_t)t)) rnn_recurrent_carry(ht, hprev, U);
        }
    }
}

void rnn_ref_simple_rnn_backward(rnn_real *dx, rnn_real *dkernel, rnn_real *drecurrent_kernel,
                                 rnn_real *dbias, rnn_real *scratch, const rnn_real *dh,
                                 const rnn_real *x, const rnn_real *h, const rnn_real *kernel,
                                 const rnn_real *recurrent_kernel, const rnn_real *recurrent_mask,
                                 const rnn_real *step_mask, rnn_activation act, int B, int T, int F, int U) {
    rnn_real *dh_next = scratch;            /* [U]: gradient reaching h_t from step t+1 */
    rnn_real *da = scratch + U;             /* [U]: gradient at the pre-activation       */
    for (int b = 0; b < B; b++) {
        const rnn_real *m = recurrent_mask ? recurrent_mask + (size_t)b * (size_t)U : NULL;
        memset(dh_next, 0, (size_t)U * sizeof *dh_next);
        for (int t = T - 1; t >= 0; t--) {
            size_t step = (size_t)b * (size_t)T + (size_t)t;
            const rnn_real *xt = x + step * (size_t)F;
            const rnn_real *ht = h + step * (size_t)U;
            const rnn_real *hprev = t > 0 ? h + (step - 1) * (size_t)U : NULL;
            const rnn_real *dht = dh + step * (size_t)U;
            rnn_real *dxt = dx + step * (size_t)F;
            if (rnn_recurrent_step_masked(step_mask, step)) {
                rnn_recurrent_carry_grad(dh_next, dht, dxt, U, F);
                continue;
            }

            for (int u = 0; u < U; u++) da[u] = (dht[u] + dh_next[u]) * activation_slope(act, ht[u]);

            rnn_recurrent_input_grad(dbias, dkernel, dxt, xt, da, kernel, F, (size_t)U);
            /* h_{-1} = 0: at t = 0 nothing flows into R or further back. */
            rnn_recurrent_state_grad(drecurrent_kernel, dh_next, hprev, m, da, recurrent_kernel, U, (size_t)U);
        }
    }
}

/* ---- the kind --------------------------------------------------------------------------- */

/* Keras's SimpleRNN draws one input mask per sequence, reused at every step
 * (docs/keras-semantics.md, RNN dropout); it takes no dropout_mask keyword. */
static void simple_rnn_defaults(rnn_layer *l) {
    l->activation = RNN_ACT_TANH;
    l->dropout_mask = RNN_DROPOUT_PER_SEQUENCE;
}

static int simple_rnn_layout(rnn_layout *c, rnn_layer *l) {
    l->dropout_mask = RNN_DROPOUT_PER_SEQUENCE;   /* whatever a description built by hand says */
    if (rnn_recurrent_layout(c, l, 1, 1, RNN_INIT_ZEROS)) return -1;
    if (l->activation == RNN_ACT_SOFTMAX || (unsigned)l->activation >= RNN_ACT_COUNT)
        return rnn_layout_error(c, "activation must be \"tanh\", \"relu\", \"sigmoid\" or \"linear\"");
    return 0;
}

static void cell_forward(rnn_recurrent_state *s, const rnn_ref_pass *p, const rnn_real *x, const rnn_real *rmask) {
    const rnn_layer *l = p->l;
    rnn_ref_simple_rnn_forward(s->h, x, rnn_ref_param(p, RNN_T_KERNEL), rnn_ref_param(p, RNN_T_RECURRENT_KERNEL),
                               rnn_ref_param(p, RNN_T_RNN_BIAS), rmask, s->step_mask, l->activation, p->n,
                               p->l->timesteps, l->in_features, l->units);
}

static void cell_backward(rnn_recurrent_state *s, const rnn_ref_pass *p, rnn_real *dx, const rnn_real *x,
                          const rnn_real *rmask) {
    const rnn_layer *l = p->l;
    rnn_ref_simple_rnn_backward(dx, rnn_ref_grad(p, RNN_T_KERNEL), rnn_ref_grad(p, RNN_T_RECURRENT_KERNEL),
                                rnn_ref_grad(p, RNN_T_RNN_BIAS), s->scratch, s->dh, x, s->h,
                                rnn_ref_param(p, RNN_T_KERNEL), rnn_ref_param(p, RNN_T_RECURRENT_KERNEL), rmask,
                                s->step_mask, l->activation, p->n, p->l->timesteps, l->in_features, l->units);
}

static const rnn_recurrent_cell cell = {0, 0, cell_forward, cell_backward};

const rnn_kind rnn_kind_simple_rnn = {simple_rnn_defaults, simple_rnn_layout, rnn_recurrent_create,
                                      rnn_recurrent_destroy, rnn_recurrent_forward, rnn_recurrent_backward, &cell, 0,
                                      RNN_MASK_USED};
