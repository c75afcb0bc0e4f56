/* guide.c - the substructure guide p_guide(c | s; x) of guided TB and its index;
 * the definitions are in guide.h:
 *     phi(c) = (S_c - [x seen] R(x)) / (N_c - [x seen]),  0 when the count is 0,
 *     p_guide(c | s) = max(phi(c), 1e-5)^temp / sum over the eligible children,
 * where S_c and N_c are the sum and count of the rewards of the seen x' that
 * contain c.  Both the index and the seen set are tables over the shared hash map
 * (environments/base/i64map.h) keyed by a non-negative 64-bit id (state id, or
 * terminal rank).
 */
#include "guide.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "i64map.h"

/* Entries of a table: a key's running sum and count. */
typedef struct {
    gfn_i64map map; /* key -> entry number (environments/base/i64map.h) */
    double *sum;    /* (room) */
    int64_t *count; /* (room) */
    int64_t n, room;
} table;

struct gfn_guide {
    const gfn_env *env;
    double temperature;
    table index; /* state id -> (sum, count) of the rewards of seen x' containing it */
    table seen;  /* terminal rank -> (R(x), 1) */
};

/* ---- tables over the shared hash map ---------------------------------------- */

/* The entry of key, or NULL. */
static int64_t table_find(const table *t, int64_t key)
{
    const int64_t *e = gfn_i64map_find(&t->map, key);
    return e ? *e : -1;
}

/* Makes room for `more` new keys without a further allocation. */
static int table_reserve(table *t, int64_t more)
{
    if (gfn_i64map_reserve(&t->map, more) != GFN_OK)
        return GFN_ENOMEM;
    if (t->n + more <= t->room)
        return GFN_OK;
    int64_t room = t->room ? t->room : 1024;
    while (room < t->n + more)
        room *= 2;
    double *s = realloc(t->sum, (size_t)room * sizeof *s);
    if (!s)
        return GFN_ENOMEM;
    t->sum = s;
    int64_t *c = realloc(t->count, (size_t)room * sizeof *c);
    if (!c)
        return GFN_ENOMEM;
    t->count = c;
    t->room = room;
    return GFN_OK;
}

static void table_add(table *t, int64_t key, double value)
{
    int fresh;
    int64_t *e = gfn_i64map_put(&t->map, key, &fresh);
    if (fresh) {
        GFN_ASSERT(t->n < t->room); /* reserved beforehand */
        *e = t->n++;
        t->sum[*e] = 0.0;
        t->count[*e] = 0;
    }
    t->count[*e]++;
    t->sum[*e] += value;
}

static void table_close(table *t)
{
    gfn_i64map_close(&t->map);
    free(t->sum);
    free(t->count);
}

/* ---- the guide -------------------------------------------------------------- */
gfn_guide *gfn_guide_alloc(const gfn_env *env, double temperature, gfn_error *err)
{
    if (!(temperature > 0.0) || !isfinite(temperature)) {
        gfn_error_set(err, GFN_EVALUE, "guide temperature = %g: expected a finite value > 0",
                      temperature);
        return NULL;
    }
    gfn_guide *g = calloc(1, sizeof *g);
    if (g) {
        gfn_i64map_init(&g->index.map);
        gfn_i64map_init(&g->seen.map);
    }
    if (!g || table_reserve(&g->index, 0) || table_reserve(&g->seen, 0)) {
        gfn_guide_free(g);
        gfn_error_set(err, GFN_ENOMEM, "guide: out of memory");
        return NULL;
    }
    g->env = env;
    g->temperature = temperature;
    return g;
}

void gfn_guide_free(gfn_guide *g)
{
    if (!g)
        return;
    table_close(&g->index);
    table_close(&g->seen);
    free(g);
}

int64_t gfn_guide_size(const gfn_guide *g)
{
    return g->seen.n;
}

static int64_t state_id(const gfn_env *env, const gfn_state *c)
{
    GFN_ASSERT(!c->term);
    return gfn_env_level_offset(env, c->level) + gfn_env_rank(env, c);
}

typedef struct {
    gfn_guide *g;
    double reward;
    int64_t n;
} add_ctx;

static void count_ancestor(const gfn_state *c, void *p)
{
    (void)c;
    ((add_ctx *)p)->n++;
}

static void add_ancestor(const gfn_state *c, void *p)
{
    add_ctx *a = p;
    table_add(&a->g->index, state_id(a->g->env, c), a->reward);
}

int gfn_guide_add(gfn_guide *g, const gfn_state *x, int *is_new, gfn_error *err)
{
    GFN_ASSERT(x->term);
    if (is_new)
        *is_new = 0;
    int64_t rank = gfn_env_rank(g->env, x);
    if (table_find(&g->seen, rank) >= 0)
        return GFN_OK;
    /* Count the ancestors first so that every allocation happens before the
     * index changes: a failure leaves the guide as it was. */
    add_ctx a = {g, gfn_env_reward(g->env, x), 0};
    gfn_env_for_each_ancestor(g->env, x, count_ancestor, &a);
    if (table_reserve(&g->index, a.n) || table_reserve(&g->seen, 1))
        return gfn_error_set(err, GFN_ENOMEM, "guide: out of memory at %lld seen x",
                             (long long)g->seen.n);
    gfn_env_for_each_ancestor(g->env, x, add_ancestor, &a);
    table_add(&g->seen, rank, a.reward);
    if (is_new)
        *is_new = 1;
    return GFN_OK;
}

/* phi of c for target x, c known to be an ancestor of x (or x's terminal copy). */
static double phi_of_ancestor(const gfn_guide *g, const gfn_state *c, const gfn_state *x)
{
    gfn_state nc = *c;
    nc.term = 0; /* a STOP child counts as its non-terminal copy */
    int64_t e = table_find(&g->index, state_id(g->env, &nc));
    if (e < 0)
        return 0.0;
    double sum = g->index.sum[e];
    int64_t count = g->index.count[e];
    int64_t xe = table_find(&g->seen, gfn_env_rank(g->env, x));
    if (xe >= 0) {
        /* x is seen and contains c, so its reward is in S_c: take it out. */
        sum -= g->seen.sum[xe];
        count--;
    }
    return count > 0 ? sum / (double)count : 0.0;
}

static int eligible(const gfn_env *env, const gfn_state *c, const gfn_state *x)
{
    if (c->term)
        return gfn_state_equal(c, x);
    return gfn_env_reachable(env, c, x);
}

double gfn_guide_phi(const gfn_guide *g, const gfn_state *c, const gfn_state *x)
{
    GFN_ASSERT(x->term);
    return eligible(g->env, c, x) ? phi_of_ancestor(g, c, x) : 0.0;
}

int gfn_guide_probs(const gfn_guide *g, const gfn_state *s, const gfn_state *x,
                    gfn_state *children, double *p)
{
    GFN_ASSERT(x->term && !s->term);
    int n = gfn_env_children(g->env, s, children);
    double logw[GFN_NBR_MAX], mx = -INFINITY;
    int any_phi = 0;
    for (int i = 0; i < n; i++) {
        if (!eligible(g->env, &children[i], x)) {
            logw[i] = -INFINITY;
            continue;
        }
        double phi = phi_of_ancestor(g, &children[i], x);
        any_phi |= phi > 0.0;
        logw[i] = g->temperature * log(fmax(phi, GFN_GUIDE_PHI_FLOOR));
    }
    for (int i = 0; i < n; i++) {
        if (!any_phi && isfinite(logw[i]))
            logw[i] = 0.0; /* every phi is 0: uniform over the eligible children */
        mx = fmax(mx, logw[i]);
    }
    GFN_ASSERT(isfinite(mx)); /* x must be reachable from s */
    double z = 0.0;
    for (int i = 0; i < n; i++)
        z += (p[i] = exp(logw[i] - mx));
    for (int i = 0; i < n; i++)
        p[i] /= z;
    return n;
}

int gfn_guide_resample(const gfn_guide *g, const gfn_state *x, gsl_rng *rng, gfn_traj_batch *tb,
                       int b, double *log_p, gfn_error *err)
{
    GFN_ASSERT(x->term && b >= 0 && b < tb->B_cap);
    gfn_state *row = tb->states + (size_t)b * (tb->T_max + 1);
    gfn_state children[GFN_NBR_MAX];
    double p[GFN_NBR_MAX], lp = 0.0;
    int t = 0;
    gfn_env_initial(g->env, &row[0]);
    while (!row[t].term) {
        if (t == tb->T_max)
            return gfn_error_set(err, GFN_EVALUE,
                                 "guide: a trajectory to x needs more than T_max = %d edges",
                                 tb->T_max);
        int n = gfn_guide_probs(g, &row[t], x, children, p);
        /* Inverse-CDF draw; the last eligible child absorbs rounding. */
        double u = gsl_rng_uniform(rng), acc = 0.0;
        int pick = -1;
        for (int i = 0; i < n; i++) {
            if (p[i] <= 0.0)
                continue;
            pick = i;
            acc += p[i];
            if (u < acc)
                break;
        }
        GFN_ASSERT(pick >= 0);
        lp += log(p[pick]);
        row[++t] = children[pick];
    }
    GFN_ASSERT(gfn_state_equal(&row[t], x));
    tb->len[b] = t;
    tb->x_rank[b] = gfn_env_rank(g->env, x);
    tb->log_reward[b] = log(gfn_env_reward(g->env, x));
    tb->log_guide[b] = lp;
    *log_p = lp;
    return GFN_OK;
}

int gfn_guide_score(const gfn_guide *g, gfn_traj_batch *tb, int b, double *log_p,
                    gfn_error *err)
{
    GFN_ASSERT(b >= 0 && b < tb->B_cap);
    const gfn_state *row = tb->states + (size_t)b * (tb->T_max + 1);
    const int T = tb->len[b];
    const gfn_state *x = &row[T];
    if (!x->term)
        return gfn_error_set(err, GFN_EVALUE, "guide: trajectory %d does not end in a terminal",
                             b);
    gfn_state children[GFN_NBR_MAX];
    double p[GFN_NBR_MAX], lp = 0.0;
    for (int t = 0; t < T; t++) {
        int n = gfn_guide_probs(g, &row[t], x, children, p), k = 0;
        while (k < n && !gfn_state_equal(&children[k], &row[t + 1]))
            k++;
        if (k == n || p[k] <= 0.0) {
            char buf[128];
            gfn_env_format(g->env, &row[t + 1], buf, sizeof buf);
            return gfn_error_set(err, GFN_EVALUE,
                                 "guide: step %d of trajectory %d (to %s) is not an eligible "
                                 "move towards its terminal", t, b, buf);
        }
        lp += log(p[k]);
    }
    tb->log_guide[b] = lp;
    *log_p = lp;
    return GFN_OK;
}
