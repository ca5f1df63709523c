/*
 * fixture.h - the plumbing the test programs and benchmarks share, so that
 * each program holds only its cases:
 *
 *   - a program's temp dir and paths and endpoints in it (fx_setup,
 *     fx_path, fx_ipc, fx_finish), a file written whole (fx_write_file);
 *   - seeded generators, the seed printed (fx_rng_t, fx_seed,
 *     fx_splitmix_signed);
 *   - waiting on a condition with a deadline (fx_wait), or for a byte
 *     from a child process on a pipe (fx_read_byte);
 *   - CARBS parameters (fx_num_param), Branin (fx_branin);
 *   - a store holding one sweep made from a sweep file (fx_store_new);
 *   - an in-process service on an ipc:// endpoint, stepped by the test
 *     (fx_service_config, fx_service_open, fx_pump), and fake workers and clients built from
 *     wire_client_t that speak proto messages (fx_client, fx_request,
 *     fx_hello_msg, fx_hello, fx_ready, fx_result_msg);
 *   - a trial run to its end through the runner child (fx_trial_init,
 *     fx_run_trial).
 *
 * The code lives in tests/fixture*.c, one static library (tests/meson.build);
 * a program links only the files whose functions it calls.
 *
 * Failures: a fixture call that goes wrong prints "fixture: what" to stderr,
 * calls fx_on_fail and returns -1 (or NULL, or PROTO_MSG_NONE).  A test
 * program that includes tests/check.h first gets FX_SETUP (FX_USE_CHECK
 * without a temp dir), which points fx_on_fail at its current case, so a
 * broken fixture fails that case just as a failed CHECK does.  Waiting that
 * runs out (fx_pump, fx_request, fx_ready, fx_wait) is not a failure here:
 * the caller says whether it expected an answer.
 */
#ifndef CARBS_TESTS_FIXTURE_H
#define CARBS_TESTS_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "optimizer/service/service.h"
#include "proto/msg.h"
#include "proto/types.h"
#include "proto/wire.h"
#include "worker/runner.h"

// ---- failures, the temp dir ----

/* Called on every fixture failure; NULL = only the message. */
extern void (*fx_on_fail)(void);

/* Print "fixture: <fmt>" and a newline to stderr, then call fx_on_fail. */
void fx_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The program's temp dir, "/tmp/carbs-test-NAME-XXXXXX" once fx_setup ran. */
extern char fx_dir[64];

/* Start a test program: the JSON codec, the logger (errors only; debug with
 * CARBS_TEST_LOG set) and a new temp dir in fx_dir.  Returns 0, or -1 when
 * the dir cannot be made. */
int fx_setup(const char *name);

/* dst = fx_dir "/" fmt...; a path that does not fit fails. */
void fx_path(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* dst = "ipc://" fx_dir "/" fmt...: an endpoint in the temp dir. */
void fx_ipc(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* End a test program: remove fx_dir, unless failed, when it is kept for a
 * look and its name printed. */
void fx_finish(bool failed);

#ifdef CARBS_TESTS_CHECK_H
static inline void fx__case_failed(void)
{
    check__case_failed = 1;
}
/* Make fixture failures fail the current case (check.h). */
#define FX_USE_CHECK() (fx_on_fail = fx__case_failed)
/* fx_setup with FX_USE_CHECK. */
#define FX_SETUP(name) (FX_USE_CHECK(), fx_setup(name))
/* fx_finish, then check_summary(): main's return value. */
#define FX_FINISH() (fx_finish(check__failed != 0), check_summary())
#endif

// ---- values ----

/* xorshift64*: a test's own generator, explicit state. */
typedef struct fx_rng {
    uint64_t s;
} fx_rng_t;

uint64_t fx_rnd(fx_rng_t *r);
double fx_rnd_unit(fx_rng_t *r); /* uniform in [0, 1) */

/* splitmix64 on the state *s (any seed): uniform in [-1, 1). */
double fx_splitmix_signed(uint64_t *s);

/* A seed from CARBS_TEST_SEED, else from the clock and pid; never 0.
 * Prints "PROG: seed N (CARBS_TEST_SEED to repeat)" to stderr. */
uint64_t fx_seed(const char *prog);

/* Branin's function (minimum 0.397887 at three points). */
double fx_branin(double x1, double x2);

/* A numeric parameter, rounding 1. */
carbs_param_t fx_num_param(const char *name, carbs_space_kind_t kind, double lo, double hi,
                           double center, double scale, bool integer);

/* Value of the numeric parameter name in ps; NaN when absent. */
double fx_param(const carbs_params_t *ps, const char *name);

/* Write n bytes of data to path (created or truncated).  0 or -1. */
int fx_write_file(const char *path, const void *data, size_t n);

/* Poll cond(arg) every poll_us until it holds (true) or bound_s passes
 * (false, quietly). */
bool fx_wait(bool (*cond)(void *arg), void *arg, double bound_s, int poll_us);

/* Wait up to ms for one byte on fd (a pipe from a child that says where it
 * is); the byte, or -1 (quietly) when none came or fd closed. */
int fx_read_byte(int fd, int ms);

// ---- a store with a sweep ----

/* The lines of a synthetic sweep file that every service test shares: the
 * metric "loss" minimized, the cost "cost", Branin over x and y. */
#define FX_SPEC_SYNTHETIC                                                                          \
    "metric: {name: loss, goal: minimize}\n"                                                       \
    "cost: {name: cost}\n"                                                                         \
    "trainer: synthetic\n"
#define FX_SPEC_BRANIN_XY                                                                          \
    "parameters:\n"                                                                                \
    "  x: {space: linear, min: -5, max: 10, center: 2.5, scale: 5}\n"                              \
    "  y: {space: linear, min: 0, max: 15, center: 7.5, scale: 5}\n"

/* The canonical JSON of the sweep file yaml (caller frees); NULL when the
 * file is refused. */
char *fx_spec_json(const char *yaml);

/* Create the store db with the sweep of yaml in it.  Returns the sweep id,
 * or -1. */
int64_t fx_store_new(const char *db, const char *yaml);

/* The sweep's trials per state (store_sweep_counts) into c.  0 or -1. */
int fx_counts(const char *db, int64_t sweep, size_t c[CARBS_TRIAL_STATE_COUNT]);

// ---- the service, stepped by the test ----

/* The one place tests configure a service: db on ep, the lease given (the
 * heartbeat a quarter of it; 0 = the defaults), 1000 losses before
 * quarantine, `wait` 10 ms.  A test that needs more (keys, another
 * quarantine) fills cfg here, changes its fields and calls service_open. */
void fx_service_config(service_config_t *cfg, const char *db, const char *ep, int lease_ms);

/* service_open on fx_service_config.  With err NULL a failure to open is a
 * fixture failure; with err it is the caller's to check. */
service_t *fx_service_open(const char *db, const char *ep, int lease_ms, carbs_err_t *err);

/* A client of ep with routing id id (NULL = random); frame_max 0 = the
 * default.  Reconnects after 20 ms.  NULL on failure. */
wire_client_t *fx_client(const char *ep, const char *id, size_t frame_max);

/* Send m, or len bytes of buf, through c.  0 or -1. */
int fx_send(wire_client_t *c, const proto_msg_t *m);
int fx_send_raw(wire_client_t *c, const char *buf, size_t len);

/* Step svc until c receives a frame, at most ms; decode it into *out
 * (caller releases).  0, or -1 when nothing came (or it did not decode). */
int fx_pump(service_t *svc, wire_client_t *c, proto_msg_t *out, int ms);

/* Send m and release it; the answer into *out (caller releases).  0, or
 * -1 when none came within ms. */
int fx_request(service_t *svc, wire_client_t *c, proto_msg_t *m, proto_msg_t *out, int ms);

/* A hello as worker id: host "test-host", synthetic trials, one slot. */
void fx_hello_msg(proto_msg_t *m, const char *id);

/* hello as worker id (fx_hello_msg), expecting welcome.  0 or -1. */
int fx_hello(service_t *svc, wire_client_t *c, const char *id);

/* ready; the answer into *out (caller releases).  Returns its type, or
 * PROTO_MSG_NONE when none came. */
proto_msg_type_t fx_ready(service_t *svc, wire_client_t *c, proto_msg_t *out);

/* A result for trial_id / attempt: ok, "loss" and "cost" as given. */
void fx_result_msg(proto_msg_t *m, int64_t trial_id, int attempt, double loss, double cost);

// ---- a trial through the runner ----

typedef DA_TYPE(proto_progress_t) fx_progress_t;

/* A trial message: id, sweep 4, attempt 1, kind, lease 60 s, metric
 * "val_loss", cost "cost_units". */
void fx_trial_init(proto_msg_t *m, int64_t id, proto_trainer_t kind);

/* Run t through the runner child to its end (bounded by 60 s); the result
 * into *r (caller releases), progress into *pl when given.  Returns the
 * seconds taken.  The runner's accessors are checked on the way. */
double fx_run_trial(const runner_config_t *cfg, const proto_trial_t *t, carbs_result_t *r,
                    fx_progress_t *pl);

#endif
