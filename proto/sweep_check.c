/*
 * sweep_check.c - reading one node of a sweep file's tree: the error
 * format, field paths, the nearest-name hint for typos, and the scalar
 * readers (number, integer, boolean, name, one of a list) that every
 * section of sweep.c and sweep_param.c uses (docs/sweep-file.md "Errors").
 *
 * Every failure is CARBS_EINVAL "FILE:LINE: PATH: what is wrong", the line
 * that of the node at fault; unknown keys suggest the nearest known one by
 * edit distance (adjacent transpositions count as one edit).
 */
#include "proto/common.h"
#include "proto/sweep.h"

#include <math.h>
#include <stdarg.h>
#include <strings.h>

#include "proto/sweep_internal.h"

// ---- context and errors ----

int sweep__argv_push(sweep_argv_t *a, const char *s)
{
    char *dup = carbs_malloc(strlen(s) + 1);

    if (!dup || DA_PUSH(a, dup)) {
        free(dup);
        return CARBS_ENOMEM;
    }
    memcpy(dup, s, strlen(s) + 1);
    return 0;
}

void sweep_argv_release(sweep_argv_t *a)
{
    for (size_t i = 0; a && i < a->n; i++)
        free(a->v[i]);
    if (a)
        DA_FREE(a);
}

static int vfail(sweep__ctx_t *c, const sweep__node_t *at, const char *path, const char *fmt,
                 va_list ap)
{
    char msg[256], line[512];
    int n = at ? at->line : 1;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (path && *path)
        snprintf(line, sizeof(line), "%s:%d: %s: %s", c->file, n, path, msg);
    else
        snprintf(line, sizeof(line), "%s:%d: %s", c->file, n, msg);
    if (c->n_errors++ == 0)
        carbs_fail(c->err, CARBS_EINVAL, "%s", line);
    if (c->errors && sweep__argv_push(c->errors, line))
        return sweep__oom(c);
    return CARBS_EINVAL;
}

int sweep__fail(sweep__ctx_t *c, const sweep__node_t *at, const char *path, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vfail(c, at, path, fmt, ap);
    va_end(ap);
    return rc;
}

int sweep__missing(sweep__ctx_t *c, const sweep__node_t *at, const char *path, const char *fmt,
                   ...)
{
    va_list ap;
    int rc;

    for (size_t i = 0; path && i < c->hinted.n; i++)
        if (strcmp(c->hinted.v[i], path) == 0)
            return CARBS_EINVAL; /* the typo is the error */
    va_start(ap, fmt);
    rc = vfail(c, at, path, fmt, ap);
    va_end(ap);
    return rc;
}

int sweep__oom(sweep__ctx_t *c)
{
    c->oom = true;
    return carbs_fail(c->err, CARBS_ENOMEM, "%s: out of memory", c->file);
}

void sweep__pathf(char *dst, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(dst, SWEEP__PATH_MAX, fmt, ap);
    va_end(ap);
}

void sweep__join(char *dst, const char *path, const char *key)
{
    if (!key)
        key = "";
    if (path && *path)
        sweep__pathf(dst, "%s.%s", path, key);
    else
        sweep__pathf(dst, "%s", key);
}

// ---- nearest name ----

/* Optimal-string-alignment distance, capped: long strings give a big one. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    size_t d[CARBS_NAME_MAX + 1][CARBS_NAME_MAX + 1];

    if (n > CARBS_NAME_MAX || m > CARBS_NAME_MAX)
        return SIZE_MAX;
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[n][m];
}

/* The candidate nearest to s when it is close enough to be a typo, else
 * NULL: at most 1 edit for short names, 2 for names of 5 or more bytes. */
const char *sweep__nearest(const char *s, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX, len = strlen(s);
    size_t limit = len >= 5 ? 2 : 1;

    for (size_t i = 0; i < n; i++) {
        size_t dist = edit_distance(s, names[i]);
        if (dist < best_d) {
            best_d = dist;
            best = names[i];
        }
    }
    return best_d <= limit && best_d < len ? best : NULL;
}

/* " (did you mean 'x'?)" or "" into buf. */
const char *sweep__hint(char *buf, size_t cap, const char *s, const char *const *names, size_t n)
{
    const char *near = sweep__nearest(s, names, n);

    if (near)
        snprintf(buf, cap, " (did you mean '%s'?)", near);
    else
        buf[0] = '\0';
    return buf;
}

/* "a, b or c" into buf. */
const char *sweep__one_of(char *buf, size_t cap, const char *const *names, size_t n)
{
    size_t k = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && k < cap; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int w = snprintf(buf + k, cap - k, "%s%s", sep, names[i]);
        if (w < 0)
            break;
        k += (size_t)w;
    }
    return buf;
}

// ---- tree access ----

bool sweep__is_null(const sweep__node_t *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

    if (n->kind != SWEEP__SCALAR || n->quoted)
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(nulls); i++)
        if (strcmp(n->text, nulls[i]) == 0)
            return true;
    return false;
}

const char *sweep__kind_word(const sweep__node_t *n)
{
    return n->kind == SWEEP__MAP ? "a mapping" : n->kind == SWEEP__SEQ ? "a list" : "a value";
}

/* The key node of key in map, or NULL. */
const sweep__node_t *sweep__key_node(const sweep__node_t *map, const char *key)
{
    for (size_t i = 0; i + 1 < map->kids.n; i += 2)
        if (strcmp(map->kids.v[i].text, key) == 0)
            return &map->kids.v[i];
    return NULL;
}

/* The value of key in map, or NULL when absent or null. */
const sweep__node_t *sweep__get(const sweep__node_t *map, const char *key)
{
    const sweep__node_t *k = sweep__key_node(map, key);

    if (!k || sweep__is_null(k + 1))
        return NULL;
    return k + 1;
}

/* Check that n is a mapping whose keys are unique and all in keys[]. */
int sweep__check_map(sweep__ctx_t *c, const sweep__node_t *n, const char *path,
                     const char *const *keys, size_t n_keys)
{
    char p[SWEEP__PATH_MAX], h[160];
    int rc = 0;

    if (n->kind == SWEEP__SCALAR)
        return sweep__fail(c, n, path, "expected a mapping (got '%.40s')", n->text);
    if (n->kind != SWEEP__MAP)
        return sweep__fail(c, n, path, "expected a mapping (got %s)", sweep__kind_word(n));
    for (size_t i = 0; i + 1 < n->kids.n && !c->oom; i += 2) {
        const sweep__node_t *k = &n->kids.v[i];
        const char *near;
        bool known = keys == NULL, dup = false;

        sweep__join(p, path, k->text);
        for (size_t j = 0; j < i && !dup; j += 2) {
            if (strcmp(n->kids.v[j].text, k->text) == 0) {
                rc = sweep__fail(c, k, p, "duplicate key (first on line %d)", n->kids.v[j].line);
                dup = true;
            }
        }
        for (size_t j = 0; !known && j < n_keys; j++)
            known = strcmp(k->text, keys[j]) == 0;
        if (known || dup)
            continue;
        near = sweep__nearest(k->text, keys, n_keys);
        if (!near && n_keys <= 8) {
            char all[128];
            rc = sweep__fail(c, k, p, "unknown key (expected %s)",
                             sweep__one_of(all, sizeof(all), keys, n_keys));
            continue;
        }
        rc = sweep__fail(c, k, p, "unknown key%s", sweep__hint(h, sizeof(h), k->text, keys, n_keys));
        if (near && !sweep__key_node(n, near)) {
            sweep__join(p, path, near);
            if (sweep__argv_push(&c->hinted, p))
                return sweep__oom(c);
        }
    }
    return c->oom ? CARBS_ENOMEM : rc;
}

// ---- scalars ----

bool sweep__looks_nonfinite(const char *s)
{
    static const char *const words[] = {".inf", "-.inf", "+.inf", ".nan",     "inf",      "-inf",
                                        "+inf", "nan",   "-nan",  "infinity", "-infinity"};

    for (size_t i = 0; i < ARRAY_SIZE(words); i++)
        if (strcasecmp(s, words[i]) == 0)
            return true;
    return false;
}

/* A finite number.  Quoted strings are not numbers. */
int sweep__num(sweep__ctx_t *c, const sweep__node_t *n, const char *path, double *out)
{
    if (n->kind != SWEEP__SCALAR)
        return sweep__fail(c, n, path, "expected a number (got %s)", sweep__kind_word(n));
    if (!n->quoted && sweep__looks_nonfinite(n->text))
        return sweep__fail(c, n, path, "must be a finite number (got %s)", n->text);
    if (n->quoted || parse_double(n->text, -HUGE_VAL, HUGE_VAL, out))
        return sweep__fail(c, n, path, "expected a number (got '%.60s')", n->text);
    if (*out == 0)
        *out = 0; /* no negative zero */
    return 0;
}

int sweep__int(sweep__ctx_t *c, const sweep__node_t *n, const char *path, double lo, double hi,
               int64_t *out)
{
    double x;
    int rc = sweep__num(c, n, path, &x);

    if (rc < 0)
        return rc;
    if (x != floor(x))
        return sweep__fail(c, n, path, "must be an integer (got %s)", n->text);
    if (x < lo || x > hi)
        return sweep__fail(c, n, path, "must be in [%.0f, %.0f] (got %s)", lo, hi, n->text);
    *out = (int64_t)x;
    return 0;
}

/* True when n is a plain true/false (in YAML's three spellings). */
bool sweep__bool_word(const sweep__node_t *n, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE"};
    static const char *const no[] = {"false", "False", "FALSE"};

    if (n->kind != SWEEP__SCALAR || n->quoted)
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcmp(n->text, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(n->text, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

int sweep__bool(sweep__ctx_t *c, const sweep__node_t *n, const char *path, bool *out)
{
    if (sweep__bool_word(n, out))
        return 0;
    if (n->kind != SWEEP__SCALAR)
        return sweep__fail(c, n, path, "expected true or false (got %s)", sweep__kind_word(n));
    return sweep__fail(c, n, path, "expected true or false (got '%.60s')", n->text);
}

/* Letters, digits, '-', '_' and '.'; 1..63 bytes. */
bool sweep__name_chars_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= CARBS_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
        if (!ok)
            return false;
    }
    return true;
}

int sweep__name(sweep__ctx_t *c, const sweep__node_t *n, const char *path, char *dst)
{
    if (n->kind != SWEEP__SCALAR)
        return sweep__fail(c, n, path, "expected a name (got %s)", sweep__kind_word(n));
    if (!sweep__name_chars_ok(n->text))
        return sweep__fail(c, n, path,
                           "'%.64s' is not a valid name (1 to %d letters, digits, '-', '_' or '.')",
                           n->text, CARBS_NAME_MAX - 1);
    str_copy(dst, CARBS_NAME_MAX, n->text);
    return 0;
}

/* One of names[]: its index. */
int sweep__enum(sweep__ctx_t *c, const sweep__node_t *n, const char *path, const char *const *names,
                size_t count, int *out)
{
    char all[160], h[96];

    if (n->kind != SWEEP__SCALAR)
        return sweep__fail(c, n, path, "expected a string (got %s)", sweep__kind_word(n));
    for (size_t i = 0; i < count; i++) {
        if (strcmp(n->text, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    return sweep__fail(c, n, path, "must be %s (got '%.40s')%s",
                       sweep__one_of(all, sizeof(all), names, count), n->text,
                       sweep__hint(h, sizeof(h), n->text, names, count));
}
