/*
 * jdoc.h — a JSON document read from a file, and what the interop readers ask of its
 * values. Internal to librnnrt.
 */
#ifndef RNN_JDOC_H
#define RNN_JDOC_H

#include "core/json.h"

#include <stddef.h>

#define RNN_JDOC_MAX_BYTES ((size_t)64 << 20)   /* a model.json of 64 MiB is not a config */
#define RNN_JDOC_MAX_DEPTH 64

typedef struct {
    const char *path;
    unsigned char *text;   /* the file, NUL-terminated */
    size_t len;
    rnn_arena arena;
    rnn_jval root;
} rnn_jdoc;

/* Read and parse path (a regular file of at most RNN_JDOC_MAX_BYTES). 0, or -1 with
 * "PATH: ..." in err ("PATH: invalid JSON at line L, column C: ..."). */
int rnn_jdoc_read(rnn_jdoc *d, const char *path, char *err, size_t errlen);
void rnn_jdoc_free(rnn_jdoc *d);

/* The member key of object o, or NULL (also when o is not an object). */
const rnn_jval *rnn_jget(const rnn_jval *o, const char *key);
/* The string of v, or NULL when v is not a string (or holds a NUL). */
const char *rnn_jstr_of(const rnn_jval *v);
/* v as a double: 0, or -1 when v is not a number. */
int rnn_jnum(const rnn_jval *v, double *out);
/* The line of v in d's text. */
int rnn_jline(const rnn_jdoc *d, const rnn_jval *v);

/* v as compact JSON for a message, at most about 60 characters ("..." after). */
const char *rnn_jdescribe(const rnn_jval *v, char *buf, size_t cap);

#endif
