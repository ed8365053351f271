/*
 * sbuf.h — a growing string for the JSON rnnc writes (interop). Internal to librnnrt.
 * A failed allocation sets oom and later appends do nothing; the caller checks oom once.
 */
#ifndef RNN_SBUF_H
#define RNN_SBUF_H

#include <stddef.h>

typedef struct {
    char *s;        /* NUL-terminated (when not oom), malloc'd */
    size_t n, cap;
    int oom;
} rnn_sbuf;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void rnn_sb_printf(rnn_sbuf *b, const char *fmt, ...);
void rnn_sb_put(rnn_sbuf *b, const char *s, size_t n);
/* s[0..n) as a JSON string, quoted and escaped (s must be UTF-8). */
void rnn_sb_json_string(rnn_sbuf *b, const char *s, size_t n);
/* v as the shortest decimal that reads back as the same double ("0.3", "1e-07"); a
 * whole number keeps a ".0" when float_form (Python's repr of a float). */
void rnn_sb_json_number(rnn_sbuf *b, double v, int float_form);
void rnn_sb_free(rnn_sbuf *b);

/* The shortest "%.Ng" of v that reads back as v, into buf (at least 32 bytes). */
const char *rnn_shortest_double(char *buf, size_t cap, double v);

#endif
