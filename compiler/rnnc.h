/*
 * rnnc.h — what the compiler's stages tell each other.
 *
 *   main.c     command line
 *   sandbox.c  reads the spec file, evaluates it in a forked child under limits
 *   dsl.c      the Lua side: the sandboxed environment and the constructors
 *   lower.c    the spec's returned model object → rnn_model (types and keywords)
 *   suggest.c  "did you mean" for unknown names
 */
#ifndef RNNC_H
#define RNNC_H

#include "rnn_arch.h"

#include <stddef.h>

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

/* Read, evaluate, lower and lay out the spec at `path` into *m. Returns 0, or -1 with
 * "PATH:LINE: message" in err. Never writes a file. */
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

/* ---- dsl.c ---------------------------------------------------------------------- */

/* The kinds of object a spec can construct: the layer kinds first, in rnn_layer_kind
 * order (both come from RNN_LAYER_KINDS), then the others. */
typedef enum {
#define DSL_LAYER_KIND_(id, dsl, cls) DSL_##id,
    RNN_LAYER_KINDS(DSL_LAYER_KIND_)
#undef DSL_LAYER_KIND_
    DSL_RMSPROP, DSL_ADAM, DSL_SGD,
    DSL_MODEL_CHECKPOINT, DSL_EARLY_STOPPING, DSL_CSV_LOGGER,
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
 * (split on blanks; set but empty means none), else "-O3 -march=native", or "-O3"
 * when portable; always -std=c17 -I<runtime include dir> C_PATH <lib>/librnnrt.a -lm.
 * The runtime is found through RNNC_RUNTIME_DIR, else beside the running rnnc (build
 * tree), else in ../lib and ../include from it (installed). The executable is linked
 * into a temporary beside exe_path and renamed into place: on failure neither
 * exe_path nor a temporary is left. Returns 0, or -1 with a message starting
 * "rnnc: " in err (for a compile error, the compiler's first 20 lines). Warnings of
 * a successful compile are copied to stderr. */
int rnnc_build_executable(const char *c_path, const char *exe_path, int portable, char *err, size_t errlen);

/* Create an empty, new file "BASE.rnnc-XXXXXX" + suffix (suffix may be NULL), mode
 * 0600, and put its name in out: a temporary beside BASE, on the same file system.
 * 0, or -1 with err. */
int rnnc_make_temp(const char *base, const char *suffix, char *out, size_t outlen, char *err, size_t errlen);

#endif
