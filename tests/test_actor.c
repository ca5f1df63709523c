/*
 * test_actor.c - proto/actor.c with real threads: start and ready, a round
 * trip of text, empty and binary bodies, many messages in order, ACTOR_TERM
 * behind pending messages (each handled first, unread replies dropped),
 * the descriptor waking a poll(2), and the error paths (a failed start, an
 * actor that never says ready, reserved and bad commands, timeouts, an
 * actor that has gone).  An actor reports what it saw through its replies
 * or a pipe(2) it was given at start, never through shared memory.
 */
#include "proto/common.h"
#include "proto/actor.h"

#include <poll.h>
#include <unistd.h>

#include "tests/check.h"

#define WAIT_MS 10000 /* for a reply that should come at once */

// ---- actors ----

/* Wait for the next message into *m.  False at ACTOR_TERM (released). */
static bool next_msg(actor_pipe_t *pipe, actor_msg_t *m)
{
    int rc;

    do
        rc = actor_pipe_recv(pipe, m, -1, NULL);
    while (rc);
    if (strcmp(m->cmd, ACTOR_TERM) != 0)
        return true;
    actor_msg_release(m);
    return false;
}

/* Replies "ECHO" with the body to every command but "QUIT" (reply "BYE",
 * then return without waiting for ACTOR_TERM) and "BAD" (reply with the
 * status of sending a reserved command). */
static void echo_main(actor_pipe_t *pipe, void *arg)
{
    UNUSED(arg);
    actor_ready(pipe, NULL);
    for (;;) {
        actor_msg_t m;
        int rc = actor_pipe_recv(pipe, &m, -1, NULL);
        if (rc == CARBS_ETIMEDOUT)
            continue;
        if (rc)
            return;
        bool stop = strcmp(m.cmd, ACTOR_TERM) == 0 || strcmp(m.cmd, "QUIT") == 0;
        if (strcmp(m.cmd, "QUIT") == 0) {
            actor_pipe_send(pipe, "BYE", NULL, 0, NULL);
        } else if (strcmp(m.cmd, "BAD") == 0) {
            char s[32];
            int n = snprintf(s, sizeof(s), "%d %d",
                             actor_pipe_send(pipe, "$READY", "0 ", 2, NULL),
                             actor_pipe_send(pipe, "", NULL, 0, NULL));
            actor_pipe_send(pipe, "BAD", s, (size_t)n, NULL);
        } else if (!stop) {
            actor_pipe_send(pipe, "ECHO", m.body, m.len, NULL);
        }
        actor_msg_release(&m);
        if (stop)
            return;
    }
}

/* arg: a pipe(2) write end, copied before ready.  Handles each message
 * slowly (5 ms), counts them, and at ACTOR_TERM writes the count and the
 * sum of the bodies as numbers to the pipe. */
static void count_main(actor_pipe_t *pipe, void *arg)
{
    int fd = *(const int *)arg;
    long count = 0, sum = 0, v;
    actor_msg_t m;

    actor_ready(pipe, NULL);
    while (next_msg(pipe, &m)) {
        usleep(5000);
        count++;
        if (parse_long(m.body, 0, 1000000, &v) == 0)
            sum += v;
        actor_msg_release(&m);
    }
    char s[64];
    int n = snprintf(s, sizeof(s), "%ld %ld", count, sum);
    if (write(fd, s, (size_t)n) != n)
        perror("count_main: write");
    close(fd);
}

/* Fails to start: passes the error given in arg (read before ready). */
static void fail_main(actor_pipe_t *pipe, void *arg)
{
    actor_ready(pipe, arg);
}

/* Returns without ever saying it is ready. */
static void mute_main(actor_pipe_t *pipe, void *arg)
{
    UNUSED(pipe);
    UNUSED(arg);
}

/* Replies "LATE" 50 ms after each message. */
static void late_main(actor_pipe_t *pipe, void *arg)
{
    actor_msg_t m;

    UNUSED(arg);
    actor_ready(pipe, NULL);
    while (next_msg(pipe, &m)) {
        actor_msg_release(&m);
        usleep(50000);
        actor_pipe_send(pipe, "LATE", NULL, 0, NULL);
    }
}

// ---- cases ----

static void test_actor_round_trip(void)
{
    carbs_err_t err = {0};
    actor_t *a = actor_new(echo_main, NULL, &err);
    actor_msg_t m = {0};
    static const char bin[] = {'a', '\0', 'b', '\xff'};

    CHECK(a != NULL);
    if (!a)
        return;
    CHECK_EQ(actor_send(a, "PING", "hello", 5, &err), 0);
    CHECK_EQ(actor_recv(a, &m, WAIT_MS, &err), 0);
    CHECK_STR(m.cmd, "ECHO");
    CHECK_STR(m.body, "hello");
    CHECK_EQ(m.len, 5);
    actor_msg_release(&m);
    CHECK(m.body == NULL && m.cmd[0] == '\0');
    /* an empty body reads as "" */
    CHECK_EQ(actor_send(a, "PING", NULL, 0, &err), 0);
    CHECK_EQ(actor_recv(a, &m, WAIT_MS, &err), 0);
    CHECK(m.body != NULL && m.body[0] == '\0' && m.len == 0);
    actor_msg_release(&m);
    /* bytes, a NUL among them, come back whole and terminated */
    CHECK_EQ(actor_send(a, "PING", bin, sizeof(bin), &err), 0);
    CHECK_EQ(actor_recv(a, &m, WAIT_MS, &err), 0);
    CHECK(m.len == sizeof(bin) && memcmp(m.body, bin, sizeof(bin)) == 0 && m.body[4] == '\0');
    actor_msg_release(&m);
    /* the longest command */
    CHECK_EQ(actor_send(a, "0123456789012345678901234567890", "x", 1, &err), 0);
    CHECK_EQ(actor_recv(a, &m, WAIT_MS, &err), 0);
    CHECK_STR(m.body, "x");
    actor_msg_release(&m);
    actor_free(a);
}

static void test_actor_many_messages(void)
{
    enum { N = 5000 };
    carbs_err_t err = {0};
    actor_t *a = actor_new(echo_main, NULL, &err);
    size_t in_order = 0;

    CHECK(a != NULL);
    if (!a)
        return;
    /* all sent before any is read: no send waits */
    for (int i = 0; i < N; i++) {
        char s[16];
        int n = snprintf(s, sizeof(s), "%d", i);
        CHECK_EQ(actor_send(a, "PING", s, (size_t)n, &err), 0);
    }
    for (int i = 0; i < N; i++) {
        actor_msg_t m;
        long v = -1;
        if (actor_recv(a, &m, WAIT_MS, &err))
            break;
        in_order += parse_long(m.body, 0, N, &v) == 0 && v == i;
        actor_msg_release(&m);
    }
    CHECK_EQ(in_order, N);
    actor_free(a);
}

/* ACTOR_TERM comes behind what was sent before it: the actor handles all
 * of it, then ends; replies nobody read are dropped without a hang. */
static void test_actor_term_with_pending(void)
{
    carbs_err_t err = {0};
    int fds[2];
    char s[64] = {0};
    ssize_t n;
    actor_t *a;

    CHECK_EQ(pipe(fds), 0);
    a = actor_new(count_main, &fds[1], &err);
    CHECK(a != NULL);
    if (!a) {
        close(fds[0]);
        close(fds[1]);
        return;
    }
    for (int i = 1; i <= 20; i++) {
        char b[8];
        int k = snprintf(b, sizeof(b), "%d", i);
        CHECK_EQ(actor_send(a, "ADD", b, (size_t)k, &err), 0);
    }
    actor_free(a); /* returns once the actor has ended */
    n = read(fds[0], s, sizeof(s) - 1);
    CHECK(n > 0);
    CHECK_STR(s, "20 210");
    close(fds[0]);

    a = actor_new(echo_main, NULL, &err);
    CHECK(a != NULL);
    for (int i = 0; a && i < 1000; i++)
        CHECK_EQ(actor_send(a, "PING", "unread", 6, &err), 0);
    actor_free(a);
}

static void test_actor_fd(void)
{
    carbs_err_t err = {0};
    actor_t *a = actor_new(late_main, NULL, &err);
    actor_msg_t m = {0};
    double end = now_monotonic() + WAIT_MS / 1000.0;
    int rc = CARBS_ETIMEDOUT, wakes = 0;

    CHECK(a != NULL);
    if (!a)
        return;
    CHECK(actor_fd(a) >= 0);
    CHECK_EQ(actor_send(a, "PING", NULL, 0, &err), 0);
    /* drain, then wait on the descriptor alone */
    while (rc == CARBS_ETIMEDOUT && now_monotonic() < end) {
        rc = actor_recv(a, &m, 0, &err);
        if (rc != CARBS_ETIMEDOUT)
            break;
        struct pollfd p = {.fd = actor_fd(a), .events = POLLIN};
        wakes += poll(&p, 1, 1000) > 0;
    }
    CHECK_EQ(rc, 0);
    CHECK_STR(m.cmd, "LATE");
    CHECK(wakes >= 1);
    actor_msg_release(&m);
    actor_free(a);
}

static void test_actor_errors(void)
{
    carbs_err_t err = {0}, why = {0};
    actor_msg_t m = {0};
    actor_t *a;
    double t0, end;
    int rc;

    /* a failed start is the actor's own error; each try ends its thread */
    carbs_fail(&why, CARBS_ENOTFOUND, "no such store '%s'", "x.db");
    for (int i = 0; i < 50; i++) {
        memset(&err, 0, sizeof(err));
        CHECK(actor_new(fail_main, &why, &err) == NULL);
    }
    CHECK_EQ(err.code, CARBS_ENOTFOUND);
    CHECK_STR(err.msg, "no such store 'x.db'");
    CHECK(actor_new(mute_main, NULL, &err) == NULL);
    CHECK_EQ(err.code, CARBS_ESTATE);
    actor_free(NULL);

    a = actor_new(echo_main, NULL, &err);
    CHECK(a != NULL);
    if (!a)
        return;
    /* '$' commands belong to the pipe; empty and over-long ones are bad */
    CHECK_EQ(actor_send(a, ACTOR_TERM, NULL, 0, &err), CARBS_EINVAL);
    CHECK_EQ(actor_send(a, "", NULL, 0, &err), CARBS_EINVAL);
    CHECK_EQ(actor_send(a, NULL, NULL, 0, &err), CARBS_EINVAL);
    CHECK_EQ(actor_send(a, "01234567890123456789012345678901", NULL, 0, &err), CARBS_EINVAL);
    CHECK_EQ(actor_send(a, "BAD", NULL, 0, &err), 0);
    CHECK_EQ(actor_recv(a, &m, WAIT_MS, &err), 0);
    CHECK_STR(m.body, "-1 -1"); /* the actor's side refuses them too */
    actor_msg_release(&m);
    /* nothing waiting: a look, and a short wait */
    CHECK_EQ(actor_recv(a, &m, 0, &err), CARBS_ETIMEDOUT);
    t0 = now_monotonic();
    CHECK_EQ(actor_recv(a, &m, 30, &err), CARBS_ETIMEDOUT);
    CHECK(now_monotonic() - t0 >= 0.02);
    CHECK(m.body == NULL);
    /* an actor that returned: what it sent last still arrives, then sends
     * fail, and actor_free does not wait for a $TERM nobody reads */
    CHECK_EQ(actor_send(a, "QUIT", NULL, 0, &err), 0);
    CHECK_EQ(actor_recv(a, &m, WAIT_MS, &err), 0);
    CHECK_STR(m.cmd, "BYE");
    actor_msg_release(&m);
    end = now_monotonic() + WAIT_MS / 1000.0;
    while ((rc = actor_send(a, "PING", NULL, 0, &err)) == 0 && now_monotonic() < end)
        usleep(1000);
    CHECK_EQ(rc, CARBS_EBUSY);
    actor_free(a);
}

int main(void)
{
    RUN(test_actor_round_trip);
    RUN(test_actor_many_messages);
    RUN(test_actor_term_with_pending);
    RUN(test_actor_fd);
    RUN(test_actor_errors);
    return check_summary();
}
