/*
 * test_store_lock.c - the writer lock follows the store file, not its name
 * (docs/store.md, "The writer rule and the lock"): while a child process
 * holds it through one path, a symlink and a hard link (in another folder)
 * are both refused as writers, with the holder's pid and path in the
 * message, while readers through every path still work; the lock is free
 * again after the holder closes and after it is killed with SIGKILL; two
 * handles in one process through two names are refused the same way, and
 * closing the writer leaves the other connections of the process working.
 */
#include "proto/common.h"
#include "store/store.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/check.h"
#include "tests/fixture.h"

static char db[512], sym[512], hard[512];
static bool proc; /* /proc/locks can be read: holders through other names have pids */

/* A child that takes the writer lock through path and holds it until it
 * reads a byte on *down (or is killed).  Returns its pid once it holds the
 * lock, -1 if it could not take it. */
static pid_t spawn_holder(const char *path, int *down)
{
    int up[2], dn[2];
    pid_t pid;

    if (pipe(up) != 0 || pipe(dn) != 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        carbs_err_t cerr = {0};
        store_t *cst = store_open(path, 0, &cerr);
        unsigned char ok = cst && store_writer_lock(cst, &cerr) == 0 ? 'L' : 'E';
        if (ok != 'L')
            fprintf(stderr, "child: %s\n", cerr.msg);
        if (write(up[1], &ok, 1) != 1)
            _exit(1);
        fx_read_byte(dn[0], 20000);
        store_close(cst);
        _exit(0);
    }
    close(up[1]);
    close(dn[0]);
    *down = dn[1];
    if (pid < 0 || fx_read_byte(up[0], 20000) != 'L') {
        close(up[0]);
        return -1;
    }
    close(up[0]);
    return pid;
}

/* The writer lock through path: 0 or the error, with err filled. */
static int try_writer(const char *path, carbs_err_t *err)
{
    store_t *st = store_open(path, 0, err);
    int rc;
    if (!st)
        return err->code;
    rc = store_writer_lock(st, err);
    store_close(st);
    return rc;
}

static void check_readers(void)
{
    const char *paths[] = {db, sym, hard};
    for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
        carbs_err_t err = {0};
        store_sweep_t s = {0};
        store_t *st = store_open(paths[i], STORE_READONLY, &err);
        CHECK(st != NULL);
        if (!st) {
            fprintf(stderr, "reader through '%s': %s\n", paths[i], err.msg);
            continue;
        }
        CHECK_EQ(store_sweep_get(st, "lock-sweep", &s, &err), 0);
        store_sweep_release(&s);
        store_close(st);
    }
}

static void check_free(void)
{
    const char *paths[] = {db, sym, hard};
    for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
        carbs_err_t err = {0};
        long holder = -7;
        CHECK_EQ(store_writer_holder(paths[i], &holder, &err), 0);
        CHECK_EQ(holder, 0);
    }
}

static void test_lock_every_path(void)
{
    carbs_err_t err = {0};
    char want[64];
    long holder = -7;
    int down = -1, status = -1;
    pid_t pid = spawn_holder(db, &down);

    CHECK(pid > 0);
    if (pid <= 0)
        return;
    snprintf(want, sizeof(want), "pid %ld", (long)pid);

    /* The symlink: the same -wal, and the same lock. */
    CHECK_EQ(store_writer_holder(sym, &holder, &err), 0);
    CHECK_EQ(holder, (long)pid);
    CHECK_EQ(try_writer(sym, &err), CARBS_EBUSY);
    CHECK(strstr(err.msg, want) != NULL);
    CHECK(strstr(err.msg, "already open for writing") != NULL);

    /* The hard link: another name, refused even as a plain write open.
     * Its pid and path come from /proc (Linux); held is what counts. */
    CHECK_EQ(store_writer_holder(hard, &holder, &err), 0);
    CHECK_EQ(holder, proc ? (long)pid : -1);
    err = (carbs_err_t){0};
    CHECK(store_open(hard, 0, &err) == NULL);
    CHECK_EQ(err.code, CARBS_EBUSY);
    CHECK(strstr(err.msg, "already open for writing") != NULL);
    CHECK(strstr(err.msg, "hard.db") != NULL); /* ours */
    if (proc) {
        CHECK(strstr(err.msg, want) != NULL);
        CHECK(strstr(err.msg, "store.db") != NULL); /* the holder's path */
    }
    fprintf(stderr, "refusal: %s\n", err.msg);

    check_readers();

    /* Closing releases it. */
    CHECK_EQ(write(down, "q", 1), 1);
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(down);
    check_free();
    CHECK_EQ(try_writer(hard, &err), 0);
}

static void test_lock_dies_with_holder(void)
{
    carbs_err_t err = {0};
    long holder = -7;
    int down = -1, status = -1;
    /* Held through the hard link this time. */
    pid_t pid = spawn_holder(hard, &down);

    CHECK(pid > 0);
    if (pid <= 0)
        return;
    CHECK_EQ(store_writer_holder(db, &holder, &err), 0);
    CHECK_EQ(holder, proc ? (long)pid : -1);
    CHECK_EQ(try_writer(db, &err), CARBS_EBUSY);
    CHECK(!proc || strstr(err.msg, "hard.db") != NULL);
    CHECK_EQ(try_writer(sym, &err), CARBS_EBUSY);

    kill(pid, SIGKILL);
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status));
    close(down);
    check_free();
    CHECK_EQ(try_writer(sym, &err), 0);
    check_readers();
}

static void test_lock_in_one_process(void)
{
    carbs_err_t err = {0};
    char want[64];
    long holder = -7;
    store_t *w = store_open(sym, 0, &err);
    store_t *r = store_open(db, STORE_READONLY, &err);
    store_t *other;

    CHECK(w && r);
    if (!w || !r) {
        store_close(w);
        store_close(r);
        return;
    }
    CHECK_EQ(store_writer_lock(w, &err), 0);
    snprintf(want, sizeof(want), "pid %ld", (long)getpid());
    CHECK_EQ(store_writer_holder(hard, &holder, &err), 0);
    CHECK_EQ(holder, (long)getpid());

    /* Another handle through the hard link: refused at open. */
    other = store_open(hard, 0, &err);
    CHECK(other == NULL);
    CHECK_EQ(err.code, CARBS_EBUSY);
    CHECK(strstr(err.msg, want) != NULL);
    CHECK(strstr(err.msg, "store.db") != NULL);
    store_close(other);
    /* Through the real path: may open (SQLite shares the -wal), may not lock. */
    other = store_open(db, 0, &err);
    CHECK(other != NULL);
    if (other) {
        CHECK_EQ(store_writer_lock(other, &err), CARBS_EBUSY);
        CHECK(strstr(err.msg, want) != NULL);
    }
    store_close(other);

    /* Closing the writer keeps the process's other connections whole. */
    CHECK_EQ(store_sweep_create(w, "in-process", "{}", NULL, &err), 0);
    store_close(w);
    {
        store_sweep_t s = {0};
        CHECK_EQ(store_sweep_get(r, "in-process", &s, &err), 0);
        store_sweep_release(&s);
    }
    store_close(r);
    check_free();
}

static void test_lock_paths(void)
{
    carbs_err_t err = {0};
    char dangling[512], target[512], wal[600];
    struct stat sb;
    store_t *st;

    /* Writing through the symlink uses the real file's -wal. */
    st = store_open(sym, 0, &err);
    CHECK(st != NULL);
    if (st) {
        CHECK_EQ(store_sweep_create(st, "via-symlink", "{}", NULL, &err), 0);
        snprintf(wal, sizeof(wal), "%s-wal", db);
        CHECK(stat(wal, &sb) == 0);
        snprintf(wal, sizeof(wal), "%s-wal", sym);
        CHECK(stat(wal, &sb) != 0);
        CHECK_STR(store_path(st), sym); /* messages keep the caller's path */
    }
    store_close(st);

    /* A symlink to nothing is not followed to create its target. */
    fx_path(dangling, sizeof(dangling), "dangling.db");
    fx_path(target, sizeof(target), "nowhere.db");
    CHECK(symlink(target, dangling) == 0);
    CHECK(store_open(dangling, STORE_CREATE, &err) == NULL);
    CHECK_EQ(err.code, CARBS_ENOTFOUND);
    CHECK(stat(target, &sb) != 0);
}

int main(void)
{
    char sub[512];
    carbs_err_t err = {0};
    store_t *st;

    if (FX_SETUP("lock"))
        return 1;
    proc = access("/proc/locks", R_OK) == 0;
    fx_path(db, sizeof(db), "store.db");
    fx_path(sym, sizeof(sym), "sym.db");
    fx_path(sub, sizeof(sub), "elsewhere");
    fx_path(hard, sizeof(hard), "elsewhere/hard.db");
    st = store_open(db, STORE_CREATE, &err);
    if (!st || store_sweep_create(st, "lock-sweep", "{}", NULL, &err) ||
        symlink(db, sym) != 0 || mkdir(sub, 0755) != 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return 1;
    }
    store_close(st);
    /* A hard link while nothing is open: no -wal to go with it. */
    if (link(db, hard) != 0) {
        fprintf(stderr, "link: %s\n", strerror(errno));
        return 1;
    }
    RUN(test_lock_every_path);
    RUN(test_lock_dies_with_holder);
    RUN(test_lock_in_one_process);
    RUN(test_lock_paths);
    return FX_FINISH();
}
