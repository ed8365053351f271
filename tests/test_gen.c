/*
 * test_gen.c — the driver every generated trainer shares (runtime/rnn_gen.h), checked
 * piece by piece against plain loops and the reference runtime, and as a whole on a toy
 * model whose "layers" are written here: block-order sums, padding lanes, thread-count
 * invariance, the optimizer's step inside the sums.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "reference/ref_layers.h"
#include "rnn_gen.h"

Test(gen, calloc_gives_zeroed_cache_lines) {
    for (size_t n = 1; n < 100; n += 7) {
        rnn_real *p = rnn_gen_calloc(n);
        cr_assert(p);
        cr_expect_eq((uintptr_t)p % 64, 0u);
        for (size_t i = 0; i < n; i++) cr_expect_eq(p[i], 0.0f);
        free(p);
    }
}

Test(gen, lane_sums_are_the_fixed_tree) {
    _Alignas(64) rnn_real acc[3 * RNN_W];
    rnn_real bs[3];
    for (int i = 0; i < 3 * RNN_W; i++) acc[i] = (rnn_real)(1.0 + 0.37 * i) * (i % 3 ? 1e-3f : 1e3f);
    rnn_gen_lane_sums(acc, bs, 3);
    for (int k = 0; k < 3; k++) {
        const rnn_real *v = acc + k * RNN_W;
        rnn_real h[8], q[4];
        for (int l = 0; l < 8; l++) h[l] = v[l] + v[l + 8];
        for (int l = 0; l < 4; l++) q[l] = h[l] + h[l + 4];
        rnn_real want = (q[0] + q[2]) + (q[1] + q[3]);
        cr_expect_eq(memcmp(&bs[k], &want, sizeof want), 0, "row %d: %.9g != %.9g", k, bs[k], want);
    }
}

Test(gen, add_parts_sums_in_block_order) {
    rnn_real part[5 * 7], dst[7];
    for (int i = 0; i < 35; i++) part[i] = (rnn_real)((i * 7919) % 101) * 0.1f - 3.0f;
    rnn_gen_add_parts(dst, part, 7, 5, 7);
    for (int k = 0; k < 7; k++) {
        rnn_real want = part[k];
        for (int g = 1; g < 5; g++) want += part[g * 7 + k];
        cr_expect_eq(memcmp(&dst[k], &want, sizeof want), 0);
    }
}

/* The lane masks equal the reference's masks of the same rows, element for element. */
Test(gen, draw_mask_equals_the_reference) {
    const int F_cases[] = {1, 3, 4, 7, 16, 17}, T = 5;
    const double rates[] = {0.1, 0.3, 0.9};
    uint32_t rows[RNN_W];
    for (int l = 0; l < RNN_W; l++) rows[l] = (uint32_t)(l * 37 + 5);
    rnn_dropout_ctx ctx = {1, 1234, 3, NULL, NULL};
    for (size_t fi = 0; fi < sizeof F_cases / sizeof *F_cases; fi++)
        for (int per_step = 0; per_step < 2; per_step++)
            for (size_t ri = 0; ri < 3; ri++) {
                const int F = F_cases[fi], steps = per_step ? T : 1;
                rnn_real *lanes = rnn_gen_calloc((size_t)steps * F * RNN_W);
                rnn_real *ref = calloc((size_t)RNN_W * steps * F, sizeof *ref);
                rnn_gen_draw_mask(lanes, &ctx, RNN_RNG_DROPOUT, 2, steps, per_step, F, rates[ri], rows);
                rnn_ref_dropout_mask(ref, ctx.seed, RNN_RNG_DROPOUT, 2, ctx.epoch, rows, rates[ri], per_step, RNN_W, steps, F);
                for (int l = 0; l < RNN_W; l++)
                    for (int t = 0; t < steps; t++)
                        for (int f = 0; f < F; f++)
                            cr_expect_eq(lanes[((size_t)t * F + f) * RNN_W + l], ref[((size_t)l * steps + t) * F + f],
                                         "F %d per_step %d rate %g lane %d t %d f %d", F, per_step, rates[ri], l, t, f);
                free(lanes);
                free(ref);
            }
}

/* ---- a toy model through the whole driver -------------------------------------------------------
 * Two parameters after a one-row "embedding" of 4: logit z = u * (sum of the sample's ids) + b.
 * Its block's backward accumulates u's gradient per lane (the driver sums the lanes) and
 * adds b's straight into the block's gradient sums, as a large layer's lane-summed
 * products do; the tail sums the blocks (and the embedding stays untouched: its
 * gradient zero). */

enum { TOY_T = 3, TOY_V = 9 };

typedef struct {
    rnn_gen_common base;
    rnn_real *z, *dz;   /* [W] per block */
} toy_workspace;

static const rnn_gen_buffer toy_buffers[] = {{offsetof(toy_workspace, z), RNN_W, 0}, {offsetof(toy_workspace, dz), RNN_W, 0}};

static void toy_forward(void *ws, const rnn_real *params, int g, const rnn_dropout_ctx *ctx) {
    (void)ctx;
    toy_workspace *w = ws;
    for (int l = 0; l < RNN_W; l++) {
        int s = 0;
        for (int t = 0; t < TOY_T; t++) s += w->base.tokens[((size_t)g * RNN_W + l) * TOY_T + t];
        w->z[g * RNN_W + l] = params[16] * (rnn_real)s + params[17];
    }
}

static void toy_backward(void *ws, const rnn_real *params, int g) {
    (void)params;
    toy_workspace *w = ws;
    rnn_real *acc = w->base.acc + (size_t)g * 1 * RNN_W, *sums = w->base.bsum + (size_t)g * 2;
    for (int l = 0; l < RNN_W; l++) {
        int s = 0;
        for (int t = 0; t < TOY_T; t++) s += w->base.tokens[((size_t)g * RNN_W + l) * TOY_T + t];
        acc[l] += w->dz[g * RNN_W + l] * (rnn_real)s;
        sums[1] += w->dz[g * RNN_W + l];
    }
}

static void toy_tail(void *arg, int c) {
    rnn_gen_tail *t = arg;
    if (c == 0) {   /* the embedding's rows: no gradient */
        memset(t->grads, 0, 4 * sizeof *t->grads);
        rnn_gen_step_range(t, 0, 4);
        return;
    }
    rnn_gen_reduce_chunk(t, c - 1);
}

static const rnn_gen_lane_range toy_lanes[] = {{0, 0, 1}};   /* u: per lane; b: lane-summed */

static const rnn_gen_model TOY = {
    .timesteps = TOY_T, .vocab = TOY_V, .outputs = 1, .binary = 1, .keep_always = 0,
    .param_len = 18, .acc_offset = 16, .acc_len = 2, .lane_len = 1, .lane_ranges = toy_lanes, .n_lane_ranges = 1,
    .workspace_size = sizeof(toy_workspace), .buffers = toy_buffers, .n_buffers = 2,
    .logits = offsetof(toy_workspace, z), .dlogits = offsetof(toy_workspace, dz),
    .forward_layers = toy_forward, .backward_layers = toy_backward,
    .tail_tasks = 1 + RNN_GEN_TAIL_CHUNKS, .tail_task = toy_tail, .finish = NULL,
};

RNN_GEN_OPS(TOY_OPS, TOY, 4);

static void toy_batch(int n, int32_t *tokens, rnn_real *labels) {
    for (int b = 0; b < n; b++) {
        for (int t = 0; t < TOY_T; t++) tokens[b * TOY_T + t] = (b * 5 + t * 3) % TOY_V;
        labels[b] = (rnn_real)(b % 3 == 0);
    }
}

Test(gen, the_driver_computes_loss_and_gradients_of_the_toy_model) {
    enum { N = 37 };
    int32_t tokens[N * TOY_T];
    rnn_real labels[N], out[N], params[18] = {0}, grads[18];
    toy_batch(N, tokens, labels);
    params[16] = 0.05f;
    params[17] = -0.2f;
    void *impl = TOY_OPS.create(NULL, 64);
    cr_assert(impl);
    rnn_dropout_ctx ctx = {1, 7, 0, NULL, NULL};
    double loss = TOY_OPS.forward(impl, params, tokens, labels, N, &ctx, out);
    TOY_OPS.backward(impl, params, grads);
    double want_loss = 0, du = 0, db = 0;
    int correct = 0;
    for (int b = 0; b < N; b++) {
        int s = 0;
        for (int t = 0; t < TOY_T; t++) s += tokens[b * TOY_T + t];
        double z = (double)(params[16] * (rnn_real)s + params[17]), p = 1 / (1 + exp(-z));
        want_loss += fmax(z, 0) - z * labels[b] + log1p(exp(-fabs(z)));
        du += (p - labels[b]) / N * s;
        db += (p - labels[b]) / N;
        correct += (p > 0.5) == (labels[b] > 0.5);
        cr_expect_float_eq(out[b], (rnn_real)p, 1e-6);
    }
    cr_expect_float_eq(loss, want_loss / N, 1e-12);
    cr_expect_eq(TOY_OPS.correct(impl), correct);
    cr_expect_float_eq(grads[16], du, 1e-6 * fabs(du));
    cr_expect_float_eq(grads[17], db, 1e-6 * fabs(db));
    for (int k = 0; k < 16; k++) cr_expect_eq(grads[k], 0.0f, "padding and embedding gradients are zero");
    TOY_OPS.destroy(impl);
}

/* The same gradients and steps, bit for bit, on 1 or 3 threads, with forward + backward
 * or forward_backward with the optimizer's step inside. */
Test(gen, the_driver_is_the_same_whatever_the_threads_and_the_path) {
    enum { N = 50 };
    int32_t tokens[N * TOY_T];
    const int32_t *samples[N];
    rnn_real labels[N];
    toy_batch(N, tokens, labels);
    for (int b = 0; b < N; b++) samples[b] = tokens + b * TOY_T;
    rnn_model m;   /* the optimizer needs the tensor layout of 4 + 2 parameters */
    rnn_model_init(&m, "toy", "t");
    m.n_tensors = 2;
    m.param_buffer_len = 18;
    m.tensors[0] = (rnn_tensor){"e/embeddings", 0, 2, {1, 4}, 0, 4, RNN_INIT_ZEROS};
    m.tensors[1] = (rnn_tensor){"d/kernel", 1, 1, {2, 1}, 16, 2, RNN_INIT_ZEROS};
    rnn_optimizer opt = {.kind = RNN_OPT_SGD, .learning_rate = 0.1};
    rnn_real result[4][18];
    for (int run = 0; run < 4; run++) {
        rnn_set_threads(run % 2 ? 3 : 1);
        rnn_real params[18] = {0}, grads[18], state[1] = {0};
        params[16] = 0.01f;
        void *impl = TOY_OPS.create(NULL, 64);
        rnn_dropout_ctx ctx = {1, 7, 0, NULL, NULL};
        for (int step = 1; step <= 3; step++) {
            if (run < 2) {
                TOY_OPS.forward(impl, params, tokens, labels, N, &ctx, NULL);
                TOY_OPS.backward(impl, params, grads);
                rnn_optimizer_step(&m, &opt, params, grads, state, step);
            } else {
                rnn_update up;
                cr_assert(rnn_update_begin(&up, &m, &opt, params, grads, state, step));
                TOY_OPS.forward_backward(impl, params, samples, labels, N, &ctx, NULL, grads, &up);
                cr_expect(rnn_update_ok(&up));
            }
        }
        memcpy(result[run], params, sizeof params);
        TOY_OPS.destroy(impl);
    }
    rnn_set_threads(0);
    cr_expect(result[0][16] != 0.01f, "the steps moved u");
    for (int run = 1; run < 4; run++) cr_expect_eq(memcmp(result[run], result[0], sizeof result[0]), 0, "run %d differs", run);
}

Test(gen, an_id_out_of_range_makes_the_batch_nan) {
    int32_t tokens[2 * TOY_T] = {1, 2, 3, 4, TOY_V, 0};
    rnn_real labels[2] = {0, 1}, params[18] = {0};
    void *impl = TOY_OPS.create(NULL, 16);
    cr_expect(isnan(TOY_OPS.forward(impl, params, tokens, labels, 2, NULL, NULL)));
    tokens[4] = -1;
    cr_expect(isnan(TOY_OPS.forward(impl, params, tokens, labels, 2, NULL, NULL)));
    tokens[4] = TOY_V - 1;
    cr_expect(!isnan(TOY_OPS.forward(impl, params, tokens, labels, 2, NULL, NULL)));
    TOY_OPS.destroy(impl);
}
