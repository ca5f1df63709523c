/*
 * cmd_run.c - `carbs run FILE`: one command, one machine.  Creates the sweep
 * in a local store (or resumes it when the store already has a sweep of
 * that name), runs the service in this process on an ipc:// endpoint and N
 * local `carbs worker` processes, shows a live progress line, and prints
 * the Pareto front at the end.  Ctrl-C stops everything; running trials
 * are re-queued and `carbs run FILE` again resumes the sweep.
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "optimizer/service/service.h"
#include "proto/sweep.h"
#include "proto/wire.h"
#include "store/store.h"
#include "tools/report.h"

#define RUN_WORKERS_MAX 256
#define RUN_WORKERS_DEFAULT 2
#define RUN_PROGRESS_S 1.0 /* progress line refresh */
#define RUN_STOP_GRACE_S 10.0 /* how long stopping workers get to say bye */
#define RUN_LOG_QUIET_S 30.0  /* without a terminal, repeat an unchanged line this often */

extern char **environ;

static const char run_usage[] =
    "carbs run FILE [--workers N] [--db PATH] [--slots N] [--synthetic-data] [--quiet]\n"
    "               [--sync full|normal]";

static volatile sig_atomic_t run_stop;

static void on_signal(int sig)
{
    UNUSED(sig);
    run_stop = 1;
}

static void help(void)
{
    printf("usage: %s\n\n"
           "Run a whole sweep on this machine: store, service and workers.\n\n"
           "  FILE         a sweep file (YAML or JSON); a sweep of the same name\n"
           "               already in the store is resumed\n"
           "  --workers N  local worker processes (default %d)\n"
           "  --slots N    trials each worker runs at once (default 1)\n"
           "  --db PATH    the store (default: the global --db, $CARBS_DB, ./carbs.db)\n"
           "  --synthetic-data  embedded trials train on the synthetic corpus generated\n"
           "               in code (no prepared data needed; for a quick look)\n"
           "  --quiet      no progress line\n"
           "  --sync MODE  full (default) or normal: as for carbs serve\n",
           run_usage, RUN_WORKERS_DEFAULT);
}

/* Create the sweep, or find the stored one of the same name.  Fills *id. */
static int create_or_resume(const char *db, const char *file, char *name, size_t cap, int64_t *id,
                            bool *finished, carbs_err_t *err)
{
    sweep_spec_t spec = {0};
    store_sweep_t row = {0};
    store_t *st = NULL;
    char *canon = NULL;
    long holder = 0;
    int rc;

    if ((rc = sweep_spec_load(file, &spec, err)))
        return rc;
    /* What reading a W&B file assumed or ignored, as `sweep create` says it. */
    for (size_t i = 0; i < spec.notes.n; i++)
        fprintf(stderr, "%s\n", spec.notes.v[i]);
    if ((rc = sweep_spec_to_json(&spec, &canon, err)))
        goto out;
    str_copy(name, cap, spec.name);
    if (store_writer_holder(db, &holder, NULL) == 0 && holder > 0) {
        rc = carbs_fail(err, CARBS_EBUSY,
                        "a service (pid %ld) holds '%s': stop it, or join it with "
                        "`carbs worker --connect ENDPOINT`",
                        holder, db);
        goto out;
    }
    st = store_open(db, STORE_CREATE, err);
    if (!st) {
        rc = err ? err->code : CARBS_ESTORE;
        goto out;
    }
    rc = store_sweep_get(st, spec.name, &row, NULL);
    if (rc == 0) {
        *id = row.id;
        if (strcmp(row.spec_json, canon) != 0)
            log_warn("sweep '%s' is already in %s with a different spec: resuming the stored "
                     "one (`carbs sweep extend %s` adds budget; rename the sweep to start a new "
                     "one)",
                     spec.name, db, spec.name);
        *finished = row.state == CARBS_SWEEP_DONE || row.state == CARBS_SWEEP_STOPPED;
        if (row.state == CARBS_SWEEP_PAUSED &&
            (rc = store_sweep_set_state(st, row.id, CARBS_SWEEP_ACTIVE, err)))
            goto out;
        log_info("resuming sweep '%s' (id %" PRId64 ", %s)", spec.name, row.id,
                 carbs_sweep_state_name(row.state));
    } else {
        rc = store_sweep_create(st, spec.name, canon, id, err);
        if (rc == 0)
            log_info("created sweep '%s' (id %" PRId64 ") in %s", spec.name, *id, db);
    }
out:
    store_sweep_release(&row);
    store_close(st);
    free(canon);
    sweep_spec_release(&spec);
    return rc;
}

/* Start `carbs --log-level L worker --connect EP --id ID --slots N`.  The
 * workers log warnings only unless this run logs at debug level: the
 * progress line is what the user watches. */
static int spawn_worker(const char *endpoint, int k, int slots, log_level_t level, bool synth,
                        pid_t *pid, carbs_err_t *err)
{
    char a0[] = "carbs", a1[] = "--log-level", a3[] = "worker", a4[] = "--connect", a6[] = "--id",
         a8[] = "--slots", a10[] = "--synthetic-data";
    char lv[8], ep[WIRE_ENDPOINT_MAX + 1], id[64], slots_s[16];
    char *args[] = {a0, a1, lv, a3, a4, ep, a6, id, a8, slots_s, synth ? a10 : NULL, NULL};
    int rc;

    str_copy(lv, sizeof(lv), level >= LOG_DEBUG ? "debug" : "warn");

    str_copy(ep, sizeof(ep), endpoint);

    snprintf(id, sizeof(id), "local-%d-%ld", k, (long)getpid());
    snprintf(slots_s, sizeof(slots_s), "%d", slots);
    rc = posix_spawn(pid, "/proc/self/exe", NULL, NULL, args, environ);
    if (rc)
        return carbs_fail(err, CARBS_EIO, "cannot start a worker: %s", strerror(rc));
    return 0;
}

/* Why the run cannot go on although the sweep is not finished, into why:
 * the sweep paused itself after failures in a row, every worker exited, or
 * every connected worker is quarantined.  False when it can go on. */
static bool run_stuck(const service_t *svc, bool alive, char *why, size_t cap)
{
    service_summary_t s;

    if (service_summary(svc, 0, &s))
        return false;
    if (s.pause_reason[0]) {
        snprintf(why, cap, "sweep '%s' paused: %s", s.name, s.pause_reason);
        return true;
    }
    if (!alive) {
        snprintf(why, cap, "every worker has exited (their last error is above): no worker can "
                           "take trials of sweep '%s'", s.name);
        return true;
    }
    if (s.workers > 0 && s.quarantined == s.workers) {
        snprintf(why, cap, "every worker is quarantined after repeated lost trials: no worker "
                           "can take trials of sweep '%s'", s.name);
        return true;
    }
    return false;
}

/* Print the progress line: redrawn in place on a terminal; elsewhere (a
 * log, CI) only when a count changed or RUN_LOG_QUIET_S passed. */
typedef struct run_progress {
    size_t last_key; /* the counts last printed, folded */
    double last_at;  /* when (monotonic seconds) */
} run_progress_t;

static void progress_line(const service_t *svc, bool tty, bool force, run_progress_t *pr)
{
    service_summary_t s;
    size_t key;

    if (service_summary(svc, 0, &s))
        return;
    key = s.counts[CARBS_TRIAL_DONE] * 1000003u + s.counts[CARBS_TRIAL_FAILED] * 1009u +
          s.counts[CARBS_TRIAL_RUNNING] * 31u + s.workers;
    if (!tty && !force && key == pr->last_key && now_monotonic() - pr->last_at < RUN_LOG_QUIET_S)
        return;
    pr->last_key = key;
    pr->last_at = now_monotonic();
    fprintf(stderr, "%s%s: %zu done, %zu running, %zu failed, %zu pending", tty ? "\r\033[K" : "",
            s.name, s.counts[CARBS_TRIAL_DONE], s.counts[CARBS_TRIAL_RUNNING],
            s.counts[CARBS_TRIAL_FAILED],
            s.counts[CARBS_TRIAL_PENDING] + s.counts[CARBS_TRIAL_LOST]);
    if (s.imported) /* counted above, but not against the budget */
        fprintf(stderr, " (%zu imported)", s.imported);
    fprintf(stderr, " | best ");
    if (isnan(s.best_output))
        fprintf(stderr, "-");
    else
        fprintf(stderr, "%.6g", s.best_output);
    if (s.best_trial)
        fprintf(stderr, " (trial %" PRId64 ")", s.best_trial);
    fprintf(stderr, " | cost %.6g | %zu worker%s%s", s.cost_spent, s.workers,
            s.workers == 1 ? "" : "s", tty ? "" : "\n");
    fflush(stderr);
}

static int print_front(const char *db, int64_t id, carbs_err_t *err)
{
    store_t *st = store_open(db, STORE_READONLY, err);
    store_sweep_t row = {0};
    sweep_spec_t spec = {0};
    report_front_t f = {0};
    int rc;

    if (!st)
        return err ? err->code : CARBS_ESTORE;
    rc = store_sweep_get_id(st, id, &row, err);
    if (rc == 0)
        rc = sweep_spec_from_json(row.spec_json, &spec, err);
    if (rc == 0)
        rc = report_front(st, id, spec.metric.goal == SWEEP_GOAL_MAXIMIZE, &f, err);
    if (rc == 0) {
        str_copy(f.metric, sizeof(f.metric), spec.metric.name);
        str_copy(f.cost, sizeof(f.cost), spec.cost.name);
        printf("sweep %s (%s)\n", row.name, carbs_sweep_state_name(row.state));
        report_front_print(&f, "table", stdout);
    }
    report_front_release(&f);
    sweep_spec_release(&spec);
    store_sweep_release(&row);
    store_close(st);
    return rc;
}

int cmd_run(int argc, char **argv, const cli_globals_t *g)
{
    static const struct option opts[] = {
        {"workers", required_argument, NULL, 'w'}, {"slots", required_argument, NULL, 's'},
        {"db", required_argument, NULL, 'd'},      {"quiet", no_argument, NULL, 'q'},
        {"synthetic-data", no_argument, NULL, 'S'}, {"sync", required_argument, NULL, 'y'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    carbs_err_t err = {0};
    const char *db = NULL;
    long n_workers = RUN_WORKERS_DEFAULT, slots = 1;
    bool quiet = false, synth = false, tty = isatty(STDERR_FILENO);
    char name[CARBS_NAME_MAX], dir[] = "/tmp/carbs-run-XXXXXX", endpoint[128], sock[96];
    pid_t pids[RUN_WORKERS_MAX] = {0};
    service_config_t cfg = {0};
    service_t *svc = NULL;
    struct sigaction sa = {0};
    int64_t sweep_id = 0;
    double next_line = 0, stop_at = 0;
    int c, rc = CLI_EXIT_OK;
    bool have_dir = false, finished = false, stuck = false;
    char why[2 * CARBS_MSG_MAX + 64] = "";
    run_progress_t pr = {.last_key = SIZE_MAX};

    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (c) {
        case 'w':
            if (parse_long(optarg, 1, RUN_WORKERS_MAX, &n_workers))
                return cli_usage_error(run_usage, "--workers: '%s' is not a number in 1..%d",
                                       optarg, RUN_WORKERS_MAX);
            break;
        case 's':
            if (parse_long(optarg, 1, 64, &slots))
                return cli_usage_error(run_usage, "--slots: '%s' is not a number in 1..64", optarg);
            break;
        case 'd':
            db = cli_db_path(optarg);
            break;
        case 'q':
            quiet = true;
            break;
        case 'S':
            synth = true;
            break;
        case 'y':
            if (cli_parse_sync(optarg, &cfg.sync_normal))
                return cli_usage_error(run_usage, "--sync: '%s' is neither full nor normal",
                                       optarg);
            break;
        case 'h':
            help();
            return CLI_EXIT_OK;
        default:
            fprintf(stderr, "usage: %s\n", run_usage);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error(run_usage, optind < argc ? "one sweep file only" : "no sweep file");
    db = cli_pick_db(g, db);

    rc = create_or_resume(db, argv[optind], name, sizeof(name), &sweep_id, &finished, &err);
    if (rc == CARBS_EINVAL || rc == CARBS_EIO)
        return cli_error(CLI_EXIT_USAGE, "%s", err.msg);
    if (rc)
        return cli_fail(&err);
    if (finished) {
        fprintf(stderr, "carbs: sweep '%s' in %s has finished; its results follow (`carbs "
                        "sweep extend %s --trials N` adds budget; give the sweep a new name to "
                        "run it again)\n",
                name, db, name);
        return print_front(db, sweep_id, &err) ? cli_fail(&err) : CLI_EXIT_OK;
    }

    if (!mkdtemp(dir))
        return cli_error(CLI_EXIT_FAIL, "cannot make a folder in /tmp: %s", strerror(errno));
    have_dir = true;
    snprintf(sock, sizeof(sock), "%s/service", dir);
    snprintf(endpoint, sizeof(endpoint), "ipc://%s", sock);
    cfg.db_path = db;
    cfg.endpoint = endpoint;
    cfg.only_sweep = name;
    cfg.laws = true;
    svc = service_open(&cfg, &err);
    if (!svc) {
        rc = cli_fail(&err);
        goto out;
    }
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    for (long k = 0; k < n_workers; k++) {
        if (spawn_worker(endpoint, (int)k, (int)slots, g->log_level, synth, &pids[k], &err)) {
            rc = cli_fail(&err);
            run_stop = 1;
            break;
        }
    }

    /* Serve until the sweep is done or we are told to stop; then stop the
     * workers and keep serving until they said bye (their trials are
     * re-queued) or the grace period ran out. */
    for (;;) {
        bool alive = n_workers == 0;
        for (long k = 0; k < n_workers; k++)
            alive |= pids[k] > 0;
        if (service_step(svc, 200, &err)) {
            rc = cli_fail(&err);
            run_stop = 1;
        }
        if (!run_stop && stop_at == 0 && run_stuck(svc, alive, why, sizeof(why)))
            run_stop = stuck = true;
        if (!run_stop && service_done(svc))
            run_stop = 1;
        if (run_stop && stop_at == 0) {
            stop_at = now_monotonic() + RUN_STOP_GRACE_S;
            for (long k = 0; k < n_workers; k++)
                if (pids[k] > 0)
                    kill(pids[k], SIGTERM);
        }
        alive = false;
        for (long k = 0; k < n_workers; k++) {
            if (pids[k] > 0 && waitpid(pids[k], NULL, WNOHANG) == pids[k])
                pids[k] = 0;
            alive |= pids[k] > 0;
        }
        if (!quiet && now_monotonic() >= next_line) {
            progress_line(svc, tty, false, &pr);
            next_line = now_monotonic() + RUN_PROGRESS_S;
        }
        if (stop_at > 0 && (!alive || now_monotonic() > stop_at))
            break;
    }
    if (!quiet) {
        progress_line(svc, tty, true, &pr);
        if (tty)
            fputc('\n', stderr);
    }
    service_close(svc);
    svc = NULL;
    if (print_front(db, sweep_id, &err) && rc == CLI_EXIT_OK)
        rc = cli_fail(&err);
    if (stuck && rc == CLI_EXIT_OK)
        rc = cli_error(CLI_EXIT_FAIL, "%s", why);

out:
    for (long k = 0; k < n_workers; k++) {
        if (pids[k] > 0) {
            kill(pids[k], SIGKILL);
            waitpid(pids[k], NULL, 0);
        }
    }
    service_close(svc);
    if (have_dir) {
        unlink(sock);
        rmdir(dir);
    }
    return rc;
}
