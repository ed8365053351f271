/*
 * recurrent.h — what SimpleRNN, LSTM and GRU share in the runtime (internal): the
 * layout of a recurrent layer (kernel [F, G*U], recurrent_kernel [U, G*U], bias), and
 * the reference runtime's handling of input and recurrent dropout, go_backwards and
 * return_sequences around each kind's cell, one direction at a time (a bidirectional
 * layer runs two).
 */
#ifndef RNN_LAYERS_RECURRENT_H
#define RNN_LAYERS_RECURRENT_H

#include "model/kind.h"
#include "reference/ref_layers.h"

typedef struct rnn_recurrent_cell rnn_recurrent_cell;

/* The reference runtime's buffers of one direction of a recurrent layer: the layer
 * itself (rnn_ref_layer.priv), or one half of a bidirectional layer. */
typedef struct {
    const rnn_recurrent_cell *cell; /* the kind's (rnn_kind.cell)                             */
    int half;                 /* 0, or 1: a bidirectional layer's backward half (its tensors
                                 after the forward half's, its masks RNN_RNG_BACKWARD_HALF + i) */
    int reversed;             /* reads the sequence from its last step (go_backwards)         */
    int owns_h;               /* h and dh are its own (not the layer's out and dout)          */
    rnn_real *h;              /* [B, T, U] every hidden state, in the order the steps ran     */
    rnn_real *dh;             /* [B, T, U] d loss / d h, in the same order                    */
    rnn_real *c;              /* [B, T, U] cell states, when the cell keeps them              */
    rnn_real *gates;          /* [B, T, 4U] the cell's gate cache, when it has one            */
    rnn_real *recurrent_mask; /* [B, U] when recurrent_dropout > 0                            */
    rnn_real *input_mask;     /* [B, T, F] when dropout > 0                                   */
    rnn_real *dropped_input;  /* [B, T, F] x ⊙ input mask                                     */
    rnn_real *ddropped_input; /* [B, T, F] its gradient                                       */
    rnn_real *reversed_input; /* [B, T, F] the input with its steps in reverse order, reversed */
    rnn_real *dreversed_input;/* [B, T, F] its gradient, reversed                             */
    rnn_real *scratch;        /* rnn_ref_rnn_scratch_len(U)                                   */
    rnn_real *step_mask;      /* [B, T] with the embedding's mask: 0 at padding, in the order the
                                 steps run (rnn_ref_step_mask)                                  */
    int dropout_active, recurrent_dropout_active;
} rnn_recurrent_state;

/* A kind's cell: its forward over the whole sequence x (already dropped), and its
 * backward from s->dh into dx and the parameter gradients. */
struct rnn_recurrent_cell {
    int keeps_c, keeps_gates;
    void (*forward)(rnn_recurrent_state *s, const rnn_ref_pass *p, const rnn_real *x, const rnn_real *rmask);
    void (*backward)(rnn_recurrent_state *s, const rnn_ref_pass *p, rnn_real *dx, const rnn_real *x, const rnn_real *rmask);
};

/* One row's step of a cell's backward, given dz, the gradient at the G = gates * U
 * pre-activations. The input side: dbias [G] += dz, dkernel [F, G] += x_tᵀ dz,
 * dxt = dz·Kᵀ. The recurrent side, with hm = h_{t-1} ⊙ m (m NULL: no mask):
 * drecurrent_kernel [U, G] += hmᵀ dz (nothing when hprev is NULL, h_{-1} = 0) and
 * dh_next = (dz·Rᵀ) ⊙ m. */
void rnn_recurrent_input_grad(rnn_real *dbias, rnn_real *dkernel, rnn_real *dxt, const rnn_real *xt,
                              const rnn_real *dz, const rnn_real *kernel, int F, size_t G);
void rnn_recurrent_state_grad(rnn_real *drecurrent_kernel, rnn_real *dh_next, const rnn_real *hprev,
                              const rnn_real *m, const rnn_real *dz, const rnn_real *recurrent_kernel, int U,
                              size_t G);

/* A step of padding (step_mask 0 at [b * T + t]; no mask: none is). Its forward carries
 * the state over, h_t = h_{t-1} (zeros before the first step: hprev NULL); its backward
 * hands the whole gradient of h_t to h_{t-1} (dh_next += dh_t) and gives x_t none. */
int rnn_recurrent_step_masked(const rnn_real *step_mask, size_t step);
void rnn_recurrent_carry(rnn_real *ht, const rnn_real *hprev, int U);
void rnn_recurrent_carry_grad(rnn_real *dh_next, const rnn_real *dht, rnn_real *dxt, int U, int F);

/* Checks and tensors of a recurrent layer with `gates` gate blocks; the bias is
 * [bias_rows, G*U] (rank 2) when bias_rows > 1, else [G*U]. */
int rnn_recurrent_layout(rnn_layout *c, rnn_layer *l, int gates, int bias_rows, rnn_init_kind bias_init);

/* One direction: its buffers for batches of max_batch (h and dh given: the layer's out
 * and dout, used as they are; NULL: its own), freed by rnn_recurrent_half_destroy. 0, or
 * -1 when out of memory. */
int rnn_recurrent_half_create(rnn_recurrent_state *r, const rnn_model *m, const rnn_layer *l, int max_batch,
                              const rnn_recurrent_cell *cell, int half, int reversed, rnn_real *h, rnn_real *dh);
void rnn_recurrent_half_destroy(rnn_recurrent_state *r);
/* Forward over p->x [n, T, F]: input dropout, then every state into r->h in the order the
 * steps ran (from the last step when reversed: Keras reverses the input first). */
void rnn_recurrent_half_forward(rnn_recurrent_state *r, const rnn_ref_pass *p);
/* Backward from r->dh into dx [n, T, F] (overwritten) and the parameter gradients. */
void rnn_recurrent_half_backward(rnn_recurrent_state *r, const rnn_ref_pass *p, rnn_real *dx);

/* A recurrent kind's rnn_kind entries: the layer as one direction (reversed when
 * go_backwards) whose output is h, or h of the last step run. */
int rnn_recurrent_create(rnn_ref_layer *s, const rnn_model *m, const rnn_layer *l, int max_batch);
void rnn_recurrent_destroy(rnn_ref_layer *s);
size_t rnn_recurrent_forward(rnn_ref_layer *s, const rnn_ref_pass *p);
void rnn_recurrent_backward(rnn_ref_layer *s, const rnn_ref_pass *p);

#endif
