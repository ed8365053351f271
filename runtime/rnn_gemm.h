/*
 * rnn_gemm.h — the weight gradients of large layers in generated code: a recurrent
 * layer's K and R gradients summed over the steps AND the lanes of a block, as one
 * matrix product each. Header-only (inlined with the generated file's constants), no
 * link dependency; needs rnn_kernels.h.
 *
 * The gradient of a weight matrix is acc[r][c] += Σ_t Σ_l a[t][r][l] · d[t][c][l]:
 * a [T][A][W] the layer's input side (x_t, or h_{t-1}), d [T][C][W] the gradient of the
 * pre-activations. Summed per lane over the steps and then over the lanes (what small
 * layers do), its partial sums would need W copies of every weight. Here the pairs
 * k = (t, l) are the inner dimension of a matrix product instead: d is transposed, a
 * chunk of steps at a time, to dT [steps][W][C] (rnn_wg_transpose), so that
 * dT[k][c .. c + 15] is one vector, and a tile of MR rows by NR vectors of columns
 * keeps its MR x NR sums in registers over the chunk's k while a[t][r][l] is broadcast
 * (rnn_wg_product). Each sum is acc + the terms in (t, l) order, chunk after chunk.
 */
#ifndef RNN_GEMM_H
#define RNN_GEMM_H

#include "rnn_kernels.h"

#include <stddef.h>

#define RNN_GEMM_INLINE static inline __attribute__((always_inline))

/* Steps per chunk: a chunk's dT (steps x W x C floats) stays in L2 beside a's chunk. */
#define RNN_WG_STEPS 8
/* Tile: MR rows by NR vectors (NR * W columns) of sums, 24 of the 32 AVX-512 registers;
 * per k, NR loads and MR broadcasts for MR x NR multiply-adds. */
#define RNN_WG_MR 6
#define RNN_WG_NR 4

/* The transposed d of a chunk of steps, tile by tile: the columns in tiles of
 * RNN_WG_NR * W, each tile's k = s * W + l rows contiguous (steps * W rows of NR vectors),
 * so that a product streams through one tile's rows. */
#define RNN_WG_TILE (RNN_WG_NR * RNN_W)

/* dT[tile c / TILE][s * W + l][c % TILE] = d[(s * d_step + c) * W + l] for s < steps,
 * c < cols, l < W; columns from cols to the end of the last vector are zeroed (the
 * products read whole vectors). */
RNN_GEMM_INLINE void rnn_wg_transpose(rnn_real *restrict dT, const rnn_real *restrict d, int d_step, int steps, int cols) {
    const int K = steps * RNN_W, full = cols / RNN_W * RNN_W, padded = (cols + RNN_W - 1) / RNN_W * RNN_W;
    for (int s = 0; s < steps; s++) {
        const rnn_real *ds = d + (size_t)s * (size_t)d_step * RNN_W;
        for (int c0 = 0; c0 < padded; c0 += RNN_W) {   /* a W x W block: rows c, columns l */
            rnn_real *o = dT + (size_t)(c0 / RNN_WG_TILE) * (size_t)K * RNN_WG_TILE + (size_t)s * RNN_W * RNN_WG_TILE +
                          (size_t)(c0 % RNN_WG_TILE);
            if (c0 < full) {
                rnn_vec v[RNN_W];
                for (int c = 0; c < RNN_W; c++) v[c] = RNN_V(ds + (size_t)(c0 + c) * RNN_W);
                for (int l = 0; l < RNN_W; l++) {
                    rnn_vec t;
                    for (int c = 0; c < RNN_W; c++) t[c] = v[c][l];
                    RNN_V(o + (size_t)l * RNN_WG_TILE) = t;
                }
            } else {
                for (int l = 0; l < RNN_W; l++)
                    for (int c = 0; c < RNN_W; c++)
                        o[(size_t)l * RNN_WG_TILE + c] = c0 + c < cols ? ds[(size_t)(c0 + c) * RNN_W + l] : 0.0f;
            }
        }
    }
}

/* One tile: acc[i][c] (rows i < mr, row stride ld, columns c < nv * W, of which the
 * first ncols are stored) += Σ_s Σ_l a[s * a_step + i * W + l] (· mask[i * W + l]) ·
 * dT[(s * W + l) * RNN_WG_TILE + c]. */
RNN_GEMM_INLINE void rnn_wg_tile(rnn_real *restrict acc, int ld, const rnn_real *restrict a, const rnn_real *restrict mask,
                                 int a_step, const rnn_real *restrict dT, int steps, int mr, int nv, int ncols) {
    rnn_vec s[RNN_WG_MR][RNN_WG_NR];
    const int whole = ncols == nv * RNN_W;
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nv; j++) {
            if (whole) {
                s[i][j] = RNN_V(acc + (size_t)i * (size_t)ld + (size_t)j * RNN_W);
                continue;
            }
            for (int c = 0; c < RNN_W; c++) {
                const int cc = j * RNN_W + c;
                s[i][j][c] = cc < ncols ? acc[(size_t)i * (size_t)ld + (size_t)cc] : 0.0f;
            }
        }
    for (int t = 0; t < steps; t++) {
        const rnn_real *at = a + (size_t)t * (size_t)a_step;
        const rnn_real *bt = dT + (size_t)t * RNN_W * RNN_WG_TILE;
        for (int l = 0; l < RNN_W; l++) {
            rnn_vec b[RNN_WG_NR];
            for (int j = 0; j < nv; j++) b[j] = RNN_V(bt + (size_t)l * RNN_WG_TILE + (size_t)j * RNN_W);
            for (int i = 0; i < mr; i++) {
                const rnn_real x = mask ? at[i * RNN_W + l] * mask[i * RNN_W + l] : at[i * RNN_W + l];
                for (int j = 0; j < nv; j++) s[i][j] += b[j] * x;
            }
        }
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nv; j++) {
            if (whole) {
                RNN_V(acc + (size_t)i * (size_t)ld + (size_t)j * RNN_W) = s[i][j];
                continue;
            }
            for (int c = 0; c < RNN_W; c++) {
                const int cc = j * RNN_W + c;
                if (cc < ncols) acc[(size_t)i * (size_t)ld + (size_t)cc] = s[i][j][c];
            }
        }
}

/* acc[r * ld + c] += Σ_{s < steps} Σ_l a[s * a_step + r * W + l] (· mask[r * W + l]) ·
 * d_s[c][l] for r < rows, c < cols: a chunk of steps, a's rows of those steps against
 * their d transposed by rnn_wg_transpose (tile_stride floats from one tile to the next). Column tiles outside, so that a tile's dT
 * (steps x W rows of NR vectors) stays in L1 while the row tiles pass over it. */
RNN_GEMM_INLINE void rnn_wg_product(rnn_real *restrict acc, int ld, const rnn_real *restrict a, const rnn_real *restrict mask,
                                    int rows, int a_step, const rnn_real *restrict dT, size_t tile_stride, int steps,
                                    int cols) {
    const int tile = RNN_WG_TILE;
    const int rfull = rows / RNN_WG_MR * RNN_WG_MR;
    for (int c0 = 0; c0 < cols; c0 += tile) {
        const int nc = cols - c0 < tile ? cols - c0 : tile, nv = (nc + RNN_W - 1) / RNN_W;
        const rnn_real *dt = dT + (size_t)(c0 / tile) * tile_stride;
        for (int r0 = 0; r0 < rfull; r0 += RNN_WG_MR) {
            rnn_real *ac = acc + (size_t)r0 * (size_t)ld + (size_t)c0;
            const rnn_real *ar = a + (size_t)r0 * RNN_W, *mr = mask ? mask + (size_t)r0 * RNN_W : NULL;
            if (nc == tile) rnn_wg_tile(ac, ld, ar, mr, a_step, dt, steps, RNN_WG_MR, RNN_WG_NR, tile);
            else rnn_wg_tile(ac, ld, ar, mr, a_step, dt, steps, RNN_WG_MR, nv, nc);
        }
        rnn_real *ac = acc + (size_t)rfull * (size_t)ld + (size_t)c0;
        const rnn_real *ar = a + (size_t)rfull * RNN_W, *mr = mask ? mask + (size_t)rfull * RNN_W : NULL;
        switch (rows - rfull) {   /* the last rows: each count its own constant */
        case 5: rnn_wg_tile(ac, ld, ar, mr, a_step, dt, steps, 5, nv, nc); break;
        case 4: rnn_wg_tile(ac, ld, ar, mr, a_step, dt, steps, 4, nv, nc); break;
        case 3: rnn_wg_tile(ac, ld, ar, mr, a_step, dt, steps, 3, nv, nc); break;
        case 2: rnn_wg_tile(ac, ld, ar, mr, a_step, dt, steps, 2, nv, nc); break;
        case 1: rnn_wg_tile(ac, ld, ar, mr, a_step, dt, steps, 1, nv, nc); break;
        default: break;
        }
    }
}

/* One weight gradient of rnn_wg_grads: acc[r * ld + c] += Σ_t Σ_l a[t + shift][r][l]
 * (· mask[r][l], constant over the steps) · d[t][c][l], a [T][rows][W], over the t with
 * 0 <= t + shift < T; shift 0, -1 (h_{t-1} with d_t: step 0 adds nothing) or +1 (a
 * direction that reads from the last step: h_{t+1} with d_t, step T - 1 adds nothing). */
typedef struct {
    rnn_real *acc;
    int ld;
    const rnn_real *a, *mask;
    int rows, shift;
} rnn_wg_term;

/* The terms' gradients from the window [col0, col0 + cols) of d [T][d_step][W], in
 * panels of RNN_WG_PANEL columns. A panel's sums stay in L2 over all the steps, copied
 * into sums ([Σ rows][RNN_WG_PANEL] floats, the caller's scratch: rows of the weight
 * matrices are 4 KiB apart or more, and so many of them at one such stride do not stay in
 * the cache together); each chunk of RNN_WG_STEPS steps of the panel's d is transposed
 * into dT (RNN_WG_DT_FLOATS, the caller's) and shared by the terms. */
#define RNN_WG_PANEL (4 * RNN_WG_TILE)
#define RNN_WG_DT_FLOATS (RNN_WG_STEPS * RNN_W * RNN_WG_PANEL)
/* rnn_wg_grads (below) with the terms' a read a_step floats apart from one step to the
 * next (0: each term's rows * W, its steps one after another): a convolution's windows
 * overlap, and a tap reads every stride-th input step. */
RNN_GEMM_INLINE void rnn_wg_grads_strided(const rnn_wg_term *terms, int nterms, int a_step, const rnn_real *restrict d,
                                          int d_step, int col0, int cols, int T, rnn_real *restrict dT,
                                          rnn_real *restrict sums) {
    for (int p0 = 0; p0 < cols; p0 += RNN_WG_PANEL) {
        const int np = cols - p0 < RNN_WG_PANEL ? cols - p0 : RNN_WG_PANEL;
        rnn_real *ps = sums;
        for (int k = 0; k < nterms; k++)   /* the panel's sums in */
            for (int r = 0; r < terms[k].rows; r++, ps += RNN_WG_PANEL)
                for (int c = 0; c < np; c++) ps[c] = terms[k].acc[(size_t)r * (size_t)terms[k].ld + (size_t)(p0 + c)];
        for (int t0 = 0; t0 < T; t0 += RNN_WG_STEPS) {
            const int n = T - t0 < RNN_WG_STEPS ? T - t0 : RNN_WG_STEPS;
            rnn_wg_transpose(dT, d + ((size_t)t0 * (size_t)d_step + (size_t)(col0 + p0)) * RNN_W, d_step, n, np);
            ps = sums;
            for (int k = 0; k < nterms; k++) {
                const rnn_wg_term *q = &terms[k];
                const int step = a_step ? a_step : q->rows * RNN_W;
                const int skip = t0 + q->shift < 0;      /* step 0 of a term shifted back */
                const int cut = t0 + n + q->shift > T;   /* step T - 1 of a term shifted forward */
                if (n - skip - cut > 0)
                    rnn_wg_product(ps, RNN_WG_PANEL, q->a + (size_t)(t0 + q->shift + skip) * (size_t)step, q->mask, q->rows,
                                   step, dT + (size_t)skip * RNN_W * RNN_WG_TILE, (size_t)n * RNN_W * RNN_WG_TILE,
                                   n - skip - cut, np);
                ps += (size_t)q->rows * RNN_WG_PANEL;
            }
        }
        ps = sums;
        for (int k = 0; k < nterms; k++)   /* and out */
            for (int r = 0; r < terms[k].rows; r++, ps += RNN_WG_PANEL)
                for (int c = 0; c < np; c++) terms[k].acc[(size_t)r * (size_t)terms[k].ld + (size_t)(p0 + c)] = ps[c];
    }
}

/* Each term's a holds its steps one after another ([T][rows][W]). */
RNN_GEMM_INLINE void rnn_wg_grads(const rnn_wg_term *terms, int nterms, const rnn_real *restrict d, int d_step, int col0,
                                  int cols, int T, rnn_real *restrict dT, rnn_real *restrict sums) {
    rnn_wg_grads_strided(terms, nterms, 0, d, d_step, col0, cols, T, dT, sums);
}

#endif
