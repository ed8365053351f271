/*
 * conv_kernels.c — products over all the steps of a block (gen.h, kir_conv): a
 * convolution's forward and its input gradient as loops over register tiles, and its
 * kernel gradient as rnn_gemm.h's lane-summed product. Conv1D prints them, and Dense on
 * a sequence (k = 1) or on a large vector (T = 1).
 *
 * A tile holds TILE_T steps by TILE_C columns of sums in vector registers (24 of the 32
 * AVX-512 ones, with the TILE_T operand vectors) while it runs down the reduced
 * dimension: each lane vector feeds TILE_C multiply-adds and each broadcast weight
 * TILE_T. The steps and columns left over get tiles of their own constant sizes.
 */
#include "gen.h"

#include <stdio.h>

#define TILE_T 4
#define TILE_C 6

/* The sums s<a><b> of an nt x nc tile, declared. */
static void print_sums(emitter *e, int nt, int nc) {
    P("    rnn_vec");
    for (int a = 0; a < nt; a++)
        for (int b = 0; b < nc; b++) P("%s s%d%d", a + b ? "," : "", a, b);
    P(";\n");
}

/* ---- forward -------------------------------------------------------------------------- */

/* name_tNxM(y, x, K, B, t0, o0): the outputs y[t0 .. t0 + nt)[o0 .. o0 + nc). */
static void print_forward_tile(emitter *e, const char *name, const kir_conv *c, int bias, rnn_activation act, int nt,
                               int nc) {
    const int C = c->C, O = c->O, S = c->stride, D = c->dilation;
    P("static void %s_t%dx%d(rnn_real *restrict y, const rnn_real *restrict x, const rnn_real *restrict K,\n", name, nt, nc);
    P("        const rnn_real *restrict B, int t0, int o0) {\n");
    print_sums(e, nt, nc);
    for (int b = 0; b < nc; b++) {
        if (bias) P("    s0%d = RNN_SPLAT(B[o0 + %d]);\n", b, b);
        else P("    s0%d = (rnn_vec){0};\n", b);
        for (int a = 1; a < nt; a++) P("    s%d%d = s0%d;\n", a, b, b);
    }
    if (!bias) P("    (void)B;\n");
    /* with dilation 1 a step's window is k * C consecutive input rows: one loop over them */
    const int rows = D == 1 ? c->k * C : C;
    const char *ind = D == 1 ? "    " : "        ";
    if (D == 1) {
        P("    {\n        const rnn_real *xr = x + (size_t)t0 * %d * W, *kr = K + o0;\n", S * C);
    } else {
        P("    for (int j = 0; j < %d; j++) {\n", c->k);
        P("        const rnn_real *xr = x + ((size_t)t0 * %d + (size_t)j * %d) * W, *kr = K + (size_t)j * %d + o0;\n", S * C, D * C,
          C * O);
    }
    P("%s    for (int r = 0; r < %d; r++, xr += W, kr += %d) {\n", ind, rows, O);
    for (int a = 0; a < nt; a++) P("%s        const rnn_vec x%d = V(xr + %d * W);\n", ind, a, a * S * C);
    for (int b = 0; b < nc; b++)
        for (int a = 0; a < nt; a++) P("%s        s%d%d += x%d * kr[%d];\n", ind, a, b, a, b);
    P("%s    }\n    }\n", ind);
    const int relu = act == RNN_ACT_RELU;
    for (int a = 0; a < nt; a++)
        for (int b = 0; b < nc; b++)
            P("    V(y + ((size_t)(t0 + %d) * %d + (size_t)(o0 + %d)) * W) = %ss%d%d%s;\n", a, O, b, relu ? "RNN_RELU_V(" : "", a,
              b, relu ? ")" : "");
    P("}\n\n");
}

/* The loops over the tiles: the whole ones, then those of the steps and columns left. */
static void print_tile_loops(emitter *e, const char *name, int T, int N, const char *args, const char *ind) {
    const int Tm = T / TILE_T * TILE_T, Nm = N / TILE_C * TILE_C, Tr = T - Tm, Nr = N - Nm;
    if (Tm) {
        P("%sfor (int t0 = 0; t0 < %d; t0 += %d) {\n", ind, Tm, TILE_T);
        if (Nm) P("%s    for (int c0 = 0; c0 < %d; c0 += %d) %s_t%dx%d(%s, t0, c0);\n", ind, Nm, TILE_C, name, TILE_T, TILE_C, args);
        if (Nr) P("%s    %s_t%dx%d(%s, t0, %d);\n", ind, name, TILE_T, Nr, args, Nm);
        P("%s}\n", ind);
    }
    if (Tr) {
        if (Nm) P("%sfor (int c0 = 0; c0 < %d; c0 += %d) %s_t%dx%d(%s, %d, c0);\n", ind, Nm, TILE_C, name, Tr, TILE_C, args, Tm);
        if (Nr) P("%s%s_t%dx%d(%s, %d, %d);\n", ind, name, Tr, Nr, args, Tm, Nm);
    }
}

/* The tile sizes a loop over T steps and N columns uses, into nt[] and nc[]; how many. */
static int tile_sizes(int T, int N, int *nt, int *nc) {
    const int ts[2] = {T >= TILE_T ? TILE_T : 0, T % TILE_T}, cs[2] = {N >= TILE_C ? TILE_C : 0, N % TILE_C};
    int n = 0;
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
            if (ts[a] && cs[b]) nt[n] = ts[a], nc[n++] = cs[b];
    return n;
}

void kir_conv_forward_function(emitter *e, const char *name, const kir_conv *c, int bias, rnn_activation act) {
    GEN_ASSERT(act == RNN_ACT_LINEAR || act == RNN_ACT_RELU, "activation %d in a convolution's tiles", (int)act);
    GEN_ASSERT(c->T > 0 && c->C > 0 && c->O > 0 && c->k > 0 && c->stride > 0 && c->dilation > 0, "bad convolution %s", name);
    GEN_ASSERT((long)(c->T - 1) * c->stride + (long)(c->k - 1) * c->dilation < c->in_steps, "%s reads past its input", name);
    int nt[4], nc[4], n = tile_sizes(c->T, c->O, nt, nc);
    for (int i = 0; i < n; i++) print_forward_tile(e, name, c, bias, act, nt[i], nc[i]);
    P("/* y[t][o] = %s(%s Σ_j Σ_c x[t * %d + j * %d][c] K[j * %d + c][o]): (%d, %d) -> (%d, %d), %d taps */\n",
      act == RNN_ACT_RELU ? "relu" : "", bias ? "B[o] +" : "", c->stride, c->dilation, c->C, c->in_steps, c->C, c->T, c->O, c->k);
    P("static void %s(rnn_real *restrict y, const rnn_real *restrict x, const rnn_real *restrict K,\n", name);
    P("        const rnn_real *restrict B) {\n");
    print_tile_loops(e, name, c->T, c->O, "y, x, K, B", "    ");
    P("}\n\n");
}

/* ---- the input's gradient ----------------------------------------------------------------- */

/* 1: every input step is read by exactly one tap of one output step, so each dx is
 * written once (dense on a sequence); else the taps' parts are added into a zeroed dx. */
static int direct(const kir_conv *c) { return c->k == 1 && c->stride == 1 && c->in_steps == c->T; }

/* name_tNxM(dx, dz, K, j, t0, c0): tap j's part of dx from dz[t0 .. t0 + nt), channels
 * c0 .. c0 + nc: Σ_o dz[t][o] K[j * C + c][o] into dx[t * stride + j * dilation][c]. */
static void print_grad_tile(emitter *e, const char *name, const kir_conv *c, int nt, int nc) {
    const int C = c->C, O = c->O, S = c->stride, D = c->dilation;
    P("static void %s_t%dx%d(rnn_real *restrict dx, const rnn_real *restrict dz, const rnn_real *restrict K, int j, int t0,\n",
      name, nt, nc);
    P("        int c0) {\n");
    print_sums(e, nt, nc);
    for (int a = 0; a < nt; a++)
        for (int b = 0; b < nc; b++) P("    s%d%d = (rnn_vec){0};\n", a, b);
    P("    const rnn_real *dr = dz + (size_t)t0 * %d * W, *kr = K + ((size_t)j * %d + (size_t)c0) * %d;\n", O, C, O);
    P("    for (int o = 0; o < %d; o++) {\n", O);
    for (int a = 0; a < nt; a++) P("        const rnn_vec d%d = V(dr + (%d + o) * W);\n", a, a * O);
    for (int b = 0; b < nc; b++)
        for (int a = 0; a < nt; a++) P("        s%d%d += d%d * kr[%d + o];\n", a, b, a, b * O);
    P("    }\n");
    P("    rnn_real *xr = dx + (((size_t)t0 * %d + (size_t)j * %d) * %d + (size_t)c0) * W;\n", S, D, C);
    for (int a = 0; a < nt; a++)
        for (int b = 0; b < nc; b++) P("    V(xr + %d * W) %s= s%d%d;\n", a * S * C + b, direct(c) ? "" : "+", a, b);
    P("}\n\n");
}

void kir_conv_input_grad_function(emitter *e, const char *name, const kir_conv *c) {
    int nt[4], nc[4], n = tile_sizes(c->T, c->C, nt, nc);
    for (int i = 0; i < n; i++) print_grad_tile(e, name, c, nt[i], nc[i]);
    P("/* dx[u][c] = Σ over the taps j of the steps t that read u (u = t * %d + j * %d) of Σ_o dz[t][o] K[j * %d + c][o] */\n",
      c->stride, c->dilation, c->C);
    P("static void %s(rnn_real *restrict dx, const rnn_real *restrict dz, const rnn_real *restrict K) {\n", name);
    if (!direct(c)) P("    rnn_lanes_zero(dx, (size_t)%d * W);\n", c->in_steps * c->C);
    if (c->k > 1) P("    for (int j = 0; j < %d; j++) {\n", c->k);
    else P("    {\n        const int j = 0;\n");
    print_tile_loops(e, name, c->T, c->C, "dx, dz, K, j", "        ");
    P("    }\n}\n\n");
}

/* ---- the kernel's gradient ------------------------------------------------------------------ */

size_t kir_conv_grad_sums(const kir_conv *c) { return (size_t)c->k * (size_t)c->C * WG_PANEL; }

void kir_conv_kernel_grad(emitter *e, const kir_conv *c, const char *acc, const char *x, const char *dz, const char *dT,
                          const char *sums, const char *ind) {
    const int C = c->C, O = c->O, D = c->dilation;
    P("%s{ /* K [%d, %d] += Σ_t Σ_l (the window of step t)ᵀ dz[t]: one product over the steps and lanes */\n", ind, c->k * C, O);
    P("%s    const rnn_wg_term terms[] = {", ind);
    if (D == 1) {   /* the k taps' rows of a window are consecutive: one term */
        P("{.acc = %s, .ld = %d, .a = %s, .mask = NULL, .rows = %d, .shift = 0}", acc, O, x, c->k * C);
    } else {
        for (int j = 0; j < c->k; j++)
            P("%s\n%s        {.acc = %s + %d, .ld = %d, .a = %s + (size_t)%d * W, .mask = NULL, .rows = %d, .shift = 0}",
              j ? "," : "", ind, acc, j * C * O, O, x, j * D * C, C);
    }
    P("};\n");
    P("%s    rnn_wg_grads_strided(terms, %d, %d * W, %s, %d, 0, %d, %d, %s, %s);\n%s}\n", ind, D == 1 ? 1 : c->k, c->stride * C, dz,
      O, O, c->T, dT, sums, ind);
}
