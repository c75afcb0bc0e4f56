/* test_ad.c - the k-sample Anderson-Darling test against scipy.stats.anderson_ksamp.
 *
 * tests/ref/ad_ref.tsv is written by tests/ref/ad_ref.py (scipy 1.10.1); each row
 * names its samples by a spec that expand_spec() below turns into the same doubles
 * as the script (a 64-bit LCG and only +, *, /, floor).
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ad.h"
#include "status.h"

#define AD_REF "tests/ref/ad_ref.tsv"
#define MAX_K 32

/* Relative + absolute comparison that prints both values on failure. */
static int close_enough(const char *what, const char *name, double got, double want, double rel,
                        double abs_tol)
{
    if (fabs(got - want) <= abs_tol + rel * fabs(want))
        return 1;
    fprintf(stderr, "\n%s %s: got %.17g want %.17g (diff %.3g)\n", name, what, got, want,
            got - want);
    return 0;
}

/* Expands one spec of ad_ref.py into a malloc'd array; returns its length. */
static size_t expand_spec(const char *spec, double **out)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    char *save = NULL, *tok = strtok_r(buf, ",", &save);
    char kind = tok[0];
    double p[16];
    int np = 0;
    size_t n;
    uint64_t state = 0;
    if (kind == 'l') {
        double *v = malloc(64 * sizeof *v);
        n = 0;
        while ((tok = strtok_r(NULL, ",", &save)))
            v[n++] = strtod(tok, NULL);
        *out = v;
        return n;
    }
    n = (size_t)strtoull(strtok_r(NULL, ",", &save), NULL, 10);
    state = strtoull(strtok_r(NULL, ",", &save), NULL, 10);
    while ((tok = strtok_r(NULL, ",", &save)))
        p[np++] = strtod(tok, NULL);
    double *v = malloc(n * sizeof *v);
    double W = 0, cum[8];
    if (kind == 'd')
        for (int j = 0; j < np / 2; j++) {
            W += p[2 * j + 1];
            cum[j] = W;
        }
    for (size_t i = 0; i < n; i++) {
        state = 6364136223846793005ULL * state + 1442695040888963407ULL;
        double u = (double)(state >> 11) * (1.0 / 9007199254740992.0);
        switch (kind) {
        case 'u': v[i] = p[0] + (p[1] - p[0]) * u; break;
        case 'c': v[i] = p[0] * u * u * u; break;
        case 'q': v[i] = floor(u * p[0]); break;
        case 'd': {
            double t = u * W;
            int j = 0;
            while (j < np / 2 - 1 && !(t < cum[j]))
                j++;
            v[i] = p[2 * j];
            break;
        }
        default: CU_FAIL_FATAL("unknown spec kind");
        }
    }
    *out = v;
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int split_samples(const char *specs, double **s, size_t *n)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", specs);
    int k = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ";", &save); t; t = strtok_r(NULL, ";", &save))
        n[k] = expand_spec(t, &s[k]), k++;
    return k;
}

static void test_against_scipy(void)
{
    FILE *f = fopen(AD_REF, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char line[8192];
    int rows = 0, errors = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        line[strcspn(line, "\n")] = 0;
        char *cols[16];
        int nc = 0;
        for (char *c = strtok(line, "\t"); c && nc < 16; c = strtok(NULL, "\t"))
            cols[nc++] = c;
        double *s[MAX_K];
        size_t n[MAX_K];
        int k = split_samples(cols[1], s, n);
        gfn_ad_result r;
        gfn_error err;
        int st = gfn_ad_ksamp((const double *const *)s, n, k, &r, &err);
        if (strcmp(cols[2], "ERROR") == 0) {
            errors++;
            if (st != GFN_EVALUE)
                fprintf(stderr, "\n%s: expected an error, got status %d\n", cols[0], st);
            CU_ASSERT_EQUAL(st, GFN_EVALUE);
        } else {
            CU_ASSERT_EQUAL_FATAL(nc, 12);
            if (st != GFN_OK)
                fprintf(stderr, "\n%s: %s\n", cols[0], err.msg);
            CU_ASSERT_EQUAL(st, GFN_OK);
            /* The statistic cancels near zero (tiny_ties is exactly 0 in scipy),
             * hence the small absolute floor. */
            CU_ASSERT(close_enough("statistic", cols[0], r.statistic, strtod(cols[2], NULL), 1e-9,
                                   1e-12));
            for (int i = 0; i < GFN_AD_NLEVELS; i++)
                CU_ASSERT(close_enough("critical", cols[0], r.critical[i],
                                       strtod(cols[3 + i], NULL), 1e-12, 0));
            CU_ASSERT(close_enough("significance", cols[0], r.significance,
                                   strtod(cols[10], NULL), 1e-9, 0));
            CU_ASSERT_EQUAL(r.bound, atoi(cols[11]));
            /* The sorted entry point with a caller's work array gives the same bits. */
            size_t N = 0;
            for (int i = 0; i < k; i++) {
                N += n[i];
                qsort(s[i], n[i], sizeof *s[i], cmp_double);
            }
            double *work = malloc(4 * N * sizeof *work);
            gfn_ad_result r2;
            CU_ASSERT_EQUAL(gfn_ad_ksamp_sorted((const double *const *)s, n, k, work, &r2, &err),
                            GFN_OK);
            CU_ASSERT_EQUAL(memcmp(&r.statistic, &r2.statistic, sizeof r.statistic), 0);
            free(work);
            rows++;
        }
        for (int i = 0; i < k; i++)
            free(s[i]);
    }
    fclose(f);
    CU_ASSERT(rows >= 25);
    CU_ASSERT(errors >= 4);
}

static void test_critical_and_score(void)
{
    double c[GFN_AD_NLEVELS];
    gfn_ad_critical(2, c);
    /* 1.645 + 0.678 - 0.362: the paper's 1.961. */
    CU_ASSERT(close_enough("crit5", "k=2", c[GFN_AD_LEVEL_5PCT], 1.961, 1e-12, 0));
    gfn_ad_result r = {.statistic = 3.922};
    memcpy(r.critical, c, sizeof c);
    CU_ASSERT(close_enough("score", "k=2", gfn_ad_score(&r), 2.0, 1e-12, 0));
}

static void test_errors(void)
{
    gfn_ad_result r;
    gfn_error err;
    double a[] = {1, 2, 3}, b[] = {2, NAN, 4}, c[] = {3, 2, 1};
    CU_ASSERT_EQUAL(gfn_ad_2samp(a, 3, b, 3, &r, &err), GFN_EVALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "NaN"));
    CU_ASSERT_EQUAL(gfn_ad_2samp(a, 3, a, 0, &r, &err), GFN_EVALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "without observations"));
    const double *s[2] = {a, c};
    size_t n[2] = {3, 3};
    CU_ASSERT_EQUAL(gfn_ad_ksamp_sorted(s, n, 2, NULL, &r, &err), GFN_EVALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not sorted"));
    CU_ASSERT_EQUAL(gfn_ad_ksamp(s, n, 1, &r, &err), GFN_EVALUE);
    CU_ASSERT_EQUAL(gfn_ad_2samp(a, 3, c, 3, &r, &err), GFN_OK);
    /* Same multiset: a permutation does not matter. */
    CU_ASSERT(r.statistic < 0);
}

static void test_pairwise_sum(void)
{
    /* Below 8 terms the sum is sequential; above it, blocks of 8 accumulators. */
    double v[300];
    for (int i = 0; i < 300; i++)
        v[i] = 1.0 / (i + 1);
    double seq = 0;
    for (int i = 0; i < 7; i++)
        seq += v[i];
    CU_ASSERT_EQUAL(gfn__ad_pairwise_sum(v, 7), seq);
    double ref = 0;
    for (int i = 299; i >= 0; i--)
        ref += v[i];
    CU_ASSERT(close_enough("sum", "harmonic300", gfn__ad_pairwise_sum(v, 300), ref, 1e-14, 0));
}

extern void gfn_test_suite_ad(void); /* called by tests/test_main.c */
void gfn_test_suite_ad(void)
{
    CU_pSuite s = CU_add_suite("ad", NULL, NULL);
    CU_add_test(s, "agrees with scipy anderson_ksamp", test_against_scipy);
    CU_add_test(s, "critical values and score", test_critical_and_score);
    CU_add_test(s, "errors mirror scipy", test_errors);
    CU_add_test(s, "numpy pairwise summation", test_pairwise_sum);
}
