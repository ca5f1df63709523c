/*
 * sweep.c - validate a sweep file's tree into a sweep_spec_t (DESIGN.md §6,
 * carbs-algorithm.md §2-§3, docs/sweep-file.md).
 *
 * The tree comes from sweep_tree.c with a line on every node, so each rule
 * below can name the file, the line and the field path of what it rejects.
 * Rules run in a fixed order (keys, then name, metric, cost, trainer,
 * command, synthetic, scaling, parameters, fixed, carbs, budget, then the
 * checks across sections), so a file with several problems always reports
 * the same first one.  Unknown keys suggest the nearest known one by edit
 * distance (adjacent transpositions count as one edit).
 */
#include "proto/common.h"
#include "proto/sweep.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <strings.h>

#include "proto/param.h"
#include "proto/sweep_internal.h"

/* Largest integer a double holds exactly; integer fields stay below it. */
#define INT53 9007199254740992.0
#define PATH_MAX_LEN 200

// ---- name tables ----

#define NAME_TABLE(fn_name, fn_parse, type, MAP, COUNT)                                            \
    static const char *const fn_name##_names[] = {MAP(NAME_ENTRY)};                                \
    const char *fn_name(type v)                                                                    \
    {                                                                                              \
        return ((size_t)v < (size_t)(COUNT)) ? fn_name##_names[v] : "unknown";                     \
    }                                                                                              \
    int fn_parse(const char *name)                                                                 \
    {                                                                                              \
        for (size_t i = 0; name && i < (size_t)(COUNT); i++)                                       \
            if (strcmp(name, fn_name##_names[i]) == 0)                                             \
                return (int)i;                                                                     \
        return -1;                                                                                 \
    }
#define NAME_ENTRY(id, name) name,

NAME_TABLE(sweep_goal_name, sweep_goal_parse, sweep_goal_t, SWEEP_GOAL_MAP, SWEEP_GOAL_COUNT)
NAME_TABLE(sweep_synth_name, sweep_synth_parse, sweep_synth_t, SWEEP_SYNTH_MAP, SWEEP_SYNTH_COUNT)

static const char *const trainer_names[] = {
#define X(id, name) name,
    PROTO_TRAINER_MAP(X)
#undef X
};
static const char *const metric_names[] = {
#define X(id, name) name,
    CARBS_METRIC_MAP(X)
#undef X
};
static const char *const tparam_names[] = {
#define X(id, name) name,
    CARBS_TRAINER_PARAM_MAP(X)
#undef X
};
static const char *const space_names[] = {"linear", "log", "logit"};

// ---- keys of each section ----

static const char *const top_keys[] = {"name",      "metric",  "cost",       "trainer",
                                       "command",   "synthetic", "scaling",  "parameters",
                                       "fixed",     "carbs",   "budget"};
static const char *const metric_keys[] = {"name", "goal"};
static const char *const cost_keys[] = {"name"};
static const char *const synth_keys[] = {"function", "seconds_per_cost", "fail_above",
                                         "fail_rate"};
static const char *const scaling_keys[] = {"model_size", "tokens"};
static const char *const param_keys[] = {"space", "min",     "max",  "center",
                                         "scale", "integer", "round", "values"};
/* Options of the reference that are about logging and checkpoints. */
static const char *const carbs_other_keys[] = {
    "is_wandb_logging_enabled", "wandb_params", "checkpoint_dir", "s3_checkpoint_path",
    "is_saved_on_every_observation"};
static const char *const budget_keys[] = {"trials", "cost", "parallel", "max_retries"};

// ---- context and errors ----

typedef struct vctx {
    const char *file;
    carbs_err_t *err;
} vctx_t;

static int vfail(vctx_t *c, const sweep__node_t *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int vfail(vctx_t *c, const sweep__node_t *at, const char *path, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (path && *path)
        return carbs_fail(c->err, CARBS_EINVAL, "%s:%d: %s: %s", c->file, at ? at->line : 1, path,
                          msg);
    return carbs_fail(c->err, CARBS_EINVAL, "%s:%d: %s", c->file, at ? at->line : 1, msg);
}

static int oom(vctx_t *c)
{
    return carbs_fail(c->err, CARBS_ENOMEM, "%s: out of memory", c->file);
}

/* Format a field path into dst[PATH_MAX_LEN]; a long one is cut short. */
static void pathf(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void pathf(char *dst, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(dst, PATH_MAX_LEN, fmt, ap);
    va_end(ap);
}

static void join(char *dst, const char *path, const char *key)
{
    if (!key)
        key = "";
    if (path && *path)
        pathf(dst, "%s.%s", path, key);
    else
        pathf(dst, "%s", key);
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
static const char *nearest(const char *s, const char *const *names, size_t n)
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
static const char *hint(char *buf, size_t cap, const char *s, const char *const *names, size_t n)
{
    const char *near = nearest(s, names, n);

    if (near)
        snprintf(buf, cap, " (did you mean '%s'?)", near);
    else
        buf[0] = '\0';
    return buf;
}

/* "a, b or c" into buf. */
static const char *one_of(char *buf, size_t cap, const char *const *names, size_t n)
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

static bool is_null(const sweep__node_t *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

    if (n->kind != SWEEP__SCALAR || n->quoted)
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(nulls); i++)
        if (strcmp(n->text, nulls[i]) == 0)
            return true;
    return false;
}

static const char *kind_word(const sweep__node_t *n)
{
    return n->kind == SWEEP__MAP ? "a mapping" : n->kind == SWEEP__SEQ ? "a list" : "a value";
}

/* The key node of key in map, or NULL. */
static const sweep__node_t *key_node(const sweep__node_t *map, const char *key)
{
    for (size_t i = 0; i + 1 < map->kids.n; i += 2)
        if (strcmp(map->kids.v[i].text, key) == 0)
            return &map->kids.v[i];
    return NULL;
}

/* The value of key in map, or NULL when absent or null. */
static const sweep__node_t *get(const sweep__node_t *map, const char *key)
{
    const sweep__node_t *k = key_node(map, key);

    if (!k || is_null(k + 1))
        return NULL;
    return k + 1;
}

/* Check that n is a mapping whose keys are unique and all in keys[]. */
static int check_map(vctx_t *c, const sweep__node_t *n, const char *path,
                     const char *const *keys, size_t n_keys)
{
    char p[PATH_MAX_LEN], h[160];

    if (n->kind == SWEEP__SCALAR)
        return vfail(c, n, path, "expected a mapping (got '%.40s')", n->text);
    if (n->kind != SWEEP__MAP)
        return vfail(c, n, path, "expected a mapping (got %s)", kind_word(n));
    for (size_t i = 0; i + 1 < n->kids.n; i += 2) {
        const sweep__node_t *k = &n->kids.v[i];
        bool known = keys == NULL;

        join(p, path, k->text);
        for (size_t j = 0; j < i; j += 2)
            if (strcmp(n->kids.v[j].text, k->text) == 0)
                return vfail(c, k, p, "duplicate key (first on line %d)", n->kids.v[j].line);
        for (size_t j = 0; !known && j < n_keys; j++)
            known = strcmp(k->text, keys[j]) == 0;
        if (known)
            continue;
        if (!nearest(k->text, keys, n_keys) && n_keys <= 8) {
            char all[128];
            return vfail(c, k, p, "unknown key (expected %s)", one_of(all, sizeof(all), keys,
                                                                        n_keys));
        }
        return vfail(c, k, p, "unknown key%s", hint(h, sizeof(h), k->text, keys, n_keys));
    }
    return 0;
}

// ---- scalars ----

static bool looks_nonfinite(const char *s)
{
    static const char *const words[] = {".inf", "-.inf", "+.inf", ".nan", "inf",      "-inf",
                                        "+inf", "nan",   "-nan", "infinity", "-infinity"};

    for (size_t i = 0; i < ARRAY_SIZE(words); i++)
        if (strcasecmp(s, words[i]) == 0)
            return true;
    return false;
}

/* A finite number.  Quoted strings are not numbers. */
static int num_of(vctx_t *c, const sweep__node_t *n, const char *path, double *out)
{
    if (n->kind != SWEEP__SCALAR)
        return vfail(c, n, path, "expected a number (got %s)", kind_word(n));
    if (!n->quoted && looks_nonfinite(n->text))
        return vfail(c, n, path, "must be a finite number (got %s)", n->text);
    if (n->quoted || parse_double(n->text, -HUGE_VAL, HUGE_VAL, out))
        return vfail(c, n, path, "expected a number (got '%.60s')", n->text);
    if (*out == 0)
        *out = 0; /* no negative zero */
    return 0;
}

static int int_of(vctx_t *c, const sweep__node_t *n, const char *path, double lo, double hi,
                  int64_t *out)
{
    double x;
    int rc = num_of(c, n, path, &x);

    if (rc < 0)
        return rc;
    if (x != floor(x))
        return vfail(c, n, path, "must be an integer (got %s)", n->text);
    if (x < lo || x > hi)
        return vfail(c, n, path, "must be in [%.0f, %.0f] (got %s)", lo, hi, n->text);
    *out = (int64_t)x;
    return 0;
}

/* True when n is a plain true/false (in YAML's three spellings). */
static bool bool_word(const sweep__node_t *n, bool *out)
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

static int bool_of(vctx_t *c, const sweep__node_t *n, const char *path, bool *out)
{
    if (bool_word(n, out))
        return 0;
    if (n->kind != SWEEP__SCALAR)
        return vfail(c, n, path, "expected true or false (got %s)", kind_word(n));
    return vfail(c, n, path, "expected true or false (got '%.60s')", n->text);
}

/* Letters, digits, '-', '_' and '.'; 1..63 bytes. */
static bool name_chars_ok(const char *s)
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

static int name_of(vctx_t *c, const sweep__node_t *n, const char *path, char *dst)
{
    if (n->kind != SWEEP__SCALAR)
        return vfail(c, n, path, "expected a name (got %s)", kind_word(n));
    if (!name_chars_ok(n->text))
        return vfail(c, n, path,
                     "'%.64s' is not a valid name (1 to %d letters, digits, '-', '_' or '.')",
                     n->text, CARBS_NAME_MAX - 1);
    str_copy(dst, CARBS_NAME_MAX, n->text);
    return 0;
}

/* One of names[]: its index. */
static int enum_of(vctx_t *c, const sweep__node_t *n, const char *path, const char *const *names,
                   size_t count, int *out)
{
    char all[160], h[96];

    if (n->kind != SWEEP__SCALAR)
        return vfail(c, n, path, "expected a string (got %s)", kind_word(n));
    for (size_t i = 0; i < count; i++) {
        if (strcmp(n->text, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    return vfail(c, n, path, "must be %s (got '%.40s')%s", one_of(all, sizeof(all), names, count),
                 n->text, hint(h, sizeof(h), n->text, names, count));
}

int sweep_name_check(const char *name, carbs_err_t *err)
{
    size_t digits = 0;

    if (!name || !name_chars_ok(name))
        return carbs_fail(err, CARBS_EINVAL,
                          "'%.64s' is not a valid name (1 to %d letters, digits, '-', '_' or '.')",
                          name ? name : "", CARBS_NAME_MAX - 1);
    while (name[digits] >= '0' && name[digits] <= '9')
        digits++;
    if (name[digits] == '\0')
        return carbs_fail(err, CARBS_EINVAL,
                          "'%s' is not a valid name (all digits would read as an id)", name);
    return 0;
}

// ---- sections ----

static int read_metric(vctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *m = get(root, "metric"), *v;
    int rc, goal = SWEEP_GOAL_MINIMIZE;

    if (!m)
        return vfail(c, key_node(root, "metric") ? key_node(root, "metric") : root, "metric",
                     "required (e.g. {name: val_loss, goal: minimize})");
    rc = check_map(c, m, "metric", metric_keys, ARRAY_SIZE(metric_keys));
    if (rc < 0)
        return rc;
    v = get(m, "name");
    if (!v)
        return vfail(c, m, "metric.name", "required");
    rc = name_of(c, v, "metric.name", s->metric.name);
    if (rc < 0)
        return rc;
    v = get(m, "goal");
    if (v) {
        static const char *const goals[] = {
#define X(id, name) name,
            SWEEP_GOAL_MAP(X)
#undef X
        };
        rc = enum_of(c, v, "metric.goal", goals, ARRAY_SIZE(goals), &goal);
        if (rc < 0)
            return rc;
    }
    s->metric.goal = (sweep_goal_t)goal;
    return 0;
}

static int read_cost(vctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *m = get(root, "cost"), *v;
    int rc;

    str_copy(s->cost.name, sizeof(s->cost.name), SWEEP_DEFAULT_COST);
    if (!m)
        return 0;
    rc = check_map(c, m, "cost", cost_keys, ARRAY_SIZE(cost_keys));
    if (rc < 0)
        return rc;
    v = get(m, "name");
    return v ? name_of(c, v, "cost.name", s->cost.name) : 0;
}

static int read_command(vctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *cmd = get(root, "command");
    char p[PATH_MAX_LEN];

    if (s->trainer != PROTO_TRAINER_COMMAND) {
        if (cmd)
            return vfail(c, cmd, "command", "only allowed with trainer: command (trainer is %s)",
                         proto_trainer_name(s->trainer));
        return 0;
    }
    if (!cmd)
        return vfail(c, key_node(root, "trainer") + 1, "command",
                     "required with trainer: command (e.g. [python3, train.py])");
    if (cmd->kind != SWEEP__SEQ)
        return vfail(c, cmd, "command", "expected a list of arguments (got %s)", kind_word(cmd));
    if (cmd->kids.n == 0)
        return vfail(c, cmd, "command", "must name a program");
    for (size_t i = 0; i < cmd->kids.n; i++) {
        const sweep__node_t *a = &cmd->kids.v[i];
        char *dup;

        pathf(p, "command[%zu]", i);
        if (a->kind != SWEEP__SCALAR || is_null(a))
            return vfail(c, a, p, "expected a string (got %s)",
                         a->kind == SWEEP__SCALAR ? "null" : kind_word(a));
        if (i == 0 && a->len == 0)
            return vfail(c, a, p, "the program must not be empty");
        dup = carbs_malloc(a->len + 1);
        if (!dup || DA_PUSH(&s->command, dup)) {
            free(dup);
            return oom(c);
        }
        memcpy(dup, a->text, a->len + 1);
    }
    return 0;
}

static int read_synthetic(vctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *m = get(root, "synthetic"), *v;
    char p[PATH_MAX_LEN];
    int rc, fn = 0;

    if (s->trainer != PROTO_TRAINER_SYNTHETIC) {
        if (m)
            return vfail(c, m, "synthetic", "only allowed with trainer: synthetic (trainer is %s)",
                         proto_trainer_name(s->trainer));
        return 0;
    }
    if (!m)
        return vfail(c, key_node(root, "trainer") + 1, "synthetic",
                     "required with trainer: synthetic (e.g. {function: branin})");
    rc = check_map(c, m, "synthetic", synth_keys, ARRAY_SIZE(synth_keys));
    if (rc < 0)
        return rc;
    v = get(m, "function");
    if (!v)
        return vfail(c, m, "synthetic.function", "required");
    {
        static const char *const fns[] = {
#define X(id, name) name,
            SWEEP_SYNTH_MAP(X)
#undef X
        };
        rc = enum_of(c, v, "synthetic.function", fns, ARRAY_SIZE(fns), &fn);
        if (rc < 0)
            return rc;
    }
    s->synthetic.function = (sweep_synth_t)fn;
    v = get(m, "seconds_per_cost");
    if (v) {
        rc = num_of(c, v, "synthetic.seconds_per_cost", &s->synthetic.seconds_per_cost);
        if (rc < 0)
            return rc;
        if (s->synthetic.seconds_per_cost < 0)
            return vfail(c, v, "synthetic.seconds_per_cost", "must be >= 0 (got %s)", v->text);
    }
    v = get(m, "fail_rate");
    if (v) {
        rc = num_of(c, v, "synthetic.fail_rate", &s->synthetic.fail_rate);
        if (rc < 0)
            return rc;
        if (s->synthetic.fail_rate < 0 || s->synthetic.fail_rate > 1)
            return vfail(c, v, "synthetic.fail_rate", "must be in [0, 1] (got %s)", v->text);
    }
    v = get(m, "fail_above");
    if (v) {
        rc = check_map(c, v, "synthetic.fail_above", NULL, 0);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i + 1 < v->kids.n; i += 2) {
            const sweep__node_t *k = &v->kids.v[i];
            char name[CARBS_NAME_MAX];
            double x;

            join(p, "synthetic.fail_above", k->text);
            rc = name_of(c, k, p, name);
            if (rc < 0)
                return rc;
            rc = num_of(c, k + 1, p, &x);
            if (rc < 0)
                return rc;
            if (carbs_params_set_num(&s->synthetic.fail_above, name, x))
                return oom(c);
        }
    }
    return 0;
}

static int read_scaling(vctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *m = get(root, "scaling"), *v;
    int rc;

    if (!m)
        return 0;
    rc = check_map(c, m, "scaling", scaling_keys, ARRAY_SIZE(scaling_keys));
    if (rc < 0)
        return rc;
    v = get(m, "model_size");
    if (v) {
        rc = name_of(c, v, "scaling.model_size", s->scaling.model_size);
        if (rc < 0)
            return rc;
    }
    v = get(m, "tokens");
    return v ? name_of(c, v, "scaling.tokens", s->scaling.tokens) : 0;
}

// ---- parameters ----

/* A categorical value in canonical text: a number is written in its
 * shortest exact form, anything else as given. */
static int cat_text(vctx_t *c, const sweep__node_t *n, const char *path, char *dst)
{
    double x;

    if (n->kind != SWEEP__SCALAR || is_null(n))
        return vfail(c, n, path, "expected a number or a string (got %s)",
                     n->kind == SWEEP__SCALAR ? "null" : kind_word(n));
    if (parse_double(n->text, -HUGE_VAL, HUGE_VAL, &x) == 0) {
        sweep__fmt_num(dst, CARBS_VALUE_MAX, x);
        return 0;
    }
    if (n->len == 0)
        return vfail(c, n, path, "must not be empty");
    if (n->len >= CARBS_VALUE_MAX)
        return vfail(c, n, path, "longer than %d bytes", CARBS_VALUE_MAX - 1);
    memcpy(dst, n->text, n->len + 1);
    return 0;
}

static int read_categorical(vctx_t *c, const sweep__node_t *m, const char *path,
                            carbs_param_t *p)
{
    static const char *const not_here[] = {"space", "min", "max", "scale", "integer", "round"};
    const sweep__node_t *vals = get(m, "values"), *v;
    char q[PATH_MAX_LEN], sub[PATH_MAX_LEN], center[CARBS_VALUE_MAX];
    int rc;

    for (size_t i = 0; i < ARRAY_SIZE(not_here); i++) {
        const sweep__node_t *k = key_node(m, not_here[i]);
        if (k) {
            join(q, path, not_here[i]);
            return vfail(c, k, q, "not allowed on a categorical parameter (one with values)");
        }
    }
    join(q, path, "values");
    if (vals->kind != SWEEP__SEQ)
        return vfail(c, vals, q, "expected a list (got %s)", kind_word(vals));
    if (vals->kids.n < 2 || vals->kids.n > CARBS_VALUES_MAX)
        return vfail(c, vals, q, "must list 2 to %d values (got %zu)", CARBS_VALUES_MAX,
                     vals->kids.n);
    p->space = CARBS_SPACE_CATEGORICAL;
    p->scale = 1;
    p->round = 1;
    for (size_t i = 0; i < vals->kids.n; i++) {
        pathf(sub, "%s[%zu]", q, i);
        rc = cat_text(c, &vals->kids.v[i], sub, p->values[i]);
        if (rc < 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->values[i], p->values[j]) == 0)
                return vfail(c, &vals->kids.v[i], sub, "duplicate value '%s' (also at [%zu])",
                             p->values[i], j);
        p->n_values = i + 1;
    }
    p->center = 0;
    v = get(m, "center");
    if (v) {
        join(q, path, "center");
        rc = cat_text(c, v, q, center);
        if (rc < 0)
            return rc;
        p->center = -1;
        for (size_t i = 0; i < p->n_values; i++)
            if (strcmp(center, p->values[i]) == 0)
                p->center = (double)i;
        if (p->center < 0)
            return vfail(c, v, q, "'%s' is not one of the values", center);
    }
    return 0;
}

/* The numeric fields of a parameter, in the order they are read. */
static const struct {
    unsigned field;
    const char *key;
} numeric_keys[] = {
    {PARAM_MIN, "min"}, {PARAM_MAX, "max"}, {PARAM_SCALE, "scale"},
    {PARAM_ROUND, "round"}, {PARAM_CENTER, "center"},
};

/* A linear, log or logit parameter: the keys read here, the rules and the
 * defaults by the one validator of proto/param.c. */
static int read_numeric(vctx_t *c, const sweep__node_t *pkey, const sweep__node_t *m,
                        const char *path, carbs_param_t *p)
{
    const sweep__node_t *v, *at;
    double *dst[] = {&p->min, &p->max, &p->scale, &p->round, &p->center};
    char q[PATH_MAX_LEN];
    param_fault_t f;
    unsigned given = 0;
    int rc, kind;

    join(q, path, "space");
    v = get(m, "space");
    if (!v)
        return vfail(c, pkey, q, "required: linear, log or logit (or values: [...] for a "
                                 "categorical)");
    if (v->kind == SWEEP__SCALAR && strcmp(v->text, "categorical") == 0)
        return vfail(c, v, q, "a categorical is given by values: [...], without space");
    rc = enum_of(c, v, q, space_names, ARRAY_SIZE(space_names), &kind);
    if (rc < 0)
        return rc;
    p->space = (carbs_space_kind_t)kind;
    for (size_t i = 0; i < ARRAY_SIZE(numeric_keys); i++) {
        v = get(m, numeric_keys[i].key);
        if (!v)
            continue;
        join(q, path, numeric_keys[i].key);
        rc = num_of(c, v, q, dst[i]);
        if (rc < 0)
            return rc;
        given |= numeric_keys[i].field;
    }
    v = get(m, "integer");
    if (v) {
        join(q, path, "integer");
        rc = bool_of(c, v, q, &p->is_integer);
        if (rc < 0)
            return rc;
    }
    v = get(m, "round");
    if (v && !p->is_integer) {
        join(q, path, "round");
        return vfail(c, v, q, "only allowed with integer: true");
    }
    if (param_numeric(p, given, &f) == 0)
        return 0;
    at = get(m, param_field_name(f.field));
    join(q, path, param_field_name(f.field));
    if (at && f.quote)
        return vfail(c, at, q, "%s (got %s)", f.why, at->text);
    return vfail(c, at ? at : pkey, q, "%s", f.why);
}

static int read_parameters(vctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *m = get(root, "parameters");
    char path[PATH_MAX_LEN], h[96];
    int rc;

    if (!m)
        return vfail(c, key_node(root, "parameters") ? key_node(root, "parameters") : root,
                     "parameters", "required: at least one parameter to search");
    rc = check_map(c, m, "parameters", NULL, 0);
    if (rc < 0)
        return rc;
    if (m->kids.n == 0)
        return vfail(c, m, "parameters", "required: at least one parameter to search");
    for (size_t i = 0; i + 1 < m->kids.n; i += 2) {
        const sweep__node_t *k = &m->kids.v[i], *v = k + 1;
        carbs_param_t p;

        memset(&p, 0, sizeof(p));
        join(path, "parameters", k->text);
        rc = name_of(c, k, path, p.name);
        if (rc < 0)
            return rc;
        if (s->trainer == PROTO_TRAINER_EMBEDDED && carbs_trainer_param_parse(p.name) < 0)
            return vfail(c, k, path,
                         "not an embedded-trainer parameter%s",
                         nearest(p.name, tparam_names, ARRAY_SIZE(tparam_names))
                             ? hint(h, sizeof(h), p.name, tparam_names, ARRAY_SIZE(tparam_names))
                             : " (see 'carbs sweep --help' for the list)");
        if (is_null(v))
            return vfail(c, v, path, "expected a mapping (e.g. {space: log, min: 1, max: 10})");
        rc = check_map(c, v, path, param_keys, ARRAY_SIZE(param_keys));
        if (rc < 0)
            return rc;
        if (get(v, "values"))
            rc = read_categorical(c, v, path, &p);
        else
            rc = read_numeric(c, k, v, path, &p);
        if (rc < 0)
            return rc;
        if (carbs_space_add(&s->parameters, &p))
            return oom(c);
    }
    return 0;
}

static int read_fixed(vctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *m = get(root, "fixed"), *params = get(root, "parameters");
    char path[PATH_MAX_LEN], h[96];
    int rc;

    if (!m)
        return 0;
    rc = check_map(c, m, "fixed", NULL, 0);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i + 1 < m->kids.n; i += 2) {
        const sweep__node_t *k = &m->kids.v[i], *v = k + 1, *also;
        char name[CARBS_NAME_MAX];
        double x;
        bool b;

        join(path, "fixed", k->text);
        rc = name_of(c, k, path, name);
        if (rc < 0)
            return rc;
        if (s->trainer == PROTO_TRAINER_EMBEDDED && carbs_trainer_param_parse(name) < 0)
            return vfail(c, k, path, "not an embedded-trainer parameter%s",
                         nearest(name, tparam_names, ARRAY_SIZE(tparam_names))
                             ? hint(h, sizeof(h), name, tparam_names, ARRAY_SIZE(tparam_names))
                             : " (see 'carbs sweep --help' for the list)");
        also = params ? key_node(params, name) : NULL;
        if (also)
            return vfail(c, k, path, "both searched (line %d) and fixed", also->line);
        if (v->kind != SWEEP__SCALAR || is_null(v))
            return vfail(c, v, path, "expected a number, a string or a boolean (got %s)",
                         v->kind == SWEEP__SCALAR ? "null" : kind_word(v));
        if (!v->quoted && looks_nonfinite(v->text))
            return vfail(c, v, path, "must be a finite number (got %s)", v->text);
        if (!v->quoted && parse_double(v->text, -HUGE_VAL, HUGE_VAL, &x) == 0) {
            rc = carbs_params_set_num(&s->fixed, name, x == 0 ? 0 : x);
        } else if (bool_word(v, &b)) {
            rc = carbs_params_set_num(&s->fixed, name, b ? 1 : 0);
        } else {
            if (v->len >= CARBS_VALUE_MAX)
                return vfail(c, v, path, "longer than %d bytes", CARBS_VALUE_MAX - 1);
            rc = carbs_params_set_str(&s->fixed, name, v->text);
        }
        if (rc < 0)
            return oom(c);
    }
    return 0;
}

// ---- carbs options and budget ----

/* One option of the carbs section, checked by the options table. */
static int read_option(vctx_t *c, const sweep__node_t *v, const char *path,
                       const carbs_config_opt_t *opt, carbs_config_t *o)
{
    char why[160];
    double x;
    bool b;
    int rc, idx;

    switch (opt->type) {
    case CARBS_CONFIG_BOOL:
        rc = bool_of(c, v, path, &b);
        return rc < 0 ? rc : carbs_config_set_bool(o, opt, b, why, sizeof(why));
    case CARBS_CONFIG_ENUM:
        rc = enum_of(c, v, path, opt->names, opt->n_names, &idx);
        return rc < 0 ? rc : carbs_config_set_name(o, opt, opt->names[idx], why, sizeof(why));
    default:
        rc = num_of(c, v, path, &x);
        if (rc < 0)
            return rc;
        if (carbs_config_set_num(o, opt, x, why, sizeof(why)) < 0)
            return vfail(c, v, path, "%s (got %s)", why, v->text);
        return 0;
    }
}

static int read_carbs(vctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *m = get(root, "carbs");
    const char *keys[CARBS_CONFIG_N_OPTS];
    size_t n_keys = 0;
    char q[PATH_MAX_LEN];
    int rc;

    carbs_config_defaults(&s->carbs);
    s->carbs.better_direction_sign = s->metric.goal == SWEEP_GOAL_MAXIMIZE ? 1 : -1;
    if (!m)
        return 0;
    for (size_t i = 0; m->kind == SWEEP__MAP && i + 1 < m->kids.n; i += 2) {
        const sweep__node_t *k = &m->kids.v[i];
        const carbs_config_opt_t *opt = carbs_config_find(k->text);

        join(q, "carbs", k->text);
        if (opt && opt->flags & CARBS_CONFIG_DERIVED)
            return vfail(c, k, q, "set by metric.goal (minimize or maximize)");
        for (size_t j = 0; j < ARRAY_SIZE(carbs_other_keys); j++)
            if (strcmp(k->text, carbs_other_keys[j]) == 0)
                return vfail(c, k, q, "a logging option of the reference CARBS; not used here");
    }
    for (size_t i = 0; i < CARBS_CONFIG_N_OPTS; i++)
        if (!(carbs_config_opts[i].flags & CARBS_CONFIG_DERIVED))
            keys[n_keys++] = carbs_config_opts[i].name;
    rc = check_map(c, m, "carbs", keys, n_keys);
    /* in the table's order, so several bad options report the same first */
    for (size_t i = 0; rc == 0 && i < CARBS_CONFIG_N_OPTS; i++) {
        const carbs_config_opt_t *opt = &carbs_config_opts[i];
        const sweep__node_t *v = get(m, opt->name);

        if (!v)
            continue;
        join(q, "carbs", opt->name);
        rc = read_option(c, v, q, opt, &s->carbs);
    }
    return rc;
}

static int read_budget(vctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *m = get(root, "budget"), *v;
    sweep_budget_t *b = &s->budget;
    int64_t x;
    int rc;

    b->trials = 0;
    b->cost = 0;
    b->parallel = 1;
    b->max_retries = 3;
    if (!m)
        return 0;
    rc = check_map(c, m, "budget", budget_keys, ARRAY_SIZE(budget_keys));
    if (rc < 0)
        return rc;
    v = get(m, "trials");
    if (v) {
        rc = int_of(c, v, "budget.trials", 0, INT53, &b->trials);
        if (rc < 0)
            return rc;
    }
    v = get(m, "cost");
    if (v) {
        rc = num_of(c, v, "budget.cost", &b->cost);
        if (rc < 0)
            return rc;
        if (b->cost < 0)
            return vfail(c, v, "budget.cost", "must be >= 0 (got %s)", v->text);
    }
    v = get(m, "parallel");
    if (v) {
        rc = int_of(c, v, "budget.parallel", 1, 1e6, &x);
        if (rc < 0)
            return rc;
        b->parallel = (int)x;
    }
    v = get(m, "max_retries");
    if (v) {
        rc = int_of(c, v, "budget.max_retries", 0, 1e6, &x);
        if (rc < 0)
            return rc;
        b->max_retries = (int)x;
    }
    return 0;
}

// ---- checks across sections ----

static bool is_number_text(const char *s)
{
    double x;

    return parse_double(s, -HUGE_VAL, HUGE_VAL, &x) == 0;
}

/* Embedded trainer: metric names from the one list, decay a cosine/linear
 * choice, every other parameter (tie_embeddings aside) numeric. */
static int check_embedded(vctx_t *c, const sweep__node_t *root, const sweep_spec_t *s)
{
    static const char *const decays[] = {"cosine", "linear"};
    const sweep__node_t *params = get(root, "parameters"), *fixed = get(root, "fixed");
    char path[PATH_MAX_LEN], h[96];
    struct {
        const char *path, *section, *key, *value;
    } names[] = {
        {"metric.name", "metric", "name", s->metric.name},
        {"cost.name", "cost", "name", s->cost.name},
        {"scaling.model_size", "scaling", "model_size", s->scaling.model_size},
        {"scaling.tokens", "scaling", "tokens", s->scaling.tokens},
    };

    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        const sweep__node_t *sec, *at;

        if (!names[i].value[0] || carbs_metric_parse(names[i].value) >= 0)
            continue;
        sec = get(root, names[i].section);
        at = sec ? get(sec, names[i].key) : NULL;
        return vfail(c, at ? at : root, names[i].path,
                     "'%s' is not a metric the embedded trainer reports%s", names[i].value,
                     hint(h, sizeof(h), names[i].value, metric_names, ARRAY_SIZE(metric_names)));
    }
    for (size_t i = 0; i < s->parameters.n; i++) {
        const carbs_param_t *p = &s->parameters.v[i];
        const sweep__node_t *k = key_node(params, p->name);
        bool is_decay = strcmp(p->name, "decay") == 0;

        join(path, "parameters", p->name);
        if (strcmp(p->name, "tie_embeddings") == 0)
            continue;
        if (is_decay && p->space != CARBS_SPACE_CATEGORICAL)
            return vfail(c, k, path, "must be a categorical of cosine and linear");
        for (size_t j = 0; j < p->n_values; j++) {
            if (is_decay && strcmp(p->values[j], decays[0]) && strcmp(p->values[j], decays[1]))
                return vfail(c, k, path, "decay values must be cosine or linear (got '%s')",
                             p->values[j]);
            if (!is_decay && !is_number_text(p->values[j]))
                return vfail(c, k, path, "values must be numbers for the embedded trainer "
                                         "(got '%s')",
                             p->values[j]);
        }
    }
    for (size_t i = 0; fixed && i + 1 < fixed->kids.n; i += 2) {
        const sweep__node_t *k = &fixed->kids.v[i];
        const carbs_value_t *v = carbs_params_find(&s->fixed, k->text);
        bool is_decay = strcmp(k->text, "decay") == 0;

        join(path, "fixed", k->text);
        if (strcmp(k->text, "tie_embeddings") == 0)
            continue;
        if (is_decay && (!v->is_str || (strcmp(v->str, decays[0]) && strcmp(v->str, decays[1]))))
            return vfail(c, k + 1, path, "must be cosine or linear (got '%s')", k[1].text);
        if (!is_decay && v->is_str)
            return vfail(c, k + 1, path, "must be a number for the embedded trainer (got '%s')",
                         v->str);
    }
    return 0;
}

/* True when name is a searched numeric parameter or a numeric fixed value. */
static bool has_number(const sweep_spec_t *s, const char *name)
{
    const carbs_param_t *p = carbs_space_find(&s->parameters, name);
    const carbs_value_t *v = carbs_params_find(&s->fixed, name);

    return (p && p->space != CARBS_SPACE_CATEGORICAL) || (v && !v->is_str);
}

/* The inputs each synthetic function reads by name (worker/synthetic.h):
 * branin x, y; hartmann6 x1..x6; rosenbrock x1, x2, ...; sphere x1, ...;
 * scaling n_params (or d_model and n_layers) and tokens. */
static int check_synthetic(vctx_t *c, const sweep__node_t *root, const sweep_spec_t *s)
{
    static const char *const needs[SWEEP_SYNTH_COUNT][7] = {
        [SWEEP_SYNTH_BRANIN] = {"x", "y"},
        [SWEEP_SYNTH_HARTMANN6] = {"x1", "x2", "x3", "x4", "x5", "x6"},
        [SWEEP_SYNTH_ROSENBROCK] = {"x1", "x2"},
        [SWEEP_SYNTH_SPHERE] = {"x1"},
        [SWEEP_SYNTH_SCALING] = {"tokens"},
    };
    const sweep__node_t *m = get(root, "synthetic"), *fa = get(m, "fail_above");
    const sweep__node_t *fn = get(m, "function");
    const char *name = sweep_synth_name(s->synthetic.function);
    char path[PATH_MAX_LEN];

    for (size_t i = 0; i < 7 && needs[s->synthetic.function][i]; i++) {
        const char *need = needs[s->synthetic.function][i];
        if (!has_number(s, need))
            return vfail(c, fn, "synthetic.function",
                         "'%s' reads a number '%s' from the parameters or fixed (not found)",
                         name, need);
    }
    if (s->synthetic.function == SWEEP_SYNTH_SCALING && !has_number(s, "n_params") &&
        !(has_number(s, "d_model") && has_number(s, "n_layers")))
        return vfail(c, fn, "synthetic.function",
                     "'scaling' reads n_params, or d_model and n_layers, from the parameters or "
                     "fixed (not found)");
    for (size_t i = 0; fa && i + 1 < fa->kids.n; i += 2) {
        const char *key = fa->kids.v[i].text;

        join(path, "synthetic.fail_above", key);
        if (!has_number(s, key) && strcmp(key, "output") != 0 && strcmp(key, "cost") != 0)
            return vfail(c, &fa->kids.v[i], path,
                         "not a numeric parameter or fixed value (nor output or cost)");
    }
    return 0;
}

// ---- entry points ----

static int build(vctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *v;
    int rc, trainer;
    static const char *const eg = "e.g. tiny-lm";

    if (root->kind != SWEEP__MAP)
        return vfail(c, root, NULL, "expected a mapping of sweep keys at the top (got %s)",
                     kind_word(root));
    rc = check_map(c, root, "", top_keys, ARRAY_SIZE(top_keys));
    if (rc < 0)
        return rc;
    v = get(root, "name");
    if (!v)
        return vfail(c, key_node(root, "name") ? key_node(root, "name") : root, "name",
                     "required (%s)", eg);
    rc = name_of(c, v, "name", s->name);
    if (rc < 0)
        return rc;
    if (sweep_name_check(s->name, NULL) < 0)
        return vfail(c, v, "name", "must not be all digits (it would read as a sweep id)");
    rc = read_metric(c, root, s);
    if (rc == 0)
        rc = read_cost(c, root, s);
    if (rc < 0)
        return rc;
    v = get(root, "trainer");
    if (!v)
        return vfail(c, key_node(root, "trainer") ? key_node(root, "trainer") : root, "trainer",
                     "required: embedded, command or synthetic");
    rc = enum_of(c, v, "trainer", trainer_names, ARRAY_SIZE(trainer_names), &trainer);
    if (rc < 0)
        return rc;
    s->trainer = (proto_trainer_t)trainer;
    rc = read_command(c, root, s);
    if (rc == 0)
        rc = read_synthetic(c, root, s);
    if (rc == 0)
        rc = read_scaling(c, root, s);
    if (rc == 0)
        rc = read_parameters(c, root, s);
    if (rc == 0)
        rc = read_fixed(c, root, s);
    if (rc == 0)
        rc = read_carbs(c, root, s);
    if (rc == 0)
        rc = read_budget(c, root, s);
    if (rc == 0 && s->trainer == PROTO_TRAINER_EMBEDDED)
        rc = check_embedded(c, root, s);
    if (rc == 0 && s->trainer == PROTO_TRAINER_SYNTHETIC)
        rc = check_synthetic(c, root, s);
    return rc;
}

static int parse_as(const char *text, size_t len, const char *filename, int format,
                    sweep_spec_t *out, carbs_err_t *err)
{
    vctx_t c = {.file = filename ? filename : "<input>", .err = err};
    sweep__node_t tree;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!text)
        return carbs_fail(err, CARBS_EINVAL, "%s: no text", c.file);
    if (len > SWEEP_FILE_MAX)
        return carbs_fail(err, CARBS_EINVAL, "%s: larger than %d bytes", c.file, SWEEP_FILE_MAX);
    rc = sweep__read(text, len, c.file, format, &tree, err);
    if (rc < 0)
        return rc;
    rc = build(&c, &tree.kids.v[0], out);
    sweep__node_release(&tree);
    if (rc < 0)
        sweep_spec_release(out);
    return rc;
}

int sweep_spec_parse(const char *text, size_t len, const char *filename, sweep_spec_t *out,
                     carbs_err_t *err)
{
    return parse_as(text, len, filename, SWEEP__AUTO, out, err);
}

int sweep_spec_from_json(const char *json, sweep_spec_t *out, carbs_err_t *err)
{
    return parse_as(json, json ? strlen(json) : 0, "spec", SWEEP__JSON, out, err);
}

int sweep_spec_load(const char *path, sweep_spec_t *out, carbs_err_t *err)
{
    FILE *f = NULL;
    char *buf = NULL;
    size_t n = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    f = fopen(path, "rb");
    if (!f) {
        rc = carbs_fail(err, CARBS_EIO, "cannot open '%s': %s", path, strerror(errno));
        goto out;
    }
    buf = carbs_malloc(SWEEP_FILE_MAX + 1);
    if (!buf) {
        rc = carbs_fail(err, CARBS_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    n = fread(buf, 1, SWEEP_FILE_MAX + 1, f);
    if (ferror(f)) {
        rc = carbs_fail(err, CARBS_EIO, "cannot read '%s': %s", path, strerror(errno));
        goto out;
    }
    rc = sweep_spec_parse(buf, n, path, out, err);
out:
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

void sweep_spec_release(sweep_spec_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->command.n; i++)
        free(s->command.v[i]);
    DA_FREE(&s->command);
    carbs_params_release(&s->synthetic.fail_above);
    carbs_space_release(&s->parameters);
    carbs_params_release(&s->fixed);
    memset(s, 0, sizeof(*s));
}
