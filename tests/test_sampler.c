/* test_sampler.c - forward and backward trajectory sampling: valid edges, the
 * exact terminal distribution under P_F with epsilon exploration (by dynamic
 * programming over the whole task), uniform P_B, determinism of the sampler and
 * of whole training steps, and the error paths. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "model.h"
#include "params.h"
#include "policy.h"
#include "sampler.h"
#include "task.h"

static gfn_env *open_task2(const char *name, const char *a1, const char *a2, const char *a3)
{
    gfn_params p;
    gfn_error err;
    gfn_params_init(&p);
    const char *args[] = {a1, a2, a3};
    for (int i = 0; i < 3; i++)
        if (args[i])
            gfn_params_set_arg(&p, args[i], "test", &err);
    gfn_env *env = NULL;
    if (gfn_task_open(name, &p, &env, &err) != GFN_OK)
        printf("\n  cannot open %s: %s\n", name, err.msg);
    gfn_params_close(&p);
    return env;
}

static gfn_model *small_model(const gfn_env *env, int B, int T, gfn_policy_kind pb)
{
    gfn_model_config cfg;
    gfn_model_config_default(&cfg);
    gfn_policy_config sa = {GFN_POLICY_SA, 8, 2, 8, 1, 8, 8, 1};
    cfg.pf = sa;
    cfg.pb = sa;
    cfg.pb.kind = pb;
    cfg.B_cap = B;
    cfg.T_max = T;
    cfg.lr_policy = 1e-2;
    gfn_error err;
    gfn_model *m = gfn_model_alloc(env, &cfg, &err);
    if (!m)
        printf("\n  model: %s\n", err.msg);
    return m;
}

/* Every trajectory is s_0 -> ... -> x along edges, x_rank and log_reward match. */
static int check_trajectories(const gfn_env *env, const gfn_traj_batch *tb)
{
    int bad = 0;
    for (int b = 0; b < tb->B; b++) {
        const gfn_state *s = &tb->states[(size_t)b * (tb->T_max + 1)];
        gfn_state s0;
        gfn_env_initial(env, &s0);
        bad += !gfn_state_equal(&s[0], &s0);
        for (int t = 0; t < tb->len[b]; t++) {
            gfn_state ch[GFN_NBR_MAX];
            int n = gfn_env_children(env, &s[t], ch), found = 0;
            for (int k = 0; k < n; k++)
                found |= gfn_state_equal(&ch[k], &s[t + 1]);
            bad += !found;
            bad += s[t].term;
        }
        bad += !s[tb->len[b]].term;
        bad += gfn_env_rank(env, &s[tb->len[b]]) != tb->x_rank[b];
        bad += tb->log_reward[b] != log(gfn_env_rewards(env)[tb->x_rank[b]]);
    }
    return bad;
}

/* Exact terminal distribution of forward sampling with exploration epsilon:
 * P(c) += P(s) (epsilon / K + (1 - epsilon) P_F(c | s)), level by level. */
static double *exact_terminal_dist(const gfn_env *env, gfn_policy *pf, double epsilon)
{
    int64_t NS = gfn_env_state_count(env), NX = gfn_env_terminal_count(env);
    double *ps = calloc((size_t)NS, sizeof(double)), *px = calloc((size_t)NX, sizeof(double));
    ps[0] = 1.0;
    for (int l = 0; l <= gfn_env_max_level(env); l++) {
        int64_t n = gfn_env_level_count(env, l), off = gfn_env_level_offset(env, l);
        gfn_state *st = malloc((size_t)n * sizeof *st);
        int *nn = malloc((size_t)n * sizeof(int));
        double *lp = malloc((size_t)n * GFN_NBR_MAX * sizeof(double));
        for (int64_t r = 0; r < n; r++)
            gfn_env_unrank(env, l, r, &st[r]);
        gfn_policy_logp_all(pf, n, st, nn, lp);
        for (int64_t r = 0; r < n; r++) {
            gfn_state ch[GFN_NBR_MAX];
            int K = gfn_env_children(env, &st[r], ch);
            for (int k = 0; k < K; k++) {
                double q = ps[off + r] * (epsilon / K + (1 - epsilon) * exp(lp[r * GFN_NBR_MAX + k]));
                if (ch[k].term)
                    px[gfn_env_rank(env, &ch[k])] += q;
                else
                    ps[gfn_env_level_offset(env, ch[k].level) + gfn_env_rank(env, &ch[k])] += q;
            }
        }
        free(st);
        free(nn);
        free(lp);
    }
    free(ps);
    return px;
}

static void test_forward_distribution(void)
{
    gfn_env *env = open_task2("synth", "mdp=pa", "alphabet=2", "n=3");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_model *m = small_model(env, 64, 4, GFN_POLICY_UNIFORM);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    double *theta = gfn_model_params(m);
    for (size_t i = 0; i < gfn_model_n_params(m); i++)
        theta[i] = 0.5 * sin(1.7 * (double)i);
    gfn_error err;
    gfn_traj_batch tb;
    CU_ASSERT_EQUAL_FATAL(gfn_traj_batch_init(&tb, 64, 4, &err), GFN_OK);
    gfn_sampler *s = gfn_sampler_alloc(env, 64, &err);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 11);
    const double eps = 0.3;
    int64_t NX = gfn_env_terminal_count(env);
    double *cnt = calloc((size_t)NX, sizeof(double));
    int N = 0, bad = 0;
    for (int rep = 0; rep < 300; rep++) {
        CU_ASSERT_EQUAL_FATAL(gfn_sampler_forward(s, gfn_model_pf(m), eps, rng, 64, &tb, &err), GFN_OK);
        bad += check_trajectories(env, &tb);
        for (int b = 0; b < 64; b++)
            cnt[tb.x_rank[b]]++;
        N += 64;
    }
    CU_ASSERT_EQUAL(bad, 0);
    double *px = exact_terminal_dist(env, gfn_model_pf(m), eps);
    double tot = 0;
    for (int64_t x = 0; x < NX; x++) {
        tot += px[x];
        double f = cnt[x] / N, sd = sqrt(px[x] * (1 - px[x]) / N);
        if (fabs(f - px[x]) > 4.5 * sd + 1e-4) {
            printf("\n  x %lld: sampled %.5f exact %.5f (sd %.5f)\n", (long long)x, f, px[x], sd);
            bad++;
        }
    }
    CU_ASSERT(fabs(tot - 1.0) < 1e-12);
    CU_ASSERT_EQUAL(bad, 0);
    free(px);
    free(cnt);
    gsl_rng_free(rng);
    gfn_sampler_free(s);
    gfn_traj_batch_close(&tb);
    gfn_model_free(m);
    gfn_env_free(env);
}

static void test_backward(void)
{
    gfn_env *env = open_task2("hypergrid", "dim=2", "side=4", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_error err;
    int T = 7;
    gfn_traj_batch tb;
    CU_ASSERT_EQUAL_FATAL(gfn_traj_batch_init(&tb, 50, T, &err), GFN_OK);
    gfn_sampler *s = gfn_sampler_alloc(env, 50, &err);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    for (int k = 0; k < 2; k++) {
        gfn_model *m = small_model(env, 50, T, k ? GFN_POLICY_SA : GFN_POLICY_UNIFORM);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        double *theta = gfn_model_params(m);
        for (size_t i = 0; i < gfn_model_n_params(m); i++)
            theta[i] = 0.5 * sin(1.7 * (double)i);
        int64_t xr[50];
        gfn_state x;
        /* All to the corner (3,3): 6 increments, C(6,3) = 20 orderings; and a few others. */
        for (int b = 0; b < 50; b++)
            xr[b] = b < 40 ? gfn_env_terminal_count(env) - 1 : b % 16;
        gfn_env_unrank_terminal(env, xr[0], &x);
        CU_ASSERT_EQUAL(x.v[0] + x.v[1], 6);
        int first_x = 0, n_first = 0, bad = 0;
        for (int rep = 0; rep < 100; rep++) {
            CU_ASSERT_EQUAL_FATAL(gfn_sampler_backward(s, gfn_model_pb(m), rng, 50, xr, &tb, &err),
                              GFN_OK);
            bad += check_trajectories(env, &tb);
            for (int b = 0; b < 50; b++) {
                bad += tb.x_rank[b] != xr[b];
                if (b < 40) {
                    bad += tb.len[b] != 7;
                    /* Under uniform P_B the first move from s_0 is along x with prob. 1/2. */
                    first_x += tb.states[(size_t)b * (T + 1) + 1].v[0] == 1;
                    n_first++;
                }
            }
        }
        CU_ASSERT_EQUAL(bad, 0);
        if (k == 0) {
            double f = (double)first_x / n_first, sd = sqrt(0.25 / n_first);
            if (fabs(f - 0.5) > 4.5 * sd)
                printf("\n  first step along x: %.4f, expected 0.5 +- %.4f\n", f, sd);
            CU_ASSERT(fabs(f - 0.5) <= 4.5 * sd);
        }
        gfn_model_free(m);
    }
    gsl_rng_free(rng);
    gfn_sampler_free(s);
    gfn_traj_batch_close(&tb);
    gfn_env_free(env);
}

/* Same rng seed, same batches (forward with exploration, then backward). */
static void test_sampler_repeatable(void)
{
    gfn_env *env = open_task2("hypergrid", "dim=3", "side=4", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_error err;
    gfn_model *m = small_model(env, 16, 10, GFN_POLICY_SA);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    double *theta = gfn_model_params(m);
    for (size_t i = 0; i < gfn_model_n_params(m); i++)
        theta[i] = 0.5 * sin(1.7 * (double)i);
    gfn_traj_batch tb[2];
    gfn_sampler *s = gfn_sampler_alloc(env, 16, &err);
    for (int k = 0; k < 2; k++) {
        CU_ASSERT_EQUAL_FATAL(gfn_traj_batch_init(&tb[k], 16, 10, &err), GFN_OK);
        gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(rng, 99);
        CU_ASSERT_EQUAL(gfn_sampler_forward(s, gfn_model_pf(m), 0.25, rng, 16, &tb[k], &err), GFN_OK);
        int64_t xr[16];
        memcpy(xr, tb[k].x_rank, sizeof xr);
        CU_ASSERT_EQUAL(gfn_sampler_backward(s, gfn_model_pb(m), rng, 16, xr, &tb[k], &err), GFN_OK);
        gsl_rng_free(rng);
    }
    int diff = 0, distinct = 0;
    for (int b = 0; b < 16; b++) {
        diff += tb[0].len[b] != tb[1].len[b] || tb[0].x_rank[b] != tb[1].x_rank[b];
        distinct += tb[0].x_rank[b] != tb[0].x_rank[0];
        for (int t = 0; t <= tb[0].len[b]; t++)
            diff += !gfn_state_equal(&tb[0].states[b * 11 + t], &tb[1].states[b * 11 + t]);
    }
    CU_ASSERT_EQUAL(diff, 0);
    CU_ASSERT(distinct > 0); /* the batch is not trivially constant */
    for (int k = 0; k < 2; k++)
        gfn_traj_batch_close(&tb[k]);
    gfn_sampler_free(s);
    gfn_model_free(m);
    gfn_env_free(env);
}

/* Five TB steps from a seed (sampling, forward, loss, backward, Adam); returns params. */
static double *train_steps(const gfn_env *env, unsigned long seed, size_t *n_out, double **mom)
{
    gfn_model *m = small_model(env, 8, 4, GFN_POLICY_SA);
    gfn_error err;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    gfn_model_init_params(m, rng);
    gfn_traj_batch tb;
    gfn_traj_batch_init(&tb, 8, 4, &err);
    gfn_sampler *s = gfn_sampler_alloc(env, 8, &err);
    for (int step = 0; step < 5; step++) {
        gfn_sampler_forward(s, gfn_model_pf(m), 0.1, rng, 8, &tb, &err);
        gfn_model_zero_grad(m, GFN_SEG_ALL);
        gfn_model_forward(m, &tb, GFN_FILL_PF | GFN_FILL_PB);
        gfn_traj_batch_zero_grad(&tb);
        for (int b = 0; b < 8; b++) {
            double r = gfn_model_log_z(m) - tb.log_reward[b];
            for (int t = 0; t < tb.len[b]; t++)
                r += tb.log_pf[b * 4 + t] - tb.log_pb[b * 4 + t];
            for (int t = 0; t < tb.len[b]; t++) {
                tb.d_log_pf[b * 4 + t] = 2 * r / 8;
                tb.d_log_pb[b * 4 + t] = -2 * r / 8;
            }
            tb.d_log_z += 2 * r / 8;
        }
        gfn_model_backward(m, &tb, GFN_FILL_PF | GFN_FILL_PB | GFN_FILL_LOG_Z);
        int st;
        gfn_model_step(m, GFN_SEG_ALL, &st);
        CU_ASSERT_EQUAL(st, GFN_OK);
    }
    size_t n = gfn_model_n_params(m);
    double *out = malloc(n * sizeof(double));
    memcpy(out, gfn_model_params(m), n * sizeof(double));
    *mom = malloc(n * sizeof(double));
    memcpy(*mom, gfn_model_adam(m)->v, n * sizeof(double));
    *n_out = n;
    gsl_rng_free(rng);
    gfn_sampler_free(s);
    gfn_traj_batch_close(&tb);
    gfn_model_free(m);
    return out;
}

static void test_deterministic(void)
{
    gfn_env *env = open_task2("synth", "mdp=pa", "alphabet=3", "n=3");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    size_t n1, n2, n3;
    double *v1, *v2, *v3;
    double *a = train_steps(env, 123, &n1, &v1), *b = train_steps(env, 123, &n2, &v2);
    double *c = train_steps(env, 124, &n3, &v3);
    CU_ASSERT_EQUAL_FATAL(n1, n2);
    CU_ASSERT_EQUAL(memcmp(a, b, n1 * sizeof(double)), 0);
    CU_ASSERT_EQUAL(memcmp(v1, v2, n1 * sizeof(double)), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(a, c, n1 * sizeof(double)), 0);
    /* log Z moved away from its initial 5.0 */
    CU_ASSERT(a[n1 - 1] != 5.0);
    free(a);
    free(b);
    free(c);
    free(v1);
    free(v2);
    free(v3);
    gfn_env_free(env);
}

static void test_errors(void)
{
    gfn_env *env = open_task2("hypergrid", "dim=2", "side=4", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_error err;
    gfn_model *m = small_model(env, 4, 8, GFN_POLICY_UNIFORM);
    gfn_traj_batch tb;
    CU_ASSERT_EQUAL_FATAL(gfn_traj_batch_init(&tb, 4, 3, &err), GFN_OK); /* too short */
    gfn_sampler *s = gfn_sampler_alloc(env, 4, &err);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    /* epsilon 1 and 100 tries: some trajectory exceeds 3 edges. */
    int rc = GFN_OK;
    for (int i = 0; i < 100 && rc == GFN_OK; i++)
        rc = gfn_sampler_forward(s, gfn_model_pf(m), 1.0, rng, 4, &tb, &err);
    CU_ASSERT_EQUAL(rc, GFN_EVALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "T_max"));
    CU_ASSERT_EQUAL(gfn_sampler_forward(s, gfn_model_pf(m), 0.0, rng, 5, &tb, &err), GFN_EVALUE);
    int64_t xr[1] = {9999};
    CU_ASSERT_EQUAL(gfn_sampler_backward(s, gfn_model_pb(m), rng, 1, xr, &tb, &err), GFN_EVALUE);
    gsl_rng_free(rng);
    gfn_sampler_free(s);
    gfn_sampler_free(NULL);
    gfn_traj_batch_close(&tb);
    gfn_model_free(m);
    gfn_env_free(env);
}

extern void gfn_test_suite_sampler(void);
void gfn_test_suite_sampler(void)
{
    CU_pSuite s = CU_add_suite("sampler", NULL, NULL);
    CU_add_test(s, "forward: valid and exact distribution with epsilon", test_forward_distribution);
    CU_add_test(s, "backward: uniform and learned P_B", test_backward);
    CU_add_test(s, "same seed, same trajectories", test_sampler_repeatable);
    CU_add_test(s, "same seed, bit-identical training steps", test_deterministic);
    CU_add_test(s, "errors", test_errors);
}
