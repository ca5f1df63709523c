/*
 * cmd_dashboard_fit.c - the laws behind the dashboard's "at cost" box,
 * fitted off the server's thread (docs/style.md H23): a full fit of a
 * large sweep takes as long as `carbs laws --at-cost` (a minute for 10,000
 * trials on a loaded machine), and the server must go on answering the
 * page's polls meanwhile.  An actor (proto/actor.h) with its own read-only
 * store connection fits one sweep at a time, exactly as that command does
 * (optimizer/service/laws_data.h), and sends the fit back as JSON
 * (proto/laws.h) with the results it was fitted on:
 *
 *   owner -> actor  FIT   "<sweep id>"
 *   actor -> owner  LAW   "<sweep id> <n_results> <last_result> <last_result_at> <JSON>"
 *                   FAIL  "<sweep id> <n_results> <last_result> <last_result_at> <code> <why>"
 *
 * The key (store_summary_t's) is read before the trials in the actor's own
 * snapshot order, so a result stored in between makes the fit newer than
 * its key, never older: the owner then only fits once more.
 */
#include "proto/common.h"
#include "tools/cmd_dashboard.h"

#include <inttypes.h>

#include "optimizer/service/laws_data.h"
#include "proto/actor.h"
#include "proto/sweep.h"

struct dash_fitter {
    actor_t *actor;
};

// ---- the actor ----

static int fit_one(store_t *st, int64_t sweep_id, store_summary_t *sum, char **json,
                   carbs_err_t *err)
{
    store_sweep_t row = {0};
    sweep_spec_t spec = {0};
    laws_data_t d = {0};
    laws_t l = {0};
    int rc = store_sweep_summary(st, sweep_id, sum, err);

    if (rc == 0)
        rc = store_sweep_get_id(st, sweep_id, &row, err);
    if (rc == 0)
        rc = sweep_spec_from_json(row.spec_json, &spec, err);
    if (rc == 0)
        rc = laws_data_gather(st, sweep_id, &spec, &d, err);
    if (rc == 0)
        rc = laws_data_fit(&d, &spec, true, NULL, &l, err);
    if (rc == 0)
        rc = laws_to_json(&l, json, err);
    laws_release(&l);
    laws_data_release(&d);
    sweep_spec_release(&spec);
    store_sweep_release(&row);
    return rc;
}

static void fit_request(actor_pipe_t *pipe, store_t *st, const char *body)
{
    carbs_err_t err = {0};
    store_summary_t sum = {0};
    int64_t sweep_id = 0;
    char *json = NULL;
    strbuf_t sb = STRBUF_INIT;
    int rc;

    if (sscanf(body, "%" SCNd64, &sweep_id) != 1)
        rc = carbs_fail(&err, CARBS_EPROTO, "a malformed fit request '%.40s'", body);
    else
        rc = fit_one(st, sweep_id, &sum, &json, &err);
    strbuf_addf(&sb, "%" PRId64 " %" PRId64 " %" PRId64 " %.17g ", sweep_id, sum.n_results,
                sum.last_result, sum.last_result_at);
    if (rc == 0)
        strbuf_adds(&sb, json);
    else
        strbuf_addf(&sb, "%s %s", carbs_errname(rc), err.msg);
    if (!sb.err)
        actor_pipe_send(pipe, rc == 0 ? "LAW" : "FAIL", sb.buf, sb.len, NULL);
    strbuf_release(&sb);
    free(json);
}

/* arg: the store's path, read before ready. */
static void fitter_main(actor_pipe_t *pipe, void *arg)
{
    laws_data_actor_loop(pipe, arg, "FIT", fit_request);
}

// ---- the owner ----

dash_fitter_t *dash_fitter_new(const char *db_path, carbs_err_t *err)
{
    dash_fitter_t *f = xcalloc(1, sizeof(*f));
    char *path = xstrdup(db_path); /* the actor's until it is ready */

    f->actor = actor_new(fitter_main, path, err);
    free(path);
    if (!f->actor) {
        carbs_err_prefix(err, "the dashboard's fitting thread");
        free(f);
        return NULL;
    }
    return f;
}

void dash_fitter_free(dash_fitter_t *f)
{
    if (!f)
        return;
    actor_free(f->actor);
    free(f);
}

int dash_fitter_send(dash_fitter_t *f, int64_t sweep_id, carbs_err_t *err)
{
    char body[32];
    int n = snprintf(body, sizeof(body), "%" PRId64, sweep_id);

    return actor_send(f->actor, "FIT", body, (size_t)n, err);
}

int dash_fitter_take(dash_fitter_t *f, dash_fit_t *out)
{
    actor_msg_t m;
    int off = 0;
    char code[64] = "";

    memset(out, 0, sizeof(*out));
    if (actor_recv(f->actor, &m, 0, NULL) != 0)
        return 0;
    if (sscanf(m.body, "%" SCNd64 " %" SCNd64 " %" SCNd64 " %lf %n", &out->sweep_id,
               &out->n_results, &out->last_result, &out->last_result_at, &off) != 4 ||
        !off) {
        out->rc = CARBS_EPROTO;
        snprintf(out->why, sizeof(out->why), "a malformed answer from the fitting thread");
    } else if (strcmp(m.cmd, "LAW") == 0) {
        carbs_err_t err = {0};
        out->rc = laws_from_json(m.body + off, &out->laws, &err);
        if (out->rc)
            snprintf(out->why, sizeof(out->why), "%s", err.msg);
    } else {
        int k = 0;
        if (sscanf(m.body + off, "%63s %n", code, &k) != 1 || !k)
            k = (int)strlen(m.body + off);
        out->rc = carbs_errcode(code);
        if (out->rc >= 0)
            out->rc = CARBS_EPROTO;
        snprintf(out->why, sizeof(out->why), "%s", m.body + off + k);
    }
    actor_msg_release(&m);
    return 1;
}
