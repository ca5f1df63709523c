/*
 * log.h - one small leveled logger to stderr (docs/style.md H38).
 *
 * One line per event:  2026-11-22T14:03:12Z I service: trial 42 assigned
 * The level is set once in main.c (--log-level or CARBS_LOG); it and the sink
 * are the logger's only state (H22).  Numeric code and store/ never log.
 */
#ifndef CARBS_PROTO_LOG_H
#define CARBS_PROTO_LOG_H

#include <stdio.h>

typedef enum log_level {
    LOG_ERROR = 0,
    LOG_WARN = 1,
    LOG_INFO = 2,
    LOG_DEBUG = 3,
} log_level_t;

/* Set the level and sink (NULL = stderr).  Call once from main(). */
void log_setup(log_level_t level, FILE *sink);

/* Parse "error" | "warn" | "info" | "debug" into *out.  Returns 0 or
 * CARBS_EINVAL. */
int log_parse_level(const char *s, log_level_t *out);

/* True when messages of level lvl are written. */
int log_enabled(log_level_t lvl);

void log_write(log_level_t lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)

#endif
