/* test_guide.c - the substructure guide: the index-based phi against a brute-force
 * scan of random seen sets, guide probabilities (sum 1, zero mass where x is
 * unreachable, the tempered-phi law), the probability of all trajectories to x
 * summing to 1, resample and score agreeing, and resample frequencies matching
 * p_guide.  Tasks: synth pa and ar strings, a small bag, hypergrids. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "env.h"
#include "env_build.h"
#include "guide.h"
#include "task.h"
#include "traj.h"
#include "testutil.h"

/* Multisets of 4 letters over ABC with varied rewards. */
static gfn_env *open_small_bag(void)
{
    gfn_error err;
    gfn_env *env = gfn_env_bag_alloc("minibag", 3, 4, 3, "ABC", &err);
    if (!env)
        return NULL;
    int64_t N = gfn_env_terminal_count(env);
    double *R = malloc((size_t)N * sizeof *R);
    uint8_t *modes = calloc((size_t)N, 1);
    for (int64_t i = 0; i < N; i++)
        R[i] = 0.5 + (double)((i * 37) % 11);
    if (gfn_env_set_rewards(env, R, modes, &err) != GFN_OK) {
        gfn_env_free(env);
        return NULL;
    }
    return env;
}

static gfn_env *open_env(int which)
{
    switch (which) {
    case 0:
        return gfn_test_open_task("synth", "%s", "mdp=pa alphabet=3 n=4 reward_seed=3");
    case 1:
        return gfn_test_open_task("synth", "%s", "mdp=ar alphabet=2 n=5 reward_seed=4");
    case 2:
        return open_small_bag();
    case 3:
        return gfn_test_open_task("hypergrid", "%s", "dim=2 side=5");
    default:
        return gfn_test_open_task("hypergrid", "%s", "dim=3 side=3");
    }
}
#define N_ENVS 5

/* A random seen set: each terminal with probability 0.4, added in random order. */
typedef struct {
    gfn_state *x;
    int n;
} seen_set;

static void seen_fill(const gfn_env *env, gsl_rng *rng, gfn_guide *g, seen_set *ss)
{
    int64_t N = gfn_env_terminal_count(env);
    ss->x = malloc((size_t)N * sizeof *ss->x);
    ss->n = 0;
    gfn_error err;
    for (int64_t k = 0; k < 2 * N; k++) {
        int64_t r = (int64_t)gsl_rng_uniform_int(rng, (unsigned long)N);
        if (gsl_rng_uniform(rng) > 0.25)
            continue;
        gfn_state x;
        gfn_env_unrank_terminal(env, r, &x);
        int is_new;
        CU_ASSERT_EQUAL(gfn_guide_add(g, &x, &is_new, &err), GFN_OK);
        if (is_new)
            ss->x[ss->n++] = x;
    }
    CU_ASSERT_EQUAL(gfn_guide_size(g), ss->n);
}

/* phi by the definition: a scan of the seen set. */
static double brute_phi(const gfn_env *env, const seen_set *ss, const gfn_state *c,
                        const gfn_state *x)
{
    gfn_state nc = *c;
    nc.term = 0;
    if (c->term ? !gfn_state_equal(c, x) : !gfn_env_reachable(env, c, x))
        return 0.0;
    double sum = 0.0;
    int count = 0;
    for (int i = 0; i < ss->n; i++)
        if (!gfn_state_equal(&ss->x[i], x) && gfn_env_reachable(env, &nc, &ss->x[i])) {
            sum += gfn_env_reward(env, &ss->x[i]);
            count++;
        }
    return count ? sum / count : 0.0;
}

static int near(double a, double b, double rel, double abs_tol)
{
    return fabs(a - b) <= rel * fabs(b) + abs_tol;
}

/* Every state s from which x is reachable, every child: phi and p_guide against
 * the brute force; probabilities sum to 1 and vanish off x's ancestors. */
static long check_target(const gfn_env *env, const gfn_guide *g, const seen_set *ss,
                         const gfn_state *x, double temp)
{
    long bad = 0;
    gfn_state kids[GFN_NBR_MAX];
    double p[GFN_NBR_MAX], w[GFN_NBR_MAX];
    for (int level = 0; level <= gfn_env_max_level(env); level++)
        for (int64_t r = 0; r < gfn_env_level_count(env, level); r++) {
            gfn_state s;
            gfn_env_unrank(env, level, r, &s);
            double phi_s = gfn_guide_phi(g, &s, x), want_s = brute_phi(env, ss, &s, x);
            if (!near(phi_s, want_s, 1e-12, 1e-12) && bad++ < 5)
                printf("\n  phi %.17g, brute force %.17g\n", phi_s, want_s);
            if (!gfn_env_reachable(env, &s, x))
                continue;
            int n = gfn_guide_probs(g, &s, x, kids, p);
            double total = 0.0, wsum = 0.0;
            int any = 0;
            for (int i = 0; i < n; i++) {
                int elig = kids[i].term ? gfn_state_equal(&kids[i], x)
                                        : gfn_env_reachable(env, &kids[i], x);
                double phi = elig ? brute_phi(env, ss, &kids[i], x) : 0.0;
                any |= phi > 0.0;
                w[i] = elig ? pow(fmax(phi, 1e-5), temp) : 0.0;
                total += p[i];
                if (elig ? !(p[i] > 0.0) : p[i] != 0.0) {
                    if (bad++ < 5)
                        printf("\n  child %d: eligible %d but p = %g\n", i, elig, p[i]);
                }
            }
            for (int i = 0; i < n; i++) {
                if (!any && w[i] > 0.0)
                    w[i] = 1.0;
                wsum += w[i];
            }
            for (int i = 0; i < n; i++)
                if (!near(p[i], w[i] / wsum, 1e-9, 1e-15) && bad++ < 5)
                    printf("\n  p_guide %.17g, brute force %.17g\n", p[i], w[i] / wsum);
            if (!near(total, 1.0, 1e-12, 0.0) && bad++ < 5)
                printf("\n  probabilities sum to %.17g\n", total);
        }
    return bad;
}

static void test_phi_and_probs(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 77);
    gfn_error err;
    for (int e = 0; e < N_ENVS; e++) {
        gfn_env *env = open_env(e);
        CU_ASSERT_PTR_NOT_NULL_FATAL(env);
        double temp = e % 2 ? 3.0 : 1.0;
        gfn_guide *g = gfn_guide_alloc(env, temp, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(g);
        seen_set ss;
        /* First with nothing seen: uniform over the eligible children. */
        ss.n = 0;
        ss.x = NULL;
        gfn_state x;
        gfn_env_unrank_terminal(env, gfn_env_terminal_count(env) / 2, &x);
        CU_ASSERT_EQUAL(check_target(env, g, &ss, &x, temp), 0);
        seen_fill(env, rng, g, &ss);
        CU_ASSERT(ss.n > 5);
        /* Targets: some seen (own reward taken out), some drawn at random. */
        long bad = 0;
        for (int k = 0; k < 6; k++) {
            if (k < 3)
                x = ss.x[gsl_rng_uniform_int(rng, (unsigned long)ss.n)];
            else
                gfn_env_unrank_terminal(
                    env, (int64_t)gsl_rng_uniform_int(rng, (unsigned long)gfn_env_terminal_count(env)),
                    &x);
            bad += check_target(env, g, &ss, &x, temp);
        }
        if (bad)
            printf("\n  env %s: %ld mismatches\n", gfn_env_name(env), bad);
        CU_ASSERT_EQUAL(bad, 0);
        /* Adding a seen x again changes nothing. */
        int is_new;
        CU_ASSERT_EQUAL(gfn_guide_add(g, &ss.x[0], &is_new, &err), GFN_OK);
        CU_ASSERT_EQUAL(is_new, 0);
        CU_ASSERT_EQUAL(gfn_guide_size(g), ss.n);
        free(ss.x);
        gfn_guide_free(g);
        gfn_env_free(env);
    }
    gsl_rng_free(rng);
    CU_ASSERT_PTR_NULL(gfn_guide_alloc(NULL, 0.0, &err));
    CU_ASSERT_EQUAL(err.code, GFN_EVALUE);
    gfn_guide_free(NULL);
}

/* Sum over every trajectory s_0 -> ... -> x of prod p_guide: must be 1. */
static double total_mass(const gfn_guide *g, const gfn_state *s, const gfn_state *x)
{
    if (s->term)
        return 1.0;
    gfn_state kids[GFN_NBR_MAX];
    double p[GFN_NBR_MAX], m = 0.0;
    int n = gfn_guide_probs(g, s, x, kids, p);
    for (int i = 0; i < n; i++)
        if (p[i] > 0.0)
            m += p[i] * total_mass(g, &kids[i], x);
    return m;
}

static void test_trajectories(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 78);
    gfn_error err;
    for (int e = 0; e < N_ENVS; e++) {
        gfn_env *env = open_env(e);
        CU_ASSERT_PTR_NOT_NULL_FATAL(env);
        gfn_guide *g = gfn_guide_alloc(env, e % 2 ? 3.0 : 1.0, &err);
        seen_set ss;
        seen_fill(env, rng, g, &ss);
        gfn_traj_batch tb;
        CU_ASSERT_EQUAL_FATAL(gfn_traj_batch_init(&tb, 8, 16, &err), GFN_OK);
        tb.B = 8;
        gfn_state s0, kids[GFN_NBR_MAX];
        gfn_env_initial(env, &s0);
        long bad = 0;
        for (int round = 0; round < 20; round++) {
            for (int b = 0; b < tb.B; b++) {
                gfn_state x;
                gfn_env_unrank_terminal(
                    env, (int64_t)gsl_rng_uniform_int(rng, (unsigned long)gfn_env_terminal_count(env)),
                    &x);
                if (round == 0 && b == 0 && !near(total_mass(g, &s0, &x), 1.0, 1e-12, 0) &&
                    bad++ < 5)
                    printf("\n  total guide mass to x is %.17g\n", total_mass(g, &s0, &x));
                double lp_r, lp_s;
                CU_ASSERT_EQUAL_FATAL(gfn_guide_resample(g, &x, rng, &tb, b, &lp_r, &err), GFN_OK);
                CU_ASSERT_EQUAL(tb.log_guide[b], lp_r);
                CU_ASSERT(lp_r <= 0.0);
                /* The trajectory is a path of the DAG from s_0 to x. */
                const gfn_state *row = tb.states + (size_t)b * (tb.T_max + 1);
                CU_ASSERT(gfn_state_equal(&row[0], &s0));
                CU_ASSERT(gfn_state_equal(&row[tb.len[b]], &x));
                CU_ASSERT_EQUAL(tb.x_rank[b], gfn_env_rank(env, &x));
                CU_ASSERT(near(tb.log_reward[b], log(gfn_env_reward(env, &x)), 1e-15, 0));
                for (int t = 0; t < tb.len[b]; t++) {
                    int n = gfn_env_children(env, &row[t], kids), k = 0;
                    while (k < n && !gfn_state_equal(&kids[k], &row[t + 1]))
                        k++;
                    bad += k == n;
                }
                tb.log_guide[b] = 0.0;
                CU_ASSERT_EQUAL_FATAL(gfn_guide_score(g, &tb, b, &lp_s, &err), GFN_OK);
                CU_ASSERT_EQUAL(tb.log_guide[b], lp_s);
                if (!near(lp_s, lp_r, 1e-12, 1e-12) && bad++ < 5)
                    printf("\n  resample log p %.17g, score %.17g\n", lp_r, lp_s);
            }
        }
        CU_ASSERT_EQUAL(bad, 0);
        /* A step away from x is not a guide move: change the target of row 0. */
        gfn_state *row = tb.states;
        int T = tb.len[0];
        if (T >= 2) {
            gfn_state other;
            gfn_env_unrank_terminal(env, (tb.x_rank[0] + 1) % gfn_env_terminal_count(env), &other);
            row[T] = other; /* the last step now leads elsewhere */
            double lp;
            CU_ASSERT_EQUAL(gfn_guide_score(g, &tb, 0, &lp, &err), GFN_EVALUE);
            CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "trajectory 0"));
        }
        /* T_max too small. */
        gfn_traj_batch small;
        CU_ASSERT_EQUAL_FATAL(gfn_traj_batch_init(&small, 1, 1, &err), GFN_OK);
        gfn_state x;
        gfn_env_unrank_terminal(env, gfn_env_terminal_count(env) - 1, &x);
        double lp;
        CU_ASSERT_EQUAL(gfn_guide_resample(g, &x, rng, &small, 0, &lp, &err), GFN_EVALUE);
        gfn_traj_batch_close(&small);
        gfn_traj_batch_close(&tb);
        free(ss.x);
        gfn_guide_free(g);
        gfn_env_free(env);
    }
    gsl_rng_free(rng);
}

/* Resampling one x many times: each distinct trajectory appears with frequency
 * exp(log p_guide) (generous bound: 5 standard deviations plus 0.002). */
static void test_resample_frequencies(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 79);
    gfn_error err;
    gfn_env *env = gfn_test_open_task("synth", "%s", "mdp=pa alphabet=3 n=4 reward_seed=5");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_guide *g = gfn_guide_alloc(env, 3.0, &err);
    seen_set ss;
    seen_fill(env, rng, g, &ss);
    gfn_state x;
    gfn_env_unrank_terminal(env, 17, &x); /* a string with distinct substrings */
    gfn_traj_batch tb;
    CU_ASSERT_EQUAL_FATAL(gfn_traj_batch_init(&tb, 1, 8, &err), GFN_OK);
    tb.B = 1;
    enum { MAXT = 64, DRAWS = 20000 };
    uint64_t key[MAXT];
    double prob[MAXT];
    int count[MAXT], n_traj = 0;
    for (int d = 0; d < DRAWS; d++) {
        double lp;
        CU_ASSERT_EQUAL_FATAL(gfn_guide_resample(g, &x, rng, &tb, 0, &lp, &err), GFN_OK);
        uint64_t k = 0;
        for (int t = 0; t <= tb.len[0]; t++)
            k = k * 1000003u + (uint64_t)gfn_env_rank(env, &tb.states[t]) * 7u + tb.states[t].level;
        int i = 0;
        while (i < n_traj && key[i] != k)
            i++;
        if (i == n_traj) {
            GFN_ASSERT(n_traj < MAXT);
            key[n_traj] = k;
            prob[n_traj] = exp(lp);
            count[n_traj++] = 0;
        }
        count[i]++;
    }
    CU_ASSERT(n_traj >= 2);
    double mass = 0.0;
    for (int i = 0; i < n_traj; i++) {
        double f = (double)count[i] / DRAWS, sd = sqrt(prob[i] * (1 - prob[i]) / DRAWS);
        mass += prob[i];
        if (fabs(f - prob[i]) > 5 * sd + 0.002)
            printf("\n  trajectory %d: frequency %g, p_guide %g\n", i, f, prob[i]);
        CU_ASSERT(fabs(f - prob[i]) <= 5 * sd + 0.002);
    }
    CU_ASSERT(mass > 0.999 && mass < 1.0 + 1e-9);
    gfn_traj_batch_close(&tb);
    free(ss.x);
    gfn_guide_free(g);
    gfn_env_free(env);
    gsl_rng_free(rng);
}

extern void gfn_test_suite_guide(void);
void gfn_test_suite_guide(void)
{
    CU_pSuite s = CU_add_suite("guide", NULL, NULL);
    CU_add_test(s, "phi and p_guide against a brute-force scan", test_phi_and_probs);
    CU_add_test(s, "trajectories: mass 1, resample equals score", test_trajectories);
    CU_add_test(s, "resample frequencies follow p_guide", test_resample_frequencies);
}
