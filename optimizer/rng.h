/*
 * rng.h - the project's random stream: xoshiro256** seeded by splitmix64.
 *
 * Each handle that needs randomness embeds its own rng_t; there
 * is no global generator.  The generator is xoshiro256** 1.0 (Blackman &
 * Vigna, "Scrambled linear pseudorandom number generators", 2018): 256 bits of
 * state, period 2^256 - 1.  rng_seed() fills the state with four successive
 * outputs of splitmix64 started at the seed, so every 64-bit seed (0 included)
 * gives a valid, distinct stream.
 *
 * Derived draws:
 *   rng_uniform  the top 53 bits of one output times 2^-53: [0, 1), 53-bit grid;
 *   rng_normal   Marsaglia's polar method: pairs of uniforms on (-1, 1)^2 are
 *                kept when inside the unit circle, and give two independent
 *                normals; the second is cached in the state and returned by
 *                the next call;
 *   rng_below    Lemire's multiply-shift with rejection: exactly uniform.
 *
 * rng_save / rng_load write and read the whole state (the cached normal
 * included) as RNG_STATE_BYTES little-endian bytes, so a loaded generator
 * continues the saved stream exactly; a reloaded optimizer calls rng_load,
 * never rng_seed.
 *
 * The fields of rng_t are private: use the functions.  It is a plain struct
 * only so handles can embed it without an allocation.  Not thread-safe: one
 * owner at a time.
 */
#ifndef CARBS_OPTIMIZER_RNG_H
#define CARBS_OPTIMIZER_RNG_H

#include <stdbool.h>
#include <stdint.h>

/* 4 x 8 state bytes, 8 bytes of cached normal, 1 flag byte, 7 zero bytes. */
#define RNG_STATE_BYTES 48

typedef struct rng {
    uint64_t s[4];
    double spare;   /* the cached second normal of the polar method */
    bool has_spare; /* whether spare is waiting to be returned */
} rng_t;

/* Seed r from a 64-bit seed (any value) and drop any cached normal. */
void rng_seed(rng_t *r, uint64_t seed);

/* The next raw 64-bit output. */
uint64_t rng_next(rng_t *r);

/* Uniform double in [0, 1). */
double rng_uniform(rng_t *r);

/* Standard normal draw (mean 0, variance 1). */
double rng_normal(rng_t *r);

/* Uniform integer in [0, n); n must be > 0 (returns 0 for n = 0). */
uint64_t rng_below(rng_t *r, uint64_t n);

/* Write r's complete state to buf. */
void rng_save(const rng_t *r, uint8_t buf[RNG_STATE_BYTES]);

/* Read a state written by rng_save into r.  Returns 0, or CARBS_EINVAL for an
 * all-zero generator state (xoshiro's one fixed point), a flag byte other than
 * 0/1, non-zero padding, or a cached normal that is not finite; r is then
 * unchanged. */
int rng_load(rng_t *r, const uint8_t buf[RNG_STATE_BYTES]);

#endif
