/*
 * status.h - the project's status codes, defined once (docs/style.md H11-H13).
 *
 * A function that can fail returns int: 0 on success or a negative CARBS_E*
 * code.  CARBS_CONTINUE (positive) is the one progress state.  Detail goes in
 * a carbs_err_t filled by carbs_fail(), the single place to break on failure.
 * Names, not numbers, cross the wire (carbs_errname / carbs_errcode).
 */
#ifndef CARBS_PROTO_STATUS_H
#define CARBS_PROTO_STATUS_H

#define CARBS_STATUS_MAP(X)                                                                        \
    X(CONTINUE, 1, "not finished; call again")                                                     \
    X(OK, 0, "success")                                                                            \
    X(EINVAL, -1, "invalid argument")                                                              \
    X(ENOMEM, -2, "out of memory")                                                                 \
    X(EIO, -3, "i/o error")                                                                        \
    X(EPROTO, -4, "malformed or unexpected message")                                               \
    X(ETIMEDOUT, -5, "peer timed out")                                                             \
    X(ESTORE, -6, "database error")                                                                \
    X(ENOTPD, -7, "matrix not positive definite")                                                  \
    X(ENOCONV, -8, "iteration did not converge")                                                   \
    X(EDIVERGED, -9, "training diverged (nan/inf loss)")                                           \
    X(ECUDA, -10, "cuda error")                                                                    \
    X(ESTATE, -11, "call not valid in current state")                                              \
    X(ENOTFOUND, -12, "no such object")                                                            \
    X(EEXIST, -13, "object already exists")                                                        \
    X(EVERSION, -14, "incompatible version")                                                       \
    X(EBUSY, -15, "resource busy or locked")                                                       \
    X(EDENIED, -16, "permission denied")                                                           \
    X(ETOOBIG, -17, "input too large")

enum carbs_status {
#define X(name, val, msg) CARBS_##name = (val),
    CARBS_STATUS_MAP(X)
#undef X
};

/* Error detail: the code and a human message (worded as docs/style.md H14 says). */
typedef struct carbs_err {
    int code;
    char msg[256];
} carbs_err_t;

/* Record code and a printf-style message in err (which may be NULL) and
 * return code.  Set a breakpoint here to stop at the first failure anywhere. */
int carbs_fail(carbs_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix err->msg with "prefix: " (for a layer that adds information) and
 * return err->code.  err may be NULL, then returns CARBS_EINVAL. */
int carbs_err_prefix(carbs_err_t *err, const char *prefix);

/* Clear err to code 0 and an empty message.  err may be NULL. */
void carbs_err_clear(carbs_err_t *err);

/* The table's message for code, or "unknown status" for a code not in it.
 * The returned string is static. */
const char *carbs_strerror(int code);

/* The table's name for code without the prefix ("EINVAL", "OK"), or
 * "EUNKNOWN".  The returned string is static. */
const char *carbs_errname(int code);

/* The code for a wire name as given by carbs_errname(), or 0 when name is
 * not in the table (0 is CARBS_OK, which never travels as an error). */
int carbs_errcode(const char *name);

#endif
