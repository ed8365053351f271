/*
 * recurrent.c — the layout and the reference runtime's frame of a recurrent layer:
 * input dropout on x, recurrent dropout on the copy of h_{t-1} that enters the
 * recurrent products, go_backwards as Keras computes it (the input reversed in time, the
 * states in the order the steps ran), and the last step as the output without
 * return_sequences (docs/keras-semantics.md, RNN dropout, go_backwards), one direction
 * at a time, and the parts of a step's backward the cells share. The cells themselves are in simple_rnn.c, lstm.c and gru.c.
 */
#include "layers/recurrent.h"

#include <stdlib.h>
#include <string.h>

/* Every recurrent layer's backward runs one row at a time: the GRU, the hungriest,
 * needs 9·U per row (gru.c); 10·U covers every kind. */
size_t rnn_ref_rnn_scratch_len(int U) {
    return 10 * (size_t)U;
}

void rnn_recurrent_input_grad(rnn_real *dbias, rnn_real *dkernel, rnn_real *dxt, const rnn_real *xt,
                              const rnn_real *dz, const rnn_real *kernel, int F, size_t G) {
    for (size_t col = 0; col < G; col++) dbias[col] += dz[col];
    for (int f = 0; f < F; f++) {
        rnn_real sum = 0;
        for (size_t col = 0; col < G; col++) {
            dkernel[(size_t)f * G + col] += xt[f] * dz[col];
            sum += dz[col] * kernel[(size_t)f * G + col];
        }
        dxt[f] = sum;
    }
}

void rnn_recurrent_state_grad(rnn_real *drecurrent_kernel, rnn_real *dh_next, const rnn_real *hprev,
                              const rnn_real *m, const rnn_real *dz, const rnn_real *recurrent_kernel, int U,
                              size_t G) {
    for (int k = 0; k < U; k++) {
        rnn_real mk = m ? m[k] : 1;
        rnn_real sum = 0;
        for (size_t col = 0; col < G; col++) {
            if (hprev) drecurrent_kernel[(size_t)k * G + col] += hprev[k] * mk * dz[col];
            sum += dz[col] * recurrent_kernel[(size_t)k * G + col];
        }
        dh_next[k] = sum * mk;
    }
}

int rnn_recurrent_step_masked(const rnn_real *step_mask, size_t step) { return step_mask && step_mask[step] == 0; }

void rnn_recurrent_carry(rnn_real *ht, const rnn_real *hprev, int U) {
    for (int u = 0; u < U; u++) ht[u] = hprev ? hprev[u] : 0;
}

void rnn_recurrent_carry_grad(rnn_real *dh_next, const rnn_real *dht, rnn_real *dxt, int U, int F) {
    for (int u = 0; u < U; u++) dh_next[u] += dht[u];
    memset(dxt, 0, (size_t)F * sizeof *dxt);
}

int rnn_recurrent_layout(rnn_layout *c, rnn_layer *l, int gates, int bias_rows, rnn_init_kind bias_init) {
    char shape[64];
    if (rnn_layout_units(c, "units", l->units, RNN_MAX_UNITS)) return -1;
    if (!l->in_seq)
        return rnn_layout_error(c, "input must be a sequence, but %s returns only its last output %s; set return_sequences = true on %s",
                                c->prev->name, rnn_shape_str(shape, sizeof shape, 0, 0, c->prev->out_features), c->prev->name);
    if (!rnn_is_rate(l->dropout)) return rnn_layout_error(c, "dropout must be in [0, 1) (got %g)", l->dropout);
    if (!rnn_is_rate(l->recurrent_dropout))
        return rnn_layout_error(c, "recurrent_dropout must be in [0, 1) (got %g)", l->recurrent_dropout);
    int U = l->units, F = l->in_features;
    l->gates = gates;
    l->out_seq = l->return_sequences ? 1 : 0;
    l->out_features = U;
    rnn_layout_tensor(c, "kernel", F, gates * U, 2, RNN_INIT_GLOROT_UNIFORM);
    rnn_layout_tensor(c, "recurrent_kernel", U, gates * U, 2, RNN_INIT_ORTHOGONAL);
    if (bias_rows > 1) rnn_layout_tensor(c, "bias", bias_rows, gates * U, 2, bias_init);
    else rnn_layout_tensor(c, "bias", gates * U, 1, 1, bias_init);
    return 0;
}

int rnn_recurrent_half_create(rnn_recurrent_state *r, const rnn_model *m, const rnn_layer *l, int max_batch,
                              const rnn_recurrent_cell *cell, int half, int reversed, rnn_real *h, rnn_real *dh) {
    memset(r, 0, sizeof *r);
    (void)m;   /* the layer has its own steps (l->timesteps) */
    r->cell = cell;
    r->half = half;
    r->reversed = reversed;
    const size_t B = (size_t)max_batch, T = (size_t)l->timesteps, U = (size_t)l->units;
    const size_t in = B * T * (size_t)l->in_features;
    int ok = 1;
    r->owns_h = !h;
    r->h = h ? h : rnn_ref_alloc(B * T * U, &ok);
    r->dh = dh ? dh : rnn_ref_alloc(B * T * U, &ok);
    if (cell->keeps_c) r->c = rnn_ref_alloc(B * T * U, &ok);
    if (cell->keeps_gates) r->gates = rnn_ref_alloc(B * T * 4 * U, &ok);
    if (l->recurrent_dropout > 0) r->recurrent_mask = rnn_ref_alloc(B * U, &ok);
    if (l->dropout > 0) {
        r->input_mask = rnn_ref_alloc(in, &ok);
        r->dropped_input = rnn_ref_alloc(in, &ok);
        r->ddropped_input = rnn_ref_alloc(in, &ok);
    }
    if (reversed) {
        r->reversed_input = rnn_ref_alloc(in, &ok);
        r->dreversed_input = rnn_ref_alloc(in, &ok);
    }
    r->scratch = rnn_ref_alloc(rnn_ref_rnn_scratch_len(l->units), &ok);
    if (l->mask_in) r->step_mask = rnn_ref_alloc(B * T, &ok);
    return ok ? 0 : -1;
}

void rnn_recurrent_half_destroy(rnn_recurrent_state *r) {
    if (r->owns_h) {   /* otherwise they are the layer's out and dout: model_ref.c's */
        free(r->h);
        free(r->dh);
    }
    free(r->c);
    free(r->gates);
    free(r->recurrent_mask);
    free(r->input_mask);
    free(r->dropped_input);
    free(r->ddropped_input);
    free(r->reversed_input);
    free(r->dreversed_input);
    free(r->scratch);
    free(r->step_mask);
    memset(r, 0, sizeof *r);
}

/* dst[b][t] = src[b][T-1-t] for rows of F elements. */
static void reverse_steps(rnn_real *dst, const rnn_real *src, int n, int T, int F) {
    for (int b = 0; b < n; b++)
        for (int t = 0; t < T; t++)
            memcpy(dst + ((size_t)b * (size_t)T + (size_t)t) * (size_t)F,
                   src + ((size_t)b * (size_t)T + (size_t)(T - 1 - t)) * (size_t)F, (size_t)F * sizeof *dst);
}

/* The pass as this direction's cell sees it: its own tensors. */
static rnn_ref_pass half_pass(const rnn_recurrent_state *r, const rnn_ref_pass *p) {
    rnn_ref_pass q = *p;
    q.slot0 = r->half * RNN_T_RECURRENT_COUNT;
    return q;
}

/* The input x [n, T, F] as the recurrence sees it: dropped, then reversed. */
static const rnn_real *recurrent_input(const rnn_recurrent_state *r, const rnn_ref_pass *p) {
    if (r->reversed) return r->reversed_input;
    return r->dropout_active ? r->dropped_input : p->x;
}

void rnn_recurrent_half_forward(rnn_recurrent_state *r, const rnn_ref_pass *p) {
    const rnn_layer *l = p->l;
    const rnn_dropout_ctx *ctx = p->ctx;
    const int n = p->n, T = p->l->timesteps, F = l->in_features, U = l->units;
    const uint32_t layer = (uint32_t)p->index + (r->half ? RNN_RNG_BACKWARD_HALF : 0);
    const rnn_real *x = p->x;
    r->dropout_active = p->training && l->dropout > 0;
    if (r->dropout_active) {   /* the mask is of the input as it is, before any reversal */
        int per_step = l->dropout_mask == RNN_DROPOUT_PER_STEP;
        rnn_ref_dropout_mask(r->input_mask, ctx->seed, RNN_RNG_DROPOUT, layer, ctx->epoch, ctx->rows, l->dropout, per_step,
                             n, T, F);
        rnn_ref_dropout_forward(r->dropped_input, p->x, r->input_mask, (size_t)n * (size_t)T * (size_t)F);
        x = r->dropped_input;
    }
    if (r->reversed) reverse_steps(r->reversed_input, x, n, T, F);
    if (r->step_mask) rnn_ref_step_mask(r->step_mask, p->tokens, n, T, r->reversed);   /* the steps as they run */
    r->recurrent_dropout_active = p->training && l->recurrent_dropout > 0;
    if (r->recurrent_dropout_active)
        rnn_ref_dropout_mask(r->recurrent_mask, ctx->seed, RNN_RNG_RECURRENT_DROPOUT, layer, ctx->epoch, ctx->rows,
                             l->recurrent_dropout, 0, n, 1, U);
    rnn_ref_pass q = half_pass(r, p);
    r->cell->forward(r, &q, recurrent_input(r, p), r->recurrent_dropout_active ? r->recurrent_mask : NULL);
}

void rnn_recurrent_half_backward(rnn_recurrent_state *r, const rnn_ref_pass *p, rnn_real *dx) {
    const rnn_layer *l = p->l;
    const int n = p->n, T = p->l->timesteps, F = l->in_features;
    rnn_real *dinput = r->dropout_active ? r->ddropped_input : dx;   /* d loss / d the dropped input */
    rnn_ref_pass q = half_pass(r, p);
    r->cell->backward(r, &q, r->reversed ? r->dreversed_input : dinput, recurrent_input(r, p),
                      r->recurrent_dropout_active ? r->recurrent_mask : NULL);
    if (r->reversed) reverse_steps(dinput, r->dreversed_input, n, T, F);
    if (r->dropout_active)
        rnn_ref_dropout_backward(dx, r->ddropped_input, r->input_mask, (size_t)n * (size_t)T * (size_t)F);
}

int rnn_recurrent_create(rnn_ref_layer *s, const rnn_model *m, const rnn_layer *l, int max_batch) {
    rnn_recurrent_state *r = calloc(1, sizeof *r);
    if (!r) return -1;
    s->priv = r;
    /* with return_sequences the states in the order they ran are the output (Keras
     * returns a go_backwards layer's sequence reversed) */
    return rnn_recurrent_half_create(r, m, l, max_batch, rnn_kind_of(l->kind)->cell, 0, l->go_backwards,
                                     l->return_sequences ? s->out : NULL, l->return_sequences ? s->dout : NULL);
}

void rnn_recurrent_destroy(rnn_ref_layer *s) {
    rnn_recurrent_state *r = s->priv;
    if (!r) return;
    rnn_recurrent_half_destroy(r);
    free(r);
    s->priv = NULL;
}

size_t rnn_recurrent_forward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    rnn_recurrent_state *r = s->priv;
    const int n = p->n, T = p->l->timesteps, U = p->l->units;
    rnn_recurrent_half_forward(r, p);
    if (!p->l->return_sequences)   /* the output is the last step's h alone */
        for (int b = 0; b < n; b++)
            memcpy(s->out + (size_t)b * (size_t)U, r->h + ((size_t)b * (size_t)T + (size_t)T - 1) * (size_t)U,
                   (size_t)U * sizeof *s->out);
    return 0;
}

void rnn_recurrent_backward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    rnn_recurrent_state *r = s->priv;
    const int n = p->n, T = p->l->timesteps, U = p->l->units;
    if (!p->l->return_sequences) {   /* only the last h was used: every other step gets zero from above */
        memset(r->dh, 0, (size_t)n * (size_t)T * (size_t)U * sizeof *r->dh);
        for (int b = 0; b < n; b++)
            memcpy(r->dh + ((size_t)b * (size_t)T + (size_t)T - 1) * (size_t)U, s->dout + (size_t)b * (size_t)U,
                   (size_t)U * sizeof *r->dh);
    }
    rnn_recurrent_half_backward(r, p, p->dx);
}
