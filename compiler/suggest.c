/*
 * suggest.c — "did you mean" for unknown keywords, constructors and strings.
 */
#include "rnnc.h"

#include <ctype.h>
#include <string.h>

/* Case-insensitive optimal string alignment distance (Levenshtein plus adjacent transpositions), so
 * that "dropuot" is one edit from "dropout". Words longer than 63 bytes never match. */
static int edit_distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    if (n > 63 || m > 63) return 1000;
    int d[64][64];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best) best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[n][m];
}

const char *suggest_name(const char *word, const char *const *names) {
    const char *best = NULL;
    int best_d = 1000;
    for (const char *const *p = names; *p; p++) {
        int dist = edit_distance(word, *p);
        if (dist < best_d) {
            best_d = dist;
            best = *p;
        }
    }
    size_t len = strlen(word);
    int allowed = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    return best_d <= allowed ? best : NULL;
}
