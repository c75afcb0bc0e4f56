/* test_slurm.c - the sbatch scripts of `gfnbench slurm`: the --array list of the
 * runs not finished (from their folders' states), the script lines Slurm and
 * the requeue logic depend on, shell quoting of paths, the report job, refused
 * options, and sbatch --parsable output.  (The scripts on a real cluster:
 * `make test-slurm`.) */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "fsutil.h"
#include "runner.h"
#include "slurm.h"
#include "spec.h"
#include "testutil.h"

static char tmp_dir[64];

static const char SPEC[] = "name: exp\ntask: {name: fake}\nseeds: [0, 1, 2]\nrounds: 100\n"
                           "variants:\n  - {name: tb, objective: tb}\n"
                           "  - {name: db, objective: db}\n";

static gfn_spec *load(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/exp.yaml", tmp_dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(SPEC, f);
    fclose(f);
    gfn_error err;
    gfn_spec *s = gfn_spec_load(path, &err);
    if (!s)
        fprintf(stderr, "\n  spec: %s\n", err.msg);
    return s;
}

static void opts(gfn_slurm_opts *o)
{
    gfn_slurm_opts_init(o);
    o->gfnbench = "/opt/gfn/bin/gfnbench";
    o->spec_path = "/home/me/it's here/exp.yaml";
    o->out_dir = "/shared/results";
    o->plots_dir = "/shared/plots";
}

static void test_array_list(void)
{
    const int a[] = {0, 1, 2, 3, 5, 7, 8, 11};
    gfn_strbuf b;
    gfn_strbuf_init(&b);
    gfn_slurm_array_list(a, 8, &b);
    CU_ASSERT_STRING_EQUAL(b.data, "0-3,5,7-8,11");
    gfn_strbuf_close(&b);
    gfn_strbuf_init(&b);
    gfn_slurm_array_list(a + 4, 1, &b);
    CU_ASSERT_STRING_EQUAL(b.data, "5");
    gfn_strbuf_close(&b);
}

static void write_run_txt(const char *run, const char *status)
{
    char path[512], text[64];
    snprintf(path, sizeof path, "%s/res/exp/%s", tmp_dir, run);
    CU_ASSERT_EQUAL(gfn_fs_mkdir_p(path, NULL), GFN_OK);
    if (!status)
        return; /* a folder alone: a run started */
    snprintf(path, sizeof path, "%s/res/exp/%s/run.txt", tmp_dir, run);
    int n = snprintf(text, sizeof text, "seed: 0\nstatus: %s\n", status);
    CU_ASSERT_EQUAL(gfn_fs_write_atomic(path, text, (size_t)n, NULL), GFN_OK);
}

/* Done, diverged and running runs are left out; partial, failed and untouched ones stay. */
static void test_pending(void)
{
    gfn_spec *s = load();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char out[128];
    snprintf(out, sizeof out, "%s/res", tmp_dir);
    int idx[6], running = -1;
    CU_ASSERT_EQUAL(gfn_slurm_pending(s, out, idx, &running), 6);
    CU_ASSERT_EQUAL(running, 0);
    write_run_txt("tb/seed0", "ok");       /* index 0 */
    write_run_txt("tb/seed1", "failed");   /* 1 */
    write_run_txt("tb/seed2", NULL);       /* 2: partial */
    write_run_txt("db/seed0", "diverged"); /* 3 */
    write_run_txt("db/seed2", "ok");       /* 5 */
    int n = gfn_slurm_pending(s, out, idx, &running);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_EQUAL(idx[0], 1);
    CU_ASSERT_EQUAL(idx[1], 2);
    CU_ASSERT_EQUAL(idx[2], 4);
    CU_ASSERT_EQUAL(running, 0);

    /* A run whose lock a process holds (an --index run going on) is left out and
     * counted; a whole run's experiment lock is seen too. */
    char lock[512], exp[256];
    snprintf(lock, sizeof lock, "%s/exp/tb/seed2.lock", out);
    int fd = -1;
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_runner_lock(lock, 1, &fd, &err), GFN_OK);
    n = gfn_slurm_pending(s, out, idx, &running);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(idx[0], 1);
    CU_ASSERT_EQUAL(idx[1], 4);
    CU_ASSERT_EQUAL(running, 1);
    close(fd);
    CU_ASSERT_EQUAL(gfn_slurm_pending(s, out, idx, &running), 3);
    CU_ASSERT_EQUAL(running, 0);
    snprintf(exp, sizeof exp, "%s/exp", out);
    CU_ASSERT_EQUAL(gfn_runner_whole_holder(exp), 0);
    snprintf(lock, sizeof lock, "%s/exp/run.lock", out);
    CU_ASSERT_EQUAL_FATAL(gfn_runner_lock(lock, 1, &fd, &err), GFN_OK);
    CU_ASSERT_NOT_EQUAL(gfn_runner_whole_holder(exp), 0); /* -1: our own pid is not named */
    close(fd);
    CU_ASSERT_EQUAL(gfn_runner_whole_holder(exp), 0);
    gfn_spec_free(s);
}

static void test_array_script(void)
{
    gfn_spec *s = load();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    gfn_slurm_opts o;
    opts(&o);
    o.partition = "cpu";
    o.time = "1-00:00:00";
    o.mem = "2G";
    o.account = "lab";
    o.qos = "normal";
    o.cpus_per_task = 4;
    o.extra[o.n_extra++] = "--constraint=avx2";
    o.extra[o.n_extra++] = "#SBATCH --exclusive";
    o.signal_lead = 120;
    const int idx[] = {1, 2, 4};
    gfn_strbuf b;
    gfn_strbuf_init(&b);
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_slurm_array_script(s, &o, idx, 3, &b, &err), GFN_OK);
    const char *want[] = {
        "#!/bin/bash\n",
        "\n#SBATCH --job-name=gfn-exp\n",
        "\n#SBATCH --array=1-2,4\n",
        "\n#SBATCH --requeue\n",
        "\n#SBATCH --open-mode=append\n",
        "\n#SBATCH --output=/shared/results/exp/slurm/logs/%A_%a.out\n",
        "\n#SBATCH --signal=B:USR1@120\n",
        "\n#SBATCH --cpus-per-task=4\n",
        "\n#SBATCH --time=1-00:00:00\n",
        "\n#SBATCH --mem=2G\n",
        "\n#SBATCH --partition=cpu\n",
        "\n#SBATCH --account=lab\n",
        "\n#SBATCH --qos=normal\n",
        "\n#SBATCH --constraint=avx2\n",
        "\n#SBATCH --exclusive\n",
        "\nGFNBENCH='/opt/gfn/bin/gfnbench'\n",
        "\nSPEC='/home/me/it'\\''s here/exp.yaml'\n",
        "\nOUT='/shared/results'\n",
        "\n\"$GFNBENCH\" run \"$SPEC\" --index \"$SLURM_ARRAY_TASK_ID\" --resume --out \"$OUT\" &\n",
        "\ntrap 'requeue=1; kill -TERM \"$pid\" 2>/dev/null' USR1\n",
        "\n    scontrol requeue \"$TASK\"\n",
        "\nexit \"$rc\"\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int found = strstr(b.data, want[i]) != NULL;
        if (!found)
            fprintf(stderr, "\n  the array script lacks: %s", want[i]);
        CU_ASSERT(found);
    }
    /* Every #SBATCH line comes before the first command (sbatch stops reading there). */
    const char *last_sbatch = NULL, *p = b.data;
    while ((p = strstr(p, "\n#SBATCH")))
        last_sbatch = ++p;
    CU_ASSERT(last_sbatch && last_sbatch < strstr(b.data, "\nset -u\n"));
    CU_ASSERT_PTR_NULL(strstr(b.data, "\n#SBATCH --dependency"));
    gfn_strbuf_close(&b);

    /* Without the options: none of their lines. */
    opts(&o);
    gfn_strbuf_init(&b);
    CU_ASSERT_EQUAL_FATAL(gfn_slurm_array_script(s, &o, idx, 1, &b, &err), GFN_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\n#SBATCH --array=1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\n#SBATCH --signal=B:USR1@300\n"));
    CU_ASSERT_PTR_NULL(strstr(b.data, "--partition"));
    CU_ASSERT_PTR_NULL(strstr(b.data, "--cpus-per-task"));
    CU_ASSERT_PTR_NULL(strstr(b.data, "--time"));
    gfn_strbuf_close(&b);
    gfn_strbuf_init(&b);
    CU_ASSERT_EQUAL(gfn_slurm_array_script(s, &o, idx, 0, &b, &err), GFN_EUSAGE);
    gfn_strbuf_close(&b);
    gfn_spec_free(s);
}

static void test_report_script(void)
{
    gfn_spec *s = load();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    gfn_slurm_opts o;
    opts(&o);
    o.partition = "cpu";
    o.time = "10:00";
    gfn_strbuf b;
    gfn_strbuf_init(&b);
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(gfn_slurm_report_script(s, &o, &b, &err), GFN_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\n#SBATCH --job-name=gfn-exp-report\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\n#SBATCH --partition=cpu\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\n#SBATCH --output=/shared/results/exp/slurm/logs/"
                                          "report_%j.out\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\nexec \"$GFNBENCH\" report \"$SPEC\" --out \"$OUT\" "
                                          "--plots \"$PLOTS\"\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\nPLOTS='/shared/plots'\n"));
    CU_ASSERT_PTR_NULL(strstr(b.data, "--time")); /* the array's limit, not the report's */
    CU_ASSERT_PTR_NULL(strstr(b.data, "--array"));
    gfn_strbuf_close(&b);
    gfn_spec_free(s);
}

static void test_refused(void)
{
    gfn_spec *s = load();
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const int idx[] = {0};
    gfn_slurm_opts o;
    gfn_error err;
    struct {
        const char **field;
        const char *value;
        const char *message;
    } bad[] = {
        {&o.partition, "cpu\n#SBATCH --x", "--partition"},
        {&o.time, "1 day", "--time"},
        {&o.mem, "", "--mem"},
        {&o.account, "$(rm)", "--account"},
        {&o.extra[0], "--a\n--b", "--extra"},
        {&o.out_dir, "relative/results", "absolute"},
        {&o.out_dir, "/shared/my results", "--out"},
        {&o.out_dir, "/shared/100%", "--out"},
        {&o.spec_path, "exp.yaml", "the spec"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        opts(&o);
        o.n_extra = 1;
        o.extra[0] = "--exclusive";
        *bad[i].field = bad[i].value;
        gfn_strbuf b;
        gfn_strbuf_init(&b);
        int rc = gfn_slurm_array_script(s, &o, idx, 1, &b, &err);
        CU_ASSERT_EQUAL(rc, GFN_EUSAGE);
        if (rc == GFN_EUSAGE && !strstr(err.msg, bad[i].message))
            fprintf(stderr, "\n  '%s' not in: %s\n", bad[i].message, err.msg);
        CU_ASSERT(rc == GFN_EUSAGE && strstr(err.msg, bad[i].message) != NULL);
        gfn_strbuf_close(&b);
    }
    gfn_spec_free(s);
}

static void test_parse_job_id(void)
{
    CU_ASSERT_EQUAL(gfn_slurm_parse_job_id("1234\n"), 1234);
    CU_ASSERT_EQUAL(gfn_slurm_parse_job_id("77;cluster\n"), 77);
    CU_ASSERT_EQUAL(gfn_slurm_parse_job_id("5"), 5);
    CU_ASSERT_EQUAL(gfn_slurm_parse_job_id(""), -1);
    CU_ASSERT_EQUAL(gfn_slurm_parse_job_id("sbatch: error: invalid partition\n"), -1);
    CU_ASSERT_EQUAL(gfn_slurm_parse_job_id("12x\n"), -1);
    CU_ASSERT_EQUAL(gfn_slurm_parse_job_id(NULL), -1);
}

static void test_shell_quote(void)
{
    gfn_strbuf b;
    gfn_strbuf_init(&b);
    gfn_slurm_shell_quote("a b'c$d", &b);
    CU_ASSERT_STRING_EQUAL(b.data, "'a b'\\''c$d'");
    gfn_strbuf_close(&b);
}

static int setup(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/gfn_slurm_XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : 1;
}

static int teardown(void)
{
    return gfn_fs_remove_tree(tmp_dir, NULL);
}

/* `gfnbench slurm SPEC key=value`: the scripts point at the effective spec,
 * which holds the overrides. */
static void test_overrides(void)
{
    char spec[128], out[128], path[300];
    snprintf(spec, sizeof spec, "%s/ov.yaml", tmp_dir);
    snprintf(out, sizeof out, "%s/ovres", tmp_dir);
    const char *text = "name: ov\ntask: {name: hypergrid, dim: 2, side: 4}\nseeds: [0, 1]\n"
                       "rounds: 50\nvariants:\n  - {name: tb, objective: tb}\n";
    CU_ASSERT_EQUAL_FATAL(gfn_fs_write_atomic(spec, text, strlen(text), NULL), GFN_OK);
    char *argv[] = {"slurm", spec, "rounds=20", "seeds=1", "--out", out, NULL};
    char log[160];
    snprintf(log, sizeof log, "%s/ov.out", tmp_dir);
    int saved = gfn_test_stdout_to(log);
    int rc = gfn_cmd_slurm(6, argv);
    gfn_test_stdout_back(saved);
    CU_ASSERT_EQUAL(rc, 0);
    char *script = NULL, *eff = NULL;
    snprintf(path, sizeof path, "%s/ov/slurm/array.sbatch", out);
    CU_ASSERT_EQUAL_FATAL(gfn_fs_read_all(path, &script, NULL, NULL), GFN_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(script, "/ov/slurm/effective_spec.yaml'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(script, "--array=0"));
    snprintf(path, sizeof path, "%s/ov/slurm/effective_spec.yaml", out);
    CU_ASSERT_EQUAL_FATAL(gfn_fs_read_all(path, &eff, NULL, NULL), GFN_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(eff, "\nseeds: [1]\nrounds: 20\n"));
    free(script);
    free(eff);
}

extern void gfn_test_suite_slurm(void); /* called by test_main.c */
void gfn_test_suite_slurm(void)
{
    CU_pSuite s = CU_add_suite("slurm", setup, teardown);
    CU_add_test(s, "--array list joins ranges", test_array_list);
    CU_add_test(s, "pending: runs not done or diverged", test_pending);
    CU_add_test(s, "array script: sbatch lines, command, requeue", test_array_script);
    CU_add_test(s, "report script", test_report_script);
    CU_add_test(s, "bad options refused", test_refused);
    CU_add_test(s, "sbatch --parsable job ids", test_parse_job_id);
    CU_add_test(s, "shell quoting", test_shell_quote);
    CU_add_test(s, "overrides: the tasks run the effective spec", test_overrides);
}
