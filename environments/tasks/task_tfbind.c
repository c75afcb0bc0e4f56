/* task_tfbind.c - the DNA binding tasks tfbind8 (SIX6, 4^8 strings) and tfbind10
 * (PHO4, 4^10 strings) over the letters 0123 (= a, c, g, t).
 *
 * tfbind8:  R = max(10 y^3 / max_x y^3, 0.001); modes = the 328 strings of
 *           data/tfbind8/tfbind8_modes.txt (a greedy Hamming->=2 selection from
 *           the top of y, see data/README.md).
 * tfbind10: R = 10 expit(3y)^3 / max_x expit(3y)^3; modes: R >= 99.5th percentile.
 * Every constant is a task parameter (reward_exp, reward_scale, reward_floor,
 * expit_slope, mode_percentile / mode_top_fraction).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "env_build.h"
#include "task_internal.h"

#define DNA "0123"

int gfn__task_open_tfbind8(const char *name, gfn_params *p, const char *data_dir,
                           gfn_env **out, gfn_error *err)
{
    static const gfn__reward_transform DEF = {3.0, 10.0, 0.001, -INFINITY, 0, 0};
    gfn__reward_transform tf;
    char ypath[1024], mpath[1024];
    int rc;
    if ((rc = gfn__task_read_transform(p, &DEF, &tf, err)) ||
        (rc = gfn__task_path(ypath, sizeof ypath, data_dir, "tfbind8/tfbind8_all.tsv", err)) ||
        (rc = gfn__task_path(mpath, sizeof mpath, data_dir, "tfbind8/tfbind8_modes.txt", err)))
        return rc;
    gfn_env *env;
    double *R;
    uint8_t *modes;
    if ((rc = gfn__task_open_string_env(name, p, DNA, 8, &env, &R, &modes, err)))
        return rc;
    int64_t count = 0;
    rc = gfn__task_read_string_table(ypath, DNA, 8, 1, R, err);
    if (rc == GFN_OK)
        rc = gfn__task_read_string_list(mpath, DNA, 8, modes, &count, err);
    if (rc == GFN_OK)
        gfn__task_apply_transform(&tf, R, gfn_env_terminal_count(env), R);
    return gfn__task_finish(env, R, modes, rc, out, err);
}

/* y[i] = float32 little-endian at byte 4i, i = base-4 rank; the file is exactly
 * 4 * 4^10 bytes. */
static int read_f32le(const char *path, int64_t N, double *y, gfn_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return gfn_error_set(err, GFN_EIO, "%s: cannot open", path);
    unsigned char buf[4096];
    int64_t i = 0;
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        if (i + (int64_t)(got / 4) > N || got % 4) {
            i = -1;
            break;
        }
        for (size_t k = 0; k < got; k += 4) {
            uint32_t u = (uint32_t)buf[k] | (uint32_t)buf[k + 1] << 8 |
                         (uint32_t)buf[k + 2] << 16 | (uint32_t)buf[k + 3] << 24;
            float v;
            memcpy(&v, &u, sizeof v);
            y[i++] = v;
        }
    }
    int bad_read = ferror(f);
    fclose(f);
    if (bad_read)
        return gfn_error_set(err, GFN_EIO, "%s: read error", path);
    if (i != N)
        return gfn_error_set(err, GFN_EMISMATCH, "%s: expected exactly %lld bytes (%lld float32 "
                             "values)", path, (long long)(4 * N), (long long)N);
    for (int64_t k = 0; k < N; k++)
        if (!isfinite(y[k]))
            return gfn_error_set(err, GFN_EFORMAT, "%s: value %lld (byte %lld) is not finite",
                                 path, (long long)k, (long long)(4 * k));
    return GFN_OK;
}

int gfn__task_open_tfbind10(const char *name, gfn_params *p, const char *data_dir,
                            gfn_env **out, gfn_error *err)
{
    static const gfn__reward_transform DEF = {3.0, 10.0, 0.0, -INFINITY, 1, 3.0};
    gfn__reward_transform tf;
    char ypath[1024];
    int rc;
    if ((rc = gfn__task_read_transform(p, &DEF, &tf, err)) ||
        (rc = gfn__task_path(ypath, sizeof ypath, data_dir, "tfbind10/tfbind10_y_f32le.bin",
                             err)))
        return rc;
    gfn_env *env;
    double *R;
    uint8_t *modes;
    if ((rc = gfn__task_open_string_env(name, p, DNA, 10, &env, &R, &modes, err)))
        return rc;
    int64_t N = gfn_env_terminal_count(env);
    rc = read_f32le(ypath, N, R, err);
    if (rc == GFN_OK) {
        gfn__task_apply_transform(&tf, R, N, R);
        rc = gfn__task_modes_by_rule(p, -1, 99.5, R, N, modes, err);
    }
    return gfn__task_finish(env, R, modes, rc, out, err);
}
