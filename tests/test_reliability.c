/*
 * test_reliability.c - the failure semantics of docs/service.md (Failure
 * semantics) under real faults, with the real `carbs serve` and
 * `carbs worker` binaries ($CARBS_BIN) as child processes on an ipc:// endpoint:
 *
 * - the service is killed with SIGKILL at 10 random moments of a sweep of
 *   200 synthetic trials run by 8 workers, and restarted each time;
 * - workers are killed with SIGKILL in the middle of trials;
 * - a worker is stopped (SIGSTOP: no heartbeats, socket open) and must be
 *   declared lost within the lease;
 * - the store fails under the service (injected I/O errors; a full and a
 *   read-only filesystem on a tmpfs the test mounts when it may);
 * - the service "dies" between storing a new trial and storing the
 *   optimizer snapshot (an injected write failure), then restarts.
 *
 * After each sweep the store must hold every trial exactly once, finished,
 * each with one result, and the search must be the one an uninterrupted
 * service makes from the same history: an in-process service is fed the
 * stored history event by event (each new trial, each result, in commit
 * order) and must suggest the stored parameters bit for bit, and its next
 * suggestion must equal that of a service restarted on the final store.
 * Random moments come from a seeded generator; the seed is printed and
 * CARBS_TEST_SEED repeats a run.
 *
 * The replay runs in this process, so this process must run the OpenBLAS
 * kernels `carbs` runs: where OpenBLAS falls back to old kernels, `carbs`
 * execs itself with better ones (trainer/blas.h), and kernels that round
 * differently make the two searches part in the last bits of a GP fit and,
 * now and then, in a suggestion.  main() applies the same fix first.
 */
#include "proto/common.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "proto/json.h"
#include "store/store.h"
#include "trainer/blas.h"

extern char **environ;

#define LEASE_MS 1500
#define HEARTBEAT_MS 300
#define TICK_MS 250      /* the service looks at leases this often (SVC_TICK_MS) */
#define ANSWER_MS 5000   /* bound on one answer from an in-process service */
#define SWEEP_BOUND_S 90 /* bound on a sweep finishing */
#define POLL_US 5000     /* how often the store is looked at while waiting */

static const char *g_bin;
static fx_rng_t g_rng;
static int g_n;

static uint64_t rnd(void)
{
    return fx_rnd(&g_rng);
}

// ---- sweeps ----

typedef struct sweep_setup {
    const char *name;
    double seconds_per_cost; /* branin's cost is 1..7.4 */
    int trials;              /* 0 = unlimited */
    int parallel;            /* 0 = the default, 1 */
} sweep_setup_t;

/* The sweep file of s; fail_above makes some trials fail (diverged). */
static void spec_yaml(const sweep_setup_t *s, char *out, size_t cap)
{
    char trials[32] = "", parallel[32] = "";

    if (s->trials)
        snprintf(trials, sizeof(trials), ", trials: %d", s->trials);
    if (s->parallel)
        snprintf(parallel, sizeof(parallel), ", parallel: %d", s->parallel);
    snprintf(out, cap,
             "name: %s\n" FX_SPEC_SYNTHETIC
             "synthetic: {function: branin, seconds_per_cost: %.17g, fail_above: {y: 13.5}}\n"
             FX_SPEC_BRANIN_XY
             "carbs: {seed: 41, num_random_samples: 5, resample_frequency: 0}\n"
             "budget: {max_retries: 30%s%s}\n",
             s->name, s->seconds_per_cost, trials, parallel);
}

/* The canonical JSON of s (caller frees). */
static char *spec_json(const sweep_setup_t *s)
{
    char yaml[2048];

    spec_yaml(s, yaml, sizeof(yaml));
    return fx_spec_json(yaml);
}

/* A new store at db with the sweep s in it; returns the sweep id. */
static int64_t make_store(const char *db, const sweep_setup_t *s)
{
    char yaml[2048];

    spec_yaml(s, yaml, sizeof(yaml));
    return fx_store_new(db, yaml);
}

typedef struct tally {
    size_t c[CARBS_TRIAL_STATE_COUNT];
    size_t finished; /* done + failed */
    carbs_sweep_state_t state;
} tally_t;

static int tally(store_t *st, int64_t sweep, tally_t *t)
{
    carbs_err_t err = {0};
    store_sweep_t row = {0};
    int rc = store_sweep_counts(st, sweep, t->c, NULL, &err);

    if (rc)
        return rc;
    t->finished = t->c[CARBS_TRIAL_DONE] + t->c[CARBS_TRIAL_FAILED];
    rc = store_sweep_get_id(st, sweep, &row, &err);
    t->state = row.state;
    store_sweep_release(&row);
    return rc;
}

typedef struct finished {
    store_t *st;
    int64_t sweep;
    size_t n;
    bool done_too;
    tally_t t;
} finished_t;

static bool has_finished(void *arg)
{
    finished_t *f = arg;

    return tally(f->st, f->sweep, &f->t) == 0 && f->t.finished >= f->n &&
           (!f->done_too || f->t.state == CARBS_SWEEP_DONE);
}

/* Wait (bounded) until the sweep has finished at least n trials; with
 * done_too, until it is also marked done. */
static bool wait_finished(store_t *st, int64_t sweep, size_t n, bool done_too, double bound_s)
{
    finished_t f = {st, sweep, n, done_too, {{0}, 0, 0}};

    if (fx_wait(has_finished, &f, bound_s, POLL_US))
        return true;
    fprintf(stderr, "timed out: %zu of %zu trials finished, sweep state %d\n", f.t.finished, n,
            (int)f.t.state);
    return false;
}

// ---- child processes ----

/* Start args (NULL-terminated) with stdout to /dev/null and stderr
 * appended to log. */
static pid_t spawn(const char *const args[], const char *log)
{
    posix_spawn_file_actions_t fa;
    pid_t pid = -1;
    size_t n = 0;
    char **argv;
    int rc;

    while (args[n])
        n++;
    /* posix_spawn wants char *const[]: copy the pointers, not the strings. */
    argv = xcalloc(n + 1, sizeof(*argv));
    memcpy(argv, args, n * sizeof(*argv));
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    free(argv);
    CHECK_EQ(rc, 0);
    return rc ? -1 : pid;
}

static pid_t serve_start(const char *db, const char *ep)
{
    char log[128], lease[16], beat[16];
    const char *argv[] = {g_bin, "--log-level", "warn",         "serve", "--db", db, "--bind",
                          ep,    "--lease-ms",  lease, "--heartbeat-ms", beat,    NULL};

    fx_path(log, sizeof(log), "serve.log");
    snprintf(lease, sizeof(lease), "%d", LEASE_MS);
    snprintf(beat, sizeof(beat), "%d", HEARTBEAT_MS);
    return spawn(argv, log);
}

static pid_t worker_start(const char *ep, const char *id)
{
    char log[128];
    const char *argv[] = {g_bin, "--log-level", "warn", "worker", "--connect", ep, "--id", id,
                          NULL};

    fx_path(log, sizeof(log), "workers.log");
    return spawn(argv, log);
}

/* Wait for pid to end, at most bound_s; returns its wait status, or -1
 * after SIGKILL when it did not end in time. */
static int reap(pid_t pid, double bound_s)
{
    double until = now_monotonic() + bound_s;
    int status = 0;

    while (now_monotonic() < until) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0)
            return -1;
        usleep(POLL_US);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* SIGTERM each pid (workers say bye, the service stops) and reap it. */
static void stop_all(pid_t *pids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
    for (size_t i = 0; i < n; i++) {
        if (pids[i] > 0) {
            int st = reap(pids[i], 20.0);
            CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
            pids[i] = -1;
        }
    }
}

/* A sweep run by the real binaries: its store, `carbs serve` on it and
 * workers, and the store opened read-only to watch the sweep. */
typedef struct cluster {
    char db[128], ep[128];
    int64_t sweep;
    pid_t svc;
    pid_t workers[8];
    char ids[8][32];
    store_t *st; /* NULL: a failed check */
} cluster_t;

/* The sweep s in a new store "NAME.db", served on ipc "NAME", with n
 * workers PREFIX0, PREFIX1, ... */
static void cluster_start(cluster_t *c, const sweep_setup_t *s, int n, const char *prefix)
{
    carbs_err_t err = {0};

    fx_path(c->db, sizeof(c->db), "%s.db", s->name);
    fx_ipc(c->ep, sizeof(c->ep), "%s", s->name);
    c->sweep = make_store(c->db, s);
    c->svc = serve_start(c->db, c->ep);
    for (int i = 0; i < n; i++) {
        snprintf(c->ids[i], sizeof(c->ids[i]), "%s%d", prefix, i);
        c->workers[i] = worker_start(c->ep, c->ids[i]);
    }
    c->st = store_open(c->db, STORE_READONLY, &err);
    CHECK(c->st != NULL);
}

// ---- what the store holds after a sweep ----

/* Every trial of the sweep finished with exactly one result, none open;
 * with n > 0, n trials in all and the sweep done. */
static void check_complete(const char *db, int64_t sweep, size_t n)
{
    carbs_err_t err = {0};
    store_t *st = store_open(db, STORE_READONLY, &err);
    store_export_iter_t *it;
    const store_record_t *rec;
    size_t records = 0, with_result = 0, infra = 0;
    int64_t last = 0;
    tally_t t = {0};

    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_check(st, &err), 0);
    CHECK_EQ(tally(st, sweep, &t), 0);
    CHECK_EQ(t.c[CARBS_TRIAL_PENDING], 0);
    CHECK_EQ(t.c[CARBS_TRIAL_RUNNING], 0);
    CHECK_EQ(t.c[CARBS_TRIAL_LOST], 0);
    CHECK_EQ(t.c[CARBS_TRIAL_CANCELLED], 0);
    if (n) { /* a sweep with a budget: spent */
        CHECK_EQ(t.finished, n);
        CHECK_EQ(t.state, CARBS_SWEEP_DONE);
    }
    it = store_export_iter_new(st, sweep, &err);
    CHECK(it != NULL);
    while (it && store_export_iter_next(it, &rec) == CARBS_CONTINUE) {
        records++;
        CHECK(rec->trial.id > last); /* one record per trial: one result each */
        last = rec->trial.id;
        CHECK(rec->trial.state == CARBS_TRIAL_DONE || rec->trial.state == CARBS_TRIAL_FAILED);
        if (rec->has_result) {
            with_result++;
            CHECK_EQ(rec->result.attempt, rec->trial.attempt);
            infra += rec->result.failure == CARBS_FAILURE_INFRA;
        }
    }
    store_export_iter_free(it);
    CHECK_EQ(records, t.finished);
    CHECK_EQ(with_result, records);
    CHECK_EQ(infra, 0); /* no trial ran out of retries */
    store_close(st);
}

// ---- the uninterrupted search, replayed in process ----

typedef struct hist {
    int64_t id;
    double created, finished; /* finished: the result's commit time; 0 = none */
    char *params_json;
    bool ok;
    carbs_failure_t failure;
    double output, cost;
    int64_t replay_id;
    int replay_attempt;
} hist_t;

typedef struct event {
    double t;
    size_t i;
    bool is_result;
} event_t;

static int event_cmp(const void *a, const void *b)
{
    const event_t *x = a, *y = b;

    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    if (x->is_result != y->is_result)
        return x->is_result ? 1 : -1;
    return (x->i > y->i) - (x->i < y->i);
}

static wire_client_t *client(const char *ep, const char *id)
{
    return fx_client(ep, id, 0);
}

static int pump(service_t *svc, wire_client_t *c, proto_msg_t *out)
{
    return fx_pump(svc, c, out, ANSWER_MS);
}

/* Send m (released) and take the answer into *out. */
static int request(service_t *svc, wire_client_t *c, proto_msg_t *m, proto_msg_t *out)
{
    return fx_request(svc, c, m, out, ANSWER_MS);
}

static service_t *svc_open_at(const char *db, const char *ep, carbs_err_t *err)
{
    return fx_service_open(db, ep, 600000, err); /* nothing expires while the test steps it */
}

/* A service on db and a worker w that said hello as id; false (and both
 * NULL) when the service does not open. */
static bool open_with_worker(const char *db, const char *ep, const char *id, service_t **svc,
                             wire_client_t **w)
{
    *w = NULL;
    *svc = svc_open_at(db, ep, NULL);
    CHECK(*svc != NULL);
    if (!*svc)
        return false;
    *w = client(ep, id);
    fx_hello(*svc, *w, id);
    return true;
}

/* `ask` the service for sweep; the suggestion's params as JSON into *out
 * (caller frees; NULL on failure). */
static void ask_params(service_t *svc, wire_client_t *c, const char *sweep, char **out)
{
    carbs_err_t err = {0};
    proto_msg_t m, r = {0};

    *out = NULL;
    proto_msg_init(&m, PROTO_MSG_ASK);
    str_copy(m.ask.sweep, sizeof(m.ask.sweep), sweep);
    CHECK_EQ(request(svc, c, &m, &r), 0);
    CHECK(r.type == PROTO_MSG_REPLY && r.reply.ok);
    if (r.type == PROTO_MSG_REPLY && r.reply.ok)
        CHECK_EQ(proto_params_to_json(&r.reply.params, out, &err), 0);
    proto_msg_release(&r);
}

/* Read the sweep's history from db.  Returns the number of trials. */
static size_t read_history(const char *db, int64_t sweep, hist_t **out)
{
    carbs_err_t err = {0};
    store_t *st = store_open(db, STORE_READONLY, &err);
    store_export_iter_t *it = st ? store_export_iter_new(st, sweep, &err) : NULL;
    const store_record_t *rec;
    DA_TYPE(hist_t) h = {0};

    CHECK(it != NULL);
    while (it && store_export_iter_next(it, &rec) == CARBS_CONTINUE) {
        hist_t e = {0};
        e.id = rec->trial.id;
        e.created = rec->trial.created;
        e.params_json = xstrdup(rec->trial.params_json);
        if (rec->has_result) {
            e.finished = rec->result.created;
            e.ok = rec->result.ok;
            e.failure = rec->result.failure;
            e.output = rec->result.output;
            e.cost = rec->result.cost;
        }
        DA_PUSH(&h, e);
    }
    store_export_iter_free(it);
    store_close(st);
    *out = h.v;
    return h.n;
}

/* Feed the history of sweep in db, in the order it happened, to a fresh
 * in-process service that never restarts, checking that it suggests what
 * was stored; then check that its next suggestion equals that of a service
 * restarted on (a copy of) the final store.  s is the sweep's setup.  When
 * not strict, differences are reported but do not fail the case. */
static void check_same_search(const char *db, int64_t sweep, const sweep_setup_t *s, bool strict)
{
    carbs_err_t err = {0};
    sweep_setup_t open_ended = *s;
    hist_t *h = NULL;
    size_t n = read_history(db, sweep, &h);
    event_t *ev = xcalloc(2 * n + 1, sizeof(*ev));
    size_t n_ev = 0, mismatched = 0;
    char rdb[128], rep[128], cdb[128], cep[128];
    char *next_replay = NULL, *next_restart = NULL;
    service_t *svc = NULL;
    wire_client_t *w = NULL, *cl = NULL;

    /* The replay's sweep has no budget, so the last `ask` is allowed and no
     * trial waits for a parallel slot; the optimizer settings are the same. */
    open_ended.trials = 0;
    open_ended.parallel = 1000000; /* the largest a sweep file takes */
    for (size_t i = 0; i < n; i++) {
        ev[n_ev++] = (event_t){h[i].created, i, false};
        if (h[i].finished > 0)
            ev[n_ev++] = (event_t){h[i].finished, i, true};
    }
    qsort(ev, n_ev, sizeof(*ev), event_cmp);

    fx_path(rdb, sizeof(rdb), "replay%d.db", ++g_n);
    fx_ipc(rep, sizeof(rep), "replay%d", g_n);
    make_store(rdb, &open_ended);
    svc = svc_open_at(rdb, rep, &err);
    CHECK(svc != NULL);
    if (!svc)
        goto out;
    w = client(rep, "replay");
    cl = client(rep, NULL);
    fx_hello(svc, w, "replay");
    for (size_t k = 0; k < n_ev; k++) {
        hist_t *e = &h[ev[k].i];
        proto_msg_t m, r = {0};
        if (!ev[k].is_result) {
            char *pj = NULL;
            if (fx_ready(svc, w, &r) != PROTO_MSG_TRIAL) {
                fprintf(stderr, "event %zu of %zu (trial %" PRId64 "): the replay got '%s' %s\n", k,
                        n_ev, e->id, proto_msg_type_name(r.type),
                        r.type == PROTO_MSG_ERROR ? r.error.message : "");
                CHECK(!"the replay got no trial");
                proto_msg_release(&r);
                break;
            }
            e->replay_id = r.trial.trial_id;
            e->replay_attempt = r.trial.attempt;
            CHECK_EQ(proto_params_to_json(&r.trial.params, &pj, &err), 0);
            if (pj && strcmp(pj, e->params_json) != 0 && mismatched++ == 0)
                fprintf(stderr, "trial %" PRId64 " (created %.4f): stored %s, uninterrupted %s\n",
                        e->id, e->created, e->params_json, pj);
            free(pj);
            proto_msg_release(&r);
            continue;
        }
        proto_msg_init(&m, PROTO_MSG_RESULT);
        m.result.r.trial_id = e->replay_id;
        m.result.r.attempt = e->replay_attempt;
        m.result.r.ok = e->ok;
        m.result.r.failure = e->failure;
        if (e->ok)
            CHECK_EQ(carbs_result_set(&m.result.r, "loss", e->output), 0);
        if (isfinite(e->cost))
            CHECK_EQ(carbs_result_set(&m.result.r, "cost", e->cost), 0);
        CHECK_EQ(request(svc, w, &m, &r), 0);
        CHECK_EQ(r.type, PROTO_MSG_ACK);
        proto_msg_release(&r);
    }
    if (strict)
        CHECK_EQ(mismatched, 0);
    fprintf(stderr, "%s: %zu of %zu stored suggestions differ from the uninterrupted search\n",
            s->name, mismatched, n);
    ask_params(svc, cl, s->name, &next_replay);
    wire_client_close(w);
    wire_client_close(cl);
    w = cl = NULL;
    service_close(svc);
    svc = NULL;

    /* The final store, restarted with the budget lifted the same way. */
    fx_path(cdb, sizeof(cdb), "copy%d.db", g_n);
    fx_ipc(cep, sizeof(cep), "copy%d", g_n);
    {
        store_t *st = store_open(db, STORE_READONLY, &err);
        CHECK(st != NULL);
        if (st)
            CHECK_EQ(store_backup(st, cdb, &err), 0);
        store_close(st);
    }
    {
        char *canon = spec_json(&open_ended);
        size_t cap = strlen(canon) + 128;
        char *sql = xmalloc(cap);
        store_raw_t *raw = store_raw_open(cdb, &err);
        snprintf(sql, cap, "UPDATE sweeps SET spec = '%s', state = 'active' WHERE id = %" PRId64,
                 canon, sweep);
        CHECK(raw != NULL);
        if (raw)
            CHECK_EQ(store_raw_exec(raw, sql, &err), 0);
        store_raw_close(raw);
        free(sql);
        free(canon);
    }
    svc = svc_open_at(cdb, cep, &err);
    CHECK(svc != NULL);
    if (!svc)
        goto out;
    cl = client(cep, NULL);
    ask_params(svc, cl, s->name, &next_restart);
    CHECK(next_replay != NULL && next_restart != NULL);
    if (next_replay && next_restart && strict)
        CHECK_STR(next_restart, next_replay);
    else if (next_replay && next_restart && strcmp(next_replay, next_restart) != 0)
        fprintf(stderr, "%s: next suggestion %s after a restart, %s uninterrupted\n", s->name,
                next_restart, next_replay);
out:
    wire_client_close(w);
    wire_client_close(cl);
    service_close(svc);
    for (size_t i = 0; i < n; i++)
        free(h[i].params_json);
    free(h);
    free(ev);
    free(next_replay);
    free(next_restart);
}

// ---- cases ----

/* kill -9 the service at 10 random moments of a 200-trial sweep run by 8
 * workers, restarting it each time. */
static void test_reliability_service_kills(void)
{
    enum { TRIALS = 200, WORKERS = 8, KILLS = 10 };
    sweep_setup_t s = {"kill-service", 0.004, TRIALS, WORKERS};
    cluster_t c = {0};
    size_t targets[KILLS];
    double kill_at[KILLS] = {0};
    double t0 = now_monotonic();

    /* Kill moments: after a random number of finished trials, then a
     * random 0-40 ms more, so a kill lands anywhere in a trial's life. */
    for (int k = 0; k < KILLS; k++)
        targets[k] = 6 + (size_t)(rnd() % (TRIALS - 20));
    for (int k = 1; k < KILLS; k++)
        for (int j = k; j > 0 && targets[j - 1] > targets[j]; j--) {
            size_t x = targets[j];
            targets[j] = targets[j - 1];
            targets[j - 1] = x;
        }

    cluster_start(&c, &s, WORKERS, "kw");
    for (int k = 0; k < KILLS && c.st; k++) {
        int status;
        if (!wait_finished(c.st, c.sweep, targets[k], false, SWEEP_BOUND_S)) {
            CHECK(!"the c.sweep stalled between kills");
            break;
        }
        usleep((useconds_t)(rnd() % 40000));
        kill(c.svc, SIGKILL);
        kill_at[k] = now_wall();
        status = reap(c.svc, 10.0);
        CHECK(status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        c.svc = serve_start(c.db, c.ep);
    }
    if (c.st)
        CHECK(wait_finished(c.st, c.sweep, TRIALS, true, SWEEP_BOUND_S));
    store_close(c.st);
    stop_all(c.workers, WORKERS);
    stop_all(&c.svc, 1);
    fprintf(stderr, "service kills: %d kills after", KILLS);
    for (int k = 0; k < KILLS; k++)
        fprintf(stderr, " %zu", targets[k]);
    fprintf(stderr, " finished trials, at unix time");
    for (int k = 0; k < KILLS; k++)
        fprintf(stderr, " %.4f", kill_at[k]);
    fprintf(stderr, "; c.sweep took %.1f s\n", now_monotonic() - t0);

    check_complete(c.db, c.sweep, TRIALS);
    /* A new trial and the optimizer snapshot are one transaction, so the
     * search after any kill is the uninterrupted one. */
    check_same_search(c.db, c.sweep, &s, true);
}

/* A running trial held by one of ids[0..n) that started at least min_age
 * seconds ago: its index in ids, trial id and attempt.  -1 when none. */
static int running_trial(store_t *st, int64_t sweep, char ids[][32], size_t n, double min_age,
                         int64_t *trial, int *attempt)
{
    carbs_err_t err = {0};
    store_trial_filter_t f = {0};
    store_trial_iter_t *it;
    const store_trial_t *t;
    int found = -1;

    f.sweep_id = sweep;
    f.states = 1u << CARBS_TRIAL_RUNNING;
    it = store_trial_iter_new(st, &f, &err);
    while (it && found < 0 && store_trial_iter_next(it, &t) == CARBS_CONTINUE) {
        if (now_wall() - t->started < min_age)
            continue;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(t->worker, ids[i]) == 0) {
                found = (int)i;
                *trial = t->id;
                *attempt = t->attempt;
                break;
            }
        }
    }
    store_trial_iter_free(it);
    return found;
}

/* kill -9 workers in the middle of trials: each trial is re-queued, run
 * again and recorded once. */
static void test_reliability_worker_kills(void)
{
    enum { TRIALS = 36, WORKERS = 4, KILLS = 5 };
    sweep_setup_t s = {"kill-workers", 0.04, TRIALS, WORKERS};
    cluster_t c = {0};
    int64_t killed[KILLS] = {0};
    int killed_attempt[KILLS] = {0};
    double killed_at[KILLS] = {0};
    int rerun = 0;
    carbs_err_t err = {0};
    int kills = 0;

    cluster_start(&c, &s, WORKERS, "ww");
    while (c.st && kills < KILLS) {
        double until = now_monotonic() + 20.0;
        int64_t tid = 0;
        int att = 0, who = -1;
        /* Wait a random while, then for a trial some 20-60 ms into its run. */
        usleep((useconds_t)(50000 + rnd() % 250000));
        while (who < 0 && now_monotonic() < until) {
            double age = 0.02 + 0.04 * fx_rnd_unit(&g_rng);
            who = running_trial(c.st, c.sweep, c.ids, WORKERS, age, &tid, &att);
            if (who < 0)
                usleep(POLL_US);
        }
        if (who < 0) {
            CHECK(!"no running trial to kill a worker in");
            break;
        }
        kill(c.workers[who], SIGKILL);
        killed_at[kills] = now_wall();
        reap(c.workers[who], 10.0);
        killed[kills] = tid;
        killed_attempt[kills] = att;
        kills++;
        /* A new worker takes its place (a new id: the old one's losses
         * count towards its quarantine). */
        snprintf(c.ids[who], sizeof(c.ids[who]), "ww%d-%d", who, kills);
        c.workers[who] = worker_start(c.ep, c.ids[who]);
    }
    if (c.st)
        CHECK(wait_finished(c.st, c.sweep, TRIALS, true, SWEEP_BOUND_S));
    for (int k = 0; k < kills && c.st; k++) {
        store_trial_t t = {0};
        store_result_t r = {0};
        CHECK_EQ(store_trial_get(c.st, killed[k], &t, &err), 0);
        CHECK(t.state == CARBS_TRIAL_DONE || t.state == CARBS_TRIAL_FAILED);
        CHECK_EQ(store_result_get(c.st, killed[k], &r, &err), 0);
        CHECK_EQ(r.attempt, t.attempt);
        /* Re-queued and run again, unless the killed worker's result was
         * already on its way: then it was committed at once, well within
         * the lease that would have re-queued the trial. */
        if (t.attempt > killed_attempt[k])
            rerun++;
        else
            CHECK(r.created < killed_at[k] + LEASE_MS / 1000.0);
        store_trial_release(&t);
        store_result_release(&r);
    }
    CHECK(rerun > 0);
    store_close(c.st);
    stop_all(c.workers, WORKERS);
    stop_all(&c.svc, 1);
    fprintf(stderr, "worker kills: %d of %d killed trials re-run; trials", rerun, kills);
    for (int k = 0; k < kills; k++)
        fprintf(stderr, " %" PRId64 "/%d", killed[k], killed_attempt[k]);
    fprintf(stderr, "\n");
    check_complete(c.db, c.sweep, TRIALS);
    check_same_search(c.db, c.sweep, &s, true);
}

/* A worker that stops sending anything (SIGSTOP: its socket stays open)
 * loses its trial within the lease, and nothing is recorded twice when it
 * wakes up and reports the stale attempt. */
static void test_reliability_stall(void)
{
    enum { TRIALS = 14, WORKERS = 2 };
    sweep_setup_t s = {"stall", 0.05, TRIALS, WORKERS};
    cluster_t c = {0};
    carbs_err_t err = {0};
    int64_t tid = 0;
    int att = 0, who = -1;
    double stopped = 0, lost = 0, until;

    cluster_start(&c, &s, WORKERS, "sw");
    if (!c.st)
        goto out;
    /* Stall the first worker seen 30 ms into a trial (after a few trials).
     * A trial whose result was already on its way when the stop landed
     * finishes instead of being lost: then wake the worker and stall it in
     * another trial. */
    CHECK(wait_finished(c.st, c.sweep, 2 + rnd() % 3, false, SWEEP_BOUND_S));
    for (int round = 0; round < 5; round++) {
        bool finished = false;
        who = -1;
        lost = 0;
        until = now_monotonic() + 20.0;
        while (who < 0 && now_monotonic() < until) {
            who = running_trial(c.st, c.sweep, c.ids, 1, 0.03, &tid, &att);
            if (who < 0)
                usleep(POLL_US);
        }
        CHECK(who == 0);
        if (who != 0)
            goto out;
        kill(c.workers[0], SIGSTOP);
        stopped = now_monotonic();
        until = stopped + 4.0 * LEASE_MS / 1000.0;
        while (now_monotonic() < until) {
            store_trial_t t = {0};
            bool moved = store_trial_get(c.st, tid, &t, &err) == 0 &&
                         (t.state != CARBS_TRIAL_RUNNING || t.attempt != att);
            finished = moved && t.attempt == att &&
                       (t.state == CARBS_TRIAL_DONE || t.state == CARBS_TRIAL_FAILED);
            store_trial_release(&t);
            if (moved) {
                lost = now_monotonic();
                break;
            }
            usleep(POLL_US);
        }
        if (!finished)
            break;
        fprintf(stderr, "stall: trial %" PRId64 " finished as the worker stopped; again\n", tid);
        kill(c.workers[0], SIGCONT);
        lost = 0;
    }
    kill(c.workers[0], SIGCONT);
    CHECK(lost > 0);
    fprintf(stderr, "stall: trial %" PRId64 " lost %.3f s after its worker stopped (lease %.1f s)\n",
            tid, lost - stopped, LEASE_MS / 1000.0);
    /* Its last sign of life came at most one heartbeat before the stop;
     * the service looks at leases every tick; 750 ms of slack for a
     * loaded machine. */
    CHECK(lost - stopped <= (LEASE_MS + TICK_MS + 750) / 1000.0);
    CHECK(lost - stopped >= (LEASE_MS - HEARTBEAT_MS - 100) / 1000.0);
    CHECK(wait_finished(c.st, c.sweep, TRIALS, true, SWEEP_BOUND_S));
    {
        store_trial_t t = {0};
        store_result_t r = {0};
        CHECK_EQ(store_trial_get(c.st, tid, &t, &err), 0);
        CHECK(t.attempt > att);
        CHECK_EQ(store_result_get(c.st, tid, &r, &err), 0);
        CHECK_EQ(r.attempt, t.attempt);
        store_trial_release(&t);
        store_result_release(&r);
    }
out:
    store_close(c.st);
    stop_all(c.workers, WORKERS);
    stop_all(&c.svc, 1);
    check_complete(c.db, c.sweep, TRIALS);
}

// ---- the store failing under the service ----

/* The sweep's trials as "id state attempt result?" lines (caller frees). */
static char *trials_digest(const char *db, int64_t sweep)
{
    carbs_err_t err = {0};
    store_t *st = store_open(db, STORE_READONLY, &err);
    store_export_iter_t *it = st ? store_export_iter_new(st, sweep, &err) : NULL;
    const store_record_t *rec;
    DA_TYPE(char) s = {0};

    CHECK(it != NULL);
    while (it && store_export_iter_next(it, &rec) == CARBS_CONTINUE) {
        char line[128];
        int k = snprintf(line, sizeof(line), "%" PRId64 " %s %d %d\n", rec->trial.id,
                         carbs_trial_state_name(rec->trial.state), rec->trial.attempt,
                         rec->has_result);
        for (int i = 0; i < k; i++)
            DA_PUSH(&s, line[i]);
    }
    DA_PUSH(&s, '\0');
    store_export_iter_free(it);
    store_close(st);
    return s.v;
}

/* One round of an honest in-process worker: ready, then the trial's
 * result.  Returns the frame type that ended it (ACK when the result was
 * stored, ERROR when the service refused the ready or the result); on a
 * refused result *held keeps the unsent-again result (caller releases). */
static proto_msg_type_t round_trip(service_t *svc, wire_client_t *w, proto_msg_t *held,
                                   char *why, size_t cap)
{
    proto_msg_t r = {0};
    proto_msg_type_t got;
    double x, y;

    if (fx_ready(svc, w, &r) == PROTO_MSG_NONE)
        return PROTO_MSG_NONE;
    if (r.type != PROTO_MSG_TRIAL) {
        got = r.type;
        if (got == PROTO_MSG_ERROR)
            str_copy(why, cap, r.error.message);
        proto_msg_release(&r);
        return got;
    }
    /* Branin and its synthetic cost: the same trial, the same result. */
    x = fx_param(&r.trial.params, "x");
    y = fx_param(&r.trial.params, "y");
    fx_result_msg(held, r.trial.trial_id, r.trial.attempt, fx_branin(x, y),
                  exp((x + 5) / 15 + y / 15));
    proto_msg_release(&r);
    fx_send(w, held);
    if (pump(svc, w, &r))
        return PROTO_MSG_NONE;
    got = r.type;
    if (got == PROTO_MSG_ERROR)
        str_copy(why, cap, r.error.message);
    else
        proto_msg_release(held);
    proto_msg_release(&r);
    return got;
}

/* Send a held result again; expect its ack. */
static void resend(service_t *svc, wire_client_t *w, proto_msg_t *held)
{
    proto_msg_t r = {0};

    fx_send(w, held);
    CHECK_EQ(pump(svc, w, &r), 0);
    CHECK_EQ(r.type, PROTO_MSG_ACK);
    CHECK_EQ(r.ack.trial_id, held->result.r.trial_id);
    proto_msg_release(&r);
    proto_msg_release(held);
}

/* SQLite I/O errors (store_fault_io) on a result and on a new trial: an
 * error frame, nothing half-stored, and the re-sent result is taken. */
static void test_reliability_store_io_errors(void)
{
    sweep_setup_t s = {"io-errors", 0, 0, 0};
    char db[128], ep[128], why[CARBS_MSG_MAX] = "";
    carbs_err_t err = {0};
    service_t *svc;
    wire_client_t *w;
    proto_msg_t held = {0};
    char *before, *after;
    int64_t sweep;

    fx_path(db, sizeof(db), "io-errors.db");
    fx_ipc(ep, sizeof(ep), "io-errors");
    sweep = make_store(db, &s);
    if (!open_with_worker(db, ep, "io-w", &svc, &w))
        return;
    for (int i = 0; i < 3; i++)
        CHECK_EQ(round_trip(svc, w, &held, why, sizeof(why)), PROTO_MSG_ACK);

    /* The first write of the result's transaction fails. */
    {
        proto_msg_t r = {0};
        CHECK_EQ(fx_ready(svc, w, &r), PROTO_MSG_TRIAL);
        fx_result_msg(&held, r.trial.trial_id, r.trial.attempt, 0.6875, 3.125);
        proto_msg_release(&r);
        before = trials_digest(db, sweep);
        store_fault_io(1);
        fx_send(w, &held);
        CHECK_EQ(pump(svc, w, &r), 0);
        store_fault_io(0);
        CHECK_EQ(r.type, PROTO_MSG_ERROR);
        if (r.type == PROTO_MSG_ERROR) {
            CHECK(r.error.code < 0);
            fprintf(stderr, "io error on a result: %s: %s\n", carbs_errname(r.error.code),
                    r.error.message);
        }
        proto_msg_release(&r);
        after = trials_digest(db, sweep);
        CHECK_STR(after, before);
        free(before);
        free(after);
        resend(svc, w, &held);
    }
    /* A new trial cannot be stored: the worker is told, and asks again. */
    store_fault_io(1);
    CHECK_EQ(round_trip(svc, w, &held, why, sizeof(why)), PROTO_MSG_ERROR);
    store_fault_io(0);
    fprintf(stderr, "io error on ready: %s\n", why);
    proto_msg_release(&held);
    CHECK_EQ(round_trip(svc, w, &held, why, sizeof(why)), PROTO_MSG_ACK);
    wire_client_close(w);
    service_close(svc);
    {
        store_t *st = store_open(db, STORE_READONLY, &err);
        tally_t t = {0};
        CHECK(st != NULL);
        if (st) {
            CHECK_EQ(tally(st, sweep, &t), 0);
            CHECK_EQ(t.c[CARBS_TRIAL_DONE], 5);
            CHECK_EQ(t.c[CARBS_TRIAL_RUNNING], 0);
            CHECK_EQ(store_check(st, &err), 0);
        }
        store_close(st);
    }
}


/* A failing write at every point of handing out a new trial: the store
 * holds either both the trial and the optimizer snapshot taken after its
 * suggestion, or neither.  (They were once two transactions; a kill between
 * them restored an older generator state and changed the search.) */
static void test_reliability_snapshot_window(void)
{
    sweep_setup_t s = {"window", 0, 0, 1000000};
    char base[128], copy[128], ep[128], why[CARBS_MSG_MAX];
    carbs_err_t err = {0};
    service_t *svc;
    wire_client_t *w;
    proto_msg_t held = {0};
    store_optstate_t before = {0};
    bool handed_out = false;
    size_t windows = 0, tried = 0;
    int64_t sweep;

    fx_path(base, sizeof(base), "window.db");
    fx_ipc(ep, sizeof(ep), "window");
    sweep = make_store(base, &s);
    if (!open_with_worker(base, ep, "win-w", &svc, &w))
        return;
    for (int i = 0; i < 8; i++) /* past the 5 random samples: BO suggestions */
        CHECK_EQ(round_trip(svc, w, &held, why, sizeof(why)), PROTO_MSG_ACK);
    wire_client_close(w);
    service_close(svc);
    {
        store_t *st = store_open(base, STORE_READONLY, &err);
        CHECK(st && store_optstate_get(st, sweep, &before, &err) == 0);
        store_close(st);
    }

    /* Fail the k-th write after a ready, for growing k, until a trial is
     * handed out; no k may leave the trial without its snapshot. */
    for (size_t k = 1; k <= 64 && !handed_out; k++) {
        store_t *st = store_open(base, STORE_READONLY, &err);
        store_optstate_t after = {0};
        tally_t t = {0};
        proto_msg_t r = {0};
        fx_path(copy, sizeof(copy), "window-%zu.db", k);
        CHECK(st && store_backup(st, copy, &err) == 0);
        store_close(st);
        if (!open_with_worker(copy, ep, "win-w", &svc, &w))
            break;
        store_fault_io(k);
        CHECK(fx_ready(svc, w, &r) != PROTO_MSG_NONE);
        store_fault_io(0);
        handed_out = r.type == PROTO_MSG_TRIAL;
        proto_msg_release(&r);
        wire_client_close(w);
        service_close(svc);
        tried++;
        st = store_open(copy, STORE_READONLY, &err);
        if (st && tally(st, sweep, &t) == 0 && store_optstate_get(st, sweep, &after, &err) == 0) {
            bool stored = t.c[CARBS_TRIAL_PENDING] + t.c[CARBS_TRIAL_RUNNING] > 0;
            bool moved = after.rng_len != before.rng_len ||
                         memcmp(after.rng, before.rng, before.rng_len) != 0;
            if (stored != moved)
                windows++;
        } else {
            CHECK(!"the store could not be read back");
        }
        store_optstate_release(&after);
        store_close(st);
    }
    fprintf(stderr, "snapshot window: %zu fault points tried, %zu left a trial without its "
                    "snapshot\n", tried, windows);
    CHECK(handed_out);
    CHECK_EQ(windows, 0);
    store_optstate_release(&before);
}

/* A full filesystem under a running service, then a read-only one under a
 * starting service, on a small tmpfs mounted here (root only; skipped
 * otherwise). */
static void test_reliability_full_and_readonly_fs(void)
{
    sweep_setup_t s = {"full-fs", 0, 0, 0};
    char mnt[128], db[160], ep[128], filler[160], why[CARBS_MSG_MAX] = "";
    carbs_err_t err = {0};
    service_t *svc = NULL;
    wire_client_t *w = NULL;
    proto_msg_t held = {0};
    proto_msg_type_t got = PROTO_MSG_ACK;
    size_t acked = 0, rounds = 0;
    int64_t sweep;
    int fd;

    fx_path(mnt, sizeof(mnt), "mnt");
    snprintf(db, sizeof(db), "%s/full.db", mnt);
    snprintf(filler, sizeof(filler), "%s/filler", mnt);
    fx_ipc(ep, sizeof(ep), "full-fs");
    CHECK_EQ(mkdir(mnt, 0700), 0);
    if (mount("carbs-test", mnt, "tmpfs", 0, "size=1m,mode=0700") != 0) {
        fprintf(stderr, "full and read-only filesystem: skipped (cannot mount a tmpfs: %s)\n",
                strerror(errno));
        return;
    }
    sweep = make_store(db, &s);
    if (!open_with_worker(db, ep, "fs-w", &svc, &w))
        goto out;
    for (int i = 0; i < 3; i++)
        acked += round_trip(svc, w, &held, why, sizeof(why)) == PROTO_MSG_ACK;
    CHECK_EQ(acked, 3);

    /* Fill the filesystem to the last byte. */
    fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    for (size_t chunk = 65536; fd >= 0 && chunk > 0; chunk /= 2) {
        static const char zeros[65536];
        while (write(fd, zeros, chunk) == (ssize_t)chunk)
            ;
    }
    if (fd >= 0)
        close(fd);

    /* Work goes on while SQLite finds room in pages it has; then it must
     * stop with an error, and go on stopping. */
    while (rounds++ < 500) {
        got = round_trip(svc, w, &held, why, sizeof(why));
        if (got != PROTO_MSG_ACK)
            break;
        acked++;
    }
    CHECK_EQ(got, PROTO_MSG_ERROR);
    fprintf(stderr, "full filesystem: %zu trials stored, then: %s\n", acked, why);
    CHECK(strstr(why, "full") != NULL);
    {
        proto_msg_t more = {0};
        char why2[CARBS_MSG_MAX] = "";
        CHECK_EQ(round_trip(svc, w, &more, why2, sizeof(why2)), PROTO_MSG_ERROR);
        proto_msg_release(&more);
    }
    {
        store_t *st = store_open(db, STORE_READONLY, &err);
        tally_t t = {0};
        CHECK(st != NULL);
        if (st)
            CHECK_EQ(tally(st, sweep, &t), 0);
        CHECK_EQ(t.c[CARBS_TRIAL_DONE], acked);
        store_close(st);
    }
    /* Room again: the held result is taken, and work resumes. */
    CHECK_EQ(unlink(filler), 0);
    if (held.type == PROTO_MSG_RESULT) {
        resend(svc, w, &held);
        acked++;
    }
    CHECK_EQ(round_trip(svc, w, &held, why, sizeof(why)), PROTO_MSG_ACK);
    acked++;
    wire_client_close(w);
    w = NULL;
    service_close(svc);
    svc = NULL;
    check_complete(db, sweep, 0);

    /* Read-only: neither the library nor `carbs serve` starts on it. */
    CHECK_EQ(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);
    svc = svc_open_at(db, ep, &err);
    CHECK(svc == NULL);
    CHECK(err.code < 0 && err.msg[0]);
    fprintf(stderr, "read-only filesystem: %s: %s\n", carbs_errname(err.code), err.msg);
    {
        char eps[160];
        int status;
        pid_t p;
        fx_ipc(eps, sizeof(eps), "full-fs-serve");
        p = serve_start(db, eps);
        status = reap(p, 20.0);
        CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1);
    }
    CHECK_EQ(mount(NULL, mnt, NULL, MS_REMOUNT, NULL), 0);
    {
        store_t *st = store_open(db, STORE_READONLY, &err);
        tally_t t = {0};
        CHECK(st != NULL);
        if (st)
            CHECK_EQ(tally(st, sweep, &t), 0);
        CHECK_EQ(t.c[CARBS_TRIAL_DONE], acked);
        store_close(st);
    }
out:
    proto_msg_release(&held);
    wire_client_close(w);
    service_close(svc);
    CHECK_EQ(umount(mnt), 0);
}

/* This process and `carbs` run the same OpenBLAS kernels (the name
 * `carbs version` gives), or the replays below compare different
 * arithmetic. */
static void test_reliability_same_kernels(void)
{
    char cmd[1024], line[256];
    const char *tag = "blas: OpenBLAS kernels ";
    bool seen = false;
    FILE *p;

    snprintf(cmd, sizeof(cmd), "'%s' version", g_bin);
    p = popen(cmd, "r");
    CHECK(p != NULL);
    while (p && fgets(line, sizeof(line), p)) {
        if (strncmp(line, tag, strlen(tag)) == 0) {
            char core[64] = "";
            snprintf(core, sizeof(core), "%.*s", (int)strcspn(line + strlen(tag), " \n"),
                     line + strlen(tag));
            CHECK_STR(core, blas_core());
            seen = true;
        }
    }
    if (p)
        CHECK_EQ(pclose(p), 0);
    CHECK(seen);
}

int main(int argc, char **argv)
{
    (void)argc;
    blas_core_fix(argv); /* the kernels `carbs` runs (see the top) */
    g_bin = getenv("CARBS_BIN");
    if (!g_bin || access(g_bin, X_OK) != 0) {
        fprintf(stderr, "test_reliability: CARBS_BIN is not set to the carbs binary: skipped\n");
        return 77;
    }
    if (FX_SETUP("rely"))
        return 1;
    store_fault_io(0); /* every connection from here on can be made to fail */
    g_rng.s = fx_seed("test_reliability");
    RUN(test_reliability_same_kernels);
    RUN(test_reliability_store_io_errors);
    RUN(test_reliability_snapshot_window);
    RUN(test_reliability_full_and_readonly_fs);
    RUN(test_reliability_stall);
    RUN(test_reliability_worker_kills);
    RUN(test_reliability_service_kills);
    return FX_FINISH();
}
