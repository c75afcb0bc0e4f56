/* policy_uniform.c - the uniform policy over unique neighbours:
 *   log P(j | s) = -log(number of neighbours),  log f(s, j) = 0.
 * No parameters, no network; backward is a no-op.
 */
#include <math.h>

#include "policy_internal.h"

static void uniform_forward(gfn_policy *p, int i0, int r0, int n, const gfn_state *states)
{
    (void)r0;
    (void)states;
    for (int i = i0; i < i0 + n; i++) {
        double *lf = p->logflow + (size_t)i * GFN_NBR_MAX, *lp = p->logp + (size_t)i * GFN_NBR_MAX;
        for (int j = 0; j < p->n_nbr[i]; j++) {
            lf[j] = 0.0;
            lp[j] = -log((double)p->n_nbr[i]);
        }
    }
}

const gfn_policy_ops gfn__policy_uniform_ops = {
    .flags = 0,
    .forward = uniform_forward,
};
