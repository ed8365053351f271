/*
 * schedule.c — the learning rate of each optimizer step: the constant learning_rate, or
 * a Keras learning-rate schedule of the step count (keras/optimizers/schedules/
 * learning_rate_schedule.py; docs/keras-semantics.md, Learning-rate schedules).
 *
 * Keras 2.11+ evaluates the schedule at optimizer.iterations before the update
 * (_BaseOptimizer.apply_gradients), so step s (1-based) takes schedule(s - 1). The
 * arithmetic is in double; Keras's is float32, an agreement to float32 rounding.
 */
#include "rnnrt.h"

#include <math.h>

#define PI 3.14159265358979323846   /* Python's math.pi */

double rnn_schedule_rate(const rnn_lr_schedule *s, double lr, double iterations) {
    const double p = iterations / s->decay_steps;
    switch (s->kind) {
    case RNN_SCHEDULE_EXPONENTIAL_DECAY:   /* ExponentialDecay.__call__ */
        return s->initial_learning_rate * pow(s->decay_rate, s->staircase ? floor(p) : p);
    case RNN_SCHEDULE_INVERSE_TIME_DECAY:   /* InverseTimeDecay.__call__ */
        return s->initial_learning_rate / (1.0 + s->decay_rate * (s->staircase ? floor(p) : p));
    case RNN_SCHEDULE_PIECEWISE_CONSTANT_DECAY: {   /* PiecewiseConstantDecay.__call__ */
        int i = 0;
        while (i < s->n_boundaries && iterations > s->boundaries[i]) i++;
        return s->values[i];
    }
    case RNN_SCHEDULE_COSINE_DECAY: {   /* CosineDecay.__call__ (the step capped at decay_steps) */
        const double done = fmin(iterations, s->decay_steps) / s->decay_steps;
        const double cosine = 0.5 * (1.0 + cos(PI * done));
        return s->initial_learning_rate * ((1.0 - s->alpha) * cosine + s->alpha);
    }
    default: return lr;
    }
}

double rnn_learning_rate(const rnn_optimizer *o, int64_t step) {
    return rnn_schedule_rate(&o->schedule, o->learning_rate, (double)(step - 1));
}
