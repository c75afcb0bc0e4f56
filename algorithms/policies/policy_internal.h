/* policy_internal.h - what policy.c shares with the one file per policy kind
 * (policy_sa.c, policy_ssr.c, policy_uniform.c): the policy object and the ops
 * table each kind fills.
 *
 * policy.c owns everything every kind has: the neighbours of each row, which
 * rows go through the networks (net_row), log P and log f per row, the row
 * capacity, the counters, and the reordering of those rows.  A kind owns its
 * networks and workspaces behind p->impl and fills log P / log f for the
 * network rows in its forward.
 */
#ifndef GFN_POLICY_INTERNAL_H
#define GFN_POLICY_INTERNAL_H

#include "policy.h"

#include "mlp.h"

/* gfn_policy_ops.flags */
enum {
    GFN__POLICY_NETWORK = 1,    /* rows go through networks (counted by gfn_policy_row_counts) */
    GFN__POLICY_BATCH_ONLY = 2  /* rows are laid out per batch: no append, no permute */
};

struct gfn_policy {
    const gfn_env *env;
    gfn_policy_dir dir;
    gfn_policy_config cfg;
    const gfn_policy_info *info;
    const struct gfn_policy_ops *ops;
    void *impl;                  /* the kind's own state */
    int feat_dim, n_act, max_nbr;
    int cap, n;                  /* state capacity and rows of the last forward */
    int no_flow;                 /* the last forward skipped rows with one neighbour */
    int n_net;                   /* states of the last forward that went through the networks */
    int64_t rows_fwd, rows_bwd;  /* network states evaluated, back-propagated, since alloc */
    size_t n_params;
    double *grads;               /* the bound gradient slice (n_params), or NULL */
    /* per-row results, (cap, GFN_NBR_MAX) unless noted */
    int *net_row;                /* (cap) network row of state i, -1 when skipped */
    int *n_nbr;                  /* (cap) */
    gfn_state *nbrs;
    double *logp, *logflow;
    int *perm_net;               /* (cap) gfn_policy_permute: old network row of each new one */
    void *scratch;               /* (cap rows of the widest per-row array) for permutes */
};

/* One kind of policy.  NULL entries do nothing (a kind without parameters). */
typedef struct gfn_policy_ops {
    unsigned flags; /* GFN__POLICY_* */
    /* Builds p->impl from p->cfg (networks, sizes) and sets p->n_params;
     * GFN_EVALUE for bad sizes.  destroy frees p->impl (and what it holds). */
    int (*create)(gfn_policy *p, gfn_error *err);
    void (*destroy)(gfn_policy *p);
    /* Workspaces for row_cap states (replacing smaller ones). */
    int (*reserve)(gfn_policy *p, int row_cap, gfn_error *err);
    void (*bind)(gfn_policy *p, double *params, double *grads);
    int (*set_f32)(gfn_policy *p, int on, gfn_error *err);
    void (*bind_f32)(gfn_policy *p, float *params32);
    void (*params_changed)(gfn_policy *p);
    void (*set_pool)(gfn_policy *p, gfn_pool *pool);
    void (*init_params)(gfn_policy *p, gsl_rng *rng);
    /* Rows [i0, i0 + n) of states (n), their neighbours and net_row already set;
     * network rows from r0 to p->n_net - 1 are new (the rows before are kept). */
    void (*forward)(gfn_policy *p, int i0, int r0, int n, const gfn_state *states);
    /* The rows of the last forward; set: overwrite the gradient slice. */
    void (*backward)(gfn_policy *p, const double *d_logp, const double *d_logflow, int set);
    /* After the common rows moved: network row i becomes old row perm_net[i],
     * i < k_net; old rows [0, hi_net) are the ones read. */
    void (*permute)(gfn_policy *p, int k_net, int hi_net);
} gfn_policy_ops;

extern const gfn_policy_ops gfn__policy_sa_ops;
extern const gfn_policy_ops gfn__policy_ssr_ops;
extern const gfn_policy_ops gfn__policy_uniform_ops;

/* widths = in, hidden x layers, out; GFN_EVALUE for a bad size. */
gfn_mlp *gfn__policy_make_mlp(int in, int hidden, int layers, int out, int rows, gfn_error *err);
/* base (cap rows of width bytes): row i becomes old row from[i], i < n, through
 * scratch; rows [0, hi) are the ones read. */
void gfn__policy_permute_rows(int n, const int *from, int hi, size_t width, void *base,
                              void *scratch);

#endif
