/* task_table.c - "table": a user's own reward table for a string task, so that a
 * task can be added without writing C.
 *
 * Keys: file=PATH (rows x<TAB>y, every string of length n over the alphabet
 * exactly once, n taken from the first row), alphabet=LETTERS (e.g. ACGT),
 * mdp=pa|ar, and the reward transform of every string task:
 *   R = max(reward_scale * max(y, reward_clip)^reward_exp / max_x(...), reward_floor)
 * (defaults 1, -inf, 1, 0: R = y / max y, so y must then be positive), with modes
 * the top mode_top_fraction (0.005) or R >= the mode_percentile-th percentile.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "env_build.h"
#include "task_internal.h"

/* Length of the x of the first row of path (up to the first TAB). */
static int first_row_length(const char *path, int *n, gfn_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return gfn_error_set(err, GFN_EIO, "%s: cannot open reward table", path);
    char buf[256];
    int rc = GFN_OK;
    if (!fgets(buf, sizeof buf, f))
        rc = gfn_error_set(err, GFN_EFORMAT, "%s:1: empty file, expected rows x<TAB>y", path);
    else {
        char *tab = strchr(buf, '\t');
        *n = tab ? (int)(tab - buf) : 0;
        if (*n < 1 || *n > GFN_STATE_MAX)
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:1: expected x<TAB>y with x of 1 to %d "
                               "letters, got '%.40s'", path, GFN_STATE_MAX, buf);
    }
    fclose(f);
    return rc;
}

static int check_alphabet(gfn_params *p, const char *alphabet, gfn_error *err)
{
    int A = (int)strlen(alphabet);
    const gfn_param *e = gfn_params_find(p, "alphabet");
    for (int i = 0; i < A; i++)
        if (alphabet[i] == '\t' || alphabet[i] == ' ' || strchr(alphabet + i + 1, alphabet[i]))
            return gfn_error_set(err, GFN_EVALUE, "%s: alphabet '%s': expected distinct "
                                 "printable letters", e ? e->where : "", alphabet);
    if (A < 1 || A > 20)
        return gfn_error_set(err, GFN_EVALUE, "%s: alphabet '%s': expected 1 to 20 letters",
                             e ? e->where : "", alphabet);
    return GFN_OK;
}

int gfn__task_open_table(const char *name, gfn_params *p, const char *data_dir,
                         gfn_env **out, gfn_error *err)
{
    (void)data_dir;
    static const gfn__reward_transform DEF = {1.0, 1.0, 0.0, -INFINITY, 0, 0};
    gfn__reward_transform tf;
    const char *file, *alphabet;
    int rc, n = 0;
    if ((rc = gfn_params_get_string(p, "file", "", &file, err)) ||
        (rc = gfn_params_get_string(p, "alphabet", "", &alphabet, err)))
        return rc;
    if (!file[0] || !alphabet[0])
        return gfn_error_set(err, GFN_EVALUE, "task table: keys file=PATH and alphabet=LETTERS "
                             "are required");
    if ((rc = check_alphabet(p, alphabet, err)) ||
        (rc = gfn__task_read_transform(p, &DEF, &tf, err)) ||
        (rc = first_row_length(file, &n, err)))
        return rc;
    gfn_env *env;
    double *R;
    uint8_t *modes;
    if ((rc = gfn__task_open_string_env(name, p, alphabet, n, &env, &R, &modes, err)))
        return rc;
    int64_t N = gfn_env_terminal_count(env);
    rc = gfn__task_read_string_table(file, alphabet, n, 0, R, err);
    if (rc == GFN_OK) {
        gfn__task_apply_transform(&tf, R, N, R);
        rc = gfn__task_modes_by_rule(p, 0.005, -1, R, N, modes, err);
    }
    return gfn__task_finish(env, R, modes, rc, out, err);
}
