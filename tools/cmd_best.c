/*
 * cmd_best.c - `carbs best SWEEP [--at-cost C]`: the best trial of a sweep,
 * or the best one that cost at most C.
 *
 * Both are read off the observed Pareto front (tools/report.h): cheapest
 * first, each point better than every cheaper one, so the best trial is
 * its last point and the best at or under C is its last point whose cost
 * is <= C.  That is the `best` `carbs status` shows.  A reader: the store
 * is opened read-only.
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <inttypes.h>
#include <math.h>

#include "proto/jw.h"
#include "tools/format.h"
#include "tools/report.h"
#include "tools/verb.h"

static const char usage_text[] =
    "carbs best SWEEP [--at-cost C] [--db PATH] [--format json|table]";

static void print_table(const verb_sweep_t *vs, const report_point_t *p, double at_cost)
{
    printf("sweep    %s\n", vs->row.name);
    if (isfinite(at_cost))
        printf("at cost  <= %.6g\n", at_cost);
    printf("trial    %" PRId64 "\n", p->trial_id);
    printf("%-8s %.10g (%s)\n", vs->spec.metric.name, p->output,
           sweep_goal_name(vs->spec.metric.goal));
    printf("cost     %.10g (%s)\n", p->cost, vs->spec.cost.name);
    printf("params   %s\n", p->params_json ? p->params_json : "{}");
}

static int print_json(const verb_sweep_t *vs, const report_point_t *p, double at_cost,
                      carbs_err_t *err)
{
    jw_t jw;
    int rc;

    jw_init(&jw);
    jw_object(&jw, NULL);
    jw_str(&jw, "sweep", vs->row.name);
    if (isfinite(at_cost))
        jw_num(&jw, "at_cost", at_cost);
    jw_int(&jw, "trial", p->trial_id);
    jw_str(&jw, "metric", vs->spec.metric.name);
    jw_num_or_null(&jw, "output", p->output);
    jw_num_or_null(&jw, "cost", p->cost);
    jw_raw(&jw, "params", p->params_json ? p->params_json : "{}");
    jw_end(&jw);
    rc = format_json_line(&jw, stdout, err);
    jw_release(&jw);
    return rc;
}

int cmd_best(int argc, char **argv, const cli_globals_t *g)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"format", required_argument, NULL, 'f'},
        {"at-cost", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL;
    format_t fmt = FORMAT_JSON;
    double at_cost = NAN;
    report_front_t front = {0};
    const report_point_t *best = NULL;
    verb_sweep_t vs = {0};
    carbs_err_t err = {0};
    int c, rc = CLI_EXIT_OK;

    while ((c = verb_getopt(argc, argv, NULL, opts, usage_text, &rc)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: %s\n\nPrint the best successful trial of SWEEP (id or name), or with "
                   "--at-cost the\nbest one whose cost is at most C: {\"sweep\", \"at_cost\", "
                   "\"trial\", \"metric\",\n\"output\", \"cost\", \"params\"}.  Both are read "
                   "off the observed Pareto front\n(`carbs pareto`).  Exit 1 when no trial "
                   "qualifies.  The store is opened read-only.\n",
                   usage_text);
            return CLI_EXIT_OK;
        case 'd':
            db_opt = optarg;
            break;
        case 'f':
            if (verb_format(optarg, FORMAT_ALLOW_JSON | FORMAT_ALLOW_TABLE, usage_text, &fmt))
                return CLI_EXIT_USAGE;
            break;
        case 'c':
            if (parse_double(optarg, 0, HUGE_VAL, &at_cost) || !isfinite(at_cost) ||
                at_cost <= 0)
                return cli_usage_error(usage_text, "--at-cost: '%s' is not a cost > 0", optarg);
            break;
        default:
            return rc;
        }
    }
    rc = verb_sweep_arg(argc, argv, usage_text, cli_pick_db(g, db_opt), &vs);
    if (rc)
        return rc;
    if (report_front(vs.st, vs.row.id, vs.spec.metric.goal == SWEEP_GOAL_MAXIMIZE, &front,
                     &err)) {
        rc = cli_fail(&err);
        goto out;
    }
    for (size_t i = 0; i < front.n; i++)
        if (!isfinite(at_cost) || front.v[i].cost <= at_cost)
            best = &front.v[i];
    if (!best && front.n && isfinite(at_cost)) {
        rc = cli_error(CLI_EXIT_FAIL,
                       "sweep '%s' has no successful trial that cost %.6g or less (the "
                       "cheapest cost %.6g)",
                       vs.row.name, at_cost, front.v[0].cost);
        goto out;
    }
    if (!best) {
        rc = cli_error(CLI_EXIT_FAIL, "sweep '%s' has no successful trial yet", vs.row.name);
        goto out;
    }
    if (fmt == FORMAT_TABLE)
        print_table(&vs, best, at_cost);
    else if (print_json(&vs, best, at_cost, &err))
        rc = cli_fail(&err);
out:
    report_front_release(&front);
    verb_sweep_close(&vs);
    return rc;
}
