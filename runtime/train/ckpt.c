/*
 * ckpt.c — checkpoints: weights, optimizer state and the resume state in one
 * safetensors file, written atomically. Tensors (all F32, Keras names and layouts):
 *   <layer>/<weight>                        the weights, e.g. "lstm_1/recurrent_kernel"
 *   optimizer/<slot>/<layer>/<weight>       optimizer slots: rmsprop "rms", adam "m" and
 *                                           "v", sgd with momentum "momentum"
 *   early_stopping/<i>/best/<layer>/<weight>  the snapshot of the best weights of
 *                                           callback i (an EarlyStopping that restores)
 *
 * Resume metadata is untrusted input like the rest of the file: every number is read
 * whole, in its range (no sign, space or trailing text, no overflow), and an error
 * names the file and the key.
 */
#include "train/trainer.h"
#include "core/safetensors.h"
#include "rnn_interop.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const slot_names[3][2] = {{"rms", NULL}, {"m", "v"}, {"momentum", NULL}};

#define CKPT_FORMAT "rnnc-checkpoint/2"
#define CKPT_FORMAT_1 "rnnc-checkpoint/1"   /* one state for all callbacks (earlier rnnc) */
#define MAX_EPOCHS 100000000                /* fit --epochs */
#define MAX_ITERATIONS 9007199254740992ull  /* 2^53: exact in a double, far from overflow */

static const char *kind_key(int kind) { return rnn_callback_name((rnn_callback_kind)kind); }

/* The history's columns besides loss, accuracy, val_loss and val_accuracy, which a line
 * carries after those when metadata "history_columns" lists them (in this order). */
static const int extra_columns[] = {1, 3, 4, 5, 7, 9, 10};   /* auc lr precision recall val_auc val_precision val_recall */
enum { N_EXTRA = (int)(sizeof extra_columns / sizeof extra_columns[0]) };

/* Which extra columns any row measured (bits by index in extra_columns). */
static int extras_of(const rnn_history_row *rows, int n) {
    int bits = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < N_EXTRA; k++)
            if (!isnan(rnn_history_value(&rows[i], extra_columns[k]))) bits |= 1 << k;
    return bits;
}

/* The schedule's description in metadata "learning_rate_schedule" (resume refuses
 * another): "exponential_decay initial_learning_rate=0.01 decay_steps=100 ...". */
static void describe_schedule(const rnn_lr_schedule *s, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "%s", rnn_schedule_name(s->kind));
    if (s->kind == RNN_SCHEDULE_PIECEWISE_CONSTANT_DECAY) {
        for (int i = 0; i <= s->n_boundaries && n < cap; i++) {
            if (i < s->n_boundaries) n += (size_t)snprintf(buf + n, cap - n, " boundary=%.17g", s->boundaries[i]);
            if (n < cap) n += (size_t)snprintf(buf + n, cap - n, " value=%.17g", s->values[i]);
        }
        return;
    }
    if (n < cap)
        n += (size_t)snprintf(buf + n, cap - n, " initial_learning_rate=%.17g decay_steps=%.17g", s->initial_learning_rate,
                              s->decay_steps);
    if (n < cap && s->kind == RNN_SCHEDULE_COSINE_DECAY) snprintf(buf + n, cap - n, " alpha=%.17g", s->alpha);
    else if (n < cap) snprintf(buf + n, cap - n, " decay_rate=%.17g staircase=%d", s->decay_rate, s->staircase);
}

/* __metadata__ (all strings, as the format requires): format "rnnc-checkpoint/2",
 * model, model_hash (16 hex digits), rnnc_version, seed, epoch (completed epochs),
 * iterations (optimizer steps: with the epoch and seed the whole RNG position, since
 * every draw is a pure function of them), optimizer, batch_size, monitor and
 * monitor_value (of the callback that wrote the file), callbacks (their number) and
 * callback/<i> for each, in the run's order:
 *   "model_checkpoint monitor=val_loss mode=min best=0.41"
 *   "early_stopping monitor=val_loss mode=min best=0.41 wait=2 best_epoch=4 stopped=0"
 *   "csv_logger"
 * history (one line per epoch: "epoch loss accuracy val_loss val_accuracy", %.17g, nan
 * when absent), data_hash, and vocabulary (the words by rank, one per line) when
 * trained on text. */
int rnn_ckpt_save(const char *path, const rnn_trainer *tr, const rnn_ckpt_state *st, int with_optimizer,
                  char *err, size_t errlen) {
    const rnn_model *m = tr->m;
    size_t P = m->param_buffer_len;
    const int n_cb = st ? st->n_cb : 0;
    const int max_groups = 1 + tr->opt_slots + n_cb;
    enum { NAME_CAP = RNN_TENSOR_NAME_MAX + 40 };
    rnn_st_tensor *ts = calloc((size_t)max_groups * (size_t)m->n_tensors + 1, sizeof *ts);
    char *names = malloc(((size_t)max_groups * (size_t)m->n_tensors + 1) * NAME_CAP);
    char *history = NULL;
    int rc = -1;
    if (!ts || !names) goto oom;
    int nt = 0;
    /* weights, then the optimizer slots, then the snapshots */
    for (int g = 0; g < max_groups; g++) {
        const rnn_real *base;
        char prefix[40] = "";
        if (g == 0) {
            base = tr->params;
        } else if (g <= tr->opt_slots) {
            if (!with_optimizer) continue;
            base = tr->opt_state + (size_t)(g - 1) * P;
            snprintf(prefix, sizeof prefix, "optimizer/%s/", slot_names[tr->opt.kind][g - 1]);
        } else {
            const int i = g - 1 - tr->opt_slots;
            const int slot = st->cb[i].snapshot;
            if (!st->es_best_weights || slot < 0 || slot >= st->n_snapshots) continue;
            base = st->es_best_weights + (size_t)slot * P;
            snprintf(prefix, sizeof prefix, "early_stopping/%d/best/", i);
        }
        for (int k = 0; k < m->n_tensors; k++) {
            const rnn_tensor *t = &m->tensors[k];
            char *name = names + (size_t)nt * NAME_CAP;
            snprintf(name, NAME_CAP, "%s%s", prefix, t->name);
            ts[nt].name = name;
            ts[nt].dtype = RNN_ST_F32;
            ts[nt].rank = t->rank;
            for (int d = 0; d < t->rank; d++) ts[nt].shape[d] = t->shape[d];
            ts[nt].data = base + t->offset;
            nt++;
        }
    }

    enum { NMETA = 20 + RNN_MAX_CALLBACKS + 1 };
    const char *keys[NMETA];
    const char *vals[NMETA];
    char num[12][128], schedule[40 + 2 * RNN_MAX_BOUNDARIES * 32 + 64], columns[160] = "";
    char cb_key[RNN_MAX_CALLBACKS + 1][24], cb_val[RNN_MAX_CALLBACKS + 1][192];
    int nm = 0;
#define META(k, v) (keys[nm] = (k), vals[nm] = (v), nm++)
    META("format", CKPT_FORMAT);
    META("model", m->name);
    snprintf(num[0], sizeof num[0], "%016" PRIx64, rnn_model_hash(m));
    META("model_hash", num[0]);
    META("rnnc_version", RNN_VERSION);
    META("optimizer", rnn_optimizer_name(tr->opt.kind));
    META("contents", with_optimizer ? "checkpoint" : "weights");
    if (st) {
        snprintf(num[1], sizeof num[1], "%" PRIu64, st->seed);
        META("seed", num[1]);
        snprintf(num[2], sizeof num[2], "%d", st->epochs_done);
        META("epoch", num[2]);
        snprintf(num[3], sizeof num[3], "%" PRId64, st->iterations);
        META("iterations", num[3]);
        snprintf(num[4], sizeof num[4], "%d", st->batch_size);
        META("batch_size", num[4]);
        if (st->monitor >= 0) {
            META("monitor", rnn_monitor_name((rnn_monitor)st->monitor));
            snprintf(num[5], sizeof num[5], "%.17g", st->monitor_value);
            META("monitor_value", num[5]);
        }
        snprintf(num[6], sizeof num[6], "%d", n_cb);
        META("callbacks", num[6]);
        for (int i = 0; i < n_cb; i++) {
            const rnn_cb_state *c = &st->cb[i];
            snprintf(cb_key[i], sizeof cb_key[i], "callback/%d", i);
            if (c->kind == RNN_CB_CSV_LOGGER)
                snprintf(cb_val[i], sizeof cb_val[i], "csv_logger");
            else
                snprintf(cb_val[i], sizeof cb_val[i], "%s monitor=%s mode=%s best=%.17g", kind_key(c->kind),
                         rnn_monitor_name((rnn_monitor)c->monitor), c->mode == RNN_MODE_MAX ? "max" : "min", c->best);
            if (c->kind == RNN_CB_EARLY_STOPPING) {
                size_t len = strlen(cb_val[i]);
                snprintf(cb_val[i] + len, sizeof cb_val[i] - len, " wait=%d best_epoch=%d stopped=%d", c->wait,
                         c->best_epoch, c->stopped);
            } else if (c->kind == RNN_CB_REDUCE_LR_ON_PLATEAU) {
                size_t len = strlen(cb_val[i]);
                snprintf(cb_val[i] + len, sizeof cb_val[i] - len, " wait=%d cooldown=%d", c->wait, c->cooldown);
            }
            META(cb_key[i], cb_val[i]);
        }
        snprintf(num[7], sizeof num[7], "%016" PRIx64, st->data_hash);
        META("data_hash", num[7]);
        if (st->learning_rate > 0 && isfinite(st->learning_rate)) {   /* (a run's rate; 0 when not kept) */
            snprintf(num[8], sizeof num[8], "%.17g", st->learning_rate);
            META("learning_rate", num[8]);
        }
        if (tr->opt.schedule.kind != RNN_SCHEDULE_NONE) {
            describe_schedule(&tr->opt.schedule, schedule, sizeof schedule);
            META("learning_rate_schedule", schedule);
        }
        const int extras = extras_of(st->history, st->n_history);
        for (int k = 0; k < N_EXTRA; k++)
            if (extras & (1 << k))
                snprintf(columns + strlen(columns), sizeof columns - strlen(columns), "%s%s", columns[0] ? " " : "",
                         rnn_history_column_name[extra_columns[k]]);
        if (extras) META("history_columns", columns);
        size_t cap = 128 + (size_t)st->n_history * (5 + N_EXTRA) * 26;
        history = malloc(cap);
        if (!history) goto oom;
        size_t used = 0;
        history[0] = 0;
        for (int i = 0; i < st->n_history; i++) {
            const rnn_history_row *r = &st->history[i];
            used += (size_t)snprintf(history + used, cap - used, "%d %.17g %.17g %.17g %.17g", r->epoch, r->loss,
                                     r->accuracy, r->val_loss, r->val_accuracy);
            for (int k = 0; k < N_EXTRA; k++)
                if (extras & (1 << k))
                    used += (size_t)snprintf(history + used, cap - used, " %.17g", rnn_history_value(r, extra_columns[k]));
            used += (size_t)snprintf(history + used, cap - used, "\n");
        }
        META("history", history);
        if (st->vocabulary) META("vocabulary", st->vocabulary);
    }
#undef META
    rc = rnn_st_write(path, ts, nt, keys, vals, nm, err, errlen);
    goto done;
oom:
    snprintf(err, errlen, "%s: out of memory", path);
done:
    free(ts);
    free(names);
    free(history);
    return rc;
}

void rnn_ckpt_state_free(rnn_ckpt_state *st) {
    free(st->es_best_weights);
    free(st->history);
    free(st->vocabulary);
    memset(st, 0, sizeof *st);
}

/* Copy the model's tensors found under prefix into base. */
static int load_group(const rnn_st_file *f, const char *path, const rnn_model *m, const char *prefix,
                      rnn_real *base, char *err, size_t errlen) {
    for (int k = 0; k < m->n_tensors; k++) {
        const rnn_tensor *t = &m->tensors[k];
        char name[RNN_TENSOR_NAME_MAX + 40];
        snprintf(name, sizeof name, "%s%s", prefix, t->name);
        const rnn_st_tensor *s = rnn_st_find(f, name);
        if (!s) {
            snprintf(err, errlen, "%s: tensor '%s' is missing", path, name);
            return -1;
        }
        int shape_ok = s->rank == t->rank;
        for (int d = 0; d < t->rank && shape_ok; d++) shape_ok = s->shape[d] == t->shape[d];
        if (s->dtype != RNN_ST_F32 || !shape_ok) {
            if (t->rank == 1)
                snprintf(err, errlen, "%s: tensor '%s' must be F32 of shape [%d]", path, name, t->shape[0]);
            else if (t->rank == 2)
                snprintf(err, errlen, "%s: tensor '%s' must be F32 of shape [%d, %d]", path, name, t->shape[0], t->shape[1]);
            else
                snprintf(err, errlen, "%s: tensor '%s' must be F32 of shape [%d, %d, %d]", path, name, t->shape[0], t->shape[1],
                         t->shape[2]);
            return -1;
        }
        /* memcpy: the file's data need not be aligned for rnn_real */
        const unsigned char *src = s->data;
        for (size_t i = 0; i < t->size; i++) {
            float v;
            memcpy(&v, src + 4 * i, 4);
            if (!isfinite(v)) {
                snprintf(err, errlen, "%s: tensor '%s' holds a non-finite value at %zu", path, name, i);
                return -1;
            }
            base[t->offset + i] = (rnn_real)v;
        }
    }
    return 0;
}

/* ---- strict metadata values ------------------------------------------------------ */

/* s is a decimal integer in [lo, hi] and nothing else (no sign, no space, no overflow). */
static int parse_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    if (!s || !*s) return -1;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* s is a number as strtod reads it (nan and inf included) and nothing else. */
static int parse_number(const char *s, double *out) {
    if (!s || !*s || *s == ' ' || (*s >= '\t' && *s <= '\r')) return -1;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end) return -1;
    *out = v;
    return 0;
}

static int meta_missing(const char *path, const char *key, char *err, size_t errlen) {
    snprintf(err, errlen, "%s: metadata \"%s\" is missing", path, key);
    return -1;
}

static int meta_uint(const rnn_st_file *f, const char *path, const char *key, uint64_t lo, uint64_t hi, uint64_t *out,
                     char *err, size_t errlen) {
    const char *s = rnn_st_meta(f, key);
    if (!s) return meta_missing(path, key, err, errlen);
    if (parse_uint(s, lo, hi, out) == 0) return 0;
    snprintf(err, errlen, "%s: metadata \"%s\" must be an integer in [%" PRIu64 ", %" PRIu64 "] (got \"%.40s%s\")", path,
             key, lo, hi, s, strlen(s) > 40 ? "..." : "");
    return -1;
}

static int meta_int(const rnn_st_file *f, const char *path, const char *key, int lo, int hi, int *out, char *err,
                    size_t errlen) {
    uint64_t v;
    if (meta_uint(f, path, key, (uint64_t)lo, (uint64_t)hi, &v, err, errlen)) return -1;
    *out = (int)v;
    return 0;
}

/* The words of a callback state ("KIND key=value ..."), in place. */
typedef struct {
    int n;
    char *word[16];
} words;

static int split_words(char *s, words *w) {
    w->n = 0;
    for (char *p = s; *p;) {
        if (w->n == 16) return -1;
        w->word[w->n++] = p;
        char *sp = strchr(p, ' ');
        if (!sp) break;
        *sp = 0;
        p = sp + 1;
        if (!*p) return -1;   /* a trailing space */
    }
    return 0;
}

/* The value of "key=..." at word i, or NULL. */
static const char *word_value(const words *w, int i, const char *key) {
    size_t k = strlen(key);
    if (i >= w->n || strncmp(w->word[i], key, k) != 0 || w->word[i][k] != '=') return NULL;
    return w->word[i] + k + 1;
}

/* One callback's state (the format above the save), for a run of `epochs` epochs. */
static int parse_cb_state(const char *text, int epochs, rnn_cb_state *c) {
    char buf[256];
    if (strlen(text) >= sizeof buf) return -1;
    strcpy(buf, text);
    words w;
    if (split_words(buf, &w) || w.n < 1) return -1;
    memset(c, 0, sizeof *c);
    c->snapshot = -1;
    if (!strcmp(w.word[0], "csv_logger")) {
        c->kind = RNN_CB_CSV_LOGGER;
        c->mode = RNN_MODE_MIN;
        return w.n == 1 ? 0 : -1;
    }
    if (!strcmp(w.word[0], "model_checkpoint")) c->kind = RNN_CB_MODEL_CHECKPOINT;
    else if (!strcmp(w.word[0], "early_stopping")) c->kind = RNN_CB_EARLY_STOPPING;
    else if (!strcmp(w.word[0], "reduce_lr_on_plateau")) c->kind = RNN_CB_REDUCE_LR_ON_PLATEAU;
    else return -1;
    const char *mon = word_value(&w, 1, "monitor"), *mode = word_value(&w, 2, "mode"), *best = word_value(&w, 3, "best");
    if (!mon || !mode || !best) return -1;
    c->monitor = -1;
    for (int k = 0; k < RNN_MONITOR_COUNT; k++)
        if (!strcmp(mon, rnn_monitor_name((rnn_monitor)k))) c->monitor = k;
    if (c->monitor < 0) return -1;
    if (!strcmp(mode, "min")) c->mode = RNN_MODE_MIN;
    else if (!strcmp(mode, "max")) c->mode = RNN_MODE_MAX;
    else return -1;
    if (parse_number(best, &c->best) || isnan(c->best)) return -1;
    if (c->kind == RNN_CB_MODEL_CHECKPOINT) return w.n == 4 ? 0 : -1;
    if (c->kind == RNN_CB_REDUCE_LR_ON_PLATEAU) {
        const char *wait = word_value(&w, 4, "wait"), *cool = word_value(&w, 5, "cooldown");
        uint64_t v[2];
        if (w.n != 6 || parse_uint(wait, 0, (uint64_t)epochs, &v[0]) || parse_uint(cool, 0, 100000000, &v[1])) return -1;
        c->wait = (int)v[0];
        c->cooldown = (int)v[1];
        return 0;
    }
    const char *wait = word_value(&w, 4, "wait"), *be = word_value(&w, 5, "best_epoch"), *stopped = word_value(&w, 6, "stopped");
    uint64_t v[3];
    if (w.n != 7 || parse_uint(wait, 0, (uint64_t)epochs, &v[0]) || parse_uint(be, 0, (uint64_t)epochs, &v[1]) ||
        parse_uint(stopped, 0, 1, &v[2]))
        return -1;
    c->wait = (int)v[0];
    c->best_epoch = (int)v[1];
    c->stopped = (int)v[2];
    return 0;
}

/* An earlier rnnc's "early_stopping": "wait=W best=B best_epoch=E stopped=0|1". */
static int parse_legacy_es(const char *text, int epochs, rnn_cb_state *c) {
    char buf[256];
    if (!text || strlen(text) >= sizeof buf) return -1;
    strcpy(buf, text);
    words w;
    if (split_words(buf, &w) || w.n != 4) return -1;
    const char *wait = word_value(&w, 0, "wait"), *best = word_value(&w, 1, "best"), *be = word_value(&w, 2, "best_epoch"),
               *stopped = word_value(&w, 3, "stopped");
    uint64_t v[3];
    if (parse_uint(wait, 0, (uint64_t)epochs, &v[0]) || parse_number(best, &c->best) || isnan(c->best) ||
        parse_uint(be, 0, (uint64_t)epochs, &v[1]) || parse_uint(stopped, 0, 1, &v[2]))
        return -1;
    c->wait = (int)v[0];
    c->best_epoch = (int)v[1];
    c->stopped = (int)v[2];
    c->snapshot = -1;
    return 0;
}

/* The history: epochs lines "E L A VL VA\n", E = 0, 1, ... */
static int load_history(const rnn_st_file *f, const char *path, rnn_ckpt_state *st, char *err, size_t errlen) {
    const char *h = rnn_st_meta(f, "history");
    if (!h) return meta_missing(path, "history", err, errlen);
    int col[N_EXTRA], n_extra = 0;   /* the extra columns of a line, in order */
    const char *cols = rnn_st_meta(f, "history_columns");
    if (cols) {
        char buf[256];
        words cw;
        int ok = strlen(cols) < sizeof buf;
        if (ok) strcpy(buf, cols);
        ok = ok && !split_words(buf, &cw) && cw.n <= N_EXTRA;
        for (int i = 0; ok && i < cw.n; i++) {
            col[n_extra] = -1;
            for (int k = 0; k < N_EXTRA; k++)
                if (!strcmp(cw.word[i], rnn_history_column_name[extra_columns[k]])) col[n_extra] = extra_columns[k];
            ok = col[n_extra++] >= 0;
        }
        if (!ok) {
            snprintf(err, errlen, "%s: metadata \"history_columns\" is not a list of history columns (got \"%.60s\")", path, cols);
            return -1;
        }
    }
    int lines = 0;
    for (const char *p = h; *p; p++) lines += *p == '\n';
    st->history = calloc((size_t)lines + 1, sizeof *st->history);
    if (!st->history) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    st->n_history = 0;
    for (const char *p = h; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[512];
        words w;
        rnn_history_row *r = &st->history[st->n_history];
        *r = rnn_history_row_empty(st->n_history);
        double *fields[4 + N_EXTRA] = {&r->loss, &r->accuracy, &r->val_loss, &r->val_accuracy};
        double *extra[RNN_HISTORY_COLUMNS] = {&r->accuracy, &r->auc, &r->loss, &r->lr, &r->precision, &r->recall,
                                              &r->val_accuracy, &r->val_auc, &r->val_loss, &r->val_precision, &r->val_recall};
        for (int k = 0; k < n_extra; k++) fields[4 + k] = extra[col[k]];
        uint64_t e;
        int ok = nl && len < sizeof line;
        if (ok) {
            memcpy(line, p, len);
            line[len] = 0;
            ok = !split_words(line, &w) && w.n == 5 + n_extra &&
                 !parse_uint(w.word[0], (uint64_t)st->n_history, (uint64_t)st->n_history, &e);
            for (int k = 0; ok && k < 4 + n_extra; k++) ok = !parse_number(w.word[k + 1], fields[k]);
        }
        if (!ok) {
            snprintf(err, errlen, "%s: metadata \"history\" line %d must be \"%d\" and %d numbers (got \"%.*s%s\")", path,
                     st->n_history + 1, st->n_history, 4 + n_extra, (int)(len < 60 ? len : 60), p, len > 60 ? "..." : "");
            return -1;
        }
        r->epoch = (int)e;
        st->n_history++;
        p = nl + 1;
    }
    if (st->n_history != st->epochs_done) {
        snprintf(err, errlen, "%s: the checkpoint's history has %d epochs but it says %d were done", path, st->n_history,
                 st->epochs_done);
        return -1;
    }
    return 0;
}

/* The early-stopping snapshots: "early_stopping/<i>/best/..." for callback i, an
 * early_stopping (or, legacy, "early_stopping/best/..." for the only one). */
static int load_snapshots(const rnn_st_file *f, const char *path, const rnn_model *m, rnn_ckpt_state *st, char *err,
                          size_t errlen) {
    size_t P = m->param_buffer_len;
    int want[RNN_MAX_CALLBACKS + 1] = {0}, legacy = 0;
    for (int t = 0; t < rnn_st_count(f); t++) {
        const char *name = rnn_st_get(f, t)->name;
        if (strncmp(name, "early_stopping/", 15) != 0) continue;
        const char *rest = name + 15;
        uint64_t i = 0;
        char idx[8];
        size_t nd = strspn(rest, "0123456789");
        int ok;
        if (!strncmp(rest, "best/", 5)) {
            ok = st->legacy;
            legacy = 1;
        } else {
            ok = !st->legacy && nd > 0 && nd < sizeof idx && rest[nd] == '/' && !strncmp(rest + nd + 1, "best/", 5);
            if (ok) {
                memcpy(idx, rest, nd);
                idx[nd] = 0;
                ok = st->n_cb > 0 && !parse_uint(idx, 0, (uint64_t)st->n_cb - 1, &i) &&
                     st->cb[i].kind == RNN_CB_EARLY_STOPPING;
            }
            if (ok) want[i] = 1;
        }
        if (!ok) {
            snprintf(err, errlen, "%s: tensor '%s' is the snapshot of no early_stopping callback of the checkpoint", path, name);
            return -1;
        }
    }
    int n = legacy;
    for (int i = 0; i < st->n_cb; i++) n += want[i];
    if (!n) return 0;
    st->es_best_weights = calloc((size_t)n * P + 1, sizeof *st->es_best_weights);
    if (!st->es_best_weights) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    if (legacy) {
        st->legacy_es.snapshot = st->n_snapshots++;
        return load_group(f, path, m, "early_stopping/best/", st->es_best_weights, err, errlen);
    }
    for (int i = 0; i < st->n_cb; i++) {
        if (!want[i]) continue;
        char prefix[40];
        snprintf(prefix, sizeof prefix, "early_stopping/%d/best/", i);
        st->cb[i].snapshot = st->n_snapshots++;
        if (load_group(f, path, m, prefix, st->es_best_weights + (size_t)st->cb[i].snapshot * P, err, errlen)) return -1;
    }
    return 0;
}

static int load_callbacks(const rnn_st_file *f, const char *path, rnn_ckpt_state *st, char *err, size_t errlen) {
    if (st->legacy) {
        const char *cb = rnn_st_meta(f, "checkpoint_best");
        if (!cb) return meta_missing(path, "checkpoint_best", err, errlen);
        if (parse_number(cb, &st->legacy_checkpoint_best) || isnan(st->legacy_checkpoint_best)) {
            snprintf(err, errlen, "%s: metadata \"checkpoint_best\" must be a number (got \"%.40s\")", path, cb);
            return -1;
        }
        const char *es = rnn_st_meta(f, "early_stopping");
        if (!es) return meta_missing(path, "early_stopping", err, errlen);
        if (parse_legacy_es(es, st->epochs_done, &st->legacy_es)) {
            snprintf(err, errlen, "%s: metadata \"early_stopping\" must be \"wait=W best=B best_epoch=E stopped=0|1\" (got \"%.60s\")",
                     path, es);
            return -1;
        }
        return 0;
    }
    if (meta_int(f, path, "callbacks", 0, RNN_MAX_CALLBACKS + 1, &st->n_cb, err, errlen)) return -1;
    for (int i = 0; i < st->n_cb; i++) {
        char key[24];
        snprintf(key, sizeof key, "callback/%d", i);
        const char *v = rnn_st_meta(f, key);
        if (!v) return meta_missing(path, key, err, errlen);
        if (parse_cb_state(v, st->epochs_done, &st->cb[i])) {
            snprintf(err, errlen, "%s: metadata \"%s\" is not a callback state (got \"%.80s%s\")", path, key, v,
                     strlen(v) > 80 ? "..." : "");
            return -1;
        }
    }
    return 0;
}

/* The rate the run had reached (ReduceLROnPlateau's; NAN from an rnnc that did not write
 * it), and the schedule, which must be this run's: its rates are a function of the step
 * count the checkpoint carries, and another would not continue the same run. */
static int load_learning_rate(const rnn_st_file *f, const char *path, const rnn_trainer *tr, rnn_ckpt_state *st,
                              char *err, size_t errlen) {
    const char *lr = rnn_st_meta(f, "learning_rate");
    st->learning_rate = NAN;
    if (lr && (parse_number(lr, &st->learning_rate) || !(st->learning_rate > 0) || !isfinite(st->learning_rate))) {
        snprintf(err, errlen, "%s: metadata \"learning_rate\" must be a positive number (got \"%.40s\")", path, lr);
        return -1;
    }
    char want[40 + 2 * RNN_MAX_BOUNDARIES * 32 + 64] = "";
    if (tr->opt.schedule.kind != RNN_SCHEDULE_NONE) describe_schedule(&tr->opt.schedule, want, sizeof want);
    const char *got = rnn_st_meta(f, "learning_rate_schedule");
    if (strcmp(got ? got : "", want) != 0) {
        snprintf(err, errlen, "%s: the checkpoint was trained with learning_rate %.200s, this run's is %.200s: cannot resume "
                              "(--init-weights %s starts from its weights)",
                 path, got ? got : "constant", want[0] ? want : "constant", path);
        return -1;
    }
    return 0;
}

static int load_state(const rnn_st_file *f, const char *path, rnn_trainer *tr, rnn_ckpt_state *st, char *err,
                      size_t errlen) {
    const rnn_model *m = tr->m;
    const char *fmt = rnn_st_meta(f, "format");
    if (!fmt) {
        snprintf(err, errlen, "%s: not an rnnc checkpoint (no format \"%s\" in its metadata); cannot resume", path, CKPT_FORMAT);
        return -1;
    }
    if (strcmp(fmt, CKPT_FORMAT) != 0 && strcmp(fmt, CKPT_FORMAT_1) != 0) {
        snprintf(err, errlen, "%s: checkpoint format \"%.40s\" is not one this rnnc reads (%s or %s); cannot resume", path, fmt,
                 CKPT_FORMAT, CKPT_FORMAT_1);
        return -1;
    }
    st->legacy = strcmp(fmt, CKPT_FORMAT_1) == 0;
    /* weights alone (--save-weights; before the "contents" key: no optimizer slot) */
    const char *contents = rnn_st_meta(f, "contents");
    int slots_found = 0;
    for (int t = 0; t < rnn_st_count(f); t++) slots_found |= !strncmp(rnn_st_get(f, t)->name, "optimizer/", 10);
    if ((contents && !strcmp(contents, "weights")) || (!contents && tr->opt_slots > 0 && !slots_found)) {
        snprintf(err, errlen, "%s holds weights only (as --save-weights writes them): --resume needs a checkpoint, which "
                              "--checkpoint F or a model_checkpoint writes; --init-weights %s starts from these weights",
                 path, path);
        return -1;
    }
    const char *opt = rnn_st_meta(f, "optimizer");
    if (!opt || strcmp(opt, rnn_optimizer_name(tr->opt.kind)) != 0) {
        snprintf(err, errlen, "%s: the checkpoint was trained with optimizer %s, the spec says %s", path,
                 opt ? opt : "(none)", rnn_optimizer_name(tr->opt.kind));
        return -1;
    }
    /* every optimizer tensor must be a slot of this optimizer (load_weights has
     * checked that what follows the slot is one of the model's tensors) */
    for (int t = 0; t < rnn_st_count(f); t++) {
        const char *name = rnn_st_get(f, t)->name;
        if (strncmp(name, "optimizer/", 10) != 0) continue;
        int known = 0;
        for (int s = 0; s < tr->opt_slots; s++) {
            const char *slot = slot_names[tr->opt.kind][s];
            size_t len = strlen(slot);
            known |= !strncmp(name + 10, slot, len) && name[10 + len] == '/';
        }
        if (!known) {
            snprintf(err, errlen, "%s: tensor '%s' is not a slot of %s", path, name, rnn_optimizer_name(tr->opt.kind));
            return -1;
        }
    }
    size_t P = m->param_buffer_len;
    for (int s = 0; s < tr->opt_slots; s++) {
        char prefix[40];
        snprintf(prefix, sizeof prefix, "optimizer/%s/", slot_names[tr->opt.kind][s]);
        if (load_group(f, path, m, prefix, tr->opt_state + (size_t)s * P, err, errlen)) return -1;
    }
    uint64_t u;
    if (meta_int(f, path, "epoch", 0, MAX_EPOCHS, &st->epochs_done, err, errlen) ||
        meta_uint(f, path, "iterations", 0, MAX_ITERATIONS, &u, err, errlen))
        return -1;
    st->iterations = (int64_t)u;
    if (meta_int(f, path, "batch_size", 1, RNN_MAX_BATCH, &st->batch_size, err, errlen) ||
        meta_uint(f, path, "seed", 0, UINT64_MAX, &st->seed, err, errlen))
        return -1;
    const char *dh = rnn_st_meta(f, "data_hash");
    if (!dh) return meta_missing(path, "data_hash", err, errlen);
    if (strlen(dh) != 16 || strspn(dh, "0123456789abcdefABCDEF") != 16) {
        snprintf(err, errlen, "%s: metadata \"data_hash\" must be 16 hexadecimal digits (got \"%.40s\")", path, dh);
        return -1;
    }
    st->data_hash = strtoull(dh, NULL, 16);
    /* monitor and monitor_value describe the file (the callback that wrote it) */
    st->monitor = -1;
    st->monitor_value = NAN;
    const char *mon = rnn_st_meta(f, "monitor"), *mv = rnn_st_meta(f, "monitor_value");
    for (int k = 0; mon && k < RNN_MONITOR_COUNT; k++)
        if (strcmp(mon, rnn_monitor_name((rnn_monitor)k)) == 0) st->monitor = k;
    if ((mon && st->monitor < 0) || (mv && parse_number(mv, &st->monitor_value))) {
        snprintf(err, errlen, "%s: metadata \"%s\" is not a %s (got \"%.40s\")", path, mon && st->monitor < 0 ? "monitor" : "monitor_value",
                 mon && st->monitor < 0 ? "monitor name" : "number", mon && st->monitor < 0 ? mon : mv);
        return -1;
    }
    if (load_callbacks(f, path, st, err, errlen) || load_snapshots(f, path, m, st, err, errlen) ||
        load_history(f, path, st, err, errlen))
        return -1;
    return load_learning_rate(f, path, tr, st, err, errlen);
}

/* The model tensor's name inside an optimizer slot's ("optimizer/<slot>/NAME", any
 * optimizer's slot: a reader of weights ignores them) or a snapshot's
 * ("early_stopping/<i>/best/NAME", or "early_stopping/best/NAME" of an earlier rnnc);
 * else name itself. */
static const char *snapshot_or_slot_base(const char *name) {
    if (strncmp(name, "optimizer/", 10) == 0) {
        for (int k = 0; k < 3; k++)
            for (int s = 0; s < 2 && slot_names[k][s]; s++) {
                size_t len = strlen(slot_names[k][s]);
                if (!strncmp(name + 10, slot_names[k][s], len) && name[10 + len] == '/') return name + 11 + len;
            }
        return name;
    }
    if (strncmp(name, "early_stopping/", 15) != 0) return name;
    const char *p = name + 15;
    size_t nd = strspn(p, "0123456789");
    if (nd > 0 && nd <= 2 && p[nd] == '/') p += nd + 1;
    return strncmp(p, "best/", 5) == 0 ? p + 5 : name;
}

/* The checks every reader of weights makes (the model's fingerprint, every tensor known)
 * and the weights of the open file f of path. */
static int load_weights(const rnn_st_file *f, const char *path, const rnn_model *m, rnn_real *params, char *err,
                        size_t errlen) {
    const char *hash = rnn_st_meta(f, "model_hash");
    char want[32];
    snprintf(want, sizeof want, "%016" PRIx64, rnn_model_hash(m));
    if (hash && strcmp(hash, want) != 0) {
        const char *name = rnn_st_meta(f, "model");
        snprintf(err, errlen, "%s: the weights are for a different model (\"%s\", hash %s; this is \"%s\", hash %s)", path,
                 name ? name : "?", hash, m->name, want);
        return -1;
    }
    /* Every tensor in the file must be known: a typo'd or foreign name is an error. */
    for (int i = 0; i < rnn_st_count(f); i++) {
        const char *name = rnn_st_get(f, i)->name;
        const char *base = snapshot_or_slot_base(name);
        if (rnn_model_find_tensor(m, base) < 0) {
            snprintf(err, errlen, "%s: tensor '%s' does not belong to model \"%s\"", path, name, m->name);
            return -1;
        }
    }
    return load_group(f, path, m, "", params, err, errlen);
}

int rnn_weights_load(const rnn_model *m, const char *path, rnn_real *params, char *err, size_t errlen) {
    if (rnn_file_sniff(path) != RNN_FILE_OTHER) return rnn_foreign_weights_load(m, path, params, err, errlen);
    rnn_st_file *f = rnn_st_open(path, err, errlen);
    if (!f) return -1;
    int rc = load_weights(f, path, m, params, err, errlen);
    rnn_st_close(f);
    return rc;
}

int rnn_ckpt_load(const char *path, rnn_trainer *tr, rnn_ckpt_state *st, char **vocabulary, char *err, size_t errlen) {
    const rnn_model *m = tr->m;
    if (!st && rnn_file_sniff(path) != RNN_FILE_OTHER) {   /* TF.js or Keras weights: no vocabulary */
        if (vocabulary) *vocabulary = NULL;
        return rnn_foreign_weights_load(m, path, tr->params, err, errlen);
    }
    rnn_st_file *f = rnn_st_open(path, err, errlen);
    if (!f) return -1;
    int rc = -1;
    if (load_weights(f, path, m, tr->params, err, errlen)) goto done;
    if (st && load_state(f, path, tr, st, err, errlen)) {
        rnn_ckpt_state_free(st);
        goto done;
    }
    if (vocabulary) {
        const char *v = rnn_st_meta(f, "vocabulary");
        *vocabulary = v ? strdup(v) : NULL;
        if (v && !*vocabulary) {
            snprintf(err, errlen, "%s: out of memory", path);
            if (st) rnn_ckpt_state_free(st);
            goto done;
        }
    }
    rc = 0;
done:
    rnn_st_close(f);
    return rc;
}
