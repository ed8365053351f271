/*
 * paths.c — a run's files must not be one another: no output is another output or an
 * input (a history written over the checkpoint, a checkpoint over the training data).
 * Two names are one file when they read the same, resolve to the same path (symbolic
 * links, "./", "..") or, both existing, are the same inode (hard links).
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "train/trainer.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* path with its directory resolved (the file itself may not exist yet), into buf; the
 * path as it is when its directory cannot be resolved. */
static void canonical(const char *path, char *buf, size_t cap) {
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (realpath(path, real)) {   /* it exists: every link resolved */
        snprintf(buf, cap, "%s", real);
        return;
    }
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path) > 0 ? (int)(slash - path) : 1, path);
    else snprintf(dir, sizeof dir, ".");
    if (*base && strcmp(base, ".") && strcmp(base, "..") && realpath(dir, real))
        snprintf(buf, cap, "%s/%s", strcmp(real, "/") ? real : "", base);
    else
        snprintf(buf, cap, "%s", path);
}

static int same_file(const char *a, const char *b) {
    if (!strcmp(a, b)) return 1;
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char ca[PATH_MAX + 64], cb[PATH_MAX + 64];
    canonical(a, ca, sizeof ca);
    canonical(b, cb, sizeof cb);
    return !strcmp(ca, cb);
}

int rnn_paths_distinct(const rnn_path_use *u, int n, char *err, size_t errlen) {
    for (int i = 0; i < n; i++) {
        if (!u[i].path || u[i].role == RNN_PATH_INPUT) continue;   /* from each output */
        for (int j = 0; j < n; j++) {
            if (j == i || !u[j].path || (u[j].role != RNN_PATH_INPUT && j < i)) continue;
            if (!same_file(u[i].path, u[j].path)) continue;
            /* one checkpoint file for several callbacks; the checkpoint a run resumes from */
            if (u[j].role != RNN_PATH_INPUT && u[i].role == RNN_PATH_CHECKPOINT && u[j].role == RNN_PATH_CHECKPOINT) continue;
            if (u[j].role == RNN_PATH_INPUT && u[i].role == RNN_PATH_CHECKPOINT && u[j].resumable) continue;
            if (u[j].role == RNN_PATH_INPUT)
                snprintf(err, errlen, "%s %s would write over %s %s: give the output another path", u[i].what, u[i].path,
                         u[j].what, u[j].path);
            else
                snprintf(err, errlen, "%s %s and %s %s are the same file: every output needs a path of its own", u[i].what,
                         u[i].path, u[j].what, u[j].path);
            return -1;
        }
    }
    return 0;
}
