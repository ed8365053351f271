/*
 * selftest.c — a model implementation (generated code) checked against the reference
 * runtime on the same laid-out model: `PROGRAM selftest [--seed N]`.
 *
 * Both get the same random weights (the spec's initializers, every bias perturbed so
 * that none is all zeros), the same partial batch (11 samples in buffers for 13, dataset
 * rows 1000 + 37 b) and dropout context (training, epoch 2). A result's error is relative
 * to its own scale, max_i |a_i - r_i| / max(max_i |r_i|, 1e-30), so that tiny elements of
 * a large tensor do not dominate and a tensor tiny next to the others is still checked;
 * NaN or infinity anywhere fails, and outputs are filled with NaN before each call so
 * that one left unwritten fails too (checks: check_all).
 */
#include "rnnrt.h"

#include <fenv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ST_MAX_BATCH = 13, ST_N = 11, ST_EPOCH = 2, ST_STEPS = 3 };

/* The checks' outcome, accumulated while printing. */
typedef struct {
    FILE *out;
    int width;      /* label column */
    int failures;
    char first[RNN_TENSOR_NAME_MAX + 64];   /* label of the first failing row */
} st_report;

static int is_bad(double x) { return isnan(x) || isinf(x); }

/* max_i |a_i - r_i| and max_i |r_i|; with base != NULL, of the changes a_i - base_i
 * and r_i - base_i. 0 if any value is NaN or infinite. */
static int err_parts(const rnn_real *a, const rnn_real *r, const rnn_real *base, size_t n, double *diff,
                     double *scale) {
    *diff = *scale = 0;
    for (size_t i = 0; i < n; i++) {
        double ai = (double)a[i], ri = (double)r[i];
        if (is_bad(ai) || is_bad(ri)) return 0;
        if (base) {
            ai -= (double)base[i];
            ri -= (double)base[i];
        }
        *diff = fmax(*diff, fabs(ai - ri));
        *scale = fmax(*scale, fabs(ri));
    }
    return 1;
}

static double rel_err_scalar(double a, double r) {
    if (is_bad(a) || is_bad(r)) return NAN;
    return fabs(a - r) / fmax(fabs(r), 1e-30);
}

static int ok_err(double e, double tol) { return !isnan(e) && e <= tol; }

static void note_failure(st_report *rep, const char *label) {
    if (rep->failures++ == 0) snprintf(rep->first, sizeof rep->first, "%s", label);
}

static void fmt_err(char *buf, size_t len, double e) {
    if (isnan(e)) snprintf(buf, len, "NaN");
    else snprintf(buf, len, "%.1e", e);
}

static void row_correct(st_report *rep, const char *label, int a, int r) {
    char v[64];
    snprintf(v, sizeof v, "%d (reference %d)", a, r);
    fprintf(rep->out, "  %-*s %s%s\n", rep->width, label, v, a == r ? "" : "  FAIL");
    if (a != r) note_failure(rep, label);
}

/* Largest |g| in the gradient's alignment padding (must be 0); NaN counts. */
static double padding_max(const rnn_model *m, const rnn_real *g) {
    double worst = 0;
    size_t pos = 0;
    for (int k = 0; k <= m->n_tensors; k++) {
        size_t end = k < m->n_tensors ? m->tensors[k].offset : m->param_buffer_len;
        for (size_t i = pos; i < end; i++) {
            double x = fabs((double)g[i]);
            if (isnan(x)) return NAN;
            if (x > worst) worst = x;
        }
        if (k < m->n_tensors) pos = m->tensors[k].offset + m->tensors[k].size;
    }
    return worst;
}

static void fill_nan(rnn_real *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (rnn_real)NAN;
}

static int model_has_dropout(const rnn_model *m) {
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].dropout > 0 || m->layers[i].recurrent_dropout > 0) return 1;
    return 0;
}

/* The optimizer's step inside forward_backward (rnn_update, as fit runs it) must leave
 * the weights, the optimizer's state and the gradients exactly as forward_backward and
 * then rnn_optimizer_step do: so no weight changes before the pass has read it, and
 * every element is updated once. The spec's optimizer without its norm clip, if any
 * (rnn_update_begin refuses those and fit then steps apart), for its first step. grads:
 * the batch's gradient (= forward_backward's, the row before). */
static void fused_step_row(st_report *rep, const rnn_model *m, const rnn_model_ops *ops, void *impl,
                           const rnn_real *params, const rnn_real *grads, const int32_t *const *samples,
                           const rnn_real *labels, int n, const rnn_dropout_ctx *ctx) {
    const char *label = "forward_backward + optimizer step";
    rnn_optimizer o = m->optimizer;
    o.clipnorm = o.global_clipnorm = 0;
    const size_t P = m->param_buffer_len, S = (size_t)rnn_optimizer_slots(&o) * P;
    rnn_real *p_a = malloc((P ? P : 1) * sizeof *p_a), *p_r = malloc((P ? P : 1) * sizeof *p_r);
    rnn_real *g_a = malloc((P ? P : 1) * sizeof *g_a), *g_r = malloc((P ? P : 1) * sizeof *g_r);
    rnn_real *s_a = calloc(S + 1, sizeof *s_a), *s_r = calloc(S + 1, sizeof *s_r);
    rnn_real *o_a = malloc(((size_t)n * (size_t)m->n_outputs + 1) * sizeof *o_a);
    int same = 0;
    double diff = NAN; /* the largest difference of a weight; NaN: not run (out of memory) */
    rnn_update u;
    if (p_a && p_r && g_a && g_r && s_a && s_r && o_a && rnn_update_begin(&u, m, &o, p_a, g_a, s_a, 1)) {
        memcpy(p_r, params, P * sizeof *p_r);
        memcpy(g_r, grads, P * sizeof *g_r);
        rnn_optimizer_step(m, &o, p_r, g_r, s_r, 1);
        memcpy(p_a, params, P * sizeof *p_a);
        fill_nan(g_a, P);
        ops->forward_backward(impl, p_a, samples, labels, n, ctx, o_a, g_a, &u);
        same = rnn_update_ok(&u) && memcmp(p_a, p_r, P * sizeof *p_a) == 0 && memcmp(g_a, g_r, P * sizeof *g_a) == 0 &&
               memcmp(s_a, s_r, S * sizeof *s_a) == 0;
        for (int k = 0; k < m->n_tensors; k++)   /* a frozen layer's weights (trainable = false) do not move */
            if (m->layers[m->tensors[k].layer].frozen)
                same &= memcmp(p_a + m->tensors[k].offset, params + m->tensors[k].offset,
                               m->tensors[k].size * sizeof *p_a) == 0;
        diff = 0;
        for (size_t i = 0; i < P; i++) diff = fmax(diff, fabs((double)p_a[i] - (double)p_r[i]));
    }
    char v[32];
    fmt_err(v, sizeof v, diff);
    fprintf(rep->out, "  %-*s %s%s\n", rep->width, label, v, same ? "" : "  FAIL");
    if (!same) note_failure(rep, label);
    free(p_a), free(p_r), free(g_a), free(g_r), free(s_a), free(s_r), free(o_a);
}

/* Everything one comparison needs: the two implementations, the weights, the batch. */
typedef struct {
    const rnn_model *m;
    const rnn_model_ops *ops, *ref_ops;
    void *impl, *ref;
    int n;                          /* samples in the batch                              */
    uint64_t seed;
    rnn_real *params;               /* the starting weights                              */
    int32_t *tokens, *tokens_rev;   /* the batch, and the batch in reverse order         */
    rnn_real *labels, *labels_rev;  /* [n, label_width]                                  */
    float *weights, *weights_rev;   /* the samples' loss weights                         */
    uint32_t *rows, *rows_rev;      /* their rows in the dataset (dropout masks follow)  */
    rnn_dropout_ctx ctx;            /* training, epoch ST_EPOCH                          */
    double lr_of[RNN_MAX_TENSORS];  /* the steps' size per tensor                        */
    rnn_real *grad_a, *w_a, *out_a, *out_f; /* the implementation's results (scratch)   */
    struct st_ref_run *ref_run;     /* the reference's results, from params (reference_run) */
} st_run;

/* The reference's float noise. Some results cannot be computed to 1e-5 of their own
 * scale in float by any implementation (a gradient whose terms cancel, like a last
 * bias's Σ_b (p_b - y_b) over a batch with both labels; a weight change 1000 times
 * smaller than the weight), and two correct implementations differ there only by their
 * order of rounding. So a failed check is judged again with its result's scale raised
 * to NOISE_MULT times its noise / tolerance, the noise being the largest change the
 * reference makes in it when every weight moves by one rounding, the batch is summed
 * in reverse order, or every operation rounds the other way (reference_noise). Where
 * the noise is small, as nearly everywhere, nothing changes; a fault of 1e-4 of a
 * tensor still fails (tests/test_selftest.c, tests/selftest.sh). */
typedef struct {
    double prob, loss, grad[RNN_MAX_TENSORS];               /* training forward, backward */
    double lookup_sumsq;                                    /* the embedding's per-lookup norm² */
    double inf_prob, inf_loss, rev_grad[RNN_MAX_TENSORS];   /* inference; gradient after it */
    double step_loss[ST_STEPS], weight[RNN_MAX_TENSORS], change[RNN_MAX_TENSORS]; /* the steps */
} st_noise;

/* The steps' size, per tensor: each step moves a tensor's largest element by 0.1% of
 * its largest weight (judged on the reference's first gradient g), so every tensor
 * moves visibly and none leaves the regime where the comparison means something,
 * whatever the model's scale (a linear SimpleRNN over many steps can have gradients
 * far above 1, a softmax head's far below). A tensor whose gradient is tiny next to
 * the others' (1% of the largest, say a unit that recurrent dropout switched off) is
 * not scaled up: its gradient may be rounding noise, and moving a weight along noise
 * would measure the noise. */
static void step_sizes(const rnn_model *m, const rnn_real *params, const rnn_real *g, double *lr_of) {
    double gall = 0;
    for (size_t i = 0; i < m->param_buffer_len; i++)
        if (fabs((double)g[i]) > gall) gall = fabs((double)g[i]);
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        double gmax = 0, wmax = 0;
        for (size_t i = 0; i < t->size; i++) {
            if (fabs((double)g[t->offset + i]) > gmax) gmax = fabs((double)g[t->offset + i]);
            if (fabs((double)params[t->offset + i]) > wmax) wmax = fabs((double)params[t->offset + i]);
        }
        if (wmax == 0) wmax = 0.1;   /* a zero tensor (a bias) still moves */
        if (gmax < 0.01 * gall) gmax = 0.01 * gall;
        lr_of[k] = gmax > 0 && isfinite(gmax) ? 0.001 * wmax / gmax : 0.0;
    }
}

/* w -= lr_k g for every tensor k (the same arithmetic for both implementations). SGD,
 * not the spec's optimizer: the optimizer is shared library code (rnn_optimizer_step,
 * checked against PyTorch by the oracle tests), and RMSprop and Adam divide each
 * gradient element by its own magnitude, so an element that is zero up to rounding
 * would move its weight by a whole +-lr step of random sign: noise, not correctness.
 * SGD's step is linear in the gradient, so one tolerance serves every check. */
static void sgd_step(const rnn_model *m, const double *lr_of, rnn_real *w, const rnn_real *g) {
    for (int k = 0; k < m->n_tensors; k++)
        for (size_t i = 0, o = m->tensors[k].offset; i < m->tensors[k].size; i++)
            w[o + i] -= (rnn_real)(lr_of[k] * (double)g[o + i]);
}

/* ---- the reference's results, and its float noise ------------------------------------- */

/* What the reference computes from starting weights w0, for every check. */
typedef struct st_ref_run {
    rnn_real *out, *grad, *inf_out, *rev_grad, *w, *g; /* w: after the steps; g: scratch */
    double loss, inf_loss, step_loss[ST_STEPS];
    double lookup_sumsq;
    int correct, inf_correct;
} st_ref_run;

static int ref_run_alloc(st_ref_run *r, size_t P, size_t outs) {
    memset(r, 0, sizeof *r);
    r->out = calloc(outs + 1, sizeof *r->out);
    r->inf_out = calloc(outs + 1, sizeof *r->inf_out);
    r->grad = calloc(P + 1, sizeof *r->grad);
    r->rev_grad = calloc(P + 1, sizeof *r->rev_grad);
    r->w = calloc(P + 1, sizeof *r->w);
    r->g = calloc(P + 1, sizeof *r->g);
    return r->out && r->inf_out && r->grad && r->rev_grad && r->w && r->g;
}

static void ref_run_free(st_ref_run *r) {
    free(r->out), free(r->inf_out), free(r->grad), free(r->rev_grad), free(r->w), free(r->g);
}

/* The reference's side of every check from the weights w0 (check_all compares the
 * implementation with the run from params); with reversed, on the batch in reverse
 * order (the same samples, each with its own dropout masks: only the order of the sums
 * over samples changes), the outputs put back in the batch's order. With set_steps (the
 * run from params), the steps' sizes are set from its gradient first; every other run
 * takes the same steps. Outputs are filled with NaN first, so that an element the
 * reference leaves unwritten fails too. */
static void reference_run(st_run *s, const rnn_real *w0, int reversed, int set_steps, st_ref_run *r) {
    const rnn_model_ops *ro = s->ref_ops;
    const int n = s->n;
    const size_t P = s->m->param_buffer_len, K = (size_t)s->m->n_outputs;
    fill_nan(r->out, (size_t)n * K);
    fill_nan(r->inf_out, (size_t)n * K);
    fill_nan(r->grad, P);
    fill_nan(r->rev_grad, P);
    const int32_t *tok = reversed ? s->tokens_rev : s->tokens, *tok_rev = reversed ? s->tokens : s->tokens_rev;
    const rnn_real *lab = reversed ? s->labels_rev : s->labels, *lab_rev = reversed ? s->labels : s->labels_rev;
    rnn_dropout_ctx ctx = s->ctx;
    ctx.rows = reversed ? s->rows_rev : s->rows;
    ctx.sample_weights = reversed ? s->weights_rev : s->weights;
    r->loss = ro->forward(s->ref, w0, tok, lab, n, &ctx, r->out);
    r->correct = ro->correct(s->ref);
    ro->backward(s->ref, w0, r->grad);
    r->lookup_sumsq = ro->lookup_sumsq(s->ref);
    if (set_steps) step_sizes(s->m, w0, r->grad, s->lr_of);
    r->inf_loss = ro->forward(s->ref, w0, tok, lab, n, NULL, r->inf_out);
    r->inf_correct = ro->correct(s->ref);
    ro->forward(s->ref, w0, tok_rev, lab_rev, n, NULL, NULL);
    ro->backward(s->ref, w0, r->rev_grad);
    memcpy(r->w, w0, P * sizeof *r->w);
    for (int step = 1; step <= ST_STEPS; step++) {
        const rnn_dropout_ctx sctx = {.training = 1, .seed = s->seed, .epoch = (uint32_t)step, .rows = ctx.rows,
                                      .sample_weights = ctx.sample_weights};
        r->step_loss[step - 1] = ro->forward(s->ref, r->w, tok, lab, n, &sctx, NULL);
        fill_nan(r->g, P);
        ro->backward(s->ref, r->w, r->g);
        sgd_step(s->m, s->lr_of, r->w, r->g);
    }
    for (int b = 0; reversed && b < n / 2; b++) /* back to the batch's order */
        for (size_t j = 0; j < K; j++) {
            const size_t x = (size_t)b * K + j, y = (size_t)(n - 1 - b) * K + j;
            rnn_real t = r->out[x];
            r->out[x] = r->out[y], r->out[y] = t;
            t = r->inf_out[x];
            r->inf_out[x] = r->inf_out[y], r->inf_out[y] = t;
        }
}

/* max |a_i - b_i| over [o, o + len), NaN if either has a NaN or an infinity */
static double max_diff(const rnn_real *a, const rnn_real *b, size_t o, size_t len) {
    double d = 0;
    for (size_t i = o; i < o + len; i++) {
        const double x = (double)a[i], y = (double)b[i];
        if (is_bad(x) || is_bad(y)) return NAN;
        d = fmax(d, fabs(x - y));
    }
    return d;
}

/* max over [o, o + len) of |u_i + d_i - 2 b_i|, NaN if any is NaN or infinite */
static double max_even(const rnn_real *u, const rnn_real *d, const rnn_real *b, size_t o, size_t len) {
    double e = 0;
    for (size_t i = o; i < o + len; i++) {
        const double x = (double)u[i], y = (double)d[i], z = (double)b[i];
        if (is_bad(x) || is_bad(y) || is_bad(z)) return NAN;
        e = fmax(e, fabs(x + y - 2 * z));
    }
    return e;
}

/* The largest change of each result over the runs in r against base, into nz. */
static void noise_from(st_noise *nz, const rnn_model *m, const st_ref_run *base, const st_ref_run *r, size_t outs,
                       const rnn_real *w0, const rnn_real *params) {
    nz->prob = fmax(nz->prob, max_diff(r->out, base->out, 0, outs));
    nz->loss = fmax(nz->loss, fabs(r->loss - base->loss));
    if (isfinite(r->lookup_sumsq) && isfinite(base->lookup_sumsq))
        nz->lookup_sumsq = fmax(nz->lookup_sumsq, fabs(r->lookup_sumsq - base->lookup_sumsq));
    nz->inf_prob = fmax(nz->inf_prob, max_diff(r->inf_out, base->inf_out, 0, outs));
    nz->inf_loss = fmax(nz->inf_loss, fabs(r->inf_loss - base->inf_loss));
    for (int k = 0; k < ST_STEPS; k++)
        nz->step_loss[k] = fmax(nz->step_loss[k], fabs(r->step_loss[k] - base->step_loss[k]));
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        nz->grad[k] = fmax(nz->grad[k], max_diff(r->grad, base->grad, t->offset, t->size));
        nz->rev_grad[k] = fmax(nz->rev_grad[k], max_diff(r->rev_grad, base->rev_grad, t->offset, t->size));
        nz->weight[k] = fmax(nz->weight[k], max_diff(r->w, base->w, t->offset, t->size));
        for (size_t i = t->offset; i < t->offset + t->size; i++) { /* the change from each run's own start */
            const double dm = (double)r->w[i] - (double)w0[i], db = (double)base->w[i] - (double)params[i];
            if (isfinite(dm) && isfinite(db)) nz->change[k] = fmax(nz->change[k], fabs(dm - db));
        }
    }
}

/* The same from the runs rounded upward (u) and downward (d): |u + d - 2 base|. */
static void noise_from_modes(st_noise *nz, const rnn_model *m, const st_ref_run *base, const st_ref_run *u,
                             const st_ref_run *d, size_t outs) {
    nz->prob = fmax(nz->prob, max_even(u->out, d->out, base->out, 0, outs));
    nz->loss = fmax(nz->loss, fabs(u->loss + d->loss - 2 * base->loss));
    if (isfinite(u->lookup_sumsq) && isfinite(d->lookup_sumsq) && isfinite(base->lookup_sumsq))
        nz->lookup_sumsq = fmax(nz->lookup_sumsq, fabs(u->lookup_sumsq + d->lookup_sumsq - 2 * base->lookup_sumsq));
    nz->inf_prob = fmax(nz->inf_prob, max_even(u->inf_out, d->inf_out, base->inf_out, 0, outs));
    nz->inf_loss = fmax(nz->inf_loss, fabs(u->inf_loss + d->inf_loss - 2 * base->inf_loss));
    for (int k = 0; k < ST_STEPS; k++)
        nz->step_loss[k] = fmax(nz->step_loss[k], fabs(u->step_loss[k] + d->step_loss[k] - 2 * base->step_loss[k]));
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        nz->grad[k] = fmax(nz->grad[k], max_even(u->grad, d->grad, base->grad, t->offset, t->size));
        nz->rev_grad[k] = fmax(nz->rev_grad[k], max_even(u->rev_grad, d->rev_grad, base->rev_grad, t->offset, t->size));
        const double w = max_even(u->w, d->w, base->w, t->offset, t->size); /* (all start from params) */
        nz->weight[k] = fmax(nz->weight[k], w);
        nz->change[k] = fmax(nz->change[k], w);
    }
}

/* Fills nz against the reference's run from the weights (s->ref_run), the largest
 * change of each result over these runs:
 *   - NOISE_RUNS from the weights moved by one rounding each, w (1 + s 2^-23) with signs
 *     s = +-1 drawn from the seed: the rounding of the weights, carried through;
 *   - one on the batch in reverse order: the sums over samples rounded in another
 *     order, which moving the weights does not show where a result is a sum of terms
 *     that cancel (a last layer's bias);
 *   - where the platform has the rounding modes, one rounded upward and one downward,
 *     combined as u + d - 2 r (r the run rounded to nearest). Each operation of the
 *     reference, its tanh and exp too, rounds one way in u and the other in d, and
 *     u + d - 2 r moves each by one ulp, up or down as the exact value lies (to first
 *     order: the bias of each mode, which would add up over a deep stack, cancels).
 *     That is rounding inside the model, which moving the weights cannot show where it
 *     matters most: a saturated tanh h whose derivative 1 - h^2 is computed from h,
 *     where one ulp of h is 1e-3 of the derivative and two correct tanh differ by it.
 * 0 when out of memory (the floor is then the plain one). */
enum { NOISE_RUNS = 4 };
#define NOISE_MULT 8.0 /* a result passes within this many times its noise */
static void reference_noise(st_run *s, st_noise *nz) {
    memset(nz, 0, sizeof *nz);
    const rnn_model *m = s->m;
    const size_t P = m->param_buffer_len, outs = (size_t)s->n * (size_t)m->n_outputs;
    const st_ref_run base = *s->ref_run;
    st_ref_run moved = {0}, down = {0}; /* (freed whichever allocation failed) */
    rnn_real *w0 = calloc(P + 1, sizeof *w0);
    if (ref_run_alloc(&moved, P, outs) && ref_run_alloc(&down, P, outs) && w0) {
        for (int run = 0; run <= NOISE_RUNS; run++) {
            const rnn_rng g = rnn_rng_stream(s->seed, RNN_RNG_TEST, (uint32_t)m->n_tensors + 1, 3 + (uint32_t)run);
            for (size_t i = 0; i < P; i++) /* (the last run: the weights as they are, the batch reversed) */
                w0[i] = run == NOISE_RUNS ? s->params[i]
                                          : s->params[i] * (rnn_real)(rnn_rng_uniform(&g, (uint32_t)i, 0, 0) < 0.5f
                                                                          ? 1.0 - 0x1p-23 : 1.0 + 0x1p-23);
            reference_run(s, w0, run == NOISE_RUNS, 0, &moved);
            noise_from(nz, m, &base, &moved, outs, w0, s->params);
        }
#if defined(FE_UPWARD) && defined(FE_DOWNWARD)
        const int mode = fegetround();
        if (fesetround(FE_UPWARD) == 0) {
            reference_run(s, s->params, 0, 0, &moved);
            const int down_ok = fesetround(FE_DOWNWARD) == 0;
            if (down_ok) reference_run(s, s->params, 0, 0, &down);
            fesetround(mode);
            if (down_ok) noise_from_modes(nz, m, &base, &moved, &down, outs);
        }
#endif
    }
    /* A change is also never judged finer than its weights can hold: ST_STEPS + 1
     * roundings of the tensor's largest weight (a change 5000 times smaller than its
     * weight, one rounding of the weight is 2e-4 of it; the two implementations'
     * roundings part at a step whenever their gradients differ in the last bit). */
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        double wmax = 0;
        for (size_t i = t->offset; i < t->offset + t->size; i++) wmax = fmax(wmax, fabs((double)base.w[i]));
        const rnn_real wm = (rnn_real)wmax;
        if (isfinite(wmax))
            nz->change[k] = fmax(nz->change[k],
                                 (ST_STEPS + 1) * ((double)nextafterf(wm, INFINITY) - (double)wm) / NOISE_MULT);
    }
    /* (fmax ignores a NaN: a result that is not finite has no noise and fails as before) */
    ref_run_free(&moved);
    ref_run_free(&down);
    free(w0);
}

/* The error of a check against its tolerance: max_i |a_i - r_i| relative to the
 * larger of the result's own scale max_i |r_i| (at least 1e-30) and the reference's
 * float noise times NOISE_MULT / tol. *plain gets the error without the noise term.
 * NaN if any value is NaN or infinite. */
static double noise_err(const rnn_real *a, const rnn_real *r, const rnn_real *base, size_t n, double noise,
                        double tol, double *plain) {
    double diff, scale;
    if (!err_parts(a, r, base, n, &diff, &scale)) return *plain = NAN;
    const double plain_scale = fmax(scale, 1e-30);
    *plain = diff / plain_scale;
    return diff / fmax(plain_scale, NOISE_MULT * noise / tol);
}

static double noise_err_scalar(double a, double r, double noise, double tol, double *plain) {
    *plain = rel_err_scalar(a, r);
    if (is_bad(a) || is_bad(r)) return NAN;
    return fabs(a - r) / fmax(fmax(fabs(r), 1e-30), NOISE_MULT * noise / tol);
}

/* The float-noise floor changed the value of a result whose plain error is above tol. */
static int by_floor(double e, double plain, double tol) {
    return !isnan(e) && !isnan(plain) && e < plain && !ok_err(plain, tol);
}

/* A row's verdict and value e; when the float-noise floor raised the scale of a
 * result whose plain error is above the tolerance, the plain error too. */
static void row_noise(st_report *rep, const char *label, double e, double plain) {
    char v[32], p[32];
    fmt_err(v, sizeof v, e);
    fmt_err(p, sizeof p, plain);
    const int ok = ok_err(e, RNN_SELFTEST_TOLERANCE);
    fprintf(rep->out, "  %-*s %s%s", rep->width, label, v, ok ? "" : "  FAIL");
    if (by_floor(e, plain, RNN_SELFTEST_TOLERANCE)) fprintf(rep->out, "  (%s without the float-noise floor)", p);
    fputc('\n', rep->out);
    if (!ok) note_failure(rep, label);
}

/* ---- the checks ------------------------------------------------------------------------ */

/* Every check, printed as rows to rep->out: the implementation's results against the
 * reference's (s->ref_run, reference_run from params; nz NULL: no float-noise floor).
 * The probabilities, the loss, every gradient tensor (by Keras name), zero alignment
 * padding, the correct count (exactly); forward_backward against forward and backward,
 * bit for bit, also with the optimizer's step inside (rnn_update); the inference forward
 * (ctx NULL), and the gradient after an inference forward of the reversed batch (an
 * inference keeps no per-step state, so a gradient must redo the forward); then ST_STEPS
 * SGD steps in lockstep, epoch = step so the masks change: their losses, and per tensor
 * the change w_after - w_before and the weights w_after. */
static void check_all(st_run *s, const st_noise *nz, st_report *rep) {
    static const st_noise none;
    if (!nz) nz = &none;
    const rnn_model *m = s->m;
    const rnn_model_ops *ops = s->ops;
    void *impl = s->impl;
    const st_ref_run *ref = s->ref_run;
    const size_t P = m->param_buffer_len, T = (size_t)m->timesteps, K = (size_t)m->n_outputs;
    const int n = s->n;
    const rnn_real *params = s->params;
    rnn_real *grad_a = s->grad_a, *w_a = s->w_a, *out_a = s->out_a, *out_f = s->out_f;
    const double tol = RNN_SELFTEST_TOLERANCE;
    const char *oname = "sgd";   /* see sgd_step: steps linear in g */
    char label[RNN_TENSOR_NAME_MAX + 64];
    double plain;

    /* ---- one training forward and backward ----------------------------------------- */
    fill_nan(out_a, (size_t)ST_MAX_BATCH * K);
    double loss_a = ops->forward(impl, params, s->tokens, s->labels, n, &s->ctx, out_a);
    const int correct_a = ops->correct(impl);
    fill_nan(grad_a, P);
    ops->backward(impl, params, grad_a);

    double e = noise_err(out_a, ref->out, NULL, (size_t)n * K, nz->prob, tol, &plain);
    row_noise(rep, "probabilities", e, plain);
    e = noise_err_scalar(loss_a, ref->loss, nz->loss, tol, &plain);
    row_noise(rep, "loss", e, plain);
    /* A gradient tensor is judged against its own scale, however small next to the
     * model's others (through a deep stack the first layers' gradients are 1e-20 of the
     * head's, and must still be right); where its own rounding makes that too fine (a
     * sum whose terms cancel, a tensor the masks made all zero up to rounding), the
     * float-noise floor decides. */
    const rnn_real *grad_r = ref->grad;
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        snprintf(label, sizeof label, "grad %s", t->name);
        e = noise_err(grad_a + t->offset, grad_r + t->offset, NULL, t->size, nz->grad[k], tol, &plain);
        row_noise(rep, label, e, plain);
    }
    {   /* padding is absolute: it must be exactly zero, in both */
        double pa = padding_max(m, grad_a), pr = padding_max(m, grad_r);
        double pad = isnan(pa) || isnan(pr) ? NAN : fmax(pa, pr);
        char v[32];
        fmt_err(v, sizeof v, pad);
        fprintf(rep->out, "  %-*s %s%s\n", rep->width, "grad padding (must be 0)", v, pad == 0 ? "" : "  FAIL");
        if (!(pad == 0)) note_failure(rep, "grad padding (must be 0)");
    }
    row_correct(rep, "correct", correct_a, ref->correct);
    if (rnn_clips_lookup_norm(m)) {   /* the embedding's norm as clipping per lookup reads it */
        const double la = ops->lookup_sumsq ? ops->lookup_sumsq(impl) : NAN;
        e = noise_err_scalar(la, ref->lookup_sumsq, nz->lookup_sumsq, tol, &plain);
        row_noise(rep, "embedding lookups' sum of squares", e, plain);
    }
    if (ops->forward_backward) {
        /* The one-call form must give exactly what forward and backward gave (the same
         * arithmetic, only scheduled differently): the row shows the largest absolute
         * difference, and fails on any bit that differs. w_a is free here. */
        fill_nan(out_f, (size_t)ST_MAX_BATCH * K);
        fill_nan(w_a, P);
        /* its samples are rows anywhere: here the batch's, stored in reverse order */
        const int32_t *samples[ST_MAX_BATCH];
        for (int b = 0; b < n; b++) samples[b] = s->tokens_rev + (size_t)(n - 1 - b) * T;
        const double loss_f = ops->forward_backward(impl, (rnn_real *)params, samples, s->labels, n, &s->ctx, out_f,
                                                    w_a, NULL);
        const int same = memcmp(&loss_f, &loss_a, sizeof loss_f) == 0 &&
                         memcmp(out_f, out_a, (size_t)n * K * sizeof *out_f) == 0 &&
                         memcmp(w_a, grad_a, P * sizeof *w_a) == 0 && ops->correct(impl) == correct_a;
        double diff = fabs(loss_f - loss_a);
        for (size_t i = 0; i < (size_t)n * K; i++) diff = fmax(diff, fabs((double)out_f[i] - (double)out_a[i]));
        for (size_t i = 0; i < P; i++) diff = fmax(diff, fabs((double)w_a[i] - (double)grad_a[i]));
        const char *flabel = "forward_backward = forward, backward";
        char v[32];
        fmt_err(v, sizeof v, diff);
        fprintf(rep->out, "  %-*s %s%s\n", rep->width, flabel, v, same ? "" : "  FAIL");
        if (!same) note_failure(rep, flabel);
        fused_step_row(rep, m, ops, impl, params, grad_a, samples, s->labels, n, &s->ctx);
    }

    /* ---- inference mode --------------------------------------------------------------- */
    fill_nan(out_a, (size_t)ST_MAX_BATCH * K);
    loss_a = ops->forward(impl, params, s->tokens, s->labels, n, NULL, out_a);
    e = noise_err(out_a, ref->inf_out, NULL, (size_t)n * K, nz->inf_prob, tol, &plain);
    row_noise(rep, "inference probabilities", e, plain);
    e = noise_err_scalar(loss_a, ref->inf_loss, nz->inf_loss, tol, &plain);
    row_noise(rep, "inference loss", e, plain);
    row_correct(rep, "inference correct", ops->correct(impl), ref->inf_correct);
    {   /* A gradient asked for after an inference (no dropout), on the batch in reverse
         * order, so that nothing left from the training forward above would pass for
         * it. w_a is free here. */
        ops->forward(impl, params, s->tokens_rev, s->labels_rev, n, NULL, NULL);
        fill_nan(w_a, P);
        ops->backward(impl, params, w_a);
        double worst = 0, worst_plain = 0;
        for (int k = 0; k < m->n_tensors && !isnan(worst); k++) {
            const rnn_tensor *t = &m->tensors[k];
            e = noise_err(w_a + t->offset, ref->rev_grad + t->offset, NULL, t->size, nz->rev_grad[k], tol,
                          &plain);
            worst = isnan(e) ? NAN : fmax(worst, e);
            worst_plain = isnan(plain) ? NAN : fmax(worst_plain, plain);
        }
        row_noise(rep, "grad after inference", worst, worst_plain);
    }

    /* ---- optimizer steps in lockstep ------------------------------------------------- */
    memcpy(w_a, params, P * sizeof *w_a);
    double step_loss_err = 0, step_loss_plain = 0;
    for (int step = 1; step <= ST_STEPS; step++) {
        const rnn_dropout_ctx sctx = {.training = 1, .seed = s->seed, .epoch = (uint32_t)step, .rows = s->rows,
                                      .sample_weights = s->weights};
        double la = ops->forward(impl, w_a, s->tokens, s->labels, n, &sctx, out_a);
        e = noise_err_scalar(la, ref->step_loss[step - 1], nz->step_loss[step - 1], tol, &plain);
        step_loss_err = isnan(e) || isnan(step_loss_err) ? NAN : fmax(step_loss_err, e);
        step_loss_plain = isnan(plain) || isnan(step_loss_plain) ? NAN : fmax(step_loss_plain, plain);
        fill_nan(grad_a, P);
        ops->backward(impl, w_a, grad_a);
        sgd_step(m, s->lr_of, w_a, grad_a);
    }
    const rnn_real *w_r = ref->w;
    snprintf(label, sizeof label, "loss at %s steps 1-%d", oname, ST_STEPS);
    row_noise(rep, label, step_loss_err, step_loss_plain);
    /* The change w_after - w_before is a small difference of nearly equal weights: its
     * relative error is the weights' own times |w| / |change| (up to 8e-6 between two
     * correct implementations), hence its own tolerance, RNN_SELFTEST_CHANGE_TOLERANCE. */
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        double pd, pw;
        const double ed = noise_err(w_a + t->offset, w_r + t->offset, params + t->offset, t->size,
                                    nz->change[k], RNN_SELFTEST_CHANGE_TOLERANCE, &pd);
        const double ew = noise_err(w_a + t->offset, w_r + t->offset, NULL, t->size, nz->weight[k], tol, &pw);
        char vd[32], vw[32];
        fmt_err(vd, sizeof vd, ed);
        fmt_err(vw, sizeof vw, ew);
        const int ok = ok_err(ed, RNN_SELFTEST_CHANGE_TOLERANCE) && ok_err(ew, tol);
        const int floored = by_floor(ed, pd, RNN_SELFTEST_CHANGE_TOLERANCE) || by_floor(ew, pw, tol);
        snprintf(label, sizeof label, "after %d %s steps: %s", ST_STEPS, oname, t->name);
        fprintf(rep->out, "  %-*s change %s  weights %s%s", rep->width, label, vd, vw, ok ? "" : "  FAIL");
        if (floored) {
            fmt_err(vd, sizeof vd, pd);
            fmt_err(vw, sizeof vw, pw);
            fprintf(rep->out, "  (change %s, weights %s without the float-noise floor)", vd, vw);
        }
        fputc('\n', rep->out);
        if (!ok) note_failure(rep, label);
    }
}

/* With mask_zero, rows padded as pad_sequences pads them, so that the mask is checked:
 * row 0 all padding (fully masked), row 1 none, the others padded after ('post') or
 * before ('pre') their tokens, to lengths across the whole range (with a vocabulary of
 * one id, 0, every step is padding). */
static void pad_rows(int32_t *tokens, int n, size_t T, int vocab) {
    for (int b = 0; b < n; b++) {
        int32_t *row = tokens + (size_t)b * T;
        for (size_t t = 0; t < T; t++) row[t] += row[t] == 0 && vocab > 1;   /* no stray padding inside a row */
        size_t len = b == 0 ? 0 : b == 1 ? T : (size_t)(b - 1) * T / (size_t)n;
        for (size_t t = 0; t < T - len; t++) row[b % 2 ? len + t : t] = 0;
    }
}

int rnn_selftest(const rnn_model *m, const rnn_model_ops *ops, uint64_t seed, FILE *out) {
    const size_t P = m->param_buffer_len, T = (size_t)m->timesteps, K = (size_t)m->n_outputs;
    st_run s = {.m = m, .ops = ops, .ref_ops = &rnn_reference_ops, .n = ST_N, .seed = seed};
    const int n = s.n;
    int rc = 1;
    char *text = NULL;
    size_t text_len = 0;

    s.params = calloc(P ? P : 1, sizeof *s.params);
    s.grad_a = calloc(P ? P : 1, sizeof *s.grad_a);
    s.w_a = calloc(P ? P : 1, sizeof *s.w_a);
    s.tokens = calloc((size_t)ST_MAX_BATCH * T + 1, sizeof *s.tokens);
    const size_t L = (size_t)m->label_width;
    s.labels = calloc(ST_MAX_BATCH * L, sizeof *s.labels);
    s.weights = calloc(ST_MAX_BATCH, sizeof *s.weights);
    s.weights_rev = calloc(ST_MAX_BATCH, sizeof *s.weights_rev);
    s.tokens_rev = calloc((size_t)ST_MAX_BATCH * T + 1, sizeof *s.tokens_rev);   /* the batch reversed */
    s.labels_rev = calloc(ST_MAX_BATCH * L, sizeof *s.labels_rev);
    s.rows = calloc(ST_MAX_BATCH, sizeof *s.rows);
    s.rows_rev = calloc(ST_MAX_BATCH, sizeof *s.rows_rev);
    s.out_a = calloc((size_t)ST_MAX_BATCH * K + 1, sizeof *s.out_a);
    s.out_f = calloc((size_t)ST_MAX_BATCH * K + 1, sizeof *s.out_f);
    st_ref_run ref_run = {0};
    s.ref_run = &ref_run;
    if (!s.params || !s.grad_a || !s.w_a || !s.tokens || !s.labels || !s.tokens_rev || !s.labels_rev || !s.rows ||
        !s.weights || !s.weights_rev ||
        !s.rows_rev || !s.out_a || !s.out_f || !ref_run_alloc(&ref_run, P, (size_t)ST_MAX_BATCH * K)) {
        fprintf(out, "selftest: out of memory (%zu parameters)\nFAIL\n", m->n_params);
        goto done;
    }
    s.impl = ops->create(m, ST_MAX_BATCH);
    s.ref = s.ref_ops->create(m, ST_MAX_BATCH);
    if (!s.impl || !s.ref) {
        fprintf(out, "selftest: cannot create the %s model (batches of %d)\nFAIL\n",
                !s.impl ? ops->name : "reference", ST_MAX_BATCH);
        goto done;
    }

    /* ---- weights, batch, dropout context -------------------------------------------- */
    rnn_init_params(m, seed, s.params);
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        const size_t len = strlen(t->name);
        if (len < 5 || strcmp(t->name + len - 5, "/bias") != 0) continue;
        const rnn_rng g = rnn_rng_stream(seed, RNN_RNG_TEST, (uint32_t)k, 1);
        for (size_t i = 0; i < t->size; i++)
            s.params[t->offset + i] += (rnn_real)(0.2 * ((double)rnn_rng_uniform(&g, (uint32_t)i, 0, 0) - 0.5));
    }
    {
        const rnn_rng g = rnn_rng_stream(seed, RNN_RNG_TEST, 0, 2);
        for (size_t i = 0; i < (size_t)n * T; i++)
            s.tokens[i] = (int32_t)rnn_rng_below(&g, (uint32_t)m->vocab, (uint32_t)i, 0, 0);
        s.tokens[0] = 0;                                   /* the padding id is a token too */
        s.tokens[(size_t)n * T - 1] = (int32_t)(m->vocab - 1);
        if (m->layers[0].mask_zero) pad_rows(s.tokens, n, T, m->vocab);
        /* labels as the loss takes them: 0/1 per sigmoid output, a class index, or a one-hot
         * row; sample weights in [0.5, 2), so that the weighted loss is what is checked */
        const uint32_t classes = m->loss == RNN_LOSS_BINARY_CROSSENTROPY ? 2u : (uint32_t)K;
        for (int b = 0; b < n; b++) {
            if (m->loss == RNN_LOSS_CATEGORICAL_CROSSENTROPY)
                s.labels[(size_t)b * L + rnn_rng_below(&g, classes, (uint32_t)b, 1, 0)] = 1;
            else
                for (size_t k = 0; k < L; k++)
                    s.labels[(size_t)b * L + k] = (rnn_real)rnn_rng_below(&g, classes, (uint32_t)b, 1, (uint32_t)k);
            s.weights[b] = 0.5f + 1.5f * rnn_rng_uniform(&g, (uint32_t)b, 3, 0);
            s.rows[b] = 1000u + 37u * (uint32_t)b;
        }
        for (int b = 0; b < n; b++) {
            memcpy(s.tokens_rev + (size_t)b * T, s.tokens + (size_t)(n - 1 - b) * T, (size_t)T * sizeof *s.tokens_rev);
            memcpy(s.labels_rev + (size_t)b * L, s.labels + (size_t)(n - 1 - b) * L, L * sizeof *s.labels_rev);
            s.weights_rev[b] = s.weights[n - 1 - b];
            s.rows_rev[b] = s.rows[n - 1 - b];
        }
    }
    s.ctx = (rnn_dropout_ctx){.training = 1, .seed = seed, .epoch = ST_EPOCH, .rows = s.rows, .sample_weights = s.weights};

    /* ---- the label column ------------------------------------------------------------ */
    st_report rep = {.out = out, .width = 28, .failures = 0, .first = ""};
    char label[RNN_TENSOR_NAME_MAX + 64];
    snprintf(label, sizeof label, "after %d sgd steps: ", ST_STEPS);
    const int step_prefix = (int)strlen(label);
    for (int k = 0; k < m->n_tensors; k++) {
        int w = step_prefix + (int)strlen(m->tensors[k].name);
        if (w > rep.width) rep.width = w;
    }
    rep.width += 2;

    fprintf(out, "selftest: model \"%s\" (%s) vs reference, %d samples of %d, %s, tolerance %.0e\n", m->name,
            ops->name, n, ST_MAX_BATCH, model_has_dropout(m) ? "dropout on" : "no dropout in the model",
            RNN_SELFTEST_TOLERANCE);
    reference_run(&s, s.params, 0, 1, &ref_run);
    /* The checks against the plain tolerances first, into memory; only when one fails is
     * the reference's float noise measured (NOISE_RUNS + 1 more reference runs of every
     * check) and the checks run again with it, printed. */
    FILE *mem = open_memstream(&text, &text_len);
    rep.out = mem ? mem : out;
    check_all(&s, NULL, &rep);
    if (mem) fclose(mem);
    if (rep.failures && mem) {
        st_noise nz;
        reference_noise(&s, &nz);
        rep = (st_report){.out = out, .width = rep.width, .failures = 0, .first = ""};
        check_all(&s, &nz, &rep);
    } else if (mem) {
        fwrite(text, 1, text_len, out);
    }
    if (rep.failures) {
        fprintf(out, "FAIL: %d check%s above tolerance, the first: %s\n", rep.failures, rep.failures == 1 ? "" : "s",
                rep.first);
    } else {
        fprintf(out, "PASS\n");
        rc = 0;
    }

done:
    if (s.impl) ops->destroy(s.impl);
    if (s.ref) s.ref_ops->destroy(s.ref);
    free(text);
    free(s.params);
    free(s.grad_a);
    free(s.w_a);
    free(s.tokens);
    free(s.labels);
    free(s.weights);
    free(s.weights_rev);
    free(s.tokens_rev);
    free(s.labels_rev);
    free(s.rows);
    free(s.rows_rev);
    free(s.out_a);
    free(s.out_f);
    ref_run_free(&ref_run);
    return rc;
}
