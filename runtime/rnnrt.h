/*
 * rnnrt.h — the public API of librnnrt, the runtime every rnnc model links against.
 *
 * Conventions
 *   - Every public name starts with rnn_ / RNN_.
 *   - rnn_real is the scalar of parameters and activations: float by default, double
 *     when the runtime is built with -DRNN_DOUBLE (the finite-difference tests do).
 *   - Parameters live in one flat buffer of m->param_buffer_len elements; tensor k is
 *     at params + m->tensors[k].offset with Keras's layout. Gradients and optimizer
 *     slots use the same layout. Alignment padding between tensors is kept at zero.
 *   - Activations in the reference runtime are batch-major: a sequence batch is
 *     [B, T, F] with F contiguous.
 *   - Buffers passed in are owned by the caller unless a function says otherwise.
 */
#ifndef RNNRT_H
#define RNNRT_H

#include "rnn_arch.h"

#include <stdatomic.h>
#include <stdint.h>

#ifdef RNN_DOUBLE
typedef double rnn_real;
#else
typedef float rnn_real;
#endif

#define RNN_VERSION "0.1.0"

/* =============================================================================
 * Counter-based random numbers (core/rng.c)
 *
 * Philox4x32-10 (Salmon et al., SC'11). Every random value rnnc uses is a pure
 * function of (seed, purpose, layer, epoch, i, j, k): there is no hidden state, so
 * draws do not depend on call order, batch layout or thread count, and generated code
 * draws exactly the values the reference draws. The mapping:
 *
 *   key     = philox(ctr = {purpose, layer, epoch, 0x726e6e63 "rnnc"},
 *                    key = {seed & 0xffffffff, seed >> 32}) words 0 and 1
 *   value   = word (i & 3) of philox(ctr = {i >> 2, j, k, 0}, key)
 *   uniform = (value >> 8) * 2^-24, in [0, 1), exact in float and double
 *
 * What i, j, k mean for each purpose is given next to each enumerator.
 * =========================================================================== */
typedef enum {
    RNN_RNG_INIT = 1,              /* layer = tensor index; i = element, j = k = 0        */
    RNN_RNG_SHUFFLE = 2,           /* layer = 0, epoch; i = position (Fisher-Yates step)   */
    RNN_RNG_DROPOUT = 3,           /* layer index, epoch; i = feature, j = timestep
                                      (0 for per-sequence masks), k = dataset row (sample) */
    RNN_RNG_RECURRENT_DROPOUT = 4, /* layer index, epoch; i = unit, j = 0, k = dataset row */
    RNN_RNG_SPLIT = 5,             /* validation split permutation; like SHUFFLE, epoch 0  */
    RNN_RNG_DATA = 6,              /* built-in data generator                              */
    RNN_RNG_TEST = 7               /* tests and selftest                                   */
} rnn_rng_purpose;

/* The "layer index" of the dropout masks of a bidirectional layer's backward half: its
 * forward half draws as layer i, its backward half as RNN_RNG_BACKWARD_HALF + i, so the
 * two halves' masks are independent (Keras's two layers draw their own). */
#define RNN_RNG_BACKWARD_HALF 256u

typedef struct {
    uint32_t key[2];
} rnn_rng;

/* One Philox4x32-10 block. */
void rnn_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* The stream for (seed, purpose, layer, epoch). */
rnn_rng rnn_rng_stream(uint64_t seed, rnn_rng_purpose purpose, uint32_t layer, uint32_t epoch);

/* The 32-bit value at (i, j, k) of a stream. */
uint32_t rnn_rng_u32(const rnn_rng *s, uint32_t i, uint32_t j, uint32_t k);

/* Uniform in [0, 1) with 24 bits: (rnn_rng_u32 >> 8) * 2^-24. */
float rnn_rng_uniform(const rnn_rng *s, uint32_t i, uint32_t j, uint32_t k);

/* Standard normal by Box-Muller from the uniforms at (2i, j, k) and (2i+1, j, k). */
double rnn_rng_normal(const rnn_rng *s, uint32_t i, uint32_t j, uint32_t k);

/* Uniform integer in [0, n) (n >= 1) from the value at (i, j, k), by Lemire's
 * multiply-shift on 64 bits made of the values at (2i, j, k) and (2i+1, j, k). */
uint32_t rnn_rng_below(const rnn_rng *s, uint32_t n, uint32_t i, uint32_t j, uint32_t k);

/* A permutation of 0..n-1 (Fisher-Yates, step i draws rnn_rng_below(s, i+1, i, 0, 0)
 * going from i = n-1 down to 1). */
void rnn_rng_permutation(const rnn_rng *s, uint32_t *perm, uint32_t n);


/* =============================================================================
 * Initializers (core/init.c) — Keras defaults, drawn from RNN_RNG_INIT streams
 * (layer = tensor index, i = element index in the tensor's row-major layout).
 *   embeddings            U(-0.05, 0.05)
 *   kernel (rnn, dense)   glorot_uniform over the whole fused matrix:
 *                         U(-l, l), l = sqrt(6 / (fan_in + fan_out)) = sqrt(6/(rows+cols))
 *   recurrent_kernel      orthogonal, gain 1: A [max(r,c), min(r,c)] ~ N(0,1) (element e
 *                         of A drawn with rnn_rng_normal(stream, e, 0, 0)), thin QR,
 *                         columns of Q times sign(diag R), transposed when r < c
 *   bias                  zeros; LSTM with unit_forget_bias: the forget slice [U, 2U) = 1
 * =========================================================================== */

/* Fill params (m->param_buffer_len elements) with freshly initialized weights; the
 * alignment padding is set to zero. */
void rnn_init_params(const rnn_model *m, uint64_t seed, rnn_real *params);

/* =============================================================================
 * Optimizers (core/optim.c) — state laid out like the parameters.
 *   RMSprop (Keras, TF >= 2.11): v = rho*v + (1-rho)*g^2; w -= lr*g/sqrt(v+eps)
 *           epsilon_outside:      w -= lr*g/(sqrt(v)+eps)       (TF <= 2.10)
 *   Adam    (Keras): m += (g-m)(1-b1); v += (g^2-v)(1-b2);
 *           w -= lr*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v)+eps)
 *   SGD     (Keras): momentum 0: w -= lr*g; else b = momentum*b - lr*g;
 *           w += b, or with nesterov w += momentum*b - lr*g
 * Clipping before the update: clipnorm (each tensor scaled to L2 norm <= clipnorm),
 * else global_clipnorm (all tensors together), else clipvalue (each element to
 * [-v, v]). Only the first one set applies, as in Keras 2.11+; rnn_model_layout
 * rejects models that set more than one, as Keras 3 does. The tensors of a layer with
 * trainable = false are neither clipped nor updated. A trainable embedding's gradient
 * is clipped as Keras clips it, one row per lookup before the rows of repeated tokens
 * are summed (embedding_clip per_lookup, the default): clipvalue in the model's
 * backward (rnn_lookup_clipvalue), a norm from the lookups' sum of squares
 * (rnn_optimizer_step_lookups); embedding_clip summed clips the summed table.
 * The rate of step s is the optimizer's learning_rate, or its schedule at s - 1.
 * =========================================================================== */

/* Number of state slots (buffers of param_buffer_len): rmsprop 1, adam 2,
 * sgd 1 with momentum > 0 else 0. */
int rnn_optimizer_slots(const rnn_optimizer *o);

/* Is every one of the n elements of g finite? (The trainer's test before
 * rnn_optimizer_step: a NaN or infinity stops training before any weight changes;
 * rnn_update below tests each piece itself.) Compiled like the update, for the widest
 * vectors the CPU has. */
int rnn_grads_finite(const rnn_real *g, size_t n);

/* One optimizer step. `step` counts from 1 (Adam's bias correction). grads are
 * clipped in place. state holds rnn_optimizer_slots(o) * m->param_buffer_len
 * elements, zero before the first step. The element-wise update runs on
 * rnn_parallel_for (the same result for any thread count), so it must not be called
 * from inside an rnn_parallel_for task. */
void rnn_optimizer_step(const rnn_model *m, const rnn_optimizer *o, rnn_real *params,
                        rnn_real *grads, rnn_real *state, int64_t step);
/* The same, with the sum of the squares of the embedding's per-lookup gradient rows
 * (rnn_model_ops.lookup_sumsq), the embedding's squared norm for clipnorm and
 * global_clipnorm when it is clipped per lookup; NAN: its summed table's norm (which
 * rnn_optimizer_step takes). */
void rnn_optimizer_step_lookups(const rnn_model *m, const rnn_optimizer *o, rnn_real *params, rnn_real *grads,
                                rnn_real *state, int64_t step, double lookup_sumsq);

/* The value every element of each per-lookup row of the embedding's gradient is clipped
 * to before the rows are summed into the table, by the model's backward (the spec's
 * clipvalue with embedding_clip per_lookup and a trainable embedding), or 0. */
double rnn_lookup_clipvalue(const rnn_model *m);
/* Does the spec's clipnorm or global_clipnorm take the embedding's norm from its
 * per-lookup rows (embedding_clip per_lookup, a trainable embedding)? */
int rnn_clips_lookup_norm(const rnn_model *m);

/* The learning rate of step `step` (from 1): learning_rate, or the schedule at step - 1
 * (core/schedule.c). rnn_schedule_rate: a schedule's rate after `iterations` steps (lr
 * when the schedule's kind is NONE). */
double rnn_learning_rate(const rnn_optimizer *o, int64_t step);
double rnn_schedule_rate(const rnn_lr_schedule *s, double lr, double iterations);

/* The same step applied piece by piece, each piece as soon as its gradients are final:
 * a generated trainer's forward_backward applies it in the tasks that sum the
 * gradients (no pass of its own over the gradients, no job of its own for the threads).
 *
 * rnn_update_begin fills u for one step (the arguments as for rnn_optimizer_step; o,
 * params, grads and state must outlive the step) and returns 1, or 0 when the step
 * cannot go piece by piece: clipnorm and global_clipnorm need every gradient first
 * (call rnn_optimizer_step then). rnn_update_apply(u, lo, hi) updates the parameters
 * in [lo, hi) of the buffer (the padding between tensors is skipped): each element
 * must be passed exactly once per step, after its gradient is final and once nothing
 * in the step reads its weight again; calls for disjoint ranges may run on different
 * threads at once. Weights, state and (clipped) gradients come out bit for bit as
 * rnn_optimizer_step's. A piece of a tensor that holds a NaN or an infinity is left
 * as it is and makes rnn_update_ok return 0; other pieces may have been updated by
 * then, so a trainer stops there (rnn_optimizer_step's callers test the gradients
 * first, rnn_grads_finite, and change nothing). */
typedef struct {
    const rnn_model *m;
    const rnn_optimizer *o;
    rnn_real *params, *grads, *state;
    double lr;       /* this step's learning rate (rnn_learning_rate) */
    double alpha;    /* Adam's step size at this step */
    atomic_int bad;  /* a piece held a NaN or an infinity */
} rnn_update;

int rnn_update_begin(rnn_update *u, const rnn_model *m, const rnn_optimizer *o, rnn_real *params, rnn_real *grads,
                     rnn_real *state, int64_t step);
void rnn_update_apply(rnn_update *u, size_t lo, size_t hi);
/* rnn_update_apply for a range whose gradients are all +0 (rows of the embedding table
 * that no sample of the batch looked up), with the same results, without reading them
 * where the optimizer allows: RMSprop then only decays v (v = rho * v), SGD without
 * momentum changes nothing; others update as rnn_update_apply does. */
void rnn_update_apply_zero(rnn_update *u, size_t lo, size_t hi);
int rnn_update_ok(rnn_update *u);

/* =============================================================================
 * Several trainers on one batch (data-parallel training): the gradient reducer.
 *
 * Every trainer holds the whole model and takes the same steps. A batch of n rows is
 * split into `size` parts of whole lane blocks of RNN_REDUCE_ROWS rows (the last block
 * may be partial): with nb = ceil(n / RNN_REDUCE_ROWS) blocks, part k holds blocks
 * [k * nb / size, (k + 1) * nb / size) (rnn_reducer_part). Each trainer computes its
 * part, and the parts' sums are added in part order, each trainer continuing the sums
 * of the one before it: floating-point addition is not associative, and this is the
 * order in which one trainer adds the blocks, so every trainer ends with one trainer's
 * gradient, bit for bit. What the sums are (gradients, loss, counts) is the model
 * implementation's business; the reducer only moves them.
 * =========================================================================== */
#define RNN_REDUCE_ROWS 16

typedef struct {
    int rank, size;        /* this trainer's part, of how many (0 <= rank < size)       */
    void *ctx;
    /* rank > 0: wait for the sums of the parts before this one and copy them into buf
     * (bytes long). 0, or -1 when they cannot come (another trainer failed). */
    int (*receive)(void *ctx, void *buf, size_t bytes);
    /* Every rank, after receive: hand buf (the sums up to and with this part) on to
     * the next rank, if any, then replace it with the sums over the whole batch, those
     * of rank size - 1. 0, or -1 when that fails. */
    int (*pass_on)(void *ctx, void *buf, size_t bytes);
    /* Optional (NULL: models use receive and pass_on): every rank holds its own bytes
     * [offset[k], offset[k] + count[k]) of buf, rank k's part for k < size; on return,
     * every rank's buf holds all of them, bit for bit. A collective: every rank calls it
     * with the same offsets and counts. 0, or -1 when it fails (another trainer failed,
     * or a stop signal came while waiting). Generated code gathers its lane blocks'
     * sums through it and adds them in block order; the trainer's checks, --scatter-data
     * and split evaluation use it too. */
    int (*allgather)(void *ctx, void *buf, const size_t *offset, const size_t *count);
} rnn_reducer;

/* The rows [*first, *first + *count) of a batch of n rows that r's rank holds (count may
 * be 0). */
void rnn_reducer_part(const rnn_reducer *r, int n, int *first, int *count);

/* =============================================================================
 * Reference runtime (reference/) — every layer for any rnn_model, sizes read at run
 * time, written for clarity. It is the yardstick generated code is tested against.
 * =========================================================================== */

/* Dropout context of one forward pass. Masks are pure functions of
 * (seed, layer index, epoch, dataset row, timestep, feature) — see RNN_RNG_DROPOUT —
 * so the same rows give the same masks whatever the batch they are in. */
typedef struct {
    int training;                 /* 0: inference, no dropout at all                    */
    uint64_t seed;
    uint32_t epoch;
    const uint32_t *rows;         /* [n] dataset row of each batch entry; NULL = 0..n-1 */
    /* [n] each sample's loss weight (Keras's sample_weight, class_weight), or NULL for
     * all 1: the loss is sum_b w_b loss_b / n (docs/keras-semantics.md, Sample weights) */
    const float *sample_weights;
} rnn_dropout_ctx;

typedef struct rnn_ref rnn_ref;

/* Allocate a reference model for batches of up to max_batch samples. m must have been
 * laid out (rnn_model_layout) and must outlive the result. NULL on allocation failure. */
rnn_ref *rnn_ref_create(const rnn_model *m, int max_batch);
void rnn_ref_destroy(rnn_ref *r);

/* Forward pass of n samples (1 <= n <= max_batch).
 *   tokens [n, T] token ids in [0, vocab)
 *   labels [n, m->label_width] or NULL: binary in [0, 1] (fractional allowed; one per
 *          sigmoid output), a class index (sparse categorical), or one-hot rows
 *          (categorical)
 *   out    [n, n_outputs] probabilities (sigmoid / softmax applied), may be NULL
 *   ctx    dropout and the samples' loss weights (NULL: inference, weights 1)
 * Returns the batch loss, sum_b w_b loss_b / n (0 when labels is NULL). Keeps what
 * backward needs. */
double rnn_ref_forward(rnn_ref *r, const rnn_real *params, const int32_t *tokens,
                       const rnn_real *labels, int n, const rnn_dropout_ctx *ctx, rnn_real *out);

/* Gradient of the last forward's batch-mean loss with respect to every parameter,
 * written into grads (param_buffer_len elements, padding zero). The last forward must
 * have had labels. */
void rnn_ref_backward(rnn_ref *r, const rnn_real *params, rnn_real *grads);

/* forward_backward_part of the model interface (rnn_model_ops): forward and backward of
 * this trainer's n samples of a batch of total shared through reducer. */
double rnn_ref_forward_backward_part(rnn_ref *r, const rnn_real *params, const int32_t *const *samples,
                                     const rnn_real *labels, int n, int total, const rnn_dropout_ctx *ctx,
                                     rnn_real *grads, const rnn_reducer *reducer);

/* After rnn_ref_backward: the gradient with respect to the embedding layer's output,
 * [n, T, E]. Owned by r, valid until the next call. */
const rnn_real *rnn_ref_input_grad(const rnn_ref *r);

/* Correct predictions in the last forward, in units of the model's accuracy: binary
 * accuracy counts every output, (p > 0.5) == (y > 0.5) (so the accuracy is the count over
 * n * n_outputs); sparse categorical argmax == label, categorical argmax == argmax of the
 * label (over n). */
int rnn_ref_correct(const rnn_ref *r);

/* After a backward: the sum over the batch's lookups of the squared gradient row of the
 * embedding's output, sum_{b,t} ||d loss / d out[b, t, :]||^2 (0 without labels): the
 * embedding's squared norm when Keras clips its gradient per lookup. */
double rnn_ref_lookup_sumsq(const rnn_ref *r);

/* =============================================================================
 * The model interface (train/) — what the trainer needs from a model. The reference
 * runtime implements it (rnn_reference_ops); generated code implements it with the
 * same contracts, so `rnnc --interpret` and a generated trainer are one program.
 * Every function has the contract of the rnn_ref_* function of the same name.
 * =========================================================================== */
typedef struct {
    const char *name;            /* "reference", "generated", ... (for messages) */
    void *(*create)(const rnn_model *m, int max_batch);
    void (*destroy)(void *impl);
    double (*forward)(void *impl, const rnn_real *params, const int32_t *tokens,
                      const rnn_real *labels, int n, const rnn_dropout_ctx *ctx, rnn_real *out);
    void (*backward)(void *impl, const rnn_real *params, rnn_real *grads);
    int (*correct)(const void *impl);
    /* Optional (NULL: the trainer calls forward, then backward): forward and then
     * backward of the same batch in one call, with the same results bit for bit
     * (loss returned, out and grads written, correct() as after forward); grads are
     * unspecified when the loss is NaN. Generated code runs each lane block's backward
     * right after its forward, while the block's state is still in the core's cache.
     * Sample b's T ids are samples[b][0..T), wherever they are: the trainer passes the
     * dataset's rows as they lie, and the lane blocks read them on their own threads
     * (one serial copy of the batch fewer per step). With update != NULL (begun by
     * rnn_update_begin on the same params and grads), the optimizer step is applied
     * too, every element through rnn_update_apply; when the loss is not finite it
     * may be partly applied or not at all. */
    double (*forward_backward)(void *impl, rnn_real *params, const int32_t *const *samples,
                               const rnn_real *labels, int n, const rnn_dropout_ctx *ctx, rnn_real *out,
                               rnn_real *grads, rnn_update *update);
    /* Optional (NULL: this implementation trains on one trainer only): forward and
     * backward of this trainer's part of a batch of `total` samples shared with others
     * through reducer (rnn_reducer). samples[b], labels[b] and ctx->rows[b] are the
     * part's n samples (n may be 0). On return grads hold the whole batch's gradient,
     * bit for bit what forward then backward of the whole batch give on one trainer, and
     * the loss returned and correct() are the whole batch's. NaN when the loss is not
     * finite anywhere in the batch or the reducer failed (grads unspecified). */
    double (*forward_backward_part)(void *impl, const rnn_real *params, const int32_t *const *samples,
                                    const rnn_real *labels, int n, int total, const rnn_dropout_ctx *ctx,
                                    rnn_real *grads, const rnn_reducer *reducer);
    /* Optional, both or neither: an implementation that keeps the weights itself (on a
     * device, say) rather than reading the params it is given. params_in copies the
     * trainer's params into it whenever the trainer has set them (initialized, loaded,
     * restored); params_out copies its weights into params whenever the trainer needs
     * them (to save, to snapshot). It must have forward_backward and take every step
     * there, on its own weights, as the rnn_update describes it. */
    void (*params_in)(void *impl, const rnn_real *params);
    void (*params_out)(void *impl, rnn_real *params);
    /* Optional (NULL: a model whose spec clips by a norm per lookup cannot train): the
     * contract of rnn_ref_lookup_sumsq, after backward, forward_backward or
     * forward_backward_part (the whole batch's). */
    double (*lookup_sumsq)(const void *impl);
} rnn_model_ops;

/* Threads for generated code (core/parallel.c). rnn_parallel_for(n, fn, arg) calls
 * fn(arg, i) for every i in [0, n) on up to rnn_get_threads() threads (the calling
 * thread included) and returns when all are done; fn must write only what belongs to
 * i. rnn_set_threads(0) means every core (the default). Calls from several threads at
 * once take turns; fn must not call rnn_parallel_for. */
void rnn_set_threads(int n);
int rnn_get_threads(void);
/* Subnormal floats flushed to zero (results) and read as zero (inputs), as TensorFlow
 * runs Keras's ops (core/fpenv.c): on = 1 sets the mode for the calling thread and for
 * rnn_parallel_for's workers from their next job on, on = 0 restores IEEE gradual
 * underflow. Returns 1 if the CPU has the mode (x86-64, aarch64), else 0 (nothing
 * changes). The trainer's main sets it before any command. */
int rnn_flush_subnormals(int on);
void rnn_parallel_for(int n, void (*fn)(void *arg, int i), void *arg);
/* Start the worker threads for rnn_get_threads() now instead of in the first
 * rnn_parallel_for (the trainer does so before its first batch, so that creating them
 * is not part of the first step). */
void rnn_parallel_start(void);
/* Wake the worker threads that sleep (they do after a millisecond or so without work)
 * and return at once: they wake while the caller does its serial work and spin, ready
 * for a rnn_parallel_for soon after (the trainer calls it before shuffling an epoch, so
 * that the first batch does not wait for a wake-up). */
void rnn_parallel_wake(void);

/* The reference runtime behind the interface. */
extern const rnn_model_ops rnn_reference_ops;

/* Read the weights of a checkpoint or weights file (safetensors) written for m into
 * params (param_buffer_len elements): the model's fingerprint, every tensor's name,
 * dtype and shape are checked, and every value must be finite, as the trainer checks
 * them. 0, or -1 with "PATH: what is wrong" in err. */
int rnn_weights_load(const rnn_model *m, const char *path, rnn_real *params, char *err, size_t errlen);

/* Write len bytes to path atomically: a reader sees the old file or the new one, never
 * a torn one, and on any failure the old file is untouched. 0, or -1 with err. */
int rnn_write_file_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);

/* The trainer's command line: `PROGRAM COMMAND [ARGS]` with COMMAND one of fit,
 * evaluate, predict, summary (see `PROGRAM --help`). m must be laid out. Returns the
 * process exit code: 0 ok, 1 runtime or data error, 2 usage error, 130 interrupted.
 * `program` is the name used in messages and help (e.g. "rnnc specs/x.lua --interpret"). */
int rnn_trainer_main(const rnn_model *m, const rnn_model_ops *ops, const char *program,
                     int argc, char **argv);

/* Check an implementation of the model interface (generated code) against the
 * reference runtime on the same laid-out model m: `PROGRAM selftest [--seed N]`. Both
 * get the same random weights and a partial batch with scattered dataset rows, dropout
 * on; compared are the probabilities, the loss, every gradient tensor, the correct
 * count (exactly), forward_backward (bit for bit against forward then backward, with
 * and without the optimizer's step), an inference forward, and three gradient steps
 * in lockstep. A tensor's error is max|a - r| / max|r|, at most RNN_SELFTEST_TOLERANCE
 * (the weight changes over the steps RNN_SELFTEST_CHANGE_TOLERANCE); a check that
 * fails is judged again against the reference's own float noise (train/selftest.c).
 * Prints a table of the worst errors and PASS, or FAIL naming the first failing check,
 * to out. Returns 0 on PASS, 1 on FAIL. */
#define RNN_SELFTEST_TOLERANCE 1e-5
#define RNN_SELFTEST_CHANGE_TOLERANCE 1e-4
int rnn_selftest(const rnn_model *m, const rnn_model_ops *ops, uint64_t seed, FILE *out);

#endif
