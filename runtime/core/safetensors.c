/*
 * safetensors.c — checkpoint files in the safetensors format (see safetensors.h).
 *
 * The reader treats a file as untrusted input: every size is checked before it is
 * used, and the JSON header goes through the strict parser of json.c before the
 * safetensors schema is checked on the parsed tree. Everything a file refers to lives
 * in one allocation per kind (file bytes, parsed strings, index arrays), so closing or
 * failing frees a fixed handful of blocks. __metadata__ values and tensor names may
 * not contain U+0000, since the API hands them out as C strings.
 */
#include "core/atomic_file.h"
#include "core/safetensors.h"
#include "core/errors.h"
#include "core/json.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* safetensors data is little-endian. On a little-endian host the writer and reader
 * hand the bytes through; on a big-endian one (s390x, tests/shipping.sh) every element
 * is byte-swapped on the way: in a copy when writing, in place when reading. */
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
#define HOST_IS_LE() (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
#else
static int host_is_le(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}
#define HOST_IS_LE() host_is_le()
#endif

/* Reverse the bytes of each of the n elements of size es at p (es 1: nothing to do). */
static void swap_elements(unsigned char *p, size_t n, size_t es) {
    for (size_t i = 0; es > 1 && i < n; i++, p += es)
        for (size_t a = 0, b = es - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

#define HEADER_MAX ((uint64_t)100 << 20) /* 100 MiB, the bound the Rust crate uses too */
#define FILE_MAX ((uint64_t)4 << 30)     /* 4 GiB: far above any rnnc checkpoint */

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [RNN_ST_F32] = {"F32", 4}, [RNN_ST_F64] = {"F64", 8}, [RNN_ST_I32] = {"I32", 4},
    [RNN_ST_I64] = {"I64", 8}, [RNN_ST_U8] = {"U8", 1},
};
#define N_DTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

static bool utf8_valid(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n) {
        size_t k = rnn_utf8_seq(p, n);
        if (!k) return false;
        p += k, n -= k;
    }
    return true;
}

/* Elements and bytes of a shape, with every multiplication checked. */
static bool shape_bytes(const int64_t *shape, int rank, size_t elsize, uint64_t *bytes) {
    uint64_t n = 1;
    for (int d = 0; d < rank; d++) {
        if (shape[d] < 0) return false;
        uint64_t v = (uint64_t)shape[d];
        if (v && n > UINT64_MAX / v) return false;
        n *= v;
    }
    if (n > UINT64_MAX / elsize) return false;
    *bytes = n * elsize;
    return true;
}

static void format_shape(char *buf, size_t cap, const int64_t *shape, int rank) {
    size_t used = 0;
    buf[0] = 0;
    used += (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < rank && used < cap; d++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%" PRId64, d ? ", " : "", shape[d]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
}

/* =============================================================================
 * Growing byte buffer for the writer.
 * =========================================================================== */
typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n + 1) {
            if (cap > SIZE_MAX / 2) {
                b->oom = true;
                return;
            }
            cap *= 2;
        }
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q, b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_puts(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof tmp) sb_put(b, tmp, (size_t)n);
    else b->oom = true; /* only used for numbers, which always fit */
}

/* A JSON string: quotes, backslashes and all control characters escaped; the rest of
 * the (already validated) UTF-8 is copied as is, which JSON allows and keeps
 * non-ASCII vocabularies readable in the header. */
static void sb_json_string(sbuf *b, const char *s) {
    static const char hex[] = "0123456789abcdef";
    sb_put(b, "\"", 1);
    const char *run = s;
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c && c != '"' && c != '\\' && c >= 0x20) continue;
        sb_put(b, run, (size_t)(p - run));
        if (!c) break;
        run = p + 1;
        switch (c) {
        case '"': sb_put(b, "\\\"", 2); break;
        case '\\': sb_put(b, "\\\\", 2); break;
        case '\n': sb_put(b, "\\n", 2); break;
        case '\t': sb_put(b, "\\t", 2); break;
        case '\r': sb_put(b, "\\r", 2); break;
        case '\b': sb_put(b, "\\b", 2); break;
        case '\f': sb_put(b, "\\f", 2); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sb_put(b, u, 6);
        }
        }
    }
    sb_put(b, "\"", 1);
}

/* =============================================================================
 * Writer
 *
 * The JSON header keeps the caller's order, but the data is laid out widest element
 * first (8-byte dtypes, then 4-byte, then 1-byte; stable within a width). Every offset
 * is then a multiple of its element size and, since the data region starts at a
 * multiple of 8, every tensor is naturally aligned in the file and in the reader's
 * buffer without padding (which the format forbids: offsets must be contiguous).
 * =========================================================================== */
static int cmp_cstr_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted copy of n strings; returns the first duplicate or NULL. *oom on failure. */
static const char *find_duplicate(const char *const *s, size_t stride, int n, bool *oom) {
    *oom = false;
    if (n < 2) return NULL;
    const char **v = malloc((size_t)n * sizeof *v);
    if (!v) {
        *oom = true;
        return NULL;
    }
    for (int i = 0; i < n; i++) v[i] = *(const char *const *)((const char *)s + (size_t)i * stride);
    qsort(v, (size_t)n, sizeof *v, cmp_cstr_ptr);
    const char *dup = NULL;
    for (int i = 1; i < n && !dup; i++)
        if (!strcmp(v[i - 1], v[i])) dup = v[i];
    free(v);
    return dup;
}

int rnn_st_write(const char *path, const rnn_st_tensor *tensors, int n_tensors,
                 const char *const *meta_keys, const char *const *meta_values, int n_meta,
                 char *err, size_t errlen) {
    if (n_tensors < 0 || n_meta < 0 || (n_tensors && !tensors) ||
        (n_meta && (!meta_keys || !meta_values))) {
        rnn_fail(err, errlen, "%s: cannot write: invalid tensor or metadata arrays", path);
        return -1;
    }

    /* Validate everything first: a file is only started once we know it is right. */
    uint64_t total = 0;
    uint64_t *bytes = malloc(((size_t)n_tensors + 1) * sizeof *bytes);
    uint64_t *begin = malloc(((size_t)n_tensors + 1) * sizeof *begin);
    int *order = malloc(((size_t)n_tensors + 1) * sizeof *order);
    sbuf h = {0};
    rnn_atomic_file af;
    if (!bytes || !begin || !order) goto oom;
    for (int i = 0; i < n_tensors; i++) {
        const rnn_st_tensor *t = &tensors[i];
        if (!t->name || !t->name[0]) {
            rnn_fail(err, errlen, "%s: cannot write: tensor %d has an empty name", path, i);
            goto fail;
        }
        if (!utf8_valid(t->name)) {
            rnn_fail(err, errlen, "%s: cannot write: tensor %d: name is not valid UTF-8", path, i);
            goto fail;
        }
        if (!strcmp(t->name, "__metadata__")) {
            rnn_fail(err, errlen, "%s: cannot write: '__metadata__' is reserved, not a tensor name",
                     path);
            goto fail;
        }
        if ((int)t->dtype < 0 || (int)t->dtype >= N_DTYPES) {
            rnn_fail(err, errlen, "%s: cannot write: tensor '%s': unknown dtype %d", path, t->name,
                     (int)t->dtype);
            goto fail;
        }
        if (t->rank < 0 || t->rank > RNN_ST_MAX_RANK) {
            rnn_fail(err, errlen, "%s: cannot write: tensor '%s': rank %d is outside 0..%d", path,
                     t->name, t->rank, RNN_ST_MAX_RANK);
            goto fail;
        }
        for (int d = 0; d < t->rank; d++)
            if (t->shape[d] < 0) {
                rnn_fail(err, errlen, "%s: cannot write: tensor '%s': dimension %d is negative (%" PRId64 ")",
                         path, t->name, d, t->shape[d]);
                goto fail;
            }
        if (!shape_bytes(t->shape, t->rank, dtypes[t->dtype].size, &bytes[i]) ||
            bytes[i] > FILE_MAX - total) {
            char sh[160];
            format_shape(sh, sizeof sh, t->shape, t->rank);
            rnn_fail(err, errlen, "%s: cannot write: tensor '%s': shape %s is too large", path,
                     t->name, sh);
            goto fail;
        }
        if (bytes[i] && !t->data) {
            rnn_fail(err, errlen, "%s: cannot write: tensor '%s': data is NULL", path, t->name);
            goto fail;
        }
        total += bytes[i];
    }
    bool oom = false;
    const char *dup = NULL;
    if (n_tensors > 1)
        dup = find_duplicate((const char *const *)(const void *)&tensors[0].name,
                             sizeof(rnn_st_tensor), n_tensors, &oom);
    if (oom) goto oom;
    if (dup) {
        rnn_fail(err, errlen, "%s: cannot write: duplicate tensor name '%s'", path, dup);
        goto fail;
    }
    for (int i = 0; i < n_meta; i++) {
        if (!meta_keys[i] || !meta_values[i]) {
            rnn_fail(err, errlen, "%s: cannot write: metadata entry %d is NULL", path, i);
            goto fail;
        }
        if (!utf8_valid(meta_keys[i]) || !utf8_valid(meta_values[i])) {
            rnn_fail(err, errlen, "%s: cannot write: metadata '%s': not valid UTF-8", path,
                     meta_keys[i]);
            goto fail;
        }
    }
    dup = find_duplicate(meta_keys, sizeof(const char *), n_meta, &oom);
    if (oom) goto oom;
    if (dup) {
        rnn_fail(err, errlen, "%s: cannot write: duplicate metadata key '%s'", path, dup);
        goto fail;
    }

    /* Data layout: widest elements first (see the top of the file), stable. */
    int k = 0;
    for (size_t w = 8; w >= 1; w /= 2)
        for (int i = 0; i < n_tensors; i++)
            if (dtypes[tensors[i].dtype].size == w) order[k++] = i;
    uint64_t off = 0;
    for (int j = 0; j < n_tensors; j++) {
        begin[order[j]] = off;
        off += bytes[order[j]];
    }

    /* Header, compact like the Rust crate's: __metadata__ first (only if any), then
     * the tensors in the caller's order, keys dtype/shape/data_offsets. */
    sb_puts(&h, "{");
    if (n_meta) {
        sb_puts(&h, "\"__metadata__\":{");
        for (int i = 0; i < n_meta; i++) {
            if (i) sb_puts(&h, ",");
            sb_json_string(&h, meta_keys[i]);
            sb_puts(&h, ":");
            sb_json_string(&h, meta_values[i]);
        }
        sb_puts(&h, "}");
    }
    for (int i = 0; i < n_tensors; i++) {
        const rnn_st_tensor *t = &tensors[i];
        if (i || n_meta) sb_puts(&h, ",");
        sb_json_string(&h, t->name);
        sb_puts(&h, ":{\"dtype\":");
        sb_json_string(&h, dtypes[t->dtype].name);
        sb_puts(&h, ",\"shape\":[");
        for (int d = 0; d < t->rank; d++) sb_printf(&h, d ? ",%" PRId64 : "%" PRId64, t->shape[d]);
        sb_printf(&h, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", begin[i], begin[i] + bytes[i]);
    }
    sb_puts(&h, "}");
    /* Pad with spaces so the data starts 8-aligned, as the Rust crate does. */
    while (!h.oom && (h.len % 8)) sb_puts(&h, " ");
    if (h.oom) goto oom;
    if (h.len > HEADER_MAX || total > FILE_MAX - 8 - h.len) {
        rnn_fail(err, errlen, "%s: cannot write: the file would exceed the reader's limits "
                              "(header %zu bytes, data %" PRIu64 " bytes)", path, h.len, total);
        goto fail;
    }

    if (rnn_atomic_open(&af, path, err, errlen) != 0) goto fail;
    unsigned char len8[8];
    for (int b = 0; b < 8; b++) len8[b] = (unsigned char)((uint64_t)h.len >> (8 * b));
    bool ok = fwrite(len8, 1, 8, af.f) == 8 && fwrite(h.p, 1, h.len, af.f) == h.len;
    for (int j = 0; ok && j < n_tensors; j++) {
        uint64_t tb = bytes[order[j]];
        if (!tb) continue;
        const rnn_st_tensor *t = &tensors[order[j]];
        size_t es = dtypes[t->dtype].size;
        if (HOST_IS_LE() || es == 1) {
            ok = fwrite(t->data, 1, (size_t)tb, af.f) == tb;
            continue;
        }
        /* big-endian host: the elements little-endian, a chunk at a time */
        unsigned char chunk[4096];
        for (size_t at = 0; ok && at < tb; at += sizeof chunk) {
            size_t len = (size_t)tb - at < sizeof chunk ? (size_t)tb - at : sizeof chunk;
            memcpy(chunk, (const unsigned char *)t->data + at, len);
            swap_elements(chunk, len / es, es);
            ok = fwrite(chunk, 1, len, af.f) == len;
        }
    }
    if (!ok) {
        /* Keep the errno of the failing write: it is the cause (ENOSPC, EFBIG...). */
        int e = errno ? errno : EIO;
        rnn_atomic_abort(&af);
        rnn_fail(err, errlen, "%s: cannot write: %s", path, strerror(e));
        goto fail;
    }
    if (rnn_atomic_commit(&af, err, errlen) != 0) goto fail;
    free(bytes);
    free(begin);
    free(order);
    free(h.p);
    return 0;

oom:
    rnn_fail(err, errlen, "%s: cannot write: out of memory", path);
fail:
    free(bytes);
    free(begin);
    free(order);
    free(h.p);
    return -1;
}

/* =============================================================================
 * Reader
 *
 * Tensors come out in the order of the JSON header. Any order is accepted as long as
 * the sorted offsets tile the data region from 0 to its end (the reference Rust
 * crate's rule), so files from other writers load too. The data region is placed at
 * an 8-aligned address; a foreign file's tensors not aligned to their element size are
 * copied into aligned storage, so that rnn_st_tensor.data is always aligned for its
 * dtype and callers read it as float/double/int32/int64 directly, without memcpy.
 * =========================================================================== */
struct rnn_st_file {
    unsigned char *alloc; /* the file's bytes (shifted so the data region is 8-aligned) */
    unsigned char *copies; /* aligned copies of misaligned tensors of foreign files */
    rnn_arena ar;          /* parsed header strings */
    int n;
    rnn_st_tensor *t;         /* header order */
    const rnn_st_tensor **by_name;
    int n_meta;
    const char **meta; /* key, value, key, value... sorted by key */
};

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp((*(const rnn_st_tensor *const *)a)->name, (*(const rnn_st_tensor *const *)b)->name);
}

static int cmp_meta(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct {
    uint64_t begin, end;
    int idx;
} span;

static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* An integer-valued member that must be a non-negative int64. */
static int get_uint(const rnn_jval *v, const char *what, int index, const char *tname, char *msg,
                    size_t msglen, uint64_t *out) {
    if (v->type == RNN_J_INT) {
        if (v->i < 0) {
            snprintf(msg, msglen, "tensor '%s': %s[%d] is negative (%" PRId64 ")", tname, what,
                     index, v->i);
            return -1;
        }
        *out = (uint64_t)v->i;
        return 0;
    }
    if (v->type == RNN_J_NUM)
        snprintf(msg, msglen, "tensor '%s': %s[%d] must be an integer (got %.*s)", tname, what,
                 index, (int)(v->rawlen > 40 ? 40 : v->rawlen), v->raw);
    else
        snprintf(msg, msglen, "tensor '%s': %s[%d] must be an integer (got %s)", tname, what, index,
                 rnn_json_type_name(v->type));
    return -1;
}

/* Checks the parsed header against the safetensors schema and fills f. On error,
 * writes the message (without the path) to msg. */
static int load_header(rnn_st_file *f, const rnn_jval *root, unsigned char *data, uint64_t data_len,
                       char *msg, size_t msglen) {
    if (root->type != RNN_J_OBJ) {
        snprintf(msg, msglen, "header is %s, not a JSON object", rnn_json_type_name(root->type));
        return -1;
    }
    int n = 0;
    const rnn_jval *meta = NULL;
    for (size_t i = 0; i < root->n; i++) {
        if (!strcmp(root->key[i].s, "__metadata__") && root->key[i].n == 12) meta = &root->item[i];
        else n++;
    }
    if (root->n > (size_t)INT_MAX) {
        snprintf(msg, msglen, "too many tensors");
        return -1;
    }
    f->t = calloc((size_t)n + 1, sizeof *f->t);
    f->by_name = calloc((size_t)n + 1, sizeof *f->by_name);
    span *sp = calloc((size_t)n + 1, sizeof *sp);
    int rc = -1;
    if (!f->t || !f->by_name || !sp) {
        snprintf(msg, msglen, "out of memory");
        goto out;
    }

    if (meta) {
        if (meta->type != RNN_J_OBJ) {
            snprintf(msg, msglen, "__metadata__ must be an object of strings (got %s)",
                     rnn_json_type_name(meta->type));
            goto out;
        }
        f->meta = calloc(2 * meta->n + 1, sizeof *f->meta);
        if (!f->meta) {
            snprintf(msg, msglen, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < meta->n; i++) {
            const rnn_jstr *k = &meta->key[i];
            const rnn_jval *v = &meta->item[i];
            if (v->type != RNN_J_STR) {
                snprintf(msg, msglen, "__metadata__ '%s': value must be a string (got %s)", k->s,
                         rnn_json_type_name(v->type));
                goto out;
            }
            if (strlen(k->s) != k->n || strlen(v->str.s) != v->str.n) {
                snprintf(msg, msglen, "__metadata__ '%s': contains a NUL character (\\u0000)", k->s);
                goto out;
            }
            f->meta[2 * i] = k->s;
            f->meta[2 * i + 1] = v->str.s;
        }
        f->n_meta = (int)meta->n;
        qsort(f->meta, meta->n, 2 * sizeof *f->meta, cmp_meta);
    }

    int t = 0;
    for (size_t i = 0; i < root->n; i++) {
        const rnn_jval *v = &root->item[i];
        if (&root->item[i] == meta) continue;
        const char *name = root->key[i].s;
        rnn_st_tensor *ts = &f->t[t];
        if (!root->key[i].n) {
            snprintf(msg, msglen, "empty tensor name");
            goto out;
        }
        if (strlen(name) != root->key[i].n) {
            snprintf(msg, msglen, "tensor '%s': name contains a NUL character (\\u0000)", name);
            goto out;
        }
        if (v->type != RNN_J_OBJ) {
            snprintf(msg, msglen, "tensor '%s': entry must be an object (got %s)", name,
                     rnn_json_type_name(v->type));
            goto out;
        }
        const rnn_jval *dt = NULL, *shape = NULL, *offs = NULL;
        for (size_t m = 0; m < v->n; m++) {
            const char *key = v->key[m].s;
            if (!strcmp(key, "dtype")) dt = &v->item[m];
            else if (!strcmp(key, "shape")) shape = &v->item[m];
            else if (!strcmp(key, "data_offsets")) offs = &v->item[m];
            else {
                snprintf(msg, msglen, "tensor '%s': unknown key \"%s\"", name, key);
                goto out;
            }
        }
        if (!dt || !shape || !offs) {
            snprintf(msg, msglen, "tensor '%s': missing \"%s\"", name,
                     !dt ? "dtype" : !shape ? "shape" : "data_offsets");
            goto out;
        }
        if (dt->type != RNN_J_STR) {
            snprintf(msg, msglen, "tensor '%s': dtype must be a string (got %s)", name,
                     rnn_json_type_name(dt->type));
            goto out;
        }
        int d = 0;
        while (d < N_DTYPES && strcmp(dt->str.s, dtypes[d].name)) d++;
        if (d == N_DTYPES) {
            snprintf(msg, msglen, "tensor '%s': unsupported dtype \"%.20s\" (rnnc reads F32, F64, "
                                  "I32, I64 and U8)", name, dt->str.s);
            goto out;
        }
        if (shape->type != RNN_J_ARR) {
            snprintf(msg, msglen, "tensor '%s': shape must be an array of integers (got %s)", name,
                     rnn_json_type_name(shape->type));
            goto out;
        }
        if (shape->n > RNN_ST_MAX_RANK) {
            snprintf(msg, msglen, "tensor '%s': rank %zu is above the supported maximum %d", name,
                     shape->n, RNN_ST_MAX_RANK);
            goto out;
        }
        for (size_t k = 0; k < shape->n; k++) {
            uint64_t dim;
            if (get_uint(&shape->item[k], "shape", (int)k, name, msg, msglen, &dim)) goto out;
            ts->shape[k] = (int64_t)dim;
        }
        ts->rank = (int)shape->n;
        ts->dtype = (rnn_st_dtype)d;
        ts->name = name;
        char sh[160];
        format_shape(sh, sizeof sh, ts->shape, ts->rank);
        uint64_t want;
        if (!shape_bytes(ts->shape, ts->rank, dtypes[d].size, &want)) {
            snprintf(msg, msglen, "tensor '%s': shape %s overflows (its size in bytes exceeds 64 bits)",
                     name, sh);
            goto out;
        }
        if (offs->type != RNN_J_ARR || offs->n != 2) {
            snprintf(msg, msglen, "tensor '%s': data_offsets must be [begin, end]", name);
            goto out;
        }
        uint64_t b, e;
        if (get_uint(&offs->item[0], "data_offsets", 0, name, msg, msglen, &b) ||
            get_uint(&offs->item[1], "data_offsets", 1, name, msg, msglen, &e))
            goto out;
        if (e < b) {
            snprintf(msg, msglen, "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] end before "
                                  "they begin", name, b, e);
            goto out;
        }
        if (e - b != want) {
            snprintf(msg, msglen, "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] do not match "
                                  "dtype %s and shape %s (%" PRIu64 " bytes)",
                     name, b, e, dtypes[d].name, sh, want);
            goto out;
        }
        sp[t] = (span){b, e, t};
        f->by_name[t] = ts;
        t++;
    }
    f->n = n;

    /* The offsets, in order, must tile [0, data_len) exactly: no gap, no overlap. */
    qsort(sp, (size_t)n, sizeof *sp, cmp_span);
    uint64_t at = 0;
    for (int k = 0; k < n; k++) {
        const span *s = &sp[k];
        const char *name = f->t[s->idx].name;
        if (s->begin < at) {
            snprintf(msg, msglen, "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] overlap "
                                  "tensor '%s' (which ends at %" PRIu64 ")",
                     name, s->begin, s->end, f->t[sp[k - 1].idx].name, at);
            goto out;
        }
        if (s->begin > at) {
            snprintf(msg, msglen, "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] leave a gap "
                                  "of %" PRIu64 " bytes after offset %" PRIu64,
                     name, s->begin, s->end, s->begin - at, at);
            goto out;
        }
        at = s->end;
    }
    if (at != data_len) {
        snprintf(msg, msglen, "data is %" PRIu64 " bytes but the tensors cover %" PRIu64 " bytes",
                 data_len, at);
        goto out;
    }

    /* Data pointers; tensors not aligned to their element size (possible only in
     * files we did not write) are copied to 8-aligned storage. */
    uint64_t extra = 0;
    for (int k = 0; k < n; k++) {
        size_t es = dtypes[f->t[sp[k].idx].dtype].size;
        if (sp[k].begin % es) extra += (sp[k].end - sp[k].begin + 7) / 8 * 8;
    }
    if (extra) {
        f->copies = malloc((size_t)extra);
        if (!f->copies) {
            snprintf(msg, msglen, "out of memory");
            goto out;
        }
    }
    uint64_t used = 0;
    for (int k = 0; k < n; k++) {
        rnn_st_tensor *ts = &f->t[sp[k].idx];
        size_t len = (size_t)(sp[k].end - sp[k].begin), es = dtypes[ts->dtype].size;
        unsigned char *at;
        if (sp[k].begin % es == 0) {
            at = data + sp[k].begin;
        } else if (len == 0) {
            at = data; /* nothing to read; any aligned address will do */
        } else {
            at = f->copies + used;
            memcpy(at, data + sp[k].begin, len);
            used += (len + 7) / 8 * 8;
        }
        if (!HOST_IS_LE()) swap_elements(at, len / es, es);   /* the file's bytes are ours */
        ts->data = at;
    }
    qsort(f->by_name, (size_t)n, sizeof *f->by_name, cmp_tensor_name);
    rc = 0;
out:
    free(sp);
    return rc;
}

int rnn_open_regular(const char *path, const char *what, uint64_t *size, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return rnn_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    int flags;
    if (fstat(fd, &st) != 0) {
        rnn_fail(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        rnn_fail(err, errlen, "%s: is a directory, not a %s", path, what);
    } else if (!S_ISREG(st.st_mode)) {
        const char *kind = S_ISFIFO(st.st_mode)   ? "a FIFO (named pipe)"
                           : S_ISCHR(st.st_mode)  ? "a character device"
                           : S_ISBLK(st.st_mode)  ? "a block device"
                           : S_ISSOCK(st.st_mode) ? "a socket"
                                                  : "something";
        rnn_fail(err, errlen, "%s: is %s, not a regular file", path, kind);
    } else if ((flags = fcntl(fd, F_GETFL)) == -1 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
        rnn_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    } else {
        if (size) *size = (uint64_t)st.st_size;
        return fd;
    }
    close(fd);
    return -1;
}

rnn_st_file *rnn_st_open(const char *path, char *err, size_t errlen) {
    char msg[512];
    FILE *fp = NULL;
    rnn_st_file *f = calloc(1, sizeof *f);
    if (!f) {
        rnn_fail(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    uint64_t size;
    int fd = rnn_open_regular(path, "safetensors file", &size, err, errlen);
    if (fd < 0) goto fail;
    if (!(fp = fdopen(fd, "rb"))) {
        rnn_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
        goto fail;
    }
    if (size < 8) {
        rnn_fail(err, errlen, "%s: file is %" PRIu64 " bytes, too short for a safetensors header "
                              "(at least 8)", path, size);
        goto fail;
    }
    if (size > FILE_MAX) {
        rnn_fail(err, errlen, "%s: file is %" PRIu64 " bytes, above the 4 GiB limit", path, size);
        goto fail;
    }
    /* 8 spare bytes let the contents be moved so that the data region is 8-aligned. */
    f->alloc = malloc((size_t)size + 8);
    if (!f->alloc) {
        rnn_fail(err, errlen, "%s: out of memory (%" PRIu64 " bytes)", path, size);
        goto fail;
    }
    size_t got = fread(f->alloc, 1, (size_t)size, fp);
    if (got != size) {
        if (ferror(fp)) rnn_fail(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        else rnn_fail(err, errlen, "%s: file shrank while being read", path);
        goto fail;
    }
    fclose(fp);
    fp = NULL;

    uint64_t hlen = 0;
    for (int b = 7; b >= 0; b--) hlen = hlen << 8 | f->alloc[b];
    if (hlen > HEADER_MAX) {
        rnn_fail(err, errlen, "%s: header length %" PRIu64 " is above the 100 MiB limit", path, hlen);
        goto fail;
    }
    if (hlen > size - 8) {
        rnn_fail(err, errlen, "%s: header length %" PRIu64 " exceeds the file size (%" PRIu64
                              " bytes)", path, hlen, size);
        goto fail;
    }
    size_t shift = (size_t)((8 - (8 + hlen) % 8) % 8);
    unsigned char *base = f->alloc + shift;
    if (shift) memmove(base, f->alloc, (size_t)size);

    rnn_jval root;
    if (rnn_json_parse_header(base + 8, (size_t)hlen, &f->ar, &root, msg, sizeof msg)) {
        rnn_fail(err, errlen, "%s: %s", path, msg);
        goto fail;
    }
    if (load_header(f, &root, base + 8 + hlen, size - 8 - hlen, msg, sizeof msg)) {
        rnn_fail(err, errlen, "%s: %s", path, msg);
        goto fail;
    }
    return f;

fail:
    if (fp) fclose(fp);
    rnn_st_close(f);
    return NULL;
}

void rnn_st_close(rnn_st_file *f) {
    if (!f) return;
    free(f->alloc);
    free(f->copies);
    rnn_arena_free(&f->ar);
    free(f->t);
    free(f->by_name);
    free(f->meta);
    free(f);
}

int rnn_st_count(const rnn_st_file *f) { return f ? f->n : 0; }

const rnn_st_tensor *rnn_st_get(const rnn_st_file *f, int i) {
    return f && i >= 0 && i < f->n ? &f->t[i] : NULL;
}

const rnn_st_tensor *rnn_st_find(const rnn_st_file *f, const char *name) {
    if (!f || !name || !f->n) return NULL;
    rnn_st_tensor key = {.name = name};
    const rnn_st_tensor *kp = &key;
    const rnn_st_tensor *const *hit =
        bsearch(&kp, f->by_name, (size_t)f->n, sizeof *f->by_name, cmp_tensor_name);
    return hit ? *hit : NULL;
}

const char *rnn_st_meta(const rnn_st_file *f, const char *key) {
    if (!f || !key || !f->n_meta) return NULL;
    const char *const *hit = bsearch(&key, f->meta, (size_t)f->n_meta, 2 * sizeof *f->meta, cmp_meta);
    return hit ? hit[1] : NULL;
}
