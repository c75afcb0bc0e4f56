/* runner.h - runs every (variant, seed) pair of an experiment in parallel child
 * processes and records each run in its own folder.
 *
 * Layout: OUT/<experiment>/<variant>/seed<k>/ holds what the run function writes
 * (metrics.tsv, summary.txt, logp.tsv, checkpoint.bin), plus config.txt (the
 * resolved configuration, written before the run), log.txt (the child's stdout
 * and stderr) and run.txt (seed, git commit, compiler and flags, library
 * versions, wall time, status ok|failed with the reason).  run.txt is written
 * last, atomically, by the parent: a folder whose run.txt says "status: ok" is
 * finished, anything else is half-written and --resume clears and redoes it.
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
    FILE *log;                /* progress and summary lines; NULL: silent */
    int live;                 /* -1: redraw in place when log is a terminal; 0 plain; 1 live */
} gfn_runner_opts;

typedef struct {
    int total;   /* runs selected */
    int skipped; /* finished earlier (--resume) */
    int ran;     /* started now */
    int failed;  /* of those started now */
} gfn_runner_stats;

void gfn_runner_opts_init(gfn_runner_opts *o);

/* Validates every selected run's configuration, then runs them.  Returns GFN_OK
 * when every run succeeded, GFN_ECHILD with a summary of the failures in err when
 * some failed, or another status (nothing run) when the setup failed. */
int gfn_runner_run(const gfn_spec *s, const gfn_runner_opts *o, gfn_runner_stats *stats,
                   gfn_error *err);

/* OUT/<experiment>/<variant>/seed<k> into buf. */
void gfn_runner_run_dir(const gfn_spec *s, const char *out_dir, int variant, int seed_index,
                        char *buf, size_t cap);

/* 1 when run_dir/run.txt exists and says "status: ok". */
int gfn_runner_is_finished(const char *run_dir);

#endif
