/*
 * store_fault.c - test hooks (docs/style.md H41): SQLite I/O failures on demand,
 * and a bare connection for forging files the store must refuse.
 *
 * store_fault_io() registers "carbs-fault", a VFS that passes every call to
 * the default VFS except that it counts xWrite and xSync calls and fails the
 * armed one with SQLITE_IOERR.  Its counters are the one piece of mutable
 * process-wide state in store/, justified like carbs_fault_fail_at(): SQLite's
 * VFS registry is process-wide already, and only tests arm it.
 */
#include "proto/common.h"
#include "store/store.h"

#include <assert.h>
#include <errno.h>
#include <sqlite3.h>

#include "store/store_internal.h"

// ---- the fault-injecting VFS ----

struct fault_file {
    sqlite3_file base; /* pMethods = &fault_io */
    sqlite3_file *real; /* the default VFS's file, allocated right after us */
};

static struct {
    sqlite3_vfs vfs;
    sqlite3_vfs *real;
    size_t count;   /* writes and syncs since the last store_fault_io() */
    size_t fail_at; /* 0 = off */
    bool full;      /* fail as a full disk does, not as an I/O error */
} fault;

#define REAL(f) (((struct fault_file *)(f))->real)

/* Count one write or sync; true when this is the one to fail. */
static bool fault_hit(void)
{
    fault.count++;
    if (fault.fail_at && fault.count == fault.fail_at) {
        fault.fail_at = 0;
        return true;
    }
    return false;
}

static int f_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}

static int f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    if (fault_hit()) {
        errno = fault.full ? ENOSPC : EIO;
        return fault.full ? SQLITE_FULL : SQLITE_IOERR_WRITE;
    }
    return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int f_sync(sqlite3_file *f, int flags)
{
    if (fault_hit()) {
        errno = fault.full ? ENOSPC : EIO; /* what sqlite3_system_errno() reports */
        return SQLITE_IOERR_FSYNC;
    }
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int f_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int f_lock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int f_unlock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int f_check_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int f_file_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int f_sector_size(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int f_device_chars(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int f_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **out)
{
    if (REAL(f)->pMethods->iVersion < 2)
        return SQLITE_IOERR_SHMMAP;
    return REAL(f)->pMethods->xShmMap(REAL(f), page, size, extend, out);
}

static int f_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    if (REAL(f)->pMethods->iVersion < 2)
        return SQLITE_IOERR_SHMLOCK;
    return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void f_shm_barrier(sqlite3_file *f)
{
    if (REAL(f)->pMethods->iVersion >= 2)
        REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int f_shm_unmap(sqlite3_file *f, int delete_flag)
{
    if (REAL(f)->pMethods->iVersion < 2)
        return SQLITE_OK;
    return REAL(f)->pMethods->xShmUnmap(REAL(f), delete_flag);
}

static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **out)
{
    if (REAL(f)->pMethods->iVersion < 3) {
        *out = NULL;
        return SQLITE_OK;
    }
    return REAL(f)->pMethods->xFetch(REAL(f), off, n, out);
}

static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    if (REAL(f)->pMethods->iVersion < 3)
        return SQLITE_OK;
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods fault_io = {
    .iVersion = 3,
    .xClose = f_close,
    .xRead = f_read,
    .xWrite = f_write,
    .xTruncate = f_truncate,
    .xSync = f_sync,
    .xFileSize = f_file_size,
    .xLock = f_lock,
    .xUnlock = f_unlock,
    .xCheckReservedLock = f_check_reserved,
    .xFileControl = f_file_control,
    .xSectorSize = f_sector_size,
    .xDeviceCharacteristics = f_device_chars,
    .xShmMap = f_shm_map,
    .xShmLock = f_shm_lock,
    .xShmBarrier = f_shm_barrier,
    .xShmUnmap = f_shm_unmap,
    .xFetch = f_fetch,
    .xUnfetch = f_unfetch,
};

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out)
{
    struct fault_file *ff = (struct fault_file *)file;
    int rc;

    UNUSED(vfs);
    ff->real = (sqlite3_file *)(ff + 1);
    rc = fault.real->xOpen(fault.real, name, ff->real, flags, out);
    ff->base.pMethods = ff->real->pMethods ? &fault_io : NULL;
    return rc;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    UNUSED(vfs);
    return fault.real->xDelete(fault.real, name, sync_dir);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    UNUSED(vfs);
    return fault.real->xAccess(fault.real, name, flags, out);
}

static int v_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    UNUSED(vfs);
    return fault.real->xFullPathname(fault.real, name, n, out);
}

static void *v_dl_open(sqlite3_vfs *vfs, const char *name)
{
    UNUSED(vfs);
    return fault.real->xDlOpen(fault.real, name);
}

static void v_dl_error(sqlite3_vfs *vfs, int n, char *msg)
{
    UNUSED(vfs);
    fault.real->xDlError(fault.real, n, msg);
}

static void (*v_dl_sym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    UNUSED(vfs);
    return fault.real->xDlSym(fault.real, h, sym);
}

static void v_dl_close(sqlite3_vfs *vfs, void *h)
{
    UNUSED(vfs);
    fault.real->xDlClose(fault.real, h);
}

static int v_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    UNUSED(vfs);
    return fault.real->xRandomness(fault.real, n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
    UNUSED(vfs);
    return fault.real->xSleep(fault.real, us);
}

static int v_current_time(sqlite3_vfs *vfs, double *out)
{
    UNUSED(vfs);
    return fault.real->xCurrentTime(fault.real, out);
}

static int v_last_error(sqlite3_vfs *vfs, int n, char *msg)
{
    UNUSED(vfs);
    return fault.real->xGetLastError(fault.real, n, msg);
}

static int v_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    UNUSED(vfs);
    if (fault.real->iVersion >= 2 && fault.real->xCurrentTimeInt64)
        return fault.real->xCurrentTimeInt64(fault.real, out);
    double days;
    int rc = fault.real->xCurrentTime(fault.real, &days);
    *out = (sqlite3_int64)(days * 86400000.0);
    return rc;
}

static int fault_register(void)
{
    if (fault.real)
        return 0;
    if (sqlite3_initialize() != SQLITE_OK)
        return CARBS_ESTORE;
    fault.real = sqlite3_vfs_find(NULL);
    if (!fault.real)
        return CARBS_ESTORE;
    fault.vfs.iVersion = 2;
    fault.vfs.szOsFile = (int)sizeof(struct fault_file) + fault.real->szOsFile;
    fault.vfs.mxPathname = fault.real->mxPathname;
    fault.vfs.zName = "carbs-fault";
    fault.vfs.xOpen = v_open;
    fault.vfs.xDelete = v_delete;
    fault.vfs.xAccess = v_access;
    fault.vfs.xFullPathname = v_full_pathname;
    fault.vfs.xDlOpen = v_dl_open;
    fault.vfs.xDlError = v_dl_error;
    fault.vfs.xDlSym = v_dl_sym;
    fault.vfs.xDlClose = v_dl_close;
    fault.vfs.xRandomness = v_randomness;
    fault.vfs.xSleep = v_sleep;
    fault.vfs.xCurrentTime = v_current_time;
    fault.vfs.xGetLastError = v_last_error;
    fault.vfs.xCurrentTimeInt64 = v_current_time64;
    if (sqlite3_vfs_register(&fault.vfs, 1) != SQLITE_OK) {
        fault.real = NULL;
        return CARBS_ESTORE;
    }
    return 0;
}

size_t store_fault_io(size_t k)
{
    size_t counted = fault.count;
    int rc = fault_register();

    assert(rc == 0);
    UNUSED(rc);
    fault.count = 0;
    fault.fail_at = k;
    fault.full = false;
    return counted;
}

size_t store_fault_full(size_t k)
{
    size_t counted = store_fault_io(k);
    fault.full = true;
    return counted;
}

// ---- a bare connection ----

struct store_raw {
    sqlite3 *db;
    char *path;
    struct store__ident *ident; /* NULL when the file could not be reached */
};

store_raw_t *store_raw_open(const char *path, carbs_err_t *err)
{
    store_raw_t *raw = xcalloc(1, sizeof(*raw));

    raw->path = xstrdup(path);
    if (sqlite3_open_v2(path, &raw->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        carbs_fail(err, CARBS_ESTORE, "cannot open '%s': %s", path,
                   raw->db ? sqlite3_errmsg(raw->db) : "out of memory");
        store_raw_close(raw);
        return NULL;
    }
    sqlite3_busy_timeout(raw->db, STORE_BUSY_TIMEOUT_MS);
    /* Counted like a store's connection, so that closing a store does not
     * drop this one's fcntl locks (store_lock.c). */
    {
        char *real = NULL;
        if (store__real_path(path, false, &real, NULL) == 0)
            store__ident_ref(real, &raw->ident, NULL);
        free(real);
    }
    return raw;
}

int store_raw_exec(store_raw_t *raw, const char *sql, carbs_err_t *err)
{
    int rc = sqlite3_exec(raw->db, sql, NULL, NULL, NULL);
    int ec = rc & 0xff;

    if (rc == SQLITE_OK)
        return 0;
    if (ec == SQLITE_BUSY || ec == SQLITE_LOCKED)
        return carbs_fail(err, CARBS_EBUSY, "cannot run sql on '%s': %s", raw->path,
                          sqlite3_errmsg(raw->db));
    return carbs_fail(err, CARBS_ESTORE, "cannot run sql on '%s': %s", raw->path,
                      sqlite3_errmsg(raw->db));
}

void store_raw_close(store_raw_t *raw)
{
    if (!raw)
        return;
    sqlite3_close(raw->db);
    store__ident_unref(raw->ident, NULL);
    free(raw->path);
    free(raw);
}
