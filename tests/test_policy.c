/* test_policy.c - SA, SSR and uniform policies: finite-difference gradients of
 * log-probabilities and log edge flows (forward and backward, pa and ar strings
 * with the empty and one-letter strings where duplicate actions aggregate, and
 * hypergrid), normalisation over neighbours, duplicate aggregation by hand,
 * and the model's flow head and FM edge flows over a trajectory batch. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "gradcheck.h"
#include "mlp.h"
#include "params.h"
#include "model.h"
#include "policy.h"
#include "sampler.h"
#include "task.h"

/* Opens a task from "name key=value ...". */
static gfn_env *open_task(const char *spec)
{
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", spec);
    char *name = strtok_r(buf, " ", &save);
    gfn_params p;
    gfn_error err;
    gfn_params_init(&p);
    for (char *kv = strtok_r(NULL, " ", &save); kv; kv = strtok_r(NULL, " ", &save))
        gfn_params_set_arg(&p, kv, "test", &err);
    gfn_env *env = NULL;
    if (gfn_task_open(name, &p, &env, &err) != GFN_OK)
        printf("\n  cannot open %s: %s\n", spec, err.msg);
    gfn_params_close(&p);
    return env;
}

/* Every state the policy can be asked about: non-terminals with children (FWD),
 * or every state with parents (BWD).  Returns the count; *out is malloc'd. */
static int all_states(const gfn_env *env, gfn_policy_dir dir, gfn_state **out)
{
    int64_t n = gfn_env_state_count(env) + gfn_env_terminal_count(env);
    gfn_state *s = malloc((size_t)n * sizeof *s);
    int k = 0;
    for (int l = 0; l <= gfn_env_max_level(env); l++)
        for (int64_t r = 0; r < gfn_env_level_count(env, l); r++) {
            gfn_env_unrank(env, l, r, &s[k]);
            if (dir == GFN_POLICY_FWD || l > 0)
                k++;
        }
    if (dir == GFN_POLICY_BWD)
        for (int64_t r = 0; r < gfn_env_terminal_count(env); r++)
            gfn_env_unrank_terminal(env, r, &s[k++]);
    *out = s;
    return k;
}

typedef struct {
    gfn_policy *pol;
    int n;
    const gfn_state *states;
    double *w, *v; /* (n, GFN_NBR_MAX) weights of logp and logflow */
} pol_ctx;

/* L = sum_{i,j < n_nbr} w_ij log P_ij + v_ij log f_ij */
static double pol_loss(void *c_)
{
    pol_ctx *c = c_;
    gfn_policy_forward(c->pol, c->n, c->states);
    const double *lp = gfn_policy_logp(c->pol), *lf = gfn_policy_logflow(c->pol);
    double s = 0.0;
    for (int i = 0; i < c->n; i++)
        for (int j = 0; j < gfn_policy_n_nbr(c->pol, i); j++)
            s += c->w[i * GFN_NBR_MAX + j] * lp[i * GFN_NBR_MAX + j] +
                 c->v[i * GFN_NBR_MAX + j] * lf[i * GFN_NBR_MAX + j];
    return s;
}

static gfn_policy_config small_config(gfn_policy_kind kind)
{
    gfn_policy_config c = {kind, 6, 2, 5, 1, 4, 5, 1};
    return c;
}

static void check_policy_grad_cfg(const char *task, gfn_policy_config cfg, gfn_policy_dir dir)
{
    gfn_policy_kind kind = cfg.kind;
    gfn_env *env = open_task(task);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_state *states;
    int n = all_states(env, dir, &states);
    gfn_error err;
    gfn_policy *pol = gfn_policy_alloc(env, dir, &cfg, n, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pol);
    size_t np = gfn_policy_n_params(pol);
    double *theta = malloc(np * sizeof(double)), *grad = malloc(np * sizeof(double));
    for (size_t i = 0; i < np; i++)
        theta[i] = 0.5 * sin(1.7 * (double)i);
    gfn_policy_bind(pol, theta, grad);
    size_t N = (size_t)n * GFN_NBR_MAX;
    double *w = calloc(N, sizeof(double)), *v = calloc(N, sizeof(double));
    double *zero = calloc(N, sizeof(double));
    for (size_t i = 0; i < N; i++) {
        w[i] = sin(2.3 * (double)i + 0.4);
        v[i] = cos(1.1 * (double)i + 0.2);
    }
    for (int which = 0; which < 2; which++) {
        pol_ctx c = {pol, n, states, which ? zero : w, which ? v : zero};
        memset(grad, 0, np * sizeof(double));
        pol_loss(&c);
        gfn_policy_backward(pol, c.w, c.v);
        double norm;
        char what[160];
        snprintf(what, sizeof what, "%s kind %d dir %d sc_layers %d %s", task, kind, dir,
                 cfg.sc_layers, which ? "logflow" : "logp");
        double rel = gfn_test_gradcheck(theta, np, grad, pol_loss, &c, 1e-5, what, &norm);
        CU_ASSERT(rel < 1e-6);
        /* ar has one parent per state: log P_B = 0 has no gradient, by design. */
        if (!which && dir == GFN_POLICY_BWD && strstr(task, "mdp=ar"))
            norm = 1.0;
        if (!(norm > 1e-3))
            printf("\n  %s: gradient norm %.3g too small\n", what, norm);
        CU_ASSERT(norm > 1e-3);
    }
    free(theta);
    free(grad);
    free(w);
    free(v);
    free(zero);
    free(states);
    gfn_policy_free(pol);
    gfn_env_free(env);
}

static void check_policy_grad(const char *task, gfn_policy_kind kind, gfn_policy_dir dir)
{
    check_policy_grad_cfg(task, small_config(kind), dir);
}

static const char *TASKS[] = {"synth mdp=pa alphabet=2 n=2", "synth mdp=ar alphabet=3 n=2",
                              "hypergrid dim=2 side=3"};

static void test_sa_gradients(void)
{
    for (int t = 0; t < 3; t++) {
        check_policy_grad(TASKS[t], GFN_POLICY_SA, GFN_POLICY_FWD);
        check_policy_grad(TASKS[t], GFN_POLICY_SA, GFN_POLICY_BWD);
    }
}

static void test_ssr_gradients(void)
{
    for (int t = 0; t < 3; t++) {
        check_policy_grad(TASKS[t], GFN_POLICY_SSR, GFN_POLICY_FWD);
        check_policy_grad(TASKS[t], GFN_POLICY_SSR, GFN_POLICY_BWD);
    }
    /* Scorer of one Linear layer, and of three; encoder of two hidden layers. */
    gfn_policy_config c = small_config(GFN_POLICY_SSR);
    c.sc_layers = 0;
    check_policy_grad_cfg(TASKS[0], c, GFN_POLICY_FWD);
    c.sc_layers = 2;
    c.enc_layers = 2;
    check_policy_grad_cfg(TASKS[2], c, GFN_POLICY_FWD);
    check_policy_grad_cfg(TASKS[2], c, GFN_POLICY_BWD);
}

/* The split first scorer layer equals the plain MLP on [z_s, z_c]: the scorer's
 * parameter slice has the layout of MLP(2 embed, sc_hidden x sc_layers, 1). */
static void test_ssr_matches_concat(void)
{
    gfn_env *env = open_task("hypergrid dim=2 side=3");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_state *states;
    int n = all_states(env, GFN_POLICY_FWD, &states);
    gfn_error err;
    for (int L = 0; L < 3; L++) {
        gfn_policy_config cfg = small_config(GFN_POLICY_SSR);
        cfg.sc_layers = L;
        gfn_policy *pol = gfn_policy_alloc(env, GFN_POLICY_FWD, &cfg, n, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(pol);
        size_t np = gfn_policy_n_params(pol);
        double *theta = malloc(np * sizeof(double));
        gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
        gfn_policy_bind(pol, theta, NULL);
        gfn_policy_init_params(pol, r);
        gfn_policy_forward(pol, n, states);
        int F = gfn_env_feature_dim(env), E = cfg.embed;
        int we[] = {F, cfg.enc_hidden, E}, ws[] = {2 * E, cfg.sc_hidden, cfg.sc_hidden, 1};
        int ws_n = 0, wsc[4];
        wsc[ws_n++] = 2 * E;
        for (int l = 0; l < L; l++)
            wsc[ws_n++] = ws[1];
        wsc[ws_n++] = 1;
        gfn_mlp *enc = gfn_mlp_alloc(we, 3, 2, &err), *sc = gfn_mlp_alloc(wsc, ws_n, 1, &err);
        CU_ASSERT_EQUAL_FATAL(gfn_mlp_n_params(enc) + gfn_mlp_n_params(sc), np);
        gfn_mlp_bind(enc, theta, NULL);
        gfn_mlp_bind(sc, theta + gfn_mlp_n_params(enc), NULL);
        int bad = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < gfn_policy_n_nbr(pol, i); j++) {
                double f[2 * 64], zz[2 * 16];
                gfn_env_features(env, &states[i], f);
                gfn_env_features(env, &gfn_policy_nbrs(pol, i)[j], f + F);
                memcpy(zz, gfn_mlp_forward(enc, 2, f), 2 * (size_t)E * sizeof(double));
                double u = gfn_mlp_forward(sc, 1, zz)[0];
                double got = gfn_policy_logflow(pol)[i * GFN_NBR_MAX + j];
                if (fabs(got - u) > 1e-13 + 1e-12 * fabs(u)) {
                    printf("\n  L %d state %d nbr %d: split %.17g concat %.17g\n", L, i, j, got, u);
                    bad++;
                }
            }
        CU_ASSERT_EQUAL(bad, 0);
        gfn_mlp_free(enc);
        gfn_mlp_free(sc);
        gsl_rng_free(r);
        free(theta);
        gfn_policy_free(pol);
    }
    free(states);
    gfn_env_free(env);
}

/* Probabilities over neighbours sum to 1 on every state; entries past the
 * neighbours are -INFINITY; uniform is -log(count). */
static void test_normalised(void)
{
    const char *tasks[] = {"synth mdp=pa alphabet=3 n=3", "hypergrid dim=3 side=3"};
    gfn_policy_kind kinds[] = {GFN_POLICY_SA, GFN_POLICY_SSR, GFN_POLICY_UNIFORM};
    for (int t = 0; t < 2; t++) {
        gfn_env *env = open_task(tasks[t]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(env);
        for (int k = 0; k < 3; k++)
            for (int d = 0; d < 2; d++) {
                gfn_state *states;
                int n = all_states(env, (gfn_policy_dir)d, &states);
                gfn_error err;
                gfn_policy_config cfg = small_config(kinds[k]);
                gfn_policy *pol = gfn_policy_alloc(env, (gfn_policy_dir)d, &cfg, 7, &err);
                CU_ASSERT_PTR_NOT_NULL_FATAL(pol);
                size_t np = gfn_policy_n_params(pol);
                double *theta = malloc((np ? np : 1) * sizeof(double));
                for (size_t i = 0; i < np; i++)
                    theta[i] = 0.5 * sin(1.7 * (double)i);
                gfn_policy_bind(pol, theta, NULL);
                int *nn = malloc((size_t)n * sizeof(int));
                double *lp = malloc((size_t)n * GFN_NBR_MAX * sizeof(double));
                gfn_policy_logp_all(pol, n, states, nn, lp); /* several chunks of 7 */
                int bad = 0;
                for (int i = 0; i < n; i++) {
                    gfn_state nb[GFN_NBR_MAX];
                    int cnt = d == 0 ? gfn_env_children(env, &states[i], nb)
                                     : gfn_env_parents(env, &states[i], nb);
                    bad += nn[i] != cnt || cnt < 1;
                    double s = 0.0;
                    for (int j = 0; j < nn[i]; j++) {
                        s += exp(lp[i * GFN_NBR_MAX + j]);
                        if (kinds[k] == GFN_POLICY_UNIFORM)
                            bad += fabs(lp[i * GFN_NBR_MAX + j] + log((double)cnt)) > 1e-15;
                    }
                    for (int j = nn[i]; j < GFN_NBR_MAX; j++)
                        bad += !(lp[i * GFN_NBR_MAX + j] == -INFINITY);
                    if (fabs(s - 1.0) > 1e-12) {
                        printf("\n  %s kind %d dir %d state %d: sum %.17g\n", tasks[t], k, d, i, s);
                        bad++;
                    }
                }
                CU_ASSERT_EQUAL(bad, 0);
                free(nn);
                free(lp);
                free(theta);
                free(states);
                gfn_policy_free(pol);
            }
        gfn_env_free(env);
    }
}

/* On pa, the empty string's children "a" and "b" are each reached by prepend
 * and append: P(child) must be the sum of two softmax entries.  Recomputed by
 * hand from the logits of an MLP bound to the same parameters. */
static void test_duplicates_aggregate(void)
{
    gfn_env *env = open_task("synth mdp=pa alphabet=2 n=2");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_error err;
    gfn_policy_config cfg = small_config(GFN_POLICY_SA);
    for (int d = 0; d < 2; d++) {
        gfn_policy *pol = gfn_policy_alloc(env, (gfn_policy_dir)d, &cfg, 4, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(pol);
        size_t np = gfn_policy_n_params(pol);
        double *theta = malloc(np * sizeof(double));
        for (size_t i = 0; i < np; i++)
            theta[i] = 0.5 * sin(1.7 * (double)i + 0.3);
        gfn_policy_bind(pol, theta, NULL);
        int A = d == 0 ? gfn_env_n_fwd_actions(env) : gfn_env_n_bwd_actions(env);
        int F = gfn_env_feature_dim(env);
        int widths[] = {F, 6, 6, A};
        gfn_mlp *m = gfn_mlp_alloc(widths, 4, 1, &err);
        CU_ASSERT_EQUAL_FATAL(gfn_mlp_n_params(m), np);
        gfn_mlp_bind(m, theta, NULL);
        /* FWD: the empty string; BWD: a one-letter string (both parents are ""). */
        gfn_state s;
        if (d == 0)
            gfn_env_initial(env, &s);
        else
            gfn_env_unrank(env, 1, 1, &s);
        gfn_policy_forward(pol, 1, &s);
        double feat[64];
        gfn_env_features(env, &s, feat);
        const double *l = gfn_mlp_forward(m, 1, feat);
        int8_t map[GFN_ACTION_MAX];
        if (d == 0)
            gfn_env_fwd_action_map(env, &s, map);
        else
            gfn_env_bwd_action_map(env, &s, map);
        double Z = 0.0, pj[GFN_NBR_MAX] = {0};
        int per[GFN_NBR_MAX] = {0};
        for (int a = 0; a < A; a++)
            if (map[a] >= 0) {
                Z += exp(l[a]);
                pj[map[a]] += exp(l[a]);
                per[map[a]]++;
            }
        int n = gfn_policy_n_nbr(pol, 0);
        CU_ASSERT_EQUAL(n, d == 0 ? 2 : 1);
        for (int j = 0; j < n; j++) {
            CU_ASSERT_EQUAL(per[j], 2);
            double want = log(pj[j] / Z), got = gfn_policy_logp(pol)[j];
            if (fabs(got - want) > 1e-13)
                printf("\n  dir %d nbr %d: got %.17g want %.17g\n", d, j, got, want);
            CU_ASSERT(fabs(got - want) <= 1e-13);
            CU_ASSERT(fabs(gfn_policy_logflow(pol)[j] - log(pj[j])) <= 1e-13);
        }
        gfn_mlp_free(m);
        free(theta);
        gfn_policy_free(pol);
    }
    gfn_env_free(env);
}

static void test_errors(void)
{
    gfn_env *env = open_task("synth mdp=pa alphabet=2 n=2");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_error err;
    gfn_policy_config cfg = small_config(GFN_POLICY_SSR);
    cfg.embed = 0;
    CU_ASSERT_PTR_NULL(gfn_policy_alloc(env, GFN_POLICY_FWD, &cfg, 4, &err));
    CU_ASSERT_EQUAL(err.code, GFN_EVALUE);
    cfg = small_config(GFN_POLICY_SA);
    CU_ASSERT_PTR_NULL(gfn_policy_alloc(env, GFN_POLICY_FWD, &cfg, 0, &err));
    cfg.hidden = 0;
    CU_ASSERT_PTR_NULL(gfn_policy_alloc(env, GFN_POLICY_FWD, &cfg, 4, &err));
    gfn_policy_free(NULL);
    gfn_env_free(env);
}

/* ---- the model over a trajectory batch: flow head, FM edge flows, P_F, P_B, log Z */

typedef struct {
    gfn_model *m;
    gfn_traj_batch *tb;
    double *wf, *wb, *wfl, *win, *wout; /* weights shaped like the tb arrays */
    double wz;
    unsigned what;
} model_ctx;

/* L = sum w . log_pf + w . log_pb + w . log_flow (t = 1..T-1) + w . fm_in + w . fm_out + wz log Z */
static double model_loss(void *c_)
{
    model_ctx *c = c_;
    gfn_traj_batch *tb = c->tb;
    gfn_model_forward(c->m, tb, c->what);
    double s = c->wz * gfn_model_log_z(c->m);
    for (int b = 0; b < tb->B; b++)
        for (int t = 0; t <= tb->len[b]; t++) {
            size_t e = (size_t)b * tb->T_max + t, si = (size_t)b * (tb->T_max + 1) + t;
            if (t < tb->len[b]) {
                if (c->what & GFN_FILL_PF)
                    s += c->wf[e] * tb->log_pf[e];
                if (c->what & GFN_FILL_PB)
                    s += c->wb[e] * tb->log_pb[e];
            }
            if ((c->what & GFN_FILL_FLOW) && t > 0 && t < tb->len[b])
                s += c->wfl[si] * tb->log_flow[si];
            if ((c->what & GFN_FILL_FM) && t > 0) {
                for (int k = 0; k < tb->fm_n_in[si]; k++)
                    s += c->win[si * GFN_NBR_MAX + k] * tb->fm_in[si * GFN_NBR_MAX + k];
                for (int k = 0; k < tb->fm_n_out[si]; k++)
                    s += c->wout[si * GFN_NBR_MAX + k] * tb->fm_out[si * GFN_NBR_MAX + k];
            }
        }
    return s;
}

static void check_model_grad(const char *task, gfn_policy_kind kind, unsigned what)
{
    gfn_env *env = open_task(task);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_error err;
    gfn_model_config cfg;
    gfn_model_config_default(&cfg);
    cfg.pf = small_config(kind);
    cfg.pb = small_config(kind);
    cfg.flow_head = 1;
    cfg.flow_hidden = 5;
    cfg.flow_layers = 2;
    cfg.fm = 1;
    cfg.B_cap = 5;
    cfg.T_max = 8;
    gfn_model *m = gfn_model_alloc(env, &cfg, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    size_t n = gfn_model_n_params(m);
    double *theta = gfn_model_params(m), *grad = gfn_model_grads(m);
    for (size_t i = 0; i < n; i++)
        theta[i] = 0.5 * sin(1.7 * (double)i);
    gfn_traj_batch tb;
    CU_ASSERT_EQUAL_FATAL(gfn_traj_batch_init(&tb, 5, 8, &err), GFN_OK);
    gfn_sampler *smp = gfn_sampler_alloc(env, 5, &err);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    CU_ASSERT_EQUAL_FATAL(gfn_sampler_forward(smp, gfn_model_pf(m), 0.5, rng, 5, &tb, &err), GFN_OK);
    size_t E = 5 * 8, S = 5 * 9, F = S * GFN_NBR_MAX;
    model_ctx c = {m, &tb, malloc(E * sizeof(double)), malloc(E * sizeof(double)),
                   malloc(S * sizeof(double)), malloc(F * sizeof(double)), malloc(F * sizeof(double)),
                   0.7, what};
    for (size_t i = 0; i < E; i++) {
        c.wf[i] = sin(0.9 * i + 0.1);
        c.wb[i] = cos(1.3 * i + 0.2);
    }
    for (size_t i = 0; i < S; i++)
        c.wfl[i] = sin(2.1 * i + 0.3);
    for (size_t i = 0; i < F; i++) {
        c.win[i] = cos(0.7 * i + 0.4);
        c.wout[i] = sin(1.9 * i + 0.5);
    }
    gfn_model_zero_grad(m, GFN_SEG_ALL);
    model_loss(&c);
    gfn_traj_batch_zero_grad(&tb);
    memcpy(tb.d_log_pf, c.wf, E * sizeof(double));
    memcpy(tb.d_log_pb, c.wb, E * sizeof(double));
    for (int b = 0; b < tb.B; b++)
        for (int t = 1; t < tb.len[b]; t++)
            tb.d_log_flow[b * 9 + t] = c.wfl[b * 9 + t];
    memcpy(tb.d_fm_in, c.win, F * sizeof(double));
    memcpy(tb.d_fm_out, c.wout, F * sizeof(double));
    tb.d_log_z = c.wz;
    gfn_model_backward(m, &tb, what | GFN_FILL_LOG_Z);
    double norm;
    char name[160];
    snprintf(name, sizeof name, "model %s kind %d what %u", task, kind, what);
    double rel = gfn_test_gradcheck(theta, n, grad, model_loss, &c, 1e-5, name, &norm);
    CU_ASSERT(rel < 1e-6);
    CU_ASSERT(norm > 1e-2);
    free(c.wf);
    free(c.wb);
    free(c.wfl);
    free(c.win);
    free(c.wout);
    gsl_rng_free(rng);
    gfn_sampler_free(smp);
    gfn_traj_batch_close(&tb);
    gfn_model_free(m);
    gfn_env_free(env);
}

static void test_model_gradients(void)
{
    const char *tasks[] = {"synth mdp=pa alphabet=2 n=3", "hypergrid dim=2 side=3"};
    unsigned whats[] = {GFN_FILL_PF | GFN_FILL_PB, GFN_FILL_FLOW, GFN_FILL_FM,
                        GFN_FILL_PF | GFN_FILL_PB | GFN_FILL_FLOW | GFN_FILL_FM};
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 2; k++)
            for (int w = 0; w < 4; w++)
                check_model_grad(tasks[t], k ? GFN_POLICY_SSR : GFN_POLICY_SA, whats[w]);
}

/* FM edge flows agree with the policy: fm_out at s_t are P_F's log flows at s_t,
 * and log P_F(s_{t+1}|s_t) = fm_out[j] - LSE fm_out. */
static void test_fm_consistent(void)
{
    gfn_env *env = open_task("hypergrid dim=2 side=4");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    gfn_error err;
    gfn_model_config cfg;
    gfn_model_config_default(&cfg);
    cfg.pf = small_config(GFN_POLICY_SA);
    cfg.fm = 1;
    cfg.B_cap = 4;
    cfg.T_max = 8;
    gfn_model *m = gfn_model_alloc(env, &cfg, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 3);
    gfn_model_init_params(m, rng);
    CU_ASSERT_EQUAL(gfn_model_log_z(m), 5.0);
    gfn_traj_batch tb;
    CU_ASSERT_EQUAL_FATAL(gfn_traj_batch_init(&tb, 4, 8, &err), GFN_OK);
    gfn_sampler *smp = gfn_sampler_alloc(env, 4, &err);
    CU_ASSERT_EQUAL_FATAL(gfn_sampler_forward(smp, gfn_model_pf(m), 0.2, rng, 4, &tb, &err), GFN_OK);
    gfn_model_forward(m, &tb, GFN_FILL_PF | GFN_FILL_PB | GFN_FILL_FM);
    int bad = 0;
    for (int b = 0; b < 4; b++)
        for (int t = 1; t < tb.len[b]; t++) {
            size_t si = (size_t)b * 9 + t;
            const double *fo = &tb.fm_out[si * GFN_NBR_MAX];
            double mx = -INFINITY, s = 0;
            for (int k = 0; k < tb.fm_n_out[si]; k++)
                mx = fmax(mx, fo[k]);
            for (int k = 0; k < tb.fm_n_out[si]; k++)
                s += exp(fo[k] - mx);
            gfn_state ch[GFN_NBR_MAX];
            int nc = gfn_env_children(env, &tb.states[si], ch);
            bad += nc != tb.fm_n_out[si];
            int j = -1;
            for (int k = 0; k < nc; k++)
                if (gfn_state_equal(&ch[k], &tb.states[si + 1]))
                    j = k;
            bad += j < 0;
            if (j >= 0)
                bad += fabs(fo[j] - mx - log(s) - tb.log_pf[(size_t)b * 8 + t]) > 1e-12;
            /* The edge from s_{t-1} is one of the in-edges, with the same flow. */
            gfn_state par[GFN_NBR_MAX];
            int np = gfn_env_parents(env, &tb.states[si], par);
            bad += np != tb.fm_n_in[si];
            /* Uniform P_B: log_pb = -log(number of parents). */
            bad += fabs(tb.log_pb[(size_t)b * 8 + t - 1] + log((double)np)) > 1e-15;
        }
    CU_ASSERT_EQUAL(bad, 0);
    /* The terminal has no out-edges. */
    CU_ASSERT_EQUAL(tb.fm_n_out[tb.len[0]], 0);
    gsl_rng_free(rng);
    gfn_sampler_free(smp);
    gfn_traj_batch_close(&tb);
    gfn_model_free(m);
    gfn_env_free(env);
}

extern void gfn_test_suite_policy(void);
void gfn_test_suite_policy(void)
{
    CU_pSuite s = CU_add_suite("policy", NULL, NULL);
    CU_add_test(s, "SA gradients (pa, ar, hypergrid; fwd, bwd)", test_sa_gradients);
    CU_add_test(s, "SSR gradients (pa, ar, hypergrid; fwd, bwd)", test_ssr_gradients);
    CU_add_test(s, "SSR split scorer layer equals the concatenated MLP", test_ssr_matches_concat);
    CU_add_test(s, "normalised over neighbours, -inf past them", test_normalised);
    CU_add_test(s, "duplicate actions aggregate", test_duplicates_aggregate);
    CU_add_test(s, "errors", test_errors);
    CU_add_test(s, "model gradients: P_F, P_B, flow head, FM, log Z", test_model_gradients);
    CU_add_test(s, "FM edge flows agree with P_F", test_fm_consistent);
}
