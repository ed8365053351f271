/*
 * ref_layers.h — the layers of the reference runtime (internal to librnnrt): one file
 * per layer kind, each layer a forward/backward pair written as plain loops with sizes
 * read at run time. They are the yardstick generated code is compared with, so they
 * favour being obviously right over being fast.
 */
#ifndef RNN_REF_LAYERS_H
#define RNN_REF_LAYERS_H

#include "rnnrt.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* Conventions shared by every function here:
 *   - Row-vector maths as in Keras: a pre-activation is x·K + b with K [in, out]
 *     row-major, so K[i * out + j] multiplies input i into output j.
 *   - Activations are batch-major: a sequence batch is [B, T, F] with F contiguous,
 *     a vector batch is [B, F]. Masks (dropout) hold 0 or 1/(1-rate); NULL: no dropout.
 *   - Buffers belong to the caller; nothing here allocates (model_ref.c sizes every
 *     buffer once). Forward functions overwrite their outputs and caches. Backward
 *     functions ADD into parameter gradients (the caller zeroes them once and every
 *     layer accumulates) and OVERWRITE the gradient with respect to their input. */

/* Elementary functions in the precision of rnn_real. */
#ifdef RNN_DOUBLE
#define REF_EXP exp
#define REF_TANH tanh
#else
#define REF_EXP expf
#define REF_TANH tanhf
#endif

/* The logistic function 1/(1+e^-x), written so that e^|x| never overflows. */
static inline rnn_real rnn_ref_sigmoid(rnn_real x) {
    if (x >= 0) return (rnn_real)1 / ((rnn_real)1 + REF_EXP(-x));
    rnn_real e = REF_EXP(x);
    return e / ((rnn_real)1 + e);
}

/* ---- embedding.c ---------------------------------------------------------------
 * out [B, T, E] = table[tokens[b, t], :]          tokens [B, T], table [V, E]
 * An id outside [0, V) gives a zero vector (never an out-of-bounds read); the
 * function returns how many such ids it saw so the caller can report the error. */
size_t rnn_ref_embedding_forward(rnn_real *out, const int32_t *tokens, const rnn_real *table,
                                 int B, int T, int V, int E);
/* dtable [V, E] += scatter of dout [B, T, E] onto the looked-up rows (ids outside
 * [0, V) are skipped). Repeated ids accumulate, as a dense gradient of the gather. */
void rnn_ref_embedding_backward(rnn_real *dtable, const rnn_real *dout, const int32_t *tokens,
                                int B, int T, int V, int E);
/* The same with every element of dout clipped to [-clip, clip] (clip > 0) before it is
 * added: Keras's clipvalue on the per-lookup rows (docs/keras-semantics.md, Gradient
 * clipping). */
void rnn_ref_embedding_backward_clipped(rnn_real *dtable, const rnn_real *dout, const int32_t *tokens, int B, int T,
                                        int V, int E, double clip);
/* The mask of an embedding with mask_zero (docs/keras-semantics.md, Masking): step_mask
 * [B, T] is 1 where tokens [B, T] holds a token, 0 where it holds the padding id 0;
 * reversed (a direction that reads from the last step): step t of each row is token T-1-t's. */
void rnn_ref_step_mask(rnn_real *step_mask, const int32_t *tokens, int B, int T, int reversed);

/* ---- the recurrent layers (simple_rnn.c, lstm.c, gru.c) ---------------------------
 * Every recurrent layer reads x [B, T, F] (already multiplied by its input-dropout
 * mask, if any) and writes the whole hidden sequence h [B, T, U]; the model takes the
 * last step when return_sequences is off. h_{-1} = c_{-1} = 0. recurrent_mask [B, U]
 * or NULL: recurrent dropout, on the copy of h_{t-1} that enters the recurrent matmuls
 * (hm = h_{t-1} ⊙ m); the state carried forward is unmasked.
 * Backward takes dh [B, T, U], the gradient of the loss with respect to every h_t
 * coming from above (zero rows where the output was not used), and writes dx [B, T, F].
 * scratch holds rnn_ref_rnn_scratch_len(U) elements (rows are processed one at a
 * time, so it does not grow with B); its contents are not needed between calls.
 * step_mask [B, T] or NULL: 0 where step t of row b is padding (mask_zero), in the order
 * the steps run. A masked step carries the state over unchanged (h_t = h_{t-1}, and c_t
 * = c_{t-1}; zeros before the first step), as Keras's backend.rnn does with a mask; going
 * back it hands the whole gradient of its state to the step before and adds nothing to
 * dx_t or the weights. */
size_t rnn_ref_rnn_scratch_len(int U);

/* SimpleRNN: h_t = act(x_t·K + b + hm_{t-1}·R), act in {linear, sigmoid, tanh, relu}.
 *   kernel [F, U], recurrent_kernel [U, U], bias [U]. */
void rnn_ref_simple_rnn_forward(rnn_real *h, const rnn_real *x, const rnn_real *kernel,
                                const rnn_real *recurrent_kernel, const rnn_real *bias,
                                const rnn_real *recurrent_mask, const rnn_real *step_mask, rnn_activation act,
                                int B, int T, int F, int U);
void rnn_ref_simple_rnn_backward(rnn_real *dx, rnn_real *dkernel, rnn_real *drecurrent_kernel,
                                 rnn_real *dbias, rnn_real *scratch, const rnn_real *dh,
                                 const rnn_real *x, const rnn_real *h, const rnn_real *kernel,
                                 const rnn_real *recurrent_kernel, const rnn_real *recurrent_mask,
                                 const rnn_real *step_mask, rnn_activation act, int B, int T, int F, int U);

/* LSTM (Keras gate order i, f, c, o):
 *   z = x_t·K + hm_{t-1}·R + b;  i = σ(z_i)  f = σ(z_f)  g = tanh(z_c)  o = σ(z_o)
 *   c_t = f ⊙ c_{t-1} + i ⊙ g;   h_t = o ⊙ tanh(c_t)
 *   kernel [F, 4U], recurrent_kernel [U, 4U], bias [4U].
 * Caches written by forward: c [B, T, U]; gates [B, T, 4U] holding i, f, g, o after
 * their activations. */
void rnn_ref_lstm_forward(rnn_real *h, rnn_real *c, rnn_real *gates, const rnn_real *x,
                          const rnn_real *kernel, const rnn_real *recurrent_kernel,
                          const rnn_real *bias, const rnn_real *recurrent_mask, const rnn_real *step_mask,
                          int B, int T, int F, int U);
void rnn_ref_lstm_backward(rnn_real *dx, rnn_real *dkernel, rnn_real *drecurrent_kernel,
                           rnn_real *dbias, rnn_real *scratch, const rnn_real *dh,
                           const rnn_real *x, const rnn_real *h, const rnn_real *c,
                           const rnn_real *gates, const rnn_real *kernel,
                           const rnn_real *recurrent_kernel, const rnn_real *recurrent_mask,
                           const rnn_real *step_mask, int B, int T, int F, int U);

/* GRU (Keras gate order z, r, h), kernel [F, 3U], recurrent_kernel [U, 3U].
 *   reset_after = 1: bias [2, 3U] (row 0 input side, row 1 recurrent side)
 *     z = σ(x·K_z + b0_z + hm·R_z + b1_z)   r = σ(x·K_r + b0_r + hm·R_r + b1_r)
 *     n = tanh(x·K_h + b0_h + r ⊙ (hm·R_h + b1_h))
 *   reset_after = 0: bias [3U], input side only
 *     z = σ(x·K_z + b_z + hm·R_z)   r = σ(x·K_r + b_r + hm·R_r)
 *     n = tanh(x·K_h + b_h + (r ⊙ hm)·R_h)
 *   h_t = z ⊙ h_{t-1} + (1 - z) ⊙ n       (h_{t-1} unmasked here)
 * Cache written by forward: gates [B, T, 4U] holding z, r, n and, with reset_after,
 * hm·R_h + b1_h (the block the reset gate multiplies; unused otherwise). */
void rnn_ref_gru_forward(rnn_real *h, rnn_real *gates, const rnn_real *x, const rnn_real *kernel,
                         const rnn_real *recurrent_kernel, const rnn_real *bias,
                         const rnn_real *recurrent_mask, const rnn_real *step_mask, int reset_after,
                         int B, int T, int F, int U);
void rnn_ref_gru_backward(rnn_real *dx, rnn_real *dkernel, rnn_real *drecurrent_kernel,
                          rnn_real *dbias, rnn_real *scratch, const rnn_real *dh,
                          const rnn_real *x, const rnn_real *h, const rnn_real *gates,
                          const rnn_real *kernel, const rnn_real *recurrent_kernel,
                          const rnn_real *recurrent_mask, const rnn_real *step_mask, int reset_after,
                          int B, int T, int F, int U);

/* ---- dense.c -----------------------------------------------------------------------
 * out [B, O] = act(x·K + b)       x [B, I], kernel [I, O], bias [O]
 * act: linear, sigmoid, tanh, relu, or softmax over the O outputs of each row. */
void rnn_ref_dense_forward(rnn_real *out, const rnn_real *x, const rnn_real *kernel,
                           const rnn_real *bias, rnn_activation act, int B, int I, int O);
/* dpre [B, O] is scratch (the gradient at the pre-activation). The activation's
 * derivative is taken from out, the forward's result. */
void rnn_ref_dense_backward(rnn_real *dx, rnn_real *dkernel, rnn_real *dbias, rnn_real *dpre,
                            const rnn_real *dout, const rnn_real *x, const rnn_real *out,
                            const rnn_real *kernel, rnn_activation act, int B, int I, int O);

/* Apply an activation to a [B, O] block in place (softmax per row). Used for the output
 * layer, whose logits the loss reads. */
void rnn_ref_activate(rnn_real *v, rnn_activation act, int B, int O);
/* dpre [B, O] = d loss / d pre-activation from dout [B, O] and the activation's output
 * out [B, O] (softmax per row: the Jacobian-vector product). dpre may be dout. */
void rnn_ref_activation_backward(rnn_real *dpre, const rnn_real *dout, const rnn_real *out, rnn_activation act, int B, int O);

/* ---- conv1d.c ------------------------------------------------------------------------
 * out [B, w.out, O] = act(b + Σ_j Σ_c x[t·stride + j·dilation − pad_left][c] · K[j][c][o]),
 * the steps outside [0, w.in) zeros;  x [B, w.in, C], kernel [w.size, C, O], bias [O] or NULL. */
void rnn_ref_conv1d_forward(rnn_real *out, const rnn_real *x, const rnn_real *kernel, const rnn_real *bias,
                            rnn_activation act, int B, int C, int O, const rnn_window *w);
/* dx [B, w.in, C] (overwritten); dkernel, dbias (NULL without a bias) added to; dpre
 * [B, w.out, O] scratch. */
void rnn_ref_conv1d_backward(rnn_real *dx, rnn_real *dkernel, rnn_real *dbias, rnn_real *dpre, const rnn_real *dout,
                             const rnn_real *x, const rnn_real *out, const rnn_real *kernel, rnn_activation act, int B,
                             int C, int O, const rnn_window *w);

/* ---- pooling.c -------------------------------------------------------------------------
 * out [B, w.out, C] = the maximum (average = 0) or the mean (average = 1) over the steps
 * of each window that lie inside [0, w.in) (padding is never part of a window: the mean
 * divides by the steps inside); x [B, w.in, C]. */
void rnn_ref_pool1d_forward(rnn_real *out, const rnn_real *x, int average, int B, int C, const rnn_window *w);
/* dx [B, w.in, C] (overwritten): the mean's gradient spread over its steps; the maximum's
 * to the first step of its window holding it (x == out), summed where windows overlap. */
void rnn_ref_pool1d_backward(rnn_real *dx, const rnn_real *dout, const rnn_real *x, const rnn_real *out, int average,
                             int B, int C, const rnn_window *w);
/* The window of a global pooling layer: the whole sequence of T steps, one output. */
rnn_window rnn_ref_global_window(int T);
/* Global average pooling over the steps a mask keeps (Keras's GlobalAveragePooling1D with a
 * mask): out [B, C] = Σ_t m[b][t] x[b][t] / Σ_t m[b][t], step_mask [B, T]; a row without a
 * kept step is 0 / 0, NaN, as in Keras. dx [B, T, C] = m[b][t] dout[b] / Σ_t m[b][t]. */
void rnn_ref_masked_mean_forward(rnn_real *out, const rnn_real *x, const rnn_real *step_mask, int B, int T, int C);
void rnn_ref_masked_mean_backward(rnn_real *dx, const rnn_real *dout, const rnn_real *step_mask, int B, int T, int C);

/* ---- dropout.c ----------------------------------------------------------------------
 * The masking rules are spelled out at the top of dropout.c.
 *
 * Fill mask [B, T, F] for one layer and one forward pass: element (b, t, f) is
 * 1/(1-rate) iff rnn_rng_uniform(rnn_rng_stream(seed, purpose, layer_index, epoch),
 * f, per_step ? t : 0, row) >= rate, else 0, with row = rows ? rows[b] : b. */
void rnn_ref_dropout_mask(rnn_real *mask, uint64_t seed, rnn_rng_purpose purpose,
                          uint32_t layer_index, uint32_t epoch, const uint32_t *rows,
                          double rate, int per_step, int B, int T, int F);
/* SpatialDropout1D (spatial_dropout1d.c): out [B, T, F] = x ⊙ mask [B, F], one mask
 * element per sample and channel for every step; dx = dout ⊙ mask. */
void rnn_ref_spatial_dropout_forward(rnn_real *out, const rnn_real *x, const rnn_real *mask, int B, int T, int F);
void rnn_ref_spatial_dropout_backward(rnn_real *dx, const rnn_real *dout, const rnn_real *mask, int B, int T, int F);
/* out [n] = x ⊙ mask (n elements); dx [n] = dout ⊙ mask. */
void rnn_ref_dropout_forward(rnn_real *out, const rnn_real *x, const rnn_real *mask, size_t n);
void rnn_ref_dropout_backward(rnn_real *dx, const rnn_real *dout, const rnn_real *mask, size_t n);

/* ---- loss.c ----------------------------------------------------------------------------
 * Both losses read logits (the output layer before its sigmoid/softmax) and average over
 * the B samples given, accumulating in double.
 *
 * Binary cross-entropy, logits [B] (one unit), labels [B] in [0, 1] (fractional allowed):
 *   loss_b = max(z,0) - z*y + log1p(exp(-|z|)),   d loss / d z_b = (σ(z) - y) / B */
double rnn_ref_bce_forward(const rnn_real *logits, const rnn_real *labels, int B);
void rnn_ref_bce_backward(rnn_real *dlogits, const rnn_real *logits, const rnn_real *labels, int B);
/* The same as parts of a larger batch of N samples (rnn_reducer): sum + the B samples'
 * losses added in order, and their gradients divided by N. */
double rnn_ref_bce_sum(const rnn_real *logits, const rnn_real *labels, int B, double sum);
void rnn_ref_bce_grad(rnn_real *dlogits, const rnn_real *logits, const rnn_real *labels, int B, int N);
/* Sparse categorical cross-entropy, logits [B, C], labels [B] holding class indices:
 *   loss_b = logsumexp(z_b) - z_b[y_b],   d loss / d z_b = (softmax(z_b) - onehot(y_b)) / B
 * A label outside [0, C) makes the loss NaN and its gradient row zero. */
double rnn_ref_sparse_cce_forward(const rnn_real *logits, const rnn_real *labels, int B, int C);
void rnn_ref_sparse_cce_backward(rnn_real *dlogits, const rnn_real *logits, const rnn_real *labels,
                                 int B, int C);
double rnn_ref_sparse_cce_sum(const rnn_real *logits, const rnn_real *labels, int B, int C, double sum);
void rnn_ref_sparse_cce_grad(rnn_real *dlogits, const rnn_real *logits, const rnn_real *labels, int B, int C, int N);
/* Correct predictions. Binary: probs [B], (p > 0.5) == (y > 0.5). Sparse categorical:
 * probs [B, C], argmax (first maximum on ties) == label. */
int rnn_ref_binary_correct(const rnn_real *probs, const rnn_real *labels, int B);
int rnn_ref_sparse_correct(const rnn_real *probs, const rnn_real *labels, int B, int C);

/* Any loss of rnn_loss_kind on C outputs (labels [B, C], or [B] class indices for the
 * sparse one), each sample weighted by weights[b] (NULL: 1): sum + sum_b w_b loss_b (NaN
 * for a class index outside [0, C)), and the gradient of sum_b w_b loss_b / N into
 * dlogits [B, C] (binary: each sample's loss is the mean of its C outputs' losses). */
double rnn_ref_loss_sum(rnn_loss_kind loss, const rnn_real *logits, const rnn_real *labels, const float *weights, int B,
                        int C, double sum);
void rnn_ref_loss_grad(rnn_loss_kind loss, rnn_real *dlogits, const rnn_real *logits, const rnn_real *labels,
                       const float *weights, int B, int C, int N);
/* Correct predictions under accuracy acc (rnnrt.h, rnn_ref_correct's units). */
int rnn_ref_count_correct(rnn_accuracy_kind acc, const rnn_real *probs, const rnn_real *labels, int B, int C);

#endif
