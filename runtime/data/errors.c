/*
 * errors.c — how every loader in data/ reports a problem: one line into err.
 */
#include "data/data.h"

#include <stdarg.h>
#include <stdio.h>

int rnn_data_fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}
