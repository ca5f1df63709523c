/*
 * trainer.c - one training run: batches from the token stream, the
 * learning-rate schedule, divergence detection, evaluation and the metrics
 * of docs/trainer.md, all through the backend table (no #ifdef here).
 *
 * Schedule: linear warmup to learning_rate over round(warmup_frac * S)
 * steps, then cosine (Loshchilov & Hutter 2017) or linear decay reaching
 * min_lr_frac * learning_rate at the last step.  Divergence: a non-finite
 * loss or gradient norm, or a loss above diverge_mult * ln V (uniform
 * guessing scores ln V).  Costs: flops counts the training steps' matrix
 * multiplies (model_flops_step); evaluation is timed and counted apart
 * (extras eval_seconds, eval_flops).  val_bpb = val_loss (nats per token)
 * * n_val / val_bytes / ln 2.
 */
#include "proto/common.h"
#include "trainer/trainer.h"

#include <math.h>
#include <sys/resource.h>
#include <time.h>

#include "proto/splitmix.h"
#include "trainer/backend.h"
#include "trainer/mcq_eval.h"
#include "trainer/model.h"

struct trainer {
    trainer_config_t cfg;
    trainer_options_t opt;
    const dataset_t *ds;
    const backend_ops_t *ops;
    backend_opts_t bo;
    void *state;
    model_layout_t lay;
    size_t B, T, steps, step;
    uint64_t rng;
    int32_t *tokens, *targets; /* (B, T) host batch */
    int32_t *seq;              /* (T) MCQ scratch */
    float *nll;                /* (T) MCQ scratch */
    carbs_curve_point_t *curve;
    size_t n_curve, curve_cap, curve_every;
    size_t tail_from; /* train_loss averages steps >= tail_from */
    double tail_sum;
    size_t tail_n;
    double t_open, cpu_open, train_seconds, eval_seconds, eval_flops;
    double val_loss, val_bpb;
    mcq_eval_t mcq;
    mcq_eval_t mcq_test; /* only with opt.mcq_test */
    bool evaluated;
};

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int trainer_options_set(trainer_options_t *opt, const carbs_value_t *v, carbs_err_t *err)
{
    int which = carbs_trainer_option_parse(v->name);

    if (which < 0)
        return carbs_fail(err, CARBS_ENOTFOUND, "trainer: '%s' is not a trainer option", v->name);
    if (v->is_str)
        return carbs_fail(err, CARBS_EINVAL,
                          "trainer: '%s' must be a whole number from 1 to %d (got '%s')", v->name,
                          CARBS_TRAINER_OPTION_MAX, v->str);
    if (!isfinite(v->num) || v->num != floor(v->num) || v->num < 1 ||
        v->num > CARBS_TRAINER_OPTION_MAX)
        return carbs_fail(err, CARBS_EINVAL,
                          "trainer: '%s' must be a whole number from 1 to %d (got %g)", v->name,
                          CARBS_TRAINER_OPTION_MAX, v->num);
    if (which == CARBS_TO_EVAL_TOKENS)
        opt->eval_tokens = (size_t)v->num;
    else
        opt->mcq_items = (size_t)v->num;
    return 0;
}

static void fill_options(trainer_options_t *o, const trainer_options_t *in)
{
    memset(o, 0, sizeof(*o));
    if (in)
        *o = *in;
    if (!o->backend && !o->device)
        o->backend = "cpu";
    if (o->threads < 1)
        o->threads = 1;
    if (!o->eval_tokens)
        o->eval_tokens = TRAINER_EVAL_TOKENS;
    if (!o->mcq_items)
        o->mcq_items = TRAINER_MCQ_ITEMS;
    if (!(o->diverge_mult > 0))
        o->diverge_mult = TRAINER_DIVERGE_MULT;
    if (!o->curve_points)
        o->curve_points = TRAINER_CURVE_POINTS;
}

// ---- memory ----

/* MemAvailable from /proc/meminfo in bytes, or 0 when unknown. */
static size_t mem_available(void)
{
    char line[256];
    size_t kb = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long v;
        if (sscanf(line, "MemAvailable: %llu kB", &v) == 1) {
            kb = (size_t)v;
            break;
        }
    }
    fclose(f);
    return kb * 1024;
}

static size_t host_bytes(size_t B, size_t T, size_t curve_cap)
{
    return 2 * B * T * sizeof(int32_t) + T * sizeof(int32_t) + T * sizeof(float) +
           curve_cap * sizeof(carbs_curve_point_t) + 4 * 64;
}

/* The layout, the backend and how to open it (batch, threads, devices)
 * from cfg and opt. */
static int resolve(const trainer_config_t *cfg, const trainer_options_t *opt,
                   const backend_ops_t **ops, model_layout_t *lay, backend_opts_t *bo,
                   carbs_err_t *err)
{
    const char *name = opt->backend;
    int rc = model_layout(cfg, lay, err);

    if (rc)
        return rc;
    memset(bo, 0, sizeof(*bo));
    bo->batch = (size_t)cfg->batch_size;
    bo->threads = opt->threads;
    bo->n_devices = 1;
    if (opt->device) {
        const char *dev_name;

        rc = backend_parse_device(opt->device, &dev_name, bo, err);
        if (rc)
            return rc;
        if (name && strcmp(name, dev_name) != 0)
            return carbs_fail(err, CARBS_EINVAL,
                              "trainer: backend '%s' cannot run on device '%s'", name,
                              opt->device);
        name = dev_name;
    }
    if (bo->batch % (size_t)bo->n_devices)
        return carbs_fail(err, CARBS_EINVAL,
                          "trainer: 'batch_size' %zu does not split evenly over %d devices",
                          bo->batch, bo->n_devices);
    if (!name)
        name = "cpu";
    *ops = backend_find(name);
    if (!*ops)
        return carbs_fail(err, CARBS_ENOTFOUND, "trainer: no backend '%s' in this build", name);
    return 0;
}

int trainer_memory_bytes(const trainer_config_t *cfg, const trainer_options_t *opt_in,
                         size_t *host, size_t *device, carbs_err_t *err)
{
    trainer_options_t opt;
    const backend_ops_t *ops;
    model_layout_t lay;
    backend_opts_t bo;
    backend_mem_t mem;
    int rc;

    fill_options(&opt, opt_in);
    rc = resolve(cfg, &opt, &ops, &lay, &bo, err);
    if (rc)
        return rc;
    ops->memory(&lay, &bo, &mem);
    if (host)
        *host = mem.host + sizeof(trainer_t) +
                host_bytes(bo.batch, lay.shape.seq_len, opt.curve_points + 2);
    if (device)
        *device = mem.device;
    return 0;
}

// ---- open / close ----

trainer_t *trainer_open(const trainer_config_t *cfg, const trainer_options_t *opt,
                        const dataset_t *ds, carbs_err_t *err)
{
    trainer_t *tr = xcalloc(1, sizeof(*tr));
    size_t need, need_dev, avail, avail_dev = SIZE_MAX, hb;
    unsigned char *host;
    int rc;

    tr->t_open = now_monotonic();
    tr->cpu_open = cpu_now();
    tr->cfg = *cfg;
    fill_options(&tr->opt, opt);
    tr->ds = ds;
    tr->val_loss = tr->val_bpb = NAN;
    rc = resolve(cfg, &tr->opt, &tr->ops, &tr->lay, &tr->bo, err);
    if (rc)
        goto fail;
    tr->B = (size_t)cfg->batch_size;
    tr->T = tr->lay.shape.seq_len;
    tr->steps = tr->lay.shape.steps;
    if (ds->vocab_size != tr->lay.shape.vocab) {
        rc = carbs_fail(err, CARBS_EINVAL,
                        "trainer: 'vocab_size' is %zu but the dataset's vocabulary has %zu ids",
                        tr->lay.shape.vocab, ds->vocab_size);
        goto fail;
    }
    if (ds->n_train < tr->T + 2) {
        rc = carbs_fail(err, CARBS_EINVAL,
                        "trainer: %zu training tokens cannot fill one sequence of %zu",
                        ds->n_train, tr->T);
        goto fail;
    }
    rc = trainer_memory_bytes(cfg, &tr->opt, &need, &need_dev, err);
    if (rc)
        goto fail;
    /* the devices first: a worker without a usable GPU says so, not "oom" */
    rc = tr->ops->probe(&tr->bo, &avail_dev, err);
    if (rc)
        goto fail;
    avail = tr->opt.memory_limit ? tr->opt.memory_limit : mem_available();
    if (avail && need > avail) {
        rc = carbs_fail(err, CARBS_ENOMEM,
                        "trainer: the model needs %.1f MiB but only %.1f MiB are available",
                        (double)need / 1048576.0, (double)avail / 1048576.0);
        goto fail;
    }
    if (tr->opt.device_memory_limit)
        avail_dev = tr->opt.device_memory_limit;
    if (need_dev > avail_dev) {
        rc = carbs_fail(err, CARBS_ENOMEM,
                        "trainer: the model needs %.1f MiB on each %s device but only %.1f MiB "
                        "are free",
                        (double)need_dev / 1048576.0, tr->ops->name,
                        (double)avail_dev / 1048576.0);
        goto fail;
    }

    tr->curve_cap = tr->opt.curve_points + 2;
    tr->curve_every = (tr->steps + tr->opt.curve_points - 1) / tr->opt.curve_points;
    if (!tr->curve_every)
        tr->curve_every = 1;
    tr->tail_from = tr->steps - (tr->steps / 20 ? tr->steps / 20 : 1);
    hb = host_bytes(tr->B, tr->T, tr->curve_cap);
    host = carbs_malloc(hb);
    if (!host) {
        rc = carbs_fail(err, CARBS_ENOMEM, "trainer: cannot allocate %zu bytes", hb);
        goto fail;
    }
    tr->tokens = (int32_t *)host;
    tr->targets = tr->tokens + tr->B * tr->T;
    tr->seq = tr->targets + tr->B * tr->T;
    tr->nll = (float *)(tr->seq + tr->T);
    tr->curve = (carbs_curve_point_t *)(((uintptr_t)(tr->nll + tr->T) + 63) & ~(uintptr_t)63);

    rc = tr->ops->open(&tr->state, &tr->lay, cfg, &tr->bo, err);
    if (rc)
        goto fail;
    rc = tr->ops->init_params(tr->state, cfg->init_std, cfg->seed);
    if (rc) {
        carbs_fail(err, rc, "trainer: cannot initialise the parameters%s%s",
                   *tr->ops->error(tr->state) ? ": " : "", tr->ops->error(tr->state));
        goto fail;
    }
    tr->rng = cfg->seed ^ 0x6261746368ULL;
    return tr;
fail:
    trainer_close(tr);
    return NULL;
}

void trainer_close(trainer_t *tr)
{
    if (!tr)
        return;
    if (tr->state)
        tr->ops->close(tr->state);
    free(tr->tokens);
    free(tr);
}

// ---- schedule ----

double trainer_lr(const trainer_config_t *cfg, size_t step, size_t steps)
{
    size_t warm = (size_t)llround(cfg->warmup_frac * (double)steps);
    double frac, min = cfg->min_lr_frac, mult;

    if (step < warm)
        return cfg->learning_rate * (double)(step + 1) / (double)warm;
    frac = steps - warm > 1 ? (double)(step - warm) / (double)(steps - warm - 1) : 1.0;
    if (frac > 1)
        frac = 1;
    if (cfg->decay == TRAINER_DECAY_LINEAR)
        mult = min + (1 - min) * (1 - frac);
    else
        mult = min + (1 - min) * 0.5 * (1 + cos(M_PI * frac));
    return cfg->learning_rate * mult;
}

// ---- training ----

static void sample_batch(trainer_t *tr)
{
    size_t span = tr->ds->n_train - tr->T - 1;
    for (size_t b = 0; b < tr->B; b++) {
        size_t s = (size_t)splitmix_below(&tr->rng, span);
        memcpy(tr->tokens + b * tr->T, tr->ds->train + s, tr->T * sizeof(int32_t));
        memcpy(tr->targets + b * tr->T, tr->ds->train + s + 1, tr->T * sizeof(int32_t));
    }
}

int trainer_step(trainer_t *tr, trainer_progress_t *p, carbs_err_t *err)
{
    backend_step_t hp;
    float loss = NAN, gnorm = NAN;
    double t0, lr, limit;
    int rc;

    if (tr->step >= tr->steps)
        return 0;
    t0 = now_monotonic();
    lr = trainer_lr(&tr->cfg, tr->step, tr->steps);
    sample_batch(tr);
    rc = tr->ops->load_batch(tr->state, tr->tokens, tr->targets);
    if (!rc)
        rc = tr->ops->forward_backward(tr->state, &loss);
    if (rc)
        return carbs_fail(err, rc, "trainer: step %zu failed%s%s", tr->step + 1,
                          *tr->ops->error(tr->state) ? ": " : "", tr->ops->error(tr->state));
    limit = tr->opt.diverge_mult * log((double)tr->lay.shape.vocab);
    if (!isfinite(loss) || loss > limit)
        return carbs_fail(err, CARBS_EDIVERGED,
                          "training diverged at step %zu of %zu: loss %g (limit %.3g)",
                          tr->step + 1, tr->steps, (double)loss, limit);
    hp.lr = (float)lr;
    hp.beta1 = (float)tr->cfg.beta1;
    hp.beta2 = (float)tr->cfg.beta2;
    hp.eps = (float)tr->cfg.eps;
    hp.weight_decay = (float)tr->cfg.weight_decay;
    hp.grad_clip = (float)tr->cfg.grad_clip;
    hp.t = (int64_t)tr->step + 1;
    rc = tr->ops->step(tr->state, &hp, &gnorm);
    if (rc == CARBS_EDIVERGED)
        return carbs_fail(err, rc, "training diverged at step %zu of %zu: gradient norm %g",
                          tr->step + 1, tr->steps, (double)gnorm);
    if (rc)
        return carbs_fail(err, rc, "trainer: optimizer step %zu failed%s%s", tr->step + 1,
                          *tr->ops->error(tr->state) ? ": " : "", tr->ops->error(tr->state));
    tr->step++;
    tr->train_seconds += now_monotonic() - t0;
    if (tr->step > tr->tail_from) {
        tr->tail_sum += loss;
        tr->tail_n++;
    }
    if ((tr->step % tr->curve_every == 0 || tr->step == tr->steps) && tr->n_curve < tr->curve_cap) {
        carbs_curve_point_t *c = &tr->curve[tr->n_curve++];
        c->step = (int64_t)tr->step;
        c->tokens = (double)tr->step * (double)(tr->B * tr->T);
        c->loss = loss;
    }
    if (p) {
        p->step = (int64_t)tr->step;
        p->steps = (int64_t)tr->steps;
        p->tokens = (double)tr->step * (double)(tr->B * tr->T);
        p->loss = loss;
        p->grad_norm = gnorm;
        p->lr = (float)lr;
        p->tokens_per_s = tr->train_seconds > 0 ? p->tokens / tr->train_seconds : 0;
        p->eta_s = tr->train_seconds / (double)tr->step * (double)(tr->steps - tr->step);
    }
    return tr->step < tr->steps ? CARBS_CONTINUE : 0;
}

// ---- evaluation ----

static int eval_val(trainer_t *tr)
{
    const dataset_t *ds = tr->ds;
    size_t T = tr->T, B = tr->B, windows, span;
    double total = 0;

    if (ds->n_val < T + 2)
        return 0;
    span = ds->n_val - T - 1;
    windows = tr->opt.eval_tokens / T;
    if (windows > (ds->n_val - 1) / T)
        windows = (ds->n_val - 1) / T;
    windows = (windows / B) * B;
    if (!windows)
        windows = B;
    for (size_t w0 = 0; w0 < windows; w0 += B) {
        float loss;
        int rc;
        for (size_t b = 0; b < B; b++) {
            size_t s = ((w0 + b) * T) % (span + 1);
            memcpy(tr->tokens + b * T, ds->val + s, T * sizeof(int32_t));
            memcpy(tr->targets + b * T, ds->val + s + 1, T * sizeof(int32_t));
        }
        rc = tr->ops->load_batch(tr->state, tr->tokens, tr->targets);
        if (!rc)
            rc = tr->ops->eval(tr->state, &loss);
        if (rc)
            return rc;
        total += loss;
        tr->eval_flops += (double)B * model_flops_rows(&tr->lay, 0, T, false);
    }
    tr->val_loss = total / (double)(windows / B);
    if (ds->val_bytes > 0)
        tr->val_bpb = tr->val_loss * (double)ds->n_val / ds->val_bytes / M_LN2;
    return 0;
}

/* Score mcq_items items of set, spread over it, into acc. */
static int eval_mcq(trainer_t *tr, const mcq_set_t *set, mcq_eval_t *acc)
{
    size_t n = set->n < tr->opt.mcq_items ? set->n : tr->opt.mcq_items;

    for (size_t i = 0; i < n; i++) {
        const mcq_item_t *it = &set->v[mcq_eval_index(set->n, n, i)];
        double ll[MCQ_CHOICES];
        int rc = mcq_eval_item(tr->ops, tr->state, &tr->lay, set, it, tr->seq, tr->nll, ll,
                               &tr->eval_flops);
        if (rc == CARBS_CONTINUE) {
            acc->skipped++;
            continue;
        }
        if (rc)
            return rc;
        mcq_eval_add(acc, ll, it->n_choice, it->choice_bytes, it->answer);
    }
    return 0;
}

int trainer_partial_result(const trainer_t *tr, carbs_result_t *res)
{
    struct rusage ru;
    double *m = res->metric, peak;
    double wall = now_monotonic() - tr->t_open;

    m[CARBS_METRIC_N_PARAMS] = tr->lay.shape.n_params;
    m[CARBS_METRIC_N_PARAMS_TOTAL] = tr->lay.shape.n_params_total;
    m[CARBS_METRIC_TOKENS] = (double)tr->step * (double)(tr->B * tr->T);
    m[CARBS_METRIC_FLOPS] = (double)tr->step * model_flops_step(&tr->lay, tr->B);
    m[CARBS_METRIC_WALL_SECONDS] = wall;
    m[CARBS_METRIC_CPU_SECONDS] = cpu_now() - tr->cpu_open;
    if (tr->state)
        m[CARBS_METRIC_DEVICE_SECONDS] = tr->ops->device_seconds(tr->state);
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        m[CARBS_METRIC_PEAK_RSS_BYTES] = (double)ru.ru_maxrss * 1024.0;
    if (tr->tail_n)
        m[CARBS_METRIC_TRAIN_LOSS] = tr->tail_sum / (double)tr->tail_n;
    res->curve.n = 0;
    if (DA_RESERVE(&res->curve, tr->n_curve))
        return CARBS_ENOMEM;
    memcpy(res->curve.v, tr->curve, tr->n_curve * sizeof(carbs_curve_point_t));
    res->curve.n = tr->n_curve;
    if (carbs_result_set(res, "train_seconds", tr->train_seconds) ||
        carbs_result_set(res, "eval_seconds", tr->eval_seconds) ||
        carbs_result_set(res, "eval_flops", tr->eval_flops))
        return CARBS_ENOMEM;
    /* MFU: the training steps' FLOPs over their wall time, against the
     * devices' dense peak (bf16 on GPUs); only where the backend knows it */
    peak = tr->state ? tr->ops->peak_flops(tr->state) : 0;
    if (peak > 0 && tr->train_seconds > 0 &&
        (carbs_result_set(res, "peak_flops", peak) ||
         carbs_result_set(res, "mfu", m[CARBS_METRIC_FLOPS] / tr->train_seconds / peak)))
        return CARBS_ENOMEM;
    return 0;
}

int trainer_finish(trainer_t *tr, carbs_result_t *res, carbs_err_t *err)
{
    double t0, *m = res->metric;
    int rc;

    if (tr->step < tr->steps)
        return carbs_fail(err, CARBS_ESTATE, "trainer: finish before the last step (%zu of %zu)",
                          tr->step, tr->steps);
    if (!tr->evaluated) {
        t0 = now_monotonic();
        rc = eval_val(tr);
        if (!rc)
            rc = eval_mcq(tr, &tr->ds->mcq_dev, &tr->mcq);
        if (!rc && tr->opt.mcq_test)
            rc = eval_mcq(tr, &tr->ds->mcq_test, &tr->mcq_test);
        tr->eval_seconds += now_monotonic() - t0;
        if (rc)
            return carbs_fail(err, rc, "trainer: evaluation failed%s%s",
                              *tr->ops->error(tr->state) ? ": " : "", tr->ops->error(tr->state));
        tr->evaluated = true;
    }
    if (!isfinite(tr->val_loss) && tr->ds->n_val >= tr->T + 2)
        return carbs_fail(err, CARBS_EDIVERGED, "training diverged: validation loss %g",
                          tr->val_loss);
    res->ok = true;
    res->failure = CARBS_FAILURE_NONE;
    res->message[0] = 0;
    m[CARBS_METRIC_VAL_LOSS] = tr->val_loss;
    m[CARBS_METRIC_VAL_BPB] = tr->val_bpb;
    mcq_eval_metrics(&tr->mcq, &m[CARBS_METRIC_MCQ_ACC], &m[CARBS_METRIC_MCQ_ACC_NORM],
                     &m[CARBS_METRIC_MCQ_PPL], &m[CARBS_METRIC_MCQ_PROB]);
    rc = trainer_partial_result(tr, res);
    if (!rc && tr->opt.mcq_test) {
        double t[4];

        mcq_eval_metrics(&tr->mcq_test, &t[0], &t[1], &t[2], &t[3]);
        if (carbs_result_set(res, "test_mcq_acc", t[0]) ||
            carbs_result_set(res, "test_mcq_acc_norm", t[1]) ||
            carbs_result_set(res, "test_mcq_ppl", t[2]) ||
            carbs_result_set(res, "test_mcq_prob", t[3]) ||
            carbs_result_set(res, "test_mcq_items", (double)tr->mcq_test.n))
            rc = CARBS_ENOMEM;
    }
    if (rc)
        return carbs_fail(err, rc, "trainer: cannot store the result");
    return 0;
}

// ---- one call ----

void trainer_fail_result(carbs_result_t *res, int rc, const carbs_err_t *err)
{
    res->ok = false;
    res->failure = rc == CARBS_EDIVERGED ? CARBS_FAILURE_DIVERGED
                   : rc == CARBS_ENOMEM  ? CARBS_FAILURE_OOM
                                         : CARBS_FAILURE_ERROR;
    str_copy(res->message, sizeof(res->message),
             err && err->msg[0] ? err->msg : carbs_strerror(rc));
}

int trainer_run(const trainer_config_t *cfg, const trainer_options_t *opt, const dataset_t *ds,
                carbs_result_t *res, carbs_err_t *err)
{
    carbs_err_t local = {0};
    trainer_t *tr;
    int rc;

    if (!err)
        err = &local;
    tr = trainer_open(cfg, opt, ds, err);
    if (!tr) {
        rc = err->code ? err->code : CARBS_EINVAL;
        trainer_fail_result(res, rc, err);
        return rc;
    }
    do {
        rc = trainer_step(tr, NULL, err);
    } while (rc == CARBS_CONTINUE);
    if (!rc)
        rc = trainer_finish(tr, res, err);
    if (rc) {
        trainer_partial_result(tr, res);
        trainer_fail_result(res, rc, err);
    }
    trainer_close(tr);
    return rc;
}
