/* cmd_ad.c - `gfnbench ad FILE_A FILE_B [FILE_C ...]`: the k-sample Anderson-Darling
 * test (scipy.stats.anderson_ksamp, midrank) on files of numbers.
 *
 * Each file holds one number per line; blank lines and everything after a '#'
 * are skipped.  Prints the standardised statistic, the 5% critical value, the
 * paper's score (statistic / critical_5pct: above 1 rejects equality at 5%) and
 * scipy's approximate significance level, each with %.17g; when scipy would warn
 * that the significance is capped (0.25) or floored (0.001), so does this.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ad.h"
#include "commands.h"
#include "params.h"

static void help(FILE *f)
{
    fprintf(f,
            "usage: gfnbench ad FILE_A FILE_B [FILE_C ...]\n\n"
            "k-sample Anderson-Darling test (Scholz and Stephens 1987, midrank version, as\n"
            "scipy.stats.anderson_ksamp) of the hypothesis that the samples in the files\n"
            "come from one distribution.  Files: one number per line; blank lines and\n"
            "'#' comments are skipped.  At least 4 numbers in total, 2 of them distinct,\n"
            "and no empty file.\n\n"
            "prints:\n"
            "  statistic:     (A2akN - (k-1)) / sigma\n"
            "  critical_5pct: critical value at the 5%% level (1.961 for two files)\n"
            "  score:         statistic / critical_5pct (above 1 rejects at 5%%)\n"
            "  significance:  approximate p-value, capped at 0.25 and floored at 0.001\n");
}

/* Reads the numbers of path into a growing array; errors name path:line. */
static int read_numbers(const char *path, double **vals, size_t *n, gfn_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return gfn_error_set(err, GFN_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t linecap = 0, cap = 0;
    long lineno = 0;
    int st = GFN_OK;
    *vals = NULL;
    *n = 0;
    ssize_t got;
    while ((got = getline(&line, &linecap, f)) >= 0) {
        lineno++;
        if (strlen(line) != (size_t)got) {
            /* A NUL would end the text early: "1\0" + "999" must not read as 1. */
            st = gfn_error_set(err, GFN_EFORMAT, "%s:%ld: a NUL byte in the line (expected "
                               "text: one number a line)", path, lineno);
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            continue;
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        char *rest = end;
        while (isspace((unsigned char)*rest))
            rest++;
        if (end == s || *rest || !isfinite(v)) {
            s[strcspn(s, "\r\n")] = 0;
            char shown[200];
            st = gfn_error_set(err, GFN_EFORMAT, "%s:%ld: expected one finite number, got '%s'",
                               path, lineno, gfn_text_quote(shown, sizeof shown, s, 40));
            break;
        }
        if (*n == cap) {
            size_t c = cap ? 2 * cap : 1024;
            double *p = realloc(*vals, c * sizeof *p);
            if (!p) {
                st = gfn_error_set(err, GFN_ENOMEM, "%s: no memory for %zu numbers", path, c);
                break;
            }
            *vals = p;
            cap = c;
        }
        (*vals)[(*n)++] = v;
    }
    if (!st && ferror(f))
        st = gfn_error_set(err, GFN_EIO, "%s: read error: %s", path, strerror(errno));
    if (!st && *n == 0)
        st = gfn_error_set(err, GFN_EVALUE,
                           "%s: no numbers (anderson_ksamp needs every sample non-empty)", path);
    free(line);
    fclose(f);
    if (st) {
        free(*vals);
        *vals = NULL;
    }
    return st;
}

int gfn__ad_cmd_run(int argc, char **argv, FILE *out, FILE *errf)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            help(out);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(errf, "gfnbench ad: unknown option '%s' (see gfnbench ad --help)\n", argv[i]);
            return 2;
        }
    }
    int k = argc - 1;
    if (k < 2) {
        fprintf(errf, "gfnbench ad: needs at least two files, got %d (see gfnbench ad --help)\n",
                k);
        return 2;
    }
    double **vals = calloc((size_t)k, sizeof *vals);
    size_t *n = calloc((size_t)k, sizeof *n);
    gfn_error err;
    int st = (!vals || !n) ? gfn_error_set(&err, GFN_ENOMEM, "no memory for %d files", k) : GFN_OK;
    for (int i = 0; i < k && !st; i++)
        st = read_numbers(argv[i + 1], &vals[i], &n[i], &err);
    gfn_ad_result r;
    if (!st)
        st = gfn_ad_ksamp((const double *const *)vals, n, k, &r, &err);
    if (st) {
        fprintf(errf, "gfnbench ad: %s\n", err.msg);
    } else {
        if (r.bound > 0)
            fprintf(errf, "gfnbench ad: warning: p-value capped: true value larger than 0.25\n");
        else if (r.bound < 0)
            fprintf(errf, "gfnbench ad: warning: p-value floored: true value smaller than 0.001\n");
        fprintf(out, "statistic: %.17g\n", r.statistic);
        fprintf(out, "critical_5pct: %.17g\n", r.critical[GFN_AD_LEVEL_5PCT]);
        fprintf(out, "score: %.17g\n", gfn_ad_score(&r));
        fprintf(out, "significance: %.17g\n", r.significance);
    }
    for (int i = 0; vals && i < k; i++)
        free(vals[i]);
    free(vals);
    free(n);
    return st ? 1 : 0;
}

int gfn_cmd_ad(int argc, char **argv)
{
    return gfn__ad_cmd_run(argc, argv, stdout, stderr);
}
