/*
 * safetensors.c — checkpoint files in the safetensors format (see safetensors.h).
 *
 * The reader treats a file as untrusted input: every size is checked before it is
 * used, and the JSON header goes through a small strict parser of our own (RFC 8259
 * grammar, UTF-8 validated, duplicate keys rejected, depth limited) before the
 * safetensors schema is checked on the parsed tree. Everything a file refers to lives
 * in one allocation per kind (file bytes, parsed strings, index arrays), so closing or
 * failing frees a fixed handful of blocks.
 *
 * Decisions worth knowing (the header cannot say them all):
 *  - rnn_st_get(f, i) returns tensors in the order of the JSON header, which for files
 *    we write is the order given to rnn_st_write. The reader accepts any JSON order as
 *    long as the offsets, once sorted, tile the data region from 0 to its end — the
 *    rule the reference Rust crate applies — so files from other writers load too.
 *  - The writer keeps the caller's order in the JSON header, but lays the data out
 *    widest element first (8-byte dtypes, then 4-byte, then 1-byte; stable within a
 *    width). Every tensor's offset is then a multiple of its element size, and since
 *    the data region starts at a multiple of 8, every tensor is naturally aligned in
 *    the file and in the reader's buffer, with no padding (padding is not allowed:
 *    offsets must be contiguous).
 *  - The reader places the data region at an 8-aligned address. A foreign file whose
 *    tensors are not aligned to their element size gets those tensors copied into
 *    aligned storage, so rnn_st_tensor.data is always aligned for its dtype and
 *    callers may read it as float/double/int32/int64 directly, without memcpy.
 *  - __metadata__ values and tensor names may not contain U+0000, since the API hands
 *    them out as C strings.
 */
#include "core/safetensors.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* safetensors data is little-endian; the writer and reader hand the bytes through
 * unchanged, which is only right on a little-endian host. Every platform rnnc targets
 * is one; refuse to build elsewhere rather than write files nobody else can read. */
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "safetensors.c assumes a little-endian host (add byte swapping to port it)");
#define HOST_IS_LE() 1
#else
static int host_is_le(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}
#define HOST_IS_LE() host_is_le()
#endif

#define HEADER_MAX ((uint64_t)100 << 20) /* 100 MiB, the bound the Rust crate uses too */
#define FILE_MAX ((uint64_t)4 << 30)     /* 4 GiB: far above any rnnc checkpoint */
#define JSON_MAX_DEPTH 8

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [RNN_ST_F32] = {"F32", 4}, [RNN_ST_F64] = {"F64", 8}, [RNN_ST_I32] = {"I32", 4},
    [RNN_ST_I64] = {"I64", 8}, [RNN_ST_U8] = {"U8", 1},
};
#define N_DTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

static void seterr(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF.
 * Returns the length of the sequence at s (at most n bytes available), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC) len = 3;
    else if (c == 0xED) len = 3, hi = 0x9F; /* excludes the surrogates D800..DFFF */
    else if (c >= 0xEE && c <= 0xEF) len = 3;
    else if (c == 0xF0) len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) len = 4, hi = 0x8F;
    else return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if ((s[k] & 0xC0) != 0x80) return 0;
    return len;
}

static bool utf8_valid(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n) {
        size_t k = utf8_seq(p, n);
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
    if (!HOST_IS_LE()) {
        seterr(err, errlen, "%s: cannot write: this host is not little-endian", path);
        return -1;
    }
    if (n_tensors < 0 || n_meta < 0 || (n_tensors && !tensors) ||
        (n_meta && (!meta_keys || !meta_values))) {
        seterr(err, errlen, "%s: cannot write: invalid tensor or metadata arrays", path);
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
            seterr(err, errlen, "%s: cannot write: tensor %d has an empty name", path, i);
            goto fail;
        }
        if (!utf8_valid(t->name)) {
            seterr(err, errlen, "%s: cannot write: tensor %d: name is not valid UTF-8", path, i);
            goto fail;
        }
        if (!strcmp(t->name, "__metadata__")) {
            seterr(err, errlen, "%s: cannot write: '__metadata__' is reserved, not a tensor name",
                   path);
            goto fail;
        }
        if ((int)t->dtype < 0 || (int)t->dtype >= N_DTYPES) {
            seterr(err, errlen, "%s: cannot write: tensor '%s': unknown dtype %d", path, t->name,
                   (int)t->dtype);
            goto fail;
        }
        if (t->rank < 0 || t->rank > RNN_ST_MAX_RANK) {
            seterr(err, errlen, "%s: cannot write: tensor '%s': rank %d is outside 0..%d", path,
                   t->name, t->rank, RNN_ST_MAX_RANK);
            goto fail;
        }
        for (int d = 0; d < t->rank; d++)
            if (t->shape[d] < 0) {
                seterr(err, errlen, "%s: cannot write: tensor '%s': dimension %d is negative (%" PRId64 ")",
                       path, t->name, d, t->shape[d]);
                goto fail;
            }
        if (!shape_bytes(t->shape, t->rank, dtypes[t->dtype].size, &bytes[i]) ||
            bytes[i] > FILE_MAX - total) {
            char sh[160];
            format_shape(sh, sizeof sh, t->shape, t->rank);
            seterr(err, errlen, "%s: cannot write: tensor '%s': shape %s is too large", path,
                   t->name, sh);
            goto fail;
        }
        if (bytes[i] && !t->data) {
            seterr(err, errlen, "%s: cannot write: tensor '%s': data is NULL", path, t->name);
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
        seterr(err, errlen, "%s: cannot write: duplicate tensor name '%s'", path, dup);
        goto fail;
    }
    for (int i = 0; i < n_meta; i++) {
        if (!meta_keys[i] || !meta_values[i]) {
            seterr(err, errlen, "%s: cannot write: metadata entry %d is NULL", path, i);
            goto fail;
        }
        if (!utf8_valid(meta_keys[i]) || !utf8_valid(meta_values[i])) {
            seterr(err, errlen, "%s: cannot write: metadata '%s': not valid UTF-8", path,
                   meta_keys[i]);
            goto fail;
        }
    }
    dup = find_duplicate(meta_keys, sizeof(const char *), n_meta, &oom);
    if (oom) goto oom;
    if (dup) {
        seterr(err, errlen, "%s: cannot write: duplicate metadata key '%s'", path, dup);
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
        seterr(err, errlen, "%s: cannot write: the file would exceed the reader's limits "
                            "(header %zu bytes, data %" PRIu64 " bytes)", path, h.len, total);
        goto fail;
    }

    if (rnn_atomic_open(&af, path, err, errlen) != 0) goto fail;
    unsigned char len8[8];
    for (int b = 0; b < 8; b++) len8[b] = (unsigned char)((uint64_t)h.len >> (8 * b));
    bool ok = fwrite(len8, 1, 8, af.f) == 8 && fwrite(h.p, 1, h.len, af.f) == h.len;
    for (int j = 0; ok && j < n_tensors; j++) {
        uint64_t tb = bytes[order[j]];
        if (tb) ok = fwrite(tensors[order[j]].data, 1, (size_t)tb, af.f) == tb;
    }
    if (!ok) {
        /* Keep the errno of the failing write: it is the cause (ENOSPC, EFBIG...). */
        int e = errno ? errno : EIO;
        rnn_atomic_abort(&af);
        seterr(err, errlen, "%s: cannot write: %s", path, strerror(e));
        goto fail;
    }
    if (rnn_atomic_commit(&af, err, errlen) != 0) goto fail;
    free(bytes);
    free(begin);
    free(order);
    free(h.p);
    return 0;

oom:
    seterr(err, errlen, "%s: cannot write: out of memory", path);
fail:
    free(bytes);
    free(begin);
    free(order);
    free(h.p);
    return -1;
}

/* =============================================================================
 * Strict JSON reader
 *
 * Parses into a tree held in an arena (a list of blocks freed together). Numbers keep
 * their source text so that errors can quote them; integers that fit int64 also keep
 * their value. Objects keep their members in source order.
 * =========================================================================== */
typedef struct ablock {
    struct ablock *next;
    size_t used, cap;
    max_align_t data[];
} ablock;

typedef struct {
    ablock *head;
} arena;

static void *arena_alloc(arena *a, size_t n) {
    const size_t al = alignof(max_align_t);
    n = (n + al - 1) / al * al;
    if (!n) n = al;
    ablock *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ((size_t)64 << 10) ? n : ((size_t)64 << 10);
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = a->head, b->used = 0, b->cap = cap;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

static void arena_free(arena *a) {
    for (ablock *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
}

enum { J_NULL, J_BOOL, J_INT, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jval jval;
typedef struct {
    char *s; /* NUL-terminated; may also contain NULs from \u0000, hence n */
    size_t n;
} jstr;

struct jval {
    int type;
    size_t pos;      /* header byte offset of the value, for messages */
    size_t n;        /* array/object members */
    int64_t i;       /* J_INT */
    const char *raw; /* J_INT/J_NUM: source text (not NUL-terminated) */
    size_t rawlen;
    jstr str;   /* J_STR */
    jval *item; /* J_ARR/J_OBJ values */
    jstr *key;  /* J_OBJ keys */
};

typedef struct {
    const unsigned char *p, *start, *end;
    arena *ar;
    char *msg; /* error text (without the path), set once */
    size_t msglen;
    bool failed;
} jparser;

static int jfail(jparser *j, const char *fmt, ...) {
    if (j->failed) return -1;
    j->failed = true;
    int n = snprintf(j->msg, j->msglen, "invalid header JSON at byte %zu: ", (size_t)(j->p - j->start));
    if (n >= 0 && (size_t)n < j->msglen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->msg + n, j->msglen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void jskip_ws(jparser *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int hex4(const unsigned char *p, unsigned *out) {
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned c = p[k], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* At an opening quote. Decoded text is never longer than its source (an escape of k
 * bytes yields at most k bytes of UTF-8), so one arena block of the source length
 * is enough; the source is scanned for the closing quote first to know it. */
static int jstring(jparser *j, jstr *out) {
    const unsigned char *q = j->p + 1;
    while (q < j->end && *q != '"') q += (*q == '\\' && q + 1 < j->end) ? 2 : 1;
    if (q >= j->end) return jfail(j, "unterminated string"); /* at its opening quote */
    j->p++;
    char *o = arena_alloc(j->ar, (size_t)(q - j->p) + 1);
    if (!o) return jfail(j, "out of memory");
    size_t n = 0;
    while (j->p < q) {
        unsigned c = *j->p;
        if (c < 0x20) return jfail(j, "control character 0x%02x in a string", c);
        if (c >= 0x80) {
            size_t k = utf8_seq(j->p, (size_t)(q - j->p));
            if (!k) return jfail(j, "invalid UTF-8");
            memcpy(o + n, j->p, k);
            n += k, j->p += k;
            continue;
        }
        if (c != '\\') {
            o[n++] = (char)c;
            j->p++;
            continue;
        }
        unsigned e = j->p[1]; /* exists: the scan above never ends on a backslash */
        switch (e) {
        case '"': o[n++] = '"'; break;
        case '\\': o[n++] = '\\'; break;
        case '/': o[n++] = '/'; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'n': o[n++] = '\n'; break;
        case 'r': o[n++] = '\r'; break;
        case 't': o[n++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (q - j->p < 6 || hex4(j->p + 2, &cp)) return jfail(j, "bad \\u escape");
            if (cp >= 0xDC00 && cp <= 0xDFFF) return jfail(j, "unpaired low surrogate \\u%04x", cp);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (q - j->p < 12 || j->p[6] != '\\' || j->p[7] != 'u' || hex4(j->p + 8, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return jfail(j, "unpaired high surrogate \\u%04x", cp);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                j->p += 6;
            }
            n += put_utf8(o + n, cp);
            j->p += 6;
            continue;
        }
        default: return jfail(j, "bad escape '\\%c'", e >= 0x20 && e < 0x7F ? (int)e : '?');
        }
        j->p += 2;
    }
    o[n] = 0;
    j->p = q + 1;
    out->s = o, out->n = n;
    return 0;
}

/* RFC 8259 number grammar; integers that fit int64 become J_INT, anything else J_NUM. */
static int jnumber(jparser *j, jval *v) {
    const unsigned char *s = j->p, *p = s;
    bool neg = false, integral = true;
    if (*p == '-') neg = true, p++;
    if (p >= j->end || *p < '0' || *p > '9') return jfail(j, "unexpected character");
    if (*p == '0' && p + 1 < j->end && p[1] >= '0' && p[1] <= '9')
        return jfail(j, "leading zero in a number");
    uint64_t mag = 0;
    bool big = false;
    while (p < j->end && *p >= '0' && *p <= '9') {
        unsigned d = *p++ - '0';
        if (mag > (UINT64_MAX - d) / 10) big = true;
        else mag = mag * 10 + d;
    }
    if (p < j->end && *p == '.') {
        integral = false, p++;
        if (p >= j->end || *p < '0' || *p > '9') return j->p = p, jfail(j, "digit expected after '.'");
        while (p < j->end && *p >= '0' && *p <= '9') p++;
    }
    if (p < j->end && (*p == 'e' || *p == 'E')) {
        integral = false, p++;
        if (p < j->end && (*p == '+' || *p == '-')) p++;
        if (p >= j->end || *p < '0' || *p > '9') return j->p = p, jfail(j, "digit expected in exponent");
        while (p < j->end && *p >= '0' && *p <= '9') p++;
    }
    v->raw = (const char *)s, v->rawlen = (size_t)(p - s);
    if (integral && !big && mag <= (uint64_t)INT64_MAX + neg) {
        v->type = J_INT;
        v->i = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
    } else {
        v->type = J_NUM;
    }
    j->p = p;
    return 0;
}

typedef struct {
    const jstr *k;
    size_t pos;
} keyref;

static int cmp_keyref(const void *a, const void *b) {
    const jstr *x = ((const keyref *)a)->k, *y = ((const keyref *)b)->k;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);
    if (c) return c;
    return (x->n > y->n) - (x->n < y->n);
}

static int jvalue(jparser *j, jval *v, int depth);

/* Arrays and objects collect members in a heap vector that grows by doubling, then
 * move them into the arena once their size is known. */
static int jcompound(jparser *j, jval *v, int depth) {
    bool obj = *j->p == '{';
    char close = obj ? '}' : ']';
    if (depth > JSON_MAX_DEPTH) return jfail(j, "nesting deeper than %d levels", JSON_MAX_DEPTH);
    j->p++;
    jval *items = NULL;
    keyref *keys = NULL;
    size_t n = 0, cap = 0;
    int rc = -1;
    jskip_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
    } else {
        for (;;) {
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                jval *ni = realloc(items, cap * sizeof *ni);
                if (ni) items = ni;
                keyref *nk = obj ? realloc(keys, cap * sizeof *nk) : NULL;
                if (nk) keys = nk;
                if (!ni || (obj && !nk)) {
                    jfail(j, "out of memory");
                    goto out;
                }
            }
            jskip_ws(j);
            if (obj) {
                if (j->p >= j->end || *j->p != '"') {
                    jfail(j, j->p >= j->end ? "unexpected end" : "object key expected");
                    goto out;
                }
                jstr *k = arena_alloc(j->ar, sizeof *k);
                if (!k) {
                    jfail(j, "out of memory");
                    goto out;
                }
                keys[n].pos = (size_t)(j->p - j->start);
                if (jstring(j, k)) goto out;
                keys[n].k = k;
                jskip_ws(j);
                if (j->p >= j->end || *j->p != ':') {
                    jfail(j, j->p >= j->end ? "unexpected end" : "':' expected");
                    goto out;
                }
                j->p++;
            }
            if (jvalue(j, &items[n], depth + 1)) goto out;
            n++;
            jskip_ws(j);
            if (j->p >= j->end) {
                jfail(j, "unexpected end");
                goto out;
            }
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            if (*j->p == close) {
                j->p++;
                break;
            }
            jfail(j, obj ? "',' or '}' expected" : "',' or ']' expected");
            goto out;
        }
    }
    v->type = obj ? J_OBJ : J_ARR;
    v->n = n;
    v->item = arena_alloc(j->ar, n * sizeof *v->item);
    v->key = obj ? arena_alloc(j->ar, n * sizeof *v->key) : NULL;
    if (!v->item || (obj && !v->key)) {
        jfail(j, "out of memory");
        goto out;
    }
    if (n) memcpy(v->item, items, n * sizeof *items);
    if (obj) {
        for (size_t i = 0; i < n; i++) v->key[i] = *keys[i].k;
        /* Duplicates by sorting, not pairwise: headers may hold many thousands of
         * tensors, and a hostile one should not cost quadratic time. */
        if (n > 1) qsort(keys, n, sizeof *keys, cmp_keyref);
        for (size_t i = 1; i < n; i++)
            if (!cmp_keyref(&keys[i - 1], &keys[i])) {
                size_t first = keys[i - 1].pos > keys[i].pos ? keys[i - 1].pos : keys[i].pos;
                j->p = j->start + first;
                if (depth == 1 && strcmp(keys[i].k->s, "__metadata__"))
                    jfail(j, "duplicate tensor name '%s'", keys[i].k->s);
                else
                    jfail(j, "duplicate key \"%s\"", keys[i].k->s);
                goto out;
            }
    }
    rc = 0;
out:
    free(items);
    free(keys);
    return rc;
}

static int jvalue(jparser *j, jval *v, int depth) {
    memset(v, 0, sizeof *v);
    jskip_ws(j);
    if (j->p >= j->end) return jfail(j, "unexpected end");
    v->pos = (size_t)(j->p - j->start);
    unsigned c = *j->p;
    if (c == '{' || c == '[') return jcompound(j, v, depth);
    if (c == '"') {
        v->type = J_STR;
        return jstring(j, &v->str);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return jnumber(j, v);
    static const struct {
        const char *w;
        int type;
    } lits[] = {{"true", J_BOOL}, {"false", J_BOOL}, {"null", J_NULL}};
    for (size_t k = 0; k < 3; k++) {
        size_t len = strlen(lits[k].w);
        if ((size_t)(j->end - j->p) >= len && !memcmp(j->p, lits[k].w, len)) {
            v->type = lits[k].type;
            j->p += len;
            return 0;
        }
    }
    if (c >= 0x80) return jfail(j, "invalid UTF-8 or unexpected byte 0x%02x", c);
    return jfail(j, "unexpected character '%c'", c >= 0x20 && c < 0x7F ? (int)c : '?');
}

/* =============================================================================
 * Reader
 * =========================================================================== */
struct rnn_st_file {
    unsigned char *alloc; /* the file's bytes (shifted so the data region is 8-aligned) */
    unsigned char *copies; /* aligned copies of misaligned tensors of foreign files */
    arena ar;              /* parsed header strings */
    int n;
    rnn_st_tensor *t;         /* header order */
    const rnn_st_tensor **by_name;
    int n_meta;
    const char **meta; /* key, value, key, value... sorted by key */
};

static const char *type_name(int type) {
    static const char *const names[] = {"null", "a boolean", "an integer", "a number",
                                        "a string", "an array", "an object"};
    return names[type];
}

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
static int get_uint(const jval *v, const char *what, int index, const char *tname, char *msg,
                    size_t msglen, uint64_t *out) {
    if (v->type == J_INT) {
        if (v->i < 0) {
            snprintf(msg, msglen, "tensor '%s': %s[%d] is negative (%" PRId64 ")", tname, what,
                     index, v->i);
            return -1;
        }
        *out = (uint64_t)v->i;
        return 0;
    }
    if (v->type == J_NUM)
        snprintf(msg, msglen, "tensor '%s': %s[%d] must be an integer (got %.*s)", tname, what,
                 index, (int)(v->rawlen > 40 ? 40 : v->rawlen), v->raw);
    else
        snprintf(msg, msglen, "tensor '%s': %s[%d] must be an integer (got %s)", tname, what, index,
                 type_name(v->type));
    return -1;
}

/* Checks the parsed header against the safetensors schema and fills f. On error,
 * writes the message (without the path) to msg. */
static int load_header(rnn_st_file *f, const jval *root, unsigned char *data, uint64_t data_len,
                       char *msg, size_t msglen) {
    if (root->type != J_OBJ) {
        snprintf(msg, msglen, "header is %s, not a JSON object", type_name(root->type));
        return -1;
    }
    int n = 0;
    const jval *meta = NULL;
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
        if (meta->type != J_OBJ) {
            snprintf(msg, msglen, "__metadata__ must be an object of strings (got %s)",
                     type_name(meta->type));
            goto out;
        }
        f->meta = calloc(2 * meta->n + 1, sizeof *f->meta);
        if (!f->meta) {
            snprintf(msg, msglen, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < meta->n; i++) {
            const jstr *k = &meta->key[i];
            const jval *v = &meta->item[i];
            if (v->type != J_STR) {
                snprintf(msg, msglen, "__metadata__ '%s': value must be a string (got %s)", k->s,
                         type_name(v->type));
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
        const jval *v = &root->item[i];
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
        if (v->type != J_OBJ) {
            snprintf(msg, msglen, "tensor '%s': entry must be an object (got %s)", name,
                     type_name(v->type));
            goto out;
        }
        const jval *dt = NULL, *shape = NULL, *offs = NULL;
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
        if (dt->type != J_STR) {
            snprintf(msg, msglen, "tensor '%s': dtype must be a string (got %s)", name,
                     type_name(dt->type));
            goto out;
        }
        int d = 0;
        while (d < N_DTYPES && strcmp(dt->str.s, dtypes[d].name)) d++;
        if (d == N_DTYPES) {
            snprintf(msg, msglen, "tensor '%s': unsupported dtype \"%.20s\" (rnnc reads F32, F64, "
                                  "I32, I64 and U8)", name, dt->str.s);
            goto out;
        }
        if (shape->type != J_ARR) {
            snprintf(msg, msglen, "tensor '%s': shape must be an array of integers (got %s)", name,
                     type_name(shape->type));
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
        if (offs->type != J_ARR || offs->n != 2) {
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
        size_t len = (size_t)(sp[k].end - sp[k].begin);
        if (sp[k].begin % dtypes[ts->dtype].size == 0) {
            ts->data = data + sp[k].begin;
        } else if (len == 0) {
            ts->data = data; /* nothing to read; any aligned address will do */
        } else {
            memcpy(f->copies + used, data + sp[k].begin, len);
            ts->data = f->copies + used;
            used += (len + 7) / 8 * 8;
        }
    }
    qsort(f->by_name, (size_t)n, sizeof *f->by_name, cmp_tensor_name);
    rc = 0;
out:
    free(sp);
    return rc;
}

rnn_st_file *rnn_st_open(const char *path, char *err, size_t errlen) {
    char msg[512];
    FILE *fp = NULL;
    jparser j;
    rnn_st_file *f = calloc(1, sizeof *f);
    if (!f) {
        seterr(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    if (!HOST_IS_LE()) {
        seterr(err, errlen, "%s: this host is not little-endian", path);
        goto fail;
    }
    fp = fopen(path, "rb");
    if (!fp) {
        seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) {
        seterr(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        seterr(err, errlen, "%s: is a directory, not a safetensors file", path);
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        seterr(err, errlen, "%s: not a regular file", path);
        goto fail;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size < 8) {
        seterr(err, errlen, "%s: file is %" PRIu64 " bytes, too short for a safetensors header "
                            "(at least 8)", path, size);
        goto fail;
    }
    if (size > FILE_MAX) {
        seterr(err, errlen, "%s: file is %" PRIu64 " bytes, above the 4 GiB limit", path, size);
        goto fail;
    }
    /* 8 spare bytes let the contents be moved so that the data region is 8-aligned. */
    f->alloc = malloc((size_t)size + 8);
    if (!f->alloc) {
        seterr(err, errlen, "%s: out of memory (%" PRIu64 " bytes)", path, size);
        goto fail;
    }
    size_t got = fread(f->alloc, 1, (size_t)size, fp);
    if (got != size) {
        if (ferror(fp)) seterr(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        else seterr(err, errlen, "%s: file shrank while being read", path);
        goto fail;
    }
    fclose(fp);
    fp = NULL;

    uint64_t hlen = 0;
    for (int b = 7; b >= 0; b--) hlen = hlen << 8 | f->alloc[b];
    if (hlen > HEADER_MAX) {
        seterr(err, errlen, "%s: header length %" PRIu64 " is above the 100 MiB limit", path, hlen);
        goto fail;
    }
    if (hlen > size - 8) {
        seterr(err, errlen, "%s: header length %" PRIu64 " exceeds the file size (%" PRIu64
                            " bytes)", path, hlen, size);
        goto fail;
    }
    size_t shift = (size_t)((8 - (8 + hlen) % 8) % 8);
    unsigned char *base = f->alloc + shift;
    if (shift) memmove(base, f->alloc, (size_t)size);

    j = (jparser){.p = base + 8, .start = base + 8, .end = base + 8 + hlen, .ar = &f->ar,
                  .msg = msg, .msglen = sizeof msg};
    jval root;
    /* The top level must be an object; say so before the generic parser would. */
    jskip_ws(&j);
    if (j.p < j.end && *j.p != '{') {
        jfail(&j, "expected '{' at the start of the header");
    } else if (jvalue(&j, &root, 1) == 0) {
        jskip_ws(&j);
        if (j.p != j.end) jfail(&j, "trailing characters after the JSON object");
    }
    if (j.failed) {
        seterr(err, errlen, "%s: %s", path, msg);
        goto fail;
    }
    if (load_header(f, &root, base + 8 + hlen, size - 8 - hlen, msg, sizeof msg)) {
        seterr(err, errlen, "%s: %s", path, msg);
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
    arena_free(&f->ar);
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
