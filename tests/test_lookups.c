/*
 * test_lookups.c — the embedding's gradient as Keras clips it (one row per lookup,
 * clipped before repeated tokens' rows are summed) and layers with trainable = false,
 * through the reference model and the optimizer, against sums written out here:
 *   - a batch that looks one token up twice: clipvalue clips each lookup's row, so the
 *     table's row is the sum of the two clipped rows (not the clip of their sum);
 *   - clipnorm takes the embedding's norm from the lookups' rows;
 *   - a frozen layer's tensors are neither stepped nor counted in a global norm;
 *   - when each option applies (rnn_lookup_clipvalue, rnn_clips_lookup_norm).
 */
#include "models.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* embedding(5, 2) of 3 tokens -> simple_rnn(2) -> dense(1, sigmoid), SGD at rate 1. */
static void model(rnn_model *m, double clipvalue, double clipnorm, rnn_embedding_clip how) {
    rnn_model_init(m, "lookups", "test_lookups.c");
    add_embedding(m, 5, 2, 3);
    add_layer(m, RNN_LAYER_SIMPLE_RNN, 2);
    add_layer(m, RNN_LAYER_DENSE, 1)->activation = RNN_ACT_SIGMOID;
    m->optimizer.kind = RNN_OPT_SGD;
    m->optimizer.learning_rate = 1;
    m->optimizer.clipvalue = clipvalue;
    m->optimizer.clipnorm = clipnorm;
    m->optimizer.embedding_clip = how;
    layout(m);
}

typedef struct {
    rnn_ref *r;
    rnn_real *w, *g;
    const rnn_real *dout;   /* d loss / d embedding output [1, 3, 2] */
} pass;

/* One sample, tokens {3, 1, 3} (token 3 twice), label 1, weights from a fixed pattern. */
static pass run(const rnn_model *m) {
    pass p = {rnn_ref_create(m, 1), calloc(m->param_buffer_len, sizeof(rnn_real)),
              calloc(m->param_buffer_len, sizeof(rnn_real)), NULL};
    cr_assert(p.r && p.w && p.g);
    for (int k = 0; k < m->n_tensors; k++)
        for (size_t i = 0; i < m->tensors[k].size; i++)
            p.w[m->tensors[k].offset + i] = (rnn_real)(1.5 * sin(1.9 * (double)(i + 3 * k) + 0.4));
    const int32_t tokens[3] = {3, 1, 3};
    const rnn_real label = 1;
    rnn_ref_forward(p.r, p.w, tokens, &label, 1, NULL, NULL);
    rnn_ref_backward(p.r, p.w, p.g);
    p.dout = rnn_ref_input_grad(p.r);
    return p;
}

static void done(pass *p) {
    rnn_ref_destroy(p->r);
    free(p->w);
    free(p->g);
}

static double clamp(double x, double c) { return x > c ? c : x < -c ? -c : x; }

Test(lookups, clipvalue_clips_each_lookup_before_the_sum) {
    static rnn_model m;
    model(&m, 1e-5, 0, RNN_EMBEDDING_CLIP_PER_LOOKUP);
    cr_assert_eq(rnn_lookup_clipvalue(&m), 1e-5);
    pass p = run(&m);
    const rnn_real *row3 = p.g + m.tensors[0].offset + 3 * 2;
    for (int e = 0; e < 2; e++) {
        const double a = (double)p.dout[0 * 2 + e], b = (double)p.dout[2 * 2 + e];   /* the two lookups of 3 */
        cr_assert(fabs(a) > 1e-5 && fabs(b) > 1e-5, "the case must clip both lookups");
        cr_expect_float_eq((double)row3[e], clamp(a, 1e-5) + clamp(b, 1e-5), 1e-12, "row 3, column %d", e);
    }
    /* the optimizer does not clip the table again (the sum may exceed the clipvalue) */
    rnn_real *g = malloc(m.param_buffer_len * sizeof *g);
    memcpy(g, p.g, m.param_buffer_len * sizeof *g);
    rnn_real *w = calloc(m.param_buffer_len, sizeof *w);
    rnn_optimizer_step(&m, &m.optimizer, w, g, NULL, 1);
    for (int e = 0; e < 2; e++) cr_expect_eq(g[m.tensors[0].offset + 6 + e], row3[e]);
    free(g), free(w);
    done(&p);
}

Test(lookups, summed_clips_the_table) {
    static rnn_model m;
    model(&m, 1e-5, 0, RNN_EMBEDDING_CLIP_SUMMED);
    cr_assert_eq(rnn_lookup_clipvalue(&m), 0, "summed: the backward clips nothing");
    pass p = run(&m);
    rnn_optimizer_step(&m, &m.optimizer, p.w, p.g, NULL, 1);
    const rnn_real *row3 = p.g + m.tensors[0].offset + 3 * 2;
    for (int e = 0; e < 2; e++) {
        const double sum = (double)p.dout[e] + (double)p.dout[4 + e];
        cr_expect_float_eq((double)row3[e], clamp(sum, 1e-5), 1e-12, "row 3, column %d", e);
    }
    done(&p);
}

Test(lookups, clipnorm_reads_the_lookups_norm) {
    static rnn_model m;
    model(&m, 0, 0.001, RNN_EMBEDDING_CLIP_PER_LOOKUP);
    cr_assert(rnn_clips_lookup_norm(&m));
    pass p = run(&m);
    double ss = 0, table = 0;
    for (int i = 0; i < 6; i++) ss += (double)p.dout[i] * (double)p.dout[i];
    cr_expect_float_eq(rnn_ref_lookup_sumsq(p.r), ss, 1e-12 * ss);
    for (size_t i = 0; i < m.tensors[0].size; i++) table += (double)p.g[i] * (double)p.g[i];
    cr_assert(fabs(table - ss) > 1e-3 * ss, "the repeated token must make the two norms differ");
    rnn_real row[2] = {p.g[6], p.g[7]};
    rnn_optimizer_step_lookups(&m, &m.optimizer, p.w, p.g, NULL, 1, ss);
    for (int e = 0; e < 2; e++)
        cr_expect_float_eq((double)p.g[6 + e], (double)row[e] * 0.001 / sqrt(ss), 1e-7 * fabs((double)row[e]));
    done(&p);
}

/* Frozen layers: the step leaves them, a global norm leaves them out. */
Test(lookups, frozen_layers_take_no_step) {
    static rnn_model m;
    model(&m, 0, 0, RNN_EMBEDDING_CLIP_PER_LOOKUP);
    m.layers[0].frozen = m.layers[2].frozen = 1;
    m.optimizer.global_clipnorm = 0.5;
    layout(&m);
    cr_assert(!rnn_clips_lookup_norm(&m), "a frozen embedding has no lookups to clip");
    const size_t P = m.param_buffer_len;
    rnn_real *w = calloc(P, sizeof *w), *g = calloc(P, sizeof *g);
    for (size_t i = 0; i < P; i++) g[i] = 1;
    for (int k = 0; k < m.n_tensors; k++)   /* (the padding stays 0) */
        for (size_t i = m.tensors[k].offset + m.tensors[k].size; i < (k + 1 < m.n_tensors ? m.tensors[k + 1].offset : P); i++)
            g[i] = 0;
    size_t trainable = 0;
    for (int k = 0; k < m.n_tensors; k++)
        if (!m.layers[m.tensors[k].layer].frozen) trainable += m.tensors[k].size;
    rnn_optimizer_step(&m, &m.optimizer, w, g, NULL, 1);
    for (int k = 0; k < m.n_tensors; k++) {
        const rnn_tensor *t = &m.tensors[k];
        const double want = m.layers[t->layer].frozen ? 0.0 : -0.5 / sqrt((double)trainable);
        for (size_t i = 0; i < t->size; i++) cr_expect_float_eq((double)w[t->offset + i], want, 1e-7, "%s[%zu]", t->name, i);
    }
    free(w), free(g);
}

Test(lookups, when_the_options_apply) {
    static rnn_model m;
    model(&m, 0, 0, RNN_EMBEDDING_CLIP_PER_LOOKUP);
    cr_expect(!rnn_clips_lookup_norm(&m) && rnn_lookup_clipvalue(&m) == 0, "no clipping");
    m.optimizer.global_clipnorm = 1;
    cr_expect(rnn_clips_lookup_norm(&m) && rnn_lookup_clipvalue(&m) == 0);
    m.optimizer.embedding_clip = RNN_EMBEDDING_CLIP_SUMMED;
    cr_expect(!rnn_clips_lookup_norm(&m));
}
