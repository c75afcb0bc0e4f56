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
    int keep_T;        /* > 0: keep mode for trajectories of up to keep_T edges */
    int *rows;         /* (B_cap, keep_T) policy row of each edge's evaluated state */
    int kept;          /* the last batch was kept (rows valid) */
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
    free(s->rows);
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
        int r0 = 0; /* policy row of this chunk's first state */
        if (s->kept && tb->len[s->active[c0]] > 0)
            r0 = gfn_policy_forward_logp_append(p, m, s->cur + c0);
        else
            gfn_policy_forward_logp(p, m, s->cur + c0);
        const double *lp = gfn_policy_logp(p);
        for (int k = 0; k < m; k++) {
            int i = r0 + k, b = s->active[c0 + k];
            int j = draw_step(lp + (size_t)i * GFN_NBR_MAX, gfn_policy_n_nbr(p, i), epsilon, rng);
            const gfn_state *next = &gfn_policy_nbrs(p, i)[j];
            if (s->kept)
                s->rows[(size_t)b * s->keep_T + tb->len[b]] = i;
            int t = ++tb->len[b];
            if (t > tb->T_max)
                return gfn_error_set(err, GFN_EVALUE,
                                     "sampler: trajectory longer than T_max = %d edges", tb->T_max);
            *traj_state(tb, b, t) = *next;
            int done = fwd ? next->term : (next->level == 0 && !next->term);
            if (!done) {
                s->active[kept] = b;
                s->cur[kept] = *next; /* kept <= c0 + k: never overwrites an unread row */
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

/* Keep this batch's evaluations when the policy can append and hold them all. */
static void start_keep(gfn_sampler *s, const gfn_policy *p, int B, const gfn_traj_batch *tb)
{
    s->kept = s->keep_T > 0 && tb->T_max <= s->keep_T && gfn_policy_can_append(p) &&
              (int64_t)B * tb->T_max <= gfn_policy_row_cap(p);
}

int gfn_sampler_keep(gfn_sampler *s, int T_max, gfn_error *err)
{
    free(s->rows);
    s->rows = NULL;
    s->keep_T = 0;
    s->kept = 0;
    if (T_max < 1)
        return GFN_OK;
    if (!(s->rows = malloc((size_t)s->B_cap * (size_t)T_max * sizeof(int))))
        return gfn_error_set(err, GFN_ENOMEM, "sampler: out of memory");
    s->keep_T = T_max;
    return GFN_OK;
}

const int *gfn_sampler_rows(const gfn_sampler *s) { return s->kept ? s->rows : NULL; }
int gfn_sampler_rows_stride(const gfn_sampler *s) { return s->keep_T; }

int gfn_sampler_forward(gfn_sampler *s, gfn_policy *pf, double epsilon, gsl_rng *rng, int B,
                        gfn_traj_batch *tb, gfn_error *err)
{
    GFN_ASSERT(gfn_policy_get_dir(pf) == GFN_POLICY_FWD);
    int rc = check_batch(s, B, tb, err);
    if (rc)
        return rc;
    tb->B = B;
    start_keep(s, pf, B, tb);
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
    start_keep(s, pb, B, tb);
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
        /* The row of step k evaluated s_{len - k}, the end of edge len - 1 - k. */
        int *r = s->kept ? s->rows + (size_t)b * s->keep_T : NULL;
        for (int i = 0, j = tb->len[b] - 1; r && i < j; i++, j--) {
            int t = r[i];
            r[i] = r[j];
            r[j] = t;
        }
        set_reward(s->env, tb, b, traj_state(tb, b, tb->len[b]));
    }
    return GFN_OK;
}
