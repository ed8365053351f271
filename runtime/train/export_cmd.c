/*
 * export_cmd.c — `T export --weights W --format tfjs|keras-json|keras-h5 DEST`: the
 * weights of a checkpoint (or of a TF.js or Keras file) for TensorFlow.js or Keras, with
 * the checkpoint's vocabulary beside them (rnn_export, rnn_interop.h).
 * Exit codes: 0 ok, 1 the weights or the output, 2 usage.
 */
#include "train/export_cmd.h"

#include "core/safetensors.h"
#include "rnn_interop.h"

#include <stdlib.h>
#include <string.h>

void rnn_export_help(FILE *f, const char *program) {
    fprintf(f,
            "usage: %s export --weights F --format FORMAT DEST\n\n"
            "Writes the model with the weights of F (a checkpoint, or TF.js or Keras weights) for\n"
            "another framework:\n"
            "  --format tfjs        DEST is a directory: model.json and group1-shard*of*.bin, a\n"
            "                       TF.js Layers model (tf.loadLayersModel); refused with the\n"
            "                       reason when TF.js cannot run the model (GRU reset_after = true)\n"
            "  --format keras-json  DEST is Keras 2's JSON config (model_from_json), with the\n"
            "                       training config beside it\n"
            "  --format keras-h5    DEST is Keras 2's HDF5 weights (model.load_weights)\n"
            "A checkpoint trained on raw text also gives tokenizer.json (Keras's Tokenizer.to_json())\n"
            "and vocabulary.txt (one word a line; line r is id r + 3) in DEST's directory.\n",
            program);
}

static int usage(const char *program, const char *msg, const char *arg) {
    fprintf(stderr, "%s export: ", program);
    fprintf(stderr, msg, arg);
    fprintf(stderr, "\nTry '%s export --help'.\n", program);
    return 2;
}

int rnn_export_cmd(const rnn_model *m, const char *program, int argc, char **argv) {
    const char *weights = NULL, *format = NULL, *dest = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            rnn_export_help(stdout, program);
            return 0;
        }
        if (!strcmp(a, "--weights") || !strcmp(a, "--format")) {
            if (i + 1 >= argc) return usage(program, "%s needs a value", a);
            *(a[2] == 'w' ? &weights : &format) = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return usage(program, "unknown option '%s'", a);
        } else if (dest) {
            return usage(program, "one destination only (got '%s' too)", a);
        } else {
            dest = a;
        }
    }
    if (!weights) return usage(program, "%s", "--weights F is required");
    if (!format) return usage(program, "%s", "--format tfjs, keras-json or keras-h5 is required");
    if (!dest) return usage(program, "%s", "a destination is required (a directory for tfjs, a file otherwise)");
    rnn_export_format fmt;
    if (!strcmp(format, "tfjs")) fmt = RNN_EXPORT_TFJS;
    else if (!strcmp(format, "keras-json")) fmt = RNN_EXPORT_KERAS_JSON;
    else if (!strcmp(format, "keras-h5")) fmt = RNN_EXPORT_KERAS_H5;
    else return usage(program, "unknown --format '%s' (tfjs, keras-json or keras-h5)", format);

    char err[1200];
    int rc = 1;
    char *vocabulary = NULL;
    rnn_real *params = calloc(m->param_buffer_len ? m->param_buffer_len : 1, sizeof *params);
    if (!params) {
        fprintf(stderr, "export: out of memory\n");
        return 1;
    }
    if (rnn_weights_load(m, weights, params, err, sizeof err)) goto fail;
    if (rnn_file_sniff(weights) == RNN_FILE_OTHER) {   /* a checkpoint: its vocabulary, if any */
        rnn_st_file *f = rnn_st_open(weights, err, sizeof err);
        if (!f) goto fail;
        const char *v = rnn_st_meta(f, "vocabulary");
        vocabulary = v ? strdup(v) : NULL;
        rnn_st_close(f);
        if (v && !vocabulary) {
            snprintf(err, sizeof err, "out of memory");
            goto fail;
        }
    }
    if (rnn_export(m, params, vocabulary, fmt, dest, stdout, err, sizeof err)) goto fail;
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "export: %s\n", err);
done:
    free(vocabulary);
    free(params);
    return rc;
}
