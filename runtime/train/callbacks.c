/*
 * callbacks.c — what ModelCheckpoint, EarlyStopping and ReduceLROnPlateau decide at the
 * end of an epoch (tf.keras 2.11–2.15; docs/keras-semantics.md, ModelCheckpoint,
 * EarlyStopping and ReduceLROnPlateau),
 * kept apart from the loop so that a test can script a sequence of monitored values
 * and check every decision.
 *
 * Every callback has its own state (best value, wait, best epoch, snapshot), as every
 * Keras callback object has. The decisions are returned as actions; fit.c carries them
 * out in this order: the snapshots, every checkpoint a callback decided to write, the
 * restore. A checkpoint thus holds the epoch's own weights and the state of every
 * callback after the epoch (where Keras would save the restored weights when a
 * checkpoint comes after the EarlyStopping that restores them in the spec's list).
 */
#include "train/trainer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

double rnn_monitor_value(const rnn_history_row *r, rnn_monitor mon) {
    switch (mon) {
    case RNN_MONITOR_VAL_LOSS: return r->val_loss;
    case RNN_MONITOR_VAL_ACCURACY: return r->val_accuracy;
    case RNN_MONITOR_LOSS: return r->loss;
    case RNN_MONITOR_ACCURACY: return r->accuracy;
    case RNN_MONITOR_VAL_AUC: return r->val_auc;
    case RNN_MONITOR_AUC: return r->auc;
    case RNN_MONITOR_VAL_PRECISION: return r->val_precision;
    case RNN_MONITOR_PRECISION: return r->precision;
    case RNN_MONITOR_VAL_RECALL: return r->val_recall;
    case RNN_MONITOR_RECALL: return r->recall;
    default: return NAN;
    }
}

/* a better than b under mode; NaN is never better. */
static int better(double a, double b, rnn_monitor_mode mode) { return mode == RNN_MODE_MAX ? a > b : a < b; }

static void fresh_state(const rnn_callback *c, rnn_cb_state *s) {
    memset(s, 0, sizeof *s);
    s->kind = (int)c->kind;
    if (c->kind != RNN_CB_CSV_LOGGER) {   /* (a CSVLogger monitors nothing) */
        s->monitor = (int)c->monitor;
        s->mode = c->mode == RNN_MODE_MAX ? RNN_MODE_MAX : RNN_MODE_MIN;
    } else {
        s->monitor = RNN_MONITOR_VAL_LOSS;
        s->mode = RNN_MODE_MIN;
    }
    s->best = s->mode == RNN_MODE_MAX ? -INFINITY : INFINITY;
    s->snapshot = -1;
}

void rnn_callbacks_begin(const rnn_callback *cb, int n_cb, rnn_ckpt_state *st) {
    st->monitor = -1;
    st->n_cb = n_cb;
    st->n_snapshots = 0;   /* (a snapshot buffer already allocated is reused) */
    for (int i = 0; i < n_cb; i++) fresh_state(&cb[i], &st->cb[i]);
}

/* "early_stopping(val_loss, min)", or "csv_logger". */
static void describe(const rnn_cb_state *s, char *buf, size_t cap) {
    if (s->kind == RNN_CB_CSV_LOGGER) {
        snprintf(buf, cap, "csv_logger");
        return;
    }
    snprintf(buf, cap, "%s(%s, %s)", rnn_callback_name((rnn_callback_kind)s->kind),
             rnn_monitor_name((rnn_monitor)s->monitor), s->mode == RNN_MODE_MAX ? "max" : "min");
}

int rnn_callbacks_resume(const rnn_callback *cb, int n_cb, rnn_ckpt_state *st, const char *path, char *err,
                         size_t errlen) {
    rnn_cb_state saved[RNN_MAX_CALLBACKS + 1];
    const int n_saved = st->legacy ? 0 : st->n_cb;
    memcpy(saved, st->cb, sizeof saved);
    int best_only = 0, early = 0;
    for (int i = 0; i < n_cb; i++) {
        fresh_state(&cb[i], &st->cb[i]);
        best_only += cb[i].kind == RNN_CB_MODEL_CHECKPOINT && cb[i].save_best_only;
        early += cb[i].kind == RNN_CB_EARLY_STOPPING;
    }
    st->n_cb = n_cb;
    if (st->legacy) {
        if (best_only > 1 || early > 1) {
            snprintf(err, errlen, "%s: a checkpoint of an earlier rnnc, with one state for all callbacks; this spec has "
                                  "%d save_best_only model_checkpoint and %d early_stopping callbacks: cannot resume "
                                  "(--init-weights %s starts from its weights)", path, best_only, early, path);
            return -1;
        }
        for (int i = 0; i < n_cb; i++) {
            rnn_cb_state *s = &st->cb[i];
            if (cb[i].kind == RNN_CB_MODEL_CHECKPOINT && cb[i].save_best_only) {
                s->best = st->legacy_checkpoint_best;
            } else if (cb[i].kind == RNN_CB_EARLY_STOPPING) {
                s->best = st->legacy_es.best;
                s->wait = st->legacy_es.wait;
                s->best_epoch = st->legacy_es.best_epoch;
                s->stopped = st->legacy_es.stopped;
                s->snapshot = st->legacy_es.snapshot;
            }
        }
        st->legacy = 0;
        return 0;
    }
    for (int i = 0; i < n_cb && i < n_saved; i++) {
        const rnn_cb_state *f = &saved[i], *s = &st->cb[i];
        if (f->kind != s->kind || f->monitor != s->monitor || f->mode != s->mode) {
            char was[64], is[64];
            describe(f, was, sizeof was);
            describe(s, is, sizeof is);
            snprintf(err, errlen, "%s: callback %d is %s in the checkpoint but %s in this run: cannot resume its state", path,
                     i + 1, was, is);
            return -1;
        }
        st->cb[i] = *f;
    }
    return 0;
}

/* Keras 2's ReduceLROnPlateau.on_epoch_end: a cooldown epoch counts down and resets the
 * wait; an improvement beyond min_delta (strict, against the best) becomes the best; else,
 * outside cooldown, the wait grows and at patience the rate becomes max(rate * factor,
 * min_lr) when it is above min_lr, starting a cooldown. */
static void reduce_lr(const rnn_callback *c, rnn_cb_state *s, rnn_ckpt_state *st, int epoch, double v, rnn_progress *pg) {
    if (s->cooldown > 0) {
        s->cooldown--;
        s->wait = 0;
    }
    const int improved = c->mode == RNN_MODE_MAX ? v > s->best + c->min_delta : v < s->best - c->min_delta;
    if (improved) {
        s->best = v;
        s->wait = 0;
    } else if (s->cooldown == 0 && ++s->wait >= c->patience) {
        if (st->learning_rate > c->min_lr) {
            double lr = st->learning_rate * c->factor;
            st->learning_rate = lr > c->min_lr ? lr : c->min_lr;
            rnn_progress_message(pg, "Epoch %d: ReduceLROnPlateau reducing learning rate to %.10g.", epoch + 1, st->learning_rate);
            s->cooldown = c->cooldown;
            s->wait = 0;
        }
    }
}

void rnn_callbacks_epoch_end(const rnn_callback *cb, int n_cb, rnn_ckpt_state *st, int epoch,
                             const rnn_history_row *row, int *warned, rnn_progress *pg, rnn_cb_actions *act) {
    memset(act, 0, sizeof *act);
    act->restore = -1;
    for (int i = 0; i < n_cb; i++) {
        const rnn_callback *c = &cb[i];
        rnn_cb_state *s = &st->cb[i];
        double v = rnn_monitor_value(row, c->monitor);
        /* A monitor without a value (val_* without validation data) makes Keras warn
         * and do nothing. A measured NaN is treated the same way: the loop stops on a
         * non-finite training loss before it could matter. */
        int absent = isnan(v);
        const char *mon = rnn_monitor_name(c->monitor);
        if (c->kind == RNN_CB_MODEL_CHECKPOINT) {
            if (!c->save_best_only) {
                act->save[i] = 1;
                rnn_progress_message(pg, "Epoch %d: saving model to %s", epoch + 1, c->path);
            } else if (absent) {
                if (!warned[i]++) rnn_progress_message(pg, "Epoch %d: can save the best model only with %s available, skipping", epoch + 1, mon);
            } else if (better(v, s->best, c->mode)) {
                rnn_progress_message(pg, "Epoch %d: %s improved from %.5f to %.5f, saving model to %s", epoch + 1, mon,
                                     s->best, v, c->path);
                s->best = v;
                act->save[i] = 1;
            } else {
                rnn_progress_message(pg, "Epoch %d: %s did not improve from %.5f", epoch + 1, mon, s->best);
            }
        } else if (c->kind == RNN_CB_EARLY_STOPPING) {
            if (absent) {
                if (!warned[i]++) rnn_progress_message(pg, "Early stopping conditioned on metric `%s` which is not available", mon);
                continue;
            }
            if (epoch < c->start_from_epoch) continue;
            if (c->restore_best_weights && s->snapshot < 0) act->snapshot[i] = 1;   /* Keras's fallback */
            s->wait++;
            /* Keras: monitor_op(current - min_delta, best) with min_delta negated for min */
            double shifted = c->mode == RNN_MODE_MAX ? v - c->min_delta : v + c->min_delta;
            if (better(shifted, s->best, c->mode)) {
                s->best = v;
                s->best_epoch = epoch;
                if (c->restore_best_weights) act->snapshot[i] = 1;
                if (!c->has_baseline || better(shifted, c->baseline, c->mode)) s->wait = 0;
            } else if (s->wait >= c->patience && epoch > 0) {
                act->stop = 1;
                s->stopped = 1;
                if (c->restore_best_weights) {
                    rnn_progress_message(pg, "Restoring model weights from the end of the best epoch: %d.", s->best_epoch + 1);
                    act->restore = i;   /* a later one's restore, in the spec's order, wins */
                }
            }
            if (act->snapshot[i] && s->snapshot < 0) s->snapshot = st->n_snapshots++;
        } else if (c->kind == RNN_CB_REDUCE_LR_ON_PLATEAU) {
            if (absent) {
                if (!warned[i]++) rnn_progress_message(pg, "Learning rate reduction is conditioned on metric `%s` which is not available", mon);
                continue;
            }
            reduce_lr(c, s, st, epoch, v, pg);
        }
    }
    st->epochs_done = epoch + 1;
}
