/*
 * json.h - JSON text codecs for the shared value types, string in and
 * string out, so no json_t ever leaves proto/ (docs/design.md).
 *
 * Encodings are canonical: compact, keys in a fixed order, numbers with 17
 * significant digits (every double round-trips exactly) and integral values
 * up to 2^53 printed as integers ("64", not "64.0").  Decoders reject
 * invalid UTF-8, duplicate keys, trailing bytes, and NaN/Infinity (JSON has
 * no such literal; a number that overflows to infinity, like 1e999, is an
 * error too).  Every output string is malloc'd and freed with free().
 *
 * Process-wide state: jansson's allocator is one setting for the whole
 * process.  proto_json_init() points it at carbs_malloc() so the fault
 * injection of common.h reaches inside jansson; call it once from main()
 * before any thread starts (like the log level).  Without it
 * everything works, with plain malloc.
 */
#ifndef CARBS_PROTO_JSON_H
#define CARBS_PROTO_JSON_H

#include "proto/types.h"

/* Route jansson's allocations through carbs_malloc()/free().  Idempotent;
 * not thread-safe: call from main() (or a test's main) before threads. */
void proto_json_init(void);

/* Encode ps as a flat object {"name": number | "string", ...} in ps order
 * into a new string *out (caller frees).  Returns 0, CARBS_EINVAL for a
 * duplicate or empty name, a non-finite number or a string that is not
 * UTF-8, or CARBS_ENOMEM; *out is NULL on failure. */
int proto_params_to_json(const carbs_params_t *ps, char **out, carbs_err_t *err);

/* Decode the NUL-terminated text into the empty *ps (entries are appended in
 * the text's order).  Values must be finite numbers or strings; booleans,
 * null, arrays and objects are CARBS_EPROTO, an over-long name or string
 * CARBS_ETOOBIG.  On failure *ps is left empty. */
int proto_params_from_json(const char *text, carbs_params_t *ps, carbs_err_t *err);

/* What proto_result_to_json() writes besides "status", "failure",
 * "message" and "metrics". */
#define PROTO_JSON_CURVE 0x1 /* the learning curve as "curve": [[step, tokens, loss], ...] */

/* Encode r as {"status": "ok"|"failed", "failure": kind (omitted when
 * none), "message" (omitted when empty), "metrics": {name: number} (finite
 * canonical metrics in table order, then extras; omitted when none),
 * "curve" (only with PROTO_JSON_CURVE, omitted when empty; a non-finite
 * loss is written as null)}.  r->trial_id and r->attempt are not written.
 * Returns 0, CARBS_EINVAL (an extra metric with a canonical or duplicate
 * name, bad UTF-8) or CARBS_ENOMEM; *out is NULL on failure. */
int proto_result_to_json(const carbs_result_t *r, unsigned flags, char **out, carbs_err_t *err);

/* Decode text into *r, which this function initialises (carbs_result_init)
 * first; "status" is required, a "curve" is read when present.  On failure
 * *r is released and empty. */
int proto_result_from_json(const char *text, carbs_result_t *r, carbs_err_t *err);

#endif
