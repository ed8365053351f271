/*
 * emit_spec.h — an rnn_model as a Lua spec (emit_spec.c), and a Keras model config read
 * for the compiler (keras_import.c).
 */
#ifndef RNNC_EMIT_SPEC_H
#define RNNC_EMIT_SPEC_H

#include "rnn_arch.h"
#include "textbuf.h"

#include <stddef.h>

/* Append the spec of m (laid out) to out; from names the model's source in the first
 * line's comment. m's line fields (the model's, its layers', its optimizer's and its
 * callbacks') become the lines of that text. */
void rnnc_emit_spec(rnn_model *m, const char *from, textbuf *out);

/* A Keras or TF.js model config (rnn_keras_read_model) as the compiler takes it: laid
 * out, with the lines of its equivalent spec (rnnc_emit_spec), so that both compile to
 * the same C. Messages about the JSON name its own lines. 0, or -1 with err. */
int rnnc_load_keras(const char *path, rnn_model *m, char *err, size_t errlen);

#endif
