/*
 * sweep.c - validate a sweep file's tree into a sweep_spec_t
 * (docs/sweep-file.md).
 *
 * The tree comes from sweep_tree.c with a line on every node, so each rule
 * below can name the file, the line and the field path of what it rejects.
 * Rules run in a fixed order (keys, then name, metric, cost, trainer,
 * command, synthetic, scaling, parameters, fixed, carbs, budget, then the
 * checks across sections), so a file with several problems always reports
 * them in the same order, the same first.  A check that fails records its
 * error and the next one runs (sweep_internal.h, sweep__ctx_t).  A W&B
 * sweep file is told apart by its keys and converted by sweep_wandb.c.  Reading single nodes (errors, hints, scalars) is in
 * sweep_check.c, a numeric parameter's rules in param.c, the carbs options
 * in carbs_config.c.
 */
#include "proto/common.h"
#include "proto/sweep.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>

#include "proto/param.h"
#include "proto/sweep_internal.h"

/* Largest integer a double holds exactly; integer fields stay below it. */
#define INT53 9007199254740992.0

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

static const char *const top_keys[] = {"name",       "metric", "cost",  "trainer",
                                       "command",    "synthetic", "scaling", "parameters",
                                       "fixed",      "carbs",  "budget", "notes"};
static const char *const metric_keys[] = {"name", "goal"};
static const char *const cost_keys[] = {"name"};
static const char *const synth_keys[] = {"function", "seconds_per_cost", "fail_above",
                                         "fail_rate"};
static const char *const scaling_keys[] = {"model_size", "tokens"};
static const char *const param_keys[] = {"space", "min",     "max",   "center",
                                         "scale", "integer", "round", "values"};
/* Options of the reference that are about logging and checkpoints. */
static const char *const carbs_other_keys[] = {
    "is_wandb_logging_enabled", "wandb_params", "checkpoint_dir", "s3_checkpoint_path",
    "is_saved_on_every_observation"};
static const char *const budget_keys[] = {"trials", "cost", "parallel", "max_retries",
                                          "max_consecutive_failures"};

int sweep_name_check(const char *name, carbs_err_t *err)
{
    size_t digits = 0;

    if (!name || !sweep__name_chars_ok(name))
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

int sweep__read_metric(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s,
                       const char *const *keys, size_t n_keys, const char *eg)
{
    static const char *const goals[] = {
#define X(id, name) name,
        SWEEP_GOAL_MAP(X)
#undef X
    };
    const sweep__node_t *m = sweep__get(root, "metric"), *v;
    int rc, goal = SWEEP_GOAL_MINIMIZE;

    if (!m)
        return sweep__missing(
            c, sweep__key_node(root, "metric") ? sweep__key_node(root, "metric") : root, "metric",
            "required%s", eg);
    rc = sweep__check_map(c, m, "metric", keys, n_keys);
    if (rc < 0 && m->kind != SWEEP__MAP)
        return rc; /* else read the known keys too */
    v = sweep__get(m, "name");
    rc = v ? sweep__name(c, v, "metric.name", s->metric.name)
           : sweep__missing(c, m, "metric.name", "required");
    v = sweep__get(m, "goal");
    if (v && sweep__enum(c, v, "metric.goal", goals, ARRAY_SIZE(goals), &goal) < 0)
        return CARBS_EINVAL;
    s->metric.goal = (sweep_goal_t)goal;
    return rc;
}

static int read_metric(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    return sweep__read_metric(c, root, s, metric_keys, ARRAY_SIZE(metric_keys),
                              " (e.g. {name: val_loss, goal: minimize})");
}

int sweep__read_cost(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *m = sweep__get(root, "cost"), *v;
    int rc;

    str_copy(s->cost.name, sizeof(s->cost.name), SWEEP_DEFAULT_COST);
    if (!m)
        return 0;
    rc = sweep__check_map(c, m, "cost", cost_keys, ARRAY_SIZE(cost_keys));
    if (rc < 0 && m->kind != SWEEP__MAP)
        return rc; /* else read the known keys too */
    v = sweep__get(m, "name");
    return v ? sweep__name(c, v, "cost.name", s->cost.name) : 0;
}

static int read_command(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *cmd = sweep__get(root, "command");
    char p[SWEEP__PATH_MAX];
    int rc = 0;

    if (c->trainer_unknown)
        return 0;
    if (s->trainer != PROTO_TRAINER_COMMAND) {
        if (cmd)
            return sweep__fail(c, cmd, "command",
                               "only allowed with trainer: command (trainer is %s)",
                               proto_trainer_name(s->trainer));
        return 0;
    }
    if (!cmd)
        return sweep__missing(c, sweep__key_node(root, "trainer") + 1, "command",
                              "required with trainer: command (e.g. [python3, train.py])");
    if (cmd->kind != SWEEP__SEQ)
        return sweep__fail(c, cmd, "command", "expected a list of arguments (got %s)",
                           sweep__kind_word(cmd));
    if (cmd->kids.n == 0)
        return sweep__fail(c, cmd, "command", "must name a program");
    for (size_t i = 0; i < cmd->kids.n; i++) {
        const sweep__node_t *a = &cmd->kids.v[i];

        sweep__pathf(p, "command[%zu]", i);
        if (a->kind != SWEEP__SCALAR || sweep__is_null(a))
            rc = sweep__fail(c, a, p, "expected a string (got %s)",
                             a->kind == SWEEP__SCALAR ? "null" : sweep__kind_word(a));
        else if (i == 0 && a->len == 0)
            rc = sweep__fail(c, a, p, "the program must not be empty");
        else if (sweep__argv_push(&s->command, a->text))
            return sweep__oom(c);
    }
    return rc;
}

static int read_synthetic(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *m = sweep__get(root, "synthetic"), *v;
    char p[SWEEP__PATH_MAX];
    int rc, fn = 0, bad = 0;

    if (c->trainer_unknown)
        return 0;
    if (s->trainer != PROTO_TRAINER_SYNTHETIC) {
        if (m)
            return sweep__fail(c, m, "synthetic",
                               "only allowed with trainer: synthetic (trainer is %s)",
                               proto_trainer_name(s->trainer));
        return 0;
    }
    if (!m)
        return sweep__missing(c, sweep__key_node(root, "trainer") + 1, "synthetic",
                              "required with trainer: synthetic (e.g. {function: branin})");
    rc = sweep__check_map(c, m, "synthetic", synth_keys, ARRAY_SIZE(synth_keys));
    if (rc < 0 && m->kind != SWEEP__MAP)
        return rc; /* else read the known keys too */
    v = sweep__get(m, "function");
    if (!v) {
        bad = sweep__missing(c, m, "synthetic.function", "required");
    } else {
        static const char *const fns[] = {
#define X(id, name) name,
            SWEEP_SYNTH_MAP(X)
#undef X
        };
        if ((rc = sweep__enum(c, v, "synthetic.function", fns, ARRAY_SIZE(fns), &fn)) < 0)
            bad = rc;
    }
    s->synthetic.function = (sweep_synth_t)fn;
    v = sweep__get(m, "seconds_per_cost");
    if (v) {
        rc = sweep__num(c, v, "synthetic.seconds_per_cost", &s->synthetic.seconds_per_cost);
        if (rc == 0 && s->synthetic.seconds_per_cost < 0)
            rc = sweep__fail(c, v, "synthetic.seconds_per_cost", "must be >= 0 (got %s)",
                             v->text);
        bad = rc < 0 ? rc : bad;
    }
    v = sweep__get(m, "fail_rate");
    if (v) {
        rc = sweep__num(c, v, "synthetic.fail_rate", &s->synthetic.fail_rate);
        if (rc == 0 && (s->synthetic.fail_rate < 0 || s->synthetic.fail_rate > 1))
            rc = sweep__fail(c, v, "synthetic.fail_rate", "must be in [0, 1] (got %s)", v->text);
        bad = rc < 0 ? rc : bad;
    }
    v = sweep__get(m, "fail_above");
    if (v && (rc = sweep__check_map(c, v, "synthetic.fail_above", NULL, 0)) < 0)
        return rc;
    for (size_t i = 0; v && i + 1 < v->kids.n; i += 2) {
        const sweep__node_t *k = &v->kids.v[i];
        char name[CARBS_NAME_MAX];
        double x;

        sweep__join(p, "synthetic.fail_above", k->text);
        if ((rc = sweep__name(c, k, p, name)) < 0 || (rc = sweep__num(c, k + 1, p, &x)) < 0) {
            bad = rc;
            continue;
        }
        if (carbs_params_set_num(&s->synthetic.fail_above, name, x))
            return sweep__oom(c);
    }
    return bad;
}

int sweep__read_scaling(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *m = sweep__get(root, "scaling"), *v;
    int rc, bad = 0;

    if (!m)
        return 0;
    rc = sweep__check_map(c, m, "scaling", scaling_keys, ARRAY_SIZE(scaling_keys));
    if (rc < 0 && m->kind != SWEEP__MAP)
        return rc; /* else read the known keys too */
    v = sweep__get(m, "model_size");
    if (v && (rc = sweep__name(c, v, "scaling.model_size", s->scaling.model_size)) < 0)
        bad = rc;
    v = sweep__get(m, "tokens");
    if (v && (rc = sweep__name(c, v, "scaling.tokens", s->scaling.tokens)) < 0)
        bad = rc;
    return bad;
}

/* notes: a list of strings kept as they are. */
static int read_notes(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *m = sweep__get(root, "notes");
    char p[SWEEP__PATH_MAX];
    int bad = 0;

    if (!m)
        return 0;
    if (m->kind != SWEEP__SEQ)
        return sweep__fail(c, m, "notes", "expected a list of strings (got %s)",
                           sweep__kind_word(m));
    for (size_t i = 0; i < m->kids.n; i++) {
        const sweep__node_t *a = &m->kids.v[i];

        sweep__pathf(p, "notes[%zu]", i);
        if (a->kind != SWEEP__SCALAR || sweep__is_null(a))
            bad = sweep__fail(c, a, p, "expected a string (got %s)",
                              a->kind == SWEEP__SCALAR ? "null" : sweep__kind_word(a));
        else if (sweep__argv_push(&s->notes, a->text))
            return sweep__oom(c);
    }
    return bad;
}

int sweep__note(sweep__ctx_t *c, sweep_spec_t *s, const char *fmt, ...)
{
    char line[320];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    return sweep__argv_push(&s->notes, line) ? sweep__oom(c) : 0;
}

// ---- parameters ----

/* A categorical value in canonical text: a number is written in its
 * shortest exact form, anything else as given. */
static int cat_text(sweep__ctx_t *c, const sweep__node_t *n, const char *path, char *dst)
{
    double x;

    if (n->kind != SWEEP__SCALAR || sweep__is_null(n))
        return sweep__fail(c, n, path, "expected a number or a string (got %s)",
                           n->kind == SWEEP__SCALAR ? "null" : sweep__kind_word(n));
    if (parse_double(n->text, -HUGE_VAL, HUGE_VAL, &x) == 0) {
        sweep__fmt_num(dst, CARBS_VALUE_MAX, x);
        return 0;
    }
    if (n->len == 0)
        return sweep__fail(c, n, path, "must not be empty");
    if (n->len >= CARBS_VALUE_MAX)
        return sweep__fail(c, n, path, "longer than %d bytes", CARBS_VALUE_MAX - 1);
    memcpy(dst, n->text, n->len + 1);
    return 0;
}

int sweep__categorical(sweep__ctx_t *c, const sweep__node_t *vals, const sweep__node_t *center,
                       const char *path, carbs_param_t *p)
{
    char q[SWEEP__PATH_MAX], sub[SWEEP__PATH_MAX], text[CARBS_VALUE_MAX];
    int rc;

    sweep__join(q, path, "values");
    if (vals->kind != SWEEP__SEQ)
        return sweep__fail(c, vals, q, "expected a list (got %s)", sweep__kind_word(vals));
    if (vals->kids.n < 2 || vals->kids.n > CARBS_VALUES_MAX)
        return sweep__fail(c, vals, q, "must list 2 to %d values (got %zu)", CARBS_VALUES_MAX,
                           vals->kids.n);
    p->space = CARBS_SPACE_CATEGORICAL;
    p->scale = 1;
    p->round = 1;
    for (size_t i = 0; i < vals->kids.n; i++) {
        sweep__pathf(sub, "%s[%zu]", q, i);
        rc = cat_text(c, &vals->kids.v[i], sub, p->values[i]);
        if (rc < 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->values[i], p->values[j]) == 0)
                return sweep__fail(c, &vals->kids.v[i], sub, "duplicate value '%s' (also at [%zu])",
                                   p->values[i], j);
        p->n_values = i + 1;
    }
    p->center = 0;
    if (center) {
        sweep__join(q, path, "center");
        rc = cat_text(c, center, q, text);
        if (rc < 0)
            return rc;
        p->center = -1;
        for (size_t i = 0; i < p->n_values; i++)
            if (strcmp(text, p->values[i]) == 0)
                p->center = (double)i;
        if (p->center < 0)
            return sweep__fail(c, center, q, "'%s' is not one of the values", text);
    }
    return 0;
}

static int read_categorical(sweep__ctx_t *c, const sweep__node_t *m, const char *path,
                            carbs_param_t *p)
{
    static const char *const not_here[] = {"space", "min", "max", "scale", "integer", "round"};
    char q[SWEEP__PATH_MAX];

    for (size_t i = 0; i < ARRAY_SIZE(not_here); i++) {
        const sweep__node_t *k = sweep__key_node(m, not_here[i]);
        if (k) {
            sweep__join(q, path, not_here[i]);
            return sweep__fail(c, k, q, "not allowed on a categorical parameter (one with values)");
        }
    }
    return sweep__categorical(c, sweep__get(m, "values"), sweep__get(m, "center"), path, p);
}

int sweep__numeric(sweep__ctx_t *c, const sweep__node_t *pkey, const sweep__node_t *m,
                   const char *path, carbs_param_t *p, unsigned given, const char *round_key)
{
    const sweep__node_t *at;
    const char *key;
    char q[SWEEP__PATH_MAX];
    param_fault_t f;

    if (param_numeric(p, given, &f) == 0)
        return 0;
    key = f.field == PARAM_ROUND ? round_key : param_field_name(f.field);
    at = sweep__get(m, key);
    sweep__join(q, path, key);
    if (at && f.quote)
        return sweep__fail(c, at, q, "%s (got %s)", f.why, at->text);
    return sweep__fail(c, at ? at : pkey, q, "%s", f.why);
}

/* The numeric fields of a parameter, in the order they are read. */
static const struct {
    unsigned field;
    const char *key;
} numeric_keys[] = {
    {PARAM_MIN, "min"},     {PARAM_MAX, "max"},       {PARAM_SCALE, "scale"},
    {PARAM_ROUND, "round"}, {PARAM_CENTER, "center"},
};

/* A linear, log or logit parameter: the keys read here, the rules and the
 * defaults by the one validator of proto/param.c. */
static int read_numeric(sweep__ctx_t *c, const sweep__node_t *pkey, const sweep__node_t *m,
                        const char *path, carbs_param_t *p)
{
    const sweep__node_t *v;
    double *dst[] = {&p->min, &p->max, &p->scale, &p->round, &p->center};
    char q[SWEEP__PATH_MAX];
    unsigned given = 0;
    int rc, kind;

    sweep__join(q, path, "space");
    v = sweep__get(m, "space");
    if (!v)
        return sweep__fail(c, pkey, q,
                           "required: linear, log or logit (or values: [...] for a "
                           "categorical)");
    if (v->kind == SWEEP__SCALAR && strcmp(v->text, "categorical") == 0)
        return sweep__fail(c, v, q, "a categorical is given by values: [...], without space");
    rc = sweep__enum(c, v, q, space_names, ARRAY_SIZE(space_names), &kind);
    if (rc < 0)
        return rc;
    p->space = (carbs_space_kind_t)kind;
    for (size_t i = 0; i < ARRAY_SIZE(numeric_keys); i++) {
        v = sweep__get(m, numeric_keys[i].key);
        if (!v)
            continue;
        sweep__join(q, path, numeric_keys[i].key);
        rc = sweep__num(c, v, q, dst[i]);
        if (rc < 0)
            return rc;
        given |= numeric_keys[i].field;
    }
    v = sweep__get(m, "integer");
    if (v) {
        sweep__join(q, path, "integer");
        rc = sweep__bool(c, v, q, &p->is_integer);
        if (rc < 0)
            return rc;
    }
    v = sweep__get(m, "round");
    if (v && !p->is_integer) {
        sweep__join(q, path, "round");
        return sweep__fail(c, v, q, "only allowed with integer: true");
    }
    return sweep__numeric(c, pkey, m, path, p, given, "round");
}

/* The embedded trainer's parameter names: name must be one, or, when fixed, one of its
 * evaluation options (eval_tokens, mcq_items), which change no trained weight and so are
 * never searched. */
static int check_tparam(sweep__ctx_t *c, const sweep__node_t *k, const char *path,
                        const char *name, const sweep_spec_t *s, bool fixed)
{
    char h[96];

    if (c->trainer_unknown || s->trainer != PROTO_TRAINER_EMBEDDED ||
        carbs_trainer_param_parse(name) >= 0)
        return 0;
    if (carbs_trainer_option_parse(name) >= 0)
        return fixed ? 0
                     : sweep__fail(c, k, path,
                                   "an evaluation option of the embedded trainer, not a "
                                   "parameter: give it under fixed (it changes no trained "
                                   "weight, so there is nothing to search)");
    return sweep__fail(c, k, path, "not an embedded-trainer parameter%s",
                       sweep__nearest(name, tparam_names, ARRAY_SIZE(tparam_names))
                           ? sweep__hint(h, sizeof(h), name, tparam_names, ARRAY_SIZE(tparam_names))
                           : " (see 'carbs sweep --help' for the list)");
}

static int read_parameters(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *m = sweep__get(root, "parameters");
    char path[SWEEP__PATH_MAX];
    int rc, bad = 0;

    if (!m)
        return sweep__missing(
            c, sweep__key_node(root, "parameters") ? sweep__key_node(root, "parameters") : root,
            "parameters", "required: at least one parameter to search");
    rc = sweep__check_map(c, m, "parameters", NULL, 0);
    if (rc < 0 && m->kind != SWEEP__MAP)
        return rc;
    if (m->kids.n == 0)
        return sweep__fail(c, m, "parameters", "required: at least one parameter to search");
    for (size_t i = 0; i + 1 < m->kids.n && !c->oom; i += 2) {
        const sweep__node_t *k = &m->kids.v[i], *v = k + 1;
        carbs_param_t p;

        memset(&p, 0, sizeof(p));
        sweep__join(path, "parameters", k->text);
        if ((rc = sweep__name(c, k, path, p.name)) < 0 ||
            (rc = check_tparam(c, k, path, p.name, s, false)) < 0) {
            bad = rc;
            continue;
        }
        if (sweep__is_null(v)) {
            bad = sweep__fail(c, v, path,
                              "expected a mapping (e.g. {space: log, min: 1, max: 10})");
            continue;
        }
        rc = sweep__check_map(c, v, path, param_keys, ARRAY_SIZE(param_keys));
        if (rc == 0)
            rc = sweep__get(v, "values") ? read_categorical(c, v, path, &p)
                                         : read_numeric(c, k, v, path, &p);
        if (rc < 0)
            bad = rc;
        else if (carbs_space_add(&s->parameters, &p))
            return sweep__oom(c);
    }
    if (c->oom)
        return CARBS_ENOMEM;
    rc = sweep__check_dims(c, m, s);
    return rc < 0 ? rc : bad;
}

int sweep__check_dims(sweep__ctx_t *c, const sweep__node_t *m, const sweep_spec_t *s)
{
    size_t dims = 0;

    for (size_t i = 0; i < s->parameters.n; i++) {
        const carbs_param_t *p = &s->parameters.v[i];
        dims += p->space == CARBS_SPACE_CATEGORICAL ? p->n_values : 1;
    }
    if (dims > SWEEP_DIMS_MAX)
        return sweep__fail(c, m, "parameters",
                           "%zu search dimensions (a categorical with K values takes K), at most "
                           "%d: the time per suggestion grows with them",
                           dims, SWEEP_DIMS_MAX);
    return 0;
}

int sweep__fixed_value(sweep__ctx_t *c, const sweep__node_t *v, const char *path,
                       const char *name, carbs_params_t *fixed)
{
    double x;
    bool b;
    int rc;

    if (v->kind != SWEEP__SCALAR || sweep__is_null(v))
        return sweep__fail(c, v, path, "expected a number, a string or a boolean (got %s)",
                           v->kind == SWEEP__SCALAR ? "null" : sweep__kind_word(v));
    if (!v->quoted && sweep__looks_nonfinite(v->text))
        return sweep__fail(c, v, path, "must be a finite number (got %s)", v->text);
    if (!v->quoted && parse_double(v->text, -HUGE_VAL, HUGE_VAL, &x) == 0) {
        rc = carbs_params_set_num(fixed, name, x == 0 ? 0 : x);
    } else if (sweep__bool_word(v, &b)) {
        rc = carbs_params_set_num(fixed, name, b ? 1 : 0);
    } else {
        if (v->len >= CARBS_VALUE_MAX)
            return sweep__fail(c, v, path, "longer than %d bytes", CARBS_VALUE_MAX - 1);
        rc = carbs_params_set_str(fixed, name, v->text);
    }
    return rc < 0 ? sweep__oom(c) : 0;
}

static int read_fixed(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *m = sweep__get(root, "fixed"), *params = sweep__get(root, "parameters");
    char path[SWEEP__PATH_MAX];
    int rc, bad = 0;

    if (!m)
        return 0;
    rc = sweep__check_map(c, m, "fixed", NULL, 0);
    if (rc < 0 && m->kind != SWEEP__MAP)
        return rc; /* else read the known keys too */
    for (size_t i = 0; i + 1 < m->kids.n && !c->oom; i += 2) {
        const sweep__node_t *k = &m->kids.v[i], *also;
        char name[CARBS_NAME_MAX];

        sweep__join(path, "fixed", k->text);
        if ((rc = sweep__name(c, k, path, name)) < 0 ||
            (rc = check_tparam(c, k, path, name, s, true)) < 0) {
            bad = rc;
            continue;
        }
        also = params && params->kind == SWEEP__MAP ? sweep__key_node(params, name) : NULL;
        if (also)
            rc = sweep__fail(c, k, path, "both searched (line %d) and fixed", also->line);
        else
            rc = sweep__fixed_value(c, k + 1, path, name, &s->fixed);
        bad = rc < 0 ? rc : bad;
    }
    return c->oom ? CARBS_ENOMEM : bad;
}

// ---- carbs options and budget ----

/* One option of the carbs section, checked by the options table. */
static int read_option(sweep__ctx_t *c, const sweep__node_t *v, const char *path,
                       const carbs_config_opt_t *opt, carbs_config_t *o)
{
    char why[160];
    double x;
    bool b;
    int rc, idx;

    switch (opt->type) {
    case CARBS_CONFIG_BOOL:
        rc = sweep__bool(c, v, path, &b);
        return rc < 0 ? rc : carbs_config_set_bool(o, opt, b, why, sizeof(why));
    case CARBS_CONFIG_ENUM:
        rc = sweep__enum(c, v, path, opt->names, opt->n_names, &idx);
        return rc < 0 ? rc : carbs_config_set_name(o, opt, opt->names[idx], why, sizeof(why));
    default:
        rc = sweep__num(c, v, path, &x);
        if (rc < 0)
            return rc;
        if (carbs_config_set_num(o, opt, x, why, sizeof(why)) < 0)
            return sweep__fail(c, v, path, "%s (got %s)", why, v->text);
        return 0;
    }
}

int sweep__read_carbs(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *m = sweep__get(root, "carbs");
    const char *keys[CARBS_CONFIG_N_OPTS];
    size_t n_keys = 0;
    char q[SWEEP__PATH_MAX];
    int rc, bad = 0;

    carbs_config_defaults(&s->carbs);
    s->carbs.better_direction_sign = s->metric.goal == SWEEP_GOAL_MAXIMIZE ? 1 : -1;
    if (!m)
        return 0;
    for (size_t i = 0; m->kind == SWEEP__MAP && i + 1 < m->kids.n; i += 2) {
        const sweep__node_t *k = &m->kids.v[i];
        const carbs_config_opt_t *opt = carbs_config_find(k->text);

        sweep__join(q, "carbs", k->text);
        if (opt && opt->flags & CARBS_CONFIG_DERIVED)
            bad = sweep__fail(c, k, q, "set by metric.goal (minimize or maximize)");
        for (size_t j = 0; j < ARRAY_SIZE(carbs_other_keys); j++)
            if (strcmp(k->text, carbs_other_keys[j]) == 0)
                bad = sweep__fail(c, k, q,
                                  "a logging option of the reference CARBS; not used here");
    }
    if (bad < 0)
        return bad;
    for (size_t i = 0; i < CARBS_CONFIG_N_OPTS; i++)
        if (!(carbs_config_opts[i].flags & CARBS_CONFIG_DERIVED))
            keys[n_keys++] = carbs_config_opts[i].name;
    rc = sweep__check_map(c, m, "carbs", keys, n_keys);
    if (rc < 0 && m->kind != SWEEP__MAP)
        return rc; /* else read the known keys too */
    /* in the table's order, so several bad options report in the same order */
    for (size_t i = 0; i < CARBS_CONFIG_N_OPTS && !c->oom; i++) {
        const carbs_config_opt_t *opt = &carbs_config_opts[i];
        const sweep__node_t *v = sweep__get(m, opt->name);

        if (!v)
            continue;
        sweep__join(q, "carbs", opt->name);
        if ((rc = read_option(c, v, q, opt, &s->carbs)) < 0)
            bad = rc;
    }
    return bad;
}

int sweep__read_budget(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *m = sweep__get(root, "budget"), *v;
    sweep_budget_t *b = &s->budget;
    int64_t x;
    int rc, bad = 0;

    b->trials = 0;
    b->cost = 0;
    b->parallel = 1;
    b->max_retries = 3;
    b->max_consecutive_failures = SWEEP_MAX_CONSECUTIVE_FAILURES;
    if (!m)
        return 0;
    rc = sweep__check_map(c, m, "budget", budget_keys, ARRAY_SIZE(budget_keys));
    if (rc < 0 && m->kind != SWEEP__MAP)
        return rc; /* else read the known keys too */
    v = sweep__get(m, "trials");
    if (v && (rc = sweep__int(c, v, "budget.trials", 0, INT53, &b->trials)) < 0)
        bad = rc;
    v = sweep__get(m, "cost");
    if (v) {
        rc = sweep__num(c, v, "budget.cost", &b->cost);
        if (rc == 0 && b->cost < 0)
            rc = sweep__fail(c, v, "budget.cost", "must be >= 0 (got %s)", v->text);
        bad = rc < 0 ? rc : bad;
    }
    v = sweep__get(m, "parallel");
    if (v) {
        if ((rc = sweep__int(c, v, "budget.parallel", 1, 1e6, &x)) < 0)
            bad = rc;
        else
            b->parallel = (int)x;
    }
    v = sweep__get(m, "max_retries");
    if (v) {
        if ((rc = sweep__int(c, v, "budget.max_retries", 0, 1e6, &x)) < 0)
            bad = rc;
        else
            b->max_retries = (int)x;
    }
    v = sweep__get(m, "max_consecutive_failures");
    if (v) {
        if ((rc = sweep__int(c, v, "budget.max_consecutive_failures", 0, 1e6, &x)) < 0)
            bad = rc;
        else
            b->max_consecutive_failures = (int)x;
    }
    return bad;
}

// ---- checks across sections ----

static bool is_number_text(const char *s)
{
    double x;

    return parse_double(s, -HUGE_VAL, HUGE_VAL, &x) == 0;
}

/* Embedded trainer: metric names from the one list, decay a cosine/linear
 * choice, an evaluation option a whole number, every other parameter
 * (tie_embeddings aside) numeric. */
static int check_embedded(sweep__ctx_t *c, const sweep__node_t *root, const sweep_spec_t *s)
{
    static const char *const decays[] = {"cosine", "linear"};
    const sweep__node_t *params = sweep__get(root, "parameters"),
                        *fixed = sweep__get(root, "fixed");
    char path[SWEEP__PATH_MAX], h[96];
    int bad = 0;
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
        sec = sweep__get(root, names[i].section);
        at = sec ? sweep__get(sec, names[i].key) : NULL;
        bad = sweep__fail(
            c, at ? at : root, names[i].path, "'%s' is not a metric the embedded trainer reports%s",
            names[i].value,
            sweep__hint(h, sizeof(h), names[i].value, metric_names, ARRAY_SIZE(metric_names)));
    }
    for (size_t i = 0; i < s->parameters.n; i++) {
        const carbs_param_t *p = &s->parameters.v[i];
        const sweep__node_t *k = sweep__key_node(params, p->name);
        bool is_decay = strcmp(p->name, "decay") == 0;

        sweep__join(path, "parameters", p->name);
        if (strcmp(p->name, "tie_embeddings") == 0)
            continue;
        if (is_decay && p->space != CARBS_SPACE_CATEGORICAL) {
            bad = sweep__fail(c, k, path, "must be a categorical of cosine and linear");
            continue;
        }
        for (size_t j = 0; j < p->n_values; j++) {
            if (is_decay && strcmp(p->values[j], decays[0]) && strcmp(p->values[j], decays[1])) {
                bad = sweep__fail(c, k, path, "decay values must be cosine or linear (got '%s')",
                                  p->values[j]);
                break;
            }
            if (!is_decay && !is_number_text(p->values[j])) {
                bad = sweep__fail(c, k, path,
                                  "values must be numbers for the embedded trainer (got '%s')",
                                  p->values[j]);
                break;
            }
        }
    }
    for (size_t i = 0; fixed && i + 1 < fixed->kids.n; i += 2) {
        const sweep__node_t *k = &fixed->kids.v[i];
        const carbs_value_t *v = carbs_params_find(&s->fixed, k->text);
        bool is_decay = strcmp(k->text, "decay") == 0;

        sweep__join(path, "fixed", k->text);
        if (strcmp(k->text, "tie_embeddings") == 0)
            continue;
        if (is_decay && (!v->is_str || (strcmp(v->str, decays[0]) && strcmp(v->str, decays[1]))))
            bad = sweep__fail(c, k + 1, path, "must be cosine or linear (got '%s')", k[1].text);
        else if (carbs_trainer_option_parse(k->text) >= 0 &&
                 (v->is_str || v->num != floor(v->num) || v->num < 1 ||
                  v->num > CARBS_TRAINER_OPTION_MAX))
            bad = sweep__fail(c, k + 1, path, "must be a whole number from 1 to %d (got %s)",
                              CARBS_TRAINER_OPTION_MAX, k[1].text);
        else if (!is_decay && v->is_str)
            bad = sweep__fail(c, k + 1, path,
                              "must be a number for the embedded trainer (got '%s')", v->str);
    }
    return bad;
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
static int check_synthetic(sweep__ctx_t *c, const sweep__node_t *root, const sweep_spec_t *s)
{
    static const char *const needs[SWEEP_SYNTH_COUNT][7] = {
        [SWEEP_SYNTH_BRANIN] = {"x", "y"},
        [SWEEP_SYNTH_HARTMANN6] = {"x1", "x2", "x3", "x4", "x5", "x6"},
        [SWEEP_SYNTH_ROSENBROCK] = {"x1", "x2"},
        [SWEEP_SYNTH_SPHERE] = {"x1"},
        [SWEEP_SYNTH_SCALING] = {"tokens"},
    };
    const sweep__node_t *m = sweep__get(root, "synthetic"), *fa = sweep__get(m, "fail_above");
    const sweep__node_t *fn = sweep__get(m, "function");
    const char *name = sweep_synth_name(s->synthetic.function);
    char path[SWEEP__PATH_MAX];
    int bad = 0;

    for (size_t i = 0; i < 7 && needs[s->synthetic.function][i]; i++) {
        const char *need = needs[s->synthetic.function][i];
        if (!has_number(s, need))
            return sweep__fail(c, fn, "synthetic.function",
                               "'%s' reads a number '%s' from the parameters or fixed (not found)",
                               name, need);
    }
    if (s->synthetic.function == SWEEP_SYNTH_SCALING && !has_number(s, "n_params") &&
        !(has_number(s, "d_model") && has_number(s, "n_layers")))
        bad = sweep__fail(
            c, fn, "synthetic.function",
            "'scaling' reads n_params, or d_model and n_layers, from the parameters or "
            "fixed (not found)");
    for (size_t i = 0; fa && i + 1 < fa->kids.n; i += 2) {
        const char *key = fa->kids.v[i].text;

        sweep__join(path, "synthetic.fail_above", key);
        if (!has_number(s, key) && strcmp(key, "output") != 0 && strcmp(key, "cost") != 0)
            bad = sweep__fail(c, &fa->kids.v[i], path,
                              "not a numeric parameter or fixed value (nor output or cost)");
    }
    return bad;
}

// ---- entry points ----

static int read_name(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *v = sweep__get(root, "name");
    int rc;

    if (!v)
        return sweep__missing(
            c, sweep__key_node(root, "name") ? sweep__key_node(root, "name") : root, "name",
            "required (e.g. tiny-lm)");
    rc = sweep__name(c, v, "name", s->name);
    if (rc == 0 && sweep_name_check(s->name, NULL) < 0)
        rc = sweep__fail(c, v, "name", "must not be all digits (it would read as a sweep id)");
    return rc;
}

static int read_trainer(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *v = sweep__get(root, "trainer");
    int trainer = 0;

    c->trainer_unknown = true;
    if (!v)
        return sweep__missing(
            c, sweep__key_node(root, "trainer") ? sweep__key_node(root, "trainer") : root,
            "trainer", "required: embedded, command or synthetic");
    if (sweep__enum(c, v, "trainer", trainer_names, ARRAY_SIZE(trainer_names), &trainer) < 0)
        return CARBS_EINVAL;
    s->trainer = (proto_trainer_t)trainer;
    c->trainer_unknown = false;
    return 0;
}

/* A carbs sweep file: every section in the fixed order, each after the
 * others' errors too; the checks across sections on a clean file only. */
static int build(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    static int (*const sections[])(sweep__ctx_t *, const sweep__node_t *, sweep_spec_t *) = {
        read_name,          read_metric,     sweep__read_cost,  read_trainer,
        read_command,       read_synthetic,  sweep__read_scaling, read_parameters,
        read_fixed,         sweep__read_carbs, sweep__read_budget, read_notes,
    };

    if (root->kind != SWEEP__MAP)
        return sweep__fail(c, root, NULL, "expected a mapping of sweep keys at the top (got %s)",
                           sweep__kind_word(root));
    if (sweep__is_wandb(root))
        return sweep__build_wandb(c, root, s);
    sweep__check_map(c, root, "", top_keys, ARRAY_SIZE(top_keys));
    for (size_t i = 0; i < ARRAY_SIZE(sections) && !c->oom; i++)
        sections[i](c, root, s);
    if (c->n_errors == 0 && !c->oom && s->trainer == PROTO_TRAINER_EMBEDDED)
        check_embedded(c, root, s);
    if (c->n_errors == 0 && !c->oom && s->trainer == PROTO_TRAINER_SYNTHETIC)
        check_synthetic(c, root, s);
    return c->oom ? CARBS_ENOMEM : c->n_errors ? CARBS_EINVAL : 0;
}

static int parse_as(const char *text, size_t len, const char *filename, int format,
                    sweep_spec_t *out, sweep_argv_t *errors, carbs_err_t *err)
{
    sweep__ctx_t c = {.file = filename ? filename : "<input>", .err = err, .errors = errors};
    sweep__node_t tree;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!text)
        rc = carbs_fail(err, CARBS_EINVAL, "%s: no text", c.file);
    else if (len > SWEEP_FILE_MAX)
        rc = carbs_fail(err, CARBS_EINVAL, "%s: larger than %d bytes", c.file, SWEEP_FILE_MAX);
    else
        rc = sweep__read(text, len, c.file, format, &tree, err);
    if (rc < 0) {
        /* a file that cannot be read has one error */
        if (errors && rc == CARBS_EINVAL && err && sweep__argv_push(errors, err->msg))
            rc = carbs_fail(err, CARBS_ENOMEM, "%s: out of memory", c.file);
        return rc;
    }
    rc = build(&c, &tree.kids.v[0], out);
    sweep__node_release(&tree);
    sweep_argv_release(&c.hinted);
    if (rc < 0)
        sweep_spec_release(out);
    return rc;
}

int sweep_spec_parse_all(const char *text, size_t len, const char *filename, sweep_spec_t *out,
                         sweep_argv_t *errors, carbs_err_t *err)
{
    return parse_as(text, len, filename, SWEEP__AUTO, out, errors, err);
}

int sweep_spec_parse(const char *text, size_t len, const char *filename, sweep_spec_t *out,
                     carbs_err_t *err)
{
    return parse_as(text, len, filename, SWEEP__AUTO, out, NULL, err);
}

int sweep_spec_from_json(const char *json, sweep_spec_t *out, carbs_err_t *err)
{
    return parse_as(json, json ? strlen(json) : 0, "spec", SWEEP__JSON, out, NULL, err);
}

int sweep_spec_load_all(const char *path, sweep_spec_t *out, sweep_argv_t *errors,
                        carbs_err_t *err)
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
    rc = parse_as(buf, n, path, SWEEP__AUTO, out, errors, err);
out:
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

int sweep_spec_load(const char *path, sweep_spec_t *out, carbs_err_t *err)
{
    return sweep_spec_load_all(path, out, NULL, err);
}

void sweep_spec_release(sweep_spec_t *s)
{
    if (!s)
        return;
    sweep_argv_release(&s->command);
    carbs_params_release(&s->synthetic.fail_above);
    carbs_space_release(&s->parameters);
    carbs_params_release(&s->fixed);
    sweep_argv_release(&s->notes);
    memset(s, 0, sizeof(*s));
}
