/*
 * test_paths.c — a run's outputs are never another output or an input (train/paths.c):
 * the same name, another spelling of it ("./", a directory's "..", a symbolic link) and
 * a hard link are one file; two checkpoint callbacks may share their file, and a run may
 * write its checkpoint over the one it resumes from.
 */
#define _XOPEN_SOURCE 700
#include "train/trainer.h"

#include <criterion/criterion.h>
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

static void setup(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/rnnc-paths-XXXXXX");
    cr_assert(mkdtemp(g_dir));
    FILE *f = fopen(in("x.npy"), "w");
    cr_assert(f);
    fclose(f);
    cr_assert_eq(mkdir(in("sub"), 0700), 0);
}

static void teardown(void) {
    unlink(in("x.npy"));
    unlink(in("link.npy"));
    unlink(in("hard.npy"));
    rmdir(in("sub"));
    rmdir(g_dir);
}

static int check(const rnn_path_use *u, int n, char *err) { return rnn_paths_distinct(u, n, err, 512); }

Test(paths, an_output_over_an_input_is_refused, .init = setup, .fini = teardown) {
    char err[512];
    rnn_path_use u[2] = {{in("x.npy"), "--checkpoint", RNN_PATH_CHECKPOINT, 0}, {in("x.npy"), "--train-x", RNN_PATH_INPUT, 0}};
    cr_assert_eq(check(u, 2, err), -1);
    cr_expect(strstr(err, "--checkpoint") && strstr(err, "would write over --train-x"), "%s", err);
    char other[256];   /* another spelling: through sub/.. */
    snprintf(other, sizeof other, "%s/sub/../x.npy", g_dir);
    u[0].path = other;
    cr_expect_eq(check(u, 2, err), -1, "sub/../x.npy is x.npy");
    cr_assert_eq(symlink(in("x.npy"), in("link.npy")), 0);
    u[0].path = in("link.npy");
    cr_expect_eq(check(u, 2, err), -1, "a symbolic link to it");
    cr_assert_eq(link(in("x.npy"), in("hard.npy")), 0);
    u[0].path = in("hard.npy");
    cr_expect_eq(check(u, 2, err), -1, "a hard link to it (the same inode)");
    u[0].path = in("y.npy");
    cr_expect_eq(check(u, 2, err), 0, "another file: %s", err);
}

Test(paths, two_outputs_in_one_file_are_refused, .init = setup, .fini = teardown) {
    char err[512];
    rnn_path_use u[3] = {{"a", "--checkpoint", RNN_PATH_CHECKPOINT, 0},
                         {"./a", "--history", RNN_PATH_OUTPUT, 0},
                         {NULL, "--plot", RNN_PATH_OUTPUT, 0}};
    char cwd[256];
    cr_assert(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(g_dir), 0);
    const int rc = check(u, 3, err);
    cr_assert_eq(chdir(cwd), 0);
    cr_assert_eq(rc, -1);
    cr_expect(strstr(err, "--checkpoint a and --history ./a are the same file"), "%s", err);
}

Test(paths, what_may_share_a_file, .init = setup, .fini = teardown) {
    char err[512];
    rnn_path_use u[3] = {{in("ck"), "model_checkpoint", RNN_PATH_CHECKPOINT, 0},
                         {in("ck"), "model_checkpoint", RNN_PATH_CHECKPOINT, 0},
                         {in("ck"), "--resume", RNN_PATH_INPUT, 1}};
    cr_expect_eq(check(u, 3, err), 0, "two checkpoints and the resumed one: %s", err);
    u[1].role = RNN_PATH_OUTPUT;   /* a CSV is not the checkpoint */
    cr_expect_eq(check(u, 3, err), -1);
    u[1].role = RNN_PATH_CHECKPOINT;
    u[2].resumable = 0;   /* the training data is never written over */
    cr_expect_eq(check(u, 3, err), -1);
}
