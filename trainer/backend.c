/*
 * backend.c - the table of compiled-in compute backends, looked up by name
 * at run time, and the one parser of device specs ("cpu", "cuda:0,1").
 * The CPU backend is always present; the CUDA backend (trainer/cuda.cu)
 * adds its row when the build has CUDA (CARBS_HAVE_CUDA), and nothing else
 * in the trainer changes (docs/style.md H31).
 */
#include "proto/common.h"
#include "trainer/backend.h"

#include "carbs_config.h"

/* One row per compiled-in backend, the default first: its name and the
 * function that returns its table. */
#if CARBS_HAVE_CUDA
#define BACKENDS(X) X("cpu", cpu_backend) X("cuda", cuda_backend)
#else
#define BACKENDS(X) X("cpu", cpu_backend)
#endif

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

int backend_parse_device(const char *spec, const char **name, backend_opts_t *opt,
                         carbs_err_t *err)
{
    const char *p;
    int n = 0;

    if (!spec || strcmp(spec, "cpu") == 0) {
        *name = "cpu";
        opt->n_devices = 1;
        opt->devices[0] = 0;
        return 0;
    }
    if (strcmp(spec, "cuda") == 0) {
        *name = "cuda";
        opt->n_devices = 1;
        opt->devices[0] = 0;
        return 0;
    }
    if (strncmp(spec, "cuda:", 5) != 0)
        return carbs_fail(err, CARBS_EINVAL, "device '%s' is not cpu, cuda or cuda:K[,K...]",
                          spec);
    p = spec + 5;
    for (;;) {
        long k = 0;
        const char *start = p;

        while (*p >= '0' && *p <= '9' && p - start < 4)
            k = k * 10 + (*p++ - '0');
        if (p == start || (*p && *p != ','))
            return carbs_fail(err, CARBS_EINVAL, "device '%s': '%s' is not a device ordinal",
                              spec, start);
        if (n == BACKEND_DEVICES_MAX)
            return carbs_fail(err, CARBS_EINVAL, "device '%s': more than %d devices", spec,
                              BACKEND_DEVICES_MAX);
        for (int i = 0; i < n; i++)
            if (opt->devices[i] == (int)k)
                return carbs_fail(err, CARBS_EINVAL, "device '%s': ordinal %ld twice", spec, k);
        opt->devices[n++] = (int)k;
        if (!*p)
            break;
        p++;
    }
    *name = "cuda";
    opt->n_devices = n;
    return 0;
}
