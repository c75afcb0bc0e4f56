/* model.c - the learned quantities of a trajectory batch and their gradients.
 *
 * For trajectory b with states s_0 .. s_T (s_T = x terminal):
 *   log_pf[b, t]   = log P_F(s_{t+1} | s_t)              t = 0..T-1
 *   log_pb[b, t]   = log P_B(s_t | s_{t+1})              t = 0..T-1
 *   log_flow[b, t] = flow head at s_t                    t = 0..T-1 (0 at t = T)
 *   fm_in[b, t, k] = log f(p_k -> s_t), p_k the k-th unique parent of s_t   t = 1..T
 *   fm_out[b, t, k] = log f(s_t -> c_k), c_k the k-th unique child          t = 1..T-1
 * where log f is P_F's unnormalised log edge flow (SA: LSE of the logits of the
 * actions reaching the child; SSR: the score).  Each network sees all its rows in
 * one batched call; the row of each quantity is remembered for the backward pass.
 * A state that occurs more than once in a batch (the short prefixes every
 * trajectory passes through, a replayed x's sub-strings) gets one row: the
 * edges that read it share its log P, and the backward adds their derivatives
 * into that row before the network's backward.  The gradient is the same sum
 * in another order; the networks see fewer rows (about 30% fewer on tfbind8).
 */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"
#include "stateset.h"

enum { SEG_PF, SEG_PB, SEG_FLOW, SEG_LOG_Z };

struct gfn_model {
    const gfn_env *env;
    gfn_model_config cfg;
    gfn_policy *pf, *pb;
    gfn_mlp *flow;
    size_t n_params, off[4], cnt[4];
    double *params, *grads;
    float *params32;               /* (n_params) cfg.f32: the networks' float weights, */
                                   /* written by Adam as it updates params */
    gfn_adam adam;
    gfn_pool *pool;                /* cfg.threads > 1: the threads of the wide GEMMs */
    int feat_dim;
    /* workspaces for one batch */
    int cap_pf, cap_pb, fm_rows;   /* fm_rows: room for FM's extra parent rows */
    gfn_state *pf_states, *pb_states;
    int *pf_row, *pf_j;            /* (B_cap, T_max) row and neighbour index of edge t in P_F */
    int *pb_row, *pb_j;            /* (B_cap, T_max) same in P_B */
    int *fm_in_row, *fm_in_j;      /* (B_cap, T_max + 1, GFN_NBR_MAX) */
    double *d_logp, *d_logflow;    /* (cap_pf, GFN_NBR_MAX) */
    double *flow_feat, *flow_d;    /* (B_cap T_max, feat_dim), (B_cap T_max) */
    int *flow_row;                 /* (B_cap, T_max + 1) */
    int *from;                     /* (cap_pf) gfn_model_forward_kept: held row of each row */
    gfn_stateset rows;             /* the distinct states of P_F's or P_B's rows */
    int n_pf, n_pb, n_flow;        /* rows of the last forward */
    unsigned last_what;
};

void gfn_model_config_default(gfn_model_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    gfn_policy_config sa = {GFN_POLICY_SA, 128, 2, 128, 1, 128, 128, 1};
    cfg->pf = sa;
    cfg->pb = sa;
    cfg->pb.kind = GFN_POLICY_UNIFORM;
    cfg->flow_head = 0;
    cfg->flow_hidden = 128;
    cfg->flow_layers = 2;
    cfg->lr_policy = 1e-4;
    cfg->lr_z = 1e-2;
    cfg->log_z_init = 5.0;
    cfg->log_z_clamp = 1;
    cfg->clip_norm = 10.0;
    cfg->B_cap = 32;
    cfg->T_max = 16;
    cfg->threads = 1;
}

static int model_alloc_ws(gfn_model *m, gfn_error *err)
{
    size_t B = (size_t)m->cfg.B_cap, T = (size_t)m->cfg.T_max;
    size_t E = B * T, S = B * (T + 1);
    m->pf_states = calloc((size_t)m->cap_pf, sizeof(gfn_state));
    m->pb_states = calloc((size_t)m->cap_pb, sizeof(gfn_state));
    m->pf_row = calloc(E, sizeof(int));
    m->pf_j = calloc(E, sizeof(int));
    m->pb_row = calloc(E, sizeof(int));
    m->pb_j = calloc(E, sizeof(int));
    m->fm_in_row = calloc(S * GFN_NBR_MAX, sizeof(int));
    m->fm_in_j = calloc(S * GFN_NBR_MAX, sizeof(int));
    m->d_logp = calloc((size_t)m->cap_pf * GFN_NBR_MAX, sizeof(double));
    m->d_logflow = calloc((size_t)m->cap_pf * GFN_NBR_MAX, sizeof(double));
    m->flow_feat = calloc(E * (size_t)m->feat_dim, sizeof(double));
    m->flow_d = calloc(E, sizeof(double));
    m->flow_row = calloc(S, sizeof(int));
    m->from = calloc((size_t)m->cap_pf, sizeof(int));
    if (gfn_stateset_init(&m->rows, m->cap_pf, err) != GFN_OK)
        return GFN_ENOMEM;
    if (!m->pf_states || !m->pb_states || !m->pf_row || !m->pf_j || !m->pb_row || !m->pb_j ||
        !m->fm_in_row || !m->fm_in_j || !m->d_logp || !m->d_logflow || !m->flow_feat ||
        !m->flow_d || !m->flow_row || !m->from)
        return gfn_error_set(err, GFN_ENOMEM, "model: out of memory for batch %zu x %zu", B, T);
    return GFN_OK;
}

gfn_model *gfn_model_alloc(const gfn_env *env, const gfn_model_config *cfg, gfn_error *err)
{
    if (cfg->pf.kind == GFN_POLICY_UNIFORM)
        gfn_error_set(err, GFN_EVALUE, "model: the forward policy must be SA or SSR");
    else if (cfg->B_cap < 1 || cfg->T_max < 1)
        gfn_error_set(err, GFN_EVALUE, "model: need B_cap >= 1 and T_max >= 1 (got %d, %d)",
                      cfg->B_cap, cfg->T_max);
    else if (!(cfg->lr_policy >= 0) || !(cfg->lr_z >= 0))
        gfn_error_set(err, GFN_EVALUE, "model: learning rates must be >= 0 (got %g, %g)",
                      cfg->lr_policy, cfg->lr_z);
    else
        goto ok;
    return NULL;
ok:;
    gfn_model *m = calloc(1, sizeof *m);
    if (!m) {
        gfn_error_set(err, GFN_ENOMEM, "model: out of memory");
        return NULL;
    }
    m->env = env;
    m->cfg = *cfg;
    m->feat_dim = gfn_env_feature_dim(env);
    int rows = cfg->B_cap * cfg->T_max;
    /* FM evaluates P_F also at the other parents of each state of a trajectory. */
    m->fm_rows = cfg->fm ? rows * gfn_env_n_bwd_actions(env) : 0;
    m->cap_pf = rows + m->fm_rows;
    m->cap_pb = rows;
    if (!(m->pf = gfn_policy_alloc(env, GFN_POLICY_FWD, &cfg->pf, m->cap_pf, err)) ||
        !(m->pb = gfn_policy_alloc(env, GFN_POLICY_BWD, &cfg->pb, m->cap_pb, err)))
        goto fail;
    if (cfg->flow_head) {
        int w[GFN_MLP_MAX_LAYERS + 1], k = 0;
        if (cfg->flow_layers < 0 || cfg->flow_layers > GFN_MLP_MAX_LAYERS - 1) {
            gfn_error_set(err, GFN_EVALUE, "model: flow head layers %d out of range", cfg->flow_layers);
            goto fail;
        }
        w[k++] = m->feat_dim;
        for (int l = 0; l < cfg->flow_layers; l++)
            w[k++] = cfg->flow_hidden;
        w[k++] = 1;
        if (!(m->flow = gfn_mlp_alloc(w, k, rows, err)))
            goto fail;
    }
    m->cnt[SEG_PF] = gfn_policy_n_params(m->pf);
    m->cnt[SEG_PB] = gfn_policy_n_params(m->pb);
    m->cnt[SEG_FLOW] = m->flow ? gfn_mlp_n_params(m->flow) : 0;
    m->cnt[SEG_LOG_Z] = 1;
    for (int s = 0; s < 4; s++) {
        m->off[s] = m->n_params;
        m->n_params += m->cnt[s];
    }
    m->params = calloc(m->n_params, sizeof(double));
    m->grads = calloc(m->n_params, sizeof(double));
    if (!m->params || !m->grads) {
        gfn_error_set(err, GFN_ENOMEM, "model: out of memory for %zu parameters", m->n_params);
        goto fail;
    }
    gfn_policy_bind(m->pf, m->params + m->off[SEG_PF], m->grads + m->off[SEG_PF]);
    gfn_policy_bind(m->pb, m->params + m->off[SEG_PB], m->grads + m->off[SEG_PB]);
    if (m->flow)
        gfn_mlp_bind(m->flow, m->params + m->off[SEG_FLOW], m->grads + m->off[SEG_FLOW]);
    if (gfn_adam_init(&m->adam, m->n_params, err) != GFN_OK)
        goto fail;
    m->adam.clip_norm = cfg->clip_norm;
    static const char *names[4] = {"pf", "pb", "flow", "log_z"};
    for (int s = 0; s < 4; s++)
        gfn_adam_add_segment(&m->adam, names[s], m->off[s], m->cnt[s],
                             s == SEG_LOG_Z ? cfg->lr_z : cfg->lr_policy,
                             s == SEG_LOG_Z && cfg->log_z_clamp ? 0.0 : -INFINITY);
    if (model_alloc_ws(m, err) != GFN_OK)
        goto fail;
    if (cfg->f32 && (gfn_policy_set_f32(m->pf, 1, err) != GFN_OK ||
                     gfn_policy_set_f32(m->pb, 1, err) != GFN_OK ||
                     (m->flow && gfn_mlp_set_f32(m->flow, 1, err) != GFN_OK)))
        goto fail;
    if (cfg->f32) {
        /* One float block in the parameter layout, kept current by the Adam pass
         * itself: no separate pass over the weights after each step. */
        if (!(m->params32 = malloc(m->n_params * sizeof(float)))) {
            gfn_error_set(err, GFN_ENOMEM, "model: out of memory for %zu float parameters",
                          m->n_params);
            goto fail;
        }
        gfn_policy_bind_f32(m->pf, m->params32 + m->off[SEG_PF]);
        gfn_policy_bind_f32(m->pb, m->params32 + m->off[SEG_PB]);
        if (m->flow)
            gfn_mlp_bind_f32(m->flow, m->params32 + m->off[SEG_FLOW]);
        m->adam.mirror32 = m->params32;
    }
    if (cfg->threads > 1) {
        if (!(m->pool = gfn_pool_alloc(cfg->threads, err)))
            goto fail;
        gfn_policy_set_pool(m->pf, m->pool);
        gfn_policy_set_pool(m->pb, m->pool);
        if (m->flow)
            gfn_mlp_set_pool(m->flow, m->pool);
        m->adam.pool = m->pool;
    }
    return m;
fail:
    gfn_model_free(m);
    return NULL;
}

void gfn_model_free(gfn_model *m)
{
    if (!m)
        return;
    gfn_policy_free(m->pf);
    gfn_policy_free(m->pb);
    gfn_mlp_free(m->flow);
    gfn_pool_free(m->pool);
    gfn_adam_close(&m->adam);
    free(m->params32);
    free(m->params);
    free(m->grads);
    free(m->pf_states);
    free(m->pb_states);
    free(m->pf_row);
    free(m->pf_j);
    free(m->pb_row);
    free(m->pb_j);
    free(m->fm_in_row);
    free(m->fm_in_j);
    free(m->d_logp);
    free(m->d_logflow);
    free(m->flow_feat);
    free(m->flow_d);
    free(m->flow_row);
    free(m->from);
    gfn_stateset_close(&m->rows);
    free(m);
}

void gfn_model_init_params(gfn_model *m, gsl_rng *rng)
{
    gfn_policy_init_params(m->pf, rng);
    gfn_policy_init_params(m->pb, rng);
    if (m->flow)
        gfn_mlp_init_params(m->flow, rng);
    m->params[m->off[SEG_LOG_Z]] = m->cfg.log_z_init;
    gfn_model_params_changed(m);
    memset(m->adam.m, 0, m->n_params * sizeof(double));
    memset(m->adam.v, 0, m->n_params * sizeof(double));
    for (int s = 0; s < m->adam.n_seg; s++)
        m->adam.seg[s].step = 0;
}

const gfn_model_config *gfn_model_get_config(const gfn_model *m) { return &m->cfg; }
gfn_policy *gfn_model_pf(gfn_model *m) { return m->pf; }
gfn_policy *gfn_model_pb(gfn_model *m) { return m->pb; }
size_t gfn_model_n_params(const gfn_model *m) { return m->n_params; }
/* Whoever takes the writable block may change it: float copies are refreshed. */
double *gfn_model_params(gfn_model *m)
{
    gfn_model_params_changed(m);
    return m->params;
}

void gfn_model_params_changed(gfn_model *m)
{
    gfn_policy_params_changed(m->pf);
    gfn_policy_params_changed(m->pb);
    if (m->flow)
        gfn_mlp_params_changed(m->flow);
}
double *gfn_model_grads(gfn_model *m) { return m->grads; }
gfn_adam *gfn_model_adam(gfn_model *m) { return &m->adam; }
double gfn_model_log_z(const gfn_model *m) { return m->params[m->off[SEG_LOG_Z]]; }

#define ST(tb, b, t) (&(tb)->states[(size_t)(b) * ((tb)->T_max + 1) + (t)])
#define EI(tb, b, t) ((size_t)(b) * (tb)->T_max + (t))
#define SI(tb, b, t) ((size_t)(b) * ((tb)->T_max + 1) + (t))

static int find_or_die(const gfn_policy *p, int row, const gfn_state *c)
{
    int j = gfn_policy_find_nbr(p, row, c);
    if (j < 0) {
        fprintf(stderr, "model: trajectory state is not a neighbour of its predecessor (row %d)\n",
                row);
        GFN_ASSERT(j >= 0);
    }
    return j;
}

static void forward_pf(gfn_model *m, gfn_traj_batch *tb, int fm, const int *rows, int stride)
{
    int n = 0, fresh;
    GFN_ASSERT(!rows || tb->T_max <= stride);
    gfn_stateset_clear(&m->rows);
    for (int b = 0; b < tb->B; b++)
        for (int t = 0; t < tb->len[b]; t++) {
            int r = gfn_stateset_row(&m->rows, m->pf_states, &n, m->cap_pf, ST(tb, b, t), &fresh);
            m->pf_row[EI(tb, b, t)] = r;
            if (rows && fresh)
                m->from[r] = rows[(size_t)b * stride + t];
        }
    if (fm)
        for (int b = 0; b < tb->B; b++) {
            tb->fm_n_in[SI(tb, b, 0)] = tb->fm_n_out[SI(tb, b, 0)] = 0;
            for (int t = 1; t <= tb->len[b]; t++) {
                gfn_state par[GFN_NBR_MAX];
                int np = gfn_env_parents(m->env, ST(tb, b, t), par);
                tb->fm_n_in[SI(tb, b, t)] = np;
                for (int k = 0; k < np; k++)
                    m->fm_in_row[SI(tb, b, t) * GFN_NBR_MAX + k] =
                        gfn_stateset_row(&m->rows, m->pf_states, &n, m->cap_pf, &par[k], &fresh);
            }
        }
    m->n_pf = n;
    /* Without FM no log f is read: rows with one child skip the network. */
    if (fm)
        gfn_policy_forward(m->pf, n, m->pf_states);
    else if (rows)
        gfn_policy_permute(m->pf, n, m->from); /* the held rows, not a new evaluation */
    else
        gfn_policy_forward_logp(m->pf, n, m->pf_states);
    const double *lp = gfn_policy_logp(m->pf), *lf = gfn_policy_logflow(m->pf);
    for (int b = 0; b < tb->B; b++)
        for (int t = 0; t < tb->len[b]; t++) {
            int row = m->pf_row[EI(tb, b, t)];
            int j = find_or_die(m->pf, row, ST(tb, b, t + 1));
            m->pf_j[EI(tb, b, t)] = j;
            tb->log_pf[EI(tb, b, t)] = lp[(size_t)row * GFN_NBR_MAX + j];
        }
    if (!fm)
        return;
    for (int b = 0; b < tb->B; b++)
        for (int t = 1; t <= tb->len[b]; t++) {
            size_t si = SI(tb, b, t);
            for (int k = 0; k < tb->fm_n_in[si]; k++) {
                int row = m->fm_in_row[si * GFN_NBR_MAX + k];
                int j = find_or_die(m->pf, row, ST(tb, b, t));
                m->fm_in_j[si * GFN_NBR_MAX + k] = j;
                tb->fm_in[si * GFN_NBR_MAX + k] = lf[(size_t)row * GFN_NBR_MAX + j];
            }
            if (t == tb->len[b]) {
                tb->fm_n_out[si] = 0; /* the terminal's out-flow is R(x) */
                continue;
            }
            int row = m->pf_row[EI(tb, b, t)];
            tb->fm_n_out[si] = gfn_policy_n_nbr(m->pf, row);
            memcpy(&tb->fm_out[si * GFN_NBR_MAX], &lf[(size_t)row * GFN_NBR_MAX],
                   (size_t)tb->fm_n_out[si] * sizeof(double));
        }
}

static void forward_pb(gfn_model *m, gfn_traj_batch *tb, const int *rows, int stride)
{
    int n = 0, fresh;
    GFN_ASSERT(!rows || tb->T_max <= stride);
    gfn_stateset_clear(&m->rows);
    for (int b = 0; b < tb->B; b++)
        for (int t = 0; t < tb->len[b]; t++) {
            int r = gfn_stateset_row(&m->rows, m->pb_states, &n, m->cap_pb, ST(tb, b, t + 1), &fresh);
            m->pb_row[EI(tb, b, t)] = r;
            if (rows && fresh)
                m->from[r] = rows[(size_t)b * stride + t];
        }
    m->n_pb = n;
    if (rows)
        gfn_policy_permute(m->pb, n, m->from);
    else
        gfn_policy_forward_logp(m->pb, n, m->pb_states);
    const double *lp = gfn_policy_logp(m->pb);
    for (int b = 0; b < tb->B; b++)
        for (int t = 0; t < tb->len[b]; t++) {
            int row = m->pb_row[EI(tb, b, t)];
            int j = find_or_die(m->pb, row, ST(tb, b, t));
            m->pb_j[EI(tb, b, t)] = j;
            tb->log_pb[EI(tb, b, t)] = lp[(size_t)row * GFN_NBR_MAX + j];
        }
}

static void forward_flow(gfn_model *m, gfn_traj_batch *tb)
{
    GFN_ASSERT(m->flow);
    int n = 0;
    for (int b = 0; b < tb->B; b++)
        for (int t = 0; t < tb->len[b]; t++) {
            m->flow_row[SI(tb, b, t)] = n;
            gfn_env_features(m->env, ST(tb, b, t), m->flow_feat + (size_t)n * m->feat_dim);
            n++;
        }
    m->n_flow = n;
    const double *out = gfn_mlp_forward(m->flow, n, m->flow_feat);
    for (int b = 0; b < tb->B; b++) {
        for (int t = 0; t < tb->len[b]; t++)
            tb->log_flow[SI(tb, b, t)] = out[m->flow_row[SI(tb, b, t)]];
        tb->log_flow[SI(tb, b, tb->len[b])] = 0.0;
    }
}

void gfn_model_forward(gfn_model *m, gfn_traj_batch *tb, unsigned what)
{
    gfn_model_forward_kept(m, tb, what, NULL, NULL, 0);
}

void gfn_model_forward_kept(gfn_model *m, gfn_traj_batch *tb, unsigned what, const int *pf_rows,
                            const int *pb_rows, int stride)
{
    GFN_ASSERT_CMP(tb->B, <=, m->cfg.B_cap);
    GFN_ASSERT_CMP(tb->T_max, <=, m->cfg.T_max);
    for (int b = 0; b < tb->B; b++)
        GFN_ASSERT(tb->len[b] >= 1 && tb->len[b] <= tb->T_max);
    GFN_ASSERT(!(what & GFN_FILL_FM) || m->cfg.fm);
    GFN_ASSERT(!(pf_rows && (what & GFN_FILL_FM))); /* held rows have no log f */
    m->n_pf = m->n_pb = 0;
    if (what & (GFN_FILL_PF | GFN_FILL_FM))
        forward_pf(m, tb, (what & GFN_FILL_FM) != 0, pf_rows, stride);
    if (what & GFN_FILL_PB)
        forward_pb(m, tb, pb_rows, stride);
    if (what & GFN_FILL_FLOW)
        forward_flow(m, tb);
    m->last_what = what;
}

void gfn_model_rows(const gfn_model *m, int *n_pf, int *n_pb)
{
    if (n_pf)
        *n_pf = m->n_pf;
    if (n_pb)
        *n_pb = m->n_pb;
}

static void backward_pf(gfn_model *m, const gfn_traj_batch *tb, int pf, int fm, int set)
{
    memset(m->d_logp, 0, (size_t)m->n_pf * GFN_NBR_MAX * sizeof(double));
    if (fm)
        memset(m->d_logflow, 0, (size_t)m->n_pf * GFN_NBR_MAX * sizeof(double));
    for (int b = 0; b < tb->B && pf; b++)
        for (int t = 0; t < tb->len[b]; t++) {
            size_t e = EI(tb, b, t);
            m->d_logp[(size_t)m->pf_row[e] * GFN_NBR_MAX + m->pf_j[e]] += tb->d_log_pf[e];
        }
    if (fm)
        for (int b = 0; b < tb->B; b++)
            for (int t = 1; t <= tb->len[b]; t++) {
                size_t si = SI(tb, b, t);
                for (int k = 0; k < tb->fm_n_in[si]; k++) {
                    size_t q = si * GFN_NBR_MAX + k;
                    m->d_logflow[(size_t)m->fm_in_row[q] * GFN_NBR_MAX + m->fm_in_j[q]] +=
                        tb->d_fm_in[q];
                }
                if (t < tb->len[b]) {
                    size_t row = (size_t)m->pf_row[EI(tb, b, t)];
                    for (int k = 0; k < tb->fm_n_out[si]; k++)
                        m->d_logflow[row * GFN_NBR_MAX + k] += tb->d_fm_out[si * GFN_NBR_MAX + k];
                }
            }
    (set ? gfn_policy_backward_set : gfn_policy_backward)(m->pf, pf ? m->d_logp : NULL,
                                                         fm ? m->d_logflow : NULL);
}

static void backward_pb(gfn_model *m, const gfn_traj_batch *tb, int set)
{
    memset(m->d_logp, 0, (size_t)m->n_pb * GFN_NBR_MAX * sizeof(double));
    for (int b = 0; b < tb->B; b++)
        for (int t = 0; t < tb->len[b]; t++) {
            size_t e = EI(tb, b, t);
            m->d_logp[(size_t)m->pb_row[e] * GFN_NBR_MAX + m->pb_j[e]] += tb->d_log_pb[e];
        }
    (set ? gfn_policy_backward_set : gfn_policy_backward)(m->pb, m->d_logp, NULL);
}

static void backward_flow(gfn_model *m, const gfn_traj_batch *tb, int set)
{
    for (int b = 0; b < tb->B; b++)
        for (int t = 0; t < tb->len[b]; t++)
            m->flow_d[m->flow_row[SI(tb, b, t)]] = tb->d_log_flow[SI(tb, b, t)];
    (set ? gfn_mlp_backward_set : gfn_mlp_backward)(m->flow, m->n_flow, m->flow_d, NULL);
}

/* set = 1: each network reached overwrites its gradient slice; the segments not
 * reached are zeroed. */
static void model_backward(gfn_model *m, const gfn_traj_batch *tb, unsigned what, int set)
{
    unsigned fwd = what & ~(unsigned)GFN_FILL_LOG_Z;
    /* FM rows exist only if the forward filled FM; PF alone needs PF or FM. */
    GFN_ASSERT(!(fwd & GFN_FILL_FM) || (m->last_what & GFN_FILL_FM));
    GFN_ASSERT(!(fwd & GFN_FILL_PF) || (m->last_what & (GFN_FILL_PF | GFN_FILL_FM)));
    GFN_ASSERT(!(fwd & GFN_FILL_PB) || (m->last_what & GFN_FILL_PB));
    GFN_ASSERT(!(fwd & GFN_FILL_FLOW) || (m->last_what & GFN_FILL_FLOW));
    unsigned reached = 0;
    if (fwd & (GFN_FILL_PF | GFN_FILL_FM)) {
        backward_pf(m, tb, (fwd & GFN_FILL_PF) != 0, (fwd & GFN_FILL_FM) != 0, set);
        reached |= GFN_SEG_PF;
    }
    if (fwd & GFN_FILL_PB) {
        backward_pb(m, tb, set);
        reached |= GFN_SEG_PB;
    }
    if (fwd & GFN_FILL_FLOW) {
        backward_flow(m, tb, set);
        reached |= GFN_SEG_FLOW;
    }
    if (what & GFN_FILL_LOG_Z) {
        double *g = &m->grads[m->off[SEG_LOG_Z]];
        *g = set ? tb->d_log_z : *g + tb->d_log_z;
        reached |= GFN_SEG_LOG_Z;
    }
    if (set)
        gfn_model_zero_grad(m, GFN_SEG_ALL & ~reached);
}

void gfn_model_backward(gfn_model *m, const gfn_traj_batch *tb, unsigned what)
{
    model_backward(m, tb, what, 0);
}

void gfn_model_backward_set(gfn_model *m, const gfn_traj_batch *tb, unsigned what)
{
    model_backward(m, tb, what, 1);
}

void gfn_model_zero_grad(gfn_model *m, unsigned seg_mask)
{
    for (int s = 0; s < 4; s++)
        if (seg_mask & (1u << s))
            memset(m->grads + m->off[s], 0, m->cnt[s] * sizeof(double));
}

double gfn_model_step(gfn_model *m, unsigned seg_mask, int *status)
{
    double norm = gfn_adam_step(&m->adam, m->params, m->grads, seg_mask);
    int ok = isfinite(norm) && m->adam.params_finite;
    if (!m->adam.mirror32) { /* else the step itself wrote the float weights */
        if (seg_mask & GFN_SEG_PF)
            gfn_policy_params_changed(m->pf);
        if (seg_mask & GFN_SEG_PB)
            gfn_policy_params_changed(m->pb);
        if ((seg_mask & GFN_SEG_FLOW) && m->flow)
            gfn_mlp_params_changed(m->flow);
    }
    if (status)
        *status = ok ? GFN_OK : GFN_ENONFINITE;
    return norm;
}
