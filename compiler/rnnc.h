/*
 * rnnc.h — what the compiler's stages tell each other.
 *
 *   main.c     command line
 *   sandbox.c  reads the spec file, evaluates it in a forked, confined child under
 *              limits; escaping for the terminal; SIGINT/SIGTERM/SIGHUP handling
 *   build.c    runs the C compiler
 *   dsl.c      the Lua side: the sandboxed environment and the constructors
 *   lower.c    the spec's returned model object → rnn_model (types and keywords)
 *   suggest.c  "did you mean" for unknown names
 */
#ifndef RNNC_H
#define RNNC_H

#include "rnn_arch.h"

#include <stddef.h>
#include <sys/types.h>

struct lua_State;

#define RNNC_ERR_MAX 1024

/* Limits of one spec evaluation. */
typedef struct {
    double time_limit_s;      /* wall clock, default 10                     */
    size_t memory_limit;      /* bytes of Lua heap, default 256 MiB         */
} rnnc_limits;

#define RNNC_DEFAULT_TIME_LIMIT 10.0
#define RNNC_DEFAULT_MEMORY_LIMIT ((size_t)256 << 20)
#define RNNC_MAX_SPEC_BYTES ((size_t)1 << 20)
#define RNNC_PRINT_MAX 65536      /* bytes of print output a spec may write in all */

/* Read, evaluate, lower and lay out the spec at `path` into *m. Returns 0, or -1 with
 * "PATH:LINE: message" in err: one line, escaped as rnnc_escape does. Never writes a
 * file. The spec's print output is relayed to stderr meanwhile, escaped (tabs and
 * newlines kept) and cut after RNNC_PRINT_MAX bytes with one notice
 * "PATH: print output cut after 65536 bytes". Only a regular file is read (a FIFO or
 * a device is refused before anything is read from it). The evaluating child is
 * confined with rnnc_confine; it dies with the calling process, and is killed when
 * rnnc_catch_signals has caught a signal (err then says "interrupted"). */
int rnnc_load_spec(const char *path, const rnnc_limits *lim, rnn_model *m, char *err, size_t errlen);

/* The part of rnnc_load_spec that runs in the forked child, in this process: evaluate
 * src (len bytes, the text of path) in a fresh sandboxed Lua state with a heap of
 * lim->memory_limit bytes (the time limit is not applied: the child's alarm does that)
 * and lower the result into *m (initialised here; not laid out). max_steps > 0 also
 * stops the evaluation after about that many Lua instructions (the fuzz harness uses
 * it; the child passes 0). keep NULL: the Lua state is closed (the spec's __gc
 * metamethods run); else it is left open in *keep. Uses process-wide state: one
 * evaluation at a time. Returns 0, or -1 with "PATH:LINE: message" in err. */
int rnnc_eval_spec_inprocess(const char *path, const char *src, size_t len, const rnnc_limits *lim, long max_steps,
                             struct lua_State **keep, rnn_model *m, char *err, size_t errlen);

/* Escape src[0..len) for one line of a terminal or a log, appending to the string in
 * dst (cap bytes in all, NUL-terminated): printable ASCII and valid UTF-8 characters
 * stay as they are; \n, \r and \t become the two characters "\n", "\r", "\t" (with
 * keep_lines, \n and \t stay as they are); every other byte (C0 controls, DEL, the C1
 * controls U+0080-U+009F, bidirectional formatting characters and U+2028/U+2029 in
 * UTF-8, bytes that are not valid UTF-8) becomes "\xHH". Only whole characters and
 * escapes are written. Returns the number of src bytes consumed: len, or less when
 * dst is full, or when `more` is set and src ends inside a UTF-8 character (the rest
 * of which may come with the next piece). Escaping is idempotent. */
size_t rnnc_escape(char *dst, size_t cap, const char *src, size_t len, int keep_lines, int more);

/* The spec's print (dsl.c): in the child, raw to its stderr (the pipe the parent
 * relays), at most RNNC_PRINT_MAX + 1 bytes; in process, escaped and capped to stderr. */
void rnnc_spec_print(const char *s, size_t len);

/* OS-level confinement of the calling process (Linux on x86-64 and arm64): no new
 * privileges, and a seccomp filter that allows only anonymous non-executable memory
 * (brk, mmap, mremap, mprotect, munmap, madvise), write to result_fd and to fd 2,
 * setitimer, clock reads, getpid, sigaltstack, rt_sigreturn and exit; any other system
 * call (open, read, execve, fork, socket, kill, ptrace, ...) kills the process with
 * SIGSYS (fails with EPERM when RNNC_CONFINE_FAILS_CALLS). Irreversible. Returns 0,
 * 1 where there is no such confinement (other systems, or under valgrind, whose own
 * work in the process the filter would kill), or -1 with err. */
int rnnc_confine(int result_fd, char *err, size_t errlen);

/* Under AddressSanitizer a forbidden call fails instead of killing the child, so that
 * a sanitizer's report can still be written. */
#if defined(__SANITIZE_ADDRESS__)
#define RNNC_CONFINE_FAILS_CALLS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RNNC_CONFINE_FAILS_CALLS 1
#endif
#endif
#ifndef RNNC_CONFINE_FAILS_CALLS
#define RNNC_CONFINE_FAILS_CALLS 0
#endif

/* SIGINT, SIGTERM and SIGHUP (those not ignored when called) from now on only record
 * themselves (the first one is kept) and are passed on to the registered child:
 * rnnc_signal_child(pid, 0) makes a signal SIGKILL pid (the spec's child);
 * rnnc_signal_child(pid, 1) sends the same signal to the process group pid leads (the
 * C compiler); rnnc_signal_child(0, 0) forgets it. A signal that came before the
 * child was registered is passed on at registration. The program checks
 * rnnc_interrupted() (the signal, or 0) between its steps, removes its temporaries
 * and exits with 128 + the signal. rnnc_release_signals restores the previous
 * dispositions (before the trainer installs its own). */
void rnnc_catch_signals(void);
void rnnc_release_signals(void);
int rnnc_interrupted(void);
void rnnc_signal_child(pid_t pid, int group);

/* ---- dsl.c ---------------------------------------------------------------------- */

/* The kinds of object a spec can construct: the layer kinds first, in rnn_layer_kind
 * order (both come from RNN_LAYER_KINDS), then the others. */
typedef enum {
#define DSL_LAYER_KIND_(id, dsl, cls) DSL_##id,
    RNN_LAYER_KINDS(DSL_LAYER_KIND_)
#undef DSL_LAYER_KIND_
    DSL_RMSPROP, DSL_ADAM, DSL_SGD,
    DSL_MODEL_CHECKPOINT, DSL_EARLY_STOPPING, DSL_CSV_LOGGER, DSL_REDUCE_LR_ON_PLATEAU, /* rnn_callback_kind order */
    DSL_EXPONENTIAL_DECAY, DSL_INVERSE_TIME_DECAY, DSL_PIECEWISE_CONSTANT_DECAY, DSL_COSINE_DECAY, /* rnn_schedule_kind order, from 1 */
    DSL_SEQUENTIAL,
    DSL_KIND_COUNT
} dsl_kind;
_Static_assert((int)DSL_RMSPROP == (int)RNN_LAYER_KIND_COUNT, "layer kinds come first");

/* Is an object of kind k a layer (its rnn_layer_kind is then (rnn_layer_kind)k)? */
static inline int dsl_is_layer(dsl_kind k) { return (int)k < (int)RNN_LAYER_KIND_COUNT; }

/* A constructed object: its kind, the spec line of the constructor call; the
 * argument table is the userdata's user value. */
typedef struct {
    dsl_kind kind;
    int line;
} dsl_object;

extern const char *const dsl_kind_names[DSL_KIND_COUNT];

/* Build the sandbox environment table (safe libraries + constructors) and leave it
 * on the stack. */
void dsl_push_env(struct lua_State *L);

/* The dsl_object at stack index idx, or NULL if the value is not one. */
dsl_object *dsl_to_object(struct lua_State *L, int idx);

/* ---- lower.c -------------------------------------------------------------------- */

/* Lower the model object at the top of the stack into *m (whose name/source fields
 * are set by the caller). Raises a Lua error "PATH:LINE: who: message" on failure;
 * run it under lua_pcall. */
void lower_model(struct lua_State *L, rnn_model *m);

/* ---- suggest.c ------------------------------------------------------------------ */

/* The entry of `names` (NULL-terminated) closest to `word` by edit distance, if it is
 * close enough to be a plausible typo; else NULL. */
const char *suggest_name(const char *word, const char *const *names);

/* ---- build.c -------------------------------------------------------------------- */

/* Compile the generated C file c_path and link it with librnnrt into exe_path.
 * Compiler: $CC (split on blanks, no shell), else clang, else cc. Flags: $CFLAGS
 * (split on blanks; set but empty means none), else "-O3 -march=native" (and, on
 * x86-64, -mprefer-vector-width=512), or "-O3" when portable; always -std=c17
 * -I<runtime include dir> C_PATH <lib>/librnnrt.a -lm.
 * The runtime is found through RNNC_RUNTIME_DIR, else beside the running rnnc (build
 * tree), else in ../lib and ../include from it (installed). The executable is linked
 * into a temporary beside exe_path and renamed into place: on failure neither
 * exe_path nor a temporary is left. Returns 0, or -1 with a message starting
 * "rnnc: " in err (for a compile error, the compiler's first 20 lines). Warnings of
 * a successful compile are copied to stderr. The compiler runs in a process group of
 * its own, registered with rnnc_signal_child: a signal caught by rnnc_catch_signals
 * reaches the whole group, and SIGKILL follows 2 s later if the compiler is still
 * there; rnnc_interrupted() then makes this return -1 without putting exe_path in
 * place. */
int rnnc_build_executable(const char *c_path, const char *exe_path, int portable, char *err, size_t errlen);
/* The same for `--mpi`: mpicc around $CC, and librnnrt_mpi.a linked before librnnrt.a. */
int rnnc_build_mpi_executable(const char *c_path, const char *exe_path, int portable, char *err, size_t errlen);

/* What `rnnc -o OUT` builds (README, "Shipping"). march: NULL for the default, which
 * on x86-64 is every level (RNNC_MARCH_ALL, rnn_isa.h) unless CFLAGS is set, and
 * elsewhere native (cross: the target's baseline); "native"; RNNC_MARCH_ALL; or
 * any -march value, for one build. target: NULL for this machine, else a GNU triple
 * (aarch64-linux-gnu): the runtime is TRIPLE/librnnrt.a in the build tree or
 * lib/TRIPLE/librnnrt.a installed, the compiler $CC, else clang --target=TRIPLE, else
 * TRIPLE-gcc. portable: -O3 and nothing else. */
#define RNNC_MARCH_ALL "all"
typedef struct {
    const char *march;
    const char *target;
    int portable, mpi;
} rnnc_build_options;
int rnnc_build(const char *c_path, const char *exe_path, const rnnc_build_options *o, char *err, size_t errlen);

/* ---- spawn.c -------------------------------------------------------------------- */

/* A process for rnnc_run_jobs: argv in; its wait status and the first outcap - 1 bytes
 * of its stdout and stderr (NUL-terminated) out. */
typedef struct {
    char *const *argv;
    char *out;
    size_t outcap, outlen;
    int status;   /* wait status; -1 when it did not run */
} rnnc_job;

/* Run the jobs in order, `parallel` at a time, each batch in one process group
 * registered with rnnc_signal_child (a caught signal reaches all of it; SIGKILL 2 s
 * later). Stops after the batch in which a job failed, or when rnnc_interrupted().
 * 0 when every job that ran could be started (read each status), -1 with err
 * ("rnnc: cannot run ...") when one could not be. */
int rnnc_run_jobs(rnnc_job *jobs, int n, int parallel, char *err, size_t errlen);

/* Create an empty, new file "BASE.rnnc-XXXXXX" + suffix (suffix may be NULL), mode
 * 0600, and put its name in out: a temporary beside BASE, on the same file system.
 * 0, or -1 with err. */
int rnnc_make_temp(const char *base, const char *suffix, char *out, size_t outlen, char *err, size_t errlen);

#endif
