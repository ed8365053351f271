/*
 * parallel.c — rnn_parallel_for, the one parallel construct the runtime offers
 * generated code, over the lane blocks of a batch.
 *
 * Each thread runs its own contiguous range of items first (the caller range 0), then
 * takes what is left of the others' from atomic counters: when all keep up, a block's
 * backward runs on the core that ran its forward, its state still in cache, and the
 * work still balances when one falls behind. Callers keep the result independent of
 * the schedule (each block writes only its own buffers; sums over blocks are taken
 * afterwards in block order): the weights are the same bits whatever the thread count.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* pthread_attr_setaffinity_np, sched_getcpu, CPU_SET */
#endif
#include "rnnrt.h"
#include "core/atomic_file.h"
#include "core/fpenv.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
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
/* Workers start on first use and then wait for work: a batch takes a few hundred
 * microseconds, too short to create threads twice per batch. A waiting thread (a worker
 * between jobs, the caller for the last worker) spins for SPIN_ROUNDS, about 1-2 ms,
 * before it sleeps: between two calls the caller does the serial part of a step, and a
 * sleep costs a wake-up every time. A spinner yields its CPU every YIELD_EVERY rounds
 * (sched_yield returns at once on a CPU of its own): when more threads want to run than
 * there are CPUs (two trainers at once, a build beside one), a spinner that kept its CPU
 * to the end of its time slice made every hand-off cost milliseconds. Workers live until
 * the process exits (they hold no resources a caller could miss). */
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

/* The current job. Posting it takes no lock: the caller writes the job's fields, then
 * stores its generation and the number of workers it wants (by index) in one atomic
 * word, `job`; a spinning worker that sees a new generation reads the rest (the atomic
 * store and load order the plain fields). One word, because a worker that sat out the
 * previous job may look only now, and with two variables it could pair the old
 * generation with the next job's `wanted` and run that job twice; a worker that took
 * part cannot lag so (the caller waits for it). The mutex and condition variables serve
 * only a thread going to sleep, which announces itself first (`sleepers`,
 * `caller_sleeps`): each side writes its own variable, then reads the other's (seq_cst
 * atomics), so at least one sees the other's write and no wake-up is lost. */
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

/* Where a worker starts. Linux tends to start a new thread on its creator's CPU, and a
 * spinning pair that yields shares it politely enough that the scheduler is slow to
 * move one away. So a worker starts on another CPU than the caller's
 * (pthread_attr_setaffinity_np) and, once running, widens its affinity back to the
 * caller's set: a hint where to start, not pinning. */
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
 * turns until the load balancer moves one away, tens of milliseconds later. So a worker
 * that finds itself there moves to its own CPU, as at its start, and widens its
 * affinity again: a hint, not pinning. */
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

/* Start worker `index` on worker_cpu (see "Where a worker starts"). */
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
    /* Signals to stop the process go to the threads that handle them or block them
     * while they write a file (core/atomic_file.c), never to a worker. */
    sigset_t stop;
    rnn_stop_signals(&stop);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    widen_affinity();
    for (;;) {
        const unsigned long long j = wait_for_job(index, seen);
        const int wanted = (int)(j & 0xffffffffu);
        seen = generation_of(j);
        if (index >= wanted) continue;
        rnn_fpenv_apply();   /* the caller's floating-point mode (core/fpenv.c) */
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
 * rnn_parallel_wake: a caller about to do serial work before a job, such as the
 * trainer before an epoch's shuffle, lets the workers' wake-up overlap it): wake the
 * workers that sleep, telling them this CPU (leave_waker_cpu). */
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
    const int threads = rnn_get_threads();   /* (rnn_parallel_for uses at most MAX_WORKERS + 1) */
    rnn_parallel_for(threads < MAX_WORKERS + 1 ? threads : MAX_WORKERS + 1, nothing, NULL);
}
