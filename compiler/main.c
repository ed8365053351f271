/*
 * main.c — the rnnc command line.
 *
 *   rnnc SPEC.lua [--check]       validate the spec (default action)
 *   rnnc SPEC.lua --summary       print the Keras-style summary table
 *   rnnc SPEC.lua -o OUT          generate code (not built yet)
 *   rnnc SPEC.lua --interpret COMMAND [ARGS]
 *                                 run the trainer (fit, evaluate, predict, summary) on the
 *                                 reference runtime; its exit codes are the trainer's
 *   rnnc --help | --version
 *
 * Exit codes: 0 ok, 1 spec error, 2 usage error.
 */
#include "rnnc.h"
#include "rnnrt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_OK = 0, EXIT_SPEC = 1, EXIT_USAGE = 2 };

static void usage(FILE *out) {
    fputs("usage: rnnc SPEC.lua [--check | --summary | -o OUT] [options]\n"
          "       rnnc --help | --version\n"
          "\n"
          "Compile a recurrent text classifier described in a Lua spec.\n"
          "\n"
          "  --check             validate the spec and print a one-line description (default)\n"
          "  --summary           print the Keras-style model summary\n"
          "  -o OUT              write generated C to OUT (arrives with the code generator)\n"
          "  --interpret CMD ... run the trainer on the reference runtime: fit, evaluate,\n"
          "                      predict, summary (everything after CMD goes to it; see\n"
          "                      'rnnc SPEC.lua --interpret CMD --help')\n"
          "  --time-limit S      wall-clock limit for evaluating the spec (default 10)\n"
          "  --memory-limit MIB  Lua heap limit for evaluating the spec (default 256)\n"
          "  --help, --version\n"
          "\n"
          "Exit codes: 0 ok, 1 spec error, 2 usage error.\n",
          out);
}

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "rnnc: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'rnnc --help'.\n");
    return EXIT_USAGE;
}

/* A positive number with nothing after it. */
static int parse_positive(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0) || v > 1e9) return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv) {
    const char *spec = NULL, *out = NULL;
    enum { ACT_CHECK, ACT_SUMMARY } action = ACT_CHECK;
    rnnc_limits lim = {RNNC_DEFAULT_TIME_LIMIT, RNNC_DEFAULT_MEMORY_LIMIT};
    int interpret_at = 0;   /* argv index of the trainer's command */

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("rnnc %s\n", RNN_VERSION);
            return EXIT_OK;
        } else if (strcmp(a, "--check") == 0) {
            action = ACT_CHECK;
        } else if (strcmp(a, "--summary") == 0) {
            action = ACT_SUMMARY;
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

    static rnn_model m;
    char err[RNNC_ERR_MAX];
    if (rnnc_load_spec(spec, &lim, &m, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return EXIT_SPEC;
    }
    if (interpret_at) {
        if (out) return usage_error("%s", "-o and --interpret exclude each other");
        char program[RNN_PATH_MAX + 32];
        snprintf(program, sizeof program, "rnnc %s --interpret", spec);
        return rnn_trainer_main(&m, &rnn_reference_ops, program, argc - interpret_at, argv + interpret_at);
    }
    if (out) {
        fprintf(stderr, "rnnc: -o %s: the code generator is not built yet; nothing was written\n", out);
        return EXIT_SPEC;
    }
    if (action == ACT_SUMMARY) {
        rnn_model_summary(&m, stdout);
    } else {
        printf("%s: ok: model \"%s\", %d layers, %zu parameters\n", spec, m.name, m.n_layers, m.n_params);
    }
    return EXIT_OK;
}
