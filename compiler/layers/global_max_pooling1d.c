/*
 * global_max_pooling1d.c — the GlobalMaxPooling1D kind in the compiler: global_max_pooling1d { }, the
 * maximum over all the steps.
 * emit_pool.c has its code; runtime/layers/global_max_pooling1d.c is the reference.
 */
#include "kinds.h"

static const rnnc_keyword keywords[] = {{NULL, KW_INT, 0, 0, NULL, NULL, 0}};

static void plan_pool(plan *p, int i) { gen_pool_plan(p, i, 0, 1); }

static void emit_pool(emitter *e, int i) { gen_pool_emit(e, i, 0, 1); }

const rnnc_kind rnnc_kind_global_max_pooling1d = {.keywords = keywords, .plan = plan_pool, .emit = emit_pool};
