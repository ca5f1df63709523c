/*
 * test_status.c - the status table, carbs_fail() and error prefixes.
 */
#include "proto/common.h"
#include "proto/status.h"

#include "tests/check.h"

static void test_status_names_round_trip(void)
{
    static const int codes[] = {
#define X(name, val, msg) val,
        CARBS_STATUS_MAP(X)
#undef X
    };
    for (size_t i = 0; i < ARRAY_SIZE(codes); i++) {
        const char *name = carbs_errname(codes[i]);
        CHECK(strcmp(name, "EUNKNOWN") != 0);
        CHECK(strcmp(carbs_strerror(codes[i]), "unknown status") != 0);
        if (codes[i] != CARBS_OK)
            CHECK_EQ(carbs_errcode(name), codes[i]);
    }
    CHECK_STR(carbs_errname(CARBS_ENOTPD), "ENOTPD");
    CHECK_STR(carbs_strerror(CARBS_EDIVERGED), "training diverged (nan/inf loss)");
}

static void test_status_unknown_codes(void)
{
    CHECK_STR(carbs_errname(-9999), "EUNKNOWN");
    CHECK_STR(carbs_strerror(4242), "unknown status");
    CHECK_EQ(carbs_errcode("ENOPE"), 0);
    CHECK_EQ(carbs_errcode("OK"), 0);
    CHECK_EQ(carbs_errcode(NULL), 0);
}

static void test_status_codes_are_distinct_and_signed(void)
{
    static const int codes[] = {
#define X(name, val, msg) val,
        CARBS_STATUS_MAP(X)
#undef X
    };
    for (size_t i = 0; i < ARRAY_SIZE(codes); i++) {
        for (size_t j = i + 1; j < ARRAY_SIZE(codes); j++)
            CHECK(codes[i] != codes[j]);
        if (codes[i] != CARBS_OK && codes[i] != CARBS_CONTINUE)
            CHECK(codes[i] < 0);
    }
    CHECK(CARBS_CONTINUE > 0);
}

static void test_status_fail_fills_err(void)
{
    carbs_err_t err;
    int rc = carbs_fail(&err, CARBS_EIO, "cannot open '%s': %s", "sweep.yaml", "gone");

    CHECK_EQ(rc, CARBS_EIO);
    CHECK_EQ(err.code, CARBS_EIO);
    CHECK_STR(err.msg, "cannot open 'sweep.yaml': gone");
    CHECK_EQ(carbs_fail(NULL, CARBS_ESTORE, "x %d", 3), CARBS_ESTORE);
    CHECK_EQ(carbs_err_prefix(&err, "store"), CARBS_EIO);
    CHECK_STR(err.msg, "store: cannot open 'sweep.yaml': gone");
    carbs_err_clear(&err);
    CHECK_EQ(err.code, 0);
    CHECK_STR(err.msg, "");
}

static void test_status_fail_truncates_long_messages(void)
{
    carbs_err_t err;
    char big[1000];

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    carbs_fail(&err, CARBS_EINVAL, "%s", big);
    CHECK_EQ(strlen(err.msg), sizeof(err.msg) - 1);
}

int main(void)
{
    RUN(test_status_names_round_trip);
    RUN(test_status_unknown_codes);
    RUN(test_status_codes_are_distinct_and_signed);
    RUN(test_status_fail_fills_err);
    RUN(test_status_fail_truncates_long_messages);
    return check_summary();
}
