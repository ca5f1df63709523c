/*
 * sweep_tree.c - read a sweep file, YAML or JSON, into a tree of mappings,
 * sequences and scalars that remembers each node's line.
 *
 * YAML goes through libyaml's event API: a stack of open collections, one
 * node per event.  Aliases, anchors' reuse and multiple documents are
 * refused (a sweep file has no use for them, and refusing keeps the tree a
 * tree).  JSON is first checked by jansson, which rejects every syntax error
 * (and duplicate keys) with a line and column; the text, now known to be
 * valid, is then walked by the small reader below, which counts lines and
 * decodes escapes, surrogate pairs included.  libyaml itself is not used
 * for JSON because it refuses valid JSON (tabs as separators, escaped
 * surrogate pairs).
 */
#include "proto/common.h"
#include "proto/sweep_internal.h"

#include <math.h>
#include <stdarg.h>

#include <jansson.h>
#include <yaml.h>

// ---- nodes ----

void sweep__node_release(sweep__node_t *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->kids.n; i++)
        sweep__node_release(&n->kids.v[i]);
    DA_FREE(&n->kids);
    free(n->text);
    memset(n, 0, sizeof(*n));
}

static int read_fail(carbs_err_t *err, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int read_fail(carbs_err_t *err, const char *file, int line, const char *fmt, ...)
{
    char msg[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return carbs_fail(err, CARBS_EINVAL, "%s:%d: %s", file, line, msg);
}

static int nomem(carbs_err_t *err, const char *file)
{
    return carbs_fail(err, CARBS_ENOMEM, "%s: out of memory reading the sweep file", file);
}

/* Append a child to parent and return it (NULL when out of memory). */
static sweep__node_t *add_kid(sweep__node_t *parent, sweep__kind_t kind, int line)
{
    sweep__node_t n;

    memset(&n, 0, sizeof(n));
    n.kind = kind;
    n.line = line;
    if (DA_PUSH(&parent->kids, n))
        return NULL;
    return &parent->kids.v[parent->kids.n - 1];
}

static int set_text(sweep__node_t *n, const char *s, size_t len)
{
    n->text = carbs_malloc(len + 1);
    if (!n->text)
        return CARBS_ENOMEM;
    memcpy(n->text, s, len);
    n->text[len] = '\0';
    n->len = len;
    return 0;
}

// ---- YAML ----

/* The kind of event in words, for "expected a key" errors. */
static bool yaml_is_str_tag(const yaml_char_t *tag)
{
    return tag && strcmp((const char *)tag, YAML_STR_TAG) == 0;
}

/* libyaml puts an error at the end of the input on the line after the
 * last; name the last line instead. */
static int clamp_line(const char *text, size_t len, size_t line)
{
    size_t lines = 1;

    for (size_t i = 0; i + 1 < len; i++)
        lines += text[i] == '\n';
    return (int)(line < lines ? line : lines);
}

static int yaml_read(const char *text, size_t len, const char *file, sweep__node_t *root,
                     carbs_err_t *err)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    /* stack[d] is the open collection at depth d; pointers stay valid
     * because a collection's kids only grow while it is on top. */
    sweep__node_t *stack[SWEEP_DEPTH_MAX + 1];
    size_t depth = 0;
    bool have_ev = false, done = false, have_doc = false;
    int rc = 0;

    memset(root, 0, sizeof(*root));
    if (!yaml_parser_initialize(&parser))
        return nomem(err, file);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    root->kind = SWEEP__SEQ; /* a holder for the document's node */
    stack[0] = root;
    while (!done) {
        int line;
        sweep__node_t *top = stack[depth], *n;

        if (!yaml_parser_parse(&parser, &ev)) {
            if (parser.error == YAML_MEMORY_ERROR) {
                rc = nomem(err, file);
            } else {
                rc = read_fail(err, file, clamp_line(text, len, parser.problem_mark.line + 1),
                               "yaml syntax error: %s%s%s",
                               parser.problem ? parser.problem : "invalid YAML",
                               parser.context ? " " : "", parser.context ? parser.context : "");
            }
            goto out;
        }
        have_ev = true;
        line = (int)ev.start_mark.line + 1;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (have_doc) {
                rc = read_fail(err, file, line, "only one YAML document is allowed");
                goto out;
            }
            have_doc = true;
            break;
        case YAML_ALIAS_EVENT:
            rc = read_fail(err, file, line, "yaml aliases (*%s) are not supported",
                           (const char *)ev.data.alias.anchor);
            goto out;
        case YAML_SCALAR_EVENT:
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (top->kind == SWEEP__MAP && top->kids.n % 2 == 0 && ev.type != YAML_SCALAR_EVENT) {
                rc = read_fail(err, file, line, "a key must be a plain string");
                goto out;
            }
            n = add_kid(top,
                        ev.type == YAML_SCALAR_EVENT          ? SWEEP__SCALAR
                        : ev.type == YAML_MAPPING_START_EVENT ? SWEEP__MAP
                                                              : SWEEP__SEQ,
                        line);
            if (!n) {
                rc = nomem(err, file);
                goto out;
            }
            if (ev.type == YAML_SCALAR_EVENT) {
                n->quoted = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
                            yaml_is_str_tag(ev.data.scalar.tag);
                if (strlen((const char *)ev.data.scalar.value) != ev.data.scalar.length) {
                    rc = read_fail(err, file, line, "a string must not contain NUL");
                    goto out;
                }
                if (set_text(n, (const char *)ev.data.scalar.value, ev.data.scalar.length)) {
                    rc = nomem(err, file);
                    goto out;
                }
            } else {
                if (depth == SWEEP_DEPTH_MAX) {
                    rc = read_fail(err, file, line, "nesting deeper than %d levels",
                                   SWEEP_DEPTH_MAX);
                    goto out;
                }
                stack[++depth] = n;
            }
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            depth--;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        have_ev = false;
    }
out:
    if (have_ev)
        yaml_event_delete(&ev);
    yaml_parser_delete(&parser);
    if (rc < 0)
        sweep__node_release(root);
    return rc;
}

// ---- JSON ----

/* The walker's cursor over text already validated by jansson. */
typedef struct jcur {
    const char *p, *end;
    int line;
    const char *file;
    carbs_err_t *err;
} jcur_t;

static void jskip(jcur_t *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) {
        if (*c->p == '\n')
            c->line++;
        c->p++;
    }
}

static unsigned hex4(const char *p)
{
    unsigned v = 0;

    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        v <<= 4;
        if (ch >= '0' && ch <= '9')
            v |= (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            v |= (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            v |= (unsigned)(ch - 'A' + 10);
    }
    return v;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decode the string at c->p (on the opening quote) into n.  Decoded text is
 * never longer than the escaped source. */
static int jstring(jcur_t *c, sweep__node_t *n)
{
    const char *s = ++c->p;
    char *o;
    size_t k = 0;

    while (c->p < c->end && *c->p != '"')
        c->p += (*c->p == '\\') ? 2 : 1;
    n->text = carbs_malloc((size_t)(c->p - s) + 1);
    if (!n->text)
        return nomem(c->err, c->file);
    o = n->text;
    for (const char *q = s; q < c->p; q++) {
        unsigned cp;

        if (*q != '\\') {
            o[k++] = *q;
            continue;
        }
        q++;
        switch (*q) {
        case 'b':
            o[k++] = '\b';
            break;
        case 'f':
            o[k++] = '\f';
            break;
        case 'n':
            o[k++] = '\n';
            break;
        case 'r':
            o[k++] = '\r';
            break;
        case 't':
            o[k++] = '\t';
            break;
        case 'u':
            cp = hex4(q + 1);
            q += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && q + 6 < c->p && q[1] == '\\' && q[2] == 'u') {
                unsigned lo = hex4(q + 3);
                if (lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    q += 6;
                }
            }
            if (cp == 0)
                return read_fail(c->err, c->file, c->line, "a string must not contain NUL");
            k += put_utf8(o + k, cp);
            break;
        default: /* '"', '\\', '/' */
            o[k++] = *q;
            break;
        }
    }
    o[k] = '\0';
    n->len = k;
    n->quoted = true;
    c->p++; /* closing quote */
    return 0;
}

static int jvalue(jcur_t *c, sweep__node_t *n, size_t depth)
{
    int rc;

    jskip(c);
    n->line = c->line;
    if (*c->p == '"') {
        n->kind = SWEEP__SCALAR;
        return jstring(c, n);
    }
    if (*c->p == '{' || *c->p == '[') {
        bool is_map = *c->p == '{';
        char close = is_map ? '}' : ']';

        if (depth == SWEEP_DEPTH_MAX)
            return read_fail(c->err, c->file, c->line, "nesting deeper than %d levels",
                             SWEEP_DEPTH_MAX);
        n->kind = is_map ? SWEEP__MAP : SWEEP__SEQ;
        c->p++;
        jskip(c);
        while (c->p < c->end && *c->p != close) {
            sweep__node_t *kid;

            if (*c->p == ',') {
                c->p++;
                jskip(c);
            }
            kid = add_kid(n, SWEEP__SCALAR, c->line);
            if (!kid)
                return nomem(c->err, c->file);
            rc = jvalue(c, kid, depth + 1);
            if (rc < 0)
                return rc;
            if (is_map) {
                jskip(c);
                c->p++; /* ':' */
                kid = add_kid(n, SWEEP__SCALAR, c->line);
                if (!kid)
                    return nomem(c->err, c->file);
                rc = jvalue(c, kid, depth + 1);
                if (rc < 0)
                    return rc;
            }
            jskip(c);
        }
        c->p++;
        return 0;
    }
    /* number, true, false, null: a plain scalar up to the next delimiter */
    {
        const char *s = c->p;

        while (c->p < c->end && !strchr(",]} \t\r\n", *c->p))
            c->p++;
        n->kind = SWEEP__SCALAR;
        if (set_text(n, s, (size_t)(c->p - s)))
            return nomem(c->err, c->file);
    }
    return 0;
}

/* 0 when text[len] is valid JSON (any value), else the jansson error. */
static int json_check(const char *text, size_t len, json_error_t *je)
{
    json_t *j;

    memset(je, 0, sizeof(*je));
    j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL,
                   je);
    if (!j)
        return -1;
    json_decref(j);
    return 0;
}

static int json_read(const char *text, size_t len, const char *file, sweep__node_t *root,
                     carbs_err_t *err)
{
    jcur_t c = {.p = text, .end = text + len, .line = 1, .file = file, .err = err};
    sweep__node_t *doc;
    int rc;

    memset(root, 0, sizeof(*root));
    root->kind = SWEEP__SEQ;
    doc = add_kid(root, SWEEP__SCALAR, 1);
    if (!doc)
        return nomem(err, file);
    rc = jvalue(&c, doc, 0);
    if (rc < 0)
        sweep__node_release(root);
    return rc;
}

// ---- entry ----

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int sweep__read(const char *text, size_t len, const char *file, int format, sweep__node_t *root,
                carbs_err_t *err)
{
    size_t i = 0;
    json_error_t je;
    bool json_name = ends_with(file, ".json");
    int rc;

    memset(root, 0, sizeof(*root));
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        text += 3; /* a UTF-8 byte-order mark */
        len -= 3;
    }
    if (memchr(text, '\0', len))
        return read_fail(err, file, 1, "the file contains a NUL byte");
    if (!utf8_valid(text, len))
        return read_fail(err, file, 1, "the file is not valid UTF-8");
    while (i < len && strchr(" \t\r\n", text[i]))
        i++;
    if (format == SWEEP__JSON || (i < len && text[i] == '{')) {
        /* jansson reports a lost allocation inside a string as a syntax
         * error; parsing is deterministic, so a second try that succeeds
         * means the text was valid after all */
        if (json_check(text, len, &je) == 0 || json_check(text, len, &je) == 0) {
            rc = json_read(text, len, file, root, err);
            goto check_doc;
        }
        if (je.text[0] == '\0' || json_error_code(&je) == json_error_out_of_memory)
            return nomem(err, file);
        if (format == SWEEP__JSON || json_name)
            return read_fail(err, file, je.line < 1 ? 1 : je.line, "invalid JSON at column %d: %s",
                             je.column, je.text);
    }
    rc = yaml_read(text, len, file, root, err);
check_doc:
    if (rc < 0)
        return rc;
    if (root->kids.n == 0) {
        sweep__node_release(root);
        return read_fail(err, file, 1, "the file is empty");
    }
    return 0;
}

// ---- numbers ----

void sweep__fmt_num(char *buf, size_t cap, double x)
{
    if (x == 0) {
        snprintf(buf, cap, "0");
        return;
    }
    if (x == floor(x) && fabs(x) <= 9007199254740992.0) {
        snprintf(buf, cap, "%.0f", x); /* integers as integers: 200000, not 2e+05 */
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}
