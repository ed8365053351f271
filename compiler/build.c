/*
 * build.c — turn a generated C file into an executable: find librnnrt, run the C
 * compiler, and put the result in place atomically.
 *
 * The compiler runs through fork/execvp with an argument vector built here: no shell
 * is involved, so a path or a flag with spaces, quotes or `$` cannot be reinterpreted
 * and CC/CFLAGS cannot smuggle in a command. Its output goes to a temporary beside
 * the executable (same directory, hence same file system, hence rename() is atomic):
 * a failed or interrupted compile leaves neither a half-written executable nor the
 * temporary, and an existing executable stays untouched until the new one is whole.
 */
#include "rnnc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BUILD_PATH_MAX 4096
#define MAX_ARGS 256              /* compiler + flags + our fixed arguments          */
#define OUTPUT_KEEP (64 * 1024)   /* compiler output kept for the message            */
#define ERR_LINES 20              /* lines of compiler output quoted in an error     */

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* snprintf that reports truncation: a silently cut path would name another file. */
static int join(char *buf, size_t n, const char *a, const char *b) {
    int k = snprintf(buf, n, "%s%s", a, b);
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

/* ---- finding the runtime ---------------------------------------------------------
 * Three layouts, first match wins:
 *   RNNC_RUNTIME_DIR=D   D/lib/librnnrt.a + D/include/rnnrt.h (an install prefix), or
 *                        D/librnnrt.a + D/include/rnnrt.h (a build directory)
 *   build tree           DIR/librnnrt.a + DIR/include/rnnrt.h, DIR = where rnnc is
 *                        (make puts build/rnnc, build/librnnrt.a, build/include/)
 *   installed            DIR/../lib/librnnrt.a + DIR/../include/rnnrt.h
 * DIR comes from /proc/self/exe, not argv[0] or PATH, so it is the binary actually
 * running even when started through a symlink or a relative path. */
typedef struct {
    char lib[BUILD_PATH_MAX];       /* .../librnnrt.a          */
    char include[BUILD_PATH_MAX];   /* directory with rnnrt.h  */
} runtime_paths;

static int try_layout(runtime_paths *rt, const char *lib, const char *include) {
    char hdr[BUILD_PATH_MAX];
    if (join(hdr, sizeof hdr, include, "/rnnrt.h") || !is_file(lib) || !is_file(hdr)) return -1;
    if (join(rt->lib, sizeof rt->lib, lib, "") || join(rt->include, sizeof rt->include, include, "")) return -1;
    return 0;
}

static int try_prefix(runtime_paths *rt, const char *dir) {
    char lib[BUILD_PATH_MAX], inc[BUILD_PATH_MAX];
    if (join(lib, sizeof lib, dir, "/lib/librnnrt.a") || join(inc, sizeof inc, dir, "/include")) return -1;
    return try_layout(rt, lib, inc);
}

static int try_build_dir(runtime_paths *rt, const char *dir) {
    char lib[BUILD_PATH_MAX], inc[BUILD_PATH_MAX];
    if (join(lib, sizeof lib, dir, "/librnnrt.a") || join(inc, sizeof inc, dir, "/include")) return -1;
    return try_layout(rt, lib, inc);
}

static int find_runtime(runtime_paths *rt, char *err, size_t errlen) {
    const char *env = getenv("RNNC_RUNTIME_DIR");
    if (env && *env) {
        /* An explicit override that does not work is an error, not a reason to quietly
         * fall back to another runtime than the one asked for. */
        if (try_prefix(rt, env) == 0 || try_build_dir(rt, env) == 0) return 0;
        set_err(err, errlen,
                "rnnc: RNNC_RUNTIME_DIR=%s holds no runtime: expected lib/librnnrt.a and "
                "include/rnnrt.h in it",
                env);
        return -1;
    }
    char self[BUILD_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0 || (size_t)n >= sizeof self - 1) {
        set_err(err, errlen,
                "rnnc: cannot find the runtime (librnnrt.a, rnnrt.h): cannot tell where rnnc "
                "is installed (/proc/self/exe: %s); set RNNC_RUNTIME_DIR to a directory with "
                "lib/librnnrt.a and include/rnnrt.h",
                n < 0 ? strerror(errno) : "path too long");
        return -1;
    }
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash == self) slash[1] = 0;     /* rnnc in "/": keep the root */
    else if (slash) *slash = 0;
    if (try_build_dir(rt, self) == 0) return 0;
    char up[BUILD_PATH_MAX];
    if (join(up, sizeof up, self, "/..") == 0 && try_prefix(rt, up) == 0) return 0;
    set_err(err, errlen,
            "rnnc: cannot find the runtime (librnnrt.a, rnnrt.h): looked in %s (build tree) "
            "and %s/../lib, %s/../include (installed); set RNNC_RUNTIME_DIR to a directory "
            "with lib/librnnrt.a and include/rnnrt.h",
            self, self, self);
    return -1;
}

/* ---- the compiler's argument vector ------------------------------------------------ */

typedef struct {
    char *argv[MAX_ARGS + 1];
    int n;
    char words[2 * BUILD_PATH_MAX];   /* CC and CFLAGS, split in place */
} arg_vector;

static int push(arg_vector *a, char *s) {
    if (a->n >= MAX_ARGS) return -1;
    a->argv[a->n++] = s;
    a->argv[a->n] = NULL;
    return 0;
}

/* Split s on blanks into words (copied into a->words at *used), appending each: the
 * usual make convention for CC="ccache clang" or CFLAGS="-O2 -g", without a shell's
 * quoting, expansion or command substitution. */
static int push_words(arg_vector *a, const char *s, size_t *used) {
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == '\n') s++;
        if (!*s) break;
        size_t len = strcspn(s, " \t\n");
        if (*used + len + 1 > sizeof a->words) return -1;
        char *w = a->words + *used;
        memcpy(w, s, len);
        w[len] = 0;
        *used += len + 1;
        if (push(a, w)) return -1;
        s += len;
    }
    return 0;
}

/* Is an executable called `name` on PATH? */
static int on_path(const char *name) {
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t len = strcspn(path, ":");
        char cand[BUILD_PATH_MAX];
        int k = len ? snprintf(cand, sizeof cand, "%.*s/%s", (int)len, path, name)
                    : snprintf(cand, sizeof cand, "./%s", name);   /* empty entry = cwd */
        if (k > 0 && (size_t)k < sizeof cand && is_file(cand) && access(cand, X_OK) == 0) return 1;
        path += len;
        if (*path == ':') path++;
    }
    return 0;
}

/* A path handed to the compiler must not read as an option ("-o -x" is fine, but a
 * bare "-x.c" input is not): prefix "./" to relative paths that start with '-'. */
static const char *not_an_option(const char *path, char *buf, size_t n) {
    if (path[0] != '-') return path;
    return join(buf, n, "./", path) ? NULL : buf;
}

/* ---- temporaries ----------------------------------------------------------------- */

int rnnc_make_temp(const char *base, const char *suffix, char *out, size_t outlen, char *err, size_t errlen) {
    /* mkstemps() would do this but is not POSIX; the name is random enough to make a
     * collision rare and O_EXCL makes one harmless (try another name). */
    static unsigned long counter;
    unsigned long seed = (unsigned long)getpid() * 2654435761UL ^ (unsigned long)time(NULL);
    static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned long x = seed + 0x9e3779b9UL * ++counter + (unsigned long)clock();
        char tag[7];
        for (int i = 0; i < 6; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            tag[i] = digits[(x >> 33) % 36];
        }
        tag[6] = 0;
        int k = snprintf(out, outlen, "%s.rnnc-%s%s", base, tag, suffix ? suffix : "");
        if (k < 0 || (size_t)k >= outlen) {
            set_err(err, errlen, "rnnc: %s: path too long", base);
            return -1;
        }
        int fd = open(out, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        if (errno != EEXIST) {
            /* Named after base: the temporary's name would only puzzle the user. */
            set_err(err, errlen, "rnnc: cannot create %s: %s", base, strerror(errno));
            return -1;
        }
    }
    set_err(err, errlen, "rnnc: cannot create a temporary file beside %s", base);
    return -1;
}

/* ---- running the compiler -------------------------------------------------------- */

/* While the compiler runs, SIGINT/SIGTERM/SIGHUP sent to rnnc alone are passed on to
 * it, so rnnc always gets to remove its temporaries before reporting. (A Ctrl-C
 * reaches both anyway, as they share the terminal's process group.) */
static volatile sig_atomic_t g_child_pid;

static void forward_signal(int sig) {
    if (g_child_pid > 0) kill((pid_t)g_child_pid, sig);
}

/* Run argv; its stdout and stderr are collected into out (first OUTPUT_KEEP bytes).
 * Returns the wait status, or -1 with err if it could not be started. */
static int run(char *const argv[], char *out, size_t outcap, size_t *outlen, char *err, size_t errlen) {
    int pfd[2], efd[2];
    *outlen = 0;
    if (pipe(pfd) != 0) {
        set_err(err, errlen, "rnnc: cannot run %s: pipe: %s", argv[0], strerror(errno));
        return -1;
    }
    /* A close-on-exec pipe tells apart "exec failed" (the child writes errno into it)
     * from "the compiler ran and failed" (exec closes it unwritten). */
    if (pipe(efd) != 0) {
        set_err(err, errlen, "rnnc: cannot run %s: pipe: %s", argv[0], strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    fcntl(efd[1], F_SETFD, FD_CLOEXEC);
    fcntl(pfd[0], F_SETFD, FD_CLOEXEC);
    fcntl(efd[0], F_SETFD, FD_CLOEXEC);

    /* Installed before fork so that no moment is left where a signal would kill rnnc
     * with its temporary in place; the child's copy sees g_child_pid == 0 and does
     * nothing, and exec resets it to the default. */
    struct sigaction sa, old_int, old_term, old_hup;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward_signal;
    sigemptyset(&sa.sa_mask);
    g_child_pid = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    fflush(NULL);   /* nothing buffered gets written twice by the child */
    pid_t pid = fork();
    if (pid < 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGHUP, &old_hup, NULL);
        set_err(err, errlen, "rnnc: cannot run %s: fork: %s", argv[0], strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        close(efd[0]);
        close(efd[1]);
        return -1;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls until exec. */
        dup2(pfd[1], STDOUT_FILENO);
        dup2(pfd[1], STDERR_FILENO);
        close(pfd[1]);
        int null = open("/dev/null", O_RDONLY);   /* the compiler reads no input */
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            close(null);
        }
        execvp(argv[0], argv);
        int e = errno;
        ssize_t w = write(efd[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    g_child_pid = pid;
    close(pfd[1]);
    close(efd[1]);

    /* Drain the output to the end (a full pipe would stall the compiler), keeping
     * the beginning, where the first error is. */
    char buf[4096];
    for (;;) {
        ssize_t r = read(pfd[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        size_t take = (size_t)r;
        if (take > outcap - 1 - *outlen) take = outcap - 1 - *outlen;
        memcpy(out + *outlen, buf, take);
        *outlen += take;
    }
    out[*outlen] = 0;
    close(pfd[0]);

    int exec_errno = 0;
    ssize_t r;
    do r = read(efd[0], &exec_errno, sizeof exec_errno);
    while (r < 0 && errno == EINTR);
    close(efd[0]);

    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    g_child_pid = 0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);

    if (r == (ssize_t)sizeof exec_errno) {
        set_err(err, errlen, "rnnc: cannot run the C compiler '%s': %s (set CC to a C compiler)",
                argv[0], strerror(exec_errno));
        return -1;
    }
    return status;
}

/* "<first ERR_LINES lines of text>", plus a note when there were more. */
static void quote_lines(char *dst, size_t n, const char *text) {
    size_t len = 0;
    int lines = 0;
    const char *p = text;
    while (*p && lines < ERR_LINES) {
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : p + strlen(p);
        lines++;
    }
    len = (size_t)(p - text);
    while (len > 0 && text[len - 1] == '\n') len--;   /* the caller adds the final newline */
    int more = 0;
    for (const char *q = p; *q; q++) more += *q == '\n' || q[1] == 0;
    if (len == 0) snprintf(dst, n, "(it printed nothing)");
    else if (more) snprintf(dst, n, "%.*s\n(%d more line%s)", (int)len, text, more, more == 1 ? "" : "s");
    else snprintf(dst, n, "%.*s", (int)len, text);
}

int rnnc_build_executable(const char *c_path, const char *exe_path, int portable, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    runtime_paths rt;
    if (find_runtime(&rt, err, errlen)) return -1;

    arg_vector a;   /* ~10 KiB; local, as it points into this frame's buffers */
    a.n = 0;
    a.argv[0] = NULL;
    size_t used = 0;

    const char *cc = getenv("CC");
    if (!cc || !*cc) cc = on_path("clang") ? "clang" : "cc";
    if (push_words(&a, cc, &used) || a.n == 0) {
        set_err(err, errlen, "rnnc: CC='%s' is not a usable compiler command", cc);
        return -1;
    }
    const char *compiler = a.argv[0];

    char inc_flag[BUILD_PATH_MAX + 3];
    if (join(inc_flag, sizeof inc_flag, "-I", rt.include)) {
        set_err(err, errlen, "rnnc: %s: path too long", rt.include);
        return -1;
    }
    /* -std and -I come before the user's CFLAGS so that our rnnrt.h is the one found
     * even when CFLAGS adds include directories of another install. */
    push(&a, "-std=c17");
    push(&a, inc_flag);
    const char *cflags = getenv("CFLAGS");   /* set but empty: no flags, as make does */
    if (!cflags) cflags = portable ? "-O3" : "-O3 -march=native";
    if (push_words(&a, cflags, &used)) {
        set_err(err, errlen, "rnnc: CFLAGS is too long (at most %d words)", MAX_ARGS - 8);
        return -1;
    }

    char tmp[BUILD_PATH_MAX], cbuf[BUILD_PATH_MAX], tbuf[BUILD_PATH_MAX];
    if (rnnc_make_temp(exe_path, NULL, tmp, sizeof tmp, err, errlen)) return -1;
    const char *c_arg = not_an_option(c_path, cbuf, sizeof cbuf);
    const char *t_arg = not_an_option(tmp, tbuf, sizeof tbuf);
    if (!c_arg || !t_arg) {
        unlink(tmp);
        set_err(err, errlen, "rnnc: %s: path too long", c_arg ? tmp : c_path);
        return -1;
    }
    /* The argument strings outlive this call's use of them; execvp takes char *. */
    if (push(&a, (char *)c_arg) || push(&a, rt.lib) || push(&a, "-lm") || push(&a, "-o") ||
        push(&a, (char *)t_arg)) {
        unlink(tmp);
        set_err(err, errlen, "rnnc: too many compiler arguments (CC and CFLAGS)");
        return -1;
    }

    static char output[OUTPUT_KEEP];
    size_t outlen = 0;
    int status = run(a.argv, output, sizeof output, &outlen, err, errlen);
    if (status == -1) {
        unlink(tmp);
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        unlink(tmp);
        char how[96];
        if (WIFEXITED(status)) snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status)) snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(status));
        else snprintf(how, sizeof how, "failed");
        static char quoted[OUTPUT_KEEP];
        quote_lines(quoted, sizeof quoted, output);
        set_err(err, errlen, "rnnc: compiling %s failed (%s %s):\n%s", c_path, compiler, how, quoted);
        return -1;
    }
    /* Warnings of a successful compile (e.g. from CFLAGS=-Wall) still reach the user. */
    if (outlen) fwrite(output, 1, outlen, stderr);

    /* The linker creates its output with 0777 & ~umask, but may instead have reused
     * our 0600 placeholder: give the executable the mode `cc -o` would. */
    mode_t mask = umask(0);
    umask(mask);
    if (chmod(tmp, 0777 & ~mask) != 0 || rename(tmp, exe_path) != 0) {
        int e = errno;
        unlink(tmp);
        set_err(err, errlen, "rnnc: cannot create %s: %s", exe_path, strerror(e));
        return -1;
    }
    return 0;
}
