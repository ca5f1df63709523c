/*
 * cmd_worker.c - `carbs worker`: join a service and run its trials until
 * stopped (docs/worker.md; docs/service.md, The life of a trial).
 *
 *   carbs worker --connect tcp://head:5555 [--id ID] [--slots N]
 *                [--device cpu|cuda:K[,L...]] [--keys DIR [--key-name NAME]]
 *                [--server-key FILE] [--data DIR | --synthetic-data] [--threads N]
 *                [--time-limit SECONDS] [--tmp-dir DIR] [--once]
 *
 * SIGTERM and SIGINT are preemption: the trials are stopped and the worker
 * says bye "preempted" so the service re-queues them.  The id defaults to
 * $CARBS_WORKER_ID, then the Slurm job (so a re-queued job re-attaches),
 * then host-pid.  Exit status: 0 after bye, 1 when the service refused the
 * worker or the socket failed, 2 on misuse.
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include "proto/wire.h"
#include "trainer/backend.h"
#include "worker/worker.h"

static const char usage_text[] =
    "carbs worker --connect ENDPOINT [--id ID] [--slots N] [--device DEV]\n"
    "             [--keys DIR [--key-name NAME]] [--server-key FILE]\n"
    "             [--data DIR | --synthetic-data] [--threads N]\n"
    "             [--time-limit SECONDS] [--tmp-dir DIR] [--once]";

/* The stop flag (docs/style.md H22: the one allowed mutable global besides the
 * log settings), set by SIGTERM/SIGINT. */
static volatile sig_atomic_t worker_stop_flag;

static void on_stop_signal(int sig)
{
    UNUSED(sig);
    worker_stop_flag = 1;
}

static void print_help(void)
{
    printf("usage: %s\n\n"
           "Join the service at ENDPOINT and run the trials it hands out, each in a child\n"
           "process, until stopped.  SIGTERM or SIGINT stops the running trials and tells the\n"
           "service to re-queue them (preemption).\n\n"
           "options:\n"
           "  --connect ENDPOINT   the service: tcp://HOST:PORT or ipc://PATH (required)\n"
           "  --id ID              worker id, stable across restarts so running trials are\n"
           "                       re-attached (default: $CARBS_WORKER_ID, else the Slurm job\n"
           "                       slurm-JOB_TASK, else HOST-PID)\n"
           "  --slots N            trials run at once (default 1)\n"
           "  --device DEV         cpu, cuda:K or cuda:K,L,... (each trial's batch split over\n"
           "                       those GPUs; default cpu)\n"
           "  --keys DIR           CURVE: use DIR/NAME.key and DIR/service.pub\n"
           "  --key-name NAME      the key pair's name in DIR (default: this host's short name)\n"
           "  --server-key FILE    the service's public key (default DIR/service.pub)\n"
           "  --data DIR           embedded trials' prepared data (default $CARBS_DATA, else\n"
           "                       ./data-cache; make it with 'carbs data prepare')\n"
           "  --synthetic-data     embedded trials train on the synthetic corpus instead\n"
           "  --threads N          CPU threads per embedded trial (default 1)\n"
           "  --time-limit SECS    fail a trial that runs longer (failure 'error')\n"
           "  --tmp-dir DIR        where command trials get their scratch directory\n"
           "  --once               run one trial per slot, then leave\n"
           "  -h, --help           this text\n",
           usage_text);
}

static void short_host(char *out, size_t cap)
{
    char host[256] = "";

    if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
        str_copy(host, sizeof(host), "worker");
    host[strcspn(host, ".")] = '\0';
    str_copy(out, cap, host);
}

int cmd_worker(int argc, char **argv, const cli_globals_t *g)
{
    static const struct option opts[] = {
        {"connect", required_argument, NULL, 'c'},
        {"id", required_argument, NULL, 'i'},
        {"slots", required_argument, NULL, 's'},
        {"device", required_argument, NULL, 'd'},
        {"keys", required_argument, NULL, 'k'},
        {"key-name", required_argument, NULL, 'n'},
        {"server-key", required_argument, NULL, 'S'},
        {"time-limit", required_argument, NULL, 't'},
        {"tmp-dir", required_argument, NULL, 'T'},
        {"once", no_argument, NULL, 'o'},
        {"data", required_argument, NULL, 'D'},
        {"synthetic-data", no_argument, NULL, 'Y'},
        {"threads", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    worker_config_t cfg = {0};
    const char *keys = NULL, *key_name = NULL;
    char id[CARBS_NAME_MAX], name[CARBS_NAME_MAX], host[256] = "";
    char key_path[4096], server_path[4096];
    bool once = false;
    long slots = 1, threads = 1;
    double limit = 0;
    carbs_err_t err = {0};
    worker_t *w;
    struct sigaction sa;
    int c, rc;

    UNUSED(g);
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cfg.endpoint = optarg;
            break;
        case 'i':
            cfg.worker_id = optarg;
            break;
        case 's':
            if (parse_long(optarg, 1, WORKER_SLOTS_MAX, &slots) < 0)
                return cli_usage_error(usage_text, "--slots must be 1-%d, not '%s'",
                                       WORKER_SLOTS_MAX, optarg);
            break;
        case 'd':
            cfg.device = optarg;
            break;
        case 'k':
            keys = optarg;
            break;
        case 'n':
            key_name = optarg;
            break;
        case 'S':
            cfg.server_key = optarg;
            break;
        case 't':
            if (parse_double(optarg, 0.0, 1e9, &limit) < 0)
                return cli_usage_error(usage_text, "--time-limit must be seconds, not '%s'",
                                       optarg);
            break;
        case 'T':
            cfg.tmp_dir = optarg;
            break;
        case 'o':
            once = true;
            break;
        case 'D':
            cfg.data_dir = optarg;
            break;
        case 'Y':
            cfg.synthetic_data = true;
            break;
        case 'j':
            if (parse_long(optarg, 1, 1024, &threads) < 0)
                return cli_usage_error(usage_text, "--threads must be 1-1024, not '%s'", optarg);
            break;
        case 'h':
            print_help();
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(usage_text, "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error(usage_text, "unexpected argument '%s'", argv[optind]);
    if (!cfg.endpoint) return cli_usage_error(usage_text, "--connect ENDPOINT is required");
    if (cfg.device) {
        backend_opts_t bo;
        const char *bname;
        carbs_err_t derr = {0};
        if (backend_parse_device(cfg.device, &bname, &bo, &derr) < 0)
            return cli_usage_error(usage_text, "--device: %s", derr.msg);
    }
    if (key_name && !keys) return cli_usage_error(usage_text, "--key-name needs --keys DIR");
    if (cfg.server_key && !keys)
        return cli_usage_error(usage_text, "--server-key needs --keys DIR (the worker's own key)");

    gethostname(host, sizeof(host) - 1);
    if (!cfg.worker_id) {
        worker_id_env_t env = {
            .carbs_worker_id = getenv("CARBS_WORKER_ID"),
            .slurm_array_job_id = getenv("SLURM_ARRAY_JOB_ID"),
            .slurm_array_task_id = getenv("SLURM_ARRAY_TASK_ID"),
            .slurm_job_id = getenv("SLURM_JOB_ID"),
            .slurm_procid = getenv("SLURM_PROCID"),
            .slurm_ntasks = getenv("SLURM_NTASKS"),
            .host = host,
            .pid = (long)getpid(),
        };
        if (worker_default_id(&env, id, sizeof(id)) < 0)
            return cli_error(CLI_EXIT_USAGE, "the worker id '%s' is too long; pass --id", id);
        cfg.worker_id = id;
    }
    if (keys) {
        if (key_name)
            str_copy(name, sizeof(name), key_name);
        else
            short_host(name, sizeof(name));
        snprintf(key_path, sizeof(key_path), "%s/%s.key", keys, name);
        cfg.key = key_path;
        if (!cfg.server_key) {
            snprintf(server_path, sizeof(server_path), "%s/%s.pub", keys, WIRE_SERVICE_KEY_NAME);
            cfg.server_key = server_path;
        }
    }
    if (cfg.data_dir && cfg.synthetic_data)
        return cli_usage_error(usage_text, "--data and --synthetic-data exclude each other");
    cfg.slots = (int)slots;
    cfg.threads = (int)threads;
    cfg.time_limit_s = limit;
    cfg.max_trials = once ? (int)slots : 0;
    cfg.stop = &worker_stop_flag;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    log_info("worker: id=%s endpoint=%s slots=%ld device=%s curve=%s time_limit=%g%s",
             cfg.worker_id, cfg.endpoint, slots, cfg.device ? cfg.device : "cpu",
             cfg.key ? "on" : "off", limit, once ? " once" : "");
    w = worker_open(&cfg, &err);
    if (!w)
        return err.code == CARBS_EINVAL ? cli_error(CLI_EXIT_USAGE, "%s", err.msg) : cli_fail(&err);
    rc = worker_run(w, &err);
    worker_close(w);
    if (rc < 0) return cli_fail(&err);
    return CLI_EXIT_OK;
}
