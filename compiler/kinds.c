/*
 * kinds.c — the compiler's table of layer kinds, made from the registry (RNN_LAYER_KINDS
 * in rnn_arch.h): the rnnc_kind each file under compiler/layers/ defines.
 */
#include "kinds.h"

#define DECLARE_KIND_(id, dsl, cls) extern const rnnc_kind rnnc_kind_##dsl;
RNN_LAYER_KINDS(DECLARE_KIND_)
#undef DECLARE_KIND_

static const rnnc_kind *const kinds[RNN_LAYER_KIND_COUNT] = {
#define KIND_ENTRY_(id, dsl, cls) [RNN_LAYER_##id] = &rnnc_kind_##dsl,
    RNN_LAYER_KINDS(KIND_ENTRY_)
#undef KIND_ENTRY_
};

const rnnc_kind *rnnc_kind_of(rnn_layer_kind k) {
    GEN_ASSERT((unsigned)k < RNN_LAYER_KIND_COUNT, "layer kind %d is not registered", (int)k);
    return kinds[k];
}
