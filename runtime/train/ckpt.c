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

static const char *kind_key(int kind) {
    return kind == RNN_CB_MODEL_CHECKPOINT ? "model_checkpoint" : kind == RNN_CB_EARLY_STOPPING ? "early_stopping" : "csv_logger";
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
            ts[nt].shape[0] = t->shape[0];
            ts[nt].shape[1] = t->shape[1];
            ts[nt].data = base + t->offset;
            nt++;
        }
    }

    enum { NMETA = 16 + RNN_MAX_CALLBACKS + 1 };
    const char *keys[NMETA];
    const char *vals[NMETA];
    char num[10][128];
    char cb_key[RNN_MAX_CALLBACKS + 1][24], cb_val[RNN_MAX_CALLBACKS + 1][192];
    int nm = 0;
#define META(k, v) (keys[nm] = (k), vals[nm] = (v), nm++)
    META("format", CKPT_FORMAT);
    META("model", m->name);
    snprintf(num[0], sizeof num[0], "%016" PRIx64, rnn_model_hash(m));
    META("model_hash", num[0]);
    META("rnnc_version", RNN_VERSION);
    META("optimizer", rnn_optimizer_name(tr->opt.kind));
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
            }
            META(cb_key[i], cb_val[i]);
        }
        snprintf(num[7], sizeof num[7], "%016" PRIx64, st->data_hash);
        META("data_hash", num[7]);
        size_t cap = 128 + (size_t)st->n_history * 5 * 26;
        history = malloc(cap);
        if (!history) goto oom;
        size_t used = 0;
        history[0] = 0;
        for (int i = 0; i < st->n_history; i++) {
            const rnn_history_row *r = &st->history[i];
            used += (size_t)snprintf(history + used, cap - used, "%d %.17g %.17g %.17g %.17g\n", r->epoch, r->loss,
                                     r->accuracy, r->val_loss, r->val_accuracy);
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
        int shape_ok = s->rank == t->rank && s->shape[0] == t->shape[0] && (t->rank == 1 || s->shape[1] == t->shape[1]);
        if (s->dtype != RNN_ST_F32 || !shape_ok) {
            if (t->rank == 1)
                snprintf(err, errlen, "%s: tensor '%s' must be F32 of shape [%d]", path, name, t->shape[0]);
            else
                snprintf(err, errlen, "%s: tensor '%s' must be F32 of shape [%d, %d]", path, name, t->shape[0], t->shape[1]);
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
    char *word[10];
} words;

static int split_words(char *s, words *w) {
    w->n = 0;
    for (char *p = s; *p;) {
        if (w->n == 10) return -1;
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
    else return -1;
    const char *mon = word_value(&w, 1, "monitor"), *mode = word_value(&w, 2, "mode"), *best = word_value(&w, 3, "best");
    if (!mon || !mode || !best) return -1;
    c->monitor = -1;
    for (int k = 0; k <= RNN_MONITOR_ACCURACY; k++)
        if (!strcmp(mon, rnn_monitor_name((rnn_monitor)k))) c->monitor = k;
    if (c->monitor < 0) return -1;
    if (!strcmp(mode, "min")) c->mode = RNN_MODE_MIN;
    else if (!strcmp(mode, "max")) c->mode = RNN_MODE_MAX;
    else return -1;
    if (parse_number(best, &c->best) || isnan(c->best)) return -1;
    if (c->kind == RNN_CB_MODEL_CHECKPOINT) return w.n == 4 ? 0 : -1;
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
        char line[256];
        words w;
        rnn_history_row *r = &st->history[st->n_history];
        double *fields[4] = {&r->loss, &r->accuracy, &r->val_loss, &r->val_accuracy};
        uint64_t e;
        int ok = nl && len < sizeof line;
        if (ok) {
            memcpy(line, p, len);
            line[len] = 0;
            ok = !split_words(line, &w) && w.n == 5 && !parse_uint(w.word[0], (uint64_t)st->n_history,
                                                                  (uint64_t)st->n_history, &e);
            for (int k = 0; ok && k < 4; k++) ok = !parse_number(w.word[k + 1], fields[k]);
        }
        if (!ok) {
            snprintf(err, errlen, "%s: metadata \"history\" line %d must be \"%d\" and four numbers (got \"%.*s%s\")", path,
                     st->n_history + 1, st->n_history, (int)(len < 60 ? len : 60), p, len > 60 ? "..." : "");
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
    for (int k = 0; mon && k <= RNN_MONITOR_ACCURACY; k++)
        if (strcmp(mon, rnn_monitor_name((rnn_monitor)k)) == 0) st->monitor = k;
    if ((mon && st->monitor < 0) || (mv && parse_number(mv, &st->monitor_value))) {
        snprintf(err, errlen, "%s: metadata \"%s\" is not a %s (got \"%.40s\")", path, mon && st->monitor < 0 ? "monitor" : "monitor_value",
                 mon && st->monitor < 0 ? "monitor name" : "number", mon && st->monitor < 0 ? mon : mv);
        return -1;
    }
    if (load_callbacks(f, path, st, err, errlen) || load_snapshots(f, path, m, st, err, errlen) ||
        load_history(f, path, st, err, errlen))
        return -1;
    return 0;
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
    rnn_st_file *f = rnn_st_open(path, err, errlen);
    if (!f) return -1;
    int rc = load_weights(f, path, m, params, err, errlen);
    rnn_st_close(f);
    return rc;
}

int rnn_ckpt_load(const char *path, rnn_trainer *tr, rnn_ckpt_state *st, char **vocabulary, char *err, size_t errlen) {
    const rnn_model *m = tr->m;
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
