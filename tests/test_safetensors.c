/*
 * test_safetensors.c — checkpoint files (runtime/core/safetensors.c) and atomic writes
 * (runtime/core/atomic_file.c).
 *
 * Suite safetensors: round trips of every dtype at ranks 0-4 with hostile metadata,
 * the exact bytes of small files, foreign files our writer would not produce (other
 * key orders, no padding, escapes, unaligned data), one test per way a file can be
 * malformed with its exact message, writer argument errors, and read-back by an
 * independent Python reader (tools/read_safetensors.py) with and without numpy.
 * Suite atomic: commit and abort, a file size limit hit mid-write (EFBIG) in a child
 * process, a failed rename, the mode of new files, rnn_path_writable.
 */
/* run.h first: it sets the feature macros for the system headers. It is a header of
 * static helpers and this file needs all but build_path; gcc also flags a possible
 * truncation in rm_tree's path buffer (as it does in test_compiler.c). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif
#include "run.h"
#pragma GCC diagnostic pop

#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <sys/resource.h>

#include "core/atomic_file.h"
#include "core/safetensors.h"

/* ---- helpers ------------------------------------------------------------------- */

static char *path_in(const char *dir, const char *name) {
    static char buf[8][PATH_MAX];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, PATH_MAX, "%s/%s", dir, name);
    return p;
}

/* The whole file at path into a malloc'd buffer; *len its size. */
static unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    cr_assert_not_null(b);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    b[n] = 0;
    *len = (size_t)n;
    return b;
}

/* A safetensors file with the given header text (not padded) and dlen bytes of data
 * (i, i+1, ... so that misplaced offsets show). hlen_override replaces the length
 * field when nonzero. */
static const char *write_st(const char *dir, const char *header, size_t dlen, uint64_t hlen_override) {
    const char *p = path_in(dir, "bad.safetensors");
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    uint64_t hl = hlen_override ? hlen_override : strlen(header);
    for (int b = 0; b < 8; b++) fputc((int)((hl >> (8 * b)) & 0xff), f);
    fputs(header, f);
    for (size_t i = 0; i < dlen; i++) fputc((int)(i & 0xff), f);
    fclose(f);
    return p;
}

/* Open must fail with exactly "PATH: want". */
static void expect_open_error(const char *path, const char *want) {
    char err[1024] = "", full[2048];
    rnn_st_file *f = rnn_st_open(path, err, sizeof err);
    cr_expect_null(f, "opened %s, expected: %s", path, want);
    rnn_st_close(f);
    snprintf(full, sizeof full, "%s: %s", path, want);
    cr_expect_str_eq(err, full);
}

static void expect_bad(const char *header, size_t dlen, const char *want) {
    char *dir = make_temp_dir();
    expect_open_error(write_st(dir, header, dlen, 0), want);
    rm_tree(dir);
    free(dir);
}

static uint64_t fnv1a64(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3u;
    return h;
}

static size_t dtype_size(rnn_st_dtype d) {
    static const size_t s[] = {4, 8, 4, 8, 1};
    return s[d];
}

static int64_t elements(const rnn_st_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->rank; d++) n *= t->shape[d];
    return n;
}

/* ---- a checkpoint with every dtype and rank, and hostile metadata ---------------- */

enum { N_T = 9, N_M = 10 };
typedef struct {
    float f0, f4[2 * 3 * 1 * 4], fe[1];
    double d2[3 * 5];
    int32_t i1[7];
    int64_t l3[2 * 2 * 3];
    uint8_t u1[5], u4[1 * 2 * 1 * 3];
    char *vocab; /* 100 KB and more */
    rnn_st_tensor t[N_T];
    const char *mk[N_M], *mv[N_M];
} fixture;

static void fixture_init(fixture *x) {
    memset(x, 0, sizeof *x);
    x->f0 = 3.25f;
    for (int i = 0; i < 24; i++) x->f4[i] = (float)i * 0.37f - 4.0f;
    for (int i = 0; i < 15; i++) x->d2[i] = 1.0 / (i + 1) - 1e300 * (i == 3);
    const int32_t i1[7] = {0, -1, 1, INT32_MIN, INT32_MAX, 123456, -7};
    memcpy(x->i1, i1, sizeof i1);
    for (int i = 0; i < 12; i++) x->l3[i] = (int64_t)i * 1000000000007LL - (i == 5 ? INT64_MAX : 0);
    const uint8_t u1[5] = {0, 1, 127, 128, 255};
    memcpy(x->u1, u1, sizeof u1);
    for (int i = 0; i < 6; i++) x->u4[i] = (uint8_t)(200 + i);

    /* A vocabulary of 20000 words joined by "\n", as the trainer stores it. */
    size_t cap = 20000 * 12, n = 0;
    x->vocab = malloc(cap);
    cr_assert_not_null(x->vocab);
    for (int w = 0; w < 20000; w++) n += (size_t)snprintf(x->vocab + n, cap - n, "%sw%d", w ? "\n" : "", w);
    cr_assert_gt(n, 100000u);

    /* Caller order deliberately puts 1-byte tensors before wider ones: the JSON keeps
     * this order while the data is laid out widest first. */
    rnn_st_tensor t[N_T] = {
        {"u8/odd", RNN_ST_U8, 1, {5}, x->u1},
        {"f32/scalar", RNN_ST_F32, 0, {0}, &x->f0},
        {"f32/rank4", RNN_ST_F32, 4, {2, 3, 1, 4}, x->f4},
        {"f64/rank2", RNN_ST_F64, 2, {3, 5}, x->d2},
        {"i32/rank1", RNN_ST_I32, 1, {7}, x->i1},
        {"i64/rank3", RNN_ST_I64, 3, {2, 2, 3}, x->l3},
        {"u8/rank4", RNN_ST_U8, 4, {1, 2, 1, 3}, x->u4},
        {"f32/empty", RNN_ST_F32, 2, {0, 3}, NULL},
        {"f32/one", RNN_ST_F32, 1, {1}, x->fe},
    };
    x->fe[0] = -0.0f;
    memcpy(x->t, t, sizeof t);
    const char *mk[N_M] = {"quotes", "backslashes", "newlines", "tabs", "control",
                           "utf8",   "vocab",       "empty",    "slash", "json"};
    const char *mv[N_M] = {"say \"hi\" \"\"",
                           "C:\\dir\\file\\\\",
                           "line1\nline2\r\n\n",
                           "\ta\tb\t",
                           "\x01\x02\x08\x0c\x1b\x1f\x7f end",
                           "h\xc3\xa9llo \xe2\x86\x92 \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x8e\x89",
                           x->vocab,
                           "",
                           "a/b</script>",
                           "{\"not\": [\"parsed\"]}"};
    memcpy(x->mk, mk, sizeof mk);
    memcpy(x->mv, mv, sizeof mv);
}

static void fixture_write(fixture *x, const char *path) {
    char err[512] = "";
    int rc = rnn_st_write(path, x->t, N_T, x->mk, x->mv, N_M, err, sizeof err);
    cr_assert_eq(rc, 0, "write failed: %s", err);
}

Test(safetensors, round_trip_all_dtypes_ranks_and_metadata) {
    char *dir = make_temp_dir();
    fixture x;
    fixture_init(&x);
    const char *p = path_in(dir, "ckpt.safetensors");
    fixture_write(&x, p);

    char err[512] = "";
    rnn_st_file *f = rnn_st_open(p, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    cr_assert_eq(rnn_st_count(f), N_T);
    for (int i = 0; i < N_T; i++) {
        const rnn_st_tensor *w = &x.t[i], *r = rnn_st_get(f, i);
        cr_assert_not_null(r);
        cr_expect_str_eq(r->name, w->name, "tensor %d keeps the written order", i);
        cr_expect_eq(r->dtype, w->dtype, "%s dtype", w->name);
        cr_expect_eq(r->rank, w->rank, "%s rank", w->name);
        for (int d = 0; d < w->rank; d++) cr_expect_eq(r->shape[d], w->shape[d], "%s dim %d", w->name, d);
        size_t bytes = (size_t)elements(w) * dtype_size(w->dtype);
        if (bytes) cr_expect_eq(memcmp(r->data, w->data, bytes), 0, "%s data", w->name);
        cr_expect_eq((uintptr_t)r->data % dtype_size(w->dtype), 0u, "%s aligned", w->name);
        cr_expect_eq(rnn_st_find(f, w->name), r, "find %s", w->name);
    }
    /* Values that only survive if no byte was reinterpreted. */
    cr_expect_eq(((const int32_t *)rnn_st_find(f, "i32/rank1")->data)[3], INT32_MIN);
    cr_expect_eq(((const int64_t *)rnn_st_find(f, "i64/rank3")->data)[5], 5 * 1000000000007LL - INT64_MAX);
    cr_expect_eq(((const double *)rnn_st_find(f, "f64/rank2")->data)[3], 0.25 - 1e300);
    cr_expect(signbit(((const float *)rnn_st_find(f, "f32/one")->data)[0]), "-0.0 keeps its sign");
    cr_expect_null(rnn_st_find(f, "absent"));
    cr_expect_null(rnn_st_find(f, "u8"));
    cr_expect_null(rnn_st_get(f, N_T));
    cr_expect_null(rnn_st_get(f, -1));
    for (int m = 0; m < N_M; m++) {
        const char *v = rnn_st_meta(f, x.mk[m]);
        cr_assert_not_null(v, "metadata %s", x.mk[m]);
        cr_expect_eq(strlen(v), strlen(x.mv[m]), "metadata %s length", x.mk[m]);
        cr_expect_eq(strcmp(v, x.mv[m]), 0, "metadata %s", x.mk[m]);
    }
    cr_expect_null(rnn_st_meta(f, "absent"));
    cr_expect_null(rnn_st_meta(f, "__metadata__"));
    rnn_st_close(f);

    /* The layout on disk: header padded to 8, JSON in caller order, data widest
     * first: f64 (120 bytes) and i64 (96) at 0 and 120, then the 4-byte tensors in
     * order (f32/scalar 216, f32/rank4 220, i32 316, f32/empty 344, f32/one 344),
     * then u8/odd at 348 and u8/rank4 at 353 -> 359 bytes of data. */
    size_t len;
    unsigned char *b = read_all(p, &len);
    uint64_t hl = 0;
    for (int k = 7; k >= 0; k--) hl = hl << 8 | b[k];
    cr_expect_eq(hl % 8, 0u, "header length %llu is padded to 8", (unsigned long long)hl);
    cr_expect_eq(len, 8 + hl + 359);
    char *h = (char *)b + 8;
    h[hl] = 0;
    const char *want[] = {
        "\"u8/odd\":{\"dtype\":\"U8\",\"shape\":[5],\"data_offsets\":[348,353]}",
        "\"f32/scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[216,220]}",
        "\"f32/rank4\":{\"dtype\":\"F32\",\"shape\":[2,3,1,4],\"data_offsets\":[220,316]}",
        "\"f64/rank2\":{\"dtype\":\"F64\",\"shape\":[3,5],\"data_offsets\":[0,120]}",
        "\"i32/rank1\":{\"dtype\":\"I32\",\"shape\":[7],\"data_offsets\":[316,344]}",
        "\"i64/rank3\":{\"dtype\":\"I64\",\"shape\":[2,2,3],\"data_offsets\":[120,216]}",
        "\"u8/rank4\":{\"dtype\":\"U8\",\"shape\":[1,2,1,3],\"data_offsets\":[353,359]}",
        "\"f32/empty\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[344,344]}",
        "\"f32/one\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[344,348]}",
    };
    const char *prev = h;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *at = strstr(h, want[i]);
        cr_expect_not_null(at, "header lacks %s", want[i]);
        cr_expect(at && at > prev, "tensor %zu out of order in the header", i);
        if (at) prev = at;
    }
    cr_expect_not_null(strstr(h, "\"control\":\"\\u0001\\u0002\\b\\f\\u001b\\u001f\x7f end\""),
                       "control characters escaped");
    cr_expect_not_null(strstr(h, "\"quotes\":\"say \\\"hi\\\" \\\"\\\"\""));
    cr_expect_not_null(strstr(h, "\"backslashes\":\"C:\\\\dir\\\\file\\\\\\\\\""));
    cr_expect_not_null(strstr(h, "\"newlines\":\"line1\\nline2\\r\\n\\n\""));
    cr_expect_not_null(strstr(h, "\"utf8\":\"h\xc3\xa9llo"), "UTF-8 written as is");
    free(b);
    free(x.vocab);
    rm_tree(dir);
    free(dir);
}

/* ---- exact bytes ---------------------------------------------------------------- */

static void expect_file_bytes(const char *path, const char *want, size_t wantlen) {
    size_t len;
    unsigned char *b = read_all(path, &len);
    cr_expect_eq(len, wantlen, "file is %zu bytes, want %zu", len, wantlen);
    for (size_t i = 0; i < len && i < wantlen; i++)
        if (b[i] != (unsigned char)want[i]) {
            cr_expect_fail("byte %zu is 0x%02x, want 0x%02x", i, b[i], (unsigned char)want[i]);
            break;
        }
    free(b);
}

Test(safetensors, exact_bytes_of_a_tiny_file) {
    char *dir = make_temp_dir();
    const char *p = path_in(dir, "tiny.safetensors");
    const float v[2] = {1.0f, -2.0f};
    rnn_st_tensor t = {"a", RNN_ST_F32, 1, {2}, v};
    const char *k[] = {"note"}, *val[] = {"a\"b\n\x01"};
    char err[256] = "";
    cr_assert_eq(rnn_st_write(p, &t, 1, k, val, 1, err, sizeof err), 0, "%s", err);
    /* 93 bytes of JSON + 3 spaces = 96 = 0x60; then 1.0f and -2.0f little-endian. */
    static const char want[] =
        "\x60\0\0\0\0\0\0\0"
        "{\"__metadata__\":{\"note\":\"a\\\"b\\n\\u0001\"},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}   "
        "\0\0\x80\x3f" "\0\0\0\xc0";
    expect_file_bytes(p, want, sizeof want - 1);

    /* No metadata: no __metadata__ key at all. 52 bytes + 4 spaces = 0x38. */
    const uint8_t one = 7;
    rnn_st_tensor s = {"s", RNN_ST_U8, 0, {0}, &one};
    cr_assert_eq(rnn_st_write(p, &s, 1, NULL, NULL, 0, err, sizeof err), 0, "%s", err);
    static const char want2[] = "\x38\0\0\0\0\0\0\0"
                                "{\"s\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}    "
                                "\x07";
    expect_file_bytes(p, want2, sizeof want2 - 1);

    /* Nothing at all: "{}" padded to 8. */
    cr_assert_eq(rnn_st_write(p, NULL, 0, NULL, NULL, 0, err, sizeof err), 0, "%s", err);
    static const char want3[] = "\x08\0\0\0\0\0\0\0{}      ";
    expect_file_bytes(p, want3, sizeof want3 - 1);
    rnn_st_file *f = rnn_st_open(p, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    cr_expect_eq(rnn_st_count(f), 0);
    cr_expect_null(rnn_st_find(f, "a"));
    cr_expect_null(rnn_st_meta(f, "note"));
    rnn_st_close(f);
    rm_tree(dir);
    free(dir);
}

/* ---- foreign files that are valid ---------------------------------------------- */

Test(safetensors, reads_foreign_layouts) {
    char *dir = make_temp_dir();
    char err[512] = "";
    /* No padding (header length 5 mod 8 after whitespace), keys in another order,
     * JSON order unlike offset order, escapes (\/, \u00e9, a surrogate pair), a U8
     * tensor of 3 bytes before an F32 that therefore starts unaligned. */
    const char *h = " {\"w\" : {\"data_offsets\":[3,11],\"shape\":[2],\"dtype\":\"F32\"},\n"
                    "\t\"__metadata__\":{\"k\\/\\u00e9\":\"\\ud83c\\udf89\\u0000x\\\"\"},"
                    "\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}\r\n  ";
    /* \u0000 inside a metadata value cannot be returned as a C string: rejected. */
    expect_open_error(write_st(dir, h, 11, 0),
                      "__metadata__ 'k/\xc3\xa9': contains a NUL character (\\u0000)");

    h = " {\"w\" : {\"data_offsets\":[3,11],\"shape\":[2],\"dtype\":\"F32\"},\n"
        "\t\"__metadata__\":{\"k\\/\\u00e9\":\"\\ud83c\\udf89 x\\\"\\u001F\"},"
        "\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
        "\"e\":{\"dtype\":\"I64\",\"shape\":[2,0],\"data_offsets\":[3,3]}}\r\n  ";
    const char *p = path_in(dir, "foreign.safetensors");
    FILE *fp = fopen(p, "wb");
    cr_assert_not_null(fp);
    uint64_t hl = strlen(h);
    cr_assert_neq((8 + hl) % 8, 0u, "the test needs an unaligned data start");
    for (int k = 0; k < 8; k++) fputc((int)((hl >> (8 * k)) & 0xff), fp);
    fputs(h, fp);
    const unsigned char data[11] = {9, 8, 7, 0, 0, 0xc0, 0x3f, 0, 0, 0x20, 0xc1}; /* 1.5f, -10.0f */
    fwrite(data, 1, sizeof data, fp);
    fclose(fp);

    rnn_st_file *f = rnn_st_open(p, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    cr_assert_eq(rnn_st_count(f), 3);
    const rnn_st_tensor *w = rnn_st_get(f, 0), *b = rnn_st_get(f, 1), *e = rnn_st_get(f, 2);
    cr_expect_str_eq(w->name, "w", "header order, not offset order");
    cr_expect_str_eq(b->name, "b");
    cr_expect_eq((uintptr_t)w->data % 4, 0u, "unaligned F32 data is copied to aligned storage");
    cr_expect_eq(((const float *)w->data)[0], 1.5f);
    cr_expect_eq(((const float *)w->data)[1], -10.0f);
    cr_expect_eq(memcmp(b->data, data, 3), 0);
    cr_expect_str_eq(e->name, "e");
    cr_expect_eq(e->rank, 2);
    cr_expect_eq(e->shape[0], 2);
    cr_expect_eq(e->shape[1], 0);
    cr_expect_eq((uintptr_t)e->data % 8, 0u, "an empty tensor's pointer is aligned too");
    cr_expect_str_eq(rnn_st_meta(f, "k/\xc3\xa9"), "\xf0\x9f\x8e\x89 x\"\x1f");
    rnn_st_close(f);
    rm_tree(dir);
    free(dir);
}

/* ---- malformed files: one test each, exact message, NULL ------------------------ */

#define U8_1(range) "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":" range "}"
#define F32_2(range) "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":" range "}"

Test(safetensors, bad_file_shorter_than_8_bytes) {
    char *dir = make_temp_dir();
    write_file(dir, "short", "\x05\0\0\0\0", 5);
    expect_open_error(path_in(dir, "short"),
                      "file is 5 bytes, too short for a safetensors header (at least 8)");
    write_file(dir, "empty", "", 0);
    expect_open_error(path_in(dir, "empty"),
                      "file is 0 bytes, too short for a safetensors header (at least 8)");
    rm_tree(dir);
    free(dir);
}

Test(safetensors, bad_header_length_beyond_file) {
    char *dir = make_temp_dir();
    expect_open_error(write_st(dir, "{}", 10, 100), "header length 100 exceeds the file size (20 bytes)");
    /* One byte too long: the last byte of the file would be inside the header. */
    expect_open_error(write_st(dir, "{}", 0, 3), "header length 3 exceeds the file size (10 bytes)");
    rm_tree(dir);
    free(dir);
}

Test(safetensors, bad_header_length_absurd) {
    char *dir = make_temp_dir();
    expect_open_error(write_st(dir, "{}", 0, UINT64_MAX),
                      "header length 18446744073709551615 is above the 100 MiB limit");
    expect_open_error(write_st(dir, "{}", 0, ((uint64_t)100 << 20) + 1),
                      "header length 104857601 is above the 100 MiB limit");
    rm_tree(dir);
    free(dir);
}

Test(safetensors, bad_not_json) {
    expect_bad("hello", 0, "invalid header JSON at byte 0: expected '{' at the start of the header");
    expect_bad("[]", 0, "invalid header JSON at byte 0: expected '{' at the start of the header");
    expect_bad("", 0, "invalid header JSON at byte 0: unexpected end");
    expect_bad("{\"a\":tru}", 0, "invalid header JSON at byte 5: unexpected character 't'");
    expect_bad("{'a':1}", 0, "invalid header JSON at byte 1: object key expected");
    expect_bad("{\"a\":1,}", 0, "invalid header JSON at byte 7: object key expected");
    expect_bad("{\"a\":[1,]}", 0, "invalid header JSON at byte 8: unexpected character ']'");
    expect_bad("{\"a\" 1}", 0, "invalid header JSON at byte 5: ':' expected");
    expect_bad("{\"a\":01}", 0, "invalid header JSON at byte 5: leading zero in a number");
    expect_bad("{\"a\":1.}", 0, "invalid header JSON at byte 7: digit expected after '.'");
    expect_bad("{\"a\":\"x\ty\"}", 0, "invalid header JSON at byte 7: control character 0x09 in a string");
    expect_bad("{\"a\":\"\\x\"}", 0, "invalid header JSON at byte 6: bad escape '\\x'");
    expect_bad("{\"a\":\"\\u12G4\"}", 0, "invalid header JSON at byte 6: bad \\u escape");
    expect_bad("{\"a\":\"\\ud800\"}", 0, "invalid header JSON at byte 6: unpaired high surrogate \\ud800");
    expect_bad("{\"a\":\"\\ud800\\u0041\"}", 0,
               "invalid header JSON at byte 6: unpaired high surrogate \\ud800");
    expect_bad("{\"a\":\"\\udc00\"}", 0, "invalid header JSON at byte 6: unpaired low surrogate \\udc00");
    expect_bad("{} x", 0, "invalid header JSON at byte 3: trailing characters after the JSON object");
    expect_bad("{}{}", 0, "invalid header JSON at byte 2: trailing characters after the JSON object");
    /* A NUL byte is not JSON whitespace, so it cannot pad a header. */
    char *dir = make_temp_dir();
    write_file(dir, "nul", "\x03\0\0\0\0\0\0\0{}\0", 11);
    expect_open_error(path_in(dir, "nul"),
                      "invalid header JSON at byte 2: trailing characters after the JSON object");
    rm_tree(dir);
    free(dir);
}

Test(safetensors, bad_truncated_json) {
    expect_bad("{\"a\":{\"dtype\":\"F32\"", 0, "invalid header JSON at byte 19: unexpected end");
    expect_bad("{\"a\":{\"dtype\":\"F3", 0, "invalid header JSON at byte 14: unterminated string");
    expect_bad("{\"a\":-", 0, "invalid header JSON at byte 5: unexpected character");
    expect_bad("{\"a\":[1", 0, "invalid header JSON at byte 7: unexpected end");
}

Test(safetensors, bad_nesting_deeper_than_8) {
    /* Levels: top object 1, __metadata__ 2, then arrays 3..9. */
    expect_bad("{\"__metadata__\":{\"k\":[[[[[[[1]]]]]]]}}", 0,
               "invalid header JSON at byte 27: nesting deeper than 8 levels");
    /* Eight levels parse, and then fail the schema instead. */
    expect_bad("{\"__metadata__\":{\"k\":[[[[[[1]]]]]]}}", 0,
               "__metadata__ 'k': value must be a string (got an array)");
}

Test(safetensors, bad_duplicate_tensor_name) {
    expect_bad("{\"a\":" U8_1("[0,1]") ",\"a\":" U8_1("[1,2]") "}", 2,
               "invalid header JSON at byte 53: duplicate tensor name 'a'");
    expect_bad("{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0,
               "invalid header JSON at byte 25: duplicate key \"k\"");
    expect_bad("{\"__metadata__\":{},\"__metadata__\":{}}", 0,
               "invalid header JSON at byte 19: duplicate key \"__metadata__\"");
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
               "invalid header JSON at byte 19: duplicate key \"dtype\"");
}

Test(safetensors, bad_dtype) {
    expect_bad("{\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2,
               "tensor 'a': unsupported dtype \"BF16\" (rnnc reads F32, F64, I32, I64 and U8)");
    expect_bad("{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "tensor 'a': unsupported dtype \"f32\" (rnnc reads F32, F64, I32, I64 and U8)");
    expect_bad("{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "tensor 'a': dtype must be a string (got an integer)");
}

Test(safetensors, bad_shape_offset_mismatch) {
    expect_bad("{\"lstm/kernel\":{\"dtype\":\"F32\",\"shape\":[16,32],\"data_offsets\":[0,100]}}", 100,
               "tensor 'lstm/kernel': data_offsets [0, 100] do not match dtype F32 and shape [16, 32] "
               "(2048 bytes)");
    expect_bad("{\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,4]}}", 4,
               "tensor 's': data_offsets [0, 4] do not match dtype F64 and shape [] (8 bytes)");
}

Test(safetensors, bad_overlapping_offsets) {
    expect_bad("{\"a\":" F32_2("[0,8]") ",\"b\":" F32_2("[4,12]") "}", 12,
               "tensor 'b': data_offsets [4, 12] overlap tensor 'a' (which ends at 8)");
    expect_bad("{\"a\":" F32_2("[0,8]") ",\"b\":" F32_2("[0,8]") "}", 8,
               "tensor 'b': data_offsets [0, 8] overlap tensor 'a' (which ends at 8)");
}

Test(safetensors, bad_gap_between_offsets) {
    expect_bad("{\"a\":" F32_2("[0,8]") ",\"b\":" F32_2("[12,20]") "}", 20,
               "tensor 'b': data_offsets [12, 20] leave a gap of 4 bytes after offset 8");
    expect_bad("{\"a\":" F32_2("[4,12]") "}", 12,
               "tensor 'a': data_offsets [4, 12] leave a gap of 4 bytes after offset 0");
}

Test(safetensors, bad_unsorted_offsets) {
    /* begin after end. (Tensors listed in another order than their offsets are fine:
     * reads_foreign_layouts.) */
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8,
               "tensor 'a': data_offsets [8, 0] end before they begin");
}

Test(safetensors, bad_data_shorter_or_longer) {
    expect_bad("{\"a\":" F32_2("[0,8]") "}", 4, "data is 4 bytes but the tensors cover 8 bytes");
    expect_bad("{\"a\":" F32_2("[0,8]") "}", 9, "data is 9 bytes but the tensors cover 8 bytes");
    expect_bad("{}", 1, "data is 1 bytes but the tensors cover 0 bytes");
}

Test(safetensors, bad_negative_dimension) {
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,0]}}", 0,
               "tensor 'a': shape[1] is negative (-1)");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 0,
               "tensor 'a': data_offsets[0] is negative (-8)");
}

Test(safetensors, bad_shape_product_overflow) {
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 0,
               "tensor 'a': shape [4294967296, 4294967296] overflows (its size in bytes exceeds 64 bits)");
    /* 2^62 elements fit, 2^62 * 4 bytes do not. */
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", 0,
               "tensor 'a': shape [4611686018427387904] overflows (its size in bytes exceeds 64 bits)");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
               "tensor 'a': rank 5 is above the supported maximum 4");
}

Test(safetensors, bad_metadata_value_not_string) {
    expect_bad("{\"__metadata__\":{\"epoch\":3}}", 0,
               "__metadata__ 'epoch': value must be a string (got an integer)");
    expect_bad("{\"__metadata__\":{\"ok\":\"x\",\"b\":null}}", 0,
               "__metadata__ 'b': value must be a string (got null)");
    expect_bad("{\"__metadata__\":[\"x\"]}", 0, "__metadata__ must be an object of strings (got an array)");
}

Test(safetensors, bad_invalid_utf8) {
    expect_bad("{\"\xff\":" U8_1("[0,1]") "}", 1, "invalid header JSON at byte 2: invalid UTF-8");
    /* overlong '/', an encoded surrogate, above U+10FFFF, a truncated sequence */
    expect_bad("{\"__metadata__\":{\"k\":\"\xc0\xaf\"}}", 0, "invalid header JSON at byte 22: invalid UTF-8");
    expect_bad("{\"__metadata__\":{\"k\":\"\xed\xa0\x80\"}}", 0, "invalid header JSON at byte 22: invalid UTF-8");
    expect_bad("{\"__metadata__\":{\"k\":\"\xf4\x90\x80\x80\"}}", 0,
               "invalid header JSON at byte 22: invalid UTF-8");
    expect_bad("{\"__metadata__\":{\"k\":\"ab\xe4\xb8\"}}", 0, "invalid header JSON at byte 24: invalid UTF-8");
    expect_bad("{\xc3\xa9}", 0, "invalid header JSON at byte 1: object key expected");
}

Test(safetensors, bad_float_where_integer_required) {
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8,
               "tensor 'a': shape[0] must be an integer (got 2.0)");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8e0]}}", 8,
               "tensor 'a': data_offsets[1] must be an integer (got 8e0)");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,8]}}", 8,
               "tensor 'a': shape[0] must be an integer (got 99999999999999999999)");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8,
               "tensor 'a': shape[0] must be an integer (got a string)");
}

Test(safetensors, bad_empty_or_nul_name) {
    expect_bad("{\"\":" U8_1("[0,1]") "}", 1, "empty tensor name");
    expect_bad("{\"a\\u0000b\":" U8_1("[0,1]") "}", 1,
               "tensor 'a': name contains a NUL character (\\u0000)");
}

Test(safetensors, bad_tensor_entry_schema) {
    expect_bad("{\"a\":[1]}", 0, "tensor 'a': entry must be an object (got an array)");
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 0, "tensor 'a': missing \"data_offsets\"");
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":1}}", 1,
               "tensor 'a': unknown key \"x\"");
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,1]}}", 1,
               "tensor 'a': data_offsets must be [begin, end]");
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":1,\"data_offsets\":[0,1]}}", 1,
               "tensor 'a': shape must be an array of integers (got an integer)");
}

Test(safetensors, bad_directory_and_missing) {
    char *dir = make_temp_dir();
    expect_open_error(dir, "is a directory, not a safetensors file");
    expect_open_error(path_in(dir, "missing.safetensors"), "cannot open: No such file or directory");
    rm_tree(dir);
    free(dir);
}

/* A FIFO would block in open() until something writes to it: refused at once. */
Test(safetensors, fifo_and_device_refused, .timeout = 30) {
    char *dir = make_temp_dir();
    const char *fifo = path_in(dir, "w.safetensors");
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    expect_open_error(fifo, "is a FIFO (named pipe), not a regular file");
    expect_open_error("/dev/null", "is a character device, not a regular file");
    rm_tree(dir);
    free(dir);
}

/* ---- writer argument errors: nothing is created --------------------------------- */

static void expect_write_error(const rnn_st_tensor *t, int n, const char *const *k,
                               const char *const *v, int nm, const char *want) {
    char *dir = make_temp_dir();
    const char *p = path_in(dir, "w.safetensors");
    char err[512] = "", full[1024], listing[1024];
    cr_expect_eq(rnn_st_write(p, t, n, k, v, nm, err, sizeof err), -1, "write succeeded: %s", want);
    snprintf(full, sizeof full, "%s: cannot write: %s", p, want);
    cr_expect_str_eq(err, full);
    list_dir(dir, listing, sizeof listing);
    cr_expect_str_eq(listing, "", "a failed write leaves no file");
    rm_tree(dir);
    free(dir);
}

Test(safetensors, writer_rejects_bad_arguments) {
    const float v[4] = {0};
    rnn_st_tensor two[2] = {{"x", RNN_ST_F32, 1, {1}, v}, {"x", RNN_ST_F32, 1, {1}, v}};
    expect_write_error(two, 2, NULL, NULL, 0, "duplicate tensor name 'x'");
    rnn_st_tensor e = {"", RNN_ST_F32, 1, {1}, v};
    expect_write_error(&e, 1, NULL, NULL, 0, "tensor 0 has an empty name");
    rnn_st_tensor m = {"__metadata__", RNN_ST_F32, 1, {1}, v};
    expect_write_error(&m, 1, NULL, NULL, 0, "'__metadata__' is reserved, not a tensor name");
    rnn_st_tensor neg = {"n", RNN_ST_F32, 2, {1, -2}, v};
    expect_write_error(&neg, 1, NULL, NULL, 0, "tensor 'n': dimension 1 is negative (-2)");
    rnn_st_tensor big = {"b", RNN_ST_F64, 2, {INT64_MAX, 2}, v};
    expect_write_error(&big, 1, NULL, NULL, 0, "tensor 'b': shape [9223372036854775807, 2] is too large");
    rnn_st_tensor nul = {"d", RNN_ST_F32, 1, {3}, NULL};
    expect_write_error(&nul, 1, NULL, NULL, 0, "tensor 'd': data is NULL");
    rnn_st_tensor r5 = {"r", RNN_ST_F32, 5, {1}, v};
    expect_write_error(&r5, 1, NULL, NULL, 0, "tensor 'r': rank 5 is outside 0..4");
    rnn_st_tensor bad8 = {"\xff", RNN_ST_F32, 1, {1}, v};
    expect_write_error(&bad8, 1, NULL, NULL, 0, "tensor 0: name is not valid UTF-8");
    const char *k[] = {"a", "a"}, *val[] = {"1", "2"};
    expect_write_error(NULL, 0, k, val, 2, "duplicate metadata key 'a'");
    const char *k1[] = {"a"}, *v1[] = {"caf\xe9"};
    expect_write_error(NULL, 0, k1, v1, 1, "metadata 'a': not valid UTF-8");
}

/* ---- read-back by an independent Python reader ---------------------------------- */

#define PYTHON "/usr/bin/python3"

static void expected_listing(const fixture *x, char *buf, size_t cap) {
    size_t n = 0;
    for (int m = 0; m < N_M; m++)
        n += (size_t)snprintf(buf + n, cap - n, "meta \"%s\" len=%zu fnv=%016llx\n", x->mk[m],
                              strlen(x->mv[m]), (unsigned long long)fnv1a64(x->mv[m], strlen(x->mv[m])));
    for (int i = 0; i < N_T; i++) {
        const rnn_st_tensor *t = &x->t[i];
        int64_t count = elements(t);
        double sum = 0.0;
        for (int64_t e = 0; e < count; e++) {
            switch (t->dtype) {
            case RNN_ST_F32: sum += (double)((const float *)t->data)[e]; break;
            case RNN_ST_F64: sum += ((const double *)t->data)[e]; break;
            case RNN_ST_I32: sum += (double)((const int32_t *)t->data)[e]; break;
            case RNN_ST_I64: sum += (double)((const int64_t *)t->data)[e]; break;
            case RNN_ST_U8: sum += (double)((const uint8_t *)t->data)[e]; break;
            }
        }
        uint64_t bits;
        memcpy(&bits, &sum, sizeof bits);
        static const char *names[] = {"F32", "F64", "I32", "I64", "U8"};
        n += (size_t)snprintf(buf + n, cap - n, "tensor \"%s\" %s [", t->name, names[t->dtype]);
        for (int d = 0; d < t->rank; d++)
            n += (size_t)snprintf(buf + n, cap - n, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        size_t bytes = (size_t)count * dtype_size(t->dtype);
        n += (size_t)snprintf(buf + n, cap - n, "] n=%lld sum=%016llx fnv=%016llx\n", (long long)count,
                              (unsigned long long)bits,
                              (unsigned long long)fnv1a64(bytes ? t->data : "", bytes));
    }
}

static void python_read_back(int with_numpy) {
    if (access(PYTHON, X_OK) != 0) cr_skip_test(PYTHON " is not installed");
    char tool[PATH_MAX];
    cr_assert_not_null(realpath("tools/read_safetensors.py", tool), "tests run from the repository root");
    char *dir = make_temp_dir();
    fixture x;
    fixture_init(&x);
    fixture_write(&x, path_in(dir, "ckpt.safetensors"));
    char *argv[] = {PYTHON, tool, "ckpt.safetensors", with_numpy ? "--numpy" : NULL, NULL};
    run_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    run_in(dir, argv, r);
    if (with_numpy && r->status == 77) {
        free(x.vocab);
        free(r);
        rm_tree(dir);
        free(dir);
        cr_skip_test(PYTHON " has no numpy");
    }
    cr_expect_eq(r->status, 0, "python reader failed (%d): %s", r->status, r->err);
    cr_expect_str_empty(r->err);
    char want[8192];
    expected_listing(&x, want, sizeof want);
    cr_expect_str_eq(r->out, want);
    free(x.vocab);
    free(r);
    rm_tree(dir);
    free(dir);
}

Test(safetensors, python_stdlib_reads_our_file) { python_read_back(0); }
Test(safetensors, python_numpy_frombuffer_matches) { python_read_back(1); }

/* The Python reader is itself checked: it must refuse a file whose offsets lie. */
Test(safetensors, python_reader_rejects_bad_offsets) {
    if (access(PYTHON, X_OK) != 0) cr_skip_test(PYTHON " is not installed");
    char tool[PATH_MAX];
    cr_assert_not_null(realpath("tools/read_safetensors.py", tool));
    char *dir = make_temp_dir();
    write_st(dir, "{\"a\":" F32_2("[0,8]") "}", 9, 0);
    char *argv[] = {PYTHON, tool, "bad.safetensors", NULL};
    run_result *r = malloc(sizeof *r);
    cr_assert_not_null(r);
    run_in(dir, argv, r);
    cr_expect_eq(r->status, 1);
    cr_expect_str_eq(r->err, "read_safetensors.py: data is 9 bytes, tensors cover 8\n");
    free(r);
    rm_tree(dir);
    free(dir);
}

/* ---- atomic files --------------------------------------------------------------- */

static void put(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void expect_contents(const char *path, const char *want) {
    size_t len;
    unsigned char *b = read_all(path, &len);
    cr_expect_eq(len, strlen(want));
    cr_expect_str_eq((char *)b, want);
    free(b);
}

static void expect_listing(const char *dir, const char *want) {
    char listing[4096];
    list_dir(dir, listing, sizeof listing);
    cr_expect_str_eq(listing, want);
}

Test(atomic, commit_replaces_and_keeps_mode) {
    char *dir = make_temp_dir();
    const char *p = path_in(dir, "f.txt");
    put(p, "old contents");
    chmod(p, 0640);
    rnn_atomic_file a;
    char err[512] = "";
    cr_assert_eq(rnn_atomic_open(&a, p, err, sizeof err), 0, "%s", err);
    /* The temporary sits beside the target, named after it and the process. */
    char prefix[PATH_MAX];
    snprintf(prefix, sizeof prefix, "%s.tmp.%ld.", p, (long)getpid());
    cr_expect_eq(strncmp(a.tmp, prefix, strlen(prefix)), 0, "temporary %s", a.tmp);
    cr_expect_eq(strlen(a.tmp), strlen(prefix) + 6);
    fputs("new", a.f);
    expect_contents(p, "old contents"); /* not visible before commit */
    cr_assert_eq(rnn_atomic_commit(&a, err, sizeof err), 0, "%s", err);
    expect_contents(p, "new");
    expect_listing(dir, "f.txt");
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0640u, "the replaced file's mode is kept");
    rm_tree(dir);
    free(dir);
}

Test(atomic, new_file_mode_follows_umask) {
    char *dir = make_temp_dir();
    umask(027); /* this test runs in its own process */
    const char *p = path_in(dir, "new.txt");
    rnn_atomic_file a;
    char err[512] = "";
    cr_assert_eq(rnn_atomic_open(&a, p, err, sizeof err), 0, "%s", err);
    fputs("x", a.f);
    cr_assert_eq(rnn_atomic_commit(&a, err, sizeof err), 0, "%s", err);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_expect_eq(st.st_mode & 07777, 0640u, "mode %o", st.st_mode & 07777);
    rm_tree(dir);
    free(dir);
}

Test(atomic, abort_keeps_old_and_removes_temporary) {
    char *dir = make_temp_dir();
    const char *p = path_in(dir, "f.txt");
    put(p, "old");
    rnn_atomic_file a;
    char err[512] = "";
    cr_assert_eq(rnn_atomic_open(&a, p, err, sizeof err), 0, "%s", err);
    fputs("new new new", a.f);
    fflush(a.f);
    char listing[4096];
    list_dir(dir, listing, sizeof listing);
    cr_expect_neq(strcmp(listing, "f.txt"), 0, "the temporary exists while open");
    rnn_atomic_abort(&a);
    rnn_atomic_abort(&a); /* harmless twice */
    expect_contents(p, "old");
    expect_listing(dir, "f.txt");
    rm_tree(dir);
    free(dir);
}

Test(atomic, open_fails_in_missing_directory) {
    char *dir = make_temp_dir();
    const char *p = path_in(dir, "nope/f.txt");
    rnn_atomic_file a;
    char err[512] = "", want[PATH_MAX * 2];
    cr_expect_eq(rnn_atomic_open(&a, p, err, sizeof err), -1);
    cr_expect_null(a.f);
    snprintf(want, sizeof want, "%s: cannot write: cannot create a file in %s/nope: No such file or directory",
             p, dir);
    cr_expect_str_eq(err, want);
    /* and through the checkpoint writer */
    const uint8_t b = 1;
    rnn_st_tensor t = {"b", RNN_ST_U8, 0, {0}, &b};
    cr_expect_eq(rnn_st_write(p, &t, 1, NULL, NULL, 0, err, sizeof err), -1);
    cr_expect_str_eq(err, want);
    expect_listing(dir, "");
    rm_tree(dir);
    free(dir);
}

Test(atomic, failed_rename_removes_temporary) {
    char *dir = make_temp_dir();
    const char *p = path_in(dir, "f");
    rnn_atomic_file a;
    char err[512] = "", want[PATH_MAX * 2];
    cr_assert_eq(rnn_atomic_open(&a, p, err, sizeof err), 0, "%s", err);
    fputs("data", a.f);
    /* Something else puts a non-empty directory where the file should go. */
    cr_assert_eq(mkdir(p, 0755), 0);
    put(path_in(dir, "f/inside"), "x");
    cr_expect_eq(rnn_atomic_commit(&a, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: cannot write: %s", p, strerror(EISDIR));
    cr_expect_str_eq(err, want);
    expect_listing(dir, "f");
    expect_contents(path_in(dir, "f/inside"), "x");
    rm_tree(dir);
    free(dir);
}

/* In a child (RLIMIT_FSIZE and SIGXFSZ are process-wide), run `how` under a 4 KiB
 * file size limit, then send back the error text; the parent checks the old file and
 * the directory. */
static void fsize_limited(const char *p, int how, char *err, size_t errlen) {
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        rnn_ignore_sigxfsz();
        struct rlimit rl = {4096, 4096};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(3);
        static float big[25000]; /* 100 KB */
        for (int i = 0; i < 25000; i++) big[i] = (float)i;
        char e[512] = "";
        int rc;
        if (how == 0) {
            rnn_st_tensor t = {"big", RNN_ST_F32, 1, {25000}, big};
            rc = rnn_st_write(p, &t, 1, NULL, NULL, 0, e, sizeof e);
        } else {
            /* A caller that ignores fwrite's result: commit must still notice, and
             * still name the cause although glibc has dropped the failed buffer. */
            rnn_atomic_file a;
            if (rnn_atomic_open(&a, p, e, sizeof e) != 0) _exit(4);
            for (int i = 0; i < 25; i++) (void)!fwrite(big, 1, 4000, a.f);
            (void)fflush(a.f); /* fails; afterwards nothing is buffered */
            errno = 0;
            rc = rnn_atomic_commit(&a, e, sizeof e);
        }
        if (write(fds[1], e, strlen(e)) < 0) _exit(5);
        _exit(rc == -1 ? 0 : 1);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < errlen && (k = read(fds[0], err + n, errlen - 1 - n)) > 0) n += (size_t)k;
    err[n] = 0;
    close(fds[0]);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st), "child killed by signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    cr_assert_eq(WEXITSTATUS(st), 0, "child status %d, err '%s'", WEXITSTATUS(st), err);
}

Test(atomic, file_size_limit_fails_cleanly) {
    char *dir = make_temp_dir();
    const char *p = path_in(dir, "ckpt.safetensors");
    /* The previous checkpoint, itself larger than the limit the child will have. */
    static double prev[1000];
    for (int i = 0; i < 1000; i++) prev[i] = i * 0.5;
    rnn_st_tensor t = {"prev", RNN_ST_F64, 1, {1000}, prev};
    const char *k[] = {"epoch"}, *v[] = {"7"};
    char err[512] = "", want[PATH_MAX * 2];
    cr_assert_eq(rnn_st_write(p, &t, 1, k, v, 1, err, sizeof err), 0, "%s", err);
    size_t len0;
    unsigned char *before = read_all(p, &len0);
    snprintf(want, sizeof want, "%s: cannot write: %s", p, strerror(EFBIG));

    for (int how = 0; how < 2; how++) {
        fsize_limited(p, how, err, sizeof err);
        cr_expect_str_eq(err, want, "way %d", how);
        size_t len1;
        unsigned char *after = read_all(p, &len1);
        cr_expect_eq(len1, len0);
        cr_expect_eq(memcmp(before, after, len0 < len1 ? len0 : len1), 0, "old file intact");
        free(after);
        expect_listing(dir, "ckpt.safetensors");
    }
    rnn_st_file *f = rnn_st_open(p, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    cr_expect_str_eq(rnn_st_meta(f, "epoch"), "7");
    rnn_st_close(f);
    free(before);
    rm_tree(dir);
    free(dir);
}

Test(atomic, path_writable) {
    char *dir = make_temp_dir();
    char err[512] = "", want[PATH_MAX * 2];
    cr_expect_eq(rnn_path_writable(path_in(dir, "ok.safetensors"), err, sizeof err), 0, "%s", err);
    expect_listing(dir, ""); /* the probe file is gone */

    const char *missing = path_in(dir, "no/such/x.safetensors");
    cr_expect_eq(rnn_path_writable(missing, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: cannot write: cannot create a file in %s/no/such: %s", missing, dir,
             strerror(ENOENT));
    cr_expect_str_eq(err, want);

    cr_expect_eq(rnn_path_writable(dir, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: cannot write: is a directory", dir);
    cr_expect_str_eq(err, want);

    /* A read-only directory. Root ignores permission bits, so this sub-check only
     * means something for other users; the missing-directory case above holds for
     * root too. */
    const char *ro = path_in(dir, "ro");
    cr_assert_eq(mkdir(ro, 0555), 0);
    if (geteuid() != 0) {
        const char *inro = path_in(dir, "ro/x.safetensors");
        cr_expect_eq(rnn_path_writable(inro, err, sizeof err), -1);
        snprintf(want, sizeof want, "%s: cannot write: cannot create a file in %s: %s", inro, ro,
                 strerror(EACCES));
        cr_expect_str_eq(err, want);
    }
    expect_listing(ro, "");
    chmod(ro, 0755);
    rm_tree(dir);
    free(dir);
}
