/* report.c - summary tables (Markdown, CSV) and figures from an experiment's runs.
 *
 * Statistics over seeds: mean m = (1/n) sum x_i and the sample standard
 * deviation s = sqrt(sum (x_i - m)^2 / (n - 1)) (GSL's gsl_stats_mean/_sd), over
 * the seeds whose value is finite.  Curves average metrics.tsv rows that share a
 * round number; the band is m +- s.  The scatter reference line is
 * log p*(x) = log R(x) - log Z with log Z = logsumexp_x log R(x) over logp.tsv,
 * which lists every terminal x.
 */
#include "report.h"

#include <errno.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "finals.h"
#include "fsutil.h"
#include "metric_table.h"
#include "plot.h"
#include "runner.h"

/* ---- TSV reading ---- */

void gfn_tsv_close(gfn_tsv *t)
{
    free(t->names);
    free(t->v);
    memset(t, 0, sizeof *t);
}

int gfn_tsv_col(const gfn_tsv *t, const char *name)
{
    for (int j = 0; j < t->n_cols; j++)
        if (strcmp(t->names[j], name) == 0)
            return j;
    return -1;
}

static int count_cells(const char *line)
{
    int n = 1;
    for (const char *c = line; *c; c++)
        n += *c == '\t';
    return n;
}

/* Parses one tab-separated row of n numbers into out (n,); 0 on a bad cell.
 * Column text_col (-1: none) holds text (logp.tsv's x) and reads as NaN. */
static int parse_row(char *line, int n, double *out, int text_col)
{
    char *cell = line;
    for (int j = 0; j < n; j++) {
        char *tab = strchr(cell, '\t');
        if (tab)
            *tab = '\0';
        char *end;
        errno = 0;
        out[j] = j == text_col ? NAN : strtod(cell, &end);
        if (j != text_col && (end == cell || *end != '\0'))
            return 0;
        cell = tab ? tab + 1 : cell + strlen(cell);
    }
    return 1;
}

static int set_names(gfn_tsv *t, char *header, const char *path, gfn_error *err)
{
    t->names = calloc((size_t)t->n_cols, sizeof *t->names);
    if (!t->names)
        return gfn_error_set(err, GFN_ENOMEM, "out of memory reading %s", path);
    char *cell = header;
    for (int j = 0; j < t->n_cols; j++) {
        char *tab = strchr(cell, '\t');
        if (tab)
            *tab = '\0';
        snprintf(t->names[j], sizeof t->names[j], "%s", cell);
        cell = tab ? tab + 1 : cell + strlen(cell);
    }
    return GFN_OK;
}

int gfn_tsv_read(const char *path, int header_required, const char *const *default_names,
                 gfn_tsv *t, gfn_error *err)
{
    memset(t, 0, sizeof *t);
    char *text;
    size_t len;
    int rc = gfn_fs_read_all(path, &text, &len, err);
    if (rc)
        return rc;
    int lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    int cap_rows = lines, line_no = 0, have_header = 0, text_col = -1;
    char *save = NULL, *line = text;
    for (char *next; line && rc == GFN_OK; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        line_no++;
        line[strcspn(line, "\r")] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        if (!have_header) {
            have_header = 1;
            t->n_cols = count_cells(line);
            t->v = malloc((size_t)cap_rows * (size_t)t->n_cols * sizeof *t->v);
            if (!t->v) {
                rc = gfn_error_set(err, GFN_ENOMEM, "out of memory reading %s", path);
                break;
            }
            char *copy = strdup(line);
            int numeric = copy && parse_row(copy, t->n_cols, t->v, -1);
            free(copy);
            if (!numeric) {
                rc = set_names(t, line, path, err);
                text_col = rc == GFN_OK && gfn_tsv_col(t, "x") == 0 ? 0 : -1; /* logp.tsv */
                continue;
            }
            int nd = 0;
            while (default_names && default_names[nd])
                nd++;
            if (header_required || nd != t->n_cols) {
                rc = gfn_error_set(err, GFN_EFORMAT,
                                   "%s:%d: expected a header row of column names, got numbers",
                                   path, line_no);
                break;
            }
            t->names = calloc((size_t)nd, sizeof *t->names);
            if (!t->names) {
                rc = gfn_error_set(err, GFN_ENOMEM, "out of memory reading %s", path);
                break;
            }
            for (int j = 0; j < nd; j++)
                snprintf(t->names[j], sizeof t->names[j], "%s", default_names[j]);
        }
        int cells = count_cells(line);
        if (cells != t->n_cols) {
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%d: expected %d tab-separated columns, got %d",
                               path, line_no, t->n_cols, cells);
            break;
        }
        if (!parse_row(line, t->n_cols, t->v + (size_t)t->n_rows * (size_t)t->n_cols, text_col)) {
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%d: expected numbers (or nan) in every column",
                               path, line_no);
            break;
        }
        t->n_rows++;
    }
    (void)save;
    free(text);
    if (rc == GFN_OK && !have_header)
        rc = gfn_error_set(err, GFN_EFORMAT, "%s:1: empty file (expected a header row)", path);
    if (rc)
        gfn_tsv_close(t);
    return rc;
}

/* ---- summary.txt ---- */

/* Reads `key: value` lines; the value of a missing or non-numeric key is NaN. */
static double summary_value(const char *text, const char *key)
{
    size_t klen = strlen(key);
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            char *end;
            double v = strtod(line + klen + 1, &end);
            return end == line + klen + 1 ? NAN : v;
        }
    }
    return NAN;
}

/* ---- statistics and formatting ---- */

int gfn_report_mean_std(const double *x, int n, double *mean, double *std)
{
    double *f = malloc((size_t)(n > 0 ? n : 1) * sizeof *f);
    GFN_ASSERT(f);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]))
            f[k++] = x[i];
    *mean = k ? gsl_stats_mean(f, 1, (size_t)k) : NAN;
    *std = k >= 2 ? gsl_stats_sd_m(f, 1, (size_t)k, *mean) : NAN;
    free(f);
    return k;
}

static void fmt_num(double v, char *buf, size_t cap, int digits)
{
    if (!isfinite(v))
        snprintf(buf, cap, "nan");
    else if (fabs(v) >= 1000)
        snprintf(buf, cap, "%.0f", v);
    else
        snprintf(buf, cap, "%.*g", digits, v);
}

static void fmt_mean_std(double mean, double std, int n, char *buf, size_t cap)
{
    char m[48], s[48];
    fmt_num(mean, m, sizeof m, 4);
    fmt_num(std, s, sizeof s, 2);
    if (n == 0)
        snprintf(buf, cap, "n/a");
    else if (n == 1)
        snprintf(buf, cap, "%s", m);
    else
        snprintf(buf, cap, "%s +- %s", m, s);
}

void gfn_report_paper_cell(const double *rounds_to_target, const double *reward_pct, int n,
                           char *buf, size_t cap)
{
    int reached = n > 0;
    for (int i = 0; i < n; i++)
        reached &= isfinite(rounds_to_target[i]);
    double m, s;
    if (reached) {
        int k = gfn_report_mean_std(rounds_to_target, n, &m, &s);
        if (k >= 2)
            snprintf(buf, cap, "100%% (%.0f +- %.0f)", m, s);
        else
            snprintf(buf, cap, "100%% (%.0f)", m);
        return;
    }
    int k = gfn_report_mean_std(reward_pct, n, &m, &s);
    if (k == 0)
        snprintf(buf, cap, "n/a");
    else if (k == 1)
        snprintf(buf, cap, "%.1f%%", m);
    else
        snprintf(buf, cap, "%.1f +- %.1f%%", m, s);
}

/* ---- collecting the runs ---- */

typedef struct {
    int ok;         /* finished runs with a summary */
    int failed;     /* run.txt says failed, or no summary */
    int diverged;   /* run.txt says diverged: left out of every mean */
    double *values; /* (n_metrics, n_seeds), NaN for missing seeds */
    double *rtt;    /* (n_seeds,) rounds_to_target */
    double *reward; /* (n_seeds,) final sampled (else exact) mean reward % */
    int *finished;  /* (n_seeds,) */
} variant_results;

static void collect_variant(const gfn_spec *s, const char *results, int v, variant_results *r)
{
    int S = s->n_seeds, M = s->n_metrics;
    r->values = malloc((size_t)M * (size_t)S * sizeof *r->values);
    r->rtt = malloc((size_t)S * sizeof *r->rtt);
    r->reward = malloc((size_t)S * sizeof *r->reward);
    r->finished = calloc((size_t)S, sizeof *r->finished);
    GFN_ASSERT(r->values && r->rtt && r->reward && r->finished);
    for (int k = 0; k < S; k++) {
        for (int m = 0; m < M; m++)
            r->values[m * S + k] = NAN;
        r->rtt[k] = r->reward[k] = NAN;
        char dir[4096], path[4200], *text = NULL;
        gfn_runner_run_dir(s, results, v, k, dir, sizeof dir);
        snprintf(path, sizeof path, "%s/run.txt", dir);
        if (!gfn_fs_exists(path))
            continue; /* not run (yet) */
        snprintf(path, sizeof path, "%s/summary.txt", dir);
        if (gfn_runner_state(dir, NULL) == GFN_RUN_DIVERGED) {
            r->diverged++;
            continue;
        }
        if (!gfn_runner_is_finished(dir) || gfn_fs_read_all(path, &text, NULL, NULL) != GFN_OK) {
            r->failed++;
            continue;
        }
        r->finished[k] = 1;
        r->ok++;
        /* The trainer writes rounds_to_target -1 (or nan) for "never reached". */
        for (int m = 0; m < M; m++) {
            double x = summary_value(text, s->metrics[m]);
            if (strcmp(s->metrics[m], "rounds_to_target") == 0 && x < 0)
                x = NAN;
            r->values[m * S + k] = x;
        }
        r->rtt[k] = summary_value(text, "rounds_to_target");
        if (r->rtt[k] < 0)
            r->rtt[k] = NAN;
        r->reward[k] = summary_value(text, "sampled_mean_reward_pct");
        if (!isfinite(r->reward[k]))
            r->reward[k] = summary_value(text, "mean_reward_pct");
        free(text);
    }
}

static void free_variant(variant_results *r)
{
    free(r->values);
    free(r->rtt);
    free(r->reward);
    free(r->finished);
}

/* The rtt/reward of the finished seeds only, so that a missing seed is not
 * mistaken for one that did not reach the target. */
static void paper_cell(const gfn_spec *s, const variant_results *r, char *buf, size_t cap)
{
    double rtt[256], rew[256];
    int n = 0;
    for (int k = 0; k < s->n_seeds && n < 256; k++)
        if (r->finished[k]) {
            rtt[n] = r->rtt[k];
            rew[n++] = r->reward[k];
        }
    if (n == 0)
        snprintf(buf, cap, "no finished runs");
    else
        gfn_report_paper_cell(rtt, rew, n, buf, cap);
}

static void csv_text(gfn_strbuf *b, const char *text)
{
    gfn_strbuf_printf(b, "\"");
    for (const char *c = text; *c; c++)
        gfn_strbuf_printf(b, *c == '"' ? "\"\"" : "%c", *c);
    gfn_strbuf_printf(b, "\"");
}

static void task_line(const gfn_spec *s, gfn_strbuf *b)
{
    for (int i = 0; i < s->task.n; i++)
        gfn_strbuf_printf(b, "%s%s%s%s", i == 0 ? "" : (i == 1 ? " (" : ", "),
                          i == 0 ? "" : s->task.items[i].key, i == 0 ? "" : "=",
                          s->task.items[i].val);
    gfn_strbuf_printf(b, "%s", s->task.n > 1 ? ")" : "");
}

/* Text in a Markdown table cell: '|' escaped, newlines as spaces. */
static void md_cell(gfn_strbuf *b, const char *text)
{
    for (const char *c = text; *c; c++) {
        if (*c == '|')
            gfn_strbuf_printf(b, "\\|");
        else
            gfn_strbuf_printf(b, "%c", *c == '\n' || *c == '\r' ? ' ' : *c);
    }
}

/* The paper-format table alone (summary.md's last section, paper_table.md and
 * `report --markdown`): seeds finished, ours, the paper's value. */
static void paper_table(const gfn_spec *s, const variant_results *res, gfn_strbuf *b)
{
    gfn_strbuf_printf(b, "| variant | seeds | ours | paper |\n|---|---|---|---|\n");
    for (int v = 0; v < s->n_variants; v++) {
        char ours[128];
        paper_cell(s, &res[v], ours, sizeof ours);
        gfn_strbuf_printf(b, "| %s | %d | %s | ", s->variants[v].name, res[v].ok, ours);
        md_cell(b, s->variants[v].paper[0] ? s->variants[v].paper : "-");
        gfn_strbuf_printf(b, " |\n");
    }
}

/* A warning line per run folder whose recorded configuration (config.txt) is not
 * the one the spec asks for, so that a table never silently mixes settings. */
static void config_warnings(const gfn_spec *s, const char *results, gfn_strbuf *md)
{
    int n = 0;
    for (int v = 0; v < s->n_variants; v++)
        for (int k = 0; k < s->n_seeds; k++) {
            char dir[4096];
            gfn_runner_run_dir(s, results, v, k, dir, sizeof dir);
            gfn_params now;
            gfn_params_init(&now);
            gfn_error e;
            gfn_strbuf d;
            gfn_strbuf_init(&d);
            if (gfn_spec_run_config(s, v, k, &now, &e) == GFN_OK &&
                gfn_runner_config_diff(dir, &now, &d) > 0) {
                if (n++ == 0)
                    gfn_strbuf_printf(md, "**Warning: runs made with another configuration than "
                                          "this spec asks for** (recorded -> spec):\n\n");
                gfn_strbuf_printf(md, "- %s/seed%ld: %s\n", s->variants[v].name, s->seeds[k],
                                  d.data);
            }
            gfn_strbuf_close(&d);
            gfn_params_close(&now);
        }
    if (n)
        gfn_strbuf_printf(md, "\n");
}

static int write_tables(const gfn_spec *s, const char *results, const char *dir,
                        const variant_results *res, FILE *markdown, gfn_error *err)
{
    int S = s->n_seeds;
    gfn_strbuf md, csv;
    gfn_strbuf_init(&md);
    gfn_strbuf_init(&csv);
    gfn_strbuf_printf(&md, "# %s\n\n", s->name);
    if (s->description[0])
        gfn_strbuf_printf(&md, "%s\n\n", s->description);
    gfn_strbuf_printf(&md, "Spec `%s`; task ", s->path);
    task_line(s, &md);
    gfn_strbuf_printf(&md, "; %ld rounds; seeds", s->rounds);
    for (int k = 0; k < S; k++)
        gfn_strbuf_printf(&md, "%s%ld", k ? ", " : " ", s->seeds[k]);
    gfn_strbuf_printf(&md, ".\nEach cell: mean +- sample standard deviation (n-1) over the seeds "
                           "that finished.\n\n");
    config_warnings(s, results, &md);
    gfn_strbuf_printf(&md, "| variant | seeds ok |");
    gfn_strbuf_printf(&csv, "variant,seeds_ok,seeds_failed,seeds_diverged,seeds_total");
    for (int m = 0; m < s->n_metrics; m++) {
        gfn_strbuf_printf(&md, " %s |", s->metrics[m]);
        gfn_strbuf_printf(&csv, ",%s_mean,%s_std,%s_n", s->metrics[m], s->metrics[m],
                          s->metrics[m]);
    }
    gfn_strbuf_printf(&csv, ",paper_format_ours,paper\n");
    gfn_strbuf_printf(&md, "\n|---|---|");
    for (int m = 0; m < s->n_metrics; m++)
        gfn_strbuf_printf(&md, "---|");
    gfn_strbuf_printf(&md, "\n");
    for (int v = 0; v < s->n_variants; v++) {
        const variant_results *r = &res[v];
        char note[64] = "";
        if (r->failed && r->diverged)
            snprintf(note, sizeof note, " (%d failed, %d diverged)", r->failed, r->diverged);
        else if (r->failed || r->diverged)
            snprintf(note, sizeof note, " (%d %s)", r->failed + r->diverged,
                     r->failed ? "failed" : "diverged");
        gfn_strbuf_printf(&md, "| %s | %d/%d%s |", s->variants[v].name, r->ok, S, note);
        gfn_strbuf_printf(&csv, "%s,%d,%d,%d,%d", s->variants[v].name, r->ok, r->failed,
                          r->diverged, S);
        for (int m = 0; m < s->n_metrics; m++) {
            double mean, sd;
            int n = gfn_report_mean_std(r->values + m * S, S, &mean, &sd);
            char cell[128];
            fmt_mean_std(mean, sd, n, cell, sizeof cell);
            /* NaN seeds (e.g. rounds_to_target of a seed that never reached the
             * target) are left out of the mean; say so rather than hide it. */
            if (n > 0 && n < r->ok)
                gfn_strbuf_printf(&md, " %s (%d of %d seeds) |", cell, n, r->ok);
            else
                gfn_strbuf_printf(&md, " %s |", cell);
            gfn_strbuf_printf(&csv, ",%.17g,%.17g,%d", mean, sd, n);
        }
        gfn_strbuf_printf(&md, "\n");
        char ours[128];
        paper_cell(s, r, ours, sizeof ours);
        gfn_strbuf_printf(&csv, ",");
        csv_text(&csv, ours);
        gfn_strbuf_printf(&csv, ",");
        csv_text(&csv, s->variants[v].paper);
        gfn_strbuf_printf(&csv, "\n");
    }
    gfn_strbuf_printf(&md,
                      "\n## In the paper's format\n\n"
                      "\"100%% (N +- s)\": every seed's sampled mean reward (trailing window) "
                      "reached the target mean E_p*[R]; N = rounds to first reach it. Otherwise "
                      "the final sampled mean reward as %% of the target mean (exact mean reward "
                      "when no samples were taken). Mean +- std over seeds.\n\n");
    gfn_strbuf table;
    gfn_strbuf_init(&table);
    paper_table(s, res, &table);
    gfn_strbuf_printf(&md, "%s", table.data ? table.data : "");
    char path[4200];
    int rc = gfn_fs_mkdir_p(dir, err);
    if (rc == GFN_OK) {
        snprintf(path, sizeof path, "%s/paper_table.md", dir);
        rc = gfn_strbuf_write(&table, path, err);
    }
    if (rc == GFN_OK && markdown)
        fputs(table.data ? table.data : "", markdown);
    gfn_strbuf_close(&table);
    if (rc == GFN_OK) {
        snprintf(path, sizeof path, "%s/summary.md", dir);
        rc = gfn_strbuf_write(&md, path, err);
    }
    if (rc == GFN_OK) {
        snprintf(path, sizeof path, "%s/summary.csv", dir);
        rc = gfn_strbuf_write(&csv, path, err);
    }
    gfn_strbuf_close(&md);
    gfn_strbuf_close(&csv);
    return rc;
}

/* ---- figures ---- */

typedef struct {
    const char *metric, *title, *ylabel, *ref_label;
    double ref_y;
} metric_label;

/* Title, axis label and reference line of a metric, from the metric registry. */
static metric_label label_for(const char *metric)
{
    const gfn_metric_info *m = gfn_metric_find(metric);
    metric_label l = {metric, metric, metric, NULL, NAN};
    if (m) {
        l.title = m->title;
        l.ylabel = m->ylabel;
        l.ref_label = m->ref_label;
        l.ref_y = m->ref_y;
    }
    return l;
}

typedef struct {
    gfn_tsv *t; /* (n_variants, n_seeds); n_cols == 0 when not loaded */
} curve_data;

static void load_metrics(const gfn_spec *s, const char *results, const variant_results *res,
                         curve_data *cd, FILE *msgs)
{
    int S = s->n_seeds;
    cd->t = calloc((size_t)s->n_variants * (size_t)S, sizeof *cd->t);
    GFN_ASSERT(cd->t);
    for (int v = 0; v < s->n_variants; v++)
        for (int k = 0; k < S; k++) {
            if (!res[v].finished[k])
                continue;
            char dir[4096], path[4200];
            gfn_error err;
            gfn_runner_run_dir(s, results, v, k, dir, sizeof dir);
            snprintf(path, sizeof path, "%s/metrics.tsv", dir);
            gfn_tsv *t = &cd->t[v * S + k];
            if (gfn_tsv_read(path, 1, NULL, t, &err) != GFN_OK) {
                if (msgs)
                    fprintf(msgs, "report: skipping curves of %s/seed%ld: %s\n",
                            s->variants[v].name, s->seeds[k], err.msg);
            } else if (gfn_tsv_col(t, "round") < 0) {
                if (msgs)
                    fprintf(msgs, "report: skipping %s: no 'round' column\n", path);
                gfn_tsv_close(t);
            }
        }
}

/* Mean and std over seeds at each round of the seed with the most rows. */
static int variant_curve(const gfn_spec *s, const curve_data *cd, int v, const char *metric,
                         int by_trajectories, double *x, double *mean, double *sd, int *count)
{
    int S = s->n_seeds, ref = -1;
    for (int k = 0; k < S; k++)
        if (cd->t[v * S + k].n_cols && (ref < 0 || cd->t[v * S + k].n_rows > cd->t[v * S + ref].n_rows))
            ref = k;
    if (ref < 0)
        return 0;
    const gfn_tsv *rt = &cd->t[v * S + ref];
    int xr = gfn_tsv_col(rt, "round"), xt = gfn_tsv_col(rt, "trajectories");
    if (by_trajectories && xt < 0)
        return 0;
    double *vals = malloc((size_t)S * sizeof *vals);
    int *cursor = calloc((size_t)S, sizeof *cursor);
    GFN_ASSERT(vals && cursor);
    int n = 0;
    for (int r = 0; r < rt->n_rows; r++) {
        double round = rt->v[r * rt->n_cols + xr];
        int k_vals = 0;
        for (int k = 0; k < S; k++) {
            const gfn_tsv *t = &cd->t[v * S + k];
            int c = t->n_cols ? gfn_tsv_col(t, metric) : -1, tr = t->n_cols ? gfn_tsv_col(t, "round") : -1;
            if (c < 0)
                continue;
            /* Rounds increase down a metrics.tsv, so one cursor per seed keeps this
             * linear in the rows (50,000 rounds give 5,000 rows per seed). */
            int i = cursor[k];
            while (i < t->n_rows && t->v[i * t->n_cols + tr] < round)
                i++;
            cursor[k] = i;
            if (i < t->n_rows && t->v[i * t->n_cols + tr] == round)
                vals[k_vals++] = t->v[i * t->n_cols + c];
        }
        double m, d;
        int got = gfn_report_mean_std(vals, k_vals, &m, &d);
        if (got == 0)
            continue;
        x[n] = by_trajectories ? rt->v[r * rt->n_cols + xt] : round;
        mean[n] = m;
        sd[n] = d;
        count[n++] = got;
    }
    free(vals);
    free(cursor);
    return n;
}

/* Evaluations in the spec's trailing window (window / sample_every, defaults 500 / 10). */
static int window_points(const gfn_spec *s)
{
    const gfn_param *w = gfn_params_find(&s->evaluation, "window");
    const gfn_param *e = gfn_params_find(&s->evaluation, "sample_every");
    if (!w)
        w = gfn_params_find(&s->defaults, "window");
    if (!e)
        e = gfn_params_find(&s->defaults, "sample_every");
    long window = w ? strtol(w->val, NULL, 10) : 500, every = e ? strtol(e->val, NULL, 10) : 10;
    long n = every > 0 ? window / every : 0;
    return n > 1 ? (int)(n < 100000 ? n : 100000) : 0;
}

/* out[k] = mean of the finite y[j], k - w < j <= k. */
static void trailing_mean(const double *y, int n, int w, double *out)
{
    double sum = 0;
    int cnt = 0;
    for (int k = 0; k < n; k++) {
        if (isfinite(y[k])) {
            sum += y[k];
            cnt++;
        }
        if (k - w >= 0 && isfinite(y[k - w])) {
            sum -= y[k - w];
            cnt--;
        }
        out[k] = cnt > 0 ? sum / cnt : NAN;
    }
}

/* A y range fitted to the curves drawn (the smoothed mean where there is one,
 * else the mean), with the reference line inside and 8% margins: a wide std band
 * or a raw spike is clipped rather than squashing every line. */
static void fit_y(const gfn_plot_series *ser, int n_ser, double ref_y, double *lo, double *hi)
{
    double a = INFINITY, b = -INFINITY;
    for (int i = 0; i < n_ser; i++)
        for (int k = 0; k < ser[i].n; k++) {
            double y = ser[i].smooth ? ser[i].smooth[k] : ser[i].mean[k];
            if (isfinite(y)) {
                a = y < a ? y : a;
                b = y > b ? y : b;
            }
        }
    if (isfinite(ref_y) && a <= b) {
        a = ref_y < a ? ref_y : a;
        b = ref_y > b ? ref_y : b;
    }
    if (!(a < b)) {
        *lo = *hi = NAN; /* autoscale */
        return;
    }
    double pad = 0.08 * (b - a);
    *lo = a - pad;
    *hi = b + pad;
}

/* Does the paper's metric track the truth?  When a spec draws the sampled AD score,
 * two more figures put it against the exact TV and the exact AD distance: one line
 * per variant through the exact evaluations (x: the exact metric, mean over seeds;
 * y: the AD score's trailing-window mean at the same round), in training order. */
static int draw_pairs(const gfn_spec *s, const curve_data *cd, const char *plots,
                      const variant_results *res, const gfn_plot_opts *po, int max_rows,
                      int *n_figs, gfn_error *err)
{
    int want = 0;
    for (int m = 0; m < s->n_curves; m++)
        want |= strcmp(s->curves[m], "ad_score") == 0;
    if (!want)
        return GFN_OK;
    int V = s->n_variants, W = window_points(s), rc = GFN_OK;
    size_t R = (size_t)max_rows;
    double *ad = malloc(4 * R * sizeof *ad), *ex = malloc(3 * R * sizeof *ex);
    double *px = malloc((size_t)V * R * sizeof *px), *py = malloc((size_t)V * R * sizeof *py);
    double *nan_sd = malloc(R * sizeof *nan_sd);
    int *cnt = malloc(R * sizeof *cnt);
    char(*labels)[160] = malloc((size_t)V * sizeof *labels);
    gfn_plot_series *ser = malloc((size_t)V * sizeof *ser);
    GFN_ASSERT(ad && ex && px && py && nan_sd && cnt && labels && ser);
    for (size_t i = 0; i < R; i++)
        nan_sd[i] = NAN;
    static const char *const XS[] = {"tv", "ad_exact"};
    for (int p = 0; p < 2 && rc == GFN_OK; p++) {
        int n_ser = 0, points = 0;
        for (int v = 0; v < V; v++) {
            int na = variant_curve(s, cd, v, "ad_score", 0, ad, ad + R, ad + 2 * R, cnt);
            trailing_mean(ad + R, na, W > 1 ? W : 1, ad + 3 * R);
            int ne = variant_curve(s, cd, v, XS[p], 0, ex, ex + R, ex + 2 * R, cnt);
            int n = 0, j = 0;
            for (int k = 0; k < ne; k++) {
                while (j < na && ad[j] < ex[k])
                    j++;
                if (j < na && ad[j] == ex[k] && isfinite(ex[R + k]) && isfinite(ad[3 * R + j])) {
                    px[(size_t)v * R + n] = ex[R + k];
                    py[(size_t)v * R + n] = ad[3 * R + j];
                    n++;
                }
            }
            snprintf(labels[v], sizeof labels[v], "%s (%d seed%s)", s->variants[v].name,
                     res[v].ok, res[v].ok == 1 ? "" : "s");
            gfn_plot_series se = {labels[v], n, px + (size_t)v * R, py + (size_t)v * R, nan_sd,
                                  NULL, NULL};
            ser[n_ser++] = se;
            points += n;
        }
        if (points == 0)
            continue;
        const gfn_metric_info *mx = gfn_metric_find(XS[p]);
        char title[512], ylabel[160], stem[96];
        snprintf(title, sizeof title, "Does the sampled AD score track the exact %s?\n%s: one "
                 "point per exact evaluation, in training order (mean over seeds)",
                 p == 0 ? "TV" : "AD distance", s->name);
        snprintf(ylabel, sizeof ylabel, "sampled AD score, mean over the trailing %d evaluations",
                 W > 1 ? W : 1);
        snprintf(stem, sizeof stem, "pair_ad_score_vs_%s", XS[p]);
        gfn_plot_axes ax = {title, mx ? mx->ylabel : XS[p], ylabel, 1, "5% critical value",
                            NAN, NAN, NAN, NAN};
        rc = gfn_plot_curves(plots, stem, &ax, ser, n_ser, po, NULL, err);
        ++*n_figs;
    }
    free(ad);
    free(ex);
    free(px);
    free(py);
    free(nan_sd);
    free(cnt);
    free(labels);
    free(ser);
    return rc;
}

static int draw_curves(const gfn_spec *s, const char *results, const char *plots,
                       const variant_results *res, const gfn_plot_opts *po, FILE *msgs,
                       int *n_figs, gfn_error *err)
{
    curve_data cd;
    load_metrics(s, results, res, &cd, msgs);
    int S = s->n_seeds, V = s->n_variants, max_rows = 1, rc = GFN_OK;
    for (int i = 0; i < V * S; i++)
        if (cd.t[i].n_rows > max_rows)
            max_rows = cd.t[i].n_rows;
    double *buf = malloc((size_t)V * (size_t)max_rows * 3 * sizeof *buf);
    double *smooth = malloc((size_t)V * (size_t)max_rows * sizeof *smooth);
    GFN_ASSERT(smooth);
    int *cnt = malloc((size_t)V * (size_t)max_rows * sizeof *cnt);
    char(*labels)[160] = malloc((size_t)V * sizeof *labels);
    gfn_plot_series *ser = malloc((size_t)V * sizeof *ser);
    GFN_ASSERT(buf && cnt && labels && ser);
    for (int m = 0; m < s->n_curves && rc == GFN_OK; m++)
        for (int axis = 0; axis < 2 && rc == GFN_OK; axis++) {
            if ((axis == 0 && !s->x_rounds) || (axis == 1 && !s->x_trajectories))
                continue;
            int n_ser = 0, points = 0;
            int smooth_pts = strcmp(s->curves[m], "ad_score") == 0 ? window_points(s) : 0;
            for (int v = 0; v < V; v++) {
                double *x = buf + (size_t)v * (size_t)max_rows * 3;
                int n = variant_curve(s, &cd, v, s->curves[m], axis, x, x + max_rows,
                                      x + 2 * max_rows, cnt + (size_t)v * (size_t)max_rows);
                snprintf(labels[v], sizeof labels[v], "%s (%d seed%s)", s->variants[v].name,
                         res[v].ok, res[v].ok == 1 ? "" : "s");
                gfn_plot_series se = {labels[v], n, x, x + max_rows, x + 2 * max_rows,
                                      cnt + (size_t)v * (size_t)max_rows, NULL};
                /* The AD score of one monitor batch is noisy: its mean over the
                 * trailing window (as the sampled mean reward is) drawn bold. */
                if (smooth_pts > 1) {
                    double *sm = smooth + (size_t)v * (size_t)max_rows;
                    trailing_mean(x + max_rows, n, smooth_pts, sm);
                    se.smooth = sm;
                }
                ser[n_ser++] = se;
                points += n;
            }
            if (points == 0) {
                if (msgs && axis == 0)
                    fprintf(msgs, "report: no values of %s in any metrics.tsv; curve skipped\n",
                            s->curves[m]);
                continue;
            }
            metric_label l = label_for(s->curves[m]);
            /* A spec may measure sampled rewards against its own reference mean
             * (table1_bag: the authors' 18.17); say so instead of E_p*[R]. */
            const gfn_param *ref = gfn_params_find(&s->defaults, "target_mean_reward");
            char ylabel[GFN_PARAM_VAL_MAX + 64], ref_label[GFN_PARAM_VAL_MAX + 64];
            if (ref && strcmp(s->curves[m], "sampled_mean_reward_pct") == 0) {
                snprintf(ylabel, sizeof ylabel, "mean reward of samples / %s  (%%)", ref->val);
                snprintf(ref_label, sizeof ref_label, "reference mean %s = 100%%", ref->val);
                l.ylabel = ylabel;
                l.ref_label = ref_label;
            }
            char stem[160], title[512];
            snprintf(stem, sizeof stem, "curve_%s_vs_%s", s->curves[m],
                     axis ? "trajectories" : "rounds");
            if (smooth_pts > 1)
                snprintf(title, sizeof title, "%s\n%s: mean over seeds (faint), its mean over "
                         "the trailing %d evaluations (bold)", l.title, s->name, smooth_pts);
            else
                snprintf(title, sizeof title, "%s\n%s: mean over seeds (line) +- 1 std (band)",
                         l.title, s->name);
            gfn_plot_axes ax = {title,
                                axis ? "trajectories sampled for training (online + replayed)"
                                     : "training round (one online batch + replay each)",
                                l.ylabel, l.ref_y, l.ref_label, NAN, NAN, NAN, NAN};
            fit_y(ser, n_ser, l.ref_y, &ax.y_lo, &ax.y_hi);
            rc = gfn_plot_curves(plots, stem, &ax, ser, n_ser, po, NULL, err);
            ++*n_figs;
        }
    if (rc == GFN_OK)
        rc = draw_pairs(s, &cd, plots, res, po, max_rows, n_figs, err);
    for (int i = 0; i < V * S; i++)
        gfn_tsv_close(&cd.t[i]);
    free(cd.t);
    free(buf);
    free(smooth);
    free(cnt);
    free(labels);
    free(ser);
    return rc;
}

#define SCATTER_MAX 4000

static int draw_scatter(const gfn_spec *s, const char *results, const char *plots,
                        const variant_results *res, const gfn_plot_opts *po, FILE *msgs,
                        int *n_figs, gfn_error *err)
{
    int V = s->n_variants, n_pan = 0, rc = GFN_OK;
    gfn_plot_panel *pan = calloc((size_t)V, sizeof *pan);
    gfn_tsv *tabs = calloc((size_t)V, sizeof *tabs);
    double *xy = NULL;
    char(*labels)[200] = calloc((size_t)V, sizeof *labels);
    GFN_ASSERT(pan && tabs && labels);
    static const char *const names[] = {"log_reward", "log_p_theta", NULL};
    size_t total = 0;
    int *which_seed = calloc((size_t)V, sizeof *which_seed);
    GFN_ASSERT(which_seed);
    for (int v = 0; v < V; v++)
        for (int k = 0; k < s->n_seeds; k++) {
            char dir[4096], path[4200];
            gfn_runner_run_dir(s, results, v, k, dir, sizeof dir);
            snprintf(path, sizeof path, "%s/logp.tsv", dir);
            if (!res[v].finished[k] || !gfn_fs_exists(path))
                continue;
            gfn_error e2;
            if (gfn_tsv_read(path, 0, names, &tabs[v], &e2) != GFN_OK ||
                gfn_tsv_col(&tabs[v], "log_reward") < 0 || gfn_tsv_col(&tabs[v], "log_p_theta") < 0) {
                if (msgs)
                    fprintf(msgs, "report: skipping scatter of %s: %s\n", s->variants[v].name,
                            tabs[v].n_cols ? "no log_reward/log_p_theta columns" : e2.msg);
                gfn_tsv_close(&tabs[v]);
                continue;
            }
            which_seed[v] = k;
            total += (size_t)(tabs[v].n_rows < SCATTER_MAX ? tabs[v].n_rows : SCATTER_MAX) + 1;
            break;
        }
    xy = malloc((total + 1) * 2 * sizeof *xy);
    GFN_ASSERT(xy);
    size_t used = 0;
    for (int v = 0; v < V; v++) {
        gfn_tsv *t = &tabs[v];
        if (t->n_cols == 0)
            continue;
        int cr = gfn_tsv_col(t, "log_reward"), cp = gfn_tsv_col(t, "log_p_theta");
        /* log Z over every x, before subsampling: logsumexp with the maximum taken out. */
        double mx = -INFINITY, acc = 0;
        for (int i = 0; i < t->n_rows; i++)
            if (t->v[i * t->n_cols + cr] > mx)
                mx = t->v[i * t->n_cols + cr];
        for (int i = 0; i < t->n_rows; i++)
            acc += exp(t->v[i * t->n_cols + cr] - mx);
        /* A fixed stride keeps the subsample deterministic and spread over all x. */
        int stride = (t->n_rows + SCATTER_MAX - 1) / SCATTER_MAX;
        if (stride < 1)
            stride = 1;
        double *x = xy + used, *y = xy + used + (total + 1);
        int n = 0;
        for (int i = 0; i < t->n_rows; i += stride, n++) {
            x[n] = t->v[i * t->n_cols + cr];
            y[n] = t->v[i * t->n_cols + cp];
        }
        used += (size_t)n;
        if (stride > 1)
            snprintf(labels[v], sizeof labels[v], "%s, seed %ld (1 in %d of %d x shown)",
                     s->variants[v].name, s->seeds[which_seed[v]], stride, t->n_rows);
        else
            snprintf(labels[v], sizeof labels[v], "%s, seed %ld (all %d x)", s->variants[v].name,
                     s->seeds[which_seed[v]], t->n_rows);
        gfn_plot_panel p = {labels[v], n, x, y, t->n_rows ? mx + log(acc) : NAN};
        pan[n_pan++] = p;
    }
    if (n_pan > 0) {
        char title[300];
        snprintf(title, sizeof title, "%s: log p_theta(x) of the final model against log R(x)",
                 s->name);
        gfn_plot_axes ax = {title, "log R(x)  (natural log of the reward)",
                            "log p_theta(x)  (natural log)", NAN, NULL, NAN, NAN, NAN, NAN};
        rc = gfn_plot_scatter(plots, "scatter_logp_logr", &ax,
                              "target p*: log R(x) - log Z", pan, n_pan, po, NULL, err);
        ++*n_figs;
    } else if (msgs) {
        fprintf(msgs, "report: no logp.tsv in any finished run; scatter skipped\n");
    }
    for (int v = 0; v < V; v++)
        gfn_tsv_close(&tabs[v]);
    free(tabs);
    free(pan);
    free(xy);
    free(labels);
    free(which_seed);
    return rc;
}

int gfn_report_write(const gfn_spec *s, const gfn_report_opts *o, gfn_error *err)
{
    gfn_error local;
    if (!err)
        err = &local;
    const char *results = o && o->results_dir ? o->results_dir : "results";
    const char *plots_root = o && o->plots_dir ? o->plots_dir : "plots";
    FILE *msgs = o ? o->log : NULL;
    variant_results *res = calloc((size_t)s->n_variants, sizeof *res);
    GFN_ASSERT(res);
    int any = 0;
    for (int v = 0; v < s->n_variants; v++) {
        collect_variant(s, results, v, &res[v]);
        any += res[v].ok;
    }
    char dir[4096], plots[4096];
    snprintf(dir, sizeof dir, "%s/%s", results, s->name);
    snprintf(plots, sizeof plots, "%s/%s", plots_root, s->name);
    int rc = GFN_OK, n_figs = 0;
    if (!any)
        rc = gfn_error_set(err, GFN_EIO, "no finished run of %s under %s/ (run `gfnbench run %s`; "
                           "a failed run says why in its run.txt)", s->name, dir, s->path);
    if (rc == GFN_OK)
        rc = write_tables(s, results, dir, res, o ? o->markdown : NULL, err);
    if (rc == GFN_OK)
        rc = gfn_finals_write(s, results, dir, err);
    if (rc == GFN_OK)
        rc = gfn_runs_write(s, results, dir, err);
    gfn_plot_opts po = {o ? o->run_gnuplot : 1, o ? o->formats : 0};
    if (rc == GFN_OK && s->n_curves > 0)
        rc = draw_curves(s, results, plots, res, &po, msgs, &n_figs, err);
    if (rc == GFN_OK && s->scatter)
        rc = draw_scatter(s, results, plots, res, &po, msgs, &n_figs, err);
    if (rc == GFN_OK && msgs) {
        fprintf(msgs, "tables:  %s/summary.md, summary.csv, paper_table.md, finals.csv, runs.csv\n",
                dir);
        if (n_figs == 0)
            fprintf(msgs, "figures: none (no curve data)\n");
        else if (po.run_gnuplot && gfn_plot_have_gnuplot())
            fprintf(msgs, "figures: %s/ (%d figures as .png and .pdf, with their .tsv data and .gp "
                         "scripts)\n", plots, n_figs);
        else
            fprintf(msgs, "figures: %s/*.gp and *.tsv, not drawn (%s); draw them with "
                         "`cd %s && for f in *.gp; do gnuplot \"$f\"; done`\n", plots,
                    po.run_gnuplot ? "gnuplot is not on PATH" : "--no-gnuplot", plots);
    }
    for (int v = 0; v < s->n_variants; v++)
        free_variant(&res[v]);
    free(res);
    return rc;
}
