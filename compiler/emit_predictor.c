/*
 * emit_predictor.c — the inference-only predictor (rnnc SPEC --weights F -o P.c).
 *
 * The trainer's forward kernels, with the trained weights as a static const array,
 * dropout as the identity, and the workspace of one block in the caller's memory (a
 * program that never predicts pays nothing for it, and a thread only for the calls it
 * makes): no allocation, no file I/O and no global state at run time, and no link
 * dependency but libm (rnn_fastmath.h, rnn_lanes.h and rnn_kernels.h are header-only).
 * Every forward is an inference: nothing is kept per step but c and h.
 */
#include "kinds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The caller's workspace, carved into the token ids of one block and the layers' buffers,
 * each at a 64-byte boundary from the workspace's start; its size in bytes. */
static size_t workspace_bytes(const plan *p, const rnn_model *m) {
    size_t bytes = ((size_t)W * (size_t)m->timesteps * sizeof(int32_t) + 63) / 64 * 64;
    for (int i = 0; i < p->n_buffers; i++) bytes += (p->buffers[i].per_block * sizeof(float) + 63) / 64 * 64;
    return bytes;
}

static void emit_predictor_workspace(emitter *e) {
    const plan *p = e->p;
    P("/* ==== the workspace: one block of W samples, in the caller's memory ==== */\n\n");
    P("typedef struct {\n    struct {\n        int training;\n        const int32_t *tokens;\n    } base;\n");
    for (int i = 0; i < p->n_buffers; i++) P("    rnn_real *%s; /* %zu: %s */\n", p->buffers[i].name, p->buffers[i].per_block,
                                            p->buffers[i].what);
    P("} workspace;\n\n");
    P("#if !defined(RNN_ISA_LEVEL) || RNN_ISA_LEVEL == 1\n");
    P("size_t %s_predict_workspace(void);\n\n", e->m->name);
    P("size_t %s_predict_workspace(void) { return %zu; }\n#endif\n\n", e->m->name, workspace_bytes(p, e->m));
    P("/* The workspace's parts: the token ids, then each buffer, at 64-byte boundaries. */\n");
    P("static workspace carve(unsigned char *work) {\n");
    size_t off = ((size_t)W * (size_t)e->m->timesteps * sizeof(int32_t) + 63) / 64 * 64;
    P("    workspace w = {{0, (const int32_t *)(void *)work}");
    for (int i = 0; i < p->n_buffers; i++) {
        P(", (rnn_real *)(void *)(work + %zu)", off);
        off += (p->buffers[i].per_block * sizeof(float) + 63) / 64 * 64;
    }
    P("};\n    return w;\n}\n\n");
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
    P("/* ==== the entry point ==== */\n\n");
    P("/* NAME_predict; or, built once per x86-64 level with -march=LEVEL -DRNN_ISA_LEVEL=N and\n"
      " * linked (rnn_isa.h), each copy's NAME_predict_isaN and copy 1's NAME_predict, which calls\n"
      " * the copy for the best level this CPU has (NAME_predict_workspace is copy 1's too). */\n");
    P("#if defined(RNN_ISA_LEVEL)\n#define PREDICT RNN_ISA_NAMED(%s_predict_isa)\n#else\n#define PREDICT %s_predict\n#endif\n\n",
      m->name, m->name);
    P("int PREDICT(void *work, const int32_t *tokens, int n, float *out);\n\n");
    P("int PREDICT(void *work, const int32_t *tokens, int n, float *out) {\n");
    P("    if (!work) return -2;\n");
    P("    workspace ws = carve(work), *w = &ws;\n");
    P("    int32_t *ids = work; /* ws.base.tokens */\n");
    P("    for (int start = 0; start < n; start += W) {\n");
    P("        for (int l = 0; l < W; l++)\n            for (int t = 0; t < %d; t++) {\n", T);
    P("                const int32_t id = start + l < n ? tokens[(size_t)(start + l) * %d + t] : 0;\n", T);
    P("                if (id < 0 || id >= %d) return -1;\n", V);
    P("                ids[l * %d + t] = id;\n            }\n", T);
    P("        forward_0(w, PARAMS, 0);\n");
    for (int i = 1; i <= L; i++) P("        forward_%d(w, PARAMS, 0, NULL);\n", i);
    P("        const rnn_real *z = w->a%d; /* logits [%d][W] */\n", L, O);
    P("        for (int l = 0; l < W && start + l < n; l++) {\n");
    /* freestanding: nothing of libm (rnn_fastmath.h's exp and sigmoid) */
    const int fs = e->o->freestanding;
    if (m->loss == RNN_LOSS_BINARY_CROSSENTROPY) {
        P("            out[start + l] = %s(z[l]);\n", fs ? "rnn_fast_sigmoidf" : "rnn_probability");
    } else {
        const char *exp = fs ? "rnn_fast_expf" : "expf";
        P("            float mx = z[l], s = 0.0f;\n");
        P("            for (int o = 1; o < %d; o++) mx = z[o * W + l] > mx ? z[o * W + l] : mx;\n", O);
        P("            for (int o = 0; o < %d; o++) s += %s(z[o * W + l] - mx);\n", O, exp);
        P("            for (int o = 0; o < %d; o++) out[(size_t)(start + l) * %d + o] = %s(z[o * W + l] - mx) / s;\n", O, O,
          exp);
    }
    P("        }\n    }\n    return 0;\n}\n");
    P("\n#if defined(RNN_ISA_LEVEL) && RNN_ISA_LEVEL == 1\n");
    for (int lv = 1; lv <= 4; lv++) P("int %s_predict_isa%d(void *work, const int32_t *tokens, int n, float *out);\n", m->name, lv);
    P("int %s_predict(void *work, const int32_t *tokens, int n, float *out);\n\n", m->name);
    P("int %s_predict(void *work, const int32_t *tokens, int n, float *out) {\n", m->name);
    P("    static int (*const copy[RNN_ISA_LEVELS])(void *, const int32_t *, int, float *) = {\n");
    P("        %s_predict_isa1, %s_predict_isa2, %s_predict_isa3, %s_predict_isa4};\n", m->name, m->name, m->name, m->name);
    P("    return copy[rnn_isa_cpu_level() - 1](work, tokens, n, out);\n}\n#endif\n");
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
    P(" *   size_t %s_predict_workspace(void);\n", m->name);
    P(" *     the bytes of workspace a call needs: %zu\n", workspace_bytes(&p, m));
    P(" *   int %s_predict(void *work, const int32_t *tokens, int n, float *out);\n", m->name);
    P(" *     work    that many bytes of the caller's (64-byte aligned for speed), one per call at a time\n");
    P(" *     tokens  [n][%d] token ids in [0, %d), padded and truncated 'pre' like Keras's pad_sequences\n", T, V);
    P(" *     out     [n][%d] %s\n", O,
      m->loss == RNN_LOSS_BINARY_CROSSENTROPY ? "the probability of the positive class" : "the class probabilities");
    P(" *     returns 0; -1 (nothing written past the bad sample) if an id is out of range; -2 if work is NULL.\n");
    P(" * No allocation, no file I/O, no global state: calls with their own workspaces may run at once.\n");
    if (o->freestanding)
        P(" * Freestanding: no libc call but memcpy, float only, no threads; e.g. for a Cortex-M4:\n"
          " *   arm-none-eabi-gcc -std=c17 -O2 -mthumb -mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard\n"
          " *   -ffreestanding -c %s.c -I<dir of rnn_fastmath.h, rnn_isa.h, rnn_kernels.h, rnn_lanes.h>\n"
          " * and a workspace of the caller's, e.g. static unsigned char work[%zu] __attribute__((aligned(8))).\n */\n",
          m->name, workspace_bytes(&p, m));
    else
        P(" * Build (headers: rnn_fastmath.h, rnn_isa.h, rnn_kernels.h, rnn_lanes.h):\n"
          " *   for this machine: clang -std=c17 -O3 -march=native -mprefer-vector-width=512 -c %s.c -I<dir>\n"
          " *   for every x86-64: once per level N = 1..4 (rnn_isa.h), the four objects linked together:\n"
          " *   clang -std=c17 -O3 -march=x86-64-v3 -mprefer-vector-width=512 -DRNN_ISA_LEVEL=3 -c %s.c -I<dir> -o %s-3.o\n */\n",
          m->name, m->name, m->name);
    P("#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n\n");
    P("#include \"rnn_fastmath.h\"\n#include \"rnn_isa.h\"\n#include \"rnn_kernels.h\"\n#include \"rnn_lanes.h\"\n\n");
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
