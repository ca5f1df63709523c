/*
 * verb.c - the shared pieces of the read and write verbs (verb.h): option
 * errors, the read-only sweep, the export record of a stored trial, and
 * the check of a service's reply.
 */
#include "proto/common.h"
#include "tools/verb.h"

#include <inttypes.h>
#include <math.h>
#include <unistd.h>

#include "proto/json.h"
#include "tools/cli.h"

int verb_getopt(int argc, char **argv, const char *shortopts, const struct option *opts,
                const char *usage, int *exit_code)
{
    char optstring[64];
    int c;

    snprintf(optstring, sizeof(optstring), ":%s", shortopts ? shortopts : "h");
    c = getopt_long(argc, argv, optstring, opts, NULL);
    if (c == '?') {
        *exit_code = cli_usage_error(usage, "unknown option '%s'", argv[optind - 1]);
    } else if (c == ':') {
        *exit_code = cli_usage_error(usage, "option '%s' needs a value", argv[optind - 1]);
        c = '?';
    }
    return c;
}

int verb_format(const char *arg, unsigned allowed, const char *usage, format_t *fmt)
{
    static const char *const names[] = {"json", "csv", "table"};
    char list[32] = "";
    size_t k = 0;

    if (format_parse(arg, allowed, fmt) == 0)
        return 0;
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (allowed & (1u << i))
            k += (size_t)snprintf(list + k, sizeof(list) - k, "%s%s", k ? ", " : "", names[i]);
    return cli_usage_error(usage, "unknown format '%s' (%s)", arg, list);
}

int verb_operand(int argc, char **argv, const char *usage, const char *what, const char **out)
{
    if (optind >= argc)
        return cli_usage_error(usage, "missing %s", what);
    if (optind + 1 < argc)
        return cli_usage_error(usage, "unexpected argument '%s'", argv[optind + 1]);
    *out = argv[optind];
    return 0;
}

int verb_sweep_arg(int argc, char **argv, const char *usage, const char *db, verb_sweep_t *out)
{
    carbs_err_t err = {0};
    const char *sweep = NULL;
    int rc = verb_operand(argc, argv, usage, "SWEEP", &sweep);

    memset(out, 0, sizeof(*out));
    if (rc)
        return rc;
    if (verb_sweep_open(db, sweep, out, &err))
        return cli_fail(&err);
    return 0;
}

store_t *verb_store_open(const char *db, carbs_err_t *err)
{
    return store_open(db, STORE_READONLY, err);
}

int verb_store_exists(const char *db)
{
    if (access(db, F_OK) == 0)
        return CLI_EXIT_OK;
    return cli_error(CLI_EXIT_USAGE,
                     "the store '%s' does not exist (give --db, or create a sweep in it first "
                     "with `carbs sweep create`)",
                     db);
}

void verb_sweep_close(verb_sweep_t *v)
{
    store_close(v->st);
    store_sweep_release(&v->row);
    sweep_spec_release(&v->spec);
    memset(v, 0, sizeof(*v));
}

int verb_sweep_open(const char *db, const char *sweep, verb_sweep_t *out, carbs_err_t *err)
{
    int rc;

    memset(out, 0, sizeof(*out));
    out->st = verb_store_open(db, err);
    if (!out->st)
        return err ? err->code : CARBS_EIO;
    rc = store_sweep_get(out->st, sweep, &out->row, err);
    if (rc == 0) {
        rc = sweep_spec_from_json(out->row.spec_json, &out->spec, err);
        if (rc)
            carbs_err_prefix(err, "the stored spec of the sweep");
    }
    if (rc)
        verb_sweep_close(out);
    return rc;
}

int verb_record(const store_record_t *row, proto_record_t *rec, carbs_err_t *err)
{
    const store_trial_t *t = &row->trial;
    const store_result_t *r = &row->result;
    int rc;

    proto_record_init(rec);
    if (!row->has_result)
        return carbs_fail(err, CARBS_EINVAL, "trial %" PRId64 " has no result", t->id);
    rec->id = t->id;
    str_copy(rec->sweep, sizeof(rec->sweep), row->sweep);
    rec->state = t->state;
    rc = proto_params_from_json(t->params_json ? t->params_json : "{}", &rec->params, err);
    if (rc == 0 && r->metrics_json) {
        carbs_result_release(&rec->metrics);
        rc = proto_result_from_json(r->metrics_json, &rec->metrics, err);
    }
    if (rc) {
        carbs_err_prefix(err, "the stored trial");
        proto_record_release(rec);
        return rc;
    }
    /* The result row, not the reported metrics, says how the trial ended. */
    rec->metrics.ok = r->ok;
    rec->metrics.failure = r->failure;
    str_copy(rec->metrics.message, sizeof(rec->metrics.message), r->message);
    rec->output = r->output;
    rec->cost = isfinite(r->cost) ? r->cost : 0;
    rec->is_failure = !r->ok;
    rec->attempt = t->attempt;
    str_copy(rec->worker, sizeof(rec->worker), t->worker);
    rec->started = t->started;
    rec->finished = t->finished;
    return 0;
}

int verb_reply_check(const proto_msg_t *reply, carbs_err_t *err)
{
    if (reply->type == PROTO_MSG_ERROR)
        return carbs_fail(err, CARBS_EINVAL, "the service refused the request: %s (%s)",
                          reply->error.message, carbs_errname(reply->error.code));
    if (reply->type != PROTO_MSG_REPLY)
        return carbs_fail(err, CARBS_EPROTO, "the service answered with '%s', not a reply",
                          proto_msg_type_name(reply->type));
    if (!reply->reply.ok)
        return carbs_fail(err, CARBS_EINVAL, "%s",
                          reply->reply.message[0] ? reply->reply.message : "request refused");
    return 0;
}
