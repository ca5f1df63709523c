/*
 * test_command.c - command trials: the line contract (progress, flat and
 * nested results, NaN), then real programs under tests/data/command/:
 * success (arguments, environment and parameter file), the argument
 * macros, NaN loss, crash by
 * a signal, nonzero exits (error, oom, tempfail), no result line, many
 * progress lines, a result file, a program that cannot start, a time limit
 * with a program that ignores SIGTERM, and command_stop.
 */
#include "proto/common.h"
#include "worker/command.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/check.h"

static char script_dir[512];
static char out_dir[256];

static const char *script(const char *name)
{
    static char path[640];
    snprintf(path, sizeof(path), "%s/%s", script_dir, name);
    return path;
}

static char *slurp(const char *dir, const char *name)
{
    char path[512];
    FILE *f;
    char *buf = xcalloc(1, 65536);

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f) {
        size_t n = fread(buf, 1, 65535, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

typedef DA_TYPE(carbs_curve_point_t) points_t;

/* Run cfg to the end (bounded by 60 s), collecting progress. */
static int run(const command_config_t *cfg, carbs_result_t *r, points_t *pts, double *secs)
{
    carbs_err_t err = {0};
    command_t *c = command_start(cfg, &err);
    double t0 = now_monotonic();
    int rc = CARBS_CONTINUE;

    carbs_result_init(r);
    if (!c) {
        fprintf(stderr, "command_start: %s\n", err.msg);
        return err.code;
    }
    CHECK(command_pid(c) > 0);
    while (rc == CARBS_CONTINUE && now_monotonic() - t0 < 60.0) {
        carbs_curve_point_t p;
        bool has = false;

        rc = command_poll(c, 500, &p, &has, &err);
        if (has && pts) CHECK_EQ(DA_PUSH(pts, p), 0);
    }
    CHECK_EQ(rc, 0);
    if (secs) *secs = now_monotonic() - t0;
    carbs_result_release(r);
    CHECK_EQ(command_result(c, r), 0);
    command_free(c);
    return rc;
}

// ---- the line contract ----

static void test_command_line_progress(void)
{
    carbs_curve_point_t p;
    carbs_result_t r;
    const char *l1 = "{\"step\": 1250, \"tokens\": 5120000, \"train_loss\": 3.1875, \"lr\": 0.001}";
    const char *l2 = "  {\"step\":7}  ";

    CHECK_EQ(command_parse_line(l1, strlen(l1), NULL, NULL, &p, &r), COMMAND_LINE_PROGRESS);
    CHECK_EQ(p.step, 1250);
    CHECK_NEAR(p.tokens, 5120000.0, 0.0);
    CHECK_NEAR(p.loss, 3.1875, 0.0);
    carbs_result_release(&r);
    CHECK_EQ(command_parse_line(l2, strlen(l2), NULL, NULL, &p, &r), COMMAND_LINE_PROGRESS);
    CHECK_EQ(p.step, 7);
    CHECK(isnan(p.tokens) && isnan(p.loss));
    carbs_result_release(&r);
    /* A negative or fractional-free but bogus step is not progress. */
    const char *bad = "{\"step\": -3}";
    CHECK_EQ(command_parse_line(bad, strlen(bad), NULL, NULL, &p, &r), COMMAND_LINE_OTHER);
    carbs_result_release(&r);
}

static void test_command_line_results(void)
{
    carbs_curve_point_t p;
    carbs_result_t r;
    const char *flat = "{\"val_bpb\": 1.0625, \"mcq_acc\": 0.4375, \"grad_norm_max\": 7.25, "
                       "\"step\": 900, \"status\": \"ok\", \"note\": \"x\", \"done\": true}";
    const char *nested = "{\"status\":\"ok\",\"metrics\":{\"val_loss\":2.9371,\"flops\":1.25e15},"
                         "\"curve\":[[0,0,7.625],[1000,4096000,3.3125],[2000,8192000,null]]}";
    const char *failed = "{\"status\": \"failed\", \"failure\": \"oom\", \"message\": "
                         "\"cuda \\u00e9 \\\"out\\\" of memory\\n\", \"wall_seconds\": 12.5}";
    const char *unknown = "{\"status\": \"failed\", \"failure\": \"gremlins\"}";

    CHECK_EQ(command_parse_line(flat, strlen(flat), "val_bpb", NULL, &p, &r), COMMAND_LINE_RESULT);
    CHECK(r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_NONE);
    CHECK_NEAR(r.metric[CARBS_METRIC_VAL_BPB], 1.0625, 0.0);
    CHECK_NEAR(r.metric[CARBS_METRIC_MCQ_ACC], 0.4375, 0.0);
    CHECK_NEAR(carbs_result_get(&r, "grad_norm_max"), 7.25, 0.0);
    CHECK(isnan(carbs_result_get(&r, "step")));
    carbs_result_release(&r);

    CHECK_EQ(command_parse_line(nested, strlen(nested), NULL, NULL, &p, &r), COMMAND_LINE_RESULT);
    CHECK(r.ok);
    CHECK_NEAR(r.metric[CARBS_METRIC_VAL_LOSS], 2.9371, 0.0);
    CHECK_NEAR(r.metric[CARBS_METRIC_FLOPS], 1.25e15, 0.0);
    CHECK_EQ(r.curve.n, 3);
    if (r.curve.n == 3) {
        CHECK_EQ(r.curve.v[1].step, 1000);
        CHECK(isnan(r.curve.v[2].loss));
    }
    carbs_result_release(&r);

    /* a success names no failure kind, nested or flat: the nested line
     * kept "oom", which its flat re-encoding then dropped */
    {
        const char *ok_kind = "{\"status\":\"ok\",\"failure\":\"oom\",\"message\":\"CUDA out \","
                              "\"metrics\":{\"val_loss\":2.5}}";
        CHECK_EQ(command_parse_line(ok_kind, strlen(ok_kind), NULL, NULL, &p, &r),
                 COMMAND_LINE_RESULT);
        CHECK(r.ok);
        CHECK_EQ(r.failure, CARBS_FAILURE_NONE);
        carbs_result_release(&r);
    }

    CHECK_EQ(command_parse_line(failed, strlen(failed), NULL, NULL, &p, &r), COMMAND_LINE_RESULT);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_OOM);
    CHECK_STR(r.message, "cuda \xc3\xa9 \"out\" of memory\n");
    CHECK_NEAR(r.metric[CARBS_METRIC_WALL_SECONDS], 12.5, 0.0);
    carbs_result_release(&r);

    CHECK_EQ(command_parse_line(unknown, strlen(unknown), NULL, NULL, &p, &r), COMMAND_LINE_RESULT);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_ERROR);
    carbs_result_release(&r);
    /* a failure without a kind is an error in the nested shape too */
    const char *kindless = "{\"status\": \"failed\", \"curve\": [[1, 72, null]]}";
    CHECK_EQ(command_parse_line(kindless, strlen(kindless), NULL, NULL, &p, &r), COMMAND_LINE_RESULT);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_ERROR);
    carbs_result_release(&r);
}

static void test_command_line_nan(void)
{
    carbs_curve_point_t p;
    carbs_result_t r;
    const char *nan_loss = "{\"val_loss\": NaN, \"tokens\": 8192}";
    const char *inf_metric = "{\"score\": -Infinity, \"val_bpb\": 1.5}";
    const char *inf_other = "{\"mcq_ppl\": Infinity, \"val_bpb\": 1.5}";

    CHECK_EQ(command_parse_line(nan_loss, strlen(nan_loss), "val_bpb", NULL, &p, &r),
             COMMAND_LINE_RESULT);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_DIVERGED);
    CHECK_STR(r.message, "'val_loss' is nan");
    CHECK_NEAR(r.metric[CARBS_METRIC_TOKENS], 8192.0, 0.0);
    carbs_result_release(&r);
    /* The trial's own metric counts like a loss ... */
    CHECK_EQ(command_parse_line(inf_metric, strlen(inf_metric), "score", NULL, &p, &r),
             COMMAND_LINE_RESULT);
    CHECK_EQ(r.failure, CARBS_FAILURE_DIVERGED);
    CHECK_STR(r.message, "'score' is infinite");
    carbs_result_release(&r);
    /* ... any other non-finite metric is dropped. */
    CHECK_EQ(command_parse_line(inf_other, strlen(inf_other), "val_bpb", NULL, &p, &r),
             COMMAND_LINE_RESULT);
    CHECK(r.ok);
    CHECK(isnan(r.metric[CARBS_METRIC_MCQ_PPL]));
    CHECK_NEAR(r.metric[CARBS_METRIC_VAL_BPB], 1.5, 0.0);
    carbs_result_release(&r);
    /* The trial's cost metric is not dropped: a cost that cannot be told
     * fails the trial (error), never to be replaced by the worker's clock.
     * Before, {"loss": 1.5, "wall_seconds": NaN} was done at the measured
     * wall time, and "flops": Infinity at a cost in seconds. */
    static const char nan_cost[] = "{\"val_bpb\": 1.5, \"flops\": NaN, \"message\": \"hi\"}";
    static const char inf_cost[] = "{\"val_bpb\": 1.5, \"wall_seconds\": -Infinity}";
    CHECK_EQ(command_parse_line(nan_cost, strlen(nan_cost), "val_bpb", "flops", &p, &r),
             COMMAND_LINE_RESULT);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_ERROR);
    CHECK_STR(r.message, "cost flops = nan is not finite and > 0");
    CHECK_NEAR(r.metric[CARBS_METRIC_VAL_BPB], 1.5, 0.0);
    carbs_result_release(&r);
    CHECK_EQ(command_parse_line(inf_cost, strlen(inf_cost), "val_bpb", "wall_seconds", &p, &r),
             COMMAND_LINE_RESULT);
    CHECK(!r.ok);
    CHECK_STR(r.message, "cost wall_seconds = -inf is not finite and > 0");
    carbs_result_release(&r);
    /* A loss that is not finite still says diverged first. */
    CHECK_EQ(command_parse_line(nan_loss, strlen(nan_loss), "val_bpb", "val_loss", &p, &r),
             COMMAND_LINE_RESULT);
    CHECK_EQ(r.failure, CARBS_FAILURE_DIVERGED);
    carbs_result_release(&r);
}

static void test_command_line_other(void)
{
    static const char *const lines[] = {
        "",
        "plain text",
        "{}",
        "{\"note\": \"no numbers\"}",
        "{\"status\": \"maybe\", \"val_loss\": 1}",
        "{\"val_loss\": 1,}",
        "{\"val_loss\": 1} trailing",
        "{\"val_loss\": 1e}",
        "{\"val_loss\" 1}",
        "{\"a\": \"unterminated}",
        "{\"a\": \"\\ud800\"}",
        "{\"a\": \"\\u0000\", \"b\": 1}",
        "{\"val_loss\": [1, 2]}", /* nested but not the result shape */
        "{\"status\": \"ok\", \"metrics\": {\"val_loss\": \"high\"}}",
        "[1, 2, 3]",
        "{\"a\": \"\xff\", \"val_loss\": 1}",
    };
    carbs_curve_point_t p;
    carbs_result_t r;

    for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
        command_line_kind_t k = command_parse_line(lines[i], strlen(lines[i]), NULL, NULL, &p, &r);
        if (k != COMMAND_LINE_OTHER)
            fprintf(stderr, "line %zu: '%s' is kind %d\n", i, lines[i], (int)k);
        CHECK_EQ(k, COMMAND_LINE_OTHER);
        carbs_result_release(&r);
    }
    /* A key longer than a metric name is skipped, the rest is read. */
    char line[300];
    snprintf(line, sizeof(line), "{\"%070d\": 1, \"val_loss\": 2.75}", 0);
    CHECK_EQ(command_parse_line(line, strlen(line), NULL, NULL, &p, &r), COMMAND_LINE_RESULT);
    CHECK_NEAR(r.metric[CARBS_METRIC_VAL_LOSS], 2.75, 0.0);
    CHECK_EQ(r.extra.n, 0);
    carbs_result_release(&r);
}

// ---- real programs ----

/* The result file's text: the whole text as one object, else its last
 * result line; a NUL byte inside must not send the parser past the end. */
static void test_command_result_text(void)
{
    static const char pretty[] = "{\n  \"status\": \"ok\",\n  \"val_bpb\": 1.4375\n}\n\n";
    static const char lines[] = "{\"val_bpb\": 99}\nlog\n{\"val_loss\": 2.5}\r\nbye\n";
    static const char nul[] = "{\"val_loss\": 1}\0\n{\"val_loss\": 2}";
    carbs_result_t r;
    char *copy;

    CHECK(command_parse_result_file(pretty, strlen(pretty), NULL, NULL, &r));
    CHECK_NEAR(r.metric[CARBS_METRIC_VAL_BPB], 1.4375, 0.0);
    carbs_result_release(&r);
    CHECK(command_parse_result_file(lines, strlen(lines), NULL, NULL, &r));
    CHECK_NEAR(r.metric[CARBS_METRIC_VAL_LOSS], 2.5, 0.0);
    CHECK(isnan(r.metric[CARBS_METRIC_VAL_BPB]));
    carbs_result_release(&r);
    /* exactly sized, so the sanitizers see any read past the end */
    copy = xmalloc(sizeof(nul) - 1);
    memcpy(copy, nul, sizeof(nul) - 1);
    CHECK(command_parse_result_file(copy, sizeof(nul) - 1, NULL, NULL, &r));
    CHECK_NEAR(r.metric[CARBS_METRIC_VAL_LOSS], 2.0, 0.0);
    carbs_result_release(&r);
    CHECK(!command_parse_result_file(copy, 0, NULL, NULL, &r));
    CHECK(isnan(r.metric[CARBS_METRIC_VAL_LOSS]) && r.extra.n == 0);
    carbs_result_release(&r);
    free(copy);
}

static void test_command_success(void)
{
    carbs_params_t params = {0}, fixed = {0};
    const char *argv[] = {"sh", script("success.sh"), "--own-flag"};
    command_config_t cfg = {.argv = argv,
                            .argc = 3,
                            .params = &params,
                            .fixed = &fixed,
                            .trial_id = 7342,
                            .sweep_id = 3,
                            .attempt = 2,
                            .metric = "val_loss",
                            .device = "cpu"};
    carbs_result_t r;
    char *params_json, *argv_txt, *env_txt;

    CHECK_EQ(carbs_params_set_num(&params, "x", 2.385), 0);
    CHECK_EQ(carbs_params_set_str(&params, "decay", "cosine"), 0);
    CHECK_EQ(carbs_params_set_num(&fixed, "seq_len", 256), 0);
    CHECK_EQ(carbs_params_set_num(&fixed, "x", 99), 0); /* the searched value wins */
    CHECK_EQ(run(&cfg, &r, NULL, NULL), 0);
    CHECK(r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_NONE);
    CHECK_NEAR(r.metric[CARBS_METRIC_VAL_LOSS], 2.385, 0.0);
    CHECK_NEAR(carbs_result_get(&r, "env_x"), 2.385, 0.0);
    CHECK_NEAR(carbs_result_get(&r, "trial"), 7342.0, 0.0);
    CHECK_NEAR(carbs_result_get(&r, "decay_is_cosine"), 1.0, 0.0);
    CHECK_STR(r.message, "fine");
    carbs_result_release(&r);

    params_json = slurp(out_dir, "params.json");
    argv_txt = slurp(out_dir, "argv.txt");
    env_txt = slurp(out_dir, "env.txt");
    CHECK_STR(params_json, "{\"seq_len\":256,\"x\":2.3849999999999998,\"decay\":\"cosine\"}\n");
    CHECK_STR(argv_txt, "--own-flag\n--seq_len=256\n--x=2.385\n--decay=cosine\n");
    CHECK(strstr(env_txt, "CARBS_TRIAL_ID=7342\n") != NULL);
    CHECK(strstr(env_txt, "CARBS_ATTEMPT=2\n") != NULL);
    CHECK(strstr(env_txt, "CARBS_SWEEP_ID=3\n") != NULL);
    CHECK(strstr(env_txt, "CARBS_DEVICE=cpu\n") != NULL);
    CHECK(strstr(env_txt, "CARBS_PARAM_X=2.385\n") != NULL);
    CHECK(strstr(env_txt, "CARBS_PARAM_SEQ_LEN=256\n") != NULL);
    CHECK(strstr(env_txt, "CARBS_PARAM_DECAY=cosine\n") != NULL);
    CHECK(strstr(env_txt, "CARBS_PARAM_STALE") == NULL); /* ours replace the caller's */
    CHECK(strstr(env_txt, "CARBS_PARAMS_FILE=") != NULL);
    CHECK(strstr(env_txt, "CARBS_RESULT_FILE=") != NULL);
    /* The trial directory is gone afterwards. */
    const char *dir = strstr(env_txt, "CARBS_TRIAL_DIR=");
    if (dir) {
        char path[512];
        struct stat st;
        sscanf(dir + strlen("CARBS_TRIAL_DIR="), "%511s", path);
        CHECK(stat(path, &st) != 0 && errno == ENOENT);
    }
    free(params_json);
    free(argv_txt);
    free(env_txt);
    carbs_params_release(&params);
    carbs_params_release(&fixed);
}

/* The argument macros of proto/sweep.h: each stands where the parameters
 * go, in its own form, and then none are appended at the end. */
static void test_command_macros(void)
{
    carbs_params_t params = {0};
    const char *argv[] = {"sh", script("success.sh"), "${args_no_hyphens}", "--mid",
                          "${args_json}", "${args}", "${args_json_file}"};
    command_config_t cfg = {
        .argv = argv, .argc = 7, .params = &params, .trial_id = 5, .metric = "val_loss"};
    carbs_result_t r;
    char *argv_txt, *file;

    CHECK_EQ(carbs_params_set_num(&params, "x", 0.5), 0);
    CHECK_EQ(carbs_params_set_str(&params, "decay", "linear"), 0);
    CHECK_EQ(run(&cfg, &r, NULL, NULL), 0);
    CHECK(r.ok);
    CHECK_NEAR(r.metric[CARBS_METRIC_VAL_LOSS], 0.5, 0.0);
    carbs_result_release(&r);
    argv_txt = slurp(out_dir, "argv.txt");
    file = strstr(argv_txt, "--decay=linear\n");
    CHECK(strncmp(argv_txt,
                  "x=0.5\ndecay=linear\n--mid\n{\"x\":0.5,\"decay\":\"linear\"}\n--x=0.5\n"
                  "--decay=linear\n",
                  strlen("x=0.5\ndecay=linear\n--mid\n{\"x\":0.5,\"decay\":\"linear\"}\n"
                         "--x=0.5\n--decay=linear\n")) == 0);
    /* the last argument is the parameter file's path, and nothing follows */
    file = file ? strstr(file, "/params.json\n") : NULL;
    CHECK(file && file[strlen("/params.json\n")] == '\0');
    free(argv_txt);
    carbs_params_release(&params);
}

static void test_command_nan(void)
{
    const char *argv[] = {"sh", script("nan.sh")};
    command_config_t cfg = {.argv = argv, .argc = 2, .metric = "val_bpb"};
    carbs_result_t r;
    points_t pts = {0};

    CHECK_EQ(run(&cfg, &r, &pts, NULL), 0);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_DIVERGED);
    CHECK_STR(r.message, "'val_loss' is nan");
    CHECK_EQ(pts.n, 2);
    if (pts.n == 2) {
        CHECK_NEAR(pts.v[0].loss, 7.25, 0.0);
        CHECK(isnan(pts.v[1].loss));
        CHECK_NEAR(pts.v[1].tokens, 8192.0, 0.0);
    }
    DA_FREE(&pts);
    carbs_result_release(&r);
}

static void test_command_crash(void)
{
    const char *argv[] = {"sh", script("crash.sh")};
    command_config_t cfg = {.argv = argv, .argc = 2};
    carbs_result_t r;

    CHECK_EQ(run(&cfg, &r, NULL, NULL), 0);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_INFRA);
    CHECK(strstr(r.message, "killed by signal 11") != NULL);
    CHECK(strstr(r.message, ": about to crash") != NULL);
    carbs_result_release(&r);
}

static void exit_case(const char *code, const char *say, carbs_failure_t want, const char *msg)
{
    carbs_params_t params = {0};
    const char *argv[] = {"sh", script("exit.sh")};
    command_config_t cfg = {.argv = argv, .argc = 2, .params = &params};
    carbs_result_t r;

    CHECK_EQ(carbs_params_set_str(&params, "code", code), 0);
    CHECK_EQ(carbs_params_set_str(&params, "say", say), 0);
    CHECK_EQ(run(&cfg, &r, NULL, NULL), 0);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, want);
    if (!strstr(r.message, msg)) fprintf(stderr, "message '%s' lacks '%s'\n", r.message, msg);
    CHECK(strstr(r.message, msg) != NULL);
    /* The metrics printed before the failure are kept. */
    CHECK_NEAR(r.metric[CARBS_METRIC_VAL_LOSS], 3.25, 0.0);
    carbs_result_release(&r);
    carbs_params_release(&params);
}

static void test_command_exit_codes(void)
{
    exit_case("3", "ValueError: bad shape", CARBS_FAILURE_ERROR,
              "exited with status 3: ValueError: bad shape");
    exit_case("1", "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB",
              CARBS_FAILURE_OOM, "exited with status 1: RuntimeError: CUDA out of memory");
    exit_case("75", "node is draining", CARBS_FAILURE_INFRA,
              "exited with status 75 (temporary failure): node is draining");
}

static void test_command_no_result(void)
{
    const char *argv[] = {"sh", script("noresult.sh")};
    command_config_t cfg = {.argv = argv, .argc = 2};
    carbs_result_t r;
    points_t pts = {0};

    CHECK_EQ(run(&cfg, &r, &pts, NULL), 0);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_ERROR);
    CHECK(strstr(r.message, "exited 0 without a result") != NULL);
    CHECK(strstr(r.message, ": finished") != NULL);
    CHECK_EQ(pts.n, 1);
    DA_FREE(&pts);
    carbs_result_release(&r);
}

/* A result line over the limit is named as such, not as a missing one. */
static void test_command_long_line(void)
{
    const char *argv[] = {"sh", "-c",
                          "printf '{\"loss\": 1, \"pad\": \"'; head -c 1100000 /dev/zero | "
                          "tr '\\0' x; printf '\"}\\n'"};
    command_config_t cfg = {.argv = argv, .argc = 3};
    carbs_result_t r;

    CHECK_EQ(run(&cfg, &r, NULL, NULL), 0);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_ERROR);
    CHECK(strstr(r.message, "result line too long (1100022 bytes, limit 1048575)") != NULL);
    carbs_result_release(&r);
}

static void test_command_progress(void)
{
    const char *argv[] = {"sh", script("progress.sh")};
    command_config_t cfg = {.argv = argv, .argc = 2};
    carbs_result_t r;
    points_t pts = {0};

    CHECK_EQ(run(&cfg, &r, &pts, NULL), 0);
    CHECK(r.ok);
    CHECK_NEAR(r.metric[CARBS_METRIC_VAL_LOSS], 3.0625, 0.0);
    CHECK_NEAR(r.metric[CARBS_METRIC_VAL_BPB], 1.125, 0.0);
    CHECK_NEAR(carbs_result_get(&r, "custom_metric"), 0.375, 0.0);
    CHECK_EQ(pts.n, 40);
    for (size_t i = 0; i < pts.n; i++) {
        CHECK_EQ(pts.v[i].step, (int64_t)(i + 1) * 25);
        CHECK_NEAR(pts.v[i].tokens, (double)(i + 1) * 102400.0, 0.0);
    }
    if (pts.n == 40) CHECK_NEAR(pts.v[39].loss, 4.60, 1e-12);
    DA_FREE(&pts);
    carbs_result_release(&r);
}

static void test_command_result_file(void)
{
    const char *argv[] = {"sh", script("resultfile.sh")};
    command_config_t cfg = {.argv = argv, .argc = 2};
    carbs_result_t r;

    CHECK_EQ(run(&cfg, &r, NULL, NULL), 0);
    CHECK(r.ok);
    CHECK_NEAR(r.metric[CARBS_METRIC_VAL_BPB], 1.4375, 0.0);
    carbs_result_release(&r);
}

static void test_command_cannot_start(void)
{
    const char *argv[] = {"/nonexistent/carbs-trainer", "--flag"};
    command_config_t cfg = {.argv = argv, .argc = 2};
    carbs_result_t r;
    carbs_err_t err = {0};

    CHECK_EQ(run(&cfg, &r, NULL, NULL), 0);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_INFRA);
    CHECK_STR(r.message, "cannot run '/nonexistent/carbs-trainer': No such file or directory");
    carbs_result_release(&r);

    /* Bad configs fail at start. */
    cfg.argc = 0;
    CHECK(command_start(&cfg, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    CHECK(command_start(NULL, &err) == NULL);
    cfg.argc = 2;
    cfg.tmp_dir = "/nonexistent/tmp";
    CHECK(command_start(&cfg, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EIO);
    CHECK(strstr(err.msg, "/nonexistent/tmp") != NULL);
    command_free(NULL);
}

static bool pid_alive(pid_t pid)
{
    return kill(pid, 0) == 0 || errno != ESRCH;
}

static void test_command_time_limit(void)
{
    const char *argv[] = {"sh", script("timeout.sh")};
    command_config_t cfg = {.argv = argv, .argc = 2, .time_limit_s = 0.75, .kill_grace_s = 0.5};
    carbs_result_t r;
    double secs = 0;
    char *bg;
    long bg_pid = 0;

    CHECK_EQ(run(&cfg, &r, NULL, &secs), 0);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_ERROR);
    CHECK(strstr(r.message, "time limit of 0.75 s exceeded: working") != NULL);
    /* SIGTERM is ignored, so SIGKILL after the grace time ends it. */
    CHECK(secs >= 0.75 + 0.5 - 0.05);
    CHECK(secs < 0.75 + 0.5 + 5.0);
    bg = slurp(out_dir, "bg.pid");
    CHECK(sscanf(bg, "%ld", &bg_pid) == 1);
    /* The background process went with the group (reaped by init). */
    for (double end = now_monotonic() + 10.0;
         bg_pid > 0 && pid_alive((pid_t)bg_pid) && now_monotonic() < end;)
        usleep(10000);
    CHECK(bg_pid > 0 && !pid_alive((pid_t)bg_pid));
    free(bg);
    carbs_result_release(&r);
}

static void test_command_stop(void)
{
    const char *argv[] = {"sh", script("timeout.sh")};
    command_config_t cfg = {.argv = argv, .argc = 2, .kill_grace_s = 0.25};
    carbs_err_t err = {0};
    command_t *c = command_start(&cfg, &err);
    carbs_result_t r;
    carbs_curve_point_t p;
    bool has;
    int rc = CARBS_CONTINUE;
    double t0 = now_monotonic();

    CHECK(c != NULL);
    if (!c) return;
    CHECK_EQ(command_poll(c, 100, &p, &has, &err), CARBS_CONTINUE);
    CHECK_EQ(command_result(c, &r), CARBS_ESTATE);
    command_stop(c);
    while (rc == CARBS_CONTINUE && now_monotonic() - t0 < 30.0)
        rc = command_poll(c, 200, &p, &has, &err);
    CHECK_EQ(rc, 0);
    CHECK_EQ(command_poll(c, 0, &p, &has, &err), 0);
    CHECK_EQ(command_result(c, &r), 0);
    CHECK(!r.ok);
    CHECK_EQ(r.failure, CARBS_FAILURE_PREEMPTED);
    carbs_result_release(&r);
    command_free(c);

    /* Freeing a running command kills it. */
    c = command_start(&cfg, &err);
    CHECK(c != NULL);
    if (c) {
        pid_t pid = command_pid(c);
        command_free(c);
        CHECK(!pid_alive(pid));
    }
}

int main(void)
{
    const char *root = getenv("CARBS_SOURCE_ROOT");
    char tmpl[] = "/tmp/carbs-test-command-XXXXXX";

    snprintf(script_dir, sizeof(script_dir), "%s/tests/data/command", root ? root : "..");
    if (!mkdtemp(tmpl)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(out_dir, sizeof(out_dir), "%s", tmpl);
    setenv("CARBS_TEST_OUT", out_dir, 1);
    setenv("CARBS_PARAM_STALE", "from the caller", 1);

    RUN(test_command_line_progress);
    RUN(test_command_line_results);
    RUN(test_command_line_nan);
    RUN(test_command_line_other);
    RUN(test_command_result_text);
    RUN(test_command_success);
    RUN(test_command_macros);
    RUN(test_command_nan);
    RUN(test_command_crash);
    RUN(test_command_exit_codes);
    RUN(test_command_no_result);
    RUN(test_command_long_line);
    RUN(test_command_progress);
    RUN(test_command_result_file);
    RUN(test_command_cannot_start);
    RUN(test_command_time_limit);
    RUN(test_command_stop);

    static const char *const files[] = {"params.json", "argv.txt", "env.txt", "bg.pid"};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", out_dir, files[i]);
        unlink(path);
    }
    rmdir(out_dir);
    return check_summary();
}
