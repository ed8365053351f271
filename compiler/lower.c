/*
 * lower.c — the model object a spec returns → rnn_model.
 *
 * This stage checks what only the Lua side can see: unknown keywords (with a
 * suggestion), positional arguments, types, integers that are not integral, NaN and
 * infinities, strings that name nothing. Ranges and structure are checked once, for
 * every producer of an rnn_model, by rnn_model_layout() in the runtime.
 * Every error is "SPEC:LINE: WHO: message" raised as a Lua error.
 */
#include "kinds.h"
#include "rnnc.h"

#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Reads one argument table: the constructor's line and the name to blame. */
typedef struct {
    lua_State *L;
    const rnn_model *m;
    int line;
    const char *who;
    int args;                          /* absolute stack index of the table      */
    const char *const *keys;           /* keywords allowed, NULL-terminated      */
    const char *const *positional;     /* positional slots in order, NULL-term.  */
} reader;

static _Noreturn void lerror(const reader *r, const char *fmt, ...) {
    lua_State *L = r->L;
    char msg[RNNC_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->line > 0) lua_pushfstring(L, "%s:%d: %s: %s", r->m->source, r->line, r->who, msg);
    else lua_pushfstring(L, "%s: %s: %s", r->m->source, r->who, msg);
    lua_error(L);
    for (;;) {} /* lua_error does not return */
}

/* A short description of the value at idx for messages: "8.5", "nan",
 * "string \"8\"", "boolean true", "a table", "an lstm layer". */
static const char *describe(lua_State *L, int idx, char *buf, size_t n) {
    dsl_object *o;
    switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) snprintf(buf, n, "%lld", (long long)lua_tointeger(L, idx));
        else if (isnan((double)lua_tonumber(L, idx))) snprintf(buf, n, "nan");
        else if (isinf((double)lua_tonumber(L, idx))) snprintf(buf, n, "%sinf", lua_tonumber(L, idx) < 0 ? "-" : "");
        else snprintf(buf, n, "%.17g", (double)lua_tonumber(L, idx));
        break;
    case LUA_TSTRING: snprintf(buf, n, "string \"%.40s\"", lua_tostring(L, idx)); break;
    case LUA_TBOOLEAN: snprintf(buf, n, "boolean %s", lua_toboolean(L, idx) ? "true" : "false"); break;
    case LUA_TNIL: snprintf(buf, n, "nil"); break;
    case LUA_TUSERDATA:
        if ((o = dsl_to_object(L, idx)) != NULL) {
            snprintf(buf, n, "%s (line %d)", dsl_kind_names[o->kind], o->line);
            break;
        }
        /* fallthrough */
    default: snprintf(buf, n, "a %s", luaL_typename(L, idx)); break;
    }
    return buf;
}

static int npositional(const reader *r) {
    int n = 0;
    while (r->positional && r->positional[n]) n++;
    return n;
}

/* Every key of the table must be a known keyword or a positional slot. */
static void check_keys(const reader *r) {
    lua_State *L = r->L;
    int npos = npositional(r);
    lua_pushnil(L);
    while (lua_next(L, r->args)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -1);
            int ok = 0;
            for (const char *const *p = r->keys; *p && !ok; p++) ok = strcmp(*p, k) == 0;
            if (!ok) {
                const char *s = suggest_name(k, r->keys);
                if (s) lerror(r, "unknown keyword '%s' (did you mean '%s'?)", k, s);
                lerror(r, "unknown keyword '%s'", k);
            }
        } else if (lua_isinteger(L, -1)) {
            lua_Integer i = lua_tointeger(L, -1);
            if (i < 1 || i > npos) {
                if (npos == 0) lerror(r, "takes no positional arguments (got one at position %lld)", (long long)i);
                lerror(r, "too many positional arguments (at most %d: %s%s%s)", npos, r->positional[0],
                       npos > 1 ? ", " : "", npos > 1 ? r->positional[1] : "");
            }
        } else {
            char b[64];
            lerror(r, "unexpected key %s in the argument table", describe(L, -1, b, sizeof b));
        }
    }
}

/* Push the value of `key` (by keyword or its positional slot) and return 1, or push
 * nothing and return 0 when it is absent. */
static int fetch(const reader *r, const char *key) {
    lua_State *L = r->L;
    int pos = 0;
    for (int i = 0; r->positional && r->positional[i]; i++)
        if (strcmp(r->positional[i], key) == 0) pos = i + 1;
    lua_getfield(L, r->args, key);
    if (pos) {
        lua_rawgeti(L, r->args, pos);
        if (!lua_isnil(L, -1) && !lua_isnil(L, -2))
            lerror(r, "%s is given twice (positionally and as %s =)", key, key);
        if (lua_isnil(L, -2)) lua_remove(L, -2);
        else lua_pop(L, 1);
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

static int get_int(const reader *r, const char *key, int def, const char *desc) {
    if (!fetch(r, key)) return def;
    lua_State *L = r->L;
    char b[64];
    long long v;
    if (lua_isinteger(L, -1)) {
        v = (long long)lua_tointeger(L, -1);
    } else if (lua_type(L, -1) == LUA_TNUMBER) {
        double d = (double)lua_tonumber(L, -1);
        if (!(d == floor(d)) || fabs(d) > 9e15) lerror(r, "%s must be %s (got %s)", key, desc, describe(L, -1, b, sizeof b));
        v = (long long)d;
    } else {
        lerror(r, "%s must be %s (got %s)", key, desc, describe(L, -1, b, sizeof b));
    }
    if (v > INT_MAX || v < INT_MIN) lerror(r, "%s is out of range (got %s)", key, describe(L, -1, b, sizeof b));
    lua_pop(L, 1);
    return (int)v;
}

static double get_number(const reader *r, const char *key, double def) {
    if (!fetch(r, key)) return def;
    lua_State *L = r->L;
    char b[64];
    if (lua_type(L, -1) != LUA_TNUMBER) lerror(r, "%s must be a number (got %s)", key, describe(L, -1, b, sizeof b));
    double d = (double)lua_tonumber(L, -1);
    if (!isfinite(d)) lerror(r, "%s must be a finite number (got %s)", key, describe(L, -1, b, sizeof b));
    lua_pop(L, 1);
    return d;
}

static int get_bool(const reader *r, const char *key, int def) {
    if (!fetch(r, key)) return def;
    char b[64];
    if (!lua_isboolean(r->L, -1))
        lerror(r, "%s must be true or false (got %s)", key, describe(r->L, -1, b, sizeof b));
    int v = lua_toboolean(r->L, -1);
    lua_pop(r->L, 1);
    return v;
}

/* A string, copied into buf (size n); 0 when absent. */
static int get_string(const reader *r, const char *key, char *buf, size_t n) {
    if (!fetch(r, key)) return 0;
    char b[64];
    if (lua_type(r->L, -1) != LUA_TSTRING) lerror(r, "%s must be a string (got %s)", key, describe(r->L, -1, b, sizeof b));
    size_t len;
    const char *s = lua_tolstring(r->L, -1, &len);
    if (strlen(s) != len) lerror(r, "%s must not contain a NUL byte", key);
    if (len == 0) lerror(r, "%s must not be empty", key);
    if (len >= n) lerror(r, "%s is too long (%zu bytes; at most %zu)", key, len, n - 1);
    memcpy(buf, s, len + 1);
    lua_pop(r->L, 1);
    return 1;
}

/* One of `names` (NULL-terminated); returns its index, or def when absent. */
static int get_enum(const reader *r, const char *key, const char *const *names, int def) {
    char s[64];
    if (!get_string(r, key, s, sizeof s)) return def;
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], s) == 0) return i;
    char list[256] = "";
    for (int i = 0; names[i]; i++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s\"%s\"", i ? ", " : "", names[i]);
    }
    const char *sug = suggest_name(s, names);
    if (sug) lerror(r, "%s must be one of %s (got \"%s\"; did you mean \"%s\"?)", key, list, s, sug);
    lerror(r, "%s must be one of %s (got \"%s\")", key, list, s);
}

/* Start reading the argument table of the object at idx. */
static reader object_reader(lua_State *L, const rnn_model *m, int idx, const char *who,
                            const char *const *keys, const char *const *positional) {
    dsl_object *o = dsl_to_object(L, idx);
    lua_getiuservalue(L, idx, 1);
    reader r = {L, m, o->line, who, lua_gettop(L), keys, positional};
    check_keys(&r);
    return r;
}

/* ---- layers ------------------------------------------------------------------------ */

#define POSITIVE "a positive integer"
#define MAX_KEYWORDS 24

static void lower_layer(lua_State *L, rnn_model *m, rnn_layer *l, int idx);

/* Every option of src into dst (a wrapper takes the options of the layer it wraps). */
static void copy_options(rnn_layer *dst, const rnn_layer *src) {
    for (int k = 0; k < rnn_layer_option_count; k++) {
        const rnn_option_info *o = &rnn_layer_options[k];
        memcpy((char *)dst + o->offset, (const char *)src + o->offset, o->value == RNN_VALUE_REAL ? sizeof(double) : sizeof(int));
    }
}

/* A KW_LAYER keyword (the value at the top of the stack, popped): a recurrent layer
 * object, lowered with its own kind's keywords, whose options become l's and whose kind
 * goes to the keyword's field. Its name and line are l's wrapped_name and wrapped_line
 * (collect_layers read them before the layers were named). */
static void lower_wrapped(lua_State *L, rnn_model *m, rnn_layer *l, const reader *r, const rnnc_keyword *k) {
    dsl_object *o = dsl_to_object(L, -1);
    char b[64];
    if (!o || !dsl_is_layer(o->kind) || !rnnc_kind_of((rnn_layer_kind)o->kind)->cell)
        lerror(r, "%s must be a recurrent layer: simple_rnn { ... }, lstm { ... } or gru { ... } (got %s)", k->name,
               describe(L, -1, b, sizeof b));
    rnn_layer inner;
    rnn_layer_defaults(&inner, (rnn_layer_kind)o->kind);
    memcpy(inner.name, l->wrapped_name, sizeof inner.name);
    inner.line = o->line;
    lower_layer(L, m, &inner, lua_gettop(L));
    lua_pop(L, 1);
    copy_options(l, &inner);
    int kind = (int)o->kind;
    memcpy((char *)l + k->field, &kind, sizeof kind);
}

/* The layer object at idx, read with its kind's keyword table: each keyword in table
 * order, with the field's current value (the kind's default) when it is absent. */
static void lower_layer(lua_State *L, rnn_model *m, rnn_layer *l, int idx) {
    const rnnc_keyword *kw = rnnc_kind_of(l->kind)->keywords;
    const char *keys[MAX_KEYWORDS + 3], *positional[MAX_KEYWORDS + 1] = {NULL};
    int nk = 0;
    for (; kw[nk].name; nk++) {
        GEN_ASSERT(nk < MAX_KEYWORDS && kw[nk].position <= MAX_KEYWORDS, "keyword table of %s", l->name);
        keys[nk] = kw[nk].name;
        if (kw[nk].position) positional[kw[nk].position - 1] = kw[nk].name;
    }
    keys[nk] = "name";
    keys[nk + 1] = "trainable";   /* every layer's, as in Keras */
    keys[nk + 2] = NULL;
    int top = lua_gettop(L);
    reader r = object_reader(L, m, idx, l->name, keys, positional);
    for (const rnnc_keyword *k = kw; k->name; k++) {
        if (k->required) {
            if (!fetch(&r, k->name)) lerror(&r, "%s", k->required);
            lua_pop(L, 1);
        }
        char *field = (char *)l + k->field;
        int iv;
        double dv;
        switch (k->type) {
        case KW_INT:
            memcpy(&iv, field, sizeof iv);
            iv = get_int(&r, k->name, iv, POSITIVE);
            if (k->positive_if_given && iv <= 0 && fetch(&r, k->name))
                lerror(&r, "%s must be a positive integer (got %d)", k->name, iv);
            memcpy(field, &iv, sizeof iv);
            break;
        case KW_NUMBER:
            memcpy(&dv, field, sizeof dv);
            dv = get_number(&r, k->name, dv);
            memcpy(field, &dv, sizeof dv);
            break;
        case KW_BOOL:
            memcpy(&iv, field, sizeof iv);
            iv = get_bool(&r, k->name, iv);
            memcpy(field, &iv, sizeof iv);
            break;
        case KW_ENUM:   /* enum fields are int-sized (rnn_option_value) */
            memcpy(&iv, field, sizeof iv);
            iv = get_enum(&r, k->name, k->values, iv);
            memcpy(field, &iv, sizeof iv);
            break;
        case KW_LAYER:
            if (fetch(&r, k->name)) lower_wrapped(L, m, l, &r, k);
            break;
        }
    }
    /* after a wrapped layer's options, which may say trainable = false themselves */
    l->frozen = !get_bool(&r, "trainable", !l->frozen);
    lua_settop(L, top);
}

/* The name = of the layer object at idx into name (RNN_NAME_MAX bytes), if it has one. */
static void read_layer_name(lua_State *L, const rnn_model *m, int idx, char *name) {
    dsl_object *o = dsl_to_object(L, idx);
    char b[64];
    lua_getiuservalue(L, idx, 1);
    lua_getfield(L, -1, "name");
    if (!lua_isnil(L, -1)) {
        reader nr = {L, m, o->line, dsl_kind_names[o->kind], 0, NULL, NULL};
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        if (lua_type(L, -1) != LUA_TSTRING) lerror(&nr, "name must be a string (got %s)", describe(L, -1, b, sizeof b));
        if (len == 0 || len >= RNN_NAME_MAX || strlen(s) != len)
            lerror(&nr, "name must be 1 to %d characters long (got %zu)", RNN_NAME_MAX - 1, len);
        memcpy(name, s, len + 1);
    }
    lua_pop(L, 2);
}

/* A wrapper's layer (its KW_LAYER keyword, by keyword or position), if it is a layer
 * object: its kind, line and name, which naming the model's layers needs (lower_wrapped
 * checks the rest). */
static void peek_wrapped(lua_State *L, const rnn_model *m, rnn_layer *l, int idx) {
    idx = lua_absindex(L, idx);
    for (const rnnc_keyword *k = rnnc_kind_of(l->kind)->keywords; k->name; k++) {
        if (k->type != KW_LAYER) continue;
        lua_getiuservalue(L, idx, 1);
        lua_getfield(L, -1, k->name);
        if (lua_isnil(L, -1) && k->position) {
            lua_pop(L, 1);
            lua_rawgeti(L, -1, k->position);
        }
        dsl_object *o = dsl_to_object(L, -1);
        if (o && dsl_is_layer(o->kind)) {
            l->wrapped = (rnn_layer_kind)o->kind;
            l->wrapped_line = o->line;
            read_layer_name(L, m, lua_gettop(L), l->wrapped_name);
        }
        lua_pop(L, 2);
    }
}

/* Append the layers in the table at idx (recursing into plain sub-tables, so that
 * a spec can splice in a list it built with a loop). */
static void collect_layers(lua_State *L, rnn_model *m, reader *mr, int idx, int depth, int layers_table) {
    idx = lua_absindex(L, idx);
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        dsl_object *o = dsl_to_object(L, -1);
        char b[64];
        if (o && dsl_is_layer(o->kind)) {
            if (m->n_layers >= RNN_MAX_LAYERS) {
                mr->line = o->line;
                lerror(mr, "the model has more than %d layers (the limit)", RNN_MAX_LAYERS);
            }
            rnn_layer *l = &m->layers[m->n_layers];
            rnn_layer_defaults(l, (rnn_layer_kind)o->kind);
            l->line = o->line;
            read_layer_name(L, m, -1, l->name);
            peek_wrapped(L, m, l, -1);
            lua_pushvalue(L, -1);
            lua_rawseti(L, layers_table, m->n_layers + 1);
            m->n_layers++;
        } else if (lua_istable(L, -1) && !o && depth < 8) {
            collect_layers(L, m, mr, -1, depth + 1, layers_table);
        } else {
            if (o) mr->line = o->line;
            lerror(mr, "entry %lld is %s, not a layer", (long long)i, describe(L, -1, b, sizeof b));
        }
        lua_pop(L, 1);
    }
}

/* ---- compile = { ... } ---------------------------------------------------------------- */

static const char *const k_rmsprop[] = {"learning_rate", "rho", "epsilon", "epsilon_outside", "clipnorm",
                                        "global_clipnorm", "clipvalue", "embedding_clip", NULL};
static const char *const k_adam[] = {"learning_rate", "beta_1", "beta_2", "epsilon", "clipnorm",
                                     "global_clipnorm", "clipvalue", "embedding_clip", NULL};
static const char *const k_sgd[] = {"learning_rate", "momentum", "nesterov", "clipnorm",
                                    "global_clipnorm", "clipvalue", "embedding_clip", NULL};
static const char *const p_lr[] = {"learning_rate", NULL};
static const char *const optimizer_names[] = {"rmsprop", "adam", "sgd", NULL};
static const char *const embedding_clip_names[] = {"per_lookup", "summed", NULL};

/* The schedules' keywords, Keras's positional order first (keras.optimizers.schedules). */
static const char *const k_decay[] = {"initial_learning_rate", "decay_steps", "decay_rate", "staircase", NULL};
static const char *const k_piecewise[] = {"boundaries", "values", NULL};
static const char *const k_cosine[] = {"initial_learning_rate", "decay_steps", "alpha", NULL};

/* A list of 1 to max numbers (the table at the top of the stack) into v; its length. */
static int get_number_list(reader *r, const char *key, double *v, int max) {
    lua_State *L = r->L;
    char b[64];
    if (!lua_istable(L, -1) || dsl_to_object(L, -1))
        lerror(r, "%s must be a list of numbers, as in %s = { 1000, 2000 } (got %s)", key, key, describe(L, -1, b, sizeof b));
    int t = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, t);
    if (n < 1 || n > max) lerror(r, "%s must hold 1 to %d numbers (got %lld)", key, max, (long long)n);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, t, i);
        if (lua_type(L, -1) != LUA_TNUMBER || !isfinite((double)lua_tonumber(L, -1)))
            lerror(r, "%s[%lld] must be a finite number (got %s)", key, (long long)i, describe(L, -1, b, sizeof b));
        v[i - 1] = (double)lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return (int)n;
}

/* learning_rate = exponential_decay { ... } and the other schedules (the object at the
 * top of the stack, popped): Keras's arguments, every one but staircase and alpha
 * required; ranges are the layout's. */
static void lower_schedule(lua_State *L, rnn_model *m, rnn_lr_schedule *s, dsl_object *obj) {
    const int idx = lua_gettop(L);
    const char *who = dsl_kind_names[obj->kind];
    memset(s, 0, sizeof *s);
    s->kind = (rnn_schedule_kind)(obj->kind - DSL_EXPONENTIAL_DECAY + RNN_SCHEDULE_EXPONENTIAL_DECAY);
    s->line = obj->line;
    const char *const *keys = s->kind == RNN_SCHEDULE_PIECEWISE_CONSTANT_DECAY ? k_piecewise
                              : s->kind == RNN_SCHEDULE_COSINE_DECAY           ? k_cosine
                                                                               : k_decay;
    const char *const *positional = keys;   /* Keras's positional order is the keywords' */
    reader r = object_reader(L, m, idx, who, keys, positional);
    if (s->kind == RNN_SCHEDULE_PIECEWISE_CONSTANT_DECAY) {
        if (!fetch(&r, "boundaries")) lerror(&r, "boundaries is required, as in %s { { 1000, 2000 }, { 1e-2, 1e-3, 1e-4 } }", who);
        s->n_boundaries = get_number_list(&r, "boundaries", s->boundaries, RNN_MAX_BOUNDARIES);
        if (!fetch(&r, "values")) lerror(&r, "values is required (one more than the boundaries)");
        int nv = get_number_list(&r, "values", s->values, RNN_MAX_BOUNDARIES + 1);
        if (nv != s->n_boundaries + 1)
            lerror(&r, "values must hold one more number than boundaries (got %d values for %d boundaries)", nv,
                   s->n_boundaries);
    } else {
        for (int k = 0; k < (s->kind == RNN_SCHEDULE_COSINE_DECAY ? 2 : 3); k++)
            if (!fetch(&r, keys[k])) lerror(&r, "%s is required, as in %s { 1e-3, 1000%s }", keys[k], who,
                                            s->kind == RNN_SCHEDULE_COSINE_DECAY ? "" : ", 0.96");
            else lua_pop(L, 1);
        s->initial_learning_rate = get_number(&r, "initial_learning_rate", 0);
        s->decay_steps = get_number(&r, "decay_steps", 0);
        if (s->kind == RNN_SCHEDULE_COSINE_DECAY) {
            s->alpha = get_number(&r, "alpha", 0);
        } else {
            s->decay_rate = get_number(&r, "decay_rate", 0);
            s->staircase = get_bool(&r, "staircase", 0);
        }
    }
    lua_settop(L, idx - 1);
}

/* learning_rate: a number, or a schedule object. */
static void lower_learning_rate(lua_State *L, rnn_model *m, reader *r, rnn_optimizer *o) {
    o->learning_rate = o->kind == RNN_OPT_SGD ? 1e-2 : 1e-3;
    if (!fetch(r, "learning_rate")) return;
    dsl_object *obj = dsl_to_object(L, -1);
    if (obj && obj->kind >= DSL_EXPONENTIAL_DECAY && obj->kind <= DSL_COSINE_DECAY) {
        lower_schedule(L, m, &o->schedule, obj);
        o->learning_rate = rnn_schedule_rate(&o->schedule, 0, 0);   /* the first step's, for messages */
        return;
    }
    char b[64];
    if (lua_type(L, -1) != LUA_TNUMBER)
        lerror(r, "learning_rate must be a number or a schedule such as exponential_decay { 1e-3, 1000, 0.96 } (got %s)",
               describe(L, -1, b, sizeof b));
    lua_pop(L, 1);
    o->learning_rate = get_number(r, "learning_rate", o->learning_rate);
}

static void lower_optimizer(lua_State *L, rnn_model *m, reader *cr) {
    rnn_optimizer *o = &m->optimizer;
    int top = lua_gettop(L);
    if (!fetch(cr, "optimizer")) return;   /* Keras's default: rmsprop */
    char b[64];
    if (lua_type(L, -1) == LUA_TSTRING) {  /* optimizer = "adam": Keras's defaults */
        lua_pop(L, 1);
        int k = get_enum(cr, "optimizer", optimizer_names, 0);
        o->kind = (rnn_optimizer_kind)k;
        o->line = m->line;
        o->learning_rate = k == RNN_OPT_SGD ? 1e-2 : 1e-3;
        lua_settop(L, top);
        return;
    }
    dsl_object *obj = dsl_to_object(L, -1);
    if (!obj || obj->kind < DSL_RMSPROP || obj->kind > DSL_SGD)
        lerror(cr, "optimizer must be rmsprop { ... }, adam { ... }, sgd { ... } or one of their names (got %s)",
               describe(L, -1, b, sizeof b));
    int idx = lua_gettop(L);
    o->kind = (rnn_optimizer_kind)(obj->kind - DSL_RMSPROP);
    o->line = obj->line;
    const char *who = dsl_kind_names[obj->kind];
    reader r = object_reader(L, m, idx, who, o->kind == RNN_OPT_RMSPROP ? k_rmsprop : o->kind == RNN_OPT_ADAM ? k_adam : k_sgd, p_lr);
    lower_learning_rate(L, m, &r, o);
    o->clipnorm = get_number(&r, "clipnorm", 0);
    o->global_clipnorm = get_number(&r, "global_clipnorm", 0);
    o->clipvalue = get_number(&r, "clipvalue", 0);
    o->embedding_clip = (rnn_embedding_clip)get_enum(&r, "embedding_clip", embedding_clip_names, RNN_EMBEDDING_CLIP_PER_LOOKUP);
    if (o->kind == RNN_OPT_RMSPROP) {
        o->rho = get_number(&r, "rho", 0.9);
        o->epsilon = get_number(&r, "epsilon", 1e-7);
        o->epsilon_outside = get_bool(&r, "epsilon_outside", 0);
    } else if (o->kind == RNN_OPT_ADAM) {
        o->beta_1 = get_number(&r, "beta_1", 0.9);
        o->beta_2 = get_number(&r, "beta_2", 0.999);
        o->epsilon = get_number(&r, "epsilon", 1e-7);
    } else {
        o->momentum = get_number(&r, "momentum", 0);
        o->nesterov = get_bool(&r, "nesterov", 0);
    }
    lua_settop(L, top);
}

static const char *const k_compile[] = {"optimizer", "loss", "metrics", NULL};
static const char *const loss_names[] = {"binary_crossentropy", "sparse_categorical_crossentropy",
                                         "categorical_crossentropy", NULL};
/* The metric names and what each asks for: an accuracy (rnn_accuracy_kind) or another
 * metric (RNN_METRIC_*); Keras's class names too. */
static const char *const metric_names[] = {"accuracy", "acc", "binary_accuracy", "sparse_categorical_accuracy",
                                           "categorical_accuracy", "auc", "AUC", "precision", "Precision", "recall",
                                           "Recall", NULL};
static const int metric_accuracy_of[] = {RNN_ACCURACY_AUTO, RNN_ACCURACY_AUTO, RNN_ACCURACY_BINARY,
                                         RNN_ACCURACY_SPARSE_CATEGORICAL, RNN_ACCURACY_CATEGORICAL, -1, -1, -1, -1, -1, -1};
static const int metric_bit_of[] = {0, 0, 0, 0, 0, RNN_METRIC_AUC, RNN_METRIC_AUC, RNN_METRIC_PRECISION,
                                    RNN_METRIC_PRECISION, RNN_METRIC_RECALL, RNN_METRIC_RECALL};

static void lower_compile(lua_State *L, rnn_model *m, reader *mr) {
    char b[64];
    int top = lua_gettop(L);
    if (!fetch(mr, "compile")) return;
    if (!lua_istable(L, -1) || dsl_to_object(L, -1))
        lerror(mr, "compile must be a table, as in compile = { optimizer = rmsprop { }, loss = \"binary_crossentropy\" } (got %s)",
               describe(L, -1, b, sizeof b));
    reader cr = {L, m, m->line, "compile", lua_gettop(L), k_compile, NULL};
    check_keys(&cr);
    lower_optimizer(L, m, &cr);
    m->loss = (rnn_loss_kind)get_enum(&cr, "loss", loss_names, RNN_LOSS_BINARY_CROSSENTROPY);
    if (fetch(&cr, "metrics")) {
        if (!lua_istable(L, -1) || dsl_to_object(L, -1))
            lerror(&cr, "metrics must be a list of names, as in metrics = { \"accuracy\" } (got %s)", describe(L, -1, b, sizeof b));
        int t = lua_gettop(L);
        lua_Integer n = (lua_Integer)lua_rawlen(L, t);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, t, i);
            const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
            int k = -1;
            for (int j = 0; s && metric_names[j]; j++)
                if (strcmp(metric_names[j], s) == 0) k = j;
            if (k < 0) {
                const char *sug = s ? suggest_name(s, metric_names) : NULL;
                if (sug) lerror(&cr, "unknown metric %s (did you mean \"%s\"?)", describe(L, -1, b, sizeof b), sug);
                lerror(&cr, "unknown metric %s (rnnc knows \"accuracy\", \"auc\", \"precision\" and \"recall\")",
                       describe(L, -1, b, sizeof b));
            }
            if (metric_accuracy_of[k] >= 0) {
                if (m->metric_accuracy && (int)m->accuracy_kind != metric_accuracy_of[k])
                    lerror(&cr, "metrics name two accuracies (\"%s\" and another); give one", s);
                m->metric_accuracy = 1;
                m->accuracy_kind = (rnn_accuracy_kind)metric_accuracy_of[k];
            }
            m->metrics |= metric_bit_of[k];
            lua_pop(L, 1);
        }
    }
    lua_settop(L, top);
}

/* ---- fit = { ... } --------------------------------------------------------------------- */

static const char *const k_fit[] = {"epochs", "batch_size", "validation_split", "shuffle", "seed", "callbacks",
                                    "class_weight", NULL};
static const char *const monitor_names[] = {"val_loss", "val_accuracy", "loss", "accuracy", "val_auc", "auc",
                                            "val_precision", "precision", "val_recall", "recall", NULL};
static const char *const mode_names[] = {"auto", "min", "max", NULL};
static const char *const k_checkpoint[] = {"filepath", "monitor", "save_best_only", "mode", NULL};
static const char *const p_checkpoint[] = {"filepath", NULL};
static const char *const k_early[] = {"monitor", "patience", "min_delta", "restore_best_weights", "mode",
                                      "baseline", "start_from_epoch", "restore_at_end", NULL};
static const char *const k_csv[] = {"filename", NULL};
static const char *const p_csv[] = {"filename", NULL};
static const char *const k_plateau[] = {"monitor", "factor", "patience", "min_delta", "cooldown", "min_lr", "mode", NULL};

static void lower_callback(lua_State *L, rnn_model *m, reader *fr, int idx) {
    char b[64];
    dsl_object *o = dsl_to_object(L, idx);
    if (!o || o->kind < DSL_MODEL_CHECKPOINT || o->kind > DSL_REDUCE_LR_ON_PLATEAU)
        lerror(fr, "callbacks must hold model_checkpoint, early_stopping, csv_logger or reduce_lr_on_plateau objects (got %s)",
               describe(L, idx, b, sizeof b));
    if (m->fit.n_callbacks >= RNN_MAX_CALLBACKS) {
        fr->line = o->line;
        lerror(fr, "at most %d callbacks", RNN_MAX_CALLBACKS);
    }
    rnn_callback *c = &m->fit.callbacks[m->fit.n_callbacks++];
    memset(c, 0, sizeof *c);
    c->line = o->line;
    c->kind = (rnn_callback_kind)(o->kind - DSL_MODEL_CHECKPOINT);
    const char *who = dsl_kind_names[o->kind];
    int top = lua_gettop(L);
    reader r;
    switch (o->kind) {
    case DSL_MODEL_CHECKPOINT:
        r = object_reader(L, m, idx, who, k_checkpoint, p_checkpoint);
        if (!get_string(&r, "filepath", c->path, sizeof c->path))
            lerror(&r, "filepath is required, as in model_checkpoint { \"best.safetensors\" }");
        c->monitor = (rnn_monitor)get_enum(&r, "monitor", monitor_names, RNN_MONITOR_VAL_LOSS);
        c->mode = (rnn_monitor_mode)get_enum(&r, "mode", mode_names, RNN_MODE_AUTO);
        c->save_best_only = get_bool(&r, "save_best_only", 0);
        break;
    case DSL_EARLY_STOPPING:
        r = object_reader(L, m, idx, who, k_early, NULL);
        c->monitor = (rnn_monitor)get_enum(&r, "monitor", monitor_names, RNN_MONITOR_VAL_LOSS);
        c->mode = (rnn_monitor_mode)get_enum(&r, "mode", mode_names, RNN_MODE_AUTO);
        c->patience = get_int(&r, "patience", 0, "a non-negative integer");
        c->min_delta = get_number(&r, "min_delta", 0);
        c->restore_best_weights = get_bool(&r, "restore_best_weights", 0);
        c->restore_at_end = get_bool(&r, "restore_at_end", 0);
        c->start_from_epoch = get_int(&r, "start_from_epoch", 0, "a non-negative integer");
        if (fetch(&r, "baseline")) {
            lua_pop(L, 1);
            c->has_baseline = 1;
            c->baseline = get_number(&r, "baseline", 0);
        }
        break;
    case DSL_REDUCE_LR_ON_PLATEAU:   /* Keras's ReduceLROnPlateau defaults */
        r = object_reader(L, m, idx, who, k_plateau, NULL);
        c->monitor = (rnn_monitor)get_enum(&r, "monitor", monitor_names, RNN_MONITOR_VAL_LOSS);
        c->mode = (rnn_monitor_mode)get_enum(&r, "mode", mode_names, RNN_MODE_AUTO);
        c->factor = get_number(&r, "factor", 0.1);
        c->patience = get_int(&r, "patience", 10, "a non-negative integer");
        c->min_delta = get_number(&r, "min_delta", 1e-4);
        c->cooldown = get_int(&r, "cooldown", 0, "a non-negative integer");
        c->min_lr = get_number(&r, "min_lr", 0);
        break;
    default:
        r = object_reader(L, m, idx, who, k_csv, p_csv);
        if (!get_string(&r, "filename", c->path, sizeof c->path))
            lerror(&r, "filename is required, as in csv_logger { \"history.csv\" }");
        break;
    }
    lua_settop(L, top);
}

/* class_weight = { [0] = 1, [1] = 3 } (Keras's dict from class index to weight, the
 * table at the top of the stack, popped): integer keys from 0 without a gap, numbers. */
static void lower_class_weight(lua_State *L, rnn_model *m, reader *fr) {
    char b[64];
    if (!lua_istable(L, -1) || dsl_to_object(L, -1))
        lerror(fr, "class_weight must be a table from class index to weight, as in class_weight = { [0] = 1, [1] = 3 } (got %s)",
               describe(L, -1, b, sizeof b));
    int t = lua_gettop(L), n = 0;
    int seen[RNN_MAX_CLASS_WEIGHTS] = {0};
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 0 || lua_tointeger(L, -2) >= RNN_MAX_CLASS_WEIGHTS)
            lerror(fr, "class_weight's keys must be class indices 0 to %d (got %s)", RNN_MAX_CLASS_WEIGHTS - 1,
                   describe(L, -2, b, sizeof b));
        int k = (int)lua_tointeger(L, -2);
        if (lua_type(L, -1) != LUA_TNUMBER || !isfinite((double)lua_tonumber(L, -1)))
            lerror(fr, "class_weight[%d] must be a finite number (got %s)", k, describe(L, -1, b, sizeof b));
        m->fit.class_weight[k] = (double)lua_tonumber(L, -1);
        seen[k] = 1;
        n = k + 1 > n ? k + 1 : n;
        lua_pop(L, 1);
    }
    for (int k = 0; k < n; k++)   /* Keras: keys from 0 to one less than the number of classes */
        if (!seen[k]) lerror(fr, "class_weight has no weight for class %d (give every class from 0 to %d)", k, n - 1);
    if (n == 0) lerror(fr, "class_weight is empty");
    m->fit.n_class_weights = n;
    lua_pop(L, 1);
}

static void lower_fit(lua_State *L, rnn_model *m, reader *mr) {
    char b[64];
    int top = lua_gettop(L);
    if (!fetch(mr, "fit")) return;
    if (!lua_istable(L, -1) || dsl_to_object(L, -1))
        lerror(mr, "fit must be a table, as in fit = { epochs = 10, batch_size = 64 } (got %s)", describe(L, -1, b, sizeof b));
    reader fr = {L, m, m->line, "fit", lua_gettop(L), k_fit, NULL};
    check_keys(&fr);
    m->fit.epochs = get_int(&fr, "epochs", m->fit.epochs, POSITIVE);
    m->fit.batch_size = get_int(&fr, "batch_size", m->fit.batch_size, POSITIVE);
    m->fit.validation_split = get_number(&fr, "validation_split", 0);
    m->fit.shuffle = get_bool(&fr, "shuffle", 1);
    if (fetch(&fr, "seed")) {
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
            lerror(&fr, "seed must be a non-negative integer (got %s)", describe(L, -1, b, sizeof b));
        m->fit.seed = (uint64_t)lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    if (fetch(&fr, "class_weight")) lower_class_weight(L, m, &fr);
    if (fetch(&fr, "callbacks")) {
        if (!lua_istable(L, -1) || dsl_to_object(L, -1))
            lerror(&fr, "callbacks must be a list, as in callbacks = { early_stopping { patience = 3 } } (got %s)",
                   describe(L, -1, b, sizeof b));
        int t = lua_gettop(L);
        lua_Integer n = (lua_Integer)lua_rawlen(L, t);
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, t, i);
            lower_callback(L, m, &fr, lua_gettop(L));
            lua_pop(L, 1);
        }
    }
    lua_settop(L, top);
}

/* ---- the model ------------------------------------------------------------------------- */

static const char *const k_sequential[] = {"compile", "fit", "name", NULL};

void lower_model(lua_State *L, rnn_model *m) {
    int idx = lua_gettop(L);
    dsl_object *o = dsl_to_object(L, idx);
    m->line = o->line;
    lua_getiuservalue(L, idx, 2);
    if (lua_type(L, -1) == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        reader nr = {L, m, o->line, "sequential", 0, NULL, NULL};
        if (len == 0 || len >= RNN_NAME_MAX || strlen(s) != len)
            lerror(&nr, "the model name must be 1 to %d characters long (got %zu)", RNN_NAME_MAX - 1, len);
        memcpy(m->name, s, len + 1);
    }
    lua_pop(L, 1);

    /* The model table: its array part is the layers, the rest keywords. */
    lua_getiuservalue(L, idx, 1);
    int args = lua_gettop(L);
    reader mr = {L, m, o->line, "sequential", args, k_sequential, NULL};
    lua_pushnil(L);
    while (lua_next(L, args)) {   /* keywords only; integer keys are layers */
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1)) {
            if (lua_type(L, -1) != LUA_TSTRING) {
                char b[64];
                lerror(&mr, "unexpected key %s in the model table", describe(L, -1, b, sizeof b));
            }
            const char *k = lua_tostring(L, -1);
            int ok = 0;
            for (const char *const *p = k_sequential; *p && !ok; p++) ok = strcmp(*p, k) == 0;
            if (!ok) {
                const char *s = suggest_name(k, k_sequential);
                if (s) lerror(&mr, "unknown keyword '%s' (did you mean '%s'?)", k, s);
                lerror(&mr, "unknown keyword '%s' (a model takes layers, compile = { ... } and fit = { ... })", k);
            }
        }
    }
    char name[RNN_NAME_MAX];
    if (get_string(&mr, "name", name, sizeof name)) memcpy(m->name, name, sizeof name);

    lua_newtable(L);   /* the layer objects, in order */
    int layers = lua_gettop(L);
    collect_layers(L, m, &mr, args, 0, layers);
    if (m->n_layers == 0)
        lerror(&mr, "the model has no layers; start with embedding { input_dim, output_dim, input_length = T }");
    rnn_model_name_layers(m);
    for (int i = 0; i < m->n_layers; i++) {
        lua_rawgeti(L, layers, i + 1);
        lower_layer(L, m, &m->layers[i], lua_gettop(L));
        lua_pop(L, 1);
    }
    lower_compile(L, m, &mr);
    lower_fit(L, m, &mr);
    lua_settop(L, idx);
}
