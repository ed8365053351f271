/*
 * sbuf.c — a growing string for the JSON rnnc writes (see sbuf.h).
 */
#include "interop/sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(rnn_sbuf *b, size_t more) {
    if (b->oom) return -1;
    if (b->n + more + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = 1;
        return -1;
    }
    b->s = s, b->cap = cap;
    return 0;
}

void rnn_sb_put(rnn_sbuf *b, const char *s, size_t n) {
    if (reserve(b, n)) return;
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

void rnn_sb_printf(rnn_sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0 || reserve(b, (size_t)k)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

void rnn_sb_json_string(rnn_sbuf *b, const char *s, size_t n) {
    rnn_sb_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rnn_sb_put(b, e, 2);
        } else if (c < 0x20) {
            rnn_sb_printf(b, "\\u%04x", c);
        } else {
            rnn_sb_put(b, (const char *)&s[i], 1);
        }
    }
    rnn_sb_put(b, "\"", 1);
}

const char *rnn_shortest_double(char *buf, size_t cap, double v) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return buf;
}

void rnn_sb_json_number(rnn_sbuf *b, double v, int float_form) {
    char buf[40];
    rnn_shortest_double(buf, sizeof buf, v);
    rnn_sb_printf(b, "%s", buf);
    if (float_form && !strpbrk(buf, ".eEn")) rnn_sb_put(b, ".0", 2);
}

void rnn_sb_free(rnn_sbuf *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}
