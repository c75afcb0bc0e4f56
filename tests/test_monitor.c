/* test_monitor.c - sampled metrics: window mean, rounds to target, modes, top-k, AD. */
#include <CUnit/CUnit.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"

static int close_enough(const char *what, double got, double want, double rel, double abs_tol)
{
    if (fabs(got - want) <= abs_tol + rel * fabs(want))
        return 1;
    fprintf(stderr, "\n%s: got %.17g want %.17g\n", what, got, want);
    return 0;
}

/* Target R = (1, 3): q = (1/4, 3/4), E_p*[R] = (1 + 9) / 4 = 2.5. */
static gfn_monitor *make_monitor(gfn_reward_dist *d, gsl_rng **rng, long W, int full, int k)
{
    double R[2] = {1, 3};
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_reward_dist_init(d, R, 2, &err), GFN_OK);
    *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(*rng, 3);
    gfn_monitor_config cfg;
    gfn_monitor_config_default(&cfg);
    cfg.window_rounds = W;
    cfg.full_window = full;
    cfg.top_k = k;
    gfn_monitor *m = gfn_monitor_alloc(&cfg, d, *rng, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(gfn_monitor_n_target_draws(m), 100000);
    return m;
}

static void add(gfn_monitor *m, long round, double a, double b)
{
    double r[2] = {a, b};
    gfn_error err;
    CU_ASSERT_EQUAL(gfn_monitor_add_samples(m, round, r, 2, &err), GFN_OK);
}

static void test_window_and_rounds_to_target(void)
{
    gfn_reward_dist d;
    gsl_rng *rng;
    gfn_monitor *m = make_monitor(&d, &rng, 30, 0, 100);
    CU_ASSERT(close_enough("target mean", gfn_monitor_target_mean(m), 2.5, 1e-15, 0));
    CU_ASSERT(isnan(gfn_monitor_mean_reward_pct(m)));
    /* Window of 30 rounds, a batch every 10: rounds (r - 30, r]. */
    add(m, 0, 1, 1);  /* {0}: mean 1 -> 40% */
    CU_ASSERT(close_enough("r0", gfn_monitor_mean_reward_pct(m), 40, 1e-13, 0));
    add(m, 10, 3, 3); /* {0, 10}: 8/4 = 2 -> 80% */
    add(m, 20, 3, 3); /* {0, 10, 20}: 14/6 -> 93.33% */
    CU_ASSERT(close_enough("r20", gfn_monitor_mean_reward_pct(m), 100 * (14 / 6.0) / 2.5, 1e-13,
                           0));
    CU_ASSERT_EQUAL(gfn_monitor_rounds_to_target(m), -1);
    add(m, 30, 3, 1); /* round 0 leaves: {10, 20, 30}: 16/6 >= 2.5 */
    CU_ASSERT(close_enough("r30", gfn_monitor_mean_reward_pct(m), 100 * (16 / 6.0) / 2.5, 1e-13,
                           0));
    CU_ASSERT_EQUAL(gfn_monitor_rounds_to_target(m), 30);
    add(m, 40, 1, 1); /* {20, 30, 40}: 10/6; the first round stays 30 */
    CU_ASSERT_EQUAL(gfn_monitor_rounds_to_target(m), 30);
    gfn_monitor_free(m);
    gsl_rng_free(rng);
    gfn_reward_dist_close(&d);
}

static void test_partial_versus_full_window(void)
{
    gfn_reward_dist d;
    gsl_rng *rng;
    /* A lucky first batch reaches the target in a partial window ... */
    gfn_monitor *m = make_monitor(&d, &rng, 30, 0, 100);
    add(m, 0, 3, 3);
    CU_ASSERT_EQUAL(gfn_monitor_rounds_to_target(m), 0);
    gfn_monitor_free(m);
    gsl_rng_free(rng);
    gfn_reward_dist_close(&d);
    /* ... but not when the window must be full (round >= W - 1 = 29). */
    m = make_monitor(&d, &rng, 30, 1, 100);
    add(m, 0, 3, 3);
    add(m, 20, 3, 3);
    CU_ASSERT(isnan(gfn_monitor_mean_reward_pct(m)));
    CU_ASSERT_EQUAL(gfn_monitor_rounds_to_target(m), -1);
    add(m, 30, 1, 3); /* {20, 30}: 10/4 = 2.5 reaches it exactly */
    CU_ASSERT_EQUAL(gfn_monitor_rounds_to_target(m), 30);
    gfn_monitor_free(m);
    gsl_rng_free(rng);
    gfn_reward_dist_close(&d);
}

static void test_window_matches_brute_force(void)
{
    gfn_reward_dist d;
    gsl_rng *rng;
    gfn_monitor *m = make_monitor(&d, &rng, 7, 0, 100);
    enum { ROUNDS = 3000 };
    static double a[ROUNDS], b[ROUNDS];
    int bad = 0;
    for (long r = 0; r < ROUNDS; r++) {
        a[r] = 0.5 + gsl_rng_uniform(rng);
        b[r] = 2 * gsl_rng_uniform(rng);
        add(m, r, a[r], b[r]);
        double s = 0;
        int c = 0;
        for (long t = r; t >= 0 && t > r - 7; t--, c += 2)
            s += a[t] + b[t];
        if (!close_enough("brute", gfn_monitor_mean_reward_pct(m), 100 * s / c / 2.5, 1e-12, 0))
            bad++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    gfn_monitor_free(m);
    gsl_rng_free(rng);
    gfn_reward_dist_close(&d);
}

static double abs_dist(void *ctx, int64_t a, int64_t b)
{
    (*(int *)ctx)++;
    return (double)(a > b ? a - b : b - a);
}

static void feed(gfn_monitor *m, int64_t x, double r, int mode)
{
    gfn_error err;
    CU_ASSERT_EQUAL(gfn_monitor_add_x(m, &x, &r, &mode, 1, &err), GFN_OK);
}

static void test_modes_and_top(void)
{
    gfn_reward_dist d;
    gsl_rng *rng;
    gfn_monitor *m = make_monitor(&d, &rng, 30, 0, 3);
    double mr, md;
    int calls = 0;
    CU_ASSERT_EQUAL(gfn_monitor_top(m, abs_dist, &calls, &mr, &md), 0);
    CU_ASSERT(isnan(mr) && isnan(md));
    feed(m, 5, 1, 0);
    feed(m, 6, 2, 1);
    /* Fewer than k distinct: both count. */
    CU_ASSERT_EQUAL(gfn_monitor_top(m, abs_dist, &calls, &mr, &md), 2);
    CU_ASSERT(close_enough("top2 mean", mr, 1.5, 1e-15, 0));
    CU_ASSERT(close_enough("top2 dist", md, 1, 1e-15, 0));
    feed(m, 6, 2, 1); /* a repeat: neither a new mode nor a second entry */
    feed(m, 7, 2, 1);
    feed(m, 8, 2, 0); /* replaces x = 5 */
    feed(m, 9, 2, 0); /* ties with 6, 7, 8 but was seen last: stays out */
    CU_ASSERT_EQUAL(gfn_monitor_modes_found(m), 2);
    CU_ASSERT_EQUAL(gfn_monitor_top(m, abs_dist, &calls, &mr, &md), 3);
    CU_ASSERT(close_enough("top3 mean", mr, 2, 1e-15, 0));
    CU_ASSERT(close_enough("top3 dist", md, (1 + 2 + 1) / 3.0, 1e-15, 0)); /* 6,7,8 */
    feed(m, 10, 5, 1); /* evicts 8, the last seen of the ties */
    feed(m, 8, 2, 0);  /* an evicted x cannot come back */
    CU_ASSERT_EQUAL(gfn_monitor_top(m, abs_dist, &calls, &mr, &md), 3);
    CU_ASSERT(close_enough("top mean", mr, 3, 1e-15, 0));
    CU_ASSERT(close_enough("top dist", md, (1 + 4 + 3) / 3.0, 1e-15, 0)); /* 6,7,10 */
    CU_ASSERT_EQUAL(gfn_monitor_modes_found(m), 3);
    CU_ASSERT_EQUAL(gfn_monitor_top(m, NULL, NULL, &mr, &md), 3);
    CU_ASSERT(isnan(md));
    /* Many modes: the hash set grows and still counts each once. */
    for (int pass = 0; pass < 2; pass++)
        for (int64_t x = 0; x < 5000; x++)
            feed(m, x * 7919, 1, 1);
    CU_ASSERT_EQUAL(gfn_monitor_modes_found(m), 3 + 5000); /* none of them is 6, 7 or 10 */
    gfn_monitor_free(m);
    gsl_rng_free(rng);
    gfn_reward_dist_close(&d);
}

static void test_ad_score(void)
{
    gfn_reward_dist d;
    gsl_rng *rng;
    gfn_monitor *m = make_monitor(&d, &rng, 30, 0, 100);
    gfn_error err;
    gfn_ad_result r, ref;
    CU_ASSERT_EQUAL(gfn_monitor_ad(m, GFN_MONITOR_LATEST, &r, &err), GFN_EVALUE);
    /* Rebuild the monitor's draws: same seed, same calls. */
    gsl_rng *rng2 = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng2, 3);
    double *draws = malloc(100000 * sizeof *draws);
    CU_ASSERT_EQUAL_FATAL(gfn_reward_dist_sample(&d, rng2, draws, 100000, &err), GFN_OK);
    double batch1[128], batch2[128], both[256];
    for (int i = 0; i < 128; i++) {
        batch1[i] = gsl_rng_uniform(rng2) < 0.25 ? 1 : 3; /* on target */
        batch2[i] = gsl_rng_uniform(rng2) < 0.6 ? 1 : 3;  /* far off */
    }
    memcpy(both, batch1, sizeof batch1);
    memcpy(both + 128, batch2, sizeof batch2);
    CU_ASSERT_EQUAL(gfn_monitor_add_samples(m, 0, batch1, 128, &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_monitor_ad(m, GFN_MONITOR_LATEST, &r, &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_ad_2samp(batch1, 128, draws, 100000, &ref, &err), GFN_OK);
    CU_ASSERT(close_enough("ad latest", r.statistic, ref.statistic, 1e-13, 1e-13));
    CU_ASSERT(gfn_ad_score(&r) < 1);
    CU_ASSERT_EQUAL(gfn_monitor_add_samples(m, 10, batch2, 128, &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_monitor_ad(m, GFN_MONITOR_LATEST, &r, &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_ad_2samp(batch2, 128, draws, 100000, &ref, &err), GFN_OK);
    CU_ASSERT(close_enough("ad latest 2", r.statistic, ref.statistic, 1e-13, 1e-13));
    CU_ASSERT(gfn_ad_score(&r) > 1);
    CU_ASSERT_EQUAL(gfn_monitor_ad(m, GFN_MONITOR_WINDOW, &r, &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_ad_2samp(both, 256, draws, 100000, &ref, &err), GFN_OK);
    CU_ASSERT(close_enough("ad window", r.statistic, ref.statistic, 1e-13, 1e-13));
    free(draws);
    gsl_rng_free(rng2);
    gfn_monitor_free(m);
    gsl_rng_free(rng);
    gfn_reward_dist_close(&d);
}

static void test_errors(void)
{
    gfn_reward_dist d;
    gsl_rng *rng;
    gfn_monitor *m = make_monitor(&d, &rng, 30, 0, 100);
    gfn_error err;
    double r[2] = {1, NAN};
    CU_ASSERT_EQUAL(gfn_monitor_add_samples(m, 0, r, 0, &err), GFN_EVALUE);
    CU_ASSERT_EQUAL(gfn_monitor_add_samples(m, 0, r, 2, &err), GFN_ENONFINITE);
    CU_ASSERT_EQUAL(gfn_monitor_add_samples(m, 10, r, 1, &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_monitor_add_samples(m, 5, r, 1, &err), GFN_EVALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "round 5"));
    int64_t x = -2;
    int mode = 1;
    CU_ASSERT_EQUAL(gfn_monitor_add_x(m, &x, r, &mode, 1, &err), GFN_EVALUE);
    gfn_monitor_config cfg;
    gfn_monitor_config_default(&cfg);
    cfg.window_rounds = 0;
    CU_ASSERT_PTR_NULL(gfn_monitor_alloc(&cfg, &d, rng, &err));
    /* The authors' rule: min(abs(X), 100000) draws, here abs(X) = 2. */
    cfg.window_rounds = 10;
    cfg.n_target_draws = 0;
    gfn_monitor *m2 = gfn_monitor_alloc(&cfg, &d, rng, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m2);
    CU_ASSERT_EQUAL(gfn_monitor_n_target_draws(m2), 2);
    gfn_monitor_free(m2);
    gfn_monitor_free(NULL);
    gfn_monitor_free(m);
    gsl_rng_free(rng);
    gfn_reward_dist_close(&d);
}

extern void gfn_test_suite_monitor(void); /* called by tests/test_main.c */
void gfn_test_suite_monitor(void)
{
    CU_pSuite s = CU_add_suite("monitor", NULL, NULL);
    CU_add_test(s, "window mean and rounds to target", test_window_and_rounds_to_target);
    CU_add_test(s, "partial versus full window", test_partial_versus_full_window);
    CU_add_test(s, "window mean matches brute force", test_window_matches_brute_force);
    CU_add_test(s, "modes once, top-k with ties", test_modes_and_top);
    CU_add_test(s, "AD score against target draws", test_ad_score);
    CU_add_test(s, "errors", test_errors);
}
