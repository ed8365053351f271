/*
 * data.h — training data for the trainer: .npy arrays, raw text, the built-in set.
 * Internal to librnnrt (not installed). Every loader reports errors as one line in
 * err — "FILE: row R, column C (0-based): what is wrong" for a bad value — and
 * returns -1; it never crashes and never returns half-filled data (on error *d is
 * left empty, except that rnn_npy_read_y keeps x and leaves y NULL).
 */
#ifndef RNN_DATA_H
#define RNN_DATA_H

#include "rnn_arch.h"

#include <stddef.h>
#include <stdint.h>

/* A labelled set of token sequences. Owns x, y and w. */
typedef struct {
    size_t n;        /* samples                                                       */
    int T;           /* timesteps per sample                                          */
    int32_t *x;      /* [n, T] token ids                                              */
    float *y;        /* [n, label_width] labels: binary in [0, 1] (fractional allowed;
                        one per sigmoid output), a class index, or one-hot rows       */
    int label_width; /* labels per sample (0 is taken as 1)                           */
    float *w;        /* [n] sample weights (sample_weight, class_weight), or NULL     */
} rnn_data;

void rnn_data_free(rnn_data *d);   /* frees x, y and w, zeroes *d; safe on a zeroed one */

/* Labels per sample for a loss and an output of n_outputs units: one per output, or one
 * class index (sparse categorical cross-entropy). */
int rnn_data_label_width(rnn_loss_kind loss, int n_outputs);

/* ---- .npy (data/npy.c) ---------------------------------------------------------
 * Format versions 1.0, 2.0 (and 3.0), C order only, little- or big-endian as the
 * descr says. x: int32/int64/uint16/int16/uint8 (also int8/uint32/uint64),
 * shape [N, T] with T == the model's; every id in [0, vocab). y: any integer dtype
 * or float32/float64, shape [N] or [N, 1]; binary labels must be in [0, 1]
 * (integers: exactly 0 or 1), sparse categorical labels integers in [0, n_classes).
 * Only a regular file is read: a FIFO, a device or a directory is refused at once. */
int rnn_npy_read_x(const char *path, int T, int vocab, rnn_data *d, char *err, size_t errlen);

/* Fill d->y (and d->label_width) from path; d->n must already be set (from the x file)
 * and must match. y is [N] or [N, 1] for one binary output or a class index, [N, K] for
 * K sigmoid outputs (multi-label) or categorical cross-entropy (every row in [0, 1] and
 * summing to 1, within 1e-4). */
int rnn_npy_read_y(const char *path, rnn_loss_kind loss, int n_classes, rnn_data *d, char *err, size_t errlen);

/* Fill d->w from path (fit --train-sample-weight): [N] or [N, 1] of any integer or float
 * dtype, every weight finite and >= 0; d->n must match. */
int rnn_npy_read_weights(const char *path, rnn_data *d, char *err, size_t errlen);

/* A [rows, cols] matrix of any integer or float dtype into out (fit --embedding-weights):
 * the shape must be exactly that, every value finite. */
int rnn_npy_read_matrix(const char *path, int rows, int cols, float *out, char *err, size_t errlen);

/* ---- raw text (data/text.c) ----------------------------------------------------
 * Input: a TSV file of "label<TAB>text" lines, or a directory laid out like aclImdb:
 * pos/ and neg/ (label 1 and 0) with one *.txt review each, read in sorted order
 * (neg first, then pos; file names compared bytewise).
 * Every reader (TSV, folder, rnn_text_read_lines) reads bytes the same way: a UTF-8
 * BOM at the start is dropped; LF, CRLF and a lone CR each end a line and read as LF
 * (in a TSV or a file to predict a line is a sample; inside a folder's file a line end
 * separates words); a NUL byte is an error "FILE:LINE:COLUMN: NUL byte in the text
 * ..." (from 1, columns in bytes; "<stdin>" for stdin). Only regular files are read: a
 * FIFO, a device, or a directory where a file is expected (a *.txt inside the folder
 * included) is refused at once, naming the path.
 * Tokenizer (Keras's Tokenizer defaults): lower-case ASCII, replace every character of
 * !"#$%&()*+,-./:;<=>?@[\]^_`{|}~ and tab/newline by a space, split on spaces.
 * The apostrophe, \r, \v and \f are not separators (as in Keras; the readers leave no
 * \r); bytes >= 0x80 are kept as they are (only ASCII is lower-cased). HTML like
 * "<br />" thus becomes the word "br", as in Keras. */
typedef struct {
    size_t n;
    char **texts;    /* [n] NUL-terminated, owned */
    float *labels;   /* [n] */
    char **where;    /* [n] each sample's file, and line within it ("data.tsv:12"), or NULL */
} rnn_text_set;

int rnn_text_read(const char *path, rnn_text_set *out, char *err, size_t errlen);

/* Texts to predict (predict --text PATH): one per line of a regular file, or of stdin
 * when path is "-" (a pipe or anything else), labels 0; a blank line is a text too, so
 * that the outputs line up with the input lines. A directory is read as by
 * rnn_text_read. An input without lines is an error. */
int rnn_text_read_lines(const char *path, rnn_text_set *out, char *err, size_t errlen);

/* What a sample of the texts to predict or evaluate is (--text-unit). */
typedef enum {
    RNN_TEXT_UNIT_DEFAULT = 0,   /* a file is one sample; stdin one per line             */
    RNN_TEXT_UNIT_FILE,          /* the whole input is one sample                         */
    RNN_TEXT_UNIT_LINE           /* every line is a sample                                */
} rnn_text_unit;

/* The texts of predict and evaluate --text PATH ("-": stdin):
 *   - a folder: aclImdb-like (neg/, pos/: labelled), else its *.txt files, one sample each
 *     in bytewise name order, unlabelled; where[] names each file;
 *   - a TSV (every line but blank ones "label<TAB>text"): one sample per row, labelled,
 *     the label column never a word (--text-unit file refused);
 *   - other text: one sample (file) or one per line (line, or stdin by default).
 * *labelled: every sample has a label. */
int rnn_text_read_samples(const char *path, rnn_text_unit unit, rnn_text_set *out, int *labelled, char *err,
                          size_t errlen);
void rnn_text_set_free(rnn_text_set *s);

typedef struct rnn_vocab rnn_vocab;

/* The words of `train` ranked by frequency, ties in bytewise order (Keras breaks them by
 * first occurrence; bytewise keeps the order independent of the file order), keeping
 * those that get an id below `vocab`. Ids as imdb.load_data(num_words = vocab):
 * 0 padding, 1 start, 2 out-of-vocabulary, word of rank r (1 = most frequent) -> r + 3
 * when r + 3 < vocab, else 2. */
rnn_vocab *rnn_vocab_build(const rnn_text_set *train, int vocab);
void rnn_vocab_free(rnn_vocab *v);

/* Serialize: the kept words in rank order, one per line ("\n"-joined, malloc'd), always
 * valid UTF-8: a byte that is not part of a UTF-8 sequence is written \xhh (lower-case
 * hex; no word holds a backslash). rnn_vocab_parse reverses it, byte for byte, and
 * accepts only that form (see text.c). The checkpoint stores this string. */
char *rnn_vocab_serialize(const rnn_vocab *v);
rnn_vocab *rnn_vocab_parse(const char *s, int vocab, char *err, size_t errlen);

/* Token ids of one text: [1, ids...] then pad_sequences(maxlen = T, padding = 'pre',
 * truncating = 'pre'): the last T ids, left-padded with 0. */
void rnn_text_encode(const rnn_vocab *v, const char *text, int T, int32_t *ids);

/* How a text's ids are fit to T, as pad_sequences's padding and truncating say (the
 * embedding's padding and truncating options): flags, 0 for 'pre' both. */
enum {
    RNN_TEXT_POST_PADDING = 1,     /* zeros after the ids ('post'), else before them      */
    RNN_TEXT_POST_TRUNCATING = 2   /* a longer text keeps its first T ids, else its last */
};
void rnn_text_encode_fit(const rnn_vocab *v, const char *text, int T, int fit, int32_t *ids);
/* The flags of the model's embedding (layer 0). */
int rnn_text_fit_of(const rnn_model *m);

/* 0 if a model whose embedding has input_dim vocab can take text data, else -1 with
 * "the embedding's input_dim N is too small for text data: ids 0..3 are reserved ...":
 * ids 0-3 are not words (see rnn_vocab_build), so vocab must be at least 5. */
int rnn_text_check_vocab(int vocab, char *err, size_t errlen);

/* Encode a whole set into d (labels checked like rnn_npy_read_y; the vocabulary's size
 * by rnn_text_check_vocab). */
int rnn_text_to_data(const rnn_vocab *v, const rnn_text_set *s, int T, rnn_loss_kind loss,
                     int n_classes, rnn_data *d, char *err, size_t errlen);
/* ... with the texts fit to T as fit says (RNN_TEXT_POST_*). */
int rnn_text_to_data_fit(const rnn_vocab *v, const rnn_text_set *s, int T, int fit, rnn_loss_kind loss,
                         int n_classes, rnn_data *d, char *err, size_t errlen);

/* ---- the built-in synthetic set (data/builtin.c) ----------------------------------
 * A deterministic IMDB-shaped sentiment set, a pure function of (seed, split, n, vocab,
 * T): see builtin.c for the generative model. split 0 = train, 1 = validation. */
int rnn_builtin_data(uint64_t seed, int split, size_t n, int vocab, int T, rnn_data *d,
                     char *err, size_t errlen);

/* ---- splitting ---------------------------------------------------------------- */

/* Keras-like validation_split, but shuffled by a seeded permutation (RNN_RNG_SPLIT):
 * the first ceil(n * split) rows of the permutation go to val, the rest to train, both
 * kept in permutation order. split in [0, 1) (0: val is empty); an error if no
 * training row would be left. all is consumed (freed), also on error. */
int rnn_data_split(rnn_data *all, double split, uint64_t seed, rnn_data *train, rnn_data *val,
                   char *err, size_t errlen);

#endif
