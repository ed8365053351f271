/*
 * embedding.c — the Embedding kind in the compiler: embedding { input_dim, output_dim,
 * input_length, mask_zero, padding, truncating } (the last two say how the trainer fits
 * a text to input_length, as pad_sequences's options do). Its forward gathers the table's rows into lanes; its
 * backward is the driver's (emit_trainer.c), which scatters d loss / d output back into
 * the rows in block order, or folds the table into the next layer (emit_fold.c).
 */
#include "kinds.h"

static const char *const pre_post[] = {"pre", "post", NULL};

static const rnnc_keyword keywords[] = {
    {"input_dim", KW_INT, KW_FIELD(input_dim), 1, "input_dim is required (the vocabulary size)", NULL, 0},
    {"output_dim", KW_INT, KW_FIELD(units), 2, "output_dim is required (the embedding size)", NULL, 0},
    {"input_length", KW_INT, KW_FIELD(input_length), 0, NULL, NULL, 1},
    {"mask_zero", KW_BOOL, KW_FIELD(mask_zero), 0, NULL, NULL, 0},
    {"padding", KW_ENUM, KW_FIELD(post_padding), 0, NULL, pre_post, 0},
    {"truncating", KW_ENUM, KW_FIELD(post_truncating), 0, NULL, pre_post, 0},
    {NULL, KW_INT, 0, 0, NULL, NULL, 0}};

static void plan_embedding(plan *p, int i) {
    const rnn_layer *ly = &p->m->layers[i];
    plan_add(p, (size_t)ly->timesteps * (size_t)ly->units * W, 0, "embedding output [T][E][W]", "a%d", i);
}

static void emit_embedding(emitter *e, int i) {
    if (e->p->fold) return;   /* the table is folded into the next layer's input projection */
    const rnn_layer *ly = &e->m->layers[i];
    const rnn_tensor *t = plan_tensor(e->m, i, RNN_T_EMBEDDINGS);
    P("/* ---- %s (Embedding): tokens [%d] -> (%d, %d) ----\n", ly->name, ly->timesteps, ly->timesteps, ly->units);
    P(" * out[t][e][l] = %s[token of lane l at t][e] */\n", t->name);
    P("static void forward_%d(workspace *w, const rnn_real *params, int g) {\n", i);
    P("    const rnn_real *table = params + %zu; /* %s [%d, %d] */\n", t->offset, t->name, t->shape[0], t->shape[1]);
    P("    rnn_real *out = w->a%d + (size_t)g * %zu;\n", i, plan_size(e->p, "a%d", i));
    P("    for (int t = 0; t < %d; t++) {\n", ly->timesteps);
    P("        const rnn_real *rows[W];\n");
    P("        for (int l = 0; l < W; l++) rows[l] = table + (size_t)w->base.tokens[((size_t)g * W + l) * %d + t] * %d;\n",
      ly->timesteps, ly->units);
    kir_lanes_calls(e, 0, "out", ly->units, "        ");
    P("    }\n}\n\n");
}

const rnnc_kind rnnc_kind_embedding = {keywords, plan_embedding, emit_embedding, NULL, NULL};
