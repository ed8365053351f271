/*
 * ops.c — the reference runtime behind the model interface (rnn_model_ops), so the
 * trainer can run it exactly as it runs generated code.
 */
#include "rnnrt.h"

static void *ref_create(const rnn_model *m, int max_batch) { return rnn_ref_create(m, max_batch); }
static void ref_destroy(void *impl) { rnn_ref_destroy(impl); }
static double ref_forward(void *impl, const rnn_real *params, const int32_t *tokens, const rnn_real *labels,
                          int n, const rnn_dropout_ctx *ctx, rnn_real *out) {
    return rnn_ref_forward(impl, params, tokens, labels, n, ctx, out);
}
static void ref_backward(void *impl, const rnn_real *params, rnn_real *grads) { rnn_ref_backward(impl, params, grads); }
static int ref_correct(const void *impl) { return rnn_ref_correct(impl); }
static double ref_forward_backward_part(void *impl, const rnn_real *params, const int32_t *const *samples,
                                        const rnn_real *labels, int n, int total, const rnn_dropout_ctx *ctx,
                                        rnn_real *grads, const rnn_reducer *reducer) {
    return rnn_ref_forward_backward_part(impl, params, samples, labels, n, total, ctx, grads, reducer);
}

static double ref_lookup_sumsq(const void *impl) { return rnn_ref_lookup_sumsq(impl); }

const rnn_model_ops rnn_reference_ops = {"reference", ref_create,  ref_destroy, ref_forward, ref_backward,
                                         ref_correct, NULL,        ref_forward_backward_part, NULL, NULL,
                                         ref_lookup_sumsq};
