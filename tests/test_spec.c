/* test_spec.c - experiment specs: a full valid example, and every error path
 * (syntax, unknown key, wrong type, missing field, impossible value, duplicate)
 * names file:line:col. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glob.h>

#include "fsutil.h"
#include "spec.h"
#include "train.h"

static char tmp_dir[64];

static const char *write_spec(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static const char FULL[] =
    "# a full example\n"
    "name: demo\n"
    "description: every field once\n"
    "task:\n"
    "  name: hypergrid\n"
    "  dim: 2\n"
    "  side: 8\n"
    "seeds: [0, 1, 2]\n"
    "rounds: 300\n"
    "defaults:\n"
    "  lr_policy: 1e-3\n"
    "  batch: 16\n"
    "evaluation: {exact_every: 50, sample_every: 10, sample_size: 128, window: 100}\n"
    "variants:\n"
    "  - name: tb\n"
    "    objective: tb\n"
    "    paper: \"98.0 +- 0.2%\"\n"
    "  - {name: tb+prt, objective: tb, replay: prt, lr_policy: 5e-4}\n"
    "summary: [mean_reward_pct, rounds_to_target]\n"
    "figures:\n"
    "  curves: [tv, ad_score]\n"
    "  x: [trajectories]\n"
    "  scatter: false\n";

static void test_full_example(void)
{
    gfn_error err;
    const char *path = write_spec("full.yaml", FULL);
    gfn_spec *s = gfn_spec_load(path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_STRING_EQUAL(s->name, "demo");
    CU_ASSERT_STRING_EQUAL(s->description, "every field once");
    CU_ASSERT_EQUAL(s->n_seeds, 3);
    CU_ASSERT_EQUAL(s->seeds[2], 2);
    CU_ASSERT_EQUAL(s->rounds, 300);
    CU_ASSERT_EQUAL(s->n_variants, 2);
    CU_ASSERT_STRING_EQUAL(s->variants[1].name, "tb+prt");
    CU_ASSERT_STRING_EQUAL(s->variants[0].paper, "98.0 +- 0.2%");
    CU_ASSERT_EQUAL(s->n_metrics, 2);
    CU_ASSERT_STRING_EQUAL(s->metrics[1], "rounds_to_target");
    CU_ASSERT_EQUAL(s->n_curves, 2);
    CU_ASSERT_EQUAL(s->x_rounds, 0);
    CU_ASSERT_EQUAL(s->x_trajectories, 1);
    CU_ASSERT_EQUAL(s->scatter, 0);
    CU_ASSERT_EQUAL(gfn_spec_find_variant(s, "tb+prt"), 1);
    CU_ASSERT_EQUAL(gfn_spec_find_variant(s, "nope"), -1);

    gfn_params cfg;
    gfn_params_init(&cfg);
    CU_ASSERT_EQUAL_FATAL(gfn_spec_run_config(s, 1, 2, &cfg, &err), GFN_OK);
    const gfn_param *e = gfn_params_find(&cfg, "task");
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_STRING_EQUAL(e->val, "hypergrid");
    e = gfn_params_find(&cfg, "lr_policy"); /* the variant's override wins */
    CU_ASSERT_STRING_EQUAL(e->val, "5e-4");
    char where[300];
    snprintf(where, sizeof where, "%s:18:59", path);
    CU_ASSERT_STRING_EQUAL(e->where, where);
    e = gfn_params_find(&cfg, "side");
    snprintf(where, sizeof where, "%s:7:9", path);
    CU_ASSERT_STRING_EQUAL(e->where, where);
    CU_ASSERT_STRING_EQUAL(gfn_params_find(&cfg, "batch")->val, "16");
    CU_ASSERT_STRING_EQUAL(gfn_params_find(&cfg, "window")->val, "100");
    CU_ASSERT_STRING_EQUAL(gfn_params_find(&cfg, "replay")->val, "prt");
    CU_ASSERT_STRING_EQUAL(gfn_params_find(&cfg, "objective")->val, "tb");
    CU_ASSERT_STRING_EQUAL(gfn_params_find(&cfg, "seed")->val, "2");
    CU_ASSERT_STRING_EQUAL(gfn_params_find(&cfg, "rounds")->val, "300");
    CU_ASSERT_EQUAL(cfg.n, 13);
    /* The first variant has no replay key: defaults only. */
    CU_ASSERT_EQUAL(gfn_spec_run_config(s, 0, 0, &cfg, &err), GFN_OK);
    CU_ASSERT_FALSE(gfn_params_has(&cfg, "replay"));
    CU_ASSERT_STRING_EQUAL(gfn_params_find(&cfg, "lr_policy")->val, "1e-3");
    gfn_params_close(&cfg);
    gfn_spec_free(s);
}

static void test_defaults_when_omitted(void)
{
    gfn_error err;
    const char *path = write_spec("min.yaml", "name: m\ntask: {name: bag}\nseeds: [7]\n"
                                              "rounds: 1\nvariants: [{name: a, objective: tb}]\n");
    gfn_spec *s = gfn_spec_load(path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT(s->n_metrics >= 3);
    CU_ASSERT(s->n_curves >= 3);
    CU_ASSERT_EQUAL(s->x_rounds, 1);
    CU_ASSERT_EQUAL(s->x_trajectories, 1);
    CU_ASSERT_EQUAL(s->scatter, 1);
    gfn_spec_free(s);
}

/* Loads text and checks that the error has the code, "file:line:col" and a phrase. */
static void expect_error(const char *text, int code, int line, int col, const char *phrase)
{
    gfn_error err;
    gfn_error_clear(&err);
    const char *path = write_spec("bad.yaml", text);
    gfn_spec *s = gfn_spec_load(path, &err);
    CU_ASSERT_PTR_NULL(s);
    gfn_spec_free(s);
    char where[300];
    snprintf(where, sizeof where, "%s:%d:%d: ", path, line, col);
    int ok = err.code == code && strncmp(err.msg, where, strlen(where)) == 0 &&
             strstr(err.msg, phrase) != NULL;
    if (!ok)
        fprintf(stderr, "\n  expected code %d at %s containing '%s'\n  got code %d: %s\n", code,
                where, phrase, err.code, err.msg);
    CU_ASSERT(ok);
}

#define HEAD "name: e\ntask: {name: bag}\nseeds: [0, 1]\nrounds: 10\n"
#define VARS "variants:\n  - {name: tb, objective: tb}\n"

static void test_errors_name_position(void)
{
    /* syntax */
    expect_error(HEAD "variants: [{name: tb, objective: tb}\n", GFN_EFORMAT, 6, 1,
                 "YAML syntax error");
    expect_error("name: a\n  bad: indent\n", GFN_EFORMAT, 2, 6, "YAML syntax error");
    expect_error("", GFN_EFORMAT, 1, 1, "empty file");
    /* unknown keys */
    expect_error(HEAD VARS "nmae: x\n", GFN_EUNKNOWN, 7, 1, "unknown key 'nmae'");
    expect_error(HEAD VARS "evaluation: {windw: 3}\n", GFN_EUNKNOWN, 7, 14, "unknown key 'windw'");
    /* one document only; nesting deeper than 64 levels refused before libyaml */
    expect_error(HEAD VARS "---\nname: f\n", GFN_EFORMAT, 8, 1, "a second YAML document");
    {
        char deep[400] = HEAD VARS "defaults: ";
        size_t at = strlen(deep);
        for (int i = 0; i < 70; i++)
            deep[at++] = '[';
        deep[at] = 0;
        expect_error(deep, GFN_EFORMAT, 7, 75, "nested deeper than 64 levels");
    }
    expect_error(HEAD VARS "figures: {curvs: [tv]}\n", GFN_EUNKNOWN, 7, 11, "unknown key 'curvs'");
    expect_error(HEAD VARS "summary: [mean_rewrd]\n", GFN_EUNKNOWN, 7, 11, "unknown metric");
    expect_error(HEAD VARS "figures: {curves: [rounds_to_target]}\n", GFN_EUNKNOWN, 7, 20,
                 "unknown metric");
    /* wrong types */
    expect_error("name: e\ntask: {name: bag}\nseeds: 3\nrounds: 10\n" VARS, GFN_EFORMAT, 3, 8,
                 "expected a list of integer seeds");
    expect_error("name: e\ntask: {name: bag}\nseeds: [0, 1.5]\nrounds: 10\n" VARS, GFN_EFORMAT, 3,
                 12, "expected an integer seed");
    expect_error(HEAD VARS "defaults: {lr_policy: [1, 2]}\n", GFN_EFORMAT, 7, 23,
                 "expected a single value for 'lr_policy'");
    expect_error(HEAD "variants: {name: tb}\n", GFN_EFORMAT, 5, 11, "expected a list of variants");
    expect_error("name: [a]\ntask: {name: bag}\n", GFN_EFORMAT, 1, 7, "expected an experiment name");
    expect_error(HEAD "variants:\n  - tb\n", GFN_EFORMAT, 6, 5, "expected a variant");
    expect_error(HEAD VARS "rounds: ten\n", GFN_EVALUE, 7, 1, "duplicate key 'rounds'");
    expect_error("name: e\ntask: {name: bag}\nseeds: [0]\nrounds: ten\n" VARS, GFN_EFORMAT, 4, 9,
                 "expected a number of rounds");
    expect_error(HEAD VARS "figures: {scatter: maybe}\n", GFN_EFORMAT, 7, 20, "true or false");
    expect_error("- a\n- b\n", GFN_EFORMAT, 1, 1, "expected a map with name");
    /* missing fields */
    expect_error(HEAD, GFN_EFORMAT, 1, 1, "missing 'variants'");
    expect_error("name: e\nseeds: [0]\nrounds: 1\n" VARS, GFN_EFORMAT, 1, 1, "missing 'task'");
    expect_error("name: e\ntask: {dim: 2}\nseeds: [0]\nrounds: 1\n" VARS, GFN_EFORMAT, 2, 7,
                 "missing 'name' in task");
    expect_error(HEAD "variants:\n  - {name: tb}\n", GFN_EFORMAT, 6, 5, "missing 'objective'");
    expect_error(HEAD "variants:\n  - {objective: tb}\n", GFN_EFORMAT, 6, 5, "missing 'name'");
    /* impossible values */
    expect_error("name: e\ntask: {name: bag}\nseeds: [0]\nrounds: -5\n" VARS, GFN_EVALUE, 4, 9,
                 ">= 1");
    expect_error("name: e\ntask: {name: bag}\nseeds: []\nrounds: 5\n" VARS, GFN_EVALUE, 3, 8,
                 "at least one seed");
    expect_error("name: e\ntask: {name: bag}\nseeds: [3, 3]\nrounds: 5\n" VARS, GFN_EVALUE, 3, 12,
                 "duplicate seed 3");
    expect_error("name: e\ntask: {name: bag}\nseeds: [-1]\nrounds: 5\n" VARS, GFN_EVALUE, 3, 9,
                 ">= 0");
    expect_error(HEAD "variants:\n  - {name: tb, objective: tb}\n  - {name: tb, objective: db}\n",
                 GFN_EVALUE, 7, 5, "duplicate variant name 'tb' (first at ");
    expect_error(HEAD "variants: []\n", GFN_EVALUE, 5, 11, "at least one variant");
    expect_error(HEAD "variants:\n  - {name: a/b, objective: tb}\n", GFN_EVALUE, 6, 12,
                 "variant name made of");
    expect_error(HEAD VARS "evaluation: {sample_size: 0}\n", GFN_EVALUE, 7, 27, "expected an integer in [1, 1000000]");
    expect_error(HEAD VARS "defaults: {seed: 3}\n", GFN_EVALUE, 7, 12, "not allowed in defaults");
    expect_error(HEAD "variants:\n  - {name: tb, objective: tb, rounds: 4}\n", GFN_EVALUE, 6, 31,
                 "not allowed in a variant");
    expect_error(HEAD VARS "figures: {x: []}\n", GFN_EVALUE, 7, 14, "at least one x axis");
}

/* Many keys load in linear time (hashed duplicate check and lookups); a
 * duplicate among them is still found, at its own line. */
static void test_many_keys(void)
{
    gfn_strbuf b;
    gfn_strbuf_init(&b);
    gfn_strbuf_printf(&b, HEAD VARS "defaults:\n");
    for (int i = 0; i < 20000; i++)
        gfn_strbuf_printf(&b, "  k%d: %d\n", i, i);
    gfn_error err;
    const char *path = write_spec("many.yaml", b.data);
    gfn_spec *s = gfn_spec_load(path, &err);
    CU_ASSERT_PTR_NOT_NULL(s);
    CU_ASSERT(s && s->defaults.n == 20000);
    CU_ASSERT(s && gfn_params_find(&s->defaults, "k12345") &&
              strcmp(gfn_params_find(&s->defaults, "k12345")->val, "12345") == 0);
    gfn_spec_free(s);
    gfn_strbuf_printf(&b, "  k777: 1\n");
    path = write_spec("many.yaml", b.data);
    s = gfn_spec_load(path, &err);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, ":20008:3: duplicate key 'k777'"));
    gfn_spec_free(s);
    gfn_strbuf_close(&b);
}

/* Command-line overrides and sweeps; the effective spec written as YAML loads
 * back to the same run configurations. */
static void test_overrides(void)
{
    gfn_error err;
    const char *path = write_spec("o.yaml", FULL);
    gfn_spec *s = gfn_spec_load(path, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    int nv = s->n_variants;
    char *args[] = {"rounds=40", "seeds=3,5", "hidden=24", "lr_policy=1e-3,1e-2", NULL};
    CU_ASSERT_EQUAL_FATAL(gfn_spec_override(s, 4, args, &err), GFN_OK);
    CU_ASSERT_EQUAL(s->rounds, 40);
    CU_ASSERT_EQUAL(s->n_seeds, 2);
    CU_ASSERT_EQUAL(s->seeds[1], 5);
    CU_ASSERT_EQUAL(s->n_variants, 2 * nv);
    CU_ASSERT_PTR_NOT_NULL(strstr(s->description, "Overrides: rounds=40 seeds=3,5 hidden=24 "
                                                  "lr_policy=1e-3,1e-2."));
    CU_ASSERT_PTR_NOT_NULL(strstr(s->variants[1].name, "_lr_policy1e-2"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s->variants[0].name, "_lr_policy1e-3"));
    gfn_params cfg;
    gfn_params_init(&cfg);
    CU_ASSERT_EQUAL(gfn_spec_run_config(s, 1, 1, &cfg, &err), GFN_OK);
    CU_ASSERT_STRING_EQUAL(gfn_params_find(&cfg, "hidden")->val, "24");
    CU_ASSERT_STRING_EQUAL(gfn_params_find(&cfg, "lr_policy")->val, "1e-2");
    CU_ASSERT_STRING_EQUAL(gfn_params_find(&cfg, "seed")->val, "5");
    /* the effective spec loads back to the same configurations */
    char yaml[300];
    snprintf(yaml, sizeof yaml, "%s/effective.yaml", tmp_dir);
    CU_ASSERT_EQUAL_FATAL(gfn_spec_write_yaml(s, yaml, &err), GFN_OK);
    gfn_spec *back = gfn_spec_load(yaml, &err);
    if (!back)
        printf("\n  %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    CU_ASSERT_EQUAL(back->n_variants, s->n_variants);
    CU_ASSERT_STRING_EQUAL(back->description, s->description);
    for (int v = 0; v < s->n_variants; v++) {
        gfn_params a, b;
        gfn_params_init(&a);
        gfn_params_init(&b);
        gfn_spec_run_config(s, v, 0, &a, &err);
        gfn_spec_run_config(back, v, 0, &b, &err);
        CU_ASSERT_EQUAL(a.n, b.n);
        for (int i = 0; i < a.n && i < b.n; i++) {
            const gfn_param *q = gfn_params_find(&b, a.items[i].key);
            CU_ASSERT(q && strcmp(q->val, a.items[i].val) == 0);
        }
        gfn_params_close(&a);
        gfn_params_close(&b);
    }
    gfn_spec_free(back);
    gfn_params_close(&cfg);
    /* one variant; errors name the argument */
    char *one[] = {NULL, NULL};
    char arg[128];
    snprintf(arg, sizeof arg, "%s.epsilon=0.5", s->variants[0].name);
    one[0] = arg;
    CU_ASSERT_EQUAL(gfn_spec_override(s, 1, one, &err), GFN_OK);
    CU_ASSERT_STRING_EQUAL(gfn_params_find(&s->variants[0].overrides, "epsilon")->val, "0.5");
    CU_ASSERT_PTR_NULL(gfn_params_find(&s->variants[1].overrides, "epsilon"));
    char *bad[][2] = {{"rounds=abc", NULL}, {"nosuch.hidden=3", NULL}, {"seeds=1,1", NULL},
                      {"justaword", NULL}, {"task=bag", NULL}};
    const char *want[] = {"'rounds=abc'", "no variant 'nosuch'", "seed 1 twice",
                          "expected key=value", "the task is the spec's"};
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_NOT_EQUAL(gfn_spec_override(s, 1, bad[i], &err), GFN_OK);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, want[i]));
    }
    char *twice[] = {"rounds=3", "rounds=4"};
    CU_ASSERT_EQUAL(gfn_spec_override(s, 2, twice, &err), GFN_EUSAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "given twice"));
    gfn_spec_free(s);
}

static void test_missing_file(void)
{
    gfn_error err;
    CU_ASSERT_PTR_NULL(gfn_spec_load("/nonexistent/spec.yaml", &err));
    CU_ASSERT_EQUAL(err.code, GFN_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/spec.yaml"));
    CU_ASSERT_PTR_NULL(gfn_spec_load("/nonexistent/spec.yaml", NULL));
}

static void test_metric_names(void)
{
    CU_ASSERT(gfn_spec_metric_known("rounds_to_target"));
    CU_ASSERT(gfn_spec_metric_known("tv"));
    CU_ASSERT_FALSE(gfn_spec_metric_known("tvv"));
    CU_ASSERT(gfn_spec_curve_known("ad_exact"));
    CU_ASSERT_FALSE(gfn_spec_curve_known("round"));
    CU_ASSERT_FALSE(gfn_spec_curve_known("wall_seconds"));
}

/* Every shipped experiment loads, and each run's configuration passes the
 * trainer's up-front check (run from the repository root, as `make test` does). */
static void test_shipped_experiments(void)
{
    glob_t g;
    if (glob("experiments/*.yaml", 0, NULL, &g) != 0) {
        fprintf(stderr, "(no experiments/*.yaml here: run from the repository root) ");
        return;
    }
    CU_ASSERT(g.gl_pathc >= 3);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        gfn_error err;
        gfn_spec *s = gfn_spec_load(g.gl_pathv[i], &err);
        if (!s)
            fprintf(stderr, "\n  %s\n", err.msg);
        CU_ASSERT_PTR_NOT_NULL(s);
        if (!s)
            continue;
        for (int v = 0; v < s->n_variants; v++) {
            gfn_params cfg;
            gfn_params_init(&cfg);
            int rc = gfn_spec_run_config(s, v, 0, &cfg, &err);
            if (rc == GFN_OK)
                rc = gfn_train_validate(&cfg, &err);
            if (rc)
                fprintf(stderr, "\n  %s: %s\n", g.gl_pathv[i], err.msg);
            CU_ASSERT_EQUAL(rc, GFN_OK);
            gfn_params_close(&cfg);
        }
        gfn_spec_free(s);
    }
    globfree(&g);
}

static int setup(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/gfn_spec_XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : 1;
}

static int teardown(void)
{
    return gfn_fs_remove_tree(tmp_dir, NULL);
}

/* --only for report and --estimate: variants kept by name or VARIANT/seedK, in order;
 * a pattern matching none is an error that leaves the spec whole. */
static void test_select(void)
{
    gfn_error err;
    gfn_spec *s = gfn_spec_load(write_spec("select.yaml", FULL), &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(gfn_spec_select(s, "zz*", &err), GFN_EUSAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "matches no variant"));
    CU_ASSERT_EQUAL(s->n_variants, 2);
    CU_ASSERT_EQUAL(gfn_spec_select(s, "tb*", &err), GFN_OK);
    CU_ASSERT_EQUAL(s->n_variants, 2);
    CU_ASSERT_EQUAL(gfn_spec_select(s, "tb+prt/seed2", &err), GFN_OK);
    CU_ASSERT_EQUAL_FATAL(s->n_variants, 1);
    CU_ASSERT_STRING_EQUAL(s->variants[0].name, "tb+prt");
    CU_ASSERT_EQUAL(gfn_spec_select(s, "tb/seed9", &err), GFN_EUSAGE);
    gfn_params cfg;
    gfn_params_init(&cfg);
    CU_ASSERT_EQUAL(gfn_spec_run_config(s, 0, 0, &cfg, &err), GFN_OK);
    const gfn_param *lr = gfn_params_find(&cfg, "lr_policy");
    CU_ASSERT(lr && strcmp(lr->val, "5e-4") == 0);
    gfn_params_close(&cfg);
    gfn_spec_free(s);
}

extern void gfn_test_suite_spec(void); /* called by test_main.c */
void gfn_test_suite_spec(void)
{
    CU_pSuite s = CU_add_suite("spec", setup, teardown);
    CU_add_test(s, "full valid example", test_full_example);
    CU_add_test(s, "defaults when omitted", test_defaults_when_omitted);
    CU_add_test(s, "errors name file:line:col", test_errors_name_position);
    CU_add_test(s, "missing file", test_missing_file);
    CU_add_test(s, "command-line overrides, sweeps, effective spec", test_overrides);
    CU_add_test(s, "20k keys: linear loading, duplicates found", test_many_keys);
    CU_add_test(s, "metric names", test_metric_names);
    CU_add_test(s, "shipped experiments load and validate", test_shipped_experiments);
    CU_add_test(s, "--only selects variants", test_select);
}
