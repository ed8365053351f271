/*
 * arch.c — shape inference, parameter layout and structural checks of an rnn_model.
 *
 * The compiler fills layers and options from a spec (checking types and keywords);
 * everything that is about *values and structure* is checked here, once, so that a
 * model built by hand in C (tests, selftest) gets the same checks and messages.
 */
#include "rnn_arch.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

static const char *const class_names[RNN_LAYER_KIND_COUNT] = {
    "Embedding", "SimpleRNN", "LSTM", "GRU", "Dense", "Dropout"};
static const char *const dsl_names[RNN_LAYER_KIND_COUNT] = {
    "embedding", "simple_rnn", "lstm", "gru", "dense", "dropout"};
static const char *const act_names[RNN_ACT_COUNT] = {
    "linear", "sigmoid", "tanh", "relu", "softmax"};
static const char *const monitor_names[] = {"val_loss", "val_accuracy", "loss", "accuracy"};

const char *rnn_layer_class_name(rnn_layer_kind k) {
    return (unsigned)k < RNN_LAYER_KIND_COUNT ? class_names[k] : "?";
}
const char *rnn_layer_dsl_name(rnn_layer_kind k) {
    return (unsigned)k < RNN_LAYER_KIND_COUNT ? dsl_names[k] : "?";
}
const char *rnn_activation_name(rnn_activation a) {
    return (unsigned)a < RNN_ACT_COUNT ? act_names[a] : "?";
}
const char *rnn_optimizer_name(rnn_optimizer_kind k) {
    static const char *const names[] = {"rmsprop", "adam", "sgd"};
    return (unsigned)k < 3 ? names[k] : "?";
}
const char *rnn_monitor_name(rnn_monitor m) {
    return (unsigned)m < 4 ? monitor_names[m] : "?";
}

void rnn_model_init(rnn_model *m, const char *name, const char *source) {
    /* Copy first: name or source may point into *m itself. */
    char nm[RNN_NAME_MAX], src[RNN_PATH_MAX];
    snprintf(nm, sizeof nm, "%s", name ? name : "sequential");
    snprintf(src, sizeof src, "%s", source ? source : "");
    memset(m, 0, sizeof *m);
    memcpy(m->name, nm, sizeof nm);
    memcpy(m->source, src, sizeof src);
    m->optimizer.kind = RNN_OPT_RMSPROP;
    m->optimizer.learning_rate = 1e-3;
    m->optimizer.rho = 0.9;
    m->optimizer.epsilon = 1e-7;
    m->optimizer.beta_1 = 0.9;
    m->optimizer.beta_2 = 0.999;
    m->loss = RNN_LOSS_BINARY_CROSSENTROPY;
    m->fit.epochs = 1;
    m->fit.batch_size = 32;
    m->fit.shuffle = 1;
}

void rnn_layer_defaults(rnn_layer *l, rnn_layer_kind kind) {
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->activation = (kind == RNN_LAYER_SIMPLE_RNN) ? RNN_ACT_TANH : RNN_ACT_LINEAR;
    l->unit_forget_bias = 1;
    l->reset_after = 1;
    l->dropout_mask = RNN_DROPOUT_PER_STEP;
}

/* ---- error reporting -------------------------------------------------------- */

typedef struct {
    const rnn_model *m;
    char *buf;
    size_t len;
} errctx;

/* "SOURCE:LINE: WHO: message"; the line or the name are left out when unknown. */
static int fail(errctx *e, int line, const char *who, const char *fmt, ...) {
    if (!e->buf || e->len == 0) return -1;
    size_t n = 0;
    int w;
    if (line > 0) w = snprintf(e->buf, e->len, "%s:%d: ", e->m->source, line);
    else w = snprintf(e->buf, e->len, "%s: ", e->m->source);
    if (w > 0) n = (size_t)w < e->len ? (size_t)w : e->len - 1;
    if (who && *who && n < e->len) {
        w = snprintf(e->buf + n, e->len - n, "%s: ", who);
        if (w > 0) n += (size_t)w < e->len - n ? (size_t)w : e->len - n - 1;
    }
    if (n < e->len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->buf + n, e->len - n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int is_identifier(const char *s) {
    if (!s[0] || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return 0;
    for (const char *p = s + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return 0;
    return 1;
}

/* A rate in [0, 1); NaN fails the comparison and is rejected too. */
static int is_rate(double x) { return x >= 0.0 && x < 1.0; }

/* ---- names ---------------------------------------------------------------------- */

void rnn_model_name_layers(rnn_model *m) {
    int counter[RNN_LAYER_KIND_COUNT] = {0};
    for (int i = 0; i < m->n_layers && i < RNN_MAX_LAYERS; i++) {
        rnn_layer *l = &m->layers[i];
        if (l->name[0] || (unsigned)l->kind >= RNN_LAYER_KIND_COUNT) continue;
        int k = counter[l->kind]++;
        if (k == 0) snprintf(l->name, sizeof l->name, "%s", dsl_names[l->kind]);
        else snprintf(l->name, sizeof l->name, "%s_%d", dsl_names[l->kind], k);
    }
}

static int check_names(rnn_model *m, errctx *e) {
    rnn_model_name_layers(m);
    for (int i = 0; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        if (!is_identifier(l->name))
            return fail(e, l->line, NULL, "layer name '%s' is not a C identifier (letters, digits and _, not starting with a digit)", l->name);
        for (int j = 0; j < i; j++)
            if (strcmp(m->layers[j].name, l->name) == 0)
                return fail(e, l->line, NULL, "duplicate layer name '%s' (line %d already uses it)",
                            l->name, m->layers[j].line);
    }
    if (!is_identifier(m->name))
        return fail(e, m->line, NULL, "model name '%s' is not a C identifier (letters, digits and _, not starting with a digit)", m->name);
    return 0;
}

/* ---- per-layer checks and shapes -------------------------------------------------- */

static int check_units(errctx *e, const rnn_layer *l, const char *what, int v, int max) {
    if (v < 1) return fail(e, l->line, l->name, "%s must be a positive integer (got %d)", what, v);
    if (v > max) return fail(e, l->line, l->name, "%s must be at most %d (got %d)", what, max, v);
    return 0;
}

static void add_tensor(rnn_model *m, int li, const char *suffix, int rows, int cols, int rank) {
    rnn_layer *l = &m->layers[li];
    rnn_tensor *t = &m->tensors[m->n_tensors++];
    char layer_name[RNN_NAME_MAX];   /* a copy: gcc's -Wrestrict cannot tell t from l */
    memcpy(layer_name, l->name, sizeof layer_name);
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s/%s", layer_name, suffix);
    t->layer = li;
    t->rank = rank;
    t->shape[0] = rows;
    t->shape[1] = rank == 1 ? 1 : cols;
    t->size = (size_t)t->shape[0] * (size_t)t->shape[1];
    t->offset = m->param_buffer_len;
    m->param_buffer_len += (t->size + RNN_TENSOR_ALIGN - 1) / RNN_TENSOR_ALIGN * RNN_TENSOR_ALIGN;
    l->n_tensors++;
    l->n_params += t->size;
}

static const char *shape_str(char *buf, size_t n, int seq, int T, int F) {
    if (seq) snprintf(buf, n, "(None, %d, %d)", T, F);
    else snprintf(buf, n, "(None, %d)", F);
    return buf;
}

static int layout_layer(rnn_model *m, int i, errctx *e) {
    rnn_layer *l = &m->layers[i];
    const rnn_layer *prev = i > 0 ? &m->layers[i - 1] : NULL;
    l->first_tensor = m->n_tensors;
    l->n_tensors = 0;
    l->n_params = 0;
    l->gates = 0;

    if (l->kind == RNN_LAYER_EMBEDDING) {
        if (i != 0)
            return fail(e, l->line, l->name, "an embedding must be the first layer (it reads the token ids)");
        if (check_units(e, l, "input_dim", l->input_dim, RNN_MAX_VOCAB)) return -1;
        if (check_units(e, l, "output_dim", l->units, RNN_MAX_UNITS)) return -1;
        if (l->input_length == 0)
            return fail(e, l->line, l->name, "input_length is required (rnnc compiles for a fixed sequence length)");
        if (check_units(e, l, "input_length", l->input_length, RNN_MAX_TIMESTEPS)) return -1;
        if (l->mask_zero)
            return fail(e, l->line, l->name, "mask_zero = true is not supported (padding id 0 is an ordinary token, as with Keras's default)");
        l->timesteps = l->input_length;
        l->in_seq = 0;
        l->in_features = 0;
        l->out_seq = 1;
        l->out_features = l->units;
        add_tensor(m, i, "embeddings", l->input_dim, l->units, 2);
        return 0;
    }
    if (!prev)
        return fail(e, l->line, l->name, "the first layer must be an embedding (rnnc models read token ids)");

    l->timesteps = prev->timesteps;
    l->in_seq = prev->out_seq;
    l->in_features = prev->out_features;
    char shape[64];

    switch (l->kind) {
    case RNN_LAYER_SIMPLE_RNN:
    case RNN_LAYER_LSTM:
    case RNN_LAYER_GRU: {
        if (check_units(e, l, "units", l->units, RNN_MAX_UNITS)) return -1;
        if (!l->in_seq)
            return fail(e, l->line, l->name,
                        "input must be a sequence, but %s returns only its last output %s; set return_sequences = true on %s",
                        prev->name, shape_str(shape, sizeof shape, 0, 0, prev->out_features), prev->name);
        if (!is_rate(l->dropout))
            return fail(e, l->line, l->name, "dropout must be in [0, 1) (got %g)", l->dropout);
        if (!is_rate(l->recurrent_dropout))
            return fail(e, l->line, l->name, "recurrent_dropout must be in [0, 1) (got %g)", l->recurrent_dropout);
        if (l->kind == RNN_LAYER_SIMPLE_RNN && (l->activation == RNN_ACT_SOFTMAX || (unsigned)l->activation >= RNN_ACT_COUNT))
            return fail(e, l->line, l->name, "activation must be \"tanh\", \"relu\", \"sigmoid\" or \"linear\"");
        int U = l->units, F = l->in_features;
        l->gates = l->kind == RNN_LAYER_LSTM ? 4 : l->kind == RNN_LAYER_GRU ? 3 : 1;
        l->out_seq = l->return_sequences ? 1 : 0;
        l->out_features = U;
        add_tensor(m, i, "kernel", F, l->gates * U, 2);
        add_tensor(m, i, "recurrent_kernel", U, l->gates * U, 2);
        if (l->kind == RNN_LAYER_GRU && l->reset_after) add_tensor(m, i, "bias", 2, 3 * U, 2);
        else add_tensor(m, i, "bias", l->gates * U, 1, 1);
        return 0;
    }
    case RNN_LAYER_DENSE:
        if (check_units(e, l, "units", l->units, RNN_MAX_UNITS)) return -1;
        if ((unsigned)l->activation >= RNN_ACT_COUNT)
            return fail(e, l->line, l->name, "unknown activation");
        if (l->in_seq) {
            const rnn_layer *src = prev;
            for (int j = i - 1; j > 0 && src->kind == RNN_LAYER_DROPOUT; j--) src = &m->layers[j - 1];
            if (src->kind == RNN_LAYER_EMBEDDING)
                return fail(e, l->line, l->name,
                            "input is a sequence %s; put a recurrent layer (lstm, gru, simple_rnn) before dense",
                            shape_str(shape, sizeof shape, 1, l->timesteps, l->in_features));
            return fail(e, l->line, l->name,
                        "input is a sequence %s, but dense takes one vector per sample; set return_sequences = false on %s",
                        shape_str(shape, sizeof shape, 1, l->timesteps, l->in_features), src->name);
        }
        l->out_seq = 0;
        l->out_features = l->units;
        add_tensor(m, i, "kernel", l->in_features, l->units, 2);
        add_tensor(m, i, "bias", l->units, 1, 1);
        return 0;
    case RNN_LAYER_DROPOUT:
        if (!is_rate(l->dropout))
            return fail(e, l->line, l->name, "rate must be in [0, 1) (got %g)", l->dropout);
        l->out_seq = l->in_seq;
        l->out_features = l->in_features;
        return 0;
    default:
        return fail(e, l->line, NULL, "unknown layer kind %d", (int)l->kind);
    }
}

static int check_output(rnn_model *m, errctx *e) {
    const rnn_layer *out = &m->layers[m->n_layers - 1];
    if (out->kind != RNN_LAYER_DENSE)
        return fail(e, out->line, out->name, "the output layer must be dense (got %s)", dsl_names[out->kind]);
    m->n_outputs = out->units;
    if (m->loss == RNN_LOSS_BINARY_CROSSENTROPY) {
        if (out->units != 1 || out->activation != RNN_ACT_SIGMOID)
            return fail(e, out->line, out->name,
                        "binary_crossentropy needs an output layer with 1 unit and activation = \"sigmoid\" (got %d units, \"%s\")",
                        out->units, act_names[out->activation]);
    } else if (m->loss == RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY) {
        if (out->units < 2 || out->activation != RNN_ACT_SOFTMAX)
            return fail(e, out->line, out->name,
                        "sparse_categorical_crossentropy needs an output layer with at least 2 units and activation = \"softmax\" (got %d units, \"%s\")",
                        out->units, act_names[out->activation]);
    } else {
        return fail(e, 0, NULL, "unknown loss %d", (int)m->loss);
    }
    return 0;
}

static int check_training(rnn_model *m, errctx *e) {
    const rnn_optimizer *o = &m->optimizer;
    const char *on = rnn_optimizer_name(o->kind);
    if (!(o->learning_rate > 0 && isfinite(o->learning_rate)))
        return fail(e, o->line, on, "learning_rate must be a positive number (got %g)", o->learning_rate);
    if (o->kind == RNN_OPT_RMSPROP && !is_rate(o->rho))
        return fail(e, o->line, on, "rho must be in [0, 1) (got %g)", o->rho);
    if (o->kind != RNN_OPT_SGD && !(o->epsilon >= 0 && isfinite(o->epsilon)))
        return fail(e, o->line, on, "epsilon must be a non-negative number (got %g)", o->epsilon);
    if (o->kind == RNN_OPT_ADAM && (!is_rate(o->beta_1) || !is_rate(o->beta_2)))
        return fail(e, o->line, on, "beta_1 and beta_2 must be in [0, 1) (got %g, %g)", o->beta_1, o->beta_2);
    if (o->kind == RNN_OPT_SGD && !(o->momentum >= 0 && o->momentum <= 1))
        return fail(e, o->line, on, "momentum must be in [0, 1] (got %g)", o->momentum);
    if (!(o->clipnorm >= 0 && isfinite(o->clipnorm)) || !(o->global_clipnorm >= 0 && isfinite(o->global_clipnorm)) ||
        !(o->clipvalue >= 0 && isfinite(o->clipvalue)))
        return fail(e, o->line, on, "clipnorm, global_clipnorm and clipvalue must be non-negative numbers");
    /* Keras 2.11+ applies only the first of the three that is set and Keras 3 refuses
     * more than one; refusing is the reading that cannot surprise anybody. */
    if ((o->clipnorm > 0) + (o->global_clipnorm > 0) + (o->clipvalue > 0) > 1)
        return fail(e, o->line, on, "set at most one of clipnorm, global_clipnorm and clipvalue (as Keras 3 requires)");

    rnn_fit_config *f = &m->fit;
    if (f->epochs < 1) return fail(e, m->line, "fit", "epochs must be a positive integer (got %d)", f->epochs);
    if (f->batch_size < 1 || f->batch_size > RNN_MAX_BATCH)
        return fail(e, m->line, "fit", "batch_size must be an integer in [1, %d] (got %d)", RNN_MAX_BATCH, f->batch_size);
    if (!is_rate(f->validation_split))
        return fail(e, m->line, "fit", "validation_split must be in [0, 1) (got %g)", f->validation_split);
    if (f->n_callbacks < 0 || f->n_callbacks > RNN_MAX_CALLBACKS)
        return fail(e, m->line, "fit", "at most %d callbacks", RNN_MAX_CALLBACKS);
    for (int i = 0; i < f->n_callbacks; i++) {
        rnn_callback *c = &f->callbacks[i];
        const char *cn = c->kind == RNN_CB_MODEL_CHECKPOINT ? "model_checkpoint"
                         : c->kind == RNN_CB_EARLY_STOPPING ? "early_stopping" : "csv_logger";
        if ((unsigned)c->monitor > RNN_MONITOR_ACCURACY)
            return fail(e, c->line, cn, "unknown monitor");
        if ((c->monitor == RNN_MONITOR_ACCURACY || c->monitor == RNN_MONITOR_VAL_ACCURACY) && !m->metric_accuracy)
            return fail(e, c->line, cn, "monitor '%s' needs metrics = { \"accuracy\" } in compile", monitor_names[c->monitor]);
        if (c->mode == RNN_MODE_AUTO)   /* Keras: max when the name contains "acc" */
            c->mode = (c->monitor == RNN_MONITOR_ACCURACY || c->monitor == RNN_MONITOR_VAL_ACCURACY) ? RNN_MODE_MAX : RNN_MODE_MIN;
        if (c->kind != RNN_CB_EARLY_STOPPING && !c->path[0])
            return fail(e, c->line, cn, "path must be a non-empty string");
        if (c->kind == RNN_CB_EARLY_STOPPING) {
            if (c->patience < 0) return fail(e, c->line, cn, "patience must be a non-negative integer (got %d)", c->patience);
            if (c->start_from_epoch < 0) return fail(e, c->line, cn, "start_from_epoch must be a non-negative integer (got %d)", c->start_from_epoch);
            if (!isfinite(c->min_delta)) return fail(e, c->line, cn, "min_delta must be a finite number");
            c->min_delta = fabs(c->min_delta);   /* Keras takes abs(min_delta) */
        }
    }
    return 0;
}

int rnn_model_layout(rnn_model *m, char *err, size_t errlen) {
    errctx e = {m, err, errlen};
    if (err && errlen) err[0] = 0;
    if (m->n_layers < 1) return fail(&e, 0, NULL, "the model has no layers");
    if (m->n_layers > RNN_MAX_LAYERS)
        return fail(&e, 0, NULL, "the model has %d layers, more than the limit of %d", m->n_layers, RNN_MAX_LAYERS);
    if (check_names(m, &e)) return -1;
    m->n_tensors = 0;
    m->param_buffer_len = 0;
    m->n_params = 0;
    for (int i = 0; i < m->n_layers; i++) {
        if (layout_layer(m, i, &e)) return -1;
        m->n_params += m->layers[i].n_params;
        if (m->n_params > RNN_MAX_PARAMS)
            return fail(&e, m->layers[i].line, m->layers[i].name,
                        "the model reaches %zu parameters here, more than the limit of %d", m->n_params, RNN_MAX_PARAMS);
    }
    m->timesteps = m->layers[0].timesteps;
    m->vocab = m->layers[0].input_dim;
    if (check_output(m, &e)) return -1;
    return check_training(m, &e);
}

int rnn_model_find_tensor(const rnn_model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return i;
    return -1;
}

/* ---- hash ----------------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}
static uint64_t fnv_int(uint64_t h, long long v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((unsigned long long)v >> (8 * i));
    return fnv(h, b, 8);
}

uint64_t rnn_model_hash(const rnn_model *m) {
    uint64_t h = 14695981039346656037ull;
    h = fnv_int(h, m->n_layers);
    for (int i = 0; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        h = fnv_int(h, l->kind);
        h = fnv_int(h, l->units);
        h = fnv_int(h, l->input_dim);
        h = fnv_int(h, l->input_length);
        h = fnv_int(h, l->activation);
        h = fnv_int(h, l->return_sequences);
        h = fnv_int(h, l->reset_after);
        h = fnv_int(h, l->unit_forget_bias);
    }
    h = fnv_int(h, m->n_tensors);
    for (int i = 0; i < m->n_tensors; i++) {
        const rnn_tensor *t = &m->tensors[i];
        h = fnv(h, t->name, strlen(t->name));
        h = fnv_int(h, t->shape[0]);
        h = fnv_int(h, t->shape[1]);
    }
    return h;
}

/* ---- summary -------------------------------------------------------------------- */

static void human_bytes(char *buf, size_t n, double bytes) {
    if (bytes < 1024) snprintf(buf, n, "%.2f Byte", bytes);
    else if (bytes < 1024.0 * 1024) snprintf(buf, n, "%.2f KB", bytes / 1024);
    else if (bytes < 1024.0 * 1024 * 1024) snprintf(buf, n, "%.2f MB", bytes / (1024.0 * 1024));
    else snprintf(buf, n, "%.2f GB", bytes / (1024.0 * 1024 * 1024));
}

void rnn_model_summary(const rnn_model *m, FILE *out) {
    static const char rule[] = "_________________________________________________________________";
    static const char dbl[] = "=================================================================";
    fprintf(out, "Model: \"%s\"\n%s\n", m->name, rule);
    fprintf(out, " %-27s %-25s %-10s\n%s\n", "Layer (type)", "Output Shape", "Param #", dbl);
    for (int i = 0; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        char col[80], shape[64];
        snprintf(col, sizeof col, "%s (%s)", l->name, class_names[l->kind]);
        shape_str(shape, sizeof shape, l->out_seq, l->timesteps, l->out_features);
        fprintf(out, " %-27s %-25s %-10zu\n", col, shape, l->n_params);
        if (i + 1 < m->n_layers) fprintf(out, "%65s\n", "");
    }
    char b[32];
    human_bytes(b, sizeof b, 4.0 * (double)m->n_params);
    fprintf(out, "%s\nTotal params: %zu (%s)\nTrainable params: %zu (%s)\n", dbl, m->n_params, b, m->n_params, b);
    fprintf(out, "Non-trainable params: 0 (0.00 Byte)\n%s\n", rule);
}
