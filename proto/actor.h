/*
 * actor.h - a thread that owns its state and talks to its owner only
 * through messages: the actor pattern of CZMQ's zactor, in our own words
 * (docs/design.md: slow work leaves the event loop this way, never through
 * shared structs).
 *
 *   actor_t *a = actor_new(fit_main, "sweeps.db", err);  // returns once it is ready
 *   actor_send(a, "FULL", "12", 2, err);                 // a command and a body
 *   ... loop: if (actor_recv(a, &m, 0, err) == 0) { use m; actor_msg_release(&m); }
 *   actor_free(a);                                       // $TERM, then wait for it
 *
 *   static void fit_main(actor_pipe_t *pipe, void *arg)
 *   {
 *       ... set up its own state from arg ...
 *       actor_ready(pipe, NULL);                         // or &err, then return
 *       for (;;) {
 *           actor_msg_t m;
 *           if (actor_pipe_recv(pipe, &m, -1, NULL))
 *               continue;
 *           bool term = strcmp(m.cmd, ACTOR_TERM) == 0;
 *           ... else handle m, actor_pipe_send(pipe, "DONE", ...) ...
 *           actor_msg_release(&m);
 *           if (term)
 *               break;
 *       }
 *       ... free its state ...
 *   }
 *
 * The pipe is two ZeroMQ PAIR sockets joined over inproc:// in a context of
 * the actor's own; both are made by actor_new() on the owner's thread, and
 * the actor's end is handed to the new thread.  A message is a command
 * (1..ACTOR_CMD_MAX characters; names starting with '$' belong to the pipe)
 * and a body of any bytes, possibly none: what the body holds (a number, a
 * proto/ JSON document) is the two ends' agreement.  Bodies are copied, so
 * no memory is ever shared between the threads.
 *
 * Rules:
 * - Messages arrive in order and are never dropped while both ends live.
 *   Neither end ever blocks on a send: the pipe has no high-water mark, so
 *   a reply the owner has not read yet costs memory, not a stall.
 * - The actor calls actor_ready() once, when it has set itself up (or
 *   failed to); actor_new() waits for it.  It then serves messages until it
 *   receives ACTOR_TERM, and returns.  Messages sent before actor_free() are
 *   all delivered to the actor before ACTOR_TERM.
 * - Signals are blocked on the actor's thread, so SIGINT and SIGTERM reach
 *   the owner's loop.
 * - Each handle is used by its own thread only: actor_t by the owner,
 *   actor_pipe_t by the actor.
 */
#ifndef CARBS_PROTO_ACTOR_H
#define CARBS_PROTO_ACTOR_H

#include "proto/common.h"

/* Longest command name, terminator excluded. */
#define ACTOR_CMD_MAX 31
/* The command actor_free() sends: the actor returns when it receives it. */
#define ACTOR_TERM "$TERM"

typedef struct actor actor_t;           /* the owner's end */
typedef struct actor_pipe actor_pipe_t; /* the actor's end */

/* One message.  body holds len bytes and a terminating NUL not counted in
 * len (so a text body reads as a C string); it is never NULL after a
 * successful receive.  Owned by the receiver: release it with
 * actor_msg_release(). */
typedef struct actor_msg {
    char cmd[ACTOR_CMD_MAX + 1];
    char *body;
    size_t len;
} actor_msg_t;

/* The actor's body, run on its own thread with its end of the pipe and
 * the arg given to actor_new().  arg is the owner's: the actor may read it
 * only until it calls actor_ready(), and copies what it keeps. */
typedef void actor_fn_t(actor_pipe_t *pipe, void *arg);

// ---- the owner's end ----

/* Start fn(pipe, arg) on a new thread and wait until it calls
 * actor_ready().  Returns the actor (the caller frees it with
 * actor_free()), or NULL with err filled: the error the actor passed to
 * actor_ready(), CARBS_ESTATE when fn returned without calling it,
 * CARBS_EIO when the pipe or the thread cannot be made.  On failure the
 * thread has ended. */
actor_t *actor_new(actor_fn_t *fn, void *arg, carbs_err_t *err);

/* Send ACTOR_TERM, wait for the actor's thread to end and free everything;
 * messages the actor sent that were not received are dropped.  Blocks as
 * long as the actor takes to reach ACTOR_TERM (it first handles every
 * message sent before).  a may be NULL. */
void actor_free(actor_t *a);

/* Send the command cmd with len bytes of body (body may be NULL when len is
 * 0).  Never blocks.  Returns 0, CARBS_EINVAL for a command that is empty,
 * too long or starts with '$', CARBS_EBUSY when the actor has already
 * returned, CARBS_EIO on another socket failure. */
int actor_send(actor_t *a, const char *cmd, const void *body, size_t len, carbs_err_t *err);

/* Wait up to timeout_ms (0 = just look, negative = until one comes) for a
 * message from the actor into *out.  Returns 0, CARBS_ETIMEDOUT when none
 * came in time (also when a signal cut the wait short), CARBS_ENOMEM when
 * the body cannot be allocated (that message is lost), CARBS_EPROTO for a
 * message that is not a command and a body, CARBS_EIO on a socket failure.
 * *out is untouched unless 0 is returned. */
int actor_recv(actor_t *a, actor_msg_t *out, int timeout_ms, carbs_err_t *err);

/* The file descriptor of the owner's socket (ZeroMQ's ZMQ_FD), for an event
 * loop that waits on descriptors: it becomes readable when messages may be
 * waiting, and stays quiet until actor_recv(a, ..., 0, ...) has been called
 * until CARBS_ETIMEDOUT.  So drain before waiting on it, and expect it to
 * wake without a message sometimes.  -1 on failure. */
int actor_fd(const actor_t *a);

// ---- the actor's end ----

/* Tell actor_new() that the actor is ready (err NULL or err->code 0) or
 * could not start (then actor_new() returns NULL with a copy of *err, and
 * the actor must return without receiving).  Only the first call counts. */
void actor_ready(actor_pipe_t *pipe, const carbs_err_t *err);

/* As actor_send() and actor_recv(), from the actor to its owner.  The
 * actor sees ACTOR_TERM as a message with that command and an empty body;
 * actor_pipe_send() returns CARBS_EBUSY once the owner has gone. */
int actor_pipe_send(actor_pipe_t *pipe, const char *cmd, const void *body, size_t len,
                    carbs_err_t *err);
int actor_pipe_recv(actor_pipe_t *pipe, actor_msg_t *out, int timeout_ms, carbs_err_t *err);

/* Free m's body and clear m.  m may be NULL. */
void actor_msg_release(actor_msg_t *m);

#endif
