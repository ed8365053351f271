/*
 * parallel.c — the one parallel construct the runtime offers generated code:
 * rnn_parallel_for over the lane blocks of a batch.
 *
 * Threads take block indices from an atomic counter, so the work is balanced, and the
 * callers make the result independent of which thread ran which block: every block
 * writes only its own buffers, and everything summed over blocks is summed afterwards
 * in block order. The trained weights are therefore bit-for-bit the same whatever the
 * thread count. Threads are started per call (tens of microseconds, once per batch and
 * direction): no pool to shut down, nothing left running between calls.
 */
#include "rnnrt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

static int g_threads;   /* 0: every core */

void rnn_set_threads(int n) { g_threads = n > 0 ? n : 0; }

int rnn_get_threads(void) {
    if (g_threads > 0) return g_threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 && n <= 1024 ? (int)n : 1;
}

typedef struct {
    void (*fn)(void *arg, int i);
    void *arg;
    int n;
    atomic_int next;
} job;

static void *worker(void *p) {
    job *j = p;
    for (int i; (i = atomic_fetch_add(&j->next, 1)) < j->n;) j->fn(j->arg, i);
    return NULL;
}

void rnn_parallel_for(int n, void (*fn)(void *arg, int i), void *arg) {
    int threads = rnn_get_threads();
    if (threads > n) threads = n;
    if (threads <= 1) {
        for (int i = 0; i < n; i++) fn(arg, i);
        return;
    }
    job j = {fn, arg, n, 0};
    pthread_t tid[64];
    if (threads > 64) threads = 64;
    int started = 0;
    for (; started < threads - 1; started++)
        if (pthread_create(&tid[started], NULL, worker, &j) != 0) break;   /* fewer threads is fine */
    worker(&j);
    for (int k = 0; k < started; k++) pthread_join(tid[k], NULL);
}
