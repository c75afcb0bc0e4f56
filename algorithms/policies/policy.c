/* policy.c - what every policy kind shares, and the policy registry.
 *
 * The kinds (policy_sa.c, policy_ssr.c, policy_uniform.c) sit behind the ops
 * table of policy_internal.h; this file finds the unique neighbours of each row,
 * decides which rows the networks see, keeps log P and log f per row, reorders
 * rows, counts network rows, and dispatches to the kind.
 *
 * Adding a policy kind: one file policy_NAME.c filling a gfn_policy_ops, its
 * name in gfn_policy_kind, and one row in POLICIES below.
 */
#include "policy_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- registry ------------------------------------------------------------ */

static const gfn_policy_key SSR_KEYS[] = {
    {"ssr_embed", "embedding size of the encoder (default: hidden)"},
    {"ssr_enc_layers", "hidden layers of the encoder (default 1)"},
    {"ssr_sc_layers", "hidden layers of the scorer (per-task default)"},
    {NULL, NULL},
};

/* Rows in gfn_policy_kind order. */
static const gfn_policy_info POLICIES[] = {
    {"sa",
     "state -> action logits MLP; invalid actions masked, duplicate\n"
     "children's probabilities added",
     GFN_POLICY_SA, GFN_POLICY_ROLE_PF | GFN_POLICY_ROLE_PB, NULL, 2048, &gfn__policy_sa_ops},
    {"ssr",
     "state-state relative edge flow: encoder MLP for s and each child,\n"
     "scorer MLP on [z_s, z_c]; softmax over the unique children",
     GFN_POLICY_SSR, GFN_POLICY_ROLE_PF | GFN_POLICY_ROLE_PB, SSR_KEYS, 256, &gfn__policy_ssr_ops},
    {"uniform", "uniform over the unique parents (maxent is tb with it)", GFN_POLICY_UNIFORM,
     GFN_POLICY_ROLE_PB, NULL, 2048, &gfn__policy_uniform_ops},
};

#define N_POLICIES ((int)(sizeof POLICIES / sizeof POLICIES[0]))

int gfn_policy_count(void) { return N_POLICIES; }

const gfn_policy_info *gfn_policy_at(int i)
{
    GFN_ASSERT(i >= 0 && i < N_POLICIES);
    GFN_ASSERT_CMP((int)POLICIES[i].kind, ==, i);
    return &POLICIES[i];
}

const gfn_policy_info *gfn_policy_info_of(gfn_policy_kind kind)
{
    return gfn_policy_at((int)kind);
}

const gfn_policy_info *gfn_policy_find(const char *name)
{
    for (int i = 0; name && i < N_POLICIES; i++)
        if (strcmp(POLICIES[i].name, name) == 0)
            return &POLICIES[i];
    return NULL;
}

size_t gfn_policy_choices(unsigned role, const char *sep, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap)
        buf[0] = '\0';
    for (int i = 0; i < N_POLICIES; i++) {
        if (!(POLICIES[i].roles & role))
            continue;
        int k = snprintf(buf + (len < cap ? len : cap), len < cap ? cap - len : 0, "%s%s",
                         len ? sep : "", POLICIES[i].name);
        len += (size_t)k;
    }
    return len;
}

int gfn_policy_lookup(const char *name, unsigned role, const gfn_policy_info **out,
                      gfn_error *err)
{
    const gfn_policy_info *info = gfn_policy_find(name);
    if (info && (info->roles & role)) {
        *out = info;
        return GFN_OK;
    }
    char names[256];
    gfn_policy_choices(role, ", ", names, sizeof names);
    return gfn_error_set(err, GFN_EUNKNOWN, "unknown policy '%s'; expected one of %s",
                         name ? name : "(null)", names);
}

/* ---- the policy object ----------------------------------------------------- */

static void policy_free_ws(gfn_policy *p)
{
    free(p->n_nbr);
    free(p->net_row);
    free(p->nbrs);
    free(p->logp);
    free(p->logflow);
    free(p->perm_net);
    free(p->scratch);
    p->n_nbr = p->net_row = p->perm_net = NULL;
    p->nbrs = NULL;
    p->logp = p->logflow = NULL;
    p->scratch = NULL;
}

gfn_mlp *gfn__policy_make_mlp(int in, int hidden, int layers, int out, int rows, gfn_error *err)
{
    int w[GFN_MLP_MAX_LAYERS + 1];
    if (layers < 0 || layers > GFN_MLP_MAX_LAYERS - 1 || (layers > 0 && hidden < 1)) {
        gfn_error_set(err, GFN_EVALUE, "policy: bad MLP size hidden %d x layers %d", hidden, layers);
        return NULL;
    }
    int k = 0;
    w[k++] = in;
    for (int l = 0; l < layers; l++)
        w[k++] = hidden;
    w[k++] = out;
    return gfn_mlp_alloc(w, k, rows, err);
}

int gfn_policy_reserve(gfn_policy *p, int row_cap, gfn_error *err)
{
    if (row_cap <= p->cap)
        return GFN_OK;
    policy_free_ws(p);
    p->cap = 0;
    size_t C = (size_t)row_cap, N = C * GFN_NBR_MAX;
    p->n_nbr = calloc(C, sizeof(int));
    p->net_row = calloc(C, sizeof(int));
    p->nbrs = calloc(N, sizeof(gfn_state));
    p->logp = calloc(N, sizeof(double));
    p->logflow = calloc(N, sizeof(double));
    size_t row_bytes = GFN_NBR_MAX * (sizeof(gfn_state) > sizeof(double) ? sizeof(gfn_state)
                                                                          : sizeof(double));
    if ((size_t)p->n_act > row_bytes)
        row_bytes = (size_t)p->n_act;
    p->perm_net = calloc(C, sizeof(int));
    p->scratch = malloc(C * row_bytes);
    int ok = p->n_nbr && p->net_row && p->nbrs && p->logp && p->logflow && p->perm_net && p->scratch;
    ok = ok && (!p->ops->reserve || p->ops->reserve(p, row_cap, err) == GFN_OK);
    if (!ok) {
        policy_free_ws(p);
        return gfn_error_set(err, GFN_ENOMEM, "policy: out of memory for %d states", row_cap);
    }
    p->cap = row_cap;
    return GFN_OK;
}

gfn_policy *gfn_policy_alloc(const gfn_env *env, gfn_policy_dir dir, const gfn_policy_config *cfg,
                             int row_cap, gfn_error *err)
{
    if (row_cap < 1) {
        gfn_error_set(err, GFN_EVALUE, "policy: row_cap must be >= 1 (got %d)", row_cap);
        return NULL;
    }
    if ((int)cfg->kind < 0 || (int)cfg->kind >= N_POLICIES) {
        gfn_error_set(err, GFN_EVALUE, "policy: unknown kind %d", (int)cfg->kind);
        return NULL;
    }
    gfn_policy *p = calloc(1, sizeof *p);
    if (!p) {
        gfn_error_set(err, GFN_ENOMEM, "policy: out of memory");
        return NULL;
    }
    p->env = env;
    p->dir = dir;
    p->cfg = *cfg;
    p->info = gfn_policy_info_of(cfg->kind);
    p->ops = p->info->ops;
    p->feat_dim = gfn_env_feature_dim(env);
    p->n_act = dir == GFN_POLICY_FWD ? gfn_env_n_fwd_actions(env) : gfn_env_n_bwd_actions(env);
    /* Every unique neighbour is reached by at least one action. */
    p->max_nbr = p->n_act < GFN_NBR_MAX ? p->n_act : GFN_NBR_MAX;
    GFN_ASSERT_CMP(p->n_act, <=, GFN_ACTION_MAX);
    if (p->ops->create && p->ops->create(p, err) != GFN_OK)
        goto fail;
    if (gfn_policy_reserve(p, row_cap, err) != GFN_OK)
        goto fail;
    return p;
fail:
    gfn_policy_free(p);
    return NULL;
}

void gfn_policy_free(gfn_policy *p)
{
    if (!p)
        return;
    policy_free_ws(p);
    if (p->ops->destroy)
        p->ops->destroy(p);
    free(p);
}

int gfn_policy_row_cap(const gfn_policy *p) { return p->cap; }
void gfn_policy_row_counts(const gfn_policy *p, int64_t *fwd, int64_t *bwd)
{
    *fwd = p->ops->flags & GFN__POLICY_NETWORK ? p->rows_fwd : 0;
    *bwd = p->rows_bwd;
}
gfn_policy_kind gfn_policy_get_kind(const gfn_policy *p) { return p->cfg.kind; }
const gfn_policy_info *gfn_policy_get_info(const gfn_policy *p) { return p->info; }
int gfn_policy_can_append(const gfn_policy *p) { return !(p->ops->flags & GFN__POLICY_BATCH_ONLY); }
gfn_policy_dir gfn_policy_get_dir(const gfn_policy *p) { return p->dir; }
size_t gfn_policy_n_params(const gfn_policy *p) { return p->n_params; }
int gfn_policy_n_nbr(const gfn_policy *p, int i) { return p->n_nbr[i]; }
const gfn_state *gfn_policy_nbrs(const gfn_policy *p, int i) { return p->nbrs + (size_t)i * GFN_NBR_MAX; }
const double *gfn_policy_logp(const gfn_policy *p) { return p->logp; }
const double *gfn_policy_logflow(const gfn_policy *p) { return p->logflow; }

int gfn_policy_find_nbr(const gfn_policy *p, int i, const gfn_state *c)
{
    const gfn_state *nb = gfn_policy_nbrs(p, i);
    for (int j = 0; j < p->n_nbr[i]; j++)
        if (gfn_state_equal(&nb[j], c))
            return j;
    return -1;
}

void gfn_policy_bind(gfn_policy *p, double *params, double *grads)
{
    p->grads = grads;
    if (p->ops->bind)
        p->ops->bind(p, params, grads);
}

int gfn_policy_set_f32(gfn_policy *p, int on, gfn_error *err)
{
    return p->ops->set_f32 ? p->ops->set_f32(p, on, err) : GFN_OK;
}

void gfn_policy_bind_f32(gfn_policy *p, float *params32)
{
    if (p->ops->bind_f32)
        p->ops->bind_f32(p, params32);
}

void gfn_policy_set_pool(gfn_policy *p, gfn_pool *pool)
{
    if (p->ops->set_pool)
        p->ops->set_pool(p, pool);
}

void gfn_policy_params_changed(gfn_policy *p)
{
    if (p->ops->params_changed)
        p->ops->params_changed(p);
}

void gfn_policy_init_params(gfn_policy *p, gsl_rng *rng)
{
    if (p->ops->init_params)
        p->ops->init_params(p, rng);
}

/* Neighbours of every row and which rows the networks see (all, or with
 * no_flow those with more than one neighbour). */
static void policy_neighbours(gfn_policy *p, int i0, int n, const gfn_state *states)
{
    int k_net = p->n_net; /* network rows so far (0 for a fresh forward) */
    for (int i = i0; i < i0 + n; i++) {
        const gfn_state *st = &states[i - i0];
        gfn_state *nb = p->nbrs + (size_t)i * GFN_NBR_MAX;
        int k = p->dir == GFN_POLICY_FWD ? gfn_env_children(p->env, st, nb)
                                         : gfn_env_parents(p->env, st, nb);
        GFN_ASSERT_CMP(k, <=, p->max_nbr);
        p->n_nbr[i] = k;
        p->net_row[i] = p->no_flow && k == 1 ? -1 : k_net++;
        double *lp = p->logp + (size_t)i * GFN_NBR_MAX, *lf = p->logflow + (size_t)i * GFN_NBR_MAX;
        for (int j = 0; j < GFN_NBR_MAX; j++)
            lp[j] = lf[j] = -INFINITY;
        if (p->net_row[i] < 0) {
            lp[0] = 0.0;  /* the only neighbour: log P = 0 whatever the network says */
            lf[0] = NAN;  /* not computed */
        }
    }
    p->n_net = k_net;
}

/* Rows [i0, i0 + n) from states (n); i0 > 0 appends to the rows held. */
static void policy_forward(gfn_policy *p, int i0, int n, const gfn_state *states, int no_flow)
{
    GFN_ASSERT_CMP(n, >=, 0);
    GFN_ASSERT_CMP(i0 + n, <=, p->cap);
    if (i0 == 0)
        p->n_net = 0;
    p->n = i0 + n;
    p->no_flow = no_flow;
    int r0 = p->n_net;
    policy_neighbours(p, i0, n, states);
    p->rows_fwd += p->n_net - r0;
    p->ops->forward(p, i0, r0, n, states);
}

void gfn_policy_forward(gfn_policy *p, int n, const gfn_state *states)
{
    policy_forward(p, 0, n, states, 0);
}

void gfn_policy_forward_logp(gfn_policy *p, int n, const gfn_state *states)
{
    policy_forward(p, 0, n, states, 1);
}

int gfn_policy_forward_logp_append(gfn_policy *p, int n, const gfn_state *states)
{
    GFN_ASSERT(gfn_policy_can_append(p));
    GFN_ASSERT(p->no_flow); /* the rows held are from forward_logp */
    int i0 = p->n;
    policy_forward(p, i0, n, states, 1);
    return i0;
}

void gfn__policy_permute_rows(int n, const int *from, int hi, size_t width, void *base,
                              void *scratch)
{
    memcpy(scratch, base, (size_t)hi * width);
    for (int i = 0; i < n; i++)
        memcpy((char *)base + (size_t)i * width, (char *)scratch + (size_t)from[i] * width, width);
}

void gfn_policy_permute(gfn_policy *p, int n, const int *from)
{
    GFN_ASSERT(gfn_policy_can_append(p));
    int hi = 0;
    for (int i = 0; i < n; i++) {
        GFN_ASSERT(from[i] >= 0 && from[i] < p->n);
        hi = from[i] + 1 > hi ? from[i] + 1 : hi;
    }
    /* The network rows in the new order, before net_row itself moves. */
    int k_net = 0, hi_net = 0;
    for (int i = 0; i < n; i++) {
        int r = p->net_row[from[i]];
        if (r >= 0) {
            p->perm_net[k_net++] = r;
            hi_net = r + 1 > hi_net ? r + 1 : hi_net;
        }
    }
    gfn__policy_permute_rows(n, from, hi, sizeof(int), p->n_nbr, p->scratch);
    gfn__policy_permute_rows(n, from, hi, GFN_NBR_MAX * sizeof(gfn_state), p->nbrs, p->scratch);
    gfn__policy_permute_rows(n, from, hi, GFN_NBR_MAX * sizeof(double), p->logp, p->scratch);
    gfn__policy_permute_rows(n, from, hi, GFN_NBR_MAX * sizeof(double), p->logflow, p->scratch);
    gfn__policy_permute_rows(n, from, hi, sizeof(int), p->net_row, p->scratch);
    for (int i = 0, k = 0; i < n; i++)
        if (p->net_row[i] >= 0)
            p->net_row[i] = k++;
    if (p->ops->permute)
        p->ops->permute(p, k_net, hi_net);
    p->n = n;
    p->n_net = k_net;
}

static void policy_backward(gfn_policy *p, const double *d_logp, const double *d_logflow, int set)
{
    GFN_ASSERT(!(d_logflow && p->no_flow)); /* log f was not computed */
    if (p->ops->flags & GFN__POLICY_NETWORK)
        p->rows_bwd += p->n_net;
    if (p->ops->backward)
        p->ops->backward(p, d_logp, d_logflow, set);
}

void gfn_policy_backward(gfn_policy *p, const double *d_logp, const double *d_logflow)
{
    policy_backward(p, d_logp, d_logflow, 0);
}

void gfn_policy_backward_set(gfn_policy *p, const double *d_logp, const double *d_logflow)
{
    policy_backward(p, d_logp, d_logflow, 1);
}

void gfn_policy_logp_all(gfn_policy *p, int64_t n, const gfn_state *states, int *n_nbr,
                         double *logp)
{
    for (int64_t s = 0; s < n; s += p->cap) {
        int m = (int)(n - s < p->cap ? n - s : p->cap);
        gfn_policy_forward_logp(p, m, states + s);
        memcpy(n_nbr + s, p->n_nbr, (size_t)m * sizeof(int));
        memcpy(logp + s * GFN_NBR_MAX, p->logp, (size_t)m * GFN_NBR_MAX * sizeof(double));
    }
}
