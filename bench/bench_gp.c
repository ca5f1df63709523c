/*
 * bench_gp.c - wall time of a GP refit and a candidate prediction at the
 * sizes the optimizer meets (n = 100, 400, 1000 observations, d = 5).
 *
 * For each n: data from a smooth test function on N(0, 0.6^2) inputs, then
 * the median (p50) over repetitions of
 *   refit-none   gp_set_data + gp_set_theta (one factorization: the floor),
 *   refit-warm   GP_FIT_MLE from the previous fit's theta, one new point,
 *   refit-cold   GP_FIT_MLE from the default theta,
 *   refit-ref    GP_FIT_REFERENCE (1000 Adam steps; n = 100 only, it is
 *                1000 loss evaluations),
 *   predict      mean and variance at 100 d candidates,
 *   sample       8 sequential Thompson fantasies.
 * Usage: bench_gp [repetitions]   (default 5; one line per measurement).
 */
#include "proto/common.h"

#include <math.h>

#include "optimizer/gp.h"
#include "optimizer/rng.h"
#include "trainer/blas.h"

#define BENCH_D 5
#define BENCH_CANDIDATES_PER_DIM 100
#define BENCH_PENDING 8
#define BENCH_REPS_DEFAULT 5
#define BENCH_REPS_MAX 101

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, size_t k)
{
    qsort(t, k, sizeof(double), cmp_double);
    return k % 2 ? t[k / 2] : 0.5 * (t[k / 2 - 1] + t[k / 2]);
}

static double test_function(const double *u)
{
    return sin(2.3 * u[0]) + 0.6 * u[1] * u[1] - 0.4 * u[2] * u[3] + 0.25 * cos(3.1 * u[4]);
}

static void report(const char *what, size_t n, double *t, size_t k, const gp_t *gp)
{
    gp_stats_t st;
    gp_stats(gp, &st);
    printf("%-12s n=%-5zu p50 %9.2f ms   (reps %zu, last fit: %zu iterations, %zu evals)\n",
           what, n, 1e3 * median(t, k), k, st.iterations, st.evals);
    fflush(stdout);
}

static int bench_size(size_t n, size_t reps, rng_t *r)
{
    size_t d = BENCH_D, m = BENCH_CANDIDATES_PER_DIM * d, nt = d + 3, n1 = n + 1;
    double *X = xmalloc(n1 * d * sizeof(double)), *y = xmalloc(n1 * sizeof(double));
    double *Z = xmalloc(m * d * sizeof(double)), *mu = xmalloc(m * sizeof(double));
    double *var = xmalloc(m * sizeof(double)), W[BENCH_PENDING * BENCH_D], f[BENCH_PENDING];
    double t[BENCH_REPS_MAX], theta[BENCH_D + 3];
    gp_config_t mle = {.fit = GP_FIT_MLE}, ref = {.fit = GP_FIT_REFERENCE};
    carbs_err_t err = {0};
    gp_t *gp = gp_new(&mle, d, &err), *gr = gp_new(&ref, d, &err);
    int rc = 0;

    if (!gp || !gr) {
        fprintf(stderr, "bench_gp: %s\n", err.msg);
        rc = 1;
        goto out;
    }
    for (size_t k = 0; k < n1 * d; k++)
        X[k] = 0.6 * rng_normal(r);
    for (size_t a = 0; a < n1; a++)
        y[a] = test_function(X + a * d) + 0.05 * rng_normal(r);
    for (size_t k = 0; k < m * d; k++)
        Z[k] = 0.6 * rng_normal(r);
    for (size_t k = 0; k < BENCH_PENDING * d; k++)
        W[k] = 0.6 * rng_normal(r);

    for (size_t i = 0; i < reps; i++) {
        double t0 = now_monotonic();
        rc = gp_refit(gp, X, y, n, NULL, 0, r, &err);
        t[i] = now_monotonic() - t0;
        if (rc < 0)
            goto fail;
    }
    report("refit-cold", n, t, reps, gp);
    memcpy(theta, gp_theta(gp), nt * sizeof(double));

    for (size_t i = 0; i < reps; i++) {
        double t0 = now_monotonic();
        rc = gp_refit(gp, X, y, n1, theta, nt, r, &err);
        t[i] = now_monotonic() - t0;
        if (rc < 0)
            goto fail;
    }
    report("refit-warm", n1, t, reps, gp);

    for (size_t i = 0; i < reps; i++) {
        double t0 = now_monotonic();
        rc = gp_set_data(gp, X, y, n1, &err);
        if (rc == 0)
            rc = gp_set_theta(gp, theta, nt, &err);
        t[i] = now_monotonic() - t0;
        if (rc < 0)
            goto fail;
    }
    report("refit-none", n1, t, reps, gp);

    for (size_t i = 0; i < reps; i++) {
        double t0 = now_monotonic();
        rc = gp_predict(gp, Z, m, mu, var);
        t[i] = now_monotonic() - t0;
        if (rc < 0)
            goto fail;
    }
    report("predict", n1, t, reps, gp);

    for (size_t i = 0; i < reps; i++) {
        double t0 = now_monotonic();
        rc = gp_sample(gp, W, BENCH_PENDING, 0.01, r, f, NULL, &err);
        t[i] = now_monotonic() - t0;
        if (rc < 0)
            goto fail;
    }
    report("sample", n1, t, reps, gp);

    if (n <= 100) {
        for (size_t i = 0; i < reps; i++) {
            double t0 = now_monotonic();
            rc = gp_refit(gr, X, y, n, NULL, 0, r, &err);
            t[i] = now_monotonic() - t0;
            if (rc < 0)
                goto fail;
        }
        report("refit-ref", n, t, reps, gr);
    }
    goto out;
fail:
    fprintf(stderr, "bench_gp: n=%zu: %s\n", n, err.msg);
    rc = 1;
out:
    gp_free(gp);
    gp_free(gr);
    free(X);
    free(y);
    free(Z);
    free(mu);
    free(var);
    return rc;
}

int main(int argc, char **argv)
{
    static const size_t sizes[] = {100, 400, 1000};
    long reps = BENCH_REPS_DEFAULT;
    rng_t r;

    blas_core_fix(argv); /* the kernels carbs itself would run */
    if (argc > 2 || (argc == 2 && parse_long(argv[1], 1, BENCH_REPS_MAX, &reps) < 0)) {
        fprintf(stderr, "usage: bench_gp [repetitions 1..%d]\n", BENCH_REPS_MAX);
        return 2;
    }
    rng_seed(&r, 20231122);
    printf("bench_gp: d=%d, %d candidates, %d pending, openblas 1 thread, kernels %s\n", BENCH_D,
           BENCH_CANDIDATES_PER_DIM * BENCH_D, BENCH_PENDING, blas_core());
    for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
        if (bench_size(sizes[i], (size_t)reps, &r))
            return 1;
    return 0;
}
