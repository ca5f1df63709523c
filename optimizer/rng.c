/*
 * rng.c - xoshiro256** 1.0 with splitmix64 seeding (proto/splitmix.h), uniforms, normals,
 * bounded integers, and a byte-exact snapshot of the state.
 *
 * References: D. Blackman, S. Vigna, "Scrambled linear pseudorandom number
 * generators", ACM TOMS 47(4), 2021 (xoshiro256**, splitmix64); G. Marsaglia,
 * T. Bray, "A convenient method for generating normal variables", SIAM Review
 * 6(3), 1964 (polar method); D. Lemire, "Fast random integer generation in an
 * interval", ACM TOMACS 29(1), 2019.  The first outputs for a few seeds are
 * committed in tests/data/rng_ref.h by tests/data/gen_rng.py, an independent
 * Python implementation.
 */
#include "proto/common.h"
#include "optimizer/rng.h"

#include <math.h>

#include "proto/splitmix.h"

#define RNG_UNIFORM_SCALE 0x1.0p-53 /* 2^-53: one ulp of [0.5, 1) */

// ---- helpers ----

/* 64 x 64 -> 128-bit products for rng_below; a GCC/Clang extension. */
__extension__ typedef unsigned __int128 u128_t;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

// ---- generator ----

void rng_seed(rng_t *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix_next(&x);
    r->spare = 0.0;
    r->has_spare = false;
}

uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double rng_uniform(rng_t *r)
{
    return (double)(rng_next(r) >> 11) * RNG_UNIFORM_SCALE;
}

double rng_normal(rng_t *r)
{
    double u, v, q, f;

    if (r->has_spare) {
        r->has_spare = false;
        return r->spare;
    }
    do {
        u = 2.0 * rng_uniform(r) - 1.0;
        v = 2.0 * rng_uniform(r) - 1.0;
        q = u * u + v * v;
    } while (q >= 1.0 || q == 0.0);
    f = sqrt(-2.0 * log(q) / q);
    r->spare = v * f;
    r->has_spare = true;
    return u * f;
}

uint64_t rng_below(rng_t *r, uint64_t n)
{
    u128_t m;
    uint64_t lo;

    if (!n)
        return 0;
    m = (u128_t)rng_next(r) * n;
    lo = (uint64_t)m;
    if (lo < n) {
        uint64_t threshold = (0 - n) % n; /* 2^64 mod n */
        while (lo < threshold) {
            m = (u128_t)rng_next(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

// ---- snapshot ----

void rng_save(const rng_t *r, uint8_t buf[RNG_STATE_BYTES])
{
    uint64_t bits;

    memset(buf, 0, RNG_STATE_BYTES);
    for (int i = 0; i < 4; i++)
        put_u64(buf + 8 * i, r->s[i]);
    memcpy(&bits, &r->spare, sizeof(bits));
    put_u64(buf + 32, r->has_spare ? bits : 0);
    buf[40] = r->has_spare ? 1 : 0;
}

int rng_load(rng_t *r, const uint8_t buf[RNG_STATE_BYTES])
{
    uint64_t s[4], bits;
    double spare;

    for (int i = 0; i < 4; i++)
        s[i] = get_u64(buf + 8 * i);
    if (!(s[0] | s[1] | s[2] | s[3]))
        return CARBS_EINVAL;
    if (buf[40] > 1)
        return CARBS_EINVAL;
    for (int i = 41; i < RNG_STATE_BYTES; i++)
        if (buf[i])
            return CARBS_EINVAL;
    bits = get_u64(buf + 32);
    memcpy(&spare, &bits, sizeof(spare));
    if (!isfinite(spare))
        return CARBS_EINVAL;
    memcpy(r->s, s, sizeof(s));
    r->spare = buf[40] ? spare : 0.0;
    r->has_spare = buf[40] == 1;
    return CARBS_OK;
}
