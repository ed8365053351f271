/*
 * handoff.c — what one rnn_parallel_for of empty jobs costs on two threads: the hand-off
 * between the caller and the worker (post the job, both run their empty items, the
 * caller sees the worker done). bench.py runs it between repetitions: on a shared VM
 * the cost varies, and two-thread epochs are slow when it is high (bench/README.md).
 *
 *     clang -std=c17 -O2 -Ibuild/include bench/handoff.c build/librnnrt.a -lpthread -lm -o build/bench/handoff
 *     build/bench/handoff
 * Output: one line of JSON, {"us_per_job": median, "min": ..., "max": ..., "runs": 15},
 * each run 20000 jobs of 4 empty items after 2000 untimed ones.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rnnrt.h"

#define RUNS 15
#define JOBS 20000

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void nothing(void *arg, int i) {
    (void)arg;
    (void)i;
}

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void) {
    rnn_set_threads(2);
    for (int k = 0; k < 2000; k++) rnn_parallel_for(4, nothing, NULL);
    double us[RUNS];
    for (int r = 0; r < RUNS; r++) {
        const double t0 = now();
        for (int k = 0; k < JOBS; k++) rnn_parallel_for(4, nothing, NULL);
        us[r] = (now() - t0) / JOBS * 1e6;
    }
    qsort(us, RUNS, sizeof *us, by_value);
    printf("{\"us_per_job\": %.3f, \"min\": %.3f, \"max\": %.3f, \"runs\": %d}\n", us[RUNS / 2], us[0], us[RUNS - 1],
           RUNS);
    return 0;
}
