/* metric_table.c - the metric registry's rows (metric_table.h). */
#include "metric_table.h"

#include <stdio.h>
#include <string.h>

const gfn_metric_info gfn_metric_table[GFN_N_METRICS] = {
#define GFN_M_ROW(id, name, kind, fmt, src, title, ylabel, ref_label, ref_y) \
    {GFN_M_##id, name, kind, fmt, src, title, ylabel, ref_label, ref_y},
    GFN_METRICS(GFN_M_ROW)
#undef GFN_M_ROW
};

/* The run statistics come after every column, so that GFN_M_<ID> of a column is
 * its index in metrics.tsv. */
#define GFN_M_CHECK(id, name, kind, ...) \
    _Static_assert(((int)kind == (int)GFN_METRIC_RUN) == ((int)GFN_M_##id >= (int)GFN_N_COLUMNS), \
                   "metric " name ": run statistics go last in GFN_METRICS");
GFN_METRICS(GFN_M_CHECK)
#undef GFN_M_CHECK

const gfn_metric_info *gfn_metric_find(const char *name)
{
    for (int i = 0; i < GFN_N_METRICS; i++)
        if (strcmp(gfn_metric_table[i].name, name) == 0)
            return &gfn_metric_table[i];
    return NULL;
}

int gfn_metric_is_column(const gfn_metric_info *m) { return m->kind != GFN_METRIC_RUN; }

int gfn_metric_is_curve(const gfn_metric_info *m)
{
    return m->kind != GFN_METRIC_RUN && m->kind != GFN_METRIC_AXIS;
}

void gfn_metric_list(char *buf, size_t cap, int (*keep)(const gfn_metric_info *m))
{
    size_t len = 0;
    if (cap)
        buf[0] = 0;
    for (int i = 0; i < GFN_N_METRICS && len < cap; i++) {
        if (keep && !keep(&gfn_metric_table[i]))
            continue;
        int n = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", gfn_metric_table[i].name);
        len += n > 0 ? (size_t)n : 0;
    }
}

double gfn_metric_exact_value(const gfn_metric_info *m, const gfn_exact_metrics *e)
{
    double v;
    memcpy(&v, (const char *)e + m->exact_offset, sizeof v);
    return v;
}
