/* env_bag.c - multisets ("bags") of up to n letters over A letters.
 *
 * A state is its count vector v (v_c = copies of letter c); level = sum v.  Level
 * L holds C(L+A-1, A-1) bags, ranked in lexicographic order of v (first letter
 * most significant) through the composition counts of env.c:
 *   rank(v) = sum_i sum_{u < v_i} comp[A-1-i][L - v_0 - .. - v_{i-1} - u].
 * Terminals are the bags of size n (terminal rank = rank within level n); a full
 * bag's only child is its terminal copy.  Children: add one letter (A of them,
 * always distinct); parents: remove one letter present.
 * Forward actions STOP, add c; backward actions UNSTOP, remove c.
 * Features (A+2): the A counts, the largest count, and 1.0 when the largest
 * count >= big (7 in the paper's task).
 */
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "env_build.h"
#include "env_internal.h"

static int64_t bag_rank(const gfn_env *env, const gfn_state *s)
{
    return gfn__comp_rank(env, s->v, env->A, s->level);
}

static void bag_unrank(const gfn_env *env, int level, int64_t rank, gfn_state *s)
{
    s->level = (uint16_t)level;
    gfn__comp_unrank(env, rank, env->A, level, s->v);
}

static void bag_unrank_terminal(const gfn_env *env, int64_t rank, gfn_state *x)
{
    bag_unrank(env, env->n, rank, x);
    x->term = 1;
}

static int bag_children(const gfn_env *env, const gfn_state *s, gfn_state *out)
{
    if (s->level == env->n) {
        out[0] = *s;
        out[0].term = 1;
        return 1;
    }
    for (int c = 0; c < env->A; c++) {
        out[c] = *s;
        out[c].v[c]++;
        out[c].level++;
    }
    return env->A;
}

static int bag_parents(const gfn_env *env, const gfn_state *s, gfn_state *out)
{
    int k = 0;
    for (int c = 0; c < env->A; c++)
        if (s->v[c] > 0) {
            out[k] = *s;
            out[k].v[c]--;
            out[k].level--;
            k++;
        }
    return k;
}

static void bag_fwd_action_map(const gfn_env *env, const gfn_state *s, int8_t *child_of)
{
    if (s->level == env->n) {
        child_of[0] = 0;
        return;
    }
    for (int c = 0; c < env->A; c++)
        child_of[1 + c] = (int8_t)c;
}

static void bag_bwd_action_map(const gfn_env *env, const gfn_state *s, int8_t *parent_of)
{
    if (s->term) {
        parent_of[0] = 0;
        return;
    }
    int k = 0;
    for (int c = 0; c < env->A; c++)
        if (s->v[c] > 0)
            parent_of[1 + c] = (int8_t)k++;
}

static void bag_features(const gfn_env *env, const gfn_state *s, double *out)
{
    int mx = 0;
    for (int c = 0; c < env->A; c++) {
        out[c] = s->v[c];
        if (s->v[c] > mx)
            mx = s->v[c];
    }
    out[env->A] = mx;
    out[env->A + 1] = mx >= env->big ? 1.0 : 0.0;
}

/* n - common letters, with common = sum_c min(x_c, y_c). */
static double bag_distance(const gfn_env *env, const gfn_state *x, const gfn_state *y)
{
    int common = 0;
    for (int c = 0; c < env->A; c++)
        common += x->v[c] < y->v[c] ? x->v[c] : y->v[c];
    return env->n - common;
}

static void bag_format(const gfn_env *env, const gfn_state *s, char *buf, int cap)
{
    int k = 0;
    for (int c = 0; c < env->A; c++)
        for (int j = 0; j < s->v[c] && k < cap - 1; j++)
            buf[k++] = env->letters[c];
    if (s->term && k < cap - 1)
        buf[k++] = '.';
    buf[k] = '\0';
}

static const gfn__env_ops BAG_OPS = {
    "bag", bag_rank, bag_rank, bag_unrank, bag_unrank_terminal, bag_children, bag_parents,
    bag_fwd_action_map, bag_bwd_action_map, bag_features, gfn__env_dominated,
    gfn__env_for_each_dominated, bag_distance, bag_format,
};

gfn_env *gfn_env_bag_alloc(const char *name, int A, int n, int big, const char *letters,
                           gfn_error *err)
{
    if (A < 1 || A > GFN_STATE_MAX || n < 1 || n > 255) {
        gfn_error_set(err, GFN_EVALUE,
                      "task '%s': bag of %d letters over %d out of range "
                      "(expected 1 <= alphabet <= %d, 1 <= n <= 255)",
                      name, n, A, GFN_STATE_MAX);
        return NULL;
    }
    if (!letters || (int)strlen(letters) != A) {
        gfn_error_set(err, GFN_EVALUE, "task '%s': expected %d letters, got '%s'", name, A,
                      letters ? letters : "(null)");
        return NULL;
    }
    double total = 1.0; /* C(n+A-1, A-1): the number of full bags */
    for (int i = 1; i < A; i++)
        total = total * (n + i) / i;
    if (total > 1099511627776.0) {
        gfn_error_set(err, GFN_EVALUE, "task '%s': %.3g bags of %d letters over %d is too many "
                      "to enumerate (at most 2^40)", name, total, n, A);
        return NULL;
    }
    gfn_env *env = gfn__env_alloc(name, &BAG_OPS, n, err);
    if (!env)
        return NULL;
    if (gfn__comp_build(env, A, n, n, err) != GFN_OK) {
        gfn_env_free(env);
        return NULL;
    }
    snprintf(env->letters, sizeof env->letters, "%s", letters);
    env->A = A;
    env->n = n;
    env->big = big;
    for (int l = 0; l <= n; l++)
        env->level_count[l] = gfn__comp_count(env, A, l);
    env->n_terminals = env->level_count[n];
    env->n_fwd = 1 + A;
    env->n_bwd = 1 + A;
    env->feature_dim = A + 2;
    gfn__env_finish(env);
    return env;
}
