/*
 * classify.c — a program that embeds the predictor of examples/sentiment.lua: one line of
 * token ids in (space-separated, at most 100, padded 'pre' with 0 like Keras's
 * pad_sequences), one probability of the positive class out, per line.
 *   printf '1 14 22 9 6\n' | ./classify
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEPS 100

/* the predictor's API (its generated file's header comment) */
size_t sentiment_predict_workspace(void);
int sentiment_predict(void *work, const int32_t *tokens, int n, float *out);

int main(void) {
    void *work = aligned_alloc(64, (sentiment_predict_workspace() + 63) / 64 * 64);
    if (!work) return 1;
    char line[4096];
    int status = 0;
    while (fgets(line, sizeof line, stdin)) {
        int32_t read[STEPS], tokens[STEPS] = {0};
        int n = 0;
        for (char *p = strtok(line, " \t\n"); p && n < STEPS; p = strtok(NULL, " \t\n")) read[n++] = (int32_t)atoi(p);
        memcpy(tokens + (STEPS - n), read, (size_t)n * sizeof *read);
        float prob;
        if (sentiment_predict(work, tokens, 1, &prob) != 0) {
            fprintf(stderr, "classify: a token id is outside the vocabulary\n");
            status = 1;
            continue;
        }
        printf("%.6f\n", (double)prob);
    }
    free(work);
    return status;
}
