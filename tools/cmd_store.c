/*
 * cmd_store.c - `carbs store check|recover`: find the damage in a store and
 * get away from it (docs/store.md, "Damage").
 *
 *   carbs store check [--db PATH]
 *     SQLite's integrity check over every page, then every row read on its
 *     own and checked: text is UTF-8, states and kinds are known, the JSON
 *     columns decode with the codecs the service uses.  One line per
 *     problem; exit 0 when clean, 1 when anything was found.  A reader:
 *     safe while a service runs.
 *
 *   carbs store recover --db PATH --out NEW
 *     the same walk, copying every row that passes, with its ids, into a
 *     new store NEW, and saying what was left out.  PATH is only read.
 *
 *   carbs store upgrade [--db PATH]
 *     bring a store written by an older carbs to this one's schema version
 *     (docs/store.md, "Migrations"); a store already there is left as it is.
 */
#include "proto/common.h"
#include "tools/commands.h"

#include "proto/json.h"
#include "proto/laws.h"
#include "proto/sweep.h"
#include "store/store.h"
#include "tools/verb.h"

#include <unistd.h>

static const char usage_check[] = "carbs store check [--db PATH]";
static const char usage_recover[] = "carbs store recover --db PATH --out NEW";
static const char usage_upgrade[] = "carbs store upgrade [--db PATH]";

static void help(FILE *out)
{
    fprintf(out, "usage: %s\n       %s\n       %s\n\n"
                 "check    check every page and every row of the store; exit 1 when anything\n"
                 "         is wrong, with one line per problem\n"
                 "recover  copy every row that can be read and passes the checks into a new\n"
                 "         store NEW (same ids), and say what was left out\n"
                 "upgrade  bring a store from an older carbs to this one's schema version\n",
            usage_check, usage_recover, usage_upgrade);
}

// ---- the JSON columns, judged by the codecs that read them ----

static bool json_ok(void *ctx, const char *table, const char *column, const char *text, char *why,
                    size_t cap)
{
    carbs_err_t err = {0};
    int rc = 0;

    UNUSED(ctx);
    if (strcmp(table, "sweeps") == 0 && strcmp(column, "spec") == 0) {
        sweep_spec_t spec = {0};
        rc = sweep_spec_from_json(text, &spec, &err);
        sweep_spec_release(&spec);
    } else if (strcmp(table, "trials") == 0 && strcmp(column, "params") == 0) {
        carbs_params_t ps = {0};
        rc = proto_params_from_json(text, &ps, &err);
        carbs_params_release(&ps);
    } else if (strcmp(table, "results") == 0 && strcmp(column, "metrics") == 0) {
        carbs_result_t r;
        rc = proto_result_from_json(text, &r, &err);
        if (rc == 0)
            carbs_result_release(&r);
    } else if (strcmp(table, "laws") == 0 && strcmp(column, "law") == 0) {
        laws_t l = {0};
        rc = laws_from_json(text, &l, &err);
        if (rc == 0)
            laws_release(&l);
    }
    /* workers.devices and optimizer_state.state have no codec to judge them
     * by: the walk checked that they are UTF-8 text. */
    if (rc)
        snprintf(why, cap, "does not decode (%s)", err.msg);
    return rc == 0;
}

static void print_line(void *ctx, const char *line)
{
    UNUSED(ctx);
    printf("%s\n", line);
}

/* --db PATH, and --out NEW when out is not NULL. */
static int parse(int argc, char **argv, const char *usage, const char **db, const char **out)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, rc = CLI_EXIT_OK;

    while ((c = verb_getopt(argc, argv, NULL, opts, usage, &rc)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return -1;
        case 'd':
            *db = cli_db_path(optarg);
            break;
        case 'o':
            if (!out)
                return cli_usage_error(usage, "--out goes with `carbs store recover`");
            *out = optarg;
            break;
        default:
            return rc;
        }
    }
    if (optind != argc)
        return cli_usage_error(usage, "too many arguments");
    return CLI_EXIT_OK;
}

static void summary(const char *verb, const store_audit_stats_t *s)
{
    fprintf(stderr,
            "carbs: store %s: %zu rows %s, %zu left out, %zu unreadable, %zu repaired; %zu "
            "problem%s\n",
            verb, s->copied, strcmp(verb, "check") == 0 ? "fine" : "copied", s->skipped,
            s->unreadable, s->repaired, s->problems, s->problems == 1 ? "" : "s");
}

static int store_check_verb(int argc, char **argv, const cli_globals_t *g)
{
    const char *db = NULL;
    store_audit_t a = {.json_ok = json_ok, .report = print_line};
    store_audit_stats_t stats;
    carbs_err_t err = {0};
    store_t *st;
    int rc = parse(argc, argv, usage_check, &db, NULL);

    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (!db)
        db = g->db;
    st = verb_store_open(db, &err);
    if (!st)
        return cli_fail(&err);
    rc = store_audit(st, &a, &stats, &err);
    store_close(st);
    if (rc)
        return cli_fail(&err);
    summary("check", &stats);
    if (stats.problems)
        return cli_error(CLI_EXIT_FAIL,
                         "'%s' has problems: `carbs store recover --db %s --out NEW.db` copies "
                         "what can be read into a new store",
                         db, db);
    return CLI_EXIT_OK;
}

static int store_recover_verb(int argc, char **argv, const cli_globals_t *g)
{
    const char *db = NULL, *out = NULL;
    store_audit_t a = {.json_ok = json_ok, .report = print_line};
    store_audit_stats_t stats;
    carbs_err_t err = {0};
    long pid = 0;
    int rc = parse(argc, argv, usage_recover, &db, &out);

    UNUSED(g);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    /* Explicit on purpose: recovering the default store by accident would
     * leave the user wondering which file is which. */
    if (!db || !out)
        return cli_usage_error(usage_recover, "recover needs --db PATH and --out NEW");
    if (store_writer_holder(db, &pid, NULL) == 0 && pid != 0)
        fprintf(stderr, "carbs: warning: '%s' is open for writing by pid %ld: the copy is what "
                        "it had committed when the recovery began\n",
                db, pid);
    if (store_recover(db, out, &a, &stats, &err))
        return cli_fail(&err);
    summary("recover", &stats);
    fprintf(stderr, "carbs: recovered '%s' into '%s'; check it with `carbs store check --db %s`, "
                    "then serve from it\n",
            db, out, out);
    return CLI_EXIT_OK;
}

static int store_upgrade_verb(int argc, char **argv, const cli_globals_t *g)
{
    const char *db = NULL;
    carbs_err_t err = {0};
    store_t *st;
    int rc = parse(argc, argv, usage_upgrade, &db, NULL);

    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (!db)
        db = g->db;
    if (access(db, F_OK) != 0)
        return cli_error(CLI_EXIT_FAIL, "no store at '%s'", db);
    /* Opening for writing migrates, one transaction per step. */
    st = store_open(db, 0, &err);
    if (!st)
        return cli_fail(&err);
    store_close(st);
    fprintf(stderr, "carbs: '%s' is at schema version %d\n", db, STORE_SCHEMA_VERSION);
    return CLI_EXIT_OK;
}

int cmd_store(int argc, char **argv, const cli_globals_t *g)
{
    static const struct {
        const char *name;
        int (*fn)(int argc, char **argv, const cli_globals_t *g);
    } verbs[] = {
        {"check", store_check_verb},
        {"recover", store_recover_verb},
        {"upgrade", store_upgrade_verb},
    };

    if (argc < 2) {
        help(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        help(stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
        if (strcmp(argv[1], verbs[i].name) == 0) {
            optind = 0; /* glibc: reinitialise getopt for the verb */
            return verbs[i].fn(argc - 1, argv + 1, g);
        }
    }
    fprintf(stderr, "carbs: error: unknown store verb '%s'\n", argv[1]);
    help(stderr);
    return CLI_EXIT_USAGE;
}
