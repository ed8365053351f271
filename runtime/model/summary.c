/*
 * summary.c — the Keras-style summary table of a model (rnn_model_summary).
 */
#include "model/kind.h"

#include <stdio.h>
#include <string.h>

static void human_bytes(char *buf, size_t n, double bytes) {
    if (bytes < 1024) snprintf(buf, n, "%.2f Byte", bytes);
    else if (bytes < 1024.0 * 1024) snprintf(buf, n, "%.2f KB", bytes / 1024);
    else if (bytes < 1024.0 * 1024 * 1024) snprintf(buf, n, "%.2f MB", bytes / (1024.0 * 1024));
    else snprintf(buf, n, "%.2f GB", bytes / (1024.0 * 1024 * 1024));
}

/* One row of the table as Keras prints it (print_row, layer_utils.py): the columns end
 * at 29, 55 and 65 characters; a text longer than its column (less the two spaces that
 * separate it from the next) goes on in the same column of the next lines, as
 * "bidirectional (Bidirectiona" then "l)". */
static void print_row(FILE *out, const char *f0, const char *f1, const char *f2) {
    static const int end[3] = {29, 55, 65};
    const char *left[3] = {f0, f1, f2};
    while (*left[0] || *left[1] || *left[2]) {
        char line[128];
        int len = 0;
        for (int c = 0; c < 3; c++) {
            int space = c < 2 ? 2 : 0, cut = end[c] - (c ? end[c - 1] : 0) - space;
            int n = (int)strlen(left[c]) < cut ? (int)strlen(left[c]) : cut;
            if (c == 0) line[len++] = ' ';
            memcpy(line + len, left[c], (size_t)n);
            len += n;
            left[c] += n;
            for (int k = 0; k < space; k++) line[len++] = ' ';
            while (len < end[c]) line[len++] = ' ';
        }
        fprintf(out, "%.*s\n", len, line);
    }
}

void rnn_model_summary(const rnn_model *m, FILE *out) {
    static const char rule[] = "_________________________________________________________________";
    static const char dbl[] = "=================================================================";
    fprintf(out, "Model: \"%s\"\n%s\n", m->name, rule);
    print_row(out, "Layer (type)", "Output Shape", "Param #");
    fprintf(out, "%s\n", dbl);
    for (int i = 0; i < m->n_layers; i++) {
        const rnn_layer *l = &m->layers[i];
        char col[160], shape[64], params[32];
        snprintf(col, sizeof col, "%s (%s)", l->name, rnn_layer_class_name(l->kind));
        rnn_shape_str(shape, sizeof shape, l->out_seq, l->out_timesteps, l->out_features);
        snprintf(params, sizeof params, "%zu", l->n_params);
        print_row(out, col, shape, params);
        if (i + 1 < m->n_layers) fprintf(out, "%65s\n", "");
    }
    size_t frozen = 0;   /* the params of layers with trainable = false */
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].frozen) frozen += m->layers[i].n_params;
    char b[32], t[32], f[32];
    human_bytes(b, sizeof b, 4.0 * (double)m->n_params);
    human_bytes(t, sizeof t, 4.0 * (double)(m->n_params - frozen));
    human_bytes(f, sizeof f, 4.0 * (double)frozen);
    fprintf(out, "%s\nTotal params: %zu (%s)\nTrainable params: %zu (%s)\n", dbl, m->n_params, b, m->n_params - frozen, t);
    fprintf(out, "Non-trainable params: %zu (%s)\n%s\n", frozen, f, rule);
}
