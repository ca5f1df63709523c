/*
 * runner_internal.h - what runner.c (the worker's side) and runner_child.c
 * (the forked child's side) share.  Nothing here is API.
 *
 * The pipe carries lines, one message each:
 *   "G <pgid>\n"         the command trial's program runs in process group pgid
 *   "P <progress JSON>\n" a proto progress message
 *   "R <result JSON>\n"   the proto result message; the last line
 */
#ifndef CARBS_WORKER_RUNNER_INTERNAL_H
#define CARBS_WORKER_RUNNER_INTERNAL_H

#include "worker/runner.h"

/* The longest line the parent accepts: a full frame and its tag. */
#define RUNNER__LINE_MAX (PROTO_FRAME_MAX + 16)

/* Run trial in this (child) process, writing to fd, then _exit; parent is
 * the worker's pid, to notice a worker that died before the child was set
 * up.  Never returns. */
void runner__child_main(const runner_config_t *cfg, const proto_trial_t *trial, int fd,
                        pid_t parent) __attribute__((noreturn));

#endif
