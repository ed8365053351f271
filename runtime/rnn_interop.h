/*
 * rnn_interop.h — models and weights to and from Keras and TensorFlow.js (librnnrt).
 *
 * The model config a Keras user already has (model.to_json() of Keras 2 or 3, or a
 * TensorFlow.js Layers model.json) becomes the same rnn_model the Lua DSL gives; trained
 * weights go back out as a TF.js Layers model, a Keras 2 JSON config or Keras 2 HDF5
 * weights. Every layer kind's Keras config keys are one table (runtime/interop/
 * keras_kinds.c) that both directions read. docs/keras-semantics.md, "Interop", records
 * the formats and the decisions.
 */
#ifndef RNN_INTEROP_H
#define RNN_INTEROP_H

#include "rnnrt.h"

#include <stddef.h>

/* What a file holds, from its first bytes: a JSON document (its first byte other than
 * white space is '{'; a Lua spec never starts so), an HDF5 file (its signature), or
 * anything else (a Lua spec, a safetensors file). Unreadable: RNN_FILE_OTHER. */
typedef enum { RNN_FILE_OTHER = 0, RNN_FILE_JSON, RNN_FILE_HDF5 } rnn_file_kind;
rnn_file_kind rnn_file_sniff(const char *path);

/* Read a Keras model config into *m (initialised, named and laid out here): the JSON of
 * model.to_json() from Keras 2 or Keras 3, or a TF.js Layers model.json (its
 * modelTopology, and the training config inside it or beside it when present). Returns
 * 0, or -1 with one line in err naming the file and the line of the JSON:
 *   "PATH:LINE: layer NAME (CLASS): option X = Y is not supported"
 * (or the layout's "PATH:LINE: NAME: message"). Reads nothing else. */
int rnn_keras_read_model(const char *path, rnn_model *m, char *err, size_t errlen);

/* The Keras 2 JSON of m (model.to_json()'s form, with the training configuration under
 * "training_config"), NUL-terminated, malloc'd; NULL when out of memory or when a layer
 * kind has no Keras form (err says which). */
char *rnn_keras_model_json(const rnn_model *m, char *err, size_t errlen);

/* Weights of another framework for m: a TF.js weights manifest (model.json and its
 * group*-shard*of*.bin files) or Keras 2 HDF5 weights (model.save_weights("w.h5"), or a
 * whole model.save("m.h5")). Layers with weights are matched in order, as Keras's
 * load_weights does; each weight's name must end in the rnnc tensor's Keras name and
 * its shape must match; a TF.js model.json's own topology must describe m. Every value
 * finite. 0, or -1 with "PATH: what is wrong" in err. rnn_weights_load reads these too. */
int rnn_foreign_weights_load(const rnn_model *m, const char *path, rnn_real *params, char *err, size_t errlen);

/* Is HDF5 usable here: built with it (make HDF5=1, the default when libhdf5-dev is
 * installed) and Debian's libhdf5 loadable at run time? 1, or 0 with the reason. */
int rnn_hdf5_available(char *err, size_t errlen);

typedef enum { RNN_EXPORT_TFJS = 0, RNN_EXPORT_KERAS_JSON, RNN_EXPORT_KERAS_H5 } rnn_export_format;

/* Write m with params (laid out as m says) for another framework, each file atomically:
 *   RNN_EXPORT_TFJS        dest is a directory (made if missing): model.json (the Keras
 *                          config as modelTopology, trainingConfig, weightsManifest) and
 *                          group1-shard<i>of<n>.bin (4 MiB shards, float32 LE)
 *   RNN_EXPORT_KERAS_JSON  dest is the JSON file (rnn_keras_model_json)
 *   RNN_EXPORT_KERAS_H5    dest is the HDF5 file in model.save_weights's layout
 * With a vocabulary (the checkpoint's, rnn_vocab_serialize's form), also writes
 * tokenizer.json (Keras's Tokenizer.to_json()) and vocabulary.txt (one word a line, the
 * word of line r has id r + 3) into dest's directory (the directory itself for TF.js).
 * Refuses what the format cannot express (TF.js: a GRU with reset_after = true).
 * report (may be NULL) receives one line per file written. 0, or -1 with err. */
int rnn_export(const rnn_model *m, const rnn_real *params, const char *vocabulary, rnn_export_format format,
               const char *dest, FILE *report, char *err, size_t errlen);

#endif
