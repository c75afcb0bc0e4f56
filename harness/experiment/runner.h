/* runner.h - runs every (variant, seed) pair of an experiment in parallel child
 * processes and records each run in its own folder.
 *
 * Layout: OUT/<experiment>/<variant>/seed<k>/ holds what the run function writes
 * (metrics.tsv, summary.txt, logp.tsv, checkpoint.bin), plus config.txt (the
 * resolved configuration, written before the run), log.txt (the child's stdout
 * and stderr) and run.txt (seed, git commit, compiler and flags, library
 * versions, wall time, status ok|failed with the reason).  run.txt is written
 * last, atomically, by the parent: a folder whose run.txt says "status: ok" is
 * finished ("status: diverged" too: the run ended at a non-finite loss or
 * metric, a result in itself), anything else is half-written: --resume continues
 * it when its checkpoint.bin is a valid unfinished checkpoint of the configuration
 * asked for now (gfn_checkpoint_probe), else clears and redoes it.  config.txt is compared first: --resume skips a finished run
 * only when its recorded configuration is the one the spec asks for now and its
 * outputs are complete; a folder of another configuration is an error naming
 * the runs and keys that differ (opts.force reruns them instead).
 * Timings live only in run.txt and log.txt, so metrics.tsv and summary.txt are
 * byte-identical whatever --jobs is.
 *
 * The run function is injectable (tests pass a fake); by default it is
 * gfn_train_run.  Children report progress through a pipe; a crash (signal) or
 * an error return marks that run failed and the others go on.
 */
#ifndef GFN_RUNNER_H
#define GFN_RUNNER_H

#include <stdio.h>

#include "fsutil.h"
#include "params.h"
#include "spec.h"
#include "status.h"
#include "train.h"

/* Same signature as gfn_train_run. */
typedef int (*gfn_run_fn)(gfn_params *cfg, const char *run_dir, gfn_progress_fn progress,
                          void *progress_ctx, gfn_params *summary, gfn_error *err);
/* Checks a configuration without running it (unknown keys, bad values). */
typedef int (*gfn_validate_fn)(gfn_params *cfg, gfn_error *err);

typedef struct {
    int jobs;                 /* parallel runs; <= 0 means the number of online cores */
    const char *only;         /* fnmatch pattern on "variant" or "variant/seedK"; NULL: all */
    int resume;               /* skip finished runs, redo the others */
    const char *out_dir;      /* results root; NULL means "results" */
    gfn_run_fn run;           /* NULL means gfn_train_run */
    gfn_validate_fn validate; /* NULL means no up-front check */
    gfn_validate_fn check_task; /* builds a run's task once per distinct task
                                   configuration before anything runs; NULL: none */
    FILE *log;                /* progress and summary lines; NULL: silent */
    int live;                 /* -1: redraw in place when log is a terminal; 0 plain; 1 live */
    int index;                /* >= 0: only the run with this index (gfn_runner_list); -1 all */
    int shard_i, shard_n;     /* shard_n > 0: only runs whose index % shard_n == shard_i - 1 */
    int force;                /* rerun folders whose recorded configuration differs */
    /* The resolved configuration (every default filled) of a run's key list, as
     * "key=value" lines (gfn_train_resolved); NULL: compare config.txt only.  With
     * it, a folder whose resolved.txt differs (a default changed between builds)
     * counts as another configuration too. */
    int (*resolve)(const gfn_params *cfg, gfn_strbuf *out, gfn_error *err);
    int cores;                /* > 0: CPU budget for jobs x threads; <= 0: the online cores */
} gfn_runner_opts;

typedef struct {
    int total;   /* runs selected */
    int skipped; /* finished earlier (--resume) */
    int ran;     /* started now */
    int failed;  /* of those started now */
    int diverged; /* of those started now: ended with status diverged */
    int interrupted; /* of those started now: stopped by SIGTERM after a checkpoint */
} gfn_runner_stats;

void gfn_runner_opts_init(gfn_runner_opts *o);

/* Validates every selected run's configuration, then runs them.  Returns GFN_OK
 * when every run succeeded, GFN_ECHILD with a summary of the failures in err when
 * some failed, or another status (nothing run) when the setup failed. */
int gfn_runner_run(const gfn_spec *s, const gfn_runner_opts *o, gfn_runner_stats *stats,
                   gfn_error *err);

/* OUT/<experiment>/<variant>/seed<k> into buf; returns its length (as snprintf:
 * cut short when that is >= cap). */
int gfn_runner_run_dir(const gfn_spec *s, const char *out_dir, int variant, int seed_index,
                       char *buf, size_t cap);
/* The longest run folder path a run accepts (its files' paths must fit 4096). */
enum { GFN_RUN_DIR_MAX = 3900 };

/* Compares run_dir/config.txt with the configuration asked for now: -1 when the
 * folder has no config.txt, else the number of keys that differ, each appended
 * to diff as "key recorded -> now" (comma-separated). */
int gfn_runner_config_diff(const char *run_dir, const gfn_params *now, gfn_strbuf *diff);

/* 1 when run_dir/run.txt exists and says "status: ok". */
int gfn_runner_is_finished(const char *run_dir);

/* The state of one run folder, as `run --list` and `status` show it. */
typedef enum {
    GFN_RUN_TODO,     /* no folder, or nothing in it yet */
    GFN_RUN_PARTIAL,  /* started: metrics.tsv reaches *round, no final status (or
                         "status: interrupted": checkpointed, --resume continues it) */
    GFN_RUN_DONE,     /* run.txt says status: ok */
    GFN_RUN_FAILED,   /* run.txt says status: failed */
    GFN_RUN_DIVERGED, /* run.txt says status: diverged */
} gfn_run_state;

/* State of run_dir; *round (may be NULL) gets the last round in metrics.tsv (0 when none). */
gfn_run_state gfn_runner_state(const char *run_dir, long *round);
const char *gfn_run_state_name(gfn_run_state st);

/* Index order: variant-major, seed-minor (index = variant * n_seeds + seed_index),
 * the order of the spec.  Prints one line per run selected by o (only, index,
 * shard): index, folder, state ("running (pid P)" when a process holds its lock). */
int gfn_runner_list(const gfn_spec *s, const gfn_runner_opts *o, FILE *out, gfn_error *err);

/* Locks.  A whole-experiment `run` holds OUT/<experiment>/run.lock exclusively; a
 * run started with --index or --shard holds it shared (shards may run side by
 * side, a whole run excludes them) and holds OUT/<experiment>/<variant>/seed<k>.lock
 * exclusively for each of its runs.  The holder's pid is written into an
 * exclusive lock file.  Locks are flock(2) locks: the kernel drops them when the
 * holder exits, so a killed run leaves nothing stale.  Returns the open file
 * descriptor in *fd, or GFN_EBUSY naming the holder when it is taken. */
int gfn_runner_lock(const char *path, int exclusive, int *fd, gfn_error *err);
/* Who holds them now: the pid (-1 when held by an unknown holder; 0 when free) of
 * the run folder's own lock (run_dir.lock: a run started with --index or --shard),
 * and of a whole-experiment run's exclusive lock on exp_dir/run.lock. */
long gfn_runner_run_holder(const char *run_dir);
long gfn_runner_whole_holder(const char *exp_dir);

#endif
