/*
 * fuzz.h - what every libFuzzer harness of tests/fuzz/ shares: the two entry
 * points libFuzzer (or replay_main.c) calls, and fuzz_fail(), which reports
 * a broken property and aborts so that libFuzzer and the replay driver
 * count the input as a crash.
 */
#ifndef CARBS_TESTS_FUZZ_H
#define CARBS_TESTS_FUZZ_H

#include "proto/common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Print "fuzz: what: err->msg" and abort.  err may be NULL. */
static inline void fuzz_fail(const char *what, const carbs_err_t *err)
{
    fprintf(stderr, "fuzz: %s: %s\n", what, err ? err->msg : "");
    abort();
}

/* Abort unless a and b hold the same n bytes (two encodings of one value). */
static inline void fuzz_same(const char *what, const char *a, size_t na, const char *b,
                             size_t nb)
{
    if (na != nb || memcmp(a, b, na) != 0) {
        fprintf(stderr, "fuzz: %s:\n  %.*s\n  %.*s\n", what, (int)na, a, (int)nb, b);
        abort();
    }
}

#endif
