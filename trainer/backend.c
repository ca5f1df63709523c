/*
 * backend.c - the table of compiled-in compute backends, looked up by name
 * at run time.  The CPU backend is always present; a device
 * backend adds one line here behind its build flag, and nothing else in
 * the trainer changes.
 */
#include "proto/common.h"
#include "trainer/backend.h"

/* One row per compiled-in backend, the default first: its name and the
 * function that returns its table.  A device backend adds its row here
 * behind its build flag. */
#define BACKENDS(X) X("cpu", cpu_backend)

static const struct {
    const char *name;
    const backend_ops_t *(*ops)(void);
} table[] = {
#define X(name, ops) {name, ops},
    BACKENDS(X)
#undef X
};

static const char *const names[] = {
#define X(name, ops) name,
    BACKENDS(X)
#undef X
        NULL,
};

const backend_ops_t *backend_find(const char *name)
{
    if (!name)
        return table[0].ops();
    for (size_t i = 0; i < ARRAY_SIZE(table); i++)
        if (strcmp(name, table[i].name) == 0)
            return table[i].ops();
    return NULL;
}

const char *const *backend_names(void)
{
    return names;
}
