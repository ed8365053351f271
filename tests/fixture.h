/*
 * fixture.h — loader for the PyTorch oracle fixtures written by tools/make_fixtures.py
 * (tests/fixtures/oracle/<case>.txt). Header-only: every function is static inline so
 * that a test file that includes it and uses only part of it stays warning-free.
 *
 * The format (version 1) is a text file of lines:
 *
 *     rnnc-oracle 1                          first line, always
 *     KEYWORD [ARG] [key=value ...]          a record, e.g.
 *         case lstm
 *         layer kind=lstm name=lstm units=7 ... dropout_mask=per_step
 *         loss_value 0.69314718055994529
 *     tensor NAME RANK D0 [D1 [D2]]          a tensor header, followed by the
 *     v v v ...                              D0*D1*D2 values (row-major, %.17g),
 *                                            laid out over any number of lines
 *     end                                    last line
 *
 * Empty lines and lines starting with '#' are ignored. The meaning of each record and
 * tensor is documented at the top of tools/make_fixtures.py.
 */
#ifndef RNNC_TESTS_FIXTURE_H
#define RNNC_TESTS_FIXTURE_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FX_NAME_MAX 128
#define FX_KV_MAX 24
#define FX_KEY_MAX 32
#define FX_VAL_MAX 128

typedef struct {
    char name[FX_NAME_MAX];
    int rank;
    int dims[3];
    size_t size;
    double *v;
} fx_tensor;

typedef struct {
    char kw[FX_KEY_MAX];
    char arg[FX_VAL_MAX];           /* first positional argument ("" if none)  */
    int nkv;
    char keys[FX_KV_MAX][FX_KEY_MAX];
    char vals[FX_KV_MAX][FX_VAL_MAX];
} fx_record;

typedef struct {
    int n_records, cap_records;
    fx_record *records;
    int n_tensors, cap_tensors;
    fx_tensor *tensors;
    char err[512];
} fixture;

static inline int fx_fail(fixture *f, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->err, sizeof f->err, fmt, ap);
    va_end(ap);
    return -1;
}

static inline void fx_free(fixture *f) {
    for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].v);
    free(f->tensors);
    free(f->records);
    memset(f, 0, sizeof *f);
}

static inline int fx_copy(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap) return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

/* Read a tensor's values (any whitespace between them) after its header line. */
static inline int fx_read_values(fixture *f, FILE *in, fx_tensor *t, const char *path, long line) {
    t->v = malloc((t->size ? t->size : 1) * sizeof *t->v);
    if (!t->v) return fx_fail(f, "%s:%ld: out of memory", path, line);
    for (size_t i = 0; i < t->size; i++)
        if (fscanf(in, "%lf", &t->v[i]) != 1)
            return fx_fail(f, "%s:%ld: tensor %s: expected %zu values, could read only %zu", path,
                           line, t->name, t->size, i);
    return 0;
}

static inline int fx_parse_tensor(fixture *f, FILE *in, char *rest, const char *path, long line) {
    if (f->n_tensors == f->cap_tensors) {
        int cap = f->cap_tensors ? 2 * f->cap_tensors : 64;
        fx_tensor *nt = realloc(f->tensors, (size_t)cap * sizeof *nt);
        if (!nt) return fx_fail(f, "%s:%ld: out of memory", path, line);
        f->tensors = nt;
        f->cap_tensors = cap;
    }
    fx_tensor *t = &f->tensors[f->n_tensors];
    memset(t, 0, sizeof *t);
    char *save = NULL;
    const char *name = strtok_r(rest, " \t", &save);
    const char *rank = strtok_r(NULL, " \t", &save);
    if (!name || !rank || fx_copy(t->name, sizeof t->name, name))
        return fx_fail(f, "%s:%ld: bad tensor header", path, line);
    t->rank = atoi(rank);
    if (t->rank < 1 || t->rank > 3) return fx_fail(f, "%s:%ld: tensor %s: rank %d", path, line, name, t->rank);
    t->size = 1;
    for (int d = 0; d < 3; d++) {
        t->dims[d] = 1;
        if (d < t->rank) {
            const char *s = strtok_r(NULL, " \t", &save);
            if (!s || atoi(s) < 1) return fx_fail(f, "%s:%ld: tensor %s: bad dimension", path, line, name);
            t->dims[d] = atoi(s);
        }
        t->size *= (size_t)t->dims[d];
    }
    if (strtok_r(NULL, " \t", &save)) return fx_fail(f, "%s:%ld: tensor %s: too many dimensions", path, line, name);
    f->n_tensors++;
    return fx_read_values(f, in, t, path, line);
}

static inline int fx_parse_record(fixture *f, char *text, const char *path, long line) {
    if (f->n_records == f->cap_records) {
        int cap = f->cap_records ? 2 * f->cap_records : 32;
        fx_record *nr = realloc(f->records, (size_t)cap * sizeof *nr);
        if (!nr) return fx_fail(f, "%s:%ld: out of memory", path, line);
        f->records = nr;
        f->cap_records = cap;
    }
    fx_record *r = &f->records[f->n_records];
    memset(r, 0, sizeof *r);
    char *save = NULL;
    const char *kw = strtok_r(text, " \t", &save);
    if (fx_copy(r->kw, sizeof r->kw, kw)) return fx_fail(f, "%s:%ld: keyword too long", path, line);
    for (char *tok; (tok = strtok_r(NULL, " \t", &save));) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            if (r->arg[0]) return fx_fail(f, "%s:%ld: two positional arguments", path, line);
            if (fx_copy(r->arg, sizeof r->arg, tok)) return fx_fail(f, "%s:%ld: argument too long", path, line);
            continue;
        }
        if (r->nkv == FX_KV_MAX) return fx_fail(f, "%s:%ld: too many key=value pairs", path, line);
        *eq = 0;
        if (fx_copy(r->keys[r->nkv], FX_KEY_MAX, tok) || fx_copy(r->vals[r->nkv], FX_VAL_MAX, eq + 1))
            return fx_fail(f, "%s:%ld: key or value too long", path, line);
        r->nkv++;
    }
    f->n_records++;
    return 0;
}

/* Load a fixture file. 0 on success; -1 with a message in f->err (f is then freed). */
static inline int fx_load(fixture *f, const char *path) {
    memset(f, 0, sizeof *f);
    FILE *in = fopen(path, "r");
    if (!in) {
        fx_fail(f, "%s: cannot open (run the tests from the repository root; `make fixtures` regenerates the files)", path);
        return -1;
    }
    char *buf = NULL;
    size_t cap = 0;
    long line = 0;
    int rc = 0, seen_header = 0, seen_end = 0;
    while (rc == 0 && !seen_end && getline(&buf, &cap, in) >= 0) {
        line++;
        buf[strcspn(buf, "\r\n")] = 0;
        char *p = buf + strspn(buf, " \t");
        if (!*p || *p == '#') continue;
        if (!seen_header) {
            if (strcmp(p, "rnnc-oracle 1") != 0)
                rc = fx_fail(f, "%s:%ld: not an rnnc oracle fixture (version 1)", path, line);
            seen_header = 1;
        } else if (strcmp(p, "end") == 0) {
            seen_end = 1;
        } else if (strncmp(p, "tensor ", 7) == 0) {
            rc = fx_parse_tensor(f, in, p + 7, path, line);
        } else {
            rc = fx_parse_record(f, p, path, line);
        }
    }
    free(buf);
    fclose(in);
    if (rc == 0 && !seen_end) rc = fx_fail(f, "%s: truncated (no 'end' line)", path);
    if (rc != 0) {
        char err[sizeof f->err];
        memcpy(err, f->err, sizeof err);
        fx_free(f);
        memcpy(f->err, err, sizeof err);
    }
    return rc;
}

static inline const fx_tensor *fx_tensor_get(const fixture *f, const char *name) {
    for (int i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

/* Number of records with keyword kw, and the nth of them (NULL if none). */
static inline int fx_count(const fixture *f, const char *kw) {
    int n = 0;
    for (int i = 0; i < f->n_records; i++) n += strcmp(f->records[i].kw, kw) == 0;
    return n;
}

static inline const fx_record *fx_record_get(const fixture *f, const char *kw, int nth) {
    for (int i = 0; i < f->n_records; i++)
        if (strcmp(f->records[i].kw, kw) == 0 && nth-- == 0) return &f->records[i];
    return NULL;
}

/* Value of key in a record, or NULL. */
static inline const char *fx_get(const fx_record *r, const char *key) {
    for (int i = 0; r && i < r->nkv; i++)
        if (strcmp(r->keys[i], key) == 0) return r->vals[i];
    return NULL;
}

/* Numeric value of key; sets *ok = 0 when it is missing or malformed. */
static inline double fx_num(const fx_record *r, const char *key, int *ok) {
    const char *s = fx_get(r, key);
    char *end = NULL;
    double v = s ? strtod(s, &end) : 0.0;
    if (!s || end == s || *end) {
        *ok = 0;
        return 0.0;
    }
    return v;
}

/* Unsigned 64-bit value of key (seeds do not fit a double exactly). */
static inline unsigned long long fx_u64(const fx_record *r, const char *key, int *ok) {
    const char *s = fx_get(r, key);
    char *end = NULL;
    unsigned long long v = s ? strtoull(s, &end, 10) : 0;
    if (!s || end == s || *end) {
        *ok = 0;
        return 0;
    }
    return v;
}

#endif
