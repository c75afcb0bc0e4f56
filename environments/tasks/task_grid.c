/* task_grid.c - the hypergrid task (torchgfn's standard benchmark).
 *
 *   R(x) = r0 + r1 prod_i 1[0.25 < |x_i/(H-1) - 0.5| <= 0.5]
 *             + r2 prod_i 1[0.3 < |x_i/(H-1) - 0.5| < 0.4]
 * over x in {0..H-1}^D; the modes are the points with the maximum reward.
 */
#include <math.h>
#include <stdlib.h>

#include "env_build.h"
#include "task_internal.h"

static double grid_reward(const gfn_state *x, int D, int H, double r0, double r1, double r2)
{
    int outer = 1, ring = 1;
    for (int i = 0; i < D; i++) {
        double a = fabs((double)x->v[i] / (H - 1) - 0.5);
        outer &= a > 0.25 && a <= 0.5;
        ring &= a > 0.3 && a < 0.4;
    }
    return r0 + r1 * outer + r2 * ring;
}

int gfn__task_open_grid(const char *name, gfn_params *p, const char *data_dir, gfn_env **out,
                        gfn_error *err)
{
    (void)data_dir;
    long D, H;
    double r0, r1, r2;
    int rc;
    if ((rc = gfn_params_get_int(p, "dim", 4, &D, err)) ||
        (rc = gfn_params_check_range(p, "dim", (double)D, 1, GFN_STATE_MAX, err)) ||
        (rc = gfn_params_get_int(p, "side", 8, &H, err)) ||
        (rc = gfn_params_check_range(p, "side", (double)H, 2, 255, err)) ||
        (rc = gfn_params_get_double(p, "r0", 0.1, &r0, err)) ||
        (rc = gfn_params_check_range(p, "r0", r0, 1e-300, 1e300, err)) ||
        (rc = gfn_params_get_double(p, "r1", 0.5, &r1, err)) ||
        (rc = gfn_params_check_range(p, "r1", r1, 0, 1e300, err)) ||
        (rc = gfn_params_get_double(p, "r2", 2.0, &r2, err)) ||
        (rc = gfn_params_check_range(p, "r2", r2, 0, 1e300, err)))
        return rc;
    gfn_env *env = gfn_env_grid_alloc(name, (int)D, (int)H, err);
    if (!env)
        return err ? err->code : GFN_EVALUE;
    int64_t N = gfn_env_terminal_count(env);
    double *R;
    uint8_t *modes;
    if ((rc = gfn__task_alloc_rewards(name, N, &R, &modes, err))) {
        gfn_env_free(env);
        return rc;
    }
    double mx = 0;
    for (int64_t i = 0; i < N; i++) {
        gfn_state x;
        gfn_env_unrank_terminal(env, i, &x);
        R[i] = grid_reward(&x, (int)D, (int)H, r0, r1, r2);
        mx = R[i] > mx ? R[i] : mx;
    }
    for (int64_t i = 0; i < N; i++)
        modes[i] = R[i] == mx;
    if ((rc = gfn_env_set_rewards(env, R, modes, err))) {
        gfn_env_free(env);
        return rc;
    }
    *out = env;
    return GFN_OK;
}
