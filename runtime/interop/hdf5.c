/*
 * hdf5.c — Keras 2's HDF5 weights (model.save_weights("w.h5")) with Debian's libhdf5.
 *
 * The layout (Keras 2, keras/saving/legacy/hdf5_format.py, save_weights_to_hdf5_group
 * and load_weights_from_hdf5_group): the root's attributes layer_names (every layer,
 * in model order), backend and keras_version; a group per layer with the attribute
 * weight_names ("lstm/lstm_cell/kernel:0", ...), each naming a dataset under the group
 * (so nested groups lstm/lstm/lstm_cell/kernel:0). An attribute larger than 64 KiB is
 * split into NAME0, NAME1, ... A whole-model file (model.save("m.h5")) keeps the same
 * under the group model_weights.
 *
 * The library is opened with dlopen when first needed, so that a trainer links as it
 * always did (librnnrt.a -lm) and runs without libhdf5 until HDF5 is asked for. The
 * build takes the types and the library's soname from libhdf5-dev's headers
 * (RNN_HAVE_HDF5, RNN_HDF5_SONAME; make HDF5=0 builds without).
 */
#include "interop/foreign.h"
#include "rnn_interop.h"

#include "core/atomic_file.h"
#include "core/errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef RNN_HAVE_HDF5

int rnn_hdf5_available(char *err, size_t errlen) {
    rnn_fail(err, errlen, "this build of rnnc has no HDF5 support (install libhdf5-dev and rebuild: make HDF5=1)");
    return 0;
}

int rnn_h5_read_weights(const char *path, rnn_foreign_set *s, char *err, size_t errlen) {
    (void)s;
    char why[256];
    rnn_hdf5_available(why, sizeof why);
    return rnn_fail(err, errlen, "%s: cannot read HDF5: %s", path, why);
}

int rnn_h5_write_weights(const rnn_model *m, const rnn_real *params, const char *path, char *err, size_t errlen) {
    (void)m, (void)params;
    char why[256];
    rnn_hdf5_available(why, sizeof why);
    return rnn_fail(err, errlen, "%s: cannot write HDF5: %s", path, why);
}

#else

#include "interop/keras_kinds.h"

#include <dlfcn.h>
#include <hdf5.h>
#include <pthread.h>

/* hdf5.h's H5F_ACC_* macros call H5check and H5open, which are not linked: their values */
#define ACC_RDONLY 0x0000u
#define ACC_TRUNC 0x0002u

#ifndef RNN_HDF5_SONAME
#define RNN_HDF5_SONAME "libhdf5_serial.so.103"
#endif

/* Every libhdf5 function and global used, by name: the table below holds a pointer of
 * each one's own type, taken from hdf5.h. */
#define H5_FUNCTIONS(X)                                                                                  \
    X(H5open) X(H5Eset_auto2) X(H5Fopen) X(H5Fcreate) X(H5Fclose) X(H5Gopen2) X(H5Gcreate2) X(H5Gclose)  \
    X(H5Lexists) X(H5Aexists) X(H5Aopen) X(H5Acreate2) X(H5Aread) X(H5Awrite) X(H5Aget_type)            \
    X(H5Aget_space) X(H5Aclose) X(H5Dopen2) X(H5Dcreate2) X(H5Dget_space) X(H5Dread) X(H5Dwrite)          \
    X(H5Dclose) X(H5Dvlen_reclaim) X(H5Screate) X(H5Screate_simple) X(H5Sget_simple_extent_ndims)        \
    X(H5Sget_simple_extent_dims) X(H5Sget_simple_extent_npoints) X(H5Sclose) X(H5Tcopy) X(H5Tset_size)   \
    X(H5Tset_strpad) X(H5Tget_size) X(H5Tget_class) X(H5Tis_variable_str) X(H5Tclose)                    \
    X(H5T_NATIVE_FLOAT_g) X(H5T_C_S1_g) X(H5T_IEEE_F32LE_g)

static struct {
#define H5_MEMBER_(f) __typeof__(f) *f;
    H5_FUNCTIONS(H5_MEMBER_)
#undef H5_MEMBER_
} h5;

static pthread_once_t h5_once = PTHREAD_ONCE_INIT;
static char h5_error[300];

static void h5_load(void) {
    void *lib = dlopen(RNN_HDF5_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(h5_error, sizeof h5_error, "cannot load Debian's libhdf5 (%s: %s; apt-get install libhdf5-103-1)",
                 RNN_HDF5_SONAME, dlerror());
        return;
    }
    void *p;
#define H5_RESOLVE_(f)                                                                             \
    if (!(p = dlsym(lib, #f))) {                                                                   \
        snprintf(h5_error, sizeof h5_error, "%s has no %s: not the libhdf5 rnnc was built for", RNN_HDF5_SONAME, #f); \
        return;                                                                                    \
    }                                                                                              \
    memcpy(&h5.f, &p, sizeof p);
    H5_FUNCTIONS(H5_RESOLVE_)
#undef H5_RESOLVE_
    if (h5.H5open() < 0) {
        snprintf(h5_error, sizeof h5_error, "libhdf5 did not start (H5open failed)");
        return;
    }
    h5.H5Eset_auto2(H5E_DEFAULT, NULL, NULL);   /* errors are reported here, not printed by the library */
}

int rnn_hdf5_available(char *err, size_t errlen) {
    pthread_once(&h5_once, h5_load);
    if (h5_error[0]) {
        rnn_fail(err, errlen, "%s", h5_error);
        return 0;
    }
    return 1;
}

/* ---- reading ------------------------------------------------------------------------ */

/* The strings of attribute name of obj, with Keras's split attributes (NAME0, NAME1, ...)
 * joined; an attribute of no elements (Keras writes an empty float array for a layer
 * without weights) is no strings. Appends to *out (count *n, each malloc'd). */
static int read_one_strings(hid_t obj, const char *name, char ***out, int *n, const char *path, char *err,
                            size_t errlen) {
    hid_t a = h5.H5Aopen(obj, name, H5P_DEFAULT), t = -1, s = -1, mt = -1;
    int rc = -1;
    char *buf = NULL;
    char **vl = NULL;
    if (a < 0) return rnn_fail(err, errlen, "%s: cannot open attribute %s", path, name);
    t = h5.H5Aget_type(a);
    s = h5.H5Aget_space(a);
    hssize_t count = s >= 0 ? h5.H5Sget_simple_extent_npoints(s) : -1;
    if (t < 0 || count < 0) {
        rnn_fail(err, errlen, "%s: cannot read attribute %s", path, name);
        goto done;
    }
    if (count == 0) {
        rc = 0;
        goto done;
    }
    if (h5.H5Tget_class(t) != H5T_STRING) {
        rnn_fail(err, errlen, "%s: attribute %s holds no strings", path, name);
        goto done;
    }
    char **grown = realloc(*out, (size_t)(*n + count) * sizeof *grown);
    if (!grown) {
        rnn_fail(err, errlen, "%s: out of memory", path);
        goto done;
    }
    *out = grown;
    mt = h5.H5Tcopy(*h5.H5T_C_S1_g);
    if (h5.H5Tis_variable_str(t) > 0) {
        vl = calloc((size_t)count, sizeof *vl);
        if (!vl || h5.H5Tset_size(mt, H5T_VARIABLE) < 0 || h5.H5Aread(a, mt, vl) < 0) {
            rnn_fail(err, errlen, "%s: cannot read attribute %s", path, name);
            goto done;
        }
        for (hssize_t i = 0; i < count; i++) (*out)[(*n)++] = strdup(vl[i] ? vl[i] : "");
        h5.H5Dvlen_reclaim(mt, s, H5P_DEFAULT, vl);
    } else {
        size_t w = h5.H5Tget_size(t);
        buf = calloc((size_t)count, w + 1);
        if (!buf || h5.H5Tset_size(mt, w + 1) < 0 || h5.H5Tset_strpad(mt, H5T_STR_NULLTERM) < 0 || h5.H5Aread(a, mt, buf) < 0) {
            rnn_fail(err, errlen, "%s: cannot read attribute %s", path, name);
            goto done;
        }
        for (hssize_t i = 0; i < count; i++) (*out)[(*n)++] = strndup(buf + (size_t)i * (w + 1), w);
    }
    rc = 0;
    for (int i = 0; i < *n; i++)
        if (!(*out)[i]) rc = rnn_fail(err, errlen, "%s: out of memory", path);
done:
    free(buf);
    free(vl);
    if (mt >= 0) h5.H5Tclose(mt);
    if (s >= 0) h5.H5Sclose(s);
    if (t >= 0) h5.H5Tclose(t);
    h5.H5Aclose(a);
    return rc;
}

static int read_strings(hid_t obj, const char *name, char ***out, int *n, const char *path, char *err, size_t errlen) {
    *out = NULL, *n = 0;
    if (h5.H5Aexists(obj, name) > 0) return read_one_strings(obj, name, out, n, path, err, errlen);
    char part[128];
    int found = 0;
    for (int k = 0;; k++) {
        snprintf(part, sizeof part, "%s%d", name, k);
        if (h5.H5Aexists(obj, part) <= 0) break;
        found = 1;
        if (read_one_strings(obj, part, out, n, path, err, errlen)) return -1;
    }
    return found ? 0 : rnn_fail(err, errlen, "%s: no attribute %s: not Keras's HDF5 weights layout", path, name);
}

static void free_strings(char **s, int n) {
    for (int i = 0; i < n; i++) free(s[i]);
    free(s);
}

static int read_dataset(hid_t g, const char *layer, const char *wname, rnn_foreign_set *s, const char *path, char *err,
                        size_t errlen) {
    hid_t d = h5.H5Dopen2(g, wname, H5P_DEFAULT), sp = -1;
    if (d < 0) return rnn_fail(err, errlen, "%s: layer %s lists weight %s, which is not in the file", path, layer, wname);
    int rc = -1;
    sp = h5.H5Dget_space(d);
    int rank = sp >= 0 ? h5.H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t dims[4];
    if (rank < 0 || rank > 4 || h5.H5Sget_simple_extent_dims(sp, dims, NULL) < 0) {
        rnn_fail(err, errlen, "%s: weight %s/%s: rank %d is not supported (0 to 4)", path, layer, wname, rank);
    } else {
        int64_t shape[4];
        for (int k = 0; k < rank; k++) shape[k] = (int64_t)dims[k];
        rnn_foreign_weight *w = rnn_foreign_add(s, layer, wname, rank, shape);
        if (!w) rnn_fail(err, errlen, "%s: out of memory", path);
        else if (h5.H5Dread(d, *h5.H5T_NATIVE_FLOAT_g, H5S_ALL, H5S_ALL, H5P_DEFAULT, w->data) < 0)
            rnn_fail(err, errlen, "%s: cannot read weight %s/%s as float (is it a number array?)", path, layer, wname);
        else rc = 0;
    }
    if (sp >= 0) h5.H5Sclose(sp);
    h5.H5Dclose(d);
    return rc;
}

int rnn_h5_read_weights(const char *path, rnn_foreign_set *s, char *err, size_t errlen) {
    char why[300];
    if (!rnn_hdf5_available(why, sizeof why)) return rnn_fail(err, errlen, "%s: cannot read HDF5: %s", path, why);
    hid_t f = h5.H5Fopen(path, ACC_RDONLY, H5P_DEFAULT), root = -1;
    if (f < 0) return rnn_fail(err, errlen, "%s: cannot open as HDF5", path);
    int rc = -1, nl = 0;
    char **layers = NULL;
    /* a whole model saved by model.save keeps its weights under model_weights */
    root = h5.H5Lexists(f, "model_weights", H5P_DEFAULT) > 0 ? h5.H5Gopen2(f, "model_weights", H5P_DEFAULT)
                                                           : h5.H5Gopen2(f, "/", H5P_DEFAULT);
    if (root < 0) {
        rnn_fail(err, errlen, "%s: cannot open its root group", path);
        goto done;
    }
    if (read_strings(root, "layer_names", &layers, &nl, path, err, errlen)) goto done;
    rc = 0;
    for (int i = 0; i < nl && !rc; i++) {
        hid_t g = h5.H5Gopen2(root, layers[i], H5P_DEFAULT);
        if (g < 0) {
            rc = rnn_fail(err, errlen, "%s: layer_names lists %s, which has no group", path, layers[i]);
            break;
        }
        char **wn = NULL;
        int nw = 0;
        rc = read_strings(g, "weight_names", &wn, &nw, path, err, errlen);
        for (int j = 0; j < nw && !rc; j++) rc = read_dataset(g, layers[i], wn[j], s, path, err, errlen);
        free_strings(wn, nw);
        h5.H5Gclose(g);
    }
done:
    free_strings(layers, nl);
    if (root >= 0) h5.H5Gclose(root);
    h5.H5Fclose(f);
    return rc;
}

/* ---- writing ------------------------------------------------------------------------------ */

/* A string attribute as h5py writes numpy bytes: fixed-length, null-padded; n < 0 is a
 * scalar (one string), else an array of n strings (n may be 0). */
static int write_strings(hid_t obj, const char *name, const char *const *v, int n) {
    size_t w = 1;
    int count = n < 0 ? 1 : n;
    for (int i = 0; i < count; i++) w = strlen(v[i]) > w ? strlen(v[i]) : w;
    char *buf = calloc((size_t)(count ? count : 1), w);
    if (!buf) return -1;
    for (int i = 0; i < count; i++) memcpy(buf + (size_t)i * w, v[i], strlen(v[i]));
    hsize_t dims[1] = {(hsize_t)count};
    hid_t t = h5.H5Tcopy(*h5.H5T_C_S1_g);
    hid_t s = n < 0 ? h5.H5Screate(H5S_SCALAR) : h5.H5Screate_simple(1, dims, NULL);
    int rc = -1;
    if (t >= 0 && s >= 0 && h5.H5Tset_size(t, w) >= 0 && h5.H5Tset_strpad(t, H5T_STR_NULLPAD) >= 0) {
        hid_t a = h5.H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
        if (a >= 0) {
            rc = h5.H5Awrite(a, t, buf) < 0 ? -1 : 0;
            h5.H5Aclose(a);
        }
    }
    if (s >= 0) h5.H5Sclose(s);
    if (t >= 0) h5.H5Tclose(t);
    free(buf);
    return rc;
}

/* The dataset at the relative path rel under g ("lstm/lstm_cell/kernel:0"), its groups
 * made on the way, holding t's values as float32. */
static int write_tensor(hid_t g, const char *rel, const rnn_tensor *t, const rnn_real *params) {
    char part[RNN_FOREIGN_NAME_MAX];
    hid_t cur = g;
    int rc = -1;
    const char *p = rel;
    for (const char *slash; (slash = strchr(p, '/')) != NULL; p = slash + 1) {
        snprintf(part, sizeof part, "%.*s", (int)(slash - p), p);
        hid_t next = h5.H5Lexists(cur, part, H5P_DEFAULT) > 0 ? h5.H5Gopen2(cur, part, H5P_DEFAULT)
                                                              : h5.H5Gcreate2(cur, part, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (cur != g) h5.H5Gclose(cur);
        if (next < 0) return -1;
        cur = next;
    }
    float *data = malloc(t->size * sizeof *data);
    hsize_t dims[4];
    for (int d = 0; d < t->rank; d++) dims[d] = (hsize_t)t->shape[d];
    hid_t s = h5.H5Screate_simple(t->rank, dims, NULL);
    if (data && s >= 0) {
        for (size_t e = 0; e < t->size; e++) data[e] = (float)params[t->offset + e];
        hid_t d = h5.H5Dcreate2(cur, p, *h5.H5T_IEEE_F32LE_g, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (d >= 0) {
            rc = h5.H5Dwrite(d, *h5.H5T_NATIVE_FLOAT_g, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0 ? -1 : 0;
            h5.H5Dclose(d);
        }
    }
    if (s >= 0) h5.H5Sclose(s);
    free(data);
    if (cur != g) h5.H5Gclose(cur);
    return rc;
}

/* Keras 2's full name of a weight: "dense/kernel:0", "lstm/lstm_cell/kernel:0", and a
 * Bidirectional's halves' "bidirectional/forward_lstm/lstm_cell/kernel:0" (the tensor's
 * own scope, "bidirectional/forward_lstm", then the wrapped kind's cell). */
static void keras2_weight_name(const rnn_model *m, const rnn_tensor *t, char *out, size_t cap) {
    const rnn_layer *l = &m->layers[t->layer];
    const rnn_keras_kind *kk = rnn_keras_kind_of(l->wrapped ? l->wrapped : l->kind);
    const char *slash = strrchr(t->name, '/'), *suffix = slash ? slash + 1 : t->name;
    if (l->wrapped && slash && kk && kk->cell)
        snprintf(out, cap, "%.*s/%s/%s:0", (int)(slash - t->name), t->name, kk->cell, suffix);
    else if (kk && kk->cell) snprintf(out, cap, "%s/%s/%s:0", l->name, kk->cell, suffix);
    else snprintf(out, cap, "%s/%s:0", l->name, suffix);
}

/* A layer's tensors at most: a Bidirectional's two halves of a recurrent layer's. */
#define MAX_LAYER_TENSORS (2 * RNN_T_RECURRENT_COUNT)

static int write_file(hid_t f, const rnn_model *m, const rnn_real *params) {
    const char *names[RNN_MAX_LAYERS];
    for (int i = 0; i < m->n_layers; i++) names[i] = m->layers[i].name;
    const char *backend[] = {"tensorflow"}, *version[] = {"2.15.0"};
    if (write_strings(f, "layer_names", names, m->n_layers) || write_strings(f, "backend", backend, -1) ||
        write_strings(f, "keras_version", version, -1))
        return -1;
    for (int i = 0; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        hid_t g = h5.H5Gcreate2(f, l->name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) return -1;
        char full[MAX_LAYER_TENSORS][RNN_FOREIGN_NAME_MAX];
        const char *wn[MAX_LAYER_TENSORS];
        int rc = 0;
        for (int j = 0; j < l->n_tensors && j < MAX_LAYER_TENSORS; j++) {
            keras2_weight_name(m, &m->tensors[l->first_tensor + j], full[j], sizeof full[j]);
            wn[j] = full[j];
        }
        rc = write_strings(g, "weight_names", wn, l->n_tensors);
        for (int j = 0; j < l->n_tensors && !rc; j++) rc = write_tensor(g, full[j], &m->tensors[l->first_tensor + j], params);
        h5.H5Gclose(g);
        if (rc) return -1;
    }
    return 0;
}

int rnn_h5_write_weights(const rnn_model *m, const rnn_real *params, const char *path, char *err, size_t errlen) {
    char why[300];
    if (!rnn_hdf5_available(why, sizeof why)) return rnn_fail(err, errlen, "%s: cannot write HDF5: %s", path, why);
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].n_tensors > MAX_LAYER_TENSORS || !rnn_keras_kind_of(m->layers[i].kind))
            return rnn_fail(err, errlen, "%s: layer %s (%s) has no Keras form yet", path, m->layers[i].name,
                            rnn_layer_class_name(m->layers[i].kind));
    /* libhdf5 writes the temporary by its name; the atomic file syncs and renames it */
    rnn_atomic_file a;
    if (rnn_atomic_open(&a, path, err, errlen)) return -1;
    hid_t f = h5.H5Fcreate(a.tmp, ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    int rc = f < 0 ? -1 : write_file(f, m, params);
    if (f >= 0 && h5.H5Fclose(f) < 0) rc = -1;
    if (rc) {
        rnn_atomic_abort(&a);
        return rnn_fail(err, errlen, "%s: cannot write the HDF5 file (libhdf5 failed; is the disk full?)", path);
    }
    return rnn_atomic_commit(&a, err, errlen);
}

#endif
