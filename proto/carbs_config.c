/*
 * carbs_config.c - the table of CARBS options and the code that reads,
 * checks and defaults a carbs_config_t through it (docs/algorithm.md
 * "Options").
 *
 * Each option is one row: where its field is (an offset), what C type the
 * field has, its default and its range.  Values move in and out of the
 * struct as doubles through memcpy, so one code path serves every field
 * type; every range used here is exact in a double (integers stay below
 * 2^53).
 */
#include "proto/common.h"
#include "proto/carbs_config.h"

#include <math.h>
#include <stddef.h>

/* Largest integer a double holds exactly: the seed's upper bound. */
#define INT53 9007199254740992.0

/* Enums are stored and read as int. */
_Static_assert(sizeof(carbs_estimator_t) == sizeof(int), "enum size");
_Static_assert(sizeof(carbs_gp_fit_t) == sizeof(int), "enum size");

static const char *const estimator_names[] = {
#define X(id, name) name,
    CARBS_ESTIMATOR_MAP(X)
#undef X
};

static const char *const gp_fit_names[] = {
#define X(id, name) name,
    CARBS_GP_FIT_MAP(X)
#undef X
};

#define OFF(field) offsetof(carbs_config_t, field)

const carbs_config_opt_t carbs_config_opts[CARBS_CONFIG_N_OPTS] = {
    {"better_direction_sign", CARBS_CONFIG_SIGN, OFF(better_direction_sign), -1, -1, 1,
     CARBS_CONFIG_DERIVED, NULL, 0, "+1 to maximize the output, -1 to minimize it"},
    {"seed", CARBS_CONFIG_U64, OFF(seed), 0, 0, INT53, 0, NULL, 0,
     "seeds the optimizer's random generator, once"},
    {"num_random_samples", CARBS_CONFIG_INT, OFF(num_random_samples), 4, 1, 1e6, 0, NULL, 0,
     "random suggestions around the search center until this many successes"},
    {"initial_search_radius", CARBS_CONFIG_NUM, OFF(initial_search_radius), 0.3, 0, HUGE_VAL,
     CARBS_CONFIG_MIN_OPEN, NULL, 0,
     "r, the standard deviation of candidate draws, in basic-space units"},
    {"exploration_bias", CARBS_CONFIG_NUM, OFF(exploration_bias), 1.0, -HUGE_VAL, HUGE_VAL, 0,
     NULL, 0, "margin added to the expected-improvement baseline, in surrogate units"},
    /* above 100000 per dimension candidates would only burn memory: the
     * reference's 100 already gives 2000 candidates in 20 dimensions */
    {"num_candidates_for_suggestion_per_dim", CARBS_CONFIG_INT,
     OFF(num_candidates_for_suggestion_per_dim), 100, 1, 100000, 0, NULL, 0,
     "candidates scored per basic dimension for each suggestion"},
    {"resample_frequency", CARBS_CONFIG_INT, OFF(resample_frequency), 5, 0, 1e6, 0, NULL, 0,
     "resample a Pareto group about every this many successes; 0 never"},
    {"max_suggestion_cost", CARBS_CONFIG_NUM, OFF(max_suggestion_cost), HUGE_VAL, 0, HUGE_VAL,
     CARBS_CONFIG_MIN_OPEN | CARBS_CONFIG_UNCAPPED, NULL, 0,
     "candidates predicted to cost more are not suggested; none by default"},
    {"min_pareto_cost_fraction", CARBS_CONFIG_NUM, OFF(min_pareto_cost_fraction), 0.2, 0, 1, 0,
     NULL, 0, "quantile of the costs that forms the Pareto set's cheap bucket"},
    {"is_pareto_group_selection_conservative", CARBS_CONFIG_BOOL,
     OFF(is_pareto_group_selection_conservative), 1, 0, 1, 0, NULL, 0,
     "pick the Pareto front by the conservative rule, not the standard one"},
    {"is_expected_improvement_pareto_value_clamped", CARBS_CONFIG_BOOL,
     OFF(is_expected_improvement_pareto_value_clamped), 1, 0, 1, 0, NULL, 0,
     "raise every EI baseline to the front's value at a random cost"},
    {"is_expected_improvement_value_always_max", CARBS_CONFIG_BOOL,
     OFF(is_expected_improvement_value_always_max), 0, 0, 1, 0, NULL, 0,
     "measure every improvement from the dearest Pareto group's output"},
    {"outstanding_suggestion_estimator", CARBS_CONFIG_ENUM,
     OFF(outstanding_suggestion_estimator), CARBS_ESTIMATOR_THOMPSON, 0, 0, 0, estimator_names,
     ARRAY_SIZE(estimator_names),
     "how pending suggestions are fantasized: a posterior draw or the mean"},
    /* docs/algorithm.md "Surrogates": the warm-started MLE fit moves the
     * hyperparameters where the data say, at a fraction of the cost of the
     * reference's 1000 inert Adam steps. */
    {"gp_fit", CARBS_CONFIG_ENUM, OFF(gp_fit), CARBS_GP_FIT_MLE, 0, 0, 0, gp_fit_names,
     ARRAY_SIZE(gp_fit_names),
     "how GP hyperparameters are fitted: the reference's steps or warm MLE"},
    /* docs/algorithm.md "Large n": 500 keeps a suggestion under the 300 ms
     * goal at n = 1000 while the local subset still covers the front. */
    {"max_fit_observations", CARBS_CONFIG_SIZE, OFF(max_fit_observations), 500, 0, 1e9, 0, NULL,
     0, "past this many successes, fit on those nearest the Pareto set; 0 never"},
};

// ---- names ----

/* The index of name in names[n], or -1 (also for NULL). */
static int name_index(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return (int)i;
    return -1;
}

const char *carbs_estimator_name(carbs_estimator_t e)
{
    return (unsigned)e < CARBS_ESTIMATOR_COUNT ? estimator_names[e] : "unknown";
}

int carbs_estimator_parse(const char *name)
{
    return name_index(estimator_names, ARRAY_SIZE(estimator_names), name);
}

const char *carbs_gp_fit_name(carbs_gp_fit_t f)
{
    return (unsigned)f < CARBS_GP_FIT_COUNT ? gp_fit_names[f] : "unknown";
}

int carbs_gp_fit_parse(const char *name)
{
    return name_index(gp_fit_names, ARRAY_SIZE(gp_fit_names), name);
}

const carbs_config_opt_t *carbs_config_find(const char *name)
{
    for (size_t i = 0; name && i < CARBS_CONFIG_N_OPTS; i++)
        if (strcmp(name, carbs_config_opts[i].name) == 0)
            return &carbs_config_opts[i];
    return NULL;
}

// ---- fields ----

static void store(carbs_config_t *cfg, const carbs_config_opt_t *o, double x)
{
    char *at = (char *)cfg + o->offset;

    /* each conversion only for its own type: x may be +inf for a double */
    switch (o->type) {
    case CARBS_CONFIG_SIGN:
    case CARBS_CONFIG_INT:
    case CARBS_CONFIG_ENUM: {
        int i = (int)x;
        memcpy(at, &i, sizeof(i));
        break;
    }
    case CARBS_CONFIG_U64: {
        uint64_t u = (uint64_t)x;
        memcpy(at, &u, sizeof(u));
        break;
    }
    case CARBS_CONFIG_SIZE: {
        size_t z = (size_t)x;
        memcpy(at, &z, sizeof(z));
        break;
    }
    case CARBS_CONFIG_NUM:
        memcpy(at, &x, sizeof(x));
        break;
    case CARBS_CONFIG_BOOL: {
        bool b = x != 0;
        memcpy(at, &b, sizeof(b));
        break;
    }
    }
}

double carbs_config_get(const carbs_config_t *cfg, const carbs_config_opt_t *o)
{
    const char *at = (const char *)cfg + o->offset;
    int i;
    uint64_t u;
    size_t z;
    double x;
    bool b;

    switch (o->type) {
    case CARBS_CONFIG_SIGN:
    case CARBS_CONFIG_INT:
    case CARBS_CONFIG_ENUM:
        memcpy(&i, at, sizeof(i));
        return i;
    case CARBS_CONFIG_U64:
        memcpy(&u, at, sizeof(u));
        return (double)u;
    case CARBS_CONFIG_SIZE:
        memcpy(&z, at, sizeof(z));
        return (double)z;
    case CARBS_CONFIG_NUM:
        memcpy(&x, at, sizeof(x));
        return x;
    case CARBS_CONFIG_BOOL:
        memcpy(&b, at, sizeof(b));
        return b;
    }
    return NAN;
}

void carbs_config_defaults(carbs_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < CARBS_CONFIG_N_OPTS; i++)
        store(cfg, &carbs_config_opts[i], carbs_config_opts[i].def);
}

// ---- ranges ----

/* The allowed values of o as a phrase: "must be in [1, 1000000]". */
static void range_why(const carbs_config_opt_t *o, char *why, size_t cap)
{
    size_t k;

    switch (o->type) {
    case CARBS_CONFIG_SIGN:
        snprintf(why, cap, "must be -1 or 1");
        return;
    case CARBS_CONFIG_INT:
    case CARBS_CONFIG_U64:
    case CARBS_CONFIG_SIZE:
        snprintf(why, cap, "must be in [%.0f, %.0f]", o->min, o->max);
        return;
    case CARBS_CONFIG_BOOL:
        snprintf(why, cap, "expected true or false");
        return;
    case CARBS_CONFIG_ENUM:
        k = (size_t)snprintf(why, cap, "must be");
        for (size_t i = 0; i < o->n_names && k < cap; i++) {
            const char *sep = i == 0 ? " " : i + 1 == o->n_names ? " or " : ", ";
            int w = snprintf(why + k, cap - k, "%s%s", sep, o->names[i]);
            if (w < 0)
                break;
            k += (size_t)w;
        }
        return;
    case CARBS_CONFIG_NUM:
        break;
    }
    if (o->min == -HUGE_VAL && o->max == HUGE_VAL)
        snprintf(why, cap, "must be finite");
    else if (o->max == HUGE_VAL)
        snprintf(why, cap, "must be %s %g", o->flags & CARBS_CONFIG_MIN_OPEN ? ">" : ">=",
                 o->min);
    else
        snprintf(why, cap, "must be in %c%g, %g]", o->flags & CARBS_CONFIG_MIN_OPEN ? '(' : '[',
                 o->min, o->max);
}

/* Check number x for numeric option o; the reason into why on failure. */
static int check_num(const carbs_config_opt_t *o, double x, char *why, size_t cap)
{
    bool ok;

    switch (o->type) {
    case CARBS_CONFIG_SIGN:
        ok = x == 1 || x == -1;
        break;
    case CARBS_CONFIG_INT:
    case CARBS_CONFIG_U64:
    case CARBS_CONFIG_SIZE:
        if (isfinite(x) && x != floor(x)) {
            snprintf(why, cap, "must be an integer");
            return CARBS_EINVAL;
        }
        ok = x >= o->min && x <= o->max;
        break;
    case CARBS_CONFIG_NUM:
        ok = (o->flags & CARBS_CONFIG_MIN_OPEN ? x > o->min : x >= o->min) && x <= o->max &&
             (isfinite(x) || (o->flags & CARBS_CONFIG_UNCAPPED && x == HUGE_VAL));
        break;
    case CARBS_CONFIG_BOOL:
        ok = x == 0 || x == 1;
        break;
    case CARBS_CONFIG_ENUM:
    default:
        ok = x >= 0 && x < (double)o->n_names && x == floor(x);
        break;
    }
    if (ok)
        return 0;
    range_why(o, why, cap);
    return CARBS_EINVAL;
}

int carbs_config_check(const carbs_config_t *cfg, carbs_err_t *err)
{
    char why[160];

    for (size_t i = 0; i < CARBS_CONFIG_N_OPTS; i++) {
        const carbs_config_opt_t *o = &carbs_config_opts[i];
        double x = carbs_config_get(cfg, o);

        if (check_num(o, x, why, sizeof(why)) < 0)
            return carbs_fail(err, CARBS_EINVAL, "%s: %s (got %g)", o->name, why, x);
    }
    return 0;
}

// ---- setting one value ----

int carbs_config_set_num(carbs_config_t *cfg, const carbs_config_opt_t *o, double x, char *why,
                         size_t cap)
{
    int rc;

    if (o->type == CARBS_CONFIG_BOOL || o->type == CARBS_CONFIG_ENUM) {
        range_why(o, why, cap);
        return CARBS_EINVAL;
    }
    rc = check_num(o, x, why, cap);
    if (rc < 0)
        return rc;
    store(cfg, o, x == 0 ? 0 : x);
    return 0;
}

int carbs_config_set_bool(carbs_config_t *cfg, const carbs_config_opt_t *o, bool b, char *why,
                          size_t cap)
{
    if (o->type == CARBS_CONFIG_BOOL) {
        store(cfg, o, b);
        return 0;
    }
    if (o->type == CARBS_CONFIG_ENUM)
        range_why(o, why, cap);
    else
        snprintf(why, cap, "expected a number");
    return CARBS_EINVAL;
}

int carbs_config_set_name(carbs_config_t *cfg, const carbs_config_opt_t *o, const char *name,
                          char *why, size_t cap)
{
    if (o->type == CARBS_CONFIG_ENUM) {
        int i = name_index(o->names, o->n_names, name);

        if (i >= 0) {
            store(cfg, o, i);
            return 0;
        }
        range_why(o, why, cap);
    } else if (o->type == CARBS_CONFIG_BOOL) {
        range_why(o, why, cap);
    } else {
        snprintf(why, cap, "expected a number");
    }
    return CARBS_EINVAL;
}
