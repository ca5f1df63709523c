/*
 * store.c - opening a store, the statement cache, transactions, error
 * mapping, integrity check, backup and the writer lock.
 *
 * store_open() looks before it touches: it reads application_id,
 * user_version and the table count of the file, and only a carbs store or
 * an empty database is ever written (WAL mode, migrations).  Symlinks are
 * resolved first, so the -wal and -shm files are those of the real file
 * whatever path led to it; the writer lock is in store_lock.c.
 */
#include "proto/common.h"
#include "store/store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store_internal.h"

// ---- statement cache and transactions ----

int store__stmt(store_t *st, const char *sql, sqlite3_stmt **out, carbs_err_t *err)
{
    for (size_t i = 0; i < st->n_cache; i++) {
        if (st->cache[i].sql == sql) {
            sqlite3_reset(st->cache[i].stmt);
            sqlite3_clear_bindings(st->cache[i].stmt);
            *out = st->cache[i].stmt;
            return 0;
        }
    }
    assert(st->n_cache < STORE__CACHE_MAX);
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
        return store__fail(st, "prepare a statement for", err);
    st->cache[st->n_cache].sql = sql;
    st->cache[st->n_cache].stmt = *out;
    st->n_cache++;
    return 0;
}

static const char sql_begin_write[] = "BEGIN IMMEDIATE";
static const char sql_begin_read[] = "BEGIN";
static const char sql_commit[] = "COMMIT";
static const char sql_rollback[] = "ROLLBACK";

int store__begin(store_t *st, bool write, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc = store__stmt(st, write ? sql_begin_write : sql_begin_read, &s, err);
    if (rc < 0)
        return rc;
    st->in_write = write;
    return store__step_done(st, s, "begin a transaction on", err);
}

static void reset_all(store_t *st)
{
    for (size_t i = 0; i < st->n_cache; i++)
        sqlite3_reset(st->cache[i].stmt);
}

int store__end(store_t *st, int rc, carbs_err_t *err)
{
    sqlite3_stmt *s;

    reset_all(st);
    if (sqlite3_get_autocommit(st->db))
        return rc; /* nothing open: BEGIN failed, or SQLite rolled back already */
    if (rc >= 0) {
        rc = store__stmt(st, sql_commit, &s, err);
        if (rc >= 0)
            rc = store__step_done(st, s, "commit to", err);
        if (rc >= 0 && st->in_write && (st->flags & STORE_SYNC_DEFER))
            st->unsynced = true;
        if (rc >= 0 || sqlite3_get_autocommit(st->db))
            return rc;
    }
    /* Roll back and keep the first failure in err. */
    if (store__stmt(st, sql_rollback, &s, NULL) >= 0) {
        sqlite3_step(s);
        sqlite3_reset(s);
    }
    return rc;
}

int store__fail(store_t *st, const char *what, carbs_err_t *err)
{
    int ec = sqlite3_errcode(st->db) & 0xff;
    const char *msg = sqlite3_errmsg(st->db);

    if (ec == SQLITE_BUSY || ec == SQLITE_LOCKED)
        return carbs_fail(err, CARBS_EBUSY, "cannot %s '%s': locked by another writer for %d ms",
                          what, st->path, st->busy_ms);
    if (ec == SQLITE_READONLY)
        return carbs_fail(err, CARBS_EDENIED, "cannot %s '%s': %s", what, st->path, msg);
    /* SQLite calls a full disk "disk I/O error" when the write that hit it
     * was a sync or a truncate: errno tells. */
    if (ec == SQLITE_FULL || sqlite3_system_errno(st->db) == ENOSPC ||
        sqlite3_system_errno(st->db) == EDQUOT)
        return carbs_fail(err, CARBS_ESTORE,
                          "cannot %s '%s': the disk is full (or the quota used up); nothing of "
                          "this call was stored: free some space and try again",
                          what, st->path);
    if (ec == SQLITE_CORRUPT || ec == SQLITE_NOTADB)
        return carbs_fail(err, CARBS_ESTORE,
                          "cannot %s '%s': %s: the store is damaged, see `carbs store check`",
                          what, st->path, msg);
    return carbs_fail(err, CARBS_ESTORE, "cannot %s '%s': %s", what, st->path, msg);
}

int store__step_done(store_t *st, sqlite3_stmt *s, const char *what, carbs_err_t *err)
{
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return store__fail(st, what, err);
    sqlite3_reset(s);
    return 0;
}

// ---- values ----

int store__bind_real(sqlite3_stmt *s, int i, double x)
{
    if (isnan(x))
        return sqlite3_bind_null(s, i);
    return sqlite3_bind_double(s, i, x);
}

int store__bind_text(sqlite3_stmt *s, int i, const char *str)
{
    if (!str)
        return sqlite3_bind_null(s, i);
    return sqlite3_bind_text(s, i, str, -1, SQLITE_STATIC);
}

double store__col_real(sqlite3_stmt *s, int i)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return NAN;
    return sqlite3_column_double(s, i);
}

double store__col_time(sqlite3_stmt *s, int i)
{
    return sqlite3_column_double(s, i); /* NULL reads as 0.0 */
}

// ---- text: always UTF-8 out of the store ----

/* The length of the UTF-8 character at s (n > 0 bytes left), 0 when the
 * bytes there are not one. */
static size_t utf8_char(const char *s, size_t n)
{
    unsigned char c = (unsigned char)s[0];
    size_t k = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
             : c >= 0xf0 && c <= 0xf4                 ? 4
                                                      : 0;
    return k && k <= n && utf8_valid(s, k) ? k : 0;
}

/* U+FFFD, the replacement character. */
static const char utf8_repl[] = "\xef\xbf\xbd";

/* Copy text[n] into out[cap] (cap > 0), each byte that does not start a
 * valid character replaced by U+FFFD, stopping at a NUL and never splitting
 * a character.  Returns the bytes replaced; *need (may be NULL) is the
 * length the whole copy takes. */
static size_t utf8_repair(const char *text, size_t n, char *out, size_t cap, size_t *need)
{
    size_t o = 0, bad = 0, total = 0;

    for (size_t i = 0; i < n && text[i];) {
        size_t k = utf8_char(text + i, n - i);
        const char *from = k ? text + i : utf8_repl;
        size_t len = k ? k : 3;
        bad += !k;
        i += k ? k : 1;
        total += len;
        if (o + len < cap) {
            memcpy(out + o, from, len);
            o += len;
        } else {
            cap = o + 1; /* full: the rest is only counted */
        }
    }
    out[o] = '\0';
    if (need)
        *need = total;
    return bad;
}

int store__utf8_dup(const char *text, size_t n, char **out)
{
    size_t need, bad;
    char probe[1];

    *out = NULL;
    if (utf8_valid(text, n) && !memchr(text, '\0', n)) {
        *out = carbs_malloc(n + 1);
        if (!*out)
            return CARBS_ENOMEM;
        memcpy(*out, text, n);
        (*out)[n] = '\0';
        return 0;
    }
    utf8_repair(text, n, probe, sizeof(probe), &need);
    *out = carbs_malloc(need + 1);
    if (!*out)
        return CARBS_ENOMEM;
    bad = utf8_repair(text, n, *out, need + 1, NULL);
    return bad > INT_MAX ? INT_MAX : (int)bad;
}

int store__col_strdup(sqlite3_stmt *s, int i, char **out)
{
    const unsigned char *text = sqlite3_column_text(s, i);

    *out = NULL;
    if (!text)
        return 0;
    return store__utf8_dup((const char *)text, (size_t)sqlite3_column_bytes(s, i), out) < 0
               ? CARBS_ENOMEM
               : 0;
}

void store__col_copy(sqlite3_stmt *s, int i, char *buf, size_t cap)
{
    const unsigned char *text = sqlite3_column_text(s, i);
    utf8_repair(text ? (const char *)text : "", text ? (size_t)sqlite3_column_bytes(s, i) : 0,
                buf, cap, NULL); /* truncation is acceptable */
}

int store__check_worker(const char *id, carbs_err_t *err)
{
    if (!id || !id[0])
        return carbs_fail(err, CARBS_EINVAL, "empty worker id");
    if (strlen(id) >= CARBS_NAME_MAX)
        return carbs_fail(err, CARBS_EINVAL, "worker id '%.32s...' is longer than %d bytes", id,
                          CARBS_NAME_MAX - 1);
    return 0;
}

static const char sql_sweep_exists[] = "SELECT 1 FROM sweeps WHERE id = ?1";

int store__sweep_exists(store_t *st, int64_t sweep_id, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc = store__stmt(st, sql_sweep_exists, &s, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(s, 1, sweep_id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return carbs_fail(err, CARBS_ENOTFOUND, "no sweep with id %lld in '%s'",
                          (long long)sweep_id, st->path);
    return store__fail(st, "look up a sweep in", err);
}

// ---- open and close ----

static const char sql_probe[] =
    "SELECT (SELECT application_id FROM pragma_application_id),"
    " (SELECT user_version FROM pragma_user_version),"
    " (SELECT count(*) FROM sqlite_schema)";

/* Read what the file claims to be without writing anything. */
static int probe(store_t *st, int *app_id, int *uv, int *n_tables, carbs_err_t *err)
{
    sqlite3_stmt *s;
    int rc, ec;

    if (sqlite3_prepare_v2(st->db, sql_probe, -1, &s, NULL) != SQLITE_OK) {
        ec = sqlite3_errcode(st->db) & 0xff;
        goto fail;
    }
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *app_id = sqlite3_column_int(s, 0);
        *uv = sqlite3_column_int(s, 1);
        *n_tables = sqlite3_column_int(s, 2);
        sqlite3_finalize(s);
        return 0;
    }
    ec = sqlite3_errcode(st->db) & 0xff;
    sqlite3_finalize(s);
fail:
    if (ec == SQLITE_NOTADB)
        return carbs_fail(err, CARBS_EINVAL, "'%s' is not a SQLite database", st->path);
    return store__fail(st, "read", err);
}

static const char sql_journal_wal[] = "PRAGMA journal_mode = WAL";
static const char sql_pragmas[] = "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON";
static const char sql_sync_normal[] = "PRAGMA synchronous = NORMAL";

static int set_wal(store_t *st, carbs_err_t *err)
{
    sqlite3_stmt *s;
    const unsigned char *mode;
    int rc = store__stmt(st, sql_journal_wal, &s, err);
    if (rc < 0)
        return rc;
    if (sqlite3_step(s) != SQLITE_ROW)
        return store__fail(st, "switch to WAL mode", err);
    mode = sqlite3_column_text(s, 0);
    rc = 0;
    if (!mode || strcmp((const char *)mode, "wal") != 0)
        rc = carbs_fail(err, CARBS_ESTORE, "cannot switch '%s' to WAL mode (got '%s')", st->path,
                        mode ? (const char *)mode : "?");
    sqlite3_reset(s);
    return rc;
}

/* Decide whether the probed file is ours to use, and migrate it. */
static int adopt(store_t *st, carbs_err_t *err)
{
    int app_id = 0, uv = 0, n_tables = 0;
    bool ro = st->flags & STORE_READONLY;
    int rc = probe(st, &app_id, &uv, &n_tables, err);

    if (rc < 0)
        return rc;
    if (app_id == 0 && uv == 0 && n_tables == 0) {
        if (ro || !(st->flags & STORE_CREATE))
            return carbs_fail(err, CARBS_EINVAL, "'%s' is an empty database, not a carbs store",
                              st->path);
    } else if (app_id != STORE_APPLICATION_ID) {
        return carbs_fail(err, CARBS_EINVAL,
                          "'%s' is a SQLite database but not a carbs store "
                          "(application_id %d, %d schema objects)",
                          st->path, app_id, n_tables);
    } else if (uv > STORE_SCHEMA_VERSION) {
        return carbs_fail(err, CARBS_EVERSION,
                          "'%s' has schema version %d; this carbs knows up to %d: upgrade carbs",
                          st->path, uv, STORE_SCHEMA_VERSION);
    } else if (uv < STORE_SCHEMA_VERSION && ro) {
        return carbs_fail(err, CARBS_EVERSION,
                          "'%s' has schema version %d, older than %d: upgrade it with "
                          "`carbs store upgrade --db %s` (any command that writes, such as "
                          "`carbs serve`, upgrades it too)",
                          st->path, uv, STORE_SCHEMA_VERSION, st->path);
    }
    if (sqlite3_exec(st->db, sql_pragmas, NULL, NULL, NULL) != SQLITE_OK)
        return store__fail(st, "configure", err);
    if ((st->flags & (STORE_SYNC_NORMAL | STORE_SYNC_DEFER)) &&
        sqlite3_exec(st->db, sql_sync_normal, NULL, NULL, NULL) != SQLITE_OK)
        return store__fail(st, "configure", err);
    if (ro)
        return 0;
    /* Never write into a damaged store: look before the first write. */
    if (n_tables > 0 && (rc = store__check_open(st, err)) < 0)
        return rc;
    rc = set_wal(st, err);
    if (rc < 0)
        return rc;
    return store__migrate(st, uv, err);
}

int store_synchronous(store_t *st)
{
    sqlite3_stmt *s;
    int level = CARBS_ESTORE;

    if (sqlite3_prepare_v2(st->db, "PRAGMA synchronous", -1, &s, NULL) != SQLITE_OK)
        return CARBS_ESTORE;
    if (sqlite3_step(s) == SQLITE_ROW)
        level = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return level;
}

int store_sync(store_t *st, carbs_err_t *err)
{
    char wal[PATH_MAX];
    int fd, rc = 0;

    if (!st->unsynced) /* nothing since the last sync, or FULL/NORMAL */
        return 0;
    if (snprintf(wal, sizeof(wal), "%s-wal", st->real) >= (int)sizeof(wal))
        return carbs_fail(err, CARBS_ESTORE, "path of '%s' too long", st->path);
    /* fsync through any descriptor flushes the file's pages: SQLite's own
     * stays private, so open the log by name.  No log: nothing committed
     * since the last checkpoint, which synced. */
    fd = open(wal, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT)
        return carbs_fail(err, CARBS_ESTORE, "cannot open '%s' to sync it: %s", wal,
                          strerror(errno));
    if (fd >= 0) {
        if (fsync(fd) < 0)
            rc = carbs_fail(err, CARBS_ESTORE, "cannot sync '%s': %s", wal, strerror(errno));
        close(fd);
    }
    if (!rc)
        st->unsynced = false;
    return rc;
}

bool store_unsynced(const store_t *st)
{
    return st->unsynced;
}

store_t *store_open(const char *path, int flags, carbs_err_t *err)
{
    store_t *st = NULL;
    struct stat sb;
    bool ro = flags & STORE_READONLY;
    int oflags = SQLITE_OPEN_NOMUTEX;
    char *real = NULL;
    int rc;

    if (!path || !path[0]) {
        carbs_fail(err, CARBS_EINVAL, "empty store path");
        return NULL;
    }
    if (store__real_path(path, !ro && (flags & STORE_CREATE), &real, err) < 0)
        return NULL;
    if (stat(real, &sb) != 0) {
        if (errno != ENOENT || ro || !(flags & STORE_CREATE)) {
            carbs_fail(err, errno == ENOENT ? CARBS_ENOTFOUND : CARBS_EIO, "cannot open '%s': %s",
                       path, strerror(errno));
            free(real);
            return NULL;
        }
    } else if (!S_ISREG(sb.st_mode)) {
        carbs_fail(err, CARBS_EINVAL, "cannot open '%s': not a regular file", path);
        free(real);
        return NULL;
    } else if (!ro && access(real, W_OK) != 0) {
        carbs_fail(err, CARBS_EDENIED, "cannot open '%s' for writing: %s", path, strerror(errno));
        free(real);
        return NULL;
    }

    st = xcalloc(1, sizeof(*st));
    st->path = xstrdup(path);
    st->real = real;
    st->flags = flags;
    st->lock_fd = -1;
    st->busy_ms = STORE_BUSY_TIMEOUT_MS;
    if (ro)
        oflags |= SQLITE_OPEN_READONLY;
    else
        oflags |= SQLITE_OPEN_READWRITE | ((flags & STORE_CREATE) ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(real, &st->db, oflags, NULL) != SQLITE_OK) {
        if (!st->db) {
            carbs_fail(err, CARBS_ENOMEM, "cannot open '%s': out of memory", path);
            goto fail;
        }
        store__fail(st, "open", err);
        goto fail;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, st->busy_ms);
    if (!ro && sqlite3_db_readonly(st->db, "main") == 1) {
        carbs_fail(err, CARBS_EDENIED, "cannot open '%s' for writing: read-only file", path);
        goto fail;
    }
    /* SQLite creates a new file when it opens it: it exists now. */
    if (store__ident_ref(real, &st->ident, err) < 0)
        goto fail;
    if (!ro && store__writer_guard(st, err) < 0)
        goto fail;
    rc = adopt(st, err);
    if (rc < 0)
        goto fail;
    return st;
fail:
    store_close(st);
    return NULL;
}

void store_close(store_t *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n_cache; i++)
        sqlite3_finalize(st->cache[i].stmt);
    sqlite3_close(st->db);
    if (st->lock_fd >= 0) {
        /* Forget our pid before letting go, so a reader never sees a stale
         * one; a failure is harmless, the lock itself is what tells. */
        int trunc = ftruncate(st->lock_fd, 0);
        UNUSED(trunc);
    }
    /* After sqlite3_close(): this may close the last descriptor of the
     * file.  The identity lock goes before the name lock, so that nobody
     * sees the first held without the second and takes it for a writer
     * through another path. */
    store__ident_unref(st->ident, st);
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    free(st->real);
    free(st->path);
    free(st);
}

const char *store_path(const store_t *st)
{
    return st->path;
}

int store_set_busy_timeout(store_t *st, int ms, carbs_err_t *err)
{
    if (ms < 0)
        return carbs_fail(err, CARBS_EINVAL, "negative busy timeout %d ms", ms);
    st->busy_ms = ms;
    if (sqlite3_busy_timeout(st->db, ms) != SQLITE_OK)
        return store__fail(st, "set the busy timeout of", err);
    return 0;
}
