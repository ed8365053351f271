/*
 * plan.c — the planner: what a model's generated code does, decided once, and the
 * buffers of its workspace.
 */
#include "gen.h"
#include "kinds.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gen_bug(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("rnnc: internal error in the code generator: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

const rnn_tensor *plan_tensor(const rnn_model *m, int layer, int slot) {
    const rnn_layer *ly = &m->layers[layer];
    GEN_ASSERT(slot >= 0 && slot < ly->n_tensors, "layer %s has no tensor %d", ly->name, slot);
    return &m->tensors[ly->first_tensor + slot];
}

/* A large layer's weight gradients, (F + U) x G of them, would need W partial sums
 * each per block (256 KiB and more): its K and R gradients summed over the lanes as
 * matrix products instead (rnn_gemm.h), from this size on. */
#define LANE_SUMMED_MIN 4096

int plan_lane_summed(const plan *p, int i) {
    const rnn_layer *l = &p->m->layers[i];
    return !p->infer && plan_recurrent(l) && (long)(l->in_features + l->units) * l->gates * l->units >= LANE_SUMMED_MIN;
}

/* Is tensor t's gradient written lane-summed (not through the per-lane accumulators)?
 * A lane-summed layer's kernel unless folded (the folded table has its own), its
 * recurrent kernel when summed after the steps (not in them). */
static int tensor_lane_summed(const plan *p, const rnn_tensor *t) {
    if (p->lane_summed[t - p->m->tensors]) return 1;   /* a kind's own (plan_lane_sum) */
    if (t->layer < 0 || !plan_lane_summed(p, t->layer)) return 0;
    /* its slot in its half (a bidirectional layer's backward half's follow the forward's) */
    int slot = ((int)(t - p->m->tensors) - p->m->layers[t->layer].first_tensor) % RNN_T_RECURRENT_COUNT;
    if (slot == RNN_T_KERNEL) return !plan_folded(p, t->layer);
    if (slot == RNN_T_RECURRENT_KERNEL) {
        rnnc_grad_term terms[2];
        return gen_cell(&p->m->layers[t->layer])->recurrent_grads(p, t->layer, terms) > 0;
    }
    return 0;
}

void plan_can_take_step_grad(plan *p, int i, size_t scratch) {
    GEN_ASSERT(i > 0 && i < p->m->n_layers && scratch > 0, "layer %d cannot take step gradients", i);
    p->step_scratch[i] = scratch;
}

int plan_give_step_grad(plan *p, int i) {
    GEN_ASSERT(i > 0 && i < p->m->n_layers, "no layer %d", i);
    if (p->infer || !p->step_scratch[i]) return 0;
    const size_t F = (size_t)p->m->layers[i].out_features;
    p->step_grad[i] = 1;
    plan_add(p, F * W, 0, "the step of each feature and lane that gets the gradient", "gstep%d", i);
    plan_add(p, F * W, 0, "d loss / d output at that step", "gval%d", i);
    plan_add(p, p->step_scratch[i], 0, "scratch of the gradient taken at one step per feature", "st%d", i);
    return 1;
}

int plan_step_grad(const plan *p, int i) { return i > 0 && i < p->m->n_layers && p->step_grad[i]; }

void plan_lane_sum(plan *p, int k) {
    GEN_ASSERT(k >= 0 && k < p->m->n_tensors, "no tensor %d", k);
    p->lane_summed[k] = 1;
}

size_t plan_acc_index(const plan *p, size_t offset) {
    const rnn_model *m = p->m;
    GEN_ASSERT(m->n_tensors > 1 && offset >= m->tensors[1].offset && offset < m->param_buffer_len,
               "parameter %zu has no accumulator", offset);
    size_t index = 0;
    for (int k = 1; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        if (offset >= t->offset && offset < t->offset + t->size) {
            GEN_ASSERT(!tensor_lane_summed(p, t), "%s has no per-lane accumulator", t->name);
            return (index + (offset - t->offset)) * W;
        }
        if (!tensor_lane_summed(p, t)) index += t->size;
    }
    gen_bug("parameter %zu is in no tensor", offset);
}

size_t plan_sum_index(const plan *p, size_t offset) {
    const rnn_model *m = p->m;
    GEN_ASSERT(m->n_tensors > 1 && offset >= m->tensors[1].offset && offset < m->param_buffer_len,
               "parameter %zu has no gradient sum", offset);
    return offset - m->tensors[1].offset;
}

int plan_lane_ranges(const plan *p, plan_lane_range *r, int cap) {
    const rnn_model *m = p->m;
    int n = 0;
    size_t lanes = 0;
    plan_lane_range last = {0, 0, 0};
    for (int k = 1; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        if (tensor_lane_summed(p, t)) continue;
        size_t sum = plan_sum_index(p, t->offset);
        if (n > 0 && last.sum + last.len == sum && last.lanes + last.len == lanes) {
            last.len += t->size;
        } else {
            if (r && n > 0) r[n - 1] = last;
            GEN_ASSERT(!r || n < cap, "too many accumulator ranges");
            last = (plan_lane_range){sum, lanes, t->size};
            n++;
        }
        lanes += t->size;
    }
    if (r && n > 0) r[n - 1] = last;
    return n;
}

int plan_recurrent(const rnn_layer *l) { return l->gates > 0; }

int plan_input_dropout(const rnn_layer *l) { return plan_recurrent(l) && l->dropout > 0; }

int plan_per_step_mask(const rnn_layer *l) { return l->dropout_mask == RNN_DROPOUT_PER_STEP; }

/* Layer 1's input is the embedding's output, which nothing else reads: its dropped
 * copy can overwrite it (one buffer of T * F lanes less per block), unless the layer
 * has two halves that both read it. */
int plan_xd_in_place(const plan *p, int i) { return i == 1 && !p->m->layers[1].wrapped; }

/* A straight-line kernel holds each of its `vectors` operand vectors in a variable for
 * the whole kernel, and its `outputs` sums make as many groups of statements: beyond a
 * hundred or so of the first and several hundred of the second, the C compiler spends
 * minutes on one function, so the budget bounds them too. */
#define MAX_UNROLLED_VECTORS 128
#define MAX_UNROLLED_OUTPUTS 512

static int unrolled_under(long budget, long terms, long vectors, long outputs) {
    return terms <= budget && vectors <= MAX_UNROLLED_VECTORS && outputs <= MAX_UNROLLED_OUTPUTS;
}

int plan_unrolled(const plan *p, long terms, long vectors, long outputs) {
    if (p->o->unroll == RNNC_UNROLL_NONE) return 0;
    return unrolled_under(p->budget, terms, vectors, outputs);
}

/* --unroll full writes a call per step and recurrent layer: at most this many. */
#define MAX_UNROLLED_STEPS 4096

/* The file as a whole: at most FILE_BUDGET multiply-adds of straight-line code (a deep
 * stack of mid-sized layers would otherwise give the C compiler minutes of work). */
#define FILE_BUDGET 32768

/* An estimate of the straight-line multiply-adds of the model's kernels under a kernel
 * budget: each layer's kernels as its kind reports them (rnnc_kind.kernel_shapes). */
static long unrolled_total(const rnn_model *m, long budget) {
    long total = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const rnnc_kind *k = rnnc_kind_of(m->layers[i].kind);
        rnnc_kernel_shape shapes[8];
        int n = k->kernel_shapes ? k->kernel_shapes(&m->layers[i], shapes) : 0;
        GEN_ASSERT(n <= 8, "too many kernel shapes");
        for (int j = 0; j < n; j++)
            if (unrolled_under(budget, shapes[j].terms, shapes[j].vectors, shapes[j].outputs)) total += shapes[j].terms;
    }
    return total;
}

int plan_folded(const plan *p, int i) { return p->fold && i == 1; }

/* A layer whose x_t.K is too large to unroll computes it outside the time loop, as one
 * matrix product over all the steps; small unrolled layers keep it in the step, where
 * its multiply-adds fill the gaps of the activations. */
int plan_hoisted(const plan *p, int i) {
    const rnn_layer *l = &p->m->layers[i];
    return plan_recurrent(l) && !plan_folded(p, i) &&
           !plan_unrolled(p, (long)l->in_features * l->gates * l->units, l->in_features, (long)l->gates * l->units);
}

int plan_projected(const plan *p, int i) { return plan_folded(p, i) || plan_hoisted(p, i); }

/* A trainer's forward steps read a recurrent kernel too large for straight-line code
 * from a copy in panels (rp<i>, made before the blocks of every forward): a tile's
 * weights one row after another instead of a row of ld floats apart. */
int plan_packed(const plan *p, int i) {
    const rnn_layer *l = &p->m->layers[i];
    return !p->infer && plan_recurrent(l) && !plan_unrolled(p, (long)l->units * l->gates * l->units, l->units, (long)l->gates * l->units);
}

/* ---- buffers -------------------------------------------------------------------------------- */

void plan_add(plan *p, size_t per_block, int scratch, const char *what, const char *fmt, ...) {
    char name[32];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    GEN_ASSERT(n > 0 && (size_t)n < sizeof name, "buffer name too long");
    GEN_ASSERT(!plan_has(p, name), "buffer %s planned twice", name);
    if (p->n_buffers == p->cap) {
        int cap = p->cap ? 2 * p->cap : 32;
        plan_buffer *b = realloc(p->buffers, (size_t)cap * sizeof *b);
        if (!b) {
            fprintf(stderr, "rnnc: out of memory while generating code\n");
            exit(1);
        }
        p->buffers = b;
        p->cap = cap;
    }
    plan_buffer *b = &p->buffers[p->n_buffers++];
    memcpy(b->name, name, (size_t)n + 1);
    b->per_block = per_block;
    b->scratch = scratch;
    b->what = what;
}

int plan_has(const plan *p, const char *name) {
    for (int i = 0; i < p->n_buffers; i++)
        if (!strcmp(p->buffers[i].name, name)) return 1;
    return 0;
}

size_t plan_size(const plan *p, const char *fmt, ...) {
    char name[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    for (int i = 0; i < p->n_buffers; i++)
        if (!strcmp(p->buffers[i].name, name)) return p->buffers[i].per_block;
    gen_bug("no buffer %s in the plan", name);
}

/* The buffers of the folded table (scratch: one copy) and of its gradient (per block). */
static void plan_fold(plan *p) {
    const rnn_model *m = p->m;
    const rnn_layer *l1 = &m->layers[1];
    size_t G = (size_t)l1->gates * (size_t)l1->units, V = (size_t)m->vocab, F = (size_t)l1->in_features;
    plan_add(p, V * G, 1, "the folded table b + E.K [V][G]", "ek");
    plan_add(p, V * G, 0, "its gradient [V][G]", "dek");
    plan_add(p, V, 0, "rows of dek written in this batch", "touched");
    plan_add(p, V * F + F * G + G, 1, "K, b and E as ek was last built from them", "ek_from");
    plan_add(p, TAIL_CHUNKS * (F * G + G), 1, "each row chunk's part of the folded K's and b's gradients [TAIL_CHUNKS][F*G + G]", "fk");
    plan_add(p, V * G, 1, "the touched rows of dek summed over the blocks [V][G]", "dek_sum");
}

void plan_make(plan *p, const rnn_model *m, const rnnc_emit_options *o, int infer) {
    memset(p, 0, sizeof *p);
    p->m = m;
    p->o = o;
    p->infer = infer;
    p->budget = o->unroll_budget;
    while (p->budget > 1 && unrolled_total(m, p->budget) > FILE_BUDGET) p->budget /= 2;
    p->full = o->unroll == RNNC_UNROLL_FULL;
    int recurrent = 0;
    for (int i = 0; i < m->n_layers; i++)   /* a bidirectional layer runs two time loops */
        recurrent += plan_recurrent(&m->layers[i]) ? (m->layers[i].wrapped ? 2 : 1) : 0;
    if (p->full && (long)recurrent * m->timesteps > MAX_UNROLLED_STEPS) {
        fprintf(stderr, "rnnc: --unroll full: %d steps of %d recurrent layers make more than %d step calls; the time loops stay loops\n",
                m->timesteps, recurrent, MAX_UNROLLED_STEPS);
        p->full = 0;
    }
    const rnn_layer *l1 = m->n_layers > 1 ? &m->layers[1] : NULL;
    /* Folding costs V*F*G multiply-adds per batch and saves T*F*G per sample (twice
     * over, forward and backward): worth it when the batch has more tokens than the
     * vocabulary has rows. A predictor keeps the plain embedding. Clipping the embedding
     * per lookup needs each lookup's row of d loss / d output, which the fold never forms. */
    const int lookups = rnn_lookup_clipvalue(m) > 0 || rnn_clips_lookup_norm(m);
    p->fold = !infer && !o->no_fold && l1 && plan_recurrent(l1) && !l1->wrapped && !plan_input_dropout(l1) && !lookups &&
              (size_t)m->vocab * 2 <= (size_t)m->fit.batch_size * (size_t)m->timesteps;
    /* A block's own table costs zeroing V rows and adding them to the other blocks' per
     * batch, against scattering its W*T rows: worth it when the block looks up at least
     * as many rows as the table has. */
    p->parts = !infer && !p->fold && (size_t)m->vocab <= (size_t)W * (size_t)m->timesteps;
    if (p->fold) plan_fold(p);
    if (p->parts)
        plan_add(p, (size_t)m->vocab * (size_t)m->layers[0].units, 0, "the block's part of the embedding's gradient [V][E]",
                 "de");
    else if (!infer && !p->fold)
        plan_add(p, (size_t)m->vocab, 1, "1 for the rows of the embedding the batch looked up, else 0", "looked_up");
    size_t xk = 0;   /* one buffer for the projected input of whichever layer runs */
    for (int i = 1; i < m->n_layers; i++)
        if (plan_projected(p, i)) {
            const rnn_layer *l = &m->layers[i];
            size_t n = (size_t)l->timesteps * (size_t)l->gates * (size_t)l->units * W;
            if (n > xk) xk = n;
        }
    if (xk) plan_add(p, xk, 0, "a layer's input projection b + x_t.K of every step [T][G][W]", "xk");
    for (int i = p->fold ? 1 : 0; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        rnnc_kind_of(l->kind)->plan(p, i);
        if (infer) continue;
        size_t out = (l->out_seq ? (size_t)l->out_timesteps : 1) * (size_t)l->out_features * W;
        plan_add(p, out, 0, "d loss / d output", "d%d", i);
    }
}

void plan_free(plan *p) {
    free(p->buffers);
    memset(p, 0, sizeof *p);
}
