/* ad.h - the k-sample Anderson-Darling test of Scholz and Stephens (1987).
 *
 * Computes exactly what scipy.stats.anderson_ksamp(samples, midrank=True)
 * computes in scipy 1.10.1: the midrank statistic A2akN (their equation 7),
 * standardised as (A2akN - (k-1)) / sigma, the critical values of their table 2
 * for the significance levels 25%, 10%, 5%, 2.5%, 1%, 0.5%, 0.1%, and scipy's
 * approximate significance level (a quadratic fit of log(level) against the
 * critical values, capped at 0.25 and floored at 0.001).  The paper's score is
 * statistic / critical value at 5% (1.961 for two samples): above 1 rejects
 * equality of the distributions at the 5% level.
 */
#ifndef GFN_AD_H
#define GFN_AD_H

#include <stddef.h>

#include "status.h"

#define GFN_AD_NLEVELS 7
/* Index of the 5% level in gfn_ad_levels and gfn_ad_result.critical. */
#define GFN_AD_LEVEL_5PCT 2

/* Significance levels of the critical values: 0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001. */
extern const double gfn_ad_levels[GFN_AD_NLEVELS];

typedef struct {
    double statistic;                 /* standardised: (a2akn - (k-1)) / sigma */
    double a2akn;                     /* the unstandardised midrank statistic */
    double sigma;                     /* its standard deviation under the null */
    double critical[GFN_AD_NLEVELS];  /* critical values at gfn_ad_levels */
    double significance;              /* scipy's approximate p-value */
    /* +1 when significance was capped at 0.25 (the true value is larger), -1 when
     * floored at 0.001 (the true value is smaller), 0 when interpolated.  scipy
     * warns in the first two cases; callers that talk to a user should too. */
    int bound;
} gfn_ad_result;

/* k >= 2 samples; samples[i] is (sizes[i]), in any order.  Errors (GFN_EVALUE),
 * as in scipy: fewer than 2 samples, an empty sample, fewer than 2 distinct
 * values overall; and, where scipy returns an IndexError or NaN, fewer than 4
 * observations in total; a NaN in a sample.  Allocates and frees a copy. */
int gfn_ad_ksamp(const double *const *samples, const size_t *sizes, int k,
                 gfn_ad_result *out, gfn_error *err);

/* The same with every samples[i] already sorted ascending (checked).  work is
 * (4 * N) with N the total size, or NULL to allocate it for this call; with a
 * work array and k <= 16 nothing is allocated. */
int gfn_ad_ksamp_sorted(const double *const *samples, const size_t *sizes, int k,
                        double *work, gfn_ad_result *out, gfn_error *err);

/* Two samples a (na) and b (nb). */
int gfn_ad_2samp(const double *a, size_t na, const double *b, size_t nb, gfn_ad_result *out,
                 gfn_error *err);

/* Critical values for k samples at gfn_ad_levels (out is (GFN_AD_NLEVELS)). */
void gfn_ad_critical(int k, double *out);

/* The paper's score: statistic / critical value at 5%. */
double gfn_ad_score(const gfn_ad_result *r);

/* numpy's pairwise summation of a (n), bit for bit as np.sum of a contiguous
 * float64 array; shared with the metrics so both sum like the reference. */
double gfn__ad_pairwise_sum(const double *a, size_t n);

/* The body of `gfnbench ad` (harness/cli/cmd_ad.c) writing to out and errf, so that
 * its test can capture both; returns the exit status. */
int gfn__ad_cmd_run(int argc, char **argv, FILE *out, FILE *errf);

#endif
