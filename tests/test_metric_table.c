/* test_metric_table.c - the metric registry (harness/run/metric_table.h): every
 * row is well formed, the columns come before the run statistics in the order
 * GFN_M_<ID> promises, and every consumer (specs, help, list) follows the table.
 * Nothing here counts or names metrics by hand: a new row is checked as it is. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "metric_table.h"
#include "spec.h"
#include "testutil.h"

static void test_rows(void)
{
    int columns = 0, bad = 0;
    for (int i = 0; i < GFN_N_METRICS; i++) {
        const gfn_metric_info *m = &gfn_metric_table[i];
        bad += (int)m->id != i;
        bad += !m->name[0] || !m->title[0] || !m->ylabel[0] || !m->format[0];
        bad += gfn_metric_find(m->name) != m; /* names are unique */
        for (const char *c = m->name; *c; c++)
            bad += !((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_');
        if (m->kind == GFN_METRIC_EXACT)
            bad += m->exact_offset + sizeof(double) > sizeof(gfn_exact_metrics);
        else
            bad += m->exact_offset != GFN_M_NOSRC;
        if (gfn_metric_is_column(m)) {
            bad += i != columns; /* every column before every run statistic */
            columns++;
        }
        bad += (m->ref_label == NULL) != (m->ref_y != m->ref_y); /* a line needs a y */
        if (bad)
            printf("\n  bad metric row %d (%s)\n", i, m->name);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(columns, GFN_N_COLUMNS);
    CU_ASSERT_PTR_NULL(gfn_metric_find("no_such_metric"));
}

/* Each exact row reads its own field: distinct values in, the same values out. */
static void test_exact_sources(void)
{
    gfn_exact_metrics e;
    double *slot = (double *)&e;
    for (size_t k = 0; k < sizeof e / sizeof(double); k++)
        slot[k] = (double)k + 0.5;
    int seen[64] = {0}, bad = 0;
    for (int i = 0; i < GFN_N_METRICS; i++) {
        const gfn_metric_info *m = &gfn_metric_table[i];
        if (m->kind != GFN_METRIC_EXACT)
            continue;
        double v = gfn_metric_exact_value(m, &e);
        int k = (int)v;
        bad += v != (double)m->exact_offset / sizeof(double) + 0.5 || k >= 64 || seen[k]++;
    }
    CU_ASSERT_EQUAL(bad, 0);
}

/* Specs accept exactly the registry's names: every metric in summary:, every
 * column but the axes in curves:. */
static void test_spec_follows(void)
{
    int bad = 0;
    for (int i = 0; i < GFN_N_METRICS; i++) {
        const gfn_metric_info *m = &gfn_metric_table[i];
        bad += !gfn_spec_metric_known(m->name);
        int curve = m->kind != GFN_METRIC_AXIS && m->kind != GFN_METRIC_RUN;
        bad += gfn_spec_curve_known(m->name) != curve;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_FALSE(gfn_spec_metric_known("tvv"));
}

/* `gfnbench list` and `train --help` name every metric. */
static void test_help_follows(void)
{
    char list[4096];
    gfn_metric_list(list, sizeof list, NULL);
    int bad = 0;
    for (int i = 0; i < GFN_N_METRICS; i++)
        bad += strstr(list, gfn_metric_table[i].name) == NULL;
    CU_ASSERT_EQUAL(bad, 0);
    /* Both commands' output, in a temporary file. */
    char path[] = "/tmp/gfn_metric_help_XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    int saved = gfn_test_stdout_to(path);
    char *list_argv[] = {"list", NULL}, *help_argv[] = {"train", "--help", NULL};
    int rc = gfn_cmd_list(1, list_argv) | gfn_cmd_train(2, help_argv);
    gfn_test_stdout_back(saved);
    static char out[65536];
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
    if (f)
        fclose(f);
    unlink(path);
    CU_ASSERT_EQUAL(rc, 0);
    out[n] = 0;
    for (int i = 0; i < GFN_N_METRICS; i++) {
        const char *first = strstr(out, gfn_metric_table[i].name);
        bad += !first || !strstr(first + 1, gfn_metric_table[i].name); /* list and help */
        if (!first)
            printf("\n  %s missing from list/help\n", gfn_metric_table[i].name);
    }
    CU_ASSERT_EQUAL(bad, 0);
}

extern void gfn_test_suite_metric_table(void); /* called by tests/test_main.c */
void gfn_test_suite_metric_table(void)
{
    CU_pSuite s = CU_add_suite("metric_table", NULL, NULL);
    CU_add_test(s, "rows well formed, columns first", test_rows);
    CU_add_test(s, "exact rows read their own field", test_exact_sources);
    CU_add_test(s, "spec summary/curves follow the registry", test_spec_follows);
    CU_add_test(s, "list and train --help name every metric", test_help_follows);
}
