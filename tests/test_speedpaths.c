/* test_speedpaths.c - the training loop's shortcuts give what the plain calls give:
 *   - gfn_model_backward_set (the first backward of a step overwrites the
 *     gradient) equals gfn_model_zero_grad + gfn_model_backward bit for bit, on a
 *     gradient block full of garbage, for SA and SSR, double and float32, and for
 *     subsets of the networks (the segments not reached come out zero);
 *   - Adam's float mirror (gfn_adam.mirror32) holds (float) of every stepped
 *     parameter, leaves the others alone and does not change the update itself;
 *     a float32 model stepped by Adam computes what a refreshed copy computes;
 *   - a training forward that reuses a kept sampler's evaluations
 *     (gfn_sampler_keep, gfn_model_forward_kept) gives the log P and gradient of
 *     a fresh forward, for forward (P_F) and backward (P_B) sampling;
 *   - a state shared by several trajectories is one network row: a batch of k
 *     copies of one trajectory has the rows, the log P and k times the gradient
 *     of the trajectory alone (SA, SSR; P_F, P_B, FM edge flows);
 *   - the float32 forward's small-batch kernel (long rows, up to 128 rows;
 *     mlp.c gemm_abt_f) agrees with double to ~1e-5 relative, with tails in rows,
 *     outputs and k, and a row's result does not depend on the other rows.
 * Differences are max |a - b| / (max |b| + 1e-12) over a vector. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "adam.h"
#include "mlp.h"
#include "model.h"
#include "params.h"
#include "policy.h"
#include "sampler.h"
#include "task.h"
#include "traj.h"
#include "testutil.h"

static gfn_policy_config small_policy(gfn_policy_kind kind)
{
    gfn_policy_config c = {kind, 16, 2, 12, 1, 6, 10, 1};
    return c;
}

/* A model of cfg on env with nn.Linear weights from a generator seeded with seed;
 * *rng (the caller frees it) goes on to drive the test's sampling. */
static gfn_model *seeded_model(gfn_env *env, const gfn_model_config *cfg, unsigned long seed,
                               gsl_rng **rng)
{
    gfn_error err;
    gfn_model *m = gfn_model_alloc(env, cfg, &err);
    if (!m)
        printf("\n  model: %s\n", err.msg);
    *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(*rng, seed);
    if (m)
        gfn_model_init_params(m, *rng);
    return m;
}

/* Fills the batch's d_ arrays with made-up values (every t, every neighbour). */
static void fake_grads(gfn_traj_batch *tb)
{
    size_t E = (size_t)tb->B_cap * tb->T_max, S = (size_t)tb->B_cap * (tb->T_max + 1);
    gfn_traj_batch_zero_grad(tb);
    for (size_t i = 0; i < E; i++) {
        tb->d_log_pf[i] = sin(0.9 * (double)i + 0.1);
        tb->d_log_pb[i] = cos(1.3 * (double)i + 0.2);
    }
    for (int b = 0; b < tb->B; b++)
        for (int t = 1; t < tb->len[b]; t++)
            tb->d_log_flow[(size_t)b * (tb->T_max + 1) + t] = sin(2.1 * (b * 9 + t) + 0.3);
    for (size_t i = 0; i < S * GFN_NBR_MAX; i++) {
        tb->d_fm_in[i] = cos(0.7 * (double)i + 0.4);
        tb->d_fm_out[i] = sin(1.9 * (double)i + 0.5);
    }
    tb->d_log_z = 0.7;
}

/* backward_set vs zero_grad + backward for one policy kind, precision and
 * selection of what to back-propagate. */
static void check_backward_set(gfn_env *env, gfn_policy_kind kind, int f32, unsigned fwd,
                               unsigned what)
{
    gfn_model_config cfg;
    gfn_model_config_default(&cfg);
    cfg.pf = small_policy(kind);
    cfg.pb = small_policy(kind);
    cfg.flow_head = 1;
    cfg.flow_hidden = 5;
    cfg.flow_layers = 2;
    cfg.fm = 1;
    cfg.B_cap = 6;
    cfg.T_max = 6;
    cfg.f32 = f32;
    gfn_error err;
    gsl_rng *rng;
    gfn_model *m = seeded_model(env, &cfg, 11, &rng);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    gfn_traj_batch tb;
    CU_ASSERT_EQUAL_FATAL(gfn_traj_batch_init(&tb, 6, 6, &err), GFN_OK);
    gfn_sampler *smp = gfn_sampler_alloc(env, 6, &err);
    CU_ASSERT_EQUAL_FATAL(gfn_sampler_forward(smp, gfn_model_pf(m), 0.3, rng, 6, &tb, &err), GFN_OK);
    gfn_model_forward(m, &tb, fwd);
    fake_grads(&tb);
    size_t n = gfn_model_n_params(m);
    double *g = gfn_model_grads(m), *want = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        g[i] = 1e3 * cos((double)i);
    gfn_model_zero_grad(m, GFN_SEG_ALL);
    gfn_model_backward(m, &tb, what);
    memcpy(want, g, n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        g[i] = NAN; /* garbage the overwrite must not read */
    gfn_model_backward_set(m, &tb, what);
    int same = memcmp(want, g, n * sizeof(double)) == 0;
    if (!same)
        printf("\n  backward_set differs: kind %d f32 %d what %u (rel %.3g)\n", kind, f32, what,
               gfn_test_rel_diff(g, want, n));
    CU_ASSERT(same);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += fabs(want[i]);
    CU_ASSERT(s > 0); /* a real gradient was compared */
    free(want);
    gfn_sampler_free(smp);
    gfn_traj_batch_close(&tb);
    gsl_rng_free(rng);
    gfn_model_free(m);
}

static void test_backward_set(void)
{
    gfn_env *env = gfn_test_open_task("synth", "mdp=pa alphabet=%d n=%d", 3, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    unsigned all = GFN_FILL_PF | GFN_FILL_PB | GFN_FILL_FLOW;
    for (int kind = GFN_POLICY_SA; kind <= GFN_POLICY_SSR; kind++)
        for (int f32 = 0; f32 <= 1; f32++) {
            check_backward_set(env, kind, f32, all, all | GFN_FILL_LOG_Z);
            check_backward_set(env, kind, f32, all, GFN_FILL_PB);
            check_backward_set(env, kind, f32, all, GFN_FILL_PF | GFN_FILL_LOG_Z);
            check_backward_set(env, kind, f32, GFN_FILL_FM | GFN_FILL_FLOW,
                               GFN_FILL_FM | GFN_FILL_FLOW);
        }
    gfn_env_free(env);
}

/* Adam with and without a mirror: same parameters, the mirror (float) of the
 * stepped ones, untouched elsewhere; 4-lane tails included (n = 4k + 3). */
static void test_adam_mirror(void)
{
    enum { N = 39 };
    gfn_adam a, b;
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_adam_init(&a, N, &err), GFN_OK);
    CU_ASSERT_EQUAL_FATAL(gfn_adam_init(&b, N, &err), GFN_OK);
    gfn_adam_add_segment(&a, "x", 0, 22, 1e-2, -INFINITY);
    gfn_adam_add_segment(&a, "y", 22, 17, 1e-1, 0.0);
    gfn_adam_add_segment(&b, "x", 0, 22, 1e-2, -INFINITY);
    gfn_adam_add_segment(&b, "y", 22, 17, 1e-1, 0.0);
    a.clip_norm = b.clip_norm = 1.0;
    float mirror[N];
    for (int i = 0; i < N; i++)
        mirror[i] = -7.0f;
    b.mirror32 = mirror;
    double pa[N], pb[N], ga[N], gb[N];
    for (int i = 0; i < N; i++)
        pa[i] = pb[i] = 0.3 * sin(1.1 * i);
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < N; i++)
            ga[i] = gb[i] = cos(0.7 * i + k);
        unsigned mask = k == 1 ? 1u : 3u;
        gfn_adam_step(&a, pa, ga, mask);
        gfn_adam_step(&b, pb, gb, mask);
    }
    CU_ASSERT(memcmp(pa, pb, sizeof pa) == 0);
    int ok = 1;
    for (int i = 0; i < N; i++)
        ok = ok && mirror[i] == (float)pb[i];
    CU_ASSERT(ok);
    /* A segment never stepped leaves its mirror alone. */
    mirror[30] = -7.0f;
    gfn_adam_step(&b, pb, gb, 1u);
    CU_ASSERT(mirror[30] == -7.0f);
    CU_ASSERT(mirror[3] == (float)pb[3]);
    gfn_adam_close(&a);
    gfn_adam_close(&b);
}

/* A float32 model after Adam steps computes log P_F as a model whose float copy
 * is rebuilt from the doubles: the mirror is the copy. */
static void test_model_mirror(void)
{
    gfn_env *env = gfn_test_open_task("synth", "mdp=pa alphabet=%d n=%d", 3, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_model_config cfg;
    gfn_model_config_default(&cfg);
    cfg.pf = small_policy(GFN_POLICY_SA);
    cfg.pb = small_policy(GFN_POLICY_SA);
    cfg.B_cap = 6;
    cfg.T_max = 6;
    cfg.f32 = 1;
    cfg.lr_policy = 1e-2;
    gfn_error err;
    gsl_rng *rng;
    gfn_model *m = seeded_model(env, &cfg, 5, &rng);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_PTR_NOT_NULL(gfn_model_adam(m)->mirror32);
    gfn_traj_batch tb;
    CU_ASSERT_EQUAL_FATAL(gfn_traj_batch_init(&tb, 6, 6, &err), GFN_OK);
    gfn_sampler *smp = gfn_sampler_alloc(env, 6, &err);
    CU_ASSERT_EQUAL_FATAL(gfn_sampler_forward(smp, gfn_model_pf(m), 0.3, rng, 6, &tb, &err), GFN_OK);
    for (int k = 0; k < 3; k++) {
        gfn_model_forward(m, &tb, GFN_FILL_PF | GFN_FILL_PB);
        fake_grads(&tb);
        gfn_model_backward_set(m, &tb, GFN_FILL_PF | GFN_FILL_PB | GFN_FILL_LOG_Z);
        gfn_model_step(m, k == 1 ? GFN_SEG_PF : GFN_SEG_ALL, NULL);
    }
    size_t E = (size_t)tb.B_cap * tb.T_max;
    double *lp = malloc(E * sizeof(double)), *lb = malloc(E * sizeof(double));
    gfn_model_forward(m, &tb, GFN_FILL_PF | GFN_FILL_PB);
    memcpy(lp, tb.log_pf, E * sizeof(double));
    memcpy(lb, tb.log_pb, E * sizeof(double));
    gfn_model_params_changed(m); /* rebuild the float copy from the doubles */
    gfn_model_forward(m, &tb, GFN_FILL_PF | GFN_FILL_PB);
    CU_ASSERT(memcmp(lp, tb.log_pf, E * sizeof(double)) == 0);
    CU_ASSERT(memcmp(lb, tb.log_pb, E * sizeof(double)) == 0);
    free(lp);
    free(lb);
    gfn_sampler_free(smp);
    gfn_traj_batch_close(&tb);
    gsl_rng_free(rng);
    gfn_model_free(m);
    gfn_env_free(env);
}

/* A training forward that reuses a kept sampler's evaluations (forward P_F,
 * backward P_B) gives the log P and the gradient of a fresh forward (SSR: the
 * appended encoder rows and pairs laid out again as a fresh forward's). */
static void check_kept(gfn_env *env, gfn_policy_kind pf_kind, gfn_policy_kind pb_kind, int f32)
{
    gfn_model_config cfg;
    gfn_model_config_default(&cfg);
    cfg.pf = small_policy(pf_kind);
    cfg.pb = small_policy(pb_kind);
    cfg.B_cap = 7;
    cfg.T_max = 6;
    cfg.f32 = f32;
    gfn_error err;
    gsl_rng *rng;
    gfn_model *m = seeded_model(env, &cfg, 9, &rng);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    gfn_traj_batch tb;
    CU_ASSERT_EQUAL_FATAL(gfn_traj_batch_init(&tb, 7, 6, &err), GFN_OK);
    gfn_sampler *smp = gfn_sampler_alloc(env, 7, &err);
    CU_ASSERT_EQUAL_FATAL(gfn_sampler_keep(smp, 6, &err), GFN_OK);
    size_t n = gfn_model_n_params(m), E = 7 * 6;
    double *gk = malloc(n * sizeof(double)), *lp = malloc(E * sizeof(double));
    double *lb = malloc(E * sizeof(double));
    unsigned all = GFN_FILL_PF | GFN_FILL_PB;
    for (int dir = 0; dir < 2; dir++) {
        if (dir == 0) {
            CU_ASSERT_EQUAL_FATAL(gfn_sampler_forward(smp, gfn_model_pf(m), 0.2, rng, 7, &tb, &err),
                                  GFN_OK);
        } else {
            int64_t x[7];
            for (int b = 0; b < 7; b++)
                x[b] = (int64_t)((b * 5 + 3) % gfn_env_terminal_count(env));
            CU_ASSERT_EQUAL_FATAL(gfn_sampler_backward(smp, gfn_model_pb(m), rng, 7, x, &tb, &err),
                                  GFN_OK);
        }
        const int *rows = gfn_sampler_rows(smp);
        CU_ASSERT_PTR_NOT_NULL_FATAL(rows);
        /* P_F kept after forward sampling, P_B after backward sampling. */
        gfn_model_forward_kept(m, &tb, all, dir == 0 ? rows : NULL, dir == 1 ? rows : NULL,
                               gfn_sampler_rows_stride(smp));
        memcpy(lp, tb.log_pf, E * sizeof(double));
        memcpy(lb, tb.log_pb, E * sizeof(double));
        fake_grads(&tb);
        gfn_model_backward_set(m, &tb, all);
        memcpy(gk, gfn_model_grads(m), n * sizeof(double));
        /* The same batch through a fresh forward. */
        gfn_model_forward(m, &tb, all);
        fake_grads(&tb);
        gfn_model_backward_set(m, &tb, all);
        double tol = f32 ? 1e-6 : 1e-12;
        double dp = gfn_test_rel_diff(lp, tb.log_pf, E), db = gfn_test_rel_diff(lb, tb.log_pb, E);
        double dg = gfn_test_rel_diff(gk, gfn_model_grads(m), n);
        if (!(dp <= tol && db <= tol && dg <= tol))
            printf("\n  kept vs fresh (%s, pf kind %d, pb kind %d, f32 %d): log P_F %.3g, "
                   "log P_B %.3g, gradient %.3g\n", dir ? "backward" : "forward", pf_kind, pb_kind,
                   f32, dp, db, dg);
        CU_ASSERT(dp <= tol);
        CU_ASSERT(db <= tol);
        CU_ASSERT(dg <= tol);
    }
    free(gk);
    free(lp);
    free(lb);
    gfn_sampler_free(smp);
    gfn_traj_batch_close(&tb);
    gsl_rng_free(rng);
    gfn_model_free(m);
}

static void test_forward_kept(void)
{
    gfn_env *env = gfn_test_open_task("synth", "mdp=pa alphabet=%d n=%d", 3, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    for (int f32 = 0; f32 <= 1; f32++) {
        check_kept(env, GFN_POLICY_SA, GFN_POLICY_SA, f32);
        check_kept(env, GFN_POLICY_SA, GFN_POLICY_UNIFORM, f32);
        check_kept(env, GFN_POLICY_SSR, GFN_POLICY_SSR, f32);
        check_kept(env, GFN_POLICY_SSR, GFN_POLICY_UNIFORM, f32);
    }
    gfn_env_free(env);
}

/* d_ arrays that depend on the edge t only, so that every copy of a trajectory
 * gets the same derivatives. */
static void grads_by_t(gfn_traj_batch *tb)
{
    gfn_traj_batch_zero_grad(tb);
    for (int b = 0; b < tb->B; b++)
        for (int t = 0; t <= tb->len[b]; t++) {
            size_t e = (size_t)b * tb->T_max + t, si = (size_t)b * (tb->T_max + 1) + t;
            if (t < tb->len[b]) {
                tb->d_log_pf[e] = sin(0.9 * t + 0.1);
                tb->d_log_pb[e] = cos(1.3 * t + 0.2);
            }
            for (int k = 0; k < GFN_NBR_MAX; k++) {
                tb->d_fm_in[si * GFN_NBR_MAX + k] = cos(0.7 * (t * GFN_NBR_MAX + k) + 0.4);
                tb->d_fm_out[si * GFN_NBR_MAX + k] = sin(1.9 * (t * GFN_NBR_MAX + k) + 0.5);
            }
        }
    tb->d_log_z = 0.7;
}

static void check_shared(gfn_env *env, gfn_policy_kind kind, unsigned what)
{
    enum { K = 5, T = 6 };
    gfn_model_config cfg;
    gfn_model_config_default(&cfg);
    cfg.pf = small_policy(kind);
    cfg.pb = small_policy(kind);
    cfg.fm = 1;
    cfg.B_cap = K;
    cfg.T_max = T;
    gfn_error err;
    gsl_rng *rng;
    gfn_model *m = seeded_model(env, &cfg, 5, &rng);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    gfn_traj_batch one, many;
    CU_ASSERT_EQUAL_FATAL(gfn_traj_batch_init(&one, 1, T, &err), GFN_OK);
    CU_ASSERT_EQUAL_FATAL(gfn_traj_batch_init(&many, K, T, &err), GFN_OK);
    gfn_sampler *smp = gfn_sampler_alloc(env, 1, &err);
    CU_ASSERT_EQUAL_FATAL(gfn_sampler_forward(smp, gfn_model_pf(m), 0.3, rng, 1, &one, &err), GFN_OK);
    many.B = K;
    for (int b = 0; b < K; b++) {
        many.len[b] = one.len[0];
        many.x_rank[b] = one.x_rank[0];
        many.log_reward[b] = one.log_reward[0];
        memcpy(&many.states[(size_t)b * (T + 1)], one.states, (T + 1) * sizeof(gfn_state));
    }
    size_t n = gfn_model_n_params(m);
    double *g1 = malloc(n * sizeof(double)), *gk = gfn_model_grads(m);
    double lp1[T], lb1[T];
    int rf1, rb1, rfk, rbk;
    int64_t f0, f1, f2, b0, b1, b2;
    gfn_policy_row_counts(gfn_model_pf(m), &f0, &b0);
    gfn_model_forward(m, &one, what);
    gfn_model_rows(m, &rf1, &rb1);
    memcpy(lp1, one.log_pf, sizeof lp1);
    memcpy(lb1, one.log_pb, sizeof lb1);
    grads_by_t(&one);
    gfn_model_backward_set(m, &one, what);
    for (size_t i = 0; i < n; i++)
        g1[i] = K * gk[i];
    gfn_policy_row_counts(gfn_model_pf(m), &f1, &b1);
    gfn_model_forward(m, &many, what);
    gfn_model_rows(m, &rfk, &rbk);
    grads_by_t(&many);
    gfn_model_backward_set(m, &many, what);
    CU_ASSERT_EQUAL(rfk, rf1);
    CU_ASSERT_EQUAL(rbk, rb1);
    /* P_F's network saw the same states for the copies as for the one. */
    gfn_policy_row_counts(gfn_model_pf(m), &f2, &b2);
    CU_ASSERT(f1 - f0 > 0);
    CU_ASSERT_EQUAL(f2 - f1, f1 - f0);
    CU_ASSERT_EQUAL(b2 - b1, b1 - b0);
    CU_ASSERT(rf1 >= one.len[0] && rf1 > 0); /* a trajectory's own states are distinct */
    double worst = 0;
    for (int b = 0; b < K; b++)
        for (int t = 0; t < one.len[0]; t++) {
            worst = fmax(worst, fabs(many.log_pf[b * T + t] - lp1[t]));
            worst = fmax(worst, fabs(many.log_pb[b * T + t] - lb1[t]));
        }
    double dg = gfn_test_rel_diff(gk, g1, n), s = 0;
    for (size_t i = 0; i < n; i++)
        s += fabs(g1[i]);
    if (!(worst <= 1e-12 && dg <= 1e-12))
        printf("\n  %d copies (kind %d what %u): log P off by %.3g, gradient vs %d x one %.3g\n", K,
               kind, what, worst, K, dg);
    CU_ASSERT(worst <= 1e-12);
    CU_ASSERT(dg <= 1e-12);
    CU_ASSERT(s > 0);
    free(g1);
    gfn_sampler_free(smp);
    gfn_traj_batch_close(&one);
    gfn_traj_batch_close(&many);
    gsl_rng_free(rng);
    gfn_model_free(m);
}

static void test_shared_states(void)
{
    gfn_env *env = gfn_test_open_task("synth", "mdp=pa alphabet=%d n=%d", 3, 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    unsigned whats[] = {GFN_FILL_PF | GFN_FILL_PB, GFN_FILL_PF | GFN_FILL_PB | GFN_FILL_FM};
    for (int k = 0; k < 2; k++)
        for (int w = 0; w < 2; w++)
            check_shared(env, k ? GFN_POLICY_SSR : GFN_POLICY_SA, whats[w]);
    gfn_env_free(env);
}

/* Widths whose long layers take the small-batch kernel, with tails everywhere:
 * k = 300 and 257 (not multiples of 16), 257 and 9 outputs (not multiples of 4). */
static void test_small_kernel(void)
{
    int w[] = {40, 300, 257, 9}, cap = 130;
    gfn_error err;
    gfn_mlp *a = gfn_mlp_alloc(w, 4, cap, &err), *b = gfn_mlp_alloc(w, 4, cap, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL_FATAL(gfn_mlp_set_f32(b, 1, &err), GFN_OK);
    size_t np = gfn_mlp_n_params(a);
    double *th = malloc(np * sizeof(double)), *ga = calloc(np, sizeof(double));
    double *gb = calloc(np, sizeof(double));
    double *in = malloc((size_t)cap * 40 * sizeof(double));
    double *dout = malloc((size_t)cap * 9 * sizeof(double));
    double *oa = malloc((size_t)cap * 9 * sizeof(double)), *ob = malloc((size_t)cap * 9 * sizeof(double));
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gfn_mlp_bind(a, th, ga);
    gfn_mlp_init_params(a, r);
    gfn_mlp_bind(b, th, gb);
    for (int i = 0; i < cap * 40; i++)
        in[i] = (i % 7 == 0) ? 1.0 : 0.5 * sin(0.37 * i);
    for (int i = 0; i < cap * 9; i++)
        dout[i] = cos(0.91 * i);
    int rows_list[] = {1, 3, 5, 37, 128, 130};
    for (size_t q = 0; q < sizeof rows_list / sizeof rows_list[0]; q++) {
        int rows = rows_list[q];
        memcpy(oa, gfn_mlp_forward(a, rows, in), (size_t)rows * 9 * sizeof(double));
        memcpy(ob, gfn_mlp_forward(b, rows, in), (size_t)rows * 9 * sizeof(double));
        double df = gfn_test_rel_diff(ob, oa, (size_t)rows * 9);
        memset(ga, 0, np * sizeof(double));
        memset(gb, 0, np * sizeof(double));
        gfn_mlp_backward(a, rows, dout, NULL);
        gfn_mlp_backward(b, rows, dout, NULL);
        double dg = gfn_test_rel_diff(gb, ga, np);
        if (!(df < 1e-5 && df > 0 && dg < 1e-4))
            printf("\n  small kernel, %d rows: f32 vs f64 output %.3g, gradient %.3g\n", rows, df, dg);
        CU_ASSERT(df < 1e-5);
        CU_ASSERT(df > 0); /* it really ran in float */
        CU_ASSERT(dg < 1e-4);
    }
    /* The first 3 rows alone, and with 37 rows: the same values (to the bit
     * with the kernel; sgemm may pick other kernels by size, so only close). */
    memcpy(oa, gfn_mlp_forward(b, 37, in), (size_t)3 * 9 * sizeof(double));
    memcpy(ob, gfn_mlp_forward(b, 3, in), (size_t)3 * 9 * sizeof(double));
    double dr = gfn_test_rel_diff(ob, oa, 27);
    if (!(dr < 1e-6))
        printf("\n  small kernel: 3 rows alone vs within 37 differ by %.3g\n", dr);
    CU_ASSERT(dr < 1e-6);
    gsl_rng_free(r);
    free(th);
    free(ga);
    free(gb);
    free(in);
    free(dout);
    free(oa);
    free(ob);
    gfn_mlp_free(a);
    gfn_mlp_free(b);
}

extern void gfn_test_suite_speedpaths(void);
void gfn_test_suite_speedpaths(void)
{
    CU_pSuite s = CU_add_suite("speedpaths", NULL, NULL);
    CU_add_test(s, "backward_set == zero_grad + backward, bit for bit (SA, SSR; f64, f32)",
                test_backward_set);
    CU_add_test(s, "Adam's float mirror: (float) of stepped parameters, same update", test_adam_mirror);
    CU_add_test(s, "float32 model stepped by Adam == refreshed float copy", test_model_mirror);
    CU_add_test(s, "forward_kept (sampler's kept rows) == fresh forward, P_F and P_B (SA, SSR)", test_forward_kept);
    CU_add_test(s, "shared states are one row: k copies of a trajectory give k x its gradient",
                test_shared_states);
    CU_add_test(s, "float32 small-batch kernel within 1e-5 of double (tails in rows, k, outputs)",
                test_small_kernel);
}
