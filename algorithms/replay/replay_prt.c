/* replay_prt.c - prioritized replay (PRT, docs/method.md section 6): nothing
 * below GFN_REPLAY_PRT_MIN x; else, with thr the 90th percentile of the buffer's
 * rewards, ceil(B/2) x uniformly from those with R >= thr and floor(B/2) from
 * those with R <= thr, with replacement.  Order statistics of the buffer cost
 * O(log n) each, so a draw does no sort and no scan. */
#include "replay.h"

int gfn_replay_draw_prt(const gfn_replay *r, gsl_rng *rng, int B, int64_t *ranks)
{
    int64_t n = gfn_replay_size(r);
    if (n < GFN_REPLAY_PRT_MIN)
        return 0;
    double thr = gfn_replay_percentile(r, 90.0);
    /* High set: positions [n_lt, n) of the sorted order; low set: [0, n_le).  The
     * threshold lies between two buffer rewards, so both sets are non-empty. */
    int64_t n_lt = gfn_replay_count_below(r, thr, 1), n_le = gfn_replay_count_below(r, thr, 0);
    GFN_ASSERT_CMP(n_lt, <, n);
    GFN_ASSERT_CMP(n_le, >, 0);
    int n_high = (B + 1) / 2;
    for (int k = 0; k < B; k++) {
        int64_t pos = k < n_high
                          ? n_lt + (int64_t)gsl_rng_uniform_int(rng, (unsigned long)(n - n_lt))
                          : (int64_t)gsl_rng_uniform_int(rng, (unsigned long)n_le);
        ranks[k] = gfn_replay_rank_by_reward(r, pos);
    }
    return B;
}
