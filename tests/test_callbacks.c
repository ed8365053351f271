/*
 * test_callbacks.c — ModelCheckpoint and EarlyStopping on scripted sequences of
 * monitored values, against the decisions tf.keras 2.11–2.15 makes
 * (docs/keras-semantics.md, ModelCheckpoint and EarlyStopping), worked out by hand in
 * each test. Every callback has its own state: two of one kind never share a best
 * value, a wait counter or a snapshot, and each one's save happens; the state goes
 * through a checkpoint and back (a resume) callback by callback.
 */
#define _XOPEN_SOURCE 700
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models.h"
#include "train/trainer.h"

typedef struct {
    int saved[64], snap[64], restored[64];
    int stop_epoch;        /* -1: never */
    int best_epoch;
} trace;

/* Run the callbacks over val_loss values v[0..n), as fit.c would. saved[e], snap[e]
 * and restored[e]: whether any callback saved, snapshot or restored at epoch e;
 * best_epoch: the last early stopping's. */
static void script(const rnn_callback *cb, int n_cb, const double *v, int n, int val_accuracy, trace *t) {
    rnn_ckpt_state st;
    memset(&st, 0, sizeof st);
    rnn_callbacks_begin(cb, n_cb, &st);
    rnn_progress pg;
    rnn_progress_init(&pg, 1, 0, 1);
    int warned[RNN_MAX_CALLBACKS] = {0};
    memset(t, 0, sizeof *t);
    t->stop_epoch = -1;
    for (int e = 0; e < n; e++) {
        rnn_history_row row = rnn_history_row_empty(e);
        row.loss = row.accuracy = 0.5;
        row.val_loss = val_accuracy ? NAN : v[e];
        row.val_accuracy = val_accuracy ? v[e] : NAN;
        rnn_cb_actions a;
        rnn_callbacks_epoch_end(cb, n_cb, &st, e, &row, warned, &pg, &a);
        for (int i = 0; i < n_cb; i++) {
            t->saved[e] |= a.save[i];
            t->snap[e] |= a.snapshot[i];
        }
        t->restored[e] = a.restore >= 0;
        cr_assert_eq(st.epochs_done, e + 1);
        if (a.stop) {
            t->stop_epoch = e;
            break;
        }
    }
    for (int i = 0; i < n_cb; i++)
        if (cb[i].kind == RNN_CB_EARLY_STOPPING) t->best_epoch = st.cb[i].best_epoch;
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

/* ---- several callbacks of one kind --------------------------------------------------- */

typedef struct {
    rnn_ckpt_state st;
    rnn_progress pg;
    int warned[RNN_MAX_CALLBACKS + 1];
} runner;

static void runner_begin(runner *r, const rnn_callback *cb, int n_cb) {
    memset(r, 0, sizeof *r);
    rnn_callbacks_begin(cb, n_cb, &r->st);
    rnn_progress_init(&r->pg, 1, 0, 1);
}

static void epoch_end(runner *r, const rnn_callback *cb, int n_cb, int e, double val_loss, double val_acc, rnn_cb_actions *a) {
    rnn_history_row row = rnn_history_row_empty(e);
    row.loss = row.accuracy = 0.5;
    row.val_loss = val_loss;
    row.val_accuracy = val_acc;
    rnn_callbacks_epoch_end(cb, n_cb, &r->st, e, &row, r->warned, &r->pg, a);
}

Test(callbacks, two_checkpoints_keep_their_own_best) {
    rnn_callback cb[2] = {checkpoint(1, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN),
                          checkpoint(1, RNN_MONITOR_VAL_ACCURACY, RNN_MODE_MAX)};
    strcpy(cb[1].path, "best_acc.safetensors");
    const double loss[] = {0.5, 0.4, 0.45}, acc[] = {0.6, 0.55, 0.7};
    const int want[3][2] = {{1, 1}, {1, 0}, {0, 1}};
    runner r;
    runner_begin(&r, cb, 2);
    for (int e = 0; e < 3; e++) {
        rnn_cb_actions a;
        epoch_end(&r, cb, 2, e, loss[e], acc[e], &a);
        for (int i = 0; i < 2; i++) cr_expect_eq(a.save[i], want[e][i], "epoch %d, checkpoint %d: save %d", e, i, a.save[i]);
    }
    cr_expect_eq(r.st.cb[0].best, 0.4);
    cr_expect_eq(r.st.cb[1].best, 0.7);
}

Test(callbacks, every_decided_save_happens) {
    rnn_callback cb[2] = {checkpoint(1, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN), checkpoint(0, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN)};
    strcpy(cb[1].path, "last.safetensors");
    runner r;
    runner_begin(&r, cb, 2);
    rnn_cb_actions a;
    epoch_end(&r, cb, 2, 0, 0.5, NAN, &a);
    cr_expect(a.save[0] && a.save[1], "both checkpoints save at epoch 0 (%d, %d)", a.save[0], a.save[1]);
    epoch_end(&r, cb, 2, 1, 0.6, NAN, &a);
    cr_expect(!a.save[0] && a.save[1], "only the every-epoch one at epoch 1 (%d, %d)", a.save[0], a.save[1]);
}

Test(callbacks, two_early_stoppings_keep_their_own_wait) {
    /* val_loss improves every epoch, val_accuracy never after epoch 0: the second stops
     * after 3 epochs without an improvement, whatever the first does. */
    rnn_callback cb[2] = {early(1, 0, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN), early(3, 0, RNN_MONITOR_VAL_ACCURACY, RNN_MODE_MAX)};
    const double loss[] = {0.5, 0.4, 0.3, 0.2, 0.1};
    runner r;
    runner_begin(&r, cb, 2);
    int stop = -1;
    for (int e = 0; e < 5 && stop < 0; e++) {
        rnn_cb_actions a;
        epoch_end(&r, cb, 2, e, loss[e], 0.6, &a);
        if (a.stop) stop = e;
    }
    cr_expect_eq(stop, 3);
    cr_expect_eq(r.st.cb[0].wait, 0);
    cr_expect_eq(r.st.cb[0].best_epoch, 3);
    cr_expect_eq(r.st.cb[1].wait, 3);
    cr_expect_eq(r.st.cb[1].best_epoch, 0);
    cr_expect(!r.st.cb[0].stopped && r.st.cb[1].stopped);
}

Test(callbacks, two_restoring_early_stoppings_have_their_own_snapshots) {
    rnn_callback cb[2] = {early(1, 1, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN), early(1, 1, RNN_MONITOR_VAL_ACCURACY, RNN_MODE_MAX)};
    runner r;
    runner_begin(&r, cb, 2);
    rnn_cb_actions a;
    epoch_end(&r, cb, 2, 0, 0.5, 0.6, &a);
    cr_expect(a.snapshot[0] && a.snapshot[1]);
    cr_expect_eq(r.st.n_snapshots, 2);
    cr_expect_eq(r.st.cb[0].snapshot, 0);
    cr_expect_eq(r.st.cb[1].snapshot, 1);
    epoch_end(&r, cb, 2, 1, 0.4, 0.5, &a);   /* val_loss improves, val_accuracy stops */
    cr_expect(a.snapshot[0] && !a.snapshot[1]);
    cr_expect(a.stop);
    cr_expect_eq(a.restore, 1, "the val_accuracy one restores its own snapshot");
    cr_expect_eq(r.st.cb[1].best_epoch, 0);
}

/* ---- resume: the checkpoint's states matched to the run's callbacks ------------------ */

Test(callbacks, resume_takes_each_state_by_index_and_refuses_another_kind) {
    rnn_callback cb[3] = {checkpoint(1, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN), early(2, 0, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN),
                          early(2, 0, RNN_MONITOR_VAL_ACCURACY, RNN_MODE_MAX)};
    rnn_ckpt_state st;
    memset(&st, 0, sizeof st);
    rnn_callbacks_begin(cb, 2, &st);   /* the checkpoint knew the first two */
    st.cb[0].best = 0.3;
    st.cb[1].best = 0.35;
    st.cb[1].wait = 1;
    char err[512];
    cr_assert_eq(rnn_callbacks_resume(cb, 3, &st, "ck.st", err, sizeof err), 0, "%s", err);
    cr_expect_eq(st.n_cb, 3);
    cr_expect_eq(st.cb[0].best, 0.3);
    cr_expect_eq(st.cb[1].best, 0.35);
    cr_expect_eq(st.cb[1].wait, 1);
    cr_expect_eq(st.cb[2].best, -INFINITY, "a callback without a saved state starts fresh");
    rnn_callback swapped[2] = {cb[1], cb[0]};
    rnn_callbacks_begin(cb, 2, &st);
    cr_assert_eq(rnn_callbacks_resume(swapped, 2, &st, "ck.st", err, sizeof err), -1);
    cr_expect_str_eq(err, "ck.st: callback 1 is model_checkpoint(val_loss, min) in the checkpoint but "
                          "early_stopping(val_loss, min) in this run: cannot resume its state");
}

Test(callbacks, resume_of_an_earlier_rnnc_single_state) {
    rnn_callback cb[3] = {checkpoint(1, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN), checkpoint(0, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN),
                          early(2, 1, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN)};
    rnn_ckpt_state st;
    memset(&st, 0, sizeof st);
    st.legacy = 1;
    st.legacy_checkpoint_best = 0.25;
    st.legacy_es = (rnn_cb_state){.best = 0.26, .wait = 1, .best_epoch = 4, .stopped = 0, .snapshot = 0};
    st.n_snapshots = 1;
    char err[512];
    cr_assert_eq(rnn_callbacks_resume(cb, 3, &st, "old.st", err, sizeof err), 0, "%s", err);
    cr_expect_eq(st.cb[0].best, 0.25);
    cr_expect_eq(st.cb[1].best, INFINITY, "the every-epoch checkpoint has no best");
    cr_expect_eq(st.cb[2].best, 0.26);
    cr_expect_eq(st.cb[2].wait, 1);
    cr_expect_eq(st.cb[2].best_epoch, 4);
    cr_expect_eq(st.cb[2].snapshot, 0);
    cr_expect_eq(st.legacy, 0);
    /* two save_best_only checkpoints: which one had the single best? */
    rnn_callback two[2] = {checkpoint(1, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN), checkpoint(1, RNN_MONITOR_VAL_ACCURACY, RNN_MODE_MAX)};
    memset(&st, 0, sizeof st);
    st.legacy = 1;
    cr_assert_eq(rnn_callbacks_resume(two, 2, &st, "old.st", err, sizeof err), -1);
    cr_expect_str_eq(err, "old.st: a checkpoint of an earlier rnnc, with one state for all callbacks; this spec has 2 "
                          "save_best_only model_checkpoint and 0 early_stopping callbacks: cannot resume (--init-weights "
                          "old.st starts from its weights)");
}

/* The states and both snapshots through a checkpoint file and back. */
Test(callbacks, states_and_snapshots_round_trip_through_a_checkpoint) {
    static rnn_model m;
    rnn_model_init(&m, "cbs", "test_callbacks.c");
    add_embedding(&m, 20, 2, 3);
    add_layer(&m, RNN_LAYER_SIMPLE_RNN, 2);
    add_layer(&m, RNN_LAYER_DENSE, 1)->activation = RNN_ACT_SIGMOID;
    layout(&m);
    rnn_trainer tr;
    char err[512];
    cr_assert_eq(rnn_trainer_init(&tr, &m, &rnn_reference_ops, 4, err, sizeof err), 0, "%s", err);
    const size_t P = m.param_buffer_len;
    rnn_callback cb[4] = {checkpoint(1, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN), early(2, 1, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN),
                          early(3, 1, RNN_MONITOR_VAL_ACCURACY, RNN_MODE_MAX), {.kind = RNN_CB_CSV_LOGGER}};
    rnn_ckpt_state st;
    memset(&st, 0, sizeof st);
    rnn_callbacks_begin(cb, 4, &st);
    st.epochs_done = 3;
    st.batch_size = 4;
    st.seed = 18446744073709551615ull;
    st.n_history = 3;
    st.history = calloc(3, sizeof *st.history);
    for (int e = 0; e < 3; e++) {
        st.history[e] = rnn_history_row_empty(e);
        st.history[e].loss = 0.5;
        st.history[e].val_loss = 0.4;
    }
    st.cb[0].best = 0.125;
    st.cb[1] = (rnn_cb_state){RNN_CB_EARLY_STOPPING, RNN_MONITOR_VAL_LOSS, RNN_MODE_MIN, 0.25, 1, 1, 0, 0, 0};
    st.cb[2] = (rnn_cb_state){RNN_CB_EARLY_STOPPING, RNN_MONITOR_VAL_ACCURACY, RNN_MODE_MAX, 0.75, 2, 0, 1, 1, 0};
    st.n_snapshots = 2;
    st.es_best_weights = calloc(2 * P, sizeof *st.es_best_weights);
    for (size_t i = 0; i < 2 * P; i++) st.es_best_weights[i] = (rnn_real)(i < P ? 1.0 : 2.0);
    char dir[] = "/tmp/rnnc-cbs-XXXXXX";
    cr_assert(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/ck.st", dir);
    cr_assert_eq(rnn_ckpt_save(path, &tr, &st, 1, err, sizeof err), 0, "%s", err);

    rnn_ckpt_state back;
    memset(&back, 0, sizeof back);
    cr_assert_eq(rnn_ckpt_load(path, &tr, &back, NULL, err, sizeof err), 0, "%s", err);
    cr_expect_eq(back.seed, st.seed);
    cr_expect_eq(back.n_cb, 4);
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(back.cb[i].kind, st.cb[i].kind, "callback %d", i);
        if (st.cb[i].kind == RNN_CB_CSV_LOGGER) continue;
        cr_expect_eq(back.cb[i].monitor, st.cb[i].monitor, "callback %d", i);
        cr_expect_eq(back.cb[i].mode, st.cb[i].mode, "callback %d", i);
        cr_expect_eq(back.cb[i].best, st.cb[i].best, "callback %d", i);
        cr_expect_eq(back.cb[i].wait, st.cb[i].wait, "callback %d", i);
        cr_expect_eq(back.cb[i].best_epoch, st.cb[i].best_epoch, "callback %d", i);
        cr_expect_eq(back.cb[i].stopped, st.cb[i].stopped, "callback %d", i);
    }
    cr_assert_eq(back.n_snapshots, 2);
    cr_assert(back.cb[1].snapshot >= 0 && back.cb[2].snapshot >= 0 && back.cb[0].snapshot < 0);
    cr_expect_eq(back.es_best_weights[(size_t)back.cb[1].snapshot * P], 1.0f);
    const rnn_tensor *last = &m.tensors[m.n_tensors - 1];
    cr_expect_eq(back.es_best_weights[(size_t)back.cb[2].snapshot * P + last->offset + last->size - 1], 2.0f);
    cr_assert_eq(rnn_callbacks_resume(cb, 4, &back, path, err, sizeof err), 0, "%s", err);
    cr_expect_eq(back.cb[2].best, 0.75);
    rnn_ckpt_state_free(&back);
    rnn_ckpt_state_free(&st);
    rnn_trainer_free(&tr);
    unlink(path);
    rmdir(dir);
}

/* ---- ReduceLROnPlateau (docs/keras-semantics.md, ReduceLROnPlateau) ------------------- */

static rnn_callback plateau(int patience, double factor, int cooldown, double min_lr, double min_delta) {
    rnn_callback c;
    memset(&c, 0, sizeof c);
    c.kind = RNN_CB_REDUCE_LR_ON_PLATEAU;
    c.monitor = RNN_MONITOR_VAL_LOSS;
    c.mode = RNN_MODE_MIN;
    c.patience = patience;
    c.factor = factor;
    c.cooldown = cooldown;
    c.min_lr = min_lr;
    c.min_delta = min_delta;
    return c;
}

/* The rate after each epoch of val_loss v[0..n), from lr0. */
static void plateau_script(const rnn_callback *c, const double *v, int n, double lr0, double *lr) {
    rnn_ckpt_state st;
    memset(&st, 0, sizeof st);
    rnn_callbacks_begin(c, 1, &st);
    st.learning_rate = lr0;
    rnn_progress pg;
    rnn_progress_init(&pg, 1, 0, 0);
    int warned[RNN_MAX_CALLBACKS] = {0};
    for (int e = 0; e < n; e++) {
        rnn_history_row row = rnn_history_row_empty(e);
        row.loss = 1;
        row.val_loss = v[e];
        rnn_cb_actions a;
        rnn_callbacks_epoch_end(c, 1, &st, e, &row, warned, &pg, &a);
        cr_expect(!a.stop && a.restore < 0, "reduce_lr_on_plateau never stops or restores");
        lr[e] = st.learning_rate;
    }
}

/* patience 2, factor 0.5, cooldown 1, min_delta 0.05. Epoch 0 sets the best, 1.0; 0.97
 * and 0.99 are no improvement (not below 1.0 - 0.05): wait 1, then 2 = patience: the
 * rate halves at epoch 2 and a cooldown of 1 starts. Epoch 3 counts the cooldown down to
 * 0 first (Keras tests in_cooldown after that), so its no-improvement counts: wait 1;
 * epoch 4: wait 2, the rate halves again. 0.5 improves at epoch 5; 0.49 does not, and
 * the rate halves at epoch 7. */
Test(callbacks, reduce_lr_on_plateau_follows_keras) {
    const rnn_callback c = plateau(2, 0.5, 1, 0, 0.05);
    const double v[9] = {1.0, 0.97, 0.99, 1.0, 1.0, 0.5, 0.49, 0.49, 0.49};
    const double want[9] = {0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125};
    double lr[9];
    plateau_script(&c, v, 9, 0.1, lr);
    for (int e = 0; e < 9; e++) cr_expect_float_eq(lr[e], want[e], 1e-15, "epoch %d: %g, want %g", e, lr[e], want[e]);
}

/* min_lr is a floor: the rate stops at it and is never reduced again. */
Test(callbacks, reduce_lr_on_plateau_stops_at_min_lr) {
    const rnn_callback c = plateau(0, 0.1, 0, 0.015, 0);
    const double v[4] = {1, 1, 1, 1};
    double lr[4];
    plateau_script(&c, v, 4, 1.0, lr);
    /* patience 0: every epoch without improvement reduces: 1 -> 0.1 -> 0.015 (floor) */
    cr_expect_eq(lr[0], 1.0, "epoch 0 sets the best");
    cr_expect_float_eq(lr[1], 0.1, 1e-15);
    cr_expect_float_eq(lr[2], 0.015, 1e-15);
    cr_expect_float_eq(lr[3], 0.015, 1e-15);
}

/* The state (best, wait, cooldown) and the reduced rate go through a checkpoint. */
Test(callbacks, reduce_lr_state_round_trips_through_a_checkpoint) {
    static rnn_model m;
    rnn_model_init(&m, "cbs", "test_callbacks.c");
    add_embedding(&m, 20, 2, 3);
    add_layer(&m, RNN_LAYER_SIMPLE_RNN, 2);
    add_layer(&m, RNN_LAYER_DENSE, 1)->activation = RNN_ACT_SIGMOID;
    layout(&m);
    rnn_trainer tr;
    char err[512];
    cr_assert_eq(rnn_trainer_init(&tr, &m, &rnn_reference_ops, 4, err, sizeof err), 0, "%s", err);
    rnn_callback cb[1] = {plateau(3, 0.5, 2, 0, 1e-4)};
    rnn_ckpt_state st;
    memset(&st, 0, sizeof st);
    rnn_callbacks_begin(cb, 1, &st);
    st.epochs_done = 2;
    st.batch_size = 4;
    st.learning_rate = 0.00025;
    st.cb[0].best = 0.3125;
    st.cb[0].wait = 1;
    st.cb[0].cooldown = 2;
    st.n_history = 2;
    st.history = calloc(2, sizeof *st.history);
    for (int e = 0; e < 2; e++) {
        st.history[e] = rnn_history_row_empty(e);
        st.history[e].loss = 0.5;
        st.history[e].lr = 0.0005;
        st.history[e].val_auc = 0.875;
    }
    char dir[] = "/tmp/rnnc-cbs-XXXXXX";
    cr_assert(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/ck.st", dir);
    cr_assert_eq(rnn_ckpt_save(path, &tr, &st, 1, err, sizeof err), 0, "%s", err);
    rnn_ckpt_state back;
    memset(&back, 0, sizeof back);
    cr_assert_eq(rnn_ckpt_load(path, &tr, &back, NULL, err, sizeof err), 0, "%s", err);
    cr_expect_eq(back.learning_rate, 0.00025);
    cr_expect_eq(back.cb[0].kind, RNN_CB_REDUCE_LR_ON_PLATEAU);
    cr_expect_eq(back.cb[0].best, 0.3125);
    cr_expect_eq(back.cb[0].wait, 1);
    cr_expect_eq(back.cb[0].cooldown, 2);
    cr_expect_eq(back.history[1].lr, 0.0005, "the history's extra columns come back");
    cr_expect_eq(back.history[1].val_auc, 0.875);
    cr_expect(isnan(back.history[1].auc), "a column never measured stays unmeasured");
    rnn_ckpt_state_free(&back);
    rnn_ckpt_state_free(&st);
    rnn_trainer_free(&tr);
    unlink(path);
    rmdir(dir);
}
