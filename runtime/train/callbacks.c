/*
 * callbacks.c — what ModelCheckpoint and EarlyStopping decide at the end of an epoch
 * (tf.keras 2.11–2.15; docs/keras-semantics.md, ModelCheckpoint and EarlyStopping),
 * kept apart from the loop so that a test can script a sequence of monitored values
 * and check every decision.
 *
 * The decisions are returned as actions; fit.c carries them out in this order:
 * snapshot the weights, write the checkpoint, restore the snapshot. The checkpoint
 * thus holds the epoch's own weights and the callbacks' state after the epoch.
 */
#include "train/trainer.h"

#include <math.h>

double rnn_monitor_value(const rnn_history_row *r, rnn_monitor mon) {
    switch (mon) {
    case RNN_MONITOR_VAL_LOSS: return r->val_loss;
    case RNN_MONITOR_VAL_ACCURACY: return r->val_accuracy;
    case RNN_MONITOR_LOSS: return r->loss;
    default: return r->accuracy;
    }
}

/* a better than b under mode; NaN is never better. */
static int better(double a, double b, rnn_monitor_mode mode) { return mode == RNN_MODE_MAX ? a > b : a < b; }

void rnn_callbacks_begin(const rnn_callback *cb, int n_cb, rnn_ckpt_state *st) {
    st->checkpoint_best = INFINITY;
    st->es_best = INFINITY;
    st->es_wait = st->es_best_epoch = st->es_stopped = 0;
    st->monitor = -1;
    for (int i = 0; i < n_cb; i++) {
        if (cb[i].mode != RNN_MODE_MAX) continue;
        if (cb[i].kind == RNN_CB_MODEL_CHECKPOINT) st->checkpoint_best = -INFINITY;
        if (cb[i].kind == RNN_CB_EARLY_STOPPING) st->es_best = -INFINITY;
    }
}

void rnn_callbacks_epoch_end(const rnn_callback *cb, int n_cb, rnn_ckpt_state *st, int has_snapshot, int epoch,
                             const rnn_history_row *row, int *warned, rnn_progress *pg, rnn_cb_actions *act) {
    act->save = act->snapshot = act->stop = act->restore = 0;
    act->save_path = NULL;
    for (int i = 0; i < n_cb; i++) {
        const rnn_callback *c = &cb[i];
        double v = rnn_monitor_value(row, c->monitor);
        /* A monitor without a value (val_* without validation data) makes Keras warn
         * and do nothing. A measured NaN is treated the same way: the loop stops on a
         * non-finite training loss before it could matter. */
        int absent = isnan(v);
        const char *mon = rnn_monitor_name(c->monitor);
        if (c->kind == RNN_CB_MODEL_CHECKPOINT) {
            st->monitor = (int)c->monitor;
            st->monitor_value = v;
            if (!c->save_best_only) {
                act->save = 1;
                act->save_path = c->path;
                rnn_progress_message(pg, "Epoch %d: saving model to %s", epoch + 1, c->path);
            } else if (absent) {
                if (!warned[i]++) rnn_progress_message(pg, "Epoch %d: can save the best model only with %s available, skipping", epoch + 1, mon);
            } else if (better(v, st->checkpoint_best, c->mode)) {
                rnn_progress_message(pg, "Epoch %d: %s improved from %.5f to %.5f, saving model to %s", epoch + 1, mon,
                                     st->checkpoint_best, v, c->path);
                st->checkpoint_best = v;
                act->save = 1;
                act->save_path = c->path;
            } else {
                rnn_progress_message(pg, "Epoch %d: %s did not improve from %.5f", epoch + 1, mon, st->checkpoint_best);
            }
        } else if (c->kind == RNN_CB_EARLY_STOPPING) {
            if (absent) {
                if (!warned[i]++) rnn_progress_message(pg, "Early stopping conditioned on metric `%s` which is not available", mon);
                continue;
            }
            if (epoch < c->start_from_epoch) continue;
            if (c->restore_best_weights && !has_snapshot && !act->snapshot) act->snapshot = 1;   /* Keras's fallback */
            st->es_wait++;
            /* Keras: monitor_op(current - min_delta, best) with min_delta negated for min */
            double shifted = c->mode == RNN_MODE_MAX ? v - c->min_delta : v + c->min_delta;
            if (better(shifted, st->es_best, c->mode)) {
                st->es_best = v;
                st->es_best_epoch = epoch;
                if (c->restore_best_weights) act->snapshot = 1;
                if (!c->has_baseline || better(shifted, c->baseline, c->mode)) st->es_wait = 0;
                continue;
            }
            if (st->es_wait >= c->patience && epoch > 0) {
                act->stop = 1;
                st->es_stopped = 1;
                if (c->restore_best_weights && (has_snapshot || act->snapshot)) {
                    rnn_progress_message(pg, "Restoring model weights from the end of the best epoch: %d.", st->es_best_epoch + 1);
                    act->restore = 1;
                }
            }
        }
    }
    st->epochs_done = epoch + 1;
}
