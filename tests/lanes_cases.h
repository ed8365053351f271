/*
 * lanes_cases.h — the cases of test_lanes.c, compiled both into the test and into the
 * program it builds with each compiler and target. Include rnn_lanes.h first.
 *
 * A table of 40 rows of 37 floats; for every width n in 1..16 and column offset in
 * {0, 3, 21}, 16 row choices in which rows repeat (the same token in several samples).
 * The gather must equal the scalar transpose; the scatter adds into a table that
 * already holds values, so the order of the additions to a repeated row shows.
 * lanes_run_cases() returns the number of the 96 cases that differ, bit for bit.
 */
#ifndef LANES_CASES_H
#define LANES_CASES_H

#include <stdint.h>
#include <string.h>

static uint32_t lanes_state = 12345u;

static float lanes_next(void) {
    lanes_state = lanes_state * 1664525u + 1013904223u;
    return (float)(int32_t)(lanes_state >> 8) * 0x1p-20f;
}

static int lanes_run_cases(void) {
    static float table[40 * 37], t1[40 * 37], t2[40 * 37], vec[16 * 16], want[16 * 16];
    static const int cols[3] = {0, 3, 21};
    int bad = 0;
    for (int n = 1; n <= 16; n++)
        for (int c = 0; c < 3; c++) {
            const int col = cols[c];
            for (int i = 0; i < 40 * 37; i++) table[i] = t1[i] = t2[i] = lanes_next();
            const float *src[16];
            float *d1[16], *d2[16];
            for (int l = 0; l < 16; l++) {
                const int row = (int)(lanes_next() * 8.0f + 8.0f) % 6 + (l % 5) * 7;
                src[l] = table + row * 37;
                d1[l] = t1 + row * 37;
                d2[l] = t2 + row * 37;
            }
            for (int i = 0; i < 16 * 16; i++) vec[i] = want[i] = -1.0f;
            for (int k = 0; k < n; k++)
                for (int l = 0; l < 16; l++) want[k * 16 + l] = src[l][col + k];
            rnn_lanes_gather16(vec, src, col, n);
            bad += memcmp(vec, want, sizeof vec) != 0;
            for (int i = 0; i < 16 * 16; i++) vec[i] = lanes_next();
            for (int l = 0; l < 16; l++)
                for (int k = 0; k < n; k++) d1[l][col + k] += vec[k * 16 + l];
            rnn_lanes_scatter_add16(d2, col, vec, n);
            bad += memcmp(t1, t2, sizeof t1) != 0;
        }
    return bad;
}

#endif /* LANES_CASES_H */
