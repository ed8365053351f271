/*
 * fit.c — the training loop, to the letter of docs/keras-semantics.md, The fit loop.
 *
 * Per epoch: a fresh permutation (RNN_RNG_SHUFFLE, epoch) unless shuffling is off;
 * consecutive batches of that permutation, the last partial one kept; each step a
 * forward pass with dropout, the backward pass, one optimizer step; the epoch's loss
 * and accuracy are the running, batch-size-weighted means of those pre-update forward
 * passes (accumulated in double, where Keras uses float32). Then validation without
 * dropout, then the callbacks in the spec's order: ModelCheckpoint (strict
 * improvement), EarlyStopping (Keras 2.11+ logic; restores only when it stops unless
 * restore_at_end), CSVLogger; plus --history and --plot.
 *
 * A checkpoint holds the state after all callbacks of its epoch (but the weights
 * before an EarlyStopping restore), so --resume replays exactly the epochs that
 * followed: every random draw is a pure function of (seed, epoch, row), so the
 * resumed run ends with the same weights, bit for bit.
 */
#include "train/trainer.h"
#include "core/atomic_file.h"
#include "core/errors.h"
#include "core/safetensors.h"

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SIGINT (Ctrl-C) and SIGTERM (kill, timeout, a pipeline or container stopping the
 * job) stop training at the end of the current batch, so that nothing is left half
 * written: the signal's number, 0 while none came. */
static volatile sig_atomic_t g_interrupted;
static void on_stop_signal(int sig) { g_interrupted = sig; }
int rnn_fit_stop_signal(void) { return g_interrupted; }

/* What stopped the run, for its messages, and its exit code: 130 or 143, as the shell
 * reports a death by SIGINT or SIGTERM. */
static const char *signal_name(void) { return g_interrupted == SIGTERM ? "terminated (SIGTERM)" : "interrupted"; }
static int signal_exit(void) { return 128 + (g_interrupted == SIGTERM ? SIGTERM : SIGINT); }

/* FNV-1a over the data in four interleaved streams of little-endian 64-bit words (word
 * i goes to stream i mod 4), the streams then combined by FNV-1a: four independent
 * multiply chains instead of one over single bytes, since every run hashes its data
 * at start-up. */
static uint64_t fnv_step(uint64_t h, uint64_t v) { return (h ^ v) * 1099511628211ull; }
static int host_is_le(void) {
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

uint64_t rnn_data_hash(const rnn_data *d) {
    uint64_t lane[4] = {14695981039346656037ull, 14695981039346656037ull ^ 1u, 14695981039346656037ull ^ 2u,
                        14695981039346656037ull ^ 3u};
    const size_t L = d->label_width > 0 ? (size_t)d->label_width : 1;
    /* x, y, and the sample weights when there are any (so that data without them keeps its
     * fingerprint) */
    const unsigned char *parts[3] = {(const unsigned char *)d->x, (const unsigned char *)d->y, (const unsigned char *)d->w};
    size_t lens[3] = {d->n * (size_t)d->T * sizeof *d->x, d->y ? d->n * L * sizeof *d->y : 0, d->w ? d->n * sizeof *d->w : 0};
    /* the elements' bytes as a little-endian host has them, so that a checkpoint made on
     * one host resumes on a host of the other byte order */
    const size_t flip[3] = {host_is_le() ? 0 : sizeof *d->x - 1, host_is_le() ? 0 : sizeof *d->y - 1,
                            host_is_le() ? 0 : sizeof *d->w - 1};
    lane[0] = fnv_step(lane[0], (uint64_t)d->n);
    for (int p = 0; p < (d->w ? 3 : 2); p++) {
        const unsigned char *b = parts[p];
        size_t i = 0, words = lens[p] / 8;
        for (size_t k = 0; k < words; k++, i += 8) {
            uint64_t w = 0;
            for (int j = 7; j >= 0; j--) w = w << 8 | b[(i + (size_t)j) ^ flip[p]];
            lane[k % 4] = fnv_step(lane[k % 4], w);
        }
        for (; i < lens[p]; i++) lane[0] = fnv_step(lane[0], b[i ^ flip[p]]);
        lane[1] = fnv_step(lane[1], (uint64_t)lens[p]);   /* where one part ends */
    }
    uint64_t h = 14695981039346656037ull;
    for (int k = 0; k < 4; k++) h = fnv_step(h, lane[k]);
    return h;
}

/* ---- the run's resolved configuration -------------------------------------------- */

typedef struct {
    int epochs, batch_size, shuffle;
    uint64_t seed;
    rnn_callback cb[RNN_MAX_CALLBACKS + 1];
    int n_cb;
    char final_weights[RNN_PATH_MAX + 32];   /* where the run's last weights go        */
} run_config;

/* ---- data --------------------------------------------------------------------------- */

typedef struct {
    rnn_data train, val;
    int has_val;
    rnn_vocab *vocab;
    char *vocab_text;      /* serialized, stored in checkpoints */
} run_data;

static void run_data_free(run_data *d) {
    rnn_data_free(&d->train);
    rnn_data_free(&d->val);
    rnn_vocab_free(d->vocab);
    free(d->vocab_text);
    memset(d, 0, sizeof *d);
}

/* The class of a sample's labels y [L], as Keras maps them to a class_weight
 * (data_adapter._make_class_weight_map_fn): the argmax of a row of several, else the
 * label cast to an integer. */
static int class_of_labels(const float *y, int L) {
    if (L == 1) return (int)y[0];
    int best = 0;
    for (int k = 1; k < L; k++)
        if (y[k] > y[best]) best = k;
    return best;
}

/* class_weight (--class-weight, else the spec's) into the training rows' sample weights:
 * each row's weight times its class's (Keras 2 multiplies the two). Only the training
 * data: Keras does not weigh validation data by class. */
static int weigh_classes(const rnn_model *m, const rnn_fit_options *o, rnn_data *d, char *err, size_t errlen) {
    const int n_cw = o->n_class_weights ? o->n_class_weights : m->fit.n_class_weights;
    const double *cw = o->n_class_weights ? o->class_weight : m->fit.class_weight;
    if (!n_cw) return 0;
    if (!d->w) {
        d->w = malloc((d->n ? d->n : 1) * sizeof *d->w);
        if (!d->w) {
            snprintf(err, errlen, "out of memory for the class weights");
            return -1;
        }
        for (size_t i = 0; i < d->n; i++) d->w[i] = 1.0f;
    }
    const int L = d->label_width > 0 ? d->label_width : 1;
    for (size_t i = 0; i < d->n; i++) {
        const int c = class_of_labels(d->y + i * (size_t)L, L);
        if (c < 0 || c >= n_cw) {
            snprintf(err, errlen, "training row %zu (0-based) is of class %d, which class_weight gives no weight (it has classes 0 to %d)",
                     i, c, n_cw - 1);
            return -1;
        }
        d->w[i] = (float)((double)d->w[i] * cw[c]);
    }
    return 0;
}

/* vocab_text (may be NULL): the vocabulary to use for raw text, from the checkpoint
 * vocab_from; else the training text's own. */
static int load_data(const rnn_model *m, const rnn_fit_options *o, double split, uint64_t seed,
                     const char *vocab_text, const char *vocab_from, run_data *d, rnn_progress *pg, char *err,
                     size_t errlen) {
    memset(d, 0, sizeof *d);
    int K = m->n_outputs;
    int have_npy = o->train_x || o->train_y, have_text = o->train_text != NULL;
    if (have_npy && have_text) {
        snprintf(err, errlen, "give either --train-x/--train-y or --train-text, not both");
        return -1;
    }
    if ((o->val_x || o->val_y) && o->val_text) {
        snprintf(err, errlen, "give either --val-x/--val-y or --val-text, not both");
        return -1;
    }
    if (have_npy) {
        if (!o->train_x || !o->train_y) {
            snprintf(err, errlen, "--train-x and --train-y go together");
            return -1;
        }
        if (rnn_npy_read_x(o->train_x, m->timesteps, m->vocab, &d->train, err, errlen) ||
            rnn_npy_read_y(o->train_y, m->loss, K, &d->train, err, errlen))
            return -1;
    } else if (have_text) {
        if (rnn_text_check_vocab(m->vocab, err, errlen)) return -1;   /* before a large corpus is read */
        rnn_text_set ts = {0};
        if (rnn_text_read(o->train_text, &ts, err, errlen)) return -1;
        d->vocab = vocab_text ? rnn_vocab_parse(vocab_text, m->vocab, err, errlen) : rnn_vocab_build(&ts, m->vocab);
        if (!d->vocab) {
            if (!vocab_text) {
                snprintf(err, errlen, "%s: out of memory building the vocabulary", o->train_text);
            } else {   /* "FILE: " before the parser's message */
                size_t k = strlen(vocab_from), n = strlen(err);
                if (k + 2 + n < errlen) {
                    memmove(err + k + 2, err, n + 1);
                    memcpy(err, vocab_from, k);
                    memcpy(err + k, ": ", 2);
                }
            }
            rnn_text_set_free(&ts);
            return -1;
        }
        int rc = rnn_text_to_data_fit(d->vocab, &ts, m->timesteps, rnn_text_fit_of(m), m->loss, K, &d->train, err, errlen);
        rnn_text_set_free(&ts);
        if (rc) return -1;
        d->vocab_text = rnn_vocab_serialize(d->vocab);
    } else {
        if (o->val_x || o->val_y || o->val_text) {
            snprintf(err, errlen, "validation data needs training data (--train-x/--train-y or --train-text)");
            return -1;
        }
        if (m->loss != RNN_LOSS_BINARY_CROSSENTROPY || K != 1) {
            snprintf(err, errlen, "the built-in data set is binary sentiment; this model's loss is %s with %d output%s: give --train-x/--train-y or --train-text",
                     rnn_loss_name(m->loss), K, K == 1 ? "" : "s");
            return -1;
        }
        rnn_progress_message(pg, "No training data given: using the built-in synthetic IMDB-like set (%ld train + %ld validation sequences; see README).",
                             o->builtin_train, o->builtin_val);
        if (rnn_builtin_data(seed, 0, (size_t)o->builtin_train, m->vocab, m->timesteps, &d->train, err, errlen)) return -1;
        if (o->train_sample_weight && rnn_npy_read_weights(o->train_sample_weight, &d->train, err, errlen)) return -1;
        if (o->builtin_val > 0) {
            if (rnn_builtin_data(seed, 1, (size_t)o->builtin_val, m->vocab, m->timesteps, &d->val, err, errlen)) return -1;
            d->has_val = 1;
        }
        return weigh_classes(m, o, &d->train, err, errlen);
    }
    /* sample weights go with the training rows, through a validation split too */
    if (o->train_sample_weight && rnn_npy_read_weights(o->train_sample_weight, &d->train, err, errlen)) return -1;
    if (o->val_x || o->val_y) {
        if (!o->val_x || !o->val_y) {
            snprintf(err, errlen, "--val-x and --val-y go together");
            return -1;
        }
        if (rnn_npy_read_x(o->val_x, m->timesteps, m->vocab, &d->val, err, errlen) ||
            rnn_npy_read_y(o->val_y, m->loss, K, &d->val, err, errlen))
            return -1;
        d->has_val = 1;
    } else if (o->val_text) {
        if (!d->vocab) {
            snprintf(err, errlen, "--val-text needs --train-text (the vocabulary comes from the training text)");
            return -1;
        }
        rnn_text_set vs = {0};
        if (rnn_text_read(o->val_text, &vs, err, errlen)) return -1;
        int rc = rnn_text_to_data_fit(d->vocab, &vs, m->timesteps, rnn_text_fit_of(m), m->loss, K, &d->val, err, errlen);
        rnn_text_set_free(&vs);
        if (rc) return -1;
        d->has_val = 1;
    } else if (split > 0) {
        rnn_data all = d->train;
        memset(&d->train, 0, sizeof d->train);
        if (rnn_data_split(&all, split, seed, &d->train, &d->val, err, errlen)) return -1;
        d->has_val = d->val.n > 0;
    }
    if (d->train.n == 0) {
        snprintf(err, errlen, "the training data is empty");
        return -1;
    }
    if (weigh_classes(m, o, &d->train, err, errlen)) return -1;
    return 0;
}

/* ---- the loop ----------------------------------------------------------------------- */

typedef struct {
    rnn_trainer tr;
    const rnn_reducer *reducer; /* several trainers on every batch, or NULL               */
    int writer;                 /* this trainer writes the files (no reducer, or rank 0)   */
    rnn_progress pg;
    run_config cfg;
    run_data data;
    rnn_ckpt_state st;          /* the resume state, kept current                       */
    int history_cap;
    uint32_t *perm;
    char err[1024];
    const char *last_ckpt;      /* path of the last checkpoint written this run, if any */
    int last_ckpt_epoch;
    int warned_monitor[RNN_MAX_CALLBACKS + 1];
    int snapshot_cap;           /* snapshots st.es_best_weights has room for             */
    rnn_metric_state metrics;   /* AUC, precision, recall of the epoch, then validation  */
    rnn_real *val_probs;        /* [val n, n_outputs] when the model measures them       */
    int quiet_fail;             /* rank 0 reports this failure for every rank             */
} run;

static int append_history(run *r, const rnn_history_row *row) {
    if (r->st.n_history == r->history_cap) {
        int cap = r->history_cap ? 2 * r->history_cap : 64;
        rnn_history_row *h = realloc(r->st.history, (size_t)cap * sizeof *h);
        if (!h) return -1;
        r->st.history = h;
        r->history_cap = cap;
    }
    r->st.history[r->st.n_history++] = *row;
    return 0;
}

/* The forward and backward of the batch of nb rows at start of the epoch's permutation
 * (this trainer's part of it with a reducer); the loss, and *updated when the optimizer's
 * step was taken inside (up, begun here). Forward and backward in one call where the
 * model offers it (rnn_model_ops), with the step inside that call too unless it clips by
 * a norm (rnn_update); with a reducer the step always follows the exchange. */
static double train_step(run *r, int epoch, size_t start, int nb, int64_t iteration, rnn_update *up, int *updated) {
    rnn_trainer *tr = &r->tr;
    const rnn_data *d = &r->data.train;
    const rnn_dropout_ctx ctx = rnn_trainer_ctx(tr, d, 1, r->cfg.seed, epoch);
    if (r->reducer) {
        int first, count;
        rnn_reducer_part(r->reducer, nb, &first, &count);
        rnn_trainer_select(tr, d, r->perm, start + (size_t)first, count);
        *updated = 0;
        return tr->ops->forward_backward_part(tr->impl, tr->params, tr->samples, tr->labels, count, nb, &ctx, tr->grads,
                                              r->reducer);
    }
    if (!tr->ops->forward_backward) {
        rnn_trainer_gather(tr, d, r->perm, start, nb);
        *updated = 0;
        double loss = tr->ops->forward(tr->impl, tr->params, tr->tokens, tr->labels, nb, &ctx, tr->out);
        if (isfinite(loss)) tr->ops->backward(tr->impl, tr->params, tr->grads);
        return loss;
    }
    rnn_trainer_select(tr, d, r->perm, start, nb);
    *updated = rnn_update_begin(up, tr->m, &tr->opt, tr->params, tr->grads, tr->opt_state, iteration);
    return tr->ops->forward_backward(tr->impl, tr->params, tr->samples, tr->labels, nb, &ctx, tr->out, tr->grads,
                                     *updated ? up : NULL);
}

/* One epoch of training; returns 0, -1 on a non-finite loss/gradient, 1 if interrupted. */
static int train_epoch(run *r, int epoch, rnn_history_row *row) {
    rnn_trainer *tr = &r->tr;
    const rnn_data *d = &r->data.train;
    size_t n = d->n, bs = (size_t)r->cfg.batch_size;
    int steps = (int)((n + bs - 1) / bs);
    rnn_parallel_wake(); /* the workers slept through the data loading: they wake while this shuffles */
    if (r->cfg.shuffle) {
        rnn_rng s = rnn_rng_stream(r->cfg.seed, RNN_RNG_SHUFFLE, 0, (uint32_t)epoch);
        rnn_rng_permutation(&s, r->perm, (uint32_t)n);
    } else {
        for (size_t i = 0; i < n; i++) r->perm[i] = (uint32_t)i;
    }
    rnn_progress_epoch_begin(&r->pg, epoch, r->cfg.epochs, steps);
    double sum_loss = 0;
    long long correct = 0;
    size_t seen = 0;
    size_t P = tr->m->param_buffer_len;
    const double units = rnn_accuracy_units(tr->m), epoch_lr = tr->opt.learning_rate;
    rnn_metrics_reset(&r->metrics, tr->m->metrics);
    for (int step = 0; step < steps; step++) {
        size_t start = (size_t)step * bs;
        int nb = (int)(n - start < bs ? n - start : bs);
        const int64_t iteration = r->st.iterations + 1;
        rnn_update up;
        int updated = 0;
        if (step + 1 < steps) rnn_trainer_prefetch(d, r->perm, start + bs, (int)bs);
        double loss = train_step(r, epoch, start, nb, iteration, &up, &updated);
        if (!isfinite(loss) && r->reducer && g_interrupted) {   /* it came while waiting for the others */
            snprintf(r->err, sizeof r->err, "%s during epoch %d at step %d/%d, waiting for the other trainers", signal_name(),
                     epoch + 1, step + 1, steps);
            return 1;
        }
        if (!isfinite(loss)) {
            snprintf(r->err, sizeof r->err, "epoch %d, step %d/%d: the loss is %s; stopping", epoch + 1, step + 1, steps,
                     isnan(loss) ? "nan" : "infinite");
            return -1;
        }
        correct += tr->ops->correct(tr->impl);
        rnn_metrics_add(&r->metrics, tr->out, tr->labels, (size_t)nb * (size_t)tr->m->label_width);
        /* (a step applied inside forward_backward tested the gradients as it went; a bad
         * one may have changed some weights, but nothing is written after this error) */
        if (updated ? !rnn_update_ok(&up) : !rnn_grads_finite(tr->grads, P)) {
            snprintf(r->err, sizeof r->err, "epoch %d, step %d/%d: the gradients are not finite (exploding); stopping (try clipnorm or a lower learning rate)",
                     epoch + 1, step + 1, steps);
            return -1;
        }
        if (!updated)   /* (the embedding's per-lookup norm, where clipping reads it) */
            rnn_optimizer_step_lookups(tr->m, &tr->opt, tr->params, tr->grads, tr->opt_state, iteration,
                                       rnn_clips_lookup_norm(tr->m) ? tr->ops->lookup_sumsq(tr->impl) : NAN);
        r->st.iterations = iteration;
        sum_loss += loss * nb;
        seen += (size_t)nb;
        rnn_progress_step(&r->pg, step + 1, sum_loss / (double)seen, (double)correct / ((double)seen * units));
        if (g_interrupted) {
            snprintf(r->err, sizeof r->err, "%s during epoch %d after step %d/%d", signal_name(), epoch + 1, step + 1, steps);
            return 1;
        }
    }
    *row = rnn_history_row_empty(epoch);
    row->loss = sum_loss / (double)seen;
    row->accuracy = r->tr.m->metric_accuracy ? (double)correct / ((double)seen * units) : NAN;
    row->auc = rnn_metrics_auc(&r->metrics);
    row->precision = rnn_metrics_precision(&r->metrics);
    row->recall = rnn_metrics_recall(&r->metrics);
    if (r->pg.has_lr) row->lr = epoch_lr;
    if (r->data.has_val) {
        double vl, va;
        rnn_real *probs = tr->m->metrics ? r->val_probs : NULL;
        if (!r->reducer || !r->reducer->allgather) {
            rnn_trainer_evaluate(tr, &r->data.val, r->cfg.batch_size, &vl, &va, probs);
        } else if (rnn_trainer_evaluate_parts(tr, r->reducer, &r->data.val, r->cfg.batch_size, &vl, &va, probs)) {
            snprintf(r->err, sizeof r->err, "%s in the validation of epoch %d, waiting for the other trainers",
                     g_interrupted ? signal_name() : "the exchange failed", epoch + 1);
            return g_interrupted ? 1 : -1;
        }
        row->val_loss = vl;
        row->val_accuracy = r->tr.m->metric_accuracy ? va : NAN;
        if (probs) {
            rnn_metrics_reset(&r->metrics, tr->m->metrics);
            rnn_metrics_add_data(&r->metrics, probs, &r->data.val);
            row->val_auc = rnn_metrics_auc(&r->metrics);
            row->val_precision = rnn_metrics_precision(&r->metrics);
            row->val_recall = rnn_metrics_recall(&r->metrics);
        }
    }
    return 0;
}

/* A model implementation that keeps the weights itself (rnn_model_ops.params_in) gets
 * them whenever the trainer has set them, and gives them back before the trainer reads
 * them. */
static void params_to_model(run *r) {
    if (r->tr.ops->params_in) r->tr.ops->params_in(r->tr.impl, r->tr.params);
}
static void params_from_model(run *r) {
    if (r->tr.ops->params_out) r->tr.ops->params_out(r->tr.impl, r->tr.params);
}

/* Room for st.n_snapshots snapshots (rnn_callbacks_epoch_end may have assigned a new
 * slot). */
static int snapshot_room(run *r) {
    static const size_t max_snapshots = RNN_MAX_CALLBACKS + 1;
    size_t P = r->tr.m->param_buffer_len;
    if (r->st.n_snapshots <= r->snapshot_cap) return 0;
    if ((size_t)r->st.n_snapshots > max_snapshots) return -1;
    rnn_real *w = realloc(r->st.es_best_weights, ((size_t)r->st.n_snapshots * P + 1) * sizeof *w);
    if (!w) return -1;
    r->st.es_best_weights = w;
    r->snapshot_cap = r->st.n_snapshots;
    return 0;
}

/* The history so far to every CSVLogger, --history and --plot (the writer only). */
static int write_histories(run *r, const rnn_fit_options *o) {
    const rnn_callback *cb = r->cfg.cb;
    if (!r->writer) return 0;
    for (int i = 0; i < r->cfg.n_cb; i++)
        if (cb[i].kind == RNN_CB_CSV_LOGGER &&
            rnn_history_write_csv(cb[i].path, r->st.history, r->st.n_history, r->err, sizeof r->err))
            return -1;
    if (o->history && rnn_history_write_csv(o->history, r->st.history, r->st.n_history, r->err, sizeof r->err)) return -1;
    if (o->plot && rnn_history_write_svg(o->plot, r->tr.m->name, r->st.history, r->st.n_history, r->err, sizeof r->err))
        return -1;
    return 0;
}

/* The callbacks at the end of `epoch`, then the files. Sets *stop. -1 on a write error. */
static int end_of_epoch(run *r, int epoch, const rnn_fit_options *o, int *stop) {
    const rnn_history_row *row = &r->st.history[r->st.n_history - 1];
    const size_t P = r->tr.m->param_buffer_len, bytes = P * sizeof(rnn_real);
    const rnn_callback *cb = r->cfg.cb;
    rnn_cb_actions act;
    rnn_callbacks_epoch_end(cb, r->cfg.n_cb, &r->st, epoch, row, r->warned_monitor, &r->pg, &act);
    int any = 0;
    for (int i = 0; i < r->cfg.n_cb; i++) any |= act.snapshot[i] | act.save[i];
    if (any) params_from_model(r);
    if (snapshot_room(r)) {
        snprintf(r->err, sizeof r->err, "out of memory for the early-stopping snapshot");
        return -1;
    }
    for (int i = 0; i < r->cfg.n_cb; i++)
        if (act.snapshot[i]) memcpy(r->st.es_best_weights + (size_t)r->st.cb[i].snapshot * P, r->tr.params, bytes);
    /* Every checkpoint decided, in the spec's order; one file saved by several
     * callbacks this epoch (--checkpoint names one path for all) is written once, by
     * the last of them, whose monitor it records. */
    for (int i = 0; i < r->cfg.n_cb; i++) {
        if (!act.save[i]) continue;
        int later = 0;
        for (int j = i + 1; j < r->cfg.n_cb; j++) later |= act.save[j] && !strcmp(cb[j].path, cb[i].path);
        if (later) continue;
        r->st.monitor = (int)cb[i].monitor;
        r->st.monitor_value = rnn_monitor_value(row, cb[i].monitor);
        if (r->writer && rnn_ckpt_save(cb[i].path, &r->tr, &r->st, 1, r->err, sizeof r->err)) return -1;
        r->last_ckpt = cb[i].path;
        r->last_ckpt_epoch = epoch + 1;
    }
    if (act.restore >= 0) {
        memcpy(r->tr.params, r->st.es_best_weights + (size_t)r->st.cb[act.restore].snapshot * P, bytes);
        params_to_model(r);
    }
    *stop = act.stop;
    r->tr.opt.learning_rate = r->st.learning_rate;   /* a ReduceLROnPlateau's, from the next step */
    return write_histories(r, o);
}

/* A path the spec chose must stay in the working directory: not absolute, no ".."
 * component (which could also leave it through a symbolic link). The paths given on
 * the command line (--checkpoint, --history, --plot, --save-weights) are the user's
 * and are not checked; --allow-spec-paths accepts the spec's too. */
static int check_spec_path(const rnn_model *m, const rnn_callback *c, char *err, size_t errlen) {
    const char *p = c->path, *why = NULL;
    if (p[0] == '/') why = "an absolute path";
    for (const char *q = p; !why && *q; q = strchr(q, '/') ? strchr(q, '/') + 1 : q + strlen(q))
        if (q[0] == '.' && q[1] == '.' && (q[2] == '/' || q[2] == 0)) why = "it has a '..'";
    if (!why) return 0;
    const int ckpt = c->kind == RNN_CB_MODEL_CHECKPOINT;
    snprintf(err, errlen, "%s:%d: %s: %s \"%s\" is outside the working directory (%s); give %s--allow-spec-paths to write it",
             m->source, c->line, ckpt ? "model_checkpoint" : "csv_logger", ckpt ? "filepath" : "filename", p, why,
             ckpt ? "--checkpoint F, or " : "");
    return -1;
}

static int has_suffix(const char *s, const char *suffix) {
    const size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static int writes_file(const rnn_callback *c) { return c->kind == RNN_CB_MODEL_CHECKPOINT || c->kind == RNN_CB_CSV_LOGGER; }

/* A fit always leaves its last weights in a file it names: --save-weights, else beside
 * the first checkpoint ("best.safetensors" -> "best-final.safetensors"; a checkpoint
 * that saves only the best may never save, nor hold the last epoch's), else
 * "<model>-final.safetensors" in the working directory. */
static void final_weights_path(const rnn_model *m, const rnn_fit_options *o, run_config *cfg) {
    const char *ckpt = NULL;
    for (int i = 0; i < cfg->n_cb && !ckpt; i++)
        if (cfg->cb[i].kind == RNN_CB_MODEL_CHECKPOINT) ckpt = cfg->cb[i].path;
    if (o->save_weights) {
        snprintf(cfg->final_weights, sizeof cfg->final_weights, "%s", o->save_weights);
    } else if (ckpt) {
        const size_t stem = has_suffix(ckpt, ".safetensors") ? strlen(ckpt) - strlen(".safetensors") : strlen(ckpt);
        snprintf(cfg->final_weights, sizeof cfg->final_weights, "%.*s-final.safetensors", (int)stem, ckpt);
    } else {
        snprintf(cfg->final_weights, sizeof cfg->final_weights, "%s-final.safetensors", m->name);
    }
}

/* No file the run writes is another it writes or one it reads (paths.c). */
static int check_files(const rnn_fit_options *o, const run_config *cfg, char *err, size_t errlen) {
    rnn_path_use u[RNN_MAX_CALLBACKS + 1 + 3 + 10 + RNN_MAX_LAYERS];
    int n = 0;
#define USE(p, w, r, res) (u[n++] = (rnn_path_use){(p), (w), (r), (res)})
    for (int i = 0; i < cfg->n_cb; i++)
        if (writes_file(&cfg->cb[i]))
            USE(cfg->cb[i].path, cfg->cb[i].kind == RNN_CB_CSV_LOGGER ? "csv_logger" : o->checkpoint ? "--checkpoint" : "model_checkpoint",
                cfg->cb[i].kind == RNN_CB_CSV_LOGGER ? RNN_PATH_OUTPUT : RNN_PATH_CHECKPOINT, 0);
    USE(o->history, "--history", RNN_PATH_OUTPUT, 0);
    USE(o->plot, "--plot", RNN_PATH_OUTPUT, 0);
    USE(cfg->final_weights, o->save_weights ? "--save-weights" : "the final weights", RNN_PATH_OUTPUT, 0);
    USE(o->train_x, "--train-x", RNN_PATH_INPUT, 0);
    USE(o->train_y, "--train-y", RNN_PATH_INPUT, 0);
    USE(o->val_x, "--val-x", RNN_PATH_INPUT, 0);
    USE(o->val_y, "--val-y", RNN_PATH_INPUT, 0);
    USE(o->train_text, "--train-text", RNN_PATH_INPUT, 0);
    USE(o->val_text, "--val-text", RNN_PATH_INPUT, 0);
    USE(o->train_sample_weight, "--train-sample-weight", RNN_PATH_INPUT, 0);
    USE(o->init_weights, "--init-weights", RNN_PATH_INPUT, 0);
    USE(o->resume, "--resume", RNN_PATH_INPUT, 1);   /* a run continues in its own checkpoint */
    for (int i = 0; i < o->n_embedding_weights; i++) USE(o->embedding_weights[i].path, "--embedding-weights", RNN_PATH_INPUT, 0);
#undef USE
    return rnn_paths_distinct(u, n, err, errlen);
}

static int resolve_config(const rnn_model *m, const rnn_fit_options *o, run_config *cfg, char *err, size_t errlen) {
    cfg->epochs = o->epochs > 0 ? o->epochs : m->fit.epochs;
    cfg->batch_size = o->batch_size > 0 ? o->batch_size : m->fit.batch_size;
    cfg->shuffle = o->no_shuffle ? 0 : m->fit.shuffle;
    cfg->seed = o->seed_set ? o->seed : m->fit.seed;
    cfg->n_cb = m->fit.n_callbacks;
    memcpy(cfg->cb, m->fit.callbacks, sizeof m->fit.callbacks);
    if (o->checkpoint) {
        int found = 0;
        for (int i = 0; i < cfg->n_cb; i++)
            if (cfg->cb[i].kind == RNN_CB_MODEL_CHECKPOINT) {
                snprintf(cfg->cb[i].path, sizeof cfg->cb[i].path, "%s", o->checkpoint);
                found = 1;
            }
        if (!found) {   /* --checkpoint without a spec callback: save every epoch */
            rnn_callback *c = &cfg->cb[cfg->n_cb++];
            memset(c, 0, sizeof *c);
            c->kind = RNN_CB_MODEL_CHECKPOINT;
            c->monitor = RNN_MONITOR_VAL_LOSS;
            c->mode = RNN_MODE_MIN;
            snprintf(c->path, sizeof c->path, "%s", o->checkpoint);
        }
    }
    for (int i = 0; i < cfg->n_cb && !o->allow_spec_paths; i++) {
        const rnn_callback *c = &cfg->cb[i];
        int from_spec = c->kind == RNN_CB_CSV_LOGGER || (c->kind == RNN_CB_MODEL_CHECKPOINT && !o->checkpoint);
        if (from_spec && check_spec_path(m, c, err, errlen)) return -1;
    }
    final_weights_path(m, o, cfg);
    if (o->plot && !has_suffix(o->plot, ".svg")) {
        snprintf(err, errlen, "--plot %s: the plot is an SVG picture; give a path ending in .svg", o->plot);
        return -1;
    }
    if (check_files(o, cfg, err, errlen)) return -1;
    /* Every file the run writes must be writable before the first step. */
    for (int i = 0; i < cfg->n_cb; i++)
        if (writes_file(&cfg->cb[i]) && rnn_path_writable(cfg->cb[i].path, err, errlen)) return -1;
    const char *outs[3] = {o->history, o->plot, cfg->final_weights};
    for (int i = 0; i < 3; i++)
        if (outs[i] && rnn_path_writable(outs[i], err, errlen)) return -1;
    return 0;
}

/* What the options ask of the implementation that it cannot do. */
static int check_ops(const rnn_model *m, const rnn_model_ops *ops, const rnn_fit_options *o, char *err, size_t errlen) {
    if (o->reducer && !ops->forward_backward_part) {
        snprintf(err, errlen, "the %s model cannot train with several trainers on a batch", ops->name);
        return -1;
    }
    if (o->reducer && (o->reducer->size < 1 || o->reducer->rank < 0 || o->reducer->rank >= o->reducer->size)) {
        snprintf(err, errlen, "trainer %d of %d: no such trainer", o->reducer->rank, o->reducer->size);
        return -1;
    }
    if (!ops->params_in != !ops->params_out || (ops->params_in && (!ops->forward_backward || o->reducer))) {
        snprintf(err, errlen, "the %s model keeps its own weights but cannot take the steps itself", ops->name);
        return -1;
    }
    if (ops->params_in && (m->optimizer.clipnorm > 0 || m->optimizer.global_clipnorm > 0)) {
        snprintf(err, errlen, "the %s model keeps its own weights and cannot clip them by norm", ops->name);
        return -1;
    }
    if (rnn_clips_lookup_norm(m) && !ops->lookup_sumsq) {
        snprintf(err, errlen, "the %s model cannot give its embedding's per-lookup gradient, which clipping by a norm reads "
                              "(embedding_clip = \"summed\" clips the summed table)", ops->name);
        return -1;
    }
    if (o->reducer && m->metrics) {
        snprintf(err, errlen, "auc, precision and recall are measured on one trainer only (the predictions of the other "
                              "trainers' rows stay with them)");
        return -1;
    }
    return 0;
}

/* --embedding-weights LAYER=F.npy: each named embedding's table from a [input_dim,
 * output_dim] .npy (any float dtype; rows by token id), as Keras's
 * embeddings_initializer = Constant(matrix) sets it. */
static int load_embedding_weights(const rnn_model *m, const rnn_fit_options *o, rnn_real *params, rnn_progress *pg,
                                  char *err, size_t errlen) {
    for (int k = 0; k < o->n_embedding_weights; k++) {
        const char *name = o->embedding_weights[k].layer, *path = o->embedding_weights[k].path;
        int li = -1;
        for (int i = 0; i < m->n_layers; i++)
            if (!strcmp(m->layers[i].name, name)) li = i;
        if (li < 0 || m->layers[li].kind != RNN_LAYER_EMBEDDING) {
            snprintf(err, errlen, "--embedding-weights %s=%s: the model has no embedding layer named '%s'", name, path, name);
            return -1;
        }
        const rnn_tensor *t = &m->tensors[m->layers[li].first_tensor + RNN_T_EMBEDDINGS];
        float *table = malloc(t->size * sizeof *table);
        if (!table) {
            snprintf(err, errlen, "--embedding-weights %s: out of memory", path);
            return -1;
        }
        const int rc = rnn_npy_read_matrix(path, t->shape[0], t->shape[1], table, err, errlen);
        for (size_t i = 0; !rc && i < t->size; i++) params[t->offset + i] = (rnn_real)table[i];
        free(table);
        if (rc) return -1;
        rnn_progress_message(pg, "Embedding %s: %d x %d weights from %s%s", name, t->shape[0], t->shape[1], path,
                             m->layers[li].frozen ? " (frozen: trainable = false)" : "");
    }
    return 0;
}

/* FNV-1a over bytes. */
static uint64_t bytes_hash(const void *p, size_t n, uint64_t h) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* Several trainers: each must start where rank 0 starts (the same data, weights,
 * optimizer state and run). Every rank gets the verdict; rank 0 says which rank differs
 * and how, and every rank refuses to start. Also a note when some ranks get no rows. */
static int check_ranks(run *r, uint64_t data_hash) {
    static const char *const what[] = {
        "read other training data than rank 0 (fingerprint %016" PRIx64 ", rank 0's %016" PRIx64 "): every rank must read the same data (a shared file system), or give --scatter-data",
        "read other validation data than rank 0 (fingerprint %016" PRIx64 ", rank 0's %016" PRIx64 "): every rank must read the same data (a shared file system), or give --scatter-data",
        "starts from other weights or optimizer state than rank 0 (fingerprint %016" PRIx64 ", rank 0's %016" PRIx64 "): --resume and --init-weights must read the same file on every rank",
        "runs with another seed, batch size, epochs or learning rate than rank 0 (%016" PRIx64 ", rank 0's %016" PRIx64 "): give every rank the same command line",
    };
    const rnn_reducer *red = r->reducer;
    const size_t P = r->tr.m->param_buffer_len;
    double lr = r->tr.opt.learning_rate;
    uint64_t w[4], run[5] = {r->cfg.seed, (uint64_t)r->cfg.batch_size, (uint64_t)r->cfg.epochs, (uint64_t)r->cfg.shuffle, 0};
    memcpy(&run[4], &lr, sizeof lr);
    w[0] = data_hash;
    w[1] = r->data.has_val ? rnn_data_hash(&r->data.val) : 0;
    w[2] = bytes_hash(r->tr.params, P * sizeof *r->tr.params, 14695981039346656037ull);
    w[2] = bytes_hash(r->tr.opt_state, P * (size_t)r->tr.opt_slots * sizeof *r->tr.opt_state, w[2]);
    w[2] = bytes_hash(&r->st.iterations, sizeof r->st.iterations, w[2]);
    w[3] = bytes_hash(run, sizeof run, 14695981039346656037ull);
    int rank, word;
    uint64_t value[2];
    if (rnn_reducer_agree(red, w, 4, &rank, &word, value)) {
        snprintf(r->err, sizeof r->err, "%s before training started, comparing the data and options of the ranks",
                 g_interrupted ? signal_name() : "the exchange failed");
        return -1;
    }
    if (rank >= 0) {   /* (rank 0's words are what every rank compares with) */
        char why[512];
        snprintf(why, sizeof why, what[word], value[0], value[1]);
        snprintf(r->err, sizeof r->err, "rank %d of %d %s; refusing to start", rank, red->size, why);
        r->quiet_fail = red->rank != 0;
        return -1;
    }
    const int blocks = (r->cfg.batch_size + RNN_REDUCE_ROWS - 1) / RNN_REDUCE_ROWS;
    if (red->size > blocks)
        rnn_progress_message(&r->pg, "Note: a batch of %d has %d lane block%s of %d rows, and %d ranks share them: %d rank%s will wait on every step (--batch-size %d or more gives every rank work)",
                             r->cfg.batch_size, blocks, blocks == 1 ? "" : "s", RNN_REDUCE_ROWS, red->size, red->size - blocks,
                             red->size - blocks == 1 ? "" : "s", red->size * RNN_REDUCE_ROWS);
    return 0;
}

/* Where the run starts: the checkpoint of --resume (weights, optimizer, callbacks,
 * seed, epoch), else --init-weights or the seeded initializers, then any
 * --embedding-weights. *vocab_text: the vocabulary of the file read, or NULL. */
static int start_state(run *r, const rnn_model *m, const rnn_fit_options *o, char **vocab_text, int *start_epoch) {
    *start_epoch = 0;
    if (o->resume) {
        if (rnn_ckpt_load(o->resume, &r->tr, &r->st, vocab_text, r->err, sizeof r->err)) return -1;
        r->snapshot_cap = r->st.n_snapshots;
        if (rnn_callbacks_resume(r->cfg.cb, r->cfg.n_cb, &r->st, o->resume, r->err, sizeof r->err)) return -1;
        if (o->seed_set && o->seed != r->st.seed) {
            snprintf(r->err, sizeof r->err, "%s: the checkpoint was trained with --seed %" PRIu64 ", not %" PRIu64, o->resume,
                     r->st.seed, o->seed);
            return -1;
        }
        if (r->st.batch_size != r->cfg.batch_size) {
            snprintf(r->err, sizeof r->err, "%s: the checkpoint was trained with batch size %d, not %d", o->resume,
                     r->st.batch_size, r->cfg.batch_size);
            return -1;
        }
        r->cfg.seed = r->st.seed;
        *start_epoch = r->st.epochs_done;
        r->history_cap = r->st.n_history;
        /* the rate a ReduceLROnPlateau had reached is the run's state, like its wait */
        if (r->pg.has_lr && isfinite(r->st.learning_rate)) r->tr.opt.learning_rate = r->st.learning_rate;
    } else {
        r->st.seed = r->cfg.seed;
        rnn_callbacks_begin(r->cfg.cb, r->cfg.n_cb, &r->st);
        /* --init-weights: the weights, and with them the ids they were trained on. Raw
         * text is read with the checkpoint's vocabulary, so that every embedding row
         * keeps its word; weights without one (trained on token ids, or the built-in
         * set) and raw text are refused: a new vocabulary would give their rows to other
         * words without a word of warning. */
        if (o->init_weights) {
            if (rnn_ckpt_load(o->init_weights, &r->tr, NULL, vocab_text, r->err, sizeof r->err)) return -1;
            if (o->train_text && !*vocab_text) {
                snprintf(r->err, sizeof r->err, "%s has no vocabulary (its weights were trained on token ids): text would get new ids, and every embedding row would mean another word; train on --train-x/--train-y, or without --init-weights",
                         o->init_weights);
                return -1;
            }
        } else {
            rnn_init_params(m, r->cfg.seed, r->tr.params);
        }
        if (load_embedding_weights(m, o, r->tr.params, &r->pg, r->err, sizeof r->err)) return -1;
    }
    return 0;
}

/* The training and validation data (on rank 0 only with --scatter-data, then shared),
 * checked against the other ranks and a resumed checkpoint; frees *vocab_text. */
static int prepare_data(run *r, const rnn_model *m, const rnn_fit_options *o, double split, char **vocab_text) {
    const int shared = o->scatter_data && r->reducer;   /* rank 0 reads the data, the others receive it */
    int lrc = shared && r->reducer->rank > 0
                  ? 0
                  : load_data(m, o, split, r->cfg.seed, *vocab_text, o->resume ? o->resume : o->init_weights, &r->data,
                              &r->pg, r->err, sizeof r->err);
    free(*vocab_text);
    *vocab_text = NULL;
    if (shared && rnn_share_data(r->reducer, !lrc, &r->data.train, &r->data.val, &r->data.has_val, r->err, sizeof r->err))
        lrc = -1;
    if (lrc) return -1;
    uint64_t dh = rnn_data_hash(&r->data.train);
    if (r->reducer && r->reducer->allgather && check_ranks(r, dh)) return -1;
    if (o->resume && r->st.data_hash != dh) {
        snprintf(r->err, sizeof r->err, "%s: the checkpoint was trained on different data (fingerprint %016" PRIx64 ", this data %016" PRIx64 ")",
                 o->resume, r->st.data_hash, dh);
        return -1;
    }
    if (o->resume) {   /* every epoch takes the same number of steps */
        const int64_t steps = (int64_t)((r->data.train.n + (size_t)r->cfg.batch_size - 1) / (size_t)r->cfg.batch_size);
        if (r->st.iterations != (int64_t)r->st.epochs_done * steps) {
            snprintf(r->err, sizeof r->err, "%s: metadata \"iterations\" is %" PRId64 ", but %d epochs of %" PRId64 " steps are %" PRId64,
                     o->resume, r->st.iterations, r->st.epochs_done, steps, (int64_t)r->st.epochs_done * steps);
            return -1;
        }
    }
    r->st.data_hash = dh;
    if (r->data.vocab_text && !r->st.vocabulary) r->st.vocabulary = strdup(r->data.vocab_text);
    return 0;
}

/* The end of training: the best weights restored where asked, and the final weights
 * written (by the writer rank). */
static int finish_run(run *r, const rnn_model *m) {
    /* Keras 3: restore the best weights also when training ran to the end: every
     * EarlyStopping with restore_at_end that did not stop training itself, in order. */
    for (int i = 0; i < r->cfg.n_cb; i++) {
        const rnn_callback *c = &r->cfg.cb[i];
        const rnn_cb_state *s = &r->st.cb[i];
        if (c->kind == RNN_CB_EARLY_STOPPING && c->restore_best_weights && c->restore_at_end && !s->stopped &&
            s->snapshot >= 0) {
            rnn_progress_message(&r->pg, "Restoring model weights from the end of the best epoch: %d.", s->best_epoch + 1);
            memcpy(r->tr.params, r->st.es_best_weights + (size_t)s->snapshot * m->param_buffer_len,
                   m->param_buffer_len * sizeof(rnn_real));
            params_to_model(r);
        }
    }
    params_from_model(r);
    if (r->writer) {   /* weights (after any restore), history, vocabulary; no optimizer */
        rnn_ckpt_state ws = r->st;   /* not a checkpoint to resume from: no callback states */
        ws.es_best_weights = NULL;
        ws.n_snapshots = 0;
        ws.n_cb = 0;
        ws.monitor = -1;
        if (rnn_ckpt_save(r->cfg.final_weights, &r->tr, &ws, 0, r->err, sizeof r->err)) return -1;
        rnn_progress_message(&r->pg, "Saved the final weights to %s", r->cfg.final_weights);
    }
    return 0;
}

int rnn_fit(const rnn_model *m, const rnn_model_ops *ops, const rnn_fit_options *o) {
    run r;   /* on this thread's stack: several trainers may run in one process */
    memset(&r, 0, sizeof r);
    int rc = 1;
    r.reducer = o->reducer;
    r.writer = !o->reducer || o->reducer->rank == 0;
    rnn_progress_init(&r.pg, o->quiet || !r.writer, o->json, m->metric_accuracy);

    /* From here to the end SIGINT and SIGTERM only set g_interrupted: nothing the run
     * writes (the probes of resolve_config, checkpoints, the final weights) is cut off
     * half-way. The loop stops at the end of a batch; before it and after it, the run
     * stops where it next looks. */
    g_interrupted = 0;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    char *vocab_text = NULL;   /* the vocabulary of --resume or --init-weights */
    if (check_ops(m, ops, o, r.err, sizeof r.err)) goto fail;
    if (resolve_config(m, o, &r.cfg, r.err, sizeof r.err)) goto fail;
    double split = !isnan(o->validation_split) && o->validation_split >= 0 ? o->validation_split : m->fit.validation_split;
    if (!(split >= 0 && split < 1)) {
        snprintf(r.err, sizeof r.err, "--validation-split must be in [0, 1)");
        goto fail;
    }

    /* The resume state decides the seed, the vocabulary and where to start. */
    if (rnn_trainer_init(&r.tr, m, ops, r.cfg.batch_size, r.err, sizeof r.err)) goto fail;
    if (o->learning_rate > 0) {   /* a constant rate, in place of the spec's, schedule or not */
        if (r.tr.opt.schedule.kind != RNN_SCHEDULE_NONE)
            rnn_progress_message(&r.pg, "Note: --learning-rate %g replaces the spec's %s schedule", o->learning_rate,
                                 rnn_schedule_name(r.tr.opt.schedule.kind));
        r.tr.opt.schedule.kind = RNN_SCHEDULE_NONE;
        r.tr.opt.learning_rate = o->learning_rate;
    }
    for (int i = 0; i < r.cfg.n_cb; i++) r.pg.has_lr |= r.cfg.cb[i].kind == RNN_CB_REDUCE_LR_ON_PLATEAU;
    int start_epoch = 0;
    if (start_state(&r, m, o, &vocab_text, &start_epoch)) goto fail;
    r.st.learning_rate = r.tr.opt.learning_rate;
    r.st.batch_size = r.cfg.batch_size;
    if (prepare_data(&r, m, o, split, &vocab_text)) goto fail;
    params_to_model(&r);
    r.perm = malloc((r.data.train.n ? r.data.train.n : 1) * sizeof *r.perm);
    if (m->metrics && r.data.has_val) r.val_probs = malloc((r.data.val.n * (size_t)m->n_outputs + 1) * sizeof *r.val_probs);
    if (!r.perm || (m->metrics && r.data.has_val && !r.val_probs)) {
        snprintf(r.err, sizeof r.err, "out of memory");
        goto fail;
    }

    int stop = 0, status = 0;
    for (int i = 0; i < r.st.n_cb; i++) stop |= r.st.cb[i].stopped;
    if (stop) {   /* resumed from the checkpoint of the epoch that stopped training */
        rnn_progress_message(&r.pg, "%s: training had already stopped early at epoch %d", o->resume, r.st.epochs_done);
        for (int i = 0; i < r.cfg.n_cb; i++) {
            const rnn_cb_state *s = &r.st.cb[i];
            if (r.cfg.cb[i].kind == RNN_CB_EARLY_STOPPING && r.cfg.cb[i].restore_best_weights && s->stopped && s->snapshot >= 0) {
                memcpy(r.tr.params, r.st.es_best_weights + (size_t)s->snapshot * m->param_buffer_len,
                       m->param_buffer_len * sizeof(rnn_real));
                params_to_model(&r);
            }
        }
    }
    if (g_interrupted) {   /* while the data loaded */
        fprintf(stderr, "fit: %s before training started; nothing was written\n", signal_name());
        rc = signal_exit();
        goto done;
    }
    if (o->resume && !stop && start_epoch >= r.cfg.epochs) {   /* nothing to train; the files still asked for */
        rnn_progress_message(&r.pg, "%s: the run has already trained %d epoch%s (--epochs %d): nothing to train", o->resume,
                             start_epoch, start_epoch == 1 ? "" : "s", r.cfg.epochs);
        if (write_histories(&r, o)) goto fail;
    }
    for (int epoch = start_epoch; epoch < r.cfg.epochs && !stop; epoch++) {
        rnn_history_row row;
        status = train_epoch(&r, epoch, &row);
        if (status) break;
        rnn_progress_epoch_end(&r.pg, &row, r.data.train.n);
        if (append_history(&r, &row)) {
            snprintf(r.err, sizeof r.err, "out of memory");
            status = -1;
            break;
        }
        if (end_of_epoch(&r, epoch, o, &stop)) {
            status = -1;
            break;
        }
        if (stop) rnn_progress_message(&r.pg, "Epoch %d: early stopping", epoch + 1);
    }
    if (status == 1) {
        if (r.last_ckpt)
            fprintf(stderr, "%s: %s; nothing of this epoch was written. Resume from the last checkpoint (epoch %d) with --resume %s\n",
                    "fit", r.err, r.last_ckpt_epoch, r.last_ckpt);
        else
            fprintf(stderr, "fit: %s; nothing of this epoch was written, and no checkpoint was written in this run to resume from\n", r.err);
        rc = signal_exit();
        goto done;
    }
    if (status < 0) goto fail;

    if (finish_run(&r, m)) goto fail;
    if (g_interrupted) {   /* during the last epoch's files or the final weights: all written whole */
        fprintf(stderr, "fit: %s at the end of training; every file was written completely\n", signal_name());
        rc = signal_exit();
        goto done;
    }
    rc = 0;
    goto done;
fail:
    if (!r.quiet_fail) {
        char shown[2 * sizeof r.err];   /* a file's or an argument's invisible bytes shown */
        fprintf(stderr, "fit: %s\n", rnn_escape(r.err, shown, sizeof shown));
    }
    if (r.last_ckpt) fprintf(stderr, "fit: the last checkpoint (epoch %d) is intact: %s\n", r.last_ckpt_epoch, r.last_ckpt);
    rc = 1;
done:
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    free(vocab_text);
    free(r.perm);
    free(r.val_probs);
    rnn_trainer_free(&r.tr);
    run_data_free(&r.data);
    rnn_ckpt_state_free(&r.st);
    return rc;
}
