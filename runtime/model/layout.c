/*
 * layout.c — shape inference, parameter layout and structural checks of an rnn_model.
 *
 * The compiler fills layers and options from a spec (checking types and keywords);
 * everything about values and structure is checked here, once, so that a model built
 * by hand in C (tests, selftest) gets the same checks and messages. Each layer's own
 * part is its kind's layout (runtime/layers/); this file does the rest.
 */
#include "model/kind.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors and tensors, for the kinds ---------------------------------------------- */

static int vfail(rnn_layout *c, int line, const char *who, const char *fmt, va_list ap) {
    if (!c->err || c->errlen == 0) return -1;
    size_t n = 0;
    int w;
    if (line > 0) w = snprintf(c->err, c->errlen, "%s:%d: ", c->m->source, line);
    else w = snprintf(c->err, c->errlen, "%s: ", c->m->source);
    if (w > 0) n = (size_t)w < c->errlen ? (size_t)w : c->errlen - 1;
    if (who && *who && n < c->errlen) {
        w = snprintf(c->err + n, c->errlen - n, "%s: ", who);
        if (w > 0) n += (size_t)w < c->errlen - n ? (size_t)w : c->errlen - n - 1;
    }
    if (n < c->errlen) vsnprintf(c->err + n, c->errlen - n, fmt, ap);
    return -1;
}

int rnn_layout_fail(rnn_layout *c, int line, const char *who, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(c, line, who, fmt, ap);
    va_end(ap);
    return -1;
}

int rnn_layout_error(rnn_layout *c, const char *fmt, ...) {
    const rnn_layer *l = &c->m->layers[c->index];
    va_list ap;
    va_start(ap, fmt);
    vfail(c, l->line, l->name, fmt, ap);
    va_end(ap);
    return -1;
}

void rnn_layout_tensor(rnn_layout *c, const char *suffix, int rows, int cols, int rank, rnn_init_kind init) {
    rnn_model *m = c->m;
    rnn_layer *l = &m->layers[c->index];
    if (m->n_tensors >= RNN_MAX_TENSORS) {   /* a kind with more tensors than RNN_MAX_TENSORS allows */
        fprintf(stderr, "rnnrt: more than %d tensors in a model\n", RNN_MAX_TENSORS);
        abort();
    }
    rnn_tensor *t = &m->tensors[m->n_tensors++];
    char layer_name[RNN_NAME_MAX];   /* a copy: gcc's -Wrestrict cannot tell t from l */
    memcpy(layer_name, l->name, sizeof layer_name);
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s/%s", layer_name, suffix);
    t->layer = c->index;
    t->rank = rank;
    t->shape[0] = rows;
    t->shape[1] = rank == 1 ? 1 : cols;
    t->size = (size_t)t->shape[0] * (size_t)t->shape[1];
    t->offset = m->param_buffer_len;
    t->init = init;
    m->param_buffer_len += (t->size + RNN_TENSOR_ALIGN - 1) / RNN_TENSOR_ALIGN * RNN_TENSOR_ALIGN;
    l->n_tensors++;
    l->n_params += t->size;
}

int rnn_layout_units(rnn_layout *c, const char *what, int v, int max) {
    if (v < 1) return rnn_layout_error(c, "%s must be a positive integer (got %d)", what, v);
    if (v > max) return rnn_layout_error(c, "%s must be at most %d (got %d)", what, max, v);
    return 0;
}

/* A rate in [0, 1); NaN fails the comparison and is rejected too. */
int rnn_is_rate(double x) { return x >= 0.0 && x < 1.0; }

const char *rnn_shape_str(char *buf, size_t n, int seq, int T, int F) {
    if (seq) snprintf(buf, n, "(None, %d, %d)", T, F);
    else snprintf(buf, n, "(None, %d)", F);
    return buf;
}

/* ---- names ---------------------------------------------------------------------------- */

static int is_identifier(const char *s) {
    if (!s[0] || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return 0;
    for (const char *p = s + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return 0;
    return 1;
}

static int check_names(rnn_layout *c) {
    rnn_model *m = c->m;
    rnn_model_name_layers(m);
    for (int i = 0; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        if (!is_identifier(l->name))
            return rnn_layout_fail(c, l->line, NULL, "layer name '%s' is not a C identifier (letters, digits and _, not starting with a digit)", l->name);
        for (int j = 0; j < i; j++)
            if (strcmp(m->layers[j].name, l->name) == 0)
                return rnn_layout_fail(c, l->line, NULL, "duplicate layer name '%s' (line %d already uses it)",
                                       l->name, m->layers[j].line);
    }
    if (!is_identifier(m->name))
        return rnn_layout_fail(c, m->line, NULL, "model name '%s' is not a C identifier (letters, digits and _, not starting with a digit)", m->name);
    return 0;
}

/* ---- one layer ------------------------------------------------------------------------------ */

static int layout_layer(rnn_layout *c, int i) {
    rnn_model *m = c->m;
    rnn_layer *l = &m->layers[i];
    c->index = i;
    c->prev = i > 0 ? &m->layers[i - 1] : NULL;
    l->first_tensor = m->n_tensors;
    l->n_tensors = 0;
    l->n_params = 0;
    l->gates = 0;
    if ((unsigned)l->kind >= RNN_LAYER_KIND_COUNT) return rnn_layout_fail(c, l->line, NULL, "unknown layer kind %d", (int)l->kind);
    if (i == 0 && l->kind != RNN_LAYER_EMBEDDING)
        return rnn_layout_error(c, "the first layer must be an embedding (rnnc models read token ids)");
    if (i > 0 && l->kind == RNN_LAYER_EMBEDDING)
        return rnn_layout_error(c, "an embedding must be the first layer (it reads the token ids)");
    if (c->prev) {
        l->timesteps = c->prev->timesteps;
        l->in_seq = c->prev->out_seq;
        l->in_features = c->prev->out_features;
    }
    return rnn_kind_of(l->kind)->layout(c, l);
}

/* ---- the output layer and the training configuration ---------------------------------------- */

static int check_output(rnn_layout *c) {
    rnn_model *m = c->m;
    const rnn_layer *out = &m->layers[m->n_layers - 1];
    if (out->kind != RNN_LAYER_DENSE)
        return rnn_layout_fail(c, out->line, out->name, "the output layer must be dense (got %s)", rnn_layer_dsl_name(out->kind));
    m->n_outputs = out->units;
    if (m->loss == RNN_LOSS_BINARY_CROSSENTROPY) {
        if (out->units != 1 || out->activation != RNN_ACT_SIGMOID)
            return rnn_layout_fail(c, out->line, out->name,
                                   "binary_crossentropy needs an output layer with 1 unit and activation = \"sigmoid\" (got %d units, \"%s\")",
                                   out->units, rnn_activation_name(out->activation));
    } else if (m->loss == RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY) {
        if (out->units < 2 || out->activation != RNN_ACT_SOFTMAX)
            return rnn_layout_fail(c, out->line, out->name,
                                   "sparse_categorical_crossentropy needs an output layer with at least 2 units and activation = \"softmax\" (got %d units, \"%s\")",
                                   out->units, rnn_activation_name(out->activation));
    } else {
        return rnn_layout_fail(c, 0, NULL, "unknown loss %d", (int)m->loss);
    }
    return 0;
}

static int check_optimizer(rnn_layout *c) {
    const rnn_optimizer *o = &c->m->optimizer;
    const char *on = rnn_optimizer_name(o->kind);
    if (!(o->learning_rate > 0 && isfinite(o->learning_rate)))
        return rnn_layout_fail(c, o->line, on, "learning_rate must be a positive number (got %g)", o->learning_rate);
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
    return 0;
}

static int check_callbacks(rnn_layout *c) {
    rnn_model *m = c->m;
    rnn_fit_config *f = &m->fit;
    if (f->n_callbacks < 0 || f->n_callbacks > RNN_MAX_CALLBACKS)
        return rnn_layout_fail(c, m->line, "fit", "at most %d callbacks", RNN_MAX_CALLBACKS);
    for (int i = 0; i < f->n_callbacks; i++) {
        rnn_callback *cb = &f->callbacks[i];
        const char *cn = cb->kind == RNN_CB_MODEL_CHECKPOINT ? "model_checkpoint"
                         : cb->kind == RNN_CB_EARLY_STOPPING ? "early_stopping" : "csv_logger";
        if ((unsigned)cb->monitor > RNN_MONITOR_ACCURACY) return rnn_layout_fail(c, cb->line, cn, "unknown monitor");
        int acc = cb->monitor == RNN_MONITOR_ACCURACY || cb->monitor == RNN_MONITOR_VAL_ACCURACY;
        if (acc && !m->metric_accuracy)
            return rnn_layout_fail(c, cb->line, cn, "monitor '%s' needs metrics = { \"accuracy\" } in compile",
                                   rnn_monitor_name(cb->monitor));
        if (cb->mode == RNN_MODE_AUTO) cb->mode = acc ? RNN_MODE_MAX : RNN_MODE_MIN;   /* Keras: max when the name has "acc" */
        if (cb->kind != RNN_CB_EARLY_STOPPING && !cb->path[0]) return rnn_layout_fail(c, cb->line, cn, "path must be a non-empty string");
        if (cb->kind == RNN_CB_EARLY_STOPPING) {
            if (cb->patience < 0) return rnn_layout_fail(c, cb->line, cn, "patience must be a non-negative integer (got %d)", cb->patience);
            if (cb->start_from_epoch < 0)
                return rnn_layout_fail(c, cb->line, cn, "start_from_epoch must be a non-negative integer (got %d)", cb->start_from_epoch);
            if (!isfinite(cb->min_delta)) return rnn_layout_fail(c, cb->line, cn, "min_delta must be a finite number");
            cb->min_delta = fabs(cb->min_delta);   /* Keras takes abs(min_delta) */
        }
    }
    return 0;
}

static int check_training(rnn_layout *c) {
    rnn_model *m = c->m;
    rnn_fit_config *f = &m->fit;
    if (check_optimizer(c)) return -1;
    if (f->epochs < 1) return rnn_layout_fail(c, m->line, "fit", "epochs must be a positive integer (got %d)", f->epochs);
    if (f->batch_size < 1 || f->batch_size > RNN_MAX_BATCH)
        return rnn_layout_fail(c, m->line, "fit", "batch_size must be an integer in [1, %d] (got %d)", RNN_MAX_BATCH, f->batch_size);
    if (!rnn_is_rate(f->validation_split))
        return rnn_layout_fail(c, m->line, "fit", "validation_split must be in [0, 1) (got %g)", f->validation_split);
    return check_callbacks(c);
}

int rnn_model_layout(rnn_model *m, char *err, size_t errlen) {
    rnn_layout c = {m, 0, NULL, err, errlen};
    if (err && errlen) err[0] = 0;
    if (m->n_layers < 1) return rnn_layout_fail(&c, 0, NULL, "the model has no layers");
    if (m->n_layers > RNN_MAX_LAYERS)
        return rnn_layout_fail(&c, 0, NULL, "the model has %d layers, more than the limit of %d", m->n_layers, RNN_MAX_LAYERS);
    if (check_names(&c)) return -1;
    m->n_tensors = 0;
    m->param_buffer_len = 0;
    m->n_params = 0;
    for (int i = 0; i < m->n_layers; i++) {
        if (layout_layer(&c, i)) return -1;
        m->n_params += m->layers[i].n_params;
        if (m->n_params > RNN_MAX_PARAMS)
            return rnn_layout_fail(&c, m->layers[i].line, m->layers[i].name,
                                   "the model reaches %zu parameters here, more than the limit of %d", m->n_params, RNN_MAX_PARAMS);
    }
    m->timesteps = m->layers[0].timesteps;
    m->vocab = m->layers[0].input_dim;
    if (check_output(&c)) return -1;
    return check_training(&c);
}
