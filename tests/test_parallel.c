/*
 * test_parallel.c — rnn_parallel_for (runtime/core/parallel.c): every item runs exactly
 * once, whatever the thread count and the number of items (fewer items than threads,
 * ranges of unequal length, none), also when one thread's own range is slow and the
 * others must take its items; and the thread count only changes who runs an item.
 * The hand-off between jobs: thousands of back-to-back jobs with changing thread and
 * item counts (a worker that read one job's `wanted` with another's generation would
 * run or count a job twice), workers started while jobs run, workers and caller that
 * went to sleep and must be woken, and every thread on one CPU, where a spinning
 * thread must give the CPU up. rnn_parallel_start creates the workers at once;
 * rnn_parallel_wake wakes sleeping ones without a job.
 */
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#include <criterion/criterion.h>

#include <dirent.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rnnrt.h"

#define MAX_ITEMS 300

typedef struct {
    atomic_int runs[MAX_ITEMS];
    int slow_below;   /* items below this sleep 200 us: the caller's own range is slow */
} job;

static void count_item(void *arg, int i) {
    job *j = arg;
    if (i < j->slow_below) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    atomic_fetch_add(&j->runs[i], 1);
}

static void expect_each_once(int threads, int n, int slow_below) {
    static job j;
    for (int i = 0; i < MAX_ITEMS; i++) atomic_store(&j.runs[i], 0);
    j.slow_below = slow_below;
    rnn_set_threads(threads);
    rnn_parallel_for(n, count_item, &j);
    for (int i = 0; i < MAX_ITEMS; i++)
        cr_expect_eq(atomic_load(&j.runs[i]), i < n ? 1 : 0, "threads %d, n %d: item %d ran %d times", threads, n, i,
                     atomic_load(&j.runs[i]));
}

/* One job of n items on `threads` threads: the first item that did not run exactly
 * once, or -1 (for the tests that run thousands of jobs and stop at the first fault). */
static int wrong_item(job *j, int threads, int n) {
    for (int i = 0; i < n; i++) atomic_store(&j->runs[i], 0);
    j->slow_below = 0;
    rnn_set_threads(threads);
    rnn_parallel_for(n, count_item, j);
    for (int i = 0; i < n; i++)
        if (atomic_load(&j->runs[i]) != 1) return i;
    return -1;
}

static double seconds_since(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

Test(parallel, every_item_exactly_once) {
    const int threads[] = {1, 2, 3, 4, 8};
    const int counts[] = {0, 1, 2, 3, 4, 5, 7, 16, 17, 100, 257};
    for (size_t a = 0; a < sizeof threads / sizeof *threads; a++)
        for (size_t b = 0; b < sizeof counts / sizeof *counts; b++) expect_each_once(threads[a], counts[b], 0);
    rnn_set_threads(0);
}

Test(parallel, a_slow_range_is_shared) {
    /* The caller's own range (the first items) is slow: the workers finish theirs and
     * take from it; still each item exactly once. */
    rnn_set_threads(2);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    expect_each_once(2, 40, 20);
    /* 20 slow items of 200 us: 4 ms on one thread, about 2 ms shared (logged, not
     * asserted: the machines are shared) */
    cr_log_info("parallel: 20 slow items on 2 threads took %.2f ms", seconds_since(&t0) * 1e3);
    expect_each_once(3, 10, 10);
    expect_each_once(4, 9, 3);
    rnn_set_threads(0);
}

static void write_square(void *arg, int i) { ((long *)arg)[i] = (long)i * i; }

Test(parallel, results_do_not_depend_on_the_thread_count) {
    long one[MAX_ITEMS], many[MAX_ITEMS];
    rnn_set_threads(1);
    rnn_parallel_for(MAX_ITEMS, write_square, one);
    for (int t = 2; t <= 5; t++) {
        for (int i = 0; i < MAX_ITEMS; i++) many[i] = -1;
        rnn_set_threads(t);
        rnn_parallel_for(MAX_ITEMS, write_square, many);
        cr_expect_arr_eq(one, many, sizeof one, "threads %d", t);
    }
    rnn_set_threads(0);
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

Test(parallel, back_to_back_jobs) {
    /* 3000 jobs, each checked: thread counts 2..5 and item counts 0..12 in a pattern
     * that changes who takes part from one job to the next */
    static job j;
    for (int k = 0; k < 3000; k++) {
        const int threads = 2 + k % 4, n = (k * 7) % 13, i = wrong_item(&j, threads, n);
        if (i >= 0)
            cr_assert_fail("job %d (threads %d, n %d): item %d ran %d times", k, threads, n, i, atomic_load(&j.runs[i]));
    }
    rnn_set_threads(0);
}

Test(parallel, workers_started_while_jobs_run) {
    /* Workers start when a job first asks for more threads, while the job is being
     * posted; a new worker must take no part in anything posted before it. The race
     * is a matter of timing, so many fresh processes (a pool's workers live as long as
     * its process), each ramping 2 to 8 threads over back-to-back jobs. (With the
     * generation and `wanted` in separate variables and a delay put before the
     * generation's store, 5-15 of 300 such processes ran an item twice or not at all.) */
    int bad = 0;
    for (int p = 0; p < 150; p++) {
        const pid_t pid = fork();
        cr_assert_geq(pid, 0, "fork");
        if (pid == 0) {
            static job j;
            for (int k = 0; k < 28; k++)
                if (wrong_item(&j, 2 + k % 7, 3 + (k * 5) % 13) >= 0) _exit(1);
            _exit(0);
        }
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        bad += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    cr_expect_eq(bad, 0, "%d of 150 processes ran an item other than once", bad);
}

static void slow_worker_item(void *arg, int i) {
    /* item 0 is the caller's, item 1 the worker's: the worker has taken its item by the
     * time the caller is done with its own, and the caller then waits past its spin */
    sleep_ms(i == 0 ? 5 : 60);
    count_item(arg, i);
}

Test(parallel, sleeping_threads_are_woken) {
    static job j;
    rnn_set_threads(2);
    expect_each_once(2, 8, 0);
    sleep_ms(50); /* the worker spins about 2-5 ms, then sleeps: this job must wake it */
    expect_each_once(2, 8, 0);
    for (int i = 0; i < MAX_ITEMS; i++) atomic_store(&j.runs[i], 0);
    rnn_parallel_for(2, slow_worker_item, &j); /* the caller sleeps; the worker wakes it */
    cr_expect_eq(atomic_load(&j.runs[0]), 1);
    cr_expect_eq(atomic_load(&j.runs[1]), 1);
    expect_each_once(2, 8, 0);
    rnn_set_threads(0);
}

Test(parallel, all_threads_on_one_cpu) {
    /* More threads than CPUs (another program busy, two trainers at once): the workers
     * started from here inherit the one-CPU mask. A spinner that kept the CPU made every
     * hand-off wait for the end of a time slice (seconds for these 2000 jobs); the time
     * is logged, what is asserted is that every item ran once. */
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
    cr_assert_eq(sched_setaffinity(0, sizeof one, &one), 0);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    static job j;
    for (int k = 0; k < 2000; k++) {
        const int i = wrong_item(&j, 2, 4);
        if (i >= 0) cr_assert_fail("job %d: item %d ran %d times", k, i, atomic_load(&j.runs[i]));
    }
    cr_log_info("parallel: 2000 jobs of 2 threads on one CPU took %.1f ms", 1e3 * seconds_since(&t0));
    rnn_set_threads(0);
}

/* The process's thread count, from /proc/self/status (-1 if it cannot be read). */
static int threads_now(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    int n = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Threads:", 8)) n = atoi(line + 8);
    fclose(f);
    return n;
}

/* rnn_parallel_start creates the workers of rnn_get_threads() (one thread fewer: the
 * caller works too), and later jobs start none. (Each criterion test is a fresh process.) */
Test(parallel, start_creates_the_workers) {
    const int before = threads_now();
    cr_assert_gt(before, 0, "no Threads: line in /proc/self/status");
    rnn_set_threads(3);
    rnn_parallel_start();
    cr_expect_eq(threads_now(), before + 2, "after rnn_parallel_start: %d threads, not %d", threads_now(), before + 2);
    static job j;
    cr_expect_eq(wrong_item(&j, 3, 30), -1);
    cr_expect_eq(threads_now(), before + 2, "a job after the start created threads: %d, not %d", threads_now(), before + 2);
}

/* The ids of this process's threads (at most max), from /proc/self/task; -1 if unreadable. */
static int thread_ids(int *ids, int max) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < max;)
        if (e->d_name[0] != '.') ids[n++] = atoi(e->d_name);
    closedir(d);
    return n;
}

/* Thread tid's state letter from /proc/self/task/TID/stat ('R' running or runnable,
 * 'S' asleep), or '?'. */
static char thread_state(int tid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    FILE *f = fopen(path, "r");
    if (!f) return '?';
    const size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* "tid (comm) S ..." */
    return p && p[1] == ' ' ? p[2] : '?';
}

/* Polls the workers' states for `ms` milliseconds: how many were seen running or
 * runnable at least once. */
static int workers_seen_running(const int *tids, int n, int ms) {
    int seen[8] = {0}, count = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (seconds_since(&t0) * 1e3 < ms && count < n)
        for (int k = 0; k < n; k++)
            if (!seen[k] && thread_state(tids[k]) == 'R') seen[k] = 1, count++;
    return count;
}

/* Waits up to ms milliseconds for every worker to be asleep at once; 1 if they were. */
static int workers_asleep_within(const int *tids, int n, int ms) {
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (seconds_since(&t0) * 1e3 < ms) {
        int asleep = 0;
        for (int k = 0; k < n; k++) asleep += thread_state(tids[k]) == 'S';
        if (asleep == n) return 1;
        sleep_ms(1);
    }
    return 0;
}

/* rnn_parallel_wake wakes the workers that sleep, without a job: they run (spin) for a
 * while, then sleep again; jobs posted around wakes still run every item once. */
Test(parallel, wake_gets_sleeping_workers_running) {
    int before[64], after[64], workers[8], nw = 0;
    const int nb = thread_ids(before, 64);
    cr_assert_gt(nb, 0, "cannot list /proc/self/task");
    rnn_set_threads(3);
    rnn_parallel_start();
    const int na = thread_ids(after, 64);
    for (int a = 0; a < na; a++) {
        int old = 0;
        for (int b = 0; b < nb; b++) old |= after[a] == before[b];
        if (!old && nw < 8) workers[nw++] = after[a];
    }
    cr_assert_eq(nw, 2, "rnn_parallel_start made %d threads, not 2", nw);
    /* a worker spins a few ms, then sleeps (longer when the CPUs are shared: it yields) */
    cr_assert(workers_asleep_within(workers, nw, 10000), "the workers did not go to sleep");
    cr_expect_eq(workers_seen_running(workers, nw, 30), 0, "workers ran with no job and no wake");
    rnn_parallel_wake();
    cr_expect_eq(workers_seen_running(workers, nw, 1000), 2, "not every worker ran after rnn_parallel_wake");
    cr_expect(workers_asleep_within(workers, nw, 10000), "woken workers did not go back to sleep");
    static job j;
    for (int k = 0; k < 300; k++) {
        if (k % 3 == 0) rnn_parallel_wake();
        if (k % 50 == 0) sleep_ms(10); /* asleep again now and then */
        const int i = wrong_item(&j, 1 + k % 3, 1 + k % 7);
        if (i >= 0) cr_assert_fail("job %d after wakes: item %d ran %d times", k, i, atomic_load(&j.runs[i]));
    }
    rnn_set_threads(1);
    rnn_parallel_wake(); /* one thread: nothing to wake */
    cr_expect_eq(wrong_item(&j, 1, 5), -1);
    rnn_set_threads(0);
}
