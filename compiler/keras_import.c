/*
 * keras_import.c — a Keras model config as the compiler's input: read by the runtime's
 * interop reader (rnn_interop.h, with the JSON's lines in its messages), then given the
 * lines of its equivalent spec (emit_spec.c), which the generated file records.
 */
#include "emit_spec.h"
#include "rnn_interop.h"

int rnnc_load_keras(const char *path, rnn_model *m, char *err, size_t errlen) {
    if (rnn_keras_read_model(path, m, err, errlen)) return -1;
    textbuf spec;
    tb_init(&spec);
    rnnc_emit_spec(m, path, &spec);
    tb_free(&spec);
    return rnn_model_layout(m, err, errlen);
}
