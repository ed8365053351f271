/*
 * test_oracle.c — the reference runtime and the optimizers against PyTorch.
 *
 * Every fixture in tests/fixtures/oracle (written by tools/make_fixtures.py, format in
 * tests/fixture.h and at the top of the script) holds a small model, its weights under
 * Keras names and layouts, one batch and the float64 PyTorch results. For each case:
 *   1. build the rnn_model in C from the fixture's layer list and lay it out; the
 *      parameter tensors must have the fixture's names and shapes;
 *   2. load the weights into the flat buffer by tensor name;
 *   3. recompute every recorded dropout mask with the C Philox streams (this checks
 *      the Python port of the RNG against runtime/core/rng.c, exactly);
 *   4. rnn_ref_forward / rnn_ref_backward with the recorded dropout context on a
 *      reference created for max_batch rows and run with n < max_batch; compare the
 *      probabilities, the loss, the number correct, every parameter gradient and the
 *      gradient with respect to the embedding output;
 *   5. for each recorded optimizer, K steps of forward + backward + rnn_optimizer_step
 *      on the same batch from the initial weights, and compare the weights.
 *
 * Tolerance (float build against float64): an element passes when
 *     |got - want| <= ORACLE_ATOL + ORACLE_RTOL * |want|,
 * i.e. its error ratio |got - want| / (ORACLE_ATOL + ORACLE_RTOL * |want|) is <= 1.
 * On failure the worst element of each failing tensor is printed with its ratio.
 * Set RNNC_ORACLE_VERBOSE=1 to print the worst ratio of every tensor.
 */
#include "fixture.h"
#include "rnnrt.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORACLE_DIR "tests/fixtures/oracle"
#define ORACLE_RTOL 1e-5
#define ORACLE_ATOL 1e-6

/* The cases; each must have ORACLE_DIR/<name>.txt, and every file there must be listed. */
#define ORACLE_CASES(X)          \
    X(simple_rnn_tanh)           \
    X(simple_rnn_relu)           \
    X(lstm)                      \
    X(gru_reset_after)           \
    X(gru_reset_before)          \
    X(lstm2_stack)               \
    X(gru_simple_rnn_stack)      \
    X(simple_rnn_sigmoid_linear) \
    X(dense_hidden_softmax)      \
    X(dense_hidden_sigmoid)      \
    X(lstm2_dropout)             \
    X(lstm2_dropout_eval)        \
    X(lstm_dropout_per_sequence) \
    X(gru_dropout)               \
    X(simple_rnn_dropout)        \
    X(lstm_recurrent_dropout)    \
    X(gru_recurrent_dropout)     \
    X(dropout_layers)            \
    X(go_backwards)              \
    X(go_backwards_dropout)      \
    X(bidirectional_lstm_concat) \
    X(bidirectional_sum_mul)     \
    X(bidirectional_ave_hand_cells) \
    X(bidirectional_dropout)     \
    X(bidirectional_of_go_backwards) \
    X(multi_label_weighted)      \
    X(categorical_onehot_weighted) \
    X(embedding_clipping)        \
    X(frozen_layers)             \
    X(conv_valid_global_max)     \
    X(conv_max_pooling_lstm)     \
    X(conv_paddings_strides_dilation) \
    X(pooling_same_and_overlapping) \
    X(fasttext_activation_head)  \
    X(masked_lstm_gru_stack)     \
    X(masked_simple_rnn_gru_before) \
    X(masked_bidirectional_sequences) \
    X(masked_dense_sequence_global_average)

/* ---- comparison ---------------------------------------------------------------- */

typedef struct {
    const char *case_name;
    int verbose;
    int failures;        /* failing tensors */
    double worst;        /* worst error ratio over the whole case */
    char worst_what[160];
} cmp_state;

static double err_ratio(double got, double want) {
    if (isnan(got) || isnan(want)) return INFINITY;
    return fabs(got - want) / (ORACLE_ATOL + ORACLE_RTOL * fabs(want));
}

/* Compare n values; got[i*stride]. Returns the worst ratio, records failures. */
static double compare(cmp_state *st, const char *what, const rnn_real *got, const double *want, size_t n) {
    double worst = 0.0;
    size_t wi = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        double r = err_ratio((double)got[i], want[i]);
        if (!(r <= 1.0)) bad++;
        if (r > worst || isnan(r)) {
            worst = isnan(r) ? INFINITY : r;
            wi = i;
        }
    }
    if (worst > st->worst) {
        st->worst = worst;
        snprintf(st->worst_what, sizeof st->worst_what, "%s[%zu]", what, wi);
    }
    if (bad) {
        st->failures++;
        fprintf(stderr,
                "oracle/%s: %s: %zu of %zu elements out of tolerance; worst [%zu] got %.9g want %.17g "
                "(|diff| %.3g, ratio %.3g)\n",
                st->case_name, what, bad, n, wi, n ? (double)got[wi] : 0.0, n ? want[wi] : 0.0,
                n ? fabs((double)got[wi] - want[wi]) : 0.0, worst);
    } else if (st->verbose) {
        fprintf(stderr, "oracle/%s: %-40s worst ratio %.3g\n", st->case_name, what, worst);
    }
    return worst;
}

/* ---- model from fixture ------------------------------------------------------- */

static int parse_kind(const char *s, rnn_layer_kind *k) {
    for (int i = 0; i < RNN_LAYER_KIND_COUNT; i++)
        if (strcmp(s, rnn_layer_dsl_name((rnn_layer_kind)i)) == 0) {
            *k = (rnn_layer_kind)i;
            return 1;
        }
    return 0;
}

static int parse_act(const char *s, rnn_activation *a) {
    for (int i = 0; i < RNN_ACT_COUNT; i++)
        if (strcmp(s, rnn_activation_name((rnn_activation)i)) == 0) {
            *a = (rnn_activation)i;
            return 1;
        }
    return 0;
}

static void build_model(const fixture *fx, rnn_model *m, const char *path) {
    rnn_model_init(m, "oracle", path);
    const fx_record *mr = fx_record_get(fx, "model", 0);
    cr_assert(mr, "%s: no model record", path);
    const char *loss = fx_get(mr, "loss");
    cr_assert(loss, "%s: model without loss", path);
    if (strcmp(loss, "binary_crossentropy") == 0) m->loss = RNN_LOSS_BINARY_CROSSENTROPY;
    else if (strcmp(loss, "sparse_categorical_crossentropy") == 0) m->loss = RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    else if (strcmp(loss, "categorical_crossentropy") == 0) m->loss = RNN_LOSS_CATEGORICAL_CROSSENTROPY;
    else cr_assert_fail("%s: unknown loss %s", path, loss);

    int nl = fx_count(fx, "layer");
    cr_assert(nl >= 2 && nl <= RNN_MAX_LAYERS, "%s: %d layers", path, nl);
    m->n_layers = nl;
    for (int i = 0; i < nl; i++) {
        const fx_record *r = fx_record_get(fx, "layer", i);
        rnn_layer *l = &m->layers[i];
        rnn_layer_kind kind;
        const char *ks = fx_get(r, "kind");
        cr_assert(ks && parse_kind(ks, &kind), "%s: layer %d: bad kind", path, i);
        rnn_layer_defaults(l, kind);
        int ok = 1;
        if (fx_num(r, "explicit_name", &ok) != 0) {
            const char *nm = fx_get(r, "name");
            cr_assert(nm && strlen(nm) < sizeof l->name, "%s: layer %d: bad name", path, i);
            snprintf(l->name, sizeof l->name, "%s", nm);
        }
        l->units = (int)fx_num(r, "units", &ok);
        if (kind == RNN_LAYER_EMBEDDING) {
            l->input_dim = (int)fx_num(r, "input_dim", &ok);
            l->input_length = (int)fx_num(r, "input_length", &ok);
            if (fx_get(r, "mask_zero")) l->mask_zero = (int)fx_num(r, "mask_zero", &ok);
        }
        const char *act = fx_get(r, "activation");
        cr_assert(act && parse_act(act, &l->activation), "%s: layer %d: bad activation", path, i);
        l->dropout = fx_num(r, "dropout", &ok);
        l->recurrent_dropout = fx_num(r, "recurrent_dropout", &ok);
        l->return_sequences = (int)fx_num(r, "return_sequences", &ok);
        l->unit_forget_bias = (int)fx_num(r, "unit_forget_bias", &ok);
        l->reset_after = (int)fx_num(r, "reset_after", &ok);
        const char *dm = fx_get(r, "dropout_mask");
        cr_assert(dm, "%s: layer %d: no dropout_mask", path, i);
        if (strcmp(dm, "per_step") == 0) l->dropout_mask = RNN_DROPOUT_PER_STEP;
        else if (strcmp(dm, "per_sequence") == 0) l->dropout_mask = RNN_DROPOUT_PER_SEQUENCE;
        else cr_assert_fail("%s: layer %d: bad dropout_mask %s", path, i, dm);
        if (fx_get(r, "go_backwards")) l->go_backwards = (int)fx_num(r, "go_backwards", &ok);
        if (fx_get(r, "trainable")) l->frozen = !(int)fx_num(r, "trainable", &ok);
        if (fx_get(r, "kernel_size") || fx_get(r, "pool_size")) {   /* a conv1d or pooling layer's window */
            l->kernel_size = fx_get(r, "kernel_size") ? (int)fx_num(r, "kernel_size", &ok) : 0;
            l->dilation_rate = fx_get(r, "dilation_rate") ? (int)fx_num(r, "dilation_rate", &ok) : 0;
            l->pool_size = fx_get(r, "pool_size") ? (int)fx_num(r, "pool_size", &ok) : 0;
            l->strides = (int)fx_num(r, "strides", &ok);
            const char *pd = fx_get(r, "padding");
            int found = 0;
            for (int k = 0; pd && k < RNN_PADDING_COUNT; k++)
                if (strcmp(pd, rnn_padding_name((rnn_padding)k)) == 0) l->padding = (rnn_padding)k, found = 1;
            cr_assert(found, "%s: layer %d: bad padding", path, i);
        }
        if (fx_get(r, "use_bias")) l->use_bias = (int)fx_num(r, "use_bias", &ok);
        if (fx_get(r, "wrapped")) {   /* a bidirectional layer and the layer it wraps */
            cr_assert(parse_kind(fx_get(r, "wrapped"), &l->wrapped), "%s: layer %d: bad wrapped kind", path, i);
            if (fx_num(r, "explicit_wrapped_name", &ok) != 0)
                snprintf(l->wrapped_name, sizeof l->wrapped_name, "%s", fx_get(r, "wrapped_name"));
            const char *mm = fx_get(r, "merge_mode");
            int found = 0;
            for (int k = 0; mm && k < RNN_MERGE_COUNT; k++)
                if (strcmp(mm, rnn_merge_mode_name((rnn_merge_mode)k)) == 0) l->merge_mode = (rnn_merge_mode)k, found = 1;
            cr_assert(found, "%s: layer %d: bad merge_mode", path, i);
        }
        cr_assert(ok, "%s: layer %d: missing or malformed field", path, i);
    }
    char err[512];
    int rc = rnn_model_layout(m, err, sizeof err);
    cr_assert_eq(rc, 0, "%s: rnn_model_layout failed: %s", path, err);
    for (int i = 0; i < nl; i++) {
        const char *want = fx_get(fx_record_get(fx, "layer", i), "name");
        cr_assert_str_eq(m->layers[i].name, want, "%s: layer %d is named %s in C, %s in the fixture",
                         path, i, m->layers[i].name, want);
        const char *wrapped = fx_get(fx_record_get(fx, "layer", i), "wrapped_name");
        if (wrapped)
            cr_assert_str_eq(m->layers[i].wrapped_name, wrapped, "%s: layer %d wraps %s in C, %s in the fixture", path, i,
                             m->layers[i].wrapped_name, wrapped);
    }
}

/* "1,2.5" into v (at most max); the count. */
static int parse_list(const char *s, double *v, int max, int *ok) {
    int n = 0;
    for (char *end; s && *s && n < max; s = *end ? end + 1 : end) {
        v[n++] = strtod(s, &end);
        if (end == s || (*end && *end != ',')) *ok = 0;
        if (end == s) break;
    }
    if (!s) *ok = 0;
    return n;
}

/* An optimizer record's learning-rate schedule (schedule=KIND and its arguments), if any. */
static void parse_schedule(const fx_record *r, rnn_lr_schedule *s, int *ok) {
    const char *kind = fx_get(r, "schedule");
    memset(s, 0, sizeof *s);
    if (!kind) return;
    for (int k = 1; k < RNN_SCHEDULE_COUNT; k++)
        if (!strcmp(kind, rnn_schedule_name((rnn_schedule_kind)k))) s->kind = (rnn_schedule_kind)k;
    if (s->kind == RNN_SCHEDULE_NONE) *ok = 0;
    if (s->kind == RNN_SCHEDULE_PIECEWISE_CONSTANT_DECAY) {
        s->n_boundaries = parse_list(fx_get(r, "boundaries"), s->boundaries, RNN_MAX_BOUNDARIES, ok);
        if (parse_list(fx_get(r, "values"), s->values, RNN_MAX_BOUNDARIES + 1, ok) != s->n_boundaries + 1) *ok = 0;
        return;
    }
    s->initial_learning_rate = fx_num(r, "initial_learning_rate", ok);
    s->decay_steps = fx_num(r, "decay_steps", ok);
    if (s->kind == RNN_SCHEDULE_COSINE_DECAY) {
        s->alpha = fx_num(r, "alpha", ok);
    } else {
        s->decay_rate = fx_num(r, "decay_rate", ok);
        s->staircase = (int)fx_num(r, "staircase", ok);
    }
}

static void parse_optimizer(const fx_record *r, rnn_optimizer *o, int *steps, const char *path) {
    memset(o, 0, sizeof *o);
    const char *kind = fx_get(r, "kind");
    cr_assert(kind, "%s: optimizer without kind", path);
    if (strcmp(kind, "rmsprop") == 0) o->kind = RNN_OPT_RMSPROP;
    else if (strcmp(kind, "adam") == 0) o->kind = RNN_OPT_ADAM;
    else if (strcmp(kind, "sgd") == 0) o->kind = RNN_OPT_SGD;
    else cr_assert_fail("%s: unknown optimizer %s", path, kind);
    int ok = 1;
    o->learning_rate = fx_num(r, "learning_rate", &ok);
    o->rho = fx_num(r, "rho", &ok);
    o->epsilon = fx_num(r, "epsilon", &ok);
    o->epsilon_outside = (int)fx_num(r, "epsilon_outside", &ok);
    o->beta_1 = fx_num(r, "beta_1", &ok);
    o->beta_2 = fx_num(r, "beta_2", &ok);
    o->momentum = fx_num(r, "momentum", &ok);
    o->nesterov = (int)fx_num(r, "nesterov", &ok);
    o->clipnorm = fx_num(r, "clipnorm", &ok);
    o->global_clipnorm = fx_num(r, "global_clipnorm", &ok);
    o->clipvalue = fx_num(r, "clipvalue", &ok);
    *steps = (int)fx_num(r, "steps", &ok);
    const char *clip = fx_get(r, "embedding_clip");
    o->embedding_clip = clip && !strcmp(clip, "summed") ? RNN_EMBEDDING_CLIP_SUMMED : RNN_EMBEDDING_CLIP_PER_LOOKUP;
    parse_schedule(r, &o->schedule, &ok);
    cr_assert(ok, "%s: optimizer %s: missing or malformed field", path, fx_get(r, "label"));
}

static const fx_tensor *need_tensor(const fixture *fx, const char *name, size_t size, const char *path) {
    const fx_tensor *t = fx_tensor_get(fx, name);
    cr_assert(t, "%s: no tensor %s", path, name);
    cr_assert_eq(t->size, size, "%s: tensor %s has %zu values, expected %zu", path, name, t->size, size);
    return t;
}

/* Parameters from the fixture's "<prefix><keras name>" tensors into a flat buffer laid out
 * like m (padding zero). Shapes must match exactly. */
static void load_params(const fixture *fx, const rnn_model *m, const char *prefix, double *dst, const char *path) {
    memset(dst, 0, m->param_buffer_len * sizeof *dst);
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        char name[FX_NAME_MAX + 32];
        snprintf(name, sizeof name, "%s%s", prefix, t->name);
        const fx_tensor *ft = need_tensor(fx, name, t->size, path);
        int same = ft->rank == t->rank;
        for (int d = 0; d < t->rank && same; d++) same = ft->dims[d] == t->shape[d];
        cr_assert(same, "%s: %s: fixture shape [%d,%d,%d] rank %d, model [%d,%d,%d] rank %d", path, name, ft->dims[0],
                  ft->dims[1], ft->dims[2], ft->rank, t->shape[0], t->shape[1], t->shape[2], t->rank);
        memcpy(dst + t->offset, ft->v, t->size * sizeof *dst);
    }
}

/* Compare a flat buffer against the fixture's "<prefix><name>" tensors; the alignment
 * padding must be exactly zero. */
static void compare_params(cmp_state *st, const fixture *fx, const rnn_model *m, const char *prefix,
                           const rnn_real *got, const char *path) {
    double *want = malloc(m->param_buffer_len * sizeof *want);
    cr_assert(want);
    load_params(fx, m, prefix, want, path);
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        char what[FX_NAME_MAX + 32];
        snprintf(what, sizeof what, "%s%s", prefix, t->name);
        compare(st, what, got + t->offset, want + t->offset, t->size);
        size_t end = k + 1 < m->n_tensors ? m->tensors[k + 1].offset : m->param_buffer_len;
        for (size_t i = t->offset + t->size; i < end; i++)
            if (got[i] != 0) {
                st->failures++;
                fprintf(stderr, "oracle/%s: %s: padding element %zu is %g, not 0\n", st->case_name, what, i,
                        (double)got[i]);
                break;
            }
    }
    free(want);
}

/* Recompute a recorded dropout mask with the C RNG; it must match exactly. */
static void check_mask(const fixture *fx, const rnn_model *m, const fx_tensor *t, const rnn_dropout_ctx *ctx,
                       int n, const char *path) {
    char lname[FX_NAME_MAX];
    snprintf(lname, sizeof lname, "%s", t->name + strlen("mask/"));
    char *slash = strchr(lname, '/');
    cr_assert(slash, "%s: bad mask name %s", path, t->name);
    *slash = 0;
    const char *what = slash + 1;
    int li = -1;
    for (int i = 0; i < m->n_layers; i++)
        if (strcmp(m->layers[i].name, lname) == 0) li = i;
    cr_assert(li >= 0, "%s: mask for unknown layer %s", path, lname);
    const rnn_layer *l = &m->layers[li];
    int recurrent = strncmp(what, "recurrent_dropout", strlen("recurrent_dropout")) == 0;
    int backward = strstr(what, "_backward") != NULL;   /* a bidirectional layer's backward half */
    double rate = recurrent ? l->recurrent_dropout : l->dropout;
    rnn_rng s = rnn_rng_stream(ctx->seed, recurrent ? RNN_RNG_RECURRENT_DROPOUT : RNN_RNG_DROPOUT,
                               (uint32_t)li + (backward ? RNN_RNG_BACKWARD_HALF : 0), ctx->epoch);
    /* [n, steps, F] or [n, F]: j = step index (0 for a vector or per-sequence mask). */
    int steps = t->rank == 3 ? t->dims[1] : 1, F = t->dims[t->rank - 1];
    cr_assert_eq(t->dims[0], n, "%s: %s: %d rows", path, t->name, t->dims[0]);
    (void)fx;
    size_t bad = 0;
    for (int b = 0; b < n; b++) {
        uint32_t row = ctx->rows ? ctx->rows[b] : (uint32_t)b;
        for (int j = 0; j < steps; j++)
            for (int f = 0; f < F; f++) {
                double u = (double)rnn_rng_uniform(&s, (uint32_t)f, (uint32_t)j, row);
                double want = u >= rate ? 1.0 / (1.0 - rate) : 0.0;
                double got = t->v[((size_t)b * (size_t)steps + (size_t)j) * (size_t)F + (size_t)f];
                if (got != want) bad++;
            }
    }
    cr_assert_eq(bad, 0, "%s: %s: %zu mask elements differ between the Python Philox port and rnn_rng_uniform",
                 path, t->name, bad);
}

/* ---- one case ------------------------------------------------------------------- */

static void run_case(const char *case_name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.txt", ORACLE_DIR, case_name);
    fixture fx;
    cr_assert_eq(fx_load(&fx, path), 0, "%s", fx.err);
    const fx_record *cr = fx_record_get(&fx, "case", 0);
    cr_assert(cr && strcmp(cr->arg, case_name) == 0, "%s: case record does not name %s", path, case_name);

    rnn_model *m = calloc(1, sizeof *m);
    cr_assert(m);
    build_model(&fx, m, path);
    const size_t P = m->param_buffer_len;
    const int T = m->timesteps, E = m->layers[0].units, K = m->n_outputs;

    /* every weights/ tensor of the fixture must be a model tensor, and vice versa */
    int n_weights = 0;
    for (int i = 0; i < fx.n_tensors; i++)
        if (strncmp(fx.tensors[i].name, "weights/", 8) == 0) {
            n_weights++;
            cr_assert(rnn_model_find_tensor(m, fx.tensors[i].name + 8) >= 0, "%s: the model has no tensor %s", path,
                      fx.tensors[i].name + 8);
        }
    cr_assert_eq(n_weights, m->n_tensors, "%s: %d weight tensors in the fixture, %d in the model", path, n_weights,
                 m->n_tensors);

    /* batch and dropout context */
    int ok = 1;
    const fx_record *br = fx_record_get(&fx, "batch", 0), *dr = fx_record_get(&fx, "dropout", 0);
    cr_assert(br && dr, "%s: no batch or dropout record", path);
    const int n = (int)fx_num(br, "n", &ok), max_batch = (int)fx_num(br, "max_batch", &ok);
    rnn_dropout_ctx ctx = {0};
    ctx.training = (int)fx_num(dr, "training", &ok);
    ctx.seed = fx_u64(dr, "seed", &ok);
    ctx.epoch = (uint32_t)fx_num(dr, "epoch", &ok);
    const int has_rows = (int)fx_num(dr, "rows", &ok);
    const double want_loss = strtod(fx_record_get(&fx, "loss_value", 0)->arg, NULL);
    const int want_correct = atoi(fx_record_get(&fx, "correct", 0)->arg);
    cr_assert(ok && n >= 1 && n <= max_batch, "%s: bad batch/dropout record", path);

    const fx_tensor *tt = need_tensor(&fx, "tokens", (size_t)n * (size_t)T, path);
    const size_t L = (size_t)m->label_width;
    const fx_tensor *lt = need_tensor(&fx, "labels", (size_t)n * L, path);
    int32_t *tokens = malloc((size_t)n * (size_t)T * sizeof *tokens);
    rnn_real *labels = malloc((size_t)n * L * sizeof *labels);
    float *weights = malloc((size_t)n * sizeof *weights);
    uint32_t *rows = malloc((size_t)n * sizeof *rows);
    cr_assert(tokens && labels && rows && weights);
    for (size_t i = 0; i < tt->size; i++) tokens[i] = (int32_t)tt->v[i];
    for (size_t i = 0; i < (size_t)n * L; i++) labels[i] = (rnn_real)lt->v[i];
    if (fx_tensor_get(&fx, "sample_weights")) {   /* each sample's loss weight */
        const fx_tensor *wt = need_tensor(&fx, "sample_weights", (size_t)n, path);
        for (int i = 0; i < n; i++) weights[i] = (float)wt->v[i];
        ctx.sample_weights = weights;
    }
    if (has_rows) {
        const fx_tensor *rt = need_tensor(&fx, "rows", (size_t)n, path);
        for (int i = 0; i < n; i++) rows[i] = (uint32_t)rt->v[i];
        ctx.rows = rows;
    }

    /* the masks the oracle used are the ones the C RNG gives */
    for (int i = 0; i < fx.n_tensors; i++)
        if (strncmp(fx.tensors[i].name, "mask/", 5) == 0) check_mask(&fx, m, &fx.tensors[i], &ctx, n, path);

    /* initial weights */
    double *w64 = malloc(P * sizeof *w64);
    rnn_real *w0 = malloc(P * sizeof *w0), *w = malloc(P * sizeof *w), *g = malloc(P * sizeof *g);
    cr_assert(w64 && w0 && w && g);
    load_params(&fx, m, "weights/", w64, path);
    for (size_t i = 0; i < P; i++) w0[i] = (rnn_real)w64[i];

    cmp_state st = {0};
    st.case_name = case_name;
    const char *verbose = getenv("RNNC_ORACLE_VERBOSE");
    st.verbose = verbose && *verbose && strcmp(verbose, "0") != 0;

    rnn_ref *ref = rnn_ref_create(m, max_batch);
    cr_assert(ref, "%s: rnn_ref_create failed", path);

    /* forward */
    rnn_real *probs = malloc((size_t)max_batch * (size_t)K * sizeof *probs);
    cr_assert(probs);
    double loss = rnn_ref_forward(ref, w0, tokens, labels, n, &ctx, probs);
    const fx_tensor *pt = need_tensor(&fx, "probs", (size_t)n * (size_t)K, path);
    compare(&st, "probs", probs, pt->v, pt->size);
    rnn_real loss_r = (rnn_real)loss;
    compare(&st, "loss", &loss_r, &want_loss, 1);
    int correct = rnn_ref_correct(ref);
    if (correct != want_correct) {
        st.failures++;
        fprintf(stderr, "oracle/%s: correct: got %d want %d\n", case_name, correct, want_correct);
    }

    /* backward */
    for (size_t i = 0; i < P; i++) g[i] = (rnn_real)12345;   /* the backward must overwrite all of it */
    rnn_ref_backward(ref, w0, g);
    compare_params(&st, &fx, m, "grads/", g, path);
    const fx_tensor *it = need_tensor(&fx, "input_grad", (size_t)n * (size_t)T * (size_t)E, path);
    const rnn_real *ig = rnn_ref_input_grad(ref);
    cr_assert(ig, "%s: rnn_ref_input_grad returned NULL", path);
    compare(&st, "input_grad", ig, it->v, it->size);

    /* optimizers: `steps` steps on the same batch with the same masks */
    for (int oi = 0; oi < fx_count(&fx, "optimizer"); oi++) {
        const fx_record *orec = fx_record_get(&fx, "optimizer", oi);
        rnn_optimizer o;
        int steps = 0;
        parse_optimizer(orec, &o, &steps, path);
        const char *label = fx_get(orec, "label");
        int slots = rnn_optimizer_slots(&o);
        int want_slots = o.kind == RNN_OPT_RMSPROP ? 1 : o.kind == RNN_OPT_ADAM ? 2 : o.momentum > 0 ? 1 : 0;
        cr_expect_eq(slots, want_slots, "%s: %s: rnn_optimizer_slots %d, expected %d", path, label, slots, want_slots);
        if (slots != want_slots) st.failures++;
        rnn_real *state = calloc((size_t)(slots > 0 ? slots : 1) * P, sizeof *state);
        cr_assert(state);
        memcpy(w, w0, P * sizeof *w);
        m->optimizer = o;   /* the model's backward clips the embedding's lookups by value */
        for (int s = 1; s <= steps; s++) {
            rnn_ref_forward(ref, w, tokens, labels, n, &ctx, NULL);
            rnn_ref_backward(ref, w, g);
            rnn_optimizer_step_lookups(m, &o, w, g, state, s, rnn_ref_lookup_sumsq(ref));
        }
        char prefix[FX_NAME_MAX];
        snprintf(prefix, sizeof prefix, "after/%s/", label);
        compare_params(&st, &fx, m, prefix, w, path);
        free(state);
    }

    fprintf(stderr, "oracle/%s: worst error ratio %.3g at %s (%s)\n", case_name, st.worst, st.worst_what,
            st.failures ? "FAIL" : "ok");
    int failures = st.failures;

    rnn_ref_destroy(ref);
    free(probs);
    free(w64);
    free(w0);
    free(w);
    free(g);
    free(tokens);
    free(labels);
    free(weights);
    free(rows);
    free(m);
    fx_free(&fx);
    cr_assert_eq(failures, 0, "oracle/%s: %d tensors out of tolerance (|got-want| <= %g + %g*|want|); see stderr",
                 case_name, failures, ORACLE_ATOL, ORACLE_RTOL);
}

#define ORACLE_TEST(name) \
    Test(oracle, name) { run_case(#name); }
ORACLE_CASES(ORACLE_TEST)

/* The list above and the fixture directory agree. */
Test(oracle, fixture_list_complete) {
    static const char *const listed[] = {
#define ORACLE_NAME(name) #name,
        ORACLE_CASES(ORACLE_NAME)
#undef ORACLE_NAME
    };
    const size_t nl = sizeof listed / sizeof listed[0];
    int seen[sizeof listed / sizeof listed[0]] = {0};
    DIR *d = opendir(ORACLE_DIR);
    cr_assert(d, "cannot open %s (run from the repository root)", ORACLE_DIR);
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".txt") != 0) continue;
        size_t k = 0;
        while (k < nl && !(strlen(listed[k]) == len - 4 && strncmp(listed[k], e->d_name, len - 4) == 0)) k++;
        cr_expect(k < nl, "%s/%s is not listed in ORACLE_CASES", ORACLE_DIR, e->d_name);
        if (k < nl) seen[k] = 1;
    }
    closedir(d);
    for (size_t k = 0; k < nl; k++) cr_expect(seen[k], "%s/%s.txt is missing", ORACLE_DIR, listed[k]);
}

/* The comparison is able to fail: a relative perturbation of 1e-4 of a gradient (ten
 * times the tolerance) is caught, and the loader rejects a truncated file. */
Test(oracle, comparison_detects_errors) {
    fixture fx;
    cr_assert_eq(fx_load(&fx, ORACLE_DIR "/lstm.txt"), 0, "%s", fx.err);
    const fx_tensor *t = fx_tensor_get(&fx, "grads/lstm/kernel");
    cr_assert(t && t->size > 0);
    rnn_real *p = malloc(t->size * sizeof *p);
    cr_assert(p);
    for (size_t i = 0; i < t->size; i++) p[i] = (rnn_real)t->v[i];
    cmp_state st = {0};
    st.case_name = "comparison_detects_errors";
    compare(&st, "exact", p, t->v, t->size);
    cr_expect_eq(st.failures, 0, "float rounding alone must pass");
    size_t big = 0;
    for (size_t i = 0; i < t->size; i++)
        if (fabs(t->v[i]) > fabs(t->v[big])) big = i;
    p[big] = (rnn_real)(t->v[big] * (1 + 1e-4));
    fprintf(stderr, "(the next line is an expected failure message)\n");
    compare(&st, "perturbed", p, t->v, t->size);
    cr_expect_eq(st.failures, 1, "a 1e-4 relative error must fail");
    free(p);
    fx_free(&fx);

    char tmp[] = "/tmp/rnnc_oracle_XXXXXX";
    int fd = mkstemp(tmp);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    cr_assert(f);
    fputs("rnnc-oracle 1\ncase x\ntensor a 2 2 3\n1 2 3 4\n", f);
    fclose(f);
    cr_expect_neq(fx_load(&fx, tmp), 0, "a truncated tensor must be rejected");
    cr_expect(strstr(fx.err, "expected 6 values") != NULL, "message: %s", fx.err);
    remove(tmp);
}
