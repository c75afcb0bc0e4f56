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

static void test_integer_types(void)
{
    gfn_params p;
    gfn_params_init(&p);
    gfn_error err;
    int i;
    int64_t i64;
    uint32_t u32;
    uint64_t u64;
    size_t z;
    static const char *const bad_int[] = {"4294967297", "2147483648", "-1", "1e3", " 5", "+5",
                                          "5 ", "", "0x10", "1.0", "99999999999999999999999"};
    for (int k = 0; k < (int)(sizeof bad_int / sizeof *bad_int); k++) {
        CU_ASSERT_EQUAL(gfn_params_set(&p, "hidden", bad_int[k], "command line", &err), GFN_OK);
        CU_ASSERT_EQUAL(gfn_params_get_int_in(&p, "hidden", 8, 1, 65536, &i, &err), GFN_EVALUE);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "expected an integer in [1, 65536]"));
    }
    CU_ASSERT_EQUAL(gfn_params_set(&p, "hidden", "65536", "x", &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_params_get_int_in(&p, "hidden", 8, 1, 65536, &i, &err), GFN_OK);
    CU_ASSERT_EQUAL(i, 65536);
    CU_ASSERT_EQUAL(gfn_params_set(&p, "seed", "4294967296", "x", &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_params_get_u32(&p, "seed", 0, 0, UINT32_MAX, &u32, &err), GFN_EVALUE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "[0, 4294967295], got '4294967296'"));
    CU_ASSERT_EQUAL(gfn_params_set(&p, "seed", "4294967295", "x", &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_params_get_u32(&p, "seed", 0, 0, UINT32_MAX, &u32, &err), GFN_OK);
    CU_ASSERT_EQUAL(u32, UINT32_MAX);
    CU_ASSERT_EQUAL(gfn_params_set(&p, "n", "18446744073709551615", "x", &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_params_get_u64(&p, "n", 0, 0, UINT64_MAX, &u64, &err), GFN_OK);
    CU_ASSERT(u64 == UINT64_MAX);
    CU_ASSERT_EQUAL(gfn_params_get_size(&p, "absent", 7, 1, 9, &z, &err), GFN_OK);
    CU_ASSERT_EQUAL(z, 7);
    CU_ASSERT_EQUAL(gfn_params_set(&p, "m", "-9223372036854775808", "x", &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_params_get_i64(&p, "m", 0, INT64_MIN, 0, &i64, &err), GFN_OK);
    CU_ASSERT(i64 == INT64_MIN);
    CU_ASSERT_EQUAL(gfn_parse_i64("-9223372036854775809", INT64_MIN, INT64_MAX, &i64), GFN_EVALUE);
    CU_ASSERT_EQUAL(gfn_parse_u64("-0", 0, 1, &u64), GFN_EFORMAT);
    CU_ASSERT_EQUAL(gfn_parse_i64("-0", 0, 1, &i64), GFN_OK);
    CU_ASSERT_EQUAL(gfn_parse_i64("12a", 0, 100, &i64), GFN_EFORMAT);
    gfn_params_close(&p);
}

static void test_duplicates(void)
{
    gfn_params p;
    gfn_params_init(&p);
    gfn_error err;
    CU_ASSERT_EQUAL(gfn_params_add_arg(&p, "rounds=10", "command line", &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_params_add_arg(&p, "rounds=30", "command line", &err), GFN_EUSAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "'rounds' given twice"));
    CU_ASSERT_EQUAL(gfn_params_add(&p, "lr", "1", "a.yaml:2:3", &err), GFN_OK);
    CU_ASSERT_EQUAL(gfn_params_add(&p, "lr", "2", "a.yaml:3:3", &err), GFN_EUSAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "first at a.yaml:2:3"));
    gfn_params_close(&p);
}

void gfn_test_suite_params(void);
void gfn_test_suite_params(void)
{
    CU_pSuite s = CU_add_suite("params", NULL, NULL);
    CU_add_test(s, "typed getters", test_typed_getters);
    CU_add_test(s, "errors name key and origin", test_errors);
    CU_add_test(s, "strerror table", test_strerror_table);
    CU_add_test(s, "integers checked as their stored type", test_integer_types);
    CU_add_test(s, "duplicate keys", test_duplicates);
}
