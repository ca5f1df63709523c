/*
 * store_schema.c - the schema and its migrations (docs/style.md H35).
 *
 * migrations[i] takes a store from user_version i to i + 1.  Each step is
 * applied in its own BEGIN IMMEDIATE transaction together with the PRAGMA
 * user_version that records it, so a crash leaves the file at a whole
 * version.  Steps are only ever appended: a released step never changes.
 * The tables are described column by column in docs/store.md.
 */
#include "proto/common.h"
#include "store/store_internal.h"

#define STORE__STR(x) STORE__STR2(x)
#define STORE__STR2(x) #x

// ---- version 1: the initial schema ----

static const char migrate_v1[] =
    "PRAGMA application_id = " STORE__STR(STORE_APPLICATION_ID) ";"
    "CREATE TABLE sweeps ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  name TEXT NOT NULL UNIQUE,"
    "  spec TEXT NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('active','paused','stopped','done')),"
    "  created REAL NOT NULL);"
    "CREATE TABLE trials ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  sweep INTEGER NOT NULL REFERENCES sweeps(id),"
    "  params TEXT NOT NULL,"
    "  point BLOB,"
    "  state TEXT NOT NULL CHECK (state IN"
    "    ('pending','running','done','failed','lost','cancelled')),"
    "  attempt INTEGER NOT NULL DEFAULT 0,"
    "  worker TEXT,"
    "  lease_deadline REAL,"
    "  pred_output REAL,"
    "  pred_cost REAL,"
    "  created REAL NOT NULL,"
    "  started REAL,"
    "  finished REAL);"
    "CREATE INDEX trials_sweep_state ON trials(sweep, state);"
    "CREATE INDEX trials_state_lease ON trials(state, lease_deadline);"
    "CREATE TABLE results ("
    "  trial INTEGER PRIMARY KEY REFERENCES trials(id),"
    "  status TEXT NOT NULL CHECK (status IN ('ok','failed')),"
    "  failure TEXT NOT NULL,"
    "  message TEXT NOT NULL DEFAULT '',"
    "  output REAL,"
    "  cost REAL,"
    "  metrics TEXT,"
    "  attempt INTEGER NOT NULL,"
    "  created REAL NOT NULL);"
    "CREATE TABLE curves ("
    "  trial INTEGER NOT NULL REFERENCES trials(id),"
    "  step INTEGER NOT NULL,"
    "  tokens REAL,"
    "  loss REAL,"
    "  PRIMARY KEY (trial, step)) WITHOUT ROWID;"
    "CREATE TABLE workers ("
    "  id TEXT PRIMARY KEY,"
    "  host TEXT NOT NULL DEFAULT '',"
    "  devices TEXT,"
    "  first_seen REAL NOT NULL,"
    "  last_seen REAL NOT NULL,"
    "  losses INTEGER NOT NULL DEFAULT 0,"
    "  quarantined INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE laws ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  sweep INTEGER NOT NULL REFERENCES sweeps(id),"
    "  fitted_at REAL NOT NULL,"
    "  law TEXT NOT NULL);"
    "CREATE INDEX laws_sweep ON laws(sweep, id);"
    "CREATE TABLE optimizer_state ("
    "  sweep INTEGER PRIMARY KEY REFERENCES sweeps(id),"
    "  resample_count INTEGER NOT NULL,"
    "  rng BLOB,"
    "  state TEXT);"
    "PRAGMA user_version = 1;";

// ---- version 2: verification runs ----

/* A trial queued to check a scaling-law prediction (`carbs laws --verify`),
 * with the prediction it checks, kept beside the trial so the two are read
 * together long after the law has moved on (docs/store.md). */
static const char migrate_v2[] =
    "CREATE TABLE verifications ("
    "  trial INTEGER PRIMARY KEY REFERENCES trials(id),"
    "  sweep INTEGER NOT NULL REFERENCES sweeps(id),"
    "  cost REAL NOT NULL,"
    "  cost_name TEXT NOT NULL,"
    "  estimator TEXT NOT NULL,"
    "  predicted REAL NOT NULL,"
    "  lo REAL,"
    "  hi REAL,"
    "  level REAL,"
    "  created REAL NOT NULL);"
    "CREATE INDEX verifications_sweep ON verifications(sweep, trial);"
    "PRAGMA user_version = 2;";

// ---- version 3: a worker id's key ----

/* The CURVE key a worker id is bound to (its name in the allow-list and
 * the public key in Z85), so the binding outlives a service restart
 * (docs/service.md, Who may do what).  NULL: not bound. */
static const char migrate_v3[] = "ALTER TABLE workers ADD COLUMN key_name TEXT;"
                                 "ALTER TABLE workers ADD COLUMN key TEXT;"
                                 "PRAGMA user_version = 3;";

static const char *const migrations[] = {
    migrate_v1,
    migrate_v2,
    migrate_v3,
};

_Static_assert(ARRAY_SIZE(migrations) == STORE_SCHEMA_VERSION,
               "one migration step per schema version");

// ---- applying them ----

static const char sql_user_version[] = "PRAGMA user_version";

static int read_user_version(store_t *st, int *uv, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc = store__stmt(st, sql_user_version, &s, err);
    if (rc < 0)
        return rc;
    if (sqlite3_step(s) != SQLITE_ROW)
        return store__fail(st, "read the schema version of", err);
    *uv = sqlite3_column_int(s, 0);
    sqlite3_reset(s);
    return 0;
}

int store__migrate(store_t *st, int user_version, carbs_err_t *err)
{
    for (int v = user_version; v < STORE_SCHEMA_VERSION; v++) {
        int rc = store__begin(st, true, err);
        int now_uv = 0;
        if (rc < 0)
            return rc;
        /* Another process may have migrated while we waited for the lock. */
        rc = read_user_version(st, &now_uv, err);
        if (rc >= 0 && now_uv == v && sqlite3_exec(st->db, migrations[v], NULL, NULL, NULL))
            rc = store__fail(st, "migrate the schema of", err);
        rc = store__end(st, rc, err);
        if (rc < 0)
            return rc;
        if (now_uv > v)
            v = now_uv - 1;
    }
    return 0;
}
