/*
 * bench_service.c - the service and its store under many workers (the
 * speed goals: >= 2,000 results committed per second with zero-duration
 * trials; 1,000 simultaneous workers all served with a p99
 * ready -> trial time under 20 ms; the service's memory per worker).
 *
 * The service runs in a forked child of this program (service_open on an
 * ipc:// endpoint, then service_step in a loop), so its memory can be read
 * from /proc and it gets a core of its own; the workers are wire clients
 * (DEALERs, one ZeroMQ context each) in this process, speaking proto
 * messages: hello, then ready -> trial -> result -> ack, again and again.
 * A trial "runs" for a drawn duration (0 for the throughput figure) and
 * reports a synthetic Branin outcome.  Suggestions come from the sweep's
 * random phase (num_random_samples = 10^6: no GP), unless --bo, which
 * lets the real CARBS optimizer suggest after 8 random samples; no law
 * refits run in the service.  The store is a real one, opened as the service opens it
 * (group commit; never flushed with --sync-normal), on --dir (default /tmp).
 *
 *   bench_service [--workers N] [--seconds S] [--trial-ms MS] [--bo] [--dir DIR]
 *                 [--sync-normal]
 *
 * Prints one block: results committed per second, ready -> trial latency
 * (p50, p99, max over every ready), workers served, and the service's RSS
 * before any worker, after every hello and at the end, per worker.
 */
#include "proto/common.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "optimizer/service/service.h"
#include "proto/json.h"
#include "proto/log.h"
#include "proto/msg.h"
#include "proto/wire.h"
#include "tests/fixture.h"

#define BENCH_ANSWER_S 30.0 /* a worker waiting longer than this for an answer: failure */
#define BENCH_WAIT_MS 5     /* what `wait` tells a worker (no trial is ever refused here) */

static volatile sig_atomic_t svc_stop;

static void on_term(int sig)
{
    (void)sig;
    svc_stop = 1;
}

static fx_rng_t bench_rng = {0x9e3779b97f4a7c15ull};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Resident set of pid in MiB, from /proc; NaN when unreadable. */
static double rss_mib(pid_t pid)
{
    char path[64], line[256];
    double kib = NAN;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    f = fopen(path, "r");
    if (!f)
        return NAN;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtod(line + 6, NULL);
    fclose(f);
    return kib / 1024.0;
}

// ---- the service, in a child process ----

/* Create the store with the benchmark's sweep; 0 or -1. */
static int make_store(const char *db, bool bo)
{
    char yaml[1024];

    snprintf(yaml, sizeof(yaml),
             "name: bench\n" FX_SPEC_SYNTHETIC "synthetic: {function: branin}\n" FX_SPEC_BRANIN_XY
             "carbs: {seed: 3, num_random_samples: %d, resample_frequency: 0}\n"
             "budget: {parallel: 1000000}\n",
             bo ? 8 : 1000000);
    return fx_store_new(db, yaml) < 0 ? -1 : 0;
}

/* The child: serve until SIGTERM.  Writes one byte to ready_fd once bound. */
static int serve(const char *db, const char *ep, bool sync_normal, int ready_fd)
{
    service_config_t cfg = {0};
    carbs_err_t err = {0};
    struct sigaction sa = {0};
    service_t *svc;
    char one = 1;

    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    cfg.db_path = db;
    cfg.endpoint = ep;
    cfg.lease_ms = 600000;
    cfg.sync_normal = sync_normal;
    cfg.heartbeat_ms = 300000;
    cfg.wait_ms = BENCH_WAIT_MS;
    svc = service_open(&cfg, &err);
    if (!svc) {
        fprintf(stderr, "bench_service: %s\n", err.msg);
        return 1;
    }
    if (write(ready_fd, &one, 1) != 1)
        return 1;
    close(ready_fd);
    while (!svc_stop)
        if (service_step(svc, 100, &err)) {
            fprintf(stderr, "bench_service: %s\n", err.msg);
            break;
        }
    service_close(svc);
    return 0;
}

// ---- the workers, in this process ----

typedef enum wstate { W_HELLO, W_ASKED, W_RUNNING, W_REPORTED } wstate_t;

typedef struct bworker {
    wire_client_t *cli;
    wstate_t state;
    double since; /* when hello, ready or result was sent; when the trial ends (running) */
    int64_t trial_id;
    int attempt;
    double x, y;
    size_t trials;
} bworker_t;

typedef struct bench {
    bworker_t *w;
    size_t n;
    double trial_s; /* mean trial duration */
    size_t results;
    DA_TYPE(double) lat; /* ready -> trial, seconds */
    bool failed;
} bench_t;

static void send_ready(bworker_t *w)
{
    proto_msg_t m;

    proto_msg_init(&m, PROTO_MSG_READY);
    fx_send(w->cli, &m);
    w->state = W_ASKED;
    w->since = now_monotonic();
}

static void send_result(bworker_t *w)
{
    proto_msg_t m;

    fx_result_msg(&m, w->trial_id, w->attempt, fx_branin(w->x, w->y),
                  exp((w->x + 5) / 15 + w->y / 15));
    fx_send(w->cli, &m);
    proto_msg_release(&m);
    w->state = W_REPORTED;
    w->since = now_monotonic();
}

/* Handle what arrived for w, if anything; false on a failure. */
static bool poll_worker(bench_t *b, bworker_t *w, bool measure)
{
    carbs_err_t err = {0};
    proto_msg_t m = {0};
    char *buf = NULL;
    size_t len = 0;
    double now;
    int rc = wire_client_recv(w->cli, &buf, &len, 0, &err);

    if (rc == CARBS_ETIMEDOUT) {
        if (now_monotonic() - w->since > BENCH_ANSWER_S && w->state != W_RUNNING) {
            fprintf(stderr, "bench_service: a worker got no answer in %.0f s\n", BENCH_ANSWER_S);
            return false;
        }
        return true;
    }
    if (rc == 0)
        rc = proto_msg_decode(buf, len, &m, &err);
    free(buf);
    if (rc) {
        fprintf(stderr, "bench_service: %s\n", err.msg);
        return false;
    }
    now = now_monotonic();
    switch (m.type) {
    case PROTO_MSG_WELCOME:
        w->state = W_REPORTED; /* idle until the run starts */
        break;
    case PROTO_MSG_TRIAL: {
        if (measure)
            DA_PUSH(&b->lat, now - w->since);
        w->trial_id = m.trial.trial_id;
        w->attempt = m.trial.attempt;
        w->x = fx_param(&m.trial.params, "x");
        w->y = fx_param(&m.trial.params, "y");
        w->trials++;
        w->state = W_RUNNING;
        w->since = now + b->trial_s * (0.5 + fx_rnd_unit(&bench_rng)); /* the trial's end */
        break;
    }
    case PROTO_MSG_WAIT:
        send_ready(w);
        break;
    case PROTO_MSG_ACK:
        if (measure)
            b->results++;
        w->state = W_REPORTED;
        break;
    default:
        fprintf(stderr, "bench_service: unexpected '%s'%s%s\n", proto_msg_type_name(m.type),
                m.type == PROTO_MSG_ERROR ? ": " : "",
                m.type == PROTO_MSG_ERROR ? m.error.message : "");
        proto_msg_release(&m);
        return false;
    }
    proto_msg_release(&m);
    return true;
}

/* Run every worker's loop for seconds; idle workers ask for work. */
static bool run_for(bench_t *b, double seconds, bool measure, bool loop)
{
    double until = now_monotonic() + seconds;

    while (now_monotonic() < until) {
        double now = now_monotonic();
        for (size_t i = 0; i < b->n; i++) {
            bworker_t *w = &b->w[i];
            if (w->state == W_RUNNING && now >= w->since)
                send_result(w);
            if (!poll_worker(b, w, measure))
                return false;
            if (loop && w->state == W_REPORTED)
                send_ready(w);
        }
        if (!loop) {
            size_t idle = 0;
            for (size_t i = 0; i < b->n; i++)
                idle += b->w[i].state == W_REPORTED;
            if (idle == b->n)
                return true;
        }
    }
    return true;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_service [--workers N] [--seconds S] [--trial-ms MS] [--bo] "
               "[--dir DIR] [--sync-normal]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"workers", required_argument, NULL, 'w'}, {"seconds", required_argument, NULL, 's'},
        {"trial-ms", required_argument, NULL, 't'}, {"bo", no_argument, NULL, 'b'},
        {"dir", required_argument, NULL, 'd'},      {"help", no_argument, NULL, 'h'},
        {"sync-normal", no_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    const char *base = "/tmp";
    size_t workers = 64;
    double seconds = 5, trial_ms = 0;
    bool bo = false, sync_normal = false;
    char dir[256], db[300], ep[300];
    int pipefd[2], c, status = 0, rc = 1;
    double rss0, rss1, rss2, t0, elapsed;
    bench_t b = {0};
    pid_t child;
    size_t served = 0;
    char one;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        long v;
        switch (c) {
        case 'w':
            if (parse_long(optarg, 1, 100000, &v))
                goto misuse;
            workers = (size_t)v;
            break;
        case 's':
            if (parse_double(optarg, 0.01, 3600, &seconds))
                goto misuse;
            break;
        case 't':
            if (parse_double(optarg, 0, 3.6e6, &trial_ms))
                goto misuse;
            break;
        case 'b':
            bo = true;
            break;
        case 'd':
            base = optarg;
            break;
        case 'n':
            sync_normal = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            goto misuse;
        }
    }
    raise_fd_limit();
    snprintf(dir, sizeof(dir), "%s/carbs-bench-service-XXXXXX", base);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "bench_service: cannot make a directory in '%s': %s\n", base,
                strerror(errno));
        return 1;
    }
    snprintf(db, sizeof(db), "%s/bench.db", dir);
    snprintf(ep, sizeof(ep), "ipc://%s/ep", dir);
    proto_json_init();
    log_setup(getenv("CARBS_LOG") ? LOG_DEBUG : LOG_ERROR, stderr);
    if (make_store(db, bo) || pipe(pipefd))
        return 1;
    child = fork();
    if (child < 0)
        return 1;
    if (child == 0) {
        close(pipefd[0]);
        _exit(serve(db, ep, sync_normal, pipefd[1]));
    }
    close(pipefd[1]);
    if (read(pipefd[0], &one, 1) != 1) {
        fprintf(stderr, "bench_service: the service did not start\n");
        goto out;
    }
    close(pipefd[0]);
    rss0 = rss_mib(child);

    /* Connect every worker and say hello. */
    b.n = workers;
    b.trial_s = trial_ms / 1000.0;
    b.w = xcalloc(workers, sizeof(*b.w));
    t0 = now_monotonic();
    for (size_t i = 0; i < workers; i++) {
        char id[32];
        proto_msg_t m;
        snprintf(id, sizeof(id), "bench-%05zu", i);
        b.w[i].cli = fx_client(ep, id, 0);
        if (!b.w[i].cli) {
            fprintf(stderr, "bench_service: worker %zu cannot connect\n", i);
            b.n = i;
            goto out;
        }
        proto_msg_init(&m, PROTO_MSG_HELLO);
        str_copy(m.hello.worker_id, sizeof(m.hello.worker_id), id);
        str_copy(m.hello.host, sizeof(m.hello.host), "bench");
        m.hello.pid = getpid();
        m.hello.slots = 1;
        m.hello.caps.synthetic = true;
        fx_send(b.w[i].cli, &m);
        b.w[i].state = W_HELLO;
        b.w[i].since = now_monotonic();
    }
    if (!run_for(&b, BENCH_ANSWER_S, false, false)) {
        fprintf(stderr, "bench_service: not every worker was welcomed\n");
        goto out;
    }
    fprintf(stderr, "bench_service: %zu workers welcomed in %.2f s\n", workers,
            now_monotonic() - t0);
    rss1 = rss_mib(child);

    /* Warm up for a tenth of the run, then measure. */
    if (!run_for(&b, seconds / 10, false, true))
        goto out;
    b.results = 0;
    t0 = now_monotonic();
    if (!run_for(&b, seconds, true, true))
        goto out;
    elapsed = now_monotonic() - t0;
    rss2 = rss_mib(child);
    for (size_t i = 0; i < b.n; i++)
        served += b.w[i].trials > 0;
    qsort(b.lat.v, b.lat.n, sizeof(*b.lat.v), cmp_double);

    printf("service bench: %zu workers, trials %.0f ms, %s suggestions, store %s\n", workers,
           trial_ms, bo ? "CARBS (BO)" : "random-phase", db);
    printf("  results committed: %zu in %.2f s = %.0f/s\n", b.results, elapsed,
           b.results / elapsed);
    if (b.lat.n)
        printf("  ready -> trial: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu readies)\n",
               1e3 * b.lat.v[b.lat.n / 2], 1e3 * b.lat.v[(size_t)(0.99 * (b.lat.n - 1))],
               1e3 * b.lat.v[b.lat.n - 1], b.lat.n);
    printf("  workers served: %zu of %zu\n", served, workers);
    printf("  service RSS: %.1f MiB idle, %.1f MiB with the workers, %.1f MiB at the end: "
           "%.1f KiB per worker\n",
           rss0, rss1, rss2, 1024 * (rss1 - rss0) / (double)workers);
    rc = served == workers ? 0 : 1;
out:
    for (size_t i = 0; i < b.n; i++)
        wire_client_close(b.w[i].cli);
    kill(child, SIGTERM);
    waitpid(child, &status, 0);
    free(b.w);
    DA_FREE(&b.lat);
    {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_service: could not remove %s\n", dir);
    }
    return rc;
misuse:
    usage(stderr);
    return 2;
}
