/* cmd_slurm.c - `gfnbench slurm SPEC.yaml`: writes the sbatch scripts of an
 * experiment (a job array with one task per run not yet finished, and a report
 * job that waits for it; text from harness/experiment/slurm.c) and, with
 * --submit, submits both through sbatch. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "fsutil.h"
#include "runner.h"
#include "slurm.h"
#include "spec.h"

static void slurm_usage(FILE *f)
{
    fprintf(f,
            "usage: gfnbench slurm SPEC.yaml [key=value ...] [--out DIR] [--plots DIR]\n"
            "                                [--partition P] [--time T]\n"
            "                                [--cpus-per-task C] [--mem M] [--account A]\n"
            "                                [--qos Q] [--extra 'SBATCH LINE']...\n"
            "                                [--signal-lead S] [--submit]\n\n"
            "key=value overrides as for `gfnbench run` (rounds=, seeds=, keys, sweeps): the\n"
            "tasks and the report job then run the effective spec written beside the scripts\n"
            "(DIR/<experiment>/slurm/effective_spec.yaml).\n\n"
            "Writes two sbatch scripts into DIR/<experiment>/slurm/ (default DIR: results):\n"
            "  array.sbatch   a job array, one task per run not finished yet (done and\n"
            "                 diverged runs are left out, and so are runs going on now,\n"
            "                 whose lock a process holds); task K runs\n"
            "                 `gfnbench run SPEC --index K --resume --out DIR`, K as in\n"
            "                 `gfnbench run SPEC --list`; with --requeue, so a preempted or\n"
            "                 requeued task runs again and takes its run up again\n"
            "  report.sbatch  `gfnbench report SPEC --out DIR --plots PLOTS`, to submit with\n"
            "                 --dependency=afterany:<array job id>\n"
            "Slurm's log of each task goes to DIR/<experiment>/slurm/logs/<job>_<task>.out; the\n"
            "run's own log.txt stays in its run folder.  Without --submit it prints the\n"
            "scripts' paths and the commands that submit them; with --submit it calls sbatch\n"
            "for both and prints the job ids.  Running it again after some runs finished\n"
            "writes an array of the rest.  While a whole `gfnbench run` of the experiment\n"
            "holds its lock, nothing is written (every task would fail on that lock).\n\n"
            "The results folder DIR (and the spec, and this gfnbench executable) must be on a\n"
            "file system that every node of the cluster shares: the scripts name them by\n"
            "their absolute paths, and the tasks write their runs there.\n\n"
            "  --out DIR          results root (default: results)\n"
            "  --plots DIR        figures root of the report job (default: plots)\n"
            "  --partition P, --time T, --mem M, --account A, --qos Q\n"
            "                     the sbatch options of the array tasks (partition, account\n"
            "                     and qos also for the report job); T as sbatch takes it\n"
            "                     (minutes, or [D-]HH:MM:SS)\n"
            "  --cpus-per-task C  cores per task; gfnbench trains each run on one thread\n"
            "                     today, so this only reserves cores until the speed work\n"
            "                     adds a threads setting\n"
            "  --extra LINE       one more #SBATCH line for both scripts (repeatable), e.g.\n"
            "                     --extra '--constraint=avx2'\n"
            "  --signal-lead S    seconds before the time limit at which a task stops its run\n"
            "                     and requeues itself, to go on in its next allocation\n"
            "                     (default 300)\n"
            "  --submit           submit both scripts with sbatch and print the job ids\n\n"
            "Slurm's MaxArraySize (1001 by default) bounds the largest run index a job array\n"
            "can hold.  `gfnbench status SPEC` shows how far the runs have got.\n");
}

/* path made absolute against the current folder (not resolved: it may not exist yet). */
static int absolute(const char *path, char *buf, size_t cap, gfn_error *err)
{
    char cwd[PATH_MAX];
    int n;
    if (path[0] == '/')
        n = snprintf(buf, cap, "%s", path);
    else if (!getcwd(cwd, sizeof cwd))
        return gfn_error_set(err, GFN_EIO, "cannot read the current folder: %s", strerror(errno));
    else
        n = snprintf(buf, cap, "%s/%s", cwd, path);
    if (n < 0 || (size_t)n >= cap)
        return gfn_error_set(err, GFN_EUSAGE, "path too long: %.200s", path);
    return GFN_OK;
}

/* Runs argv (sbatch), reads its standard output into buf; its exit status, or -1. */
static int run_capture(char *const argv[], char *buf, size_t cap, gfn_error *err)
{
    int fd[2];
    if (pipe(fd) != 0)
        return gfn_error_set(err, GFN_EIO, "pipe: %s", strerror(errno)), -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return gfn_error_set(err, GFN_EIO, "fork: %s", strerror(errno)), -1;
    }
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "gfnbench slurm: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    size_t len = 0;
    ssize_t n;
    while ((n = read(fd[0], buf + len, cap - 1 - len)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0 && (len += (size_t)n) >= cap - 1)
            break;
    buf[len] = '\0';
    close(fd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return gfn_error_set(err, GFN_EIO, "waitpid: %s", strerror(errno)), -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static long sbatch(const char *dependency, const char *script, gfn_error *err)
{
    char out[1024], dep[64] = "";
    char *argv[5];
    int a = 0;
    argv[a++] = "sbatch";
    argv[a++] = "--parsable";
    if (dependency) {
        snprintf(dep, sizeof dep, "--dependency=%s", dependency);
        argv[a++] = dep;
    }
    argv[a++] = (char *)script;
    argv[a] = NULL;
    int st = run_capture(argv, out, sizeof out, err);
    if (st < 0)
        return -1;
    long id = gfn_slurm_parse_job_id(out);
    if (st != 0 || id < 0) {
        gfn_error_set(err, GFN_ECHILD, "sbatch %s%s%s exited with status %d%s%s", dep,
                      dep[0] ? " " : "", script, st, out[0] ? ", printing: " : "", out);
        return -1;
    }
    return id;
}

typedef struct {
    const char *spec, *out, *plots;
    int submit;
    gfn_slurm_opts so;
    char *over[256]; /* run's key=value overrides */
    int n_over;
} slurm_args;

static int parse_args(int argc, char **argv, slurm_args *a)
{
    memset(a, 0, sizeof *a);
    gfn_slurm_opts_init(&a->so);
    a->out = "results";
    a->plots = "plots";
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **str = strcmp(k, "--out") == 0         ? &a->out
                           : strcmp(k, "--plots") == 0     ? &a->plots
                           : strcmp(k, "--partition") == 0 ? &a->so.partition
                           : strcmp(k, "--time") == 0      ? &a->so.time
                           : strcmp(k, "--mem") == 0       ? &a->so.mem
                           : strcmp(k, "--account") == 0   ? &a->so.account
                           : strcmp(k, "--qos") == 0       ? &a->so.qos
                                                           : NULL;
        char *end;
        if (str && v) {
            *str = v;
            i++;
        } else if (strcmp(k, "--extra") == 0 && v) {
            if (a->so.n_extra == GFN_SLURM_MAX_EXTRA) {
                fprintf(stderr, "gfnbench slurm: at most %d --extra lines\n", GFN_SLURM_MAX_EXTRA);
                return 2;
            }
            a->so.extra[a->so.n_extra++] = v;
            i++;
        } else if ((strcmp(k, "--cpus-per-task") == 0 || strcmp(k, "--signal-lead") == 0) && v) {
            long n = strtol(v, &end, 10);
            if (end == v || *end || n < 1 || n > 1000000) {
                fprintf(stderr, "gfnbench slurm: %s expects a whole number >= 1, got '%s'\n", k, v);
                return 2;
            }
            *(k[2] == 'c' ? &a->so.cpus_per_task : &a->so.signal_lead) = (int)n;
            i++;
        } else if (strcmp(k, "--submit") == 0) {
            a->submit = 1;
        } else if (k[0] != '-' && !a->spec) {
            a->spec = k;
        } else if (k[0] != '-' && strchr(k, '=') && a->n_over < 256) {
            a->over[a->n_over++] = argv[i];
        } else {
            fprintf(stderr, "gfnbench slurm: unexpected argument '%s' (see gfnbench slurm "
                    "--help)\n", k);
            return 2;
        }
    }
    return a->spec ? 0 : -1;
}

/* Writes both scripts into dir; fills the array's index list into arr. */
static int write_scripts(const gfn_spec *s, const gfn_slurm_opts *o, const int *idx, int n,
                         const char *dir, gfn_strbuf *arr, gfn_error *err)
{
    char path[4400];
    gfn_strbuf b;
    gfn_strbuf_init(&b);
    int rc = gfn_slurm_array_script(s, o, idx, n, &b, err);
    snprintf(path, sizeof path, "%s/array.sbatch", dir);
    if (!rc)
        rc = gfn_strbuf_write(&b, path, err);
    gfn_strbuf_close(&b);
    gfn_strbuf_init(&b);
    if (!rc)
        rc = gfn_slurm_report_script(s, o, &b, err);
    snprintf(path, sizeof path, "%s/report.sbatch", dir);
    if (!rc)
        rc = gfn_strbuf_write(&b, path, err);
    gfn_strbuf_close(&b);
    gfn_slurm_array_list(idx, n, arr);
    return rc;
}

static int submit(const char *dir, int n, const char *arr, gfn_error *err)
{
    char path[4400], dep[64];
    snprintf(path, sizeof path, "%s/array.sbatch", dir);
    long array_id = sbatch(NULL, path, err);
    if (array_id < 0)
        return GFN_ECHILD;
    printf("submitted %s: array job %ld (%d tasks: %s)\n", path, array_id, n, arr);
    snprintf(dep, sizeof dep, "afterany:%ld", array_id);
    snprintf(path, sizeof path, "%s/report.sbatch", dir);
    long report_id = sbatch(dep, path, err);
    if (report_id < 0)
        return GFN_ECHILD;
    printf("submitted %s: report job %ld (after every task of %ld)\n", path, report_id, array_id);
    printf("array_job_id=%ld report_job_id=%ld\n", array_id, report_id);
    return GFN_OK;
}

static void print_commands(const char *dir, int n, const char *arr)
{
    gfn_strbuf a, r;
    gfn_strbuf_init(&a);
    gfn_strbuf_init(&r);
    gfn_strbuf_printf(&a, "%s/array.sbatch", dir);
    gfn_strbuf_printf(&r, "%s/report.sbatch", dir);
    printf("wrote %s (%d array tasks: %s)\n  and %s\nsubmit both with:\n  jid=$(sbatch "
           "--parsable %s) && sbatch --dependency=afterany:${jid%%%%;*} %s\n"
           "or run gfnbench slurm again with --submit.\n", a.data, n, arr, r.data, a.data,
           r.data);
    gfn_strbuf_close(&a);
    gfn_strbuf_close(&r);
}

int gfn_cmd_slurm(int argc, char **argv)
{
    if (gfn_cmd_wants_help(argc, argv)) {
        slurm_usage(stdout);
        return 0;
    }
    slurm_args a;
    int prc = parse_args(argc, argv, &a);
    if (prc) {
        if (prc < 0)
            slurm_usage(stderr);
        return 2;
    }
    gfn_error err;
    gfn_spec *s = gfn_spec_load(a.spec, &err);
    if (!s) {
        fprintf(stderr, "gfnbench slurm: %s\n", err.msg);
        return 1;
    }
    if (gfn_spec_override(s, a.n_over, a.over, &err) != GFN_OK) {
        fprintf(stderr, "gfnbench slurm: %s\n", err.msg);
        gfn_spec_free(s);
        return 2;
    }
    char exe[PATH_MAX], spec[PATH_MAX], out[PATH_MAX], plots[PATH_MAX], dir[PATH_MAX + 200];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    int rc = GFN_OK;
    if (len <= 0)
        rc = gfn_error_set(&err, GFN_EIO, "cannot find the gfnbench executable's path: %s",
                           strerror(errno));
    else
        exe[len] = '\0';
    if (!rc && !realpath(a.spec, spec))
        rc = gfn_error_set(&err, GFN_EIO, "%s: %s", a.spec, strerror(errno));
    if (!rc)
        rc = absolute(a.out, out, sizeof out, &err);
    if (!rc && a.n_over > 0) {
        /* The tasks and the report job run the effective spec (overrides applied),
         * written beside the scripts. */
        char sdir[PATH_MAX + 200];
        gfn_slurm_dir(s, out, sdir, sizeof sdir);
        rc = gfn_fs_mkdir_p(sdir, &err);
        if (!rc && snprintf(spec, sizeof spec, "%s/effective_spec.yaml", sdir) >= (int)sizeof spec)
            rc = gfn_error_set(&err, GFN_EUSAGE, "%s: path too long", sdir);
        if (!rc)
            rc = gfn_spec_write_yaml(s, spec, &err);
    }
    if (!rc)
        rc = absolute(a.plots, plots, sizeof plots, &err);
    a.so.gfnbench = exe;
    a.so.spec_path = spec;
    a.so.out_dir = out;
    a.so.plots_dir = plots;
    if (!rc)
        rc = gfn_slurm_check(&a.so, &err);
    int total = s->n_variants * s->n_seeds;
    int *idx = malloc((size_t)total * sizeof *idx);
    if (!rc && !idx)
        rc = gfn_error_set(&err, GFN_ENOMEM, "out of memory");
    char exp_dir[PATH_MAX + 300];
    snprintf(exp_dir, sizeof exp_dir, "%s/%s", out, s->name);
    long whole = rc ? 0 : gfn_runner_whole_holder(exp_dir);
    if (whole != 0) {
        char who[64];
        snprintf(who, sizeof who, whole > 0 ? "pid %ld" : "holder unknown", whole);
        rc = gfn_error_set(&err, GFN_EBUSY, "a whole `gfnbench run` (%s) is running into %s/ "
                           "and holds its lock: every task would fail on it; wait for it or "
                           "stop it (its runs checkpoint; slurm then continues them)", who,
                           exp_dir);
    }
    int n_running = 0;
    int n = rc ? 0 : gfn_slurm_pending(s, out, idx, &n_running);
    gfn_slurm_dir(s, out, dir, sizeof dir);
    if (!rc && n_running > 0)
        printf("%s: %d run%s running now (a process holds the lock) left out of the array; "
               "they go on in their process\n", s->name, n_running, n_running == 1 ? " is" : "s are");
    if (!rc && n == 0 && n_running > 0) {
        printf("%s: nothing else to submit\n", s->name);
    } else if (!rc && n == 0) {
        printf("%s: all %d runs in %s/%s/ are finished; nothing to submit (gfnbench report "
               "%s --out %s makes the tables)\n", s->name, total, out, s->name, spec, out);
    } else if (!rc) {
        char logs[PATH_MAX + 300];
        snprintf(logs, sizeof logs, "%s/logs", dir);
        gfn_strbuf arr;
        gfn_strbuf_init(&arr);
        rc = gfn_fs_mkdir_p(logs, &err);
        if (!rc)
            rc = write_scripts(s, &a.so, idx, n, dir, &arr, &err);
        if (!rc && a.submit)
            rc = submit(dir, n, arr.data, &err);
        else if (!rc)
            print_commands(dir, n, arr.data);
        gfn_strbuf_close(&arr);
    }
    if (rc)
        fprintf(stderr, "gfnbench slurm: %s\n", err.msg);
    free(idx);
    gfn_spec_free(s);
    return rc ? 1 : 0;
}
