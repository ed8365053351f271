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

#endif
