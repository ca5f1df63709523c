/*
 * cmd_ask.c - `carbs ask SWEEP`: take one suggestion from a sweep for a
 * manual loop (a shell script runs it, then `carbs tell`s the outcome).
 *
 * The trial is stored running, held by the ask, before it is printed; the
 * request goes through request_send(), so it reaches the service that
 * holds the store or a one-shot one (docs/store.md, the writer rule).
 * Prints {"trial_id": N, "params": {...}} on one line.
 */
#include "proto/common.h"
#include "tools/commands.h"

#include <inttypes.h>

#include "proto/json.h"
#include "tools/request.h"
#include "tools/verb.h"

static const char usage_text[] = "carbs ask SWEEP [--db PATH]";

int cmd_ask(int argc, char **argv, const cli_globals_t *g)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db_opt = NULL, *sweep;
    proto_msg_t m, reply = {0};
    carbs_err_t err = {0};
    char *params = NULL;
    int c, rc = CLI_EXIT_OK;

    while ((c = verb_getopt(argc, argv, NULL, opts, usage_text, &rc)) != -1) {
        switch (c) {
        case 'h':
            printf("usage: %s\n\nTake a suggestion from SWEEP (id or name) and print\n"
                   "{\"trial_id\": N, \"params\": {...}}.  Report its outcome with\n"
                   "`carbs tell SWEEP N --output X --cost C`.  Sent to the service holding the\n"
                   "store, or answered by a one-shot service when none runs.\n",
                   usage_text);
            return CLI_EXIT_OK;
        case 'd':
            db_opt = optarg;
            break;
        default:
            return rc;
        }
    }
    if (optind + 1 != argc)
        return cli_usage_error(usage_text, optind >= argc ? "missing SWEEP" : "too many arguments");
    sweep = argv[optind];
    proto_msg_init(&m, PROTO_MSG_ASK);
    if (str_copy(m.ask.sweep, sizeof(m.ask.sweep), sweep) || !sweep[0]) {
        proto_msg_release(&m);
        return cli_usage_error(usage_text, "'%s' is not a sweep name or id", sweep);
    }
    if ((rc = verb_store_exists(cli_pick_db(g, db_opt))))
        goto out;
    if (request_send(cli_pick_db(g, db_opt), sweep, &m, &reply, &err) ||
        verb_reply_check(&reply, &err) ||
        proto_params_to_json(&reply.reply.params, &params, &err)) {
        rc = cli_fail(&err);
        goto out;
    }
    printf("{\"trial_id\":%" PRId64 ",\"params\":%s}\n", reply.reply.trial_id, params);
out:
    free(params);
    proto_msg_release(&reply);
    proto_msg_release(&m);
    return rc;
}
