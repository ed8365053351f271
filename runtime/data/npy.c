/*
 * npy.c — reading token ids and labels from NumPy .npy files (format versions 1, 2, 3).
 *
 * The header, a small Python-literal dict ({'descr': '<i4', 'fortran_order': False,
 * 'shape': (N, T), }) after a magic string, is parsed rather than trusted: the shape is
 * checked against the model, and the data size it implies against the real file size
 * before a byte is allocated, so a hostile header that claims 10^15 rows fails with a
 * message, not an OOM. Values are decoded from the byte order the descr names ('=' is
 * the host's), whatever the host's. A bad value's message names its row and column,
 * counted from 0 and saying so.
 */
#include "core/errors.h"
#include "core/safetensors.h"
#include "data/data.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Largest header we accept: numpy writes ~128 bytes; 1 MiB is far beyond any real one
 * and keeps a hostile header length from turning into a huge allocation. */
#define NPY_MAX_HEADER (1u << 20)
#define NPY_MAX_RANK 8


void rnn_data_free(rnn_data *d) {
    if (!d) return;
    free(d->x);
    free(d->y);
    free(d->w);
    memset(d, 0, sizeof *d);
}

/* ---- dtype ------------------------------------------------------------------------ */

typedef enum { DT_INT, DT_UINT, DT_FLOAT, DT_BOOL } dt_kind;

typedef struct {
    dt_kind kind;
    int size;       /* bytes per item */
    int big;        /* 1: big-endian */
    char text[64];  /* the descr as written, for messages */
} npy_dtype;

static int host_is_big(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 0;
}

/* Parse a simple descr such as "<i4", ">f8", "|u1". Returns 0, or -1 if unsupported. */
static int parse_descr(const char *s, npy_dtype *dt) {
    size_t n = strlen(s);
    snprintf(dt->text, sizeof dt->text, "%s", s);
    if (n < 3 || n > 4) return -1;
    char order = s[0], kind = s[1];
    char *end = NULL;
    long size = strtol(s + 2, &end, 10);
    if (*end != '\0' || end == s + 2) return -1;
    switch (kind) {
    case 'i': dt->kind = DT_INT; break;
    case 'u': dt->kind = DT_UINT; break;
    case 'f': dt->kind = DT_FLOAT; break;
    case 'b': dt->kind = DT_BOOL; break;
    default: return -1;
    }
    if (dt->kind == DT_FLOAT) {
        if (size != 4 && size != 8) return -1;
    } else if (dt->kind == DT_BOOL) {
        if (size != 1) return -1;
    } else if (size != 1 && size != 2 && size != 4 && size != 8) {
        return -1;
    }
    dt->size = (int)size;
    switch (order) {
    case '<': dt->big = 0; break;
    case '>': dt->big = 1; break;
    case '=': dt->big = host_is_big(); break;
    case '|':
        /* "not applicable": only meaningful for single bytes */
        if (size != 1) return -1;
        dt->big = 0;
        break;
    default: return -1;
    }
    return 0;
}

/* One decoded element: integers keep their full range for exact checks and messages. */
typedef struct {
    dt_kind kind;   /* DT_BOOL decodes as DT_UINT */
    int64_t i;
    uint64_t u;
    double f;
} npy_value;

static npy_value decode(const unsigned char *p, const npy_dtype *dt) {
    uint64_t raw = 0;
    for (int k = 0; k < dt->size; k++) {
        unsigned b = dt->big ? p[k] : p[dt->size - 1 - k];
        raw = (raw << 8) | b;
    }
    npy_value v = {dt->kind, 0, 0, 0.0};
    switch (dt->kind) {
    case DT_BOOL:
        v.kind = DT_UINT;
        v.u = raw != 0;  /* numpy treats any nonzero byte as True */
        break;
    case DT_UINT: v.u = raw; break;
    case DT_INT: {
        int bits = 8 * dt->size;
        if (bits < 64 && (raw >> (bits - 1)) & 1u) raw |= ~(uint64_t)0 << bits;  /* sign-extend */
        v.i = raw <= (uint64_t)INT64_MAX ? (int64_t)raw : -(int64_t)(~raw) - 1;
        break;
    }
    case DT_FLOAT:
        if (dt->size == 4) {
            uint32_t r32 = (uint32_t)raw;
            float f;
            memcpy(&f, &r32, sizeof f);
            v.f = f;
        } else {
            memcpy(&v.f, &raw, sizeof v.f);
        }
        break;
    }
    return v;
}

/* The value as text for a message. */
static void value_text(const npy_value *v, char *buf, size_t len) {
    switch (v->kind) {
    case DT_INT: snprintf(buf, len, "%" PRId64, v->i); break;
    case DT_FLOAT: snprintf(buf, len, "%.9g", v->f); break;
    default: snprintf(buf, len, "%" PRIu64, v->u); break;
    }
}

/* The value as a double, whatever its kind. */
static double value_number(const npy_value *v) {
    return v->kind == DT_FLOAT ? v->f : v->kind == DT_INT ? (double)v->i : (double)v->u;
}

/* Is an integer value (DT_INT or DT_UINT) in [0, n)? */
static int int_below(const npy_value *v, int n) {
    return v->kind == DT_INT ? v->i >= 0 && v->i < n : v->u < (uint64_t)n;
}

/* ---- header ----------------------------------------------------------------------- */

typedef struct {
    npy_dtype dt;
    int rank;
    uint64_t shape[NPY_MAX_RANK];
    uint64_t data_bytes_available;  /* file size minus the header */
} npy_header;

typedef struct {
    const char *p;
} cursor;

static void skip_ws(cursor *c) {
    while (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r') c->p++;
}

/* A Python string literal in single or double quotes, without escapes (numpy never
 * writes any in these three keys). */
static int parse_str(cursor *c, char *out, size_t len) {
    char q = *c->p;
    if (q != '\'' && q != '"') return -1;
    const char *s = ++c->p;
    while (*c->p && *c->p != q) {
        if (*c->p == '\\') return -1;
        c->p++;
    }
    if (*c->p != q) return -1;
    size_t n = (size_t)(c->p - s);
    if (n >= len) return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    c->p++;
    return 0;
}

static int parse_uint(cursor *c, uint64_t *v) {
    if (*c->p < '0' || *c->p > '9') return -1;
    uint64_t x = 0;
    while (*c->p >= '0' && *c->p <= '9') {
        unsigned dgt = (unsigned)(*c->p - '0');
        if (x > (UINT64_MAX - dgt) / 10) return -1;
        x = x * 10 + dgt;
        c->p++;
    }
    if (*c->p == 'L') c->p++;  /* Python 2 longs */
    *v = x;
    return 0;
}

/* Parse the header dict. Returns 0 or -1 with err set. */
static int parse_dict(const char *path, const char *text, npy_header *h, int *fortran, char *err,
                      size_t errlen) {
    cursor c = {text};
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    skip_ws(&c);
    if (*c.p != '{') return rnn_fail(err, errlen, "%s: malformed .npy header (no '{')", path);
    c.p++;
    for (;;) {
        skip_ws(&c);
        if (*c.p == '}') {
            c.p++;
            break;
        }
        char key[32];
        if (parse_str(&c, key, sizeof key))
            return rnn_fail(err, errlen, "%s: malformed .npy header (expected a quoted key)", path);
        skip_ws(&c);
        if (*c.p != ':') return rnn_fail(err, errlen, "%s: malformed .npy header (no ':' after '%s')", path, key);
        c.p++;
        skip_ws(&c);
        if (strcmp(key, "descr") == 0 && !have_descr) {
            char d[64];
            if (*c.p == '[')
                return rnn_fail(err, errlen, "%s: unsupported dtype (structured arrays are not token ids or labels)", path);
            if (parse_str(&c, d, sizeof d))
                return rnn_fail(err, errlen, "%s: malformed .npy header (bad 'descr' value)", path);
            if (parse_descr(d, &h->dt))
                return rnn_fail(err, errlen, "%s: unsupported dtype '%s'", path, d);
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
            if (strncmp(c.p, "True", 4) == 0) {
                *fortran = 1;
                c.p += 4;
            } else if (strncmp(c.p, "False", 5) == 0) {
                *fortran = 0;
                c.p += 5;
            } else {
                return rnn_fail(err, errlen, "%s: malformed .npy header (bad 'fortran_order' value)", path);
            }
            have_fortran = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if (*c.p != '(') return rnn_fail(err, errlen, "%s: malformed .npy header (bad 'shape' value)", path);
            c.p++;
            h->rank = 0;
            for (;;) {
                skip_ws(&c);
                if (*c.p == ')') {
                    c.p++;
                    break;
                }
                if (h->rank == NPY_MAX_RANK)
                    return rnn_fail(err, errlen, "%s: malformed .npy header (more than %d dimensions)", path, NPY_MAX_RANK);
                if (parse_uint(&c, &h->shape[h->rank]))
                    return rnn_fail(err, errlen, "%s: malformed .npy header (bad dimension in 'shape')", path);
                h->rank++;
                skip_ws(&c);
                if (*c.p == ',') {
                    c.p++;
                } else if (*c.p != ')') {
                    return rnn_fail(err, errlen, "%s: malformed .npy header (bad 'shape' value)", path);
                }
            }
            have_shape = 1;
        } else {
            return rnn_fail(err, errlen, "%s: malformed .npy header (unexpected or repeated key '%s')", path, key);
        }
        skip_ws(&c);
        if (*c.p == ',') {
            c.p++;
        } else if (*c.p != '}') {
            return rnn_fail(err, errlen, "%s: malformed .npy header (expected ',' or '}')", path);
        }
    }
    skip_ws(&c);
    if (*c.p != '\0') return rnn_fail(err, errlen, "%s: malformed .npy header (text after '}')", path);
    if (!have_descr || !have_fortran || !have_shape)
        return rnn_fail(err, errlen, "%s: malformed .npy header (missing '%s')", path,
                    !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    return 0;
}

/* Open path and read its header. On success *fp is positioned at the first data byte
 * and h->data_bytes_available says how many bytes follow. */
static int read_header(const char *path, FILE **fp, npy_header *h, char *err, size_t errlen) {
    *fp = NULL;
    memset(h, 0, sizeof *h);
    /* The file size bounds everything the header may claim. */
    uint64_t size;
    int fd = rnn_open_regular(path, ".npy file", &size, err, errlen);
    if (fd < 0) return -1;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return rnn_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    }
    unsigned char pre[12];
    size_t got = fread(pre, 1, 8, f);
    static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    if (got < 6 || memcmp(pre, magic, 6) != 0) {
        fclose(f);
        return rnn_fail(err, errlen, "%s: not a .npy file (bad magic)", path);
    }
    if (got < 8) {
        fclose(f);
        return rnn_fail(err, errlen, "%s: truncated .npy header", path);
    }
    int major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0) {
        fclose(f);
        return rnn_fail(err, errlen, "%s: unsupported .npy format version %d.%d", path, major, minor);
    }
    size_t lenbytes = major == 1 ? 2 : 4;
    if (fread(pre + 8, 1, lenbytes, f) != lenbytes) {
        fclose(f);
        return rnn_fail(err, errlen, "%s: truncated .npy header", path);
    }
    uint32_t hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
    if (lenbytes == 4) hlen |= (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
    uint64_t prefix = 8 + lenbytes;
    if ((uint64_t)hlen > size - prefix) {
        fclose(f);
        return rnn_fail(err, errlen, "%s: truncated .npy header (%" PRIu32 " bytes announced, %" PRIu64 " present)",
                    path, hlen, size - prefix);
    }
    if (hlen > NPY_MAX_HEADER) {
        fclose(f);
        return rnn_fail(err, errlen, "%s: .npy header of %" PRIu32 " bytes is implausibly large", path, hlen);
    }
    char *text = malloc((size_t)hlen + 1);
    if (!text) {
        fclose(f);
        return rnn_fail(err, errlen, "%s: out of memory", path);
    }
    if (fread(text, 1, hlen, f) != hlen) {
        free(text);
        fclose(f);
        return rnn_fail(err, errlen, "%s: truncated .npy header", path);
    }
    text[hlen] = '\0';
    if (strlen(text) != hlen) {
        free(text);
        fclose(f);
        return rnn_fail(err, errlen, "%s: malformed .npy header (NUL byte)", path);
    }
    int fortran = 0;
    int rc = parse_dict(path, text, h, &fortran, err, errlen);
    free(text);
    if (rc == 0 && fortran)
        rc = rnn_fail(err, errlen, "%s: fortran_order arrays are not supported (save with C order)", path);
    if (rc) {
        fclose(f);
        return -1;
    }
    h->data_bytes_available = size - prefix - hlen;
    *fp = f;
    return 0;
}

static void shape_text(const npy_header *h, char *buf, size_t len) {
    size_t k = (size_t)snprintf(buf, len, "(");
    for (int r = 0; r < h->rank && k < len; r++)
        k += (size_t)snprintf(buf + k, len - k, r ? ", %" PRIu64 : "%" PRIu64, h->shape[r]);
    if (k < len) snprintf(buf + k, len - k, h->rank == 1 ? ",)" : ")");
}

/* Check that exactly `cells` items of the header's dtype follow the header. Done before
 * any allocation, with overflow-safe arithmetic. */
static int check_size(const char *path, const npy_header *h, uint64_t rows, uint64_t cols, char *err,
                      size_t errlen) {
    char shp[128];
    shape_text(h, shp, sizeof shp);
    uint64_t avail = h->data_bytes_available;
    uint64_t cells = rows * cols;
    if ((cols && rows > UINT64_MAX / cols) || cells > UINT64_MAX / (uint64_t)h->dt.size ||
        cells * (uint64_t)h->dt.size > avail)
        return rnn_fail(err, errlen, "%s: truncated data: shape %s of '%s' needs more than the %" PRIu64
                    " bytes present", path, shp, h->dt.text, avail);
    uint64_t need = cells * (uint64_t)h->dt.size;
    if (need < avail)
        return rnn_fail(err, errlen, "%s: %" PRIu64 " bytes of trailing data after the %s array", path,
                    avail - need, shp);
    if (cells > SIZE_MAX / sizeof(int32_t))
        return rnn_fail(err, errlen, "%s: shape %s is too large", path, shp);
    return 0;
}

/* Stream the data through a fixed buffer, calling fn on each element in order.
 * fn returns 0 to go on, -1 to stop (it has written err). */
typedef int (*elem_fn)(void *ctx, uint64_t index, const npy_value *v);

static int for_each(const char *path, FILE *f, const npy_header *h, uint64_t cells, elem_fn fn, void *ctx,
                    char *err, size_t errlen) {
    unsigned char buf[1 << 14];
    const size_t per = sizeof buf / (size_t)h->dt.size;
    uint64_t done = 0;
    while (done < cells) {
        size_t want = cells - done < per ? (size_t)(cells - done) : per;
        if (fread(buf, (size_t)h->dt.size, want, f) != want)
            return rnn_fail(err, errlen, "%s: read error or truncated data", path);
        for (size_t k = 0; k < want; k++) {
            npy_value v = decode(buf + k * (size_t)h->dt.size, &h->dt);
            if (fn(ctx, done + k, &v)) return -1;
        }
        done += want;
    }
    return 0;
}

/* ---- x ------------------------------------------------------------------------------ */

typedef struct {
    const char *path;
    int T, vocab;
    int32_t *x;
    char *err;
    size_t errlen;
} x_ctx;

static int x_elem(void *vctx, uint64_t index, const npy_value *v) {
    x_ctx *c = vctx;
    if (!int_below(v, c->vocab)) {
        char val[40];
        value_text(v, val, sizeof val);
        return rnn_fail(c->err, c->errlen, "%s: row %" PRIu64 ", column %" PRIu64 " (0-based): token id %s is outside [0, %d)",
                    c->path, index / (uint64_t)c->T, index % (uint64_t)c->T, val, c->vocab);
    }
    c->x[index] = v->kind == DT_INT ? (int32_t)v->i : (int32_t)v->u;
    return 0;
}

/* The common case, int32 in the host's byte order: one read, then one range check that
 * vectorizes, instead of decoding element by element. The message for a bad id is
 * x_elem's. */
static int read_x_native_i32(const char *path, FILE *f, uint64_t cells, x_ctx *c) {
    if (fread(c->x, sizeof *c->x, (size_t)cells, f) != (size_t)cells)
        return rnn_fail(c->err, c->errlen, "%s: read error or truncated data", path);
    uint32_t bad = 0;
    for (uint64_t i = 0; i < cells; i++) bad |= (uint32_t)((uint32_t)c->x[i] >= (uint32_t)c->vocab);
    for (uint64_t i = 0; bad && i < cells; i++) {
        npy_value v = {DT_INT, c->x[i], 0, 0.0};
        if (x_elem(c, i, &v)) return -1;
    }
    return 0;
}

int rnn_npy_read_x(const char *path, int T, int vocab, rnn_data *d, char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    if (T <= 0 || vocab <= 0) return rnn_fail(err, errlen, "%s: invalid model sizes (T %d, vocab %d)", path, T, vocab);
    FILE *f;
    npy_header h;
    if (read_header(path, &f, &h, err, errlen)) return -1;
    char shp[128];
    shape_text(&h, shp, sizeof shp);
    int rc = -1;
    int32_t *x = NULL;
    if (h.dt.kind != DT_INT && h.dt.kind != DT_UINT) {
        rnn_fail(err, errlen, "%s: token ids must be integers, not '%s'", path, h.dt.text);
    } else if (h.rank != 2) {
        rnn_fail(err, errlen, "%s: token ids must have shape (N, %d), not %s", path, T, shp);
    } else if (h.shape[1] != (uint64_t)T) {
        rnn_fail(err, errlen, "%s: shape %s but the model takes %d timesteps", path, shp, T);
    } else if (h.shape[0] == 0) {
        rnn_fail(err, errlen, "%s: no samples (shape %s)", path, shp);
    } else if (check_size(path, &h, h.shape[0], (uint64_t)T, err, errlen) == 0) {
        /* check_size bounded n*T by the file size, so this product cannot overflow */
        size_t cells = (size_t)h.shape[0] * (size_t)T;
        x = malloc(cells * sizeof *x);
        if (!x) {
            rnn_fail(err, errlen, "%s: out of memory for %s token ids", path, shp);
        } else {
            x_ctx c = {path, T, vocab, x, err, errlen};
            if (h.dt.kind == DT_INT && h.dt.size == 4 && h.dt.big == host_is_big())
                rc = read_x_native_i32(path, f, cells, &c);
            else
                rc = for_each(path, f, &h, cells, x_elem, &c, err, errlen);
        }
    }
    fclose(f);
    if (rc) {
        free(x);
        return -1;
    }
    d->n = (size_t)h.shape[0];
    d->T = T;
    d->x = x;
    d->y = NULL;
    return 0;
}

/* ---- y ------------------------------------------------------------------------------ */

typedef struct {
    const char *path;
    rnn_loss_kind loss;
    int n_classes;
    int width;       /* labels per row: 1, or n_classes for one-hot and multi-label rows */
    float *y;
    char *err;
    size_t errlen;
} y_ctx;

/* "row R" or, for a row of several labels, "row R, column C" (0-based). */
static const char *where(const y_ctx *c, uint64_t index, char *buf, size_t n) {
    if (c->width == 1) snprintf(buf, n, "row %" PRIu64, index);
    else snprintf(buf, n, "row %" PRIu64 ", column %" PRIu64, index / (uint64_t)c->width, index % (uint64_t)c->width);
    return buf;
}

static int y_elem(void *vctx, uint64_t index, const npy_value *v) {
    y_ctx *c = vctx;
    char val[40], at[64];
    value_text(v, val, sizeof val);
    if (c->loss != RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY) {   /* binary, one-hot: each label in [0, 1] */
        const char *what = c->loss == RNN_LOSS_BINARY_CROSSENTROPY ? "binary labels" : "one-hot labels";
        if (v->kind == DT_FLOAT) {
            if (!(v->f >= 0.0 && v->f <= 1.0))  /* also false for NaN */
                return rnn_fail(c->err, c->errlen, "%s: %s (0-based): label %s is not in [0, 1] (%s)", c->path,
                                where(c, index, at, sizeof at), val, what);
            c->y[index] = (float)v->f;
        } else {
            if (!int_below(v, 2))
                return rnn_fail(c->err, c->errlen, "%s: %s (0-based): label %s is not 0 or 1 (%s)", c->path,
                                where(c, index, at, sizeof at), val, what);
            c->y[index] = v->kind == DT_INT ? (float)v->i : (float)v->u;
        }
        return 0;
    }
    /* sparse categorical: an integer class index */
    if (v->kind == DT_FLOAT) {
        if (!(v->f >= 0.0 && v->f < (double)c->n_classes) || v->f != floor(v->f))
            return rnn_fail(c->err, c->errlen, "%s: row %" PRIu64 " (0-based): label %s is not a class index in [0, %d)",
                        c->path, index, val, c->n_classes);
        c->y[index] = (float)v->f;
    } else {
        if (!int_below(v, c->n_classes))
            return rnn_fail(c->err, c->errlen, "%s: row %" PRIu64 " (0-based): label %s is not a class index in [0, %d)",
                        c->path, index, val, c->n_classes);
        c->y[index] = v->kind == DT_INT ? (float)v->i : (float)v->u;
    }
    return 0;
}

int rnn_data_label_width(rnn_loss_kind loss, int n_outputs) {
    return loss == RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY ? 1 : n_outputs;
}

/* One-hot labels: every row sums to 1 (a probability distribution; TensorFlow's gradient
 * of the categorical cross-entropy assumes it). */
static int check_rows_sum(const char *path, const float *y, size_t n, int K, char *err, size_t errlen) {
    for (size_t i = 0; i < n; i++) {
        double sum = 0;
        for (int k = 0; k < K; k++) sum += y[i * (size_t)K + (size_t)k];
        if (!(fabs(sum - 1.0) <= 1e-4))
            return rnn_fail(err, errlen, "%s: row %zu (0-based): the labels sum to %.9g, not 1 (categorical_crossentropy "
                                         "takes one-hot rows, or probabilities)", path, i, sum);
    }
    return 0;
}

int rnn_npy_read_y(const char *path, rnn_loss_kind loss, int n_classes, rnn_data *d, char *err, size_t errlen) {
    if (n_classes < 1) return rnn_fail(err, errlen, "%s: invalid number of classes %d", path, n_classes);
    const int width = rnn_data_label_width(loss, n_classes);
    FILE *f;
    npy_header h;
    if (read_header(path, &f, &h, err, errlen)) return -1;
    char shp[128];
    shape_text(&h, shp, sizeof shp);
    int rc = -1;
    float *y = NULL;
    if (width == 1 && h.rank != 1 && !(h.rank == 2 && h.shape[1] == 1)) {
        rnn_fail(err, errlen, "%s: labels must have shape (N,) or (N, 1), not %s", path, shp);
    } else if (width > 1 && !(h.rank == 2 && h.shape[1] == (uint64_t)width)) {
        rnn_fail(err, errlen, "%s: labels must have shape (N, %d) (one per output of %s), not %s", path, width,
                 rnn_loss_name(loss), shp);
    } else if (h.shape[0] != (uint64_t)d->n) {
        rnn_fail(err, errlen, "%s: %" PRIu64 " labels but the token ids have %zu rows", path, h.shape[0], d->n);
    } else if (d->n == 0) {
        rnn_fail(err, errlen, "%s: no samples", path);
    } else if (check_size(path, &h, h.shape[0], (uint64_t)width, err, errlen) == 0) {
        y = malloc(d->n * (size_t)width * sizeof *y);
        if (!y) {
            rnn_fail(err, errlen, "%s: out of memory", path);
        } else {
            y_ctx c = {path, loss, n_classes, width, y, err, errlen};
            rc = for_each(path, f, &h, d->n * (size_t)width, y_elem, &c, err, errlen);
            if (!rc && loss == RNN_LOSS_CATEGORICAL_CROSSENTROPY) rc = check_rows_sum(path, y, d->n, width, err, errlen);
        }
    }
    fclose(f);
    if (rc) {
        free(y);
        return -1;
    }
    free(d->y);
    d->y = y;
    d->label_width = width;
    return 0;
}

/* ---- sample weights ------------------------------------------------------------------ */

/* What the float readers' element callbacks fill: out[index] of a matrix of cols columns. */
typedef struct {
    const char *path;
    uint64_t cols;
    float *out;
    char *err;
    size_t errlen;
} float_ctx;

static int w_elem(void *vctx, uint64_t index, const npy_value *v) {
    float_ctx *c = vctx;
    const double x = value_number(v);
    if (!(x >= 0 && isfinite(x) && x <= 3.4e38)) {
        char val[40];
        value_text(v, val, sizeof val);
        return rnn_fail(c->err, c->errlen, "%s: row %" PRIu64 " (0-based): sample weight %s is not a non-negative finite number",
                        c->path, index, val);
    }
    c->out[index] = (float)x;
    return 0;
}

int rnn_npy_read_weights(const char *path, rnn_data *d, char *err, size_t errlen) {
    FILE *f;
    npy_header h;
    if (read_header(path, &f, &h, err, errlen)) return -1;
    char shp[128];
    shape_text(&h, shp, sizeof shp);
    int rc = -1;
    float *w = NULL;
    if (h.rank != 1 && !(h.rank == 2 && h.shape[1] == 1)) {
        rnn_fail(err, errlen, "%s: sample weights must have shape (N,) or (N, 1), not %s", path, shp);
    } else if (h.shape[0] != (uint64_t)d->n) {
        rnn_fail(err, errlen, "%s: %" PRIu64 " sample weights but the data has %zu rows", path, h.shape[0], d->n);
    } else if (d->n == 0) {
        rnn_fail(err, errlen, "%s: no samples", path);
    } else if (check_size(path, &h, h.shape[0], 1, err, errlen) == 0) {
        w = malloc(d->n * sizeof *w);
        if (!w) {
            rnn_fail(err, errlen, "%s: out of memory", path);
        } else {
            float_ctx c = {path, 1, w, err, errlen};
            rc = for_each(path, f, &h, d->n, w_elem, &c, err, errlen);
        }
    }
    fclose(f);
    if (rc) {
        free(w);
        return -1;
    }
    free(d->w);
    d->w = w;
    return 0;
}

/* ---- a float matrix -------------------------------------------------------------------- */

static int m_elem(void *vctx, uint64_t index, const npy_value *v) {
    float_ctx *c = vctx;
    const double x = value_number(v);
    if (!isfinite(x) || fabs(x) > 3.4e38) {
        char val[40];
        value_text(v, val, sizeof val);
        return rnn_fail(c->err, c->errlen, "%s: row %" PRIu64 ", column %" PRIu64 " (0-based): %s is not a finite float",
                        c->path, index / c->cols, index % c->cols, val);
    }
    c->out[index] = (float)x;
    return 0;
}

int rnn_npy_read_matrix(const char *path, int rows, int cols, float *out, char *err, size_t errlen) {
    FILE *f;
    npy_header h;
    if (read_header(path, &f, &h, err, errlen)) return -1;
    char shp[128];
    shape_text(&h, shp, sizeof shp);
    int rc = -1;
    if (h.dt.kind == DT_BOOL) {
        rnn_fail(err, errlen, "%s: a matrix of numbers, not '%s'", path, h.dt.text);
    } else if (h.rank != 2 || h.shape[0] != (uint64_t)rows || h.shape[1] != (uint64_t)cols) {
        rnn_fail(err, errlen, "%s: shape %s, but the layer takes (%d, %d)", path, shp, rows, cols);
    } else if (check_size(path, &h, h.shape[0], h.shape[1], err, errlen) == 0) {
        float_ctx c = {path, (uint64_t)cols, out, err, errlen};
        rc = for_each(path, f, &h, (uint64_t)rows * (uint64_t)cols, m_elem, &c, err, errlen);
    }
    fclose(f);
    return rc;
}
