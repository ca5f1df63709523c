/*
 * cmd_serve.c - `carbs serve`: run the service over a store until SIGINT or
 * SIGTERM (docs/service.md).
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <getopt.h>
#include <signal.h>

#include "optimizer/service/service.h"
#include "proto/wire.h"

#define SERVE_DEFAULT_BIND "tcp://127.0.0.1:5555"

static const char serve_usage[] =
    "carbs serve [--db PATH] [--bind ENDPOINT] [--keys DIR | --insecure]\n"
    "            [--lease-ms MS] [--heartbeat-ms MS] [--quarantine-s S] [--sweep SWEEP]\n"
    "            [--sync full|normal]";

static volatile sig_atomic_t serve_stop;

static void on_signal(int sig)
{
    UNUSED(sig);
    serve_stop = 1;
}

static void help(void)
{
    printf("usage: %s\n\n"
           "Serve every active sweep of the store to workers until SIGINT or SIGTERM.\n\n"
           "  --db PATH          the store (default: the global --db, $CARBS_DB, ./carbs.db)\n"
           "  --bind ENDPOINT    where workers connect (default %s); a non-local\n"
           "                     address needs --keys or --insecure\n"
           "  --keys DIR         CURVE: DIR/service.key is the service's key pair and\n"
           "                     DIR/allow/*.pub the workers it admits (carbs keygen)\n"
           "  --insecure         allow plain TCP on a non-local address\n"
           "  --lease-ms MS      silence that loses a worker's trials (default %d)\n"
           "  --heartbeat-ms MS  how often workers send a heartbeat (default %d)\n"
           "  --quarantine-s S   how long a worker that keeps losing trials gets none\n"
           "                     (default %d; `carbs workers release ID` ends it sooner)\n"
           "  --sweep SWEEP      serve only this sweep (id or name)\n"
           "  --sync MODE        full (default): what a reply reports is on disk before\n"
           "                     the reply is sent (one fsync per batch of requests);\n"
           "                     normal: no fsync: safe from a killed service, but a\n"
           "                     power loss may undo the last commits\n",
           serve_usage, SERVE_DEFAULT_BIND, SERVICE_LEASE_MS, SERVICE_HEARTBEAT_MS,
           SERVICE_QUARANTINE_S);
}

static int parse_ms(const char *s, const char *what, int *out)
{
    long v;

    if (parse_long(s, 1, 24L * 3600 * 1000, &v))
        return cli_usage_error(serve_usage, "%s: '%s' is not a number of milliseconds", what, s);
    *out = (int)v;
    return 0;
}

int cmd_serve(int argc, char **argv, const cli_globals_t *g)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},     {"bind", required_argument, NULL, 'b'},
        {"keys", required_argument, NULL, 'k'},   {"insecure", no_argument, NULL, 'I'},
        {"lease-ms", required_argument, NULL, 'L'}, {"heartbeat-ms", required_argument, NULL, 'H'},
        {"sweep", required_argument, NULL, 's'},  {"help", no_argument, NULL, 'h'},
        {"sync", required_argument, NULL, 'y'},   {"quarantine-s", required_argument, NULL, 'Q'},
        {NULL, 0, NULL, 0},
    };
    service_config_t cfg = {0};
    carbs_err_t err = {0};
    const char *db = NULL, *keys = NULL;
    char key[4096], allow[4096];
    service_t *svc;
    struct sigaction sa = {0};
    int c;

    cfg.endpoint = SERVE_DEFAULT_BIND;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = cli_db_path(optarg);
            break;
        case 'b':
            cfg.endpoint = optarg;
            break;
        case 'k':
            keys = optarg;
            break;
        case 'I':
            cfg.insecure = true;
            break;
        case 'L':
            if (parse_ms(optarg, "--lease-ms", &cfg.lease_ms))
                return CLI_EXIT_USAGE;
            break;
        case 'H':
            if (parse_ms(optarg, "--heartbeat-ms", &cfg.heartbeat_ms))
                return CLI_EXIT_USAGE;
            break;
        case 'Q': {
            long v;
            if (parse_long(optarg, 1, 7L * 24 * 3600, &v))
                return cli_usage_error(serve_usage, "--quarantine-s: '%s' is not a number of "
                                       "seconds in 1..604800", optarg);
            cfg.quarantine_s = (int)v;
            break;
        }
        case 's':
            cfg.only_sweep = optarg;
            break;
        case 'y':
            if (cli_parse_sync(optarg, &cfg.sync_normal))
                return cli_usage_error(serve_usage, "--sync: '%s' is neither full nor normal",
                                       optarg);
            break;
        case 'h':
            help();
            return CLI_EXIT_OK;
        default:
            fprintf(stderr, "usage: %s\n", serve_usage);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error(serve_usage, "unexpected argument '%s'", argv[optind]);
    if (keys && cfg.insecure)
        return cli_usage_error(serve_usage, "--keys and --insecure exclude each other");
    {
        wire_endpoint_t ep;
        if (wire_endpoint_parse(cfg.endpoint, &ep, &err))
            return cli_usage_error(serve_usage, "--bind: %s", err.msg);
    }
    if (keys) {
        snprintf(key, sizeof(key), "%s/%s.key", keys, WIRE_SERVICE_KEY_NAME);
        snprintf(allow, sizeof(allow), "%s/allow", keys);
        cfg.key = key;
        cfg.allow = allow;
    }
    cfg.db_path = cli_pick_db(g, db);
    cfg.laws = true; /* refit the scaling laws as results come in */

    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    svc = service_open(&cfg, &err);
    if (!svc)
        return cli_fail(&err);
    fprintf(stderr, "carbs: serving %s on %s; workers: carbs worker --connect %s\n", cfg.db_path,
            service_endpoint(svc), service_endpoint(svc));
    if (cfg.insecure)
        log_warn("--insecure: plain TCP, no keys: anyone who can reach %s is an admin "
                 "(can create, stop and tell sweeps)", service_endpoint(svc));
    while (!serve_stop) {
        if (service_step(svc, 1000, &err)) {
            service_close(svc);
            return cli_fail(&err);
        }
    }
    log_info("stopping: running trials stay in the store and re-attach on restart");
    service_close(svc);
    return CLI_EXIT_OK;
}
