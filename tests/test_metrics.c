/* test_metrics.c - exact metrics and the target reward distribution.
 *
 * Reference values: tests/ref/metrics_ref.tsv from tests/ref/metrics_ref.py
 * (numpy/scipy); plus one case checked by hand below.
 */
#include <CUnit/CUnit.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "status.h"

#define METRICS_REF "tests/ref/metrics_ref.tsv"
#define NFIELDS 13

/* NaN matches NaN and inf matches inf: both are results, not failures. */
static int close_enough(const char *what, const char *name, double got, double want, double rel,
                        double abs_tol)
{
    if (isnan(want) && isnan(got))
        return 1;
    if (isinf(want) && got == want)
        return 1;
    if (fabs(got - want) <= abs_tol + rel * fabs(want))
        return 1;
    fprintf(stderr, "\n%s %s: got %.17g want %.17g\n", name, what, got, want);
    return 0;
}

static void fields(const gfn_exact_metrics *m, double *v)
{
    double f[NFIELDS] = {m->mean_reward_pct, m->tv, m->kl_target_learned, m->kl_learned_target,
                         m->jsd, m->pearson_logp_logr, m->spearman_logp_logr,
                         m->slope_logp_logr, m->log_z, m->logz_error, m->ad_exact,
                         m->target_mean_reward, m->mean_reward};
    memcpy(v, f, sizeof f);
}

static const char *NAMES[NFIELDS] = {"mean_reward_pct", "tv", "kl_target_learned",
                                     "kl_learned_target", "jsd", "pearson", "spearman", "slope",
                                     "log_z", "logz_error", "ad_exact", "target_mean", "mean"};

static size_t parse_list(char *s, double *out, size_t cap)
{
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(s, ",", &save); t && n < cap; t = strtok_r(NULL, ",", &save))
        out[n++] = strtod(t, NULL);
    return n;
}

static void test_against_reference(void)
{
    FILE *f = fopen(METRICS_REF, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static char line[65536];
    double p[256], R[256];
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        line[strcspn(line, "\n")] = 0;
        char *cols[4 + NFIELDS], *save = NULL;
        int nc = 0;
        for (char *c = strtok_r(line, "\t", &save); c && nc < 4 + NFIELDS;
             c = strtok_r(NULL, "\t", &save))
            cols[nc++] = c;
        CU_ASSERT_EQUAL_FATAL(nc, 4 + NFIELDS);
        size_t n = parse_list(cols[2], p, 256);
        CU_ASSERT_EQUAL_FATAL(parse_list(cols[3], R, 256), n);
        gfn_exact_metrics m;
        gfn_error err;
        int st = gfn_metrics_exact(p, R, n, strtod(cols[1], NULL), &m, &err);
        if (st)
            fprintf(stderr, "\n%s: %s\n", cols[0], err.msg);
        CU_ASSERT_EQUAL_FATAL(st, GFN_OK);
        double got[NFIELDS];
        fields(&m, got);
        for (int i = 0; i < NFIELDS; i++)
            CU_ASSERT(close_enough(NAMES[i], cols[0], got[i], strtod(cols[4 + i], NULL), 1e-10,
                                   1e-13));
        rows++;
    }
    fclose(f);
    CU_ASSERT_EQUAL(rows, 7);
}

static void test_hand_checked(void)
{
    /* R = (1, 3): Z = 4, q = (1/4, 3/4); p = (1/2, 1/2).
     * target mean = (1 + 9) / 4 = 2.5; mean = 2 -> 80%.
     * TV = 0.5 (1/4 + 1/4) = 1/4.
     * KL(q||p) = 1/4 ln(1/2) + 3/4 ln(3/2); KL(p||q) = 1/2 ln 2 + 1/2 ln(2/3).
     * AD: z=1: q=1/4, Fq = 1/8, 1-Fq = 7/8, Fp = 1/4 -> 1/4 (1/8)^2 / (7/64) = 1/28;
     *     z=3: q=3/4, Fq = 5/8, 1-Fq = 3/8, Fp = 3/4 -> 3/4 (1/8)^2 / (15/64) = 1/20;
     *     total 1/28 + 1/20 = 3/35. */
    double p[2] = {0.5, 0.5}, R[2] = {1, 3};
    gfn_exact_metrics m;
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_metrics_exact(p, R, 2, log(4.0) + 0.25, &m, &err), GFN_OK);
    CU_ASSERT(close_enough("target mean", "hand", m.target_mean_reward, 2.5, 1e-15, 0));
    CU_ASSERT(close_enough("pct", "hand", m.mean_reward_pct, 80, 1e-15, 0));
    CU_ASSERT(close_enough("tv", "hand", m.tv, 0.25, 1e-15, 0));
    CU_ASSERT(close_enough("klq", "hand", m.kl_target_learned, 0.25 * log(0.5) + 0.75 * log(1.5),
                           1e-14, 0));
    CU_ASSERT(close_enough("klp", "hand", m.kl_learned_target, 0.5 * log(2) + 0.5 * log(2 / 3.0),
                           1e-14, 0));
    CU_ASSERT(close_enough("ad", "hand", m.ad_exact, 3.0 / 35, 1e-14, 0));
    CU_ASSERT(close_enough("logz err", "hand", m.logz_error, 0.25, 1e-14, 0));
    CU_ASSERT(m.jsd >= 0 && m.jsd <= log(2));
    /* log p is constant: the correlations are undefined, not zero. */
    CU_ASSERT(isnan(m.pearson_logp_logr));
}

static void test_missing_support_is_infinite(void)
{
    double p[3] = {0.5, 0.5, 0}, R[3] = {1, 2, 3};
    gfn_exact_metrics m;
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_metrics_exact(p, R, 3, NAN, &m, &err), GFN_OK);
    CU_ASSERT(isinf(m.kl_target_learned) && m.kl_target_learned > 0);
    CU_ASSERT(isfinite(m.kl_learned_target));
    CU_ASSERT(m.jsd > 0 && m.jsd <= log(2));
    CU_ASSERT(isnan(m.slope_logp_logr));
    CU_ASSERT(isnan(m.logz_error));
    /* Disjoint supports: JSD reaches ln 2. */
    double p2[3] = {0, 0, 1}, R2[3] = {1, 1, 1e-12};
    CU_ASSERT_EQUAL_FATAL(gfn_metrics_exact(p2, R2, 3, NAN, &m, &err), GFN_OK);
    CU_ASSERT(close_enough("jsd", "near-disjoint", m.jsd, log(2), 1e-9, 0));
}

/* A deterministic, tie-rich distribution of n terminals and its permutation. */
static void make_case(size_t n, double *p, double *R, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    static const double levels[3] = {0.01, 10, 30};
    double s = 0;
    for (size_t x = 0; x < n; x++) {
        R[x] = x % 3 == 0 ? levels[gsl_rng_uniform_int(rng, 3)] : 0.1 + gsl_rng_uniform(rng);
        p[x] = gsl_rng_uniform_pos(rng) * R[x];
        s += p[x];
    }
    for (size_t x = 0; x < n; x++)
        p[x] /= s;
    gsl_rng_free(rng);
}

static void test_order_invariance(void)
{
    enum { N = 20000 };
    double *p = malloc(N * sizeof *p), *R = malloc(N * sizeof *R);
    double *pp = malloc(N * sizeof *pp), *Rp = malloc(N * sizeof *Rp);
    make_case(N, p, R, 7);
    /* A fixed pseudo-random permutation: Fisher-Yates with an LCG. */
    size_t *perm = malloc(N * sizeof *perm);
    unsigned long long st = 12345;
    for (size_t i = 0; i < N; i++)
        perm[i] = i;
    for (size_t i = N - 1; i > 0; i--) {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t j = (size_t)((st >> 33) % (i + 1));
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < N; i++) {
        pp[i] = p[perm[i]];
        Rp[i] = R[perm[i]];
    }
    gfn_exact_metrics a, b;
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_metrics_exact(p, R, N, 1.0, &a, &err), GFN_OK);
    CU_ASSERT_EQUAL_FATAL(gfn_metrics_exact(pp, Rp, N, 1.0, &b, &err), GFN_OK);
    double va[NFIELDS], vb[NFIELDS];
    fields(&a, va);
    fields(&b, vb);
    for (int i = 0; i < NFIELDS; i++)
        CU_ASSERT(close_enough(NAMES[i], "permuted", vb[i], va[i], 1e-12, 1e-15));
    CU_ASSERT(a.pearson_logp_logr > 0.5); /* p follows R: a sanity floor */
    free(p), free(R), free(pp), free(Rp), free(perm);
}

static void test_errors(void)
{
    gfn_exact_metrics m;
    gfn_error err;
    double p[3] = {0.5, 0.5, 0.1}, R[3] = {1, 2, 3};
    CU_ASSERT_EQUAL(gfn_metrics_exact(p, R, 3, 0, &m, &err), GFN_EVALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "sums to"));
    double p2[3] = {0.5, 0.6, -0.1};
    CU_ASSERT_EQUAL(gfn_metrics_exact(p2, R, 3, 0, &m, &err), GFN_EVALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "terminal 2"));
    double p3[3] = {0.5, 0.5, 0}, R3[3] = {1, 0, 3};
    CU_ASSERT_EQUAL(gfn_metrics_exact(p3, R3, 3, 0, &m, &err), GFN_EVALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "terminal 1"));
    CU_ASSERT_EQUAL(gfn_metrics_exact(p3, R, 1, 0, &m, &err), GFN_EVALUE);
    gfn_reward_dist d;
    CU_ASSERT_EQUAL(gfn_reward_dist_init(&d, R3, 3, &err), GFN_EVALUE);
    gfn_reward_dist_close(&d);
    gfn_reward_dist_close(NULL);
}

static void test_reward_dist(void)
{
    /* Bag-like: rewards 0.01 x 6, 10 x 3, 30 x 1: Z = 60.06. */
    double R[10] = {10, 0.01, 30, 0.01, 0.01, 10, 0.01, 0.01, 10, 0.01};
    gfn_reward_dist d;
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_reward_dist_init(&d, R, 10, &err), GFN_OK);
    CU_ASSERT_EQUAL_FATAL(d.n, 3);
    CU_ASSERT_EQUAL(d.n_terminals, 10);
    double value[3], mass[3];
    gfn_reward_dist_values(&d, value, mass);
    CU_ASSERT(value[0] == 0.01 && value[1] == 10 && value[2] == 30);
    CU_ASSERT(close_enough("mass0", "bag", mass[0], 0.06 / 60.06, 1e-14, 0));
    CU_ASSERT(close_enough("mass1", "bag", mass[1], 30 / 60.06, 1e-14, 0));
    CU_ASSERT(close_enough("mass2", "bag", mass[2], 30 / 60.06, 1e-14, 0));
    /* E[R] = sum R^2 / Z = (6e-4 + 300 + 900) / 60.06 */
    CU_ASSERT(close_enough("mean", "bag", d.mean, 1200.0006 / 60.06, 1e-14, 0));
    CU_ASSERT(close_enough("logz", "bag", d.log_z, log(60.06), 1e-14, 0));
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 1);
    enum { N = 100000 };
    double *draws = malloc(N * sizeof *draws);
    CU_ASSERT_EQUAL_FATAL(gfn_reward_dist_sample(&d, rng, draws, N, &err), GFN_OK);
    size_t count[3] = {0, 0, 0};
    for (size_t i = 0; i < N; i++)
        count[draws[i] == 0.01 ? 0 : draws[i] == 10 ? 1 : 2]++;
    CU_ASSERT_EQUAL(count[0] + count[1] + count[2], N);
    /* Each binomial count lies within 5 sd of its mean (sd <= 160 here). */
    for (int j = 0; j < 3; j++)
        CU_ASSERT(close_enough("count", "bag draws", (double)count[j], N * mass[j], 0, 800));
    free(draws);
    gsl_rng_free(rng);
    gfn_reward_dist_close(&d);
}

/* The draws are gsl_ran_discrete's on a table of the masses, bit for bit: rewards
 * of several shapes (wide range, many ties, one dominant value, equal masses,
 * every value a big one), seeds and numbers of draws. */
static void test_reward_dist_draws_match_gsl(void)
{
    enum { N = 20000, MAXN = 5000 };
    double *R = malloc(MAXN * sizeof *R), *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    double *value = malloc(MAXN * sizeof *value), *mass = malloc(MAXN * sizeof *mass);
    CU_ASSERT_PTR_NOT_NULL_FATAL(R && a && b && value && mass);
    gsl_rng *fill = gsl_rng_alloc(gsl_rng_mt19937), *r1 = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng *r2 = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(fill, 5);
    for (int kind = 0; kind < 6; kind++)
        for (int t = 0; t < 4; t++) {
            size_t n = t == 0 ? 1 : t == 1 ? 7 : t == 2 ? 300 : MAXN;
            for (size_t x = 0; x < n; x++) {
                double u = gsl_rng_uniform_pos(fill);
                switch (kind) {
                case 0: R[x] = exp(40.0 * (u - 0.5)); break;
                case 1: R[x] = 1.0 + (double)gsl_rng_uniform_int(fill, 9); break;
                case 2: R[x] = x == 0 ? 1e6 : u; break;
                case 3: R[x] = x % 3 ? 1.0 : 2.0; break;       /* equal masses (n = 300) ... */
                case 4: R[x] = 3.0; break;                      /* ... and one mass */
                default: R[x] = pow(u, 6) * 10 + 1e-18; break; /* sehstr-like */
                }
            }
            gfn_reward_dist d;
            gfn_error err;
            CU_ASSERT_EQUAL_FATAL(gfn_reward_dist_init(&d, R, n, &err), GFN_OK);
            gfn_reward_dist_values(&d, value, mass);
            gsl_ran_discrete_t *g = gsl_ran_discrete_preproc(d.n, mass);
            CU_ASSERT_PTR_NOT_NULL_FATAL(g);
            gsl_rng_set(r1, (unsigned long)(kind * 10 + t));
            gsl_rng_set(r2, (unsigned long)(kind * 10 + t));
            size_t draws = t == 3 ? N : 1000;
            for (size_t i = 0; i < draws; i++)
                a[i] = value[gsl_ran_discrete(r1, g)];
            CU_ASSERT_EQUAL_FATAL(gfn_reward_dist_sample(&d, r2, b, draws, &err), GFN_OK);
            size_t diff = 0;
            for (size_t i = 0; i < draws; i++)
                diff += memcmp(&a[i], &b[i], sizeof a[i]) != 0;
            if (diff)
                printf("\n  draws: kind %d, n %zu: %zu of %zu differ from gsl_ran_discrete\n",
                       kind, n, diff, draws);
            CU_ASSERT_EQUAL(diff, 0);
            CU_ASSERT_EQUAL(gsl_rng_get(r1), gsl_rng_get(r2)); /* one uniform per draw */
            gsl_ran_discrete_free(g);
            gfn_reward_dist_release(&d);
            CU_ASSERT_EQUAL(d.values.n, 0);
            gfn_reward_dist_close(&d);
        }
    gsl_rng_free(fill);
    gsl_rng_free(r1);
    gsl_rng_free(r2);
    free(R);
    free(a);
    free(b);
    free(value);
    free(mass);
}

extern void gfn_test_suite_metrics(void); /* called by tests/test_main.c */
void gfn_test_suite_metrics(void)
{
    CU_pSuite s = CU_add_suite("metrics", NULL, NULL);
    CU_add_test(s, "agrees with numpy/scipy references", test_against_reference);
    CU_add_test(s, "hand-checked two-terminal case", test_hand_checked);
    CU_add_test(s, "KL is infinite on missing support", test_missing_support_is_infinite);
    CU_add_test(s, "invariant to the order of x", test_order_invariance);
    CU_add_test(s, "errors name the entry", test_errors);
    CU_add_test(s, "target reward distribution and draws", test_reward_dist);
    CU_add_test(s, "target draws == gsl_ran_discrete's, bit for bit",
                test_reward_dist_draws_match_gsl);
}
