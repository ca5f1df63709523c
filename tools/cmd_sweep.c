/*
 * cmd_sweep.c - `carbs sweep create|list|show|pause|resume|stop|extend|
 * rename|delete` (docs/cli.md).
 *
 * create validates the whole sweep file before it opens the store, so an
 * invalid file never leaves anything behind (exit 2).  Commands that change
 * a sweep obey the writer rule of docs/store.md: when `carbs serve` holds the
 * store they refuse (exit 1) rather than write behind its back; sending the
 * request to the service instead comes with the service's client requests.
 * list and show open the store read-only.  Output on stdout is data:
 * JSON by default, --format table|csv for people and spreadsheets.
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <math.h>
#include <unistd.h>

#include "proto/jw.h"
#include "tools/format.h"
#include "tools/request.h"
#include "tools/verb.h"

#define SWEEP_PORT 5555 /* the port the printed serve/worker commands use */

static const char usage_text[] =
    "carbs sweep <verb> [options]\n"
    "\n"
    "  create FILE [--db PATH] [--name NAME]   validate a sweep file (YAML or JSON) and store it\n"
    "  list [--db PATH] [--format json|table|csv]\n"
    "                                          every sweep with its state and trial counts\n"
    "  show SWEEP [--db PATH] [--format json|table]\n"
    "                                          one sweep (id or name): canonical spec, counts\n"
    "  pause SWEEP [--db PATH]                 hand out no new trials\n"
    "  resume SWEEP [--db PATH]                undo pause (a stopped sweep stays stopped)\n"
    "  stop SWEEP [--db PATH]                  end the sweep for good\n"
    "  extend SWEEP [--trials N] [--cost C] [--db PATH]\n"
    "                                          add budget; a done sweep hands out trials again\n"
    "  rename SWEEP NEW [--db PATH]            give the sweep a new name\n"
    "  delete SWEEP --yes [--db PATH]          delete a done or stopped sweep and its trials\n"
    "\n"
    "The store is --db, else the global --db, else $CARBS_DB, else ./carbs.db.\n"
    "The sweep file (carbs' own or a W&B sweep file) is described in docs/sweep-file.md.\n";

/* Send m to the service holding db (request.h) and, when it agrees, print
 * done with the sweep's id (done may be NULL: print nothing).  Returns an
 * exit code. */
static int via_service(const char *db, const char *sweep, const proto_msg_t *m, const char *done)
{
    carbs_err_t err = {0};
    proto_msg_t r = {0};
    int rc;

    if (request_send(db, sweep, m, &r, &err)) {
        rc = cli_fail(&err);
    } else if (r.type == PROTO_MSG_ERROR) {
        rc = cli_error(CLI_EXIT_FAIL, "%s", r.error.message);
    } else if (!r.reply.ok) {
        rc = cli_error(CLI_EXIT_FAIL, "%s", r.reply.message);
    } else {
        if (done)
            printf("%s (sweep id %lld)\n", done, (long long)r.reply.sweep_id);
        rc = CLI_EXIT_OK;
    }
    proto_msg_release(&r);
    return rc;
}

/* True when a service holds the store: changes must go to it. */
static bool held(const char *db)
{
    long pid = 0;
    return store_writer_holder(db, &pid, NULL) == 0 && pid != 0;
}

// ---- create ----

/* True when prog would start here: a path (with a '/') that is an
 * executable file, or a name found executable in $PATH. */
static bool command_found(const char *prog)
{
    const char *path = getenv("PATH"), *p, *end;
    char full[4096];

    if (strchr(prog, '/'))
        return access(prog, X_OK) == 0;
    for (p = path ? path : "/usr/bin:/bin"; *p; p = *end ? end + 1 : end) {
        end = strchr(p, ':');
        if (!end)
            end = p + strlen(p);
        if (snprintf(full, sizeof(full), "%.*s/%s", (int)(end - p), end > p ? p : ".", prog) <
                (int)sizeof(full) &&
            access(full, X_OK) == 0)
            return true;
    }
    return false;
}

static int sweep_create(int argc, char **argv, const cli_globals_t *g)
{
    static const char u[] = "carbs sweep create FILE [--db PATH] [--name NAME]";
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"name", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL, *name = NULL, *file = NULL, *db;
    sweep_spec_t spec = {0};
    sweep_argv_t errors = {0};
    carbs_err_t err = {0};
    store_t *st = NULL;
    char *json = NULL, host[256];
    int64_t id = 0;
    int c, rc = CLI_EXIT_OK;

    while ((c = verb_getopt(argc, argv, NULL, opts, u, &rc)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: %s\n\nValidate FILE and store it as a new, active sweep; --name "
                   "overrides the file's name.\n",
                   u);
            return CLI_EXIT_OK;
        case 'd':
            db_opt = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        default:
            return rc;
        }
    }
    rc = verb_operand(argc, argv, u, "the sweep file", &file);
    if (rc)
        return rc;
    db = cli_pick_db(g, db_opt);
    /* validate everything before the store is touched: every error at once */
    if (sweep_spec_load_all(file, &spec, &errors, &err) < 0) {
        rc = err.code == CARBS_ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
        if (errors.n == 0 || rc != CLI_EXIT_USAGE)
            cli_error(rc, "%s", err.msg);
        for (size_t i = 0; rc == CLI_EXIT_USAGE && i < errors.n; i++)
            cli_error(rc, "%s", errors.v[i]);
        if (errors.n > 1 && rc == CLI_EXIT_USAGE)
            cli_error(rc, "%s: %zu errors; nothing stored", file, errors.n);
        goto out;
    }
    /* what reading a W&B file assumed, ignored or warns about */
    for (size_t i = 0; i < spec.notes.n; i++)
        fprintf(stderr, "%s\n", spec.notes.v[i]);
    /* A warning only: the command may exist on the workers' nodes alone. */
    if (spec.command.n > 0 && !command_found(spec.command.v[0]))
        log_warn("%s: command '%s' not found here (in $PATH or as a path): every trial fails "
                 "unless it exists where the workers run",
                 file, spec.command.v[0]);
    if (name) {
        if (sweep_name_check(name, &err) < 0) {
            rc = cli_error(CLI_EXIT_USAGE, "--name: %s", err.msg);
            goto out;
        }
        str_copy(spec.name, sizeof(spec.name), name);
    }
    if (sweep_spec_to_json(&spec, &json, &err) < 0) {
        rc = cli_fail(&err);
        goto out;
    }
    if (held(db)) {
        proto_msg_t m;
        char done[CARBS_NAME_MAX + 64];
        proto_msg_init(&m, PROTO_MSG_SWEEP_CREATE);
        m.sweep_create.spec_json = json;
        snprintf(done, sizeof(done), "created sweep '%s' through the running service", spec.name);
        rc = via_service(db, NULL, &m, done);
        m.sweep_create.spec_json = NULL;
        proto_msg_release(&m);
        goto out;
    }
    st = store_open(db, STORE_CREATE, &err);
    if (!st) {
        rc = cli_fail(&err);
        goto out;
    }
    if (store_sweep_create(st, spec.name, json, &id, &err) < 0) {
        if (err.code == CARBS_EEXIST)
            rc = cli_error(CLI_EXIT_FAIL,
                           "a sweep named '%s' already exists in '%s' (pick another with "
                           "--name, or see 'carbs sweep show %s')",
                           spec.name, db, spec.name);
        else
            rc = cli_fail(&err);
        goto out;
    }
    if (gethostname(host, sizeof(host)) != 0 || !host[0])
        snprintf(host, sizeof(host), "HOST");
    host[sizeof(host) - 1] = '\0';
    printf("created sweep %lld '%s' in %s\n", (long long)id, spec.name, db);
    printf("start the service (once):\n  carbs serve --db ");
    format_shell_word(stdout, db);
    printf(" --bind 'tcp://*:%d' --keys keys\n", SWEEP_PORT);
    printf("start a worker on each node:\n  carbs worker --connect tcp://%s:%d --keys keys\n",
           host, SWEEP_PORT);
    printf("(keys/ holds the CurveZMQ key pairs and the allow-list: docs/wire.md, CURVE setup;\n"
           " on this machine alone, --bind ipc://carbs.sock and --connect ipc://carbs.sock need "
           "none)\n");
    rc = CLI_EXIT_OK;
out:
    store_close(st);
    free(json);
    sweep_spec_release(&spec);
    sweep_argv_release(&errors);
    return rc;
}

// ---- list ----

typedef struct row_info {
    size_t counts[CARBS_TRIAL_STATE_COUNT];
    double cost_spent;
    const char *trainer, *metric, *goal;
    char created[32];
} row_info_t;

/* Counts and the spec's headline of one sweep; a spec that no longer parses
 * shows as "?" rather than hiding the sweep. */
static int row_info(store_t *st, const store_sweep_t *sw, sweep_spec_t *spec, row_info_t *ri,
                    carbs_err_t *err)
{
    carbs_err_t perr = {0};

    memset(ri, 0, sizeof(*ri));
    if (store_sweep_counts(st, sw->id, ri->counts, &ri->cost_spent, err) < 0)
        return err->code;
    ri->trainer = ri->metric = ri->goal = "?";
    if (sw->spec_json && sweep_spec_from_json(sw->spec_json, spec, &perr) == 0) {
        ri->trainer = proto_trainer_name(spec->trainer);
        ri->metric = spec->metric.name;
        ri->goal = sweep_goal_name(spec->metric.goal);
    }
    format_iso_time(sw->created, ri->created, sizeof(ri->created));
    return 0;
}

static store_t *open_read(const char *db, carbs_err_t *err)
{
    store_t *st = store_open(db, STORE_READONLY, err);

    if (!st && err->code == CARBS_ENOTFOUND)
        carbs_fail(err, CARBS_ENOTFOUND, "no store at '%s' (create a sweep first)", db);
    return st;
}

static int sweep_list(int argc, char **argv, const cli_globals_t *g)
{
    static const char u[] = "carbs sweep list [--db PATH] [--format json|table|csv]";
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL;
    format_t fmt = FORMAT_JSON;
    carbs_err_t err = {0};
    jw_t jw;
    store_t *st;
    store_sweep_iter_t *it;
    const store_sweep_t *sw;
    int c, rc = CLI_EXIT_OK;

    while ((c = verb_getopt(argc, argv, NULL, opts, u, &rc)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: %s\n\nOne line per sweep: id, name, state, trainer, metric, goal, "
                   "trials done/running/failed, created.\n",
                   u);
            return CLI_EXIT_OK;
        case 'd':
            db_opt = optarg;
            break;
        case 'f':
            if (verb_format(optarg, FORMAT_ALLOW_ALL, u, &fmt))
                return CLI_EXIT_USAGE;
            break;
        default:
            return rc;
        }
    }
    if (optind < argc)
        return cli_usage_error(u, "unexpected argument '%s'", argv[optind]);
    st = open_read(cli_pick_db(g, db_opt), &err);
    if (!st)
        return cli_fail(&err);
    it = store_sweep_iter_new(st, 0, &err);
    if (!it) {
        store_close(st);
        return cli_fail(&err);
    }
    jw_init(&jw);
    if (fmt == FORMAT_TABLE)
        printf("%-6s %-24s %-8s %-10s %-16s %6s %8s %7s  %s\n", "ID", "NAME", "STATE",
               "TRAINER", "METRIC", "DONE", "RUNNING", "FAILED", "CREATED");
    else if (fmt == FORMAT_CSV)
        printf("id,name,state,trainer,metric,goal,done,running,failed,created\n");
    while (store_sweep_iter_next(it, &sw) == CARBS_CONTINUE) {
        sweep_spec_t spec = {0};
        row_info_t ri;

        if (row_info(st, sw, &spec, &ri, &err) < 0) {
            rc = cli_fail(&err);
            break;
        }
        if (fmt == FORMAT_JSON) {
            jw_object(&jw, NULL);
            jw_int(&jw, "id", sw->id);
            jw_str(&jw, "name", sw->name);
            jw_str(&jw, "state", carbs_sweep_state_name(sw->state));
            jw_str(&jw, "trainer", ri.trainer);
            jw_str(&jw, "metric", ri.metric);
            jw_str(&jw, "goal", ri.goal);
            jw_int(&jw, "done", (int64_t)ri.counts[CARBS_TRIAL_DONE]);
            jw_int(&jw, "running", (int64_t)ri.counts[CARBS_TRIAL_RUNNING]);
            jw_int(&jw, "failed", (int64_t)ri.counts[CARBS_TRIAL_FAILED]);
            jw_str(&jw, "created", ri.created);
            jw_end(&jw);
            if (format_json_line(&jw, stdout, &err)) {
                rc = cli_fail(&err);
                sweep_spec_release(&spec);
                break;
            }
        } else if (fmt == FORMAT_CSV) {
            printf("%lld,", (long long)sw->id);
            format_csv_str(stdout, sw->name);
            printf(",%s,%s,", carbs_sweep_state_name(sw->state), ri.trainer);
            format_csv_str(stdout, ri.metric);
            printf(",%s,%zu,%zu,%zu,%s\n", ri.goal, ri.counts[CARBS_TRIAL_DONE],
                   ri.counts[CARBS_TRIAL_RUNNING], ri.counts[CARBS_TRIAL_FAILED], ri.created);
        } else {
            printf("%-6lld %-24s %-8s %-10s %-16s %6zu %8zu %7zu  %s\n", (long long)sw->id,
                   sw->name, carbs_sweep_state_name(sw->state), ri.trainer, ri.metric,
                   ri.counts[CARBS_TRIAL_DONE], ri.counts[CARBS_TRIAL_RUNNING],
                   ri.counts[CARBS_TRIAL_FAILED], ri.created);
        }
        sweep_spec_release(&spec);
    }
    jw_release(&jw);
    store_sweep_iter_free(it);
    store_close(st);
    return rc;
}

// ---- show ----

static void show_param_row(const carbs_param_t *p)
{
    printf("  %-20s ", p->name);
    if (p->space == CARBS_SPACE_CATEGORICAL) {
        printf("%-8s ", "values");
        for (size_t i = 0; i < p->n_values; i++)
            printf("%s%s", i ? ", " : "", p->values[i]);
        printf("  (center %s)\n", p->values[(size_t)p->center]);
        return;
    }
    printf("%-8s [%g, %g]  center %g  scale %g", carbs_space_name(p->space), p->min, p->max,
           p->center, p->scale);
    if (p->is_integer)
        printf("  integer, round %g", p->round);
    putchar('\n');
}

static void show_table(const store_sweep_t *sw, const sweep_spec_t *s, const row_info_t *ri)
{
    printf("sweep       %lld %s\n", (long long)sw->id, sw->name);
    printf("state       %s\n", carbs_sweep_state_name(sw->state));
    printf("created     %s\n", ri->created);
    printf("trainer     %s", proto_trainer_name(s->trainer));
    if (s->trainer == PROTO_TRAINER_COMMAND) {
        for (size_t i = 0; i < s->command.n; i++) {
            putchar(' ');
            format_shell_word(stdout, s->command.v[i]);
        }
    } else if (s->trainer == PROTO_TRAINER_SYNTHETIC) {
        printf(" %s", sweep_synth_name(s->synthetic.function));
    }
    putchar('\n');
    printf("metric      %s (%s)\n", s->metric.name, sweep_goal_name(s->metric.goal));
    printf("cost        %s (spent %g)\n", s->cost.name, ri->cost_spent);
    printf("trials     ");
    for (int i = 0; i < CARBS_TRIAL_STATE_COUNT; i++)
        printf(" %s %zu", carbs_trial_state_name((carbs_trial_state_t)i), ri->counts[i]);
    putchar('\n');
    printf("budget      trials %lld, cost %g, parallel %d, max_retries %d\n",
           (long long)s->budget.trials, s->budget.cost, s->budget.parallel,
           s->budget.max_retries);
    printf("parameters\n");
    for (size_t i = 0; i < s->parameters.n; i++)
        show_param_row(&s->parameters.v[i]);
    if (s->fixed.n) {
        printf("fixed      ");
        for (size_t i = 0; i < s->fixed.n; i++) {
            if (s->fixed.v[i].is_str)
                printf(" %s=%s", s->fixed.v[i].name, s->fixed.v[i].str);
            else
                printf(" %s=%g", s->fixed.v[i].name, s->fixed.v[i].num);
        }
        putchar('\n');
    }
    printf("carbs       seed %lld, num_random_samples %d, initial_search_radius %g, "
           "resample_frequency %d",
           (long long)s->carbs.seed, s->carbs.num_random_samples,
           s->carbs.initial_search_radius, s->carbs.resample_frequency);
    if (isfinite(s->carbs.max_suggestion_cost))
        printf(", max_suggestion_cost %g", s->carbs.max_suggestion_cost);
    printf(", estimator %s\n", carbs_estimator_name(s->carbs.outstanding_suggestion_estimator));
}

static int sweep_show(int argc, char **argv, const cli_globals_t *g)
{
    static const char u[] = "carbs sweep show SWEEP [--db PATH] [--format json|table]";
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL, *ref = NULL, *db;
    format_t fmt = FORMAT_JSON;
    carbs_err_t err = {0};
    store_t *st = NULL;
    store_sweep_t sw = {0};
    sweep_spec_t spec = {0};
    row_info_t ri;
    int c, rc = CLI_EXIT_OK;

    while ((c = verb_getopt(argc, argv, NULL, opts, u, &rc)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: %s\n\nPrint one sweep (by id or name): its state, trial counts and "
                   "canonical spec.\n",
                   u);
            return CLI_EXIT_OK;
        case 'd':
            db_opt = optarg;
            break;
        case 'f':
            if (verb_format(optarg, FORMAT_ALLOW_JSON | FORMAT_ALLOW_TABLE, u, &fmt))
                return CLI_EXIT_USAGE;
            break;
        default:
            return rc;
        }
    }
    rc = verb_operand(argc, argv, u, "the sweep (id or name)", &ref);
    if (rc)
        return rc;
    db = cli_pick_db(g, db_opt);
    st = open_read(db, &err);
    if (!st)
        return cli_fail(&err);
    if (store_sweep_get(st, ref, &sw, &err) < 0) {
        rc = err.code == CARBS_ENOTFOUND
                 ? cli_error(CLI_EXIT_FAIL, "no sweep '%s' in '%s'", ref, db)
                 : cli_fail(&err);
        goto out;
    }
    if (row_info(st, &sw, &spec, &ri, &err) < 0) {
        rc = cli_fail(&err);
        goto out;
    }
    if (fmt == FORMAT_JSON) {
        jw_t jw;

        jw_init(&jw);
        jw_object(&jw, NULL);
        jw_int(&jw, "id", sw.id);
        jw_str(&jw, "name", sw.name);
        jw_str(&jw, "state", carbs_sweep_state_name(sw.state));
        jw_str(&jw, "created", ri.created);
        jw_object(&jw, "trials");
        for (int i = 0; i < CARBS_TRIAL_STATE_COUNT; i++)
            jw_int(&jw, carbs_trial_state_name((carbs_trial_state_t)i), (int64_t)ri.counts[i]);
        jw_end(&jw);
        jw_num_or_null(&jw, "cost_spent", ri.cost_spent);
        if (sw.spec_json)
            jw_raw(&jw, "spec", sw.spec_json);
        else
            jw_null(&jw, "spec");
        jw_end(&jw);
        if (format_json_line(&jw, stdout, &err))
            rc = cli_fail(&err);
        jw_release(&jw);
    } else if (strcmp(ri.trainer, "?") == 0) {
        rc = cli_error(CLI_EXIT_FAIL, "sweep '%s': the stored spec does not parse", sw.name);
    } else {
        show_table(&sw, &spec, &ri);
    }
out:
    sweep_spec_release(&spec);
    store_sweep_release(&sw);
    store_close(st);
    return rc;
}

// ---- pause, resume, stop ----

/* The state verb leads to from `from`, or -1 when the change is refused;
 * the same state means nothing to do. */
static int next_state(const char *verb, carbs_sweep_state_t from)
{
    if (from == CARBS_SWEEP_STOPPED || from == CARBS_SWEEP_DONE)
        return strcmp(verb, "stop") == 0 && from == CARBS_SWEEP_STOPPED ? (int)from : -1;
    if (strcmp(verb, "pause") == 0)
        return CARBS_SWEEP_PAUSED;
    if (strcmp(verb, "resume") == 0)
        return CARBS_SWEEP_ACTIVE;
    return CARBS_SWEEP_STOPPED;
}

static int sweep_set_state(int argc, char **argv, const cli_globals_t *g)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *verb = argv[0], *db_opt = NULL, *ref = NULL, *db;
    char u[96];
    carbs_err_t err = {0};
    store_t *st = NULL;
    store_sweep_t sw = {0};
    int c, to, rc = CLI_EXIT_OK;
    bool via;

    snprintf(u, sizeof(u), "carbs sweep %s SWEEP [--db PATH]", verb);
    while ((c = verb_getopt(argc, argv, NULL, opts, u, &rc)) != -1) {
        if (c == '?')
            return rc;
        if (c == 'h') {
            printf("usage: %s\n\n%s\n", u,
                   strcmp(verb, "pause") == 0    ? "Hand out no new trials; running ones finish."
                   : strcmp(verb, "resume") == 0 ? "Hand out trials again after a pause."
                                                 : "End the sweep for good (it cannot be "
                                                   "resumed).");
            return CLI_EXIT_OK;
        }
        if (c == 'd')
            db_opt = optarg;
    }
    rc = verb_operand(argc, argv, u, "the sweep (id or name)", &ref);
    if (rc)
        return rc;
    db = cli_pick_db(g, db_opt);
    via = held(db) || strcmp(verb, "stop") == 0;
    st = store_open(db, via ? STORE_READONLY : 0, &err);
    if (!st)
        return cli_fail(&err);
    if (store_sweep_get(st, ref, &sw, &err) < 0) {
        rc = err.code == CARBS_ENOTFOUND
                 ? cli_error(CLI_EXIT_FAIL, "no sweep '%s' in '%s'", ref, db)
                 : cli_fail(&err);
        goto out;
    }
    to = next_state(verb, sw.state);
    if (to < 0) {
        rc = cli_error(CLI_EXIT_FAIL, "cannot %s sweep '%s': it is %s%s", verb, sw.name,
                       carbs_sweep_state_name(sw.state),
                       sw.state == CARBS_SWEEP_STOPPED ? " (stop is final)" : "");
        goto out;
    }
    if ((carbs_sweep_state_t)to == sw.state) {
        printf("sweep %lld '%s' is already %s\n", (long long)sw.id, sw.name,
               carbs_sweep_state_name(sw.state));
        goto out;
    }
    if (via) {
        /* Through the service: a running one must know, and stop cancels the
         * sweep's open trials (a one-shot service does it when none runs). */
        proto_msg_t m;
        proto_msg_init(&m, strcmp(verb, "pause") == 0    ? PROTO_MSG_PAUSE
                           : strcmp(verb, "resume") == 0 ? PROTO_MSG_RESUME
                                                         : PROTO_MSG_STOP);
        str_copy(m.pause.sweep, sizeof(m.pause.sweep), sw.name);
        store_close(st);
        st = NULL;
        rc = via_service(db, sw.name, &m, NULL);
        proto_msg_release(&m);
        if (rc)
            goto out;
    } else if (store_sweep_set_state(st, sw.id, (carbs_sweep_state_t)to, &err) < 0) {
        rc = cli_fail(&err);
        goto out;
    }
    printf("sweep %lld '%s': %s -> %s\n", (long long)sw.id, sw.name,
           carbs_sweep_state_name(sw.state), carbs_sweep_state_name((carbs_sweep_state_t)to));
out:
    store_sweep_release(&sw);
    store_close(st);
    return rc;
}

// ---- extend, rename, delete ----

/* Send a sweep_admin request (op on sweep, with the fields of a filled in)
 * through request.h: to the service holding db, or a one-shot one on it
 * that loads no sweep (the service reads the store's row).  Prints the
 * reply's message after what, or the refusal; returns an exit code. */
static int admin_request(const char *db, proto_msg_t *m, const char *what)
{
    carbs_err_t err = {0};
    proto_msg_t r = {0};
    int rc;

    if (request_send(db, NULL, m, &r, &err)) {
        rc = cli_fail(&err);
    } else if (r.type == PROTO_MSG_ERROR) {
        rc = cli_error(CLI_EXIT_FAIL, "%s", r.error.message);
    } else if (!r.reply.ok) {
        rc = cli_error(CLI_EXIT_FAIL, "%s", r.reply.message);
    } else {
        printf("%s (sweep id %lld)%s%s\n", what, (long long)r.reply.sweep_id,
               r.reply.message[0] ? ": " : "", r.reply.message);
        rc = CLI_EXIT_OK;
    }
    proto_msg_release(&r);
    return rc;
}

static int sweep_extend(int argc, char **argv, const cli_globals_t *g)
{
    static const char u[] = "carbs sweep extend SWEEP [--trials N] [--cost C] [--db PATH]";
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"trials", required_argument, NULL, 't'},
        {"cost", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL, *ref = NULL, *db;
    long trials = 0;
    double cost = NAN;
    char done[CARBS_NAME_MAX + 32];
    proto_msg_t m;
    int c, rc = CLI_EXIT_OK;

    while ((c = verb_getopt(argc, argv, NULL, opts, u, &rc)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: %s\n\nAdd N trials to budget.trials and/or C to budget.cost of SWEEP "
                   "(running, paused\nor done; a stopped sweep stays stopped).  A done sweep "
                   "becomes active and\nhands out trials again.  Sent to the service that "
                   "holds the store, if any.\n",
                   u);
            return CLI_EXIT_OK;
        case 'd':
            db_opt = optarg;
            break;
        case 't':
            if (parse_long(optarg, 1, INT32_MAX, &trials))
                return cli_usage_error(u, "--trials: '%s' is not a number of trials >= 1",
                                       optarg);
            break;
        case 'c':
            if (parse_double(optarg, 0, HUGE_VAL, &cost) || !isfinite(cost) || cost <= 0)
                return cli_usage_error(u, "--cost: '%s' is not a cost > 0", optarg);
            break;
        default:
            return rc;
        }
    }
    rc = verb_operand(argc, argv, u, "the sweep (id or name)", &ref);
    if (rc)
        return rc;
    if (trials == 0 && isnan(cost))
        return cli_usage_error(u, "give --trials N, --cost C or both");
    db = cli_pick_db(g, db_opt);
    rc = verb_store_exists(db);
    if (rc)
        return rc;
    proto_msg_init(&m, PROTO_MSG_SWEEP_ADMIN);
    str_copy(m.sweep_admin.sweep, sizeof(m.sweep_admin.sweep), ref);
    str_copy(m.sweep_admin.op, sizeof(m.sweep_admin.op), "extend");
    m.sweep_admin.trials = trials;
    m.sweep_admin.cost = cost;
    snprintf(done, sizeof(done), "extended sweep '%s'", ref);
    rc = admin_request(db, &m, done);
    proto_msg_release(&m);
    return rc;
}

static int sweep_rename(int argc, char **argv, const cli_globals_t *g)
{
    static const char u[] = "carbs sweep rename SWEEP NEW [--db PATH]";
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL, *db;
    char done[2 * CARBS_NAME_MAX + 32];
    carbs_err_t err = {0};
    proto_msg_t m;
    int c, rc = CLI_EXIT_OK;

    while ((c = verb_getopt(argc, argv, NULL, opts, u, &rc)) != -1) {
        if (c == 'h') {
            printf("usage: %s\n\nGive SWEEP (id or name) the name NEW, in any state.  Its "
                   "trials, results and\nlaws stay with it.  Sent to the service that holds "
                   "the store, if any.\n",
                   u);
            return CLI_EXIT_OK;
        }
        if (c == 'd')
            db_opt = optarg;
        else
            return rc;
    }
    if (argc - optind < 2)
        return cli_usage_error(u, "give the sweep and its new name");
    if (argc - optind > 2)
        return cli_usage_error(u, "unexpected argument '%s'", argv[optind + 2]);
    if (sweep_name_check(argv[optind + 1], &err) < 0)
        return cli_usage_error(u, "NEW: %s", err.msg);
    db = cli_pick_db(g, db_opt);
    rc = verb_store_exists(db);
    if (rc)
        return rc;
    proto_msg_init(&m, PROTO_MSG_SWEEP_ADMIN);
    str_copy(m.sweep_admin.sweep, sizeof(m.sweep_admin.sweep), argv[optind]);
    str_copy(m.sweep_admin.op, sizeof(m.sweep_admin.op), "rename");
    str_copy(m.sweep_admin.name, sizeof(m.sweep_admin.name), argv[optind + 1]);
    snprintf(done, sizeof(done), "renamed sweep '%s' to '%s'", argv[optind], argv[optind + 1]);
    rc = admin_request(db, &m, done);
    proto_msg_release(&m);
    return rc;
}

static int sweep_delete(int argc, char **argv, const cli_globals_t *g)
{
    static const char u[] = "carbs sweep delete SWEEP --yes [--db PATH]";
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"yes", no_argument, NULL, 'y'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL, *ref = NULL, *db;
    char done[CARBS_NAME_MAX + 32];
    bool yes = false;
    proto_msg_t m;
    int c, rc = CLI_EXIT_OK;

    while ((c = verb_getopt(argc, argv, NULL, opts, u, &rc)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: %s\n\nDelete SWEEP (id or name) with its trials, results, curves, "
                   "laws and optimizer\nstate; nothing else in the store changes.  Only a done "
                   "or stopped sweep: stop\nan active or paused one first.  --yes confirms; "
                   "there is no undo.\n",
                   u);
            return CLI_EXIT_OK;
        case 'd':
            db_opt = optarg;
            break;
        case 'y':
            yes = true;
            break;
        default:
            return rc;
        }
    }
    rc = verb_operand(argc, argv, u, "the sweep (id or name)", &ref);
    if (rc)
        return rc;
    if (!yes)
        return cli_usage_error(u, "deleting sweep '%s' cannot be undone: add --yes to confirm",
                               ref);
    db = cli_pick_db(g, db_opt);
    rc = verb_store_exists(db);
    if (rc)
        return rc;
    proto_msg_init(&m, PROTO_MSG_SWEEP_ADMIN);
    str_copy(m.sweep_admin.sweep, sizeof(m.sweep_admin.sweep), ref);
    str_copy(m.sweep_admin.op, sizeof(m.sweep_admin.op), "delete");
    snprintf(done, sizeof(done), "deleted sweep '%s'", ref);
    rc = admin_request(db, &m, done);
    proto_msg_release(&m);
    return rc;
}

// ---- dispatch ----

static void help(FILE *out)
{
    fprintf(out, "usage: %s\nEmbedded-trainer parameters (search or fix any of them):\n ",
            usage_text);
    for (int i = 0; i < CARBS_TP_COUNT; i++)
        fprintf(out, " %s", carbs_trainer_param_name((carbs_trainer_param_t)i));
    fprintf(out, "\nEmbedded-trainer options (fix them, never searched):\n ");
    for (int i = 0; i < CARBS_TO_COUNT; i++)
        fprintf(out, " %s", carbs_trainer_option_name((carbs_trainer_option_t)i));
    fprintf(out, "\n");
}

int cmd_sweep(int argc, char **argv, const cli_globals_t *g)
{
    static const struct {
        const char *name;
        int (*fn)(int argc, char **argv, const cli_globals_t *g);
    } verbs[] = {
        {"create", sweep_create}, {"list", sweep_list},       {"show", sweep_show},
        {"pause", sweep_set_state}, {"resume", sweep_set_state}, {"stop", sweep_set_state},
        {"extend", sweep_extend},   {"rename", sweep_rename},    {"delete", sweep_delete},
    };

    if (argc < 2) {
        help(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        help(stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
        if (strcmp(argv[1], verbs[i].name) == 0) {
            optind = 0; /* glibc: reinitialise getopt for the verb */
            opterr = 0; /* verb_getopt() prints the errors */
            return verbs[i].fn(argc - 1, argv + 1, g);
        }
    }
    fprintf(stderr, "carbs: error: unknown sweep verb '%s'\n", argv[1]);
    help(stderr);
    return CLI_EXIT_USAGE;
}
