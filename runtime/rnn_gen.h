/*
 * rnn_gen.h — the driver every generated trainer shares: the workspace, the lane blocks
 * of a batch on rnn_parallel_for's threads, the loss, the sums after the blocks and the
 * model interface (rnn_model_ops). Header-only: everything is inlined into the
 * generated file with that file's constants (RNN_GEN_OPS below).
 *
 * A batch of n samples runs in ceil(n / RNN_W) lane blocks; a partial last block is
 * filled with padding lanes (token 0, label 0) whose loss gradient is zero. Each block
 * writes only its own buffers, and whatever is summed over blocks (loss, accuracy,
 * gradients) is summed afterwards in block order, so the results are the same bit for
 * bit whatever the number of threads.
 *
 * What a generated file provides (struct rnn_gen_model): its sizes, its workspace (a
 * struct that starts with rnn_gen_common, and a table of the model's buffers), and its
 * layers as hooks: the forward of a block, its backward, the work before the blocks
 * (the folded embedding table), and the tasks after them (the sums, in
 * RNN_GEN_TAIL_CHUNKS chunks, with the optimizer's step of what each has summed).
 */
#ifndef RNN_GEN_H
#define RNN_GEN_H

#include "rnn_isa.h"
#include "rnn_kernels.h"
#include "rnn_lanes.h"
#include "rnnrt.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RNN_GEN_TAIL_CHUNKS 8   /* tasks the work after the blocks is split into */
#define RNN_GEN_INLINE static inline __attribute__((always_inline))

/* The first member of every generated workspace. */
typedef struct {
    int nblk;              /* lane blocks allocated                                     */
    int n;                 /* samples of the last forward                               */
    int total;             /* the samples the loss is a mean over: n, or the whole batch
                              of which these n are one trainer's part                    */
    int training, labelled, correct;
    int keep;              /* the last forward kept every step's state (backward needs it) */
    int fused;             /* the last forward ran the blocks' backward too             */
    int32_t *tokens;       /* [nblk * W][T] token ids, padding lanes 0                  */
    rnn_real *labels;      /* [nblk * W][label_width]                                   */
    float *weights;        /* [nblk * W] the samples' loss weights, if weighted         */
    int weighted;          /* the last forward had sample weights                       */
    double lookup_sumsq;   /* the last backward's per-lookup embedding rows, squared    */
    uint32_t *rows;        /* [nblk * W] dataset rows (dropout masks)                   */
    rnn_real *acc;         /* [nblk][lane_len][W] per-block, per-lane weight gradients  */
    rnn_real *bsum;        /* [nblk][acc_len] each block's weight gradients, lanes summed */
    double *block_loss;    /* [nblk] loss summed over a block's samples                 */
    int *block_correct;    /* [nblk]                                                    */
    int *block_bad;        /* [nblk] an id or a label out of range                      */
    double *block_lookup;  /* [nblk] the block's per-lookup embedding rows, squared     */
    unsigned char *xbuf;   /* [nblk] records the trainers exchange (rnn_gen_forward_backward_part) */
    size_t *xpart;         /* [2 * xparts] each trainer's offset and count in xbuf          */
    int xparts;
} rnn_gen_common;

/* One of the model's buffers: a rnn_real * field of the workspace, of per_block floats
 * per lane block, or per_block in all when scratch. */
typedef struct {
    size_t field;          /* offsetof(workspace, name) */
    size_t per_block;
    int scratch;
} rnn_gen_buffer;

struct rnn_gen_model;

/* A batch as the blocks see it. */
typedef struct {
    const struct rnn_gen_model *gm;
    void *w;
    const rnn_real *params;
    const rnn_dropout_ctx *ctx;
    const int32_t *tokens;          /* [n][T] ids (forward), or                      */
    const int32_t *const *samples;  /* each sample's row of ids (forward_backward)   */
    const rnn_real *labels;
    rnn_real *out;
    int n;
} rnn_gen_batch;

/* The work after the blocks. */
typedef struct {
    const struct rnn_gen_model *gm;
    void *w;
    const rnn_real *params;
    rnn_real *grads;
    int nblk;
    rnn_update *up;        /* or NULL: gradients only */
} rnn_gen_tail;

/* Per-lane accumulators summed into the gradient sums: sums [sum, sum + len) of a
 * block from its accumulators [lanes, lanes + len) (in units of RNN_W floats). */
typedef struct {
    size_t sum, lanes, len;
} rnn_gen_lane_range;

typedef struct rnn_gen_model {
    int timesteps, vocab, outputs;
    int binary;            /* binary cross-entropy on every output (else a softmax loss)      */
    int categorical;       /* categorical cross-entropy on one-hot labels (else sparse)       */
    int accuracy;          /* rnn_accuracy_kind; 0: the loss's (binary, else sparse)           */
    int keep_always;       /* every forward keeps every step (--unroll full)                  */
    size_t param_len;      /* rnn_model.param_buffer_len                                      */
    size_t acc_offset;     /* where the parameters after the embedding table start            */
    size_t acc_len;        /* how many: each lane block sums their gradients (bsum)           */
    size_t lane_len;       /* of those, how many through per-lane accumulators (acc)           */
    const rnn_gen_lane_range *lane_ranges;   /* which: the others' kernels write bsum directly */
    int n_lane_ranges;
    size_t workspace_size;
    const rnn_gen_buffer *buffers;
    int n_buffers;
    size_t logits, dlogits;   /* fields of the output layer's output and its gradient */
    /* parameter ranges that the reduce tasks do not step (finish does): [lo, hi) pairs */
    size_t held[2][2];
    int n_held;
    /* the model's code */
    void (*prepare)(rnn_gen_batch *a);   /* before the blocks of a forward, or NULL */
    void (*forward_layers)(void *w, const rnn_real *params, int g, const rnn_dropout_ctx *ctx);
    void (*backward_layers)(void *w, const rnn_real *params, int g);
    int tail_tasks;
    void (*tail_task)(void *tail, int c);   /* rnn_gen_tail *, task c of tail_tasks */
    void (*finish)(rnn_gen_tail *t);        /* after the tail tasks, or NULL */
    /* what the tail reads of each block besides bsum (trainers exchange them: see
     * rnn_gen_forward_backward_part), and whether it reads the blocks' token ids too */
    const rnn_gen_buffer *exchanged;
    int n_exchanged;
    int tail_tokens;
} rnn_gen_model;

/* ---- memory -------------------------------------------------------------------------------- */

/* Zeroed floats on a 64-byte boundary: every lane vector of a block is one cache line. */
static inline rnn_real *rnn_gen_calloc(size_t n) {
    const size_t bytes = (n * sizeof(rnn_real) + 63) / 64 * 64;
    rnn_real *p = aligned_alloc(64, bytes ? bytes : 64);
    if (p) memset(p, 0, bytes);
    return p;
}

static inline rnn_real **rnn_gen_field(void *w, size_t field) { return (rnn_real **)(void *)((char *)w + field); }

/* Labels per sample: one per output for binary and categorical cross-entropy, else a
 * class index. */
static inline int rnn_gen_label_width(const struct rnn_gen_model *gm) {
    return gm->binary || gm->categorical ? gm->outputs : 1;
}

static inline void rnn_gen_destroy(const rnn_gen_model *gm, void *impl) {
    rnn_gen_common *c = impl;
    if (!c) return;
    free(c->tokens);
    free(c->labels);
    free(c->rows);
    free(c->acc);
    free(c->bsum);
    free(c->block_loss);
    free(c->block_correct);
    free(c->block_bad);
    free(c->block_lookup);
    free(c->weights);
    free(c->xbuf);
    free(c->xpart);
    for (int i = 0; i < gm->n_buffers; i++) free(*rnn_gen_field(impl, gm->buffers[i].field));
    free(impl);
}

static inline void *rnn_gen_create(const rnn_gen_model *gm, int max_batch) {
    if (max_batch < 1) return NULL;
    rnn_gen_common *c = calloc(1, gm->workspace_size);
    if (!c) return NULL;
    c->nblk = (max_batch + RNN_W - 1) / RNN_W;
    const size_t nb = (size_t)c->nblk;
    int ok = 1;
    ok &= (c->tokens = calloc(nb * RNN_W * (size_t)gm->timesteps, sizeof *c->tokens)) != NULL;
    ok &= (c->labels = calloc(nb * RNN_W * (size_t)rnn_gen_label_width(gm), sizeof *c->labels)) != NULL;
    ok &= (c->weights = calloc(nb * RNN_W, sizeof *c->weights)) != NULL;
    ok &= (c->block_lookup = calloc(nb, sizeof *c->block_lookup)) != NULL;
    ok &= (c->rows = calloc(nb * RNN_W, sizeof *c->rows)) != NULL;
    ok &= (c->acc = rnn_gen_calloc(nb * gm->lane_len * RNN_W)) != NULL;
    ok &= (c->bsum = rnn_gen_calloc(nb * gm->acc_len)) != NULL;
    ok &= (c->block_loss = calloc(nb, sizeof *c->block_loss)) != NULL;
    ok &= (c->block_correct = calloc(nb, sizeof *c->block_correct)) != NULL;
    ok &= (c->block_bad = calloc(nb, sizeof *c->block_bad)) != NULL;
    for (int i = 0; i < gm->n_buffers; i++) {
        const rnn_gen_buffer *b = &gm->buffers[i];
        ok &= (*rnn_gen_field(c, b->field) = rnn_gen_calloc(b->scratch ? b->per_block : nb * b->per_block)) != NULL;
    }
    if (!ok) {
        rnn_gen_destroy(gm, c);
        return NULL;
    }
    return c;
}

/* ---- dropout masks ------------------------------------------------------------------------- */

/* A dropout mask for the lanes of one block, [steps][F][W]: element (j, f) of lane l is
 * kept (1 / (1 - rate)) iff rnn_rng_uniform(stream, f, j, rows[l]) >= rate, exactly as
 * the reference decides (the integer form of that test). Philox runs on the W lanes at
 * once, four blocks side by side (rnn_lanes_philox16); one block gives four features
 * of one step, the blocks taken in (step, features) order four at a time, so that a
 * layer with fewer than 16 inputs fills the four with the next step's. */
static inline void rnn_gen_draw_mask(rnn_real *mask, const rnn_dropout_ctx *ctx, rnn_rng_purpose purpose, uint32_t layer,
                                     int steps, int per_step, int F, double rate, const uint32_t *rows) {
    const rnn_rng s = rnn_rng_stream(ctx->seed, purpose, layer, ctx->epoch);
    const rnn_real kept = (rnn_real)(1.0 / (1.0 - rate));
    const uint32_t threshold = (uint32_t)ceil(rate * 16777216.0);
    const int nfb = (F + 3) / 4, nblocks = steps * nfb; /* Philox blocks: (step, four features) */
    for (int p0 = 0; p0 < nblocks; p0 += 4) {
        const int nb = nblocks - p0 < 4 ? nblocks - p0 : 4;
        uint32_t x[4][4][RNN_W];
        for (int b = 0; b < 4; b++) {
            const int p = p0 + (b < nb ? b : nb - 1); /* past the end: a copy, not used */
            for (int l = 0; l < RNN_W; l++) {
                x[b][0][l] = (uint32_t)(p % nfb);
                x[b][1][l] = per_step ? (uint32_t)(p / nfb) : 0u;
                x[b][2][l] = rows[l];
                x[b][3][l] = 0;
            }
        }
        rnn_lanes_philox16(x, s.key[0], s.key[1]);
        for (int b = 0; b < nb; b++) {
            const int t = (p0 + b) / nfb, f0 = (p0 + b) % nfb * 4, nq = F - f0 < 4 ? F - f0 : 4;
            RNN_ROW_LOOP
            for (int q = 0; q < nq; q++) { /* feature f0 + q is word q of block b */
                const uint32_t *v = x[b][q];
                rnn_real *m = mask + ((size_t)t * (size_t)F + (size_t)(f0 + q)) * RNN_W;
                for (int l = 0; l < RNN_W; l++) m[l] = (v[l] >> 8) >= threshold ? kept : 0.0f;
            }
        }
    }
}

/* ---- the blocks ------------------------------------------------------------------------------ */

/* Block g's token ids (padding lanes: 0), labels and dataset rows, copied on the block's
 * thread; 0, or -1 when an id is out of range (nothing reads with it then). Neither
 * tokens nor samples: a forward redone in place. */
RNN_GEN_INLINE int rnn_gen_block_inputs(const rnn_gen_batch *a, rnn_gen_common *w, int g) {
    const int T = a->gm->timesteps, n = a->n;
    const uint32_t V = (uint32_t)a->gm->vocab;
    for (int l = 0; l < RNN_W && (a->tokens || a->samples); l++) {
        const int b = g * RNN_W + l;
        int32_t *ids = w->tokens + (size_t)b * (size_t)T;
        if (b < n) {
            const int32_t *src = a->samples ? a->samples[b] : a->tokens + (size_t)b * (size_t)T;
            uint32_t bad = 0; /* one test after the copy, which then vectorizes */
            for (int t = 0; t < T; t++) {
                bad |= (uint32_t)src[t] >= V;
                ids[t] = src[t];
            }
            if (bad) return -1;
        } else {
            memset(ids, 0, (size_t)T * sizeof *ids);
        }
        const int L = rnn_gen_label_width(a->gm);
        for (int k = 0; k < L; k++)
            w->labels[(size_t)b * (size_t)L + (size_t)k] = b < n && a->labels ? a->labels[(size_t)b * (size_t)L + (size_t)k] : 0.0f;
        w->weights[b] = b < n && a->ctx && a->ctx->sample_weights ? a->ctx->sample_weights[b] : 1.0f;
        w->rows[b] = b < n ? (a->ctx && a->ctx->rows ? a->ctx->rows[b] : (uint32_t)b) : 0u;
    }
    return 0;
}

/* The first index of the largest of v[0], v[stride], ... (C values; numpy's argmax). */
static inline int rnn_gen_argmax(const rnn_real *v, int C, int stride) {
    int best = 0;
    for (int c = 1; c < C; c++)
        if (v[c * stride] > v[best * stride]) best = c;
    return best;
}

/* The loss and the correct count of block g's samples from its logits z [outputs][W]
 * (in double, as the reference computes them: reference/loss.c), each sample's loss
 * times its weight; the probabilities into out. An argmax is of the probabilities (the
 * first largest), as the reference takes it. */
RNN_GEN_INLINE void rnn_gen_block_loss(const rnn_gen_batch *a, rnn_gen_common *w, int g, const rnn_real *z) {
    const int n = a->n, O = a->gm->outputs, L = rnn_gen_label_width(a->gm);
    const int acc = a->gm->accuracy ? a->gm->accuracy : a->gm->binary ? RNN_ACCURACY_BINARY : RNN_ACCURACY_SPARSE_CATEGORICAL;
    const rnn_real *labels = a->labels;
    const float *weights = a->ctx ? a->ctx->sample_weights : NULL;
    rnn_real *out = a->out;
    double loss = 0.0;
    int correct = 0;
    for (int l = 0; l < RNN_W && g * RNN_W + l < n; l++) {
        const int b = g * RNN_W + l;
        const rnn_real *y = labels ? labels + (size_t)b * (size_t)L : NULL;
        double lb = 0.0, lse = 0.0;   /* the sample's loss; a softmax's log-sum-exp */
        if (!a->gm->binary) {
            double mx = (double)z[l], s = 0.0;
            for (int o = 1; o < O; o++)
                if ((double)z[o * RNN_W + l] > mx) mx = (double)z[o * RNN_W + l];
            for (int o = 0; o < O; o++) s += exp((double)z[o * RNN_W + l] - mx);
            lse = mx + log(s);
        }
        int best = 0;
        rnn_real pbest = 0.0f;
        for (int o = 0; o < O; o++) {
            const double zo = (double)z[o * RNN_W + l];
            const rnn_real p = a->gm->binary ? rnn_probability(z[o * RNN_W + l]) : (rnn_real)exp(zo - lse);
            if (out) out[(size_t)b * (size_t)O + (size_t)o] = p;
            if (o == 0 || p > pbest) best = o, pbest = p;
            if (!y) continue;
            if (a->gm->binary) {
                lb += fmax(zo, 0.0) - zo * (double)y[o] + log1p(exp(-fabs(zo)));
                if (acc == RNN_ACCURACY_BINARY) correct += (p > 0.5f) == (y[o] > 0.5f);
            } else if (a->gm->categorical) {
                lb += (double)y[o] * (lse - zo);
            }
        }
        if (!y) continue;
        if (a->gm->binary && O > 1) lb /= O;
        if (!a->gm->binary && !a->gm->categorical) {
            if (!(y[0] >= 0.0f && y[0] < (rnn_real)O)) {
                w->block_bad[g] = 1;
                continue;
            }
            lb = lse - (double)z[(int)y[0] * RNN_W + l];
            correct += best == (int)y[0];
        } else if (acc == RNN_ACCURACY_CATEGORICAL) {
            correct += best == rnn_gen_argmax(y, O, 1);
        }
        loss += weights ? (double)weights[b] * lb : lb;
    }
    w->block_loss[g] = loss;
    w->block_correct[g] = correct;
}

RNN_GEN_INLINE void rnn_gen_forward_block(const rnn_gen_model *gm, void *arg, int g) {
    const rnn_gen_batch *a = arg;
    rnn_gen_common *w = a->w;
    if (rnn_gen_block_inputs(a, w, g)) {
        w->block_bad[g] = 1;
        return;
    }
    gm->forward_layers(a->w, a->params, g, a->ctx);
    rnn_gen_block_loss(a, w, g, *rnn_gen_field(a->w, gm->logits) + (size_t)g * (size_t)gm->outputs * RNN_W);
}

/* d loss / d logits of the batch loss sum_b w_b loss_b / total for block g, with the
 * reference's arithmetic (rnn_ref_loss_grad); padding lanes get 0. */
RNN_GEN_INLINE void rnn_gen_block_dlogits(const rnn_gen_model *gm, rnn_gen_common *w, int g) {
    const int n = w->n, O = gm->outputs, L = rnn_gen_label_width(gm);
    const rnn_real *z = *rnn_gen_field(w, gm->logits) + (size_t)g * (size_t)O * RNN_W;
    rnn_real *dz = *rnn_gen_field(w, gm->dlogits) + (size_t)g * (size_t)O * RNN_W;
    for (int l = 0; l < RNN_W; l++) {
        const int b = g * RNN_W + l;
        if (b >= n) {
            for (int o = 0; o < O; o++) dz[o * RNN_W + l] = 0.0f;
            continue;
        }
        const rnn_real *y = w->labels + (size_t)b * (size_t)L;
        if (gm->binary) {
            for (int o = 0; o < O; o++) {
                const rnn_real p = rnn_probability(z[o * RNN_W + l]);
                dz[o * RNN_W + l] = w->weighted ? (p - y[o]) * w->weights[b] / (rnn_real)(O * w->total)
                                                : (p - y[o]) / (rnn_real)(O * w->total);
            }
            continue;
        }
        double mx = (double)z[l], s = 0.0;
        for (int o = 1; o < O; o++)
            if ((double)z[o * RNN_W + l] > mx) mx = (double)z[o * RNN_W + l];
        for (int o = 0; o < O; o++) s += exp((double)z[o * RNN_W + l] - mx);
        const double lse = mx + log(s);
        if (gm->categorical) {
            const double wb = w->weighted ? (double)w->weights[b] : 1.0;
            double ysum = 0.0;
            for (int o = 0; o < O; o++) ysum += (double)y[o];
            for (int o = 0; o < O; o++)
                dz[o * RNN_W + l] = (rnn_real)(wb * (exp((double)z[o * RNN_W + l] - lse) * ysum - (double)y[o]) / w->total);
            continue;
        }
        const int c = (int)y[0];
        for (int o = 0; o < O; o++) {
            dz[o * RNN_W + l] = (rnn_real)((exp((double)z[o * RNN_W + l] - lse) - (o == c ? 1.0 : 0.0)) / w->total);
            if (w->weighted) dz[o * RNN_W + l] *= w->weights[b];
        }
    }
}

/* The per-lookup rows of block g's d loss / d embedding output d0 [T][E][W] (its first
 * `lanes` lanes are samples): with clip > 0 every element clipped to [-clip, clip] in
 * place, before the rows are summed into the table (Keras's clipvalue of the lookups'
 * rows); the sum of their squares before any clipping, in double, returned. */
static inline double rnn_gen_lookup_rows(rnn_real *d0, size_t rows, int lanes, double clip) {
    const rnn_real c = (rnn_real)clip;
    double ss = 0.0;
    for (size_t r = 0; r < rows; r++)
        for (int l = 0; l < lanes && l < RNN_W; l++) {
            rnn_real *v = d0 + r * RNN_W + (size_t)l;
            ss += (double)*v * (double)*v;
            if (clip > 0) *v = *v > c ? c : *v < -c ? -c : *v;
        }
    return ss;
}

/* Block g's weight gradients summed over its lanes, each a fixed tree over the 16 lanes:
 * (l, l + 8), then 4, 2, 1 apart. */
RNN_GEN_INLINE void rnn_gen_lane_sums(const rnn_real *acc, rnn_real *bs, size_t n) {
    typedef rnn_real half __attribute__((vector_size(8 * sizeof(rnn_real))));
    typedef rnn_real quarter __attribute__((vector_size(4 * sizeof(rnn_real))));
    _Static_assert(RNN_W == 16, "the tree is written for 16 lanes");
    for (size_t k = 0; k < n; k++) {
        const rnn_vec v = RNN_V(acc + k * RNN_W);
        const half h = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
                       __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
        const quarter q = __builtin_shufflevector(h, h, 0, 1, 2, 3) + __builtin_shufflevector(h, h, 4, 5, 6, 7);
        bs[k] = (q[0] + q[2]) + (q[1] + q[3]);
    }
}

RNN_GEN_INLINE void rnn_gen_backward_block(const rnn_gen_model *gm, void *arg, int g) {
    const rnn_gen_batch *a = arg;
    rnn_gen_common *w = a->w;
    rnn_real *acc = w->acc + (size_t)g * gm->lane_len * RNN_W, *bs = w->bsum + (size_t)g * gm->acc_len;
    memset(acc, 0, gm->lane_len * RNN_W * sizeof *acc);
    if (gm->lane_len < gm->acc_len) memset(bs, 0, gm->acc_len * sizeof *bs);   /* the kernels add into them */
    rnn_gen_block_dlogits(gm, w, g);
    gm->backward_layers(a->w, a->params, g);
    for (int r = 0; r < gm->n_lane_ranges; r++) {
        const rnn_gen_lane_range *q = &gm->lane_ranges[r];
        rnn_gen_lane_sums(acc + q->lanes * RNN_W, bs + q->sum, q->len);
    }
}

/* ---- the sums after the blocks ----------------------------------------------------------------- */

/* The optimizer's step for the parameters [lo, hi), if asked for. */
static inline void rnn_gen_step_range(const rnn_gen_tail *t, size_t lo, size_t hi) {
    if (t->up && lo < hi) rnn_update_apply(t->up, lo, hi);
}

/* dst[k] = the sum of part[g * stride + k] over the nblk blocks, in block order (restrict,
 * and the blocks outside: the elements vectorize). */
static inline void rnn_gen_add_parts(rnn_real *restrict dst, const rnn_real *restrict part, size_t n, int nblk,
                                     size_t stride) {
    for (size_t k = 0; k < n; k++) dst[k] = part[k];
    for (int g = 1; g < nblk; g++)
        for (size_t k = 0; k < n; k++) dst[k] += part[(size_t)g * stride + k];
}

/* Chunk c of the blocks' lane sums, in block order, and the step of those parameters
 * but the held ranges. */
RNN_GEN_INLINE void rnn_gen_reduce_chunk(const rnn_gen_tail *t, int c) {
    const rnn_gen_model *gm = t->gm;
    const rnn_gen_common *w = t->w;
    const size_t k0 = (size_t)c * gm->acc_len / RNN_GEN_TAIL_CHUNKS, k1 = (size_t)(c + 1) * gm->acc_len / RNN_GEN_TAIL_CHUNKS;
    rnn_gen_add_parts(t->grads + gm->acc_offset + k0, w->bsum + k0, k1 - k0, t->nblk, gm->acc_len);
    size_t lo = gm->acc_offset + k0, hi = gm->acc_offset + k1;
    for (int h = 0; h < gm->n_held; h++) {   /* held ranges lie in order within the lane sums */
        rnn_gen_step_range(t, lo, hi < gm->held[h][0] ? hi : gm->held[h][0]);
        if (lo < gm->held[h][1]) lo = gm->held[h][1];
    }
    rnn_gen_step_range(t, lo, hi);
}

/* ---- the model interface --------------------------------------------------------------------------- */

/* forward; with fuse (forward_backward), each block's backward in the same task, while the
 * block's state is still in the core's cache */
RNN_GEN_INLINE double rnn_gen_forward_batch(const rnn_gen_model *gm, void *impl, const rnn_real *params,
                                            const int32_t *tokens, const int32_t *const *samples, const rnn_real *labels,
                                            int n, const rnn_dropout_ctx *ctx, rnn_real *out, int fuse,
                                            void (*forward_block)(void *, int), void (*train_block)(void *, int)) {
    rnn_gen_common *w = impl;
    if (n < 1 || n > w->nblk * RNN_W) return NAN;
    const int nblk = (n + RNN_W - 1) / RNN_W;
    w->n = w->total = n;
    w->training = ctx && ctx->training;
    w->labelled = labels != NULL;
    w->weighted = ctx && ctx->sample_weights;
    w->correct = 0;
    w->keep = gm->keep_always || w->training; /* an inference keeps nothing per step (backward redoes it if asked) */
    rnn_gen_batch a = {gm, w, params, ctx, tokens, samples, labels, out, n};
    if (gm->prepare) gm->prepare(&a);
    for (int g = 0; g < nblk; g++) w->block_bad[g] = 0;
    w->fused = fuse && w->training && labels; /* (an inference's backward redoes the forward) */
    rnn_parallel_for(nblk, w->fused ? train_block : forward_block, &a);
    double loss = 0.0;
    for (int g = 0; g < nblk; g++) { /* in block order */
        if (w->block_bad[g]) return NAN;
        loss += w->block_loss[g];
        w->correct += w->block_correct[g];
    }
    return labels ? loss / n : 0.0;
}

/* backward, and the optimizer's step if up != NULL (forward_backward): every gradient is
 * written once by the tail's tasks, nothing zeroed first here but the padding between
 * the embedding table and the parameters after it */
RNN_GEN_INLINE void rnn_gen_backward_step(const rnn_gen_model *gm, void *impl, const rnn_real *params, rnn_real *grads,
                                          rnn_update *up, void (*forward_block)(void *, int),
                                          void (*backward_block)(void *, int), void (*tail_task)(void *, int),
                                          size_t embedding_len) {
    rnn_gen_common *w = impl;
    if (!w->labelled) {
        memset(grads, 0, gm->param_len * sizeof *grads);
        if (up) rnn_update_apply(up, 0, gm->param_len);
        return;
    }
    if (gm->acc_offset > embedding_len) memset(grads + embedding_len, 0, (gm->acc_offset - embedding_len) * sizeof *grads);
    const int n = w->n, nblk = (n + RNN_W - 1) / RNN_W;
    if (!w->keep) { /* the last forward was an inference: redo it, keeping every step */
        w->keep = 1;
        rnn_gen_batch f = {gm, w, params, NULL, NULL, NULL, NULL, NULL, n};
        rnn_parallel_for(nblk, forward_block, &f);
    }
    rnn_gen_batch a = {gm, w, params, NULL, NULL, NULL, NULL, NULL, n};
    if (!w->fused) rnn_parallel_for(nblk, backward_block, &a);
    w->fused = 0;
    w->lookup_sumsq = 0.0;
    for (int g = 0; g < nblk; g++) w->lookup_sumsq += w->block_lookup[g]; /* in block order */
    rnn_gen_tail t = {gm, w, params, grads, nblk, up};
    rnn_parallel_for(gm->tail_tasks, tail_task, &t);
    if (gm->finish) gm->finish(&t);
}

/* ---- several trainers on one batch (rnn_reducer) ---------------------------------------------------
 * Each trainer runs the lane blocks of its part of the batch; then every trainer gets every
 * block's record — its loss, correct count and bad-input flag, its gradient sums (bsum),
 * the model's exchanged buffers and, if the tail reads them, its token ids — into the
 * block's own slot, and runs the same tail over all the blocks in block order as one
 * trainer runs it over its own: every trainer ends with one trainer's gradient, bit for
 * bit, whatever the number of trainers (gather in order; bench/README.md, "Many
 * machines", says why not a tree or an all-reduce). */
typedef struct {
    double loss, lookup;
    int32_t correct, bad;
} rnn_gen_block_head;

static inline size_t rnn_gen_record_bytes(const rnn_gen_model *gm) {
    size_t b = sizeof(rnn_gen_block_head) + gm->acc_len * sizeof(rnn_real);
    for (int i = 0; i < gm->n_exchanged; i++) b += gm->exchanged[i].per_block * sizeof(rnn_real);
    if (gm->tail_tokens) b += (size_t)RNN_W * (size_t)gm->timesteps * sizeof(int32_t);
    return b;
}

/* Block g's record to rec (out) or from it (!out). */
static inline void rnn_gen_record(const rnn_gen_model *gm, rnn_gen_common *w, int g, unsigned char *rec, int out) {
#define RNN_GEN_MOVE(field, bytes)                                                                                    \
    do {                                                                                                              \
        if (out) memcpy(rec, (field), (bytes));                                                                       \
        else memcpy((field), rec, (bytes));                                                                           \
        rec += (bytes);                                                                                               \
    } while (0)
    rnn_gen_block_head h = {w->block_loss[g], w->block_lookup[g], w->block_correct[g], w->block_bad[g]};
    RNN_GEN_MOVE(&h, sizeof h);
    w->block_loss[g] = h.loss;
    w->block_lookup[g] = h.lookup;
    w->block_correct[g] = h.correct;
    w->block_bad[g] = h.bad;
    RNN_GEN_MOVE(w->bsum + (size_t)g * gm->acc_len, gm->acc_len * sizeof(rnn_real));
    for (int i = 0; i < gm->n_exchanged; i++) {
        const rnn_gen_buffer *b = &gm->exchanged[i];
        RNN_GEN_MOVE(*rnn_gen_field(w, b->field) + (size_t)g * b->per_block, b->per_block * sizeof(rnn_real));
    }
    if (gm->tail_tokens) {
        const size_t ids = (size_t)RNN_W * (size_t)gm->timesteps;
        RNN_GEN_MOVE(w->tokens + (size_t)g * ids, ids * sizeof(int32_t));
    }
#undef RNN_GEN_MOVE
}

/* Where each trainer's records lie in xbuf, for a batch of total samples; 0, or -1 out of memory. */
static inline int rnn_gen_parts(rnn_gen_common *w, const rnn_reducer *red, int total, size_t rec) {
    if (w->xparts != red->size) {
        size_t *p = realloc(w->xpart, 2 * (size_t)red->size * sizeof *p);
        if (!p) return -1;
        w->xpart = p;
        w->xparts = red->size;
    }
    rnn_reducer r = *red;
    for (r.rank = 0; r.rank < red->size; r.rank++) {
        int first, count;
        rnn_reducer_part(&r, total, &first, &count);
        w->xpart[r.rank] = (size_t)(first / RNN_W) * rec;
        w->xpart[red->size + r.rank] = (size_t)((count + RNN_W - 1) / RNN_W) * rec;
    }
    return 0;
}

RNN_GEN_INLINE double rnn_gen_forward_backward_part(const rnn_gen_model *gm, void *impl, const rnn_real *params,
                                                    const int32_t *const *samples, const rnn_real *labels, int n,
                                                    int total, const rnn_dropout_ctx *ctx, rnn_real *grads,
                                                    const rnn_reducer *red, void (*train_block)(void *, int),
                                                    void (*tail_task)(void *, int), size_t embedding_len) {
    rnn_gen_common *w = impl;
    int first, count;
    if (total < 1 || total > w->nblk * RNN_W || !labels) return NAN;
    rnn_reducer_part(red, total, &first, &count);
    if (count != n || first % RNN_W) return NAN;
    const int nblk = (total + RNN_W - 1) / RNN_W, mine = (n + RNN_W - 1) / RNN_W, g0 = first / RNN_W;
    const size_t rec = rnn_gen_record_bytes(gm);
    if (!w->xbuf && !(w->xbuf = malloc((size_t)w->nblk * rec))) return NAN;
    if (rnn_gen_parts(w, red, total, rec)) return NAN;
    /* this trainer's blocks, in slots 0..mine, their loss a mean over the whole batch */
    w->n = n;
    w->total = total;
    w->training = ctx && ctx->training;
    w->weighted = ctx && ctx->sample_weights;
    w->labelled = w->keep = 1;
    if (mine > 0) {
        rnn_gen_batch a = {gm, w, params, ctx, NULL, samples, labels, NULL, n};
        if (gm->prepare) gm->prepare(&a);
        for (int g = 0; g < mine; g++) w->block_bad[g] = 0;
        w->fused = 1;
        rnn_parallel_for(mine, train_block, &a);
        w->fused = 0;
    }
    /* the exchange: through a chain, the records of the parts before this one come first */
    if (!red->allgather && red->rank > 0 && red->receive(red->ctx, w->xbuf, (size_t)nblk * rec)) return NAN;
    for (int g = 0; g < mine; g++) rnn_gen_record(gm, w, g, w->xbuf + (size_t)(g0 + g) * rec, 1);
    if (red->allgather ? red->allgather(red->ctx, w->xbuf, w->xpart, w->xpart + red->size)
                       : red->pass_on(red->ctx, w->xbuf, (size_t)nblk * rec))
        return NAN;
    for (int g = 0; g < nblk; g++) rnn_gen_record(gm, w, g, w->xbuf + (size_t)g * rec, 0);
    /* every block's record in its slot: the loss and the tail as one trainer has them */
    w->n = total;
    double loss = 0.0;
    w->correct = 0;
    w->lookup_sumsq = 0.0;
    for (int g = 0; g < nblk; g++) {
        if (w->block_bad[g]) return NAN;
        loss += w->block_loss[g];
        w->correct += w->block_correct[g];
        w->lookup_sumsq += w->block_lookup[g];
    }
    if (gm->acc_offset > embedding_len) memset(grads + embedding_len, 0, (gm->acc_offset - embedding_len) * sizeof *grads);
    rnn_gen_tail t = {gm, w, params, grads, nblk, NULL};
    rnn_parallel_for(gm->tail_tasks, tail_task, &t);
    if (gm->finish) gm->finish(&t);
    return loss / total;
}

/* The model interface of a generated file: OPS from the rnn_gen_model GEN and the size
 * of its embedding table, every function inlined with GEN's constants. */
#define RNN_GEN_OPS(OPS, GEN, EMBEDDING_LEN)                                                                        \
    static void gen_forward_block_(void *arg, int g) { rnn_gen_forward_block(&GEN, arg, g); }                       \
    static void gen_backward_block_(void *arg, int g) { rnn_gen_backward_block(&GEN, arg, g); }                     \
    static void gen_train_block_(void *arg, int g) {                                                                \
        rnn_gen_forward_block(&GEN, arg, g);                                                                        \
        const rnn_gen_batch *a = arg;                                                                               \
        if (!((rnn_gen_common *)a->w)->block_bad[g]) rnn_gen_backward_block(&GEN, arg, g);                         \
    }                                                                                                               \
    static void *gen_create_(const rnn_model *m, int max_batch) {                                                   \
        (void)m;                                                                                                    \
        return rnn_gen_create(&GEN, max_batch);                                                                     \
    }                                                                                                               \
    static void gen_destroy_(void *impl) { rnn_gen_destroy(&GEN, impl); }                                           \
    static double gen_forward_(void *impl, const rnn_real *params, const int32_t *tokens, const rnn_real *labels,   \
                               int n, const rnn_dropout_ctx *ctx, rnn_real *out) {                                  \
        return rnn_gen_forward_batch(&GEN, impl, params, tokens, NULL, labels, n, ctx, out, 0, gen_forward_block_,   \
                                     gen_train_block_);                                                             \
    }                                                                                                               \
    static void gen_backward_(void *impl, const rnn_real *params, rnn_real *grads) {                                \
        rnn_gen_backward_step(&GEN, impl, params, grads, NULL, gen_forward_block_, gen_backward_block_,             \
                              GEN.tail_task, EMBEDDING_LEN);                                                        \
    }                                                                                                               \
    static int gen_correct_(const void *impl) { return ((const rnn_gen_common *)impl)->correct; }                   \
    static double gen_lookup_sumsq_(const void *impl) { return ((const rnn_gen_common *)impl)->lookup_sumsq; }       \
    static double gen_forward_backward_(void *impl, rnn_real *params, const int32_t *const *samples,                \
                                        const rnn_real *labels, int n, const rnn_dropout_ctx *ctx, rnn_real *out,   \
                                        rnn_real *grads, rnn_update *update) {                                      \
        const double loss = rnn_gen_forward_batch(&GEN, impl, params, NULL, samples, labels, n, ctx, out, 1,         \
                                                  gen_forward_block_, gen_train_block_);                            \
        if (isnan(loss)) return loss; /* grads unspecified (rnnrt.h): the trainer stops */                         \
        rnn_gen_backward_step(&GEN, impl, params, grads, update, gen_forward_block_, gen_backward_block_,            \
                              GEN.tail_task, EMBEDDING_LEN);                                                        \
        return loss;                                                                                                \
    }                                                                                                               \
    static double gen_forward_backward_part_(void *impl, const rnn_real *params, const int32_t *const *samples,     \
                                             const rnn_real *labels, int n, int total, const rnn_dropout_ctx *ctx,  \
                                             rnn_real *grads, const rnn_reducer *reducer) {                         \
        return rnn_gen_forward_backward_part(&GEN, impl, params, samples, labels, n, total, ctx, grads, reducer,     \
                                             gen_train_block_, GEN.tail_task, EMBEDDING_LEN);                       \
    }                                                                                                               \
    static const rnn_model_ops OPS = {RNN_GEN_OPS_NAME, gen_create_, gen_destroy_, gen_forward_, gen_backward_,   \
                                      gen_correct_, gen_forward_backward_, gen_forward_backward_part_, NULL, NULL,   \
                                      gen_lookup_sumsq_}

/* ---- main ----------------------------------------------------------------------------
 * RNN_GEN_MAIN(run) defines main as run(argc, argv). Built with -DRNN_ISA_LEVEL=N (rnnc's
 * default x86-64 build compiles the file once per level and links the copies; rnn_isa.h),
 * it defines rnn_gen_run_N instead, and copy 1 also main, which runs the copy of the best
 * level this CPU has, or of the level the environment's RNN_ISA names (a lower one, to
 * compare the copies on one machine). Selftest's header names the copy that runs. */
#if !defined(RNN_ISA_LEVEL)
#define RNN_GEN_OPS_NAME "generated"
#define RNN_GEN_MAIN(run) \
    int main(int argc, char **argv) { return run(argc, argv); }
#else
#define RNN_GEN_OPS_NAME "generated for " RNN_ISA_LEVEL_NAME
int rnn_gen_run_1(int argc, char **argv);
int rnn_gen_run_2(int argc, char **argv);
int rnn_gen_run_3(int argc, char **argv);
int rnn_gen_run_4(int argc, char **argv);

/* The level to run: the CPU's best, or RNN_ISA's; 0 after a message (RNN_ISA names no
 * level, or one this CPU cannot run). */
static inline int rnn_gen_isa_pick(const char *program) {
    const int cpu = rnn_isa_cpu_level();
    const char *want = getenv("RNN_ISA");
    if (!want || !*want) return cpu;
    for (int level = 1; level <= RNN_ISA_LEVELS; level++) {
        if (strcmp(want, rnn_isa_name(level)) != 0) continue;
        if (level <= cpu) return level;
        fprintf(stderr, "%s: RNN_ISA=%s: this CPU runs at most %s\n", program, want, rnn_isa_name(cpu));
        return 0;
    }
    fprintf(stderr, "%s: RNN_ISA=%s is not a level: x86-64, x86-64-v2, x86-64-v3 or x86-64-v4\n", program, want);
    return 0;
}

static inline int rnn_gen_isa_main(int argc, char **argv) {
    static int (*const runs[RNN_ISA_LEVELS])(int, char **) = {rnn_gen_run_1, rnn_gen_run_2, rnn_gen_run_3, rnn_gen_run_4};
    const int level = rnn_gen_isa_pick(argc > 0 ? argv[0] : "trainer");
    return level ? runs[level - 1](argc, argv) : 2;
}

#if RNN_ISA_LEVEL == 1
#define RNN_GEN_ISA_MAIN_ \
    int main(int argc, char **argv) { return rnn_gen_isa_main(argc, argv); }
#else
#define RNN_GEN_ISA_MAIN_
#endif
#define RNN_GEN_MAIN(run)                                                                      \
    int RNN_ISA_NAMED(rnn_gen_run_)(int argc, char **argv) { return run(argc, argv); }         \
    RNN_GEN_ISA_MAIN_
#endif

#endif
