/*
 * test_samples.c — what a sample is when predict and evaluate read text
 * (rnn_text_read_samples: a file one, stdin one per line, a TSV one per row without its
 * label column, a folder one per file, --text-unit to say otherwise), TSV errors naming
 * the file and line, and the .npy labels of several outputs and sample weights.
 */
#define _XOPEN_SOURCE 700
#include "data/data.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[64];

static const char *in(const char *name) {
    static char buf[8][256];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static void put(const char *name, const void *data, size_t len) {
    FILE *f = fopen(in(name), "wb");
    cr_assert(f, "%s", in(name));
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void setup(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/rnnc-samples-XXXXXX");
    cr_assert(mkdtemp(g_dir));
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    cr_assert_eq(system(cmd), 0);
}

/* stdin from a file, for "-" */
static void stdin_from(const char *name) {
    int fd = open(in(name), O_RDONLY);
    cr_assert(fd >= 0);
    cr_assert(dup2(fd, STDIN_FILENO) >= 0);
    close(fd);
}

Test(samples, a_file_is_one_sample_unless_told, .init = setup, .fini = teardown) {
    const char review[] = "A fine film.\nThe second paragraph\nand a third line.\n";
    put("r.txt", review, sizeof review - 1);
    rnn_text_set s;
    int labelled;
    char err[256];
    cr_assert_eq(rnn_text_read_samples(in("r.txt"), RNN_TEXT_UNIT_DEFAULT, &s, &labelled, err, sizeof err), 0, "%s", err);
    cr_expect_eq(s.n, 1, "one review file, one sample (got %zu)", s.n);
    cr_expect(!labelled);
    cr_expect(strstr(s.texts[0], "third line"));
    rnn_text_set_free(&s);
    cr_assert_eq(rnn_text_read_samples(in("r.txt"), RNN_TEXT_UNIT_LINE, &s, &labelled, err, sizeof err), 0, "%s", err);
    cr_expect_eq(s.n, 3);
    cr_expect_str_eq(s.where[1], in("r.txt:2"));
    rnn_text_set_free(&s);
}

Test(samples, stdin_is_one_sample_per_line_unless_told, .init = setup, .fini = teardown) {
    const char lines[] = "good\nbad\n\nugly\n";
    put("l.txt", lines, sizeof lines - 1);
    rnn_text_set s;
    int labelled;
    char err[256];
    stdin_from("l.txt");
    cr_assert_eq(rnn_text_read_samples("-", RNN_TEXT_UNIT_DEFAULT, &s, &labelled, err, sizeof err), 0, "%s", err);
    cr_expect_eq(s.n, 4, "a blank line is a sample too (the outputs line up)");
    rnn_text_set_free(&s);
    stdin_from("l.txt");
    cr_assert_eq(rnn_text_read_samples("-", RNN_TEXT_UNIT_FILE, &s, &labelled, err, sizeof err), 0, "%s", err);
    cr_expect_eq(s.n, 1);
    rnn_text_set_free(&s);
}

/* A TSV's label column is a label, never a word, whatever reads it. */
Test(samples, a_tsv_is_labelled_rows, .init = setup, .fini = teardown) {
    const char tsv[] = "1\tgreat fun\n0\tdull\n\n 1 \tsplendid\n";
    put("d.tsv", tsv, sizeof tsv - 1);
    rnn_text_set s;
    int labelled;
    char err[256];
    cr_assert_eq(rnn_text_read_samples(in("d.tsv"), RNN_TEXT_UNIT_DEFAULT, &s, &labelled, err, sizeof err), 0, "%s", err);
    cr_expect(labelled);
    cr_assert_eq(s.n, 3);
    cr_expect_str_eq(s.texts[0], "great fun");
    cr_expect_eq(s.labels[2], 1.0f);
    cr_expect_str_eq(s.where[2], in("d.tsv:4"));
    rnn_text_set_free(&s);
    stdin_from("d.tsv");   /* evaluate --text - reads it from stdin */
    cr_assert_eq(rnn_text_read_samples("-", RNN_TEXT_UNIT_DEFAULT, &s, &labelled, err, sizeof err), 0, "%s", err);
    cr_expect(labelled && s.n == 3);
    cr_expect_str_eq(s.where[1], "<stdin>:2");
    rnn_text_set_free(&s);
    cr_expect_eq(rnn_text_read_samples(in("d.tsv"), RNN_TEXT_UNIT_FILE, &s, &labelled, err, sizeof err), -1);
    cr_expect(strstr(err, "is a TSV of labelled rows"), "%s", err);
}

Test(samples, a_folder_is_one_sample_per_file, .init = setup, .fini = teardown) {
    cr_assert_eq(mkdir(in("unsup"), 0700), 0);
    put("unsup/b.txt", "second\n", 7);
    put("unsup/a.txt", "first\nfile\n", 11);
    put("unsup/notes.md", "not a review", 12);
    rnn_text_set s;
    int labelled;
    char err[256];
    cr_assert_eq(rnn_text_read_samples(in("unsup"), RNN_TEXT_UNIT_DEFAULT, &s, &labelled, err, sizeof err), 0, "%s", err);
    cr_expect(!labelled);
    cr_assert_eq(s.n, 2, "the *.txt files");
    cr_expect_str_eq(s.where[0], in("unsup/a.txt"));   /* bytewise name order */
    cr_expect_str_eq(s.where[1], in("unsup/b.txt"));
    rnn_text_set_free(&s);
    cr_expect_eq(rnn_text_read_samples(in("unsup"), RNN_TEXT_UNIT_LINE, &s, &labelled, err, sizeof err), -1);
}

/* A TSV's bad label names the file and its line. */
Test(samples, a_bad_label_names_the_file_and_line, .init = setup, .fini = teardown) {
    const char tsv[] = "1\tok\n\n7\tseven is no binary label\n";
    put("bad.tsv", tsv, sizeof tsv - 1);
    rnn_text_set s;
    char err[256];
    cr_assert_eq(rnn_text_read(in("bad.tsv"), &s, err, sizeof err), 0, "%s", err);
    rnn_vocab *v = rnn_vocab_build(&s, 50);
    rnn_data d;
    cr_expect_eq(rnn_text_to_data(v, &s, 4, RNN_LOSS_BINARY_CROSSENTROPY, 1, &d, err, sizeof err), -1);
    char want[300];
    snprintf(want, sizeof want, "%s:3: label 7 is not in [0, 1] (binary labels)", in("bad.tsv"));
    cr_expect_str_eq(err, want);
    /* categorical cross-entropy takes the class index as a one-hot row */
    cr_assert_eq(rnn_text_to_data(v, &s, 4, RNN_LOSS_CATEGORICAL_CROSSENTROPY, 8, &d, err, sizeof err), 0, "%s", err);
    cr_expect_eq(d.label_width, 8);
    cr_expect(d.y[8 + 7] == 1 && d.y[8 + 6] == 0 && d.y[1] == 1);
    rnn_data_free(&d);
    rnn_vocab_free(v);
    rnn_text_set_free(&s);
}

/* ---- .npy labels of several outputs, sample weights -------------------------------------- */

static void npy(const char *name, const char *descr, const char *shape, const void *data, size_t bytes) {
    char header[128];
    int n = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    int pad = 64 - (10 + n + 1) % 64;
    char buf[4096];
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    const unsigned hl = (unsigned)(n + pad + 1);
    buf[8] = (char)(hl & 0xff), buf[9] = (char)(hl >> 8);
    memcpy(buf + 10, header, (size_t)n);
    memset(buf + 10 + n, ' ', (size_t)pad);
    buf[10 + n + pad] = '\n';
    memcpy(buf + 10 + hl, data, bytes);
    put(name, buf, 10 + hl + bytes);
}

Test(samples, npy_labels_and_weights, .init = setup, .fini = teardown) {
    const float y3[6] = {1, 0, 1, 0, 0.5f, 1}, onehot_bad[6] = {1, 0, 0, 0, 1, 1};
    const float w[2] = {1.5f, 0};
    const float wbad[2] = {1, -2};
    npy("y3.npy", "<f4", "(2, 3)", y3, sizeof y3);
    npy("oh.npy", "<f4", "(2, 3)", onehot_bad, sizeof onehot_bad);
    npy("w.npy", "<f4", "(2,)", w, sizeof w);
    npy("wbad.npy", "<f4", "(2,)", wbad, sizeof wbad);
    rnn_data d = {.n = 2, .T = 1};
    char err[256];
    cr_assert_eq(rnn_npy_read_y(in("y3.npy"), RNN_LOSS_BINARY_CROSSENTROPY, 3, &d, err, sizeof err), 0, "%s", err);
    cr_expect_eq(d.label_width, 3);
    cr_expect_eq(d.y[4], 0.5f);
    cr_expect_eq(rnn_npy_read_y(in("y3.npy"), RNN_LOSS_BINARY_CROSSENTROPY, 1, &d, err, sizeof err), -1);
    cr_expect(strstr(err, "labels must have shape (N,) or (N, 1)"), "%s", err);
    cr_expect_eq(rnn_npy_read_y(in("oh.npy"), RNN_LOSS_CATEGORICAL_CROSSENTROPY, 3, &d, err, sizeof err), -1);
    cr_expect(strstr(err, "row 1 (0-based): the labels sum to 2"), "%s", err);
    cr_assert_eq(rnn_npy_read_weights(in("w.npy"), &d, err, sizeof err), 0, "%s", err);
    cr_expect(d.w[0] == 1.5f && d.w[1] == 0);
    cr_expect_eq(rnn_npy_read_weights(in("wbad.npy"), &d, err, sizeof err), -1);
    cr_expect(strstr(err, "row 1 (0-based): sample weight -2 is not a non-negative finite number"), "%s", err);
    rnn_data_free(&d);
}
