/*
 * backend.c - the table of compiled-in compute backends, looked up by name
 * at run time.  The CPU backend is always present; a device
 * backend adds one line here behind its build flag, and nothing else in
 * the trainer changes.
 */
#include "proto/common.h"
#include "trainer/backend.h"

static const char *const names[] = {"cpu", NULL};

const backend_ops_t *backend_find(const char *name)
{
    if (!name || strcmp(name, "cpu") == 0)
        return cpu_backend();
    return NULL;
}

const char *const *backend_names(void)
{
    return names;
}
