/*
 * test_rng.c - the random stream: committed first outputs (from the
 * independent Python implementation tests/data/gen_rng.py), snapshot
 * continuation, the moments of the normal and uniform draws, bounded
 * integers, and every rejection of rng_load.
 */
#include "proto/common.h"
#include "optimizer/rng.h"

#include <math.h>

#include "proto/splitmix.h"
#include "tests/check.h"
#include "tests/data/rng_ref.h"

#define N_MOMENT_DRAWS 100000

static void test_rng_matches_reference_outputs(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(rng_ref); i++) {
        rng_t r;
        rng_seed(&r, rng_ref[i].seed);
        for (size_t k = 0; k < RNG_REF_N_RAW; k++)
            CHECK(rng_next(&r) == rng_ref[i].raw[k]);
        rng_seed(&r, rng_ref[i].seed);
        for (size_t k = 0; k < RNG_REF_N_UNIFORM; k++)
            CHECK(rng_uniform(&r) == rng_ref[i].uniform[k]); /* exact: one scaling by 2^-53 */
        rng_seed(&r, rng_ref[i].seed);
        for (size_t k = 0; k < RNG_REF_N_NORMAL; k++) {
            double z = rng_ref[i].normal[k];
            /* log and sqrt may differ by an ulp between libms */
            CHECK_NEAR(rng_normal(&r), z, 4e-16 * (1 + fabs(z)));
        }
    }
}

static void test_rng_seeds_give_distinct_streams(void)
{
    rng_t a, b;
    rng_seed(&a, 7919);
    rng_seed(&b, 7920);
    int same = 0;
    for (int k = 0; k < 64; k++)
        same += rng_next(&a) == rng_next(&b);
    CHECK_EQ(same, 0);
    /* re-seeding restarts the stream and drops a cached normal */
    rng_seed(&a, 31337);
    double first = rng_normal(&a);
    rng_seed(&a, 31337);
    CHECK(rng_normal(&a) == first);
}

static void test_rng_save_load_continues_stream(void)
{
    /* Snapshot at an odd number of normals so the cached spare is part of it. */
    for (int spare = 0; spare < 2; spare++) {
        rng_t r, copy;
        uint8_t buf[RNG_STATE_BYTES];
        rng_seed(&r, 0x5eed1234abcdULL);
        for (int k = 0; k < 17 + spare; k++)
            (void)rng_normal(&r);
        (void)rng_uniform(&r);
        rng_save(&r, buf);
        CHECK_EQ(buf[40], spare ? 0 : 1); /* 17 normals leave a spare, 18 do not */
        rng_seed(&copy, 99); /* arbitrary prior state, overwritten by the load */
        CHECK_EQ(rng_load(&copy, buf), CARBS_OK);
        for (int k = 0; k < 1000; k++) {
            double x = rng_normal(&r), y = rng_normal(&copy);
            CHECK(x == y);
            CHECK(rng_next(&r) == rng_next(&copy));
            CHECK(rng_below(&r, 1000003) == rng_below(&copy, 1000003));
        }
        /* save is deterministic and round-trips */
        uint8_t again[RNG_STATE_BYTES];
        rng_save(&r, buf);
        rng_save(&copy, again);
        CHECK(memcmp(buf, again, RNG_STATE_BYTES) == 0);
    }
}

static void test_rng_load_rejects_bad_state(void)
{
    rng_t r, before;
    uint8_t buf[RNG_STATE_BYTES], good[RNG_STATE_BYTES];
    rng_seed(&r, 424242);
    (void)rng_normal(&r);
    rng_save(&r, good);
    before = r;

    memset(buf, 0, sizeof(buf)); /* all-zero xoshiro state */
    CHECK_EQ(rng_load(&r, buf), CARBS_EINVAL);
    memcpy(buf, good, sizeof(buf));
    buf[40] = 2; /* flag byte */
    CHECK_EQ(rng_load(&r, buf), CARBS_EINVAL);
    memcpy(buf, good, sizeof(buf));
    buf[RNG_STATE_BYTES - 1] = 0x80; /* padding */
    CHECK_EQ(rng_load(&r, buf), CARBS_EINVAL);
    memcpy(buf, good, sizeof(buf));
    for (int i = 32; i < 40; i++) /* spare = NaN bit pattern */
        buf[i] = 0xff;
    CHECK_EQ(rng_load(&r, buf), CARBS_EINVAL);
    /* r untouched by every failed load */
    CHECK(memcmp(r.s, before.s, sizeof(r.s)) == 0);
    CHECK(r.has_spare == before.has_spare && r.spare == before.spare);
}

static void test_rng_normal_moments(void)
{
    rng_t r;
    double sum = 0, sum2 = 0, sum4 = 0;
    size_t below = 0;
    rng_seed(&r, 0x0123456789abcdefULL);
    for (int k = 0; k < N_MOMENT_DRAWS; k++) {
        double z = rng_normal(&r);
        sum += z;
        sum2 += z * z;
        sum4 += z * z * z * z;
        below += z < -1.959963984540054;
    }
    double n = N_MOMENT_DRAWS;
    double mean = sum / n, var = sum2 / n - mean * mean, kurt = sum4 / n;
    /* Standard errors at n = 1e5: mean 0.0032, variance 0.0045, E z^4 0.031,
     * tail fraction 0.00049; tolerances are 5 standard errors. */
    CHECK_NEAR(mean, 0.0, 0.016);
    CHECK_NEAR(var, 1.0, 0.023);
    CHECK_NEAR(kurt, 3.0, 0.16);
    CHECK_NEAR((double)below / n, 0.025, 0.0025);
}

static void test_rng_uniform_range_and_moments(void)
{
    rng_t r;
    double sum = 0, sum2 = 0, lo = 1, hi = 0;
    rng_seed(&r, 271828);
    for (int k = 0; k < N_MOMENT_DRAWS; k++) {
        double u = rng_uniform(&r);
        CHECK(u >= 0.0 && u < 1.0);
        sum += u;
        sum2 += u * u;
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
    }
    double n = N_MOMENT_DRAWS, mean = sum / n;
    /* sd of the mean = sqrt(1/12 / n) = 0.00091; of the variance about 0.00027 */
    CHECK_NEAR(mean, 0.5, 0.0046);
    CHECK_NEAR(sum2 / n - mean * mean, 1.0 / 12.0, 0.0014);
    CHECK(lo < 1e-3 && hi > 1 - 1e-3);
}

static void test_rng_below_is_uniform(void)
{
    enum { K = 7 };
    size_t count[K] = {0};
    rng_t r;
    rng_seed(&r, 161803);
    for (int k = 0; k < 70000; k++) {
        uint64_t v = rng_below(&r, K);
        CHECK(v < K);
        if (v < K)
            count[v]++;
    }
    /* expected 10000 each, sd about 93: chi-square with 6 dof below 22.5 (p = 0.001) */
    double chi2 = 0;
    for (int i = 0; i < K; i++)
        chi2 += (count[i] - 10000.0) * (count[i] - 10000.0) / 10000.0;
    CHECK(chi2 < 22.5);
    CHECK_EQ(rng_below(&r, 0), 0);
    CHECK_EQ(rng_below(&r, 1), 0);
    /* a bound near 2^64 exercises the rejection branch without failing */
    uint64_t big = UINT64_MAX - 12345;
    for (int k = 0; k < 100; k++)
        CHECK(rng_below(&r, big) < big);
}

/* proto/splitmix.h: the generator that seeds xoshiro gives the state
 * rng_seed() builds, and its exact bounded draw covers [0, n) evenly, even
 * for an n just above 2^63 where "next % n" would favour the low half 2:1. */
static void test_rng_splitmix_seeds_and_bounds(void)
{
    enum { K = 5 };
    uint64_t st = 20231122, x, hi = 0, n_big = (1ULL << 63) + 12345;
    size_t count[K] = {0};
    rng_t r;

    rng_seed(&r, 20231122);
    for (int i = 0; i < 4; i++)
        CHECK(splitmix_next(&st) == r.s[i]);
    st = 7;
    x = splitmix_next(&st);
    CHECK(splitmix_mix(7) == x);
    CHECK(splitmix_uniform(&st) < 1.0);
    CHECK_EQ(splitmix_below(&st, 0), 0);
    CHECK_EQ(splitmix_below(&st, 1), 0);
    st = 314159;
    for (int k = 0; k < 50000; k++) {
        uint64_t v = splitmix_below(&st, K);
        CHECK(v < K);
        if (v < K)
            count[v]++;
    }
    for (int k = 0; k < K; k++) /* 10000 expected, sd about 89 */
        CHECK(count[k] > 9500 && count[k] < 10500);
    for (int k = 0; k < 4000; k++) {
        uint64_t v = splitmix_below(&st, n_big);
        CHECK(v < n_big);
        hi += v >= n_big / 2;
    }
    CHECK(hi > 1800 && hi < 2200); /* half, not the third a modulo would give */
}

int main(void)
{
    RUN(test_rng_matches_reference_outputs);
    RUN(test_rng_seeds_give_distinct_streams);
    RUN(test_rng_save_load_continues_stream);
    RUN(test_rng_load_rejects_bad_state);
    RUN(test_rng_normal_moments);
    RUN(test_rng_uniform_range_and_moments);
    RUN(test_rng_below_is_uniform);
    RUN(test_rng_splitmix_seeds_and_bounds);
    return check_summary();
}
