/*
 * selftest.c — a model implementation (generated code) checked against the reference
 * runtime on the same laid-out model: `PROGRAM selftest [--seed N]`.
 *
 * Both implementations get the same random weights (the spec's initializers, then a
 * small random perturbation of every bias so no bias is all zeros), the same random
 * batch of tokens and labels, and the same dropout context. The batch is a partial
 * one (11 samples in buffers for 13, so neither a multiple of 8 nor the full batch)
 * whose dataset rows are scattered (1000 + 37 b), with dropout active (training,
 * epoch 2). Compared:
 *   - the probabilities, the loss, every parameter gradient tensor (by Keras name),
 *     that the gradient's alignment padding is zero, the correct count (exactly);
 *   - when the model has forward_backward: that it gives forward and backward's bits,
 *     and with the optimizer's step inside (rnn_update) the bits of rnn_optimizer_step
 *     after it: weights, optimizer state and gradients;
 *   - the same forward in inference mode (ctx NULL); then the gradient after an
 *     inference forward of the batch in reverse order (a generated trainer keeps no
 *     per-step state in an inference and must redo the forward when asked for a
 *     gradient), worst over the tensors;
 *   - three gradient steps w -= lr_k g, lr_k per tensor such that a step moves the
 *     tensor's largest element by 1% of its largest weight (a tensor whose gradient is
 *     below 1% of the largest gradient moves proportionally less), in lockstep by both, forward and
 *     backward recomputed at each step on the same batch with epoch = step index so
 *     the dropout masks change: the losses of the steps, and for every tensor the
 *     change w_after - w_before and the weights w_after themselves.
 *
 * Why SGD and not the spec's optimizer: the optimizer step is shared library code
 * (rnn_optimizer_step, checked against PyTorch by the oracle tests), not generated
 * code; what the steps test here is the generated forward and backward at weights
 * and masks other than the first. RMSprop and Adam divide each gradient element by
 * its own magnitude, so a gradient element that is zero up to rounding (~1e-7 of its
 * tensor's scale) moves its weight by a full +-lr step whose sign is decided by the
 * rounding: that measures float noise, not correctness (seen in the property test:
 * rmsprop, lr 0.05, clipvalue 0.01 gives 1e-3 after 3 steps with gradients equal to
 * 3e-7). SGD's step is linear in the gradient, so every check keeps the one
 * tolerance RNN_SELFTEST_TOLERANCE.
 *
 * Relative error of a tensor a against the reference r (n elements):
 *     err = max_i |a_i - r_i| / max(max_i |r_i|, 1e-30)
 * i.e. relative to the tensor's scale, so tiny elements of a large tensor (whose
 * own relative error is dominated by rounding) do not dominate. A NaN or an infinity
 * anywhere (in either implementation) makes the error NaN, which fails. Gradient and
 * output buffers are filled with NaN before each call, so an element the
 * implementation forgets to write fails too.
 *
 * Every error must be <= RNN_SELFTEST_TOLERANCE, except the change w_after - w_before
 * over the steps (RNN_SELFTEST_CHANGE_TOLERANCE, 1e-4): it is a small difference of
 * two nearly equal weights, so its relative error is the weights' own error times
 * |w| / |change| (measured up to 8e-6 with both implementations correct).
 */
#include "rnnrt.h"

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

/* max_i |a_i - r_i| / max(max_i |r_i|, 1e-30); with base != NULL, of the changes
 * a_i - base_i and r_i - base_i. NaN if any value is NaN or infinite. */
/* floor: the smallest scale to divide by (see the gradients below). */
static double rel_err_floor(const rnn_real *a, const rnn_real *r, const rnn_real *base, size_t n, double floor);

static double rel_err(const rnn_real *a, const rnn_real *r, const rnn_real *base, size_t n) {
    return rel_err_floor(a, r, base, n, 1e-30);
}

static double rel_err_floor(const rnn_real *a, const rnn_real *r, const rnn_real *base, size_t n, double floor) {
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        double ai = (double)a[i], ri = (double)r[i];
        if (is_bad(ai) || is_bad(ri)) return NAN;
        if (base) {
            ai -= (double)base[i];
            ri -= (double)base[i];
        }
        double d = fabs(ai - ri);
        if (d > diff) diff = d;
        if (fabs(ri) > scale) scale = fabs(ri);
    }
    return diff / fmax(scale, floor);
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

static void row(st_report *rep, const char *label, double e) {
    char v[32];
    fmt_err(v, sizeof v, e);
    int ok = ok_err(e, RNN_SELFTEST_TOLERANCE);
    fprintf(rep->out, "  %-*s %s%s\n", rep->width, label, v, ok ? "" : "  FAIL");
    if (!ok) note_failure(rep, label);
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
        diff = 0;
        for (size_t i = 0; i < P; i++) diff = fmax(diff, fabs((double)p_a[i] - (double)p_r[i]));
    }
    char v[32];
    fmt_err(v, sizeof v, diff);
    fprintf(rep->out, "  %-*s %s%s\n", rep->width, label, v, same ? "" : "  FAIL");
    if (!same) note_failure(rep, label);
    free(p_a), free(p_r), free(g_a), free(g_r), free(s_a), free(s_r), free(o_a);
}

int rnn_selftest(const rnn_model *m, const rnn_model_ops *ops, uint64_t seed, FILE *out) {
    const rnn_model_ops *ref_ops = &rnn_reference_ops;
    const size_t P = m->param_buffer_len, T = (size_t)m->timesteps, K = (size_t)m->n_outputs;
    const int n = ST_N;
    const char *oname = "sgd";   /* see the header comment: steps linear in g */
    int rc = 1;

    void *impl = NULL, *ref = NULL;
    rnn_real *params = calloc(P ? P : 1, sizeof *params);
    rnn_real *grad_a = calloc(P ? P : 1, sizeof *grad_a);
    rnn_real *grad_r = calloc(P ? P : 1, sizeof *grad_r);
    rnn_real *w_a = calloc(P ? P : 1, sizeof *w_a);
    rnn_real *w_r = calloc(P ? P : 1, sizeof *w_r);
    int32_t *tokens = calloc((size_t)ST_MAX_BATCH * T + 1, sizeof *tokens);
    rnn_real *labels = calloc(ST_MAX_BATCH, sizeof *labels);
    int32_t *tokens_rev = calloc((size_t)ST_MAX_BATCH * T + 1, sizeof *tokens_rev);   /* the batch reversed */
    rnn_real *labels_rev = calloc(ST_MAX_BATCH, sizeof *labels_rev);
    uint32_t *rows = calloc(ST_MAX_BATCH, sizeof *rows);
    rnn_real *out_a = calloc((size_t)ST_MAX_BATCH * K + 1, sizeof *out_a);
    rnn_real *out_r = calloc((size_t)ST_MAX_BATCH * K + 1, sizeof *out_r);
    if (!params || !grad_a || !grad_r || !w_a || !w_r || !tokens || !labels || !tokens_rev || !labels_rev || !rows ||
        !out_a || !out_r) {
        fprintf(out, "selftest: out of memory (%zu parameters)\nFAIL\n", m->n_params);
        goto done;
    }
    impl = ops->create(m, ST_MAX_BATCH);
    ref = ref_ops->create(m, ST_MAX_BATCH);
    if (!impl || !ref) {
        fprintf(out, "selftest: cannot create the %s model (batches of %d)\nFAIL\n", !impl ? ops->name : "reference",
                ST_MAX_BATCH);
        goto done;
    }

    /* ---- weights, batch, dropout context -------------------------------------------- */
    rnn_init_params(m, seed, params);
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        const size_t len = strlen(t->name);
        if (len < 5 || strcmp(t->name + len - 5, "/bias") != 0) continue;
        const rnn_rng s = rnn_rng_stream(seed, RNN_RNG_TEST, (uint32_t)k, 1);
        for (size_t i = 0; i < t->size; i++)
            params[t->offset + i] += (rnn_real)(0.2 * ((double)rnn_rng_uniform(&s, (uint32_t)i, 0, 0) - 0.5));
    }
    {
        const rnn_rng s = rnn_rng_stream(seed, RNN_RNG_TEST, 0, 2);
        for (size_t i = 0; i < (size_t)n * T; i++)
            tokens[i] = (int32_t)rnn_rng_below(&s, (uint32_t)m->vocab, (uint32_t)i, 0, 0);
        tokens[0] = 0;                                   /* the padding id is a token too */
        tokens[(size_t)n * T - 1] = (int32_t)(m->vocab - 1);
        const uint32_t classes = m->loss == RNN_LOSS_BINARY_CROSSENTROPY ? 2u : (uint32_t)K;
        for (int b = 0; b < n; b++) {
            labels[b] = (rnn_real)rnn_rng_below(&s, classes, (uint32_t)b, 1, 0);
            rows[b] = 1000u + 37u * (uint32_t)b;
        }
    }
    const rnn_dropout_ctx ctx = {.training = 1, .seed = seed, .epoch = ST_EPOCH, .rows = rows};

    /* ---- the label column ------------------------------------------------------------ */
    st_report rep = {.out = out, .width = 28, .failures = 0, .first = ""};
    char label[RNN_TENSOR_NAME_MAX + 64];
    snprintf(label, sizeof label, "after %d %s steps: ", ST_STEPS, oname);
    const int step_prefix = (int)strlen(label);
    for (int k = 0; k < m->n_tensors; k++) {
        int w = step_prefix + (int)strlen(m->tensors[k].name);
        if (w > rep.width) rep.width = w;
    }
    rep.width += 2;

    fprintf(out, "selftest: model \"%s\" (%s) vs reference, %d samples of %d, %s, tolerance %.0e\n", m->name,
            ops->name, n, ST_MAX_BATCH, model_has_dropout(m) ? "dropout on" : "no dropout in the model",
            RNN_SELFTEST_TOLERANCE);

    /* ---- one training forward and backward ----------------------------------------- */
    fill_nan(out_a, (size_t)ST_MAX_BATCH * K);
    fill_nan(out_r, (size_t)ST_MAX_BATCH * K);
    double loss_a = ops->forward(impl, params, tokens, labels, n, &ctx, out_a);
    double loss_r = ref_ops->forward(ref, params, tokens, labels, n, &ctx, out_r);
    int correct_a = ops->correct(impl), correct_r = ref_ops->correct(ref);
    fill_nan(grad_a, P);
    fill_nan(grad_r, P);
    ops->backward(impl, params, grad_a);
    ref_ops->backward(ref, params, grad_r);

    row(&rep, "probabilities", rel_err(out_a, out_r, NULL, (size_t)n * K));
    row(&rep, "loss", rel_err_scalar(loss_a, loss_r));
    /* A gradient tensor is judged against its own scale, or against 1% of the largest
     * gradient of the model when its own is smaller: a tiny tensor (a 1x1 recurrent
     * kernel behind a 1-unit layer) is a sum whose terms cancel, and float rounding of
     * those terms, not of the result, sets its error (measured up to 1.6e-5 of its own
     * scale with both implementations correct; the double-precision finite-difference
     * tests are what prove the formulas). */
    double gscale = 0;
    for (size_t i = 0; i < P; i++)
        if (!is_bad((double)grad_r[i]) && fabs((double)grad_r[i]) > gscale) gscale = fabs((double)grad_r[i]);
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        snprintf(label, sizeof label, "grad %s", t->name);
        row(&rep, label, rel_err_floor(grad_a + t->offset, grad_r + t->offset, NULL, t->size, 0.01 * gscale));
    }
    {   /* padding is absolute: it must be exactly zero, in both */
        double pa = padding_max(m, grad_a), pr = padding_max(m, grad_r);
        double pad = isnan(pa) || isnan(pr) ? NAN : fmax(pa, pr);
        char v[32];
        fmt_err(v, sizeof v, pad);
        fprintf(out, "  %-*s %s%s\n", rep.width, "grad padding (must be 0)", v, pad == 0 ? "" : "  FAIL");
        if (!(pad == 0)) note_failure(&rep, "grad padding (must be 0)");
    }
    row_correct(&rep, "correct", correct_a, correct_r);
    if (ops->forward_backward) {
        /* The one-call form must give exactly what forward and backward gave (the same
         * arithmetic, only scheduled differently): the row shows the largest absolute
         * difference, and fails on any bit that differs. out_r and w_a are free here. */
        fill_nan(out_r, (size_t)ST_MAX_BATCH * K);
        fill_nan(w_a, P);
        /* its samples are rows anywhere: here the batch's, stored in reverse order */
        const int32_t *samples[ST_MAX_BATCH];
        for (int b = 0; b < n; b++) {
            memcpy(tokens_rev + (size_t)(n - 1 - b) * T, tokens + (size_t)b * T, (size_t)T * sizeof *tokens_rev);
            samples[b] = tokens_rev + (size_t)(n - 1 - b) * T;
        }
        const double loss_f = ops->forward_backward(impl, params, samples, labels, n, &ctx, out_r, w_a, NULL);
        const int same = memcmp(&loss_f, &loss_a, sizeof loss_f) == 0 &&
                         memcmp(out_r, out_a, (size_t)n * K * sizeof *out_r) == 0 &&
                         memcmp(w_a, grad_a, P * sizeof *w_a) == 0 && ops->correct(impl) == correct_a;
        double diff = fabs(loss_f - loss_a);
        for (size_t i = 0; i < (size_t)n * K; i++) diff = fmax(diff, fabs((double)out_r[i] - (double)out_a[i]));
        for (size_t i = 0; i < P; i++) diff = fmax(diff, fabs((double)w_a[i] - (double)grad_a[i]));
        const char *label = "forward_backward = forward, backward";
        char v[32];
        fmt_err(v, sizeof v, diff);
        fprintf(out, "  %-*s %s%s\n", rep.width, label, v, same ? "" : "  FAIL");
        if (!same) note_failure(&rep, label);
        fused_step_row(&rep, m, ops, impl, params, grad_a, samples, labels, n, &ctx);
    }

    /* ---- inference mode --------------------------------------------------------------- */
    fill_nan(out_a, (size_t)ST_MAX_BATCH * K);
    fill_nan(out_r, (size_t)ST_MAX_BATCH * K);
    loss_a = ops->forward(impl, params, tokens, labels, n, NULL, out_a);
    loss_r = ref_ops->forward(ref, params, tokens, labels, n, NULL, out_r);
    row(&rep, "inference probabilities", rel_err(out_a, out_r, NULL, (size_t)n * K));
    row(&rep, "inference loss", rel_err_scalar(loss_a, loss_r));
    row_correct(&rep, "inference correct", ops->correct(impl), ref_ops->correct(ref));
    {   /* A gradient asked for after an inference (no dropout), on the batch in reverse
         * order, so that nothing left from the training forward above would pass for
         * it. w_a and w_r are free here. */
        for (int b = 0; b < n; b++) {
            memcpy(tokens_rev + (size_t)b * T, tokens + (size_t)(n - 1 - b) * T, (size_t)T * sizeof *tokens_rev);
            labels_rev[b] = labels[n - 1 - b];
        }
        ops->forward(impl, params, tokens_rev, labels_rev, n, NULL, NULL);
        ref_ops->forward(ref, params, tokens_rev, labels_rev, n, NULL, NULL);
        fill_nan(w_a, P);
        fill_nan(w_r, P);
        ops->backward(impl, params, w_a);
        ref_ops->backward(ref, params, w_r);
        double worst = 0;
        for (int k = 0; k < m->n_tensors && !isnan(worst); k++) {
            const rnn_tensor *t = &m->tensors[k];
            double e = rel_err_floor(w_a + t->offset, w_r + t->offset, NULL, t->size, 0.01 * gscale);
            worst = isnan(e) ? NAN : fmax(worst, e);
        }
        row(&rep, "grad after inference", worst);
    }

    /* ---- optimizer steps in lockstep ------------------------------------------------- */
    /* The step size, per tensor: each step moves a tensor's largest element by 1% of
     * its largest weight (judged on the reference's first gradient), so every tensor
     * moves visibly and none leaves the regime where the comparison means something,
     * whatever the model's scale (a linear SimpleRNN over many steps can have
     * gradients far above 1, a softmax head's far below). */
    /* A tensor whose gradient is tiny next to the others' (1% of the largest, say a
     * unit that recurrent dropout switched off) is not scaled up: its gradient may be
     * rounding noise, and moving a weight by 1% along noise would measure the noise. */
    double lr_of[RNN_MAX_TENSORS], gall = 0;
    for (size_t i = 0; i < P; i++)
        if (fabs((double)grad_r[i]) > gall) gall = fabs((double)grad_r[i]);
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        double gmax = 0, wmax = 0;
        for (size_t i = 0; i < t->size; i++) {
            if (fabs((double)grad_r[t->offset + i]) > gmax) gmax = fabs((double)grad_r[t->offset + i]);
            if (fabs((double)params[t->offset + i]) > wmax) wmax = fabs((double)params[t->offset + i]);
        }
        if (wmax == 0) wmax = 0.1;   /* a zero tensor (a bias) still moves */
        if (gmax < 0.01 * gall) gmax = 0.01 * gall;
        lr_of[k] = gmax > 0 && isfinite(gmax) ? 0.001 * wmax / gmax : 0.0;
    }
    memcpy(w_a, params, P * sizeof *w_a);
    memcpy(w_r, params, P * sizeof *w_r);
    double step_loss_err = 0;
    for (int step = 1; step <= ST_STEPS; step++) {
        const rnn_dropout_ctx sctx = {.training = 1, .seed = seed, .epoch = (uint32_t)step, .rows = rows};
        double la = ops->forward(impl, w_a, tokens, labels, n, &sctx, out_a);
        double lr = ref_ops->forward(ref, w_r, tokens, labels, n, &sctx, out_r);
        double e = rel_err_scalar(la, lr);
        if (isnan(e) || isnan(step_loss_err)) step_loss_err = NAN;
        else if (e > step_loss_err) step_loss_err = e;
        fill_nan(grad_a, P);
        fill_nan(grad_r, P);
        ops->backward(impl, w_a, grad_a);
        ref_ops->backward(ref, w_r, grad_r);
        for (int k = 0; k < m->n_tensors; k++)   /* w -= lr_k g, the same for both */
            for (size_t i = 0, o = m->tensors[k].offset; i < m->tensors[k].size; i++) {
                w_a[o + i] -= (rnn_real)(lr_of[k] * (double)grad_a[o + i]);
                w_r[o + i] -= (rnn_real)(lr_of[k] * (double)grad_r[o + i]);
            }
    }
    snprintf(label, sizeof label, "loss at %s steps 1-%d", oname, ST_STEPS);
    row(&rep, label, step_loss_err);
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        double ed = rel_err(w_a + t->offset, w_r + t->offset, params + t->offset, t->size);
        double ew = rel_err(w_a + t->offset, w_r + t->offset, NULL, t->size);
        char vd[32], vw[32];
        fmt_err(vd, sizeof vd, ed);
        fmt_err(vw, sizeof vw, ew);
        int ok = ok_err(ed, RNN_SELFTEST_CHANGE_TOLERANCE) && ok_err(ew, RNN_SELFTEST_TOLERANCE);
        snprintf(label, sizeof label, "after %d %s steps: %s", ST_STEPS, oname, t->name);
        fprintf(out, "  %-*s change %s  weights %s%s\n", rep.width, label, vd, vw, ok ? "" : "  FAIL");
        if (!ok) note_failure(&rep, label);
    }

    if (rep.failures) {
        fprintf(out, "FAIL: %d check%s above tolerance, the first: %s\n", rep.failures, rep.failures == 1 ? "" : "s",
                rep.first);
    } else {
        fprintf(out, "PASS\n");
        rc = 0;
    }

done:
    if (impl) ops->destroy(impl);
    if (ref) ref_ops->destroy(ref);
    free(params);
    free(grad_a);
    free(grad_r);
    free(w_a);
    free(w_r);
    free(tokens);
    free(labels);
    free(tokens_rev);
    free(labels_rev);
    free(rows);
    free(out_a);
    free(out_r);
    return rc;
}
