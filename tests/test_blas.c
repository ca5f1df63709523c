/*
 * test_blas.c - trainer/blas.c: OpenBLAS's kernel choice, and the carbs
 * binary's re-exec that replaces a fallback choice on a CPU with AVX2.
 *
 * The binary is run through popen with OPENBLAS_CORETYPE removed from its
 * environment, and its `carbs version` line read back.
 */
#include "proto/common.h"
#include "trainer/blas.h"

#include <cblas.h>

#include "tests/check.h"

static const char *const slow_cores[] = {"Prescott", "Core2",  "Penryn",     "Dunnington",
                                         "Nehalem",  "Katmai", "Coppermine", "Northwood",
                                         "Banias",   "Atom",   "Sandybridge"};

static bool is_slow(const char *core)
{
    for (size_t i = 0; i < ARRAY_SIZE(slow_cores); i++)
        if (strcasecmp(core, slow_cores[i]) == 0) return true;
    return false;
}

static bool has_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* "carbs version" with env_prefix; the core name from its "blas:" line. */
static bool binary_core(const char *env_prefix, char *core, size_t cap)
{
    const char *bin = getenv("CARBS_BIN");
    char cmd[1024], line[256];
    bool found = false;
    FILE *p;

    if (!bin) return false;
    snprintf(cmd, sizeof(cmd), "env -u OPENBLAS_CORETYPE %s '%s' version", env_prefix, bin);
    p = popen(cmd, "r");
    if (!p) return false;
    while (fgets(line, sizeof(line), p)) {
        char name[64];

        if (sscanf(line, "blas: OpenBLAS kernels %63s", name) == 1) {
            snprintf(core, cap, "%s", name);
            found = true;
        }
    }
    CHECK_EQ(pclose(p), 0);
    return found;
}

static void test_blas_core_named(void)
{
    const char *core = blas_core();

    CHECK(core != NULL);
    CHECK(core && *core);
}

static void test_blas_wanted_respects_the_variable(void)
{
    const char *before = getenv("OPENBLAS_CORETYPE");
    char *saved = before ? strdup(before) : NULL;

    setenv("OPENBLAS_CORETYPE", "Haswell", 1);
    CHECK(blas_core_wanted() == NULL);
    unsetenv("OPENBLAS_CORETYPE");
    {
        const char *want = blas_core_wanted();

        /* Without the variable: a fallback core on an AVX2 machine is
         * replaced, and by a core with AVX2; anything else stays. */
        if (is_slow(blas_core()) && has_avx2()) {
            CHECK(want != NULL);
            CHECK(want && !is_slow(want));
        } else {
            CHECK(want == NULL);
        }
    }
    if (saved) setenv("OPENBLAS_CORETYPE", saved, 1);
    free(saved);
}

static void test_blas_binary_runs_fast_kernels(void)
{
    char core[64] = "";

    if (!getenv("CARBS_BIN")) {
        fprintf(stderr, "CARBS_BIN not set: skipping the binary checks\n");
        return;
    }
    CHECK(binary_core("", core, sizeof(core)));
    if (has_avx2()) CHECK(!is_slow(core));
    /* The user's choice wins, whatever it is. */
    CHECK(binary_core("OPENBLAS_CORETYPE=Prescott", core, sizeof(core)));
    CHECK_STR(core, "Prescott");
}

/* Whatever kernels are loaded, they compute: a 3x3 product by hand. */
static void test_blas_kernels_compute(void)
{
    const float a[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const float b[9] = {9, 8, 7, 6, 5, 4, 3, 2, 1};
    float c[9] = {0};
    const float want[9] = {30, 24, 18, 84, 69, 54, 138, 114, 90};

    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 3, 3, 3, 1.0f, a, 3, b, 3, 0.0f, c, 3);
    for (int i = 0; i < 9; i++)
        CHECK_NEAR(c[i], want[i], 1e-4);
}

int main(void)
{
    RUN(test_blas_core_named);
    RUN(test_blas_wanted_respects_the_variable);
    RUN(test_blas_binary_runs_fast_kernels);
    RUN(test_blas_kernels_compute);
    return check_summary();
}
