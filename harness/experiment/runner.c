/* runner.c - the experiment runner: one child process per (variant, seed) run,
 * at most `jobs` at once, progress through pipes, results in per-run folders.
 *
 * Why processes and not threads: a run that crashes (abort, segfault) must not
 * take the others down, and waitpid tells the parent which signal killed it.
 * The parent owns the bookkeeping files (config.txt before, run.txt after); the
 * child only calls the run function with its stdout/stderr sent to log.txt.
 */
#include "runner.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <gsl/gsl_version.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <yaml.h>

#include "build_commit.gen.h"
#include "checkpoint.h"
#include "fsutil.h"
#include "task.h"

#ifndef GFN_BUILD_CFLAGS
#define GFN_BUILD_CFLAGS "unknown"
#endif

void gfn_runner_opts_init(gfn_runner_opts *o)
{
    memset(o, 0, sizeof *o);
    o->live = -1;
    o->index = -1;
}

int gfn_runner_run_dir(const gfn_spec *s, const char *out_dir, int variant, int seed_index,
                       char *buf, size_t cap)
{
    return snprintf(buf, cap, "%s/%s/%s/seed%ld", out_dir ? out_dir : "results", s->name,
                    s->variants[variant].name, s->seeds[seed_index]);
}

int gfn_runner_is_finished(const char *run_dir)
{
    char path[4200], *text = NULL;
    snprintf(path, sizeof path, "%s/run.txt", run_dir);
    if (gfn_fs_read_all(path, &text, NULL, NULL) != GFN_OK)
        return 0;
    int ok = strstr(text, "\nstatus: ok\n") != NULL;
    free(text);
    return ok;
}

const char *gfn_run_state_name(gfn_run_state st)
{
    switch (st) {
    case GFN_RUN_TODO: return "todo";
    case GFN_RUN_PARTIAL: return "partial";
    case GFN_RUN_DONE: return "done";
    case GFN_RUN_FAILED: return "failed";
    case GFN_RUN_DIVERGED: return "diverged";
    }
    return "?";
}

/* The first field of the last non-empty line of metrics.tsv (0 when none). */
static long last_metrics_round(const char *run_dir)
{
    char path[4200], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/metrics.tsv", run_dir);
    if (gfn_fs_read_all(path, &text, &len, NULL) != GFN_OK)
        return 0;
    while (len > 0 && text[len - 1] == '\n')
        text[--len] = '\0';
    char *line = text + len;
    while (line > text && line[-1] != '\n')
        line--;
    char *end;
    long round = strtol(line, &end, 10);
    free(text);
    return end > line && round > 0 ? round : 0;
}

gfn_run_state gfn_runner_state(const char *run_dir, long *round)
{
    char path[4200], *text = NULL;
    if (round)
        *round = last_metrics_round(run_dir);
    snprintf(path, sizeof path, "%s/run.txt", run_dir);
    if (gfn_fs_read_all(path, &text, NULL, NULL) == GFN_OK) {
        gfn_run_state st = GFN_RUN_PARTIAL;
        if (strstr(text, "\nstatus: ok\n"))
            st = GFN_RUN_DONE;
        else if (strstr(text, "\nstatus: failed\n"))
            st = GFN_RUN_FAILED;
        else if (strstr(text, "\nstatus: diverged\n"))
            st = GFN_RUN_DIVERGED;
        /* "status: interrupted" (checkpointed on SIGTERM) stays partial: at round N */
        free(text);
        return st;
    }
    return gfn_fs_exists(run_dir) ? GFN_RUN_PARTIAL : GFN_RUN_TODO;
}

/* ---- locks ---- */

/* The pid written into a lock file, when that process is alive; else 0. */
static long lock_holder(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    long pid = strtol(buf, NULL, 10);
    if (pid <= 0 || (pid_t)pid == getpid() || (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
        return 0;
    return pid;
}

int gfn_runner_lock(const char *path, int exclusive, int *fd, gfn_error *err)
{
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (*fd < 0)
        return gfn_error_set(err, GFN_EIO, "cannot open lock file %s: %s", path, strerror(errno));
    if (flock(*fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
        int e = errno;
        long pid = lock_holder(*fd);
        close(*fd);
        *fd = -1;
        if (e != EWOULDBLOCK)
            return gfn_error_set(err, GFN_EIO, "cannot lock %s: %s", path, strerror(e));
        if (pid > 0)
            return gfn_error_set(err, GFN_EBUSY, "%s is locked by process %ld (another gfnbench "
                                 "run into the same folder); wait for it or stop it", path, pid);
        return gfn_error_set(err, GFN_EBUSY, "%s is locked by gfnbench runs started with "
                             "--index or --shard; wait for them or stop them", path);
    }
    if (exclusive) {
        char buf[32];
        int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
        if (ftruncate(*fd, 0) != 0 || pwrite(*fd, buf, (size_t)n, 0) != n) {
            int e = errno;
            close(*fd);
            *fd = -1;
            return gfn_error_set(err, GFN_EIO, "cannot write lock file %s: %s", path,
                                 strerror(e));
        }
    }
    return GFN_OK;
}

/* The pid holding the flock lock at path exclusively (-1: held, holder unknown; 0:
 * free, shared only, or no file). */
static long path_lock_holder(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    long pid = 0;
    if (flock(fd, LOCK_SH | LOCK_NB) != 0) {
        pid = lock_holder(fd);
        if (pid == 0)
            pid = -1; /* held, holder unknown */
    } else {
        flock(fd, LOCK_UN);
    }
    close(fd);
    return pid;
}

/* The pid holding run_dir's lock, or 0 when nobody holds it. */
static long run_lock_holder(const char *run_dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s.lock", run_dir);
    return path_lock_holder(path);
}

long gfn_runner_run_holder(const char *run_dir)
{
    return run_lock_holder(run_dir);
}

long gfn_runner_whole_holder(const char *exp_dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/run.lock", exp_dir);
    return path_lock_holder(path);
}

/* ---- the message a child sends to the parent: progress, or its error ---- */

typedef struct {
    char type; /* 'P' progress, 'E' error message */
    long round, rounds;
    double rounds_per_s, mean_reward_pct;
    char msg[sizeof(((gfn_error *)0)->msg)];
} child_msg;

/* Writes of at most PIPE_BUF bytes are atomic, so records never interleave. */
_Static_assert(sizeof(child_msg) <= 4096, "child messages must fit in PIPE_BUF");

static void child_send(int fd, const child_msg *m)
{
    const char *p = (const char *)m;
    size_t left = sizeof *m;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the parent is gone; nothing useful to do */
        p += w;
        left -= (size_t)w;
    }
}

static void child_progress(void *ctx, long round, long rounds, double rounds_per_s,
                           double mean_reward_pct)
{
    child_msg m;
    memset(&m, 0, sizeof m);
    m.type = 'P';
    m.round = round;
    m.rounds = rounds;
    m.rounds_per_s = rounds_per_s;
    m.mean_reward_pct = mean_reward_pct;
    child_send(*(int *)ctx, &m);
}

/* Runs in the child: never returns. */
static void child_main(gfn_run_fn run, gfn_params *cfg, const char *run_dir, int fd)
{
    /* The parent's SIGINT/SIGTERM handlers are not the run's: a run stops on
     * them (or checkpoints, if the run function installs its own handler). */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    char log_path[4200];
    snprintf(log_path, sizeof log_path, "%s/log.txt", run_dir);
    /* Appended: a run continued from its checkpoint keeps the log of its first part
     * (a run that starts over gets a cleared folder, so a fresh file). */
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0666);
    if (log_fd >= 0) {
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
        close(log_fd);
    }
    /* A parent killed with its children (SIGTERM to the job's process group, as
     * a scheduler does) must not take a child down by SIGPIPE at its next
     * progress message, before the child has written its checkpoint. */
    signal(SIGPIPE, SIG_IGN);
    gfn_error err;
    gfn_error_clear(&err);
    int rc = run(cfg, run_dir, child_progress, &fd, NULL, &err);
    if (rc != GFN_OK) {
        child_msg m;
        memset(&m, 0, sizeof m);
        m.type = 'E';
        snprintf(m.msg, sizeof m.msg, "%s", err.msg[0] ? err.msg : gfn_strerror(rc));
        child_send(fd, &m);
    }
    fflush(stdout);
    fflush(stderr);
    _exit(rc == GFN_OK ? 0 : (rc > 0 && rc < 100 ? rc : 99));
}

/* ---- one run as the parent sees it ---- */

typedef struct {
    int variant, seed_index;
    char label[2 * GFN_SPEC_NAME_MAX + 32]; /* "tb/seed0" */
    char dir[4096];
    gfn_params cfg;
    pid_t pid;
    int fd;
    child_msg buf;
    size_t buf_len;
    struct timespec start;
    long round, rounds;
    double rounds_per_s, mean_reward_pct;
    double last_print; /* seconds since start at the last plain progress line */
    int last_decile;
    int failed, diverged, interrupted;
    int skip; /* finished earlier with this configuration (--resume) */
    int stopped; /* stopped by a signal to the parent: no final status written */
    int cont; /* --resume: the folder holds a checkpoint of this configuration to continue */
    char reason[sizeof(((gfn_error *)0)->msg) + 300];
    double wall;
    time_t started_at;
    int lock_fd; /* seed<k>.lock beside the folder (--index, --shard), or -1 */
} job;

typedef struct {
    const gfn_spec *s;
    const gfn_runner_opts *o;
    job *jobs;
    int n_jobs;
    int live;
    int drawn; /* lines of the live block currently on screen */
    int done, to_run;
    int exp_lock_fd; /* OUT/<experiment>/run.lock, or -1 */
    struct timespec t0; /* start of the experiment, for redraw throttling */
    double last_draw;
} runner;

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

static int write_config(const job *j, const gfn_spec *s, gfn_error *err)
{
    gfn_strbuf b;
    gfn_strbuf_init(&b);
    gfn_strbuf_printf(&b,
                      "# Resolved configuration of %s/%s (from %s), one key=value per line:\n"
                      "# the same lines given to `gfnbench train` repeat this run alone.\n",
                      s->name, j->label, s->path);
    for (int i = 0; i < j->cfg.n; i++)
        gfn_strbuf_printf(&b, "%s=%s\n", j->cfg.items[i].key, j->cfg.items[i].val);
    char path[4200];
    snprintf(path, sizeof path, "%s/config.txt", j->dir);
    int rc = gfn_strbuf_write(&b, path, err);
    gfn_strbuf_close(&b);
    return rc;
}

static int write_run_txt(const runner *r, const job *j, gfn_error *err)
{
    int maj, min, pat;
    yaml_get_version(&maj, &min, &pat);
    char when[64];
    struct tm tm;
    gmtime_r(&j->started_at, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    gfn_strbuf b;
    gfn_strbuf_init(&b);
    gfn_strbuf_printf(&b, "experiment: %s\nvariant: %s\nseed: %ld\n", r->s->name,
                      r->s->variants[j->variant].name, r->s->seeds[j->seed_index]);
    /* The commit the binary was built from (not the checkout's HEAD at run time). */
    gfn_strbuf_printf(&b, "spec: %s\ngit_commit: %s\n", r->s->path, GFN_BUILD_COMMIT);
#if defined(__clang__)
    gfn_strbuf_printf(&b, "compiler: clang %s\n", __VERSION__);
#elif defined(__GNUC__)
    gfn_strbuf_printf(&b, "compiler: gcc %s\n", __VERSION__);
#else
    gfn_strbuf_printf(&b, "compiler: unknown\n");
#endif
    gfn_strbuf_printf(&b, "cflags: %s\ngsl_version: %s\nlibyaml_version: %d.%d.%d\n",
                      GFN_BUILD_CFLAGS, gsl_version, maj, min, pat);
    gfn_strbuf_printf(&b, "started_utc: %s\nwall_seconds: %.3f\n", when, j->wall);
    /* status is the last line, written last: its presence marks a complete folder. */
    if (j->interrupted)
        gfn_strbuf_printf(&b, "reason: %s\nstatus: interrupted\n", j->reason);
    else if (j->diverged)
        gfn_strbuf_printf(&b, "reason: %s\nstatus: diverged\n", j->reason);
    else if (j->failed)
        gfn_strbuf_printf(&b, "reason: %s\nstatus: failed\n", j->reason);
    else
        gfn_strbuf_printf(&b, "status: ok\n");
    char path[4200];
    snprintf(path, sizeof path, "%s/run.txt", j->dir);
    int rc = gfn_strbuf_write(&b, path, err);
    gfn_strbuf_close(&b);
    return rc;
}

/* ---- selection and up-front validation ---- */

static int selected(const gfn_spec *s, const gfn_runner_opts *o, int v, int k)
{
    int index = v * s->n_seeds + k;
    if (o->index >= 0 && index != o->index)
        return 0;
    if (o->shard_n > 0 && index % o->shard_n != o->shard_i - 1)
        return 0;
    const char *only = o->only;
    if (!only)
        return 1;
    char label[2 * GFN_SPEC_NAME_MAX + 32];
    snprintf(label, sizeof label, "%s/seed%ld", s->variants[v].name, s->seeds[k]);
    return fnmatch(only, s->variants[v].name, 0) == 0 || fnmatch(only, label, 0) == 0;
}

static int build_jobs(runner *r, gfn_error *err)
{
    const gfn_spec *s = r->s;
    r->jobs = calloc((size_t)s->n_variants * (size_t)s->n_seeds, sizeof *r->jobs);
    if (!r->jobs)
        return gfn_error_set(err, GFN_ENOMEM, "out of memory planning %s", s->name);
    for (int v = 0; v < s->n_variants; v++)
        for (int k = 0; k < s->n_seeds; k++) {
            if (!selected(s, r->o, v, k))
                continue;
            job *j = &r->jobs[r->n_jobs++];
            j->variant = v;
            j->seed_index = k;
            j->fd = -1;
            j->lock_fd = -1;
            j->rounds = s->rounds;
            j->mean_reward_pct = NAN;
            j->rounds_per_s = NAN;
            snprintf(j->label, sizeof j->label, "%s/seed%ld", s->variants[v].name, s->seeds[k]);
            /* Room for the longest file inside (checkpoint.bin.tmp.XXXXXX) within
             * every buffer that holds a path: refused before any folder is made,
             * rather than cut short so that two runs share one folder. */
            int len = gfn_runner_run_dir(s, r->o->out_dir, v, k, j->dir, sizeof j->dir);
            if (len < 0 || len > GFN_RUN_DIR_MAX)
                return gfn_error_set(err, GFN_EUSAGE, "output folder %.60s... is %d characters "
                                     "long; at most %d fit (use a shorter --out)",
                                     j->dir, len, GFN_RUN_DIR_MAX);
            gfn_params_init(&j->cfg);
            int rc = gfn_spec_run_config(s, v, k, &j->cfg, err);
            if (rc)
                return rc;
        }
    int total = s->n_variants * s->n_seeds;
    if (r->o->index >= total)
        return gfn_error_set(err, GFN_EUSAGE, "--index %d: %s has runs 0 to %d (see --list)",
                             r->o->index, s->name, total - 1);
    if (r->n_jobs == 0 && !r->o->only)
        return gfn_error_set(err, GFN_EUSAGE, "--shard %d/%d selects no run of %s (it has %d)",
                             r->o->shard_i, r->o->shard_n, s->name, total);
    if (r->n_jobs == 0)
        return gfn_error_set(err, GFN_EUSAGE, "--only '%s' matches no run of %s (variants are "
                             "named like '%s' and runs like '%s/seed%ld')",
                             r->o->only ? r->o->only : "", s->name, s->variants[0].name,
                             s->variants[0].name, s->seeds[0]);
    return GFN_OK;
}

/* "task k=v k=v ...": the task's name and the entries its loader reads. */
static void task_signature(const gfn_params *cfg, gfn_strbuf *b)
{
    gfn_params copy;
    gfn_params_init(&copy);
    if (gfn_params_copy(&copy, cfg) != GFN_OK)
        return;
    gfn_params_reset_used(&copy);
    const gfn_param *t = gfn_params_find(&copy, "task");
    if (t && gfn_task_mark_keys(t->val, &copy))
        for (int i = 0; i < copy.n; i++)
            if (copy.items[i].used || strcmp(copy.items[i].key, "task") == 0)
                gfn_strbuf_printf(b, "%s=%s\n", copy.items[i].key, copy.items[i].val);
    gfn_params_close(&copy);
}

/* A task's error names its keys but not where they were written: put the
 * file:line:col of the first task key the message mentions in front of it. */
static void prefix_task_where(const gfn_params *cfg, gfn_error *err)
{
    if (!err || strstr(err->msg, ".yaml:"))
        return;
    gfn_params copy;
    gfn_params_init(&copy);
    if (gfn_params_copy(&copy, cfg) != GFN_OK)
        return;
    gfn_params_reset_used(&copy);
    const gfn_param *t = gfn_params_find(&copy, "task");
    if (t)
        gfn_task_mark_keys(t->val, &copy);
    for (int i = 0; i < copy.n; i++) {
        const gfn_param *e = &copy.items[i];
        const char *hit = e->used && e->where[0] ? strstr(err->msg, e->key) : NULL;
        size_t kl = strlen(e->key);
        if (hit && (hit == err->msg || !isalnum((unsigned char)hit[-1])) &&
            !isalnum((unsigned char)hit[kl]) && hit[kl] != '_') {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            gfn_error_set(err, err->code, "%s: %s", e->where, msg);
            break;
        }
    }
    gfn_params_close(&copy);
}

/* Every run's configuration is checked before the first one starts, so that a
 * typo in variant 7 does not surface hours after variant 1 started; each
 * distinct task configuration is built once (bad task values, sizes, files). */
static int validate_jobs(runner *r, gfn_error *err)
{
    gfn_strbuf seen; /* the task signatures checked so far, separated by '\f' */
    gfn_strbuf_init(&seen);
    int rc = GFN_OK;
    for (int i = 0; i < r->n_jobs && rc == GFN_OK; i++) {
        gfn_params copy;
        gfn_params_init(&copy);
        rc = gfn_params_copy(&copy, &r->jobs[i].cfg);
        if (rc == GFN_OK && r->o->validate)
            rc = r->o->validate(&copy, err);
        gfn_params_close(&copy);
        if (rc == GFN_OK && r->o->check_task) {
            gfn_strbuf sig;
            gfn_strbuf_init(&sig);
            task_signature(&r->jobs[i].cfg, &sig);
            gfn_strbuf_printf(&sig, "\f");
            if (!seen.data || !strstr(seen.data, sig.data)) {
                gfn_strbuf_printf(&seen, "%s", sig.data);
                rc = r->o->check_task(&r->jobs[i].cfg, err);
                if (rc)
                    prefix_task_where(&r->jobs[i].cfg, err);
            }
            gfn_strbuf_close(&sig);
        }
        if (rc) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            rc = gfn_error_set(err, rc, "%s (run %s of %s)", msg, r->jobs[i].label, r->s->name);
        }
    }
    gfn_strbuf_close(&seen);
    return rc;
}

/* jobs runs at once of up to T threads each (the training key threads) must
 * fit the cores: the online ones, or the --cores budget.  Oversubscribed runs
 * would not fail, only crawl, and the wait of one thread stalls its run. */
static int check_cores(const runner *r, int jobs, gfn_error *err)
{
    long T = 1, cores = r->o->cores > 0 ? r->o->cores : sysconf(_SC_NPROCESSORS_ONLN);
    const char *label = NULL;
    for (int i = 0; i < r->n_jobs; i++) {
        const gfn_param *p = gfn_params_find(&r->jobs[i].cfg, "threads");
        long t = p ? strtol(p->val, NULL, 10) : 1; /* validated already */
        if (!r->jobs[i].skip && t > T) {
            T = t;
            label = r->jobs[i].label;
        }
    }
    int todo = 0;
    for (int i = 0; i < r->n_jobs; i++)
        todo += !r->jobs[i].skip;
    int running = jobs < todo ? jobs : todo; /* at most this many at once */
    if (T == 1 || (long)running * T <= cores)
        return GFN_OK;
    return gfn_error_set(err, GFN_EVALUE,
                         "--jobs %d x threads=%ld (run %s) is %ld threads, more than the %ld %s; "
                         "lower --jobs or threads, or give a budget with --cores C",
                         running, T, label, (long)running * T, cores,
                         r->o->cores > 0 ? "cores of --cores" : "online cores");
}

/* ---- what a folder already holds ---- */

/* The key=value lines of dir/name (comments skipped) into out; 0 when no file. */
static int read_kv_file(const char *dir, const char *name, gfn_params *out)
{
    char path[4200], *text = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (gfn_fs_read_all(path, &text, NULL, NULL) != GFN_OK)
        return 0;
    gfn_error e;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (line[0] != '#' && strchr(line, '='))
            gfn_params_set_arg(out, line, path, &e);
    free(text);
    return 1;
}

/* Appends "key old -> new" for every key whose value differs between the
 * recorded configuration and the one asked for now; returns the count. */
static int config_diff(const gfn_params *was, const gfn_params *now, gfn_strbuf *b)
{
    int n = 0;
    for (int i = 0; i < now->n; i++) {
        const gfn_param *w = gfn_params_find(was, now->items[i].key);
        if (!w || strcmp(w->val, now->items[i].val) != 0)
            gfn_strbuf_printf(b, "%s%s %s -> %s", n++ ? ", " : "", now->items[i].key,
                              w ? w->val : "(unset)", now->items[i].val);
    }
    for (int i = 0; i < was->n; i++)
        if (!gfn_params_find(now, was->items[i].key))
            gfn_strbuf_printf(b, "%s%s %s -> (unset)", n++ ? ", " : "", was->items[i].key,
                              was->items[i].val);
    return n;
}

static int read_config(const char *dir, gfn_params *out)
{
    return read_kv_file(dir, "config.txt", out);
}

/* The keys whose resolved value (resolved.txt, written by the run) differs from
 * what this build resolves for cfg now, appended to diff; -1 when there is no
 * resolved.txt or no resolver. */
static int resolved_diff(const runner *r, const job *j, gfn_strbuf *diff)
{
    if (!r->o->resolve)
        return -1;
    gfn_params was, now;
    gfn_params_init(&was);
    gfn_params_init(&now);
    int n = -1;
    if (read_kv_file(j->dir, "resolved.txt", &was)) {
        gfn_strbuf text;
        gfn_strbuf_init(&text);
        gfn_error e;
        if (r->o->resolve(&j->cfg, &text, &e) == GFN_OK) {
            char *save = NULL;
            for (char *line = strtok_r(text.data ? text.data : (char *)"", "\n", &save); line;
                 line = strtok_r(NULL, "\n", &save))
                gfn_params_set_arg(&now, line, "", &e);
            n = config_diff(&was, &now, diff);
        }
        gfn_strbuf_close(&text);
    }
    gfn_params_close(&was);
    gfn_params_close(&now);
    return n;
}

int gfn_runner_config_diff(const char *run_dir, const gfn_params *now, gfn_strbuf *diff)
{
    gfn_params was;
    gfn_params_init(&was);
    int n = read_config(run_dir, &was) ? config_diff(&was, now, diff) : -1;
    gfn_params_close(&was);
    return n;
}

/* A finished run's outputs are all there: summary.txt, and metrics.tsv up to the
 * last round (a diverged run stops early and has no summary). */
static int outputs_complete(const job *j, gfn_run_state st)
{
    char path[4200];
    if (st == GFN_RUN_DIVERGED)
        return 1;
    snprintf(path, sizeof path, "%s/summary.txt", j->dir);
    if (!gfn_fs_exists(path))
        return 0;
    long round = 0;
    gfn_runner_state(j->dir, &round);
    return round == j->rounds;
}

/* The folder's checkpoint.bin is a valid, unfinished checkpoint of this run's
 * configuration (checkpoint.h): gfn_train_run continues from it. */
static int has_checkpoint(const job *j)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/checkpoint.bin", j->dir);
    if (!gfn_fs_exists(path))
        return 0;
    gfn_strbuf c;
    gfn_strbuf_init(&c);
    gfn_checkpoint_config_text(&j->cfg, &c);
    int finished = 1;
    int ok = gfn_checkpoint_probe(path, c.data ? c.data : "", &finished, NULL) == GFN_OK;
    gfn_strbuf_close(&c);
    return ok && !finished;
}

/* Before anything runs: a folder holding a run of another configuration is an
 * error (or, with --force, rerun); with --resume a run finished with the same
 * configuration and complete outputs is skipped. */
static int check_existing(runner *r, gfn_error *err)
{
    gfn_strbuf diffs;
    gfn_strbuf_init(&diffs);
    int n_diff = 0;
    for (int i = 0; i < r->n_jobs; i++) {
        job *j = &r->jobs[i];
        gfn_strbuf d;
        gfn_strbuf_init(&d);
        int n = gfn_runner_config_diff(j->dir, &j->cfg, &d);
        if (n == 0) {
            /* same keys asked for: are they resolved the same (defaults of this build)? */
            gfn_strbuf rd;
            gfn_strbuf_init(&rd);
            if (resolved_diff(r, j, &rd) > 0) {
                gfn_strbuf_printf(&d, "defaults of this build: %s", rd.data);
                n = 1;
            }
            gfn_strbuf_close(&rd);
        }
        if (n >= 0) {
            if (n > 0 && !r->o->force) {
                if (n_diff++ < 10)
                    gfn_strbuf_printf(&diffs, "\n  %s: %s", j->label, d.data);
            } else if (r->o->resume && d.len == 0) {
                gfn_run_state st = gfn_runner_state(j->dir, NULL);
                j->skip = (st == GFN_RUN_DONE || st == GFN_RUN_DIVERGED) &&
                          outputs_complete(j, st);
                j->cont = !j->skip && has_checkpoint(j);
            }
        }
        gfn_strbuf_close(&d);
    }
    int rc = GFN_OK;
    if (n_diff)
        rc = gfn_error_set(err, GFN_EMISMATCH,
                           "%d run folder%s of %s hold%s results of another configuration "
                           "(recorded in config.txt -> asked for now):%s%s\n"
                           "Nothing was run. Rerun them with --force, or write into another "
                           "--out folder.",
                           n_diff, n_diff > 1 ? "s" : "", r->s->name, n_diff > 1 ? "" : "s",
                           diffs.data, n_diff > 10 ? "\n  ..." : "");
    gfn_strbuf_close(&diffs);
    return rc;
}

/* ---- progress display ---- */

static void format_eta(double seconds, char *buf, size_t cap)
{
    if (!isfinite(seconds) || seconds < 0)
        snprintf(buf, cap, "--:--");
    else if (seconds < 3600)
        snprintf(buf, cap, "%02d:%02d", (int)seconds / 60, (int)seconds % 60);
    else
        snprintf(buf, cap, "%dh%02d", (int)(seconds / 3600), ((int)seconds % 3600) / 60);
}

static void format_progress(const job *j, char *buf, size_t cap)
{
    char eta[32], reward[32];
    format_eta(j->rounds_per_s > 0 ? (double)(j->rounds - j->round) / j->rounds_per_s : NAN, eta,
               sizeof eta);
    if (isfinite(j->mean_reward_pct))
        snprintf(reward, sizeof reward, "%.1f%%", j->mean_reward_pct);
    else
        snprintf(reward, sizeof reward, "--");
    /* Short enough for an 80-column terminal, so that the live block never wraps. */
    snprintf(buf, cap, "%-22.22s %7ld/%-7ld %3.0f%% %7.1f rounds/s ETA %s reward %s",
             j->label, j->round, j->rounds,
             j->rounds > 0 ? 100.0 * (double)j->round / (double)j->rounds : 0.0,
             isfinite(j->rounds_per_s) ? j->rounds_per_s : 0.0, eta, reward);
}

static void live_erase(runner *r)
{
    if (r->live && r->drawn > 0) {
        fprintf(r->o->log, "\033[%dA\033[J", r->drawn);
        r->drawn = 0;
    }
}

/* Redraws at most five times a second; progress messages can come much faster. */
static void live_draw(runner *r)
{
    if (!r->live)
        return;
    double now = seconds_since(&r->t0);
    if (r->drawn > 0 && now - r->last_draw < 0.2)
        return;
    r->last_draw = now;
    live_erase(r);
    char line[512], eta[32];
    /* The overall line: runs done of those to run, and an ETA from the rounds left
     * (running and not started) at the running runs' mean speed. */
    double left = 0, rate = 0;
    int running = 0;
    for (int i = 0; i < r->n_jobs; i++) {
        const job *j = &r->jobs[i];
        if (j->skip)
            continue;
        if (j->pid > 0) {
            running++;
            left += (double)(j->rounds - j->round);
            rate += isfinite(j->rounds_per_s) ? j->rounds_per_s : 0;
        }
    }
    for (int i = 0; i < r->n_jobs; i++)
        if (!r->jobs[i].skip && r->jobs[i].pid == 0 && r->jobs[i].wall == 0 && !r->jobs[i].failed &&
            !r->jobs[i].diverged)
            left += (double)r->jobs[i].rounds;
    format_eta(rate > 0 ? left / rate : NAN, eta, sizeof eta);
    fprintf(r->o->log, "%s: %d/%d runs done, %d running, ETA %s\n", r->s->name, r->done,
            r->to_run, running, eta);
    r->drawn++;
    for (int i = 0; i < r->n_jobs; i++) {
        job *j = &r->jobs[i];
        if (j->pid <= 0)
            continue;
        format_progress(j, line, sizeof line);
        fprintf(r->o->log, "  %s\n", line);
        r->drawn++;
    }
    fflush(r->o->log);
}

/* A plain line per job every 10% of its rounds or every 10 s, whichever first. */
static void plain_progress(runner *r, job *j)
{
    if (r->live || !r->o->log)
        return;
    double t = seconds_since(&j->start);
    int decile = j->rounds > 0 ? (int)(10 * j->round / j->rounds) : 0;
    if (decile <= j->last_decile && t - j->last_print < 10.0)
        return;
    j->last_decile = decile;
    j->last_print = t;
    char line[512];
    format_progress(j, line, sizeof line);
    fprintf(r->o->log, "  %s\n", line);
    fflush(r->o->log);
}

/* An event line (start, finish) above the live block. */
static void event(runner *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void event(runner *r, const char *fmt, ...)
{
    if (!r->o->log)
        return;
    live_erase(r);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(r->o->log, fmt, ap);
    va_end(ap);
    fflush(r->o->log);
}

/* ---- signals: SIGINT or SIGTERM to the parent stop every run ---- */

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) { stop_signal = sig; }

/* Stops every running child with SIGTERM (a run may checkpoint on it), waits
 * for them, and leaves their folders without a final status, so that --resume
 * redoes (or continues) them. */
static void stop_children(runner *r)
{
    for (int i = 0; i < r->n_jobs; i++)
        if (r->jobs[i].pid > 0)
            kill(r->jobs[i].pid, SIGTERM);
    for (int i = 0; i < r->n_jobs; i++) {
        job *j = &r->jobs[i];
        if (j->pid <= 0)
            continue;
        int status;
        while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (j->fd >= 0)
            close(j->fd);
        j->fd = -1;
        j->pid = 0;
        j->stopped = 1;
    }
}

/* ---- starting and reaping children ---- */

static int start_job(runner *r, job *j, gfn_error *err)
{
    /* A folder with a checkpoint to continue from is kept; anything else is redone. */
    int rc = j->cont ? GFN_OK : gfn_fs_remove_tree(j->dir, err);
    if (rc == GFN_OK)
        rc = gfn_fs_mkdir_p(j->dir, err);
    if (rc == GFN_OK)
        rc = write_config(j, r->s, err);
    if (rc)
        return rc;
    int fds[2];
    if (pipe(fds) != 0)
        return gfn_error_set(err, GFN_EIO, "cannot create a pipe for %s: %s", j->label,
                             strerror(errno));
    if (r->o->log)
        fflush(r->o->log);
    fflush(stdout);
    fflush(stderr);
    j->started_at = time(NULL);
    clock_gettime(CLOCK_MONOTONIC, &j->start);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return gfn_error_set(err, GFN_ECHILD, "cannot start %s: fork failed: %s", j->label,
                             strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        /* The parent's other pipes are read ends; the child never touches them. */
        child_main(r->o->run ? r->o->run : gfn_train_run, &j->cfg, j->dir, fds[1]);
    }
    close(fds[1]);
    j->pid = pid;
    j->fd = fds[0];
    j->buf_len = 0;
    j->last_decile = 0;
    j->last_print = 0;
    return GFN_OK;
}

static void handle_msg(runner *r, job *j)
{
    const child_msg *m = &j->buf;
    if (m->type == 'P') {
        j->round = m->round;
        j->rounds = m->rounds;
        j->rounds_per_s = m->rounds_per_s;
        j->mean_reward_pct = m->mean_reward_pct;
        plain_progress(r, j);
    } else if (m->type == 'E') {
        snprintf(j->reason, sizeof j->reason, "%.*s", (int)sizeof m->msg - 1, m->msg);
    }
}

/* Reads what is available; returns 1 at end of file (the child closed its end). */
static int read_child(runner *r, job *j)
{
    char *dst = (char *)&j->buf;
    ssize_t n = read(j->fd, dst + j->buf_len, sizeof j->buf - j->buf_len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0)
        return 1;
    j->buf_len += (size_t)n;
    if (j->buf_len == sizeof j->buf) {
        handle_msg(r, j);
        j->buf_len = 0;
    }
    return 0;
}

/* The last non-empty line of the run's log.txt (an assertion message, say), so
 * that the failure reason says what happened without opening the file. */
static void last_log_line(const char *dir, char *buf, size_t cap)
{
    char path[4200], *text = NULL;
    buf[0] = '\0';
    snprintf(path, sizeof path, "%s/log.txt", dir);
    size_t len;
    if (gfn_fs_read_all(path, &text, &len, NULL) != GFN_OK)
        return;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        text[--len] = '\0';
    char *start = text + len;
    while (start > text && start[-1] != '\n')
        start--;
    snprintf(buf, cap, "%s", start);
    free(text);
}

static void reap_job(runner *r, job *j)
{
    close(j->fd);
    j->fd = -1;
    int status = 0;
    while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
        ;
    j->pid = 0;
    j->wall = seconds_since(&j->start);
    char first[sizeof j->reason];
    snprintf(first, sizeof first, "%s", j->reason);
    if (WIFSIGNALED(status)) {
        j->failed = 1;
        if (!first[0]) {
            char last[300];
            last_log_line(j->dir, last, sizeof last);
            if (last[0])
                snprintf(first, sizeof first, "last output: %s", last);
        }
        snprintf(j->reason, sizeof j->reason, "killed by signal %d (%s)%s%.700s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)), first[0] ? "; " : "", first);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == GFN_EINTERRUPTED) {
        j->interrupted = 1; /* checkpointed on SIGTERM: --resume continues it */
        if (!first[0])
            snprintf(j->reason, sizeof j->reason, "interrupted (checkpoint written)");
        else
            snprintf(j->reason, sizeof j->reason, "%s", first);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == GFN_EDIVERGED) {
        j->diverged = 1; /* reason: the child's message (round and what) */
        if (!first[0])
            snprintf(j->reason, sizeof j->reason, "diverged");
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        j->failed = 1;
        if (!first[0])
            snprintf(j->reason, sizeof j->reason, "exited with status %d", WEXITSTATUS(status));
    }
    gfn_error err;
    if (write_run_txt(r, j, &err) != GFN_OK) {
        j->failed = 1;
        snprintf(j->reason, sizeof j->reason, "%s", err.msg);
    }
    r->done++;
    if (j->interrupted)
        event(r, "[%d/%d] %s interrupted after %.1f s: %s; --resume continues it\n", r->done,
              r->to_run, j->label, j->wall, j->reason);
    else if (j->diverged)
        event(r, "[%d/%d] %s DIVERGED after %.1f s: %s\n", r->done, r->to_run, j->label, j->wall,
              j->reason);
    else if (j->failed)
        event(r, "[%d/%d] %s FAILED after %.1f s: %s (see %s/log.txt)\n", r->done, r->to_run,
              j->label, j->wall, j->reason, j->dir);
    else
        event(r, "[%d/%d] %s done in %.1f s\n", r->done, r->to_run, j->label, j->wall);
}

/* Waits up to one second for output from any running child. */
static void poll_children(runner *r)
{
    struct pollfd *pfd = calloc((size_t)r->n_jobs, sizeof *pfd);
    int *which = calloc((size_t)r->n_jobs, sizeof *which);
    GFN_ASSERT(pfd && which);
    int n = 0;
    for (int i = 0; i < r->n_jobs; i++)
        if (r->jobs[i].fd >= 0) {
            pfd[n].fd = r->jobs[i].fd;
            pfd[n].events = POLLIN;
            which[n++] = i;
        }
    if (n > 0 && poll(pfd, (nfds_t)n, 1000) > 0)
        for (int i = 0; i < n; i++)
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
                if (read_child(r, &r->jobs[which[i]]))
                    reap_job(r, &r->jobs[which[i]]);
    free(pfd);
    free(which);
}

static int run_all(runner *r, int jobs, gfn_error *err)
{
    int next = 0, running = 0, rc = GFN_OK;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal; /* no SA_RESTART: poll returns at once */
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    for (;;) {
        if (stop_signal) {
            live_erase(r);
            stop_children(r);
            int finished = 0, stopped = 0;
            for (int i = 0; i < r->n_jobs; i++) {
                finished += r->jobs[i].pid == 0 && !r->jobs[i].stopped && !r->jobs[i].skip &&
                            i < next;
                stopped += r->jobs[i].stopped;
            }
            rc = gfn_error_set(err, GFN_EINTERRUPTED,
                               "stopped by signal %d (%s): %d runs finished, %d stopped, %d not "
                               "started, %d finished earlier; continue with: gfnbench run %s%s%s "
                               "--resume",
                               (int)stop_signal, strsignal((int)stop_signal), finished, stopped,
                               r->n_jobs - next, (int)(r->n_jobs - r->to_run), r->s->path,
                               r->o->out_dir ? " --out " : "", r->o->out_dir ? r->o->out_dir : "");
            break;
        }
        while (rc == GFN_OK && running < jobs && next < r->n_jobs && !stop_signal) {
            job *j = &r->jobs[next++];
            if (j->skip) {
                j->pid = -1; /* skipped */
                continue;
            }
            rc = start_job(r, j, err);
            if (rc == GFN_OK) {
                running++;
                event(r, "%s %s -> %s\n", j->cont ? "continuing" : "started", j->label,
                      j->dir);
            }
        }
        if (running == 0 && !stop_signal)
            break;
        if (stop_signal)
            continue;
        poll_children(r);
        running = 0;
        for (int i = 0; i < r->n_jobs; i++)
            running += r->jobs[i].pid > 0;
        live_draw(r);
    }
    live_erase(r);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return rc;
}

static int summarise(runner *r, gfn_runner_stats *st, gfn_error *err)
{
    memset(st, 0, sizeof *st);
    st->total = r->n_jobs;
    gfn_strbuf b;
    gfn_strbuf_init(&b);
    for (int i = 0; i < r->n_jobs; i++) {
        const job *j = &r->jobs[i];
        if (j->pid == -1) {
            st->skipped++;
            continue;
        }
        st->ran++;
        st->diverged += j->diverged;
        st->interrupted += j->interrupted;
        if (j->failed) {
            st->failed++;
            gfn_strbuf_printf(&b, "%s%s (%s)", st->failed > 1 ? "; " : "", j->label, j->reason);
        }
    }
    if (r->o->log)
        fprintf(r->o->log, "%s: %d runs: %d ran, %d skipped (finished earlier), %d failed\n",
                r->s->name, st->total, st->ran, st->skipped, st->failed);
    if (r->o->log && st->interrupted)
        fprintf(r->o->log, "%s: %d of the runs were interrupted after writing a checkpoint "
                "(status: interrupted); run again with --resume to continue them\n",
                r->s->name, st->interrupted);
    if (r->o->log && st->diverged)
        fprintf(r->o->log, "%s: %d of the runs diverged (status: diverged in run.txt; the "
                "report leaves them out of the means)\n", r->s->name, st->diverged);
    int rc = GFN_OK;
    if (st->failed)
        rc = gfn_error_set(err, GFN_ECHILD, "%d of %d runs of %s failed: %s", st->failed,
                           st->ran, r->s->name, b.data ? b.data : "");
    gfn_strbuf_close(&b);
    return rc;
}

/* Takes the experiment lock (exclusive for a whole run, shared for --index or
 * --shard) and, for --index or --shard, every selected run's lock, before
 * anything is started: a second run into the same folder fails at once. */
static int take_locks(runner *r, gfn_error *err)
{
    const gfn_runner_opts *o = r->o;
    int single = o->index >= 0 || o->shard_n > 0;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", o->out_dir ? o->out_dir : "results", r->s->name);
    int rc = gfn_fs_mkdir_p(path, err);
    if (rc)
        return rc;
    snprintf(path, sizeof path, "%s/%s/run.lock", o->out_dir ? o->out_dir : "results",
             r->s->name);
    if ((rc = gfn_runner_lock(path, !single, &r->exp_lock_fd, err)))
        return rc;
    for (int i = 0; single && i < r->n_jobs; i++) {
        job *j = &r->jobs[i];
        snprintf(path, sizeof path, "%s", j->dir);
        char *slash = strrchr(path, '/');
        if (slash) {
            *slash = '\0';
            if ((rc = gfn_fs_mkdir_p(path, err)))
                return rc;
        }
        snprintf(path, sizeof path, "%s.lock", j->dir);
        if ((rc = gfn_runner_lock(path, 1, &j->lock_fd, err)))
            return rc;
    }
    return GFN_OK;
}

static void release_locks(runner *r)
{
    for (int i = 0; i < r->n_jobs; i++)
        if (r->jobs[i].lock_fd >= 0) {
            close(r->jobs[i].lock_fd);
            r->jobs[i].lock_fd = -1;
        }
    if (r->exp_lock_fd >= 0)
        close(r->exp_lock_fd);
    r->exp_lock_fd = -1;
}

int gfn_runner_list(const gfn_spec *s, const gfn_runner_opts *o, FILE *out, gfn_error *err)
{
    runner r;
    memset(&r, 0, sizeof r);
    r.s = s;
    r.o = o;
    r.exp_lock_fd = -1;
    int rc = build_jobs(&r, err);
    for (int i = 0; rc == GFN_OK && i < r.n_jobs; i++) {
        const job *j = &r.jobs[i];
        long round = 0, pid = run_lock_holder(j->dir);
        gfn_run_state st = gfn_runner_state(j->dir, &round);
        char state[96];
        if (st == GFN_RUN_PARTIAL && round > 0)
            snprintf(state, sizeof state, "at round %ld", round);
        else if (st == GFN_RUN_PARTIAL)
            snprintf(state, sizeof state, "started");
        else
            snprintf(state, sizeof state, "%s", gfn_run_state_name(st));
        if (pid > 0)
            snprintf(state + strlen(state), sizeof state - strlen(state), ", running (pid %ld)",
                     pid);
        else if (pid < 0)
            snprintf(state + strlen(state), sizeof state - strlen(state), ", running");
        fprintf(out, "%5d  %-*s  %s\n", j->variant * s->n_seeds + j->seed_index, 40, j->dir,
                state);
    }
    release_locks(&r);
    for (int i = 0; i < r.n_jobs; i++)
        gfn_params_close(&r.jobs[i].cfg);
    free(r.jobs);
    return rc;
}

int gfn_runner_run(const gfn_spec *s, const gfn_runner_opts *o, gfn_runner_stats *stats,
                   gfn_error *err)
{
    gfn_error local;
    if (!err)
        err = &local;
    gfn_runner_stats st_local;
    if (!stats)
        stats = &st_local;
    memset(stats, 0, sizeof *stats);
    runner r;
    memset(&r, 0, sizeof r);
    r.s = s;
    r.o = o;
    r.exp_lock_fd = -1;
    r.live = o->log && (o->live == 1 || (o->live < 0 && isatty(fileno(o->log))));
    clock_gettime(CLOCK_MONOTONIC, &r.t0);
    int rc = build_jobs(&r, err);
    if (rc == GFN_OK)
        rc = validate_jobs(&r, err);
    if (rc == GFN_OK)
        rc = take_locks(&r, err);
    if (rc == GFN_OK)
        rc = check_existing(&r, err);
    int jobs = o->jobs > 0 ? o->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (jobs < 1)
        jobs = 1;
    if (rc == GFN_OK)
        rc = check_cores(&r, jobs, err);
    if (rc == GFN_OK) {
        for (int i = 0; i < r.n_jobs; i++)
            r.to_run += !r.jobs[i].skip;
        if (o->log)
            fprintf(o->log, "%s: %d runs (%d to do), %d at a time, results in %s/%s/\n", s->name,
                    r.n_jobs, r.to_run, jobs, o->out_dir ? o->out_dir : "results", s->name);
        rc = run_all(&r, jobs, err);
        if (rc == GFN_OK)
            rc = summarise(&r, stats, err);
    }
    release_locks(&r);
    for (int i = 0; i < r.n_jobs; i++)
        gfn_params_close(&r.jobs[i].cfg);
    free(r.jobs);
    return rc;
}
