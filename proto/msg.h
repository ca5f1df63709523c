/*
 * msg.h - the wire protocol's messages, declared once; docs/protocol.md
 * is the prose version with the
 * grammar and examples.
 *
 * Every frame is one JSON object {"v": 1, "type": "<wire name>", ...}.
 * PROTO_MSG_MAP lists each message as (wire name, enum id, C struct); the
 * union member of proto_msg_t is named after the wire name (m.hello,
 * m.result, ...).  Structs are plain data and all-zero is a valid empty
 * value (H8).  Bounded strings are fixed char arrays; unbounded ones
 * (spec_json, records, data, argv) are heap memory owned by the message and
 * freed by proto_msg_release().  Doubles round-trip exactly.  A NaN in an
 * optional number means "not reported" and is not sent.
 *
 * Invariants the codec keeps on both sides: a frame is at most
 * PROTO_FRAME_MAX bytes; ids (trial_id, sweep_id) are positive where a
 * message names a trial and non-negative where 0 means "none"; integers
 * are at most 2^53 (a JSON number is a double).  Anything the decoder would
 * reject, the encoder refuses with CARBS_EINVAL, so decode(encode(m))
 * always succeeds.
 */
#ifndef CARBS_PROTO_MSG_H
#define CARBS_PROTO_MSG_H

#include "proto/jw.h"
#include "proto/types.h"

#define PROTO_VERSION 1                /* major version, the "v" of every frame */
#define PROTO_FRAME_MAX (1024 * 1024)  /* bytes; larger frames are refused unparsed */
#define PROTO_HOST_MAX 256             /* a host name, with NUL */
#define PROTO_DEVICES_MAX 16           /* devices one hello may list */

// ---- the message table ----

/* (wire name, enum id, C struct).  Direction in the comments: w = worker,
 * s = service, c = client (the CLI). */
#define PROTO_MSG_MAP(X)                                                                           \
    X(hello, HELLO, proto_hello_t)               /* w->s: who I am, what I can run */             \
    X(ready, READY, proto_ready_t)               /* w->s: a slot wants work */                    \
    X(heartbeat, HEARTBEAT, proto_heartbeat_t)   /* w->s: alive (renews the lease) */             \
    X(progress, PROGRESS, proto_progress_t)      /* w->s: a training step report */               \
    X(result, RESULT, proto_result_t)            /* w->s: a trial's outcome */                    \
    X(bye, BYE, proto_bye_t)                     /* w->s: leaving */                              \
    X(welcome, WELCOME, proto_welcome_t)         /* s->w: hello accepted, timings */              \
    X(trial, TRIAL, proto_trial_t)               /* s->w: run this */                             \
    X(wait, WAIT, proto_wait_t)                  /* s->w: no work now, ask again later */         \
    X(ack, ACK, proto_ack_t)                     /* s->w: result stored */                        \
    X(cancel, CANCEL, proto_cancel_t)            /* s->w: stop this trial */                      \
    X(error, ERROR, proto_error_t)               /* s->w/c: the last frame was refused */         \
    X(sweep_create, SWEEP_CREATE, proto_sweep_create_t) /* c->s: store a new sweep */             \
    X(status, STATUS, proto_sweep_ref_t)         /* c->s: describe one sweep or all */            \
    X(pause, PAUSE, proto_sweep_ref_t)           /* c->s: hand out no new trials */               \
    X(resume, RESUME, proto_sweep_ref_t)         /* c->s: undo pause */                           \
    X(stop, STOP, proto_sweep_ref_t)             /* c->s: end the sweep */                        \
    X(import, IMPORT, proto_import_t)            /* c->s: add finished trials */                  \
    X(ask, ASK, proto_sweep_ref_t)               /* c->s: take a suggestion (manual loop) */      \
    X(tell, TELL, proto_tell_t)                  /* c->s: report its outcome */                   \
    X(release, RELEASE, proto_worker_ref_t)      /* c->s: end a worker's quarantine */            \
    X(verify, VERIFY, proto_verify_t)            /* c->s: queue a law's prediction as a trial */  \
    X(sweep_admin, SWEEP_ADMIN, proto_sweep_admin_t) /* c->s: extend, rename or delete a sweep */ \
    X(reply, REPLY, proto_reply_t)               /* s->c: the answer to any client request */

typedef enum proto_msg_type {
    PROTO_MSG_NONE = 0, /* an empty message; never on the wire */
#define X(wire, id, ctype) PROTO_MSG_##id,
    PROTO_MSG_MAP(X)
#undef X
        PROTO_MSG_COUNT
} proto_msg_type_t;

/* Trainer kinds a trial may ask for (the sweep file's `trainer`). */
#define PROTO_TRAINER_MAP(X)                                                                       \
    X(EMBEDDED, "embedded")                                                                        \
    X(COMMAND, "command")                                                                          \
    X(SYNTHETIC, "synthetic")

typedef enum proto_trainer {
#define X(id, name) PROTO_TRAINER_##id,
    PROTO_TRAINER_MAP(X)
#undef X
        PROTO_TRAINER_COUNT
} proto_trainer_t;

// ---- worker -> service ----

/* Devices a worker offers ("cpu", "cuda:0 NVIDIA H100 80GB HBM3"). */
typedef struct proto_devices {
    size_t n;
    char v[PROTO_DEVICES_MAX][CARBS_NAME_MAX];
} proto_devices_t;

/* What a worker can run; wire: "capabilities": {"embedded": b, ...}. */
typedef struct proto_caps {
    bool embedded, command, synthetic;
} proto_caps_t;

typedef struct proto_hello {
    char worker_id[CARBS_NAME_MAX]; /* non-empty; stable across restarts (re-attach) */
    char host[PROTO_HOST_MAX];
    int64_t pid;   /* >= 1 */
    int slots;     /* >= 1: trials it runs at once */
    proto_devices_t devices;
    proto_caps_t caps;
} proto_hello_t;

typedef struct proto_ready {
    int slot; /* >= 0 */
} proto_ready_t;

typedef struct proto_heartbeat {
    int64_t trial_id; /* the running trial, or 0 when idle */
} proto_heartbeat_t;

typedef struct proto_progress {
    int64_t trial_id; /* >= 1 */
    int attempt;      /* >= 1 */
    int64_t step;     /* >= 0 */
    double tokens;
    double train_loss; /* NaN (or inf) = not reported: omitted */
    double elapsed_seconds;
} proto_progress_t;

/* r.trial_id (>= 1) and r.attempt (>= 1) travel as "trial_id" and
 * "attempt"; then "status", "failure" (omitted when none), "message"
 * (omitted when empty), "metrics" {name: number} with every finite
 * canonical metric and extra, and "curve" [[step, tokens, loss|null]...]. */
typedef struct proto_result {
    carbs_result_t r;
} proto_result_t;

typedef struct proto_bye {
    char reason[CARBS_NAME_MAX]; /* "shutdown", "preempted", ... */
} proto_bye_t;

// ---- service -> worker ----

typedef struct proto_welcome {
    int heartbeat_ms; /* >= 1: send a heartbeat at least this often */
    int lease_ms;     /* >= 1: silence this long loses the worker's trials */
    char service_version[CARBS_NAME_MAX];
} proto_welcome_t;

/* A command trial's argv: n strings, each malloc'd, owned by the message. */
typedef struct proto_argv {
    char **v;
    size_t n, cap;
} proto_argv_t;

/* A synthetic trial's options; wire: "synthetic": {"function", "seconds_per_cost",
 * "fail_above"}; omitted when function is empty. */
typedef struct proto_synthetic {
    char function[CARBS_NAME_MAX];
    double seconds_per_cost; /* >= 0 */
    carbs_params_t fail_above;
} proto_synthetic_t;

/* A command trial needs argv.n >= 1; a synthetic one needs synthetic.function. */
typedef struct proto_trial {
    int64_t trial_id; /* >= 1 */
    int64_t sweep_id; /* >= 1 */
    int attempt;      /* >= 1 */
    proto_trainer_t trainer;
    carbs_params_t params; /* the suggestion */
    carbs_params_t fixed;  /* the sweep's fixed parameters; omitted when empty */
    proto_argv_t argv;     /* omitted when empty */
    proto_synthetic_t synthetic;
    char metric[CARBS_NAME_MAX]; /* the metric to report as output, non-empty */
    char cost[CARBS_NAME_MAX];   /* the metric to report as cost, non-empty */
    int lease_ms;                /* >= 1 */
} proto_trial_t;

typedef struct proto_wait {
    int retry_ms; /* >= 0 */
} proto_wait_t;

typedef struct proto_ack {
    int64_t trial_id; /* >= 1 */
} proto_ack_t;

typedef struct proto_cancel {
    int64_t trial_id; /* >= 1 */
    char reason[CARBS_MSG_MAX];
} proto_cancel_t;

/* The answer to a refused frame; code travels as its status-table name
 * ("EPROTO", "EVERSION"), and must be negative. */
typedef struct proto_error {
    int code;
    char message[CARBS_MSG_MAX];
} proto_error_t;

// ---- client -> service ----

typedef struct proto_sweep_create {
    char *spec_json; /* the sweep spec as JSON text; required */
} proto_sweep_create_t;

/* status, pause, resume, stop, ask: a sweep by name or id.  Empty only in
 * status (meaning all sweeps). */
typedef struct proto_sweep_ref {
    char sweep[CARBS_NAME_MAX];
} proto_sweep_ref_t;

/* release: a worker by id; unbind also frees the id from the CURVE key it
 * is bound to (omitted when false). */
typedef struct proto_worker_ref {
    char worker[CARBS_NAME_MAX];
    bool unbind;
} proto_worker_ref_t;

/* sweep_admin: op "extend" adds trials (>= 0) and cost (finite and >= 0;
 * NaN = none: omitted) to the sweep's budget; "rename" gives it name;
 * "delete" deletes it.  The fields an op does not use are zero. */
#define PROTO_ADMIN_OP_MAX 16
typedef struct proto_sweep_admin {
    char sweep[CARBS_NAME_MAX]; /* non-empty */
    char op[PROTO_ADMIN_OP_MAX]; /* non-empty */
    int64_t trials;             /* 0 = none: omitted */
    double cost;                /* not finite = none: omitted */
    char name[CARBS_NAME_MAX];  /* "" = none: omitted */
} proto_sweep_admin_t;

typedef struct proto_import {
    char sweep[CARBS_NAME_MAX]; /* non-empty */
    char *records;              /* JSON text: an array of export records (record.h) */
} proto_import_t;

/* An outcome for a trial taken with ask.  r carries status, failure,
 * message, metrics and curve (r.trial_id and r.attempt do not travel; a
 * missing "status" decodes as ok). */
typedef struct proto_tell {
    char sweep[CARBS_NAME_MAX]; /* non-empty */
    int64_t trial_id;           /* >= 1 */
    double output;              /* NaN (not finite) = none, e.g. for a failure: omitted */
    double cost;                /* finite */
    bool is_failure;
    carbs_result_t r;
} proto_tell_t;

/* A verification run (docs/scaling-laws.md, "Predict, then verify"): the
 * configuration a scaling law predicts to be optimal at cost, queued as a
 * trial of the sweep and stored with the prediction it checks. */
typedef struct proto_verify {
    char sweep[CARBS_NAME_MAX];     /* non-empty */
    carbs_params_t params;          /* the configuration: every searched parameter */
    double cost;                    /* the cost the prediction is for, > 0 */
    char cost_name[CARBS_NAME_MAX]; /* non-empty: the sweep's cost metric, or flops */
    char estimator[16];             /* non-empty: the law's estimator */
    double predicted;               /* finite: the predicted best metric */
    double lo, hi, level;           /* its interval and level; NaN = none: omitted */
} proto_verify_t;

// ---- service -> client ----

typedef struct proto_reply {
    bool ok;
    int64_t sweep_id;            /* 0 = none: omitted */
    int64_t trial_id;            /* 0 = none: omitted */
    carbs_params_t params;       /* the suggestion, for ask; omitted when empty */
    char message[CARBS_MSG_MAX]; /* omitted when empty */
    char *data;                  /* JSON text (status output); NULL = none: omitted */
} proto_reply_t;

// ---- the status data: reply.data of a `status` request ----

/* A status reply carries its document as JSON text in reply.data (so a
 * client that predates this declaration still reads it), of the shape
 *   {"sweeps": [{"id", "name", "state", "trials": {<state>: n, ...},
 *                "metric", "best", "best_trial", "cost_spent"}, ...],
 *    "workers": [{"id", "host", "slots", "connected", "quarantined",
 *                 "idle_seconds"}, ...],
 *    "running": [{"trial", "sweep", "worker", "attempt", "lease_seconds"}, ...]}
 * in that key order, with "workers_unlisted": n after "workers" and
 * "running_unlisted": n after "running" when a list was cut short (n > 0)
 * so that the reply fits one frame.  A number that is not finite travels as null.  The
 * codec below writes and reads it; docs/protocol.md shows an example. */

typedef struct proto_status_sweep {
    int64_t id;                               /* >= 1 */
    char name[CARBS_NAME_MAX];                /* non-empty */
    carbs_sweep_state_t state;
    int64_t trials[CARBS_TRIAL_STATE_COUNT];  /* trials per state, >= 0 */
    char metric[CARBS_NAME_MAX];
    double best;                              /* the best output; NaN = none yet */
    int64_t best_trial;                       /* its trial; 0 = none */
    double cost_spent;                        /* NaN = unknown */
    /* Why the service paused the sweep itself (docs/service.md, Budget and
     * states); "" when it did not, and then omitted on the wire. */
    char paused_because[CARBS_MSG_MAX];
} proto_status_sweep_t;

typedef struct proto_status_worker {
    char id[CARBS_NAME_MAX]; /* non-empty */
    char host[PROTO_HOST_MAX];
    int slots;               /* >= 0 */
    bool connected, quarantined;
    double idle_seconds;     /* since its last message; NaN = never heard */
} proto_status_worker_t;

typedef struct proto_status_trial {
    int64_t trial;               /* >= 1 */
    char sweep[CARBS_NAME_MAX];  /* the sweep's name */
    char worker[CARBS_NAME_MAX]; /* "" for a trial taken with ask */
    int attempt;                 /* >= 1 */
    double lease_seconds;        /* left on its lease; NaN = no lease (ask) */
} proto_status_trial_t;

/* The service's view: every (or the one asked-for) active or paused sweep,
 * the workers it knows and the trials running now.  The arrays are owned
 * by the struct; all-zero is an empty status. */
typedef struct proto_status {
    DA_TYPE(proto_status_sweep_t) sweeps;
    DA_TYPE(proto_status_worker_t) workers;
    DA_TYPE(proto_status_trial_t) running;
    int64_t workers_unlisted, running_unlisted; /* left out of the lists, >= 0 */
} proto_status_t;

/* Free the arrays of *s and make it empty.  Safe on an empty status. */
void proto_status_release(proto_status_t *s);

/* Encode s as the status document (compact, one object) into a new string
 * *out of *len bytes (len may be NULL); the caller frees *out.  Returns 0,
 * CARBS_EINVAL for what the decoder would refuse (a string not terminated
 * within its buffer or not UTF-8, an empty sweep name or worker id, a bad
 * state, a negative count, an id out of range), naming the entry and field,
 * or CARBS_ENOMEM; *out is NULL on failure. */
int proto_status_encode(const proto_status_t *s, char **out, size_t *len, carbs_err_t *err);

/* The same document's members ("sweeps", "workers", "running") written
 * into the object jw has open, for a caller that adds keys of its own
 * around them (`carbs status` puts "source" and "pid" first).  Returns 0
 * or the CARBS_EINVAL of proto_status_encode() (nothing written then);
 * the writer's own errors stay in jw. */
int proto_status_put(jw_t *jw, const proto_status_t *s, carbs_err_t *err);

/* Decode the len bytes at buf into *out, which is overwritten.  Unknown
 * fields are ignored; every field above is required (null where a number
 * may be NaN) but the two "_unlisted" counts (absent = 0).  Returns 0, or
 * CARBS_EPROTO (bad JSON, a missing or mistyped field, an unknown state),
 * CARBS_ETOOBIG (a string longer than its field) or CARBS_ENOMEM, with
 * "status: sweeps[2]: field 'name' ..." messages; on failure *out is
 * empty. */
int proto_status_decode(const char *buf, size_t len, proto_status_t *out, carbs_err_t *err);

// ---- the tagged union ----

typedef struct proto_msg {
    proto_msg_type_t type;
    union {
#define X(wire, id, ctype) ctype wire;
        PROTO_MSG_MAP(X)
#undef X
    };
} proto_msg_t;

/* Make *m an empty message of the given type: every field zero, every
 * metric of a result or tell NaN, optional numbers (progress.train_loss,
 * tell.output) NaN.  Start building a message here. */
void proto_msg_init(proto_msg_t *m, proto_msg_type_t type);

/* Free what *m owns (heap strings, argv, parameter and result arrays) and
 * leave it empty (type NONE).  m may be all-zero; safe to call twice. */
void proto_msg_release(proto_msg_t *m);

/* The wire name of t ("hello"), or "unknown".  Static string. */
const char *proto_msg_type_name(proto_msg_type_t t);
/* The type for a wire name, or PROTO_MSG_NONE. */
proto_msg_type_t proto_msg_type_parse(const char *name);

const char *proto_trainer_name(proto_trainer_t t); /* "embedded", or "unknown" */
int proto_trainer_parse(const char *name);          /* the kind, or -1 */

/* Encode m as one frame into a new NUL-terminated string *out of *len bytes
 * (len may be NULL); the caller frees *out with free().  The encoding is
 * canonical: compact, "v" and "type" first, then the fields in the order
 * of their struct, optional empties left out.  Returns 0; CARBS_EINVAL for
 * a message the decoder would refuse (a bad type, a negative id, an empty
 * required name, a non-finite number, a string not terminated within its
 * buffer or not UTF-8), naming the type and field; CARBS_ETOOBIG when the
 * frame would exceed PROTO_FRAME_MAX; CARBS_ENOMEM.  *out is NULL on failure. */
int proto_msg_encode(const proto_msg_t *m, char **out, size_t *len, carbs_err_t *err);

/* Decode the len bytes at buf (not NUL-terminated) into *out, which is
 * overwritten (release an earlier message first).  Unknown fields are
 * ignored.  Returns 0, or on failure leaves *out empty (nothing allocated)
 * and returns:
 *   CARBS_ETOOBIG  - len > PROTO_FRAME_MAX (not parsed), or a string longer
 *                    than its field's buffer (the message names the field);
 *   CARBS_EVERSION - "v" is a major version other than PROTO_VERSION (the
 *                    message names both versions);
 *   CARBS_EPROTO   - invalid UTF-8, invalid or truncated JSON, duplicate
 *                    keys, trailing bytes, not an object, a missing or
 *                    non-integer "v", a missing or unknown "type", a missing
 *                    field or one of the wrong type, NaN/Infinity or a number
 *                    that overflows (1e999), a negative id;
 *   CARBS_ENOMEM.
 * Messages read "<type>: field '<name>' must be ...".  The service answers
 * any failure with an `error` frame carrying the code's name. */
int proto_msg_decode(const char *buf, size_t len, proto_msg_t *out, carbs_err_t *err);

#endif
