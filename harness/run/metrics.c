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
    if (gfn_distinct_build(&d->values, reward, n))
        return gfn_error_set(err, GFN_ENOMEM, "reward distribution: no memory for %zu rewards", n);
    /* Z over the rewards in ascending order, each copy of a value added once; the
     * masses count * value / Z are exact up to one rounding per factor, unlike a
     * sum of many equal terms. */
    gfn_distinct_iter it;
    double v;
    size_t c;
    gfn_ksum z = {0, 0}, mean = {0, 0};
    gfn_distinct_begin(&d->values, &it);
    while (gfn_distinct_next(&it, &v, &c))
        for (size_t i = 0; i < c; i++)
            gfn_ksum_add(&z, v);
    double Z = gfn_ksum_get(&z), total = 0;
    gfn_distinct_begin(&d->values, &it);
    while (gfn_distinct_next(&it, &v, &c)) {
        double mass = (double)c * v / Z;
        gfn_ksum_add(&mean, v * mass);
        total += mass;
    }
    d->n = d->values.n;
    d->n_terminals = n;
    d->mean = gfn_ksum_get(&mean);
    d->z = Z;
    d->log_z = log(Z);
    d->mass_sum = total;
    return GFN_OK;
}

void gfn_reward_dist_close(gfn_reward_dist *d)
{
    if (!d)
        return;
    gfn_distinct_close(&d->values);
    memset(d, 0, sizeof *d);
}

void gfn_reward_dist_release(gfn_reward_dist *d) { gfn_distinct_close(&d->values); }

void gfn_reward_dist_values(const gfn_reward_dist *d, double *value, double *mass)
{
    gfn_distinct_iter it;
    size_t c, j = 0;
    gfn_distinct_begin(&d->values, &it);
    while (gfn_distinct_next(&it, &value[j], &c)) {
        mass[j] = (double)c * value[j] / d->z;
        j++;
    }
    GFN_ASSERT_CMP(j, ==, d->n);
}

/* ---- draws: Walker's alias method as gsl_ran_discrete_preproc builds it -----
 * GSL normalises E_k = mass_k / mass_sum, calls k small when E_k < 1/K (K = n)
 * and big otherwise, and pushes the smalls and the bigs in increasing k onto two
 * stacks.  It then pops a small s and the top big b: F_s = K E_s, A_s = b, and
 * E_b -= 1/K - E_s; b goes back onto the bigs if still above 1/K, onto the smalls
 * if below (and is then the next small popped), and is done (F = 1, A = b) if
 * equal.  With no bigs left a small gets F = 1, A = s; the bigs left at the end
 * too.  Finally F'_k = (F_k + k) / K, and a draw with u = gsl_rng_uniform is
 * c = (size_t)(u K), then c if F'_c == 1 or u < F'_c, else A_c.
 * So both stacks are only ever read from the top down in decreasing k, with at
 * most one former big in between: two cursors walking the distinct values
 * downwards, one over the smalls and one over the bigs, replay the construction
 * with the same floating-point operations in the same order, and only the
 * entries that some draw looks at are kept. */

typedef struct {
    gfn_distinct_iter it;
    size_t k;     /* index of the current entry; k = n before the first */
    double value, e;
} walk_cursor;

typedef struct {
    size_t c, i; /* draw i looks at entry c */
} draw_ref;

typedef struct {
    double mean, mass_sum, Z, K;
    const double *u;    /* (N) the draws' uniforms */
    double *out;        /* (N) */
    const draw_ref *order; /* (N) draws by increasing c = (size_t)(u K), then i */
    const uint8_t *hit; /* (n / 8 + 1) bit c: some draw looks at entry c */
    size_t N;
} walk;

/* The next entry below the cursor whose class (small: E < 1/K) is `small`. */
static int cursor_next(const walk *w, walk_cursor *cur, int small)
{
    size_t cnt;
    while (gfn_distinct_prev(&cur->it, &cur->value, &cnt)) {
        cur->k--;
        double mass = (double)cnt * cur->value / w->Z;
        cur->e = mass / w->mass_sum;
        if ((cur->e < w->mean) == small)
            return 1;
    }
    return 0;
}

/* Entry k is final: F_k (before the Knuth adjustment) and A_k, whose value is va.
 * Sets the result of every draw that looks at k. */
static void settle(const walk *w, size_t k, double Fk, double vk, double va)
{
    if (!(w->hit[k >> 3] & (1u << (k & 7))))
        return;
    size_t lo = 0, hi = w->N; /* first draw with c >= k */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->order[mid].c < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    double f = Fk + (double)k;
    f /= w->K;
    for (; lo < w->N && w->order[lo].c == k; lo++) {
        size_t i = w->order[lo].i;
        w->out[i] = f == 1.0 || w->u[i] < f ? vk : va;
    }
}

static void alias_walk(const gfn_reward_dist *d, const walk *w)
{
    walk_cursor sm, bg, pend;
    gfn_distinct_end(&d->values, &sm.it);
    bg = sm;
    sm.k = bg.k = d->n;
    int have_big = cursor_next(w, &bg, 0), have_pend = 0;
    for (;;) {
        walk_cursor s;
        if (have_pend) {
            s = pend;
            have_pend = 0;
        } else if (cursor_next(w, &sm, 1)) {
            s = sm;
        } else {
            break;
        }
        if (!have_big) {
            settle(w, s.k, 1.0, s.value, s.value);
            continue;
        }
        settle(w, s.k, w->K * s.e, s.value, bg.value);
        double delta = w->mean - s.e;
        bg.e -= delta;
        if (bg.e < w->mean) {
            pend = bg;
            have_pend = 1;
            have_big = cursor_next(w, &bg, 0);
        } else if (!(bg.e > w->mean)) {
            settle(w, bg.k, 1.0, bg.value, bg.value);
            have_big = cursor_next(w, &bg, 0);
        }
    }
    for (; have_big; have_big = cursor_next(w, &bg, 0))
        settle(w, bg.k, 1.0, bg.value, bg.value);
}

static int by_c(const void *a, const void *b)
{
    const draw_ref *x = a, *y = b;
    return x->c != y->c ? (x->c > y->c) - (x->c < y->c) : (x->i > y->i) - (x->i < y->i);
}

int gfn_reward_dist_sample(const gfn_reward_dist *d, gsl_rng *rng, double *out, size_t N,
                           gfn_error *err)
{
    GFN_ASSERT(d->n > 0 && d->values.n == d->n); /* built and not released */
    if (N == 0)
        return GFN_OK;
    double *u = malloc(N * sizeof *u);
    draw_ref *order = malloc(N * sizeof *order);
    uint8_t *hit = calloc(d->n / 8 + 1, 1);
    int rc = GFN_OK;
    if (!u || !order || !hit) {
        rc = gfn_error_set(err, GFN_ENOMEM, "reward distribution: no memory for %zu draws", N);
    } else {
        walk w = {1.0 / (double)d->n, d->mass_sum, d->z, (double)d->n, u, out, order, hit, N};
        for (size_t i = 0; i < N; i++) {
            u[i] = gsl_rng_uniform(rng);
            size_t c = (size_t)(u[i] * w.K);
            GFN_ASSERT_CMP(c, <, d->n);
            hit[c >> 3] |= (uint8_t)(1u << (c & 7));
            order[i] = (draw_ref){c, i};
            out[i] = NAN;
        }
        qsort(order, N, sizeof *order, by_c);
        alias_walk(d, &w);
        for (size_t i = 0; i < N; i++)
            GFN_ASSERT(!isnan(out[i]));
    }
    free(u);
    free(order);
    free(hit);
    return rc;
}
