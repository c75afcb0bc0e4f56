/* task_synth.c - a small synthetic string task for tests and quick checks.
 *
 * Strings of length n over the first `alphabet` letters of "abcd...", pa or ar.
 * R(x) = 0.1 + 10 u(x)^3 with u(x) in [0, 1) from a 64-bit mix (splitmix64) of
 * the string's rank and reward_seed (not the training seed): deterministic, positive and skewed like the
 * DNA tasks.  Modes: the top mode_top_fraction (default 5%) by reward.
 */
#include <stdlib.h>

#include "env_build.h"
#include "task_internal.h"

static uint64_t splitmix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int gfn__task_open_synth(const char *name, gfn_params *p, const char *data_dir,
                         gfn_env **out, gfn_error *err)
{
    (void)data_dir;
    static const char LETTERS[] = "abcdefghijklmnopqrst";
    const char *mdp;
    long A, n, seed;
    int rc;
    if ((rc = gfn_params_get_choice(p, "mdp", "pa|ar", "pa", &mdp, err)) ||
        (rc = gfn_params_get_int(p, "alphabet", 3, &A, err)) ||
        (rc = gfn_params_check_range(p, "alphabet", (double)A, 1, 20, err)) ||
        (rc = gfn_params_get_int(p, "n", 4, &n, err)) ||
        (rc = gfn_params_check_range(p, "n", (double)n, 1, 16, err)) ||
        (rc = gfn_params_get_int(p, "reward_seed", 0, &seed, err)))
        return rc;
    char letters[24];
    snprintf(letters, sizeof letters, "%.*s", (int)A, LETTERS);
    gfn_env *env = gfn_env_string_alloc(name, mdp, (int)A, (int)n, letters, err);
    if (!env)
        return err ? err->code : GFN_EVALUE;
    int64_t N = gfn_env_terminal_count(env);
    double *R;
    uint8_t *modes;
    if ((rc = gfn__task_alloc_rewards(name, N, &R, &modes, err))) {
        gfn_env_free(env);
        return rc;
    }
    for (int64_t i = 0; i < N; i++) {
        uint64_t h = splitmix64((uint64_t)i ^ splitmix64((uint64_t)seed));
        double u = (double)(h >> 11) * 0x1.0p-53;
        R[i] = 0.1 + 10.0 * u * u * u;
    }
    if ((rc = gfn__task_modes_by_rule(p, 0.05, -1, R, N, modes, err)) ||
        (rc = gfn_env_set_rewards(env, R, modes, err))) {
        if (rc && !gfn_env_rewards(env)) {
            free(R);
            free(modes);
        }
        gfn_env_free(env);
        return rc;
    }
    *out = env;
    return GFN_OK;
}
