/*
 * cmd_plot.c - `carbs plot SWEEP [--out DIR] [--target-cost C]`: a sweep's
 * Pareto front with its fitted law, each parameter against cost with its
 * fitted line, the learning curves of the Pareto trials and the
 * optimization history, as gnuplot data files and one script (docs/scaling-laws.md, Plots).
 *
 * Idea: write plain whitespace-separated data files and a gnuplot script
 * into the output folder (default ./plots/<sweep>/), then run gnuplot there
 * when it is installed; the script draws every figure twice, as SVG and as
 * PNG (pngcairo when the build has it).  Without gnuplot the files stay and
 * the command says how to install it and how to run the script later.  Cost
 * axes are logarithmic (sweeps span decades of cost), as are the value axes
 * of log-space parameters; every axis names its quantity and unit.
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "optimizer/scaling.h"
#include "optimizer/space.h"
#include "optimizer/service/laws_data.h"
#include "tools/report.h"
#include "tools/verb.h"

static const char usage_text[] =
    "carbs plot SWEEP [--db PATH] [--out DIR] [--target-cost C] [--no-gnuplot]";

/* Points along each fitted curve: smooth at SVG sizes. */
#define PLOT_CURVE_POINTS 120
/* Without a validated range, extrapolate this factor past the dearest point. */
#define PLOT_DEFAULT_EXTRAPOLATION 10.0
/* Figure size in pixels (SVG and PNG alike). */
#define PLOT_WIDTH 1000
#define PLOT_HEIGHT 640

// ---- names and units ----

/* A name fit for a file name: anything but [A-Za-z0-9._-] becomes '_'. */
static void file_safe(const char *in, char *out, size_t cap)
{
    size_t i = 0;

    for (; in[i] && i + 1 < cap; i++) {
        char c = in[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        out[i] = ok ? c : '_';
    }
    out[i] = '\0';
}

/* The axis label of a metric: its name and, for the canonical ones, unit. */
static void axis_label(const char *name, char *out, size_t cap)
{
    static const struct {
        const char *name, *unit;
    } units[] = {
        {"wall_seconds", "s"},        {"cpu_seconds", "CPU s"},  {"device_seconds", "device s"},
        {"flops", "FLOPs"},           {"tokens", "tokens"},      {"n_params", "parameters"},
        {"val_loss", "nats/token"},   {"train_loss", "nats/token"}, {"val_bpb", "bits/byte"},
        {"mcq_acc", "fraction"},      {"mcq_acc_norm", "fraction"}, {"mcq_prob", "probability"},
        {"mcq_ppl", "perplexity"},    {"peak_rss_bytes", "bytes"},
    };
    char safe[CARBS_NAME_MAX];

    file_safe(name, safe, sizeof(safe));
    for (size_t i = 0; i < ARRAY_SIZE(units); i++)
        if (strcmp(name, units[i].name) == 0) {
            snprintf(out, cap, "%s (%s)", safe, units[i].unit);
            return;
        }
    snprintf(out, cap, "%s", safe);
}

// ---- data files ----

static FILE *open_in(const char *dir, const char *name, carbs_err_t *err)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    if (!f)
        carbs_fail(err, CARBS_EIO, "cannot write '%s': %s", path, strerror(errno));
    return f;
}

static int close_checked(FILE *f, const char *dir, const char *name, carbs_err_t *err)
{
    bool bad = ferror(f) != 0;

    if (fclose(f) != 0 || bad)
        return carbs_fail(err, CARBS_EIO, "cannot write '%s/%s'", dir, name);
    return 0;
}

/* Replace f's points by the front of d's trials, which leave out the
 * verification runs. */
static int front_without_verification(const laws_data_t *d, bool maximize, report_front_t *f,
                                      carbs_err_t *err)
{
    size_t *idx = carbs_malloc((d->n ? d->n : 1) * sizeof(size_t)), nf = 0;

    if (!idx || scaling_front(d->cost, d->output, d->n, maximize, idx, &nf)) {
        free(idx);
        return carbs_fail(err, CARBS_ENOMEM, "plot: out of memory");
    }
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i].params_json);
    f->n = 0;
    for (size_t q = 0; q < nf; q++) {
        report_point_t pt = {.trial_id = d->trial_id[idx[q]], .output = d->output[idx[q]],
                             .cost = d->cost[idx[q]]};
        if (DA_PUSH(f, pt)) {
            free(idx);
            return carbs_fail(err, CARBS_ENOMEM, "plot: out of memory");
        }
    }
    free(idx);
    return 0;
}

/* trials.dat: order, trial, cost, output, on_front; history.dat: order,
 * output, best so far. */
static int write_trials(const char *dir, const laws_data_t *d, const report_front_t *front,
                        bool maximize, carbs_err_t *err)
{
    FILE *t = open_in(dir, "trials.dat", err), *h;
    double best = NAN;

    if (!t)
        return CARBS_EIO;
    h = open_in(dir, "history.dat", err);
    if (!h) {
        fclose(t);
        return CARBS_EIO;
    }
    fprintf(t, "# order trial cost output on_front\n");
    fprintf(h, "# order output best_so_far\n");
    for (size_t i = 0; i < d->n; i++) {
        bool on = false;
        for (size_t j = 0; j < front->n; j++)
            on = on || front->v[j].trial_id == d->trial_id[i];
        if (isnan(best) || (maximize ? d->output[i] > best : d->output[i] < best))
            best = d->output[i];
        fprintf(t, "%zu %lld %.9g %.9g %d\n", i + 1, (long long)d->trial_id[i], d->cost[i],
                d->output[i], on ? 1 : 0);
        fprintf(h, "%zu %.9g %.9g\n", i + 1, d->output[i], best);
    }
    int rc = close_checked(t, dir, "trials.dat", err);
    int rc2 = close_checked(h, dir, "history.dat", err);
    return rc ? rc : rc2;
}

static int write_front(const char *dir, const report_front_t *front, carbs_err_t *err)
{
    FILE *f = open_in(dir, "front.dat", err);

    if (!f)
        return CARBS_EIO;
    fprintf(f, "# trial cost output\n");
    for (size_t i = 0; i < front->n; i++)
        fprintf(f, "%lld %.9g %.9g\n", (long long)front->v[i].trial_id, front->v[i].cost,
                front->v[i].output);
    return close_checked(f, dir, "front.dat", err);
}

/* C log-spaced over [lo, hi]. */
static double curve_cost(double lo, double hi, size_t i)
{
    return lo * pow(hi / lo, (double)i / (double)(PLOT_CURVE_POINTS - 1));
}

/* law.dat: cost, predicted, lo, hi over [c_min, target]. */
static int write_law(const char *dir, const laws_t *l, double target, carbs_err_t *err)
{
    FILE *f = open_in(dir, "law.dat", err);

    if (!f)
        return CARBS_EIO;
    fprintf(f, "# cost predicted lo hi (%.0f%% bootstrap band)\n", 100.0 * l->level);
    for (size_t i = 0; i < PLOT_CURVE_POINTS; i++) {
        double C = curve_cost(l->loss.c_min, target, i), m, lo, hi;
        scaling_power_predict(&l->loss, l->level, C, &m, &lo, &hi);
        fprintf(f, "%.9g %.9g %.9g %.9g\n", C, m, isfinite(lo) ? lo : m, isfinite(hi) ? hi : m);
    }
    return close_checked(f, dir, "law.dat", err);
}

/* param_<name>.dat: cost, value, on_front for every trial;
 * param_<name>_fit.dat: cost, value, lo, hi along the fitted line. */
static int write_param(const char *dir, const char *safe, size_t j, const laws_data_t *d,
                       const carbs_param_t *p, const laws_line_t *ln, double c_lo, double c_hi,
                       const report_front_t *front, carbs_err_t *err)
{
    char name[CARBS_NAME_MAX + 16];
    FILE *f;
    int rc;

    snprintf(name, sizeof(name), "param_%s.dat", safe);
    f = open_in(dir, name, err);
    if (!f)
        return CARBS_EIO;
    fprintf(f, "# cost value on_front\n");
    for (size_t i = 0; i < d->n; i++) {
        double u = d->u[i * d->d + j];
        bool on = false;
        if (!isfinite(u))
            continue;
        for (size_t k = 0; k < front->n; k++)
            on = on || front->v[k].trial_id == d->trial_id[i];
        fprintf(f, "%.9g %.9g %d\n", d->cost[i], space_param_from_basic(p, u, false), on);
    }
    rc = close_checked(f, dir, name, err);
    if (rc || !ln || ln->status)
        return rc;
    snprintf(name, sizeof(name), "param_%s_fit.dat", safe);
    f = open_in(dir, name, err);
    if (!f)
        return CARBS_EIO;
    fprintf(f, "# cost value lo hi (fitted line in basic space)\n");
    for (size_t i = 0; i < PLOT_CURVE_POINTS; i++) {
        double C = curve_cost(c_lo, c_hi, i), u[3], v[3];
        scaling_line_predict(ln, C, &u[0], &u[1], &u[2]);
        for (size_t k = 0; k < 3; k++)
            v[k] = space_param_from_basic(p, u[k], false);
        fprintf(f, "%.9g %.9g %.9g %.9g\n", C, v[0], fmin(v[1], v[2]), fmax(v[1], v[2]));
    }
    return close_checked(f, dir, name, err);
}

/* curves.dat: one gnuplot index block per Pareto trial: tokens, loss, step. */
static int write_curves(const char *dir, store_t *st, const report_front_t *front,
                        size_t *n_written, char *ids, size_t ids_cap, carbs_err_t *err)
{
    size_t used = 0;

    FILE *f = open_in(dir, "curves.dat", err);
    int rc = 0;

    *n_written = 0;
    ids[0] = '\0';
    if (!f)
        return CARBS_EIO;
    for (size_t i = 0; i < front->n && !rc; i++) {
        carbs_curve_point_t *pts = NULL;
        size_t n = 0;
        rc = store_curve_get(st, front->v[i].trial_id, &pts, &n, err);
        if (!rc && n) {
            fprintf(f, "# trial %lld\n", (long long)front->v[i].trial_id);
            for (size_t k = 0; k < n; k++)
                fprintf(f, "%.9g %.9g %lld\n", pts[k].tokens, pts[k].loss, (long long)pts[k].step);
            fprintf(f, "\n\n");
            (*n_written)++;
            if (used < ids_cap)
                used += (size_t)snprintf(ids + used, ids_cap - used, "%s%lld", used ? " " : "",
                                         (long long)front->v[i].trial_id);
        }
        free(pts);
    }
    int rc2 = close_checked(f, dir, "curves.dat", err);
    return rc ? rc : rc2;
}

// ---- the script ----

static void script_terminal(FILE *g, const char *stem)
{
    fprintf(g,
            "do for [fmt in \"svg png\"] {\n"
            "  if (fmt eq \"svg\") {\n"
            "    set terminal svg size %d,%d dynamic noenhanced font \"Helvetica,14\" "
            "background rgb \"white\"\n"
            "  } else {\n"
            "    if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n"
            "      set terminal pngcairo size %d,%d noenhanced font \"Helvetica,12\"\n"
            "    } else {\n"
            "      set terminal png size %d,%d noenhanced\n"
            "    }\n"
            "  }\n"
            "  set output \"%s.\".fmt\n",
            PLOT_WIDTH, PLOT_HEIGHT, PLOT_WIDTH, PLOT_HEIGHT, PLOT_WIDTH, PLOT_HEIGHT, stem);
}

static void script_pareto(FILE *g, const laws_t *l, bool have_law, double target,
                          const char *metric_label, const char *cost_label, const char *title)
{
    if (have_law) {
        /* the extrapolated point: a datablock, since inline data cannot sit in a loop */
        double m, lo, hi;
        scaling_power_predict(&l->loss, l->level, target, &m, &lo, &hi);
        fprintf(g, "$target << EOD\n%.9g %.9g %.9g %.9g\nEOD\n\n", target, m,
                isfinite(lo) ? lo : m, isfinite(hi) ? hi : m);
    }
    script_terminal(g, "pareto");
    fprintf(g,
            "  reset\n"
            "  set title \"%s: Pareto front\"\n"
            "  set xlabel \"%s\"\n  set ylabel \"%s\"\n"
            "  set logscale x\n  set format x \"%%.0e\"\n"
            "  set grid\n  set key outside right top box\n"
            "  set cblabel \"trial order\"\n  set palette rgb 33,13,10\n",
            title, cost_label, metric_label);
    if (have_law) {
        fprintf(g,
                "  set arrow from %.9g, graph 0 to %.9g, graph 1 nohead dt 2 lc rgb \"gray40\"\n",
                l->loss.c_max, l->loss.c_max);
        fprintf(g, "  set label \"data ends\" at %.9g, graph 0.97 right offset -0.5,0\n",
                l->loss.c_max);
        fprintf(g,
                "  plot \"law.dat\" using 1:3:4 with filledcurves lc rgb \"#c6dbef\" title "
                "\"%.0f%% band\", \\\n"
                "       \"law.dat\" using 1:2 with lines lw 2 lc rgb \"#08519c\" title \"fit: %.4g "
                "+ %.4g C^-%.4g\", \\\n"
                "       \"trials.dat\" using 3:4:1 with points pt 7 ps 0.8 lc palette title "
                "\"trials\", \\\n"
                "       \"front.dat\" using 2:3 with linespoints pt 6 ps 1.6 lw 1.5 lc rgb "
                "\"#d62728\" title \"Pareto front\", \\\n"
                "       $target using 1:2:3:4 with yerrorbars pt 5 ps 1.2 lc rgb \"black\" "
                "title \"prediction at %.3g\"\n",
                100.0 * l->level, l->loss.E, l->loss.A, l->loss.alpha, target);
    } else {
        fprintf(g, "  plot \"trials.dat\" using 3:4:1 with points pt 7 ps 0.8 lc palette title "
                   "\"trials\", \\\n"
                   "       \"front.dat\" using 2:3 with linespoints pt 6 ps 1.6 lw 1.5 lc rgb "
                   "\"#d62728\" title \"Pareto front\"\n");
    }
    fprintf(g, "  unset output\n}\n\n");
}

static void script_param(FILE *g, const char *safe, const carbs_param_t *p, const laws_line_t *ln,
                         const char *cost_label, const char *title)
{
    char stem[CARBS_NAME_MAX + 16];

    snprintf(stem, sizeof(stem), "param_%s", safe);
    script_terminal(g, stem);
    fprintf(g,
            "  reset\n  set title \"%s: %s at the Pareto front vs cost\"\n"
            "  set xlabel \"%s\"\n  set ylabel \"%s (%s space)\"\n"
            "  set logscale x\n  set format x \"%%.0e\"\n  set grid\n"
            "  set key outside right top box\n",
            title, safe, cost_label, safe, carbs_space_name(p->space));
    if (p->space == CARBS_SPACE_LOG)
        fprintf(g, "  set logscale y\n  set format y \"%%.1e\"\n");
    fprintf(g, "  plot ");
    if (ln && !ln->status)
        fprintf(g,
                "\"%s_fit.dat\" using 1:3:4 with filledcurves lc rgb \"#c7e9c0\" title "
                "\"band\", \\\n"
                "       \"%s_fit.dat\" using 1:2 with lines lw 2 lc rgb \"#006d2c\" title "
                "\"fit (R^2 %.2f)\", \\\n       ",
                stem, stem, ln->r2);
    fprintf(g,
            "\"%s.dat\" using 1:($3 == 0 ? $2 : 1/0) with points pt 7 ps 0.7 lc rgb \"gray60\" "
            "title \"trials\", \\\n"
            "       \"%s.dat\" using 1:($3 == 1 ? $2 : 1/0) with points pt 7 ps 1.3 lc rgb "
            "\"#d62728\" title \"Pareto trials\"\n",
            stem, stem);
    fprintf(g, "  unset output\n}\n\n");
}

static void script_rest(FILE *g, size_t n_curves, const char *ids, const char *metric_label,
                        const char *title)
{
    if (n_curves) {
        script_terminal(g, "curves");
        fprintf(g,
                "  reset\n  set title \"%s: learning curves of the Pareto trials\"\n"
                "  set xlabel \"training tokens\"\n  set ylabel \"training loss (nats/token)\"\n"
                "  set logscale x\n  set format x \"%%.0e\"\n  set grid\n"
                "  set key outside right top box\n"
                "  ids = \"%s\"\n"
                "  plot for [i=0:%zu] \"curves.dat\" index i using 1:2 with lines lw 1.5 "
                "title \"trial \".word(ids, i + 1)\n"
                "  unset output\n}\n\n",
                title, ids, n_curves - 1);
    }
    script_terminal(g, "history");
    fprintf(g,
            "  reset\n  set title \"%s: optimization history\"\n"
            "  set xlabel \"trial (order finished)\"\n  set ylabel \"%s\"\n  set grid\n"
            "  set key outside right top box\n"
            "  plot \"history.dat\" using 1:2 with points pt 7 ps 0.8 lc rgb \"gray50\" title "
            "\"trial\", \\\n"
            "       \"history.dat\" using 1:3 with steps lw 2 lc rgb \"#08519c\" title \"best so "
            "far\"\n"
            "  unset output\n}\n",
            title, metric_label);
}

// ---- folders and gnuplot ----

/* mkdir -p path. */
static int make_dirs(const char *path, carbs_err_t *err)
{
    char buf[4096];

    if (str_copy(buf, sizeof(buf), path))
        return carbs_fail(err, CARBS_EINVAL, "output folder name too long");
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return carbs_fail(err, CARBS_EIO, "cannot create '%s': %s", buf, strerror(errno));
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

/* True when an executable called name is on $PATH. */
static bool on_path(const char *name)
{
    const char *path = getenv("PATH");
    char buf[4096];

    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, path, name);
        if (len && access(buf, X_OK) == 0)
            return true;
        path = end ? end + 1 : NULL;
    }
    return false;
}

/* Run `gnuplot plot.gp` in dir.  0 or CARBS_EIO naming its exit status. */
static int run_gnuplot(const char *dir, carbs_err_t *err)
{
    int status;
    pid_t pid = fork();

    if (pid < 0)
        return carbs_fail(err, CARBS_EIO, "cannot fork: %s", strerror(errno));
    if (pid == 0) {
        if (chdir(dir) == 0)
            execlp("gnuplot", "gnuplot", "plot.gp", (char *)NULL);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) < 0)
        return carbs_fail(err, CARBS_EIO, "cannot wait for gnuplot: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return carbs_fail(err, CARBS_EIO, "gnuplot failed on '%s/plot.gp' (status %d)", dir,
                          WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

// ---- the command ----

static int help(void)
{
    printf("usage: %s\n\n"
           "Draw SWEEP's Pareto front (all trials coloured by order, the front, the fitted\n"
           "law with its band and the extrapolation to a target cost), each numeric\n"
           "parameter against cost with its fitted line, the learning curves of the\n"
           "Pareto trials and the optimization history, as SVG and PNG.\n\n"
           "  --out DIR          output folder (default ./plots/<sweep>/)\n"
           "  --target-cost C    where to extrapolate the law (default: the end of the\n"
           "                     holdout-validated range, else 10x the dearest point)\n"
           "  --no-gnuplot       only write the data files and plot.gp\n"
           "  --db PATH          the store (opened read-only)\n\n"
           "Needs gnuplot (Debian: apt-get install --no-install-recommends gnuplot-nox);\n"
           "without it the data and plot.gp are written and can be drawn later.\n",
           usage_text);
    return CLI_EXIT_OK;
}

/* Everything the command builds, released at one place. */
typedef struct plot_state {
    verb_sweep_t vs;
    laws_data_t d;
    laws_t l;
    report_front_t front;
    FILE *script;
} plot_state_t;

static int write_all(plot_state_t *s, const char *dir, double target, bool have_law,
                     carbs_err_t *err)
{
    const sweep_spec_t *spec = &s->vs.spec;
    bool maximize = spec->metric.goal == SWEEP_GOAL_MAXIMIZE;
    char metric_label[2 * CARBS_NAME_MAX], cost_label[2 * CARBS_NAME_MAX];
    char title[CARBS_NAME_MAX], safe[CARBS_NAME_MAX];
    size_t n_curves = 0;
    char ids[4096];
    int rc;

    axis_label(spec->metric.name, metric_label, sizeof(metric_label));
    axis_label(spec->cost.name, cost_label, sizeof(cost_label));
    file_safe(s->vs.row.name, title, sizeof(title));
    rc = write_trials(dir, &s->d, &s->front, maximize, err);
    if (!rc)
        rc = write_front(dir, &s->front, err);
    if (!rc && have_law)
        rc = write_law(dir, &s->l, target, err);
    if (!rc)
        rc = write_curves(dir, s->vs.st, &s->front, &n_curves, ids, sizeof(ids), err);
    if (rc)
        return rc;
    s->script = open_in(dir, "plot.gp", err);
    if (!s->script)
        return CARBS_EIO;
    fprintf(s->script, "# plot.gp - written by carbs plot for sweep '%s'; run: gnuplot plot.gp\n\n",
            title);
    script_pareto(s->script, &s->l, have_law, target, metric_label, cost_label, title);
    for (size_t j = 0; j < s->d.d; j++) {
        const carbs_param_t *p = &spec->parameters.v[s->d.param[j]];
        const laws_line_t *ln = have_law && j < s->l.n_lines ? &s->l.lines[j] : NULL;
        double lo = have_law ? s->l.loss.c_min : 1.0, hi = have_law ? target : 1.0;
        file_safe(p->name, safe, sizeof(safe));
        rc = write_param(dir, safe, j, &s->d, p, ln, lo, hi, &s->front, err);
        if (rc)
            return rc;
        script_param(s->script, safe, p, ln, cost_label, title);
    }
    script_rest(s->script, n_curves, ids, metric_label, title);
    rc = close_checked(s->script, dir, "plot.gp", err);
    s->script = NULL;
    return rc;
}

int cmd_plot(int argc, char **argv, const cli_globals_t *g)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"out", required_argument, NULL, 'o'},
        {"target-cost", required_argument, NULL, 't'},
        {"no-gnuplot", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL, *out_opt = NULL;
    double target = NAN;
    bool no_gnuplot = false, have_law;
    plot_state_t s = {0};
    carbs_err_t err = {0}, fit_err = {0};
    char dir[4096], safe[CARBS_NAME_MAX];
    int c, rc = CLI_EXIT_OK;

    while ((c = verb_getopt(argc, argv, NULL, opts, usage_text, &rc)) != -1) {
        switch (c) {
        case 'h':
            return help();
        case 'd':
            db_opt = optarg;
            break;
        case 'o':
            out_opt = optarg;
            break;
        case 't':
            if (parse_double(optarg, 1e-300, 1e300, &target))
                return cli_usage_error(usage_text, "--target-cost: '%s' is not a positive number",
                                       optarg);
            break;
        case 'n':
            no_gnuplot = true;
            break;
        default:
            return rc;
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error(usage_text, optind >= argc ? "missing SWEEP" : "too many arguments");
    if (verb_sweep_open(cli_pick_db(g, db_opt), argv[optind], &s.vs, &err))
        return cli_fail(&err);
    if (laws_data_gather(s.vs.st, s.vs.row.id, &s.vs.spec, &s.d, &err) ||
        report_front(s.vs.st, s.vs.row.id, s.vs.spec.metric.goal == SWEEP_GOAL_MAXIMIZE,
                     &s.front, &err)) {
        rc = cli_fail(&err);
        goto out;
    }
    /* Verification runs are no part of the search: the laws leave them out,
     * and so does the plotted front (a run at 3x the dearest trial sat at
     * its end, drawn as the sweep's best point) */
    if (s.d.n_verify && front_without_verification(&s.d, s.vs.spec.metric.goal ==
                                                                 SWEEP_GOAL_MAXIMIZE,
                                                   &s.front, &err)) {
        rc = cli_fail(&err);
        goto out;
    }
    /* Without enough data for the laws the trials are still worth a plot. */
    have_law = laws_data_fit(&s.d, &s.vs.spec, true, NULL, &s.l, &fit_err) == 0;
    if (!have_law)
        fprintf(stderr, "carbs plot: no fitted laws: %s\n", fit_err.msg);
    if (have_law && s.l.loss.status)
        fprintf(stderr, "carbs plot: %s; the law is drawn over the data only\n", s.l.loss.why);
    if (have_law && !isfinite(target)) {
        target = s.l.holdout.valid_max_cost;
        if (s.l.loss.status)
            target = s.l.loss.c_max; /* a refused law predicts nothing beyond */
        else if (!(target > s.l.loss.c_max))
            target = PLOT_DEFAULT_EXTRAPOLATION * s.l.loss.c_max;
    }
    file_safe(s.vs.row.name, safe, sizeof(safe));
    if (out_opt)
        str_copy(dir, sizeof(dir), out_opt);
    else
        snprintf(dir, sizeof(dir), "plots/%s", safe);
    if (make_dirs(dir, &err) || write_all(&s, dir, target, have_law, &err)) {
        rc = cli_fail(&err);
        goto out;
    }
    if (no_gnuplot) {
        fprintf(stderr, "carbs plot: wrote the data and %s/plot.gp\n", dir);
    } else if (!on_path("gnuplot")) {
        fprintf(stderr,
                "carbs plot: gnuplot is not installed; wrote the data and %s/plot.gp.\n"
                "Install it (Debian: apt-get install --no-install-recommends gnuplot-nox), "
                "then run: cd %s && gnuplot plot.gp\n",
                dir, dir);
    } else if (run_gnuplot(dir, &err)) {
        rc = cli_fail(&err);
        goto out;
    } else {
        fprintf(stderr, "carbs plot: wrote SVG and PNG figures to %s/\n", dir);
    }
out:
    if (s.script)
        fclose(s.script);
    report_front_release(&s.front);
    laws_release(&s.l);
    laws_data_release(&s.d);
    verb_sweep_close(&s.vs);
    return rc;
}
