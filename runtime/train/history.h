/*
 * history.h — what the trainer records per epoch, as a CSV (Keras's CSVLogger) and as
 * an SVG picture (the notebook's two matplotlib panels). Internal to librnnrt.
 */
#ifndef RNN_HISTORY_H
#define RNN_HISTORY_H

#include <stddef.h>

typedef struct {
    int epoch;                 /* 0-based, as Keras's CSVLogger writes it        */
    double loss, accuracy;     /* NAN when not measured                          */
    double val_loss, val_accuracy;
} rnn_history_row;

/* Write "epoch,accuracy,loss,val_accuracy,val_loss" (Keras's CSVLogger orders keys
 * alphabetically after epoch; columns never measured are left out) atomically. */
int rnn_history_write_csv(const char *path, const rnn_history_row *rows, int n, char *err, size_t errlen);

/* An SVG with two panels, loss and accuracy per epoch (1-based on the axis), train
 * and validation, labelled axes with ticks, a legend, the title on top. Atomic. */
int rnn_history_write_svg(const char *path, const char *title, const rnn_history_row *rows, int n,
                          char *err, size_t errlen);

#endif
