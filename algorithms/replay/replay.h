/* replay.h - the buffer of seen terminals x and the replay draws.
 *
 * The buffer is unbounded and holds each x once, keyed by its terminal rank,
 * with its reward.  Two draws (docs/method.md section 6), both with replacement:
 *   uniform: B ranks uniformly from the buffer;
 *   prt:     if the buffer holds fewer than 10 x, nothing; else with
 *            thr = the 90th percentile of the buffer's rewards (numpy's default
 *            linear interpolation, as np.percentile in the authors' code),
 *            ceil(B/2) x uniformly from those with R >= thr, then floor(B/2)
 *            uniformly from those with R <= thr (16 -> 8 + 8; for odd B the
 *            extra draw goes to the high side).
 *
 * Cost: the rewards are kept in order as a large sorted run plus a small sorted
 * run of recent insertions (at most about 4 sqrt(n) entries), merged in O(n) when
 * the small run fills, so an insertion costs amortised O(sqrt(n)) and an order
 * statistic (percentile, or the k-th x of the high/low set) O(log n): a prt draw
 * with 800,000 x in the buffer does no sort and no scan.
 *
 * Iteration: gfn_replay_get(r, i, ...) for i = 0..size-1 visits the x in the
 * order they were first added.
 */
#ifndef GFN_REPLAY_H
#define GFN_REPLAY_H

#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "status.h"

typedef struct gfn_replay gfn_replay; /* opaque */

/* The row index of the scheme registry (replay_scheme.c), in its order. */
typedef enum {
    GFN_REPLAY_NONE,
    GFN_REPLAY_UNIFORM,
    GFN_REPLAY_PRT
} gfn_replay_mode;

#define GFN_REPLAY_PRT_MIN 10 /* prt draws nothing below this buffer size */

gfn_replay *gfn_replay_alloc(void); /* NULL when out of memory */
void gfn_replay_free(gfn_replay *r); /* NULL is a no-op */

/* Adds x (terminal rank) with its reward unless already present; *is_new (may be
 * NULL) is 1 when it was added.  GFN_ENOMEM (buffer unchanged) or GFN_ENONFINITE
 * for a non-finite reward. */
int gfn_replay_add(gfn_replay *r, int64_t rank, double reward, int *is_new, gfn_error *err);

int64_t gfn_replay_size(const gfn_replay *r);
/* 1 and *reward (may be NULL) when rank is in the buffer, else 0. */
int gfn_replay_contains(const gfn_replay *r, int64_t rank, double *reward);
/* The i-th x in insertion order, 0 <= i < size. */
void gfn_replay_get(const gfn_replay *r, int64_t i, int64_t *rank, double *reward);

/* q-th percentile (0..100) of the buffer's rewards with linear interpolation,
 * as numpy.percentile's default; NaN when the buffer is empty. */
double gfn_replay_percentile(const gfn_replay *r, double q);

/* Order statistics for the schemes: the rank of the x whose reward is the k-th
 * smallest (0 <= k < size, O(log n)); the number of x with reward < v (strict)
 * or <= v; the rank of the i-th x in insertion order. */
int64_t gfn_replay_rank_by_reward(const gfn_replay *r, int64_t k);
int64_t gfn_replay_count_below(const gfn_replay *r, double v, int strict);
int64_t gfn_replay_rank_at(const gfn_replay *r, int64_t i);

/* ---- replay schemes: one file each, one row each in replay_scheme.c ---- */

/* Draws B ranks into ranks and returns how many were drawn (B, or 0). */
typedef int (*gfn_replay_draw_fn)(const gfn_replay *r, gsl_rng *rng, int B, int64_t *ranks);

typedef struct {
    const char *name;        /* the training key's value: replay=NAME */
    const char *summary;     /* for `gfnbench list`; lines separated by '\n' */
    gfn_replay_draw_fn draw; /* NULL: draws nothing (none) */
} gfn_replay_scheme;

int gfn_replay_scheme_count(void);
const gfn_replay_scheme *gfn_replay_scheme_at(int i); /* i = gfn_replay_mode */
/* The scheme names joined by sep into buf (cap bytes); returns the length. */
size_t gfn_replay_choices(const char *sep, char *buf, size_t cap);

/* Draws with scheme mode: B, or 0 (empty buffer; for prt, fewer than
 * GFN_REPLAY_PRT_MIN x; for none, always 0). */
int gfn_replay_draw(const gfn_replay *r, gfn_replay_mode mode, gsl_rng *rng, int B,
                    int64_t *ranks);
int gfn_replay_draw_uniform(const gfn_replay *r, gsl_rng *rng, int B, int64_t *ranks); /* replay_uniform.c */
int gfn_replay_draw_prt(const gfn_replay *r, gsl_rng *rng, int B, int64_t *ranks);     /* replay_prt.c */

/* A scheme's name; GFN_EUNKNOWN listing the names otherwise. */
int gfn_replay_mode_parse(const char *s, gfn_replay_mode *mode, gfn_error *err);
const char *gfn_replay_mode_name(gfn_replay_mode mode);

#endif
