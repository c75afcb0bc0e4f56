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
 * contiguous matrix.  The per-pair passes (the add + bias + LeakyReLU of the
 * first layer, and the backward's scatter-add) are vecops.h's.
 * Appending rows (the sampler's kept evaluations, sampler.h): each chunk adds
 * its network states and its neighbours not yet held after the rows held;
 * gfn_policy_permute then lays the rows out as a fresh forward of the new
 * order would (states first), moving the kept activations, so the training
 * forward that reuses them costs no network evaluation.
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
    int *net_pair;               /* (cap + 1) first pair of network row r, then the total */
    int *net_enc;                /* (cap) encoder row of network row r's state */
    int appended;                /* rows were appended since the last fresh forward or permute */
    gfn_vec_pairs pairs;         /* the pairs of the last forward, for vecops.h */
    /* Encoder rows: the network states (rows 0..n_net-1), then every distinct
     * neighbour that is not one of them; pair (i, j) reads row pair_enc[pair]. */
    int n_enc;
    gfn_state *enc_states;       /* (cap (1 + max_nbr)) state of each encoder row */
    int *pair_enc;               /* (cap max_nbr) encoder row of each pair's neighbour */
    gfn_stateset enc_set;        /* encoder row of a state */
    gfn_pool *pool;              /* threads for the wide GEMMs (pool.h), or NULL */
    /* gfn_policy_permute: the new layout is built here, then swapped in */
    int *from_enc, *from_pair;   /* (cap (1 + max_nbr)), (cap max_nbr) old row of each new one */
    int *new_pair, *new_enc;     /* (cap + 1), (cap max_nbr) */
    gfn_state *new_states;       /* (cap (1 + max_nbr)) */
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
    double *stage64;             /* (cap max_nbr, h1) appended scorer input in double */
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
    free(s->net_pair);
    free(s->net_enc);
    free(s->from_enc);
    free(s->from_pair);
    free(s->new_pair);
    free(s->new_enc);
    free(s->new_states);
    free(s->stage64);
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
    s->pair_enc = s->net_pair = s->net_enc = NULL;
    s->from_enc = s->from_pair = s->new_pair = s->new_enc = NULL;
    s->new_states = NULL;
    s->stage64 = NULL;
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
    s->net_pair = calloc(C + 1, sizeof(int));
    s->net_enc = calloc(C, sizeof(int));
    s->from_enc = calloc(E, sizeof(int));
    s->from_pair = calloc(P, sizeof(int));
    s->new_pair = calloc(C + 1, sizeof(int));
    s->new_enc = calloc(P, sizeof(int));
    s->new_states = calloc(E, sizeof(gfn_state));
    int ok = s->feat && s->d_out && s->enc_states && s->pair_enc && s->net_pair &&
             s->net_enc && s->from_enc && s->from_pair && s->new_pair && s->new_enc &&
             s->new_states;
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
        else
            ok = ok && (s->stage64 = calloc(P * h1, sizeof(double)));
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

/* Log P and log f of the network rows among rows [i0, i0 + n) from the scores
 * u (one per pair). */
static void ssr_log_probs(gfn_policy *p, int i0, int n, const double *u)
{
    ssr_impl *s = p->impl;
    for (int i = i0; i < i0 + n; i++) {
        if (p->net_row[i] < 0)
            continue;
        const double *ui = u + s->net_pair[p->net_row[i]];
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

/* The new rows of a forward: network rows [r0, p->n_net), encoder rows
 * [ne0, s->n_enc) (the new network states first), pairs [q0, pr). */
typedef struct {
    int r0, ne0, q0, pr;
} ssr_span;

/* Float32 first layer and scorer, after the encoder's forward:
 * a = Z_s W1a^T, c = Z W1b^T, s1[i, j] = LeakyReLU(c[pair_enc] + a[i] + b1), on
 * the new rows; returns the scores from pair 0. */
static const double *ssr_forward_f32(gfn_policy *p, const ssr_span *sp)
{
    ssr_impl *s = p->impl;
    int E = p->cfg.embed, h1 = s->h1, nk = p->n_net - sp->r0, ne = s->n_enc - sp->ne0;
    if (s->w32_stale) {
        const double *w = s->W1;
        for (size_t k = 0, m = ssr_n_w1(p); k < m; k++)
            s->w32[k] = (float)w[k]; /* W1 and b1 are adjacent */
        s->w32_stale = 0;
    }
    const float *z = s->z32 + (size_t)sp->ne0 * E, *b1 = s->w32 + (size_t)h1 * 2 * E;
    gfn_pool_sgemm(s->pool, CblasNoTrans, CblasTrans, nk, h1, E, 1.0f, z, E, s->w32, 2 * E,
                0.0f, s->a32 + (size_t)sp->r0 * h1, h1);
    gfn_pool_sgemm(s->pool, CblasNoTrans, CblasTrans, ne, h1, E, 1.0f, z, E, s->w32 + E, 2 * E,
                0.0f, s->c32 + (size_t)sp->ne0 * h1, h1);
    if (s->scorer)
        s->s1_32 = gfn_mlp_in_f32(s->scorer);
    gfn_vec_pairs g = {.rows = nk, .h1 = h1, .row_pair = s->net_pair + sp->r0, .enc = s->pair_enc};
    gfn_vec_pair_forward_f32(s->pool, &g, s->a32 + (size_t)sp->r0 * h1, s->c32, b1,
                             s->scorer != NULL, s->s1_32);
    if (s->scorer && sp->q0 == 0)
        return gfn_mlp_forward_f32(s->scorer, sp->pr, s->s1_32);
    if (s->scorer) {
        /* Appended pairs: the scorer takes rows after the held ones from a
         * double input only; float -> double -> float gives the same floats. */
        for (size_t k = (size_t)sp->q0 * h1, m = (size_t)sp->pr * h1; k < m; k++)
            s->stage64[k] = s->s1_32[k];
        return gfn_mlp_forward_at(s->scorer, sp->q0, sp->pr - sp->q0,
                                  s->stage64 + (size_t)sp->q0 * h1) - sp->q0;
    }
    for (int q = sp->q0; q < sp->pr; q++)
        s->u64[q] = s->s1_32[q];
    return s->u64;
}

/* The same in double. */
static const double *ssr_forward_f64(gfn_policy *p, const ssr_span *sp)
{
    ssr_impl *s = p->impl;
    int E = p->cfg.embed, h1 = s->h1, nk = p->n_net - sp->r0, ne = s->n_enc - sp->ne0;
    const double *z = s->z + (size_t)sp->ne0 * E;
    gfn_pool_dgemm(s->pool, CblasNoTrans, CblasTrans, nk, h1, E, 1.0, z, E, s->W1, 2 * E, 0.0,
                s->a_s + (size_t)sp->r0 * h1, h1);
    gfn_pool_dgemm(s->pool, CblasNoTrans, CblasTrans, ne, h1, E, 1.0, z, E, s->W1 + E, 2 * E,
                0.0, s->c + (size_t)sp->ne0 * h1, h1);
    /* LeakyReLU between scorer layers 1 and 2 */
    gfn_vec_pairs g = {.rows = nk, .h1 = h1, .row_pair = s->net_pair + sp->r0, .enc = s->pair_enc};
    gfn_vec_pair_forward(s->pool, &g, s->a_s + (size_t)sp->r0 * h1, s->c, s->b1,
                         s->scorer != NULL, s->s1);
    if (!s->scorer)
        return s->s1;
    if (sp->q0 == 0)
        return gfn_mlp_forward(s->scorer, sp->pr, s->s1);
    return gfn_mlp_forward_at(s->scorer, sp->q0, sp->pr - sp->q0, s->s1 + (size_t)sp->q0 * h1) -
           sp->q0;
}

/* Encoder rows: the states that go through the networks (net_row order), then
 * their neighbours in pair order (i, j), each distinct state once.  Appended
 * rows (i0 > 0) follow the held ones in the same way: their network states
 * (a row each), then their neighbours not already held; the held rows are
 * kept, and ssr_permute restores the per-batch layout (states first) that the
 * backward reads. */
static void ssr_forward(gfn_policy *p, int i0, int r0, int n, const gfn_state *states)
{
    ssr_impl *s = p->impl;
    GFN_ASSERT(i0 > 0 || r0 == 0);
    int F = p->feat_dim, E = p->cfg.embed, h1 = s->h1, nk = p->n_net, fresh;
    int enc_cap = p->cap * (1 + p->max_nbr);
    ssr_span sp = {.r0 = r0, .ne0 = i0 ? s->n_enc : 0, .q0 = i0 ? s->net_pair[r0] : 0};
    int ne = sp.ne0, pr = sp.q0;
    if (i0 == 0)
        gfn_stateset_clear(&s->enc_set);
    s->appended = i0 > 0;
    for (int i = i0; i < i0 + n; i++)
        if (p->net_row[i] >= 0) {
            const gfn_state *st = &states[i - i0];
            gfn_stateset_row(&s->enc_set, s->enc_states, &ne, enc_cap, st, &fresh);
            if (!fresh) /* a repeated state keeps a row of its own; neighbours use the first */
                s->enc_states[ne++] = *st;
            GFN_ASSERT_CMP(ne - sp.ne0, ==, p->net_row[i] - r0 + 1);
            s->net_enc[p->net_row[i]] = ne - 1;
        }
    for (int i = i0; i < i0 + n; i++) {
        if (p->net_row[i] < 0)
            continue;
        s->net_pair[p->net_row[i]] = pr;
        const gfn_state *nb = gfn_policy_nbrs(p, i);
        for (int j = 0; j < p->n_nbr[i]; j++)
            s->pair_enc[pr + j] =
                gfn_stateset_row(&s->enc_set, s->enc_states, &ne, enc_cap, &nb[j], &fresh);
        pr += p->n_nbr[i];
    }
    for (int r = sp.ne0; r < ne; r++)
        gfn_env_features(p->env, &s->enc_states[r], s->feat + (size_t)r * F);
    s->net_pair[nk] = sp.pr = pr;
    s->pairs = (gfn_vec_pairs){.rows = nk, .h1 = h1, .row_pair = s->net_pair, .enc = s->pair_enc};
    s->n_enc = ne;
    s->z = gfn_mlp_forward_at(s->net, sp.ne0, ne - sp.ne0, s->feat + (size_t)sp.ne0 * F) -
           (size_t)sp.ne0 * E;
    if (s->f32)
        s->z32 = gfn_mlp_out_f32(s->net);
    if (pr == sp.q0)
        return;
    s->out = s->f32 ? ssr_forward_f32(p, &sp) : ssr_forward_f64(p, &sp);
    ssr_log_probs(p, i0, n, s->out);
}

/* Network row i becomes old row perm_net[i] (i < k_net): the encoder rows, the
 * pairs and every kept activation are laid out as a fresh forward of the new
 * rows would lay them out (policy.c has moved the neighbours already), each
 * taken from an old row of the same state. */
static void ssr_permute(gfn_policy *p, int k_net, int hi_net)
{
    ssr_impl *s = p->impl;
    int h1 = s->h1, enc_cap = p->cap * (1 + p->max_nbr), ne = 0, pr = 0, fresh;
    gfn_stateset_clear(&s->enc_set);
    for (int i = 0; i < k_net; i++) {
        int e = s->net_enc[p->perm_net[i]];
        const gfn_state *st = &s->enc_states[e];
        gfn_stateset_row(&s->enc_set, s->new_states, &ne, enc_cap, st, &fresh);
        if (!fresh)
            s->new_states[ne++] = *st;
        GFN_ASSERT_CMP(ne, ==, i + 1);
        s->from_enc[i] = e;
    }
    for (int i = 0; i < k_net; i++) {
        int r = p->perm_net[i];
        s->new_pair[i] = pr;
        for (int q = s->net_pair[r]; q < s->net_pair[r + 1]; q++) {
            int e = gfn_stateset_row(&s->enc_set, s->new_states, &ne, enc_cap,
                                     &s->enc_states[s->pair_enc[q]], &fresh);
            if (fresh)
                s->from_enc[e] = s->pair_enc[q];
            s->new_enc[pr] = e;
            s->from_pair[pr++] = q;
        }
    }
    /* The activations, through the backward buffers (free between a forward
     * and its backward) as scratch. */
    gfn_mlp_permute_rows(s->net, ne, s->from_enc);
    if (s->scorer && pr > 0)
        gfn_mlp_permute_rows(s->scorer, pr, s->from_pair);
    /* Of the first layer's buffers the backward reads s1 only (the LeakyReLU's
     * gradient), when a scorer follows: in float that is the scorer's input,
     * permuted with it; in double the policy's own copy. */
    if (!s->f32 && s->scorer)
        gfn__policy_permute_rows(pr, s->from_pair, s->net_pair[hi_net],
                                 (size_t)h1 * sizeof(double), s->s1, s->d_s1);
    memcpy(s->enc_states, s->new_states, (size_t)ne * sizeof(gfn_state));
    memcpy(s->pair_enc, s->new_enc, (size_t)pr * sizeof(int));
    memcpy(s->net_pair, s->new_pair, (size_t)k_net * sizeof(int));
    s->net_pair[k_net] = pr;
    for (int i = 0; i < k_net; i++)
        s->net_enc[i] = i;
    s->n_enc = ne;
    s->pairs.rows = k_net;
    s->appended = 0;
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
    GFN_ASSERT(!s->appended); /* the sampler appends; a training forward or permute comes first */
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
            s->d_out[s->net_pair[p->net_row[i]] + j] = g + h - exp(lp[j]) * gsum;
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
    .flags = GFN__POLICY_NETWORK,
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
    .permute = ssr_permute,
};
