/*
 * cmd_trials.c - `carbs trials SWEEP`: every trial of a sweep, one per line
 * (docs/store.md: a reader, so the store is opened read-only and nothing is
 * written, whether or not a service runs).
 *
 * A line carries the trial (id, state, attempt, worker, params, times) and
 * its result when it has one (output, cost, failure, message).  --state
 * keeps the trials in the listed states.
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <inttypes.h>
#include <math.h>

#include "tools/format.h"
#include "tools/verb.h"

static const char usage_text[] =
    "carbs trials SWEEP [--db PATH] [--state STATE[,STATE...]] [--format json|csv|table]";

/* "running,pending" into a mask of (1u << state).  0 or CARBS_EINVAL. */
static int parse_states(const char *arg, unsigned *mask)
{
    char buf[256], *save = NULL;

    if (str_copy(buf, sizeof(buf), arg))
        return CARBS_EINVAL;
    *mask = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int s = carbs_trial_state_parse(tok);
        if (s < 0)
            return CARBS_EINVAL;
        *mask |= 1u << s;
    }
    return *mask ? 0 : CARBS_EINVAL;
}

static int print_json(jw_t *jw, const store_record_t *rec, carbs_err_t *err)
{
    const store_trial_t *t = &rec->trial;
    const store_result_t *r = rec->has_result ? &rec->result : NULL;

    jw_object(jw, NULL);
    jw_int(jw, "id", t->id);
    jw_str(jw, "state", carbs_trial_state_name(t->state));
    jw_int(jw, "attempt", t->attempt);
    jw_str(jw, "worker", t->worker);
    jw_raw(jw, "params", t->params_json ? t->params_json : "{}");
    jw_num_or_null(jw, "output", r ? r->output : NAN);
    jw_num_or_null(jw, "cost", r ? r->cost : NAN);
    format_jw_time(jw, "started", t->started);
    format_jw_time(jw, "finished", t->finished);
    jw_str(jw, "failure", carbs_failure_name(r ? r->failure : CARBS_FAILURE_NONE));
    jw_str(jw, "message", r ? r->message : "");
    jw_end(jw);
    return format_json_line(jw, stdout, err);
}

static void print_csv(const store_record_t *rec)
{
    const store_trial_t *t = &rec->trial;
    const store_result_t *r = rec->has_result ? &rec->result : NULL;
    char started[32], finished[32];

    format_iso_time(t->started, started, sizeof(started));
    format_iso_time(t->finished, finished, sizeof(finished));
    printf("%" PRId64 ",%s,%d,", t->id, carbs_trial_state_name(t->state), t->attempt);
    format_csv_str(stdout, t->worker);
    putchar(',');
    format_csv_str(stdout, t->params_json ? t->params_json : "{}");
    putchar(',');
    format_csv_num(stdout, r ? r->output : NAN);
    putchar(',');
    format_csv_num(stdout, r ? r->cost : NAN);
    printf(",%s,%s,%s,", t->started ? started : "", t->finished ? finished : "",
           carbs_failure_name(r ? r->failure : CARBS_FAILURE_NONE));
    format_csv_str(stdout, r ? r->message : "");
    putchar('\n');
}

static void add_row(format_table_t *tab, const store_record_t *rec)
{
    const store_trial_t *t = &rec->trial;
    const store_result_t *r = rec->has_result ? &rec->result : NULL;
    char buf[32];

    format_table_addf(tab, "%" PRId64, t->id);
    format_table_add(tab, carbs_trial_state_name(t->state));
    format_table_addf(tab, "%d", t->attempt);
    format_table_add(tab, t->worker[0] ? t->worker : "-");
    format_table_num(tab, r ? r->output : NAN);
    format_table_num(tab, r ? r->cost : NAN);
    format_iso_time(t->started, buf, sizeof(buf));
    format_table_add(tab, buf);
    format_iso_time(t->finished, buf, sizeof(buf));
    format_table_add(tab, buf);
    format_table_add(tab, r && r->failure != CARBS_FAILURE_NONE ? carbs_failure_name(r->failure)
                                                                 : "-");
    format_table_add(tab, t->params_json ? t->params_json : "{}");
    format_table_add(tab, r && r->message[0] ? r->message : "-");
}

int cmd_trials(int argc, char **argv, const cli_globals_t *g)
{
    static const char *const head[] = {"ID",      "STATE",  "ATT",     "WORKER",
                                       "OUTPUT",  "COST",   "STARTED", "FINISHED",
                                       "FAILURE", "PARAMS", "MESSAGE"};
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"state", required_argument, NULL, 's'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL;
    format_t fmt = FORMAT_JSON;
    format_table_t tab = {0};
    jw_t jw;
    verb_sweep_t vs = {0};
    carbs_err_t err = {0};
    store_export_iter_t *it = NULL;
    const store_record_t *rec;
    unsigned states = 0;
    int c, rc = CLI_EXIT_OK;

    while ((c = verb_getopt(argc, argv, NULL, opts, usage_text, &rc)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: %s\n\nPrint the trials of SWEEP (id or name), one per line: id, "
                   "state, attempt,\nworker, params, output, cost, started, finished, failure, "
                   "message.\n--state keeps the listed states (%s",
                   usage_text, carbs_trial_state_name(0));
            for (int s = 1; s < CARBS_TRIAL_STATE_COUNT; s++)
                printf(", %s", carbs_trial_state_name(s));
            printf(").  The store is opened read-only.\n");
            return CLI_EXIT_OK;
        case 'd':
            db_opt = optarg;
            break;
        case 's':
            if (parse_states(optarg, &states))
                return cli_usage_error(usage_text, "'%s' is not a list of trial states", optarg);
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
    jw_init(&jw);
    it = store_export_iter_new(vs.st, vs.row.id, &err);
    if (!it) {
        rc = cli_fail(&err);
        goto out;
    }
    if (fmt == FORMAT_CSV)
        printf("id,state,attempt,worker,params,output,cost,started,finished,failure,message\n");
    format_table_head(&tab, head, ARRAY_SIZE(head));
    while (store_export_iter_next(it, &rec) == CARBS_CONTINUE) {
        if (states && !(states & (1u << rec->trial.state)))
            continue;
        if (fmt == FORMAT_CSV) {
            print_csv(rec);
        } else if (fmt == FORMAT_TABLE) {
            add_row(&tab, rec);
        } else if (print_json(&jw, rec, &err)) {
            rc = cli_fail(&err);
            break;
        }
    }
    if (fmt == FORMAT_TABLE)
        format_table_print(&tab, stdout);
out:
    jw_release(&jw);
    format_table_release(&tab);
    store_export_iter_free(it);
    verb_sweep_close(&vs);
    return rc;
}
