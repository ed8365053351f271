/*
 * max_pooling1d.c — the MaxPooling1D kind in the compiler: max_pooling1d { pool_size = 2, strides = pool_size,
 * padding = "valid" }, the maximum of each window.
 * emit_pool.c has its code; runtime/layers/max_pooling1d.c is the reference.
 */
#include "kinds.h"

static void plan_pool(plan *p, int i) { gen_pool_plan(p, i, 0, 0); }

static void emit_pool(emitter *e, int i) { gen_pool_emit(e, i, 0, 0); }

const rnnc_kind rnnc_kind_max_pooling1d = {.keywords = rnnc_pool_keywords, .plan = plan_pool, .emit = emit_pool};
