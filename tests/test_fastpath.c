/* test_fastpath.c - the speed paths agree with the plain ones:
 *   - gfn_policy_forward_logp (rows with one neighbour skip the networks) gives
 *     the log P of gfn_policy_forward, and the same gradient through backward
 *     (SA and SSR, forward and backward policies, on pa strings where full-length
 *     states have one child and one-letter strings one parent);
 *   - float32 MLPs (gfn_mlp_set_f32) agree with double to ~1e-4 relative on a
 *     forward and a backward, and a float32 model's log P_F with the double one;
 *   - the float copy follows parameter changes (gfn_mlp_params_changed).
 * Differences are measured as max |a - b| / (max |b| + 1e-12) over a vector. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "mlp.h"
#include "model.h"
#include "params.h"
#include "policy.h"
#include "task.h"
#include "testutil.h"

/* Every state of every level plus every terminal (BWD) or every non-terminal (FWD). */
static int states_for(const gfn_env *env, gfn_policy_dir dir, gfn_state *out, int cap)
{
    int k = 0;
    for (int L = 0; L <= gfn_env_max_level(env); L++)
        for (int64_t r = 0; r < gfn_env_level_count(env, L) && k < cap; r++) {
            gfn_env_unrank(env, L, r, &out[k]);
            if (dir == GFN_POLICY_BWD && L == 0)
                continue; /* s_0 has no parents */
            k++;
        }
    if (dir == GFN_POLICY_BWD)
        for (int64_t x = 0; x < gfn_env_terminal_count(env) && k < cap; x++)
            gfn_env_unrank_terminal(env, x, &out[k++]);
    return k;
}

static void check_logp_only(gfn_policy_kind kind, gfn_policy_dir dir)
{
    gfn_env *env = gfn_test_open_task("synth", "mdp=pa alphabet=%d n=%d", 3, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_state st[128];
    int n = states_for(env, dir, st, 128);
    gfn_policy_config cfg = {kind, 16, 2, 16, 1, 8, 16, 1};
    gfn_error err;
    gfn_policy *p = gfn_policy_alloc(env, dir, &cfg, n, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    size_t np = gfn_policy_n_params(p);
    double *th = malloc(np * sizeof(double)), *g1 = calloc(np, sizeof(double));
    double *g2 = calloc(np, sizeof(double));
    double *lp = malloc((size_t)n * GFN_NBR_MAX * sizeof(double));
    double *d = calloc((size_t)n * GFN_NBR_MAX, sizeof(double));
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gfn_policy_bind(p, th, g1);
    gfn_policy_init_params(p, r);
    int singles = 0;
    gfn_policy_forward(p, n, st);
    memcpy(lp, gfn_policy_logp(p), (size_t)n * GFN_NBR_MAX * sizeof(double));
    for (int i = 0; i < n; i++) {
        singles += gfn_policy_n_nbr(p, i) == 1;
        for (int j = 0; j < gfn_policy_n_nbr(p, i); j++)
            d[(size_t)i * GFN_NBR_MAX + j] = sin(1.3 * i + 0.7 * j);
    }
    CU_ASSERT(singles > 0); /* the test exercises the skip */
    gfn_policy_backward(p, d, NULL);
    gfn_policy_bind(p, th, g2);
    gfn_policy_forward_logp(p, n, st);
    const double *lq = gfn_policy_logp(p);
    double worst = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < gfn_policy_n_nbr(p, i); j++) {
            double a = lq[(size_t)i * GFN_NBR_MAX + j], b = lp[(size_t)i * GFN_NBR_MAX + j];
            worst = fmax(worst, fabs(a - b));
        }
    gfn_policy_backward(p, d, NULL);
    double gd = gfn_test_rel_diff(g2, g1, np);
    if (worst > 1e-12 || gd > 1e-12)
        printf("\n  kind %d dir %d: |log P diff| %.3g, gradient rel diff %.3g\n", kind, dir, worst,
               gd);
    CU_ASSERT(worst <= 1e-12);
    CU_ASSERT(gd <= 1e-12);
    gsl_rng_free(r);
    free(th);
    free(g1);
    free(g2);
    free(lp);
    free(d);
    gfn_policy_free(p);
    gfn_env_free(env);
}

static void test_logp_only(void)
{
    check_logp_only(GFN_POLICY_SA, GFN_POLICY_FWD);
    check_logp_only(GFN_POLICY_SA, GFN_POLICY_BWD);
    check_logp_only(GFN_POLICY_SSR, GFN_POLICY_FWD);
    check_logp_only(GFN_POLICY_SSR, GFN_POLICY_BWD);
}

static void test_mlp_f32(void)
{
    int w[] = {32, 128, 128, 9}, rows = 37;
    gfn_error err;
    gfn_mlp *a = gfn_mlp_alloc(w, 4, rows, &err), *b = gfn_mlp_alloc(w, 4, rows, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL_FATAL(gfn_mlp_set_f32(b, 1, &err), GFN_OK);
    CU_ASSERT(gfn_mlp_is_f32(b));
    size_t np = gfn_mlp_n_params(a);
    double *th = malloc(np * sizeof(double)), *ga = calloc(np, sizeof(double));
    double *gb = calloc(np, sizeof(double));
    double *in = malloc((size_t)rows * 32 * sizeof(double)), *dout = malloc((size_t)rows * 9 * sizeof(double));
    double *dia = malloc((size_t)rows * 32 * sizeof(double)), *dib = malloc((size_t)rows * 32 * sizeof(double));
    double *oa = malloc((size_t)rows * 9 * sizeof(double));
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gfn_mlp_bind(a, th, ga);
    gfn_mlp_init_params(a, r);
    gfn_mlp_bind(b, th, gb);
    for (int i = 0; i < rows * 32; i++)
        in[i] = (i % 5 == 0) ? 1.0 : 0.3 * sin(0.37 * i);
    for (int i = 0; i < rows * 9; i++)
        dout[i] = cos(0.91 * i);
    memcpy(oa, gfn_mlp_forward(a, rows, in), (size_t)rows * 9 * sizeof(double));
    const double *ob = gfn_mlp_forward(b, rows, in);
    double df = gfn_test_rel_diff(ob, oa, (size_t)rows * 9);
    gfn_mlp_backward(a, rows, dout, dia);
    gfn_mlp_backward(b, rows, dout, dib);
    double dg = gfn_test_rel_diff(gb, ga, np), di = gfn_test_rel_diff(dib, dia, (size_t)rows * 32);
    if (!(df < 1e-4 && dg < 1e-4 && di < 1e-4))
        printf("\n  f32 vs f64: output %.3g, param grad %.3g, input grad %.3g\n", df, dg, di);
    CU_ASSERT(df < 1e-4);
    CU_ASSERT(dg < 1e-4);
    CU_ASSERT(di < 1e-4);
    CU_ASSERT(df > 0); /* it really ran in float */
    /* The float copy follows a change of the doubles once told. */
    for (size_t i = 0; i < np; i++)
        th[i] *= 0.5;
    gfn_mlp_params_changed(b);
    memcpy(oa, gfn_mlp_forward(a, rows, in), (size_t)rows * 9 * sizeof(double));
    ob = gfn_mlp_forward(b, rows, in);
    df = gfn_test_rel_diff(ob, oa, (size_t)rows * 9);
    if (!(df < 1e-4))
        printf("\n  f32 after params_changed: output %.3g\n", df);
    CU_ASSERT(df < 1e-4);
    gsl_rng_free(r);
    free(th);
    free(ga);
    free(gb);
    free(in);
    free(dout);
    free(dia);
    free(dib);
    free(oa);
    gfn_mlp_free(a);
    gfn_mlp_free(b);
}

/* A float32 model gives log P_F, log P_B and the parameter gradient within ~1e-4
 * of the double model on a trajectory batch, with SA and with SSR policies (the
 * SSR encoder, both halves of its first scorer layer and the scorer in float). */
static void check_model_f32(gfn_policy_kind kind)
{
    gfn_env *env = gfn_test_open_task("synth", "mdp=pa alphabet=%d n=%d", 4, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_model_config c;
    gfn_model_config_default(&c);
    c.pf.kind = kind;
    c.pb.kind = kind;
    c.B_cap = 4;
    c.T_max = 5;
    gfn_error err;
    gfn_model *m[2];
    gfn_traj_batch tb;
    CU_ASSERT_EQUAL_FATAL(gfn_traj_batch_init(&tb, 4, 5, &err), GFN_OK);
    double lp[2][20], lb[2][20];
    double *g[2];
    size_t n = 0;
    for (int k = 0; k < 2; k++) {
        c.f32 = k;
        m[k] = gfn_model_alloc(env, &c, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(m[k]);
        gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
        gfn_model_init_params(m[k], r);
        gsl_rng_free(r);
        /* Trajectories: append letters b, b+1, ... then STOP. */
        tb.B = 4;
        for (int b = 0; b < 4; b++) {
            gfn_state *s = &tb.states[(size_t)b * 6];
            gfn_env_initial(env, &s[0]);
            for (int t = 1; t <= 4; t++) {
                s[t] = s[t - 1];
                s[t].v[t - 1] = (uint8_t)((b + t) % 4);
                s[t].level = (uint16_t)t;
            }
            s[5] = s[4];
            s[5].term = 1;
            tb.len[b] = 5;
        }
        gfn_model_forward(m[k], &tb, GFN_FILL_PF | GFN_FILL_PB);
        memcpy(lp[k], tb.log_pf, sizeof lp[k]);
        memcpy(lb[k], tb.log_pb, sizeof lb[k]);
        for (int i = 0; i < 20; i++) { /* fixed, varied upstream gradients */
            tb.d_log_pf[i] = 0.5 * sin(1.7 * i);
            tb.d_log_pb[i] = 0.5 * cos(1.3 * i);
        }
        gfn_model_backward_set(m[k], &tb, GFN_FILL_PF | GFN_FILL_PB);
        n = gfn_model_n_params(m[k]);
        g[k] = gfn_model_grads(m[k]);
    }
    double d1 = gfn_test_rel_diff(lp[1], lp[0], 20), d2 = gfn_test_rel_diff(lb[1], lb[0], 20);
    double dg = gfn_test_rel_diff(g[1], g[0], n), gn = 0.0;
    for (size_t i = 0; i < n; i++)
        gn += g[0][i] * g[0][i];
    if (!(d1 < 1e-4 && d2 < 1e-4 && dg < 1e-4))
        printf("\n  model f32 vs f64 (kind %d): log P_F %.3g, log P_B %.3g, gradient %.3g\n",
               (int)kind, d1, d2, dg);
    CU_ASSERT(d1 < 1e-4);
    CU_ASSERT(d2 < 1e-4);
    CU_ASSERT(dg < 1e-4);
    CU_ASSERT(gn > 1e-6); /* an all-zero gradient cannot pass */
    CU_ASSERT(dg > 0);     /* it really ran in float */
    gfn_traj_batch_close(&tb);
    gfn_model_free(m[0]);
    gfn_model_free(m[1]);
    gfn_env_free(env);
}

static void test_model_f32(void)
{
    check_model_f32(GFN_POLICY_SA);
    check_model_f32(GFN_POLICY_SSR);
}

extern void gfn_test_suite_fastpath(void);
void gfn_test_suite_fastpath(void)
{
    CU_pSuite s = CU_add_suite("fastpath", NULL, NULL);
    CU_add_test(s, "forward_logp: same log P and gradient (SA, SSR; fwd, bwd)", test_logp_only);
    CU_add_test(s, "float32 MLP within 1e-4 of double; follows parameter changes", test_mlp_f32);
    CU_add_test(s, "float32 model (SA, SSR) log P_F, log P_B, gradient within 1e-4 of double", test_model_f32);
}
