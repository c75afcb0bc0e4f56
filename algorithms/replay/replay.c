/* replay.c - the buffer of seen x (unique by terminal rank) and its uniform and
 * prioritized (prt) draws; see replay.h for the rules.
 *
 * Layout: x number i (insertion order) has rank[i] and reward[i]; the shared hash table
 * maps rank -> i.  For order statistics the indices are kept sorted by the key
 * (reward[i], i) in two runs: `big` (all but the most recent insertions) and
 * `recent` (at most about 4 sqrt(n) entries, kept sorted by insertion).  When
 * `recent` fills it is merged into `big` in O(n).  The element at position k of
 * the merged order is found by a binary search over how many of the first k+1
 * come from `big` (the classic k-th of two sorted arrays), in O(log n).
 * The percentile follows numpy 1.24's "linear" method bit for bit:
 *     v = (n - 1) (q / 100),  j = floor(v),  g = v - j,
 *     lerp(a, b, g) = a + (b - a) g  for g < 0.5,  b - (b - a)(1 - g)  otherwise.
 */
#include "replay.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "i64map.h"

struct gfn_replay {
    int64_t n, cap;       /* number of x, capacity of the per-x arrays */
    int64_t *rank;        /* (cap) terminal rank of x number i */
    double *reward;       /* (cap) its reward */
    gfn_i64map index;     /* rank -> index i (environments/base/i64map.h) */
    int32_t *big, *tmp;   /* (cap) sorted run and merge scratch */
    int64_t n_big;
    int32_t *recent;      /* (recent_cap) sorted run of recent insertions */
    int64_t n_recent, recent_cap;
};

gfn_replay *gfn_replay_alloc(void)
{
    gfn_replay *r = calloc(1, sizeof *r);
    if (r)
        gfn_i64map_init(&r->index);
    if (r && gfn_i64map_reserve(&r->index, 1) != GFN_OK) {
        free(r);
        return NULL;
    }
    return r;
}

void gfn_replay_free(gfn_replay *r)
{
    if (!r)
        return;
    free(r->rank);
    free(r->reward);
    gfn_i64map_close(&r->index);
    free(r->big);
    free(r->tmp);
    free(r->recent);
    free(r);
}

int64_t gfn_replay_size(const gfn_replay *r)
{
    return r->n;
}

int gfn_replay_contains(const gfn_replay *r, int64_t rank, double *reward)
{
    const int64_t *i = gfn_i64map_find(&r->index, rank);
    if (!i)
        return 0;
    if (reward)
        *reward = r->reward[*i];
    return 1;
}

void gfn_replay_get(const gfn_replay *r, int64_t i, int64_t *rank, double *reward)
{
    GFN_ASSERT(i >= 0 && i < r->n);
    if (rank)
        *rank = r->rank[i];
    if (reward)
        *reward = r->reward[i];
}

/* The order of the runs: by reward, ties by insertion index (a strict order). */
static int key_less(const gfn_replay *r, int32_t a, int32_t b)
{
    return r->reward[a] < r->reward[b] || (r->reward[a] == r->reward[b] && a < b);
}

static int grow_array(void **p, size_t elem, int64_t cap)
{
    void *q = realloc(*p, (size_t)cap * elem);
    if (!q)
        return GFN_ENOMEM;
    *p = q;
    return GFN_OK;
}

/* Makes room for one more x in every array, before anything is changed. */
static int reserve_one(gfn_replay *r)
{
    if (gfn_i64map_reserve(&r->index, 1) != GFN_OK)
        return GFN_ENOMEM;
    if (r->n + 1 > r->cap) {
        int64_t c = r->cap ? 2 * r->cap : 1024;
        if (c > INT32_MAX)
            return GFN_ENOMEM;
        if (grow_array((void **)&r->rank, sizeof *r->rank, c) ||
            grow_array((void **)&r->reward, sizeof *r->reward, c) ||
            grow_array((void **)&r->big, sizeof *r->big, c) ||
            grow_array((void **)&r->tmp, sizeof *r->tmp, c))
            return GFN_ENOMEM;
        r->cap = c;
    }
    if (r->n_recent + 1 > r->recent_cap) {
        int64_t c = r->recent_cap ? 2 * r->recent_cap : 64;
        if (grow_array((void **)&r->recent, sizeof *r->recent, c))
            return GFN_ENOMEM;
        r->recent_cap = c;
    }
    return GFN_OK;
}

static void merge_runs(gfn_replay *r)
{
    int64_t i = 0, j = 0, k = 0;
    while (i < r->n_big || j < r->n_recent) {
        if (j == r->n_recent || (i < r->n_big && key_less(r, r->big[i], r->recent[j])))
            r->tmp[k++] = r->big[i++];
        else
            r->tmp[k++] = r->recent[j++];
    }
    int32_t *t = r->big;
    r->big = r->tmp;
    r->tmp = t;
    r->n_big = k;
    r->n_recent = 0;
}

int gfn_replay_add(gfn_replay *r, int64_t rank, double reward, int *is_new, gfn_error *err)
{
    if (is_new)
        *is_new = 0;
    if (!isfinite(reward))
        return gfn_error_set(err, GFN_ENONFINITE, "replay: reward of x (rank %lld) is %g",
                             (long long)rank, reward);
    GFN_ASSERT(rank >= 0);
    if (gfn_replay_contains(r, rank, NULL))
        return GFN_OK;
    if (reserve_one(r) != GFN_OK)
        return gfn_error_set(err, GFN_ENOMEM, "replay: out of memory at %lld x",
                             (long long)r->n);
    int32_t i = (int32_t)r->n++;
    r->rank[i] = rank;
    r->reward[i] = reward;
    *gfn_i64map_put(&r->index, rank, NULL) = i;
    /* Insertion into the small sorted run: i is the largest index, so it goes
     * after every equal reward. */
    int64_t lo = 0, hi = r->n_recent;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (key_less(r, r->recent[mid], i))
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(r->recent + lo + 1, r->recent + lo, (size_t)(r->n_recent - lo) * sizeof *r->recent);
    r->recent[lo] = i;
    r->n_recent++;
    int64_t limit = 4 * (int64_t)sqrt((double)r->n);
    if (r->n_recent >= (limit > 64 ? limit : 64))
        merge_runs(r);
    if (is_new)
        *is_new = 1;
    return GFN_OK;
}

/* Index of the x at position k (0-based) of the merged order. */
static int32_t select_kth(const gfn_replay *r, int64_t k)
{
    const int32_t *A = r->big, *Bv = r->recent;
    int64_t a = r->n_big, b = r->n_recent;
    GFN_ASSERT(k >= 0 && k < a + b);
    /* i = how many of the first k+1 come from A: the smallest i with
     * i == a, or j == 0, or B[j-1] < A[i], where j = k+1-i. */
    int64_t lo = k + 1 - b > 0 ? k + 1 - b : 0, hi = a < k + 1 ? a : k + 1;
    while (lo < hi) {
        int64_t i = (lo + hi) / 2, j = k + 1 - i;
        if (j > 0 && !key_less(r, Bv[j - 1], A[i]))
            lo = i + 1;
        else
            hi = i;
    }
    int64_t i = lo, j = k + 1 - i;
    if (i == 0)
        return Bv[j - 1];
    if (j == 0)
        return A[i - 1];
    return key_less(r, A[i - 1], Bv[j - 1]) ? Bv[j - 1] : A[i - 1];
}

/* Number of x whose reward is < v (strict) or <= v (!strict), by binary search. */
int64_t gfn_replay_count_below(const gfn_replay *r, double v, int strict)
{
    const int32_t *runs[2] = {r->big, r->recent};
    int64_t lens[2] = {r->n_big, r->n_recent}, total = 0;
    for (int k = 0; k < 2; k++) {
        int64_t lo = 0, hi = lens[k];
        while (lo < hi) {
            int64_t mid = (lo + hi) / 2;
            double w = r->reward[runs[k][mid]];
            if (strict ? w < v : w <= v)
                lo = mid + 1;
            else
                hi = mid;
        }
        total += lo;
    }
    return total;
}

double gfn_replay_percentile(const gfn_replay *r, double q)
{
    if (r->n == 0)
        return NAN;
    double v = (double)(r->n - 1) * (q / 100.0);
    double fl = floor(v);
    double g = v - fl;
    int64_t j = (int64_t)fl, j1 = j + 1;
    j = j < 0 ? 0 : j > r->n - 1 ? r->n - 1 : j;
    j1 = j1 < 0 ? 0 : j1 > r->n - 1 ? r->n - 1 : j1;
    double a = r->reward[select_kth(r, j)], b = r->reward[select_kth(r, j1)];
    double d = b - a;
    return g >= 0.5 ? b - d * (1.0 - g) : a + d * g;
}

int64_t gfn_replay_rank_by_reward(const gfn_replay *r, int64_t k)
{
    return r->rank[select_kth(r, k)];
}

int64_t gfn_replay_rank_at(const gfn_replay *r, int64_t i)
{
    GFN_ASSERT(i >= 0 && i < r->n);
    return r->rank[i];
}
