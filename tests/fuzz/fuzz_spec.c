/*
 * fuzz_spec.c — the spec loader in process: DSL evaluation in the sandboxed Lua state
 * (rnnc_eval_spec_inprocess, what rnnc_load_spec's forked child runs), lowering, and
 * rnn_model_layout, with a 16 MiB Lua heap and an instruction limit standing in for
 * the child's wall-clock alarm (libFuzzer's -timeout backs it up). Any input may fail
 * with a message, which must be one line "fuzz.lua..." with no control byte; none may
 * crash, and a model that lays out must be consistent.
 *
 * Lua runs two kinds of code with debug hooks off, so no instruction limit can stop
 * them: __gc finalizers, and an xpcall message handler handling the limit's own error.
 * The real loader's wall-clock alarm ends such specs; here they would only be hangs,
 * so inputs that mention "__gc" or "xpcall" are skipped.
 */
#include "fuzz_util.h"
#include "rnnc.h"

static FILE *g_null;
static rnn_model g_model;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    g_null = fopen("/dev/null", "w");
    FUZZ_CHECK(g_null != NULL);
    return 0;
}

static void check_model(const rnn_model *m) {
    FUZZ_CHECK(m->n_layers >= 2 && m->n_layers <= RNN_MAX_LAYERS);
    FUZZ_CHECK(m->layers[0].kind == RNN_LAYER_EMBEDDING);
    FUZZ_CHECK(m->timesteps >= 1 && m->timesteps <= RNN_MAX_TIMESTEPS);
    FUZZ_CHECK(m->vocab >= 1 && m->vocab <= RNN_MAX_VOCAB);
    FUZZ_CHECK(m->n_outputs >= 1);
    FUZZ_CHECK(m->n_tensors >= 1 && m->n_tensors <= RNN_MAX_TENSORS);
    FUZZ_CHECK(m->n_params <= RNN_MAX_PARAMS);
    FUZZ_CHECK(memchr(m->name, '\0', sizeof m->name) != NULL);
    size_t sum = 0;
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        FUZZ_CHECK(memchr(t->name, '\0', sizeof t->name) != NULL);
        FUZZ_CHECK(t->layer >= 0 && t->layer < m->n_layers);
        FUZZ_CHECK(t->rank == 1 || t->rank == 2);
        FUZZ_CHECK(t->shape[0] >= 1 && t->shape[1] >= 1);
        FUZZ_CHECK(t->size == (size_t)t->shape[0] * (size_t)t->shape[1]);
        FUZZ_CHECK(t->offset % RNN_TENSOR_ALIGN == 0);
        FUZZ_CHECK(t->offset + t->size <= m->param_buffer_len);
        FUZZ_CHECK(rnn_model_find_tensor(m, t->name) == k);
        sum += t->size;
    }
    FUZZ_CHECK(sum == m->n_params);
    for (int i = 0; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        FUZZ_CHECK(memchr(l->name, '\0', sizeof l->name) != NULL);
        FUZZ_CHECK(l->first_tensor >= 0 && l->first_tensor + l->n_tensors <= m->n_tensors);
    }
    FUZZ_CHECK(m->fit.n_callbacks >= 0 && m->fit.n_callbacks <= RNN_MAX_CALLBACKS);
}

static int contains(const uint8_t *data, size_t size, const char *word) {
    size_t n = strlen(word);
    for (size_t k = 0; k + n <= size; k++)
        if (memcmp(data + k, word, n) == 0) return 1;
    return 0;
}

/* One line of the escaped form (rnnc_escape): it names the spec, and no byte is a C0
 * control or DEL (UTF-8 may remain). */
static void check_message(const char *err, size_t errlen) {
    fuzz_check_err(err, errlen);
    FUZZ_CHECK(strncmp(err, "fuzz.lua", 8) == 0);
    for (const unsigned char *p = (const unsigned char *)err; *p; p++) FUZZ_CHECK(*p >= 0x20 && *p != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > RNNC_MAX_SPEC_BYTES) return 0;   /* read_spec refuses these */
    if (contains(data, size, "__gc") || contains(data, size, "xpcall")) return 0;
    rnnc_limits lim = {RNNC_DEFAULT_TIME_LIMIT, (size_t)16 << 20};
    char err[RNNC_ERR_MAX];
    err[0] = '\0';
    if (rnnc_eval_spec_inprocess("fuzz.lua", (const char *)data, size, &lim, 5000000, NULL, &g_model, err,
                                 sizeof err) != 0) {
        check_message(err, sizeof err);
        return 0;
    }
    if (rnn_model_layout(&g_model, err, sizeof err) != 0) {
        fuzz_check_err(err, sizeof err);
        return 0;
    }
    check_model(&g_model);
    (void)rnn_model_hash(&g_model);
    rnn_model_summary(&g_model, g_null);
    return 0;
}
