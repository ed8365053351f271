/*
 * kinds.c — the runtime's table of layer kinds, made from the registry (RNN_LAYER_KINDS
 * in rnn_arch.h): each kind's names, and the rnn_kind its file under runtime/layers/
 * defines.
 */
#include "model/kind.h"

#include <stdio.h>
#include <stdlib.h>

#define DECLARE_KIND_(id, dsl, cls) extern const rnn_kind rnn_kind_##dsl;
RNN_LAYER_KINDS(DECLARE_KIND_)
#undef DECLARE_KIND_

static const rnn_kind *const kinds[RNN_LAYER_KIND_COUNT] = {
#define KIND_ENTRY_(id, dsl, cls) [RNN_LAYER_##id] = &rnn_kind_##dsl,
    RNN_LAYER_KINDS(KIND_ENTRY_)
#undef KIND_ENTRY_
};

static const char *const dsl_names[RNN_LAYER_KIND_COUNT] = {
#define DSL_NAME_(id, dsl, cls) [RNN_LAYER_##id] = #dsl,
    RNN_LAYER_KINDS(DSL_NAME_)
#undef DSL_NAME_
};

static const char *const class_names[RNN_LAYER_KIND_COUNT] = {
#define CLASS_NAME_(id, dsl, cls) [RNN_LAYER_##id] = cls,
    RNN_LAYER_KINDS(CLASS_NAME_)
#undef CLASS_NAME_
};

const rnn_kind *rnn_kind_of(rnn_layer_kind k) {
    if ((unsigned)k >= RNN_LAYER_KIND_COUNT) {
        /* a model description that no layout accepted: a bug in the caller */
        fprintf(stderr, "rnnrt: layer kind %d is not registered\n", (int)k);
        abort();
    }
    return kinds[k];
}

const char *rnn_layer_class_name(rnn_layer_kind k) {
    return (unsigned)k < RNN_LAYER_KIND_COUNT ? class_names[k] : "?";
}

const char *rnn_layer_dsl_name(rnn_layer_kind k) {
    return (unsigned)k < RNN_LAYER_KIND_COUNT ? dsl_names[k] : "?";
}
