/*
 * sweep_internal.h - what the sweep module's files share: a small document
 * tree with line numbers, built from YAML or JSON by sweep_tree.c and
 * validated by sweep.c.  Private to proto/ (STYLE.md H5).
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

#endif
