/*
 * jw.h - a small JSON writer on top of strbuf.h: compact text built value
 * by value, with the commas and colons placed for the caller.
 *
 * The writer keeps a stack of open containers.  Inside an object every
 * value takes its key as the second argument; inside an array, and for the
 * top-level value, the key is NULL.  A key in an array, a missing key in an
 * object, an end with nothing open or nesting deeper than JW_DEPTH_MAX are
 * programmer errors and assert.
 *
 * What comes out is what proto/json.c writes for the same values: compact
 * (no spaces), strings escaped by strbuf_add_json_str() (so they must be
 * UTF-8), numbers with 17 significant digits ("%.17g": every double reads
 * back as itself, an integral value prints without a fraction).  JSON has
 * no NaN or Infinity: jw_num() refuses a non-finite number with
 * CARBS_EINVAL, like the codecs, and jw_num_or_null() writes null for it,
 * where null is how the document says "none" (a missing best result, a
 * learning-curve loss that diverged).
 *
 * Errors are sticky, as in strbuf.h: the first failure (CARBS_ENOMEM, or
 * CARBS_EINVAL for a string that is not UTF-8 or a non-finite jw_num())
 * is kept in jw.sb.err and the later calls do nothing.  Check it once with
 * jw_detach() or jw.sb.err when the document is done.
 *
 * Usage:
 *     jw_t jw;
 *     jw_init(&jw);
 *     jw_object(&jw, NULL);
 *     jw_str(&jw, "name", name);
 *     jw_array(&jw, "runs");
 *     jw_int(&jw, NULL, 42);
 *     jw_end(&jw);
 *     jw_end(&jw);
 *     char *text = jw_detach(&jw, NULL);   // {"name":"...","runs":[42]}
 */
#ifndef CARBS_PROTO_JW_H
#define CARBS_PROTO_JW_H

#include "proto/common.h"
#include "proto/strbuf.h"

#define JW_DEPTH_MAX 32 /* open containers at once */

typedef struct jw {
    strbuf_t sb;                  /* the text so far; sb.err is the sticky error */
    unsigned depth;               /* containers open now */
    bool in_object[JW_DEPTH_MAX]; /* per level: object (keys) or array */
    bool has_item[JW_DEPTH_MAX];  /* per level: a value was written (comma next) */
} jw_t;

/* Start an empty document. */
void jw_init(jw_t *jw);

/* Free the text and forget everything; jw may then be reused after
 * jw_init().  Safe on a released writer. */
void jw_release(jw_t *jw);

/* Empty the document but keep the buffer, for writing one line after
 * another (also clears a sticky error). */
void jw_reset(jw_t *jw);

/* Open an object or an array as the next value (under key inside an
 * object, key NULL elsewhere).  Close it with jw_end(). */
void jw_object(jw_t *jw, const char *key);
void jw_array(jw_t *jw, const char *key);

/* Close the innermost open container. */
void jw_end(jw_t *jw);

/* Scalars.  jw_str() needs UTF-8 (CARBS_EINVAL otherwise); jw_num() a
 * finite x (CARBS_EINVAL otherwise). */
void jw_str(jw_t *jw, const char *key, const char *s);
void jw_num(jw_t *jw, const char *key, double x);
void jw_num_or_null(jw_t *jw, const char *key, double x);
void jw_int(jw_t *jw, const char *key, int64_t x);
void jw_bool(jw_t *jw, const char *key, bool b);
void jw_null(jw_t *jw, const char *key);

/* Write json, a JSON value that is already encoded (the text a proto/ codec
 * produced, a stored column), as it is.  The caller vouches for it. */
void jw_raw(jw_t *jw, const char *key, const char *json);

/* Hand over the document as a malloc'd string of *len bytes (len may be
 * NULL); the caller frees it.  Every container must be closed.  Returns
 * NULL when an error was recorded (the writer is then released too). */
char *jw_detach(jw_t *jw, size_t *len);

#endif
