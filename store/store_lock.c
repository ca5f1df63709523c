/*
 * store_lock.c - the one-writer lock, taken on the store file itself so
 * that every path to it (a symlink, a hard link, "./x.db" and "/abs/x.db")
 * meets the same lock (docs/store.md, "The writer rule and the lock").
 *
 * Two locks, both flock(2), both gone with their process however it ends:
 * - the identity lock, on the database file itself.  flock locks belong to
 *   the inode, so a hard link (another name, and so another -wal and -shm
 *   that SQLite's own locks never compare) still meets it.  SQLite's unix
 *   VFS uses fcntl(2) locks, which flock does not touch on a local disk.
 * - the name lock, on "<real path>.lock", which holds the holder's pid as
 *   text: a prober through the same name reads it without opening the
 *   database, and an older carbs that knows only this file still sees it.
 *
 * The catch: close(2) on any descriptor of a file drops every fcntl lock
 * the process holds on that file, SQLite's included.  So each process keeps
 * one descriptor per store file (an ident), shared by all its connections
 * to that file and closed only when the last of them closes, after SQLite
 * has let go of its own.  One descriptor means one flock owner per process,
 * so which store_t holds the writer lock is kept here too.
 */
#include "proto/common.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "store/store_internal.h"

// ---- the real path ----

int store__real_path(const char *path, bool create, char **out, carbs_err_t *err)
{
    char buf[PATH_MAX], dir[PATH_MAX];
    const char *slash, *base;
    struct stat sb;
    size_t n;

    *out = NULL;
    if (realpath(path, buf)) {
        *out = xstrdup(buf);
        return 0;
    }
    if (errno != ENOENT || !create)
        return carbs_fail(err, errno == ENOENT ? CARBS_ENOTFOUND : CARBS_EIO,
                          "cannot open '%s': %s", path, strerror(errno));
    if (lstat(path, &sb) == 0) /* a symlink to nothing: do not create its target */
        return carbs_fail(err, CARBS_ENOTFOUND, "cannot open '%s': a symlink to a missing file",
                          path);
    /* A new file: resolve the folder it goes into. */
    slash = strrchr(path, '/');
    base = slash ? slash + 1 : path;
    n = slash ? (size_t)(slash - path) : 0;
    if (!base[0] || n >= sizeof(dir))
        return carbs_fail(err, CARBS_EINVAL, "cannot open '%s': not a file name", path);
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (n == 0)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
    if (!realpath(dir, buf))
        return carbs_fail(err, errno == ENOENT ? CARBS_ENOTFOUND : CARBS_EIO,
                          "cannot open '%s': %s", path, strerror(errno));
    n = strlen(buf);
    if (n + 1 + strlen(base) >= sizeof(buf))
        return carbs_fail(err, CARBS_ETOOBIG, "store path '%s' is too long", path);
    snprintf(buf + n, sizeof(buf) - n, "%s%s", n > 1 ? "/" : "", base);
    *out = xstrdup(buf);
    return 0;
}

// ---- one descriptor per store file and process ----

struct store__ident {
    dev_t dev;
    ino_t ino;
    int fd;               /* read-only, on the database file: the flock target */
    int refs;             /* connections of this process to the file */
    const store_t *writer; /* the store_t holding the writer lock, or NULL */
    struct store__ident *next;
};

static pthread_mutex_t idents_mu = PTHREAD_MUTEX_INITIALIZER;
static struct store__ident *idents;

static struct store__ident *ident_find(dev_t dev, ino_t ino)
{
    for (struct store__ident *id = idents; id; id = id->next)
        if (id->dev == dev && id->ino == ino)
            return id;
    return NULL;
}

/* Take a reference on the ident of the file at real; idents_mu held. */
static int ident_ref_locked(const char *real, struct store__ident **out, carbs_err_t *err)
{
    struct stat sb;
    struct store__ident *id;
    int fd;

    if (stat(real, &sb) != 0)
        return carbs_fail(err, errno == ENOENT ? CARBS_ENOTFOUND : CARBS_EIO,
                          "cannot open '%s': %s", real, strerror(errno));
    id = ident_find(sb.st_dev, sb.st_ino);
    if (!id) {
        fd = open(real, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return carbs_fail(err, errno == EACCES ? CARBS_EDENIED : CARBS_EIO,
                              "cannot open '%s': %s", real, strerror(errno));
        id = xcalloc(1, sizeof(*id));
        id->dev = sb.st_dev;
        id->ino = sb.st_ino;
        id->fd = fd;
        id->next = idents;
        idents = id;
    }
    id->refs++;
    *out = id;
    return 0;
}

static void ident_unref_locked(struct store__ident *id)
{
    struct store__ident **p;

    if (--id->refs > 0)
        return;
    for (p = &idents; *p != id; p = &(*p)->next)
        ;
    *p = id->next;
    close(id->fd); /* the last connection of this process to the file is closed */
    free(id);
}

int store__ident_ref(const char *real, struct store__ident **out, carbs_err_t *err)
{
    int rc;

    pthread_mutex_lock(&idents_mu);
    rc = ident_ref_locked(real, out, err);
    pthread_mutex_unlock(&idents_mu);
    return rc;
}

/* Let go of the identity lock if st holds it; idents_mu held. */
static void writer_release_locked(const store_t *st, struct store__ident *id)
{
    if (id->writer == st) {
        flock(id->fd, LOCK_UN);
        id->writer = NULL;
    }
}

static void writer_release(const store_t *st)
{
    pthread_mutex_lock(&idents_mu);
    writer_release_locked(st, st->ident);
    pthread_mutex_unlock(&idents_mu);
}

void store__ident_unref(struct store__ident *id, const store_t *st)
{
    if (!id)
        return;
    pthread_mutex_lock(&idents_mu);
    if (st)
        writer_release_locked(st, id);
    ident_unref_locked(id);
    pthread_mutex_unlock(&idents_mu);
}

// ---- who holds it ----

/* A prober's shared lock makes an exclusive try fail for a moment; retry
 * for this long before calling the lock taken. */
#define STORE__LOCK_RETRY_MS 200

/* flock(fd, op | LOCK_NB), retrying while a prober holds it briefly.
 * 0, or -1 with errno set. */
static int flock_retry(int fd, int op)
{
    int got = -1;

    for (int waited = 0; waited <= STORE__LOCK_RETRY_MS; waited += 10) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        got = flock(fd, op | LOCK_NB);
        if (got == 0 || errno != EWOULDBLOCK)
            break;
        nanosleep(&ts, NULL);
    }
    return got;
}

/* Whether another open file holds a flock on fd's file (fd holds none).
 * 1 held, 0 free, -1 with errno. */
static int flock_probe(int fd)
{
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        flock(fd, LOCK_UN);
        return 0;
    }
    return errno == EWOULDBLOCK ? 1 : -1;
}

static int lock_path(const char *real, char *buf, size_t cap, carbs_err_t *err)
{
    int n = snprintf(buf, cap, "%s.lock", real);
    if (n < 0 || (size_t)n >= cap)
        return carbs_fail(err, CARBS_ETOOBIG, "store path '%s' is too long", real);
    return 0;
}

/* The pid written in an open lock file, or -1 when unreadable. */
static long read_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    long pid;

    if (n <= 0)
        return -1;
    buf[n] = '\0';
    if (buf[n - 1] == '\n')
        buf[n - 1] = '\0';
    if (parse_long(buf, 1, 0x7fffffffL, &pid) < 0)
        return -1;
    return pid;
}

/* Probe the name lock "<real>.lock": *pid = 0 when free or missing, the
 * holder's pid (-1 when unreadable) when held.  0 or CARBS_EIO. */
static int name_holder(const char *real, long *pid, carbs_err_t *err)
{
    char lpath[PATH_MAX + 8];
    int fd, held;

    *pid = 0;
    if (lock_path(real, lpath, sizeof(lpath), err) < 0)
        return CARBS_ETOOBIG;
    fd = open(lpath, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        return carbs_fail(err, CARBS_EIO, "cannot open '%s': %s", lpath, strerror(errno));
    }
    held = flock_probe(fd);
    if (held > 0)
        *pid = read_pid(fd);
    else if (held < 0)
        carbs_fail(err, CARBS_EIO, "cannot probe '%s': %s", lpath, strerror(errno));
    close(fd); /* not the database file: closing drops none of SQLite's locks */
    return held < 0 ? CARBS_EIO : 0;
}

/* The pid holding an exclusive flock on (dev, ino), from Linux's
 * /proc/locks; -1 when it cannot be told. */
static long flock_pid(dev_t dev, ino_t ino)
{
    FILE *f = fopen("/proc/locks", "re");
    char line[256], kind[16], mode[16], type[16];
    long found = -1;

    if (!f)
        return -1;
    while (found < 0 && fgets(line, sizeof(line), f)) {
        unsigned maj, min;
        unsigned long long node;
        long pid;
        if (sscanf(line, "%*d: %15s %15s %15s %ld %x:%x:%llu", kind, mode, type, &pid, &maj, &min,
                   &node) == 7 &&
            strcmp(kind, "FLOCK") == 0 && strcmp(type, "WRITE") == 0 && maj == major(dev) &&
            min == minor(dev) && node == (unsigned long long)ino)
            found = pid;
    }
    fclose(f);
    return found;
}

/* The name through which process pid opened (dev, ino), from its
 * /proc/PID/fd links, into buf; false when it cannot be told (another
 * user's process, no /proc). */
static bool holder_path(long pid, dev_t dev, ino_t ino, char *buf, size_t cap)
{
    char dpath[64], fpath[64 + sizeof(((struct dirent *)0)->d_name)];
    struct dirent *e;
    struct stat sb;
    bool found = false;
    DIR *d;

    snprintf(dpath, sizeof(dpath), "/proc/%ld/fd", pid);
    d = opendir(dpath);
    if (!d)
        return false;
    while (!found && (e = readdir(d))) {
        ssize_t n;
        if (e->d_name[0] == '.')
            continue;
        snprintf(fpath, sizeof(fpath), "%s/%s", dpath, e->d_name);
        if (stat(fpath, &sb) != 0 || sb.st_dev != dev || sb.st_ino != ino)
            continue;
        n = readlink(fpath, buf, cap - 1);
        if (n > 0) {
            buf[n] = '\0';
            found = true;
        }
    }
    closedir(d);
    return found;
}

/* Who holds the identity lock of id, whose file this process reaches as
 * real: *pid = 0 free, else the pid (-1 unknown), and *other (cap bytes)
 * the holder's path when it is known to differ from real, else "".
 * idents_mu held.  0 or CARBS_EIO. */
static int ident_holder_locked(struct store__ident *id, const char *real, long *pid, char *other,
                               size_t cap, carbs_err_t *err)
{
    int held;

    *pid = 0;
    other[0] = '\0';
    if (id->writer) {
        *pid = (long)getpid();
        if (strcmp(id->writer->real, real) != 0)
            str_copy(other, cap, id->writer->real); /* truncation only shortens a message */
        return 0;
    }
    held = flock_probe(id->fd);
    if (held < 0)
        return carbs_fail(err, CARBS_EIO, "cannot probe the lock of '%s': %s", real,
                          strerror(errno));
    if (!held)
        return 0;
    /* Held: through this name when the name lock is held too. */
    if (name_holder(real, pid, err) < 0)
        return CARBS_EIO;
    if (*pid != 0)
        return 0;
    *pid = flock_pid(id->dev, id->ino);
    if (*pid <= 0 || !holder_path(*pid, id->dev, id->ino, other, cap) ||
        strcmp(other, real) == 0)
        str_copy(other, cap, "another path to the same file");
    return 0;
}

/* CARBS_EBUSY naming the holder. */
static int busy(const store_t *st, long pid, const char *other, carbs_err_t *err)
{
    char who[48] = "another process";
    if (pid > 0)
        snprintf(who, sizeof(who), "pid %ld", pid);
    if (other[0])
        return carbs_fail(err, CARBS_EBUSY,
                          "the store '%s' is already open for writing by %s (through '%s')",
                          st->path, who, other);
    return carbs_fail(err, CARBS_EBUSY, "the store '%s' is already open for writing by %s",
                      st->path, who);
}

// ---- the writer lock ----

int store__writer_guard(store_t *st, carbs_err_t *err)
{
    char other[PATH_MAX];
    long pid = 0;
    int rc;

    pthread_mutex_lock(&idents_mu);
    rc = ident_holder_locked(st->ident, st->real, &pid, other, sizeof(other), err);
    pthread_mutex_unlock(&idents_mu);
    if (rc < 0)
        return rc;
    /* Through the same name SQLite's own locks keep writers apart; through
     * another one (another -wal) nothing would. */
    if (pid != 0 && other[0])
        return busy(st, pid, other, err);
    return 0;
}

int store_writer_lock(store_t *st, carbs_err_t *err)
{
    char lpath[PATH_MAX + 8], text[32], other[PATH_MAX];
    long pid = 0;
    int fd, n, rc = 0;

    if (st->lock_fd >= 0)
        return 0;
    if (st->flags & STORE_READONLY)
        return carbs_fail(err, CARBS_EDENIED, "cannot take the writer lock of '%s': opened read-only",
                          st->path);
    if (lock_path(st->real, lpath, sizeof(lpath), err) < 0)
        return CARBS_ETOOBIG;
    /* The name lock first: a writer through the same name that sees the
     * identity lock held without it would take it for another path. */
    fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return carbs_fail(err, CARBS_EIO, "cannot open '%s': %s", lpath, strerror(errno));
    pthread_mutex_lock(&idents_mu);
    if (st->ident->writer) { /* this process, through another store_t */
        other[0] = '\0';
        if (strcmp(st->ident->writer->real, st->real) != 0)
            str_copy(other, sizeof(other), st->ident->writer->real);
        rc = busy(st, (long)getpid(), other, err);
    } else if (flock_retry(fd, LOCK_EX) != 0) {
        if (errno != EWOULDBLOCK)
            rc = carbs_fail(err, CARBS_EIO, "cannot lock '%s': %s", lpath, strerror(errno));
        else
            rc = busy(st, read_pid(fd), "", err);
    } else if (flock_retry(st->ident->fd, LOCK_EX) != 0) {
        if (errno != EWOULDBLOCK) {
            rc = carbs_fail(err, CARBS_EIO, "cannot lock '%s': %s", st->path, strerror(errno));
        } else {
            pid = flock_pid(st->ident->dev, st->ident->ino);
            if (pid <= 0 || !holder_path(pid, st->ident->dev, st->ident->ino, other, sizeof(other)))
                str_copy(other, sizeof(other), "another path to the same file");
            rc = busy(st, pid, other, err);
        }
    } else {
        st->ident->writer = st;
    }
    pthread_mutex_unlock(&idents_mu);
    if (rc < 0) {
        close(fd); /* releases the name lock if we took it */
        return rc;
    }
    n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
        int e = errno;
        close(fd);
        writer_release(st);
        return carbs_fail(err, CARBS_EIO, "cannot write '%s': %s", lpath, strerror(e));
    }
    st->lock_fd = fd;
    return 0;
}

int store_writer_holder(const char *path, long *pid, carbs_err_t *err)
{
    struct store__ident *id = NULL;
    char *real = NULL, other[PATH_MAX];
    int rc;

    *pid = 0;
    if (store__real_path(path, false, &real, NULL) < 0)
        return 0; /* no file, no holder */
    rc = name_holder(real, pid, err);
    if (rc == 0 && *pid == 0) {
        pthread_mutex_lock(&idents_mu);
        if (ident_ref_locked(real, &id, NULL) == 0) {
            rc = ident_holder_locked(id, real, pid, other, sizeof(other), err);
            ident_unref_locked(id);
        }
        pthread_mutex_unlock(&idents_mu);
    }
    free(real);
    return rc;
}
