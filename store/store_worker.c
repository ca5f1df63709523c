/*
 * store_worker.c - the workers the service has heard from.
 *
 * A worker row is created by its first message (or by its first lost
 * trial), and every later message moves last_seen.  The loss count feeds
 * the quarantine decision, which the service makes and records here
 * (docs/service.md: a host that keeps losing trials gets no new ones for a
 * while).
 */
#include "proto/common.h"
#include "store/store.h"

#include "store/store_internal.h"

void store_worker_release(store_worker_t *w)
{
    if (!w)
        return;
    free(w->devices_json);
    memset(w, 0, sizeof(*w));
}

/* Read "id, host, devices, first_seen, last_seen, losses, quarantined,
 * key_name, key". */
static int worker_read(sqlite3_stmt *s, store_worker_t *w, carbs_err_t *err)
{
    memset(w, 0, sizeof(*w));
    store__col_copy(s, 0, w->id, sizeof(w->id));
    store__col_copy(s, 1, w->host, sizeof(w->host));
    if (store__col_strdup(s, 2, &w->devices_json) < 0)
        return carbs_fail(err, CARBS_ENOMEM, "out of memory reading worker '%s'", w->id);
    w->first_seen = store__col_time(s, 3);
    w->last_seen = store__col_time(s, 4);
    w->losses = sqlite3_column_int64(s, 5);
    /* 0, or when it was quarantined (an older store holds 1). */
    w->quarantined_at = sqlite3_column_double(s, 6);
    w->quarantined = w->quarantined_at != 0;
    store__col_copy(s, 7, w->key_name, sizeof(w->key_name));
    store__col_copy(s, 8, w->key, sizeof(w->key));
    return 0;
}

static const char sql_worker_seen[] =
    "INSERT INTO workers (id, host, devices, first_seen, last_seen)"
    " VALUES (?1, coalesce(?2, ''), ?3, ?4, ?4)"
    " ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen,"
    " host = coalesce(?2, host), devices = coalesce(?3, devices)";

int store_worker_seen(store_t *st, const char *id, const char *host, const char *devices_json,
                      carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc = store__check_worker(id, err);

    if (rc < 0)
        return rc;
    if (host && strlen(host) >= STORE_HOST_MAX)
        return carbs_fail(err, CARBS_EINVAL, "host name '%.32s...' is longer than %d bytes", host,
                          STORE_HOST_MAX - 1);
    rc = store__begin(st, true, err);
    if (rc >= 0)
        rc = store__stmt(st, sql_worker_seen, &s, err);
    if (rc >= 0) {
        store__bind_text(s, 1, id);
        store__bind_text(s, 2, host);
        store__bind_text(s, 3, devices_json);
        sqlite3_bind_double(s, 4, now_wall());
        rc = store__step_done(st, s, "record a worker in", err);
    }
    return store__end(st, rc, err);
}

static const char sql_worker_get[] =
    "SELECT id, host, devices, first_seen, last_seen, losses, quarantined, key_name, key"
    " FROM workers"
    " WHERE id = ?1";

int store_worker_get(store_t *st, const char *id, store_worker_t *out, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = store__check_worker(id, err);
    if (rc >= 0)
        rc = store__begin(st, false, err);
    if (rc >= 0)
        rc = store__stmt(st, sql_worker_get, &s, err);
    if (rc >= 0) {
        store__bind_text(s, 1, id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            rc = worker_read(s, out, err);
        else if (rc == SQLITE_DONE)
            rc = carbs_fail(err, CARBS_ENOTFOUND, "no worker '%s' in '%s'", id, st->path);
        else
            rc = store__fail(st, "read a worker from", err);
    }
    return store__end(st, rc, err);
}

static const char sql_worker_quarantine[] = "UPDATE workers SET quarantined = ?2 WHERE id = ?1";

int store_worker_quarantine(store_t *st, const char *id, bool quarantined, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc = store__check_worker(id, err);

    if (rc >= 0)
        rc = store__begin(st, true, err);
    if (rc >= 0)
        rc = store__stmt(st, sql_worker_quarantine, &s, err);
    if (rc >= 0) {
        store__bind_text(s, 1, id);
        sqlite3_bind_double(s, 2, quarantined ? now_wall() : 0);
        rc = store__step_done(st, s, "quarantine a worker in", err);
    }
    if (rc >= 0 && sqlite3_changes(st->db) == 0)
        rc = carbs_fail(err, CARBS_ENOTFOUND, "no worker '%s' in '%s'", id, st->path);
    return store__end(st, rc, err);
}

static const char sql_worker_bind[] = "UPDATE workers SET key_name = ?2, key = ?3 WHERE id = ?1";

int store_worker_bind(store_t *st, const char *id, const char *key_name, const char *key,
                      carbs_err_t *err)
{
    sqlite3_stmt *s;
    bool bind = key && key[0];
    int rc = store__check_worker(id, err);

    if (rc < 0)
        return rc;
    if (bind && (!key_name || strlen(key_name) >= STORE_KEY_MAX || strlen(key) >= STORE_KEY_MAX))
        return carbs_fail(err, CARBS_EINVAL, "worker '%s': a key name or key of %d bytes or more",
                          id, STORE_KEY_MAX);
    rc = store__begin(st, true, err);
    if (rc >= 0)
        rc = store__stmt(st, sql_worker_bind, &s, err);
    if (rc >= 0) {
        store__bind_text(s, 1, id);
        store__bind_text(s, 2, bind ? key_name : NULL);
        store__bind_text(s, 3, bind ? key : NULL);
        rc = store__step_done(st, s, "bind a worker's key in", err);
    }
    if (rc >= 0 && sqlite3_changes(st->db) == 0)
        rc = carbs_fail(err, CARBS_ENOTFOUND, "no worker '%s' in '%s'", id, st->path);
    return store__end(st, rc, err);
}

// ---- the worker iterator ----

struct store_worker_iter {
    DA_TYPE(store_worker_t) rows;
    size_t pos;
};

static const char sql_worker_all[] =
    "SELECT id, host, devices, first_seen, last_seen, losses, quarantined, key_name, key"
    " FROM workers"
    " ORDER BY id";

store_worker_iter_t *store_worker_iter_new(store_t *st, carbs_err_t *err)
{
    store_worker_iter_t *it = xcalloc(1, sizeof(*it));
    sqlite3_stmt *s;
    int rc = store__begin(st, false, err), step = SQLITE_DONE;

    if (rc >= 0)
        rc = store__stmt(st, sql_worker_all, &s, err);
    while (rc >= 0) {
        step = sqlite3_step(s);
        if (step != SQLITE_ROW)
            break;
        store_worker_t row;
        rc = worker_read(s, &row, err);
        if (rc >= 0 && DA_PUSH(&it->rows, row) < 0) {
            store_worker_release(&row);
            rc = carbs_fail(err, CARBS_ENOMEM, "out of memory listing workers");
        }
    }
    if (rc >= 0 && step != SQLITE_DONE)
        rc = store__fail(st, "list workers in", err);
    rc = store__end(st, rc, err);
    if (rc < 0) {
        store_worker_iter_free(it);
        return NULL;
    }
    return it;
}

int store_worker_iter_next(store_worker_iter_t *it, const store_worker_t **row)
{
    if (it->pos >= it->rows.n)
        return 0;
    *row = &it->rows.v[it->pos++];
    return CARBS_CONTINUE;
}

size_t store_worker_iter_count(const store_worker_iter_t *it)
{
    return it->rows.n;
}

void store_worker_iter_free(store_worker_iter_t *it)
{
    if (!it)
        return;
    for (size_t i = 0; i < it->rows.n; i++)
        store_worker_release(&it->rows.v[i]);
    DA_FREE(&it->rows);
    free(it);
}
