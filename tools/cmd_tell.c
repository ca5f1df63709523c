/*
 * cmd_tell.c - `carbs tell SWEEP TRIAL --output X --cost C`: report the
 * outcome of a trial taken with `carbs ask` (a manual loop from a shell
 * script).  --failure KIND reports a failure instead (diverged, oom and
 * error teach the optimizer; infra and preempted re-queue the trial);
 * --metrics adds any other numbers the run measured.
 *
 * Like every verb that changes a sweep, it sends a `tell` request through
 * request_send() (docs/store.md).  Telling the same trial twice changes
 * nothing the second time (results are idempotent by trial id).
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <math.h>

#include "proto/json.h"
#include "tools/request.h"
#include "tools/verb.h"

static const char usage_text[] =
    "carbs tell SWEEP TRIAL [--output X] [--cost C] [--failure KIND] [--message TEXT]\n"
    "                  [--metrics JSON] [--db PATH]";

/* --metrics '{"val_loss": 2.5, "tokens": 1e6}' into r.  Returns 0 or
 * CARBS_EINVAL with err filled. */
static int parse_metrics(const char *text, carbs_result_t *r, carbs_err_t *err)
{
    carbs_params_t ps = {0};
    int rc = proto_params_from_json(text, &ps, err);

    for (size_t i = 0; rc == 0 && i < ps.n; i++) {
        if (ps.v[i].is_str)
            rc = carbs_fail(err, CARBS_EINVAL, "metric '%s' must be a number", ps.v[i].name);
        else if (carbs_result_set(r, ps.v[i].name, ps.v[i].num))
            rc = carbs_fail(err, CARBS_EINVAL, "metric '%s' cannot be set", ps.v[i].name);
    }
    carbs_params_release(&ps);
    if (rc)
        err->code = rc = CARBS_EINVAL;
    return rc;
}

int cmd_tell(int argc, char **argv, const cli_globals_t *g)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"output", required_argument, NULL, 'o'},
        {"cost", required_argument, NULL, 'c'},
        {"failure", required_argument, NULL, 'F'},
        {"message", required_argument, NULL, 'm'},
        {"metrics", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL, *sweep, *metrics = NULL, *message = NULL;
    double output = NAN, cost = NAN;
    int failure = CARBS_FAILURE_NONE;
    long trial = 0;
    proto_msg_t m, reply = {0};
    carbs_err_t err = {0};
    int c, rc = CLI_EXIT_OK;

    while ((c = verb_getopt(argc, argv, NULL, opts, usage_text, &rc)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: %s\n\n"
                   "Report the outcome of TRIAL (from `carbs ask SWEEP`).  A success needs\n"
                   "--output (the sweep's metric) and --cost (its cost metric, > 0).  A failure\n"
                   "gives --failure diverged|oom|error (the optimizer learns the region) or\n"
                   "infra|preempted (the trial runs again), with an optional --message; its\n"
                   "--cost defaults to 0.  --metrics adds a JSON object of other numbers.\n",
                   usage_text);
            return CLI_EXIT_OK;
        case 'd':
            db_opt = optarg;
            break;
        case 'o':
            if (parse_double(optarg, -HUGE_VAL, HUGE_VAL, &output))
                return cli_usage_error(usage_text, "--output '%s' is not a finite number",
                                       optarg);
            break;
        case 'c':
            if (parse_double(optarg, 0, HUGE_VAL, &cost))
                return cli_usage_error(usage_text, "--cost '%s' is not a number >= 0", optarg);
            break;
        case 'F':
            failure = carbs_failure_parse(optarg);
            if (failure <= CARBS_FAILURE_NONE)
                return cli_usage_error(usage_text,
                                       "--failure '%s' is not a failure kind (diverged, oom, "
                                       "error, infra, preempted)",
                                       optarg);
            break;
        case 'm':
            message = optarg;
            break;
        case 'M':
            metrics = optarg;
            break;
        default:
            return rc;
        }
    }
    if (argc - optind != 2)
        return cli_usage_error(usage_text,
                               argc - optind < 2 ? "missing SWEEP or TRIAL" : "too many arguments");
    sweep = argv[optind];
    if (parse_long(argv[optind + 1], 1, INT64_MAX >> 11, &trial))
        return cli_usage_error(usage_text, "TRIAL '%s' is not a trial id", argv[optind + 1]);
    if (failure == CARBS_FAILURE_NONE && (isnan(output) || isnan(cost)))
        return cli_usage_error(usage_text, "a success needs --output and --cost");
    if (message && failure == CARBS_FAILURE_NONE)
        return cli_usage_error(usage_text, "--message goes with --failure");

    proto_msg_init(&m, PROTO_MSG_TELL);
    m.tell.trial_id = trial;
    m.tell.output = output;
    m.tell.cost = isnan(cost) ? 0 : cost;
    m.tell.is_failure = failure != CARBS_FAILURE_NONE;
    m.tell.r.ok = !m.tell.is_failure;
    m.tell.r.failure = (carbs_failure_t)failure;
    if (str_copy(m.tell.sweep, sizeof(m.tell.sweep), sweep) || !sweep[0]) {
        rc = cli_usage_error(usage_text, "'%s' is not a sweep name or id", sweep);
        goto out;
    }
    if (message && str_copy(m.tell.r.message, sizeof(m.tell.r.message), message)) {
        rc = cli_usage_error(usage_text, "--message is longer than %d bytes", CARBS_MSG_MAX - 1);
        goto out;
    }
    if (metrics && parse_metrics(metrics, &m.tell.r, &err)) {
        rc = cli_usage_error(usage_text, "--metrics: %s", err.msg);
        goto out;
    }
    if ((rc = verb_store_exists(cli_pick_db(g, db_opt))))
        goto out;
    if (request_send(cli_pick_db(g, db_opt), sweep, &m, &reply, &err) ||
        verb_reply_check(&reply, &err))
        rc = cli_fail(&err);
out:
    proto_msg_release(&reply);
    proto_msg_release(&m);
    return rc;
}
