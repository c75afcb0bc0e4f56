/* env_internal.h - what env.c shares with the per-MDP files env_string.c,
 * env_bag.c and env_grid.c: the environment record and its table of MDP
 * operations (a small vtable), plus the composition-count tables that rank bags
 * and grid points.
 *
 * env.c owns everything generic (names, level counts and offsets, rewards and
 * modes, dispatch); an MDP file fills in the operations and its own sizes.
 */
#ifndef GFN_ENV_INTERNAL_H
#define GFN_ENV_INTERNAL_H

#include <stdint.h>

#include "env.h"

#define GFN__ENV_NAME_MAX 32
#define GFN__ENV_LETTERS_MAX 64

/* One MDP family.  Every function receives a valid state of this env. */
typedef struct {
    const char *mdp; /* "pa", "ar", "bag", "grid" */
    int64_t (*rank)(const gfn_env *env, const gfn_state *s);            /* non-terminal, in level */
    int64_t (*rank_terminal)(const gfn_env *env, const gfn_state *x);
    void (*unrank)(const gfn_env *env, int level, int64_t rank, gfn_state *s);
    void (*unrank_terminal)(const gfn_env *env, int64_t rank, gfn_state *x);
    int (*children)(const gfn_env *env, const gfn_state *s, gfn_state *out);
    int (*parents)(const gfn_env *env, const gfn_state *s, gfn_state *out);
    void (*fwd_action_map)(const gfn_env *env, const gfn_state *s, int8_t *child_of);
    void (*bwd_action_map)(const gfn_env *env, const gfn_state *s, int8_t *parent_of);
    void (*features)(const gfn_env *env, const gfn_state *s, double *out);
    int (*reachable)(const gfn_env *env, const gfn_state *c, const gfn_state *x);
    void (*for_each_ancestor)(const gfn_env *env, const gfn_state *x,
                              void (*fn)(const gfn_state *c, void *ctx), void *ctx);
    double (*distance)(const gfn_env *env, const gfn_state *x, const gfn_state *y);
    void (*format)(const gfn_env *env, const gfn_state *s, char *buf, int cap);
} gfn__env_ops;

struct gfn_env {
    char name[GFN__ENV_NAME_MAX];
    const gfn__env_ops *ops;
    char letters[GFN__ENV_LETTERS_MAX]; /* one printable symbol per letter (strings, bag) */
    int A;          /* alphabet size (strings, bag) or number of dimensions D (grid) */
    int n;          /* string length, bag size; grid: side H */
    int max_level;  /* n for strings and bags, D*(H-1) for the grid */
    int big;        /* bag: the count from which the "big" feature is 1 */
    int n_fwd, n_bwd, feature_dim;
    int64_t *level_count;  /* (max_level + 1) */
    int64_t *level_offset; /* (max_level + 2): level_offset[max_level+1] = state count */
    int64_t n_terminals;
    int64_t *pow;          /* strings: A^k for k = 0..n */
    int64_t *comp;         /* bag, grid: composition counts, see gfn__comp_* */
    int comp_d, comp_s;    /* comp is (comp_d + 1, comp_s + 1), row-major */
    double *rewards;       /* (n_terminals), NULL until gfn_env_set_rewards */
    uint8_t *modes;        /* (n_terminals), 1 for a mode */
    int64_t n_modes;
};

/* Allocates an env with zeroed sizes and the given ops and name; the caller fills
 * A, n, max_level, n_fwd, n_bwd, feature_dim, level_count, n_terminals, then
 * calls gfn__env_finish.  NULL when out of memory (err filled). */
gfn_env *gfn__env_alloc(const char *name, const gfn__env_ops *ops, int max_level,
                        gfn_error *err);
/* Computes the level offsets from level_count. */
void gfn__env_finish(gfn_env *env);

/* Composition counts: comp[d][s] = number of d-tuples of integers in [0, bound]
 * summing to s, for d = 0..D and s = 0..S.  Ranking a tuple of a given sum in
 * lexicographic order (first entry most significant) is then a sum of counts. */
int gfn__comp_build(gfn_env *env, int D, int S, int bound, gfn_error *err);
int64_t gfn__comp_count(const gfn_env *env, int d, int s);
int64_t gfn__comp_rank(const gfn_env *env, const uint8_t *v, int D, int sum);
void gfn__comp_unrank(const gfn_env *env, int64_t rank, int D, int sum, uint8_t *v);

/* Bags and grid points are both count vectors v[0..A-1] ordered by domination:
 * x is reachable from c when c <= x entry-wise, and the ancestors of x are every
 * c <= x (an odometer over 0..x_i for each entry, level = sum). */
int gfn__env_dominated(const gfn_env *env, const gfn_state *c, const gfn_state *x);
void gfn__env_for_each_dominated(const gfn_env *env, const gfn_state *x,
                                 void (*fn)(const gfn_state *c, void *ctx), void *ctx);

#endif
