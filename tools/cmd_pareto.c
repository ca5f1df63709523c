/*
 * cmd_pareto.c - `carbs pareto SWEEP`: the observed Pareto front of a
 * sweep's successful trials, cheapest first, each point better than every
 * cheaper one: the front `carbs laws` fits (tools/report.h).  A reader:
 * the store is opened read-only.
 */
#include "proto/common.h"
#include "tools/commands.h"

#include "tools/format.h"
#include "tools/report.h"
#include "tools/verb.h"

static const char usage_text[] = "carbs pareto SWEEP [--db PATH] [--format json|csv|table]";

int cmd_pareto(int argc, char **argv, const cli_globals_t *g)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *const fmt_names[] = {"json", "csv", "table"};
    const char *db_opt = NULL;
    format_t fmt = FORMAT_JSON;
    report_front_t front = {0};
    verb_sweep_t vs = {0};
    carbs_err_t err = {0};
    int c, rc = CLI_EXIT_OK;

    while ((c = verb_getopt(argc, argv, NULL, opts, usage_text, &rc)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: %s\n\nPrint the observed Pareto front of SWEEP (id or name): its "
                   "successful trials\nwith a cost > 0 that beat every cheaper one, cheapest "
                   "first, one per cost (the\nbest), the front `carbs laws` fits.  JSON lines "
                   "are {\"trial\", \"output\", \"cost\",\n\"params\"}.  The store is opened "
                   "read-only.\n",
                   usage_text);
            return CLI_EXIT_OK;
        case 'd':
            db_opt = optarg;
            break;
        case 'f':
            if (verb_format(optarg, FORMAT_ALLOW_ALL, usage_text, &fmt))
                return CLI_EXIT_USAGE;
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
    str_copy(front.metric, sizeof(front.metric), vs.spec.metric.name);
    str_copy(front.cost, sizeof(front.cost), vs.spec.cost.name);
    report_front_print(&front, fmt_names[fmt], stdout);
out:
    report_front_release(&front);
    verb_sweep_close(&vs);
    return rc;
}
