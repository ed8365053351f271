/*
 * mpi.c — the gradient reducer on MPI (rnn_mpi.h): compiled only into librnnrt_mpi.a,
 * which only `rnnc --mpi` trainers link, so that every other trainer stays free of MPI.
 *
 * The reducer's allgather is MPI_Iallgatherv in place on a duplicate of
 * MPI_COMM_WORLD; receive and pass_on (the chain, which models without an allgather
 * path use, and RNN_MPI_CHAIN=1 forces for comparison) are point-to-point messages to
 * the next rank and a broadcast from the last. Every wait polls its request, so that a
 * SIGTERM — what mpirun sends the other ranks when one fails or is killed — ends the
 * wait with a message instead of a hang; any MPI error is reported the same way.
 */
#include "rnn_mpi.h"
#include "train/trainer.h"

#include <limits.h>
#include <mpi.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    MPI_Comm comm;
    int rank, size;
    int *counts, *displs;   /* [size] for MPI_Iallgatherv */
    int failed;             /* reported once */
    /* RNN_MPI_STATS=1: what the exchanges cost, printed by every rank at the end */
    int stats;
    long exchanges;
    double bytes, seconds;
} mpi_ctx;

enum { TAG_CHAIN = 1 };

/* Report why this rank stops exchanging (once), and fail. */
static int give_up(mpi_ctx *c, const char *what, int mpi_error) {
    if (!c->failed) {
        char msg[MPI_MAX_ERROR_STRING] = "";
        int len = 0;
        if (mpi_error != MPI_SUCCESS) MPI_Error_string(mpi_error, msg, &len);
        const int sig = rnn_fit_stop_signal();
        if (sig)
            fprintf(stderr, "rank %d of %d: %s while waiting for the other ranks in %s (mpirun stops the job when a rank fails or is killed)\n",
                    c->rank, c->size, sig == SIGTERM ? "terminated (SIGTERM)" : "interrupted", what);
        else
            fprintf(stderr, "rank %d of %d: %s failed: %s\n", c->rank, c->size, what, msg);
    }
    c->failed = 1;
    return -1;
}

/* Wait for q, giving up on an MPI error or a stop signal. */
static int wait_for(mpi_ctx *c, MPI_Request *q, const char *what) {
    for (;;) {
        int done = 0, e = MPI_Test(q, &done, MPI_STATUS_IGNORE);
        if (e != MPI_SUCCESS) return give_up(c, what, e);
        if (done) return 0;
        if (rnn_fit_stop_signal()) return give_up(c, what, MPI_SUCCESS);
        sched_yield();   /* ranks may share cores (mpirun --oversubscribe) */
    }
}

static int too_large(mpi_ctx *c, size_t bytes, const char *what) {
    if (bytes <= INT_MAX) return 0;
    fprintf(stderr, "rank %d of %d: %s: %zu bytes in one message; MPI counts stop at %d\n", c->rank, c->size, what,
            bytes, INT_MAX);
    c->failed = 1;
    return 1;
}

static int mpi_allgather(void *ctx, void *buf, const size_t *offset, const size_t *count) {
    mpi_ctx *c = ctx;
    if (c->failed) return -1;
    for (int k = 0; k < c->size; k++) {
        if (too_large(c, offset[k] + count[k], "the exchange")) return -1;
        c->displs[k] = (int)offset[k];
        c->counts[k] = (int)count[k];
    }
    MPI_Request q;
    const double t0 = c->stats ? MPI_Wtime() : 0;
    int e = MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, c->counts, c->displs, MPI_BYTE, c->comm, &q);
    int rc = e != MPI_SUCCESS ? give_up(c, "the exchange", e) : wait_for(c, &q, "the exchange");
    if (c->stats) {
        c->exchanges++;
        for (int k = 0; k < c->size; k++) c->bytes += (double)count[k];
        c->seconds += MPI_Wtime() - t0;
    }
    return rc;
}

static int mpi_receive(void *ctx, void *buf, size_t bytes) {
    mpi_ctx *c = ctx;
    if (c->failed || too_large(c, bytes, "the chain")) return -1;
    MPI_Request q;
    int e = MPI_Irecv(buf, (int)bytes, MPI_BYTE, c->rank - 1, TAG_CHAIN, c->comm, &q);
    return e != MPI_SUCCESS ? give_up(c, "the chain", e) : wait_for(c, &q, "the chain");
}

static int mpi_pass_on(void *ctx, void *buf, size_t bytes) {
    mpi_ctx *c = ctx;
    if (c->failed || too_large(c, bytes, "the chain")) return -1;
    MPI_Request q;
    int e;
    if (c->rank + 1 < c->size) {
        e = MPI_Isend(buf, (int)bytes, MPI_BYTE, c->rank + 1, TAG_CHAIN, c->comm, &q);
        if (e != MPI_SUCCESS || wait_for(c, &q, "the chain")) return give_up(c, "the chain", e);
    }
    e = MPI_Ibcast(buf, (int)bytes, MPI_BYTE, c->size - 1, c->comm, &q);
    return e != MPI_SUCCESS ? give_up(c, "the chain", e) : wait_for(c, &q, "the chain");
}

int rnn_mpi_trainer_main(const rnn_model *m, const rnn_model_ops *ops, const char *program, int argc, char **argv) {
    int provided;
    /* only the main thread calls MPI; the trainer's own threads never do */
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "%s: MPI could not start\n", program);
        return 1;
    }
    mpi_ctx c;
    memset(&c, 0, sizeof c);
    MPI_Comm_dup(MPI_COMM_WORLD, &c.comm);
    MPI_Comm_set_errhandler(c.comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(c.comm, &c.rank);
    MPI_Comm_size(c.comm, &c.size);
    c.counts = malloc((size_t)c.size * sizeof *c.counts);
    c.displs = malloc((size_t)c.size * sizeof *c.displs);
    if (!c.counts || !c.displs) {
        fprintf(stderr, "%s: rank %d of %d: out of memory\n", program, c.rank, c.size);
        fflush(NULL);
        _exit(1);
    }
    const char *chain = getenv("RNN_MPI_CHAIN"), *stats = getenv("RNN_MPI_STATS");
    c.stats = stats && !strcmp(stats, "1");
    const int use_chain = chain && !strcmp(chain, "1");
    rnn_reducer red = {c.rank, c.size, &c, mpi_receive, mpi_pass_on, use_chain ? NULL : mpi_allgather};
    /* rank 0 alone prints results; every rank prints its errors on stderr */
    if (c.rank > 0 && !freopen("/dev/null", "w", stdout)) {
        fprintf(stderr, "%s: rank %d of %d: cannot silence stdout\n", program, c.rank, c.size);
        fflush(NULL);
        _exit(1);
    }
    int rc = rnn_trainer_main_reduced(m, ops, program, argc, argv, &red);
    if (c.stats && c.exchanges)   /* (the wait includes the other ranks' lateness) */
        fprintf(stderr, "rank %d of %d: %ld exchanges, %.0f bytes and %.1f us each on average (waiting included)\n", c.rank,
                c.size, c.exchanges, c.bytes / (double)c.exchanges, 1e6 * c.seconds / (double)c.exchanges);
    free(c.counts);
    free(c.displs);
    if (rc != 0) {
        /* Other ranks may be waiting in an exchange this one will never join: leave
         * without MPI_Finalize, and mpirun ends the job (it reports this exit code). */
        fflush(NULL);
        _exit(rc);
    }
    MPI_Comm_free(&c.comm);
    MPI_Finalize();
    return 0;
}
