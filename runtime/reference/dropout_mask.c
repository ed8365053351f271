/*
 * dropout_mask.c — dropout masks, all drawn here; generated code must draw the same.
 *   - A mask element is kept iff u >= rate, u = rnn_rng_uniform(stream, i, j, k) with
 *     stream = rnn_rng_stream(seed, purpose, layer_index, epoch); kept elements are
 *     1/(1-rate), dropped ones 0 (TF's dropout: keep iff u >= rate, scale 1/(1-rate)).
 *   - layer_index is the layer's index in rnn_model.layers; k = row = ctx->rows[b], or b
 *     when rows is NULL, so a sample's mask depends on its dataset row, never on its
 *     position in the batch.
 *   - Nothing at inference: no ctx, or ctx->training == 0, means no mask at all.
 */
#include "ref_layers.h"

/* Each dropout's purpose and i, j:
 *   - RNN `dropout` (LSTM, GRU, SimpleRNN): one mask shared by all gates, multiplied into
 *     the layer's input x [B, T, F] before the recurrence; purpose RNN_RNG_DROPOUT,
 *     i = feature, j = t with RNN_DROPOUT_PER_STEP (tf.keras 2.x fused path: a fresh
 *     mask per step) or j = 0 with RNN_DROPOUT_PER_SEQUENCE (Keras 3), which SimpleRNN
 *     always uses.
 *   - RNN `recurrent_dropout`: one mask [B, U] per sequence shared by all gates, purpose
 *     RNN_RNG_RECURRENT_DROPOUT, i = unit, j = 0, on the copy of h_{t-1} that enters the
 *     recurrent matmuls; the carried state (c, and z ⊙ h_{t-1} in the GRU) is unmasked.
 *   - The Dropout layer: purpose RNN_RNG_DROPOUT, element-wise per (row, t, f) on
 *     sequences (i = f, j = t) and per (row, f) on vectors (j = 0). */

/* mask [B, T, F]. u is a multiple of 2^-24, exact in double, and the test u >= rate is
 * done in double: the same as the integer test (rnn_rng_u32 >> 8) >= ceil(rate * 2^24),
 * while comparing against (float)rate can differ where rounding rate to float crosses a
 * multiple of 2^-24. The kept value is 1/(1-rate) in double, then rounded to rnn_real. */
void rnn_ref_dropout_mask(rnn_real *mask, uint64_t seed, rnn_rng_purpose purpose,
                          uint32_t layer_index, uint32_t epoch, const uint32_t *rows,
                          double rate, int per_step, int B, int T, int F) {
    const rnn_rng stream = rnn_rng_stream(seed, purpose, layer_index, epoch);
    const rnn_real kept = (rnn_real)(1.0 / (1.0 - rate));
    for (int b = 0; b < B; b++) {
        uint32_t row = rows ? rows[b] : (uint32_t)b;
        for (int t = 0; t < T; t++) {
            uint32_t step = per_step ? (uint32_t)t : 0u;
            rnn_real *m = mask + ((size_t)b * (size_t)T + (size_t)t) * (size_t)F;
            for (int f = 0; f < F; f++) {
                double u = (double)rnn_rng_uniform(&stream, (uint32_t)f, step, row);
                m[f] = u >= rate ? kept : 0;
            }
        }
    }
}

void rnn_ref_dropout_forward(rnn_real *out, const rnn_real *x, const rnn_real *mask, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = x[i] * mask[i];
}

void rnn_ref_dropout_backward(rnn_real *dx, const rnn_real *dout, const rnn_real *mask, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] = dout[i] * mask[i];
}
