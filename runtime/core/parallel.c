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
 * own buffers, and everything summed over blocks is summed afterwards in block order.
 * The trained weights are therefore bit-for-bit the same whatever the thread count.
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
 * A caller that knows a job is coming after serial work of its own can wake sleeping
 * workers first (rnn_parallel_wake), so that their wake-up overlaps that work: the
 * trainer does so before an epoch's shuffle. Without it the first job of simplernn's
 * first epoch took 45-95 us instead of 2, the caller first in the futex call (9-27 us),
 * then waiting for the worker to wake, and its whole first batch 130-170 us instead
 * of about 30 (measured with timestamps; with the wake, about 85).
 *
 * A spinning thread yields its CPU every YIELD_EVERY rounds (sched_yield: on a CPU of
 * its own the call returns at once). Without it, when more threads want to run than
 * there are CPUs (two trainers at once, a build running beside one), a spinner kept
 * its CPU until the scheduler's time slice ended while the thread it waited for could
 * not run there, and every hand-off cost milliseconds: two 2-thread lstm trainers on
 * the 2 vCPUs took 5-9 s per epoch each instead of about 0.1 s (measured; with the
 * yield 0.05-0.17 s).
 *
 * Linux tends to start a new thread on its creator's CPU. A spinning pair that yields
 * shares that CPU politely enough that the scheduler was slow to move one away (the
 * first 600 jobs of a test took 17 us each instead of 2). So a worker is started on
 * another CPU than the caller's (pthread_attr_setaffinity_np) and, once running, widens
 * its affinity back to the caller's set: a hint where to start, not pinning. (Before,
 * without the yield, the scheduler separated the two only after 3-14 ms of jobs.) The
 * same holds for a worker woken from its sleep, which the scheduler tends to put on the
 * CPU of the caller that woke it: it moves itself the same way (leave_waker_cpu).
 *
 * A job is handed over without locks, and what one thread writes while another spins
 * on it sits on a cache line of its own (measured, 2 threads, empty jobs of 4 items:
 * 0.44 us per job with a mutex held while posting and one line for everything, 0.24 us
 * now).
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* pthread_attr_setaffinity_np, sched_getcpu, CPU_SET */
#endif
#include "rnnrt.h"

#include <pthread.h>
#include <sched.h>
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
#define YIELD_EVERY 256 /* spin rounds, a few microseconds */

/* One round of a spin-wait; s counts the rounds. */
static void spin_once(int s) {
    CPU_RELAX();
    if (s % YIELD_EVERY == YIELD_EVERY - 1) sched_yield();
}

static int g_threads;   /* 0: every core */

void rnn_set_threads(int n) { g_threads = n > 0 ? n : 0; }

int rnn_get_threads(void) {
    if (g_threads > 0) return g_threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 && n <= 1024 ? (int)n : 1;
}

/* The current job. Its generation changes when a job is posted; `wanted` workers (by
 * index) take part; `done` counts the workers that finished it.
 *
 * Posting and taking a job take no lock: the caller writes the job, then stores `job`,
 * the job's generation and the number of workers it wants in one atomic word; a
 * spinning worker that sees a new generation reads the rest of the job (the atomic
 * store and load order the plain fields). One word, because a worker that did not take
 * part in the previous job may look only now: with generation and `wanted` in two
 * variables it could read the old generation with the next job's `wanted`, written
 * before its generation, and run that job early, then again (a stress test with a
 * delay before the generation's store failed 5 runs in 300). A worker that took part
 * in a job cannot lag that way: the caller waits for it before the next. The mutex
 * and condition variables serve only a thread that goes to sleep, and it announces
 * itself first (`sleepers`, `caller_sleeps`), so the other side knows to wake it: each
 * side writes its own variable and then reads the other's (sequentially consistent
 * atomics), so at least one of them sees the other's write and no wake-up is lost.
 * (With the lock taken on every job, a worker that saw the new generation while the
 * caller still held the lock slept in the kernel until the unlock woke it.) */
#define LINE 64 /* bytes: variables written by one thread and read by another get a cache line each */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t work, finished;
    int workers;                    /* started so far (under g_caller)              */
    /* the job, written before `job` moves to its generation */
    void (*fn)(void *arg, int i);
    void *arg;
    int ranges;                     /* threads taking part: range r is thread r's own */
    int end[MAX_WORKERS + 1];
    _Alignas(LINE) atomic_ullong job; /* generation << 32 | workers wanted              */
    _Alignas(LINE) atomic_int done;
    _Alignas(LINE) atomic_int sleepers;      /* workers asleep or about to be    */
    atomic_int caller_sleeps;                /* the caller asleep or about to be */
    atomic_int waker_cpu;                    /* the caller's CPU when it woke sleepers */
    atomic_uint pokes;                       /* rnn_parallel_wake calls that woke sleepers */
    struct {
        _Alignas(LINE) atomic_int i;
    } next[MAX_WORKERS + 1];                 /* the next unclaimed item of each range */
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER, .finished = PTHREAD_COND_INITIALIZER};

/* Thread `self`'s own range, then the rest of the others' in turn. */
static void run_items(int self) {
    for (int k = 0; k < pool.ranges; k++) {
        const int r = (self + k) % pool.ranges;
        for (int i; (i = atomic_fetch_add(&pool.next[r].i, 1)) < pool.end[r];) pool.fn(pool.arg, i);
    }
}

static unsigned generation_of(unsigned long long job) { return (unsigned)(job >> 32); }

static void *worker(void *p);

/* Where a worker starts (see the top of the file). */
#ifdef __linux__
static cpu_set_t g_allowed; /* the caller's CPUs when the first worker was started */
static int g_place;         /* the hint applies: there is another CPU to start on  */
#endif

/* In a new worker: from its start CPU back to the caller's set. */
static void widen_affinity(void) {
#ifdef __linux__
    if (g_place) sched_setaffinity(0, sizeof g_allowed, &g_allowed);
#endif
}

#ifdef __linux__
/* Worker `index`'s CPU beside a caller on CPU `here`: the (index + 1)-th CPU of the set
 * after it, wrapping around (with as many threads as CPUs, one thread per CPU); -1 if
 * the hint does not apply. */
static int worker_cpu(int index, int here) {
    if (!g_place || here < 0 || here >= CPU_SETSIZE || !CPU_ISSET(here, &g_allowed)) return -1;
    int cpu = here;
    for (int steps = index % (CPU_COUNT(&g_allowed) - 1) + 1; steps > 0;) {
        cpu = (cpu + 1) % CPU_SETSIZE;
        if (CPU_ISSET(cpu, &g_allowed) && cpu != here) steps--;
    }
    return cpu;
}
#endif

/* In a worker just woken from its sleep by a caller on CPU `waker`: the scheduler tends
 * to wake a thread on its waker's CPU (wake-affine placement), where the two then take
 * turns on one CPU until the load balancer moves one away, 10-30 ms later (measured:
 * simplernn's first epoch with two threads 0.017-0.036 s in half the runs instead of
 * 0.009 s, when the worker had slept through the data loading). So a worker that finds
 * itself there moves to its own CPU, as at its start, and widens its affinity again: a
 * hint, not pinning. */
static void leave_waker_cpu(int index, int waker) {
#ifdef __linux__
    const int cpu = worker_cpu(index, waker);
    if (cpu < 0 || sched_getcpu() != waker) return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) == 0) widen_affinity();
#else
    (void)index, (void)waker;
#endif
}

/* Worker `index`'s wait for a job of another generation than `seen`: spin a little,
 * then sleep until a job comes; woken by rnn_parallel_wake instead, spin again. Returns
 * the job word. */
static unsigned long long wait_for_job(int index, unsigned seen) {
    for (;;) {
        unsigned long long j = atomic_load(&pool.job);
        for (int s = 0; generation_of(j) == seen && s < SPIN_ROUNDS; s++) {
            spin_once(s);
            j = atomic_load(&pool.job);
        }
        if (generation_of(j) != seen) return j;
        const unsigned pokes = atomic_load(&pool.pokes);
        atomic_fetch_add(&pool.sleepers, 1);
        pthread_mutex_lock(&pool.mu);
        while (generation_of(j = atomic_load(&pool.job)) == seen && atomic_load(&pool.pokes) == pokes)
            pthread_cond_wait(&pool.work, &pool.mu);
        pthread_mutex_unlock(&pool.mu);
        atomic_fetch_sub(&pool.sleepers, 1);
        leave_waker_cpu(index, atomic_load(&pool.waker_cpu));
        if (generation_of(j) != seen) return j;
    }
}

/* Start worker `index` on worker_cpu (see the top of the file). */
static int start_worker(int index) {
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) return -1;
#ifdef __linux__
    if (index == 0) g_place = sched_getaffinity(0, sizeof g_allowed, &g_allowed) == 0 && CPU_COUNT(&g_allowed) > 1;
    const int cpu = worker_cpu(index, sched_getcpu());
    if (cpu >= 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        pthread_attr_setaffinity_np(&attr, sizeof one, &one); /* if it fails: anywhere */
    }
#endif
    pthread_t t;
    const int rc = pthread_create(&t, &attr, worker, (void *)(intptr_t)index);
    pthread_attr_destroy(&attr);
    if (rc != 0) return -1;
    pthread_detach(t);
    return 0;
}

static void *worker(void *p) {
    const int index = (int)(intptr_t)p;
    unsigned seen = 0; /* a job it sees first that it was not started for wants fewer workers */
    widen_affinity();
    for (;;) {
        const unsigned long long j = wait_for_job(index, seen);
        const int wanted = (int)(j & 0xffffffffu);
        seen = generation_of(j);
        if (index >= wanted) continue;
        run_items(index + 1);
        if (atomic_fetch_add(&pool.done, 1) + 1 == wanted && atomic_load(&pool.caller_sleeps)) {
            pthread_mutex_lock(&pool.mu);
            pthread_cond_signal(&pool.finished);
            pthread_mutex_unlock(&pool.mu);
        }
    }
    return NULL;
}

/* One job at a time: two threads of a program calling rnn_parallel_for at once take
 * turns (fn must not call rnn_parallel_for itself). */
static pthread_mutex_t g_caller = PTHREAD_MUTEX_INITIALIZER;

/* Under g_caller, after a new job was posted (poke 0) or to wake without one (poke 1,
 * rnn_parallel_wake): wake the workers that sleep, telling them this CPU
 * (leave_waker_cpu). */
static void wake_sleepers(int poke) {
    if (atomic_load(&pool.sleepers) == 0) return;
#ifdef __linux__
    atomic_store(&pool.waker_cpu, sched_getcpu());
#endif
    if (poke) atomic_fetch_add(&pool.pokes, 1);
    pthread_mutex_lock(&pool.mu);
    pthread_cond_broadcast(&pool.work);
    pthread_mutex_unlock(&pool.mu);
}

void rnn_parallel_for(int n, void (*fn)(void *arg, int i), void *arg) {
    int threads = rnn_get_threads();
    if (threads > n) threads = n;
    if (threads > MAX_WORKERS + 1) threads = MAX_WORKERS + 1;
    if (threads <= 1) {
        for (int i = 0; i < n; i++) fn(arg, i);
        return;
    }
    pthread_mutex_lock(&g_caller);
    while (pool.workers < threads - 1) {   /* start the missing workers */
        if (start_worker(pool.workers) != 0) break;
        pool.workers++;
    }
    const int wanted = threads - 1 < pool.workers ? threads - 1 : pool.workers;
    /* the job; no worker reads it until `job` has the new generation */
    atomic_store(&pool.done, 0);
    pool.fn = fn;
    pool.arg = arg;
    pool.ranges = wanted + 1;
    for (int r = 0; r < pool.ranges; r++) {
        atomic_store(&pool.next[r].i, (int)((long)n * r / pool.ranges));
        pool.end[r] = (int)((long)n * (r + 1) / pool.ranges);
    }
    const unsigned generation = generation_of(atomic_load(&pool.job)) + 1u;
    atomic_store(&pool.job, (unsigned long long)generation << 32 | (unsigned)wanted);
    wake_sleepers(0);

    run_items(0);   /* the calling thread works too */
    for (int s = 0; atomic_load(&pool.done) < wanted && s < SPIN_ROUNDS; s++) spin_once(s);
    if (atomic_load(&pool.done) < wanted) {
        atomic_store(&pool.caller_sleeps, 1);
        pthread_mutex_lock(&pool.mu);
        while (atomic_load(&pool.done) < wanted) pthread_cond_wait(&pool.finished, &pool.mu);
        pthread_mutex_unlock(&pool.mu);
        atomic_store(&pool.caller_sleeps, 0);
    }
    pthread_mutex_unlock(&g_caller);
}

void rnn_parallel_wake(void) {
    if (rnn_get_threads() <= 1 || pthread_mutex_trylock(&g_caller) != 0) return; /* (a job running: awake) */
    wake_sleepers(1);
    pthread_mutex_unlock(&g_caller);
}

static void nothing(void *arg, int i) {
    (void)arg, (void)i;
}

void rnn_parallel_start(void) {
    const int threads = rnn_get_threads();
    rnn_parallel_for(threads, nothing, NULL);
}
