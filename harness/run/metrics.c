/* metrics.c - exact metrics of a learned terminal distribution p = p_theta against
 * the target q = p* = R / Z, and the target's reward distribution.
 *
 *   mean reward     sum_x p(x) R(x), as % of E_q[R] = sum_x R(x)^2 / Z
 *   TV              0.5 sum_x |p(x) - q(x)|
 *   KL(q || p)      sum_x q log(q / p)         (+inf if p(x) = 0 < q(x))
 *   KL(p || q)      sum_{p(x) > 0} p log(p / q)
 *   JSD             0.5 KL(p || m) + 0.5 KL(q || m), m = (p + q) / 2
 *   correlations    Pearson, Spearman and the least-squares slope of log p(x)
 *                   against log R(x) (gsl_stats_correlation, gsl_stats_spearman,
 *                   gsl_fit_linear); a perfect sampler has slope 1.
 *   AD distance     sum_j q_j (Fp_j - Fq_j)^2 / (Fq_j (1 - Fq_j)) over the distinct
 *                   reward values z_j, q_j = q(R = z_j), Fp_j and Fq_j the mid-point
 *                   CDFs (mass strictly below z_j plus half the mass at z_j).
 *
 * The AD terms need no guard: with every R > 0 every q_j > 0, so q_j / 2 <= Fq_j
 * <= 1 - q_j / 2.  To keep that true in floating point, 1 - Fq_j is computed as the
 * mass strictly above z_j plus q_j / 2 (never as 1 - Fq_j), and Fp_j - Fq_j as a
 * running sum of p_j - q_j, which also avoids cancelling two nearly equal CDFs.
 * Every sum over x is compensated (Neumaier), so that with n up to 1M terminals
 * the result does not depend on the order of x beyond the last bits.
 */
#include "metrics.h"

#include <gsl/gsl_fit.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ksum.h"
#include "sortd.h"


/* log(a / b) for a, b > 0, accurate when a is near b and safe when a / b over- or
 * underflows. */
static double log_ratio(double a, double b)
{
    double r = a / b;
    if (r > 0 && isfinite(r))
        return log(r);
    return log(a) - log(b);
}

static int check_reward(const double *reward, size_t n, gfn_error *err)
{
    for (size_t x = 0; x < n; x++)
        if (!(reward[x] > 0) || !isfinite(reward[x]))
            return gfn_error_set(err, GFN_EVALUE,
                                 "reward of terminal %zu is %.17g: rewards must be finite and > 0",
                                 x, reward[x]);
    return GFN_OK;
}

static int check_inputs(const double *p, const double *reward, size_t n, gfn_error *err)
{
    if (n < 2)
        return gfn_error_set(err, GFN_EVALUE, "exact metrics need at least 2 terminals (got %zu)",
                             n);
    int st = check_reward(reward, n, err);
    if (st)
        return st;
    gfn_ksum total = {0, 0};
    for (size_t x = 0; x < n; x++) {
        if (!(p[x] >= 0) || !isfinite(p[x]))
            return gfn_error_set(err, GFN_EVALUE,
                                 "p_theta of terminal %zu is %.17g: expected a finite value >= 0",
                                 x, p[x]);
        gfn_ksum_add(&total, p[x]);
    }
    if (fabs(gfn_ksum_get(&total) - 1) > 1e-6)
        return gfn_error_set(err, GFN_EVALUE,
                             "p_theta sums to %.17g over %zu terminals: expected 1 within 1e-6",
                             gfn_ksum_get(&total), n);
    return GFN_OK;
}

/* Mean reward, TV, both KLs and JSD: one pass over x. */
static void divergences(const double *p, const double *reward, size_t n, double Z,
                        gfn_exact_metrics *out)
{
    gfn_ksum mean = {0, 0}, tmean = {0, 0}, tv = {0, 0}, kl_ql = {0, 0}, kl_pq = {0, 0};
    gfn_ksum js = {0, 0};
    int missing = 0;
    for (size_t x = 0; x < n; x++) {
        double q = reward[x] / Z, px = p[x], m = 0.5 * (px + q);
        gfn_ksum_add(&mean, px * reward[x]);
        gfn_ksum_add(&tmean, reward[x] * q);
        gfn_ksum_add(&tv, fabs(px - q));
        if (px > 0) {
            gfn_ksum_add(&kl_ql, q * log_ratio(q, px));
            gfn_ksum_add(&kl_pq, px * log_ratio(px, q));
            gfn_ksum_add(&js, 0.5 * px * log_ratio(px, m));
        } else {
            missing = 1;
        }
        gfn_ksum_add(&js, 0.5 * q * log_ratio(q, m));
    }
    out->mean_reward = gfn_ksum_get(&mean);
    out->target_mean_reward = gfn_ksum_get(&tmean);
    out->mean_reward_pct = 100 * out->mean_reward / out->target_mean_reward;
    out->tv = 0.5 * gfn_ksum_get(&tv);
    out->kl_target_learned = missing ? INFINITY : gfn_ksum_get(&kl_ql);
    out->kl_learned_target = gfn_ksum_get(&kl_pq);
    out->jsd = gfn_ksum_get(&js);
}

/* Pearson, Spearman and slope of log p against log R; lx, ly are (n) and
 * work is (2 n). */
static void correlations(const double *p, const double *reward, size_t n, double *lx,
                         double *ly, double *work, gfn_exact_metrics *out)
{
    for (size_t x = 0; x < n; x++) {
        if (p[x] == 0) {
            out->pearson_logp_logr = out->spearman_logp_logr = out->slope_logp_logr = NAN;
            return;
        }
        lx[x] = log(reward[x]);
        ly[x] = log(p[x]);
    }
    out->pearson_logp_logr = gsl_stats_correlation(lx, 1, ly, 1, n);
    out->spearman_logp_logr = gsl_stats_spearman(lx, 1, ly, 1, n, work);
    double c0, c1, cov00, cov01, cov11, sumsq;
    gsl_fit_linear(lx, 1, ly, 1, n, &c0, &c1, &cov00, &cov01, &cov11, &sumsq);
    out->slope_logp_logr = c1;
}

/* The exact AD distance; perm is (n) and qj, dj, gq are (n) workspace holding,
 * per distinct value z_j, q_j, p_j - q_j and 1 - Fq_j. */
static double ad_distance(const double *p, const double *reward, size_t n, double Z,
                          size_t *perm, double *qj, double *dj, double *gq)
{
    gsl_sort_index(perm, reward, 1, n);
    size_t D = 0;
    for (size_t i = 0; i < n;) {
        double z = reward[perm[i]];
        gfn_ksum q = {0, 0}, d = {0, 0};
        for (; i < n && reward[perm[i]] == z; i++) {
            double qx = reward[perm[i]] / Z;
            gfn_ksum_add(&q, qx);
            gfn_ksum_add(&d, p[perm[i]] - qx);
        }
        qj[D] = gfn_ksum_get(&q);
        dj[D] = gfn_ksum_get(&d);
        D++;
    }
    gfn_ksum above = {0, 0};
    for (size_t j = D; j-- > 0;) {
        gq[j] = gfn_ksum_get(&above) + 0.5 * qj[j];
        gfn_ksum_add(&above, qj[j]);
    }
    gfn_ksum below = {0, 0}, diff = {0, 0}, total = {0, 0};
    for (size_t j = 0; j < D; j++) {
        double Fq = gfn_ksum_get(&below) + 0.5 * qj[j];
        double dF = gfn_ksum_get(&diff) + 0.5 * dj[j];
        GFN_ASSERT_CMP(Fq * gq[j], >, 0);
        gfn_ksum_add(&total, qj[j] * dF * dF / (Fq * gq[j]));
        gfn_ksum_add(&below, qj[j]);
        gfn_ksum_add(&diff, dj[j]);
    }
    return gfn_ksum_get(&total);
}

int gfn_metrics_exact(const double *p_theta, const double *reward, size_t n,
                      double learned_log_z, gfn_exact_metrics *out, gfn_error *err)
{
    int st = check_inputs(p_theta, reward, n, err);
    if (st)
        return st;
    /* One block: lx, ly (n each) and the Spearman work (2 n) for the correlations,
     * then reused as qj, dj, gq (n each) for the AD distance; and perm (n). */
    double *block = malloc(4 * n * sizeof *block);
    size_t *perm = malloc(n * sizeof *perm);
    if (!block || !perm) {
        free(block);
        free(perm);
        return gfn_error_set(err, GFN_ENOMEM, "exact metrics: no memory for %zu terminals", n);
    }
    gfn_ksum z = {0, 0};
    for (size_t x = 0; x < n; x++)
        gfn_ksum_add(&z, reward[x]);
    double Z = gfn_ksum_get(&z);
    memset(out, 0, sizeof *out);
    divergences(p_theta, reward, n, Z, out);
    correlations(p_theta, reward, n, block, block + n, block + 2 * n, out);
    out->log_z = log(Z);
    out->logz_error = learned_log_z - out->log_z;
    out->ad_exact = ad_distance(p_theta, reward, n, Z, perm, block, block + n, block + 2 * n);
    free(block);
    free(perm);
    return GFN_OK;
}

int gfn_reward_dist_init(gfn_reward_dist *d, const double *reward, size_t n, gfn_error *err)
{
    memset(d, 0, sizeof *d);
    if (n == 0)
        return gfn_error_set(err, GFN_EVALUE, "reward distribution of an empty task");
    int st = check_reward(reward, n, err);
    if (st)
        return st;
    double *sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return gfn_error_set(err, GFN_ENOMEM, "reward distribution: no memory for %zu rewards", n);
    memcpy(sorted, reward, n * sizeof *sorted);
    gfn_sort_doubles(sorted, n);
    gfn_ksum z = {0, 0};
    size_t D = 0;
    for (size_t i = 0; i < n; i++) {
        gfn_ksum_add(&z, sorted[i]);
        if (i == 0 || sorted[i] != sorted[i - 1])
            D++;
    }
    double Z = gfn_ksum_get(&z);
    d->value = malloc(D * sizeof *d->value);
    d->mass = malloc(D * sizeof *d->mass);
    if (!d->value || !d->mass) {
        free(sorted);
        gfn_reward_dist_close(d);
        return gfn_error_set(err, GFN_ENOMEM, "reward distribution: no memory for %zu values", D);
    }
    gfn_ksum mean = {0, 0};
    size_t j = 0;
    for (size_t i = 0; i < n;) {
        size_t start = i;
        while (i < n && sorted[i] == sorted[start])
            i++;
        d->value[j] = sorted[start];
        /* count * value / Z is exact up to one rounding per factor, unlike a sum
         * of many equal terms. */
        d->mass[j] = (double)(i - start) * sorted[start] / Z;
        gfn_ksum_add(&mean, d->value[j] * d->mass[j]);
        j++;
    }
    free(sorted);
    d->n = D;
    d->n_terminals = n;
    d->mean = gfn_ksum_get(&mean);
    d->log_z = log(Z);
    d->table = gsl_ran_discrete_preproc(D, d->mass);
    if (!d->table) {
        gfn_reward_dist_close(d);
        return gfn_error_set(err, GFN_ENOMEM, "reward distribution: no memory for the table");
    }
    return GFN_OK;
}

void gfn_reward_dist_close(gfn_reward_dist *d)
{
    if (!d)
        return;
    free(d->value);
    free(d->mass);
    if (d->table)
        gsl_ran_discrete_free(d->table);
    memset(d, 0, sizeof *d);
}

void gfn_reward_dist_sample(const gfn_reward_dist *d, gsl_rng *rng, double *out, size_t N)
{
    GFN_ASSERT(d->table != NULL);
    for (size_t i = 0; i < N; i++)
        out[i] = d->value[gsl_ran_discrete(rng, d->table)];
}
