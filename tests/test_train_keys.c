/* test_train_keys.c - the training-key table (harness/run/train_keys.h): rows
 * well formed, every default and every task's paper settings valid, values
 * checked as the type they are stored in, the alias, the spec's evaluation
 * check, the memory estimate, and the help naming every key. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "policy.h"
#include "train.h"
#include "train_keys.h"

static const char *const TASKS[] = {"hypergrid", "synth", "bag", "tfbind8", "tfbind10",
                                    "qm9str", "sehstr", "table", NULL};

static int read_args(const char *task, const char *args, gfn_key_value *vals, gfn_error *err)
{
    gfn_params p;
    gfn_params_init(&p);
    char buf[512], *save = NULL;
    snprintf(buf, sizeof buf, "%s", args);
    for (char *kv = strtok_r(buf, " ", &save); kv; kv = strtok_r(NULL, " ", &save))
        gfn_params_add_arg(&p, kv, "command line", err);
    int rc = gfn_train_keys_read(&p, task, vals, err);
    if (rc == GFN_OK)
        rc = gfn_params_check_used(&p, NULL, err);
    gfn_params_close(&p);
    return rc;
}

static void test_rows(void)
{
    int bad = 0;
    for (int i = 0; i < GFN_N_TRAIN_KEYS; i++) {
        const gfn_train_key *k = &gfn_train_key_table[i];
        for (int j = 0; j < i; j++)
            bad += strcmp(gfn_train_key_table[j].name, k->name) == 0;
        bad += !k->help[0];
        if (k->type == GFN_KEY_ALIAS)
            bad += gfn_train_key_find(k->def) == NULL || gfn_train_key_find(k->def)->type == GFN_KEY_ALIAS;
        else if (k->def && k->def[0] == '=') /* a copy of an earlier row */
            bad += !gfn_train_key_find(k->def + 1) || gfn_train_key_find(k->def + 1) >= k;
        if ((k->type == GFN_KEY_INT || k->type == GFN_KEY_REAL) && !(k->lo <= k->hi))
            bad += 1;
        if (bad)
            printf("\n  bad key row %s\n", k->name);
    }
    CU_ASSERT_EQUAL(bad, 0);
}

/* Every default and every task's paper settings read without error, and the
 * paper settings are what the task's row says. */
static void test_defaults(void)
{
    gfn_key_value v[GFN_N_TRAIN_KEYS];
    gfn_error err;
    for (int t = 0; TASKS[t]; t++) {
        int rc = read_args(TASKS[t], "", v, &err);
        if (rc)
            printf("\n  %s: %s\n", TASKS[t], err.msg);
        CU_ASSERT_EQUAL(rc, GFN_OK);
    }
    CU_ASSERT_EQUAL(read_args("tfbind8", "", v, &err), GFN_OK);
    CU_ASSERT_EQUAL(v[GFN_K_HIDDEN].i, 128);
    CU_ASSERT_EQUAL(v[GFN_K_SSR_EMBED].i, 128); /* =hidden */
    CU_ASSERT_EQUAL(v[GFN_K_STEPS_PER_BATCH].i, 3);
    CU_ASSERT_STRING_EQUAL(v[GFN_K_GUIDE_TRAJ].s, "score");
    CU_ASSERT_EQUAL(v[GFN_K_EPSILON].d, 0.01);
    CU_ASSERT_FALSE(v[GFN_K_EXACT_EVERY].set);
    CU_ASSERT_EQUAL(read_args("hypergrid", "hidden=32 flow_layers=1", v, &err), GFN_OK);
    CU_ASSERT_EQUAL(v[GFN_K_FLOW_HIDDEN].i, 32);
    CU_ASSERT_EQUAL(v[GFN_K_FLOW_LAYERS].i, 1);
    CU_ASSERT_EQUAL(v[GFN_K_HIDDEN].i, 32);
    CU_ASSERT_EQUAL(v[GFN_K_LR_POLICY].d, 1e-3);
}

static void expect(const char *args, int code, const char *needle)
{
    gfn_key_value v[GFN_N_TRAIN_KEYS];
    gfn_error err;
    memset(&err, 0, sizeof err);
    int rc = read_args("hypergrid", args, v, &err);
    if (rc != code || !strstr(err.msg, needle))
        printf("\n  %s: status %d, message \"%s\"; expected %d and '%s'\n", args, rc, err.msg, code,
               needle);
    CU_ASSERT_EQUAL(rc, code);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, needle));
}

static void test_values(void)
{
    gfn_key_value v[GFN_N_TRAIN_KEYS];
    gfn_error err;
    /* objective options, the alias */
    CU_ASSERT_EQUAL(read_args("hypergrid", "lambda=0.5 gtb_backward=paper subtb_pairs=ends "
                                           "loss_clamp=0", v, &err), GFN_OK);
    CU_ASSERT_EQUAL(v[GFN_K_SUBTB_LAMBDA].d, 0.5);
    CU_ASSERT_STRING_EQUAL(v[GFN_K_GTB_BACKWARD].s, "paper");
    CU_ASSERT_STRING_EQUAL(v[GFN_K_SUBTB_PAIRS].s, "ends");
    CU_ASSERT_EQUAL(v[GFN_K_LOSS_CLAMP].d, 0.0);
    expect("lambda=0.5 subtb_lambda=0.4", GFN_EUSAGE, "another name for 'subtb_lambda'");
    expect("subtb_lambda=0", GFN_EVALUE, "(0, 1]");
    expect("gtb_w=1.5", GFN_EVALUE, "'gtb_w'");
    expect("gtb_backward=both", GFN_EVALUE, "code|paper");
    /* integers as the type they are stored in: no wrap, no exponent, integers printed */
    expect("hidden=4294967297", GFN_EVALUE, "expected an integer in [1, 65536], got '4294967297'");
    expect("hidden=2147483648", GFN_EVALUE, "'hidden'");
    expect("ssr_embed=1e8", GFN_EVALUE, "'ssr_embed'");
    expect("flow_hidden=-1", GFN_EVALUE, "'flow_hidden'");
    expect("seed=4294967296", GFN_EVALUE, "[0, 4294967295], got '4294967296'");
    expect("rounds=1.5", GFN_EVALUE, "'rounds'");
    expect("batch=+3", GFN_EVALUE, "'batch'");
    expect("objective=nosuch", GFN_EUNKNOWN, "unknown objective 'nosuch'");
    expect("policy=uniform", GFN_EVALUE, "sa|ssr"); /* uniform is a P_B only */
    expect("clip_grad=-1", GFN_EVALUE, "'clip_grad'");
}

/* A spec's evaluation section: only evaluation keys, values checked. */
static void test_check(void)
{
    gfn_error err;
    CU_ASSERT_EQUAL(gfn_train_key_check("window", "25", "spec:1:1", GFN_KG_EVAL, &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_train_key_check("ad_scope", "window", "", GFN_KG_EVAL, &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_train_key_check("window", "0", "spec:1:1", GFN_KG_EVAL, &err), GFN_EVALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "spec:1:1: key 'window'"));
    CU_ASSERT_EQUAL(gfn_train_key_check("hidden", "8", "", GFN_KG_EVAL, &err), GFN_EUNKNOWN);
    CU_ASSERT_EQUAL(gfn_train_key_check("hidden", "8", "", -1, &err), GFN_OK);
}

/* The policies' own keys are keys of the table. */
static void test_policy_keys(void)
{
    int bad = 0;
    for (int i = 0; i < gfn_policy_count(); i++)
        for (const gfn_policy_key *k = gfn_policy_at(i)->keys; k && k->name; k++)
            bad += gfn_train_key_find(k->name) == NULL;
    CU_ASSERT_EQUAL(bad, 0);
}

/* A network too big for max_memory is refused before anything is allocated. */
static void test_memory(void)
{
    gfn_params cfg, sum;
    gfn_error err;
    gfn_params_init(&cfg);
    gfn_params_init(&sum);
    const char *args[] = {"task=hypergrid", "objective=tb", "dim=2", "side=3", "rounds=1",
                          "hidden=4096", "max_memory=16"};
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++)
        gfn_params_set_arg(&cfg, args[i], "command line", &err);
    CU_ASSERT_EQUAL(gfn_train_run(&cfg, NULL, NULL, NULL, &sum, &err), GFN_EVALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "max_memory allows 16 MiB"));
    CU_ASSERT_EQUAL(sum.n, 0);
    gfn_params_close(&cfg);
    gfn_params_close(&sum);
}

static void test_help(void)
{
    FILE *f = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    gfn_train_print_keys(f);
    long n = ftell(f);
    rewind(f);
    char *text = calloc((size_t)n + 1, 1);
    CU_ASSERT_EQUAL(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    int bad = 0;
    for (int i = 0; i < GFN_N_TRAIN_KEYS; i++) {
        char needle[80];
        snprintf(needle, sizeof needle, "    %s", gfn_train_key_table[i].name);
        bad += strstr(text, needle) == NULL;
    }
    CU_ASSERT_EQUAL(bad, 0);
    free(text);
}

extern void gfn_test_suite_train_keys(void); /* called by tests/test_main.c */
void gfn_test_suite_train_keys(void)
{
    CU_pSuite s = CU_add_suite("train_keys", NULL, NULL);
    CU_add_test(s, "rows well formed", test_rows);
    CU_add_test(s, "defaults and paper settings valid", test_defaults);
    CU_add_test(s, "values checked as their type", test_values);
    CU_add_test(s, "spec evaluation keys", test_check);
    CU_add_test(s, "policy keys are table keys", test_policy_keys);
    CU_add_test(s, "max_memory refuses big networks", test_memory);
    CU_add_test(s, "help names every key", test_help);
}
