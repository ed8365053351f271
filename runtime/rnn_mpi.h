/*
 * rnn_mpi.h — a generated trainer's main under MPI (rnnc SPEC -o T --mpi; librnnrt_mpi.a).
 *
 * `mpirun -n K ./T fit ...` trains data-parallel: every rank holds the model and takes
 * its part of every batch; the ranks exchange their lane blocks' gradient sums and add
 * them in block order, so that K ranks end with the weights of one process, bit for
 * bit. Rank 0 alone prints and writes files. README.md, "Many machines".
 */
#ifndef RNN_MPI_H
#define RNN_MPI_H

#include "rnnrt.h"

/* rnn_trainer_main on every rank of MPI_COMM_WORLD: initializes MPI, runs the command
 * with this rank's place among the ranks, and finalizes. A rank whose command fails
 * exits at once with its code (mpirun then ends the job). */
int rnn_mpi_trainer_main(const rnn_model *m, const rnn_model_ops *ops, const char *program, int argc, char **argv);

#endif
