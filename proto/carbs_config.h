/*
 * carbs_config.h - the CARBS options: one table that gives each option its
 * name, type, default, allowed values and a one-line description, and the
 * one struct that holds their values (docs/algorithm.md "Options").
 *
 * Every reader of options goes through the table: the sweep file's carbs:
 * section (proto/sweep.c), the "config" object of an ask-tell init
 * (proto/asktell.c) and the optimizer itself, whose carbs_new() checks its
 * config with carbs_config_check().  So an option added here is accepted,
 * defaulted, range-checked and written to a sweep's canonical JSON
 * everywhere at once.
 *
 * Invariants: carbs_config_defaults() gives a config that passes
 * carbs_config_check(); a value set through carbs_config_set_*() is in
 * range.  Names are those of the reference implementation; its logging and
 * checkpoint options are not options here.
 */
#ifndef CARBS_PROTO_CARBS_CONFIG_H
#define CARBS_PROTO_CARBS_CONFIG_H

#include "proto/common.h"

// ---- enumerated options ----

/* outstanding_suggestion_estimator: how pending suggestions are fantasized. */
#define CARBS_ESTIMATOR_MAP(X)                                                                     \
    X(THOMPSON, "thompson")                                                                        \
    X(MEAN, "mean")

typedef enum carbs_estimator {
#define X(id, name) CARBS_ESTIMATOR_##id,
    CARBS_ESTIMATOR_MAP(X)
#undef X
        CARBS_ESTIMATOR_COUNT
} carbs_estimator_t;

/* gp_fit: how the GP hyperparameters are fitted (docs/algorithm.md
 * "Surrogates"). */
#define CARBS_GP_FIT_MAP(X)                                                                        \
    X(REFERENCE, "reference")                                                                      \
    X(MLE, "mle")

typedef enum carbs_gp_fit {
#define X(id, name) CARBS_GP_FIT_##id,
    CARBS_GP_FIT_MAP(X)
#undef X
        CARBS_GP_FIT_COUNT
} carbs_gp_fit_t;

/* Names of the values above ("unknown" when out of range), and the value
 * of a name (-1 when unknown or NULL).  The strings are static. */
const char *carbs_estimator_name(carbs_estimator_t e);
int carbs_estimator_parse(const char *name);
const char *carbs_gp_fit_name(carbs_gp_fit_t f);
int carbs_gp_fit_parse(const char *name);

// ---- the values ----

/* Every algorithmic option.  Fill with carbs_config_defaults() and change
 * what you need; the table below gives each field's range. */
typedef struct carbs_config {
    int better_direction_sign;                 /* +1 maximize, -1 minimize */
    uint64_t seed;                             /* seeds the optimizer's generator, once */
    int num_random_samples;                    /* random warm-up until this many successes */
    double initial_search_radius;              /* r, basic units */
    double exploration_bias;                   /* EI margin, surrogate units */
    int num_candidates_for_suggestion_per_dim; /* candidates per basic dimension */
    int resample_frequency;                    /* 0 disables resampling */
    double max_suggestion_cost;                /* INFINITY = no cap */
    double min_pareto_cost_fraction;
    bool is_pareto_group_selection_conservative;
    bool is_expected_improvement_pareto_value_clamped;
    bool is_expected_improvement_value_always_max;
    carbs_estimator_t outstanding_suggestion_estimator;
    carbs_gp_fit_t gp_fit;
    /* past this many successes the surrogates are fitted on a local subset
     * around the Pareto set (docs/algorithm.md "Large n"); 0 = never */
    size_t max_fit_observations;
} carbs_config_t;

// ---- the table ----

/* The C type of an option's field and how its value is given. */
typedef enum carbs_config_type {
    CARBS_CONFIG_SIGN, /* int: -1 or +1 */
    CARBS_CONFIG_INT,  /* int: an integral number in [min, max] */
    CARBS_CONFIG_U64,  /* uint64_t: an integral number in [min, max] */
    CARBS_CONFIG_SIZE, /* size_t: an integral number in [min, max] */
    CARBS_CONFIG_NUM,  /* double: a finite number in [min, max] (see the flags) */
    CARBS_CONFIG_BOOL, /* bool */
    CARBS_CONFIG_ENUM, /* an enum of int size: the index of one of names[] */
} carbs_config_type_t;

/* Flags of an option. */
#define CARBS_CONFIG_MIN_OPEN 1u /* min itself is out of range (> min, not >= min) */
#define CARBS_CONFIG_UNCAPPED 2u /* +inf, the default, means no limit */
#define CARBS_CONFIG_DERIVED 4u  /* a sweep file derives it (from metric.goal); not a key there */

typedef struct carbs_config_opt {
    const char *name;
    carbs_config_type_t type;
    size_t offset;            /* offsetof(carbs_config_t, the field) */
    double def;               /* the default (a bool 0 or 1, an enum its index) */
    double min, max;          /* the range of a number */
    unsigned flags;           /* CARBS_CONFIG_* flags */
    const char *const *names; /* an enum's value names, n_names of them */
    size_t n_names;
    const char *doc;          /* one line for humans */
} carbs_config_opt_t;

#define CARBS_CONFIG_N_OPTS 15

/* The table, in the order the canonical sweep JSON writes the options. */
extern const carbs_config_opt_t carbs_config_opts[CARBS_CONFIG_N_OPTS];

/* The option called name, or NULL. */
const carbs_config_opt_t *carbs_config_find(const char *name);

// ---- reading and checking values ----

/* Fill cfg with every option's default (minimize, seed 0). */
void carbs_config_defaults(carbs_config_t *cfg);

/* 0, or CARBS_EINVAL naming the first option of cfg out of its range, as
 * "NAME: WHY (got VALUE)". */
int carbs_config_check(const carbs_config_t *cfg, carbs_err_t *err);

/* Set option o of cfg from a number, a boolean or a value name.  Returns 0,
 * or CARBS_EINVAL with the reason as a phrase for the caller to place, e.g.
 * "must be in [1, 1000000]", "must be an integer", "expected true or
 * false" or "must be thompson or mean", in why[cap] (cap >= 1); cfg is
 * unchanged on error.  A number is what a number option, and only it,
 * accepts; likewise a boolean and a name. */
int carbs_config_set_num(carbs_config_t *cfg, const carbs_config_opt_t *o, double x, char *why,
                         size_t cap);
int carbs_config_set_bool(carbs_config_t *cfg, const carbs_config_opt_t *o, bool b, char *why,
                          size_t cap);
int carbs_config_set_name(carbs_config_t *cfg, const carbs_config_opt_t *o, const char *name,
                          char *why, size_t cap);

/* The value of option o in cfg as a double: a bool is 0 or 1, an enum its
 * index. */
double carbs_config_get(const carbs_config_t *cfg, const carbs_config_opt_t *o);

#endif
