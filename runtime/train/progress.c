/*
 * progress.c — Keras-like epoch lines and progress bar.
 *
 *   Epoch 3/100
 *   313/313 [==============================] - 2.1s 6.7ms/step - 9524 samples/s - loss: 0.6931 - accuracy: 0.5012 - val_loss: ...
 *
 * On a terminal the bar is redrawn in place (at most 10 times a second, with the
 * running loss and accuracy and an ETA); otherwise only the final line is printed.
 * With --json the human lines are replaced by one JSON object per epoch on stdout
 * and messages go to stderr; with --quiet nothing but errors is printed.
 */
#include "train/trainer.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double clock_seconds(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double rnn_now(void) { return clock_seconds(CLOCK_MONOTONIC); }

double rnn_cpu_now(void) { return clock_seconds(CLOCK_PROCESS_CPUTIME_ID); }

void rnn_progress_init(rnn_progress *p, int quiet, int json, int has_accuracy) {
    p->quiet = quiet;
    p->json = json;
    p->tty = !quiet && !json && isatty(fileno(stdout));
    p->has_accuracy = has_accuracy;
    p->has_lr = 0;
    p->epoch = p->epochs = p->steps = 0;
    p->t0 = p->last_draw = p->cpu0 = 0;
}

static void bar(int step, int steps, char *buf) {
    const int width = 30;
    int filled = steps ? (int)((long long)width * step / steps) : width;
    for (int i = 0; i < width; i++) buf[i] = i < filled ? '=' : (i == filled ? '>' : '.');
    buf[width] = 0;
}

void rnn_progress_epoch_begin(rnn_progress *p, int epoch, int epochs, int steps) {
    p->epoch = epoch;
    p->epochs = epochs;
    p->steps = steps;
    p->t0 = rnn_now();
    p->cpu0 = rnn_cpu_now();
    p->last_draw = 0;
    if (!p->quiet && !p->json) {
        printf("Epoch %d/%d\n", epoch + 1, epochs);
        rnn_stdout_flush();
    }
}

void rnn_progress_step(rnn_progress *p, int step, double loss, double acc) {
    if (!p->tty) return;
    double now = rnn_now();
    if (step < p->steps && now - p->last_draw < 0.1) return;
    p->last_draw = now;
    char b[40];
    bar(step, p->steps, b);
    double eta = step ? (now - p->t0) / step * (p->steps - step) : 0;
    printf("\r%d/%d [%s] - ETA: %.0fs - loss: %.4f", step, p->steps, b, eta, loss);
    if (p->has_accuracy) printf(" - accuracy: %.4f", acc);
    printf("\033[K");
    rnn_stdout_flush();
}

static void json_number(const char *key, double v, int *first) {
    printf("%s\"%s\": ", *first ? "" : ", ", key);
    if (isfinite(v)) printf("%.17g", v);
    else printf("null");
    *first = 0;
}

void rnn_progress_epoch_end(rnn_progress *p, const rnn_history_row *row, size_t samples) {
    double dt = rnn_now() - p->t0, cpu = rnn_cpu_now() - p->cpu0;
    double sps = dt > 0 ? (double)samples / dt : 0;
    if (p->quiet) return;
    /* the metrics beyond accuracy, in Keras's order of names (NAN: not measured) */
    const struct {
        const char *name, *val_name;
        double train, val;
    } other[3] = {{"auc", "val_auc", row->auc, row->val_auc},
                  {"precision", "val_precision", row->precision, row->val_precision},
                  {"recall", "val_recall", row->recall, row->val_recall}};
    if (p->json) {
        int first = 1;
        printf("{\"epoch\": %d", row->epoch + 1);
        first = 0;
        json_number("loss", row->loss, &first);
        if (p->has_accuracy) json_number("accuracy", row->accuracy, &first);
        for (int k = 0; k < 3; k++)
            if (!isnan(other[k].train)) json_number(other[k].name, other[k].train, &first);
        if (!isnan(row->val_loss)) json_number("val_loss", row->val_loss, &first);
        if (p->has_accuracy && !isnan(row->val_accuracy)) json_number("val_accuracy", row->val_accuracy, &first);
        for (int k = 0; k < 3; k++)
            if (!isnan(other[k].val)) json_number(other[k].val_name, other[k].val, &first);
        if (p->has_lr) json_number("lr", row->lr, &first);
        json_number("seconds", dt, &first);
        json_number("cpu_seconds", cpu, &first);
        json_number("samples_per_second", sps, &first);
        printf("}\n");
        rnn_stdout_flush();
        return;
    }
    char b[40];
    bar(p->steps, p->steps, b);
    printf("%s%d/%d [%s] - %.1fs %.1fms/step - %.0f samples/s - loss: %.4f", p->tty ? "\r" : "", p->steps, p->steps, b,
           dt, p->steps ? 1e3 * dt / p->steps : 0.0, sps, row->loss);
    if (p->has_accuracy) printf(" - accuracy: %.4f", row->accuracy);
    for (int k = 0; k < 3; k++)
        if (!isnan(other[k].train)) printf(" - %s: %.4f", other[k].name, other[k].train);
    if (!isnan(row->val_loss)) printf(" - val_loss: %.4f", row->val_loss);
    if (p->has_accuracy && !isnan(row->val_accuracy)) printf(" - val_accuracy: %.4f", row->val_accuracy);
    for (int k = 0; k < 3; k++)
        if (!isnan(other[k].val)) printf(" - %s: %.4f", other[k].val_name, other[k].val);
    printf("%s\n", p->tty ? "\033[K" : "");
    rnn_stdout_flush();
}

void rnn_progress_message(rnn_progress *p, const char *fmt, ...) {
    if (p->quiet) return;
    FILE *out = p->json ? stderr : stdout;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
    if (out == stdout) rnn_stdout_flush();
    else fflush(out);
}

static int g_stdout_errno;   /* of the first failed flush of stdout, 0 if none */

void rnn_stdout_flush(void) {
    if (fflush(stdout) != 0 && !g_stdout_errno) g_stdout_errno = errno ? errno : EIO;
}

int rnn_stdout_check(char *err, size_t errlen) {
    rnn_stdout_flush();
    if (!g_stdout_errno && !ferror(stdout)) return 0;
    snprintf(err, errlen, "cannot write to stdout: %s", strerror(g_stdout_errno ? g_stdout_errno : EIO));
    return -1;
}
