/*
 * recurrent.c — the layout and the reference runtime's frame of a recurrent layer:
 * input dropout on x, recurrent dropout on the copy of h_{t-1} that enters the
 * recurrent products, and the last step as the output without return_sequences
 * (docs/keras-semantics.md, RNN dropout), and the parts of a step's backward the cells
 * share. The cells themselves are in simple_rnn.c, lstm.c and gru.c.
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

int rnn_recurrent_create(rnn_ref_layer *s, const rnn_model *m, const rnn_layer *l, int max_batch,
                         const rnn_recurrent_cell *cell) {
    rnn_recurrent_state *r = calloc(1, sizeof *r);
    if (!r) return -1;
    s->priv = r;
    r->cell = cell;
    const size_t B = (size_t)max_batch, T = (size_t)m->timesteps, U = (size_t)l->units;
    const size_t in = B * T * (size_t)l->in_features;
    int ok = 1;
    r->h = l->return_sequences ? s->out : rnn_ref_alloc(B * T * U, &ok);
    r->dh = l->return_sequences ? s->dout : rnn_ref_alloc(B * T * U, &ok);
    if (cell->keeps_c) r->c = rnn_ref_alloc(B * T * U, &ok);
    if (cell->keeps_gates) r->gates = rnn_ref_alloc(B * T * 4 * U, &ok);
    if (l->recurrent_dropout > 0) r->recurrent_mask = rnn_ref_alloc(B * U, &ok);
    if (l->dropout > 0) {
        r->input_mask = rnn_ref_alloc(in, &ok);
        r->dropped_input = rnn_ref_alloc(in, &ok);
        r->ddropped_input = rnn_ref_alloc(in, &ok);
    }
    r->scratch = rnn_ref_alloc(rnn_ref_rnn_scratch_len(l->units), &ok);
    return ok ? 0 : -1;
}

void rnn_recurrent_destroy(rnn_ref_layer *s) {
    rnn_recurrent_state *r = s->priv;
    if (!r) return;
    /* h and dh are out and dout with return_sequences: those are model_ref.c's */
    if (r->h != s->out) free(r->h);
    if (r->dh != s->dout) free(r->dh);
    free(r->c);
    free(r->gates);
    free(r->recurrent_mask);
    free(r->input_mask);
    free(r->dropped_input);
    free(r->ddropped_input);
    free(r->scratch);
    free(r);
    s->priv = NULL;
}

/* The input x [n, T, F] as the recurrence sees it. */
static const rnn_real *recurrent_input(const rnn_recurrent_state *r, const rnn_ref_pass *p) {
    return r->dropout_active ? r->dropped_input : p->x;
}

size_t rnn_recurrent_forward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    rnn_recurrent_state *r = s->priv;
    const rnn_layer *l = p->l;
    const rnn_dropout_ctx *ctx = p->ctx;
    const int n = p->n, T = p->m->timesteps, F = l->in_features, U = l->units;
    r->dropout_active = p->training && l->dropout > 0;
    if (r->dropout_active) {
        int per_step = l->dropout_mask == RNN_DROPOUT_PER_STEP;
        rnn_ref_dropout_mask(r->input_mask, ctx->seed, RNN_RNG_DROPOUT, (uint32_t)p->index, ctx->epoch, ctx->rows,
                             l->dropout, per_step, n, T, F);
        rnn_ref_dropout_forward(r->dropped_input, p->x, r->input_mask, (size_t)n * (size_t)T * (size_t)F);
    }
    r->recurrent_dropout_active = p->training && l->recurrent_dropout > 0;
    if (r->recurrent_dropout_active)
        rnn_ref_dropout_mask(r->recurrent_mask, ctx->seed, RNN_RNG_RECURRENT_DROPOUT, (uint32_t)p->index, ctx->epoch,
                             ctx->rows, l->recurrent_dropout, 0, n, 1, U);
    r->cell->forward(r, p, recurrent_input(r, p), r->recurrent_dropout_active ? r->recurrent_mask : NULL);
    if (!l->return_sequences)   /* the output is h_T alone */
        for (int b = 0; b < n; b++)
            memcpy(s->out + (size_t)b * (size_t)U, r->h + ((size_t)b * (size_t)T + (size_t)T - 1) * (size_t)U,
                   (size_t)U * sizeof *s->out);
    return 0;
}

void rnn_recurrent_backward(rnn_ref_layer *s, const rnn_ref_pass *p) {
    rnn_recurrent_state *r = s->priv;
    const rnn_layer *l = p->l;
    const int n = p->n, T = p->m->timesteps, F = l->in_features, U = l->units;
    if (!l->return_sequences) {   /* only h_T was used: every other step gets zero from above */
        memset(r->dh, 0, (size_t)n * (size_t)T * (size_t)U * sizeof *r->dh);
        for (int b = 0; b < n; b++)
            memcpy(r->dh + ((size_t)b * (size_t)T + (size_t)T - 1) * (size_t)U, s->dout + (size_t)b * (size_t)U,
                   (size_t)U * sizeof *r->dh);
    }
    rnn_real *dx = r->dropout_active ? r->ddropped_input : p->dx;
    r->cell->backward(r, p, dx, recurrent_input(r, p), r->recurrent_dropout_active ? r->recurrent_mask : NULL);
    if (r->dropout_active)
        rnn_ref_dropout_backward(p->dx, r->ddropped_input, r->input_mask, (size_t)n * (size_t)T * (size_t)F);
}
