/*
 * test_callbacks.c — ModelCheckpoint and EarlyStopping on scripted sequences of
 * monitored values, against the decisions tf.keras 2.11–2.15 makes
 * (docs/keras-semantics.md, ModelCheckpoint and EarlyStopping), worked out by hand in
 * each test.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "train/trainer.h"

typedef struct {
    int saved[64], snap[64], restored[64];
    int stop_epoch;        /* -1: never */
    int best_epoch;
} trace;

/* Run the callbacks over val_loss values v[0..n), as fit.c would. */
static void script(const rnn_callback *cb, int n_cb, const double *v, int n, int val_accuracy, trace *t) {
    rnn_ckpt_state st;
    memset(&st, 0, sizeof st);
    rnn_callbacks_begin(cb, n_cb, &st);
    rnn_progress pg;
    rnn_progress_init(&pg, 1, 0, 1);
    int warned[RNN_MAX_CALLBACKS] = {0};
    int has_snapshot = 0;
    memset(t, 0, sizeof *t);
    t->stop_epoch = -1;
    for (int e = 0; e < n; e++) {
        rnn_history_row row = {e, 0.5, 0.5, val_accuracy ? NAN : v[e], val_accuracy ? v[e] : NAN};
        rnn_cb_actions a;
        rnn_callbacks_epoch_end(cb, n_cb, &st, has_snapshot, e, &row, warned, &pg, &a);
        t->saved[e] = a.save;
        t->snap[e] = a.snapshot;
        t->restored[e] = a.restore;
        has_snapshot |= a.snapshot;
        cr_assert_eq(st.epochs_done, e + 1);
        if (a.stop) {
            t->stop_epoch = e;
            break;
        }
    }
    t->best_epoch = st.es_best_epoch;
}

static rnn_callback checkpoint(int best_only, rnn_monitor mon, rnn_monitor_mode mode) {
    rnn_callback c;
    memset(&c, 0, sizeof c);
    c.kind = RNN_CB_MODEL_CHECKPOINT;
    c.save_best_only = best_only;
    c.monitor = mon;
    c.mode = mode;
    strcpy(c.path, "best.safetensors");
    return c;
}

static rnn_callback early(int patience, int restore, rnn_monitor mon, rnn_monitor_mode mode) {
    rnn_callback c;
    memset(&c, 0, sizeof c);
    c.kind = RNN_CB_EARLY_STOPPING;
    c.patience = patience;
    c.restore_best_weights = restore;
    c.monitor = mon;
    c.mode = mode;
    return c;
}

/* The notebook's pair: checkpoint(save_best_only) + early_stopping(patience 3, restore). */
Test(callbacks, notebook_pair_strict_improvement_patience_restore) {
    rnn_callback cb[2] = {checkpoint(1, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN),
                          early(3, 1, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN)};
    /*                 e0   e1   e2 (tie) e3    e4    e5    e6    e7    e8 */
    const double v[] = {0.5, 0.4, 0.4, 0.45, 0.39, 0.41, 0.42, 0.43, 0.30};
    trace t;
    script(cb, 2, v, 9, 0, &t);
    const int want_saved[] = {1, 1, 0, 0, 1, 0, 0, 0};
    for (int e = 0; e < 8; e++) cr_expect_eq(t.saved[e], want_saved[e], "epoch %d saved %d", e, t.saved[e]);
    /* best at e4; three epochs without improvement (e5, e6, e7): stop after e7 */
    cr_expect_eq(t.stop_epoch, 7);
    cr_expect_eq(t.best_epoch, 4);
    cr_expect_eq(t.restored[7], 1);
    /* snapshots at e0 (first epoch and improvement), e1, e4 — never on the tie */
    const int want_snap[] = {1, 1, 0, 0, 1, 0, 0, 0};
    for (int e = 0; e < 8; e++) cr_expect_eq(t.snap[e], want_snap[e], "epoch %d snapshot %d", e, t.snap[e]);
}

Test(callbacks, no_stop_no_restore_in_keras2) {
    rnn_callback cb[1] = {early(3, 1, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN)};
    const double v[] = {0.5, 0.6, 0.4, 0.5, 0.6};
    trace t;
    script(cb, 1, v, 5, 0, &t);
    cr_expect_eq(t.stop_epoch, -1);
    for (int e = 0; e < 5; e++) cr_expect_eq(t.restored[e], 0);
}

Test(callbacks, patience_zero_stops_at_first_non_improvement_but_not_epoch_0) {
    rnn_callback cb[1] = {early(0, 0, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN)};
    const double v[] = {0.5, 0.4, 0.4, 0.3};
    trace t;
    script(cb, 1, v, 4, 0, &t);
    cr_expect_eq(t.stop_epoch, 2);
    cr_expect_eq(t.restored[2], 0, "restore_best_weights is off");
}

Test(callbacks, nan_never_improves_and_never_saves) {
    rnn_callback cb[1] = {checkpoint(1, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN)};
    const double v[] = {0.5, NAN, 0.49};
    trace t;
    script(cb, 1, v, 3, 0, &t);
    cr_expect_eq(t.saved[0], 1);
    cr_expect_eq(t.saved[1], 0);
    cr_expect_eq(t.saved[2], 1);
}

Test(callbacks, save_every_epoch_without_save_best_only) {
    rnn_callback cb[1] = {checkpoint(0, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN)};
    const double v[] = {0.5, 0.6, 0.7};
    trace t;
    script(cb, 1, v, 3, 0, &t);
    for (int e = 0; e < 3; e++) cr_expect_eq(t.saved[e], 1);
}

Test(callbacks, accuracy_monitor_is_maximized) {
    rnn_callback cb[2] = {checkpoint(1, RNN_MONITOR_VAL_ACCURACY, RNN_MODE_MAX),
                          early(1, 1, RNN_MONITOR_VAL_ACCURACY, RNN_MODE_MAX)};
    const double v[] = {0.6, 0.7, 0.65, 0.7};
    trace t;
    script(cb, 2, v, 4, 1, &t);
    cr_expect_eq(t.saved[0], 1);
    cr_expect_eq(t.saved[1], 1);
    cr_expect_eq(t.saved[2], 0);
    cr_expect_eq(t.stop_epoch, 2, "patience 1: the first epoch without a higher accuracy stops");
    cr_expect_eq(t.best_epoch, 1);
}

Test(callbacks, min_delta_requires_a_real_improvement) {
    rnn_callback c = early(1, 0, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN);
    c.min_delta = 0.05;
    const double v[] = {0.5, 0.46, 0.40};
    trace t;
    script(&c, 1, v, 3, 0, &t);
    /* 0.46 + 0.05 is not below 0.5: no improvement at e1, wait 1 >= patience 1 */
    cr_expect_eq(t.stop_epoch, 1);
    cr_expect_eq(t.best_epoch, 0);
}

Test(callbacks, baseline_keeps_waiting_until_beaten) {
    rnn_callback c = early(2, 0, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN);
    c.has_baseline = 1;
    c.baseline = 0.3;
    /* Improvements that do not beat the baseline do not reset wait (2 after e1), and
     * the first epoch without an improvement stops. Without the baseline, wait would
     * be 1 at e2 and training would go on. */
    const double v[] = {0.5, 0.45, 0.46, 0.40};
    trace t;
    script(&c, 1, v, 4, 0, &t);
    cr_expect_eq(t.stop_epoch, 2);
    c.has_baseline = 0;
    script(&c, 1, v, 4, 0, &t);
    cr_expect_eq(t.stop_epoch, -1);
}

Test(callbacks, start_from_epoch_skips_early_epochs) {
    rnn_callback c = early(1, 0, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN);
    c.start_from_epoch = 2;
    const double v[] = {0.1, 0.9, 0.8, 0.85};
    trace t;
    script(&c, 1, v, 4, 0, &t);
    cr_expect_eq(t.stop_epoch, 3);
    cr_expect_eq(t.best_epoch, 2);
}

Test(callbacks, missing_monitor_does_nothing) {
    rnn_callback cb[2] = {checkpoint(1, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN),
                          early(0, 1, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN)};
    const double v[] = {NAN, NAN, NAN};
    trace t;
    script(cb, 2, v, 3, 0, &t);
    cr_expect_eq(t.stop_epoch, -1);
    for (int e = 0; e < 3; e++) {
        cr_expect_eq(t.saved[e], 0);
        cr_expect_eq(t.snap[e], 0);
    }
}
