/*
 * atomic_file.h — helpers around the atomic writes of safetensors.h. Internal to
 * librnnrt.
 */
#ifndef RNN_ATOMIC_FILE_H
#define RNN_ATOMIC_FILE_H

/* Ignore SIGXFSZ for the whole process. A write past `ulimit -f` (RLIMIT_FSIZE) then
 * fails with EFBIG, which rnn_atomic_commit reports ("PATH: cannot write: File too
 * large") while keeping the previous checkpoint, instead of the signal's default
 * action killing the trainer mid-write. The trainer calls this once at start-up;
 * a library should not change signal dispositions behind a program's back, so
 * nothing else in librnnrt does. */
void rnn_ignore_sigxfsz(void);

#endif
