/*
 * weights.c — weights of another framework into an rnn_model: the matching every
 * reader shares (foreign.h), and the TF.js weights manifest (model.json's weightsManifest
 * and its group*-shard*of*.bin files, float32 little-endian, concatenated in manifest
 * order as tfjs-core's io reads them).
 */
#include "interop/foreign.h"
#include "interop/jdoc.h"
#include "interop/keras_model.h"
#include "rnn_interop.h"

#include "core/errors.h"
#include "core/safetensors.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the set ---------------------------------------------------------------------------- */

int64_t rnn_foreign_count(const rnn_foreign_weight *w) {
    int64_t n = 1;
    for (int k = 0; k < w->rank; k++) n *= w->shape[k];
    return n;
}

rnn_foreign_weight *rnn_foreign_add(rnn_foreign_set *s, const char *layer, const char *name, int rank,
                                    const int64_t *shape) {
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        rnn_foreign_weight *w = realloc(s->w, (size_t)cap * sizeof *w);
        if (!w) return NULL;
        s->w = w, s->cap = cap;
    }
    rnn_foreign_weight *w = &s->w[s->n];
    memset(w, 0, sizeof *w);
    snprintf(w->layer, sizeof w->layer, "%s", layer);
    snprintf(w->name, sizeof w->name, "%s", name);
    w->rank = rank;
    for (int k = 0; k < rank; k++) w->shape[k] = shape[k];
    int64_t n = rnn_foreign_count(w);
    w->data = calloc(n > 0 ? (size_t)n : 1, sizeof *w->data);
    if (!w->data) return NULL;
    s->n++;
    return w;
}

void rnn_foreign_free(rnn_foreign_set *s) {
    for (int i = 0; i < s->n; i++) free(s->w[i].data);
    free(s->w);
    memset(s, 0, sizeof *s);
}

/* ---- matching --------------------------------------------------------------------------- */

static const char *shape_str(char *buf, size_t cap, int rank, const int64_t *shape) {
    size_t u = (size_t)snprintf(buf, cap, "[");
    for (int k = 0; k < rank && u < cap; k++) u += (size_t)snprintf(buf + u, cap - u, "%s%" PRId64, k ? ", " : "", shape[k]);
    if (u < cap) snprintf(buf + u, cap - u, "]");
    return buf;
}

/* The Keras name a weight's full name ends in: "lstm/lstm_cell/kernel:0" -> "kernel". */
static void weight_suffix(const char *name, char *out, size_t cap) {
    const char *s = strrchr(name, '/');
    s = s ? s + 1 : name;
    snprintf(out, cap, "%.*s", (int)strcspn(s, ":"), s);
}

int rnn_foreign_match(const rnn_model *m, const char *path, const rnn_foreign_set *s, rnn_real *params, char *err,
                      size_t errlen) {
    int want = 0, have = 0;
    for (int i = 0; i < m->n_layers; i++) want += m->layers[i].n_tensors > 0;
    for (int i = 0; i < s->n; i++) have += i == 0 || strcmp(s->w[i].layer, s->w[i - 1].layer) != 0;
    if (want != have)
        return rnn_fail(err, errlen, "%s: %d layers with weights, but model \"%s\" has %d", path, have, m->name, want);
    int at = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        if (!l->n_tensors) continue;
        int start = at;
        while (at < s->n && !strcmp(s->w[at].layer, s->w[start].layer)) at++;
        if (at - start != l->n_tensors)
            return rnn_fail(err, errlen, "%s: layer '%s' has %d weights; layer %s (%s) of model \"%s\" has %d", path,
                            s->w[start].layer, at - start, l->name, rnn_layer_class_name(l->kind), m->name, l->n_tensors);
        for (int j = 0; j < l->n_tensors; j++) {
            const rnn_foreign_weight *w = &s->w[start + j];
            const rnn_tensor *t = &m->tensors[l->first_tensor + j];
            char suffix[RNN_FOREIGN_NAME_MAX], a[64], b[64];
            weight_suffix(w->name, suffix, sizeof suffix);
            const char *tsuffix = strrchr(t->name, '/') ? strrchr(t->name, '/') + 1 : t->name;
            int64_t tshape[4];
            int same = w->rank == t->rank;
            for (int d = 0; d < t->rank; d++) {
                tshape[d] = t->shape[d];
                same = same && w->shape[d] == tshape[d];
            }
            if (strcmp(suffix, tsuffix))
                return rnn_fail(err, errlen, "%s: weight '%s' is not a %s: layer %s of model \"%s\" expects %s here", path,
                                w->name, tsuffix, l->name, m->name, t->name);
            if (!same)
                return rnn_fail(err, errlen, "%s: weight '%s' has shape %s; %s of model \"%s\" is %s", path, w->name,
                                shape_str(a, sizeof a, w->rank, w->shape), t->name, m->name,
                                shape_str(b, sizeof b, t->rank, tshape));
            for (size_t e = 0; e < t->size; e++) {
                if (!isfinite(w->data[e]))
                    return rnn_fail(err, errlen, "%s: weight '%s' holds a value that is not finite (element %zu)", path,
                                    w->name, e);
                params[t->offset + e] = (rnn_real)w->data[e];
            }
        }
    }
    return 0;
}

/* ---- TF.js --------------------------------------------------------------------------------- */

/* The shard files of one manifest group, read one after the other as one stream. */
typedef struct {
    const char *dir;
    const rnn_jval *paths;
    size_t next;
    FILE *f;
    char cur[4096];
} shard_stream;

static int stream_read(shard_stream *st, void *buf, size_t n, const char *json, char *err, size_t errlen) {
    unsigned char *p = buf;
    while (n > 0) {
        if (!st->f) {
            if (st->next >= st->paths->n)
                return rnn_fail(err, errlen, "%s: the shard files hold fewer bytes than its weightsManifest lists", json);
            const char *name = rnn_jstr_of(&st->paths->item[st->next++]);
            if (!name || !*name || name[0] == '/' || strstr(name, ".."))
                return rnn_fail(err, errlen, "%s: weightsManifest paths must be files beside it (got %s)", json,
                                rnn_jdescribe(&st->paths->item[st->next - 1], (char[96]){0}, 96));
            snprintf(st->cur, sizeof st->cur, "%s%s", st->dir, name);
            int fd = rnn_open_regular(st->cur, "weights shard", NULL, err, errlen);
            if (fd < 0) return -1;
            st->f = fdopen(fd, "rb");
            if (!st->f) {
                close(fd);
                return rnn_fail(err, errlen, "%s: cannot open: %s", st->cur, strerror(errno));
            }
        }
        size_t got = buf ? fread(p, 1, n, st->f) : 0;
        if (!buf) {   /* skip */
            unsigned char tmp[4096];
            size_t want = n < sizeof tmp ? n : sizeof tmp;
            got = fread(tmp, 1, want, st->f);
        }
        if (ferror(st->f)) return rnn_fail(err, errlen, "%s: cannot read: %s", st->cur, strerror(errno));
        if (got == 0) {
            fclose(st->f);
            st->f = NULL;
            continue;
        }
        n -= got;
        if (buf) p += got;
    }
    return 0;
}

/* After the last weight: nothing may be left. */
static int stream_end(shard_stream *st, const char *json, char *err, size_t errlen) {
    int extra = 0;
    if (st->f) {
        extra = fgetc(st->f) != EOF;
        fclose(st->f);
        st->f = NULL;
    }
    if (extra || st->next < st->paths->n)
        return rnn_fail(err, errlen, "%s: the shard files hold more bytes than its weightsManifest lists", json);
    return 0;
}

/* Is model.json's topology the model m? Names, lines and what only draws the initial
 * weights (unit_forget_bias) are the model's own to choose. */
static int same_topology(const rnn_model *m, const rnn_jdoc *d, char *err, size_t errlen) {
    static rnn_model t;   /* large: not on the stack */
    if (rnn_keras_model_from_doc(d, &t, err, errlen)) return -1;
    if (t.n_layers != m->n_layers)
        return rnn_fail(err, errlen, "%s: its modelTopology has %d layers, model \"%s\" has %d", d->path, t.n_layers,
                        m->name, m->n_layers);
    for (int i = 0; i < m->n_layers; i++) {
        const rnn_layer *a = &t.layers[i], *b = &m->layers[i];
        if (a->kind != b->kind)
            return rnn_fail(err, errlen, "%s: layer %d of its modelTopology is %s, model \"%s\" has %s (%s)", d->path,
                            i + 1, rnn_layer_class_name(a->kind), m->name, rnn_layer_class_name(b->kind), b->name);
        for (int k = 0; k < rnn_layer_option_count; k++) {
            const rnn_option_info *o = &rnn_layer_options[k];
            if (!o->hashed || !strcmp(o->name, "unit_forget_bias")) continue;
            double x = rnn_option_value(a, o), y = rnn_option_value(b, o);
            if (x != y)
                return rnn_fail(err, errlen, "%s: layer %s of its modelTopology has %s = %g, layer %s of model \"%s\" %g",
                                d->path, a->name, o->name, x, b->name, m->name, y);
        }
    }
    return 0;
}

static int tfjs_read(const rnn_model *m, const rnn_jdoc *d, rnn_foreign_set *s, char *err, size_t errlen) {
    const char *json = d->path;
    const rnn_jval *manifest = rnn_jget(&d->root, "weightsManifest");
    if (!manifest || manifest->type != RNN_J_ARR)
        return rnn_fail(err, errlen, "%s: no weightsManifest: not a TF.js model.json with weights", json);
    if (rnn_jget(&d->root, "modelTopology") && same_topology(m, d, err, errlen)) return -1;
    char dir[4096];
    const char *slash = strrchr(json, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - json + 1) : 0, json);
    for (size_t g = 0; g < manifest->n; g++) {
        const rnn_jval *grp = &manifest->item[g], *paths = rnn_jget(grp, "paths"), *ws = rnn_jget(grp, "weights");
        if (!paths || paths->type != RNN_J_ARR || !ws || ws->type != RNN_J_ARR)
            return rnn_fail(err, errlen, "%s: weightsManifest group %zu needs \"paths\" and \"weights\" lists", json, g + 1);
        shard_stream st = {dir, paths, 0, NULL, ""};
        int rc = 0;
        for (size_t i = 0; i < ws->n && !rc; i++) {
            const rnn_jval *w = &ws->item[i], *shape = rnn_jget(w, "shape");
            const char *name = rnn_jstr_of(rnn_jget(w, "name")), *dtype = rnn_jstr_of(rnn_jget(w, "dtype"));
            const char *group = rnn_jstr_of(rnn_jget(w, "group"));
            int64_t dims[4] = {1, 1, 1, 1}, count = 1;
            int rank = shape && shape->type == RNN_J_ARR ? (int)shape->n : -1;
            if (!name || !dtype || rank < 0 || rank > 4) {
                rc = rnn_fail(err, errlen, "%s: weightsManifest entry %s needs a name, a dtype and a shape of rank 0 to 4",
                              json, rnn_jdescribe(w, (char[96]){0}, 96));
                break;
            }
            for (int k = 0; k < rank; k++) {
                double x;
                if (rnn_jnum(&shape->item[k], &x) || x < 0 || x != floor(x) || x > 1e9) {
                    rc = rnn_fail(err, errlen, "%s: weight '%s': bad shape", json, name);
                    break;
                }
                dims[k] = (int64_t)x;
                count *= dims[k];
            }
            if (rc) break;
            if (count > ((int64_t)1 << 31)) {
                rc = rnn_fail(err, errlen, "%s: weight '%s' is too large", json, name);
                break;
            }
            if (rnn_jget(w, "quantization"))
                rc = rnn_fail(err, errlen, "%s: weight '%s' is quantized; rnnc reads float32 weights", json, name);
            else if (group && !strcmp(group, "optimizer"))   /* the optimizer's state: skipped */
                rc = strcmp(dtype, "float32") && strcmp(dtype, "int32")
                         ? rnn_fail(err, errlen, "%s: weight '%s': dtype %s is not supported", json, name, dtype)
                         : stream_read(&st, NULL, (size_t)count * 4, json, err, errlen);
            else if (strcmp(dtype, "float32"))
                rc = rnn_fail(err, errlen, "%s: weight '%s' is %s; rnnc reads float32 weights", json, name, dtype);
            else {
                char layer[RNN_FOREIGN_NAME_MAX];
                snprintf(layer, sizeof layer, "%.*s", (int)strcspn(name, "/"), name);
                rnn_foreign_weight *fw = rnn_foreign_add(s, layer, name, rank, dims);
                if (!fw) rc = rnn_fail(err, errlen, "%s: out of memory", json);
                else {
                    unsigned char *raw = (unsigned char *)fw->data;
                    rc = stream_read(&st, raw, (size_t)count * 4, json, err, errlen);
                    for (int64_t e = 0; !rc && e < count; e++) {   /* little-endian float32 */
                        uint32_t u = (uint32_t)raw[4 * e] | (uint32_t)raw[4 * e + 1] << 8 |
                                     (uint32_t)raw[4 * e + 2] << 16 | (uint32_t)raw[4 * e + 3] << 24;
                        memcpy(&fw->data[e], &u, 4);
                    }
                }
            }
        }
        if (!rc) rc = stream_end(&st, json, err, errlen);
        if (st.f) fclose(st.f);
        if (rc) return -1;
    }
    return 0;
}

int rnn_foreign_weights_load(const rnn_model *m, const char *path, rnn_real *params, char *err, size_t errlen) {
    rnn_foreign_set s = {0};
    int rc = -1;
    rnn_file_kind kind = rnn_file_sniff(path);
    if (kind == RNN_FILE_JSON) {
        rnn_jdoc d;
        if (rnn_jdoc_read(&d, path, err, errlen)) return -1;
        rc = tfjs_read(m, &d, &s, err, errlen);
        rnn_jdoc_free(&d);
    } else if (kind == RNN_FILE_HDF5) {
        rc = rnn_h5_read_weights(path, &s, err, errlen);
    } else {
        rnn_fail(err, errlen, "%s: neither a TF.js model.json nor a Keras HDF5 file", path);
    }
    if (!rc) rc = rnn_foreign_match(m, path, &s, params, err, errlen);
    rnn_foreign_free(&s);
    return rc;
}
