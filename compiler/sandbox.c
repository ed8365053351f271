/*
 * sandbox.c — evaluate a spec so that nothing it does can hurt the caller.
 *
 * The spec runs in a forked child: a Lua state with only safe libraries (dsl.c), a
 * heap capped by a counting allocator, and a wall-clock alarm. The alarm matters
 * because an instruction-count hook only fires while Lua executes instructions: a
 * spec can spend minutes inside one C call (string.rep, string.find on a
 * backtracking pattern, table.concat, table.sort) without executing any. When the
 * alarm fires the child reports the last spec line it executed and exits; if even
 * that fails, the parent kills it shortly after the deadline. The child sends back
 * either the lowered rnn_model (plain data) or one error line through a pipe; the
 * parent lays the model out and never runs Lua itself.
 */
#include "rnnc.h"

#include <errno.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

int rnnc_eval_spec_inprocess(const char *path, const char *src, size_t len, const rnnc_limits *lim,
                             long max_steps, struct lua_State **keep, rnn_model *m, char *err, size_t errlen) {
    g_heap_used = 0;
    g_heap_limit = lim->memory_limit;
    g_heap_exceeded = 0;
    g_line = 0;
    g_step_limit = max_steps > 0 ? (max_steps + 999) / 1000 : 0;
    g_steps = 0;
    g_steps_exceeded = 0;
    if (keep) *keep = NULL;

    rnn_model_init(m, "sequential", path);

    lua_State *L = lua_newstate(limited_alloc, NULL);
    if (!L) {
        snprintf(err, errlen, "%s: cannot create a Lua state (out of memory)", path);
        return -1;
    }
    if (g_step_limit)
        lua_sethook(L, line_hook, LUA_MASKLINE | LUA_MASKCOUNT, 1000);
    else
        lua_sethook(L, line_hook, LUA_MASKLINE, 0);
    dsl_push_env(L);
    int env = lua_gettop(L);

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
    int rc = 0;
    if (status != LUA_OK) {
        rc = -1;
        if (g_heap_exceeded || status == LUA_ERRMEM) {
            if (g_line > 0)
                snprintf(err, errlen, "%s:%d: the spec exceeded the memory limit of %zu MiB", path, (int)g_line,
                         lim->memory_limit >> 20);
            else
                snprintf(err, errlen, "%s: the spec exceeded the memory limit of %zu MiB", path, lim->memory_limit >> 20);
        } else if (g_steps_exceeded) {
            snprintf(err, errlen, "%s:%d: the spec exceeded the limit of %ld instructions", path, (int)g_line,
                     max_steps);
        } else if (lua_type(L, -1) == LUA_TSTRING) {
            snprintf(err, errlen, "%s", lua_tostring(L, -1));
        } else {
            snprintf(err, errlen, "%s:%d: the spec raised an error with a %s value", path, (int)g_line,
                     luaL_typename(L, -1));
        }
    }
    if (keep)
        *keep = L;
    else
        lua_close(L);
    return rc;
}

static void child_main(const char *path, const char *src, size_t len, const rnnc_limits *lim, int fd) {
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

/* Read the spec file with the checks a hostile or broken file needs. */
static char *read_spec(const char *path, size_t *len, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open the spec: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: cannot read the spec: not a regular file", path);
        fclose(f);
        return NULL;
    }
    char *buf = malloc(RNNC_MAX_SPEC_BYTES + 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        fclose(f);
        return NULL;
    }
    size_t n = fread(buf, 1, RNNC_MAX_SPEC_BYTES + 1, f);
    int rd_err = ferror(f);
    fclose(f);
    if (rd_err) {
        snprintf(err, errlen, "%s: cannot read the spec: %s", path, strerror(errno ? errno : EIO));
        free(buf);
        return NULL;
    }
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

int rnnc_load_spec(const char *path, const rnnc_limits *lim, rnn_model *m, char *err, size_t errlen) {
    if (strlen(path) >= RNN_PATH_MAX) {
        snprintf(err, errlen, "%.200s...: the spec path is too long", path);
        return -1;
    }
    size_t len;
    char *src = read_spec(path, &len, err, errlen);
    if (!src) return -1;

    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(err, errlen, "%s: cannot create a pipe: %s", path, strerror(errno));
        free(src);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "%s: cannot fork: %s", path, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        free(src);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(path, src, len, lim, fds[1]);
        _exit(5);
    }
    close(fds[1]);
    free(src);

    /* Collect the child's record; kill it if it outlives the limit by a grace period. */
    static unsigned char buf[1 + sizeof(rnn_model)];
    size_t got = 0;
    double deadline = now_s() + lim->time_limit_s + 2.0;
    int timed_out = 0;
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd p = {fds[0], POLLIN, 0};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        ssize_t k = read(fds[0], buf + got, sizeof buf - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
        if (got == sizeof buf) break;
    }
    close(fds[0]);
    if (timed_out) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}

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
        if (WIFSIGNALED(status))
            snprintf(err, errlen, "%s: evaluating the spec failed (signal %d)", path, WTERMSIG(status));
        else
            snprintf(err, errlen, "%s: evaluating the spec failed (no result)", path);
        return -1;
    }
    memcpy(m, buf + 1, sizeof *m);
    return rnn_model_layout(m, err, errlen);
}
