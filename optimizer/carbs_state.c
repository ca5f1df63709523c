/*
 * carbs_state.c - what a carbs_t needs beyond its observations to resume
 * exactly: the snapshot format, restore, and the bulk load
 * (initialize_from_observations; docs/algorithm.md, Observations) with its
 * search-center bug fixed (deviation 4).
 *
 * Snapshot layout, version 1, every integer and double little-endian:
 *
 *   "CARBSNAP"                8 bytes magic
 *   u32 version, u32 d        format version, basic dimension
 *   rng state                 RNG_STATE_BYTES (rng_save)
 *   u64 resample_count
 *   u64 oversample            the over-generation factor (docs/algorithm.md,
 *                             Random suggestions and fallbacks; the
 *                             reference does not keep it, so its reload
 *                             changes the candidate stream)
 *   f64 center[d]             the search center in basic space
 *   4 x (u32 n, f64 v[n])     the warm-start hyperparameters of the output,
 *                             cost, success and Pareto GPs (n = 0: none)
 *
 * Observations and pending suggestions are not in it: the caller's store
 * has them and replays them before carbs_restore.
 */
#include "proto/common.h"
#include "optimizer/carbs.h"

#include <math.h>

#include "optimizer/carbs_internal.h"

#define SNAP_MAGIC "CARBSNAP"
#define SNAP_MAGIC_LEN 8
#define SNAP_VERSION 1u
/* No GP has more hyperparameters than this (D + 3 with D basic dims is far
 * below); a larger count means a corrupt buffer. */
#define SNAP_HYPER_MAX 100000u

// ---- little-endian writer and reader ----

typedef struct wbuf {
    uint8_t *p;
    size_t n;
} wbuf_t;

static void put_u64(wbuf_t *b, uint64_t x)
{
    for (int i = 0; i < 8; i++)
        b->p[b->n++] = (uint8_t)(x >> (8 * i));
}

static void put_u32(wbuf_t *b, uint32_t x)
{
    for (int i = 0; i < 4; i++)
        b->p[b->n++] = (uint8_t)(x >> (8 * i));
}

static void put_f64(wbuf_t *b, double x)
{
    uint64_t v;

    memcpy(&v, &x, sizeof(v));
    put_u64(b, v);
}

typedef struct rbuf {
    const uint8_t *p;
    size_t n, at;
    bool bad;
} rbuf_t;

static const uint8_t *take(rbuf_t *b, size_t k)
{
    const uint8_t *q;

    if (b->bad || b->n - b->at < k) {
        b->bad = true;
        return NULL;
    }
    q = b->p + b->at;
    b->at += k;
    return q;
}

static uint64_t get_u64(rbuf_t *b)
{
    const uint8_t *q = take(b, 8);
    uint64_t x = 0;

    for (int i = 0; q && i < 8; i++)
        x |= (uint64_t)q[i] << (8 * i);
    return x;
}

static uint32_t get_u32(rbuf_t *b)
{
    const uint8_t *q = take(b, 4);
    uint32_t x = 0;

    for (int i = 0; q && i < 4; i++)
        x |= (uint32_t)q[i] << (8 * i);
    return x;
}

static double get_f64(rbuf_t *b)
{
    uint64_t v = get_u64(b);
    double x;

    memcpy(&x, &v, sizeof(x));
    return x;
}

// ---- snapshot ----

int carbs_snapshot(const carbs_t *c, uint8_t **buf, size_t *len, carbs_err_t *err)
{
    size_t n = SNAP_MAGIC_LEN + 8 + RNG_STATE_BYTES + 16 + 8 * c->d;
    wbuf_t b;

    *buf = NULL;
    *len = 0;
    for (size_t k = 0; k < CARBS_N_SURROGATES; k++)
        n += 4 + 8 * c->hyper_n[k];
    b.p = carbs_malloc(n);
    b.n = 0;
    if (!b.p)
        return carbs_fail(err, CARBS_ENOMEM, "carbs: out of memory writing a snapshot");
    memcpy(b.p, SNAP_MAGIC, SNAP_MAGIC_LEN);
    b.n = SNAP_MAGIC_LEN;
    put_u32(&b, SNAP_VERSION);
    put_u32(&b, (uint32_t)c->d);
    rng_save(&c->rng, b.p + b.n);
    b.n += RNG_STATE_BYTES;
    put_u64(&b, c->resample_count);
    put_u64(&b, c->oversample);
    for (size_t i = 0; i < c->d; i++)
        put_f64(&b, c->center[i]);
    for (size_t k = 0; k < CARBS_N_SURROGATES; k++) {
        put_u32(&b, (uint32_t)c->hyper_n[k]);
        for (size_t i = 0; i < c->hyper_n[k]; i++)
            put_f64(&b, c->hyper[k][i]);
    }
    *buf = b.p;
    *len = b.n;
    return 0;
}

int carbs_restore(carbs_t *c, const uint8_t *buf, size_t len, carbs_err_t *err)
{
    rbuf_t b = {.p = buf, .n = buf ? len : 0};
    rng_t rng;
    uint32_t version, d, hn[CARBS_N_SURROGATES];
    uint64_t resample_count, oversample;
    double *center = NULL, *hyper[CARBS_N_SURROGATES] = {0};
    const uint8_t *q;
    int rc = 0;

    q = take(&b, SNAP_MAGIC_LEN);
    if (!q || memcmp(q, SNAP_MAGIC, SNAP_MAGIC_LEN) != 0)
        return carbs_fail(err, CARBS_EINVAL, "carbs: not a carbs snapshot");
    version = get_u32(&b);
    if (!b.bad && version > SNAP_VERSION)
        return carbs_fail(err, CARBS_EVERSION, "carbs: snapshot version %u is newer than %u",
                          version, SNAP_VERSION);
    d = get_u32(&b);
    if (b.bad || version == 0)
        return carbs_fail(err, CARBS_EINVAL, "carbs: snapshot header is truncated or invalid");
    if (d != c->d)
        return carbs_fail(err, CARBS_EINVAL,
                          "carbs: snapshot is for %u dimensions, the space has %zu", d, c->d);
    q = take(&b, RNG_STATE_BYTES);
    if (!q || rng_load(&rng, q) < 0)
        return carbs_fail(err, CARBS_EINVAL, "carbs: snapshot generator state is invalid");
    resample_count = get_u64(&b);
    oversample = get_u64(&b);
    if (!b.bad && (oversample == 0 || (oversample & (oversample - 1)) != 0 ||
                   oversample > carbs__oversample_max(c)))
        return carbs_fail(err, CARBS_EINVAL, "carbs: snapshot oversample factor %llu is invalid",
                          (unsigned long long)oversample);
    center = carbs_malloc((c->d ? c->d : 1) * sizeof(*center));
    if (!center)
        return carbs_fail(err, CARBS_ENOMEM, "carbs: out of memory reading a snapshot");
    for (size_t i = 0; i < c->d; i++) {
        center[i] = get_f64(&b);
        if (!b.bad && !isfinite(center[i])) {
            rc = carbs_fail(err, CARBS_EINVAL, "carbs: snapshot search center is not finite");
            goto out;
        }
    }
    for (size_t k = 0; k < CARBS_N_SURROGATES; k++) {
        hn[k] = get_u32(&b);
        if (b.bad)
            break;
        if (hn[k] > SNAP_HYPER_MAX || (size_t)hn[k] * 8 > b.n - b.at) {
            rc = carbs_fail(err, CARBS_EINVAL, "carbs: snapshot is truncated");
            goto out;
        }
        hyper[k] = carbs_malloc((hn[k] ? hn[k] : 1) * sizeof(double));
        if (!hyper[k]) {
            rc = carbs_fail(err, CARBS_ENOMEM, "carbs: out of memory reading a snapshot");
            goto out;
        }
        for (size_t i = 0; i < hn[k]; i++) {
            hyper[k][i] = get_f64(&b);
            if (!isfinite(hyper[k][i])) {
                rc = carbs_fail(err, CARBS_EINVAL, "carbs: snapshot hyperparameter not finite");
                goto out;
            }
        }
    }
    if (b.bad || b.at != b.n) {
        rc = carbs_fail(err, CARBS_EINVAL, "carbs: snapshot is %s",
                        b.bad ? "truncated" : "followed by extra bytes");
        goto out;
    }
    /* commit: nothing below can fail */
    c->rng = rng;
    c->resample_count = resample_count;
    c->oversample = oversample;
    memcpy(c->center, center, c->d * sizeof(*center));
    for (size_t k = 0; k < CARBS_N_SURROGATES; k++) {
        free(c->hyper[k]);
        c->hyper[k] = hyper[k];
        c->hyper_n[k] = hn[k];
        hyper[k] = NULL;
    }
out:
    free(center);
    for (size_t k = 0; k < CARBS_N_SURROGATES; k++)
        free(hyper[k]);
    return rc;
}

// ---- bulk load ----

int carbs_load(carbs_t *c, const carbs_obs_t *obs, size_t n, carbs_err_t *err)
{
    const double sign = c->cfg.better_direction_sign;
    size_t best = SIZE_MAX, n_s0 = carbs__n_s(c);
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        rc = carbs_observe(c, &obs[i], err);
        if (rc < 0 && rc != CARBS_ENOTFOUND) {
            char at[48];

            snprintf(at, sizeof(at), "observation %zu", i);
            carbs_err_prefix(err, at);
            return rc;
        }
    }
    /* The center moves to the best success loaded, never a failure (deviation 4) */
    for (size_t i = n_s0; i < carbs__n_s(c); i++)
        if (best == SIZE_MAX || sign * c->s_y.v[i] > sign * c->s_y.v[best])
            best = i;
    if (best != SIZE_MAX)
        memcpy(c->center, c->s_u.v + best * c->d, c->d * sizeof(*c->center));
    return 0;
}
