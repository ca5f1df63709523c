/*
 * test_sweep.c - the sweep file: golden inputs under tests/data/sweep/
 * (good/X.yaml|json and wandb/X.yaml|json -> X.expected.json byte for byte;
 * bad/X.* -> X.expected, every error one a line), YAML/JSON agreement, W&B
 * sweep files (distributions, refusals, detection, names), every error at
 * once, the canonical fixed point, random
 * high-entropy specs, allocation failures and the load/encode errors.
 */
#include "proto/common.h"
#include "proto/sweep.h"

#include <dirent.h>
#include <math.h>

#include "proto/json.h"
#include "tests/check.h"

// ---- helpers ----

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;

    if (!f)
        return NULL;
    for (;;) {
        size_t got;
        if (n + 4096 + 1 > cap) {
            cap = (n + 4096 + 1) * 2;
            buf = xrealloc(buf, cap);
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Drop one trailing newline (expected files end with one). */
static void chomp(char *s)
{
    size_t n = strlen(s);

    if (n && s[n - 1] == '\n')
        s[n - 1] = '\0';
}

static const char *src_root(void)
{
    const char *r = getenv("CARBS_SOURCE_ROOT");

    return r && *r ? r : "..";
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The sorted .yaml and .json inputs of dir (not the .expected.json files). */
typedef DA_TYPE(char *) names_t;

static void list_inputs(const char *dir, names_t *out)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    memset(out, 0, sizeof(*out));
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        const char *nm = e->d_name;
        if (ends_with(nm, ".expected.json") || !(ends_with(nm, ".yaml") || ends_with(nm, ".json")))
            continue;
        if (DA_PUSH(out, xstrdup(nm)))
            abort();
    }
    closedir(d);
    if (out->n)
        qsort(out->v, out->n, sizeof(char *), cmp_str);
}

static void free_names(names_t *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
    DA_FREE(ns);
}

/* The expected file of input name: stem + suffix. */
static void expected_path(char *dst, size_t cap, const char *dir, const char *name,
                          const char *suffix)
{
    const char *dot = strrchr(name, '.');

    snprintf(dst, cap, "%s/%.*s%s", dir, (int)(dot - name), name, suffix);
}

/* A golden case: the input dir/name (into *text, *len) and its expected
 * output, stem + suffix, without its last newline (into *want).  False,
 * with nothing to free, when either cannot be read.  Caller frees both. */
static bool read_case(const char *dir, const char *name, const char *suffix, char **text,
                      size_t *len, char **want)
{
    char path[1200], exp[1200];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    expected_path(exp, sizeof(exp), dir, name, suffix);
    *text = read_all(path, len);
    *want = read_all(exp, NULL);
    if (!*text || !*want) {
        fprintf(stderr, "missing %s or its %s\n", name, suffix);
        free(*text);
        free(*want);
        return false;
    }
    chomp(*want);
    return true;
}

static bool spec_is_empty(const sweep_spec_t *s)
{
    return s->name[0] == '\0' && s->parameters.n == 0 && s->parameters.v == NULL &&
           s->fixed.v == NULL && s->command.v == NULL && s->synthetic.fail_above.v == NULL;
}

/* Parse text, encode, decode the encoding and encode again: the two
 * encodings must match.  Returns the first encoding (caller frees) or NULL. */
static char *canonical_checked(const char *text, size_t len, const char *name)
{
    sweep_spec_t s, t;
    carbs_err_t err = {0};
    char *j1 = NULL, *j2 = NULL;

    if (sweep_spec_parse(text, len, name, &s, &err) != 0) {
        fprintf(stderr, "%s: unexpected error: %s\n", name, err.msg);
        return NULL;
    }
    CHECK_EQ(sweep_spec_to_json(&s, &j1, &err), 0);
    CHECK_EQ(sweep_spec_from_json(j1, &t, &err), 0);
    if (err.msg[0])
        fprintf(stderr, "%s: round trip: %s\n", name, err.msg);
    CHECK_EQ(sweep_spec_to_json(&t, &j2, &err), 0);
    CHECK_STR(j1, j2);
    free(j2);
    sweep_spec_release(&t);
    sweep_spec_release(&s);
    return j1;
}

/* The lines of a joined by newlines, without a last one (caller frees). */
static char *join_lines(const sweep_argv_t *a)
{
    size_t n = 1, k = 0;
    char *out;

    for (size_t i = 0; i < a->n; i++)
        n += strlen(a->v[i]) + 1;
    out = xmalloc(n);
    out[0] = '\0';
    for (size_t i = 0; i < a->n; i++)
        k += (size_t)snprintf(out + k, n - k, "%s%s", i ? "\n" : "", a->v[i]);
    return out;
}

// ---- golden files ----

/* Every input of tests/data/sweep/SUB against its X.expected.json. */
static void check_good_dir(const char *sub, size_t at_least)
{
    char dir[1024];
    names_t ns;

    snprintf(dir, sizeof(dir), "%s/tests/data/sweep/%s", src_root(), sub);
    list_inputs(dir, &ns);
    CHECK(ns.n >= at_least);
    for (size_t i = 0; i < ns.n; i++) {
        char *text, *want, *got;
        size_t len;
        bool found = read_case(dir, ns.v[i], ".expected.json", &text, &len, &want);

        CHECK(found);
        if (!found)
            continue;
        got = canonical_checked(text, len, ns.v[i]);
        CHECK_STR(got, want);
        free(got);
        free(text);
        free(want);
    }
    free_names(&ns);
}

static void test_sweep_good_files(void)
{
    check_good_dir("good", 8);
}

static void test_sweep_bad_files(void)
{
    char dir[1024];
    names_t ns;

    snprintf(dir, sizeof(dir), "%s/tests/data/sweep/bad", src_root());
    list_inputs(dir, &ns);
    CHECK(ns.n >= 25);
    for (size_t i = 0; i < ns.n; i++) {
        char *text, *want, *joined;
        sweep_spec_t s;
        sweep_argv_t errors = {0};
        carbs_err_t err = {0};
        size_t len;
        int rc;
        bool found = read_case(dir, ns.v[i], ".expected", &text, &len, &want);

        CHECK(found);
        if (!found)
            continue;
        memset(&s, 0x5a, sizeof(s)); /* the parser must clear it */
        rc = sweep_spec_parse_all(text, len, ns.v[i], &s, &errors, &err);
        CHECK_EQ(rc, CARBS_EINVAL);
        CHECK_EQ(err.code, CARBS_EINVAL);
        /* the expected file lists every error, one a line; the first is err */
        joined = join_lines(&errors);
        CHECK_STR(joined, want);
        CHECK(errors.n >= 1 && strncmp(want, err.msg, strlen(err.msg)) == 0);
        CHECK(spec_is_empty(&s));
        sweep_spec_release(&s);
        sweep_argv_release(&errors);
        free(joined);
        free(text);
        free(want);
    }
    free_names(&ns);
}

/* X.yaml and X.json side by side in tests/data/sweep/SUB must describe
 * the same sweep. */
static void check_yaml_json_agree(const char *sub)
{
    char dir[1024];
    names_t ns;
    size_t pairs = 0;

    snprintf(dir, sizeof(dir), "%s/tests/data/sweep/%s", src_root(), sub);
    list_inputs(dir, &ns);
    for (size_t i = 0; i < ns.n; i++) {
        char yaml_path[1200], json_path[1200], *ty, *tj, *jy, *jj;
        size_t ly, lj;

        if (!ends_with(ns.v[i], ".yaml"))
            continue;
        snprintf(yaml_path, sizeof(yaml_path), "%s/%s", dir, ns.v[i]);
        expected_path(json_path, sizeof(json_path), dir, ns.v[i], ".json");
        tj = read_all(json_path, &lj);
        if (!tj)
            continue;
        ty = read_all(yaml_path, &ly);
        jy = canonical_checked(ty, ly, "a/same.yaml");
        jj = canonical_checked(tj, lj, "a/same.json");
        CHECK_STR(jy, jj);
        pairs++;
        free(ty);
        free(tj);
        free(jy);
        free(jj);
    }
    CHECK(pairs >= 1);
    free_names(&ns);
}

static void test_sweep_yaml_json_agree(void)
{
    check_yaml_json_agree("good");
}

// ---- W&B sweep files ----

/* tests/data/sweep/wandb: W&B files as W&B's docs write them, each against
 * its canonical JSON (the notes, what was assumed, included). */
static void test_sweep_wandb_files(void)
{
    check_good_dir("wandb", 8);
    check_yaml_json_agree("wandb");
}

static const char wandb_head[] = "method: bayes\nmetric: {name: loss}\nprogram: train.py\n";

/* Parse wandb_head + rest; returns rc, *s filled on success. */
static int wandb_parse(const char *rest, sweep_spec_t *s, carbs_err_t *err)
{
    char text[2048];

    snprintf(text, sizeof(text), "%s%s", wandb_head, rest);
    return sweep_spec_parse(text, strlen(text), "w.yaml", s, err);
}

static bool has_note(const sweep_spec_t *s, const char *start)
{
    for (size_t i = 0; i < s->notes.n; i++)
        if (strncmp(s->notes.v[i], start, strlen(start)) == 0)
            return true;
    return false;
}

/* Each distribution's space, bounds and rounding. */
static void test_sweep_wandb_distributions(void)
{
    sweep_spec_t s;
    carbs_err_t err = {0};
    const carbs_param_t *p;

    CHECK_EQ(wandb_parse("parameters:\n"
                         "  a: {distribution: log_uniform, min: -4, max: 2}\n"
                         "  b: {distribution: q_log_uniform, min: 1, max: 4, q: 2}\n"
                         "  c: {distribution: q_uniform, min: 0, max: 1}\n"
                         "  d: {min: 1, max: 8.0}\n"
                         "  e: {min: -3, max: 7}\n"
                         "  f: {distribution: int_uniform, min: 0, max: 10, center: 2}\n",
                         &s, &err),
             0);
    p = carbs_space_find(&s.parameters, "a");
    CHECK(p && p->space == CARBS_SPACE_LOG && !p->is_integer);
    CHECK(p && p->min == exp(-4.0) && p->max == exp(2.0));
    CHECK(p && fabs(p->center - exp(-1.0)) < 1e-15);
    p = carbs_space_find(&s.parameters, "b");
    CHECK(p && p->space == CARBS_SPACE_LOG && p->is_integer && p->round == 2);
    CHECK(p && p->min == exp(1.0) && p->max == exp(4.0));
    p = carbs_space_find(&s.parameters, "c");
    CHECK(p && p->space == CARBS_SPACE_LINEAR && p->is_integer && p->round == 1); /* q's default */
    p = carbs_space_find(&s.parameters, "d");
    CHECK(p && p->space == CARBS_SPACE_LINEAR && !p->is_integer); /* 8.0: a float, uniform */
    p = carbs_space_find(&s.parameters, "e");
    CHECK(p && p->space == CARBS_SPACE_LINEAR && p->is_integer && p->center == 2);
    p = carbs_space_find(&s.parameters, "f");
    CHECK(p && p->is_integer && p->center == 2);
    CHECK(has_note(&s, "assumed: parameters.e.center = 2 (the middle of the range)"));
    CHECK(!has_note(&s, "assumed: parameters.f.center"));
    CHECK_EQ(s.trainer, PROTO_TRAINER_COMMAND);
    CHECK_EQ(s.budget.trials, 100);
    sweep_spec_release(&s);
}

/* Refusals: each names the key and says why. */
static void test_sweep_wandb_refusals(void)
{
    static const struct {
        const char *rest, *want;
    } cases[] = {
        {"parameters: {x: {distribution: log_normal}}\n",
         "w.yaml:4: parameters.x.distribution: log_normal is not supported: CARBS searches a "
         "bounded range: use log_uniform_values with min and max"},
        {"parameters: {x: {distribution: inv_log_uniform_values, min: 1, max: 2}}\n",
         "w.yaml:4: parameters.x.distribution: inv_log_uniform_values is not supported: use "
         "log_uniform_values over the range of the values"},
        {"parameters: {x: {distribution: beta, a: 1, b: 2}}\n",
         "w.yaml:4: parameters.x.distribution: beta is not supported: CARBS searches a bounded "
         "range: use uniform with min and max"},
        {"parameters: {x: {distribution: uniform, min: 1}}\n",
         "w.yaml:4: parameters.x.max: required by distribution uniform"},
        {"parameters: {x: {distribution: categorical, min: 1, values: [1, 2]}}\n",
         "w.yaml:4: parameters.x.min: not used by distribution categorical"},
        {"parameters: {x: {max: 1}}\n",
         "w.yaml:4: parameters.x: needs values, value, or min and max (or a distribution)"},
        {"parameters: {x: {value: [1, 2]}}\n",
         "w.yaml:4: parameters.x.value: expected a number, a string or a boolean (got a list)"},
        {"parameters: {x: {distribution: q_log_uniform_values, min: 0.05, max: 8}}\n",
         "w.yaml:4: parameters.x.min: must be > 0.1 for an integer log space (got 0.05)"},
        {"parameters: {x: {distribution: q_uniform, min: 0.1, max: 0.2, q: 1}}\n",
         "w.yaml:4: parameters.x.q: no multiple of 1 lies in [0.1, 0.2]"},
        {"command: [\"${program}\", \"--x=${args}\"]\nparameters: {x: {min: 0, max: 1}}\n",
         "w.yaml:4: command[1]: '--x=${args}' is not a macro carbs knows as a whole argument "
         "(${env}, ${interpreter}, ${program}, ${args}, ${args_no_hyphens}, ${args_json}, "
         "${args_json_file})"},
        {"trainer: command\nparameters: {x: {min: 0, max: 1}}\n",
         "w.yaml:4: trainer: unknown key"},
        {"run_cap: 0\nparameters: {x: {min: 0, max: 1}}\n",
         "w.yaml:4: run_cap: must be in [1, 9007199254740992] (got 0)"},
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        sweep_spec_t s;
        carbs_err_t err = {0};

        CHECK_EQ(wandb_parse(cases[i].rest, &s, &err), CARBS_EINVAL);
        CHECK_STR(err.msg, cases[i].want);
        CHECK(spec_is_empty(&s));
    }
}

/* Which files are W&B's: method, or no trainer and a W&B-only key. */
static void test_sweep_wandb_detection(void)
{
    static const char carbs_file[] = "name: n\nmetric: {name: y}\ntrainer: command\n"
                                     "command: [./r]\nparameters: {x: {min: 0, max: 1}}\n";
    static const char wandb_file[] = "metric: {name: y}\nprogram: r.py\n"
                                     "parameters: {x: {min: 0, max: 1}}\n";
    static const char by_value[] = "name: v\nmetric: {name: y}\ncommand: [./r]\n"
                                   "parameters: {x: {value: 1}, y: {min: 0, max: 1}}\n";
    sweep_spec_t s;
    carbs_err_t err = {0};

    CHECK_EQ(sweep_spec_parse(carbs_file, strlen(carbs_file), "c.yaml", &s, &err), CARBS_EINVAL);
    CHECK_STR(err.msg, "c.yaml:5: parameters.x.space: required: linear, log or logit (or values: "
                       "[...] for a categorical)");
    CHECK_EQ(sweep_spec_parse(wandb_file, strlen(wandb_file), "w.yaml", &s, &err), CARBS_EINVAL);
    CHECK_STR(err.msg, "w.yaml:1: method: required: bayes or random");
    CHECK_EQ(sweep_spec_parse(by_value, strlen(by_value), "dir/v.yaml", &s, &err), CARBS_EINVAL);
    CHECK_STR(err.msg, "dir/v.yaml:1: method: required: bayes or random");
}

/* The sweep's name: W&B's when valid, else the file's stem. */
static void test_sweep_wandb_names(void)
{
    static const char named[] = "name: 'My sweep #2'\nmethod: random\nmetric: {name: y}\n"
                                "program: t.py\nparameters: {x: {min: 0, max: 1}}\n";
    sweep_spec_t s;
    carbs_err_t err = {0};

    CHECK_EQ(sweep_spec_parse(named, strlen(named), "sweeps/lr scan.v2.yaml", &s, &err), 0);
    CHECK_STR(s.name, "lr-scan");
    CHECK(has_note(&s, "assumed: name = lr-scan (W&B's name 'My sweep #2' is not a valid carbs "
                       "name)"));
    CHECK_EQ(s.carbs.num_random_samples, 100);
    sweep_spec_release(&s);
    CHECK_EQ(sweep_spec_parse(named, strlen(named), "1234.yaml", &s, &err), 0);
    CHECK_STR(s.name, "wandb-sweep");
    sweep_spec_release(&s);
}

/* Every error of a file, in the order the rules ran, the first in err;
 * a typo'd required key is reported once, as the typo. */
static void test_sweep_all_errors(void)
{
    static const char text[] = "name: e\nmetrc: {name: y}\ntrainer: synthetic\n"
                               "synthetic: {function: branin, fail_rate: 2}\n"
                               "parameters: {x: {space: linear, min: 1, max: 0}}\n"
                               "budget: {parallel: 0}\n";
    sweep_spec_t s;
    sweep_argv_t errors = {0};
    carbs_err_t err = {0};

    CHECK_EQ(sweep_spec_parse_all(text, strlen(text), "e.yaml", &s, &errors, &err), CARBS_EINVAL);
    CHECK_EQ(errors.n, 4);
    if (errors.n == 4) {
        CHECK_STR(errors.v[0], "e.yaml:2: metrc: unknown key (did you mean 'metric'?)");
        CHECK_STR(errors.v[1], "e.yaml:4: synthetic.fail_rate: must be in [0, 1] (got 2)");
        CHECK_STR(errors.v[2], "e.yaml:5: parameters.x.max: must be greater than min 1 (got 0)");
        CHECK_STR(errors.v[3], "e.yaml:6: budget.parallel: must be in [1, 1000000] (got 0)");
    }
    CHECK_STR(err.msg, "e.yaml:2: metrc: unknown key (did you mean 'metric'?)");
    CHECK(spec_is_empty(&s));
    sweep_argv_release(&errors);
    /* a file that cannot be read has one error */
    CHECK_EQ(sweep_spec_parse_all("a: [", 4, "x.yaml", &s, &errors, &err), CARBS_EINVAL);
    CHECK_EQ(errors.n, 1);
    CHECK(errors.n == 1 && strcmp(errors.v[0], err.msg) == 0);
    sweep_argv_release(&errors);
    sweep_argv_release(NULL);
}

// ---- the design example and the examples/ folder ----

static void test_sweep_design_example(void)
{
    char path[1024];
    sweep_spec_t s;
    carbs_err_t err = {0};
    const carbs_param_t *p;

    snprintf(path, sizeof(path), "%s/tests/data/sweep/good/design-example.yaml", src_root());
    CHECK_EQ(sweep_spec_load(path, &s, &err), 0);
    CHECK_STR(s.name, "tiny-lm");
    CHECK_STR(s.metric.name, "val_bpb");
    CHECK_EQ(s.metric.goal, SWEEP_GOAL_MINIMIZE);
    CHECK_EQ(s.carbs.better_direction_sign, -1);
    CHECK_STR(s.cost.name, "wall_seconds");
    CHECK_EQ(s.trainer, PROTO_TRAINER_EMBEDDED);
    CHECK_STR(s.scaling.model_size, "n_params");
    CHECK_STR(s.scaling.tokens, "tokens");
    CHECK_EQ(s.parameters.n, 7);
    p = carbs_space_find(&s.parameters, "d_model");
    CHECK(p && p->space == CARBS_SPACE_LOG && p->is_integer && p->round == 16 && p->min == 32 &&
          p->max == 1024 && p->center == 64 && p->scale == 1);
    p = carbs_space_find(&s.parameters, "n_layers");
    CHECK(p && p->scale == 2 && p->round == 1);
    p = carbs_space_find(&s.parameters, "beta2");
    CHECK(p && p->space == CARBS_SPACE_LOGIT && p->min == 0 && p->max == 1 && p->center == 0.95);
    p = carbs_space_find(&s.parameters, "decay");
    CHECK(p && p->space == CARBS_SPACE_CATEGORICAL && p->n_values == 2 && p->center == 0);
    CHECK(p && strcmp(p->values[1], "linear") == 0);
    CHECK_EQ(s.parameters.v[6].space, CARBS_SPACE_CATEGORICAL); /* declaration order */
    CHECK_EQ(s.fixed.n, 4);
    CHECK(carbs_params_find(&s.fixed, "kv_ratio") &&
          carbs_params_find(&s.fixed, "kv_ratio")->num == 0.5);
    CHECK_NEAR(s.carbs.max_suggestion_cost, 600, 0);
    CHECK_EQ(s.carbs.num_random_samples, 4);
    CHECK_NEAR(s.carbs.initial_search_radius, 0.3, 0);
    CHECK_EQ(s.carbs.outstanding_suggestion_estimator, CARBS_ESTIMATOR_THOMPSON);
    CHECK_EQ(s.budget.trials, 200);
    CHECK_NEAR(s.budget.cost, 36000, 0);
    CHECK_EQ(s.budget.parallel, 8);
    CHECK_EQ(s.budget.max_retries, 3);
    sweep_spec_release(&s);
    CHECK(spec_is_empty(&s));
}

static void test_sweep_examples(void)
{
    static const char *const files[] = {"tiny-lm.yaml", "synthetic.yaml", "command.yaml"};

    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        char path[1024], *text, *js;
        size_t len;

        snprintf(path, sizeof(path), "%s/examples/%s", src_root(), files[i]);
        text = read_all(path, &len);
        CHECK(text != NULL);
        if (!text)
            continue;
        js = canonical_checked(text, len, files[i]);
        CHECK(js != NULL);
        free(js);
        free(text);
    }
}

static void test_sweep_defaults(void)
{
    static const char text[] = "name: d\nmetric: {name: score, goal: maximize}\n"
                               "trainer: command\ncommand: [./run]\n"
                               "parameters: {x: {space: linear, min: -1.25, max: 3.5}}\n";
    sweep_spec_t s;
    carbs_config_t want;
    carbs_err_t err = {0};

    CHECK_EQ(sweep_spec_parse(text, strlen(text), "d.yaml", &s, &err), 0);
    carbs_config_defaults(&want);
    want.better_direction_sign = 1; /* maximize */
    CHECK(memcmp(&want, &s.carbs, sizeof(want)) == 0);
    CHECK_EQ(s.carbs.num_candidates_for_suggestion_per_dim, 100);
    CHECK_EQ(s.carbs.resample_frequency, 5);
    CHECK_NEAR(s.carbs.min_pareto_cost_fraction, 0.2, 0);
    CHECK(s.carbs.is_pareto_group_selection_conservative);
    CHECK(s.carbs.is_expected_improvement_pareto_value_clamped);
    CHECK(!s.carbs.is_expected_improvement_value_always_max);
    CHECK_EQ(s.budget.trials, 0);
    CHECK_EQ(s.budget.parallel, 1);
    CHECK_EQ(s.budget.max_retries, 3);
    CHECK_STR(s.cost.name, SWEEP_DEFAULT_COST);
    CHECK_EQ(s.command.n, 1);
    CHECK_STR(s.command.v[0], "./run");
    CHECK_NEAR(s.parameters.v[0].center, 1.125, 0);
    sweep_spec_release(&s);
}

/* Default centers: the basic-space midpoint of the bounds. */
static void test_sweep_default_centers(void)
{
    static const char text[] =
        "name: c\nmetric: {name: y}\ntrainer: command\ncommand: [./r]\nparameters:\n"
        "  a: {space: log, min: 2.385e-5, max: 0.0713}\n"
        "  b: {space: logit, min: 0.0125, max: 0.875, scale: 1.5}\n"
        "  c: {space: log, min: 3, max: 517, integer: true, round: 4}\n"
        "  d: {space: linear, min: -7.5, max: 0.25, scale: 2.5}\n";
    sweep_spec_t s;
    carbs_err_t err = {0};
    double lb, hb;

    CHECK_EQ(sweep_spec_parse(text, strlen(text), "c.yaml", &s, &err), 0);
    CHECK_NEAR(s.parameters.v[0].center, sqrt(2.385e-5 * 0.0713), 1e-15);
    lb = log10(0.0125 / 0.9875);
    hb = log10(0.875 / 0.125);
    CHECK_NEAR(s.parameters.v[1].center, 1 / (1 + pow(10, -(lb + hb) / 2)), 1e-12);
    CHECK_NEAR(s.parameters.v[2].center, 4 * rint(sqrt(3.0 * 517) / 4), 0); /* 40 */
    CHECK_NEAR(s.parameters.v[3].center, -3.625, 1e-15);
    sweep_spec_release(&s);
}

// ---- random specs ----

typedef struct xrng {
    uint64_t s;
} xrng_t;

static double rnd(xrng_t *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (double)(r->s >> 11) / 9007199254740992.0;
}

/* Random bounds with many significant digits, written with %.17g: parsing
 * them, encoding and decoding must keep every double exactly. */
static void test_sweep_random_round_trip(void)
{
    xrng_t r = {0x9e3779b97f4a7c15ull};

    for (int round = 0; round < 60; round++) {
        char text[4096];
        double mins[6], maxs[6];
        int n = 0;
        sweep_spec_t s, t;
        carbs_err_t err = {0};
        char *j1 = NULL, *j2 = NULL;

        n += snprintf(text + n, sizeof(text) - (size_t)n,
                      "name: r%d\nmetric: {name: m%d}\ntrainer: command\ncommand: [x]\n"
                      "carbs: {exploration_bias: %.17g, initial_search_radius: %.17g}\n"
                      "parameters:\n",
                      round, round, rnd(&r) * 4 - 2, 0.01 + rnd(&r));
        for (int i = 0; i < 6; i++) {
            int kind = i % 3;
            if (kind == 0) {
                mins[i] = -1000 * rnd(&r);
                maxs[i] = mins[i] + 1e-3 + 500 * rnd(&r);
            } else if (kind == 1) {
                mins[i] = pow(10, -8 + 6 * rnd(&r));
                maxs[i] = mins[i] * (1.5 + 1e4 * rnd(&r));
            } else {
                mins[i] = 0.001 + 0.4 * rnd(&r);
                maxs[i] = mins[i] + 0.01 + 0.5 * rnd(&r);
            }
            n += snprintf(text + n, sizeof(text) - (size_t)n,
                          "  p%d: {space: %s, min: %.17g, max: %.17g, scale: %.17g}\n", i,
                          kind == 0 ? "linear" : kind == 1 ? "log" : "logit", mins[i], maxs[i],
                          0.1 + 3 * rnd(&r));
        }
        CHECK_EQ(sweep_spec_parse(text, (size_t)n, "r.yaml", &s, &err), 0);
        if (err.msg[0])
            fprintf(stderr, "%s\n", err.msg);
        for (int i = 0; i < 6 && s.parameters.n == 6; i++) {
            CHECK(s.parameters.v[i].min == mins[i]);
            CHECK(s.parameters.v[i].max == maxs[i]);
            CHECK(s.parameters.v[i].center > mins[i] && s.parameters.v[i].center < maxs[i]);
        }
        CHECK_EQ(sweep_spec_to_json(&s, &j1, &err), 0);
        CHECK_EQ(sweep_spec_from_json(j1, &t, &err), 0);
        for (size_t i = 0; i < 6 && t.parameters.n == 6; i++) {
            CHECK(memcmp(&t.parameters.v[i], &s.parameters.v[i], sizeof(carbs_param_t)) == 0);
        }
        CHECK(t.carbs.exploration_bias == s.carbs.exploration_bias);
        CHECK_EQ(sweep_spec_to_json(&t, &j2, &err), 0);
        CHECK_STR(j1, j2);
        free(j1);
        free(j2);
        sweep_spec_release(&s);
        sweep_spec_release(&t);
    }
}

// ---- failures ----

/* The JSON input has no escapes: jansson 2.14 asserts (load.c, in
 * lex_scan_string) when an allocation fails while it decodes an escape. */
static void test_sweep_alloc_failures(void)
{
    static const char *const files[] = {"good/defaults-centers.yaml", "good/design-example.json",
                                        "wandb/distributions.yaml"};

    for (size_t f = 0; f < ARRAY_SIZE(files); f++) {
        char path[1024], *text, *want = NULL;
        size_t len, fails = 0;
        sweep_spec_t s;
        carbs_err_t err = {0};

        snprintf(path, sizeof(path), "%s/tests/data/sweep/%s", src_root(), files[f]);
        text = read_all(path, &len);
        CHECK(text != NULL);
        if (!text)
            continue;
        want = canonical_checked(text, len, "f");
        for (size_t k = 1; k < 400; k++) {
            char *got = NULL;
            int rc;

            carbs_fault_fail_at(k);
            rc = sweep_spec_parse(text, len, "f", &s, &err);
            if (rc == 0)
                rc = sweep_spec_to_json(&s, &got, &err);
            carbs_fault_fail_at(0);
            CHECK(rc == 0 || rc == CARBS_ENOMEM);
            if (rc == CARBS_ENOMEM) {
                fails++;
                CHECK(got == NULL);
            } else {
                CHECK_STR(got, want);
            }
            free(got);
            sweep_spec_release(&s);
        }
        CHECK(fails > 10);
        free(want);
        free(text);
    }
}

static const char dims_head[] = "name: wide\nmetric: {name: loss, goal: minimize}\n"
                                "trainer: command\ncommand: [sh, train.sh]\n";

/* head, then a sweep of n parameters from 0 to 1, plus one categorical of
 * k values when k > 0, parsed; the result code, the message in err. */
static int parse_dims(const char *head, int n, int k, carbs_err_t *err)
{
    size_t cap = 256 + (size_t)n * 48 + (size_t)k * 8, len;
    char *y = malloc(cap);
    sweep_spec_t s;
    int rc;

    len = (size_t)snprintf(y, cap, "%sparameters:\n", head);
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(y + len, cap - len, "  p%d: {%smin: 0.0, max: 1.0}\n", i,
                                head == dims_head ? "space: linear, " : "");
    if (k > 0) {
        len += (size_t)snprintf(y + len, cap - len, "  c: {values: [");
        for (int i = 0; i < k; i++)
            len += (size_t)snprintf(y + len, cap - len, "%sv%d", i ? ", " : "", i);
        len += (size_t)snprintf(y + len, cap - len, "]}\n");
    }
    rc = sweep_spec_parse(y, len, "wide.yaml", &s, err);
    if (rc == 0)
        sweep_spec_release(&s);
    free(y);
    return rc;
}

/* The search dimensions are bounded, a categorical counting its values. */
static void test_sweep_dims_bound(void)
{
    carbs_err_t err = {0};

    CHECK_EQ(parse_dims(dims_head, SWEEP_DIMS_MAX, 0, &err), 0);
    CHECK_EQ(parse_dims(dims_head, SWEEP_DIMS_MAX - 4, 4, &err), 0);
    CHECK_EQ(parse_dims(dims_head, SWEEP_DIMS_MAX + 1, 0, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "257 search dimensions") != NULL);
    CHECK(strstr(err.msg, "at most 256") != NULL);
    CHECK_EQ(parse_dims(dims_head, SWEEP_DIMS_MAX - 4, 5, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "a categorical with K values takes K") != NULL);
    CHECK_EQ(parse_dims(dims_head, 3000, 0, &err), CARBS_EINVAL);
    /* a W&B sweep file alike */
    CHECK_EQ(parse_dims(wandb_head, SWEEP_DIMS_MAX, 0, &err), 0);
    CHECK_EQ(parse_dims(wandb_head, SWEEP_DIMS_MAX + 1, 0, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "257 search dimensions") != NULL);
}

static void test_sweep_load_errors(void)
{
    sweep_spec_t s;
    carbs_err_t err = {0};
    FILE *f;

    CHECK_EQ(sweep_spec_load("no/such/sweep-8213.yaml", &s, &err), CARBS_EIO);
    CHECK(strstr(err.msg, "cannot open 'no/such/sweep-8213.yaml'") == err.msg);
    CHECK(spec_is_empty(&s));
    f = fopen("sweep-too-big.yaml", "wb");
    CHECK(f != NULL);
    if (f) {
        fputs("name: big\n", f);
        for (int i = 0; i < SWEEP_FILE_MAX / 15; i++)
            fputs("# padding line\n", f);
        fclose(f);
        CHECK_EQ(sweep_spec_load("sweep-too-big.yaml", &s, &err), CARBS_EINVAL);
        CHECK_STR(err.msg, "sweep-too-big.yaml: larger than 262144 bytes");
        remove("sweep-too-big.yaml");
    }
    CHECK_EQ(sweep_spec_from_json("name: not json", &s, &err), CARBS_EINVAL);
    CHECK(strncmp(err.msg, "spec:1: invalid JSON", 20) == 0);
    CHECK_EQ(sweep_spec_parse("{name: x", 8, "x.json", &s, &err), CARBS_EINVAL);
    CHECK(strncmp(err.msg, "x.json:1: invalid JSON", 22) == 0);
    CHECK_EQ(sweep_spec_parse("{name: x", 8, "x.yaml", &s, &err), CARBS_EINVAL);
    CHECK(strncmp(err.msg, "x.yaml:1: yaml syntax error", 27) == 0);
    CHECK_EQ(sweep_spec_parse("a\0b", 3, NULL, &s, &err), CARBS_EINVAL);
    CHECK_STR(err.msg, "<input>:1: the file contains a NUL byte");
    CHECK_EQ(sweep_spec_parse("name: \xff\xfe", 8, "u.yaml", &s, &err), CARBS_EINVAL);
    CHECK_STR(err.msg, "u.yaml:1: the file is not valid UTF-8");
    sweep_spec_release(NULL);
}

static void test_sweep_to_json_rejects(void)
{
    static const char text[] = "name: j\nmetric: {name: y}\ntrainer: command\ncommand: [./r]\n"
                               "parameters: {x: {space: linear, min: 0, max: 1}}\n"
                               "fixed: {label: abc}\n";
    sweep_spec_t s;
    carbs_err_t err = {0};
    char *out = (char *)1;

    CHECK_EQ(sweep_spec_parse(text, strlen(text), "j.yaml", &s, &err), 0);
    s.parameters.v[0].center = NAN;
    CHECK_EQ(sweep_spec_to_json(&s, &out, &err), CARBS_EINVAL);
    CHECK(out == NULL);
    CHECK(strstr(err.msg, "sweep 'j': x holds a value JSON cannot encode") != NULL);
    s.parameters.v[0].center = 0.5;
    s.fixed.v[0].str[1] = (char)0xc3; /* a cut UTF-8 sequence */
    CHECK_EQ(sweep_spec_to_json(&s, &out, &err), CARBS_EINVAL);
    s.fixed.v[0].str[1] = 'b';
    CHECK_EQ(sweep_spec_to_json(&s, &out, &err), 0);
    CHECK(out && strstr(out, "\"fixed\":{\"label\":\"abc\"}") != NULL);
    free(out);
    sweep_spec_release(&s);
}

static void test_sweep_name_check(void)
{
    carbs_err_t err = {0};
    char long_name[80];

    CHECK_EQ(sweep_name_check("tiny-lm_v2.1", &err), 0);
    CHECK_EQ(sweep_name_check("2024-sweep", &err), 0);
    CHECK_EQ(sweep_name_check("2024", &err), CARBS_EINVAL);
    CHECK_STR(err.msg, "'2024' is not a valid name (all digits would read as an id)");
    CHECK_EQ(sweep_name_check("", &err), CARBS_EINVAL);
    CHECK_EQ(sweep_name_check("a b", &err), CARBS_EINVAL);
    CHECK_EQ(sweep_name_check("caf\xc3\xa9", &err), CARBS_EINVAL);
    memset(long_name, 'q', 63);
    long_name[63] = '\0';
    CHECK_EQ(sweep_name_check(long_name, &err), 0);
    long_name[63] = 'q';
    long_name[64] = '\0';
    CHECK_EQ(sweep_name_check(long_name, &err), CARBS_EINVAL);
    CHECK_EQ(sweep_name_check(NULL, &err), CARBS_EINVAL);
}

static void test_sweep_name_tables(void)
{
    CHECK_STR(sweep_goal_name(SWEEP_GOAL_MAXIMIZE), "maximize");
    CHECK_EQ(sweep_goal_parse("minimize"), SWEEP_GOAL_MINIMIZE);
    CHECK_EQ(sweep_goal_parse("Minimize"), -1);
    CHECK_STR(sweep_synth_name(SWEEP_SYNTH_HARTMANN6), "hartmann6");
    CHECK_EQ(sweep_synth_parse("scaling"), SWEEP_SYNTH_SCALING);
    CHECK_STR(sweep_synth_name((sweep_synth_t)99), "unknown");
}

int main(void)
{
    proto_json_init(); /* jansson's allocations go through the fault injector too */
    RUN(test_sweep_good_files);
    RUN(test_sweep_bad_files);
    RUN(test_sweep_yaml_json_agree);
    RUN(test_sweep_wandb_files);
    RUN(test_sweep_wandb_distributions);
    RUN(test_sweep_wandb_refusals);
    RUN(test_sweep_wandb_detection);
    RUN(test_sweep_wandb_names);
    RUN(test_sweep_all_errors);
    RUN(test_sweep_design_example);
    RUN(test_sweep_examples);
    RUN(test_sweep_defaults);
    RUN(test_sweep_default_centers);
    RUN(test_sweep_random_round_trip);
    RUN(test_sweep_alloc_failures);
    RUN(test_sweep_load_errors);
    RUN(test_sweep_dims_bound);
    RUN(test_sweep_to_json_rejects);
    RUN(test_sweep_name_check);
    RUN(test_sweep_name_tables);
    return check_summary();
}
