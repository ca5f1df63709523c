/*
 * blas.c - see blas.h.
 */
#include "proto/common.h"
#include "trainer/blas.h"

#include <errno.h>
#include <strings.h>
#include <unistd.h>

#include "proto/log.h"

/* OpenBLAS exports these; its cblas.h is not needed for two symbols. */
extern char *openblas_get_corename(void);

/* Kernel sets OpenBLAS falls back to, none with AVX2: an unknown CPU gets one. */
static const char *const fallback_cores[] = {
    "Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Katmai",
    "Coppermine", "Northwood", "Banias", "Atom", "Sandybridge", "Unknown",
};

const char *blas_core(void)
{
    const char *name = openblas_get_corename();

    return name ? name : "unknown";
}

const char *blas_core_wanted(void)
{
    const char *now = blas_core();
    const char *set = getenv("OPENBLAS_CORETYPE");
    bool fallback = false;

    if (set && *set) return NULL;
    for (size_t i = 0; i < ARRAY_SIZE(fallback_cores); i++)
        if (strcasecmp(now, fallback_cores[i]) == 0) fallback = true;
    if (!fallback) return NULL;
    /* __builtin_cpu_supports also checks that the OS saves the wider
     * registers (XCR0), so a "yes" here is safe to act on. */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512cd"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return NULL;
}

void blas_core_fix(char **argv)
{
    const char *want = blas_core_wanted();

    if (!want) return;
    if (setenv("OPENBLAS_CORETYPE", want, 1) < 0) return;
    execv("/proc/self/exe", argv);
    /* Still here: run on with the loaded kernels.  The variable stays set so
     * that children do not try again. */
    log_debug("blas: cannot re-exec with OPENBLAS_CORETYPE=%s: %s", want, strerror(errno));
}
