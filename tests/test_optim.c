/*
 * test_optim.c — rnn_optimizer_step against Keras's update formulas.
 *
 * Every optimizer and option runs 3 steps on a small model with alignment padding
 * and is compared with a straightforward re-implementation written here in double,
 * element by element, from the formulas (Keras 2.11+ rmsprop.py, adam.py, sgd.py and
 * Optimizer._clip_gradients; TF clip_by_norm / clip_by_global_norm / clip_by_value).
 * Hand-computed numbers pin the formulas independently of both implementations.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rnnrt.h"
#include "models.h"

/* Embedding(5, 3, input_length 4) -> LSTM(2) -> Dense(1, sigmoid): tensors of 15,
 * 24, 16, 8, 2 and 1 elements, each padded to 16 — padding after every one but the
 * 16-element recurrent kernel. */
static void small_model(rnn_model *m, const rnn_optimizer *o) {
    rnn_model_init(m, "opt", "test_optim.c");
    add_embedding(m, 5, 3, 4);
    add_layer(m, RNN_LAYER_LSTM, 2);
    add_layer(m, RNN_LAYER_DENSE, 1)->activation = RNN_ACT_SIGMOID;
    char err[256];
    cr_assert_eq(rnn_model_layout(m, err, sizeof err), 0, "%s", err);
    /* Set after the layout: some cases set two clip options on purpose, which the
     * layout refuses, to pin rnn_optimizer_step's own rule (only the first applies). */
    if (o) m->optimizer = *o;
    cr_assert_eq(m->n_tensors, 6);
}

static int is_real(const rnn_model *m, size_t e) {
    for (int k = 0; k < m->n_tensors; k++)
        if (e >= m->tensors[k].offset && e < m->tensors[k].offset + m->tensors[k].size) return 1;
    return 0;
}

/* (These tests hand the optimizer whole gradient tables: the embedding's is clipped as a
 * table. Clipping it per lookup, the default, is checked in test_lookups.c.) */
static rnn_optimizer base_opt(rnn_optimizer_kind kind) {
    rnn_optimizer o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.embedding_clip = RNN_EMBEDDING_CLIP_SUMMED;
    o.learning_rate = 1e-3;
    o.rho = 0.9;
    o.epsilon = 1e-7;
    o.beta_1 = 0.9;
    o.beta_2 = 0.999;
    return o;
}

/* ---- the independent reference, in double ---------------------------------------- */

typedef struct {
    double *w, *s1, *s2, *g;
    int n_clipped, n_unclipped;   /* tensors scaled / left alone by norm clipping */
} ref_state;

/* Keras 2.11+ _clip_gradients: the first option that is set is the only one used.
 * TF: clip_by_norm(t, c) = t * c / max(||t||, c); clip_by_global_norm(ts, c) =
 * ts * c / max(global, c); clip_by_value = min(max(t, -c), c). */
static void ref_clip(const rnn_model *m, const rnn_optimizer *o, ref_state *r) {
    if (o->clipnorm > 0) {
        for (int k = 0; k < m->n_tensors; k++) {
            const rnn_tensor *t = &m->tensors[k];
            double ss = 0;
            for (size_t e = 0; e < t->size; e++) ss += r->g[t->offset + e] * r->g[t->offset + e];
            double nrm = sqrt(ss);
            if (nrm > o->clipnorm) r->n_clipped++;
            else r->n_unclipped++;
            for (size_t e = 0; e < t->size; e++)
                r->g[t->offset + e] = r->g[t->offset + e] * o->clipnorm / fmax(nrm, o->clipnorm);
        }
        return;
    }
    if (o->global_clipnorm > 0) {
        double ss = 0;
        for (int k = 0; k < m->n_tensors; k++)
            for (size_t e = 0; e < m->tensors[k].size; e++)
                ss += r->g[m->tensors[k].offset + e] * r->g[m->tensors[k].offset + e];
        double nrm = sqrt(ss);
        if (nrm > o->global_clipnorm) r->n_clipped++;
        else r->n_unclipped++;
        for (int k = 0; k < m->n_tensors; k++)
            for (size_t e = 0; e < m->tensors[k].size; e++)
                r->g[m->tensors[k].offset + e] *= o->global_clipnorm / fmax(nrm, o->global_clipnorm);
        return;
    }
    if (o->clipvalue > 0)
        for (int k = 0; k < m->n_tensors; k++)
            for (size_t e = 0; e < m->tensors[k].size; e++) {
                double *g = &r->g[m->tensors[k].offset + e];
                *g = fmin(fmax(*g, -o->clipvalue), o->clipvalue);
            }
}

static void ref_step(const rnn_model *m, const rnn_optimizer *o, ref_state *r, int step) {
    ref_clip(m, o, r);
    for (int k = 0; k < m->n_tensors; k++)
        for (size_t i = 0; i < m->tensors[k].size; i++) {
            const size_t e = m->tensors[k].offset + i;
            const double g = r->g[e];
            switch (o->kind) {
            case RNN_OPT_RMSPROP:
                /* velocity = rho*velocity + (1-rho)*g^2; w -= lr * g / sqrt(velocity + eps) */
                r->s1[e] = o->rho * r->s1[e] + (1 - o->rho) * g * g;
                if (o->epsilon_outside) r->w[e] -= o->learning_rate * g / (sqrt(r->s1[e]) + o->epsilon);
                else r->w[e] -= o->learning_rate * g / sqrt(r->s1[e] + o->epsilon);
                break;
            case RNN_OPT_ADAM: {
                /* m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
                 * w -= m * alpha / (sqrt(v) + eps), alpha = lr sqrt(1 - b2^t) / (1 - b1^t) */
                r->s1[e] += (g - r->s1[e]) * (1 - o->beta_1);
                r->s2[e] += (g * g - r->s2[e]) * (1 - o->beta_2);
                double alpha = o->learning_rate * sqrt(1 - pow(o->beta_2, step)) / (1 - pow(o->beta_1, step));
                r->w[e] -= r->s1[e] * alpha / (sqrt(r->s2[e]) + o->epsilon);
                break;
            }
            case RNN_OPT_SGD:
                if (o->momentum == 0) {
                    r->w[e] += -g * o->learning_rate;
                } else {
                    /* m = -g*lr + m*momentum; w += m, or nesterov w += -g*lr + m*momentum */
                    r->s1[e] = -g * o->learning_rate + r->s1[e] * o->momentum;
                    r->w[e] += o->nesterov ? -g * o->learning_rate + r->s1[e] * o->momentum : r->s1[e];
                }
                break;
            }
        }
}

/* Sentinels: padding of params must stay exactly as it was (we put 7 there, not
 * zero, so a write of zero is seen too); gradient padding is 1e30 (a norm that reads
 * it shrinks every real gradient to ~0, and a clip that scales it changes it; NaN
 * would hide the latter, NaN * s being NaN); state padding is 3. */
#define PARAM_PAD ((rnn_real)7)
#define GRAD_PAD ((rnn_real)1e30)
#define STATE_PAD ((rnn_real)3)

static double grad_value(size_t e, int step, double amp) {
    if (e % 7 == 3) return 0.0;   /* some exact zeros: v and m must just decay there */
    return amp * sin(1.3 * (double)e + 0.7 * step) * (double)(1 + e % 5) / 3.0;
}

static void compare(const char *what, const char *label, int step, const rnn_real *got, const double *want,
                    const rnn_model *m, double tol) {
    for (int k = 0; k < m->n_tensors; k++)
        for (size_t i = 0; i < m->tensors[k].size; i++) {
            size_t e = m->tensors[k].offset + i;
            double g = (double)got[e];
            cr_assert(fabs(g - want[e]) <= tol * (1 + fabs(want[e])), "%s, step %d: %s %s[%zu] = %.9g want %.9g",
                      label, step, what, m->tensors[k].name, i, g, want[e]);
        }
}

/* Run 3 steps of rnn_optimizer_step and of the reference; compare params, clipped
 * grads and state after each step; check the padding afterwards. Returns the counts
 * of norm-clipped / unclipped tensors seen by the reference. */
static ref_state run_against_reference(const char *label, const rnn_optimizer *o, double amp) {
    rnn_model m;
    small_model(&m, o);
    const size_t len = m.param_buffer_len;
    const int slots = rnn_optimizer_slots(o);
    rnn_real *w = malloc(len * sizeof *w), *g = malloc(len * sizeof *g);
    rnn_real *st = malloc((size_t)(slots > 0 ? slots : 1) * len * sizeof *st);
    ref_state r = {calloc(len, sizeof(double)), calloc(len, sizeof(double)), calloc(len, sizeof(double)),
                   calloc(len, sizeof(double)), 0, 0};
    cr_assert(w && g && st && r.w && r.s1 && r.s2 && r.g);
    for (size_t e = 0; e < len; e++) {
        int real = is_real(&m, e);
        w[e] = real ? (rnn_real)(0.5 * cos(0.37 * (double)e)) : PARAM_PAD;
        r.w[e] = (double)w[e];
    }
    for (size_t e = 0; e < (size_t)slots * len; e++) st[e] = is_real(&m, e % len) ? 0 : STATE_PAD;

    for (int step = 1; step <= 3; step++) {
        for (size_t e = 0; e < len; e++) {
            g[e] = is_real(&m, e) ? (rnn_real)grad_value(e, step, amp) : GRAD_PAD;
            r.g[e] = (double)g[e];
        }
        rnn_optimizer_step(&m, o, w, g, st, step);
        ref_step(&m, o, &r, step);
        compare("grad", label, step, g, r.g, &m, 1e-6);
        compare("param", label, step, w, r.w, &m, 1e-5);
        if (slots >= 1) compare("slot0", label, step, st, r.s1, &m, 1e-5);
        if (slots >= 2) compare("slot1", label, step, st + len, r.s2, &m, 1e-5);
    }
    for (size_t e = 0; e < len; e++) {
        if (is_real(&m, e)) continue;
        cr_assert_eq(w[e], PARAM_PAD, "%s: param padding %zu changed to %g", label, e, (double)w[e]);
        cr_assert_eq(g[e], GRAD_PAD, "%s: grad padding %zu changed to %g", label, e, (double)g[e]);
        for (int s = 0; s < slots; s++)
            cr_assert_eq(st[(size_t)s * len + e], STATE_PAD, "%s: state %d padding %zu changed", label, s, e);
    }
    /* The run moved the weights: a no-op optimizer must not pass. */
    double moved = 0;
    for (size_t e = 0; e < len; e++)
        if (is_real(&m, e)) moved = fmax(moved, fabs((double)w[e] - 0.5 * cos(0.37 * (double)e)));
    cr_assert_gt(moved, 1e-4, "%s: weights did not move", label);
    free(w);
    free(g);
    free(st);
    free(r.w);
    free(r.s1);
    free(r.s2);
    free(r.g);
    r.w = r.s1 = r.s2 = r.g = NULL;   /* only the counts are returned */
    return r;
}

Test(optim, slots) {
    rnn_optimizer o = base_opt(RNN_OPT_RMSPROP);
    cr_expect_eq(rnn_optimizer_slots(&o), 1);
    o = base_opt(RNN_OPT_ADAM);
    cr_expect_eq(rnn_optimizer_slots(&o), 2);
    o = base_opt(RNN_OPT_SGD);
    cr_expect_eq(rnn_optimizer_slots(&o), 0);
    o.momentum = 0.5;
    cr_expect_eq(rnn_optimizer_slots(&o), 1);
}

/* Large epsilon and small rho make every term of the formula visible in the result. */
Test(optim, rmsprop_vs_reference) {
    rnn_optimizer o = base_opt(RNN_OPT_RMSPROP);
    o.learning_rate = 0.01;
    o.rho = 0.8;
    o.epsilon = 1e-2;
    run_against_reference("rmsprop", &o, 1.0);
    o.epsilon_outside = 1;
    run_against_reference("rmsprop epsilon_outside", &o, 1.0);
    rnn_optimizer d = base_opt(RNN_OPT_RMSPROP);   /* Keras defaults */
    run_against_reference("rmsprop defaults", &d, 1.0);
}

Test(optim, adam_vs_reference) {
    rnn_optimizer o = base_opt(RNN_OPT_ADAM);
    o.learning_rate = 0.05;
    o.beta_1 = 0.8;
    o.beta_2 = 0.95;
    o.epsilon = 1e-2;
    run_against_reference("adam", &o, 1.0);
    rnn_optimizer d = base_opt(RNN_OPT_ADAM);
    d.learning_rate = 0.01;
    run_against_reference("adam defaults", &d, 1.0);
}

Test(optim, sgd_vs_reference) {
    rnn_optimizer o = base_opt(RNN_OPT_SGD);
    o.learning_rate = 0.1;
    run_against_reference("sgd", &o, 1.0);
    o.momentum = 0.9;
    run_against_reference("sgd momentum", &o, 1.0);
    o.nesterov = 1;
    run_against_reference("sgd nesterov", &o, 1.0);
}

Test(optim, clipping_vs_reference) {
    rnn_optimizer o = base_opt(RNN_OPT_RMSPROP);
    o.learning_rate = 0.01;
    o.epsilon = 1e-2;
    o.clipnorm = 0.5;
    ref_state r = run_against_reference("rmsprop clipnorm", &o, 1.0);
    cr_expect(r.n_clipped > 0 && r.n_unclipped > 0, "clipnorm case does not exercise both branches (%d/%d)",
              r.n_clipped, r.n_unclipped);

    o = base_opt(RNN_OPT_ADAM);
    o.learning_rate = 0.01;
    o.global_clipnorm = 1.0;
    r = run_against_reference("adam global_clipnorm", &o, 1.0);
    cr_expect_eq(r.n_clipped, 3);
    o.global_clipnorm = 100.0;
    r = run_against_reference("adam global_clipnorm (no clip)", &o, 1.0);
    cr_expect_eq(r.n_unclipped, 3);

    o = base_opt(RNN_OPT_SGD);
    o.learning_rate = 0.1;
    o.momentum = 0.9;
    o.clipvalue = 0.3;
    run_against_reference("sgd momentum clipvalue", &o, 1.0);
    o.nesterov = 1;
    o.clipvalue = 0;
    o.clipnorm = 0.7;
    run_against_reference("sgd nesterov clipnorm", &o, 1.0);
    o.clipvalue = 0.05;   /* with clipnorm set, Keras 2.11+ ignores clipvalue */
    run_against_reference("sgd clipnorm+clipvalue", &o, 1.0);
}

/* ---- hand-computed numbers --------------------------------------------------------- */

typedef struct {
    rnn_model m;
    rnn_real *w, *g, *st;
    size_t len;
} rig;

static rig rig_make(const rnn_optimizer *o) {
    rig r;
    small_model(&r.m, o);
    r.len = r.m.param_buffer_len;
    r.w = calloc(r.len, sizeof *r.w);
    r.g = calloc(r.len, sizeof *r.g);
    r.st = calloc(2 * r.len, sizeof *r.st);
    cr_assert(r.w && r.g && r.st);
    return r;
}
static void rig_free(rig *r) {
    free(r->w);
    free(r->g);
    free(r->st);
}
static rnn_real *at(rig *r, rnn_real *buf, const char *tensor, size_t i) {
    int k = rnn_model_find_tensor(&r->m, tensor);
    cr_assert_geq(k, 0, "%s", tensor);
    return buf + r->m.tensors[k].offset + i;
}

/* RMSprop first step from v = 0: w -= lr*g/sqrt(0.1 g^2 + eps). g = 2, lr = 0.01:
 * 1 - 0.02/sqrt(0.4000001) = 0.9683772273511625; second step with the same g:
 * v = 0.76, w = 0.9454356554734202. Elements with g = 0 do not move. */
Test(optim, rmsprop_by_hand) {
    rnn_optimizer o = base_opt(RNN_OPT_RMSPROP);
    o.learning_rate = 0.01;
    rig r = rig_make(&o);
    *at(&r, r.w, "dense/bias", 0) = 1;
    *at(&r, r.w, "dense/kernel", 0) = 0.25f;
    *at(&r, r.g, "dense/bias", 0) = 2;
    rnn_optimizer_step(&r.m, &o, r.w, r.g, r.st, 1);
    cr_expect(fabs(*at(&r, r.w, "dense/bias", 0) - 0.9683772273511625) < 1e-7, "%.9g", (double)*at(&r, r.w, "dense/bias", 0));
    cr_expect(fabs(*at(&r, r.st, "dense/bias", 0) - 0.4) < 1e-7);
    cr_expect_eq(*at(&r, r.w, "dense/kernel", 0), 0.25f);
    cr_expect_eq(*at(&r, r.st, "dense/kernel", 0), 0.0f);
    rnn_optimizer_step(&r.m, &o, r.w, r.g, r.st, 2);
    cr_expect(fabs(*at(&r, r.w, "dense/bias", 0) - 0.9454356554734202) < 1e-7, "%.9g", (double)*at(&r, r.w, "dense/bias", 0));
    cr_expect(fabs(*at(&r, r.st, "dense/bias", 0) - 0.76) < 1e-7);
    rig_free(&r);
}

/* eps inside vs outside the root, where it matters: g = 0.1, eps = 0.01, lr = 0.1,
 * rho = 0.9, w = 0: v = 0.001; inside 0.01/sqrt(0.011) = 0.09534625892455922,
 * outside 0.01/(sqrt(0.001) + 0.01) = 0.24025307335204216. */
Test(optim, rmsprop_epsilon_placement_by_hand) {
    for (int outside = 0; outside <= 1; outside++) {
        rnn_optimizer o = base_opt(RNN_OPT_RMSPROP);
        o.learning_rate = 0.1;
        o.epsilon = 0.01;
        o.epsilon_outside = outside;
        rig r = rig_make(&o);
        *at(&r, r.g, "lstm/kernel", 5) = 0.1f;
        rnn_optimizer_step(&r.m, &o, r.w, r.g, r.st, 1);
        double want = outside ? -0.24025307335204216 : -0.09534625892455922;
        cr_expect(fabs(*at(&r, r.w, "lstm/kernel", 5) - want) < 1e-7, "outside=%d: %.9g want %.9g", outside,
                  (double)*at(&r, r.w, "lstm/kernel", 5), want);
        rig_free(&r);
    }
}

/* Adam, step 1: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(0.001)/0.1; with g = 0.5,
 * lr = 0.01, eps = 1e-7 the update is ~lr: w = 1 - 0.0099999367548 = 0.9900000632451532.
 * Step 2 with g = 0 (bias correction of t = 2): m = 0.045, v = 0.00024975,
 * alpha = 0.01 sqrt(1 - 0.999^2) / (1 - 0.81). */
Test(optim, adam_by_hand) {
    rnn_optimizer o = base_opt(RNN_OPT_ADAM);
    o.learning_rate = 0.01;
    rig r = rig_make(&o);
    rnn_real *w = at(&r, r.w, "embedding/embeddings", 14), *g = at(&r, r.g, "embedding/embeddings", 14);
    *w = 1;
    *g = 0.5f;
    rnn_optimizer_step(&r.m, &o, r.w, r.g, r.st, 1);
    cr_expect(fabs(*w - 0.9900000632451532) < 1e-7, "%.9g", (double)*w);
    cr_expect(fabs(*at(&r, r.st, "embedding/embeddings", 14) - 0.05) < 1e-8);
    cr_expect(fabs(*at(&r, r.st + r.len, "embedding/embeddings", 14) - 0.00025) < 1e-9);
    *g = 0;
    rnn_optimizer_step(&r.m, &o, r.w, r.g, r.st, 2);
    double alpha = 0.01 * sqrt(1 - 0.999 * 0.999) / (1 - 0.9 * 0.9);
    double want = 0.9900000632451532 - alpha * 0.045 / (sqrt(0.00024975) + 1e-7);
    cr_expect(fabs(*w - want) < 1e-7, "%.9g want %.9g", (double)*w, want);
    rig_free(&r);
}

/* SGD with g = 1, lr = 0.1, w = 0. Plain: -0.1, -0.2. Momentum 0.9: b = -0.1, w = -0.1;
 * b = -0.19, w = -0.29. Nesterov: w = 0.9*(-0.1) - 0.1 = -0.19; then -0.19 + 0.9*(-0.19)
 * - 0.1 = -0.461. */
Test(optim, sgd_by_hand) {
    static const double want[3][2] = {{-0.1, -0.2}, {-0.1, -0.29}, {-0.19, -0.461}};
    for (int v = 0; v < 3; v++) {
        rnn_optimizer o = base_opt(RNN_OPT_SGD);
        o.learning_rate = 0.1;
        o.momentum = v == 0 ? 0 : 0.9;
        o.nesterov = v == 2;
        rig r = rig_make(&o);
        *at(&r, r.g, "lstm/bias", 3) = 1;
        for (int s = 0; s < 2; s++) {
            rnn_optimizer_step(&r.m, &o, r.w, r.g, r.st, s + 1);
            cr_expect(fabs(*at(&r, r.w, "lstm/bias", 3) - want[v][s]) < 1e-6, "variant %d step %d: %.9g want %g", v, s + 1,
                      (double)*at(&r, r.w, "lstm/bias", 3), want[v][s]);
        }
        rig_free(&r);
    }
}

/* clipnorm 1: a tensor with gradient norm 10 ([6, 8, 0...]) becomes norm 1 ([0.6, 0.8]),
 * one with norm 0.5 ([0.3, 0.4]) is left bit for bit. SGD lr 1 so w = -g_clipped. */
Test(optim, clipnorm_by_hand) {
    rnn_optimizer o = base_opt(RNN_OPT_SGD);
    o.learning_rate = 1;
    o.clipnorm = 1;
    rig r = rig_make(&o);
    *at(&r, r.g, "lstm/kernel", 0) = 6;
    *at(&r, r.g, "lstm/kernel", 23) = 8;
    *at(&r, r.g, "dense/kernel", 0) = 0.3f;
    *at(&r, r.g, "dense/kernel", 1) = 0.4f;
    rnn_optimizer_step(&r.m, &o, r.w, r.g, r.st, 1);
    cr_expect(fabs(*at(&r, r.g, "lstm/kernel", 0) - 0.6) < 1e-7);
    cr_expect(fabs(*at(&r, r.g, "lstm/kernel", 23) - 0.8) < 1e-7);
    cr_expect(fabs(*at(&r, r.w, "lstm/kernel", 0) + 0.6) < 1e-7);
    cr_expect(fabs(*at(&r, r.w, "lstm/kernel", 23) + 0.8) < 1e-7);
    cr_expect_eq(*at(&r, r.g, "dense/kernel", 0), 0.3f);
    cr_expect_eq(*at(&r, r.g, "dense/kernel", 1), 0.4f);
    cr_expect_eq(*at(&r, r.w, "dense/kernel", 1), -0.4f);

    /* Keras 2.11+: with clipnorm set, clipvalue is not applied on top. */
    o.clipvalue = 0.1;
    rig r2 = rig_make(&o);
    *at(&r2, r2.g, "lstm/kernel", 0) = 6;
    *at(&r2, r2.g, "lstm/kernel", 1) = 8;
    rnn_optimizer_step(&r2.m, &o, r2.w, r2.g, r2.st, 1);
    cr_expect(fabs(*at(&r2, r2.g, "lstm/kernel", 1) - 0.8) < 1e-7, "%g", (double)*at(&r2, r2.g, "lstm/kernel", 1));
    rig_free(&r);
    rig_free(&r2);
}

/* global_clipnorm 1 over two tensors: [3] in one and [4] in another, global norm 5,
 * become 0.6 and 0.8; a global norm below the limit leaves every value bit for bit. */
Test(optim, global_clipnorm_by_hand) {
    rnn_optimizer o = base_opt(RNN_OPT_SGD);
    o.learning_rate = 1;
    o.global_clipnorm = 1;
    rig r = rig_make(&o);
    *at(&r, r.g, "lstm/recurrent_kernel", 7) = 3;
    *at(&r, r.g, "dense/bias", 0) = 4;
    rnn_optimizer_step(&r.m, &o, r.w, r.g, r.st, 1);
    cr_expect(fabs(*at(&r, r.g, "lstm/recurrent_kernel", 7) - 0.6) < 1e-7);
    cr_expect(fabs(*at(&r, r.g, "dense/bias", 0) - 0.8) < 1e-7);
    cr_expect(fabs(*at(&r, r.w, "dense/bias", 0) + 0.8) < 1e-7);

    memset(r.w, 0, r.len * sizeof *r.w);
    *at(&r, r.g, "lstm/recurrent_kernel", 7) = 0.3f;
    *at(&r, r.g, "dense/bias", 0) = 0.4f;   /* global 0.5: per tensor 0.3 and 0.4, all under */
    *at(&r, r.g, "embedding/embeddings", 0) = 0.5f;   /* global sqrt(0.5) ~ 0.707 < 1 */
    rnn_optimizer_step(&r.m, &o, r.w, r.g, r.st, 2);
    cr_expect_eq(*at(&r, r.g, "lstm/recurrent_kernel", 7), 0.3f);
    cr_expect_eq(*at(&r, r.g, "dense/bias", 0), 0.4f);
    cr_expect_eq(*at(&r, r.w, "embedding/embeddings", 0), -0.5f);
    rig_free(&r);
}

/* clipvalue 0.5 clamps each element: [-2, -0.5, 0.2, 0.7, 3] -> [-0.5, -0.5, 0.2, 0.5, 0.5]. */
Test(optim, clipvalue_by_hand) {
    rnn_optimizer o = base_opt(RNN_OPT_SGD);
    o.learning_rate = 1;
    o.clipvalue = 0.5;
    rig r = rig_make(&o);
    static const float in[5] = {-2, -0.5f, 0.2f, 0.7f, 3}, out[5] = {-0.5f, -0.5f, 0.2f, 0.5f, 0.5f};
    for (int i = 0; i < 5; i++) *at(&r, r.g, "embedding/embeddings", (size_t)i * 3) = in[i];
    rnn_optimizer_step(&r.m, &o, r.w, r.g, r.st, 1);
    for (int i = 0; i < 5; i++) {
        cr_expect_eq(*at(&r, r.g, "embedding/embeddings", (size_t)i * 3), out[i], "element %d", i);
        cr_expect_eq(*at(&r, r.w, "embedding/embeddings", (size_t)i * 3), -out[i], "element %d", i);
    }
    rig_free(&r);
}

/* Padding: huge values in the gradient padding must not count in any norm, and
 * nothing in params/grads/state padding may change, for every optimizer. */
Test(optim, padding_untouched) {
    rnn_optimizer opts[4] = {base_opt(RNN_OPT_RMSPROP), base_opt(RNN_OPT_ADAM), base_opt(RNN_OPT_SGD), base_opt(RNN_OPT_SGD)};
    opts[0].clipnorm = 1;
    opts[1].global_clipnorm = 1;
    opts[2].momentum = 0.5;
    opts[2].global_clipnorm = 1;
    opts[3].clipvalue = 1;
    for (int v = 0; v < 4; v++) {
        rig r = rig_make(&opts[v]);
        for (size_t e = 0; e < r.len; e++) {
            int real = is_real(&r.m, e);
            r.w[e] = real ? 0.5f : 0;
            r.g[e] = real ? 0.01f : 1e30f;
            r.st[e] = r.st[r.len + e] = real ? 0 : -1;
        }
        rnn_optimizer_step(&r.m, &opts[v], r.w, r.g, r.st, 1);
        for (size_t e = 0; e < r.len; e++) {
            if (is_real(&r.m, e)) {
                /* A norm that saw 1e30 would have scaled 0.01 down to ~0. */
                cr_assert_eq(r.g[e], 0.01f, "variant %d: real grad %zu = %g", v, e, (double)r.g[e]);
                cr_assert(r.w[e] < 0.5f, "variant %d: weight %zu did not move", v, e);
            } else {
                cr_assert_eq(r.w[e], 0.0f, "variant %d: param padding %zu = %g", v, e, (double)r.w[e]);
                cr_assert_eq(r.g[e], 1e30f, "variant %d: grad padding %zu", v, e);
                cr_assert_eq(r.st[e], -1.0f, "variant %d: state padding %zu", v, e);
                cr_assert_eq(r.st[r.len + e], -1.0f, "variant %d: state padding %zu", v, e);
            }
        }
        rig_free(&r);
    }
}

/* rnn_grads_finite: every position of buffers of every length up to a few vectors of
 * the widest clone, with each kind of non-finite value, and the largest finite values
 * (whose exponent is all ones but the last bit) passing. */
Test(optim, grads_finite) {
    enum { N = 70 };
    rnn_real g[N];
    const rnn_real bad[3] = {(rnn_real)NAN, (rnn_real)INFINITY, (rnn_real)-INFINITY};
    for (size_t n = 0; n <= N; n++) {
        for (size_t i = 0; i < n; i++) g[i] = (i % 2 ? -1 : 1) * (rnn_real)(i % 3 ? 1e-3 : 3.0e38);
        cr_assert(rnn_grads_finite(g, n), "n = %zu: finite values reported not finite", n);
        for (size_t i = 0; i < n; i++)
            for (int k = 0; k < 3; k++) {
                const rnn_real keep = g[i];
                g[i] = bad[k];
                cr_assert(!rnn_grads_finite(g, n), "n = %zu: %g at %zu not found", n, (double)bad[k], i);
                cr_assert(rnn_grads_finite(g, i), "n = %zu: %g past the end (at %zu) seen", i, (double)bad[k], i);
                g[i] = keep;
            }
    }
}

/* ---- the step piece by piece (rnn_update) ------------------------------------------- */

/* 3 steps with rnn_update_apply over pieces that cut tensors anywhere (random cut points,
 * pieces in shuffled order, some spanning padding), against rnn_optimizer_step: weights,
 * state and clipped gradients the same bit for bit, and the padding untouched. */
static void update_vs_step(const char *label, const rnn_optimizer *o) {
    rnn_model m;
    small_model(&m, o);
    const size_t P = m.param_buffer_len, S = 2 * P;
    rnn_real *w_a = calloc(P, sizeof *w_a), *w_b = calloc(P, sizeof *w_b), *g_a = calloc(P, sizeof *g_a);
    rnn_real *g_b = calloc(P, sizeof *g_b), *s_a = calloc(S, sizeof *s_a), *s_b = calloc(S, sizeof *s_b);
    cr_assert(w_a && w_b && g_a && g_b && s_a && s_b);
    for (size_t e = 0; e < P; e++) w_a[e] = w_b[e] = is_real(&m, e) ? (rnn_real)(0.1 * cos((double)e)) : 0;
    uint32_t seed = 12345;
    for (int step = 1; step <= 3; step++) {
        for (size_t e = 0; e < P; e++) g_a[e] = g_b[e] = is_real(&m, e) ? (rnn_real)grad_value(e, step, 0.5) : 0;
        rnn_optimizer_step(&m, o, w_a, g_a, s_a, step);
        rnn_update u;
        cr_assert(rnn_update_begin(&u, &m, o, w_b, g_b, s_b, step), "%s: refused", label);
        size_t cut[12];
        int nc = 0;
        cut[nc++] = 0;
        for (int i = 0; i < 10; i++) {
            seed = seed * 1664525u + 1013904223u;
            cut[nc++] = seed % (P + 1);
        }
        cut[nc++] = P;
        for (int i = 1; i < nc; i++) /* sort the cut points */
            for (int j = i; j > 0 && cut[j] < cut[j - 1]; j--) {
                size_t t = cut[j];
                cut[j] = cut[j - 1];
                cut[j - 1] = t;
            }
        for (int i = nc - 2; i >= 0; i -= 2) rnn_update_apply(&u, cut[i], cut[i + 1]); /* odd pieces, backwards */
        for (int i = nc - 3; i >= 0; i -= 2) rnn_update_apply(&u, cut[i], cut[i + 1]); /* then the others */
        cr_assert(rnn_update_ok(&u), "%s, step %d: a finite step reported not finite", label, step);
        cr_assert(!memcmp(w_a, w_b, P * sizeof *w_a), "%s, step %d: weights differ", label, step);
        cr_assert(!memcmp(g_a, g_b, P * sizeof *g_a), "%s, step %d: clipped gradients differ", label, step);
        cr_assert(!memcmp(s_a, s_b, S * sizeof *s_a), "%s, step %d: state differs", label, step);
    }
    for (size_t e = 0; e < P; e++)
        if (!is_real(&m, e)) cr_assert_eq(w_b[e], 0, "%s: padding at %zu written", label, e);
    free(w_a), free(w_b), free(g_a), free(g_b), free(s_a), free(s_b);
}

Test(optim, update_pieces_equal_the_step) {
    rnn_optimizer o = base_opt(RNN_OPT_RMSPROP);
    update_vs_step("rmsprop", &o);
    o.epsilon_outside = 1;
    update_vs_step("rmsprop epsilon outside", &o);
    o = base_opt(RNN_OPT_ADAM);
    update_vs_step("adam", &o);
    o = base_opt(RNN_OPT_SGD);
    update_vs_step("sgd", &o);
    o.momentum = 0.9;
    update_vs_step("sgd momentum", &o);
    o.nesterov = 1;
    update_vs_step("sgd nesterov", &o);
    o = base_opt(RNN_OPT_RMSPROP);
    o.clipvalue = 0.05;   /* below most gradients: the clip matters */
    update_vs_step("rmsprop clipvalue", &o);
}

/* A norm needs every gradient before any update: refused, and u left for the caller to
 * fall back on rnn_optimizer_step. */
Test(optim, update_refuses_norm_clipping) {
    rig r = rig_make(NULL);
    rnn_optimizer o = base_opt(RNN_OPT_RMSPROP);
    o.clipnorm = 1.0;
    rnn_update u;
    cr_assert(!rnn_update_begin(&u, &r.m, &o, r.w, r.g, r.st, 1));
    o.clipnorm = 0;
    o.global_clipnorm = 1.0;
    cr_assert(!rnn_update_begin(&u, &r.m, &o, r.w, r.g, r.st, 1));
    rig_free(&r);
}

/* A NaN or an infinity: the step is reported bad, and the piece that holds it is left
 * as it was (weights and state); a piece without one is updated. */
Test(optim, update_reports_non_finite) {
    const rnn_real bad[3] = {(rnn_real)NAN, (rnn_real)INFINITY, (rnn_real)-INFINITY};
    for (int k = 0; k < 3; k++) {
        rig r = rig_make(NULL);
        rnn_optimizer o = base_opt(RNN_OPT_RMSPROP);
        o.clipvalue = 0.5; /* would turn an infinity into 0.5, if it came first */
        for (size_t i = 0; i < r.m.tensors[1].size; i++) {
            *at(&r, r.w, "lstm/kernel", i) = 1;
            *at(&r, r.g, "lstm/kernel", i) = 1;
        }
        for (size_t i = 0; i < r.m.tensors[0].size; i++) {
            *at(&r, r.w, "embedding/embeddings", i) = 1;
            *at(&r, r.g, "embedding/embeddings", i) = 1;
        }
        *at(&r, r.g, "lstm/kernel", 5) = bad[k];
        rnn_update u;
        cr_assert(rnn_update_begin(&u, &r.m, &o, r.w, r.g, r.st, 1));
        rnn_update_apply(&u, 0, r.len);
        cr_assert(!rnn_update_ok(&u), "%g not reported", (double)bad[k]);
        for (size_t i = 0; i < r.m.tensors[1].size; i++) {
            cr_assert_eq(*at(&r, r.w, "lstm/kernel", i), 1, "%g: the bad tensor's weight %zu moved", (double)bad[k], i);
            cr_assert_eq(*at(&r, r.st, "lstm/kernel", i), 0, "%g: the bad tensor's state %zu moved", (double)bad[k], i);
        }
        cr_assert_lt(*at(&r, r.w, "embedding/embeddings", 0), 1, "a finite tensor was not updated");
        rig_free(&r);
    }
}

/* rnn_update_apply_zero over zero gradients: the weights and the state exactly as
 * rnn_update_apply leaves them, for every optimizer, after steps with other gradients
 * (a state that is not zero), over pieces that cut tensors and padding. */
static void zero_vs_apply(const char *label, const rnn_optimizer *o) {
    rnn_model m;
    small_model(&m, o);
    const size_t P = m.param_buffer_len, S = 2 * P;
    rnn_real *w_a = calloc(P, sizeof *w_a), *w_b = calloc(P, sizeof *w_b), *g = calloc(P, sizeof *g);
    rnn_real *s_a = calloc(S, sizeof *s_a), *s_b = calloc(S, sizeof *s_b);
    cr_assert(w_a && w_b && g && s_a && s_b);
    for (size_t e = 0; e < P; e++) w_a[e] = is_real(&m, e) ? (rnn_real)(0.1 * cos((double)e)) : 0;
    for (int step = 1; step <= 2; step++) {   /* a state of its own first */
        for (size_t e = 0; e < P; e++) g[e] = is_real(&m, e) ? (rnn_real)grad_value(e, step, 0.5) : 0;
        rnn_optimizer_step(&m, o, w_a, g, s_a, step);
    }
    memcpy(w_b, w_a, P * sizeof *w_a);
    memcpy(s_b, s_a, S * sizeof *s_a);
    memset(g, 0, P * sizeof *g);
    const size_t cut[] = {0, 7, 20, 41, P};
    rnn_update u;
    cr_assert(rnn_update_begin(&u, &m, o, w_a, g, s_a, 3), "%s: refused", label);
    for (int i = 0; i + 1 < 5; i++) rnn_update_apply(&u, cut[i], cut[i + 1]);
    cr_assert(rnn_update_begin(&u, &m, o, w_b, g, s_b, 3), "%s: refused", label);
    for (int i = 0; i + 1 < 5; i++) rnn_update_apply_zero(&u, cut[i], cut[i + 1]);
    cr_assert(rnn_update_ok(&u), "%s: zero gradients reported not finite", label);
    cr_assert(!memcmp(w_a, w_b, P * sizeof *w_a), "%s: weights differ", label);
    cr_assert(!memcmp(s_a, s_b, S * sizeof *s_a), "%s: state differs", label);
    free(w_a), free(w_b), free(g), free(s_a), free(s_b);
}

Test(optim, update_of_zero_gradients_equals_the_update) {
    rnn_optimizer o = base_opt(RNN_OPT_RMSPROP);
    zero_vs_apply("rmsprop", &o);
    o.epsilon_outside = 1;
    zero_vs_apply("rmsprop epsilon outside", &o);
    o = base_opt(RNN_OPT_ADAM);
    zero_vs_apply("adam", &o);
    o = base_opt(RNN_OPT_SGD);
    zero_vs_apply("sgd", &o);
    o.momentum = 0.9;
    zero_vs_apply("sgd momentum", &o);
}
