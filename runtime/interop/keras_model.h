/*
 * keras_model.h — the Keras model config reader and writer, for the other interop files.
 * Internal to librnnrt.
 */
#ifndef RNN_KERAS_MODEL_H
#define RNN_KERAS_MODEL_H

#include "interop/jdoc.h"
#include "interop/sbuf.h"
#include "rnn_arch.h"

/* rnn_keras_read_model on a document already read (a TF.js model.json's topology). */
int rnn_keras_model_from_doc(const rnn_jdoc *d, rnn_model *m, char *err, size_t errlen);

/* The Keras 2 config of m ({"class_name": "Sequential", ...}) appended to b. 0, or -1 with
 * err when a layer kind has no Keras form. */
int rnn_keras_write_model(rnn_sbuf *b, const rnn_model *m, char *err, size_t errlen);

/* The training configuration: Keras 2's training_config (tfjs 0), or the trainingConfig
 * that TF.js writes and reads (tfjs 1). 0, or -1 with the reason when TF.js has no form
 * for it (clipping, RMSprop's epsilon outside the root). */
int rnn_keras_write_training(rnn_sbuf *b, const rnn_model *m, int tfjs, char *err, size_t errlen);

#endif
