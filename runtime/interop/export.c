/*
 * export.c — a trained model for another framework (rnn_export): a TF.js Layers model
 * (model.json + float32 shards), Keras 2's JSON config, Keras 2's HDF5 weights, and the
 * vocabulary beside it (Keras's Tokenizer.to_json() and a word list).
 */
#include "interop/foreign.h"
#include "interop/keras_kinds.h"
#include "interop/keras_model.h"
#include "rnn_interop.h"

#include "core/atomic_file.h"
#include "core/errors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* TF.js's converter cuts the weights into shards of 4 MiB (tfjs-converter's default
 * weight_shard_size_bytes); tfjs-core concatenates them again. */
#define TFJS_SHARD_BYTES ((size_t)4 << 20)

static int write_text(const char *path, const char *text, size_t len, FILE *report, char *err, size_t errlen) {
    if (rnn_write_file_atomic(path, text, len, err, errlen)) return -1;
    if (report) fprintf(report, "wrote %s (%zu bytes)\n", path, len);
    return 0;
}

/* "DIR/name" for dest's directory (dest itself when is_dir). */
static int beside(char *out, size_t cap, const char *dest, int is_dir, const char *name) {
    const char *slash = strrchr(dest, '/');
    int n = is_dir ? snprintf(out, cap, "%s/%s", dest, name)
                   : snprintf(out, cap, "%.*s%s", slash ? (int)(slash - dest + 1) : 0, dest, name);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* ---- the vocabulary ---------------------------------------------------------------------
 * The checkpoint keeps the words in rank order; the word of rank r (line r) has id r + 3
 * (ids 0 padding, 1 start, 2 out-of-vocabulary, as imdb.load_data numbers them; see
 * docs/keras-semantics.md, Text data). Keras's Tokenizer with that word_index, oov_token
 * "<OOV>" at id 2 and num_words = input_dim gives the same ids for the same words;
 * Python adds the start id and pads 'pre' as rnnc does. */

static int write_vocabulary(const rnn_model *m, const char *vocabulary, const char *dest, int is_dir, FILE *report,
                            char *err, size_t errlen) {
    char path[4200];
    rnn_sbuf list = {0}, tok = {0}, index = {0}, rev = {0};
    int rc = -1, r = 0;
    rnn_sb_printf(&index, "{\"<OOV>\": 2");
    rnn_sb_printf(&rev, "{\"2\": \"<OOV>\"");
    for (const char *p = vocabulary; *p;) {
        size_t n = strcspn(p, "\n");
        r++;
        rnn_sb_put(&list, p, n);
        rnn_sb_put(&list, "\n", 1);
        rnn_sb_printf(&index, ", ");
        rnn_sb_json_string(&index, p, n);
        rnn_sb_printf(&index, ": %d", r + 3);
        rnn_sb_printf(&rev, ", \"%d\": ", r + 3);
        rnn_sb_json_string(&rev, p, n);
        p += n + (p[n] == '\n');
    }
    rnn_sb_printf(&index, "}");
    rnn_sb_printf(&rev, "}");
    /* Tokenizer.get_config stores its dicts as JSON strings inside the JSON; the counts
     * are not kept in a checkpoint, and tokenizing does not read them */
    rnn_sb_printf(&tok, "{\"class_name\": \"Tokenizer\", \"config\": {\"num_words\": %d, \"filters\": ", m->vocab);
    const char *filters = "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n";
    rnn_sb_json_string(&tok, filters, strlen(filters));
    rnn_sb_printf(&tok, ", \"lower\": true, \"split\": \" \", \"char_level\": false, \"oov_token\": \"<OOV>\", "
                        "\"document_count\": 0, \"word_counts\": \"{}\", \"word_docs\": \"{}\", "
                        "\"index_docs\": \"{}\", \"index_word\": ");
    if (!rev.oom) rnn_sb_json_string(&tok, rev.s, rev.n);
    rnn_sb_printf(&tok, ", \"word_index\": ");
    if (!index.oom) rnn_sb_json_string(&tok, index.s, index.n);
    rnn_sb_printf(&tok, "}}\n");
    if (list.oom || tok.oom || index.oom || rev.oom) {
        rnn_fail(err, errlen, "out of memory");
    } else if (beside(path, sizeof path, dest, is_dir, "tokenizer.json")) {
        rnn_fail(err, errlen, "%s: the path is too long", dest);
    } else if (!write_text(path, tok.s, tok.n, report, err, errlen)) {
        if (beside(path, sizeof path, dest, is_dir, "vocabulary.txt")) rnn_fail(err, errlen, "%s: the path is too long", dest);
        else rc = write_text(path, list.s ? list.s : "", list.n, report, err, errlen);
    }
    rnn_sb_free(&list), rnn_sb_free(&tok), rnn_sb_free(&index), rnn_sb_free(&rev);
    return rc;
}

/* ---- TF.js ---------------------------------------------------------------------------------- */

/* What TF.js cannot run, with the reason; 0 when it can. */
static int tfjs_can_express(const rnn_model *m, char *err, size_t errlen) {
    for (int i = 0; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        if ((l->kind == RNN_LAYER_GRU || l->wrapped == RNN_LAYER_GRU) && l->reset_after)
            return rnn_fail(err, errlen,
                            "TensorFlow.js cannot run layer %s (%s) with reset_after = true (tfjs-layers' GRUCell "
                            "refuses it); --format keras-json and --format keras-h5 can hold this model, and a GRU "
                            "with reset_after = false goes to TF.js",
                            l->name, rnn_layer_class_name(l->kind));
    }
    return 0;
}

static int export_tfjs(const rnn_model *m, const rnn_real *params, const char *dir, FILE *report, char *err,
                       size_t errlen) {
    if (tfjs_can_express(m, err, errlen)) return -1;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) return rnn_fail(err, errlen, "%s: cannot make the directory: %s", dir, strerror(errno));
    size_t total = 0;
    for (int k = 0; k < m->n_tensors; k++) total += m->tensors[k].size * 4;
    size_t shards = total ? (total + TFJS_SHARD_BYTES - 1) / TFJS_SHARD_BYTES : 1;
    unsigned char *data = malloc(total ? total : 1);
    if (!data) return rnn_fail(err, errlen, "out of memory");
    size_t at = 0;
    for (int k = 0; k < m->n_tensors; k++) {   /* float32 little-endian, in manifest order */
        const rnn_tensor *t = &m->tensors[k];
        for (size_t e = 0; e < t->size; e++, at += 4) {
            float f = (float)params[t->offset + e];
            uint32_t u;
            memcpy(&u, &f, 4);
            for (int b = 0; b < 4; b++) data[at + (size_t)b] = (unsigned char)(u >> (8 * b));
        }
    }
    rnn_sbuf j = {0};
    char path[4200], terr[300];
    int rc = 0;
    rnn_sb_printf(&j, "{\"format\": \"layers-model\", \"generatedBy\": \"rnnc %s\", \"convertedBy\": null, "
                      "\"modelTopology\": ", RNN_VERSION);
    if (rnn_keras_write_model(&j, m, err, errlen)) rc = -1;
    size_t mark = j.n;
    rnn_sb_printf(&j, ", \"trainingConfig\": ");
    if (!rc && rnn_keras_write_training(&j, m, 1, terr, sizeof terr)) {
        j.n = mark;   /* the model still goes; model.fit in TF.js needs its own compile() */
        if (j.s) j.s[j.n] = 0;
        if (report) fprintf(report, "note: no trainingConfig in model.json: %s\n", terr);
    }
    rnn_sb_printf(&j, ", \"weightsManifest\": [{\"paths\": [");
    for (size_t s = 0; s < shards; s++) rnn_sb_printf(&j, "%s\"group1-shard%zuof%zu.bin\"", s ? ", " : "", s + 1, shards);
    rnn_sb_printf(&j, "], \"weights\": [");
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        rnn_sb_printf(&j, "%s{\"name\": ", k ? ", " : "");
        rnn_sb_json_string(&j, t->name, strlen(t->name));
        rnn_sb_printf(&j, ", \"shape\": [");
        for (int d = 0; d < t->rank; d++) rnn_sb_printf(&j, "%s%d", d ? ", " : "", t->shape[d]);
        rnn_sb_printf(&j, "], \"dtype\": \"float32\"}");
    }
    rnn_sb_printf(&j, "]}]}\n");
    if (!rc && j.oom) rc = rnn_fail(err, errlen, "out of memory");
    for (size_t s = 0; s < shards && !rc; s++) {   /* the shards first: model.json names them */
        size_t lo = s * TFJS_SHARD_BYTES, hi = lo + TFJS_SHARD_BYTES < total ? lo + TFJS_SHARD_BYTES : total;
        snprintf(path, sizeof path, "%s/group1-shard%zuof%zu.bin", dir, s + 1, shards);
        rc = write_text(path, (const char *)data + lo, hi - lo, report, err, errlen);
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/model.json", dir);
        rc = write_text(path, j.s, j.n, report, err, errlen);
    }
    rnn_sb_free(&j);
    free(data);
    return rc;
}

int rnn_export(const rnn_model *m, const rnn_real *params, const char *vocabulary, rnn_export_format format,
               const char *dest, FILE *report, char *err, size_t errlen) {
    int rc;
    if (strlen(dest) > 4000) return rnn_fail(err, errlen, "%s: the path is too long", dest);
    if (format == RNN_EXPORT_TFJS) {
        rc = export_tfjs(m, params, dest, report, err, errlen);
    } else if (format == RNN_EXPORT_KERAS_JSON) {
        char *json = rnn_keras_model_json(m, err, errlen);
        rc = json ? write_text(dest, json, strlen(json), report, err, errlen) : -1;
        free(json);
    } else {
        rc = rnn_h5_write_weights(m, params, dest, err, errlen);
        if (!rc && report) fprintf(report, "wrote %s\n", dest);
    }
    if (!rc && vocabulary && *vocabulary)
        rc = write_vocabulary(m, vocabulary, dest, format == RNN_EXPORT_TFJS, report, err, errlen);
    return rc;
}
