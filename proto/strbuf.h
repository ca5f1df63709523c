/*
 * strbuf.h - a growable byte string, always NUL-terminated.
 *
 * A strbuf_t owns sb.buf, which holds sb.len bytes followed by a NUL, so
 * sb.buf can be passed wherever a C string is wanted at any time (it points
 * to a shared empty string until the first byte is added).  The buffer
 * grows through carbs_realloc(): its size follows the input, so running out
 * of memory is an ordinary error (docs/design.md, "Memory"), not an abort.
 *
 * Errors are sticky: the first failure (CARBS_ENOMEM, or CARBS_EINVAL for a
 * string that is not UTF-8) is kept in sb.err, every later add is a no-op
 * returning that code, and strbuf_detach() hands back NULL.  A writer can
 * therefore add a whole document and check once at the end.
 *
 * Usage:
 *     strbuf_t sb = STRBUF_INIT;
 *     strbuf_addf(&sb, "%d trials", n);
 *     strbuf_add_json_str(&sb, name);
 *     if (sb.err) ...
 *     char *text = strbuf_detach(&sb, NULL);   // caller frees text
 */
#ifndef CARBS_PROTO_STRBUF_H
#define CARBS_PROTO_STRBUF_H

#include "proto/common.h"

typedef struct strbuf {
    char *buf;    /* len bytes and a NUL; never NULL after init */
    size_t len;   /* bytes held, without the NUL */
    size_t alloc; /* bytes allocated; 0 while buf is the shared empty string */
    int err;      /* 0, or the first failure (sticky) */
} strbuf_t;

extern char strbuf__empty[1];
#define STRBUF_INIT                                                                                \
    {                                                                                              \
        strbuf__empty, 0, 0, 0                                                                     \
    }

/* Make *sb empty, holding no memory. */
void strbuf_init(strbuf_t *sb);

/* Free what *sb holds and make it empty again (strbuf_init).  Safe on an
 * all-zero *sb and on one already released. */
void strbuf_release(strbuf_t *sb);

/* Empty *sb but keep its memory; also clears a sticky error. */
void strbuf_reset(strbuf_t *sb);

/* Make room for extra more bytes (and the NUL) so the next adds of that
 * many bytes cannot fail.  Returns 0 or sb.err. */
int strbuf_grow(strbuf_t *sb, size_t extra);

/* Append the len bytes at data (which may hold NULs).  Returns 0 or sb.err. */
int strbuf_add(strbuf_t *sb, const void *data, size_t len);

/* Append the C string s. */
int strbuf_adds(strbuf_t *sb, const char *s);

/* Append one byte. */
int strbuf_addch(strbuf_t *sb, int c);

/* Append printf-style text. */
int strbuf_addf(strbuf_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append s as a JSON string, quotes included (RFC 8259 section 7): '"' and
 * '\\' escaped, \b \f \n \r \t in their short forms, other bytes below 0x20
 * and DEL (0x7f) as \u00XX, everything else as is.  s must be valid UTF-8;
 * when it is not, nothing is appended and CARBS_EINVAL becomes the sticky
 * error (a JSON text must be UTF-8, and guessing at a repair would hide the
 * bug that produced s). */
int strbuf_add_json_str(strbuf_t *sb, const char *s);

/* Hand over the bytes: returns the NUL-terminated buffer, which the caller
 * frees with free(), and its length in *len (len may be NULL).  *sb is left
 * empty.  Returns NULL (and frees the bytes) when sb.err is set. */
char *strbuf_detach(strbuf_t *sb, size_t *len);

#endif
