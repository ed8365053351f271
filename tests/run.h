/*
 * run.h — run build/rnnc (or any program) from a test, in a fresh directory, and
 * capture its exit code, stdout and stderr. Header-only: static functions.
 * Include it first, or define _XOPEN_SOURCE 700 before any system header.
 */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif
#ifndef TESTS_RUN_H
#define TESTS_RUN_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef RNNC_BUILD_DIR
#define RNNC_BUILD_DIR "build"
#endif

typedef struct {
    int status;         /* exit code, or 128 + signal */
    char out[16384];    /* stdout */
    char err[16384];    /* stderr */
} run_result;

/* Absolute path of a file in the build directory (the tests run from the repo root). */
static inline const char *build_path(const char *name) {
    static char buf[PATH_MAX + 64];
    char root[PATH_MAX];
    if (!realpath(RNNC_BUILD_DIR, root)) snprintf(root, sizeof root, "%s", RNNC_BUILD_DIR);
    snprintf(buf, sizeof buf, "%s/%s", root, name);
    return buf;
}

/* A new empty directory under /tmp; the caller removes it with rm_tree. */
static inline char *make_temp_dir(void) {
    char *d = strdup("/tmp/rnnc-test-XXXXXX");
    if (!d || !mkdtemp(d)) abort();
    return d;
}

static inline void write_file(const char *dir, const char *name, const void *data, size_t len) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) abort();
    if (len && fwrite(data, 1, len, f) != len) abort();
    fclose(f);
}

static inline void slurp(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    size_t n = 0;
    if (f) {
        n = fread(buf, 1, cap - 1, f);
        fclose(f);
    }
    buf[n] = 0;
}

/* The absolute path of an executable on PATH, or NULL (in a static buffer: copy it). */
static inline const char *find_program(const char *name) {
    static char buf[PATH_MAX];
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        if (n > 0 && snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, name) < (int)sizeof buf &&
            access(buf, X_OK) == 0)
            return buf;
        path += n + (path[n] == ':');
    }
    return NULL;
}

/* Run argv (argv[0] an absolute path) with cwd = dir; capture into *r. */
static inline void run_in(const char *dir, char *const argv[], run_result *r) {
    char cap[] = "/tmp/rnnc-cap-XXXXXX";
    if (!mkdtemp(cap)) abort();
    char outp[PATH_MAX], errp[PATH_MAX];
    snprintf(outp, sizeof outp, "%s/out", cap);
    snprintf(errp, sizeof errp, "%s/err", cap);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) abort();
    if (pid == 0) {
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int in = open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || in < 0 || chdir(dir) != 0) _exit(126);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    slurp(outp, r->out, sizeof r->out);
    slurp(errp, r->err, sizeof r->err);
    unlink(outp);
    unlink(errp);
    rmdir(cap);
}

/* Names in dir other than . and .., sorted, joined by spaces. */
static inline void list_dir(const char *dir, char *buf, size_t cap) {
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    buf[0] = 0;
    for (int i = 0; i < n; i++) {
        const char *s = names[i]->d_name;
        if (strcmp(s, ".") && strcmp(s, "..")) {
            size_t used = strlen(buf);
            int w = snprintf(buf + used, cap - used, "%s%s", used ? " " : "", s);
            if (w < 0 || (size_t)w >= cap - used) break;   /* listing full */
        }
        free(names[i]);
    }
    if (n >= 0) free(names);
}

static inline void rm_tree(const char *dir) {
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *s = names[i]->d_name;
        if (strcmp(s, ".") && strcmp(s, "..")) {
            char p[PATH_MAX];
            int w = snprintf(p, sizeof p, "%s/%s", dir, s);
            if (w < 0 || (size_t)w >= sizeof p) continue;
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) rm_tree(p);
            else unlink(p);
        }
        free(names[i]);
    }
    if (n >= 0) free(names);
    rmdir(dir);
}

#endif
