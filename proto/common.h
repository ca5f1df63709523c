/*
 * common.h - the compat header every .c file includes first (docs/style.md H7).
 *
 * Checked allocation (x* abort with file:line on a small fixed-size
 * allocation failing; carbs_malloc returns NULL for allocations sized by user
 * input, H15), typed dynamic arrays {T *v; size_t n, cap;} with one grow
 * helper (H19), strict number parsing (H43) and bounded string copies.
 * Includes banned.h last so the banned functions fail to compile.
 */
#ifndef CARBS_PROTO_COMMON_H
#define CARBS_PROTO_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/status.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define UNUSED(x) ((void)(x))

// ---- allocation ----

/* Allocate or abort with file:line: for small fixed-size objects only. */
#define xmalloc(n) common__xmalloc((n), __FILE__, __LINE__)
#define xcalloc(k, n) common__xcalloc((k), (n), __FILE__, __LINE__)
#define xrealloc(p, n) common__xrealloc((p), (n), __FILE__, __LINE__)
#define xstrdup(s) common__xstrdup((s), __FILE__, __LINE__)

void *common__xmalloc(size_t n, const char *file, int line);
void *common__xcalloc(size_t k, size_t n, const char *file, int line);
void *common__xrealloc(void *p, size_t n, const char *file, int line);
char *common__xstrdup(const char *s, const char *file, int line);

/* Allocate n bytes for something sized by input; NULL on failure (the caller
 * returns CARBS_ENOMEM).  Release with free().  Subject to fault injection. */
void *carbs_malloc(size_t n);
void *carbs_realloc(void *p, size_t n);

/* Fault injection for tests (docs/style.md H41): after this call the k-th
 * following carbs_malloc/carbs_realloc (1-based) returns NULL, and every later
 * one succeeds again.  k = 0 turns injection off.  Returns the number of
 * allocations counted since the previous call.  A test-only hook: the one
 * piece of process-wide state besides the logger and the stop flag. */
size_t carbs_fault_fail_at(size_t k);

// ---- dynamic arrays ----

/* Grow a typed array {T *v; size_t n, cap;} so that it holds at least
 * need elements of size elem.  Returns 0 or CARBS_ENOMEM (array unchanged). */
int da__grow(void **v, size_t *cap, size_t need, size_t elem);

#define DA_TYPE(T)                                                                                 \
    struct {                                                                                       \
        T *v;                                                                                      \
        size_t n, cap;                                                                             \
    }
/* Make room for one more element; evaluates to 0 or CARBS_ENOMEM. */
#define DA_RESERVE(a, k) da__grow((void **)&(a)->v, &(a)->cap, (a)->n + (k), sizeof(*(a)->v))
/* Append x; evaluates to 0 or CARBS_ENOMEM. */
#define DA_PUSH(a, x) (DA_RESERVE(a, 1) ? CARBS_ENOMEM : ((a)->v[(a)->n++] = (x), 0))
#define DA_FREE(a) (free((a)->v), (a)->v = NULL, (a)->n = (a)->cap = 0)

// ---- strict parsing ----

/* Parse the whole of s as a finite double in [lo, hi].  Leading/trailing
 * spaces, an empty string, trailing junk, NaN and inf are errors.  Returns 0
 * and stores *out, or CARBS_EINVAL (nothing stored). */
int parse_double(const char *s, double lo, double hi, double *out);

/* Parse the whole of s as a base-10 integer in [lo, hi]. */
int parse_long(const char *s, long lo, long hi, long *out);

/* Parse the whole of s as a size: digits with an optional k/M/G suffix
 * (powers of 1024), at most max.  "64k" = 65536. */
int parse_size(const char *s, size_t max, size_t *out);

// ---- strings ----

/* Copy src into dst[cap] always terminated.  Returns 0, or CARBS_ETOOBIG
 * when src did not fit (dst then holds the truncated prefix). */
int str_copy(char *dst, size_t cap, const char *src);

/* True when the n bytes at s are valid UTF-8 (no overlongs, no surrogates). */
bool utf8_valid(const char *s, size_t n);

/* Monotonic and wall clocks in seconds. */
double now_monotonic(void);
double now_wall(void);

#include "proto/banned.h"

#endif
