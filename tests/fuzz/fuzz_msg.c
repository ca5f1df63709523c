/*
 * fuzz_msg.c - libFuzzer harness for the protocol codec (proto/msg.c), the
 * export-record array codec (proto/record.c) and the status document
 * (proto/msg_status.c).
 *
 * Property: decoding arbitrary bytes never crashes, leaks or leaves memory
 * behind on failure; and when the bytes decode, the canonical re-encoding
 * decodes again and encodes to the very same bytes (the round trip is
 * stable).  Any violation aborts, which libFuzzer and the replay driver
 * (replay_main.c) report as a crash.
 */
#include "fuzz.h"
#include "proto/json.h"
#include "proto/msg.h"
#include "proto/record.h"

/* Decode, re-encode, decode, re-encode: the two encodings must match. */
static void check_msg(const char *buf, size_t len)
{
    proto_msg_t m, m2;
    carbs_err_t err = {0};
    char *e1 = NULL, *e2 = NULL;
    size_t n1 = 0, n2 = 0;
    int rc = proto_msg_decode(buf, len, &m, &err);

    if (rc < 0) {
        if (m.type != PROTO_MSG_NONE || err.code != rc || !err.msg[0])
            fuzz_fail("failed decode left a message or no error", &err);
        return;
    }
    rc = proto_msg_encode(&m, &e1, &n1, &err);
    if (rc == CARBS_ETOOBIG) { /* canonical numbers can be longer than the input's */
        proto_msg_release(&m);
        return;
    }
    if (rc < 0)
        fuzz_fail("a decoded message does not encode", &err);
    if (proto_msg_decode(e1, n1, &m2, &err) < 0)
        fuzz_fail("an encoding does not decode", &err);
    if (proto_msg_encode(&m2, &e2, &n2, &err) < 0)
        fuzz_fail("a re-decoded message does not encode", &err);
    if (n1 != n2 || memcmp(e1, e2, n1) != 0)
        fuzz_fail("re-encoding is not stable", NULL);
    free(e1);
    free(e2);
    proto_msg_release(&m);
    proto_msg_release(&m2);
}

/* The same property for an array of export records. */
static void check_records(const char *buf, size_t len)
{
    proto_record_t *v = NULL, *v2 = NULL;
    size_t n = 0, n2 = 0, l1 = 0, l2 = 0;
    carbs_err_t err = {0};
    char *e1 = NULL, *e2 = NULL;

    if (proto_records_decode(buf, len, &v, &n, &err) < 0) {
        if (v || n)
            fuzz_fail("failed records decode left records", &err);
        return;
    }
    if (proto_records_encode(v, n, &e1, &l1, &err) < 0)
        fuzz_fail("decoded records do not encode", &err);
    if (proto_records_decode(e1, l1, &v2, &n2, &err) < 0 || n2 != n)
        fuzz_fail("encoded records do not decode", &err);
    if (proto_records_encode(v2, n2, &e2, &l2, &err) < 0)
        fuzz_fail("re-decoded records do not encode", &err);
    if (l1 != l2 || memcmp(e1, e2, l1) != 0)
        fuzz_fail("records re-encoding is not stable", NULL);
    for (size_t i = 0; i < n; i++) {
        proto_record_release(&v[i]);
        proto_record_release(&v2[i]);
    }
    free(v);
    free(v2);
    free(e1);
    free(e2);
}

/* The same property for the status document of a status reply. */
static void check_status(const char *buf, size_t len)
{
    proto_status_t s, s2;
    carbs_err_t err = {0};
    char *e1 = NULL, *e2 = NULL;
    size_t l1 = 0, l2 = 0;

    if (proto_status_decode(buf, len, &s, &err) < 0) {
        if (s.sweeps.v || s.workers.v || s.running.v || !err.msg[0])
            fuzz_fail("failed status decode left entries or no error", &err);
        return;
    }
    if (proto_status_encode(&s, &e1, &l1, &err) < 0)
        fuzz_fail("a decoded status does not encode", &err);
    if (proto_status_decode(e1, l1, &s2, &err) < 0)
        fuzz_fail("an encoded status does not decode", &err);
    if (proto_status_encode(&s2, &e2, &l2, &err) < 0)
        fuzz_fail("a re-decoded status does not encode", &err);
    if (l1 != l2 || memcmp(e1, e2, l1) != 0)
        fuzz_fail("status re-encoding is not stable", NULL);
    proto_status_release(&s);
    proto_status_release(&s2);
    free(e1);
    free(e2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;

    check_msg(buf, size);
    if (size && buf[0] == '[')
        check_records(buf, size);
    if (size > 10 && memcmp(buf, "{\"sweeps\":", 10) == 0)
        check_status(buf, size);
    return 0;
}
