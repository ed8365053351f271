/*
 * trainer.h — what the trainer's files (cli.c, fit.c, ckpt.c, progress.c) share.
 * Internal to librnnrt.
 */
#ifndef RNN_TRAINER_H
#define RNN_TRAINER_H

#include "data/data.h"
#include "rnnrt.h"
#include "train/history.h"

#include <stdint.h>

/* A model instance with its buffers: parameters, gradients, optimizer state, and one
 * batch's inputs. Everything is allocated once. */
typedef struct {
    const rnn_model *m;
    const rnn_model_ops *ops;
    void *impl;
    int max_batch;
    rnn_optimizer opt;     /* the spec's, with command-line overrides            */
    rnn_real *params;      /* [param_buffer_len]                                  */
    rnn_real *grads;       /* [param_buffer_len]                                  */
    rnn_real *opt_state;   /* [slots * param_buffer_len], zero at the start       */
    int opt_slots;
    int32_t *tokens;       /* [max_batch, T]                                      */
    const int32_t **samples; /* [max_batch] rows of the data, for forward_backward  */
    rnn_real *labels;      /* [max_batch, label_width]                            */
    float *weights;        /* [max_batch] the batch's sample weights (data with w) */
    uint32_t *rows;        /* [max_batch] dataset rows of the batch               */
    rnn_real *out;         /* [max_batch, n_outputs]                              */
} rnn_trainer;

int rnn_trainer_init(rnn_trainer *tr, const rnn_model *m, const rnn_model_ops *ops, int max_batch,
                     char *err, size_t errlen);
void rnn_trainer_free(rnn_trainer *tr);

/* Copy rows idx[0..n) of d into the batch buffers (idx NULL: rows start..start+n). */
void rnn_trainer_gather(rnn_trainer *tr, const rnn_data *d, const uint32_t *idx, size_t start, int n);
/* The same without copying the ids: tr->samples[b] points at row idx[start + b] of d
 * (labels and row numbers are copied). */
void rnn_trainer_select(rnn_trainer *tr, const rnn_data *d, const uint32_t *idx, size_t start, int n);
/* A cache hint: start loading the rows a later rnn_trainer_gather with these arguments reads. */
void rnn_trainer_prefetch(const rnn_data *d, const uint32_t *idx, size_t start, int n);

/* The batch's forward context: dropout, and the sample weights of d's rows (NULL
 * without) after rnn_trainer_select or _gather. */
rnn_dropout_ctx rnn_trainer_ctx(const rnn_trainer *tr, const rnn_data *d, int training, uint64_t seed, int epoch);

/* Loss and accuracy of d without dropout, in batches of bs (weighted by batch size; the
 * loss by d's sample weights too). If probs is not NULL it receives [d->n, n_outputs]
 * probabilities. */
void rnn_trainer_evaluate(rnn_trainer *tr, const rnn_data *d, int bs, double *loss, double *acc, rnn_real *probs);

/* The model's correct count over n samples is out of n * rnn_accuracy_units(m): binary
 * accuracy counts every output (Keras averages them), the others one per sample. */
static inline int rnn_accuracy_units(const rnn_model *m) {
    return m->accuracy_kind == RNN_ACCURACY_BINARY ? m->n_outputs : 1;
}

/* ---- AUC, precision, recall (metrics.c) ---------------------------------------------- */
#define RNN_AUC_THRESHOLDS 200   /* Keras's AUC default num_thresholds */

typedef struct {
    int which;                 /* RNN_METRIC_* being measured                          */
    double pos_bucket[RNN_AUC_THRESHOLDS], neg_bucket[RNN_AUC_THRESHOLDS];
    double positives, negatives;
    double tp, fp, fn;         /* at threshold 0.5                                     */
} rnn_metric_state;

void rnn_metrics_reset(rnn_metric_state *s, int which);
/* Count n predictions (probabilities) against their labels, element by element. */
void rnn_metrics_add(rnn_metric_state *s, const rnn_real *probs, const rnn_real *labels, size_t n);
/* The same for a whole data set's labels and its probabilities [d->n, label_width]. */
void rnn_metrics_add_data(rnn_metric_state *s, const rnn_real *probs, const rnn_data *d);
/* The metrics so far; NAN for one not measured. */
double rnn_metrics_auc(const rnn_metric_state *s);
double rnn_metrics_precision(const rnn_metric_state *s);
double rnn_metrics_recall(const rnn_metric_state *s);

/* ---- checkpoints (ckpt.c) ---------------------------------------------------------
 * A safetensors file: the weights under Keras names and layouts (F32); with the
 * optimizer, its slots as "optimizer/<slot>/<keras name>"; with early-stopping
 * snapshots, callback i's as "early_stopping/<i>/best/<keras name>"; and __metadata__
 * with everything a resume needs (see ckpt.c for the keys). */

/* One callback's state: rnn_ckpt_state.cb[i] belongs to the run's callback i (the
 * spec's callbacks in order, then the one --checkpoint adds). Every callback has its
 * own, as every Keras callback object has. */
typedef struct {
    int kind;                  /* rnn_callback_kind                                   */
    int monitor, mode;         /* rnn_monitor, rnn_monitor_mode (MIN or MAX)          */
    double best;               /* ModelCheckpoint(save_best_only), EarlyStopping      */
    int wait, best_epoch;      /* EarlyStopping; ReduceLROnPlateau's wait            */
    int stopped;               /* EarlyStopping: it stopped training                  */
    int snapshot;              /* EarlyStopping: its slot in es_best_weights, or -1   */
    int cooldown;              /* ReduceLROnPlateau: epochs of cooldown left         */
} rnn_cb_state;

typedef struct {
    int epochs_done;           /* completed epochs                                  */
    int64_t iterations;        /* optimizer steps taken                             */
    double learning_rate;      /* the optimizer's rate, as ReduceLROnPlateau left it */
    uint64_t seed;
    int monitor;               /* rnn_monitor of the checkpoint being saved, or -1  */
    double monitor_value;
    int n_cb;
    rnn_cb_state cb[RNN_MAX_CALLBACKS + 1];
    int n_snapshots;
    rnn_real *es_best_weights; /* [n_snapshots * param_buffer_len] or NULL: the
                                  EarlyStopping snapshots, by rnn_cb_state.snapshot   */
    /* a checkpoint of an earlier rnnc ("rnnc-checkpoint/1"): one state for every
     * ModelCheckpoint and one for every EarlyStopping (its snapshot in slot 0);
     * rnn_callbacks_resume turns them into per-callback states or refuses */
    int legacy;
    double legacy_checkpoint_best;
    rnn_cb_state legacy_es;
    int n_history;
    rnn_history_row *history;  /* [n_history]                                       */
    char *vocabulary;          /* serialized vocabulary or NULL                     */
    uint64_t data_hash;        /* fingerprint of the training data                  */
    int batch_size;
} rnn_ckpt_state;

/* Write path atomically. with_optimizer: include the optimizer slots. */
int rnn_ckpt_save(const char *path, const rnn_trainer *tr, const rnn_ckpt_state *st, int with_optimizer,
                  char *err, size_t errlen);

/* Load the weights of path into tr->params (names, dtypes and shapes must match the
 * model; a different model hash is refused). If st is not NULL, also the optimizer
 * slots (required) and the resume state; st's pointers are malloc'd, free them with
 * rnn_ckpt_state_free. vocabulary (may be NULL) receives the stored vocabulary or NULL. */
int rnn_ckpt_load(const char *path, rnn_trainer *tr, rnn_ckpt_state *st, char **vocabulary,
                  char *err, size_t errlen);
void rnn_ckpt_state_free(rnn_ckpt_state *st);

/* ---- progress (progress.c) --------------------------------------------------------- */
typedef struct {
    int quiet, json, tty;
    int epoch, epochs, steps;
    double t0, last_draw;
    double cpu0;               /* process CPU time at the epoch's start (all threads) */
    int has_accuracy;
    int has_lr;                /* the rows carry the learning rate (JSON "lr")       */
} rnn_progress;

void rnn_progress_init(rnn_progress *p, int quiet, int json, int has_accuracy);
void rnn_progress_epoch_begin(rnn_progress *p, int epoch, int epochs, int steps);
void rnn_progress_step(rnn_progress *p, int step, double loss, double acc);
void rnn_progress_epoch_end(rnn_progress *p, const rnn_history_row *row, size_t samples);
/* A message line (callbacks): on stdout normally, on stderr with --json. */
void rnn_progress_message(rnn_progress *p, const char *fmt, ...);

/* fflush(stdout), remembering the errno of the first flush that failed (glibc drops
 * the buffer of a failed write, so that a later flush succeeds and only the error flag
 * is left). rnn_stdout_check: 0 if everything written to stdout got there, else -1
 * with "cannot write to stdout: why" in err. */
void rnn_stdout_flush(void);
int rnn_stdout_check(char *err, size_t errlen);

double rnn_now(void);   /* monotonic seconds */
/* CPU time of the whole process (every thread), in seconds. */
double rnn_cpu_now(void);

/* ---- callbacks (callbacks.c) ------------------------------------------------------- */

/* What the callbacks decided at the end of an epoch, carried out by fit.c in this
 * order: the snapshots (copy the weights into callback i's early-stopping snapshot,
 * whose slot rnn_callbacks_epoch_end has assigned: st->n_snapshots may have grown),
 * the saves (write callback i's checkpoint to its path; several callbacks may save in
 * one epoch, each to its own file), the restore (copy callback `restore`'s snapshot
 * into the weights). Indexes are the callbacks'. */
typedef struct {
    unsigned char snapshot[RNN_MAX_CALLBACKS + 1], save[RNN_MAX_CALLBACKS + 1];
    int restore;               /* callback index, or -1                              */
    int stop;
} rnn_cb_actions;

/* The value a monitor reads from an epoch's row (NaN when not measured). */
double rnn_monitor_value(const rnn_history_row *r, rnn_monitor mon);

/* Reset the callbacks' state in st for a new run (st->n_cb = n_cb; bests at +-inf by
 * mode, no snapshots). */
void rnn_callbacks_begin(const rnn_callback *cb, int n_cb, rnn_ckpt_state *st);

/* After rnn_ckpt_load of a resume: match the checkpoint's callback states to this
 * run's callbacks cb[0..n_cb), by index. A callback the checkpoint has no state for
 * starts fresh (a resume without the --checkpoint of the first run drops that one's);
 * a different kind, monitor or mode at an index is refused, and so is an earlier
 * rnnc's single state when the spec has more than one save_best_only checkpoint or
 * early stopping to give it to. path names the file in err. */
int rnn_callbacks_resume(const rnn_callback *cb, int n_cb, rnn_ckpt_state *st, const char *path, char *err,
                         size_t errlen);

/* Decide the end of `epoch` (0-based) from its row; updates st (bests, wait, snapshot
 * slots, epochs_done; a ReduceLROnPlateau's reduction goes to st->learning_rate) and
 * prints Keras's messages through pg. warned[n_cb] counts one-time warnings (zero at the
 * start). */
void rnn_callbacks_epoch_end(const rnn_callback *cb, int n_cb, rnn_ckpt_state *st, int epoch,
                             const rnn_history_row *row, int *warned, rnn_progress *pg, rnn_cb_actions *act);

/* ---- the run's files (paths.c) ------------------------------------------------------ */
typedef enum { RNN_PATH_INPUT, RNN_PATH_OUTPUT, RNN_PATH_CHECKPOINT } rnn_path_role;

typedef struct {
    const char *path;          /* NULL: not used                                       */
    const char *what;          /* the option or callback that names it, for messages   */
    rnn_path_role role;        /* checkpoints may share one file                        */
    int resumable;             /* an input a checkpoint may be written over (--resume)  */
} rnn_path_use;

/* 0 when no output of u[0..n) is the same file as another output or an input (by name,
 * resolved path or inode); else -1 with "WHAT PATH would write over WHAT PATH" in err. */
int rnn_paths_distinct(const rnn_path_use *u, int n, char *err, size_t errlen);

/* ---- fit (fit.c) -------------------------------------------------------------------- */
typedef struct {
    /* data: npy files, raw text, or (none of them) the built-in set */
    const char *train_x, *train_y, *val_x, *val_y, *train_text, *val_text;
    const char *train_sample_weight;      /* [N] .npy of the training rows' loss weights */
    int n_class_weights;                  /* --class-weight: 0 = the spec's class_weight */
    double class_weight[RNN_MAX_CLASS_WEIGHTS];
    int n_embedding_weights;              /* --embedding-weights LAYER=F.npy             */
    struct {
        const char *layer, *path;
    } embedding_weights[RNN_MAX_LAYERS];
    long builtin_train, builtin_val;      /* sizes of the built-in set              */
    /* overrides of the spec: < 0 (or NAN) means "as the spec says" */
    int epochs, batch_size;
    double learning_rate, validation_split;
    int seed_set;
    uint64_t seed;
    int no_shuffle;
    const char *init_weights, *save_weights, *checkpoint, *history, *plot, *resume;
    int allow_spec_paths;   /* write the spec's callback paths even outside the working directory */
    int quiet, json;
    /* NULL, or this trainer's place among several on every batch (data-parallel
     * training): each computes its part, the gradients are summed through the reducer,
     * and only rank 0 writes files and prints the epochs. */
    const rnn_reducer *reducer;
    int scatter_data;       /* with a reducer: rank 0 reads the data and sends it to the others */
} rnn_fit_options;

/* Train as the spec and the options say. Returns the exit code (0, 1, 130 on SIGINT,
 * 143 on SIGTERM). */
int rnn_fit(const rnn_model *m, const rnn_model_ops *ops, const rnn_fit_options *o);

/* A fingerprint of a data set (n, x, y): FNV-1a in four word streams (fit.c). */
uint64_t rnn_data_hash(const rnn_data *d);

/* The SIGINT or SIGTERM that came during rnn_fit, else 0: a reducer that waits for the
 * other trainers gives up when one comes (fit.c). */
int rnn_fit_stop_signal(void);

/* ---- several trainers (reducer.c, evaluate_parts.c, share_data.c) ------------------
 * Built on the reducer's allgather (rnn_reducer), collectives: every rank calls them
 * with the same arguments but its own data. 0, or -1 when the exchange fails. */

/* The command line as one of several trainers (rnn_mpi.h): rnn_trainer_main with red
 * (NULL: one trainer). fit, evaluate and predict share their rows with the others;
 * rank 0 alone writes files. */
int rnn_trainer_main_reduced(const rnn_model *m, const rnn_model_ops *ops, const char *program, int argc,
                             char **argv, const rnn_reducer *red);

/* Units of `unit` bytes: rank k holds units [first[k], first[k] + count[k]) of buf; on
 * return every rank holds them all. */
int rnn_reducer_gather_parts(const rnn_reducer *r, void *buf, size_t unit, const size_t *first, const size_t *count);
/* Rank 0's bytes of buf to every rank. */
int rnn_reducer_broadcast(const rnn_reducer *r, void *buf, size_t bytes);
/* Compare every rank's words[0..n) with rank 0's: *rank is the first rank whose words
 * differ, *word the first such word and value[] its value there and rank 0's; or both
 * -1. */
int rnn_reducer_agree(const rnn_reducer *r, const uint64_t *words, int n, int *rank, int *word, uint64_t value[2]);
/* rnn_trainer_evaluate with the batches split over the ranks: each evaluates a run of
 * whole batches; every rank gets the loss, the accuracy and (probs not NULL) every
 * probability, bit for bit those of rnn_trainer_evaluate with the same bs. */
int rnn_trainer_evaluate_parts(rnn_trainer *tr, const rnn_reducer *r, const rnn_data *d, int bs, double *loss,
                               double *acc, rnn_real *probs);
/* fit --scatter-data: rank 0's data sets (train, val, has_val; ok: rank 0 read them) to
 * every rank, which allocates its own. -1 with err when rank 0 could not read them (rank
 * 0 keeps its own message) or they did not arrive. */
int rnn_share_data(const rnn_reducer *r, int ok, rnn_data *train, rnn_data *val, int *has_val, char *err,
                   size_t errlen);

#endif
