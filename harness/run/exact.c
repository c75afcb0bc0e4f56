/* exact.c - forward dynamic programming for p_theta over all terminals.  See exact.h. */
#include "exact.h"

#include "ksum.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Pushes the mass of one chunk of level-L states (P is their mass, m of them) to
 * their children: next level (next) or terminals (p_theta). */
static void push_chunk(const gfn_env *env, gfn_policy *pf, int m, const double *P, double *next,
                       double *p_theta)
{
    const double *logp = gfn_policy_logp(pf);
    for (int i = 0; i < m; i++) {
        if (P[i] == 0.0)
            continue;
        const gfn_state *kids = gfn_policy_nbrs(pf, i);
        int n = gfn_policy_n_nbr(pf, i);
        for (int j = 0; j < n; j++) {
            double q = P[i] * exp(logp[(size_t)i * GFN_NBR_MAX + j]);
            int64_t r = gfn_env_rank(env, &kids[j]);
            if (kids[j].term)
                p_theta[r] += q;
            else
                next[r] += q;
        }
    }
}

int gfn_exact_p_theta(const gfn_env *env, gfn_policy *pf, int chunk, double *p_theta,
                      double *total_mass, gfn_exact_progress_fn progress, void *ctx,
                      gfn_error *err)
{
    /* The policy's registry row gives the chunk (SSR encodes every neighbour of
     * every state, so a smaller chunk keeps its workspace modest). */
    if (chunk <= 0)
        chunk = gfn_policy_get_info(pf)->eval_rows;
    if (gfn_policy_row_cap(pf) < chunk) {
        int rc = gfn_policy_reserve(pf, chunk, err);
        if (rc)
            return rc;
    }
    chunk = gfn_policy_row_cap(pf);
    int n = gfn_env_max_level(env);
    int64_t widest = 0, X = gfn_env_terminal_count(env), total = gfn_env_state_count(env);
    for (int L = 0; L <= n; L++)
        if (gfn_env_level_count(env, L) > widest)
            widest = gfn_env_level_count(env, L);
    double *cur = calloc((size_t)widest, sizeof(double));
    double *next = calloc((size_t)widest, sizeof(double));
    gfn_state *states = malloc((size_t)chunk * sizeof(gfn_state));
    if (!cur || !next || !states) {
        free(cur);
        free(next);
        free(states);
        return gfn_error_set(err, GFN_ENOMEM, "exact evaluation: out of memory (%lld states per level)",
                             (long long)widest);
    }
    memset(p_theta, 0, (size_t)X * sizeof(double));
    cur[0] = 1.0; /* level 0 holds s_0 only */
    int64_t done = 0;
    for (int L = 0; L <= n; L++) {
        int64_t count = gfn_env_level_count(env, L);
        int64_t next_count = L < n ? gfn_env_level_count(env, L + 1) : 0;
        memset(next, 0, (size_t)(next_count > 0 ? next_count : 1) * sizeof(double));
        for (int64_t r0 = 0; r0 < count; r0 += chunk) {
            int m = (int)(count - r0 < chunk ? count - r0 : chunk);
            for (int i = 0; i < m; i++)
                gfn_env_unrank(env, L, r0 + i, &states[i]);
            gfn_policy_forward_logp(pf, m, states);
            push_chunk(env, pf, m, cur + r0, next, p_theta);
            done += m;
            if (progress)
                progress(ctx, (double)done / (double)total);
        }
        double *tmp = cur;
        cur = next;
        next = tmp;
    }
    free(cur);
    free(next);
    free(states);
    gfn_ksum mass = {0, 0};
    for (int64_t x = 0; x < X; x++) {
        double v = p_theta[x];
        if (!isfinite(v))
            return gfn_error_set(err, GFN_ENONFINITE, "exact evaluation: p_theta of terminal %lld is %g",
                                 (long long)x, v);
        gfn_ksum_add(&mass, v);
    }
    if (total_mass)
        *total_mass = gfn_ksum_get(&mass);
    return GFN_OK;
}
