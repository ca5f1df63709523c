/*
 * laws_bench.c - how well do the scaling-law estimators predict a run 10x
 * and 100x dearer than any trial of the sweep (docs/scaling-laws.md
 * "Measured accuracy")?
 *
 * Each surface is a Chinchilla-form loss of our own design,
 *     L(N, D) = E + A / N^alpha + B / D^beta,  C = 6 N D,
 * plus penalties for hyperparameters whose optimum moves with C: the
 * learning rate lr*(C) = lr0 (C / C0)^lr_exp, on some surfaces a warmup
 * fraction and a batch size too, in different shapes (quadratic,
 * asymmetric with a divergence region that fails the trial, added or
 * multiplied, saturating), with Gaussian noise.  The last surface, `sat`,
 * is a check against tuning the fit to the others: its exponents and lr
 * penalty shape differ, and the "all" rows leave it out.  Because the penalties vanish at the
 * optimum, the true front is L*(C) = E + K C^(-alpha beta / (alpha + beta))
 * and the compute-optimal N_opt ~ C^(beta / (alpha + beta)), known exactly.
 *
 * For every seed a real CARBS sweep (optimizer/carbs.h, in process) runs
 * `trials` trials with max_suggestion_cost = 1 cost unit; then each
 * estimator fits the successful trials and predicts at 10 and 100 units:
 * the best metric (relative error against L*, and whether the 90 % interval
 * covers L*), the compute-optimal N exponent (from the model-size
 * parameter's optimum line) and the optimal learning rate (relative error).
 *
 *   laws_bench [--seeds N] [--trials N] [--surface NAME|all] [--boot N] [--quick]
 *              [--drift X] [--joint-tau T] [--tau T] [--nd-tau T]
 *              (the scaling_config_t knobs)
 *   laws_bench --timing [--surface NAME] [--max-n N] [--max-trials N]
 *   --estimator NAME fits with that estimator only.
 *   --cache DIR keeps each CARBS sweep in DIR and reads it back on the next
 *   run: the sweeps do not depend on the fit, so refits take seconds.
 *
 * --timing times the full fit (200 replicates, 100 when thinned, as the service runs it) and
 * the cheap fit against the number of trials, 200 to 10,000, on trials
 * drawn around the surface's optimum (a CARBS sweep of 10,000 trials would
 * take hours), once with the cap on the trials the joint model fits
 * (--max-trials; default SCALING_DEFAULT_MAX_TRIALS) and once with every
 * trial, and prints both predictions at 100x.
 */
#include "proto/common.h"
#include "optimizer/carbs.h"

#include <math.h>
#include <time.h>

#include "optimizer/rng.h"
#include "optimizer/scaling.h"

/* One cost unit in FLOPs: the sweep's cap. */
#define FLOPS_PER_UNIT 1e18
#define MAX_DIM 5
/* The largest sweep: a CARBS run, or --timing's drawn trials. */
#define MAX_TRIALS 10000

typedef enum shape { SHAPE_QUAD, SHAPE_ASYM, SHAPE_MULT, SHAPE_SAT } shape_t;

typedef struct surface {
    const char *name;
    const char *what;
    double E, A, B, alpha, beta;
    double lr0, lr_exp; /* lr*(C) = lr0 (C / 1 unit)^lr_exp */
    double k_lr;        /* penalty per (ln lr - ln lr*)^2 */
    shape_t shape;
    bool warmup, batch; /* also search these */
    double noise;
    bool check; /* a check against tuning to the others: not in the mean */
} surface_t;

static const surface_t surfaces[] = {
    {"chin", "Hoffmann constants, quadratic lr penalty, noise 0.005", 1.69, 406.4, 410.7, 0.34,
     0.28, 2e-3, -0.08, 0.02, SHAPE_QUAD, false, false, 0.005, false},
    {"steep", "alpha = beta = 0.5, asymmetric lr penalty, lr > 8 lr* fails, noise 0.01", 2.0,
     900.0, 2500.0, 0.5, 0.5, 1e-3, -0.12, 0.03, SHAPE_ASYM, false, false, 0.01, false},
    {"wide", "alpha 0.25, beta 0.35, lr + warmup + batch penalties, noise 0.003", 1.2, 60.0,
     400.0, 0.25, 0.35, 3e-3, -0.05, 0.015, SHAPE_QUAD, true, true, 0.003, false},
    {"mult", "alpha = beta = 0.3, penalties multiply the loss, noise 0.02", 1.8, 250.0, 300.0,
     0.3, 0.3, 2e-3, -0.1, 0.01, SHAPE_MULT, true, false, 0.02, false},
    {"sat", "alpha 0.4, beta 0.22, lr penalty saturating far off, warmup, noise 0.008 (check)",
     2.2, 180.0, 900.0, 0.4, 0.22, 5e-4, -0.06, 0.04, SHAPE_SAT, true, false, 0.008, true},
};

// ---- the surfaces ----

static double n_exp(const surface_t *s)
{
    return s->beta / (s->alpha + s->beta);
}

/* The compute-optimal N at C units. */
static double n_opt(const surface_t *s, double C)
{
    double G = pow(s->alpha * s->A / (s->beta * s->B), 1.0 / (s->alpha + s->beta));
    return G * pow(C * FLOPS_PER_UNIT / 6.0, n_exp(s));
}

static double front_true(const surface_t *s, double C)
{
    double N = n_opt(s, C), D = C * FLOPS_PER_UNIT / (6.0 * N);
    return s->E + s->A * pow(N, -s->alpha) + s->B * pow(D, -s->beta);
}

static double lr_true(const surface_t *s, double C)
{
    return s->lr0 * pow(C, s->lr_exp);
}

/* The loss of one trial x = (N, D, lr, warmup, batch), NaN when it diverges. */
static double trial_loss(const surface_t *s, const double *x, rng_t *noise)
{
    double C = 6.0 * x[0] * x[1] / FLOPS_PER_UNIT;
    double L = s->E + s->A * pow(x[0], -s->alpha) + s->B * pow(x[1], -s->beta);
    double g = log(x[2] / lr_true(s, C)), pen = 0.0;

    if (s->shape == SHAPE_ASYM) {
        if (g > log(8.0))
            return NAN;
        pen = s->k_lr * g * g * (g > 0.0 ? 2.5 : 1.0);
    } else if (s->shape == SHAPE_SAT) {
        /* quadratic near the optimum, flattening to 4 k_lr far from it */
        pen = 4.0 * s->k_lr * (1.0 - exp(-g * g / 4.0));
    } else {
        pen = s->k_lr * g * g;
    }
    if (s->warmup) {
        double w = 0.05 + 0.015 * log10(C); /* optimum moves with C */
        pen += 0.4 * (x[3] - w) * (x[3] - w);
    }
    if (s->batch) {
        double lb = log2(x[4]) - log2(128.0 * pow(C, 0.15));
        pen += 0.004 * lb * lb;
    }
    if (s->shape == SHAPE_MULT)
        L *= 1.0 + pen / 2.0;
    else
        L += pen;
    return L + s->noise * rng_normal(noise);
}

// ---- one sweep ----

/* The searched space: model size, tokens, learning rate, warmup fraction,
 * batch size (the first surface_dims() of them). */
static const carbs_param_t space_params[MAX_DIM] = {
    {.name = "n_params", .space = CARBS_SPACE_LOG, .min = 1e6, .max = 1e11, .center = 1e7,
     .scale = 1.0},
    {.name = "tokens", .space = CARBS_SPACE_LOG, .min = 1e7, .max = 1e13, .center = 1e9,
     .scale = 1.0},
    {.name = "learning_rate", .space = CARBS_SPACE_LOG, .min = 1e-5, .max = 1e-1,
     .center = 1e-3, .scale = 1.0},
    {.name = "warmup", .space = CARBS_SPACE_LINEAR, .min = 0.0, .max = 0.5, .center = 0.1,
     .scale = 0.2},
    {.name = "batch_size", .space = CARBS_SPACE_LOG, .min = 8.0, .max = 8192.0, .center = 64.0,
     .scale = 1.0},
};

typedef struct sweep {
    size_t n, d;
    double cost[MAX_TRIALS], out[MAX_TRIALS], u[MAX_TRIALS * MAX_DIM], N[MAX_TRIALS],
        D[MAX_TRIALS];
    size_t n_fail;
} sweep_t;

static size_t surface_dims(const surface_t *s)
{
    return s->batch ? 5 : s->warmup ? 4 : 3;
}

static int run_carbs(const surface_t *s, uint64_t seed, size_t trials, sweep_t *w);

/* The sweep of (s, seed, trials) from cache_dir when an earlier run left
 * it there (the sweeps do not depend on the fit; refits of the same sweeps
 * while tuning take seconds, not minutes); NULL: no cache. */
static bool cache_load(const char *cache_dir, const surface_t *s, uint64_t seed, size_t trials,
                       sweep_t *w, char *path, size_t cap)
{
    if (!cache_dir)
        return false;
    snprintf(path, cap, "%s/%s-%llu-%zu.sweep", cache_dir, s->name, (unsigned long long)seed,
             trials);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    bool ok = fread(w, sizeof(*w), 1, f) == 1;
    fclose(f);
    return ok;
}

static int run_sweep(const surface_t *s, uint64_t seed, size_t trials, sweep_t *w,
                     const char *cache_dir)
{
    char path[512];

    if (cache_load(cache_dir, s, seed, trials, w, path, sizeof(path)))
        return 0;
    int rc = run_carbs(s, seed, trials, w);
    if (!rc && cache_dir) {
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(w, sizeof(*w), 1, f);
            fclose(f);
        }
    }
    return rc;
}

static int run_carbs(const surface_t *s, uint64_t seed, size_t trials, sweep_t *w)
{
    carbs_space_t sp = {0};
    carbs_config_t cfg;
    carbs_err_t err = {0};
    rng_t noise;
    carbs_t *c;
    size_t d = surface_dims(s);
    const carbs_param_t *ps = space_params;

    for (size_t i = 0; i < d; i++)
        carbs_space_add(&sp, &ps[i]);
    carbs_config_defaults(&cfg);
    cfg.seed = seed;
    cfg.max_suggestion_cost = 1.0;
    c = carbs_new(&sp, &cfg, &err);
    if (!c) {
        fprintf(stderr, "laws_bench: %s\n", err.msg);
        carbs_space_release(&sp);
        return -1;
    }
    rng_seed(&noise, seed * 7919 + 17);
    w->n = w->n_fail = 0;
    w->d = d;
    for (size_t t = 0; t < trials && t < 1024; t++) {
        carbs_suggestion_t sg = {0};
        double x[MAX_DIM] = {0, 0, 0, 0.1, 64};
        if (carbs_suggest(c, &sg, &err) < 0)
            break;
        carbs_pending_add(c, (int64_t)t + 1, &sg.params, sg.u, &err);
        for (size_t i = 0; i < d; i++)
            x[i] = carbs_params_find(&sg.params, ps[i].name)->num;
        double y = trial_loss(s, x, &noise), C = 6.0 * x[0] * x[1] / FLOPS_PER_UNIT;
        carbs_obs_t o = {.id = (int64_t)t + 1, .params = sg.params, .output = y, .cost = C,
                         .is_failure = !isfinite(y)};
        carbs_observe(c, &o, &err);
        if (isfinite(y)) {
            w->cost[w->n] = C;
            w->out[w->n] = y;
            memcpy(w->u + w->n * d, sg.u, d * sizeof(double));
            w->N[w->n] = x[0];
            w->D[w->n] = x[1];
            w->n++;
        } else {
            w->n_fail++;
        }
        carbs_suggestion_release(&sg);
    }
    carbs_free(c);
    carbs_space_release(&sp);
    return 0;
}

// ---- timing ----

/* n trials of surface s drawn around its optimum, as a long sweep leaves
 * them: cost log-uniform over three decades below the cap, each
 * hyperparameter off its optimum by a normal draw in its basic units (the
 * spread of CARBS's search radius), failures dropped. */
static void draw_trials(const surface_t *s, size_t n, uint64_t seed, sweep_t *w, size_t cap)
{
    rng_t r;
    size_t d = surface_dims(s);

    rng_seed(&r, seed);
    w->n = w->n_fail = 0;
    w->d = d;
    for (size_t t = 0; t < n && w->n < cap; t++) {
        double C = pow(10.0, -3.0 + 3.0 * rng_uniform(&r));
        double u[MAX_DIM], x[MAX_DIM];
        double N = n_opt(s, C) * pow(10.0, 0.3 * rng_normal(&r));
        x[0] = N;
        x[1] = C * FLOPS_PER_UNIT / (6.0 * N);
        x[2] = lr_true(s, C) * pow(10.0, 0.4 * rng_normal(&r));
        x[3] = fmin(fmax(0.05 + 0.015 * log10(C) + 0.1 * rng_normal(&r), 0.0), 0.5);
        x[4] = 128.0 * pow(C, 0.15) * pow(2.0, 1.5 * rng_normal(&r));
        for (size_t j = 0; j < d; j++)
            u[j] = space_params[j].space == CARBS_SPACE_LOG
                       ? log10(x[j]) / space_params[j].scale
                       : x[j] / space_params[j].scale;
        double y = trial_loss(s, x, &r);
        if (!isfinite(y)) {
            w->n_fail++;
            continue;
        }
        w->cost[w->n] = C;
        w->out[w->n] = y;
        memcpy(w->u + w->n * d, u, d * sizeof(double));
        w->N[w->n] = x[0];
        w->D[w->n] = x[1];
        w->n++;
    }
}

/* CPU seconds of this process: the fit runs on one thread, and the shared
 * machine's load would swamp wall-clock times. */
static double cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of one fit of w with max_trials (0: the default cap), and
 * its prediction at 100x into *m100, *lo100, *hi100. */
static double time_fit(const sweep_t *w, size_t max_trials, bool full, double *m100, double *lo100,
                       double *hi100)
{
    scaling_input_t in = {.n = w->n, .cost = w->cost, .output = w->out, .d = w->d, .u = w->u,
                          .n_params = w->N, .tokens = w->D};
    scaling_config_t cfg = {.seed = 1, .max_trials = max_trials};
    carbs_err_t err = {0};
    laws_t l;
    double t0 = cpu_seconds();
    int rc = full ? scaling_fit_all(&in, &cfg, &l, &err) : scaling_fit_cheap(&in, &cfg, &l, &err);
    double t = cpu_seconds() - t0;

    *m100 = *lo100 = *hi100 = NAN;
    if (rc) {
        fprintf(stderr, "laws_bench: %s\n", err.msg);
        return NAN;
    }
    laws_power_t p = l.loss;
    p.status = 0;
    scaling_power_predict(&p, l.level, 100.0, m100, lo100, hi100);
    laws_release(&l);
    return t;
}

static int run_timing(const char *which, long max_n, size_t cap)
{
    static const size_t sizes[] = {200, 500, 1000, 2000, 5000, 10000};
    static sweep_t w;
    const surface_t *s = &surfaces[0];

    for (size_t k = 0; k < ARRAY_SIZE(surfaces); k++)
        if (strcmp(which, surfaces[k].name) == 0)
            s = &surfaces[k];
    printf("laws_bench --timing: surface %s, trials drawn around its optimum, joint estimator, "
           "200 replicates (100 when thinned), CPU seconds; true best at 100x %.4f\n",
           s->name, front_true(s, 100.0));
    printf("%6s %9s %9s %28s %9s %9s %28s\n", "trials", "full(s)", "cheap(s)",
           "100x [90% interval], capped", "full(s)", "cheap(s)", "100x [90% interval], all");
    for (size_t k = 0; k < ARRAY_SIZE(sizes) && (long)sizes[k] <= max_n; k++) {
        double m, lo, hi, m2, lo2, hi2, dummy[3];
        draw_trials(s, sizes[k] + sizes[k] / 4, 1000 + sizes[k], &w, sizes[k]);
        double tf = time_fit(&w, cap, true, &m, &lo, &hi);
        double tc = time_fit(&w, cap, false, &dummy[0], &dummy[1], &dummy[2]);
        double tf2 = time_fit(&w, SIZE_MAX, true, &m2, &lo2, &hi2);
        double tc2 = time_fit(&w, SIZE_MAX, false, &dummy[0], &dummy[1], &dummy[2]);
        printf("%6zu %9.3f %9.3f %8.4f [%8.4f, %8.4f] %9.3f %9.3f %8.4f [%8.4f, %8.4f]\n", w.n,
               tf, tc, m, lo, hi, tf2, tc2, m2, lo2, hi2);
        fflush(stdout);
    }
    return 0;
}

// ---- scoring ----

#define N_EST 3
static const int estimators[N_EST] = {SCALING_EST_FRONT, SCALING_EST_ENVELOPE, SCALING_EST_JOINT};

typedef struct score {
    size_t runs, ok, held;
    double err10, err100, nexp, lr100; /* sums */
    size_t n_nexp, n_lr;
    double nd_a; /* sum of |a - true| of the N, D law (approach 3) */
    size_t n_nd;
    size_t cover10, cover100, n_cover;
    double maxerr100;
} score_t;

static void score_fit(const surface_t *s, const laws_t *l, score_t *sc)
{
    double m10, lo10, hi10, m100, lo100, hi100;
    laws_power_t p = l->loss;

    /* score the law even where it refuses: status 0 makes it predict */
    p.status = 0;
    scaling_power_predict(&p, l->level, 10.0, &m10, &lo10, &hi10);
    scaling_power_predict(&p, l->level, 100.0, &m100, &lo100, &hi100);
    sc->runs++;
    sc->ok += l->loss.status == 0;
    sc->held += l->holdout.status == 0 && l->holdout.passed;
    double e10 = fabs(m10 / front_true(s, 10.0) - 1.0), e100 = fabs(m100 / front_true(s, 100.0) - 1.0);
    sc->err10 += isfinite(e10) ? e10 : 1.0;
    sc->err100 += isfinite(e100) ? e100 : 1.0;
    sc->maxerr100 = fmax(sc->maxerr100, isfinite(e100) ? e100 : 1.0);
    if (isfinite(lo100)) {
        sc->n_cover++;
        sc->cover10 += lo10 <= front_true(s, 10.0) && front_true(s, 10.0) <= hi10;
        sc->cover100 += lo100 <= front_true(s, 100.0) && front_true(s, 100.0) <= hi100;
    }
    /* the model-size line: u = log10 N (scale 1), so N ~ C^(slope ln 10) */
    if (l->n_lines > 0 && l->lines[0].status == 0) {
        sc->nexp += fabs(l->lines[0].slope * log(10.0) - n_exp(s));
        sc->n_nexp++;
    }
    if (l->nd.status == 0 && isfinite(l->nd.a)) {
        sc->nd_a += fabs(l->nd.a - n_exp(s));
        sc->n_nd++;
    }
    if (l->n_lines > 2 && l->lines[2].status == 0) {
        double u, lo, hi;
        scaling_line_predict(&l->lines[2], 100.0, &u, &lo, &hi);
        double e = fabs(pow(10.0, u) / lr_true(s, 100.0) - 1.0);
        sc->lr100 += isfinite(e) ? fmin(e, 10.0) : 10.0;
        sc->n_lr++;
    }
}

static void print_header(void)
{
    printf("%-6s %-9s %5s %8s %8s %8s %7s %7s %8s %8s %5s %5s %6s\n", "surf", "estimator",
           "runs", "err@10x", "err@100x", "max@100x", "cov@10x", "cov@100x", "N-exp", "lr@100x",
           "ok", "held", "ND-a");
}

static void print_score(const char *surf, const char *est, const score_t *sc)
{
    double r = (double)(sc->runs ? sc->runs : 1);

    printf("%-6s %-9s %5zu %7.2f%% %7.2f%% %7.2f%% %6.0f%% %7.0f%% %8.3f %7.0f%% %4.0f%% %4.0f%% "
           "%6.3f\n",
           surf, est, sc->runs, 100.0 * sc->err10 / r, 100.0 * sc->err100 / r,
           100.0 * sc->maxerr100, sc->n_cover ? 100.0 * (double)sc->cover10 / (double)sc->n_cover : NAN,
           sc->n_cover ? 100.0 * (double)sc->cover100 / (double)sc->n_cover : NAN,
           sc->n_nexp ? sc->nexp / (double)sc->n_nexp : NAN,
           sc->n_lr ? 100.0 * sc->lr100 / (double)sc->n_lr : NAN, 100.0 * (double)sc->ok / r,
           100.0 * (double)sc->held / r, sc->n_nd ? sc->nd_a / (double)sc->n_nd : NAN);
    fflush(stdout);
}

static int usage(void)
{
    fprintf(stderr, "usage: laws_bench [--seeds N] [--trials N] [--surface NAME|all] [--boot N] "
                    "[--quick] [--cache DIR]\n"
                    "                  [--estimator NAME] [--drift X (-1 = none)] [--joint-tau T] "
                    "[--tau T] [--nd-tau T]\n"
                    "       laws_bench --timing [--surface NAME] [--max-n N] [--max-trials N]\n");
    return 2;
}

int main(int argc, char **argv)
{
    long seeds = 20, trials = 200, boot = 100;
    double drift = 0.0, joint_tau = 0.0, tau = 0.0, nd_tau = 0.0; /* 0: the defaults */
    const char *which = "all";
    bool timing = false;
    const char *cache_dir = NULL;
    int only = -1; /* --estimator: fit with this one only */
    long max_n = 10000, max_trials = 0; /* 0: the default cap */
    static sweep_t w;
    score_t total[N_EST] = {0};

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            seeds = 3;
            trials = 100;
            boot = 40;
        } else if (i + 1 < argc && strcmp(argv[i], "--seeds") == 0) {
            if (parse_long(argv[++i], 1, 1000, &seeds) < 0)
                return usage();
        } else if (i + 1 < argc && strcmp(argv[i], "--trials") == 0) {
            if (parse_long(argv[++i], 20, 1024, &trials) < 0)
                return usage();
        } else if (i + 1 < argc && strcmp(argv[i], "--boot") == 0) {
            if (parse_long(argv[++i], 10, 2000, &boot) < 0)
                return usage();
        } else if (i + 1 < argc && strcmp(argv[i], "--drift") == 0) {
            if (parse_double(argv[++i], -1.0, 100.0, &drift) < 0)
                return usage();
        } else if (i + 1 < argc && strcmp(argv[i], "--joint-tau") == 0) {
            if (parse_double(argv[++i], 0.001, 0.5, &joint_tau) < 0)
                return usage();
        } else if (i + 1 < argc && strcmp(argv[i], "--nd-tau") == 0) {
            if (parse_double(argv[++i], 0.001, 0.5, &nd_tau) < 0)
                return usage();
        } else if (i + 1 < argc && strcmp(argv[i], "--tau") == 0) {
            if (parse_double(argv[++i], 0.001, 0.5, &tau) < 0)
                return usage();
        } else if (i + 1 < argc && strcmp(argv[i], "--cache") == 0) {
            cache_dir = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--estimator") == 0) {
            if (scaling_estimator_parse(argv[++i], &only) < 0)
                return usage();
        } else if (strcmp(argv[i], "--timing") == 0) {
            timing = true;
        } else if (i + 1 < argc && strcmp(argv[i], "--max-trials") == 0) {
            if (parse_long(argv[++i], 10, 100000, &max_trials) < 0)
                return usage();
        } else if (i + 1 < argc && strcmp(argv[i], "--max-n") == 0) {
            if (parse_long(argv[++i], 200, 10000, &max_n) < 0)
                return usage();
        } else if (i + 1 < argc && strcmp(argv[i], "--surface") == 0) {
            which = argv[++i];
        } else {
            return usage();
        }
    }
    if (timing)
        return run_timing(which, max_n, (size_t)max_trials);
    printf("laws_bench: %ld seeds x %ld trials per surface, cap 1 unit (%.0e FLOPs), %ld "
           "bootstrap replicates, 90%% intervals\n",
           seeds, trials, FLOPS_PER_UNIT, boot);
    printf("err = |predicted best / true best - 1| (mean over seeds; a refused law is scored "
           "too), cov = interval covers the true best, N-exp = |fitted - true| N_opt exponent, "
           "lr = |predicted / true - 1| optimal learning rate, ok = status OK, held = holdout "
           "passed, ND-a = |fitted - true| N_opt exponent of the L(N, D) law (the same for "
           "every estimator)\n\n");
    print_header();
    bool any = false;
    for (size_t k = 0; k < ARRAY_SIZE(surfaces); k++) {
        const surface_t *s = &surfaces[k];
        score_t sc[N_EST] = {0};
        size_t fails = 0, n_ok = 0;
        if (strcmp(which, "all") != 0 && strcmp(which, s->name) != 0)
            continue;
        any = true;
        for (long seed = 1; seed <= seeds; seed++) {
            if (run_sweep(s, (uint64_t)seed, (size_t)trials, &w, cache_dir))
                return 1;
            fails += w.n_fail;
            n_ok += w.n;
            for (size_t e = 0; e < N_EST; e++) {
                if (only >= 0 && estimators[e] != only)
                    continue;
                scaling_input_t in = {.n = w.n, .cost = w.cost, .output = w.out, .d = w.d,
                                      .u = w.u, .n_params = w.N, .tokens = w.D};
                scaling_config_t cfg = {.seed = (uint64_t)seed, .n_boot = (size_t)boot,
                                        .estimator = estimators[e]};
                cfg.drift = drift;
                cfg.joint_tau = joint_tau;
                cfg.tau = tau;
                cfg.nd_tau = nd_tau;
                laws_t l;
                carbs_err_t err = {0};
                if (scaling_fit_all(&in, &cfg, &l, &err)) {
                    sc[e].runs++;
                    sc[e].err10 += 1.0;
                    sc[e].err100 += 1.0;
                    continue;
                }
                score_fit(s, &l, &sc[e]);
                laws_release(&l);
            }
        }
        for (size_t e = 0; e < N_EST; e++)
            if (sc[e].runs)
                print_score(s->name, scaling_estimator_name(estimators[e]), &sc[e]);
        for (size_t e = 0; e < N_EST && !s->check; e++) {
            total[e].runs += sc[e].runs;
            total[e].ok += sc[e].ok;
            total[e].held += sc[e].held;
            total[e].err10 += sc[e].err10;
            total[e].err100 += sc[e].err100;
            total[e].maxerr100 = fmax(total[e].maxerr100, sc[e].maxerr100);
            total[e].cover10 += sc[e].cover10;
            total[e].cover100 += sc[e].cover100;
            total[e].n_cover += sc[e].n_cover;
            total[e].nexp += sc[e].nexp;
            total[e].n_nexp += sc[e].n_nexp;
            total[e].lr100 += sc[e].lr100;
            total[e].n_lr += sc[e].n_lr;
            total[e].nd_a += sc[e].nd_a;
            total[e].n_nd += sc[e].n_nd;
        }
        printf("%-6s (%s; %zu successes, %zu failures; true front at 100x %.4f, N-exp %.3f)\n",
               s->name, s->what, n_ok, fails, front_true(s, 100.0), n_exp(s));
    }
    if (!any)
        return usage();
    /* the mean over the surfaces the defaults were chosen on */
    for (size_t e = 0; e < N_EST && total[e].runs; e++)
        print_score("all", scaling_estimator_name(estimators[e]), &total[e]);
    return 0;
}
