/*
 * training.c — the checks of a model's training configuration (compile = { ... } and
 * fit = { ... }): the optimizer and its learning-rate schedule, the metrics, the
 * callbacks, the class weights. Like the layout's, every message is "SOURCE:LINE: WHO:
 * message"; the compile and fit tables are blamed on the sequential line.
 */
#include "model/kind.h"

#include <math.h>
#include <stdio.h>

static int positive(double x) { return x > 0 && isfinite(x); }

/* Keras's schedules take any finite decay_rate and alpha; rnnc asks for what keeps the
 * rate positive and finite at every step, the trainer's invariant. */
static int check_schedule(rnn_layout *c, const rnn_optimizer *o) {
    const rnn_lr_schedule *s = &o->schedule;
    const char *sn = rnn_schedule_name(s->kind);
    switch (s->kind) {
    case RNN_SCHEDULE_NONE: return 0;
    case RNN_SCHEDULE_EXPONENTIAL_DECAY:
    case RNN_SCHEDULE_INVERSE_TIME_DECAY:
    case RNN_SCHEDULE_COSINE_DECAY:
        if (!positive(s->initial_learning_rate))
            return rnn_layout_fail(c, s->line, sn, "initial_learning_rate must be a positive number (got %g)",
                                   s->initial_learning_rate);
        if (!positive(s->decay_steps))
            return rnn_layout_fail(c, s->line, sn, "decay_steps must be a positive number (got %g)", s->decay_steps);
        if (s->kind == RNN_SCHEDULE_COSINE_DECAY) {
            if (!(s->alpha >= 0 && s->alpha <= 1))
                return rnn_layout_fail(c, s->line, sn, "alpha must be in [0, 1] (got %g)", s->alpha);
        } else if (s->kind == RNN_SCHEDULE_EXPONENTIAL_DECAY && !positive(s->decay_rate)) {
            return rnn_layout_fail(c, s->line, sn, "decay_rate must be a positive number (got %g)", s->decay_rate);
        } else if (s->kind == RNN_SCHEDULE_INVERSE_TIME_DECAY && !(s->decay_rate >= 0 && isfinite(s->decay_rate))) {
            return rnn_layout_fail(c, s->line, sn, "decay_rate must be a non-negative number (got %g)", s->decay_rate);
        }
        return 0;
    case RNN_SCHEDULE_PIECEWISE_CONSTANT_DECAY:
        if (s->n_boundaries < 1 || s->n_boundaries > RNN_MAX_BOUNDARIES)
            return rnn_layout_fail(c, s->line, sn, "boundaries must hold 1 to %d steps (got %d)", RNN_MAX_BOUNDARIES,
                                   s->n_boundaries);
        for (int i = 0; i < s->n_boundaries; i++)
            if (!(s->boundaries[i] >= 0 && isfinite(s->boundaries[i])) || (i > 0 && !(s->boundaries[i] > s->boundaries[i - 1])))
                return rnn_layout_fail(c, s->line, sn, "boundaries must be non-negative and strictly increasing (boundary %d is %g)",
                                       i + 1, s->boundaries[i]);
        for (int i = 0; i <= s->n_boundaries; i++)
            if (!positive(s->values[i]))
                return rnn_layout_fail(c, s->line, sn, "values must be positive numbers (value %d is %g)", i + 1, s->values[i]);
        return 0;
    default: return rnn_layout_fail(c, s->line, NULL, "unknown learning-rate schedule %d", (int)s->kind);
    }
}

static int check_optimizer(rnn_layout *c) {
    const rnn_optimizer *o = &c->m->optimizer;
    const char *on = rnn_optimizer_name(o->kind);
    if (o->schedule.kind == RNN_SCHEDULE_NONE && !(o->learning_rate > 0 && isfinite(o->learning_rate)))
        return rnn_layout_fail(c, o->line, on, "learning_rate must be a positive number (got %g)", o->learning_rate);
    if (check_schedule(c, o)) return -1;
    if (o->kind == RNN_OPT_RMSPROP && !rnn_is_rate(o->rho))
        return rnn_layout_fail(c, o->line, on, "rho must be in [0, 1) (got %g)", o->rho);
    if (o->kind != RNN_OPT_SGD && !(o->epsilon >= 0 && isfinite(o->epsilon)))
        return rnn_layout_fail(c, o->line, on, "epsilon must be a non-negative number (got %g)", o->epsilon);
    if (o->kind == RNN_OPT_ADAM && (!rnn_is_rate(o->beta_1) || !rnn_is_rate(o->beta_2)))
        return rnn_layout_fail(c, o->line, on, "beta_1 and beta_2 must be in [0, 1) (got %g, %g)", o->beta_1, o->beta_2);
    if (o->kind == RNN_OPT_SGD && !(o->momentum >= 0 && o->momentum <= 1))
        return rnn_layout_fail(c, o->line, on, "momentum must be in [0, 1] (got %g)", o->momentum);
    if (!(o->clipnorm >= 0 && isfinite(o->clipnorm)) || !(o->global_clipnorm >= 0 && isfinite(o->global_clipnorm)) ||
        !(o->clipvalue >= 0 && isfinite(o->clipvalue)))
        return rnn_layout_fail(c, o->line, on, "clipnorm, global_clipnorm and clipvalue must be non-negative numbers");
    /* Keras refuses some combinations and silently ignores others (docs/keras-semantics.md,
     * Gradient clipping); refusing every one cannot surprise anybody. */
    if ((o->clipnorm > 0) + (o->global_clipnorm > 0) + (o->clipvalue > 0) > 1)
        return rnn_layout_fail(c, o->line, on, "set at most one of clipnorm, global_clipnorm and clipvalue (as Keras 3 requires)");
    if ((unsigned)o->embedding_clip > RNN_EMBEDDING_CLIP_SUMMED)
        return rnn_layout_fail(c, o->line, on, "unknown embedding_clip %d", (int)o->embedding_clip);
    return 0;
}

/* Which accuracy "accuracy" is (and what the models count as correct without it), as Keras picks it (compile_utils.MetricsContainer.
 * _get_metric_object): binary for one output, sparse for class-index labels, else
 * categorical (a multi-label sigmoid output included); an explicit name must fit. */
static int check_metrics(rnn_layout *c) {
    rnn_model *m = c->m;
    const int multi = m->n_outputs > 1;
    const rnn_accuracy_kind fits = !multi ? RNN_ACCURACY_BINARY
                                   : m->loss == RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY ? RNN_ACCURACY_SPARSE_CATEGORICAL
                                                                                         : RNN_ACCURACY_CATEGORICAL;
    if (m->metric_accuracy) {
        rnn_accuracy_kind want = m->accuracy_kind;
        int ok = want == RNN_ACCURACY_AUTO || want == fits ||
                 (want == RNN_ACCURACY_BINARY && m->loss == RNN_LOSS_BINARY_CROSSENTROPY);
        if ((unsigned)want > RNN_ACCURACY_CATEGORICAL) ok = 0;
        if (!ok) {
            static const char *const names[] = {"accuracy", "binary_accuracy", "sparse_categorical_accuracy",
                                                "categorical_accuracy"};
            return rnn_layout_fail(c, m->line, "compile", "metric \"%s\" does not fit loss \"%s\" with %d output%s; use \"accuracy\"",
                                   (unsigned)want <= RNN_ACCURACY_CATEGORICAL ? names[want] : "?", rnn_loss_name(m->loss),
                                   m->n_outputs, multi ? "s" : "");
        }
        if (want == RNN_ACCURACY_AUTO) m->accuracy_kind = fits;
    } else {
        m->accuracy_kind = fits;   /* the models count correct predictions all the same */
    }
    if (m->metrics & ~(RNN_METRIC_AUC | RNN_METRIC_PRECISION | RNN_METRIC_RECALL))
        return rnn_layout_fail(c, m->line, "compile", "unknown metrics %#x", (unsigned)m->metrics);
    if (m->metrics && m->loss == RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY)
        return rnn_layout_fail(c, m->line, "compile",
                               "auc, precision and recall need labels shaped like the output: use \"categorical_crossentropy\" "
                               "with one-hot labels, or \"binary_crossentropy\"");
    return 0;
}

/* The metric a monitor reads is measured. */
static int monitored(const rnn_model *m, rnn_monitor mon) {
    switch (mon) {
    case RNN_MONITOR_VAL_LOSS:
    case RNN_MONITOR_LOSS: return 1;
    case RNN_MONITOR_VAL_ACCURACY:
    case RNN_MONITOR_ACCURACY: return m->metric_accuracy;
    case RNN_MONITOR_VAL_AUC:
    case RNN_MONITOR_AUC: return (m->metrics & RNN_METRIC_AUC) != 0;
    case RNN_MONITOR_VAL_PRECISION:
    case RNN_MONITOR_PRECISION: return (m->metrics & RNN_METRIC_PRECISION) != 0;
    case RNN_MONITOR_VAL_RECALL:
    case RNN_MONITOR_RECALL: return (m->metrics & RNN_METRIC_RECALL) != 0;
    default: return 0;
    }
}

static const char *metric_of(rnn_monitor mon) {
    const char *n = rnn_monitor_name(mon);
    return n[0] == 'v' && n[1] == 'a' && n[2] == 'l' && n[3] == '_' ? n + 4 : n;
}

static int check_callbacks(rnn_layout *c) {
    rnn_model *m = c->m;
    rnn_fit_config *f = &m->fit;
    if (f->n_callbacks < 0 || f->n_callbacks > RNN_MAX_CALLBACKS)
        return rnn_layout_fail(c, m->line, "fit", "at most %d callbacks", RNN_MAX_CALLBACKS);
    for (int i = 0; i < f->n_callbacks; i++) {
        rnn_callback *cb = &f->callbacks[i];
        const char *cn = rnn_callback_name(cb->kind);
        if ((unsigned)cb->kind > RNN_CB_REDUCE_LR_ON_PLATEAU) return rnn_layout_fail(c, cb->line, NULL, "unknown callback");
        if ((unsigned)cb->monitor >= RNN_MONITOR_COUNT) return rnn_layout_fail(c, cb->line, cn, "unknown monitor");
        if (cb->kind != RNN_CB_CSV_LOGGER && !monitored(m, cb->monitor))
            return rnn_layout_fail(c, cb->line, cn, "monitor '%s' needs metrics = { \"%s\" } in compile",
                                   rnn_monitor_name(cb->monitor), metric_of(cb->monitor));
        /* mode "auto": max for the metrics that grow as the model improves. Keras 2 reads
         * the name ("acc" in it); rnnc also maximizes auc, precision and recall, as Keras 3
         * does by the metric's direction (docs/keras-semantics.md, ModelCheckpoint). */
        int up = cb->monitor != RNN_MONITOR_LOSS && cb->monitor != RNN_MONITOR_VAL_LOSS;
        if (cb->mode == RNN_MODE_AUTO) cb->mode = up ? RNN_MODE_MAX : RNN_MODE_MIN;
        if ((cb->kind == RNN_CB_MODEL_CHECKPOINT || cb->kind == RNN_CB_CSV_LOGGER) && !cb->path[0])
            return rnn_layout_fail(c, cb->line, cn, "path must be a non-empty string");
        if (cb->kind == RNN_CB_EARLY_STOPPING || cb->kind == RNN_CB_REDUCE_LR_ON_PLATEAU) {
            if (cb->patience < 0) return rnn_layout_fail(c, cb->line, cn, "patience must be a non-negative integer (got %d)", cb->patience);
            if (!isfinite(cb->min_delta)) return rnn_layout_fail(c, cb->line, cn, "min_delta must be a finite number");
        }
        if (cb->kind == RNN_CB_EARLY_STOPPING) {
            if (cb->start_from_epoch < 0)
                return rnn_layout_fail(c, cb->line, cn, "start_from_epoch must be a non-negative integer (got %d)", cb->start_from_epoch);
            cb->min_delta = fabs(cb->min_delta);   /* Keras takes abs(min_delta) */
        }
        if (cb->kind == RNN_CB_REDUCE_LR_ON_PLATEAU) {
            /* Keras: "ReduceLROnPlateau does not support a factor >= 1.0" */
            if (!(cb->factor > 0 && cb->factor < 1))
                return rnn_layout_fail(c, cb->line, cn, "factor must be in (0, 1) (got %g)", cb->factor);
            if (cb->cooldown < 0) return rnn_layout_fail(c, cb->line, cn, "cooldown must be a non-negative integer (got %d)", cb->cooldown);
            if (!(cb->min_lr >= 0 && isfinite(cb->min_lr)))
                return rnn_layout_fail(c, cb->line, cn, "min_lr must be a non-negative number (got %g)", cb->min_lr);
            /* Keras 2.11+ optimizers refuse to set a rate that a schedule computes */
            if (m->optimizer.schedule.kind != RNN_SCHEDULE_NONE)
                return rnn_layout_fail(c, cb->line, cn, "the optimizer's learning_rate is the schedule %s, which decides "
                                       "every step's rate: reduce_lr_on_plateau cannot change it (as in Keras)",
                                       rnn_schedule_name(m->optimizer.schedule.kind));
        }
    }
    return 0;
}

/* class_weight: Keras's keys run from 0 to one less than the number of classes
 * (data_adapter._make_class_weight_map_fn); a weight is a non-negative number. */
static int check_class_weights(rnn_layout *c) {
    const rnn_model *m = c->m;
    const rnn_fit_config *f = &m->fit;
    if (f->n_class_weights == 0) return 0;
    const int classes = m->n_outputs > 1 ? m->n_outputs : 2;
    if (f->n_class_weights < 0 || f->n_class_weights > classes || f->n_class_weights > RNN_MAX_CLASS_WEIGHTS)
        return rnn_layout_fail(c, m->line, "fit", "class_weight has %d classes, but the model has %d", f->n_class_weights,
                               classes);
    for (int k = 0; k < f->n_class_weights; k++)
        if (!(f->class_weight[k] >= 0 && isfinite(f->class_weight[k])))
            return rnn_layout_fail(c, m->line, "fit", "class_weight[%d] must be a non-negative number (got %g)", k,
                                   f->class_weight[k]);
    return 0;
}

int rnn_layout_training(rnn_layout *c) {
    rnn_model *m = c->m;
    rnn_fit_config *f = &m->fit;
    if (check_optimizer(c) || check_metrics(c)) return -1;
    if (f->epochs < 1) return rnn_layout_fail(c, m->line, "fit", "epochs must be a positive integer (got %d)", f->epochs);
    if (f->batch_size < 1 || f->batch_size > RNN_MAX_BATCH)
        return rnn_layout_fail(c, m->line, "fit", "batch_size must be an integer in [1, %d] (got %d)", RNN_MAX_BATCH, f->batch_size);
    if (!rnn_is_rate(f->validation_split))
        return rnn_layout_fail(c, m->line, "fit", "validation_split must be in [0, 1) (got %g)", f->validation_split);
    if (check_class_weights(c)) return -1;
    return check_callbacks(c);
}
