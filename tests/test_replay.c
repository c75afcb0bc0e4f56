/* test_replay.c - the buffer of seen x: uniqueness, iteration, the percentile
 * against numpy (tests/ref/replay_percentile.txt, made by replay_percentile.py),
 * order statistics against a brute-force sort while insertions and merges
 * interleave, and the uniform and prt draws (fixed seeds, generous bounds). */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "replay.h"

#define PCT_REF "tests/ref/replay_percentile.txt"

static int close_enough(double a, double b)
{
    return fabs(a - b) <= 1e-14 * fabs(b) + 1e-300;
}

static void test_unique_and_iteration(void)
{
    gfn_replay *r = gfn_replay_alloc();
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    gfn_error err;
    int is_new;
    CU_ASSERT_EQUAL(gfn_replay_size(r), 0);
    CU_ASSERT(isnan(gfn_replay_percentile(r, 90)));
    CU_ASSERT_EQUAL(gfn_replay_add(r, 42, 1.5, &is_new, &err), GFN_OK);
    CU_ASSERT_EQUAL(is_new, 1);
    CU_ASSERT_EQUAL(gfn_replay_add(r, 7, 0.5, &is_new, &err), GFN_OK);
    CU_ASSERT_EQUAL(is_new, 1);
    CU_ASSERT_EQUAL(gfn_replay_add(r, 42, 1.5, &is_new, &err), GFN_OK);
    CU_ASSERT_EQUAL(is_new, 0);
    CU_ASSERT_EQUAL(gfn_replay_size(r), 2);
    double rw;
    CU_ASSERT(gfn_replay_contains(r, 7, &rw));
    CU_ASSERT_EQUAL(rw, 0.5);
    CU_ASSERT(!gfn_replay_contains(r, 8, NULL));
    int64_t rank;
    gfn_replay_get(r, 0, &rank, &rw);
    CU_ASSERT_EQUAL(rank, 42);
    gfn_replay_get(r, 1, &rank, &rw);
    CU_ASSERT_EQUAL(rank, 7);
    CU_ASSERT_EQUAL(gfn_replay_add(r, 9, NAN, &is_new, &err), GFN_ENONFINITE);
    CU_ASSERT_EQUAL(is_new, 0);
    CU_ASSERT_EQUAL(gfn_replay_size(r), 2);
    /* Many distinct ranks force the hash table and the arrays to grow. */
    for (int64_t i = 0; i < 5000; i++)
        CU_ASSERT_EQUAL(gfn_replay_add(r, 1000 + 3 * i, (double)(i % 17), NULL, &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_replay_size(r), 5002);
    int ok = 1;
    for (int64_t i = 0; i < 5000; i++) {
        gfn_replay_get(r, 2 + i, &rank, &rw);
        ok &= rank == 1000 + 3 * i && rw == (double)(i % 17);
        ok &= gfn_replay_contains(r, 1000 + 3 * i, NULL) && !gfn_replay_contains(r, 1001 + 3 * i, NULL);
    }
    CU_ASSERT(ok);
    gfn_replay_free(r);
    gfn_replay_free(NULL);
}

static void test_percentile_numpy(void)
{
    FILE *f = fopen(PCT_REF, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char *line = NULL;
    size_t cap = 0;
    int cases = 0;
    while (getline(&line, &cap, f) > 0) {
        if (line[0] == '#')
            continue;
        char *p = line, *end;
        long n = strtol(p, &end, 10);
        double q = strtod(end, &end), want = strtod(end, &end);
        gfn_replay *r = gfn_replay_alloc();
        gfn_error err;
        for (long i = 0; i < n; i++)
            gfn_replay_add(r, i, strtod(end, &end), NULL, &err);
        CU_ASSERT_EQUAL(gfn_replay_size(r), n);
        double got = gfn_replay_percentile(r, q);
        if (!close_enough(got, want))
            printf("\n  percentile %g of %ld values: %.17g, numpy %.17g\n", q, n, got, want);
        CU_ASSERT(close_enough(got, want));
        gfn_replay_free(r);
        cases++;
    }
    free(line);
    fclose(f);
    CU_ASSERT(cases >= 40);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy's linear percentile on a sorted copy. */
static double brute_percentile(const double *sorted, long n, double q)
{
    double v = (double)(n - 1) * (q / 100.0), fl = floor(v), g = v - fl;
    long j = (long)fl, j1 = j + 1 < n ? j + 1 : n - 1;
    double a = sorted[j], b = sorted[j1], d = b - a;
    return g >= 0.5 ? b - d * (1.0 - g) : a + d * g;
}

/* Interleaved insertions (crossing many merges of the two sorted runs) and
 * queries, checked against sorting the buffer from scratch. */
static void test_order_statistics(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 11);
    gfn_replay *r = gfn_replay_alloc();
    gfn_error err;
    const long N = 6000;
    double *all = malloc((size_t)N * sizeof *all), *sorted = malloc((size_t)N * sizeof *sorted);
    int64_t ranks[17];
    long n = 0, checks = 0, bad = 0;
    for (long i = 0; i < N; i++) {
        /* Half the rewards on a coarse grid, so ties are common. */
        double v = i % 2 ? floor(gsl_rng_uniform(rng) * 20) : gsl_rng_uniform(rng) * 20;
        int is_new;
        gfn_replay_add(r, (int64_t)gsl_rng_uniform_int(rng, 40000), v, &is_new, &err);
        if (is_new)
            all[n++] = v;
        if (i % 41 != 0 && i != N - 1)
            continue;
        memcpy(sorted, all, (size_t)n * sizeof *all);
        qsort(sorted, (size_t)n, sizeof *sorted, cmp_double);
        const double qs[] = {0, 10, 33.3, 50, 90, 99.9, 100};
        for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
            double got = gfn_replay_percentile(r, qs[k]), want = brute_percentile(sorted, n, qs[k]);
            checks++;
            if (!close_enough(got, want)) {
                if (bad++ < 5)
                    printf("\n  n %ld q %g: %.17g vs %.17g\n", n, qs[k], got, want);
            }
        }
        /* prt draws: the first ceil(17/2) are >= the threshold, the rest <= it. */
        if (n >= GFN_REPLAY_PRT_MIN) {
            double thr = brute_percentile(sorted, n, 90);
            CU_ASSERT_EQUAL(gfn_replay_draw_prt(r, rng, 17, ranks), 17);
            for (int k = 0; k < 17; k++) {
                double rw;
                CU_ASSERT_FATAL(gfn_replay_contains(r, ranks[k], &rw));
                if (k < 9 ? rw < thr : rw > thr) {
                    if (bad++ < 5)
                        printf("\n  prt draw %d has reward %g, threshold %g\n", k, rw, thr);
                }
            }
        }
    }
    CU_ASSERT(checks > 100);
    CU_ASSERT_EQUAL(bad, 0);
    free(all);
    free(sorted);
    gfn_replay_free(r);
    gsl_rng_free(rng);
}

static void test_small_buffer(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 1);
    gfn_replay *r = gfn_replay_alloc();
    gfn_error err;
    int64_t ranks[16];
    CU_ASSERT_EQUAL(gfn_replay_draw_uniform(r, rng, 16, ranks), 0);
    CU_ASSERT_EQUAL(gfn_replay_draw(r, GFN_REPLAY_PRT, rng, 16, ranks), 0);
    for (int i = 0; i < 9; i++)
        gfn_replay_add(r, i, i, NULL, &err);
    CU_ASSERT_EQUAL(gfn_replay_draw_prt(r, rng, 16, ranks), 0);
    CU_ASSERT_EQUAL(gfn_replay_draw(r, GFN_REPLAY_UNIFORM, rng, 16, ranks), 16);
    CU_ASSERT_EQUAL(gfn_replay_draw(r, GFN_REPLAY_NONE, rng, 16, ranks), 0);
    gfn_replay_add(r, 9, 9, NULL, &err);
    CU_ASSERT_EQUAL(gfn_replay_draw_prt(r, rng, 16, ranks), 16);
    gfn_replay_mode m;
    CU_ASSERT_EQUAL(gfn_replay_mode_parse("prt", &m, &err), GFN_OK);
    CU_ASSERT_EQUAL(m, GFN_REPLAY_PRT);
    CU_ASSERT_STRING_EQUAL(gfn_replay_mode_name(m), "prt");
    CU_ASSERT_EQUAL(gfn_replay_mode_parse("per", &m, &err), GFN_EUNKNOWN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "per"));
    gfn_replay_free(r);
    gsl_rng_free(rng);
}

/* prt over many rounds: half the draws come from the top decile, and both halves
 * are uniform over their sets (every member drawn, no member far too often). */
static void test_prt_statistics(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 2023);
    gfn_replay *r = gfn_replay_alloc();
    gfn_error err;
    const int N = 1000;
    /* Distinct rewards in scrambled order: x with rank i has reward of position
     * (i * 7919) mod N in the sorted order. */
    for (int i = 0; i < N; i++)
        gfn_replay_add(r, i, 0.5 + ((i * 7919) % N), NULL, &err);
    double thr = gfn_replay_percentile(r, 90);
    CU_ASSERT(thr > 0.5 + 899 && thr < 0.5 + 900);
    int *count = calloc(N, sizeof *count);
    long top = 0, total = 0;
    int64_t ranks[16];
    for (int round = 0; round < 2000; round++) {
        CU_ASSERT_EQUAL(gfn_replay_draw_prt(r, rng, 16, ranks), 16);
        for (int k = 0; k < 16; k++) {
            double rw;
            gfn_replay_contains(r, ranks[k], &rw);
            top += rw >= thr;
            count[ranks[k]]++;
            total++;
        }
    }
    double frac = (double)top / total;
    if (fabs(frac - 0.5) > 0.02)
        printf("\n  prt top-decile fraction %g, expected 0.5\n", frac);
    CU_ASSERT(fabs(frac - 0.5) <= 0.02);
    /* 16000 draws over the 100 top x (160 each) and 16000 over 900 (about 17.8 each). */
    int min_top = 1 << 30, max_top = 0, min_low = 1 << 30, max_low = 0;
    for (int i = 0; i < N; i++) {
        int top_x = (i * 7919) % N >= 900;
        if (top_x) {
            min_top = count[i] < min_top ? count[i] : min_top;
            max_top = count[i] > max_top ? count[i] : max_top;
        } else {
            min_low = count[i] < min_low ? count[i] : min_low;
            max_low = count[i] > max_low ? count[i] : max_low;
        }
    }
    if (!(min_top > 100 && max_top < 230 && min_low > 0 && max_low < 45))
        printf("\n  prt counts: top %d..%d, low %d..%d\n", min_top, max_top, min_low, max_low);
    CU_ASSERT(min_top > 100 && max_top < 230);
    CU_ASSERT(min_low > 0 && max_low < 45);
    free(count);
    gfn_replay_free(r);
    gsl_rng_free(rng);
}

static void test_uniform_covers(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    gfn_replay *r = gfn_replay_alloc();
    gfn_error err;
    const int N = 50;
    for (int i = 0; i < N; i++)
        gfn_replay_add(r, 100 + i, i < 45 ? 0.01 : 30.0, NULL, &err);
    int count[50] = {0};
    int64_t ranks[16];
    for (int round = 0; round < 500; round++) {
        CU_ASSERT_EQUAL(gfn_replay_draw_uniform(r, rng, 16, ranks), 16);
        for (int k = 0; k < 16; k++) {
            CU_ASSERT_FATAL(ranks[k] >= 100 && ranks[k] < 100 + N);
            count[ranks[k] - 100]++;
        }
    }
    /* 8000 draws, 160 expected each. */
    int lo = 1 << 30, hi = 0;
    for (int i = 0; i < N; i++) {
        lo = count[i] < lo ? count[i] : lo;
        hi = count[i] > hi ? count[i] : hi;
    }
    if (!(lo > 100 && hi < 230))
        printf("\n  uniform counts %d..%d, expected about 160\n", lo, hi);
    CU_ASSERT(lo > 100 && hi < 230);
    gfn_replay_free(r);
    gsl_rng_free(rng);
}

/* A buffer the size of a 50,000-round run (800,000 x): inserts and draws stay
 * correct through many merges (speed is measured in bench, not here). */
static void test_large_buffer(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 3);
    gfn_replay *r = gfn_replay_alloc();
    gfn_error err;
    const int64_t N = 200000;
    int64_t ranks[16];
    long bad = 0;
    for (int64_t i = 0; i < N; i++) {
        gfn_replay_add(r, i, (double)((i * 104729) % N), NULL, &err);
        if (i % 997 == 0 && i >= 10) {
            gfn_replay_draw_prt(r, rng, 16, ranks);
            double thr = gfn_replay_percentile(r, 90);
            /* Rewards are distinct, so the percentile is between two neighbours. */
            for (int k = 0; k < 16; k++) {
                double rw;
                gfn_replay_contains(r, ranks[k], &rw);
                bad += k < 8 ? rw < thr : rw > thr;
            }
        }
    }
    CU_ASSERT_EQUAL(gfn_replay_size(r), N);
    CU_ASSERT(close_enough(gfn_replay_percentile(r, 90), 0.9 * (N - 1)));
    CU_ASSERT_EQUAL(bad, 0);
    gfn_replay_free(r);
    gsl_rng_free(rng);
}

extern void gfn_test_suite_replay(void);
void gfn_test_suite_replay(void)
{
    CU_pSuite s = CU_add_suite("replay", NULL, NULL);
    CU_add_test(s, "unique x and iteration", test_unique_and_iteration);
    CU_add_test(s, "percentile equals numpy", test_percentile_numpy);
    CU_add_test(s, "order statistics against a sort", test_order_statistics);
    CU_add_test(s, "fewer than 10 x: no prt draw", test_small_buffer);
    CU_add_test(s, "prt: half from the top decile, uniform within", test_prt_statistics);
    CU_add_test(s, "uniform replay covers the buffer", test_uniform_covers);
    CU_add_test(s, "large buffer", test_large_buffer);
}
