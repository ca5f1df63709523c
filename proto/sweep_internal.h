/*
 * sweep_internal.h - what the sweep module's files share: a small document
 * tree with line numbers, built from YAML or JSON by sweep_tree.c and
 * validated by sweep.c.  Private to proto/ (docs/style.md H5).
 */
#ifndef CARBS_PROTO_SWEEP_INTERNAL_H
#define CARBS_PROTO_SWEEP_INTERNAL_H

#include "proto/common.h"
#include "proto/sweep.h"

typedef enum sweep__kind {
    SWEEP__SCALAR,
    SWEEP__MAP,
    SWEEP__SEQ,
} sweep__kind_t;

/* One node.  A scalar keeps its text as written (escapes decoded) and
 * whether it was quoted (then it is a string, whatever it looks like).  A
 * mapping holds keys and values alternately in kids (key i at 2i, its value
 * at 2i+1); a sequence holds its items.  line is 1-based. */
typedef struct sweep__node {
    sweep__kind_t kind;
    int line;
    bool quoted;
    char *text; /* scalar: NUL-terminated, owned */
    size_t len;
    DA_TYPE(struct sweep__node) kids;
} sweep__node_t;

/* Free what n owns (not n itself). */
void sweep__node_release(sweep__node_t *n);

/* Input formats for sweep__read(). */
#define SWEEP__AUTO 0
#define SWEEP__JSON 1

/* Build the tree of text[len] into *root (caller releases it).  With
 * SWEEP__AUTO, a text whose first non-blank byte is '{' is tried as JSON
 * first; it falls back to YAML unless it is valid JSON or file ends in
 * ".json".  Syntax errors are CARBS_EINVAL "FILE:LINE: ...". */
int sweep__read(const char *text, size_t len, const char *file, int format, sweep__node_t *root,
                carbs_err_t *err);

/* Format x in the shortest form that reads back as the same double: an
 * integer up to 2^53 in plain digits ("200000"), anything else in the
 * fewest %g digits ("0.003", "1e-05"); -0 is written as 0.  buf holds at
 * least 32 bytes. */
void sweep__fmt_num(char *buf, size_t cap, double x);

// ---- reading nodes (sweep_check.c) ----

/* The longest field path kept ("parameters.d_model.center"); longer ones
 * are cut short. */
#define SWEEP__PATH_MAX 200

/* What every check needs: the file name for messages, where the first
 * error goes, and the list every error is added to.  Checks go on after an
 * error, field by field, so that one run reports all of a file's problems;
 * a section or field that failed is left out of the spec, and the checks
 * across sections run only on a file without errors (so no error is the
 * echo of another). */
typedef struct sweep__ctx {
    const char *file;
    carbs_err_t *err;      /* the first error */
    sweep_argv_t *errors;  /* every error message, in the order found; may be NULL */
    size_t n_errors;       /* how many errors so far */
    bool oom;              /* out of memory: stop at once */
    bool trainer_unknown;  /* trainer was missing or invalid: skip what depends on it */
    sweep_argv_t hinted;   /* paths an unknown key was taken for a typo of */
} sweep__ctx_t;

/* Record the error "FILE:LINE: PATH: message" (no PATH when path is NULL
 * or ""), the line of at (1 when at is NULL): the first one into c->err,
 * every one into c->errors.  Returns CARBS_EINVAL. */
int sweep__fail(sweep__ctx_t *c, const sweep__node_t *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* sweep__fail() for a required field left out, unless an unknown key of
 * the same mapping was already reported as a typo of it (then only the
 * typo is reported).  Returns CARBS_EINVAL. */
int sweep__missing(sweep__ctx_t *c, const sweep__node_t *at, const char *path, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));
/* CARBS_ENOMEM "FILE: out of memory"; stops the checks. */
int sweep__oom(sweep__ctx_t *c);

/* Append a copy of s to a; CARBS_ENOMEM or 0. */
int sweep__argv_push(sweep_argv_t *a, const char *s);

/* Paths into dst[SWEEP__PATH_MAX]: printf-style, or path + "." + key (key
 * alone when path is empty). */
void sweep__pathf(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sweep__join(char *dst, const char *path, const char *key);

/* The name of names[n] nearest to s when s is likely a typo of it, else
 * NULL; " (did you mean 'x'?)" or "" into buf; "a, b or c" into buf. */
const char *sweep__nearest(const char *s, const char *const *names, size_t n);
const char *sweep__hint(char *buf, size_t cap, const char *s, const char *const *names, size_t n);
const char *sweep__one_of(char *buf, size_t cap, const char *const *names, size_t n);

/* Tree access: a YAML null (unquoted "", "~", "null"); "a mapping", "a
 * list" or "a value" for messages; the key node of key in map, or NULL; the
 * value of key, or NULL when absent or null. */
bool sweep__is_null(const sweep__node_t *n);
const char *sweep__kind_word(const sweep__node_t *n);
const sweep__node_t *sweep__key_node(const sweep__node_t *map, const char *key);
const sweep__node_t *sweep__get(const sweep__node_t *map, const char *key);

/* Check that n is a mapping whose keys are unique and, unless keys is
 * NULL, all among keys[n_keys] (an unknown one gets a hint or the list).
 * Every bad key is reported; an unknown key taken for a typo of a known
 * one marks that key's path as hinted (see sweep__missing()). */
int sweep__check_map(sweep__ctx_t *c, const sweep__node_t *n, const char *path,
                     const char *const *keys, size_t n_keys);

/* Scalars.  Each returns 0 with *out set, or fails naming path:
 * a finite number (a quoted string is not one; -0 reads as 0); an integer
 * in [lo, hi]; true or false; a name (letters, digits, '-', '_', '.', 1 to
 * CARBS_NAME_MAX - 1 bytes) copied into dst[CARBS_NAME_MAX]; the index of
 * one of names[count]. */
int sweep__num(sweep__ctx_t *c, const sweep__node_t *n, const char *path, double *out);
int sweep__int(sweep__ctx_t *c, const sweep__node_t *n, const char *path, double lo, double hi,
               int64_t *out);
int sweep__bool(sweep__ctx_t *c, const sweep__node_t *n, const char *path, bool *out);
int sweep__name(sweep__ctx_t *c, const sweep__node_t *n, const char *path, char *dst);
int sweep__enum(sweep__ctx_t *c, const sweep__node_t *n, const char *path, const char *const *names,
                size_t count, int *out);

/* The predicates behind them: ".inf", "nan" and friends; a plain true or
 * false (YAML's three spellings each) into *out; a valid name. */
bool sweep__looks_nonfinite(const char *s);
bool sweep__bool_word(const sweep__node_t *n, bool *out);
bool sweep__name_chars_ok(const char *s);

// ---- sections shared by both formats (sweep.c) ----

/* metric, its keys among keys[n_keys] ("name" and "goal" are read; eg
 * follows "required" when it is missing), then cost, scaling, carbs (after
 * metric: it sets better_direction_sign from metric.goal) and budget, each
 * with its defaults when absent. */
int sweep__read_metric(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s,
                       const char *const *keys, size_t n_keys, const char *eg);
int sweep__read_cost(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s);
int sweep__read_scaling(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s);
int sweep__read_carbs(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s);
int sweep__read_budget(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s);

/* Refuse more than SWEEP_DIMS_MAX search dimensions in s's parameters
 * (a categorical with K values takes K), at the parameters mapping m. */
int sweep__check_dims(sweep__ctx_t *c, const sweep__node_t *m, const sweep_spec_t *s);

/* A categorical's values (the list vals, 2 to CARBS_VALUES_MAX distinct
 * numbers or strings) and its center (center: one of them; NULL: the
 * first) into p, whose name is set.  path is the parameter's. */
int sweep__categorical(sweep__ctx_t *c, const sweep__node_t *vals, const sweep__node_t *center,
                       const char *path, carbs_param_t *p);

/* Complete and check the numeric parameter p with param_numeric() and
 * report its fault at the node of the field at fault in the mapping m (the
 * parameter's key pkey when the field was not given).  round_key names
 * the key that gives round in this format ("round" or W&B's "q"). */
int sweep__numeric(sweep__ctx_t *c, const sweep__node_t *pkey, const sweep__node_t *m,
                   const char *path, carbs_param_t *p, unsigned given, const char *round_key);

/* A fixed setting: the scalar v (a number, a boolean as 1 or 0, or a
 * string) set as name in fixed. */
int sweep__fixed_value(sweep__ctx_t *c, const sweep__node_t *v, const char *path,
                       const char *name, carbs_params_t *fixed);

/* Add the note "fmt..." to s->notes (what a conversion assumed or left
 * out, docs/sweep-file.md "W&B sweep files"). */
int sweep__note(sweep__ctx_t *c, sweep_spec_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// ---- W&B sweep files (sweep_wandb.c) ----

/* True when the top-level mapping root is a W&B sweep file: it has
 * method, or it has no trainer and has program, early_terminate or
 * run_cap, or a parameter with distribution or value. */
bool sweep__is_wandb(const sweep__node_t *root);

/* Convert and validate the W&B sweep file root into s (the same rules as a
 * carbs file once converted), with a note for each default assumed and
 * each key ignored.  Errors go to c as every check's do. */
int sweep__build_wandb(sweep__ctx_t *c, const sweep__node_t *root, sweep_spec_t *s);

#endif
