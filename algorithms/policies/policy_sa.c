/* policy_sa.c - the SA policy: an MLP maps features(s) to one logit per action
 * of the env's fixed action list, invalid actions masked.
 *
 * Row i with logits l_a, valid actions V and A_j = {a in V : a -> nbr j}:
 *   log f_j = LSE_{a in A_j} l_a,   lse = LSE_{a in V} l_a,   log P_j = log f_j - lse,
 *   d log P_j / d l_a = q_{a|j} [a in A_j] - p_a,   d log f_j / d l_a = q_{a|j} [a in A_j],
 * with p_a = exp(l_a - lse) and q_{a|j} = exp(l_a - log f_j).
 * Parameter slice: the MLP's (mlp.h).
 */
#include <math.h>
#include <stdlib.h>

#include "policy_internal.h"

typedef struct {
    gfn_mlp *net;       /* features -> hidden x layers -> n_act */
    const double *out;  /* logits of the last forward, (network rows, n_act) */
    double *lse;        /* (cap) LSE over valid actions, per network row */
    int8_t *amap;       /* (cap, n_act) action -> neighbour map, per network row */
    double *feat;       /* (cap, feat_dim) */
    double *d_out;      /* (cap, n_act) */
} sa_impl;

static void sa_free_ws(sa_impl *s)
{
    free(s->lse);
    free(s->amap);
    free(s->feat);
    free(s->d_out);
    s->lse = s->feat = s->d_out = NULL;
    s->amap = NULL;
}

static int sa_create(gfn_policy *p, gfn_error *err)
{
    sa_impl *s = calloc(1, sizeof *s);
    if (!s)
        return gfn_error_set(err, GFN_ENOMEM, "policy: out of memory");
    p->impl = s;
    s->net = gfn__policy_make_mlp(p->feat_dim, p->cfg.hidden, p->cfg.layers, p->n_act, 1, err);
    if (!s->net)
        return err ? err->code : GFN_EVALUE;
    p->n_params = gfn_mlp_n_params(s->net);
    return GFN_OK;
}

static void sa_destroy(gfn_policy *p)
{
    sa_impl *s = p->impl;
    if (!s)
        return;
    sa_free_ws(s);
    gfn_mlp_free(s->net);
    free(s);
}

static int sa_reserve(gfn_policy *p, int row_cap, gfn_error *err)
{
    sa_impl *s = p->impl;
    size_t C = (size_t)row_cap;
    sa_free_ws(s);
    s->lse = calloc(C, sizeof(double));
    s->amap = calloc(C * (size_t)p->n_act, 1);
    s->feat = calloc(C * (size_t)p->feat_dim, sizeof(double));
    s->d_out = calloc(C * (size_t)p->n_act, sizeof(double));
    if (!(s->lse && s->amap && s->feat && s->d_out))
        return GFN_ENOMEM;
    return gfn_mlp_reserve(s->net, row_cap, err);
}

static void sa_bind(gfn_policy *p, double *params, double *grads)
{
    gfn_mlp_bind(((sa_impl *)p->impl)->net, params, grads);
}

static int sa_set_f32(gfn_policy *p, int on, gfn_error *err)
{
    return gfn_mlp_set_f32(((sa_impl *)p->impl)->net, on, err);
}

static void sa_bind_f32(gfn_policy *p, float *params32)
{
    gfn_mlp_bind_f32(((sa_impl *)p->impl)->net, params32);
}

static void sa_params_changed(gfn_policy *p)
{
    gfn_mlp_params_changed(((sa_impl *)p->impl)->net);
}

static void sa_set_pool(gfn_policy *p, gfn_pool *pool)
{
    gfn_mlp_set_pool(((sa_impl *)p->impl)->net, pool);
}

static void sa_init_params(gfn_policy *p, gsl_rng *rng)
{
    gfn_mlp_init_params(((sa_impl *)p->impl)->net, rng);
}

static void sa_forward(gfn_policy *p, int i0, int r0, int n, const gfn_state *states)
{
    sa_impl *s = p->impl;
    int A = p->n_act;
    for (int i = i0; i < i0 + n; i++) {
        int r = p->net_row[i];
        if (r < 0)
            continue;
        const gfn_state *st = &states[i - i0];
        int8_t *am = s->amap + (size_t)r * A;
        if (p->dir == GFN_POLICY_FWD)
            gfn_env_fwd_action_map(p->env, st, am);
        else
            gfn_env_bwd_action_map(p->env, st, am);
        gfn_env_features(p->env, st, s->feat + (size_t)r * p->feat_dim);
    }
    const double *logits = gfn_mlp_forward_at(s->net, r0, p->n_net - r0,
                                              s->feat + (size_t)r0 * p->feat_dim);
    logits -= (size_t)r0 * A; /* network row 0 */
    s->out = logits;
    for (int i = i0; i < i0 + n; i++) {
        int r = p->net_row[i];
        if (r < 0)
            continue;
        const double *l = logits + (size_t)r * A;
        const int8_t *am = s->amap + (size_t)r * A;
        double *lf = p->logflow + (size_t)i * GFN_NBR_MAX, *lp = p->logp + (size_t)i * GFN_NBR_MAX;
        double mx = -INFINITY, gmx[GFN_NBR_MAX];
        for (int j = 0; j < p->n_nbr[i]; j++)
            gmx[j] = -INFINITY;
        for (int a = 0; a < A; a++)
            if (am[a] >= 0) {
                GFN_ASSERT_CMP(am[a], <, p->n_nbr[i]);
                mx = fmax(mx, l[a]);
                gmx[am[a]] = fmax(gmx[am[a]], l[a]);
            }
        double sum = 0.0, gs[GFN_NBR_MAX] = {0};
        for (int a = 0; a < A; a++)
            if (am[a] >= 0) {
                sum += exp(l[a] - mx);
                gs[am[a]] += exp(l[a] - gmx[am[a]]);
            }
        s->lse[r] = mx + log(sum);
        for (int j = 0; j < p->n_nbr[i]; j++) {
            lf[j] = gmx[j] + log(gs[j]);
            lp[j] = lf[j] - s->lse[r];
        }
    }
}

static void sa_backward(gfn_policy *p, const double *d_logp, const double *d_logflow, int set)
{
    sa_impl *s = p->impl;
    int A = p->n_act, n = p->n;
    for (int i = 0; i < n; i++) {
        int r = p->net_row[i];
        if (r < 0)
            continue; /* log P = 0 for every theta: no gradient */
        const double *l = s->out + (size_t)r * A;
        const int8_t *am = s->amap + (size_t)r * A;
        const double *lf = p->logflow + (size_t)i * GFN_NBR_MAX;
        double *dl = s->d_out + (size_t)r * A;
        double gsum = 0.0, g[GFN_NBR_MAX], h[GFN_NBR_MAX];
        for (int j = 0; j < p->n_nbr[i]; j++) {
            g[j] = d_logp ? d_logp[(size_t)i * GFN_NBR_MAX + j] : 0.0;
            h[j] = d_logflow ? d_logflow[(size_t)i * GFN_NBR_MAX + j] : 0.0;
            gsum += g[j];
        }
        for (int a = 0; a < A; a++) {
            int j = am[a];
            if (j < 0) {
                dl[a] = 0.0; /* masked: no path to the logit */
                continue;
            }
            double q = exp(l[a] - lf[j]), pa = exp(l[a] - s->lse[r]);
            dl[a] = (g[j] + h[j]) * q - pa * gsum;
        }
    }
    (set ? gfn_mlp_backward_set : gfn_mlp_backward)(s->net, p->n_net, s->d_out, NULL);
}

static void sa_permute(gfn_policy *p, int k_net, int hi_net)
{
    sa_impl *s = p->impl;
    gfn__policy_permute_rows(k_net, p->perm_net, hi_net, sizeof(double), s->lse, p->scratch);
    gfn__policy_permute_rows(k_net, p->perm_net, hi_net, (size_t)p->n_act, s->amap, p->scratch);
    gfn_mlp_permute_rows(s->net, k_net, p->perm_net);
}

const gfn_policy_ops gfn__policy_sa_ops = {
    .flags = GFN__POLICY_NETWORK,
    .create = sa_create,
    .destroy = sa_destroy,
    .reserve = sa_reserve,
    .bind = sa_bind,
    .set_f32 = sa_set_f32,
    .bind_f32 = sa_bind_f32,
    .params_changed = sa_params_changed,
    .set_pool = sa_set_pool,
    .init_params = sa_init_params,
    .forward = sa_forward,
    .backward = sa_backward,
    .permute = sa_permute,
};
