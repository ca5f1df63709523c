/*
 * cmd_train.c - `carbs train`: one run of the embedded trainer, standalone.
 *
 * The config is the defaults, then a YAML file (a flat map of trainer
 * parameter names: docs/sweep-file.md, The one list of names), then each
 * --set name=value in order (docs/style.md H39).  Progress (step, loss,
 * tokens/s, ETA) goes to stderr at most once a second and at the end; the
 * result (status and every metric under its canonical name) goes to stdout
 * as one JSON object.  A hyperparameter failure (diverged, oom) still
 * prints its result, then exits 1.
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <yaml.h>

#include "proto/json.h"
#include "proto/types.h"
#include "trainer/dataset.h"
#include "trainer/prepare.h"
#include "trainer/trainer.h"

static const char train_usage[] =
    "carbs train [CONFIG.yaml] [--set NAME=VALUE]... [--data DIR | --synthetic]\n"
    "                   [--threads N] [--backend NAME] [--device DEV] [--mcq-items N]\n"
    "                   [--mcq-test] [--curve] [--json]";

/* Tokens the synthetic corpus generates for --synthetic. */
#define TRAIN_SYNTHETIC_TOKENS (1u << 21)

static void help(void)
{
    printf("usage: %s\n\n"
           "Train one model with the embedded trainer and print its metrics as JSON.\n\n"
           "  CONFIG.yaml      a flat map of trainer parameters and options, e.g.\n"
           "                   'd_model: 128'\n"
           "  --set NAME=VALUE set one parameter or option (after the file; repeatable)\n"
           "  --data DIR       prepared data (default $CARBS_DATA, else ./data-cache);\n"
           "                   make it with 'carbs data prepare --vocab N'\n"
           "  --synthetic      train on the synthetic corpus generated in code\n"
           "  --threads N      CPU threads (default 1)\n"
           "  --mcq-items N    MCQ-dev items scored at the end (default 500; more items,\n"
           "                   smaller standard error: about 1.4 points at 1,000)\n"
           "  --mcq-test       also score as many MCQ-test items, as the test_mcq_* metrics\n"
           "                   (the held-out set a sweep never sees: for a final report)\n"
           "  --backend NAME   compute backend (default cpu; 'carbs version' lists them)\n"
           "  --device DEV     cpu, cuda:K or cuda:K,L,... (one step's batch split over\n"
           "                   those GPUs, gradients all-reduced); picks the backend\n"
           "  --curve          include the learning curve in the JSON\n"
           "  --json           progress lines on stderr as JSON objects\n\n"
           "parameters:",
           train_usage);
    for (int p = 0; p < CARBS_TP_COUNT; p++)
        printf("%s%s", p % 8 ? " " : "\n  ", carbs_trainer_param_name((carbs_trainer_param_t)p));
    printf("\n\noptions (how the end of a run is evaluated, whole numbers >= 1):\n  eval_tokens"
           "      validation tokens scored (default %d)\n  mcq_items        MCQ-dev items scored"
           " (default %d; --mcq-items wins)\n",
           TRAINER_EVAL_TOKENS, TRAINER_MCQ_ITEMS);
}

// ---- configuration ----

/* name=value text into cfg: a number when the whole value parses as one. */
static int set_text(trainer_config_t *cfg, trainer_options_t *opt, const char *name,
                    size_t name_len, const char *value, carbs_err_t *err)
{
    carbs_value_t v;
    double num;

    memset(&v, 0, sizeof(v));
    if (name_len == 0 || name_len >= sizeof(v.name))
        return carbs_fail(err, CARBS_EINVAL, "bad parameter name '%.*s'", (int)name_len, name);
    memcpy(v.name, name, name_len);
    if (parse_double(value, -INFINITY, INFINITY, &num) == 0) {
        v.num = num;
    } else {
        v.is_str = true;
        if (str_copy(v.str, sizeof(v.str), value))
            return carbs_fail(err, CARBS_EINVAL, "value of '%s' is too long", v.name);
    }
    if (carbs_trainer_option_parse(v.name) >= 0)
        return trainer_options_set(opt, &v, err);
    return trainer_config_set(cfg, &v, err);
}

/* Read a flat YAML map of parameter (and option) names to scalars into cfg and opt. */
static int load_yaml(const char *path, trainer_config_t *cfg, trainer_options_t *opt,
                     carbs_err_t *err)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    FILE *f = fopen(path, "rb");
    char key[CARBS_NAME_MAX] = "";
    int depth = 0, rc = 0;
    bool have_key = false, done = false;

    if (!f)
        return carbs_fail(err, CARBS_EIO, "cannot open '%s': %s", path, strerror(errno));
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    while (!done && !rc) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = carbs_fail(err, CARBS_EINVAL, "%s:%zu: %s", path, parser.problem_mark.line + 1,
                            parser.problem ? parser.problem : "invalid yaml");
            break;
        }
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
            if (++depth > 1)
                rc = carbs_fail(err, CARBS_EINVAL,
                                "%s:%zu: '%s' must be a scalar (the file is a flat map)", path,
                                ev.start_mark.line + 1, key);
            break;
        case YAML_SEQUENCE_START_EVENT:
            rc = carbs_fail(err, CARBS_EINVAL, "%s:%zu: '%s' must be a scalar, not a list", path,
                            ev.start_mark.line + 1, have_key ? key : "(top level)");
            break;
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_SCALAR_EVENT:
            if (depth != 1) {
                rc = carbs_fail(err, CARBS_EINVAL, "%s:%zu: expected a map of parameters", path,
                                ev.start_mark.line + 1);
            } else if (!have_key) {
                str_copy(key, sizeof(key), (const char *)ev.data.scalar.value);
                have_key = true;
            } else {
                carbs_err_t inner = {0};
                rc = set_text(cfg, opt, key, strlen(key), (const char *)ev.data.scalar.value,
                              &inner);
                if (rc)
                    rc = carbs_fail(err, rc, "%s:%zu: %s", path, ev.start_mark.line + 1,
                                    inner.msg);
                have_key = false;
            }
            break;
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

// ---- progress ----

static void print_progress(const trainer_progress_t *p, bool json)
{
    double eta = p->eta_s;
    if (json) {
        fprintf(stderr,
                "{\"step\":%lld,\"steps\":%lld,\"tokens\":%.0f,\"loss\":%.5f,\"lr\":%.4g,"
                "\"grad_norm\":%.4g,\"tokens_per_s\":%.1f,\"eta_s\":%.1f}\n",
                (long long)p->step, (long long)p->steps, p->tokens, (double)p->loss,
                (double)p->lr, (double)p->grad_norm, p->tokens_per_s, eta);
        return;
    }
    fprintf(stderr, "step %lld/%lld  loss %.4f  lr %.3g  %.0f tok/s  eta %d:%02d\n",
            (long long)p->step, (long long)p->steps, (double)p->loss, (double)p->lr,
            p->tokens_per_s, (int)(eta / 60), (int)fmod(eta, 60));
}

// ---- the command ----

int cmd_train(int argc, char **argv, const cli_globals_t *g)
{
    static const struct option opts[] = {
        {"set", required_argument, NULL, 's'},    {"data", required_argument, NULL, 'd'},
        {"synthetic", no_argument, NULL, 'S'},    {"threads", required_argument, NULL, 't'},
        {"backend", required_argument, NULL, 'b'}, {"curve", no_argument, NULL, 'c'},
        {"device", required_argument, NULL, 'D'},
        {"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
        {"mcq-items", required_argument, NULL, 'm'}, {"mcq-test", no_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    trainer_config_t cfg;
    trainer_options_t opt = {0};
    trainer_progress_t prog;
    dataset_t ds;
    carbs_result_t res;
    carbs_err_t err = {0};
    trainer_t *tr = NULL;
    const char *data_dir = NULL, *config = NULL;
    const char **sets = xcalloc((size_t)argc + 1, sizeof(char *));
    size_t n_sets = 0;
    bool synthetic = false, curve = false, json = false, have_ds = false;
    char *out = NULL;
    double last_print = 0;
    long threads = 1, mcq_items = 0;
    int c, rc, exit_code = CLI_EXIT_FAIL;

    UNUSED(g);
    memset(&ds, 0, sizeof(ds));
    carbs_result_init(&res);
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            sets[n_sets++] = optarg;
            break;
        case 'd':
            data_dir = optarg;
            break;
        case 'S':
            synthetic = true;
            break;
        case 't':
            if (parse_long(optarg, 1, 1024, &threads)) {
                exit_code = cli_usage_error(train_usage, "bad --threads '%s'", optarg);
                goto out;
            }
            break;
        case 'b':
            opt.backend = optarg;
            break;
        case 'D':
            opt.device = optarg;
            break;
        case 'm': /* applied after the file and --set: the flag wins (H39) */
            if (parse_long(optarg, 1, 1000000, &mcq_items)) {
                exit_code = cli_usage_error(train_usage, "bad --mcq-items '%s'", optarg);
                goto out;
            }
            break;
        case 'T':
            opt.mcq_test = true;
            break;
        case 'c':
            curve = true;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            help();
            exit_code = CLI_EXIT_OK;
            goto out;
        default:
            exit_code = cli_usage_error(train_usage, "unknown option");
            goto out;
        }
    }
    if (optind < argc)
        config = argv[optind++];
    if (optind < argc) {
        exit_code = cli_usage_error(train_usage, "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    opt.threads = (int)threads;

    trainer_config_defaults(&cfg);
    if (config && load_yaml(config, &cfg, &opt, &err)) {
        exit_code = err.code == CARBS_EIO ? cli_fail(&err) : cli_error(CLI_EXIT_USAGE, "%s", err.msg);
        goto out;
    }
    for (size_t i = 0; i < n_sets; i++) {
        const char *eq = strchr(sets[i], '=');
        if (!eq) {
            exit_code = cli_usage_error(train_usage, "--set wants NAME=VALUE, got '%s'", sets[i]);
            goto out;
        }
        if (set_text(&cfg, &opt, sets[i], (size_t)(eq - sets[i]), eq + 1, &err)) {
            exit_code = cli_error(CLI_EXIT_USAGE, "--set %s: %s", sets[i], err.msg);
            goto out;
        }
    }
    if (mcq_items > 0)
        opt.mcq_items = (size_t)mcq_items;

    if (synthetic)
        rc = dataset_synthetic((size_t)cfg.vocab_size, cfg.seed, TRAIN_SYNTHETIC_TOKENS, &ds, &err);
    else
        rc = dataset_load(prepare_data_dir(data_dir), (size_t)cfg.vocab_size, &ds, &err);
    if (rc) {
        if (rc == CARBS_ENOTFOUND)
            fprintf(stderr, "carbs: hint: run 'carbs data fetch && carbs data prepare --vocab %lld',"
                            " or pass --synthetic\n",
                    (long long)cfg.vocab_size);
        exit_code = cli_fail(&err);
        goto out;
    }
    have_ds = true;

    tr = trainer_open(&cfg, &opt, &ds, &err);
    if (!tr) {
        rc = err.code;
    } else {
        do {
            rc = trainer_step(tr, &prog, &err);
            if (rc >= 0 && (now_monotonic() - last_print >= 1.0 || rc == 0)) {
                print_progress(&prog, json);
                last_print = now_monotonic();
            }
        } while (rc == CARBS_CONTINUE);
        if (!rc)
            rc = trainer_finish(tr, &res, &err);
        if (rc)
            trainer_partial_result(tr, &res);
    }
    if (rc == CARBS_EINVAL || rc == CARBS_ENOTFOUND) {
        exit_code = cli_error(CLI_EXIT_USAGE, "%s", err.msg);
        goto out;
    }
    if (rc) {
        trainer_fail_result(&res, rc, &err);
        fprintf(stderr, "carbs: error: %s\n", err.msg);
    }
    if (proto_result_to_json(&res, curve ? PROTO_JSON_CURVE : 0, &out, &err)) {
        exit_code = cli_fail(&err);
        goto out;
    }
    printf("%s\n", out);
    fflush(stdout);
    exit_code = rc ? CLI_EXIT_FAIL : CLI_EXIT_OK;
out:
    free(out);
    trainer_close(tr);
    if (have_ds)
        dataset_release(&ds);
    carbs_result_release(&res);
    free(sets);
    return exit_code;
}
