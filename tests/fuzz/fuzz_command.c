/*
 * fuzz_command.c - libFuzzer harness for what a command trial prints
 * (worker/command.h: command_parse_line for a stdout line,
 * command_parse_result_file for the result file).
 *
 * Properties: reading arbitrary bytes never crashes or leaks, and never
 * fails: a line that is not a result leaves the result empty; a result
 * encodes as the nested JSON of proto_result_to_json, and that JSON,
 * printed by a program, reads back as a result that encodes to the very
 * same bytes (what the worker sends on is what the program said).
 */
#include "fuzz.h"

#include <math.h>

#include "proto/json.h"
#include "worker/command.h"

/* The trial's output metric, as a sweep with metric val_bpb would give. */
#define METRIC "val_bpb"
#define COST "wall_seconds" /* a non-finite one fails the result */

static void check_empty(const carbs_result_t *r, const char *what)
{
    if (r->extra.n || r->curve.n || r->message[0])
        fuzz_fail(what, NULL);
    for (int i = 0; i < CARBS_METRIC_COUNT; i++)
        if (!isnan(r->metric[i]))
            fuzz_fail(what, NULL);
}

/* A result found in the input: its JSON must read back as itself. */
static void check_result(const carbs_result_t *r)
{
    carbs_curve_point_t p;
    carbs_result_t r2;
    carbs_err_t err = {0};
    char *j1 = NULL, *j2 = NULL;

    if (proto_result_to_json(r, PROTO_JSON_CURVE, &j1, &err) < 0)
        fuzz_fail("a result read from a program does not encode", &err);
    if (command_parse_line(j1, strlen(j1), METRIC, NULL, &p, &r2) != COMMAND_LINE_RESULT) {
        fprintf(stderr, "%s\n", j1);
        fuzz_fail("the JSON of a result is not a result line", NULL);
    }
    if (proto_result_to_json(&r2, PROTO_JSON_CURVE, &j2, &err) < 0)
        fuzz_fail("a re-read result does not encode", &err);
    fuzz_same("result JSON is not stable", j1, strlen(j1), j2, strlen(j2));
    carbs_result_release(&r2);
    free(j1);
    free(j2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    const char *nl = memchr(buf, '\n', size);
    carbs_curve_point_t p;
    carbs_result_t r;
    command_line_kind_t kind;

    /* A stdout line: the first line of the input. */
    kind = command_parse_line(buf, nl ? (size_t)(nl - buf) : size, METRIC, COST, &p, &r);
    if (kind == COMMAND_LINE_RESULT)
        check_result(&r);
    else if (kind == COMMAND_LINE_PROGRESS || kind == COMMAND_LINE_OTHER)
        check_empty(&r, "a line that is no result left one");
    else
        fuzz_fail("a line of unknown kind", NULL);
    if (kind == COMMAND_LINE_PROGRESS && p.step < 0)
        fuzz_fail("a progress line with a negative step", NULL);
    carbs_result_release(&r);

    /* The whole input as a result file. */
    if (command_parse_result_file(buf, size, METRIC, COST, &r))
        check_result(&r);
    else
        check_empty(&r, "a result file without a result left one");
    carbs_result_release(&r);
    return 0;
}
