/* cmd_run.c - `gfnbench run SPEC.yaml`: every (variant, seed) run of an
 * experiment in parallel, then its tables and figures (the report step). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "commands.h"
#include "report.h"
#include "runner.h"
#include "spec.h"
#include "train.h"

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: gfnbench run SPEC.yaml [key=value ...] [--jobs N] [--cores C] [--only PATTERN]\n"
            "                              [--resume] [--force] [--out DIR] [--plots DIR]\n"
            "                              [--no-report]\n"
            "                              [--list] [--index K] [--shard I/N] [--estimate]\n\n"
            "Runs every (variant, seed) pair of the experiment SPEC.yaml in parallel child\n"
            "processes, each into DIR/<experiment>/<variant>/seed<k>/ (metrics.tsv,\n"
            "summary.txt, config.txt, run.txt, log.txt), then writes the summary tables\n"
            "(DIR/<experiment>/summary.md, .csv) and the figures (plots/<experiment>/).\n\n"
            "  --jobs N        runs at once (default: the number of online cores)\n"
            "  --cores C       CPU budget: --jobs x the runs' threads= may not exceed C\n"
            "                  (default: the online cores; more is refused)\n"
            "  --only PATTERN  only variants (or variant/seedK) matching the shell pattern\n"
            "  --resume        skip runs finished (ok or diverged) with the configuration the\n"
            "                  spec asks for now; continue an unfinished one from its\n"
            "                  checkpoint.bin (same configuration, valid file); redo the rest\n"
            "  --force         rerun folders that hold results of another configuration\n"
            "                  (without it such a folder is an error and nothing runs)\n"
            "  --out DIR       results root (default: results)\n"
            "  --plots DIR     figures root (default: plots)\n"
            "  --no-report     skip the tables and figures\n"
            "  --list          print every run (index, folder, state: done, at round N, todo,\n"
            "                  failed, diverged; running when a process holds its lock) and\n"
            "                  exit; with --only/--index/--shard, only those runs\n"
            "  --estimate      time a few rounds and one exact evaluation of each variant (with\n"
            "                  --only, of each selected one) and print the projected\n"
            "                  CPU-hours and wall time; runs nothing\n"
            "  --index K       only run K of --list (0 = first variant, first seed; runs go\n"
            "                  variant by variant, seed by seed)\n"
            "  --shard I/N     only the runs whose index modulo N is I-1 (1 <= I <= N): N\n"
            "                  shards are disjoint and together cover the experiment\n\n"
            "Overrides after the spec: rounds=N, seeds=0,1, name=NEW (the results folder),\n"
            "key=value (a task or training key for every variant), VARIANT.key=value (one\n"
            "variant), key=v1,v2 (a sweep: every variant once per value, named\n"
            "VARIANT_keyv1); the description says which, and DIR/<experiment>/\n"
            "effective_spec.yaml records the spec that was run.  Give `report` the same\n"
            "overrides.\n\n"
            "SIGINT or SIGTERM stops every run (each gets SIGTERM), says what finished and\n"
            "how to continue, and exits with status 130.\n\n"
            "A whole run locks DIR/<experiment>/run.lock: a second run into the same folder\n"
            "fails at once naming the process holding it.  With --index or --shard only\n"
            "the selected runs are locked (DIR/<experiment>/<variant>/seed<k>.lock), so\n"
            "shards run side by side into one folder, and the report step is skipped\n"
            "(run `gfnbench report SPEC.yaml` once every shard is done).\n\n"
            "Interruptions: each run writes checkpoint.bin every checkpoint_every rounds\n"
            "(a training key; default max(1000, rounds/10), 0 = only at the end).  A run\n"
            "given SIGTERM (by `gfnbench run` as above, or by a scheduler at preemption or\n"
            "before a time limit) finishes its round, writes its checkpoint and exits with\n"
            "status 75 (EX_TEMPFAIL, on which a scheduler can requeue; when only the run\n"
            "got the signal, its run.txt says \"interrupted by SIGTERM after round N\").\n"
            "--resume continues such a run from its checkpoint, and its outputs end\n"
            "byte-identical to those of a run never stopped.\n");
}

static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < lo || v > hi)
        return 0;
    *out = (int)v;
    return 1;
}

/* "I/N" with 1 <= I <= N. */
static int parse_shard(const char *s, int *i, int *n)
{
    char a[32];
    const char *slash = strchr(s, '/');
    if (!slash || (size_t)(slash - s) >= sizeof a)
        return 0;
    memcpy(a, s, (size_t)(slash - s));
    a[slash - s] = '\0';
    return parse_int(a, 1, 1000000, i) && parse_int(slash + 1, 1, 1000000, n) && *i <= *n;
}

static int parse_jobs(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < 1 || v > 4096)
        return 0;
    *out = (int)v;
    return 1;
}

/* Times PROBE_ROUNDS rounds and one exact evaluation of every variant (seed 0,
 * nothing written) and projects the CPU time of the whole experiment: per run,
 * start-up + rounds x the probe's CPU per round + exact evaluations x one's CPU. */
enum { PROBE_ROUNDS = 30 };

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int estimate_cost(const gfn_spec *s, int jobs, gfn_error *err)
{
    if (jobs <= 0)
        jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
    printf("%s: projected cost, from %d probe rounds and one exact evaluation of each variant\n"
           "(seed 0, on this machine, nothing written; later rounds can be slower or faster as\n"
           "the replay buffer grows and the policy changes)\n\n"
           "%-22s %10s %10s %8s %12s %5s %12s\n", s->name, PROBE_ROUNDS, "variant", "rounds/s",
           "exact s", "exacts", "per run h", "runs", "total h");
    double total = 0, longest = 0;
    for (int v = 0; v < s->n_variants; v++) {
        gfn_params cfg, sum;
        gfn_params_init(&cfg);
        gfn_params_init(&sum);
        int rc = gfn_spec_run_config(s, v, 0, &cfg, err);
        const gfn_param *ee = gfn_params_find(&cfg, "exact_every");
        long exact_every = ee ? strtol(ee->val, NULL, 10) : s->rounds / 20 > 10 ? s->rounds / 20 : 10;
        char probe[32];
        snprintf(probe, sizeof probe, "%d", PROBE_ROUNDS);
        if (!rc)
            rc = gfn_params_set(&cfg, "rounds", probe, "--estimate", err);
        if (!rc)
            rc = gfn_params_set(&cfg, "exact_every", "0", "--estimate", err);
        if (!rc)
            rc = gfn_params_set(&cfg, "checkpoint", "false", "--estimate", err);
        double c0 = cpu_now();
        if (!rc)
            rc = gfn_train_run(&cfg, NULL, NULL, NULL, &sum, err);
        double all = cpu_now() - c0;
        gfn_params_close(&cfg);
        gfn_params_close(&sum);
        if (rc) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            return gfn_error_set(err, rc, "variant %s: %s", s->variants[v].name, msg);
        }
        gfn_train_timing t;
        gfn_train_last_timing(&t);
        double per_round = t.loop_cpu / PROBE_ROUNDS;
        double setup = all - t.loop_cpu - t.exact_cpu;
        long n_exact = t.exact_states > 0 ? (exact_every > 0 ? s->rounds / exact_every : 0) + 1 : 0;
        double run = setup + (double)s->rounds * per_round + (double)n_exact * t.exact_cpu;
        total += run * s->n_seeds;
        longest = run > longest ? run : longest;
        printf("%-22s %10.1f %10.2f %8ld %12.3f %5d %12.3f\n", s->variants[v].name,
               per_round > 0 ? 1.0 / per_round : NAN, t.exact_cpu, n_exact, run / 3600.0,
               s->n_seeds, run * s->n_seeds / 3600.0);
        fflush(stdout);
    }
    int runs = s->n_variants * s->n_seeds, at_once = jobs < runs ? jobs : runs;
    double wall = total / at_once > longest ? total / at_once : longest;
    printf("\ntotal: %.2f CPU-hours for %d runs; at --jobs %d about %.2f hours of wall time "
           "(the longest run alone: %.2f h)\n",
           total / 3600.0, runs, jobs, wall / 3600.0, longest / 3600.0);
    return GFN_OK;
}

int gfn_cmd_run(int argc, char **argv)
{
    if (gfn_cmd_wants_help(argc, argv)) {
        run_usage(stdout);
        return 0;
    }
    gfn_runner_opts o;
    gfn_runner_opts_init(&o);
    o.run = gfn_train_run;
    o.validate = gfn_train_validate;
    o.check_task = gfn_train_check_task;
    o.resolve = gfn_train_resolved;
    o.log = stdout;
    const char *path = NULL, *plots = NULL;
    int report = 1, list = 0, estimate = 0, n_over = 0;
    char *over[256];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (strcmp(a, "--jobs") == 0 && has_val) {
            if (!parse_jobs(argv[++i], &o.jobs)) {
                fprintf(stderr, "gfnbench run: --jobs expects a whole number >= 1, got '%s'\n",
                        argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--cores") == 0 && has_val) {
            if (!parse_jobs(argv[++i], &o.cores)) {
                fprintf(stderr, "gfnbench run: --cores expects a whole number >= 1, got '%s'\n",
                        argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--only") == 0 && has_val) {
            o.only = argv[++i];
        } else if (strcmp(a, "--out") == 0 && has_val) {
            o.out_dir = argv[++i];
        } else if (strcmp(a, "--plots") == 0 && has_val) {
            plots = argv[++i];
        } else if (strcmp(a, "--index") == 0 && has_val) {
            if (!parse_int(argv[++i], 0, 100000000, &o.index)) {
                fprintf(stderr, "gfnbench run: --index expects a whole number >= 0 (see "
                        "--list), got '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--shard") == 0 && has_val) {
            if (!parse_shard(argv[++i], &o.shard_i, &o.shard_n)) {
                fprintf(stderr, "gfnbench run: --shard expects I/N with 1 <= I <= N, got '%s'\n",
                        argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--list") == 0) {
            list = 1;
        } else if (strcmp(a, "--estimate") == 0) {
            estimate = 1;
        } else if (strcmp(a, "--resume") == 0) {
            o.resume = 1;
        } else if (strcmp(a, "--force") == 0) {
            o.force = 1;
        } else if (strcmp(a, "--no-report") == 0) {
            report = 0;
        } else if (a[0] != '-' && !path) {
            path = a;
        } else if (a[0] != '-' && strchr(a, '=') && n_over < 256) {
            over[n_over++] = argv[i];
        } else {
            fprintf(stderr, "gfnbench run: unexpected argument '%s' (see gfnbench run --help)\n",
                    a);
            return 2;
        }
    }
    if (!path) {
        run_usage(stderr);
        return 2;
    }
    gfn_error err;
    gfn_spec *s = gfn_spec_load(path, &err);
    if (!s) {
        fprintf(stderr, "gfnbench run: %s\n", err.msg);
        return 1;
    }
    if (gfn_spec_override(s, n_over, over, &err) != GFN_OK) {
        fprintf(stderr, "gfnbench run: %s\n", err.msg);
        gfn_spec_free(s);
        return 2;
    }
    if (estimate) {
        /* --only: the selected variants' cost (each with all its seeds). */
        if (o.only && gfn_spec_select(s, o.only, &err) != GFN_OK) {
            fprintf(stderr, "gfnbench run: %s\n", err.msg);
            gfn_spec_free(s);
            return 2;
        }
        int erc = estimate_cost(s, o.jobs, &err);
        if (erc)
            fprintf(stderr, "gfnbench run: --estimate: %s\n", err.msg);
        gfn_spec_free(s);
        return erc ? 1 : 0;
    }
    if (list) {
        int lrc = gfn_runner_list(s, &o, stdout, &err);
        if (lrc)
            fprintf(stderr, "gfnbench run: %s\n", err.msg);
        gfn_spec_free(s);
        return lrc ? 1 : 0;
    }
    if (o.index >= 0 || o.shard_n > 0)
        report = 0; /* other shards may still be running */
    gfn_runner_stats st;
    int rc = gfn_runner_run(s, &o, &st, &err);
    int ran_any = rc == GFN_OK || rc == GFN_ECHILD;
    if (ran_any || rc == GFN_EINTERRUPTED) {
        /* What was run, overrides applied, beside the results. */
        char spath[4200];
        gfn_error werr;
        snprintf(spath, sizeof spath, "%s/%s/effective_spec.yaml", o.out_dir ? o.out_dir : "results",
                 s->name);
        if (gfn_spec_write_yaml(s, spath, &werr) != GFN_OK)
            fprintf(stderr, "gfnbench run: %s\n", werr.msg);
    }
    if (rc)
        fprintf(stderr, "gfnbench run: %s\n", err.msg);
    if (ran_any && report) {
        gfn_report_opts ro = {o.out_dir, plots, 1, stdout, NULL, 0};
        gfn_error rerr;
        if (gfn_report_write(s, &ro, &rerr) != GFN_OK) {
            fprintf(stderr, "gfnbench run: report: %s\n", rerr.msg);
            rc = rc ? rc : 1;
        }
    }
    gfn_spec_free(s);
    /* 130: stopped by SIGINT or SIGTERM (every run stopped and reaped; --resume goes on). */
    return rc == GFN_EINTERRUPTED ? 130 : rc ? 1 : 0;
}
