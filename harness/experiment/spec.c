/* spec.c - loads an experiment spec from YAML (libyaml's document API) and
 * checks it, so that every mistake is reported with "file:line:col" before
 * anything is run or written.
 *
 * The loader walks the node tree once; each training key becomes a gfn_params
 * entry whose `where` is the position of its value node, so that the trainer's
 * own checks (unknown key, bad value) also point back at the YAML.
 */
#include "spec.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "fsutil.h"
#include "metric_table.h"
#include "train_keys.h"

int gfn_spec_metric_known(const char *name) { return gfn_metric_find(name) != NULL; }

int gfn_spec_curve_known(const char *name)
{
    const gfn_metric_info *m = gfn_metric_find(name);
    return m && gfn_metric_is_curve(m);
}

static const char *const DEFAULT_SUMMARY[] = {"sampled_mean_reward_pct", "mean_reward_pct", "tv",
                                              "modes_found", "rounds_to_target", NULL};
static const char *const DEFAULT_CURVES[] = {"sampled_mean_reward_pct", "mean_reward_pct",
                                             "ad_score", "tv", "spearman_logp_logr", NULL};

typedef struct {
    const char *path;
    yaml_document_t *doc;
    gfn_error *err;
} loader;

static void node_where(const loader *ld, const yaml_node_t *n, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s:%lu:%lu", ld->path, (unsigned long)n->start_mark.line + 1,
             (unsigned long)n->start_mark.column + 1);
}

/* Sets err to "file:line:col: <message>" at node n and returns code. */
static int fail(const loader *ld, const yaml_node_t *n, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static int fail(const loader *ld, const yaml_node_t *n, int code, const char *fmt, ...)
{
    char where[GFN_PARAM_WHERE_MAX], msg[600];
    node_where(ld, n, where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gfn_error_set(ld->err, code, "%s: %s", where, msg);
}

static const char *kind_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return n->data.scalar.length ? "a scalar" : "an empty value";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a map";
    default:
        return "nothing";
    }
}

static yaml_node_t *node_at(const loader *ld, int index)
{
    return yaml_document_get_node(ld->doc, index);
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* A non-empty scalar, or an error saying what `what` should have been. */
static int need_scalar(const loader *ld, const yaml_node_t *n, const char *what)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.length == 0)
        return fail(ld, n, GFN_EFORMAT, "expected %s, got %s", what, kind_name(n));
    return GFN_OK;
}

static int need_kind(const loader *ld, const yaml_node_t *n, yaml_node_type_t type,
                     const char *what)
{
    if (n->type != type)
        return fail(ld, n, GFN_EFORMAT, "expected %s, got %s", what, kind_name(n));
    return GFN_OK;
}

static int copy_text(const loader *ld, const yaml_node_t *n, char *dst, size_t cap,
                     const char *what)
{
    if (n->data.scalar.length >= cap)
        return fail(ld, n, GFN_EVALUE, "%s too long (at most %zu characters)", what, cap - 1);
    memcpy(dst, scalar(n), n->data.scalar.length + 1);
    return GFN_OK;
}

/* Strict integer: the whole scalar is a base-10 integer. */
static int scalar_long(const loader *ld, const yaml_node_t *n, const char *what, long lo,
                       long *out)
{
    int rc = need_scalar(ld, n, what);
    if (rc)
        return rc;
    char *end;
    errno = 0;
    long v = strtol(scalar(n), &end, 10);
    if (end == scalar(n) || *end != '\0' || errno == ERANGE)
        return fail(ld, n, GFN_EFORMAT, "expected %s, got '%s'", what, scalar(n));
    if (v < lo)
        return fail(ld, n, GFN_EVALUE, "expected %s >= %ld, got %ld", what, lo, v);
    *out = v;
    return GFN_OK;
}

/* Names become folder names, so they are restricted to a portable set. */
static int check_name(const loader *ld, const yaml_node_t *n, char *dst, const char *what)
{
    int rc = need_scalar(ld, n, what);
    if (rc == GFN_OK)
        rc = copy_text(ld, n, dst, GFN_SPEC_NAME_MAX, what);
    if (rc)
        return rc;
    for (const char *c = dst; *c; c++)
        if (!(('a' <= *c && *c <= 'z') || ('A' <= *c && *c <= 'Z') || ('0' <= *c && *c <= '9') ||
              *c == '_' || *c == '-' || *c == '.' || *c == '+') ||
            dst[0] == '.')
            return fail(ld, n, GFN_EVALUE,
                        "expected %s made of letters, digits and _ - . + (not starting with '.'), "
                        "got '%s'",
                        what, dst);
    return GFN_OK;
}

/* Walks a map: calls visit(key, value) for each pair after checking that keys
 * are scalars and unique. */
typedef int (*visit_fn)(const loader *ld, void *ctx, const yaml_node_t *key,
                        const yaml_node_t *val);

/* FNV-1a of a key. */
static size_t key_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

static int walk_map(const loader *ld, const yaml_node_t *map, const char *what, visit_fn visit,
                    void *ctx)
{
    int rc = need_kind(ld, map, YAML_MAPPING_NODE, what);
    if (rc)
        return rc;
    size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start), cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    const yaml_node_t **slot = calloc(cap, sizeof *slot);
    if (!slot)
        return gfn_error_set(ld->err, GFN_ENOMEM, "out of memory reading %s", what);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const yaml_node_t *k = node_at(ld, p->key), *v = node_at(ld, p->value);
        if ((rc = need_scalar(ld, k, "a key (a plain name)")))
            break;
        /* Duplicates by hash: linear in the number of keys. */
        size_t h = key_hash(scalar(k)) & (cap - 1);
        while (slot[h] && strcmp(scalar(slot[h]), scalar(k)) != 0)
            h = (h + 1) & (cap - 1);
        if (slot[h]) {
            char w0[GFN_PARAM_WHERE_MAX];
            node_where(ld, slot[h], w0, sizeof w0);
            rc = fail(ld, k, GFN_EVALUE, "duplicate key '%s' (first given at %s)", scalar(k), w0);
            break;
        }
        slot[h] = k;
        if ((rc = visit(ld, ctx, k, v)))
            break;
    }
    free(slot);
    return rc;
}

/* ---- training-key maps (task parameters, defaults, evaluation, variants) ---- */

typedef struct {
    gfn_params *out;
    const char *section;
    const char *const *reserved; /* keys not allowed here, NULL-terminated */
    const char *reserved_why;
} param_ctx;

static int visit_param(const loader *ld, void *vctx, const yaml_node_t *k, const yaml_node_t *v)
{
    param_ctx *c = vctx;
    for (int i = 0; c->reserved && c->reserved[i]; i++)
        if (strcmp(scalar(k), c->reserved[i]) == 0)
            return fail(ld, k, GFN_EVALUE, "key '%s' is not allowed in %s: %s", scalar(k),
                        c->section, c->reserved_why);
    char what[160];
    snprintf(what, sizeof what, "a single value for '%s' in %s", scalar(k), c->section);
    int rc = need_scalar(ld, v, what);
    if (rc)
        return rc;
    char where[GFN_PARAM_WHERE_MAX];
    node_where(ld, v, where, sizeof where);
    /* A relative path in a spec means relative to the spec's own folder, not to
     * wherever gfnbench is started (config.txt then records the resolved path). */
    char joined[GFN_PARAM_VAL_MAX];
    const char *val = scalar(v);
    const char *slash = strrchr(ld->path, '/');
    if ((strcmp(scalar(k), "file") == 0 || strcmp(scalar(k), "data_dir") == 0) && val[0] &&
        val[0] != '/') {
        /* The spec's folder as an absolute path, so that the value stays right when
         * the configuration is used elsewhere (config.txt, an effective spec). */
        char folder[GFN_PARAM_VAL_MAX], real[PATH_MAX];
        snprintf(folder, sizeof folder, "%.*s", slash ? (int)(slash - ld->path) : 1,
                 slash ? ld->path : ".");
        const char *base = realpath(folder, real) ? real : folder;
        int n = snprintf(joined, sizeof joined, "%s/%s", base, val);
        if (n < 0 || (size_t)n >= sizeof joined)
            return fail(ld, v, GFN_EVALUE, "path '%s' relative to %s is too long", val, ld->path);
        val = joined;
    }
    rc = gfn_params_set(c->out, scalar(k), val, where, ld->err);
    if (rc)
        return fail(ld, k, rc, "%s", ld->err->msg);
    return GFN_OK;
}

static const char *const RESERVED_RUN[] = {"task", "seed", "rounds", NULL};
static const char *const RUN_WHY = "task, seeds and rounds are set at the top level of the spec";

/* ---- task ---- */

typedef struct {
    gfn_spec *s;
    int have_name;
} task_ctx;

static int visit_task(const loader *ld, void *vctx, const yaml_node_t *k, const yaml_node_t *v)
{
    task_ctx *c = vctx;
    if (strcmp(scalar(k), "name") == 0) {
        char name[GFN_SPEC_NAME_MAX];
        int rc = check_name(ld, v, name, "a task name");
        if (rc)
            return rc;
        char where[GFN_PARAM_WHERE_MAX];
        node_where(ld, v, where, sizeof where);
        c->have_name = 1;
        return gfn_params_set(&c->s->task, "task", name, where, ld->err);
    }
    static const char *const reserved[] = {"task", "seed", "rounds", NULL};
    param_ctx pc = {&c->s->task, "task", reserved, RUN_WHY};
    return visit_param(ld, &pc, k, v);
}

static int load_task(const loader *ld, gfn_spec *s, const yaml_node_t *v)
{
    task_ctx c = {s, 0};
    int rc = walk_map(ld, v, "a map with the task's name and its parameters", visit_task, &c);
    if (rc)
        return rc;
    if (!c.have_name)
        return fail(ld, v, GFN_EFORMAT, "missing 'name' in task (expected e.g. name: tfbind8)");
    return GFN_OK;
}

/* ---- seeds, rounds ---- */

static int load_seeds(const loader *ld, gfn_spec *s, const yaml_node_t *v)
{
    int rc = need_kind(ld, v, YAML_SEQUENCE_NODE, "a list of integer seeds, e.g. [0, 1, 2]");
    if (rc)
        return rc;
    int n = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0)
        return fail(ld, v, GFN_EVALUE, "expected at least one seed, got an empty list");
    s->seeds = calloc((size_t)n, sizeof *s->seeds);
    if (!s->seeds)
        return gfn_error_set(ld->err, GFN_ENOMEM, "out of memory reading seeds");
    for (int i = 0; i < n; i++) {
        const yaml_node_t *item = node_at(ld, v->data.sequence.items.start[i]);
        if ((rc = scalar_long(ld, item, "an integer seed", 0, &s->seeds[i])))
            return rc;
        for (int j = 0; j < i; j++)
            if (s->seeds[j] == s->seeds[i])
                return fail(ld, item, GFN_EVALUE, "duplicate seed %ld", s->seeds[i]);
        s->n_seeds = i + 1;
    }
    node_where(ld, v, s->seeds_where, sizeof s->seeds_where);
    return GFN_OK;
}

/* ---- evaluation ---- */

static int visit_eval(const loader *ld, void *vctx, const yaml_node_t *k, const yaml_node_t *v)
{
    gfn_spec *s = vctx;
    /* The key table (harness/run/train_keys.h) says which keys are evaluation
     * settings and checks their values. */
    char what[96], where[GFN_PARAM_WHERE_MAX];
    snprintf(what, sizeof what, "a single value for '%s' in evaluation", scalar(k));
    int rc = need_scalar(ld, v, what);
    if (rc)
        return rc;
    node_where(ld, k, where, sizeof where);
    gfn_error e;
    rc = gfn_train_key_check(scalar(k), "0", "", GFN_KG_EVAL, &e);
    if (rc == GFN_EUNKNOWN)
        return fail(ld, k, rc, "%s in evaluation", e.msg);
    node_where(ld, v, where, sizeof where);
    if ((rc = gfn_train_key_check(scalar(k), scalar(v), where, GFN_KG_EVAL, ld->err)))
        return rc;
    param_ctx pc = {&s->evaluation, "evaluation", NULL, NULL};
    return visit_param(ld, &pc, k, v);
}

/* ---- variants ---- */

typedef struct {
    gfn_spec_variant *v;
    int have_name, have_objective;
} variant_ctx;

static int visit_variant(const loader *ld, void *vctx, const yaml_node_t *k, const yaml_node_t *v)
{
    variant_ctx *c = vctx;
    if (strcmp(scalar(k), "name") == 0) {
        c->have_name = 1;
        return check_name(ld, v, c->v->name, "a variant name");
    }
    if (strcmp(scalar(k), "paper") == 0) {
        int rc = need_scalar(ld, v, "the paper's value as text, e.g. \"98.0 +- 0.2%\"");
        return rc ? rc : copy_text(ld, v, c->v->paper, sizeof c->v->paper, "paper value");
    }
    if (strcmp(scalar(k), "objective") == 0)
        c->have_objective = 1;
    param_ctx pc = {&c->v->overrides, "a variant", RESERVED_RUN, RUN_WHY};
    return visit_param(ld, &pc, k, v);
}

static int load_variants(const loader *ld, gfn_spec *s, const yaml_node_t *v)
{
    int rc = need_kind(ld, v, YAML_SEQUENCE_NODE,
                       "a list of variants, each a map with name and objective");
    if (rc)
        return rc;
    int n = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0)
        return fail(ld, v, GFN_EVALUE, "expected at least one variant, got an empty list");
    s->variants = calloc((size_t)n, sizeof *s->variants);
    if (!s->variants)
        return gfn_error_set(ld->err, GFN_ENOMEM, "out of memory reading variants");
    for (int i = 0; i < n; i++) {
        const yaml_node_t *item = node_at(ld, v->data.sequence.items.start[i]);
        gfn_spec_variant *var = &s->variants[i];
        gfn_params_init(&var->overrides);
        s->n_variants = i + 1;
        node_where(ld, item, var->where, sizeof var->where);
        variant_ctx c = {var, 0, 0};
        rc = walk_map(ld, item, "a variant: a map with name, objective and overrides",
                      visit_variant, &c);
        if (rc)
            return rc;
        if (!c.have_name)
            return fail(ld, item, GFN_EFORMAT, "missing 'name' in variant (expected e.g. name: tb)");
        if (!c.have_objective)
            return fail(ld, item, GFN_EFORMAT,
                        "missing 'objective' in variant '%s' (expected e.g. objective: tb)",
                        var->name);
        for (int j = 0; j < i; j++)
            if (strcmp(s->variants[j].name, var->name) == 0)
                return fail(ld, item, GFN_EVALUE, "duplicate variant name '%s' (first at %s)",
                            var->name, s->variants[j].where);
    }
    return GFN_OK;
}

/* ---- summary metrics and figures ---- */

typedef int (*name_check_fn)(const char *name);

static int load_names(const loader *ld, const yaml_node_t *v, const char *what, name_check_fn ok,
                      const char *known_hint, char (**out)[GFN_SPEC_NAME_MAX], int *n_out)
{
    int rc = need_kind(ld, v, YAML_SEQUENCE_NODE, what);
    if (rc)
        return rc;
    int n = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
    free(*out);
    *out = calloc((size_t)(n ? n : 1), sizeof **out);
    *n_out = 0;
    if (!*out)
        return gfn_error_set(ld->err, GFN_ENOMEM, "out of memory reading %s", what);
    for (int i = 0; i < n; i++) {
        const yaml_node_t *item = node_at(ld, v->data.sequence.items.start[i]);
        if ((rc = need_scalar(ld, item, "a metric name")))
            return rc;
        if (!ok(scalar(item)))
            return fail(ld, item, GFN_EUNKNOWN, "unknown metric '%s' (expected one of %s)",
                        scalar(item), known_hint);
        if ((rc = copy_text(ld, item, (*out)[i], GFN_SPEC_NAME_MAX, "metric name")))
            return rc;
        *n_out = i + 1;
    }
    return GFN_OK;
}

static int set_names(const char *const *names, char (**out)[GFN_SPEC_NAME_MAX], int *n_out)
{
    int n = 0;
    while (names[n])
        n++;
    *out = calloc((size_t)n, sizeof **out);
    if (!*out)
        return GFN_ENOMEM;
    for (int i = 0; i < n; i++)
        snprintf((*out)[i], GFN_SPEC_NAME_MAX, "%s", names[i]);
    *n_out = n;
    return GFN_OK;
}

static int is_x_axis(const char *name)
{
    return strcmp(name, "rounds") == 0 || strcmp(name, "trajectories") == 0;
}

static int visit_figures(const loader *ld, void *vctx, const yaml_node_t *k, const yaml_node_t *v)
{
    gfn_spec *s = vctx;
    const char *key = scalar(k);
    if (strcmp(key, "curves") == 0) {
        char hint[2048];
        gfn_metric_list(hint, sizeof hint, gfn_metric_is_curve);
        return load_names(ld, v, "a list of metrics.tsv columns to draw", gfn_spec_curve_known,
                          hint, &s->curves, &s->n_curves);
    }
    if (strcmp(key, "x") == 0) {
        char(*axes)[GFN_SPEC_NAME_MAX] = NULL;
        int n = 0;
        int rc = load_names(ld, v, "a list of x axes: [rounds, trajectories]", is_x_axis,
                            "rounds, trajectories", &axes, &n);
        s->x_rounds = s->x_trajectories = 0;
        for (int i = 0; i < n; i++) {
            s->x_rounds |= strcmp(axes[i], "rounds") == 0;
            s->x_trajectories |= strcmp(axes[i], "trajectories") == 0;
        }
        free(axes);
        if (rc == GFN_OK && n == 0)
            return fail(ld, v, GFN_EVALUE, "expected at least one x axis (rounds, trajectories)");
        return rc;
    }
    if (strcmp(key, "scatter") == 0) {
        int rc = need_scalar(ld, v, "true or false");
        if (rc)
            return rc;
        if (strcasecmp(scalar(v), "true") == 0 || strcasecmp(scalar(v), "yes") == 0)
            s->scatter = 1;
        else if (strcasecmp(scalar(v), "false") == 0 || strcasecmp(scalar(v), "no") == 0)
            s->scatter = 0;
        else
            return fail(ld, v, GFN_EFORMAT, "expected true or false, got '%s'", scalar(v));
        return GFN_OK;
    }
    return fail(ld, k, GFN_EUNKNOWN, "unknown key '%s' in figures (expected curves, x, scatter)",
                key);
}

/* ---- top level ---- */

enum { F_NAME, F_DESC, F_TASK, F_SEEDS, F_ROUNDS, F_DEFAULTS, F_EVAL, F_VARIANTS, F_SUMMARY,
       F_FIGURES, F_COUNT };
static const char *const TOP_KEYS[F_COUNT] = {"name",     "description", "task",   "seeds",
                                              "rounds",   "defaults",    "evaluation",
                                              "variants", "summary",     "figures"};

typedef struct {
    gfn_spec *s;
    int seen[F_COUNT];
} top_ctx;

static int metric_known_fn(const char *name)
{
    return gfn_spec_metric_known(name);
}

static int visit_top(const loader *ld, void *vctx, const yaml_node_t *k, const yaml_node_t *v)
{
    top_ctx *c = vctx;
    gfn_spec *s = c->s;
    int f = 0;
    while (f < F_COUNT && strcmp(scalar(k), TOP_KEYS[f]) != 0)
        f++;
    if (f == F_COUNT)
        return fail(ld, k, GFN_EUNKNOWN,
                    "unknown key '%s' (expected name, description, task, seeds, rounds, "
                    "defaults, evaluation, variants, summary, figures)",
                    scalar(k));
    c->seen[f] = 1;
    int rc;
    switch (f) {
    case F_NAME:
        return check_name(ld, v, s->name, "an experiment name");
    case F_DESC:
        rc = need_scalar(ld, v, "a one-line description");
        return rc ? rc : copy_text(ld, v, s->description, sizeof s->description, "description");
    case F_TASK:
        return load_task(ld, s, v);
    case F_SEEDS:
        return load_seeds(ld, s, v);
    case F_ROUNDS:
        node_where(ld, v, s->rounds_where, sizeof s->rounds_where);
        return scalar_long(ld, v, "a number of rounds", 1, &s->rounds);
    case F_DEFAULTS: {
        param_ctx pc = {&s->defaults, "defaults", RESERVED_RUN, RUN_WHY};
        return walk_map(ld, v, "a map of training keys", visit_param, &pc);
    }
    case F_EVAL:
        return walk_map(ld, v, "a map of evaluation settings", visit_eval, s);
    case F_VARIANTS:
        return load_variants(ld, s, v);
    case F_SUMMARY: {
        char hint[2048];
        gfn_metric_list(hint, sizeof hint, NULL);
        rc = load_names(ld, v, "a list of metric names", metric_known_fn, hint, &s->metrics,
                        &s->n_metrics);
        if (rc == GFN_OK && s->n_metrics == 0)
            return fail(ld, v, GFN_EVALUE, "expected at least one metric in summary");
        return rc;
    }
    case F_FIGURES:
        return walk_map(ld, v, "a map with curves, x and scatter", visit_figures, s);
    }
    return GFN_OK;
}

static int load_root(const loader *ld, gfn_spec *s, const yaml_node_t *root)
{
    top_ctx c;
    memset(&c, 0, sizeof c);
    c.s = s;
    int rc = walk_map(ld, root, "a map with name, task, seeds, rounds and variants", visit_top, &c);
    if (rc)
        return rc;
    static const int required[] = {F_NAME, F_TASK, F_SEEDS, F_ROUNDS, F_VARIANTS};
    static const char *const expected[] = {"an experiment name", "a task map with a name",
                                           "a list of seeds", "a number of rounds",
                                           "a list of variants"};
    for (int i = 0; i < 5; i++)
        if (!c.seen[required[i]])
            return fail(ld, root, GFN_EFORMAT, "missing '%s' (expected %s)",
                        TOP_KEYS[required[i]], expected[i]);
    return GFN_OK;
}

static int set_defaults(gfn_spec *s)
{
    int rc = GFN_OK;
    if (!s->metrics)
        rc = set_names(DEFAULT_SUMMARY, &s->metrics, &s->n_metrics);
    if (rc == GFN_OK && !s->curves)
        rc = set_names(DEFAULT_CURVES, &s->curves, &s->n_curves);
    return rc;
}

/* Deepest nesting a spec may have.  The shipped specs need 4; libyaml's cost
 * grows with the square of the depth, so the text is scanned for it first. */
enum { SPEC_DEPTH_MAX = 64, SPEC_BYTES_MAX = 64 << 20 };

/* A cheap scan of the raw text: flow brackets ([ {) and block items ("- " or
 * "key:" repeated on one line, or indentation) deeper than SPEC_DEPTH_MAX are an
 * error at their line and column.  Quoted scalars and comments are skipped. */
static int check_depth(const char *path, const char *text, size_t len, gfn_error *err)
{
    int flow = 0, line = 1, col = 1, items = 0, at_start = 1, indent = 0;
    char quote = 0;
    for (size_t i = 0; i < len; i++, col++) {
        char c = text[i];
        if (c == '\n') {
            line++;
            col = 0;
            items = 0;
            at_start = 1;
            indent = 0;
            continue;
        }
        if (quote) {
            if (c == quote && !(quote == '"' && i > 0 && text[i - 1] == '\\'))
                quote = 0;
            continue;
        }
        if (at_start && c == ' ') {
            if (++indent > 4 * SPEC_DEPTH_MAX)
                return gfn_error_set(err, GFN_EFORMAT, "%s:%d:%d: indented more than %d "
                                     "columns (nesting deeper than %d levels is refused)",
                                     path, line, col, 4 * SPEC_DEPTH_MAX, SPEC_DEPTH_MAX);
            continue;
        }
        if (c == '#' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t' || at_start)) {
            while (i + 1 < len && text[i + 1] != '\n')
                i++;
            continue;
        }
        at_start = 0;
        if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '[' || c == '{') {
            flow++;
        } else if ((c == ']' || c == '}') && flow > 0) {
            flow--;
        } else if ((c == '-' || c == '?' || c == ':') && i + 1 < len &&
                   (text[i + 1] == ' ' || text[i + 1] == '\n')) {
            items++;
        }
        if (flow > SPEC_DEPTH_MAX || items > SPEC_DEPTH_MAX)
            return gfn_error_set(err, GFN_EFORMAT, "%s:%d:%d: nested deeper than %d levels "
                                 "(an experiment spec needs 4)", path, line, col, SPEC_DEPTH_MAX);
    }
    return GFN_OK;
}

static int parse_file(const char *path, FILE *f, gfn_spec *s, gfn_error *err)
{
    (void)f;
    char *text = NULL;
    size_t len = 0;
    int rc = gfn_fs_read_all(path, &text, &len, err);
    if (rc)
        return rc;
    if (len > SPEC_BYTES_MAX)
        rc = gfn_error_set(err, GFN_EFORMAT, "%s: %zu bytes; an experiment spec may have at most "
                           "%d MiB", path, len, SPEC_BYTES_MAX >> 20);
    if (rc == GFN_OK)
        rc = check_depth(path, text, len, err);
    if (rc) {
        free(text);
        return rc;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        free(text);
        return gfn_error_set(err, GFN_ENOMEM, "cannot initialise the YAML parser");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = gfn_error_set(err, GFN_EFORMAT, "%s:%lu:%lu: YAML syntax error: %s%s%s", path,
                           (unsigned long)parser.problem_mark.line + 1,
                           (unsigned long)parser.problem_mark.column + 1,
                           parser.problem ? parser.problem : "unknown problem",
                           parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        free(text);
        return rc;
    }
    loader ld = {path, &doc, err};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root)
        rc = gfn_error_set(err, GFN_EFORMAT,
                           "%s:1:1: empty file (expected a map with name, task, seeds, rounds "
                           "and variants)",
                           path);
    else
        rc = load_root(&ld, s, root);
    yaml_document_delete(&doc);
    /* A second document ("---" and more) would be ignored: refuse it. */
    if (rc == GFN_OK) {
        yaml_document_t next;
        if (!yaml_parser_load(&parser, &next)) {
            rc = gfn_error_set(err, GFN_EFORMAT, "%s:%lu:%lu: YAML syntax error: %s", path,
                               (unsigned long)parser.problem_mark.line + 1,
                               (unsigned long)parser.problem_mark.column + 1,
                               parser.problem ? parser.problem : "unknown problem");
        } else {
            yaml_node_t *r2 = yaml_document_get_root_node(&next);
            if (r2)
                rc = gfn_error_set(err, GFN_EFORMAT, "%s:%lu:%lu: a second YAML document "
                                   "(a spec is one document; start another file instead)",
                                   path, (unsigned long)r2->start_mark.line + 1,
                                   (unsigned long)r2->start_mark.column + 1);
            yaml_document_delete(&next);
        }
    }
    yaml_parser_delete(&parser);
    free(text);
    return rc;
}

gfn_spec *gfn_spec_load(const char *path, gfn_error *err)
{
    gfn_error local; /* the loader reads messages back, so it needs a record */
    if (!err)
        err = &local;
    gfn_spec *s = calloc(1, sizeof *s);
    if (!s) {
        gfn_error_set(err, GFN_ENOMEM, "out of memory loading %s", path);
        return NULL;
    }
    gfn_params_init(&s->task);
    gfn_params_init(&s->defaults);
    gfn_params_init(&s->evaluation);
    s->x_rounds = s->x_trajectories = 1;
    s->scatter = 1;
    snprintf(s->path, sizeof s->path, "%s", path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        gfn_error_set(err, GFN_EIO, "cannot read experiment spec '%s': %s", path, strerror(errno));
        gfn_spec_free(s);
        return NULL;
    }
    int rc = parse_file(path, f, s, err);
    fclose(f);
    if (rc == GFN_OK && set_defaults(s) != GFN_OK)
        rc = gfn_error_set(err, GFN_ENOMEM, "out of memory loading %s", path);
    if (rc) {
        gfn_spec_free(s);
        return NULL;
    }
    return s;
}

void gfn_spec_free(gfn_spec *s)
{
    if (!s)
        return;
    gfn_params_close(&s->task);
    gfn_params_close(&s->defaults);
    gfn_params_close(&s->evaluation);
    for (int i = 0; i < s->n_variants; i++)
        gfn_params_close(&s->variants[i].overrides);
    free(s->variants);
    free(s->seeds);
    free(s->metrics);
    free(s->curves);
    free(s);
}

int gfn_spec_find_variant(const gfn_spec *s, const char *name)
{
    for (int i = 0; i < s->n_variants; i++)
        if (strcmp(s->variants[i].name, name) == 0)
            return i;
    return -1;
}

static int variant_matches(const gfn_spec *s, int v, const char *pattern)
{
    if (fnmatch(pattern, s->variants[v].name, 0) == 0)
        return 1;
    for (int k = 0; k < s->n_seeds; k++) {
        char label[2 * GFN_SPEC_NAME_MAX + 32];
        snprintf(label, sizeof label, "%s/seed%ld", s->variants[v].name, s->seeds[k]);
        if (fnmatch(pattern, label, 0) == 0)
            return 1;
    }
    return 0;
}

int gfn_spec_select(gfn_spec *s, const char *pattern, gfn_error *err)
{
    int kept = 0;
    for (int v = 0; v < s->n_variants; v++)
        kept += variant_matches(s, v, pattern);
    if (kept == 0)
        return gfn_error_set(err, GFN_EUSAGE, "--only '%s' matches no variant of %s (variants "
                             "are %s ... %s)", pattern, s->name, s->variants[0].name,
                             s->variants[s->n_variants - 1].name);
    int n = 0;
    for (int v = 0; v < s->n_variants; v++) {
        if (variant_matches(s, v, pattern))
            s->variants[n++] = s->variants[v];
        else
            gfn_params_close(&s->variants[v].overrides);
    }
    s->n_variants = n;
    return GFN_OK;
}

int gfn_spec_run_config(const gfn_spec *s, int variant, int seed_index, gfn_params *out,
                        gfn_error *err)
{
    GFN_ASSERT(variant >= 0 && variant < s->n_variants);
    GFN_ASSERT(seed_index >= 0 && seed_index < s->n_seeds);
    gfn_params_close(out);
    char num[32];
    int rc = gfn_params_merge(out, &s->task, err);
    if (rc == GFN_OK)
        rc = gfn_params_merge(out, &s->defaults, err);
    if (rc == GFN_OK)
        rc = gfn_params_merge(out, &s->evaluation, err);
    if (rc == GFN_OK)
        rc = gfn_params_merge(out, &s->variants[variant].overrides, err);
    if (rc == GFN_OK) {
        snprintf(num, sizeof num, "%ld", s->seeds[seed_index]);
        rc = gfn_params_set(out, "seed", num, s->seeds_where, err);
    }
    if (rc == GFN_OK) {
        snprintf(num, sizeof num, "%ld", s->rounds);
        rc = gfn_params_set(out, "rounds", num, s->rounds_where, err);
    }
    return rc;
}

/* ---- command-line overrides and sweeps ---- */

/* A name-safe copy of text: characters outside [A-Za-z0-9_.+-] become '_'. */
static void name_safe(const char *text, char *out, size_t cap)
{
    size_t k = 0;
    for (const char *c = text; *c && k + 1 < cap; c++)
        out[k++] = (isalnum((unsigned char)*c) || strchr("_.+-", *c)) ? *c : '_';
    out[k] = 0;
}

static int parse_seed_list(gfn_spec *s, const char *val, const char *arg, gfn_error *err)
{
    long *seeds = calloc(strlen(val) / 2 + 2, sizeof *seeds);
    if (!seeds)
        return gfn_error_set(err, GFN_ENOMEM, "out of memory reading %s", arg);
    int n = 0;
    char buf[GFN_PARAM_VAL_MAX], *save = NULL;
    snprintf(buf, sizeof buf, "%s", val);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int64_t v;
        if (gfn_parse_i64(t, 0, 4294967295LL, &v) != GFN_OK) {
            free(seeds);
            return gfn_error_set(err, GFN_EUSAGE, "command line '%s': expected seeds as "
                                 "integers in [0, 4294967295] separated by commas, got '%s'",
                                 arg, t);
        }
        for (int j = 0; j < n; j++)
            if (seeds[j] == v) {
                free(seeds);
                return gfn_error_set(err, GFN_EUSAGE, "command line '%s': seed %lld twice",
                                     arg, (long long)v);
            }
        seeds[n++] = (long)v;
    }
    if (n == 0) {
        free(seeds);
        return gfn_error_set(err, GFN_EUSAGE, "command line '%s': expected at least one seed",
                             arg);
    }
    free(s->seeds);
    s->seeds = seeds;
    s->n_seeds = n;
    snprintf(s->seeds_where, sizeof s->seeds_where, "command line '%s'", arg);
    return GFN_OK;
}

/* Adds the variants of one sweep key: every existing variant times every value. */
static int sweep(gfn_spec *s, const char *key, const char *values, const char *arg,
                 gfn_error *err)
{
    char buf[GFN_PARAM_VAL_MAX], *save = NULL;
    snprintf(buf, sizeof buf, "%s", values);
    int n_vals = 0;
    char *vals[64];
    for (char *t = strtok_r(buf, ",", &save); t && n_vals < 64; t = strtok_r(NULL, ",", &save))
        vals[n_vals++] = t;
    if (n_vals == 0 || strtok_r(NULL, ",", &save))
        return gfn_error_set(err, GFN_EUSAGE, "command line '%s': expected 1 to 64 values "
                             "separated by commas", arg);
    int n_new = s->n_variants * n_vals;
    gfn_spec_variant *nv = calloc((size_t)n_new, sizeof *nv);
    if (!nv)
        return gfn_error_set(err, GFN_ENOMEM, "out of memory for the sweep %s", arg);
    int rc = GFN_OK, k = 0;
    for (int v = 0; v < s->n_variants && rc == GFN_OK; v++)
        for (int j = 0; j < n_vals && rc == GFN_OK; j++, k++) {
            gfn_spec_variant *d = &nv[k];
            *d = s->variants[v];
            gfn_params_init(&d->overrides);
            rc = gfn_params_copy(&d->overrides, &s->variants[v].overrides);
            if (rc == GFN_OK)
                rc = gfn_params_set(&d->overrides, key, vals[j], "command line", err);
            char safe[GFN_PARAM_VAL_MAX];
            name_safe(vals[j], safe, sizeof safe);
            if (n_vals > 1 && rc == GFN_OK) {
                int len = snprintf(d->name, sizeof d->name, "%s_%s%s", s->variants[v].name, key,
                                   safe);
                if (len < 0 || (size_t)len >= sizeof d->name)
                    rc = gfn_error_set(err, GFN_EUSAGE, "command line '%s': variant name "
                                       "'%s_%s%s' longer than %d characters", arg,
                                       s->variants[v].name, key, safe, GFN_SPEC_NAME_MAX - 1);
            }
        }
    if (rc) {
        for (int i = 0; i < k; i++)
            gfn_params_close(&nv[i].overrides);
        free(nv);
        return rc;
    }
    for (int v = 0; v < s->n_variants; v++)
        gfn_params_close(&s->variants[v].overrides);
    free(s->variants);
    s->variants = nv;
    s->n_variants = n_new;
    return GFN_OK;
}

int gfn_spec_override(gfn_spec *s, int argc, char **argv, gfn_error *err)
{
    gfn_strbuf note;
    gfn_strbuf_init(&note);
    int rc = GFN_OK;
    for (int i = 0; i < argc && rc == GFN_OK; i++) {
        const char *arg = argv[i], *eq = strchr(arg, '=');
        if (!eq || eq == arg || !eq[1]) {
            rc = gfn_error_set(err, GFN_EUSAGE, "command line '%s': expected key=value, "
                               "VARIANT.key=value or key=v1,v2 (a sweep)", arg);
            break;
        }
        for (int j = 0; j < i; j++) {
            const char *e2 = strchr(argv[j], '=');
            if (e2 && e2 - argv[j] == eq - arg && strncmp(argv[j], arg, (size_t)(eq - arg)) == 0)
                rc = gfn_error_set(err, GFN_EUSAGE, "command line: key '%.*s' given twice "
                                   "('%s', then '%s')", (int)(eq - arg), arg, argv[j], arg);
        }
        if (rc)
            break;
        char key[GFN_PARAM_KEY_MAX + GFN_SPEC_NAME_MAX];
        snprintf(key, sizeof key, "%.*s", (int)(eq - arg), arg);
        const char *val = eq + 1, *dot = strchr(key, '.');
        gfn_strbuf_printf(&note, "%s%s", note.len ? " " : "", arg);
        if (strcmp(key, "rounds") == 0) {
            int64_t r;
            if (gfn_parse_i64(val, 1, 1000000000000LL, &r) != GFN_OK)
                rc = gfn_error_set(err, GFN_EUSAGE, "command line '%s': expected an integer "
                                   "number of rounds in [1, 1000000000000]", arg);
            else {
                s->rounds = (long)r;
                snprintf(s->rounds_where, sizeof s->rounds_where, "command line '%s'", arg);
            }
        } else if (strcmp(key, "seeds") == 0 || strcmp(key, "seed") == 0) {
            rc = parse_seed_list(s, val, arg, err);
        } else if (strcmp(key, "name") == 0) {
            char safe[GFN_SPEC_NAME_MAX];
            name_safe(val, safe, sizeof safe);
            if (strcmp(safe, val) != 0 || val[0] == '.' || strlen(val) >= GFN_SPEC_NAME_MAX)
                rc = gfn_error_set(err, GFN_EUSAGE, "command line '%s': expected a name made of "
                                   "letters, digits and _ - . +", arg);
            else
                snprintf(s->name, sizeof s->name, "%s", val);
        } else if (strcmp(key, "task") == 0) {
            rc = gfn_error_set(err, GFN_EUSAGE, "command line '%s': the task is the spec's "
                               "(write another spec for another task)", arg);
        } else if (dot) {
            *(char *)dot = '\0';
            int v = gfn_spec_find_variant(s, key);
            if (v < 0)
                rc = gfn_error_set(err, GFN_EUNKNOWN, "command line '%s': no variant '%s' in %s",
                                   arg, key, s->path);
            else if (strchr(val, ','))
                rc = gfn_error_set(err, GFN_EUSAGE, "command line '%s': sweeps apply to every "
                                   "variant (drop '%s.')", arg, key);
            else
                rc = gfn_params_set(&s->variants[v].overrides, dot + 1, val, "command line", err);
        } else if (strchr(val, ',')) {
            rc = sweep(s, key, val, arg, err);
        } else {
            for (int v = 0; v < s->n_variants && rc == GFN_OK; v++)
                rc = gfn_params_set(&s->variants[v].overrides, key, val, "command line", err);
        }
    }
    for (int v = 0; v < s->n_variants && rc == GFN_OK; v++)
        for (int w = 0; w < v && rc == GFN_OK; w++)
            if (strcmp(s->variants[v].name, s->variants[w].name) == 0)
                rc = gfn_error_set(err, GFN_EUSAGE, "command line: the sweep makes two "
                                   "variants named '%s' (values that differ only in "
                                   "characters outside A-Za-z0-9_.+-)", s->variants[v].name);
    if (rc == GFN_OK && note.len) {
        size_t len = strlen(s->description);
        snprintf(s->description + len, sizeof s->description - len, "%sOverrides: %s.",
                 len ? " " : "", note.data);
    }
    gfn_strbuf_close(&note);
    return rc;
}

/* YAML scalar: plain when safe, else double-quoted with escapes. */
static void yaml_scalar(gfn_strbuf *b, const char *v)
{
    int plain = v[0] != '\0';
    for (const char *c = v; *c && plain; c++)
        plain = isalnum((unsigned char)*c) || strchr("_.+-/", *c);
    if (plain) {
        gfn_strbuf_printf(b, "%s", v);
        return;
    }
    gfn_strbuf_printf(b, "\"");
    for (const char *c = v; *c; c++) {
        if (*c == '"' || *c == '\\')
            gfn_strbuf_printf(b, "\\%c", *c);
        else if ((unsigned char)*c < 0x20)
            gfn_strbuf_printf(b, "\\x%02x", (unsigned char)*c);
        else
            gfn_strbuf_printf(b, "%c", *c);
    }
    gfn_strbuf_printf(b, "\"");
}

static void yaml_map(gfn_strbuf *b, const gfn_params *p, int skip_first)
{
    gfn_strbuf_printf(b, "{");
    for (int i = skip_first; i < p->n; i++) {
        gfn_strbuf_printf(b, "%s%s: ", i > skip_first ? ", " : "", p->items[i].key);
        yaml_scalar(b, p->items[i].val);
    }
    gfn_strbuf_printf(b, "}");
}

int gfn_spec_write_yaml(const gfn_spec *s, const char *path, gfn_error *err)
{
    gfn_strbuf b;
    gfn_strbuf_init(&b);
    gfn_strbuf_printf(&b, "# The effective spec of this experiment: %s with its command-line "
                          "overrides.\nname: %s\ndescription: ", s->path, s->name);
    yaml_scalar(&b, s->description);
    const gfn_param *t = gfn_params_find(&s->task, "task");
    gfn_strbuf_printf(&b, "\ntask: {name: %s", t ? t->val : "?");
    for (int i = 0; i < s->task.n; i++)
        if (strcmp(s->task.items[i].key, "task") != 0) {
            gfn_strbuf_printf(&b, ", %s: ", s->task.items[i].key);
            yaml_scalar(&b, s->task.items[i].val);
        }
    gfn_strbuf_printf(&b, "}\nseeds: [");
    for (int k = 0; k < s->n_seeds; k++)
        gfn_strbuf_printf(&b, "%s%ld", k ? ", " : "", s->seeds[k]);
    gfn_strbuf_printf(&b, "]\nrounds: %ld\n", s->rounds);
    if (s->defaults.n) {
        gfn_strbuf_printf(&b, "defaults: ");
        yaml_map(&b, &s->defaults, 0);
        gfn_strbuf_printf(&b, "\n");
    }
    if (s->evaluation.n) {
        gfn_strbuf_printf(&b, "evaluation: ");
        yaml_map(&b, &s->evaluation, 0);
        gfn_strbuf_printf(&b, "\n");
    }
    gfn_strbuf_printf(&b, "variants:\n");
    for (int v = 0; v < s->n_variants; v++) {
        gfn_strbuf_printf(&b, "  - {name: %s", s->variants[v].name);
        for (int i = 0; i < s->variants[v].overrides.n; i++) {
            gfn_strbuf_printf(&b, ", %s: ", s->variants[v].overrides.items[i].key);
            yaml_scalar(&b, s->variants[v].overrides.items[i].val);
        }
        if (s->variants[v].paper[0]) {
            gfn_strbuf_printf(&b, ", paper: ");
            yaml_scalar(&b, s->variants[v].paper);
        }
        gfn_strbuf_printf(&b, "}\n");
    }
    gfn_strbuf_printf(&b, "summary: [");
    for (int m = 0; m < s->n_metrics; m++)
        gfn_strbuf_printf(&b, "%s%s", m ? ", " : "", s->metrics[m]);
    gfn_strbuf_printf(&b, "]\nfigures:\n  curves: [");
    for (int m = 0; m < s->n_curves; m++)
        gfn_strbuf_printf(&b, "%s%s", m ? ", " : "", s->curves[m]);
    gfn_strbuf_printf(&b, "]\n  x: [%s%s%s]\n  scatter: %s\n", s->x_rounds ? "rounds" : "",
                      s->x_rounds && s->x_trajectories ? ", " : "",
                      s->x_trajectories ? "trajectories" : "", s->scatter ? "true" : "false");
    int rc = gfn_strbuf_write(&b, path, err);
    gfn_strbuf_close(&b);
    return rc;
}
