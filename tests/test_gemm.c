/*
 * test_gemm.c — rnn_gemm.h, the lane-summed weight gradients of large layers, against
 * the definition summed in double: acc[r][c] += Σ_t Σ_l a[t + shift][r][l] (· mask[r][l])
 * · d[t][col0 + c][l], over shapes that reach every edge of its tiling (rows not a
 * multiple of the tile's, columns not a multiple of a vector, of a tile or of a panel,
 * fewer steps than a chunk, a shifted term, a masked one, a window of d's columns and
 * of acc's), with acc's other elements left as they were.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rnnrt.h"
#include "rnn_gemm.h"

#define W RNN_W

typedef struct {
    int rows, shift, masked;
} term_shape;

typedef struct {
    int T, d_step, col0, cols, acc_ld, acc_col0;
    int nterms;
    term_shape t[2];
} gemm_case;

static float uniform(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *floats(size_t n, unsigned *seed) {
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++) p[i] = uniform(seed);
    return p;
}

static void run_case(const gemm_case *g) {
    unsigned seed = 12345u + (unsigned)(g->T * 7 + g->cols * 13 + g->t[0].rows);
    float *d = floats((size_t)g->T * (size_t)g->d_step * W, &seed);
    float *a[2], *mask[2], *acc[2], *before[2];
    rnn_wg_term terms[2];
    int total_rows = 0;
    for (int k = 0; k < g->nterms; k++) {
        const term_shape *q = &g->t[k];
        a[k] = floats((size_t)g->T * (size_t)q->rows * W, &seed);
        mask[k] = q->masked ? floats((size_t)q->rows * W, &seed) : NULL;
        acc[k] = floats((size_t)q->rows * (size_t)g->acc_ld, &seed);   /* not zero: the kernel adds */
        before[k] = malloc((size_t)q->rows * (size_t)g->acc_ld * sizeof(float));
        memcpy(before[k], acc[k], (size_t)q->rows * (size_t)g->acc_ld * sizeof(float));
        terms[k] = (rnn_wg_term){acc[k] + g->acc_col0, g->acc_ld, a[k], mask[k], q->rows, q->shift};
        total_rows += q->rows;
    }
    float *dT = floats(RNN_WG_DT_FLOATS, &seed);
    float *sums = floats((size_t)total_rows * RNN_WG_PANEL, &seed);
    rnn_wg_grads(terms, g->nterms, d, g->d_step, g->col0, g->cols, g->T, dT, sums);

    for (int k = 0; k < g->nterms; k++) {
        const term_shape *q = &g->t[k];
        for (int r = 0; r < q->rows; r++)
            for (int c = 0; c < g->acc_ld; c++) {
                const float got = acc[k][(size_t)r * (size_t)g->acc_ld + (size_t)c];
                const float was = before[k][(size_t)r * (size_t)g->acc_ld + (size_t)c];
                int cc = c - g->acc_col0;
                if (cc < 0 || cc >= g->cols) {
                    cr_assert(got == was, "T %d cols %d term %d: acc[%d][%d] outside the window changed", g->T, g->cols, k, r, c);
                    continue;
                }
                double want = was, scale = fabs(was);
                for (int t = 0; t < g->T; t++) {
                    int ta = t + q->shift;
                    if (ta < 0) continue;
                    for (int l = 0; l < W; l++) {
                        double x = a[k][((size_t)ta * (size_t)q->rows + (size_t)r) * W + (size_t)l];
                        if (q->masked) x *= mask[k][(size_t)r * W + (size_t)l];
                        const double term = x * d[((size_t)t * (size_t)g->d_step + (size_t)(g->col0 + cc)) * W + (size_t)l];
                        want += term;
                        scale += fabs(term);
                    }
                }
                cr_assert(fabs(got - want) <= 1e-5 * scale + 1e-30,
                          "T %d cols %d rows %d shift %d masked %d: acc[%d][%d] = %.9g, want %.9g (scale %g)", g->T, g->cols,
                          q->rows, q->shift, q->masked, r, c, got, want, scale);
            }
        free(a[k]);
        free(mask[k]);
        free(acc[k]);
        free(before[k]);
    }
    free(d);
    free(dT);
    free(sums);
}

Test(gemm, lstm_shapes) {
    /* K (x_t) and R (h_{t-1}) from one dz: 4 gates, several panels */
    gemm_case g = {30, 4 * 70, 0, 4 * 70, 4 * 70, 0, 2, {{24, 0, 0}, {70, -1, 0}}};
    run_case(&g);
}

Test(gemm, rows_of_every_remainder) {
    for (int rows = 1; rows <= 13; rows++) {
        gemm_case g = {9, 64, 0, 64, 64, 0, 1, {{rows, 0, 0}}};
        run_case(&g);
    }
}

Test(gemm, columns_of_every_edge) {
    const int cols[] = {1, 15, 16, 17, 63, 64, 65, 255, 256, 257, 300, 513};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        gemm_case g = {10, cols[i], 0, cols[i], cols[i], 0, 1, {{7, -1, 0}}};
        run_case(&g);
    }
}

Test(gemm, steps_fewer_than_a_chunk_and_not_a_multiple) {
    const int T[] = {1, 2, 3, 8, 9, 17};
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        gemm_case g = {T[i], 40, 0, 40, 40, 0, 2, {{6, 0, 0}, {5, -1, 0}}};
        run_case(&g);
    }
}

Test(gemm, masked_rows) {
    gemm_case g = {12, 96, 0, 96, 96, 0, 1, {{20, -1, 1}}};
    run_case(&g);
}

Test(gemm, windows_of_d_and_acc) {
    /* a GRU without reset_after: R's z | r columns from dz, its h columns from another term */
    gemm_case zr = {11, 3 * 37, 0, 2 * 37, 3 * 37, 0, 1, {{37, -1, 0}}};
    run_case(&zr);
    gemm_case hh = {11, 3 * 37, 2 * 37, 37, 3 * 37, 2 * 37, 1, {{37, 0, 1}}};
    run_case(&hh);
}
