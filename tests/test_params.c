/* test_params.c - key=value parsing, typed getters and unknown-key detection. */
#include <CUnit/CUnit.h>
#include <string.h>

#include "params.h"
#include "status.h"

static void test_typed_getters(void)
{
    gfn_params p;
    gfn_error err;
    gfn_params_init(&p);
    CU_ASSERT_EQUAL(gfn_params_set_arg(&p, "rounds=100", "command line", &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_params_set_arg(&p, "lr=1e-4", "command line", &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_params_set_arg(&p, "replay=prt", "command line", &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_params_set_arg(&p, "rounds=200", "command line", &err), GFN_OK);
    long rounds;
    double lr, eps;
    const char *replay;
    CU_ASSERT_EQUAL(gfn_params_get_int(&p, "rounds", 1, &rounds, &err), GFN_OK);
    CU_ASSERT_EQUAL(rounds, 200);
    CU_ASSERT_EQUAL(gfn_params_get_double(&p, "lr", 0, &lr, &err), GFN_OK);
    CU_ASSERT_DOUBLE_EQUAL(lr, 1e-4, 1e-20);
    CU_ASSERT_EQUAL(gfn_params_get_double(&p, "epsilon", 0.5, &eps, &err), GFN_OK);
    CU_ASSERT_DOUBLE_EQUAL(eps, 0.5, 0);
    CU_ASSERT_EQUAL(gfn_params_get_choice(&p, "replay", "none|uniform|prt", "none", &replay, &err),
                    GFN_OK);
    CU_ASSERT_STRING_EQUAL(replay, "prt");
    CU_ASSERT_EQUAL(gfn_params_check_used(&p, NULL, &err), GFN_OK);
    gfn_params_close(&p);
}

static void test_errors(void)
{
    gfn_params p;
    gfn_error err;
    gfn_params_init(&p);
    CU_ASSERT_EQUAL(gfn_params_set_arg(&p, "noequals", "command line", &err), GFN_EUSAGE);
    CU_ASSERT_EQUAL(gfn_params_set_arg(&p, "=3", "command line", &err), GFN_EUSAGE);
    CU_ASSERT_EQUAL(gfn_params_set(&p, "rounds", "12x", "spec.yaml:3:10", &err), GFN_OK);
    long v;
    CU_ASSERT_EQUAL(gfn_params_get_int(&p, "rounds", 0, &v, &err), GFN_EVALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "spec.yaml:3:10"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "rounds"));
    CU_ASSERT_EQUAL(gfn_params_set(&p, "replay", "lifo", "x", &err), GFN_OK);
    const char *s;
    CU_ASSERT_EQUAL(gfn_params_get_choice(&p, "replay", "none|prt", "none", &s, &err), GFN_EVALUE);
    CU_ASSERT_EQUAL(gfn_params_set(&p, "tpyo", "1", "command line", &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_params_check_used(&p, "train", &err), GFN_EUNKNOWN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "tpyo"));
    double d;
    CU_ASSERT_EQUAL(gfn_params_set(&p, "x", "nan", "command line", &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_params_get_double(&p, "x", 0, &d, &err), GFN_EVALUE);
    gfn_params_close(&p);
}

static void test_strerror_table(void)
{
    CU_ASSERT_STRING_EQUAL(gfn_strerror(GFN_OK), "success");
    CU_ASSERT_STRING_EQUAL(gfn_strerror(GFN_EFORMAT), "malformed input");
    CU_ASSERT_STRING_EQUAL(gfn_strerror(9999), "unknown status");
}

void gfn_test_suite_params(void);
void gfn_test_suite_params(void)
{
    CU_pSuite s = CU_add_suite("params", NULL, NULL);
    CU_add_test(s, "typed getters", test_typed_getters);
    CU_add_test(s, "errors name key and origin", test_errors);
    CU_add_test(s, "strerror table", test_strerror_table);
}
