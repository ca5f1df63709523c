/*
 * verb.h - what the read and write verbs around the service share
 * (status, trials, pareto, export, import, ask, tell, workers, slurm):
 * option parsing with the usage errors of tools/cli.h (exit 2), the sweep a
 * verb names (opened read-only: readers never write, docs/store.md), the export
 * record of a stored trial, and the check of a service's reply.
 *
 * Verbs that change a sweep never write the store themselves: they send
 * their request with request_send() (tools/request.h), which reaches the
 * running service or a one-shot one.
 */
#ifndef CARBS_TOOLS_VERB_H
#define CARBS_TOOLS_VERB_H

#include <getopt.h>

#include "proto/msg.h"
#include "proto/record.h"
#include "proto/sweep.h"
#include "store/store.h"
#include "tools/format.h"

/* getopt_long over argv with a ":" optstring prefix plus shortopts (NULL =
 * only "h").  Returns -1 when the options are done, 'h' for --help, the
 * option's value, or '?' after printing a usage error (unknown option or a
 * missing value) with usage; *exit_code is then CLI_EXIT_USAGE. */
int verb_getopt(int argc, char **argv, const char *shortopts, const struct option *opts,
                const char *usage, int *exit_code);

/* A verb's --format argument: parse arg into *fmt when its bit is in
 * allowed (FORMAT_ALLOW_*).  Returns 0, or prints the usage error "unknown
 * format 'xml' (json, csv, table)" (the allowed formats) with usage and
 * returns its exit code, CLI_EXIT_USAGE. */
int verb_format(const char *arg, unsigned allowed, const char *usage, format_t *fmt);

/* The one operand left after the options, argv[optind], into *out (what
 * names it in the error).  Returns 0, or prints "missing <what>" or
 * "unexpected argument '<arg>'" with usage and returns CLI_EXIT_USAGE. */
int verb_operand(int argc, char **argv, const char *usage, const char *what, const char **out);

/* A sweep a verb reads: the store opened read-only, the sweep's row and
 * its parsed spec.  All owned; release with verb_sweep_close(). */
typedef struct verb_sweep {
    store_t *st;
    store_sweep_t row;
    sweep_spec_t spec;
} verb_sweep_t;

/* Open the store at db read-only.  NULL with err filled (CARBS_ENOTFOUND
 * for a missing file, the store's codes otherwise). */
store_t *verb_store_open(const char *db, carbs_err_t *err);

/* For a verb that sends a request about an existing sweep (ask, tell): 0
 * when the store at db exists, else CLI_EXIT_USAGE after saying so on
 * stderr, since the one-shot service would create an empty store. */
int verb_store_exists(const char *db);

/* Open db read-only and find sweep (id or name) in it, into *out (zeroed
 * first).  Returns 0, CARBS_ENOTFOUND for a missing store or an unknown
 * sweep, or the store's or the spec codec's error; *out is closed on
 * failure. */
int verb_sweep_open(const char *db, const char *sweep, verb_sweep_t *out, carbs_err_t *err);

/* The SWEEP operand of a read verb, opened: verb_operand() and then
 * verb_sweep_open() on the store db.  Returns 0 with *out open, or the
 * exit code after printing the usage error or the failure (*out is then
 * closed). */
int verb_sweep_arg(int argc, char **argv, const char *usage, const char *db, verb_sweep_t *out);

/* Close what verb_sweep_open() opened.  Safe on a zeroed or closed *v. */
void verb_sweep_close(verb_sweep_t *v);

/* The export record (proto/record.h) of a stored trial that has a result
 * (row->has_result), into *rec, which this function initialises.  A cost
 * the store holds as NULL becomes 0, since a record's cost is a number.
 * Returns 0, CARBS_EINVAL when row has no result, or the JSON codecs'
 * error (stored text that does not decode); on failure *rec is empty. */
int verb_record(const store_record_t *row, proto_record_t *rec, carbs_err_t *err);

/* Check a service's answer to a request: 0 for a reply with ok, otherwise
 * CARBS_EINVAL (a refused request: the reply's message, or the error
 * frame's message) or CARBS_EPROTO (anything else) with err filled. */
int verb_reply_check(const proto_msg_t *reply, carbs_err_t *err);

#endif
