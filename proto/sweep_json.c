/*
 * sweep_json.c - the canonical JSON of a sweep spec: what the store keeps,
 * what `carbs sweep show` prints and what sweep_spec_from_json() reads back.
 *
 * Canonical means a function of the spec alone: compact, keys in the fixed
 * order of docs/sweep-file.md, every default written out (so a later change
 * of a default never changes a stored sweep), bounds that only restate the
 * space's default omitted, and numbers in the shortest form that reads back
 * as the same double.  Written by hand rather than through jansson so that
 * numbers stay short ("0.003", not jansson's 17-digit "0.0030000000000000001").
 */
#include "proto/common.h"
#include "proto/sweep.h"

#include <math.h>

#include "proto/sweep_internal.h"

// ---- output buffer ----

typedef struct jbuf {
    char *v;
    size_t n, cap;
    int rc;          /* first failure: CARBS_ENOMEM or CARBS_EINVAL */
    const char *bad; /* what was not encodable, for CARBS_EINVAL */
} jbuf_t;

static void put_raw(jbuf_t *b, const char *s, size_t len)
{
    if (b->rc)
        return;
    if (da__grow((void **)&b->v, &b->cap, b->n + len + 1, 1)) {
        b->rc = CARBS_ENOMEM;
        return;
    }
    memcpy(b->v + b->n, s, len);
    b->n += len;
    b->v[b->n] = '\0';
}

static void put_s(jbuf_t *b, const char *s)
{
    put_raw(b, s, strlen(s));
}

static void put_str(jbuf_t *b, const char *s, const char *what)
{
    char esc[8];
    size_t start = 0, i;

    if (!utf8_valid(s, strlen(s))) {
        if (!b->rc) {
            b->rc = CARBS_EINVAL;
            b->bad = what;
        }
        return;
    }
    put_raw(b, "\"", 1);
    for (i = 0; s[i]; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        put_raw(b, s + start, i - start);
        if (ch == '"' || ch == '\\')
            snprintf(esc, sizeof(esc), "\\%c", ch);
        else if (ch == '\n')
            snprintf(esc, sizeof(esc), "\\n");
        else if (ch == '\t')
            snprintf(esc, sizeof(esc), "\\t");
        else if (ch == '\r')
            snprintf(esc, sizeof(esc), "\\r");
        else
            snprintf(esc, sizeof(esc), "\\u%04x", ch);
        put_s(b, esc);
        start = i + 1;
    }
    put_raw(b, s + start, i - start);
    put_raw(b, "\"", 1);
}

static void put_num(jbuf_t *b, double x, const char *what)
{
    char num[40];

    if (!isfinite(x)) {
        if (!b->rc) {
            b->rc = CARBS_EINVAL;
            b->bad = what;
        }
        return;
    }
    sweep__fmt_num(num, sizeof(num), x);
    put_s(b, num);
}

/* ',"key":' (without the comma for the first member). */
static void put_key(jbuf_t *b, bool *first, const char *key)
{
    if (!*first)
        put_raw(b, ",", 1);
    *first = false;
    put_str(b, key, key);
    put_raw(b, ":", 1);
}

/* A list of strings: ["a","b"]. */
static void put_strings(jbuf_t *b, const sweep_argv_t *a, const char *what)
{
    put_raw(b, "[", 1);
    for (size_t i = 0; i < a->n; i++) {
        if (i)
            put_raw(b, ",", 1);
        put_str(b, a->v[i], what);
    }
    put_raw(b, "]", 1);
}

static void put_bool(jbuf_t *b, bool x)
{
    put_s(b, x ? "true" : "false");
}

// ---- sections ----

/* A categorical value: a JSON number when its text is a number in canonical
 * form (as the parser stores numeric categories), else a string. */
static void put_category(jbuf_t *b, const char *text)
{
    char canon[40];
    double x;

    if (parse_double(text, -HUGE_VAL, HUGE_VAL, &x) == 0) {
        sweep__fmt_num(canon, sizeof(canon), x);
        if (strcmp(canon, text) == 0) {
            put_s(b, text);
            return;
        }
    }
    put_str(b, text, "a categorical value");
}

static void put_param(jbuf_t *b, const carbs_param_t *p)
{
    bool first = true;
    bool log = p->space == CARBS_SPACE_LOG, logit = p->space == CARBS_SPACE_LOGIT;

    put_raw(b, "{", 1);
    if (p->space == CARBS_SPACE_CATEGORICAL) {
        size_t ci = p->center >= 0 && p->center < (double)p->n_values ? (size_t)p->center : 0;

        put_key(b, &first, "values");
        put_raw(b, "[", 1);
        for (size_t i = 0; i < p->n_values && i < CARBS_VALUES_MAX; i++) {
            if (i)
                put_raw(b, ",", 1);
            put_category(b, p->values[i]);
        }
        put_raw(b, "]", 1);
        if (p->n_values) {
            put_key(b, &first, "center");
            put_category(b, p->values[ci]);
        }
        put_raw(b, "}", 1);
        return;
    }
    put_key(b, &first, "space");
    put_str(b, carbs_space_name(p->space), "space");
    /* a bound equal to the space's default is the default: omit it */
    if (!(p->min == -HUGE_VAL && !log && !logit) && !((log || logit) && p->min == 0)) {
        put_key(b, &first, "min");
        put_num(b, p->min, p->name);
    }
    if (!(p->max == HUGE_VAL && !logit) && !(logit && p->max == 1)) {
        put_key(b, &first, "max");
        put_num(b, p->max, p->name);
    }
    put_key(b, &first, "center");
    put_num(b, p->center, p->name);
    put_key(b, &first, "scale");
    put_num(b, p->scale, p->name);
    if (p->is_integer) {
        put_key(b, &first, "integer");
        put_bool(b, true);
        put_key(b, &first, "round");
        put_num(b, p->round, p->name);
    }
    put_raw(b, "}", 1);
}

static void put_params(jbuf_t *b, const carbs_params_t *ps)
{
    bool first = true;

    put_raw(b, "{", 1);
    for (size_t i = 0; i < ps->n; i++) {
        put_key(b, &first, ps->v[i].name);
        if (ps->v[i].is_str)
            put_str(b, ps->v[i].str, ps->v[i].name);
        else
            put_num(b, ps->v[i].num, ps->v[i].name);
    }
    put_raw(b, "}", 1);
}

/* Every option of the table but the derived sign, in table order; an
 * uncapped option at +inf (no cap) is left out. */
static void put_carbs(jbuf_t *b, const carbs_config_t *o)
{
    bool first = true;
    char what[CARBS_NAME_MAX + 8];

    put_raw(b, "{", 1);
    for (size_t i = 0; i < CARBS_CONFIG_N_OPTS; i++) {
        const carbs_config_opt_t *opt = &carbs_config_opts[i];
        double x = carbs_config_get(o, opt);

        if (opt->flags & CARBS_CONFIG_DERIVED ||
            (opt->flags & CARBS_CONFIG_UNCAPPED && x == HUGE_VAL))
            continue;
        put_key(b, &first, opt->name);
        snprintf(what, sizeof(what), "carbs.%s", opt->name);
        if (opt->type == CARBS_CONFIG_BOOL)
            put_bool(b, x != 0);
        else if (opt->type == CARBS_CONFIG_ENUM)
            put_str(b, x >= 0 && x < (double)opt->n_names ? opt->names[(size_t)x] : "unknown",
                    what);
        else
            put_num(b, x, what);
    }
    put_raw(b, "}", 1);
}

int sweep_spec_to_json(const sweep_spec_t *s, char **out, carbs_err_t *err)
{
    jbuf_t b = {0};
    bool first = true, f2;

    *out = NULL;
    put_raw(&b, "{", 1);
    put_key(&b, &first, "name");
    put_str(&b, s->name, "name");
    put_key(&b, &first, "metric");
    f2 = true;
    put_raw(&b, "{", 1);
    put_key(&b, &f2, "name");
    put_str(&b, s->metric.name, "metric.name");
    put_key(&b, &f2, "goal");
    put_str(&b, sweep_goal_name(s->metric.goal), "metric.goal");
    put_raw(&b, "}", 1);
    put_key(&b, &first, "cost");
    f2 = true;
    put_raw(&b, "{", 1);
    put_key(&b, &f2, "name");
    put_str(&b, s->cost.name, "cost.name");
    put_raw(&b, "}", 1);
    put_key(&b, &first, "trainer");
    put_str(&b, proto_trainer_name(s->trainer), "trainer");
    if (s->trainer == PROTO_TRAINER_COMMAND) {
        put_key(&b, &first, "command");
        put_strings(&b, &s->command, "command");
    }
    if (s->trainer == PROTO_TRAINER_SYNTHETIC) {
        put_key(&b, &first, "synthetic");
        f2 = true;
        put_raw(&b, "{", 1);
        put_key(&b, &f2, "function");
        put_str(&b, sweep_synth_name(s->synthetic.function), "synthetic.function");
        put_key(&b, &f2, "seconds_per_cost");
        put_num(&b, s->synthetic.seconds_per_cost, "synthetic.seconds_per_cost");
        put_key(&b, &f2, "fail_above");
        put_params(&b, &s->synthetic.fail_above);
        put_key(&b, &f2, "fail_rate");
        put_num(&b, s->synthetic.fail_rate, "synthetic.fail_rate");
        put_raw(&b, "}", 1);
    }
    if (s->scaling.model_size[0] || s->scaling.tokens[0]) {
        put_key(&b, &first, "scaling");
        f2 = true;
        put_raw(&b, "{", 1);
        if (s->scaling.model_size[0]) {
            put_key(&b, &f2, "model_size");
            put_str(&b, s->scaling.model_size, "scaling.model_size");
        }
        if (s->scaling.tokens[0]) {
            put_key(&b, &f2, "tokens");
            put_str(&b, s->scaling.tokens, "scaling.tokens");
        }
        put_raw(&b, "}", 1);
    }
    put_key(&b, &first, "parameters");
    f2 = true;
    put_raw(&b, "{", 1);
    for (size_t i = 0; i < s->parameters.n; i++) {
        put_key(&b, &f2, s->parameters.v[i].name);
        put_param(&b, &s->parameters.v[i]);
    }
    put_raw(&b, "}", 1);
    put_key(&b, &first, "fixed");
    put_params(&b, &s->fixed);
    put_key(&b, &first, "carbs");
    put_carbs(&b, &s->carbs);
    put_key(&b, &first, "budget");
    f2 = true;
    put_raw(&b, "{", 1);
    put_key(&b, &f2, "trials");
    put_num(&b, (double)s->budget.trials, "budget.trials");
    put_key(&b, &f2, "cost");
    put_num(&b, s->budget.cost, "budget.cost");
    put_key(&b, &f2, "parallel");
    put_num(&b, s->budget.parallel, "budget.parallel");
    put_key(&b, &f2, "max_retries");
    put_num(&b, s->budget.max_retries, "budget.max_retries");
    put_key(&b, &f2, "max_consecutive_failures");
    put_num(&b, s->budget.max_consecutive_failures, "budget.max_consecutive_failures");
    put_raw(&b, "}", 1);
    if (s->notes.n) {
        put_key(&b, &first, "notes");
        put_strings(&b, &s->notes, "notes");
    }
    put_raw(&b, "}", 1);
    if (b.rc == CARBS_ENOMEM) {
        free(b.v);
        return carbs_fail(err, CARBS_ENOMEM, "out of memory encoding sweep '%s'", s->name);
    }
    if (b.rc) {
        free(b.v);
        return carbs_fail(err, CARBS_EINVAL,
                          "sweep '%s': %s holds a value JSON cannot encode (not finite or not "
                          "UTF-8)",
                          s->name, b.bad);
    }
    *out = b.v;
    return 0;
}
