/*
 * fuzz_text.c — raw text: rnn_text_read on the input as a TSV file, the vocabulary
 * built from it (two sizes), its serialize/parse round trip (must be the identity:
 * same string, same ids for every text), encoding and rnn_text_to_data. The input is
 * also parsed directly as a serialized vocabulary: when that succeeds, serializing
 * must give the input back (less the one trailing newline the parser tolerates).
 */
#include "fuzz_util.h"
#include "data/data.h"

#define T_MAX 12

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    return 0;
}

static void round_trip(const rnn_text_set *s, int vocab) {
    rnn_vocab *v = rnn_vocab_build(s, vocab);
    FUZZ_CHECK(v != NULL);
    char *ser = rnn_vocab_serialize(v);
    FUZZ_CHECK(ser != NULL);
    char err[512];
    rnn_vocab *v2 = rnn_vocab_parse(ser, vocab, err, sizeof err);
    if (!v2) fprintf(stderr, "round trip: %s\n", err);
    FUZZ_CHECK(v2 != NULL);
    char *ser2 = rnn_vocab_serialize(v2);
    FUZZ_CHECK(ser2 != NULL);
    FUZZ_CHECK(strcmp(ser, ser2) == 0);

    int32_t a[T_MAX], b[T_MAX];
    for (size_t i = 0; i < s->n; i++) {
        int T = 1 + (int)(i % T_MAX);
        rnn_text_encode(v, s->texts[i], T, a);
        rnn_text_encode(v2, s->texts[i], T, b);
        FUZZ_CHECK(memcmp(a, b, (size_t)T * sizeof *a) == 0);
        for (int t = 0; t < T; t++) FUZZ_CHECK(a[t] >= 0 && a[t] < (vocab > 3 ? vocab : 3));
    }
    rnn_data d;
    if (rnn_text_to_data(v, s, 5, RNN_LOSS_BINARY_CROSSENTROPY, 0, &d, err, sizeof err) == 0) {
        FUZZ_CHECK(d.n == s->n && d.T == 5 && d.x && d.y);
        rnn_data_free(&d);
    } else {
        fuzz_check_err(err, sizeof err);
    }
    if (rnn_text_to_data(v2, s, 3, RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 3, &d, err, sizeof err) == 0) {
        FUZZ_CHECK(d.n == s->n && d.T == 3 && d.x && d.y);
        rnn_data_free(&d);
    } else {
        fuzz_check_err(err, sizeof err);
    }
    free(ser2);
    free(ser);
    rnn_vocab_free(v2);
    rnn_vocab_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_tmp(data, size);
    char err[512];
    rnn_text_set s;
    if (rnn_text_read(path, &s, err, sizeof err) == 0) {
        FUZZ_CHECK(s.n >= 1 && s.texts && s.labels);
        round_trip(&s, 12);
        round_trip(&s, 1000);
        rnn_text_set_free(&s);
    } else {
        fuzz_check_err(err, sizeof err);
        FUZZ_CHECK(s.n == 0 && !s.texts && !s.labels);
    }

    /* the bytes as a serialized vocabulary (a C string: up to the first NUL) */
    char *str = malloc(size + 1);
    FUZZ_CHECK(str != NULL);
    memcpy(str, data, size);
    str[size] = '\0';
    rnn_vocab *v = rnn_vocab_parse(str, 64, err, sizeof err);
    if (v) {
        char *ser = rnn_vocab_serialize(v);
        FUZZ_CHECK(ser != NULL);
        size_t len = strlen(str);
        if (len && str[len - 1] == '\n') str[--len] = '\0';
        FUZZ_CHECK(strcmp(ser, str) == 0);
        int32_t ids[T_MAX];
        rnn_text_encode(v, str, T_MAX, ids);
        for (int t = 0; t < T_MAX; t++) FUZZ_CHECK(ids[t] >= 0 && ids[t] < 64);
        free(ser);
        rnn_vocab_free(v);
    } else {
        fuzz_check_err(err, sizeof err);
    }
    free(str);
    return 0;
}
