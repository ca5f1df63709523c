/*
 * cmd_status.c - `carbs status [SWEEP]`: sweeps, workers and running
 * trials at a glance.
 *
 * When a service holds the store, JSON status comes from it (a `status`
 * request through request_send()): its live view, with the workers that
 * are connected now and every trial's remaining lease.  Otherwise, and
 * for --format table, the store is read (read-only, docs/store.md) and the
 * same shape is built from it: per sweep the trial counts, the best
 * result, the cost spent and the size of the observed Pareto front; the
 * workers the store has heard from; the trials it holds as running.
 * The JSON is one object on one line, {"source": "service"|"store", ...,
 * "sweeps": [...], "workers": [...], "running": [...]}.
 *
 * --watch reads the store again every --interval seconds until SIGINT or
 * SIGTERM (or, for one SWEEP, until it is done or stopped): on a terminal
 * it redraws the table in place; otherwise it prints a line per sweep each
 * time that sweep's progress changes, for logs and pipes.
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "tools/format.h"
#include "tools/report.h"
#include "tools/request.h"
#include "tools/verb.h"

static const char usage_text[] =
    "carbs status [SWEEP] [--db PATH] [--format json|table] [--watch [--interval S]]";

/* --interval's default and bounds, in seconds: as often as the dashboard
 * polls, never so often that the reads load the store. */
#define WATCH_INTERVAL 2.0
#define WATCH_INTERVAL_MIN 0.1
#define WATCH_INTERVAL_MAX 3600.0

static volatile sig_atomic_t watch_stop;

/* One sweep as the store has it. */
typedef struct sweep_view {
    int64_t id;
    char name[CARBS_NAME_MAX];
    char metric[CARBS_NAME_MAX];
    sweep_goal_t goal;
    carbs_sweep_state_t state;
    size_t counts[CARBS_TRIAL_STATE_COUNT];
    size_t imported;       /* of the finished, those from `carbs import`: no budget used */
    int64_t budget_trials; /* 0 = none */
    double budget_cost;    /* 0 = none */
    double best, cost_spent;
    int64_t best_trial;
    size_t front;
    char paused_because[2 * CARBS_MSG_MAX]; /* why it paused itself; "" if it did not */
} sweep_view_t;

typedef DA_TYPE(sweep_view_t) sweep_views_t;

// ---- reading the store ----

static int view_sweep(store_t *st, const store_sweep_t *row, sweep_view_t *v, carbs_err_t *err)
{
    sweep_spec_t spec = {0};
    report_front_t front = {0};
    int rc;

    memset(v, 0, sizeof(*v));
    v->id = row->id;
    v->state = row->state;
    str_copy(v->name, sizeof(v->name), row->name);
    rc = sweep_spec_from_json(row->spec_json, &spec, err);
    if (rc == 0) {
        str_copy(v->metric, sizeof(v->metric), spec.metric.name);
        v->goal = spec.metric.goal;
        v->budget_trials = spec.budget.trials;
        v->budget_cost = spec.budget.cost;
        rc = store_sweep_counts(st, row->id, v->counts, &v->cost_spent, err);
    }
    if (rc == 0) {
        store_trial_filter_t f = {.sweep_id = row->id, .worker = STORE_IMPORT_WORKER};
        store_trial_iter_t *it = store_trial_iter_new(st, &f, err);
        if (it)
            v->imported = store_trial_iter_count(it);
        else
            rc = err ? err->code : CARBS_ESTORE;
        store_trial_iter_free(it);
    }
    if (rc == 0 && row->state == CARBS_SWEEP_PAUSED && spec.budget.max_consecutive_failures > 0) {
        /* Paused by the service after failures in a row (docs/service.md). */
        store_failure_run_t fr;
        rc = store_sweep_failure_run(st, row->id, spec.budget.max_consecutive_failures, &fr, err);
        if (rc == 0 && fr.run >= spec.budget.max_consecutive_failures)
            snprintf(v->paused_because, sizeof(v->paused_because),
                     "%d trials in a row failed with %s: %s", fr.run,
                     carbs_failure_name(fr.failure), fr.message[0] ? fr.message : "(no message)");
    }
    /* No successful trial, no front (and report_front() would sort an
     * empty array, which UBSan flags). */
    if (rc == 0 && v->counts[CARBS_TRIAL_DONE] > 0)
        rc = report_front(st, row->id, spec.metric.goal == SWEEP_GOAL_MAXIMIZE, &front, err);
    if (rc == 0) {
        /* The front runs cheapest first, each point better than the last:
         * its last point is the best result. */
        v->front = front.n;
        v->best = front.n ? front.v[front.n - 1].output : NAN;
        v->best_trial = front.n ? front.v[front.n - 1].trial_id : 0;
    }
    report_front_release(&front);
    sweep_spec_release(&spec);
    if (rc)
        carbs_err_prefix(err, row->name);
    return rc;
}

static int read_sweeps(store_t *st, const char *which, sweep_views_t *out, carbs_err_t *err)
{
    store_sweep_iter_t *it = NULL;
    const store_sweep_t *row;
    store_sweep_t one = {0};
    sweep_view_t v;
    int rc;

    if (which) {
        rc = store_sweep_get(st, which, &one, err);
        if (rc == 0)
            rc = view_sweep(st, &one, &v, err);
        if (rc == 0 && DA_PUSH(out, v))
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory");
        store_sweep_release(&one);
        return rc;
    }
    it = store_sweep_iter_new(st, 0, err);
    if (!it)
        return err ? err->code : CARBS_ESTORE;
    rc = 0;
    while (rc == 0 && store_sweep_iter_next(it, &row) == CARBS_CONTINUE) {
        rc = view_sweep(st, row, &v, err);
        if (rc == 0 && DA_PUSH(out, v))
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory");
    }
    store_sweep_iter_free(it);
    return rc;
}

static const char *sweep_name(const sweep_views_t *sv, int64_t id)
{
    for (size_t i = 0; i < sv->n; i++)
        if (sv->v[i].id == id)
            return sv->v[i].name;
    return "";
}

/* Running trials of the sweeps in sv (one sweep, or all). */
static store_trial_iter_t *running_iter(store_t *st, const sweep_views_t *sv, bool one,
                                        carbs_err_t *err)
{
    store_trial_filter_t f = {0};

    f.sweep_id = one && sv->n ? sv->v[0].id : 0;
    f.states = 1u << CARBS_TRIAL_RUNNING;
    return store_trial_iter_new(st, &f, err);
}

// ---- printing ----

static void json_sweep(jw_t *jw, const sweep_view_t *v)
{
    jw_object(jw, NULL);
    jw_int(jw, "id", v->id);
    jw_str(jw, "name", v->name);
    jw_str(jw, "state", carbs_sweep_state_name(v->state));
    jw_object(jw, "trials");
    for (int s = 0; s < CARBS_TRIAL_STATE_COUNT; s++)
        jw_int(jw, carbs_trial_state_name(s), (int64_t)v->counts[s]);
    jw_end(jw);
    jw_str(jw, "metric", v->metric);
    jw_str(jw, "goal", sweep_goal_name(v->goal));
    jw_num_or_null(jw, "best", v->best);
    jw_int(jw, "best_trial", v->best_trial);
    jw_num_or_null(jw, "cost_spent", v->cost_spent);
    jw_int(jw, "front", (int64_t)v->front);
    if (v->imported)
        jw_int(jw, "imported", (int64_t)v->imported);
    if (v->paused_because[0])
        jw_str(jw, "paused_because", v->paused_because);
    jw_end(jw);
}

static int print_store_json(store_t *st, const sweep_views_t *sv, bool one, carbs_err_t *err)
{
    store_worker_iter_t *wi = store_worker_iter_new(st, err);
    store_trial_iter_t *ti = wi ? running_iter(st, sv, one, err) : NULL;
    const store_worker_t *w;
    const store_trial_t *t;
    double now = now_wall();
    jw_t jw;
    int rc;

    if (!ti) {
        store_worker_iter_free(wi);
        return err ? err->code : CARBS_ESTORE;
    }
    jw_init(&jw);
    jw_object(&jw, NULL);
    jw_str(&jw, "source", "store");
    jw_array(&jw, "sweeps");
    for (size_t i = 0; i < sv->n; i++)
        json_sweep(&jw, &sv->v[i]);
    jw_end(&jw);
    jw_array(&jw, "workers");
    while (store_worker_iter_next(wi, &w) == CARBS_CONTINUE) {
        jw_object(&jw, NULL);
        jw_str(&jw, "id", w->id);
        jw_str(&jw, "host", w->host);
        jw_int(&jw, "losses", w->losses);
        jw_bool(&jw, "quarantined", w->quarantined);
        jw_num_or_null(&jw, "idle_seconds", w->last_seen > 0 ? now - w->last_seen : NAN);
        jw_end(&jw);
    }
    jw_end(&jw);
    jw_array(&jw, "running");
    while (store_trial_iter_next(ti, &t) == CARBS_CONTINUE) {
        jw_object(&jw, NULL);
        jw_int(&jw, "trial", t->id);
        jw_str(&jw, "sweep", sweep_name(sv, t->sweep_id));
        jw_str(&jw, "worker", t->worker);
        jw_int(&jw, "attempt", t->attempt);
        jw_num_or_null(&jw, "lease_seconds", t->lease_deadline > 0 ? t->lease_deadline - now : NAN);
        jw_end(&jw);
    }
    jw_end(&jw);
    jw_end(&jw);
    rc = format_json_line(&jw, stdout, err);
    jw_release(&jw);
    store_trial_iter_free(ti);
    store_worker_iter_free(wi);
    return rc;
}

static int print_store_table(store_t *st, const sweep_views_t *sv, bool one, long pid,
                             carbs_err_t *err)
{
    static const char *const sweep_head[] = {"ID",   "SWEEP",   "STATE", "DONE",
                                             "RUN",  "PENDING", "FAIL",  "LOST",
                                             "CANC", "BEST",    "TRIAL", "COST",
                                             "FRONT"};
    static const char *const worker_head[] = {"WORKER", "HOST", "LAST_SEEN", "LOSSES",
                                              "QUARANTINED"};
    static const char *const running_head[] = {"RUNNING", "SWEEP", "WORKER", "ATTEMPT",
                                               "LEASE_S"};
    store_worker_iter_t *wi = store_worker_iter_new(st, err);
    store_trial_iter_t *ti = wi ? running_iter(st, sv, one, err) : NULL;
    const store_worker_t *w;
    const store_trial_t *t;
    format_table_t tab;
    double now = now_wall();
    char buf[32];

    if (!ti) {
        store_worker_iter_free(wi);
        return err ? err->code : CARBS_ESTORE;
    }
    if (pid > 0)
        printf("store %s, served by pid %ld\n\n", store_path(st), pid);
    else
        printf("store %s, %s\n\n", store_path(st), pid ? "served" : "no service running");
    format_table_head(&tab, sweep_head, ARRAY_SIZE(sweep_head));
    for (size_t i = 0; i < sv->n; i++) {
        const sweep_view_t *v = &sv->v[i];
        static const carbs_trial_state_t order[] = {CARBS_TRIAL_DONE,   CARBS_TRIAL_RUNNING,
                                                    CARBS_TRIAL_PENDING, CARBS_TRIAL_FAILED,
                                                    CARBS_TRIAL_LOST,   CARBS_TRIAL_CANCELLED};
        format_table_addf(&tab, "%" PRId64, v->id);
        format_table_add(&tab, v->name);
        format_table_add(&tab, carbs_sweep_state_name(v->state));
        for (size_t k = 0; k < ARRAY_SIZE(order); k++)
            format_table_addf(&tab, "%zu", v->counts[order[k]]);
        format_table_num(&tab, v->best);
        if (v->best_trial)
            format_table_addf(&tab, "%" PRId64, v->best_trial);
        else
            format_table_add(&tab, "-");
        format_table_num(&tab, v->cost_spent);
        format_table_addf(&tab, "%zu", v->front);
    }
    format_table_print(&tab, stdout);
    format_table_release(&tab);
    for (size_t i = 0; i < sv->n; i++)
        if (sv->v[i].paused_because[0])
            printf("sweep %s paused itself: %s\n", sv->v[i].name, sv->v[i].paused_because);

    format_table_head(&tab, worker_head, ARRAY_SIZE(worker_head));
    while (store_worker_iter_next(wi, &w) == CARBS_CONTINUE) {
        format_table_add(&tab, w->id);
        format_table_add(&tab, w->host[0] ? w->host : "-");
        format_iso_time(w->last_seen, buf, sizeof(buf));
        format_table_add(&tab, buf);
        format_table_addf(&tab, "%" PRId64, w->losses);
        format_table_add(&tab, w->quarantined ? "yes" : "no");
    }
    putchar('\n');
    format_table_print(&tab, stdout);
    format_table_release(&tab);

    format_table_head(&tab, running_head, ARRAY_SIZE(running_head));
    while (store_trial_iter_next(ti, &t) == CARBS_CONTINUE) {
        format_table_addf(&tab, "%" PRId64, t->id);
        format_table_add(&tab, sweep_name(sv, t->sweep_id));
        format_table_add(&tab, t->worker[0] ? t->worker : "-");
        format_table_addf(&tab, "%d", t->attempt);
        format_table_num(&tab, t->lease_deadline > 0 ? t->lease_deadline - now : NAN);
    }
    putchar('\n');
    format_table_print(&tab, stdout);
    format_table_release(&tab);
    store_trial_iter_free(ti);
    store_worker_iter_free(wi);
    return 0;
}

// ---- watching ----

static void on_signal(int sig)
{
    UNUSED(sig);
    watch_stop = 1;
}

/* One sweep's progress as a line: state, counts against the budget, best,
 * cost spent against the budget. */
static void progress_line(const sweep_view_t *v, char *buf, size_t cap)
{
    const size_t *n = v->counts;
    char budget[96] = "", best[64] = "best -", cost[64];

    if (v->budget_trials > 0)
        snprintf(budget, sizeof(budget), " of %" PRId64, v->budget_trials);
    if (v->imported) /* in the counts, not against the budget */
        snprintf(budget + strlen(budget), sizeof(budget) - strlen(budget), " (+%zu imported)",
                 v->imported);
    if (v->best_trial)
        snprintf(best, sizeof(best), "best %.6g (trial %" PRId64 ")", v->best, v->best_trial);
    if (v->budget_cost > 0)
        snprintf(cost, sizeof(cost), "cost %.6g of %.6g", v->cost_spent, v->budget_cost);
    else
        snprintf(cost, sizeof(cost), "cost %.6g", v->cost_spent);
    snprintf(buf, cap, "%s %s: %zu done, %zu running, %zu failed, %zu lost, %zu pending%s | %s | %s",
             v->name, carbs_sweep_state_name(v->state), n[CARBS_TRIAL_DONE], n[CARBS_TRIAL_RUNNING],
             n[CARBS_TRIAL_FAILED], n[CARBS_TRIAL_LOST], n[CARBS_TRIAL_PENDING], budget, best,
             cost);
}

typedef struct last_line {
    int64_t id;
    char line[2 * CARBS_NAME_MAX + 256];
} last_line_t;

typedef DA_TYPE(last_line_t) last_lines_t;

/* Print "<time> <line>" for each sweep whose line changed since the last
 * call (last remembers them). */
static int print_changes(const sweep_views_t *sv, last_lines_t *last, carbs_err_t *err)
{
    char stamp[32];

    format_iso_time(now_wall(), stamp, sizeof(stamp));
    for (size_t i = 0; i < sv->n; i++) {
        last_line_t cur = {.id = sv->v[i].id};
        size_t k = 0;
        progress_line(&sv->v[i], cur.line, sizeof(cur.line));
        while (k < last->n && last->v[k].id != cur.id)
            k++;
        if (k < last->n && strcmp(last->v[k].line, cur.line) == 0)
            continue;
        if (k == last->n && DA_PUSH(last, cur))
            return carbs_fail(err, CARBS_ENOMEM, "out of memory");
        last->v[k] = cur;
        printf("%s %s\n", stamp, cur.line);
    }
    fflush(stdout);
    return 0;
}

/* Whether the one sweep watched has ended (done or stopped). */
static bool watched_ended(const sweep_views_t *sv, const char *which)
{
    return which && sv->n == 1 &&
           (sv->v[0].state == CARBS_SWEEP_DONE || sv->v[0].state == CARBS_SWEEP_STOPPED);
}

static int watch(store_t *st, const char *db, const char *which, double interval,
                 carbs_err_t *err)
{
    bool tty = isatty(STDOUT_FILENO);
    struct sigaction sa = {0};
    last_lines_t last = {0};
    int rc = 0;

    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (!watch_stop && rc == 0) {
        sweep_views_t sv = {0};
        long pid = 0;
        rc = store_writer_holder(db, &pid, err);
        if (rc == 0)
            rc = read_sweeps(st, which, &sv, err);
        if (rc == 0 && tty) {
            fputs("\033[H\033[J", stdout); /* home, clear: redraw in place */
            rc = print_store_table(st, &sv, which != NULL, pid, err);
            fflush(stdout);
        } else if (rc == 0) {
            rc = print_changes(&sv, &last, err);
        }
        if (rc == 0 && watched_ended(&sv, which)) {
            DA_FREE(&sv);
            break;
        }
        DA_FREE(&sv);
        /* Sleep in short steps so a signal ends the wait at once. */
        for (double slept = 0; !watch_stop && slept < interval; slept += 0.05) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    DA_FREE(&last);
    return rc;
}

// ---- asking the service ----

/* Print the service's status as {"source":"service","pid":N,...}.  Returns
 * 0, or CARBS_ENOTFOUND when the service does not serve the sweep (it is
 * done or stopped: the store has it), or another error. */
static int print_service(const char *db, const char *which, long pid, carbs_err_t *err)
{
    proto_msg_t m, reply = {0};
    proto_status_t st = {0};
    jw_t jw;
    int rc;

    proto_msg_init(&m, PROTO_MSG_STATUS);
    if (which && str_copy(m.status.sweep, sizeof(m.status.sweep), which)) {
        proto_msg_release(&m);
        return carbs_fail(err, CARBS_ENOTFOUND, "no sweep '%s'", which);
    }
    rc = request_send(db, which, &m, &reply, err);
    if (rc == 0 && reply.type == PROTO_MSG_REPLY && !reply.reply.ok && which)
        rc = carbs_fail(err, CARBS_ENOTFOUND, "%s", reply.reply.message);
    if (rc == 0)
        rc = verb_reply_check(&reply, err);
    if (rc == 0 && !reply.reply.data)
        rc = carbs_fail(err, CARBS_EPROTO, "the service's reply carries no status");
    if (rc == 0)
        rc = proto_status_decode(reply.reply.data, strlen(reply.reply.data), &st, err);
    jw_init(&jw);
    if (rc == 0) {
        jw_object(&jw, NULL);
        jw_str(&jw, "source", "service");
        jw_int(&jw, "pid", pid);
        rc = proto_status_put(&jw, &st, err);
        jw_end(&jw);
    }
    if (rc == 0)
        rc = format_json_line(&jw, stdout, err);
    jw_release(&jw);
    proto_status_release(&st);
    proto_msg_release(&reply);
    proto_msg_release(&m);
    return rc;
}

int cmd_status(int argc, char **argv, const cli_globals_t *g)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"format", required_argument, NULL, 'f'},
        {"watch", no_argument, NULL, 'w'},
        {"interval", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL, *db, *which = NULL;
    format_t fmt = FORMAT_JSON;
    bool watching = false;
    double interval = WATCH_INTERVAL;
    sweep_views_t sv = {0};
    carbs_err_t err = {0};
    store_t *st = NULL;
    long pid = 0;
    int c, rc = CLI_EXIT_OK;

    while ((c = verb_getopt(argc, argv, NULL, opts, usage_text, &rc)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: %s\n\n"
                   "Show every sweep (or SWEEP) with its trial counts, best result, cost spent\n"
                   "and Pareto front size, the workers, and the running trials.  JSON (one\n"
                   "object) comes from the running service when one holds the store, else from\n"
                   "the store; the table always reads the store (read-only).\n\n"
                   "  --watch         read the store again every --interval seconds (default\n"
                   "                  %g) until interrupted, or until SWEEP is done or stopped:\n"
                   "                  the table redrawn in place on a terminal, else a line\n"
                   "                  per sweep whenever its progress changes\n",
                   usage_text, WATCH_INTERVAL);
            return CLI_EXIT_OK;
        case 'd':
            db_opt = optarg;
            break;
        case 'f':
            if (verb_format(optarg, FORMAT_ALLOW_JSON | FORMAT_ALLOW_TABLE, usage_text, &fmt))
                return CLI_EXIT_USAGE;
            break;
        case 'w':
            watching = true;
            break;
        case 'i':
            if (parse_double(optarg, WATCH_INTERVAL_MIN, WATCH_INTERVAL_MAX, &interval))
                return cli_usage_error(usage_text, "--interval: '%s' is not a number of seconds "
                                                   "in [%g, %g]",
                                       optarg, WATCH_INTERVAL_MIN, WATCH_INTERVAL_MAX);
            break;
        default:
            return rc;
        }
    }
    if (argc - optind > 1)
        return cli_usage_error(usage_text, "unexpected argument '%s'", argv[optind + 1]);
    which = optind < argc ? argv[optind] : NULL;
    db = cli_pick_db(g, db_opt);
    if (watching) {
        st = verb_store_open(db, &err);
        rc = st ? watch(st, db, which, interval, &err) : CARBS_ENOTFOUND;
        store_close(st);
        return rc ? cli_fail(&err) : CLI_EXIT_OK;
    }
    if (store_writer_holder(db, &pid, &err))
        return cli_fail(&err);
    if (pid != 0 && fmt == FORMAT_JSON) {
        rc = print_service(db, which, pid, &err);
        if (rc == 0)
            return CLI_EXIT_OK;
        if (rc != CARBS_ENOTFOUND)
            return cli_fail(&err);
        carbs_err_clear(&err); /* a finished sweep: the store has it */
    }
    st = verb_store_open(db, &err);
    rc = st ? read_sweeps(st, which, &sv, &err) : CARBS_ENOTFOUND;
    if (rc == 0 && fmt == FORMAT_JSON)
        rc = print_store_json(st, &sv, which != NULL, &err);
    else if (rc == 0)
        rc = print_store_table(st, &sv, which != NULL, pid, &err);
    if (rc)
        rc = cli_fail(&err);
    DA_FREE(&sv);
    store_close(st);
    return rc;
}
