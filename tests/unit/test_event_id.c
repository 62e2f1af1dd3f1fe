/* test_event_id.c -- the event id event_from_prowjob builds (common/event_prowjob.c)
 * and the producer's last check, event_encode() (common/event.c): issue 11 item 15,
 * where a long ProwJob name gave an id over EVENT_MAX_FIELD that every consumer
 * refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "event.h"
#include "util.h"

#define OBSERVED_MS INT64_C(1795587013512)

/* A ProwJob with metadata.name `name` (NULL: none), spec.job `job`, state `state`
 * and build id "1234". Caller deletes. */
static cJSON *prowjob(const char *name, const char *job, const char *state)
{
    cJSON *pj = cJSON_CreateObject(), *meta, *spec, *status;

    assert_non_null(pj);
    assert_non_null(meta = cJSON_AddObjectToObject(pj, "metadata"));
    if (name)
        assert_non_null(cJSON_AddStringToObject(meta, "name", name));
    assert_non_null(spec = cJSON_AddObjectToObject(pj, "spec"));
    assert_non_null(cJSON_AddStringToObject(spec, "job", job));
    assert_non_null(cJSON_AddStringToObject(spec, "type", "periodic"));
    assert_non_null(status = cJSON_AddObjectToObject(pj, "status"));
    assert_non_null(cJSON_AddStringToObject(status, "state", state));
    assert_non_null(cJSON_AddStringToObject(status, "build_id", "1234"));
    return pj;
}

/* n copies of the UTF-8 sequence unit. Caller frees. */
static char *repeat(const char *unit, size_t n)
{
    size_t ul = strlen(unit);
    char *s = malloc(ul * n + 1);

    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * ul, unit, ul);
    s[ul * n] = '\0';
    return s;
}

/* Normalise pj; the event must be accepted, its id at most EVENT_MAX_ID bytes, valid
 * UTF-8, and the event must pass event_encode() and come back with the same id.
 * Returns the id (caller frees). */
static char *id_of(const cJSON *pj)
{
    struct event ev, back;
    char err[512], *json, *id;

    if (event_from_prowjob(&ev, pj, OBSERVED_MS, err, sizeof(err)) != 0)
        fail_msg("event_from_prowjob: %s", err);
    assert_true(strlen(ev.id) <= EVENT_MAX_ID);
    assert_true(util_utf8_valid(ev.id, strlen(ev.id)));
    if (!(json = event_encode(&ev, err, sizeof(err))))
        fail_msg("event_encode: %s", err);
    if (event_from_json(&back, json, strlen(json), err, sizeof(err)) != 0)
        fail_msg("event_from_json: %s", err);
    assert_string_equal(back.id, ev.id);
    id = strdup(ev.id);
    assert_non_null(id);
    event_release(&back);
    event_release(&ev);
    free(json);
    return id;
}

/* Ids of ordinary ProwJobs are what they always were. */
static void test_short_ids_unchanged(void **state)
{
    cJSON *pj;
    char *id, *name;

    (void)state;
    pj = prowjob("5f0c2a10-1b7e-11f0-9d1e-0a58a9feac02", "lambda-post-submit", "failure");
    id = id_of(pj);
    assert_string_equal(id, "5f0c2a10-1b7e-11f0-9d1e-0a58a9feac02:failure");
    free(id);
    cJSON_Delete(pj);

    pj = prowjob(NULL, "lambda-post-submit", "success");
    id = id_of(pj);
    assert_string_equal(id, "lambda-post-submit:1234:0:success");
    free(id);
    cJSON_Delete(pj);

    /* The longest id kept verbatim: exactly EVENT_MAX_ID bytes. */
    name = repeat("a", EVENT_MAX_ID - strlen(":failure"));
    pj = prowjob(name, "j", "failure");
    id = id_of(pj);
    assert_int_equal(strlen(id), EVENT_MAX_ID);
    assert_int_equal(strncmp(id, name, strlen(name)), 0);
    assert_null(strchr(id, '~'));
    free(id);
    cJSON_Delete(pj);
    free(name);
}

/* The reported case: a 4,090-byte name (under EVENT_MAX_FIELD) made a 4,098-byte id.
 * Now it is the name's first bytes, "~", 32 hex digits of SHA-256 of the whole name
 * (checked against Python's hashlib), and the state. */
static void test_long_name(void **state)
{
    char *name = repeat("n", 4090), want[EVENT_MAX_ID + 1], *id;
    cJSON *pj = prowjob(name, "j", "failure");
    size_t keep = EVENT_MAX_ID - (1 + EVENT_ID_HASH_HEX + 1 + strlen("failure"));

    (void)state;
    id = id_of(pj);
    snprintf(want, sizeof(want), "%.*s~6af564cc3ba1af17c3550eb2b05769a1:failure",
             (int)keep, name);
    assert_string_equal(id, want);
    assert_int_equal(strlen(id), EVENT_MAX_ID);
    free(id);
    /* Deterministic: the same ProwJob again gives the same id. */
    id = id_of(pj);
    assert_string_equal(id, want);
    free(id);
    cJSON_Delete(pj);
    free(name);
}

/* Without a name the id is built from job, build id and start: a long job too. */
static void test_long_job(void **state)
{
    char *job = repeat("j", 300), *id;
    cJSON *pj = prowjob(NULL, job, "error");

    (void)state;
    id = id_of(pj);
    assert_non_null(strstr(id, "~0bb350cf9c30b9367cc36eef7c9f17cc:error"));
    assert_int_equal(strncmp(id, job, 200), 0);
    free(id);
    cJSON_Delete(pj);
    free(job);
}

/* Two long names with the same first EVENT_MAX_ID bytes are two events. */
static void test_long_names_differ(void **state)
{
    char *a = repeat("x", 3000), *b = repeat("x", 3000), *ia, *ib;
    cJSON *pa, *pb;

    (void)state;
    b[2999] = 'y';
    pa = prowjob(a, "j", "failure");
    pb = prowjob(b, "j", "failure");
    ia = id_of(pa);
    ib = id_of(pb);
    assert_string_not_equal(ia, ib);
    /* Same name, other state: other event, same hash part. */
    cJSON_Delete(pb);
    pb = prowjob(a, "j", "success");
    free(ib);
    ib = id_of(pb);
    assert_string_not_equal(ia, ib);
    assert_int_equal(strncmp(ia, ib, strlen(ia) - strlen(":failure")), 0);
    free(ia);
    free(ib);
    cJSON_Delete(pa);
    cJSON_Delete(pb);
    free(a);
    free(b);
}

/* The cut never splits a UTF-8 character, whatever its length and alignment. */
static void test_cut_at_character(void **state)
{
    static const char *const units[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};

    (void)state;
    for (size_t u = 0; u < 3; u++)
        for (size_t pad = 0; pad < 4; pad++) {
            char *chars = repeat(units[u], 1000), *name, *id;
            cJSON *pj;
            size_t n = strlen(chars) + pad + 1;
            assert_non_null(name = malloc(n));
            memset(name, 'p', pad);
            memcpy(name + pad, chars, strlen(chars) + 1);
            pj = prowjob(name, "j", "scheduling");
            id = id_of(pj); /* checks length and UTF-8 */
            assert_non_null(strstr(id, ":scheduling"));
            free(id);
            cJSON_Delete(pj);
            free(name);
            free(chars);
        }
}

/* event_encode refuses what a consumer would refuse, with the consumer's reason. */
static void test_encode_refuses(void **state)
{
    struct event ev;
    char err[512], *json, *big;
    cJSON *pj = prowjob("ok", "j", "failure");

    (void)state;
    assert_int_equal(event_from_prowjob(&ev, pj, OBSERVED_MS, err, sizeof(err)), 0);
    /* An id over EVENT_MAX_FIELD, as the old id construction could make. */
    free(ev.id);
    ev.id = repeat("i", EVENT_MAX_FIELD + 1);
    json = event_encode(&ev, err, sizeof(err));
    assert_null(json);
    assert_non_null(strstr(err, "consumers would reject the event (invalid_event)"));
    assert_non_null(strstr(err, "id: longer than"));
    /* A whole event over EVENT_MAX_BYTES. */
    free(ev.id);
    ev.id = strdup("ok:failure");
    big = repeat("b", 4000);
    for (int i = 0; i < 80; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", i);
        assert_non_null(cJSON_AddStringToObject(ev.annotations, k, big));
    }
    json = event_encode(&ev, err, sizeof(err));
    assert_null(json);
    assert_non_null(strstr(err, "(too_large)"));
    /* And accepts the ordinary event. */
    cJSON_Delete(ev.annotations);
    ev.annotations = cJSON_CreateObject();
    json = event_encode(&ev, err, sizeof(err));
    assert_non_null(json);
    free(json);
    free(big);
    event_release(&ev);
    cJSON_Delete(pj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_ids_unchanged),
        cmocka_unit_test(test_long_name),
        cmocka_unit_test(test_long_job),
        cmocka_unit_test(test_long_names_differ),
        cmocka_unit_test(test_cut_at_character),
        cmocka_unit_test(test_encode_refuses),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
