/*
 * optim.c — RMSprop, Adam and SGD exactly as tf.keras (TF 2.11–2.15) updates a
 * variable, with Keras's gradient clipping. Read from keras-team/keras
 * keras/optimizers/{optimizer,rmsprop,adam,sgd}.py (v2.15.0).
 *
 * Only the real elements of each tensor are read or written: the alignment padding
 * between tensors is never touched (it must stay zero in params, and a gradient
 * buffer's padding must not leak into a norm). Each element's update is computed in
 * double and rounded once to rnn_real; norms are accumulated in double so they do not
 * depend on the tensor size's rounding.
 */
#include "rnnrt.h"

#include <math.h>
#include <string.h>

/* The element-wise update is compiled for AVX-512, AVX2 and the baseline (target_clones,
 * picked when the program starts): the library is built for any x86-64, where double
 * square roots and divisions, most of the update, go two at a time. Without contraction
 * into fused multiply-adds the clones compute the same bits: every operation is a
 * correctly rounded IEEE operation, whatever the vector width. gcc does not know the
 * pragma, but contracts nothing in ISO C mode (-std=c17: -ffp-contract=off). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(__x86_64__) && defined(__ELF__) && defined(__linux__) && \
    ((defined(__clang__) && __clang_major__ >= 14) || (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 8))
/* (clang exports the clones' resolver, rnn_optim_step_chunk.resolver, even for a static
 * function: hence the prefixed names) */
#define RNN_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RNN_VECTOR_CLONES
#endif
/* The element loops below are written once and compiled into each clone: they must be
 * inlined there, or they would be built for the baseline only. */
#if defined(__GNUC__) || defined(__clang__)
#define IN_CLONE static inline __attribute__((always_inline))
#else
#define IN_CLONE static inline
#endif

int rnn_optimizer_slots(const rnn_optimizer *o) {
    switch (o->kind) {
    case RNN_OPT_RMSPROP: return 1;                      /* velocity            */
    case RNN_OPT_ADAM: return 2;                         /* m, v                */
    case RNN_OPT_SGD: return o->momentum > 0 ? 1 : 0;    /* momentum buffer     */
    }
    return 0;
}

static double sum_squares(const rnn_real *g, size_t n) {
    double s = 0.0;
    for (size_t e = 0; e < n; e++) s += (double)g[e] * (double)g[e];
    return s;
}

static void scale(rnn_real *g, size_t n, double f) {
    for (size_t e = 0; e < n; e++) g[e] = (rnn_real)((double)g[e] * f);
}

/* clipvalue: each element to [-c, c] */
IN_CLONE void clip_value(rnn_real *g, size_t n, double c) {
    for (size_t e = 0; e < n; e++) {
        if ((double)g[e] > c) g[e] = (rnn_real)c;
        else if ((double)g[e] < -c) g[e] = (rnn_real)-c;
    }
}

/* A tensor of a layer with trainable = false: no clipping sees it, no step changes it
 * (Keras hands the optimizer the trainable variables only). */
static int frozen(const rnn_model *m, int k) { return m->layers[m->tensors[k].layer].frozen; }

/* The embedding's table, when clipping takes its gradient as one row per lookup (Keras's
 * IndexedSlices: docs/keras-semantics.md, Gradient clipping). */
static int per_lookup(const rnn_model *m, const rnn_optimizer *o, int k) {
    return o->embedding_clip == RNN_EMBEDDING_CLIP_PER_LOOKUP && m->layers[0].kind == RNN_LAYER_EMBEDDING &&
           m->tensors[k].layer == 0 && !frozen(m, k);
}

/* The embedding's table, whose lookups' rows the model's backward clipped by value before
 * summing them (rnn_lookup_clipvalue): the optimizer does not clip it again. */
static int clipped_in_backward(const rnn_model *m, int k) { return k == 0 && rnn_lookup_clipvalue(m) > 0; }

/* Tensor k's squared norm as clipping takes it: the per-lookup rows' (lookup_sq, when
 * known) for the embedding clipped per lookup, else its elements'. */
static double clip_squares(const rnn_model *m, const rnn_optimizer *o, const rnn_real *grads, int k, double lookup_sq) {
    if (per_lookup(m, o, k) && !isnan(lookup_sq)) return lookup_sq;
    return sum_squares(grads + m->tensors[k].offset, m->tensors[k].size);
}

/* At most one option is set (the spec checks): Keras 2.11+'s _BaseOptimizer.__init__
 * refuses clipnorm with global_clipnorm, and its _clip_gradients applies only the norm
 * when clipvalue comes with one; Keras 3 refuses any two. The branches below are
 * therefore exclusive (docs/keras-semantics.md, Gradient clipping).
 *
 * clip_by_norm(g, c) = g * c / max(||g||, c) and clip_by_global_norm(gs, c) =
 * gs * c / max(global, c): a gradient within the limit is left as it is, so we scale
 * only when the norm exceeds the limit (bit-for-bit untouched otherwise). A norm scales
 * every row of a tensor alike, so scaling the summed embedding table is scaling its
 * lookups' rows before they are summed; clipvalue of the lookups' rows happened in the
 * model's backward (rnn_lookup_clipvalue), and the table is not clipped again. */
static void clip_gradients(const rnn_model *m, const rnn_optimizer *o, rnn_real *grads, double lookup_sq) {
    if (o->clipnorm > 0) {
        for (int k = 0; k < m->n_tensors; k++) {
            const rnn_tensor *t = &m->tensors[k];
            if (frozen(m, k)) continue;
            double nrm = sqrt(clip_squares(m, o, grads, k, lookup_sq));
            if (nrm > o->clipnorm) scale(grads + t->offset, t->size, o->clipnorm / nrm);
        }
    } else if (o->global_clipnorm > 0) {
        double ss = 0.0;
        for (int k = 0; k < m->n_tensors; k++)
            if (!frozen(m, k)) ss += clip_squares(m, o, grads, k, lookup_sq);
        double nrm = sqrt(ss);
        if (nrm > o->global_clipnorm)
            for (int k = 0; k < m->n_tensors; k++)
                if (!frozen(m, k)) scale(grads + m->tensors[k].offset, m->tensors[k].size, o->global_clipnorm / nrm);
    } else if (o->clipvalue > 0) {
        for (int k = 0; k < m->n_tensors; k++)
            if (!frozen(m, k) && !clipped_in_backward(m, k))
                clip_value(grads + m->tensors[k].offset, m->tensors[k].size, o->clipvalue);
    }
}

double rnn_lookup_clipvalue(const rnn_model *m) {
    const rnn_optimizer *o = &m->optimizer;
    if (!(o->clipvalue > 0) || o->clipnorm > 0 || o->global_clipnorm > 0 || m->n_tensors < 1 || !per_lookup(m, o, 0))
        return 0;
    return o->clipvalue;
}

int rnn_clips_lookup_norm(const rnn_model *m) {
    const rnn_optimizer *o = &m->optimizer;
    return (o->clipnorm > 0 || o->global_clipnorm > 0) && m->n_tensors > 0 && per_lookup(m, o, 0);
}

/* RMSprop (new optimizer, not centered, momentum 0):
 *   v = rho*v + (1-rho)*g^2; w -= lr*g/sqrt(v+eps)          (TF >= 2.11, Keras 3)
 *   epsilon_outside:        w -= lr*g/(sqrt(v)+eps)          (TF <= 2.10 legacy)
 * The updated v is used in the same step. */
IN_CLONE void rmsprop(const rnn_optimizer *o, double lr, rnn_real *w, const rnn_real *g, rnn_real *v, size_t n) {
    const double rho = o->rho, eps = o->epsilon;
    /* Two loops rather than a test per element, so that each vectorizes (sqrt and the
     * division dominate; the results are the same either way). */
    if (o->epsilon_outside)
        for (size_t e = 0; e < n; e++) {
            double gd = (double)g[e];
            double vd = rho * (double)v[e] + (1.0 - rho) * gd * gd;
            v[e] = (rnn_real)vd;
            w[e] = (rnn_real)((double)w[e] - lr * gd / (sqrt(vd) + eps));
        }
    else
        for (size_t e = 0; e < n; e++) {
            double gd = (double)g[e];
            double vd = rho * (double)v[e] + (1.0 - rho) * gd * gd;
            v[e] = (rnn_real)vd;
            w[e] = (rnn_real)((double)w[e] - lr * gd / sqrt(vd + eps));
        }
}

/* Adam (Keras form): m += (g-m)(1-b1); v += (g^2-v)(1-b2);
 * w -= alpha * m / (sqrt(v) + eps), alpha = lr*sqrt(1-b2^t)/(1-b1^t).
 * (Epsilon is added to sqrt(v) of the *uncorrected* v, as Keras does, which is not
 * the paper's eps-hat placement.) */
IN_CLONE void adam(const rnn_optimizer *o, double alpha, rnn_real *w, const rnn_real *g, rnn_real *m1,
                   rnn_real *v, size_t n) {
    const double b1 = o->beta_1, b2 = o->beta_2, eps = o->epsilon;
    for (size_t e = 0; e < n; e++) {
        double gd = (double)g[e];
        double md = (double)m1[e] + (gd - (double)m1[e]) * (1.0 - b1);
        double vd = (double)v[e] + (gd * gd - (double)v[e]) * (1.0 - b2);
        m1[e] = (rnn_real)md;
        v[e] = (rnn_real)vd;
        w[e] = (rnn_real)((double)w[e] - alpha * md / (sqrt(vd) + eps));
    }
}

/* SGD (Keras form): without momentum w -= lr*g; with momentum b = mu*b - lr*g and
 * w += b, or with nesterov w += mu*b - lr*g (using the updated b). */
IN_CLONE void sgd(const rnn_optimizer *o, double lr, rnn_real *w, const rnn_real *g, rnn_real *b, size_t n) {
    const double mu = o->momentum;
    for (size_t e = 0; e < n; e++) {
        double gd = (double)g[e];
        if (!b) {
            w[e] = (rnn_real)((double)w[e] - lr * gd);
            continue;
        }
        double bd = mu * (double)b[e] - lr * gd;
        b[e] = (rnn_real)bd;
        double step = o->nesterov ? mu * bd - lr * gd : bd;
        w[e] = (rnn_real)((double)w[e] + step);
    }
}

/* A test of the exponent bits OR-ed over the buffer: one pass that vectorizes (a sum
 * of squares would be a chain of dependent adds). The clones matter as for the update:
 * built for the baseline, the pass takes 4 floats at a time, and it is serial work
 * while the other threads wait. */
#ifdef RNN_DOUBLE
typedef uint64_t real_bits;
#define EXPONENT_BITS 0x7ff0000000000000u
#else
typedef uint32_t real_bits;
#define EXPONENT_BITS 0x7f800000u
#endif
_Static_assert(sizeof(real_bits) == sizeof(rnn_real), "real_bits holds an rnn_real");

IN_CLONE int all_finite(const rnn_real *g, size_t n) {
    real_bits bad = 0;
    for (size_t i = 0; i < n; i++) {
        real_bits u;
        memcpy(&u, &g[i], sizeof u);
        bad |= (real_bits)((u & EXPONENT_BITS) == EXPONENT_BITS);
    }
    return bad == 0;
}

RNN_VECTOR_CLONES static int rnn_grads_finite_clone(const rnn_real *g, size_t n) { return all_finite(g, n); }

/* (clang 14 names the dispatcher of an external cloned function NAME.ifunc, which other
 * files cannot link to: the clones stay static behind this call) */
int rnn_grads_finite(const rnn_real *g, size_t n) { return rnn_grads_finite_clone(g, n); }

/* The element-wise update in STEP_CHUNKS tasks for rnn_parallel_for: task c updates
 * the c-th of STEP_CHUNKS equal ranges of every tensor. Each element's update depends
 * on nothing else, so the result is the same whatever the number of threads. */
#define STEP_CHUNKS 8

typedef struct {
    const rnn_model *m;
    const rnn_optimizer *o;
    rnn_real *params;
    const rnn_real *grads;
    rnn_real *state;
    size_t len;
    double lr, alpha;
} step_job;

/* The update of the n elements at off (state: slots of len elements each) at rate lr
 * (Adam: step size alpha). */
IN_CLONE void update_elements(const rnn_optimizer *o, double lr, double alpha, rnn_real *params, const rnn_real *grads,
                              rnn_real *state, size_t len, size_t off, size_t n) {
    rnn_real *w = params + off;
    const rnn_real *g = grads + off;
    switch (o->kind) {
    case RNN_OPT_RMSPROP:
        rmsprop(o, lr, w, g, state + off, n);
        break;
    case RNN_OPT_ADAM:
        adam(o, alpha, w, g, state + off, state + len + off, n);
        break;
    case RNN_OPT_SGD:
        sgd(o, lr, w, g, o->momentum > 0 ? state + off : NULL, n);
        break;
    }
}

RNN_VECTOR_CLONES static void rnn_optim_step_chunk(void *arg, int c) {
    const step_job *j = arg;
    for (int k = 0; k < j->m->n_tensors; k++) {
        if (frozen(j->m, k)) continue;
        const size_t size = j->m->tensors[k].size;
        const size_t off = j->m->tensors[k].offset + size * (size_t)c / STEP_CHUNKS;
        const size_t n = j->m->tensors[k].offset + size * (size_t)(c + 1) / STEP_CHUNKS - off;
        update_elements(j->o, j->lr, j->alpha, j->params, j->grads, j->state, j->len, off, n);
    }
}

/* Keras's local_step = iterations + 1 is our `step`; the powers are taken in double. */
static double adam_alpha(const rnn_optimizer *o, double lr, int64_t step) {
    if (o->kind != RNN_OPT_ADAM) return 0.0;
    const double t = (double)step;
    return lr * sqrt(1.0 - pow(o->beta_2, t)) / (1.0 - pow(o->beta_1, t));
}

void rnn_optimizer_step_lookups(const rnn_model *m, const rnn_optimizer *o, rnn_real *params, rnn_real *grads,
                                rnn_real *state, int64_t step, double lookup_sq) {
    clip_gradients(m, o, grads, lookup_sq);
    const double lr = rnn_learning_rate(o, step);
    step_job job = {m, o, params, grads, state, m->param_buffer_len, lr, adam_alpha(o, lr, step)};
    rnn_parallel_for(STEP_CHUNKS, rnn_optim_step_chunk, &job);
}

void rnn_optimizer_step(const rnn_model *m, const rnn_optimizer *o, rnn_real *params,
                        rnn_real *grads, rnn_real *state, int64_t step) {
    rnn_optimizer_step_lookups(m, o, params, grads, state, step, NAN);
}

/* ---- the step piece by piece (rnn_update, rnnrt.h) ---- */

int rnn_update_begin(rnn_update *u, const rnn_model *m, const rnn_optimizer *o, rnn_real *params, rnn_real *grads,
                     rnn_real *state, int64_t step) {
    /* a norm needs every gradient before any update; clipvalue, element by element, does not */
    if (o->clipnorm > 0 || o->global_clipnorm > 0) return 0;
    u->m = m;
    u->o = o;
    u->params = params;
    u->grads = grads;
    u->state = state;
    u->lr = rnn_learning_rate(o, step);
    u->alpha = adam_alpha(o, u->lr, step);
    atomic_init(&u->bad, 0);
    return 1;
}

/* One piece [off, off + n) of tensor k: tested, clipped by value, updated; 0 (nothing
 * changed) if it holds a NaN or an infinity. Cloned like the whole step's chunks. */
RNN_VECTOR_CLONES static int rnn_update_piece(const rnn_update *u, int k, size_t off, size_t n) {
    if (!all_finite(u->grads + off, n)) return 0;
    if (u->o->clipvalue > 0 && !clipped_in_backward(u->m, k)) clip_value(u->grads + off, n, u->o->clipvalue);
    update_elements(u->o, u->lr, u->alpha, u->params, u->grads, u->state, u->m->param_buffer_len, off, n);
    return 1;
}

void rnn_update_apply(rnn_update *u, size_t lo, size_t hi) {
    for (int k = 0; k < u->m->n_tensors && lo < hi; k++) {
        const size_t t0 = u->m->tensors[k].offset, t1 = t0 + u->m->tensors[k].size;
        const size_t a = lo > t0 ? lo : t0, b = hi < t1 ? hi : t1;
        if (a < b && !frozen(u->m, k) && !rnn_update_piece(u, k, a, b - a))
            atomic_store_explicit(&u->bad, 1, memory_order_relaxed);
    }
}

/* RMSprop with g = +0: v = rho * v + (1 - rho) * 0 = rho * v exactly, and w - lr * 0 / ...
 * = w; the velocity's decay is all that changes. */
RNN_VECTOR_CLONES static void rnn_optim_rmsprop_decay(rnn_real *v, double rho, size_t n) {
    for (size_t e = 0; e < n; e++) v[e] = (rnn_real)(rho * (double)v[e]);
}

void rnn_update_apply_zero(rnn_update *u, size_t lo, size_t hi) {
    const rnn_optimizer *o = u->o;
    if (o->kind == RNN_OPT_SGD && !(o->momentum > 0)) return;
    if (o->kind != RNN_OPT_RMSPROP) {
        rnn_update_apply(u, lo, hi);
        return;
    }
    for (int k = 0; k < u->m->n_tensors && lo < hi; k++) {
        const size_t t0 = u->m->tensors[k].offset, t1 = t0 + u->m->tensors[k].size;
        const size_t a = lo > t0 ? lo : t0, b = hi < t1 ? hi : t1;
        if (a < b && !frozen(u->m, k)) rnn_optim_rmsprop_decay(u->state + a, o->rho, b - a);
    }
}

int rnn_update_ok(rnn_update *u) { return atomic_load(&u->bad) == 0; }
