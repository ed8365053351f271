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
    rnn_real *labels;      /* [max_batch]                                         */
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

/* Loss and accuracy of d without dropout, in batches of bs (weighted by batch size).
 * If probs is not NULL it receives [d->n, n_outputs] probabilities. */
void rnn_trainer_evaluate(rnn_trainer *tr, const rnn_data *d, int bs, double *loss, double *acc, rnn_real *probs);

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
    int wait, best_epoch;      /* EarlyStopping                                       */
    int stopped;               /* EarlyStopping: it stopped training                  */
    int snapshot;              /* EarlyStopping: its slot in es_best_weights, or -1   */
} rnn_cb_state;

typedef struct {
    int epochs_done;           /* completed epochs                                  */
    int64_t iterations;        /* optimizer steps taken                             */
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
 * slots, epochs_done) and prints Keras's messages through pg. warned[n_cb] counts
 * one-time warnings (zero at the start). */
void rnn_callbacks_epoch_end(const rnn_callback *cb, int n_cb, rnn_ckpt_state *st, int epoch,
                             const rnn_history_row *row, int *warned, rnn_progress *pg, rnn_cb_actions *act);

/* ---- fit (fit.c) -------------------------------------------------------------------- */
typedef struct {
    /* data: npy files, raw text, or (none of them) the built-in set */
    const char *train_x, *train_y, *val_x, *val_y, *train_text, *val_text;
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
} rnn_fit_options;

/* Train as the spec and the options say. Returns the exit code (0, 1, 130 on SIGINT,
 * 143 on SIGTERM). */
int rnn_fit(const rnn_model *m, const rnn_model_ops *ops, const rnn_fit_options *o);

/* A fingerprint of a data set (n, x, y): FNV-1a in four word streams (fit.c). */
uint64_t rnn_data_hash(const rnn_data *d);

#endif
