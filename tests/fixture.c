/*
 * fixture.c - the shared plumbing of tests/fixture.h that needs only proto/:
 * failures, the temp dir, the generator, waiting, parameter values.
 */
#include "proto/common.h"
#include "tests/fixture.h"

#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <unistd.h>

#include "proto/json.h"
#include "proto/log.h"

void (*fx_on_fail)(void);
char fx_dir[64];

void fx_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("fixture: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (fx_on_fail)
        fx_on_fail();
}

int fx_setup(const char *name)
{
    proto_json_init();
    log_setup(getenv("CARBS_TEST_LOG") ? LOG_DEBUG : LOG_ERROR, stderr);
    if (snprintf(fx_dir, sizeof(fx_dir), "/tmp/carbs-test-%s-XXXXXX", name) >=
            (int)sizeof(fx_dir) ||
        !mkdtemp(fx_dir)) {
        fprintf(stderr, "fixture: cannot make a temp dir for %s\n", name);
        fx_dir[0] = '\0';
        return -1;
    }
    return 0;
}

static void vpath(char *dst, size_t cap, const char *prefix, const char *fmt, va_list ap)
{
    int n = snprintf(dst, cap, "%s%s/", prefix, fx_dir);
    int k = n >= 0 && (size_t)n < cap ? vsnprintf(dst + n, cap - (size_t)n, fmt, ap) : -1;

    if (k < 0 || (size_t)(n + k) >= cap)
        fx_fail("path %s... does not fit %zu bytes", dst, cap);
}

void fx_path(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vpath(dst, cap, "", fmt, ap);
    va_end(ap);
}

void fx_ipc(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vpath(dst, cap, "ipc://", fmt, ap);
    va_end(ap);
}

void fx_finish(bool failed)
{
    char cmd[128];

    if (!fx_dir[0])
        return;
    if (failed) {
        fprintf(stderr, "logs and stores kept in %s\n", fx_dir);
        return;
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", fx_dir);
}

uint64_t fx_rnd(fx_rng_t *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ull;
}

double fx_rnd_unit(fx_rng_t *r)
{
    return (double)(fx_rnd(r) >> 11) / 9007199254740992.0;
}

double fx_splitmix_signed(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53 * 2.0 - 1.0;
}

uint64_t fx_seed(const char *prog)
{
    const char *env = getenv("CARBS_TEST_SEED");
    uint64_t s = env ? strtoull(env, NULL, 10)
                     : (uint64_t)now_wall() * 2654435761u ^ (uint64_t)getpid();

    if (!s)
        s = 88172645463325252ull;
    fprintf(stderr, "%s: seed %llu (CARBS_TEST_SEED to repeat)\n", prog, (unsigned long long)s);
    return s;
}

double fx_branin(double x1, double x2)
{
    const double pi = 3.14159265358979323846;
    double b = 5.1 / (4 * pi * pi), c = 5 / pi, t = 1 / (8 * pi);
    double y = x2 - b * x1 * x1 + c * x1 - 6;

    return y * y + 10 * (1 - t) * cos(x1) + 10;
}

carbs_param_t fx_num_param(const char *name, carbs_space_kind_t kind, double lo, double hi,
                           double center, double scale, bool integer)
{
    carbs_param_t p;

    memset(&p, 0, sizeof(p));
    snprintf(p.name, sizeof(p.name), "%s", name);
    p.space = kind;
    p.min = lo;
    p.max = hi;
    p.center = center;
    p.scale = scale;
    p.round = 1;
    p.is_integer = integer;
    return p;
}

double fx_param(const carbs_params_t *ps, const char *name)
{
    const carbs_value_t *v = carbs_params_find(ps, name);

    return v ? v->num : NAN;
}

int fx_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    size_t w;

    if (!f) {
        fx_fail("cannot write %s", path);
        return -1;
    }
    w = fwrite(data, 1, n, f);
    if (fclose(f) != 0 || w != n) {
        fx_fail("cannot write %zu bytes to %s", n, path);
        return -1;
    }
    return 0;
}

int fx_read_byte(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    unsigned char c;

    if (poll(&p, 1, ms) != 1 || read(fd, &c, 1) != 1)
        return -1;
    return c;
}

bool fx_wait(bool (*cond)(void *arg), void *arg, double bound_s, int poll_us)
{
    double until = now_monotonic() + bound_s;

    for (;;) {
        if (cond(arg))
            return true;
        if (now_monotonic() >= until)
            return false;
        usleep((useconds_t)poll_us);
    }
}
