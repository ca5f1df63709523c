/*
 * arena.h - a bump allocator for per-call scratch in numeric code (docs/style.md H19).
 *
 * An arena_t is a struct the caller owns (arena_init / arena_release).  It
 * holds one block; arena_push hands out 64-byte aligned pieces of it and
 * arena_reset forgets them all at once.  Only arena_reserve allocates, and it
 * is meant for the start of a public call, before any push: kernels then take
 * their scratch with arena_push and never touch the heap.
 *
 * Invariant: used <= cap; base is NULL exactly when cap is 0.
 */
#ifndef CARBS_OPTIMIZER_ARENA_H
#define CARBS_OPTIMIZER_ARENA_H

#include <stddef.h>

typedef struct arena {
    unsigned char *base;
    size_t cap, used;
} arena_t;

/* Make *a an empty arena (no memory). */
void arena_init(arena_t *a);

/* Free what *a owns and make it empty again.  a may be NULL. */
void arena_release(arena_t *a);

/* Make room for at least bytes in total (alignment slack included by the
 * caller through arena_bytes()).  Growing moves the block, so every pointer
 * pushed before is invalid afterwards; the arena is reset when it grows.
 * Returns 0, or CARBS_ENOMEM (the arena is then unchanged). */
int arena_reserve(arena_t *a, size_t bytes);

/* The bytes needed to push a piece of n bytes (n rounded up to 64). */
size_t arena_bytes(size_t n);

/* A 64-byte aligned piece of n bytes, or NULL when the arena is too small.
 * Borrowed: valid until the next arena_reset, arena_reserve or release. */
void *arena_push(arena_t *a, size_t n);

/* Push n doubles (NULL when full, or when n * sizeof(double) overflows). */
double *arena_push_doubles(arena_t *a, size_t n);

/* Forget every piece; keeps the memory. */
void arena_reset(arena_t *a);

#endif
