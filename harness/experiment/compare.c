/* compare.c - a new run of an experiment against a reference: Welch's t-test per
 * variant and metric over the finals.csv of both (see compare.h for the rules).
 *
 * Welch's t-test (B. L. Welch, Biometrika 34, 1947): with v_i = s_i^2 / n_i,
 *   t = (m1 - m2) / sqrt(v1 + v2),  df = (v1 + v2)^2 / (v1^2/(n1-1) + v2^2/(n2-1)),
 * and the two-sided p-value 2 Q_df(|t|) from GSL's Student-t tail gsl_cdf_tdist_Q
 * (gsl_cdf_tdist_P for the lower tail, which is the same by symmetry).
 */
#include "compare.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "finals.h"
#include "report.h"

void gfn_compare_welch(double m1, double s1, int n1, double m2, double s2, int n2, double *t,
                       double *df, double *p)
{
    GFN_ASSERT(n1 >= 2 && n2 >= 2);
    double v1 = s1 * s1 / n1, v2 = s2 * s2 / n2;
    GFN_ASSERT_CMP(v1 + v2, >, 0);
    *t = (m1 - m2) / sqrt(v1 + v2);
    *df = (v1 + v2) * (v1 + v2) / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1));
    double tail = *t < 0 ? gsl_cdf_tdist_P(*t, *df) : gsl_cdf_tdist_Q(*t, *df);
    *p = fmin(1.0, 2.0 * tail);
}

static int close_enough(double a, double b, double rtol)
{
    return fabs(a - b) <= rtol * fmax(fabs(a), fabs(b));
}

void gfn_compare_values(const double *ref, int n_ref, const double *new_vals, int n_new,
                        double alpha, double rtol, gfn_compare_cell *c)
{
    memset(c, 0, sizeof *c);
    c->t = c->df = c->p = NAN;
    c->n_ref = gfn_report_mean_std(ref, n_ref, &c->mean_ref, &c->sd_ref);
    c->n_new = gfn_report_mean_std(new_vals, n_new, &c->mean_new, &c->sd_new);
    if (c->n_ref == 0 || c->n_new == 0) {
        c->how = c->n_ref == c->n_new ? "no values" : "one side empty";
        c->differs = c->n_ref != c->n_new;
    } else if (c->n_ref < 2 || c->n_new < 2 || (c->sd_ref == 0 && c->sd_new == 0)) {
        c->how = "exact";
        c->differs = !close_enough(c->mean_ref, c->mean_new, rtol);
    } else {
        c->how = "welch";
        gfn_compare_welch(c->mean_ref, c->sd_ref, c->n_ref, c->mean_new, c->sd_new, c->n_new,
                          &c->t, &c->df, &c->p);
        c->differs = c->p < alpha;
    }
}

/* ---- the two files ---- */

typedef struct {
    char path[4200];
    gfn_finals f;
    double *v; /* (n_rows, n_cols): metric cells as numbers, NaN when empty or not a metric */
} side;

static int is_metric(const gfn_finals *f, int c)
{
    return c > f->col_status;
}

/* Parses every metric cell of the finished rows; a cell that is not a number is
 * an error naming the file, the line and the column. */
static int load_side(const char *dir, side *sd, gfn_error *err)
{
    snprintf(sd->path, sizeof sd->path, "%s/finals.csv", dir);
    int rc = gfn_finals_read(sd->path, &sd->f, err);
    if (rc)
        return rc;
    const gfn_finals *f = &sd->f;
    sd->v = malloc(((size_t)f->n_rows * (size_t)f->n_cols + 1) * sizeof *sd->v);
    GFN_ASSERT(sd->v);
    for (int r = 0; r < f->n_rows; r++)
        for (int c = 0; c < f->n_cols; c++) {
            double *x = &sd->v[(size_t)r * (size_t)f->n_cols + (size_t)c];
            const char *cell = gfn_finals_cell(f, r, c);
            *x = NAN;
            if (!is_metric(f, c) || cell[0] == '\0')
                continue;
            char *end;
            *x = strtod(cell, &end);
            if (end == cell || *end != '\0')
                return gfn_error_set(err, GFN_EFORMAT,
                                     "%s:%d: column '%s': expected a number (or nan, or empty), "
                                     "got '%s'", sd->path, f->line[r], f->header[c], cell);
            if (strcmp(f->header[c], "rounds_to_target") == 0 && *x < 0)
                *x = NAN; /* older runs wrote -1 for "never reached the target" */
        }
    return GFN_OK;
}

static void close_side(side *sd)
{
    gfn_finals_close(&sd->f);
    free(sd->v);
}

/* Index of metric column name, or -1 when it is not one. */
static int metric_col(const side *sd, const char *name)
{
    int c = gfn_finals_col(&sd->f, name);
    return c >= 0 && is_metric(&sd->f, c) ? c : -1;
}

static int has_variant(const side *sd, const char *name)
{
    for (int r = 0; r < sd->f.n_rows; r++)
        if (strcmp(gfn_finals_cell(&sd->f, r, sd->f.col_variant), name) == 0)
            return 1;
    return 0;
}

/* The values of metric column c over variant's finished runs into out; returns how many. */
static int gather(const side *sd, const char *variant, int c, double *out)
{
    const gfn_finals *f = &sd->f;
    int n = 0;
    for (int r = 0; r < f->n_rows; r++)
        if (strcmp(gfn_finals_cell(f, r, f->col_variant), variant) == 0 &&
            strcmp(gfn_finals_cell(f, r, f->col_status), "ok") == 0)
            out[n++] = sd->v[(size_t)r * (size_t)f->n_cols + (size_t)c];
    return n;
}

/* ---- names on either side ---- */

typedef struct {
    const char **names;
    int n;
} name_set;

static void set_add(name_set *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return;
    s->names[s->n++] = name;
}

static void variants_of(const side *a, const side *b, name_set *out)
{
    out->names = malloc((size_t)(a->f.n_rows + b->f.n_rows + 1) * sizeof *out->names);
    GFN_ASSERT(out->names);
    out->n = 0;
    for (int r = 0; r < a->f.n_rows; r++)
        set_add(out, gfn_finals_cell(&a->f, r, a->f.col_variant));
    for (int r = 0; r < b->f.n_rows; r++)
        set_add(out, gfn_finals_cell(&b->f, r, b->f.col_variant));
}

static int metrics_of(const side *a, const side *b, const gfn_compare_opts *o, name_set *out,
                      gfn_error *err)
{
    out->names = malloc((size_t)(a->f.n_cols + b->f.n_cols + (o->metrics ? o->n_metrics : 0) + 1) *
                        sizeof *out->names);
    GFN_ASSERT(out->names);
    out->n = 0;
    if (o->metrics) {
        for (int i = 0; i < o->n_metrics; i++) {
            if (metric_col(a, o->metrics[i]) < 0 && metric_col(b, o->metrics[i]) < 0)
                return gfn_error_set(err, GFN_EUNKNOWN, "metric '%s' is in neither %s nor %s",
                                     o->metrics[i], a->path, b->path);
            set_add(out, o->metrics[i]);
        }
        return GFN_OK;
    }
    /* wall_seconds is a timing: it differs between any two runs by design. */
    for (int k = 0; k < 2; k++) {
        const side *sd = k ? b : a;
        for (int c = sd->f.col_status + 1; c < sd->f.n_cols; c++)
            if (strcmp(sd->f.header[c], "wall_seconds") != 0)
                set_add(out, sd->f.header[c]);
    }
    return GFN_OK;
}

/* ---- printing ---- */

static void print_runs(FILE *out, const char *label, const side *sd)
{
    const gfn_finals *f = &sd->f;
    int ok = 0;
    for (int r = 0; r < f->n_rows; r++)
        ok += strcmp(gfn_finals_cell(f, r, f->col_status), "ok") == 0;
    fprintf(out, "%s %s: %d runs, %d finished\n", label, sd->path, f->n_rows, ok);
    for (int r = 0; r < f->n_rows; r++)
        if (strcmp(gfn_finals_cell(f, r, f->col_status), "ok") != 0)
            fprintf(out, "    %s seed %s: %s (left out)\n", gfn_finals_cell(f, r, f->col_variant),
                    gfn_finals_cell(f, r, f->col_seed), gfn_finals_cell(f, r, f->col_status));
}

static void fmt_side(double mean, double sd, int n, char *buf, size_t cap)
{
    if (n == 0)
        snprintf(buf, cap, "-");
    else if (n == 1)
        snprintf(buf, cap, "%.7g", mean);
    else
        snprintf(buf, cap, "%.7g +- %.2g", mean, sd);
}

static void print_cell(FILE *out, int wv, int wm, const char *variant, const char *metric,
                       const gfn_compare_cell *c)
{
    char r[96], n[96], p[32];
    fmt_side(c->mean_ref, c->sd_ref, c->n_ref, r, sizeof r);
    fmt_side(c->mean_new, c->sd_new, c->n_new, n, sizeof n);
    if (strcmp(c->how, "welch") == 0)
        snprintf(p, sizeof p, "%.3g", c->p);
    else
        snprintf(p, sizeof p, "(%s)", c->how);
    fprintf(out, "%-*s  %-*s  %2d  %-22s  %2d  %-22s  %-14s  %s\n", wv, variant, wm, metric,
            c->n_ref, r, c->n_new, n, p, c->differs ? "DIFFERS" : "same");
}

static void print_one_sided(FILE *out, const char *what, const name_set *names, const side *ref,
                            const side *nw, int is_variant)
{
    for (int i = 0; i < names->n; i++) {
        int in_ref = is_variant ? has_variant(ref, names->names[i]) : metric_col(ref, names->names[i]) >= 0;
        int in_new = is_variant ? has_variant(nw, names->names[i]) : metric_col(nw, names->names[i]) >= 0;
        if (in_ref != in_new)
            fprintf(out, "%s %s: only in %s (not compared)\n", what, names->names[i],
                    in_ref ? "REF" : "NEW");
    }
}

static int compare_sides(const side *ref, const side *nw, const gfn_compare_opts *o, FILE *out,
                         int *n_differ, gfn_error *err)
{
    name_set variants, metrics;
    variants_of(ref, nw, &variants);
    int rc = metrics_of(ref, nw, o, &metrics, err);
    int wv = 7, wm = 6, cells = 0;
    for (int i = 0; i < variants.n; i++)
        wv = (int)fmax(wv, (double)strlen(variants.names[i]));
    for (int i = 0; i < metrics.n; i++)
        wm = (int)fmax(wm, (double)strlen(metrics.names[i]));
    double *a = malloc((size_t)(ref->f.n_rows + 1) * sizeof *a);
    double *b = malloc((size_t)(nw->f.n_rows + 1) * sizeof *b);
    GFN_ASSERT(a && b);
    if (rc == GFN_OK) {
        print_runs(out, "REF", ref);
        print_runs(out, "NEW", nw);
        fprintf(out, "Welch's t-test (two-sided, unequal variances) per variant and metric at "
                     "alpha = %g: DIFFERS when p < alpha.\nFewer than 2 values on a side, or no "
                     "spread on either side: the means compared exactly (relative tolerance %g)."
                     "\n\n", o->alpha, o->rtol);
        fprintf(out, "%-*s  %-*s  %2s  %-22s  %2s  %-22s  %-14s  %s\n", wv, "variant", wm,
                "metric", "n", "REF mean +- std", "n", "NEW mean +- std", "p", "verdict");
    }
    for (int i = 0; rc == GFN_OK && i < variants.n; i++) {
        const char *v = variants.names[i];
        if (!has_variant(ref, v) || !has_variant(nw, v))
            continue;
        for (int j = 0; j < metrics.n; j++) {
            int ca = metric_col(ref, metrics.names[j]), cb = metric_col(nw, metrics.names[j]);
            if (ca < 0 || cb < 0)
                continue;
            gfn_compare_cell c;
            gfn_compare_values(a, gather(ref, v, ca, a), b, gather(nw, v, cb, b), o->alpha,
                               o->rtol, &c);
            print_cell(out, wv, wm, v, metrics.names[j], &c);
            cells++;
            *n_differ += c.differs;
        }
    }
    if (rc == GFN_OK) {
        fprintf(out, "\n");
        print_one_sided(out, "variant", &variants, ref, nw, 1);
        print_one_sided(out, "metric", &metrics, ref, nw, 0);
        fprintf(out, "%d cells compared: %d differ%s\n", cells, *n_differ,
                *n_differ ? "" : " (the new run agrees with the reference)");
    }
    free(a);
    free(b);
    free(variants.names);
    free(metrics.names);
    return rc;
}

int gfn_compare_dirs(const char *ref_dir, const char *new_dir, const gfn_compare_opts *o,
                     FILE *out, int *n_differ, gfn_error *err)
{
    side ref = {0}, nw = {0};
    *n_differ = 0;
    int rc = load_side(ref_dir, &ref, err);
    if (rc == GFN_OK)
        rc = load_side(new_dir, &nw, err);
    if (rc == GFN_OK)
        rc = compare_sides(&ref, &nw, o, out, n_differ, err);
    close_side(&ref);
    close_side(&nw);
    return rc;
}
