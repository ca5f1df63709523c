/*
 * fuzz_record.c - libFuzzer harness for the export record decoder
 * (proto/record.h), as `carbs import` uses it: one record per JSON line.
 * (fuzz_msg.c covers the array form the import message carries.)
 *
 * Properties: decoding arbitrary bytes never crashes or leaks; a failure
 * returns the code in err with a message and leaves the record empty; a
 * decoded record encodes, and that encoding decodes and encodes to the very
 * same bytes (the round trip is stable).
 */
#include "fuzz.h"
#include "proto/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_record_t r, r2;
    carbs_err_t err = {0};
    char *e1 = NULL, *e2 = NULL;
    size_t n1 = 0, n2 = 0;
    int rc = proto_record_decode((const char *)data, size, &r, &err);

    if (rc < 0) {
        if (err.code != rc || !err.msg[0])
            fuzz_fail("a failed decode gave no error", &err);
        if (r.params.n || r.metrics.extra.n || r.sweep[0] || r.worker[0] || r.id)
            fuzz_fail("a failed decode left a record", &err);
        proto_record_release(&r);
        return 0;
    }
    if (proto_record_encode(&r, &e1, &n1, &err) < 0)
        fuzz_fail("a decoded record does not encode", &err);
    if (proto_record_decode(e1, n1, &r2, &err) < 0) {
        fprintf(stderr, "%.*s\n", (int)n1, e1);
        fuzz_fail("an encoded record does not decode", &err);
    }
    if (proto_record_encode(&r2, &e2, &n2, &err) < 0)
        fuzz_fail("a re-decoded record does not encode", &err);
    fuzz_same("record re-encoding is not stable", e1, n1, e2, n2);
    proto_record_release(&r);
    proto_record_release(&r2);
    free(e1);
    free(e2);
    return 0;
}
