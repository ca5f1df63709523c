/*
 * strbuf.c - the growable string of strbuf.h and its JSON string escaper.
 *
 * The buffer doubles (at least) when it grows, so appending n bytes one at
 * a time costs O(n).  Every allocation goes through carbs_realloc(), which
 * the tests' fault injection reaches; a failed one leaves the bytes already
 * held untouched and only sets the sticky error.
 */
#include "proto/common.h"
#include "proto/strbuf.h"

#include <stdarg.h>

char strbuf__empty[1];

void strbuf_init(strbuf_t *sb)
{
    sb->buf = strbuf__empty;
    sb->len = 0;
    sb->alloc = 0;
    sb->err = 0;
}

void strbuf_release(strbuf_t *sb)
{
    if (sb->alloc)
        free(sb->buf);
    strbuf_init(sb);
}

void strbuf_reset(strbuf_t *sb)
{
    if (!sb->buf)
        strbuf_init(sb);
    sb->len = 0;
    if (sb->alloc)
        sb->buf[0] = '\0';
    sb->err = 0;
}

int strbuf_grow(strbuf_t *sb, size_t extra)
{
    size_t need, cap;
    char *p;

    if (!sb->buf)
        strbuf_init(sb);
    if (sb->err)
        return sb->err;
    if (extra > SIZE_MAX - sb->len - 1)
        return sb->err = CARBS_ENOMEM;
    need = sb->len + extra + 1;
    if (need <= sb->alloc)
        return 0;
    cap = sb->alloc < 64 ? 64 : sb->alloc;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    p = carbs_realloc(sb->alloc ? sb->buf : NULL, cap);
    if (!p)
        return sb->err = CARBS_ENOMEM;
    if (!sb->alloc)
        p[0] = '\0';
    sb->buf = p;
    sb->alloc = cap;
    return 0;
}

int strbuf_add(strbuf_t *sb, const void *data, size_t len)
{
    if (strbuf_grow(sb, len))
        return sb->err;
    memcpy(sb->buf + sb->len, data, len);
    sb->len += len;
    sb->buf[sb->len] = '\0';
    return 0;
}

int strbuf_adds(strbuf_t *sb, const char *s)
{
    return strbuf_add(sb, s, strlen(s));
}

int strbuf_addch(strbuf_t *sb, int c)
{
    char ch = (char)c;

    return strbuf_add(sb, &ch, 1);
}

int strbuf_addf(strbuf_t *sb, const char *fmt, ...)
{
    va_list ap;
    int k;

    if (strbuf_grow(sb, 0))
        return sb->err;
    va_start(ap, fmt);
    k = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
    va_end(ap);
    if (k < 0) {
        sb->buf[sb->len] = '\0';
        return sb->err = CARBS_EINVAL;
    }
    if ((size_t)k >= sb->alloc - sb->len) {
        if (strbuf_grow(sb, (size_t)k)) {
            sb->buf[sb->len] = '\0'; /* drop the truncated first pass */
            return sb->err;
        }
        va_start(ap, fmt);
        vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
        va_end(ap);
    }
    sb->len += (size_t)k;
    return 0;
}

int strbuf_add_json_str(strbuf_t *sb, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(s), start = 0, i;

    if (sb->err)
        return sb->err;
    if (!utf8_valid(s, n))
        return sb->err = CARBS_EINVAL;
    strbuf_addch(sb, '"');
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t k = 2;

        if (ch >= 0x20 && ch != '"' && ch != '\\' && ch != 0x7f)
            continue;
        strbuf_add(sb, s + start, i - start);
        start = i + 1;
        switch (ch) {
        case '"':
        case '\\':
            esc[1] = (char)ch;
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 0xf];
            k = 6;
            break;
        }
        strbuf_add(sb, esc, k);
    }
    strbuf_add(sb, s + start, n - start);
    return strbuf_addch(sb, '"');
}

char *strbuf_detach(strbuf_t *sb, size_t *len)
{
    char *p;

    if (len)
        *len = 0;
    if (!sb->buf)
        strbuf_init(sb);
    strbuf_grow(sb, 0); /* an empty buffer still hands back its own "" */
    if (sb->err) {
        strbuf_release(sb);
        return NULL;
    }
    p = sb->buf;
    if (len)
        *len = sb->len;
    strbuf_init(sb);
    return p;
}
