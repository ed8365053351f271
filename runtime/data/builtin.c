/*
 * builtin.c — the built-in synthetic sentiment set that `make demo` trains on when no
 * data is given. It is shaped like IMDB as imdb.load_data(num_words = vocab) and
 * pad_sequences(maxlen = T) deliver it, and its sentiment depends on word order, so a
 * recurrent model has something to learn that a bag of words (which sees "not" and
 * "bad", but not which one governs which) cannot fully capture. The label depends on
 * the whole review while x keeps only its last T words, as with IMDB at maxlen 100.
 * At vocab 500, T 100 (seed 0, 25000 reviews; checked in tests/test_data.c): 15.6% of
 * words OOV, median length 179 words, 50.2% positive; on the last 100 words the sign of
 * the order-aware score predicts the label 79% of the time, the bag of sentiment words 59%.
 */
#include "core/errors.h"
#include "data/builtin_internal.h"
#include "data/data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The structure, fixed by vocab alone (train and validation share it):
 *   - Raw words are ranks 1..R, R = 16 * vocab (capped at 2^20): a raw vocabulary
 *     larger than the model's, as IMDB's 88k words are larger than num_words. Rank r
 *     gets id r + 3 if r + 3 < vocab, else the out-of-vocabulary id 2.
 *   - 3 negators ("not", "no", "never") at ranks near 4%, 11% and 22% of the
 *     in-vocabulary range (20, 55, 109 when vocab = 500).
 *   - n_sent = clamp((vocab - 4) / 20, 2, 32) positive and as many negative sentiment
 *     words, spread evenly over the in-vocabulary ranks from 10% of the range upwards
 *     (so all of them get an id below vocab).
 *   - Every other rank is a filler word, drawn with Zipf weights r^-1.15. */
#define RAW_PER_VOCAB 16
#define RAW_MAX (1u << 20)
#define ZIPF_EXPONENT 1.15
#define P_EVENT 0.05
#define P_AGREE 0.7
#define P_NEGATE 0.35
#define MAX_GAP 2
#define LEN_MEDIAN 180.0
#define LEN_SIGMA 0.75
#define LEN_MIN 10
#define LABEL_NOISE 0.10

/* Draws of one review: j = 0 for per-review values, j = 1 for the word stream. */
#define J_REVIEW 0
#define J_WORDS 1
#define I_LENGTH 0   /* rnn_rng_normal(i = 0) uses the uniforms at i = 0 and 1 */
#define I_LATENT 2
#define I_TIE 3
#define I_NOISE 4

#define TWO32 4294967296.0


void rnn_builtin_gen_free(rnn_builtin_gen *g) {
    if (!g) return;
    free(g->role);
    free(g->filler_rank);
    free(g->filler_cum);
    free(g->guide);
    memset(g, 0, sizeof *g);
}

/* The next free in-vocabulary rank at or after r (reserved ranks are taken). */
static int free_rank(const signed char *role, int r, int inv) {
    while (r <= inv && role[r + 3] != 0) r++;
    return r;
}

int rnn_builtin_gen_init(rnn_builtin_gen *g, int vocab, char *err, size_t errlen) {
    memset(g, 0, sizeof *g);
    if (vocab < RNN_BUILTIN_MIN_VOCAB || vocab > RNN_MAX_VOCAB)
        return rnn_fail(err, errlen, "built-in data: vocab %d is outside [%d, %d]", vocab, RNN_BUILTIN_MIN_VOCAB,
                    RNN_MAX_VOCAB);
    const int inv = vocab - 4;  /* in-vocabulary raw ranks are 1..inv */
    g->vocab = vocab;
    uint64_t raw = (uint64_t)RAW_PER_VOCAB * (uint64_t)vocab;
    g->raw_vocab = raw > RAW_MAX ? RAW_MAX : (uint32_t)raw;
    if (g->raw_vocab <= (uint32_t)inv) g->raw_vocab = (uint32_t)inv + 1;  /* always some OOV */
    g->role = calloc((size_t)vocab, 1);
    if (!g->role) return rnn_fail(err, errlen, "built-in data: out of memory");

    static const double neg_at[RNN_BUILTIN_NEGATORS] = {0.04, 0.11, 0.22};
    for (int k = 0; k < RNN_BUILTIN_NEGATORS; k++) {
        int r = (int)lround(inv * neg_at[k]);
        r = free_rank(g->role, r < 1 ? 1 : r, inv);
        g->negators[k] = r + 3;
        g->role[r + 3] = 2;
    }
    int n_sent = inv / 20;
    n_sent = n_sent < 2 ? 2 : n_sent > RNN_BUILTIN_MAX_SENT ? RNN_BUILTIN_MAX_SENT : n_sent;
    g->n_sent = n_sent;
    int lo = inv / 10 < 1 ? 1 : inv / 10;
    for (int m = 0; m < 2 * n_sent; m++) {
        int r = free_rank(g->role, lo + (int)((long)m * (inv - lo) / (2 * n_sent)), inv);
        /* inv >= 28 leaves room for 3 + 2*2 reserved ranks above lo; vocab >= 84 has
         * room for all of them since the stride is >= 1 */
        if (r > inv) r = free_rank(g->role, 1, inv);
        if (m % 2 == 0) {
            g->positive[m / 2] = r + 3;
            g->role[r + 3] = 1;
        } else {
            g->negative[m / 2] = r + 3;
            g->role[r + 3] = -1;
        }
    }

    /* Fillers: every raw rank that is not reserved, Zipf-weighted. Thresholds live on
     * [event_threshold, 2^32) so a single 32-bit draw picks "event" or a filler. */
    g->event_threshold = (uint64_t)(P_EVENT * TWO32);
    size_t nf = g->raw_vocab - (size_t)(RNN_BUILTIN_NEGATORS + 2 * n_sent);
    g->filler_rank = malloc(nf * sizeof *g->filler_rank);
    g->filler_cum = malloc(nf * sizeof *g->filler_cum);
    g->guide = malloc((((size_t)1 << RNN_BUILTIN_GUIDE_BITS) + 1) * sizeof *g->guide);
    double *w = malloc(nf * sizeof *w);
    if (!g->filler_rank || !g->filler_cum || !g->guide || !w) {
        free(w);
        rnn_builtin_gen_free(g);
        return rnn_fail(err, errlen, "built-in data: out of memory");
    }
    size_t k = 0;
    double total = 0.0;
    for (uint32_t r = 1; r <= g->raw_vocab; r++) {
        if (r <= (uint32_t)inv && g->role[r + 3] != 0) continue;
        g->filler_rank[k] = r;
        w[k] = pow((double)r, -ZIPF_EXPONENT);
        total += w[k];
        k++;
    }
    g->n_filler = k;
    const double span = TWO32 - (double)g->event_threshold;
    double acc = 0.0;
    for (k = 0; k < g->n_filler; k++) {
        acc += w[k];
        g->filler_cum[k] = g->event_threshold + (uint64_t)(span * (acc / total));
    }
    g->filler_cum[g->n_filler - 1] = (uint64_t)1 << 32;  /* no rounding gap at the top */
    /* guide[b] = the first filler whose interval reaches bucket b, i.e. the first k with
     * cum[k] > b * 2^(32 - bits); guide[buckets] = the last filler. */
    const size_t buckets = (size_t)1 << RNN_BUILTIN_GUIDE_BITS;
    k = 0;
    for (size_t b = 0; b < buckets; b++) {
        const uint64_t start = (uint64_t)b << (32 - RNN_BUILTIN_GUIDE_BITS);
        while (g->filler_cum[k] <= start) k++;
        g->guide[b] = (uint32_t)k;
    }
    g->guide[buckets] = (uint32_t)(g->n_filler - 1);
    free(w);
    return 0;
}

static int32_t rank_id(const rnn_builtin_gen *g, uint32_t r) {
    return (uint64_t)r + 3 < (uint64_t)g->vocab ? (int32_t)(r + 3) : 2;
}

/* The filler word whose interval of [event_threshold, 2^32) holds u. */
static int32_t filler(const rnn_builtin_gen *g, uint64_t u) {
    /* the guide narrows the search to the fillers whose interval meets u's bucket */
    size_t b = (size_t)(u >> (32 - RNN_BUILTIN_GUIDE_BITS));
    size_t lo = g->guide[b], hi = g->guide[b + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (u < g->filler_cum[mid]) hi = mid;
        else lo = mid + 1;
    }
    return rank_id(g, g->filler_rank[lo]);
}

/* A filler for any u32 (used inside a negated event, where "no event" is given). */
static int32_t filler_any(const rnn_builtin_gen *g, uint32_t u) {
    uint64_t span = ((uint64_t)1 << 32) - g->event_threshold;
    return filler(g, g->event_threshold + (((uint64_t)u * span) >> 32));
}

/* The word stream of one review: draw i is rnn_rng_u32(s, i, J_WORDS, index), but one
 * Philox block yields draws 4b..4b+3 (the mapping in rnnrt.h: value = word i & 3 of
 * philox({i >> 2, j, k, 0}, key)), so the cursor computes each block once instead of
 * four times. Same values, a quarter of the work. */
typedef struct {
    const rnn_rng *s;
    uint32_t index;
    uint32_t next;      /* i of the next draw */
    uint32_t block[4];  /* block (next - 1) >> 2 */
} word_stream;

static uint32_t next_u32(word_stream *w) {
    uint32_t i = w->next++;
    if ((i & 3) == 0) {
        const uint32_t ctr[4] = {i >> 2, J_WORDS, w->index, 0};
        rnn_philox4x32(ctr, w->s->key, w->block);
    }
    return w->block[i & 3];
}

/* floor(u * n / 2^32): a choice among n from one 32-bit draw */
static uint32_t pick(uint32_t u, uint32_t n) {
    return (uint32_t)(((uint64_t)u * n) >> 32);
}

int rnn_builtin_score(const rnn_builtin_gen *g, const int32_t *words, size_t n) {
    int score = 0, negated = 0;
    for (size_t t = 0; t < n; t++) {
        int32_t id = words[t];
        if (id < 0 || id >= g->vocab) continue;
        int role = g->role[id];
        if (role == 2) {
            negated = !negated;
        } else if (role != 0) {
            score += negated ? -role : role;
            negated = 0;
        }
    }
    return score;
}

/* Every draw is Philox with purpose RNN_RNG_DATA, layer = split, k = index: a review
 * is a pure function of (seed, split, index, draw number), generated in any order.
 *   1. length L = round(exp(ln 180 + 0.75 z)), z ~ N(0, 1), clamped to [10, 2500]
 *      words (IMDB's median, a long right tail); hidden sentiment h = +1 or -1, a coin.
 *   2. Left to right, each position holds a sentiment event with probability 0.05, else
 *      a filler word. An event's polarity is e = h with probability 0.7, else -h; with
 *      probability 0.35 it is negated: a negator, 0-2 filler words (uniform), then a
 *      sentiment word of polarity -e ("not ... bad" = good); otherwise a sentiment word
 *      of polarity e, uniform among the n_sent of its polarity. Words past L are cut,
 *      so a review may end on a dangling negator. */
void rnn_builtin_review(const rnn_builtin_gen *g, const rnn_rng *s, uint32_t index, int32_t *words,
                        rnn_builtin_info *info) {
    double z = rnn_rng_normal(s, I_LENGTH, J_REVIEW, index);
    double len = floor(exp(log(LEN_MEDIAN) + LEN_SIGMA * z) + 0.5);
    size_t L = len < LEN_MIN ? LEN_MIN : len > RNN_BUILTIN_MAX_LEN ? RNN_BUILTIN_MAX_LEN : (size_t)len;
    int h = rnn_rng_uniform(s, I_LATENT, J_REVIEW, index) < 0.5f ? 1 : -1;

    const uint32_t agree_below = (uint32_t)(P_AGREE * TWO32);
    const uint32_t negate_below = (uint32_t)(P_NEGATE * TWO32);
    word_stream ws = {s, index, 0, {0, 0, 0, 0}};
    size_t n = 0;
    while (n < L) {
        uint32_t u = next_u32(&ws);
        if (u >= g->event_threshold) {
            words[n++] = filler(g, u);
            continue;
        }
        int e = next_u32(&ws) < agree_below ? h : -h;
        int negate = next_u32(&ws) < negate_below;
        uint32_t which = pick(next_u32(&ws), (uint32_t)g->n_sent);
        if (negate) {
            uint32_t c = pick(next_u32(&ws), RNN_BUILTIN_NEGATORS * (MAX_GAP + 1));
            words[n++] = g->negators[c % RNN_BUILTIN_NEGATORS];
            for (uint32_t gap = c / RNN_BUILTIN_NEGATORS; gap > 0 && n < L; gap--)
                words[n++] = filler_any(g, next_u32(&ws));
            e = -e;
        }
        if (n < L) words[n++] = e > 0 ? g->positive[which] : g->negative[which];
    }

    /* 3. label = the sign of the score, a coin on 0, then flipped with probability 0.10
     * (label noise: ~90% is the ceiling). Labels are balanced by symmetry: h is a coin
     * and everything else is symmetric in polarity. */
    int score = rnn_builtin_score(g, words, n);
    int clean = score > 0 ? 1 : score < 0 ? 0 : rnn_rng_uniform(s, I_TIE, J_REVIEW, index) < 0.5f;
    int noisy = rnn_rng_uniform(s, I_NOISE, J_REVIEW, index) < (float)LABEL_NOISE;
    info->len = n;
    info->latent = h > 0;
    info->score = score;
    info->clean_label = clean;
    info->label = noisy ? !clean : clean;
}

int rnn_builtin_data(uint64_t seed, int split, size_t n, int vocab, int T, rnn_data *d, char *err,
                     size_t errlen) {
    memset(d, 0, sizeof *d);
    if (split != 0 && split != 1) return rnn_fail(err, errlen, "built-in data: split must be 0 (train) or 1 (validation)");
    if (n == 0 || n > UINT32_MAX) return rnn_fail(err, errlen, "built-in data: %zu samples is outside [1, 2^32)", n);
    if (T < 1 || T > RNN_MAX_TIMESTEPS)
        return rnn_fail(err, errlen, "built-in data: T %d is outside [1, %d]", T, RNN_MAX_TIMESTEPS);
    if (n > SIZE_MAX / sizeof(int32_t) / (size_t)T) return rnn_fail(err, errlen, "built-in data: too many samples");
    rnn_builtin_gen g;
    if (rnn_builtin_gen_init(&g, vocab, err, errlen)) return -1;
    int32_t *x = malloc(n * (size_t)T * sizeof *x);
    float *y = malloc(n * sizeof *y);
    int32_t *words = malloc(RNN_BUILTIN_MAX_LEN * sizeof *words);
    if (!x || !y || !words) {
        free(x);
        free(y);
        free(words);
        rnn_builtin_gen_free(&g);
        return rnn_fail(err, errlen, "built-in data: out of memory for %zu samples", n);
    }
    const rnn_rng s = rnn_rng_stream(seed, RNN_RNG_DATA, (uint32_t)split, 0);
    const size_t t = (size_t)T;
    for (size_t i = 0; i < n; i++) {
        rnn_builtin_info info;
        rnn_builtin_review(&g, &s, (uint32_t)i, words, &info);
        int32_t *row = x + i * t;
        /* 4. pad_sequences([1] + ids, maxlen = T, padding = truncating = 'pre'):
         * [1, words...] keeps its last T ids, left-padded with 0 */
        if (info.len >= t) {                 /* the start token is cut off too */
            memcpy(row, words + (info.len - t), t * sizeof *row);
        } else {
            size_t pad = t - info.len - 1;
            memset(row, 0, pad * sizeof *row);
            row[pad] = 1;
            memcpy(row + pad + 1, words, info.len * sizeof *row);
        }
        y[i] = (float)info.label;
    }
    free(words);
    rnn_builtin_gen_free(&g);
    d->n = n;
    d->T = T;
    d->x = x;
    d->y = y;
    return 0;
}
