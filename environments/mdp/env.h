/* env.h - the task interface: an enumerable DAG of states with rewards.
 *
 * A task is a DAG: s_0 (the empty state) -> ... -> a full-size state -> its
 * terminal copy x (reached by STOP).  Hypergrid is the exception that proves the
 * rule: every point can STOP, so every non-terminal state has a terminal copy.
 * Non-terminal states are grouped in levels 0..n (size: string length, number of
 * letters in a bag, sum of grid coordinates); a state's children are in the next
 * level, or are its terminal copy.  Each level is ranked by a bijection to
 * 0..level_count-1, and terminals by a bijection to 0..terminal_count-1, so the
 * harness can enumerate the whole space, run dynamic programming in level order,
 * and index rewards by terminal rank.
 *
 * Children and parents are UNIQUE states: two actions that reach the same state
 * are one edge.  The SA policy's fixed action lists are mapped onto those unique
 * neighbours by gfn_env_fwd_action_map / gfn_env_bwd_action_map.
 *
 * An environment knows nothing of networks or files: the harness reads the data
 * files and builds a task through the registry in harness/task.h.
 */
#ifndef GFN_ENV_H
#define GFN_ENV_H

#include <stdint.h>

#include "status.h"

#define GFN_STATE_MAX 32 /* longest state vector: string length, bag letters, grid dims */
#define GFN_NBR_MAX 40   /* most unique children or parents of one state */
#define GFN_ACTION_MAX 48 /* longest fixed action list of an SA policy */

/* One state.  Plain data: copy with '=' and compare with gfn_state_equal. */
typedef struct {
    uint8_t term;               /* 1 for the terminal copy x, 0 otherwise */
    uint8_t pad;
    uint16_t level;             /* size of the state (level of the DAG) */
    uint8_t v[GFN_STATE_MAX];   /* letters (strings), counts per letter (bag),
                                   coordinates (hypergrid); unused entries are 0 */
} gfn_state;

int gfn_state_equal(const gfn_state *a, const gfn_state *b);

typedef struct gfn_env gfn_env; /* opaque */

/* ---- identity and sizes ------------------------------------------------ */
const char *gfn_env_name(const gfn_env *env);   /* "tfbind8", "bag", ... */
const char *gfn_env_mdp(const gfn_env *env);    /* "pa", "ar", "bag", "grid" */
int gfn_env_max_level(const gfn_env *env);      /* n: non-terminal levels are 0..n */
int64_t gfn_env_level_count(const gfn_env *env, int level);
int64_t gfn_env_state_count(const gfn_env *env);    /* all non-terminal states */
int64_t gfn_env_terminal_count(const gfn_env *env); /* |X| */

/* ---- ranking ----------------------------------------------------------- */
/* Rank of a non-terminal state within its level, or of a terminal among terminals. */
int64_t gfn_env_rank(const gfn_env *env, const gfn_state *s);
void gfn_env_unrank(const gfn_env *env, int level, int64_t rank, gfn_state *s);
void gfn_env_unrank_terminal(const gfn_env *env, int64_t rank, gfn_state *x);
/* First rank of each level in one global order of non-terminal states (level by level). */
int64_t gfn_env_level_offset(const gfn_env *env, int level);

/* ---- structure --------------------------------------------------------- */
void gfn_env_initial(const gfn_env *env, gfn_state *s0);
/* Unique children of s in a fixed order (terminal copy included); 0 for a terminal.
 * out has room for GFN_NBR_MAX states. */
int gfn_env_children(const gfn_env *env, const gfn_state *s, gfn_state *out);
/* Unique parents of s in a fixed order; 0 for s_0.  A terminal's one parent is
 * its non-terminal copy. */
int gfn_env_parents(const gfn_env *env, const gfn_state *s, gfn_state *out);

/* ---- SA action lists ---------------------------------------------------- */
int gfn_env_n_fwd_actions(const gfn_env *env); /* pa: STOP, prepend c.., append c..; bag: STOP, add c..;
                                                  grid: increment each coordinate, STOP */
int gfn_env_n_bwd_actions(const gfn_env *env); /* pa: UNSTOP, delete first, delete last; bag: UNSTOP,
                                                  remove c..; grid: decrement each coordinate, UNSTOP */
/* child_of[a] = index of the child reached by forward action a in the order of
 * gfn_env_children, or -1 when a is invalid at s.  child_of has n_fwd_actions entries. */
void gfn_env_fwd_action_map(const gfn_env *env, const gfn_state *s, int8_t *child_of);
/* parent_of[a] likewise for backward actions and gfn_env_parents. */
void gfn_env_bwd_action_map(const gfn_env *env, const gfn_state *s, int8_t *parent_of);

/* ---- features and rewards ------------------------------------------------ */
int gfn_env_feature_dim(const gfn_env *env);
/* out is (feature_dim).  A terminal x has the features of its non-terminal copy. */
void gfn_env_features(const gfn_env *env, const gfn_state *s, double *out);
/* Rewards of all terminals, indexed by terminal rank; (terminal_count). */
const double *gfn_env_rewards(const gfn_env *env);
double gfn_env_reward(const gfn_env *env, const gfn_state *x); /* x terminal (or its copy) */
int gfn_env_is_mode(const gfn_env *env, int64_t terminal_rank);
int64_t gfn_env_mode_count(const gfn_env *env);

/* ---- substructures (the guide) and distances (top-100 diversity) -------- */
/* 1 when terminal x is reachable from non-terminal c (pa: c is a substring of x;
 * ar: a prefix; bag: a sub-multiset; grid: c <= x coordinate-wise). */
int gfn_env_reachable(const gfn_env *env, const gfn_state *c, const gfn_state *x);
/* Calls fn once for each distinct non-terminal state from which x is reachable
 * (s_0 and x's own non-terminal copy included). */
void gfn_env_for_each_ancestor(const gfn_env *env, const gfn_state *x,
                               void (*fn)(const gfn_state *c, void *ctx), void *ctx);
/* Distance between terminals: Levenshtein (strings), n - common letters (bags), L1 (grid). */
double gfn_env_distance(const gfn_env *env, const gfn_state *x, const gfn_state *y);

/* Writes a readable form of s ("ACGT", "AAB..", "(1,2,0,3)") into buf. */
void gfn_env_format(const gfn_env *env, const gfn_state *s, char *buf, int cap);

void gfn_env_free(gfn_env *env); /* NULL is a no-op */

#endif
