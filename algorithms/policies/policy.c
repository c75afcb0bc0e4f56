/* policy.c - SA, SSR and uniform policies: log-probabilities and unnormalised
 * log edge flows over unique neighbours, and their gradients.
 *
 * SA, row i with logits l_a, valid actions V and A_j = {a in V : a -> nbr j}:
 *   log f_j = LSE_{a in A_j} l_a,   lse = LSE_{a in V} l_a,   log P_j = log f_j - lse,
 *   d log P_j / d l_a = q_{a|j} [a in A_j] - p_a,   d log f_j / d l_a = q_{a|j} [a in A_j],
 * with p_a = exp(l_a - lse) and q_{a|j} = exp(l_a - log f_j).
 * SSR, row i with scores u_j = scorer([z_s, z_j]):
 *   log f_j = u_j,  log P_j = u_j - LSE_k u_k,  d log P_j / d u_k = [j = k] - P_k.
 * The scorer's first layer is applied in two halves, W1 [z_s; z_j] + b1 =
 * W1a z_s + W1b z_j + b1, so that W1a z_s is computed once per state rather than
 * once per (state, neighbour) pair: this halves the cost of the widest layer.
 * Encoder rows are the n states first, then every neighbour in pair order, so
 * the embeddings of states and of neighbours are each one contiguous matrix.
 */
#include "policy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cblas.h>

#include "mlp.h"
#include "stateset.h"

struct gfn_policy {
    const gfn_env *env;
    gfn_policy_dir dir;
    gfn_policy_config cfg;
    int feat_dim, n_act, max_nbr;
    int cap, n;                  /* state capacity and rows of the last forward */
    int no_flow;                 /* the last forward skipped rows with one neighbour */
    int n_net;                   /* states of the last forward that went through the networks */
    int64_t rows_fwd, rows_bwd;  /* network states evaluated, back-propagated, since alloc */
    int *net_row;                /* (cap) network row of state i, -1 when skipped */
    gfn_mlp *net;                /* SA net, or SSR encoder */
    gfn_mlp *scorer;             /* SSR: scorer layers 2..L; NULL when it is one Linear */
    int h1;                      /* SSR: output width of the scorer's first layer */
    const double *z;             /* SSR: encoder output of the last forward, (n_enc, embed) */
    double *W1, *b1, *gW1, *gb1; /* SSR: first layer, W1 (h1, 2 embed) row-major = [W1a | W1b] */
    const double *out;           /* SA logits (n, n_act) or SSR scores of the last forward */
    size_t n_params;
    double *grads;               /* the bound gradient slice (n_params), or NULL */
    /* per-row results, (cap, GFN_NBR_MAX) unless noted */
    int *n_nbr;                  /* (cap) */
    gfn_state *nbrs;
    double *logp, *logflow;
    double *lse;                 /* (cap) SA: LSE over valid actions */
    int8_t *amap;                /* (cap, n_act) SA action -> neighbour map */
    /* network inputs and gradient buffers */
    double *feat;                /* SA: (cap, feat_dim); SSR: (cap (1 + max_nbr), feat_dim) */
    double *d_out;               /* SA: (cap, n_act); SSR: (cap max_nbr) scores */
    double *a_s, *d_as;          /* SSR: (cap, h1) z_s W1a^T, and the sum of d_s1 over pairs */
    double *s1, *d_s1;           /* SSR: (cap max_nbr, h1) first-layer output per pair, gradient */
    double *c, *d_c;             /* SSR: (cap (1 + max_nbr), h1) z W1b^T per encoder row, gradient */
    double *d_enc;               /* SSR: (cap (1 + max_nbr), embed) */
    int *pair_row;               /* SSR: (cap) first pair of state i */
    /* SSR encoder rows: the network states (rows 0..n_net-1), then every distinct
     * neighbour that is not one of them; pair (i, j) reads row pair_enc[pair]. */
    int n_enc;
    gfn_state *enc_states;       /* SSR: (cap (1 + max_nbr)) state of each encoder row */
    int *pair_enc;               /* SSR: (cap max_nbr) encoder row of each pair's neighbour */
    gfn_stateset enc_set;        /* SSR: encoder row of a state */
    int *perm_net;               /* (cap) gfn_policy_permute: old network row of each new one */
    void *scratch;               /* (cap rows of the widest per-row array) for gfn_policy_permute */
};

static void policy_free_ws(gfn_policy *p)
{
    free(p->n_nbr);
    free(p->net_row);
    free(p->nbrs);
    free(p->logp);
    free(p->logflow);
    free(p->lse);
    free(p->amap);
    free(p->feat);
    free(p->d_out);
    free(p->a_s);
    free(p->d_as);
    free(p->s1);
    free(p->d_s1);
    free(p->d_enc);
    free(p->c);
    free(p->d_c);
    free(p->enc_states);
    free(p->pair_enc);
    gfn_stateset_close(&p->enc_set);
    free(p->pair_row);
    free(p->perm_net);
    free(p->scratch);
    p->perm_net = NULL;
    p->scratch = NULL;
    p->n_nbr = NULL;
    p->net_row = NULL;
    p->nbrs = NULL;
    p->logp = p->logflow = p->lse = p->feat = p->d_out = p->d_enc = NULL;
    p->a_s = p->d_as = p->s1 = p->d_s1 = p->c = p->d_c = NULL;
    p->enc_states = NULL;
    p->pair_enc = NULL;
    p->amap = NULL;
    p->pair_row = NULL;
}

/* widths = in, hidden x layers, out. */
static gfn_mlp *make_mlp(int in, int hidden, int layers, int out, int rows, gfn_error *err)
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
    int ok = 1;
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
    ok = p->n_nbr && p->net_row && p->nbrs && p->logp && p->logflow && p->perm_net && p->scratch;
    if (p->cfg.kind == GFN_POLICY_SA) {
        p->lse = calloc(C, sizeof(double));
        p->amap = calloc(C * (size_t)p->n_act, 1);
        p->feat = calloc(C * (size_t)p->feat_dim, sizeof(double));
        p->d_out = calloc(C * (size_t)p->n_act, sizeof(double));
        ok = ok && p->lse && p->amap && p->feat && p->d_out;
        ok = ok && gfn_mlp_reserve(p->net, row_cap, err) == GFN_OK;
    } else if (p->cfg.kind == GFN_POLICY_SSR) {
        size_t E = C * (size_t)(1 + p->max_nbr), P = C * (size_t)p->max_nbr;
        size_t emb = (size_t)p->cfg.embed;
        p->feat = calloc(E * (size_t)p->feat_dim, sizeof(double));
        p->d_out = calloc(P, sizeof(double));
        size_t h1 = (size_t)p->h1;
        p->a_s = calloc(C * h1, sizeof(double));
        p->d_as = calloc(C * h1, sizeof(double));
        p->s1 = calloc(P * h1, sizeof(double));
        p->d_s1 = calloc(P * h1, sizeof(double));
        p->d_enc = calloc(E * emb, sizeof(double));
        p->c = calloc(E * h1, sizeof(double));
        p->d_c = calloc(E * h1, sizeof(double));
        p->enc_states = calloc(E, sizeof(gfn_state));
        p->pair_enc = calloc(P, sizeof(int));
        p->pair_row = calloc(C, sizeof(int));
        ok = ok && p->feat && p->d_out && p->a_s && p->d_as && p->s1 && p->d_s1 && p->d_enc &&
             p->c && p->d_c && p->enc_states && p->pair_enc && p->pair_row &&
             gfn_stateset_init(&p->enc_set, (int)E, err) == GFN_OK;
        ok = ok && gfn_mlp_reserve(p->net, (int)E, err) == GFN_OK &&
             (!p->scorer || gfn_mlp_reserve(p->scorer, (int)P, err) == GFN_OK);
    }
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
    gfn_policy *p = calloc(1, sizeof *p);
    if (!p) {
        gfn_error_set(err, GFN_ENOMEM, "policy: out of memory");
        return NULL;
    }
    p->env = env;
    p->dir = dir;
    p->cfg = *cfg;
    p->feat_dim = gfn_env_feature_dim(env);
    p->n_act = dir == GFN_POLICY_FWD ? gfn_env_n_fwd_actions(env) : gfn_env_n_bwd_actions(env);
    /* Every unique neighbour is reached by at least one action. */
    p->max_nbr = p->n_act < GFN_NBR_MAX ? p->n_act : GFN_NBR_MAX;
    GFN_ASSERT_CMP(p->n_act, <=, GFN_ACTION_MAX);
    if (cfg->kind == GFN_POLICY_SA) {
        p->net = make_mlp(p->feat_dim, cfg->hidden, cfg->layers, p->n_act, 1, err);
        if (!p->net)
            goto fail;
        p->n_params = gfn_mlp_n_params(p->net);
    } else if (cfg->kind == GFN_POLICY_SSR) {
        if (cfg->embed < 1) {
            gfn_error_set(err, GFN_EVALUE, "policy: SSR embedding size must be >= 1 (got %d)",
                          cfg->embed);
            goto fail;
        }
        p->net = make_mlp(p->feat_dim, cfg->enc_hidden, cfg->enc_layers, cfg->embed, 1, err);
        if (!p->net)
            goto fail;
        if (cfg->sc_layers < 0 || (cfg->sc_layers > 0 && cfg->sc_hidden < 1)) {
            gfn_error_set(err, GFN_EVALUE, "policy: bad SSR scorer size hidden %d x layers %d",
                          cfg->sc_hidden, cfg->sc_layers);
            goto fail;
        }
        /* Layer 1 is held here; layers 2..L (if any) are an MLP h1 -> ... -> 1. */
        p->h1 = cfg->sc_layers > 0 ? cfg->sc_hidden : 1;
        if (cfg->sc_layers > 0 &&
            !(p->scorer = make_mlp(p->h1, cfg->sc_hidden, cfg->sc_layers - 1, 1, 1, err)))
            goto fail;
        p->n_params = gfn_mlp_n_params(p->net) + (size_t)p->h1 * (2 * (size_t)cfg->embed + 1) +
                      (p->scorer ? gfn_mlp_n_params(p->scorer) : 0);
    }
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
    gfn_mlp_free(p->net);
    gfn_mlp_free(p->scorer);
    free(p);
}

int gfn_policy_row_cap(const gfn_policy *p) { return p->cap; }
void gfn_policy_row_counts(const gfn_policy *p, int64_t *fwd, int64_t *bwd)
{
    *fwd = p->cfg.kind == GFN_POLICY_UNIFORM ? 0 : p->rows_fwd;
    *bwd = p->rows_bwd;
}
gfn_policy_kind gfn_policy_get_kind(const gfn_policy *p) { return p->cfg.kind; }
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
    if (p->net)
        gfn_mlp_bind(p->net, params, grads);
    if (p->cfg.kind == GFN_POLICY_SSR) {
        size_t k = gfn_mlp_n_params(p->net), w = (size_t)p->h1 * 2 * (size_t)p->cfg.embed;
        p->W1 = params + k;
        p->b1 = params + k + w;
        p->gW1 = grads ? grads + k : NULL;
        p->gb1 = grads ? grads + k + w : NULL;
        if (p->scorer)
            gfn_mlp_bind(p->scorer, params + k + w + p->h1, grads ? grads + k + w + p->h1 : NULL);
    }
}

int gfn_policy_set_f32(gfn_policy *p, int on, gfn_error *err)
{
    int rc = GFN_OK;
    if (p->net)
        rc = gfn_mlp_set_f32(p->net, on, err);
    if (!rc && p->scorer)
        rc = gfn_mlp_set_f32(p->scorer, on, err);
    return rc;
}

void gfn_policy_bind_f32(gfn_policy *p, float *params32)
{
    if (p->net)
        gfn_mlp_bind_f32(p->net, params32);
    if (p->scorer) {
        size_t k = gfn_mlp_n_params(p->net) + (size_t)p->h1 * (2 * (size_t)p->cfg.embed + 1);
        gfn_mlp_bind_f32(p->scorer, params32 + k);
    }
}

void gfn_policy_params_changed(gfn_policy *p)
{
    if (p->net)
        gfn_mlp_params_changed(p->net);
    if (p->scorer)
        gfn_mlp_params_changed(p->scorer);
}

void gfn_policy_init_params(gfn_policy *p, gsl_rng *rng)
{
    if (p->net)
        gfn_mlp_init_params(p->net, rng);
    if (p->cfg.kind == GFN_POLICY_SSR) {
        /* nn.Linear(2 embed, h1): weights then bias, bound 1/sqrt(fan_in). */
        double bound = 1.0 / sqrt(2.0 * p->cfg.embed);
        size_t w = (size_t)p->h1 * (2 * (size_t)p->cfg.embed + 1);
        for (size_t i = 0; i < w; i++)
            p->W1[i] = bound * (2.0 * gsl_rng_uniform(rng) - 1.0);
    }
    if (p->scorer)
        gfn_mlp_init_params(p->scorer, rng);
}

/* Neighbours of every row, which rows the networks see (all, or with no_flow
 * those with more than one neighbour), and (SA) their action maps. */
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
        if (p->cfg.kind == GFN_POLICY_SA && p->net_row[i] >= 0) {
            int8_t *am = p->amap + (size_t)p->net_row[i] * p->n_act;
            if (p->dir == GFN_POLICY_FWD)
                gfn_env_fwd_action_map(p->env, st, am);
            else
                gfn_env_bwd_action_map(p->env, st, am);
        }
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

/* Rows [i0, i0 + n); network rows from r0 (the rows before are kept). */
static void sa_forward(gfn_policy *p, int i0, int r0, int n, const gfn_state *states)
{
    int A = p->n_act;
    for (int i = i0; i < i0 + n; i++)
        if (p->net_row[i] >= 0)
            gfn_env_features(p->env, &states[i - i0],
                             p->feat + (size_t)p->net_row[i] * p->feat_dim);
    const double *logits = gfn_mlp_forward_at(p->net, r0, p->n_net - r0,
                                              p->feat + (size_t)r0 * p->feat_dim);
    logits -= (size_t)r0 * A; /* network row 0 */
    p->out = logits;
    for (int i = i0; i < i0 + n; i++) {
        int r = p->net_row[i];
        if (r < 0)
            continue;
        const double *l = logits + (size_t)r * A;
        const int8_t *am = p->amap + (size_t)r * A;
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
        double s = 0.0, gs[GFN_NBR_MAX] = {0};
        for (int a = 0; a < A; a++)
            if (am[a] >= 0) {
                s += exp(l[a] - mx);
                gs[am[a]] += exp(l[a] - gmx[am[a]]);
            }
        p->lse[r] = mx + log(s);
        for (int j = 0; j < p->n_nbr[i]; j++) {
            lf[j] = gmx[j] + log(gs[j]);
            lp[j] = lf[j] - p->lse[r];
        }
    }
}

static void sa_backward(gfn_policy *p, const double *d_logp, const double *d_logflow, int set)
{
    int A = p->n_act, n = p->n;
    for (int i = 0; i < n; i++) {
        int r = p->net_row[i];
        if (r < 0)
            continue; /* log P = 0 for every theta: no gradient */
        const double *l = p->out + (size_t)r * A;
        const int8_t *am = p->amap + (size_t)r * A;
        const double *lf = p->logflow + (size_t)i * GFN_NBR_MAX;
        double *dl = p->d_out + (size_t)r * A;
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
            double q = exp(l[a] - lf[j]), pa = exp(l[a] - p->lse[r]);
            dl[a] = (g[j] + h[j]) * q - pa * gsum;
        }
    }
    (set ? gfn_mlp_backward_set : gfn_mlp_backward)(p->net, p->n_net, p->d_out, NULL);
}

/* Encoder rows: the nk states that go through the networks (net_row order),
 * then their neighbours in pair order (i, j). */
static void ssr_forward(gfn_policy *p, int n, const gfn_state *states)
{
    int E = p->cfg.embed, F = p->feat_dim, h1 = p->h1, pr = 0, nk = p->n_net, ne = 0, fresh;
    int enc_cap = p->cap * (1 + p->max_nbr);
    gfn_stateset_clear(&p->enc_set);
    for (int i = 0; i < n; i++) /* network row r is encoder row r */
        if (p->net_row[i] >= 0) {
            gfn_stateset_row(&p->enc_set, p->enc_states, &ne, enc_cap, &states[i], &fresh);
            if (!fresh) /* a repeated state keeps a row of its own; neighbours use the first */
                p->enc_states[ne++] = states[i];
            GFN_ASSERT_CMP(ne, ==, p->net_row[i] + 1);
        }
    for (int i = 0; i < n; i++) {
        if (p->net_row[i] < 0)
            continue;
        p->pair_row[i] = pr;
        const gfn_state *nb = gfn_policy_nbrs(p, i);
        for (int j = 0; j < p->n_nbr[i]; j++)
            p->pair_enc[pr + j] =
                gfn_stateset_row(&p->enc_set, p->enc_states, &ne, enc_cap, &nb[j], &fresh);
        pr += p->n_nbr[i];
    }
    for (int r = 0; r < ne; r++)
        gfn_env_features(p->env, &p->enc_states[r], p->feat + (size_t)r * F);
    p->n_enc = ne;
    const double *z = gfn_mlp_forward(p->net, ne, p->feat);
    p->z = z;
    if (pr == 0)
        return;
    /* a_s = Z_s W1a^T (network states); c = Z W1b^T (every encoder row); then
     * s1[i, j] = c[pair_enc] + a_s[i] + b1. */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nk, h1, E, 1.0, z, E, p->W1, 2 * E, 0.0,
                p->a_s, h1);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ne, h1, E, 1.0, z, E, p->W1 + E, 2 * E,
                0.0, p->c, h1);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < p->n_nbr[i] && p->net_row[i] >= 0; j++) {
            int q = p->pair_row[i] + j;
            double *r = p->s1 + (size_t)q * h1;
            const double *a = p->a_s + (size_t)p->net_row[i] * h1;
            const double *cq = p->c + (size_t)p->pair_enc[q] * h1;
            for (int k = 0; k < h1; k++) {
                r[k] = cq[k] + a[k] + p->b1[k];
                if (p->scorer && !(r[k] > 0.0))
                    r[k] *= 0.01; /* LeakyReLU between scorer layers 1 and 2 */
            }
        }
    const double *u = p->scorer ? gfn_mlp_forward(p->scorer, pr, p->s1) : p->s1;
    p->out = u;
    for (int i = 0; i < n; i++) {
        if (p->net_row[i] < 0)
            continue;
        const double *ui = u + p->pair_row[i];
        double *lf = p->logflow + (size_t)i * GFN_NBR_MAX, *lp = p->logp + (size_t)i * GFN_NBR_MAX;
        double mx = -INFINITY, s = 0.0;
        for (int j = 0; j < p->n_nbr[i]; j++)
            mx = fmax(mx, ui[j]);
        for (int j = 0; j < p->n_nbr[i]; j++)
            s += exp(ui[j] - mx);
        for (int j = 0; j < p->n_nbr[i]; j++) {
            lf[j] = ui[j];
            lp[j] = ui[j] - (mx + log(s));
        }
    }
}

static void ssr_backward(gfn_policy *p, const double *d_logp, const double *d_logflow, int set)
{
    int E = p->cfg.embed, h1 = p->h1, n = p->n, pr = 0, nk = p->n_net;
    for (int i = 0; i < n; i++) {
        if (p->net_row[i] < 0)
            continue; /* log P = 0 for every theta: no gradient */
        const double *lp = p->logp + (size_t)i * GFN_NBR_MAX;
        double gsum = 0.0;
        for (int j = 0; j < p->n_nbr[i]; j++)
            gsum += d_logp ? d_logp[(size_t)i * GFN_NBR_MAX + j] : 0.0;
        for (int j = 0; j < p->n_nbr[i]; j++) {
            double g = d_logp ? d_logp[(size_t)i * GFN_NBR_MAX + j] : 0.0;
            double h = d_logflow ? d_logflow[(size_t)i * GFN_NBR_MAX + j] : 0.0;
            p->d_out[p->pair_row[i] + j] = g + h - exp(lp[j]) * gsum;
        }
        pr += p->n_nbr[i];
    }
    if (pr == 0) {
        if (set)
            memset(p->grads, 0, p->n_params * sizeof(double)); /* no network row */
        return;
    }
    if (set)
        memset(p->gW1, 0, (size_t)p->h1 * (2 * (size_t)E + 1) * sizeof(double)); /* W1, b1 */
    /* d_s1: gradient at the first layer's pre-activation, (pr, h1). */
    if (p->scorer) {
        (set ? gfn_mlp_backward_set : gfn_mlp_backward)(p->scorer, pr, p->d_out, p->d_s1);
        size_t m = (size_t)pr * h1;
        for (size_t k = 0; k < m; k++)
            if (!(p->s1[k] > 0.0))
                p->d_s1[k] *= 0.01;
    } else {
        memcpy(p->d_s1, p->d_out, (size_t)pr * sizeof(double));
    }
    int ne = p->n_enc;
    memset(p->d_as, 0, (size_t)nk * h1 * sizeof(double));
    memset(p->d_c, 0, (size_t)ne * h1 * sizeof(double));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < p->n_nbr[i] && p->net_row[i] >= 0; j++) {
            int q = p->pair_row[i] + j;
            const double *r = p->d_s1 + (size_t)q * h1;
            double *a = p->d_as + (size_t)p->net_row[i] * h1;
            double *cq = p->d_c + (size_t)p->pair_enc[q] * h1;
            for (int k = 0; k < h1; k++) {
                a[k] += r[k];
                cq[k] += r[k];
                p->gb1[k] += r[k];
            }
        }
    const double *z = p->z;
    /* dW1a += D_s^T Z_s, dW1b += D_c^T Z; dZ = D_c W1b, then dZ_s += D_s W1a. */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, h1, E, nk, 1.0, p->d_as, h1, z, E, 1.0,
                p->gW1, 2 * E);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, h1, E, ne, 1.0, p->d_c, h1, z, E, 1.0,
                p->gW1 + E, 2 * E);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ne, E, h1, 1.0, p->d_c, h1, p->W1 + E,
                2 * E, 0.0, p->d_enc, E);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nk, E, h1, 1.0, p->d_as, h1, p->W1, 2 * E,
                1.0, p->d_enc, E);
    (set ? gfn_mlp_backward_set : gfn_mlp_backward)(p->net, ne, p->d_enc, NULL);
}

static void uniform_forward(gfn_policy *p, int i0, int n)
{
    for (int i = i0; i < i0 + n; i++) {
        double *lf = p->logflow + (size_t)i * GFN_NBR_MAX, *lp = p->logp + (size_t)i * GFN_NBR_MAX;
        for (int j = 0; j < p->n_nbr[i]; j++) {
            lf[j] = 0.0;
            lp[j] = -log((double)p->n_nbr[i]);
        }
    }
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
    switch (p->cfg.kind) {
    case GFN_POLICY_SA:
        sa_forward(p, i0, r0, n, states);
        break;
    case GFN_POLICY_SSR:
        GFN_ASSERT(i0 == 0); /* its encoder rows are laid out per batch */
        ssr_forward(p, n, states);
        break;
    case GFN_POLICY_UNIFORM:
        uniform_forward(p, i0, n);
        break;
    }
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
    GFN_ASSERT(p->cfg.kind != GFN_POLICY_SSR);
    GFN_ASSERT(p->no_flow); /* the rows held are from forward_logp */
    int i0 = p->n;
    policy_forward(p, i0, n, states, 1);
    return i0;
}

/* base (cap rows of width bytes): row i becomes old row from[i], i < n, through
 * scratch; rows [0, hi) are the ones read. */
static void permute(int n, const int *from, int hi, size_t width, void *base, void *scratch)
{
    memcpy(scratch, base, (size_t)hi * width);
    for (int i = 0; i < n; i++)
        memcpy((char *)base + (size_t)i * width, (char *)scratch + (size_t)from[i] * width, width);
}

void gfn_policy_permute(gfn_policy *p, int n, const int *from)
{
    GFN_ASSERT(p->cfg.kind != GFN_POLICY_SSR);
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
    permute(n, from, hi, sizeof(int), p->n_nbr, p->scratch);
    permute(n, from, hi, GFN_NBR_MAX * sizeof(gfn_state), p->nbrs, p->scratch);
    permute(n, from, hi, GFN_NBR_MAX * sizeof(double), p->logp, p->scratch);
    permute(n, from, hi, GFN_NBR_MAX * sizeof(double), p->logflow, p->scratch);
    permute(n, from, hi, sizeof(int), p->net_row, p->scratch);
    for (int i = 0, k = 0; i < n; i++)
        if (p->net_row[i] >= 0)
            p->net_row[i] = k++;
    if (p->cfg.kind == GFN_POLICY_SA) {
        permute(k_net, p->perm_net, hi_net, sizeof(double), p->lse, p->scratch);
        permute(k_net, p->perm_net, hi_net, (size_t)p->n_act, p->amap, p->scratch);
        gfn_mlp_permute_rows(p->net, k_net, p->perm_net);
    }
    p->n = n;
    p->n_net = k_net;
}

static void policy_backward(gfn_policy *p, const double *d_logp, const double *d_logflow, int set)
{
    GFN_ASSERT(!(d_logflow && p->no_flow)); /* log f was not computed */
    if (p->cfg.kind != GFN_POLICY_UNIFORM)
        p->rows_bwd += p->n_net;
    if (p->cfg.kind == GFN_POLICY_SA)
        sa_backward(p, d_logp, d_logflow, set);
    else if (p->cfg.kind == GFN_POLICY_SSR)
        ssr_backward(p, d_logp, d_logflow, set);
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
