/* slurm.h - the sbatch scripts of `gfnbench slurm`: a job array with one task per
 * run not yet finished, and a report job that runs after it.
 *
 * The array script: one task per run index (the index of `run --list`), each
 * running `gfnbench run SPEC --index $SLURM_ARRAY_TASK_ID --resume --out DIR`, so a
 * requeued or resubmitted task picks its run up again.  It asks Slurm for
 * --requeue and for SIGUSR1 to the batch shell some minutes before the time limit;
 * the shell passes SIGTERM to gfnbench (which stops its run and exits 130) and
 * requeues its own task, so a run longer than the time limit goes on in a later
 * allocation.  A preemption or `scontrol requeue` sends SIGTERM to every process
 * of the task and Slurm requeues it itself.  Slurm's own log of a task goes to
 * OUT/<experiment>/slurm/logs/<array job id>_<task id>.out (the run's own log.txt
 * stays in its run folder).
 *
 * The report script runs `gfnbench report SPEC --out DIR --plots PLOTS`; it is
 * submitted with --dependency=afterany:<array job id>.
 *
 * Every path in the scripts is absolute: the tasks run on other nodes, in other
 * folders, and the results folder must be on a file system that all of them share.
 * Text only: writing the files and calling sbatch is the command's business.
 */
#ifndef GFN_SLURM_H
#define GFN_SLURM_H

#include "fsutil.h"
#include "spec.h"
#include "status.h"

enum { GFN_SLURM_MAX_EXTRA = 32 };

typedef struct {
    const char *gfnbench;   /* absolute path of the gfnbench executable */
    const char *spec_path;  /* absolute path of the spec */
    const char *out_dir;    /* absolute results root (the --out of run and report) */
    const char *plots_dir;  /* absolute figures root (the --plots of report) */
    const char *partition, *time, *mem, *account, *qos; /* NULL: not asked for */
    int cpus_per_task;      /* 0: not asked for */
    const char *extra[GFN_SLURM_MAX_EXTRA]; /* further "#SBATCH ..." lines (with or without
                                               the "#SBATCH " prefix) */
    int n_extra;
    int signal_lead;        /* seconds before the time limit at which the task is told
                               to stop and requeue itself; <= 0 means 300 */
} gfn_slurm_opts;

void gfn_slurm_opts_init(gfn_slurm_opts *o);

/* Checks every option (no newline in a value, no shell or sbatch-unsafe characters in
 * the log path, absolute paths).  GFN_EUSAGE with a message naming the option. */
int gfn_slurm_check(const gfn_slurm_opts *o, gfn_error *err);

/* The run indices (variant * n_seeds + seed_index) of every run whose folder under
 * out_dir is not finished (done or diverged) and not running now (its lock held by
 * a process: a task for it would fail on the lock), in increasing order, into idx
 * (room for n_variants * n_seeds); returns how many, the running ones in *n_running. */
int gfn_slurm_pending(const gfn_spec *s, const char *out_dir, int *idx, int *n_running);

/* Slurm's --array list of n increasing indices, ranges joined: "0-3,5,7-8". */
void gfn_slurm_array_list(const int *idx, int n, gfn_strbuf *out);

/* Appends s to out as one shell word in single quotes ('it'\''s'). */
void gfn_slurm_shell_quote(const char *s, gfn_strbuf *out);

/* The array script for the n runs in idx (n >= 1). */
int gfn_slurm_array_script(const gfn_spec *s, const gfn_slurm_opts *o, const int *idx, int n,
                           gfn_strbuf *out, gfn_error *err);

/* The report script. */
int gfn_slurm_report_script(const gfn_spec *s, const gfn_slurm_opts *o, gfn_strbuf *out,
                            gfn_error *err);

/* OUT/<experiment>/slurm into buf (as snprintf). */
int gfn_slurm_dir(const gfn_spec *s, const char *out_dir, char *buf, size_t cap);

/* The job id in `sbatch --parsable` output ("123" or "123;cluster", then a newline):
 * its value, or -1 when text does not start with one. */
long gfn_slurm_parse_job_id(const char *text);

#endif
