/* replay_uniform.c - the uniform replay scheme: B x uniformly from the buffer,
 * with replacement (docs/method.md section 6). */
#include "replay.h"

int gfn_replay_draw_uniform(const gfn_replay *r, gsl_rng *rng, int B, int64_t *ranks)
{
    int64_t n = gfn_replay_size(r);
    if (n == 0)
        return 0;
    for (int k = 0; k < B; k++)
        ranks[k] = gfn_replay_rank_at(r, (int64_t)gsl_rng_uniform_int(rng, (unsigned long)n));
    return B;
}
