/*
 * test_arena.c - the scratch arena: alignment, exhaustion, reset, growth,
 * overflow guards and allocation failure.
 */
#include "proto/common.h"
#include "optimizer/arena.h"

#include "tests/check.h"

static void test_arena_push_is_aligned_and_bounded(void)
{
    arena_t a;
    arena_init(&a);
    CHECK(arena_push(&a, 8) == NULL); /* no memory yet */
    CHECK_EQ(arena_bytes(1), 64);
    CHECK_EQ(arena_bytes(64), 64);
    CHECK_EQ(arena_bytes(65), 128);
    CHECK_EQ(arena_reserve(&a, arena_bytes(100) + arena_bytes(7) + arena_bytes(333)), CARBS_OK);
    unsigned char *p = arena_push(&a, 100), *q = arena_push(&a, 7), *r = arena_push(&a, 333);
    CHECK(p && q && r);
    CHECK((uintptr_t)p % 64 == 0 && (uintptr_t)q % 64 == 0 && (uintptr_t)r % 64 == 0);
    CHECK(q >= p + 100 && r >= q + 7);
    memset(p, 0xab, 100); /* writable, no overlap (valgrind/asan check the bounds) */
    memset(q, 0xcd, 7);
    memset(r, 0xef, 333);
    CHECK(p[99] == 0xab && q[0] == 0xcd);
    CHECK(arena_push(&a, 1) == NULL); /* full */
    arena_reset(&a);
    CHECK(arena_push(&a, 100) == p); /* reset forgets, keeps the block */
    arena_release(&a);
    CHECK(a.base == NULL && a.cap == 0);
    arena_release(NULL);
}

static void test_arena_reserve_grows_and_resets(void)
{
    arena_t a;
    arena_init(&a);
    CHECK_EQ(arena_reserve(&a, 640), CARBS_OK);
    double *x = arena_push_doubles(&a, 10);
    CHECK(x != NULL);
    CHECK_EQ(arena_reserve(&a, 320), CARBS_OK); /* no shrink, no reset */
    CHECK_EQ(a.used, 128);
    CHECK_EQ(arena_reserve(&a, 6400), CARBS_OK); /* grows: reset */
    CHECK_EQ(a.used, 0);
    CHECK(a.cap >= 6400);
    CHECK(arena_push_doubles(&a, SIZE_MAX / 4) == NULL); /* size overflow */
    CHECK(arena_push(&a, SIZE_MAX - 10) == NULL);
    carbs_fault_fail_at(1);
    CHECK_EQ(arena_reserve(&a, 1 << 20), CARBS_ENOMEM);
    carbs_fault_fail_at(0);
    CHECK(a.cap >= 6400 && a.cap < (1 << 20)); /* unchanged */
    CHECK_EQ(arena_reserve(&a, SIZE_MAX - 3), CARBS_ENOMEM);   /* rounding wraps */
    CHECK_EQ(arena_reserve(&a, SIZE_MAX - 100), CARBS_ENOMEM); /* alignment slack wraps */
    arena_release(&a);
}

int main(void)
{
    RUN(test_arena_push_is_aligned_and_bounded);
    RUN(test_arena_reserve_grows_and_resets);
    return check_summary();
}
