/*
 * test_metrics.c — AUC, precision and recall as Keras accumulates them over an epoch
 * (train/metrics.c), against values worked out by hand and against an independent
 * implementation here: the ROC curve at Keras's 200 thresholds by brute force (a
 * prediction counts as positive above a threshold), summed by the trapezoidal rule.
 */
#include "train/trainer.h"

#include <criterion/criterion.h>
#include <math.h>

static rnn_metric_state all_metrics(void) {
    rnn_metric_state s;
    rnn_metrics_reset(&s, RNN_METRIC_AUC | RNN_METRIC_PRECISION | RNN_METRIC_RECALL);
    return s;
}

/* sklearn's roc_auc_score of this case is 0.75, and 200 thresholds pass between every
 * pair of distinct predictions, so the trapezoids give it exactly. */
Test(metrics, auc_of_a_small_case) {
    const rnn_real p[4] = {0.1f, 0.4f, 0.35f, 0.8f}, y[4] = {0, 0, 1, 1};
    rnn_metric_state s = all_metrics();
    rnn_metrics_add(&s, p, y, 4);
    cr_expect_float_eq(rnn_metrics_auc(&s), 0.75, 1e-12);
    /* above 0.5: only 0.8 (a positive): precision 1/1, recall 1/2 */
    cr_expect_eq(rnn_metrics_precision(&s), 1.0);
    cr_expect_eq(rnn_metrics_recall(&s), 0.5);
}

Test(metrics, counted_in_any_batches) {
    const rnn_real p[6] = {0.9f, 0.2f, 0.6f, 0.7f, 0.3f, 0.55f}, y[6] = {1, 0, 0, 1, 1, 0};
    rnn_metric_state a = all_metrics(), b = all_metrics();
    rnn_metrics_add(&a, p, y, 6);
    rnn_metrics_add(&b, p, y, 2);
    rnn_metrics_add(&b, p + 2, y + 2, 4);
    cr_expect_eq(rnn_metrics_auc(&a), rnn_metrics_auc(&b));
    cr_expect_eq(rnn_metrics_precision(&a), rnn_metrics_precision(&b));
    /* p > 0.5: 0.9 (1), 0.6 (0), 0.7 (1), 0.55 (0): precision 2/4; positives 0.9, 0.7, 0.3: recall 2/3 */
    cr_expect_float_eq(rnn_metrics_precision(&a), 0.5, 1e-15);
    cr_expect_float_eq(rnn_metrics_recall(&a), 2.0 / 3, 1e-15);
}

/* Keras's divide_no_nan: nothing predicted positive is precision 0; no positive label,
 * recall 0 and the AUC of a single class 0. A label that is not 0 is positive (Keras
 * casts y_true to bool). */
Test(metrics, empty_classes_and_soft_labels) {
    const rnn_real p[3] = {0.1f, 0.2f, 0.3f}, y0[3] = {0, 0, 0}, ysoft[3] = {0.25f, 0, 1};
    rnn_metric_state s = all_metrics();
    rnn_metrics_add(&s, p, y0, 3);
    cr_expect_eq(rnn_metrics_precision(&s), 0.0);
    cr_expect_eq(rnn_metrics_recall(&s), 0.0);
    cr_expect_eq(rnn_metrics_auc(&s), 0.0);
    rnn_metrics_reset(&s, RNN_METRIC_RECALL);
    rnn_metrics_add(&s, p, ysoft, 3);
    cr_expect_eq(rnn_metrics_recall(&s), 0.0, "two positives, none above 0.5");
    cr_expect(isnan(rnn_metrics_auc(&s)), "not measured: NaN");
}

/* The ROC AUC at the thresholds -eps, 1/199, ..., 198/199, 1 + eps, by brute force. */
static double brute_auc(const double *p, const int *y, int n) {
    enum { T = 200 };
    double tpr[T], fpr[T], pos = 0, neg = 0;
    for (int i = 0; i < n; i++) pos += y[i], neg += !y[i];
    for (int k = 0; k < T; k++) {
        const double t = k == 0 ? -1e-7 : k == T - 1 ? 1 + 1e-7 : (double)k / (T - 1);
        double tp = 0, fp = 0;
        for (int i = 0; i < n; i++)
            if (p[i] > t) tp += y[i], fp += !y[i];
        tpr[k] = pos ? tp / pos : 0;
        fpr[k] = neg ? fp / neg : 0;
    }
    double area = 0;
    for (int k = 0; k + 1 < T; k++) area += (fpr[k] - fpr[k + 1]) * (tpr[k] + tpr[k + 1]) / 2;
    return area;
}

Test(metrics, auc_matches_the_thresholds_by_brute_force) {
    enum { N = 997 };
    static double pd[N];
    static int yi[N];
    static rnn_real p[N], y[N];
    uint32_t x = 12345;
    for (int i = 0; i < N; i++) {   /* predictions that lean towards their label */
        x = x * 1103515245u + 12345u;
        yi[i] = (x >> 16) & 1;
        x = x * 1103515245u + 12345u;
        float u = (float)((x >> 8) & 0xffff) / 65536.0f;
        p[i] = yi[i] ? 0.3f + 0.7f * u : 0.7f * u;
        y[i] = (rnn_real)yi[i];
        pd[i] = (double)p[i];
    }
    rnn_metric_state s = all_metrics();
    rnn_metrics_add(&s, p, y, N);
    const double want = brute_auc(pd, yi, N);
    cr_expect_float_eq(rnn_metrics_auc(&s), want, 1e-12, "got %.15g want %.15g", rnn_metrics_auc(&s), want);
    cr_expect(want > 0.7 && want < 0.99, "a case between chance and perfect (%g)", want);
}
