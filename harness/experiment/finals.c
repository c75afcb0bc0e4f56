/* finals.c - finals.csv: one row per run with its settings and final metrics.
 *
 * The settings come from the spec (gfn_spec_run_config), the status from the run
 * folder (run.txt) and the metrics from summary.txt, copied as text so that the
 * file holds exactly what the run wrote.  See finals.h for the columns.
 */
#include "finals.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "metric_table.h"
#include "report.h"
#include "runner.h"

/* An ordered set of column names. */
typedef struct {
    char (*names)[GFN_PARAM_KEY_MAX];
    int n, cap;
} name_list;

static void names_add(name_list *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0)
            return;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 32;
        l->names = realloc(l->names, (size_t)l->cap * sizeof *l->names);
        GFN_ASSERT(l->names);
    }
    snprintf(l->names[l->n++], sizeof l->names[0], "%s", name);
}

/* Parses summary.txt's `key: value` lines into out (values trimmed). */
static int read_summary(const char *path, gfn_params *out, gfn_error *err)
{
    char *text;
    int rc = gfn_fs_read_all(path, &text, NULL, err);
    if (rc)
        return rc;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && rc == GFN_OK;
         line = strtok_r(NULL, "\n", &save)) {
        line[strcspn(line, "\r")] = '\0';
        char *colon = strchr(line, ':');
        if (!colon || colon == line || line[0] == '#')
            continue;
        *colon = '\0';
        char *val = colon + 1;
        val += strspn(val, " \t");
        size_t len = strlen(val);
        while (len > 0 && (val[len - 1] == ' ' || val[len - 1] == '\t'))
            val[--len] = '\0';
        rc = gfn_params_set(out, line, val, path, err);
    }
    free(text);
    return rc;
}

static void csv_cell(gfn_strbuf *b, const char *text)
{
    if (strpbrk(text, ",\"\r\n") == NULL) {
        gfn_strbuf_printf(b, "%s", text);
        return;
    }
    gfn_strbuf_printf(b, "\"");
    for (const char *c = text; *c; c++)
        gfn_strbuf_printf(b, *c == '"' ? "\"\"" : "%c", *c);
    gfn_strbuf_printf(b, "\"");
}

typedef struct {
    gfn_params config, metrics;
    const char *status;
} run_row;

/* Fills one row: the spec's configuration, the folder's status, summary.txt. */
static int load_row(const gfn_spec *s, const char *results, int v, int k, run_row *r,
                    gfn_error *err)
{
    int rc = gfn_spec_run_config(s, v, k, &r->config, err);
    if (rc)
        return rc;
    char dir[4096], path[4200];
    gfn_runner_run_dir(s, results, v, k, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/summary.txt", dir);
    /* The report's rule: a run counts when run.txt says ok and summary.txt is there. */
    if (gfn_runner_is_finished(dir) && gfn_fs_exists(path)) {
        r->status = "ok";
        return read_summary(path, &r->metrics, err);
    }
    gfn_run_state st = gfn_runner_state(dir, NULL);
    r->status = st == GFN_RUN_DONE ? "failed" : gfn_run_state_name(st);
    return GFN_OK;
}

static void write_rows(const gfn_spec *s, const run_row *rows, const name_list *settings,
                       const name_list *metrics, gfn_strbuf *b)
{
    gfn_strbuf_printf(b, "variant,seed");
    for (int j = 0; j < settings->n; j++) {
        gfn_strbuf_printf(b, ",");
        csv_cell(b, settings->names[j]);
    }
    gfn_strbuf_printf(b, ",status");
    for (int j = 0; j < metrics->n; j++) {
        gfn_strbuf_printf(b, ",");
        csv_cell(b, metrics->names[j]);
    }
    gfn_strbuf_printf(b, "\n");
    for (int v = 0; v < s->n_variants; v++)
        for (int k = 0; k < s->n_seeds; k++) {
            const run_row *r = &rows[v * s->n_seeds + k];
            csv_cell(b, s->variants[v].name);
            gfn_strbuf_printf(b, ",%ld", s->seeds[k]);
            for (int j = 0; j < settings->n; j++) {
                const gfn_param *p = gfn_params_find(&r->config, settings->names[j]);
                gfn_strbuf_printf(b, ",");
                csv_cell(b, p ? p->val : "");
            }
            gfn_strbuf_printf(b, ",%s", r->status);
            for (int j = 0; j < metrics->n; j++) {
                const gfn_param *p = gfn_params_find(&r->metrics, metrics->names[j]);
                gfn_strbuf_printf(b, ",");
                csv_cell(b, p ? p->val : "");
            }
            gfn_strbuf_printf(b, "\n");
        }
}

int gfn_finals_write(const gfn_spec *s, const char *results, const char *dir, gfn_error *err)
{
    int n_runs = s->n_variants * s->n_seeds, rc = GFN_OK;
    run_row *rows = calloc((size_t)n_runs, sizeof *rows);
    GFN_ASSERT(rows);
    name_list settings = {0}, metrics = {0};
    for (int i = 0; i < n_runs; i++) {
        gfn_params_init(&rows[i].config);
        gfn_params_init(&rows[i].metrics);
        if (rc == GFN_OK)
            rc = load_row(s, results, i / s->n_seeds, i % s->n_seeds, &rows[i], err);
        /* seed has its own column; the variant's name is not a setting. */
        for (int j = 0; rc == GFN_OK && j < rows[i].config.n; j++)
            if (strcmp(rows[i].config.items[j].key, "seed") != 0)
                names_add(&settings, rows[i].config.items[j].key);
        for (int j = 0; rc == GFN_OK && j < rows[i].metrics.n; j++)
            names_add(&metrics, rows[i].metrics.items[j].key);
    }
    if (rc == GFN_OK) {
        gfn_strbuf b;
        gfn_strbuf_init(&b);
        write_rows(s, rows, &settings, &metrics, &b);
        char path[4200];
        snprintf(path, sizeof path, "%s/finals.csv", dir);
        rc = gfn_strbuf_write(&b, path, err);
        gfn_strbuf_close(&b);
    }
    for (int i = 0; i < n_runs; i++) {
        gfn_params_close(&rows[i].config);
        gfn_params_close(&rows[i].metrics);
    }
    free(rows);
    free(settings.names);
    free(metrics.names);
    return rc;
}

/* ---- runs.csv ---- */

/* A metrics.tsv cell as CSV: integers as integers, NaN as "nan" (pandas reads it). */
static void csv_number(gfn_strbuf *b, double v, int integer)
{
    if (v != v)
        gfn_strbuf_printf(b, "nan");
    else if (integer)
        gfn_strbuf_printf(b, "%.0f", v);
    else
        gfn_strbuf_printf(b, "%.10g", v);
}

int gfn_runs_write(const gfn_spec *s, const char *results, const char *dir, gfn_error *err)
{
    gfn_strbuf b;
    gfn_strbuf_init(&b);
    gfn_strbuf_printf(&b, "variant,seed");
    for (int c = 0; c < GFN_N_COLUMNS; c++)
        gfn_strbuf_printf(&b, ",%s", gfn_metric_table[c].name);
    gfn_strbuf_printf(&b, "\n");
    int rc = GFN_OK;
    for (int v = 0; v < s->n_variants && rc == GFN_OK; v++)
        for (int k = 0; k < s->n_seeds && rc == GFN_OK; k++) {
            char run[4096], path[4200];
            gfn_runner_run_dir(s, results, v, k, run, sizeof run);
            snprintf(path, sizeof path, "%s/metrics.tsv", run);
            if (!gfn_fs_exists(path))
                continue;
            gfn_tsv t;
            gfn_error e;
            if (gfn_tsv_read(path, 1, NULL, &t, &e) != GFN_OK)
                continue; /* the report says why elsewhere; a bad file adds no rows */
            int col[GFN_N_COLUMNS];
            for (int c = 0; c < GFN_N_COLUMNS; c++)
                col[c] = gfn_tsv_col(&t, gfn_metric_table[c].name);
            for (int r = 0; r < t.n_rows; r++) {
                csv_cell(&b, s->variants[v].name);
                gfn_strbuf_printf(&b, ",%ld", s->seeds[k]);
                for (int c = 0; c < GFN_N_COLUMNS; c++) {
                    gfn_strbuf_printf(&b, ",");
                    double x = col[c] >= 0 ? t.v[(size_t)r * t.n_cols + col[c]] : NAN;
                    csv_number(&b, x, strcmp(gfn_metric_table[c].format, GFN_MF_INT) == 0);
                }
                gfn_strbuf_printf(&b, "\n");
            }
            gfn_tsv_close(&t);
        }
    char path[4200];
    snprintf(path, sizeof path, "%s/runs.csv", dir);
    rc = gfn_strbuf_write(&b, path, err);
    gfn_strbuf_close(&b);
    return rc;
}

/* ---- reading ---- */

void gfn_finals_close(gfn_finals *f)
{
    for (int j = 0; f->header && j < f->n_cols; j++)
        free(f->header[j]);
    for (long i = 0; f->cells && i < (long)f->n_rows * f->n_cols; i++)
        free(f->cells[i]);
    free(f->header);
    free(f->cells);
    free(f->line);
    memset(f, 0, sizeof *f);
}

int gfn_finals_col(const gfn_finals *f, const char *name)
{
    for (int j = 0; j < f->n_cols; j++)
        if (strcmp(f->header[j], name) == 0)
            return j;
    return -1;
}

const char *gfn_finals_cell(const gfn_finals *f, int r, int c)
{
    GFN_ASSERT(r >= 0 && r < f->n_rows && c >= 0 && c < f->n_cols);
    return f->cells[(size_t)r * (size_t)f->n_cols + (size_t)c];
}

/* Splits one CSV line into malloc'ed cells (RFC 4180 quoting within the line).
 * Returns the number of cells, or -1 on an unterminated or misplaced quote. */
static int split_csv(const char *line, char ***out)
{
    int n = 0, cap = 16;
    char **cells = malloc((size_t)cap * sizeof *cells);
    char *buf = malloc(strlen(line) + 1);
    GFN_ASSERT(cells && buf);
    const char *c = line;
    for (;;) {
        size_t len = 0;
        if (*c == '"') {
            for (c++;; c++) {
                if (*c == '\0')
                    goto bad;
                if (*c == '"' && c[1] == '"')
                    buf[len++] = *c++;
                else if (*c == '"')
                    break;
                else
                    buf[len++] = *c;
            }
            c++;
            if (*c != ',' && *c != '\0')
                goto bad;
        } else {
            for (; *c != ',' && *c != '\0'; c++) {
                if (*c == '"')
                    goto bad;
                buf[len++] = *c;
            }
        }
        buf[len] = '\0';
        if (n == cap) {
            cap *= 2;
            cells = realloc(cells, (size_t)cap * sizeof *cells);
            GFN_ASSERT(cells);
        }
        cells[n] = strdup(buf);
        GFN_ASSERT(cells[n]);
        n++;
        if (*c == '\0')
            break;
        c++; /* the comma */
    }
    free(buf);
    *out = cells;
    return n;
bad:
    for (int i = 0; i < n; i++)
        free(cells[i]);
    free(cells);
    free(buf);
    return -1;
}

static int find_required(gfn_finals *f, const char *path, gfn_error *err)
{
    f->col_variant = gfn_finals_col(f, "variant");
    f->col_seed = gfn_finals_col(f, "seed");
    f->col_status = gfn_finals_col(f, "status");
    if (f->col_variant < 0 || f->col_seed < 0 || f->col_status < 0)
        return gfn_error_set(err, GFN_EFORMAT,
                             "%s:1: expected a header row with columns variant, seed and status "
                             "(a finals.csv written by `gfnbench report`)", path);
    return GFN_OK;
}

static int check_unique(const gfn_finals *f, const char *path, gfn_error *err)
{
    for (int r = 0; r < f->n_rows; r++)
        for (int q = 0; q < r; q++)
            if (strcmp(gfn_finals_cell(f, r, f->col_variant), gfn_finals_cell(f, q, f->col_variant)) == 0 &&
                strcmp(gfn_finals_cell(f, r, f->col_seed), gfn_finals_cell(f, q, f->col_seed)) == 0)
                return gfn_error_set(err, GFN_EFORMAT, "%s:%d: variant %s seed %s again (first on line %d)",
                                     path, f->line[r], gfn_finals_cell(f, r, f->col_variant),
                                     gfn_finals_cell(f, r, f->col_seed), f->line[q]);
    return GFN_OK;
}

int gfn_finals_read(const char *path, gfn_finals *f, gfn_error *err)
{
    memset(f, 0, sizeof *f);
    char *text;
    size_t len;
    int rc = gfn_fs_read_all(path, &text, &len, err);
    if (rc)
        return rc;
    int lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    f->line = malloc((size_t)lines * sizeof *f->line);
    GFN_ASSERT(f->line);
    int line_no = 0, cap_cells = 0;
    char *line = text;
    for (char *next; line && rc == GFN_OK; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        line_no++;
        line[strcspn(line, "\r")] = '\0';
        if (line[0] == '\0')
            continue;
        char **cells;
        int n = split_csv(line, &cells);
        if (n < 0) {
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%d: unterminated or misplaced quote", path,
                               line_no);
            break;
        }
        if (!f->header) {
            f->header = cells;
            f->n_cols = n;
            rc = find_required(f, path, err);
            continue;
        }
        if (n != f->n_cols) {
            for (int j = 0; j < n; j++)
                free(cells[j]);
            free(cells);
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%d: expected %d comma-separated cells, got %d",
                               path, line_no, f->n_cols, n);
            break;
        }
        if ((f->n_rows + 1) * f->n_cols > cap_cells) {
            cap_cells = 2 * (f->n_rows + 1) * f->n_cols;
            f->cells = realloc(f->cells, (size_t)cap_cells * sizeof *f->cells);
            GFN_ASSERT(f->cells);
        }
        memcpy(f->cells + (size_t)f->n_rows * (size_t)f->n_cols, cells, (size_t)n * sizeof *cells);
        free(cells);
        f->line[f->n_rows++] = line_no;
    }
    free(text);
    if (rc == GFN_OK && !f->header)
        rc = gfn_error_set(err, GFN_EFORMAT, "%s:1: empty file (expected a header row)", path);
    if (rc == GFN_OK)
        rc = check_unique(f, path, err);
    if (rc)
        gfn_finals_close(f);
    return rc;
}
