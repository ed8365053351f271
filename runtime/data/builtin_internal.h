/*
 * builtin_internal.h — the pieces of the built-in data generator (builtin.c) that the
 * tests look inside: the generator's fixed structure (which ids are negators and
 * sentiment words) and one raw review before the start token and truncation.
 * Private to librnnrt and tests/test_data.c.
 */
#ifndef RNN_BUILTIN_INTERNAL_H
#define RNN_BUILTIN_INTERNAL_H

#include "rnnrt.h"

#include <stddef.h>
#include <stdint.h>

#define RNN_BUILTIN_MIN_VOCAB 32     /* room for negators, sentiment words and fillers  */
#define RNN_BUILTIN_MAX_LEN 2500     /* longest review in words (IMDB's is 2494)        */
#define RNN_BUILTIN_NEGATORS 3
#define RNN_BUILTIN_MAX_SENT 32      /* sentiment words per polarity, at most           */
#define RNN_BUILTIN_GUIDE_BITS 14    /* buckets of the filler lookup table               */

/* The generator's structure: a function of vocab only, shared by train and validation. */
typedef struct {
    int vocab;
    uint32_t raw_vocab;                       /* raw ranks 1..raw_vocab                  */
    int32_t negators[RNN_BUILTIN_NEGATORS];   /* ids                                     */
    int n_sent;                               /* sentiment words per polarity            */
    int32_t positive[RNN_BUILTIN_MAX_SENT];   /* ids                                     */
    int32_t negative[RNN_BUILTIN_MAX_SENT];
    signed char *role;          /* [vocab]: +1 positive, -1 negative, 2 negator, 0 other  */
    size_t n_filler;            /* filler words: every raw rank not reserved above        */
    uint32_t *filler_rank;      /* [n_filler] raw rank                                    */
    uint64_t *filler_cum;       /* [n_filler] cumulative thresholds over [event, 2^32)    */
    uint64_t event_threshold;   /* a u32 draw below this starts a sentiment event         */
    uint32_t *guide;            /* [2^GUIDE_BITS + 1]: first filler of each bucket of u32 */
} rnn_builtin_gen;

typedef struct {
    size_t len;        /* words in the review (before the start token)                  */
    int latent;        /* the review's hidden sentiment, 0/1                            */
    int score;         /* rnn_builtin_score of the whole review                          */
    int clean_label;   /* sign of score, ties by a coin                                  */
    int label;         /* clean_label after label noise                                  */
} rnn_builtin_info;

int rnn_builtin_gen_init(rnn_builtin_gen *g, int vocab, char *err, size_t errlen);
void rnn_builtin_gen_free(rnn_builtin_gen *g);

/* Review `index` of the stream s = rnn_rng_stream(seed, RNN_RNG_DATA, split, 0):
 * writes info->len (<= RNN_BUILTIN_MAX_LEN) imdb-style word ids (2 = OOV, >= 4
 * otherwise; no start token, no padding) into words and fills info. */
void rnn_builtin_review(const rnn_builtin_gen *g, const rnn_rng *s, uint32_t index, int32_t *words,
                        rnn_builtin_info *info);

/* Summed polarity of a word sequence: a sentiment word counts +1 or -1, negated
 * (sign flipped) when an odd number of negators came after the previous sentiment
 * word. This is what labels a review. */
int rnn_builtin_score(const rnn_builtin_gen *g, const int32_t *words, size_t n);

#endif
