/* metrics.h - exact metrics between a learned distribution over terminals and the
 * target p*(x) = R(x) / Z, and the target's reward distribution.
 *
 * Arrays are indexed by terminal rank x = 0..n-1 (any order: every metric is
 * invariant to a permutation of x up to rounding).  Logarithms are natural.
 */
#ifndef GFN_METRICS_H
#define GFN_METRICS_H

#include <gsl/gsl_rng.h>
#include <stddef.h>

#include "sortd.h"
#include "status.h"

typedef struct {
    double mean_reward;         /* sum_x p_theta(x) R(x) */
    double target_mean_reward;  /* E_p*[R] = sum_x R(x)^2 / Z */
    double mean_reward_pct;     /* 100 * mean_reward / target_mean_reward */
    double tv;                  /* 0.5 sum_x |p_theta(x) - p*(x)| */
    double kl_target_learned;   /* KL(p* || p_theta); +inf when p_theta misses support */
    double kl_learned_target;   /* KL(p_theta || p*) */
    double jsd;                 /* Jensen-Shannon divergence, in [0, ln 2] */
    /* Of log p_theta(x) against log R(x) over all x.  All three are NaN when some
     * p_theta(x) = 0 (log p_theta is -inf there) or when R is constant; the two
     * correlations are also NaN when p_theta is constant (its slope is then 0). */
    double pearson_logp_logr;
    double spearman_logp_logr;
    double slope_logp_logr;     /* least squares: log p_theta = c0 + slope * log R */
    double log_z;               /* true log Z */
    double logz_error;          /* learned log Z - true log Z (NaN if none given) */
    double ad_exact;            /* exact Anderson-Darling distance, see metrics.c */
} gfn_exact_metrics;

/* All exact metrics.  p_theta and reward are (n); p_theta must be finite, >= 0
 * and sum to 1 within 1e-6 (it is used as given, not renormalised); reward must be
 * finite and > 0; learned_log_z may be NaN.  Allocates about 5 n doubles of
 * workspace for the call (40 MB at n = 1M); GFN_EVALUE names the first bad entry. */
int gfn_metrics_exact(const double *p_theta, const double *reward, size_t n,
                      double learned_log_z, gfn_exact_metrics *out, gfn_error *err);

/* The target reward distribution: the distinct reward values z_j, ascending, and
 * the target mass p*(R = z_j) = count_j z_j / Z at each, kept in the compact
 * form of sortd.h (about 6 bytes a value: 125 MB for sehstr's 21M distinct
 * rewards), and draws from it that are those of gsl_ran_discrete on a table of
 * the masses, bit for bit, without building the table (metrics.c). */
typedef struct {
    size_t n;          /* number of distinct reward values */
    size_t n_terminals; /* number of terminals it was built from, abs(X) */
    double mean;       /* E_p*[R] = sum_j value_j mass_j */
    double log_z;      /* log Z, Z = sum_x R(x) */
    double z;          /* Z, compensated sum in ascending order */
    double mass_sum;   /* sum_j mass_j in plain ascending summation, as GSL's table sums */
    gfn_distinct values;
} gfn_reward_dist;

/* From the reward of every terminal (n); reads reward a few times but needs no
 * copy of it (sortd.h: gfn_distinct). */
int gfn_reward_dist_init(gfn_reward_dist *d, const double *reward, size_t n, gfn_error *err);
void gfn_reward_dist_close(gfn_reward_dist *d);
/* Frees the values, keeping n, mean, log_z, z and mass_sum: no more draws (the
 * values are the largest part; a run needs them only for the AD target draws). */
void gfn_reward_dist_release(gfn_reward_dist *d);
/* The distinct values and their masses, ascending, into value and mass (n each). */
void gfn_reward_dist_values(const gfn_reward_dist *d, double *value, double *mass);
/* N independent draws of R(x), x ~ p*, into out (N): the values that
 * gsl_ran_discrete(rng, gsl_ran_discrete_preproc(n, mass)) would index, one
 * gsl_rng_uniform per draw.  Allocates about 24 N + n / 8 bytes for the call;
 * GFN_ENOMEM when it cannot. */
int gfn_reward_dist_sample(const gfn_reward_dist *d, gsl_rng *rng, double *out, size_t N,
                           gfn_error *err);

#endif
