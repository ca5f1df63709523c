/*
 * arena.c - bump allocation of 64-byte aligned scratch (docs/style.md H19).
 *
 * The block comes from aligned_alloc so that each piece, rounded to a
 * multiple of 64 bytes, starts on a cache line.  Growing replaces the block
 * rather than chaining a second one: a caller sizes the arena once per public
 * call, so a single contiguous block is enough and keeps push O(1).
 */
#include "proto/common.h"
#include "optimizer/arena.h"

#define ARENA_ALIGN 64 /* cache line; also satisfies every SIMD load BLAS makes */

void arena_init(arena_t *a)
{
    a->base = NULL;
    a->cap = 0;
    a->used = 0;
}

void arena_release(arena_t *a)
{
    if (!a)
        return;
    free(a->base);
    arena_init(a);
}

size_t arena_bytes(size_t n)
{
    return (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
}

int arena_reserve(arena_t *a, size_t bytes)
{
    unsigned char *p;
    size_t cap;

    if (bytes <= a->cap)
        return CARBS_OK;
    cap = arena_bytes(bytes);
    if (cap < bytes || cap > SIZE_MAX - ARENA_ALIGN)
        return CARBS_ENOMEM;
    /* carbs_malloc keeps fault injection working; over-allocate to align. */
    p = carbs_malloc(cap + ARENA_ALIGN);
    if (!p)
        return CARBS_ENOMEM;
    free(a->base);
    a->base = p;
    a->cap = cap;
    a->used = 0;
    return CARBS_OK;
}

static unsigned char *aligned_base(const arena_t *a)
{
    uintptr_t b = (uintptr_t)a->base;
    return a->base + (ARENA_ALIGN - b % ARENA_ALIGN) % ARENA_ALIGN;
}

void *arena_push(arena_t *a, size_t n)
{
    size_t need = arena_bytes(n);
    void *p;

    if (!a->base || need < n || need > a->cap - a->used)
        return NULL;
    p = aligned_base(a) + a->used;
    a->used += need;
    return p;
}

double *arena_push_doubles(arena_t *a, size_t n)
{
    if (n > SIZE_MAX / sizeof(double))
        return NULL;
    return arena_push(a, n * sizeof(double));
}

void arena_reset(arena_t *a)
{
    a->used = 0;
}
