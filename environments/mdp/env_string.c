/* env_string.c - string MDPs over A letters, length n: "pa" (prepend or append a
 * letter) and "ar" (append only).
 *
 * Level L holds the A^L strings of length L; a string's rank is its base-A value
 * with the first letter most significant, rank(s) = sum_i s_i A^(L-1-i).  The
 * terminals are the full strings (terminal rank = the same base-A value); a full
 * string's only child is its terminal copy (STOP).
 *
 * pa: children of s (L < n) are c+s for every c, then s+c for every c whose s+c
 * differs from c+s.  c+s = s+c' only when c = c' and s = c^L (the empty string
 * included), so those appends map onto the prepend child.  Parents are s[1:] and,
 * when different, s[:-1] (equal exactly when s is constant, e.g. one letter).
 * ar: children s+c, parent s[:-1].
 * Forward actions: STOP, prepend c (A, pa only), append c (A); backward actions:
 * UNSTOP, delete first (pa only), delete last.
 * Features: left-aligned one-hot, f[i*A + s_i] = 1, zero padded to n*A.
 */
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "env_build.h"
#include "env_internal.h"

static int is_pa(const gfn_env *env) { return env->ops->mdp[0] == 'p'; }

static int64_t str_rank(const gfn_env *env, const gfn_state *s)
{
    int64_t r = 0;
    for (int i = 0; i < s->level; i++)
        r = r * env->A + s->v[i];
    return r;
}

static void str_unrank(const gfn_env *env, int level, int64_t rank, gfn_state *s)
{
    s->level = (uint16_t)level;
    for (int i = level - 1; i >= 0; i--) {
        s->v[i] = (uint8_t)(rank % env->A);
        rank /= env->A;
    }
}

static void str_unrank_terminal(const gfn_env *env, int64_t rank, gfn_state *x)
{
    str_unrank(env, env->n, rank, x);
    x->term = 1;
}

/* 1 when s is c^L for its own first letter c (the empty string counts for every c). */
static int is_constant(const gfn_state *s, int c)
{
    for (int i = 0; i < s->level; i++)
        if (s->v[i] != c)
            return 0;
    return 1;
}

static void prepend(const gfn_state *s, int c, gfn_state *out)
{
    memset(out, 0, sizeof *out);
    out->level = (uint16_t)(s->level + 1);
    out->v[0] = (uint8_t)c;
    memcpy(out->v + 1, s->v, s->level);
}

static void append(const gfn_state *s, int c, gfn_state *out)
{
    *out = *s;
    out->v[s->level] = (uint8_t)c;
    out->level = (uint16_t)(s->level + 1);
}

static int str_children(const gfn_env *env, const gfn_state *s, gfn_state *out)
{
    if (s->level == env->n) {
        out[0] = *s;
        out[0].term = 1;
        return 1;
    }
    int k = 0;
    if (is_pa(env))
        for (int c = 0; c < env->A; c++)
            prepend(s, c, &out[k++]);
    for (int c = 0; c < env->A; c++)
        if (!is_pa(env) || !is_constant(s, c))
            append(s, c, &out[k++]);
    return k;
}

static void delete_first(const gfn_state *s, gfn_state *out)
{
    memset(out, 0, sizeof *out);
    out->level = (uint16_t)(s->level - 1);
    memcpy(out->v, s->v + 1, (size_t)s->level - 1);
}

static void delete_last(const gfn_state *s, gfn_state *out)
{
    *out = *s;
    out->level = (uint16_t)(s->level - 1);
    out->v[out->level] = 0;
}

static int str_parents(const gfn_env *env, const gfn_state *s, gfn_state *out)
{
    if (!is_pa(env)) {
        delete_last(s, &out[0]);
        return 1;
    }
    delete_first(s, &out[0]);
    if (is_constant(s, s->v[0]))
        return 1;
    delete_last(s, &out[1]);
    return 2;
}

static void str_fwd_action_map(const gfn_env *env, const gfn_state *s, int8_t *child_of)
{
    if (s->level == env->n) {
        child_of[0] = 0; /* STOP */
        return;
    }
    int A = env->A;
    if (!is_pa(env)) {
        for (int c = 0; c < A; c++)
            child_of[1 + c] = (int8_t)c;
        return;
    }
    int k = A;
    for (int c = 0; c < A; c++) {
        child_of[1 + c] = (int8_t)c;
        child_of[1 + A + c] = is_constant(s, c) ? (int8_t)c : (int8_t)k++;
    }
}

static void str_bwd_action_map(const gfn_env *env, const gfn_state *s, int8_t *parent_of)
{
    if (s->term) {
        parent_of[0] = 0; /* UNSTOP */
        return;
    }
    if (s->level == 0)
        return;
    if (!is_pa(env)) {
        parent_of[1] = 0;
        return;
    }
    parent_of[1] = 0;
    parent_of[2] = is_constant(s, s->v[0]) ? 0 : 1;
}

static void str_features(const gfn_env *env, const gfn_state *s, double *out)
{
    for (int i = 0; i < s->level; i++)
        out[i * env->A + s->v[i]] = 1.0;
}

static int is_substring(const uint8_t *c, int lc, const uint8_t *x, int lx)
{
    for (int i = 0; i + lc <= lx; i++)
        if (memcmp(x + i, c, (size_t)lc) == 0)
            return 1;
    return 0;
}

static int str_reachable(const gfn_env *env, const gfn_state *c, const gfn_state *x)
{
    if (c->level > x->level)
        return 0;
    if (is_pa(env))
        return is_substring(c->v, c->level, x->v, x->level);
    return memcmp(c->v, x->v, c->level) == 0;
}

/* pa: every distinct substring once (its first occurrence); ar: every prefix. */
static void str_for_each_ancestor(const gfn_env *env, const gfn_state *x,
                                  void (*fn)(const gfn_state *c, void *ctx), void *ctx)
{
    gfn_state c;
    memset(&c, 0, sizeof c);
    fn(&c, ctx);
    for (int len = 1; len <= x->level; len++) {
        int starts = is_pa(env) ? x->level - len + 1 : 1;
        for (int i = 0; i < starts; i++) {
            if (is_substring(x->v + i, len, x->v, i + len - 1))
                continue; /* occurred already at an earlier start */
            memset(&c, 0, sizeof c);
            c.level = (uint16_t)len;
            memcpy(c.v, x->v + i, (size_t)len);
            fn(&c, ctx);
        }
    }
}

/* Levenshtein distance with unit costs, two rolling rows. */
static double str_distance(const gfn_env *env, const gfn_state *x, const gfn_state *y)
{
    (void)env;
    int m = x->level, n = y->level;
    int prev[GFN_STATE_MAX + 1], cur[GFN_STATE_MAX + 1];
    for (int j = 0; j <= n; j++)
        prev[j] = j;
    for (int i = 1; i <= m; i++) {
        cur[0] = i;
        for (int j = 1; j <= n; j++) {
            int sub = prev[j - 1] + (x->v[i - 1] != y->v[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            int best = sub < del ? sub : del;
            cur[j] = best < ins ? best : ins;
        }
        memcpy(prev, cur, sizeof(int) * (size_t)(n + 1));
    }
    return prev[n];
}

static void str_format(const gfn_env *env, const gfn_state *s, char *buf, int cap)
{
    int k = 0;
    for (int i = 0; i < s->level && k < cap - 1; i++)
        buf[k++] = env->letters[s->v[i]];
    if (s->term && k < cap - 1)
        buf[k++] = '.';
    buf[k] = '\0';
}

static const gfn__env_ops PA_OPS = {
    "pa", str_rank, str_rank, str_unrank, str_unrank_terminal, str_children, str_parents,
    str_fwd_action_map, str_bwd_action_map, str_features, str_reachable,
    str_for_each_ancestor, str_distance, str_format,
};

static const gfn__env_ops AR_OPS = {
    "ar", str_rank, str_rank, str_unrank, str_unrank_terminal, str_children, str_parents,
    str_fwd_action_map, str_bwd_action_map, str_features, str_reachable,
    str_for_each_ancestor, str_distance, str_format,
};

gfn_env *gfn_env_string_alloc(const char *name, const char *mdp, int A, int n,
                              const char *letters, gfn_error *err)
{
    const gfn__env_ops *ops = NULL;
    if (strcmp(mdp, "pa") == 0)
        ops = &PA_OPS;
    else if (strcmp(mdp, "ar") == 0)
        ops = &AR_OPS;
    if (!ops) {
        gfn_error_set(err, GFN_EVALUE, "task '%s': mdp '%s' is not a string MDP (pa or ar)",
                      name, mdp);
        return NULL;
    }
    double total = 1.0;
    for (int i = 0; i < n; i++)
        total *= A;
    if (A < 1 || A > 20 || n < 1 || n > GFN_STATE_MAX || total > 1099511627776.0) {
        gfn_error_set(err, GFN_EVALUE,
                      "task '%s': alphabet size %d and length %d out of range "
                      "(expected 1 <= alphabet <= 20, 1 <= n <= %d, alphabet^n <= 2^40)",
                      name, A, n, GFN_STATE_MAX);
        return NULL;
    }
    if (!letters || (int)strlen(letters) != A || A >= GFN__ENV_LETTERS_MAX) {
        gfn_error_set(err, GFN_EVALUE, "task '%s': expected %d letters, got '%s'", name, A,
                      letters ? letters : "(null)");
        return NULL;
    }
    gfn_env *env = gfn__env_alloc(name, ops, n, err);
    if (!env)
        return NULL;
    env->pow = malloc(sizeof *env->pow * ((size_t)n + 1));
    if (!env->pow) {
        gfn_env_free(env);
        gfn_error_set(err, GFN_ENOMEM, "out of memory building environment '%s'", name);
        return NULL;
    }
    snprintf(env->letters, sizeof env->letters, "%s", letters);
    env->A = A;
    env->n = n;
    env->pow[0] = 1;
    for (int k = 1; k <= n; k++)
        env->pow[k] = env->pow[k - 1] * A;
    for (int l = 0; l <= n; l++)
        env->level_count[l] = env->pow[l];
    env->n_terminals = env->pow[n];
    env->n_fwd = ops == &PA_OPS ? 1 + 2 * A : 1 + A;
    env->n_bwd = ops == &PA_OPS ? 3 : 2;
    env->feature_dim = n * A;
    gfn__env_finish(env);
    return env;
}
