/*
 * cli.c - shared helpers for the subcommands: error printing, store paths.
 */
#include "proto/common.h"
#include "tools/cli.h"

#include <stdarg.h>

int cli_fail(const carbs_err_t *err)
{
    fprintf(stderr, "carbs: error: %s\n",
            err && err->msg[0] ? err->msg : carbs_strerror(err ? err->code : CARBS_EINVAL));
    return CLI_EXIT_FAIL;
}

int cli_error(int code, const char *fmt, ...)
{
    va_list ap;

    fputs("carbs: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int cli_usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;

    fputs("carbs: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n", usage);
    return CLI_EXIT_USAGE;
}

const char *cli_db_path(const char *arg)
{
    static const char prefix[] = "sqlite://";

    if (arg && strncmp(arg, prefix, sizeof(prefix) - 1) == 0)
        return arg + sizeof(prefix) - 1;
    return arg;
}

int cli_parse_sync(const char *arg, bool *normal)
{
    if (strcmp(arg, "full") == 0)
        *normal = false;
    else if (strcmp(arg, "normal") == 0)
        *normal = true;
    else
        return -1;
    return 0;
}

const char *cli_pick_db(const cli_globals_t *g, const char *local_db)
{
    return local_db ? cli_db_path(local_db) : g->db;
}
