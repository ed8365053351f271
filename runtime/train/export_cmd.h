/*
 * export_cmd.h — the trainer's export command (export_cmd.c). Internal to librnnrt.
 */
#ifndef RNN_EXPORT_CMD_H
#define RNN_EXPORT_CMD_H

#include "rnnrt.h"

#include <stdio.h>

/* `PROGRAM export --weights F --format FMT DEST` (argv[0] is "export"): the exit code. */
int rnn_export_cmd(const rnn_model *m, const char *program, int argc, char **argv);
void rnn_export_help(FILE *f, const char *program);

#endif
