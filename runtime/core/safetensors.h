/*
 * safetensors.h — checkpoint files in the safetensors format, and atomic file writes.
 * Internal to librnnrt. Format: 8-byte little-endian header length N, then N bytes of JSON
 *   {"__metadata__": {"k": "v", ...}, "name": {"dtype": "F32", "shape": [a, b],
 *    "data_offsets": [begin, end]}, ...}
 * then the raw little-endian data; offsets are relative to the end of the header.
 * The reader enforces what the format requires and never trusts a size before
 * checking it: header length bound (100 MiB) and within the file, valid UTF-8 JSON,
 * known dtypes, shape products that do not overflow and match end - begin, offsets
 * sorted, contiguous from 0 and ending exactly at the end of the file, unique names.
 */
#ifndef RNN_SAFETENSORS_H
#define RNN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { RNN_ST_F32 = 0, RNN_ST_F64, RNN_ST_I32, RNN_ST_I64, RNN_ST_U8 } rnn_st_dtype;

#define RNN_ST_MAX_RANK 4

typedef struct {
    const char *name;
    rnn_st_dtype dtype;
    int rank;
    int64_t shape[RNN_ST_MAX_RANK];
    const void *data;    /* host data of the dtype (in the host's byte order), shape product elements */
} rnn_st_tensor;

/* Write tensors (the header keeps the order given; the data region is laid out widest
 * dtype first so every offset is aligned without padding; names unique, no U+0000 in
 * names or values) and metadata (n_meta key/value string pairs) to path atomically.
 * Limits: a header of 100 MiB, a file of 4 GiB. 0 or -1 + err. */
int rnn_st_write(const char *path, const rnn_st_tensor *tensors, int n_tensors,
                 const char *const *meta_keys, const char *const *meta_values, int n_meta,
                 char *err, size_t errlen);

typedef struct rnn_st_file rnn_st_file;

/* Read and validate a whole file. NULL + err ("PATH: what is wrong") on any problem. */
rnn_st_file *rnn_st_open(const char *path, char *err, size_t errlen);
void rnn_st_close(rnn_st_file *f);

int rnn_st_count(const rnn_st_file *f);
/* Tensors in header order (the order given to rnn_st_write). data is aligned for its
 * dtype (misaligned foreign data is copied) and lives until rnn_st_close. */
const rnn_st_tensor *rnn_st_get(const rnn_st_file *f, int i);
const rnn_st_tensor *rnn_st_find(const rnn_st_file *f, const char *name);
const char *rnn_st_meta(const rnn_st_file *f, const char *key);       /* NULL if absent */

/* Open an existing file for reading, as every reader of librnnrt does (safetensors,
 * .npy, text), without blocking: open(2) with O_NONBLOCK, since a FIFO or a device
 * would otherwise block there until someone writes to it; then fstat, and anything but
 * a regular file is refused, naming the path: "PATH: is a directory, not a WHAT",
 * "PATH: is a FIFO (named pipe), not a regular file" (character device, block
 * device, socket). Returns the descriptor (blocking again, close-on-exec) and its size
 * in *size, or -1 with err set ("PATH: cannot open: REASON" when open fails). */
int rnn_open_regular(const char *path, const char *what, uint64_t *size, char *err, size_t errlen);

#endif
