/*
 * kinds.h — what a layer kind is to the compiler (internal to rnnc).
 *
 * Each kind is one file under compiler/layers/ that defines `const rnnc_kind
 * rnnc_kind_<dsl name>`: the keywords of its DSL constructor, its buffers in the plan
 * and its generated code. compiler/kinds.c collects them from the registry
 * (RNN_LAYER_KINDS in rnn_arch.h); nothing else dispatches on a kind.
 */
#ifndef RNNC_KINDS_H
#define RNNC_KINDS_H

#include "gen.h"

#include <stddef.h>

/* ---- the DSL constructor's arguments ------------------------------------------------------ */

typedef enum {
    KW_INT,        /* an integer (range checks are the layout's)                    */
    KW_NUMBER,     /* a finite number                                               */
    KW_BOOL,
    KW_ENUM        /* one of the strings of `values`; the field gets its index       */
} rnnc_keyword_type;

typedef struct {
    const char *name;
    rnnc_keyword_type type;
    size_t field;                   /* offsetof(rnn_layer, ...)                           */
    int position;                   /* 1-based positional slot, or 0                       */
    const char *required;           /* the message when it is missing, or NULL             */
    const char *const *values;      /* KW_ENUM: NULL-terminated                            */
    int positive_if_given;          /* KW_INT: 0 means "absent", so a given value must be >= 1 */
} rnnc_keyword;

#define KW_FIELD(f) offsetof(rnn_layer, f)

/* The keywords every recurrent kind takes first; EXAMPLE completes "units is required,
 * as in ..." (e.g. "lstm { 8 }"). */
#define RNNC_RECURRENT_KEYWORDS(EXAMPLE)                                                   \
    {"units", KW_INT, KW_FIELD(units), 1, "units is required, as in " EXAMPLE, NULL, 0},   \
        {"dropout", KW_NUMBER, KW_FIELD(dropout), 0, NULL, NULL, 0},                       \
        {"recurrent_dropout", KW_NUMBER, KW_FIELD(recurrent_dropout), 0, NULL, NULL, 0},   \
        {"return_sequences", KW_BOOL, KW_FIELD(return_sequences), 0, NULL, NULL, 0}

/* The values of dropout_mask (rnn_dropout_mask order). */
extern const char *const rnnc_dropout_mask_names[];

/* ---- recurrent kinds: the cell inside the shared time loop (emit_recurrent.c) ---------------- */

/* One weight-gradient kernel after the backward's time loop: name(acc, a, d[, mask]) with
 * the layer's pointers named a and d (h, x, dzs, or a buffer of the cell's) and the
 * recurrent mask when g.masked. */
typedef struct {
    const char *a, *d;
    kir_grad g;
} rnnc_grad_term;

/* The operands of a step function, in the order the cell lists them. */
typedef enum {
    SO_K, SO_R, SO_B, SO_B1, SO_UP, SO_XT, SO_XK, SO_XA_IN, SO_HP, SO_CP, SO_GT, SO_CT, SO_TCT, SO_HT, SO_HHT,
    SO_RMASK, SO_XA, SO_HA, SO_RH, SO_HN, SO_XM, SO_DXT, SO_DZ, SO_DHN, SO_DCN, SO_DZH, SO_DHD, SO_DRH, SO_RHS,
    SO_DZHS, SO_AR, SO_AB, SO_COUNT
} step_operand;

typedef struct {
    /* the layer's state buffers besides h (gate caches, c, ...), after h in the plan */
    void (*buffers)(plan *p, int i);
    /* their pointers in a forward_i (backward 0) or backward_i prologue */
    void (*state_pointers)(emitter *e, int i, int backward);
    /* the step function's operands in order (at most 32), for the forward or the backward */
    int (*operands)(const plan *p, int i, int backward, step_operand *ops);
    /* the step bodies: kernels on the operands */
    void (*forward_step)(const plan *p, int i, kir *k);
    void (*backward_step)(const plan *p, int i, kir *k);
    /* recurrent_kernel's gradient, summed after the backward's time loop from vectors
     * the steps stored: one kernel per term (at most 2; none when the steps accumulate it) */
    int (*recurrent_grads)(const plan *p, int i, rnnc_grad_term *terms);
    void (*comment)(emitter *e, int i);   /* the kind's options in the layer's comment, or NULL */
} rnnc_cell;

/* ---- a kind -------------------------------------------------------------------------------------- */

/* A kernel's size for the planner's estimate of the file (plan_unrolled's arguments). */
typedef struct {
    long terms, vectors, outputs;
} rnnc_kernel_shape;

typedef struct {
    const rnnc_keyword *keywords;   /* without "name", which every layer takes; {NULL}-terminated */
    void (*plan)(plan *p, int i);   /* the layer's buffers (its d<i> is added after)      */
    void (*emit)(emitter *e, int i);/* forward_<i>, and backward_<i> unless a predictor    */
    const rnnc_cell *cell;          /* recurrent kinds                                      */
    /* the shapes of its products that may be straight-line code (at most 8), or NULL */
    int (*kernel_shapes)(const rnn_layer *l, rnnc_kernel_shape *k);
} rnnc_kind;

const rnnc_kind *rnnc_kind_of(rnn_layer_kind k);

/* ---- what the kinds share ---------------------------------------------------------------------- */

/* The operands a cell's step starts with: K (unless the input side is projected) and R;
 * going forward B (unless projected), the second bias B1 if second_bias, and the input
 * (x_t, or `projected` when projected); going back, the gradient from above. */
int gen_step_inputs(const plan *p, int i, int backward, step_operand projected, int second_bias, step_operand *ops);
/* The operands a cell's backward step ends with: the input mask and dx_t (unless
 * projected), dz, dh_{t-1}. */
int gen_step_gradients(const plan *p, int i, step_operand *ops);

/* The recurrent kernel's gradient as most cells have it: R += h_{t-1}^T dz_t (times the
 * recurrent mask), from the stored dz of every step. */
int gen_recurrent_grad_h(const plan *p, int i, rnnc_grad_term *terms);

/* A recurrent layer's products: the step's (x_t and h_{t-1} by K and R), dx_t and dh_{t-1}. */
int gen_recurrent_kernel_shapes(const rnn_layer *l, rnnc_kernel_shape *k);

/* The output of layer i in block g, as a C expression (a pointer). */
void gen_out_ptr(char *buf, size_t n, const plan *p, int i);
/* A recurrent kind's plan and emit (emit_recurrent.c), around its cell. */
void gen_recurrent_plan(plan *p, int i);
void gen_recurrent_emit(emitter *e, int i);
/* Print a kernel in a step's body. */
const char *gen_rmask(const rnn_layer *l);   /* "rmask" with recurrent dropout, else NULL */

#endif
