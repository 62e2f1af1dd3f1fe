/* test_record.c -- what herald-recorder writes (recorder/record.c): watermark records
 * skipped, run rows from job events, alert rows from alert records. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "record.h"

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static struct config *cfg(void)
{
    static const char y[] =
        "receivers: [ { name: ci, url: \"https://hooks.slack.test/x\" } ]\n";
    char err[512];
    struct config *c = config_parse("t.yaml", y, strlen(y), err, sizeof(err));

    assert_non_null(c);
    return c;
}

static void test_watermarks(void **state)
{
    static const char wm[] =
        "{\"schema\":1,\"kind\":\"watermark\",\"source\":\"replay:h:1:2\","
        "\"watermark_ms\":5,\"partitions\":4,\"final\":false}";
    static const char ev[] =
        "{\"schema\":1,\"id\":\"a:failure\",\"job\":\"j\",\"labels\":"
        "{\"note\":\"watermark\"}}";

    (void)state;
    assert_true(record_is_watermark("watermark", "", 0));
    assert_false(record_is_watermark("alert", wm, strlen(wm))); /* the header decides */
    assert_true(record_is_watermark(NULL, wm, strlen(wm)));
    assert_false(record_is_watermark(NULL, ev, strlen(ev))); /* a value, not the kind */
    assert_false(record_is_watermark(NULL, "not json", 8));
    assert_false(
        record_is_watermark(NULL, "{\"kind\":\"watermark\"", 19)); /* cut short */
}

static void test_helpers(void **state)
{
    char key[64];

    (void)state;
    assert_int_equal(record_run_key("5f0c-9d1e:failure", "failure", key, sizeof(key)), 0);
    assert_string_equal(key, "5f0c-9d1e");
    assert_int_equal(record_run_key("job:1:2:pending", "pending", key, sizeof(key)), 0);
    assert_string_equal(key, "job:1:2");
    assert_int_equal(record_run_key("odd", "failure", key, sizeof(key)), 0);
    assert_string_equal(key, "odd");
    assert_int_equal(record_run_key("abcdef:success", "success", key, 4), -1);
    assert_string_equal(record_cause("failure", NULL, "Job failed."), "test failure");
    assert_string_equal(record_cause("error", "OOM kill", "Job pod was OOM killed"),
                        "infrastructure");
    assert_string_equal(record_cause("failure", NULL, "step timed out after 2h"),
                        "timeout");
    assert_string_equal(record_cause("error", NULL, "Pod got deleted"), "error");
    assert_null(record_cause("success", NULL, NULL));
    assert_null(record_cause("aborted", NULL, "Pod running timeout."));
    assert_true(record_is_version("v1.6.0"));
    assert_true(record_is_version("1.2"));
    assert_false(record_is_version("main"));
    assert_false(record_is_version("v"));
    assert_false(record_is_version(NULL));
}

static void test_run_row(void **state)
{
    static const char post[] =
        "{\"schema\":1,\"id\":\"5f0c:failure\",\"job\":\"lambda-post-submit\",\"type\":"
        "\"postsubmit\",\"state\":\"failure\",\"build_id\":\"18\",\"prowjob\":\"5f0c\","
        "\"org\":\"aws-controllers-k8s\",\"repo\":\"lambda-controller\",\"base_ref\":"
        "\"v1.6.0\","
        "\"base_sha\":\"8e1b\",\"url\":\"https://prow/x\",\"description\":\"Job "
        "failed.\","
        "\"start_time\":\"2026-11-24T12:51:02Z\",\"completion_time\":\"2026-11-24T13:06:"
        "30Z\","
        "\"event_time\":\"2026-11-24T13:06:30Z\",\"observed_time\":\"2026-11-24T13:06:"
        "31Z\","
        "\"report\":true,\"labels\":{\"prow.k8s.io/type\":\"postsubmit\","
        "\"prow.k8s.io/re-run\":\"1\"},\"annotations\":{}}";
    static const char pending[] =
        "{\"schema\":1,\"id\":\"77:pending\",\"job\":\"label-sync\",\"type\":"
        "\"periodic\","
        "\"state\":\"pending\",\"start_time\":\"2026-11-24T12:51:02Z\","
        "\"event_time\":\"2026-11-24T12:51:02Z\",\"observed_time\":\"2026-11-24T12:51:"
        "03Z\","
        "\"labels\":{},\"annotations\":{}}";
    struct config *c = cfg();
    char err[256];
    cJSON *row, *labels;

    (void)state;
    row = record_run(c, post, strlen(post), err, sizeof(err));
    assert_non_null(row);
    assert_string_equal(str(row, "run_key"), "5f0c");
    assert_string_equal(str(row, "service"), "lambda");
    assert_string_equal(str(row, "stage"), "post-submit");
    assert_string_equal(str(row, "tier"), "critical");
    assert_string_equal(str(row, "version"), "v1.6.0"); /* a release stage on a tag */
    assert_string_equal(str(row, "cause"), "test failure");
    assert_int_equal((int)num(row, "state_rank"), 3);
    assert_true(num(row, "end_ms") == 1795525590000.0);
    assert_true(num(row, "start_ms") == 1795524662000.0);
    labels = cJSON_GetObjectItemCaseSensitive(row, "labels");
    assert_string_equal(str(labels, "prow.k8s.io/re-run"), "1");
    assert_null(str(labels, "prow.k8s.io/type")); /* only the labels the history reads */
    cJSON_Delete(row);

    row = record_run(c, pending, strlen(pending), err, sizeof(err));
    assert_non_null(row);
    assert_string_equal(str(row, "org"), "-");
    assert_string_equal(str(row, "repo"), "-");
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(row, "end_ms")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(row, "version")));
    assert_int_equal((int)num(row, "state_rank"), 2);
    cJSON_Delete(row);

    assert_null(record_run(c, "{\"schema\":1,\"id\":\"x\"}", 22, err, sizeof(err)));
    assert_non_null(strstr(err, "event: "));
    config_free(c);
}

static void test_alert_row(void **state)
{
    static const char ok[] =
        "{\"schema\":1,\"alert_id\":\"a1\",\"kind\":\"failure\",\"receiver\":\"ack-"
        "lambda\","
        "\"channel\":\"#ack-lambda\",\"incident\":\"rel:lambda|v1.6.0\",\"service\":"
        "\"lambda\","
        "\"event_ms\":1764583200000,\"first_failure_ms\":1764583100000,"
        "\"sent_ms\":1764583201234,\"slack_ts\":\"1764583201.000100\",\"services\":["
        "\"s3\"],"
        "\"unknown\":\"ignored\"}";
    char err[256];
    cJSON *row;

    (void)state;
    row = record_alert(ok, strlen(ok), err, sizeof(err));
    assert_non_null(row);
    assert_string_equal(str(row, "alert_id"), "a1");
    assert_true(num(row, "sent_ms") == 1764583201234.0);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(row, "job")));
    assert_null(cJSON_GetObjectItemCaseSensitive(row, "unknown"));
    assert_int_equal(
        cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(row, "services")), 1);
    cJSON_Delete(row);

#define BAD(json, why)                                                                   \
    do {                                                                                 \
        assert_null(record_alert(json, strlen(json), err, sizeof(err)));                 \
        if (!strstr(err, why))                                                           \
            fail_msg("%s: \"%s\" does not say \"%s\"", json, err, why);                  \
    } while (0)
    BAD("{\"schema\":1,\"receiver\":\"r\",\"kind\":\"k\",\"sent_ms\":1}",
        "alert_id: missing");
    BAD("{\"schema\":1,\"alert_id\":\"\",\"receiver\":\"r\",\"kind\":\"k\",\"sent_ms\":"
        "1}",
        "alert_id: empty");
    BAD("{\"schema\":1,\"alert_id\":\"a\",\"receiver\":\"r\",\"kind\":\"k\"}",
        "sent_ms: missing");
    BAD("{\"schema\":1,\"alert_id\":\"a\",\"receiver\":\"r\",\"kind\":\"k\",\"sent_ms\":"
        "1.5}",
        "sent_ms: not a time");
    BAD("{\"schema\":1,\"alert_id\":\"a\",\"receiver\":5,\"kind\":\"k\",\"sent_ms\":1}",
        "receiver: not a string");
    BAD("{\"schema\":1,\"alert_id\":\"a\",\"receiver\":\"r\",\"kind\":\"k\",\"sent_ms\":"
        "1,"
        "\"services\":[1]}",
        "services: not a list of strings");
    BAD("{\"schema\":2,\"alert_id\":\"a\",\"receiver\":\"r\",\"kind\":\"k\",\"sent_ms\":"
        "1}",
        "schema: not 1");
    BAD("[1,2]", "not a JSON object");
    BAD("{\"schema\":1,\"alert_id\":\"\xff\"}", "not valid UTF-8");
#undef BAD
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watermarks),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_run_row),
        cmocka_unit_test(test_alert_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
