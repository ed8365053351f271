/*
 * fpenv.h — the floating-point mode of rnn_parallel_for's workers. Internal to librnnrt
 * (rnn_flush_subnormals in rnnrt.h is the public form).
 */
#ifndef RNN_FPENV_H
#define RNN_FPENV_H

/* Give the calling thread the mode rnn_flush_subnormals last asked for; cheap when it
 * already has it (the workers call it before every job). */
void rnn_fpenv_apply(void);

#endif
