/*
 * errors.h — how librnnrt reports a problem: one line of text in the caller's buffer.
 * Internal to librnnrt.
 */
#ifndef RNN_ERRORS_H
#define RNN_ERRORS_H

#include <stddef.h>

/* Format one error line into err (truncated to errlen, always terminated; nothing when
 * err is NULL or errlen is 0) and return -1, so that a caller can `return rnn_fail(...)`. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int rnn_fail(char *err, size_t errlen, const char *fmt, ...);

/* s into out (cap bytes, always terminated) with every byte a terminal would not show as
 * itself written visibly: CR as \r, LF as \n, a tab as \t, the other control bytes and
 * DEL as \xHH; other bytes, UTF-8 included, as they are. Messages that echo the bytes of
 * a file or an argument reach the terminal through it. Returns out. */
const char *rnn_escape(const char *s, char *out, size_t cap);

#endif
