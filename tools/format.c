/*
 * format.c - JSON, CSV and table text for the read verbs (format.h).
 *
 * Writers only: the verbs build their JSON lines from values they already
 * hold (names, numbers, and JSON text the proto/ codecs produced), so no
 * parser is needed here.  Widths in tables count bytes, which lines up for
 * the ASCII names and numbers the store holds.
 */
#include "proto/common.h"
#include "tools/format.h"

#include <math.h>
#include <stdarg.h>
#include <time.h>

int format_parse(const char *name, unsigned allowed, format_t *out)
{
    static const char *const names[] = {"json", "csv", "table"};

    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (strcmp(name, names[i]) == 0 && (allowed & (1u << i))) {
            *out = (format_t)i;
            return 0;
        }
    }
    return CARBS_EINVAL;
}

// ---- JSON ----

int format_json_line(jw_t *jw, FILE *out, carbs_err_t *err)
{
    int rc = jw->sb.err;

    if (rc == CARBS_EINVAL)
        rc = carbs_fail(err, rc, "a value to print is not valid UTF-8");
    else if (rc)
        rc = carbs_fail(err, rc, "out of memory writing JSON");
    else {
        fwrite(jw->sb.buf, 1, jw->sb.len, out);
        fputc('\n', out);
    }
    jw_reset(jw);
    return rc;
}

void format_jw_time(jw_t *jw, const char *key, double t)
{
    jw_num_or_null(jw, key, t != 0 ? t : NAN);
}

void format_jw_array_text(jw_t *jw, const char *key, const char *json)
{
    size_t n = json ? strlen(json) : 0;

    if (n >= 2 && json[0] == '[' && json[n - 1] == ']')
        jw_raw(jw, key, json);
    else
        jw_null(jw, key);
}

void format_json_str(FILE *out, const char *s)
{
    strbuf_t sb = STRBUF_INIT;

    if (strbuf_add_json_str(&sb, s) == 0)
        fputs(sb.buf, out);
    else
        fputs("null", out);
    strbuf_release(&sb);
}

void format_json_num(FILE *out, double x)
{
    if (isfinite(x))
        fprintf(out, "%.17g", x);
    else
        fputs("null", out);
}

// ---- CSV and text ----

void format_csv_str(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

void format_csv_num(FILE *out, double x)
{
    if (isfinite(x))
        fprintf(out, "%.17g", x);
}

void format_shell_word(FILE *out, const char *s)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789_-./:=+@%,";

    if (*s && strspn(s, safe) == strlen(s)) {
        fputs(s, out);
        return;
    }
    fputc('\'', out);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", out);
        else
            fputc(*s, out);
    }
    fputc('\'', out);
}

void format_iso_time(double t, char *buf, size_t cap)
{
    time_t secs = (time_t)t;
    struct tm tm;

    if (!isfinite(t) || t <= 0 || !gmtime_r(&secs, &tm) ||
        !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, cap, "-");
}

void format_datetime(double t, char *buf, size_t cap)
{
    double whole = floor(t);
    long usec = (long)llround((t - whole) * 1e6);
    time_t secs;
    struct tm tm;
    char day[32];

    if (!isfinite(t) || t <= 0) {
        snprintf(buf, cap, "%s", "");
        return;
    }
    if (usec >= 1000000) { /* 0.9999996 rounds up into the next second */
        whole += 1;
        usec -= 1000000;
    }
    secs = (time_t)whole;
    if (!gmtime_r(&secs, &tm) || !strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &tm)) {
        snprintf(buf, cap, "%s", "");
        return;
    }
    snprintf(buf, cap, "%s.%06ld", day, usec);
}

void format_duration(double secs, char *buf, size_t cap)
{
    long long usec_total, days, h, m, s, usec;

    if (!isfinite(secs) || secs < 0 || secs > 1e15) {
        snprintf(buf, cap, "%s", "");
        return;
    }
    usec_total = llround(secs * 1e6);
    usec = usec_total % 1000000;
    s = usec_total / 1000000;
    days = s / 86400;
    s %= 86400;
    h = s / 3600;
    m = s % 3600 / 60;
    s %= 60;
    snprintf(buf, cap, "%lld days %02lld:%02lld:%02lld.%06lld", days, h, m, s, usec);
}

// ---- tables ----

void format_table_init(format_table_t *t, size_t n_cols)
{
    memset(t, 0, sizeof(*t));
    t->n_cols = n_cols ? n_cols : 1;
}

void format_table_head(format_table_t *t, const char *const *head, size_t n_cols)
{
    format_table_init(t, n_cols);
    for (size_t i = 0; i < n_cols; i++)
        format_table_add(t, head[i]);
}

void format_table_add(format_table_t *t, const char *cell)
{
    if (DA_PUSH(&t->cells, xstrdup(cell ? cell : "-")))
        abort(); /* not reached: xstrdup and da__grow of a small table */
}

void format_table_addf(format_table_t *t, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    format_table_add(t, buf);
}

void format_table_num(format_table_t *t, double x)
{
    if (isfinite(x))
        format_table_addf(t, "%.6g", x);
    else
        format_table_add(t, "-");
}

void format_table_print(const format_table_t *t, FILE *out)
{
    size_t nc = t->n_cols, rows = (t->cells.n + nc - 1) / nc;
    size_t *width = xcalloc(nc, sizeof(*width));

    for (size_t i = 0; i < t->cells.n; i++) {
        size_t w = strlen(t->cells.v[i]);
        if (w > width[i % nc])
            width[i % nc] = w;
    }
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < nc; c++) {
            size_t i = r * nc + c;
            const char *cell = i < t->cells.n ? t->cells.v[i] : "-";
            if (c + 1 < nc)
                fprintf(out, "%-*s  ", (int)width[c], cell);
            else
                fprintf(out, "%s\n", cell);
        }
    }
    free(width);
}

void format_table_release(format_table_t *t)
{
    for (size_t i = 0; i < t->cells.n; i++)
        free(t->cells.v[i]);
    DA_FREE(&t->cells);
}
