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
    KW_ENUM,       /* one of the strings of `values`; the field gets its index       */
    KW_LAYER       /* a recurrent layer object (a wrapper's): its options become this
                      layer's, its kind goes to the field                            */
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
        {"return_sequences", KW_BOOL, KW_FIELD(return_sequences), 0, NULL, NULL, 0},       \
        {"go_backwards", KW_BOOL, KW_FIELD(go_backwards), 0, NULL, NULL, 0}

/* The values of dropout_mask (rnn_dropout_mask order). */
extern const char *const rnnc_dropout_mask_names[];

/* ---- recurrent kinds: the cell inside the shared time loop (emit_recurrent.c) ---------------- */

/* One direction of recurrent layer i in the generated code: the layer itself, or one half
 * of a bidirectional layer. Its step functions and its kernels over all the steps are the
 * layer's (both halves call the same ones); its state buffers and its functions forward_TAG
 * and backward_TAG are its own. A reversed direction (go_backwards) keeps every per-step
 * buffer at the step of the input it read — h[t] is the state after reading x_t, whichever
 * way the loop went — so only its time loop changes (t from T-1 down, the previous state
 * h[t+1]); nothing on the input side (x, the dropout masks, b + x.K, dx, the folded
 * table) does. The embedding's mask acts in the same place: a masked step (its token
 * id 0, read at the input's own step t) carries hp and cp over as its state. */
typedef struct {
    int i;                  /* the layer                                                   */
    int half;               /* 0, or 1: a bidirectional layer's backward half              */
    int reversed;           /* reads the sequence from its last step                       */
    int run_order_out;      /* a go_backwards layer's own sequence output: in the order the
                               steps ran (a<i>, and its gradient read the same way)        */
    char tag[16];           /* in its names: "2", or a bidirectional layer's "2f" and "2b"  */
    char up[24];            /* d loss / d its output: "d2", or the wrapper's "du2f"        */
    char dx[24];            /* d loss / d its input goes to: "d1", or the wrapper's "dxb2" */
} gen_dir;

/* The directions of recurrent layer i (1, or 2 for a bidirectional layer) into d[2]. */
int gen_dirs(const plan *p, int i, gen_dir *d);
/* Tensor `slot` of a direction (its half's). */
const rnn_tensor *gen_dir_tensor(const rnn_model *m, const gen_dir *d, int slot);

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
    /* a direction's state buffers besides h (gate caches, c, ...), after h in the plan,
     * named with its tag */
    void (*buffers)(plan *p, int i, const char *tag);
    /* their pointers in its forward (backward 0) or backward prologue */
    void (*state_pointers)(emitter *e, int i, const char *tag, int backward);
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

/* A layer computed as a convolution over the steps of a block (emit_conv.c): Conv1D, and
 * Dense on a sequence or on a vector too large for straight-line code. */
typedef struct {
    kir_conv c;                /* c.in_steps: the steps of the padded copy                 */
    int in_steps;              /* the input's own steps                                    */
    int pad_left;              /* zero steps before them in the padded copy                */
    rnn_activation act;        /* applied unless the layer is the output layer             */
    int bias;                  /* it has a bias tensor (RNN_T_DENSE_BIAS)                  */
} gen_conv_layer;
void gen_conv_plan(plan *p, int i, const gen_conv_layer *L);
void gen_conv_emit(emitter *e, int i, const gen_conv_layer *L);

/* A pooling layer's buffers and code (emit_pool.c): the maximum (average 0) or the mean,
 * over its windows or (global) the whole sequence. */
void gen_pool_plan(plan *p, int i, int average, int global);
/* The keywords of max_pooling1d and average_pooling1d (Keras's Pooling1D): pool_size,
 * strides (0, or absent: pool_size), padding "valid" or "same". */
extern const rnnc_keyword rnnc_pool_keywords[];
void gen_pool_emit(emitter *e, int i, int average, int global);

/* The output of layer i in block g, as a C expression (a pointer). */
void gen_out_ptr(char *buf, size_t n, const plan *p, int i);
/* A recurrent kind's plan and emit (emit_recurrent.c), around its cell. */
void gen_recurrent_plan(plan *p, int i);
void gen_recurrent_emit(emitter *e, int i);
/* What a wrapper's plan and emit are made of: the buffers its directions share (the
 * step's temporaries, dz of every step) and each direction's own; the layer's header
 * comment and its functions going forward or back (step functions, kernels over all
 * the steps); a direction's forward_TAG or backward_TAG. */
void gen_recurrent_layer_plan(plan *p, int i);
void gen_recurrent_dir_plan(plan *p, const gen_dir *d);
void gen_recurrent_header(emitter *e, int i);
void gen_recurrent_layer_functions(emitter *e, int i, int backward);
void gen_recurrent_dir_emit(emitter *e, const gen_dir *d, int backward);
/* prepare()'s copy of each direction's recurrent kernel in panels (plan_packed). */
void gen_recurrent_pack(emitter *e, int i);
/* Print a kernel in a step's body. */
const char *gen_rmask(const rnn_layer *l);   /* "rmask" with recurrent dropout, else NULL */
/* The cell a recurrent layer runs: its kind's, or that of the kind it wraps. */
const rnnc_cell *gen_cell(const rnn_layer *l);

#endif
