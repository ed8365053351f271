/*
 * model.c — a model description's defaults, names and options (rnn_arch.h).
 */
#include "model/kind.h"

#include <stdio.h>
#include <string.h>

static const char *const act_names[RNN_ACT_COUNT] = {"linear", "sigmoid", "tanh", "relu", "softmax"};
static const char *const monitor_names[] = {"val_loss", "val_accuracy", "loss", "accuracy"};
static const char *const optimizer_names[] = {"rmsprop", "adam", "sgd"};

const char *rnn_activation_name(rnn_activation a) {
    return (unsigned)a < RNN_ACT_COUNT ? act_names[a] : "?";
}
const char *rnn_optimizer_name(rnn_optimizer_kind k) {
    return (unsigned)k < 3 ? optimizer_names[k] : "?";
}
const char *rnn_monitor_name(rnn_monitor m) {
    return (unsigned)m < 4 ? monitor_names[m] : "?";
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
    _Static_assert(sizeof(rnn_activation) == sizeof(int) && sizeof(rnn_dropout_mask) == sizeof(int),
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

void rnn_model_name_layers(rnn_model *m) {
    int counter[RNN_LAYER_KIND_COUNT] = {0};
    for (int i = 0; i < m->n_layers && i < RNN_MAX_LAYERS; i++) {
        rnn_layer *l = &m->layers[i];
        if (l->name[0] || (unsigned)l->kind >= RNN_LAYER_KIND_COUNT) continue;
        int k = counter[l->kind]++;
        if (k == 0) snprintf(l->name, sizeof l->name, "%s", rnn_layer_dsl_name(l->kind));
        else snprintf(l->name, sizeof l->name, "%s_%d", rnn_layer_dsl_name(l->kind), k);
    }
}

int rnn_model_find_tensor(const rnn_model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return i;
    return -1;
}
