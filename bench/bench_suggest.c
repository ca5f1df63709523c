/*
 * bench_suggest.c - time carbs_suggest after n observations (the speed
 * goals: p50 <= 20 ms at n = 100 and <= 300 ms at n = 1000, peak
 * memory <= 200 MB at n = 1000), single thread.
 *
 * Set-up per n: 5 parameters (log, log integer, linear, logit, log), n
 * observations drawn around a moving center with a cost-aware synthetic
 * loss, about 8 % of them failures, and 3 pending suggestions.  Then
 * `reps` BO suggestions are timed; each is registered as pending and
 * forgotten again so n and the pending count stay fixed.  Resampling is
 * off so every timed call is a BO suggestion.
 *
 *   bench_suggest [reps] [n ...]     (defaults: 9 reps, n = 50 100 400 1000)
 *
 * Prints one line per n: p50, min, max in ms, the kinds seen, and the
 * process's peak RSS so far.
 */
#include "proto/common.h"
#include "optimizer/carbs.h"

#include <math.h>
#include <sys/resource.h>

#include "optimizer/rng.h"
#include "trainer/blas.h"
#include "tests/fixture.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double peak_rss_mb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static int run(size_t n, int reps)
{
    carbs_param_t ps[5] = {
        fx_num_param("lr", CARBS_SPACE_LOG, 1e-5, 1, 3e-3, 1, false),
        fx_num_param("width", CARBS_SPACE_LOG, 8, 4096, 64, 1, true),
        fx_num_param("shift", CARBS_SPACE_LINEAR, -10, 10, 0.5, 1, false),
        fx_num_param("beta", CARBS_SPACE_LOGIT, 0.5, 0.9999, 0.95, 1, false),
        fx_num_param("tokens", CARBS_SPACE_LOG, 1e5, 1e11, 1e7, 1, false),
    };
    carbs_space_t sp = {0};
    carbs_config_t cfg;
    carbs_err_t err = {0};
    double *ms = xcalloc((size_t)reps, sizeof(double));
    int kinds[CARBS_SUGGEST_KIND_COUNT] = {0};
    rng_t rng;
    carbs_t *c;
    int rc = 0;

    for (size_t i = 0; i < 5; i++)
        carbs_space_add(&sp, &ps[i]);
    carbs_config_defaults(&cfg);
    cfg.resample_frequency = 0;
    cfg.seed = 12345 + n;
    c = carbs_new(&sp, &cfg, &err);
    if (!c) {
        fprintf(stderr, "bench_suggest: %s\n", err.msg);
        free(ms);
        return 1;
    }
    rng_seed(&rng, 777 + n);
    /* observations: random around a center that drifts toward larger runs */
    for (size_t i = 0; i < n; i++) {
        carbs_obs_t o = {0};
        double lr = 3e-3 * pow(10, 0.6 * rng_normal(&rng));
        double w = rint(64 * pow(2, 1.5 * rng_normal(&rng) + 3.0 * (double)i / (double)n));
        double tok = 1e7 * pow(10, 0.7 * rng_normal(&rng) + 1.5 * (double)i / (double)n);
        double shift = 0.5 + 2 * rng_normal(&rng), beta = 0.9 + 0.05 * rng_uniform(&rng);

        lr = fmin(fmax(lr, 2e-5), 0.5);
        w = fmin(fmax(w, 8), 4096);
        tok = fmin(fmax(tok, 2e5), 5e10);
        shift = fmin(fmax(shift, -9.5), 9.5);
        carbs_params_set_num(&o.params, "lr", lr);
        carbs_params_set_num(&o.params, "width", w);
        carbs_params_set_num(&o.params, "shift", shift);
        carbs_params_set_num(&o.params, "beta", beta);
        carbs_params_set_num(&o.params, "tokens", tok);
        o.cost = 1e-9 * w * w * tok;
        o.output = 2 + 30 / pow(w, 0.4) + 50 / pow(tok, 0.25) + pow(log10(lr / 2e-3), 2) +
                   0.02 * shift * shift + 0.01 * rng_normal(&rng);
        o.is_failure = lr > 0.05 || rng_uniform(&rng) < 0.05;
        if (carbs_observe(c, &o, &err) < 0) {
            fprintf(stderr, "bench_suggest: observe: %s\n", err.msg);
            rc = 1;
        }
        carbs_params_release(&o.params);
    }
    /* three pending suggestions */
    for (int k = 0; k < 3 && rc == 0; k++) {
        carbs_suggestion_t s = {0};
        if (carbs_suggest(c, &s, &err) < 0 || carbs_pending_add(c, 1000000 + k, &s.params, s.u,
                                                                &err) < 0)
            rc = 1;
        carbs_suggestion_release(&s);
    }
    for (int r = 0; r < reps && rc == 0; r++) {
        carbs_suggestion_t s = {0};
        double t0 = now_monotonic();

        if (carbs_suggest(c, &s, &err) < 0) {
            rc = 1;
            break;
        }
        ms[r] = 1e3 * (now_monotonic() - t0);
        kinds[s.kind]++;
        carbs_pending_add(c, 2000000 + r, &s.params, s.u, &err);
        carbs_forget(c, 2000000 + r, &err);
        carbs_suggestion_release(&s);
    }
    if (rc == 0) {
        qsort(ms, (size_t)reps, sizeof(*ms), cmp_double);
        printf("n=%-5zu successes=%-5zu failures=%-4zu pending=%zu  p50=%8.2f ms  min=%8.2f  "
               "max=%8.2f  bo=%d fallback=%d  peak_rss=%.1f MB\n",
               n, carbs_n_success(c), carbs_n_failure(c), carbs_n_pending(c), ms[reps / 2], ms[0],
               ms[reps - 1], kinds[CARBS_SUGGEST_BO], kinds[CARBS_SUGGEST_FALLBACK],
               peak_rss_mb());
    }
    carbs_free(c);
    carbs_space_release(&sp);
    free(ms);
    return rc;
}

int main(int argc, char **argv)
{
    long reps = 9, n;
    int rc = 0;

    blas_core_fix(argv); /* the kernels carbs itself would run */
    if (argc > 1 && parse_long(argv[1], 1, 1000, &reps) < 0) {
        fprintf(stderr, "usage: bench_suggest [reps] [n ...]\n");
        return 2;
    }
    if (argc <= 2) {
        const size_t ns[] = {50, 100, 400, 1000};
        for (size_t i = 0; i < ARRAY_SIZE(ns); i++)
            rc |= run(ns[i], (int)reps);
        return rc;
    }
    for (int i = 2; i < argc; i++) {
        if (parse_long(argv[i], 1, 100000, &n) < 0) {
            fprintf(stderr, "bench_suggest: bad n '%s'\n", argv[i]);
            return 2;
        }
        rc |= run((size_t)n, (int)reps);
    }
    return rc;
}
