/*
 * summary.c — the Keras-style summary table of a model (rnn_model_summary).
 */
#include "model/kind.h"

#include <stdio.h>

static void human_bytes(char *buf, size_t n, double bytes) {
    if (bytes < 1024) snprintf(buf, n, "%.2f Byte", bytes);
    else if (bytes < 1024.0 * 1024) snprintf(buf, n, "%.2f KB", bytes / 1024);
    else if (bytes < 1024.0 * 1024 * 1024) snprintf(buf, n, "%.2f MB", bytes / (1024.0 * 1024));
    else snprintf(buf, n, "%.2f GB", bytes / (1024.0 * 1024 * 1024));
}

void rnn_model_summary(const rnn_model *m, FILE *out) {
    static const char rule[] = "_________________________________________________________________";
    static const char dbl[] = "=================================================================";
    fprintf(out, "Model: \"%s\"\n%s\n", m->name, rule);
    fprintf(out, " %-27s %-25s %-10s\n%s\n", "Layer (type)", "Output Shape", "Param #", dbl);
    for (int i = 0; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        char col[80], shape[64];
        snprintf(col, sizeof col, "%s (%s)", l->name, rnn_layer_class_name(l->kind));
        rnn_shape_str(shape, sizeof shape, l->out_seq, l->timesteps, l->out_features);
        fprintf(out, " %-27s %-25s %-10zu\n", col, shape, l->n_params);
        if (i + 1 < m->n_layers) fprintf(out, "%65s\n", "");
    }
    char b[32];
    human_bytes(b, sizeof b, 4.0 * (double)m->n_params);
    fprintf(out, "%s\nTotal params: %zu (%s)\nTrainable params: %zu (%s)\n", dbl, m->n_params, b, m->n_params, b);
    fprintf(out, "Non-trainable params: 0 (0.00 Byte)\n%s\n", rule);
}
