/*
 * lanes_cases.h — the cases of test_lanes.c, compiled both into the test and into the
 * program it builds with each compiler and target. Include rnn_lanes.h first.
 *
 * A table of 40 rows of 37 floats; for every width n in 1..16 and column offset in
 * {0, 3, 21}, 16 row choices in which rows repeat (the same token in several samples).
 * The gather must equal the scalar transpose; the scatter adds into a table that
 * already holds values, so the order of the additions to a repeated row shows.
 * lanes_run_cases() returns the number of the 96 cases that differ, bit for bit;
 * lanes_run_philox_cases() checks rnn_lanes_philox16 (below).
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

/* Philox4x32-10 written out plainly (Salmon et al., SC'11), for rnn_lanes_philox16. */
static void lanes_ref_philox(uint32_t c[4], uint32_t k0, uint32_t k1) {
    for (int r = 0; r < 10; r++) {
        const uint64_t p0 = (uint64_t)0xD2511F53u * c[0], p1 = (uint64_t)0xCD9E8D57u * c[2];
        const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c[1] ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c[3] ^ k1;
        c[0] = n0;
        c[1] = (uint32_t)p1;
        c[2] = n2;
        c[3] = (uint32_t)p0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
}

/* rnn_lanes_philox16 against the known-answer vectors of Random123 (in lanes 0, 7 and
 * 15 of different blocks) and against lanes_ref_philox on 40 x 64 random counters.
 * Returns the number of lanes that differ. */
static int lanes_run_philox_cases(void) {
    static const uint32_t kat[3][7] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5u},
        {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du},
        {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u},
    };
    static const uint32_t kat_out[3][4] = {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
                                           {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu},
                                           {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}};
    int bad = 0;
    uint32_t x[4][4][16];
    for (int k = 0; k < 3; k++) {
        memset(x, 0, sizeof x);
        for (int b = 0; b < 4; b++)
            for (int w = 0; w < 4; w++)
                for (int l = 0; l < 16; l++) x[b][w][l] = kat[k][w];
        rnn_lanes_philox16(x, kat[k][4], kat[k][5]);
        for (int b = 0; b < 4; b++)
            for (int l = 0; l < 16; l += 7)
                for (int w = 0; w < 4; w++) bad += x[b][w][l] != kat_out[k][w];
    }
    for (int rep = 0; rep < 40; rep++) {
        uint32_t want[4][4][16];
        const uint32_t k0 = (uint32_t)(lanes_next() * 4096.0f) * 2654435761u, k1 = (uint32_t)rep * 40503u;
        for (int b = 0; b < 4; b++)
            for (int w = 0; w < 4; w++)
                for (int l = 0; l < 16; l++) {
                    lanes_state = lanes_state * 1664525u + 1013904223u;
                    x[b][w][l] = want[b][w][l] = lanes_state;
                }
        rnn_lanes_philox16(x, k0, k1);
        for (int b = 0; b < 4; b++)
            for (int l = 0; l < 16; l++) {
                uint32_t c[4] = {want[b][0][l], want[b][1][l], want[b][2][l], want[b][3][l]};
                lanes_ref_philox(c, k0, k1);
                for (int w = 0; w < 4; w++) bad += x[b][w][l] != c[w];
            }
    }
    return bad;
}

#endif /* LANES_CASES_H */
