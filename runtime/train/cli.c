/*
 * cli.c — the trainer's command line, shared by `rnnc SPEC --interpret` and every
 * generated trainer: fit, evaluate, predict, summary, selftest.
 * Exit codes: 0 ok, 1 runtime or data error (a failed write to stdout included), 2
 * usage error, 130 interrupted (SIGINT, Ctrl-C), 143 terminated (SIGTERM).
 */
#include "train/trainer.h"
#include "core/atomic_file.h"
#include "core/errors.h"
#include "train/export_cmd.h"

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
static const rnn_reducer *g_reducer;   /* one of several trainers (rnn_mpi.h), or NULL */

static int usage_error(const char *cmd, const char *fmt, const char *arg) {
    char shown[512];   /* an argument's invisible bytes (a script's \r) shown */
    fprintf(stderr, "%s %s: ", g_program, cmd);
    fprintf(stderr, fmt, rnn_escape(arg, shown, sizeof shown));
    fprintf(stderr, "\nTry '%s %s --help'.\n", g_program, cmd);
    return EXIT_USAGE;
}

/* --class-weight 0:1,1:3 (Keras's class_weight dict): every class from 0 without a gap. */
static int parse_class_weights(const char *arg, rnn_fit_options *o) {
    int seen[RNN_MAX_CLASS_WEIGHTS] = {0}, n = 0;
    for (const char *p = arg; *p;) {
        char *end;
        errno = 0;
        long k = strtol(p, &end, 10);
        if (end == p || *end != ':' || errno || k < 0 || k >= RNN_MAX_CLASS_WEIGHTS || seen[k]) return -1;
        p = end + 1;
        double w = strtod(p, &end);
        if (end == p || !(w >= 0) || !isfinite(w) || (*end != ',' && *end)) return -1;
        o->class_weight[k] = w;
        seen[k] = 1;
        n = (int)k + 1 > n ? (int)k + 1 : n;
        p = *end ? end + 1 : end;
        if (*end && !*p) return -1;   /* a trailing comma */
    }
    for (int k = 0; k < n; k++)
        if (!seen[k]) return -1;
    o->n_class_weights = n;
    return n > 0 ? 0 : -1;
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
            "  selftest   check this model's code against the reference runtime\n"
            "  export     the model with trained weights for TensorFlow.js or Keras\n\n"
            "'%s COMMAND --help' describes each command.\n"
            "Exit codes: 0 ok, 1 runtime or data error (a failed write to stdout too), 2 usage\n"
            "error, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).\n",
            g_program, g_program);
}

static void help_fit(FILE *f) {
    fprintf(f,
            "usage: %s fit [options]\n\n"
            "Data (default: the built-in synthetic IMDB-like set):\n"
            "  --train-x F.npy --train-y F.npy   token ids [N, T] and labels [N] or [N, 1]; [N, K]\n"
            "                                    for K sigmoid outputs or categorical_crossentropy\n"
            "  --val-x F.npy --val-y F.npy       validation data (else --validation-split)\n"
            "  --train-text PATH                 a TSV (label<TAB>text) or an aclImdb-like directory\n"
            "  --val-text PATH                   validation text (same vocabulary)\n"
            "  --validation-split X              fraction held out by a seeded permutation\n"
            "  --builtin-train N --builtin-val N sizes of the built-in set (20000, 5000)\n"
            "  --train-sample-weight F.npy       each training row's loss weight [N] (Keras's\n"
            "                                    sample_weight; split with the rows)\n"
            "  --class-weight 0:1,1:3            weigh the training loss by class (Keras's\n"
            "                                    class_weight; overrides the spec's)\n"
            "  --embedding-weights LAYER=F.npy   start embedding LAYER from a [input_dim, output_dim]\n"
            "                                    matrix (pretrained vectors, rows by token id);\n"
            "                                    trainable = false in the spec freezes it\n"
            "Training (defaults from the spec):\n"
            "  --epochs N  --batch-size N  --seed N  --no-shuffle\n"
            "  --learning-rate X                 a constant rate (replaces the spec's, schedule too)\n"
            "  --init-weights F.safetensors      start from these weights (and, for --train-text,\n"
            "                                    their vocabulary: weights without one are refused)\n"
            "  --resume F.safetensors            continue from a checkpoint (bit-exact)\n"
            "Output:\n"
            "  --checkpoint F     checkpoint path (overrides the spec; adds one if it has none)\n"
            "  --save-weights F   the final weights, after any early-stopping restore (default:\n"
            "                     beside the checkpoint, CKPT-final.safetensors, else\n"
            "                     MODEL-final.safetensors; every fit writes them)\n"
            "  --history F.csv    per-epoch history (Keras CSVLogger format)\n"
            "  --plot F.svg       loss and accuracy curves\n"
            "  --allow-spec-paths write the spec's model_checkpoint and csv_logger files even\n"
            "                     outside the working directory (absolute, or with '..'),\n"
            "                     which is refused otherwise\n"
            "  --threads N        threads (default 0: every core; at most 1024, and at most\n"
            "                     the machine's cores: more is lowered to them with a note,\n"
            "                     unless --threads-over-cores; the weights are the same\n"
            "                     whatever N)\n"
            "  --scatter-data     under mpirun (a trainer built with rnnc --mpi): rank 0 reads\n"
            "                     the data and sends it to every rank (default: every rank\n"
            "                     reads the same paths, on a shared file system)\n"
            "  --quiet            print nothing but errors\n"
            "  --json             one JSON object per epoch on stdout (a value that is not\n"
            "                     finite is null); messages go to stderr\n",
            g_program);
}

static void help_evaluate(FILE *f) {
    fprintf(f,
            "usage: %s evaluate --weights F.safetensors [--x F.npy --y F.npy | --text PATH] [options]\n\n"
            "Prints the loss and accuracy of the weights on the data (default: the built-in\n"
            "validation set). --text reads labelled text: a TSV (label<TAB>text; - reads it\n"
            "from stdin) or an aclImdb-like folder.\n"
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
            "Prints one line per sample: the probability of the positive class (binary) or the\n"
            "probabilities of the outputs separated by spaces. --text: a file is one sample,\n"
            "stdin (-) one sample per line, a TSV (label<TAB>text) one per row without its\n"
            "label, a folder one per *.txt file (aclImdb-like or not), each line then starting\n"
            "with the file's path and a tab. Raw text needs weights trained on text (they\n"
            "carry the vocabulary).\n"
            "  --text-unit file|line  what a sample of --text is (default: a file is one, stdin\n"
            "                  one per line)\n"
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
        if (!strcmp(a, "--scatter-data")) {
            if (!g_reducer)
                return usage_error("fit", "%s", "--scatter-data: this trainer runs alone (build it with rnnc --mpi and start it with mpirun)");
            o.scatter_data = 1;
            continue;
        }
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
        else if (!strcmp(a, "--train-sample-weight")) str = &o.train_sample_weight;
        if (i + 1 >= argc && (str || a[0] == '-')) {
            if (str || !strcmp(a, "--epochs") || !strcmp(a, "--batch-size") || !strcmp(a, "--learning-rate") ||
                !strcmp(a, "--seed") || !strcmp(a, "--validation-split") || !strcmp(a, "--builtin-train") ||
                !strcmp(a, "--threads") || !strcmp(a, "--class-weight") || !strcmp(a, "--embedding-weights") ||
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
        } else if (!strcmp(a, "--class-weight")) {
            if (parse_class_weights(argv[++i], &o))
                return usage_error("fit", "--class-weight: expected CLASS:WEIGHT,... for every class from 0 (as 0:1,1:3), got '%s'", argv[i]);
        } else if (!strcmp(a, "--embedding-weights")) {
            const char *eq = strchr(argv[++i], '=');
            if (!eq || eq == argv[i] || !eq[1] || o.n_embedding_weights == RNN_MAX_LAYERS)
                return usage_error("fit", "--embedding-weights: expected LAYER=F.npy, got '%s'", argv[i]);
            argv[i][eq - argv[i]] = 0;   /* (argv is ours to keep) */
            o.embedding_weights[o.n_embedding_weights].layer = argv[i];
            o.embedding_weights[o.n_embedding_weights++].path = eq + 1;
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
    if (o.resume && o.n_embedding_weights)
        return usage_error("fit", "%s", "--resume continues a run from its checkpoint's weights: --embedding-weights goes with a new run");
    if ((o.train_x != NULL) != (o.train_y != NULL))
        return usage_error("fit", "%s", o.train_x ? "--train-x needs --train-y (the labels)" : "--train-y needs --train-x (the token ids)");
    if ((o.val_x != NULL) != (o.val_y != NULL))
        return usage_error("fit", "%s", o.val_x ? "--val-x needs --val-y (the labels)" : "--val-y needs --val-x (the token ids)");
    if (o.train_x && o.train_text) return usage_error("fit", "%s", "give either --train-x/--train-y or --train-text, not both");
    if (o.val_x && o.val_text) return usage_error("fit", "%s", "give either --val-x/--val-y or --val-text, not both");
    if ((o.val_x || o.val_text) && !o.train_x && !o.train_text)
        return usage_error("fit", "%s", "validation data needs training data (--train-x/--train-y or --train-text)");
    if (o.quiet && o.json) return usage_error("fit", "%s", "--quiet and --json exclude each other");
    if (threads >= 0) apply_threads("fit", threads, over_cores, o.quiet);
    o.reducer = g_reducer;
    return rnn_fit(m, ops, &o);
}

/* ---- evaluate and predict --------------------------------------------------------- */

typedef struct {
    const char *weights, *x, *y, *text;
    int batch_size, json;
    uint64_t seed;
    long builtin_val;
    rnn_text_unit unit;
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
        if (!strcmp(a, "--text-unit")) {
            if (i + 1 >= argc) return usage_error(cmd, "%s needs a value: file or line", a);
            const char *u = argv[++i];
            if (!strcmp(u, "file")) o->unit = RNN_TEXT_UNIT_FILE;
            else if (!strcmp(u, "line")) o->unit = RNN_TEXT_UNIT_LINE;
            else return usage_error(cmd, "--text-unit: expected file or line, got '%s'", u);
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
    if (o->unit && !o->text) return usage_error(cmd, "%s", "--text-unit goes with --text");
    if (threads >= 0) apply_threads(cmd, threads, over_cores, 0);
    return EXIT_OK;
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

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmd_eval_predict(const char *cmd, const rnn_model *m, const rnn_model_ops *ops, int argc, char **argv) {
    eval_options o;
    int done;
    int urc = parse_eval_options(cmd, m, argc, argv, &o, &done);
    if (urc || done) return urc;
    int predict = !strcmp(cmd, "predict");
    char err[1024], shown[2048];
    rnn_trainer tr;
    rnn_data d = {0};
    char *vocab_text = NULL;
    rnn_vocab *vocab = NULL;
    rnn_real *probs = NULL;
    rnn_text_set ts = {0};
    int named = 0;   /* predict names each sample (a folder's files) */
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
        int labelled;
        if (rnn_text_read_samples(o.text, o.unit, &ts, &labelled, err, sizeof err)) goto fail;
        if (!predict && !labelled) {
            snprintf(err, sizeof err, "%s: evaluate needs labelled text: a TSV of label<TAB>text rows or an aclImdb-like "
                                      "folder (neg/, pos/)", strcmp(o.text, "-") ? o.text : "<stdin>");
            goto fail;
        }
        if (predict) {   /* no labels to check */
            for (size_t i = 0; i < ts.n; i++) ts.labels[i] = 0;
            named = o.text && strcmp(o.text, "-") && is_dir(o.text);
        }
        if (rnn_text_to_data_fit(vocab, &ts, m->timesteps, rnn_text_fit_of(m),
                                 predict ? RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY : m->loss, predict ? 1 : m->n_outputs, &d,
                                 err, sizeof err))
            goto fail;
        if (predict) {
            free(d.y);
            d.y = NULL;
        }
    } else {
        if (m->loss != RNN_LOSS_BINARY_CROSSENTROPY) {
            snprintf(err, sizeof err, "the built-in data set is binary; give --x/--y or --text");
            goto fail;
        }
        if (!g_reducer || g_reducer->rank == 0)
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
    if (!g_reducer || !g_reducer->allgather) {
        rnn_trainer_evaluate(&tr, &d, batch, &loss, &acc, probs);
    } else if (rnn_trainer_evaluate_parts(&tr, g_reducer, &d, batch, &loss, &acc, probs)) {
        snprintf(err, sizeof err, "the ranks could not share the %s", predict ? "predictions" : "evaluation");
        goto fail;
    }
    const double seconds = rnn_now() - t0, cpu_seconds = rnn_cpu_now() - c0;
    if (predict) {
        for (size_t i = 0; i < d.n; i++) {
            if (named) printf("%s\t", ts.where[i]);
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
    fprintf(stderr, "%s: %s\n", cmd, rnn_escape(err, shown, sizeof shown));
done:
    rnn_text_set_free(&ts);
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
    if (!strcmp(cmd, "export")) return rnn_export_cmd(m, g_program, argc, argv);
    fprintf(stderr, "%s: unknown command '%s'\n", g_program, cmd);
    help_main(stderr);
    return EXIT_USAGE;
}

int rnn_trainer_main(const rnn_model *m, const rnn_model_ops *ops, const char *program, int argc, char **argv) {
    return rnn_trainer_main_reduced(m, ops, program, argc, argv, NULL);
}

int rnn_trainer_main_reduced(const rnn_model *m, const rnn_model_ops *ops, const char *program, int argc,
                             char **argv, const rnn_reducer *red) {
    g_program = program;
    g_reducer = red;
    rnn_ignore_sigxfsz();   /* a full `ulimit -f` becomes a clear write error, not a kill */
    rnn_flush_subnormals(1);   /* as TensorFlow computes (core/fpenv.c) */
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
