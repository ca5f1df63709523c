/*
 * test_common.c - strict parsing, dynamic arrays, fault injection, UTF-8,
 * bounded copies.
 */
#include "proto/common.h"

#include <float.h>
#include <math.h>

#include "tests/check.h"

static void test_common_parse_double(void)
{
    double x = 0;

    CHECK_EQ(parse_double("2.385", -10, 10, &x), 0);
    CHECK_NEAR(x, 2.385, 0);
    CHECK_EQ(parse_double("-1e-5", -1, 1, &x), 0);
    CHECK_NEAR(x, -1e-5, 0);
    x = 7.25;
    CHECK_EQ(parse_double("", -10, 10, &x), CARBS_EINVAL);
    CHECK_EQ(parse_double("1.5x", -10, 10, &x), CARBS_EINVAL);
    CHECK_EQ(parse_double(" 1.5", -10, 10, &x), CARBS_EINVAL);
    CHECK_EQ(parse_double("nan", -DBL_MAX, DBL_MAX, &x), CARBS_EINVAL);
    CHECK_EQ(parse_double("inf", -DBL_MAX, DBL_MAX, &x), CARBS_EINVAL);
    CHECK_EQ(parse_double("1e999", -DBL_MAX, DBL_MAX, &x), CARBS_EINVAL);
    CHECK_EQ(parse_double("11", -10, 10, &x), CARBS_EINVAL);
    CHECK_EQ(parse_double(NULL, -10, 10, &x), CARBS_EINVAL);
    CHECK_NEAR(x, 7.25, 0); /* untouched on error */
}

static void test_common_parse_long_and_size(void)
{
    long v = 0;
    size_t s = 0;

    CHECK_EQ(parse_long("-42", -100, 100, &v), 0);
    CHECK_EQ(v, -42);
    CHECK_EQ(parse_long("42.0", -100, 100, &v), CARBS_EINVAL);
    CHECK_EQ(parse_long("101", -100, 100, &v), CARBS_EINVAL);
    CHECK_EQ(parse_long("99999999999999999999999", 0, 100, &v), CARBS_EINVAL);
    CHECK_EQ(parse_size("64k", SIZE_MAX, &s), 0);
    CHECK_EQ(s, 65536);
    CHECK_EQ(parse_size("3M", SIZE_MAX, &s), 0);
    CHECK_EQ(s, 3 * 1024 * 1024);
    CHECK_EQ(parse_size("17", 16, &s), CARBS_EINVAL);
    CHECK_EQ(parse_size("-1", SIZE_MAX, &s), CARBS_EINVAL);
    CHECK_EQ(parse_size("1T", SIZE_MAX, &s), CARBS_EINVAL);
}

static void test_common_dynamic_array_grows(void)
{
    DA_TYPE(double) a = {0};

    for (int i = 0; i < 1000; i++)
        CHECK_EQ(DA_PUSH(&a, i * 0.5), 0);
    CHECK_EQ(a.n, 1000);
    CHECK(a.cap >= 1000);
    CHECK_NEAR(a.v[999], 499.5, 0);
    DA_FREE(&a);
    CHECK(a.v == NULL);
    CHECK_EQ(a.n, 0);
}

static void test_common_fault_injection_fails_kth_allocation(void)
{
    DA_TYPE(int) a = {0};
    int rc = 0;

    carbs_fault_fail_at(1);
    rc = DA_PUSH(&a, 3);
    CHECK_EQ(rc, CARBS_ENOMEM);
    CHECK_EQ(a.n, 0);
    CHECK(a.v == NULL);
    /* only the k-th fails: the next one succeeds */
    CHECK_EQ(DA_PUSH(&a, 3), 0);
    CHECK_EQ(a.n, 1);
    carbs_fault_fail_at(0);
    DA_FREE(&a);
}

static void test_common_utf8(void)
{
    CHECK(utf8_valid("plain", 5));
    CHECK(utf8_valid("caf\xc3\xa9", 5));
    CHECK(utf8_valid("\xf0\x9f\x98\x80", 4));
    CHECK(!utf8_valid("\xc3", 1));             /* truncated */
    CHECK(!utf8_valid("\xc0\xaf", 2));         /* overlong */
    CHECK(!utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    CHECK(!utf8_valid("\xff", 1));
}

static void test_common_str_copy(void)
{
    char buf[4];

    CHECK_EQ(str_copy(buf, sizeof(buf), "abc"), 0);
    CHECK_STR(buf, "abc");
    CHECK_EQ(str_copy(buf, sizeof(buf), "abcd"), CARBS_ETOOBIG);
    CHECK_STR(buf, "abc");
}

int main(void)
{
    RUN(test_common_parse_double);
    RUN(test_common_parse_long_and_size);
    RUN(test_common_dynamic_array_grows);
    RUN(test_common_fault_injection_fails_kth_allocation);
    RUN(test_common_utf8);
    RUN(test_common_str_copy);
    return check_summary();
}
