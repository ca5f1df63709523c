/*
 * test_store_damage.c - a damaged store is never used as if it were whole
 * (docs/store.md, "Damage"): bytes that are not UTF-8 come out of the store
 * repaired; a garbled page makes a writer's open fail with the way out in
 * the message while readers still open it; store_audit() finds page damage,
 * bad states, bad UTF-8 and JSON that does not decode; store_recover()
 * copies everything else with the same ids and keeps ids unused; a full
 * disk says so; and the service serves the other sweeps when one sweep's
 * spec or one of its params rows does not decode.
 */
#include "proto/common.h"
#include "store/store.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "optimizer/service/service.h"
#include "proto/sweep.h"
#include "tests/check.h"
#include "tests/fixture.h"

static int g_n;

static void new_path(char *buf, size_t cap, const char *stem)
{
    fx_path(buf, cap, "%s%d.db", stem, ++g_n);
}

/* Add sweep name (examples/synthetic.yaml) to st; its id, 0 on failure. */
static int64_t add_sweep(store_t *st, const char *name)
{
    carbs_err_t err = {0};
    sweep_spec_t spec = {0};
    char *canon = NULL;
    int64_t id = 0;

    const char *root = getenv("CARBS_SOURCE_ROOT");
    char file[512];

    snprintf(file, sizeof(file), "%s/examples/synthetic.yaml", root ? root : "..");
    CHECK_EQ(sweep_spec_load(file, &spec, &err), 0);
    CHECK_EQ(sweep_spec_to_json(&spec, &canon, &err), 0);
    CHECK_EQ(store_sweep_create(st, name, canon, &id, &err), 0);
    free(canon);
    sweep_spec_release(&spec);
    return id;
}

/* Add a finished trial to sweep; its id. */
static int64_t add_done(store_t *st, int64_t sweep, int i)
{
    carbs_err_t err = {0};
    char params[96];
    double u[2] = {0.25 + i * 1e-4, 0.5};
    store_trial_new_t tn = {.sweep_id = sweep, .params_json = params, .u = u, .d = 2,
                            .pred_output = NAN, .pred_cost = NAN};
    store_result_t res = {0};
    int64_t id = 0;

    snprintf(params, sizeof(params), "{\"x\":%.6f,\"y\":%.6f}", 1.0 + i * 0.0137, 7.5 - i * 1e-3);
    CHECK_EQ(store_trial_add(st, &tn, &id, &err), 0);
    CHECK_EQ(store_trial_claim(st, id, "w-damage", now_wall() + 60, NULL, &err), 0);
    res.trial_id = id;
    res.ok = true;
    res.output = 2.3851 + i;
    res.cost = 1.25;
    res.metrics_json = "{\"status\":\"ok\",\"loss\":2.5,\"cost\":1.25}";
    CHECK_EQ(store_trial_finish(st, &res, NULL, 0, NULL, &err), 0);
    return id;
}

static void raw_sql(const char *path, const char *sql)
{
    carbs_err_t err = {0};
    store_raw_t *raw = store_raw_open(path, &err);
    CHECK(raw != NULL);
    if (raw && store_raw_exec(raw, sql, &err))
        fprintf(stderr, "raw sql: %s\n", err.msg);
    store_raw_close(raw);
}

/* A JSON judge for the audit: objects only, as the codecs want. */
static bool json_objects(void *ctx, const char *table, const char *column, const char *text,
                         char *why, size_t cap)
{
    UNUSED(ctx);
    UNUSED(table);
    UNUSED(column);
    if (text[0] == '{' && text[strlen(text) - 1] == '}')
        return true;
    snprintf(why, cap, "is not an object");
    return false;
}

static void count_lines(void *ctx, const char *line)
{
    UNUSED(line);
    ++*(size_t *)ctx;
}

static void test_utf8_repaired(void)
{
    char path[512];
    carbs_err_t err = {0};
    store_trial_t t = {0};
    store_sweep_t s = {0};
    store_t *st;
    int64_t sweep, id;

    new_path(path, sizeof(path), "utf8");
    st = store_open(path, STORE_CREATE, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    sweep = add_sweep(st, "utf8-sweep");
    id = add_done(st, sweep, 1);
    store_close(st);
    /* What a flipped bit leaves: a lone continuation byte, a truncated
     * sequence, an overlong form. */
    raw_sql(path, "UPDATE trials SET params = CAST(x'7b2278223a2280ff2263e282227d' AS TEXT),"
                  " worker = CAST(x'77c0af2d31' AS TEXT);"
                  "UPDATE sweeps SET spec = spec || CAST(x'ed' AS TEXT)");
    st = store_open(path, STORE_READONLY, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_trial_get(st, id, &t, &err), 0);
    CHECK(t.params_json && utf8_valid(t.params_json, strlen(t.params_json)));
    CHECK(t.params_json && strstr(t.params_json, "\xef\xbf\xbd") != NULL);
    CHECK(utf8_valid(t.worker, strlen(t.worker)));
    CHECK(t.worker[0] == 'w' && strstr(t.worker, "-1") != NULL);
    CHECK_EQ(store_sweep_get_id(st, sweep, &s, &err), 0);
    CHECK(s.spec_json && utf8_valid(s.spec_json, strlen(s.spec_json)));
    store_sweep_release(&s);
    store_trial_release(&t);
    store_close(st);
}

/* Overwrite page `page` (1-based) of path with junk. */
static void garble_page(const char *path, long page)
{
    unsigned char junk[4096];
    int fd = open(path, O_WRONLY);

    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)(0x5a ^ (i * 7));
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK_EQ(pwrite(fd, junk, sizeof(junk), (page - 1) * 4096), (ssize_t)sizeof(junk));
    close(fd);
}

#define N_TRIALS 600

static void test_garbled_page(void)
{
    char path[512], out[512];
    carbs_err_t err = {0};
    store_audit_t a = {.json_ok = json_objects, .report = count_lines};
    store_audit_stats_t stats;
    size_t lines = 0, n_new = 0;
    store_trial_iter_t *it;
    const store_trial_t *row;
    int64_t sweep, last = 0, fresh_id = 0;
    store_t *st;

    new_path(path, sizeof(path), "garbled");
    st = store_open(path, STORE_CREATE, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    sweep = add_sweep(st, "garbled-sweep");
    for (int i = 0; i < N_TRIALS; i++)
        last = add_done(st, sweep, i);
    store_close(st); /* checkpoints: every page is in the file */
    garble_page(path, 8);

    /* A writer is refused, with the way out. */
    CHECK(store_open(path, 0, &err) == NULL);
    CHECK_EQ(err.code, CARBS_ESTORE);
    CHECK(strstr(err.msg, "damaged") != NULL);
    CHECK(strstr(err.msg, "carbs store recover") != NULL);
    fprintf(stderr, "refusal: %s\n", err.msg);

    /* A reader may look, and the audit says what is wrong. */
    st = store_open(path, STORE_READONLY, &err);
    CHECK(st != NULL);
    if (st) {
        a.ctx = &lines;
        CHECK_EQ(store_audit(st, &a, &stats, &err), 0);
        if (err.code)
            fprintf(stderr, "audit: %s\n", err.msg);
        CHECK(stats.problems > 0);
        CHECK_EQ(lines, stats.problems);
        store_close(st);
    }

    /* Recovery: everything off the bad page, same ids, consistent states. */
    new_path(out, sizeof(out), "recovered");
    lines = 0;
    CHECK_EQ(store_recover(path, out, &a, &stats, &err), 0);
    fprintf(stderr, "recovered: %zu copied, %zu left out, %zu unreadable, %zu problems\n",
            stats.copied, stats.skipped, stats.unreadable, stats.problems);
    CHECK(stats.copied > N_TRIALS);
    CHECK(stats.problems > 0);
    CHECK_EQ(store_recover(path, out, &a, &stats, &err), CARBS_EEXIST);
    st = store_open(out, 0, &err); /* passes the check at open */
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_audit(st, &a, &stats, &err), 0);
    CHECK_EQ(stats.problems, 0);
    it = store_trial_iter_new(st, NULL, &err);
    CHECK(it != NULL);
    while (it && store_trial_iter_next(it, &row) == CARBS_CONTINUE) {
        store_result_t res = {0};
        char want[96];
        int i = (int)(row->id - (last - N_TRIALS + 1));
        n_new++;
        snprintf(want, sizeof(want), "{\"x\":%.6f,\"y\":%.6f}", 1.0 + i * 0.0137, 7.5 - i * 1e-3);
        CHECK_STR(row->params_json, want);
        if (row->state == CARBS_TRIAL_DONE) {
            CHECK_EQ(store_result_get(st, row->id, &res, &err), 0);
            CHECK_NEAR(res.output, 2.3851 + i, 1e-12);
            store_result_release(&res);
        } else {
            CHECK_EQ(row->state, CARBS_TRIAL_CANCELLED); /* its result was on the page */
        }
    }
    store_trial_iter_free(it);
    /* One page holds a few dozen rows at most. */
    CHECK(n_new + 60 >= N_TRIALS);
    /* Ids are never reused: a new trial comes after every old one. */
    {
        store_trial_new_t tn = {.sweep_id = sweep, .params_json = "{}", .pred_output = NAN,
                                .pred_cost = NAN};
        CHECK_EQ(store_trial_add(st, &tn, &fresh_id, &err), 0);
        CHECK(fresh_id > last);
    }
    store_close(st);
}

static void test_audit_rows(void)
{
    char path[512], out[512];
    carbs_err_t err = {0};
    store_audit_t a = {.json_ok = json_objects};
    store_audit_stats_t stats;
    store_result_t res = {0};
    store_trial_t t = {0};
    store_t *st;
    int64_t sweep, ids[4];

    new_path(path, sizeof(path), "rows");
    st = store_open(path, STORE_CREATE, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    sweep = add_sweep(st, "rows-sweep");
    for (int i = 0; i < 4; i++)
        ids[i] = add_done(st, sweep, i);
    store_audit(st, &a, &stats, &err);
    CHECK_EQ(stats.problems, 0);
    store_close(st);

    {
        char sql[512];
        snprintf(sql, sizeof(sql),
                 "PRAGMA ignore_check_constraints = ON;"
                 "UPDATE trials SET state = 'zombie' WHERE id = %lld;"
                 "UPDATE trials SET params = 'nope' WHERE id = %lld;"
                 "UPDATE results SET metrics = '[1' WHERE trial = %lld;"
                 "UPDATE trials SET worker = CAST(x'ff' AS TEXT) WHERE id = %lld;",
                 (long long)ids[0], (long long)ids[1], (long long)ids[2], (long long)ids[3]);
        raw_sql(path, sql);
    }
    st = store_open(path, STORE_READONLY, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_audit(st, &a, &stats, &err), 0);
    /* The state (and the CHECK constraint it breaks), the params, the
     * metrics, the worker. */
    CHECK(stats.problems >= 4);
    CHECK_EQ(stats.skipped, 2);
    CHECK_EQ(stats.repaired, 2);
    store_close(st);

    new_path(out, sizeof(out), "rows-out");
    CHECK_EQ(store_recover(path, out, &a, &stats, &err), 0);
    st = store_open(out, 0, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    /* Left out: the zombie and the unparsable params, with their results. */
    CHECK_EQ(store_trial_get(st, ids[0], &t, &err), CARBS_ENOTFOUND);
    CHECK_EQ(store_trial_get(st, ids[1], &t, &err), CARBS_ENOTFOUND);
    /* Kept: the result without its metrics, the worker repaired. */
    CHECK_EQ(store_result_get(st, ids[2], &res, &err), 0);
    CHECK(res.metrics_json == NULL);
    CHECK_NEAR(res.output, 2.3851 + 2, 1e-12);
    store_result_release(&res);
    CHECK_EQ(store_trial_get(st, ids[3], &t, &err), 0);
    CHECK_STR(t.worker, "\xef\xbf\xbd");
    store_trial_release(&t);
    CHECK_EQ(store_audit(st, &a, &stats, &err), 0);
    CHECK_EQ(stats.problems, 0);
    store_close(st);
}

static void test_disk_full(void)
{
    char path[512];
    carbs_err_t err = {0};
    store_t *st;
    int64_t sweep;

    new_path(path, sizeof(path), "full");
    store_fault_io(0); /* the counting VFS, for connections opened from now on */
    st = store_open(path, STORE_CREATE, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    sweep = add_sweep(st, "full-sweep");
    for (int k = 1; k <= 2; k++) {
        /* k = 1: the write itself; k = 2: the sync after it. */
        store_fault_full((size_t)k);
        CHECK(store_sweep_create(st, k == 1 ? "full-1" : "full-2", "{}", NULL, &err) < 0);
        CHECK(strstr(err.msg, "disk is full") != NULL);
        CHECK(strstr(err.msg, "disk I/O error") == NULL);
        fprintf(stderr, "full (%d): %s\n", k, err.msg);
    }
    store_fault_io(0);
    CHECK_EQ(store_sweep_set_state(st, sweep, CARBS_SWEEP_PAUSED, &err), 0);
    store_close(st);
}

static void test_bad_sweep_skipped(void)
{
    char path[512], ep[600], sql[256];
    carbs_err_t err = {0};
    service_config_t cfg;
    service_summary_t sum;
    service_t *svc;
    store_t *st;
    int64_t good, bad_params, bad_spec, bad_trial;

    new_path(path, sizeof(path), "sweeps");
    st = store_open(path, STORE_CREATE, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    good = add_sweep(st, "good");
    bad_params = add_sweep(st, "bad-params");
    bad_spec = add_sweep(st, "bad-spec");
    add_done(st, good, 0);
    bad_trial = add_done(st, bad_params, 1);
    add_done(st, bad_params, 2);
    store_close(st);
    snprintf(sql, sizeof(sql),
             "UPDATE trials SET params = '{\"x\": [' WHERE id = %lld;"
             "UPDATE sweeps SET spec = '{}' WHERE id = %lld;",
             (long long)bad_trial, (long long)bad_spec);
    raw_sql(path, sql);

    fx_ipc(ep, sizeof(ep), "ep-sweeps");
    fx_service_config(&cfg, path, ep, 0);
    svc = service_open(&cfg, &err);
    CHECK(svc != NULL);
    if (!svc) {
        fprintf(stderr, "service_open: %s\n", err.msg);
        return;
    }
    CHECK_EQ(service_summary(svc, 0, &sum), 0);
    CHECK_EQ(sum.sweep_id, good);
    CHECK_EQ(service_summary(svc, 1, &sum), CARBS_ENOTFOUND);
    service_close(svc);

    /* Asked for by name (a one-shot request), the bad sweep is an error. */
    cfg.only_sweep = "bad-params";
    svc = service_open(&cfg, &err);
    CHECK(svc == NULL);
    CHECK(strstr(err.msg, "bad-params") != NULL);
    service_close(svc);
    UNUSED(bad_params);
}

int main(void)
{
    if (FX_SETUP("damage"))
        return 1;
    RUN(test_utf8_repaired);
    RUN(test_garbled_page);
    RUN(test_audit_rows);
    RUN(test_disk_full);
    RUN(test_bad_sweep_skipped);
    return FX_FINISH();
}
