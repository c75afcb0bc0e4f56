/* task_table.c - "table": a user's own reward table for a string task, so that a
 * task can be added without writing C.
 *
 * Keys: file=PATH (rows x<TAB>y, every string of length n over the alphabet
 * exactly once, n taken from the first row, at most 2^24 strings; a first row
 * whose y is not a number, such as "x<TAB>y", is a header and skipped),
 * alphabet=LETTERS (e.g. ACGT),
 * mdp=pa|ar, and the reward transform of every string task:
 *   R = max(reward_scale * max(y, reward_clip)^reward_exp / max_x(...), reward_floor)
 * (defaults 1, -inf, 1, 0: R = y / max y, so y must then be positive; every R
 * must come out finite and > 0, else the row is named), with modes
 * the top mode_top_fraction (0.005) or R >= the mode_percentile-th percentile.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "env_build.h"
#include "task_internal.h"

/* The largest table: A^n strings (R, modes and a seen flag: 10 bytes each). */
#define TABLE_MAX_STRINGS (1LL << 24)

/* Length n of the x of the first data row of path (a header row, whose y is not
 * a number, is skipped), checked letter by letter and with A^n capped before
 * anything is allocated. */
static int first_row_length(const char *path, const char *alphabet, int *n, gfn_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return gfn_error_set(err, GFN_EIO, "%s: cannot open reward table", path);
    char *line = NULL, shown[200];
    size_t cap = 0;
    int rc = GFN_OK, lineno = 0;
    for (;;) {
        lineno++;
        errno = 0;
        if (getline(&line, &cap, f) < 0) {
            if (ferror(f)) { /* a folder, or an I/O error: not an "empty file" */
                rc = gfn_error_set(err, GFN_EIO, "%s: cannot read reward table: %s", path,
                                   strerror(errno ? errno : EIO));
                break;
            }
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%d: %s, expected rows x<TAB>y", path,
                               lineno, lineno == 1 ? "empty file" : "no data row after the header");
            break;
        }
        line[strcspn(line, "\r\n")] = '\0';
        char *tab = strchr(line, '\t'), *end;
        if (lineno == 1 && tab) {
            strtod(tab + 1, &end);
            if (end == tab + 1 && strspn(line, alphabet) != (size_t)(tab - line))
                continue; /* header row */
        }
        size_t k = strspn(line, alphabet);
        if (!tab || k != (size_t)(tab - line) || k < 1 || k > GFN_STATE_MAX) {
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%d: expected x<TAB>y with x of 1 to %d "
                               "letters of '%s', got '%s'", path, lineno, GFN_STATE_MAX,
                               alphabet, gfn_text_quote(shown, sizeof shown, line, 40));
            break;
        }
        long long N = 1;
        int A = (int)strlen(alphabet);
        for (size_t i = 0; i < k && N <= TABLE_MAX_STRINGS; i++)
            N *= A;
        if (N > TABLE_MAX_STRINGS) {
            rc = gfn_error_set(err, GFN_EVALUE, "%s:%d: strings of %zu letters over '%s' make "
                               "more than %lld rows (%d^%zu); the table task allows at most %lld",
                               path, lineno, k, alphabet, TABLE_MAX_STRINGS, A, k,
                               TABLE_MAX_STRINGS);
            break;
        }
        *n = (int)k;
        break;
    }
    free(line);
    fclose(f);
    return rc;
}

/* Every R must be finite and > 0: y <= 0 under the default transform (R = y /
 * max y) would flip signs or give zero rewards. */
static int check_rewards(const char *path, const char *alphabet, int n,
                         const gfn__reward_transform *tf, const double *y, const double *R,
                         int64_t N, gfn_error *err)
{
    int any_positive = 0;
    for (int64_t r = 0; r < N && !any_positive; r++)
        any_positive = (y[r] > tf->clip ? y[r] : tf->clip) > 0;
    for (int64_t r = 0; r < N; r++) {
        double base = y[r] > tf->clip ? y[r] : tf->clip;
        if (isfinite(R[r]) && R[r] > 0 && (base > 0 || (tf->floor > 0 && any_positive)))
            continue;
        char x[GFN_STATE_MAX + 1];
        int A = (int)strlen(alphabet);
        int64_t q = r;
        for (int i = n - 1; i >= 0; i--, q /= A)
            x[i] = alphabet[q % A];
        x[n] = '\0';
        return gfn_error_set(err, GFN_EVALUE,
                             "%s:%lld: y of %s is %.17g, which gives reward %g; y (after "
                             "reward_clip) and rewards must be finite and > 0 (R = reward_scale * max(y, reward_clip)^reward_exp / "
                             "max, at least reward_floor: for y <= 0 set reward_clip or "
                             "reward_floor > 0, or shift y)",
                             path, (long long)gfn__task_table_line_of(path, alphabet, n, r), x,
                             y[r], R[r]);
    }
    return GFN_OK;
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
        (rc = first_row_length(file, alphabet, &n, err)))
        return rc;
    gfn_env *env;
    double *R;
    uint8_t *modes;
    if ((rc = gfn__task_open_string_env(name, p, alphabet, n, &env, &R, &modes, err)))
        return rc;
    int64_t N = gfn_env_terminal_count(env);
    double *y = malloc(sizeof *y * (size_t)N);
    rc = y ? gfn__task_read_string_table(file, alphabet, n, GFN__TABLE_HEADER, y, err)
           : gfn_error_set(err, GFN_ENOMEM, "%s: out of memory for %lld rows", file, (long long)N);
    if (rc == GFN_OK) {
        gfn__task_apply_transform(&tf, y, N, R);
        rc = check_rewards(file, alphabet, n, &tf, y, R, N, err);
    }
    free(y);
    if (rc == GFN_OK)
        rc = gfn__task_modes_by_rule(p, 0.005, -1, R, N, modes, err);
    return gfn__task_finish(env, R, modes, rc, out, err);
}
