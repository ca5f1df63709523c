/*
 * cmd_laws.c - `carbs laws SWEEP [--at-cost C | --at-flops F] [--verify]
 * [--format json|table]`: the sweep's scaling laws with intervals and its
 * verification runs, and with --at-cost the predicted best metric and
 * optimal value of every numeric parameter at cost C, flagged when C lies
 * beyond the holdout-validated range.  --at-flops fits the laws in the
 * training FLOPs the trials report instead of the sweep's cost, which also
 * gives the compute-optimal N and D.  --verify queues the predicted
 * configuration as a verification run (tools/laws_verify.h).
 * docs/scaling-laws.md explains how to read the output.
 *
 * The laws are fitted on the spot from the store's trials (with bootstrap
 * intervals; under 0.1 s for 500 trials), so the answer always matches the store;
 * --stored prints the latest fit the service kept instead.  A reader: the
 * store is opened read-only; --verify sends its trial as a request to the
 * service that holds the store, or to a one-shot one (tools/request.h).
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <math.h>

#include "optimizer/space.h"
#include "tools/format.h"
#include "tools/laws_at.h"
#include "tools/laws_verify.h"
#include "optimizer/service/laws_data.h"
#include "tools/request.h"
#include "tools/verb.h"

static const char usage_text[] =
    "carbs laws SWEEP [--db PATH] [(--at-cost C | --at-flops F) [--verify]]\n"
    "                 [--format json|table] [--stored]";

/* The metric --at-flops fits the laws in: training FLOPs, which the
 * embedded trainer and the synthetic scaling function report for every
 * trial whatever the sweep's cost (C = 6 N D holds in it). */
#define LAWS_FLOPS "flops"

// ---- the prediction at one cost (tools/laws_at.h) ----

/* "[lo, hi]" with %.4g, or "-" without an interval. */
static void interval_cell(format_table_t *t, double lo, double hi)
{
    if (isfinite(lo) && isfinite(hi))
        format_table_addf(t, "[%.4g, %.4g]", lo, hi);
    else
        format_table_add(t, "-");
}

static void print_at_table(const laws_t *l, const sweep_spec_t *spec, const laws_at_t *a)
{
    format_table_t t;
    int pct = (int)lrint(100.0 * l->level);

    printf("at %s = %.4g", l->cost, a->cost);
    if (a->refused) {
        /* no number at all: the reason is the answer */
        printf(": %s\n", l->loss.why);
        printf("(the %s law is fitted over %s %.4g to %.4g; it gives no prediction beyond)\n",
               l->estimator, l->cost, l->loss.c_min, l->loss.c_max);
        return;
    }
    if (a->beyond_validated)
        printf(" (WARNING: beyond the holdout-validated range, up to %.4g)\n", a->valid_max_cost);
    else if (a->extrapolated)
        printf(" (extrapolated; within the holdout-validated range, up to %.4g)\n",
               a->valid_max_cost);
    else if (l->loss.status)
        printf(" (inside the fitted range; the law fails its checks: %s)\n", l->loss.why);
    else
        printf(" (inside the fitted range)\n");
    format_table_init(&t, 3);
    format_table_add(&t, "quantity");
    format_table_add(&t, "predicted");
    format_table_addf(&t, "%d%% interval", pct);
    format_table_addf(&t, "best %s", l->metric);
    format_table_addf(&t, "%.4g", a->metric[0]);
    interval_cell(&t, a->metric[1], a->metric[2]);
    for (size_t i = 0; i < l->n_lines; i++) {
        double v[3];
        if (l->lines[i].status)
            continue;
        laws_at_param(&l->lines[i], spec, a->cost, v);
        format_table_add(&t, l->lines[i].name);
        format_table_addf(&t, "%.4g", v[0]);
        interval_cell(&t, v[1], v[2]);
    }
    if (isfinite(a->N)) {
        format_table_addf(&t, "compute-optimal %s", l->nd.model_size);
        format_table_addf(&t, "%.4g", a->N);
        format_table_add(&t, "-");
        format_table_addf(&t, "compute-optimal %s", l->nd.tokens);
        format_table_addf(&t, "%.4g", a->D);
        format_table_add(&t, "-");
    }
    format_table_print(&t, stdout);
    format_table_release(&t);
    for (size_t i = 0; i < l->n_lines; i++) {
        const carbs_param_t *p = carbs_space_find(&spec->parameters, l->lines[i].name);
        double v[3];
        if (l->lines[i].status || !p)
            continue;
        laws_at_param(&l->lines[i], spec, a->cost, v);
        if (laws_at_outside_range(spec, l->lines[i].name, v[0]))
            printf("note: %s = %.4g is outside the range searched [%.4g, %.4g]: no trial tried "
                   "it\n",
                   l->lines[i].name, v[0], p->min, p->max);
    }
    if (!isfinite(a->N) && l->full && l->nd.model_size[0])
        printf("compute-optimal %s and %s: not given (%s)\n",
               l->nd.model_size[0] ? l->nd.model_size : "size",
               l->nd.tokens[0] ? l->nd.tokens : "tokens", a->nd_why);
}

// ---- the laws ----

static void print_laws_table(const laws_t *l)
{
    format_table_t t;
    int pct = (int)lrint(100.0 * l->level);
    const laws_power_t *p = &l->loss;
    const laws_holdout_t *h = &l->holdout;

    bool front = strcmp(l->estimator, "front") == 0;

    printf("scaling laws: %s vs %s, %zu successful trials, %zu on the pareto front, %d%% "
           "intervals%s, estimator %s\n\n",
           l->metric, l->cost, l->n_trials, l->n_front, pct,
           l->full ? "" : " (no bootstrap: cheap fit)", l->estimator);
    printf("best %s = E + A * %s^-alpha   (%zu %s, %s in [%.4g, %.4g], rmse %.4g)\n", l->metric,
           l->cost, p->n, front ? "front points" : "trials", l->cost, p->c_min, p->c_max,
           p->rmse);
    format_table_init(&t, 3);
    format_table_add(&t, "  coef");
    format_table_add(&t, "value");
    format_table_addf(&t, "%d%% interval", pct);
    format_table_add(&t, "  E");
    format_table_addf(&t, "%.4g", p->E);
    interval_cell(&t, p->E_lo, p->E_hi);
    format_table_add(&t, "  A");
    format_table_addf(&t, "%.4g", p->A);
    interval_cell(&t, p->A_lo, p->A_hi);
    format_table_add(&t, "  alpha");
    format_table_addf(&t, "%.4g", p->alpha);
    interval_cell(&t, p->alpha_lo, p->alpha_hi);
    format_table_print(&t, stdout);
    format_table_release(&t);
    if (isfinite(p->bound))
        printf("  E is bounded by %g (%s)\n", p->bound, l->maximize ? "a ceiling" : "a floor");
    if (p->why[0])
        printf("  %s%s\n", p->status ? "" : "note: ", p->why);

    printf("\noptimal parameters: basic coordinate u = a + b ln(%s)\n", l->cost);
    format_table_init(&t, 5);
    format_table_add(&t, "  parameter");
    format_table_add(&t, "slope b");
    format_table_addf(&t, "%d%% interval", pct);
    format_table_add(&t, "R^2");
    format_table_add(&t, "power law");
    for (size_t i = 0; i < l->n_lines; i++) {
        const laws_line_t *ln = &l->lines[i];
        format_table_addf(&t, "  %s", ln->name);
        if (ln->status) {
            format_table_add(&t, ln->why);
            format_table_add(&t, "");
            format_table_add(&t, "");
            format_table_add(&t, "");
            continue;
        }
        format_table_addf(&t, "%.4g", ln->slope);
        interval_cell(&t, ln->slope_lo, ln->slope_hi);
        format_table_num(&t, ln->r2);
        if (isfinite(ln->exponent))
            format_table_addf(&t, "%s ~ C^%.4g", ln->name, ln->exponent);
        else
            format_table_add(&t, "-");
    }
    format_table_print(&t, stdout);
    format_table_release(&t);

    printf("\ncompute-optimal allocation: L(N, D) = E + A/N^alpha + B/D^beta over all trials "
           "(N = %s, D = %s)\n",
           l->nd.model_size[0] ? l->nd.model_size : "-", l->nd.tokens[0] ? l->nd.tokens : "-");
    if (l->nd.status) {
        printf("  %s\n", l->nd.why);
    } else if (l->nd.from_line) {
        const laws_nd_t *nd = &l->nd;
        printf("  not used: %s\n", nd->law_why);
        const char *v = nd->line_tokens ? nd->tokens : nd->model_size;
        printf("  instead the joint model's optimum line of %s, with ln %s = %.4g + %.4g u over "
               "the trials:\n",
               nd->line_param[0] ? nd->line_param : "a parameter",
               v[0] ? v : nd->line_tokens ? "D" : "N", nd->ln_v0, nd->ln_v_slope);
        format_table_init(&t, 3);
        format_table_add(&t, "  exponent");
        format_table_add(&t, "value");
        format_table_addf(&t, "%d%% interval", pct);
        format_table_add(&t, "  a: N_opt ~ C^a");
        format_table_num(&t, nd->a);
        interval_cell(&t, nd->a_lo, nd->a_hi);
        format_table_add(&t, "  b: D_opt ~ C^b");
        format_table_num(&t, nd->b);
        interval_cell(&t, nd->b_lo, nd->b_hi);
        format_table_print(&t, stdout);
        format_table_release(&t);
        printf("  %s\n", nd->line_tokens ? "N_opt = C / (6 D_opt)" : "D_opt = C / (6 N_opt)");
    } else {
        const laws_nd_t *nd = &l->nd;
        printf("  %zu trials, E %.4g, A %.4g, B %.4g, rmse %.4g\n", nd->n, nd->E, nd->A, nd->B,
               nd->rmse);
        format_table_init(&t, 3);
        format_table_add(&t, "  exponent");
        format_table_add(&t, "value");
        format_table_addf(&t, "%d%% interval", pct);
        format_table_add(&t, "  alpha (N)");
        format_table_addf(&t, "%.4g", nd->alpha);
        interval_cell(&t, nd->alpha_lo, nd->alpha_hi);
        format_table_add(&t, "  beta (D)");
        format_table_addf(&t, "%.4g", nd->beta);
        interval_cell(&t, nd->beta_lo, nd->beta_hi);
        format_table_add(&t, "  a: N_opt ~ C^a");
        format_table_num(&t, nd->a);
        interval_cell(&t, nd->a_lo, nd->a_hi);
        format_table_add(&t, "  b: D_opt ~ C^b");
        format_table_num(&t, nd->b);
        interval_cell(&t, nd->b_lo, nd->b_hi);
        format_table_print(&t, stdout);
        format_table_release(&t);
        if (nd->why[0])
            printf("  note: %s\n", nd->why);
    }

    printf("\nholdout: ");
    if (h->status) {
        printf("%s\n", h->why);
    } else {
        printf("refit on the trials below the %zu dearest front points (up to %s %.4g)\n", h->k,
               l->cost, h->train_max_cost);
        for (size_t i = 0; i < h->k; i++)
            printf("  at %.4g: predicted %.4g, observed %.4g (error %+.2f%%)\n", h->cost[i],
                   h->predicted[i], h->actual[i],
                   100.0 * (h->predicted[i] - h->actual[i]) / fabs(h->actual[i]));
        printf("  largest error %.2f%%, allowed %.3g%%: %s; it validates %s up to %.4g (%.3gx "
               "the dearest trial)\n",
               100.0 * h->max_rel_err, 100.0 * h->tol, h->passed ? "passed" : "FAILED", l->cost,
               h->valid_max_cost, h->valid_max_cost / p->c_max);
    }
    if (p->status)
        printf("\nstatus: %s\n", p->why);
    else
        printf("\nstatus: OK: predictions are validated up to %s %.4g\n", l->cost,
               isfinite(h->valid_max_cost) ? h->valid_max_cost : p->c_max);
}

// ---- the command ----

static int help(void)
{
    printf("usage: %s\n\n"
           "Fit and print SWEEP's scaling laws (docs/scaling-laws.md): the best metric vs\n"
           "cost, E + A*C^-alpha with bootstrap intervals, fitted to every trial (the joint\n"
           "estimator); each numeric parameter's optimal value as a line in its basic space\n"
           "vs ln cost (a power law for log parameters); the compute-optimal exponents\n"
           "N_opt ~ C^a and D_opt ~ C^b where the sweep has a model size and tokens; and a\n"
           "holdout check.  A law that fails its checks says \"cannot predict: ...\" and\n"
           "gives no number beyond its data.  Then the sweep's verification runs (--verify):\n"
           "each prediction against what its run observed.\n\n"
           "  --at-cost C      predict the best metric and every parameter's optimal value\n"
           "                   at cost C, flagged when C is beyond the validated range\n"
           "  --at-flops F     the same at F training FLOPs: the laws are fitted to the\n"
           "                   flops metric the trials report (whatever the sweep's cost),\n"
           "                   with the compute-optimal model size and tokens\n"
           "  --verify         with --at-cost or --at-flops: queue the predicted configuration\n"
           "                   as a verification run of the sweep, stored with its prediction;\n"
           "                   `carbs laws` shows predicted vs observed once it has run\n"
           "  --format F       json (default: one object) or table\n"
           "  --stored         print the latest fit the service stored instead of refitting\n"
           "  --db PATH        the store (opened read-only; --verify sends a request to the\n"
           "                   service holding it, or to a one-shot one)\n\n"
           "Exits 1 with 'cannot predict: not enough data' while the front has fewer than\n"
           "3 points.\n",
           usage_text);
    return CLI_EXIT_OK;
}

/* The at-cost answer as one JSON line on stdout. */
static int print_at_json(const laws_t *l, const sweep_spec_t *spec, const laws_at_t *a,
                         carbs_err_t *err)
{
    jw_t jw;
    char *text;
    int rc;

    jw_init(&jw);
    laws_at_json(&jw, l, spec, a);
    rc = jw.sb.err;
    text = jw_detach(&jw, NULL);
    if (!text)
        return carbs_fail(err, rc ? rc : CARBS_ENOMEM, "cannot write the at-cost answer");
    printf("%s\n", text);
    free(text);
    return 0;
}

static int load_stored(const verb_sweep_t *vs, laws_t *l, carbs_err_t *err)
{
    char *json = NULL;
    int rc = store_law_get(vs->st, vs->row.id, &json, NULL, err);

    if (rc == CARBS_ENOTFOUND)
        return carbs_fail(err, rc, "sweep '%s' has no stored fit yet (run without --stored)",
                          vs->row.name);
    if (!rc)
        rc = laws_from_json(json, l, err);
    free(json);
    return rc;
}

/* The laws as JSON with the verification runs added as "verifications"
 * (an array, empty when none): one object on one line. */
static int print_laws_json(const laws_t *l, const laws_verify_t *ver, size_t n_ver,
                           carbs_err_t *err)
{
    char *json = NULL, *tail = NULL;
    size_t len = 0;
    jw_t jw;
    int rc = laws_to_json(l, &json, err);

    if (rc)
        return rc;
    jw_init(&jw);
    jw_object(&jw, NULL);
    laws_verify_json(&jw, ver, n_ver);
    jw_end(&jw);
    rc = jw.sb.err;
    tail = jw_detach(&jw, NULL);
    len = strlen(json);
    if (!tail || len < 2 || json[len - 1] != '}' || tail[0] != '{') {
        rc = carbs_fail(err, rc ? rc : CARBS_ENOMEM, "cannot write the laws");
    } else {
        /* {...laws...} + {"verifications":[...]} -> {...laws...,"verifications":[...]} */
        json[len - 1] = '\0';
        printf("%s,%s\n", json, tail + 1);
    }
    free(tail);
    free(json);
    return rc;
}

/* Queue the configuration the law predicts at a->cost as a verification
 * run of the sweep (tools/laws_verify.h) and print it: JSON {"trial_id",
 * "sweep", "cost", "cost_name", "estimator", "predicted": {"value", "lo",
 * "hi"}, "level", "params"}, or a table.  The request goes to the service
 * holding db, or to a one-shot one that leaves the trial pending in the
 * store for the next `carbs serve` or `carbs run`. */
static int verify(const char *db, verb_sweep_t *vs, const laws_t *l, const laws_at_t *a,
                  format_t fmt, carbs_err_t *err)
{
    proto_msg_t m, r;
    proto_verify_t *v;
    jw_t jw;
    int rc;

    proto_msg_init(&m, PROTO_MSG_VERIFY);
    proto_msg_init(&r, PROTO_MSG_NONE);
    v = &m.verify;
    rc = laws_verify_config(l, &vs->spec, a, vs->st, vs->row.id, &v->params, err);
    if (rc) {
        char prefix[CARBS_NAME_MAX + 16];
        snprintf(prefix, sizeof(prefix), "sweep '%s'", vs->row.name);
        carbs_err_prefix(err, prefix);
        goto out;
    }
    str_copy(v->sweep, sizeof(v->sweep), vs->row.name);
    v->cost = a->cost;
    str_copy(v->cost_name, sizeof(v->cost_name), l->cost);
    str_copy(v->estimator, sizeof(v->estimator), l->estimator);
    v->predicted = a->metric[0];
    v->lo = a->metric[1];
    v->hi = a->metric[2];
    v->level = l->level;
    if (a->beyond_validated)
        fprintf(stderr,
                "note: %s %g is beyond the holdout-validated range (up to %g): the run checks an "
                "unvalidated extrapolation\n",
                l->cost, a->cost, a->valid_max_cost);
    /* the read-only connection is not needed any more: the request writes */
    store_close(vs->st);
    vs->st = NULL;
    if ((rc = request_send(db, NULL, &m, &r, err)) || (rc = verb_reply_check(&r, err)))
        goto out;
    if (fmt == FORMAT_TABLE) {
        printf("verification trial %lld queued in sweep '%s': at %s %.4g the %s law predicts "
               "best %s %.4g",
               (long long)r.reply.trial_id, vs->row.name, v->cost_name, v->cost, v->estimator,
               l->metric, v->predicted);
        if (isfinite(v->lo) && isfinite(v->hi))
            printf(" [%.4g, %.4g] (%d%%)", v->lo, v->hi, (int)lrint(100.0 * v->level));
        printf("\n");
        for (size_t i = 0; i < v->params.n; i++) {
            const carbs_value_t *x = &v->params.v[i];
            if (x->is_str)
                printf("  %s = %s\n", x->name, x->str);
            else
                printf("  %s = %.6g\n", x->name, x->num);
        }
    } else {
        char *text;
        jw_init(&jw);
        jw_object(&jw, NULL);
        jw_int(&jw, "trial_id", r.reply.trial_id);
        jw_str(&jw, "sweep", vs->row.name);
        jw_num_or_null(&jw, "cost", v->cost);
        jw_str(&jw, "cost_name", v->cost_name);
        jw_str(&jw, "estimator", v->estimator);
        jw_object(&jw, "predicted");
        jw_num_or_null(&jw, "value", v->predicted);
        jw_num_or_null(&jw, "lo", v->lo);
        jw_num_or_null(&jw, "hi", v->hi);
        jw_end(&jw);
        jw_num_or_null(&jw, "level", v->level);
        jw_object(&jw, "params");
        for (size_t i = 0; i < v->params.n; i++) {
            const carbs_value_t *x = &v->params.v[i];
            if (x->is_str)
                jw_str(&jw, x->name, x->str);
            else
                jw_num_or_null(&jw, x->name, x->num);
        }
        jw_end(&jw);
        jw_end(&jw);
        rc = jw.sb.err;
        text = jw_detach(&jw, NULL);
        if (!text) {
            rc = carbs_fail(err, rc ? rc : CARBS_ENOMEM, "cannot write the verification run");
            goto out;
        }
        printf("%s\n", text);
        free(text);
    }
    fprintf(stderr, "%s; `carbs laws %s` shows predicted vs observed once it has run\n",
            r.reply.message, vs->row.name);
out:
    proto_msg_release(&r);
    proto_msg_release(&m);
    return rc;
}

int cmd_laws(int argc, char **argv, const cli_globals_t *g)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"format", required_argument, NULL, 'f'},
        {"at-cost", required_argument, NULL, 'c'},
        {"at-flops", required_argument, NULL, 'F'},
        {"verify", no_argument, NULL, 'v'},
        {"stored", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL;
    format_t fmt = FORMAT_JSON;
    double at = NAN;
    bool stored = false, flops = false, want_verify = false;
    verb_sweep_t vs = {0};
    laws_data_t d = {0};
    laws_t l = {0};
    laws_verify_t *ver = NULL;
    size_t n_ver = 0;
    carbs_err_t err = {0};
    int c, rc = CLI_EXIT_OK;

    while ((c = verb_getopt(argc, argv, NULL, opts, usage_text, &rc)) != -1) {
        switch (c) {
        case 'h':
            return help();
        case 'd':
            db_opt = optarg;
            break;
        case 'f':
            if (verb_format(optarg, FORMAT_ALLOW_JSON | FORMAT_ALLOW_TABLE, usage_text, &fmt))
                return CLI_EXIT_USAGE;
            break;
        case 'c':
        case 'F':
            if (isfinite(at))
                return cli_usage_error(usage_text, "give one of --at-cost and --at-flops");
            if (parse_double(optarg, 1e-300, 1e300, &at))
                return cli_usage_error(usage_text, "%s: '%s' is not a positive number",
                                       c == 'c' ? "--at-cost" : "--at-flops", optarg);
            flops = c == 'F';
            break;
        case 'v':
            want_verify = true;
            break;
        case 's':
            stored = true;
            break;
        default:
            return rc;
        }
    }
    if (want_verify && !isfinite(at))
        return cli_usage_error(usage_text, "--verify needs --at-cost C or --at-flops F");
    if (stored && (want_verify || flops))
        return cli_usage_error(usage_text, "--stored prints the fit the service kept: it cannot "
                                           "%s",
                               want_verify ? "verify" : "refit in flops");
    rc = verb_sweep_arg(argc, argv, usage_text, cli_pick_db(g, db_opt), &vs);
    if (rc)
        return rc;
    /* a sweep whose cost is flops already fits in flops */
    if (flops && strcmp(vs.spec.cost.name, LAWS_FLOPS) == 0)
        flops = false;
    if (stored) {
        rc = load_stored(&vs, &l, &err);
    } else {
        rc = laws_data_gather_as(vs.st, vs.row.id, &vs.spec, flops ? LAWS_FLOPS : NULL, &d, &err);
        if (!rc && flops && d.n == 0)
            rc = carbs_fail(&err, CARBS_ESTATE,
                            "cannot predict: no successful trial reports %s (--at-flops fits "
                            "the laws to it)",
                            LAWS_FLOPS);
        if (!rc)
            rc = laws_data_fit(&d, &vs.spec, true, NULL, &l, &err);
    }
    if (!rc && !isfinite(at))
        rc = laws_verify_load(vs.st, vs.row.id, &vs.spec, &ver, &n_ver, &err);
    if (rc) {
        char prefix[CARBS_NAME_MAX + 16];
        snprintf(prefix, sizeof(prefix), "sweep '%s'", vs.row.name);
        if (rc == CARBS_ESTATE)
            carbs_err_prefix(&err, prefix);
        rc = cli_fail(&err);
        goto out;
    }
    if (isfinite(at)) {
        laws_at_t a;
        laws_at_predict(&l, at, &a);
        if (want_verify) {
            if (verify(cli_pick_db(g, db_opt), &vs, &l, &a, fmt, &err))
                rc = cli_fail(&err);
        } else if (fmt == FORMAT_TABLE) {
            print_at_table(&l, &vs.spec, &a);
        } else if (print_at_json(&l, &vs.spec, &a, &err)) {
            rc = cli_fail(&err);
        }
    } else if (fmt == FORMAT_TABLE) {
        print_laws_table(&l);
        laws_verify_table(ver, n_ver, l.metric, stdout);
    } else if (print_laws_json(&l, ver, n_ver, &err)) {
        rc = cli_fail(&err);
    }
out:
    free(ver);
    laws_release(&l);
    laws_data_release(&d);
    verb_sweep_close(&vs);
    return rc;
}
