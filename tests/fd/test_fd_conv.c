/*
 * test_fd_conv.c — the reference's non-recurrent sequence layers on their own against
 * central differences: Conv1D in every padding mode with strides, dilation, every
 * activation and without a bias; windowed and global pooling (max and mean, valid and
 * same, overlapping and gapped windows); Activation on steps (softmax per step);
 * SpatialDropout1D; Dense applied at every step. As in test_fd_layers.c: random inputs
 * and weights, a random upstream gradient w, L = Σ w ⊙ out.
 */
#include "fd_support.h"

#include <criterion/criterion.h>
#include <string.h>

/* Check `analytic` against differences of f for theta, reporting under "what tensor". */
static void expect_fd(const char *what, const char *tensor, rnn_real *theta, const rnn_real *analytic, size_t n,
                      fd_scalar_fn f, void *state) {
    char name[160];
    snprintf(name, sizeof name, "%s %s", what, tensor);
    double err = fd_check(theta, analytic, n, f, state);
    fd_report(name, err);
    cr_expect_leq(err, FD_TOLERANCE, "%s: relative error %g", name, err);
}

/* A conv1d or pooling layer's window over T steps (rnn_layer_window, as the layout uses it). */
static rnn_window window(int T, int size, int stride, int dilation, rnn_padding padding, int conv) {
    rnn_layer l;
    memset(&l, 0, sizeof l);
    l.timesteps = T;
    if (conv) l.kernel_size = size, l.dilation_rate = dilation;
    else l.pool_size = size;
    l.strides = stride;
    l.padding = padding;
    return rnn_layer_window(&l);
}

/* ---- conv1d -------------------------------------------------------------------------------- */

typedef struct {
    int B, C, O, bias;
    rnn_activation act;
    rnn_window w;
    rnn_real *x, *kernel, *b, *out, *wt;
} conv_case;

static double conv_scalar(void *state) {
    conv_case *k = state;
    rnn_ref_conv1d_forward(k->out, k->x, k->kernel, k->bias ? k->b : NULL, k->act, k->B, k->C, k->O, &k->w);
    return fd_weighted_sum(k->wt, k->out, (size_t)k->B * (size_t)k->w.out * (size_t)k->O);
}

static void check_conv(const char *what, int T, int size, int stride, int dilation, rnn_padding padding, int bias,
                       rnn_activation act) {
    conv_case k = {.B = 3, .C = 4, .O = 5, .bias = bias, .act = act};
    k.w = window(T, size, stride, dilation, padding, 1);
    cr_assert_gt(k.w.out, 0, "%s: an empty output", what);
    const size_t xn = (size_t)k.B * (size_t)T * (size_t)k.C, kn = (size_t)size * (size_t)k.C * (size_t)k.O;
    const size_t on = (size_t)k.B * (size_t)k.w.out * (size_t)k.O;
    k.x = fd_alloc(xn), k.kernel = fd_alloc(kn), k.b = fd_alloc((size_t)k.O), k.out = fd_alloc(on), k.wt = fd_alloc(on);
    rnn_real *dx = fd_alloc(xn), *dkernel = fd_alloc(kn), *db = fd_alloc((size_t)k.O), *dpre = fd_alloc(on);
    fd_fill_uniform(k.x, xn, 1.0, 51);
    fd_fill_uniform(k.kernel, kn, 0.5, 52);
    fd_fill_uniform(k.b, (size_t)k.O, 0.5, 53);
    fd_fill_uniform(k.wt, on, 1.0, 54);
    conv_scalar(&k);
    rnn_ref_conv1d_backward(dx, dkernel, bias ? db : NULL, dpre, k.wt, k.x, k.out, k.kernel, act, k.B, k.C, k.O, &k.w);
    expect_fd(what, "kernel", k.kernel, dkernel, kn, conv_scalar, &k);
    if (bias) expect_fd(what, "bias", k.b, db, (size_t)k.O, conv_scalar, &k);
    expect_fd(what, "input", k.x, dx, xn, conv_scalar, &k);
    rnn_real *all[] = {k.x, k.kernel, k.b, k.out, k.wt, dx, dkernel, db, dpre};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

Test(fd_conv, conv1d_every_padding_stride_and_dilation) {
    static const struct {
        int size, stride, dilation;
    } shapes[] = {{3, 1, 1}, {1, 1, 1}, {4, 1, 1}, {3, 2, 1}, {2, 3, 1}, {4, 2, 1}, {3, 1, 2}, {2, 1, 3}};
    const rnn_padding paddings[] = {RNN_PADDING_VALID, RNN_PADDING_SAME, RNN_PADDING_CAUSAL};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int p = 0; p < 3; p++) {
            char what[96];
            snprintf(what, sizeof what, "conv1d k%d s%d d%d %s", shapes[s].size, shapes[s].stride, shapes[s].dilation,
                     rnn_padding_name(paddings[p]));
            check_conv(what, 9, shapes[s].size, shapes[s].stride, shapes[s].dilation, paddings[p], 1, RNN_ACT_TANH);
        }
}

Test(fd_conv, conv1d_every_activation_and_no_bias) {
    for (int a = 0; a < RNN_ACT_COUNT; a++) {
        char what[64];
        snprintf(what, sizeof what, "conv1d %s", rnn_activation_name((rnn_activation)a));
        check_conv(what, 8, 3, 1, 1, RNN_PADDING_SAME, 1, (rnn_activation)a);
    }
    check_conv("conv1d no bias", 8, 3, 2, 1, RNN_PADDING_CAUSAL, 0, RNN_ACT_SIGMOID);
}

/* ---- pooling ------------------------------------------------------------------------------- */

typedef struct {
    int B, C, average;
    rnn_window w;
    rnn_real *x, *out, *wt;
} pool_case;

static double pool_scalar(void *state) {
    pool_case *k = state;
    rnn_ref_pool1d_forward(k->out, k->x, k->average, k->B, k->C, &k->w);
    return fd_weighted_sum(k->wt, k->out, (size_t)k->B * (size_t)k->w.out * (size_t)k->C);
}

static void check_pool(const char *what, int average, rnn_window w) {
    pool_case k = {.B = 3, .C = 4, .average = average, .w = w};
    const size_t xn = (size_t)k.B * (size_t)w.in * (size_t)k.C, on = (size_t)k.B * (size_t)w.out * (size_t)k.C;
    k.x = fd_alloc(xn), k.out = fd_alloc(on), k.wt = fd_alloc(on);
    rnn_real *dx = fd_alloc(xn);
    fd_fill_uniform(k.x, xn, 1.0, 61);
    fd_fill_uniform(k.wt, on, 1.0, 62);
    pool_scalar(&k);
    rnn_ref_pool1d_backward(dx, k.wt, k.x, k.out, average, k.B, k.C, &w);
    expect_fd(what, "input", k.x, dx, xn, pool_scalar, &k);
    free(k.x), free(k.out), free(k.wt), free(dx);
}

Test(fd_conv, pooling_windows_max_and_mean) {
    static const struct {
        int T, size, stride;
    } shapes[] = {{9, 2, 2}, {9, 3, 1}, {10, 4, 4}, {9, 2, 3}, {7, 7, 7}, {8, 3, 2}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int p = 0; p < 2; p++)
            for (int average = 0; average <= 1; average++) {
                const rnn_padding padding = p ? RNN_PADDING_SAME : RNN_PADDING_VALID;
                char what[96];
                snprintf(what, sizeof what, "%s_pooling1d T%d p%d s%d %s", average ? "average" : "max", shapes[s].T,
                         shapes[s].size, shapes[s].stride, rnn_padding_name(padding));
                check_pool(what, average, window(shapes[s].T, shapes[s].size, shapes[s].stride, 1, padding, 0));
            }
}

Test(fd_conv, global_pooling_max_and_mean) {
    check_pool("global_max_pooling1d", 0, rnn_ref_global_window(9));
    check_pool("global_average_pooling1d", 1, rnn_ref_global_window(9));
    check_pool("global_average_pooling1d one step", 1, rnn_ref_global_window(1));
}

/* A mean's window at an end averages only its steps inside the sequence (TensorFlow's
 * SAME average pooling); the first maximum takes the whole gradient. */
Test(fd_conv, pooling_edges_and_ties) {
    const rnn_real x[5] = {1, 3, 3, -2, 5};
    rnn_real out[3], dx[5];
    const rnn_real dout[3] = {1, 10, 100};
    rnn_window w = window(5, 2, 2, 1, RNN_PADDING_SAME, 0);
    cr_assert_eq(w.out, 3);
    cr_assert_eq(w.pad_left, 0, "the odd padded step goes after");
    rnn_ref_pool1d_forward(out, x, 1, 1, 1, &w);
    cr_expect_eq(out[0], 2.0);
    cr_expect_eq(out[1], 0.5);
    cr_expect_eq(out[2], 5.0, "the last window holds one step: divided by 1, not 2");
    w = window(5, 3, 1, 1, RNN_PADDING_VALID, 0);
    rnn_ref_pool1d_forward(out, x, 0, 1, 1, &w);
    cr_expect(out[0] == 3 && out[1] == 3 && out[2] == 5);
    rnn_ref_pool1d_backward(dx, dout, x, out, 0, 1, 1, &w);
    const rnn_real want[5] = {0, 11, 0, 0, 100};   /* windows 0 and 1 tie at steps 1 and 2: step 1, the first */
    for (int i = 0; i < 5; i++) cr_expect_eq(dx[i], want[i], "dx[%d] = %g", i, (double)dx[i]);
}

/* ---- activation, spatial dropout, dense on steps -------------------------------------------------- */

typedef struct {
    rnn_activation act;
    int rows, F;
    rnn_real *x, *out, *wt;
} act_case;

static double act_scalar(void *state) {
    act_case *k = state;
    memcpy(k->out, k->x, (size_t)k->rows * (size_t)k->F * sizeof *k->out);
    rnn_ref_activate(k->out, k->act, k->rows, k->F);
    return fd_weighted_sum(k->wt, k->out, (size_t)k->rows * (size_t)k->F);
}

Test(fd_conv, activation_on_steps_every_kind) {
    for (int a = 0; a < RNN_ACT_COUNT; a++) {
        act_case k = {.act = (rnn_activation)a, .rows = 3 * 7, .F = 5};   /* 3 samples of 7 steps */
        const size_t n = (size_t)k.rows * (size_t)k.F;
        k.x = fd_alloc(n), k.out = fd_alloc(n), k.wt = fd_alloc(n);
        rnn_real *dx = fd_alloc(n);
        fd_fill_uniform(k.x, n, 2.0, 71);
        fd_fill_uniform(k.wt, n, 1.0, 72);
        act_scalar(&k);
        rnn_ref_activation_backward(dx, k.wt, k.out, k.act, k.rows, k.F);
        expect_fd("activation", rnn_activation_name(k.act), k.x, dx, n, act_scalar, &k);
        free(k.x), free(k.out), free(k.wt), free(dx);
    }
}

typedef struct {
    int B, T, F;
    rnn_real *x, *mask, *out, *wt;
} spatial_case;

static double spatial_scalar(void *state) {
    spatial_case *k = state;
    rnn_ref_spatial_dropout_forward(k->out, k->x, k->mask, k->B, k->T, k->F);
    return fd_weighted_sum(k->wt, k->out, (size_t)k->B * (size_t)k->T * (size_t)k->F);
}

Test(fd_conv, spatial_dropout_one_mask_for_all_steps) {
    spatial_case k = {.B = 4, .T = 6, .F = 5};
    const size_t n = (size_t)k.B * (size_t)k.T * (size_t)k.F;
    k.x = fd_alloc(n), k.out = fd_alloc(n), k.wt = fd_alloc(n), k.mask = fd_alloc((size_t)k.B * (size_t)k.F);
    rnn_real *dx = fd_alloc(n);
    fd_fill_uniform(k.x, n, 1.0, 81);
    fd_fill_uniform(k.wt, n, 1.0, 82);
    rnn_ref_dropout_mask(k.mask, 7, RNN_RNG_DROPOUT, 2, 1, NULL, 0.4, 0, k.B, 1, k.F);
    int dropped = 0;
    for (int i = 0; i < k.B * k.F; i++) dropped += k.mask[i] == 0;
    cr_assert(dropped > 0 && dropped < k.B * k.F, "the mask drops some channels, not all (%d)", dropped);
    spatial_scalar(&k);
    for (int b = 0; b < k.B; b++)   /* a dropped channel is zero at every step */
        for (int f = 0; f < k.F; f++)
            for (int t = 0; t < k.T; t++)
                if (k.mask[b * k.F + f] == 0) cr_expect_eq(k.out[((size_t)b * k.T + t) * k.F + f], 0.0);
    rnn_ref_spatial_dropout_backward(dx, k.wt, k.mask, k.B, k.T, k.F);
    expect_fd("spatial_dropout1d", "input", k.x, dx, n, spatial_scalar, &k);
    free(k.x), free(k.out), free(k.wt), free(k.mask), free(dx);
}

typedef struct {
    int rows, I, O;
    rnn_real *x, *kernel, *bias, *out, *wt;
} steps_case;

static double steps_scalar(void *state) {
    steps_case *k = state;
    rnn_ref_dense_forward(k->out, k->x, k->kernel, k->bias, RNN_ACT_RELU, k->rows, k->I, k->O);
    return fd_weighted_sum(k->wt, k->out, (size_t)k->rows * (size_t)k->O);
}

/* Dense on a sequence: the [B, T, I] input is B * T rows of the same kernel. */
Test(fd_conv, dense_at_every_step) {
    steps_case k = {.rows = 3 * 6, .I = 5, .O = 4};
    const size_t xn = (size_t)k.rows * k.I, kn = (size_t)k.I * k.O, on = (size_t)k.rows * k.O;
    k.x = fd_alloc(xn), k.kernel = fd_alloc(kn), k.bias = fd_alloc((size_t)k.O), k.out = fd_alloc(on), k.wt = fd_alloc(on);
    rnn_real *dx = fd_alloc(xn), *dkernel = fd_alloc(kn), *dbias = fd_alloc((size_t)k.O), *dpre = fd_alloc(on);
    fd_fill_uniform(k.x, xn, 1.0, 91);
    fd_fill_uniform(k.kernel, kn, 0.5, 92);
    fd_fill_uniform(k.bias, (size_t)k.O, 0.5, 93);
    fd_fill_uniform(k.wt, on, 1.0, 94);
    steps_scalar(&k);
    rnn_ref_dense_backward(dx, dkernel, dbias, dpre, k.wt, k.x, k.out, k.kernel, RNN_ACT_RELU, k.rows, k.I, k.O);
    expect_fd("dense on steps", "kernel", k.kernel, dkernel, kn, steps_scalar, &k);
    expect_fd("dense on steps", "bias", k.bias, dbias, (size_t)k.O, steps_scalar, &k);
    expect_fd("dense on steps", "input", k.x, dx, xn, steps_scalar, &k);
    rnn_real *all[] = {k.x, k.kernel, k.bias, k.out, k.wt, dx, dkernel, dbias, dpre};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}
