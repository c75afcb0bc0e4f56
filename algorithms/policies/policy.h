/* policy.h - forward and backward policies over the unique neighbours of states.
 *
 * A policy of direction FWD is P_F(c | s) over the unique children c of s
 * (gfn_env_children order); of direction BWD it is P_B(p | s) over the unique
 * parents p (gfn_env_parents order).  Kinds (docs/method.md section 3):
 *   SA       an MLP maps features(s) to one logit per action of the env's fixed
 *            action list; invalid actions get -INFINITY; neighbour j collects the
 *            actions mapping to it:  log f(s, j) = LSE_{a -> j} logit_a,
 *            log P(j | s) = log f(s, j) - LSE_{valid a} logit_a.
 *   SSR      an encoder MLP maps features to embeddings z; a scorer MLP maps
 *            [z_s, z_j] to score(s, j) = log f(s, j);
 *            log P(j | s) = score(s, j) - LSE_k score(s, k).
 *   UNIFORM  log P(j | s) = -log(number of neighbours); log f = 0; no parameters.
 * log f(s, j) is the unnormalised log edge flow the FM objective uses.
 *
 * Each kind is one file (policy_sa.c, policy_ssr.c, policy_uniform.c) behind
 * the ops table of policy_internal.h, and one row of the registry below, which
 * gives its name (the training keys policy= and pb=), a summary for `gfnbench
 * list`, where it may be used, and its own training keys.
 *
 * Parameters live in a slice of a model's block (gfn_policy_bind); the policy owns
 * its workspaces, sized at creation for row_cap states.  Slice layout: SA, the
 * MLP's (mlp.h); SSR, the encoder MLP then the scorer MLP
 * (2 embed -> sc_hidden x sc_layers -> 1), each in mlp.h's layout.
 * Memory: SSR keeps (1 + max neighbours) encoder rows per state, so keep its
 * row_cap near the training batch (a few hundred states) and let
 * gfn_policy_logp_all chunk large evaluations; SA can take 4096 rows at once.
 * Results are deterministic for a given sequence of calls and batch sizes; the
 * same state in batches of different sizes may differ in the last bits (BLAS
 * picks kernels by matrix size).
 */
#ifndef GFN_POLICY_H
#define GFN_POLICY_H

#include <stddef.h>

#include <gsl/gsl_rng.h>

#include "env.h"
#include "pool.h"
#include "status.h"

/* The kinds, in registry order (gfn_policy_at(kind)->kind == kind). */
typedef enum { GFN_POLICY_SA, GFN_POLICY_SSR, GFN_POLICY_UNIFORM } gfn_policy_kind;
typedef enum { GFN_POLICY_FWD, GFN_POLICY_BWD } gfn_policy_dir;

/* ---- registry ------------------------------------------------------------ */

/* Where a user may choose a kind: as P_F (policy=NAME) or as P_B (pb=NAME). */
enum { GFN_POLICY_ROLE_PF = 1, GFN_POLICY_ROLE_PB = 2 };

/* A training key of a kind's own (read by the harness into gfn_policy_config). */
typedef struct {
    const char *name;
    const char *help;  /* one line */
} gfn_policy_key;

struct gfn_policy_ops; /* policy_internal.h */

typedef struct {
    const char *name;            /* "sa", "ssr", "uniform" */
    const char *summary;         /* for `gfnbench list`; lines separated by '\n' */
    gfn_policy_kind kind;
    unsigned roles;              /* GFN_POLICY_ROLE_* mask */
    const gfn_policy_key *keys;  /* its own keys, ended by {NULL}; NULL for none */
    int eval_rows;               /* states per chunk of an exact evaluation */
    const struct gfn_policy_ops *ops;
} gfn_policy_info;

int gfn_policy_count(void);
const gfn_policy_info *gfn_policy_at(int i);                  /* 0 <= i < count */
const gfn_policy_info *gfn_policy_find(const char *name);     /* NULL when unknown */
const gfn_policy_info *gfn_policy_info_of(gfn_policy_kind kind);
/* Like find, for a kind usable in role; otherwise GFN_EUNKNOWN listing those. */
int gfn_policy_lookup(const char *name, unsigned role, const gfn_policy_info **out,
                      gfn_error *err);
/* The names usable in role (a GFN_POLICY_ROLE_* mask), in registry order,
 * joined by sep, into buf (cap bytes, truncated but always terminated when
 * cap > 0); returns the length the full list needs, as snprintf. */
size_t gfn_policy_choices(unsigned role, const char *sep, char *buf, size_t cap);

/* ---- policies -------------------------------------------------------------- */

typedef struct {
    gfn_policy_kind kind;
    int hidden, layers;                /* SA: features -> hidden x layers -> n_actions */
    int enc_hidden, enc_layers, embed; /* SSR encoder: features -> enc_hidden x enc_layers -> embed */
    int sc_hidden, sc_layers;          /* SSR scorer: 2 embed -> sc_hidden x sc_layers -> 1 */
} gfn_policy_config;

typedef struct gfn_policy gfn_policy; /* opaque */

/* Builds a policy of cfg->kind for env in direction dir, able to evaluate up to
 * row_cap states per forward.  GFN_EVALUE for bad sizes. */
gfn_policy *gfn_policy_alloc(const gfn_env *env, gfn_policy_dir dir, const gfn_policy_config *cfg,
                             int row_cap, gfn_error *err);
void gfn_policy_free(gfn_policy *p); /* NULL is a no-op */
/* Grows the state capacity (outside the training loop). */
int gfn_policy_reserve(gfn_policy *p, int row_cap, gfn_error *err);
int gfn_policy_row_cap(const gfn_policy *p);
/* States that went through the networks since the policy was built: forward
 * (every evaluation: training, sampling, exact) and back-propagated.  Uniform
 * policies count none.  Work = per-state cost x (fwd + about 2 bwd). */
void gfn_policy_row_counts(const gfn_policy *p, int64_t *fwd, int64_t *bwd);
gfn_policy_kind gfn_policy_get_kind(const gfn_policy *p);
const gfn_policy_info *gfn_policy_get_info(const gfn_policy *p);
/* 1 when rows can be appended (gfn_policy_forward_logp_append) and reordered
 * (gfn_policy_permute): every kind (SSR lays the rows out again at the permute). */
int gfn_policy_can_append(const gfn_policy *p);
gfn_policy_dir gfn_policy_get_dir(const gfn_policy *p);

size_t gfn_policy_n_params(const gfn_policy *p);
/* params and grads are (n_params) slices; grads may be NULL (evaluation only). */
void gfn_policy_bind(gfn_policy *p, double *params, double *grads);
/* Float32 compute for the networks (SSR: its first scorer layer too); see mlp.h. */
int gfn_policy_set_f32(gfn_policy *p, int on, gfn_error *err);
/* Threads for the wide GEMMs (pool.h, NULL: none); results do not depend on it. */
void gfn_policy_set_pool(gfn_policy *p, gfn_pool *pool);
/* The bound parameters were written (float32 copies are refreshed at the next forward). */
void gfn_policy_params_changed(gfn_policy *p);
/* Float32 mode: the MLPs keep their float weights in params32 (n_params, the
 * layout of the parameter slice; see gfn_mlp_bind_f32). */
void gfn_policy_bind_f32(gfn_policy *p, float *params32);
/* nn.Linear initialisation of every MLP (SA: the net; SSR: encoder then scorer). */
void gfn_policy_init_params(gfn_policy *p, gsl_rng *rng);

/* Evaluates the policy at states (n), n <= row_cap, keeping what the backward
 * needs.  Afterwards, for row i: gfn_policy_n_nbr(p, i) neighbours, listed by
 * gfn_policy_nbrs(p, i), and the (n, GFN_NBR_MAX) arrays
 *   gfn_policy_logp(p)[i * GFN_NBR_MAX + j]     log P(nbr j | s_i)
 *   gfn_policy_logflow(p)[i * GFN_NBR_MAX + j]  log f(s_i, nbr j), unnormalised
 * with entries j >= n_nbr set to -INFINITY.  All SA/SSR network rows go through
 * each MLP in one batched call. */
void gfn_policy_forward(gfn_policy *p, int n, const gfn_state *states);
/* The same without log f: a state with a single neighbour has log P = 0 for
 * every parameter value (and so a zero gradient), so its row skips the
 * networks; logflow is NaN at such rows and not to be back-propagated.  The
 * other rows are filled as by gfn_policy_forward (to the last bits only when
 * BLAS picks the same kernels for the smaller batch). */
void gfn_policy_forward_logp(gfn_policy *p, int n, const gfn_state *states);
/* When gfn_policy_can_append: evaluates n more states after the rows held from the last
 * gfn_policy_forward_logp (or append), keeping those, so that one backward
 * can cover states evaluated step by step (a sampler's).  Returns the index of
 * the first new row; the held rows must fit the row capacity. */
int gfn_policy_forward_logp_append(gfn_policy *p, int n, const gfn_state *states);
/* When gfn_policy_can_append: reorders the rows held: row i becomes old row from[i] (from is
 * (n), entries < the rows held), network activations included, as if those
 * states had been evaluated in that order (to the bit when BLAS gives a row the
 * same bits whatever the other rows; see gfn_model_forward_kept).  n becomes the
 * number of rows held. */
void gfn_policy_permute(gfn_policy *p, int n, const int *from);
int gfn_policy_n_nbr(const gfn_policy *p, int i);
const gfn_state *gfn_policy_nbrs(const gfn_policy *p, int i); /* (n_nbr) */
const double *gfn_policy_logp(const gfn_policy *p);
const double *gfn_policy_logflow(const gfn_policy *p);
/* Index of state c among the neighbours of row i, or -1. */
int gfn_policy_find_nbr(const gfn_policy *p, int i, const gfn_state *c);

/* Back-propagates dL/dlogp and dL/dlogflow, each (n, GFN_NBR_MAX) for the n rows of
 * the last forward (either may be NULL; entries j >= n_nbr are ignored), ADDING into
 * the bound gradient slice.  No-op for UNIFORM. */
void gfn_policy_backward(gfn_policy *p, const double *d_logp, const double *d_logflow);
/* The same, but OVERWRITES the gradient slice, bit for bit as zeroing it first
 * and then adding would (the first backward of a step need not zero). */
void gfn_policy_backward_set(gfn_policy *p, const double *d_logp, const double *d_logflow);

/* Evaluation without gradients for any number of states, in chunks of row_cap:
 * n_nbr is (n), logp is (n, GFN_NBR_MAX) (entries j >= n_nbr are -INFINITY).
 * Overwrites the state kept for backward. */
void gfn_policy_logp_all(gfn_policy *p, int64_t n, const gfn_state *states, int *n_nbr,
                         double *logp);

#endif
