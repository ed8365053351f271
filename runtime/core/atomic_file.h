/*
 * atomic_file.h — files written so that a reader sees the old one or the new one, never
 * a torn one. Internal to librnnrt (rnn_write_file_atomic in rnnrt.h is the public
 * form).
 */
#ifndef RNN_ATOMIC_FILE_H
#define RNN_ATOMIC_FILE_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>

/* Write to a temporary in the same directory, then fflush + fsync + rename + fsync of
 * the directory. From open to commit or abort, the calling thread blocks
 * rnn_stop_signals (a pending one is delivered at the end). */
typedef struct {
    FILE *f;
    char tmp[4096];
    char path[4096];
    sigset_t old_mask;     /* the thread's signal mask before open                */
    int masked;
} rnn_atomic_file;

/* The signals that end a process by default and that a user or a supervisor sends to
 * stop one: SIGHUP, SIGINT, SIGQUIT, SIGTERM. */
void rnn_stop_signals(sigset_t *set);

int rnn_atomic_open(rnn_atomic_file *a, const char *path, char *err, size_t errlen);
/* Commit; on any failure (e.g. a full disk) removes the temporary, leaves the old file
 * untouched and returns -1 with err. */
int rnn_atomic_commit(rnn_atomic_file *a, char *err, size_t errlen);
void rnn_atomic_abort(rnn_atomic_file *a);

/* Can a file be created at path? (Creates and removes a temporary beside it.) */
int rnn_path_writable(const char *path, char *err, size_t errlen);

/* Ignore SIGXFSZ for the whole process. A write past `ulimit -f` (RLIMIT_FSIZE) then
 * fails with EFBIG, which rnn_atomic_commit reports ("PATH: cannot write: File too
 * large") while keeping the previous checkpoint, instead of the signal's default
 * action killing the trainer mid-write. The trainer calls this once at start-up;
 * a library should not change signal dispositions behind a program's back, so
 * nothing else in librnnrt does. */
void rnn_ignore_sigxfsz(void);

#endif
