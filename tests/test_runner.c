/* test_runner.c - the experiment runner with a fake run function: --jobs 1 and
 * --jobs 2 give byte-identical outputs, --resume skips finished runs and redoes
 * half-written ones, a failing or crashing run is recorded and the others go on,
 * and an invalid configuration stops everything before anything is written. */
#include <CUnit/CUnit.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "fake_run.h"
#include "fsutil.h"
#include "report.h"
#include "runner.h"
#include "spec.h"
#include "testutil.h"
#include "train.h"

static char tmp_dir[64];

static gfn_spec *load(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
    gfn_error err;
    gfn_spec *s = gfn_spec_load(path, &err);
    if (!s)
        fprintf(stderr, "\n  spec: %s\n", err.msg);
    return s;
}

static const char SPEC[] = "name: exp\ntask: {name: fake}\nseeds: [0, 1]\nrounds: 100\n"
                           "variants:\n  - {name: tb, objective: tb}\n"
                           "  - {name: db, objective: db}\n";

static char *slurp(const char *dir, const char *run, const char *file)
{
    char path[512], *text = NULL;
    snprintf(path, sizeof path, "%s/exp/%s/%s", dir, run, file);
    if (gfn_fs_read_all(path, &text, NULL, NULL) != GFN_OK)
        return NULL;
    return text;
}

static int run_spec(const gfn_spec *s, const char *out, int jobs, int resume, const char *only,
                    gfn_runner_stats *st, gfn_error *err)
{
    gfn_runner_opts o;
    gfn_runner_opts_init(&o);
    o.jobs = jobs;
    o.resume = resume;
    o.only = only;
    o.out_dir = out;
    o.run = fake_run;
    /* Exercise both displays: the progress lines go to a scratch file. */
    o.log = tmpfile();
    o.live = jobs > 1;
    int rc = gfn_runner_run(s, &o, st, err);
    if (o.log)
        fclose(o.log);
    return rc;
}

static void test_jobs_identical(void)
{
    gfn_spec *s = load("exp.yaml", SPEC);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char out1[128], out2[128];
    snprintf(out1, sizeof out1, "%s/j1", tmp_dir);
    snprintf(out2, sizeof out2, "%s/j2", tmp_dir);
    gfn_runner_stats st;
    gfn_error err;
    CU_ASSERT_EQUAL(run_spec(s, out1, 1, 0, NULL, &st, &err), GFN_OK);
    CU_ASSERT_EQUAL(st.total, 4);
    CU_ASSERT_EQUAL(st.ran, 4);
    CU_ASSERT_EQUAL(run_spec(s, out2, 2, 0, NULL, &st, &err), GFN_OK);
    const char *runs[] = {"tb/seed0", "tb/seed1", "db/seed0", "db/seed1"};
    const char *files[] = {"metrics.tsv", "summary.txt", "logp.tsv", "config.txt"};
    for (int r = 0; r < 4; r++)
        for (int f = 0; f < 4; f++) {
            char *a = slurp(out1, runs[r], files[f]), *b = slurp(out2, runs[r], files[f]);
            CU_ASSERT_PTR_NOT_NULL(a);
            CU_ASSERT_PTR_NOT_NULL(b);
            if (a && b && strcmp(a, b) != 0)
                fprintf(stderr, "\n  %s/%s differs between --jobs 1 and --jobs 2\n", runs[r],
                        files[f]);
            CU_ASSERT(a && b && strcmp(a, b) == 0);
            free(a);
            free(b);
        }
    /* Different seeds do differ, so the comparison above is not vacuous. */
    char *a = slurp(out1, "tb/seed0", "metrics.tsv"), *b = slurp(out1, "tb/seed1", "metrics.tsv");
    CU_ASSERT(a && b && strcmp(a, b) != 0);
    free(a);
    free(b);
    char *run = slurp(out1, "db/seed1", "run.txt"), *cfg = slurp(out1, "db/seed1", "config.txt");
    CU_ASSERT_PTR_NOT_NULL_FATAL(run);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_PTR_NOT_NULL(strstr(run, "\nseed: 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(run, "\ngit_commit: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(run, "\ngsl_version: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(run, "\nlibyaml_version: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(run, "\nwall_seconds: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(run, "\nstatus: ok\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(cfg, "\ntask=fake\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(cfg, "\nobjective=db\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(cfg, "\nseed=1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(cfg, "\nrounds=100\n"));
    free(run);
    free(cfg);
    gfn_spec_free(s);
}

static void touch(const char *dir, const char *run, const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/exp/%s/%s", dir, run, file);
    CU_ASSERT_EQUAL(gfn_fs_write_atomic(path, "x", 1, NULL), GFN_OK);
}

static int present(const char *dir, const char *run, const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/exp/%s/%s", dir, run, file);
    return gfn_fs_exists(path);
}

static void test_resume(void)
{
    gfn_spec *s = load("exp.yaml", SPEC);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char out[128];
    snprintf(out, sizeof out, "%s/resume", tmp_dir);
    gfn_runner_stats st;
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(run_spec(s, out, 2, 0, NULL, &st, &err), GFN_OK);
    /* tb/seed0 stays finished; tb/seed1 looks half-written (no run.txt);
     * db/seed0 has a run.txt that is not "status: ok". */
    touch(out, "tb/seed0", "sentinel");
    touch(out, "tb/seed1", "sentinel");
    char path[512];
    snprintf(path, sizeof path, "%s/exp/tb/seed1/run.txt", out);
    CU_ASSERT_EQUAL(unlink(path), 0);
    snprintf(path, sizeof path, "%s/exp/db/seed0/run.txt", out);
    CU_ASSERT_EQUAL(gfn_fs_write_atomic(path, "status: failed\n", 15, NULL), GFN_OK);
    touch(out, "db/seed0", "sentinel");
    CU_ASSERT_EQUAL(run_spec(s, out, 2, 1, NULL, &st, &err), GFN_OK);
    CU_ASSERT_EQUAL(st.skipped, 2);
    CU_ASSERT_EQUAL(st.ran, 2);
    CU_ASSERT(present(out, "tb/seed0", "sentinel"));  /* not touched */
    CU_ASSERT(!present(out, "tb/seed1", "sentinel")); /* cleared and redone */
    CU_ASSERT(!present(out, "db/seed0", "sentinel"));
    char buf[512];
    gfn_runner_run_dir(s, out, 0, 1, buf, sizeof buf);
    CU_ASSERT(gfn_runner_is_finished(buf));
    gfn_runner_run_dir(s, out, 1, 0, buf, sizeof buf);
    CU_ASSERT(gfn_runner_is_finished(buf));
    /* Without --resume everything is redone. */
    CU_ASSERT_EQUAL(run_spec(s, out, 2, 0, NULL, &st, &err), GFN_OK);
    CU_ASSERT_EQUAL(st.ran, 4);
    CU_ASSERT(!present(out, "tb/seed0", "sentinel"));
    /* --only selects by variant or by variant/seed. */
    CU_ASSERT_EQUAL(run_spec(s, out, 2, 0, "db", &st, &err), GFN_OK);
    CU_ASSERT_EQUAL(st.total, 2);
    CU_ASSERT_EQUAL(run_spec(s, out, 2, 0, "*/seed1", &st, &err), GFN_OK);
    CU_ASSERT_EQUAL(st.total, 2);
    CU_ASSERT_EQUAL(run_spec(s, out, 2, 0, "nothing", &st, &err), GFN_EUSAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "nothing"));
    gfn_spec_free(s);
}

/* A folder of another configuration is an error naming runs and keys (nothing
 * runs, nothing changes) unless --force; --resume skips only runs whose recorded
 * configuration matches and whose outputs are complete. */
static void test_stale_config(void)
{
    gfn_spec *s = load("exp.yaml", SPEC);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char out[128];
    snprintf(out, sizeof out, "%s/stale", tmp_dir);
    gfn_runner_stats st;
    gfn_error err;
    CU_ASSERT_EQUAL_FATAL(run_spec(s, out, 1, 0, NULL, &st, &err), GFN_OK);
    gfn_spec_free(s);
    touch(out, "tb/seed0", "sentinel");
    s = load("exp2.yaml", "name: exp\ntask: {name: fake}\nseeds: [0, 1]\nrounds: 200\n"
                          "variants:\n  - {name: tb, objective: tb}\n"
                          "  - {name: db, objective: db, hidden: 8}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (int resume = 0; resume < 2; resume++) {
        CU_ASSERT_EQUAL(run_spec(s, out, 1, resume, NULL, &st, &err), GFN_EMISMATCH);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "4 run folders of exp"));
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "tb/seed0: rounds 100 -> 200"));
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "db/seed1: hidden (unset) -> 8, rounds 100 -> 200"));
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "--force"));
        CU_ASSERT_EQUAL(st.ran, 0);
        CU_ASSERT(present(out, "tb/seed0", "sentinel"));
    }
    gfn_runner_opts o;
    gfn_runner_opts_init(&o);
    o.out_dir = out;
    o.run = fake_run;
    o.jobs = 1;
    o.force = 1;
    CU_ASSERT_EQUAL(gfn_runner_run(s, &o, &st, &err), GFN_OK);
    CU_ASSERT_EQUAL(st.ran, 4);
    CU_ASSERT(!present(out, "tb/seed0", "sentinel"));
    /* Same configuration now: --resume skips, unless an output is missing. */
    char path[512];
    snprintf(path, sizeof path, "%s/exp/db/seed0/metrics.tsv", out);
    CU_ASSERT_EQUAL(unlink(path), 0);
    CU_ASSERT_EQUAL(run_spec(s, out, 1, 1, NULL, &st, &err), GFN_OK);
    CU_ASSERT_EQUAL(st.skipped, 3);
    CU_ASSERT_EQUAL(st.ran, 1);
    gfn_spec_free(s);
}

/* A diverged run is recorded as such, counted apart, left out of the report's
 * means and skipped by --resume (it would diverge again). */
static void test_diverged(void)
{
    gfn_spec *s = load("div.yaml", "name: exp\ntask: {name: fake}\nseeds: [0, 1]\nrounds: 100\n"
                                   "variants:\n  - {name: tb, objective: tb, paper: \"a | b\"}\n"
                                   "  - {name: wild, objective: diverge}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char out[128];
    snprintf(out, sizeof out, "%s/div", tmp_dir);
    gfn_runner_stats st;
    gfn_error err;
    CU_ASSERT_EQUAL(run_spec(s, out, 2, 0, NULL, &st, &err), GFN_OK);
    CU_ASSERT_EQUAL(st.diverged, 2);
    CU_ASSERT_EQUAL(st.failed, 0);
    char *run = slurp(out, "wild/seed1", "run.txt");
    CU_ASSERT_PTR_NOT_NULL_FATAL(run);
    CU_ASSERT_PTR_NOT_NULL(strstr(run, "reason: diverged at round 5: loss = nan\nstatus: diverged\n"));
    free(run);
    char dir[512];
    gfn_runner_run_dir(s, out, 1, 0, dir, sizeof dir);
    CU_ASSERT_EQUAL(gfn_runner_state(dir, NULL), GFN_RUN_DIVERGED);
    CU_ASSERT_EQUAL(run_spec(s, out, 2, 1, NULL, &st, &err), GFN_OK);
    CU_ASSERT_EQUAL(st.skipped, 4);
    gfn_report_opts ro = {out, NULL, 0, NULL, NULL, 0};
    ro.plots_dir = tmp_dir;
    CU_ASSERT_EQUAL(gfn_report_write(s, &ro, &err), GFN_OK);
    char *md = slurp(out, "", "summary.md");
    CU_ASSERT_PTR_NOT_NULL_FATAL(md);
    CU_ASSERT_PTR_NOT_NULL(strstr(md, "| wild | 0/2 (2 diverged) |"));
    CU_ASSERT_PTR_NOT_NULL(strstr(md, " | a \\| b |\n")); /* a '|' in paper: escaped */
    free(md);
    /* runs.csv: every evaluation row of every run with metrics, every registry column */
    char *runs = slurp(out, "", "runs.csv");
    CU_ASSERT_PTR_NOT_NULL_FATAL(runs);
    CU_ASSERT(strncmp(runs, "variant,seed,round,trajectories,loss,", 37) == 0);
    int lines = 0;
    for (const char *c = runs; *c; c++)
        lines += *c == '\n';
    CU_ASSERT_EQUAL(lines, 1 + 2 * 10); /* tb's 2 seeds x 10 rows; wild diverged before any */
    CU_ASSERT_PTR_NOT_NULL(strstr(runs, "\ntb,1,100,1600,"));
    free(runs);
    /* the sampled AD score against the exact TV: one point per exact evaluation */
    char pair[300], *ptext = NULL;
    snprintf(pair, sizeof pair, "%s/exp/pair_ad_score_vs_tv.tsv", tmp_dir);
    CU_ASSERT_EQUAL(gfn_fs_read_all(pair, &ptext, NULL, NULL), GFN_OK);
    CU_ASSERT(ptext && strstr(ptext, "# series 0: tb (2 seeds)\n"));
    free(ptext);
    gfn_spec_free(s);
}

/* SIGINT to the runner's process alone stops and reaps every run, writes no
 * final status for them, and returns GFN_EINTERRUPTED saying how to go on. */
static void test_sigint_stops_children(void)
{
    gfn_spec *s = load("slow.yaml", "name: exp\ntask: {name: fake}\nseeds: [0, 1, 2]\n"
                                    "rounds: 100\nvariants:\n  - {name: slow, objective: slow}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char out[128], marker[256];
    snprintf(out, sizeof out, "%s/sig", tmp_dir);
    snprintf(marker, sizeof marker, "%s/exp/slow/seed1/config.txt", out);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        gfn_runner_stats st;
        gfn_error err;
        int rc = run_spec(s, out, 2, 0, NULL, &st, &err);
        _exit(rc == GFN_EINTERRUPTED && strstr(err.msg, "2 stopped, 1 not started") &&
                      strstr(err.msg, "--resume")
                  ? 0
                  : 1);
    }
    for (int i = 0; i < 3000 && !gfn_fs_exists(marker); i++)
        usleep(10000); /* both runs started */
    usleep(100000);
    kill(pid, SIGINT);
    int status = 0;
    waitpid(pid, &status, 0);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char path[300];
    snprintf(path, sizeof path, "%s/exp/slow/seed0/run.txt", out);
    CU_ASSERT(!gfn_fs_exists(path)); /* no status: --resume redoes it */
    gfn_spec_free(s);
}

static void test_failures_recorded(void)
{
    gfn_spec *s = load("fail.yaml", "name: exp\ntask: {name: fake}\nseeds: [0, 1]\nrounds: 20\n"
                                    "variants:\n  - {name: tb, objective: tb}\n"
                                    "  - {name: bad, objective: fail}\n"
                                    "  - {name: crash, objective: abort}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char out[128];
    snprintf(out, sizeof out, "%s/fail", tmp_dir);
    gfn_runner_stats st;
    gfn_error err;
    CU_ASSERT_EQUAL(run_spec(s, out, 2, 0, NULL, &st, &err), GFN_ECHILD);
    CU_ASSERT_EQUAL(st.ran, 6);
    CU_ASSERT_EQUAL(st.failed, 4);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "bad/seed1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "crash/seed0"));
    char *ok = slurp(out, "tb/seed1", "run.txt");
    char *bad = slurp(out, "bad/seed1", "run.txt");
    char *crash = slurp(out, "crash/seed0", "run.txt");
    char *crash_log = slurp(out, "crash/seed0", "log.txt");
    CU_ASSERT(ok && strstr(ok, "\nstatus: ok\n"));
    CU_ASSERT(bad && strstr(bad, "\nstatus: failed\n") && strstr(bad, "fake failure for seed 1"));
    CU_ASSERT(crash && strstr(crash, "\nstatus: failed\n") && strstr(crash, "signal 6"));
    /* The reason quotes the crashed run's last words. */
    CU_ASSERT(crash && strstr(crash, "; last output: fake: aborting on purpose\n"));
    CU_ASSERT(crash_log && strstr(crash_log, "aborting on purpose"));
    free(ok);
    free(bad);
    free(crash);
    free(crash_log);
    /* --resume redoes only the failed runs. */
    CU_ASSERT_EQUAL(run_spec(s, out, 2, 1, NULL, &st, &err), GFN_ECHILD);
    CU_ASSERT_EQUAL(st.skipped, 2);
    CU_ASSERT_EQUAL(st.ran, 4);
    gfn_spec_free(s);
}

static int reject_db(gfn_params *cfg, gfn_error *err)
{
    const gfn_param *e = gfn_params_find(cfg, "objective");
    if (e && strcmp(e->val, "db") == 0)
        return gfn_error_set(err, GFN_EUNKNOWN, "%s: unknown objective 'db'", e->where);
    return GFN_OK;
}

static void test_invalid_config_writes_nothing(void)
{
    gfn_spec *s = load("exp.yaml", SPEC);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char out[128];
    snprintf(out, sizeof out, "%s/invalid", tmp_dir);
    gfn_runner_opts o;
    gfn_runner_opts_init(&o);
    o.out_dir = out;
    o.run = fake_run;
    o.validate = reject_db;
    gfn_error err;
    CU_ASSERT_EQUAL(gfn_runner_run(s, &o, NULL, &err), GFN_EUNKNOWN);
    /* The message points at the YAML node of the variant's objective. */
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "exp.yaml:7:27: unknown objective 'db'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "db/seed0"));
    CU_ASSERT(!gfn_fs_exists(out));
    gfn_spec_free(s);
}

/* Task values are checked by building each distinct task before anything runs:
 * a bad one names the spec's line and column and writes nothing; a relative
 * table file resolves against the spec's folder. */
static void test_task_checked_first(void)
{
    gfn_spec *s = load("task.yaml", "name: exp\ntask: {name: hypergrid, dim: 32, side: 100}\n"
                                    "seeds: [0]\nrounds: 10\n"
                                    "variants:\n  - {name: tb, objective: tb}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char out[128];
    snprintf(out, sizeof out, "%s/task", tmp_dir);
    gfn_runner_opts o;
    gfn_runner_opts_init(&o);
    o.out_dir = out;
    o.run = fake_run;
    o.validate = gfn_train_validate;
    o.check_task = gfn_train_check_task;
    gfn_error err;
    CU_ASSERT_EQUAL(gfn_runner_run(s, &o, NULL, &err), GFN_EVALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "task.yaml:2:30: task 'hypergrid'"));
    CU_ASSERT(!gfn_fs_exists(out));
    gfn_spec_free(s);
    char table[256];
    snprintf(table, sizeof table, "%s/my.tsv", tmp_dir);
    CU_ASSERT_EQUAL(gfn_fs_write_atomic(table, "AA\t1\nAB\t2\nBA\t3\nBB\t4\n", 20, NULL), GFN_OK);
    s = load("rel.yaml", "name: rel\ntask: {name: table, file: my.tsv, alphabet: AB}\n"
                         "seeds: [0]\nrounds: 10\nvariants:\n  - {name: tb, objective: tb}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    gfn_params cfg;
    gfn_params_init(&cfg);
    CU_ASSERT_EQUAL(gfn_spec_run_config(s, 0, 0, &cfg, &err), GFN_OK);
    const gfn_param *f = gfn_params_find(&cfg, "file");
    CU_ASSERT(f && strcmp(f->val, table) == 0);
    CU_ASSERT_EQUAL(gfn_train_check_task(&cfg, &err), GFN_OK);
    gfn_params_close(&cfg);
    gfn_spec_free(s);
}

/* A run records its resolved configuration (resolved.txt: every default filled);
 * --resume treats a changed default as another configuration. */
static void test_resolved_defaults(void)
{
    gfn_spec *s = load("res.yaml", "name: res\ntask: {name: hypergrid, dim: 2, side: 3}\n"
                                   "seeds: [0]\nrounds: 20\nvariants:\n  - {name: tb, objective: tb}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char out[128];
    snprintf(out, sizeof out, "%s/res", tmp_dir);
    gfn_runner_opts o;
    gfn_runner_opts_init(&o);
    o.out_dir = out;
    o.jobs = 1;
    o.resolve = gfn_train_resolved;
    gfn_error err;
    gfn_runner_stats st;
    CU_ASSERT_EQUAL_FATAL(gfn_runner_run(s, &o, &st, &err), GFN_OK);
    char path[300], *text = NULL;
    snprintf(path, sizeof path, "%s/res/tb/seed0/resolved.txt", out);
    CU_ASSERT_EQUAL_FATAL(gfn_fs_read_all(path, &text, NULL, NULL), GFN_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "task=hypergrid\ndim=2\nside=3\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nclip_grad=10\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nlr_policy=0.001\n"));
    o.resume = 1;
    CU_ASSERT_EQUAL(gfn_runner_run(s, &o, &st, &err), GFN_OK);
    CU_ASSERT_EQUAL(st.skipped, 1);
    /* as if an older build had another default */
    char *at = strstr(text, "\nclip_grad=10\n");
    if (at)
        memcpy(at, "\nclip_grad=5 \n", 14);
    CU_ASSERT_EQUAL(gfn_fs_write_atomic(path, text, strlen(text), NULL), GFN_OK);
    free(text);
    CU_ASSERT_EQUAL(gfn_runner_run(s, &o, &st, &err), GFN_EMISMATCH);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "defaults of this build: clip_grad 5  -> 10"));
    gfn_spec_free(s);
}

/* run --estimate probes every variant and projects the cost; nothing is written. */
static void test_estimate(void)
{
    char spec[256], out[256];
    snprintf(spec, sizeof spec, "%s/est.yaml", tmp_dir);
    const char *text = "name: est\ntask: {name: hypergrid, dim: 2, side: 4}\nseeds: [0, 1]\n"
                       "rounds: 1000\nvariants:\n  - {name: tb, objective: tb}\n"
                       "  - {name: db, objective: db}\n";
    CU_ASSERT_EQUAL_FATAL(gfn_fs_write_atomic(spec, text, strlen(text), NULL), GFN_OK);
    snprintf(out, sizeof out, "%s/est.out", tmp_dir);
    char *argv[] = {"run", spec, "--estimate", "--jobs", "2", NULL};
    int saved = gfn_test_stdout_to(out);
    int rc = gfn_cmd_run(5, argv);
    gfn_test_stdout_back(saved);
    CU_ASSERT_EQUAL(rc, 0);
    char *got = NULL;
    CU_ASSERT_EQUAL_FATAL(gfn_fs_read_all(out, &got, NULL, NULL), GFN_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "\ntb "));
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "\ndb "));
    CU_ASSERT_PTR_NOT_NULL(strstr(got, "CPU-hours for 4 runs; at --jobs 2"));
    free(got);
    char results[300];
    snprintf(results, sizeof results, "results/est");
    CU_ASSERT(!gfn_fs_exists(results)); /* nothing written */
}

/* Drops the `wall_seconds:` line that train.h puts into summary.txt: the one
 * timing outside run.txt, and the only line allowed to differ. */
static void drop_wall_seconds(char *text)
{
    char *w = text ? strstr(text, "wall_seconds:") : NULL;
    if (w && (w == text || w[-1] == '\n')) {
        char *end = strchr(w, '\n');
        memmove(w, end ? end + 1 : w + strlen(w), strlen(end ? end + 1 : w + strlen(w)) + 1);
    }
}

/* The real trainer too: a tiny hypergrid, two objectives, --jobs 1 vs --jobs 2. */
static void test_real_trainer_identical(void)
{
    gfn_spec *s = load("real.yaml",
                       "name: exp\ntask: {name: hypergrid, dim: 2, side: 4}\nseeds: [0, 1]\n"
                       "rounds: 40\ndefaults: {hidden: 8, layers: 1}\n"
                       "evaluation: {exact_every: 20, sample_every: 10, sample_size: 16, "
                       "window: 20}\n"
                       "variants:\n  - {name: tb, objective: tb, replay: prt}\n"
                       "  - {name: db, objective: db}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char out1[128], out2[128];
    snprintf(out1, sizeof out1, "%s/real1", tmp_dir);
    snprintf(out2, sizeof out2, "%s/real2", tmp_dir);
    gfn_runner_opts o;
    gfn_runner_opts_init(&o);
    o.run = gfn_train_run;
    o.validate = gfn_train_validate;
    gfn_error err;
    o.jobs = 1;
    o.out_dir = out1;
    int rc = gfn_runner_run(s, &o, NULL, &err);
    if (rc)
        fprintf(stderr, "\n  %s\n", err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, GFN_OK);
    o.jobs = 2;
    o.out_dir = out2;
    CU_ASSERT_EQUAL_FATAL(gfn_runner_run(s, &o, NULL, &err), GFN_OK);
    const char *runs[] = {"tb/seed0", "tb/seed1", "db/seed0", "db/seed1"};
    const char *files[] = {"metrics.tsv", "summary.txt"};
    for (int r = 0; r < 4; r++)
        for (int f = 0; f < 2; f++) {
            char *a = slurp(out1, runs[r], files[f]), *b = slurp(out2, runs[r], files[f]);
            drop_wall_seconds(a);
            drop_wall_seconds(b);
            int same = a && b && strcmp(a, b) == 0;
            if (!same)
                fprintf(stderr, "\n  %s/%s differs between --jobs 1 and --jobs 2\n", runs[r],
                        files[f]);
            CU_ASSERT(same);
            free(a);
            free(b);
        }
    gfn_spec_free(s);
}

static int setup(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/gfn_runner_XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : 1;
}

static int teardown(void)
{
    return gfn_fs_remove_tree(tmp_dir, NULL);
}

extern void gfn_test_suite_runner(void); /* called by test_main.c */
void gfn_test_suite_runner(void)
{
    CU_pSuite s = CU_add_suite("runner", setup, teardown);
    CU_add_test(s, "--jobs 1 and --jobs 2 give identical files", test_jobs_identical);
    CU_add_test(s, "--resume skips finished, redoes half-written", test_resume);
    CU_add_test(s, "failing and crashing runs are recorded", test_failures_recorded);
    CU_add_test(s, "another configuration: error, --force, resume", test_stale_config);
    CU_add_test(s, "diverged runs recorded, counted, skipped", test_diverged);
    CU_add_test(s, "task values checked first; relative paths", test_task_checked_first);
    CU_add_test(s, "SIGINT stops and reaps every run", test_sigint_stops_children);
    CU_add_test(s, "resolved.txt: a changed default is another configuration", test_resolved_defaults);
    CU_add_test(s, "run --estimate projects the cost, writes nothing", test_estimate);
    CU_add_test(s, "invalid configuration: nothing written", test_invalid_config_writes_nothing);
    CU_add_test(s, "real trainer: --jobs 1 and --jobs 2 identical", test_real_trainer_identical);
}
