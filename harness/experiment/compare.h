/* compare.h - does a new run of an experiment agree with a reference run?
 *
 * Both sides are experiment folders holding a finals.csv (finals.h).  For every
 * variant and metric the finished runs' values of each side are compared:
 *   - Welch's two-sided t-test (unequal variances):
 *       t = (m1 - m2) / sqrt(s1^2/n1 + s2^2/n2),
 *       df = (s1^2/n1 + s2^2/n2)^2 / ((s1^2/n1)^2/(n1-1) + (s2^2/n2)^2/(n2-1))
 *     (Welch-Satterthwaite), p = 2 P(T_df > |t|); the cell DIFFERS when p < alpha;
 *   - with fewer than two values on a side, or no spread on either side (a
 *     deterministic rerun gives identical values), the means are compared exactly:
 *     they are the same when |m1 - m2| <= rtol * max(|m1|, |m2|);
 *   - non-finite values (rounds_to_target of a run that never reached the target:
 *     nan, or -1 as older runs wrote it) are left out; a cell where only one side
 *     has values DIFFERS, one where neither has any is the same.
 */
#ifndef GFN_COMPARE_H
#define GFN_COMPARE_H

#include <stdio.h>

#include "status.h"

/* Welch's test of two samples given by their means, sample stds (n-1) and sizes
 * (n1, n2 >= 2, not both stds zero): *t, *df and the two-sided p-value *p. */
void gfn_compare_welch(double m1, double s1, int n1, double m2, double s2, int n2, double *t,
                       double *df, double *p);

/* The comparison of one variant's metric. */
typedef struct {
    int n_ref, n_new;                 /* finite values on each side */
    double mean_ref, sd_ref, mean_new, sd_new;
    double t, df, p;                  /* NaN when the test was not used */
    const char *how;                  /* "welch", "exact", "no values", "one side empty" */
    int differs;
} gfn_compare_cell;

/* Compares ref (n_ref,) with new_vals (n_new,) as described above. */
void gfn_compare_values(const double *ref, int n_ref, const double *new_vals, int n_new,
                        double alpha, double rtol, gfn_compare_cell *c);

typedef struct {
    double alpha;               /* level of the test (default 0.01) */
    double rtol;                /* relative tolerance of exact comparisons (default 1e-9) */
    const char *const *metrics; /* NULL: every metric of either file but wall_seconds */
    int n_metrics;
} gfn_compare_opts;

/* Compares REF_DIR/finals.csv with NEW_DIR/finals.csv and prints the table to out.
 * *n_differ gets the number of cells that differ.  A missing or malformed file, or
 * a --metrics name in neither file, is an error (nothing is compared). */
int gfn_compare_dirs(const char *ref_dir, const char *new_dir, const gfn_compare_opts *o,
                     FILE *out, int *n_differ, gfn_error *err);

#endif
