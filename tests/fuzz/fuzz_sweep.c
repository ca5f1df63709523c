/*
 * fuzz_sweep.c - libFuzzer harness for the sweep-file parser (proto/sweep.h:
 * YAML and JSON carbs files, W&B sweep files).
 *
 * Properties: parsing arbitrary bytes never crashes or leaks; a failure
 * returns the code in err with a message, leaves *out empty and lists at
 * least one error; a success encodes to canonical JSON that parses again
 * (sweep_spec_from_json) and encodes to the very same bytes.  Text that
 * starts with '{' is parsed a second time as a ".json" file, which turns a
 * YAML fallback into a JSON syntax error.
 */
#include "fuzz.h"
#include "proto/sweep.h"

/* Canonical JSON of a parsed spec must be a fixed point. */
static void check_round_trip(const sweep_spec_t *s)
{
    sweep_spec_t s2 = {0};
    carbs_err_t err = {0};
    char *j1 = NULL, *j2 = NULL;

    if (sweep_spec_to_json(s, &j1, &err) < 0)
        fuzz_fail("a parsed sweep does not encode", &err);
    if (sweep_spec_from_json(j1, &s2, &err) < 0) {
        fprintf(stderr, "%s\n", j1);
        fuzz_fail("the canonical JSON of a parsed sweep does not parse", &err);
    }
    if (sweep_spec_to_json(&s2, &j2, &err) < 0)
        fuzz_fail("a re-parsed sweep does not encode", &err);
    fuzz_same("sweep JSON is not stable", j1, strlen(j1), j2, strlen(j2));
    sweep_spec_release(&s2);
    free(j1);
    free(j2);
}

static void check_parse(const char *buf, size_t len, const char *filename)
{
    sweep_spec_t s = {0};
    sweep_argv_t errors = {0};
    carbs_err_t err = {0};
    int rc = sweep_spec_parse_all(buf, len, filename, &s, &errors, &err);

    if (rc < 0) {
        if (err.code != rc || !err.msg[0])
            fuzz_fail("a failed parse gave no error", &err);
        if (rc != CARBS_ENOMEM && errors.n == 0)
            fuzz_fail("a failed parse listed no error", &err);
        if (s.parameters.n || s.command.n || s.notes.n || s.fixed.n || s.name[0])
            fuzz_fail("a failed parse left a spec", &err);
    } else {
        if (errors.n)
            fuzz_fail("a successful parse listed errors", NULL);
        check_round_trip(&s);
    }
    sweep_spec_release(&s);
    sweep_argv_release(&errors);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;

    check_parse(buf, size, "fuzz.yaml");
    if (size && buf[0] == '{')
        check_parse(buf, size, "fuzz.json");
    return 0;
}
