/*
 * replay.c — run a fuzz harness without libFuzzer: every file named on the command
 * line (directories: every regular file in them, in name order) goes through
 * LLVMFuzzerTestOneInput once. A crash or a failed check aborts, so the exit status
 * says whether the regression inputs still pass. Prints "NAME: N inputs ok".
 */
#include "fuzz_util.h"

#include <dirent.h>
#include <sys/stat.h>

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        FUZZ_CHECK(buf != NULL);
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) break;
        cap *= 2;
        buf = realloc(buf, cap);
    }
    fclose(f);
    /* an exact-size copy, so that reading past the input is caught as with libFuzzer */
    uint8_t *exact = malloc(len ? len : 1);
    FUZZ_CHECK(exact != NULL);
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, int *count) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: cannot open %s\n", dir);
        return -1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        names = realloc(names, (n + 1) * sizeof *names);
        FUZZ_CHECK(names != NULL);
        size_t l = strlen(dir) + strlen(e->d_name) + 2;
        names[n] = malloc(l);
        FUZZ_CHECK(names[n] != NULL);
        snprintf(names[n], l, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n > 1) qsort(names, n, sizeof *names, cmp_names);
    int rc = 0;
    for (size_t k = 0; k < n; k++) {
        struct stat st;
        if (stat(names[k], &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(names[k])) rc = -1;
            else (*count)++;
        }
        free(names[k]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv) {
    LLVMFuzzerInitialize(&argc, &argv);
    int count = 0, rc = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
            rc = 1;
        } else if (S_ISDIR(st.st_mode)) {
            if (run_dir(argv[i], &count)) rc = 1;
        } else if (run_file(argv[i])) {
            rc = 1;
        } else {
            count++;
        }
    }
    const char *name = strrchr(argv[0], '/');
    printf("%s: %d inputs ok\n", name ? name + 1 : argv[0], count);
    return rc;
}
