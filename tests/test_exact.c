/* test_exact.c - the exact learned distribution p_theta(x) (harness/run/exact.c).
 *
 * The forward DP  P(s_0) = 1, P(s') = sum_{parents s} P(s) P_F(s'|s), p_theta(x) = P(x)
 * is checked against:
 *   - closed forms: under the uniform P_F on the append-only (ar) MDP every
 *     terminal has probability A^-n;
 *   - an independent brute force that enumerates every trajectory s_0 -> ... -> x
 *     recursively (children from gfn_env_children, the same unique-children rule)
 *     and adds up the product of its step probabilities: 1/K for the uniform
 *     policy, and for SA/SSR policies the policy evaluated one state at a time;
 *   - the empirical distribution of many samples from gfn_sampler_forward with
 *     epsilon 0 (max |f_x - p_x| / sd_x <= 5, fixed seed);
 * and for identities: the mass sums to 1; p_theta does not depend on the chunk
 * size (states per batched policy call).
 * The SA and SSR policies are not at their initialisation: a trainer takes a few
 * TB rounds from a fixed seed so that the weights are varied and the learned
 * distribution far from uniform.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "env.h"
#include "exact.h"
#include "model.h"
#include "objective.h"
#include "params.h"
#include "policy.h"
#include "sampler.h"
#include "task.h"
#include "trainer.h"
#include "traj.h"

/* |a - b| <= abs_tol + rel_tol |b|, printing both values when it fails. */
static int close_to(double a, double b, double rel_tol, double abs_tol, const char *what)
{
    if (fabs(a - b) <= abs_tol + rel_tol * fabs(b))
        return 1;
    printf("\n  %s: got %.17g, expected %.17g (diff %.3g)\n", what, a, b, a - b);
    return 0;
}

/* Opens task `name` with up to three key=value arguments. */
static gfn_env *open_task(const char *name, const char *a1, const char *a2, const char *a3)
{
    gfn_params p;
    gfn_error err;
    gfn_params_init(&p);
    const char *args[] = {a1, a2, a3};
    for (int i = 0; i < 3; i++)
        if (args[i] && gfn_params_set_arg(&p, args[i], "test", &err) != GFN_OK)
            printf("\n  bad argument %s: %s\n", args[i], err.msg);
    gfn_env *env = NULL;
    if (gfn_task_open(name, &p, &env, &err) != GFN_OK)
        printf("\n  cannot open %s: %s\n", name, err.msg);
    gfn_params_close(&p);
    return env;
}

static gfn_policy *uniform_pf(const gfn_env *env, int row_cap)
{
    gfn_policy_config u = {0};
    u.kind = GFN_POLICY_UNIFORM;
    gfn_error err;
    gfn_policy *p = gfn_policy_alloc(env, GFN_POLICY_FWD, &u, row_cap, &err);
    if (!p)
        printf("\n  uniform policy: %s\n", err.msg);
    return p;
}

/* ---- brute force over trajectories ---------------------------------------- */

/* Adds prob * P(tau) for every trajectory tau from s to each terminal into px.
 * pf NULL: the uniform policy 1/K, computed here from the children count alone.
 * Otherwise pf is evaluated at s alone (one row), and its neighbour list must be
 * the env's unique children in the same order.  *paths counts trajectories. */
static void enumerate(const gfn_env *env, gfn_policy *pf, const gfn_state *s, double prob,
                      double *px, long *paths, int *mismatch)
{
    gfn_state ch[GFN_NBR_MAX];
    double lp[GFN_NBR_MAX];
    int K = gfn_env_children(env, s, ch);
    if (pf) {
        gfn_policy_forward(pf, 1, s);
        if (gfn_policy_n_nbr(pf, 0) != K)
            (*mismatch)++;
        const gfn_state *nb = gfn_policy_nbrs(pf, 0);
        for (int k = 0; k < K; k++) {
            if (!gfn_state_equal(&nb[k], &ch[k]))
                (*mismatch)++;
            lp[k] = gfn_policy_logp(pf)[k]; /* copied: the recursion overwrites the policy */
        }
    }
    for (int k = 0; k < K; k++) {
        double q = prob * (pf ? exp(lp[k]) : 1.0 / K);
        if (ch[k].term) {
            px[gfn_env_rank(env, &ch[k])] += q;
            (*paths)++;
        } else {
            enumerate(env, pf, &ch[k], q, px, paths, mismatch);
        }
    }
}

/* p_theta by brute force into a new array (terminal_count). */
static double *brute_force(const gfn_env *env, gfn_policy *pf, long *paths)
{
    int64_t X = gfn_env_terminal_count(env);
    double *px = calloc((size_t)X, sizeof(double));
    gfn_state s0;
    gfn_env_initial(env, &s0);
    int mismatch = 0;
    *paths = 0;
    enumerate(env, pf, &s0, 1.0, px, paths, &mismatch);
    CU_ASSERT_EQUAL(mismatch, 0);
    return px;
}

/* p_theta by the DP into a new array; checks the status and that the mass is 1. */
static double *dp(const gfn_env *env, gfn_policy *pf, int chunk)
{
    int64_t X = gfn_env_terminal_count(env);
    double *p = malloc((size_t)X * sizeof(double)), mass = NAN;
    gfn_error err;
    int rc = gfn_exact_p_theta(env, pf, chunk, p, &mass, NULL, NULL, &err);
    if (rc)
        printf("\n  exact: %s\n", err.msg);
    CU_ASSERT_EQUAL(rc, GFN_OK);
    CU_ASSERT(close_to(mass, 1.0, 0, 1e-13, "total mass"));
    return p;
}

/* Counts entries of a and b (n) that differ beyond the tolerances. */
static int count_diff(const double *a, const double *b, int64_t n, double rel, double abs_tol,
                      const char *what)
{
    int bad = 0;
    for (int64_t i = 0; i < n; i++)
        if (!close_to(a[i], b[i], rel, abs_tol, what) && ++bad > 5)
            break;
    return bad;
}

/* ---- uniform policy ---------------------------------------------------------- */

static void test_uniform_ar_closed_form(void)
{
    gfn_env *env = open_task("synth", "mdp=ar", "alphabet=3", "n=5");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_policy *pf = uniform_pf(env, 16);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pf);
    int64_t X = gfn_env_terminal_count(env);
    CU_ASSERT_EQUAL(X, 243);
    double *p = dp(env, pf, 0);
    /* Each of the n steps multiplies by exp(-log 3), so a few ulps of error. */
    int bad = 0;
    for (int64_t x = 0; x < X; x++)
        bad += !close_to(p[x], 1.0 / 243.0, 1e-14, 0, "ar uniform p(x)");
    CU_ASSERT_EQUAL(bad, 0);
    free(p);
    gfn_policy_free(pf);
    gfn_env_free(env);
}

/* The DP against the path enumeration for the uniform P_F on an MDP with
 * duplicate edges (pa) and on a grid where every state can stop. */
static void check_uniform_brute(const char *name, const char *a1, const char *a2,
                                const char *a3, long min_paths)
{
    gfn_env *env = open_task(name, a1, a2, a3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_policy *pf = uniform_pf(env, 64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pf);
    int64_t X = gfn_env_terminal_count(env);
    long paths;
    double *ref = brute_force(env, NULL, &paths);
    double *p = dp(env, pf, 0);
    CU_ASSERT(paths >= min_paths); /* the enumeration really walked the DAG */
    CU_ASSERT_EQUAL(count_diff(p, ref, X, 1e-13, 1e-16, name), 0);
    /* Not trivially uniform over X: the unique-children rule matters. */
    double lo = 1, hi = 0;
    for (int64_t x = 0; x < X; x++) {
        lo = p[x] < lo ? p[x] : lo;
        hi = p[x] > hi ? p[x] : hi;
    }
    CU_ASSERT(hi > 1.5 * lo);
    free(p);
    free(ref);
    gfn_policy_free(pf);
    gfn_env_free(env);
}

static void test_uniform_pa_brute(void)
{
    /* 81 terminals; a string of length 4 has up to 8 forward paths. */
    check_uniform_brute("synth", "mdp=pa", "alphabet=3", "n=4", 81 * 4);
}

static void test_uniform_grid_brute(void)
{
    check_uniform_brute("hypergrid", "dim=2", "side=3", NULL, 9);
    check_uniform_brute("hypergrid", "dim=3", "side=3", NULL, 27 * 3);
}

/* ---- trained SA and SSR policies ------------------------------------------------ */

/* A trainer for env with a small policy of kind `kind`, after `rounds` TB rounds
 * at a large learning rate from `seed`. */
static gfn_trainer *trained(const gfn_env *env, gfn_policy_kind kind, int rounds,
                            unsigned long seed)
{
    gfn_trainer_config c;
    memset(&c, 0, sizeof c);
    c.objective = gfn_objective_find("tb");
    gfn_objective_opts_default(&c.obj);
    gfn_model_config_default(&c.model);
    gfn_policy_config pc = {kind, 16, 2, 12, 1, 12, 12, 1};
    c.model.pf = pc;
    c.model.pb = pc;
    c.model.lr_policy = 1e-2;
    c.model.lr_z = 0.1;
    c.replay = GFN_REPLAY_NONE;
    c.epsilon = 0.1;
    c.batch = 16;
    c.replay_batch = 0;
    c.steps_per_batch = 1;
    c.seed = seed;
    gfn_error err;
    gfn_trainer *t = gfn_trainer_alloc(env, &c, &err);
    if (!t) {
        printf("\n  trainer: %s\n", err.msg);
        return NULL;
    }
    for (int r = 0; r < rounds; r++)
        if (gfn_trainer_round(t, &err) != GFN_OK) {
            printf("\n  round %d: %s\n", r, err.msg);
            gfn_trainer_free(t);
            return NULL;
        }
    return t;
}

/* A fresh forward policy of the trainer's configuration with room for row_cap
 * states, bound to the trainer's P_F weights (the first segment of the block),
 * so that the DP's chunk size is exactly row_cap. */
static gfn_policy *pf_copy(const gfn_env *env, gfn_trainer *t, int row_cap)
{
    gfn_model *m = gfn_trainer_model(t);
    const gfn_model_config *mc = gfn_model_get_config(m);
    gfn_error err;
    gfn_policy *p = gfn_policy_alloc(env, GFN_POLICY_FWD, &mc->pf, row_cap, &err);
    if (!p) {
        printf("\n  policy: %s\n", err.msg);
        return NULL;
    }
    CU_ASSERT_EQUAL(gfn_policy_n_params(p), gfn_policy_n_params(gfn_model_pf(m)));
    gfn_policy_bind(p, gfn_model_params(m), NULL);
    return p;
}

/* Max over x of |f_x - p_x| / sd_x for N samples with frequencies f and
 * probabilities p (X); sd_x = sqrt(max(p_x, 1/N)(1 - p_x)/N). */
static double max_z(const double *f, const double *p, int64_t X, long N)
{
    double z = 0;
    for (int64_t x = 0; x < X; x++) {
        double v = p[x] > 1.0 / N ? p[x] : 1.0 / N;
        double zx = fabs(f[x] - p[x]) / sqrt(v * (1 - p[x]) / N);
        z = zx > z ? zx : z;
    }
    return z;
}

/* Frequencies of N terminals drawn by gfn_sampler_forward with epsilon 0. */
static double *sample_freq(const gfn_env *env, gfn_policy *pf, long N, unsigned long seed)
{
    int64_t X = gfn_env_terminal_count(env);
    const int B = 256;
    gfn_error err;
    gfn_traj_batch tb;
    CU_ASSERT_EQUAL_FATAL(gfn_traj_batch_init(&tb, B, gfn_env_max_level(env) + 1, &err), GFN_OK);
    gfn_sampler *s = gfn_sampler_alloc(env, B, &err);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double *f = calloc((size_t)X, sizeof(double));
    for (long done = 0; done < N; done += B) {
        int m = N - done < B ? (int)(N - done) : B;
        if (gfn_sampler_forward(s, pf, 0.0, rng, m, &tb, &err) != GFN_OK) {
            printf("\n  sampler: %s\n", err.msg);
            CU_FAIL("sampler");
            break;
        }
        for (int b = 0; b < m; b++)
            f[tb.x_rank[b]] += 1.0 / N;
    }
    gsl_rng_free(rng);
    gfn_sampler_free(s);
    gfn_traj_batch_close(&tb);
    return f;
}

/* Trained policy on a task: DP against the brute force (1e-12), against the
 * empirical distribution of samples (5 sigma), and against itself with chunks
 * of 1, 7 and 2048 states. */
static void check_trained(const char *name, const char *a1, const char *a2, const char *a3,
                          gfn_policy_kind kind, unsigned long seed)
{
    gfn_env *env = open_task(name, a1, a2, a3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_trainer *t = trained(env, kind, 60, seed);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    int64_t X = gfn_env_terminal_count(env);
    gfn_policy *pf = gfn_trainer_pf(t);

    long paths;
    double *ref = brute_force(env, pf, &paths);
    double *p = dp(env, pf, 0);
    CU_ASSERT_EQUAL(count_diff(p, ref, X, 1e-12, 1e-15, "DP vs brute force"), 0);

    /* The weights moved away from near-uniform: the test has something to see. */
    double *pu = NULL;
    gfn_policy *u = uniform_pf(env, 64);
    if (u)
        pu = dp(env, u, 0);
    double tv = 0;
    for (int64_t x = 0; pu && x < X; x++)
        tv += 0.5 * fabs(p[x] - pu[x]);
    if (!(tv > 0.05))
        printf("\n  TV(trained, uniform sampler) = %g: the policy barely moved\n", tv);
    CU_ASSERT(tv > 0.05);

    const long N = 40000;
    double *f = sample_freq(env, pf, N, seed + 17);
    double z = max_z(f, p, X, N), zu = pu ? max_z(f, pu, X, N) : 0;
    if (!(z <= 5.0))
        printf("\n  samples vs DP: max z = %g (> 5)\n", z);
    CU_ASSERT(z <= 5.0);
    /* The same bound rejects the uniform sampler's distribution: it has power. */
    CU_ASSERT(zu > 5.0);

    const int chunks[] = {1, 7, 2048};
    for (int k = 0; k < 3; k++) {
        gfn_policy *c = pf_copy(env, t, chunks[k]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        CU_ASSERT_EQUAL(gfn_policy_row_cap(c), chunks[k]);
        double *pc = dp(env, c, chunks[k]);
        /* BLAS may pick other kernels for other matrix sizes: last-bit differences. */
        CU_ASSERT_EQUAL(count_diff(pc, p, X, 1e-15, 0, "chunk invariance"), 0);
        free(pc);
        gfn_policy_free(c);
    }
    free(f);
    free(pu);
    gfn_policy_free(u);
    free(p);
    free(ref);
    gfn_trainer_free(t);
    gfn_env_free(env);
}

static void test_sa_pa(void) { check_trained("synth", "mdp=pa", "alphabet=3", "n=4", GFN_POLICY_SA, 3); }
static void test_ssr_pa(void) { check_trained("synth", "mdp=pa", "alphabet=3", "n=4", GFN_POLICY_SSR, 4); }
static void test_sa_grid(void) { check_trained("hypergrid", "dim=2", "side=4", NULL, GFN_POLICY_SA, 5); }
static void test_ssr_grid(void) { check_trained("hypergrid", "dim=2", "side=4", NULL, GFN_POLICY_SSR, 6); }

/* Chunk invariance and unit mass for the uniform policy too, with exact equality:
 * it involves no matrix products. */
static void test_uniform_chunks(void)
{
    gfn_env *env = open_task("hypergrid", "dim=3", "side=5", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    int64_t X = gfn_env_terminal_count(env);
    double *p[3];
    const int chunks[] = {1, 7, 2048};
    for (int k = 0; k < 3; k++) {
        gfn_policy *u = uniform_pf(env, chunks[k]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(u);
        p[k] = dp(env, u, chunks[k]);
        gfn_policy_free(u);
    }
    CU_ASSERT_EQUAL(memcmp(p[0], p[1], (size_t)X * sizeof(double)), 0);
    CU_ASSERT_EQUAL(memcmp(p[0], p[2], (size_t)X * sizeof(double)), 0);
    for (int k = 0; k < 3; k++)
        free(p[k]);
    gfn_env_free(env);
}

/* The progress callback sees increasing fractions that end at exactly 1. */
typedef struct {
    int calls, bad;
    double last;
} progress_log;

static void on_progress(void *ctx, double frac)
{
    progress_log *l = ctx;
    l->bad += !(frac > l->last && frac <= 1.0);
    l->last = frac;
    l->calls++;
}

static void test_progress(void)
{
    gfn_env *env = open_task("synth", "mdp=pa", "alphabet=3", "n=4");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_policy *pf = uniform_pf(env, 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pf);
    double *p = malloc((size_t)gfn_env_terminal_count(env) * sizeof(double));
    progress_log l = {0, 0, 0.0};
    gfn_error err;
    CU_ASSERT_EQUAL(gfn_exact_p_theta(env, pf, 10, p, NULL, on_progress, &l, &err), GFN_OK);
    CU_ASSERT(l.calls >= 5); /* 121 states in chunks of at most 10 */
    CU_ASSERT_EQUAL(l.bad, 0);
    CU_ASSERT_EQUAL(l.last, 1.0);
    free(p);
    gfn_policy_free(pf);
    gfn_env_free(env);
}

extern void gfn_test_suite_exact(void); /* called by tests/test_main.c */
void gfn_test_suite_exact(void)
{
    CU_pSuite s = CU_add_suite("exact", NULL, NULL);
    CU_add_test(s, "uniform P_F on ar: every x has A^-n", test_uniform_ar_closed_form);
    CU_add_test(s, "uniform P_F on pa: DP = path enumeration", test_uniform_pa_brute);
    CU_add_test(s, "uniform P_F on hypergrid: DP = path enumeration", test_uniform_grid_brute);
    CU_add_test(s, "uniform P_F: chunks 1, 7, 2048 identical", test_uniform_chunks);
    CU_add_test(s, "trained SA on pa: brute force, samples, chunks", test_sa_pa);
    CU_add_test(s, "trained SSR on pa: brute force, samples, chunks", test_ssr_pa);
    CU_add_test(s, "trained SA on hypergrid: brute force, samples, chunks", test_sa_grid);
    CU_add_test(s, "trained SSR on hypergrid: brute force, samples, chunks", test_ssr_grid);
    CU_add_test(s, "progress reaches 1", test_progress);
}
