/* eval.c - scoring samples, log-probabilities or a forward policy made elsewhere
 * with the metrics of a training run.  See eval.h.
 *
 * Texts are looked up in one open-addressing hash table per kind (terminals;
 * non-terminal states by their global index, level offset + rank), built by
 * enumerating the task.  A policy file gives log P_F on every edge; p_theta is
 * then the forward dynamic programme of exact.h,
 *     P(s_0) = 1,  P(s') = sum_s P(s) P_F(s' | s),  p_theta(x) = P(x),
 * over the same level order, with P_F read from the table instead of a network.
 */
#include "eval.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "ksum.h"
#include "metric_table.h"
#include "metrics.h"
#include "monitor.h"
#include "train.h"

/* ---- texts ------------------------------------------------------------------ */

/* The form of eval.h: gfn_env_format without parentheses and terminal dot. */
void gfn_eval_format_state(const gfn_env *env, const gfn_state *s, char *buf, int cap)
{
    char tmp[256];
    gfn_env_format(env, s, tmp, sizeof tmp);
    int k = 0;
    for (const char *c = tmp; *c && k < cap - 1; c++)
        if (*c != '(' && *c != ')' && !(*c == '.' && c[1] == '\0'))
            buf[k++] = *c;
    buf[k] = '\0';
}

void gfn_eval_format_x(const gfn_env *env, int64_t x, char *buf, int cap)
{
    gfn_state s;
    gfn_env_unrank_terminal(env, x, &s);
    gfn_eval_format_state(env, &s, buf, cap);
}

/* Accepts "(1,2)" for "1,2": drops one pair of enclosing parentheses, in place. */
static char *normalise(char *t)
{
    size_t n = strlen(t);
    if (n >= 2 && t[0] == '(' && t[n - 1] == ')') {
        t[n - 1] = '\0';
        return t + 1;
    }
    return t;
}

typedef struct {
    size_t cap;        /* slots, a power of two at least twice the entries */
    int64_t *slot;     /* (cap) entry index, -1 empty */
    size_t *off;       /* (n) offset of entry i's text in text */
    char *text;
    size_t text_len, text_cap;
} text_table;

static uint64_t hash_text(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a 64 */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void table_close(text_table *t)
{
    free(t->slot);
    free(t->off);
    free(t->text);
}

/* Entry i has text key; entries are added in index order 0..n-1. */
static int table_add(text_table *t, int64_t i, const char *key)
{
    size_t len = strlen(key) + 1;
    if (t->text_len + len > t->text_cap) {
        size_t c = t->text_cap ? 2 * t->text_cap : 4096;
        while (c < t->text_len + len)
            c *= 2;
        char *p = realloc(t->text, c);
        if (!p)
            return GFN_ENOMEM;
        t->text = p;
        t->text_cap = c;
    }
    memcpy(t->text + t->text_len, key, len);
    t->off[i] = t->text_len;
    t->text_len += len;
    size_t h = (size_t)hash_text(key) & (t->cap - 1);
    while (t->slot[h] >= 0)
        h = (h + 1) & (t->cap - 1);
    t->slot[h] = i;
    return GFN_OK;
}

static int64_t table_find(const text_table *t, const char *key)
{
    size_t h = (size_t)hash_text(key) & (t->cap - 1);
    while (t->slot[h] >= 0) {
        if (strcmp(t->text + t->off[t->slot[h]], key) == 0)
            return t->slot[h];
        h = (h + 1) & (t->cap - 1);
    }
    return -1;
}

static int table_init(text_table *t, int64_t n, gfn_error *err)
{
    memset(t, 0, sizeof *t);
    t->cap = 16;
    while (t->cap < 2 * (size_t)n)
        t->cap *= 2;
    t->slot = malloc(t->cap * sizeof *t->slot);
    t->off = malloc(((size_t)n + 1) * sizeof *t->off);
    if (!t->slot || !t->off) {
        table_close(t);
        return gfn_error_set(err, GFN_ENOMEM, "out of memory for %lld texts", (long long)n);
    }
    memset(t->slot, 0xff, t->cap * sizeof *t->slot);
    return GFN_OK;
}

static int terminal_table(const gfn_env *env, text_table *t, gfn_error *err)
{
    int64_t X = gfn_env_terminal_count(env);
    int rc = table_init(t, X, err);
    char buf[256];
    for (int64_t x = 0; !rc && x < X; x++) {
        gfn_eval_format_x(env, x, buf, sizeof buf);
        if (table_add(t, x, buf))
            rc = gfn_error_set(err, GFN_ENOMEM, "out of memory for the texts of x");
    }
    if (rc)
        table_close(t);
    return rc;
}

static int state_table(const gfn_env *env, text_table *t, gfn_error *err)
{
    int rc = table_init(t, gfn_env_state_count(env), err);
    char buf[256];
    gfn_state s;
    for (int L = 0; !rc && L <= gfn_env_max_level(env); L++)
        for (int64_t r = 0; !rc && r < gfn_env_level_count(env, L); r++) {
            gfn_env_unrank(env, L, r, &s);
            gfn_eval_format_state(env, &s, buf, sizeof buf);
            if (table_add(t, gfn_env_level_offset(env, L) + r, buf))
                rc = gfn_error_set(err, GFN_ENOMEM, "out of memory for the texts of states");
        }
    if (rc)
        table_close(t);
    return rc;
}

/* ---- line reading -------------------------------------------------------- */

typedef struct {
    FILE *f;
    const char *path;
    long line;
    char *buf;
    size_t cap;
    gfn_error *err;
    int rc; /* set when reading stopped on a NUL byte or a read error */
} line_reader;

static int reader_open(line_reader *r, const char *path, gfn_error *err)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->err = err;
    r->f = fopen(path, "r");
    if (!r->f)
        return gfn_error_set(err, GFN_EIO, "%s: cannot open for reading", path);
    return GFN_OK;
}

static void reader_close(line_reader *r)
{
    if (r->f)
        fclose(r->f);
    free(r->buf);
}

/* Next non-empty line split at tabs into at most n fields; returns the number of
 * fields, 0 at the end of the file or when r->rc is set (a read error, such as a
 * folder, or a NUL byte: the text after it would be dropped silently). */
static int reader_next(line_reader *r, char **field, int n)
{
    for (;;) {
        errno = 0;
        ssize_t len = getline(&r->buf, &r->cap, r->f);
        if (len < 0) {
            if (ferror(r->f))
                r->rc = gfn_error_set(r->err, GFN_EIO, "%s: cannot read: %s", r->path,
                                      strerror(errno ? errno : EIO));
            return 0;
        }
        r->line++;
        if (strlen(r->buf) != (size_t)len) {
            r->rc = gfn_error_set(r->err, GFN_EFORMAT, "%s:%ld: a NUL byte in the line "
                                  "(expected text)", r->path, r->line);
            return 0;
        }
        while (len > 0 && (r->buf[len - 1] == '\n' || r->buf[len - 1] == '\r'))
            r->buf[--len] = '\0';
        if (len == 0)
            continue;
        int k = 0;
        char *p = r->buf;
        field[k++] = p;
        while ((p = strchr(p, '\t')) != NULL) {
            *p++ = '\0';
            if (k == n)
                return n + 1; /* too many */
            field[k++] = p;
        }
        return k;
    }
}

static int parse_double(const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return end != s && *end == '\0' && !isnan(*out);
}

/* ---- configuration ----------------------------------------------------------- */

void gfn_eval_config_default(gfn_eval_config *cfg)
{
    cfg->tol = 1e-6;
    cfg->log_z = NAN;
    cfg->window = 500;
    cfg->top_k = 100;
    cfg->ad_draws = 100000;
    cfg->seed = 0;
}

#define GET(call)           \
    do {                    \
        int rc_ = (call);   \
        if (rc_)            \
            return rc_;     \
    } while (0)

int gfn_eval_config_read(gfn_eval_config *cfg, gfn_params *p, gfn_error *err)
{
    long v;
    GET(gfn_params_get_double(p, "tol", cfg->tol, &cfg->tol, err));
    GET(gfn_params_check_range(p, "tol", cfg->tol, 0, 1, err));
    GET(gfn_params_get_double(p, "log_z", cfg->log_z, &cfg->log_z, err));
    GET(gfn_params_get_int(p, "window", cfg->window, &cfg->window, err));
    GET(gfn_params_check_range(p, "window", (double)cfg->window, 1, 1e15, err));
    GET(gfn_params_get_int(p, "top_k", cfg->top_k, &cfg->top_k, err));
    GET(gfn_params_check_range(p, "top_k", (double)cfg->top_k, 1, 1e9, err));
    GET(gfn_params_get_int(p, "ad_draws", (long)cfg->ad_draws, &v, err));
    GET(gfn_params_check_range(p, "ad_draws", (double)v, 1, 1e8, err));
    cfg->ad_draws = (size_t)v;
    GET(gfn_params_get_int(p, "seed", (long)cfg->seed, &v, err));
    GET(gfn_params_check_range(p, "seed", (double)v, 0, 4294967295.0, err));
    cfg->seed = (unsigned long)v;
    return GFN_OK;
}

static int set_num(gfn_params *out, const char *key, double v, gfn_error *err)
{
    char buf[64];
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, sizeof buf, "%.0f", v);
    else
        snprintf(buf, sizeof buf, "%.10g", v);
    return gfn_params_set(out, key, buf, "", err);
}

/* ---- samples --------------------------------------------------------------- */

typedef struct {
    int64_t *x;
    long *round;
    size_t n, cap;
    int rounds;        /* 1: every row has a round */
} sample_list;

static int read_samples(const gfn_env *env, const char *path, sample_list *s, gfn_error *err)
{
    text_table t;
    GET(terminal_table(env, &t, err));
    line_reader r;
    int rc = reader_open(&r, path, err);
    char *f[3];
    int k;
    while (!rc && (k = reader_next(&r, f, 2)) > 0) {
        if (k > 2) {
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%ld: expected x or x<TAB>round, got more fields",
                               path, r.line);
            break;
        }
        int64_t x = table_find(&t, normalise(f[0]));
        if (x < 0) {
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%ld: '%s' is not an x of task %s (%s form: "
                               "see gfnbench eval --help)", path, r.line, f[0], gfn_env_name(env),
                               gfn_env_mdp(env));
            break;
        }
        long round = 0;
        if (k == 2) {
            char *end;
            round = strtol(f[1], &end, 10);
            if (end == f[1] || *end || round < 0) {
                rc = gfn_error_set(err, GFN_EFORMAT, "%s:%ld: round '%s': expected an integer >= 0",
                                   path, r.line, f[1]);
                break;
            }
        }
        if (s->n == 0)
            s->rounds = k == 2;
        if (s->rounds != (k == 2)) {
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%ld: %s round, unlike the first line", path,
                               r.line, k == 2 ? "a" : "no");
            break;
        }
        if (s->n > 0 && round < s->round[s->n - 1]) {
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%ld: round %ld after round %ld (rounds must not "
                               "decrease)", path, r.line, round, s->round[s->n - 1]);
            break;
        }
        if (s->n == s->cap) {
            size_t c = s->cap ? 2 * s->cap : 1024;
            int64_t *nx = realloc(s->x, c * sizeof *nx);
            if (nx)
                s->x = nx;
            long *nr = realloc(s->round, c * sizeof *nr);
            if (nr)
                s->round = nr;
            if (!nx || !nr) {
                rc = gfn_error_set(err, GFN_ENOMEM, "%s: out of memory for the samples", path);
                break;
            }
            s->cap = c;
        }
        s->x[s->n] = x;
        s->round[s->n++] = round;
    }
    if (!rc)
        rc = r.rc;
    if (!rc && s->n == 0)
        rc = gfn_error_set(err, GFN_EFORMAT, "%s: no samples", path);
    reader_close(&r);
    table_close(&t);
    return rc;
}

static double env_distance(void *ctx, int64_t xa, int64_t xb)
{
    const gfn_env *env = ctx;
    gfn_state a, b;
    gfn_env_unrank_terminal(env, xa, &a);
    gfn_env_unrank_terminal(env, xb, &b);
    return gfn_env_distance(env, &a, &b);
}

/* Feeds the samples to a monitor round by round, as a training run does. */
static int monitor_feed(gfn_monitor *m, const gfn_env *env, const sample_list *s, gfn_error *err)
{
    const double *R = gfn_env_rewards(env);
    double *r = malloc(s->n * sizeof *r);
    int *mode = malloc(s->n * sizeof *mode);
    if (!r || !mode) {
        free(r);
        free(mode);
        return gfn_error_set(err, GFN_ENOMEM, "out of memory for the samples");
    }
    for (size_t i = 0; i < s->n; i++) {
        r[i] = R[s->x[i]];
        mode[i] = gfn_env_is_mode(env, s->x[i]);
    }
    int rc = GFN_OK;
    for (size_t a = 0, b; !rc && a < s->n; a = b) {
        for (b = a; b < s->n && s->round[b] == s->round[a]; b++)
            ;
        rc = gfn_monitor_add_samples(m, s->round[a], r + a, b - a, err);
        if (!rc)
            rc = gfn_monitor_add_x(m, s->x + a, r + a, mode + a, b - a, err);
    }
    free(r);
    free(mode);
    return rc;
}

static int sampled_metrics(const gfn_env *env, const sample_list *s, const gfn_eval_config *cfg,
                           gfn_params *out, gfn_error *err)
{
    size_t X = (size_t)gfn_env_terminal_count(env);
    gfn_reward_dist dist;
    GET(gfn_reward_dist_init(&dist, gfn_env_rewards(env), X, err));
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gfn_monitor_config mc;
    gfn_monitor_config_default(&mc);
    mc.window_rounds = cfg->window;
    mc.n_target_draws = cfg->ad_draws;
    mc.top_k = (int)cfg->top_k;
    gfn_monitor *m = NULL;
    int rc = GFN_OK;
    if (!rng)
        rc = gfn_error_set(err, GFN_ENOMEM, "out of memory");
    if (!rc) {
        gsl_rng_set(rng, cfg->seed ^ 0x2545f491UL);
        if (!(m = gfn_monitor_alloc(&mc, &dist, rng, err)))
            rc = err ? err->code : GFN_ENOMEM;
    }
    if (!rc)
        rc = monitor_feed(m, env, s, err);
    /* With rounds, the AD score is of the last round's samples as in training;
     * without, of all of them. */
    gfn_ad_result ad;
    if (!rc)
        rc = gfn_monitor_ad(m, s->rounds ? GFN_MONITOR_LATEST : GFN_MONITOR_WINDOW, &ad, err);
    if (!rc) {
        double top_r, top_d;
        gfn_monitor_top(m, env_distance, (void *)env, &top_r, &top_d);
        char key[64];
        rc = set_num(out, "samples", (double)s->n, err);
        if (!rc)
            rc = set_num(out, "sampled_mean_reward_pct", gfn_monitor_mean_reward_pct(m), err);
        if (!rc)
            rc = set_num(out, "ad_score", gfn_ad_score(&ad), err);
        if (!rc)
            rc = set_num(out, "modes_found", (double)gfn_monitor_modes_found(m), err);
        snprintf(key, sizeof key, "top%ld_mean_reward", cfg->top_k);
        if (!rc)
            rc = set_num(out, key, top_r, err);
        snprintf(key, sizeof key, "top%ld_diversity", cfg->top_k);
        if (!rc)
            rc = set_num(out, key, top_d, err);
        if (!rc && s->rounds)
            rc = set_num(out, "rounds_to_target", gfn_monitor_rounds_to_target(m) >= 0
                                                      ? (double)gfn_monitor_rounds_to_target(m)
                                                      : NAN, err);
    }
    gfn_monitor_free(m);
    if (rng)
        gsl_rng_free(rng);
    gfn_reward_dist_close(&dist);
    return rc;
}

/* TV, KL and JSD of the empirical distribution of the samples to p*. */
static int empirical_metrics(const gfn_env *env, const sample_list *s, gfn_params *out,
                             gfn_error *err)
{
    size_t X = (size_t)gfn_env_terminal_count(env);
    double *p = calloc(X, sizeof *p);
    if (!p)
        return gfn_error_set(err, GFN_ENOMEM, "out of memory for the empirical distribution");
    for (size_t i = 0; i < s->n; i++)
        p[s->x[i]] += 1.0;
    size_t distinct = 0;
    for (size_t x = 0; x < X; x++) {
        distinct += p[x] > 0;
        p[x] /= (double)s->n;
    }
    gfn_exact_metrics m;
    int rc = gfn_metrics_exact(p, gfn_env_rewards(env), X, NAN, &m, err);
    free(p);
    if (!rc)
        rc = set_num(out, "distinct_x_sampled", (double)distinct, err);
    if (!rc)
        rc = set_num(out, "empirical_tv", m.tv, err);
    if (!rc)
        rc = set_num(out, "empirical_kl_target_learned", m.kl_target_learned, err);
    if (!rc)
        rc = set_num(out, "empirical_kl_learned_target", m.kl_learned_target, err);
    if (!rc)
        rc = set_num(out, "empirical_jsd", m.jsd, err);
    return rc;
}

int gfn_eval_samples(const gfn_env *env, const char *path, const gfn_eval_config *cfg,
                     gfn_params *out, gfn_error *err)
{
    sample_list s = {0};
    int rc = read_samples(env, path, &s, err);
    if (!rc)
        rc = sampled_metrics(env, &s, cfg, out, err);
    if (!rc)
        rc = empirical_metrics(env, &s, out, err);
    free(s.x);
    free(s.round);
    return rc;
}

/* ---- log-probabilities --------------------------------------------------------- */

/* Checks that a distribution sums to 1 within tol and renormalises it. */
static int normalise_mass(double *p, size_t n, double tol, const char *what, gfn_error *err)
{
    gfn_ksum k = {0, 0};
    for (size_t i = 0; i < n; i++)
        gfn_ksum_add(&k, p[i]);
    double mass = gfn_ksum_get(&k);
    if (!(fabs(mass - 1.0) <= tol))
        return gfn_error_set(err, GFN_EVALUE, "%s sums to %.17g, not 1 within tol=%g (set key "
                             "tol to accept it)", what, mass, tol);
    for (size_t i = 0; i < n; i++)
        p[i] /= mass;
    return GFN_OK;
}

int gfn_eval_read_logp(const gfn_env *env, const char *path, const gfn_eval_config *cfg,
                       double *p_theta, gfn_error *err)
{
    int64_t X = gfn_env_terminal_count(env);
    text_table t;
    GET(terminal_table(env, &t, err));
    long *seen = calloc((size_t)X, sizeof *seen);
    line_reader r;
    int rc = seen ? reader_open(&r, path, err)
                  : gfn_error_set(err, GFN_ENOMEM, "out of memory for %lld x", (long long)X);
    if (!seen) {
        table_close(&t);
        return rc;
    }
    char *f[3];
    int k;
    while (!rc && (k = reader_next(&r, f, 2)) > 0) {
        double lp;
        int64_t x;
        if (k != 2)
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%ld: expected x<TAB>log p(x)", path, r.line);
        else if ((x = table_find(&t, normalise(f[0]))) < 0)
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%ld: '%s' is not an x of task %s", path,
                               r.line, f[0], gfn_env_name(env));
        else if (seen[x])
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%ld: x '%s' again (first at line %ld)", path,
                               r.line, f[0], seen[x]);
        else if (!parse_double(f[1], &lp) || lp > 0)
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%ld: log p '%s': expected a number <= 0 "
                               "(-inf allowed)", path, r.line, f[1]);
        else {
            seen[x] = r.line;
            p_theta[x] = exp(lp);
        }
    }
    if (!rc)
        rc = r.rc;
    for (int64_t x = 0; !rc && x < X; x++)
        if (!seen[x]) {
            char buf[256];
            gfn_eval_format_x(env, x, buf, sizeof buf);
            rc = gfn_error_set(err, GFN_EFORMAT, "%s: no row for x '%s' (every x of task %s, "
                               "%lld of them, needs one)", path, buf, gfn_env_name(env), (long long)X);
        }
    if (!rc) {
        char what[4200];
        snprintf(what, sizeof what, "%s: p(x)", path);
        rc = normalise_mass(p_theta, (size_t)X, cfg->tol, what, err);
    }
    if (seen)
        reader_close(&r);
    free(seen);
    table_close(&t);
    return rc;
}

/* ---- policies ------------------------------------------------------------------ */

typedef struct {
    int64_t n;          /* non-terminal states */
    int64_t *first;     /* (n + 1) first edge of each state (CSR) */
    double *logp;       /* (edges) log P_F, NaN until read */
    long *line;         /* (edges) line it was read at */
} edge_table;

static void edges_close(edge_table *e)
{
    free(e->first);
    free(e->logp);
    free(e->line);
}

static int edges_init(const gfn_env *env, edge_table *e, gfn_error *err)
{
    memset(e, 0, sizeof *e);
    e->n = gfn_env_state_count(env);
    e->first = malloc(((size_t)e->n + 1) * sizeof *e->first);
    if (!e->first)
        return gfn_error_set(err, GFN_ENOMEM, "out of memory for the edges");
    gfn_state s, kids[GFN_NBR_MAX];
    int64_t g = 0;
    e->first[0] = 0;
    for (int L = 0; L <= gfn_env_max_level(env); L++)
        for (int64_t r = 0; r < gfn_env_level_count(env, L); r++, g++) {
            gfn_env_unrank(env, L, r, &s);
            e->first[g + 1] = e->first[g] + gfn_env_children(env, &s, kids);
        }
    size_t E = (size_t)e->first[e->n];
    e->logp = malloc(E * sizeof *e->logp);
    e->line = calloc(E, sizeof *e->line);
    if (!e->logp || !e->line) {
        edges_close(e);
        return gfn_error_set(err, GFN_ENOMEM, "out of memory for %zu edges", E);
    }
    return GFN_OK;
}

static void state_of(const gfn_env *env, int64_t g, gfn_state *s)
{
    int L = 0;
    while (L < gfn_env_max_level(env) && gfn_env_level_offset(env, L + 1) <= g)
        L++;
    gfn_env_unrank(env, L, g - gfn_env_level_offset(env, L), s);
}

/* Index among the children of state g of the child named by text. */
static int child_index(const gfn_env *env, const text_table *t, int64_t g, char *text)
{
    gfn_state s, kids[GFN_NBR_MAX];
    state_of(env, g, &s);
    int n = gfn_env_children(env, &s, kids);
    int64_t c = strcmp(text, "STOP") == 0 ? -2 : table_find(t, normalise(text));
    if (c == -1)
        return -1;
    for (int j = 0; j < n; j++) {
        if (c == -2 ? kids[j].term
                    : !kids[j].term &&
                          gfn_env_level_offset(env, kids[j].level) + gfn_env_rank(env, &kids[j]) == c)
            return j;
    }
    return -1;
}

static int read_edges(const gfn_env *env, const char *path, edge_table *e, gfn_error *err)
{
    text_table t;
    GET(state_table(env, &t, err));
    line_reader r;
    int rc = reader_open(&r, path, err);
    char *f[4];
    int k;
    while (!rc && (k = reader_next(&r, f, 3)) > 0) {
        double lp;
        int64_t g;
        int j;
        if (k != 3)
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%ld: expected state<TAB>child<TAB>log P_F",
                               path, r.line);
        else if ((g = table_find(&t, normalise(f[0]))) < 0)
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%ld: '%s' is not a non-terminal state of "
                               "task %s", path, r.line, f[0], gfn_env_name(env));
        else if ((j = child_index(env, &t, g, f[1])) < 0)
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%ld: '%s' is not a child of '%s' (a child "
                               "state, or STOP)", path, r.line, f[1], f[0]);
        else if (e->line[e->first[g] + j])
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%ld: edge '%s' -> '%s' again (first at line "
                               "%ld)", path, r.line, f[0], f[1], e->line[e->first[g] + j]);
        else if (!parse_double(f[2], &lp) || lp > 0)
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%ld: log P_F '%s': expected a number <= 0 "
                               "(-inf allowed)", path, r.line, f[2]);
        else {
            e->line[e->first[g] + j] = r.line;
            e->logp[e->first[g] + j] = lp;
        }
    }
    if (!rc)
        rc = r.rc;
    reader_close(&r);
    table_close(&t);
    return rc;
}

/* Every edge was read and each state's P_F sums to 1 within tol (then renormalised). */
static int check_edges(const gfn_env *env, const char *path, double tol, edge_table *e,
                       gfn_error *err)
{
    char sbuf[256], cbuf[256];
    gfn_state s, kids[GFN_NBR_MAX];
    for (int64_t g = 0; g < e->n; g++) {
        int64_t a = e->first[g], b = e->first[g + 1];
        double p[GFN_NBR_MAX];
        for (int64_t i = a; i < b; i++) {
            if (!e->line[i]) {
                state_of(env, g, &s);
                gfn_env_children(env, &s, kids);
                gfn_eval_format_state(env, &s, sbuf, sizeof sbuf);
                if (kids[i - a].term)
                    snprintf(cbuf, sizeof cbuf, "STOP");
                else
                    gfn_eval_format_state(env, &kids[i - a], cbuf, sizeof cbuf);
                return gfn_error_set(err, GFN_EFORMAT, "%s: no row for edge '%s' -> '%s' (every "
                                     "edge needs one)", path, sbuf, cbuf);
            }
            p[i - a] = exp(e->logp[i]);
        }
        char what[4300];
        snprintf(what, sizeof what, "%s:%ld: P_F of state at this line", path, e->line[a]);
        GET(normalise_mass(p, (size_t)(b - a), tol, what, err));
        for (int64_t i = a; i < b; i++)
            e->logp[i] = log(p[i - a]);
    }
    return GFN_OK;
}

/* The forward DP of exact.h with P_F from the edge table. */
static int edges_dp(const gfn_env *env, const edge_table *e, double *p_theta, gfn_error *err)
{
    int64_t S = gfn_env_state_count(env), X = gfn_env_terminal_count(env);
    double *P = calloc((size_t)S, sizeof *P);
    if (!P)
        return gfn_error_set(err, GFN_ENOMEM, "out of memory for %lld states", (long long)S);
    memset(p_theta, 0, (size_t)X * sizeof *p_theta);
    P[0] = 1.0;
    gfn_state s, kids[GFN_NBR_MAX];
    int64_t g = 0;
    for (int L = 0; L <= gfn_env_max_level(env); L++)
        for (int64_t r = 0; r < gfn_env_level_count(env, L); r++, g++) {
            if (P[g] == 0.0)
                continue;
            gfn_env_unrank(env, L, r, &s);
            int n = gfn_env_children(env, &s, kids);
            for (int j = 0; j < n; j++) {
                double q = P[g] * exp(e->logp[e->first[g] + j]);
                int64_t c = gfn_env_rank(env, &kids[j]);
                if (kids[j].term)
                    p_theta[c] += q;
                else
                    P[gfn_env_level_offset(env, kids[j].level) + c] += q;
            }
        }
    free(P);
    return GFN_OK;
}

int gfn_eval_read_policy(const gfn_env *env, const char *path, const gfn_eval_config *cfg,
                         double *p_theta, gfn_error *err)
{
    edge_table e;
    GET(edges_init(env, &e, err));
    int rc = read_edges(env, path, &e, err);
    if (!rc)
        rc = check_edges(env, path, cfg->tol, &e, err);
    if (!rc)
        rc = edges_dp(env, &e, p_theta, err);
    edges_close(&e);
    if (!rc) {
        char what[4200];
        snprintf(what, sizeof what, "%s: p_theta of the policy (a bug)", path);
        rc = normalise_mass(p_theta, (size_t)gfn_env_terminal_count(env), 1e-9, what, err);
    }
    return rc;
}

/* ---- exact metrics and run files ------------------------------------------------ */

int gfn_eval_exact(const gfn_env *env, const double *p_theta, double log_z, gfn_params *out,
                   gfn_error *err)
{
    gfn_exact_metrics m;
    GET(gfn_metrics_exact(p_theta, gfn_env_rewards(env), (size_t)gfn_env_terminal_count(env),
                          log_z, &m, err));
    char buf[64];
    for (int i = 0; i < GFN_N_METRICS; i++) {
        const gfn_metric_info *mi = &gfn_metric_table[i];
        if (mi->kind != GFN_METRIC_EXACT)
            continue;
        snprintf(buf, sizeof buf, mi->format, gfn_metric_exact_value(mi, &m));
        GET(gfn_params_set(out, mi->name, buf, "", err));
    }
    snprintf(buf, sizeof buf, "%.10g", m.log_z);
    return gfn_params_set(out, "true_log_z", buf, "", err);
}

static int write_buf(const char *dir, const char *name, const gfn_strbuf *b, gfn_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return gfn_strbuf_write(b, path, err);
}

int gfn_eval_write_run(const char *dir, const gfn_env *env, const gfn_params *out,
                       const double *p_theta, gfn_error *err)
{
    GET(gfn_fs_mkdir_p(dir, err));
    gfn_strbuf b;
    gfn_strbuf_init(&b);
    for (int i = 0; i < out->n; i++)
        gfn_strbuf_printf(&b, "%s: %s\n", out->items[i].key, out->items[i].val);
    int rc = write_buf(dir, "summary.txt", &b, err);
    gfn_strbuf_close(&b);
    if (rc)
        return rc;
    gfn_strbuf_init(&b);
    /* The metrics.tsv of a training run (metric_table.h), one row. */
    for (int c = 0; c < GFN_N_COLUMNS; c++)
        gfn_strbuf_printf(&b, "%s%s", c ? "\t" : "", gfn_metric_table[c].name);
    gfn_strbuf_printf(&b, "\n");
    for (int c = 0; c < GFN_N_COLUMNS; c++) {
        const gfn_param *p = gfn_params_find(out, gfn_metric_table[c].name);
        gfn_strbuf_printf(&b, "%s%s", c ? "\t" : "", p ? p->val : c == 0 ? "0" : "nan");
    }
    gfn_strbuf_printf(&b, "\n");
    rc = write_buf(dir, "metrics.tsv", &b, err);
    gfn_strbuf_close(&b);
    if (rc || !p_theta)
        return rc;
    const double *R = gfn_env_rewards(env);
    gfn_strbuf_init(&b);
    gfn_strbuf_printf(&b, "x\tlog_reward\tlog_p_theta\n");
    char text[256];
    for (int64_t x = 0; x < gfn_env_terminal_count(env); x++) {
        gfn_eval_format_x(env, x, text, sizeof text);
        gfn_strbuf_printf(&b, "%s\t%.10g\t%.10g\n", text, log(R[x]), log(p_theta[x]));
    }
    rc = write_buf(dir, "logp.tsv", &b, err);
    gfn_strbuf_close(&b);
    return rc;
}
