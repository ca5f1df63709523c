/*
 * cli.h - what every `carbs` subcommand shares (docs/style.md H36, H37).
 *
 * Exit codes: 0 success, 1 runtime failure, 2 misuse or bad input.  stdout
 * is for data only; errors go to stderr as "carbs: error: <msg>".
 */
#ifndef CARBS_TOOLS_CLI_H
#define CARBS_TOOLS_CLI_H

#include "proto/common.h"
#include "proto/log.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* Options given before the subcommand, resolved once in main(). */
typedef struct cli_globals {
    const char *db; /* store path: --db, else $CARBS_DB, else "./carbs.db"; prefix stripped */
    log_level_t log_level;
} cli_globals_t;

/* Print "carbs: error: <msg>" to stderr and return CLI_EXIT_FAIL. */
int cli_fail(const carbs_err_t *err);

/* Print "carbs: error: <msg>" to stderr and return code (1 or 2). */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "carbs <cmd>: <msg>" and "usage: <usage>" to stderr; return 2. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resolve a store argument: "sqlite:///path" and "sqlite://path" become
 * "/path" and "path"; a plain path is returned as is.  Borrowed from arg. */
const char *cli_db_path(const char *arg);

/* --sync MODE: "full" sets *normal false, "normal" true; -1 for anything else. */
int cli_parse_sync(const char *arg, bool *normal);

/* The store path a command should use: its own --db (may be NULL) over the
 * global one.  Borrowed. */
const char *cli_pick_db(const cli_globals_t *g, const char *local_db);

#endif
