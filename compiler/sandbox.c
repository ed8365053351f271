/*
 * sandbox.c — evaluate a spec so that nothing it does can hurt the caller.
 *
 * The spec runs in a forked child: a Lua state with only safe libraries (dsl.c), a
 * heap capped by a counting allocator, a wall-clock alarm, and (Linux) a seccomp
 * filter that leaves it nothing but computing, allocating memory and writing to two
 * pipes. The alarm matters because an instruction-count hook only fires while Lua
 * executes instructions: a spec can spend minutes inside one C call (string.rep,
 * string.find on a backtracking pattern, table.concat, table.sort) without executing
 * any. When the alarm fires the child reports the last spec line it executed and
 * exits; if even that fails, the parent kills it shortly after the deadline. The
 * child sends back either the lowered rnn_model (plain data) or one error line
 * through a pipe, and its print output through a second one (its stderr); the parent
 * lays the model out, escapes and caps what it relays, and never runs Lua itself.
 *
 * Also here, because the fuzz harness links this file without main.c and build.c:
 * the escaping of text for a terminal, and the process-wide handling of SIGINT,
 * SIGTERM and SIGHUP (record, pass on to the child, let the caller clean up).
 */
#include "rnnc.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
#define HAVE_SECCOMP 1
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <linux/mman.h>   /* PROT_EXEC, MAP_ANONYMOUS, MREMAP_MAYMOVE */
#include <sys/syscall.h>
#else
#define HAVE_SECCOMP 0
#endif
#ifdef __linux__
#include <sys/prctl.h>
#endif
/* Valgrind runs its own code inside the child (translations into fresh executable
 * memory, signal masks around every call), which no filter written for rnnc lets
 * through: under valgrind (tests/valgrind.sh) the child runs without seccomp. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef UNDER_VALGRIND
#define UNDER_VALGRIND() 0
#endif

static void write_all(int fd, const void *data, size_t n) {
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

/* ---- escaping ------------------------------------------------------------------------ */

/* The length of the valid UTF-8 character at s (n bytes available) that may be shown
 * as it is; 0 if it must be escaped (invalid, overlong, a surrogate, a C1 control, a
 * bidirectional formatting character or a line/paragraph separator); -1 if s ends
 * inside what may still become a valid character. */
static int printable_utf8(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    int len;
    unsigned lo = 0x80, hi = 0xbf, cp;
    if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else return 0;
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n) return -1;
        if (s[i] < lo || s[i] > hi) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
        lo = 0x80, hi = 0xbf;
    }
    if (cp < 0xa0 || cp == 0x61c || cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
        (cp >= 0x2066 && cp <= 0x2069))
        return 0;
    return len;
}

size_t rnnc_escape(char *dst, size_t cap, const char *src, size_t len, int keep_lines, int more) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)src;
    size_t n = strlen(dst), i = 0;
    while (i < len) {
        unsigned c = s[i];
        char e[4];
        const char *piece = (const char *)s + i;   /* as it is, k bytes, or the escape e */
        size_t k = 1;
        if ((c >= 0x20 && c < 0x7f) || (keep_lines && (c == '\n' || c == '\t'))) {
            k = 1;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            e[0] = '\\', e[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            piece = e, k = 2;
        } else {
            int u = c >= 0x80 ? printable_utf8(s + i, len - i) : 0;
            if (u < 0 && more) break;
            if (u > 0) k = (size_t)u;
            else e[0] = '\\', e[1] = 'x', e[2] = hex[c >> 4], e[3] = hex[c & 15], piece = e, k = 4;
        }
        if (n + k >= cap) break;
        memcpy(dst + n, piece, k);
        n += k;
        i += piece == e ? 1 : k;
    }
    if (cap) dst[n] = 0;
    return i;
}

/* a then b, escaped into dst as one line; when they do not fit, as much as fits with
 * "..." after it, never cutting an escape in two. */
static void escape_line(char *dst, size_t cap, const char *a, size_t alen, const char *b, size_t blen) {
    if (cap < 4) {
        if (cap) dst[0] = 0;
        return;
    }
    for (size_t room = cap;; room = cap - 3) {
        dst[0] = 0;
        size_t ua = rnnc_escape(dst, room, a, alen, 0, 0);
        size_t ub = ua == alen ? rnnc_escape(dst, room, b, blen, 0, 0) : 0;
        if (ua == alen && ub == blen) return;
        if (room < cap) break;
    }
    strcat(dst, "...");
}

/* ---- print: escaped and capped ----------------------------------------------------- */

/* Print output on its way to a terminal: escaped (tabs and newlines kept), at most
 * RNNC_PRINT_MAX bytes of it, then one notice. A UTF-8 character split between two
 * pieces is held back until its end arrives. */
typedef struct {
    const char *path;
    size_t seen;              /* bytes of print output received */
    unsigned char carry[4];   /* the start of a character whose end has not come yet */
    size_t ncarry;
    int mid_line;             /* the last byte written was not a newline */
    int cut;
} print_relay;

static void relay_write(print_relay *r, const unsigned char *s, size_t n, int more) {
    char out[4 * (4 + 4096) + 1];
    out[0] = 0;
    size_t used = rnnc_escape(out, sizeof out, (const char *)s, n, 1, more);
    r->ncarry = n - used;
    memmove(r->carry, s + used, r->ncarry);
    size_t olen = strlen(out);
    if (olen) {
        write_all(2, out, olen);
        r->mid_line = out[olen - 1] != '\n';
    }
}

static void relay_feed(print_relay *r, const char *s, size_t n) {
    while (n > 0 && !r->cut) {
        if (r->seen >= RNNC_PRINT_MAX) {
            if (r->ncarry) relay_write(r, r->carry, r->ncarry, 0);
            char esc[2 * RNNC_ERR_MAX], note[2 * RNNC_ERR_MAX + 64];
            esc[0] = 0;
            rnnc_escape(esc, sizeof esc, r->path, strlen(r->path), 0, 0);
            int k = snprintf(note, sizeof note, "%s%s: print output cut after %d bytes\n", r->mid_line ? "\n" : "", esc,
                             RNNC_PRINT_MAX);
            write_all(2, note, k > 0 && (size_t)k < sizeof note ? (size_t)k : strlen(note));
            r->cut = 1;
            return;
        }
        size_t take = n;
        if (take > RNNC_PRINT_MAX - r->seen) take = RNNC_PRINT_MAX - r->seen;
        if (take > 4096) take = 4096;
        unsigned char work[4 + 4096];
        memcpy(work, r->carry, r->ncarry);
        memcpy(work + r->ncarry, s, take);
        relay_write(r, work, r->ncarry + take, 1);
        r->seen += take;
        s += take;
        n -= take;
    }
}

static void relay_end(print_relay *r) {
    if (!r->cut && r->ncarry) relay_write(r, r->carry, r->ncarry, 0);
}

static int g_in_child;          /* print goes raw to the pipe the parent relays */
static size_t g_printed;        /* bytes of print output written (child)          */
static print_relay g_relay;     /* in process: print output to stderr             */

void rnnc_spec_print(const char *s, size_t len) {
    if (!g_in_child) {
        relay_feed(&g_relay, s, len);
        return;
    }
    /* One byte past the cap, so that the parent sees there was more and says so. */
    if (g_printed > RNNC_PRINT_MAX) return;
    if (len > RNNC_PRINT_MAX + 1 - g_printed) len = RNNC_PRINT_MAX + 1 - g_printed;
    g_printed += len;
    write_all(2, s, len);
}

/* ---- SIGINT, SIGTERM, SIGHUP --------------------------------------------------------- */

static const int g_stop_signals[3] = {SIGINT, SIGTERM, SIGHUP};
static struct sigaction g_old_actions[3];
static int g_caught[3];
static volatile sig_atomic_t g_signal;        /* the first one caught                    */
static volatile sig_atomic_t g_signal_child;  /* who gets it passed on, 0: nobody         */
static volatile sig_atomic_t g_signal_group;  /* 1: g_signal_child's process group gets
                                                 the same signal; 0: the child, SIGKILL */

static void pass_on(int sig) {
    pid_t c = (pid_t)g_signal_child;
    if (c > 0) kill(g_signal_group ? -c : c, g_signal_group ? sig : SIGKILL);
}

static void on_stop_signal(int sig) {
    int saved = errno;
    if (!g_signal) g_signal = sig;
    pass_on(sig);
    errno = saved;
}

void rnnc_catch_signals(void) {
    for (int i = 0; i < 3; i++) {
        struct sigaction old, sa;
        /* A signal ignored when rnnc started (nohup, a background job) stays ignored. */
        if (g_caught[i] || sigaction(g_stop_signals[i], NULL, &old) != 0 || old.sa_handler == SIG_IGN) continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_stop_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(g_stop_signals[i], &sa, &g_old_actions[i]) == 0) g_caught[i] = 1;
    }
}

void rnnc_release_signals(void) {
    for (int i = 0; i < 3; i++)
        if (g_caught[i]) {
            sigaction(g_stop_signals[i], &g_old_actions[i], NULL);
            g_caught[i] = 0;
        }
}

int rnnc_interrupted(void) { return (int)g_signal; }

void rnnc_signal_child(pid_t pid, int group) {
    g_signal_child = 0;
    g_signal_group = group;
    g_signal_child = pid;
    if (pid > 0 && g_signal) pass_on((int)g_signal);   /* it came before the child did */
}

/* ---- OS-level confinement of the child --------------------------------------------- */

#if HAVE_SECCOMP
#if defined(__x86_64__)
#define CONFINE_ARCH AUDIT_ARCH_X86_64
#else
#define CONFINE_ARCH AUDIT_ARCH_AARCH64
#endif
/* Under the sanitizers a forbidden call fails (EPERM) instead of killing the child, so
 * that a sanitizer's report (which opens /proc/self/maps, may start a symbolizer)
 * still gets written, through the allowed stderr, if something goes wrong in it. */
#define CONFINE_DENY (RNNC_CONFINE_FAILS_CALLS ? SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA) : SECCOMP_RET_KILL_PROCESS)
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))   /* little-endian: the low half */
#define LOAD(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define JEQ(k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))
#define JSET(k, t, f) BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, (k), (t), (f))
#define ALLOW_NR(nr) JEQ((nr), 0, 1), RET(SECCOMP_RET_ALLOW)
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ARG_LO reads the low half of a little-endian argument");
#endif

int rnnc_confine(int result_fd, char *err, size_t errlen) {
#if HAVE_SECCOMP
    /* What the child needs once its spec is read: memory (anonymous, never executable),
     * its alarm, writing to the result pipe and to stderr (the print pipe), and exiting.
     * Everything else (open, execve, fork, socket, kill, ptrace, read, ...) is denied. */
    struct sock_filter f[] = {
        LOAD(offsetof(struct seccomp_data, arch)),
        JEQ(CONFINE_ARCH, 1, 0),
        RET(CONFINE_DENY),
        LOAD(offsetof(struct seccomp_data, nr)),
#ifdef __X32_SYSCALL_BIT
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, 0, 1),
        RET(CONFINE_DENY),
#endif
        /* write(fd, ...): only the result pipe and fd 2 */
        JEQ(__NR_write, 0, 5),
        LOAD(ARG_LO(0)),
        JEQ((unsigned)result_fd, 2, 0),
        JEQ(2, 1, 0),
        RET(CONFINE_DENY),
        RET(SECCOMP_RET_ALLOW),
        /* mmap(addr, len, prot, flags, ...): anonymous, not executable */
        JEQ(__NR_mmap, 0, 6),
        LOAD(ARG_LO(2)),
        JSET(PROT_EXEC, 2, 0),
        LOAD(ARG_LO(3)),
        JSET(MAP_ANONYMOUS, 1, 0),
        RET(CONFINE_DENY),
        RET(SECCOMP_RET_ALLOW),
        /* mprotect(addr, len, prot): not executable */
        JEQ(__NR_mprotect, 0, 4),
        LOAD(ARG_LO(2)),
        JSET(PROT_EXEC, 0, 1),
        RET(CONFINE_DENY),
        RET(SECCOMP_RET_ALLOW),
        /* mremap(old, len, new_len, flags, ...): growing or moving, not to a fixed place */
        JEQ(__NR_mremap, 0, 4),
        LOAD(ARG_LO(3)),
        JSET(~(unsigned)MREMAP_MAYMOVE, 0, 1),
        RET(CONFINE_DENY),
        RET(SECCOMP_RET_ALLOW),
        ALLOW_NR(__NR_brk),
        ALLOW_NR(__NR_munmap),
        ALLOW_NR(__NR_madvise),
        ALLOW_NR(__NR_setitimer),        /* the alarm, turned off before the result is sent */
        ALLOW_NR(__NR_rt_sigreturn),
        ALLOW_NR(__NR_sigaltstack),      /* the sanitizers' runtimes query it */
        ALLOW_NR(__NR_clock_gettime),    /* clock() in table.sort, when not in the vDSO */
        ALLOW_NR(__NR_gettimeofday),
#ifdef __NR_time
        ALLOW_NR(__NR_time),
#endif
        ALLOW_NR(__NR_getpid),
        ALLOW_NR(__NR_exit),
        ALLOW_NR(__NR_exit_group),
        RET(CONFINE_DENY),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
    if (UNDER_VALGRIND()) return 1;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0L, 0L) != 0) {
        snprintf(err, errlen, "cannot confine the evaluation of the spec (seccomp): %s", strerror(errno));
        return -1;
    }
    return 0;
#else
    (void)result_fd;
    (void)err;
    (void)errlen;
    return 1;
#endif
}

/* ---- child-side state (one evaluation per process) ------------------------------ */

static size_t g_heap_used, g_heap_limit;
static int g_heap_exceeded;
static volatile sig_atomic_t g_line;       /* last spec line executed (line hook) */
static int g_result_fd = -1;
static const char *g_path;
static double g_time_limit;
static char g_timeout_msg[128];    /* formatted before the alarm is armed */

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    if (!ptr) osize = 0;
    if (nsize == 0) {
        free(ptr);
        g_heap_used -= osize;
        return NULL;
    }
    if (nsize > osize && nsize - osize > g_heap_limit - g_heap_used) {
        g_heap_exceeded = 1;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p) g_heap_used = g_heap_used - osize + nsize;
    return p;
}

static long g_step_limit;   /* hook periods of 1000 instructions; 0: no limit */
static long g_steps;
static int g_steps_exceeded;

static void line_hook(lua_State *L, lua_Debug *ar) {
    if (ar->event == LUA_HOOKCOUNT) {
        if (++g_steps <= g_step_limit) return;
        /* From now on every instruction raises, so a spec cannot catch the error
         * with pcall and go on: each enclosing level fails in turn. */
        g_steps_exceeded = 1;
        lua_sethook(L, line_hook, LUA_MASKLINE | LUA_MASKCOUNT, 1);
        luaL_error(L, "instruction limit exceeded");
        return;
    }
    g_line = ar->currentline;
}

/* Async-signal-safe: format "PATH:LINE: message" by hand and write it. */
static void append(char *buf, size_t *n, size_t cap, const char *s) {
    while (*s && *n + 1 < cap) buf[(*n)++] = *s++;
}
static void on_alarm(int sig) {
    (void)sig;
    char buf[RNNC_ERR_MAX + 8];
    size_t n = 1;
    buf[0] = 1; /* error record */
    append(buf, &n, sizeof buf, g_path);
    char num[24];
    int k = 0;
    long v = g_line;
    if (v > 0) {
        char rev[24];
        while (v > 0 && k < 20) {
            rev[k++] = (char)('0' + v % 10);
            v /= 10;
        }
        num[0] = ':';
        for (int i = 0; i < k; i++) num[1 + i] = rev[k - 1 - i];
        num[k + 1] = 0;
        append(buf, &n, sizeof buf, num);
    }
    append(buf, &n, sizeof buf, g_timeout_msg);
    ssize_t w = write(g_result_fd, buf, n);
    (void)w;
    _exit(3);
}

static void send_result(int ok, const void *data, size_t len) {
    struct itimerval off;
    memset(&off, 0, sizeof off);
    setitimer(ITIMER_REAL, &off, NULL);   /* no alarm record in the middle of this one */
    unsigned char tag = ok ? 0 : 1;
    if (write(g_result_fd, &tag, 1) != 1) _exit(4);
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(g_result_fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) _exit(4);
        p += w;
        len -= (size_t)w;
    }
}

static int count_lines(const char *src, size_t len) {
    int n = 1;
    for (size_t i = 0; i < len; i++)
        if (src[i] == '\n' && i + 1 < len) n++;
    return n;
}

/* Runs in the protected call: evaluate the chunk, check what it returned, lower it. */
static int evaluate(lua_State *L) {
    rnn_model *m = lua_touserdata(L, 1);
    int last_line = (int)lua_tointeger(L, 2);   /* for "returned nothing" */
    lua_settop(L, 3);                            /* the compiled chunk at 3 */
    lua_call(L, 0, 1);
    lua_gc(L, LUA_GCSTOP);   /* no finalizer of the spec's runs while its model is lowered */
    if (lua_isnil(L, -1))
        return luaL_error(L, "%s:%d: the spec returned nothing; it must end with return sequential \"name\" { ... }",
                          m->source, last_line);
    dsl_object *o = dsl_to_object(L, -1);
    if (!o || o->kind != DSL_SEQUENTIAL) {
        if (o)
            return luaL_error(L, "%s:%d: the spec must return a model made with sequential \"name\" { ... }, not a %s",
                              m->source, o->line, dsl_kind_names[o->kind]);
        return luaL_error(L, "%s:%d: the spec must return a model made with sequential \"name\" { ... } (it returned a %s)",
                          m->source, last_line, luaL_typename(L, -1));
    }
    lower_model(L, m);
    return 0;
}

/* Where an error message starts with the position Lua or lower.c gave it ("PATH:LINE: ",
 * or Lua's "...TAIL:LINE: " for a path longer than its 59-byte chunk names): its line,
 * with *skip the length of that prefix; else 0. */
static long position_of(const char *msg, size_t len, const char *path, size_t *skip) {
    size_t plen = strlen(path), k = 0;
    if (len > plen && memcmp(msg, path, plen) == 0 && msg[plen] == ':') {
        k = plen;
    } else if (len > 3 && memcmp(msg, "...", 3) == 0) {
        for (size_t j = 4; j < len && j <= plen + 3 && !k; j++)
            if (msg[j] == ':' && memcmp(path + plen - (j - 3), msg + 3, j - 3) == 0 && msg[j + 1] >= '0' &&
                msg[j + 1] <= '9')
                k = j;
    }
    if (!k) return 0;
    long line = 0;
    size_t i = k + 1;
    while (i < len && msg[i] >= '0' && msg[i] <= '9' && line < 100000000) line = line * 10 + (msg[i++] - '0');
    if (i == k + 1 || i >= len || msg[i] != ':') return 0;
    i++;
    if (i < len && msg[i] == ' ') i++;
    *skip = i;
    return line;
}

/* "PATH:LINE: body" (PATH: body when line <= 0), escaped into one line of err. */
static void spec_error(char *err, size_t errlen, const char *path, long line, const char *body, size_t blen) {
    char prefix[RNN_PATH_MAX + 32];
    if (line > 0) snprintf(prefix, sizeof prefix, "%s:%ld: ", path, line);
    else snprintf(prefix, sizeof prefix, "%s: ", path);
    escape_line(err, errlen, prefix, strlen(prefix), body, blen);
}

/* The error value at the top of L as one line "PATH:LINE: message": the position Lua
 * gave it, else the last line the spec executed (error("...", 0), error(value)). */
static void lua_error_message(lua_State *L, const char *path, char *err, size_t errlen) {
    char body[128];
    long line = g_line;
    if (lua_type(L, -1) == LUA_TSTRING) {
        size_t len, skip = 0;
        const char *msg = lua_tolstring(L, -1, &len);
        long at = position_of(msg, len, path, &skip);
        if (at > 0) line = at;
        if (skip < len) {
            spec_error(err, errlen, path, line, msg + skip, len - skip);
            return;
        }
        snprintf(body, sizeof body, "the spec raised an error with an empty message");
    } else {
        snprintf(body, sizeof body, "the spec raised an error with a %s value", luaL_typename(L, -1));
    }
    spec_error(err, errlen, path, line, body, strlen(body));
}

int rnnc_eval_spec_inprocess(const char *path, const char *src, size_t len, const rnnc_limits *lim,
                             long max_steps, struct lua_State **keep, rnn_model *m, char *err, size_t errlen) {
    g_heap_used = 0;
    g_heap_limit = lim->memory_limit;
    g_heap_exceeded = 0;
    g_line = 0;
    g_step_limit = max_steps > 0 ? (max_steps + 999) / 1000 : 0;
    g_steps = 0;
    g_steps_exceeded = 0;
    g_printed = 0;
    memset(&g_relay, 0, sizeof g_relay);
    g_relay.path = path;
    if (keep) *keep = NULL;

    rnn_model_init(m, "sequential", path);

    lua_State *L = lua_newstate(limited_alloc, NULL);
    if (!L) {
        const char *msg = "cannot create a Lua state (out of memory)";
        spec_error(err, errlen, path, 0, msg, strlen(msg));
        return -1;
    }
    if (g_step_limit)
        lua_sethook(L, line_hook, LUA_MASKLINE | LUA_MASKCOUNT, 1000);
    else
        lua_sethook(L, line_hook, LUA_MASKLINE, 0);
    dsl_push_env(L);
    int env = lua_gettop(L);
    lua_gc(L, LUA_GCCOLLECT);   /* the spec starts with no garbage of the environment's to collect */

    char chunkname[RNN_PATH_MAX + 2];
    snprintf(chunkname, sizeof chunkname, "@%s", path);
    int status = luaL_loadbufferx(L, src, len, chunkname, "t");
    if (status == LUA_OK) {
        lua_pushvalue(L, env);
        lua_setupvalue(L, -2, 1);   /* _ENV of the main chunk = the sandbox */
        lua_pushcfunction(L, evaluate);
        lua_pushlightuserdata(L, m);
        lua_pushinteger(L, count_lines(src, len));
        lua_rotate(L, -4, -1);      /* evaluate, m, last_line, chunk */
        status = lua_pcall(L, 3, 0, 0);
    }
    relay_end(&g_relay);
    int rc = 0;
    if (status != LUA_OK) {
        char body[128];
        rc = -1;
        if (g_heap_exceeded || status == LUA_ERRMEM) {
            snprintf(body, sizeof body, "the spec exceeded the memory limit of %zu MiB", lim->memory_limit >> 20);
            spec_error(err, errlen, path, g_line, body, strlen(body));
        } else if (g_steps_exceeded) {
            snprintf(body, sizeof body, "the spec exceeded the limit of %ld instructions", max_steps);
            spec_error(err, errlen, path, g_line, body, strlen(body));
        } else {
            lua_error_message(L, path, err, errlen);
        }
    }
    if (keep)
        *keep = L;
    else
        lua_close(L);
    return rc;
}

static void child_main(const char *path, const char *src, size_t len, const rnnc_limits *lim, int fd) {
    g_in_child = 1;
    g_result_fd = fd;
    g_path = path;
    g_time_limit = lim->time_limit_s;

    snprintf(g_timeout_msg, sizeof g_timeout_msg, ": the spec exceeded the time limit of %g s (see --time-limit)",
             g_time_limit);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it;
    memset(&it, 0, sizeof it);
    it.it_value.tv_sec = (time_t)g_time_limit;
    it.it_value.tv_usec = (suseconds_t)((g_time_limit - (double)(time_t)g_time_limit) * 1e6);
    if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0) it.it_value.tv_usec = 1;
    setitimer(ITIMER_REAL, &it, NULL);

    static rnn_model m;
    char err[RNNC_ERR_MAX];
    char why[RNNC_ERR_MAX / 2];
    if (rnnc_confine(fd, why, sizeof why) < 0) {
        snprintf(err, sizeof err, "%.400s: %s", path, why);
        send_result(0, err, strlen(err));
        _exit(0);
    }
    /* The Lua state is not closed: __gc metamethods of the spec must not get a chance
     * to run after its evaluation. */
    lua_State *L;
    if (rnnc_eval_spec_inprocess(path, src, len, lim, 0, &L, &m, err, sizeof err) != 0) {
        send_result(0, err, strlen(err));
        _exit(0);
    }
    send_result(1, &m, sizeof m);
    _exit(0);
}

/* ---- parent side ------------------------------------------------------------------ */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Read the spec file with the checks a hostile or broken file needs. It is opened
 * non-blocking and checked before anything is read from it: a FIFO would otherwise
 * block the open until a writer came, a device could feed data forever. */
static char *read_spec(const char *path, size_t *len, char *err, size_t errlen) {
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: cannot read the spec: not a regular file", path);
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open the spec: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {   /* replaced since the stat */
        snprintf(err, errlen, "%s: cannot read the spec: not a regular file", path);
        close(fd);
        return NULL;
    }
    char *buf = malloc(RNNC_MAX_SPEC_BYTES + 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        close(fd);
        return NULL;
    }
    size_t n = 0;
    while (n < RNNC_MAX_SPEC_BYTES + 1) {
        ssize_t k = read(fd, buf + n, RNNC_MAX_SPEC_BYTES + 1 - n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            snprintf(err, errlen, "%s: cannot read the spec: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }
        if (k == 0) break;
        n += (size_t)k;
    }
    close(fd);
    if (n > RNNC_MAX_SPEC_BYTES) {
        snprintf(err, errlen, "%s: the spec is larger than %zu KiB", path, RNNC_MAX_SPEC_BYTES >> 10);
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    size_t blank = 0;
    while (blank < n && (buf[blank] == ' ' || buf[blank] == '\t' || buf[blank] == '\n' || buf[blank] == '\r')) blank++;
    if (blank == n) {
        snprintf(err, errlen, "%s:1: the spec is empty; it must return a model (return sequential \"name\" { ... })", path);
        free(buf);
        return NULL;
    }
    int line = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == 0 || c == 0x1b) {   /* NUL, or the ESC that starts a binary Lua chunk */
            snprintf(err, errlen, "%s:%d: not a text file (binary spec files are rejected)", path, line);
            free(buf);
            return NULL;
        }
        if (c == '\n') line++;
    }
    *len = n;
    return buf;
}

/* RNNC_TEST_REPORT_CONFINEMENT set: the exited (not yet reaped) child's no_new_privs
 * flag and seccomp mode, from /proc, on stderr. For the tests. */
static void report_confinement(pid_t pid) {
    siginfo_t si;
    while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) != 0 && errno == EINTR) {}
    char p[64], line[256], nnp[32] = "?", mode[32] = "?";
    snprintf(p, sizeof p, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(p, "r");
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "NoNewPrivs:", 11)) sscanf(line + 11, "%31s", nnp);
        if (!strncmp(line, "Seccomp:", 8)) sscanf(line + 8, "%31s", mode);
    }
    if (f) fclose(f);
    fprintf(stderr, "rnnc: the spec child ran with NoNewPrivs: %s, Seccomp: %s\n", nnp, mode);
}

static int load_spec(const char *path, const rnnc_limits *lim, rnn_model *m, char *err, size_t errlen) {
    if (strlen(path) >= RNN_PATH_MAX) {
        snprintf(err, errlen, "%.200s...: the spec path is too long", path);
        return -1;
    }
    size_t len;
    char *src = read_spec(path, &len, err, errlen);
    if (!src) return -1;
    if (rnnc_interrupted()) {
        free(src);
        snprintf(err, errlen, "%s: interrupted", path);
        return -1;
    }

    /* fds: the result record; pfds: the child's stderr, which carries its print output */
    int fds[2], pfds[2];
    if (pipe(fds) != 0) {
        snprintf(err, errlen, "%s: cannot create a pipe: %s", path, strerror(errno));
        free(src);
        return -1;
    }
    if (pipe(pfds) != 0) {
        snprintf(err, errlen, "%s: cannot create a pipe: %s", path, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        free(src);
        return -1;
    }
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "%s: cannot fork: %s", path, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        close(pfds[0]);
        close(pfds[1]);
        free(src);
        return -1;
    }
    if (pid == 0) {
        /* The child dies with rnnc, even a SIGKILLed one, and a Ctrl-C or SIGTERM
         * meant for it ends it at once. */
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0L, 0L, 0L);
        if (getppid() != parent) _exit(6);
#else
        (void)parent;
#endif
        for (int i = 0; i < 3; i++)
            if (g_caught[i]) signal(g_stop_signals[i], SIG_DFL);
        close(fds[0]);
        close(pfds[0]);
        if (pfds[1] != 2) {
            dup2(pfds[1], 2);
            close(pfds[1]);
        }
        child_main(path, src, len, lim, fds[1]);
        _exit(5);
    }
    rnnc_signal_child(pid, 0);
    close(fds[1]);
    close(pfds[1]);
    free(src);

    /* Collect the child's record and relay its prints until both pipes end; kill it
     * if it outlives the limit by a grace period, or when rnnc is told to stop. */
    static unsigned char buf[1 + sizeof(rnn_model)];
    size_t got = 0;
    print_relay relay;
    memset(&relay, 0, sizeof relay);
    relay.path = path;
    struct pollfd p[2] = {{fds[0], POLLIN, 0}, {pfds[0], POLLIN, 0}};
    double deadline = now_s() + lim->time_limit_s + 2.0;
    int timed_out = 0;
    while ((p[0].fd >= 0 || p[1].fd >= 0) && !rnnc_interrupted()) {
        double left = deadline - now_s();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        int r = poll(p, 2, left > 1.0 ? 1000 : (int)(left * 1000) + 1);
        if (r < 0 && errno != EINTR) break;
        if (r <= 0) continue;
        if (p[0].revents) {
            ssize_t k = read(fds[0], buf + got, sizeof buf - got);
            if (k == 0 || (k < 0 && errno != EINTR)) p[0].fd = -1;
            if (k > 0) got += (size_t)k;
            if (got == sizeof buf) p[0].fd = -1;
        }
        if (p[1].revents) {
            char chunk[4096];
            ssize_t k = read(pfds[0], chunk, sizeof chunk);
            if (k == 0 || (k < 0 && errno != EINTR)) p[1].fd = -1;
            if (k > 0) relay_feed(&relay, chunk, (size_t)k);
        }
    }
    relay_end(&relay);
    close(fds[0]);
    close(pfds[0]);
    int stopped = rnnc_interrupted();
    if (timed_out || stopped) kill(pid, SIGKILL);
    if (getenv("RNNC_TEST_REPORT_CONFINEMENT")) report_confinement(pid);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    rnnc_signal_child(0, 0);

    if (stopped) {
        snprintf(err, errlen, "%s: interrupted", path);
        return -1;
    }
    if (timed_out) {
        snprintf(err, errlen, "%s: the spec exceeded the time limit of %g s and was killed", path, lim->time_limit_s);
        return -1;
    }
    if (got >= 1 && buf[0] == 1) {
        size_t n = got - 1 < errlen - 1 ? got - 1 : errlen - 1;
        memcpy(err, buf + 1, n);
        err[n] = 0;
        return -1;
    }
    if (got != sizeof buf || buf[0] != 0) {
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
            snprintf(err, errlen, "%s: evaluating the spec failed: it made a system call the sandbox forbids (signal %d)",
                     path, SIGSYS);
        else if (WIFSIGNALED(status))
            snprintf(err, errlen, "%s: evaluating the spec failed (signal %d)", path, WTERMSIG(status));
        else
            snprintf(err, errlen, "%s: evaluating the spec failed (no result)", path);
        return -1;
    }
    memcpy(m, buf + 1, sizeof *m);
    return rnn_model_layout(m, err, errlen);
}

int rnnc_load_spec(const char *path, const rnnc_limits *lim, rnn_model *m, char *err, size_t errlen) {
    int rc = load_spec(path, lim, m, err, errlen);
    if (rc != 0 && errlen > 0) {
        /* Whatever said it (the child, which ran the spec, included), one line. */
        char *raw = malloc(errlen);
        if (raw) {
            memcpy(raw, err, errlen);
            raw[errlen - 1] = 0;
            escape_line(err, errlen, raw, strlen(raw), "", 0);
            free(raw);
        }
    }
    return rc;
}
