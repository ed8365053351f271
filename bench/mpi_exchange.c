/*
 * mpi_exchange.c — the cost of one gradient exchange of a data-parallel step, alone:
 * MPI_Iallgatherv in place of the records of nb lane blocks of `record` bytes each,
 * split over the ranks as the trainer splits them (rnn_reducer_part), waited for as
 * runtime/mpi/mpi.c waits (MPI_Test and sched_yield), and the same bytes through
 * MPI_Allreduce for comparison (what a non-reproducible sum would cost).
 *   mpicc -O2 bench/mpi_exchange.c -o mpi_exchange
 *   mpirun -n 2 ./mpi_exchange RECORD_BYTES BLOCKS [REPEATS]
 * Prints, on rank 0: bytes per rank and the median and lower quartile of microseconds.
 */
#include <mpi.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *t, int n, long bytes) {
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    printf("%-28s %10ld bytes  median %8.1f us  q1 %8.1f us\n", what, bytes, 1e6 * t[n / 2], 1e6 * t[n / 4]);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 3) {
        if (rank == 0) fprintf(stderr, "usage: mpi_exchange RECORD_BYTES BLOCKS [REPEATS]\n");
        MPI_Finalize();
        return 2;
    }
    const long rec = atol(argv[1]), nb = atol(argv[2]);
    const int reps = argc > 3 ? atoi(argv[3]) : 200;
    char *buf = calloc((size_t)(rec * nb), 1), *sum = calloc((size_t)rec, 1);
    int *counts = malloc((size_t)size * sizeof *counts), *displs = malloc((size_t)size * sizeof *displs);
    double *t = malloc((size_t)reps * sizeof *t);
    for (int k = 0; k < size; k++) {
        const long b0 = nb * k / size, b1 = nb * (k + 1) / size;
        displs[k] = (int)(b0 * rec);
        counts[k] = (int)((b1 - b0) * rec);
    }
    for (int i = 0; i < reps; i++) {
        MPI_Barrier(MPI_COMM_WORLD);
        const double t0 = MPI_Wtime();
        MPI_Request q;
        MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, displs, MPI_BYTE, MPI_COMM_WORLD, &q);
        for (int done = 0; !done;) {
            MPI_Test(&q, &done, MPI_STATUS_IGNORE);
            if (!done) sched_yield();
        }
        t[i] = MPI_Wtime() - t0;
    }
    if (rank == 0) report("allgatherv (in block order)", t, reps, rec * nb);
    for (int i = 0; i < reps; i++) {
        MPI_Barrier(MPI_COMM_WORLD);
        const double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, sum, (int)(rec / 4), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        t[i] = MPI_Wtime() - t0;
    }
    if (rank == 0) report("allreduce (order not fixed)", t, reps, rec);
    free(buf);
    free(sum);
    free(counts);
    free(displs);
    free(t);
    MPI_Finalize();
    return 0;
}
