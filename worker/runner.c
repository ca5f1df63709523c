/*
 * runner.c - the worker's side of a trial run: fork the child
 * (runner_child.c), read its progress and result lines, enforce the time
 * limit, cancel on request, reap it, and turn a child that died without a
 * result into an infra failure (docs/service.md, Failure semantics: the
 * worker survives any trial).
 *
 * Resource figures come from wait4(): the child's rusage includes the
 * processes it reaped (a command trial's program), so cpu_seconds and
 * peak_rss_bytes cover the whole trial.
 */
#include "proto/common.h"
#include "worker/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/log.h"
#include "worker/runner_internal.h"

struct runner {
    pid_t pid;  /* the child; 0 once reaped */
    pid_t prog; /* a command trial's process group; 0 = none */
    int fd;     /* read end of the pipe; -1 at end of file */
    int64_t trial_id;
    int attempt;
    char metric[CARBS_NAME_MAX];
    bool on_cpu;
    double started;  /* monotonic */
    double deadline; /* monotonic; 0 = none */
    double kill_at;  /* monotonic; 0 = none */
    double grace;
    double time_limit;
    bool cancelled;
    carbs_failure_t cancel_kind;
    char cancel_msg[CARBS_MSG_MAX];
    char *buf; /* bytes read but not yet a full line */
    size_t len, cap;
    bool overlong; /* the child sent a line over RUNNER__LINE_MAX */
    DA_TYPE(proto_progress_t) queue;
    size_t head;
    bool have_result, done, taken;
    carbs_result_t result;
    int status;
    struct rusage ru;
    char scratch[512]; /* a command trial's parent directory; "" = none */
};

// ---- scratch space ----

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    UNUSED(st);
    UNUSED(flag);
    UNUSED(ftw);
    remove(path);
    return 0;
}

/* Remove dir and everything in it; "" is a no-op. */
static void remove_tree(char *dir)
{
    if (dir[0]) nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    dir[0] = '\0';
}

/* A command trial's directory lives in one the worker owns, so that it
 * is removed even when the child is killed before it can clean up. */
static int make_scratch(const runner_config_t *cfg, const proto_trial_t *trial, char *out,
                        carbs_err_t *err)
{
    const char *base = cfg->tmp_dir;

    if (!base || !*base) base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    if ((size_t)snprintf(out, 512, "%s/carbs-run-%lld-XXXXXX", base, (long long)trial->trial_id) >=
        512) {
        out[0] = '\0';
        return carbs_fail(err, CARBS_EINVAL, "temporary directory '%s' is too long", base);
    }
    if (!mkdtemp(out)) {
        int e = errno;
        out[0] = '\0';
        return carbs_fail(err, CARBS_EIO, "cannot make a directory for trial %lld in '%s': %s",
                          (long long)trial->trial_id, base, strerror(e));
    }
    return 0;
}

// ---- start ----

runner_t *runner_start(const runner_config_t *cfg, const proto_trial_t *trial, carbs_err_t *err)
{
    runner_config_t none = {0}, child_cfg;
    char scratch[512] = "";
    runner_t *r;
    int p[2];
    pid_t parent = getpid();

    if (!cfg) cfg = &none;
    if (trial->trainer == PROTO_TRAINER_COMMAND && trial->argv.n == 0) {
        carbs_fail(err, CARBS_EINVAL, "trial %lld: a command trial needs argv",
                   (long long)trial->trial_id);
        return NULL;
    }
    if (trial->trainer == PROTO_TRAINER_SYNTHETIC && !trial->synthetic.function[0]) {
        carbs_fail(err, CARBS_EINVAL, "trial %lld: a synthetic trial needs a function",
                   (long long)trial->trial_id);
        return NULL;
    }
    if (trial->trainer == PROTO_TRAINER_COMMAND && make_scratch(cfg, trial, scratch, err) < 0)
        return NULL;
    if (pipe2(p, O_CLOEXEC) < 0) {
        remove_tree(scratch);
        carbs_fail(err, CARBS_EIO, "cannot make a pipe for trial %lld: %s",
                   (long long)trial->trial_id, strerror(errno));
        return NULL;
    }
    r = xcalloc(1, sizeof(*r));
    str_copy(r->scratch, sizeof(r->scratch), scratch);
    child_cfg = *cfg;
    if (scratch[0]) child_cfg.tmp_dir = r->scratch;
    r->fd = p[0];
    r->trial_id = trial->trial_id;
    r->attempt = trial->attempt;
    str_copy(r->metric, sizeof(r->metric), trial->metric);
    r->on_cpu = !cfg->device || strncmp(cfg->device, "cuda", 4) != 0;
    r->grace = cfg->kill_grace_s > 0 ? cfg->kill_grace_s : RUNNER_KILL_GRACE_S;
    r->time_limit = cfg->time_limit_s;
    carbs_result_init(&r->result);
    r->started = now_monotonic();
    if (cfg->time_limit_s > 0) {
        /* A command enforces its own limit and reports it with its output;
         * this one is the backstop. */
        double slack = trial->trainer == PROTO_TRAINER_COMMAND ? r->grace + 2.0 : 0.0;
        r->deadline = r->started + cfg->time_limit_s + slack;
    }
    fflush(NULL); /* nothing buffered gets written twice */
    r->pid = fork();
    if (r->pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        r->pid = 0;
        r->fd = -1;
        runner_free(r);
        carbs_fail(err, CARBS_EIO, "cannot fork for trial %lld: %s", (long long)trial->trial_id,
                   strerror(e));
        return NULL;
    }
    if (r->pid == 0) {
        close(p[0]);
        runner__child_main(&child_cfg, trial, p[1], parent);
    }
    setpgid(r->pid, r->pid); /* also done by the child: whichever runs first */
    close(p[1]);
    fcntl(r->fd, F_SETFL, O_NONBLOCK);
    return r;
}

// ---- reading the child ----

static void on_line(runner_t *r, char *line, size_t len)
{
    proto_msg_t m;
    long pg;

    if (len < 2 || line[1] != ' ') return;
    if (line[0] == 'G') {
        line[len] = '\0';
        if (parse_long(line + 2, 1, (long)INT32_MAX, &pg) == 0) r->prog = (pid_t)pg;
        if (r->cancelled && r->prog > 0) /* cancelled before we knew the group */
            kill(-r->prog, SIGTERM);
        return;
    }
    if (proto_msg_decode(line + 2, len - 2, &m, NULL) < 0) return;
    if (line[0] == 'P' && m.type == PROTO_MSG_PROGRESS) {
        if (DA_PUSH(&r->queue, m.progress) < 0)
            log_debug("runner: trial %lld: progress dropped (out of memory)",
                      (long long)r->trial_id);
    } else if (line[0] == 'R' && m.type == PROTO_MSG_RESULT && !r->have_result) {
        r->result = m.result.r;
        carbs_result_init(&m.result.r);
        r->have_result = true;
    }
    proto_msg_release(&m);
}

static void read_child(runner_t *r)
{
    char chunk[16384];

    while (r->fd >= 0) {
        ssize_t n = read(r->fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) {
            close(r->fd);
            r->fd = -1;
            return;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (chunk[i] == '\n') {
                if (!r->overlong) on_line(r, r->buf, r->len);
                r->len = 0;
                r->overlong = false;
                continue;
            }
            if (r->overlong) continue;
            if (r->len + 2 > r->cap) {
                size_t cap = r->cap ? 2 * r->cap : 4096;
                if (cap > RUNNER__LINE_MAX + 2) {
                    r->overlong = true;
                    continue;
                }
                r->buf = xrealloc(r->buf, cap);
                r->cap = cap;
            }
            r->buf[r->len++] = chunk[i];
        }
    }
}

// ---- finishing ----

static void signal_groups(runner_t *r, int sig)
{
    if (r->pid > 0) kill(-r->pid, sig);
    if (r->prog > 0) kill(-r->prog, sig);
}

static void fill_missing(carbs_result_t *res, carbs_metric_t m, double v)
{
    if (isnan(res->metric[m]) && isfinite(v)) res->metric[m] = v;
}

static void finish(runner_t *r)
{
    carbs_result_t *res = &r->result;
    double cpu = (double)r->ru.ru_utime.tv_sec + (double)r->ru.ru_utime.tv_usec * 1e-6 +
                 (double)r->ru.ru_stime.tv_sec + (double)r->ru.ru_stime.tv_usec * 1e-6;

    r->done = true;
    if (!r->have_result) {
        carbs_result_init(res);
        res->failure = CARBS_FAILURE_INFRA;
        if (r->cancelled) {
            res->failure = r->cancel_kind;
            str_copy(res->message, sizeof(res->message), r->cancel_msg);
        } else if (WIFSIGNALED(r->status)) {
            int sig = WTERMSIG(r->status);
            snprintf(res->message, sizeof(res->message),
                     "the trial process died by signal %d (%s)%s", sig, strsignal(sig),
                     sig == SIGKILL ? ", perhaps by the out-of-memory killer" : "");
        } else {
            snprintf(res->message, sizeof(res->message),
                     "the trial process exited with status %d without a result",
                     WEXITSTATUS(r->status));
        }
    }
    res->trial_id = r->trial_id;
    res->attempt = r->attempt;
    if (res->ok)
        res->failure = CARBS_FAILURE_NONE;
    else if (res->failure == CARBS_FAILURE_NONE)
        res->failure = CARBS_FAILURE_ERROR;
    fill_missing(res, CARBS_METRIC_WALL_SECONDS, now_monotonic() - r->started);
    fill_missing(res, CARBS_METRIC_CPU_SECONDS, cpu);
    if (r->on_cpu)
        fill_missing(res, CARBS_METRIC_DEVICE_SECONDS, res->metric[CARBS_METRIC_CPU_SECONDS]);
    fill_missing(res, CARBS_METRIC_PEAK_RSS_BYTES, (double)r->ru.ru_maxrss * 1024.0);
    if (res->ok && !isfinite(carbs_result_get(res, r->metric))) {
        res->ok = false;
        res->failure = CARBS_FAILURE_ERROR;
        snprintf(res->message, sizeof(res->message), "the result has no metric '%s'", r->metric);
    }
}

static bool pop(runner_t *r, proto_progress_t *progress)
{
    if (r->head >= r->queue.n) {
        r->queue.n = r->head = 0;
        return false;
    }
    *progress = r->queue.v[r->head++];
    return true;
}

int runner_poll(runner_t *r, int timeout_ms, proto_progress_t *progress, bool *has_progress,
                carbs_err_t *err)
{
    double end = timeout_ms < 0 ? INFINITY : now_monotonic() + timeout_ms / 1000.0;

    *has_progress = pop(r, progress);
    if (*has_progress) return CARBS_CONTINUE;
    if (r->done) return 0;
    for (;;) {
        double now = now_monotonic(), wait_s;
        int st;

        if (r->deadline > 0 && now >= r->deadline && !r->cancelled) {
            char msg[CARBS_MSG_MAX];
            snprintf(msg, sizeof(msg), "time limit of %g s exceeded", r->time_limit);
            runner_cancel(r, CARBS_FAILURE_ERROR, msg);
        }
        if (r->kill_at > 0 && now >= r->kill_at) {
            signal_groups(r, SIGKILL);
            r->kill_at = 0;
        }
        read_child(r);
        if (r->fd < 0 && r->pid > 0) {
            pid_t got = wait4(r->pid, &st, WNOHANG, &r->ru);
            if (got < 0 && errno != EINTR && errno != ECHILD)
                return carbs_fail(err, CARBS_EIO, "cannot wait for trial %lld: %s",
                                  (long long)r->trial_id, strerror(errno));
            if (got == r->pid || (got < 0 && errno == ECHILD)) {
                r->status = got == r->pid ? st : 0;
                /* The child's group may hold a stray process; the program's
                 * group is the child's business, but make sure. */
                signal_groups(r, SIGKILL);
                r->pid = 0;
                r->prog = 0;
                remove_tree(r->scratch);
            }
        }
        if (r->pid == 0) {
            finish(r);
            *has_progress = pop(r, progress);
            return *has_progress ? CARBS_CONTINUE : 0;
        }
        *has_progress = pop(r, progress);
        if (*has_progress || now >= end) return CARBS_CONTINUE;
        /* Wait for the pipe, or (after end of file) for the child to be
         * reapable, in short slices. */
        wait_s = fmin(end - now, r->fd >= 0 ? 0.25 : 0.01);
        if (r->deadline > 0 && !r->cancelled) wait_s = fmin(wait_s, r->deadline - now);
        if (r->kill_at > 0) wait_s = fmin(wait_s, r->kill_at - now);
        if (wait_s < 0) wait_s = 0;
        if (r->fd >= 0) {
            struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
            poll(&pfd, 1, (int)ceil(wait_s * 1000.0));
        } else {
            poll(NULL, 0, (int)ceil(wait_s * 1000.0));
        }
    }
}

int runner_fd(const runner_t *r)
{
    return r->fd;
}

void runner_cancel(runner_t *r, carbs_failure_t why, const char *reason)
{
    if (r->done || r->cancelled) return;
    r->cancelled = true;
    r->cancel_kind = why;
    str_copy(r->cancel_msg, sizeof(r->cancel_msg), reason ? reason : "cancelled");
    signal_groups(r, SIGTERM);
    r->kill_at = now_monotonic() + r->grace;
}

int runner_result(runner_t *r, carbs_result_t *out)
{
    if (!r->done || r->taken) return CARBS_ESTATE;
    *out = r->result;
    carbs_result_init(&r->result);
    r->taken = true;
    return 0;
}

int64_t runner_trial_id(const runner_t *r)
{
    return r->trial_id;
}

int runner_attempt(const runner_t *r)
{
    return r->attempt;
}

pid_t runner_pid(const runner_t *r)
{
    return r->pid;
}

void runner_free(runner_t *r)
{
    if (!r) return;
    if (r->pid > 0) {
        int st;
        signal_groups(r, SIGKILL);
        while (waitpid(r->pid, &st, 0) < 0 && errno == EINTR)
            ;
    }
    remove_tree(r->scratch);
    if (r->fd >= 0) close(r->fd);
    free(r->buf);
    DA_FREE(&r->queue);
    carbs_result_release(&r->result);
    free(r);
}
