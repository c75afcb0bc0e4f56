/* task_util.c - pieces shared by the task loaders: the reward transform, the mode
 * rules, and the readers of string tables and string lists.
 *
 * Reward transform: g(y) = max(h(y), clip) with h(y) = y or expit(slope y) =
 * 1/(1+exp(-slope y)), then R = max(scale * g^e / max_x g^e, floor).
 * Percentile (numpy.percentile, method "linear"): with a the rewards sorted
 * ascending, v = q/100 * (N-1), i = floor(v), t = v - i,
 *   P = a_i + (a_{i+1} - a_i) t       when t < 0.5,
 *   P = a_{i+1} - (a_{i+1} - a_i)(1-t) otherwise   (numpy's _lerp, for bit equality).
 * Only the top N-i values are needed, so a min-heap of that size replaces a sort
 * (34,013 doubles instead of 34M for sehstr).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "env_build.h"
#include "task_internal.h"

int gfn__task_alloc_rewards(const char *name, int64_t N, double **R, uint8_t **modes,
                            gfn_error *err)
{
    *R = malloc(sizeof **R * (size_t)N);
    *modes = calloc((size_t)N, 1);
    if (!*R || !*modes) {
        free(*R);
        free(*modes);
        *R = NULL;
        *modes = NULL;
        return gfn_error_set(err, GFN_ENOMEM, "task '%s': out of memory for %lld rewards", name,
                             (long long)N);
    }
    return GFN_OK;
}

int gfn__task_path(char *buf, int cap, const char *data_dir, const char *rel, gfn_error *err)
{
    int k = snprintf(buf, (size_t)cap, "%s/%s", data_dir, rel);
    if (k < 0 || k >= cap)
        return gfn_error_set(err, GFN_EVALUE, "data_dir '%s': path too long", data_dir);
    return GFN_OK;
}

/* ---- building string tasks ---------------------------------------------- */
/* Opens the string env of the task with its mdp key (pa by default). */
int gfn__task_open_string_env(const char *name, gfn_params *p, const char *letters, int n,
                              gfn_env **env, double **R, uint8_t **modes, gfn_error *err)
{
    const char *mdp;
    int rc = gfn_params_get_choice(p, "mdp", "pa|ar", "pa", &mdp, err);
    if (rc)
        return rc;
    *env = gfn_env_string_alloc(name, mdp, (int)strlen(letters), n, letters, err);
    if (!*env)
        return err ? err->code : GFN_EVALUE;
    if ((rc = gfn__task_alloc_rewards(name, gfn_env_terminal_count(*env), R, modes, err))) {
        gfn_env_free(*env);
        *env = NULL;
    }
    return rc;
}

int gfn__task_finish(gfn_env *env, double *R, uint8_t *modes, int rc, gfn_env **out,
                    gfn_error *err)
{
    if (rc == GFN_OK)
        rc = gfn_env_set_rewards(env, R, modes, err);
    else {
        free(R);
        free(modes);
    }
    if (rc != GFN_OK) {
        gfn_env_free(env);
        return rc;
    }
    *out = env;
    return GFN_OK;
}

/* ---- reward transform --------------------------------------------------- */
int gfn__task_read_transform(gfn_params *p, const gfn__reward_transform *def,
                             gfn__reward_transform *out, gfn_error *err)
{
    int rc;
    *out = *def;
    if ((rc = gfn_params_get_double(p, "reward_exp", def->exponent, &out->exponent, err)) ||
        (rc = gfn_params_check_range(p, "reward_exp", out->exponent, 1e-300, 1e300, err)) ||
        (rc = gfn_params_get_double(p, "reward_scale", def->scale, &out->scale, err)) ||
        (rc = gfn_params_check_range(p, "reward_scale", out->scale, 1e-300, 1e300, err)) ||
        (rc = gfn_params_get_double(p, "reward_floor", def->floor, &out->floor, err)) ||
        (rc = gfn_params_check_range(p, "reward_floor", out->floor, 0, 1e300, err)))
        return rc;
    /* reward_clip may be -inf ("no clip"), which the strict getter refuses. */
    const gfn_param *c = gfn_params_find(p, "reward_clip");
    if (c && strcmp(c->val, "-inf") == 0) {
        const char *ignored;
        gfn_params_get_string(p, "reward_clip", "", &ignored, err);
        out->clip = -INFINITY;
    } else if ((rc = gfn_params_get_double(p, "reward_clip", def->clip, &out->clip, err))) {
        return rc;
    }
    if (def->expit &&
        (rc = gfn_params_get_double(p, "expit_slope", def->slope, &out->slope, err)))
        return rc;
    return GFN_OK;
}

static double transform_g(const gfn__reward_transform *t, double y)
{
    double h = t->expit ? 1.0 / (1.0 + exp(-t->slope * y)) : y;
    return pow(h > t->clip ? h : t->clip, t->exponent);
}

void gfn__task_apply_transform(const gfn__reward_transform *t, const double *y, int64_t N,
                               double *R)
{
    double mx = -INFINITY;
    for (int64_t i = 0; i < N; i++) {
        double g = transform_g(t, y[i]);
        if (g > mx)
            mx = g;
    }
    for (int64_t i = 0; i < N; i++) {
        /* g / mx first, so that the maximum reward is exactly scale */
        double r = t->scale * (transform_g(t, y[i]) / mx);
        R[i] = r > t->floor ? r : t->floor;
    }
}

/* ---- mode rules --------------------------------------------------------- */
static void heap_sift_down(double *h, int64_t K, int64_t i)
{
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < K && h[l] < h[m])
            m = l;
        if (r < K && h[r] < h[m])
            m = r;
        if (m == i)
            return;
        double t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* heap is (K): on return a min-heap of the K largest values of R (K <= N). */
static void top_values(const double *R, int64_t N, int64_t K, double *heap)
{
    for (int64_t i = 0; i < K; i++)
        heap[i] = R[i];
    for (int64_t i = K / 2 - 1; i >= 0; i--)
        heap_sift_down(heap, K, i);
    for (int64_t i = K; i < N; i++)
        if (R[i] > heap[0]) {
            heap[0] = R[i];
            heap_sift_down(heap, K, 0);
        }
}

static int64_t mark_at_least(const double *R, int64_t N, double thr, uint8_t *modes)
{
    int64_t c = 0;
    for (int64_t i = 0; i < N; i++) {
        modes[i] = R[i] >= thr;
        c += modes[i];
    }
    return c;
}

int gfn__task_modes_top(const double *R, int64_t N, int64_t k, uint8_t *modes, gfn_error *err)
{
    if (k < 1 || k > N)
        return gfn_error_set(err, GFN_EVALUE, "mode rule selects %lld of %lld terminals "
                             "(expected at least 1)", (long long)k, (long long)N);
    double *heap = malloc(sizeof *heap * (size_t)k);
    if (!heap)
        return gfn_error_set(err, GFN_ENOMEM, "out of memory for the mode threshold");
    top_values(R, N, k, heap);
    mark_at_least(R, N, heap[0], modes);
    free(heap);
    return GFN_OK;
}

int gfn__task_modes_percentile(const double *R, int64_t N, double q, uint8_t *modes,
                               gfn_error *err)
{
    double v = q / 100.0 * (double)(N - 1);
    int64_t i = (int64_t)floor(v);
    double t = v - (double)i;
    int64_t K = N - i; /* a_i is the K-th largest value, a_{i+1} the (K-1)-th */
    double *heap = malloc(sizeof *heap * (size_t)K);
    if (!heap)
        return gfn_error_set(err, GFN_ENOMEM, "out of memory for the mode threshold");
    top_values(R, N, K, heap);
    double a = heap[0], b = a;
    if (K >= 2)
        b = K >= 3 && heap[2] < heap[1] ? heap[2] : heap[1];
    free(heap);
    double d = b - a;
    double thr = t < 0.5 ? a + d * t : b - d * (1.0 - t);
    mark_at_least(R, N, thr, modes);
    return GFN_OK;
}

int gfn__task_modes_by_rule(gfn_params *p, double def_fraction, double def_percentile,
                            const double *R, int64_t N, uint8_t *modes, gfn_error *err)
{
    int has_f = gfn_params_has(p, "mode_top_fraction"), has_q = gfn_params_has(p,
                                                                            "mode_percentile");
    if (has_f && has_q)
        return gfn_error_set(err, GFN_EVALUE, "give mode_top_fraction or mode_percentile, "
                             "not both");
    int rc;
    if (has_q || (!has_f && def_percentile >= 0)) {
        double q;
        if ((rc = gfn_params_get_double(p, "mode_percentile", def_percentile, &q, err)) ||
            (rc = gfn_params_check_range(p, "mode_percentile", q, 0, 100, err)))
            return rc;
        return gfn__task_modes_percentile(R, N, q, modes, err);
    }
    double f;
    if ((rc = gfn_params_get_double(p, "mode_top_fraction", def_fraction, &f, err)) ||
        (rc = gfn_params_check_range(p, "mode_top_fraction", f, 0, 1, err)))
        return rc;
    /* int(f * N) as the authors' Python does; at least one mode. */
    int64_t k = (int64_t)(f * (double)N);
    return gfn__task_modes_top(R, N, k < 1 ? 1 : k, modes, err);
}

/* ---- string files --------------------------------------------------------- */
/* Parses the string at s (up to a TAB, newline or end) into its base-A rank;
 * returns the number of characters used, or -1 when a symbol is not a letter or
 * the length is not n. */
static int parse_string(const char *s, const char *letters, int n, int64_t *rank)
{
    int A = (int)strlen(letters), k = 0;
    int64_t r = 0;
    while (s[k] && s[k] != '\t' && s[k] != '\n' && s[k] != '\r') {
        const char *c = memchr(letters, s[k], (size_t)A);
        if (!c || k >= n)
            return -1;
        r = r * A + (c - letters);
        k++;
    }
    if (k != n)
        return -1;
    *rank = r;
    return k;
}

static void chomp(char *line)
{
    size_t k = strlen(line);
    while (k > 0 && (line[k - 1] == '\n' || line[k - 1] == '\r'))
        line[--k] = '\0';
}

static int64_t count_strings(const char *letters, int n)
{
    int64_t N = 1;
    for (int i = 0; i < n; i++)
        N *= (int64_t)strlen(letters);
    return N;
}

/* Writes the string of rank r into buf (n + 1 bytes). */
static void format_rank(int64_t r, const char *letters, int n, char *buf)
{
    int A = (int)strlen(letters);
    for (int i = n - 1; i >= 0; i--) {
        buf[i] = letters[r % A];
        r /= A;
    }
    buf[n] = '\0';
}

static int check_all_seen(const char *path, const uint8_t *seen, int64_t N, int64_t rows,
                          const char *letters, int n, gfn_error *err)
{
    for (int64_t r = 0; r < N; r++)
        if (!seen[r]) {
            char buf[64];
            format_rank(r, letters, n, buf);
            return gfn_error_set(err, GFN_EMISMATCH,
                                 "%s: %lld rows, expected one for each of the %lld strings of "
                                 "length %d over '%s' (first missing: %s)",
                                 path, (long long)rows, (long long)N, n, letters, buf);
        }
    return GFN_OK;
}

/* A y field: the whole text is a finite number. */
static int parse_y(const char *ys, int as_float32, double *v)
{
    char *end;
    *v = as_float32 ? (double)strtof(ys, &end) : strtod(ys, &end);
    return end != ys && *end == '\0' && isfinite(*v) && ys[0] != ' ' && ys[0] != '\t';
}

int gfn__task_read_string_table(const char *path, const char *letters, int n, int flags,
                                double *y, gfn_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return gfn_error_set(err, GFN_EIO, "%s: cannot open reward table", path);
    int64_t N = count_strings(letters, n), rows = 0, lineno = 0;
    uint8_t *seen = calloc((size_t)N, 1);
    char *line = NULL;
    size_t cap = 0;
    char shown[200];
    int rc = seen ? GFN_OK : gfn_error_set(err, GFN_ENOMEM, "%s: out of memory", path);
    ssize_t len;
    while (rc == GFN_OK && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if ((size_t)len != strlen(line)) {
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%lld: a NUL byte in the line (expected "
                               "text rows x<TAB>y)", path, (long long)lineno);
            break;
        }
        chomp(line);
        const char *tab = strchr(line, '\t');
        double v;
        if (lineno == 1 && (flags & GFN__TABLE_HEADER) && tab && !parse_y(tab + 1, 0, &v) &&
            parse_string(line, letters, n, &(int64_t){0}) < 0)
            continue; /* a header row such as "x<TAB>y" (what pandas writes) */
        rows++;
        int64_t r;
        int k = parse_string(line, letters, n, &r);
        if (k < 0 || line[k] != '\t') {
            rc = gfn_error_set(err, GFN_EFORMAT,
                               "%s:%lld: expected x<TAB>y with x a string of %d letters of "
                               "'%s', got '%s'", path, (long long)lineno, n, letters,
                               gfn_text_quote(shown, sizeof shown, line, 40));
            break;
        }
        const char *ys = line + k + 1;
        if (!parse_y(ys, flags & GFN__TABLE_F32, &v)) {
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%lld: expected a finite number after the "
                               "TAB, got '%s'", path, (long long)lineno,
                               gfn_text_quote(shown, sizeof shown, ys, 40));
            break;
        }
        if (seen[r]) {
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%lld: string %.*s appears a second time",
                               path, (long long)lineno, n, line);
            break;
        }
        seen[r] = 1;
        y[r] = v;
    }
    if (rc == GFN_OK && ferror(f))
        rc = gfn_error_set(err, GFN_EIO, "%s: read error", path);
    if (rc == GFN_OK)
        rc = check_all_seen(path, seen, N, rows, letters, n, err);
    free(line);
    free(seen);
    fclose(f);
    return rc;
}

int64_t gfn__task_table_line_of(const char *path, const char *letters, int n, int64_t r)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    int64_t lineno = 0, found = 0;
    while (!found && getline(&line, &cap, f) >= 0) {
        lineno++;
        int64_t q;
        int k = parse_string(line, letters, n, &q);
        if (k >= 0 && line[k] == '\t' && q == r)
            found = lineno;
    }
    free(line);
    fclose(f);
    return found;
}

int gfn__task_read_string_list(const char *path, const char *letters, int n, uint8_t *flags,
                               int64_t *count, gfn_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return gfn_error_set(err, GFN_EIO, "%s: cannot open string list", path);
    char *line = NULL;
    size_t cap = 0;
    int64_t rows = 0;
    int rc = GFN_OK;
    while (getline(&line, &cap, f) >= 0) {
        rows++;
        chomp(line);
        int64_t r;
        int k = parse_string(line, letters, n, &r);
        if (k < 0 || line[k] != '\0') {
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%lld: expected a string of %d letters of "
                               "'%s', got '%.40s'", path, (long long)rows, n, letters, line);
            break;
        }
        if (flags[r]) {
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%lld: string %s appears a second time",
                               path, (long long)rows, line);
            break;
        }
        flags[r] = 1;
    }
    if (rc == GFN_OK && ferror(f))
        rc = gfn_error_set(err, GFN_EIO, "%s: read error", path);
    free(line);
    fclose(f);
    if (count)
        *count = rows;
    return rc;
}
