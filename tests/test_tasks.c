/* test_tasks.c - the task registry and the data tasks: sizes and full structure
 * checks on the real tasks, rewards recomputed independently from the data files,
 * mode sets equal to the mode lists of data/, the tfbind8 greedy mode rule,
 * every error path of gfn_task_open, and the registry's key lists (the defaults
 * the help shows are the opener's; gfn_task_mark_keys marks what the opener reads).
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "env.h"
#include "task.h"

void gfn_test_env_check_structure(const gfn_env *env);
gfn_env *gfn_test_open(const char *name, const char *args);

#define DATA GFN_DATA_DIR

static int close_rel(double a, double b, double rel)
{
    return fabs(a - b) <= rel * fabs(b) + 1e-300;
}

static void test_sizes_and_structure(void)
{
    struct {
        const char *name, *args;
        int64_t states, terminals;
        int full; /* run the whole structure check */
    } cases[] = {
        {"bag", "", 77520, 27132, 1},      {"tfbind8", "mdp=pa", 87381, 65536, 1},
        {"tfbind8", "mdp=ar", 87381, 65536, 1}, {"qm9str", "", 177156, 161051, 1},
        {"tfbind10", "", 1398101, 1048576, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gfn_env *env = gfn_test_open(cases[i].name, cases[i].args);
        if (!env)
            continue;
        CU_ASSERT_EQUAL(gfn_env_state_count(env), cases[i].states);
        CU_ASSERT_EQUAL(gfn_env_terminal_count(env), cases[i].terminals);
        if (cases[i].full)
            gfn_test_env_check_structure(env);
        gfn_env_free(env);
    }
}

/* Reads rows x<TAB>y (x digits/letters of `letters`) in file order: y by rank. */
static double *read_tsv(const char *path, const char *letters, int64_t N)
{
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    double *y = calloc((size_t)N, sizeof *y);
    char x[64];
    float v;
    int A = (int)strlen(letters);
    while (fscanf(f, "%63s %f", x, &v) == 2) {
        int64_t r = 0;
        for (char *c = x; *c; c++)
            r = r * A + (strchr(letters, *c) - letters);
        y[r] = v;
    }
    fclose(f);
    return y;
}

static void compare_rewards(const gfn_env *env, const double *want)
{
    const double *R = gfn_env_rewards(env);
    int64_t bad = 0;
    for (int64_t i = 0; i < gfn_env_terminal_count(env); i++)
        if (!close_rel(R[i], want[i], 1e-14)) {
            if (bad++ < 3)
                fprintf(stderr, "\n%s: R[%lld] = %.17g, expected %.17g\n", gfn_env_name(env),
                        (long long)i, R[i], want[i]);
        }
    CU_ASSERT_EQUAL(bad, 0);
}

static void test_rewards_from_files(void)
{
    /* tfbind8: R = max(10 y^3 / max y^3, 0.001) */
    gfn_env *env = gfn_test_open("tfbind8", "");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    double *y = read_tsv(DATA "/tfbind8/tfbind8_all.tsv", "0123", 65536);
    double mx = 0;
    for (int i = 0; i < 65536; i++)
        mx = fmax(mx, y[i] * y[i] * y[i]);
    for (int i = 0; i < 65536; i++)
        y[i] = fmax(10 * y[i] * y[i] * y[i] / mx, 0.001);
    compare_rewards(env, y);
    CU_ASSERT(close_rel(gfn_env_rewards(env)[0], 10 * pow(0.524749517f, 3), 1e-12));
    free(y);
    gfn_env_free(env);

    /* qm9str: R = 100 max(y,1e-3)^5 / max(...) */
    env = gfn_test_open("qm9str", "");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    y = read_tsv(DATA "/qm9str/qm9str_rewards.tsv", "0123456789a", 161051);
    mx = 0;
    for (int i = 0; i < 161051; i++) {
        y[i] = pow(fmax(y[i], 1e-3), 5);
        mx = fmax(mx, y[i]);
    }
    for (int i = 0; i < 161051; i++)
        y[i] = 100 * y[i] / mx;
    compare_rewards(env, y);
    free(y);
    gfn_env_free(env);

    /* tfbind10: R = 10 expit(3y)^3 / max(...), y raw float32 (host little-endian) */
    env = gfn_test_open("tfbind10", "");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    int64_t N = 1 << 20;
    float *yf = malloc(sizeof *yf * (size_t)N);
    FILE *f = fopen(DATA "/tfbind10/tfbind10_y_f32le.bin", "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fread(yf, sizeof *yf, (size_t)N, f), (size_t)N);
    fclose(f);
    y = malloc(sizeof *y * (size_t)N);
    mx = 0;
    for (int64_t i = 0; i < N; i++) {
        y[i] = pow(1 / (1 + exp(-3.0 * yf[i])), 3);
        mx = fmax(mx, y[i]);
    }
    for (int64_t i = 0; i < N; i++)
        y[i] = 10 * y[i] / mx;
    compare_rewards(env, y);
    free(y);
    free(yf);
    gfn_env_free(env);
}

/* The bag's rewards from its definition: 30 for the multisets of the file (read
 * as sorted strings), else 10 when a letter occurs >= 7 times, else 0.01. */
static int cmp_str(const void *a, const void *b) { return strcmp(a, b); }

static void test_bag_rewards(void)
{
    gfn_env *env = gfn_test_open("bag", "");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    static char modes[4000][16];
    int nm = 0;
    FILE *f = fopen(DATA "/bag/bag_mode_multisets.txt", "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    while (nm < 4000 && fscanf(f, "%15s", modes[nm]) == 1)
        nm++;
    fclose(f);
    CU_ASSERT_EQUAL(nm, 3160);
    qsort(modes, (size_t)nm, sizeof modes[0], cmp_str);
    int64_t count[3] = {0, 0, 0}, bad = 0;
    for (int64_t i = 0; i < gfn_env_terminal_count(env); i++) {
        gfn_state x;
        char buf[32];
        gfn_env_unrank_terminal(env, i, &x);
        gfn_env_format(env, &x, buf, sizeof buf);
        buf[13] = '\0'; /* drop the terminal mark */
        int mx = 0;
        for (int c = 0; c < 7; c++)
            mx = x.v[c] > mx ? x.v[c] : mx;
        int is_mode = bsearch(buf, modes, (size_t)nm, sizeof modes[0], cmp_str) != NULL;
        double want = is_mode ? 30 : mx >= 7 ? 10 : 0.01;
        count[is_mode ? 0 : mx >= 7 ? 1 : 2]++;
        bad += gfn_env_rewards(env)[i] != want || gfn_env_is_mode(env, i) != is_mode ||
               gfn_env_reward(env, &x) != want;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(count[0], 3160);
    CU_ASSERT_EQUAL(count[1], 3308);
    CU_ASSERT_EQUAL(count[2], 20664);
    CU_ASSERT_EQUAL(gfn_env_mode_count(env), 3160);
    gfn_env_free(env);
}

/* The env's mode flags equal the list file exactly. */
static gfn_env *compare_modes(const char *task, const char *path, const char *letters,
                              int64_t want_count, int keep)
{
    gfn_env *env = gfn_test_open(task, "");
    if (!env)
        return NULL;
    int64_t N = gfn_env_terminal_count(env), listed = 0, bad = 0;
    uint8_t *in = calloc((size_t)N, 1);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char x[64];
    int A = (int)strlen(letters);
    while (fscanf(f, "%63s", x) == 1) {
        int64_t r = 0;
        for (char *c = x; *c; c++)
            r = r * A + (strchr(letters, *c) - letters);
        in[r] = 1;
        listed++;
    }
    fclose(f);
    for (int64_t i = 0; i < N; i++)
        bad += in[i] != gfn_env_is_mode(env, i);
    if (bad)
        fprintf(stderr, "\n%s: %lld terminals disagree with %s\n", task, (long long)bad, path);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(listed, want_count);
    CU_ASSERT_EQUAL(gfn_env_mode_count(env), want_count);
    free(in);
    if (keep)
        return env;
    gfn_env_free(env);
    return NULL;
}

static void test_modes_match_lists(void)
{
    compare_modes("tfbind8", DATA "/tfbind8/tfbind8_modes.txt", "0123", 328, 0);
    compare_modes("tfbind10", DATA "/tfbind10/tfbind10_modes.txt", "0123", 5764, 0);
    compare_modes("qm9str", DATA "/qm9str/qm9str_modes.txt", "0123456789a", 805, 0);
}

/* sehstr is loaded once (about 4 s): its modes against the list, and its target
 * statistics against data/README.md. */
static void test_sehstr(void)
{
    FILE *f = fopen(DATA "/sehstr/sehstr_modes.txt", "r");
    if (!f || !gfn_task_exists("sehstr")) {
        if (f)
            fclose(f);
        fprintf(stderr, "\n(sehstr not available: skipped)\n");
        return;
    }
    fclose(f);
    gfn_env *env = compare_modes("sehstr", DATA "/sehstr/sehstr_modes.txt",
                                 "0123456789abcdefgh", 34013, 1);
    if (!env)
        return;
    gfn_task_stats st;
    gfn_task_stats_compute(env, &st);
    CU_ASSERT_EQUAL(st.terminals, 34012224);
    CU_ASSERT_EQUAL(st.states, 36012943);
    CU_ASSERT(close_rel(st.z, 41966993.46, 1e-9));
    CU_ASSERT(close_rel(st.mean_reward, 2.454497601, 1e-9));
    CU_ASSERT(close_rel(st.uniform_mean_reward, 1.233879721, 1e-9));
    CU_ASSERT_DOUBLE_EQUAL(st.max_reward, 10, 1e-12);
    if (!close_rel(st.z, 41966993.46, 1e-9) || !close_rel(st.mean_reward, 2.454497601, 1e-9))
        fprintf(stderr, "\nsehstr: Z %.17g E %.17g\n", st.z, st.mean_reward);
    gfn_env_free(env);
}

/* tfbind8's mode list re-derived: y descending (ties by x ascending), keep x when
 * its Hamming distance to every kept string is >= 2, stop at 328. */
static const double *greedy_y;
static int cmp_by_y(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    if (greedy_y[i] != greedy_y[j])
        return greedy_y[i] > greedy_y[j] ? -1 : 1;
    return i - j;
}

static void test_tfbind8_greedy_modes(void)
{
    double *y = read_tsv(DATA "/tfbind8/tfbind8_all.tsv", "0123", 65536);
    int *order = malloc(sizeof *order * 65536);
    for (int i = 0; i < 65536; i++)
        order[i] = i;
    greedy_y = y;
    qsort(order, 65536, sizeof *order, cmp_by_y);
    int kept[328], nk = 0;
    for (int k = 0; k < 65536 && nk < 328; k++) {
        int ok = 1;
        for (int j = 0; j < nk && ok; j++) {
            int d = 0;
            for (int p = 0; p < 8; p++)
                d += ((order[k] >> (2 * p)) & 3) != ((kept[j] >> (2 * p)) & 3);
            ok = d >= 2;
        }
        if (ok)
            kept[nk++] = order[k];
    }
    FILE *f = fopen(DATA "/tfbind8/tfbind8_modes.txt", "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char x[16];
    int n = 0, bad = 0;
    while (fscanf(f, "%15s", x) == 1 && n < 328) {
        int r = 0;
        for (int p = 0; p < 8; p++)
            r = r * 4 + (x[p] - '0');
        bad += r != kept[n++];
    }
    fclose(f);
    CU_ASSERT_EQUAL(n, 328);
    CU_ASSERT_EQUAL(bad, 0);
    free(order);
    free(y);
}

/* ---- error paths ----------------------------------------------------------- */
static int open_err(const char *name, const char *args, gfn_error *err)
{
    gfn_params p;
    gfn_params_init(&p);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", args);
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " "))
        gfn_params_set_arg(&p, tok, "command line", err);
    gfn_env *env = NULL;
    int rc = gfn_task_open(name, &p, &env, err);
    if (rc == GFN_OK)
        rc = gfn_params_check_used(&p, name, err);
    gfn_env_free(env);
    gfn_params_close(&p);
    return rc;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static void expect_err(const char *name, const char *args, int code, const char *needle)
{
    gfn_error err;
    gfn_error_clear(&err);
    int rc = open_err(name, args, &err);
    int ok = rc == code && (!needle || strstr(err.msg, needle));
    if (!ok)
        fprintf(stderr, "\n%s %s: got %d '%s', expected %d containing '%s'\n", name, args, rc,
                err.msg, code, needle ? needle : "");
    CU_ASSERT(ok);
}

#define TMP "build/test_tasks_tmp"

static void test_errors(void)
{
    mkdir("build", 0777);
    mkdir(TMP, 0777);
    mkdir(TMP "/bag", 0777);
    mkdir(TMP "/tfbind10", 0777);
    expect_err("nosuch", "", GFN_EUNKNOWN, "nosuch");
    expect_err("hypergrid", "dimm=3", GFN_EUNKNOWN, "dimm");
    expect_err("hypergrid", "dim=abc", GFN_EVALUE, "dim");
    expect_err("hypergrid", "dim=0", GFN_EVALUE, "dim");
    expect_err("synth", "mdp=xy", GFN_EVALUE, "mdp");
    /* a directory below a regular file cannot exist, whatever else runs on the machine */
    write_file(TMP "/plain", "x\n");
    expect_err("tfbind8", "data_dir=" TMP "/plain/dir", GFN_EIO, "plain/dir/tfbind8");
    expect_err("tfbind8", "reward_exp=-1", GFN_EVALUE, "reward_exp");
    expect_err("qm9str", "mode_top_fraction=0.1 mode_percentile=99", GFN_EVALUE, "not both");
    /* bag: a malformed mode line and a duplicate */
    write_file(TMP "/bag/bag_mode_multisets.txt", "AAAAAAABBBBBC\nAAAAAAABBBBBX\n");
    expect_err("bag", "data_dir=" TMP, GFN_EFORMAT, "bag_mode_multisets.txt:2");
    write_file(TMP "/bag/bag_mode_multisets.txt", "AAAAAAABBBBBC\nCAAAAAAABBBBB\n");
    expect_err("bag", "data_dir=" TMP, GFN_EFORMAT, "bag_mode_multisets.txt:2");
    /* tfbind10: a truncated binary */
    write_file(TMP "/tfbind10/tfbind10_y_f32le.bin", "abcdefgh");
    expect_err("tfbind10", "data_dir=" TMP, GFN_EMISMATCH, "4194304 bytes");
    /* table: malformed row, bad number, duplicate, missing row, extra letters */
    const char *file = "file=" TMP "/t.tsv alphabet=AB";
    write_file(TMP "/t.tsv", "AA\t1\nAB\t2\nBA\t3\nBB\t4\n");
    expect_err("table", file, GFN_OK, NULL);
    write_file(TMP "/t.tsv", "AA\t1\nAB 2\nBA\t3\nBB\t4\n");
    expect_err("table", file, GFN_EFORMAT, "t.tsv:2");
    write_file(TMP "/t.tsv", "AA\t1\nAB\t2\nBA\tx3\nBB\t4\n");
    expect_err("table", file, GFN_EFORMAT, "t.tsv:3");
    write_file(TMP "/t.tsv", "AA\t1\nAB\t2\nAB\t3\nBB\t4\n");
    expect_err("table", file, GFN_EFORMAT, "t.tsv:3");
    write_file(TMP "/t.tsv", "AA\t1\nAB\t2\nBB\t4\n");
    expect_err("table", file, GFN_EMISMATCH, "first missing: BA");
    write_file(TMP "/t.tsv", "AA\t1\nAB\t2\nBAA\t3\nBB\t4\n");
    expect_err("table", file, GFN_EFORMAT, "t.tsv:3");
    write_file(TMP "/t.tsv", "AA\t1\nAB\t-2\nBA\t3\nBB\t4\n");
    expect_err("table", file, GFN_EVALUE, "t.tsv:2: y of AB is -2");
    expect_err("table", "file=" TMP "/none.tsv alphabet=AB", GFN_EIO, "none.tsv");
    expect_err("table", "alphabet=AB", GFN_EVALUE, "file=PATH");
    expect_err("table", "file=" TMP "/t.tsv alphabet=AA", GFN_EVALUE, "alphabet");
}

/* A user's table gives the transform and the modes it asks for. */
static void test_table_task(void)
{
    mkdir("build", 0777);
    mkdir(TMP, 0777);
    write_file(TMP "/t2.tsv", "AA\t1\nAB\t2\nBA\t3\nBB\t4\n");
    gfn_env *env = gfn_test_open("table", "file=" TMP "/t2.tsv alphabet=AB mdp=ar "
                                          "reward_exp=2 reward_scale=8 mode_percentile=50");
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    const double *R = gfn_env_rewards(env);
    CU_ASSERT_DOUBLE_EQUAL(R[0], 0.5, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(R[1], 2.0, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(R[2], 4.5, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(R[3], 8.0, 1e-15);
    CU_ASSERT_EQUAL(gfn_env_mode_count(env), 2); /* percentile 50 = 3.25 */
    CU_ASSERT_STRING_EQUAL(gfn_env_mdp(env), "ar");
    gfn_env_free(env);
}

/* Opens task name with params p; 0 when the opener fails or leaves a key unread. */
static gfn_env *open_checked(const char *name, gfn_params *p)
{
    gfn_env *env = NULL;
    gfn_error err;
    if (gfn_task_open(name, p, &env, &err) != GFN_OK ||
        gfn_params_check_used(p, name, &err) != GFN_OK) {
        printf("\n  %s: %s\n", name, err.msg);
        gfn_env_free(env);
        return NULL;
    }
    return env;
}

static void test_key_lists(void)
{
    const char *names[] = {"hypergrid", "synth", "bag", "tfbind8", "tfbind10", "qm9str"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char keys[512], *save = NULL;
        gfn_error err;
        CU_ASSERT_PTR_NOT_NULL_FATAL(gfn_task_keys(names[i], keys, sizeof keys));
        gfn_params all, none, marked;
        gfn_params_init(&all);
        gfn_params_init(&none);
        gfn_params_init(&marked);
        int n_keys = 0;
        /* key=default tokens up to the note in parentheses */
        for (char *kv = strtok_r(keys, " ", &save); kv && kv[0] != '(';
             kv = strtok_r(NULL, " ", &save))
            if (strchr(kv, '=')) {
                CU_ASSERT_EQUAL(gfn_params_set_arg(&all, kv, "help", &err), GFN_OK);
                CU_ASSERT_EQUAL(gfn_params_set_arg(&marked, kv, "help", &err), GFN_OK);
                n_keys++;
            }
        CU_ASSERT(n_keys >= 4);
        /* Every key the help shows is read, and its default is the opener's. */
        gfn_env *a = open_checked(names[i], &all), *b = open_checked(names[i], &none);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        gfn_task_stats sa, sb;
        gfn_task_stats_compute(a, &sa);
        gfn_task_stats_compute(b, &sb);
        CU_ASSERT_EQUAL(sa.terminals, sb.terminals);
        CU_ASSERT_EQUAL(sa.modes, sb.modes);
        CU_ASSERT_EQUAL(sa.z, sb.z);
        CU_ASSERT_EQUAL(sa.mean_reward, sb.mean_reward);
        /* Marking by name accepts the same keys and data_dir, and nothing else. */
        CU_ASSERT_EQUAL(gfn_params_set_arg(&marked, "data_dir=" DATA, "help", &err), GFN_OK);
        CU_ASSERT(gfn_task_mark_keys(names[i], &marked));
        CU_ASSERT_EQUAL(gfn_params_check_used(&marked, "mark", &err), GFN_OK);
        CU_ASSERT_EQUAL(gfn_params_set_arg(&marked, "dimm=3", "help", &err), GFN_OK);
        CU_ASSERT(gfn_task_mark_keys(names[i], &marked));
        CU_ASSERT_EQUAL(gfn_params_check_used(&marked, "mark", &err), GFN_EUNKNOWN);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "dimm"));
        gfn_env_free(a);
        gfn_env_free(b);
        gfn_params_close(&all);
        gfn_params_close(&none);
        gfn_params_close(&marked);
    }
    char buf[64];
    CU_ASSERT_PTR_NULL(gfn_task_keys("nosuch", buf, sizeof buf));
    CU_ASSERT_EQUAL(gfn_task_mark_keys("nosuch", NULL), 0);
}

extern void gfn_test_suite_tasks(void);
void gfn_test_suite_tasks(void)
{
    CU_pSuite s = CU_add_suite("tasks", NULL, NULL);
    CU_add_test(s, "sizes and structure of the data tasks", test_sizes_and_structure);
    CU_add_test(s, "rewards recomputed from the data files", test_rewards_from_files);
    CU_add_test(s, "bag rewards from the definition", test_bag_rewards);
    CU_add_test(s, "mode sets equal the mode lists", test_modes_match_lists);
    CU_add_test(s, "tfbind8 modes by the greedy rule", test_tfbind8_greedy_modes);
    CU_add_test(s, "sehstr modes and target", test_sehstr);
    CU_add_test(s, "error paths", test_errors);
    CU_add_test(s, "a user's table", test_table_task);
    CU_add_test(s, "key lists: help defaults are the opener's; marking by name", test_key_lists);
}
