/*
 * textbuf.h — a growing text buffer for the code emitter. Out of memory is fatal
 * (the compiler prints a message and exits 1): there is nothing sensible to emit.
 */
#ifndef RNNC_TEXTBUF_H
#define RNNC_TEXTBUF_H

#include <stddef.h>

typedef struct {
    char *data;
    size_t len, cap;
} textbuf;

void tb_init(textbuf *b);
void tb_free(textbuf *b);
/* Append printf-style text. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void tb_printf(textbuf *b, const char *fmt, ...);
void tb_puts(textbuf *b, const char *s);

#endif
