/*
 * main.c — the rnnc command line.
 *
 *   rnnc SPEC.lua [--check]       validate the spec (default action)
 *   rnnc SPEC.lua --summary       print the Keras-style summary table
 *   rnnc SPEC.lua -o OUT.c        generate the specialized C file
 *   rnnc SPEC.lua -o OUT          generate it and compile it into a trainer
 *   rnnc SPEC.lua --interpret COMMAND [ARGS]
 *                                 run the trainer (fit, evaluate, predict, summary) on the
 *                                 reference runtime; its exit codes are the trainer's
 *   rnnc MODEL.json ...           the same from a Keras or TF.js model config
 *   rnnc MODEL --emit-spec OUT.lua
 *                                 write the model as a Lua spec
 *   rnnc --help | --version
 *
 * Exit codes: 0 ok, 1 spec error (or stdout could not be written), 2 usage error;
 * 128 + the signal when SIGINT, SIGTERM or SIGHUP stopped it (no temporary is left).
 */
#include "emit_c.h"
#include "emit_spec.h"
#include "rnn_interop.h"
#include "rnnc.h"
#include "rnnrt.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { EXIT_OK = 0, EXIT_SPEC = 1, EXIT_USAGE = 2 };

static void usage(FILE *out) {
    fputs("usage: rnnc SPEC.lua [--check | --summary | -o OUT] [options]\n"
          "       rnnc --help | --version\n"
          "\n"
          "Compile a recurrent text classifier described in a Lua spec, or in a Keras model\n"
          "config: model.to_json() of Keras 2 or 3, or a TensorFlow.js model.json (SPEC.json).\n"
          "\n"
          "  --check             validate the spec and print a one-line description (default)\n"
          "  --summary           print the Keras-style model summary\n"
          "  --emit-spec F.lua   write the model as a Lua spec (atomically); a Keras config and\n"
          "                      the spec written from it compile to the same C\n"
          "  -o OUT.c            write the specialized C file (atomically)\n"
          "  -o OUT              also compile and link it into the trainer OUT ($CC, default\n"
          "                      clang; $CFLAGS, default -O3, on x86-64 with\n"
          "                      -mprefer-vector-width=512; -march from --march)\n"
          "  --march M           all (default on x86-64: every x86-64 level in one trainer, the\n"
          "                      best picked at start-up), native (this machine only), or any\n"
          "                      -march value (one build); $RNNC_MARCH sets the default\n"
          "  --target TRIPLE     cross-build for TRIPLE (aarch64-linux-gnu, s390x-linux-gnu:\n"
          "                      clang --target, the runtime of make cross)\n"
          "  --portable          one build with -O3 alone (no -march)\n"
          "  --keep-c            keep OUT.c beside the executable\n"
          "  --mpi               a trainer that runs data-parallel under mpirun, built with\n"
          "                      mpicc ($MPICC) around $CC (README: Many machines)\n"
          "  --unroll MODE       kernels (default), full (timesteps too) or none\n"
          "  --unroll-budget N   largest kernel unrolled, in multiply-adds (default 1024)\n"
          "  --no-fold           do not fold the embedding into the first input projection\n"
          "  --weights F         with -o P.c: an inference-only predictor with the weights of\n"
          "                      F embedded (a checkpoint, a TF.js model.json with its shards,\n"
          "                      or Keras HDF5 weights; API: int NAME_predict(const int32_t *tokens,\n"
          "                      int n, float *out); no allocation, no file I/O)\n"
          "  --freestanding      with --weights: a predictor for -ffreestanding (microcontrollers:\n"
          "                      no libc call but memcpy, float only, the caller's workspace)\n"
          "  --interpret CMD ... run the trainer on the reference runtime: fit, evaluate,\n"
          "                      predict, summary (everything after CMD goes to it; see\n"
          "                      'rnnc SPEC.lua --interpret CMD --help')\n"
          "  --time-limit S      wall-clock limit for evaluating the spec (default 10)\n"
          "  --memory-limit MIB  Lua heap limit for evaluating the spec (default 256)\n"
          "  --help, --version\n"
          "\n"
          "Exit codes: 0 ok, 1 spec error, 2 usage error, 128 + N stopped by signal N.\n",
          out);
}

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "rnnc: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'rnnc --help'.\n");
    return EXIT_USAGE;
}

/* The exit code once a caught signal has stopped the work (its temporaries removed). */
static int stopped(void) {
    int sig = rnnc_interrupted();
    fprintf(stderr, "rnnc: stopped by %s\n", sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP");
    return 128 + sig;
}

/* rc, unless what went to stdout could not all be written (a full disk, /dev/full, a
 * closed pipe): then a message and EXIT_SPEC. errno_after is errno right after the
 * output, which names a failure that made the stream drop its buffer. */
static int check_stdout(int rc, int errno_after) {
    int e = fflush(stdout) != 0 ? errno : errno_after;
    if (!ferror(stdout)) return rc;
    fprintf(stderr, "rnnc: cannot write to standard output: %s\n", strerror(e ? e : EIO));
    return EXIT_SPEC;
}

/* A positive number with nothing after it. */
static int parse_positive(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0) || v > 1e9) return -1;
    *out = v;
    return 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Write text to path atomically. */
static int write_file_atomic(const char *path, const char *text, size_t len) {
    char err[RNNC_ERR_MAX];
    if (rnn_write_file_atomic(path, text, len, err, sizeof err) == 0) return 0;
    fprintf(stderr, "rnnc: %s\n", err);
    return -1;
}

/* -o OUT.c: the C file; -o OUT: the C file compiled and linked into a trainer. After a
 * caught signal no further step starts, the temporary C file is removed, and the
 * output is whole or absent. */
static int generate(const rnn_model *m, const rnnc_emit_options *eo, const char *out, const rnnc_build_options *bo,
                    int keep_c) {
    char *text;
    size_t len;
    rnnc_emit_c(m, eo, &text, &len);
    int rc = EXIT_SPEC;
    char cpath[4200], err[4096];
    if (rnnc_interrupted()) goto done;
    if (ends_with(out, ".c")) {
        rc = write_file_atomic(out, text, len) == 0 ? EXIT_OK : EXIT_SPEC;
        goto done;
    }
    if (keep_c) {
        if (snprintf(cpath, sizeof cpath, "%s.c", out) >= (int)sizeof cpath) {
            fprintf(stderr, "rnnc: -o %s: the path is too long\n", out);
            goto done;
        }
        if (write_file_atomic(cpath, text, len) != 0) goto done;
    } else {
        if (rnnc_make_temp(out, ".c", cpath, sizeof cpath, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            goto done;
        }
        FILE *f = fopen(cpath, "wb");
        int ok = f && fwrite(text, 1, len, f) == len;
        if (f && fclose(f) != 0) ok = 0;
        if (!ok) {
            if (!rnnc_interrupted()) fprintf(stderr, "rnnc: cannot write %s\n", cpath);
            remove(cpath);
            goto done;
        }
    }
    if (!rnnc_interrupted()) {
        if (rnnc_build(cpath, out, bo, err, sizeof err) == 0)
            rc = EXIT_OK;
        else if (!rnnc_interrupted()) fprintf(stderr, "%s\n", err);
    }
    if (!keep_c) remove(cpath);
done:
    free(text);
    return rnnc_interrupted() ? stopped() : rc;
}

/* --weights F -o P.c: the weights of F (checked as the trainer checks them: written for
 * this model, every tensor's name, dtype and shape, finite values) embedded in an
 * inference-only predictor. */
static int generate_predictor(const rnn_model *m, const rnnc_emit_options *eo, const char *weights, const char *out) {
    char err[RNNC_ERR_MAX];
    rnn_real *params = calloc(m->param_buffer_len ? m->param_buffer_len : 1, sizeof *params);
    if (!params) {
        fprintf(stderr, "rnnc: out of memory\n");
        return EXIT_SPEC;
    }
    int rc = EXIT_SPEC;
    if (rnn_weights_load(m, weights, params, err, sizeof err) != 0) {
        if (!rnnc_interrupted()) fprintf(stderr, "rnnc: %s\n", err);
    } else {
        char *text;
        size_t len;
        rnnc_emit_predictor(m, params, weights, eo, &text, &len);
        if (!rnnc_interrupted()) rc = write_file_atomic(out, text, len) == 0 ? EXIT_OK : EXIT_SPEC;
        free(text);
    }
    free(params);
    return rnnc_interrupted() ? stopped() : rc;
}

int main(int argc, char **argv) {
    const char *spec = NULL, *out = NULL;
    enum { ACT_CHECK, ACT_SUMMARY } action = ACT_CHECK;
    rnnc_limits lim = {RNNC_DEFAULT_TIME_LIMIT, RNNC_DEFAULT_MEMORY_LIMIT};
    int interpret_at = 0;   /* argv index of the trainer's command */
    int keep_c = 0;
    rnnc_build_options bo = {NULL, NULL, 0, 0};
    const char *weights = NULL;   /* --weights F: an inference-only predictor */
    const char *emit_spec = NULL; /* --emit-spec F.lua */
    rnnc_emit_options eo = {RNNC_UNROLL_KERNELS, RNNC_DEFAULT_UNROLL_BUDGET, 0, 0, 0};

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return check_stdout(EXIT_OK, errno);
        } else if (strcmp(a, "--version") == 0) {
            printf("rnnc %s\n", RNN_VERSION);
            return check_stdout(EXIT_OK, errno);
        } else if (strcmp(a, "--check") == 0) {
            action = ACT_CHECK;
        } else if (strcmp(a, "--summary") == 0) {
            action = ACT_SUMMARY;
        } else if (strcmp(a, "--weights") == 0) {
            if (++i >= argc) return usage_error("%s needs a weights file", a);
            weights = argv[i];
        } else if (strcmp(a, "--emit-spec") == 0) {
            if (++i >= argc) return usage_error("%s needs an output path", a);
            emit_spec = argv[i];
        } else if (strcmp(a, "--no-fold") == 0) {
            eo.no_fold = 1;
        } else if (strcmp(a, "--portable") == 0) {
            bo.portable = 1;
        } else if (strcmp(a, "--march") == 0 || strcmp(a, "--target") == 0) {
            if (++i >= argc) return usage_error("%s needs a value", a);
            /* one word that cannot read as an option: it becomes -march=M, or a path and a compiler name */
            if (!argv[i][0] || argv[i][0] == '-' || strspn(argv[i], "abcdefghijklmnopqrstuvwxyz0123456789_.-+") != strlen(argv[i]))
                return usage_error(a[2] == 'm' ? "invalid --march '%s'" : "invalid --target '%s' (a GNU triple such as aarch64-linux-gnu)", argv[i]);
            if (a[2] == 'm') bo.march = argv[i];
            else bo.target = argv[i];
        } else if (strcmp(a, "--freestanding") == 0) {
            eo.freestanding = 1;
        } else if (strcmp(a, "--keep-c") == 0) {
            keep_c = 1;
        } else if (strcmp(a, "--mpi") == 0) {
            eo.mpi = 1;
        } else if (strcmp(a, "--unroll") == 0) {
            if (++i >= argc) return usage_error("%s needs a mode: kernels, full or none", a);
            if (!strcmp(argv[i], "kernels")) eo.unroll = RNNC_UNROLL_KERNELS;
            else if (!strcmp(argv[i], "full")) eo.unroll = RNNC_UNROLL_FULL;
            else if (!strcmp(argv[i], "none")) eo.unroll = RNNC_UNROLL_NONE;
            else return usage_error("invalid --unroll mode '%s' (kernels, full or none)", argv[i]);
        } else if (strcmp(a, "--unroll-budget") == 0) {
            double v;
            if (++i >= argc) return usage_error("%s needs a value", a);
            if (parse_positive(argv[i], &v) || v > 1e8) return usage_error("invalid --unroll-budget '%s'", argv[i]);
            eo.unroll_budget = (long)v;
        } else if (strcmp(a, "--interpret") == 0) {
            if (i + 1 >= argc) return usage_error("%s needs a command: fit, evaluate, predict or summary", a);
            interpret_at = i + 1;
            break;
        } else if (strcmp(a, "-o") == 0) {
            if (++i >= argc) return usage_error("%s needs an output path", a);
            out = argv[i];
        } else if (strcmp(a, "--time-limit") == 0 || strcmp(a, "--memory-limit") == 0) {
            double v;
            if (i + 1 >= argc) return usage_error("%s needs a value", a);
            if (parse_positive(argv[++i], &v)) return usage_error("invalid value '%s' (a positive number)", argv[i]);
            if (a[2] == 't') lim.time_limit_s = v;
            else if (v < 1 || v > 65536) return usage_error("invalid --memory-limit '%s' (1 to 65536 MiB)", argv[i]);
            else lim.memory_limit = (size_t)v << 20;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("unknown option '%s'", a);
        } else if (!spec) {
            spec = a;
        } else {
            return usage_error("more than one spec given ('%s')", a);
        }
    }
    if (!spec) return usage_error("%s", "no spec given");
    if ((bo.portable || keep_c || bo.march || bo.target) && (!out || ends_with(out, ".c") || weights))
        return usage_error("%s", "--portable, --march, --target and --keep-c go with -o OUT (an executable)");
    if (bo.portable && bo.march) return usage_error("%s", "--portable and --march exclude each other");
    if (eo.freestanding && !weights) return usage_error("%s", "--freestanding goes with --weights F -o PREDICTOR.c");
    if (eo.mpi && (!out || weights)) return usage_error("%s", "--mpi goes with -o OUT (a trainer)");
    if (eo.mpi && bo.target) return usage_error("%s", "--mpi builds for this machine: it does not go with --target");
    bo.mpi = eo.mpi;

    /* From here on a signal is recorded and acted on between steps, so that nothing is
     * left behind: no spec child, no compiler, no temporary. */
    rnnc_catch_signals();
    static rnn_model m;
    char err[RNNC_ERR_MAX];
    /* A Lua chunk never starts with '{'. Only a regular file is sniffed (opening a FIFO
     * would block); anything else goes to rnnc_load_spec, which refuses it. */
    struct stat st;
    int keras = stat(spec, &st) == 0 && S_ISREG(st.st_mode) && rnn_file_sniff(spec) == RNN_FILE_JSON;
    if ((keras ? rnnc_load_keras(spec, &m, err, sizeof err) : rnnc_load_spec(spec, &lim, &m, err, sizeof err)) != 0) {
        if (rnnc_interrupted()) return stopped();
        fprintf(stderr, "%s\n", err);
        return EXIT_SPEC;
    }
    if (rnnc_interrupted()) return stopped();
    if (emit_spec) {
        static rnn_model copy;   /* the lines of the text go to the copy (a Keras model has them already) */
        copy = m;
        textbuf text;
        tb_init(&text);
        rnnc_emit_spec(&copy, spec, &text);
        int wrc = write_file_atomic(emit_spec, text.data, text.len);
        tb_free(&text);
        if (rnnc_interrupted()) return stopped();   /* the file is whole or absent */
        if (wrc) return EXIT_SPEC;
        if (!out && !interpret_at) return EXIT_OK;
    }
    if (interpret_at) {
        if (out) return usage_error("%s", "-o and --interpret exclude each other");
        char program[RNN_PATH_MAX + 32];
        snprintf(program, sizeof program, "rnnc %s --interpret", spec);
        rnnc_release_signals();   /* the trainer handles its own */
        return rnn_trainer_main(&m, &rnn_reference_ops, program, argc - interpret_at, argv + interpret_at);
    }
    if (weights && (!out || !ends_with(out, ".c"))) return usage_error("%s", "--weights goes with -o PREDICTOR.c");
    errno = 0;
    if (out && action == ACT_SUMMARY) {   /* --summary -o OUT: the summary, then the file */
        rnn_model_summary(&m, stdout);
        const int src = check_stdout(EXIT_OK, errno);
        if (src != EXIT_OK) return src;
    }
    if (out && weights) return generate_predictor(&m, &eo, weights, out);
    if (out) return generate(&m, &eo, out, &bo, keep_c);
    if (action == ACT_SUMMARY) {
        rnn_model_summary(&m, stdout);
    } else {
        printf("%s: ok: model \"%s\", %d layers, %zu parameters\n", spec, m.name, m.n_layers, m.n_params);
    }
    return check_stdout(EXIT_OK, errno);
}
