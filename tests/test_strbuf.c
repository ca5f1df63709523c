/*
 * test_strbuf.c - the growable string (proto/strbuf.h) and the JSON writer
 * on top of it (proto/jw.h): escaping of every control byte, quotes and
 * backslashes, the refusal of invalid UTF-8, nesting and commas, numbers
 * (17 digits, integers, the non-finite policy), sticky errors and every
 * allocation failure.  Each JSON text written here is read back with the
 * project's own decoder where that proves the text is valid.
 */
#include "proto/common.h"
#include "proto/strbuf.h"

#include <math.h>

#include "check.h"
#include "proto/json.h"
#include "proto/jw.h"

// ---- strbuf ----

static void test_strbuf_add_and_detach(void)
{
    strbuf_t sb = STRBUF_INIT;
    size_t len = 99;
    char *s;

    CHECK_STR(sb.buf, "");
    CHECK_EQ(strbuf_adds(&sb, "trial "), 0);
    CHECK_EQ(strbuf_addf(&sb, "%d of %.3f", 42, 2.385), 0);
    CHECK_EQ(strbuf_addch(&sb, '!'), 0);
    CHECK_EQ(strbuf_add(&sb, "xyz", 2), 0);
    CHECK_STR(sb.buf, "trial 42 of 2.385!xy");
    CHECK_EQ(sb.len, strlen("trial 42 of 2.385!xy"));
    s = strbuf_detach(&sb, &len);
    CHECK_STR(s, "trial 42 of 2.385!xy");
    CHECK_EQ(len, strlen(s));
    CHECK_STR(sb.buf, "");
    CHECK_EQ(sb.len, 0);
    free(s);

    /* an empty buffer still hands back memory the caller may free */
    s = strbuf_detach(&sb, &len);
    CHECK(s && s[0] == '\0' && s != strbuf__empty);
    CHECK_EQ(len, 0);
    free(s);
    strbuf_release(&sb);
}

static void test_strbuf_grows_past_many_sizes(void)
{
    strbuf_t sb;
    char want[5000];

    strbuf_init(&sb);
    for (size_t i = 0; i < sizeof(want) - 1; i++) {
        want[i] = (char)('a' + i % 26);
        CHECK_EQ(strbuf_addch(&sb, want[i]), 0);
    }
    want[sizeof(want) - 1] = '\0';
    CHECK_STR(sb.buf, want);
    /* addf longer than what is left in the buffer takes the second pass */
    strbuf_reset(&sb);
    CHECK_EQ(sb.len, 0);
    CHECK_STR(sb.buf, "");
    CHECK_EQ(strbuf_addf(&sb, "%s|%s", want, want), 0);
    CHECK_EQ(sb.len, 2 * strlen(want) + 1);
    CHECK(sb.buf[strlen(want)] == '|');
    strbuf_release(&sb);
    strbuf_release(&sb); /* twice is safe */
    CHECK_STR(sb.buf, "");
}

static void test_strbuf_out_of_memory_is_sticky(void)
{
    strbuf_t sb = STRBUF_INIT;

    carbs_fault_fail_at(1);
    CHECK_EQ(strbuf_adds(&sb, "lost"), CARBS_ENOMEM);
    carbs_fault_fail_at(0);
    CHECK_EQ(sb.err, CARBS_ENOMEM);
    CHECK_EQ(strbuf_adds(&sb, "also lost"), CARBS_ENOMEM);
    CHECK_EQ(sb.len, 0);
    CHECK(strbuf_detach(&sb, NULL) == NULL);
    CHECK_EQ(sb.err, 0); /* detach released it */

    /* a failure while growing keeps the bytes already there */
    CHECK_EQ(strbuf_adds(&sb, "kept"), 0);
    carbs_fault_fail_at(1);
    CHECK_EQ(strbuf_addf(&sb, "%0200d", 7), CARBS_ENOMEM);
    carbs_fault_fail_at(0);
    CHECK_STR(sb.buf, "kept");
    strbuf_reset(&sb); /* reset clears the error */
    CHECK_EQ(strbuf_adds(&sb, "again"), 0);
    CHECK_STR(sb.buf, "again");
    strbuf_release(&sb);
}

// ---- JSON strings ----

static char *json_of(const char *s, int *rc)
{
    strbuf_t sb = STRBUF_INIT;

    *rc = strbuf_add_json_str(&sb, s);
    return strbuf_detach(&sb, NULL);
}

static void test_strbuf_json_escapes(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", "\"\""},
        {"plain", "\"plain\""},
        {"say \"hi\"", "\"say \\\"hi\\\"\""},
        {"C:\\tmp\\x", "\"C:\\\\tmp\\\\x\""},
        {"a\nb\tc\rd\be\ff", "\"a\\nb\\tc\\rd\\be\\ff\""},
        {"\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\""},
        {"/ stays", "\"/ stays\""},
        {"\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
    };
    int rc;

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *s = json_of(cases[i].in, &rc);
        CHECK_EQ(rc, 0);
        CHECK_STR(s, cases[i].out);
        free(s);
    }
}

/* Every byte from 1 to 127 survives a round trip through the real decoder. */
static void test_strbuf_json_all_ascii_round_trips(void)
{
    char in[128], doc[1024];
    carbs_result_t r;
    carbs_err_t err = {0};
    char *s;
    int rc;

    for (int c = 1; c < 128; c++)
        in[c - 1] = (char)c;
    in[127] = '\0';
    s = json_of(in, &rc);
    CHECK_EQ(rc, 0);
    snprintf(doc, sizeof(doc), "{\"status\":\"failed\",\"message\":%s}", s);
    free(s);
    CHECK_EQ(proto_result_from_json(doc, &r, &err), 0);
    CHECK_STR(r.message, in);
    carbs_result_release(&r);
}

static void test_strbuf_json_refuses_invalid_utf8(void)
{
    static const char *const bad[] = {
        "\xff",             /* never valid */
        "ab\xc3",           /* truncated sequence */
        "\xc0\xaf",         /* overlong '/' */
        "\xed\xa0\x80",     /* a surrogate */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
    };
    strbuf_t sb = STRBUF_INIT;

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        strbuf_reset(&sb);
        strbuf_adds(&sb, "x=");
        CHECK_EQ(strbuf_add_json_str(&sb, bad[i]), CARBS_EINVAL);
        CHECK_STR(sb.buf, "x="); /* nothing of the string was written */
        CHECK_EQ(strbuf_adds(&sb, "more"), CARBS_EINVAL);
    }
    CHECK(strbuf_detach(&sb, NULL) == NULL);
}

// ---- the writer ----

static void test_jw_nesting_and_commas(void)
{
    jw_t jw;
    char *s;

    jw_init(&jw);
    jw_object(&jw, NULL);
    jw_str(&jw, "name", "lr \"sweep\"");
    jw_array(&jw, "empty");
    jw_end(&jw);
    jw_object(&jw, "none");
    jw_end(&jw);
    jw_array(&jw, "runs");
    jw_int(&jw, NULL, 42);
    jw_object(&jw, NULL);
    jw_bool(&jw, "ok", true);
    jw_bool(&jw, "lost", false);
    jw_null(&jw, "worker");
    jw_end(&jw);
    jw_array(&jw, NULL);
    jw_array(&jw, NULL);
    jw_end(&jw);
    jw_end(&jw);
    jw_end(&jw);
    jw_raw(&jw, "params", "{\"x\":1}");
    jw_end(&jw);
    s = jw_detach(&jw, NULL);
    CHECK_STR(s, "{\"name\":\"lr \\\"sweep\\\"\",\"empty\":[],\"none\":{},\"runs\":[42,"
                 "{\"ok\":true,\"lost\":false,\"worker\":null},[[]]],\"params\":{\"x\":1}}");
    free(s);
}

static void test_jw_numbers(void)
{
    jw_t jw;
    size_t len;
    char *s;

    jw_init(&jw);
    jw_array(&jw, NULL);
    jw_num(&jw, NULL, 64);
    jw_num(&jw, NULL, -2.6180339887);
    jw_num(&jw, NULL, 0.1);
    jw_num(&jw, NULL, 1e300);
    jw_num(&jw, NULL, 5e-324);
    jw_int(&jw, NULL, INT64_MIN);
    jw_int(&jw, NULL, 9007199254740993);
    jw_num_or_null(&jw, NULL, NAN);
    jw_num_or_null(&jw, NULL, -INFINITY);
    jw_num_or_null(&jw, NULL, 2.385);
    jw_end(&jw);
    s = jw_detach(&jw, &len);
    CHECK_STR(s, "[64,-2.6180339887000001,0.10000000000000001,1.0000000000000001e+300,"
                 "4.9406564584124654e-324,-9223372036854775808,9007199254740993,null,null,"
                 "2.3849999999999998]");
    CHECK_EQ(len, s ? strlen(s) : 0);
    free(s);

    /* a non-finite jw_num() is refused, like proto/json.c's encoders */
    jw_init(&jw);
    jw_object(&jw, NULL);
    jw_num(&jw, "loss", NAN);
    jw_str(&jw, "after", "ignored");
    jw_end(&jw);
    CHECK_EQ(jw.sb.err, CARBS_EINVAL);
    CHECK(jw_detach(&jw, NULL) == NULL);
}

static void test_jw_refuses_bad_strings_and_keys(void)
{
    jw_t jw;

    jw_init(&jw);
    jw_object(&jw, NULL);
    jw_str(&jw, "host", "n\xe9ud"); /* Latin-1, not UTF-8 */
    jw_end(&jw);
    CHECK_EQ(jw.sb.err, CARBS_EINVAL);
    CHECK(jw_detach(&jw, NULL) == NULL);

    jw_init(&jw);
    jw_object(&jw, NULL);
    jw_int(&jw, "\xff", 1);
    jw_end(&jw);
    CHECK_EQ(jw.sb.err, CARBS_EINVAL);
    jw_release(&jw);
}

static void test_jw_reset_writes_line_after_line(void)
{
    jw_t jw;

    jw_init(&jw);
    for (int i = 1; i <= 3; i++) {
        jw_reset(&jw);
        jw_object(&jw, NULL);
        jw_int(&jw, "trial", i);
        jw_end(&jw);
        CHECK_EQ(jw.sb.err, 0);
    }
    CHECK_STR(jw.sb.buf, "{\"trial\":3}");
    jw_release(&jw);
    jw_release(&jw);
}

/* Fail each allocation of a document in turn: every failure surfaces as
 * CARBS_ENOMEM from jw_detach (NULL) and nothing leaks (valgrind, ASan). */
static void test_jw_every_allocation_failure(void)
{
    char big[300];
    size_t k;

    memset(big, 'w', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (k = 1;; k++) {
        jw_t jw;
        char *s;
        size_t used;

        jw_init(&jw);
        carbs_fault_fail_at(k);
        jw_object(&jw, NULL);
        jw_array(&jw, "workers");
        for (int i = 0; i < 20; i++) {
            jw_object(&jw, NULL);
            jw_str(&jw, "id", big);
            jw_num(&jw, "idle_seconds", 2.385 * i);
            jw_end(&jw);
        }
        jw_end(&jw);
        jw_end(&jw);
        s = jw_detach(&jw, NULL);
        used = carbs_fault_fail_at(0);
        if (used < k) { /* the k-th allocation never came: done */
            CHECK(s != NULL);
            free(s);
            break;
        }
        CHECK(s == NULL);
    }
    CHECK(k > 3);
}

int main(void)
{
    RUN(test_strbuf_add_and_detach);
    RUN(test_strbuf_grows_past_many_sizes);
    RUN(test_strbuf_out_of_memory_is_sticky);
    RUN(test_strbuf_json_escapes);
    RUN(test_strbuf_json_all_ascii_round_trips);
    RUN(test_strbuf_json_refuses_invalid_utf8);
    RUN(test_jw_nesting_and_commas);
    RUN(test_jw_numbers);
    RUN(test_jw_refuses_bad_strings_and_keys);
    RUN(test_jw_reset_writes_line_after_line);
    RUN(test_jw_every_allocation_failure);
    return check_summary();
}
