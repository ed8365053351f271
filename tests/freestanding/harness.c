/*
 * harness.c — runs a generated predictor on fixed inputs and prints its outputs, one
 * float per line as its bits in hex (exact, no double): built for the host and for the
 * Cortex-M4 (tests/freestanding.sh), the two must print the same lines.
 *   -DMODEL=NAME -DSTEPS=<input_length> -DVOCAB=<vocab> -DOUTS=<outputs> -DWORK=<workspace bytes>
 * The tokens come from a fixed LCG; the samples are 20 (a full block of 16 and a partial one).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define PREDICT CAT(MODEL, _predict)
#define SAMPLES 20

int PREDICT(void *work, const int32_t *tokens, int n, float *out);

static int32_t tokens[SAMPLES * STEPS];
static unsigned char work[WORK] __attribute__((aligned(64)));
static float out[SAMPLES * OUTS];

int main(void) {
    uint32_t x = 2463534242u;
    for (int i = 0; i < SAMPLES * STEPS; i++) {
        x = x * 1664525u + 1013904223u;
        tokens[i] = (int32_t)((x >> 8) % (uint32_t)VOCAB);
    }
    int rc = PREDICT(work, tokens, SAMPLES, out);
    printf("rc %d\n", rc);
    for (int i = 0; i < SAMPLES * OUTS; i++) {
        uint32_t bits;
        memcpy(&bits, &out[i], sizeof bits);
        printf("%08lx\n", (unsigned long)bits);
    }
    return rc;
}
