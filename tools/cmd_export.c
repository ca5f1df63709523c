/*
 * cmd_export.c - `carbs export SWEEP`: a sweep's trials for other tools.
 *
 * json (the default) writes one export record per finished trial (done or
 * failed), exactly as docs/protocol.md and proto/record.h define it, so the
 * output pipes into jq and reads back with `carbs import`.  Unfinished
 * trials have no output or cost yet and are left out.  --curves adds each
 * trial's learning curve as "curve": [[step, tokens, loss], ...], a key
 * import ignores.
 *
 * csv writes every trial with the columns of Optuna's
 * study.trials_dataframe(): number (0-based, in trial id order), value,
 * datetime_start, datetime_complete, duration, params_<name>,
 * user_attrs_<metric> (every metric any trial reported), system_attrs_
 * trial_id, cost, failure, message and worker, and state, where done is COMPLETE, failed FAIL,
 * running RUNNING, pending and lost (waiting to be re-queued) WAITING and
 * cancelled PRUNED.  With --curves, csv writes the learning curves
 * instead: trial,step,tokens,loss.
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <inttypes.h>
#include <math.h>

#include "proto/json.h"
#include "tools/format.h"
#include "tools/verb.h"

static const char usage_text[] = "carbs export SWEEP [--db PATH] [--format json|csv] [--curves]";

/* One row of the CSV: the trial as a record (params always; metrics,
 * output and cost when it has a result). */
typedef struct row {
    proto_record_t rec;
    bool has_result;
} row_t;

typedef DA_TYPE(row_t) rows_t;
typedef DA_TYPE(char *) names_t;

static const char *optuna_state(carbs_trial_state_t s)
{
    switch (s) {
    case CARBS_TRIAL_DONE:
        return "COMPLETE";
    case CARBS_TRIAL_FAILED:
        return "FAIL";
    case CARBS_TRIAL_RUNNING:
        return "RUNNING";
    case CARBS_TRIAL_CANCELLED:
        return "PRUNED";
    default: /* pending, lost */
        return "WAITING";
    }
}

// ---- json ----

/* The learning curve of trial_id as JSON text [[step, tokens, loss|null]...]
 * into *out (caller frees). */
static int curve_json(store_t *st, int64_t trial_id, char **out, carbs_err_t *err)
{
    carbs_curve_point_t *pts = NULL;
    size_t n = 0;
    jw_t jw;
    int rc = store_curve_get(st, trial_id, &pts, &n, err);

    if (rc)
        return rc;
    jw_init(&jw);
    jw_array(&jw, NULL);
    for (size_t i = 0; i < n; i++) {
        jw_array(&jw, NULL);
        jw_int(&jw, NULL, pts[i].step);
        jw_num_or_null(&jw, NULL, pts[i].tokens);
        jw_num_or_null(&jw, NULL, pts[i].loss);
        jw_end(&jw);
    }
    jw_end(&jw);
    free(pts);
    *out = jw_detach(&jw, NULL);
    return *out ? 0 : carbs_fail(err, CARBS_ENOMEM, "out of memory writing a curve");
}

static int export_json(store_t *st, store_export_iter_t *it, bool curves, carbs_err_t *err)
{
    const store_record_t *row;
    int rc = 0;

    while (rc == 0 && store_export_iter_next(it, &row) == CARBS_CONTINUE) {
        proto_record_t rec;
        char *text = NULL, *curve = NULL;
        size_t len = 0;

        if (!row->has_result)
            continue;
        rc = verb_record(row, &rec, err);
        if (rc == 0)
            rc = proto_record_encode(&rec, &text, &len, err);
        if (rc == 0 && curves)
            rc = curve_json(st, row->trial.id, &curve, err);
        if (rc == 0 && curves) {
            /* The record is one object: reopen it to add the curve. */
            fwrite(text, 1, len - 1, stdout);
            printf(",\"curve\":%s}\n", curve);
        } else if (rc == 0) {
            fwrite(text, 1, len, stdout);
            putchar('\n');
        }
        if (rc)
            carbs_err_prefix(err, "export");
        free(text);
        free(curve);
        proto_record_release(&rec);
    }
    return rc;
}

// ---- csv ----

static void name_add(names_t *names, const char *name)
{
    for (size_t i = 0; i < names->n; i++)
        if (strcmp(names->v[i], name) == 0)
            return;
    if (DA_PUSH(names, xstrdup(name)))
        abort(); /* not reached: a name list grows by a few pointers */
}

static void names_free(names_t *names)
{
    for (size_t i = 0; i < names->n; i++)
        free(names->v[i]);
    DA_FREE(names);
}

static void rows_free(rows_t *rows)
{
    for (size_t i = 0; i < rows->n; i++)
        proto_record_release(&rows->v[i].rec);
    DA_FREE(rows);
}

static int load_rows(store_export_iter_t *it, rows_t *rows, carbs_err_t *err)
{
    const store_record_t *sr;

    while (store_export_iter_next(it, &sr) == CARBS_CONTINUE) {
        row_t r = {.has_result = sr->has_result};
        int rc;

        if (sr->has_result) {
            rc = verb_record(sr, &r.rec, err);
        } else {
            proto_record_init(&r.rec);
            r.rec.id = sr->trial.id;
            r.rec.state = sr->trial.state;
            r.rec.started = sr->trial.started;
            rc = proto_params_from_json(sr->trial.params_json ? sr->trial.params_json : "{}",
                                        &r.rec.params, err);
        }
        if (rc == 0 && DA_PUSH(rows, r))
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory reading the trials");
        if (rc) {
            proto_record_release(&r.rec);
            return rc;
        }
    }
    return 0;
}

static void csv_cell_param(const carbs_value_t *v)
{
    putchar(',');
    if (!v)
        return;
    if (v->is_str)
        format_csv_str(stdout, v->str);
    else
        format_csv_num(stdout, v->num);
}

static int export_csv(const verb_sweep_t *vs, store_export_iter_t *it, carbs_err_t *err)
{
    rows_t rows = {0};
    names_t params = {0}, metrics = {0};
    char buf[64];
    int rc = load_rows(it, &rows, err);

    if (rc)
        goto out;
    for (size_t i = 0; i < vs->spec.parameters.n; i++)
        name_add(&params, vs->spec.parameters.v[i].name);
    for (size_t i = 0; i < rows.n; i++)
        for (size_t k = 0; k < rows.v[i].rec.params.n; k++)
            name_add(&params, rows.v[i].rec.params.v[k].name);
    /* Canonical metrics first (table order), then extras in first-seen order. */
    for (int k = 0; k < CARBS_METRIC_COUNT; k++) {
        for (size_t i = 0; i < rows.n; i++) {
            if (!isnan(rows.v[i].rec.metrics.metric[k])) {
                name_add(&metrics, carbs_metric_name(k));
                break;
            }
        }
    }
    for (size_t i = 0; i < rows.n; i++)
        for (size_t k = 0; k < rows.v[i].rec.metrics.extra.n; k++)
            name_add(&metrics, rows.v[i].rec.metrics.extra.v[k].name);

    fputs("number,value,datetime_start,datetime_complete,duration", stdout);
    for (size_t k = 0; k < params.n; k++) {
        fputc(',', stdout);
        fputs("params_", stdout);
        format_csv_str(stdout, params.v[k]);
    }
    for (size_t k = 0; k < metrics.n; k++) {
        fputs(",user_attrs_", stdout);
        format_csv_str(stdout, metrics.v[k]);
    }
    fputs(",system_attrs_trial_id,system_attrs_cost,system_attrs_failure,system_attrs_message,"
          "system_attrs_worker,state\n",
          stdout);

    for (size_t i = 0; i < rows.n; i++) {
        const proto_record_t *r = &rows.v[i].rec;
        bool fin = rows.v[i].has_result;

        printf("%zu,", i);
        format_csv_num(stdout, fin && !r->is_failure ? r->output : NAN);
        format_datetime(r->started, buf, sizeof(buf));
        printf(",%s,", buf);
        format_datetime(fin ? r->finished : 0, buf, sizeof(buf));
        printf("%s,", buf);
        format_duration(fin && r->started > 0 && r->finished > 0 ? r->finished - r->started
                                                                  : NAN,
                        buf, sizeof(buf));
        fputs(buf, stdout);
        for (size_t k = 0; k < params.n; k++)
            csv_cell_param(carbs_params_find(&r->params, params.v[k]));
        for (size_t k = 0; k < metrics.n; k++) {
            putchar(',');
            format_csv_num(stdout, carbs_result_get(&r->metrics, metrics.v[k]));
        }
        printf(",%" PRId64 ",", r->id);
        format_csv_num(stdout, fin ? r->cost : NAN);
        printf(",%s,", fin && r->metrics.failure != CARBS_FAILURE_NONE
                           ? carbs_failure_name(r->metrics.failure)
                           : "");
        format_csv_str(stdout, r->metrics.message);
        putchar(',');
        format_csv_str(stdout, r->worker);
        printf(",%s\n", optuna_state(r->state));
    }
out:
    names_free(&params);
    names_free(&metrics);
    rows_free(&rows);
    return rc;
}

static int export_curves_csv(store_t *st, store_export_iter_t *it, carbs_err_t *err)
{
    const store_record_t *row;

    puts("trial,step,tokens,loss");
    while (store_export_iter_next(it, &row) == CARBS_CONTINUE) {
        carbs_curve_point_t *pts = NULL;
        size_t n = 0;
        int rc = store_curve_get(st, row->trial.id, &pts, &n, err);

        if (rc)
            return rc;
        for (size_t i = 0; i < n; i++) {
            printf("%" PRId64 ",%" PRId64 ",", row->trial.id, pts[i].step);
            format_csv_num(stdout, pts[i].tokens);
            putchar(',');
            format_csv_num(stdout, pts[i].loss);
            putchar('\n');
        }
        free(pts);
    }
    return 0;
}

int cmd_export(int argc, char **argv, const cli_globals_t *g)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"format", required_argument, NULL, 'f'},
        {"curves", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL;
    format_t fmt = FORMAT_JSON;
    bool curves = false;
    verb_sweep_t vs = {0};
    carbs_err_t err = {0};
    store_export_iter_t *it = NULL;
    int c, rc = CLI_EXIT_OK;

    while ((c = verb_getopt(argc, argv, NULL, opts, usage_text, &rc)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: %s\n\n"
                   "json: one export record per finished trial (docs/protocol.md), ready for\n"
                   "      jq and `carbs import`; --curves adds \"curve\": [[step, tokens, loss],\n"
                   "      ...].\n"
                   "csv:  every trial with Optuna's columns (number, value, datetime_start,\n"
                   "      datetime_complete, duration, params_*, user_attrs_*, state); --curves\n"
                   "      writes the learning curves instead (trial,step,tokens,loss).\n"
                   "The store is opened read-only.\n",
                   usage_text);
            return CLI_EXIT_OK;
        case 'd':
            db_opt = optarg;
            break;
        case 'f':
            if (verb_format(optarg, FORMAT_ALLOW_JSON | FORMAT_ALLOW_CSV, usage_text, &fmt))
                return CLI_EXIT_USAGE;
            break;
        case 'c':
            curves = true;
            break;
        default:
            return rc;
        }
    }
    rc = verb_sweep_arg(argc, argv, usage_text, cli_pick_db(g, db_opt), &vs);
    if (rc)
        return rc;
    it = store_export_iter_new(vs.st, vs.row.id, &err);
    if (!it)
        rc = CARBS_ESTORE;
    else if (fmt == FORMAT_JSON)
        rc = export_json(vs.st, it, curves, &err);
    else if (curves)
        rc = export_curves_csv(vs.st, it, &err);
    else
        rc = export_csv(&vs, it, &err);
    if (rc)
        rc = cli_fail(&err);
    if (fflush(stdout) != 0 && rc == 0)
        rc = cli_error(CLI_EXIT_FAIL, "cannot write the export to stdout");
    store_export_iter_free(it);
    verb_sweep_close(&vs);
    return rc;
}
