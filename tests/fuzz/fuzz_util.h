/*
 * fuzz_util.h — what the libFuzzer harnesses share: the input bytes as a file (the
 * loaders take paths), and a check that aborts so that libFuzzer (or the replay
 * runner) reports a broken invariant like a crash.
 */
#ifndef RNNC_FUZZ_UTIL_H
#define RNNC_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                    \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

/* One temporary file per process, rewritten for every input, removed at exit. */
static char fuzz_tmp_path[256];
static int fuzz_tmp_fd = -1;

static inline void fuzz_tmp_remove(void) {
    if (fuzz_tmp_path[0]) unlink(fuzz_tmp_path);
}

/* The path of a file holding exactly data[0..size). */
static inline const char *fuzz_write_tmp(const uint8_t *data, size_t size) {
    if (fuzz_tmp_fd < 0) {
        const char *dir = getenv("TMPDIR");
        snprintf(fuzz_tmp_path, sizeof fuzz_tmp_path, "%s/rnnc-fuzz-XXXXXX", dir && *dir ? dir : "/tmp");
        fuzz_tmp_fd = mkstemp(fuzz_tmp_path);
        FUZZ_CHECK(fuzz_tmp_fd >= 0);
        atexit(fuzz_tmp_remove);
    }
    FUZZ_CHECK(ftruncate(fuzz_tmp_fd, 0) == 0);
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fuzz_tmp_fd, data + done, size - done, (off_t)done);
        FUZZ_CHECK(w > 0);
        done += (size_t)w;
    }
    return fuzz_tmp_path;
}

/* err must hold one NUL-terminated message. */
static inline void fuzz_check_err(const char *err, size_t errlen) {
    FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
    FUZZ_CHECK(err[0] != '\0');
}

#endif
