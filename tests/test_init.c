/*
 * test_init.c — rnn_init_params against Keras's default initializers.
 *
 * The models are built in C the way the compiler builds them (rnn_model_init,
 * rnn_layer_defaults, fields, rnn_model_layout). Each tensor is checked for its
 * distribution (bounds, spread, mean, variance with bounds a few standard errors
 * wide), for the RNG mapping of rnnrt.h (values recomputed here from the streams),
 * and the recurrent kernels for orthogonality and for being the positive-diagonal
 * QR factor of the documented Gaussian matrix (checked via Q^T A, not by redoing QR).
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rnnrt.h"

typedef enum { M_SIMPLERNN, M_LSTM, M_LSTM_DROPOUT, M_LSTM2, M_GRU, M_WIDE, M_GRU_V1, M_LSTM_NOFB } model_id;

static rnn_layer *add(rnn_model *m, rnn_layer_kind kind, int units) {
    rnn_layer *l = &m->layers[m->n_layers++];
    rnn_layer_defaults(l, kind);
    l->units = units;
    return l;
}

/* Embedding(vocab, E, input_length T) -> body -> Dense(1, sigmoid). */
static void build(rnn_model *m, model_id id) {
    rnn_model_init(m, "m", "test_init.c");
    int vocab = 500, E = 16, T = 100, U = 8;
    if (id == M_WIDE) { vocab = 2000; E = 32; T = 10; U = 64; }
    rnn_layer *emb = add(m, RNN_LAYER_EMBEDDING, E);
    emb->input_dim = vocab;
    emb->input_length = T;
    switch (id) {
    case M_SIMPLERNN: add(m, RNN_LAYER_SIMPLE_RNN, U); break;
    case M_LSTM: add(m, RNN_LAYER_LSTM, U); break;
    case M_WIDE: add(m, RNN_LAYER_LSTM, U); break;
    case M_LSTM_DROPOUT: add(m, RNN_LAYER_LSTM, U)->dropout = 0.3; break;
    case M_LSTM2: {
        rnn_layer *l1 = add(m, RNN_LAYER_LSTM, U);
        l1->dropout = 0.3;
        l1->return_sequences = 1;
        add(m, RNN_LAYER_LSTM, U)->dropout = 0.3;
        break;
    }
    case M_GRU: add(m, RNN_LAYER_GRU, U); break;
    case M_GRU_V1: add(m, RNN_LAYER_GRU, U)->reset_after = 0; break;
    case M_LSTM_NOFB: add(m, RNN_LAYER_LSTM, U)->unit_forget_bias = 0; break;
    }
    add(m, RNN_LAYER_DENSE, 1)->activation = RNN_ACT_SIGMOID;
    char err[256];
    int rc = rnn_model_layout(m, err, sizeof err);
    cr_assert_eq(rc, 0, "layout failed: %s", err);
}

static rnn_real *alloc_params(const rnn_model *m, unsigned char fill) {
    rnn_real *p = malloc(m->param_buffer_len * sizeof *p);
    cr_assert_not_null(p);
    memset(p, fill, m->param_buffer_len * sizeof *p);
    return p;
}

static const rnn_tensor *tensor(const rnn_model *m, const char *name, int rows, int cols) {
    int k = rnn_model_find_tensor(m, name);
    cr_assert_geq(k, 0, "no tensor %s", name);
    const rnn_tensor *t = &m->tensors[k];
    cr_assert_eq(t->shape[0], rows, "%s rows", name);
    cr_assert_eq(t->shape[1], cols, "%s cols", name);
    return t;
}

static int tensor_index(const rnn_model *m, const rnn_tensor *t) { return (int)(t - m->tensors); }

/* U(-l, l): every value within [-l, l] (float rounding of l included); for large
 * tensors max |x| near l, mean ~ 0 and variance ~ l^2/3 within 6 standard errors. */
static void check_uniform(const rnn_tensor *t, const rnn_real *p, double l) {
    const rnn_real *x = p + t->offset;
    const size_t n = t->size;
    double sum = 0, sum2 = 0, mx = 0;
    for (size_t e = 0; e < n; e++) {
        double v = (double)x[e];
        cr_assert(v >= -(double)(rnn_real)l && v <= (double)(rnn_real)l, "%s[%zu] = %g outside +-%g", t->name, e, v, l);
        sum += v;
        sum2 += v * v;
        if (fabs(v) > mx) mx = fabs(v);
    }
    if (n < 200) return;   /* too few values for the statistics to mean anything */
    double var0 = l * l / 3.0;                      /* Var U(-l,l) */
    double se_mean = sqrt(var0 / (double)n);
    double se_var = sqrt((l * l * l * l / 5.0 - var0 * var0) / (double)n);   /* Var(x^2) = l^4/5 - l^4/9 */
    cr_expect(mx >= 0.9 * l, "%s: max |x| %g < 0.9 * %g", t->name, mx, l);
    cr_expect(fabs(sum / (double)n) < 6 * se_mean, "%s: mean %g", t->name, sum / (double)n);
    cr_expect(fabs(sum2 / (double)n - var0) < 6 * se_var, "%s: variance %g want %g", t->name, sum2 / (double)n, var0);
}

/* The exact documented values: element e = lo + (hi - lo) * u(e) from the tensor's
 * RNN_RNG_INIT stream (layer = tensor index). Allow a couple of rounding units. */
static void check_mapping(const rnn_model *m, const rnn_tensor *t, const rnn_real *p, uint64_t seed, double l) {
    rnn_rng s = rnn_rng_stream(seed, RNN_RNG_INIT, (uint32_t)tensor_index(m, t), 0);
    for (size_t e = 0; e < t->size; e++) {
        double want = -l + 2.0 * l * (double)rnn_rng_uniform(&s, (uint32_t)e, 0, 0);
        double got = (double)p[t->offset + e];
        cr_assert(fabs(got - want) <= 2e-7 * l, "%s[%zu] = %.9g want %.9g", t->name, e, got, want);
    }
}

/* Orthogonal recurrent kernel R [r, c], r <= c. Rows orthonormal: R R^T = I_r.
 * It must also be the positive-diagonal thin-QR factor of the documented A
 * [c, r], A[row, col] = normal(row * r + col): Q = R^T when r < c (Keras transposes)
 * and Q = R when square; Q^T A must be upper triangular with a positive diagonal,
 * and Q (Q^T A) must give A back. */
static void check_orthogonal(const rnn_model *m, const rnn_tensor *t, const rnn_real *p, uint64_t seed) {
    const int r = t->shape[0], c = t->shape[1];
    cr_assert_leq(r, c);
    const rnn_real *R = p + t->offset;
    double worst = 0;
    for (int a = 0; a < r; a++)
        for (int b = 0; b < r; b++) {
            double d = 0;
            for (int k = 0; k < c; k++) d += (double)R[a * c + k] * (double)R[b * c + k];
            double err = fabs(d - (a == b ? 1.0 : 0.0));
            if (err > worst) worst = err;
        }
    cr_expect(worst < 1e-5, "%s: |R R^T - I| = %g", t->name, worst);

    if (r == c) {   /* square: columns orthonormal too */
        worst = 0;
        for (int a = 0; a < c; a++)
            for (int b = 0; b < c; b++) {
                double d = 0;
                for (int k = 0; k < r; k++) d += (double)R[k * c + a] * (double)R[k * c + b];
                double err = fabs(d - (a == b ? 1.0 : 0.0));
                if (err > worst) worst = err;
            }
        cr_expect(worst < 1e-5, "%s: |R^T R - I| = %g", t->name, worst);
    }

    /* n = c rows of A, q = r columns. */
    const int n = c, q = r;
#define QAT(row, j) ((double)(r < c ? R[(j) * c + (row)] : R[(row) * c + (j)]))
    rnn_rng s = rnn_rng_stream(seed, RNN_RNG_INIT, (uint32_t)tensor_index(m, t), 0);
    double *A = malloc((size_t)n * q * sizeof *A), *Rt = malloc((size_t)q * q * sizeof *Rt);
    cr_assert(A && Rt);
    double anorm = 0;
    for (int row = 0; row < n; row++)
        for (int col = 0; col < q; col++) {
            A[row * q + col] = rnn_rng_normal(&s, (uint32_t)(row * q + col), 0, 0);
            anorm = fmax(anorm, fabs(A[row * q + col]));
        }
    for (int i = 0; i < q; i++)
        for (int j = 0; j < q; j++) {
            double d = 0;
            for (int row = 0; row < n; row++) d += QAT(row, i) * A[row * q + j];
            Rt[i * q + j] = d;
        }
    for (int i = 0; i < q; i++) {
        cr_expect(Rt[i * q + i] > 0.1, "%s: R[%d,%d] = %g not positive", t->name, i, i, Rt[i * q + i]);
        for (int j = 0; j < i; j++)
            cr_expect(fabs(Rt[i * q + j]) < 1e-5 * anorm * sqrt((double)n), "%s: R[%d,%d] = %g below the diagonal", t->name, i, j, Rt[i * q + j]);
    }
    double rec = 0;
    for (int row = 0; row < n; row++)
        for (int j = 0; j < q; j++) {
            double d = 0;
            for (int i = 0; i < q; i++) d += QAT(row, i) * Rt[i * q + j];
            rec = fmax(rec, fabs(d - A[row * q + j]));
        }
    cr_expect(rec < 1e-5 * anorm * sqrt((double)n), "%s: |Q Q^T A - A| = %g", t->name, rec);
#undef QAT
    free(A);
    free(Rt);
}

static void check_zero(const rnn_tensor *t, const rnn_real *p) {
    for (size_t e = 0; e < t->size; e++) cr_assert_eq(p[t->offset + e], (rnn_real)0, "%s[%zu] = %g", t->name, e, (double)p[t->offset + e]);
}

/* Padding between and after tensors: exactly zero bytes, although the buffer was
 * filled with 0xA5 before the call. */
static void check_padding(const rnn_model *m, const rnn_real *p) {
    unsigned char *used = calloc(m->param_buffer_len, 1);
    cr_assert_not_null(used);
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        cr_assert_leq(t->offset + t->size, m->param_buffer_len);
        for (size_t e = 0; e < t->size; e++) {
            cr_assert_eq(used[t->offset + e], 0, "tensors overlap");
            used[t->offset + e] = 1;
        }
    }
    size_t pad = 0;
    static const rnn_real zero = 0;
    for (size_t e = 0; e < m->param_buffer_len; e++)
        if (!used[e]) {
            pad++;
            cr_assert_eq(memcmp(&p[e], &zero, sizeof zero), 0, "padding element %zu not zero", e);
        }
    free(used);
    cr_assert_gt(pad, 0, "the model has no padding to check");
}

static double glorot(int rows, int cols) { return sqrt(6.0 / (rows + cols)); }

/* Checks common to every seed-like model: embedding, the RNN layers and the dense. */
static void check_model(model_id id, uint64_t seed) {
    rnn_model m;
    build(&m, id);
    rnn_real *p = alloc_params(&m, 0xA5);
    rnn_init_params(&m, seed, p);
    const int U = id == M_WIDE ? 64 : 8, E = id == M_WIDE ? 32 : 16;

    const rnn_tensor *emb = tensor(&m, "embedding/embeddings", id == M_WIDE ? 2000 : 500, E);
    check_uniform(emb, p, 0.05);
    check_mapping(&m, emb, p, seed, 0.05);

    const char *kind = id == M_SIMPLERNN ? "simple_rnn" : (id == M_GRU || id == M_GRU_V1) ? "gru" : "lstm";
    const int G = id == M_SIMPLERNN ? 1 : (id == M_GRU || id == M_GRU_V1) ? 3 : 4;
    const int nrnn = id == M_LSTM2 ? 2 : 1;
    for (int li = 0; li < nrnn; li++) {
        char name[96];
        const int F = li == 0 ? E : U;
        const char *lname = li == 0 ? kind : "lstm_1";
        snprintf(name, sizeof name, "%s/kernel", lname);
        const rnn_tensor *K = tensor(&m, name, F, G * U);
        check_uniform(K, p, glorot(F, G * U));
        check_mapping(&m, K, p, seed, glorot(F, G * U));

        snprintf(name, sizeof name, "%s/recurrent_kernel", lname);
        check_orthogonal(&m, tensor(&m, name, U, G * U), p, seed);

        snprintf(name, sizeof name, "%s/bias", lname);
        if (id == M_GRU) {
            check_zero(tensor(&m, name, 2, 3 * U), p);
        } else if (G == 4 && id != M_LSTM_NOFB) {
            const rnn_tensor *b = tensor(&m, name, 4 * U, 1);
            for (int e = 0; e < 4 * U; e++)
                cr_assert_eq(p[b->offset + e], (rnn_real)(e >= U && e < 2 * U ? 1 : 0), "%s[%d]", name, e);
        } else {
            check_zero(tensor(&m, name, G * U, 1), p);
        }
    }
    const rnn_tensor *dk = tensor(&m, "dense/kernel", U, 1);
    check_uniform(dk, p, glorot(U, 1));
    check_mapping(&m, dk, p, seed, glorot(U, 1));
    check_zero(tensor(&m, "dense/bias", 1, 1), p);
    check_padding(&m, p);
    free(p);
}

Test(init, simplernn) { check_model(M_SIMPLERNN, 1); }
Test(init, lstm) { check_model(M_LSTM, 2); }
Test(init, lstm_dropout) { check_model(M_LSTM_DROPOUT, 3); }
Test(init, lstm2) { check_model(M_LSTM2, 4); }
Test(init, gru) { check_model(M_GRU, 5); }
Test(init, gru_reset_before) { check_model(M_GRU_V1, 6); }
Test(init, lstm_no_forget_bias) { check_model(M_LSTM_NOFB, 7); }
/* Large tensors: LSTM(64) on 32 features, kernel 32x256 and recurrent 64x256. */
Test(init, wide_lstm) { check_model(M_WIDE, 8); }

/* Parameter counts and limits from docs/keras-semantics.md, Initializers (so the fans
 * are right). */
Test(init, keras_limits_table) {
    cr_expect(fabs(glorot(16, 32) - 0.353553) < 1e-6);
    cr_expect(fabs(glorot(8, 32) - 0.387298) < 1e-6);
    cr_expect(fabs(glorot(16, 24) - 0.387298) < 1e-6);
    cr_expect(fabs(glorot(16, 8) - 0.5) < 1e-6);
    cr_expect(fabs(glorot(8, 1) - 0.816497) < 1e-6);
    rnn_model m;
    build(&m, M_LSTM2);
    cr_expect_eq(m.n_params, 8000u + 800u + 544u + 9u);
    build(&m, M_GRU);
    cr_expect_eq(m.n_params, 8000u + 624u + 9u);
    build(&m, M_SIMPLERNN);
    cr_expect_eq(m.n_params, 8000u + 200u + 9u);
    /* Values actually reach the fused-kernel limit and not the per-gate one
     * (sqrt(6/(16+8)) = 0.5 would be exceeded by a per-gate reading): LSTM kernel. */
    build(&m, M_LSTM);
    rnn_real *p = alloc_params(&m, 0);
    rnn_init_params(&m, 99, p);
    const rnn_tensor *K = tensor(&m, "lstm/kernel", 16, 32);
    double mx = 0;
    for (size_t e = 0; e < K->size; e++) mx = fmax(mx, fabs((double)p[K->offset + e]));
    cr_expect(mx <= 0.353554 && mx > 0.33, "max |K| = %g", mx);
    free(p);
}

/* A Conv1D kernel [k, in, out] is rank 3, and glorot_uniform's fans are k * in and
 * k * out (docs/keras-semantics.md, Initializers): imdb_cnn's conv1d/kernel [3, 50, 250]
 * gets sqrt(6 / (150 + 750)) = 0.0816497, not the [150, 250] matrix's 0.122474. */
Test(init, conv1d_kernel_rank3_fans) {
    rnn_model m;
    rnn_model_init(&m, "cnn", "test_init.c");
    rnn_layer *e = add(&m, RNN_LAYER_EMBEDDING, 50);
    e->input_dim = 100, e->input_length = 20;
    rnn_layer *c = add(&m, RNN_LAYER_CONV1D, 250);
    c->kernel_size = 3;
    add(&m, RNN_LAYER_GLOBAL_MAX_POOLING1D, 0);
    add(&m, RNN_LAYER_DENSE, 1)->activation = RNN_ACT_SIGMOID;
    char err[256];
    cr_assert_eq(rnn_model_layout(&m, err, sizeof err), 0, "%s", err);
    int k = rnn_model_find_tensor(&m, "conv1d/kernel");
    cr_assert_geq(k, 0);
    const rnn_tensor *K = &m.tensors[k];
    cr_expect(K->rank == 3 && K->shape[0] == 3 && K->shape[1] == 50 && K->shape[2] == 250 && K->size == 37500u,
              "conv1d/kernel rank %d [%d, %d, %d]", K->rank, K->shape[0], K->shape[1], K->shape[2]);
    cr_expect_eq(m.layers[1].n_params, 37750u);
    rnn_real *p = alloc_params(&m, 0xff);
    rnn_init_params(&m, 5, p);
    const double l = sqrt(6.0 / (150.0 + 750.0));
    check_uniform(K, p, l);
    check_mapping(&m, K, p, 5, l);
    free(p);
}

/* Same seed: identical bytes, whatever the buffer held before. Different seed: every
 * random tensor changes almost everywhere; biases do not. */
Test(init, seeds) {
    rnn_model m;
    build(&m, M_LSTM2);
    rnn_real *a = alloc_params(&m, 0x00), *b = alloc_params(&m, 0xFF), *c = alloc_params(&m, 0x00);
    rnn_init_params(&m, 12345, a);
    rnn_init_params(&m, 12345, b);
    rnn_init_params(&m, 12346, c);
    cr_assert_eq(memcmp(a, b, m.param_buffer_len * sizeof *a), 0);
    for (int k = 0; k < m.n_tensors; k++) {
        const rnn_tensor *t = &m.tensors[k];
        size_t diff = 0;
        for (size_t e = 0; e < t->size; e++) diff += a[t->offset + e] != c[t->offset + e];
        if (strstr(t->name, "bias")) cr_expect_eq(diff, 0u, "%s changed with the seed", t->name);
        else cr_expect_geq(diff, t->size - t->size / 50, "%s: only %zu of %zu values changed", t->name, diff, t->size);
    }
    /* A seed differing only in its upper 32 bits is a different seed too. */
    rnn_init_params(&m, 12345 + (1ull << 32), c);
    cr_expect_neq(memcmp(a, c, m.param_buffer_len * sizeof *a), 0);
    free(a);
    free(b);
    free(c);
}

/* Each tensor has its own stream: the two LSTM kernels of lstm2 and the two recurrent
 * kernels are not rescaled copies of one another. */
Test(init, tensors_independent) {
    rnn_model m;
    build(&m, M_LSTM2);
    rnn_real *p = alloc_params(&m, 0);
    rnn_init_params(&m, 77, p);
    const rnn_tensor *r1 = tensor(&m, "lstm/recurrent_kernel", 8, 32), *r2 = tensor(&m, "lstm_1/recurrent_kernel", 8, 32);
    size_t same = 0;
    for (size_t e = 0; e < r1->size; e++) same += p[r1->offset + e] == p[r2->offset + e];
    cr_expect_lt(same, 3u);
    const rnn_tensor *k1 = tensor(&m, "lstm/kernel", 16, 32), *k2 = tensor(&m, "lstm_1/kernel", 8, 32);
    double corr = 0, n1 = 0, n2 = 0;
    for (size_t e = 0; e < k2->size; e++) {
        corr += (double)p[k1->offset + e] * p[k2->offset + e];
        n1 += (double)p[k1->offset + e] * p[k1->offset + e];
        n2 += (double)p[k2->offset + e] * p[k2->offset + e];
    }
    cr_expect(fabs(corr / sqrt(n1 * n2)) < 0.3, "kernels correlated: %g", corr / sqrt(n1 * n2));
    free(p);
}
