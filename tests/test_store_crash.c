/*
 * test_store_crash.c - durability under SIGKILL (docs/store.md, Transactions
 * and durability).
 *
 * A forked writer loops over trials: add, claim, three progress points (one
 * transaction each), then finish with a results row and a final curve in
 * one transaction, and only after store_trial_finish() returns does it
 * report the trial id on a pipe (the service acknowledges a result the same
 * way: committed first).  The parent kills it with SIGKILL at a random
 * moment, reopens the store and checks: every acknowledged trial is finished;
 * a trial is done or failed exactly when it has a results row, and then its
 * whole final curve is there; an unfinished trial has no result and only
 * progress points; store_check() is clean.  Then the next round starts on
 * the same file.  Rounds rotate the writer's mode: FULL, STORE_SYNC_NORMAL
 * (which promises the same across a killed process, not a power loss) and
 * STORE_SYNC_DEFER with store_sync() before each acknowledgement.
 *
 * The seed is printed (set CARBS_TEST_SEED to repeat one), and so is each
 * round's kill delay.
 */
#include "proto/common.h"
#include "store/store.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/check.h"

/* At least 10 rounds; the kill delays are drawn so that all of them, with
 * the checks, stay within about 20 s. */
#define CRASH_ROUNDS 14
#define CRASH_DELAY_MIN_MS 40
#define CRASH_DELAY_MAX_MS 900
#define CRASH_PROGRESS 3

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The final curve of trial id has this many points, steps 1..n. */
static size_t curve_len(int64_t id)
{
    return 5 + (size_t)(((uint64_t)id * 2654435761u) % 120);
}

static double curve_loss(int64_t id, int64_t step)
{
    return 9.5 / (1.0 + 0.0371 * (double)step) + 0.001 * (double)(id % 17);
}

static double output_of(int64_t id)
{
    return 0.1234 + 1.0 / (double)id;
}

/* Every fifth trial fails (diverged); the others succeed. */
static bool ok_of(int64_t id)
{
    return id % 5 != 0;
}

// ---- the writer ----

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Runs in the child until killed; exits non-zero on any store failure. */
static void writer(const char *path, int64_t sweep_id, uint64_t seed, int fd, int flags)
{
    carbs_err_t err = {0};
    store_t *st = store_open(path, flags, &err);
    carbs_curve_point_t curve[130];
    int64_t hello = 0;

    if (!st || write_all(fd, &hello, sizeof(hello)) < 0) {
        fprintf(stderr, "writer: %s\n", err.msg);
        _exit(2);
    }
    for (;;) {
        double u[4];
        for (int i = 0; i < 4; i++)
            u[i] = (double)(rng_next(&seed) >> 11) / 9007199254740992.0;
        store_trial_new_t tn = {.sweep_id = sweep_id,
                                .params_json = "{\"learning_rate\":0.0021,\"d_model\":128}",
                                .u = u,
                                .d = 4,
                                .pred_output = u[0],
                                .pred_cost = 100 * u[1]};
        int64_t id = 0;
        if (store_trial_add(st, &tn, &id, &err) < 0 ||
            store_trial_claim(st, id, "crash-w", now_wall() + 60, NULL, &err) < 0)
            goto fail;
        for (int64_t step = 1; step <= CRASH_PROGRESS; step++)
            if (store_curve_append(st, id, step, 4096.0 * step, 99.0, &err) < 0)
                goto fail;
        size_t n = curve_len(id);
        for (size_t i = 0; i < n; i++) {
            int64_t step = (int64_t)i + 1;
            curve[i] = (carbs_curve_point_t){step, 4096.0 * step, curve_loss(id, step)};
        }
        store_result_t res = {.trial_id = id,
                              .ok = ok_of(id),
                              .failure = ok_of(id) ? CARBS_FAILURE_NONE : CARBS_FAILURE_DIVERGED,
                              .output = output_of(id),
                              .cost = 3.25 * (double)n,
                              .metrics_json = "{\"val_loss\":2.5}"};
        bool dup = true;
        if (store_trial_finish(st, &res, curve, n, &dup, &err) < 0 || dup)
            goto fail;
        /* group commit: the service syncs before it acknowledges */
        if ((flags & STORE_SYNC_DEFER) && (!store_unsynced(st) || store_sync(st, &err) < 0 ||
                                           store_unsynced(st)))
            goto fail;
        if (write_all(fd, &id, sizeof(id)) < 0)
            goto fail;
    }
fail:
    fprintf(stderr, "writer: %s\n", err.msg);
    _exit(1);
}

// ---- the checks ----

typedef DA_TYPE(int64_t) ids_t;

/* Read ids from fd until deadline (monotonic seconds) or EOF. */
static void collect_acks(int fd, double deadline, ids_t *acks)
{
    for (;;) {
        double left = deadline - now_monotonic();
        int64_t id;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0)
            return;
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        ssize_t got = read(fd, &id, sizeof(id));
        if (got != (ssize_t)sizeof(id))
            return; /* EOF or a torn id from a killed writer */
        if (id > 0 && DA_PUSH(acks, id) < 0)
            return;
    }
}

/* Check the store after the rounds-th crash; returns the number of
 * finished trials.  Every row's state is checked against its result each
 * time; curves and acknowledgements only for what is new since the last
 * round (trials up to *seen finished then, acks from ack_from), so a round
 * costs what it added rather than everything so far. */
static size_t verify(const char *path, int64_t sweep_id, const ids_t *acks, size_t ack_from,
                     size_t rounds, int64_t *seen)
{
    int64_t newest = *seen;
    carbs_err_t err = {0};
    size_t finished = 0, unfinished = 0;
    store_t *st = store_open(path, STORE_READONLY, &err);

    CHECK(st != NULL);
    if (!st) {
        fprintf(stderr, "reopen: %s\n", err.msg);
        return 0;
    }
    CHECK_EQ(store_check(st, &err), 0);
    store_export_iter_t *it = store_export_iter_new(st, sweep_id, &err);
    CHECK(it != NULL);
    const store_record_t *rec;
    while (it && store_export_iter_next(it, &rec) == CARBS_CONTINUE) {
        int64_t id = rec->trial.id;
        carbs_trial_state_t s = rec->trial.state;
        bool fin = s == CARBS_TRIAL_DONE || s == CARBS_TRIAL_FAILED;
        carbs_curve_point_t *pts = NULL;
        size_t n = 0;

        CHECK(fin == rec->has_result);
        CHECK_EQ(rec->trial.d, 4);
        if (fin)
            finished++;
        if (fin && id <= *seen)
            continue;
        CHECK_EQ(store_curve_get(st, id, &pts, &n, &err), 0);
        if (fin) {
            newest = id > newest ? id : newest;
            CHECK_EQ(s, ok_of(id) ? CARBS_TRIAL_DONE : CARBS_TRIAL_FAILED);
            CHECK(rec->result.output == output_of(id));
            CHECK_EQ(rec->result.attempt, 1);
            CHECK_STR(rec->result.metrics_json, "{\"val_loss\":2.5}");
            CHECK_EQ(n, curve_len(id));
            for (size_t i = 0; i < n && n == curve_len(id); i++) {
                CHECK_EQ(pts[i].step, (int64_t)i + 1);
                CHECK(pts[i].loss == curve_loss(id, (int64_t)i + 1));
            }
        } else {
            unfinished++;
            CHECK(s == CARBS_TRIAL_PENDING || s == CARBS_TRIAL_RUNNING);
            CHECK(n <= CRASH_PROGRESS);
            for (size_t i = 0; i < n; i++)
                CHECK(pts[i].loss == 99.0);
        }
        free(pts);
    }
    CHECK(unfinished <= rounds); /* each writer handles one trial at a time */
    store_export_iter_free(it);

    /* Acknowledged means committed. */
    for (size_t i = ack_from; i < acks->n; i++) {
        store_trial_t t;
        CHECK_EQ(store_trial_get(st, acks->v[i], &t, &err), 0);
        CHECK(t.state == CARBS_TRIAL_DONE || t.state == CARBS_TRIAL_FAILED);
        store_trial_release(&t);
    }
    store_close(st);
    *seen = newest;
    return finished;
}

// ---- rounds ----

static char crash_dir[256];
static uint64_t crash_seed;

static void test_store_crash_rounds(void)
{
    const char *dir = crash_dir;
    uint64_t seed = crash_seed;
    char path[512];
    carbs_err_t err = {0};
    int64_t sweep_id = 0;
    ids_t acks = {0};
    size_t before = 0;
    int64_t seen = 0;
    double t_start = now_monotonic();

    snprintf(path, sizeof(path), "%s/crash.db", dir);
    store_t *st = store_open(path, STORE_CREATE, &err);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(store_sweep_create(st, "crash-sweep", "{\"budget\":{\"trials\":1e9}}", &sweep_id,
                                &err),
             0);
    store_close(st);

    for (int round = 0; round < CRASH_ROUNDS; round++) {
        int fds[2];
        uint64_t child_seed = rng_next(&seed);
        int delay_ms = CRASH_DELAY_MIN_MS +
                       (int)(rng_next(&seed) % (CRASH_DELAY_MAX_MS - CRASH_DELAY_MIN_MS + 1));
        if (pipe(fds) != 0) {
            CHECK(!"pipe");
            break;
        }
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            /* every mode must keep every acknowledged trial across a SIGKILL */
            static const int modes[] = {0, STORE_SYNC_NORMAL, STORE_SYNC_DEFER};
            writer(path, sweep_id, child_seed, fds[1], modes[round % 3]);
        }
        close(fds[1]);
        CHECK(pid > 0);
        if (pid < 0) {
            close(fds[0]);
            break;
        }
        /* Wait for the writer's hello (bounded), then let it run for the
         * drawn delay while collecting its acknowledgements. */
        int64_t hello = -1;
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int ready = poll(&p, 1, 20000);
        ssize_t got = ready == 1 ? read(fds[0], &hello, sizeof(hello)) : -1;
        CHECK_EQ(got, (ssize_t)sizeof(hello));
        CHECK_EQ(hello, 0);
        size_t acked_before = acks.n;
        collect_acks(fds[0], now_monotonic() + delay_ms / 1000.0, &acks);
        kill(pid, SIGKILL);
        int status = 0;
        CHECK_EQ(waitpid(pid, &status, 0), pid);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        if (WIFEXITED(status))
            fprintf(stderr, "round %d: writer exited with %d\n", round, WEXITSTATUS(status));
        collect_acks(fds[0], now_monotonic() + 5.0, &acks); /* drain to EOF */
        close(fds[0]);

        size_t finished = verify(path, sweep_id, &acks, acked_before, (size_t)round + 1, &seen);
        fprintf(stderr, "round %2d: killed after %3d ms; %zu acknowledged, %zu finished in all\n",
                round, delay_ms, acks.n - acked_before, finished);
        CHECK(finished >= before);
        CHECK(finished >= acks.n);
        before = finished;
    }
    CHECK(before > 0);
    fprintf(stderr, "%d rounds in %.1f s, %zu trials finished\n", CRASH_ROUNDS,
            now_monotonic() - t_start, before);

    /* After all that a writer opens it normally and carries on. */
    st = store_open(path, 0, &err);
    CHECK(st != NULL);
    if (st) {
        CHECK_EQ(store_check(st, &err), 0);
        CHECK(store_trial_add(st, &(store_trial_new_t){.sweep_id = sweep_id,
                                                      .params_json = "{}",
                                                      .pred_output = NAN,
                                                      .pred_cost = NAN},
                              NULL, &err) == 0);
    }
    store_close(st);
    DA_FREE(&acks);
}

int main(void)
{
    char *dir = crash_dir;
    const char *tmp = getenv("TMPDIR");
    const char *seed_text = getenv("CARBS_TEST_SEED");
    long seed_value = 0;
    uint64_t seed;

    if (seed_text && parse_long(seed_text, 0, 0x7fffffffffffffffL, &seed_value) == 0)
        seed = (uint64_t)seed_value;
    else
        seed = (uint64_t)(now_wall() * 1e6) ^ ((uint64_t)getpid() << 32);
    seed &= 0x7fffffffffffffffull;
    fprintf(stderr, "test_store_crash: CARBS_TEST_SEED=%llu\n", (unsigned long long)seed);

    crash_seed = seed;
    snprintf(dir, sizeof(crash_dir), "%s/carbs-crash-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    RUN(test_store_crash_rounds);
    const char *names[] = {"crash.db", "crash.db-wal", "crash.db-shm", "crash.db.lock"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    return check_summary();
}
