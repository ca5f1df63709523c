/*
 * asktell.h - the line format of `carbs ask-tell`: one JSON object per line
 * in, one per line out, so any program can drive the optimizer over stdio.
 *
 * Requests ("cmd" selects; unknown keys are ignored):
 *   {"cmd":"init","seed":0,"better_direction_sign":-1,
 *    "space":[{"name":..,"kind":"log"|"logit"|"linear"|"categorical",
 *              "min":..,"max":..,"center":..,"scale":..,"is_integer":..,
 *              "rounding_factor":..,"values":[..]}, ...],
 *    "config":{"<CARBS option>": number | bool | string, ...}}
 *   {"cmd":"suggest"}
 *   {"cmd":"observe","id":"..","params":{..},"output":number|null,
 *    "cost":number,"is_failure":bool}
 *   {"cmd":"forget","id":".."}   {"cmd":"pareto"}   {"cmd":"quit"}
 * Replies: {"ok":true} (with "warning" when something was ignored),
 * {"ok":false,"error":".."}, a suggestion {"id","kind","params",
 * "pred_output","pred_cost","p_success"} (predictions omitted when
 * unknown), and {"pareto":[{"id","params","output","cost","n"}, ...]}.
 *
 * The codec decodes into plain structs and drops the json_t at once
 * (docs/style.md H21).  "config" is read through the options table of
 * proto/carbs_config.h, as a sweep file's carbs: section is, so an init
 * arrives as a checked carbs_config_t ready for the optimizer.
 */
#ifndef CARBS_PROTO_ASKTELL_H
#define CARBS_PROTO_ASKTELL_H

#include "proto/carbs_config.h"
#include "proto/types.h"

#define ASKTELL_CMD_MAP(X)                                                                         \
    X(INIT, "init")                                                                                \
    X(SUGGEST, "suggest")                                                                          \
    X(OBSERVE, "observe")                                                                          \
    X(FORGET, "forget")                                                                            \
    X(PARETO, "pareto")                                                                            \
    X(QUIT, "quit")

typedef enum asktell_cmd_kind {
#define X(id, name) ASKTELL_##id,
    ASKTELL_CMD_MAP(X)
#undef X
        ASKTELL_CMD_COUNT
} asktell_cmd_kind_t;

/* Longest accepted id, with NUL. */
#define ASKTELL_ID_MAX 64

/* Room for the list of ignored config keys of an init. */
#define ASKTELL_IGNORED_MAX 512

/* A decoded request.  All-zero is a valid empty value; release with
 * asktell_cmd_release. */
typedef struct asktell_cmd {
    asktell_cmd_kind_t kind;
    /* init: the defaults, then the "config" object, then the top-level
     * "seed" and "better_direction_sign", each checked by the options table */
    carbs_space_t space;
    carbs_config_t config;
    /* init: the config keys that are no option, quoted and comma-separated
     * ("'wandb_params', 'x'"); "" when none, cut short when very long */
    char ignored[ASKTELL_IGNORED_MAX];
    /* observe and forget: id is "" when absent; a number is given as its
     * decimal text */
    char id[ASKTELL_ID_MAX];
    carbs_params_t params;
    double output; /* NaN for null or absent */
    double cost;   /* 1 when absent (the reference's default) */
    bool is_failure;
} asktell_cmd_t;

/* Decode one line (len bytes, no newline needed) into the empty *cmd.
 * Returns 0, or CARBS_EPROTO (not JSON, not an object, unknown "cmd", a
 * field or config option of the wrong type or out of range: the message
 * names it),
 * CARBS_ETOOBIG (an over-long name or id), CARBS_ENOMEM.  On failure *cmd
 * is released and empty. */
int asktell_decode(const char *line, size_t len, asktell_cmd_t *cmd, carbs_err_t *err);

void asktell_cmd_release(asktell_cmd_t *cmd);

/* Each encoder writes one compact JSON object without newline into a new
 * string *out (caller frees).  Returns 0, CARBS_EINVAL (a non-finite
 * number where one is required, bad UTF-8) or CARBS_ENOMEM; *out is NULL on
 * failure. */

/* {"ok":true} or, when warning is non-NULL, {"ok":true,"warning":warning}. */
int asktell_encode_ok(const char *warning, char **out, carbs_err_t *err);

/* {"ok":false,"error":msg}.  Bytes of msg that are not UTF-8 are replaced
 * by '?', so an error about a bad line can always be sent. */
int asktell_encode_error(const char *msg, char **out, carbs_err_t *err);

/* A suggestion; NaN predictions are omitted. */
typedef struct asktell_suggestion {
    const char *id;
    const char *kind;
    const carbs_params_t *params;
    double pred_output, pred_cost, p_success;
} asktell_suggestion_t;

int asktell_encode_suggestion(const asktell_suggestion_t *s, char **out, carbs_err_t *err);

/* One point of the Pareto reply; id NULL or "" is written as null. */
typedef struct asktell_point {
    const char *id;
    const carbs_params_t *params;
    double output, cost;
    size_t n;
} asktell_point_t;

int asktell_encode_pareto(const asktell_point_t *pts, size_t n, char **out, carbs_err_t *err);

#endif
