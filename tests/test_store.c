/*
 * test_store.c - the SQLite store: creation and migration, every refusal
 * at open (missing, not SQLite, foreign SQLite, newer schema, read-only,
 * locked), every operation and every error return, idempotent finishing,
 * iterators, the writer lock across processes, store_check, and I/O and
 * allocation faults (docs/style.md H41).
 *
 * Each case works on its own files in one temporary directory, removed at
 * the end.  Inputs are high-entropy (odd names, 2.3851 not 1) so a swapped
 * column or a truncated copy shows up.
 */
#include "proto/common.h"
#include "store/store.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/check.h"
#include "tests/fixture.h"

/* A new store named name in the test directory; aborts the case on failure. */
static store_t *fresh(const char *name)
{
    char path[512];
    carbs_err_t err = {0};
    fx_path(path, sizeof(path), "%s", name);
    store_t *st = store_open(path, STORE_CREATE, &err);
    if (!st)
        fprintf(stderr, "store_open('%s'): %s\n", path, err.msg);
    return st;
}

/* Read a whole file into a heap buffer; *n its size.  NULL on failure. */
static unsigned char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long len;
    *n = 0;
    if (!f)
        return NULL;
    len = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (len >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = xmalloc((size_t)len + 1);
        *n = fread(buf, 1, (size_t)len, f);
    }
    fclose(f);
    return buf;
}

/* A big-endian 32-bit field of the SQLite file header (60 = user_version,
 * 68 = application_id).  -1 when unreadable. */
static long header_field(const char *path, size_t off)
{
    size_t n;
    unsigned char *b = read_file(path, &n);
    long v = -1;
    if (b && n >= off + 4)
        v = (long)(((unsigned long)b[off] << 24) | ((unsigned long)b[off + 1] << 16) |
                   ((unsigned long)b[off + 2] << 8) | b[off + 3]);
    free(b);
    return v;
}

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static size_t count_trials(store_t *st, int64_t sweep_id, unsigned states)
{
    carbs_err_t err = {0};
    store_trial_filter_t f = {.sweep_id = sweep_id, .states = states};
    store_trial_iter_t *it = store_trial_iter_new(st, &f, &err);
    size_t n = it ? store_trial_iter_count(it) : (size_t)-1;
    store_trial_iter_free(it);
    return n;
}

static int64_t add_trial(store_t *st, int64_t sweep_id, const char *params, double u0)
{
    double u[3] = {u0, -1.7320508, 0.31830988};
    store_trial_new_t tn = {.sweep_id = sweep_id,
                            .params_json = params,
                            .u = u,
                            .d = 3,
                            .pred_output = 3.1415926 + u0,
                            .pred_cost = 271.828};
    int64_t id = -1;
    carbs_err_t err = {0};
    if (store_trial_add(st, &tn, &id, &err) < 0)
        fprintf(stderr, "store_trial_add: %s\n", err.msg);
    return id;
}

// ---- open, create, migrate ----

static void test_store_create_and_reopen(void)
{
    char path[512];
    carbs_err_t err = {0};
    int64_t sid = 0, tid = 0;
    store_sweep_t sw;
    fx_path(path, sizeof(path), "create.db");

    store_t *st = store_open(path, STORE_CREATE, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_STR(store_path(st), path);
    CHECK_EQ(store_sweep_create(st, "lm-ladder-7b", "{\"metric\":\"val_bpb\"}", &sid, &err), 0);
    CHECK(sid > 0);
    tid = add_trial(st, sid, "{\"learning_rate\":0.0023851}", 0.4142);
    CHECK(tid > 0);
    CHECK_EQ(store_check(st, &err), 0);
    store_close(st);
    store_close(NULL);

    /* The header says what the file is once the WAL is checkpointed away. */
    CHECK_EQ(header_field(path, 60), STORE_SCHEMA_VERSION);
    CHECK_EQ(header_field(path, 68), STORE_APPLICATION_ID);

    /* Reopening keeps everything and does not migrate again. */
    st = store_open(path, 0, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_sweep_get(st, "lm-ladder-7b", &sw, &err), 0);
    CHECK_EQ(sw.id, sid);
    CHECK_STR(sw.spec_json, "{\"metric\":\"val_bpb\"}");
    CHECK_EQ(sw.state, CARBS_SWEEP_ACTIVE);
    CHECK(sw.created > 1.7e9);
    store_sweep_release(&sw);
    store_trial_t t;
    CHECK_EQ(store_trial_get(st, tid, &t, &err), 0);
    CHECK_STR(t.params_json, "{\"learning_rate\":0.0023851}");
    CHECK_EQ(t.d, 3);
    if (t.u && t.d == 3) {
        CHECK(t.u[0] == 0.4142);
        CHECK(t.u[1] == -1.7320508);
        CHECK(t.u[2] == 0.31830988);
    }
    store_trial_release(&t);
    store_close(st);

    /* A read-only open sees the same data and refuses writes. */
    st = store_open(path, STORE_READONLY, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_sweep_get(st, "1", &sw, &err), 0);
    CHECK_STR(sw.name, "lm-ladder-7b");
    store_sweep_release(&sw);
    CHECK_EQ(store_sweep_create(st, "other", "{}", NULL, &err), CARBS_EDENIED);
    CHECK(strstr(err.msg, path) != NULL);
    CHECK_EQ(store_writer_lock(st, &err), CARBS_EDENIED);
    store_close(st);
}

/* STORE_SYNC_NORMAL sets the connection to NORMAL; without it, FULL; what
 * it commits is there for the next connection either way. */
static void test_store_sync_modes(void)
{
    char path[512];
    carbs_err_t err = {0};
    store_t *st;
    store_sweep_t row;

    fx_path(path, sizeof(path), "sync.db");
    st = store_open(path, STORE_CREATE | STORE_SYNC_NORMAL, &err);
    CHECK(st != NULL);
    if (!st) return;
    CHECK_EQ(store_synchronous(st), 1);
    CHECK_EQ(store_sweep_create(st, "fast-commits", "{}", NULL, &err), 0);
    store_close(st);
    st = store_open(path, 0, &err);
    CHECK(st != NULL);
    if (!st) return;
    CHECK_EQ(store_synchronous(st), 2);
    CHECK_EQ(store_sweep_get(st, "fast-commits", &row, &err), 0);
    store_sweep_release(&row);
    /* FULL: every commit is durable already, nothing ever awaits a sync */
    CHECK_EQ(store_sweep_create(st, "full-commits", "{}", NULL, &err), 0);
    CHECK(!store_unsynced(st));
    CHECK_EQ(store_sync(st, &err), 0);
    store_close(st);

    /* DEFER: NORMAL commits that await one store_sync(); reads do not */
    st = store_open(path, STORE_SYNC_DEFER, &err);
    CHECK(st != NULL);
    if (!st) return;
    CHECK_EQ(store_synchronous(st), 1);
    CHECK(!store_unsynced(st));
    CHECK_EQ(store_sweep_create(st, "group-1", "{}", NULL, &err), 0);
    CHECK_EQ(store_sweep_create(st, "group-2", "{}", NULL, &err), 0);
    CHECK(store_unsynced(st));
    CHECK_EQ(store_sync(st, &err), 0);
    CHECK(!store_unsynced(st));
    CHECK_EQ(store_sweep_get(st, "group-2", &row, &err), 0);
    store_sweep_release(&row);
    CHECK(!store_unsynced(st));
    CHECK_EQ(store_sweep_create(st, "full-commits", "{}", NULL, &err), CARBS_EEXIST);
    CHECK(!store_unsynced(st)); /* a failed call commits nothing */
    store_close(st);
}

static void test_store_open_refusals(void)
{
    char path[512];
    carbs_err_t err = {0};
    size_t n0, n1;

    /* Missing file without STORE_CREATE: not created. */
    fx_path(path, sizeof(path), "missing.db");
    CHECK(store_open(path, 0, &err) == NULL);
    CHECK_EQ(err.code, CARBS_ENOTFOUND);
    CHECK(strstr(err.msg, "missing.db") != NULL);
    CHECK(store_open(path, STORE_READONLY | STORE_CREATE, &err) == NULL);
    CHECK_EQ(err.code, CARBS_ENOTFOUND);
    CHECK(!file_exists(path));

    CHECK(store_open("", STORE_CREATE, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    CHECK(store_open(fx_dir, STORE_CREATE, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);

    /* A plain text file is not SQLite, and stays as it was. */
    static const char text[] = "sweep: tiny-lm\nmetric: {name: val_bpb}\n# 2.3851 \xc3\xa9\n"
                                "padding padding padding padding padding padding padding\n"
                                "padding padding padding padding padding padding padding\n";
    fx_path(path, sizeof(path), "notes.txt");
    CHECK_EQ(fx_write_file(path, text, sizeof(text) - 1), 0);
    CHECK(store_open(path, STORE_CREATE, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    CHECK(strstr(err.msg, "'") != NULL && strstr(err.msg, "notes.txt") != NULL);
    CHECK(strstr(err.msg, "not a SQLite database") != NULL);
    CHECK(store_open(path, STORE_READONLY, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    unsigned char *after = read_file(path, &n1);
    CHECK_EQ(n1, sizeof(text) - 1);
    CHECK(after && memcmp(after, text, sizeof(text) - 1) == 0);
    free(after);

    /* A foreign SQLite database (tables of its own, user_version 0). */
    fx_path(path, sizeof(path), "foreign.db");
    store_raw_t *raw = store_raw_open(path, &err);
    CHECK(raw != NULL);
    CHECK_EQ(store_raw_exec(raw,
                            "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL);"
                            "INSERT INTO invoices (total) VALUES (1234.5678);",
                            &err),
             0);
    store_raw_close(raw);
    unsigned char *before = read_file(path, &n0);
    CHECK(store_open(path, STORE_CREATE, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    CHECK(strstr(err.msg, "not a carbs store") != NULL);
    after = read_file(path, &n1);
    CHECK(before && after && n0 == n1 && memcmp(before, after, n0) == 0);
    free(before);
    free(after);
    CHECK(!file_exists("foreign.db.lock"));

    /* Another application's id, even with no tables. */
    fx_path(path, sizeof(path), "otherapp.db");
    raw = store_raw_open(path, &err);
    CHECK_EQ(store_raw_exec(raw, "PRAGMA application_id = 1179993927", &err), 0);
    store_raw_close(raw);
    CHECK(store_open(path, STORE_CREATE, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    CHECK(strstr(err.msg, "application_id 1179993927") != NULL);
    CHECK_EQ(header_field(path, 68), 1179993927);

    /* An empty file: refused without STORE_CREATE, adopted with it. */
    fx_path(path, sizeof(path), "empty.db");
    CHECK_EQ(fx_write_file(path, "", 0), 0);
    CHECK(store_open(path, 0, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EINVAL);
    CHECK(strstr(err.msg, "empty database") != NULL);
    store_t *st = store_open(path, STORE_CREATE, &err);
    CHECK(st != NULL);
    store_close(st);
    CHECK_EQ(header_field(path, 68), STORE_APPLICATION_ID);
}

static void test_store_schema_versions(void)
{
    char path[512];
    carbs_err_t err = {0};
    store_t *st = fresh("newer.db");
    CHECK(st != NULL);
    store_close(st);

    /* A newer schema than this build knows. */
    fx_path(path, sizeof(path), "newer.db");
    store_raw_t *raw = store_raw_open(path, &err);
    CHECK_EQ(store_raw_exec(raw, "PRAGMA user_version = 7", &err), 0);
    store_raw_close(raw);
    CHECK(store_open(path, 0, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EVERSION);
    {
        char want[96];
        snprintf(want, sizeof(want), "has schema version 7; this carbs knows up to %d: upgrade carbs",
                 STORE_SCHEMA_VERSION);
        CHECK(strstr(err.msg, want) != NULL);
    }
    CHECK(strstr(err.msg, "newer.db'") != NULL);
    CHECK(store_open(path, STORE_READONLY, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EVERSION);
    CHECK_EQ(header_field(path, 60), 7);

    /* An older one (ours, version 0): read-only refuses, a writer migrates. */
    fx_path(path, sizeof(path), "older.db");
    raw = store_raw_open(path, &err);
    CHECK_EQ(store_raw_exec(raw, "PRAGMA application_id = 1129464403", &err), 0);
    store_raw_close(raw);
    CHECK(store_open(path, STORE_READONLY, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EVERSION);
    {
        char want[32];
        snprintf(want, sizeof(want), "older than %d", STORE_SCHEMA_VERSION);
        CHECK(strstr(err.msg, want) != NULL);
    }
    st = store_open(path, 0, &err);
    CHECK(st != NULL);
    if (st) {
        CHECK_EQ(store_sweep_create(st, "migrated", "{}", NULL, &err), 0);
        CHECK_EQ(store_check(st, &err), 0);
    }
    store_close(st);
    CHECK_EQ(header_field(path, 60), STORE_SCHEMA_VERSION);

    /* A version 1 store (no verification runs, no key binding yet) with a worker: a writer adds
     * the columns and keeps the row, which starts unbound. */
    st = fresh("v1.db");
    CHECK(st != NULL);
    if (st)
        CHECK_EQ(store_worker_seen(st, "w-old", "node-o", NULL, &err), 0);
    store_close(st);
    fx_path(path, sizeof(path), "v1.db");
    raw = store_raw_open(path, &err);
    CHECK_EQ(store_raw_exec(raw,
                            "ALTER TABLE workers DROP COLUMN key; "
                            "ALTER TABLE workers DROP COLUMN key_name; "
                            "DROP TABLE verifications; PRAGMA user_version = 1",
                            &err),
             0);
    store_raw_close(raw);
    CHECK_EQ(header_field(path, 60), 1);
    st = store_open(path, 0, &err);
    CHECK(st != NULL);
    if (st) {
        store_worker_t w;
        CHECK_EQ(store_worker_get(st, "w-old", &w, &err), 0);
        CHECK_STR(w.host, "node-o");
        CHECK_STR(w.key, "");
        store_worker_release(&w);
        CHECK_EQ(store_worker_bind(st, "w-old", "k", "0123456789012345678901234567890123456789",
                                   &err),
                 0);
        CHECK_EQ(store_check(st, &err), 0);
    }
    store_close(st);
    CHECK_EQ(header_field(path, 60), STORE_SCHEMA_VERSION);
}

/* Opening a read-only file for writing.  root ignores permission bits, so
 * then a child drops to nobody first. */
static void test_store_readonly_file(void)
{
    char path[512];
    carbs_err_t err = {0};
    store_t *st = fresh("ro.db");
    int64_t sid = 0;
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_sweep_create(st, "frozen", "{\"x\":2.3851}", &sid, &err), 0);
    store_close(st);
    fx_path(path, sizeof(path), "ro.db");
    CHECK_EQ(chmod(path, 0444), 0);
    CHECK_EQ(chmod(fx_dir, 0755), 0);

    pid_t pid = fork();
    if (pid == 0) {
        int code = 0;
        carbs_err_t cerr = {0};
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
        store_t *cst = store_open(path, 0, &cerr);
        if (cst || cerr.code != CARBS_EDENIED || !strstr(cerr.msg, "ro.db"))
            code = 1;
        store_close(cst);
        cst = store_open(path, STORE_CREATE, &cerr);
        if (cst || cerr.code != CARBS_EDENIED)
            code = 2;
        store_close(cst);
        _exit(code);
    }
    int status = -1;
    CHECK(pid > 0);
    if (pid > 0)
        CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK_EQ(chmod(fx_dir, 0700), 0);
    CHECK_EQ(chmod(path, 0644), 0);
}

static void test_store_locked(void)
{
    char path[512];
    carbs_err_t err = {0};
    store_sweep_t sw;
    int64_t sid = 0;
    store_t *st = fresh("locked.db");
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_sweep_create(st, "before-lock", "{}", &sid, &err), 0);
    CHECK_EQ(store_set_busy_timeout(st, -5, &err), CARBS_EINVAL);
    CHECK_EQ(store_set_busy_timeout(st, 150, &err), 0);

    /* Another connection inside an open write transaction. */
    fx_path(path, sizeof(path), "locked.db");
    store_raw_t *raw = store_raw_open(path, &err);
    CHECK(raw != NULL);
    CHECK_EQ(store_raw_exec(raw,
                            "BEGIN IMMEDIATE;"
                            "INSERT INTO workers (id, first_seen, last_seen) VALUES ('w-x', 1, 1)",
                            &err),
             0);
    double t0 = now_monotonic();
    CHECK_EQ(store_sweep_create(st, "during-lock", "{}", NULL, &err), CARBS_EBUSY);
    double waited = now_monotonic() - t0;
    CHECK(waited >= 0.1 && waited < 4.0);
    CHECK(strstr(err.msg, "locked.db") != NULL);
    CHECK(strstr(err.msg, "150 ms") != NULL);
    CHECK_EQ(store_worker_seen(st, "w-7f3a", "gpu-node-17", NULL, &err), CARBS_EBUSY);
    /* WAL: readers go on while the writer holds its lock. */
    CHECK_EQ(store_sweep_get(st, "before-lock", &sw, &err), 0);
    store_sweep_release(&sw);
    store_worker_t w;
    CHECK_EQ(store_worker_get(st, "w-x", &w, &err), CARBS_ENOTFOUND); /* not committed */
    CHECK_EQ(store_raw_exec(raw, "COMMIT", &err), 0);
    CHECK_EQ(store_sweep_create(st, "after-lock", "{}", NULL, &err), 0);
    CHECK_EQ(store_sweep_get(st, "during-lock", &sw, &err), CARBS_ENOTFOUND);

    store_close(st);

    /* A connection in exclusive locking mode keeps its lock after COMMIT
     * and shuts every other connection out, even store_open()'s first
     * read: CARBS_EBUSY after the busy timeout. */
    CHECK_EQ(store_raw_exec(raw, "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT", &err),
             0);
    double t1 = now_monotonic();
    st = store_open(path, 0, &err);
    CHECK(st == NULL);
    CHECK_EQ(err.code, CARBS_EBUSY);
    CHECK(strstr(err.msg, "locked.db") != NULL);
    CHECK(now_monotonic() - t1 >= STORE_BUSY_TIMEOUT_MS / 1000.0 - 0.5);
    store_close(st);
    store_raw_close(raw);
    st = store_open(path, 0, &err);
    CHECK(st != NULL);
    store_close(st);
}

// ---- sweeps ----

static void test_store_sweeps(void)
{
    carbs_err_t err = {0};
    store_sweep_t sw;
    int64_t a = 0, b = 0, c = 0;
    store_t *st = fresh("sweeps.db");
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_sweep_create(st, "tiny-lm \xce\xbb", "{\"parameters\":{\"d_model\":64}}", &a,
                                &err),
             0);
    CHECK_EQ(store_sweep_create(st, "2024-ladder", "{\"b\":2.3851}", &b, &err), 0);
    CHECK_EQ(store_sweep_create(st, "x", "{}", &c, &err), 0);
    CHECK(a > 0 && b > a && c > b);

    /* Refusals. */
    CHECK_EQ(store_sweep_create(st, "2024-ladder", "{}", NULL, &err), CARBS_EEXIST);
    CHECK(strstr(err.msg, "'2024-ladder'") != NULL);
    CHECK_EQ(store_sweep_create(st, "", "{}", NULL, &err), CARBS_EINVAL);
    CHECK_EQ(store_sweep_create(st, NULL, "{}", NULL, &err), CARBS_EINVAL);
    CHECK_EQ(store_sweep_create(st, "4711", "{}", NULL, &err), CARBS_EINVAL);
    CHECK_EQ(store_sweep_create(st, "bad\xff", "{}", NULL, &err), CARBS_EINVAL);
    CHECK_EQ(store_sweep_create(st, "nospec", NULL, NULL, &err), CARBS_EINVAL);
    char longname[CARBS_NAME_MAX + 1];
    memset(longname, 'q', sizeof(longname) - 1);
    longname[CARBS_NAME_MAX] = '\0';
    CHECK_EQ(store_sweep_create(st, longname, "{}", NULL, &err), CARBS_EINVAL);
    longname[CARBS_NAME_MAX - 1] = '\0';
    CHECK_EQ(store_sweep_create(st, longname, "{}", NULL, &err), 0);

    /* By id (digits first), by name, unknown. */
    char idtext[32];
    snprintf(idtext, sizeof(idtext), "%lld", (long long)b);
    CHECK_EQ(store_sweep_get(st, idtext, &sw, &err), 0);
    CHECK_STR(sw.name, "2024-ladder");
    CHECK_STR(sw.spec_json, "{\"b\":2.3851}");
    store_sweep_release(&sw);
    CHECK(sw.spec_json == NULL);
    CHECK_EQ(store_sweep_get(st, "tiny-lm \xce\xbb", &sw, &err), 0);
    CHECK_EQ(sw.id, a);
    store_sweep_release(&sw);
    CHECK_EQ(store_sweep_get(st, "9913", &sw, &err), CARBS_ENOTFOUND);
    CHECK(strstr(err.msg, "'9913'") != NULL);
    CHECK_EQ(store_sweep_get(st, "no-such-sweep", &sw, &err), CARBS_ENOTFOUND);
    CHECK_EQ(store_sweep_get(st, "", &sw, &err), CARBS_EINVAL);
    CHECK_EQ(store_sweep_get_id(st, c, &sw, &err), 0);
    CHECK_STR(sw.name, "x");
    store_sweep_release(&sw);
    CHECK_EQ(store_sweep_get_id(st, 777, &sw, &err), CARBS_ENOTFOUND);

    /* States and the filtered iterator. */
    CHECK_EQ(store_sweep_set_state(st, b, CARBS_SWEEP_PAUSED, &err), 0);
    CHECK_EQ(store_sweep_set_state(st, c, CARBS_SWEEP_STOPPED, &err), 0);
    CHECK_EQ(store_sweep_set_state(st, 777, CARBS_SWEEP_DONE, &err), CARBS_ENOTFOUND);
    CHECK_EQ(store_sweep_set_state(st, a, (carbs_sweep_state_t)17, &err), CARBS_EINVAL);
    CHECK_EQ(store_sweep_get_id(st, b, &sw, &err), 0);
    CHECK_EQ(sw.state, CARBS_SWEEP_PAUSED);
    store_sweep_release(&sw);

    store_sweep_iter_t *it = store_sweep_iter_new(st, 0, &err);
    const store_sweep_t *row;
    CHECK(it != NULL);
    CHECK_EQ(store_sweep_iter_count(it), 4);
    int64_t last = 0;
    size_t n = 0;
    while (store_sweep_iter_next(it, &row) == CARBS_CONTINUE) {
        CHECK(row->id > last);
        last = row->id;
        n++;
    }
    CHECK_EQ(n, 4);
    CHECK_EQ(store_sweep_iter_next(it, &row), 0);
    store_sweep_iter_free(it);
    it = store_sweep_iter_new(st, (1u << CARBS_SWEEP_ACTIVE) | (1u << CARBS_SWEEP_PAUSED), &err);
    CHECK(it != NULL);
    CHECK_EQ(store_sweep_iter_count(it), 3);
    while (store_sweep_iter_next(it, &row) == CARBS_CONTINUE)
        CHECK(row->state == CARBS_SWEEP_ACTIVE || row->state == CARBS_SWEEP_PAUSED);
    store_sweep_iter_free(it);
    it = store_sweep_iter_new(st, 1u << CARBS_SWEEP_DONE, &err);
    CHECK(it != NULL && store_sweep_iter_count(it) == 0);
    store_sweep_iter_free(it);
    store_sweep_iter_free(NULL);
    store_close(st);
}

// ---- trials ----

static void test_store_trial_lifecycle(void)
{
    carbs_err_t err = {0};
    store_trial_t t;
    int64_t sid = 0;
    int attempt = 0;
    store_t *st = fresh("life.db");
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_sweep_create(st, "life", "{}", &sid, &err), 0);
    int64_t id = add_trial(st, sid, "{\"d_model\":96,\"decay\":\"cosine\"}", 0.5772);
    CHECK(id > 0);

    CHECK_EQ(store_trial_get(st, id, &t, &err), 0);
    CHECK_EQ(t.state, CARBS_TRIAL_PENDING);
    CHECK_EQ(t.attempt, 0);
    CHECK_EQ(t.sweep_id, sid);
    CHECK_STR(t.worker, "");
    CHECK_NEAR(t.pred_output, 3.1415926 + 0.5772, 1e-12);
    CHECK_NEAR(t.pred_cost, 271.828, 1e-12);
    CHECK(t.created > 1.7e9 && t.started == 0 && t.finished == 0 && t.lease_deadline == 0);
    store_trial_release(&t);

    /* Errors before any claim. */
    CHECK_EQ(store_trial_renew(st, id, "w-a", 1e10, &err), CARBS_ESTATE);
    CHECK_EQ(store_trial_lose(st, id, &err), CARBS_ESTATE);
    CHECK_EQ(store_trial_requeue(st, id, 3, &err), CARBS_ESTATE);
    CHECK(strstr(err.msg, "is pending, not lost") != NULL);
    CHECK_EQ(store_trial_claim(st, id, "", 1e10, NULL, &err), CARBS_EINVAL);
    CHECK_EQ(store_trial_claim(st, id, "w-a", NAN, NULL, &err), CARBS_EINVAL);
    CHECK_EQ(store_trial_claim(st, 98765, "w-a", 1e10, NULL, &err), CARBS_ENOTFOUND);
    CHECK(strstr(err.msg, "98765") != NULL);

    /* Claim, then a second claim is refused. */
    double deadline = now_wall() + 61.25;
    CHECK_EQ(store_trial_claim(st, id, "w-a", deadline, &attempt, &err), 0);
    CHECK_EQ(attempt, 1);
    CHECK_EQ(store_trial_claim(st, id, "w-b", deadline, &attempt, &err), CARBS_ESTATE);
    CHECK(strstr(err.msg, "running, not pending") != NULL);
    CHECK_EQ(store_trial_get(st, id, &t, &err), 0);
    CHECK_EQ(t.state, CARBS_TRIAL_RUNNING);
    CHECK_STR(t.worker, "w-a");
    CHECK_NEAR(t.lease_deadline, deadline, 1e-6);
    CHECK(t.started > 1.7e9);
    store_trial_release(&t);

    /* Renew: only by the holder. */
    CHECK_EQ(store_trial_renew(st, id, "w-b", deadline + 5, &err), CARBS_ESTATE);
    CHECK(strstr(err.msg, "held by worker 'w-a'") != NULL);
    CHECK_EQ(store_trial_renew(st, id, "w-a", deadline + 7.5, &err), 0);
    CHECK_EQ(store_trial_renew(st, 55555, "w-a", deadline, &err), CARBS_ENOTFOUND);
    CHECK_EQ(store_trial_get(st, id, &t, &err), 0);
    CHECK_NEAR(t.lease_deadline, deadline + 7.5, 1e-6);
    store_trial_release(&t);

    /* Lose: the worker's loss count grows, even for a worker never seen. */
    CHECK_EQ(store_trial_lose(st, id, &err), 0);
    CHECK_EQ(store_trial_lose(st, id, &err), CARBS_ESTATE);
    CHECK_EQ(store_trial_lose(st, 55555, &err), CARBS_ENOTFOUND);
    store_worker_t w;
    CHECK_EQ(store_worker_get(st, "w-a", &w, &err), 0);
    CHECK_EQ(w.losses, 1);
    store_worker_release(&w);
    CHECK_EQ(store_trial_get(st, id, &t, &err), 0);
    CHECK_EQ(t.state, CARBS_TRIAL_LOST);
    CHECK(t.lease_deadline == 0);
    store_trial_release(&t);

    /* Re-queue (attempt 1 <= max_retries 1), run again, lose again. */
    CHECK_EQ(store_trial_requeue(st, id, 1, &err), 0);
    CHECK_EQ(store_trial_requeue(st, id, 1, &err), CARBS_ESTATE);
    CHECK_EQ(store_trial_get(st, id, &t, &err), 0);
    CHECK_EQ(t.state, CARBS_TRIAL_PENDING);
    CHECK_EQ(t.attempt, 1);
    CHECK_STR(t.worker, "");
    CHECK_STR(t.params_json, "{\"d_model\":96,\"decay\":\"cosine\"}");
    store_trial_release(&t);
    CHECK_EQ(store_trial_claim(st, id, "w-b", deadline, &attempt, &err), 0);
    CHECK_EQ(attempt, 2);
    CHECK_EQ(store_trial_lose(st, id, &err), 0);

    /* Past max_retries: refused, and the caller finishes it failed/infra. */
    CHECK_EQ(store_trial_requeue(st, id, 1, &err), CARBS_ESTATE);
    CHECK(strstr(err.msg, "max_retries 1") != NULL);
    CHECK_EQ(store_trial_requeue(st, 55555, 1, &err), CARBS_ENOTFOUND);
    store_result_t res = {.trial_id = id, .ok = false, .failure = CARBS_FAILURE_INFRA,
                          .output = NAN, .cost = NAN};
    str_copy(res.message, sizeof(res.message), "lost 2 times; gave up");
    bool dup = true;
    CHECK_EQ(store_trial_finish(st, &res, NULL, 0, &dup, &err), 0);
    CHECK(!dup);
    CHECK_EQ(store_trial_get(st, id, &t, &err), 0);
    CHECK_EQ(t.state, CARBS_TRIAL_FAILED);
    CHECK(t.finished > 1.7e9);
    store_trial_release(&t);
    store_result_t got;
    CHECK_EQ(store_result_get(st, id, &got, &err), 0);
    CHECK(!got.ok);
    CHECK_EQ(got.failure, CARBS_FAILURE_INFRA);
    CHECK_STR(got.message, "lost 2 times; gave up");
    CHECK(isnan(got.output) && isnan(got.cost));
    CHECK(got.metrics_json == NULL);
    CHECK_EQ(got.attempt, 2);
    store_result_release(&got);
    CHECK_EQ(store_worker_get(st, "w-b", &w, &err), 0);
    CHECK_EQ(w.losses, 1);
    store_worker_release(&w);

    /* Adding: refusals. */
    store_trial_new_t bad = {.sweep_id = 4242, .params_json = "{}", .pred_output = NAN,
                             .pred_cost = NAN};
    CHECK_EQ(store_trial_add(st, &bad, NULL, &err), CARBS_ENOTFOUND);
    bad.sweep_id = sid;
    bad.params_json = NULL;
    CHECK_EQ(store_trial_add(st, &bad, NULL, &err), CARBS_EINVAL);
    bad.params_json = "{}";
    bad.d = 2;
    CHECK_EQ(store_trial_add(st, &bad, NULL, &err), CARBS_EINVAL);
    bad.d = 0;
    int64_t id0 = 0;
    CHECK_EQ(store_trial_add(st, &bad, &id0, &err), 0);
    CHECK_EQ(store_trial_get(st, id0, &t, &err), 0);
    CHECK(t.u == NULL && t.d == 0);
    CHECK(isnan(t.pred_output) && isnan(t.pred_cost));
    store_trial_release(&t);
    CHECK_EQ(store_trial_get(st, 31337, &t, &err), CARBS_ENOTFOUND);
    CHECK_EQ(store_result_get(st, id0, &got, &err), CARBS_ENOTFOUND);
    store_close(st);
}

static void test_store_finish_idempotent(void)
{
    carbs_err_t err = {0};
    int64_t sid = 0;
    bool dup = false;
    store_t *st = fresh("finish.db");
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_sweep_create(st, "fin", "{}", &sid, &err), 0);
    int64_t id = add_trial(st, sid, "{\"tokens\":2.5e6}", 0.125);

    /* A pending trial cannot finish; an unknown one does not exist. */
    store_result_t res = {.trial_id = id, .ok = true, .output = 1.0372, .cost = 412.77,
                          .metrics_json = "{\"val_bpb\":1.0372,\"mcq_acc\":0.3125}"};
    CHECK_EQ(store_trial_finish(st, &res, NULL, 0, &dup, &err), CARBS_ESTATE);
    res.trial_id = 8080;
    CHECK_EQ(store_trial_finish(st, &res, NULL, 0, &dup, &err), CARBS_ENOTFOUND);
    res.trial_id = id;
    CHECK_EQ(store_trial_finish(st, &res, NULL, 3, &dup, &err), CARBS_EINVAL);

    /* Progress points, a duplicate step ignored. */
    CHECK_EQ(store_trial_claim(st, id, "w-c", now_wall() + 60, NULL, &err), 0);
    CHECK_EQ(store_curve_append(st, id, 10, 40960, 7.6231, &err), 0);
    CHECK_EQ(store_curve_append(st, id, 20, 81920, 6.0917, &err), 0);
    CHECK_EQ(store_curve_append(st, id, 20, 99999, 0.5, &err), 0);
    CHECK_EQ(store_curve_append(st, 8080, 1, 1, 1, &err), CARBS_ENOTFOUND);
    carbs_curve_point_t *pts = NULL;
    size_t n = 0;
    CHECK_EQ(store_curve_get(st, id, &pts, &n, &err), 0);
    CHECK_EQ(n, 2);
    if (n == 2) {
        CHECK_EQ(pts[1].step, 20);
        CHECK(pts[1].tokens == 81920 && pts[1].loss == 6.0917);
    }
    free(pts);

    /* A result for another attempt is refused. */
    res.attempt = 2;
    CHECK_EQ(store_trial_finish(st, &res, NULL, 0, &dup, &err), CARBS_ESTATE);
    CHECK(strstr(err.msg, "attempt 2") != NULL);
    res.attempt = 1;

    /* Finish: the final curve replaces step 20 and adds 30. */
    carbs_curve_point_t curve[3] = {
        {10, 40960, 7.6231}, {20, 81920, 6.0001}, {30, 122880, 5.4471}};
    CHECK_EQ(store_trial_finish(st, &res, curve, 3, &dup, &err), 0);
    CHECK(!dup);

    /* A second result changes nothing and says so. */
    store_result_t again = res;
    again.output = 0.001;
    again.ok = false;
    again.failure = CARBS_FAILURE_DIVERGED;
    carbs_curve_point_t other[1] = {{40, 1, 1}};
    CHECK_EQ(store_trial_finish(st, &again, other, 1, &dup, &err), 0);
    CHECK(dup);
    CHECK_EQ(store_trial_finish(st, &again, NULL, 0, NULL, &err), 0);
    CHECK_EQ(store_curve_append(st, id, 50, 1, 1, &err), 0); /* progress is harmless */

    store_result_t got;
    CHECK_EQ(store_result_get(st, id, &got, &err), 0);
    CHECK(got.ok);
    CHECK_EQ(got.failure, CARBS_FAILURE_NONE);
    CHECK(got.output == 1.0372 && got.cost == 412.77);
    CHECK_STR(got.metrics_json, "{\"val_bpb\":1.0372,\"mcq_acc\":0.3125}");
    CHECK_EQ(got.attempt, 1);
    CHECK_STR(got.message, "");
    store_result_release(&got);
    CHECK_EQ(store_curve_get(st, id, &pts, &n, &err), 0);
    CHECK_EQ(n, 4);
    if (n == 4) {
        CHECK(pts[1].loss == 6.0001);
        CHECK(pts[2].step == 30 && pts[2].loss == 5.4471);
        CHECK_EQ(pts[3].step, 50);
    }
    free(pts);
    CHECK_EQ(store_curve_get(st, 8080, &pts, &n, &err), 0);
    CHECK(n == 0 && pts == NULL);

    /* A late result for a lost trial's same attempt is accepted. */
    int64_t id2 = add_trial(st, sid, "{\"tokens\":5e6}", 0.875);
    CHECK_EQ(store_trial_claim(st, id2, "w-d", now_wall() + 60, NULL, &err), 0);
    CHECK_EQ(store_trial_lose(st, id2, &err), 0);
    store_result_t late = {.trial_id = id2, .attempt = 1, .ok = false,
                           .failure = CARBS_FAILURE_OOM, .output = NAN, .cost = 12.5};
    str_copy(late.message, sizeof(late.message), "cuda out of memory: 80.0 GiB");
    CHECK_EQ(store_trial_finish(st, &late, NULL, 0, &dup, &err), 0);
    CHECK(!dup);
    store_trial_t t;
    CHECK_EQ(store_trial_get(st, id2, &t, &err), 0);
    CHECK_EQ(t.state, CARBS_TRIAL_FAILED);
    store_trial_release(&t);
    /* ok with a failure kind is stored as none; failed without one as error. */
    int64_t id3 = add_trial(st, sid, "{}", 0.25);
    CHECK_EQ(store_trial_claim(st, id3, "w-d", now_wall() + 60, NULL, &err), 0);
    store_result_t nokind = {.trial_id = id3, .ok = false, .output = NAN, .cost = NAN};
    CHECK_EQ(store_trial_finish(st, &nokind, NULL, 0, &dup, &err), 0);
    CHECK_EQ(store_result_get(st, id3, &got, &err), 0);
    CHECK_EQ(got.failure, CARBS_FAILURE_ERROR);
    store_result_release(&got);

    size_t counts[CARBS_TRIAL_STATE_COUNT];
    double spent = -1;
    CHECK_EQ(store_sweep_counts(st, sid, counts, &spent, &err), 0);
    CHECK_EQ(counts[CARBS_TRIAL_DONE], 1);
    CHECK_EQ(counts[CARBS_TRIAL_FAILED], 2);
    CHECK_EQ(counts[CARBS_TRIAL_PENDING], 0);
    CHECK_NEAR(spent, 412.77 + 12.5, 1e-9);
    CHECK_EQ(store_sweep_counts(st, 999, counts, NULL, &err), CARBS_ENOTFOUND);
    store_close(st);
}

/* store_sweep_update changes name, spec and state in one go and refuses a
 * taken or all-digit name; store_sweep_delete takes a sweep with its
 * trials, results, curves, laws and optimizer state and nothing else;
 * cost_spent counts failures' known costs and leaves imports out. */
static void test_store_sweep_update_delete(void)
{
    carbs_err_t err = {0};
    store_t *st = fresh("update-delete.db");
    int64_t a = 0, b = 0, ta, tb, ti, tf;
    store_sweep_t row = {0};
    size_t counts[CARBS_TRIAL_STATE_COUNT];
    double spent = -1;
    bool dup = false;

    if (!st)
        return;
    CHECK_EQ(store_sweep_create(st, "alpha", "{\"v\":1}", &a, &err), 0);
    CHECK_EQ(store_sweep_create(st, "beta", "{\"v\":2}", &b, &err), 0);
    CHECK_EQ(store_sweep_update(st, a, "alpha-2", "{\"v\":3}", CARBS_SWEEP_DONE, &err), 0);
    CHECK_EQ(store_sweep_get(st, "alpha-2", &row, &err), 0);
    CHECK_EQ(row.id, a);
    CHECK_STR(row.spec_json, "{\"v\":3}");
    CHECK_EQ(row.state, CARBS_SWEEP_DONE);
    store_sweep_release(&row);
    CHECK_EQ(store_sweep_update(st, a, NULL, NULL, CARBS_SWEEP_ACTIVE, &err), 0);
    CHECK_EQ(store_sweep_get_id(st, a, &row, &err), 0);
    CHECK_STR(row.name, "alpha-2");
    CHECK_STR(row.spec_json, "{\"v\":3}");
    CHECK_EQ(row.state, CARBS_SWEEP_ACTIVE);
    store_sweep_release(&row);
    CHECK_EQ(store_sweep_update(st, a, "beta", NULL, -1, &err), CARBS_EEXIST);
    CHECK_EQ(store_sweep_update(st, a, "2048", NULL, -1, &err), CARBS_EINVAL);
    CHECK_EQ(store_sweep_update(st, a, "alpha-2", NULL, -1, &err), 0); /* its own name */
    CHECK_EQ(store_sweep_update(st, 999, NULL, "{}", -1, &err), CARBS_ENOTFOUND);

    /* a's trials: a done one with a curve, a failed one with a cost, an
     * imported one; b's one trial and its law must survive a's delete */
    ta = add_trial(st, a, "{\"x\":1}", 0.5);
    tf = add_trial(st, a, "{\"x\":2}", 0.25);
    ti = add_trial(st, a, "{\"x\":3}", 0.125);
    tb = add_trial(st, b, "{\"x\":4}", 0.75);
    CHECK_EQ(store_trial_claim(st, ta, "w1", now_wall() + 60, NULL, &err), 0);
    CHECK_EQ(store_trial_claim(st, tf, "w1", now_wall() + 60, NULL, &err), 0);
    CHECK_EQ(store_trial_claim(st, ti, STORE_IMPORT_WORKER, now_wall(), NULL, &err), 0);
    store_result_t r1 = {.trial_id = ta, .ok = true, .output = 2.385, .cost = 3.25};
    store_result_t r2 = {.trial_id = tf, .ok = false, .failure = CARBS_FAILURE_OOM,
                         .output = NAN, .cost = 1.125};
    store_result_t r3 = {.trial_id = ti, .ok = true, .output = 1.5, .cost = 100.0};
    carbs_curve_point_t pt = {.step = 10, .tokens = 4096, .loss = 7.25};
    CHECK_EQ(store_trial_finish(st, &r1, &pt, 1, &dup, &err), 0);
    CHECK_EQ(store_trial_finish(st, &r2, NULL, 0, &dup, &err), 0);
    CHECK_EQ(store_trial_finish(st, &r3, NULL, 0, &dup, &err), 0);
    CHECK_EQ(store_sweep_counts(st, a, counts, &spent, &err), 0);
    CHECK_EQ(counts[CARBS_TRIAL_DONE], 2);
    CHECK_EQ(counts[CARBS_TRIAL_FAILED], 1);
    CHECK_NEAR(spent, 3.25 + 1.125, 1e-12);
    CHECK_EQ(store_law_put(st, a, "{\"law\":1}", &err), 0);
    CHECK_EQ(store_law_put(st, b, "{\"law\":2}", &err), 0);

    CHECK_EQ(store_sweep_delete(st, a, &err), 0);
    CHECK_EQ(store_sweep_get_id(st, a, &row, &err), CARBS_ENOTFOUND);
    CHECK_EQ(store_trial_get(st, ta, &(store_trial_t){0}, &err), CARBS_ENOTFOUND);
    CHECK_EQ(store_result_get(st, tf, &(store_result_t){0}, &err), CARBS_ENOTFOUND);
    CHECK_EQ(count_trials(st, 0, 0), 1);
    char *law = NULL;
    CHECK_EQ(store_law_get(st, a, &law, NULL, &err), CARBS_ENOTFOUND);
    CHECK_EQ(store_law_get(st, b, &law, NULL, &err), 0);
    CHECK_STR(law, "{\"law\":2}");
    free(law);
    CHECK_EQ(store_sweep_delete(st, a, &err), CARBS_ENOTFOUND);
    CHECK_EQ(store_check(st, &err), 0);
    /* the name is free again, the trial ids are not */
    CHECK_EQ(store_sweep_create(st, "alpha-2", "{}", &a, &err), 0);
    CHECK(add_trial(st, a, "{}", 0.5) > tb);
    store_close(st);
}

static void test_store_cancel_and_expired(void)
{
    carbs_err_t err = {0};
    int64_t sid = 0, ids[6];
    store_t *st = fresh("cancel.db");
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_sweep_create(st, "cx", "{}", &sid, &err), 0);
    for (int i = 0; i < 6; i++)
        ids[i] = add_trial(st, sid, "{\"i\":1}", 0.1 * i + 0.0137);

    /* pending, running, lost -> cancelled; finished and cancelled refuse. */
    double now = now_wall();
    CHECK_EQ(store_trial_cancel(st, ids[0], &err), 0);
    CHECK_EQ(store_trial_cancel(st, ids[0], &err), CARBS_ESTATE);
    CHECK_EQ(store_trial_claim(st, ids[0], "w", now + 5, NULL, &err), CARBS_ESTATE);
    CHECK_EQ(store_trial_claim(st, ids[1], "w-e", now + 5, NULL, &err), 0);
    CHECK_EQ(store_trial_cancel(st, ids[1], &err), 0);
    store_result_t res = {.trial_id = ids[1], .ok = true, .output = 2.5, .cost = 1};
    CHECK_EQ(store_trial_finish(st, &res, NULL, 0, NULL, &err), CARBS_ESTATE);
    CHECK_EQ(store_trial_claim(st, ids[2], "w-e", now + 5, NULL, &err), 0);
    CHECK_EQ(store_trial_lose(st, ids[2], &err), 0);
    CHECK_EQ(store_trial_cancel(st, ids[2], &err), 0);
    CHECK_EQ(store_trial_cancel(st, 1234567, &err), CARBS_ENOTFOUND);

    /* Leases: ids[3] expired long ago, ids[4] just now, ids[5] still valid. */
    CHECK_EQ(store_trial_claim(st, ids[4], "w-f", now - 0.25, NULL, &err), 0);
    CHECK_EQ(store_trial_claim(st, ids[3], "w-e", now - 90.5, NULL, &err), 0);
    CHECK_EQ(store_trial_claim(st, ids[5], "w-f", now + 600, NULL, &err), 0);
    store_trial_iter_t *it = store_trials_expired(st, now, &err);
    const store_trial_t *row;
    CHECK(it != NULL);
    CHECK_EQ(store_trial_iter_count(it), 2);
    CHECK_EQ(store_trial_iter_next(it, &row), CARBS_CONTINUE);
    CHECK_EQ(row->id, ids[3]);
    CHECK_EQ(store_trial_iter_next(it, &row), CARBS_CONTINUE);
    CHECK_EQ(row->id, ids[4]);
    CHECK_STR(row->worker, "w-f");
    CHECK_EQ(store_trial_iter_next(it, &row), 0);
    store_trial_iter_free(it);
    /* Renewing ids[4] takes it off the list. */
    CHECK_EQ(store_trial_renew(st, ids[4], "w-f", now + 60, &err), 0);
    it = store_trials_expired(st, now, &err);
    CHECK(it != NULL && store_trial_iter_count(it) == 1);
    store_trial_iter_free(it);
    CHECK_EQ(store_trial_cancel(st, ids[5], &err), 0);
    res.trial_id = ids[4];
    CHECK_EQ(store_trial_finish(st, &res, NULL, 0, NULL, &err), 0);
    CHECK_EQ(store_trial_cancel(st, ids[4], &err), CARBS_ESTATE);
    it = store_trials_expired(st, now + 1e6, &err);
    CHECK(it != NULL && store_trial_iter_count(it) == 1);
    store_trial_iter_free(it);

    size_t counts[CARBS_TRIAL_STATE_COUNT];
    CHECK_EQ(store_sweep_counts(st, sid, counts, NULL, &err), 0);
    CHECK_EQ(counts[CARBS_TRIAL_CANCELLED], 4);
    CHECK_EQ(counts[CARBS_TRIAL_RUNNING], 1);
    CHECK_EQ(counts[CARBS_TRIAL_DONE], 1);
    store_close(st);
}

static void test_store_trial_iterators(void)
{
    carbs_err_t err = {0};
    int64_t s1 = 0, s2 = 0;
    store_t *st = fresh("iter.db");
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_sweep_create(st, "one", "{}", &s1, &err), 0);
    CHECK_EQ(store_sweep_create(st, "two", "{}", &s2, &err), 0);
    /* 23 trials spread over two sweeps, some claimed by two workers. */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    size_t in_s1 = 0, running_w1 = 0;
    for (int i = 0; i < 23; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t sid = (x & 1) ? s1 : s2;
        int64_t id = add_trial(st, sid, "{\"k\":3}", (double)(x % 1000) / 997.0);
        in_s1 += sid == s1;
        if (x & 6) {
            const char *w = (x & 8) ? "w-one" : "w-two";
            CHECK_EQ(store_trial_claim(st, id, w, now_wall() + 30, NULL, &err), 0);
            running_w1 += sid == s1 && (x & 8);
        }
    }
    CHECK_EQ(count_trials(st, 0, 0), 23);
    CHECK_EQ(count_trials(st, s1, 0), in_s1);
    CHECK_EQ(count_trials(st, s2, 0), 23 - in_s1);
    CHECK_EQ(count_trials(st, s1, 1u << CARBS_TRIAL_DONE), 0);
    CHECK_EQ(count_trials(st, 0, (1u << CARBS_TRIAL_PENDING) | (1u << CARBS_TRIAL_RUNNING)), 23);

    store_trial_filter_t f = {.sweep_id = s1, .states = 1u << CARBS_TRIAL_RUNNING,
                              .worker = "w-one"};
    store_trial_iter_t *it = store_trial_iter_new(st, &f, &err);
    const store_trial_t *row;
    CHECK(it != NULL);
    if (!it) {
        store_close(st);
        return;
    }
    CHECK_EQ(store_trial_iter_count(it), running_w1);
    /* The iterator is a snapshot: writing while iterating is fine. */
    int64_t last = 0;
    while (store_trial_iter_next(it, &row) == CARBS_CONTINUE) {
        CHECK(row->id > last);
        last = row->id;
        CHECK_EQ(row->sweep_id, s1);
        CHECK_STR(row->worker, "w-one");
        CHECK_EQ(row->d, 3);
        CHECK_EQ(store_trial_lose(st, row->id, &err), 0);
    }
    store_trial_iter_free(it);
    CHECK_EQ(count_trials(st, s1, 1u << CARBS_TRIAL_LOST), running_w1);
    it = store_trial_iter_new(st, NULL, &err);
    CHECK(it != NULL && store_trial_iter_count(it) == 23);
    store_trial_iter_free(it);
    store_trial_iter_free(NULL);
    store_worker_t w;
    if (running_w1) {
        CHECK_EQ(store_worker_get(st, "w-one", &w, &err), 0);
        CHECK_EQ(w.losses, (int64_t)running_w1);
        store_worker_release(&w);
    }
    store_close(st);
}

// ---- workers, laws, optimizer state, export ----

static void test_store_workers(void)
{
    carbs_err_t err = {0};
    store_worker_t w;
    store_t *st = fresh("workers.db");
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_worker_seen(st, "w-b3", "node-b", "[{\"name\":\"H100\",\"mem\":80}]", &err), 0);
    CHECK_EQ(store_worker_seen(st, "w-a9", "node-a", NULL, &err), 0);
    CHECK_EQ(store_worker_get(st, "w-b3", &w, &err), 0);
    double first = w.first_seen;
    CHECK_STR(w.host, "node-b");
    CHECK_STR(w.devices_json, "[{\"name\":\"H100\",\"mem\":80}]");
    CHECK(w.first_seen > 1.7e9 && w.last_seen == w.first_seen);
    CHECK(!w.quarantined && w.losses == 0);
    store_worker_release(&w);
    CHECK(w.devices_json == NULL);

    /* Any later traffic moves last_seen and keeps what it does not say. */
    double t0 = now_wall();
    while (now_wall() <= t0 + 0.002) {
    }
    CHECK_EQ(store_worker_seen(st, "w-b3", NULL, NULL, &err), 0);
    CHECK_EQ(store_worker_get(st, "w-b3", &w, &err), 0);
    CHECK(w.last_seen > first);
    CHECK(w.first_seen == first);
    CHECK_STR(w.host, "node-b");
    CHECK_STR(w.devices_json, "[{\"name\":\"H100\",\"mem\":80}]");
    store_worker_release(&w);
    CHECK_EQ(store_worker_seen(st, "w-b3", "node-b2", "[]", &err), 0);
    CHECK_EQ(store_worker_get(st, "w-b3", &w, &err), 0);
    CHECK_STR(w.host, "node-b2");
    CHECK_STR(w.devices_json, "[]");
    store_worker_release(&w);

    /* Quarantine and the refusals. */
    CHECK_EQ(store_worker_quarantine(st, "w-a9", true, &err), 0);
    CHECK_EQ(store_worker_quarantine(st, "w-zz", true, &err), CARBS_ENOTFOUND);
    CHECK(strstr(err.msg, "'w-zz'") != NULL);
    CHECK_EQ(store_worker_get(st, "w-zz", &w, &err), CARBS_ENOTFOUND);
    CHECK_EQ(store_worker_seen(st, "", NULL, NULL, &err), CARBS_EINVAL);
    CHECK_EQ(store_worker_seen(st, NULL, NULL, NULL, &err), CARBS_EINVAL);
    char big[STORE_HOST_MAX + 8];
    memset(big, 'h', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK_EQ(store_worker_seen(st, "w-h", big, NULL, &err), CARBS_EINVAL);
    big[CARBS_NAME_MAX] = '\0';
    CHECK_EQ(store_worker_seen(st, big, NULL, NULL, &err), CARBS_EINVAL);

    store_worker_iter_t *it = store_worker_iter_new(st, &err);
    const store_worker_t *row;
    CHECK(it != NULL);
    CHECK_EQ(store_worker_iter_count(it), 2);
    CHECK_EQ(store_worker_iter_next(it, &row), CARBS_CONTINUE);
    CHECK_STR(row->id, "w-a9");
    CHECK(row->quarantined);
    CHECK(row->devices_json == NULL);
    CHECK_EQ(store_worker_iter_next(it, &row), CARBS_CONTINUE);
    CHECK_STR(row->id, "w-b3");
    CHECK(!row->quarantined);
    CHECK_EQ(store_worker_iter_next(it, &row), 0);
    store_worker_iter_free(it);
    store_worker_iter_free(NULL);
    CHECK_EQ(store_worker_quarantine(st, "w-a9", false, &err), 0);
    CHECK_EQ(store_worker_get(st, "w-a9", &w, &err), 0);
    CHECK(!w.quarantined);
    CHECK_STR(w.key, ""); /* never bound */
    store_worker_release(&w);

    /* A worker id's key: bound, kept by later traffic, freed. */
    static const char K[] = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    CHECK_EQ(store_worker_bind(st, "w-b3", "node-b-key", K, &err), 0);
    CHECK_EQ(store_worker_seen(st, "w-b3", "node-b3", NULL, &err), 0);
    CHECK_EQ(store_worker_get(st, "w-b3", &w, &err), 0);
    CHECK_STR(w.key_name, "node-b-key");
    CHECK_STR(w.key, K);
    store_worker_release(&w);
    CHECK_EQ(store_worker_bind(st, "w-zz", "k", K, &err), CARBS_ENOTFOUND);
    CHECK_EQ(store_worker_bind(st, "w-b3", big, K, &err), CARBS_EINVAL);
    CHECK_EQ(store_worker_bind(st, "w-b3", NULL, NULL, &err), 0);
    CHECK_EQ(store_worker_get(st, "w-b3", &w, &err), 0);
    CHECK_STR(w.key_name, "");
    CHECK_STR(w.key, "");
    store_worker_release(&w);
    store_close(st);
}

static void test_store_laws_and_optstate(void)
{
    carbs_err_t err = {0};
    int64_t sid = 0;
    char *law = NULL;
    double at = 0;
    store_t *st = fresh("laws.db");
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_sweep_create(st, "laws", "{}", &sid, &err), 0);
    CHECK_EQ(store_law_get(st, sid, &law, &at, &err), CARBS_ENOTFOUND);
    CHECK(law == NULL);
    CHECK_EQ(store_law_put(st, sid, "{\"alpha\":0.076,\"fit\":1}", &err), 0);
    CHECK_EQ(store_law_put(st, sid, "{\"alpha\":0.0812,\"fit\":2}", &err), 0);
    CHECK_EQ(store_law_put(st, 606, "{}", &err), CARBS_ENOTFOUND);
    CHECK_EQ(store_law_put(st, sid, NULL, &err), CARBS_EINVAL);
    CHECK_EQ(store_law_get(st, sid, &law, &at, &err), 0);
    CHECK_STR(law, "{\"alpha\":0.0812,\"fit\":2}");
    CHECK(at > 1.7e9);
    free(law);
    law = NULL;
    CHECK_EQ(store_law_get(st, sid, &law, NULL, &err), 0);
    free(law);

    /* Optimizer state: a blob of any bytes, zeros included. */
    store_optstate_t os = {0}, got;
    unsigned char rng[2503];
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < sizeof(rng); i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        rng[i] = (unsigned char)(i % 97 == 0 ? 0 : x);
    }
    CHECK_EQ(store_optstate_get(st, sid, &got, &err), CARBS_ENOTFOUND);
    os.resample_count = 5;
    os.rng = rng;
    os.rng_len = sizeof(rng);
    os.state_json = "{\"outstanding\":[3,7]}";
    CHECK_EQ(store_optstate_put(st, sid, &os, &err), 0);
    CHECK_EQ(store_optstate_get(st, sid, &got, &err), 0);
    CHECK_EQ(got.resample_count, 5);
    CHECK_EQ(got.rng_len, sizeof(rng));
    CHECK(got.rng && memcmp(got.rng, rng, sizeof(rng)) == 0);
    CHECK_STR(got.state_json, "{\"outstanding\":[3,7]}");
    store_optstate_release(&got);
    CHECK(got.rng == NULL && got.state_json == NULL);
    os.resample_count = 6;
    os.rng = NULL;
    os.rng_len = 0;
    os.state_json = NULL;
    CHECK_EQ(store_optstate_put(st, sid, &os, &err), 0);
    CHECK_EQ(store_optstate_get(st, sid, &got, &err), 0);
    CHECK_EQ(got.resample_count, 6);
    CHECK(got.rng == NULL && got.rng_len == 0 && got.state_json == NULL);
    store_optstate_release(&got);
    os.rng_len = 12;
    CHECK_EQ(store_optstate_put(st, sid, &os, &err), CARBS_EINVAL);
    os.rng_len = 0;
    CHECK_EQ(store_optstate_put(st, 606, &os, &err), CARBS_ENOTFOUND);
    store_close(st);
}

/* Verification runs: a pending trial and its prediction in one
 * transaction, listed per sweep in trial order; bad predictions refused
 * with nothing stored. */
static void test_store_verify(void)
{
    carbs_err_t err = {0};
    int64_t sid = 0, other = 0, t1 = 0, t2 = 0, plain;
    store_verify_t v = {0}, *rows = NULL;
    store_trial_t tr = {0};
    size_t n = 9;
    store_t *st = fresh("verify.db");
    store_trial_new_t tn = {.params_json = "{\"n_params\":1.5528e9,\"tokens\":7.513e10}",
                            .pred_output = 2.3468,
                            .pred_cost = 7e20};
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_sweep_create(st, "ver", "{}", &sid, &err), 0);
    CHECK_EQ(store_sweep_create(st, "other", "{}", &other, &err), 0);
    CHECK_EQ(store_verify_list(st, sid, &rows, &n, &err), 0);
    CHECK(rows == NULL && n == 0);
    plain = add_trial(st, sid, "{\"x\":1}", 0.25);
    tn.sweep_id = sid;
    v.cost = 7e20;
    str_copy(v.cost_name, sizeof(v.cost_name), "flops");
    str_copy(v.estimator, sizeof(v.estimator), "joint");
    v.predicted = 2.3468;
    v.lo = 2.2913;
    v.hi = 2.3972;
    v.level = 0.9;
    CHECK_EQ(store_verify_add(st, &tn, &v, &t1, &err), 0);
    CHECK(t1 > plain);
    v.cost = 3.25e19;
    v.lo = v.hi = v.level = NAN;
    str_copy(v.cost_name, sizeof(v.cost_name), "wall_seconds");
    CHECK_EQ(store_verify_add(st, &tn, &v, &t2, &err), 0);

    /* refused, and nothing stored */
    store_verify_t bad = v;
    bad.cost = 0;
    CHECK_EQ(store_verify_add(st, &tn, &bad, NULL, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "cost 0 is not finite and > 0") != NULL);
    bad = v;
    bad.predicted = NAN;
    CHECK_EQ(store_verify_add(st, &tn, &bad, NULL, &err), CARBS_EINVAL);
    CHECK(strstr(err.msg, "no prediction") != NULL);
    bad = v;
    bad.estimator[0] = '\0';
    CHECK_EQ(store_verify_add(st, &tn, &bad, NULL, &err), CARBS_EINVAL);
    tn.sweep_id = 606;
    CHECK_EQ(store_verify_add(st, &tn, &v, NULL, &err), CARBS_ENOTFOUND);
    tn.sweep_id = sid;
    CHECK_EQ(count_trials(st, sid, 0), 3);

    CHECK_EQ(store_verify_list(st, sid, &rows, &n, &err), 0);
    CHECK_EQ(n, 2);
    if (n == 2) {
        CHECK_EQ(rows[0].trial_id, t1);
        CHECK_EQ(rows[0].sweep_id, sid);
        CHECK_NEAR(rows[0].cost, 7e20, 0);
        CHECK_STR(rows[0].cost_name, "flops");
        CHECK_STR(rows[0].estimator, "joint");
        CHECK_NEAR(rows[0].predicted, 2.3468, 0);
        CHECK_NEAR(rows[0].lo, 2.2913, 0);
        CHECK_NEAR(rows[0].hi, 2.3972, 0);
        CHECK_NEAR(rows[0].level, 0.9, 0);
        CHECK(rows[0].created > 1.7e9);
        CHECK_EQ(rows[1].trial_id, t2);
        CHECK_STR(rows[1].cost_name, "wall_seconds");
        CHECK(isnan(rows[1].lo) && isnan(rows[1].hi) && isnan(rows[1].level));
    }
    free(rows);
    CHECK_EQ(store_trial_get(st, t1, &tr, &err), 0);
    CHECK_EQ(tr.state, CARBS_TRIAL_PENDING);
    CHECK_NEAR(tr.pred_output, 2.3468, 0);
    store_trial_release(&tr);
    CHECK_EQ(store_verify_list(st, other, &rows, &n, &err), 0);
    CHECK(rows == NULL && n == 0);
    CHECK_EQ(store_check(st, &err), 0);
    store_close(st);
}

/* A version-1 store (before verification runs) is migrated when opened
 * for writing: its trials stay, and verification runs can be added. */
static void test_store_migrate_v1(void)
{
    char path[512];
    carbs_err_t err = {0};
    int64_t sid = 0, t = 0;
    store_verify_t v = {.cost = 1e18, .predicted = 3.1, .lo = NAN, .hi = NAN, .level = NAN};
    store_trial_new_t tn = {.params_json = "{\"x\":2}", .pred_output = NAN, .pred_cost = NAN};
    store_raw_t *raw;
    store_t *st = fresh("v1.db");
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_sweep_create(st, "old", "{}", &sid, &err), 0);
    CHECK(add_trial(st, sid, "{\"x\":1}", 0.5) > 0);
    store_close(st);
    fx_path(path, sizeof(path), "v1.db");
    raw = store_raw_open(path, &err);
    CHECK_EQ(store_raw_exec(raw, "DROP TABLE verifications; ALTER TABLE workers DROP COLUMN key; "
                                    "ALTER TABLE workers DROP COLUMN key_name; "
                                    "PRAGMA user_version = 1",
                             &err),
             0);
    store_raw_close(raw);
    CHECK_EQ(header_field(path, 60), 1);
    CHECK(store_open(path, STORE_READONLY, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EVERSION);
    st = store_open(path, 0, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(count_trials(st, sid, 0), 1);
    tn.sweep_id = sid;
    str_copy(v.cost_name, sizeof(v.cost_name), "flops");
    str_copy(v.estimator, sizeof(v.estimator), "front");
    CHECK_EQ(store_verify_add(st, &tn, &v, &t, &err), 0);
    CHECK(t > 1);
    CHECK_EQ(store_check(st, &err), 0);
    store_close(st);
    CHECK_EQ(header_field(path, 60), STORE_SCHEMA_VERSION);
}

static void test_store_export(void)
{
    carbs_err_t err = {0};
    int64_t sid = 0, other = 0;
    store_t *st = fresh("export.db");
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_sweep_create(st, "exp-\xe2\x9c\x93", "{}", &sid, &err), 0);
    CHECK_EQ(store_sweep_create(st, "elsewhere", "{}", &other, &err), 0);
    int64_t a = add_trial(st, sid, "{\"learning_rate\":0.0031}", 0.61);
    int64_t b = add_trial(st, other, "{}", 0.62);
    int64_t c = add_trial(st, sid, "{\"learning_rate\":0.0087}", 0.63);
    CHECK(a > 0 && b > a && c > b);
    CHECK_EQ(store_trial_claim(st, a, "w-ex", now_wall() + 60, NULL, &err), 0);
    store_result_t res = {.trial_id = a, .ok = true, .output = 0.9731, .cost = 88.25,
                          .metrics_json = "{\"val_bpb\":0.9731}"};
    CHECK_EQ(store_trial_finish(st, &res, NULL, 0, NULL, &err), 0);

    store_export_iter_t *it = store_export_iter_new(st, sid, &err);
    const store_record_t *rec;
    CHECK(it != NULL);
    if (!it) {
        store_close(st);
        return;
    }
    CHECK_EQ(store_export_iter_count(it), 2);
    CHECK_EQ(store_export_iter_next(it, &rec), CARBS_CONTINUE);
    CHECK_EQ(rec->trial.id, a);
    CHECK_STR(rec->sweep, "exp-\xe2\x9c\x93");
    CHECK_EQ(rec->trial.state, CARBS_TRIAL_DONE);
    CHECK_STR(rec->trial.worker, "w-ex");
    CHECK_EQ(rec->trial.attempt, 1);
    CHECK(rec->has_result && rec->result.ok);
    CHECK(rec->result.output == 0.9731 && rec->result.cost == 88.25);
    CHECK_STR(rec->result.metrics_json, "{\"val_bpb\":0.9731}");
    CHECK_EQ(rec->result.trial_id, a);
    CHECK(rec->trial.started > 0 && rec->trial.finished >= rec->trial.started);
    CHECK_EQ(store_export_iter_next(it, &rec), CARBS_CONTINUE);
    CHECK_EQ(rec->trial.id, c);
    CHECK(!rec->has_result);
    CHECK_STR(rec->trial.params_json, "{\"learning_rate\":0.0087}");
    CHECK_EQ(store_export_iter_next(it, &rec), 0);
    store_export_iter_free(it);
    store_export_iter_free(NULL);
    CHECK(store_export_iter_new(st, 4040, &err) == NULL);
    CHECK_EQ(err.code, CARBS_ENOTFOUND);
    store_close(st);
}

/* Trial ids are never reused, even after the newest row is deleted. */
static void test_store_ids_not_reused(void)
{
    char path[512];
    carbs_err_t err = {0};
    int64_t sid = 0;
    store_t *st = fresh("ids.db");
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_sweep_create(st, "ids", "{}", &sid, &err), 0);
    int64_t a = add_trial(st, sid, "{}", 0.3);
    int64_t b = add_trial(st, sid, "{}", 0.4);
    store_close(st);
    fx_path(path, sizeof(path), "ids.db");
    store_raw_t *raw = store_raw_open(path, &err);
    char sql[128];
    snprintf(sql, sizeof(sql), "DELETE FROM trials WHERE id = %lld", (long long)b);
    CHECK_EQ(store_raw_exec(raw, sql, &err), 0);
    store_raw_close(raw);
    st = store_open(path, 0, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    int64_t c = add_trial(st, sid, "{}", 0.5);
    CHECK(a < b && c > b);
    store_close(st);
}

// ---- integrity, backup ----

static void test_store_check_and_backup(void)
{
    char path[512], dest[512];
    carbs_err_t err = {0};
    int64_t sid = 0;
    store_t *st = fresh("check.db");
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_sweep_create(st, "chk", "{\"z\":1.25}", &sid, &err), 0);
    int64_t id = add_trial(st, sid, "{}", 0.9);
    CHECK_EQ(store_check(st, &err), 0);

    fx_path(dest, sizeof(dest), "check-backup.db");
    CHECK_EQ(store_backup(st, dest, &err), 0);
    CHECK_EQ(store_backup(st, dest, &err), CARBS_EEXIST);
    CHECK_EQ(store_backup(st, "", &err), CARBS_EINVAL);
    store_t *copy = store_open(dest, STORE_READONLY, &err);
    CHECK(copy != NULL);
    if (copy) {
        store_trial_t t;
        CHECK_EQ(store_trial_get(copy, id, &t, &err), 0);
        CHECK_EQ(t.sweep_id, sid);
        store_trial_release(&t);
        CHECK_EQ(store_check(copy, &err), 0);
    }
    store_close(copy);

    /* A dangling reference, written behind the store's back. */
    fx_path(path, sizeof(path), "check.db");
    store_raw_t *raw = store_raw_open(path, &err);
    CHECK_EQ(store_raw_exec(raw,
                            "PRAGMA foreign_keys = OFF;"
                            "INSERT INTO curves (trial, step, tokens, loss) VALUES (4444, 1, 2, 3)",
                            &err),
             0);
    CHECK_EQ(store_raw_exec(raw, "SELECT no_such_column FROM trials", &err), CARBS_ESTORE);
    store_raw_close(raw);
    CHECK_EQ(store_check(st, &err), CARBS_ESTORE);
    CHECK(strstr(err.msg, "foreign key") != NULL && strstr(err.msg, "curves") != NULL);
    store_close(st);
}

// ---- the writer lock ----

static void test_store_writer_lock(void)
{
    char path[512];
    carbs_err_t err = {0};
    long holder = -7;
    int up[2], down[2];
    /* The child must not inherit an open connection: create, close, fork,
     * and only then open in each process. */
    store_t *st = fresh("writer.db");
    CHECK(st != NULL);
    if (!st)
        return;
    store_close(st);
    fx_path(path, sizeof(path), "writer.db");
    CHECK_EQ(store_writer_holder(path, &holder, &err), 0);
    CHECK_EQ(holder, 0);
    CHECK(pipe(up) == 0 && pipe(down) == 0);

    pid_t pid = fork();
    if (pid == 0) {
        carbs_err_t cerr = {0};
        store_t *cst = store_open(path, 0, &cerr);
        unsigned char ok = cst && store_writer_lock(cst, &cerr) == 0 ? 'L' : 'E';
        if (write(up[1], &ok, 1) != 1)
            ok = 'E';
        fx_read_byte(down[0], 20000);
        store_close(cst);
        _exit(ok == 'L' ? 0 : 1);
    }
    CHECK(pid > 0);
    st = store_open(path, 0, &err);
    CHECK(st != NULL);
    CHECK_EQ(fx_read_byte(up[0], 20000), 'L');
    if (!st) {
        CHECK_EQ(write(down[1], "q", 1), 1);
        waitpid(pid, NULL, 0);
        return;
    }
    CHECK_EQ(store_writer_holder(path, &holder, &err), 0);
    CHECK_EQ(holder, (long)pid);
    CHECK_EQ(store_writer_lock(st, &err), CARBS_EBUSY);
    char want[64];
    snprintf(want, sizeof(want), "pid %ld", (long)pid);
    CHECK(strstr(err.msg, want) != NULL);
    CHECK(strstr(err.msg, "writer.db") != NULL);
    /* The lock is advisory: the child's lock does not stop SQLite writes. */
    CHECK_EQ(store_sweep_create(st, "still-writable", "{}", NULL, &err), 0);

    CHECK_EQ(write(down[1], "q", 1), 1);
    int status = -1;
    if (pid > 0)
        CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(up[0]);
    close(up[1]);
    close(down[0]);
    close(down[1]);

    /* The holder is gone: the lock is free again and ours to take. */
    CHECK_EQ(store_writer_holder(path, &holder, &err), 0);
    CHECK_EQ(holder, 0);
    CHECK_EQ(store_writer_lock(st, &err), 0);
    CHECK_EQ(store_writer_lock(st, &err), 0);
    CHECK_EQ(store_writer_holder(path, &holder, &err), 0);
    CHECK_EQ(holder, (long)getpid());
    /* A second handle, even in this process, is another writer. */
    store_t *second = store_open(path, 0, &err);
    CHECK(second != NULL);
    if (second) {
        CHECK_EQ(store_writer_lock(second, &err), CARBS_EBUSY);
        snprintf(want, sizeof(want), "pid %ld", (long)getpid());
        CHECK(strstr(err.msg, want) != NULL);
    }
    store_close(second);
    store_close(st);
    CHECK_EQ(store_writer_holder(path, &holder, &err), 0);
    CHECK_EQ(holder, 0);
}

// ---- faults ----

/* The k-th write or sync of a finish fails: CARBS_ESTORE, nothing of the
 * finish is visible, and the next try (or a reopen) works. */
static void test_store_fault_io(void)
{
    char path[512];
    carbs_err_t err = {0};
    int64_t sid = 0;
    size_t k, failures = 0;
    bool dup;

    store_fault_io(0); /* install the VFS before opening */
    store_t *st = fresh("fault.db");
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_sweep_create(st, "faulty", "{}", &sid, &err), 0);
    int64_t id = add_trial(st, sid, "{\"n_layers\":6}", 0.777);
    CHECK_EQ(store_trial_claim(st, id, "w-f", now_wall() + 60, NULL, &err), 0);
    carbs_curve_point_t curve[40];
    for (int i = 0; i < 40; i++)
        curve[i] = (carbs_curve_point_t){i * 25 + 3, i * 102400.0, 8.0 / (1.0 + 0.173 * i)};
    store_result_t res = {.trial_id = id, .ok = true, .output = 1.2093, .cost = 37.5,
                          .metrics_json = "{\"val_loss\":1.2093}"};

    for (k = 1; k < 200; k++) {
        store_fault_io(k);
        int rc = store_trial_finish(st, &res, curve, 40, &dup, &err);
        store_fault_io(0);
        if (rc == 0)
            break;
        failures++;
        CHECK_EQ(rc, CARBS_ESTORE);
        CHECK(strstr(err.msg, "fault.db") != NULL);
        store_trial_t t;
        store_result_t r;
        carbs_curve_point_t *pts = NULL;
        size_t n = 99;
        CHECK_EQ(store_trial_get(st, id, &t, &err), 0);
        CHECK_EQ(t.state, CARBS_TRIAL_RUNNING);
        store_trial_release(&t);
        CHECK_EQ(store_result_get(st, id, &r, &err), CARBS_ENOTFOUND);
        CHECK_EQ(store_curve_get(st, id, &pts, &n, &err), 0);
        CHECK_EQ(n, 0);
        free(pts);
    }
    CHECK(failures >= 1);
    CHECK(k < 200);
    fprintf(stderr, "fault_io: a finish failed at each of its first %zu writes/syncs\n", failures);
    CHECK(!dup);
    store_close(st);

    fx_path(path, sizeof(path), "fault.db");
    st = store_open(path, 0, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_check(st, &err), 0);
    store_trial_t t;
    CHECK_EQ(store_trial_get(st, id, &t, &err), 0);
    CHECK_EQ(t.state, CARBS_TRIAL_DONE);
    store_trial_release(&t);
    carbs_curve_point_t *pts = NULL;
    size_t n = 0;
    CHECK_EQ(store_curve_get(st, id, &pts, &n, &err), 0);
    CHECK_EQ(n, 40);
    free(pts);
    store_close(st);

    /* Creating a store: a fault at any write leaves a file that a later
     * open finishes cleanly. */
    size_t open_failures = 0;
    for (k = 1; k < 100; k++) {
        char name[64];
        snprintf(name, sizeof(name), "fault-create-%zu.db", k);
        fx_path(path, sizeof(path), "%s", name);
        store_fault_io(k);
        st = store_open(path, STORE_CREATE, &err);
        store_fault_io(0);
        if (st) {
            store_close(st);
            break;
        }
        open_failures++;
        CHECK_EQ(err.code, CARBS_ESTORE);
        st = store_open(path, STORE_CREATE, &err);
        CHECK(st != NULL);
        if (st) {
            CHECK_EQ(store_check(st, &err), 0);
            CHECK_EQ(store_sweep_create(st, "after-fault", "{}", NULL, &err), 0);
        }
        store_close(st);
    }
    CHECK(open_failures >= 1 && k < 100);
}

/* Allocation failures while copying rows out: CARBS_ENOMEM, no leak. */
static void test_store_fault_alloc(void)
{
    carbs_err_t err = {0};
    int64_t sid = 0;
    store_t *st = fresh("alloc.db");
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_sweep_create(st, "alloc", "{\"a\":1}", &sid, &err), 0);
    for (int i = 0; i < 5; i++)
        add_trial(st, sid, "{\"b\":2}", 0.1 * i);
    size_t k, fails = 0;
    for (k = 1; k < 100; k++) {
        carbs_fault_fail_at(k);
        store_trial_iter_t *it = store_trial_iter_new(st, NULL, &err);
        carbs_fault_fail_at(0);
        if (it) {
            CHECK_EQ(store_trial_iter_count(it), 5);
            store_trial_iter_free(it);
            break;
        }
        fails++;
        CHECK_EQ(err.code, CARBS_ENOMEM);
    }
    CHECK(fails >= 5);
    store_sweep_t sw;
    carbs_fault_fail_at(1);
    CHECK_EQ(store_sweep_get(st, "alloc", &sw, &err), CARBS_ENOMEM);
    carbs_fault_fail_at(0);
    CHECK(sw.spec_json == NULL);
    store_close(st);
}

// ---- main ----

int main(void)
{
    if (FX_SETUP("store"))
        return 1;
    RUN(test_store_create_and_reopen);
    RUN(test_store_open_refusals);
    RUN(test_store_sync_modes);
    RUN(test_store_schema_versions);
    RUN(test_store_readonly_file);
    RUN(test_store_locked);
    RUN(test_store_sweeps);
    RUN(test_store_trial_lifecycle);
    RUN(test_store_sweep_update_delete);
    RUN(test_store_finish_idempotent);
    RUN(test_store_cancel_and_expired);
    RUN(test_store_trial_iterators);
    RUN(test_store_workers);
    RUN(test_store_laws_and_optstate);
    RUN(test_store_verify);
    RUN(test_store_migrate_v1);
    RUN(test_store_export);
    RUN(test_store_ids_not_reused);
    RUN(test_store_check_and_backup);
    RUN(test_store_writer_lock);
    RUN(test_store_fault_io);
    RUN(test_store_fault_alloc);
    return FX_FINISH();
}
