/* env_grid.c - the hypergrid {0..H-1}^D in the torchgfn convention.
 *
 * Every point is a non-terminal state and also has a terminal copy: its children
 * are the points with one coordinate below H-1 incremented (in coordinate order)
 * and then its terminal copy (STOP).  Level = sum of coordinates, 0..D(H-1).
 * Within a level points are ranked lexicographically (first coordinate most
 * significant) through the bounded composition counts of env.c; terminals by the
 * mixed-radix index rank(x) = sum_i x_i H^(D-1-i).
 * Forward actions: increment coordinate i (D), STOP; backward actions: decrement
 * coordinate i (D), UNSTOP.  Features: one-hot of each coordinate, f[i*H + x_i] = 1.
 */
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "env_build.h"
#include "env_internal.h"

static int64_t grid_rank(const gfn_env *env, const gfn_state *s)
{
    return gfn__comp_rank(env, s->v, env->A, s->level);
}

static int64_t grid_rank_terminal(const gfn_env *env, const gfn_state *x)
{
    int64_t r = 0;
    for (int i = 0; i < env->A; i++)
        r = r * env->n + x->v[i];
    return r;
}

static void grid_unrank(const gfn_env *env, int level, int64_t rank, gfn_state *s)
{
    s->level = (uint16_t)level;
    gfn__comp_unrank(env, rank, env->A, level, s->v);
}

static void grid_unrank_terminal(const gfn_env *env, int64_t rank, gfn_state *x)
{
    int sum = 0;
    for (int i = env->A - 1; i >= 0; i--) {
        x->v[i] = (uint8_t)(rank % env->n);
        sum += x->v[i];
        rank /= env->n;
    }
    x->level = (uint16_t)sum;
    x->term = 1;
}

static int grid_children(const gfn_env *env, const gfn_state *s, gfn_state *out)
{
    int k = 0;
    for (int i = 0; i < env->A; i++)
        if (s->v[i] < env->n - 1) {
            out[k] = *s;
            out[k].v[i]++;
            out[k].level++;
            k++;
        }
    out[k] = *s;
    out[k].term = 1;
    return k + 1;
}

static int grid_parents(const gfn_env *env, const gfn_state *s, gfn_state *out)
{
    int k = 0;
    for (int i = 0; i < env->A; i++)
        if (s->v[i] > 0) {
            out[k] = *s;
            out[k].v[i]--;
            out[k].level--;
            k++;
        }
    return k;
}

static void grid_fwd_action_map(const gfn_env *env, const gfn_state *s, int8_t *child_of)
{
    int k = 0;
    for (int i = 0; i < env->A; i++)
        if (s->v[i] < env->n - 1)
            child_of[i] = (int8_t)k++;
    child_of[env->A] = (int8_t)k; /* STOP */
}

static void grid_bwd_action_map(const gfn_env *env, const gfn_state *s, int8_t *parent_of)
{
    if (s->term) {
        parent_of[env->A] = 0; /* UNSTOP */
        return;
    }
    int k = 0;
    for (int i = 0; i < env->A; i++)
        if (s->v[i] > 0)
            parent_of[i] = (int8_t)k++;
}

static void grid_features(const gfn_env *env, const gfn_state *s, double *out)
{
    for (int i = 0; i < env->A; i++)
        out[i * env->n + s->v[i]] = 1.0;
}

static double grid_distance(const gfn_env *env, const gfn_state *x, const gfn_state *y)
{
    int d = 0;
    for (int i = 0; i < env->A; i++)
        d += x->v[i] > y->v[i] ? x->v[i] - y->v[i] : y->v[i] - x->v[i];
    return d;
}

static void grid_format(const gfn_env *env, const gfn_state *s, char *buf, int cap)
{
    int k = snprintf(buf, (size_t)cap, "(");
    for (int i = 0; i < env->A && k < cap; i++)
        k += snprintf(buf + k, (size_t)(cap - k), i ? ",%d" : "%d", s->v[i]);
    if (k < cap)
        snprintf(buf + k, (size_t)(cap - k), s->term ? ")." : ")");
}

static const gfn__env_ops GRID_OPS = {
    "grid", grid_rank, grid_rank_terminal, grid_unrank, grid_unrank_terminal, grid_children,
    grid_parents, grid_fwd_action_map, grid_bwd_action_map, grid_features, gfn__env_dominated,
    gfn__env_for_each_dominated, grid_distance, grid_format,
};

gfn_env *gfn_env_grid_alloc(const char *name, int D, int H, gfn_error *err)
{
    double total = 1.0;
    for (int i = 0; i < D; i++)
        total *= H;
    if (D < 1 || D > GFN_STATE_MAX || H < 2 || H > 255 || total > 4294967296.0) {
        gfn_error_set(err, GFN_EVALUE,
                      "task '%s': hypergrid dim %d, side %d out of range "
                      "(expected 1 <= dim <= %d, 2 <= side <= 255, side^dim <= 2^32)",
                      name, D, H, GFN_STATE_MAX);
        return NULL;
    }
    int max_level = D * (H - 1);
    gfn_env *env = gfn__env_alloc(name, &GRID_OPS, max_level, err);
    if (!env)
        return NULL;
    if (gfn__comp_build(env, D, max_level, H - 1, err) != GFN_OK) {
        gfn_env_free(env);
        return NULL;
    }
    env->A = D;
    env->n = H;
    for (int l = 0; l <= max_level; l++)
        env->level_count[l] = gfn__comp_count(env, D, l);
    env->n_terminals = (int64_t)total;
    env->n_fwd = D + 1;
    env->n_bwd = D + 1;
    env->feature_dim = D * H;
    gfn__env_finish(env);
    return env;
}
