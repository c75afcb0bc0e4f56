/* policy_ssr.c - the SSR policy: an encoder MLP maps features to embeddings z,
 * a scorer maps [z_s, z_j] to score(s, j) = log f(s, j).
 *
 * Row i with scores u_j = scorer([z_s, z_j]):
 *   log f_j = u_j,  log P_j = u_j - LSE_k u_k,  d log P_j / d u_k = [j = k] - P_k.
 * The scorer's first layer is applied in two halves, W1 [z_s; z_j] + b1 =
 * W1a z_s + W1b z_j + b1, so that W1a z_s is computed once per state rather than
 * once per (state, neighbour) pair: this halves the cost of the widest layer.
 * Encoder rows are the network states first, then every distinct neighbour that
 * is not one of them, so the embeddings of states and of neighbours are each one
 * contiguous matrix.
 * Parameter slice: the encoder MLP, then the scorer's first layer W1 (h1, 2 embed)
 * row-major = [W1a | W1b] and b1 (h1), then scorer layers 2..L as an MLP
 * (h1 -> sc_hidden x (sc_layers - 1) -> 1), each MLP in mlp.h's layout.
 * Float32 mode (precision=f32): the encoder, both halves of the first layer and
 * the scorer all compute in float (sgemm) on a float copy of the weights (the
 * model's params32, kept current by the Adam step, or refreshed from the doubles
 * at the next forward after params_changed), the way mlp.c does for SA; the
 * scores, log P and every gradient stay double, and each weight gradient of the
 * first layer is formed in float per call and added into the double block.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"
#include "stateset.h"
#include "vecops.h"

typedef struct {
    gfn_mlp *net;                /* encoder */
    gfn_mlp *scorer;             /* scorer layers 2..L; NULL when it is one Linear */
    int h1;                      /* output width of the scorer's first layer */
    const double *z;             /* encoder output of the last forward, (n_enc, embed) */
    double *W1, *b1, *gW1, *gb1; /* first layer, W1 (h1, 2 embed) row-major = [W1a | W1b] */
    const double *out;           /* scores of the last forward, one per pair */
    double *feat;                /* (cap (1 + max_nbr), feat_dim) */
    double *d_out;               /* (cap max_nbr) scores */
    double *a_s, *d_as;          /* (cap, h1) z_s W1a^T, and the sum of d_s1 over pairs */
    double *s1, *d_s1;           /* (cap max_nbr, h1) first-layer output per pair, gradient */
    double *c, *d_c;             /* (cap (1 + max_nbr), h1) z W1b^T per encoder row, gradient */
    double *d_enc;               /* (cap (1 + max_nbr), embed) */
    int *pair_row;               /* (cap) first pair of state i */
    int *net_pair;               /* (cap + 1) first pair of network row r, then the total */
    gfn_vec_pairs pairs;         /* the pairs of the last forward, for vecops.h */
    /* Encoder rows: the network states (rows 0..n_net-1), then every distinct
     * neighbour that is not one of them; pair (i, j) reads row pair_enc[pair]. */
    int n_enc;
    gfn_state *enc_states;       /* (cap (1 + max_nbr)) state of each encoder row */
    int *pair_enc;               /* (cap max_nbr) encoder row of each pair's neighbour */
    gfn_stateset enc_set;        /* encoder row of a state */
    gfn_pool *pool;              /* threads for the wide GEMMs (pool.h), or NULL */
    /* float32 mode: the float twins of the buffers above (the double ones are
     * then not allocated) and the first layer's float weights [W1a | W1b], b1 */
    int f32, w32_stale, w32_own;
    float *w32;                  /* (h1 (2 embed + 1)) in the slice layout */
    const float *z32;            /* encoder output of the last forward, (n_enc, embed) */
    float *a32, *d_as32;         /* (cap, h1) */
    float *s1_32;                /* (cap max_nbr, h1): the scorer's input workspace, or own */
    float *d_s1_32;              /* (cap max_nbr, h1) */
    float *c32, *d_c32;          /* (cap (1 + max_nbr), h1) */
    float *d_enc32;              /* (cap (1 + max_nbr), embed) */
    float *d_out32;              /* (cap max_nbr) */
    float *gw32;                 /* (h1, embed) one half's weight gradient */
    double *u64;                 /* (cap max_nbr) scores without a scorer MLP */
} ssr_impl;

static void ssr_free_ws(ssr_impl *s)
{
    free(s->feat);
    free(s->d_out);
    free(s->a_s);
    free(s->d_as);
    free(s->s1);
    free(s->d_s1);
    free(s->d_enc);
    free(s->c);
    free(s->d_c);
    free(s->enc_states);
    free(s->pair_enc);
    free(s->pair_row);
    free(s->net_pair);
    gfn_stateset_close(&s->enc_set);
    if (!s->scorer)
        free(s->s1_32);
    free(s->a32);
    free(s->d_as32);
    free(s->d_s1_32);
    free(s->c32);
    free(s->d_c32);
    free(s->d_enc32);
    free(s->d_out32);
    free(s->gw32);
    free(s->u64);
    s->a32 = s->d_as32 = s->s1_32 = s->d_s1_32 = s->c32 = s->d_c32 = s->d_enc32 = NULL;
    s->d_out32 = s->gw32 = NULL;
    s->u64 = NULL;
    s->feat = s->d_out = s->a_s = s->d_as = s->s1 = s->d_s1 = s->d_enc = s->c = s->d_c = NULL;
    s->enc_states = NULL;
    s->pair_enc = s->pair_row = s->net_pair = NULL;
}

static int ssr_create(gfn_policy *p, gfn_error *err)
{
    const gfn_policy_config *cfg = &p->cfg;
    ssr_impl *s = calloc(1, sizeof *s);
    if (!s)
        return gfn_error_set(err, GFN_ENOMEM, "policy: out of memory");
    p->impl = s;
    if (cfg->embed < 1)
        return gfn_error_set(err, GFN_EVALUE, "policy: SSR embedding size must be >= 1 (got %d)",
                             cfg->embed);
    s->net = gfn__policy_make_mlp(p->feat_dim, cfg->enc_hidden, cfg->enc_layers, cfg->embed, 1,
                                  err);
    if (!s->net)
        return err ? err->code : GFN_EVALUE;
    if (cfg->sc_layers < 0 || (cfg->sc_layers > 0 && cfg->sc_hidden < 1))
        return gfn_error_set(err, GFN_EVALUE, "policy: bad SSR scorer size hidden %d x layers %d",
                             cfg->sc_hidden, cfg->sc_layers);
    /* Layer 1 is held here; layers 2..L (if any) are an MLP h1 -> ... -> 1. */
    s->h1 = cfg->sc_layers > 0 ? cfg->sc_hidden : 1;
    if (cfg->sc_layers > 0 &&
        !(s->scorer = gfn__policy_make_mlp(s->h1, cfg->sc_hidden, cfg->sc_layers - 1, 1, 1, err)))
        return err ? err->code : GFN_EVALUE;
    p->n_params = gfn_mlp_n_params(s->net) + (size_t)s->h1 * (2 * (size_t)cfg->embed + 1) +
                  (s->scorer ? gfn_mlp_n_params(s->scorer) : 0);
    return GFN_OK;
}

static void ssr_destroy(gfn_policy *p)
{
    ssr_impl *s = p->impl;
    if (!s)
        return;
    ssr_free_ws(s);
    if (s->w32_own)
        free(s->w32);
    gfn_mlp_free(s->net);
    gfn_mlp_free(s->scorer);
    free(s);
}

static int ssr_reserve(gfn_policy *p, int row_cap, gfn_error *err)
{
    ssr_impl *s = p->impl;
    size_t C = (size_t)row_cap;
    size_t E = C * (size_t)(1 + p->max_nbr), P = C * (size_t)p->max_nbr;
    size_t emb = (size_t)p->cfg.embed, h1 = (size_t)s->h1;
    ssr_free_ws(s);
    s->feat = calloc(E * (size_t)p->feat_dim, sizeof(double));
    s->d_out = calloc(P, sizeof(double));
    s->enc_states = calloc(E, sizeof(gfn_state));
    s->pair_enc = calloc(P, sizeof(int));
    s->pair_row = calloc(C, sizeof(int));
    s->net_pair = calloc(C + 1, sizeof(int));
    int ok = s->feat && s->d_out && s->enc_states && s->pair_enc && s->pair_row && s->net_pair;
    if (s->f32) {
        ok = ok && (s->a32 = calloc(C * h1, sizeof(float))) &&
             (s->d_as32 = calloc(C * h1, sizeof(float))) &&
             (s->d_s1_32 = calloc(P * h1, sizeof(float))) &&
             (s->c32 = calloc(E * h1, sizeof(float))) &&
             (s->d_c32 = calloc(E * h1, sizeof(float))) &&
             (s->d_enc32 = calloc(E * emb, sizeof(float))) &&
             (s->d_out32 = calloc(P, sizeof(float))) &&
             (s->gw32 = calloc(h1 * emb, sizeof(float)));
        if (!s->scorer) /* else s1 lives in the scorer's input workspace */
            ok = ok && (s->s1_32 = calloc(P * h1, sizeof(float))) &&
                 (s->u64 = calloc(P, sizeof(double)));
    } else {
        ok = ok && (s->a_s = calloc(C * h1, sizeof(double))) &&
             (s->d_as = calloc(C * h1, sizeof(double))) &&
             (s->s1 = calloc(P * h1, sizeof(double))) &&
             (s->d_s1 = calloc(P * h1, sizeof(double))) &&
             (s->d_enc = calloc(E * emb, sizeof(double))) &&
             (s->c = calloc(E * h1, sizeof(double))) && (s->d_c = calloc(E * h1, sizeof(double)));
    }
    if (!ok)
        return GFN_ENOMEM;
    int rc = gfn_stateset_init(&s->enc_set, (int)E, err);
    if (!rc)
        rc = gfn_mlp_reserve(s->net, (int)E, err);
    if (!rc && s->scorer)
        rc = gfn_mlp_reserve(s->scorer, (int)P, err);
    return rc;
}

static void ssr_bind(gfn_policy *p, double *params, double *grads)
{
    ssr_impl *s = p->impl;
    gfn_mlp_bind(s->net, params, grads);
    size_t k = gfn_mlp_n_params(s->net), w = (size_t)s->h1 * 2 * (size_t)p->cfg.embed;
    s->W1 = params + k;
    s->b1 = params + k + w;
    s->gW1 = grads ? grads + k : NULL;
    s->gb1 = grads ? grads + k + w : NULL;
    if (s->scorer)
        gfn_mlp_bind(s->scorer, params + k + w + s->h1, grads ? grads + k + w + s->h1 : NULL);
    s->w32_stale = 1;
}

static size_t ssr_n_w1(const gfn_policy *p)
{
    return (size_t)((const ssr_impl *)p->impl)->h1 * (2 * (size_t)p->cfg.embed + 1);
}

static int ssr_set_f32(gfn_policy *p, int on, gfn_error *err)
{
    ssr_impl *s = p->impl;
    on = on != 0;
    if (on == s->f32)
        return GFN_OK;
    int rc = gfn_mlp_set_f32(s->net, on, err);
    if (!rc && s->scorer)
        rc = gfn_mlp_set_f32(s->scorer, on, err);
    if (rc)
        return rc;
    s->f32 = on;
    s->w32_stale = 1;
    if (on && !s->w32) {
        if (!(s->w32 = malloc(ssr_n_w1(p) * sizeof(float))))
            return gfn_error_set(err, GFN_ENOMEM, "policy: out of memory for float weights");
        s->w32_own = 1;
    }
    return ssr_reserve(p, p->cap, err);
}

static void ssr_bind_f32(gfn_policy *p, float *params32)
{
    ssr_impl *s = p->impl;
    GFN_ASSERT(s->f32 && params32);
    size_t k = gfn_mlp_n_params(s->net);
    gfn_mlp_bind_f32(s->net, params32);
    if (s->w32_own)
        free(s->w32);
    s->w32 = params32 + k;
    s->w32_own = 0;
    s->w32_stale = 1;
    if (s->scorer)
        gfn_mlp_bind_f32(s->scorer, params32 + k + ssr_n_w1(p));
}

static void ssr_params_changed(gfn_policy *p)
{
    ssr_impl *s = p->impl;
    s->w32_stale = 1;
    gfn_mlp_params_changed(s->net);
    if (s->scorer)
        gfn_mlp_params_changed(s->scorer);
}

static void ssr_set_pool(gfn_policy *p, gfn_pool *pool)
{
    ssr_impl *s = p->impl;
    s->pool = pool;
    gfn_mlp_set_pool(s->net, pool);
    if (s->scorer)
        gfn_mlp_set_pool(s->scorer, pool);
}

static void ssr_init_params(gfn_policy *p, gsl_rng *rng)
{
    ssr_impl *s = p->impl;
    gfn_mlp_init_params(s->net, rng);
    /* nn.Linear(2 embed, h1): weights then bias, bound 1/sqrt(fan_in). */
    double bound = 1.0 / sqrt(2.0 * p->cfg.embed);
    size_t w = (size_t)s->h1 * (2 * (size_t)p->cfg.embed + 1);
    for (size_t i = 0; i < w; i++)
        s->W1[i] = bound * (2.0 * gsl_rng_uniform(rng) - 1.0);
    if (s->scorer)
        gfn_mlp_init_params(s->scorer, rng);
    s->w32_stale = 1;
}

/* Log P and log f of every network row from the scores u (one per pair). */
static void ssr_log_probs(gfn_policy *p, int n, const double *u)
{
    ssr_impl *s = p->impl;
    for (int i = 0; i < n; i++) {
        if (p->net_row[i] < 0)
            continue;
        const double *ui = u + s->pair_row[i];
        double *lf = p->logflow + (size_t)i * GFN_NBR_MAX, *lp = p->logp + (size_t)i * GFN_NBR_MAX;
        double mx = -INFINITY, sum = 0.0;
        for (int j = 0; j < p->n_nbr[i]; j++)
            mx = fmax(mx, ui[j]);
        for (int j = 0; j < p->n_nbr[i]; j++)
            sum += exp(ui[j] - mx);
        for (int j = 0; j < p->n_nbr[i]; j++) {
            lf[j] = ui[j];
            lp[j] = ui[j] - (mx + log(sum));
        }
    }
}

/* Float32 first layer and scorer, after the encoder's forward over ne rows:
 * a = Z_s W1a^T, c = Z W1b^T, s1[i, j] = LeakyReLU(c[pair_enc] + a[i] + b1). */
static const double *ssr_forward_f32(gfn_policy *p, int pr)
{
    ssr_impl *s = p->impl;
    int E = p->cfg.embed, h1 = s->h1, nk = p->n_net, ne = s->n_enc;
    if (s->w32_stale) {
        const double *w = s->W1;
        for (size_t k = 0, m = ssr_n_w1(p); k < m; k++)
            s->w32[k] = (float)w[k]; /* W1 and b1 are adjacent */
        s->w32_stale = 0;
    }
    const float *z = s->z32 = gfn_mlp_out_f32(s->net), *b1 = s->w32 + (size_t)h1 * 2 * E;
    gfn_pool_sgemm(s->pool, CblasNoTrans, CblasTrans, nk, h1, E, 1.0f, z, E, s->w32, 2 * E,
                0.0f, s->a32, h1);
    gfn_pool_sgemm(s->pool, CblasNoTrans, CblasTrans, ne, h1, E, 1.0f, z, E, s->w32 + E, 2 * E,
                0.0f, s->c32, h1);
    if (s->scorer)
        s->s1_32 = gfn_mlp_in_f32(s->scorer);
    gfn_vec_pair_forward_f32(s->pool, &s->pairs, s->a32, s->c32, b1, s->scorer != NULL, s->s1_32);
    if (s->scorer)
        return gfn_mlp_forward_f32(s->scorer, pr, s->s1_32);
    for (int q = 0; q < pr; q++)
        s->u64[q] = s->s1_32[q];
    return s->u64;
}

/* Encoder rows: the nk states that go through the networks (net_row order),
 * then their neighbours in pair order (i, j).  Rows are laid out per batch, so
 * i0 and r0 are 0. */
static void ssr_forward(gfn_policy *p, int i0, int r0, int n, const gfn_state *states)
{
    ssr_impl *s = p->impl;
    GFN_ASSERT(i0 == 0 && r0 == 0);
    int E = p->cfg.embed, F = p->feat_dim, h1 = s->h1, pr = 0, nk = p->n_net, ne = 0, fresh;
    int enc_cap = p->cap * (1 + p->max_nbr);
    gfn_stateset_clear(&s->enc_set);
    for (int i = 0; i < n; i++) /* network row r is encoder row r */
        if (p->net_row[i] >= 0) {
            gfn_stateset_row(&s->enc_set, s->enc_states, &ne, enc_cap, &states[i], &fresh);
            if (!fresh) /* a repeated state keeps a row of its own; neighbours use the first */
                s->enc_states[ne++] = states[i];
            GFN_ASSERT_CMP(ne, ==, p->net_row[i] + 1);
        }
    for (int i = 0; i < n; i++) {
        if (p->net_row[i] < 0)
            continue;
        s->pair_row[i] = s->net_pair[p->net_row[i]] = pr;
        const gfn_state *nb = gfn_policy_nbrs(p, i);
        for (int j = 0; j < p->n_nbr[i]; j++)
            s->pair_enc[pr + j] =
                gfn_stateset_row(&s->enc_set, s->enc_states, &ne, enc_cap, &nb[j], &fresh);
        pr += p->n_nbr[i];
    }
    for (int r = 0; r < ne; r++)
        gfn_env_features(p->env, &s->enc_states[r], s->feat + (size_t)r * F);
    s->net_pair[nk] = pr;
    s->pairs = (gfn_vec_pairs){.rows = nk, .h1 = h1, .row_pair = s->net_pair, .enc = s->pair_enc};
    s->n_enc = ne;
    const double *z = gfn_mlp_forward(s->net, ne, s->feat);
    s->z = z;
    if (pr == 0)
        return;
    if (s->f32) {
        s->out = ssr_forward_f32(p, pr);
        ssr_log_probs(p, n, s->out);
        return;
    }
    /* a_s = Z_s W1a^T (network states); c = Z W1b^T (every encoder row); then
     * s1[i, j] = c[pair_enc] + a_s[i] + b1. */
    gfn_pool_dgemm(s->pool, CblasNoTrans, CblasTrans, nk, h1, E, 1.0, z, E, s->W1, 2 * E, 0.0,
                s->a_s, h1);
    gfn_pool_dgemm(s->pool, CblasNoTrans, CblasTrans, ne, h1, E, 1.0, z, E, s->W1 + E, 2 * E,
                0.0, s->c, h1);
    /* LeakyReLU between scorer layers 1 and 2 */
    gfn_vec_pair_forward(s->pool, &s->pairs, s->a_s, s->c, s->b1, s->scorer != NULL, s->s1);
    const double *u = s->scorer ? gfn_mlp_forward(s->scorer, pr, s->s1) : s->s1;
    s->out = u;
    ssr_log_probs(p, n, u);
}

/* dst (rows, cols) with leading dimension ld += src (rows, cols) in float. */
static void add_float_rows(int rows, int cols, const float *src, double *dst, int ld)
{
    for (int r = 0; r < rows; r++) {
        const float *sr = src + (size_t)r * cols;
        double *dr = dst + (size_t)r * ld;
        for (int k = 0; k < cols; k++)
            dr[k] += (double)sr[k];
    }
}

/* The float32 backward from d_out (pr scores); gW1 and gb1 already zeroed in set mode. */
static void ssr_backward_f32(gfn_policy *p, int pr, int set)
{
    ssr_impl *s = p->impl;
    int E = p->cfg.embed, h1 = s->h1, nk = p->n_net, ne = s->n_enc;
    for (int q = 0; q < pr; q++)
        s->d_out32[q] = (float)s->d_out[q];
    /* Through the scorer to the first layer's output; the LeakyReLU's gradient
     * is applied in the per-pair pass. */
    if (s->scorer)
        gfn_mlp_backward_f32(s->scorer, pr, s->d_out32, s->d_s1_32, set);
    memset(s->d_as32, 0, (size_t)nk * h1 * sizeof(float));
    memset(s->d_c32, 0, (size_t)ne * h1 * sizeof(float));
    gfn_vec_pair_backward_f32(s->pool, &s->pairs, s->s1_32, s->scorer ? s->d_s1_32 : s->d_out32,
                              s->scorer != NULL, s->d_as32, s->d_c32, s->gb1);
    const float *z = s->z32, *W1 = s->w32;
    gfn_pool_sgemm(s->pool, CblasTrans, CblasNoTrans, h1, E, nk, 1.0f, s->d_as32, h1, z, E,
                0.0f, s->gw32, E);
    add_float_rows(h1, E, s->gw32, s->gW1, 2 * E);
    gfn_pool_sgemm(s->pool, CblasTrans, CblasNoTrans, h1, E, ne, 1.0f, s->d_c32, h1, z, E,
                0.0f, s->gw32, E);
    add_float_rows(h1, E, s->gw32, s->gW1 + E, 2 * E);
    gfn_pool_sgemm(s->pool, CblasNoTrans, CblasNoTrans, ne, E, h1, 1.0f, s->d_c32, h1, W1 + E,
                2 * E, 0.0f, s->d_enc32, E);
    gfn_pool_sgemm(s->pool, CblasNoTrans, CblasNoTrans, nk, E, h1, 1.0f, s->d_as32, h1, W1,
                2 * E, 1.0f, s->d_enc32, E);
    gfn_mlp_backward_f32(s->net, ne, s->d_enc32, NULL, set);
}

static void ssr_backward(gfn_policy *p, const double *d_logp, const double *d_logflow, int set)
{
    ssr_impl *s = p->impl;
    int E = p->cfg.embed, h1 = s->h1, n = p->n, pr = 0, nk = p->n_net;
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
            s->d_out[s->pair_row[i] + j] = g + h - exp(lp[j]) * gsum;
        }
        pr += p->n_nbr[i];
    }
    if (pr == 0) {
        if (set)
            memset(p->grads, 0, p->n_params * sizeof(double)); /* no network row */
        return;
    }
    if (set)
        memset(s->gW1, 0, (size_t)s->h1 * (2 * (size_t)E + 1) * sizeof(double)); /* W1, b1 */
    if (s->f32) {
        ssr_backward_f32(p, pr, set);
        return;
    }
    /* d_s1: gradient at the first layer's output, (pr, h1); the per-pair pass
     * applies the LeakyReLU's gradient and adds into d_as, d_c and gb1. */
    if (s->scorer)
        (set ? gfn_mlp_backward_set : gfn_mlp_backward)(s->scorer, pr, s->d_out, s->d_s1);
    int ne = s->n_enc;
    memset(s->d_as, 0, (size_t)nk * h1 * sizeof(double));
    memset(s->d_c, 0, (size_t)ne * h1 * sizeof(double));
    gfn_vec_pair_backward(s->pool, &s->pairs, s->s1, s->scorer ? s->d_s1 : s->d_out,
                          s->scorer != NULL, s->d_as, s->d_c, s->gb1);
    const double *z = s->z;
    /* dW1a += D_s^T Z_s, dW1b += D_c^T Z; dZ = D_c W1b, then dZ_s += D_s W1a. */
    gfn_pool_dgemm(s->pool, CblasTrans, CblasNoTrans, h1, E, nk, 1.0, s->d_as, h1, z, E, 1.0,
                s->gW1, 2 * E);
    gfn_pool_dgemm(s->pool, CblasTrans, CblasNoTrans, h1, E, ne, 1.0, s->d_c, h1, z, E, 1.0,
                s->gW1 + E, 2 * E);
    gfn_pool_dgemm(s->pool, CblasNoTrans, CblasNoTrans, ne, E, h1, 1.0, s->d_c, h1, s->W1 + E,
                2 * E, 0.0, s->d_enc, E);
    gfn_pool_dgemm(s->pool, CblasNoTrans, CblasNoTrans, nk, E, h1, 1.0, s->d_as, h1, s->W1,
                2 * E, 1.0, s->d_enc, E);
    (set ? gfn_mlp_backward_set : gfn_mlp_backward)(s->net, ne, s->d_enc, NULL);
}

const gfn_policy_ops gfn__policy_ssr_ops = {
    .flags = GFN__POLICY_NETWORK | GFN__POLICY_BATCH_ONLY,
    .create = ssr_create,
    .destroy = ssr_destroy,
    .reserve = ssr_reserve,
    .bind = ssr_bind,
    .set_f32 = ssr_set_f32,
    .bind_f32 = ssr_bind_f32,
    .params_changed = ssr_params_changed,
    .set_pool = ssr_set_pool,
    .init_params = ssr_init_params,
    .forward = ssr_forward,
    .backward = ssr_backward,
    .permute = NULL,
};
