/* monitor.c - sampled metrics of a training run: AD score against target draws,
 * trailing-window mean reward and rounds to target, modes found, top-k.
 *
 * Window: at round r the window holds the monitor batches of rounds t with
 * r - W < t <= r, so W = 500 rounds with a batch of 128 every 10 rounds is
 * 50 batches, 6,400 samples (docs/method.md section 9).  The window mean is
 * sum(rewards) / count over those samples, as a % of E_p*[R] = sum_j z_j q_j.
 * The authors' code averages whatever recent samples exist, so early windows
 * are partial by default; full_window = 1 waits for W rounds instead.
 *
 * AD score: scipy's anderson_ksamp([monitor rewards, target draws]) statistic
 * divided by its 5% critical value (gfn_ad_ksamp_sorted; the draws are sorted once).
 *
 * Top-k: the k best distinct x by reward, ties to the x seen first (the authors
 * sort a first-seen-ordered dict stably by reward).  Kept as an unsorted array of
 * k entries with a first-seen sequence number: a new x replaces the worst entry
 * only when its reward is strictly larger, so an x that was evicted can never
 * come back, which keeps the entries distinct without remembering every x.
 */
#include "monitor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ksum.h"
#include "sortd.h"

typedef struct {
    long round;
    size_t start, count; /* into rew */
    double sum;
} batch;

typedef struct {
    double r;
    int64_t x;
    uint64_t seq; /* order of first appearance */
} top_entry;

struct gfn_monitor {
    gfn_monitor_config cfg;
    double target_mean;
    double *draws; /* (n_target_draws) ascending */
    /* Live batches are batches[b0 .. nb); their rewards are rew[rew0 .. rew_len). */
    batch *batches;
    size_t b0, nb, bcap;
    double *rew;
    size_t rew0, rew_len, rew_cap;
    double window_mean;
    long rounds_to_target, last_round;
    /* AD: a sorted copy of the compared samples and the workspace. */
    double *sorted, *work;
    size_t sorted_cap, work_cap;
    /* Modes: open addressing, -1 = empty, capacity a power of two. */
    int64_t *modes;
    size_t modes_cap, modes_n;
    top_entry *top;
    int top_n;
    uint64_t seq;
};

/* Grows *p (of element size sz, capacity *cap) to hold at least need elements,
 * doubling, so that repeated growth is amortised O(1). */
static int grow(void **p, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * sz);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

void gfn_monitor_config_default(gfn_monitor_config *cfg)
{
    cfg->window_rounds = 500;
    cfg->full_window = 0;
    cfg->n_target_draws = 100000;
    cfg->top_k = 100;
}

gfn_monitor *gfn_monitor_alloc(const gfn_monitor_config *cfg, const gfn_reward_dist *target,
                               gsl_rng *rng, gfn_error *err)
{
    gfn_monitor_config c = *cfg;
    if (c.n_target_draws == 0)
        c.n_target_draws = target->n_terminals < 100000 ? target->n_terminals : 100000;
    cfg = &c;
    if (cfg->window_rounds < 1 || cfg->n_target_draws < 2 || cfg->top_k < 1) {
        gfn_error_set(err, GFN_EVALUE,
                      "monitor: window_rounds = %ld, n_target_draws = %zu, top_k = %d: expected "
                      "window_rounds >= 1, n_target_draws >= 2, top_k >= 1",
                      cfg->window_rounds, cfg->n_target_draws, cfg->top_k);
        return NULL;
    }
    gfn_monitor *m = calloc(1, sizeof *m);
    if (m) {
        m->cfg = *cfg;
        m->target_mean = target->mean;
        m->rounds_to_target = -1;
        m->last_round = -1;
        m->window_mean = NAN;
        m->draws = malloc(cfg->n_target_draws * sizeof *m->draws);
        m->top = malloc((size_t)cfg->top_k * sizeof *m->top);
    }
    if (!m || !m->draws || !m->top) {
        gfn_monitor_free(m);
        gfn_error_set(err, GFN_ENOMEM, "monitor: no memory for %zu target draws",
                      cfg->n_target_draws);
        return NULL;
    }
    if (gfn_reward_dist_sample(target, rng, m->draws, cfg->n_target_draws, err)) {
        gfn_monitor_free(m);
        return NULL;
    }
    gfn_sort_doubles(m->draws, cfg->n_target_draws);
    return m;
}

void gfn_monitor_free(gfn_monitor *m)
{
    if (!m)
        return;
    free(m->draws);
    free(m->batches);
    free(m->rew);
    free(m->sorted);
    free(m->work);
    free(m->modes);
    free(m->top);
    free(m);
}

/* Drops batches that left the window and compacts the arrays once the dead
 * prefix is at least half of them, so the cost stays amortised O(1). */
static void window_drop(gfn_monitor *m, long round)
{
    while (m->b0 < m->nb && m->batches[m->b0].round <= round - m->cfg.window_rounds)
        m->b0++;
    GFN_ASSERT(m->b0 < m->nb); /* the batch just added is always inside */
    m->rew0 = m->batches[m->b0].start;
    if (m->b0 * 2 >= m->nb) {
        size_t live = m->nb - m->b0;
        memmove(m->batches, m->batches + m->b0, live * sizeof *m->batches);
        m->nb = live;
        m->b0 = 0;
    }
    if (m->rew0 * 2 >= m->rew_len) {
        size_t live = m->rew_len - m->rew0;
        memmove(m->rew, m->rew + m->rew0, live * sizeof *m->rew);
        for (size_t b = m->b0; b < m->nb; b++)
            m->batches[b].start -= m->rew0;
        m->rew_len = live;
        m->rew0 = 0;
    }
}

int gfn_monitor_add_samples(gfn_monitor *m, long round, const double *reward, size_t B,
                            gfn_error *err)
{
    if (B == 0)
        return gfn_error_set(err, GFN_EVALUE, "monitor: empty batch of samples at round %ld",
                             round);
    if (round < m->last_round)
        return gfn_error_set(err, GFN_EVALUE,
                             "monitor: samples of round %ld after round %ld: rounds must not "
                             "decrease", round, m->last_round);
    gfn_ksum s = {0, 0};
    for (size_t i = 0; i < B; i++) {
        if (!isfinite(reward[i]))
            return gfn_error_set(err, GFN_ENONFINITE,
                                 "monitor: reward %zu of the samples at round %ld is %g", i,
                                 round, reward[i]);
        gfn_ksum_add(&s, reward[i]);
    }
    if (grow((void **)&m->batches, &m->bcap, m->nb + 1, sizeof *m->batches) ||
        grow((void **)&m->rew, &m->rew_cap, m->rew_len + B, sizeof *m->rew))
        return gfn_error_set(err, GFN_ENOMEM, "monitor: no memory for %zu samples",
                             m->rew_len + B);
    memcpy(m->rew + m->rew_len, reward, B * sizeof *reward);
    m->batches[m->nb++] = (batch){round, m->rew_len, B, gfn_ksum_get(&s)};
    m->rew_len += B;
    m->last_round = round;
    window_drop(m, round);

    gfn_ksum total = {0, 0};
    size_t count = 0;
    for (size_t b = m->b0; b < m->nb; b++) {
        gfn_ksum_add(&total, m->batches[b].sum);
        count += m->batches[b].count;
    }
    int early = m->cfg.full_window && round < m->cfg.window_rounds - 1;
    m->window_mean = early ? NAN : gfn_ksum_get(&total) / (double)count;
    if (m->rounds_to_target < 0 && m->window_mean >= m->target_mean)
        m->rounds_to_target = round;
    return GFN_OK;
}

int gfn_monitor_ad(gfn_monitor *m, int scope, gfn_ad_result *out, gfn_error *err)
{
    if (m->nb == 0)
        return gfn_error_set(err, GFN_EVALUE, "monitor: no monitor samples yet for the AD score");
    const batch *last = &m->batches[m->nb - 1];
    const double *src = scope == GFN_MONITOR_WINDOW ? m->rew + m->rew0 : m->rew + last->start;
    size_t n = scope == GFN_MONITOR_WINDOW ? m->rew_len - m->rew0 : last->count;
    size_t N = n + m->cfg.n_target_draws;
    if (grow((void **)&m->sorted, &m->sorted_cap, n, sizeof *m->sorted) ||
        grow((void **)&m->work, &m->work_cap, 4 * N, sizeof *m->work))
        return gfn_error_set(err, GFN_ENOMEM, "monitor: no memory for the AD workspace");
    memcpy(m->sorted, src, n * sizeof *src);
    gfn_sort_doubles(m->sorted, n);
    const double *s[2] = {m->sorted, m->draws};
    size_t sizes[2] = {n, m->cfg.n_target_draws};
    return gfn_ad_ksamp_sorted(s, sizes, 2, m->work, out, err);
}

double gfn_monitor_mean_reward_pct(const gfn_monitor *m)
{
    return 100 * m->window_mean / m->target_mean;
}

long gfn_monitor_rounds_to_target(const gfn_monitor *m)
{
    return m->rounds_to_target;
}

double gfn_monitor_target_mean(const gfn_monitor *m)
{
    return m->target_mean;
}

size_t gfn_monitor_n_target_draws(const gfn_monitor *m)
{
    return m->cfg.n_target_draws;
}

int64_t gfn_monitor_modes_found(const gfn_monitor *m)
{
    return (int64_t)m->modes_n;
}

/* splitmix64's finaliser: terminal ranks are often consecutive. */
static uint64_t hash64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void modes_put(int64_t *tab, size_t cap, int64_t x)
{
    size_t i = (size_t)hash64((uint64_t)x) & (cap - 1);
    while (tab[i] != -1 && tab[i] != x)
        i = (i + 1) & (cap - 1);
    tab[i] = x;
}

static int modes_has(const gfn_monitor *m, int64_t x)
{
    if (!m->modes_cap)
        return 0;
    size_t i = (size_t)hash64((uint64_t)x) & (m->modes_cap - 1);
    while (m->modes[i] != -1) {
        if (m->modes[i] == x)
            return 1;
        i = (i + 1) & (m->modes_cap - 1);
    }
    return 0;
}

/* Adds x to the set of modes; keeps the table at most half full. */
static int modes_add(gfn_monitor *m, int64_t x)
{
    if (modes_has(m, x))
        return 0;
    if (2 * (m->modes_n + 1) > m->modes_cap) {
        size_t cap = m->modes_cap ? 2 * m->modes_cap : 64;
        int64_t *tab = malloc(cap * sizeof *tab);
        if (!tab)
            return -1;
        for (size_t i = 0; i < cap; i++)
            tab[i] = -1;
        for (size_t i = 0; i < m->modes_cap; i++)
            if (m->modes[i] != -1)
                modes_put(tab, cap, m->modes[i]);
        free(m->modes);
        m->modes = tab;
        m->modes_cap = cap;
    }
    modes_put(m->modes, m->modes_cap, x);
    m->modes_n++;
    return 0;
}

/* a ranks below b: lower reward, or equal reward and seen later. */
static int top_worse(const top_entry *a, const top_entry *b)
{
    return a->r < b->r || (a->r == b->r && a->seq > b->seq);
}

static void top_add(gfn_monitor *m, int64_t x, double r)
{
    int worst = 0;
    for (int i = 0; i < m->top_n; i++) {
        if (m->top[i].x == x)
            return;
        if (top_worse(&m->top[i], &m->top[worst]))
            worst = i;
    }
    top_entry e = {r, x, m->seq++};
    if (m->top_n < m->cfg.top_k)
        m->top[m->top_n++] = e;
    else if (top_worse(&m->top[worst], &e))
        m->top[worst] = e;
}

int gfn_monitor_add_x(gfn_monitor *m, const int64_t *x, const double *reward, const int *is_mode,
                      size_t B, gfn_error *err)
{
    for (size_t i = 0; i < B; i++) {
        if (x[i] < 0)
            return gfn_error_set(err, GFN_EVALUE, "monitor: terminal rank %lld is negative",
                                 (long long)x[i]);
        if (!isfinite(reward[i]))
            return gfn_error_set(err, GFN_ENONFINITE, "monitor: reward of terminal %lld is %g",
                                 (long long)x[i], reward[i]);
        if (is_mode[i] && modes_add(m, x[i]))
            return gfn_error_set(err, GFN_ENOMEM, "monitor: no memory for %zu modes",
                                 m->modes_n + 1);
        top_add(m, x[i], reward[i]);
    }
    return GFN_OK;
}

size_t gfn_monitor_top(const gfn_monitor *m, gfn_monitor_dist_fn dist, void *ctx,
                       double *mean_reward, double *mean_dist)
{
    size_t n = (size_t)m->top_n;
    gfn_ksum r = {0, 0}, d = {0, 0};
    for (size_t i = 0; i < n; i++)
        gfn_ksum_add(&r, m->top[i].r);
    *mean_reward = n ? gfn_ksum_get(&r) / (double)n : NAN;
    if (!dist || n < 2) {
        *mean_dist = NAN;
        return n;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            gfn_ksum_add(&d, dist(ctx, m->top[i].x, m->top[j].x));
    *mean_dist = gfn_ksum_get(&d) / ((double)n * (double)(n - 1) / 2);
    return n;
}

/* ---- checkpoints ----------------------------------------------------------------
 * Section "monitor": i64 window_rounds, n_target_draws, top_k | f64 window_mean |
 * i64 rounds_to_target, last_round | i64 live batches, then each {i64 round,
 * i64 count, f64 sum} | their rewards in order | i64 modes, then each mode |
 * i64 top_n, then each {f64 r, i64 x, i64 seq} in array order | i64 seq. */

void gfn_monitor_save(const gfn_monitor *m, gfn_ckpt_buf *b)
{
    gfn_ckpt_put_i64(b, m->cfg.window_rounds);
    gfn_ckpt_put_i64(b, (int64_t)m->cfg.n_target_draws);
    gfn_ckpt_put_i64(b, m->cfg.top_k);
    gfn_ckpt_put_f64(b, m->window_mean);
    gfn_ckpt_put_i64(b, m->rounds_to_target);
    gfn_ckpt_put_i64(b, m->last_round);
    gfn_ckpt_put_i64(b, (int64_t)(m->nb - m->b0));
    for (size_t i = m->b0; i < m->nb; i++) {
        gfn_ckpt_put_i64(b, m->batches[i].round);
        gfn_ckpt_put_i64(b, (int64_t)m->batches[i].count);
        gfn_ckpt_put_f64(b, m->batches[i].sum);
    }
    gfn_ckpt_put(b, m->rew + m->rew0, (m->rew_len - m->rew0) * sizeof *m->rew);
    gfn_ckpt_put_i64(b, (int64_t)m->modes_n);
    for (size_t i = 0; i < m->modes_cap; i++)
        if (m->modes[i] != -1)
            gfn_ckpt_put_i64(b, m->modes[i]);
    gfn_ckpt_put_i64(b, m->top_n);
    for (int i = 0; i < m->top_n; i++) {
        gfn_ckpt_put_f64(b, m->top[i].r);
        gfn_ckpt_put_i64(b, m->top[i].x);
        gfn_ckpt_put_i64(b, (int64_t)m->top[i].seq);
    }
    gfn_ckpt_put_i64(b, (int64_t)m->seq);
}

#define GET(call)             \
    do {                      \
        int rc_ = (call);     \
        if (rc_)              \
            return rc_;       \
    } while (0)

/* A count from the file, bounded so that a corrupt one cannot ask for terabytes. */
static int get_count(gfn_ckpt_reader *r, int64_t max, int64_t *n, gfn_error *err)
{
    GET(gfn_ckpt_get_i64(r, n, err));
    if (*n < 0 || *n > max)
        return gfn_error_set(err, GFN_EFORMAT, "%s: section '%s': count %lld out of range",
                             r->path, r->tag, (long long)*n);
    return GFN_OK;
}

int gfn_monitor_restore(gfn_monitor *m, gfn_ckpt_reader *r, gfn_error *err)
{
    int64_t w, nd, k, v, nb, nm, nt;
    GET(gfn_ckpt_get_i64(r, &w, err));
    GET(gfn_ckpt_get_i64(r, &nd, err));
    GET(gfn_ckpt_get_i64(r, &k, err));
    if (w != m->cfg.window_rounds || nd != (int64_t)m->cfg.n_target_draws || k != m->cfg.top_k)
        return gfn_error_set(err, GFN_EMISMATCH,
                             "%s: monitor of window %lld, %lld target draws, top %lld; this run "
                             "has %ld, %zu, %d",
                             r->path, (long long)w, (long long)nd, (long long)k,
                             m->cfg.window_rounds, m->cfg.n_target_draws, m->cfg.top_k);
    GET(gfn_ckpt_get_f64(r, &m->window_mean, err));
    GET(gfn_ckpt_get_i64(r, &v, err));
    m->rounds_to_target = (long)v;
    GET(gfn_ckpt_get_i64(r, &v, err));
    m->last_round = (long)v;
    GET(get_count(r, (int64_t)(r->len / 24), &nb, err));
    m->b0 = m->nb = m->rew0 = m->rew_len = 0;
    if (grow((void **)&m->batches, &m->bcap, (size_t)nb, sizeof *m->batches))
        return gfn_error_set(err, GFN_ENOMEM, "monitor: no memory for %lld batches", (long long)nb);
    size_t total = 0;
    for (int64_t i = 0; i < nb; i++) {
        int64_t round, count;
        batch *bt = &m->batches[i];
        GET(gfn_ckpt_get_i64(r, &round, err));
        GET(get_count(r, (int64_t)(r->len / 8), &count, err));
        GET(gfn_ckpt_get_f64(r, &bt->sum, err));
        bt->round = (long)round;
        bt->count = (size_t)count;
        bt->start = total;
        total += (size_t)count;
    }
    m->nb = (size_t)nb;
    if (total > r->len / 8 ||
        grow((void **)&m->rew, &m->rew_cap, total, sizeof *m->rew))
        return gfn_error_set(err, GFN_ENOMEM, "monitor: no memory for %zu samples", total);
    GET(gfn_ckpt_get(r, m->rew, total * sizeof *m->rew, err));
    m->rew_len = total;
    GET(get_count(r, (int64_t)(r->len / 8), &nm, err));
    for (size_t i = 0; i < m->modes_cap; i++)
        m->modes[i] = -1;
    m->modes_n = 0;
    for (int64_t i = 0; i < nm; i++) {
        GET(gfn_ckpt_get_i64(r, &v, err));
        if (modes_add(m, v))
            return gfn_error_set(err, GFN_ENOMEM, "monitor: no memory for %lld modes",
                                 (long long)nm);
    }
    GET(get_count(r, m->cfg.top_k, &nt, err));
    for (int64_t i = 0; i < nt; i++) {
        int64_t x, seq;
        GET(gfn_ckpt_get_f64(r, &m->top[i].r, err));
        GET(gfn_ckpt_get_i64(r, &x, err));
        GET(gfn_ckpt_get_i64(r, &seq, err));
        m->top[i].x = x;
        m->top[i].seq = (uint64_t)seq;
    }
    m->top_n = (int)nt;
    GET(gfn_ckpt_get_i64(r, &v, err));
    m->seq = (uint64_t)v;
    return gfn_ckpt_done(r, err);
}
