/*
 * splitmix.h - splitmix64, the project's one small seedable generator, and
 * the draws built on it.
 *
 * splitmix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number
 * generators", OOPSLA 2014) keeps 64 bits of state, adds the golden-ratio
 * increment each call and returns the state passed through a 64-bit
 * finaliser.  It is what seeds optimizer/rng.h's xoshiro256** and the whole
 * generator of the trainer (initial weights, batch windows, the synthetic
 * dataset), the question builder and the synthetic trials: one definition,
 * so that the streams documented in docs/trainer.md and docs/data.md are
 * the streams the code draws.
 *
 * The state is a plain uint64_t owned by the caller (any value is a valid
 * seed, 0 included); nothing here is global.  Every function is static
 * inline and allocates nothing.
 *
 *   splitmix_next     the next 64-bit output;
 *   splitmix_mix      the output for state z without keeping a state: a
 *                     64-bit hash of z (splitmix_next on a copy of z);
 *   splitmix_uniform  the top 53 bits times 2^-53: [0, 1) on a 53-bit grid;
 *   splitmix_below    an exactly uniform integer in [0, n): Lemire's
 *                     multiply-shift with rejection (D. Lemire, "Fast random
 *                     integer generation in an interval", ACM TOMACS 29(1),
 *                     2019), not the slightly biased "next % n".
 */
#ifndef CARBS_PROTO_SPLITMIX_H
#define CARBS_PROTO_SPLITMIX_H

#include <stdint.h>

#define SPLITMIX_GAMMA 0x9e3779b97f4a7c15ULL /* the golden-ratio increment */

/* Advance *state and return the next output. */
static inline uint64_t splitmix_next(uint64_t *state)
{
    uint64_t z = (*state += SPLITMIX_GAMMA);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The output a generator in state z would give next: a well-mixed 64-bit
 * hash of z. */
static inline uint64_t splitmix_mix(uint64_t z)
{
    return splitmix_next(&z);
}

/* Uniform double in [0, 1), a multiple of 2^-53. */
static inline double splitmix_uniform(uint64_t *state)
{
    return (double)(splitmix_next(state) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [0, n), exactly; n must be > 0 (returns 0 for n = 0).
 * Takes one output, and another only with probability below n / 2^64. */
static inline uint64_t splitmix_below(uint64_t *state, uint64_t n)
{
    __extension__ typedef unsigned __int128 splitmix__u128_t;
    splitmix__u128_t m;
    uint64_t lo;

    if (!n)
        return 0;
    m = (splitmix__u128_t)splitmix_next(state) * n;
    lo = (uint64_t)m;
    if (lo < n) {
        uint64_t threshold = (0 - n) % n; /* 2^64 mod n */
        while (lo < threshold) {
            m = (splitmix__u128_t)splitmix_next(state) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

#endif
