/*
 * command_line.c - what a command trial's stdout lines mean (docs/worker.md
 * "The command-trial contract").
 *
 * Programs print JSON lines among their ordinary output.  A small parser
 * reads flat objects of numbers and strings, accepting NaN and Infinity as
 * Python's json module writes them (a diverged run prints
 * {"val_loss": NaN}, and that must count as a divergence, not as noise);
 * objects with nested values go to the strict codec of proto/json.h
 * (the {"status", "metrics", "curve"} shape).  Anything else is output.
 */
#include "proto/common.h"
#include "worker/command.h"

#include <math.h>

#include "proto/json.h"

// ---- a flat JSON object reader ----

enum { V_NUM, V_STR, V_OTHER };

typedef struct entry {
    char key[CARBS_NAME_MAX];
    bool key_too_long;
    int kind;
    double num;
    char str[CARBS_MSG_MAX];
} entry_t;

typedef DA_TYPE(entry_t) entries_t;

typedef struct cursor {
    const char *s;
    size_t n, i;
} cursor_t;

static void skip_ws(cursor_t *c)
{
    while (c->i < c->n &&
           (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' || c->s[c->i] == '\r'))
        c->i++;
}

static int hex4(cursor_t *c, unsigned *out)
{
    unsigned v = 0;

    if (c->i + 4 > c->n) return -1;
    for (int k = 0; k < 4; k++) {
        char h = c->s[c->i++];
        v <<= 4;
        if (h >= '0' && h <= '9')
            v |= (unsigned)(h - '0');
        else if (h >= 'a' && h <= 'f')
            v |= (unsigned)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F')
            v |= (unsigned)(h - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Append one byte to out[cap] at *len, dropping it when full. */
static void put(char *out, size_t cap, size_t *len, bool *truncated, char ch)
{
    if (*len + 1 < cap)
        out[(*len)++] = ch;
    else
        *truncated = true;
}

static void put_utf8(char *out, size_t cap, size_t *len, bool *truncated, unsigned cp)
{
    if (cp < 0x80) {
        put(out, cap, len, truncated, (char)cp);
    } else if (cp < 0x800) {
        put(out, cap, len, truncated, (char)(0xc0 | (cp >> 6)));
        put(out, cap, len, truncated, (char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        put(out, cap, len, truncated, (char)(0xe0 | (cp >> 12)));
        put(out, cap, len, truncated, (char)(0x80 | ((cp >> 6) & 0x3f)));
        put(out, cap, len, truncated, (char)(0x80 | (cp & 0x3f)));
    } else {
        put(out, cap, len, truncated, (char)(0xf0 | (cp >> 18)));
        put(out, cap, len, truncated, (char)(0x80 | ((cp >> 12) & 0x3f)));
        put(out, cap, len, truncated, (char)(0x80 | ((cp >> 6) & 0x3f)));
        put(out, cap, len, truncated, (char)(0x80 | (cp & 0x3f)));
    }
}

/* A JSON string at the cursor into out[cap], truncated (on a character
 * boundary) when long.  Returns 0, or -1 when it is not a valid string. */
static int parse_string(cursor_t *c, char *out, size_t cap, bool *truncated)
{
    size_t len = 0;

    *truncated = false;
    if (c->i >= c->n || c->s[c->i] != '"') return -1;
    c->i++;
    for (;;) {
        unsigned char ch;
        unsigned cp, lo;

        if (c->i >= c->n) return -1;
        ch = (unsigned char)c->s[c->i++];
        if (ch == '"') break;
        if (ch < 0x20) return -1;
        if (ch != '\\') {
            put(out, cap, &len, truncated, (char)ch);
            continue;
        }
        if (c->i >= c->n) return -1;
        ch = (unsigned char)c->s[c->i++];
        switch (ch) {
        case '"':
        case '\\':
        case '/':
            put(out, cap, &len, truncated, (char)ch);
            break;
        case 'b':
            put(out, cap, &len, truncated, '\b');
            break;
        case 'f':
            put(out, cap, &len, truncated, '\f');
            break;
        case 'n':
            put(out, cap, &len, truncated, '\n');
            break;
        case 'r':
            put(out, cap, &len, truncated, '\r');
            break;
        case 't':
            put(out, cap, &len, truncated, '\t');
            break;
        case 'u':
            if (hex4(c, &cp) < 0) return -1;
            if (cp >= 0xd800 && cp < 0xdc00) {
                if (c->i + 6 > c->n || c->s[c->i] != '\\' || c->s[c->i + 1] != 'u') return -1;
                c->i += 2;
                if (hex4(c, &lo) < 0 || lo < 0xdc00 || lo >= 0xe000) return -1;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                return -1;
            }
            if (cp == 0) return -1;
            put_utf8(out, cap, &len, truncated, cp);
            break;
        default:
            return -1;
        }
    }
    /* Do not end inside a multi-byte character. */
    if (*truncated)
        while (len > 0 && ((unsigned char)out[len - 1] & 0xc0) == 0x80)
            len--;
    if (*truncated && len > 0 && ((unsigned char)out[len - 1] & 0xc0) == 0xc0) len--;
    out[len] = '\0';
    return utf8_valid(out, len) ? 0 : -1;
}

/* A value: 0 with e->kind set, -1 when malformed, 1 for an array or object
 * (not flat). */
static int parse_value(cursor_t *c, entry_t *e)
{
    char tok[64];
    size_t k = 0;
    char *end;
    bool truncated;

    if (c->i >= c->n) return -1;
    if (c->s[c->i] == '"') {
        e->kind = V_STR;
        return parse_string(c, e->str, sizeof(e->str), &truncated);
    }
    if (c->s[c->i] == '[' || c->s[c->i] == '{') return 1;
    while (c->i < c->n && k + 1 < sizeof(tok)) {
        char ch = c->s[c->i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              ch == '-' || ch == '+' || ch == '.'))
            break;
        tok[k++] = ch;
        c->i++;
    }
    tok[k] = '\0';
    if (k == 0) return -1;
    if (strcmp(tok, "true") == 0 || strcmp(tok, "false") == 0 || strcmp(tok, "null") == 0) {
        e->kind = V_OTHER;
        return 0;
    }
    /* JSON numbers, plus NaN / Infinity / -Infinity (and strtod's nan, inf). */
    e->num = strtod(tok, &end);
    if (end == tok || *end != '\0') return -1;
    e->kind = V_NUM;
    return 0;
}

/* Read s[0..n) as one flat object into *out.  0, -1 (not a flat JSON
 * object), 1 (an object with nested values). */
static int parse_flat(const char *s, size_t n, entries_t *out)
{
    cursor_t c = {s, n, 0};
    entry_t e;

    skip_ws(&c);
    if (c.i >= c.n || c.s[c.i] != '{') return -1;
    c.i++;
    skip_ws(&c);
    if (c.i < c.n && c.s[c.i] == '}') {
        c.i++;
        goto tail;
    }
    for (;;) {
        int rc;

        memset(&e, 0, sizeof(e));
        skip_ws(&c);
        if (parse_string(&c, e.key, sizeof(e.key), &e.key_too_long) < 0) return -1;
        skip_ws(&c);
        if (c.i >= c.n || c.s[c.i] != ':') return -1;
        c.i++;
        skip_ws(&c);
        rc = parse_value(&c, &e);
        if (rc != 0) return rc;
        if (DA_PUSH(out, e)) return -1;
        skip_ws(&c);
        if (c.i < c.n && c.s[c.i] == ',') {
            c.i++;
            continue;
        }
        if (c.i < c.n && c.s[c.i] == '}') {
            c.i++;
            break;
        }
        return -1;
    }
tail:
    skip_ws(&c);
    return c.i == c.n ? 0 : -1;
}

static const entry_t *entry_find(const entries_t *es, const char *key)
{
    const entry_t *found = NULL;

    for (size_t i = 0; i < es->n; i++)
        if (!es->v[i].key_too_long && strcmp(es->v[i].key, key) == 0)
            found = &es->v[i]; /* the last one wins, as in most JSON readers */
    return found;
}

// ---- classification ----

static bool is_loss(const char *name, const char *metric)
{
    return strcmp(name, "train_loss") == 0 || strcmp(name, "val_loss") == 0 ||
           strcmp(name, "val_bpb") == 0 || (metric && strcmp(name, metric) == 0);
}

static command_line_kind_t flat_result(const entries_t *es, const char *metric, const char *cost,
                                       carbs_result_t *r)
{
    const entry_t *status = entry_find(es, "status");
    const entry_t *failure = entry_find(es, "failure");
    const entry_t *message = entry_find(es, "message");
    bool diverged = false, any = false, bad_cost = false;

    if (status && (status->kind != V_STR ||
                   (strcmp(status->str, "ok") != 0 && strcmp(status->str, "failed") != 0)))
        return COMMAND_LINE_OTHER;
    r->ok = !status || strcmp(status->str, "ok") == 0;
    for (size_t i = 0; i < es->n; i++) {
        const entry_t *e = &es->v[i];

        if (e->kind != V_NUM || e->key_too_long || !e->key[0] || strcmp(e->key, "step") == 0)
            continue;
        any = true;
        if (!isfinite(e->num)) {
            if (is_loss(e->key, metric) && !diverged) {
                diverged = true;
                snprintf(r->message, sizeof(r->message), "'%s' is %s", e->key,
                         isnan(e->num) ? "nan" : "infinite");
            } else if (cost && strcmp(e->key, cost) == 0 && !diverged) {
                bad_cost = true;
                snprintf(r->message, sizeof(r->message), "cost %s = %s is not finite and > 0",
                         e->key, isnan(e->num) ? "nan" : e->num > 0 ? "inf" : "-inf");
            }
            continue;
        }
        if (carbs_result_set(r, e->key, e->num) < 0) return COMMAND_LINE_OTHER;
    }
    if (!status && !any) return COMMAND_LINE_OTHER;
    if (message && message->kind == V_STR && !diverged && !bad_cost)
        str_copy(r->message, sizeof(r->message), message->str);
    r->failure = CARBS_FAILURE_NONE;
    if (!r->ok) {
        int f = failure && failure->kind == V_STR ? carbs_failure_parse(failure->str) : -1;
        r->failure = f > CARBS_FAILURE_NONE ? (carbs_failure_t)f : CARBS_FAILURE_ERROR;
    }
    if (diverged) {
        r->ok = false;
        if (r->failure == CARBS_FAILURE_NONE) r->failure = CARBS_FAILURE_DIVERGED;
    } else if (bad_cost && r->ok) {
        r->ok = false;
        r->failure = CARBS_FAILURE_ERROR;
    }
    return COMMAND_LINE_RESULT;
}

command_line_kind_t command_parse_line(const char *line, size_t len, const char *metric,
                                       const char *cost, carbs_curve_point_t *progress,
                                       carbs_result_t *result)
{
    entries_t es = {0};
    command_line_kind_t kind = COMMAND_LINE_OTHER;
    const entry_t *step, *status;
    int rc;

    carbs_result_init(result);
    while (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
        line++;
        len--;
    }
    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
        len--;
    if (len < 2 || line[0] != '{' || line[len - 1] != '}') return COMMAND_LINE_OTHER;
    rc = parse_flat(line, len, &es);
    if (rc == 1) {
        /* Nested values: the strict {"status", "metrics", "curve"} shape. */
        char *text = carbs_malloc(len + 1);
        if (text) {
            memcpy(text, line, len);
            text[len] = '\0';
            if (proto_result_from_json(text, result, NULL) == 0) kind = COMMAND_LINE_RESULT;
            /* a failure without a kind is an error, and a success has no
             * failure kind, as in a flat line (found by fuzz_command) */
            if (kind == COMMAND_LINE_RESULT && !result->ok &&
                result->failure == CARBS_FAILURE_NONE)
                result->failure = CARBS_FAILURE_ERROR;
            if (kind == COMMAND_LINE_RESULT && result->ok)
                result->failure = CARBS_FAILURE_NONE;
            free(text);
        }
        goto out;
    }
    if (rc < 0) goto out;
    step = entry_find(&es, "step");
    status = entry_find(&es, "status");
    if (step && !status) {
        const entry_t *tokens = entry_find(&es, "tokens");
        const entry_t *loss = entry_find(&es, "train_loss");

        if (step->kind != V_NUM || !(step->num >= 0.0) || step->num > 9007199254740992.0) goto out;
        progress->step = (int64_t)step->num;
        progress->tokens = tokens && tokens->kind == V_NUM ? tokens->num : NAN;
        progress->loss = loss && loss->kind == V_NUM ? loss->num : NAN;
        kind = COMMAND_LINE_PROGRESS;
        goto out;
    }
    kind = flat_result(&es, metric, cost, result);
out:
    if (kind != COMMAND_LINE_RESULT) {
        carbs_result_release(result);
        carbs_result_init(result);
    }
    DA_FREE(&es);
    return kind;
}

bool command_parse_result_file(const char *text, size_t len, const char *metric, const char *cost,
                               carbs_result_t *result)
{
    carbs_curve_point_t p;
    bool found;
    char *flat;

    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    /* Pretty-printed JSON spans lines: flatten it first. */
    flat = xmalloc(len + 1);
    memcpy(flat, text, len);
    flat[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (flat[i] == '\n' || flat[i] == '\r') flat[i] = ' ';
    found = command_parse_line(flat, len, metric, cost, &p, result) == COMMAND_LINE_RESULT;
    free(flat);
    for (size_t end = len; !found && end > 0;) {
        size_t start = end;
        while (start > 0 && text[start - 1] != '\n')
            start--;
        found = command_parse_line(text + start, end - start, metric, cost, &p, result) ==
                COMMAND_LINE_RESULT;
        end = start > 0 ? start - 1 : 0;
    }
    return found;
}
