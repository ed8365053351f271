/*
 * emit_predictor.c — the inference-only predictor (rnnc SPEC --weights F -o P.c).
 *
 * The trainer's forward kernels, with the trained weights as a static const array,
 * dropout as the identity, and the workspace of one block in thread-local static
 * storage: no allocation and no file I/O at run time, and no link dependency but libm
 * (rnn_fastmath.h, rnn_lanes.h and rnn_kernels.h are header-only). Every forward is an
 * inference: nothing is kept per step but c and h.
 */
#include "kinds.h"

#include <stdlib.h>
#include <string.h>

static void emit_predictor_workspace(emitter *e) {
    const plan *p = e->p;
    P("/* ==== the workspace of one block of W samples, per thread ==== */\n\n");
    P("typedef struct {\n    struct {\n        int training;\n        const int32_t *tokens;\n    } base;\n");
    for (int i = 0; i < p->n_buffers; i++) P("    rnn_real *%s;\n", p->buffers[i].name);
    P("} workspace;\n\n");
    P("static _Thread_local int32_t TOKENS[W * %d];\n", e->m->timesteps);
    for (int i = 0; i < p->n_buffers; i++)
        P("static _Thread_local _Alignas(64) rnn_real BUF_%s[%zu]; /* %s */\n", p->buffers[i].name, p->buffers[i].per_block,
          p->buffers[i].what);
    P("\n");
}

static void emit_params_array(emitter *e, const rnn_real *params) {
    const rnn_model *m = e->m;
    P("/* ==== the trained weights (hexadecimal floats: exact) ==== */\n\n");
    P("static const rnn_real PARAMS[%zu] = {\n", m->param_buffer_len);
    size_t next = 0;
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        for (; next < t->offset; next++) P("    0, /* alignment */\n");
        P("    /* %s [%d, %d] at %zu */\n", t->name, t->shape[0], t->shape[1], t->offset);
        for (size_t i = 0; i < t->size; i++) {
            P("%s%a,", i % 6 == 0 ? "    " : " ", (double)params[t->offset + i]);
            if (i % 6 == 5 || i + 1 == t->size) P("\n");
        }
        next = t->offset + t->size;
    }
    for (; next < m->param_buffer_len; next++) P("    0,\n");
    P("};\n\n");
}

static void emit_predict_function(emitter *e) {
    const rnn_model *m = e->m;
    int L = m->n_layers - 1, O = m->n_outputs, T = m->timesteps, V = m->vocab;
    P("int %s_predict(const int32_t *tokens, int n, float *out);\n\n", m->name);
    P("int %s_predict(const int32_t *tokens, int n, float *out) {\n", m->name);
    P("    workspace ws = {{0, TOKENS}");
    for (int i = 0; i < e->p->n_buffers; i++) P(", BUF_%s", e->p->buffers[i].name);
    P("}, *w = &ws;\n");
    P("    for (int start = 0; start < n; start += W) {\n");
    P("        for (int l = 0; l < W; l++)\n            for (int t = 0; t < %d; t++) {\n", T);
    P("                const int32_t id = start + l < n ? tokens[(size_t)(start + l) * %d + t] : 0;\n", T);
    P("                if (id < 0 || id >= %d) return -1;\n", V);
    P("                TOKENS[l * %d + t] = id;\n            }\n", T);
    P("        forward_0(w, PARAMS, 0);\n");
    for (int i = 1; i <= L; i++) P("        forward_%d(w, PARAMS, 0, NULL);\n", i);
    P("        const rnn_real *z = BUF_a%d; /* logits [%d][W] */\n", L, O);
    P("        for (int l = 0; l < W && start + l < n; l++) {\n");
    if (m->loss == RNN_LOSS_BINARY_CROSSENTROPY) {
        P("            out[start + l] = rnn_probability(z[l]);\n");
    } else {
        P("            float mx = z[l], s = 0.0f;\n");
        P("            for (int o = 1; o < %d; o++) mx = z[o * W + l] > mx ? z[o * W + l] : mx;\n", O);
        P("            for (int o = 0; o < %d; o++) s += expf(z[o * W + l] - mx);\n", O);
        P("            for (int o = 0; o < %d; o++) out[(size_t)(start + l) * %d + o] = expf(z[o * W + l] - mx) / s;\n", O, O);
    }
    P("        }\n    }\n    return 0;\n}\n");
}

int rnnc_emit_predictor(const rnn_model *model, const rnn_real *params, const char *weights_path,
                        const rnnc_emit_options *o, char **text, size_t *len) {
    rnn_model *mi = malloc(sizeof *mi);
    if (!mi) {
        fprintf(stderr, "rnnc: out of memory while generating code\n");
        exit(1);
    }
    memcpy(mi, model, sizeof *mi);
    for (int i = 0; i < mi->n_layers; i++)   /* inference: no masks in the recurrent layers */
        if (plan_recurrent(&mi->layers[i])) mi->layers[i].dropout = mi->layers[i].recurrent_dropout = 0;
    const rnn_model *m = mi;
    textbuf b;
    tb_init(&b);
    plan p;
    plan_make(&p, m, o, 1);
    emitter em = {&b, m, o, &p}, *e = &em;
    int O = m->n_outputs, T = m->timesteps, V = m->vocab;
    emit_file_header(e, "an inference-only predictor");
    P(" * The weights are those of ");
    emit_comment_text(e, weights_path);
    P(".\n *\n * API (declare it where you use it):\n");
    P(" *   int %s_predict(const int32_t *tokens, int n, float *out);\n", m->name);
    P(" *     tokens  [n][%d] token ids in [0, %d), padded and truncated 'pre' like Keras's pad_sequences\n", T, V);
    P(" *     out     [n][%d] %s\n", O,
      m->loss == RNN_LOSS_BINARY_CROSSENTROPY ? "the probability of the positive class" : "the class probabilities");
    P(" *     returns 0, or -1 (nothing written past the bad sample) if an id is out of range.\n");
    P(" * No allocation and no file I/O; thread-safe (the workspace is thread-local).\n");
    P(" * Build: clang -std=c17 -O3 -march=native -c %s.c -I<dir of rnn_fastmath.h, rnn_kernels.h, rnn_lanes.h>\n */\n",
      m->name);
    P("#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n\n");
    P("#include \"rnn_fastmath.h\"\n#include \"rnn_kernels.h\"\n#include \"rnn_lanes.h\"\n\n");
    P("typedef float rnn_real;\ntypedef void rnn_dropout_ctx; /* unused: no dropout at inference */\n\n");
    P("#define W RNN_W      /* samples per lane block */\n#define V(p) RNN_V(p) /* the W lanes at p as one vector */\n\n");
    emit_zero(e);
    emit_params_array(e, params);
    emit_predictor_workspace(e);
    P("/* ==== layers: forward of one block of W samples ==== */\n\n");
    for (int i = 0; i < m->n_layers; i++) rnnc_kind_of(m->layers[i].kind)->emit(e, i);
    emit_predict_function(e);
    plan_free(&p);
    free(mi);
    *text = b.data;
    *len = b.len;
    return 0;
}
