/*
 * recurrent.h — what SimpleRNN, LSTM and GRU share in the runtime (internal): the
 * layout of a recurrent layer (kernel [F, G*U], recurrent_kernel [U, G*U], bias), and
 * the reference runtime's handling of input and recurrent dropout and of
 * return_sequences around each kind's cell.
 */
#ifndef RNN_LAYERS_RECURRENT_H
#define RNN_LAYERS_RECURRENT_H

#include "model/kind.h"
#include "reference/ref_layers.h"

typedef struct rnn_recurrent_cell rnn_recurrent_cell;

/* The reference runtime's buffers of one recurrent layer (rnn_ref_layer.priv). */
typedef struct {
    const rnn_recurrent_cell *cell; /* the kind's (rnn_recurrent_create)                     */
    rnn_real *h;              /* [B, T, U] every hidden state (is out with return_sequences) */
    rnn_real *dh;             /* [B, T, U] d loss / d h_t (is dout with return_sequences)    */
    rnn_real *c;              /* [B, T, U] cell states, when the cell keeps them              */
    rnn_real *gates;          /* [B, T, 4U] the cell's gate cache, when it has one            */
    rnn_real *recurrent_mask; /* [B, U] when recurrent_dropout > 0                            */
    rnn_real *input_mask;     /* [B, T, F] when dropout > 0                                   */
    rnn_real *dropped_input;  /* [B, T, F] x ⊙ input mask                                     */
    rnn_real *ddropped_input; /* [B, T, F] its gradient                                       */
    rnn_real *scratch;        /* rnn_ref_rnn_scratch_len(U)                                   */
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

/* Checks and tensors of a recurrent layer with `gates` gate blocks; the bias is
 * [bias_rows, G*U] (rank 2) when bias_rows > 1, else [G*U]. */
int rnn_recurrent_layout(rnn_layout *c, rnn_layer *l, int gates, int bias_rows, rnn_init_kind bias_init);

/* A kind's ref_create passes its cell; the other three are the kind's rnn_kind entries
 * as they are. */
int rnn_recurrent_create(rnn_ref_layer *s, const rnn_model *m, const rnn_layer *l, int max_batch,
                         const rnn_recurrent_cell *cell);
void rnn_recurrent_destroy(rnn_ref_layer *s);
size_t rnn_recurrent_forward(rnn_ref_layer *s, const rnn_ref_pass *p);
void rnn_recurrent_backward(rnn_ref_layer *s, const rnn_ref_pass *p);

#endif
