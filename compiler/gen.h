/*
 * gen.h — what the code generator's files share (internal to rnnc).
 *
 * The generator has three parts:
 *   plan.c     the planner: every decision about a model's code (the folded embedding,
 *              hoisted input projections, unrolled kernels) and its buffers;
 *   kernel.c   a small kernel IR (products, weight-gradient accumulations, activations,
 *              element-wise code, row gathers and scatters) whose operands are checked
 *              when an op is made, and the printer that turns it into lane-blocked C;
 *   the rest   files that walk the model and print: emit_model.c (header and model
 *              description), emit_recurrent.c (the time loop and step functions every
 *              recurrent kind shares), emit_trainer.c and emit_fold.c (the trainer's
 *              model-specific driver code), emit_predictor.c, and each layer kind's own
 *              file under compiler/layers/.
 */
#ifndef RNNC_GEN_H
#define RNNC_GEN_H

#include "emit_c.h"
#include "textbuf.h"

#include <stddef.h>

#define W 16          /* lanes per block: RNN_W of rnn_kernels.h */
#define TAIL_CHUNKS 8 /* RNN_GEN_TAIL_CHUNKS of rnn_gen.h */
#define WG_PANEL 256  /* RNN_WG_PANEL of rnn_gemm.h */
#define WG_DT_FLOATS (8 * W * WG_PANEL) /* RNN_WG_DT_FLOATS of rnn_gemm.h (the generated file checks both) */

/* A generator bug: print it and abort (never wrong code). */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2), noreturn))
#endif
void gen_bug(const char *fmt, ...);
#define GEN_ASSERT(cond, ...) ((cond) ? (void)0 : gen_bug(__VA_ARGS__))

/* ---- the plan (plan.c) ------------------------------------------------------------------ */

typedef struct {
    char name[32];          /* the workspace field                                      */
    size_t per_block;       /* floats per lane block, or in all when scratch            */
    int scratch;            /* one copy, not one per block                              */
    const char *what;       /* for the comment                                          */
} plan_buffer;

typedef struct {
    const rnn_model *m;
    const rnnc_emit_options *o;
    int infer;              /* an inference-only predictor: no backward, no dropout     */
    int fold;               /* the embedding is folded into layer 1's input projection  */
    int parts;              /* not folded: each block sums its part of the embedding's gradient */
    long budget;            /* multiply-adds per straight-line kernel: the option's, lower for
                               a model whose kernels would make the file too large */
    int full;               /* --unroll full, unless the steps are too many              */
    plan_buffer *buffers;   /* in workspace order                                       */
    int n_buffers, cap;
    /* tensors whose gradient a kind's backward writes lane-summed (plan_lane_sum) */
    unsigned char lane_summed[RNN_MAX_TENSORS];
    /* per layer: 0, or the floats of scratch it needs to take its output's gradient as one
     * step per feature and lane (plan_can_take_step_grad) */
    size_t step_scratch[RNN_MAX_LAYERS];
    unsigned char step_grad[RNN_MAX_LAYERS];   /* ... and it gets it so (plan_give_step_grad) */
} plan;

/* Decide and lay out the code of the laid-out model m. */
void plan_make(plan *p, const rnn_model *m, const rnnc_emit_options *o, int infer);
void plan_free(plan *p);

/* Add a buffer named by fmt (must be new). */
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
void plan_add(plan *p, size_t per_block, int scratch, const char *what, const char *fmt, ...);

/* Floats per block of the buffer named by fmt, which must exist. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
size_t plan_size(const plan *p, const char *fmt, ...);
int plan_has(const plan *p, const char *name);

/* Is a kernel of `terms` multiply-adds on `vectors` operand vectors into `outputs` sums
 * straight-line code? */
int plan_unrolled(const plan *p, long terms, long vectors, long outputs);
int plan_folded(const plan *p, int i);          /* layer i's input projection is in the folded table */
int plan_hoisted(const plan *p, int i);         /* layer i's input side runs outside its time loop */
int plan_projected(const plan *p, int i);       /* folded or hoisted: its step gets b + x_t.K made */
int plan_packed(const plan *p, int i);          /* its forward steps read R in panels (KIR_PANEL) */
int plan_input_dropout(const rnn_layer *l);     /* a recurrent layer with dropout on its input */
int plan_per_step_mask(const rnn_layer *l);     /* ... drawn anew at every step */
int plan_xd_in_place(const plan *p, int i);     /* its dropped input overwrites its input */
int plan_recurrent(const rnn_layer *l);         /* a layer with a time recurrence */

/* The weight gradients of the parameters after the embedding table: each block sums
 * them into its gradient sums ([ACC_LEN], parameter order), most through per-lane
 * accumulators ([W] per parameter) summed over the lanes after the block's backward; a
 * large recurrent layer's K and R straight into the sums (plan_lane_summed). */
int plan_lane_summed(const plan *p, int i);     /* layer i's K and R: lane-summed products */
/* Tensor k's gradient is written lane-summed by its kind's backward (the kind's plan
 * says so): straight into the block's gradient sums, no per-lane accumulators. */
void plan_lane_sum(plan *p, int k);
/* A global max pooling passes back one step per feature and lane, the rest of its
 * input's gradient zero. A layer that can take its output's gradient in that form, and
 * skip the zeros, says so in its plan (with the floats of scratch per block it needs
 * then); the pooling layer after it then gives it so: plan_give_step_grad(p, i) plans
 * "gstep<i>" (the step of each feature and lane, as a float) and "gval<i>" (its
 * gradient), [F][W] each, and layer i's "st<i>", and returns 1; 0 if layer i cannot
 * take it (the pooling layer writes d<i>). */
void plan_can_take_step_grad(plan *p, int i, size_t scratch);
int plan_give_step_grad(plan *p, int i);
int plan_step_grad(const plan *p, int i);   /* layer i gets its output's gradient as steps */
/* The per-lane accumulator of parameter element `offset` (its first lane's index). */
size_t plan_acc_index(const plan *p, size_t offset);
/* The gradient sum of parameter element `offset`. */
size_t plan_sum_index(const plan *p, size_t offset);
/* The per-lane accumulators as ranges of consecutive elements: sums [sum, sum + len)
 * from lanes [lanes, lanes + len) (units of W floats), into r (at most cap; r NULL:
 * none); returns how many there are. */
typedef struct {
    size_t sum, lanes, len;
} plan_lane_range;
int plan_lane_ranges(const plan *p, plan_lane_range *r, int cap);
const rnn_tensor *plan_tensor(const rnn_model *m, int layer, int slot);

/* ---- printing ------------------------------------------------------------------------------ */

typedef struct {
    textbuf *b;
    const rnn_model *m;
    const rnnc_emit_options *o;
    const plan *p;
} emitter;

#define P(...) tb_printf(e->b, __VA_ARGS__)

void emit_cstring(emitter *e, const char *s);        /* a C string literal, everything unusual escaped */
void emit_comment_text(emitter *e, const char *s);   /* s, safe inside a comment */
void emit_double(emitter *e, double v);              /* exactly, as %.17g */
const char *emit_act_fn(rnn_activation a);           /* rnn_fast_sigmoidf, rnn_fast_tanhf, rnn_relu */
/* d act / d pre-activation from the output y, as a C expression into buf */
const char *gen_act_grad(char *buf, size_t n, rnn_activation a, const char *y);

/* ---- the file's parts (emit_model.c, emit_fold.c, emit_trainer.c) --------------------------------- */

/* " * NAME.c — [WHAT ]generated by rnnc ... from SPEC." and the model's layers, as the
 * first lines of the file's header comment (the caller closes it); what may be NULL. */
void emit_file_header(emitter *e, const char *what);
void emit_zero(emitter *e);     /* ZERO: the state before the first step (with recurrent layers) */
void emit_model(emitter *e);    /* MODEL, the model description, and model_init() */
/* The embedding's gradient for block g: d0 added into the looked-up rows of `table`;
 * padding lanes into `sink`; touched[id] = 1 for each row looked up, if touched is not
 * NULL. Needs w, g, n, d0 and sink in scope. */
void emit_embedding_scatter(emitter *e, const char *table, const char *ind, const char *touched);
/* The folded table (emit_fold.c): its functions, prepare() for the forward, and
 * fold_rows_chunk() and fold_finish() for the sums after the blocks. */
void emit_fold(emitter *e);

/* ---- the kernel IR (kernel.c) ------------------------------------------------------------------
 * A kernel is a list of ops over named operands. A lane operand holds len elements of W
 * lanes ([len][W]: element i of lane l at name[i*W + l]); a matrix operand is a window
 * of a row-major weight matrix. Every name an op uses must be declared in the kernel
 * (kir_lanes / kir_matrix) and every index must lie inside it: kir_* check that when
 * the op is added, and a failed check is a generator bug. */

typedef struct {
    const char *name;
    int len;
} kir_lanes;

/* Panels of a packed matrix: element (r, c) of a [rows][ld] matrix at
 * ((c / KIR_PANEL) * rows + r) * KIR_PANEL + c % KIR_PANEL, so that a tile of KIR_PANEL
 * columns reads its rows one after another (ld rounded up to whole panels). */
#define KIR_PANEL 16

typedef struct {
    const char *name;
    int rows, ld;           /* [rows][ld] */
    int packed;             /* in panels of KIR_PANEL columns */
} kir_matrix;

typedef enum { KIR_PROJECT, KIR_BACK_PRODUCT, KIR_OUTER_ACC, KIR_CODE } kir_kind;

typedef struct {            /* one term of a projection: x (times mask) . M[:, col0 ...] */
    const char *x, *mask, *M;
    int rows, col0;
    int ld, mrows, packed;  /* M's row length, rows and layout (filled in from its declaration) */
} kir_term;

typedef struct {
    kir_kind kind;
    const char *y;          /* the output, or OUTER_ACC's accumulator                      */
    int rows, cols;         /* PROJECT: cols outputs; BACK_PRODUCT: rows outputs of cols
                               terms; OUTER_ACC: rows x cols                               */
    const char *init;       /* PROJECT: NULL (0), a parameter vector, or "@lanes"          */
    kir_term terms[2];      /* PROJECT                                                     */
    int nterms;
    const char *x, *g, *M, *mask;   /* BACK_PRODUCT: g, M, mask (on y); OUTER_ACC: x, mask (on x), g */
    int ld, col0;           /* BACK_PRODUCT: M's window; OUTER_ACC: the accumulator's       */
    char *code;             /* KIR_CODE: the C text (malloc'd)                             */
} kir_op;

#define KIR_MAX_OPERANDS 40

typedef struct {
    kir_lanes lanes[KIR_MAX_OPERANDS];
    int n_lanes;
    kir_matrix mats[8];
    int n_mats;
    kir_op *ops;
    int n_ops, cap;
} kir;

void kir_init(kir *k);
void kir_free(kir *k);
void kir_lanes_decl(kir *k, const char *name, int len);
void kir_matrix_decl(kir *k, const char *name, int rows, int ld);
void kir_packed_matrix_decl(kir *k, const char *name, int rows, int ld);   /* in panels (KIR_PANEL) */

/* y[c] = init[c] + Σ_t Σ_r x_t[r] (· mask_t[r]) M_t[r][col0_t + c], c < cols, in that order. */
void kir_project(kir *k, const char *y, int cols, const char *init, const kir_term *terms, int nterms);
/* y[r] = (Σ_c g[c] M[r][col0 + c]) (· mask[r]), r < rows, c < cols. */
void kir_back_product(kir *k, const char *y, int rows, const char *g, int cols, const char *M, int col0, const char *mask);
/* acc[(r*ld + col0 + c)*W + l] += x[r] (· mask[r]) g[c], per lane, r < rows, c < cols. */
void kir_outer_acc(kir *k, const char *acc, const char *x, const char *mask, int rows, const char *g, int cols, int ld,
                   int col0);
/* Element-wise C text; reads and writes must name declared operands (checked by name). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void kir_code(kir *k, const char *fmt, ...);

/* Print the ops in order, each line indented by ind. */
void kir_print(emitter *e, const kir *k, const char *ind);

/* Functions made of kernels outside a time step, printed at once:
 *   time_outer: a weight gradient summed over the steps (kir_grad), register-blocked and
 *               chunked so a chunk stays in L1;
 *   input_projection / input_grad: a hoisted layer's x_t.K + b over all steps, and
 *               dx = dz.K^T (· the input dropout mask) after the backward steps. */
typedef struct {
    int T;                  /* steps                                                        */
    int rows, cols;         /* of the gradient window                                        */
    int shift;              /* 0, -1: a[t - 1] pairs with d[t] (t = 0 adds nothing), or +1     */
    int masked;             /* times mask[r] (constant over the steps)                        */
    int d_stride, d_col0;   /* d holds d_stride elements per step; the window starts at d_col0 */
    int acc_stride, acc_col0; /* acc's rows hold acc_stride; the window starts at acc_col0     */
} kir_grad;
/* name(acc, a, d[, mask]): acc[r][acc_col0 + c] += Σ_t a[t + shift][r] · d[t][d_col0 + c]
 * (× mask[r]), per lane, over the t with 0 <= t + shift < T; a holds rows elements per step.
 * shift is -1 (h_{t-1} with dz_t), 0, or +1 (a reversed direction's previous state). */
void kir_time_outer_function(emitter *e, const char *name, const kir_grad *g);
void kir_input_side_functions(emitter *e, int i);

/* rnn_lanes gather (scatter = 0) or scatter-add calls for step t of `vec` ([T][n][W]):
 * the rows `rows[l]` of the caller to lanes, 16 columns per call. */
void kir_lanes_calls(emitter *e, int scatter, const char *vec, int n, const char *ind);

/* ---- products over the steps of a block (conv_kernels.c) ----------------------------------
 * A convolution of a block's input x [in_steps][C][W] with a kernel K [k * C][O] (row
 * j * C + c: tap j, channel c) into y [T][O][W]: output step t reads input steps
 * t * stride + j * dilation, so x is the input already padded (rnn_window). Dense on a
 * sequence is the case k = 1, on one vector T = 1. Each function is a loop over register
 * tiles of steps by columns, each broadcast weight feeding a tile's steps and each lane
 * vector its columns. */
typedef struct {
    int T, in_steps;        /* output steps; (padded) input steps                         */
    int C, O;               /* input channels, output features                           */
    int k, stride, dilation;
} kir_conv;
/* name(y, x, K, B): y[t][o] = act(B[o] (0 without a bias) + Σ_j Σ_c x[t*stride + j*dilation][c] K[j*C + c][o]),
 * act linear or relu (applied to the tile's sums before they are stored) */
void kir_conv_forward_function(emitter *e, const char *name, const kir_conv *c, int bias, rnn_activation act);
/* name(dx, dz, K): dx[u][c] = Σ over the (t, j) with t*stride + j*dilation = u of
 * Σ_o dz[t][o] K[j*C + c][o], every step of dx written (those no tap reads: 0). */
void kir_conv_input_grad_function(emitter *e, const char *name, const kir_conv *c);
/* A call of rnn_wg_grads_strided adding Σ_t Σ_l x-window(t)ᵀ dz[t] into the kernel's
 * gradient sums acc [k * C][O] (the block's, lanes summed), with the scratch buffers dT
 * (RNN_WG_DT_FLOATS) and sums (k * C * RNN_WG_PANEL floats), each a C expression. */
void kir_conv_kernel_grad(emitter *e, const kir_conv *c, const char *acc, const char *x, const char *dz, const char *dT,
                          const char *sums, const char *ind);
/* The floats of rnn_wg_grads_strided's sums buffer for c. */
size_t kir_conv_grad_sums(const kir_conv *c);

/* ---- element-wise activations in generated code (emit_activation.c) ------------------------
 * On n vectors of F features of W lanes (n = steps, or 1), in place: v = act(v) (softmax
 * over the F features of each vector and lane), and going back d = d · act'(y) from the
 * activation's output y (softmax: y ⊙ (d - <d, y>)). Linear prints nothing. */
void gen_activation_forward(emitter *e, const char *v, int n, int F, rnn_activation act, const char *ind);
void gen_activation_backward(emitter *e, const char *d, const char *y, int n, int F, rnn_activation act, const char *ind);

#endif
