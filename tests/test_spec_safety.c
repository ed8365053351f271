/*
 * test_spec_safety.c — what a hostile or broken spec can do to the terminal and the
 * pipeline that runs rnnc: its error text reaches stderr as one escaped line, its
 * prints are escaped and capped, a FIFO is refused instead of waited on, the child
 * that evaluates it runs under seccomp, and a full stdout is an error. Every case runs
 * build/rnnc in a fresh directory (or the repository root), with a watchdog.
 */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include "rnnc.h"
#include "run.h"

#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS 0x20   /* x86-64 and arm64; strict POSIX headers leave it out */
#endif
long syscall(long number, ...);   /* glibc's, declared only for _DEFAULT_SOURCE */

typedef struct {
    int status;       /* exit code, or 128 + signal */
    char *out, *err;  /* whole stdout (unless redirected) and stderr, NUL-terminated */
    size_t err_len;
    double seconds;
} big_result;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *slurp_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert(buf);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = 0;
    if (len) *len = got;
    return buf;
}

/* Run argv (argv[0] absolute) with cwd = dir, stdout to stdout_path (NULL: captured),
 * `env` (NAME=VALUE or NULL) added to the environment, files capped at 16 MiB (a spec
 * that floods stderr gets SIGXFSZ instead of filling /tmp), killed after timeout_s. */
static void run_big(const char *dir, char *const argv[], const char *stdout_path, const char *env, double timeout_s,
                    big_result *r) {
    char cap[] = "/tmp/rnnc-cap-XXXXXX";
    cr_assert(mkdtemp(cap));
    char outp[PATH_MAX], errp[PATH_MAX];
    snprintf(outp, sizeof outp, "%s/out", cap);
    snprintf(errp, sizeof errp, "%s/err", cap);
    fflush(NULL);
    double t0 = now_s();
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int o = open(stdout_path ? stdout_path : outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int in = open("/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || in < 0 || chdir(dir) != 0) _exit(126);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        struct rlimit fs = {(rlim_t)16 << 20, (rlim_t)16 << 20};
        setrlimit(RLIMIT_FSIZE, &fs);
        if (env) putenv((char *)env);
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) break;
        if (now_s() - t0 > timeout_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            break;
        }
        nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    r->seconds = now_s() - t0;
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r->out = stdout_path ? strdup("") : slurp_all(outp, NULL);
    r->err = slurp_all(errp, &r->err_len);
    unlink(outp);
    unlink(errp);
    rmdir(cap);
}

static void free_big(big_result *r) {
    free(r->out);
    free(r->err);
}

/* `rnnc x.lua [extra]` with src as x.lua, in a fresh directory; the directory is removed. */
static void run_spec(const char *src, const char *extra1, const char *extra2, big_result *r) {
    char *dir = make_temp_dir();
    write_file(dir, "x.lua", src, strlen(src));
    char *argv[] = {(char *)build_path("rnnc"), "x.lua", (char *)extra1, (char *)extra2, NULL};
    run_big(dir, argv, NULL, NULL, 20, r);
    rm_tree(dir);
    free(dir);
}

/* The spec fails: exit 1, nothing on stdout, exactly `expected` on stderr. */
static void expect_spec_error(const char *src, const char *expected) {
    big_result r;
    run_spec(src, NULL, NULL, &r);
    cr_expect_eq(r.status, 1, "exit status %d, stderr: %s", r.status, r.err);
    cr_expect_str_eq(r.err, expected);
    cr_expect_str_eq(r.out, "");
    free_big(&r);
}

#define MODEL "return sequential \"m\" {\n  embedding { 500, 16, input_length = 10 },\n  lstm { 8 },\n" \
              "  dense { 1, activation = \"sigmoid\" },\n}\n"
#define MODEL_OK "x.lua: ok: model \"m\", 3 layers, 8809 parameters\n"

/* ---- error(): one line "SPEC:LINE: message", control bytes escaped ------------------- */

Test(spec_error_line, control_bytes_escaped) {
    expect_spec_error("error(\"a\\nb\\27[31mred\\tx\\r\\127y\")\n", "x.lua:1: a\\nb\\x1b[31mred\\tx\\r\\x7fy\n");
}
Test(spec_error_line, utf8_kept_invalid_bytes_and_c1_controls_escaped) {
    /* é stays; a lone 0xff and U+009B (a C1 control: CSI on some terminals) do not */
    expect_spec_error("error(\"caf\\195\\169 \\255 \\194\\155\")\n", "x.lua:1: caf\xc3\xa9 \\xff \\xc2\\x9b\n");
}
Test(spec_error_line, empty_message) {
    expect_spec_error("local x = 1\nerror(\"\")\n", "x.lua:2: the spec raised an error with an empty message\n");
}
Test(spec_error_line, message_without_position) {
    /* level 0 adds no position, and neither does level 2 from the main chunk */
    expect_spec_error("local x = 1\nerror(\"bad thing\", 0)\n", "x.lua:2: bad thing\n");
    expect_spec_error("\nerror(\"bad thing\", 2)\n", "x.lua:2: bad thing\n");
}
Test(spec_error_line, non_string_values) {
    expect_spec_error("local x = 1\nerror()\n", "x.lua:2: the spec raised an error with a nil value\n");
    expect_spec_error("error({ msg = \"hi\" })\n", "x.lua:1: the spec raised an error with a table value\n");
    expect_spec_error("error(setmetatable({}, { __tostring = function() return \"x\\ny\" end }))\n",
                      "x.lua:1: the spec raised an error with a table value\n");
}
Test(spec_error_line, long_message_cut_on_an_escape_boundary) {
    big_result r;
    run_spec("error(string.rep(\"\\27\", 5000))\n", NULL, NULL, &r);
    cr_expect_eq(r.status, 1);
    const char *head = "x.lua:1: \\x1b\\x1b";
    cr_expect(strncmp(r.err, head, strlen(head)) == 0, "stderr: %.60s", r.err);
    cr_expect(r.err_len > 200 && r.err_len <= 1024, "%zu bytes", r.err_len);
    cr_expect(strchr(r.err, '\n') == r.err + r.err_len - 1, "more than one line");
    cr_expect(r.err_len >= 4 && strcmp(r.err + r.err_len - 4, "...\n") == 0, "no '...' at the end");
    size_t body = r.err_len - strlen("x.lua:1: ") - strlen("...\n");
    cr_expect_eq(body % 4, 0, "an escape cut in the middle: %s", r.err + r.err_len - 12);
    cr_expect(memchr(r.err, 0x1b, r.err_len) == NULL, "a raw ESC on stderr");
    free_big(&r);
}
Test(spec_error_line, message_quoting_a_spec_string) {
    expect_spec_error("return sequential \"m\" {\n  embedding { 500, 16, input_length = 10 },\n"
                      "  lstm { 8, name = \"my\\27[2J\" },\n  dense { 1, activation = \"sigmoid\" },\n}\n",
                      "x.lua:3: layer name 'my\\x1b[2J' is not a C identifier (letters, digits and _, not "
                      "starting with a digit)\n");
}

/* Lua shortens a chunk name longer than 59 bytes to "...TAIL"; rnnc prints the path. */
Test(spec_error_line, long_path_named_in_full) {
    char *dir = make_temp_dir();
    char sub[128];
    memset(sub, 'd', 80);
    sub[80] = 0;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, sub);
    cr_assert(mkdir(p, 0700) == 0);
    char rel[160];
    snprintf(rel, sizeof rel, "%s/x.lua", sub);
    write_file(dir, rel, "local x = nil\nx()\n", 18);
    char *argv[] = {(char *)build_path("rnnc"), rel, NULL};
    big_result r;
    run_big(dir, argv, NULL, NULL, 20, &r);
    char expected[256];
    snprintf(expected, sizeof expected, "%s:2: attempt to call a nil value (local 'x')\n", rel);
    cr_expect_eq(r.status, 1);
    cr_expect_str_eq(r.err, expected);
    free_big(&r);
    write_file(dir, rel, "\nlstm(8)\n", 9);
    run_big(dir, argv, NULL, NULL, 20, &r);
    snprintf(expected, sizeof expected, "%s:2: lstm: expected a table of arguments, as in lstm { ... } (got number)\n",
             rel);
    cr_expect_str_eq(r.err, expected);
    free_big(&r);
    rm_tree(dir);
    free(dir);
}

/* The path is the user's, but a line is a line: a newline in it is escaped too. */
Test(spec_error_line, path_with_control_bytes) {
    char *dir = make_temp_dir();
    write_file(dir, "a\nb.lua", "error(\"x\")\n", 11);
    char *argv[] = {(char *)build_path("rnnc"), "a\nb.lua", NULL};
    big_result r;
    run_big(dir, argv, NULL, NULL, 20, &r);
    cr_expect_eq(r.status, 1);
    cr_expect_str_eq(r.err, "a\\nb.lua:1: x\n");
    free_big(&r);
    char *argv2[] = {(char *)build_path("rnnc"), "no\033[2Jpe.lua", NULL};
    run_big(dir, argv2, NULL, NULL, 20, &r);
    cr_expect_eq(r.status, 1);
    cr_expect_str_eq(r.err, "no\\x1b[2Jpe.lua: cannot open the spec: No such file or directory\n");
    free_big(&r);
    rm_tree(dir);
    free(dir);
}

/* ---- print: escaped, at most 64 KiB in all ------------------------------------------- */

Test(spec_print, escaped_but_tabs_and_newlines_kept) {
    big_result r;
    run_spec("print(\"a\\27[2Jb\", \"c\\td\\ne\", \"\\255\\r\")\n" MODEL, NULL, NULL, &r);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(r.out, MODEL_OK);
    cr_expect_str_eq(r.err, "a\\x1b[2Jb\tc\td\ne\t\\xff\\r\n");
    free_big(&r);
}

/* `lines` lines of 99 x's, cut after 65536 bytes, then the notice. */
static char *expected_cut_output(const char *line, const char *after) {
    size_t cap = 65536, n = strlen(line);
    char *s = malloc(cap + 256);
    size_t k = 0;
    while (k + n <= cap) {
        memcpy(s + k, line, n);
        k += n;
    }
    memcpy(s + k, line, cap - k);
    k = cap;
    if (s[k - 1] != '\n') s[k++] = '\n';
    snprintf(s + k, 256, "x.lua: print output cut after 65536 bytes\n%s", after);
    return s;
}

Test(spec_print, capped_at_64_kib) {
    big_result r;
    run_spec("for i = 1, 200000 do print(string.rep(\"x\", 99)) end\n" MODEL, NULL, NULL, &r);
    char line[101];
    memset(line, 'x', 99);
    line[99] = '\n';
    line[100] = 0;
    char *expected = expected_cut_output(line, "");
    cr_expect_eq(r.status, 0, "exit %d", r.status);
    cr_expect_str_eq(r.out, MODEL_OK);
    cr_expect_eq(r.err_len, strlen(expected));
    cr_expect(strcmp(r.err, expected) == 0, "stderr differs (%zu bytes), ends: %s", r.err_len,
              r.err + (r.err_len > 80 ? r.err_len - 80 : 0));
    free(expected);
    free_big(&r);
}

Test(spec_print, endless_printing_ends_at_the_time_limit) {
    big_result r;
    run_spec("while true do\n  print(\"spam\")\nend\n", "--time-limit", "1", &r);
    char *expected = expected_cut_output("spam\n", "x.lua:2: the spec exceeded the time limit of 1 s (see --time-limit)\n");
    cr_expect_eq(r.status, 1, "exit %d", r.status);
    cr_expect(strcmp(r.err, expected) == 0, "stderr differs (%zu bytes), ends: %s", r.err_len,
              r.err + (r.err_len > 120 ? r.err_len - 120 : 0));
    cr_expect(r.seconds < 5, "took %.1f s", r.seconds);
    free(expected);
    free_big(&r);
}

/* ---- the spec file: only a regular file is read ------------------------------------ */

Test(spec_file, fifo_is_refused_not_waited_on) {
    char *dir = make_temp_dir();
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/x.lua", dir);
    cr_assert(mkfifo(p, 0600) == 0);
    char *argv[] = {(char *)build_path("rnnc"), "x.lua", "-o", "model.c", NULL};
    big_result r;
    run_big(dir, argv, NULL, NULL, 5, &r);
    cr_expect_eq(r.status, 1, "exit %d (137: blocked until the watchdog)", r.status);
    cr_expect_str_eq(r.err, "x.lua: cannot read the spec: not a regular file\n");
    cr_expect(r.seconds < 3, "took %.1f s", r.seconds);
    char listing[256];
    list_dir(dir, listing, sizeof listing);
    cr_expect_str_eq(listing, "x.lua");
    free_big(&r);
    rm_tree(dir);
    free(dir);
}

Test(spec_file, character_device_is_refused) {
    char *argv[] = {(char *)build_path("rnnc"), "/dev/zero", NULL};
    big_result r;
    run_big("/tmp", argv, NULL, NULL, 5, &r);
    cr_expect_eq(r.status, 1);
    cr_expect_str_eq(r.err, "/dev/zero: cannot read the spec: not a regular file\n");
    free_big(&r);
}

/* ---- confinement of the child that evaluates the spec ------------------------------ */

/* RNNC_TEST_REPORT_CONFINEMENT=1 makes rnnc print the spec child's seccomp mode and
 * no_new_privs flag from /proc after the evaluation (before reaping it). */
Test(confinement, spec_child_runs_under_seccomp) {
    char root[PATH_MAX];
    cr_assert(realpath(".", root));
    char *argv[] = {(char *)build_path("rnnc"), "specs/lstm2.lua", "--check", NULL};
    big_result r;
    run_big(root, argv, NULL, "RNNC_TEST_REPORT_CONFINEMENT=1", 20, &r);
    cr_expect_eq(r.status, 0, "%s", r.err);
    cr_expect_str_eq(r.out, "specs/lstm2.lua: ok: model \"lstm2\", 4 layers, 9353 parameters\n");
    cr_expect_str_eq(r.err, "rnnc: the spec child ran with NoNewPrivs: 1, Seccomp: 2\n");
    free_big(&r);
    /* a failing spec too, and the report comes before the error */
    char *dir = make_temp_dir();
    write_file(dir, "x.lua", "error(\"no\")\n", 12);
    char *argv2[] = {(char *)build_path("rnnc"), "x.lua", NULL};
    run_big(dir, argv2, NULL, "RNNC_TEST_REPORT_CONFINEMENT=1", 20, &r);
    cr_expect_eq(r.status, 1);
    cr_expect_str_eq(r.err, "rnnc: the spec child ran with NoNewPrivs: 1, Seccomp: 2\nx.lua:1: no\n");
    free_big(&r);
    rm_tree(dir);
    free(dir);
}

/* What the confined child still does: sort a large table (Lua's pivot uses clock()),
 * grow big strings and tables (mmap, mremap, brk), print, raise an error. */
Test(confinement, legitimate_work_still_runs) {
    big_result r;
    run_spec("local t = {}\nfor i = 1, 200000 do t[i] = (i * 7919) % 200003 end\n"
             "table.sort(t, function(a, b) return a > b end)\n"
             "local s = string.rep(\"ab\", 1 << 24)\nlocal u = s .. s\n"
             "local parts = {}\nfor i = 1, 1000 do parts[i] = tostring(i) end\n"
             "print(#u, #table.concat(parts), t[1])\n" MODEL,
             NULL, NULL, &r);
    cr_expect_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_expect_str_eq(r.err, "67108864\t2893\t200002\n");
    cr_expect_str_eq(r.out, MODEL_OK);
    free_big(&r);
}

/* The filter itself: a child of this process confines itself with rnnc_confine and
 * then attempts one thing. A forbidden call kills it with SIGSYS (fails with EPERM
 * under AddressSanitizer: exit 77 here). */
typedef long (*attempt_fn)(int result_fd);
static pid_t g_parent;

static int confined(attempt_fn attempt, char *got, size_t cap) {
    int fds[2];
    cr_assert(pipe(fds) == 0);
    g_parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        char err[256];
        if (rnnc_confine(fds[1], err, sizeof err) != 0) _exit(70);
        errno = 0;
        long r = attempt(fds[1]);
        _exit(r >= 0 ? 0 : errno == EPERM ? 77 : 78);
    }
    close(fds[1]);
    ssize_t n = read(fds[0], got, cap - 1);
    got[n > 0 ? n : 0] = 0;
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return st;
}

static long work(int fd) {
    size_t big = (size_t)64 << 20;
    char *p = malloc(big);
    if (!p) return -1;
    memset(p, 1, big);
    char *q = realloc(p, 2 * big);   /* mremap */
    if (!q) return -1;
    memset(q + big, 2, big);
    free(q);
    for (int i = 0; i < 20000; i++) free(malloc((size_t)(i % 500) * 16 + 1));
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0 || clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return -1;
    struct itimerval off;
    memset(&off, 0, sizeof off);
    if (setitimer(ITIMER_REAL, &off, NULL) != 0) return -1;
    if (write(2, "", 0) != 0) return -1;
    return write(fd, "ok", 2) == 2 ? 0 : -1;
}
static long open_file(int fd) { (void)fd; return open("/etc/hostname", O_RDONLY); }
#ifdef SYS_open
static long open_legacy(int fd) { (void)fd; return syscall(SYS_open, "/etc/hostname", O_RDONLY); }
#endif
static long read_a_pipe(int fd) { char c; return read(fd, &c, 1); }   /* EBADF if it were allowed */
static long write_stdout(int fd) { (void)fd; return write(1, "x", 1); }
static long write_stdin(int fd) { (void)fd; return write(0, "x", 1); }
static long exec_true(int fd) { (void)fd; return execl("/bin/true", "true", (char *)NULL); }
static long fork_child(int fd) {
    (void)fd;
    pid_t p = fork();
    if (p == 0) _exit(0);
    return p;
}
static long open_socket(int fd) { (void)fd; return socket(AF_INET, SOCK_STREAM, 0); }
static long signal_parent(int fd) { (void)fd; return kill(g_parent, 0); }
static long ptrace_me(int fd) { (void)fd; return syscall(SYS_ptrace, 0L, 0L, 0L, 0L); }
static long map_executable(int fd) {
    (void)fd;
    void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? -1 : 0;
}
static long map_a_file(int fd) {
    (void)fd;
    void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 0, 0);
    return p == MAP_FAILED ? -1 : 0;
}
static long make_executable(int fd) {
    (void)fd;
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 0;   /* not the call under test: read as "allowed" */
    return mprotect(p, 4096, PROT_READ | PROT_EXEC);
}
#ifdef __x86_64__
static long x32_call(int fd) { (void)fd; return syscall(SYS_getpid | 0x40000000L); }
#endif

Test(confinement, filter_allows_memory_clock_and_the_two_pipes) {
    char got[16];
    int st = confined(work, got, sizeof got);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
    cr_expect_str_eq(got, "ok");
}

Test(confinement, filter_denies_everything_else) {
    static const struct {
        const char *name;
        attempt_fn fn;
    } cases[] = {
        {"open", open_file},
#ifdef SYS_open
        {"legacy open", open_legacy},
#endif
        {"read", read_a_pipe},
        {"write stdout", write_stdout},
        {"write stdin", write_stdin},
        {"execve", exec_true},
        {"fork", fork_child},
        {"socket", open_socket},
        {"kill", signal_parent},
        {"ptrace", ptrace_me},
        {"executable mmap", map_executable},
        {"mmap of a file", map_a_file},
        {"mprotect to executable", make_executable},
#ifdef __x86_64__
        {"x32 system call", x32_call},
#endif
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char got[16];
        int st = confined(cases[i].fn, got, sizeof got);
        if (RNNC_CONFINE_FAILS_CALLS)
            cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 77, "%s: status %#x, not EPERM", cases[i].name, st);
        else
            cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "%s: status %#x, not SIGSYS", cases[i].name, st);
    }
}

/* ---- stdout that cannot be written --------------------------------------------------- */

static void expect_full_stdout(const char *a1, const char *a2) {
    char root[PATH_MAX];
    cr_assert(realpath(".", root));
    char *argv[] = {(char *)build_path("rnnc"), (char *)a1, (char *)a2, NULL};
    big_result r;
    run_big(root, argv, "/dev/full", NULL, 20, &r);
    cr_expect_eq(r.status, 1, "rnnc %s %s > /dev/full: exit %d", a1, a2 ? a2 : "", r.status);
    cr_expect_str_eq(r.err, "rnnc: cannot write to standard output: No space left on device\n");
    free_big(&r);
}
Test(stdout_errors, summary_check_help_version_to_dev_full) {
    expect_full_stdout("specs/lstm2.lua", "--summary");
    expect_full_stdout("specs/lstm2.lua", "--check");
    expect_full_stdout("specs/lstm2.lua", NULL);
    expect_full_stdout("--help", NULL);
    expect_full_stdout("--version", NULL);
}
