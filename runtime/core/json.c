/*
 * json.c — the strict JSON parser of safetensors headers (see json.h).
 */
#include "core/json.h"

#include <stdalign.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 8

size_t rnn_utf8_seq(const unsigned char *s, size_t n) {
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

/* ---- the arena ------------------------------------------------------------------ */

struct rnn_arena_block {
    rnn_arena_block *next;
    size_t used, cap;
    max_align_t data[];
};

static void *arena_alloc(rnn_arena *a, size_t n) {
    const size_t al = alignof(max_align_t);
    n = (n + al - 1) / al * al;
    if (!n) n = al;
    rnn_arena_block *b = a->head;
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

void rnn_arena_free(rnn_arena *a) {
    for (rnn_arena_block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    a->head = NULL;
}

/* ---- the parser ----------------------------------------------------------------- */

typedef struct {
    const unsigned char *p, *start, *end;
    rnn_arena *ar;
    char *msg; /* error text (without the path), set once */
    size_t msglen;
    bool failed;
    bool header;   /* a safetensors header (its messages), else any JSON document */
    int max_depth;
} jparser;

static int jfail(jparser *j, const char *fmt, ...) {
    if (j->failed) return -1;
    j->failed = true;
    size_t pos = (size_t)(j->p - j->start);
    int n = j->header ? snprintf(j->msg, j->msglen, "invalid header JSON at byte %zu: ", pos)
                      : snprintf(j->msg, j->msglen, "invalid JSON at line %zu, column %zu: ", rnn_json_line(j->start, pos),
                                 rnn_json_column(j->start, pos));
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
static int jstring(jparser *j, rnn_jstr *out) {
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
            size_t k = rnn_utf8_seq(j->p, (size_t)(q - j->p));
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

/* RFC 8259 number grammar; integers that fit int64 become RNN_J_INT, anything else RNN_J_NUM. */
static int jnumber(jparser *j, rnn_jval *v) {
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
        v->type = RNN_J_INT;
        v->i = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
    } else {
        v->type = RNN_J_NUM;
    }
    j->p = p;
    return 0;
}

typedef struct {
    const rnn_jstr *k;
    size_t pos;
} keyref;

static int cmp_keyref(const void *a, const void *b) {
    const rnn_jstr *x = ((const keyref *)a)->k, *y = ((const keyref *)b)->k;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);
    if (c) return c;
    return (x->n > y->n) - (x->n < y->n);
}

static int jvalue(jparser *j, rnn_jval *v, int depth);

/* Arrays and objects collect members in a heap vector that grows by doubling, then
 * move them into the arena once their size is known. */
static int jcompound(jparser *j, rnn_jval *v, int depth) {
    bool obj = *j->p == '{';
    char close = obj ? '}' : ']';
    if (depth > j->max_depth) return jfail(j, "nesting deeper than %d levels", j->max_depth);
    j->p++;
    rnn_jval *items = NULL;
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
                rnn_jval *ni = realloc(items, cap * sizeof *ni);
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
                rnn_jstr *k = arena_alloc(j->ar, sizeof *k);
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
    v->type = obj ? RNN_J_OBJ : RNN_J_ARR;
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
                if (j->header && depth == 1 && strcmp(keys[i].k->s, "__metadata__"))
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

static int jvalue(jparser *j, rnn_jval *v, int depth) {
    memset(v, 0, sizeof *v);
    jskip_ws(j);
    if (j->p >= j->end) return jfail(j, "unexpected end");
    v->pos = (size_t)(j->p - j->start);
    unsigned c = *j->p;
    if (c == '{' || c == '[') return jcompound(j, v, depth);
    if (c == '"') {
        v->type = RNN_J_STR;
        return jstring(j, &v->str);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return jnumber(j, v);
    static const struct {
        const char *w;
        int type;
    } lits[] = {{"true", RNN_J_BOOL}, {"false", RNN_J_BOOL}, {"null", RNN_J_NULL}};
    for (size_t k = 0; k < 3; k++) {
        size_t len = strlen(lits[k].w);
        if ((size_t)(j->end - j->p) >= len && !memcmp(j->p, lits[k].w, len)) {
            v->type = lits[k].type;
            v->i = k == 0;   /* a boolean's value: 1 for true */
            j->p += len;
            return 0;
        }
    }
    if (c >= 0x80) return jfail(j, "invalid UTF-8 or unexpected byte 0x%02x", c);
    return jfail(j, "unexpected character '%c'", c >= 0x20 && c < 0x7F ? (int)c : '?');
}

const char *rnn_json_type_name(int type) {
    static const char *const names[] = {"null", "a boolean", "an integer", "a number",
                                        "a string", "an array", "an object"};
    return names[type];
}

int rnn_json_parse_header(const unsigned char *text, size_t len, rnn_arena *ar, rnn_jval *root,
                          char *msg, size_t msglen) {
    jparser j = {.p = text, .start = text, .end = text + len, .ar = ar, .msg = msg, .msglen = msglen,
                 .header = true, .max_depth = JSON_MAX_DEPTH};
    /* The top level must be an object; say so before the generic parser would. */
    jskip_ws(&j);
    if (j.p < j.end && *j.p != '{') {
        jfail(&j, "expected '{' at the start of the header");
    } else if (jvalue(&j, root, 1) == 0) {
        jskip_ws(&j);
        if (j.p != j.end) jfail(&j, "trailing characters after the JSON object");
    }
    return j.failed ? -1 : 0;
}

int rnn_json_parse(const unsigned char *text, size_t len, int max_depth, rnn_arena *ar, rnn_jval *root, char *msg,
                   size_t msglen) {
    jparser j = {.p = text, .start = text, .end = text + len, .ar = ar, .msg = msg, .msglen = msglen,
                 .max_depth = max_depth};
    if (jvalue(&j, root, 1) == 0) {
        jskip_ws(&j);
        if (j.p != j.end) jfail(&j, "trailing characters after the JSON value");
    }
    return j.failed ? -1 : 0;
}

size_t rnn_json_line(const unsigned char *text, size_t pos) {
    size_t line = 1;
    for (size_t k = 0; k < pos; k++) line += text[k] == '\n';
    return line;
}

size_t rnn_json_column(const unsigned char *text, size_t pos) {
    size_t k = pos;
    while (k > 0 && text[k - 1] != '\n') k--;
    return pos - k + 1;
}
