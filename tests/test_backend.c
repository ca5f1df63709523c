/*
 * test_backend.c - the backend table and what the trainer asks of every
 * backend besides the math: names, device specs, the host / device memory
 * estimate, the device probe (the no-GPU path runs on every machine
 * without one), device-seconds and the MFU extras.
 */
#include "proto/common.h"
#include "trainer/backend.h"

#include <math.h>

#include "tests/check.h"
#include "trainer/trainer.h"

/* A run small enough for the fast suite: 4 steps of a 1-layer d=32 model. */
static void tiny(trainer_config_t *cfg)
{
    trainer_config_defaults(cfg);
    cfg->vocab_size = 64;
    cfg->d_model = 32;
    cfg->n_layers = 1;
    cfg->head_dim = 16;
    cfg->seq_len = 32;
    cfg->batch_size = 4;
    cfg->tokens = 4 * 4 * 32;
    cfg->learning_rate = 0.01;
    cfg->seed = 11;
}

/* Whether the cuda backend is built and a GPU answers here. */
static bool cuda_usable(void)
{
    const backend_ops_t *cu = backend_find("cuda");
    backend_opts_t bo = {.n_devices = 1};
    size_t free_bytes;

    return cu && cu->probe(&bo, &free_bytes, NULL) == 0;
}

static void test_backend_table_lists_every_backend(void)
{
    const char *const *names = backend_names();
    size_t n = 0;

    CHECK_STR(names[0], "cpu");
    for (; names[n]; n++) {
        const backend_ops_t *ops = backend_find(names[n]);
        CHECK(ops != NULL);
        if (!ops)
            continue;
        CHECK_STR(ops->name, names[n]);
        CHECK(ops->memory && ops->probe && ops->open && ops->close && ops->init_params &&
              ops->set_params && ops->get_params && ops->get_grads && ops->load_batch &&
              ops->forward_backward && ops->step && ops->eval && ops->score &&
              ops->device_seconds && ops->peak_flops && ops->error);
    }
    CHECK(n >= 1);
    CHECK(backend_find(NULL) == backend_find("cpu"));
    CHECK(backend_find("tpu") == NULL);
}

static void test_backend_parse_device(void)
{
    static const char *const bad[] = {"gpu", "cuda:", "cuda:0,", "cuda:a", "cuda:0,0",
                                      "cuda:-1", "cuda:1x", "cuda:12345", "CUDA:0"};
    backend_opts_t bo;
    const char *name = NULL;
    carbs_err_t err = {0};

    CHECK_EQ(backend_parse_device("cpu", &name, &bo, NULL), 0);
    CHECK_STR(name, "cpu");
    CHECK_EQ(bo.n_devices, 1);
    CHECK_EQ(backend_parse_device("cuda", &name, &bo, NULL), 0);
    CHECK_STR(name, "cuda");
    CHECK_EQ(bo.n_devices, 1);
    CHECK_EQ(bo.devices[0], 0);
    CHECK_EQ(backend_parse_device("cuda:3,1,12", &name, &bo, NULL), 0);
    CHECK_STR(name, "cuda");
    CHECK_EQ(bo.n_devices, 3);
    CHECK(bo.devices[0] == 3 && bo.devices[1] == 1 && bo.devices[2] == 12);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        err.msg[0] = 0;
        CHECK_EQ(backend_parse_device(bad[i], &name, &bo, &err), CARBS_EINVAL);
        CHECK(strstr(err.msg, bad[i]) != NULL);
    }
    CHECK_EQ(backend_parse_device("cuda:0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", &name, &bo,
                                  &err),
             CARBS_EINVAL);
    CHECK(strstr(err.msg, "more than 16") != NULL);
}

/* The CPU backend allocates host memory only; the estimate grows with the
 * batch; the trainer adds its own host buffers. */
static void test_backend_memory_host_and_device(void)
{
    trainer_config_t cfg;
    trainer_options_t opt = {0};
    model_layout_t lay;
    backend_opts_t bo = {.batch = 2, .threads = 1, .n_devices = 1};
    backend_mem_t m2, m4;
    size_t host = 0, dev = 1;

    tiny(&cfg);
    CHECK_EQ(model_layout(&cfg, &lay, NULL), 0);
    cpu_backend()->memory(&lay, &bo, &m2);
    bo.batch = 4;
    cpu_backend()->memory(&lay, &bo, &m4);
    CHECK(m2.host > 4 * lay.n_floats * sizeof(float));
    CHECK(m4.host > m2.host);
    CHECK_EQ(m2.device, 0);
    CHECK_EQ(trainer_memory_bytes(&cfg, &opt, &host, &dev, NULL), 0);
    CHECK(host > m4.host);
    CHECK_EQ(dev, 0);
    if (backend_find("cuda")) {
        const backend_ops_t *cu = backend_find("cuda");
        backend_mem_t g1, g2;

        /* a device backend keeps the model on the device, and two devices
         * each hold half the batch's activations */
        bo.n_devices = 1;
        cu->memory(&lay, &bo, &g1);
        bo.n_devices = 2;
        cu->memory(&lay, &bo, &g2);
        CHECK(g1.device > 4 * lay.n_floats * sizeof(float));
        CHECK(g1.host < g1.device);
        CHECK(g2.device < g1.device);
        opt.device = "cuda:0";
        CHECK_EQ(trainer_memory_bytes(&cfg, &opt, &host, &dev, NULL), 0);
        CHECK_EQ(dev, g1.device);
    }
}

/* Bad device options are the config's fault (EINVAL), a missing backend is
 * not found; an even split of the batch is required. */
static void test_backend_device_options(void)
{
    trainer_config_t cfg;
    trainer_options_t opt = {0};
    carbs_err_t err = {0};
    size_t host;

    tiny(&cfg);
    opt.device = "gpu0";
    CHECK_EQ(trainer_memory_bytes(&cfg, &opt, &host, NULL, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "gpu0") != NULL);
    opt.device = "cuda:0";
    opt.backend = "cpu";
    CHECK_EQ(trainer_memory_bytes(&cfg, &opt, &host, NULL, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "cannot run on device") != NULL);
    opt.backend = NULL;
    opt.device = "cuda:0,1,2";
    CHECK_EQ(trainer_memory_bytes(&cfg, &opt, &host, NULL, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "split evenly over 3") != NULL);
    opt.device = "cpu";
    CHECK_EQ(trainer_memory_bytes(&cfg, &opt, &host, NULL, &err), 0);
    opt.device = "cuda:0";
    if (!backend_find("cuda")) {
        CHECK_EQ(trainer_memory_bytes(&cfg, &opt, &host, NULL, &err), CARBS_ENOTFOUND);
        CHECK(strstr(err.msg, "no backend 'cuda'") != NULL);
    }
}

/* Without a usable GPU, a run on cuda fails at open with one line saying
 * why (the probe's message), before anything is allocated: never a crash.
 * Skipped on a machine where a GPU answers. */
static void test_backend_no_gpu_fails_cleanly(void)
{
    trainer_config_t cfg;
    trainer_options_t opt = {.device = "cuda:0"};
    carbs_err_t err = {0};
    dataset_t ds;
    carbs_result_t res;

    if (cuda_usable()) {
        fprintf(stderr, "  a GPU answers here: the no-GPU path is not exercised\n");
        return;
    }
    tiny(&cfg);
    CHECK_EQ(dataset_synthetic(64, 3, 20000, &ds, NULL), 0);
    carbs_result_init(&res);
    CHECK_EQ(trainer_run(&cfg, &opt, &ds, &res, &err), CARBS_ENOTFOUND);
    CHECK(!res.ok);
    CHECK(strchr(err.msg, '\n') == NULL);
    if (backend_find("cuda"))
        CHECK(strstr(err.msg, "no usable GPU") != NULL);
    else
        CHECK(strstr(err.msg, "no backend 'cuda'") != NULL);
    CHECK_STR(res.message, err.msg);
    /* the probe itself says the same, and an ordinal past the last device
     * is refused too */
    if (backend_find("cuda")) {
        backend_opts_t bo = {.n_devices = 2, .devices = {0, 7}};
        size_t free_bytes = 0;
        CHECK_EQ(backend_find("cuda")->probe(&bo, &free_bytes, &err), CARBS_ENOTFOUND);
        CHECK(strstr(err.msg, "no usable GPU") != NULL);
    }
    carbs_result_release(&res);
    dataset_release(&ds);
}

/* device_seconds comes from the backend: on the CPU the process CPU time
 * inside its compute ops, so positive and at most cpu_seconds.  No MFU on
 * the CPU (its peak is unknown). */
static void test_backend_device_seconds(void)
{
    trainer_config_t cfg;
    trainer_options_t opt = {.eval_tokens = 256, .mcq_items = 4};
    dataset_t ds;
    carbs_result_t res;
    double dev, cpu;

    tiny(&cfg);
    cfg.tokens = 40 * 4 * 32;
    CHECK_EQ(dataset_synthetic(64, 3, 20000, &ds, NULL), 0);
    carbs_result_init(&res);
    CHECK_EQ(trainer_run(&cfg, &opt, &ds, &res, NULL), 0);
    dev = res.metric[CARBS_METRIC_DEVICE_SECONDS];
    cpu = res.metric[CARBS_METRIC_CPU_SECONDS];
    CHECK(dev > 0);
    CHECK(dev <= cpu);
    CHECK(isnan(carbs_result_get(&res, "mfu")));
    CHECK(cpu_backend()->peak_flops(NULL) == 0);
    carbs_result_release(&res);
    dataset_release(&ds);
}

int main(void)
{
    RUN(test_backend_table_lists_every_backend);
    RUN(test_backend_parse_device);
    RUN(test_backend_memory_host_and_device);
    RUN(test_backend_device_options);
    RUN(test_backend_no_gpu_fails_cleanly);
    RUN(test_backend_device_seconds);
    return check_summary();
}
