/*
 * emit_spec.c — an rnn_model as a Lua spec (rnnc MODEL --emit-spec OUT.lua): the model a
 * Keras config described, in the DSL, for a user who moves to it. Each layer is one line
 * with its kind's keywords (compiler/layers/, the same table lower.c reads), positional
 * ones first, the others only where they differ from the kind's defaults; then
 * compile = { ... } and fit = { ... } where they differ from Keras's defaults.
 *
 * The lines the text gives the layers, the optimizer and the callbacks are written back
 * into the model (rnnc_emit_spec), so that a model read from JSON and the spec written
 * from it compile to the same C (the file names its source path, so the two are
 * byte-identical when that path is the same).
 */
#include "emit_spec.h"
#include "kinds.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    textbuf *b;
    int line;                  /* of the text being written                              */
    const char *wrapped_name;  /* a wrapper's layer's name = (NULL: the one naming gives) */
} writer;

static void put(writer *w, const char *s) {
    tb_puts(w->b, s);
    for (; *s; s++) w->line += *s == '\n';
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void putf(writer *w, const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    put(w, buf);
}

/* A Lua string literal: printable ASCII as it is, '"' and '\\' escaped, other bytes as
 * \ddd (Lua reads them back byte for byte). */
static void put_string(writer *w, const char *s) {
    put(w, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[8];
        if (*p == '"' || *p == '\\') snprintf(e, sizeof e, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f) snprintf(e, sizeof e, "\\%03u", *p);
        else snprintf(e, sizeof e, "%c", *p);
        put(w, e);
    }
    put(w, "\"");
}

/* The shortest decimal that Lua reads back as the same double. */
static void put_number(writer *w, double v) {
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        double back;
        if (sscanf(buf, "%lf", &back) == 1 && back == v) break;
    }
    put(w, buf);
}

/* The value of keyword k of layer l as Lua. */
static void put_value(writer *w, const rnn_layer *l, const rnnc_keyword *k);

/* Does keyword k of l differ from its value in d (the kind's defaults)? */
static int differs(const rnn_layer *l, const rnn_layer *d, const rnnc_keyword *k) {
    size_t n = k->type == KW_NUMBER ? sizeof(double) : sizeof(int);
    return memcmp((const char *)l + k->field, (const char *)d + k->field, n) != 0;
}

/* The keywords of kind from l's fields: the required ones positionally, as the README's
 * examples write them (embedding { 500, 16, ... }, lstm { 8 }), then every other that
 * differs from the kind's defaults by name, then name = NAME when name is not NULL and
 * trainable = false when frozen; and the closing brace. */
static void put_keywords(writer *w, const rnn_layer *l, rnn_layer_kind kind, const char *name, int frozen) {
    const rnnc_keyword *kw = rnnc_kind_of(kind)->keywords;
    rnn_layer d;
    rnn_layer_defaults(&d, kind);
    int npos = 0, leading = 0, first = 1;
    for (const rnnc_keyword *k = kw; k->name; k++) npos = k->position > npos ? k->position : npos;
    for (int p = 1; p <= npos && leading == p - 1; p++)   /* the required slots 1, 2, ... */
        for (const rnnc_keyword *k = kw; k->name; k++)
            if (k->position == p && k->required) {
                put(w, first ? " " : ", ");
                first = 0;
                put_value(w, l, k);
                leading = p;
            }
    for (const rnnc_keyword *k = kw; k->name; k++) {
        if ((k->position && k->position <= leading) || !differs(l, &d, k)) continue;
        putf(w, "%s%s = ", first ? " " : ", ", k->name);
        first = 0;
        put_value(w, l, k);
    }
    if (name) {
        putf(w, "%sname = ", first ? " " : ", ");
        first = 0;
        put_string(w, name);
    }
    if (frozen) {
        putf(w, "%strainable = false", first ? " " : ", ");
        first = 0;
    }
    put(w, first ? "}" : " }");
}

static void put_value(writer *w, const rnn_layer *l, const rnnc_keyword *k) {
    const char *field = (const char *)l + k->field;
    int iv;
    double dv;
    memcpy(&iv, field, sizeof iv);
    switch (k->type) {
    case KW_INT: putf(w, "%d", iv); break;
    case KW_NUMBER:
        memcpy(&dv, field, sizeof dv);
        put_number(w, dv);
        break;
    case KW_BOOL: put(w, iv ? "true" : "false"); break;
    case KW_ENUM: put_string(w, k->values[iv]); break;
    case KW_LAYER:   /* a wrapper's layer: its kind's constructor with the options it holds */
        putf(w, "%s {", rnn_layer_dsl_name((rnn_layer_kind)iv));
        put_keywords(w, l, (rnn_layer_kind)iv, w->wrapped_name, 0);
        break;
    }
}

static void put_layer(writer *w, rnn_layer *l, int keep_name, int keep_wrapped_name) {
    l->line = w->line;
    if (l->wrapped) l->wrapped_line = w->line;   /* bidirectional { lstm { ... } } on one line */
    w->wrapped_name = keep_wrapped_name ? l->wrapped_name : NULL;
    putf(w, "  %s {", rnn_layer_dsl_name(l->kind));
    put_keywords(w, l, l->kind, keep_name ? l->name : NULL, l->frozen);
    put(w, ",\n");
}


static const char *const mode_names[] = {"auto", "min", "max"};

/* learning_rate = a schedule's constructor, with Keras's positional arguments. */
static void put_schedule(writer *w, rnn_lr_schedule *s) {
    s->line = w->line;
    putf(w, " learning_rate = %s { ", rnn_schedule_name(s->kind));
    if (s->kind == RNN_SCHEDULE_PIECEWISE_CONSTANT_DECAY) {
        for (int list = 0; list < 2; list++) {
            put(w, list ? " }, { " : "{ ");
            for (int i = 0; i < s->n_boundaries + list; i++) {
                if (i) put(w, ", ");
                put_number(w, list ? s->values[i] : s->boundaries[i]);
            }
        }
        put(w, " } }");
        return;
    }
    put_number(w, s->initial_learning_rate);
    put(w, ", ");
    put_number(w, s->decay_steps);
    if (s->kind == RNN_SCHEDULE_COSINE_DECAY) {
        if (s->alpha != 0) put(w, ", alpha = "), put_number(w, s->alpha);
    } else {
        put(w, ", ");
        put_number(w, s->decay_rate);
        if (s->staircase) put(w, ", staircase = true");
    }
    put(w, " }");
}

static void put_optimizer(writer *w, rnn_optimizer *o) {
    rnn_model d;
    rnn_model_init(&d, NULL, NULL);
    const rnn_optimizer *z = &d.optimizer;
    double lr0 = o->kind == RNN_OPT_SGD ? 1e-2 : 1e-3;
    int first = 1;
    o->line = w->line;
    putf(w, "    optimizer = %s {", rnn_optimizer_name(o->kind));
#define OPT_NUMBER_(name, value, def)                       \
    if ((value) != (def)) {                                 \
        putf(w, "%s%s = ", first ? " " : ", ", name);       \
        put_number(w, value);                               \
        first = 0;                                          \
    }
    if (o->schedule.kind != RNN_SCHEDULE_NONE) put_schedule(w, &o->schedule), first = 0;
    else OPT_NUMBER_("learning_rate", o->learning_rate, lr0);
    if (o->kind == RNN_OPT_RMSPROP) {
        OPT_NUMBER_("rho", o->rho, z->rho);
        OPT_NUMBER_("epsilon", o->epsilon, z->epsilon);
        if (o->epsilon_outside) putf(w, "%sepsilon_outside = true", first ? " " : ", "), first = 0;
    } else if (o->kind == RNN_OPT_ADAM) {
        OPT_NUMBER_("beta_1", o->beta_1, z->beta_1);
        OPT_NUMBER_("beta_2", o->beta_2, z->beta_2);
        OPT_NUMBER_("epsilon", o->epsilon, z->epsilon);
    } else {
        OPT_NUMBER_("momentum", o->momentum, 0.0);
        if (o->nesterov) putf(w, "%snesterov = true", first ? " " : ", "), first = 0;
    }
    OPT_NUMBER_("clipnorm", o->clipnorm, 0.0);
    OPT_NUMBER_("global_clipnorm", o->global_clipnorm, 0.0);
    OPT_NUMBER_("clipvalue", o->clipvalue, 0.0);
    if (o->embedding_clip == RNN_EMBEDDING_CLIP_SUMMED) putf(w, "%sembedding_clip = \"summed\"", first ? " " : ", "), first = 0;
#undef OPT_NUMBER_
    put(w, first ? "},\n" : " },\n");
}

static void put_callback(writer *w, rnn_callback *c) {
    c->line = w->line;
    putf(w, "      %s {", rnn_callback_name(c->kind));
    if (c->kind == RNN_CB_CSV_LOGGER) {
        put(w, " ");
        put_string(w, c->path);
        put(w, " },\n");
        return;
    }
    int first = 1;
    if (c->kind == RNN_CB_MODEL_CHECKPOINT) {
        put(w, " ");
        put_string(w, c->path);
        first = 0;
    }
#define SEP (first ? (first = 0, " ") : ", ")
    if (c->monitor != RNN_MONITOR_VAL_LOSS) putf(w, "%smonitor = \"%s\"", SEP, rnn_monitor_name(c->monitor));
    if (c->kind == RNN_CB_MODEL_CHECKPOINT && c->save_best_only) putf(w, "%ssave_best_only = true", SEP);
    if (c->kind == RNN_CB_EARLY_STOPPING) {
        if (c->patience) putf(w, "%spatience = %d", SEP, c->patience);
        if (c->min_delta != 0) putf(w, "%smin_delta = ", SEP), put_number(w, c->min_delta);
        if (c->restore_best_weights) putf(w, "%srestore_best_weights = true", SEP);
        if (c->has_baseline) putf(w, "%sbaseline = ", SEP), put_number(w, c->baseline);
        if (c->start_from_epoch) putf(w, "%sstart_from_epoch = %d", SEP, c->start_from_epoch);
        if (c->restore_at_end) putf(w, "%srestore_at_end = true", SEP);
    }
    if (c->kind == RNN_CB_REDUCE_LR_ON_PLATEAU) {   /* (Keras's defaults: 0.1, 10, 1e-4, 0, 0) */
        if (c->factor != 0.1) putf(w, "%sfactor = ", SEP), put_number(w, c->factor);
        if (c->patience != 10) putf(w, "%spatience = %d", SEP, c->patience);
        if (c->min_delta != 1e-4) putf(w, "%smin_delta = ", SEP), put_number(w, c->min_delta);
        if (c->cooldown) putf(w, "%scooldown = %d", SEP, c->cooldown);
        if (c->min_lr != 0) putf(w, "%smin_lr = ", SEP), put_number(w, c->min_lr);
    }
#undef SEP
    /* the mode as the spec gave it is lost once laid out (auto resolves): write it when
     * it is not what auto gives */
    int up = c->monitor != RNN_MONITOR_VAL_LOSS && c->monitor != RNN_MONITOR_LOSS;   /* (the layout's rule) */
    rnn_monitor_mode autom = up ? RNN_MODE_MAX : RNN_MODE_MIN;
    if (c->mode != RNN_MODE_AUTO && c->mode != autom) putf(w, "%smode = \"%s\"", first ? " " : ", ", mode_names[c->mode]), first = 0;
    put(w, first ? "},\n" : " },\n");
}

static void put_fit(writer *w, rnn_model *m) {
    rnn_model d;
    rnn_model_init(&d, NULL, NULL);
    const rnn_fit_config *f = &m->fit, *z = &d.fit;
    if (f->epochs == z->epochs && f->batch_size == z->batch_size && f->validation_split == 0 && f->shuffle &&
        f->seed == 0 && f->n_callbacks == 0 && f->n_class_weights == 0)
        return;
    put(w, "  fit = {\n");
    if (f->epochs != z->epochs) putf(w, "    epochs = %d,\n", f->epochs);
    if (f->batch_size != z->batch_size) putf(w, "    batch_size = %d,\n", f->batch_size);
    if (f->validation_split != 0) put(w, "    validation_split = "), put_number(w, f->validation_split), put(w, ",\n");
    if (!f->shuffle) put(w, "    shuffle = false,\n");
    if (f->seed) putf(w, "    seed = %llu,\n", (unsigned long long)f->seed);
    if (f->n_class_weights) {
        put(w, "    class_weight = {");
        for (int k = 0; k < f->n_class_weights; k++) putf(w, "%s[%d] = ", k ? ", " : " ", k), put_number(w, f->class_weight[k]);
        put(w, " },\n");
    }
    if (f->n_callbacks) {
        put(w, "    callbacks = {\n");
        for (int i = 0; i < f->n_callbacks; i++) put_callback(w, &m->fit.callbacks[i]);
        put(w, "    },\n");
    }
    put(w, "  },\n");
}

/* metrics = { ... }: the accuracy by its name when "accuracy" would give another, then
 * auc, precision, recall. */
static void put_metrics(writer *w, const rnn_model *m) {
    static const char *const acc[] = {"accuracy", "binary_accuracy", "sparse_categorical_accuracy", "categorical_accuracy"};
    const rnn_accuracy_kind fits = m->n_outputs == 1 ? RNN_ACCURACY_BINARY
                                   : m->loss == RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY ? RNN_ACCURACY_SPARSE_CATEGORICAL
                                                                                         : RNN_ACCURACY_CATEGORICAL;
    if (!m->metric_accuracy && !m->metrics) return;
    int first = 1;
    put(w, "    metrics = {");
    if (m->metric_accuracy)
        putf(w, " \"%s\"", m->accuracy_kind == fits || m->accuracy_kind > RNN_ACCURACY_CATEGORICAL ? "accuracy" : acc[m->accuracy_kind]),
            first = 0;
    if (m->metrics & RNN_METRIC_AUC) putf(w, "%s\"auc\"", first ? " " : ", "), first = 0;
    if (m->metrics & RNN_METRIC_PRECISION) putf(w, "%s\"precision\"", first ? " " : ", "), first = 0;
    if (m->metrics & RNN_METRIC_RECALL) putf(w, "%s\"recall\"", first ? " " : ", "), first = 0;
    put(w, " },\n");
}

void rnnc_emit_spec(rnn_model *m, const char *from, textbuf *out) {
    writer w = {out, 1, NULL};
    /* The names the spec must write: lowering names the unnamed layers per kind, counting
     * only the unnamed ones, so a layer keeps its name when that counting gives another;
     * grow that set until the counting gives every other layer its own name. */
    static rnn_model named;
    int keep[RNN_MAX_LAYERS] = {0}, keepw[RNN_MAX_LAYERS] = {0}, changed = 1;   /* keepw: a wrapped layer's */
    while (changed) {
        changed = 0;
        named = *m;
        for (int i = 0; i < named.n_layers; i++) {
            if (!keep[i]) named.layers[i].name[0] = 0;
            if (!keepw[i]) named.layers[i].wrapped_name[0] = 0;
        }
        rnn_model_name_layers(&named);
        for (int i = 0; i < named.n_layers && !changed; i++) {   /* the first one only: it renumbers the rest */
            const rnn_layer *a = &named.layers[i], *l = &m->layers[i];
            if (l->wrapped && !keepw[i] && strcmp(a->wrapped_name, l->wrapped_name)) keepw[i] = changed = 1;
            else if (!keep[i] && strcmp(a->name, l->name)) keep[i] = changed = 1;
        }
    }

    putf(&w, "-- written by rnnc %s from %s (rnnc --emit-spec)\n", RNN_VERSION, from);
    m->line = w.line;
    put(&w, "return sequential ");
    put_string(&w, m->name);
    put(&w, " {\n");
    for (int i = 0; i < m->n_layers; i++) put_layer(&w, &m->layers[i], keep[i], keepw[i]);
    put(&w, "\n  compile = {\n");
    put_optimizer(&w, &m->optimizer);
    putf(&w, "    loss = \"%s\",\n", rnn_loss_name(m->loss));
    put_metrics(&w, m);
    put(&w, "  },\n");
    put_fit(&w, m);
    put(&w, "}\n");
}
