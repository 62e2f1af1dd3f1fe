/* fuzz_event.c -- libFuzzer target for the event parsers (common/event*.c).
 *
 * Each input goes down both ways an event is read:
 *   - as a Kafka message, to event_from_json (the consumer's path);
 *   - as a ProwJob document, parsed with cJSON and handed to event_from_prowjob
 *     (the producer's path).
 * Whatever either parser accepts must survive event_to_json -> event_from_json, and
 * serialising the re-parsed event must give the same text again; what the producer's
 * path accepts must have an id of at most EVENT_MAX_ID bytes and pass event_encode()
 * (the producer publishes nothing a consumer would refuse). A broken invariant
 * calls abort(), which libFuzzer reports as a crash. Leaks are reported by
 * LeakSanitizer.
 *
 * Built and run by `make fuzz`.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "event.h"
#include "util.h"

/* A fixed "now" so a run is reproducible: 2026-11-25T06:10:13.512Z. */
#define FUZZ_OBSERVED_MS INT64_C(1795587013512)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Report a broken invariant with the text involved and abort. */
static void fail(const char *what, const char *errstr, const char *json)
{
    fprintf(stderr, "fuzz_event: %s\n  error: %s\n  json: %.2000s\n", what,
            errstr ? errstr : "-", json ? json : "-");
    abort();
}

/* What event.h promises about an event either parser accepted. */
static void check_fields(const struct event *ev, const char *via)
{
    if (!ev->id || !ev->job || !ev->type || !ev->state || !ev->labels || !ev->annotations)
        fail(via, "a field event.h says is never NULL is NULL", NULL);
}

/* ev was accepted by one of the parsers: serialise it, parse that back, serialise the
 * result again. Both steps must succeed and the two texts must be equal. */
static void check_round_trip(const struct event *ev, const char *via)
{
    struct event again;
    char err[512];
    char *json, *json2;

    check_fields(ev, via);
    if (!(json = event_to_json(ev)))
        fail(via, "event_to_json returned NULL", NULL);
    if (event_from_json(&again, json, strlen(json), err, sizeof(err)) < 0)
        fail(via, err, json);
    if (!(json2 = event_to_json(&again)))
        fail(via, "event_to_json of the re-parsed event returned NULL", json);
    if (strcmp(json, json2) != 0) {
        fprintf(stderr, "fuzz_event: second serialisation differs:\n  %.2000s\n", json2);
        fail(via, "round trip is not stable", json);
    }
    free(json2);
    free(json);
    event_release(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct event ev;
    char err[512];
    cJSON *pj;

    /* The consumer's path: any bytes at all. */
    if (event_from_json(&ev, text, size, err, sizeof(err)) == 0) {
        check_round_trip(&ev, "event_from_json accepted it");
        event_release(&ev);
    } else if (ev.id || ev.job || ev.labels) {
        fail("event_from_json failed but left the event holding memory", err, NULL);
    }

    /* The producer's path: the document parsed as it reads one. */
    pj = cJSON_ParseWithLength(text, size);
    if (cJSON_IsObject(pj)) {
        if (event_from_prowjob(&ev, pj, FUZZ_OBSERVED_MS, err, sizeof(err)) == 0) {
            check_fields(&ev, "event_from_prowjob accepted it");
            if (!ev.service)
                fail("event_from_prowjob accepted it", "service is NULL", NULL);
            if (strlen(ev.id) > EVENT_MAX_ID)
                fail("event_from_prowjob accepted it", "id longer than EVENT_MAX_ID",
                     ev.id);
            /* The producer refuses deeper input before parsing and checks UTF-8 on
             * every NDJSON line: hold the round trip to those inputs only. */
            if (event_json_depth(text, size) <= EVENT_MAX_DEPTH &&
                util_utf8_valid(text, size)) {
                char *json = event_encode(&ev, err, sizeof(err));
                if (!json)
                    fail("event_from_prowjob accepted it but event_encode refused it",
                         err, NULL);
                free(json);
                check_round_trip(&ev, "event_from_prowjob accepted it");
            }
            event_release(&ev);
        } else if (ev.id || ev.job || ev.labels) {
            fail("event_from_prowjob failed but left the event holding memory", err,
                 NULL);
        }
    }
    cJSON_Delete(pj);
    return 0;
}
