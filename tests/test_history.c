/*
 * test_history.c — the training history as Keras's CSVLogger file and as an SVG figure.
 *
 * The CSV is compared byte for byte with what CSVLogger writes (sorted keys, Python
 * float repr, csv.excel's "\r\n"); the expected numbers were checked with python3's
 * repr(). The SVG is checked for well-formedness twice (a tag-balance scan here and
 * Python's minidom parser) and for its content: titles, labels, legend entries, one
 * polyline per present series with one point per finite value, and 1-2-5 ticks.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "train/history.h"

/* ---- helpers -------------------------------------------------------------------------- */

static char g_dir[64];
static char g_path[256];

static void make_dir(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/rnnc-hist-XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
}

static const char *in_dir(const char *name) {
    snprintf(g_path, sizeof g_path, "%s/%s", g_dir, name);
    return g_path;
}

/* Remove the files a test made, then the directory; rmdir failing means a stray file
 * (e.g. a leftover temporary) was left behind, which is itself a bug. */
static void clean_dir(const char *const *names, int n) {
    for (int i = 0; i < n; i++) unlink(in_dir(names[i]));
    cr_expect_eq(rmdir(g_dir), 0, "%s not empty after the test", g_dir);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
    }
    fclose(f);
    buf[n] = 0;
    return buf;
}

static int count_substr(const char *s, const char *needle) {
    int c = 0;
    size_t len = strlen(needle);
    for (const char *p = strstr(s, needle); p; p = strstr(p + len, needle)) c++;
    return c;
}

/* Exit status of python3's minidom parser on the file (0 = well-formed XML). */
static int python_parses(const char *path) {
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        execl("/usr/bin/python3", "python3", "-c",
              "import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])", path, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A small well-formedness scan: every start tag closed by a matching end tag, one
 * root element <svg>, attribute values quoted, no raw '<' or bare '&' in text. */
static int xml_balanced(const char *s, char *why, size_t whylen) {
    char stack[64][32];
    int depth = 0, roots = 0;
    const char *p = s;
    while (*p) {
        if (*p == '&') {
            const char *semi = strchr(p, ';');
            if (!semi || semi - p > 8) {
                snprintf(why, whylen, "bare '&' at offset %ld", (long)(p - s));
                return 0;
            }
            p = semi + 1;
            continue;
        }
        if (*p != '<') {
            p++;
            continue;
        }
        if (!strncmp(p, "<?", 2) || !strncmp(p, "<!--", 4)) {
            const char *end = strstr(p, p[1] == '?' ? "?>" : "-->");
            if (!end) return snprintf(why, whylen, "unterminated <? or <!--"), 0;
            p = end + 2;
            continue;
        }
        int closing = p[1] == '/';
        const char *q = p + 1 + closing;
        char name[32];
        size_t nl = 0;
        while (*q && !strchr(" \t\n/>", *q) && nl < sizeof name - 1) name[nl++] = *q++;
        name[nl] = 0;
        if (nl == 0) return snprintf(why, whylen, "empty tag name at offset %ld", (long)(p - s)), 0;
        /* Skip attributes, respecting quotes, up to the closing '>'. */
        char quote = 0;
        while (*q && (quote || *q != '>')) {
            if (quote && *q == '<') return snprintf(why, whylen, "'<' inside an attribute"), 0;
            if (*q == '"' || *q == '\'') quote = quote == *q ? 0 : quote ? quote : *q;
            q++;
        }
        if (!*q) return snprintf(why, whylen, "unterminated tag <%s", name), 0;
        int self_closing = q[-1] == '/';
        if (closing) {
            if (depth == 0 || strcmp(stack[depth - 1], name))
                return snprintf(why, whylen, "</%s> does not close <%s>", name,
                                depth ? stack[depth - 1] : "(nothing)"),
                       0;
            depth--;
        } else {
            if (depth == 0) {
                roots++;
                if (strcmp(name, "svg")) return snprintf(why, whylen, "root is <%s>", name), 0;
            }
            if (!self_closing) {
                if (depth == 64) return snprintf(why, whylen, "too deep"), 0;
                snprintf(stack[depth++], sizeof stack[0], "%s", name);
            }
        }
        p = q + 1;
    }
    if (depth) return snprintf(why, whylen, "<%s> never closed", stack[depth - 1]), 0;
    if (roots != 1) return snprintf(why, whylen, "%d root elements", roots), 0;
    return 1;
}

static void assert_well_formed(const char *path, const char *svg) {
    char why[128] = "";
    cr_assert(xml_balanced(svg, why, sizeof why), "%s: %s", path, why);
    cr_assert_eq(python_parses(path), 0, "python3 minidom rejects %s", path);
    cr_assert(strstr(svg, "viewBox=\"0 0 "), "no viewBox");
    /* Standalone: no scripts, no fetched fonts, no external references. */
    cr_assert_null(strstr(svg, "<script"));
    cr_assert_null(strstr(svg, "@font-face"));
    cr_assert_null(strstr(svg, "href"));
    /* Non-finite values must never leak into coordinates. */
    cr_assert_null(strstr(svg, "nan"));
    cr_assert_null(strstr(svg, "inf"));
}

/* Total points over all <polyline class="line-KEY"> elements, and how many there are. */
static int polyline_points(const char *svg, const char *key, int *n_lines) {
    char needle[64];
    snprintf(needle, sizeof needle, "class=\"line-%s\"", key);
    int total = 0;
    *n_lines = 0;
    for (const char *p = strstr(svg, needle); p; p = strstr(p + 1, needle)) {
        const char *end = strstr(p, "/>");
        const char *pts = strstr(p, "points=\"");
        cr_assert(pts && end && pts < end);
        pts += 8;
        (*n_lines)++;
        /* Points are "x,y" pairs separated by single spaces. */
        int commas = 0;
        for (const char *c = pts; *c != '"'; c++) commas += *c == ',';
        total += commas;
    }
    return total;
}

/* The text of every <text class="CLS" ...>...</text> between from and to, as numbers
 * (matplotlib's U+2212 minus read as '-'); returns how many. */
static int tick_values(const char *from, const char *to, const char *cls, double *vals, char labels[][32],
                       int cap) {
    char needle[48];
    snprintf(needle, sizeof needle, "class=\"%s\"", cls);
    int n = 0;
    for (const char *p = strstr(from, needle); p && (!to || p < to); p = strstr(p + 1, needle)) {
        const char *gt = strchr(p, '>');
        const char *lt = strchr(gt, '<');
        cr_assert(gt && lt && n < cap);
        char lab[32], num[32];
        size_t len = (size_t)(lt - gt - 1);
        cr_assert_lt(len, sizeof lab);
        memcpy(lab, gt + 1, len);
        lab[len] = 0;
        snprintf(labels[n], 32, "%s", lab);
        const char *src = lab;
        size_t k = 0;
        if (!strncmp(src, "\xe2\x88\x92", 3)) num[k++] = '-', src += 3;
        snprintf(num + k, sizeof num - k, "%s", src);
        char *endp;
        vals[n] = strtod(num, &endp);
        cr_assert_eq(*endp, 0, "tick label '%s' is not a number", lab);
        n++;
    }
    return n;
}

/* Ticks are evenly spaced by m * 10^k with m in {1, 2, 5}; returns the step. */
static double assert_nice(const double *v, int n, const char *what) {
    cr_assert_geq(n, 2, "%s: only %d ticks", what, n);
    double step = v[1] - v[0];
    cr_assert_gt(step, 0, "%s: ticks not increasing", what);
    for (int i = 2; i < n; i++)
        cr_assert_float_eq(v[i] - v[i - 1], step, step * 1e-9, "%s: uneven ticks", what);
    double k = floor(log10(step) + 1e-9);
    double m = step / pow(10, k);
    cr_assert(fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9,
              "%s: step %g is not 1, 2 or 5 times a power of ten", what, step);
    for (int i = 0; i < n; i++)    /* each tick a whole multiple of the step */
        cr_assert_float_eq(v[i] / step, round(v[i] / step), 1e-6, "%s: tick %g off the grid", what, v[i]);
    return step;
}

/* Rows that measured the four classic columns only: the others (auc, precision, recall,
 * lr and their val_ forms) not measured. */
static void four_columns(rnn_history_row *r, int n) {
    for (int i = 0; i < n; i++) {
        rnn_history_row f = rnn_history_row_empty(r[i].epoch);
        f.loss = r[i].loss, f.accuracy = r[i].accuracy, f.val_loss = r[i].val_loss, f.val_accuracy = r[i].val_accuracy;
        r[i] = f;
    }
}

/* The 10-epoch run of the README figure: loss 0.69 -> 0.35, accuracy 0.52 -> 0.86,
 * validation a little worse and flattening. */
static void realistic(rnn_history_row *r, int n) {
    for (int i = 0; i < n; i++) {
        double t = n > 1 ? (double)i / (n - 1) : 0, d = (1 - exp(-3 * t)) / (1 - exp(-3.0));
        r[i].epoch = i;
        r[i].loss = 0.69 - 0.34 * d;
        r[i].accuracy = 0.52 + 0.34 * d;
        r[i].val_loss = 0.68 - 0.24 * (1 - exp(-5 * t)) + 0.04 * t * t;
        r[i].val_accuracy = 0.53 + 0.25 * (1 - exp(-5 * t)) - 0.01 * t;
    }
    four_columns(r, n);
}

/* ---- CSV -------------------------------------------------------------------------------- */

Test(history, csv_exact_three_epochs) {
    rnn_history_row rows[3] = {
        {.epoch = 0, .loss = 0.5, .accuracy = 0.1, .val_loss = 1.0 / 3, .val_accuracy = 1e-5},
        {.epoch = 1, .loss = 123.456, .accuracy = 0.5, .val_loss = 0.1, .val_accuracy = 1.0},
        {.epoch = 2, .loss = 2.5e-7, .accuracy = 0.75, .val_loss = 1e16, .val_accuracy = 0.1 + 0.2},
    };
    four_columns(rows, 3);
    make_dir();
    char err[256] = "";
    cr_assert_eq(rnn_history_write_csv(in_dir("h.csv"), rows, 3, err, sizeof err), 0, "%s", err);
    char *got = slurp(in_dir("h.csv"));
    cr_assert_str_eq(got, "epoch,accuracy,loss,val_accuracy,val_loss\r\n"
                          "0,0.1,0.5,1e-05,0.3333333333333333\r\n"
                          "1,0.5,123.456,1.0,0.1\r\n"
                          "2,0.75,2.5e-07,0.30000000000000004,1e+16\r\n");
    free(got);
    const char *names[] = {"h.csv"};
    clean_dir(names, 1);
}

/* Python's repr at the edges: fixed notation for exponents -4..15, ".0" on whole
 * numbers, two-digit exponents, signed zero, 17-digit round trips, subnormals. */
Test(history, csv_python_repr_edges) {
    const double v[] = {-0.0, 1e22, 123456789.0, 1e15, 0.0001, 1.234e-5, 5e-324,
                        1.7976931348623157e308, 9007199254740993.0, -2.0, 100.0, -INFINITY};
    const char *want = "epoch,loss\r\n0,-0.0\r\n1,1e+22\r\n2,123456789.0\r\n3,1000000000000000.0\r\n"
                       "4,0.0001\r\n5,1.234e-05\r\n6,5e-324\r\n7,1.7976931348623157e+308\r\n"
                       "8,9007199254740992.0\r\n9,-2.0\r\n10,100.0\r\n11,-inf\r\n";
    rnn_history_row rows[12];
    for (int i = 0; i < 12; i++)
        rows[i] = (rnn_history_row){.epoch = i, .loss = v[i], .accuracy = NAN, .val_loss = NAN, .val_accuracy = NAN};
    four_columns(rows, 12);
    make_dir();
    char err[256] = "";
    cr_assert_eq(rnn_history_write_csv(in_dir("r.csv"), rows, 12, err, sizeof err), 0, "%s", err);
    char *got = slurp(in_dir("r.csv"));
    cr_assert_str_eq(got, want);
    free(got);
    const char *names[] = {"r.csv"};
    clean_dir(names, 1);
}

/* Columns measured in no epoch disappear; a measured column missing in one epoch
 * keeps its place with "nan" (Python's str(float('nan'))). */
Test(history, csv_column_omission) {
    rnn_history_row rows[2] = {
        {.epoch = 0, .loss = 0.25, .accuracy = 0.5, .val_loss = NAN, .val_accuracy = NAN},
        {.epoch = 1, .loss = 0.125, .accuracy = NAN, .val_loss = NAN, .val_accuracy = NAN},
    };
    four_columns(rows, 2);
    make_dir();
    char err[256] = "";
    cr_assert_eq(rnn_history_write_csv(in_dir("a.csv"), rows, 2, err, sizeof err), 0, "%s", err);
    char *got = slurp(in_dir("a.csv"));
    cr_assert_str_eq(got, "epoch,accuracy,loss\r\n0,0.5,0.25\r\n1,nan,0.125\r\n");
    free(got);

    rows[0].accuracy = NAN;
    rows[1].val_accuracy = 0.75;
    cr_assert_eq(rnn_history_write_csv(in_dir("b.csv"), rows, 2, err, sizeof err), 0, "%s", err);
    got = slurp(in_dir("b.csv"));
    cr_assert_str_eq(got, "epoch,loss,val_accuracy\r\n0,0.25,nan\r\n1,0.125,0.75\r\n");
    free(got);

    cr_assert_eq(rnn_history_write_csv(in_dir("c.csv"), rows, 0, err, sizeof err), 0, "%s", err);
    got = slurp(in_dir("c.csv"));
    cr_assert_str_eq(got, "epoch\r\n");
    free(got);
    const char *names[] = {"a.csv", "b.csv", "c.csv"};
    clean_dir(names, 3);
}

/* ---- SVG -------------------------------------------------------------------------------- */

Test(history, svg_well_formed_with_all_parts) {
    rnn_history_row rows[10];
    realistic(rows, 10);
    make_dir();
    char err[256] = "";
    const char *title = "LSTM <imdb> & \"friends\" 'n' co";
    cr_assert_eq(rnn_history_write_svg(in_dir("h.svg"), title, rows, 10, err, sizeof err), 0, "%s", err);
    char *svg = slurp(in_dir("h.svg"));
    assert_well_formed(in_dir("h.svg"), svg);

    cr_assert(strstr(svg, ">LSTM &lt;imdb&gt; &amp; &quot;friends&quot; &#39;n&#39; co</text>"),
              "escaped title missing");
    cr_assert_null(strstr(svg, "<imdb>"));
    cr_assert_eq(count_substr(svg, ">Loss</text>"), 1);
    cr_assert_eq(count_substr(svg, ">Accuracy</text>"), 1);
    cr_assert_eq(count_substr(svg, ">epoch</text>"), 2);
    cr_assert_eq(count_substr(svg, ">loss</text>"), 1);
    cr_assert_eq(count_substr(svg, ">accuracy</text>"), 1);
    cr_assert_eq(count_substr(svg, ">train</text>"), 2);
    cr_assert_eq(count_substr(svg, ">validation</text>"), 2);
    cr_assert(strstr(svg, "stroke=\"#1f77b4\"") && strstr(svg, "stroke=\"#ff7f0e\""));

    const char *keys[4] = {"loss", "val_loss", "accuracy", "val_accuracy"};
    for (int k = 0; k < 4; k++) {
        int lines, pts = polyline_points(svg, keys[k], &lines);
        cr_assert_eq(lines, 1, "%s: %d polylines", keys[k], lines);
        cr_assert_eq(pts, 10, "%s: %d points", keys[k], pts);
    }
    /* Train loss falls: its first point is drawn lower on the page (larger y) than
     * its last, i.e. the y axis is not upside down. */
    const char *pl = strstr(strstr(svg, "class=\"line-loss\""), "points=\"") + 8;
    double x0, y0, xl = 0, yl = 0;
    cr_assert_eq(sscanf(pl, "%lf,%lf", &x0, &y0), 2);
    for (const char *c = pl; *c != '"'; c++)
        if (*c == ' ') cr_assert_eq(sscanf(c + 1, "%lf,%lf", &xl, &yl), 2);
    cr_assert_lt(x0, xl);
    cr_assert_lt(y0, yl);
    free(svg);
    const char *names[] = {"h.svg"};
    clean_dir(names, 1);
}

/* Y ticks are evenly spaced 1-2-5 values that span the data (none missing at either
 * end) with uniform decimals; x ticks are 1-based whole epochs. */
Test(history, svg_ticks_are_nice) {
    rnn_history_row rows[10];
    realistic(rows, 10);
    make_dir();
    char err[256] = "";
    cr_assert_eq(rnn_history_write_svg(in_dir("t.svg"), "ticks", rows, 10, err, sizeof err), 0, "%s", err);
    char *svg = slurp(in_dir("t.svg"));
    const char *second = strstr(strstr(svg, "class=\"panel\"") + 1, "class=\"panel\"");
    cr_assert_not_null(second);
    double v[64];
    char lab[64][32];
    for (int panel = 0; panel < 2; panel++) {
        const char *from = panel ? second : svg, *to = panel ? NULL : second;
        double lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < 10; i++) {
            double a = panel ? rows[i].accuracy : rows[i].loss, b = panel ? rows[i].val_accuracy : rows[i].val_loss;
            lo = fmin(lo, fmin(a, b)), hi = fmax(hi, fmax(a, b));
        }
        int n = tick_values(from, to, "ytick", v, lab, 64);
        cr_assert_geq(n, 3);
        cr_assert_leq(n, 10);
        double step = assert_nice(v, n, panel ? "accuracy y" : "loss y");
        cr_assert_lt(v[0] - step, lo, "a tick is missing below");
        cr_assert_gt(v[n - 1] + step, hi, "a tick is missing above");
        for (int i = 1; i < n; i++) cr_assert_eq(strlen(lab[i]), strlen(lab[0]), "ragged decimals");
        /* Loss here is 0.35..0.69: step 0.05 gives "0.35".."0.65". */
        if (panel == 0) {
            cr_assert_str_eq(lab[0], "0.35");
            cr_assert_float_eq(step, 0.05, 1e-12);
        }

        n = tick_values(from, to, "xtick", v, lab, 64);
        assert_nice(v, n, "x");
        for (int i = 0; i < n; i++) {
            cr_assert_eq(v[i], round(v[i]));
            cr_assert_geq(v[i], 1, "epoch tick %g: epochs are 1-based", v[i]);
            cr_assert_leq(v[i], 10);
        }
        cr_assert_eq(v[n - 1], 10);
    }
    free(svg);
    const char *names[] = {"t.svg"};
    clean_dir(names, 1);
}

Test(history, svg_single_epoch) {
    rnn_history_row row = {.epoch = 0, .loss = 0.69, .accuracy = 0.52, .val_loss = 0.68, .val_accuracy = 0.53};
    four_columns(&row, 1);
    make_dir();
    char err[256] = "";
    cr_assert_eq(rnn_history_write_svg(in_dir("one.svg"), "one", &row, 1, err, sizeof err), 0, "%s", err);
    char *svg = slurp(in_dir("one.svg"));
    assert_well_formed(in_dir("one.svg"), svg);
    const char *keys[4] = {"loss", "val_loss", "accuracy", "val_accuracy"};
    for (int k = 0; k < 4; k++) {
        int lines, pts = polyline_points(svg, keys[k], &lines);
        cr_assert_eq(lines, 1);
        cr_assert_eq(pts, 1);
    }
    /* A one-point polyline is invisible; each point needs its marker. */
    cr_assert_eq(count_substr(svg, "<circle cx"), 4 + 4, "4 data markers + 4 legend markers");
    double v[8];
    char lab[8][32];
    cr_assert_eq(tick_values(svg, NULL, "xtick", v, lab, 8), 2, "one x tick per panel");
    cr_assert_str_eq(lab[0], "1");
    cr_assert_str_eq(lab[1], "1");
    free(svg);
    const char *names[] = {"one.svg"};
    clean_dir(names, 1);
}

/* No validation at all: no validation line, no legend entry. NaN and inf in the
 * middle of a series break its line into runs; only finite values become points. */
Test(history, svg_missing_series_and_gaps) {
    rnn_history_row rows[10];
    realistic(rows, 10);
    for (int i = 0; i < 10; i++) rows[i].val_loss = rows[i].val_accuracy = NAN;
    rows[3].loss = NAN;
    rows[6].loss = INFINITY;
    rows[9].accuracy = NAN;
    make_dir();
    char err[256] = "";
    cr_assert_eq(rnn_history_write_svg(in_dir("g.svg"), "gaps", rows, 10, err, sizeof err), 0, "%s", err);
    char *svg = slurp(in_dir("g.svg"));
    assert_well_formed(in_dir("g.svg"), svg);
    cr_assert_null(strstr(svg, "line-val_loss"));
    cr_assert_null(strstr(svg, "line-val_accuracy"));
    cr_assert_null(strstr(svg, ">validation<"));
    cr_assert_eq(count_substr(svg, ">train</text>"), 2);
    int lines, pts = polyline_points(svg, "loss", &lines);
    cr_assert_eq(lines, 3, "runs 1-3, 5-6, 8-10");
    cr_assert_eq(pts, 8);
    pts = polyline_points(svg, "accuracy", &lines);
    cr_assert_eq(lines, 1);
    cr_assert_eq(pts, 9);
    free(svg);
    const char *names[] = {"g.svg"};
    clean_dir(names, 1);
}

/* A flat series still gets a y axis of non-zero height with distinct ticks around it. */
Test(history, svg_constant_series) {
    rnn_history_row rows[5];
    for (int i = 0; i < 5; i++)
        rows[i] = (rnn_history_row){.epoch = i, .loss = 0.0, .accuracy = 0.5, .val_loss = NAN, .val_accuracy = 0.5};
    four_columns(rows, 5);
    make_dir();
    char err[256] = "";
    cr_assert_eq(rnn_history_write_svg(in_dir("c.svg"), "flat", rows, 5, err, sizeof err), 0, "%s", err);
    char *svg = slurp(in_dir("c.svg"));
    assert_well_formed(in_dir("c.svg"), svg);
    const char *second = strstr(strstr(svg, "class=\"panel\"") + 1, "class=\"panel\"");
    double v[64];
    char lab[64][32];
    for (int panel = 0; panel < 2; panel++) {
        int n = tick_values(panel ? second : svg, panel ? NULL : second, "ytick", v, lab, 64);
        double step = assert_nice(v, n, "flat y");
        double value = panel ? 0.5 : 0.0;
        cr_assert_leq(v[0], value);
        cr_assert_geq(v[n - 1], value);
        cr_assert_lt(v[0] - step, value);
    }
    free(svg);
    const char *names[] = {"c.svg"};
    clean_dir(names, 1);
}

Test(history, svg_thousand_epochs) {
    enum { N = 1000 };
    rnn_history_row *rows = calloc(N, sizeof *rows);
    cr_assert_not_null(rows);
    realistic(rows, N);
    rows[499].val_loss = rows[501].val_loss = NAN;    /* leaves epoch 501 isolated */
    make_dir();
    char err[256] = "";
    cr_assert_eq(rnn_history_write_svg(in_dir("k.svg"), "long", rows, N, err, sizeof err), 0, "%s", err);
    char *svg = slurp(in_dir("k.svg"));
    assert_well_formed(in_dir("k.svg"), svg);
    int lines;
    cr_assert_eq(polyline_points(svg, "val_accuracy", &lines), N);
    cr_assert_eq(lines, 1);
    double v[64];
    char lab[64][32];
    int n = tick_values(svg, strstr(svg, ">Loss<"), "xtick", v, lab, 64);
    cr_assert_leq(n, 10, "x ticks thinned out");
    cr_assert_geq(assert_nice(v, n, "x"), 100);
    cr_assert_eq(v[n - 1], 1000);
    cr_assert_geq(v[0], 1, "epoch tick %g: epochs are 1-based", v[0]);
    /* Markers would merge into a smear at this density, but a point standing alone
     * between gaps has no line to show it, so it alone keeps its marker. */
    cr_assert_eq(count_substr(svg, "<circle"), 1);
    cr_assert_eq(polyline_points(svg, "val_loss", &lines), N - 2);
    cr_assert_eq(lines, 3);
    free(svg);
    free(rows);
    const char *names[] = {"k.svg"};
    clean_dir(names, 1);
}

/* Finite extremes (a diverging run) still give finite coordinates and a valid file. */
Test(history, svg_extreme_values) {
    const double v[4] = {1.7976931348623157e308, -1.7976931348623157e308, 4.9e-324, 1e-300};
    rnn_history_row rows[4];
    for (int i = 0; i < 4; i++)
        rows[i] = (rnn_history_row){.epoch = i * 1000000, .loss = v[i], .accuracy = v[3 - i],
                                    .val_loss = 1e300 * i, .val_accuracy = -v[i]};
    four_columns(rows, 4);
    make_dir();
    char err[256] = "";
    cr_assert_eq(rnn_history_write_svg(in_dir("e.svg"), "big", rows, 4, err, sizeof err), 0, "%s", err);
    char *svg = slurp(in_dir("e.svg"));
    assert_well_formed(in_dir("e.svg"), svg);
    int lines;
    cr_assert_eq(polyline_points(svg, "loss", &lines), 4);
    free(svg);
    /* Huge but nearly flat: ticks around 1e22 with tiny steps. */
    for (int i = 0; i < 4; i++) rows[i].loss = 1e22 * (1 + 1e-8 * i);
    cr_assert_eq(rnn_history_write_svg(in_dir("e.svg"), "big", rows, 4, err, sizeof err), 0, "%s", err);
    svg = slurp(in_dir("e.svg"));
    assert_well_formed(in_dir("e.svg"), svg);
    free(svg);
    const char *names[] = {"e.svg"};
    clean_dir(names, 1);
}

/* Control characters and broken UTF-8 cannot appear in XML even escaped; the title
 * is sanitized rather than making the figure unreadable. */
Test(history, svg_hostile_title) {
    rnn_history_row rows[2];
    realistic(rows, 2);
    make_dir();
    char err[256] = "";
    const char *title = "bad\x01\x1b[0m \xff\xc3( ok \xc3\xa9 ]]> &amp;";
    cr_assert_eq(rnn_history_write_svg(in_dir("x.svg"), title, rows, 2, err, sizeof err), 0, "%s", err);
    char *svg = slurp(in_dir("x.svg"));
    assert_well_formed(in_dir("x.svg"), svg);
    cr_assert(strstr(svg, "ok \xc3\xa9 ]]&gt; &amp;amp;"), "valid UTF-8 and escapes kept");
    free(svg);
    const char *names[] = {"x.svg"};
    clean_dir(names, 1);
}

/* A missing directory fails cleanly: -1, the path in the message, nothing created. */
Test(history, error_missing_directory) {
    rnn_history_row rows[3];
    realistic(rows, 3);
    make_dir();
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/h.csv", g_dir);
    char err[512] = "";
    cr_assert_eq(rnn_history_write_csv(bad, rows, 3, err, sizeof err), -1);
    cr_assert(strstr(err, bad), "error does not name the path: %s", err);
    err[0] = 0;
    snprintf(bad, sizeof bad, "%s/no/such/dir/h.svg", g_dir);
    cr_assert_eq(rnn_history_write_svg(bad, "t", rows, 3, err, sizeof err), -1);
    cr_assert(strstr(err, bad), "error does not name the path: %s", err);
    struct stat st;
    cr_assert_neq(stat(in_dir("no"), &st), 0, "the missing directory was created");
    /* Bad arguments are errors too, not crashes. */
    cr_assert_eq(rnn_history_write_csv(in_dir("n.csv"), NULL, 2, err, sizeof err), -1);
    cr_assert_eq(rnn_history_write_svg(in_dir("n.svg"), "t", rows, -1, err, sizeof err), -1);
    clean_dir(NULL, 0);    /* fails if anything at all was left in the directory */
}
