/*
 * errors.c — the shared error helper of librnnrt (see errors.h).
 */
#include "core/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int rnn_fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const char *rnn_escape(const char *s, char *out, size_t cap) {
    size_t n = 0;
    if (!cap) return out;
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 1 < cap; p++) {
        char e[8];
        if (*p == '\r') snprintf(e, sizeof e, "\\r");
        else if (*p == '\n') snprintf(e, sizeof e, "\\n");
        else if (*p == '\t') snprintf(e, sizeof e, "\\t");
        else if (*p < 0x20 || *p == 0x7f) snprintf(e, sizeof e, "\\x%02x", *p);
        else e[0] = (char)*p, e[1] = 0;
        size_t k = strlen(e);
        if (n + k >= cap) break;
        memcpy(out + n, e, k);
        n += k;
    }
    out[n] = 0;
    return out;
}
