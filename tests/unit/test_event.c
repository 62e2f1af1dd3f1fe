/* test_event.c -- ProwJob -> event, the event's JSON form and its validation
 * (common/event*.c). The ProwJob documents are shaped after tests/fixtures/prowjobs/
 * and demo/history.ndjson. */
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

#define T_OBS 1795593600000LL /* 2026-11-25T08:00:00Z: when the "producer" read it */

/* tests/fixtures/prowjobs/docs_presubmit.json, verbatim: a fresh presubmit with pulls. */
static const char pj_docs_presubmit[] =
    "{\"apiVersion\":\"prow.k8s.io/v1\",\"kind\":\"ProwJob\","
    "\"metadata\":{\"name\":\"32456927-35d9-11e7-8d95-0a580a6c1504\"},"
    "\"spec\":{\"job\":\"pull-test-infra-bazel\",\"decorate\":true,"
    "\"pod_spec\":{\"containers\":[{\"image\":"
    "\"gcr.io/k8s-staging-test-infra/bazelbuild:latest-test-infra\"}]},"
    "\"refs\":{\"base_ref\":\"master\","
    "\"base_sha\":\"064678510782db5b382df478bb374aaa32e577ea\",\"org\":\"kubernetes\","
    "\"pulls\":[{\"author\":\"ixdy\",\"number\":2716,"
    "\"sha\":\"dc32ccc9ea3672ccc523b7cbaa8b00360b4183cd\"}],\"repo\":\"test-infra\"},"
    "\"type\":\"presubmit\"},"
    "\"status\":{\"startTime\":\"2017-05-10T23:34:22.567457Z\",\"state\":\"triggered\"}}";

/* demo/history.ndjson: a failed presubmit of ec2-controller PR 312. */
static const char pj_ec2_presubmit[] =
    "{\"apiVersion\":\"prow.k8s.io/v1\",\"kind\":\"ProwJob\",\"metadata\":{\"name\":"
    "\"d9b108eb-f738-5496-b718-eeba6a821c42\",\"namespace\":\"default\","
    "\"creationTimestamp\":\"2026-11-24T10:18:40Z\",\"labels\":{\"created-by-prow\":"
    "\"true\",\"prow.k8s.io/type\":\"presubmit\",\"prow.k8s.io/job\":\"ec2-unit-test\","
    "\"prow.k8s.io/refs.pull\":\"312\",\"prow.k8s.io/build-id\":\"2125172238054330368\"},"
    "\"annotations\":{\"prow.k8s.io/job\":\"ec2-unit-test\",\"prow.k8s.io/context\":"
    "\"ec2-unit-test\"}},"
    "\"spec\":{\"type\":\"presubmit\",\"job\":\"ec2-unit-test\",\"cluster\":\"build\","
    "\"namespace\":\"test-pods\",\"agent\":\"kubernetes\",\"report\":true,"
    "\"context\":\"ec2-unit-test\",\"refs\":{\"org\":\"aws-controllers-k8s\",\"repo\":"
    "\"ec2-controller\",\"repo_link\":\"https://github.com/aws-controllers-k8s/"
    "ec2-controller\",\"base_ref\":\"main\",\"base_sha\":"
    "\"804984f06565e939a5ffd980e2981c6becaf8e00\",\"pulls\":[{\"number\":312,"
    "\"author\":\"rjain-dev\",\"sha\":\"b2957bdd7c296fd221ae0cb1572d96218ea2dd74\","
    "\"title\":\"Support ipv6 CIDR blocks in SecurityGroup rules\",\"link\":"
    "\"https://github.com/aws-controllers-k8s/ec2-controller/pull/312\"}]}},"
    "\"status\":{\"startTime\":\"2026-11-24T10:18:40Z\",\"state\":\"failure\","
    "\"pendingTime\":\"2026-11-24T10:19:04Z\",\"completionTime\":\"2026-11-24T10:23:"
    "33Z\","
    "\"description\":\"Job failed.\",\"url\":\"https://prow.ack.aws.dev/view/s3/"
    "ack-prow-artifacts/pr-logs/pull/aws-controllers-k8s_ec2-controller/312/"
    "ec2-unit-test/"
    "2125172238054330368\",\"build_id\":\"2125172238054330368\"}}";

/* A tag-triggered postsubmit (shape of history's update-ack-chart runs) on
 * lambda-controller v1.6.0, with Prow reporting off and a Slack reporter config. */
static const char pj_lambda_tag[] =
    "{\"apiVersion\":\"prow.k8s.io/v1\",\"kind\":\"ProwJob\",\"metadata\":{\"name\":"
    "\"96657c0b-4f1f-5784-980d-7fa4793febc1\",\"namespace\":\"default\",\"labels\":{"
    "\"prow.k8s.io/type\":\"postsubmit\",\"prow.k8s.io/job\":\"update-ack-chart\","
    "\"prow.k8s.io/refs.base_ref\":\"v1.6.0\"},\"annotations\":{\"prow.k8s.io/job\":"
    "\"update-ack-chart\"}},"
    "\"spec\":{\"type\":\"postsubmit\",\"job\":\"update-ack-chart\",\"cluster\":"
    "\"default\","
    "\"namespace\":\"test-pods\",\"agent\":\"kubernetes\",\"report\":false,"
    "\"reporter_config\":{\"slack\":{\"channel\":\"#ack-releases\","
    "\"job_states_to_report\":[\"failure\",\"error\"]}},"
    "\"refs\":{\"org\":\"aws-controllers-k8s\",\"repo\":\"lambda-controller\","
    "\"base_ref\":\"v1.6.0\",\"base_sha\":\"d3f4237c1c6ea59e20b2dea5a6e0bcce131c7107\"}},"
    "\"status\":{\"startTime\":\"2026-11-24T09:42:20Z\",\"state\":\"failure\","
    "\"completionTime\":\"2026-11-24T10:01:20Z\",\"description\":\"Job failed.\","
    "\"url\":\"https://prow.ack.aws.dev/view/s3/ack-prow-artifacts/logs/update-ack-chart/"
    "2125163094471610368\",\"build_id\":\"2125163094471610368\"}}";

/* tests/fixtures/prowjobs/prow_integration_periodic.json, trimmed (pod_spec and
 * decoration_config left out), with a status block added: a periodic with only
 * extra_refs (kubernetes/test-infra). */
static const char pj_testinfra_periodic[] =
    "{\"apiVersion\":\"prow.k8s.io/v1\",\"kind\":\"ProwJob\",\"metadata\":{"
    "\"annotations\":{\"prow.k8s.io/context\":\"\",\"prow.k8s.io/job\":"
    "\"ci-k8s-infra-build-cluster-prow-build\",\"testgrid-dashboards\":"
    "\"sig-k8s-infra-prow\",\"testgrid-num-failures-to-alert\":\"6\"},"
    "\"creationTimestamp\":\"2022-07-18T20:30:22Z\",\"generation\":7,"
    "\"labels\":{\"prow.k8s.io/build-id\":\"1549129474832863232\",\"prow.k8s.io/id\":"
    "\"test-job2\",\"prow.k8s.io/type\":\"periodic\",\"foo\":\"bar\"},"
    "\"name\":\"test-job2\",\"namespace\":\"default\"},"
    "\"spec\":{\"agent\":\"tekton-pipeline\",\"cluster\":\"k8s-infra-prow-build\","
    "\"extra_refs\":[{\"base_ref\":\"master\",\"org\":\"kubernetes\",\"repo\":"
    "\"test-infra\"},{\"base_ref\":\"main\",\"org\":\"other\",\"repo\":\"second\"}],"
    "\"job\":\"ci-k8s-infra-build-cluster-prow-build\",\"max_concurrency\":1,"
    "\"namespace\":\"test-pods\",\"prowjob_defaults\":{\"tenant_id\":\"GlobalDefaultID\"}"
    ","
    "\"report\":true,\"type\":\"periodic\"},"
    "\"status\":{\"startTime\":\"2026-11-24T02:10:12Z\",\"state\":\"error\","
    "\"completionTime\":\"2026-11-24T04:23:44.250+02:00\",\"build_id\":"
    "\"1549129474832863232\"}}";

/* demo/history.ndjson: label-sync, a periodic with no refs at all. */
static const char pj_label_sync[] =
    "{\"apiVersion\":\"prow.k8s.io/v1\",\"kind\":\"ProwJob\",\"metadata\":{\"name\":"
    "\"3590b1dc-758c-51f1-9af6-6a57279f354d\",\"namespace\":\"default\","
    "\"creationTimestamp\":\"2026-11-24T00:47:03Z\",\"labels\":{\"created-by-prow\":"
    "\"true\",\"prow.k8s.io/type\":\"periodic\",\"prow.k8s.io/job\":\"label-sync\"},"
    "\"annotations\":{\"prow.k8s.io/job\":\"label-sync\",\"prow.k8s.io/context\":\"\"}},"
    "\"spec\":{\"type\":\"periodic\",\"job\":\"label-sync\",\"cluster\":\"default\","
    "\"namespace\":\"test-pods\",\"agent\":\"kubernetes\",\"report\":true},"
    "\"status\":{\"startTime\":\"2026-11-24T00:47:03Z\",\"state\":\"success\","
    "\"pendingTime\":\"2026-11-24T00:47:11Z\",\"completionTime\":\"2026-11-24T00:50:"
    "01Z\","
    "\"description\":\"Job succeeded.\",\"url\":\"https://prow.ack.aws.dev/view/s3/"
    "ack-prow-artifacts/logs/label-sync/2125028386010042368\",\"build_id\":"
    "\"2125028386010042368\"}}";

/* tests/fixtures/prowjobs/prow_integration_periodic.json's shape: no status block. */
static const char pj_no_status[] =
    "{\"apiVersion\":\"prow.k8s.io/v1\",\"kind\":\"ProwJob\",\"metadata\":{\"name\":"
    "\"test-job2\",\"namespace\":\"default\"},\"spec\":{\"extra_refs\":[{\"base_ref\":"
    "\"master\",\"org\":\"kubernetes\",\"repo\":\"test-infra\"}],\"job\":"
    "\"ci-k8s-infra-build-cluster-prow-build\",\"report\":true,\"type\":\"periodic\"}}";

/* A minimal valid event in the Kafka schema. */
static const char ev_minimal[] =
    "{\"schema\":1,\"id\":\"pj-1:failure\",\"job\":\"s3-post-submit\",\"type\":"
    "\"postsubmit\",\"state\":\"failure\",\"event_time\":\"2026-11-25T10:00:00Z\"}";

/* ---- helpers ---- */

/* Parse `json` with cJSON and run event_from_prowjob on it. */
static int from_pj(struct event *ev, const char *json, char *err, size_t errsize)
{
    cJSON *pj = cJSON_Parse(json);
    int rc;

    assert_non_null(pj);
    err[0] = '\0';
    rc = event_from_prowjob(ev, pj, T_OBS, err, errsize);
    cJSON_Delete(pj);
    return rc;
}

static void assert_str(const char *got, const char *want)
{
    if (!got)
        fail_msg("got NULL, want \"%s\"", want);
    assert_string_equal(got, want);
}

/* A rejected ProwJob: -1, an error containing `want`, and the event left released. */
static void assert_pj_rejected(const char *json, const char *want)
{
    struct event ev;
    char err[256];

    assert_int_equal(from_pj(&ev, json, err, sizeof(err)), -1);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
    assert_null(ev.id);
    assert_null(ev.job);
    assert_null(ev.labels);
    assert_int_equal(ev.npulls, 0);
}

/* A rejected event: a negative event_error, an error containing `want`, and the
 * event left released. */
static void assert_json_rejected(const char *data, size_t len, const char *want)
{
    struct event ev;
    char err[256] = "";

    assert_true(event_from_json(&ev, data, len, err, sizeof(err)) < 0);
    if (!strstr(err, want))
        fail_msg("error \"%s\" does not contain \"%s\"", err, want);
    assert_null(ev.id);
    assert_null(ev.job);
    assert_null(ev.labels);
}

static void assert_json_rejected_s(const char *data, const char *want)
{
    assert_json_rejected(data, strlen(data), want);
}

/* ---- event_from_prowjob ---- */

static void test_pj_docs_presubmit(void **state)
{
    struct event ev;
    char err[256];

    (void)state;
    assert_int_equal(from_pj(&ev, pj_docs_presubmit, err, sizeof(err)), 0);
    assert_int_equal(ev.schema, EVENT_SCHEMA_VERSION);
    assert_str(ev.id, "32456927-35d9-11e7-8d95-0a580a6c1504:triggered");
    assert_str(ev.prowjob, "32456927-35d9-11e7-8d95-0a580a6c1504");
    assert_str(ev.job, "pull-test-infra-bazel");
    assert_str(ev.type, "presubmit");
    assert_str(ev.state, "triggered");
    assert_str(ev.org, "kubernetes");
    assert_str(ev.repo, "test-infra");
    assert_str(ev.base_ref, "master");
    assert_str(ev.base_sha, "064678510782db5b382df478bb374aaa32e577ea");
    assert_int_equal(ev.npulls, 1);
    assert_int_equal(ev.pulls[0].number, 2716);
    assert_str(ev.pulls[0].author, "ixdy");
    assert_str(ev.pulls[0].sha, "dc32ccc9ea3672ccc523b7cbaa8b00360b4183cd");
    assert_null(ev.pulls[0].title);
    assert_null(ev.pulls[0].link);
    assert_null(ev.url);
    assert_null(ev.description);
    assert_null(ev.build_id);
    assert_null(ev.cluster);
    /* still running: event time = start time */
    assert_int_equal(ev.start_ms, 1494459262567LL);
    assert_int_equal(ev.completion_ms, 0);
    assert_int_equal(ev.event_ms, 1494459262567LL);
    assert_int_equal(ev.observed_ms, T_OBS);
    assert_true(ev.report); /* absent = on */
    assert_str(ev.service, "test-infra");
    /* labels/annotations absent: empty objects, never NULL */
    assert_non_null(ev.labels);
    assert_non_null(ev.annotations);
    assert_int_equal(cJSON_GetArraySize(ev.labels), 0);
    assert_null(ev.reporter_slack);
    assert_false(event_is_final(&ev));
    assert_false(event_is_failure(&ev));
    event_release(&ev);
    assert_null(ev.id);
}

static void test_pj_presubmit_with_pulls(void **state)
{
    struct event ev;
    char err[256], key[128];

    (void)state;
    assert_int_equal(from_pj(&ev, pj_ec2_presubmit, err, sizeof(err)), 0);
    assert_str(ev.id, "d9b108eb-f738-5496-b718-eeba6a821c42:failure");
    assert_str(ev.job, "ec2-unit-test");
    assert_str(ev.type, "presubmit");
    assert_str(ev.state, "failure");
    assert_str(ev.org, "aws-controllers-k8s");
    assert_str(ev.repo, "ec2-controller");
    assert_str(ev.base_ref, "main");
    assert_str(ev.cluster, "build");
    assert_str(ev.build_id, "2125172238054330368");
    assert_str(ev.description, "Job failed.");
    assert_str(ev.url, "https://prow.ack.aws.dev/view/s3/ack-prow-artifacts/pr-logs/pull/"
                       "aws-controllers-k8s_ec2-controller/312/ec2-unit-test/"
                       "2125172238054330368");
    assert_int_equal(ev.npulls, 1);
    assert_int_equal(ev.pulls[0].number, 312);
    assert_str(ev.pulls[0].author, "rjain-dev");
    assert_str(ev.pulls[0].title, "Support ipv6 CIDR blocks in SecurityGroup rules");
    assert_str(ev.pulls[0].link,
               "https://github.com/aws-controllers-k8s/ec2-controller/pull/312");
    assert_int_equal(ev.start_ms, 1795515520000LL);      /* 10:18:40Z */
    assert_int_equal(ev.completion_ms, 1795515813000LL); /* 10:23:33Z */
    assert_int_equal(ev.event_ms, ev.completion_ms);
    assert_str(ev.service, "ec2");
    assert_str(event_label(&ev, "prow.k8s.io/refs.pull"), "312");
    assert_str(event_annotation(&ev, "prow.k8s.io/context"), "ec2-unit-test");
    assert_null(event_label(&ev, "no-such-label"));
    assert_true(event_is_final(&ev));
    assert_true(event_is_failure(&ev));
    assert_int_equal(event_key(&ev, key, sizeof(key)),
                     (int)strlen("aws-controllers-k8s/ec2-controller/ec2-unit-test"));
    assert_string_equal(key, "aws-controllers-k8s/ec2-controller/ec2-unit-test");
    event_release(&ev);
}

static void test_pj_tag_postsubmit(void **state)
{
    struct event ev;
    char err[256];
    const cJSON *ch;

    (void)state;
    assert_int_equal(from_pj(&ev, pj_lambda_tag, err, sizeof(err)), 0);
    assert_str(ev.id, "96657c0b-4f1f-5784-980d-7fa4793febc1:failure");
    assert_str(ev.job, "update-ack-chart");
    assert_str(ev.type, "postsubmit");
    assert_str(ev.repo, "lambda-controller");
    assert_str(ev.base_ref, "v1.6.0"); /* the tag */
    assert_str(ev.base_sha, "d3f4237c1c6ea59e20b2dea5a6e0bcce131c7107");
    assert_int_equal(ev.npulls, 0);
    assert_null(ev.pulls);
    assert_int_equal(ev.start_ms, 1795513340000LL);      /* 09:42:20Z */
    assert_int_equal(ev.completion_ms, 1795514480000LL); /* 10:01:20Z */
    assert_int_equal(ev.event_ms, 1795514480000LL);
    assert_str(ev.service, "lambda");
    assert_false(ev.report);
    assert_non_null(ev.reporter_slack);
    ch = cJSON_GetObjectItemCaseSensitive(ev.reporter_slack, "channel");
    assert_true(cJSON_IsString(ch));
    assert_string_equal(ch->valuestring, "#ack-releases");
    event_release(&ev);
}

static void test_pj_periodic_extra_refs(void **state)
{
    struct event ev;
    char err[256], key[128];

    (void)state;
    assert_int_equal(from_pj(&ev, pj_testinfra_periodic, err, sizeof(err)), 0);
    assert_str(ev.id, "test-job2:error");
    assert_str(ev.job, "ci-k8s-infra-build-cluster-prow-build");
    assert_str(ev.type, "periodic");
    assert_str(ev.state, "error");
    /* the first extra_ref, not the second */
    assert_str(ev.org, "kubernetes");
    assert_str(ev.repo, "test-infra");
    assert_str(ev.base_ref, "master");
    assert_str(ev.cluster, "k8s-infra-prow-build");
    assert_str(ev.service, "test-infra");
    assert_int_equal(ev.start_ms, 1795486212000LL); /* 02:10:12Z */
    /* 04:23:44.250+02:00 = 02:23:44.250Z */
    assert_int_equal(ev.completion_ms, 1795487024250LL);
    assert_int_equal(ev.event_ms, 1795487024250LL);
    assert_str(event_label(&ev, "foo"), "bar");
    assert_str(event_annotation(&ev, "testgrid-num-failures-to-alert"), "6");
    assert_true(event_is_failure(&ev));
    assert_true(event_key(&ev, key, sizeof(key)) > 0);
    assert_string_equal(key,
                        "kubernetes/test-infra/ci-k8s-infra-build-cluster-prow-build");
    event_release(&ev);
}

static void test_pj_periodic_no_refs(void **state)
{
    struct event ev;
    char err[256], key[64];

    (void)state;
    assert_int_equal(from_pj(&ev, pj_label_sync, err, sizeof(err)), 0);
    assert_str(ev.id, "3590b1dc-758c-51f1-9af6-6a57279f354d:success");
    assert_null(ev.org);
    assert_null(ev.repo);
    assert_null(ev.base_ref);
    assert_int_equal(ev.completion_ms, 1795481401000LL); /* 00:50:01Z */
    assert_int_equal(ev.event_ms, ev.completion_ms);
    assert_str(ev.service, "unknown");
    assert_true(event_is_final(&ev));
    assert_false(event_is_failure(&ev));
    assert_int_equal(event_key(&ev, key, sizeof(key)), (int)strlen("-/-/label-sync"));
    assert_string_equal(key, "-/-/label-sync");
    /* too small a buffer: -1 */
    assert_int_equal(event_key(&ev, key, 8), -1);
    event_release(&ev);
}

static void test_pj_no_times_uses_observed(void **state)
{
    static const char pj[] =
        "{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"job\":\"s3-kind-e2e\",\"type\":"
        "\"presubmit\",\"refs\":{\"org\":\"aws-controllers-k8s\",\"repo\":\"s3-"
        "controller\","
        "\"pulls\":[{\"number\":7}]}},\"status\":{\"state\":\"pending\",\"startTime\":"
        "\"\"}}";
    struct event ev;
    char err[256];

    (void)state;
    assert_int_equal(from_pj(&ev, pj, err, sizeof(err)), 0);
    assert_int_equal(ev.start_ms, 0);
    assert_int_equal(ev.completion_ms, 0);
    assert_int_equal(ev.event_ms, T_OBS);
    assert_str(ev.id, "n1:pending");
    assert_str(ev.service, "s3");
    assert_int_equal(ev.npulls, 1);
    assert_int_equal(ev.pulls[0].number, 7);
    event_release(&ev);
}

static void test_pj_id_without_name(void **state)
{
    static const char pj[] =
        "{\"spec\":{\"job\":\"s3-post-submit\",\"type\":\"postsubmit\"},"
        "\"status\":{\"state\":\"failure\",\"build_id\":\"42\","
        "\"startTime\":\"2026-11-25T10:00:00Z\"}}";
    struct event ev;
    char err[256];

    (void)state;
    assert_int_equal(from_pj(&ev, pj, err, sizeof(err)), 0);
    /* still deterministic: job, build id, start time, state */
    assert_str(ev.id, "s3-post-submit:42:1795600800000:failure");
    assert_null(ev.prowjob);
    /* no refs: the service comes from the job name */
    assert_str(ev.service, "s3");
    event_release(&ev);
}

static void test_pj_pulls_capped(void **state)
{
    struct buf b;
    struct event ev;
    char err[256];

    (void)state;
    buf_init(&b, 64 * 1024);
    assert_int_equal(buf_puts(&b,
                              "{\"metadata\":{\"name\":\"batch-1\"},\"spec\":{\"job\":"
                              "\"pull-batch\",\"type\":\"batch\",\"refs\":{\"org\":\"o\","
                              "\"repo\":\"r\",\"pulls\":["),
                     0);
    for (int i = 0; i < EVENT_MAX_PULLS + 8; i++)
        assert_int_equal(buf_printf(&b, "%s{\"number\":%d}", i ? "," : "", 100 + i), 0);
    assert_int_equal(buf_puts(&b, "]}},\"status\":{\"state\":\"pending\"}}"), 0);
    assert_int_equal(from_pj(&ev, b.data, err, sizeof(err)), 0);
    assert_int_equal(ev.npulls, EVENT_MAX_PULLS);
    assert_int_equal(ev.pulls[0].number, 100);
    assert_int_equal(ev.pulls[EVENT_MAX_PULLS - 1].number, 100 + EVENT_MAX_PULLS - 1);
    event_release(&ev);
    buf_release(&b);
}

static void test_pj_rejections(void **state)
{
    (void)state;
    assert_pj_rejected(
        "{\"metadata\":{\"name\":\"x\"},\"status\":{\"state\":\"failure\"}}",
        "spec: missing or not an object");
    assert_pj_rejected("{\"spec\":\"periodic\",\"status\":{\"state\":\"failure\"}}",
                       "spec: missing or not an object");
    assert_pj_rejected("[1,2]", "not a JSON object");
    assert_pj_rejected("{\"spec\":{\"job\":5,\"type\":\"periodic\"},"
                       "\"status\":{\"state\":\"failure\"}}",
                       "spec.job: not a string");
    assert_pj_rejected(
        "{\"spec\":{\"type\":\"periodic\"},\"status\":{\"state\":\"failure\"}}",
        "spec.job: missing");
    assert_pj_rejected("{\"spec\":{\"job\":\"j\"},\"status\":{\"state\":\"failure\"}}",
                       "spec.type: missing");
    assert_pj_rejected("{\"spec\":{\"job\":\"j\",\"type\":\"nightly\"},"
                       "\"status\":{\"state\":\"failure\"}}",
                       "type: unknown job type \"nightly\"");
    assert_pj_rejected("{\"spec\":{\"job\":\"j\",\"type\":\"periodic\"},"
                       "\"status\":{\"state\":\"exploded\"}}",
                       "state: unknown job state \"exploded\"");
    assert_pj_rejected(pj_no_status, "status.state: missing");
    assert_pj_rejected("{\"spec\":{\"job\":\"j\",\"type\":\"periodic\"},\"status\":{}}",
                       "status.state: missing");
    assert_pj_rejected(
        "{\"spec\":{\"job\":\"j\",\"type\":\"periodic\"},\"status\":\"done\"}",
        "status: not an object");
    assert_pj_rejected("{\"metadata\":[],\"spec\":{\"job\":\"j\",\"type\":\"periodic\"},"
                       "\"status\":{\"state\":\"failure\"}}",
                       "metadata: not an object");
    assert_pj_rejected(
        "{\"spec\":{\"job\":\"j\",\"type\":\"periodic\"},\"status\":{\"state\":"
        "\"failure\",\"completionTime\":\"2026-13-01T00:00:00Z\"}}",
        "status.completionTime: not an RFC 3339 time");
    assert_pj_rejected(
        "{\"spec\":{\"job\":\"j\",\"type\":\"periodic\"},\"status\":{\"state\":"
        "\"failure\",\"startTime\":\"yesterday\"}}",
        "status.startTime: not an RFC 3339 time: \"yesterday\"");
    assert_pj_rejected(
        "{\"spec\":{\"job\":\"j\",\"type\":\"periodic\"},\"status\":{\"state\":"
        "\"failure\",\"startTime\":1795600800}}",
        "status.startTime: not a string");
    assert_pj_rejected(
        "{\"spec\":{\"job\":\"j\",\"type\":\"periodic\",\"report\":\"yes\"},"
        "\"status\":{\"state\":\"failure\"}}",
        "spec.report: not a boolean");
    assert_pj_rejected(
        "{\"spec\":{\"job\":\"j\",\"type\":\"periodic\",\"extra_refs\":{}},"
        "\"status\":{\"state\":\"failure\"}}",
        "spec.extra_refs: not an array");
    assert_pj_rejected(
        "{\"spec\":{\"job\":\"j\",\"type\":\"presubmit\",\"refs\":\"main\"},"
        "\"status\":{\"state\":\"failure\"}}",
        "spec.refs: not an object");
    assert_pj_rejected(
        "{\"spec\":{\"job\":\"j\",\"type\":\"presubmit\",\"refs\":{\"org\":\"o\","
        "\"pulls\":{\"number\":1}}},\"status\":{\"state\":\"failure\"}}",
        "spec.refs.pulls: not an array");
    assert_pj_rejected(
        "{\"spec\":{\"job\":\"j\",\"type\":\"presubmit\",\"refs\":{\"org\":\"o\","
        "\"pulls\":[{\"author\":\"a\"}]}},\"status\":{\"state\":\"failure\"}}",
        "spec.refs.pulls[0].number: missing or not a number");
}

static void test_pj_field_too_long(void **state)
{
    struct buf b;
    struct event ev;
    char err[256];

    (void)state;
    buf_init(&b, 64 * 1024);
    assert_int_equal(buf_puts(&b, "{\"spec\":{\"job\":\"j\",\"type\":\"periodic\"},"
                                  "\"status\":{\"state\":\"failure\",\"description\":\""),
                     0);
    for (int i = 0; i < EVENT_MAX_FIELD + 1; i++)
        assert_int_equal(buf_append(&b, "d", 1), 0);
    assert_int_equal(buf_puts(&b, "\"}}"), 0);
    /* Cut at 4096 bytes and marked with U+2026, not rejected (issue 11 item 16). */
    assert_int_equal(from_pj(&ev, b.data, err, sizeof(err)), 0);
    assert_int_equal(strlen(ev.description), EVENT_MAX_FIELD);
    assert_string_equal(ev.description + EVENT_MAX_FIELD - 3, "\xe2\x80\xa6");
    event_release(&ev);
    buf_release(&b);
}

/* ---- event_to_json / event_from_json ---- */

static void assert_events_equal(const struct event *a, const struct event *b)
{
    const char *const sa[] = {a->id,       a->job,      a->type, a->state,
                              a->build_id, a->prowjob,  a->org,  a->repo,
                              a->base_ref, a->base_sha, a->url,  a->description,
                              a->cluster,  a->service};
    const char *const sb[] = {b->id,       b->job,      b->type, b->state,
                              b->build_id, b->prowjob,  b->org,  b->repo,
                              b->base_ref, b->base_sha, b->url,  b->description,
                              b->cluster,  b->service};

    for (size_t i = 0; i < sizeof(sa) / sizeof(sa[0]); i++) {
        if (!sa[i] || !sb[i]) {
            if (sa[i] != sb[i])
                fail_msg("string field %zu: \"%s\" vs \"%s\"", i,
                         sa[i] ? sa[i] : "(null)", sb[i] ? sb[i] : "(null)");
            continue;
        }
        assert_string_equal(sa[i], sb[i]);
    }
    assert_int_equal(a->schema, b->schema);
    assert_int_equal(a->start_ms, b->start_ms);
    assert_int_equal(a->completion_ms, b->completion_ms);
    assert_int_equal(a->event_ms, b->event_ms);
    assert_int_equal(a->observed_ms, b->observed_ms);
    assert_int_equal(a->report, b->report);
    assert_int_equal(a->npulls, b->npulls);
    for (size_t i = 0; i < a->npulls; i++) {
        const struct event_pull *pa = &a->pulls[i], *pb = &b->pulls[i];
        assert_int_equal(pa->number, pb->number);
        const char *const xa[] = {pa->author, pa->sha, pa->title, pa->link};
        const char *const xb[] = {pb->author, pb->sha, pb->title, pb->link};
        for (size_t j = 0; j < 4; j++) {
            if (!xa[j] || !xb[j])
                assert_ptr_equal(xa[j], xb[j]);
            else
                assert_string_equal(xa[j], xb[j]);
        }
    }
    assert_true(cJSON_Compare(a->labels, b->labels, 1));
    assert_true(cJSON_Compare(a->annotations, b->annotations, 1));
    if (a->reporter_slack || b->reporter_slack)
        assert_true(cJSON_Compare(a->reporter_slack, b->reporter_slack, 1));
}

static void roundtrip(const char *pj)
{
    struct event a, b;
    char err[256];
    char *json;

    assert_int_equal(from_pj(&a, pj, err, sizeof(err)), 0);
    json = event_to_json(&a);
    assert_non_null(json);
    err[0] = '\0';
    if (event_from_json(&b, json, strlen(json), err, sizeof(err)) != 0)
        fail_msg("event_from_json rejected event_to_json's output: %s\n%s", err, json);
    assert_events_equal(&a, &b);
    /* serialising again gives the same bytes */
    char *json2 = event_to_json(&b);
    assert_non_null(json2);
    assert_string_equal(json, json2);
    free(json2);
    free(json);
    event_release(&a);
    event_release(&b);
}

static void test_json_roundtrip(void **state)
{
    (void)state;
    roundtrip(pj_docs_presubmit);
    roundtrip(pj_ec2_presubmit);
    roundtrip(pj_lambda_tag);
    roundtrip(pj_testinfra_periodic);
    roundtrip(pj_label_sync);
}

static void test_json_shape(void **state)
{
    struct event ev;
    char err[256];
    char *json;
    cJSON *o;

    (void)state;
    assert_int_equal(from_pj(&ev, pj_lambda_tag, err, sizeof(err)), 0);
    json = event_to_json(&ev);
    assert_non_null(json);
    o = cJSON_Parse(json);
    assert_non_null(o);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "schema")->valueint, 1);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "id")->valuestring,
                        "96657c0b-4f1f-5784-980d-7fa4793febc1:failure");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "event_time")->valuestring,
                        "2026-11-24T10:01:20.000Z");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "base_ref")->valuestring,
                        "v1.6.0");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "service")->valuestring,
                        "lambda");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "report")));
    /* absent fields are left out, not null */
    assert_null(cJSON_GetObjectItemCaseSensitive(o, "pulls"));
    cJSON_Delete(o);
    free(json);
    event_release(&ev);
}

static void test_from_json_minimal(void **state)
{
    struct event ev;
    char err[256] = "";

    (void)state;
    assert_int_equal(
        event_from_json(&ev, ev_minimal, strlen(ev_minimal), err, sizeof(err)), 0);
    assert_str(ev.id, "pj-1:failure");
    assert_str(ev.job, "s3-post-submit");
    assert_str(ev.type, "postsubmit");
    assert_str(ev.state, "failure");
    assert_int_equal(ev.event_ms, 1795600800000LL);
    assert_int_equal(ev.start_ms, 0);
    assert_true(ev.report);
    assert_non_null(ev.labels);
    assert_non_null(ev.annotations);
    assert_null(ev.reporter_slack);
    assert_int_equal(ev.npulls, 0);
    event_release(&ev);
}

static void test_from_json_rejects(void **state)
{
    (void)state;
    assert_json_rejected_s("not json at all", "malformed JSON");
    assert_json_rejected_s("{\"schema\":1,", "malformed JSON");
    assert_json_rejected_s("", "malformed JSON");
    assert_json_rejected_s("[1,2,3]", "not a JSON object");
    assert_json_rejected_s(
        "{\"schema\":1,\"id\":\"a\",\"job\":5,\"type\":\"periodic\","
        "\"state\":\"failure\",\"event_time\":\"2026-11-25T10:00:00Z\"}",
        "job: not a string");
    assert_json_rejected_s(
        "{\"schema\":1,\"id\":\"a\",\"job\":\"j\",\"type\":\"periodic\","
        "\"state\":\"failure\",\"event_time\":\"2026-11-25T10:00:00Z\","
        "\"labels\":[\"x\"]}",
        "labels: not an object");
    assert_json_rejected_s(
        "{\"schema\":1,\"id\":\"a\",\"job\":\"j\",\"type\":\"periodic\","
        "\"state\":\"failure\",\"event_time\":\"2026-11-25T10:00:00Z\","
        "\"labels\":{\"k\":true}}",
        "labels.k: not a string");
    assert_json_rejected_s(
        "{\"schema\":1,\"id\":\"a\",\"job\":\"j\",\"type\":\"periodic\","
        "\"state\":\"failure\",\"event_time\":\"2026-11-25T10:00:00Z\","
        "\"report\":1}",
        "report: not a boolean");
    assert_json_rejected_s(
        "{\"schema\":1,\"id\":\"a\",\"job\":\"j\",\"type\":\"periodic\","
        "\"state\":\"failure\",\"event_time\":\"2026-11-25T10:00:00Z\","
        "\"reporter_slack\":\"#ch\"}",
        "reporter_slack: not an object");
    assert_json_rejected_s(
        "{\"schema\":1,\"id\":\"a\",\"job\":\"j\",\"type\":\"periodic\","
        "\"state\":\"failure\",\"event_time\":\"2026-11-25T10:00:00Z\","
        "\"pulls\":[{\"number\":\"12\"}]}",
        "pulls[0].number: missing or not a number");
    /* missing id */
    assert_json_rejected_s(
        "{\"schema\":1,\"job\":\"j\",\"type\":\"periodic\","
        "\"state\":\"failure\",\"event_time\":\"2026-11-25T10:00:00Z\"}",
        "id: missing or empty");
    assert_json_rejected_s(
        "{\"schema\":1,\"id\":\"\",\"job\":\"j\",\"type\":\"periodic\","
        "\"state\":\"failure\",\"event_time\":\"2026-11-25T10:00:00Z\"}",
        "id: missing or empty");
    assert_json_rejected_s(
        "{\"schema\":1,\"id\":\"a\",\"type\":\"periodic\","
        "\"state\":\"failure\",\"event_time\":\"2026-11-25T10:00:00Z\"}",
        "job: missing or empty");
    assert_json_rejected_s(
        "{\"schema\":1,\"id\":\"a\",\"job\":\"j\",\"type\":\"periodic\","
        "\"state\":\"done\",\"event_time\":\"2026-11-25T10:00:00Z\"}",
        "state: unknown job state");
    assert_json_rejected_s(
        "{\"schema\":1,\"id\":\"a\",\"job\":\"j\",\"type\":\"periodic\","
        "\"state\":\"failure\"}",
        "event_time: missing");
    assert_json_rejected_s(
        "{\"schema\":1,\"id\":\"a\",\"job\":\"j\",\"type\":\"periodic\","
        "\"state\":\"failure\",\"event_time\":\"2026-13-01T00:00:00Z\"}",
        "event_time: not an RFC 3339 time");
    /* schema */
    assert_json_rejected_s(
        "{\"schema\":2,\"id\":\"a\",\"job\":\"j\",\"type\":\"periodic\","
        "\"state\":\"failure\",\"event_time\":\"2026-11-25T10:00:00Z\"}",
        "schema: missing or unsupported");
    assert_json_rejected_s(
        "{\"id\":\"a\",\"job\":\"j\",\"type\":\"periodic\","
        "\"state\":\"failure\",\"event_time\":\"2026-11-25T10:00:00Z\"}",
        "schema: missing or unsupported");
    assert_json_rejected_s(
        "{\"schema\":\"1\",\"id\":\"a\",\"job\":\"j\",\"type\":\"periodic\","
        "\"state\":\"failure\",\"event_time\":\"2026-11-25T10:00:00Z\"}",
        "schema: missing or unsupported");
}

/* Each rejection has its own code, and each code its metric label. */
static void test_from_json_error_codes(void **state)
{
    static const struct {
        const char *json;
        int code;
        const char *name;
    } cases[] = {
        {"not json", EVENT_ERR_JSON, "malformed_json"},
        {"[1]", EVENT_ERR_INVALID, "invalid_event"},
        {"{\"schema\":2}", EVENT_ERR_SCHEMA, "bad_schema"},
        {"{\"schema\":1,\"id\":7}", EVENT_ERR_INVALID, "invalid_event"},
        {"{\"schema\":1,\"id\":\"\xff\"}", EVENT_ERR_UTF8, "invalid_utf8"},
        {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
         "]",
         EVENT_ERR_TOO_DEEP, "too_deep"},
    };
    struct event ev;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc =
            event_from_json(&ev, cases[i].json, strlen(cases[i].json), err, sizeof(err));
        if (rc != cases[i].code)
            fail_msg("%s: got %d (%s), want %d", cases[i].json, rc, err, cases[i].code);
        assert_string_equal(event_error_name(rc), cases[i].name);
    }
    assert_string_equal(event_error_name(EVENT_ERR_TOO_LARGE), "too_large");
}

static void test_from_json_invalid_utf8(void **state)
{
    static const char bad[] =
        "{\"schema\":1,\"id\":\"a\",\"job\":\"j\",\"type\":\"periodic\",\"state\":"
        "\"failure\","
        "\"event_time\":\"2026-11-25T10:00:00Z\",\"description\":\"caf\xc3 \xff\"}";
    static const char surrogate[] =
        "{\"schema\":1,\"id\":\"a\",\"job\":\"j\",\"type\":\"periodic\",\"state\":"
        "\"failure\","
        "\"event_time\":\"2026-11-25T10:00:00Z\",\"description\":\"\xed\xa0\x80\"}";
    static const char good[] = "{\"schema\":1,\"id\":\"a\",\"job\":\"j\",\"type\":"
                               "\"periodic\",\"state\":\"failure\","
                               "\"event_time\":\"2026-11-25T10:00:00Z\",\"description\":"
                               "\"caf\xc3\xa9 \xf0\x9f\x9a\x80\"}";
    struct event ev;
    char err[256];

    (void)state;
    assert_json_rejected_s(bad, "not valid UTF-8");
    assert_json_rejected_s(surrogate, "not valid UTF-8");
    assert_int_equal(event_from_json(&ev, good, strlen(good), err, sizeof(err)), 0);
    assert_str(ev.description, "caf\xc3\xa9 \xf0\x9f\x9a\x80");
    event_release(&ev);
}

static void test_from_json_too_big(void **state)
{
    size_t len = EVENT_MAX_BYTES + 1;
    char *data = malloc(len + 1);
    size_t head;

    (void)state;
    assert_non_null(data);
    /* a valid event padded with whitespace to one byte over the limit */
    head = strlen(ev_minimal);
    memcpy(data, ev_minimal, head);
    memset(data + head, ' ', len - head);
    data[len] = '\0';
    assert_json_rejected(data, len, "over the 262144-byte limit");
    /* at exactly the limit it is accepted */
    {
        struct event ev;
        char err[256];
        assert_int_equal(event_from_json(&ev, data, EVENT_MAX_BYTES, err, sizeof(err)),
                         0);
        assert_str(ev.id, "pj-1:failure");
        event_release(&ev);
    }
    free(data);
}

/* `n` nested arrays inside the named member of an otherwise valid event. */
static char *nested(const char *member, int n)
{
    struct buf b;

    buf_init(&b, 1024 * 1024);
    assert_int_equal(buf_printf(&b,
                                "{\"schema\":1,\"id\":\"a\",\"job\":\"j\",\"type\":"
                                "\"periodic\",\"state\":\"failure\",\"event_time\":"
                                "\"2026-11-25T10:00:00Z\",\"%s\":{\"x\":",
                                member),
                     0);
    for (int i = 0; i < n; i++)
        assert_int_equal(buf_puts(&b, "["), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(buf_puts(&b, "]"), 0);
    assert_int_equal(buf_puts(&b, "}}"), 0);
    return buf_detach(&b, NULL);
}

static void test_from_json_depth(void **state)
{
    struct event ev;
    char err[256];
    char *s;

    (void)state;
    s = nested("labels", 100);
    assert_json_rejected_s(s, "nests deeper than 32");
    free(s);
    s = nested("reporter_slack", 100000);
    assert_json_rejected_s(s, "nests deeper than 32");
    free(s);
    /* the event object and reporter_slack are 2 levels: 30 arrays = depth 32, allowed */
    s = nested("reporter_slack", EVENT_MAX_DEPTH - 2);
    assert_int_equal(event_json_depth(s, strlen(s)), EVENT_MAX_DEPTH);
    assert_int_equal(event_from_json(&ev, s, strlen(s), err, sizeof(err)), 0);
    assert_non_null(ev.reporter_slack);
    event_release(&ev);
    free(s);
    s = nested("reporter_slack", EVENT_MAX_DEPTH - 1);
    assert_json_rejected_s(s, "nests deeper than 32");
    free(s);
}

static void test_json_depth_ignores_strings(void **state)
{
    static const char s1[] = "{\"a\":\"[[[[{{{{\",\"b\":[1]}";
    static const char s2[] = "{\"a\":\"\\\"[[[\",\"b\":{\"c\":[]}}";

    (void)state;
    assert_int_equal(event_json_depth(s1, strlen(s1)), 2);
    assert_int_equal(event_json_depth(s2, strlen(s2)), 3);
    assert_int_equal(event_json_depth("", 0), 0);
    /* an escaped backslash before the quote ends the string; an escaped quote does not */
    static const char s3[] = "{\"a\":\"x\\\\\",\"b\":[[1]]}";
    static const char s4[] = "{\"a\":\"x\\\\\\\"[[[\",\"b\":[1]}";
    assert_int_equal(event_json_depth(s3, strlen(s3)), 3);
    assert_int_equal(event_json_depth(s4, strlen(s4)), 2);
    assert_int_equal(event_json_depth("{\"open", 7), 1); /* unterminated string */
}

static void test_event_key_from_json(void **state)
{
    static const char j[] = "{\"schema\":1,\"id\":\"a\",\"job\":\"label-sync\",\"type\":"
                            "\"periodic\",\"state\":"
                            "\"failure\",\"event_time\":\"2026-11-25T10:00:00Z\",\"org\":"
                            "\"\",\"repo\":\"r\"}";
    struct event ev;
    char err[256], key[64];

    (void)state;
    assert_int_equal(event_from_json(&ev, j, strlen(j), err, sizeof(err)), 0);
    /* an empty org counts as missing */
    assert_int_equal(event_key(&ev, key, sizeof(key)), (int)strlen("-/r/label-sync"));
    assert_string_equal(key, "-/r/label-sync");
    event_release(&ev);
}

static void test_release_null_and_twice(void **state)
{
    struct event ev;
    char err[256];

    (void)state;
    event_release(NULL);
    assert_int_equal(from_pj(&ev, pj_ec2_presubmit, err, sizeof(err)), 0);
    event_release(&ev);
    event_release(&ev); /* released events are zeroed: a second release is harmless */
    assert_null(ev.pulls);
    assert_int_equal(ev.schema, EVENT_SCHEMA_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pj_docs_presubmit),
        cmocka_unit_test(test_pj_presubmit_with_pulls),
        cmocka_unit_test(test_pj_tag_postsubmit),
        cmocka_unit_test(test_pj_periodic_extra_refs),
        cmocka_unit_test(test_pj_periodic_no_refs),
        cmocka_unit_test(test_pj_no_times_uses_observed),
        cmocka_unit_test(test_pj_id_without_name),
        cmocka_unit_test(test_pj_pulls_capped),
        cmocka_unit_test(test_pj_rejections),
        cmocka_unit_test(test_pj_field_too_long),
        cmocka_unit_test(test_json_roundtrip),
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_from_json_minimal),
        cmocka_unit_test(test_from_json_rejects),
        cmocka_unit_test(test_from_json_error_codes),
        cmocka_unit_test(test_from_json_invalid_utf8),
        cmocka_unit_test(test_from_json_too_big),
        cmocka_unit_test(test_from_json_depth),
        cmocka_unit_test(test_json_depth_ignores_strings),
        cmocka_unit_test(test_event_key_from_json),
        cmocka_unit_test(test_release_null_and_twice),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
