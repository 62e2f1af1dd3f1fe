/* test_pjfit.c -- valid ProwJobs are never rejected for fields Herald does not use, and
 * what the producer builds always passes the consumer's checks (issue 11 item 16;
 * common/pjfit.c, event.c). Round trip for every fixture and every oversize case:
 * event_from_prowjob -> event_to_json -> event_from_json. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "event.h"
#include "pjfit.h"
#include "util.h"

#define T_OBS 1795593600000LL

static const char base_pj[] =
    "{\"apiVersion\":\"prow.k8s.io/"
    "v1\",\"kind\":\"ProwJob\",\"metadata\":{\"name\":\"pj-1\","
    "\"labels\":{\"prow.k8s.io/type\":\"postsubmit\"},\"annotations\":{"
    "\"testgrid-num-failures-to-alert\":\"3\"}},\"spec\":{\"type\":\"postsubmit\","
    "\"job\":"
    "\"s3-post-submit\",\"refs\":{\"org\":\"aws-controllers-k8s\",\"repo\":\"s3-"
    "controller\","
    "\"base_ref\":\"v1.2.3\"}},\"status\":{\"state\":\"failure\",\"startTime\":"
    "\"2026-11-24T10:00:00Z\",\"completionTime\":\"2026-11-24T10:10:00Z\","
    "\"description\":"
    "\"Job failed.\"}}";

/* The round trip every published event must survive; returns the producer's event. */
static void round_trip(const cJSON *pj, const char *what, struct event *out)
{
    struct event ev, back;
    char err[512];

    if (event_from_prowjob(&ev, pj, T_OBS, err, sizeof(err)) < 0)
        fail_msg("%s: event_from_prowjob: %s", what, err);
    char *json = event_to_json(&ev);
    assert_non_null(json);
    if (strlen(json) > EVENT_MAX_BYTES)
        fail_msg("%s: %zu bytes", what, strlen(json));
    int rc = event_from_json(&back, json, strlen(json), err, sizeof(err));
    if (rc < 0)
        fail_msg("%s: the consumer would reject it: %s (%s)", what, err,
                 event_error_name(rc));
    assert_string_equal(back.id, ev.id);
    event_release(&back);
    free(json);
    if (out)
        *out = ev;
    else
        event_release(&ev);
}

static cJSON *base(void)
{
    cJSON *pj = cJSON_Parse(base_pj);
    assert_non_null(pj);
    return pj;
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static cJSON *path(cJSON *o, const char *a, const char *b)
{
    cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    return b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

static void test_fixtures_round_trip(void **state)
{
    int n = 0;
    (void)state;
    DIR *d = opendir("tests/fixtures/prowjobs");
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[512], err[256];
        size_t len;
        if (!strstr(e->d_name, ".json"))
            continue;
        snprintf(p, sizeof(p), "tests/fixtures/prowjobs/%.200s", e->d_name);
        char *text = util_read_file(p, 1 << 24, &len, err, sizeof(err));
        assert_non_null(text);
        cJSON *pj = cJSON_Parse(text);
        assert_non_null(pj);
        /* the fixture without a status gets one, as a created ProwJob soon has */
        if (!cJSON_GetObjectItemCaseSensitive(pj, "status"))
            cJSON_AddItemToObject(pj, "status", cJSON_Parse("{\"state\":\"triggered\"}"));
        round_trip(pj, p, NULL);
        cJSON_Delete(pj);
        free(text);
        n++;
    }
    closedir(d);
    assert_true(n >= 2);
    /* and the demo's day of history, line by line */
    FILE *f = fopen("demo/history.ndjson", "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    int lines = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *pj = cJSON_Parse(line);
        assert_non_null(pj);
        round_trip(pj, "demo/history.ndjson", NULL);
        cJSON_Delete(pj);
        lines++;
    }
    free(line);
    fclose(f);
    assert_true(lines > 100);
}

/* kubectl apply's 4.4 kB last-applied-configuration, and any unused long annotation:
 * dropped, the event kept. A long annotation Herald reads: cut and marked. */
static void test_long_annotations(void **state)
{
    struct event ev;
    cJSON *pj = base();
    char *big = repeat('a', 5000);
    (void)state;
    cJSON *ann = path(pj, "metadata", "annotations");
    cJSON_AddStringToObject(ann, "kubectl.kubernetes.io/last-applied-configuration", big);
    cJSON_AddStringToObject(ann, "testgrid-alert-email", big);
    round_trip(pj, "5 kB annotations", &ev);
    assert_null(
        event_annotation(&ev, "kubectl.kubernetes.io/last-applied-configuration"));
    const char *mail = event_annotation(&ev, "testgrid-alert-email");
    assert_non_null(mail);
    assert_int_equal(strlen(mail), EVENT_MAX_FIELD);
    assert_string_equal(mail + EVENT_MAX_FIELD - 3, PJFIT_MARK);
    assert_string_equal(event_annotation(&ev, "testgrid-num-failures-to-alert"), "3");
    event_release(&ev);
    cJSON_Delete(pj);
    free(big);
}

static void test_long_description_and_fields(void **state)
{
    struct event ev;
    cJSON *pj = base();
    char *big = repeat('d', 10 * 1024);
    (void)state;
    cJSON_ReplaceItemInObject(path(pj, "status", NULL), "description",
                              cJSON_CreateString(big));
    cJSON_AddStringToObject(path(pj, "status", NULL), "url", big);
    cJSON_ReplaceItemInObject(path(pj, "spec", "refs"), "base_ref",
                              cJSON_CreateString(big));
    round_trip(pj, "10 kB description", &ev);
    assert_int_equal(strlen(ev.description), EVENT_MAX_FIELD);
    assert_string_equal(ev.description + EVENT_MAX_FIELD - 3, PJFIT_MARK);
    assert_int_equal(strlen(ev.url), EVENT_MAX_FIELD);
    assert_int_equal(strlen(ev.base_ref), EVENT_MAX_FIELD);
    event_release(&ev);
    cJSON_Delete(pj);
    free(big);
}

/* A cut never splits a UTF-8 character. */
static void test_cut_at_character_boundary(void **state)
{
    struct buf b;
    (void)state;
    buf_init(&b, 1 << 20);
    for (int i = 0; i < 3000; i++)
        buf_puts(&b, "\xe2\x82\xac"); /* EURO SIGN, 3 bytes */
    char *s = pjfit_string(b.data, EVENT_MAX_FIELD);
    assert_true(strlen(s) <= EVENT_MAX_FIELD);
    assert_true(util_utf8_valid(s, strlen(s)));
    assert_string_equal(s + strlen(s) - 3, PJFIT_MARK);
    free(s);
    buf_release(&b);
}

/* An oversized label (the consumer used to reject the event after the producer exited
 * 0), an over-long key, a label that is not a string: dropped. */
static void test_oversized_labels(void **state)
{
    struct event ev;
    cJSON *pj = base();
    char *big = repeat('l', 5000), *key = repeat('k', 600);
    (void)state;
    cJSON *lab = path(pj, "metadata", "labels");
    cJSON_AddStringToObject(lab, "team", big);
    cJSON_AddStringToObject(lab, key, "v");
    cJSON_AddNumberToObject(lab, "count", 3);
    cJSON_AddStringToObject(lab, "prow.k8s.io/re-run", "true");
    round_trip(pj, "oversized labels", &ev);
    assert_null(event_label(&ev, "team"));
    assert_null(event_label(&ev, key));
    assert_null(event_label(&ev, "count"));
    assert_string_equal(event_label(&ev, "prow.k8s.io/re-run"), "true");
    event_release(&ev);
    cJSON_Delete(pj);
    free(big);
    free(key);
}

/* reporter_config.slack.report: false -> report false; the rest of slack filtered. */
static void test_reporter_slack(void **state)
{
    struct event ev;
    cJSON *pj = base();
    (void)state;
    cJSON *rc = cJSON_Parse(
        "{\"slack\":{\"channel\":\"#x\",\"job_states_to_report\":[],\"report\":false,"
        "\"deep\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
        "]]}}");
    cJSON_AddItemToObject(path(pj, "spec", NULL), "reporter_config", rc);
    round_trip(pj, "reporter_config.slack", &ev);
    assert_false(ev.report);
    assert_non_null(ev.reporter_slack);
    assert_null(cJSON_GetObjectItemCaseSensitive(ev.reporter_slack, "deep"));
    assert_true(cJSON_IsArray(
        cJSON_GetObjectItemCaseSensitive(ev.reporter_slack, "job_states_to_report")));
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(ev.reporter_slack, "channel")->valuestring,
        "#x");
    event_release(&ev);
    cJSON_Delete(pj);

    /* report: true keeps spec.report */
    pj = base();
    cJSON_AddItemToObject(path(pj, "spec", NULL), "reporter_config",
                          cJSON_Parse("{\"slack\":{\"report\":true}}"));
    round_trip(pj, "slack.report true", &ev);
    assert_true(ev.report);
    event_release(&ev);
    cJSON_Delete(pj);
}

/* Strings with bytes that are not UTF-8 (a cJSON built by hand, or a bucket object). */
static void test_invalid_utf8_fields(void **state)
{
    struct event ev;
    cJSON *pj = base();
    (void)state;
    cJSON_ReplaceItemInObject(path(pj, "status", NULL), "description",
                              cJSON_CreateString("bad \xff\xfe bytes"));
    cJSON_AddStringToObject(path(pj, "metadata", "labels"), "l", "\xc0\xaf");
    round_trip(pj, "invalid UTF-8", &ev);
    assert_string_equal(ev.description, "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
    event_release(&ev);
    cJSON_Delete(pj);
}

/* The worst case: every field at the cap, full of characters JSON escapes six-fold,
 * 32 pulls: still an event, still under EVENT_MAX_BYTES. */
static void test_worst_case_still_fits(void **state)
{
    struct event ev;
    cJSON *pj = base();
    char *ctl = repeat('\x01', 20000);
    (void)state;
    const char *st[] = {"description", "url", "build_id"};
    for (int i = 0; i < 3; i++) {
        cJSON_DeleteItemFromObject(path(pj, "status", NULL), st[i]);
        cJSON_AddStringToObject(path(pj, "status", NULL), st[i], ctl);
    }
    cJSON *refs = path(pj, "spec", "refs");
    cJSON_ReplaceItemInObject(refs, "base_ref", cJSON_CreateString(ctl));
    cJSON_AddStringToObject(refs, "base_sha", ctl);
    cJSON_AddStringToObject(path(pj, "spec", NULL), "cluster", ctl);
    cJSON *pulls = cJSON_AddArrayToObject(refs, "pulls");
    for (int i = 0; i < 40; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "number", i);
        cJSON_AddStringToObject(p, "author", ctl);
        cJSON_AddStringToObject(p, "sha", ctl);
        cJSON_AddStringToObject(p, "title", ctl);
        cJSON_AddStringToObject(p, "link", ctl);
        cJSON_AddItemToArray(pulls, p);
    }
    for (int i = 0; i < 40; i++) {
        char k[32];
        snprintf(k, sizeof(k), "testgrid-x%d", i);
        cJSON_AddStringToObject(path(pj, "metadata", "annotations"), k, ctl);
    }
    round_trip(pj, "worst case", &ev);
    assert_true(ev.npulls >= 1);
    event_release(&ev);
    cJSON_Delete(pj);
    free(ctl);
}

/* A wrong type where Herald needs a value is still named. */
static void test_wrong_types_still_rejected(void **state)
{
    struct event ev;
    char err[256];
    (void)state;
    cJSON *pj =
        cJSON_Parse("{\"spec\":{\"job\":7,\"type\":\"periodic\"},\"status\":{\"state\":"
                    "\"failure\"}}");
    assert_int_equal(event_from_prowjob(&ev, pj, T_OBS, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "spec.job: not a string"));
    cJSON_Delete(pj);
    pj = cJSON_Parse("{\"spec\":{\"job\":\"j\",\"type\":\"periodic\"}}");
    assert_int_equal(event_from_prowjob(&ev, pj, T_OBS, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "status.state: missing"));
    cJSON_Delete(pj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_round_trip),
        cmocka_unit_test(test_long_annotations),
        cmocka_unit_test(test_long_description_and_fields),
        cmocka_unit_test(test_cut_at_character_boundary),
        cmocka_unit_test(test_oversized_labels),
        cmocka_unit_test(test_reporter_slack),
        cmocka_unit_test(test_invalid_utf8_fields),
        cmocka_unit_test(test_worst_case_still_fits),
        cmocka_unit_test(test_wrong_types_still_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
