/* sampler.c - trajectories drawn from a policy with epsilon-uniform exploration.
 *
 * Forward step from state s with unique children c_1..c_K:
 *   P(c_j) = epsilon / K + (1 - epsilon) P_F(c_j | s).
 * Backward step from state s with unique parents p_1..p_K: P(p_j) = P_B(p_j | s).
 * A categorical draw inverts the cumulative sum of exp(log P) at one uniform.
 */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct gfn_sampler {
    const gfn_env *env;
    int B_cap;
    int *active;       /* (B_cap) indices of unfinished trajectories */
    gfn_state *cur;    /* (B_cap) their current states, contiguous for the policy */
};

gfn_sampler *gfn_sampler_alloc(const gfn_env *env, int B_cap, gfn_error *err)
{
    gfn_sampler *s = calloc(1, sizeof *s);
    if (s) {
        s->env = env;
        s->B_cap = B_cap;
        s->active = calloc((size_t)(B_cap > 0 ? B_cap : 1), sizeof(int));
        s->cur = calloc((size_t)(B_cap > 0 ? B_cap : 1), sizeof(gfn_state));
    }
    if (!s || !s->active || !s->cur) {
        gfn_sampler_free(s);
        gfn_error_set(err, GFN_ENOMEM, "sampler: out of memory");
        return NULL;
    }
    return s;
}

void gfn_sampler_free(gfn_sampler *s)
{
    if (!s)
        return;
    free(s->active);
    free(s->cur);
    free(s);
}

/* Index j with u < sum_{k <= j} exp(logp_k); the last possible one if rounding
 * leaves the cumulative sum below u. */
static int draw_categorical(const double *logp, int n, double u)
{
    double c = 0.0;
    int last = -1;
    for (int j = 0; j < n; j++) {
        if (logp[j] == -INFINITY)
            continue;
        c += exp(logp[j]);
        last = j;
        if (u < c)
            return j;
    }
    GFN_ASSERT(last >= 0);
    return last;
}

static int draw_step(const double *logp, int n, double epsilon, gsl_rng *rng)
{
    GFN_ASSERT(n >= 1);
    if (epsilon > 0.0 && gsl_rng_uniform(rng) < epsilon)
        return (int)gsl_rng_uniform_int(rng, (unsigned long)n);
    return draw_categorical(logp, n, gsl_rng_uniform(rng));
}

static gfn_state *traj_state(gfn_traj_batch *tb, int b, int t)
{
    return &tb->states[(size_t)b * (tb->T_max + 1) + t];
}

static void set_reward(const gfn_env *env, gfn_traj_batch *tb, int b, const gfn_state *x)
{
    tb->x_rank[b] = gfn_env_rank(env, x);
    tb->log_reward[b] = log(gfn_env_rewards(env)[tb->x_rank[b]]);
}

/* Advances every active trajectory by one step of policy p; removes finished ones.
 * dir FWD: finished when a terminal is reached; BWD: when s_0 is reached. */
static int advance(gfn_sampler *s, gfn_policy *p, double epsilon, gsl_rng *rng, gfn_traj_batch *tb,
                   int *n_active, gfn_error *err)
{
    int fwd = gfn_policy_get_dir(p) == GFN_POLICY_FWD;
    int cap = gfn_policy_row_cap(p), kept = 0;
    for (int c0 = 0; c0 < *n_active; c0 += cap) {
        int m = *n_active - c0 < cap ? *n_active - c0 : cap;
        gfn_policy_forward_logp(p, m, s->cur + c0);
        const double *lp = gfn_policy_logp(p);
        for (int i = 0; i < m; i++) {
            int b = s->active[c0 + i];
            int j = draw_step(lp + (size_t)i * GFN_NBR_MAX, gfn_policy_n_nbr(p, i), epsilon, rng);
            const gfn_state *next = &gfn_policy_nbrs(p, i)[j];
            int t = ++tb->len[b];
            if (t > tb->T_max)
                return gfn_error_set(err, GFN_EVALUE,
                                     "sampler: trajectory longer than T_max = %d edges", tb->T_max);
            *traj_state(tb, b, t) = *next;
            int done = fwd ? next->term : (next->level == 0 && !next->term);
            if (!done) {
                s->active[kept] = b;
                s->cur[kept] = *next; /* kept <= c0 + i: never overwrites an unread row */
                kept++;
            }
        }
    }
    *n_active = kept;
    return GFN_OK;
}

static int check_batch(const gfn_sampler *s, int B, const gfn_traj_batch *tb, gfn_error *err)
{
    if (B < 1 || B > s->B_cap || B > tb->B_cap)
        return gfn_error_set(err, GFN_EVALUE, "sampler: batch of %d trajectories, room for %d", B,
                             s->B_cap < tb->B_cap ? s->B_cap : tb->B_cap);
    return GFN_OK;
}

int gfn_sampler_forward(gfn_sampler *s, gfn_policy *pf, double epsilon, gsl_rng *rng, int B,
                        gfn_traj_batch *tb, gfn_error *err)
{
    GFN_ASSERT(gfn_policy_get_dir(pf) == GFN_POLICY_FWD);
    int rc = check_batch(s, B, tb, err);
    if (rc)
        return rc;
    tb->B = B;
    for (int b = 0; b < B; b++) {
        tb->len[b] = 0;
        gfn_env_initial(s->env, traj_state(tb, b, 0));
        s->active[b] = b;
        s->cur[b] = *traj_state(tb, b, 0);
    }
    int n = B;
    while (n > 0)
        if ((rc = advance(s, pf, epsilon, rng, tb, &n, err)))
            return rc;
    for (int b = 0; b < B; b++)
        set_reward(s->env, tb, b, traj_state(tb, b, tb->len[b]));
    return GFN_OK;
}

int gfn_sampler_backward(gfn_sampler *s, gfn_policy *pb, gsl_rng *rng, int B,
                         const int64_t *x_rank, gfn_traj_batch *tb, gfn_error *err)
{
    GFN_ASSERT(gfn_policy_get_dir(pb) == GFN_POLICY_BWD);
    int rc = check_batch(s, B, tb, err);
    if (rc)
        return rc;
    tb->B = B;
    for (int b = 0; b < B; b++) {
        if (x_rank[b] < 0 || x_rank[b] >= gfn_env_terminal_count(s->env))
            return gfn_error_set(err, GFN_EVALUE, "sampler: terminal rank %lld out of range",
                                 (long long)x_rank[b]);
        tb->len[b] = 0;
        gfn_env_unrank_terminal(s->env, x_rank[b], traj_state(tb, b, 0));
        s->active[b] = b;
        s->cur[b] = *traj_state(tb, b, 0);
    }
    int n = B;
    while (n > 0)
        if ((rc = advance(s, pb, 0.0, rng, tb, &n, err)))
            return rc;
    for (int b = 0; b < B; b++) {
        /* Built from x towards s_0: reverse into forward order. */
        for (int i = 0, j = tb->len[b]; i < j; i++, j--) {
            gfn_state t = *traj_state(tb, b, i);
            *traj_state(tb, b, i) = *traj_state(tb, b, j);
            *traj_state(tb, b, j) = t;
        }
        set_reward(s->env, tb, b, traj_state(tb, b, tb->len[b]));
    }
    return GFN_OK;
}
