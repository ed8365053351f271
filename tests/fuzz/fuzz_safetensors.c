/*
 * fuzz_safetensors.c — rnn_st_open on arbitrary files; for files that open, every
 * tensor's data is read whole (so a size the reader got wrong shows up under ASan) and
 * the lookups are checked; then rnn_ckpt_load puts the file into a small model the way
 * --init-weights (weights only) and --resume (weights, optimizer slots and the resume
 * state) do. The model is the one of tests/fuzz/corpus/spec/tiny.lua, built
 * here by hand so that the harness needs no Lua: embedding{32, 3, input_length = 4},
 * lstm{2}, dense{1, sigmoid}, rmsprop. A stored vocabulary that parses must serialize
 * back to the same string (one stored form, any bytes; see data/text.c).
 */
#include "fuzz_util.h"
#include "core/safetensors.h"
#include "data/data.h"
#include "train/trainer.h"

#include <math.h>

static rnn_model g_model;
static rnn_trainer g_tr;
static int g_verbose;   /* RNNC_FUZZ_VERBOSE set: say how far each input got (to check seeds) */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    g_verbose = getenv("RNNC_FUZZ_VERBOSE") != NULL;
    rnn_model *m = &g_model;
    rnn_model_init(m, "tiny", "tiny.lua");
    rnn_layer *l = &m->layers[m->n_layers++];
    rnn_layer_defaults(l, RNN_LAYER_EMBEDDING);
    l->input_dim = 32;   /* the built-in data set needs >= 32 */
    l->units = 3;
    l->input_length = 4;
    l = &m->layers[m->n_layers++];
    rnn_layer_defaults(l, RNN_LAYER_LSTM);
    l->units = 2;
    l = &m->layers[m->n_layers++];
    rnn_layer_defaults(l, RNN_LAYER_DENSE);
    l->units = 1;
    l->activation = RNN_ACT_SIGMOID;
    rnn_model_name_layers(m);
    char err[512];
    if (rnn_model_layout(m, err, sizeof err) || rnn_trainer_init(&g_tr, m, &rnn_reference_ops, 4, err, sizeof err)) {
        fprintf(stderr, "fuzz_safetensors: %s\n", err);
        abort();
    }
    return 0;
}

static size_t dtype_size(rnn_st_dtype d) {
    switch (d) {
    case RNN_ST_F32: case RNN_ST_I32: return 4;
    case RNN_ST_F64: case RNN_ST_I64: return 8;
    case RNN_ST_U8: return 1;
    }
    FUZZ_CHECK(0 && "unknown dtype");
    return 0;
}

static void check_file(const rnn_st_file *f) {
    int n = rnn_st_count(f);
    FUZZ_CHECK(n >= 0);
    unsigned sum = 0;
    for (int i = 0; i < n; i++) {
        const rnn_st_tensor *t = rnn_st_get(f, i);
        FUZZ_CHECK(t != NULL && t->name != NULL);
        FUZZ_CHECK(t->rank >= 0 && t->rank <= RNN_ST_MAX_RANK);
        size_t el = dtype_size(t->dtype), count = 1;
        for (int r = 0; r < t->rank; r++) {
            FUZZ_CHECK(t->shape[r] >= 0);
            count *= (size_t)t->shape[r];
        }
        FUZZ_CHECK(((uintptr_t)t->data % el) == 0);   /* promised aligned */
        const unsigned char *p = t->data;
        for (size_t k = 0; k < count * el; k++) sum += p[k];
        FUZZ_CHECK(rnn_st_find(f, t->name) == t);      /* names are unique */
    }
    (void)sum;
    FUZZ_CHECK(rnn_st_find(f, "no such tensor \x01") == NULL);
    static const char *const keys[] = {"format", "model_hash", "vocabulary", "history", "early_stopping", ""};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const char *v = rnn_st_meta(f, keys[k]);
        if (v) (void)strlen(v);
    }
}

/* The vocabulary as predict --text and --resume read it. */
static void check_vocab(const char *s) {
    char err[512];
    rnn_vocab *v = rnn_vocab_parse(s, g_model.vocab, err, sizeof err);
    if (g_verbose) fprintf(stderr, "vocabulary: %s\n", v ? "ok" : err);
    if (!v) {
        fuzz_check_err(err, sizeof err);
        return;
    }
    char *ser = rnn_vocab_serialize(v);
    FUZZ_CHECK(ser != NULL);
    size_t n = strlen(s);
    if (n && s[n - 1] == '\n') n--;
    FUZZ_CHECK(strlen(ser) == n && memcmp(ser, s, n) == 0);
    free(ser);
    rnn_vocab_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_tmp(data, size);
    char err[1024];
    rnn_st_file *f = rnn_st_open(path, err, sizeof err);
    if (!f) {
        fuzz_check_err(err, sizeof err);
        if (g_verbose) fprintf(stderr, "open: %s\n", err);
        return 0;
    }
    check_file(f);
    rnn_st_close(f);

    /* --init-weights: weights (and the vocabulary) only */
    char *vocab = NULL;
    int rc = rnn_ckpt_load(path, &g_tr, NULL, &vocab, err, sizeof err);
    if (g_verbose) fprintf(stderr, "weights: %s\n", rc ? err : "ok");
    if (rc == 0) {
        if (vocab) check_vocab(vocab);
        free(vocab);
    } else {
        fuzz_check_err(err, sizeof err);
    }
    /* --resume: also the optimizer slots and the resume state */
    rnn_ckpt_state st;
    memset(&st, 0, sizeof st);
    vocab = NULL;
    rc = rnn_ckpt_load(path, &g_tr, &st, &vocab, err, sizeof err);
    if (g_verbose) fprintf(stderr, "resume: %s\n", rc ? err : "ok");
    if (rc == 0) {
        FUZZ_CHECK(st.n_history == st.epochs_done && st.epochs_done >= 0);
        FUZZ_CHECK(st.n_history == 0 || st.history != NULL);
        if (vocab) (void)strlen(vocab);
        free(vocab);
        rnn_ckpt_state_free(&st);
    } else {
        fuzz_check_err(err, sizeof err);
        FUZZ_CHECK(st.history == NULL && st.es_best_weights == NULL);
    }
    return 0;
}
