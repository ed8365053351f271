/*
 * json.h — the strict JSON parser that reads safetensors headers. Internal to librnnrt.
 *
 * The input is untrusted: RFC 8259 grammar, UTF-8 validated, duplicate keys rejected,
 * nesting limited, every bound checked before use. The tree lives in an arena (a list
 * of blocks freed together). Numbers keep their source text so that errors can quote
 * them; integers that fit int64 also keep their value. Objects keep their members in
 * source order.
 */
#ifndef RNN_JSON_H
#define RNN_JSON_H

#include <stddef.h>
#include <stdint.h>

/* Blocks freed together; a zeroed rnn_arena is empty. */
typedef struct rnn_arena_block rnn_arena_block;
typedef struct {
    rnn_arena_block *head;
} rnn_arena;
void rnn_arena_free(rnn_arena *a);

enum { RNN_J_NULL, RNN_J_BOOL, RNN_J_INT, RNN_J_NUM, RNN_J_STR, RNN_J_ARR, RNN_J_OBJ };

typedef struct rnn_jval rnn_jval;
typedef struct {
    char *s; /* NUL-terminated; may also contain NULs from \u0000, hence n */
    size_t n;
} rnn_jstr;

struct rnn_jval {
    int type;
    size_t pos;      /* header byte offset of the value, for messages */
    size_t n;        /* array/object members */
    int64_t i;       /* RNN_J_INT; RNN_J_BOOL: 1 true, 0 false */
    const char *raw; /* RNN_J_INT/RNN_J_NUM: source text (not NUL-terminated) */
    size_t rawlen;
    rnn_jstr str;    /* RNN_J_STR */
    rnn_jval *item;  /* RNN_J_ARR/RNN_J_OBJ values */
    rnn_jstr *key;   /* RNN_J_OBJ keys */
};

/* Parse text[0, len), which must be one JSON object and nothing else but white space,
 * into *root; the tree is allocated in ar, which the caller frees (also on failure).
 * 0, or -1 with msg set to "invalid header JSON at byte N: what is wrong". A key
 * repeated at the top level other than __metadata__ is reported as a duplicate tensor
 * name. */
int rnn_json_parse_header(const unsigned char *text, size_t len, rnn_arena *ar, rnn_jval *root,
                          char *msg, size_t msglen);

/* Parse text[0, len), one JSON value of any type and nothing else but white space, nested
 * at most max_depth levels, into *root (allocated in ar, as above). 0, or -1 with msg set
 * to "invalid JSON at line L, column C: what is wrong". */
int rnn_json_parse(const unsigned char *text, size_t len, int max_depth, rnn_arena *ar, rnn_jval *root, char *msg,
                   size_t msglen);

/* The 1-based line and column (in bytes) of byte pos of text, for messages. */
size_t rnn_json_line(const unsigned char *text, size_t pos);
size_t rnn_json_column(const unsigned char *text, size_t pos);

/* "null", "a boolean", "an integer", ... "an object": a type for messages. */
const char *rnn_json_type_name(int type);

/* Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF.
 * Returns the length of the sequence at s (at most n bytes available), 0 if invalid. */
size_t rnn_utf8_seq(const unsigned char *s, size_t n);

#endif
