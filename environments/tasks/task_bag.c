/* task_bag.c - the paper's Bag task (maxwshen/gflownet exps/bag/bag.py).
 *
 * x is a multiset of 13 letters over ABCDEFG (27,132 of them).
 *   R(x) = mode_reward (30)  if x, as a multiset, is in data/bag/bag_mode_multisets.txt,
 *        = big_reward (10)   else if some letter occurs >= big_count (7) times,
 *        = base_reward (0.01) otherwise.
 * The modes are the multisets of the mode file.
 */
#include <stdlib.h>
#include <string.h>

#include "env_build.h"
#include "task_internal.h"

#define BAG_LETTERS "ABCDEFG"
#define BAG_N 13

/* Marks the multisets listed in path (one per line, BAG_N letters in any order). */
static int read_bag_modes(const char *path, const gfn_env *env, uint8_t *modes, gfn_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return gfn_error_set(err, GFN_EIO, "%s: cannot open bag mode file", path);
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int rc = GFN_OK;
    while (rc == GFN_OK && getline(&line, &cap, f) >= 0) {
        lineno++;
        size_t len = strcspn(line, "\r\n");
        gfn_state x;
        memset(&x, 0, sizeof x);
        x.term = 1;
        x.level = BAG_N;
        int ok = len == BAG_N;
        for (size_t i = 0; ok && i < len; i++) {
            const char *c = memchr(BAG_LETTERS, line[i], sizeof BAG_LETTERS - 1);
            ok = c != NULL;
            if (ok)
                x.v[c - BAG_LETTERS]++;
        }
        if (!ok) {
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%ld: expected %d letters of %s, got "
                               "'%.*s'", path, lineno, BAG_N, BAG_LETTERS, (int)len, line);
            break;
        }
        int64_t r = gfn_env_rank(env, &x);
        if (modes[r])
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%ld: multiset %.*s listed twice", path,
                               lineno, (int)len, line);
        modes[r] = 1;
    }
    free(line);
    fclose(f);
    return rc;
}

int gfn__task_open_bag(const char *name, gfn_params *p, const char *data_dir, gfn_env **out,
                       gfn_error *err)
{
    double r_mode, r_big, r_base;
    long big;
    int rc;
    if ((rc = gfn_params_get_double(p, "mode_reward", 30, &r_mode, err)) ||
        (rc = gfn_params_check_range(p, "mode_reward", r_mode, 1e-300, 1e300, err)) ||
        (rc = gfn_params_get_double(p, "big_reward", 10, &r_big, err)) ||
        (rc = gfn_params_check_range(p, "big_reward", r_big, 1e-300, 1e300, err)) ||
        (rc = gfn_params_get_double(p, "base_reward", 0.01, &r_base, err)) ||
        (rc = gfn_params_check_range(p, "base_reward", r_base, 1e-300, 1e300, err)) ||
        (rc = gfn_params_get_int(p, "big_count", 7, &big, err)) ||
        (rc = gfn_params_check_range(p, "big_count", (double)big, 1, BAG_N, err)))
        return rc;
    char path[1024];
    if ((rc = gfn__task_path(path, sizeof path, data_dir, "bag/bag_mode_multisets.txt", err)))
        return rc;
    gfn_env *env = gfn_env_bag_alloc(name, 7, BAG_N, (int)big, BAG_LETTERS, err);
    if (!env)
        return err ? err->code : GFN_EVALUE;
    int64_t N = gfn_env_terminal_count(env);
    double *R;
    uint8_t *modes;
    if ((rc = gfn__task_alloc_rewards(name, N, &R, &modes, err))) {
        gfn_env_free(env);
        return rc;
    }
    if ((rc = read_bag_modes(path, env, modes, err))) {
        free(R);
        free(modes);
        gfn_env_free(env);
        return rc;
    }
    for (int64_t i = 0; i < N; i++) {
        gfn_state x;
        gfn_env_unrank_terminal(env, i, &x);
        int mx = 0;
        for (int c = 0; c < 7; c++)
            mx = x.v[c] > mx ? x.v[c] : mx;
        R[i] = modes[i] ? r_mode : mx >= big ? r_big : r_base;
    }
    if ((rc = gfn_env_set_rewards(env, R, modes, err))) {
        gfn_env_free(env);
        return rc;
    }
    *out = env;
    return GFN_OK;
}
