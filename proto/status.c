/*
 * status.c - the status table's strings, and carbs_fail().
 *
 * Everything here is generated from CARBS_STATUS_MAP in status.h, so the enum,
 * its messages and its wire names cannot drift apart.
 */
#include "proto/common.h"
#include "proto/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int carbs_fail(carbs_err_t *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

int carbs_err_prefix(carbs_err_t *err, const char *prefix)
{
    char tmp[sizeof(err->msg) + 64];
    int n;

    if (!err)
        return CARBS_EINVAL;
    n = snprintf(tmp, sizeof(tmp), "%s: %s", prefix, err->msg);
    if (n < 0)
        return err->code;
    str_copy(err->msg, sizeof(err->msg), tmp); /* truncation is acceptable here */
    return err->code;
}

void carbs_err_clear(carbs_err_t *err)
{
    if (!err)
        return;
    err->code = 0;
    err->msg[0] = '\0';
}

const char *carbs_strerror(int code)
{
    switch (code) {
#define X(name, val, msg)                                                                          \
    case val:                                                                                      \
        return msg;
        CARBS_STATUS_MAP(X)
#undef X
    }
    return "unknown status";
}

const char *carbs_errname(int code)
{
    switch (code) {
#define X(name, val, msg)                                                                          \
    case val:                                                                                      \
        return #name;
        CARBS_STATUS_MAP(X)
#undef X
    }
    return "EUNKNOWN";
}

int carbs_errcode(const char *name)
{
    if (!name)
        return 0;
#define X(n, val, msg)                                                                             \
    if (val != 0 && strcmp(name, #n) == 0)                                                         \
        return val;
    CARBS_STATUS_MAP(X)
#undef X
    return 0;
}
