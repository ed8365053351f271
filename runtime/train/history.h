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
    double auc, val_auc, precision, val_precision, recall, val_recall;
    double lr;                 /* the epoch's learning rate (Keras logs it with
                                  ReduceLROnPlateau), else NAN                   */
} rnn_history_row;

/* A row with the epoch and every value NAN (not measured). */
rnn_history_row rnn_history_row_empty(int epoch);

/* The row's values by column, in Keras's CSV order (its keys sorted): accuracy, auc,
 * loss, lr, precision, recall, val_accuracy, val_auc, val_loss, val_precision,
 * val_recall. */
enum { RNN_HISTORY_COLUMNS = 11 };
extern const char *const rnn_history_column_name[RNN_HISTORY_COLUMNS];
double rnn_history_value(const rnn_history_row *r, int column);

/* Write "epoch,accuracy,loss,val_accuracy,val_loss" and the other measured columns
 * (Keras's CSVLogger orders keys alphabetically after epoch; columns never measured are
 * left out) atomically. */
int rnn_history_write_csv(const char *path, const rnn_history_row *rows, int n, char *err, size_t errlen);

/* An SVG with two panels, loss and accuracy per epoch (1-based on the axis), train
 * and validation, labelled axes with ticks, a legend, the title on top. Atomic. */
int rnn_history_write_svg(const char *path, const char *title, const rnn_history_row *rows, int n,
                          char *err, size_t errlen);

#endif
