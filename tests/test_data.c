/*
 * test_data.c — runtime/data: .npy loading, raw text (TSV, aclImdb directories, lines
 * to predict, the one reading of bytes they share, tokenizer, vocabulary and its stored
 * form for any bytes, encoding, the reserved ids), files that are not regular (FIFOs,
 * devices, directories: refused without blocking), the built-in synthetic set and the
 * validation split.
 *
 * .npy files are written byte by byte here (header versions 1 and 2/3, every dtype in
 * both byte orders) so the tests do not depend on numpy; every malformed case checks
 * the exact error line, the -1, and that the output is left empty. Expected token ids
 * for text are worked out by hand in the comments next to them.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"
#include "core/safetensors.h"
#include "data/builtin_internal.h"
#include "data/data.h"

/* ---- temporary files ------------------------------------------------------------- */

static char tmp_dir[64];
static char tmp_files[64][128];
static int n_tmp_files;

static void tmp_cleanup(void) {
    for (int k = n_tmp_files - 1; k >= 0; k--) {
        if (unlink(tmp_files[k]) != 0) rmdir(tmp_files[k]);
    }
    n_tmp_files = 0;
    if (tmp_dir[0]) rmdir(tmp_dir);
    tmp_dir[0] = '\0';
}

/* A path in this test's own temporary directory, remembered for cleanup. */
static const char *tmp_path(const char *name) {
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/rnnc_test_data_XXXXXX");
        cr_assert_not_null(mkdtemp(tmp_dir));
    }
    cr_assert(n_tmp_files < 64);
    snprintf(tmp_files[n_tmp_files], sizeof tmp_files[0], "%s/%s", tmp_dir, name);
    return tmp_files[n_tmp_files++];
}

static void write_file(const char *path, const void *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

/* ---- writing .npy by hand ------------------------------------------------------------ */

typedef struct {
    unsigned char b[1 << 16];
    size_t n;
} bytes;

/* Magic, version, header length, the dict padded with spaces to a multiple of 64 as
 * numpy does, then "\n". `dict` is the text between the braces. */
static void npy_header(bytes *o, int major, const char *dict) {
    static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    memcpy(o->b, magic, 6);
    o->b[6] = (unsigned char)major;
    o->b[7] = 0;
    size_t pre = major == 1 ? 10 : 12;
    char text[512];
    int len = snprintf(text, sizeof text, "{%s}", dict);
    size_t total = pre + (size_t)len + 1;
    size_t padded = (total + 63) / 64 * 64;
    while ((size_t)len < padded - pre - 1) text[len++] = ' ';
    text[len++] = '\n';
    if (major == 1) {
        o->b[8] = (unsigned char)(len & 0xff);
        o->b[9] = (unsigned char)(len >> 8);
    } else {
        for (int k = 0; k < 4; k++) o->b[8 + k] = (unsigned char)((unsigned)len >> (8 * k));
    }
    memcpy(o->b + pre, text, (size_t)len);
    o->n = pre + (size_t)len;
}

/* Append integer v as `size` bytes in the given byte order (two's complement). */
static void put_int(bytes *o, int64_t v, int size, int big) {
    uint64_t u = (uint64_t)v;
    for (int k = 0; k < size; k++) {
        int shift = big ? 8 * (size - 1 - k) : 8 * k;
        o->b[o->n++] = (unsigned char)(u >> shift);
    }
}

static void put_f32(bytes *o, float f, int big) {
    uint32_t u;
    memcpy(&u, &f, 4);
    put_int(o, (int64_t)u, 4, big);
}

static void put_f64(bytes *o, double f, int big) {
    uint64_t u;
    memcpy(&u, &f, 8);
    put_int(o, (int64_t)u, 8, big);
}

static char err[512];

static void write_bytes(const char *path, const bytes *o) {
    write_file(path, o->b, o->n);
}

/* The descr dict for a simple array. */
static void dict(char *buf, size_t n, const char *descr, const char *fortran, const char *shape) {
    snprintf(buf, n, "'descr': '%s', 'fortran_order': %s, 'shape': %s, ", descr, fortran, shape);
}

/* A 2x3 x file with the given dtype and values. */
static void write_x(const char *path, int major, const char *descr, const int64_t *v, int count, const char *shape) {
    static bytes o;
    char d[256];
    dict(d, sizeof d, descr, "False", shape);
    npy_header(&o, major, d);
    int big = descr[0] == '>';
    int size = descr[2] - '0';
    for (int k = 0; k < count; k++) put_int(&o, v[k], size, big);
    write_bytes(path, &o);
}

static void assert_empty(const rnn_data *d) {
    cr_assert_eq(d->n, 0);
    cr_assert_null(d->x);
    cr_assert_null(d->y);
}

Test(npy, x_every_dtype_both_orders_and_versions) {
    static const char *descrs[] = {"<i4", ">i4", "<i8", ">i8", "<u2", ">u2", "<i2", ">i2", "|u1",
                                   "|i1", "<u4", ">u4", "<u8", ">u8", "=i4"};
    const int64_t v[6] = {0, 1, 2, 99, 7, 3};
    for (size_t k = 0; k < sizeof descrs / sizeof descrs[0]; k++) {
        for (int major = 1; major <= 3; major++) {
            const char *p = tmp_path("x.npy");
            write_x(p, major, descrs[k], v, 6, "(2, 3)");
            rnn_data d = {0};
            int rc = rnn_npy_read_x(p, 3, 100, &d, err, sizeof err);
            cr_assert_eq(rc, 0, "%s v%d: %s", descrs[k], major, err);
            cr_assert_eq(d.n, 2);
            cr_assert_eq(d.T, 3);
            cr_assert_null(d.y);
            for (int e = 0; e < 6; e++) cr_expect_eq(d.x[e], v[e], "%s v%d element %d", descrs[k], major, e);
            rnn_data_free(&d);
            assert_empty(&d);
            unlink(p);
            n_tmp_files--;
        }
    }
    tmp_cleanup();
}

Test(npy, x_large_ids_and_header_spacing) {
    /* ids up to vocab - 1 for a big vocab, in int64; a header without the trailing
     * comma and with double quotes is still a Python dict literal */
    const char *p = tmp_path("x.npy");
    static bytes o;
    npy_header(&o, 1, "\"descr\":\"<i8\",\"fortran_order\":False,\"shape\":(1,2)");
    put_int(&o, 16777215, 8, 0);
    put_int(&o, 4, 8, 0);
    write_bytes(p, &o);
    rnn_data d = {0};
    cr_assert_eq(rnn_npy_read_x(p, 2, 16777216, &d, err, sizeof err), 0, "%s", err);
    cr_expect_eq(d.x[0], 16777215);
    cr_expect_eq(d.x[1], 4);
    rnn_data_free(&d);
    tmp_cleanup();
}

/* Read x (2 rows) then y from a hand-written file; returns rnn_npy_read_y's result. */
static int read_y_bytes(const bytes *o, rnn_loss_kind loss, int n_classes, rnn_data *d) {
    const char *px = tmp_path("x.npy"), *py = tmp_path("y.npy");
    const int64_t v[6] = {1, 2, 3, 4, 5, 6};
    write_x(px, 1, "<i4", v, 6, "(2, 3)");
    write_bytes(py, o);
    cr_assert_eq(rnn_npy_read_x(px, 3, 10, d, err, sizeof err), 0, "%s", err);
    return rnn_npy_read_y(py, loss, n_classes, d, err, sizeof err);
}

Test(npy, y_shapes_and_dtypes) {
    static bytes o;
    char dd[256];
    rnn_data d = {0};

    /* [N] int64 */
    dict(dd, sizeof dd, "<i8", "False", "(2,)");
    npy_header(&o, 1, dd);
    put_int(&o, 1, 8, 0);
    put_int(&o, 0, 8, 0);
    cr_assert_eq(read_y_bytes(&o, RNN_LOSS_BINARY_CROSSENTROPY, 1, &d), 0, "%s", err);
    cr_expect_eq(d.y[0], 1.0f);
    cr_expect_eq(d.y[1], 0.0f);
    rnn_data_free(&d);

    /* [N, 1] uint8, version 2 */
    dict(dd, sizeof dd, "|u1", "False", "(2, 1)");
    npy_header(&o, 2, dd);
    put_int(&o, 0, 1, 0);
    put_int(&o, 1, 1, 0);
    cr_assert_eq(read_y_bytes(&o, RNN_LOSS_BINARY_CROSSENTROPY, 1, &d), 0, "%s", err);
    cr_expect_eq(d.y[0], 0.0f);
    cr_expect_eq(d.y[1], 1.0f);
    rnn_data_free(&d);

    /* float32 little-endian with fractional (soft) labels */
    dict(dd, sizeof dd, "<f4", "False", "(2,)");
    npy_header(&o, 1, dd);
    put_f32(&o, 0.25f, 0);
    put_f32(&o, 1.0f, 0);
    cr_assert_eq(read_y_bytes(&o, RNN_LOSS_BINARY_CROSSENTROPY, 1, &d), 0, "%s", err);
    cr_expect_eq(d.y[0], 0.25f);
    cr_expect_eq(d.y[1], 1.0f);
    rnn_data_free(&d);

    /* float64 big-endian [N, 1] */
    dict(dd, sizeof dd, ">f8", "False", "(2, 1)");
    npy_header(&o, 1, dd);
    put_f64(&o, 0.75, 1);
    put_f64(&o, 0.0, 1);
    cr_assert_eq(read_y_bytes(&o, RNN_LOSS_BINARY_CROSSENTROPY, 1, &d), 0, "%s", err);
    cr_expect_eq(d.y[0], 0.75f);
    cr_expect_eq(d.y[1], 0.0f);
    rnn_data_free(&d);

    /* bool */
    dict(dd, sizeof dd, "|b1", "False", "(2,)");
    npy_header(&o, 1, dd);
    put_int(&o, 1, 1, 0);
    put_int(&o, 0, 1, 0);
    cr_assert_eq(read_y_bytes(&o, RNN_LOSS_BINARY_CROSSENTROPY, 1, &d), 0, "%s", err);
    cr_expect_eq(d.y[0], 1.0f);
    cr_expect_eq(d.y[1], 0.0f);
    rnn_data_free(&d);

    /* sparse categorical: big-endian int16 classes, and integral float64 classes */
    dict(dd, sizeof dd, ">i2", "False", "(2,)");
    npy_header(&o, 1, dd);
    put_int(&o, 4, 2, 1);
    put_int(&o, 0, 2, 1);
    cr_assert_eq(read_y_bytes(&o, RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 5, &d), 0, "%s", err);
    cr_expect_eq(d.y[0], 4.0f);
    cr_expect_eq(d.y[1], 0.0f);
    rnn_data_free(&d);

    dict(dd, sizeof dd, "<f8", "False", "(2,)");
    npy_header(&o, 1, dd);
    put_f64(&o, 2.0, 0);
    put_f64(&o, 1.0, 0);
    cr_assert_eq(read_y_bytes(&o, RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 3, &d), 0, "%s", err);
    cr_expect_eq(d.y[0], 2.0f);
    cr_expect_eq(d.y[1], 1.0f);
    rnn_data_free(&d);
    tmp_cleanup();
}

/* Expect rnn_npy_read_x on raw bytes to fail with exactly "<path>: <msg>". */
static void expect_x_error(const bytes *o, int T, int vocab, const char *msg) {
    const char *p = tmp_path("bad_x.npy");
    write_bytes(p, o);
    rnn_data d;
    memset(&d, 0xab, sizeof d);  /* garbage in: the loader must zero it */
    strcpy(err, "untouched");
    cr_assert_eq(rnn_npy_read_x(p, T, vocab, &d, err, sizeof err), -1, "no error for: %s", msg);
    char want[512];
    snprintf(want, sizeof want, "%s: %s", p, msg);
    cr_expect_str_eq(err, want);
    assert_empty(&d);
}

Test(npy, x_malformed) {
    static bytes o;
    char dd[256];

    memcpy(o.b, "\x93NUMPZ\x01\x00", 8);
    o.n = 8;
    expect_x_error(&o, 3, 10, "not a .npy file (bad magic)");

    o.n = 4;  /* shorter than the magic */
    expect_x_error(&o, 3, 10, "not a .npy file (bad magic)");

    memcpy(o.b, "\x93NUMPY\x01\x00", 8);
    o.n = 9;  /* no room for the header length */
    expect_x_error(&o, 3, 10, "truncated .npy header");

    dict(dd, sizeof dd, "<i4", "False", "(2, 3)");
    npy_header(&o, 1, dd);  /* 128-byte prefix+header, cut at 40: 30 of 118 present */
    o.n = 40;
    expect_x_error(&o, 3, 10, "truncated .npy header (118 bytes announced, 30 present)");

    npy_header(&o, 1, dd);
    o.b[6] = 4;
    expect_x_error(&o, 3, 10, "unsupported .npy format version 4.0");

    npy_header(&o, 1, dd);
    for (int k = 0; k < 5; k++) put_int(&o, k, 4, 0);  /* 20 of 24 bytes */
    expect_x_error(&o, 3, 10, "truncated data: shape (2, 3) of '<i4' needs more than the 20 bytes present");

    npy_header(&o, 1, dd);
    for (int k = 0; k < 7; k++) put_int(&o, k, 4, 0);  /* 4 bytes too many */
    expect_x_error(&o, 3, 10, "4 bytes of trailing data after the (2, 3) array");

    dict(dd, sizeof dd, "<i4", "True", "(2, 3)");
    npy_header(&o, 1, dd);
    for (int k = 0; k < 6; k++) put_int(&o, k, 4, 0);
    expect_x_error(&o, 3, 10, "fortran_order arrays are not supported (save with C order)");

    dict(dd, sizeof dd, "<i4", "False", "(6,)");
    npy_header(&o, 1, dd);
    for (int k = 0; k < 6; k++) put_int(&o, k, 4, 0);
    expect_x_error(&o, 3, 10, "token ids must have shape (N, 3), not (6,)");

    dict(dd, sizeof dd, "<i4", "False", "(2, 3)");
    npy_header(&o, 1, dd);
    for (int k = 0; k < 6; k++) put_int(&o, k, 4, 0);
    expect_x_error(&o, 4, 10, "shape (2, 3) but the model takes 4 timesteps");

    dict(dd, sizeof dd, "<i4", "False", "(0, 3)");
    npy_header(&o, 1, dd);
    expect_x_error(&o, 3, 10, "no samples (shape (0, 3))");

    /* id >= vocab: the first bad one is row 1, column 2 (the later 600 is not named) */
    dict(dd, sizeof dd, ">i8", "False", "(3, 3)");
    npy_header(&o, 1, dd);
    const int64_t ids[9] = {1, 2, 3, 4, 5, 500, 7, 600, 9};
    for (int k = 0; k < 9; k++) put_int(&o, ids[k], 8, 1);
    expect_x_error(&o, 3, 500, "row 1, column 2 (0-based): token id 500 is outside [0, 500)");

    dict(dd, sizeof dd, "<i2", "False", "(2, 3)");
    npy_header(&o, 1, dd);
    const int64_t neg[6] = {1, -1, 3, 4, 5, 6};
    for (int k = 0; k < 6; k++) put_int(&o, neg[k], 2, 0);
    expect_x_error(&o, 3, 500, "row 0, column 1 (0-based): token id -1 is outside [0, 500)");

    /* native int32 (read in one piece, then range-checked): the first bad id is named */
    dict(dd, sizeof dd, "<i4", "False", "(3, 3)");
    npy_header(&o, 1, dd);
    const int64_t ids4[9] = {1, 2, 3, 4, 5, 6, 7, -5, 500};
    for (int k = 0; k < 9; k++) put_int(&o, ids4[k], 4, 0);
    expect_x_error(&o, 3, 500, "row 2, column 1 (0-based): token id -5 is outside [0, 500)");

    dict(dd, sizeof dd, "<i4", "False", "(2, 3)");
    npy_header(&o, 1, dd);
    for (int k = 0; k < 5; k++) put_int(&o, k, 4, 0);   /* one id short */
    expect_x_error(&o, 3, 500, "truncated data: shape (2, 3) of '<i4' needs more than the 20 bytes present");

    dict(dd, sizeof dd, "<u8", "False", "(1, 2)");
    npy_header(&o, 1, dd);
    put_int(&o, 3, 8, 0);
    put_int(&o, -1, 8, 0);  /* 2^64 - 1 as uint64 */
    expect_x_error(&o, 2, 500, "row 0, column 1 (0-based): token id 18446744073709551615 is outside [0, 500)");

    dict(dd, sizeof dd, "<f4", "False", "(2, 3)");
    npy_header(&o, 1, dd);
    for (int k = 0; k < 6; k++) put_f32(&o, 1.0f, 0);
    expect_x_error(&o, 3, 10, "token ids must be integers, not '<f4'");

    dict(dd, sizeof dd, "|O", "False", "(2, 3)");
    npy_header(&o, 1, dd);
    expect_x_error(&o, 3, 10, "unsupported dtype '|O'");

    dict(dd, sizeof dd, "<c8", "False", "(2, 3)");
    npy_header(&o, 1, dd);
    expect_x_error(&o, 3, 10, "unsupported dtype '<c8'");

    npy_header(&o, 1, "'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (2, 3)");
    expect_x_error(&o, 3, 10, "unsupported dtype (structured arrays are not token ids or labels)");

    npy_header(&o, 1, "'descr': '<i4', 'shape': (2, 3)");
    expect_x_error(&o, 3, 10, "malformed .npy header (missing 'fortran_order')");

    npy_header(&o, 1, "'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1");
    expect_x_error(&o, 3, 10, "malformed .npy header (unexpected or repeated key 'extra')");

    /* huge claimed shapes fail on size, before any allocation (ASan would report a
     * failed multi-petabyte malloc otherwise) */
    dict(dd, sizeof dd, "<i4", "False", "(1000000000000000, 3)");
    npy_header(&o, 1, dd);
    for (int k = 0; k < 6; k++) put_int(&o, k, 4, 0);
    expect_x_error(&o, 3, 10,
                   "truncated data: shape (1000000000000000, 3) of '<i4' needs more than the 24 bytes present");

    dict(dd, sizeof dd, "<i8", "False", "(9223372036854775807, 3)");  /* n*T*8 overflows 64 bits */
    npy_header(&o, 1, dd);
    expect_x_error(&o, 3, 10,
                   "truncated data: shape (9223372036854775807, 3) of '<i8' needs more than the 0 bytes present");

    dict(dd, sizeof dd, "<i4", "False", "(99999999999999999999999, 3)");  /* beyond uint64 */
    npy_header(&o, 1, dd);
    expect_x_error(&o, 3, 10, "malformed .npy header (bad dimension in 'shape')");

    /* a header length that points past the end of a tiny file */
    memcpy(o.b, "\x93NUMPY\x02\x00\xff\xff\xff\xff", 12);
    o.n = 12;
    expect_x_error(&o, 3, 10, "truncated .npy header (4294967295 bytes announced, 0 present)");

    rnn_data d = {0};
    cr_assert_eq(rnn_npy_read_x("/nonexistent/x.npy", 3, 10, &d, err, sizeof err), -1);
    cr_expect_str_eq(err, "/nonexistent/x.npy: cannot open: No such file or directory");
    tmp_cleanup();
}

/* Expect rnn_npy_read_y (after a good 2-row x) to fail with "<ypath>: <msg>", leaving
 * x in place and y NULL. */
static void expect_y_error(const bytes *o, rnn_loss_kind loss, int n_classes, const char *msg) {
    rnn_data d = {0};
    cr_assert_eq(read_y_bytes(o, loss, n_classes, &d), -1, "no error for: %s", msg);
    char want[512];
    snprintf(want, sizeof want, "%s: %s", tmp_files[n_tmp_files - 1], msg);
    cr_expect_str_eq(err, want);
    cr_expect_null(d.y);
    cr_expect_eq(d.n, 2);
    rnn_data_free(&d);
}

Test(npy, y_malformed) {
    static bytes o;
    char dd[256];

    dict(dd, sizeof dd, "<i4", "False", "(2,)");
    npy_header(&o, 1, dd);
    put_int(&o, 0, 4, 0);
    put_int(&o, 2, 4, 0);
    expect_y_error(&o, RNN_LOSS_BINARY_CROSSENTROPY, 1, "row 1 (0-based): label 2 is not 0 or 1 (binary labels)");

    dict(dd, sizeof dd, "<i4", "False", "(2,)");
    npy_header(&o, 1, dd);
    put_int(&o, -1, 4, 0);
    put_int(&o, 0, 4, 0);
    expect_y_error(&o, RNN_LOSS_BINARY_CROSSENTROPY, 1, "row 0 (0-based): label -1 is not 0 or 1 (binary labels)");

    dict(dd, sizeof dd, "<f4", "False", "(2,)");
    npy_header(&o, 1, dd);
    put_f32(&o, NAN, 0);
    put_f32(&o, 0.0f, 0);
    expect_y_error(&o, RNN_LOSS_BINARY_CROSSENTROPY, 1, "row 0 (0-based): label nan is not in [0, 1] (binary labels)");

    dict(dd, sizeof dd, ">f8", "False", "(2,)");
    npy_header(&o, 1, dd);
    put_f64(&o, 0.5, 1);
    put_f64(&o, 1.5, 1);
    expect_y_error(&o, RNN_LOSS_BINARY_CROSSENTROPY, 1, "row 1 (0-based): label 1.5 is not in [0, 1] (binary labels)");

    dict(dd, sizeof dd, "<f4", "False", "(2,)");
    npy_header(&o, 1, dd);
    put_f32(&o, 1.0f, 0);
    put_f32(&o, 1.5f, 0);
    expect_y_error(&o, RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 3,
                   "row 1 (0-based): label 1.5 is not a class index in [0, 3)");

    dict(dd, sizeof dd, "<u1", "False", "(2,)");
    npy_header(&o, 1, dd);
    put_int(&o, 3, 1, 0);
    put_int(&o, 1, 1, 0);
    expect_y_error(&o, RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 3,
                   "row 0 (0-based): label 3 is not a class index in [0, 3)");

    dict(dd, sizeof dd, "<i4", "False", "(3,)");
    npy_header(&o, 1, dd);
    for (int k = 0; k < 3; k++) put_int(&o, 0, 4, 0);
    expect_y_error(&o, RNN_LOSS_BINARY_CROSSENTROPY, 1, "3 labels but the token ids have 2 rows");

    dict(dd, sizeof dd, "<i4", "False", "(2, 2)");
    npy_header(&o, 1, dd);
    for (int k = 0; k < 4; k++) put_int(&o, 0, 4, 0);
    expect_y_error(&o, RNN_LOSS_BINARY_CROSSENTROPY, 1, "labels must have shape (N,) or (N, 1), not (2, 2)");

    dict(dd, sizeof dd, "<i4", "False", "(2,)");
    npy_header(&o, 1, dd);
    for (int k = 0; k < 3; k++) put_int(&o, 0, 4, 0);
    expect_y_error(&o, RNN_LOSS_BINARY_CROSSENTROPY, 1, "4 bytes of trailing data after the (2,) array");
    tmp_cleanup();
}

/* ---- text ------------------------------------------------------------------------------ */

static rnn_text_set make_set(const char *const *texts, const float *labels, size_t n) {
    rnn_text_set s = {n, malloc(n * sizeof(char *)), malloc(n * sizeof(float)), NULL};
    for (size_t i = 0; i < n; i++) {
        s.texts[i] = strdup(texts[i]);
        s.labels[i] = labels[i];
    }
    return s;
}

/* The serialized vocabulary of texts with ids below vocab. */
static char *vocab_of(const char *const *texts, size_t n, int vocab) {
    float labels[16] = {0};
    rnn_text_set s = make_set(texts, labels, n);
    rnn_vocab *v = rnn_vocab_build(&s, vocab);
    cr_assert_not_null(v);
    char *out = rnn_vocab_serialize(v);
    rnn_vocab_free(v);
    rnn_text_set_free(&s);
    return out;
}

Test(text, tokenizer_like_keras) {
    /* counts: hello 2, world 2, then 1 each: br, don't, me, stop -> ties bytewise */
    const char *t[] = {"Hello, world! HELLO<br />world...   don't\tstop\nme"};
    char *s = vocab_of(t, 1, 100);
    cr_expect_str_eq(s, "hello\nworld\nbr\ndon't\nme\nstop");
    free(s);

    /* every filter character splits; '\r' and the apostrophe do not (Keras's filters
     * contain neither); digits are kept */
    const char *t2[] = {"a!b\"c#d$e%f&g(h)i*j+k,l-m.n/o:p;q<r=s>t?u@v[w\\x]y^z_0`1{2|3}4~5 it's\r"};
    s = vocab_of(t2, 1, 100);
    cr_expect_str_eq(s, "0\n1\n2\n3\n4\n5\na\nb\nc\nd\ne\nf\ng\nh\ni\nit's\r\nj\nk\nl\nm\nn\no\np\nq\nr\ns\nt\nu\nv\nw\nx\ny\nz");
    free(s);

    /* only ASCII is lower-cased: UTF-8 bytes stay, so "Café" and "CAFÉ" differ */
    const char *t3[] = {"Café CAFÉ café"};
    s = vocab_of(t3, 1, 100);
    cr_expect_str_eq(s, "café\ncafÉ");
    free(s);

    /* nothing but separators */
    const char *t4[] = {" ,.;  \t\n"};
    s = vocab_of(t4, 1, 100);
    cr_expect_str_eq(s, "");
    free(s);
}

Test(text, vocabulary_ranks_ties_and_limit) {
    /* c 3, a 2, b 2, d 1: a before b (tie, bytewise); uppercase merges */
    const char *t[] = {"b a c", "C c A B d"};
    char *s = vocab_of(t, 2, 100);
    cr_expect_str_eq(s, "c\na\nb\nd");
    free(s);
    /* vocab 6 keeps ranks with rank + 3 < 6: c (id 4), a (id 5) */
    s = vocab_of(t, 2, 6);
    cr_expect_str_eq(s, "c\na");
    free(s);
    s = vocab_of(t, 2, 4);
    cr_expect_str_eq(s, "");
    free(s);
    /* bytewise, not locale: uppercase would sort before lowercase, but everything is
     * lowered; '0' < 'a' and "ab" < "b" */
    const char *t2[] = {"b ab 0"};
    s = vocab_of(t2, 1, 100);
    cr_expect_str_eq(s, "0\nab\nb");
    free(s);
}

Test(text, encode_pad_and_truncate_pre) {
    /* ranks: c 1 (id 4), a 2 (id 5), b 3 (id 6), d 4 (id 7); vocab 7 keeps c, a, b */
    const char *t[] = {"b a c", "C c A B d"};
    float labels[2] = {0, 1};
    rnn_text_set s = make_set(t, labels, 2);
    rnn_vocab *v = rnn_vocab_build(&s, 7);
    cr_assert_not_null(v);
    int32_t ids[8];

    rnn_text_encode(v, "d a", 5, ids);  /* [1, 2(d is OOV at vocab 7), 5] padded pre */
    const int32_t e1[5] = {0, 0, 1, 2, 5};
    for (int k = 0; k < 5; k++) cr_expect_eq(ids[k], e1[k], "short: ids[%d] = %d", k, ids[k]);

    rnn_text_encode(v, "b a c", 4, ids);  /* exactly T: [1, 6, 5, 4] */
    const int32_t e2[4] = {1, 6, 5, 4};
    for (int k = 0; k < 4; k++) cr_expect_eq(ids[k], e2[k], "exact: ids[%d] = %d", k, ids[k]);

    rnn_text_encode(v, "b a c zzz a", 3, ids);  /* [1,6,5,4,2,5] keeps the last 3 */
    const int32_t e3[3] = {4, 2, 5};
    for (int k = 0; k < 3; k++) cr_expect_eq(ids[k], e3[k], "long: ids[%d] = %d", k, ids[k]);

    rnn_text_encode(v, "b a c zzz", 4, ids);  /* one longer than T: the start token goes */
    const int32_t e4[4] = {6, 5, 4, 2};
    for (int k = 0; k < 4; k++) cr_expect_eq(ids[k], e4[k], "T+1: ids[%d] = %d", k, ids[k]);

    rnn_text_encode(v, "", 3, ids);
    const int32_t e5[3] = {0, 0, 1};
    for (int k = 0; k < 3; k++) cr_expect_eq(ids[k], e5[k], "empty: ids[%d] = %d", k, ids[k]);

    rnn_vocab_free(v);
    rnn_text_set_free(&s);
}

/* pad_sequences's padding and truncating 'post' (the embedding's options), each alone
 * and both, against Keras's values for the same ids */
Test(text, encode_pad_and_truncate_post) {
    const char *t[] = {"b a c", "C c A B d"};   /* ids: c 4, a 5, b 6, d 2 (OOV) at vocab 7 */
    float labels[2] = {0, 1};
    rnn_text_set s = make_set(t, labels, 2);
    rnn_vocab *v = rnn_vocab_build(&s, 7);
    cr_assert_not_null(v);
    static const struct {
        const char *text;
        int T, fit;
        int32_t want[6];
    } cases[] = {
        {"d a", 5, RNN_TEXT_POST_PADDING, {1, 2, 5, 0, 0}},                                    /* [1, 2, 5] */
        {"d a", 5, RNN_TEXT_POST_TRUNCATING, {0, 0, 1, 2, 5}},                                 /* padding 'pre' */
        {"d a", 5, RNN_TEXT_POST_PADDING | RNN_TEXT_POST_TRUNCATING, {1, 2, 5, 0, 0}},
        {"b a c zzz a", 3, RNN_TEXT_POST_TRUNCATING, {1, 6, 5}},                              /* [1,6,5,4,2,5] */
        {"b a c zzz a", 3, RNN_TEXT_POST_PADDING, {4, 2, 5}},                                 /* truncating 'pre' */
        {"b a c zzz a", 4, RNN_TEXT_POST_PADDING | RNN_TEXT_POST_TRUNCATING, {1, 6, 5, 4}},
        {"b a c", 4, RNN_TEXT_POST_PADDING | RNN_TEXT_POST_TRUNCATING, {1, 6, 5, 4}},          /* exactly T */
        {"", 3, RNN_TEXT_POST_PADDING, {1, 0, 0}},
        {"a b c a b", 6, RNN_TEXT_POST_PADDING, {1, 5, 6, 4, 5, 6}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int32_t ids[6] = {-1, -1, -1, -1, -1, -1};
        rnn_text_encode_fit(v, cases[c].text, cases[c].T, cases[c].fit, ids);
        for (int k = 0; k < cases[c].T; k++)
            cr_expect_eq(ids[k], cases[c].want[k], "case %zu \"%s\" T %d fit %d: ids[%d] = %d, want %d", c, cases[c].text,
                         cases[c].T, cases[c].fit, k, ids[k], cases[c].want[k]);
        if (cases[c].T < 6) cr_expect_eq(ids[cases[c].T], -1, "case %zu: wrote past T", c);
    }
    rnn_vocab_free(v);
    rnn_text_set_free(&s);
}

Test(text, serialize_parse_round_trip) {
    const char *t[] = {"the movie was not good, the acting was bad", "The end. don't"};
    float labels[2] = {0, 1};
    rnn_text_set s = make_set(t, labels, 2);
    rnn_vocab *v = rnn_vocab_build(&s, 12);
    char *ser = rnn_vocab_serialize(v);
    /* the 2, was 2, then bytewise: acting bad don't end good movie (8 = 12 - 4 kept) */
    cr_expect_str_eq(ser, "the\nwas\nacting\nbad\ndon't\nend\ngood\nmovie");
    rnn_vocab *w = rnn_vocab_parse(ser, 12, err, sizeof err);
    cr_assert_not_null(w, "%s", err);
    char *ser2 = rnn_vocab_serialize(w);
    cr_expect_str_eq(ser2, ser);
    int32_t a[10], b[10];
    rnn_text_encode(v, "The acting: not good, not bad!", 10, a);
    rnn_text_encode(w, "The acting: not good, not bad!", 10, b);
    const int32_t e[10] = {0, 0, 0, 1, 4, 6, 2, 10, 2, 7};
    for (int k = 0; k < 10; k++) {
        cr_expect_eq(a[k], e[k], "built: ids[%d] = %d", k, a[k]);
        cr_expect_eq(b[k], e[k], "parsed: ids[%d] = %d", k, b[k]);
    }
    /* a trailing newline is tolerated */
    char *nl = malloc(strlen(ser) + 2);
    sprintf(nl, "%s\n", ser);
    rnn_vocab *x = rnn_vocab_parse(nl, 12, err, sizeof err);
    cr_expect_not_null(x, "%s", err);
    rnn_vocab_free(x);
    free(nl);
    free(ser);
    free(ser2);
    rnn_vocab_free(v);
    rnn_vocab_free(w);
    rnn_text_set_free(&s);

    /* an empty vocabulary round-trips too */
    rnn_vocab *e0 = rnn_vocab_parse("", 500, err, sizeof err);
    cr_assert_not_null(e0);
    char *es = rnn_vocab_serialize(e0);
    cr_expect_str_eq(es, "");
    free(es);
    rnn_vocab_free(e0);
}

Test(text, vocab_parse_errors) {
    static const struct {
        const char *in;
        int vocab;
        const char *msg;
    } cases[] = {
        {"a\nb\na", 100, "vocabulary line 3: 'a' repeats line 1"},
        {"a\nB", 100, "vocabulary line 2: 'B' is not a word the tokenizer can produce"},
        {"a b", 100, "vocabulary line 1: 'a b' is not a word the tokenizer can produce"},
        {"a\n\nb", 100, "vocabulary line 2: empty word"},
        {"a\nb\nc", 6, "vocabulary: 3 words, but ids below 6 leave room for at most 2"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        strcpy(err, "");
        cr_expect_null(rnn_vocab_parse(cases[k].in, cases[k].vocab, err, sizeof err));
        cr_expect_str_eq(err, cases[k].msg);
    }
}

Test(text, tsv_fixture) {
    rnn_text_set s;
    cr_assert_eq(rnn_text_read("tests/fixtures/data_small.tsv", &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(s.n, 4);
    cr_expect_str_eq(s.texts[0], "A fine film.");       /* CR of CRLF stripped */
    cr_expect_str_eq(s.texts[1], "Dull, dull, DULL.");  /* blank CRLF line skipped */
    cr_expect_str_eq(s.texts[2], "class three\twith a tab");  /* only the first tab splits */
    cr_expect_str_eq(s.texts[3], "no newline at end");
    const float want[4] = {1, 0, 3, 1};
    for (int k = 0; k < 4; k++) cr_expect_eq(s.labels[k], want[k]);

    /* class 3 is no binary label, but fine for 4 classes */
    rnn_vocab *v = rnn_vocab_build(&s, 100);
    rnn_data d;
    cr_expect_eq(rnn_text_to_data(v, &s, 5, RNN_LOSS_BINARY_CROSSENTROPY, 1, &d, err, sizeof err), -1);
    cr_expect_str_eq(err, "tests/fixtures/data_small.tsv:5: label 3 is not in [0, 1] (binary labels)");
    assert_empty(&d);
    /* a model with no outputs gets no label rows of width 0 (written past their end) */
    cr_expect_eq(rnn_text_to_data(v, &s, 5, RNN_LOSS_BINARY_CROSSENTROPY, 0, &d, err, sizeof err), -1);
    cr_expect_str_eq(err, "invalid number of outputs 0");
    assert_empty(&d);
    cr_expect_eq(rnn_text_to_data(v, &s, 5, RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 3, &d, err, sizeof err), -1);
    cr_expect_str_eq(err, "tests/fixtures/data_small.tsv:5: label 3 is not a class index in [0, 3)");
    cr_assert_eq(rnn_text_to_data(v, &s, 5, RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, 4, &d, err, sizeof err), 0,
                 "%s", err);
    /* dull 3 is rank 1 (id 4); "Dull, dull, DULL." -> [0, 1, 4, 4, 4] */
    const int32_t e[5] = {0, 1, 4, 4, 4};
    for (int k = 0; k < 5; k++) cr_expect_eq(d.x[5 + k], e[k]);
    cr_expect_eq(d.y[2], 3.0f);
    rnn_data_free(&d);
    rnn_vocab_free(v);
    rnn_text_set_free(&s);
}

static void expect_tsv_error(const char *content, const char *msg_after_path) {
    const char *p = tmp_path("bad.tsv");
    write_file(p, content, strlen(content));
    rnn_text_set s;
    memset(&s, 0xab, sizeof s);
    cr_assert_eq(rnn_text_read(p, &s, err, sizeof err), -1);
    char want[512];
    snprintf(want, sizeof want, "%s%s", p, msg_after_path);
    cr_expect_str_eq(err, want);
    cr_expect_eq(s.n, 0);
    cr_expect_null(s.texts);
    cr_expect_null(s.labels);
}

Test(text, tsv_errors) {
    expect_tsv_error("1\tok\nno tab here\n", ":2: no tab between the label and the text");
    expect_tsv_error("\n\r\npos\tgood\n", ":3: label 'pos' is not 0/1 or a class index");
    expect_tsv_error("-1\tbad\n", ":1: label '-1' is not 0/1 or a class index");
    expect_tsv_error("0.5\tsoft\n", ":1: label '0.5' is not 0/1 or a class index");
    expect_tsv_error("\tno label\n", ":1: label '' is not 0/1 or a class index");
    expect_tsv_error("\r\n  \n", ": no samples");
    expect_tsv_error("", ": no samples");
    tmp_cleanup();
}

Test(text, aclimdb_directory) {
    rnn_text_set s;
    cr_assert_eq(rnn_text_read("tests/fixtures/aclimdb_small", &s, err, sizeof err), 0, "%s", err);
    /* neg/ first, names bytewise (0_3 < 10_2 < 2_1; 11_7 < 1_9), notes.md and unsup/
     * ignored */
    cr_assert_eq(s.n, 5);
    const char *want[5] = {"Bad movie. Bad, bad acting!", "Not good.<br /><br />Boring plot.", "I didn't like it.",
                           "Good fun!", "Great movie, great acting."};
    const float lab[5] = {0, 0, 0, 1, 1};
    for (int k = 0; k < 5; k++) {
        cr_expect_str_eq(s.texts[k], want[k]);
        cr_expect_eq(s.labels[k], lab[k]);
    }

    /* counts: bad 3; acting br good great movie 2; boring didn't fun i it like not plot 1
     * -> ids bad 4 acting 5 br 6 good 7 great 8 movie 9 boring 10 didn't 11 (vocab 12
     * keeps 8 words; fun, i, it, like, not, plot -> 2) */
    rnn_vocab *v = rnn_vocab_build(&s, 12);
    char *ser = rnn_vocab_serialize(v);
    cr_expect_str_eq(ser, "bad\nacting\nbr\ngood\ngreat\nmovie\nboring\ndidn't");
    free(ser);
    rnn_data d;
    cr_assert_eq(rnn_text_to_data(v, &s, 8, RNN_LOSS_BINARY_CROSSENTROPY, 1, &d, err, sizeof err), 0, "%s", err);
    cr_assert_eq(d.n, 5);
    cr_assert_eq(d.T, 8);
    const int32_t e[5][8] = {
        {0, 0, 1, 4, 9, 4, 4, 5},    /* bad movie bad bad acting */
        {0, 1, 2, 7, 6, 6, 10, 2},   /* not good br br boring plot */
        {0, 0, 0, 1, 2, 11, 2, 2},   /* i didn't like it */
        {0, 0, 0, 0, 0, 1, 7, 2},    /* good fun */
        {0, 0, 0, 1, 8, 9, 8, 5},    /* great movie great acting */
    };
    for (int i = 0; i < 5; i++) {
        for (int t = 0; t < 8; t++) cr_expect_eq(d.x[i * 8 + t], e[i][t], "row %d col %d: %d", i, t, d.x[i * 8 + t]);
        cr_expect_eq(d.y[i], lab[i]);
    }
    rnn_data_free(&d);
    int32_t ids[4];
    rnn_text_encode(v, s.texts[1], 4, ids);  /* the last 4 of [1, 2, 7, 6, 6, 10, 2] */
    const int32_t e4[4] = {6, 6, 10, 2};
    for (int t = 0; t < 4; t++) cr_expect_eq(ids[t], e4[t]);
    rnn_vocab_free(v);
    rnn_text_set_free(&s);
}

Test(text, aclimdb_errors) {
    const char *root = tmp_path("imdb");
    cr_assert_eq(mkdir(root, 0700), 0);
    char want[512];
    rnn_text_set s;

    cr_expect_eq(rnn_text_read(root, &s, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: no neg/ directory (an aclImdb-style directory has neg/ and pos/)", root);
    cr_expect_str_eq(err, want);

    const char *neg = tmp_path("imdb/neg");
    cr_assert_eq(mkdir(neg, 0700), 0);
    cr_expect_eq(rnn_text_read(root, &s, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: no *.txt files", neg);
    cr_expect_str_eq(err, want);

    const char *r = tmp_path("imdb/neg/1_1.txt");
    write_file(r, "meh", 3);
    cr_expect_eq(rnn_text_read(root, &s, err, sizeof err), -1);
    snprintf(want, sizeof want, "%s: no pos/ directory (an aclImdb-style directory has neg/ and pos/)", root);
    cr_expect_str_eq(err, want);
    cr_expect_eq(s.n, 0);
    cr_expect_null(s.texts);

    const char *pos = tmp_path("imdb/pos");
    cr_assert_eq(mkdir(pos, 0700), 0);
    const char *r2 = tmp_path("imdb/pos/1_9.txt");
    write_file(r2, "wow", 3);
    cr_assert_eq(rnn_text_read(root, &s, err, sizeof err), 0, "%s", err);
    cr_expect_eq(s.n, 2);
    rnn_text_set_free(&s);

    cr_expect_eq(rnn_text_read("/nonexistent/imdb", &s, err, sizeof err), -1);
    cr_expect_str_eq(err, "/nonexistent/imdb: cannot open: No such file or directory");
    tmp_cleanup();
}

/* ---- text: vocabularies of any bytes --------------------------------------------------- */

/* The bytes a word never holds: Keras's filters, tab, newline and the space. */
static int word_sep(int c) {
    return c == ' ' || c == '\t' || c == '\n' || (c && strchr("!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~", c));
}

static int valid_utf8(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    while (n) {
        size_t k = *p < 0x80 ? 1 : rnn_utf8_seq(p, n);
        if (!k) return 0;
        p += k;
        n -= k;
    }
    return 1;
}

Test(text, vocabulary_escapes_bytes_that_are_not_utf8) {
    /* counts are all 1, so the order is bytewise: 'c' < 0x96 < 0xc3 */
    const char *t[] = {"caf\xe9 \x96 \xc3\xa9t\xc3\xa9"};
    char *s = vocab_of(t, 1, 100);
    cr_expect_str_eq(s, "caf\\xe9\n\\x96\n\xc3\xa9t\xc3\xa9");
    rnn_vocab *v = rnn_vocab_parse(s, 100, err, sizeof err);
    cr_assert_not_null(v, "%s", err);
    int32_t ids[4];
    rnn_text_encode(v, "\xc3\xa9t\xc3\xa9 CAF\xe9 \x96", 4, ids);  /* ranks 3, 1, 2 -> ids 6, 4, 5 */
    const int32_t e[4] = {1, 6, 4, 5};
    for (int k = 0; k < 4; k++) cr_expect_eq(ids[k], e[k], "ids[%d] = %d", k, ids[k]);
    rnn_vocab_free(v);
    free(s);

    /* the form every earlier checkpoint holds (UTF-8 words, one per line) still reads */
    v = rnn_vocab_parse("caf\xc3\xa9\nfilm", 100, err, sizeof err);
    cr_assert_not_null(v, "%s", err);
    rnn_text_encode(v, "film Caf\xc3\xa9", 3, ids);
    const int32_t e2[3] = {1, 5, 4};
    for (int k = 0; k < 3; k++) cr_expect_eq(ids[k], e2[k], "ids[%d] = %d", k, ids[k]);
    rnn_vocab_free(v);

    /* one way to write each vocabulary: no other escapes, no raw bytes that are not UTF-8 */
    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"ok\ncaf\\xE9", "vocabulary line 2: 'caf\\xE9': a '\\' must start \\xhh, a byte 80..ff in lower-case hex"},
        {"caf\\x9", "vocabulary line 1: 'caf\\x9': a '\\' must start \\xhh, a byte 80..ff in lower-case hex"},
        {"a\\n", "vocabulary line 1: 'a\\n': a '\\' must start \\xhh, a byte 80..ff in lower-case hex"},
        {"\\x61", "vocabulary line 1: '\\x61': a '\\' must start \\xhh, a byte 80..ff in lower-case hex"},
        {"\\x00", "vocabulary line 1: '\\x00': a '\\' must start \\xhh, a byte 80..ff in lower-case hex"},
        {"\\xc3\\xa9", "vocabulary line 1: '\\xc3\\xa9' should be written '\xc3\xa9' (only bytes that are not UTF-8 are "
                       "escaped, as \\xhh)"},
        {"caf\xe9", "vocabulary line 1: 'caf\xe9' should be written 'caf\\xe9' (only bytes that are not UTF-8 are "
                    "escaped, as \\xhh)"},
        {"\\x2c", "vocabulary line 1: '\\x2c': a '\\' must start \\xhh, a byte 80..ff in lower-case hex"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        strcpy(err, "");
        cr_expect_null(rnn_vocab_parse(bad[k].in, 100, err, sizeof err), "accepted %s", bad[k].in);
        cr_expect_str_eq(err, bad[k].msg);
    }
}

Test(text, vocabulary_of_every_byte_survives_a_checkpoint) {
    /* "w" B "z" for every byte B a word may hold, B alone for B >= 0x80, and sequences that
     * are not UTF-8 (lone continuation bytes, overlong, surrogate, truncated, above
     * U+10FFFF) next to ones that are */
    static const char *const more[] = {"caf\xe9",       "\x96\x96",        "\xc3\xa9t\xc3\xa9", "\xc0\xaf",
                                       "\xed\xa0\x80",  "\xe4\xb8",    "\xf4\x90\x80\x80",  "\xe9\xc3\xa9\xe9",
                                       "\xf0\x9f\x8e\xac", "\xff\xfe", "x\x80\x80y",        "\xe2\x82\xac\xe2\x82"};
    char text[4096];
    size_t n = 0;
    for (int b = 1; b < 256; b++) {
        if (word_sep(b)) continue;
        n += (size_t)snprintf(text + n, sizeof text - n, "w%cz ", b);
        if (b >= 0x80) n += (size_t)snprintf(text + n, sizeof text - n, "%c ", b);
    }
    for (size_t k = 0; k < sizeof more / sizeof more[0]; k++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s ", more[k]);
    cr_assert_lt(n, sizeof text - 1);
    const char *t[] = {text};
    float label = 0;
    rnn_text_set set = make_set(t, &label, 1);
    rnn_vocab *v = rnn_vocab_build(&set, 1000);
    cr_assert_not_null(v);
    char *ser = rnn_vocab_serialize(v);
    cr_assert_not_null(ser);
    cr_expect(valid_utf8(ser), "the serialized vocabulary is not UTF-8");

    /* through a checkpoint's metadata and back */
    const char *path = tmp_path("v.safetensors");
    const float w0 = 0.5f;
    rnn_st_tensor tensor = {"w", RNN_ST_F32, 1, {1}, &w0};
    const char *keys[] = {"vocabulary"}, *vals[] = {ser};
    cr_assert_eq(rnn_st_write(path, &tensor, 1, keys, vals, 1, err, sizeof err), 0, "%s", err);
    rnn_st_file *f = rnn_st_open(path, err, sizeof err);
    cr_assert_not_null(f, "%s", err);
    const char *back = rnn_st_meta(f, "vocabulary");
    cr_assert_not_null(back);
    cr_expect_str_eq(back, ser);
    rnn_vocab *r = rnn_vocab_parse(back, 1000, err, sizeof err);
    cr_assert_not_null(r, "%s", err);
    char *ser2 = rnn_vocab_serialize(r);
    cr_expect_str_eq(ser2, ser);

    /* every word of the text has the same id (a kept one, >= 4) in both: the same words,
     * byte for byte, in the same order */
    size_t words = 0, lines = 1;
    for (const char *q = ser; *q; q++) lines += *q == '\n';
    for (size_t p = 0; text[p];) {
        while (text[p] == ' ') p++;
        size_t start = p;
        while (text[p] && text[p] != ' ') p++;
        if (p == start) break;
        char word[16];
        memcpy(word, text + start, p - start);
        word[p - start] = '\0';
        int32_t a, b;
        rnn_text_encode(v, word, 1, &a);
        rnn_text_encode(r, word, 1, &b);
        cr_expect_geq(a, 4, "word %zu was not kept", words);
        cr_expect_eq(a, b, "word %zu: id %d built, %d read back", words, a, b);
        words++;
    }
    /* 221 "wBz" (255 less 34 separators; A-Z merge with a-z: 195 distinct), 128 single
     * bytes, 12 more */
    cr_expect_eq(words, 221 + 128 + 12, "%zu words", words);
    cr_expect_eq(lines, 195 + 128 + 12, "%zu lines", lines);
    free(ser2);
    rnn_vocab_free(r);
    rnn_st_close(f);
    free(ser);
    rnn_vocab_free(v);
    rnn_text_set_free(&set);
    tmp_cleanup();
}

/* ---- text: the embedding must leave room for the reserved ids ----------------------------- */

Test(text, input_dim_too_small_for_the_reserved_ids) {
    const char *t[] = {"good bad good"};
    const float labels[1] = {1};
    rnn_text_set s = make_set(t, labels, 1);
    for (int vocab = 1; vocab <= 5; vocab++) {
        rnn_vocab *v = rnn_vocab_build(&s, vocab);
        cr_assert_not_null(v);
        rnn_data d;
        int rc = rnn_text_to_data(v, &s, 4, RNN_LOSS_BINARY_CROSSENTROPY, 1, &d, err, sizeof err);
        if (vocab < 5) {
            char want[256];
            snprintf(want, sizeof want,
                     "the embedding's input_dim %d is too small for text data: ids 0..3 are reserved (0 padding, "
                     "1 start, 2 out-of-vocabulary, 3 unused), so words start at id 4; use input_dim >= 5",
                     vocab);
            cr_expect_eq(rc, -1, "input_dim %d accepted", vocab);
            cr_expect_str_eq(err, want);
            assert_empty(&d);
        } else {
            /* one word fits: good (id 4); bad is out of vocabulary */
            cr_assert_eq(rc, 0, "%s", err);
            const int32_t e[4] = {1, 4, 2, 4};
            for (int k = 0; k < 4; k++) cr_expect_eq(d.x[k], e[k], "ids[%d] = %d", k, d.x[k]);
            rnn_data_free(&d);
        }
        rnn_vocab_free(v);
    }
    rnn_text_set_free(&s);
}

/* ---- text: every reader reads the same bytes the same way ---------------------------------- */

/* ranks good 1, not 2, bad 3, caf\xe9 4 -> ids 4, 5, 6, 7; anything else is 2 */
static rnn_vocab *reader_vocab(void) {
    const char *t[] = {"good good good good not not not bad bad caf\xe9"};
    const float labels[1] = {0};
    rnn_text_set s = make_set(t, labels, 1);
    rnn_vocab *v = rnn_vocab_build(&s, 100);
    cr_assert_not_null(v);
    rnn_text_set_free(&s);
    return v;
}

/* The samples of s (in order) must encode to want[k] (T = 5). */
static void expect_ids(const rnn_vocab *v, const rnn_text_set *s, const char *who, const int32_t (*want)[5],
                       size_t n) {
    cr_assert_eq(s->n, n, "%s: %zu samples", who, s->n);
    for (size_t i = 0; i < n; i++) {
        int32_t ids[5];
        rnn_text_encode(v, s->texts[i], 5, ids);
        for (int t = 0; t < 5; t++)
            cr_expect_eq(ids[t], want[i][t], "%s: sample %zu ids[%d] = %d, want %d", who, i, t, ids[t], want[i][t]);
    }
}

static void stdin_from(const char *bytes, size_t n) {
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    cr_assert_eq(write(fds[1], bytes, n), (ssize_t)n);
    close(fds[1]);
    cr_assert_neq(dup2(fds[0], 0), -1);
    close(fds[0]);
}

#define BOM "\xef\xbb\xbf"

Test(text, tsv_folder_and_lines_read_the_same_ids) {
    rnn_vocab *v = reader_vocab();
    /* A "Caf\xe9 GOOD" [1, 7, 4]; B "not<TAB>bad,film" [1, 5, 6, 2]; C "don't stop" [1, 2, 2];
     * D "good<CR>not<CRLF>bad<LF>film<CR>" in one file [1, 4, 5, 6, 2] */
    const int32_t A[5] = {0, 0, 1, 7, 4}, B[5] = {0, 1, 5, 6, 2}, C[5] = {0, 0, 1, 2, 2}, D[5] = {1, 4, 5, 6, 2};

    /* TSV: a BOM, a CR-only line end, CRLF, a blank CRLF line, no final newline */
    const char *tsv = tmp_path("t.tsv");
    const char tsv_bytes[] = BOM "1\tCaf\xe9 GOOD\r0\tnot\tbad,film\r\n\r\n1\tdon't stop";
    write_file(tsv, tsv_bytes, sizeof tsv_bytes - 1);
    rnn_text_set s;
    cr_assert_eq(rnn_text_read(tsv, &s, err, sizeof err), 0, "%s", err);
    const int32_t(*abc[3])[5] = {&A, &B, &C};
    int32_t want[4][5];
    for (int i = 0; i < 3; i++) memcpy(want[i], *abc[i], sizeof want[i]);
    expect_ids(v, &s, "tsv", (const int32_t(*)[5])want, 3);
    if (s.n == 3) {
        cr_expect_str_eq(s.texts[0], "Caf\xe9 GOOD");
        cr_expect_str_eq(s.texts[1], "not\tbad,film");
        cr_expect_str_eq(s.texts[2], "don't stop");
        cr_expect_eq(s.labels[0], 1.0f);
        cr_expect_eq(s.labels[1], 0.0f);
        cr_expect_eq(s.labels[2], 1.0f);
    }
    rnn_text_set_free(&s);

    /* an aclImdb-like folder, one sample per file: neg/b, then pos/a, pos/c, pos/d */
    const char *root = tmp_path("imdb");
    cr_assert_eq(mkdir(root, 0700), 0);
    cr_assert_eq(mkdir(tmp_path("imdb/neg"), 0700), 0);
    cr_assert_eq(mkdir(tmp_path("imdb/pos"), 0700), 0);
    write_file(tmp_path("imdb/pos/a.txt"), BOM "Caf\xe9 GOOD\r", 13);
    write_file(tmp_path("imdb/neg/b.txt"), "not\tbad,film\r\n", 14);
    write_file(tmp_path("imdb/pos/c.txt"), "don't stop", 10);
    write_file(tmp_path("imdb/pos/d.txt"), "good\rnot\r\nbad\nfilm\r", 19);
    cr_assert_eq(rnn_text_read(root, &s, err, sizeof err), 0, "%s", err);
    memcpy(want[0], B, sizeof B);
    memcpy(want[1], A, sizeof A);
    memcpy(want[2], C, sizeof C);
    memcpy(want[3], D, sizeof D);
    expect_ids(v, &s, "folder", (const int32_t(*)[5])want, 4);
    rnn_text_set_free(&s);

    /* a file to predict, one text per line, and the same bytes on stdin (a pipe) */
    const char lines_bytes[] = BOM "Caf\xe9 GOOD\rnot\tbad,film\r\ndon't stop";
    const char *lines = tmp_path("p.txt");
    write_file(lines, lines_bytes, sizeof lines_bytes - 1);
    for (int i = 0; i < 3; i++) memcpy(want[i], *abc[i], sizeof want[i]);
    cr_assert_eq(rnn_text_read_lines(lines, &s, err, sizeof err), 0, "%s", err);
    expect_ids(v, &s, "lines", (const int32_t(*)[5])want, 3);
    rnn_text_set_free(&s);
    stdin_from(lines_bytes, sizeof lines_bytes - 1);
    cr_assert_eq(rnn_text_read_lines("-", &s, err, sizeof err), 0, "%s", err);
    expect_ids(v, &s, "stdin", (const int32_t(*)[5])want, 3);
    rnn_text_set_free(&s);

    /* a blank line is a text to predict (one output line per input line); a final line
     * end starts no line */
    write_file(lines, "good\r\n\r\nbad\r\n", 13);
    cr_assert_eq(rnn_text_read_lines(lines, &s, err, sizeof err), 0, "%s", err);
    cr_expect_eq(s.n, 3);
    if (s.n == 3) {
        cr_expect_str_eq(s.texts[0], "good");
        cr_expect_str_eq(s.texts[1], "");
        cr_expect_str_eq(s.texts[2], "bad");
    }
    rnn_text_set_free(&s);
    rnn_vocab_free(v);
    tmp_cleanup();
}

/* A NUL byte is an error at its line and column (1-based) in every reader. */
static void expect_nul(int lines_reader, const char *name, const char *bytes, size_t n, const char *where) {
    const char *p = tmp_path(name);
    write_file(p, bytes, n);
    rnn_text_set s;
    memset(&s, 0xab, sizeof s);
    int rc = lines_reader ? rnn_text_read_lines(p, &s, err, sizeof err) : rnn_text_read(p, &s, err, sizeof err);
    cr_expect_eq(rc, -1, "%s: accepted", name);
    char want[512];
    snprintf(want, sizeof want, "%s:%s: NUL byte in the text (is the file UTF-16 or binary?)", p, where);
    cr_expect_str_eq(err, want);
    cr_expect_eq(s.n, 0);
    cr_expect_null(s.texts);
}

Test(text, nul_byte_is_an_error_with_line_and_column) {
    expect_nul(0, "a.tsv", "1\tok\n0\tba\0d\n", 12, "2:5");
    expect_nul(0, "b.tsv", "1\tok\r0\tfine\r1\t\0", 15, "3:3");
    expect_nul(0, "c.tsv", BOM "\0", 4, "1:1");
    expect_nul(1, "d.txt", "ok\r\n\0", 5, "2:1");
    const char *root = tmp_path("imdb");
    cr_assert_eq(mkdir(root, 0700), 0);
    cr_assert_eq(mkdir(tmp_path("imdb/neg"), 0700), 0);
    cr_assert_eq(mkdir(tmp_path("imdb/pos"), 0700), 0);
    write_file(tmp_path("imdb/neg/1.txt"), "fine", 4);
    const char *bad = tmp_path("imdb/pos/2.txt");
    write_file(bad, "good\r\nba\0d", 10);
    rnn_text_set s;
    cr_expect_eq(rnn_text_read(root, &s, err, sizeof err), -1);
    char want[512];
    snprintf(want, sizeof want, "%s:2:3: NUL byte in the text (is the file UTF-16 or binary?)", bad);
    cr_expect_str_eq(err, want);
    cr_expect_eq(s.n, 0);
    tmp_cleanup();
}

Test(text, nul_byte_on_stdin) {
    stdin_from("a\n\nb\0c", 6);
    rnn_text_set s;
    cr_expect_eq(rnn_text_read_lines("-", &s, err, sizeof err), -1);
    cr_expect_str_eq(err, "<stdin>:3:2: NUL byte in the text (is the file UTF-16 or binary?)");
    cr_expect_eq(s.n, 0);
}

/* ---- only regular files are read: a FIFO would block in open() ------------------------------ */

static const char *make_fifo(const char *name) {
    const char *p = tmp_path(name);
    cr_assert_eq(mkfifo(p, 0600), 0);
    return p;
}

static void expect_msg(int rc, const char *path, const char *what) {
    char want[512];
    snprintf(want, sizeof want, "%s: %s", path, what);
    cr_expect_eq(rc, -1, "%s accepted", path);
    cr_expect_str_eq(err, want);
}

Test(files, fifos_devices_and_directories_are_refused, .timeout = 30) {
    rnn_data d;
    const char *fifo = make_fifo("x.npy");
    expect_msg(rnn_npy_read_x(fifo, 4, 10, &d, err, sizeof err), fifo, "is a FIFO (named pipe), not a regular file");
    assert_empty(&d);
    expect_msg(rnn_npy_read_x("/dev/null", 4, 10, &d, err, sizeof err), "/dev/null",
               "is a character device, not a regular file");
    const char *dir = tmp_path("dir.npy");
    cr_assert_eq(mkdir(dir, 0700), 0);
    expect_msg(rnn_npy_read_x(dir, 4, 10, &d, err, sizeof err), dir, "is a directory, not a .npy file");

    /* y: after a good x */
    const char *x = tmp_path("good.npy");
    const int64_t ids[2] = {1, 2};
    write_x(x, 1, "<i8", ids, 2, "(1, 2)");
    cr_assert_eq(rnn_npy_read_x(x, 2, 10, &d, err, sizeof err), 0, "%s", err);
    const char *yfifo = make_fifo("y.npy");
    expect_msg(rnn_npy_read_y(yfifo, RNN_LOSS_BINARY_CROSSENTROPY, 1, &d, err, sizeof err), yfifo,
               "is a FIFO (named pipe), not a regular file");
    rnn_data_free(&d);

    rnn_text_set s;
    const char *tfifo = make_fifo("t.tsv");
    expect_msg(rnn_text_read(tfifo, &s, err, sizeof err), tfifo, "is a FIFO (named pipe), not a regular file");
    cr_expect_eq(s.n, 0);
    expect_msg(rnn_text_read_lines(tfifo, &s, err, sizeof err), tfifo,
               "is a FIFO (named pipe), not a regular file (a stream is read from stdin: --text -)");
    expect_msg(rnn_text_read_lines("/dev/null", &s, err, sizeof err), "/dev/null",
               "is a character device, not a regular file (a stream is read from stdin: --text -)");

    /* inside an aclImdb-like folder: a *.txt that is a FIFO or a directory is named */
    const char *root = tmp_path("imdb");
    cr_assert_eq(mkdir(root, 0700), 0);
    cr_assert_eq(mkdir(tmp_path("imdb/neg"), 0700), 0);
    cr_assert_eq(mkdir(tmp_path("imdb/pos"), 0700), 0);
    write_file(tmp_path("imdb/neg/1.txt"), "fine", 4);
    write_file(tmp_path("imdb/pos/1.txt"), "good", 4);
    const char *sub = tmp_path("imdb/pos/2.txt");
    cr_assert_eq(mkdir(sub, 0700), 0);
    expect_msg(rnn_text_read(root, &s, err, sizeof err), sub, "is a directory, not a text file");
    cr_expect_eq(s.n, 0);
    cr_assert_eq(rmdir(sub), 0);
    const char *ffifo = make_fifo("imdb/pos/3.txt");
    expect_msg(rnn_text_read(root, &s, err, sizeof err), ffifo, "is a FIFO (named pipe), not a regular file");
    cr_expect_eq(s.n, 0);
    tmp_cleanup();
}

/* ---- builtin ---------------------------------------------------------------------------- */

Test(builtin, deterministic_and_any_order) {
    rnn_data a, b, c, v, p;
    cr_assert_eq(rnn_builtin_data(7, 0, 300, 500, 100, &a, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rnn_builtin_data(7, 0, 300, 500, 100, &b, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rnn_builtin_data(8, 0, 300, 500, 100, &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rnn_builtin_data(7, 1, 300, 500, 100, &v, err, sizeof err), 0, "%s", err);
    cr_assert_eq(rnn_builtin_data(7, 0, 40, 500, 100, &p, err, sizeof err), 0, "%s", err);
    cr_expect_eq(memcmp(a.x, b.x, 300 * 100 * sizeof(int32_t)), 0);
    cr_expect_eq(memcmp(a.y, b.y, 300 * sizeof(float)), 0);
    cr_expect_neq(memcmp(a.x, c.x, 300 * 100 * sizeof(int32_t)), 0, "another seed, same data");
    cr_expect_neq(memcmp(a.x, v.x, 300 * 100 * sizeof(int32_t)), 0, "validation equals train");
    /* sample i does not depend on how many come before or after it */
    cr_expect_eq(memcmp(a.x, p.x, 40 * 100 * sizeof(int32_t)), 0);
    cr_expect_eq(memcmp(a.y, p.y, 40 * sizeof(float)), 0);
    /* every id is pad, start, OOV or a word id below vocab; labels are 0/1 */
    for (size_t k = 0; k < 300 * 100; k++) cr_assert(a.x[k] >= 0 && a.x[k] < 500 && a.x[k] != 3);
    for (size_t k = 0; k < 300; k++) cr_assert(a.y[k] == 0.0f || a.y[k] == 1.0f);
    rnn_data_free(&a);
    rnn_data_free(&b);
    rnn_data_free(&c);
    rnn_data_free(&v);
    rnn_data_free(&p);

    rnn_data d;
    cr_expect_eq(rnn_builtin_data(1, 0, 10, 10, 100, &d, err, sizeof err), -1);
    cr_expect_str_eq(err, "built-in data: vocab 10 is outside [32, 16777216]");
    assert_empty(&d);
    cr_expect_eq(rnn_builtin_data(1, 2, 10, 500, 100, &d, err, sizeof err), -1);
    cr_expect_str_eq(err, "built-in data: split must be 0 (train) or 1 (validation)");
}

/* A row of x is pad_sequences([1] + review words, T, 'pre', 'pre'). */
Test(builtin, rows_are_padded_reviews) {
    const int T = 100;
    rnn_data d;
    cr_assert_eq(rnn_builtin_data(3, 1, 200, 500, T, &d, err, sizeof err), 0, "%s", err);
    rnn_builtin_gen g;
    cr_assert_eq(rnn_builtin_gen_init(&g, 500, err, sizeof err), 0);
    rnn_rng s = rnn_rng_stream(3, RNN_RNG_DATA, 1, 0);
    static int32_t w[RNN_BUILTIN_MAX_LEN + 1];
    int shorter = 0, longer = 0;
    for (uint32_t i = 0; i < 200; i++) {
        rnn_builtin_info info;
        rnn_builtin_review(&g, &s, i, w + 1, &info);
        w[0] = 1;
        size_t total = info.len + 1;
        for (int t = 0; t < T; t++) {
            long src = (long)total - T + t;  /* index into [1, words...] */
            int32_t want = src < 0 ? 0 : w[src];
            cr_assert_eq(d.x[i * (size_t)T + (size_t)t], want, "sample %u col %d", i, t);
        }
        cr_assert_eq(d.y[i], (float)info.label);
        shorter += total < (size_t)T;
        longer += total > (size_t)T;
    }
    cr_expect(shorter > 0 && longer > 0, "both padding and truncation exercised (%d, %d)", shorter, longer);
    rnn_builtin_gen_free(&g);
    rnn_data_free(&d);
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

Test(builtin, imdb_like_statistics) {
    const size_t n = 25000;
    rnn_data d;
    clock_t c0 = clock();
    cr_assert_eq(rnn_builtin_data(0, 0, n, 500, 100, &d, err, sizeof err), 0, "%s", err);
    double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
    /* well under a second optimized (~0.07 s); the bound leaves room for sanitizers */
    cr_expect(secs < 2.0, "25000 x 100 took %.3f s", secs);

    double pos = 0;
    for (size_t i = 0; i < n; i++) pos += d.y[i];
    cr_expect(fabs(pos / (double)n - 0.5) < 0.02, "positive fraction %.4f", pos / (double)n);

    size_t words = 0, oov = 0;
    for (size_t k = 0; k < n * 100; k++) {
        if (d.x[k] <= 1) continue;
        words++;
        oov += d.x[k] == 2;
    }
    double frac = (double)oov / (double)words;
    cr_expect(frac > 0.10 && frac < 0.20, "OOV fraction %.4f", frac);
    rnn_data_free(&d);

    rnn_builtin_gen g;
    cr_assert_eq(rnn_builtin_gen_init(&g, 500, err, sizeof err), 0);
    rnn_rng s = rnn_rng_stream(0, RNN_RNG_DATA, 0, 0);
    static int32_t w[RNN_BUILTIN_MAX_LEN];
    size_t *len = malloc(n * sizeof *len);
    for (uint32_t i = 0; i < n; i++) {
        rnn_builtin_info info;
        rnn_builtin_review(&g, &s, i, w, &info);
        len[i] = info.len;
    }
    qsort(len, n, sizeof *len, cmp_size);
    size_t median = len[n / 2], p90 = len[n * 9 / 10];
    cr_expect(median >= 170 && median <= 190, "median length %zu", median);
    cr_expect(p90 > 2 * median, "no long tail: p90 %zu, median %zu", p90, median);
    cr_expect(len[0] >= 10 && len[n - 1] <= RNN_BUILTIN_MAX_LEN);
    free(len);
    rnn_builtin_gen_free(&g);
}

Test(builtin, structure) {
    rnn_builtin_gen g;
    cr_assert_eq(rnn_builtin_gen_init(&g, 500, err, sizeof err), 0);
    cr_expect_eq(g.n_sent, 24);
    int n_role[5] = {0};
    for (int id = 0; id < 500; id++) n_role[g.role[id] + 1]++;
    cr_expect_eq(n_role[0], 24);  /* negative */
    cr_expect_eq(n_role[2], 24);  /* positive */
    cr_expect_eq(n_role[3], 3);   /* negators */
    for (int k = 0; k < 24; k++) {
        cr_expect(g.positive[k] >= 4 && g.positive[k] < 500 && g.role[g.positive[k]] == 1);
        cr_expect(g.negative[k] >= 4 && g.negative[k] < 500 && g.role[g.negative[k]] == -1);
    }
    cr_expect_eq(g.negators[0], 23);  /* rank 20 */
    cr_expect_eq(g.role[0] + g.role[1] + g.role[2] + g.role[3], 0);
    rnn_builtin_gen_free(&g);
    /* the smallest vocab still has distinct reserved ids */
    cr_assert_eq(rnn_builtin_gen_init(&g, RNN_BUILTIN_MIN_VOCAB, err, sizeof err), 0);
    int reserved = 0;
    for (int id = 0; id < RNN_BUILTIN_MIN_VOCAB; id++) reserved += g.role[id] != 0;
    cr_expect_eq(reserved, 3 + 2 * g.n_sent);
    rnn_builtin_gen_free(&g);
}

Test(builtin, negation_flips_the_next_sentiment_word) {
    rnn_builtin_gen g;
    cr_assert_eq(rnn_builtin_gen_init(&g, 500, err, sizeof err), 0);
    const int32_t good = g.positive[0], bad = g.negative[0], not_ = g.negators[0], never = g.negators[2];
    const int32_t filler = 4 + 200, oov = 2;  /* rank 201 is not reserved at vocab 500 */
    cr_assert_eq(g.role[filler], 0);
    const int32_t s1[] = {good};
    const int32_t s2[] = {not_, good};
    const int32_t s3[] = {not_, filler, oov, bad};
    const int32_t s4[] = {not_, never, good};
    const int32_t s5[] = {not_, good, good};  /* only the next one flips */
    const int32_t s6[] = {good, not_};       /* a dangling negator does nothing */
    cr_expect_eq(rnn_builtin_score(&g, s1, 1), 1);
    cr_expect_eq(rnn_builtin_score(&g, s2, 2), -1);
    cr_expect_eq(rnn_builtin_score(&g, s3, 4), 1);
    cr_expect_eq(rnn_builtin_score(&g, s4, 3), 1);
    cr_expect_eq(rnn_builtin_score(&g, s5, 3), 0);
    cr_expect_eq(rnn_builtin_score(&g, s6, 2), 1);

    /* In generated reviews, a sentiment word right after a negator (with up to 2 words
     * between) mostly disagrees with the clean label, an unnegated one mostly agrees:
     * the generator really writes "not ... bad" for good. And the label is the score's
     * sign, with ~10% noise. */
    rnn_rng s = rnn_rng_stream(11, RNN_RNG_DATA, 0, 0);
    static int32_t w[RNN_BUILTIN_MAX_LEN];
    double agree_neg = 0, n_neg = 0, agree_plain = 0, n_plain = 0, noisy = 0, wrong_sign = 0;
    const uint32_t n = 3000;
    for (uint32_t i = 0; i < n; i++) {
        rnn_builtin_info info;
        rnn_builtin_review(&g, &s, i, w, &info);
        cr_assert_eq(info.score, rnn_builtin_score(&g, w, info.len));
        if (info.score != 0) wrong_sign += (info.score > 0) != (info.clean_label == 1);
        noisy += info.label != info.clean_label;
        int negated = 0;
        for (size_t t = 0; t < info.len; t++) {
            int r = g.role[w[t]];
            if (r == 2) {
                negated = 1;
            } else if (r != 0) {
                int agree = (r > 0) == (info.clean_label == 1);
                if (negated) agree_neg += agree, n_neg++;
                else agree_plain += agree, n_plain++;
                negated = 0;
            }
        }
    }
    cr_expect_eq(wrong_sign, 0);
    cr_expect(agree_neg / n_neg < 0.35, "negated words agree with the label %.3f", agree_neg / n_neg);
    cr_expect(agree_plain / n_plain > 0.65, "plain words agree with the label %.3f", agree_plain / n_plain);
    cr_expect(fabs(noisy / n - 0.10) < 0.02, "label noise %.4f", noisy / n);

    /* Word order matters: on the last 100 words, the order-aware score predicts the
     * label far better than the bag of surface polarities. */
    double acc_seq = 0, acc_bag = 0;
    for (uint32_t i = 0; i < n; i++) {
        rnn_builtin_info info;
        rnn_builtin_review(&g, &s, i, w, &info);
        size_t from = info.len > 100 ? info.len - 100 : 0;
        int seq = rnn_builtin_score(&g, w + from, info.len - from), bag = 0;
        for (size_t t = from; t < info.len; t++)
            if (g.role[w[t]] == 1 || g.role[w[t]] == -1) bag += g.role[w[t]];
        acc_seq += seq == 0 ? 0.5 : (seq > 0) == (info.label == 1);
        acc_bag += bag == 0 ? 0.5 : (bag > 0) == (info.label == 1);
    }
    cr_expect(acc_seq / n > acc_bag / n + 0.1, "sequence %.3f vs bag %.3f", acc_seq / n, acc_bag / n);
    rnn_builtin_gen_free(&g);
}

/* ---- split ------------------------------------------------------------------------------ */

static rnn_data numbered(size_t n, int T) {
    rnn_data d = {n, T, malloc(n * (size_t)T * sizeof(int32_t)), malloc(n * sizeof(float)), 1, NULL};
    for (size_t i = 0; i < n; i++) {
        for (int t = 0; t < T; t++) d.x[i * (size_t)T + (size_t)t] = (int32_t)(i * 10 + (size_t)t);
        d.y[i] = (float)i;
    }
    return d;
}

/* Keras's sizes in a float corner: 90 * (1 - 0.3) is 62.999..., so Keras trains on 62
 * rows and validates on 28, where ceil(90 * 0.3) would give 27. */
Test(split, sizes_are_keras_split_at) {
    rnn_data all = numbered(90, 2), tr, va;
    cr_assert_eq(rnn_data_split(&all, 0.3, 1, &tr, &va, err, sizeof err), 0, "%s", err);
    cr_expect_eq(va.n, 28);
    cr_expect_eq(tr.n, 62);
    rnn_data_free(&tr);
    rnn_data_free(&va);
}

Test(split, sizes_order_and_disjointness) {
    rnn_data all = numbered(10, 3), tr, va;
    cr_assert_eq(rnn_data_split(&all, 0.25, 42, &tr, &va, err, sizeof err), 0, "%s", err);
    cr_expect_null(all.x);  /* consumed */
    cr_expect_eq(va.n, 3);  /* 10 - floor(7.5) */
    cr_expect_eq(tr.n, 7);
    cr_expect_eq(va.T, 3);
    cr_expect_eq(tr.T, 3);
    uint32_t perm[10];
    rnn_rng s = rnn_rng_stream(42, RNN_RNG_SPLIT, 0, 0);
    rnn_rng_permutation(&s, perm, 10);
    int seen[10] = {0};
    for (size_t k = 0; k < 10; k++) {
        const rnn_data *dst = k < 3 ? &va : &tr;
        size_t row = k < 3 ? k : k - 3;
        cr_expect_eq(dst->y[row], (float)perm[k], "position %zu", k);
        for (int t = 0; t < 3; t++) cr_expect_eq(dst->x[row * 3 + (size_t)t], (int32_t)(perm[k] * 10 + (uint32_t)t));
        seen[(int)dst->y[row]]++;
    }
    for (int i = 0; i < 10; i++) cr_expect_eq(seen[i], 1, "row %d used %d times", i, seen[i]);
    rnn_data_free(&tr);
    rnn_data_free(&va);

    /* the textbook numbers: 25000 at 0.2 -> 5000 / 20000 */
    all = numbered(25000, 1);
    cr_assert_eq(rnn_data_split(&all, 0.2, 1, &tr, &va, err, sizeof err), 0, "%s", err);
    cr_expect_eq(va.n, 5000);
    cr_expect_eq(tr.n, 20000);
    char *used = calloc(25000, 1);
    for (size_t k = 0; k < va.n; k++) used[(size_t)va.y[k]]++;
    for (size_t k = 0; k < tr.n; k++) used[(size_t)tr.y[k]]++;
    size_t once = 0;
    for (size_t k = 0; k < 25000; k++) once += used[k] == 1;
    cr_expect_eq(once, 25000);
    free(used);
    rnn_data_free(&tr);
    rnn_data_free(&va);
}

Test(split, errors_consume_input) {
    rnn_data all = numbered(10, 2), tr, va;
    cr_expect_eq(rnn_data_split(&all, 0.95, 1, &tr, &va, err, sizeof err), -1);
    cr_expect_str_eq(err, "validation split 0.95 of 10 samples leaves none to train on");
    cr_expect_null(all.x);
    assert_empty(&tr);
    assert_empty(&va);
    all = numbered(10, 2);
    cr_expect_eq(rnn_data_split(&all, -0.1, 1, &tr, &va, err, sizeof err), -1);
    cr_expect_str_eq(err, "validation split -0.1 is outside [0, 1)");
    cr_expect_null(all.x);
}
