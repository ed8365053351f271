/*
 * emit_trainer.c — rnn_model → the C file of a standalone trainer (rnnc_emit_c).
 *
 * The file implements the model interface (rnn_model_ops of rnnrt.h) through the
 * driver every generated trainer shares (rnn_gen.h) with what is specific to this
 * model: every size a constant, each layer's forward and backward of one block of W
 * samples (compiler/layers/), the embedding's gradient, the folded table
 * (emit_fold.c) and the sums after the blocks. The output is a pure function of the
 * model and the options: same spec, same bytes.
 */
#include "kinds.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- the workspace ------------------------------------------------------------------------- */

static void emit_workspace(emitter *e) {
    const plan *p = e->p;
    P("/* ==== the workspace: rnn_gen.h's common part and the model's buffers, for max_batch samples ==== */\n\n");
    P("typedef struct {\n    rnn_gen_common base;\n");
    if (p->fold) P("    int ek_built; /* ek and ek_from hold a table and what it was built from */\n");
    for (int i = 0; i < p->n_buffers; i++)
        P("    rnn_real *%s; /* %zu %s: %s */\n", p->buffers[i].name, p->buffers[i].per_block,
          p->buffers[i].scratch ? "in all" : "per block", p->buffers[i].what);
    P("} workspace;\n\n");
    P("static const rnn_gen_buffer BUFFERS[] = {\n");
    for (int i = 0; i < p->n_buffers; i++)
        P("    {offsetof(workspace, %s), %zu, %d},\n", p->buffers[i].name, p->buffers[i].per_block, p->buffers[i].scratch);
    P("};\n\n");
}

/* ---- the embedding's gradient ------------------------------------------------------------------- */

void emit_embedding_scatter(emitter *e, const char *table, const char *ind, const char *touched) {
    const rnn_layer *emb = &e->m->layers[0];
    P("%sfor (int t = 0; t < %d; t++) {\n", ind, emb->timesteps);
    P("%s    rnn_real *rows[W];\n", ind);
    P("%s    for (int l = 0; l < W; l++) {\n", ind);
    P("%s        const int32_t id = w->base.tokens[((size_t)g * W + l) * %d + t];\n", ind, emb->timesteps);
    P("%s        rows[l] = g * W + l < n ? %s + (size_t)id * %d : sink;\n", ind, table, emb->units);
    if (touched) P("%s        if (g * W + l < n) %s[id] = 1;\n", ind, touched);
    P("%s    }\n", ind);
    char in2[64];
    snprintf(in2, sizeof in2, "%s    ", ind);
    kir_lanes_calls(e, 1, "d0", emb->units, in2);
    P("%s}\n", ind);
}

/* Each block scatters its d loss / d output into a table of its own (on the block's
 * thread, while d0 is in its cache); the tail adds the tables row by row. */
static void emit_embedding_parts(emitter *e) {
    const rnn_model *m = e->m;
    const rnn_tensor *E = plan_tensor(m, 0, RNN_T_EMBEDDINGS);
    const size_t VE = plan_size(e->p, "de");
    P("/* the block's part of the embedding's gradient, in its own table */\n");
    P("static void embedding_part(workspace *w, int g) {\n");
    P("    const int n = w->base.n;\n");
    P("    rnn_real *de = w->de + (size_t)g * %zu;\n", VE);
    P("    memset(de, 0, %zu * sizeof *de);\n", VE);
    P("    const rnn_real *d0 = w->d0 + (size_t)g * %zu;\n", plan_size(e->p, "d0"));
    P("    rnn_real sink[%d]; /* the rows of padding lanes */\n", m->layers[0].units);
    emit_embedding_scatter(e, "de", "    ", NULL);
    P("}\n\n");
    P("/* the embedding's gradient in the rows of chunk c: the blocks' parts added in block order */\n");
    P("static void embedding_rows(const rnn_gen_tail *t, int c) {\n    const workspace *w = t->w;\n");
    P("    const size_t k0 = (size_t)(c * %d / RNN_GEN_TAIL_CHUNKS) * %d, k1 = (size_t)((c + 1) * %d / RNN_GEN_TAIL_CHUNKS) * %d;\n",
      m->vocab, m->layers[0].units, m->vocab, m->layers[0].units);
    P("    rnn_gen_add_parts(t->grads + %zu + k0, w->de + k0, k1 - k0, t->nblk, %zu); /* %s [%d, %d] */\n", E->offset, VE,
      E->name, E->shape[0], E->shape[1]);
    P("    rnn_gen_step_range(t, %zu + k0, %zu + k1);\n}\n\n", E->offset, E->offset);
}

/* One task scatters every block's d loss / d output into the table, in block order
 * (rows repeat across blocks), beside the other tasks; the step follows in row chunks. */
static void emit_embedding_scattered(emitter *e) {
    const rnn_model *m = e->m;
    const rnn_tensor *E = plan_tensor(m, 0, RNN_T_EMBEDDINGS);
    int V = m->vocab, U = m->layers[0].units;
    P("/* the embedding: d loss / d output scattered into the looked-up rows, in block order */\n");
    P("static void embedding_grad(const rnn_gen_tail *t) {\n");
    P("    const workspace *w = t->w;\n    const int n = w->base.n;\n");
    P("    rnn_real *dE = t->grads + %zu; /* %s [%d, %d] */\n", E->offset, E->name, E->shape[0], E->shape[1]);
    P("    rnn_real sink[%d]; /* the rows of padding lanes */\n", U);
    P("    memset(dE, 0, %zu * sizeof *dE);\n", E->size);
    P("    memset(w->looked_up, 0, %d * sizeof *w->looked_up);\n", V);
    P("    for (int g = 0; g < t->nblk; g++) {\n");
    P("        const rnn_real *d0 = w->d0 + (size_t)g * %zu;\n", plan_size(e->p, "d0"));
    emit_embedding_scatter(e, "dE", "        ", "w->looked_up");
    P("    }\n}\n\n");
    P("/* the embedding's step, in row chunks after the task that made its gradient: the rows\n"
      " * no sample looked up have a zero gradient, which the optimizer need not read */\n");
    P("static void embedding_step_chunk(void *arg, int c) {\n");
    P("    const rnn_gen_tail *t = arg;\n    const workspace *w = t->w;\n");
    P("    const int v1 = (c + 1) * %d / RNN_GEN_TAIL_CHUNKS;\n", V);
    P("    for (int v0 = c * %d / RNN_GEN_TAIL_CHUNKS, v; v0 < v1; v0 = v) {   /* runs of rows alike */\n", V);
    P("        for (v = v0 + 1; v < v1 && w->looked_up[v] == w->looked_up[v0]; v++) {\n        }\n");
    P("        const size_t lo = %zu + (size_t)v0 * %d, hi = %zu + (size_t)v * %d;\n", E->offset, U, E->offset, U);
    P("        if (w->looked_up[v0]) rnn_gen_step_range(t, lo, hi);\n");
    P("        else rnn_update_apply_zero(t->up, lo, hi);\n    }\n}\n\n");
    P("static void embedding_finish(rnn_gen_tail *t) {\n");
    P("    if (t->up) rnn_parallel_for(RNN_GEN_TAIL_CHUNKS, embedding_step_chunk, t);\n}\n\n");
}

/* ---- the model's part of the driver ------------------------------------------------------------------ */

static void emit_block_hooks(emitter *e) {
    const rnn_model *m = e->m;
    int L = m->n_layers - 1;
    P("/* ==== the blocks: the layers in order, and back ==== */\n\n");
    P("static void forward_layers(void *ws, const rnn_real *params, int g, const rnn_dropout_ctx *ctx) {\n");
    P("    workspace *w = ws;\n");
    if (!e->p->fold) P("    forward_0(w, params, g);\n");
    for (int i = 1; i <= L; i++) P("    forward_%d(w, params, g, ctx);\n", i);
    P("}\n\n");
    if (e->p->parts) emit_embedding_parts(e);
    P("static void backward_layers(void *ws, const rnn_real *params, int g) {\n");
    P("    workspace *w = ws;\n");
    if (e->p->fold) {
        size_t VG = plan_size(e->p, "dek");
        P("    memset(w->dek + (size_t)g * %zu, 0, %zu * sizeof *w->dek);\n", VG, VG);
        P("    memset(w->touched + (size_t)g * %d, 0, %d * sizeof *w->touched);\n", m->vocab, m->vocab);
    }
    for (int i = L; i >= 1; i--) P("    backward_%d(w, params, g);\n", i);
    const double clip = rnn_lookup_clipvalue(m);
    if (clip > 0 || rnn_clips_lookup_norm(m)) {   /* (never folded: plan_make) */
        P("    /* the embedding's gradient as the optimizer clips it: one row per lookup (Keras's IndexedSlices)%s */\n",
          clip > 0 ? ", each element clipped to the clipvalue before the rows are summed" : "");
        P("    w->base.block_lookup[g] = rnn_gen_lookup_rows(w->d0 + (size_t)g * %zu, %zu, w->base.n - g * W, ",
          plan_size(e->p, "d0"), (size_t)m->timesteps * (size_t)m->layers[0].units);
        emit_double(e, clip);
        P(");\n");
    }
    if (e->p->parts) P("    embedding_part(w, g);\n");
    P("}\n\n");
}

/* The tasks after the blocks: chunk c of the lane sums, and of the embedding's rows. */
static void emit_tail(emitter *e) {
    P("/* ==== after the blocks: the sums, each task one chunk of each, with their step ==== */\n\n");
    if (e->p->fold) emit_fold(e);
    else if (!e->p->parts) emit_embedding_scattered(e);
    P("static void sums_chunk(void *arg, int c) {\n");
    if (!e->p->fold && !e->p->parts) {   /* the one serial embedding task beside the sums */
        P("    if (c == 0) embedding_grad(arg);\n    else rnn_gen_reduce_chunk(arg, c - 1);\n}\n\n");
        return;
    }
    P("    rnn_gen_reduce_chunk(arg, c);\n");
    P("    %s(arg, c);\n}\n\n", e->p->fold ? "fold_rows_chunk" : "embedding_rows");
}

/* LANE_LEN and LANE_RANGES: the gradients a block accumulates per lane, and where their
 * lane sums go. */
static void emit_lane_ranges(emitter *e) {
    int n = plan_lane_ranges(e->p, NULL, 0);
    plan_lane_range *r = calloc((size_t)n + 1, sizeof *r);
    if (!r) {
        fprintf(stderr, "rnnc: out of memory while generating code\n");
        exit(1);
    }
    plan_lane_ranges(e->p, r, n);
    size_t lanes = 0;
    for (int k = 0; k < n; k++) lanes += r[k].len;
    P("#define LANE_LEN %zu /* of those, summed per lane first (the others: lane-summed products) */\n\n", lanes);
    P("static const rnn_gen_lane_range LANE_RANGES[] = {");
    for (int k = 0; k < n; k++) P("%s{%zu, %zu, %zu}", k ? ", " : "", r[k].sum, r[k].lanes, r[k].len);
    P("%s};\n\n", n ? "" : "{0, 0, 0}");
    free(r);
}

/* prepare(), before the blocks of every forward: the folded table, the packed recurrent
 * kernels. */
static int has_prepare(const plan *p) {
    int any = p->fold;
    for (int i = 0; i < p->m->n_layers; i++) any |= plan_packed(p, i);
    return any;
}

static void emit_prepare(emitter *e) {
    const rnn_model *m = e->m;
    if (!has_prepare(e->p)) return;
    int packed = 0;
    for (int i = 0; i < m->n_layers; i++) packed |= plan_packed(e->p, i);
    P("/* Before the blocks of a forward: %s. */\n",
      e->p->fold && packed ? "the folded table, the packed weights" : e->p->fold ? "the folded table" : "the packed weights");
    P("static void prepare(rnn_gen_batch *a) {\n    workspace *w = a->w;\n    (void)w;\n");
    if (e->p->fold) P("    fold_prepare(a);\n");
    for (int i = 0; i < m->n_layers; i++)
        if (plan_packed(e->p, i)) gen_recurrent_pack(e, i);
    P("}\n\n");
}

/* EXCHANGED: what the tail reads of each block besides its gradient sums, which several
 * trainers on one batch hand each other (rnn_gen_forward_backward_part). */
static int emit_exchanged(emitter *e) {
    const char *names[2] = {NULL, NULL};
    if (e->p->fold) names[0] = "dek", names[1] = "touched";
    else names[0] = e->p->parts ? "de" : "d0";
    int n = names[1] ? 2 : 1;
    P("/* what the sums after the blocks read of each block besides bsum (trainers on one batch exchange it) */\n");
    P("static const rnn_gen_buffer EXCHANGED[] = {");
    for (int i = 0; i < n; i++)
        P("%s{offsetof(workspace, %s), %zu, 0}", i ? ", " : "", names[i], plan_size(e->p, "%s", names[i]));
    P("};\n\n");
    return n;
}

static void emit_gen_model(emitter *e) {
    const rnn_model *m = e->m;
    const plan *p = e->p;
    int L = m->n_layers - 1;
    int n_exchanged = emit_exchanged(e);
    P("static const rnn_gen_model GEN = {\n");
    P("    .timesteps = %d, .vocab = %d, .outputs = %d, .binary = %d, .keep_always = %d,\n", m->timesteps, m->vocab,
      m->n_outputs, m->loss == RNN_LOSS_BINARY_CROSSENTROPY, e->p->full);
    /* (the driver's defaults: sparse labels; the accuracy of the loss with one output) */
    static const char *const acc_ids[] = {"RNN_ACCURACY_AUTO", "RNN_ACCURACY_BINARY", "RNN_ACCURACY_SPARSE_CATEGORICAL",
                                          "RNN_ACCURACY_CATEGORICAL"};
    const int plain_acc = m->loss == RNN_LOSS_BINARY_CROSSENTROPY ? RNN_ACCURACY_BINARY : RNN_ACCURACY_SPARSE_CATEGORICAL;
    if (m->loss == RNN_LOSS_CATEGORICAL_CROSSENTROPY) P("    .categorical = 1, /* one-hot labels */\n");
    if ((int)m->accuracy_kind != plain_acc) P("    .accuracy = %s,\n", acc_ids[m->accuracy_kind]);
    P("    .param_len = %zu, .acc_offset = %zu, .acc_len = ACC_LEN,\n", m->param_buffer_len, m->tensors[1].offset);
    P("    .lane_len = LANE_LEN, .lane_ranges = LANE_RANGES, .n_lane_ranges = %d,\n", plan_lane_ranges(p, NULL, 0));
    P("    .workspace_size = sizeof(workspace), .buffers = BUFFERS, .n_buffers = %d,\n", p->n_buffers);
    P("    .logits = offsetof(workspace, a%d), .dlogits = offsetof(workspace, d%d),\n", L, L);
    if (p->fold) {
        const rnn_tensor *K1 = plan_tensor(m, 1, RNN_T_KERNEL), *B1 = plan_tensor(m, 1, RNN_T_RNN_BIAS);
        P("    .held = {{%zu, %zu}, {%zu, %zu}}, .n_held = 2, /* %s and %s: fold_finish steps them */\n", K1->offset,
          K1->offset + K1->size, B1->offset, B1->offset + B1->size, K1->name, B1->name);
    }
    P("    .prepare = %s, .forward_layers = forward_layers, .backward_layers = backward_layers,\n",
      has_prepare(p) ? "prepare" : "NULL");
    P("    .exchanged = EXCHANGED, .n_exchanged = %d, .tail_tokens = %d,\n", n_exchanged, !p->fold && !p->parts);
    P("    .tail_tasks = %s, .tail_task = sums_chunk, .finish = %s,\n};\n\n",
      p->fold || p->parts ? "RNN_GEN_TAIL_CHUNKS" : "1 + RNN_GEN_TAIL_CHUNKS",
      p->fold ? "fold_finish" : p->parts ? "NULL" : "embedding_finish");
    P("RNN_GEN_OPS(OPS, GEN, %zu);\n\n", plan_tensor(m, 0, RNN_T_EMBEDDINGS)->size);
}

int rnnc_emit_c(const rnn_model *m, const rnnc_emit_options *o, char **text, size_t *len) {
    textbuf b;
    tb_init(&b);
    plan p;
    plan_make(&p, m, o, 0);
    emitter em = {&b, m, o, &p}, *e = &em;
    emit_file_header(e, NULL);
    P(" * Threads: the lane blocks of a batch run on rnn_parallel_for (--threads).\n");
    if (o->mpi)
        P(" * Build: OMPI_CC=clang mpicc -std=c17 -O3 -march=native -mprefer-vector-width=512 THIS.c -I<include>\n"
          " *        <lib>/librnnrt_mpi.a <lib>/librnnrt.a -lm (on x86-64; elsewhere without the vector width)\n */\n");
    else
        P(" * Build: clang -std=c17 -O3 -march=native -mprefer-vector-width=512 THIS.c -I<include> <lib>/librnnrt.a -lm\n"
          " *        (on x86-64; elsewhere without the vector width): for this machine. For every x86-64,\n"
          " *        rnnc -o compiles it once per level with -march=LEVEL -DRNN_ISA_LEVEL=N (rnn_isa.h).\n */\n");
    P("#include <math.h>\n#include <stddef.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n");
    P("#include \"rnnrt.h\"\n#include \"rnn_fastmath.h\"\n#include \"rnn_gen.h\"\n#include \"rnn_kernels.h\"\n"
      "#include \"rnn_lanes.h\"\n#include \"rnn_gemm.h\"\n\n");
    P("#define W RNN_W      /* samples per lane block */\n#define V(p) RNN_V(p) /* the W lanes at p as one vector */\n");
    P("_Static_assert(RNN_WG_PANEL == %d && RNN_WG_DT_FLOATS == %d, \"rnn_gemm.h of another version\");\n", WG_PANEL,
      WG_DT_FLOATS);
    P("#define ACC_LEN %zu /* parameters after the embedding table: a block's gradient sums */\n",
      m->param_buffer_len - m->tensors[1].offset);
    emit_lane_ranges(e);
    emit_zero(e);
    emit_model(e);
    emit_workspace(e);
    P("/* ==== layers: forward and backward of one block of W samples ==== */\n\n");
    for (int i = 0; i < m->n_layers; i++) rnnc_kind_of(m->layers[i].kind)->emit(e, i);
    emit_block_hooks(e);
    emit_tail(e);
    emit_prepare(e);
    emit_gen_model(e);
    if (o->mpi) P("#include \"rnn_mpi.h\" /* data-parallel under mpirun: link librnnrt_mpi.a, build with mpicc */\n\n");
    P("/* ==== the program ==== */\n\n");
    P("static int run(int argc, char **argv) {\n    model_init();\n");
    P("    return %s(&MODEL, &OPS, argv[0], argc - 1, argv + 1);\n}\n\n", o->mpi ? "rnn_mpi_trainer_main" : "rnn_trainer_main");
    P("/* main calls run; or, when rnnc's default x86-64 build has compiled this file once per\n"
      " * level (-march=LEVEL -DRNN_ISA_LEVEL=N) and linked the copies, the copy's run for the\n"
      " * best level this CPU has (rnn_gen.h, rnn_isa.h). */\n");
    P("RNN_GEN_MAIN(run)\n");
    plan_free(&p);
    *text = b.data;
    *len = b.len;
    return 0;
}
