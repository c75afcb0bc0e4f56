/* task.c - the task registry (one table line per task) and the exact target
 * statistics of a task.
 *
 *   Z = sum_x R(x),  E_p*[R] = sum_x R(x)^2 / Z,  uniform mean = Z / |X|,
 * each sum taken with Neumaier's compensated summation (the running sum s and a
 * correction c collecting the low-order bits lost by s + R), exact to ~1e-16
 * relative for positive terms.
 *
 * Adding a task: write its loader (task_NAME.c, declared in task_internal.h) and
 * add one line to TASKS below.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ksum.h"

#include "task.h"
#include "task_internal.h"

#ifndef GFN_DATA_DIR
#define GFN_DATA_DIR "data"
#endif
#ifndef GFN_SHARE_DATA_DIR
#define GFN_SHARE_DATA_DIR "/usr/local/share/gfnbench/data"
#endif

const char *gfn_task_data_dir(const char **source)
{
    const char *env = getenv("GFNBENCH_DATA");
    struct stat st;
    if (env && env[0]) {
        if (source)
            *source = "the environment variable GFNBENCH_DATA";
        return env;
    }
    /* The installed copy first (an installed binary must not depend on its
     * clone), else the build tree's data/. */
    if (stat(GFN_SHARE_DATA_DIR, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (source)
            *source = "the installed share folder";
        return GFN_SHARE_DATA_DIR;
    }
    if (source)
        *source = "the build tree";
    return GFN_DATA_DIR;
}

enum { TASK_KEYS_MAX = 10 };

typedef struct {
    const char *name, *dflt; /* dflt: the default as the help shows it */
} task_key;

typedef struct {
    const char *name;
    gfn__task_open_fn open;
    const char *summary;
    task_key keys[TASK_KEYS_MAX]; /* the keys the opener reads (data_dir aside) */
    const char *note;             /* appended to the key list, or NULL */
    /* The authors' training settings for the task, as training keys (the
     * defaults of harness/run/train_keys.h), or NULL: the table's own. */
    const char *paper_settings;
} task_def;

static const task_def TASKS[] = {
    {"hypergrid", gfn__task_open_grid, "hypergrid {0..side-1}^dim, torchgfn rewards",
     {{"dim", "4"}, {"side", "8"}, {"r0", "0.1"}, {"r1", "0.5"}, {"r2", "2"}}, NULL, NULL},
    {"synth", gfn__task_open_synth, "small synthetic string task with hashed rewards (tests)",
     {{"mdp", "pa"}, {"alphabet", "3"}, {"n", "4"}, {"reward_seed", "0"},
      {"mode_top_fraction", "0.05"}}, NULL, NULL},
    {"bag", gfn__task_open_bag, "multisets of 13 letters over ABCDEFG (paper: Bag)",
     {{"mode_reward", "30"}, {"big_reward", "10"}, {"base_reward", "0.01"}, {"big_count", "7"}},
     NULL,
     "lr_policy=1e-4 lr_z=1e-2 hidden=16 layers=2 ssr_sc_layers=1 "
     "steps_per_batch=1 epsilon=0.1 gtb_w=0.5 guide_temp=1 guide_traj=resample"},
    {"tfbind8", gfn__task_open_tfbind8, "DNA 8-mers, SIX6 binding (paper: SIX6)",
     {{"mdp", "pa"}, {"reward_exp", "3"}, {"reward_scale", "10"}, {"reward_floor", "0.001"},
      {"reward_clip", "-inf"}}, NULL,
     "lr_policy=1e-4 lr_z=1e-2 hidden=128 layers=2 ssr_sc_layers=1 "
     "steps_per_batch=3 epsilon=0.01 gtb_w=0.25 guide_temp=3 guide_traj=score"},
    {"tfbind10", gfn__task_open_tfbind10, "DNA 10-mers, PHO4 binding (paper: PHO4)",
     {{"mdp", "pa"}, {"reward_exp", "3"}, {"reward_scale", "10"}, {"reward_floor", "0"},
      {"reward_clip", "-inf"}, {"expit_slope", "3"}, {"mode_percentile", "99.5"},
      {"mode_top_fraction", NULL}}, "(or mode_top_fraction=F)",
     "lr_policy=1e-4 lr_z=1e-2 hidden=512 layers=3 ssr_sc_layers=2 "
     "steps_per_batch=1 epsilon=0.01 gtb_w=0.25 guide_temp=3 guide_traj=score"},
    {"qm9str", gfn__task_open_qm9str, "strings of 5 of 11 molecular blocks (paper: QM9)",
     {{"mdp", "pa"}, {"reward_exp", "5"}, {"reward_scale", "100"}, {"reward_floor", "0"},
      {"reward_clip", "0.001"}, {"mode_top_fraction", "0.005"}, {"mode_percentile", NULL}},
     "(or mode_percentile=Q)",
     "lr_policy=1e-4 lr_z=1e-2 hidden=1024 layers=2 ssr_sc_layers=1 "
     "steps_per_batch=1 epsilon=0.1 gtb_w=0.5 guide_temp=1 guide_traj=resample"},
    {"sehstr", gfn__task_open_sehstr, "strings of 6 of 18 blocks, tree-ensemble sEH proxy "
     "(paper: sEH)",
     {{"mdp", "pa"}, {"reward_exp", "6"}, {"reward_scale", "10"}, {"reward_floor", "0"},
      {"reward_clip", "0.001"}, {"mode_percentile", "99.9"}, {"mode_top_fraction", NULL},
      {"reward_threads", "2"}}, "(or mode_top_fraction=F)",
     "lr_policy=1e-5 lr_z=1e-3 hidden=1024 layers=2 ssr_sc_layers=1 "
     "steps_per_batch=1 epsilon=0.05 gtb_w=0.5 guide_temp=1 guide_traj=resample"},
    {"table", gfn__task_open_table, "your own reward table: rows x<TAB>y over all strings",
     {{"file", "(required)"}, {"alphabet", "(required, e.g. ACGT)"}, {"mdp", "pa"},
      {"reward_exp", "1"}, {"reward_scale", "1"}, {"reward_floor", "0"}, {"reward_clip", "-inf"},
      {"mode_top_fraction", "0.005"}, {"mode_percentile", NULL}}, "(or mode_percentile=Q)", NULL},
};

#define N_TASKS ((int)(sizeof TASKS / sizeof TASKS[0]))

static const task_def *find_task(const char *name)
{
    for (int i = 0; i < N_TASKS; i++)
        if (strcmp(TASKS[i].name, name) == 0)
            return &TASKS[i];
    return NULL;
}

int gfn_task_exists(const char *name) { return find_task(name) != NULL; }

const char *gfn_task_paper_settings(const char *name)
{
    const task_def *t = find_task(name);
    return t ? t->paper_settings : NULL;
}

/* "k1=v1 k2=v2 ... note" into buf; a key without a default is left out (the
 * note names it). */
static const char *format_keys(const task_def *t, char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < TASK_KEYS_MAX && t->keys[i].name && k < size; i++)
        if (t->keys[i].dflt)
            k += (size_t)snprintf(buf + k, size - k, "%s%s=%s", k ? " " : "", t->keys[i].name,
                                  t->keys[i].dflt);
    if (t->note && k < size)
        snprintf(buf + k, size - k, " %s", t->note);
    return buf;
}

const char *gfn_task_keys(const char *name, char *buf, size_t size)
{
    const task_def *t = find_task(name);
    return t ? format_keys(t, buf, size) : NULL;
}

int gfn_task_mark_keys(const char *name, gfn_params *params)
{
    const task_def *t = find_task(name);
    if (!t)
        return 0;
    gfn_params_mark_used(params, "data_dir");
    for (int i = 0; i < TASK_KEYS_MAX && t->keys[i].name; i++)
        gfn_params_mark_used(params, t->keys[i].name);
    return 1;
}

int gfn_task_open(const char *name, gfn_params *params, gfn_env **out, gfn_error *err)
{
    *out = NULL;
    const task_def *t = find_task(name);
    if (!t) {
        char names[256] = "";
        for (int i = 0; i < N_TASKS; i++) {
            size_t k = strlen(names);
            snprintf(names + k, sizeof names - k, "%s%s", i ? ", " : "", TASKS[i].name);
        }
        return gfn_error_set(err, GFN_EUNKNOWN, "unknown task '%s' (known: %s)", name, names);
    }
    const char *data_dir;
    int rc = gfn_params_get_string(params, "data_dir", gfn_task_data_dir(NULL), &data_dir, err);
    if (rc != GFN_OK)
        return rc;
    return t->open(t->name, params, data_dir, out, err);
}

void gfn_task_list(FILE *f)
{
    const char *source;
    const char *dir = gfn_task_data_dir(&source);
    fprintf(f, "tasks (every task also takes data_dir=DIR; default %s, from %s):\n", dir, source);
    char keys[512];
    for (int i = 0; i < N_TASKS; i++) {
        fprintf(f, "  %-10s %s\n  %-10s   %s\n", TASKS[i].name, TASKS[i].summary, "",
                format_keys(&TASKS[i], keys, sizeof keys));
        if (TASKS[i].paper_settings)
            fprintf(f, "  %-10s   training defaults (the authors'): %s\n", "",
                    TASKS[i].paper_settings);
    }
}

void gfn_task_stats_compute(const gfn_env *env, gfn_task_stats *st)
{
    const double *R = gfn_env_rewards(env);
    int64_t N = gfn_env_terminal_count(env);
    GFN_ASSERT(R != NULL);
    gfn_ksum z = {0, 0}, z2 = {0, 0};
    double mx = -INFINITY;
    for (int64_t i = 0; i < N; i++) {
        gfn_ksum_add(&z, R[i]);
        gfn_ksum_add(&z2, R[i] * R[i]);
        if (R[i] > mx)
            mx = R[i];
    }
    st->terminals = N;
    st->states = gfn_env_state_count(env);
    st->z = gfn_ksum_get(&z);
    st->log_z = log(st->z);
    st->mean_reward = gfn_ksum_get(&z2) / st->z;
    st->max_reward = mx;
    st->uniform_mean_reward = st->z / (double)N;
    st->modes = gfn_env_mode_count(env);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int gfn_task_reward_distribution(const gfn_env *env, double **values, double **mass,
                                 int64_t *n, gfn_error *err)
{
    int64_t N = gfn_env_terminal_count(env);
    double *v = malloc(sizeof *v * (size_t)N);
    if (!v)
        return gfn_error_set(err, GFN_ENOMEM, "out of memory sorting %lld rewards",
                             (long long)N);
    memcpy(v, gfn_env_rewards(env), sizeof *v * (size_t)N);
    qsort(v, (size_t)N, sizeof *v, cmp_double);
    int64_t d = 0;
    for (int64_t i = 0; i < N; i++)
        if (i == 0 || v[i] != v[i - 1])
            d++;
    double *m = malloc(sizeof *m * (size_t)d);
    if (!m) {
        free(v);
        return gfn_error_set(err, GFN_ENOMEM, "out of memory for %lld distinct rewards",
                             (long long)d);
    }
    gfn_task_stats st;
    gfn_task_stats_compute(env, &st);
    /* Compress the sorted copy in place: v[j] becomes the j-th distinct value
     * (j <= i, so nothing unread is overwritten) and m[j] its mass. */
    int64_t j = -1;
    gfn_ksum acc = {0, 0};
    for (int64_t i = 0; i < N; i++) {
        double r = v[i];
        if (j < 0 || r != v[j]) {
            if (j >= 0)
                m[j] = gfn_ksum_get(&acc) / st.z;
            v[++j] = r;
            acc.s = acc.c = 0;
        }
        gfn_ksum_add(&acc, r);
    }
    m[j] = gfn_ksum_get(&acc) / st.z;
    double *val = realloc(v, sizeof *v * (size_t)d);
    if (!val)
        val = v; /* shrinking failed: keep the larger block */
    *values = val;
    *mass = m;
    *n = d;
    return GFN_OK;
}
