/*
 * dsl.c — the Lua side of a spec: the sandboxed environment and the constructors.
 *
 * A constructor (`lstm { 8, dropout = 0.3 }`) only records what it was given: it
 * returns a userdata holding its kind and the spec line it was called from, with a
 * shallow copy of its argument table as user value. All checking happens when the
 * returned model is lowered (lower.c), where layer names are known, so that every
 * message can name the line, the layer and the parameter.
 */
#include "rnnc.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

#define OBJECT_META "rnnc.object"

const char *const dsl_kind_names[DSL_KIND_COUNT] = {
#define DSL_LAYER_NAME_(id, dsl, cls) [DSL_##id] = #dsl,
    RNN_LAYER_KINDS(DSL_LAYER_NAME_)
#undef DSL_LAYER_NAME_
    [DSL_RMSPROP] = "rmsprop", [DSL_ADAM] = "adam", [DSL_SGD] = "sgd",
    [DSL_MODEL_CHECKPOINT] = "model_checkpoint", [DSL_EARLY_STOPPING] = "early_stopping",
    [DSL_CSV_LOGGER] = "csv_logger", [DSL_REDUCE_LR_ON_PLATEAU] = "reduce_lr_on_plateau",
    [DSL_EXPONENTIAL_DECAY] = "exponential_decay", [DSL_INVERSE_TIME_DECAY] = "inverse_time_decay",
    [DSL_PIECEWISE_CONSTANT_DECAY] = "piecewise_constant_decay", [DSL_COSINE_DECAY] = "cosine_decay",
    [DSL_SEQUENTIAL] = "sequential"};

/* What the spec can see besides the constructors. Everything else of Lua — io, os,
 * require, package, debug, dofile, loadfile, load, collectgarbage, string.dump,
 * math.random — is absent, so a spec can neither touch the system nor be
 * nondeterministic. */
static const char *const safe_globals[] = {
    "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget", "rawlen",
    "rawset", "select", "setmetatable", "getmetatable", "tonumber", "tostring", "type",
    "xpcall", "_VERSION", "string", "table", "math", "utf8", "coroutine", NULL};

/* Known names, for "did you mean" on an undefined global: the constructors, the safe
 * globals and print. */
static const char *known_globals[DSL_KIND_COUNT + sizeof safe_globals / sizeof safe_globals[0] + 1];

static void init_known_globals(void) {
    int n = 0;
    for (int k = 0; k < DSL_KIND_COUNT; k++) known_globals[n++] = dsl_kind_names[k];
    for (const char *const *g = safe_globals; *g; g++) known_globals[n++] = *g;
    known_globals[n++] = "print";
    known_globals[n] = NULL;
}

dsl_object *dsl_to_object(lua_State *L, int idx) {
    return (dsl_object *)luaL_testudata(L, idx, OBJECT_META);
}

/* The line of the Lua code that called the running C function. */
static int caller_line(lua_State *L) {
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        if (lua_getinfo(L, "l", &ar) && ar.currentline > 0) return ar.currentline;
    }
    return 0;
}

/* Shallow copy of the table at idx, pushed. */
static void push_table_copy(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
}

/* Push a new object of `kind` whose arguments are a copy of the table at args_idx. */
static void push_object(lua_State *L, dsl_kind kind, int args_idx, int line) {
    args_idx = lua_absindex(L, args_idx);
    dsl_object *o = lua_newuserdatauv(L, sizeof *o, 2);
    o->kind = kind;
    o->line = line;
    luaL_setmetatable(L, OBJECT_META);
    push_table_copy(L, args_idx);
    lua_setiuservalue(L, -2, 1);
}

static int constructor(lua_State *L) {
    dsl_kind kind = (dsl_kind)lua_tointeger(L, lua_upvalueindex(1));
    const char *name = dsl_kind_names[kind];
    if (!lua_istable(L, 1) || dsl_to_object(L, 1))
        return luaL_error(L, "%s: expected a table of arguments, as in %s { ... } (got %s)", name, name,
                          dsl_to_object(L, 1) ? dsl_kind_names[dsl_to_object(L, 1)->kind] : luaL_typename(L, 1));
    if (lua_gettop(L) > 1)
        return luaL_error(L, "%s: takes one table of arguments (got %d values)", name, lua_gettop(L));
    push_object(L, kind, 1, caller_line(L));
    return 1;
}

/* sequential "name" { ... } : the second call, with the name as upvalue. */
static int sequential_named(lua_State *L) {
    if (!lua_istable(L, 1) || dsl_to_object(L, 1))
        return luaL_error(L, "sequential: expected the layer table after the name, as in sequential \"%s\" { ... } (got %s)",
                          lua_tostring(L, lua_upvalueindex(1)), luaL_typename(L, 1));
    push_object(L, DSL_SEQUENTIAL, 1, caller_line(L));
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_setiuservalue(L, -2, 2);
    return 1;
}

/* sequential { ... } or sequential "name" { ... } */
static int sequential(lua_State *L) {
    if (lua_type(L, 1) == LUA_TSTRING) {
        lua_pushvalue(L, 1);
        lua_pushcclosure(L, sequential_named, 1);
        return 1;
    }
    if (!lua_istable(L, 1) || dsl_to_object(L, 1))
        return luaL_error(L, "sequential: expected a name or a table, as in sequential \"name\" { ... } (got %s)",
                          luaL_typename(L, 1));
    push_object(L, DSL_SEQUENTIAL, 1, caller_line(L));
    return 1;
}

static int object_tostring(lua_State *L) {
    dsl_object *o = luaL_checkudata(L, 1, OBJECT_META);
    lua_pushfstring(L, "%s (line %d)", dsl_kind_names[o->kind], o->line);
    return 1;
}

/* print writes to stderr (stdout may be the compiler's output), through
 * rnnc_spec_print: escaped and capped on the way to the terminal. */
static int safe_print(lua_State *L) {
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1) rnnc_spec_print("\t", 1);
        rnnc_spec_print(s, len);
        lua_pop(L, 1);
    }
    rnnc_spec_print("\n", 1);
    return 0;
}

/* Reading an undefined global is an error, with a suggestion: a misspelt
 * constructor would otherwise surface as "attempt to call a nil value". */
static int undefined_global(lua_State *L) {
    const char *key = lua_tostring(L, 2);
    if (!key) return luaL_error(L, "undefined name");
    const char *s = suggest_name(key, known_globals);
    if (s) return luaL_error(L, "undefined name '%s' (did you mean '%s'?)", key, s);
    return luaL_error(L, "undefined name '%s'", key);
}

static void open_lib(lua_State *L, const char *name, lua_CFunction open) {
    luaL_requiref(L, name, open, 1);
    lua_pop(L, 1);
}

void dsl_push_env(lua_State *L) {
    init_known_globals();
    open_lib(L, LUA_GNAME, luaopen_base);
    open_lib(L, LUA_STRLIBNAME, luaopen_string);
    open_lib(L, LUA_TABLIBNAME, luaopen_table);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math);
    open_lib(L, LUA_UTF8LIBNAME, luaopen_utf8);
    open_lib(L, LUA_COLIBNAME, luaopen_coroutine);

    /* Strip the library tables themselves: strings index the real `string` table. */
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    lua_getglobal(L, "math");
    lua_pushnil(L);
    lua_setfield(L, -2, "random");
    lua_pushnil(L);
    lua_setfield(L, -2, "randomseed");
    lua_pop(L, 1);

    luaL_newmetatable(L, OBJECT_META);
    lua_pushcfunction(L, object_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);

    lua_newtable(L); /* the env */
    for (const char *const *g = safe_globals; *g; g++) {
        lua_getglobal(L, *g);
        lua_setfield(L, -2, *g);
    }
    lua_pushcfunction(L, safe_print);
    lua_setfield(L, -2, "print");
    for (int k = 0; k < DSL_SEQUENTIAL; k++) {
        lua_pushinteger(L, k);
        lua_pushcclosure(L, constructor, 1);
        lua_setfield(L, -2, dsl_kind_names[k]);
    }
    lua_pushcfunction(L, sequential);
    lua_setfield(L, -2, "sequential");
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "_G");

    lua_newtable(L); /* its metatable */
    lua_pushcfunction(L, undefined_global);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
}
