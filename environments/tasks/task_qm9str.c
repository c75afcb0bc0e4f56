/* task_qm9str.c - qm9str: strings of 5 of 11 molecular blocks (symbols 0-9, a),
 * 11^5 = 161,051 strings, y a HOMO-LUMO-gap proxy from data/qm9str.
 *   R = 100 max(y, 1e-3)^5 / max_x max(y, 1e-3)^5;  modes: the top int(0.005 |X|) = 805.
 */
#include <math.h>

#include "env_build.h"
#include "task_internal.h"

#define QM9_BLOCKS "0123456789a"

int gfn__task_open_qm9str(const char *name, gfn_params *p, const char *data_dir,
                          gfn_env **out, gfn_error *err)
{
    static const gfn__reward_transform DEF = {5.0, 100.0, 0.0, 1e-3, 0, 0};
    gfn__reward_transform tf;
    char ypath[1024];
    int rc;
    if ((rc = gfn__task_read_transform(p, &DEF, &tf, err)) ||
        (rc = gfn__task_path(ypath, sizeof ypath, data_dir, "qm9str/qm9str_rewards.tsv", err)))
        return rc;
    gfn_env *env;
    double *R;
    uint8_t *modes;
    if ((rc = gfn__task_open_string_env(name, p, QM9_BLOCKS, 5, &env, &R, &modes, err)))
        return rc;
    int64_t N = gfn_env_terminal_count(env);
    rc = gfn__task_read_string_table(ypath, QM9_BLOCKS, 5, 1, R, err);
    if (rc == GFN_OK) {
        gfn__task_apply_transform(&tf, R, N, R);
        rc = gfn__task_modes_by_rule(p, 0.005, -1, R, N, modes, err);
    }
    return gfn__task_finish(env, R, modes, rc, out, err);
}
