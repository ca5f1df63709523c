/*
 * fuzz_init.c - the one-time setup every harness of tests/fuzz/ shares,
 * called by libFuzzer (or replay_main.c) before the first input.
 */
#include "fuzz.h"
#include "proto/json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    UNUSED(argc);
    UNUSED(argv);
    proto_json_init();
    return 0;
}
