/*
 * model.c — a model description's defaults, names and options (rnn_arch.h).
 */
#include "model/kind.h"

#include <stdio.h>
#include <string.h>

static const char *const act_names[RNN_ACT_COUNT] = {"linear", "sigmoid", "tanh", "relu", "softmax"};
static const char *const monitor_names[RNN_MONITOR_COUNT] = {"val_loss", "val_accuracy", "loss", "accuracy",
                                                             "val_auc", "auc", "val_precision", "precision",
                                                             "val_recall", "recall"};
static const char *const loss_names[] = {"binary_crossentropy", "sparse_categorical_crossentropy",
                                         "categorical_crossentropy"};
static const char *const callback_names[] = {"model_checkpoint", "early_stopping", "csv_logger", "reduce_lr_on_plateau"};
static const char *const schedule_names[RNN_SCHEDULE_COUNT] = {"constant", "exponential_decay", "inverse_time_decay",
                                                               "piecewise_constant_decay", "cosine_decay"};
static const char *const optimizer_names[] = {"rmsprop", "adam", "sgd"};
static const char *const merge_names[RNN_MERGE_COUNT] = {"concat", "sum", "mul", "ave", "none"};
static const char *const padding_names[RNN_PADDING_COUNT] = {"valid", "same", "causal"};

const char *rnn_activation_name(rnn_activation a) {
    return (unsigned)a < RNN_ACT_COUNT ? act_names[a] : "?";
}
const char *rnn_padding_name(rnn_padding p) {
    return (unsigned)p < RNN_PADDING_COUNT ? padding_names[p] : "?";
}
const char *rnn_merge_mode_name(rnn_merge_mode m) {
    return (unsigned)m < RNN_MERGE_COUNT ? merge_names[m] : "?";
}
const char *rnn_optimizer_name(rnn_optimizer_kind k) {
    return (unsigned)k < 3 ? optimizer_names[k] : "?";
}
const char *rnn_monitor_name(rnn_monitor m) {
    return (unsigned)m < RNN_MONITOR_COUNT ? monitor_names[m] : "?";
}
const char *rnn_loss_name(rnn_loss_kind k) {
    return (unsigned)k <= RNN_LOSS_CATEGORICAL_CROSSENTROPY ? loss_names[k] : "?";
}
const char *rnn_callback_name(rnn_callback_kind k) {
    return (unsigned)k <= RNN_CB_REDUCE_LR_ON_PLATEAU ? callback_names[k] : "?";
}
const char *rnn_schedule_name(rnn_schedule_kind k) {
    return (unsigned)k < RNN_SCHEDULE_COUNT ? schedule_names[k] : "?";
}

const rnn_option_info rnn_layer_options[] = {
#define OPTION_INFO_(type, name, value, hashed) {#name, value, hashed, offsetof(rnn_layer, name)},
    RNN_LAYER_OPTIONS(OPTION_INFO_)
#undef OPTION_INFO_
};
const int rnn_layer_option_count = (int)(sizeof rnn_layer_options / sizeof rnn_layer_options[0]);

double rnn_option_value(const rnn_layer *l, const rnn_option_info *o) {
    const char *p = (const char *)l + o->offset;
    if (o->value == RNN_VALUE_REAL) {
        double d;
        memcpy(&d, p, sizeof d);
        return d;
    }
    int v;   /* int, bool and the enums (int-sized: their values are small) */
    _Static_assert(sizeof(rnn_activation) == sizeof(int) && sizeof(rnn_dropout_mask) == sizeof(int) &&
                       sizeof(rnn_layer_kind) == sizeof(int) && sizeof(rnn_merge_mode) == sizeof(int) &&
                       sizeof(rnn_padding) == sizeof(int),
                   "enum options are read as int");
    memcpy(&v, p, sizeof v);
    return v;
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

/* Every option starts at its Keras default (0 for most; the two booleans that Keras
 * turns on are on for every kind, so that the model hash does not depend on which kind
 * takes them), then the kind's own defaults. */
void rnn_layer_defaults(rnn_layer *l, rnn_layer_kind kind) {
    memset(l, 0, sizeof *l);
    l->kind = kind;
    l->unit_forget_bias = 1;
    l->reset_after = 1;
    l->dropout_mask = RNN_DROPOUT_PER_STEP;
    if (rnn_kind_of(kind)->defaults) rnn_kind_of(kind)->defaults(l);
}

/* "kind", "kind_1", ... into name (RNN_NAME_MAX bytes), the kind's counter advanced. */
static void default_name(char *name, rnn_layer_kind kind, int *counter) {
    int k = counter[kind]++;
    if (k == 0) snprintf(name, RNN_NAME_MAX, "%s", rnn_layer_dsl_name(kind));
    else snprintf(name, RNN_NAME_MAX, "%s_%d", rnn_layer_dsl_name(kind), k);
}

void rnn_model_name_layers(rnn_model *m) {
    int counter[RNN_LAYER_KIND_COUNT] = {0};
    for (int i = 0; i < m->n_layers && i < RNN_MAX_LAYERS; i++) {
        rnn_layer *l = &m->layers[i];
        if ((unsigned)l->kind >= RNN_LAYER_KIND_COUNT) continue;
        if (l->wrapped && !l->wrapped_name[0] && (unsigned)l->wrapped < RNN_LAYER_KIND_COUNT)
            default_name(l->wrapped_name, l->wrapped, counter);
        if (!l->name[0]) default_name(l->name, l->kind, counter);
    }
}

int rnn_model_find_tensor(const rnn_model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return i;
    return -1;
}
