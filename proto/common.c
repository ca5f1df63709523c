/*
 * common.c - allocation, dynamic arrays, strict parsing, strings and clocks.
 *
 * Small helpers every layer uses.  Nothing here logs; the x* allocators are
 * the one place that aborts, for fixed-size allocations (docs/style.md H15).
 */
#include "proto/common.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <time.h>

static void oom_abort(size_t n, const char *file, int line)
{
    fprintf(stderr, "%s:%d: out of memory allocating %zu bytes\n", file, line, n);
    abort();
}

void *common__xmalloc(size_t n, const char *file, int line)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom_abort(n, file, line);
    return p;
}

void *common__xcalloc(size_t k, size_t n, const char *file, int line)
{
    void *p = calloc(k ? k : 1, n ? n : 1);
    if (!p)
        oom_abort(k * n, file, line);
    return p;
}

void *common__xrealloc(void *p, size_t n, const char *file, int line)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom_abort(n, file, line);
    return q;
}

char *common__xstrdup(const char *s, const char *file, int line)
{
    size_t n = strlen(s) + 1;
    char *d = common__xmalloc(n, file, line);
    memcpy(d, s, n);
    return d;
}

// ---- fault injection ----

/* Test-only counters (see carbs_fault_fail_at in common.h).  Atomic, as
 * carbs_malloc runs in the service's law actor too (optimizer/service/laws_actor.c);
 * fault injection itself is for single-threaded tests. */
static atomic_size_t fault_count, fault_target;

static bool fault_hit(void)
{
    size_t n = atomic_fetch_add_explicit(&fault_count, 1, memory_order_relaxed) + 1;
    size_t target = atomic_load_explicit(&fault_target, memory_order_relaxed);

    if (target && n == target) {
        atomic_store_explicit(&fault_target, 0, memory_order_relaxed);
        return true;
    }
    return false;
}

size_t carbs_fault_fail_at(size_t k)
{
    size_t seen = atomic_exchange_explicit(&fault_count, 0, memory_order_relaxed);
    atomic_store_explicit(&fault_target, k, memory_order_relaxed);
    return seen;
}

void *carbs_malloc(size_t n)
{
    if (fault_hit())
        return NULL;
    return malloc(n ? n : 1);
}

void *carbs_realloc(void *p, size_t n)
{
    if (fault_hit())
        return NULL;
    return realloc(p, n ? n : 1);
}

int da__grow(void **v, size_t *cap, size_t need, size_t elem)
{
    size_t ncap;
    void *nv;

    if (need <= *cap)
        return 0;
    ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return CARBS_ENOMEM;
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / elem)
        return CARBS_ENOMEM;
    nv = carbs_realloc(*v, ncap * elem);
    if (!nv)
        return CARBS_ENOMEM;
    *v = nv;
    *cap = ncap;
    return 0;
}

// ---- parsing ----

int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double x;

    if (!s || !*s || *s == ' ' || *s == '\t' || *s == '\n')
        return CARBS_EINVAL;
    errno = 0;
    x = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(x))
        return CARBS_EINVAL;
    if (x < lo || x > hi)
        return CARBS_EINVAL;
    *out = x;
    return 0;
}

int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long x;

    if (!s || !*s || *s == ' ' || *s == '\t' || *s == '\n')
        return CARBS_EINVAL;
    errno = 0;
    x = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE)
        return CARBS_EINVAL;
    if (x < lo || x > hi)
        return CARBS_EINVAL;
    *out = x;
    return 0;
}

int parse_size(const char *s, size_t max, size_t *out)
{
    char *end;
    unsigned long long x;
    unsigned shift = 0;

    if (!s || *s < '0' || *s > '9')
        return CARBS_EINVAL;
    errno = 0;
    x = strtoull(s, &end, 10);
    if (end == s || errno == ERANGE)
        return CARBS_EINVAL;
    if (*end == 'k' || *end == 'K')
        shift = 10;
    else if (*end == 'M')
        shift = 20;
    else if (*end == 'G')
        shift = 30;
    if (shift)
        end++;
    if (*end != '\0')
        return CARBS_EINVAL;
    if (shift && x > (ULLONG_MAX >> shift))
        return CARBS_EINVAL;
    x <<= shift;
    if (x > max)
        return CARBS_EINVAL;
    *out = (size_t)x;
    return 0;
}

// ---- strings ----

int str_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (!cap)
        return CARBS_ETOOBIG;
    if (n >= cap) {
        memcpy(dst, src, cap - 1);
        dst[cap - 1] = '\0';
        return CARBS_ETOOBIG;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

bool utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        if (cp >= 0xD800 && cp <= 0xDFFF)
            return false;
        i += len;
    }
    return true;
}

double now_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
