/*
 * fuzz_npy.c — rnn_npy_read_x and rnn_npy_read_y on arbitrary files.
 *
 * Input: one configuration byte, then the file. The byte's low nibble + 1 is the
 * model's timesteps T for x and the number of rows the labels must have for y; bit 4
 * picks the loss (binary or sparse categorical); bits 5-7 + 1 are the classes. So a
 * seed can be a valid x or y file for some configuration and the fuzzer reaches the
 * element checks, not only the header parser. Loaded data is checked against the
 * contract of data.h (every id in [0, vocab), every label valid for the loss).
 */
#include "fuzz_util.h"
#include "data/data.h"

#include <math.h>

#define VOCAB 1000

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int param = (data[0] & 15) + 1;
    rnn_loss_kind loss = (data[0] & 16) ? RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY : RNN_LOSS_BINARY_CROSSENTROPY;
    int n_classes = ((data[0] >> 5) & 7) + 1;
    const char *path = fuzz_write_tmp(data + 1, size - 1);
    char err[512];

    rnn_data d;
    if (rnn_npy_read_x(path, param, VOCAB, &d, err, sizeof err) == 0) {
        FUZZ_CHECK(d.n >= 1 && d.T == param && d.x && !d.y);
        for (size_t k = 0; k < d.n * (size_t)d.T; k++) FUZZ_CHECK(d.x[k] >= 0 && d.x[k] < VOCAB);
        rnn_data_free(&d);
    } else {
        fuzz_check_err(err, sizeof err);
        FUZZ_CHECK(d.n == 0 && !d.x && !d.y);
    }

    /* y for param rows of token ids (the ids themselves do not matter to read_y) */
    memset(&d, 0, sizeof d);
    d.n = (size_t)param;
    d.T = 1;
    d.x = calloc(d.n, sizeof *d.x);
    FUZZ_CHECK(d.x != NULL);
    if (rnn_npy_read_y(path, loss, n_classes, &d, err, sizeof err) == 0) {
        FUZZ_CHECK(d.y != NULL);
        for (size_t k = 0; k < d.n; k++) {
            float y = d.y[k];
            if (loss == RNN_LOSS_BINARY_CROSSENTROPY)
                FUZZ_CHECK(y >= 0.0f && y <= 1.0f);
            else
                FUZZ_CHECK(y >= 0.0f && y < (float)n_classes && y == floorf(y));
        }
    } else {
        fuzz_check_err(err, sizeof err);
        FUZZ_CHECK(d.y == NULL && d.x != NULL);
    }
    rnn_data_free(&d);
    return 0;
}
