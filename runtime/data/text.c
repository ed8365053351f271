/*
 * text.c — raw text in, imdb-style token ids out (the rules are data.h's).
 *
 * The tokenizer departs from Keras's in two ways, both because the runtime works on
 * bytes and carries no Unicode tables: only ASCII letters are lower-cased (Python
 * lower-cases every cased letter), and bytes >= 0x80 are ordinary word bytes, so UTF-8
 * words stay whole ("café" is one word, "CAFÉ" another, where Keras would merge them).
 * Directory listing needs opendir/readdir/stat, which _POSIX_C_SOURCE=200809L provides.
 */
#include "core/errors.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "data/data.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Class labels from text are small integers; 2^24 keeps them exact in a float. */
#define TEXT_MAX_LABEL 16777216L

/* Ids 0 padding, 1 start, 2 out-of-vocabulary and 3 (unused, as in imdb.load_data) come
 * before the words: the word of rank r has id r + 3. */
#define TEXT_FIRST_WORD_ID 4


/* ---- tokenizer ---------------------------------------------------------------------- */

/* Keras's default filters '!"#$%&()*+,-./:;<=>?@[\]^_`{|}~\t\n' plus the split
 * character ' '. Note: no apostrophe, no '\r'. */
static int is_sep(unsigned char c) {
    switch (c) {
    case ' ': case '\t': case '\n':
    case '!': case '"': case '#': case '$': case '%': case '&': case '(': case ')':
    case '*': case '+': case ',': case '-': case '.': case '/': case ':': case ';':
    case '<': case '=': case '>': case '?': case '@': case '[': case '\\': case ']':
    case '^': case '_': case '`': case '{': case '|': case '}': case '~':
        return 1;
    default:
        return 0;
    }
}

static unsigned char lower(unsigned char c) {
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Next word of s at or after *pos: its start and length (0 when there is none). */
static size_t next_word(const char *s, size_t *pos, size_t *start) {
    size_t p = *pos;
    while (s[p] && is_sep((unsigned char)s[p])) p++;
    *start = p;
    while (s[p] && !is_sep((unsigned char)s[p])) p++;
    *pos = p;
    return p - *start;
}

/* ---- a small open-addressing hash table of words -------------------------------------- */

typedef struct {
    char *word;      /* lower-cased, NUL-terminated, owned; NULL = empty slot */
    size_t len;
    uint64_t hash;
    uint64_t count;
    int32_t rank;    /* 1-based rank once the vocabulary is built */
} wentry;

typedef struct {
    wentry *slots;
    size_t cap;      /* a power of two */
    size_t used;
} wtable;

/* FNV-1a over the lower-cased bytes, so a word can be looked up without copying it. */
static uint64_t hash_lower(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t k = 0; k < n; k++) {
        h ^= lower((unsigned char)s[k]);
        h *= 1099511628211ull;
    }
    return h;
}

static int wt_init(wtable *t, size_t cap) {
    t->cap = cap;
    t->used = 0;
    t->slots = calloc(cap, sizeof *t->slots);
    return t->slots ? 0 : -1;
}

static void wt_free(wtable *t) {
    if (!t->slots) return;
    for (size_t k = 0; k < t->cap; k++) free(t->slots[k].word);
    free(t->slots);
    t->slots = NULL;
}

static int same_lower(const wentry *e, const char *s, size_t n) {
    if (e->len != n) return 0;
    for (size_t k = 0; k < n; k++)
        if ((unsigned char)e->word[k] != lower((unsigned char)s[k])) return 0;
    return 1;
}

/* The slot holding the word s[0..n) (compared lower-cased), or the empty slot where it
 * would go. */
static wentry *wt_slot(const wtable *t, const char *s, size_t n, uint64_t h) {
    size_t k = (size_t)h & (t->cap - 1);
    for (;;) {
        wentry *e = &t->slots[k];
        if (!e->word || (e->hash == h && same_lower(e, s, n))) return e;
        k = (k + 1) & (t->cap - 1);
    }
}

static int wt_grow(wtable *t) {
    wtable bigger;
    if (t->cap > SIZE_MAX / 2 / sizeof(wentry) || wt_init(&bigger, t->cap * 2)) return -1;
    for (size_t k = 0; k < t->cap; k++) {
        wentry *e = &t->slots[k];
        if (!e->word) continue;
        *wt_slot(&bigger, e->word, e->len, e->hash) = *e;
    }
    bigger.used = t->used;
    free(t->slots);
    *t = bigger;
    return 0;
}

/* Find or insert s[0..n) (lower-cased). NULL on allocation failure. */
static wentry *wt_add(wtable *t, const char *s, size_t n) {
    if (2 * (t->used + 1) > t->cap && wt_grow(t)) return NULL;
    uint64_t h = hash_lower(s, n);
    wentry *e = wt_slot(t, s, n, h);
    if (e->word) return e;
    char *w = malloc(n + 1);
    if (!w) return NULL;
    for (size_t k = 0; k < n; k++) w[k] = (char)lower((unsigned char)s[k]);
    w[n] = '\0';
    e->word = w;
    e->len = n;
    e->hash = h;
    e->count = 0;
    e->rank = 0;
    t->used++;
    return e;
}

static const wentry *wt_find(const wtable *t, const char *s, size_t n) {
    const wentry *e = wt_slot(t, s, n, hash_lower(s, n));
    return e->word ? e : NULL;
}

/* ---- vocabulary --------------------------------------------------------------------- */

struct rnn_vocab {
    int vocab;        /* ids are < vocab */
    size_t n_words;   /* kept words: ranks 1..n_words */
    char **words;     /* [n_words] in rank order; point into index's entries */
    wtable index;     /* word -> rank */
};

/* Words a rank may hold: at most vocab - 4 (ids 4 .. vocab-1). */
static size_t max_words(int vocab) {
    return vocab > TEXT_FIRST_WORD_ID ? (size_t)(vocab - TEXT_FIRST_WORD_ID) : 0;
}

void rnn_vocab_free(rnn_vocab *v) {
    if (!v) return;
    wt_free(&v->index);
    free(v->words);
    free(v);
}

/* Build a vocabulary from words in rank order (each already validated). If a word
 * repeats an earlier one, returns NULL with *dup = its 0-based index (else *dup = n). */
static rnn_vocab *vocab_from_words(char *const *words, size_t n, int vocab, size_t *dup) {
    *dup = n;
    rnn_vocab *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->vocab = vocab;
    size_t cap = 16;
    while (cap < 2 * n + 2) cap *= 2;
    v->words = malloc((n ? n : 1) * sizeof *v->words);
    if (!v->words || wt_init(&v->index, cap)) {
        rnn_vocab_free(v);
        return NULL;
    }
    for (size_t k = 0; k < n; k++) {
        wentry *e = wt_add(&v->index, words[k], strlen(words[k]));
        if (!e) {
            rnn_vocab_free(v);
            return NULL;
        }
        if (e->rank) {
            *dup = k;
            rnn_vocab_free(v);
            return NULL;
        }
        e->rank = (int32_t)(k + 1);
        v->words[k] = e->word;
    }
    v->n_words = n;
    return v;
}

static int by_count_then_bytes(const void *a, const void *b) {
    const wentry *x = *(const wentry *const *)a, *y = *(const wentry *const *)b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return strcmp(x->word, y->word);  /* strcmp compares as unsigned char: bytewise */
}

rnn_vocab *rnn_vocab_build(const rnn_text_set *train, int vocab) {
    wtable counts;
    if (wt_init(&counts, 1024)) return NULL;
    for (size_t i = 0; i < train->n; i++) {
        const char *s = train->texts[i];
        size_t pos = 0, start, len;
        while ((len = next_word(s, &pos, &start)) > 0) {
            wentry *e = wt_add(&counts, s + start, len);
            if (!e) {
                wt_free(&counts);
                return NULL;
            }
            e->count++;
        }
    }
    rnn_vocab *v = NULL;
    wentry **order = malloc((counts.used ? counts.used : 1) * sizeof *order);
    char **words = malloc((counts.used ? counts.used : 1) * sizeof *words);
    if (order && words) {
        size_t m = 0;
        for (size_t k = 0; k < counts.cap; k++)
            if (counts.slots[k].word) order[m++] = &counts.slots[k];
        qsort(order, m, sizeof *order, by_count_then_bytes);
        size_t keep = m < max_words(vocab) ? m : max_words(vocab);
        for (size_t k = 0; k < keep; k++) words[k] = order[k]->word;
        size_t dup;
        v = vocab_from_words(words, keep, vocab, &dup);  /* counted words are unique */
    }
    free(order);
    free(words);
    wt_free(&counts);
    return v;
}

/* The stored form of a vocabulary (rnn_vocab_serialize; the checkpoint's "vocabulary"
 * metadata, a JSON string, so it must be UTF-8): the kept words in rank order, joined
 * by "\n". A word is written as its bytes, except that a byte which does not belong to
 * a valid UTF-8 sequence (rnn_utf8_seq: RFC 3629, no overlongs, no surrogates) is
 * written \xhh, two lower-case hex digits: Latin-1 "café" is stored "caf\xe9". No word
 * holds a backslash (the tokenizer splits on it), so the escape is unambiguous, and a
 * vocabulary of UTF-8 words is plain UTF-8 lines, without an escape. The parser takes
 * exactly what the serializer writes, so each vocabulary has one stored form. */

/* Write word w[0..n) in its stored form to out (NULL: only count); returns the length. */
static size_t escape_word(const char *w, size_t n, char *out) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t k = 0; k < n;) {
        unsigned char c = (unsigned char)w[k];
        size_t seq = rnn_utf8_seq((const unsigned char *)w + k, n - k);
        if (seq) {
            if (out) memcpy(out + o, w + k, seq);
            o += seq;
            k += seq;
        } else {
            if (out) {
                out[o] = '\\';
                out[o + 1] = 'x';
                out[o + 2] = hex[c >> 4];
                out[o + 3] = hex[c & 15];
            }
            o += 4;
            k++;
        }
    }
    return o;
}

char *rnn_vocab_serialize(const rnn_vocab *v) {
    size_t total = 1;
    for (size_t k = 0; k < v->n_words; k++) total += escape_word(v->words[k], strlen(v->words[k]), NULL) + 1;
    char *s = malloc(total);
    if (!s) return NULL;
    size_t p = 0;
    for (size_t k = 0; k < v->n_words; k++) {
        if (k) s[p++] = '\n';
        p += escape_word(v->words[k], strlen(v->words[k]), s + p);
    }
    s[p] = '\0';
    return s;
}

static int hex_digit(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode the stored word src (one line, NUL-terminated) into out, which has room for
 * strlen(src) + 1 bytes. 0, or -1 with err set. */
static int unescape_word(const char *src, size_t line, char *out, char **scratch, size_t *scratch_cap, char *err,
                         size_t errlen) {
    if (!*src) return rnn_fail(err, errlen, "vocabulary line %zu: empty word", line);
    size_t n = 0;
    for (const char *q = src; *q; q++) {
        if (*q != '\\') {
            out[n++] = *q;
            continue;
        }
        int hi = q[1] == 'x' ? hex_digit(q[2]) : -1, lo = hi >= 0 ? hex_digit(q[3]) : -1;
        if (lo < 0 || hi < 8)
            return rnn_fail(err, errlen, "vocabulary line %zu: '%s': a '\\' must start \\xhh, a byte 80..ff in lower-case hex",
                            line, src);
        out[n++] = (char)(hi << 4 | lo);
        q += 3;
    }
    out[n] = '\0';
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)out[k];
        if (is_sep(c) || lower(c) != c)
            return rnn_fail(err, errlen, "vocabulary line %zu: '%s' is not a word the tokenizer can produce", line, src);
    }
    /* one stored form: escapes exactly where the serializer puts them */
    size_t m = escape_word(out, n, NULL);
    if (m + 1 > *scratch_cap) {
        char *b = realloc(*scratch, m + 1);
        if (!b) return rnn_fail(err, errlen, "vocabulary: out of memory");
        *scratch = b;
        *scratch_cap = m + 1;
    }
    escape_word(out, n, *scratch);
    (*scratch)[m] = '\0';
    if (strcmp(*scratch, src) != 0)
        return rnn_fail(err, errlen,
                        "vocabulary line %zu: '%s' should be written '%s' (only bytes that are not UTF-8 are escaped, as \\xhh)",
                        line, src, *scratch);
    return 0;
}

rnn_vocab *rnn_vocab_parse(const char *s, int vocab, char *err, size_t errlen) {
    /* Split into lines; a single trailing newline is tolerated (text editors add one). */
    size_t len = strlen(s);
    if (len && s[len - 1] == '\n') len--;
    size_t n = 0;
    if (len) {
        n = 1;
        for (size_t k = 0; k < len; k++) n += s[k] == '\n';
    }
    if (n > max_words(vocab)) {
        rnn_fail(err, errlen, "vocabulary: %zu words, but ids below %d leave room for at most %zu", n, vocab,
             max_words(vocab));
        return NULL;
    }
    char *copy = malloc(len + 1);      /* the stored lines, NUL-terminated in place */
    char *decoded = malloc(len + n + 1); /* the words, each NUL-terminated */
    char **srcs = calloc(n ? n : 1, sizeof *srcs);
    char **words = calloc(n ? n : 1, sizeof *words);
    char *scratch = NULL;
    size_t scratch_cap = 0;
    rnn_vocab *v = NULL;
    if (!copy || !decoded || !srcs || !words) {
        rnn_fail(err, errlen, "vocabulary: out of memory");
        goto done;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    char *p = copy, *out = decoded;
    for (size_t k = 0; k < n; k++) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        if (unescape_word(p, k + 1, out, &scratch, &scratch_cap, err, errlen)) goto done;
        srcs[k] = p;
        words[k] = out;
        out += strlen(out) + 1;
        p = nl ? nl + 1 : p + strlen(p);
    }
    size_t dup;
    v = vocab_from_words(words, n, vocab, &dup);
    if (!v && dup < n) {
        size_t at = 0;
        while (at < dup && strcmp(words[at], words[dup]) != 0) at++;
        rnn_fail(err, errlen, "vocabulary line %zu: '%s' repeats line %zu", dup + 1, srcs[dup], at + 1);
    } else if (!v) {
        rnn_fail(err, errlen, "vocabulary: out of memory");
    }
done:
    free(scratch);
    free(words);
    free(srcs);
    free(decoded);
    free(copy);
    return v;
}

/* ---- encoding ------------------------------------------------------------------------ */

static int32_t word_id(const rnn_vocab *v, const char *s, size_t n) {
    const wentry *e = wt_find(&v->index, s, n);
    /* kept words all satisfy rank + 3 < vocab */
    return e ? e->rank + 3 : 2;
}

void rnn_text_encode(const rnn_vocab *v, const char *text, int T, int32_t *ids) { rnn_text_encode_fit(v, text, T, 0, ids); }

void rnn_text_encode_fit(const rnn_vocab *v, const char *text, int T, int fit, int32_t *ids) {
    if (T <= 0) return;
    size_t pos = 0, start, len, n_words = 0;
    while (next_word(text, &pos, &start) > 0) n_words++;
    /* the sequence is [1, w_1 .. w_n]: n_words + 1 ids, of which T at most are kept, the
     * last ones ('pre' truncation) or the first ('post'); the zeros that make up T go
     * before them ('pre' padding) or after ('post') */
    size_t total = n_words + 1, t = (size_t)T, kept = total < t ? total : t;
    size_t skip = fit & RNN_TEXT_POST_TRUNCATING ? 0 : total - kept;   /* ids of the sequence dropped first */
    size_t pad = t - kept, out = fit & RNN_TEXT_POST_PADDING ? 0 : pad;
    for (size_t k = 0; k < pad; k++) ids[fit & RNN_TEXT_POST_PADDING ? kept + k : k] = 0;
    if (skip == 0) ids[out++] = 1;
    pos = 0;
    size_t w = 0;  /* index of the word in the sequence, start token = 0 */
    while ((len = next_word(text, &pos, &start)) > 0 && w + 1 < skip + kept) {
        w++;
        if (w < skip) continue;
        ids[out++] = word_id(v, text + start, len);
    }
}

int rnn_text_fit_of(const rnn_model *m) {
    const rnn_layer *e = &m->layers[0];
    return (e->post_padding ? RNN_TEXT_POST_PADDING : 0) | (e->post_truncating ? RNN_TEXT_POST_TRUNCATING : 0);
}

/* where: the sample's file and line ("data.tsv:12"), or NULL for "sample ROW". */
static int check_label(float y, rnn_loss_kind loss, int n_classes, size_t row, const char *where, char *err,
                       size_t errlen) {
    char at[64];
    if (!where) snprintf(at, sizeof at, "sample %zu (0-based)", row);
    if (loss == RNN_LOSS_BINARY_CROSSENTROPY) {
        if (!(y >= 0.0f && y <= 1.0f))
            return rnn_fail(err, errlen, "%s: label %g is not in [0, 1] (binary labels)", where ? where : at, (double)y);
    } else if (!(y >= 0.0f && y < (float)n_classes) || y != (float)(long)y) {
        return rnn_fail(err, errlen, "%s: label %g is not a class index in [0, %d)", where ? where : at, (double)y,
                        n_classes);
    }
    return 0;
}

int rnn_text_check_vocab(int vocab, char *err, size_t errlen) {
    if (vocab > TEXT_FIRST_WORD_ID) return 0;
    return rnn_fail(err, errlen,
                    "the embedding's input_dim %d is too small for text data: ids 0..%d are reserved (0 padding, "
                    "1 start, 2 out-of-vocabulary, 3 unused), so words start at id %d; use input_dim >= %d",
                    vocab, TEXT_FIRST_WORD_ID - 1, TEXT_FIRST_WORD_ID, TEXT_FIRST_WORD_ID + 1);
}

int rnn_text_to_data(const rnn_vocab *v, const rnn_text_set *s, int T, rnn_loss_kind loss, int n_classes,
                     rnn_data *d, char *err, size_t errlen) {
    return rnn_text_to_data_fit(v, s, T, 0, loss, n_classes, d, err, errlen);
}

int rnn_text_to_data_fit(const rnn_vocab *v, const rnn_text_set *s, int T, int fit, rnn_loss_kind loss, int n_classes,
                         rnn_data *d, char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    if (rnn_text_check_vocab(v->vocab, err, errlen)) return -1;
    if (s->n == 0) return rnn_fail(err, errlen, "no samples");
    if (T <= 0) return rnn_fail(err, errlen, "invalid number of timesteps %d", T);
    if (n_classes < 1) return rnn_fail(err, errlen, "invalid number of outputs %d", n_classes);
    /* one label per text: a binary label or a class index, which categorical
     * cross-entropy takes as a one-hot row */
    const int L = rnn_data_label_width(loss, n_classes);
    if (loss == RNN_LOSS_BINARY_CROSSENTROPY && L > 1)
        return rnn_fail(err, errlen, "text data has one label per sample, but the model has %d sigmoid outputs (multi-label): "
                                     "give the labels as --train-y F.npy of shape (N, %d)", L, L);
    const rnn_loss_kind as = loss == RNN_LOSS_CATEGORICAL_CROSSENTROPY ? RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY : loss;
    for (size_t i = 0; i < s->n; i++)
        if (check_label(s->labels[i], as, n_classes, i, s->where ? s->where[i] : NULL, err, errlen)) return -1;
    if (s->n > SIZE_MAX / sizeof(int32_t) / (size_t)T) return rnn_fail(err, errlen, "too many samples");
    int32_t *x = malloc(s->n * (size_t)T * sizeof *x);
    float *y = calloc(s->n * (size_t)L, sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return rnn_fail(err, errlen, "out of memory for %zu samples", s->n);
    }
    for (size_t i = 0; i < s->n; i++) {
        rnn_text_encode_fit(v, s->texts[i], T, fit, x + i * (size_t)T);
        if (L == 1) y[i] = s->labels[i];
        else y[i * (size_t)L + (size_t)s->labels[i]] = 1.0f;
    }
    d->n = s->n;
    d->T = T;
    d->x = x;
    d->y = y;
    d->label_width = L;
    return 0;
}

/* ---- reading -------------------------------------------------------------------------- */

void rnn_text_set_free(rnn_text_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->texts[i]);
        if (s->where) free(s->where[i]);
    }
    free(s->texts);
    free(s->labels);
    free(s->where);
    memset(s, 0, sizeof *s);
}

/* Append one sample (takes ownership of text) from `file`, at `line` (0: the whole file). */
static int set_push_at(rnn_text_set *s, size_t *cap, char *text, float label, const char *file, size_t line) {
    if (s->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        char **t = realloc(s->texts, nc * sizeof *t);
        if (!t) return -1;
        s->texts = t;
        float *l = realloc(s->labels, nc * sizeof *l);
        if (!l) return -1;
        s->labels = l;
        char **w = realloc(s->where, nc * sizeof *w);
        if (!w) return -1;
        s->where = w;
        *cap = nc;
    }
    size_t n = strlen(file) + 24;
    char *where = malloc(n);
    if (!where) return -1;
    if (line) snprintf(where, n, "%s:%zu", file, line);
    else snprintf(where, n, "%s", file);
    s->texts[s->n] = text;
    s->labels[s->n] = label;
    s->where[s->n] = where;
    s->n++;
    return 0;
}

/* ---- the bytes of a text file -------------------------------------------------------
 * One definition, shared by every reader (the TSV, the aclImdb-like folder, the lines to
 * predict from a file or stdin), so that a review gives the same words and ids whichever
 * way it arrives:
 *   - a UTF-8 byte order mark at the very start is dropped;
 *   - a line ends at LF, CRLF or a lone CR (Python's universal newlines) and every line
 *     end reads as LF, a word separator; a line end at the end of the input starts no
 *     further line;
 *   - a NUL byte is an error naming the file, line and column (from 1, in bytes): text
 *     is never UTF-16 or binary, and a sample is a C string;
 *   - every other byte is kept as it is (the tokenizer decides what separates words). */

/* All of fd into a NUL-terminated buffer (*len bytes before the NUL). NULL + err. */
static char *read_all(int fd, const char *name, size_t *len, char *err, size_t errlen) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            rnn_fail(err, errlen, "%s: out of memory", name);
            return NULL;
        }
        if (n + 1 == cap) {
            char *nb = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!nb) free(buf);
            buf = nb;
            cap *= 2;
            continue;
        }
        ssize_t got = read(fd, buf + n, cap - 1 - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            rnn_fail(err, errlen, "%s: cannot read: %s", name, strerror(errno));
            free(buf);
            return NULL;
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Apply the definition above to buf[0..*len) in place. 0, or -1 + err on a NUL byte. */
static int normalize(char *buf, size_t *len, const char *name, char *err, size_t errlen) {
    size_t n = *len, r = 0, w = 0, line = 1, col = 1;
    if (n >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) r = 3;
    for (; r < n; r++) {
        char c = buf[r];
        if (c == '\0')
            return rnn_fail(err, errlen, "%s:%zu:%zu: NUL byte in the text (is the file UTF-16 or binary?)", name, line,
                            col);
        if (c == '\r') {
            c = '\n';
            if (r + 1 < n && buf[r + 1] == '\n') r++;
        }
        buf[w++] = c;
        if (c == '\n') line++, col = 1;
        else col++;
    }
    buf[w] = '\0';
    *len = w;
    return 0;
}

/* A whole text file, normalized. NULL + err; a FIFO, a device or a directory is refused
 * without blocking. */
static char *slurp(const char *path, char *err, size_t errlen) {
    int fd = rnn_open_regular(path, "text file", NULL, err, errlen);
    if (fd < 0) return NULL;
    size_t len;
    char *buf = read_all(fd, path, &len, err, errlen);
    close(fd);
    if (buf && normalize(buf, &len, path, err, errlen)) {
        free(buf);
        return NULL;
    }
    return buf;
}

static char *dup_range(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Parse a label field: decimal digits, optionally surrounded by spaces. */
static int parse_label(const char *s, size_t n, float *out) {
    while (n && s[0] == ' ') s++, n--;
    while (n && s[n - 1] == ' ') n--;
    if (n == 0) return -1;
    long v = 0;
    for (size_t k = 0; k < n; k++) {
        if (s[k] < '0' || s[k] > '9') return -1;
        v = v * 10 + (s[k] - '0');
        if (v > TEXT_MAX_LABEL) return -1;
    }
    *out = (float)v;
    return 0;
}

/* Is the normalized text buf a TSV of labelled rows: some line, and every line but blank
 * ones a label field (digits between spaces) and a tab before its text? */
static int is_tsv(const char *buf) {
    int rows = 0;
    for (const char *p = buf; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p), k = 0;
        while (k < n && p[k] == ' ') k++;
        if (k < n) {
            const char *tab = memchr(p, '\t', n);
            float label;
            if (!tab || parse_label(p, (size_t)(tab - p), &label)) return 0;
            rows++;
        }
        p = nl ? nl + 1 : p + n;
    }
    return rows > 0;
}

/* The rows of a TSV in buf (normalized, owned by the caller), named path. */
static int parse_tsv(char *buf, const char *path, rnn_text_set *out, size_t *capp, char *err, size_t errlen) {
    size_t cap = *capp, lineno = 0;
    char *p = buf;
    int rc = 0;
    while (*p) {
        lineno++;
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char *next = nl ? nl + 1 : p + n;
        size_t k = 0;
        while (k < n && p[k] == ' ') k++;
        if (k == n) {  /* blank line */
            p = next;
            continue;
        }
        const char *tab = memchr(p, '\t', n);
        if (!tab) {
            rc = rnn_fail(err, errlen, "%s:%zu: no tab between the label and the text", path, lineno);
            break;
        }
        float label;
        if (parse_label(p, (size_t)(tab - p), &label)) {
            int fl = (int)(tab - p) < 40 ? (int)(tab - p) : 40;
            rc = rnn_fail(err, errlen, "%s:%zu: label '%.*s' is not 0/1 or a class index", path, lineno, fl, p);
            break;
        }
        char *text = dup_range(tab + 1, n - (size_t)(tab + 1 - p));
        if (!text || set_push_at(out, &cap, text, label, path, lineno)) {
            free(text);
            rc = rnn_fail(err, errlen, "%s: out of memory", path);
            break;
        }
        p = next;
    }
    *capp = cap;
    if (rc == 0 && out->n == 0) rc = rnn_fail(err, errlen, "%s: no samples", path);
    return rc;
}

static int read_tsv(const char *path, rnn_text_set *out, char *err, size_t errlen) {
    char *buf = slurp(path, err, errlen);
    if (!buf) return -1;
    size_t cap = 0;
    int rc = parse_tsv(buf, path, out, &cap, err, errlen);
    free(buf);
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    int slash = a && dir[a - 1] == '/';
    char *s = malloc(a + b + 2);
    if (s) snprintf(s, a + b + 2, "%s%s%s", dir, slash ? "" : "/", name);
    return s;
}

/* Read the .txt files of dir/<sub> (sub NULL: of dir itself) in bytewise name order with
 * the given label. */
static int read_class_dir(const char *dir, const char *sub, float label, rnn_text_set *out, size_t *cap,
                          char *err, size_t errlen) {
    char *path = sub ? join(dir, sub) : strdup(dir);
    if (!path) return rnn_fail(err, errlen, "%s: out of memory", dir);
    struct stat st;
    if (sub && (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))) {
        rnn_fail(err, errlen, "%s: no %s/ directory (an aclImdb-style directory has neg/ and pos/)", dir, sub);
        free(path);
        return -1;
    }
    DIR *dp = opendir(path);
    if (!dp) {
        rnn_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    char **names = NULL;
    size_t n = 0, ncap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l <= 4 || strcmp(de->d_name + l - 4, ".txt") != 0) continue;
        if (n == ncap) {
            size_t nc = ncap ? ncap * 2 : 64;
            char **t = realloc(names, nc * sizeof *t);
            if (!t) {
                rc = rnn_fail(err, errlen, "%s: out of memory", path);
                break;
            }
            names = t;
            ncap = nc;
        }
        if (!(names[n] = join(path, de->d_name))) {
            rc = rnn_fail(err, errlen, "%s: out of memory", path);
            break;
        }
        n++;
    }
    closedir(dp);
    if (rc == 0 && n > 1) qsort(names, n, sizeof *names, cmp_str);  /* same prefix, so this orders the names */
    /* every *.txt must be a readable regular file: one that is not is named, not skipped */
    for (size_t k = 0; rc == 0 && k < n; k++) {
        char *text = slurp(names[k], err, errlen);
        if (!text) {
            rc = -1;
        } else if (set_push_at(out, cap, text, label, names[k], 0)) {
            free(text);
            rc = rnn_fail(err, errlen, "%s: out of memory", path);
        }
    }
    if (rc == 0 && n == 0) rc = rnn_fail(err, errlen, "%s: no *.txt files", path);
    for (size_t k = 0; k < n; k++) free(names[k]);
    free(names);
    free(path);
    return rc;
}

int rnn_text_read(const char *path, rnn_text_set *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(path, &st) != 0) return rnn_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    int rc;
    if (S_ISDIR(st.st_mode)) {
        size_t cap = 0;
        rc = read_class_dir(path, "neg", 0.0f, out, &cap, err, errlen);
        if (rc == 0) rc = read_class_dir(path, "pos", 1.0f, out, &cap, err, errlen);
    } else {
        rc = read_tsv(path, out, err, errlen);
    }
    if (rc) rnn_text_set_free(out);
    return rc;
}

/* All of path ("-": stdin) normalized; NULL + err. A directory is not read here. */
static char *read_input(const char *path, size_t *len, char *err, size_t errlen) {
    const int is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "<stdin>" : path;
    int fd = STDIN_FILENO;
    if (!is_stdin) {
        struct stat st;
        int known = stat(path, &st) == 0;
        fd = rnn_open_regular(path, "text file", NULL, err, errlen);
        if (fd < 0) {
            size_t used = err && errlen ? strlen(err) : 0;
            if (err && known && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && used + 1 < errlen)
                snprintf(err + used, errlen - used, " (a stream is read from stdin: --text -)");
            return NULL;
        }
    }
    char *buf = read_all(fd, name, len, err, errlen);
    if (!is_stdin) close(fd);
    if (buf && normalize(buf, len, name, err, errlen)) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Every line of buf[0..len) a sample (a blank one too, so that outputs line up with the
 * input's lines), named name:LINE. */
static int split_lines(const char *buf, size_t len, const char *name, rnn_text_set *out, char *err, size_t errlen) {
    size_t cap = 0, line = 0;
    for (size_t p = 0; p < len;) {
        const char *nl = memchr(buf + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - buf) : len;
        char *text = dup_range(buf + p, e - p);
        if (!text || set_push_at(out, &cap, text, 0.0f, name, ++line)) {
            free(text);
            return rnn_fail(err, errlen, "%s: out of memory", name);
        }
        p = e + 1;
    }
    if (out->n == 0) return rnn_fail(err, errlen, "%s: no lines of text", name);
    return 0;
}

int rnn_text_read_lines(const char *path, rnn_text_set *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    struct stat st;
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return rnn_text_read(path, out, err, errlen);
    size_t len;
    char *buf = read_input(path, &len, err, errlen);
    if (!buf) return -1;
    int rc = split_lines(buf, len, strcmp(path, "-") ? path : "<stdin>", out, err, errlen);
    free(buf);
    if (rc) rnn_text_set_free(out);
    return rc;
}

/* A folder: aclImdb-like (neg/ and pos/, labelled), else its own *.txt files, unlabelled. */
static int read_folder(const char *path, rnn_text_set *out, int *labelled, char *err, size_t errlen) {
    char *neg = join(path, "neg"), *pos = join(path, "pos");
    struct stat st;
    const int acl = neg && pos && (stat(neg, &st) == 0 && S_ISDIR(st.st_mode)) && (stat(pos, &st) == 0 && S_ISDIR(st.st_mode));
    free(neg);
    free(pos);
    *labelled = acl;
    if (acl) return rnn_text_read(path, out, err, errlen);
    size_t cap = 0;
    int rc = read_class_dir(path, NULL, 0.0f, out, &cap, err, errlen);
    if (rc) rnn_text_set_free(out);
    return rc;
}

int rnn_text_read_samples(const char *path, rnn_text_unit unit, rnn_text_set *out, int *labelled, char *err,
                          size_t errlen) {
    memset(out, 0, sizeof *out);
    *labelled = 0;
    const int is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "<stdin>" : path;
    struct stat st;
    if (!is_stdin && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (unit == RNN_TEXT_UNIT_LINE)
            return rnn_fail(err, errlen, "%s is a folder, whose files are the samples: --text-unit line takes a file", path);
        return read_folder(path, out, labelled, err, errlen);
    }
    size_t len;
    char *buf = read_input(path, &len, err, errlen);
    if (!buf) return -1;
    int rc;
    if (is_tsv(buf)) {   /* labelled rows: the label column is never a word */
        size_t cap = 0;
        rc = unit == RNN_TEXT_UNIT_FILE
                 ? rnn_fail(err, errlen, "%s is a TSV of labelled rows (label<TAB>text), each row a sample: --text-unit file "
                                         "does not apply", name)
                 : parse_tsv(buf, name, out, &cap, err, errlen);
        *labelled = rc == 0;
    } else if (unit == RNN_TEXT_UNIT_LINE || (unit == RNN_TEXT_UNIT_DEFAULT && is_stdin)) {
        rc = split_lines(buf, len, name, out, err, errlen);
    } else {   /* the whole input one sample, its line ends word separators */
        size_t cap = 0;
        char *text = dup_range(buf, len);
        rc = !text || set_push_at(out, &cap, text, 0.0f, name, 0) ? (free(text), rnn_fail(err, errlen, "%s: out of memory", name)) : 0;
    }
    free(buf);
    if (rc) rnn_text_set_free(out);
    return rc;
}
