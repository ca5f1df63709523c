/*
 * worker.c - the worker's event loop: one connection state machine
 * (down -> hello -> online) and one small state machine per slot
 * (idle -> asked -> running -> reporting -> idle, with waiting after a
 * `wait`), driven by worker_step().  Trials run in runner_t children; the
 * loop only moves messages and keeps deadlines (docs/style.md H23).
 *
 * Reconnect and re-attach (docs/worker.md): a dropped connection or a
 * missing answer closes the socket, and after a backoff of 250 ms doubling
 * to 30 s a fresh socket says hello with the same id.  On welcome the
 * worker names each running trial in a heartbeat (the service confirms its
 * lease), re-sends each unacknowledged result, and asks for work for its
 * idle slots.
 */
#include "proto/common.h"
#include "worker/worker.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/log.h"
#include "proto/msg.h"
#include "proto/wire.h"
#include "trainer/backend.h"
#include "worker/runner.h"

typedef enum slot_state {
    SLOT_IDLE,      /* wants work: send ready when online */
    SLOT_ASKED,     /* ready sent, waiting for trial or wait */
    SLOT_WAITING,   /* told to wait until wait_until */
    SLOT_RUNNING,   /* a runner child is working */
    SLOT_REPORTING, /* result sent (or to send), waiting for its ack */
    SLOT_RETIRED,   /* max_trials reached: no more work */
} slot_state_t;

typedef struct slot {
    slot_state_t state;
    double since;          /* monotonic: when ready or the result was last sent; 0 = not sent */
    double wait_until;     /* SLOT_WAITING */
    runner_t *run;         /* SLOT_RUNNING */
    int64_t trial_id;      /* SLOT_RUNNING, SLOT_REPORTING */
    carbs_result_t result; /* SLOT_REPORTING */
} slot_t;

typedef enum conn_state {
    CONN_DOWN,   /* no socket; reconnect at next_attempt */
    CONN_HELLO,  /* hello sent at hello_at, waiting for welcome */
    CONN_ONLINE, /* welcomed */
} conn_state_t;

struct worker {
    char id[CARBS_NAME_MAX];
    char host[PROTO_HOST_MAX];
    char endpoint[WIRE_ENDPOINT_MAX + 1];
    char device[CARBS_NAME_MAX];
    bool device_ok; /* the probe at open found device's GPUs usable (always true for cpu) */
    char *key, *server_key, *tmp_dir, *data_dir;
    runner_config_t rcfg;
    int reply_timeout_ms, backoff_min_ms, backoff_max_ms, max_trials;
    const volatile sig_atomic_t *stop;

    wire_client_t *cli;
    conn_state_t conn;
    bool seen_connected; /* this socket completed a handshake */
    double next_attempt, hello_at, next_heartbeat;
    int backoff_ms;
    int heartbeat_ms;

    slot_t slots[WORKER_SLOTS_MAX];
    int n_slots;
    bool leaving;
    char bye_reason[CARBS_NAME_MAX];
    bool finished;
    worker_stats_t stats;
};

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

// ---- sending ----

/* Encode and send m; a failure is logged and otherwise ignored (the
 * reconnect logic notices a dead service). */
static void send_msg(worker_t *w, const proto_msg_t *m)
{
    char *buf = NULL;
    size_t len = 0;
    carbs_err_t err = {0};

    if (!w->cli) return;
    if (proto_msg_encode(m, &buf, &len, &err) < 0 || wire_client_send(w->cli, buf, len, &err) < 0)
        log_warn("worker %s: cannot send %s: %s", w->id, proto_msg_type_name(m->type), err.msg);
    free(buf);
}

/* Whether the GPUs of spec can be used, asked in a child process: the
 * CUDA runtime may not be initialised in a process that forks trials that
 * use it afterwards, so the worker itself never touches CUDA.  On false,
 * why says so in one line (no CUDA backend in this build, no usable GPU,
 * an ordinal out of range). */
static bool probe_device(const char *spec, char *why, size_t cap)
{
    int p[2], status = 0;
    ssize_t got;
    pid_t pid;

    if (pipe(p) < 0) {
        snprintf(why, cap, "cannot probe '%s': %s", spec, strerror(errno));
        return false;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        snprintf(why, cap, "cannot probe '%s': %s", spec, strerror(errno));
        close(p[0]);
        close(p[1]);
        return false;
    }
    if (pid == 0) {
        backend_opts_t bo;
        const backend_ops_t *ops;
        const char *name;
        carbs_err_t e = {0};
        size_t free_bytes;
        int rc;

        close(p[0]);
        rc = backend_parse_device(spec, &name, &bo, &e);
        ops = rc ? NULL : backend_find(name);
        if (!rc && !ops)
            rc = carbs_fail(&e, CARBS_ENOTFOUND, "no '%s' backend in this build", name);
        if (!rc)
            rc = ops->probe(&bo, &free_bytes, &e);
        if (rc && write(p[1], e.msg, strlen(e.msg)) < 0)
            _exit(3);
        _exit(rc ? 1 : 0);
    }
    close(p[1]);
    got = read(p[0], why, cap - 1);
    why[got > 0 ? got : 0] = 0;
    close(p[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return true;
    if (!why[0])
        snprintf(why, cap, "probing '%s' failed", spec);
    return false;
}

static void send_hello(worker_t *w)
{
    proto_msg_t m;

    proto_msg_init(&m, PROTO_MSG_HELLO);
    str_copy(m.hello.worker_id, sizeof(m.hello.worker_id), w->id);
    str_copy(m.hello.host, sizeof(m.hello.host), w->host);
    m.hello.pid = (int64_t)getpid();
    m.hello.slots = w->n_slots;
    /* a worker whose GPUs cannot be used offers the CPU only */
    m.hello.devices.n = 1;
    str_copy(m.hello.devices.v[0], sizeof(m.hello.devices.v[0]), w->device_ok ? w->device : "cpu");
    m.hello.caps.embedded = true;
    m.hello.caps.command = true;
    m.hello.caps.synthetic = true;
    send_msg(w, &m);
    proto_msg_release(&m);
}

static void send_ready(worker_t *w, int slot)
{
    proto_msg_t m;

    proto_msg_init(&m, PROTO_MSG_READY);
    m.ready.slot = slot;
    send_msg(w, &m);
    w->slots[slot].state = SLOT_ASKED;
    w->slots[slot].since = now_monotonic();
}

static void send_heartbeat(worker_t *w, int64_t trial_id)
{
    proto_msg_t m;

    proto_msg_init(&m, PROTO_MSG_HEARTBEAT);
    m.heartbeat.trial_id = trial_id;
    send_msg(w, &m);
}

static void send_heartbeats(worker_t *w)
{
    bool any = false;

    for (int i = 0; i < w->n_slots; i++) {
        if (w->slots[i].state == SLOT_RUNNING) {
            send_heartbeat(w, w->slots[i].trial_id);
            any = true;
        }
    }
    if (!any) send_heartbeat(w, 0);
    w->next_heartbeat = now_monotonic() + w->heartbeat_ms / 1000.0;
}

static void send_result(worker_t *w, slot_t *s)
{
    proto_msg_t m;

    proto_msg_init(&m, PROTO_MSG_RESULT);
    m.result.r = s->result; /* borrowed for the encode; not released */
    send_msg(w, &m);
    s->since = now_monotonic();
    w->stats.results_sent++;
}

static void send_bye(worker_t *w)
{
    proto_msg_t m;

    proto_msg_init(&m, PROTO_MSG_BYE);
    str_copy(m.bye.reason, sizeof(m.bye.reason), w->bye_reason);
    send_msg(w, &m);
}

// ---- connection ----

static void connect_now(worker_t *w)
{
    wire_client_config_t cc = {
        .endpoint = w->endpoint,
        .key = w->key,
        .server_key = w->server_key,
        .identity = w->id,
    };
    carbs_err_t err = {0};

    w->stats.connects++;
    w->cli = wire_client_open(&cc, &err);
    if (!w->cli) {
        log_warn("worker %s: cannot connect to '%s': %s", w->id, w->endpoint, err.msg);
        w->next_attempt = now_monotonic() + w->backoff_ms / 1000.0;
        w->backoff_ms =
            w->backoff_ms * 2 > w->backoff_max_ms ? w->backoff_max_ms : w->backoff_ms * 2;
        return;
    }
    w->seen_connected = false;
    send_hello(w);
    w->conn = CONN_HELLO;
    w->hello_at = now_monotonic();
}

/* The service is gone (or never answered): drop the socket and try again
 * after the backoff.  Trials keep running; asked slots ask again later. */
static void disconnect(worker_t *w, const char *why)
{
    if (w->conn == CONN_ONLINE)
        log_warn("worker %s: lost the service at '%s' (%s); reconnecting", w->id, w->endpoint, why);
    else
        log_info("worker %s: no answer from '%s' (%s); retrying in %.2f s", w->id, w->endpoint, why,
                 w->backoff_ms / 1000.0);
    wire_client_close(w->cli);
    w->cli = NULL;
    w->conn = CONN_DOWN;
    w->next_attempt = now_monotonic() + w->backoff_ms / 1000.0;
    w->backoff_ms = w->backoff_ms * 2 > w->backoff_max_ms ? w->backoff_max_ms : w->backoff_ms * 2;
    for (int i = 0; i < w->n_slots; i++) {
        slot_t *s = &w->slots[i];
        if (s->state == SLOT_ASKED || s->state == SLOT_WAITING) s->state = SLOT_IDLE;
        if (s->state == SLOT_REPORTING) s->since = 0; /* re-send after the next welcome */
    }
}

static void on_welcome(worker_t *w, const proto_welcome_t *wel)
{
    int running = 0, resent = 0;

    if (w->conn != CONN_ONLINE) w->stats.welcomes++;
    w->conn = CONN_ONLINE;
    w->backoff_ms = w->backoff_min_ms;
    w->heartbeat_ms = wel->heartbeat_ms > 0 ? wel->heartbeat_ms : WORKER_HEARTBEAT_MS;
    /* Re-attach: name every running trial, re-send every unacked result,
     * and ask again for slots whose ready may have been lost. */
    for (int i = 0; i < w->n_slots; i++) {
        slot_t *s = &w->slots[i];
        if (s->state == SLOT_RUNNING) {
            send_heartbeat(w, s->trial_id);
            running++;
        } else if (s->state == SLOT_REPORTING) {
            send_result(w, s);
            resent++;
        } else if (s->state == SLOT_ASKED) {
            s->state = SLOT_IDLE;
        }
    }
    w->next_heartbeat = now_monotonic() + w->heartbeat_ms / 1000.0;
    log_info("worker %s: joined '%s' (service %s, heartbeat %d ms, lease %d ms)", w->id,
             w->endpoint, wel->service_version, w->heartbeat_ms, wel->lease_ms);
    if (running || resent)
        log_info("worker %s: re-attached %d running trial(s), re-sent %d result(s)", w->id, running,
                 resent);
}

// ---- slots ----

static int oldest_asked(const worker_t *w)
{
    int best = -1;

    for (int i = 0; i < w->n_slots; i++)
        if (w->slots[i].state == SLOT_ASKED &&
            (best < 0 || w->slots[i].since < w->slots[best].since))
            best = i;
    return best;
}

static slot_t *slot_of_trial(worker_t *w, int64_t trial_id, slot_state_t state)
{
    for (int i = 0; i < w->n_slots; i++)
        if (w->slots[i].state == state && w->slots[i].trial_id == trial_id) return &w->slots[i];
    return NULL;
}

/* A result that did not come from a runner (start failed, no slot). */
static void report_now(worker_t *w, slot_t *s, int64_t trial_id, int attempt, carbs_failure_t f,
                       const char *msg)
{
    carbs_result_init(&s->result);
    s->result.trial_id = trial_id;
    s->result.attempt = attempt;
    s->result.failure = f;
    str_copy(s->result.message, sizeof(s->result.message), msg);
    s->trial_id = trial_id;
    s->state = SLOT_REPORTING;
    send_result(w, s);
}

static void on_trial(worker_t *w, const proto_trial_t *t)
{
    int i = oldest_asked(w);
    carbs_err_t err = {0};
    slot_t *s;

    if (slot_of_trial(w, t->trial_id, SLOT_RUNNING) ||
        slot_of_trial(w, t->trial_id, SLOT_REPORTING)) {
        /* Already ours (a re-sent trial after a reconnect): confirm it. */
        log_info("worker %s: trial %lld is already running here; confirming", w->id,
                 (long long)t->trial_id);
        send_heartbeat(w, t->trial_id);
        if (i >= 0) {
            w->slots[i].state = SLOT_WAITING;
            w->slots[i].wait_until = now_monotonic() + 1.0;
        }
        return;
    }
    if (i < 0 || w->leaving) {
        /* Nobody asked: hand it back so the service re-queues it. */
        slot_t tmp = {0};
        log_warn("worker %s: trial %lld arrived without a free slot; handing it back", w->id,
                 (long long)t->trial_id);
        report_now(w, &tmp, t->trial_id, t->attempt, CARBS_FAILURE_PREEMPTED,
                   "the worker had no free slot for it");
        carbs_result_release(&tmp.result);
        return;
    }
    s = &w->slots[i];
    w->stats.trials++;
    s->run = runner_start(&w->rcfg, t, &err);
    if (!s->run) {
        log_warn("worker %s: trial %lld cannot start: %s", w->id, (long long)t->trial_id, err.msg);
        report_now(w, s, t->trial_id, t->attempt,
                   err.code == CARBS_EINVAL ? CARBS_FAILURE_ERROR : CARBS_FAILURE_INFRA, err.msg);
        return;
    }
    s->state = SLOT_RUNNING;
    s->trial_id = t->trial_id;
    log_info("worker %s: trial %lld attempt %d started (%s%s%s) in slot %d", w->id,
             (long long)t->trial_id, t->attempt, proto_trainer_name(t->trainer),
             t->trainer == PROTO_TRAINER_SYNTHETIC ? " " : "",
             t->trainer == PROTO_TRAINER_SYNTHETIC ? t->synthetic.function : "", i);
}

/* Read the children: forward progress, collect finished results. */
static void poll_runners(worker_t *w)
{
    for (int i = 0; i < w->n_slots; i++) {
        slot_t *s = &w->slots[i];
        int rc = CARBS_CONTINUE;
        carbs_err_t err = {0};

        if (s->state != SLOT_RUNNING) continue;
        while (rc == CARBS_CONTINUE) {
            proto_progress_t p;
            bool has = false;

            rc = runner_poll(s->run, 0, &p, &has, &err);
            if (has && w->conn == CONN_ONLINE) {
                proto_msg_t m;
                proto_msg_init(&m, PROTO_MSG_PROGRESS);
                m.progress = p;
                send_msg(w, &m);
            }
            if (!has) break;
        }
        if (rc < 0) {
            log_warn("worker %s: trial %lld: %s", w->id, (long long)s->trial_id, err.msg);
            runner_cancel(s->run, CARBS_FAILURE_INFRA, err.msg);
            continue;
        }
        if (rc != 0) continue;
        runner_result(s->run, &s->result);
        runner_free(s->run);
        s->run = NULL;
        if (w->leaving && s->result.failure == CARBS_FAILURE_PREEMPTED) {
            /* Stopped for the bye; the service re-queues it. */
            carbs_result_release(&s->result);
            s->state = SLOT_RETIRED;
            continue;
        }
        log_info("worker %s: trial %lld %s%s%s%s", w->id, (long long)s->trial_id,
                 s->result.ok ? "done" : "failed (",
                 s->result.ok ? "" : carbs_failure_name(s->result.failure),
                 s->result.ok ? "" : "): ", s->result.ok ? "" : s->result.message);
        s->state = SLOT_REPORTING;
        s->since = 0;
        if (w->conn == CONN_ONLINE) send_result(w, s);
    }
}

// ---- receiving ----

static int on_frame(worker_t *w, const char *buf, size_t len, carbs_err_t *err)
{
    proto_msg_t m;
    carbs_err_t derr = {0};
    slot_t *s;
    int i, rc = 0;

    if (proto_msg_decode(buf, len, &m, &derr) < 0) {
        log_warn("worker %s: ignoring a frame from the service: %s", w->id, derr.msg);
        return 0;
    }
    switch (m.type) {
    case PROTO_MSG_WELCOME:
        on_welcome(w, &m.welcome);
        break;
    case PROTO_MSG_TRIAL:
        on_trial(w, &m.trial);
        break;
    case PROTO_MSG_WAIT:
        i = oldest_asked(w);
        if (i >= 0) {
            w->slots[i].state = SLOT_WAITING;
            w->slots[i].wait_until = now_monotonic() + m.wait.retry_ms / 1000.0;
        }
        break;
    case PROTO_MSG_ACK:
        s = slot_of_trial(w, m.ack.trial_id, SLOT_REPORTING);
        if (s) {
            carbs_result_release(&s->result);
            w->stats.acked++;
            s->state = w->max_trials > 0 && (int)w->stats.trials >= w->max_trials ? SLOT_RETIRED
                                                                                  : SLOT_IDLE;
            log_debug("worker %s: result of trial %lld acknowledged", w->id,
                      (long long)m.ack.trial_id);
        }
        break;
    case PROTO_MSG_CANCEL:
        s = slot_of_trial(w, m.cancel.trial_id, SLOT_RUNNING);
        if (s) {
            char why[CARBS_MSG_MAX];
            snprintf(why, sizeof(why), "cancelled by the service: %.200s", m.cancel.reason);
            log_info("worker %s: trial %lld %s", w->id, (long long)m.cancel.trial_id, why);
            runner_cancel(s->run, CARBS_FAILURE_PREEMPTED, why);
        }
        break;
    case PROTO_MSG_ERROR:
        if (m.error.code == CARBS_EVERSION || m.error.code == CARBS_EDENIED) {
            rc = carbs_fail(err, m.error.code, "the service refused this worker: %s",
                            m.error.message);
            break;
        }
        if (m.error.code == CARBS_ESTATE && w->conn == CONN_ONLINE) {
            /* The service does not know us (it restarted and our frames
             * came before our hello): introduce ourselves again. */
            log_info("worker %s: the service says %s; saying hello again", w->id, m.error.message);
            send_hello(w);
            w->conn = CONN_HELLO;
            w->hello_at = now_monotonic();
            break;
        }
        log_warn("worker %s: the service refused a frame: %s: %s", w->id,
                 carbs_errname(m.error.code), m.error.message);
        break;
    default:
        log_debug("worker %s: ignoring '%s' from the service", w->id, proto_msg_type_name(m.type));
        break;
    }
    proto_msg_release(&m);
    return rc;
}

// ---- the step ----

static bool may_take_work(const worker_t *w)
{
    return !w->leaving && (w->max_trials <= 0 || (int)w->stats.trials < w->max_trials);
}

static bool anything_busy(const worker_t *w)
{
    for (int i = 0; i < w->n_slots; i++)
        if (w->slots[i].state == SLOT_RUNNING || w->slots[i].state == SLOT_REPORTING) return true;
    return false;
}

/* Stopped with a trial running is preemption (the trial is re-queued);
 * stopped otherwise (idle, or a result waiting for its ack, as at the end
 * of `carbs run`) is a plain shutdown: nothing was preempted. */
static bool trial_running(const worker_t *w)
{
    for (int i = 0; i < w->n_slots; i++)
        if (w->slots[i].state == SLOT_RUNNING) return true;
    return false;
}

/* While leaving, a result that cannot reach the service soon is dropped
 * (its lease runs out and the service re-queues the trial). */
static void drop_undeliverable(worker_t *w)
{
    double now = now_monotonic();

    for (int i = 0; i < w->n_slots; i++) {
        slot_t *s = &w->slots[i];
        if (s->state != SLOT_REPORTING) continue;
        if (w->conn == CONN_ONLINE &&
            (s->since == 0 || now - s->since < w->reply_timeout_ms / 1000.0))
            continue;
        log_warn("worker %s: leaving without an ack for trial %lld", w->id, (long long)s->trial_id);
        carbs_result_release(&s->result);
        s->state = SLOT_RETIRED;
    }
}

void worker_leave(worker_t *w, const char *reason)
{
    if (w->leaving) return;
    w->leaving = true;
    str_copy(w->bye_reason, sizeof(w->bye_reason), reason ? reason : "shutdown");
    log_info("worker %s: leaving (%s)", w->id, w->bye_reason);
    for (int i = 0; i < w->n_slots; i++) {
        slot_t *s = &w->slots[i];
        if (s->state == SLOT_RUNNING && strcmp(w->bye_reason, "shutdown") != 0)
            runner_cancel(s->run, CARBS_FAILURE_PREEMPTED, "preempted: the worker is stopping");
        if (s->state != SLOT_RUNNING && s->state != SLOT_REPORTING) s->state = SLOT_RETIRED;
    }
}

/* The next moment something is due, as a wait in ms from now. */
static int next_wait_ms(const worker_t *w, int timeout_ms)
{
    double now = now_monotonic(), due = now + (timeout_ms < 0 ? 3600.0 : timeout_ms / 1000.0);
    double reply = w->reply_timeout_ms / 1000.0;

    if (w->conn == CONN_DOWN) due = fmin(due, w->next_attempt);
    if (w->conn == CONN_HELLO) due = fmin(due, w->hello_at + reply);
    if (w->conn == CONN_ONLINE) due = fmin(due, w->next_heartbeat);
    for (int i = 0; i < w->n_slots; i++) {
        const slot_t *s = &w->slots[i];
        if (s->state == SLOT_RUNNING)
            due = fmin(due, now + 0.05); /* children are read between frames */
        if (s->state == SLOT_WAITING) due = fmin(due, s->wait_until);
        if ((s->state == SLOT_ASKED || s->state == SLOT_REPORTING) && s->since > 0)
            due = fmin(due, s->since + reply);
    }
    if (due <= now) return 0;
    return (int)ceil((due - now) * 1000.0);
}

static void do_due(worker_t *w)
{
    double now = now_monotonic();
    double reply = w->reply_timeout_ms / 1000.0;

    if (w->conn == CONN_DOWN && now >= w->next_attempt && !(w->leaving && !anything_busy(w)))
        connect_now(w);
    if (w->conn == CONN_HELLO && now - w->hello_at >= reply) {
        disconnect(w, "no welcome");
        return;
    }
    if (w->conn != CONN_ONLINE) return;
    if (w->cli && w->seen_connected && !wire_client_connected(w->cli)) {
        disconnect(w, "connection dropped");
        return;
    }
    for (int i = 0; i < w->n_slots; i++) {
        slot_t *s = &w->slots[i];
        if ((s->state == SLOT_ASKED || s->state == SLOT_REPORTING) && s->since > 0 &&
            now - s->since >= reply) {
            disconnect(w, s->state == SLOT_ASKED ? "no answer to ready" : "no ack");
            return;
        }
        if (s->state == SLOT_REPORTING && s->since == 0) send_result(w, s);
        if (s->state == SLOT_WAITING && now >= s->wait_until) s->state = SLOT_IDLE;
        if (s->state == SLOT_IDLE && may_take_work(w))
            send_ready(w, i);
        else if (s->state == SLOT_IDLE && !may_take_work(w))
            s->state = SLOT_RETIRED;
    }
    if (now >= w->next_heartbeat) send_heartbeats(w);
}

int worker_step(worker_t *w, int timeout_ms, carbs_err_t *err)
{
    char *buf = NULL;
    size_t len = 0;
    int rc, wait_ms;
    carbs_err_t rerr = {0};

    if (w->finished) return 0;
    if (w->stop && *w->stop) worker_leave(w, trial_running(w) ? "preempted" : "shutdown");
    poll_runners(w);
    if (!w->leaving && w->max_trials > 0 && (int)w->stats.trials >= w->max_trials &&
        !anything_busy(w))
        worker_leave(w, "shutdown");
    if (w->leaving) drop_undeliverable(w);
    if (w->leaving && !anything_busy(w)) {
        if (w->conn == CONN_ONLINE) {
            send_bye(w);
            log_info("worker %s: said bye (%s)", w->id, w->bye_reason);
        }
        w->finished = true;
        return 0;
    }
    do_due(w);
    if (!w->cli) {
        wait_ms = next_wait_ms(w, timeout_ms);
        if (wait_ms > 0) poll(NULL, 0, wait_ms);
        return CARBS_CONTINUE;
    }
    wait_ms = next_wait_ms(w, timeout_ms);
    rc = wire_client_recv(w->cli, &buf, &len, wait_ms, &rerr);
    if (wire_client_connected(w->cli)) w->seen_connected = true;
    while (rc == 0) {
        rc = on_frame(w, buf, len, err);
        free(buf);
        buf = NULL;
        if (rc < 0) return rc;
        if (!w->cli) return CARBS_CONTINUE; /* on_frame disconnected */
        rc = wire_client_recv(w->cli, &buf, &len, 0, &rerr);
    }
    if (rc == CARBS_EDENIED) return carbs_fail(err, rc, "%s", rerr.msg);
    if (rc == CARBS_EIO) return carbs_fail(err, rc, "%s", rerr.msg);
    return CARBS_CONTINUE;
}

int worker_run(worker_t *w, carbs_err_t *err)
{
    int rc;

    do
        rc = worker_step(w, 1000, err);
    while (rc == CARBS_CONTINUE);
    return rc;
}

// ---- life cycle ----

worker_t *worker_open(const worker_config_t *cfg, carbs_err_t *err)
{
    worker_t *w;
    int slots = cfg->slots > 0 ? cfg->slots : 1;

    if (!cfg->endpoint || !*cfg->endpoint) {
        carbs_fail(err, CARBS_EINVAL, "worker: no service endpoint to connect to");
        return NULL;
    }
    if (!cfg->worker_id || !*cfg->worker_id || strlen(cfg->worker_id) >= CARBS_NAME_MAX) {
        carbs_fail(err, CARBS_EINVAL, "worker: the worker id must be 1-%d bytes",
                   CARBS_NAME_MAX - 1);
        return NULL;
    }
    if (slots > WORKER_SLOTS_MAX) {
        carbs_fail(err, CARBS_EINVAL, "worker: %d slots is more than %d", slots, WORKER_SLOTS_MAX);
        return NULL;
    }
    {
        backend_opts_t bo;
        const char *name;
        if (backend_parse_device(cfg->device, &name, &bo, err) < 0) return NULL;
    }
    w = xcalloc(1, sizeof(*w));
    str_copy(w->id, sizeof(w->id), cfg->worker_id);
    if (str_copy(w->endpoint, sizeof(w->endpoint), cfg->endpoint) < 0) {
        carbs_fail(err, CARBS_EINVAL, "worker: endpoint '%.64s...' is too long", cfg->endpoint);
        free(w);
        return NULL;
    }
    if (cfg->host)
        str_copy(w->host, sizeof(w->host), cfg->host);
    else if (gethostname(w->host, sizeof(w->host) - 1) != 0)
        str_copy(w->host, sizeof(w->host), "unknown");
    str_copy(w->device, sizeof(w->device), cfg->device ? cfg->device : "cpu");
    w->device_ok = true;
    if (strcmp(w->device, "cpu") != 0) {
        char why[256];
        w->device_ok = probe_device(w->device, why, sizeof(why));
        if (!w->device_ok)
            log_warn("worker %s: %s; offering the cpu backend only, trials on '%s' will fail",
                     w->id, why, w->device);
    }
    w->key = dup_or_null(cfg->key);
    w->server_key = dup_or_null(cfg->server_key);
    w->tmp_dir = dup_or_null(cfg->tmp_dir);
    w->data_dir = dup_or_null(cfg->data_dir);
    w->rcfg.data_dir = w->data_dir;
    w->rcfg.synthetic_data = cfg->synthetic_data;
    w->rcfg.threads = cfg->threads;
    w->rcfg.device = w->device;
    w->rcfg.tmp_dir = w->tmp_dir;
    w->rcfg.time_limit_s = cfg->time_limit_s;
    w->rcfg.kill_grace_s = cfg->kill_grace_s;
    w->reply_timeout_ms =
        cfg->reply_timeout_ms > 0 ? cfg->reply_timeout_ms : WORKER_REPLY_TIMEOUT_MS;
    w->backoff_min_ms = cfg->backoff_min_ms > 0 ? cfg->backoff_min_ms : WORKER_BACKOFF_MIN_MS;
    w->backoff_max_ms = cfg->backoff_max_ms > 0 ? cfg->backoff_max_ms : WORKER_BACKOFF_MAX_MS;
    if (w->backoff_max_ms < w->backoff_min_ms) w->backoff_max_ms = w->backoff_min_ms;
    w->backoff_ms = w->backoff_min_ms;
    w->max_trials = cfg->max_trials;
    w->stop = cfg->stop;
    w->n_slots = slots;
    w->heartbeat_ms = WORKER_HEARTBEAT_MS;
    for (int i = 0; i < slots; i++)
        carbs_result_init(&w->slots[i].result);

    /* The first connection: a bad endpoint or key file is the caller's
     * mistake, reported now rather than retried forever. */
    {
        wire_client_config_t cc = {
            .endpoint = w->endpoint, .key = w->key, .server_key = w->server_key, .identity = w->id};
        w->cli = wire_client_open(&cc, err);
        if (!w->cli) {
            worker_close(w);
            return NULL;
        }
        w->stats.connects++;
        send_hello(w);
        w->conn = CONN_HELLO;
        w->hello_at = now_monotonic();
    }
    log_info("worker %s: connecting to '%s' with %d slot(s) on %s", w->id, w->endpoint, slots,
             w->device);
    return w;
}

void worker_close(worker_t *w)
{
    if (!w) return;
    for (int i = 0; i < w->n_slots; i++) {
        runner_free(w->slots[i].run);
        carbs_result_release(&w->slots[i].result);
    }
    wire_client_close(w->cli);
    free(w->key);
    free(w->server_key);
    free(w->tmp_dir);
    free(w->data_dir);
    free(w);
}

void worker_stats(const worker_t *w, worker_stats_t *out)
{
    *out = w->stats;
    out->online = w->conn == CONN_ONLINE;
    out->running = out->unacked = 0;
    for (int i = 0; i < w->n_slots; i++) {
        out->running += w->slots[i].state == SLOT_RUNNING;
        out->unacked += w->slots[i].state == SLOT_REPORTING;
    }
}

// ---- default ids ----

static bool set(const char *s)
{
    return s && *s;
}

int worker_default_id(const worker_id_env_t *env, char *out, size_t cap)
{
    size_t limit = cap < CARBS_NAME_MAX ? cap : CARBS_NAME_MAX;
    char suffix[32] = "";
    long ntasks = 0;
    int n;

    if (set(env->carbs_worker_id)) return str_copy(out, limit, env->carbs_worker_id);
    if (set(env->slurm_procid) && set(env->slurm_ntasks) &&
        parse_long(env->slurm_ntasks, 1, 1L << 30, &ntasks) == 0 && ntasks > 1)
        snprintf(suffix, sizeof(suffix), ".%.20s", env->slurm_procid);
    if (set(env->slurm_array_job_id) && set(env->slurm_array_task_id))
        n = snprintf(out, limit, "slurm-%s_%s%s", env->slurm_array_job_id, env->slurm_array_task_id,
                     suffix);
    else if (set(env->slurm_job_id))
        n = snprintf(out, limit, "slurm-%s%s", env->slurm_job_id, suffix);
    else
        n = snprintf(out, limit, "%.*s-%ld", (int)(limit > 24 ? limit - 24 : 1),
                     set(env->host) ? env->host : "worker", env->pid);
    return n < 0 || (size_t)n >= limit ? CARBS_ETOOBIG : 0;
}
