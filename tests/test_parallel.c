/*
 * test_parallel.c — rnn_parallel_for (runtime/core/parallel.c): every item runs exactly
 * once, whatever the thread count and the number of items (fewer items than threads,
 * ranges of unequal length, none), also when one thread's own range is slow and the
 * others must take its items; and the thread count only changes who runs an item.
 */
#include <criterion/criterion.h>

#include <stdatomic.h>
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
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    expect_each_once(2, 40, 20);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    /* 20 slow items of 200 us: 4 ms on one thread, about 2 ms shared (logged, not
     * asserted: the machines are shared) */
    cr_log_info("parallel: 20 slow items on 2 threads took %.2f ms", s * 1e3);
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
