/*
 * history.c — the per-epoch training history as Keras's CSVLogger file and as an SVG
 * figure shaped like the notebook's two matplotlib panels (loss | accuracy).
 *
 * Both writers go through rnn_atomic_file so a reader (or a crash) never sees half a
 * file. Every number is formatted by hand from digits rather than with %f/%g alone:
 * printf honours LC_NUMERIC, and a host program that calls setlocale() would otherwise
 * get "0,5" inside a CSV or an SVG coordinate list.
 */
#include "train/history.h"

#include "core/errors.h"
#include "core/atomic_file.h"
#include "core/safetensors.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---------------------------------------------------------------- */

/* The caller must be able to tell which file failed, whatever wording the atomic-file
 * layer chose; prefix the path only when its message does not already carry it. */
static void name_path_in_err(const char *path, char *err, size_t errlen) {
    if (!err || errlen == 0 || strstr(err, path)) return;
    size_t head = strlen(path) < 200 ? strlen(path) : 200;    /* it may shorten long paths */
    if (strncmp(err, path, head) == 0) return;
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", err);
    rnn_fail(err, errlen, "%s: %s", path, tmp);
}

/* A FILE writer that remembers the first failure, so emitting code stays linear and
 * the check happens once before commit. */
typedef struct {
    FILE *f;
    int failed;
    int error;    /* errno of the first failure, for the message */
} writer;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static void out(writer *w, const char *fmt, ...) {
    if (w->failed) return;
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(w->f, fmt, ap) < 0) w->failed = 1, w->error = errno;
    va_end(ap);
}

static void out_str(writer *w, const char *s) {
    if (!w->failed && fputs(s, w->f) == EOF) w->failed = 1, w->error = errno;
}

static int finish(rnn_atomic_file *a, writer *w, const char *path, char *err, size_t errlen) {
    if (w->failed || ferror(a->f)) {
        int e = w->error ? w->error : EIO;
        rnn_atomic_abort(a);
        rnn_fail(err, errlen, "%s: cannot write: %s", path, strerror(e));
        return -1;
    }
    if (rnn_atomic_commit(a, err, errlen) != 0) {
        name_path_in_err(path, err, errlen);
        return -1;
    }
    return 0;
}

static int check_args(const char *path, const rnn_history_row *rows, int n, char *err,
                      size_t errlen) {
    if (!path || !*path) {
        rnn_fail(err, errlen, "history: no output path");
        return -1;
    }
    if (n < 0 || (n > 0 && !rows)) {
        rnn_fail(err, errlen, "%s: invalid history (%d rows)", path, n);
        return -1;
    }
    return 0;
}

/* ---- Python's repr(float) ------------------------------------------------------------
 * Keras writes Python floats, whose str() is the shortest decimal string that reads back
 * as the same double, in fixed notation for decimal exponents -4..15 and scientific
 * ("1e-05", "1e+16") outside that, always with a ".0" on whole numbers. */
static void py_repr(double v, char *buf, size_t cap) {
    if (isnan(v)) {
        snprintf(buf, cap, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, cap, v > 0 ? "inf" : "-inf");
        return;
    }
    if (v == 0) {
        snprintf(buf, cap, signbit(v) ? "-0.0" : "0.0");
        return;
    }
    char e[48];
    for (int p = 1; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, v);
        if (strtod(e, NULL) == v) break;    /* 17 significant digits always round-trip */
    }
    /* Take the digits and the exponent apart ourselves; the decimal point character
     * printf used is whatever the locale says, so it is skipped, not matched. */
    char dig[24];
    int nd = 0, neg = 0;
    const char *s = e;
    if (*s == '-') neg = 1, s++;
    for (; *s && *s != 'e' && *s != 'E'; s++)
        if (*s >= '0' && *s <= '9' && nd < 20) dig[nd++] = *s;
    int ex = (*s) ? atoi(s + 1) : 0;
    while (nd > 1 && dig[nd - 1] == '0') nd--;
    dig[nd] = 0;

    char o[64];
    size_t k = 0;
    if (neg) o[k++] = '-';
    if (ex < -4 || ex >= 16) {
        o[k++] = dig[0];
        if (nd > 1) {
            o[k++] = '.';
            for (int i = 1; i < nd; i++) o[k++] = dig[i];
        }
        o[k] = 0;
        snprintf(o + k, sizeof o - k, "e%c%02d", ex < 0 ? '-' : '+', ex < 0 ? -ex : ex);
    } else if (ex >= 0) {
        for (int i = 0; i <= ex; i++) o[k++] = i < nd ? dig[i] : '0';
        o[k++] = '.';
        if (nd > ex + 1)
            for (int i = ex + 1; i < nd; i++) o[k++] = dig[i];
        else
            o[k++] = '0';
        o[k] = 0;
    } else {
        o[k++] = '0';
        o[k++] = '.';
        for (int i = 0; i < -ex - 1; i++) o[k++] = '0';
        for (int i = 0; i < nd; i++) o[k++] = dig[i];
        o[k] = 0;
    }
    snprintf(buf, cap, "%s", o);
}

/* ---- CSV ------------------------------------------------------------------------------ */

enum { N_COLS = RNN_HISTORY_COLUMNS };
/* CSVLogger sorts the log keys, so this is the column order after "epoch". */
const char *const rnn_history_column_name[RNN_HISTORY_COLUMNS] = {
    "accuracy", "auc", "loss", "lr", "precision", "recall", "val_accuracy", "val_auc", "val_loss", "val_precision",
    "val_recall"};
#define col_name rnn_history_column_name

double rnn_history_value(const rnn_history_row *r, int c) {
    const double v[RNN_HISTORY_COLUMNS] = {r->accuracy, r->auc,          r->loss,    r->lr,
                                           r->precision, r->recall,       r->val_accuracy, r->val_auc,
                                           r->val_loss,  r->val_precision, r->val_recall};
    return c >= 0 && c < RNN_HISTORY_COLUMNS ? v[c] : NAN;
}
#define col_value rnn_history_value

rnn_history_row rnn_history_row_empty(int epoch) {
    rnn_history_row r = {epoch, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    return r;
}

int rnn_history_write_csv(const char *path, const rnn_history_row *rows, int n, char *err,
                          size_t errlen) {
    if (check_args(path, rows, n, err, errlen)) return -1;
    /* A column is written when at least one epoch measured it; an epoch that missed a
     * measured metric gets "nan", which is what Python's csv module prints for NaN. */
    int present[N_COLS] = {0};
    for (int i = 0; i < n; i++)
        for (int c = 0; c < N_COLS; c++)
            if (!isnan(col_value(&rows[i], c))) present[c] = 1;

    rnn_atomic_file a;
    if (rnn_atomic_open(&a, path, err, errlen) != 0) {
        name_path_in_err(path, err, errlen);
        return -1;
    }
    writer w = {a.f, 0, 0};
    /* csv.excel, the dialect CSVLogger builds on, ends records with "\r\n". */
    out_str(&w, "epoch");
    for (int c = 0; c < N_COLS; c++)
        if (present[c]) out(&w, ",%s", col_name[c]);
    out_str(&w, "\r\n");
    for (int i = 0; i < n; i++) {
        out(&w, "%d", rows[i].epoch);
        for (int c = 0; c < N_COLS; c++) {
            if (!present[c]) continue;
            char num[64];
            py_repr(col_value(&rows[i], c), num, sizeof num);
            out(&w, ",%s", num);
        }
        out_str(&w, "\r\n");
    }
    return finish(&a, &w, path, err, errlen);
}

/* ---- SVG: numbers ---------------------------------------------------------------------- */

/* A coordinate with two decimals (1/100 of a user unit is far below a pixel). */
static const char *coord(double x, char buf[32]) {
    long long c = llround(x * 100.0);
    const char *sign = c < 0 ? "-" : "";
    if (c < 0) c = -c;
    if (c % 100 == 0)
        snprintf(buf, 32, "%s%lld", sign, c / 100);
    else if (c % 10 == 0)
        snprintf(buf, 32, "%s%lld.%lld", sign, c / 100, (c % 100) / 10);
    else
        snprintf(buf, 32, "%s%lld.%02lld", sign, c / 100, c % 100);
    return buf;
}

/* Tick positions: multiples of step = mant * 10^pow10, mant in {1, 2, 5}. */
typedef struct {
    double lo, hi;    /* the axis limits (view) */
    int mant, pow10;
    long long first;  /* first tick = first * step */
    int count;
} axis;

static double pow10i(int p) { return pow(10.0, (double)p); }
static double tick_value(const axis *ax, int i) {
    /* (first + i) * mant first, in integers, so 3 * 0.1 is not 0.30000000000000004. */
    double units = (double)((ax->first + i) * ax->mant);
    return ax->pow10 >= 0 ? units * pow10i(ax->pow10) : units / pow10i(-ax->pow10);
}

/* Choose the smallest 1-2-5 step that puts at most max_ticks ticks inside [lo, hi];
 * min_step keeps integer axes (epochs) from getting fractional ticks. */
static void nice_ticks(axis *ax, double lo, double hi, int max_ticks, double min_step,
                       double first_at_least) {
    static const int mants[3] = {1, 2, 5};
    ax->lo = lo;
    ax->hi = hi;
    /* Halves keep the span finite even for limits near +-DBL_MAX. */
    double half_span = hi / 2 - lo / 2;
    int p = (int)floor(log10(2 * (half_span / max_ticks))) - 1;
    for (int tries = 0; tries < 60; tries++, p++) {
        for (int m = 0; m < 3; m++) {
            double step = mants[m] * pow10i(p);
            if (step < min_step) continue;
            double a = ceil(lo / step), b = floor(hi / step);
            if (first_at_least > lo) a = fmax(a, ceil(first_at_least / step));
            if (b - a + 1 <= max_ticks) {
                ax->mant = mants[m];
                ax->pow10 = p;
                ax->first = (long long)a;
                ax->count = b >= a ? (int)(b - a + 1) : 0;
                return;
            }
        }
    }
    ax->mant = 1, ax->pow10 = 0, ax->first = 0, ax->count = 0;    /* unreachable */
}

/* A tick label: exactly as many decimals as the step needs ("0.50", "0.55"; "10").
 * Built from the integer multiple so it is exact and locale-free. */
static void tick_label(const axis *ax, int i, char *buf, size_t cap) {
    long long units = (ax->first + i) * ax->mant;
    int dec = ax->pow10 < 0 ? -ax->pow10 : 0;
    /* Extreme scales: the shortest repr is clearer, and the integer path below would
     * overflow long long past ~9e18. */
    if (dec > 8 || ax->pow10 > 12 || fabs(tick_value(ax, i)) >= 1e15) {
        py_repr(tick_value(ax, i), buf, cap);
        return;
    }
    if (ax->pow10 > 0)
        for (int k = 0; k < ax->pow10; k++) units *= 10;
    /* The minus sign is U+2212 as matplotlib draws it; a hyphen looks too short. */
    const char *sign = units < 0 ? "\xe2\x88\x92" : "";
    unsigned long long u = units < 0 ? (unsigned long long)(-units) : (unsigned long long)units;
    if (dec == 0) {
        snprintf(buf, cap, "%s%llu", sign, u);
        return;
    }
    unsigned long long scale = 1;
    for (int k = 0; k < dec; k++) scale *= 10;
    snprintf(buf, cap, "%s%llu.%0*llu", sign, u / scale, dec, u % scale);
}

/* ---- SVG: text ------------------------------------------------------------------------- */

/* Write s as XML character data. Besides the five special characters, XML 1.0 cannot
 * carry C0 controls at all (not even as &#1;) nor malformed UTF-8, so those become a
 * space and U+FFFD: a strange title must not make the whole figure unreadable. */
static void out_xml_text(writer *w, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c == '&') out_str(w, "&amp;"), p++;
        else if (c == '<') out_str(w, "&lt;"), p++;
        else if (c == '>') out_str(w, "&gt;"), p++;
        else if (c == '"') out_str(w, "&quot;"), p++;
        else if (c == '\'') out_str(w, "&#39;"), p++;
        else if (c < 0x20 || c == 0x7f) out_str(w, " "), p++;
        else if (c < 0x80) out(w, "%c", (char)c), p++;
        else {
            int len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
            if (c > 0xf4) len = 0;
            int ok = len > 0;
            for (int k = 1; ok && k < len; k++)
                if ((p[k] & 0xc0) != 0x80) ok = 0;
            if (ok && len == 3) {    /* no overlongs, no UTF-16 surrogates */
                unsigned cp = ((c & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) | (p[2] & 0x3fu);
                if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff) ok = 0;
            }
            if (ok && len == 4) {
                unsigned cp = ((c & 0x07u) << 18) | ((p[1] & 0x3fu) << 12) | ((p[2] & 0x3fu) << 6) |
                              (p[3] & 0x3fu);
                if (cp < 0x10000 || cp > 0x10ffff) ok = 0;
            }
            if (ok) {
                if (!w->failed && fwrite(p, 1, (size_t)len, w->f) != (size_t)len)
                    w->failed = 1, w->error = errno;
                p += len;
            } else {
                out_str(w, "\xef\xbf\xbd");
                p++;
            }
        }
    }
}

/* Approximate rendered width of text in DejaVu Sans / Helvetica, from coarse classes
 * of glyph advance (in em). Only used to make room and to shrink long titles, so it
 * errs a little wide. */
static double text_width(const char *s, double font) {
    double wsum = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned c = *p;
        if ((c & 0xc0) == 0x80) continue;    /* UTF-8 continuation byte */
        if (c == ' ') wsum += 0.33;
        else if (strchr("ijlt.,:;'!|()[]", (int)c)) wsum += 0.36;
        else if (strchr("frI-", (int)c)) wsum += 0.45;
        else if ((c >= 'A' && c <= 'Z') || c == 'm' || c == 'w' || c >= 0x80) wsum += 0.76;
        else wsum += 0.64;    /* digits and the remaining lowercase */
    }
    return wsum * font;
}

/* ---- SVG: layout ----------------------------------------------------------------------- */

#define FIG_W 960.0
#define FIG_H 400.0
#define FONT "DejaVu Sans, Helvetica, Arial, sans-serif"
#define FS_TITLE 18.0
#define FS_PANEL 15.0
#define FS_LABEL 14.0
#define FS_TICK 12.0
#define FS_LEGEND 13.0
#define TRAIN_COLOR "#1f77b4"
#define VAL_COLOR "#ff7f0e"

static double series_at(const rnn_history_row *r, int which) {
    switch (which) {
    case 0: return r->loss;
    case 1: return r->val_loss;
    case 2: return r->accuracy;
    default: return r->val_accuracy;
    }
}

typedef struct {
    double x0, y0, x1, y1;    /* plot area in user units: left, top, right, bottom */
    axis xa, ya;
} panel_geom;

/* Data to user units; halved operands so huge (finite) data cannot overflow to inf. */
static double px(const panel_geom *g, double x) {
    return g->x0 + (x / 2 - g->xa.lo / 2) / (g->xa.hi / 2 - g->xa.lo / 2) * (g->x1 - g->x0);
}
static double py(const panel_geom *g, double y) {
    return g->y1 - (y / 2 - g->ya.lo / 2) / (g->ya.hi / 2 - g->ya.lo / 2) * (g->y1 - g->y0);
}

/* y limits: the finite data range plus 5% on each side, as matplotlib's default
 * margins do; a flat series gets a band around its value so the axis has a height. */
static void y_limits(const rnn_history_row *rows, int n, int s0, int s1, double *lo, double *hi,
                     int *any) {
    double mn = INFINITY, mx = -INFINITY;
    for (int i = 0; i < n; i++)
        for (int s = s0; s <= s1; s++) {
            double v = series_at(&rows[i], s);
            if (isfinite(v)) mn = fmin(mn, v), mx = fmax(mx, v);
        }
    *any = mn <= mx;
    if (!*any) {
        *lo = 0, *hi = 1;
        return;
    }
    /* Work with the half-range so that data near +-DBL_MAX does not overflow. */
    double mid = mn / 2 + mx / 2, half = mx / 2 - mn / 2;
    if (!(half > fabs(mid) * 1e-9)) half = fabs(mid) > 0 ? fabs(mid) * 0.05 : 0.05;
    else half *= 1.05;
    *lo = mid - half;
    *hi = mid + half;
    if (!isfinite(*lo) || !isfinite(*hi)) *lo = -1.7e308, *hi = 1.7e308;
}

static int x_of(const rnn_history_row *r) { return r->epoch; }

/* Count how much of the drawn data falls inside a candidate legend box: the markers
 * plus samples along each segment, so a line crossing the box counts even between
 * sparse points. */
static int legend_cost(const panel_geom *g, const rnn_history_row *rows, int n, int s0, int s1,
                       double bx, double by, double bw, double bh) {
    int cost = 0;
    for (int s = s0; s <= s1; s++) {
        double pxp = 0, pyp = 0;
        int have_prev = 0;
        for (int i = 0; i < n; i++) {
            double v = series_at(&rows[i], s);
            if (!isfinite(v)) {
                have_prev = 0;
                continue;
            }
            double X = px(g, x_of(&rows[i]) + 1.0), Y = py(g, v);
            int steps = have_prev ? 8 : 1;
            for (int k = 1; k <= steps; k++) {
                double t = (double)k / steps;
                double sx = have_prev ? pxp + (X - pxp) * t : X;
                double sy = have_prev ? pyp + (Y - pyp) * t : Y;
                if (sx >= bx - 4 && sx <= bx + bw + 4 && sy >= by - 4 && sy <= by + bh + 4) cost++;
            }
            pxp = X, pyp = Y, have_prev = 1;
        }
    }
    return cost;
}

static void draw_panel(writer *w, double left, double right, const char *title,
                       const char *ylabel, const rnn_history_row *rows, int n, int s0,
                       double top, double bottom) {
    static const char *const legend_text[2] = {"train", "validation"};
    static const char *const colors[2] = {TRAIN_COLOR, VAL_COLOR};
    static const char *const keys[4] = {"loss", "val_loss", "accuracy", "val_accuracy"};
    int s1 = s0 + 1;

    panel_geom g;
    g.y0 = top;
    g.y1 = bottom;

    /* x: epochs 1-based; half an epoch of air at least so end markers sit clear of
     * the frame, 5% on long runs like matplotlib. */
    double xmin = INFINITY, xmax = -INFINITY;
    for (int i = 0; i < n; i++) {
        double x = x_of(&rows[i]) + 1.0;
        xmin = fmin(xmin, x), xmax = fmax(xmax, x);
    }
    if (n == 0) xmin = 1, xmax = 1;
    double xpad = fmax(0.05 * (xmax - xmin), 0.5);

    double ylo, yhi;
    int any;
    y_limits(rows, n, s0, s1, &ylo, &yhi, &any);
    nice_ticks(&g.ya, ylo, yhi, (int)((bottom - top) / 34), 0, -INFINITY);

    /* The y tick labels decide the left margin. */
    double lw = 0;
    for (int i = 0; i < g.ya.count; i++) {
        char lab[64];
        tick_label(&g.ya, i, lab, sizeof lab);
        lw = fmax(lw, text_width(lab, FS_TICK));
    }
    double ylabel_x = left + 6 + FS_LABEL;    /* baseline of the rotated label */
    g.x0 = ylabel_x + 10 + lw + 8;
    g.x1 = right;
    /* Epoch labels are at most a few digits; ~60 units apart keeps them readable. */
    nice_ticks(&g.xa, xmin - xpad, xmax + xpad, (int)fmax(2, (g.x1 - g.x0) / 60), 1, fmin(xmin, 1));

    char b1[32], b2[32], b3[32], b4[32];
    out(w, "<g class=\"panel\">\n");
    out(w, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"#ffffff\"/>\n",
        coord(g.x0, b1), coord(g.y0, b2), coord(g.x1 - g.x0, b3), coord(g.y1 - g.y0, b4));

    /* Grid first, under the data. */
    out(w, "<g class=\"grid\" stroke=\"#dddddd\" stroke-width=\"0.8\">\n");
    for (int i = 0; i < g.xa.count; i++) {
        double X = px(&g, tick_value(&g.xa, i));
        out(w, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\"/>\n", coord(X, b1), coord(g.y0, b2),
            coord(X, b3), coord(g.y1, b4));
    }
    for (int i = 0; i < g.ya.count; i++) {
        double Y = py(&g, tick_value(&g.ya, i));
        out(w, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\"/>\n", coord(g.x0, b1), coord(Y, b2),
            coord(g.x1, b3), coord(Y, b4));
    }
    out(w, "</g>\n");

    /* Markers only while they stay apart; for hundreds of epochs they would merge
     * into a thick smear, so then only isolated points (between gaps) get one. */
    int markers = n <= (g.x1 - g.x0) / 7;
    int present[2] = {0, 0};
    for (int s = s0; s <= s1; s++) {
        int si = s - s0;
        for (int i = 0; i < n; i++)
            if (isfinite(series_at(&rows[i], s))) present[si] = 1;
        if (!present[si]) continue;
        out(w, "<g class=\"series %s\" stroke=\"%s\" fill=\"%s\">\n", keys[s], colors[si], colors[si]);
        /* One polyline per run of finite values: a NaN epoch breaks the line. */
        for (int i = 0; i < n;) {
            if (!isfinite(series_at(&rows[i], s))) {
                i++;
                continue;
            }
            int j = i;
            while (j < n && isfinite(series_at(&rows[j], s))) j++;
            out(w, "<polyline class=\"line-%s\" fill=\"none\" stroke-width=\"2\" "
                   "stroke-linejoin=\"round\" stroke-linecap=\"round\" points=\"",
                keys[s]);
            for (int k = i; k < j; k++)
                out(w, "%s%s,%s", k > i ? " " : "", coord(px(&g, x_of(&rows[k]) + 1.0), b1),
                    coord(py(&g, series_at(&rows[k], s)), b2));
            out(w, "\"/>\n");
            if (markers || j - i == 1)
                for (int k = i; k < j; k++)
                    out(w, "<circle cx=\"%s\" cy=\"%s\" r=\"3\" stroke=\"none\"/>\n",
                        coord(px(&g, x_of(&rows[k]) + 1.0), b1), coord(py(&g, series_at(&rows[k], s)), b2));
            i = j;
        }
        out(w, "</g>\n");
    }
    if (!present[0] && !present[1])
        out(w, "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\" font-size=\"%g\" fill=\"#888888\">"
               "no data</text>\n",
            coord((g.x0 + g.x1) / 2, b1), coord((g.y0 + g.y1) / 2, b2), FS_LABEL);

    /* Frame and ticks (outward, like matplotlib) above the data. */
    out(w, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"none\" stroke=\"#000000\" "
           "stroke-width=\"1\"/>\n",
        coord(g.x0, b1), coord(g.y0, b2), coord(g.x1 - g.x0, b3), coord(g.y1 - g.y0, b4));
    out(w, "<g class=\"ticks\" stroke=\"#000000\" stroke-width=\"1\">\n");
    for (int i = 0; i < g.xa.count; i++) {
        double X = px(&g, tick_value(&g.xa, i));
        out(w, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\"/>\n", coord(X, b1), coord(g.y1, b2),
            coord(X, b3), coord(g.y1 + 4, b4));
    }
    for (int i = 0; i < g.ya.count; i++) {
        double Y = py(&g, tick_value(&g.ya, i));
        out(w, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\"/>\n", coord(g.x0 - 4, b1), coord(Y, b2),
            coord(g.x0, b3), coord(Y, b4));
    }
    out(w, "</g>\n");
    out(w, "<g font-size=\"%g\" fill=\"#000000\">\n", FS_TICK);
    for (int i = 0; i < g.xa.count; i++) {
        char lab[64];
        tick_label(&g.xa, i, lab, sizeof lab);
        out(w, "<text class=\"xtick\" x=\"%s\" y=\"%s\" text-anchor=\"middle\">%s</text>\n",
            coord(px(&g, tick_value(&g.xa, i)), b1), coord(g.y1 + 8 + FS_TICK, b2), lab);
    }
    for (int i = 0; i < g.ya.count; i++) {
        char lab[64];
        tick_label(&g.ya, i, lab, sizeof lab);
        /* dominant-baseline is patchy across renderers; shift by ~0.35 em instead. */
        out(w, "<text class=\"ytick\" x=\"%s\" y=\"%s\" text-anchor=\"end\">%s</text>\n",
            coord(g.x0 - 7, b1), coord(py(&g, tick_value(&g.ya, i)) + 0.35 * FS_TICK, b2), lab);
    }
    out(w, "</g>\n");

    /* Labels and the panel title. */
    out(w, "<text class=\"xlabel\" x=\"%s\" y=\"%s\" text-anchor=\"middle\" font-size=\"%g\">epoch</text>\n",
        coord((g.x0 + g.x1) / 2, b1), coord(g.y1 + 8 + FS_TICK + 8 + FS_LABEL, b2), FS_LABEL);
    out(w, "<text class=\"ylabel\" x=\"%s\" y=\"%s\" text-anchor=\"middle\" font-size=\"%g\" "
           "transform=\"rotate(-90 %s %s)\">%s</text>\n",
        coord(ylabel_x, b1), coord((g.y0 + g.y1) / 2, b2), FS_LABEL, coord(ylabel_x, b3),
        coord((g.y0 + g.y1) / 2, b4), ylabel);
    out(w, "<text class=\"panel-title\" x=\"%s\" y=\"%s\" text-anchor=\"middle\" font-size=\"%g\">%s</text>\n",
        coord((g.x0 + g.x1) / 2, b1), coord(g.y0 - 9, b2), FS_PANEL, title);

    /* Legend in the corner the data leaves most empty, tried in matplotlib's order. */
    int n_entries = present[0] + present[1];
    if (n_entries == 0) {
        out(w, "</g>\n");
        return;
    }
    double tw = 0;
    for (int si = 0; si < 2; si++)
        if (present[si]) tw = fmax(tw, text_width(legend_text[si], FS_LEGEND));
    double row_h = FS_LEGEND + 7, bw = 10 + 26 + 8 + tw + 10, bh = 8 + row_h * n_entries;
    double inset = 8, best_x = 0, best_y = 0;
    int best_cost = -1;
    for (int corner = 0; corner < 4; corner++) {    /* UR, UL, LL, LR */
        double bx = (corner == 0 || corner == 3) ? g.x1 - inset - bw : g.x0 + inset;
        double by = corner < 2 ? g.y0 + inset : g.y1 - inset - bh;
        int cost = legend_cost(&g, rows, n, s0, s1, bx, by, bw, bh);
        if (best_cost < 0 || cost < best_cost) best_cost = cost, best_x = bx, best_y = by;
    }
    out(w, "<g class=\"legend\">\n");
    out(w, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" rx=\"3\" fill=\"#ffffff\" "
           "fill-opacity=\"0.85\" stroke=\"#cccccc\" stroke-width=\"1\"/>\n",
        coord(best_x, b1), coord(best_y, b2), coord(bw, b3), coord(bh, b4));
    double ry = best_y + 4 + row_h / 2;
    for (int si = 0; si < 2; si++) {
        if (!present[si]) continue;
        double hx = best_x + 10;
        out(w, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"2\"/>\n",
            coord(hx, b1), coord(ry, b2), coord(hx + 26, b3), coord(ry, b4), colors[si]);
        if (markers)
            out(w, "<circle cx=\"%s\" cy=\"%s\" r=\"3\" fill=\"%s\"/>\n", coord(hx + 13, b1),
                coord(ry, b2), colors[si]);
        out(w, "<text x=\"%s\" y=\"%s\" font-size=\"%g\">%s</text>\n", coord(hx + 26 + 8, b1),
            coord(ry + 0.35 * FS_LEGEND, b2), FS_LEGEND, legend_text[si]);
        ry += row_h;
    }
    out(w, "</g>\n</g>\n");
}

int rnn_history_write_svg(const char *path, const char *title, const rnn_history_row *rows, int n,
                          char *err, size_t errlen) {
    if (check_args(path, rows, n, err, errlen)) return -1;
    rnn_atomic_file a;
    if (rnn_atomic_open(&a, path, err, errlen) != 0) {
        name_path_in_err(path, err, errlen);
        return -1;
    }
    writer w = {a.f, 0, 0};
    char b1[32], b2[32], b3[32];
    int has_title = title && *title;
    /* Long titles shrink rather than run off the figure (down to a legible floor). */
    double fs_title = FS_TITLE;
    if (has_title) {
        double tw = text_width(title, FS_TITLE);
        if (tw > FIG_W - 40) fs_title = fmax(10, FS_TITLE * (FIG_W - 40) / tw);
    }
    out(&w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out(&w, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\" "
            "font-family=\"%s\">\n",
        FIG_W, FIG_H, FIG_W, FIG_H, FONT);
    out_str(&w, "<title>");
    out_xml_text(&w, has_title ? title : "training history");
    out_str(&w, "</title>\n");
    out(&w, "<rect width=\"%g\" height=\"%g\" fill=\"#ffffff\"/>\n", FIG_W, FIG_H);
    double top = has_title ? 74 : 44;
    if (has_title) {
        out(&w, "<text class=\"title\" x=\"%s\" y=\"%s\" text-anchor=\"middle\" font-size=\"%s\">",
            coord(FIG_W / 2, b1), coord(32, b2), coord(fs_title, b3));
        out_xml_text(&w, title);
        out_str(&w, "</text>\n");
    }
    double bottom = FIG_H - 60;
    draw_panel(&w, 0, FIG_W / 2 - 24, "Loss", "loss", rows, n, 0, top, bottom);
    draw_panel(&w, FIG_W / 2, FIG_W - 24, "Accuracy", "accuracy", rows, n, 2, top, bottom);
    out_str(&w, "</svg>\n");
    return finish(&a, &w, path, err, errlen);
}
