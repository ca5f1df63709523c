/*
 * command.c - run a user's program as a trial: build its argv, environment
 * and parameter file, fork/exec it in its own process group, read its
 * stdout for progress and result lines, and map how it ended to a failure
 * kind (command.h has the table; docs/worker.md the contract).
 *
 * Everything the child needs (argv, envp, file descriptors) is built before
 * fork(), so the child only calls async-signal-safe functions before exec.
 * An exec failure comes back over a close-on-exec pipe (the classic
 * self-pipe trick): a closed pipe means exec succeeded.
 */
#include "proto/common.h"
#include "worker/command.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto/json.h"
#include "proto/sweep.h"

typedef DA_TYPE(char *) strings_t;
typedef DA_TYPE(carbs_curve_point_t) points_t;

/* The last COMMAND_TAIL_MAX bytes of a stream. */
typedef struct tail {
    char buf[COMMAND_TAIL_MAX];
    size_t len;
} tail_t;

struct command {
    pid_t pid;          /* 0 once reaped */
    int out_fd, err_fd; /* -1 once at end of file */
    char dir[512];
    char metric[CARBS_NAME_MAX];
    bool has_metric;
    char cost[CARBS_NAME_MAX];
    bool has_cost;
    double started, deadline, kill_at; /* monotonic; 0 = none */
    double grace;
    bool timed_out, stopped, finished;
    int status;     /* from waitpid */
    int exec_errno; /* nonzero when exec failed */
    char prog[CARBS_NAME_MAX];
    char *line; /* the stdout line being assembled */
    size_t line_len, line_cap;
    bool line_skip; /* the current line is too long: ignore it */
    size_t long_line; /* bytes of the last line too long to read; 0 = none */
    tail_t out_tail, err_tail;
    points_t progress;
    size_t progress_head;
    carbs_result_t last; /* the last result line seen */
    bool has_last;
    carbs_result_t result; /* the outcome, once finished */
};

// ---- small helpers ----

/* Shortest decimal text that reads back as v exactly. */
static void fmt_num(double v, char *out, size_t cap)
{
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, cap, "%.0f", v);
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(out, cap, "%.*g", p, v);
        if (strtod(out, NULL) == v) return;
    }
}

static void fmt_value(const carbs_value_t *v, char *out, size_t cap)
{
    if (v->is_str)
        snprintf(out, cap, "%s", v->str);
    else
        fmt_num(v->num, out, cap);
}

static char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *str_printf(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *s;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    s = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void strings_free(strings_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    DA_FREE(s);
}

static void strings_push(strings_t *s, char *str)
{
    if (DA_PUSH(s, str)) {
        fprintf(stderr, "%s:%d: out of memory\n", __FILE__, __LINE__);
        abort();
    }
}

static void tail_add(tail_t *t, const char *buf, size_t n)
{
    if (n >= sizeof(t->buf)) {
        memcpy(t->buf, buf + n - sizeof(t->buf), sizeof(t->buf));
        t->len = sizeof(t->buf);
        return;
    }
    if (t->len + n > sizeof(t->buf)) {
        size_t drop = t->len + n - sizeof(t->buf);
        memmove(t->buf, t->buf + drop, t->len - drop);
        t->len -= drop;
    }
    memcpy(t->buf + t->len, buf, n);
    t->len += n;
}

/* The last non-empty line of t, into out[cap] as printable UTF-8 (invalid
 * bytes and control characters become '?'), cut on a character boundary. */
static void tail_last_line(const tail_t *t, char *out, size_t cap)
{
    size_t end = t->len, start, o = 0;

    while (end > 0 &&
           (t->buf[end - 1] == '\n' || t->buf[end - 1] == '\r' || t->buf[end - 1] == ' '))
        end--;
    start = end;
    while (start > 0 && t->buf[start - 1] != '\n')
        start--;
    for (size_t i = start; i < end && o + 1 < cap;) {
        unsigned char ch = (unsigned char)t->buf[i];
        size_t k = ch < 0x80 ? 1 : ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 : ch >= 0xc0 ? 2 : 1;

        if (k > 1 && i + k <= end && utf8_valid(t->buf + i, k)) {
            if (o + k >= cap) break;
            memcpy(out + o, t->buf + i, k);
            o += k;
            i += k;
            continue;
        }
        out[o++] = (ch >= 0x20 && ch < 0x7f) || ch == '\t' ? (char)ch : '?';
        i++;
    }
    out[o] = '\0';
}

static bool tail_contains(const tail_t *t, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; i + n <= t->len; i++)
        if (strncasecmp(t->buf + i, needle, n) == 0) return true;
    return false;
}

// ---- setting up ----

static int make_dir(command_t *c, const command_config_t *cfg, carbs_err_t *err)
{
    const char *base = cfg->tmp_dir;

    if (!base || !*base) base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    if ((size_t)snprintf(c->dir, sizeof(c->dir), "%s/carbs-trial-%lld-XXXXXX", base,
                         (long long)cfg->trial_id) >= sizeof(c->dir))
        return carbs_fail(err, CARBS_EINVAL, "temporary directory '%s' is too long", base);
    if (!mkdtemp(c->dir)) {
        int e = errno;
        c->dir[0] = '\0';
        return carbs_fail(err, CARBS_EIO, "cannot make a trial directory in '%s': %s", base,
                          strerror(e));
    }
    return 0;
}

static int write_file(const char *path, const char *text, carbs_err_t *err)
{
    FILE *f = fopen(path, "wb");
    int rc = 0;

    if (!f) return carbs_fail(err, CARBS_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (fputs(text, f) < 0 || fputc('\n', f) < 0)
        rc = carbs_fail(err, CARBS_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (fclose(f) != 0 && rc == 0)
        rc = carbs_fail(err, CARBS_EIO, "cannot write '%s': %s", path, strerror(errno));
    return rc;
}

/* fixed, then params (a searched value wins over a fixed one). */
static int merge_params(const command_config_t *cfg, carbs_params_t *all, carbs_err_t *err)
{
    const carbs_params_t *src[2] = {cfg->fixed, cfg->params};

    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; src[k] && i < src[k]->n; i++) {
            const carbs_value_t *v = &src[k]->v[i];
            int rc = v->is_str ? carbs_params_set_str(all, v->name, v->str)
                               : carbs_params_set_num(all, v->name, v->num);
            if (rc < 0) return carbs_fail(err, rc, "cannot use parameter '%s'", v->name);
        }
    }
    return 0;
}

static bool env_is_ours(const char *entry)
{
    static const char *const ours[] = {
        "CARBS_TRIAL_ID=",  "CARBS_ATTEMPT=",     "CARBS_SWEEP_ID=",    "CARBS_DEVICE=",
        "CARBS_TRIAL_DIR=", "CARBS_PARAMS_FILE=", "CARBS_RESULT_FILE=", "CARBS_PARAM_",
    };
    for (size_t i = 0; i < ARRAY_SIZE(ours); i++)
        if (strncmp(entry, ours[i], strlen(ours[i])) == 0) return true;
    return false;
}

/* Push every parameter as "--name=value" (hyphens) or "name=value". */
static void push_args(strings_t *argv, const carbs_params_t *all, bool hyphens)
{
    char val[CARBS_VALUE_MAX + 32];

    for (size_t i = 0; i < all->n; i++) {
        fmt_value(&all->v[i], val, sizeof(val));
        strings_push(argv, str_printf("%s%s=%s", hyphens ? "--" : "", all->v[i].name, val));
    }
}

/* argv: the program and its arguments, an argument macro of
 * proto/sweep.h replaced by the parameters, or --name=value after them
 * when there is none; envp: the environment without our names, then ours.
 * Both NULL-terminated. */
static int build_exec(command_t *c, const command_config_t *cfg, const carbs_params_t *all,
                      strings_t *argv, strings_t *envp, carbs_err_t *err)
{
    char val[CARBS_VALUE_MAX + 32];
    char *json = NULL;
    bool placed = false;
    int rc;

    rc = proto_params_to_json(all, &json, err);
    if (rc) return rc;
    for (size_t i = 0; i < cfg->argc; i++) {
        const char *a = cfg->argv[i];
        bool macro = true;

        if (strcmp(a, SWEEP_MACRO_ARGS) == 0)
            push_args(argv, all, true);
        else if (strcmp(a, SWEEP_MACRO_ARGS_NO_HYPHENS) == 0)
            push_args(argv, all, false);
        else if (strcmp(a, SWEEP_MACRO_ARGS_JSON) == 0)
            strings_push(argv, xstrdup(json));
        else if (strcmp(a, SWEEP_MACRO_ARGS_JSON_FILE) == 0)
            strings_push(argv, str_printf("%s/params.json", c->dir));
        else
            macro = false;
        if (!macro) strings_push(argv, xstrdup(a));
        placed |= macro;
    }
    if (!placed) push_args(argv, all, true);
    strings_push(argv, NULL);

    for (char **e = environ; e && *e; e++)
        if (!env_is_ours(*e)) strings_push(envp, xstrdup(*e));
    if (cfg->trial_id > 0)
        strings_push(envp, str_printf("CARBS_TRIAL_ID=%lld", (long long)cfg->trial_id));
    if (cfg->attempt > 0) strings_push(envp, str_printf("CARBS_ATTEMPT=%d", cfg->attempt));
    if (cfg->sweep_id > 0)
        strings_push(envp, str_printf("CARBS_SWEEP_ID=%lld", (long long)cfg->sweep_id));
    if (cfg->device && *cfg->device) strings_push(envp, str_printf("CARBS_DEVICE=%s", cfg->device));
    strings_push(envp, str_printf("CARBS_TRIAL_DIR=%s", c->dir));
    strings_push(envp, str_printf("CARBS_PARAMS_FILE=%s/params.json", c->dir));
    strings_push(envp, str_printf("CARBS_RESULT_FILE=%s/result.json", c->dir));
    for (size_t i = 0; i < all->n; i++) {
        char name[CARBS_NAME_MAX];
        size_t k;

        for (k = 0; all->v[i].name[k] && k + 1 < sizeof(name); k++) {
            char ch = all->v[i].name[k];
            bool alnum =
                (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
            name[k] = ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : alnum ? ch : '_';
        }
        name[k] = '\0';
        fmt_value(&all->v[i], val, sizeof(val));
        strings_push(envp, str_printf("CARBS_PARAM_%s=%s", name, val));
    }
    strings_push(envp, NULL);

    {
        char *path = str_printf("%s/params.json", c->dir);
        rc = write_file(path, json, err);
        free(path);
    }
    free(json);
    return rc;
}

/* In the child: only async-signal-safe calls until exec. */
static void child_exec(char **argv, char **envp, int out_w, int err_w, int null_fd, int exec_w,
                       pid_t parent)
{
    struct sigaction dfl;
    sigset_t none;
    int e;

    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    /* Dispositions the worker set (SIGPIPE ignored, its stop handler)
     * must not reach the program; sigaction is async-signal-safe. */
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &dfl, NULL);
    sigaction(SIGTERM, &dfl, NULL);
    sigaction(SIGINT, &dfl, NULL);
    sigaction(SIGHUP, &dfl, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(null_fd, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0) goto fail;
    /* Everything else is close-on-exec already; make sure of inherited ones. */
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    execvpe(argv[0], argv, envp);
fail:
    e = errno;
    if (write(exec_w, &e, sizeof(e)) < 0) _exit(127);
    _exit(127);
}

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

command_t *command_start(const command_config_t *cfg, carbs_err_t *err)
{
    command_t *c;
    carbs_params_t all = {0};
    strings_t argv = {0}, envp = {0};
    int out_p[2] = {-1, -1}, err_p[2] = {-1, -1}, exec_p[2] = {-1, -1}, null_fd = -1;
    pid_t parent = getpid();
    ssize_t got;
    int rc, e = 0;

    if (!cfg || !cfg->argv || cfg->argc < 1 || !cfg->argv[0] || !cfg->argv[0][0]) {
        carbs_fail(err, CARBS_EINVAL, "a command trial needs a program to run");
        return NULL;
    }
    c = xcalloc(1, sizeof(*c));
    c->out_fd = c->err_fd = -1;
    c->grace = cfg->kill_grace_s > 0 ? cfg->kill_grace_s : COMMAND_KILL_GRACE_S;
    carbs_result_init(&c->last);
    carbs_result_init(&c->result);
    str_copy(c->prog, sizeof(c->prog), cfg->argv[0]);
    if (cfg->metric && *cfg->metric) {
        str_copy(c->metric, sizeof(c->metric), cfg->metric);
        c->has_metric = true;
    }
    if (cfg->cost && *cfg->cost) {
        str_copy(c->cost, sizeof(c->cost), cfg->cost);
        c->has_cost = true;
    }
    rc = make_dir(c, cfg, err);
    if (rc == 0) rc = merge_params(cfg, &all, err);
    if (rc == 0) rc = build_exec(c, cfg, &all, &argv, &envp, err);
    if (rc < 0) goto out;
    null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0 || pipe2(out_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0 ||
        pipe2(exec_p, O_CLOEXEC) < 0) {
        rc = carbs_fail(err, CARBS_EIO, "cannot make pipes for '%s': %s", c->prog, strerror(errno));
        goto out;
    }
    c->started = now_monotonic();
    if (cfg->time_limit_s > 0) c->deadline = c->started + cfg->time_limit_s;
    c->pid = fork();
    if (c->pid < 0) {
        c->pid = 0;
        rc = carbs_fail(err, CARBS_EIO, "cannot fork for '%s': %s", c->prog, strerror(errno));
        goto out;
    }
    if (c->pid == 0) child_exec(argv.v, envp.v, out_p[1], err_p[1], null_fd, exec_p[1], parent);
    setpgid(c->pid, c->pid); /* also in the child: whichever runs first */
    close_fd(&out_p[1]);
    close_fd(&err_p[1]);
    close_fd(&exec_p[1]);
    do {
        got = read(exec_p[0], &e, sizeof(e));
    } while (got < 0 && errno == EINTR);
    if (got == (ssize_t)sizeof(e)) c->exec_errno = e ? e : ENOEXEC;
    c->out_fd = out_p[0];
    c->err_fd = err_p[0];
    out_p[0] = err_p[0] = -1;
    fcntl(c->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(c->err_fd, F_SETFL, O_NONBLOCK);
out:
    close_fd(&out_p[0]);
    close_fd(&out_p[1]);
    close_fd(&err_p[0]);
    close_fd(&err_p[1]);
    close_fd(&exec_p[0]);
    close_fd(&exec_p[1]);
    close_fd(&null_fd);
    carbs_params_release(&all);
    strings_free(&argv);
    strings_free(&envp);
    if (rc < 0) {
        command_free(c);
        return NULL;
    }
    return c;
}

pid_t command_pid(const command_t *c)
{
    return c->pid;
}

// ---- reading ----

static void on_line(command_t *c, const char *line, size_t len)
{
    carbs_curve_point_t p;
    carbs_result_t r;
    command_line_kind_t kind =
        command_parse_line(line, len, c->has_metric ? c->metric : NULL,
                           c->has_cost ? c->cost : NULL, &p, &r);

    if (kind == COMMAND_LINE_PROGRESS) {
        if (DA_PUSH(&c->progress, p) == 0) return;
    } else if (kind == COMMAND_LINE_RESULT) {
        carbs_result_release(&c->last);
        c->last = r;
        c->has_last = true;
        return;
    }
    carbs_result_release(&r);
}

static void on_stdout(command_t *c, const char *buf, size_t n)
{
    tail_add(&c->out_tail, buf, n);
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            if (!c->line_skip) on_line(c, c->line, c->line_len);
            else c->long_line = c->line_len;
            c->line_len = 0;
            c->line_skip = false;
            continue;
        }
        if (c->line_skip) {
            c->line_len++; /* counted, not kept */
            continue;
        }
        if (c->line_len + 1 >= COMMAND_LINE_MAX) {
            c->line_skip = true;
            c->line_len++;
            continue;
        }
        if (c->line_len + 1 >= c->line_cap) {
            size_t cap = c->line_cap ? 2 * c->line_cap : 256;
            char *p = carbs_realloc(c->line, cap);
            if (!p) {
                c->line_skip = true;
                continue;
            }
            c->line = p;
            c->line_cap = cap;
        }
        c->line[c->line_len++] = buf[i];
    }
}

/* Read what fd has now; close it at end of file. */
static void drain(command_t *c, int *fd, bool is_out)
{
    char buf[8192];

    while (*fd >= 0) {
        ssize_t n = read(*fd, buf, sizeof(buf));
        if (n > 0) {
            if (is_out)
                on_stdout(c, buf, (size_t)n);
            else
                tail_add(&c->err_tail, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        close_fd(fd);
        if (is_out && c->line_len > 0 && !c->line_skip) /* a last line without newline */
            on_line(c, c->line, c->line_len);
        else if (is_out && c->line_skip)
            c->long_line = c->line_len;
        if (is_out) c->line_len = 0;
    }
}

// ---- the outcome ----

/* The result file, when the program wrote one: the whole file as one
 * object, or else its last result line. */
static bool read_result_file(command_t *c, carbs_result_t *r)
{
    char path[600];
    struct stat st;
    char *text = NULL;
    bool found = false;
    FILE *f;

    snprintf(path, sizeof(path), "%s/result.json", c->dir);
    if (stat(path, &st) != 0 || st.st_size <= 0 || st.st_size > COMMAND_LINE_MAX) return false;
    f = fopen(path, "rb");
    if (!f) return false;
    text = carbs_malloc((size_t)st.st_size);
    if (text) {
        size_t n = fread(text, 1, (size_t)st.st_size, f);
        found = command_parse_result_file(text, n, c->has_metric ? c->metric : NULL,
                                          c->has_cost ? c->cost : NULL, r);
    }
    free(text);
    fclose(f);
    return found;
}

/* "<what>: <last line of stderr, else stdout>" into r->message. */
static void set_message(command_t *c, carbs_result_t *r, const char *what)
{
    char last[CARBS_MSG_MAX];
    size_t n;

    tail_last_line(&c->err_tail, last, sizeof(last));
    if (!last[0]) tail_last_line(&c->out_tail, last, sizeof(last));
    snprintf(r->message, sizeof(r->message), "%.120s", what);
    n = strlen(r->message);
    if (last[0]) {
        str_copy(r->message + n, sizeof(r->message) - n, ": ");
        n = strlen(r->message);
        str_copy(r->message + n, sizeof(r->message) - n, last);
    }
    /* Truncation may have cut a character in two. */
    n = strlen(r->message);
    while (n > 0 && !utf8_valid(r->message, n))
        r->message[--n] = '\0';
}

static void fail(carbs_result_t *r, carbs_failure_t f)
{
    r->ok = false;
    r->failure = f;
}

static void finish(command_t *c)
{
    carbs_result_t *r = &c->result;
    char what[200];
    bool from_file;
    int code, sig;

    c->finished = true;
    from_file = read_result_file(c, r);
    if (!from_file) {
        if (c->has_last) {
            *r = c->last;
            carbs_result_init(&c->last);
        } else {
            carbs_result_init(r);
        }
    }
    if (c->exec_errno) {
        fail(r, CARBS_FAILURE_INFRA);
        snprintf(r->message, sizeof(r->message), "cannot run '%s': %s", c->prog,
                 strerror(c->exec_errno));
        return;
    }
    if (c->stopped) {
        fail(r, CARBS_FAILURE_PREEMPTED);
        snprintf(r->message, sizeof(r->message), "stopped");
        return;
    }
    if (c->timed_out) {
        fail(r, CARBS_FAILURE_ERROR);
        snprintf(what, sizeof(what), "time limit of %g s exceeded", c->deadline - c->started);
        set_message(c, r, what);
        return;
    }
    if (WIFSIGNALED(c->status)) {
        sig = WTERMSIG(c->status);
        fail(r, CARBS_FAILURE_INFRA);
        snprintf(what, sizeof(what), "killed by signal %d (%s)%s", sig, strsignal(sig),
                 sig == SIGKILL ? ", perhaps by the out-of-memory killer" : "");
        set_message(c, r, what);
        return;
    }
    code = WEXITSTATUS(c->status);
    if (code == 0) {
        if (!from_file && !c->has_last) {
            fail(r, CARBS_FAILURE_ERROR);
            if (c->long_line) {
                snprintf(what, sizeof(what),
                         "exited 0 without a result: a result line too long (%zu bytes, limit "
                         "%d) was skipped",
                         c->long_line, COMMAND_LINE_MAX - 1);
                set_message(c, r, what);
            } else {
                set_message(c, r,
                            "exited 0 without a result (no JSON result line, no result file)");
            }
        }
        return;
    }
    if (code == COMMAND_EXIT_TEMPFAIL) {
        fail(r, CARBS_FAILURE_INFRA);
        set_message(c, r, "exited with status 75 (temporary failure)");
        return;
    }
    if (!r->ok && r->failure != CARBS_FAILURE_NONE && r->message[0])
        return; /* the program said why */
    if (r->ok || r->failure == CARBS_FAILURE_NONE)
        fail(r, tail_contains(&c->err_tail, "out of memory") ||
                        tail_contains(&c->err_tail, "MemoryError") ||
                        tail_contains(&c->err_tail, "bad_alloc")
                    ? CARBS_FAILURE_OOM
                    : CARBS_FAILURE_ERROR);
    snprintf(what, sizeof(what), "exited with status %d", code);
    set_message(c, r, what);
}

// ---- polling ----

static void signal_group(command_t *c, int sig)
{
    if (c->pid > 0) kill(-c->pid, sig);
}

static void check_timers(command_t *c, double now)
{
    if (c->deadline > 0 && now >= c->deadline && !c->timed_out && !c->stopped) {
        c->timed_out = true;
        signal_group(c, SIGTERM);
        c->kill_at = now + c->grace;
    }
    if (c->kill_at > 0 && now >= c->kill_at) {
        signal_group(c, SIGKILL);
        c->kill_at = 0;
    }
}

static bool pop_progress(command_t *c, carbs_curve_point_t *progress)
{
    if (c->progress_head >= c->progress.n) {
        c->progress.n = c->progress_head = 0;
        return false;
    }
    *progress = c->progress.v[c->progress_head++];
    return true;
}

int command_poll(command_t *c, int timeout_ms, carbs_curve_point_t *progress, bool *has_progress,
                 carbs_err_t *err)
{
    double end = timeout_ms < 0 ? INFINITY : now_monotonic() + timeout_ms / 1000.0;

    *has_progress = pop_progress(c, progress);
    if (*has_progress) return CARBS_CONTINUE;
    if (c->finished) return 0;
    for (;;) {
        struct pollfd fds[2];
        nfds_t nfds = 0;
        double now = now_monotonic(), wait_s;
        int st;

        check_timers(c, now);
        if (c->pid > 0) {
            pid_t got = waitpid(c->pid, &st, WNOHANG);
            if (got < 0 && errno != EINTR)
                return carbs_fail(err, CARBS_EIO, "cannot wait for '%s': %s", c->prog,
                                  strerror(errno));
            if (got == c->pid) {
                c->status = st;
                signal_group(c, SIGKILL); /* leftovers the program started */
                c->pid = 0;
            }
        }
        if (c->pid == 0) {
            drain(c, &c->out_fd, true);
            drain(c, &c->err_fd, false);
            close_fd(&c->out_fd);
            close_fd(&c->err_fd);
            finish(c);
            *has_progress = pop_progress(c, progress);
            return *has_progress ? CARBS_CONTINUE : 0;
        }
        wait_s = fmin(end - now, 0.1);
        if (c->deadline > 0 && !c->timed_out) wait_s = fmin(wait_s, c->deadline - now);
        if (c->kill_at > 0) wait_s = fmin(wait_s, c->kill_at - now);
        if (wait_s < 0) wait_s = 0;
        if (c->out_fd >= 0) fds[nfds++] = (struct pollfd){.fd = c->out_fd, .events = POLLIN};
        if (c->err_fd >= 0) fds[nfds++] = (struct pollfd){.fd = c->err_fd, .events = POLLIN};
        if (poll(fds, nfds, (int)ceil(wait_s * 1000.0)) < 0 && errno != EINTR)
            return carbs_fail(err, CARBS_EIO, "cannot poll '%s': %s", c->prog, strerror(errno));
        drain(c, &c->out_fd, true);
        drain(c, &c->err_fd, false);
        *has_progress = pop_progress(c, progress);
        if (*has_progress || now_monotonic() >= end) return CARBS_CONTINUE;
    }
}

void command_stop(command_t *c)
{
    if (c->finished || c->pid <= 0 || c->stopped) return;
    c->stopped = true;
    signal_group(c, SIGTERM);
    c->kill_at = now_monotonic() + c->grace;
}

int command_result(command_t *c, carbs_result_t *out)
{
    if (!c->finished) return CARBS_ESTATE;
    *out = c->result;
    carbs_result_init(&c->result);
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    UNUSED(st);
    UNUSED(flag);
    UNUSED(ftw);
    remove(path);
    return 0;
}

void command_free(command_t *c)
{
    if (!c) return;
    if (c->pid > 0) {
        int st;
        signal_group(c, SIGKILL);
        while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
            ;
    }
    close_fd(&c->out_fd);
    close_fd(&c->err_fd);
    if (c->dir[0]) nftw(c->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(c->line);
    DA_FREE(&c->progress);
    carbs_result_release(&c->last);
    carbs_result_release(&c->result);
    free(c);
}
