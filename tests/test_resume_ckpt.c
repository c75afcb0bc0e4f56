/* test_resume_ckpt.c - runs that continue from checkpoints end byte-identical.
 *
 * For tb (+ prt), tb in float32, gtb + prt + ssr, fm, subtb and db on small tasks:
 * an uninterrupted run is the reference; a run stopped by SIGTERM (raised from
 * the round hook at a fixed round) must return GFN_EINTERRUPTED with an
 * unfinished checkpoint, and a run killed with SIGKILL in a forked child (at a
 * pseudo-random round after a checkpoint) leaves the folder as a crash would;
 * each, continued by gfn_train_run, must give the reference's metrics.tsv,
 * summary.txt (but wall_seconds), logp.tsv and checkpoint.bin byte for byte.
 * Nothing depends on timing: the rounds come from the hook, not from a clock.
 * Also: corrupt, truncated and foreign checkpoints are refused with their
 * reason and the run starts afresh; `gfnbench train` exits with 75 on SIGTERM;
 * the runner's --resume continues a folder with a checkpoint instead of
 * clearing it.
 */
#include <CUnit/CUnit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gsl/gsl_rng.h>

#include "checkpoint.h"
#include "commands.h"
#include "fsutil.h"
#include "params.h"
#include "runner.h"
#include "spec.h"
#include "train.h"

static char tmp_dir[64];

#define COMMON "sample_every=10 sample_size=32 ad_draws=2000 checkpoint_every=40"

static const char *const FAMILIES[] = {
    "task=hypergrid dim=2 side=6 objective=tb replay=prt rounds=200",
    "task=hypergrid dim=2 side=6 objective=tb replay=prt precision=f32 rounds=200",
    "task=synth objective=gtb replay=prt policy=ssr hidden=16 rounds=150",
    "task=hypergrid dim=2 side=6 objective=fm rounds=200",
    "task=hypergrid dim=2 side=6 objective=subtb replay=uniform rounds=200",
    "task=synth objective=subtb policy=ssr hidden=16 rounds=150",
    "task=hypergrid dim=2 side=6 objective=db replay=uniform steps_per_batch=2 rounds=160",
};
#define N_FAMILIES (sizeof FAMILIES / sizeof FAMILIES[0])

static void make_cfg(gfn_params *cfg, const char *keys, const char *extra)
{
    char buf[1024], *save = NULL;
    snprintf(buf, sizeof buf, "%s %s %s", keys, COMMON, extra ? extra : "");
    gfn_error err;
    gfn_params_init(cfg);
    for (char *kv = strtok_r(buf, " ", &save); kv; kv = strtok_r(NULL, " ", &save))
        if (gfn_params_set_arg(cfg, kv, "test", &err) != GFN_OK)
            printf("\n  bad test key %s: %s\n", kv, err.msg);
}

static int train(const char *keys, const char *extra, const char *dir, gfn_error *err)
{
    gfn_params cfg;
    make_cfg(&cfg, keys, extra);
    gfn_error_clear(err);
    int rc = gfn_train_run(&cfg, dir, NULL, NULL, NULL, err);
    gfn_params_close(&cfg);
    return rc;
}

static void run_dir(char *buf, size_t cap, size_t family, const char *what)
{
    snprintf(buf, cap, "%s/f%zu_%s", tmp_dir, family, what);
}

static char *slurp(const char *dir, const char *file, size_t *len)
{
    char path[1024], *text = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (gfn_fs_read_all(path, &text, len, NULL) != GFN_OK)
        return NULL;
    return text;
}

/* summary.txt without its wall_seconds line (the only timing in the outputs). */
static void drop_wall_seconds(char *text, size_t *len)
{
    char *w = text ? strstr(text, "wall_seconds:") : NULL;
    if (w && (w == text || w[-1] == '\n')) {
        char *end = strchr(w, '\n');
        end = end ? end + 1 : w + strlen(w);
        memmove(w, end, strlen(end) + 1);
        *len = strlen(text);
    }
}

/* Every output of b is byte-identical to a's. */
static int same_outputs(const char *a, const char *b, const char *what)
{
    static const char *const files[] = {"metrics.tsv", "summary.txt", "logp.tsv", "checkpoint.bin"};
    int ok = 1;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t la = 0, lb = 0;
        char *x = slurp(a, files[f], &la), *y = slurp(b, files[f], &lb);
        if (f == 1) {
            drop_wall_seconds(x, &la);
            drop_wall_seconds(y, &lb);
        }
        int same = x && y && la == lb && memcmp(x, y, la) == 0;
        if (!same) {
            printf("\n  %s: %s differs from the uninterrupted run's (%s vs %s)\n", what, files[f],
                   b, a);
            ok = 0;
        }
        free(x);
        free(y);
    }
    return ok;
}

static long hook_round;
static int hook_signal;

static void raise_at(void *ctx, long round)
{
    (void)ctx;
    if (round == hook_round)
        raise(hook_signal);
}

static int unfinished_checkpoint(const char *dir, const char *keys)
{
    gfn_params cfg;
    make_cfg(&cfg, keys, NULL);
    gfn_strbuf c;
    gfn_strbuf_init(&c);
    gfn_checkpoint_config_text(&cfg, &c);
    char path[512];
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    int finished = -1;
    gfn_error err;
    int rc = gfn_checkpoint_probe(path, c.data, &finished, &err);
    if (rc)
        printf("\n  %s\n", err.msg);
    gfn_strbuf_close(&c);
    gfn_params_close(&cfg);
    return rc == GFN_OK && finished == 0;
}

static void reference(size_t f)
{
    char dir[256];
    gfn_error err;
    run_dir(dir, sizeof dir, f, "full");
    int rc = train(FAMILIES[f], NULL, dir, &err);
    if (rc)
        printf("\n  %s: %s\n", FAMILIES[f], err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, GFN_OK);
}

/* SIGTERM at a round that is no multiple of checkpoint_every: the run writes
 * its checkpoint there and returns GFN_EINTERRUPTED; the second call continues. */
static void sigterm_case(size_t f)
{
    char full[256], dir[256];
    gfn_error err;
    run_dir(full, sizeof full, f, "full");
    run_dir(dir, sizeof dir, f, "term");
    hook_round = 73;
    hook_signal = SIGTERM;
    gfn_train_set_round_hook(raise_at, NULL);
    int rc = train(FAMILIES[f], NULL, dir, &err);
    gfn_train_set_round_hook(NULL, NULL);
    if (rc != GFN_EINTERRUPTED)
        printf("\n  %s: expected GFN_EINTERRUPTED, got %d: %s\n", FAMILIES[f], rc, err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, GFN_EINTERRUPTED);
    CU_ASSERT_EQUAL(GFN_EINTERRUPTED, 75);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "round 73"));
    CU_ASSERT(unfinished_checkpoint(dir, FAMILIES[f]));
    rc = train(FAMILIES[f], NULL, dir, &err);
    if (rc)
        printf("\n  %s: continuing: %s\n", FAMILIES[f], err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, GFN_OK);
    CU_ASSERT(same_outputs(full, dir, FAMILIES[f]));
}

/* SIGKILL in a forked child at a round drawn from a fixed seed, after the first
 * checkpoint: no handler runs, the folder is what the last checkpoint left. */
static void sigkill_case(size_t f, gsl_rng *rng)
{
    char full[256], dir[256];
    gfn_error err;
    run_dir(full, sizeof full, f, "full");
    run_dir(dir, sizeof dir, f, "kill");
    long rounds = strstr(FAMILIES[f], "rounds=200") ? 200 : strstr(FAMILIES[f], "rounds=160") ? 160 : 150;
    hook_round = 41 + (long)gsl_rng_uniform_int(rng, (unsigned long)(rounds - 42));
    hook_signal = SIGKILL;
    fflush(stdout);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        gfn_train_set_round_hook(raise_at, NULL);
        train(FAMILIES[f], NULL, dir, &err);
        _exit(3); /* never reached: the hook kills the child first */
    }
    int status = 0;
    CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    CU_ASSERT(unfinished_checkpoint(dir, FAMILIES[f]));
    int rc = train(FAMILIES[f], NULL, dir, &err);
    if (rc)
        printf("\n  %s: continuing after SIGKILL at round %ld: %s\n", FAMILIES[f], hook_round,
               err.msg);
    CU_ASSERT_EQUAL_FATAL(rc, GFN_OK);
    if (!same_outputs(full, dir, FAMILIES[f]))
        printf("  (killed at round %ld)\n", hook_round);
}

static void test_families(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 14);
    for (size_t f = 0; f < N_FAMILIES; f++) {
        reference(f);
        sigterm_case(f);
        sigkill_case(f, rng);
    }
    gsl_rng_free(rng);
}

/* Rewrites src to dst with byte k xor-ed by x (k < 0: truncated by -k bytes);
 * resum: the checksum recomputed, so that the check after it is reached. */
static void damage(const char *src, const char *dst, long k, unsigned char x, int resum)
{
    char *buf;
    size_t len;
    gfn_error err;
    GFN_ASSERT(gfn_fs_read_all(src, &buf, &len, &err) == GFN_OK);
    if (k >= 0)
        buf[k] ^= (char)x;
    else
        len -= (size_t)(-k);
    if (resum) {
        uint64_t h = gfn_checkpoint_fnv64(buf, len - 8);
        memcpy(buf + len - 8, &h, 8);
    }
    GFN_ASSERT(gfn_fs_write_atomic(dst, buf, len, &err) == GFN_OK);
    free(buf);
}

static void expect_refused(const char *path, const char *keys, int code, const char *words)
{
    gfn_params cfg;
    make_cfg(&cfg, keys, NULL);
    gfn_strbuf c;
    gfn_strbuf_init(&c);
    gfn_checkpoint_config_text(&cfg, &c);
    gfn_error err;
    gfn_error_clear(&err);
    int rc = gfn_checkpoint_probe(path, c.data, NULL, &err);
    if (rc != code || !strstr(err.msg, words))
        printf("\n  expected %d with \"%s\", got %d: %s\n", code, words, rc, err.msg);
    CU_ASSERT_EQUAL(rc, code);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, words));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
    gfn_strbuf_close(&c);
    gfn_params_close(&cfg);
}

/* Corrupt, truncated, foreign-build and foreign-configuration checkpoints are
 * refused with their reason; a run given one starts at round 0 and so ends as
 * the uninterrupted run. */
static void test_refused(void)
{
    const char *keys = FAMILIES[0];
    char full[256], term[256], bad[256], path[300], badpath[300];
    gfn_error err;
    run_dir(full, sizeof full, 0, "full");
    run_dir(term, sizeof term, 0, "refused_src");
    run_dir(bad, sizeof bad, 0, "refused");
    hook_round = 50;
    hook_signal = SIGTERM;
    gfn_train_set_round_hook(raise_at, NULL);
    CU_ASSERT_EQUAL_FATAL(train(keys, NULL, term, &err), GFN_EINTERRUPTED);
    gfn_train_set_round_hook(NULL, NULL);
    snprintf(path, sizeof path, "%s/checkpoint.bin", term);
    snprintf(badpath, sizeof badpath, "%s/checkpoint.bin", bad);
    CU_ASSERT_EQUAL_FATAL(gfn_fs_mkdir_p(bad, &err), GFN_OK);
    damage(path, badpath, 1000, 0x04, 0);
    expect_refused(badpath, keys, GFN_EFORMAT, "checksum");
    damage(path, badpath, -100, 0, 0);
    expect_refused(badpath, keys, GFN_EFORMAT, "truncated");
    damage(path, badpath, 16, 0x01, 1); /* the build's layout fingerprint */
    expect_refused(badpath, keys, GFN_EUNSUPPORTED, "another data layout");
    damage(path, badpath, 8, 0x01, 1); /* version 2 -> 3 */
    expect_refused(badpath, keys, GFN_EUNSUPPORTED, "version 3");
    /* Another configuration: the message names the first line that differs. */
    char other[1024];
    snprintf(other, sizeof other, "%s seed=7", keys);
    expect_refused(path, other, GFN_EMISMATCH, "seed=7");
    /* A run into a folder with a corrupt checkpoint starts afresh. */
    damage(path, badpath, 1000, 0x04, 0);
    CU_ASSERT_EQUAL(train(keys, NULL, bad, &err), GFN_OK);
    CU_ASSERT(same_outputs(full, bad, "corrupt checkpoint"));
    /* So does one with a checkpoint of another configuration (seed 7). */
    gfn_train_set_round_hook(raise_at, NULL);
    CU_ASSERT_EQUAL_FATAL(train(keys, "seed=7", bad, &err), GFN_EINTERRUPTED);
    gfn_train_set_round_hook(NULL, NULL);
    CU_ASSERT_EQUAL(train(keys, NULL, bad, &err), GFN_OK);
    CU_ASSERT(same_outputs(full, bad, "foreign checkpoint"));
    /* A finished run's checkpoint is not continued: the run is redone. */
    CU_ASSERT_EQUAL(train(keys, NULL, bad, &err), GFN_OK);
    CU_ASSERT(same_outputs(full, bad, "finished checkpoint"));
}

/* `gfnbench train` on SIGTERM: checkpoint written, exit status 75; the same
 * command continues and ends as the uninterrupted run. */
static void test_cli_exit_status(void)
{
    char full[256], dir[256];
    run_dir(full, sizeof full, 0, "full");
    run_dir(dir, sizeof dir, 0, "cli");
    char *argv[32];
    char buf[1024], *save = NULL;
    snprintf(buf, sizeof buf, "train hypergrid tb dim=2 side=6 replay=prt rounds=200 %s --out %s",
             COMMON, dir);
    int argc = 0;
    for (char *a = strtok_r(buf, " ", &save); a && argc < 31; a = strtok_r(NULL, " ", &save))
        argv[argc++] = a;
    argv[argc] = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        fflush(stdout);
        pid_t pid = fork();
        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0) {
            /* Quiet child: the summary lines would clutter the test output. */
            if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
                _exit(98);
            hook_round = 90;
            hook_signal = SIGTERM;
            if (attempt == 0)
                gfn_train_set_round_hook(raise_at, NULL);
            _exit(gfn_cmd_train(argc, argv));
        }
        int status = 0;
        CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
        CU_ASSERT(WIFEXITED(status));
        CU_ASSERT_EQUAL(WEXITSTATUS(status), attempt == 0 ? 75 : 0);
    }
    /* The command line orders the keys differently from FAMILIES[0], so its
     * checkpoint's config text differs: compare everything else. */
    size_t la, lb;
    char *a = slurp(full, "metrics.tsv", &la), *b = slurp(dir, "metrics.tsv", &lb);
    CU_ASSERT(a && b && la == lb && memcmp(a, b, la) == 0);
    free(a);
    free(b);
}

/* The runner: a run stopped by SIGTERM (status failed, reason interrupted) is
 * continued by --resume from its checkpoint, not cleared, and ends as a run
 * that was never stopped. */
static void test_runner_resume(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/resume.yaml", tmp_dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("name: exp\ntask: {name: hypergrid, dim: 2, side: 5}\nseeds: [0]\nrounds: 120\n"
          "defaults: {hidden: 8, layers: 1}\n"
          "evaluation: {sample_every: 10, sample_size: 16, window: 20, ad_draws: 2000, "
          "checkpoint_every: 30}\n"
          "variants:\n  - {name: tb, objective: tb, replay: prt}\n", f);
    fclose(f);
    gfn_error err;
    gfn_spec *s = gfn_spec_load(path, &err);
    if (!s)
        printf("\n  spec: %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    char ref[256], out[256];
    snprintf(ref, sizeof ref, "%s/runner_ref", tmp_dir);
    snprintf(out, sizeof out, "%s/runner_cont", tmp_dir);
    gfn_runner_opts o;
    gfn_runner_opts_init(&o);
    o.jobs = 1;
    o.validate = gfn_train_validate;
    o.out_dir = ref;
    CU_ASSERT_EQUAL_FATAL(gfn_runner_run(s, &o, NULL, &err), GFN_OK);
    /* The hook is inherited by the forked child. */
    hook_round = 45;
    hook_signal = SIGTERM;
    gfn_train_set_round_hook(raise_at, NULL);
    o.out_dir = out;
    gfn_runner_stats st;
    gfn_runner_run(s, &o, &st, &err);
    gfn_train_set_round_hook(NULL, NULL);
    CU_ASSERT_EQUAL(st.failed, 0);
    CU_ASSERT_EQUAL(st.interrupted, 1);
    char dir[512], a[600], b[600];
    gfn_runner_run_dir(s, out, 0, 0, dir, sizeof dir);
    long at = 0;
    CU_ASSERT_EQUAL(gfn_runner_state(dir, &at), GFN_RUN_PARTIAL); /* "at round N" in --list */
    CU_ASSERT(at >= 40);
    size_t len;
    char *run_txt = slurp(dir, "run.txt", &len);
    CU_ASSERT(run_txt && strstr(run_txt, "interrupted by SIGTERM after round 45") &&
              strstr(run_txt, "\nstatus: interrupted\n"));
    free(run_txt);
    char logp[700];
    snprintf(logp, sizeof logp, "%s/log.txt", dir);
    FILE *lf = fopen(logp, "a");
    if (lf) {
        fputs("first part's line\n", lf);
        fclose(lf);
    }
    o.resume = 1;
    CU_ASSERT_EQUAL_FATAL(gfn_runner_run(s, &o, &st, &err), GFN_OK);
    CU_ASSERT_EQUAL(st.ran, 1);
    CU_ASSERT_EQUAL(gfn_runner_state(dir, NULL), GFN_RUN_DONE);
    char *log = slurp(dir, "log.txt", &len);
    CU_ASSERT(log && strstr(log, "continuing from") && strstr(log, "at round 46"));
    CU_ASSERT(log && strstr(log, "first part's line\n") != NULL); /* appended, not cleared */
    free(log);
    gfn_runner_run_dir(s, ref, 0, 0, a, sizeof a);
    snprintf(b, sizeof b, "%s", dir);
    CU_ASSERT(same_outputs(a, b, "runner --resume"));
    gfn_spec_free(s);
}

static int setup(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/gfn_resume_XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : 1;
}

static int teardown(void)
{
    gfn_error err;
    return gfn_fs_remove_tree(tmp_dir, &err) != GFN_OK;
}

extern void gfn_test_suite_resume_ckpt(void);
void gfn_test_suite_resume_ckpt(void)
{
    CU_pSuite s = CU_add_suite("resume_ckpt", setup, teardown);
    CU_add_test(s, "stopped (SIGTERM, SIGKILL) and continued: byte-identical", test_families);
    CU_add_test(s, "corrupt, truncated, foreign checkpoints refused", test_refused);
    CU_add_test(s, "gfnbench train exits 75 on SIGTERM and continues", test_cli_exit_status);
    CU_add_test(s, "runner --resume continues from the checkpoint", test_runner_resume);
}
