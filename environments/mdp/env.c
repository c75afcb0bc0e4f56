/* env.c - the generic half of the task interface (env.h): sizes, level offsets,
 * rewards and modes, and dispatch to the MDP operations of env_string.c,
 * env_bag.c and env_grid.c.
 *
 * Level offsets: non-terminal states are ordered level by level, so the global
 * index of state s is level_offset[level(s)] + rank(s), with
 * level_offset[l] = sum_{k<l} level_count[k].
 *
 * The composition tables used to rank bags and grid points live here too:
 * comp[d][s] = #{(v_1..v_d) in [0,B]^d : sum v = s}, built by the recurrence
 * comp[d][s] = sum_{u=0..min(B,s)} comp[d-1][s-u], comp[0][s] = [s == 0].
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "env_build.h"
#include "env_internal.h"

int gfn_state_equal(const gfn_state *a, const gfn_state *b)
{
    return a->term == b->term && a->level == b->level &&
           memcmp(a->v, b->v, sizeof a->v) == 0;
}

gfn_env *gfn__env_alloc(const char *name, const gfn__env_ops *ops, int max_level,
                        gfn_error *err)
{
    gfn_env *env = calloc(1, sizeof *env);
    if (env) {
        env->level_count = calloc((size_t)max_level + 1, sizeof *env->level_count);
        env->level_offset = calloc((size_t)max_level + 2, sizeof *env->level_offset);
    }
    if (!env || !env->level_count || !env->level_offset) {
        gfn_env_free(env);
        gfn_error_set(err, GFN_ENOMEM, "out of memory building environment '%s'", name);
        return NULL;
    }
    snprintf(env->name, sizeof env->name, "%s", name);
    env->ops = ops;
    env->max_level = max_level;
    return env;
}

void gfn__env_finish(gfn_env *env)
{
    env->level_offset[0] = 0;
    for (int l = 0; l <= env->max_level; l++)
        env->level_offset[l + 1] = env->level_offset[l] + env->level_count[l];
}

int gfn__comp_build(gfn_env *env, int D, int S, int bound, gfn_error *err)
{
    size_t cols = (size_t)S + 1;
    env->comp = calloc(((size_t)D + 1) * cols, sizeof *env->comp);
    if (!env->comp)
        return gfn_error_set(err, GFN_ENOMEM, "out of memory building rank tables of '%s'",
                             env->name);
    env->comp_d = D;
    env->comp_s = S;
    env->comp[0] = 1;
    for (int d = 1; d <= D; d++)
        for (int s = 0; s <= S; s++) {
            int64_t c = 0;
            for (int u = 0; u <= bound && u <= s; u++)
                c += env->comp[(size_t)(d - 1) * cols + (size_t)(s - u)];
            env->comp[(size_t)d * cols + (size_t)s] = c;
        }
    return GFN_OK;
}

int64_t gfn__comp_count(const gfn_env *env, int d, int s)
{
    if (s < 0 || s > env->comp_s || d < 0 || d > env->comp_d)
        return 0;
    return env->comp[(size_t)d * ((size_t)env->comp_s + 1) + (size_t)s];
}

/* v is (D); lexicographic rank among D-tuples with the same sum, first entry most
 * significant: every tuple whose first differing entry is smaller comes first. */
int64_t gfn__comp_rank(const gfn_env *env, const uint8_t *v, int D, int sum)
{
    int64_t r = 0;
    int rem = sum;
    for (int i = 0; i < D; i++) {
        for (int u = 0; u < v[i]; u++)
            r += gfn__comp_count(env, D - 1 - i, rem - u);
        rem -= v[i];
    }
    GFN_ASSERT_CMP(rem, ==, 0);
    return r;
}

void gfn__comp_unrank(const gfn_env *env, int64_t rank, int D, int sum, uint8_t *v)
{
    int rem = sum;
    for (int i = 0; i < D; i++) {
        int u = 0;
        for (;;) {
            int64_t c = gfn__comp_count(env, D - 1 - i, rem - u);
            if (rank < c)
                break;
            rank -= c;
            u++;
            GFN_ASSERT_CMP(u, <=, rem);
        }
        v[i] = (uint8_t)u;
        rem -= u;
    }
    GFN_ASSERT_CMP(rank, ==, 0);
}

/* ---- identity and sizes ------------------------------------------------ */
const char *gfn_env_name(const gfn_env *env) { return env->name; }
const char *gfn_env_mdp(const gfn_env *env) { return env->ops->mdp; }
int gfn_env_max_level(const gfn_env *env) { return env->max_level; }

int64_t gfn_env_level_count(const gfn_env *env, int level)
{
    GFN_ASSERT(level >= 0 && level <= env->max_level);
    return env->level_count[level];
}

int64_t gfn_env_state_count(const gfn_env *env) { return env->level_offset[env->max_level + 1]; }
int64_t gfn_env_terminal_count(const gfn_env *env) { return env->n_terminals; }

int64_t gfn_env_level_offset(const gfn_env *env, int level)
{
    GFN_ASSERT(level >= 0 && level <= env->max_level + 1);
    return env->level_offset[level];
}

/* ---- ranking ----------------------------------------------------------- */
int64_t gfn_env_rank(const gfn_env *env, const gfn_state *s)
{
    return s->term ? env->ops->rank_terminal(env, s) : env->ops->rank(env, s);
}

void gfn_env_unrank(const gfn_env *env, int level, int64_t rank, gfn_state *s)
{
    GFN_ASSERT(level >= 0 && level <= env->max_level);
    GFN_ASSERT(rank >= 0 && rank < env->level_count[level]);
    memset(s, 0, sizeof *s);
    env->ops->unrank(env, level, rank, s);
}

void gfn_env_unrank_terminal(const gfn_env *env, int64_t rank, gfn_state *x)
{
    GFN_ASSERT(rank >= 0 && rank < env->n_terminals);
    memset(x, 0, sizeof *x);
    env->ops->unrank_terminal(env, rank, x);
}

/* ---- structure --------------------------------------------------------- */
void gfn_env_initial(const gfn_env *env, gfn_state *s0)
{
    (void)env;
    memset(s0, 0, sizeof *s0);
}

int gfn_env_children(const gfn_env *env, const gfn_state *s, gfn_state *out)
{
    if (s->term)
        return 0;
    return env->ops->children(env, s, out);
}

int gfn_env_parents(const gfn_env *env, const gfn_state *s, gfn_state *out)
{
    if (s->term) {
        out[0] = *s;
        out[0].term = 0;
        return 1;
    }
    if (s->level == 0)
        return 0;
    return env->ops->parents(env, s, out);
}

/* ---- SA action lists ---------------------------------------------------- */
int gfn_env_n_fwd_actions(const gfn_env *env) { return env->n_fwd; }
int gfn_env_n_bwd_actions(const gfn_env *env) { return env->n_bwd; }

void gfn_env_fwd_action_map(const gfn_env *env, const gfn_state *s, int8_t *child_of)
{
    for (int a = 0; a < env->n_fwd; a++)
        child_of[a] = -1;
    if (!s->term)
        env->ops->fwd_action_map(env, s, child_of);
}

void gfn_env_bwd_action_map(const gfn_env *env, const gfn_state *s, int8_t *parent_of)
{
    for (int a = 0; a < env->n_bwd; a++)
        parent_of[a] = -1;
    env->ops->bwd_action_map(env, s, parent_of);
}

/* ---- features and rewards ------------------------------------------------ */
int gfn_env_feature_dim(const gfn_env *env) { return env->feature_dim; }

void gfn_env_features(const gfn_env *env, const gfn_state *s, double *out)
{
    for (int i = 0; i < env->feature_dim; i++)
        out[i] = 0.0;
    env->ops->features(env, s, out);
}

const double *gfn_env_rewards(const gfn_env *env) { return env->rewards; }

double gfn_env_reward(const gfn_env *env, const gfn_state *x)
{
    GFN_ASSERT(env->rewards != NULL);
    gfn_state t = *x;
    t.term = 1;
    return env->rewards[env->ops->rank_terminal(env, &t)];
}

int gfn_env_is_mode(const gfn_env *env, int64_t terminal_rank)
{
    GFN_ASSERT(terminal_rank >= 0 && terminal_rank < env->n_terminals);
    return env->modes ? env->modes[terminal_rank] != 0 : 0;
}

int64_t gfn_env_mode_count(const gfn_env *env) { return env->n_modes; }

int gfn_env_set_rewards(gfn_env *env, double *rewards, uint8_t *modes, gfn_error *err)
{
    free(env->rewards);
    free(env->modes);
    env->rewards = rewards;
    env->modes = modes;
    env->n_modes = 0;
    for (int64_t i = 0; i < env->n_terminals; i++) {
        if (!(isfinite(rewards[i]) && rewards[i] > 0.0)) {
            char buf[96];
            gfn_state x;
            gfn_env_unrank_terminal(env, i, &x);
            gfn_env_format(env, &x, buf, sizeof buf);
            return gfn_error_set(err, GFN_EVALUE,
                                 "task '%s': reward of %s is %g; rewards must be finite and > 0",
                                 env->name, buf, rewards[i]);
        }
        env->n_modes += modes[i] != 0;
    }
    return GFN_OK;
}

/* ---- substructures and distances ---------------------------------------- */
int gfn_env_reachable(const gfn_env *env, const gfn_state *c, const gfn_state *x)
{
    if (c->term) /* only x itself is reachable from a terminal */
        return c->level == x->level && memcmp(c->v, x->v, sizeof c->v) == 0;
    return env->ops->reachable(env, c, x);
}

void gfn_env_for_each_ancestor(const gfn_env *env, const gfn_state *x,
                               void (*fn)(const gfn_state *c, void *ctx), void *ctx)
{
    env->ops->for_each_ancestor(env, x, fn, ctx);
}

double gfn_env_distance(const gfn_env *env, const gfn_state *x, const gfn_state *y)
{
    return env->ops->distance(env, x, y);
}

void gfn_env_format(const gfn_env *env, const gfn_state *s, char *buf, int cap)
{
    if (cap <= 0)
        return;
    buf[0] = '\0';
    env->ops->format(env, s, buf, cap);
}

void gfn_env_free(gfn_env *env)
{
    if (!env)
        return;
    free(env->level_count);
    free(env->level_offset);
    free(env->pow);
    free(env->comp);
    free(env->rewards);
    free(env->modes);
    free(env);
}

int gfn__env_dominated(const gfn_env *env, const gfn_state *c, const gfn_state *x)
{
    for (int i = 0; i < env->A; i++)
        if (c->v[i] > x->v[i])
            return 0;
    return 1;
}

void gfn__env_for_each_dominated(const gfn_env *env, const gfn_state *x,
                                 void (*fn)(const gfn_state *c, void *ctx), void *ctx)
{
    gfn_state c;
    memset(&c, 0, sizeof c);
    for (;;) {
        fn(&c, ctx);
        int i = 0;
        while (i < env->A && c.v[i] == x->v[i]) {
            c.level = (uint16_t)(c.level - c.v[i]);
            c.v[i] = 0;
            i++;
        }
        if (i == env->A)
            return;
        c.v[i]++;
        c.level++;
    }
}
