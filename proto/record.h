/*
 * record.h - the export record (docs/protocol.md, The export record): one
 * JSON object per trial, written by `carbs export`, read by `carbs import`
 * (and carried by the import message as an array) and the shape of
 * ask-tell's observe.
 *
 *   {"id", "sweep", "state", "params": {...}, "metrics": {...}, "output",
 *    "cost", "is_failure", "attempt", "worker", "started", "finished"}
 *
 * plus two optional keys, "failure" (a failure kind, omitted when none) and
 * "message" (omitted when empty), so an export keeps why a trial failed.
 * On decode only params, output, cost and is_failure are required; output
 * may be null (NaN) only when is_failure is true.  Times are unix seconds
 * as numbers.  Encodings are canonical like every proto codec (json.h).
 */
#ifndef CARBS_PROTO_RECORD_H
#define CARBS_PROTO_RECORD_H

#include "proto/types.h"

typedef struct proto_record {
    int64_t id;                 /* trial id; 0 = absent */
    char sweep[CARBS_NAME_MAX]; /* sweep name; "" = absent */
    carbs_trial_state_t state;  /* absent decodes as done, or failed when is_failure */
    carbs_params_t params;
    carbs_result_t metrics;     /* metric[], extras, failure and message; curve unused */
    double output;              /* NaN = null: allowed only with is_failure */
    double cost;                /* finite */
    bool is_failure;
    int attempt;                /* 0 = absent */
    char worker[CARBS_NAME_MAX]; /* "" = absent */
    double started, finished;   /* unix seconds; 0 = absent */
} proto_record_t;

/* Make *rec empty: zero ids, every metric NaN, output NaN. */
void proto_record_init(proto_record_t *rec);
/* Free what *rec owns and make it empty again.  Safe on an empty record. */
void proto_record_release(proto_record_t *rec);

/* Encode rec as one compact JSON object (no newline) into a new string *out
 * of *len bytes (len may be NULL); caller frees with free().  Returns 0,
 * CARBS_EINVAL (a non-finite cost, a NaN output without is_failure, a bad
 * state or name) or CARBS_ENOMEM; *out is NULL on failure. */
int proto_record_encode(const proto_record_t *rec, char **out, size_t *len, carbs_err_t *err);

/* Decode the len bytes at buf into *rec, which this function initialises.
 * Returns 0, CARBS_EPROTO (bad JSON, missing or mistyped field),
 * CARBS_ETOOBIG (a string longer than its field) or CARBS_ENOMEM; on
 * failure *rec is empty. */
int proto_record_decode(const char *buf, size_t len, proto_record_t *rec, carbs_err_t *err);

/* Encode n records as one JSON array (the import message's "records"). */
int proto_records_encode(const proto_record_t *v, size_t n, char **out, size_t *len,
                         carbs_err_t *err);

/* Decode a JSON array of records into a new array *v of *n records (caller
 * releases each with proto_record_release and frees *v).  Errors name the
 * record's index ("record 3: ...").  On failure *v is NULL and *n 0. */
int proto_records_decode(const char *buf, size_t len, proto_record_t **v, size_t *n,
                         carbs_err_t *err);

#endif
