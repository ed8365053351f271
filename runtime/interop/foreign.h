/*
 * foreign.h — weights of another framework matched to an rnn_model (interop). Internal
 * to librnnrt.
 *
 * A reader (TF.js manifest: weights.c, Keras HDF5: hdf5.c) lists the file's weights in
 * its order, each with the layer it belongs to; rnn_foreign_match pairs the file's
 * layers that have weights with the model's, in order, as Keras's load_weights does.
 */
#ifndef RNN_FOREIGN_H
#define RNN_FOREIGN_H

#include "rnnrt.h"

#include <stdint.h>

#define RNN_FOREIGN_NAME_MAX 256

typedef struct {
    char layer[RNN_FOREIGN_NAME_MAX];   /* the layer (group) it belongs to in the file */
    char name[RNN_FOREIGN_NAME_MAX];    /* its full name in the file, for messages     */
    int rank;
    int64_t shape[4];
    float *data;                        /* shape product values, malloc'd               */
} rnn_foreign_weight;

typedef struct {
    int n, cap;
    rnn_foreign_weight *w;
} rnn_foreign_set;

/* Append a weight (data allocated for its shape, zeroed); NULL when out of memory. */
rnn_foreign_weight *rnn_foreign_add(rnn_foreign_set *s, const char *layer, const char *name, int rank,
                                    const int64_t *shape);
void rnn_foreign_free(rnn_foreign_set *s);
int64_t rnn_foreign_count(const rnn_foreign_weight *w);

/* Copy s into params: the file's layers with weights in order against m's layers with
 * tensors; each weight's last name component (without ":0") must be the tensor's Keras
 * name and the shapes must agree; every value finite. 0, or -1 with "PATH: ..." in err. */
int rnn_foreign_match(const rnn_model *m, const char *path, const rnn_foreign_set *s, rnn_real *params, char *err,
                      size_t errlen);

/* Keras 2 HDF5 weights (hdf5.c): read path into s. 0, or -1 with err. */
int rnn_h5_read_weights(const char *path, rnn_foreign_set *s, char *err, size_t errlen);

/* Write m's weights as model.save_weights does (hdf5.c), atomically. 0, or -1 with err. */
int rnn_h5_write_weights(const rnn_model *m, const rnn_real *params, const char *path, char *err, size_t errlen);

#endif
