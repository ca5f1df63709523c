/*
 * actor.c - the actor: a thread and a pipe of two PAIR sockets (actor.h).
 *
 * A message is two frames, the command and the body.  The pipe's own
 * commands start with '$': "$READY" (body "<code> <message>", code 0 when
 * ready) from the actor once, and ACTOR_TERM from actor_free().  Both
 * sockets have no high-water mark and no linger: a send never waits, and
 * closing never waits for a peer that is gone.  What one end sent before it
 * closed stays readable by the other (an inproc pipe hands messages over
 * as they are sent), which is how a failed actor's "$READY" reaches
 * actor_new() after the thread has ended.
 */
#include "proto/common.h"
#include "proto/actor.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <zmq.h>

#define ACTOR_ENDPOINT "inproc://actor" /* one pipe per context */
#define ACTOR_READY "$READY"

struct actor {
    void *ctx;
    void *sock; /* the owner's end, bound */
    pthread_t th;
};

/* Made by actor_new() and owned by the actor's thread from its start. */
struct actor_pipe {
    void *sock; /* the actor's end, connected */
    actor_fn_t *fn;
    void *arg;
    bool ready_sent;
};

// ---- frames ----

static bool cmd_ok(const char *cmd)
{
    size_t n = cmd ? strlen(cmd) : 0;

    return n > 0 && n <= ACTOR_CMD_MAX;
}

static int send_msg(void *sock, const char *cmd, const void *body, size_t len, carbs_err_t *err)
{
    if (zmq_send(sock, cmd, strlen(cmd), ZMQ_DONTWAIT | ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, len ? body : "", len, ZMQ_DONTWAIT) < 0) {
        if (errno == EAGAIN)
            return carbs_fail(err, CARBS_EBUSY, "actor: send %s: the other end has gone", cmd);
        return carbs_fail(err, CARBS_EIO, "actor: send %s: %s", cmd, zmq_strerror(errno));
    }
    return 0;
}

/* Read and drop the rest of a multi-part message after frame f. */
static void drain(void *sock, zmq_msg_t *f)
{
    while (zmq_msg_more(f)) {
        zmq_msg_close(f);
        zmq_msg_init(f);
        if (zmq_msg_recv(f, sock, ZMQ_DONTWAIT) < 0)
            break;
    }
    zmq_msg_close(f);
}

/* The next frame, waited for by the caller's poll.  0 or the status. */
static int recv_frame(void *sock, zmq_msg_t *f, carbs_err_t *err)
{
    zmq_msg_init(f);
    if (zmq_msg_recv(f, sock, ZMQ_DONTWAIT) >= 0)
        return 0;
    zmq_msg_close(f);
    if (errno == EAGAIN || errno == EINTR)
        return carbs_fail(err, CARBS_ETIMEDOUT, "actor: no message");
    return carbs_fail(err, CARBS_EIO, "actor: receive: %s", zmq_strerror(errno));
}

static int recv_msg(void *sock, actor_msg_t *out, int timeout_ms, carbs_err_t *err)
{
    zmq_pollitem_t it = {.socket = sock, .events = ZMQ_POLLIN};
    char cmd[ACTOR_CMD_MAX + 1];
    zmq_msg_t f;
    size_t n;
    char *body;
    int rc = zmq_poll(&it, 1, timeout_ms < 0 ? -1 : (long)timeout_ms);

    if (rc < 0 && errno != EINTR)
        return carbs_fail(err, CARBS_EIO, "actor: poll: %s", zmq_strerror(errno));
    if (rc <= 0)
        return carbs_fail(err, CARBS_ETIMEDOUT, "actor: no message in %d ms", timeout_ms);

    if ((rc = recv_frame(sock, &f, err)))
        return rc;
    n = zmq_msg_size(&f);
    if (n == 0 || n > ACTOR_CMD_MAX || !zmq_msg_more(&f)) {
        drain(sock, &f);
        return carbs_fail(err, CARBS_EPROTO, "actor: a message without a command and a body");
    }
    memcpy(cmd, zmq_msg_data(&f), n);
    cmd[n] = '\0';
    zmq_msg_close(&f);

    if ((rc = recv_frame(sock, &f, err)))
        return rc;
    if (zmq_msg_more(&f)) {
        drain(sock, &f);
        return carbs_fail(err, CARBS_EPROTO, "actor: %s: more than one body frame", cmd);
    }
    n = zmq_msg_size(&f);
    body = carbs_malloc(n + 1);
    if (!body) {
        zmq_msg_close(&f);
        return carbs_fail(err, CARBS_ENOMEM, "actor: %s: no memory for a %zu-byte body", cmd, n);
    }
    memcpy(body, zmq_msg_data(&f), n);
    body[n] = '\0';
    zmq_msg_close(&f);
    memcpy(out->cmd, cmd, sizeof(cmd));
    out->body = body;
    out->len = n;
    return 0;
}

void actor_msg_release(actor_msg_t *m)
{
    if (!m)
        return;
    free(m->body);
    memset(m, 0, sizeof(*m));
}

// ---- the actor's end ----

void actor_ready(actor_pipe_t *pipe, const carbs_err_t *err)
{
    char body[16 + sizeof(err->msg)];
    int code = err ? err->code : 0;
    int n;

    if (pipe->ready_sent)
        return;
    pipe->ready_sent = true;
    n = snprintf(body, sizeof(body), "%d %s", code, code && err ? err->msg : "");
    send_msg(pipe->sock, ACTOR_READY, body, (size_t)n, NULL);
}

int actor_pipe_send(actor_pipe_t *pipe, const char *cmd, const void *body, size_t len,
                    carbs_err_t *err)
{
    if (!cmd_ok(cmd) || cmd[0] == '$')
        return carbs_fail(err, CARBS_EINVAL, "actor: invalid command '%.40s'", cmd ? cmd : "");
    return send_msg(pipe->sock, cmd, body, len, err);
}

int actor_pipe_recv(actor_pipe_t *pipe, actor_msg_t *out, int timeout_ms, carbs_err_t *err)
{
    return recv_msg(pipe->sock, out, timeout_ms, err);
}

static void *actor_main(void *arg)
{
    actor_pipe_t *pipe = arg;

    pipe->fn(pipe, pipe->arg);
    if (!pipe->ready_sent) {
        carbs_err_t e = {0};
        carbs_fail(&e, CARBS_ESTATE, "actor: returned without saying it was ready");
        actor_ready(pipe, &e);
    }
    zmq_close(pipe->sock);
    free(pipe);
    return NULL;
}

// ---- the owner's end ----

static int set_int(void *sock, int opt, int v)
{
    return zmq_setsockopt(sock, opt, &v, sizeof(v));
}

static int pipe_options(void *sock)
{
    return set_int(sock, ZMQ_SNDHWM, 0) || set_int(sock, ZMQ_RCVHWM, 0) ||
           set_int(sock, ZMQ_LINGER, 0);
}

/* Start the thread with every asynchronous signal blocked (it inherits the
 * mask), so they are delivered to the owner. */
static int start_thread(actor_t *a, actor_pipe_t *pipe)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE,
                               SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2};
    sigset_t block, old;
    int rc;

    sigemptyset(&block);
    for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
        sigaddset(&block, sigs[i]);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    rc = pthread_create(&a->th, NULL, actor_main, pipe);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* Read "$READY <code> <message>" into err; 0 when the actor is ready. */
static int wait_ready(actor_t *a, carbs_err_t *err)
{
    actor_msg_t m = {0};
    long code;
    char *sp;
    int rc;

    do
        rc = recv_msg(a->sock, &m, -1, err);
    while (rc == CARBS_ETIMEDOUT);
    if (rc)
        return rc;
    if (strcmp(m.cmd, ACTOR_READY) != 0) {
        rc = carbs_fail(err, CARBS_EPROTO, "actor: sent %s before it was ready", m.cmd);
    } else {
        sp = strchr(m.body, ' ');
        if (sp)
            *sp = '\0';
        if (!sp || parse_long(m.body, INT_MIN, 0, &code))
            rc = carbs_fail(err, CARBS_EPROTO, "actor: a malformed %s", ACTOR_READY);
        else if (code)
            rc = carbs_fail(err, (int)code, "%s", sp[1] ? sp + 1 : carbs_strerror((int)code));
    }
    actor_msg_release(&m);
    return rc;
}

actor_t *actor_new(actor_fn_t *fn, void *arg, carbs_err_t *err)
{
    actor_t *a = xcalloc(1, sizeof(*a));
    actor_pipe_t *pipe = xcalloc(1, sizeof(*pipe));
    int rc;

    pipe->fn = fn;
    pipe->arg = arg;
    a->ctx = zmq_ctx_new();
    if (a->ctx) {
        a->sock = zmq_socket(a->ctx, ZMQ_PAIR);
        pipe->sock = zmq_socket(a->ctx, ZMQ_PAIR);
    }
    if (!a->sock || !pipe->sock || pipe_options(a->sock) || pipe_options(pipe->sock) ||
        zmq_bind(a->sock, ACTOR_ENDPOINT) || zmq_connect(pipe->sock, ACTOR_ENDPOINT)) {
        carbs_fail(err, CARBS_EIO, "actor: cannot make the pipe: %s", zmq_strerror(errno));
        goto fail;
    }
    if ((rc = start_thread(a, pipe))) {
        carbs_fail(err, CARBS_EIO, "actor: cannot start a thread: %s", strerror(rc));
        goto fail;
    }
    if (wait_ready(a, err)) {
        actor_free(a); /* the thread ends on $TERM, or has ended */
        return NULL;
    }
    return a;

fail:
    if (pipe->sock)
        zmq_close(pipe->sock);
    free(pipe);
    if (a->sock)
        zmq_close(a->sock);
    if (a->ctx)
        zmq_ctx_term(a->ctx);
    free(a);
    return NULL;
}

void actor_free(actor_t *a)
{
    if (!a)
        return;
    send_msg(a->sock, ACTOR_TERM, NULL, 0, NULL); /* fails when it has ended */
    pthread_join(a->th, NULL);
    zmq_close(a->sock);
    zmq_ctx_term(a->ctx);
    free(a);
}

int actor_send(actor_t *a, const char *cmd, const void *body, size_t len, carbs_err_t *err)
{
    if (!cmd_ok(cmd) || cmd[0] == '$')
        return carbs_fail(err, CARBS_EINVAL, "actor: invalid command '%.40s'", cmd ? cmd : "");
    return send_msg(a->sock, cmd, body, len, err);
}

int actor_recv(actor_t *a, actor_msg_t *out, int timeout_ms, carbs_err_t *err)
{
    return recv_msg(a->sock, out, timeout_ms, err);
}

int actor_fd(const actor_t *a)
{
    int fd = -1;
    size_t n = sizeof(fd);

    if (zmq_getsockopt(a->sock, ZMQ_FD, &fd, &n))
        return -1;
    return fd;
}
