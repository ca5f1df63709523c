/*
 * check.h - the test harness (docs/style.md H40): CHECK, CHECK_EQ, CHECK_NEAR,
 * RUN and check_summary().  A failed check prints file:line and the values,
 * counts against the current case, and the case goes on.  check_summary()
 * prints "N passed, N failed" (cases, not checks) and returns the exit code.
 */
#ifndef CARBS_TESTS_CHECK_H
#define CARBS_TESTS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check__passed, check__failed, check__case_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);               \
            check__case_failed = 1;                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long check__a = (long long)(a), check__b = (long long)(b);                            \
        if (check__a != check__b) {                                                                \
            fprintf(stderr, "%s:%d: CHECK_EQ(%s, %s) failed: %lld != %lld\n", __FILE__, __LINE__,  \
                    #a, #b, check__a, check__b);                                                   \
            check__case_failed = 1;                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *check__a = (a), *check__b = (b);                                               \
        if (!check__a || !check__b || strcmp(check__a, check__b) != 0) {                          \
            fprintf(stderr, "%s:%d: CHECK_STR(%s, %s) failed: \"%s\" != \"%s\"\n", __FILE__,      \
                    __LINE__, #a, #b, check__a ? check__a : "(null)",                              \
                    check__b ? check__b : "(null)");                                               \
            check__case_failed = 1;                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double check__a = (a), check__b = (b);                                                     \
        if (!(fabs(check__a - check__b) <= (tol))) {                                               \
            fprintf(stderr, "%s:%d: CHECK_NEAR(%s, %s, %s) failed: %.17g vs %.17g\n", __FILE__,    \
                    __LINE__, #a, #b, #tol, check__a, check__b);                                   \
            check__case_failed = 1;                                                                \
        }                                                                                          \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        check__case_failed = 0;                                                                    \
        fn();                                                                                      \
        if (check__case_failed) {                                                                  \
            check__failed++;                                                                       \
            fprintf(stderr, "FAIL %s\n", #fn);                                                     \
        } else {                                                                                   \
            check__passed++;                                                                       \
        }                                                                                          \
    } while (0)

static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", check__passed, check__failed);
    fflush(stdout);
    return check__failed ? 1 : 0;
}

#endif
