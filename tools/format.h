/*
 * format.h - how the read verbs print data on stdout (stderr is for the
 * rest): JSON
 * lines by default, CSV (RFC 4180) for spreadsheets, aligned tables for
 * people.  Everything here writes text; nothing parses JSON (jansson stays
 * in proto/, H21).
 *
 * Conventions every verb follows through these helpers: a number that is
 * not finite is JSON null, an empty CSV field and "-" in a table; times are
 * unix seconds in JSON, ISO 8601 UTC in tables and CSV; 0 means "no time".
 */
#ifndef CARBS_TOOLS_FORMAT_H
#define CARBS_TOOLS_FORMAT_H

#include "proto/common.h"
#include "proto/jw.h"

typedef enum format {
    FORMAT_JSON,
    FORMAT_CSV,
    FORMAT_TABLE,
} format_t;

/* Bits of the formats a verb accepts, for format_parse(). */
#define FORMAT_ALLOW_JSON (1u << FORMAT_JSON)
#define FORMAT_ALLOW_CSV (1u << FORMAT_CSV)
#define FORMAT_ALLOW_TABLE (1u << FORMAT_TABLE)
#define FORMAT_ALLOW_ALL (FORMAT_ALLOW_JSON | FORMAT_ALLOW_CSV | FORMAT_ALLOW_TABLE)

/* Parse "json", "csv" or "table" into *out when its bit is in allowed.
 * Returns 0 or CARBS_EINVAL (nothing stored). */
int format_parse(const char *name, unsigned allowed, format_t *out);

// ---- JSON ----

/* Write the finished document of jw (proto/jw.h) and a newline to out,
 * then reset jw for the next line.  Returns 0, or the writer's sticky
 * error with err filled: CARBS_EINVAL (a string that is not UTF-8: JSON
 * cannot carry it) or CARBS_ENOMEM.  Nothing is written on failure. */
int format_json_line(jw_t *jw, FILE *out, carbs_err_t *err);

/* Add t (unix seconds) under key: a number, or null when t is 0. */
void format_jw_time(jw_t *jw, const char *key, double t);

/* Add json, a JSON array text from the store (a worker's devices), under
 * key; null when json is NULL or not an array. */
void format_jw_array_text(jw_t *jw, const char *key, const char *json);

/* The same rules for verbs that print piece by piece: s as a JSON string,
 * quotes included, escaped as strbuf_add_json_str() does (proto/strbuf.h),
 * or null when s is not UTF-8. */
void format_json_str(FILE *out, const char *s);

/* x with 17 significant digits (it reads back as the same double), or
 * null when x is not finite. */
void format_json_num(FILE *out, double x);

// ---- CSV and text ----

/* s as a CSV field: quoted (with "" for ") only when it holds a comma, a
 * quote or a line break. */
void format_csv_str(FILE *out, const char *s);

/* x with 17 significant digits, or nothing when x is not finite. */
void format_csv_num(FILE *out, double x);

/* s as one POSIX shell word: as it is when it holds only characters no
 * shell treats specially, else in single quotes (a ' inside as '\''). */
void format_shell_word(FILE *out, const char *s);

/* t (unix seconds) as "2026-11-22T14:03:12Z" into buf[cap]; "-" when t is
 * 0 or not representable. */
void format_iso_time(double t, char *buf, size_t cap);

/* t as "2026-11-22 14:03:12.250000" (UTC, microseconds: the datetime
 * columns of an Optuna CSV) into buf[cap]; "" when t is 0. */
void format_datetime(double t, char *buf, size_t cap);

/* secs as "0 days 00:01:02.500000" (a pandas timedelta, as Optuna's
 * duration column prints) into buf[cap]; "" when secs is negative or not
 * finite. */
void format_duration(double secs, char *buf, size_t cap);

// ---- tables ----

/* A table of text cells, printed with every column padded to its widest
 * cell.  The first row added is the header.  Cells are copied. */
typedef struct format_table {
    size_t n_cols;
    DA_TYPE(char *) cells; /* row-major, n_cols per row */
} format_table_t;

/* Start an empty table of n_cols columns (n_cols >= 1). */
void format_table_init(format_table_t *t, size_t n_cols);

/* Start a table whose header row is the n_cols names of head. */
void format_table_head(format_table_t *t, const char *const *head, size_t n_cols);

/* Append the next cell (left to right, then the next row); a NULL cell
 * prints as "-".  Aborts on allocation failure like xmalloc (cells are
 * small and a table is printed right away). */
void format_table_add(format_table_t *t, const char *cell);
void format_table_addf(format_table_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append a number cell: "%.6g", or "-" when x is not finite. */
void format_table_num(format_table_t *t, double x);

/* Print the rows (an unfinished last row is padded with "-"), columns
 * separated by two spaces, the last column not padded. */
void format_table_print(const format_table_t *t, FILE *out);

/* Free the cells.  t may be all-zero. */
void format_table_release(format_table_t *t);

#endif
