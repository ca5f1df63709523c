/*
 * log.c - the leveled stderr logger.
 *
 * Each event is formatted into one buffer and written with a single fwrite,
 * so lines from several processes sharing stderr do not interleave.
 */
#include "proto/common.h"
#include "proto/log.h"

#include <stdarg.h>
#include <time.h>

/* Set once in main() (one of the two exceptions of docs/style.md H22). */
static log_level_t log_level = LOG_INFO;
static FILE *log_sink;

void log_setup(log_level_t level, FILE *sink)
{
    log_level = level;
    log_sink = sink;
}

int log_parse_level(const char *s, log_level_t *out)
{
    static const char *names[] = {"error", "warn", "info", "debug"};

    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (s && strcmp(s, names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return CARBS_EINVAL;
}

int log_enabled(log_level_t lvl)
{
    return lvl <= log_level;
}

void log_write(log_level_t lvl, const char *fmt, ...)
{
    static const char letters[] = "EWID";
    char line[1024];
    struct tm tm;
    time_t t;
    size_t n;
    va_list ap;

    if (!log_enabled(lvl))
        return;
    t = time(NULL);
    gmtime_r(&t, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, "%c ", letters[lvl]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    n = strlen(line);
    if (n == sizeof(line) - 1)
        n--;
    line[n++] = '\n';
    fwrite(line, 1, n, log_sink ? log_sink : stderr);
}
