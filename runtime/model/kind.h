/*
 * kind.h — what a layer kind is to the runtime (internal to librnnrt).
 *
 * Each kind is one file under runtime/layers/ that defines `const rnn_kind
 * rnn_kind_<dsl name>`: its Keras defaults, its part of the layout (checks, shapes,
 * tensors) and its reference implementation. runtime/model/kinds.c collects them from
 * the registry (RNN_LAYER_KINDS in rnn_arch.h); nothing else dispatches on a kind.
 */
#ifndef RNN_MODEL_KIND_H
#define RNN_MODEL_KIND_H

#include "rnnrt.h"

#include <stddef.h>

/* ---- the layout of one layer -------------------------------------------------------- */

typedef struct {
    rnn_model *m;
    int index;                 /* of the layer being laid out                             */
    const rnn_layer *prev;     /* the layer before it, or NULL                            */
    char *err;
    size_t errlen;
    /* while a wrapper lays out the layer it wraps: its tensors are "LAYER/scope/suffix",
     * and rnn_layout_error blames who at line (NULL: the layer itself) */
    const char *scope, *who;
    int line;
} rnn_layout;

/* Write "SOURCE:LINE: WHO: message" into c's error buffer and return -1 (line 0: none,
 * who NULL: none). */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
int rnn_layout_fail(rnn_layout *c, int line, const char *who, const char *fmt, ...);

/* The same, blaming the layer being laid out (its line and name). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
int rnn_layout_error(rnn_layout *c, const char *fmt, ...);

/* Append the tensor "LAYER/suffix" (or "LAYER/scope/suffix") of the layer being laid out ([rows] when rank is 1,
 * [rows, cols] when 2) at the end of the parameter buffer. */
void rnn_layout_tensor(rnn_layout *c, const char *suffix, int rows, int cols, int rank, rnn_init_kind init);
/* The same for a rank-3 tensor [d0, d1, d2] (a convolution's kernel). */
void rnn_layout_tensor3(rnn_layout *c, const char *suffix, int d0, int d1, int d2, rnn_init_kind init);

/* 0 when the layer's input is a sequence, else its error naming the layer before it
 * (for the kinds that read steps: conv1d, pooling, spatial_dropout1d). */
int rnn_layout_sequence_input(rnn_layout *c, const rnn_layer *l);

/* Shared checks: v in [1, max] ("what must be a positive integer"), a rate in [0, 1). */
int rnn_layout_units(rnn_layout *c, const char *what, int v, int max);
int rnn_is_rate(double x);

/* The training configuration's checks (model/training.c): the optimizer and its schedule,
 * the metrics (resolving which accuracy), the class weights, the callbacks (resolving
 * their modes). After the output layer's (n_outputs, label_width are set). */
int rnn_layout_training(rnn_layout *c);

/* "(None, T, F)" or "(None, F)". */
const char *rnn_shape_str(char *buf, size_t n, int seq, int T, int F);

/* ---- the reference implementation of one layer ------------------------------------------
 * model_ref.c allocates every layer's output and its gradient (out, dout: [B, T, F] or
 * [B, F], batch-major) and runs the kinds in order; a kind keeps what else it needs in
 * priv. Forward writes out; backward reads dout, ADDS into the parameter gradients and
 * OVERWRITES the previous layer's dout (dx). */
typedef struct {
    rnn_real *out, *dout;
    void *priv;
} rnn_ref_layer;

typedef struct {
    const rnn_model *m;
    const rnn_layer *l;
    int index;
    int last;                  /* the output layer: its forward writes logits             */
    int n;                     /* samples in the batch                                    */
    const rnn_dropout_ctx *ctx;
    int training;              /* ctx && ctx->training                                    */
    const rnn_real *params;
    rnn_real *grads;           /* backward only                                           */
    const int32_t *tokens;     /* [n, T] (the embedding reads them)                      */
    const rnn_real *x;         /* the previous layer's out (NULL for the embedding)       */
    rnn_real *dx;              /* the previous layer's dout (backward; NULL for the embedding) */
    int slot0;                 /* the layer's tensors used start here: RNN_T_RECURRENT_COUNT
                                  for the backward half of a bidirectional layer, else 0  */
} rnn_ref_pass;

/* Parameter tensor slot0 + `slot` of the pass's layer, and its gradient. */
const rnn_real *rnn_ref_param(const rnn_ref_pass *p, int slot);
rnn_real *rnn_ref_grad(const rnn_ref_pass *p, int slot);

/* calloc of n reals that clears *ok on failure (so a kind checks once). */
rnn_real *rnn_ref_alloc(size_t n, int *ok);

/* ---- a kind -------------------------------------------------------------------------------- */

struct rnn_recurrent_cell;   /* layers/recurrent.h */

/* What a kind does with the embedding's mask (mask_zero) on its input: Keras's
 * supports_masking and compute_mask (docs/keras-semantics.md, Masking). */
typedef enum {
    RNN_MASK_REFUSED = 0,   /* supports_masking is false: a masked input is a spec error        */
    RNN_MASK_PASSED,        /* computes as without a mask and passes it on (Dense, Dropout, ...) */
    RNN_MASK_USED           /* computes with it, and passes it on iff it returns a sequence     */
} rnn_mask_use;

typedef struct {
    void (*defaults)(rnn_layer *l);                 /* Keras's constructor defaults (after memset 0) */
    int (*layout)(rnn_layout *c, rnn_layer *l);     /* checks, shapes, tensors; 0 or rnn_layout_fail */
    /* Allocate priv for batches of max_batch (0, or -1 on failure; priv may be left
     * partly allocated for ref_destroy). NULL: the kind keeps nothing. */
    int (*ref_create)(rnn_ref_layer *s, const rnn_model *m, const rnn_layer *l, int max_batch);
    void (*ref_destroy)(rnn_ref_layer *s);
    /* Returns how many inputs it could not use (token ids out of range), normally 0. */
    size_t (*ref_forward)(rnn_ref_layer *s, const rnn_ref_pass *p);
    void (*ref_backward)(rnn_ref_layer *s, const rnn_ref_pass *p);
    /* a recurrent kind's cell (what a bidirectional wrapper runs twice), else NULL */
    const struct rnn_recurrent_cell *cell;
    /* 1: may end the model; its `activation` is then the output's (sigmoid or softmax,
     * applied with the loss), and its forward as the last layer writes the logits */
    int output;
    rnn_mask_use mask;
} rnn_kind;

/* The kind of k (asserted to be registered). */
const rnn_kind *rnn_kind_of(rnn_layer_kind k);

#endif
