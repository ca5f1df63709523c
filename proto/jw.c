/*
 * jw.c - the JSON writer of jw.h.
 *
 * Each value first writes its separator: a comma when its container holds
 * a value already, then "key": inside an object.  Containers push a level
 * that remembers its kind and whether it is still empty.  Numbers use
 * "%.17g", the same digits jansson writes with JSON_REAL_PRECISION(17).
 */
#include "proto/common.h"
#include "proto/jw.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>

void jw_init(jw_t *jw)
{
    memset(jw, 0, sizeof(*jw));
    strbuf_init(&jw->sb);
}

void jw_release(jw_t *jw)
{
    strbuf_release(&jw->sb);
    jw_init(jw);
}

void jw_reset(jw_t *jw)
{
    strbuf_reset(&jw->sb);
    jw->depth = 0;
}

/* The comma and key before a value. */
static void before(jw_t *jw, const char *key)
{
    if (jw->depth == 0) {
        assert(!key && jw->sb.len == 0); /* one top-level value */
        return;
    }
    assert(jw->in_object[jw->depth - 1] == (key != NULL));
    if (jw->has_item[jw->depth - 1])
        strbuf_addch(&jw->sb, ',');
    jw->has_item[jw->depth - 1] = true;
    if (key) {
        strbuf_add_json_str(&jw->sb, key);
        strbuf_addch(&jw->sb, ':');
    }
}

static void begin(jw_t *jw, const char *key, bool object)
{
    assert(jw->depth < JW_DEPTH_MAX);
    before(jw, key);
    strbuf_addch(&jw->sb, object ? '{' : '[');
    jw->in_object[jw->depth] = object;
    jw->has_item[jw->depth] = false;
    jw->depth++;
}

void jw_object(jw_t *jw, const char *key)
{
    begin(jw, key, true);
}

void jw_array(jw_t *jw, const char *key)
{
    begin(jw, key, false);
}

void jw_end(jw_t *jw)
{
    assert(jw->depth > 0);
    jw->depth--;
    strbuf_addch(&jw->sb, jw->in_object[jw->depth] ? '}' : ']');
}

void jw_str(jw_t *jw, const char *key, const char *s)
{
    before(jw, key);
    strbuf_add_json_str(&jw->sb, s);
}

void jw_num(jw_t *jw, const char *key, double x)
{
    before(jw, key);
    if (!isfinite(x)) {
        if (!jw->sb.err)
            jw->sb.err = CARBS_EINVAL;
        return;
    }
    strbuf_addf(&jw->sb, "%.17g", x);
}

void jw_num_or_null(jw_t *jw, const char *key, double x)
{
    if (isfinite(x))
        jw_num(jw, key, x);
    else
        jw_null(jw, key);
}

void jw_int(jw_t *jw, const char *key, int64_t x)
{
    before(jw, key);
    strbuf_addf(&jw->sb, "%" PRId64, x);
}

void jw_bool(jw_t *jw, const char *key, bool b)
{
    before(jw, key);
    strbuf_adds(&jw->sb, b ? "true" : "false");
}

void jw_null(jw_t *jw, const char *key)
{
    before(jw, key);
    strbuf_adds(&jw->sb, "null");
}

void jw_raw(jw_t *jw, const char *key, const char *json)
{
    before(jw, key);
    strbuf_adds(&jw->sb, json);
}

char *jw_detach(jw_t *jw, size_t *len)
{
    char *text;

    assert(jw->depth == 0);
    text = strbuf_detach(&jw->sb, len);
    jw_init(jw);
    return text;
}
