/*
 * errors.c — the shared error helper of librnnrt (see errors.h).
 */
#include "core/errors.h"

#include <stdarg.h>
#include <stdio.h>

int rnn_fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}
