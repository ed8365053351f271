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
    if (c->who) vfail(c, c->line, c->who, fmt, ap);
    else vfail(c, l->line, l->name, fmt, ap);
    va_end(ap);
    return -1;
}

/* The tensor [d0, d1, d2] of the given rank (its dimensions past the rank are 1). */
static void add_tensor(rnn_layout *c, const char *suffix, int rank, int d0, int d1, int d2, rnn_init_kind init) {
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
    if (c->scope) snprintf(t->name, sizeof t->name, "%s/%s/%s", layer_name, c->scope, suffix);
    else snprintf(t->name, sizeof t->name, "%s/%s", layer_name, suffix);
    t->layer = c->index;
    t->rank = rank;
    t->shape[0] = d0;
    t->shape[1] = rank >= 2 ? d1 : 1;
    t->shape[2] = rank >= 3 ? d2 : 1;
    t->size = (size_t)t->shape[0] * (size_t)t->shape[1] * (size_t)t->shape[2];
    t->offset = m->param_buffer_len;
    t->init = init;
    m->param_buffer_len += (t->size + RNN_TENSOR_ALIGN - 1) / RNN_TENSOR_ALIGN * RNN_TENSOR_ALIGN;
    l->n_tensors++;
    l->n_params += t->size;
}

void rnn_layout_tensor(rnn_layout *c, const char *suffix, int rows, int cols, int rank, rnn_init_kind init) {
    add_tensor(c, suffix, rank, rows, cols, 1, init);
}

void rnn_layout_tensor3(rnn_layout *c, const char *suffix, int d0, int d1, int d2, rnn_init_kind init) {
    add_tensor(c, suffix, 3, d0, d1, d2, init);
}

int rnn_layout_units(rnn_layout *c, const char *what, int v, int max) {
    if (v < 1) return rnn_layout_error(c, "%s must be a positive integer (got %d)", what, v);
    if (v > max) return rnn_layout_error(c, "%s must be at most %d (got %d)", what, max, v);
    return 0;
}

int rnn_layout_sequence_input(rnn_layout *c, const rnn_layer *l) {
    char shape[64];
    if (l->in_seq) return 0;
    rnn_shape_str(shape, sizeof shape, 0, 0, l->in_features);
    if (c->prev->gates > 0)   /* a recurrent layer that returns only its last output */
        return rnn_layout_error(c, "input must be a sequence, but %s returns only its last output %s; set return_sequences = true on %s",
                                c->prev->name, shape, c->prev->name);
    return rnn_layout_error(c, "input must be a sequence (None, steps, features), but %s returns one vector per sample %s",
                            c->prev->name, shape);
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
        if (l->wrapped && !is_identifier(l->wrapped_name))
            return rnn_layout_fail(c, l->wrapped_line, NULL, "layer name '%s' is not a C identifier (letters, digits and _, not starting with a digit)", l->wrapped_name);
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
    c->scope = c->who = NULL;
    c->line = 0;
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
        l->timesteps = c->prev->out_timesteps;
        l->in_seq = c->prev->out_seq;
        l->in_features = c->prev->out_features;
    }
    l->out_timesteps = 0;   /* a kind that changes the sequence's length sets it */
    l->mask_in = c->prev ? c->prev->mask_out : 0;
    l->mask_out = 0;        /* the embedding sets it (mask_zero) */
    const rnn_mask_use mask = rnn_kind_of(l->kind)->mask;
    if (l->mask_in && mask == RNN_MASK_REFUSED)
        return rnn_layout_error(c, "does not support masking (Keras raises \"does not support masking, but was passed "
                                   "an input_mask\"), but its input carries the mask of %s (mask_zero = true); set "
                                   "mask_zero = false, or end the mask before it (a recurrent layer without "
                                   "return_sequences, or global_average_pooling1d)",
                                m->layers[0].name);
    if (rnn_kind_of(l->kind)->layout(c, l)) return -1;
    if (l->out_timesteps == 0) l->out_timesteps = l->timesteps;
    /* Keras's compute_mask: the mask goes on unchanged, or (a recurrent layer, global
     * average pooling) only with a sequence out */
    if (l->mask_in) l->mask_out = mask == RNN_MASK_PASSED || l->out_seq;
    return 0;
}

/* ---- the output layer and the training configuration ---------------------------------------- */

/* The last layer is the output layer: a kind that may end a model (dense, activation),
 * one vector per sample, whose activation is the loss's sigmoid or softmax; its forward
 * writes the logits (docs/keras-semantics.md, Losses). */
static int check_output(rnn_layout *c) {
    rnn_model *m = c->m;
    const rnn_layer *out = &m->layers[m->n_layers - 1];
    char shape[64];
    if (!rnn_kind_of(out->kind)->output)
        return rnn_layout_fail(c, out->line, out->name, "the output layer must be dense or activation (got %s)",
                               rnn_layer_dsl_name(out->kind));
    if (out->out_seq)
        return rnn_layout_fail(c, out->line, out->name,
                               "the output is a sequence %s, but the loss takes one vector per sample; end the sequence before "
                               "the output layer (return_sequences = false, a global pooling layer or flatten)",
                               rnn_shape_str(shape, sizeof shape, 1, out->out_timesteps, out->out_features));
    m->n_outputs = out->out_features;
    if (m->loss == RNN_LOSS_BINARY_CROSSENTROPY) {   /* one output, or K independent labels (multi-label) */
        if (out->activation != RNN_ACT_SIGMOID)
            return rnn_layout_fail(c, out->line, out->name,
                                   "binary_crossentropy needs an output layer with activation = \"sigmoid\" (got %d units, \"%s\")",
                                   out->out_features, rnn_activation_name(out->activation));
    } else if (m->loss == RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY || m->loss == RNN_LOSS_CATEGORICAL_CROSSENTROPY) {
        if (out->out_features < 2 || out->activation != RNN_ACT_SOFTMAX)
            return rnn_layout_fail(c, out->line, out->name,
                                   "%s needs an output layer with at least 2 units and activation = \"softmax\" (got %d units, \"%s\")",
                                   rnn_loss_name(m->loss), out->out_features, rnn_activation_name(out->activation));
    } else {
        return rnn_layout_fail(c, 0, NULL, "unknown loss %d", (int)m->loss);
    }
    m->label_width = m->loss == RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY ? 1 : m->n_outputs;
    return 0;
}

int rnn_model_layout(rnn_model *m, char *err, size_t errlen) {
    rnn_layout c = {m, 0, NULL, err, errlen, NULL, NULL, 0};
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
    return rnn_layout_training(&c);
}
