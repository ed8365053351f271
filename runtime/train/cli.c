/*
 * cli.c — the trainer's command line, shared by `rnnc SPEC --interpret` and every
 * generated trainer: fit, evaluate, predict, summary, selftest.
 * Exit codes: 0 ok, 1 runtime or data error (a failed write to stdout included), 2
 * usage error, 130 interrupted (SIGINT, Ctrl-C), 143 terminated (SIGTERM).
 */
#include "train/trainer.h"
#include "core/atomic_file.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { EXIT_OK = 0, EXIT_RUN = 1, EXIT_USAGE = 2 };

static const char *g_program;

static int usage_error(const char *cmd, const char *fmt, const char *arg) {
    fprintf(stderr, "%s %s: ", g_program, cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '%s %s --help'.\n", g_program, cmd);
    return EXIT_USAGE;
}

static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* ---- threads -------------------------------------------------------------------------
 * --threads N, the same for fit, evaluate and predict: 0 (every core, the default) to
 * MAX_THREADS; a number above the machine's cores is lowered to them with a note on
 * stderr (threads beyond the cores only take turns, and the results are the same for
 * any number), unless --threads-over-cores says to keep it. */
#define MAX_THREADS 1024

static int parse_threads(const char *cmd, const char *arg, long *out) {
    if (parse_long(arg, 0, MAX_THREADS, out)) {
        char fmt[96];
        snprintf(fmt, sizeof fmt, "--threads: expected 0 (every core) to %d, got '%%s'", MAX_THREADS);
        return usage_error(cmd, fmt, arg);
    }
    return EXIT_OK;
}

static void apply_threads(const char *cmd, long n, int over_cores, int quiet) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    if (n > cores && !over_cores) {
        if (!quiet)
            fprintf(stderr, "%s: --threads %ld: this machine has %ld core%s; using %ld (--threads-over-cores keeps %ld)\n", cmd, n,
                    cores, cores == 1 ? "" : "s", cores, n);
        n = cores;
    }
    rnn_set_threads((int)n);
}

/* JSON has no NaN or infinity: a number that is not finite is written as null. */
static const char *json_number(char *buf, size_t cap, double v) {
    if (isfinite(v)) snprintf(buf, cap, "%.17g", v);
    else snprintf(buf, cap, "null");
    return buf;
}

/* ---- help --------------------------------------------------------------------------- */

static void help_main(FILE *f) {
    fprintf(f,
            "usage: %s COMMAND [ARGS]\n\n"
            "Commands:\n"
            "  fit        train the model (on the built-in data set when no data is given)\n"
            "  evaluate   loss and accuracy of saved weights on a data set\n"
            "  predict    probabilities for token sequences or raw text\n"
            "  summary    the Keras-style model summary\n"
            "  selftest   check this model's code against the reference runtime\n\n"
            "'%s COMMAND --help' describes each command.\n"
            "Exit codes: 0 ok, 1 runtime or data error (a failed write to stdout too), 2 usage\n"
            "error, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).\n",
            g_program, g_program);
}

static void help_fit(FILE *f) {
    fprintf(f,
            "usage: %s fit [options]\n\n"
            "Data (default: the built-in synthetic IMDB-like set):\n"
            "  --train-x F.npy --train-y F.npy   token ids [N, T] and labels [N] or [N, 1]\n"
            "  --val-x F.npy --val-y F.npy       validation data (else --validation-split)\n"
            "  --train-text PATH                 a TSV (label<TAB>text) or an aclImdb-like directory\n"
            "  --val-text PATH                   validation text (same vocabulary)\n"
            "  --validation-split X              fraction held out by a seeded permutation\n"
            "  --builtin-train N --builtin-val N sizes of the built-in set (20000, 5000)\n"
            "Training (defaults from the spec):\n"
            "  --epochs N  --batch-size N  --learning-rate X  --seed N  --no-shuffle\n"
            "  --init-weights F.safetensors      start from these weights (and, for --train-text,\n"
            "                                    their vocabulary: weights without one are refused)\n"
            "  --resume F.safetensors            continue from a checkpoint (bit-exact)\n"
            "Output:\n"
            "  --checkpoint F     checkpoint path (overrides the spec; adds one if it has none)\n"
            "  --save-weights F   the final weights, after any early-stopping restore\n"
            "  --history F.csv    per-epoch history (Keras CSVLogger format)\n"
            "  --plot F.svg       loss and accuracy curves\n"
            "  --allow-spec-paths write the spec's model_checkpoint and csv_logger files even\n"
            "                     outside the working directory (absolute, or with '..'),\n"
            "                     which is refused otherwise\n"
            "  --threads N        threads (default 0: every core; at most 1024, and at most\n"
            "                     the machine's cores: more is lowered to them with a note,\n"
            "                     unless --threads-over-cores; the weights are the same\n"
            "                     whatever N)\n"
            "  --quiet            print nothing but errors\n"
            "  --json             one JSON object per epoch on stdout (a value that is not\n"
            "                     finite is null); messages go to stderr\n",
            g_program);
}

static void help_evaluate(FILE *f) {
    fprintf(f,
            "usage: %s evaluate --weights F.safetensors [--x F.npy --y F.npy | --text PATH] [options]\n\n"
            "Prints the loss and accuracy of the weights on the data (default: the built-in\n"
            "validation set).\n"
            "  --batch-size N  --seed N (of the built-in set)  --builtin-val N\n"
            "  --threads N     as fit's (0 to 1024, at most the cores unless --threads-over-cores)\n"
            "  --json          print {\"loss\": ..., \"accuracy\": ..., \"samples\": N, \"seconds\": ..., \"cpu_seconds\": ...}\n"
            "                  (seconds: the evaluation pass, without start-up and loading;\n"
            "                  a value that is not finite, such as the loss of overflowing\n"
            "                  weights, is null)\n",
            g_program);
}

static void help_predict(FILE *f) {
    fprintf(f,
            "usage: %s predict --weights F.safetensors (--x F.npy | --text PATH | --text -)\n\n"
            "Prints one line per input: the probability of the positive class (binary) or the\n"
            "class probabilities separated by spaces. --text reads one text per line (a\n"
            "directory: aclImdb layout); raw text needs weights trained on text (they carry\n"
            "the vocabulary).\n"
            "  --batch-size N\n"
            "  --threads N     as fit's (0 to 1024, at most the cores unless --threads-over-cores)\n",
            g_program);
}

/* ---- fit ------------------------------------------------------------------------------ */

static int cmd_fit(const rnn_model *m, const rnn_model_ops *ops, int argc, char **argv) {
    rnn_fit_options o;
    memset(&o, 0, sizeof o);
    o.epochs = o.batch_size = -1;
    o.learning_rate = -1;
    o.validation_split = NAN;
    o.builtin_train = 20000;
    o.builtin_val = 5000;
    long threads = -1;
    int over_cores = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **str = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help_fit(stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "--quiet")) { o.quiet = 1; continue; }
        if (!strcmp(a, "--json")) { o.json = 1; continue; }
        if (!strcmp(a, "--no-shuffle")) { o.no_shuffle = 1; continue; }
        if (!strcmp(a, "--allow-spec-paths")) { o.allow_spec_paths = 1; continue; }
        if (!strcmp(a, "--threads-over-cores")) { over_cores = 1; continue; }
        if (!strcmp(a, "--train-x")) str = &o.train_x;
        else if (!strcmp(a, "--train-y")) str = &o.train_y;
        else if (!strcmp(a, "--val-x")) str = &o.val_x;
        else if (!strcmp(a, "--val-y")) str = &o.val_y;
        else if (!strcmp(a, "--train-text")) str = &o.train_text;
        else if (!strcmp(a, "--val-text")) str = &o.val_text;
        else if (!strcmp(a, "--init-weights")) str = &o.init_weights;
        else if (!strcmp(a, "--save-weights")) str = &o.save_weights;
        else if (!strcmp(a, "--checkpoint")) str = &o.checkpoint;
        else if (!strcmp(a, "--history")) str = &o.history;
        else if (!strcmp(a, "--plot")) str = &o.plot;
        else if (!strcmp(a, "--resume")) str = &o.resume;
        if (i + 1 >= argc && (str || a[0] == '-')) {
            if (str || !strcmp(a, "--epochs") || !strcmp(a, "--batch-size") || !strcmp(a, "--learning-rate") ||
                !strcmp(a, "--seed") || !strcmp(a, "--validation-split") || !strcmp(a, "--builtin-train") ||
                !strcmp(a, "--threads") ||
                !strcmp(a, "--builtin-val"))
                return usage_error("fit", "%s needs a value", a);
        }
        if (str) {
            *str = argv[++i];
            continue;
        }
        long v;
        double d;
        if (!strcmp(a, "--threads")) {
            int urc = parse_threads("fit", argv[++i], &threads);
            if (urc) return urc;
        } else if (!strcmp(a, "--epochs")) {
            if (parse_long(argv[++i], 1, 100000000, &v)) return usage_error("fit", "--epochs: expected a positive integer, got '%s'", argv[i]);
            o.epochs = (int)v;
        } else if (!strcmp(a, "--batch-size")) {
            if (parse_long(argv[++i], 1, RNN_MAX_BATCH, &v)) return usage_error("fit", "--batch-size: expected an integer in [1, 65536], got '%s'", argv[i]);
            o.batch_size = (int)v;
        } else if (!strcmp(a, "--builtin-train") || !strcmp(a, "--builtin-val")) {
            if (parse_long(argv[++i], a[10] == 't' ? 1 : 0, 10000000, &v)) return usage_error("fit", "expected a sample count, got '%s'", argv[i]);
            if (a[10] == 't') o.builtin_train = v;
            else o.builtin_val = v;
        } else if (!strcmp(a, "--learning-rate")) {
            if (parse_double(argv[++i], &d) || !(d > 0)) return usage_error("fit", "--learning-rate: expected a positive number, got '%s'", argv[i]);
            o.learning_rate = d;
        } else if (!strcmp(a, "--validation-split")) {
            if (parse_double(argv[++i], &d) || !(d >= 0 && d < 1)) return usage_error("fit", "--validation-split: expected a number in [0, 1), got '%s'", argv[i]);
            o.validation_split = d;
        } else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(argv[++i], &end, 10);
            if (end == argv[i] || *end || errno || argv[i][0] == '-') return usage_error("fit", "--seed: expected a non-negative integer, got '%s'", argv[i]);
            o.seed = s;
            o.seed_set = 1;
        } else {
            return usage_error("fit", "unknown option '%s'", a);
        }
    }
    if (o.resume && o.init_weights) return usage_error("fit", "%s", "--resume and --init-weights exclude each other");
    if (o.quiet && o.json) return usage_error("fit", "%s", "--quiet and --json exclude each other");
    if (threads >= 0) apply_threads("fit", threads, over_cores, o.quiet);
    return rnn_fit(m, ops, &o);
}

/* ---- evaluate and predict --------------------------------------------------------- */

typedef struct {
    const char *weights, *x, *y, *text;
    int batch_size, json;
    uint64_t seed;
    long builtin_val;
} eval_options;

static int parse_eval_options(const char *cmd, const rnn_model *m, int argc, char **argv, eval_options *o, int *done) {
    memset(o, 0, sizeof *o);
    o->batch_size = m->fit.batch_size;
    o->seed = m->fit.seed;
    o->builtin_val = 5000;
    *done = 0;
    long threads = -1;
    int over_cores = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            if (!strcmp(cmd, "evaluate")) help_evaluate(stdout);
            else help_predict(stdout);
            *done = 1;
            return EXIT_OK;
        }
        if (!strcmp(a, "--json") && !strcmp(cmd, "evaluate")) {
            o->json = 1;
            continue;
        }
        if (!strcmp(a, "--threads-over-cores")) {
            over_cores = 1;
            continue;
        }
        const char **str = !strcmp(a, "--weights") ? &o->weights : !strcmp(a, "--x") ? &o->x
                         : !strcmp(a, "--y") && !strcmp(cmd, "evaluate") ? &o->y : !strcmp(a, "--text") ? &o->text : NULL;
        int numeric = !strcmp(a, "--batch-size") || !strcmp(a, "--threads") ||
                      (!strcmp(cmd, "evaluate") && (!strcmp(a, "--seed") || !strcmp(a, "--builtin-val")));
        if (!str && !numeric) return usage_error(cmd, "unknown option '%s'", a);
        if (i + 1 >= argc) return usage_error(cmd, "%s needs a value", a);
        if (str) {
            *str = argv[++i];
            continue;
        }
        long v;
        if (!strcmp(a, "--threads")) {
            int urc = parse_threads(cmd, argv[++i], &threads);
            if (urc) return urc;
            continue;
        }
        if (parse_long(argv[++i], !strcmp(a, "--builtin-val") ? 1 : 0, !strcmp(a, "--batch-size") ? RNN_MAX_BATCH : 2147483647L, &v) ||
            (!strcmp(a, "--batch-size") && v < 1))
            return usage_error(cmd, "expected a non-negative integer, got '%s'", argv[i]);
        if (!strcmp(a, "--batch-size")) o->batch_size = (int)v;
        else if (!strcmp(a, "--seed")) o->seed = (uint64_t)v;
        else o->builtin_val = v;
    }
    if (!o->weights) return usage_error(cmd, "%s", "--weights F.safetensors is required");
    if (o->x && o->text) return usage_error(cmd, "%s", "give either --x or --text, not both");
    if (!strcmp(cmd, "evaluate") && (o->x != NULL) != (o->y != NULL)) return usage_error(cmd, "%s", "--x and --y go together");
    if (!strcmp(cmd, "predict") && !o->x && !o->text) return usage_error(cmd, "%s", "give --x F.npy or --text PATH (or --text - for stdin)");
    if (threads >= 0) apply_threads(cmd, threads, over_cores, 0);
    return EXIT_OK;
}

/* One text per line of a file or of stdin ("-"), or an aclImdb-like directory. */
static int read_predict_texts(const char *path, rnn_text_set *ts, char *err, size_t errlen) {
    struct stat st;
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return rnn_text_read(path, ts, err, errlen);
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    memset(ts, 0, sizeof *ts);
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (ts->n == cap) {
            cap = cap ? 2 * cap : 256;
            char **t = realloc(ts->texts, cap * sizeof *t);
            float *l = realloc(ts->labels, cap * sizeof *l);
            if (t) ts->texts = t;
            if (l) ts->labels = l;
            if (!t || !l) {
                rc = -1;
                break;
            }
        }
        ts->texts[ts->n] = strdup(line);
        if (!ts->texts[ts->n]) {
            rc = -1;
            break;
        }
        ts->labels[ts->n++] = 0;
    }
    if (ferror(f)) rc = -1;
    free(line);
    if (f != stdin) fclose(f);
    if (rc) {
        snprintf(err, errlen, "%s: cannot read the texts", path);
        rnn_text_set_free(ts);
    }
    return rc;
}

/* The samples of one model call in evaluate and predict: --batch-size, but at most
 * INFERENCE_CHUNK per thread. An inference gives each sample the same probabilities in
 * any batch, but one call of a large batch gives each lane block buffers of its own,
 * which do not stay in cache from one block to the next. The loss is then summed over
 * the calls (the same up to double rounding). */
#define INFERENCE_CHUNK 64
static int inference_batch(int batch_size) {
    const long cap = (long)INFERENCE_CHUNK * rnn_get_threads();
    return batch_size < cap ? batch_size : (int)cap;
}

static int cmd_eval_predict(const char *cmd, const rnn_model *m, const rnn_model_ops *ops, int argc, char **argv) {
    eval_options o;
    int done;
    int urc = parse_eval_options(cmd, m, argc, argv, &o, &done);
    if (urc || done) return urc;
    int predict = !strcmp(cmd, "predict");
    char err[1024];
    rnn_trainer tr;
    rnn_data d = {0};
    char *vocab_text = NULL;
    rnn_vocab *vocab = NULL;
    rnn_real *probs = NULL;
    int rc = EXIT_RUN;
    const int batch = inference_batch(o.batch_size);
    if (rnn_trainer_init(&tr, m, ops, batch, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return EXIT_RUN;
    }
    if (rnn_ckpt_load(o.weights, &tr, NULL, &vocab_text, err, sizeof err)) goto fail;
    if (ops->params_in) ops->params_in(tr.impl, tr.params);   /* a model that keeps its own weights */
    if (o.x) {
        if (rnn_npy_read_x(o.x, m->timesteps, m->vocab, &d, err, sizeof err)) goto fail;
        if (o.y && rnn_npy_read_y(o.y, m->loss, m->n_outputs, &d, err, sizeof err)) goto fail;
    } else if (o.text) {
        if (!vocab_text) {
            snprintf(err, sizeof err, "%s has no vocabulary (the model was trained on token ids); give --x F.npy", o.weights);
            goto fail;
        }
        vocab = rnn_vocab_parse(vocab_text, m->vocab, err, sizeof err);
        if (!vocab) goto fail;
        rnn_text_set ts;
        if (predict ? read_predict_texts(o.text, &ts, err, sizeof err) : rnn_text_read(o.text, &ts, err, sizeof err)) goto fail;
        int trc = rnn_text_to_data(vocab, &ts, m->timesteps, m->loss, m->n_outputs, &d, err, sizeof err);
        rnn_text_set_free(&ts);
        if (trc) goto fail;
        if (predict) {
            free(d.y);
            d.y = NULL;
        }
    } else {
        if (m->loss != RNN_LOSS_BINARY_CROSSENTROPY) {
            snprintf(err, sizeof err, "the built-in data set is binary; give --x/--y or --text");
            goto fail;
        }
        fprintf(stderr, "No data given: evaluating on the built-in validation set (%ld sequences, seed %" PRIu64 ").\n",
                o.builtin_val, o.seed);
        if (rnn_builtin_data(o.seed, 1, (size_t)o.builtin_val, m->vocab, m->timesteps, &d, err, sizeof err)) goto fail;
    }
    size_t K = (size_t)m->n_outputs;
    probs = malloc((d.n ? d.n : 1) * K * sizeof *probs);
    if (!probs) {
        snprintf(err, sizeof err, "out of memory");
        goto fail;
    }
    double loss, acc;
    const double t0 = rnn_now(), c0 = rnn_cpu_now();
    rnn_trainer_evaluate(&tr, &d, batch, &loss, &acc, probs);
    const double seconds = rnn_now() - t0, cpu_seconds = rnn_cpu_now() - c0;
    if (predict) {
        for (size_t i = 0; i < d.n; i++) {
            for (size_t k = 0; k < K; k++) printf("%s%.6f", k ? " " : "", (double)probs[i * K + k]);
            putchar('\n');
        }
    } else if (o.json) {
        char b[4][32];
        printf("{\"loss\": %s, \"accuracy\": %s, \"samples\": %zu, \"seconds\": %s, \"cpu_seconds\": %s}\n",
               json_number(b[0], sizeof b[0], loss), json_number(b[1], sizeof b[1], acc), d.n,
               json_number(b[2], sizeof b[2], seconds), json_number(b[3], sizeof b[3], cpu_seconds));
    } else {
        printf("%zu samples - loss: %.4f - accuracy: %.4f\n", d.n, loss, acc);
    }
    rc = EXIT_OK;   /* (rnn_trainer_main checks that stdout got everything) */
    goto done;
fail:
    fprintf(stderr, "%s: %s\n", cmd, err);
done:
    free(probs);
    free(vocab_text);
    rnn_vocab_free(vocab);
    rnn_data_free(&d);
    rnn_trainer_free(&tr);
    return rc;
}

static int summary_cmd(const rnn_model *m, int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--help") != 0) return usage_error("summary", "unknown option '%s'", argv[1]);
    if (argc > 1) {
        printf("usage: %s summary\n\nPrints the Keras-style model summary.\n", g_program);
        return EXIT_OK;
    }
    rnn_model_summary(m, stdout);
    return EXIT_OK;
}

static int selftest_cmd(const rnn_model *m, const rnn_model_ops *ops, int argc, char **argv) {
    uint64_t seed = m->fit.seed;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s selftest [--seed N]\n\n"
                   "Checks the model's implementation against the reference runtime on random\n"
                   "weights and a random partial batch with dropout on: probabilities, loss, every\n"
                   "gradient, the correct count, inference, and 3 optimizer steps. Prints the worst\n"
                   "relative error of each and PASS (exit 0) or FAIL (exit 1).\n"
                   "  --seed N   weights, data and dropout seed (default: the spec's)\n",
                   g_program);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "--seed") != 0) return usage_error("selftest", "unknown option '%s'", argv[i]);
        if (i + 1 >= argc) return usage_error("selftest", "%s needs a value", argv[i]);
        char *end;
        errno = 0;
        unsigned long long s = strtoull(argv[++i], &end, 10);
        if (end == argv[i] || *end || errno || argv[i][0] == '-')
            return usage_error("selftest", "--seed: expected a non-negative integer, got '%s'", argv[i]);
        seed = s;
    }
    return rnn_selftest(m, ops, seed, stdout) ? EXIT_RUN : EXIT_OK;
}

static int dispatch(const rnn_model *m, const rnn_model_ops *ops, const char *cmd, int argc, char **argv) {
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        help_main(stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "fit")) return cmd_fit(m, ops, argc - 1, argv + 1);
    if (!strcmp(cmd, "evaluate") || !strcmp(cmd, "predict")) return cmd_eval_predict(cmd, m, ops, argc - 1, argv + 1);
    if (!strcmp(cmd, "summary")) return summary_cmd(m, argc, argv);
    if (!strcmp(cmd, "selftest")) return selftest_cmd(m, ops, argc, argv);
    fprintf(stderr, "%s: unknown command '%s'\n", g_program, cmd);
    help_main(stderr);
    return EXIT_USAGE;
}

int rnn_trainer_main(const rnn_model *m, const rnn_model_ops *ops, const char *program, int argc, char **argv) {
    g_program = program;
    rnn_ignore_sigxfsz();   /* a full `ulimit -f` becomes a clear write error, not a kill */
    if (argc < 1) {
        help_main(stderr);
        return EXIT_USAGE;
    }
    int rc = dispatch(m, ops, argv[0], argc, argv);
    /* Everything a command printed on stdout (epochs, JSON, probabilities, a summary,
     * help) is its output: one that did not get there (a full disk, > /dev/full) is
     * an error, whatever else happened. */
    char err[256];
    if (rnn_stdout_check(err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", argv[0], err);
        if (rc == EXIT_OK) rc = EXIT_RUN;
    }
    return rc;
}
