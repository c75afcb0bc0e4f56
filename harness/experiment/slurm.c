/* slurm.c - the text of the sbatch scripts of `gfnbench slurm` (see slurm.h). */
#include "slurm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

void gfn_slurm_opts_init(gfn_slurm_opts *o)
{
    memset(o, 0, sizeof *o);
    o->signal_lead = 300;
}

int gfn_slurm_dir(const gfn_spec *s, const char *out_dir, char *buf, size_t cap)
{
    return snprintf(buf, cap, "%s/%s/slurm", out_dir ? out_dir : "results", s->name);
}

/* A value goes into a "#SBATCH --key=value" line: one line, no comment, no blanks
 * (sbatch would cut it there), nothing sbatch or the shell reads specially. */
static int check_value(const char *what, const char *v, gfn_error *err)
{
    if (!v)
        return GFN_OK;
    if (!*v)
        return gfn_error_set(err, GFN_EUSAGE, "%s: an empty value", what);
    for (const char *p = v; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t' || *p == '#' || *p == '\'' ||
            *p == '"' || *p == '\\' || *p == '`' || *p == '$')
            return gfn_error_set(err, GFN_EUSAGE, "%s '%s': blanks, quotes, '#', '$', '`' and "
                                 "'\\' cannot go into an #SBATCH line", what, v);
    return GFN_OK;
}

static int check_path(const char *what, const char *p, gfn_error *err)
{
    if (!p || p[0] != '/')
        return gfn_error_set(err, GFN_EUSAGE, "%s must be an absolute path, got '%s'", what,
                             p ? p : "(none)");
    if (strchr(p, '\n') || strchr(p, '\r'))
        return gfn_error_set(err, GFN_EUSAGE, "%s '%s' holds a line break", what, p);
    return GFN_OK;
}

int gfn_slurm_check(const gfn_slurm_opts *o, gfn_error *err)
{
    int rc = check_path("the gfnbench executable", o->gfnbench, err);
    if (!rc)
        rc = check_path("the spec", o->spec_path, err);
    if (!rc)
        rc = check_path("--out", o->out_dir, err);
    if (!rc)
        rc = check_path("--plots", o->plots_dir, err);
    /* Slurm's log path is an #SBATCH value (and '%' starts one of its patterns). */
    if (!rc && strpbrk(o->out_dir, " \t'\"\\%#$`"))
        rc = gfn_error_set(err, GFN_EUSAGE, "--out '%s': Slurm's log files go under it, so it "
                           "cannot hold blanks, quotes, '%%', '#', '$', '`' or '\\'", o->out_dir);
    if (!rc)
        rc = check_value("--partition", o->partition, err);
    if (!rc)
        rc = check_value("--time", o->time, err);
    if (!rc)
        rc = check_value("--mem", o->mem, err);
    if (!rc)
        rc = check_value("--account", o->account, err);
    if (!rc)
        rc = check_value("--qos", o->qos, err);
    if (!rc && o->cpus_per_task < 0)
        rc = gfn_error_set(err, GFN_EUSAGE, "--cpus-per-task must be >= 1");
    for (int i = 0; !rc && i < o->n_extra; i++)
        if (strpbrk(o->extra[i], "\n\r") || !*o->extra[i])
            rc = gfn_error_set(err, GFN_EUSAGE, "--extra '%s': one non-empty line expected",
                               o->extra[i]);
    return rc;
}

int gfn_slurm_pending(const gfn_spec *s, const char *out_dir, int *idx, int *n_running)
{
    int n = 0;
    *n_running = 0;
    char dir[4200];
    for (int v = 0; v < s->n_variants; v++)
        for (int k = 0; k < s->n_seeds; k++) {
            gfn_runner_run_dir(s, out_dir, v, k, dir, sizeof dir);
            gfn_run_state st = gfn_runner_state(dir, NULL);
            if (st == GFN_RUN_DONE || st == GFN_RUN_DIVERGED)
                continue;
            if (gfn_runner_run_holder(dir) != 0)
                (*n_running)++; /* its process goes on; a task for it would fail on the lock */
            else
                idx[n++] = v * s->n_seeds + k;
        }
    return n;
}

void gfn_slurm_array_list(const int *idx, int n, gfn_strbuf *out)
{
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && idx[j + 1] == idx[j] + 1)
            j++;
        gfn_strbuf_printf(out, "%s%d", i ? "," : "", idx[i]);
        if (j > i)
            gfn_strbuf_printf(out, "-%d", idx[j]);
        i = j + 1;
    }
}

void gfn_slurm_shell_quote(const char *s, gfn_strbuf *out)
{
    gfn_strbuf_printf(out, "'");
    for (const char *p = s; *p; p++)
        if (*p == '\'')
            gfn_strbuf_printf(out, "'\\''");
        else
            gfn_strbuf_printf(out, "%c", *p);
    gfn_strbuf_printf(out, "'");
}

static void sbatch_opt(gfn_strbuf *b, const char *key, const char *value)
{
    if (value)
        gfn_strbuf_printf(b, "#SBATCH --%s=%s\n", key, value);
}

/* The lines both scripts share: where the job runs, and the user's own lines. */
static void common_opts(gfn_strbuf *b, const gfn_slurm_opts *o)
{
    sbatch_opt(b, "partition", o->partition);
    sbatch_opt(b, "account", o->account);
    sbatch_opt(b, "qos", o->qos);
    for (int i = 0; i < o->n_extra; i++)
        gfn_strbuf_printf(b, "%s%s\n", strncmp(o->extra[i], "#SBATCH", 7) == 0 ? "" : "#SBATCH ",
                          o->extra[i]);
}

static void shell_var(gfn_strbuf *b, const char *name, const char *value)
{
    gfn_strbuf_printf(b, "%s=", name);
    gfn_slurm_shell_quote(value, b);
    gfn_strbuf_printf(b, "\n");
}

int gfn_slurm_array_script(const gfn_spec *s, const gfn_slurm_opts *o, const int *idx, int n,
                           gfn_strbuf *out, gfn_error *err)
{
    int rc = gfn_slurm_check(o, err);
    if (rc)
        return rc;
    if (n < 1)
        return gfn_error_set(err, GFN_EUSAGE, "%s: no run to submit", s->name);
    char dir[4200];
    gfn_slurm_dir(s, o->out_dir, dir, sizeof dir);
    int lead = o->signal_lead > 0 ? o->signal_lead : 300;
    gfn_strbuf_printf(out,
                      "#!/bin/bash\n"
                      "# %s: one array task per run not finished when `gfnbench slurm` wrote\n"
                      "# this (%d of %d); task K runs `gfnbench run SPEC --index K --resume`\n"
                      "# (K as in `gfnbench run SPEC --list`).  The results folder must be on a\n"
                      "# file system that every node shares.\n",
                      s->name, n, s->n_variants * s->n_seeds);
    gfn_strbuf_printf(out, "#SBATCH --job-name=gfn-%s\n#SBATCH --array=", s->name);
    gfn_slurm_array_list(idx, n, out);
    gfn_strbuf_printf(out,
                      "\n#SBATCH --requeue\n"
                      "#SBATCH --open-mode=append\n"
                      "#SBATCH --output=%s/logs/%%A_%%a.out\n"
                      "#SBATCH --signal=B:USR1@%d\n",
                      dir, lead);
    if (o->cpus_per_task > 0)
        gfn_strbuf_printf(out,
                          "# gfnbench trains each run on one thread today: --cpus-per-task only\n"
                          "# reserves the cores (runs use more threads once the speed work adds\n"
                          "# a threads setting).\n"
                          "#SBATCH --cpus-per-task=%d\n", o->cpus_per_task);
    sbatch_opt(out, "time", o->time);
    sbatch_opt(out, "mem", o->mem);
    common_opts(out, o);
    gfn_strbuf_printf(out, "\nset -u\n");
    shell_var(out, "GFNBENCH", o->gfnbench);
    shell_var(out, "SPEC", o->spec_path);
    shell_var(out, "OUT", o->out_dir);
    gfn_strbuf_printf(out,
        "TASK=\"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"\n"
        "\n"
        "# %d s before the time limit Slurm sends SIGUSR1 to this shell: stop the run\n"
        "# (gfnbench passes SIGTERM on to it and exits 130) and requeue this task, which\n"
        "# then continues the run (--resume).  A preemption or `scontrol requeue` sends\n"
        "# SIGTERM to every process of the task, and Slurm requeues it itself.\n"
        "requeue=0\n"
        "pid=\n"
        "trap 'requeue=1; kill -TERM \"$pid\" 2>/dev/null' USR1\n"
        "echo \"gfnbench: task $TASK (start $((${SLURM_RESTART_COUNT:-0} + 1))) on "
        "$(hostname) at $(date)\"\n"
        "\"$GFNBENCH\" run \"$SPEC\" --index \"$SLURM_ARRAY_TASK_ID\" --resume --out \"$OUT\" &\n"
        "pid=$!\n"
        "rc=0\n"
        "wait \"$pid\" || rc=$?\n"
        "# A trapped signal ends `wait` early: wait again until the run has exited.\n"
        "while kill -0 \"$pid\" 2>/dev/null; do rc=0; wait \"$pid\" || rc=$?; done\n"
        "if [ \"$requeue\" = 1 ]; then\n"
        "    echo \"gfnbench: time limit near, run stopped (status $rc); requeueing $TASK\"\n"
        "    scontrol requeue \"$TASK\"\n"
        "fi\n"
        "echo \"gfnbench: task $TASK exits with status $rc at $(date)\"\n"
        "exit \"$rc\"\n",
        lead);
    return out->failed ? gfn_error_set(err, GFN_ENOMEM, "out of memory") : GFN_OK;
}

int gfn_slurm_report_script(const gfn_spec *s, const gfn_slurm_opts *o, gfn_strbuf *out,
                            gfn_error *err)
{
    int rc = gfn_slurm_check(o, err);
    if (rc)
        return rc;
    char dir[4200];
    gfn_slurm_dir(s, o->out_dir, dir, sizeof dir);
    gfn_strbuf_printf(out,
                      "#!/bin/bash\n"
                      "# %s: the tables and figures, once every task of the job array has\n"
                      "# ended (submit with --dependency=afterany:<array job id>).\n"
                      "#SBATCH --job-name=gfn-%s-report\n"
                      "#SBATCH --open-mode=append\n"
                      "#SBATCH --output=%s/logs/report_%%j.out\n",
                      s->name, s->name, dir);
    common_opts(out, o);
    gfn_strbuf_printf(out, "\nset -u\n");
    shell_var(out, "GFNBENCH", o->gfnbench);
    shell_var(out, "SPEC", o->spec_path);
    shell_var(out, "OUT", o->out_dir);
    shell_var(out, "PLOTS", o->plots_dir);
    gfn_strbuf_printf(out, "\"$GFNBENCH\" status \"$SPEC\" --out \"$OUT\"\n"
                           "exec \"$GFNBENCH\" report \"$SPEC\" --out \"$OUT\" --plots \"$PLOTS\"\n");
    return out->failed ? gfn_error_set(err, GFN_ENOMEM, "out of memory") : GFN_OK;
}

long gfn_slurm_parse_job_id(const char *text)
{
    char *end;
    if (!text || *text < '0' || *text > '9')
        return -1;
    long id = strtol(text, &end, 10);
    if (id <= 0 || (*end != '\0' && *end != ';' && *end != '\n' && *end != '\r'))
        return -1;
    return id;
}
