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
#include "rnn_isa.h"
#include "rnnc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
 * running even when started through a symlink or a relative path. A cross build's
 * runtime is TRIPLE/librnnrt.a where librnnrt.a would be (make cross; the headers are
 * the same for every target). */
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

/* dir + libdir + "/" + (target "/") + "librnnrt.a", and dir + "/include". */
static int try_dir(runtime_paths *rt, const char *dir, const char *libdir, const char *target) {
    char lib[BUILD_PATH_MAX], inc[BUILD_PATH_MAX];
    int k = snprintf(lib, sizeof lib, "%s%s/%s%slibrnnrt.a", dir, libdir, target ? target : "", target ? "/" : "");
    if (k < 0 || (size_t)k >= sizeof lib || join(inc, sizeof inc, dir, "/include")) return -1;
    return try_layout(rt, lib, inc);
}

static int try_prefix(runtime_paths *rt, const char *dir, const char *target) { return try_dir(rt, dir, "/lib", target); }

static int try_build_dir(runtime_paths *rt, const char *dir, const char *target) { return try_dir(rt, dir, "", target); }

static int find_runtime(runtime_paths *rt, const char *target, char *err, size_t errlen) {
    const char *env = getenv("RNNC_RUNTIME_DIR");
    if (env && *env) {
        /* An explicit override that does not work is an error, not a reason to quietly
         * fall back to another runtime than the one asked for. */
        if (try_prefix(rt, env, target) == 0 || try_build_dir(rt, env, target) == 0) return 0;
        set_err(err, errlen,
                "rnnc: RNNC_RUNTIME_DIR=%s holds no runtime: expected lib/%s%slibrnnrt.a and "
                "include/rnnrt.h in it",
                env, target ? target : "", target ? "/" : "");
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
    if (try_build_dir(rt, self, target) == 0) return 0;
    char up[BUILD_PATH_MAX];
    if (join(up, sizeof up, self, "/..") == 0 && try_prefix(rt, up, target) == 0) return 0;
    if (target) {
        set_err(err, errlen,
                "rnnc: no runtime for %s: looked for %s/%s/librnnrt.a (build tree) and "
                "%s/../lib/%s/librnnrt.a (installed); `make cross` builds it (its compiler: make deps)",
                target, self, target, self, target);
        return -1;
    }
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

/* ---- what to build ------------------------------------------------------------- */

static int target_is_x86_64(const char *target) {
    if (target) return strncmp(target, "x86_64", 6) == 0;
#if defined(__x86_64__)
    return 1;
#else
    return 0;
#endif
}

/* The compiler command: $CC; else for a target clang --target=TRIPLE (Debian's clang
 * finds the gcc cross toolchain's libc, crt files and linker), or TRIPLE-gcc without
 * clang; else clang, or cc without it. */
static const char *compiler_command(const char *target, char *buf, size_t n) {
    const char *cc = getenv("CC");
    if (cc && *cc) return cc;
    if (!target) return on_path("clang") ? "clang" : "cc";
    if (on_path("clang")) snprintf(buf, n, "clang --target=%s", target);
    else snprintf(buf, n, "%s-gcc", target);
    return buf;
}

/* One compiler command line: CC, -std=c17 -I<runtime>, then the flags, split on blanks
 * like CC. -std and -I come before the user's CFLAGS so that our rnnrt.h is the one
 * found even when CFLAGS adds include directories of another install. */
static int begin_args(arg_vector *a, const char *cc, char *inc_flag, const char *flags) {
    size_t used = 0;
    a->n = 0;
    a->argv[0] = NULL;
    if (push_words(a, cc, &used) || a->n == 0) return -1;
    return push(a, "-std=c17") || push(a, inc_flag) || push_words(a, flags, &used) ? -1 : 0;
}

/* "OUT.rnnc-XXXXXX.x86-64-v3.o" beside the executable, for the copy of one level. */
static int level_object(const char *exe_path, int level, char *out, size_t n, char *err, size_t errlen) {
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".%s.o", rnn_isa_name(level));
    return rnnc_make_temp(exe_path, suffix, out, n, err, errlen);
}

/* The error of a job that ran and failed: what, how, and its first ERR_LINES lines. */
static void job_failed(const rnnc_job *j, const char *what, char *err, size_t errlen) {
    char how[96];
    if (WIFEXITED(j->status)) snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(j->status));
    else if (WIFSIGNALED(j->status)) snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(j->status));
    else snprintf(how, sizeof how, "failed");
    static char quoted[OUTPUT_KEEP];
    quote_lines(quoted, sizeof quoted, j->out);
    set_err(err, errlen, "rnnc: %s failed (%s %s):\n%s", what, j->argv[0], how, quoted);
}

static int job_ok(const rnnc_job *j) { return j->status != -1 && WIFEXITED(j->status) && WEXITSTATUS(j->status) == 0; }

/* The flags of a build: CFLAGS as given (set but empty: none, as make does), else -O3,
 * and on x86-64 with an -march -mprefer-vector-width=512: clang and gcc tune
 * -march=native for 256-bit vectors even on AVX-512 processors, and clang then splits
 * the kernels' 512-bit lane vectors in two (bench/README.md: the seed specs 10-30 % and
 * LSTM(128) 40 % slower); gcc compiles the same code either way. *march is the -march
 * to add (NULL: none), *levels 1 for every x86-64 level. */
static int build_flags(const rnnc_build_options *o, const char **flags, const char **march, int *levels, char *err,
                       size_t errlen) {
    const char *cflags = getenv("CFLAGS"), *env_march = getenv("RNNC_MARCH");
    const int x86 = target_is_x86_64(o->target);
    *march = o->march;
    if (!*march && !o->portable && !o->target && env_march && *env_march) {   /* as --march, for this machine */
        if (env_march[0] == '-' || strpbrk(env_march, " \t\n\r")) {
            set_err(err, errlen, "rnnc: invalid RNNC_MARCH '%s' (one -march value, all or native)", env_march);
            return -1;
        }
        *march = env_march;
    }
    if (!*march && !o->portable && !cflags) *march = o->target ? NULL : x86 ? RNNC_MARCH_ALL : "native";
    *levels = *march && !strcmp(*march, RNNC_MARCH_ALL);
    if (*levels && !x86) {
        set_err(err, errlen, "rnnc: --march all builds the x86-64 levels; %s is not x86-64 (give one -march value)",
                o->target ? o->target : "this machine");
        return -1;
    }
    *flags = cflags ? cflags : x86 && *march ? "-O3 -mprefer-vector-width=512" : "-O3";
    return 0;
}

/* Compile and link; the executable goes to tmp. With levels, the C file once per
 * x86-64 level (-march=LEVEL -DRNN_ISA_LEVEL=N) into objects beside the executable,
 * two or more at once on a machine with the cores, then one link. */
static int compile_and_link(const char *c_arg, const char *t_arg, const char *exe_path, const rnnc_build_options *o,
                            const runtime_paths *rt, const char *mpi_lib, char *err, size_t errlen) {
    char cc_buf[256], inc_flag[BUILD_PATH_MAX + 3];
    const char *cc = compiler_command(o->target, cc_buf, sizeof cc_buf), *flags, *march;
    int levels;
    if (build_flags(o, &flags, &march, &levels, err, errlen)) return -1;
    if (o->mpi) {   /* Open MPI's wrapper runs OMPI_CC with MPI's flags */
        setenv("OMPI_CC", cc, 0);
        cc = getenv("MPICC") && *getenv("MPICC") ? getenv("MPICC") : "mpicc";
    }
    if (join(inc_flag, sizeof inc_flag, "-I", rt->include)) {
        set_err(err, errlen, "rnnc: %s: path too long", rt->include);
        return -1;
    }
    enum { NJOBS = RNN_ISA_LEVELS + 1 };
    static arg_vector av[NJOBS];   /* ~10 KiB each; they point into rt, the callers' paths and their own words */
    static char outputs[NJOBS][OUTPUT_KEEP], objects[RNN_ISA_LEVELS][BUILD_PATH_MAX], obj_args[RNN_ISA_LEVELS][BUILD_PATH_MAX];
    static char march_flag[RNN_ISA_LEVELS][64], level_flag[RNN_ISA_LEVELS][32];
    rnnc_job jobs[NJOBS];
    const char *obj_arg[RNN_ISA_LEVELS] = {NULL};
    int n_obj = 0, rc = -1, bad_args = 0;
    for (int j = 0; j < NJOBS; j++) jobs[j] = (rnnc_job){av[j].argv, outputs[j], OUTPUT_KEEP, 0, -1};

    if (levels) {
        for (; n_obj < RNN_ISA_LEVELS; n_obj++) {
            const int level = n_obj + 1;
            if (level_object(exe_path, level, objects[n_obj], sizeof objects[n_obj], err, errlen)) goto done;
            const char *obj = obj_arg[n_obj] = not_an_option(objects[n_obj], obj_args[n_obj], sizeof obj_args[n_obj]);
            snprintf(march_flag[n_obj], sizeof march_flag[n_obj], "-march=%s", rnn_isa_name(level));
            snprintf(level_flag[n_obj], sizeof level_flag[n_obj], "-DRNN_ISA_LEVEL=%d", level);
            arg_vector *a = &av[n_obj];
            bad_args |= !obj || begin_args(a, cc, inc_flag, flags) || push(a, march_flag[n_obj]) ||
                        push(a, level_flag[n_obj]) || push(a, "-c") || push(a, (char *)c_arg) || push(a, "-o") ||
                        push(a, (char *)obj);
        }
        /* the link: the objects, then the libraries */
        arg_vector *a = &av[RNN_ISA_LEVELS];
        bad_args |= begin_args(a, cc, inc_flag, flags);
        for (int i = 0; i < n_obj; i++) bad_args |= !obj_arg[i] || push(a, (char *)obj_arg[i]);
    } else {
        static char single_march[BUILD_PATH_MAX];
        arg_vector *a = &av[RNN_ISA_LEVELS];
        bad_args |= begin_args(a, cc, inc_flag, flags);
        if (march) {
            snprintf(single_march, sizeof single_march, "-march=%s", march);
            bad_args |= push(a, single_march);
        }
        bad_args |= push(a, (char *)c_arg);
    }
    arg_vector *link = &av[RNN_ISA_LEVELS];
    /* The argument strings outlive this call's use of them; execvp takes char *. */
    bad_args |= (mpi_lib && push(link, (char *)mpi_lib)) || push(link, (char *)rt->lib) || push(link, "-lm") ||
                push(link, "-o") || push(link, (char *)t_arg);
    if (bad_args) {
        set_err(err, errlen, "rnnc: too many compiler arguments (CC and CFLAGS), or a path too long");
        goto done;
    }

    if (levels) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        if (rnnc_run_jobs(jobs, n_obj, cores > 1 ? (int)cores : 1, err, errlen)) goto done;
        for (int i = 0; i < n_obj && !rnnc_interrupted(); i++)
            if (!job_ok(&jobs[i])) {
                char what[BUILD_PATH_MAX + 64];
                snprintf(what, sizeof what, "compiling %s for %s", c_arg, rnn_isa_name(i + 1));
                job_failed(&jobs[i], what, err, errlen);
                goto done;
            }
    }
    if (rnnc_interrupted()) goto done;
    rnnc_job *lj = &jobs[RNN_ISA_LEVELS];
    if (rnnc_run_jobs(lj, 1, 1, err, errlen)) goto done;
    if (rnnc_interrupted()) goto done;
    if (!job_ok(lj)) {
        char what[BUILD_PATH_MAX + 64];
        snprintf(what, sizeof what, levels ? "linking %s" : "compiling %s", levels ? exe_path : c_arg);
        job_failed(lj, what, err, errlen);
        goto done;
    }
    /* Warnings of a successful build (e.g. from CFLAGS=-Wall) still reach the user, once
     * each: the copies of the levels mostly warn alike. */
    for (int j = 0; j < NJOBS; j++) {
        int seen = jobs[j].outlen == 0;
        for (int k = 0; k < j && !seen; k++) seen = jobs[k].outlen == jobs[j].outlen && !strcmp(outputs[k], outputs[j]);
        if (!seen) fwrite(outputs[j], 1, jobs[j].outlen, stderr);
    }
    rc = 0;
done:
    for (int i = 0; i < n_obj; i++) unlink(objects[i]);
    return rc;
}

/* mpi: build with mpicc ($MPICC) around the usual compiler (OMPI_CC, unless set), and
 * link librnnrt_mpi.a, found beside librnnrt.a. */
int rnnc_build(const char *c_path, const char *exe_path, const rnnc_build_options *o, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    runtime_paths rt;
    if (find_runtime(&rt, o->target, err, errlen)) return -1;
    char mpi_lib[BUILD_PATH_MAX];
    if (o->mpi) {
        const char *slash = strrchr(rt.lib, '/');
        int k = snprintf(mpi_lib, sizeof mpi_lib, "%.*slibrnnrt_mpi.a", slash ? (int)(slash + 1 - rt.lib) : 0, rt.lib);
        if (k < 0 || (size_t)k >= sizeof mpi_lib || !is_file(mpi_lib)) {
            set_err(err, errlen, "rnnc: --mpi: no librnnrt_mpi.a beside %s (make builds it; it needs Open MPI: make deps)", rt.lib);
            return -1;
        }
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
    if (compile_and_link(c_arg, t_arg, exe_path, o, &rt, o->mpi ? mpi_lib : NULL, err, errlen) != 0 || rnnc_interrupted()) {
        unlink(tmp);
        /* stopped: the build does not count, even a finished one */
        if (rnnc_interrupted()) set_err(err, errlen, "rnnc: interrupted while compiling %s", c_path);
        return -1;
    }
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

int rnnc_build_executable(const char *c_path, const char *exe_path, int portable, char *err, size_t errlen) {
    const rnnc_build_options o = {NULL, NULL, portable, 0};
    return rnnc_build(c_path, exe_path, &o, err, errlen);
}

int rnnc_build_mpi_executable(const char *c_path, const char *exe_path, int portable, char *err, size_t errlen) {
    const rnnc_build_options o = {NULL, NULL, portable, 1};
    return rnnc_build(c_path, exe_path, &o, err, errlen);
}
