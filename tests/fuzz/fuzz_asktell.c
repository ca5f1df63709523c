/*
 * fuzz_asktell.c - libFuzzer harness for the ask-tell request decoder
 * (proto/asktell.h: one JSON line of `carbs ask-tell`).
 *
 * Properties: decoding arbitrary bytes never crashes or leaks; a failure
 * returns the code in err with a message and leaves the command empty, and
 * that message can always be sent back as an error reply; a success gives
 * a known command whose id fits its field, whose ignored-keys list can be
 * sent as the warning of an ok reply (as tools/cmd_asktell.c does), and
 * whose observed parameters encode as the params of a reply.
 */
#include "fuzz.h"

#include <math.h>

#include "proto/asktell.h"

/* A reply encoder's result: it must have written a reply. */
static void check_reply(int rc, char **out, const carbs_err_t *err, const char *what)
{
    if (rc < 0 || !*out)
        fuzz_fail(what, err);
    free(*out);
    *out = NULL;
}

static void check_failure(int rc, const asktell_cmd_t *cmd, const carbs_err_t *err)
{
    carbs_err_t err2 = {0};
    char *out = NULL;

    if (err->code != rc || !err->msg[0])
        fuzz_fail("a failed decode gave no error", err);
    if (cmd->space.n || cmd->params.n || cmd->id[0] || cmd->ignored[0])
        fuzz_fail("a failed decode left a command", err);
    check_reply(asktell_encode_error(err->msg, &out, &err2), &out, &err2,
                "the error of a failed decode cannot be sent");
}

static void check_success(const asktell_cmd_t *cmd)
{
    carbs_err_t err = {0};
    char *out = NULL;

    if ((unsigned)cmd->kind >= ASKTELL_CMD_COUNT)
        fuzz_fail("decoded an unknown command", NULL);
    if (memchr(cmd->id, '\0', sizeof(cmd->id)) == NULL ||
        memchr(cmd->ignored, '\0', sizeof(cmd->ignored)) == NULL)
        fuzz_fail("an id or ignored list is not terminated", NULL);
    if (cmd->ignored[0]) {
        char warning[ASKTELL_IGNORED_MAX + 64];
        snprintf(warning, sizeof(warning), "ignored config keys: %s", cmd->ignored);
        check_reply(asktell_encode_ok(warning, &out, &err), &out, &err,
                    "the ignored config keys cannot be sent as a warning");
    }
    if (cmd->kind == ASKTELL_OBSERVE || cmd->kind == ASKTELL_FORGET) {
        asktell_suggestion_t s = {cmd->id, "fuzz", &cmd->params, cmd->output, cmd->cost, NAN};
        check_reply(asktell_encode_suggestion(&s, &out, &err), &out, &err,
                    "the id and params of an observe cannot be sent back");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    asktell_cmd_t cmd;
    carbs_err_t err = {0};
    int rc = asktell_decode((const char *)data, size, &cmd, &err);

    if (rc < 0)
        check_failure(rc, &cmd, &err);
    else
        check_success(&cmd);
    asktell_cmd_release(&cmd);
    return 0;
}
