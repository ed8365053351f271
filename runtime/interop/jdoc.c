/*
 * jdoc.c — a JSON document read from a file (see jdoc.h).
 */
#include "interop/jdoc.h"

#include "core/errors.h"
#include "core/safetensors.h"
#include "interop/sbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int rnn_jdoc_read(rnn_jdoc *d, const char *path, char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    d->path = path;
    uint64_t size;
    int fd = rnn_open_regular(path, "JSON file", &size, err, errlen);
    if (fd < 0) return -1;
    if (size > RNN_JDOC_MAX_BYTES) {
        close(fd);
        return rnn_fail(err, errlen, "%s: %llu bytes, more than the %zu MiB a model config may have", path,
                        (unsigned long long)size, RNN_JDOC_MAX_BYTES >> 20);
    }
    d->text = malloc((size_t)size + 1);
    size_t got = 0;
    while (d->text && got < size) {
        ssize_t k = read(fd, d->text + got, (size_t)size - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    int e = errno;
    close(fd);
    if (!d->text) return rnn_fail(err, errlen, "%s: out of memory", path);
    if (got != size) {
        rnn_jdoc_free(d);
        return rnn_fail(err, errlen, "%s: cannot read: %s", path, got < size && e ? strerror(e) : "short read");
    }
    d->text[size] = 0;
    d->len = (size_t)size;
    char msg[400];
    if (rnn_json_parse(d->text, d->len, RNN_JDOC_MAX_DEPTH, &d->arena, &d->root, msg, sizeof msg)) {
        rnn_jdoc_free(d);
        return rnn_fail(err, errlen, "%s: %s", path, msg);
    }
    return 0;
}

void rnn_jdoc_free(rnn_jdoc *d) {
    rnn_arena_free(&d->arena);
    free(d->text);
    d->text = NULL;
}

const rnn_jval *rnn_jget(const rnn_jval *o, const char *key) {
    if (!o || o->type != RNN_J_OBJ) return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strlen(o->key[i].s) == o->key[i].n && strcmp(o->key[i].s, key) == 0) return &o->item[i];
    return NULL;
}

const char *rnn_jstr_of(const rnn_jval *v) {
    return v && v->type == RNN_J_STR && strlen(v->str.s) == v->str.n ? v->str.s : NULL;
}

int rnn_jnum(const rnn_jval *v, double *out) {
    if (!v || (v->type != RNN_J_INT && v->type != RNN_J_NUM)) return -1;
    char buf[64];
    size_t n = v->rawlen < sizeof buf - 1 ? v->rawlen : sizeof buf - 1;
    memcpy(buf, v->raw, n);
    buf[n] = 0;
    *out = strtod(buf, NULL);
    return 0;
}

int rnn_jline(const rnn_jdoc *d, const rnn_jval *v) {
    return v ? (int)rnn_json_line(d->text, v->pos) : 0;
}

static void describe(rnn_sbuf *b, const rnn_jval *v, size_t limit) {
    if (b->n > limit) return;
    switch (v->type) {
    case RNN_J_NULL: rnn_sb_printf(b, "null"); break;
    case RNN_J_BOOL: rnn_sb_printf(b, "%s", v->i ? "true" : "false"); break;
    case RNN_J_INT:
    case RNN_J_NUM: rnn_sb_put(b, v->raw, v->rawlen); break;
    case RNN_J_STR: rnn_sb_json_string(b, v->str.s, v->str.n); break;
    default:
        rnn_sb_put(b, v->type == RNN_J_OBJ ? "{" : "[", 1);
        for (size_t i = 0; i < v->n && b->n <= limit; i++) {
            if (i) rnn_sb_put(b, ", ", 2);
            if (v->type == RNN_J_OBJ) {
                rnn_sb_json_string(b, v->key[i].s, v->key[i].n);
                rnn_sb_put(b, ": ", 2);
            }
            describe(b, &v->item[i], limit);
        }
        rnn_sb_put(b, v->type == RNN_J_OBJ ? "}" : "]", 1);
    }
}

const char *rnn_jdescribe(const rnn_jval *v, char *buf, size_t cap) {
    rnn_sbuf b = {0};
    describe(&b, v, 60);
    if (b.oom || !b.s) snprintf(buf, cap, "?");
    else if (b.n > 60) snprintf(buf, cap, "%.57s...", b.s);
    else snprintf(buf, cap, "%s", b.s);
    rnn_sb_free(&b);
    return buf;
}
