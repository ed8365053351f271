/*
 * parallel.c — the one parallel construct the runtime offers generated code:
 * rnn_parallel_for over the lane blocks of a batch.
 *
 * The items are split into one contiguous range per thread (the caller's first). A
 * thread runs its own range first, then takes what is left of the others', item by
 * item from atomic counters: the same thread runs the same blocks in every call when
 * all keep up, so a block's forward state is still in that core's L2 when its backward
 * runs (with one shared counter, a block's backward often ran on the other core;
 * measured with two threads, medians of 9 paired runs: 2-4 % faster epochs on the
 * seed specs), and the work still balances when one falls behind. The callers make
 * the result independent of which thread ran which block: every block writes only its
 * own buffers, and everything summed over blocks is summed afterwards in block order. The trained weights are therefore bit-for-bit the same
 * whatever the thread count.
 *
 * The worker threads are started on first use and then wait for work: a batch takes a
 * few hundred microseconds, so creating threads for every call (twice per batch) would
 * cost a large part of it. A worker spins on the job counter for about a millisecond
 * before sleeping on a condition variable: between two calls the caller does the
 * sequential part of a step (the optimizer, the next batch), and a worker that went to
 * sleep costs a wake-up each time (measured on 2 vCPUs: 20k spins gave lstm2 1.2x with
 * two threads, 1M spins 1.8x; with a pause instruction in the loop, 100k spins, about
 * 1-2 ms, do as well). The caller, once its own share is done, likewise spins
 * on the count of finished workers before it sleeps: the last worker is usually a few
 * microseconds behind, and a sleep and wake-up of the caller cost more than that.
 * Workers live until the process exits (they hold no resources a caller could miss).
 */
#include "rnnrt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define MAX_WORKERS 63

/* In a spin loop: tell the CPU, so that a hyperthread sibling doing the work gets the
 * core's resources (the 2 vCPUs of a VM may be two threads of one core). */
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define CPU_RELAX() __builtin_ia32_pause()
#else
#define CPU_RELAX() ((void)0)
#endif
#define SPIN_ROUNDS 100000

static int g_threads;   /* 0: every core */

void rnn_set_threads(int n) { g_threads = n > 0 ? n : 0; }

int rnn_get_threads(void) {
    if (g_threads > 0) return g_threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 && n <= 1024 ? (int)n : 1;
}

/* The current job. `generation` changes when a job is posted; `wanted` workers (by
 * index) take part; `done` counts the workers that finished it. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t work, finished;
    int workers;                    /* started so far */
    atomic_uint generation;
    int wanted;
    atomic_int done;
    void (*fn)(void *arg, int i);
    void *arg;
    int ranges;                       /* threads taking part: range r is thread r's own */
    atomic_int next[MAX_WORKERS + 1]; /* the next unclaimed item of each range           */
    int end[MAX_WORKERS + 1];
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, NULL, NULL, 0,
          {0}, {0}};

/* Thread `self`'s own range, then the rest of the others' in turn. */
static void run_items(int self) {
    for (int k = 0; k < pool.ranges; k++) {
        const int r = (self + k) % pool.ranges;
        for (int i; (i = atomic_fetch_add(&pool.next[r], 1)) < pool.end[r];) pool.fn(pool.arg, i);
    }
}

static void *worker(void *p) {
    const int index = (int)(intptr_t)p;
    unsigned seen = 0;
    for (;;) {
        /* wait for a new job: spin a little, then sleep */
        unsigned g = atomic_load(&pool.generation);
        for (int s = 0; g == seen && s < SPIN_ROUNDS; s++) {
            CPU_RELAX();
            g = atomic_load(&pool.generation);
        }
        pthread_mutex_lock(&pool.mu);
        while ((g = atomic_load(&pool.generation)) == seen) pthread_cond_wait(&pool.work, &pool.mu);
        const int wanted = pool.wanted, take_part = index < wanted;
        pthread_mutex_unlock(&pool.mu);
        seen = g;
        if (!take_part) continue;
        run_items(index + 1);
        if (atomic_fetch_add(&pool.done, 1) + 1 == wanted) {
            pthread_mutex_lock(&pool.mu);   /* the caller tests `done` under mu before it sleeps */
            pthread_cond_signal(&pool.finished);
            pthread_mutex_unlock(&pool.mu);
        }
    }
    return NULL;
}

/* One job at a time: two threads of a program calling rnn_parallel_for at once take
 * turns (fn must not call rnn_parallel_for itself). */
static pthread_mutex_t g_caller = PTHREAD_MUTEX_INITIALIZER;

void rnn_parallel_for(int n, void (*fn)(void *arg, int i), void *arg) {
    int threads = rnn_get_threads();
    if (threads > n) threads = n;
    if (threads > MAX_WORKERS + 1) threads = MAX_WORKERS + 1;
    if (threads <= 1) {
        for (int i = 0; i < n; i++) fn(arg, i);
        return;
    }
    pthread_mutex_lock(&g_caller);
    pthread_mutex_lock(&pool.mu);
    while (pool.workers < threads - 1) {   /* start the missing workers */
        pthread_t t;
        if (pthread_create(&t, NULL, worker, (void *)(intptr_t)pool.workers) != 0) break;
        pthread_detach(t);
        pool.workers++;
    }
    pool.wanted = threads - 1 < pool.workers ? threads - 1 : pool.workers;
    atomic_store(&pool.done, 0);
    pool.fn = fn;
    pool.arg = arg;
    pool.ranges = pool.wanted + 1;
    for (int r = 0; r < pool.ranges; r++) {
        atomic_store(&pool.next[r], (int)((long)n * r / pool.ranges));
        pool.end[r] = (int)((long)n * (r + 1) / pool.ranges);
    }
    atomic_fetch_add(&pool.generation, 1);
    pthread_cond_broadcast(&pool.work);
    pthread_mutex_unlock(&pool.mu);

    const int wanted = pool.wanted;
    run_items(0);   /* the calling thread works too */
    for (int s = 0; atomic_load(&pool.done) < wanted && s < SPIN_ROUNDS; s++) CPU_RELAX();
    pthread_mutex_lock(&pool.mu);
    while (atomic_load(&pool.done) < wanted) pthread_cond_wait(&pool.finished, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
    pthread_mutex_unlock(&g_caller);
}
