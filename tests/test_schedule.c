/*
 * test_schedule.c — learning-rate schedules: each of Keras's formulas, written out here
 * by hand at chosen steps, and the rate that both ways of taking an optimizer step use
 * (rnn_optimizer_step and the piece-by-piece rnn_update, zero rows included): the
 * schedule at the step count before the step, the same bits either way.
 */
#include "models.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static rnn_optimizer with_schedule(rnn_optimizer_kind kind, rnn_lr_schedule s) {
    rnn_optimizer o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.learning_rate = 123;   /* never used with a schedule */
    o.rho = 0.9;
    o.epsilon = 1e-7;
    o.beta_1 = 0.9;
    o.beta_2 = 0.999;
    o.momentum = 0.5;
    o.schedule = s;
    return o;
}

/* rnn_learning_rate of step `step` (from 1) is the schedule after step - 1 steps. */
static double rate_at(const rnn_lr_schedule *s, int64_t step) {
    rnn_optimizer o = with_schedule(RNN_OPT_SGD, *s);
    return rnn_learning_rate(&o, step);
}

Test(schedule, exponential_decay) {
    rnn_lr_schedule s = {.kind = RNN_SCHEDULE_EXPONENTIAL_DECAY, .initial_learning_rate = 0.1, .decay_steps = 4,
                         .decay_rate = 0.5};
    cr_expect_eq(rate_at(&s, 1), 0.1, "the first step takes the initial rate");
    cr_expect_float_eq(rate_at(&s, 3), 0.1 * pow(0.5, 2.0 / 4), 1e-15);   /* 2 steps done */
    cr_expect_float_eq(rate_at(&s, 9), 0.1 * 0.25, 1e-15);
    s.staircase = 1;
    cr_expect_eq(rate_at(&s, 4), 0.1, "staircase: floor(3 / 4) = 0");
    cr_expect_float_eq(rate_at(&s, 5), 0.05, 1e-15);
    cr_expect_float_eq(rate_at(&s, 12), 0.025, 1e-15);   /* floor(11 / 4) = 2 */
}

Test(schedule, inverse_time_decay) {
    rnn_lr_schedule s = {.kind = RNN_SCHEDULE_INVERSE_TIME_DECAY, .initial_learning_rate = 0.3, .decay_steps = 2,
                         .decay_rate = 0.5};
    cr_expect_eq(rate_at(&s, 1), 0.3);
    cr_expect_float_eq(rate_at(&s, 4), 0.3 / (1 + 0.5 * 1.5), 1e-15);
    s.staircase = 1;
    cr_expect_float_eq(rate_at(&s, 4), 0.3 / 1.5, 1e-15);   /* floor(3 / 2) = 1 */
}

/* values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <=
 * boundaries[i], the last value after them (the boundaries are inclusive). */
Test(schedule, piecewise_constant_decay) {
    rnn_lr_schedule s = {.kind = RNN_SCHEDULE_PIECEWISE_CONSTANT_DECAY, .n_boundaries = 2, .boundaries = {2, 5},
                         .values = {1.0, 0.5, 0.1}};
    const double want[9] = {1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.1, 0.1, 0.1};   /* after 0..8 steps */
    for (int it = 0; it < 9; it++) cr_expect_eq(rate_at(&s, it + 1), want[it], "after %d steps", it);
}

Test(schedule, cosine_decay_holds_its_floor) {
    rnn_lr_schedule s = {.kind = RNN_SCHEDULE_COSINE_DECAY, .initial_learning_rate = 0.2, .decay_steps = 10,
                         .alpha = 0.25};
    cr_expect_eq(rate_at(&s, 1), 0.2);
    cr_expect_float_eq(rate_at(&s, 6), 0.2 * (0.75 * 0.5 + 0.25), 1e-15);   /* half way: cos = 0 */
    cr_expect_float_eq(rate_at(&s, 11), 0.2 * 0.25, 1e-15);
    cr_expect_float_eq(rate_at(&s, 1000), 0.2 * 0.25, 1e-15, "after decay_steps the rate stays at alpha");
}

Test(schedule, none_is_the_constant_rate) {
    rnn_optimizer o = with_schedule(RNN_OPT_SGD, (rnn_lr_schedule){.kind = RNN_SCHEDULE_NONE});
    cr_expect_eq(rnn_learning_rate(&o, 1), 123);
    cr_expect_eq(rnn_learning_rate(&o, 1000000), 123);
}

/* ---- both ways of stepping take the step's rate ------------------------------------ */

static void small(rnn_model *m) {
    rnn_model_init(m, "sched", "test_schedule.c");
    add_embedding(m, 6, 3, 4);
    add_layer(m, RNN_LAYER_LSTM, 2);
    add_layer(m, RNN_LAYER_DENSE, 1)->activation = RNN_ACT_SIGMOID;
    layout(m);
}

static void fill(rnn_real *v, const rnn_model *m, int salt) {
    for (int k = 0; k < m->n_tensors; k++)
        for (size_t i = 0; i < m->tensors[k].size; i++)
            v[m->tensors[k].offset + i] = (rnn_real)(0.3 * sin(0.7 * (double)(i + 1) * (k + 1) + salt));
}

/* Steps 1..4 of each optimizer under a schedule: rnn_optimizer_step on one copy,
 * rnn_update piece by piece (the embedding's rows with a zero gradient through
 * rnn_update_apply_zero, as generated trainers step them) on the other: the same bits;
 * and different from the same steps at the initial rate, so the schedule acted. */
Test(schedule, step_and_pieces_take_the_same_rate) {
    static rnn_model m;
    small(&m);
    const rnn_lr_schedule s = {.kind = RNN_SCHEDULE_EXPONENTIAL_DECAY, .initial_learning_rate = 0.05, .decay_steps = 1,
                               .decay_rate = 0.5};
    const rnn_optimizer_kind kinds[3] = {RNN_OPT_RMSPROP, RNN_OPT_ADAM, RNN_OPT_SGD};
    const size_t P = m.param_buffer_len, E0 = m.tensors[0].offset, E1 = E0 + m.tensors[0].size;
    for (int q = 0; q < 3; q++) {
        rnn_optimizer o = with_schedule(kinds[q], s), flat = o;
        flat.schedule.kind = RNN_SCHEDULE_NONE;
        flat.learning_rate = s.initial_learning_rate;
        const size_t S = (size_t)rnn_optimizer_slots(&o) * P + 1;
        rnn_real *wa = calloc(P, sizeof *wa), *wb = calloc(P, sizeof *wb), *wc = calloc(P, sizeof *wc);
        rnn_real *ga = calloc(P, sizeof *ga), *gb = calloc(P, sizeof *gb), *gc = calloc(P, sizeof *gc);
        rnn_real *sa = calloc(S, sizeof *sa), *sb = calloc(S, sizeof *sb), *sc = calloc(S, sizeof *sc);
        cr_assert(wa && wb && wc && ga && gb && gc && sa && sb && sc);
        fill(wa, &m, 1);
        memcpy(wb, wa, P * sizeof *wa);
        memcpy(wc, wa, P * sizeof *wa);
        for (int step = 1; step <= 4; step++) {
            fill(ga, &m, 10 + step);
            for (size_t i = E0; i < E0 + 6; i++) ga[i] = 0;   /* the first two rows: not looked up */
            memcpy(gb, ga, P * sizeof *ga);
            memcpy(gc, ga, P * sizeof *ga);
            rnn_optimizer_step(&m, &o, wa, ga, sa, step);
            rnn_update u;
            cr_assert(rnn_update_begin(&u, &m, &o, wb, gb, sb, step));
            rnn_update_apply_zero(&u, E0, E0 + 6);
            rnn_update_apply(&u, E0 + 6, E1);
            rnn_update_apply(&u, E1, P);
            cr_assert(rnn_update_ok(&u));
            rnn_optimizer_step(&m, &flat, wc, gc, sc, step);
        }
        cr_expect_eq(memcmp(wa, wb, P * sizeof *wa), 0, "%s: the pieces' weights differ from the step's",
                     rnn_optimizer_name(kinds[q]));
        cr_expect_eq(memcmp(sa, sb, S * sizeof *sa), 0, "%s: the pieces' state differs", rnn_optimizer_name(kinds[q]));
        cr_expect_neq(memcmp(wa, wc, P * sizeof *wa), 0, "%s: the schedule changed nothing", rnn_optimizer_name(kinds[q]));
        free(wa), free(wb), free(wc), free(ga), free(gb), free(gc), free(sa), free(sb), free(sc);
    }
}

/* SGD's step at steps 1 and 3 moves a weight by exactly the scheduled rate times g. */
Test(schedule, sgd_moves_by_the_scheduled_rate) {
    static rnn_model m;
    small(&m);
    rnn_optimizer o = with_schedule(RNN_OPT_SGD, (rnn_lr_schedule){.kind = RNN_SCHEDULE_PIECEWISE_CONSTANT_DECAY,
                                                                   .n_boundaries = 1, .boundaries = {1},
                                                                   .values = {0.5, 0.25}});
    o.momentum = 0;
    const size_t P = m.param_buffer_len, k = m.tensors[m.n_tensors - 1].offset;   /* dense/bias */
    rnn_real *w = calloc(P, sizeof *w), *g = calloc(P, sizeof *g);
    cr_assert(w && g);
    for (int step = 1; step <= 3; step++) {
        memset(g, 0, P * sizeof *g);
        g[k] = 1;
        rnn_optimizer_step(&m, &o, w, g, NULL, step);
    }
    /* steps 1 and 2 (after 0 and 1 steps: <= 1) at 0.5, step 3 at 0.25 */
    cr_expect_float_eq((double)w[k], -1.25, 1e-7);
    free(w), free(g);
}
