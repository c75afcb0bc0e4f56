/* cmd_status.c - `gfnbench status SPEC.yaml`: how far an experiment has got, one
 * line per state (done, partial, todo, failed, diverged, running) with the runs
 * in it, from each run folder's files (gfn_runner_state) and locks. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "commands.h"
#include "fsutil.h"
#include "runner.h"
#include "spec.h"

/* Runs named on a line at most; the rest are counted. */
enum { NAMED_MAX = 8 };

static void status_usage(FILE *f)
{
    fprintf(f,
            "usage: gfnbench status SPEC.yaml [--out DIR]\n\n"
            "Summarises the runs of SPEC.yaml in DIR/<experiment>/ (default DIR: results):\n"
            "one line per state with its count and the first runs in it, then the total.\n"
            "  done      finished (run.txt says status: ok)\n"
            "  partial   started, not finished (at round N: the last round in metrics.tsv);\n"
            "            `run --resume` or `--index K --resume` takes it up again\n"
            "  todo      not started\n"
            "  failed    ended with an error (run.txt and log.txt say which)\n"
            "  diverged  ended at a non-finite loss or metric (a result; not redone)\n"
            "  running   a process holds the run's lock now (runs started with --index or\n"
            "            --shard, as Slurm array tasks are), or a whole-experiment run holds\n"
            "            the experiment's lock\n"
            "Reads only; exits 0 whatever the states (1 when the spec cannot be read).\n");
}

/* The pid holding the lock at path (-1: held, holder unknown; 0: free or no file). */
static long lock_holder(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    long pid = 0;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
        char buf[32];
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        pid = strtol(buf, NULL, 10);
        if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
            pid = -1;
    } else {
        flock(fd, LOCK_UN);
    }
    close(fd);
    return pid;
}

typedef struct {
    const char *name;
    int count;
    gfn_strbuf runs; /* "variant/seedK (detail), ..." for the first NAMED_MAX */
} state_line;

static void add_run(state_line *l, const char *run, const char *detail)
{
    if (l->count < NAMED_MAX)
        gfn_strbuf_printf(&l->runs, "%s%s%s%s%s", l->count ? ", " : "", run,
                          detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
    else if (l->count == NAMED_MAX)
        gfn_strbuf_printf(&l->runs, ", ...");
    l->count++;
}

int gfn_cmd_status(int argc, char **argv)
{
    if (gfn_cmd_wants_help(argc, argv)) {
        status_usage(stdout);
        return 0;
    }
    const char *path = NULL, *out = "results";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "gfnbench status: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (!path) {
        status_usage(stderr);
        return 2;
    }
    gfn_error err;
    gfn_spec *s = gfn_spec_load(path, &err);
    if (!s) {
        fprintf(stderr, "gfnbench status: %s\n", err.msg);
        return 1;
    }
    state_line lines[] = {{"done", 0, {0}},    {"partial", 0, {0}},  {"todo", 0, {0}},
                          {"failed", 0, {0}},  {"diverged", 0, {0}}, {"running", 0, {0}}};
    enum { DONE, PARTIAL, TODO, FAILED, DIVERGED, RUNNING, N_LINES };
    for (int i = 0; i < N_LINES; i++)
        gfn_strbuf_init(&lines[i].runs);
    char dir[4200], lock[4300], run[2 * GFN_SPEC_NAME_MAX + 32], detail[64];
    snprintf(lock, sizeof lock, "%s/%s/run.lock", out, s->name);
    /* A whole-experiment run holds run.lock exclusively (shards hold it shared, which
     * lock_holder's shared probe does not see). */
    long whole = lock_holder(lock);
    for (int v = 0; v < s->n_variants; v++)
        for (int k = 0; k < s->n_seeds; k++) {
            gfn_runner_run_dir(s, out, v, k, dir, sizeof dir);
            snprintf(run, sizeof run, "%s/seed%ld", s->variants[v].name, s->seeds[k]);
            long round = 0;
            gfn_run_state st = gfn_runner_state(dir, &round);
            const char *d = NULL;
            if (st == GFN_RUN_PARTIAL && round > 0) {
                snprintf(detail, sizeof detail, "at round %ld", round);
                d = detail;
            }
            add_run(&lines[st == GFN_RUN_DONE       ? DONE
                           : st == GFN_RUN_PARTIAL  ? PARTIAL
                           : st == GFN_RUN_FAILED   ? FAILED
                           : st == GFN_RUN_DIVERGED ? DIVERGED
                                                    : TODO],
                    run, d);
            snprintf(lock, sizeof lock, "%s.lock", dir);
            long pid = lock_holder(lock);
            if (pid != 0) {
                snprintf(detail, sizeof detail, "pid %ld", pid);
                add_run(&lines[RUNNING], run, pid > 0 ? detail : NULL);
            }
        }
    int total = s->n_variants * s->n_seeds;
    printf("%s: %d runs (%d variants x %d seeds, %ld rounds each) in %s/%s/\n", s->name, total,
           s->n_variants, s->n_seeds, s->rounds, out, s->name);
    for (int i = 0; i < N_LINES; i++)
        printf("  %-9s %5d%s%s\n", lines[i].name, lines[i].count, lines[i].count ? "  " : "",
               lines[i].runs.data ? lines[i].runs.data : "");
    if (whole != 0) {
        if (whole > 0)
            printf("  a whole-experiment run (pid %ld) holds %s/%s/run.lock: its started runs "
                   "are running\n", whole, out, s->name);
        else
            printf("  a whole-experiment run holds %s/%s/run.lock: its started runs are "
                   "running\n", out, s->name);
    }
    int finished = lines[DONE].count + lines[DIVERGED].count;
    printf("  total     %5d  %d finished (%d done, %d diverged), %d to do (%d partial, %d todo, "
           "%d failed)\n", total, finished, lines[DONE].count, lines[DIVERGED].count,
           total - finished, lines[PARTIAL].count, lines[TODO].count, lines[FAILED].count);
    for (int i = 0; i < N_LINES; i++)
        gfn_strbuf_close(&lines[i].runs);
    gfn_spec_free(s);
    return 0;
}
