/*
 * hash.c — the fingerprint of a model's architecture (rnn_model_hash).
 */
#include "rnn_arch.h"

#include <string.h>

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t fnv_int(uint64_t h, long long v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((unsigned long long)v >> (8 * i));
    return fnv(h, b, 8);
}

/* The hashed options in table order: those marked 1 always, those marked 2 (added
 * later) when not zero, each then preceded by its index so that two of them cannot
 * be confused. */
uint64_t rnn_model_hash(const rnn_model *m) {
    uint64_t h = 14695981039346656037ull;
    h = fnv_int(h, m->n_layers);
    for (int i = 0; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        h = fnv_int(h, l->kind);
        for (int k = 0; k < rnn_layer_option_count; k++) {
            const rnn_option_info *o = &rnn_layer_options[k];
            double v = rnn_option_value(l, o);
            if (o->hashed == 1) {
                h = fnv_int(h, (long long)v);
            } else if (o->hashed == 2 && v != 0) {
                h = fnv_int(h, k);
                uint64_t bits;   /* the double's bytes as a little-endian host has them, on any host */
                unsigned char le[8];
                memcpy(&bits, &v, sizeof bits);
                for (int b = 0; b < 8; b++) le[b] = (unsigned char)(bits >> (8 * b));
                h = fnv(h, le, sizeof le);
            }
        }
    }
    h = fnv_int(h, m->n_tensors);
    for (int i = 0; i < m->n_tensors; i++) {
        const rnn_tensor *t = &m->tensors[i];
        h = fnv(h, t->name, strlen(t->name));
        h = fnv_int(h, t->shape[0]);
        h = fnv_int(h, t->shape[1]);
        if (t->rank == 3) h = fnv_int(h, t->shape[2]);   /* (the ranks before 3 hash as they did) */
    }
    return h;
}
