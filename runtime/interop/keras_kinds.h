/*
 * keras_kinds.h — what a layer kind is to Keras's JSON (interop). Internal to librnnrt.
 *
 * One table per kind lists every key of its Keras config: the reader
 * (keras_read.c) maps or checks each key it finds and refuses any other; the writer
 * (keras_write.c) writes them in this order. A kind without a table (NULL) is not
 * read from or written to Keras JSON yet; adding one is a table here (see README,
 * "Interop").
 */
#ifndef RNN_KERAS_KINDS_H
#define RNN_KERAS_KINDS_H

#include "rnn_arch.h"

typedef enum {
    KK_OPTION,   /* the value of an rnnc option: arg names the rnn_layer field (rnn_layer_options) */
    KK_TUPLE,    /* an integer option that Keras writes as a 1-tuple ([3]; 3 is read too) */
    KK_FIXED,    /* rnnc computes with one value: arg is the JSON of the values accepted,
                    '|'-separated; the first is written (null in a config means "falsy",
                    as Keras and TF.js read it, so list it where that is rnnc's value) */
    KK_INIT,     /* an initializer: arg is the one rnnc draws (see keras_read.c, initializers) */
    KK_DTYPE,    /* the layer's dtype: float32 (a string, or Keras 3's policy object) */
    KK_IGNORED,  /* changes neither what the layer computes nor how it trains (unroll,
                    implementation, a seed rnnc's own generator replaces); arg is the
                    JSON the writer gives it */
    KK_LAYER     /* a wrapper's layer: {"class_name", "config"} of a recurrent kind, read
                    and written with that kind's table; its options become the wrapper's
                    (arg NULL), or, arg "backward", Keras 3's backward half: read only to
                    check that it mirrors the layer */
} rnn_kk_type;

typedef struct {
    const char *key;
    rnn_kk_type type;
    const char *arg;
    int keras2;          /* written by the exporter (a key of Keras 2's config) */
} rnn_keras_key;

typedef struct {
    const rnn_keras_key *keys;   /* {NULL}-terminated, in Keras 2's get_config order        */
    int keras3_per_sequence;     /* Keras 3's RNN input dropout: one mask per sequence       */
    const char *cell;            /* Keras 2 names the weights "LAYER/CELL/kernel:0" (HDF5)   */
} rnn_keras_kind;

/* The table of kind k, or NULL when rnnc has no Keras form for it yet. */
const rnn_keras_kind *rnn_keras_kind_of(rnn_layer_kind k);

/* The kind whose Keras class is cls (the registry's names), or -1. */
int rnn_keras_kind_by_class(const char *cls);

/* The keys every layer's config has besides its kind's (name, trainable, dtype, the
 * input shape of the first layer): handled by the reader itself. */
extern const rnn_keras_key rnn_keras_common_keys[];

#endif
