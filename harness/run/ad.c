/* ad.c - the k-sample Anderson-Darling test (Scholz and Stephens 1987, midrank).
 *
 * With k samples of sizes n_i, N = sum n_i observations, distinct values
 * z_1 < ... < z_D, l_j the number of observations equal to z_j, B_j = (number
 * below z_j) + l_j / 2 and M_ij = (number of sample i below z_j) + (number of
 * sample i equal to z_j) / 2, the midrank statistic (their equation 7) is
 *
 *   A2akN = (N - 1) / N * sum_i 1/n_i * sum_j l_j / N * (N M_ij - B_j n_i)^2
 *                                        / (B_j (N - B_j) - N l_j / 4),
 *
 * standardised as (A2akN - (k - 1)) / sigma with sigma^2 = (a N^3 + b N^2 + c N
 * + d) / ((N - 1)(N - 2)(N - 3)) and a, b, c, d from H = sum 1/n_i,
 * h = sum_{i<N} 1/i and g = sum_{i=1}^{N-2} sum_{j=i+1}^{N-1} 1/((N - i) j).
 * Critical values are b0 + b1 / sqrt(k-1) + b2 / (k-1) (their table 2) and the
 * significance is exp of a least-squares quadratic in the statistic fitted to
 * log(level) at the critical values, capped to [0.001, 0.25].
 *
 * Every operation is done in the order scipy 1.10.1 (_morestats.py) and numpy
 * 1.24 do it, including numpy's pairwise summation, so the statistic agrees to
 * the last bits even when A2akN - (k - 1) cancels.
 */
#include "ad.h"

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_sort.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const double gfn_ad_levels[GFN_AD_NLEVELS] = {0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001};

/* Table 2 of Scholz and Stephens (1987), as in scipy. */
static const double B0[GFN_AD_NLEVELS] = {0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085};
static const double B1[GFN_AD_NLEVELS] = {-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615};
static const double B2[GFN_AD_NLEVELS] = {-0.105, -0.305, -0.362, -0.391, -0.396, -0.345,
                                          -0.154};

/* Up to this many samples the merge positions live on the stack, so that a call
 * with a caller's work array allocates nothing. */
#define AD_K_STACK 16
/* numpy's PW_BLOCKSIZE. */
#define PAIRWISE_BLOCK 128

double gfn__ad_pairwise_sum(const double *a, size_t n)
{
    if (n < 8) {
        double res = 0.;
        for (size_t i = 0; i < n; i++)
            res += a[i];
        return res;
    }
    if (n <= PAIRWISE_BLOCK) {
        double r[8];
        size_t i;
        for (int j = 0; j < 8; j++)
            r[j] = a[j];
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return gfn__ad_pairwise_sum(a, n2) + gfn__ad_pairwise_sum(a + n2, n - n2);
}

void gfn_ad_critical(int k, double *out)
{
    GFN_ASSERT(k >= 2);
    double m = (double)(k - 1);
    for (int i = 0; i < GFN_AD_NLEVELS; i++)
        out[i] = B0[i] + B1[i] / sqrt(m) + B2[i] / m;
}

double gfn_ad_score(const gfn_ad_result *r)
{
    return r->statistic / r->critical[GFN_AD_LEVEL_5PCT];
}

/* The distinct values of the k sorted samples by a k-way merge: zstar, lj and
 * left (count strictly below) are (D); returns D. */
static size_t merge_distinct(const double *const *s, const size_t *n, int k, size_t *pos,
                             double *zstar, double *lj, double *left)
{
    size_t D = 0, below = 0;
    for (int i = 0; i < k; i++)
        pos[i] = 0;
    for (;;) {
        int any = 0;
        double z = 0;
        for (int i = 0; i < k; i++)
            if (pos[i] < n[i] && (!any || s[i][pos[i]] < z)) {
                z = s[i][pos[i]];
                any = 1;
            }
        if (!any)
            return D;
        size_t count = 0;
        for (int i = 0; i < k; i++)
            while (pos[i] < n[i] && s[i][pos[i]] == z) {
                pos[i]++;
                count++;
            }
        zstar[D] = z;
        lj[D] = (double)count;
        left[D] = (double)below;
        below += count;
        D++;
    }
}

/* sum_j inner_ij of equation 7 for one sorted sample s (ni), summed like numpy. */
static double sample_term(const double *s, size_t ni, size_t N, size_t D, const double *zstar,
                          const double *lj, const double *left, double *inner)
{
    size_t p = 0;
    double dN = (double)N;
    for (size_t j = 0; j < D; j++) {
        while (p < ni && s[p] < zstar[j])
            p++;
        size_t lo = p;
        while (p < ni && s[p] == zstar[j])
            p++;
        double Mij = (double)p;
        Mij -= (double)(p - lo) / 2.;
        double Bj = left[j] + lj[j] / 2.;
        double diff = dN * Mij - Bj * (double)ni;
        inner[j] = lj[j] / dN * (diff * diff) / (Bj * (dN - Bj) - dN * lj[j] / 4.);
    }
    return gfn__ad_pairwise_sum(inner, D);
}

/* sigma^2 of A2akN under the null; work is (N) and invn is (k). */
static double null_variance(const size_t *n, int k, size_t N, double *work, double *invn)
{
    for (int i = 0; i < k; i++)
        invn[i] = 1. / (double)n[i];
    double H = gfn__ad_pairwise_sum(invn, (size_t)k);
    /* hs_cs[t] = sum_{u<=t} 1/(N-1-u), t = 0..N-3; h = hs_cs[-1] + 1. */
    double cs = 0.;
    size_t T = N - 2;
    for (size_t t = 0; t < T; t++) {
        cs += 1. / (double)(N - 1 - t);
        work[t] = cs / (double)(t + 2);
    }
    double h = cs + 1;
    double g = gfn__ad_pairwise_sum(work, T);
    double dk = (double)k, k2 = (double)(k * k);
    double a = (4 * g - 6) * (dk - 1) + (10 - 6 * g) * H;
    double b = (2 * g - 4) * k2 + 8 * h * dk + (2 * g - 14 * h - 4) * H - 8 * h + 4 * g - 6;
    double c = (6 * h + 2 * g - 2) * k2 + (4 * h - 4 * g + 6) * dk + (2 * h - 6) * H + 4 * h;
    double d = (2 * h + 6) * k2 - 4 * h * dk;
    /* N^3 and N^2 as exact integers first, as Python does. */
    double N3 = (double)((uint64_t)N * N * N), N2 = (double)((uint64_t)N * N), dN = (double)N;
    return (a * N3 + b * N2 + c * dN + d) / ((dN - 1.) * (dN - 2.) * (dN - 3.));
}

/* scipy's significance: exp(polyval(polyfit(critical, log(levels), 2), A2)),
 * capped and floored at the table's ends.  np.polyfit scales the Vandermonde
 * columns to unit norm before its least-squares solve; so does this QR solve. */
static void significance(gfn_ad_result *r)
{
    double cmin = r->critical[0], cmax = r->critical[0];
    for (int i = 1; i < GFN_AD_NLEVELS; i++) {
        cmin = fmin(cmin, r->critical[i]);
        cmax = fmax(cmax, r->critical[i]);
    }
    if (r->statistic < cmin) {
        r->significance = 0.25;
        r->bound = 1;
        return;
    }
    if (r->statistic > cmax) {
        r->significance = 0.001;
        r->bound = -1;
        return;
    }
    double A[GFN_AD_NLEVELS * 3], y[GFN_AD_NLEVELS], res[GFN_AD_NLEVELS], scale[3] = {0, 0, 0};
    double tau[3], coef[3];
    for (int i = 0; i < GFN_AD_NLEVELS; i++) {
        double x = r->critical[i];
        A[3 * i] = x * x;
        A[3 * i + 1] = x;
        A[3 * i + 2] = 1.;
        y[i] = log(gfn_ad_levels[i]);
        for (int j = 0; j < 3; j++)
            scale[j] += A[3 * i + j] * A[3 * i + j];
    }
    for (int j = 0; j < 3; j++)
        scale[j] = sqrt(scale[j]);
    for (int i = 0; i < GFN_AD_NLEVELS; i++)
        for (int j = 0; j < 3; j++)
            A[3 * i + j] /= scale[j];
    gsl_matrix_view Av = gsl_matrix_view_array(A, GFN_AD_NLEVELS, 3);
    gsl_vector_view tv = gsl_vector_view_array(tau, 3), yv = gsl_vector_view_array(y, GFN_AD_NLEVELS);
    gsl_vector_view cv = gsl_vector_view_array(coef, 3), rv = gsl_vector_view_array(res, GFN_AD_NLEVELS);
    int st = gsl_linalg_QR_decomp(&Av.matrix, &tv.vector);
    GFN_ASSERT(st == 0);
    st = gsl_linalg_QR_lssolve(&Av.matrix, &tv.vector, &yv.vector, &cv.vector, &rv.vector);
    GFN_ASSERT(st == 0);
    double p = 0.;
    for (int j = 0; j < 3; j++)
        p = p * r->statistic + coef[j] / scale[j];
    r->significance = exp(p);
    r->bound = 0;
}

static int check_inputs(const double *const *samples, const size_t *sizes, int k, int sorted,
                        size_t *N, gfn_error *err)
{
    if (k < 2)
        return gfn_error_set(err, GFN_EVALUE, "anderson_ksamp needs at least two samples (got %d)",
                             k);
    *N = 0;
    for (int i = 0; i < k; i++) {
        if (sizes[i] == 0)
            return gfn_error_set(err, GFN_EVALUE,
                                 "anderson_ksamp encountered sample without observations "
                                 "(sample %d is empty)", i + 1);
        for (size_t t = 0; t < sizes[i]; t++) {
            if (isnan(samples[i][t]))
                return gfn_error_set(err, GFN_EVALUE,
                                     "anderson_ksamp: sample %d has NaN at position %zu", i + 1,
                                     t + 1);
            if (sorted && t > 0 && samples[i][t] < samples[i][t - 1])
                return gfn_error_set(err, GFN_EVALUE,
                                     "anderson_ksamp: sample %d is not sorted at position %zu",
                                     i + 1, t + 1);
        }
        *N += sizes[i];
    }
    /* scipy fails here too, with an IndexError (N = 2) or returns NaN (N = 3). */
    if (*N < 4)
        return gfn_error_set(err, GFN_EVALUE,
                             "anderson_ksamp needs at least 4 observations in total (got %zu)", *N);
    return GFN_OK;
}

int gfn_ad_ksamp_sorted(const double *const *samples, const size_t *sizes, int k, double *work,
                        gfn_ad_result *out, gfn_error *err)
{
    size_t N = 0;
    int st = check_inputs(samples, sizes, k, 1, &N, err);
    if (st)
        return st;
    double *own = NULL;
    size_t pos_stack[AD_K_STACK], *pos = pos_stack, *own_pos = NULL;
    if (!work && !(work = own = malloc(4 * N * sizeof *work)))
        return gfn_error_set(err, GFN_ENOMEM, "anderson_ksamp: no memory for %zu values", N);
    if (k > AD_K_STACK && !(pos = own_pos = malloc((size_t)k * sizeof *pos))) {
        free(own);
        return gfn_error_set(err, GFN_ENOMEM, "anderson_ksamp: no memory for %d samples", k);
    }
    double *zstar = work, *lj = work + N, *left = work + 2 * N, *inner = work + 3 * N;
    size_t D = merge_distinct(samples, sizes, k, pos, zstar, lj, left);
    free(own_pos);
    if (D < 2) {
        free(own);
        return gfn_error_set(err, GFN_EVALUE,
                             "anderson_ksamp needs more than one distinct observation "
                             "(all %zu values equal %.17g)", N, zstar[0]);
    }
    double A2 = 0.;
    for (int i = 0; i < k; i++)
        A2 += sample_term(samples[i], sizes[i], N, D, zstar, lj, left, inner) / (double)sizes[i];
    A2 *= ((double)N - 1.) / (double)N;
    double sigmasq = null_variance(sizes, k, N, work, work + 3 * N);
    free(own);
    if (!(sigmasq > 0) || !isfinite(sigmasq))
        return gfn_error_set(err, GFN_EVALUE,
                             "anderson_ksamp: the null variance is %.17g for these sample sizes "
                             "(too few observations)", sigmasq);
    out->a2akn = A2;
    out->sigma = sqrt(sigmasq);
    out->statistic = (A2 - (double)(k - 1)) / out->sigma;
    gfn_ad_critical(k, out->critical);
    significance(out);
    return GFN_OK;
}

int gfn_ad_ksamp(const double *const *samples, const size_t *sizes, int k, gfn_ad_result *out,
                 gfn_error *err)
{
    size_t N = 0;
    int st = check_inputs(samples, sizes, k, 0, &N, err);
    if (st)
        return st;
    double *copy = malloc(5 * N * sizeof *copy);
    const double **sorted = malloc((size_t)k * sizeof *sorted);
    if (!copy || !sorted) {
        free(copy);
        free((void *)sorted);
        return gfn_error_set(err, GFN_ENOMEM, "anderson_ksamp: no memory for %zu values", N);
    }
    size_t off = 0;
    for (int i = 0; i < k; i++) {
        memcpy(copy + off, samples[i], sizes[i] * sizeof *copy);
        gsl_sort(copy + off, 1, sizes[i]);
        sorted[i] = copy + off;
        off += sizes[i];
    }
    st = gfn_ad_ksamp_sorted(sorted, sizes, k, copy + N, out, err);
    free(copy);
    free((void *)sorted);
    return st;
}

int gfn_ad_2samp(const double *a, size_t na, const double *b, size_t nb, gfn_ad_result *out,
                 gfn_error *err)
{
    const double *s[2] = {a, b};
    size_t n[2] = {na, nb};
    return gfn_ad_ksamp(s, n, 2, out, err);
}
