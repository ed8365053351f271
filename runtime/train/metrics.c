/*
 * metrics.c — the metrics Keras accumulates over an epoch rather than averaging per
 * batch: AUC, precision and recall (docs/keras-semantics.md, AUC, precision and recall).
 *
 * Every prediction is one element: a binary output, each of a multi-label output's, or
 * each class of a one-hot label (Keras flattens them, multi_label=False). A label counts
 * as positive when it is not 0 (Keras casts y_true to bool).
 *   precision, recall: thresholds 0.5, a prediction is positive when p > 0.5;
 *     tp / (tp + fp) and tp / (tp + fn), 0 when the denominator is 0 (divide_no_nan).
 *   AUC: Keras's defaults, ROC curve, 200 thresholds (-eps, 1/199, ..., 198/199, 1 + eps),
 *     interpolation (the trapezoidal rule). As Keras's optimized update does, a
 *     prediction p falls in bucket max(ceil(p * 199) - 1, 0), computed in float32, and
 *     the counts at threshold i are those of the buckets >= i.
 * Counts are kept in double (Keras: float32 variables, exact to 2^24 elements).
 */
#include "train/trainer.h"

#include <math.h>
#include <string.h>

void rnn_metrics_reset(rnn_metric_state *s, int which) {
    memset(s, 0, sizeof *s);
    s->which = which;
}

/* One prediction p against a label that is positive or not. */
static void count(rnn_metric_state *s, float p, int pos) {
    int bucket = (int)ceilf(p * (float)(RNN_AUC_THRESHOLDS - 1)) - 1;
    if (bucket < 0) bucket = 0;
    if (bucket > RNN_AUC_THRESHOLDS - 1) bucket = RNN_AUC_THRESHOLDS - 1;
    if (pos) s->pos_bucket[bucket] += 1, s->positives += 1;
    else s->neg_bucket[bucket] += 1, s->negatives += 1;
    const int pred = p > 0.5f;
    s->tp += pos && pred;
    s->fp += !pos && pred;
    s->fn += pos && !pred;
}

void rnn_metrics_add(rnn_metric_state *s, const rnn_real *probs, const rnn_real *labels, size_t n) {
    for (size_t i = 0; s->which && i < n; i++) count(s, (float)probs[i], labels[i] != 0);
}

void rnn_metrics_add_data(rnn_metric_state *s, const rnn_real *probs, const rnn_data *d) {
    const size_t n = d->y ? d->n * (size_t)(d->label_width > 0 ? d->label_width : 1) : 0;
    for (size_t i = 0; s->which && i < n; i++) count(s, (float)probs[i], d->y[i] != 0);
}

static double div_no_nan(double a, double b) { return b == 0 ? 0.0 : a / b; }

double rnn_metrics_auc(const rnn_metric_state *s) {
    if (!(s->which & RNN_METRIC_AUC)) return NAN;
    /* from the last threshold down: tp and fp of threshold i are the buckets >= i */
    double tp = 0, fp = 0, area = 0;
    double recall_next = 0, fpr_next = 0;   /* of threshold i + 1 */
    for (int i = RNN_AUC_THRESHOLDS - 1; i >= 0; i--) {
        tp += s->pos_bucket[i];
        fp += s->neg_bucket[i];
        const double recall = div_no_nan(tp, s->positives), fpr = div_no_nan(fp, s->negatives);
        if (i < RNN_AUC_THRESHOLDS - 1) area += (fpr - fpr_next) * (recall + recall_next) / 2;
        recall_next = recall;
        fpr_next = fpr;
    }
    return area;
}

double rnn_metrics_precision(const rnn_metric_state *s) {
    return s->which & RNN_METRIC_PRECISION ? div_no_nan(s->tp, s->tp + s->fp) : NAN;
}

double rnn_metrics_recall(const rnn_metric_state *s) {
    return s->which & RNN_METRIC_RECALL ? div_no_nan(s->tp, s->tp + s->fn) : NAN;
}
