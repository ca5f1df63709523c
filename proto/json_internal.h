/*
 * json_internal.h - jansson helpers shared by the proto codecs (msg.c,
 * msg_status.c, json.c, record.c).  Private to proto/: the one header that
 * includes jansson.h, and only proto/ .c files include it (docs/design.md,
 * "Layers").  It is not in tests/meson.build's public_headers on purpose.
 *
 * Conventions: every helper that can fail takes `what` (the message type or
 * "params", "result", "record") and the field key, and fills err with
 * "<what>: field '<key>' ...".  Putters take the reference of the value
 * they add (json_object_set_new).  Getters never keep a pointer into the
 * json_t tree.
 */
#ifndef CARBS_PROTO_JSON_INTERNAL_H
#define CARBS_PROTO_JSON_INTERNAL_H

#include "proto/common.h"
#include "proto/types.h"

#include <jansson.h>

/* Load flags: reject duplicate keys (an ambiguous frame is an attack or a
 * bug), read every number as a double (JSON has one number type; integer
 * fields are checked for integrality and range by the getters, and a peer's
 * big integer such as 10**20 flops still parses), and keep the end-of-input
 * check so trailing bytes after the object are an error. */
#define JSON__LOAD_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL)
/* Dump flags: compact, insertion order (jansson >= 2.8 keeps it), and 17
 * significant digits so every double round-trips exactly. */
#define JSON__DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(17))

/* Largest integer a double holds exactly: the bound for integer fields. */
#define JSON__INT_MAX 9007199254740992.0

/* Field flags. */
#define JSON__OPT 0x1      /* may be absent on decode; the empty value is omitted */
#define JSON__NONEMPTY 0x2 /* a string that must not be empty */

// ---- load and dump ----

/* Parse len bytes at buf into a JSON object.  On success *out holds a new
 * reference the caller drops with json_decref.  Fails with CARBS_ENOMEM, or
 * CARBS_EPROTO for invalid JSON (with line and column) or a non-object. */
int json__load(const char *buf, size_t len, const char *what, json_t **out, carbs_err_t *err);
/* The same for any JSON object or array. */
int json__load_value(const char *buf, size_t len, const char *what, json_t **out,
                     carbs_err_t *err);

/* Serialise root (borrowed) into a malloc'd NUL-terminated string *out of
 * *len bytes (len may be NULL).  Fails with CARBS_ENOMEM. */
int json__dump(const json_t *root, const char *what, char **out, size_t *len, carbs_err_t *err);

// ---- building ----

/* A new JSON number for the finite x: an integer when x is integral, not
 * -0 and at most 2^53 in magnitude (so 64 prints as 64), else a real.  NULL
 * when out of memory. */
json_t *json__number(double x);

/* Add val under key to obj, taking the reference of val.  A NULL val or obj
 * means an earlier allocation failed: returns CARBS_ENOMEM. */
int json__put(json_t *obj, const char *what, const char *key, json_t *val, carbs_err_t *err);

/* Add the string s.  cap > 0 bounds a fixed buffer: s must be terminated
 * within it.  CARBS_EINVAL for an unterminated or non-UTF-8 string. */
int json__put_str(json_t *obj, const char *what, const char *key, const char *s, size_t cap,
                  carbs_err_t *err);

/* Add the number x; CARBS_EINVAL when x is not finite. */
int json__put_num(json_t *obj, const char *what, const char *key, double x, carbs_err_t *err);

/* Add the integer x; CARBS_EINVAL when x < min or x > 2^53. */
int json__put_int(json_t *obj, const char *what, const char *key, int64_t x, int64_t min,
                  carbs_err_t *err);

// ---- reading ----

/* Each getter reads obj[key].  When the key is absent it returns CARBS_EPROTO
 * "missing field" if required, else 0 with *dst untouched (the caller sets
 * the default first).  A value of the wrong type is CARBS_EPROTO naming the
 * field and the expected type. */

/* Into the fixed buffer dst[cap]: CARBS_ETOOBIG when it does not fit. */
int json__get_str(json_t *obj, const char *what, const char *key, unsigned flags, char *dst,
                  size_t cap, carbs_err_t *err);
/* Into a new carbs_malloc'd string *dst (caller frees); CARBS_ENOMEM. */
int json__get_hstr(json_t *obj, const char *what, const char *key, unsigned flags,
                   char **dst, carbs_err_t *err);
/* A finite number. */
int json__get_num(json_t *obj, const char *what, const char *key, unsigned flags,
                  double *dst, carbs_err_t *err);
/* An integer in [min, 2^53] (a JSON number with no fractional part). */
int json__get_int(json_t *obj, const char *what, const char *key, unsigned flags,
                  int64_t min, int64_t max, int64_t *dst, carbs_err_t *err);
int json__get_bool(json_t *obj, const char *what, const char *key, unsigned flags,
                   bool *dst, carbs_err_t *err);

// ---- shared value types ----

/* Add ps as a flat object {name: number | string} under key, in ps order.
 * CARBS_EINVAL for a duplicate or empty name or a non-finite number. */
int json__params_put(json_t *obj, const char *what, const char *key, const carbs_params_t *ps,
                     carbs_err_t *err);
/* Append the entries of the object val (named key, for messages) to the
 * empty *ps.  On failure *ps may hold a prefix; the caller releases it. */
int json__params_get(json_t *val, const char *what, const char *key, carbs_params_t *ps,
                     carbs_err_t *err);

#define JSON__RESULT_CURVE 0x10  /* include the learning curve */
#define JSON__RESULT_STATUS 0x20 /* include status, failure and message */

/* Add the keys of r to obj: "status", "failure" (unless none), "message"
 * (unless empty) with JSON__RESULT_STATUS; "metrics" (finite metrics and
 * extras; omitted when none); "curve" [[step, tokens, loss]...] (omitted
 * when empty; a non-finite loss is null) with JSON__RESULT_CURVE.  trial_id
 * and attempt are not written. */
int json__result_put(json_t *obj, const char *what, const carbs_result_t *r, unsigned flags,
                     carbs_err_t *err);
/* Read those keys of obj into the carbs_result_init'd *r.  "status" is
 * required with JSON__RESULT_STATUS unless JSON__OPT is also given (then it
 * defaults to ok).  On failure *r may hold a prefix; the caller releases it. */
int json__result_get(json_t *obj, const char *what, carbs_result_t *r, unsigned flags,
                     carbs_err_t *err);

#endif
