/*
 * keras_read.c — a Keras model config (JSON) → rnn_model: Keras 2's and Keras 3's
 * model.to_json(), and TF.js Layers' model.json. Each layer's keys go through its kind's
 * table (keras_kinds.c); a key or value rnnc cannot honour is one error,
 *   PATH:LINE: layer NAME (CLASS): option X = Y is not supported
 * and the finished model is laid out like a spec's, with the JSON's lines in messages. A
 * Bidirectional's "layer" is read with the wrapped kind's table into the same rnn_layer,
 * as bidirectional { lstm { ... } } gives it.
 */
#include "interop/jdoc.h"
#include "interop/keras_kinds.h"
#include "interop/keras_model.h"
#include "rnn_interop.h"

#include "core/errors.h"
#include "core/safetensors.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { FLAVOR_KERAS2, FLAVOR_KERAS3, FLAVOR_TFJS } flavor;

typedef struct {
    const rnn_jdoc *d;
    rnn_model *m;
    flavor fl;
    char *err;
    size_t errlen;
    const char *who;        /* "layer lstm (LSTM)", "optimizer (RMSprop)", ...   */
    const rnn_jval *first;  /* the model's first layer (not an InputLayer)       */
} reader;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(reader *r, const rnn_jval *at, const char *fmt, ...) {
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line = rnn_jline(r->d, at);
    if (line > 0) snprintf(r->err, r->errlen, "%s:%d: %s", r->d->path, line, msg);
    else snprintf(r->err, r->errlen, "%s: %s", r->d->path, msg);
    return -1;
}

/* The one form for everything rnnc cannot honour. */
static int unsupported(reader *r, const char *key, const rnn_jval *v) {
    char b[96];
    return fail(r, v, "%s: option %s = %s is not supported", r->who, key, rnn_jdescribe(v, b, sizeof b));
}

static int is_json_equal(const rnn_jval *a, const rnn_jval *b) {
    double x, y;
    if (!rnn_jnum(a, &x) && !rnn_jnum(b, &y)) return x == y;
    if (a->type != b->type) return 0;
    switch (a->type) {
    case RNN_J_NULL: return 1;
    case RNN_J_BOOL: return a->i == b->i;
    case RNN_J_STR: return a->str.n == b->str.n && !memcmp(a->str.s, b->str.s, a->str.n);
    default: return 0;   /* the tables list scalars only */
    }
}

/* Does v equal one of the '|'-separated JSON texts of alts? */
static int matches_one_of(const rnn_jval *v, const char *alts) {
    char one[64];
    for (const char *p = alts; *p;) {
        size_t n = strcspn(p, "|");
        snprintf(one, sizeof one, "%.*s", (int)n, p);
        rnn_arena ar = {0};
        rnn_jval want;
        char msg[64];
        int ok = rnn_json_parse((const unsigned char *)one, strlen(one), 2, &ar, &want, msg, sizeof msg) == 0 &&
                 is_json_equal(v, &want);
        rnn_arena_free(&ar);
        if (ok) return 1;
        p += n + (p[n] == '|');
    }
    return 0;
}

/* ---- initializers and dtypes --------------------------------------------------------
 * rnnc draws what Keras's defaults draw (docs/keras-semantics.md, Initializers): any
 * spelling of the same distribution is accepted (Keras 2's and 3's objects, the string
 * names, TF.js's VarianceScaling form of glorot_uniform), with any seed (rnnc's own
 * generator replaces TensorFlow's). */

typedef struct {
    const char *id;
    const char *names[5];   /* class names and string aliases */
} init_form;

static const init_form init_forms[] = {
    {"glorot_uniform", {"glorot_uniform", "GlorotUniform", NULL}},
    {"orthogonal", {"orthogonal", "Orthogonal", NULL}},
    {"zeros", {"zeros", "Zeros", "zero", NULL}},
    {"random_uniform", {"uniform", "random_uniform", "RandomUniform", NULL}},
};

static int check_number(const rnn_jval *v, double want) {
    double x;
    return !rnn_jnum(v, &x) && x == want;
}

static int check_initializer(reader *r, const char *key, const rnn_jval *v, const char *want) {
    const init_form *f = NULL;
    for (size_t i = 0; i < sizeof init_forms / sizeof *init_forms; i++)
        if (!strcmp(init_forms[i].id, want)) f = &init_forms[i];
    const char *cls = v->type == RNN_J_STR ? rnn_jstr_of(v) : rnn_jstr_of(rnn_jget(v, "class_name"));
    if (!f || !cls) return unsupported(r, key, v);
    int named = 0;
    for (int i = 0; f->names[i]; i++) named |= !strcmp(cls, f->names[i]);
    int variance = !strcmp(want, "glorot_uniform") && !strcmp(cls, "VarianceScaling");
    if (!named && !variance) return unsupported(r, key, v);
    if (v->type == RNN_J_STR) return 0;
    for (size_t i = 0; i < v->n; i++) {   /* Keras 3 adds module and registered_name */
        const char *k = v->key[i].s;
        if (strcmp(k, "class_name") && strcmp(k, "config") && strcmp(k, "module") && strcmp(k, "registered_name"))
            return unsupported(r, key, v);
    }
    const rnn_jval *c = rnn_jget(v, "config");
    if (!c) return 0;
    if (c->type != RNN_J_OBJ) return unsupported(r, key, v);
    for (size_t i = 0; i < c->n; i++) {
        const char *k = c->key[i].s;
        const rnn_jval *x = &c->item[i];
        const char *s = rnn_jstr_of(x);
        int ok = !strcmp(k, "seed") ||
                 (!strcmp(want, "orthogonal") && !strcmp(k, "gain") && check_number(x, 1)) ||
                 (!strcmp(want, "random_uniform") && !strcmp(k, "minval") && check_number(x, -0.05)) ||
                 (!strcmp(want, "random_uniform") && !strcmp(k, "maxval") && check_number(x, 0.05)) ||
                 (!strcmp(want, "glorot_uniform") && !strcmp(k, "scale") && check_number(x, 1)) ||
                 (!strcmp(want, "glorot_uniform") && !strcmp(k, "mode") && s && !strcmp(s, "fan_avg")) ||
                 (!strcmp(want, "glorot_uniform") && !strcmp(k, "distribution") && s && !strcmp(s, "uniform"));
        if (!ok) return unsupported(r, key, v);
    }
    if (variance && !(rnn_jget(c, "scale") && rnn_jget(c, "mode") && rnn_jget(c, "distribution")))
        return unsupported(r, key, v);
    return 0;
}

/* float32, as a string or as Keras 3's DTypePolicy object; null is the default policy. */
static int check_dtype(reader *r, const rnn_jval *v) {
    const char *s = rnn_jstr_of(v);
    if (v->type == RNN_J_NULL || (s && !strcmp(s, "float32"))) return 0;
    const char *name = rnn_jstr_of(rnn_jget(rnn_jget(v, "config"), "name"));
    if (name && !strcmp(name, "float32")) return 0;
    return unsupported(r, "dtype", v);
}

/* ---- options ------------------------------------------------------------------------ */

static const rnn_option_info *option_named(const char *name) {
    for (int k = 0; k < rnn_layer_option_count; k++)
        if (!strcmp(rnn_layer_options[k].name, name)) return &rnn_layer_options[k];
    return NULL;
}

/* Put the Keras value v of key into the option called opt (null: falsy, as Keras and TF.js
 * read a None in a config: 0, false, or the kind's default for an integer). */
static int set_option(reader *r, rnn_layer *l, const char *key, const char *opt, const rnn_jval *v) {
    const rnn_option_info *o = option_named(opt);
    if (!o) return unsupported(r, key, v);   /* a table naming an option the model has no longer */
    char *field = (char *)l + o->offset;
    if (v->type == RNN_J_ARR && v->n == 1 && o->value == RNN_VALUE_INT) v = &v->item[0];   /* Keras's (3,) */
    char b[96];
    double x;
    int iv;
    switch (o->value) {
    case RNN_VALUE_INT:
        if (v->type == RNN_J_NULL) return 0;
        if (rnn_jnum(v, &x) || x != floor(x)) return fail(r, v, "%s: %s must be an integer (got %s)", r->who, key, rnn_jdescribe(v, b, sizeof b));
        if (x < INT_MIN || x > INT_MAX) return fail(r, v, "%s: %s is out of range (got %s)", r->who, key, rnn_jdescribe(v, b, sizeof b));
        iv = (int)x;
        memcpy(field, &iv, sizeof iv);
        return 0;
    case RNN_VALUE_BOOL:
        if (v->type != RNN_J_BOOL && v->type != RNN_J_NULL)
            return fail(r, v, "%s: %s must be true or false (got %s)", r->who, key, rnn_jdescribe(v, b, sizeof b));
        iv = v->type == RNN_J_BOOL && v->i;
        memcpy(field, &iv, sizeof iv);
        return 0;
    case RNN_VALUE_REAL:
        if (v->type == RNN_J_NULL) x = 0;
        else if (rnn_jnum(v, &x)) return fail(r, v, "%s: %s must be a number (got %s)", r->who, key, rnn_jdescribe(v, b, sizeof b));
        memcpy(field, &x, sizeof x);
        return 0;
    case RNN_VALUE_ACTIVATION:
    case RNN_VALUE_PADDING:   /* a string naming one of the enum's values */
        for (iv = 0; rnn_jstr_of(v) && iv < (o->value == RNN_VALUE_PADDING ? RNN_PADDING_COUNT : RNN_ACT_COUNT); iv++)
            if (!strcmp(rnn_jstr_of(v), o->value == RNN_VALUE_PADDING ? rnn_padding_name((rnn_padding)iv)
                                                                      : rnn_activation_name((rnn_activation)iv))) {
                memcpy(field, &iv, sizeof iv);
                return 0;
            }
        return unsupported(r, key, v);
    case RNN_VALUE_MERGE_MODE:   /* Keras's None (two outputs) is not a sequential model's */
        for (iv = 0; rnn_jstr_of(v) && iv < RNN_MERGE_NONE; iv++)
            if (!strcmp(rnn_jstr_of(v), rnn_merge_mode_name((rnn_merge_mode)iv))) {
                memcpy(field, &iv, sizeof iv);
                return 0;
            }
        return unsupported(r, key, v);
    default: return unsupported(r, key, v);   /* no Keras key holds the others */
    }
}

static const rnn_keras_key *find_key(const rnn_keras_key *keys, const char *k) {
    for (; keys->key; keys++)
        if (!strcmp(keys->key, k)) return keys;
    return NULL;
}

/* ---- the input length ----------------------------------------------------------------- */

/* T of a batch shape [null, T] (0 when T is null); -1 with err for any other shape. */
static int batch_shape_length(reader *r, const char *key, const rnn_jval *v, int *T) {
    double x;
    if (v->type != RNN_J_ARR || v->n != 2 || v->item[0].type != RNN_J_NULL)
        return fail(r, v, "%s: %s must be [null, timesteps]: rnnc reads batches of token ids (got %s)", r->who, key,
                    rnn_jdescribe(v, (char[96]){0}, 96));
    if (v->item[1].type == RNN_J_NULL) return *T = 0, 0;
    if (rnn_jnum(&v->item[1], &x) || x != floor(x) || x < 1 || x > INT_MAX)
        return fail(r, v, "%s: %s must be [null, timesteps] with a positive integer (got %s)", r->who, key,
                    rnn_jdescribe(v, (char[96]){0}, 96));
    *T = (int)x;
    return 0;
}

/* Note a length found at v; two that differ are an error. */
static int note_length(reader *r, int *T, const rnn_jval **src, int t, const rnn_jval *v) {
    if (t <= 0) return 0;
    if (*T > 0 && *T != t) {
        char b[96];
        return fail(r, v, "%s: the input length %d here differs from %d at line %d (%s)", r->who, t, *T,
                    rnn_jline(r->d, *src), rnn_jdescribe(*src, b, sizeof b));
    }
    *T = t, *src = v;
    return 0;
}

static int read_wrapped(reader *r, rnn_layer *l, const rnn_jval *v, rnn_layer *inner);

/* Every key of cfg through kk's table (or the keys every layer has) into l. */
static int read_config(reader *r, rnn_layer *l, const rnn_keras_kind *kk, const rnn_jval *cfg) {
    for (size_t i = 0; i < cfg->n; i++) {
        const char *k = cfg->key[i].s;
        const rnn_jval *v = &cfg->item[i];
        const rnn_keras_key *e = find_key(kk->keys, k);
        if (!e) e = find_key(rnn_keras_common_keys, k);
        if (!e) return unsupported(r, k, v);
        int rc = 0;
        rnn_layer inner;
        switch (e->type) {
        case KK_OPTION:
        case KK_TUPLE: rc = set_option(r, l, k, e->arg, v); break;
        case KK_FIXED: rc = matches_one_of(v, e->arg) ? 0 : unsupported(r, k, v); break;
        case KK_INIT: rc = check_initializer(r, k, v, e->arg); break;
        case KK_DTYPE: rc = check_dtype(r, v); break;
        case KK_IGNORED: break;
        case KK_LAYER:
            if (e->arg) break;   /* Keras 3's backward_layer: check_backward_layer */
            rc = read_wrapped(r, l, v, &inner);
            break;
        }
        if (rc) return -1;
    }
    return 0;
}

/* The recurrent layer v ({"class_name", "config"}) read with its kind's table into inner,
 * which r->who then names. */
static int read_recurrent(reader *r, const char *key, const rnn_jval *v, rnn_layer *inner, char *who, size_t cap) {
    const char *cls = rnn_jstr_of(rnn_jget(v, "class_name"));
    const rnn_jval *cfg = rnn_jget(v, "config");
    int kind = cls ? rnn_keras_kind_by_class(cls) : -1;
    const rnn_keras_kind *kk = kind >= 0 ? rnn_keras_kind_of((rnn_layer_kind)kind) : NULL;
    if (!kk || !kk->cell || !cfg || cfg->type != RNN_J_OBJ)   /* the recurrent kinds have a cell */
        return fail(r, v, "%s: %s must be a SimpleRNN, LSTM or GRU layer (got %s)", r->who, key,
                    rnn_jdescribe(v, (char[96]){0}, 96));
    rnn_layer_defaults(inner, (rnn_layer_kind)kind);
    inner->line = rnn_jline(r->d, v);
    const char *name = rnn_jstr_of(rnn_jget(cfg, "name"));
    if (name) {
        if (!*name || strlen(name) >= RNN_NAME_MAX)
            return fail(r, v, "%s: the wrapped layer's name must be 1 to %d characters long", r->who, RNN_NAME_MAX - 1);
        snprintf(inner->name, sizeof inner->name, "%s", name);
    }
    snprintf(who, cap, "layer %s (%s)", name ? name : "?", cls);
    r->who = who;
    if (read_config(r, inner, kk, cfg)) return -1;
    if (r->fl == FLAVOR_KERAS3 && kk->keras3_per_sequence) inner->dropout_mask = RNN_DROPOUT_PER_SEQUENCE;
    return 0;
}

/* A Bidirectional's "layer": its options become l's (as bidirectional { lstm { ... } }
 * gives them), its name l's wrapped_name. */
static int read_wrapped(reader *r, rnn_layer *l, const rnn_jval *v, rnn_layer *inner) {
    char who[200];
    const char *outer = r->who;
    if (read_recurrent(r, "layer", v, inner, who, sizeof who)) return -1;
    r->who = outer;
    rnn_merge_mode mode = l->merge_mode;
    for (int k = 0; k < rnn_layer_option_count; k++) {
        const rnn_option_info *o = &rnn_layer_options[k];
        memcpy((char *)l + o->offset, (const char *)inner + o->offset, o->value == RNN_VALUE_REAL ? sizeof(double) : sizeof(int));
    }
    l->merge_mode = mode;
    l->wrapped = inner->kind;
    l->wrapped_line = inner->line;
    memcpy(l->wrapped_name, inner->name, sizeof l->wrapped_name);
    return 0;
}

/* Keras 3 writes the backward half too ("backward_layer"): it must be the forward half's
 * mirror, the same options but go_backwards, named backward_X where the forward half is
 * forward_X (Keras 3 names the wrapped layer's config forward_X; rnnc's wrapped_name is
 * X). */
static int check_backward_layer(reader *r, rnn_layer *l, const rnn_jval *cfg) {
    const rnn_jval *v = rnn_jget(cfg, "backward_layer");
    if (!l->wrapped) return fail(r, cfg, "%s: a Bidirectional needs its layer", r->who);
    if (!v) return 0;
    rnn_layer b;
    char who[200];
    const char *outer = r->who;
    if (read_recurrent(r, "backward_layer", v, &b, who, sizeof who)) return -1;
    r->who = outer;
    for (int k = 0; k < rnn_layer_option_count; k++) {
        const rnn_option_info *o = &rnn_layer_options[k];
        if (!strcmp(o->name, "wrapped") || !strcmp(o->name, "merge_mode")) continue;
        double want = rnn_option_value(l, o), got = rnn_option_value(&b, o);
        if (!strcmp(o->name, "go_backwards")) want = !want;
        if (got != want || b.kind != l->wrapped)
            return fail(r, v, "%s: backward_layer is not the mirror of layer (%s = %g, not %g): option backward_layer is not supported",
                        r->who, o->name, got, want);
    }
    const char *fwd = l->wrapped_name;
    if (!strncmp(fwd, "forward_", 8) && !strncmp(b.name, "backward_", 9) && !strcmp(fwd + 8, b.name + 9))
        memmove(l->wrapped_name, fwd + 8, strlen(fwd + 8) + 1);
    return 0;
}

/* ---- layers ------------------------------------------------------------------------ */

static int read_layer(reader *r, const rnn_jval *lv, int *T, const rnn_jval **tsrc, int first) {
    rnn_model *m = r->m;
    const char *cls = rnn_jstr_of(rnn_jget(lv, "class_name"));
    const rnn_jval *cfg = rnn_jget(lv, "config");
    char who[200];
    const char *name = rnn_jstr_of(rnn_jget(cfg, "name"));
    if (!cls) return fail(r, lv, "a layer without a class_name: %s", rnn_jdescribe(lv, (char[96]){0}, 96));
    if (!cfg || cfg->type != RNN_J_OBJ) return fail(r, lv, "layer %s (%s): no config object", name ? name : "?", cls);
    snprintf(who, sizeof who, "layer %s (%s)", name ? name : "?", cls);
    r->who = who;
    if (!strcmp(cls, "InputLayer")) {   /* Keras 2's and 3's first entry: the input's shape */
        if (!first) return fail(r, lv, "%s: an InputLayer after the first layer is not supported", who);
        const char *keys[] = {"batch_input_shape", "batch_shape"};
        for (int k = 0; k < 2; k++) {
            const rnn_jval *s = rnn_jget(cfg, keys[k]);
            int t;
            if (s && (batch_shape_length(r, keys[k], s, &t) || note_length(r, T, tsrc, t, s))) return -1;
        }
        const rnn_jval *sp = rnn_jget(cfg, "sparse"), *rg = rnn_jget(cfg, "ragged");
        if (sp && sp->type == RNN_J_BOOL && sp->i) return unsupported(r, "sparse", sp);
        if (rg && rg->type == RNN_J_BOOL && rg->i) return unsupported(r, "ragged", rg);
        return 1;   /* not a layer of the model */
    }
    int kind = rnn_keras_kind_by_class(cls);
    const rnn_keras_kind *kk = kind >= 0 ? rnn_keras_kind_of((rnn_layer_kind)kind) : NULL;
    if (!kk) {
        char list[256] = "";
        for (int k = 0; k < RNN_LAYER_KIND_COUNT; k++)
            if (rnn_keras_kind_of((rnn_layer_kind)k)) {
                size_t u = strlen(list);
                snprintf(list + u, sizeof list - u, "%s%s", u ? ", " : "", rnn_layer_class_name((rnn_layer_kind)k));
            }
        return fail(r, lv, "%s: layer class %s is not supported (rnnc reads InputLayer, %s)", who, cls, list);
    }
    if (m->n_layers >= RNN_MAX_LAYERS)
        return fail(r, lv, "%s: the model has more than %d layers (the limit)", who, RNN_MAX_LAYERS);
    if (m->n_layers == 0) r->first = lv;
    rnn_layer *l = &m->layers[m->n_layers++];
    rnn_layer_defaults(l, (rnn_layer_kind)kind);
    l->line = rnn_jline(r->d, lv);
    if (name) {
        if (!*name || strlen(name) >= RNN_NAME_MAX)
            return fail(r, lv, "%s: the name must be 1 to %d characters long", who, RNN_NAME_MAX - 1);
        snprintf(l->name, sizeof l->name, "%s", name);
    }
    if (read_config(r, l, kk, cfg)) return -1;
    if (kind == RNN_LAYER_BIDIRECTIONAL && check_backward_layer(r, l, cfg)) return -1;
    /* The input length: the first layer's own shape, or Keras 3's build_config. */
    if (first) {
        const char *keys[] = {"batch_input_shape", "batch_shape"};
        for (int k = 0; k < 2; k++) {
            const rnn_jval *s = rnn_jget(cfg, keys[k]);
            int t;
            if (s && (batch_shape_length(r, keys[k], s, &t) || note_length(r, T, tsrc, t, s))) return -1;
        }
        const rnn_jval *bs = rnn_jget(rnn_jget(lv, "build_config"), "input_shape");
        int t;
        if (bs && (batch_shape_length(r, "build_config.input_shape", bs, &t) || note_length(r, T, tsrc, t, bs))) return -1;
    }
    if (r->fl == FLAVOR_KERAS3 && kk->keras3_per_sequence) l->dropout_mask = RNN_DROPOUT_PER_SEQUENCE;
    return 0;
}

/* ---- the training configuration ------------------------------------------------------ */

static int read_loss(reader *r, const rnn_jval *v) {
    r->who = "training config";
    static const char *const names[] = {"binary_crossentropy", "sparse_categorical_crossentropy"};
    static const char *const classes[] = {"BinaryCrossentropy", "SparseCategoricalCrossentropy"};
    const char *s = rnn_jstr_of(v);
    for (int k = 0; s && k < 2; k++)
        if (!strcmp(s, names[k])) return r->m->loss = (rnn_loss_kind)k, 0;
    const char *cls = rnn_jstr_of(rnn_jget(v, "class_name"));
    const rnn_jval *c = rnn_jget(v, "config");
    for (int k = 0; cls && k < 2; k++) {
        if (strcmp(cls, classes[k])) continue;
        for (size_t i = 0; c && i < c->n; i++) {
            const char *key = c->key[i].s;
            const rnn_jval *x = &c->item[i];
            const char *xs = rnn_jstr_of(x);
            int ok = !strcmp(key, "name") || !strcmp(key, "fn") || !strcmp(key, "dtype") ||
                     (!strcmp(key, "from_logits") && x->type == RNN_J_BOOL && !x->i) ||
                     (!strcmp(key, "label_smoothing") && check_number(x, 0)) ||
                     (!strcmp(key, "axis") && check_number(x, -1)) ||
                     (!strcmp(key, "ignore_class") && x->type == RNN_J_NULL) ||
                     (!strcmp(key, "reduction") && xs && (!strcmp(xs, "auto") || !strcmp(xs, "sum_over_batch_size")));
            if (!ok) return unsupported(r, key, x);
        }
        r->m->loss = (rnn_loss_kind)k;
        return 0;
    }
    return unsupported(r, "loss", v);
}

static int read_metric(reader *r, const rnn_jval *v) {
    static const char *const names[] = {"accuracy", "acc", "binary_accuracy", "sparse_categorical_accuracy",
                                        "BinaryAccuracy", "SparseCategoricalAccuracy", NULL};
    if (v->type == RNN_J_ARR) {   /* Keras 2's per-output lists */
        for (size_t i = 0; i < v->n; i++)
            if (read_metric(r, &v->item[i])) return -1;
        return 0;
    }
    const char *s = rnn_jstr_of(v);
    if (!s) {
        s = rnn_jstr_of(rnn_jget(v, "class_name"));
        if (s && !strcmp(s, "MeanMetricWrapper")) s = rnn_jstr_of(rnn_jget(rnn_jget(v, "config"), "fn"));
    }
    for (int k = 0; s && names[k]; k++)
        if (!strcmp(s, names[k])) return r->m->metric_accuracy = 1, 0;
    return unsupported(r, "metrics", v);
}

/* Optimizer keys: Keras's snake_case and TF.js's camelCase (its RMSProp calls rho "decay"). */
static int read_optimizer(reader *r, const rnn_jval *v) {
    rnn_optimizer *o = &r->m->optimizer;
    char who[96];
    const char *cls = v->type == RNN_J_STR ? rnn_jstr_of(v) : rnn_jstr_of(rnn_jget(v, "class_name"));
    snprintf(who, sizeof who, "optimizer (%s)", cls ? cls : "?");
    r->who = who;
    if (!cls) return unsupported(r, "optimizer", v);
    const char *base = strrchr(cls, '>') ? strrchr(cls, '>') + 1 : cls;   /* "Custom>RMSprop" */
    base = strrchr(base, '.') ? strrchr(base, '.') + 1 : base;               /* "keras.optimizers.Adam" */
    char low[32];
    size_t n = strlen(base) < sizeof low - 1 ? strlen(base) : sizeof low - 1;
    for (size_t i = 0; i < n; i++) low[i] = (char)tolower((unsigned char)base[i]);
    low[n] = 0;
    int momentum_class = !strcmp(low, "momentum");   /* TF.js's SGD with momentum */
    if (!strcmp(low, "rmsprop")) o->kind = RNN_OPT_RMSPROP;
    else if (!strcmp(low, "adam")) o->kind = RNN_OPT_ADAM;
    else if (!strcmp(low, "sgd") || momentum_class) o->kind = RNN_OPT_SGD;
    else return unsupported(r, "optimizer", v);
    o->line = rnn_jline(r->d, v);
    o->learning_rate = o->kind == RNN_OPT_SGD ? 1e-2 : 1e-3;
    const rnn_jval *c = rnn_jget(v, "config");
    if (v->type == RNN_J_STR || !c) return 0;
    if (c->type != RNN_J_OBJ) return unsupported(r, "config", c);
    int tfjs = rnn_jget(c, "learningRate") != NULL;
    for (size_t i = 0; i < c->n; i++) {
        const char *k = c->key[i].s;
        const rnn_jval *x = &c->item[i];
        double d = 0;
        int num = !rnn_jnum(x, &d), null = x->type == RNN_J_NULL, f = x->type == RNN_J_BOOL && !x->i;
        int t = x->type == RNN_J_BOOL && x->i;
        double *slot = NULL;
        if (!strcmp(k, "name") || !strcmp(k, "jit_compile") || !strcmp(k, "ema_momentum") ||
            !strcmp(k, "ema_overwrite_frequency"))
            continue;
        if (!strcmp(k, "learning_rate") || !strcmp(k, "lr") || !strcmp(k, "learningRate")) slot = &o->learning_rate;
        else if (!strcmp(k, "clipnorm")) slot = &o->clipnorm;
        else if (!strcmp(k, "global_clipnorm")) slot = &o->global_clipnorm;
        else if (!strcmp(k, "clipvalue")) slot = &o->clipvalue;
        else if (!strcmp(k, "epsilon") && o->kind != RNN_OPT_SGD) slot = &o->epsilon;
        else if (o->kind == RNN_OPT_RMSPROP && (!strcmp(k, "rho") || (tfjs && !strcmp(k, "decay")))) slot = &o->rho;
        else if (o->kind == RNN_OPT_ADAM && (!strcmp(k, "beta_1") || !strcmp(k, "beta1"))) slot = &o->beta_1;
        else if (o->kind == RNN_OPT_ADAM && (!strcmp(k, "beta_2") || !strcmp(k, "beta2"))) slot = &o->beta_2;
        else if (o->kind == RNN_OPT_SGD && !strcmp(k, "momentum")) slot = &o->momentum;
        if (slot) {
            if (null && (slot == &o->clipnorm || slot == &o->global_clipnorm || slot == &o->clipvalue)) continue;
            if (!num || !isfinite(d)) return unsupported(r, k, x);   /* a schedule, a string */
            *slot = d;
            continue;
        }
        int ok = 0;
        if (o->kind == RNN_OPT_SGD && (!strcmp(k, "nesterov") || !strcmp(k, "useNesterov")) && (t || f)) {
            o->nesterov = t;
            ok = 1;
        } else if (o->kind == RNN_OPT_RMSPROP && !strcmp(k, "is_legacy_optimizer") && (t || f)) {
            o->epsilon_outside = t;   /* tf.keras <= 2.10's RMSprop: lr g / (sqrt(v) + eps) */
            ok = 1;
        } else if (!strcmp(k, "is_legacy_optimizer") && (t || f)) {
            ok = 1;
        } else {
            ok = ((!strcmp(k, "decay") || (o->kind == RNN_OPT_RMSPROP && !strcmp(k, "momentum"))) && num && d == 0) ||
                 ((!strcmp(k, "centered") || !strcmp(k, "amsgrad") || !strcmp(k, "use_ema")) && f) ||
                 ((!strcmp(k, "weight_decay") || !strcmp(k, "loss_scale_factor") ||
                   !strcmp(k, "gradient_accumulation_steps")) && (null || (num && d == 0)));
        }
        if (!ok) return unsupported(r, k, x);
    }
    if (momentum_class && !rnn_jget(c, "momentum")) o->momentum = 0;
    return 0;
}

static int read_training(reader *r, const rnn_jval *tc, int keras3) {
    const rnn_jval *opt = rnn_jget(tc, keras3 ? "optimizer" : "optimizer_config");
    if (!opt) opt = rnn_jget(tc, "optimizer");
    const rnn_jval *loss = rnn_jget(tc, "loss"), *metrics = rnn_jget(tc, "metrics");
    if (loss && loss->type != RNN_J_NULL && read_loss(r, loss)) return -1;
    if (metrics && metrics->type != RNN_J_NULL) {
        r->who = "training config";
        if (metrics->type != RNN_J_ARR) return unsupported(r, "metrics", metrics);
        for (size_t i = 0; i < metrics->n; i++)
            if (read_metric(r, &metrics->item[i])) return -1;
    }
    r->who = "training config";
    const char *empty_ok[] = {"weighted_metrics", "loss_weights"};
    for (int k = 0; k < 2; k++) {
        const rnn_jval *x = rnn_jget(tc, empty_ok[k]);
        if (x && x->type != RNN_J_NULL && !(x->type == RNN_J_ARR && x->n == 0)) return unsupported(r, empty_ok[k], x);
    }
    if (opt && opt->type != RNN_J_NULL && read_optimizer(r, opt)) return -1;
    return 0;
}

/* ---- the model -------------------------------------------------------------------------- */

int rnn_keras_model_from_doc(const rnn_jdoc *d, rnn_model *m, char *err, size_t errlen) {
    reader r = {d, m, FLAVOR_KERAS2, err, errlen, "model", NULL};
    rnn_model_init(m, "sequential", d->path);
    m->line = 1;
    const rnn_jval *root = &d->root, *model = root, *training = NULL;
    if (root->type != RNN_J_OBJ) return fail(&r, root, "a Keras model config is a JSON object");
    const rnn_jval *topo = rnn_jget(root, "modelTopology");
    int keras3 = 0;
    if (topo) {   /* TF.js: the config itself, or the converter's {model_config, training_config} */
        r.fl = FLAVOR_TFJS;
        model = rnn_jget(topo, "model_config") ? rnn_jget(topo, "model_config") : topo;
        training = rnn_jget(topo, "training_config");
        if (!training) training = rnn_jget(root, "trainingConfig");
    } else {
        training = rnn_jget(root, "training_config");
    }
    const char *kv = rnn_jstr_of(rnn_jget(topo ? topo : root, "keras_version"));
    if (rnn_jget(model, "module") || (kv && kv[0] == '3' && kv[1] == '.')) {
        r.fl = FLAVOR_KERAS3;
        keras3 = 1;
        if (!training) training = rnn_jget(root, "compile_config");
    } else if (kv && !strncmp(kv, "2.", 2)) {
        r.fl = FLAVOR_KERAS2;   /* a Keras model converted to TF.js keeps Keras 2's meaning */
    }
    const char *cls = rnn_jstr_of(rnn_jget(model, "class_name"));
    if (!cls) return fail(&r, model, "no class_name: not a Keras model config (model.to_json() or a TF.js model.json)");
    if (strcmp(cls, "Sequential"))
        return fail(&r, model, "model class %s is not supported (rnnc reads Sequential models)", cls);
    const rnn_jval *cfg = rnn_jget(model, "config"), *layers = cfg;
    if (cfg && cfg->type == RNN_J_OBJ) {
        layers = rnn_jget(cfg, "layers");
        const char *name = rnn_jstr_of(rnn_jget(cfg, "name"));
        if (name) {
            if (!*name || strlen(name) >= RNN_NAME_MAX)
                return fail(&r, cfg, "the model name must be 1 to %d characters long", RNN_NAME_MAX - 1);
            snprintf(m->name, sizeof m->name, "%s", name);
        }
    }
    if (!layers || layers->type != RNN_J_ARR) return fail(&r, model, "the Sequential config has no list of layers");
    int T = 0, first = 1;
    const rnn_jval *tsrc = NULL;
    for (size_t i = 0; i < layers->n; i++) {
        int rc = read_layer(&r, &layers->item[i], &T, &tsrc, first);
        if (rc < 0) return -1;
        first = 0;
    }
    r.who = "model";
    if (m->n_layers == 0) return fail(&r, layers, "the model has no layers");
    const rnn_jval *bis = cfg ? rnn_jget(cfg, "build_input_shape") : NULL;
    int t;
    if (bis && (batch_shape_length(&r, "build_input_shape", bis, &t) || note_length(&r, &T, &tsrc, t, bis))) return -1;
    rnn_layer *l0 = &m->layers[0];
    if (l0->kind == RNN_LAYER_EMBEDDING) {
        char who[200];
        snprintf(who, sizeof who, "layer %s (%s)", l0->name[0] ? l0->name : "?", rnn_layer_class_name(l0->kind));
        r.who = who;
        if (l0->input_length > 0 && T > 0 && l0->input_length != T)
            return fail(&r, r.first, "%s: input_length %d differs from the input shape's %d (line %d)", who,
                        l0->input_length, T, rnn_jline(d, tsrc));
        if (l0->input_length <= 0) l0->input_length = T;
        if (l0->input_length <= 0)
            return fail(&r, r.first,
                        "%s: the input length is not given (input_length, or the input shape [null, timesteps]); "
                        "rnnc compiles for a fixed length",
                        who);
    }
    /* Without a training configuration the loss follows the output layer, as rnnc's specs
     * pair them: a softmax output is sparse categorical, anything else binary. */
    const rnn_layer *last = &m->layers[m->n_layers - 1];
    if (last->activation == RNN_ACT_SOFTMAX) m->loss = RNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    if (training && training->type == RNN_J_OBJ && read_training(&r, training, keras3)) return -1;
    rnn_model_name_layers(m);
    return rnn_model_layout(m, err, errlen);
}

int rnn_keras_read_model(const char *path, rnn_model *m, char *err, size_t errlen) {
    rnn_jdoc d;
    if (rnn_jdoc_read(&d, path, err, errlen)) return -1;
    int rc = rnn_keras_model_from_doc(&d, m, err, errlen);
    rnn_jdoc_free(&d);
    return rc;
}

rnn_file_kind rnn_file_sniff(const char *path) {
    char ignored[8];   /* the caller's reader reports a file it cannot open */
    int fd = rnn_open_regular(path, "file", NULL, ignored, sizeof ignored);   /* never blocks on a FIFO */
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        return RNN_FILE_OTHER;
    }
    unsigned char b[8];
    size_t n = fread(b, 1, sizeof b, f);
    rnn_file_kind k = RNN_FILE_OTHER;
    if (n == 8 && !memcmp(b, "\x89HDF\r\n\x1a\n", 8)) {
        k = RNN_FILE_HDF5;
    } else {
        /* JSON text has no NUL in its first bytes; a safetensors file's length prefix does */
        int c, nul = memchr(b, 0, n) != NULL;
        rewind(f);
        while ((c = fgetc(f)) == ' ' || c == '\t' || c == '\n' || c == '\r') {}
        if (c == '{' && !nul) k = RNN_FILE_JSON;
    }
    fclose(f);
    return k;
}
