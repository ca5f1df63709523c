/*
 * sweep_wandb.c - read a W&B sweep file as it is: convert its keys to the
 * carbs spec (docs/sweep-file.md "W&B sweep files").
 *
 * method bayes is CARBS; random is CARBS's random phase for the whole
 * budget; grid is refused.  Each W&B distribution maps onto a space
 * (uniform -> linear, int_uniform -> integer linear, log_uniform_values ->
 * log, q_* -> integer spaces rounded to q, log_uniform's natural-log
 * exponents -> their exp()), constants become fixed settings, and program
 * with command becomes the command trainer's argv, the macros expanded as
 * W&B's agent does (the argument macros are left for the worker).  What
 * W&B has no notion of (a cost, a budget, a search center) is assumed, and
 * each assumption, like each key left out, is kept as a note.  The carbs
 * sections cost, scaling, carbs and budget may be added to a W&B file;
 * given, they are not assumed.
 */
#include "proto/common.h"
#include "proto/sweep.h"

#include <math.h>

#include "proto/param.h"
#include "proto/sweep_internal.h"

/* Budget when the file gives neither run_cap nor budget.trials. */
#define WANDB_DEFAULT_TRIALS 100
/* The interpreter ${interpreter} names for a .py program. */
#define WANDB_PYTHON "python3"
/* What ${env} is. */
#define WANDB_ENV "/usr/bin/env"

static const char *const top_keys[] = {
    "method",      "metric",  "parameters", "program", "command", "early_terminate", "run_cap",
    "name",        "description", "project", "entity", "cost",    "scaling",         "carbs",
    "budget",
};
static const char *const metric_keys[] = {"name", "goal", "target", "impute",
                                          "impute_while_running"};
static const char *const param_keys[] = {"distribution", "min", "max",   "q",
                                         "values",       "value", "probabilities", "mu",
                                         "sigma",        "a",   "b",     "parameters",
                                         "center",       "scale"};

/* The distributions, and the keys each takes besides distribution,
 * center and scale. */
enum {
    D_CONSTANT,
    D_CATEGORICAL,
    D_CATEGORICAL_P,
    D_INT_UNIFORM,
    D_UNIFORM,
    D_LOG_UNIFORM,
    D_LOG_UNIFORM_VALUES,
    D_Q_UNIFORM,
    D_Q_LOG_UNIFORM,
    D_Q_LOG_UNIFORM_VALUES,
    D_REFUSED, /* every name from here on is refused */
};

#define K_MINMAX (1u << 0)
#define K_Q (1u << 1)
#define K_VALUES (1u << 2)
#define K_VALUE (1u << 3)
#define K_PROB (1u << 4)

static const struct {
    const char *name;
    unsigned keys;
    const char *why; /* for a refused one: what to do instead */
} dists[] = {
    {"constant", K_VALUE, NULL},
    {"categorical", K_VALUES, NULL},
    {"categorical_w_probabilities", K_VALUES | K_PROB, NULL},
    {"int_uniform", K_MINMAX, NULL},
    {"uniform", K_MINMAX, NULL},
    {"log_uniform", K_MINMAX, NULL},
    {"log_uniform_values", K_MINMAX, NULL},
    {"q_uniform", K_MINMAX | K_Q, NULL},
    {"q_log_uniform", K_MINMAX | K_Q, NULL},
    {"q_log_uniform_values", K_MINMAX | K_Q, NULL},
    {"inv_log_uniform", 0, "use log_uniform_values over the range of the values"},
    {"inv_log_uniform_values", 0, "use log_uniform_values over the range of the values"},
    {"normal", 0, "CARBS searches a bounded range: use uniform with min and max"},
    {"q_normal", 0, "CARBS searches a bounded range: use q_uniform with min and max"},
    {"log_normal", 0, "CARBS searches a bounded range: use log_uniform_values with min and max"},
    {"q_log_normal", 0,
     "CARBS searches a bounded range: use q_log_uniform_values with min and max"},
    {"beta", 0, "CARBS searches a bounded range: use uniform with min and max"},
    {"q_beta", 0, "CARBS searches a bounded range: use q_uniform with min and max"},
};

bool sweep__is_wandb(const sweep__node_t *root)
{
    static const char *const marks[] = {"program", "early_terminate", "run_cap"};
    const sweep__node_t *params;

    if (root->kind != SWEEP__MAP)
        return false;
    if (sweep__key_node(root, "method"))
        return true;
    if (sweep__key_node(root, "trainer"))
        return false;
    for (size_t i = 0; i < ARRAY_SIZE(marks); i++)
        if (sweep__key_node(root, marks[i]))
            return true;
    params = sweep__get(root, "parameters");
    for (size_t i = 0; params && params->kind == SWEEP__MAP && i + 1 < params->kids.n; i += 2) {
        const sweep__node_t *p = &params->kids.v[i + 1];
        if (p->kind == SWEEP__MAP &&
            (sweep__key_node(p, "distribution") || sweep__key_node(p, "value")))
            return true;
    }
    return false;
}

// ---- top level ----

/* The sweep's name: W&B's when it is a valid carbs name, else the file's
 * name up to its first '.', other characters than letters, digits, '-' and
 * '_' made '-', else "wandb-sweep"; anything but W&B's name is noted. */
static int read_name(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *v = sweep__get(root, "name");
    const char *base = strrchr(c->file, '/') ? strrchr(c->file, '/') + 1 : c->file;
    char stem[CARBS_NAME_MAX];
    size_t n = 0;

    if (v && v->kind == SWEEP__SCALAR && sweep_name_check(v->text, NULL) == 0) {
        str_copy(s->name, sizeof(s->name), v->text);
        return 0;
    }
    /* "<input>" names no file */
    for (; base[0] != '<' && base[n] && base[n] != '.' && n + 1 < sizeof(stem); n++) {
        char ch = base[n];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
        stem[n] = ok ? ch : '-';
    }
    stem[n] = '\0';
    str_copy(s->name, sizeof(s->name), sweep_name_check(stem, NULL) == 0 ? stem : "wandb-sweep");
    if (v)
        return sweep__note(c, s, "assumed: name = %s (W&B's name '%.60s' is not a valid carbs "
                                 "name)", s->name, v->kind == SWEEP__SCALAR ? v->text : "");
    return sweep__note(c, s, "assumed: name = %s (the file gives no name)", s->name);
}

static int read_method(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    enum { M_BAYES, M_RANDOM, M_GRID, M_CUSTOM };
    static const char *const methods[] = {[M_BAYES] = "bayes", [M_RANDOM] = "random",
                                          [M_GRID] = "grid", [M_CUSTOM] = "custom"};
    const sweep__node_t *v = sweep__get(root, "method");
    int m;

    (void)s;
    if (!v)
        return sweep__missing(
            c, sweep__key_node(root, "method") ? sweep__key_node(root, "method") : root, "method",
            "required: bayes or random");
    if (sweep__enum(c, v, "method", methods, ARRAY_SIZE(methods), &m) < 0)
        return CARBS_EINVAL;
    if (m == M_GRID)
        return sweep__fail(c, v, "method",
                           "grid is not supported: CARBS is a cost-aware Bayesian search, not a "
                           "grid search (use bayes, or random)");
    if (m == M_CUSTOM)
        return sweep__fail(c, v, "method",
                           "custom (a W&B scheduler) is not supported (use bayes, or random)");
    return 0;
}

static int read_metric(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *m = sweep__get(root, "metric");
    int rc = sweep__read_metric(c, root, s, metric_keys, ARRAY_SIZE(metric_keys),
                                ": CARBS optimizes a metric (e.g. {name: val_loss, goal: "
                                "minimize})");

    if (m && m->kind == SWEEP__MAP && sweep__get(m, "target") &&
        sweep__note(c, s, "ignored: metric.target (the sweep ends on its budget, not on a "
                          "target value)"))
        return CARBS_ENOMEM;
    for (size_t i = 3; m && m->kind == SWEEP__MAP && i < ARRAY_SIZE(metric_keys); i++)
        if (sweep__get(m, metric_keys[i]) &&
            sweep__note(c, s, "ignored: metric.%s (a failed trial is never imputed a value)",
                        metric_keys[i]))
            return CARBS_ENOMEM;
    return rc;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* One element of command, the text of the node a, its macros expanded,
 * onto s->command. */
static int expand(sweep__ctx_t *c, const sweep__node_t *a, const char *text, const char *path,
                  const char *program, sweep_spec_t *s)
{
    static const char *const kept[] = {SWEEP_MACRO_ARGS, SWEEP_MACRO_ARGS_NO_HYPHENS,
                                       SWEEP_MACRO_ARGS_JSON, SWEEP_MACRO_ARGS_JSON_FILE};
    const char *t = text;
    bool py = program && ends_with(program, ".py");

    if (strcmp(t, "${env}") == 0)
        t = WANDB_ENV;
    else if (strcmp(t, "${interpreter}") == 0)
        t = py ? WANDB_PYTHON : NULL; /* else the program runs by itself */
    else if (strcmp(t, "${program}") == 0 && !program)
        return sweep__fail(c, a, path, "${program} needs program: (the script to run)");
    else if (strcmp(t, "${program}") == 0)
        t = program;
    else if (strstr(t, "${")) {
        bool macro = false;

        for (size_t i = 0; i < ARRAY_SIZE(kept); i++)
            macro |= strcmp(t, kept[i]) == 0;
        if (!macro)
            return sweep__fail(c, a, path,
                               "'%.60s' is not a macro carbs knows as a whole argument "
                               "(${env}, ${interpreter}, ${program}, ${args}, "
                               "${args_no_hyphens}, ${args_json}, ${args_json_file})",
                               t);
    }
    if (t && sweep__argv_push(&s->command, t))
        return sweep__oom(c);
    return 0;
}

/* program and command -> the command trainer's argv (docs/sweep-file.md). */
static int read_command(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    static const char *const dflt[] = {"${env}", "${interpreter}", "${program}", "${args}"};
    const sweep__node_t *prog = sweep__get(root, "program"), *cmd = sweep__get(root, "command");
    char p[SWEEP__PATH_MAX], run[CARBS_VALUE_MAX];
    const char *program = NULL;
    size_t n_args = 0;
    int rc = 0;

    s->trainer = PROTO_TRAINER_COMMAND;
    if (prog) {
        if (prog->kind != SWEEP__SCALAR || prog->len == 0)
            return sweep__fail(c, prog, "program", "expected the path of a script (got %s)",
                               prog->kind == SWEEP__SCALAR ? "''" : sweep__kind_word(prog));
        if (prog->len + 3 > sizeof(run))
            return sweep__fail(c, prog, "program", "longer than %zu bytes", sizeof(run) - 3);
        /* run directly, a bare name is looked up in PATH: ./ keeps it here */
        snprintf(run, sizeof(run), "%s%s",
                 ends_with(prog->text, ".py") || strchr(prog->text, '/') ? "" : "./", prog->text);
        program = run;
    }
    if (!cmd) {
        if (!prog)
            return sweep__missing(c, root, "program", "required: the script each trial runs "
                                                      "(or a command)");
        for (size_t i = 0; i < ARRAY_SIZE(dflt); i++) {
            if ((rc = expand(c, prog, dflt[i], "program", program, s)) < 0)
                return rc;
        }
    } else {
        if (cmd->kind != SWEEP__SEQ)
            return sweep__fail(c, cmd, "command", "expected a list of arguments (got %s)",
                               sweep__kind_word(cmd));
        for (size_t i = 0; i < cmd->kids.n && !c->oom; i++) {
            const sweep__node_t *a = &cmd->kids.v[i];

            sweep__pathf(p, "command[%zu]", i);
            if (a->kind != SWEEP__SCALAR || sweep__is_null(a))
                rc = sweep__fail(c, a, p, "expected a string (got %s)",
                                 a->kind == SWEEP__SCALAR ? "null" : sweep__kind_word(a));
            else if (expand(c, a, a->text, p, program, s) < 0)
                rc = CARBS_EINVAL;
        }
        if (rc < 0 || c->oom)
            return c->oom ? CARBS_ENOMEM : rc;
        if (s->command.n == 0 || s->command.v[0][0] == '\0')
            return sweep__fail(c, cmd, "command", "must name a program");
    }
    for (size_t i = 0; i < s->command.n; i++)
        n_args += strncmp(s->command.v[i], "${args", 6) == 0;
    /* a last ${args} alone is what the worker does anyway */
    if (n_args == 1 && strcmp(s->command.v[s->command.n - 1], SWEEP_MACRO_ARGS) == 0)
        free(s->command.v[--s->command.n]);
    else if (n_args == 0 && sweep__note(c, s, "assumed: the parameters are passed as "
                                              "--name=value after the command (it has no "
                                              "${args})"))
        return CARBS_ENOMEM;
    for (size_t i = 0; program && strcmp(program, prog->text) != 0 && i < s->command.n; i++)
        if (strcmp(s->command.v[i], program) == 0)
            return sweep__note(c, s, "assumed: program %s runs as %s", prog->text, program);
    return 0;
}

// ---- parameters ----

/* The distribution of parameter m: given, or inferred as W&B does. */
static int pick_dist(sweep__ctx_t *c, const sweep__node_t *pkey, const sweep__node_t *m,
                     const char *path, int *out)
{
    const sweep__node_t *v = sweep__get(m, "distribution"), *lo, *hi;
    char q[SWEEP__PATH_MAX];
    const char *names[ARRAY_SIZE(dists)];

    if (v) {
        for (size_t i = 0; i < ARRAY_SIZE(dists); i++)
            names[i] = dists[i].name;
        sweep__join(q, path, "distribution");
        if (sweep__enum(c, v, q, names, ARRAY_SIZE(names), out) < 0)
            return CARBS_EINVAL;
        if (*out >= D_REFUSED)
            return sweep__fail(c, v, q, "%s is not supported: %s", dists[*out].name,
                               dists[*out].why);
        return 0;
    }
    lo = sweep__get(m, "min");
    hi = sweep__get(m, "max");
    if (sweep__get(m, "value"))
        *out = D_CONSTANT;
    else if (sweep__get(m, "values"))
        *out = sweep__get(m, "probabilities") ? D_CATEGORICAL_P : D_CATEGORICAL;
    else if (lo && hi)
        *out = lo->kind == SWEEP__SCALAR && hi->kind == SWEEP__SCALAR && !lo->quoted &&
                       !hi->quoted && lo->text[strspn(lo->text, "-+0123456789")] == '\0' &&
                       hi->text[strspn(hi->text, "-+0123456789")] == '\0'
                   ? D_INT_UNIFORM
                   : D_UNIFORM;
    else
        return sweep__fail(c, pkey, path,
                           "needs values, value, or min and max (or a distribution)");
    return 0;
}

/* The keys of m that distribution d does not take are errors. */
static int check_keys(sweep__ctx_t *c, const sweep__node_t *m, const char *path, int d)
{
    static const struct {
        const char *key;
        unsigned bit;
    } owned[] = {{"min", K_MINMAX}, {"max", K_MINMAX}, {"q", K_Q},
                 {"values", K_VALUES}, {"value", K_VALUE}, {"probabilities", K_PROB},
                 {"mu", 0},          {"sigma", 0},       {"a", 0}, {"b", 0}};
    char q[SWEEP__PATH_MAX];
    int rc = 0;

    for (size_t i = 0; i < ARRAY_SIZE(owned); i++) {
        const sweep__node_t *k = sweep__key_node(m, owned[i].key);

        sweep__join(q, path, owned[i].key);
        if (k && !(dists[d].keys & owned[i].bit))
            rc = sweep__fail(c, k, q, "not used by distribution %s", dists[d].name);
        else if (!sweep__get(m, owned[i].key) && (dists[d].keys & owned[i].bit) &&
                 owned[i].bit != K_Q && owned[i].bit != K_PROB)
            rc = sweep__fail(c, k ? k : m, q, "%srequired by distribution %s",
                             k ? "null, but " : "", dists[d].name);
    }
    if (d != D_CATEGORICAL && d != D_CATEGORICAL_P && d != D_CONSTANT)
        return rc;
    for (size_t i = 0; i < 2; i++) {
        const char *key = i == 0 ? "scale" : "center";
        const sweep__node_t *k = sweep__key_node(m, key);

        sweep__join(q, path, key);
        if (k && (i == 0 || d == D_CONSTANT))
            rc = sweep__fail(c, k, q, "not used by distribution %s", dists[d].name);
    }
    return rc;
}

static int read_range(sweep__ctx_t *c, const sweep__node_t *pkey, const sweep__node_t *m,
                      const char *path, int d, carbs_param_t *p)
{
    static const char *const keys[] = {"min", "max", "q", "scale", "center"};
    static const unsigned bits[] = {PARAM_MIN, PARAM_MAX, PARAM_ROUND, PARAM_SCALE, PARAM_CENTER};
    double *dst[] = {&p->min, &p->max, &p->round, &p->scale, &p->center};
    char q[SWEEP__PATH_MAX];
    unsigned given = 0;
    int rc = 0;

    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        const sweep__node_t *v = sweep__get(m, keys[i]);

        sweep__join(q, path, keys[i]);
        if (v && sweep__num(c, v, q, dst[i]) < 0)
            rc = CARBS_EINVAL;
        else if (v)
            given |= bits[i];
    }
    if (rc < 0)
        return rc;
    if (d == D_INT_UNIFORM)
        for (size_t i = 0; i < 2; i++)
            if (*dst[i] != floor(*dst[i])) {
                sweep__join(q, path, keys[i]);
                rc = sweep__fail(c, sweep__get(m, keys[i]), q,
                                 "must be an integer for int_uniform (got %s)",
                                 sweep__get(m, keys[i])->text);
            }
    if (rc < 0)
        return rc;
    if (d == D_LOG_UNIFORM || d == D_Q_LOG_UNIFORM) {
        /* W&B's log_uniform takes natural-log exponents */
        p->min = exp(p->min);
        p->max = exp(p->max);
    }
    p->space = d == D_INT_UNIFORM || d == D_UNIFORM || d == D_Q_UNIFORM ? CARBS_SPACE_LINEAR
                                                                          : CARBS_SPACE_LOG;
    p->is_integer = d == D_INT_UNIFORM || d == D_Q_UNIFORM || d == D_Q_LOG_UNIFORM ||
                    d == D_Q_LOG_UNIFORM_VALUES;
    if (p->is_integer && !(given & PARAM_ROUND)) {
        p->round = 1; /* q's default */
        given |= PARAM_ROUND;
    }
    return sweep__numeric(c, pkey, m, path, p, given, "q");
}

static int read_param(sweep__ctx_t *c, const sweep__node_t *k, const char *path,
                      sweep_spec_t *s, bool *searched)
{
    const sweep__node_t *m = k + 1;
    carbs_param_t p;
    char q[SWEEP__PATH_MAX], name[CARBS_NAME_MAX];
    int rc, d;

    *searched = false;
    memset(&p, 0, sizeof(p));
    if ((rc = sweep__name(c, k, path, name)) < 0)
        return rc;
    str_copy(p.name, sizeof(p.name), name);
    if (sweep__is_null(m))
        return sweep__fail(c, m, path, "expected a mapping (e.g. {min: 0.0001, max: 0.1})");
    if ((rc = sweep__check_map(c, m, path, param_keys, ARRAY_SIZE(param_keys))) < 0)
        return rc;
    if (sweep__key_node(m, "parameters")) {
        sweep__join(q, path, "parameters");
        return sweep__fail(c, sweep__key_node(m, "parameters"), q,
                           "nested parameters are not supported (name each one at the top "
                           "level)");
    }
    if ((rc = pick_dist(c, k, m, path, &d)) < 0 || (rc = check_keys(c, m, path, d)) < 0)
        return rc;
    if (d == D_CONSTANT) {
        sweep__join(q, path, "value");
        return sweep__fixed_value(c, sweep__get(m, "value"), q, name, &s->fixed);
    }
    if (d == D_CATEGORICAL || d == D_CATEGORICAL_P) {
        const sweep__node_t *vals = sweep__get(m, "values");

        if (vals->kind == SWEEP__SEQ && vals->kids.n == 1) {
            sweep__pathf(q, "%s.values[0]", path);
            rc = sweep__fixed_value(c, &vals->kids.v[0], q, name, &s->fixed);
            return rc < 0 ? rc
                          : sweep__note(c, s, "assumed: %s has one value: fixed %s = %s", path,
                                        name, vals->kids.v[0].text);
        }
        rc = sweep__categorical(c, vals, sweep__get(m, "center"), path, &p);
        if (rc == 0 && d == D_CATEGORICAL_P)
            rc = sweep__note(c, s, "ignored: %s.probabilities (CARBS weighs no values)", path);
    } else {
        rc = read_range(c, k, m, path, d, &p);
        if (rc == 0 && !sweep__get(m, "center")) {
            char num[40];
            sweep__fmt_num(num, sizeof(num), p.center);
            rc = sweep__note(c, s, "assumed: %s.center = %s (the middle of the range%s)", path,
                             num, p.space == CARBS_SPACE_LOG ? " in log space" : "");
        }
    }
    if (rc < 0)
        return rc;
    *searched = true;
    return carbs_space_add(&s->parameters, &p) ? sweep__oom(c) : 0;
}

static int read_parameters(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    const sweep__node_t *m = sweep__get(root, "parameters");
    char path[SWEEP__PATH_MAX];
    bool searched;
    size_t n_searched = 0;
    int rc, bad = 0;

    if (!m)
        return sweep__missing(
            c, sweep__key_node(root, "parameters") ? sweep__key_node(root, "parameters") : root,
            "parameters", "required: at least one parameter to search");
    if ((rc = sweep__check_map(c, m, "parameters", NULL, 0)) < 0 && m->kind != SWEEP__MAP)
        return rc;
    for (size_t i = 0; i + 1 < m->kids.n && !c->oom; i += 2) {
        sweep__join(path, "parameters", m->kids.v[i].text);
        rc = read_param(c, &m->kids.v[i], path, s, &searched);
        bad = rc < 0 ? rc : bad;
        n_searched += searched;
    }
    if (bad == 0 && n_searched == 0)
        return sweep__fail(c, m, "parameters",
                           "required: at least one parameter to search (all are constants)");
    if (c->oom)
        return CARBS_ENOMEM;
    rc = sweep__check_dims(c, m, s);
    return rc < 0 ? rc : bad;
}

// ---- what W&B has no notion of ----

static int assume(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s, bool random)
{
    const sweep__node_t *cap = sweep__get(root, "run_cap"), *budget = sweep__get(root, "budget");
    const sweep__node_t *carbs = sweep__get(root, "carbs");
    bool has_trials = budget && budget->kind == SWEEP__MAP && sweep__get(budget, "trials");
    bool has_samples = carbs && carbs->kind == SWEEP__MAP &&
                       sweep__get(carbs, "num_random_samples");
    int rc = 0;

    if (!sweep__get(root, "cost"))
        rc = sweep__note(c, s, "assumed: cost = %s (W&B files name no cost)", SWEEP_DEFAULT_COST);
    if (rc == 0 && cap && !has_trials) {
        if (sweep__int(c, cap, "run_cap", 1, 9007199254740992.0, &s->budget.trials) < 0)
            return CARBS_EINVAL;
    } else if (rc == 0 && !has_trials) {
        s->budget.trials = WANDB_DEFAULT_TRIALS;
        rc = sweep__note(c, s, "assumed: budget.trials = %d (the file gives no run_cap)",
                         WANDB_DEFAULT_TRIALS);
    }
    if (rc == 0 && !(budget && budget->kind == SWEEP__MAP && sweep__get(budget, "parallel")))
        rc = sweep__note(c, s, "assumed: budget.parallel = 1 (one trial at a time; W&B runs "
                               "one per agent)");
    if (rc == 0 && !(carbs && carbs->kind == SWEEP__MAP &&
                     sweep__get(carbs, "max_suggestion_cost")))
        rc = sweep__note(c, s, "assumed: carbs.max_suggestion_cost = none (no cap on a "
                               "trial's predicted cost)");
    if (rc == 0 && random && !has_samples) {
        int64_t n = s->budget.trials < 1 ? 1 : s->budget.trials > 1000000 ? 1000000
                                                                            : s->budget.trials;
        s->carbs.num_random_samples = (int)n;
        rc = sweep__note(c, s, "assumed: method random = carbs.num_random_samples %lld (every "
                               "trial a random draw around the search center)",
                         (long long)n);
    }
    return rc;
}

int sweep__build_wandb(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s)
{
    static int (*const sections[])(sweep__ctx_t *, const sweep__node_t *, sweep_spec_t *) = {
        read_name,        read_method,         read_metric,     sweep__read_cost,
        read_command,     sweep__read_scaling, read_parameters, sweep__read_carbs,
        sweep__read_budget,
    };
    static const char *const bookkeeping[] = {"description", "project", "entity"};
    const sweep__node_t *et = sweep__get(root, "early_terminate");
    const sweep__node_t *method = sweep__get(root, "method");
    bool random = method && method->kind == SWEEP__SCALAR && strcmp(method->text, "random") == 0;

    sweep__check_map(c, root, "", top_keys, ARRAY_SIZE(top_keys));
    for (size_t i = 0; i < ARRAY_SIZE(sections) && !c->oom; i++)
        sections[i](c, root, s);
    if (!c->oom && c->n_errors == 0)
        assume(c, root, s, random);
    if (!c->oom && et)
        sweep__note(c, s, "warning: early_terminate%s%s is not supported yet: every trial "
                          "runs to its end",
                    sweep__get(et, "type") ? " " : "",
                    sweep__get(et, "type") ? sweep__get(et, "type")->text : "");
    for (size_t i = 0; i < ARRAY_SIZE(bookkeeping) && !c->oom; i++)
        if (sweep__get(root, bookkeeping[i]))
            sweep__note(c, s, "ignored: %s (W&B bookkeeping)", bookkeeping[i]);
    return c->oom ? CARBS_ENOMEM : c->n_errors ? CARBS_EINVAL : 0;
}
