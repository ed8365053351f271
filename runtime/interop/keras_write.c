/*
 * keras_write.c — rnn_model → Keras 2's JSON config (model.to_json()'s form), which
 * tf.keras 2.x, Keras 3 (its legacy loader) and TF.js read. Every layer's keys come from
 * its kind's table (keras_kinds.c), in Keras 2's order, so that what the reader accepts
 * is what the writer writes.
 */
#include "interop/keras_kinds.h"
#include "interop/keras_model.h"
#include "rnn_interop.h"

#include "core/errors.h"

#include <stdlib.h>
#include <string.h>

/* The Keras version whose format rnnc writes (tf.keras as shipped with TF 2.15). */
#define KERAS_FORMAT_VERSION "2.15.0"

static void write_initializer(rnn_sbuf *b, const char *id) {
    if (!strcmp(id, "glorot_uniform")) rnn_sb_printf(b, "{\"class_name\": \"GlorotUniform\", \"config\": {\"seed\": null}}");
    else if (!strcmp(id, "orthogonal")) rnn_sb_printf(b, "{\"class_name\": \"Orthogonal\", \"config\": {\"gain\": 1.0, \"seed\": null}}");
    else if (!strcmp(id, "zeros")) rnn_sb_printf(b, "{\"class_name\": \"Zeros\", \"config\": {}}");
    else rnn_sb_printf(b, "{\"class_name\": \"RandomUniform\", \"config\": {\"minval\": -0.05, \"maxval\": 0.05, \"seed\": null}}");
}

static void write_option(rnn_sbuf *b, const rnn_layer *l, const char *opt, int tuple) {
    for (int k = 0; k < rnn_layer_option_count; k++) {
        const rnn_option_info *o = &rnn_layer_options[k];
        if (strcmp(o->name, opt)) continue;
        double v = rnn_option_value(l, o);
        switch (o->value) {
        case RNN_VALUE_BOOL: rnn_sb_printf(b, "%s", v != 0 ? "true" : "false"); break;
        case RNN_VALUE_REAL: rnn_sb_json_number(b, v, 1); break;
        case RNN_VALUE_ACTIVATION: rnn_sb_printf(b, "\"%s\"", rnn_activation_name((rnn_activation)(int)v)); break;
        case RNN_VALUE_PADDING: rnn_sb_printf(b, "\"%s\"", rnn_padding_name((rnn_padding)(int)v)); break;
        case RNN_VALUE_MERGE_MODE: rnn_sb_printf(b, "\"%s\"", rnn_merge_mode_name((rnn_merge_mode)(int)v)); break;
        default: rnn_sb_printf(b, tuple ? "[%d]" : "%d", (int)v); break;
        }
        return;
    }
}

static void write_key(rnn_sbuf *b, const char *key) {
    rnn_sb_printf(b, ", \"%s\": ", key);
}

/* {"class_name": ..., "config": {...}} of l as a layer of kind (a wrapper's layer: the
 * wrapped kind, under name), in Keras 2's key order; the first layer gives the input's
 * shape (T > 0). */
static void write_layer(rnn_sbuf *b, const rnn_layer *l, rnn_layer_kind kind, const char *name, int T) {
    const rnn_keras_kind *kk = rnn_keras_kind_of(kind);
    rnn_sb_printf(b, "{\"class_name\": \"%s\", \"config\": {\"name\": ", rnn_layer_class_name(kind));
    rnn_sb_json_string(b, name, strlen(name));
    rnn_sb_printf(b, ", \"trainable\": %s", l->frozen ? "false" : "true");
    if (T > 0) rnn_sb_printf(b, ", \"batch_input_shape\": [null, %d]", T);
    rnn_sb_printf(b, ", \"dtype\": \"float32\"");
    for (const rnn_keras_key *k = kk->keys; k->key; k++) {
        if (!k->keras2) continue;
        write_key(b, k->key);
        switch (k->type) {
        case KK_OPTION: write_option(b, l, k->arg, 0); break;
        case KK_TUPLE: write_option(b, l, k->arg, 1); break;
        case KK_INIT: write_initializer(b, k->arg); break;
        case KK_DTYPE: rnn_sb_printf(b, "\"float32\""); break;
        case KK_LAYER: write_layer(b, l, l->wrapped, l->wrapped_name, 0); break;
        default: rnn_sb_put(b, k->arg, strcspn(k->arg, "|")); break;   /* FIXED, IGNORED */
        }
    }
    rnn_sb_printf(b, "}}");
}

int rnn_keras_write_model(rnn_sbuf *b, const rnn_model *m, char *err, size_t errlen) {
    rnn_sb_printf(b, "{\"class_name\": \"Sequential\", \"config\": {\"name\": ");
    rnn_sb_json_string(b, m->name, strlen(m->name));
    rnn_sb_printf(b, ", \"layers\": [");
    for (int i = 0; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        if (!rnn_keras_kind_of(l->kind) || (l->wrapped && !rnn_keras_kind_of(l->wrapped)))
            return rnn_fail(err, errlen, "layer %s (%s): rnnc has no Keras form for this layer kind yet", l->name,
                            rnn_layer_class_name(l->kind));
        if (i) rnn_sb_printf(b, ", ");
        write_layer(b, l, l->kind, l->name, i == 0 ? m->timesteps : 0);
    }
    rnn_sb_printf(b, "]}, \"keras_version\": \"%s\", \"backend\": \"tensorflow\"}", KERAS_FORMAT_VERSION);
    return 0;
}

/* ", "KEY": V" (V in Python's float form when float_form). */
static void number_key(rnn_sbuf *b, const char *key, double v, int float_form) {
    rnn_sb_printf(b, ", \"%s\": ", key);
    rnn_sb_json_number(b, v, float_form);
}

static void write_clip(rnn_sbuf *b, const char *key, double v) {
    rnn_sb_printf(b, ", \"%s\": ", key);
    if (v > 0) rnn_sb_json_number(b, v, 1);
    else rnn_sb_printf(b, "null");
}

int rnn_keras_write_training(rnn_sbuf *b, const rnn_model *m, int tfjs, char *err, size_t errlen) {
    const rnn_optimizer *o = &m->optimizer;
    if (tfjs && (o->clipnorm > 0 || o->global_clipnorm > 0 || o->clipvalue > 0))
        return rnn_fail(err, errlen, "TF.js optimizers do not clip gradients (clipnorm, global_clipnorm, clipvalue)");
    if (tfjs && o->kind == RNN_OPT_RMSPROP && o->epsilon_outside)
        return rnn_fail(err, errlen, "TF.js's RMSProp adds epsilon inside the square root (epsilon_outside = true is not its form)");
    rnn_sb_printf(b, "{\"loss\": \"%s\", \"metrics\": [%s]", rnn_loss_name(m->loss), m->metric_accuracy ? "\"accuracy\"" : "");
    if (!tfjs) rnn_sb_printf(b, ", \"weighted_metrics\": null, \"loss_weights\": null");
    rnn_sb_printf(b, ", \"optimizer_config\": {\"class_name\": ");
    if (tfjs) {
        /* tfjs-layers' own names (its RMSProp calls rho "decay"; momentum is its own class) */
        if (o->kind == RNN_OPT_RMSPROP) {
            rnn_sb_printf(b, "\"RMSProp\", \"config\": {\"learningRate\": ");
            rnn_sb_json_number(b, o->learning_rate, 0);
            number_key(b, "decay", o->rho, 0);
            rnn_sb_printf(b, ", \"momentum\": 0, \"epsilon\": ");
            rnn_sb_json_number(b, o->epsilon, 0);
            rnn_sb_printf(b, ", \"centered\": false}");
        } else if (o->kind == RNN_OPT_ADAM) {
            rnn_sb_printf(b, "\"Adam\", \"config\": {\"learningRate\": ");
            rnn_sb_json_number(b, o->learning_rate, 0);
            number_key(b, "beta1", o->beta_1, 0);
            number_key(b, "beta2", o->beta_2, 0);
            number_key(b, "epsilon", o->epsilon, 0);
            rnn_sb_printf(b, "}");
        } else if (o->momentum > 0) {
            rnn_sb_printf(b, "\"Momentum\", \"config\": {\"learningRate\": ");
            rnn_sb_json_number(b, o->learning_rate, 0);
            number_key(b, "momentum", o->momentum, 0);
            rnn_sb_printf(b, ", \"useNesterov\": %s}", o->nesterov ? "true" : "false");
        } else {
            rnn_sb_printf(b, "\"SGD\", \"config\": {\"learningRate\": ");
            rnn_sb_json_number(b, o->learning_rate, 0);
            rnn_sb_printf(b, "}");
        }
        rnn_sb_printf(b, "}}");
        return 0;
    }
    static const char *const classes[] = {"RMSprop", "Adam", "SGD"};
    rnn_sb_printf(b, "\"%s\", \"config\": {\"name\": \"%s\", \"learning_rate\": ", classes[o->kind], classes[o->kind]);
    rnn_sb_json_number(b, o->learning_rate, 1);
    if (o->kind == RNN_OPT_RMSPROP) {
        number_key(b, "rho", o->rho, 1);
        rnn_sb_printf(b, ", \"momentum\": 0.0, \"epsilon\": ");
        rnn_sb_json_number(b, o->epsilon, 1);
        rnn_sb_printf(b, ", \"centered\": false");
    } else if (o->kind == RNN_OPT_ADAM) {
        number_key(b, "beta_1", o->beta_1, 1);
        number_key(b, "beta_2", o->beta_2, 1);
        number_key(b, "epsilon", o->epsilon, 1);
        rnn_sb_printf(b, ", \"amsgrad\": false");
    } else {
        number_key(b, "momentum", o->momentum, 1);
        rnn_sb_printf(b, ", \"nesterov\": %s", o->nesterov ? "true" : "false");
    }
    write_clip(b, "clipnorm", o->clipnorm);
    write_clip(b, "global_clipnorm", o->global_clipnorm);
    write_clip(b, "clipvalue", o->clipvalue);
    /* tf.keras 2.11+ marks its optimizers; the legacy RMSprop is rnnc's epsilon_outside */
    rnn_sb_printf(b, ", \"is_legacy_optimizer\": %s}}}",
                  o->kind == RNN_OPT_RMSPROP && o->epsilon_outside ? "true" : "false");
    return 0;
}

char *rnn_keras_model_json(const rnn_model *m, char *err, size_t errlen) {
    rnn_sbuf b = {0};
    if (rnn_keras_write_model(&b, m, err, errlen)) {
        rnn_sb_free(&b);
        return NULL;
    }
    /* model.to_json()'s object, with the compile arguments beside it as Keras's HDF5
     * files keep them (training_config): rnnc reads both back */
    if (!b.oom && b.n) b.n--;   /* reopen the closing brace */
    rnn_sb_printf(&b, ", \"training_config\": ");
    rnn_keras_write_training(&b, m, 0, err, errlen);
    rnn_sb_printf(&b, "}\n");
    if (b.oom) {
        rnn_sb_free(&b);
        rnn_fail(err, errlen, "out of memory");
        return NULL;
    }
    return b.s;
}
