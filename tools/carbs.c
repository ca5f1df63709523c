/*
 * carbs.c - the one binary: global options, then a table of subcommands
 * (docs/style.md H36).  The worker, the trainer and ask-tell are subcommands too.
 *
 *   carbs [--db PATH] [--log-level LEVEL] <command> [options]
 */
#include "proto/common.h"
#include "proto/json.h"
#include "tools/commands.h"
#include "trainer/backend.h"
#include "trainer/blas.h"

#include <getopt.h>
#include <signal.h>

#include "carbs_config.h"

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv, const cli_globals_t *g);
    const char *summary;
} commands[] = {
    {"version", cmd_version, "print the version and build features"},
    {"worker", cmd_worker, "join a service and run trials"},
    {"sweep", cmd_sweep,
     "create, list, show, pause, resume, stop, extend, rename or delete sweeps"},
    {"ask-tell", cmd_asktell, "drive the optimizer over stdin/stdout, one JSON object per line"},
    {"serve", cmd_serve, "serve the store's active sweeps to workers"},
    {"run", cmd_run, "run a whole sweep on this machine: store, service and workers"},
    {"keygen", cmd_keygen, "write a CurveZMQ key pair for a worker or the service"},
    {"data", cmd_data, "fetch and prepare the embedded trainer's corpus and question sets"},
    {"train", cmd_train, "train one model with the embedded trainer and print its metrics"},
    {"ask", cmd_ask, "take a trial from a sweep (manual loop)"},
    {"tell", cmd_tell, "report a trial's result (manual loop)"},
    {"status", cmd_status, "show sweeps, workers, running trials, best and front size"},
    {"trials", cmd_trials, "list a sweep's trials"},
    {"pareto", cmd_pareto, "print a sweep's observed Pareto front"},
    {"best", cmd_best, "print a sweep's best trial, or the best at or under a cost"},
    {"export", cmd_export, "dump a sweep's trials as JSON lines or CSV"},
    {"import", cmd_import, "add finished trials to a sweep from JSON records"},
    {"workers", cmd_workers, "list the workers the store knows"},
    {"slurm", cmd_slurm, "launch workers as a Slurm job array"},
    {"laws", cmd_laws, "fit and query a sweep's scaling laws"},
    {"plot", cmd_plot, "draw a sweep's Pareto front, laws and curves with gnuplot"},
    {"store", cmd_store, "check a store for damage, or recover what can be read into a new one"},
    {"dashboard", cmd_dashboard, "serve a live, read-only web page over the store"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: carbs [--db PATH] [--log-level LEVEL] <command> [options]\n"
                 "       carbs --version | --help\n\n"
                 "Cost-aware hyperparameter search (CARBS) as a service.\n\ncommands:\n");
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'carbs <command> --help' for a command's options.\n"
                 "The store is --db, else $CARBS_DB, else ./carbs.db (sqlite:///path accepted).\n"
                 "Log level (error, warn, info, debug): --log-level, else $CARBS_LOG.\n");
}

int cmd_version(int argc, char **argv, const cli_globals_t *g)
{
    UNUSED(g);
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: carbs version\n\nPrint the version and build features.\n");
        return CLI_EXIT_OK;
    }
    if (argc > 1)
        return cli_usage_error("carbs version", "unexpected argument '%s'", argv[1]);
    /* A feature is "on" when a backend for it is compiled in, not merely
     * when its toolkit was found at configure time. */
    printf("carbs %s\nfeatures: cpu=%s cuda=%s nccl=%s\n", CARBS_VERSION,
           backend_find("cpu") ? "on" : "off", backend_find("cuda") ? "on" : "off",
           backend_find("cuda") && CARBS_HAVE_NCCL ? "on" : "off");
    {
        const char *set = getenv("OPENBLAS_CORETYPE");

        printf("blas: OpenBLAS kernels %s%s%s%s\n", blas_core(), set && *set ? " (OPENBLAS_CORETYPE=" : "",
               set && *set ? set : "", set && *set ? ")" : "");
    }
    printf("backends:");
    for (const char *const *b = backend_names(); *b; b++)
        printf(" %s", *b);
    printf("\n");
    if (CARBS_HAVE_CUDA && !backend_find("cuda"))
        printf("note: the CUDA toolkit was found, but this build has no CUDA trainer backend\n");
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"log-level", required_argument, NULL, 'l'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_globals_t g = {.db = "./carbs.db", .log_level = LOG_INFO};
    const char *level = getenv("CARBS_LOG");
    const char *env_db = getenv("CARBS_DB");
    int c;

    blas_core_fix(argv); /* returns unless OpenBLAS fell back to slow kernels */
    signal(SIGPIPE, SIG_IGN);
    proto_json_init();
    if (env_db && *env_db)
        g.db = cli_db_path(env_db);
    /* '+' stops at the first non-option: the subcommand owns the rest. */
    while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            g.db = cli_db_path(optarg);
            break;
        case 'l':
            level = optarg;
            break;
        case 'V':
            return cmd_version(0, argv, &g);
        case 'h':
            usage(stdout);
            return CLI_EXIT_OK;
        default:
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (level && log_parse_level(level, &g.log_level))
        return cli_error(CLI_EXIT_USAGE, "unknown log level '%s' (error, warn, info, debug)",
                         level);
    log_setup(g.log_level, stderr);
    if (optind >= argc) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        if (strcmp(argv[optind], commands[i].name) == 0) {
            char **sub = argv + optind;
            int sub_argc = argc - optind;
            optind = 0; /* reset getopt for the subcommand (glibc: 0 reinitialises) */
            return commands[i].fn(sub_argc, sub, &g);
        }
    }
    fprintf(stderr, "carbs: error: unknown command '%s'\n", argv[optind]);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
