/*
 * ckpt.c — checkpoints: weights, optimizer state and the resume state in one
 * safetensors file, written atomically. Tensors (all F32, Keras names and layouts):
 *   <layer>/<weight>                      the weights, e.g. "lstm_1/recurrent_kernel"
 *   optimizer/<slot>/<layer>/<weight>     optimizer slots: rmsprop "rms", adam "m" and
 *                                         "v", sgd with momentum "momentum"
 *   early_stopping/best/<layer>/<weight>  EarlyStopping's snapshot of the best weights
 */
#include "train/trainer.h"
#include "core/safetensors.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const slot_names[3][2] = {{"rms", NULL}, {"m", "v"}, {"momentum", NULL}};

#define MAX_CKPT_TENSORS (RNN_MAX_TENSORS * 4)

/* __metadata__ (all strings, as the format requires): format "rnnc-checkpoint/1",
 * model, model_hash (16 hex digits), rnnc_version, seed, epoch (completed epochs),
 * iterations (optimizer steps: with the epoch and seed the whole RNG position, since
 * every draw is a pure function of them), optimizer, batch_size, monitor,
 * monitor_value, checkpoint_best, early_stopping ("wait=W best=B best_epoch=E
 * stopped=0|1"), history (one line per epoch: "epoch loss accuracy val_loss
 * val_accuracy", %.17g, nan when absent), data_hash, and vocabulary (the words by rank,
 * one per line) when trained on text. */
int rnn_ckpt_save(const char *path, const rnn_trainer *tr, const rnn_ckpt_state *st, int with_optimizer,
                  char *err, size_t errlen) {
    const rnn_model *m = tr->m;
    size_t P = m->param_buffer_len;
    static rnn_st_tensor ts[MAX_CKPT_TENSORS];
    static char names[MAX_CKPT_TENSORS][RNN_TENSOR_NAME_MAX + 40];
    int nt = 0;
    /* weights, then the optimizer slots, then the snapshot */
    int groups = 1 + (with_optimizer ? tr->opt_slots : 0) + (st && st->es_best_weights ? 1 : 0);
    for (int g = 0; g < groups; g++) {
        const rnn_real *base;
        char prefix[40] = "";
        if (g == 0) {
            base = tr->params;
        } else if (with_optimizer && g <= tr->opt_slots) {
            base = tr->opt_state + (size_t)(g - 1) * P;
            snprintf(prefix, sizeof prefix, "optimizer/%s/", slot_names[tr->opt.kind][g - 1]);
        } else {
            base = st->es_best_weights;
            snprintf(prefix, sizeof prefix, "early_stopping/best/");
        }
        for (int k = 0; k < m->n_tensors; k++) {
            const rnn_tensor *t = &m->tensors[k];
            snprintf(names[nt], sizeof names[nt], "%s%s", prefix, t->name);
            ts[nt].name = names[nt];
            ts[nt].dtype = RNN_ST_F32;
            ts[nt].rank = t->rank;
            ts[nt].shape[0] = t->shape[0];
            ts[nt].shape[1] = t->shape[1];
            ts[nt].data = base + t->offset;
            nt++;
        }
    }

    enum { NMETA = 18 };
    const char *keys[NMETA];
    const char *vals[NMETA];
    char num[12][128];
    int nm = 0;
#define META(k, v) (keys[nm] = (k), vals[nm] = (v), nm++)
    META("format", "rnnc-checkpoint/1");
    META("model", m->name);
    snprintf(num[0], sizeof num[0], "%016" PRIx64, rnn_model_hash(m));
    META("model_hash", num[0]);
    META("rnnc_version", RNN_VERSION);
    META("optimizer", rnn_optimizer_name(tr->opt.kind));
    char *history = NULL;
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
        snprintf(num[6], sizeof num[6], "%.17g", st->checkpoint_best);
        META("checkpoint_best", num[6]);
        snprintf(num[7], sizeof num[7], "wait=%d best=%.17g best_epoch=%d stopped=%d", st->es_wait, st->es_best,
                 st->es_best_epoch, st->es_stopped);
        META("early_stopping", num[7]);
        snprintf(num[8], sizeof num[8], "%016" PRIx64, st->data_hash);
        META("data_hash", num[8]);
        size_t cap = 128 + (size_t)st->n_history * 5 * 26;
        history = malloc(cap);
        if (!history) {
            snprintf(err, errlen, "%s: out of memory", path);
            return -1;
        }
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
    int rc = rnn_st_write(path, ts, nt, keys, vals, nm, err, errlen);
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

static int meta_long(const rnn_st_file *f, const char *key, long long *out) {
    const char *s = rnn_st_meta(f, key);
    if (!s) return -1;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end) return -1;
    *out = v;
    return 0;
}

static int meta_double(const rnn_st_file *f, const char *key, double *out) {
    const char *s = rnn_st_meta(f, key);
    if (!s) return -1;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end) return -1;
    *out = v;
    return 0;
}

static int load_state(const rnn_st_file *f, const char *path, rnn_trainer *tr, rnn_ckpt_state *st, char *err,
                      size_t errlen) {
    const rnn_model *m = tr->m;
    const char *fmt = rnn_st_meta(f, "format");
    if (!fmt || strcmp(fmt, "rnnc-checkpoint/1") != 0) {
        snprintf(err, errlen, "%s: not an rnnc checkpoint (no format \"rnnc-checkpoint/1\" in its metadata); cannot resume", path);
        return -1;
    }
    const char *opt = rnn_st_meta(f, "optimizer");
    if (!opt || strcmp(opt, rnn_optimizer_name(tr->opt.kind)) != 0) {
        snprintf(err, errlen, "%s: the checkpoint was trained with optimizer %s, the spec says %s", path,
                 opt ? opt : "(none)", rnn_optimizer_name(tr->opt.kind));
        return -1;
    }
    size_t P = m->param_buffer_len;
    for (int s = 0; s < tr->opt_slots; s++) {
        char prefix[40];
        snprintf(prefix, sizeof prefix, "optimizer/%s/", slot_names[tr->opt.kind][s]);
        if (load_group(f, path, m, prefix, tr->opt_state + (size_t)s * P, err, errlen)) return -1;
    }
    long long epoch, iterations, bs;
    if (meta_long(f, "epoch", &epoch) || meta_long(f, "iterations", &iterations) || meta_long(f, "batch_size", &bs) ||
        epoch < 0 || iterations < 0) {
        snprintf(err, errlen, "%s: the checkpoint's metadata has no valid epoch, iterations and batch_size", path);
        return -1;
    }
    st->epochs_done = (int)epoch;
    st->iterations = iterations;
    st->batch_size = (int)bs;
    const char *seed = rnn_st_meta(f, "seed");
    st->seed = seed ? strtoull(seed, NULL, 10) : 0;
    const char *dh = rnn_st_meta(f, "data_hash");
    st->data_hash = dh ? strtoull(dh, NULL, 16) : 0;
    st->monitor = -1;
    const char *mon = rnn_st_meta(f, "monitor");
    for (int k = 0; mon && k < 4; k++)
        if (strcmp(mon, rnn_monitor_name((rnn_monitor)k)) == 0) st->monitor = k;
    if (meta_double(f, "monitor_value", &st->monitor_value)) st->monitor_value = NAN;
    if (meta_double(f, "checkpoint_best", &st->checkpoint_best)) st->checkpoint_best = NAN;
    const char *es = rnn_st_meta(f, "early_stopping");
    if (!es || sscanf(es, "wait=%d best=%lf best_epoch=%d stopped=%d", &st->es_wait, &st->es_best, &st->es_best_epoch,
                      &st->es_stopped) != 4) {
        snprintf(err, errlen, "%s: the checkpoint's metadata has no valid early_stopping state", path);
        return -1;
    }
    char probe[RNN_TENSOR_NAME_MAX + 40];   /* a snapshot is saved whole or not at all */
    snprintf(probe, sizeof probe, "early_stopping/best/%s", m->tensors[0].name);
    if (rnn_st_find(f, probe)) {
        st->es_best_weights = calloc(P ? P : 1, sizeof *st->es_best_weights);
        if (!st->es_best_weights) {
            snprintf(err, errlen, "%s: out of memory", path);
            return -1;
        }
        if (load_group(f, path, m, "early_stopping/best/", st->es_best_weights, err, errlen)) return -1;
    }
    const char *h = rnn_st_meta(f, "history");
    int lines = 0;
    for (const char *p = h; p && *p; p++) lines += *p == '\n';
    st->history = calloc((size_t)lines + 1, sizeof *st->history);
    if (!st->history) {
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    st->n_history = 0;
    for (const char *p = h; p && *p;) {
        rnn_history_row *r = &st->history[st->n_history];
        char *end;
        r->epoch = (int)strtol(p, &end, 10);
        double *fields[4] = {&r->loss, &r->accuracy, &r->val_loss, &r->val_accuracy};
        for (int k = 0; k < 4; k++) *fields[k] = strtod(end, &end);
        if (*end != '\n') {
            snprintf(err, errlen, "%s: the checkpoint's history is malformed", path);
            return -1;
        }
        st->n_history++;
        p = end + 1;
    }
    if (st->n_history != st->epochs_done) {
        snprintf(err, errlen, "%s: the checkpoint's history has %d epochs but it says %d were done", path, st->n_history,
                 st->epochs_done);
        return -1;
    }
    return 0;
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
        const char *base = name;
        if (strncmp(name, "optimizer/", 10) == 0) {
            const char *slash = strchr(name + 10, '/');
            base = slash ? slash + 1 : name;
        } else if (strncmp(name, "early_stopping/best/", 20) == 0) {
            base = name + 20;
        }
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
