/*
 * fuzz_text.c — raw text: rnn_text_read on the input as a TSV file and
 * rnn_text_read_lines on it as a file to predict (texts hold no CR, LF or NUL after
 * reading; a TSV line's text is the same bytes as that line read alone), the
 * vocabulary built from it (two sizes), its serialize/parse round trip (must be the
 * identity: same string, same ids for every text; the string always UTF-8, as a
 * checkpoint needs), encoding and rnn_text_to_data. The input is also parsed directly
 * as a serialized vocabulary: when that succeeds, serializing must give the input back
 * (less the one trailing newline the parser tolerates).
 */
#include "fuzz_util.h"
#include "core/json.h"
#include "data/data.h"

#define T_MAX 12

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    return 0;
}

static int utf8(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n) {
        size_t k = rnn_utf8_seq(p, n);
        if (!k) return 0;
        p += k;
        n -= k;
    }
    return 1;
}

/* What every reader leaves: no line end inside a text, no NUL (a C string). */
static void check_texts(const rnn_text_set *s) {
    for (size_t i = 0; i < s->n; i++) FUZZ_CHECK(s->texts[i] && !strpbrk(s->texts[i], "\r\n"));
}

static void round_trip(const rnn_text_set *s, int vocab) {
    rnn_vocab *v = rnn_vocab_build(s, vocab);
    FUZZ_CHECK(v != NULL);
    char *ser = rnn_vocab_serialize(v);
    FUZZ_CHECK(ser != NULL);
    FUZZ_CHECK(utf8(ser));
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
    if (rnn_text_to_data(v, s, 5, RNN_LOSS_BINARY_CROSSENTROPY, 1, &d, err, sizeof err) == 0) {
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
    int tsv_ok = rnn_text_read(path, &s, err, sizeof err) == 0;
    if (tsv_ok) {
        FUZZ_CHECK(s.n >= 1 && s.texts && s.labels);
        check_texts(&s);
        round_trip(&s, 12);
        round_trip(&s, 1000);
    } else {
        fuzz_check_err(err, sizeof err);
        FUZZ_CHECK(s.n == 0 && !s.texts && !s.labels);
    }

    /* the same bytes as lines to predict: a NUL fails both readers, and every TSV
     * sample's text is the end of one of the lines (the same line ends, the same BOM) */
    rnn_text_set l;
    if (rnn_text_read_lines(path, &l, err, sizeof err) == 0) {
        FUZZ_CHECK(l.n >= 1 && l.texts && l.labels);
        FUZZ_CHECK(memchr(data, 0, size) == NULL);
        check_texts(&l);
        size_t line = 0;
        for (size_t i = 0; tsv_ok && i < s.n; i++) {
            size_t n = strlen(s.texts[i]);
            for (;; line++) {
                FUZZ_CHECK(line < l.n);
                size_t m = strlen(l.texts[line]);
                if (m > n && l.texts[line][m - n - 1] == '\t' && strcmp(l.texts[line] + m - n, s.texts[i]) == 0) break;
            }
            line++;
        }
        rnn_text_set_free(&l);
    } else {
        fuzz_check_err(err, sizeof err);
        FUZZ_CHECK(l.n == 0 && !l.texts && !l.labels);
        FUZZ_CHECK(!tsv_ok);
    }
    if (tsv_ok) rnn_text_set_free(&s);

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
