/* test_slack.c -- escaping and Block Kit payloads (common/slack.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alert.h"
#include "slack_eco.h"
#include "event.h"
#include "slack.h"
#include "util.h"

#define T0 1795600800000LL /* 2026-11-25T10:00:00Z */

static char s_job[] = "s3-post-submit";
static char s_type_post[] = "postsubmit";
static char s_type_pre[] = "presubmit";
static char s_state[] = "failure";
static char s_org[] = "acme";
static char s_repo[] = "storage";
static char s_ref[] = "main";
static char s_url[] = "https://prow.example.com/view/gs/logs/s3-post-submit/42";
static char s_desc[] = "Job failed.";
static char s_author[] = "alice";
static char s_title[] = "Fix <the> thing & more";
static char s_id[] = "pj-1:failure";

static struct event_pull s_pull;

static void fill_event(struct event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->schema = EVENT_SCHEMA_VERSION;
    ev->id = s_id;
    ev->job = s_job;
    ev->type = s_type_post;
    ev->state = s_state;
    ev->org = s_org;
    ev->repo = s_repo;
    ev->base_ref = s_ref;
    ev->url = s_url;
    ev->description = s_desc;
    ev->start_ms = T0 - 720000;
    ev->completion_ms = T0;
    ev->event_ms = T0;
}

static void fill_alert(struct alert *a, const struct event *ev)
{
    memset(a, 0, sizeof(*a));
    a->kind = ALERT_FAILURE;
    a->ev = ev;
    a->service = "s3";
    a->stage = "post-submit";
    a->tier = TIER_CRITICAL;
}

static struct receiver s_hook = {.name = (char[]){"ops-hook"},
                                 .type = RECEIVER_WEBHOOK,
                                 .url = (char[]){"https://hooks.example/T/B/x"},
                                 .channel = (char[]){"#ops"}};
static struct receiver s_api = {.name = (char[]){"ops-api"},
                                .type = RECEIVER_WEBAPI,
                                .url = (char[]){"https://slack.example/api"},
                                .token = (char[]){"xoxb-secret"},
                                .channel = (char[]){"C0123"}};

/* Format and parse back; fails the test if either step fails. */
static cJSON *format_parse(const struct alert *a, const struct receiver *r,
                           const char *ts, char **raw)
{
    char *s = slack_format(a, r, ts);
    cJSON *root;

    assert_non_null(s);
    root = cJSON_Parse(s);
    assert_non_null(root);
    if (raw)
        *raw = s;
    else
        free(s);
    return root;
}

static const cJSON *blocks_of(const cJSON *root)
{
    const cJSON *atts = cJSON_GetObjectItemCaseSensitive(root, "attachments");
    const cJSON *blocks;

    assert_true(cJSON_IsArray(atts));
    blocks = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(atts, 0), "blocks");
    assert_true(cJSON_IsArray(blocks));
    return blocks;
}

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *header_text(const cJSON *root)
{
    const cJSON *h = cJSON_GetArrayItem(blocks_of(root), 0);

    assert_string_equal(str_of(h, "type"), "header");
    assert_string_equal(str_of(cJSON_GetObjectItemCaseSensitive(h, "text"), "type"),
                        "plain_text");
    return str_of(cJSON_GetObjectItemCaseSensitive(h, "text"), "text");
}

/* Text of the mrkdwn field starting with "*label*\n", or NULL. */
static const char *field_text(const cJSON *root, const char *label)
{
    const cJSON *blk, *f;
    char prefix[64];

    snprintf(prefix, sizeof(prefix), "*%s*\n", label);
    cJSON_ArrayForEach(blk, blocks_of(root))
    {
        cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(blk, "fields"))
        {
            const char *t = str_of(f, "text");
            if (t && strncmp(t, prefix, strlen(prefix)) == 0)
                return t + strlen(prefix);
        }
    }
    return NULL;
}

/* First section or context text containing needle, or NULL. */
static const char *line_with(const cJSON *root, const char *type, const char *needle)
{
    const cJSON *blk, *e;

    cJSON_ArrayForEach(blk, blocks_of(root))
    {
        if (strcmp(str_of(blk, "type"), type) != 0)
            continue;
        const char *t = str_of(cJSON_GetObjectItemCaseSensitive(blk, "text"), "text");
        if (t && strstr(t, needle))
            return t;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(blk, "elements"))
        {
            t = str_of(e, "text");
            if (t && strstr(t, needle))
                return t;
        }
    }
    return NULL;
}

/* Every "text" value anywhere under node passes check(). */
static void all_texts(const cJSON *node, void (*check)(const char *))
{
    const cJSON *c;

    cJSON_ArrayForEach(c, node)
    {
        if (c->string && strcmp(c->string, "text") == 0 && cJSON_IsString(c))
            check(c->valuestring);
        all_texts(c, check);
    }
}

static void test_escape_specials(void **state)
{
    char *s;
    (void)state;

    s = slack_escape("a & b <c> d");
    assert_string_equal(s, "a &amp; b &lt;c&gt; d");
    free(s);
    s = slack_escape("<!channel> hi <@U123> <#C1|x>");
    assert_string_equal(s, "&lt;!channel&gt; hi &lt;@U123&gt; &lt;#C1|x&gt;");
    free(s);
    s = slack_escape(NULL);
    assert_string_equal(s, "");
    free(s);
    s = slack_escape("");
    assert_string_equal(s, "");
    free(s);
}

static void test_escape_controls(void **state)
{
    char *s;
    (void)state;

    s = slack_escape("a\x01"
                     "b\nc\td\x7f\x1b[31me\r");
    assert_string_equal(s, "ab\nc\td[31me");
    free(s);
    s = slack_escape("ok\xff\xfe bad \xc3(x");
    assert_string_equal(s, "ok bad (x");
    free(s);
}

static void test_escape_utf8_cut(void **state)
{
    struct buf b;
    (void)state;

    buf_init(&b, 1024);
    assert_int_equal(slack_escape_append(&b, "h\xc3\xa9llo", 2), 0);
    assert_string_equal(b.data, "h\xe2\x80\xa6"); /* "é" would not fit whole */
    buf_reset(&b);
    assert_int_equal(slack_escape_append(&b, "h\xc3\xa9llo", 3), 0);
    assert_string_equal(b.data, "h\xc3\xa9\xe2\x80\xa6");
    buf_reset(&b);
    assert_int_equal(slack_escape_append(&b, "h\xc3\xa9llo", 6), 0);
    assert_string_equal(b.data, "h\xc3\xa9llo"); /* fits: no ellipsis */
    buf_reset(&b);
    assert_int_equal(slack_escape_append(&b, "ab\xf0\x9f\x94\xa5", 5), 0);
    assert_string_equal(b.data, "ab\xe2\x80\xa6");
    assert_true(util_utf8_valid(b.data, b.len));
    buf_reset(&b);
    assert_int_equal(slack_escape_append(&b, "x<y", 2), 0);
    assert_string_equal(b.data, "x&lt;\xe2\x80\xa6");
    buf_release(&b);

    /* the buffer limit: -1 and the buffer left as it was */
    buf_init(&b, 8);
    assert_int_equal(buf_puts(&b, "ab"), 0);
    assert_int_equal(slack_escape_append(&b, "<<<<", 100), -1);
    assert_int_equal(b.len, 2);
    assert_string_equal(b.data, "ab");
    buf_release(&b);
}

static void test_format_webhook_failure(void **state)
{
    struct event ev;
    struct alert a;
    cJSON *root;
    const cJSON *att;
    (void)state;

    fill_event(&ev);
    fill_alert(&a, &ev);
    root = format_parse(&a, &s_hook, "123.456", NULL);
    assert_string_equal(str_of(root, "text"),
                        ":red_circle: [critical] s3: s3-post-submit failure");
    assert_null(cJSON_GetObjectItemCaseSensitive(root, "channel"));
    assert_null(cJSON_GetObjectItemCaseSensitive(root, "thread_ts"));
    att = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "attachments"), 0);
    assert_string_equal(str_of(att, "color"), "#d40e0d");
    assert_string_equal(header_text(root), "s3 \xc2\xb7 post-submit failed");
    assert_string_equal(field_text(root, "Service"), "s3");
    assert_string_equal(field_text(root, "Job"), "s3-post-submit");
    assert_string_equal(field_text(root, "Stage"), "post-submit");
    assert_string_equal(field_text(root, "State"), "failure after 12 min");
    assert_string_equal(field_text(root, "Tier"), "critical");
    assert_string_equal(field_text(root, "Repository"), "acme/storage");
    assert_string_equal(field_text(root, "Version/ref"), "main");
    assert_string_equal(field_text(root, "Description"), "Job failed.");
    assert_non_null(line_with(root, "section",
                              "<https://prow.example.com/view/gs/logs/s3-post-submit/42"
                              "|View job>"));
    assert_null(line_with(root, "context", "Suppressed"));
    cJSON_Delete(root);
}

static void test_format_tiers_and_kinds(void **state)
{
    struct event ev;
    struct alert a;
    cJSON *root;
    (void)state;

    fill_event(&ev);
    fill_alert(&a, &ev);
    a.tier = TIER_WARNING;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(
        str_of(
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "attachments"), 0),
            "color"),
        "#e8a317");
    assert_non_null(strstr(str_of(root, "text"), "[warning]"));
    cJSON_Delete(root);

    a.tier = TIER_INFO;
    a.kind = ALERT_RECOVERED;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(
        str_of(
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "attachments"), 0),
            "color"),
        "#2eb886");
    assert_string_equal(header_text(root), "s3 \xc2\xb7 post-submit recovered");
    cJSON_Delete(root);

    a.kind = ALERT_REMINDER;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(
        str_of(
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "attachments"), 0),
            "color"),
        "#439fe0");
    assert_string_equal(header_text(root), "s3 \xc2\xb7 post-submit still failing");
    assert_non_null(strstr(str_of(root, "text"), "still failing"));
    cJSON_Delete(root);
}

static void test_format_webapi(void **state)
{
    struct event ev;
    struct alert a;
    cJSON *root;
    (void)state;

    fill_event(&ev);
    fill_alert(&a, &ev);
    root = format_parse(&a, &s_api, "1700000000.000100", NULL);
    assert_string_equal(str_of(root, "channel"), "C0123");
    assert_string_equal(str_of(root, "thread_ts"), "1700000000.000100");
    cJSON_Delete(root);
    root = format_parse(&a, &s_api, NULL, NULL);
    assert_string_equal(str_of(root, "channel"), "C0123");
    assert_null(cJSON_GetObjectItemCaseSensitive(root, "thread_ts"));
    cJSON_Delete(root);
}

static void check_no_raw_control(const char *t)
{
    assert_null(strstr(t, "<!"));
    assert_null(strstr(t, "<@"));
    assert_null(strstr(t, "<#"));
    assert_null(strstr(t, "<http://evil"));
}

static void test_format_escapes_event_text(void **state)
{
    char job[] = "<!channel> deploy";
    char desc[] = "ping <@U123> & see <http://evil|here>\x01";
    char ref[] = "<!here>";
    char org[] = "<#C1>";
    char title[] = "<!everyone>";
    char author[] = "<@U999>";
    struct event_pull pr = {.number = 7, .author = author, .title = title};
    struct event ev;
    struct alert a;
    cJSON *root;
    char *raw;
    (void)state;

    fill_event(&ev);
    ev.job = job;
    ev.description = desc;
    ev.base_ref = ref;
    ev.org = org;
    ev.type = s_type_pre;
    ev.pulls = &pr;
    ev.npulls = 1;
    fill_alert(&a, &ev);
    a.service = "<!subteam^S1>";
    a.stage = "a&b";
    a.infra_cause = "<!channel>";
    root = format_parse(&a, &s_hook, NULL, &raw);
    all_texts(root, check_no_raw_control);
    assert_string_equal(field_text(root, "Job"), "&lt;!channel&gt; deploy");
    assert_string_equal(field_text(root, "Description"),
                        "infrastructure: &lt;!channel&gt;\n"
                        "ping &lt;@U123&gt; &amp; see &lt;http://evil|here&gt;");
    assert_string_equal(field_text(root, "Version/ref"),
                        "&lt;!here&gt;\nPR #7 by &lt;@U999&gt;\n&lt;!everyone&gt;");
    assert_string_equal(field_text(root, "Stage"), "a&amp;b");
    assert_string_equal(header_text(root),
                        "&lt;!subteam^S1&gt; \xc2\xb7 a&amp;b failed (infrastructure)");
    assert_non_null(strstr(str_of(root, "text"), "&lt;!channel&gt; deploy"));
    free(raw);
    cJSON_Delete(root);
}

static void test_format_presubmit_pr(void **state)
{
    char link[] = "https://github.com/acme/storage/pull/123";
    struct event_pull pr = {
        .number = 123, .author = s_author, .title = s_title, .link = link};
    struct event ev;
    struct alert a;
    cJSON *root;
    (void)state;

    fill_event(&ev);
    ev.type = s_type_pre;
    ev.pulls = &pr;
    ev.npulls = 1;
    fill_alert(&a, &ev);
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(
        field_text(root, "Version/ref"),
        "main\n<https://github.com/acme/storage/pull/123|PR #123> by alice\n"
        "Fix &lt;the&gt; thing &amp; more");
    cJSON_Delete(root);

    s_pull.number = 5; /* postsubmits show no PR */
    ev.type = s_type_post;
    ev.pulls = &s_pull;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(field_text(root, "Version/ref"), "main");
    cJSON_Delete(root);
}

static void test_format_suppressed(void **state)
{
    struct event ev;
    struct alert a;
    cJSON *root;
    (void)state;

    fill_event(&ev);
    fill_alert(&a, &ev);
    a.suppressed = 3;
    a.suppressed_since_ms = T0;
    a.extra = "see <https://runbook.example/s3|runbook>";
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(line_with(root, "context", "Suppressed"),
                        "Suppressed 3 repeats since 2026-11-25T10:00:00Z");
    assert_string_equal(line_with(root, "context", "runbook"),
                        "see <https://runbook.example/s3|runbook>");
    cJSON_Delete(root);

    a.suppressed = 1;
    a.suppressed_since_ms = 0;
    a.extra = NULL;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(line_with(root, "context", "Suppressed"), "Suppressed 1 repeat");
    cJSON_Delete(root);
}

static int count_char(const char *s, char c)
{
    int n = 0;

    for (; *s; s++)
        n += *s == c;
    return n;
}

static void test_format_malicious_url(void **state)
{
    char evil[] = "https://x.example/a|<!channel>>b <@U1>\"q";
    char js[] = "javascript:alert(1)";
    char ftp[] = "ftp://files.example/x";
    char nohost[] = "https:///path";
    struct event ev;
    struct alert a;
    cJSON *root;
    const char *link;
    (void)state;

    fill_event(&ev);
    ev.url = evil;
    fill_alert(&a, &ev);
    root = format_parse(&a, &s_hook, NULL, NULL);
    link = line_with(root, "section", "View job");
    assert_non_null(link);
    assert_string_equal(link, "<https://x.example/a%7C%3C!channel%3E%3Eb%20%3C@U1%3E%22q"
                              "|View job>");
    /* exactly one '|', one '<' and one '>': the link's own */
    assert_int_equal(count_char(link, '|'), 1);
    assert_int_equal(count_char(link, '<'), 1);
    assert_int_equal(count_char(link, '>'), 1);
    assert_int_equal(link[strlen(link) - 1], '>');
    all_texts(root, check_no_raw_control);
    cJSON_Delete(root);

    char *bad[] = {js, ftp, nohost};
    for (size_t i = 0; i < 3; i++) {
        ev.url = bad[i];
        root = format_parse(&a, &s_hook, NULL, NULL);
        assert_null(line_with(root, "section", "View job"));
        cJSON_Delete(root);
    }
    ev.url = NULL;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_null(line_with(root, "section", "View job"));
    cJSON_Delete(root);
}

static size_t max_field;

static void note_len(const char *t)
{
    if (strlen(t) > max_field)
        max_field = strlen(t);
}

static const char *color_of(const cJSON *root)
{
    return str_of(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "attachments"), 0),
        "color");
}

/* Text of the n-th (0-based) block of type, section text or first context element. */
static const char *block_text(const cJSON *root, const char *type, int n)
{
    const cJSON *blk;

    cJSON_ArrayForEach(blk, blocks_of(root))
    {
        if (strcmp(str_of(blk, "type"), type) != 0 || n-- > 0)
            continue;
        const char *t = str_of(cJSON_GetObjectItemCaseSensitive(blk, "text"), "text");
        if (t)
            return t;
        return str_of(
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(blk, "elements"), 0),
            "text");
    }
    return NULL;
}

/* Occurrences of needle in s. */
static int count_str(const char *s, const char *needle)
{
    int n = 0;

    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* N of the "…and N more" in s, 0 if there is none. */
static long long more_of(const char *s)
{
    const char *p = strstr(s, "\xe2\x80\xa6"
                              "and ");

    return p ? strtoll(p + strlen("\xe2\x80\xa6"
                                  "and "),
                       NULL, 10)
             : 0;
}

static void test_format_failure_streak(void **state)
{
    struct event ev;
    struct alert a;
    cJSON *root;
    (void)state;

    fill_event(&ev);
    fill_alert(&a, &ev);
    a.failures = 5;
    a.threshold = 3;
    a.failing_since_ms = T0 - 3 * 3600000LL;
    a.first_build = "100";
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(line_with(root, "context", "in a row"),
                        "Failed 5 times in a row since 2026-11-25T07:00:00Z "
                        "(first failure: build 100)");
    cJSON_Delete(root);

    /* unknown parts are left out */
    a.failures = 0;
    a.failing_since_ms = 0;
    a.first_build = NULL;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(line_with(root, "context", "in a row"),
                        "Failed at least 3 times in a row");
    cJSON_Delete(root);

    a.failures = 2;
    a.threshold = 1;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(line_with(root, "context", "in a row"),
                        "Failed 2 times in a row");
    cJSON_Delete(root);

    /* a first failure at threshold 1 needs no streak line */
    a.failures = 1;
    a.threshold = 1;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_null(line_with(root, "context", "Failed"));
    cJSON_Delete(root);
}

static void test_format_failure_release(void **state)
{
    const char *const lines[] = {"chart-update: update-ack-chart failed (build 123)",
                                 "release-test: s3-release-test failed (build 9)"};
    char tag[] = "v1.2.3";
    struct event ev;
    struct alert a;
    cJSON *root;
    const char *t;
    (void)state;

    fill_event(&ev);
    fill_alert(&a, &ev);
    a.version = "v1.2.3";
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(header_text(root), "s3 v1.2.3 \xc2\xb7 post-submit failed");
    assert_string_equal(field_text(root, "Version/ref"), "v1.2.3 (main)");
    assert_non_null(strstr(str_of(root, "text"), "s3 v1.2.3: s3-post-submit failure"));
    assert_null(line_with(root, "section", "Also failed"));
    cJSON_Delete(root);

    ev.base_ref = tag; /* tag-triggered: the ref is the version */
    a.lines = lines;
    a.nlines = 2;
    a.more = 3;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(field_text(root, "Version/ref"), "v1.2.3");
    t = line_with(root, "section", "*Also failed in this release:*");
    assert_string_equal(t,
                        "*Also failed in this release:*\n"
                        "\xe2\x80\xa2 chart-update: update-ack-chart failed (build 123)\n"
                        "\xe2\x80\xa2 release-test: s3-release-test failed (build 9)\n"
                        "\xe2\x80\xa6"
                        "and 3 more");
    cJSON_Delete(root);

    a.more = 0;
    root = format_parse(&a, &s_hook, NULL, NULL);
    t = line_with(root, "section", "*Also failed in this release:*");
    assert_non_null(t);
    assert_null(strstr(t, "more"));
    assert_int_equal(t[strlen(t) - 1], ')'); /* no trailing newline */
    cJSON_Delete(root);
}

static void test_format_failure_infra(void **state)
{
    char err[] = "error";
    struct event ev;
    struct alert a;
    cJSON *root;
    (void)state;

    fill_event(&ev);
    ev.state = err;
    fill_alert(&a, &ev);
    a.stage = "e2e";
    a.infra_cause = "OOM kill";
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(header_text(root), "s3 \xc2\xb7 e2e errored (infrastructure)");
    assert_string_equal(
        str_of(root, "text"),
        ":red_circle: [critical] s3: s3-post-submit error (infrastructure)");
    assert_string_equal(field_text(root, "Description"),
                        "infrastructure: OOM kill\nJob failed.");
    cJSON_Delete(root);

    a.infra_cause = NULL;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(header_text(root), "s3 \xc2\xb7 e2e errored");
    assert_null(strstr(str_of(root, "text"), "infrastructure"));
    cJSON_Delete(root);
}

static void test_format_reminder(void **state)
{
    struct event ev;
    struct alert a;
    cJSON *root;
    (void)state;

    fill_event(&ev);
    fill_alert(&a, &ev);
    a.kind = ALERT_REMINDER;
    a.failures = 7;
    a.failing_since_ms = T0 - 3 * 3600000LL - 20 * 60000LL;
    a.suppressed = 4;
    a.suppressed_since_ms = T0 - 3600000LL;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(header_text(root), "s3 \xc2\xb7 post-submit still failing");
    assert_non_null(strstr(str_of(root, "text"), "still failing"));
    assert_string_equal(line_with(root, "context", "Failing for"),
                        "Failing for 3 h 20 min, 7 runs since 2026-11-25T06:40:00Z");
    assert_string_equal(line_with(root, "context", "Suppressed"),
                        "Suppressed 4 repeats since 2026-11-25T09:00:00Z");
    assert_string_equal(color_of(root), "#d40e0d");
    cJSON_Delete(root);

    /* no completion time: measured to the event time */
    ev.completion_ms = 0;
    ev.event_ms = T0 + 3600000LL;
    a.failures = 0;
    a.infra_cause = "pod scheduling timeout";
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(line_with(root, "context", "Failing for"),
                        "Failing for 4 h 20 min since 2026-11-25T06:40:00Z");
    assert_string_equal(header_text(root),
                        "s3 \xc2\xb7 post-submit still failing (infrastructure)");
    cJSON_Delete(root);

    /* nothing known: no line */
    a.failing_since_ms = 0;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_null(line_with(root, "context", "Failing for"));
    cJSON_Delete(root);
}

static void test_format_recovered(void **state)
{
    char ok[] = "success";
    struct event ev;
    struct alert a;
    cJSON *root;
    (void)state;

    fill_event(&ev);
    ev.state = ok;
    fill_alert(&a, &ev);
    a.kind = ALERT_RECOVERED;
    a.failures = 4;
    a.failing_since_ms = T0 - 90 * 60000LL;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(color_of(root), "#2eb886");
    assert_string_equal(header_text(root), "s3 \xc2\xb7 post-submit recovered");
    assert_non_null(strstr(str_of(root, "text"), "recovered"));
    assert_string_equal(line_with(root, "context", "Recovered"),
                        "Recovered after 4 failures over 1 h 30 min");
    cJSON_Delete(root);

    a.failures = 1;
    a.failing_since_ms = 0;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(line_with(root, "context", "Recovered"),
                        "Recovered after 1 failure");
    cJSON_Delete(root);

    a.failures = 0;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_null(line_with(root, "context", "Recovered"));
    cJSON_Delete(root);
}

static void test_format_consequence(void **state)
{
    const char *const lines[] = {"chart-update: update-ack-chart failed (build 123)"};
    char job[] = "s3-update-ack-chart";
    struct event ev;
    struct alert a;
    cJSON *root;
    (void)state;

    fill_event(&ev);
    ev.job = job;
    fill_alert(&a, &ev);
    a.kind = ALERT_CONSEQUENCE;
    a.stage = "chart-update";
    a.tier = TIER_WARNING;
    a.version = "v1.2.3";
    a.lines = lines;
    a.nlines = 1;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(header_text(root),
                        "s3 v1.2.3 \xc2\xb7 chart-update failed (consequence)");
    assert_string_equal(str_of(root, "text"),
                        ":large_orange_circle: [warning] s3 v1.2.3: "
                        "s3-update-ack-chart failed (consequence)");
    assert_string_equal(color_of(root), "#e8a317");
    assert_non_null(line_with(root, "section", "chart-update: update-ack-chart failed"));
    assert_string_equal(line_with(root, "context", "Downstream"),
                        "Downstream of an earlier failure in this release; see the first "
                        "alert.");
    assert_string_equal(field_text(root, "Job"), "s3-update-ack-chart");
    cJSON_Delete(root);
}

static void test_format_ecosystem(void **state)
{
    const char *const svcs[] = {"s3", "ec2", "rds", "iam", "lambda"};
    struct alert a;
    cJSON *root;
    const char *t;
    (void)state;

    fill_alert(&a, NULL);
    a.kind = ALERT_ECOSYSTEM;
    a.service = "";
    a.stage = "e2e";
    a.lines = svcs;
    a.nlines = 5;
    a.more = 9;
    a.window_ms = 30 * 60000LL;
    a.started_ms = T0;
    root = format_parse(&a, &s_api, NULL, NULL);
    assert_string_equal(header_text(root),
                        ":rotating_light: Ecosystem: 14 services failing e2e");
    assert_string_equal(str_of(root, "text"),
                        ":rotating_light: [critical] Ecosystem: 14 services failing e2e: "
                        "s3, ec2, rds, iam, lambda, \xe2\x80\xa6"
                        "and 9 more");
    assert_string_equal(color_of(root), "#d40e0d");
    assert_string_equal(str_of(root, "channel"), "C0123");
    assert_string_equal(line_with(root, "section", "Services"),
                        "*Services failing:*\ns3, ec2, rds, iam, lambda, \xe2\x80\xa6"
                        "and 9 more");
    t = line_with(root, "context", "services within");
    assert_string_equal(
        t, "14 services within 30 min since 2026-11-25T10:00:00Z. Their per-service "
           "alerts are folded into this one; services that fail the same way join it.");
    cJSON_Delete(root);

    a.more = 0;
    a.window_ms = 0;
    a.started_ms = 0;
    a.tier = TIER_WARNING;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(header_text(root),
                        ":rotating_light: Ecosystem: 5 services failing e2e");
    assert_string_equal(line_with(root, "section", "Services"),
                        "*Services failing:*\ns3, ec2, rds, iam, lambda");
    assert_non_null(line_with(root, "context", "5 services. Their per-service alerts"));
    assert_string_equal(color_of(root), "#e8a317");
    cJSON_Delete(root);
}

static void test_format_eco_recovered(void **state)
{
    const char *const svcs[] = {"s3", "ec2", "rds"};
    struct alert a;
    cJSON *root;
    (void)state;

    fill_alert(&a, NULL);
    a.kind = ALERT_ECO_RECOVERED;
    a.service = "";
    a.stage = "e2e";
    a.lines = svcs;
    a.nlines = 3;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(header_text(root), "Ecosystem: e2e recovered");
    assert_string_equal(color_of(root), "#2eb886");
    assert_string_equal(
        str_of(root, "text"),
        ":large_green_circle: [critical] Ecosystem: e2e recovered (3 services)");
    assert_non_null(line_with(root, "section", "s3, ec2, rds"));
    assert_string_equal(line_with(root, "context", "All 3"), "All 3 services recovered.");
    cJSON_Delete(root);

    a.window_ms = 2 * 3600000LL;
    a.started_ms = T0;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(line_with(root, "context", "All 3"),
                        "All 3 services recovered within 2 h 0 min "
                        "(incident began 2026-11-25T10:00:00Z).");
    cJSON_Delete(root);
}

static void test_format_stalled(void **state)
{
    const char *const lines[] = {
        "chart-update did not start within 1h after post-submit succeeded"};
    struct alert a;
    cJSON *root;
    (void)state;

    fill_alert(&a, NULL);
    a.kind = ALERT_STALLED;
    a.stage = "chart-update";
    a.version = "v1.2.3";
    a.tier = TIER_WARNING;
    a.lines = lines;
    a.nlines = 1;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(header_text(root),
                        "s3 v1.2.3 \xc2\xb7 release stalled at chart-update");
    assert_string_equal(str_of(root, "text"),
                        ":large_orange_circle: [warning] s3 v1.2.3: "
                        "release stalled at chart-update");
    assert_string_equal(color_of(root), "#e8a317");
    assert_string_equal(
        line_with(root, "section", "did not start"),
        "*What is missing:*\n\xe2\x80\xa2 chart-update did not start within 1h "
        "after post-submit succeeded");
    cJSON_Delete(root);

    a.version = NULL; /* not known: no dangling space */
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(header_text(root), "s3 \xc2\xb7 release stalled at chart-update");
    cJSON_Delete(root);
}

/* Bullets in every section, and each section within Slack's 3000 bytes. */
static int section_bullets(const cJSON *root, int *sections)
{
    const cJSON *blk;
    int n = 0;

    *sections = 0;
    cJSON_ArrayForEach(blk, blocks_of(root))
    {
        const char *t = str_of(cJSON_GetObjectItemCaseSensitive(blk, "text"), "text");
        if (strcmp(str_of(blk, "type"), "section") != 0 || !t)
            continue;
        assert_true(strlen(t) <= 3000);
        assert_true(t[0] != '\n'); /* a section goes on without a blank line */
        if (count_str(t, "\xe2\x80\xa2 ") > 0)
            ++*sections;
        n += count_str(t, "\xe2\x80\xa2 ");
    }
    return n;
}

/* An ecosystem alert names every member with its version, link and consequences, over
 * as many sections as that takes, and collapses past SLACK_ECO_SHOW; event text in a
 * member is escaped. */
static void test_format_ecosystem_members(void **state)
{
    static const char *const cons[] = {
        "chart-update: update-ack-chart failure (build 9)"};
    struct alert_member m[SLACK_ECO_SHOW + 20];
    char svc[SLACK_ECO_SHOW + 20][16], url[SLACK_ECO_SHOW + 20][64];
    struct alert a;
    cJSON *root;
    const char *t;
    int sections;
    (void)state;

    for (int i = 0; i < SLACK_ECO_SHOW + 20; i++) {
        snprintf(svc[i], sizeof(svc[i]), "svc%03d", i);
        snprintf(url[i], sizeof(url[i]), "https://prow.example/view/%d", i);
        m[i] = (struct alert_member){
            svc[i], "v1.2.3", "svc-post-submit", "77", url[i], cons, 1, i == 3};
    }
    m[5].job = "<!channel> job";
    fill_alert(&a, NULL);
    a.kind = ALERT_ECOSYSTEM;
    a.stage = "post-submit";
    a.members = m;
    a.nmembers = 8;
    a.link = "https://herald.example/?stage=post-submit";
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(header_text(root),
                        ":rotating_light: Ecosystem: 8 services failing post-submit");
    t = line_with(root, "section", "Services failing");
    assert_non_null(t);
    assert_non_null(strstr(t, "\xe2\x80\xa2 *svc000* v1.2.3 \xc2\xb7 "
                              "<https://prow.example/view/0|svc-post-submit> build 77"));
    assert_non_null(
        strstr(t, "\xe2\x86\xb3 chart-update: update-ack-chart failure (build 9)"));
    assert_non_null(strstr(t, "*svc003* v1.2.3"));
    assert_non_null(strstr(t, "build 77 \xe2\x80\x94 recovered"));
    assert_null(strstr(t, "<!channel>"));
    assert_non_null(strstr(t, "&lt;!channel&gt; job"));
    assert_int_equal(section_bullets(root, &sections), 8);
    assert_int_equal(sections, 1);
    assert_non_null(line_with(root, "context", "On the dashboard"));
    cJSON_Delete(root);

    a.nmembers = 77; /* ACK's whole fleet: everyone named, over several sections */
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_int_equal(section_bullets(root, &sections), 77);
    assert_true(sections > 1);
    assert_non_null(line_with(root, "section", "*svc076* v1.2.3"));
    assert_null(line_with(root, "section", "more"));
    cJSON_Delete(root);

    a.nmembers =
        SLACK_ECO_SHOW + 20; /* collapsed: the rest counted, with the full list */
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_int_equal(section_bullets(root, &sections), SLACK_ECO_SHOW);
    assert_true(sections <= SLACK_ECO_SECTIONS);
    assert_non_null(line_with(
        root, "section", "and 20 more (<https://herald.example/?stage=post-submit|"));
    cJSON_Delete(root);
}

/* A held alert whose job passed meanwhile says so; the build id is event text. */
static void test_format_passed_again(void **state)
{
    struct event ev;
    struct alert a;
    cJSON *root;
    (void)state;

    fill_event(&ev);
    fill_alert(&a, &ev);
    a.passed_build = "<!channel> 42";
    a.passed_ms = T0;
    root = format_parse(&a, &s_hook, NULL, NULL);
    assert_string_equal(
        line_with(root, "context", "Passed again"),
        "Passed again since: build &lt;!channel&gt; 42 at 2026-11-25T10:00:00Z");
    cJSON_Delete(root);
}

/* Which kinds need an event, and that the others work without one. */
static void test_format_required(void **state)
{
    const enum alert_kind need[] = {ALERT_FAILURE, ALERT_REMINDER, ALERT_RECOVERED,
                                    ALERT_CONSEQUENCE};
    const enum alert_kind free_[] = {ALERT_ECOSYSTEM, ALERT_ECO_RECOVERED, ALERT_STALLED};
    struct event ev;
    struct alert a;
    cJSON *root;
    char *s;
    (void)state;

    fill_event(&ev);
    for (size_t i = 0; i < 4; i++) {
        fill_alert(&a, NULL);
        a.kind = need[i];
        assert_null(slack_format(&a, &s_hook, NULL));
        a.ev = &ev;
        s = slack_format(&a, &s_hook, NULL);
        assert_non_null(s);
        free(s);
        a.service = NULL;
        assert_null(slack_format(&a, &s_hook, NULL));
        a.service = "s3";
        a.stage = NULL;
        assert_null(slack_format(&a, &s_hook, NULL));
    }
    for (size_t i = 0; i < 3; i++) {
        fill_alert(&a, NULL);
        a.kind = free_[i];
        a.nlines = 3; /* lines missing: counted, not read */
        root = format_parse(&a, &s_hook, NULL, NULL);
        assert_non_null(header_text(root));
        assert_non_null(line_with(root, "section",
                                  "\xe2\x80\xa6"
                                  "and 3 more"));
        cJSON_Delete(root);
        a.stage = NULL;
        assert_null(slack_format(&a, &s_hook, NULL));
    }
    fill_alert(&a, &ev);
    assert_null(slack_format(NULL, &s_hook, NULL));
    assert_null(slack_format(&a, NULL, NULL));
}

static void check_no_raw_injection(const char *t)
{
    check_no_raw_control(t);
    assert_null(strstr(t, "a&b"));
}

/* Event-derived text is escaped the same way in every kind. */
static void test_format_escapes_every_kind(void **state)
{
    const char *const lines[] = {"<!channel> deploy", "a&b", "<@U1> x"};
    char job[] = "<!channel> job a&b";
    struct event ev;
    struct alert a;
    cJSON *root;
    char *raw;
    (void)state;

    fill_event(&ev);
    ev.job = job;
    for (int k = ALERT_FAILURE; k <= ALERT_STALLED; k++) {
        bool has_ev = k == ALERT_FAILURE || k == ALERT_REMINDER || k == ALERT_RECOVERED ||
                      k == ALERT_CONSEQUENCE;
        fill_alert(&a, has_ev ? &ev : NULL);
        a.kind = (enum alert_kind)k;
        a.service = "<!channel> a&b";
        a.stage = "a&b";
        a.version = "<!here>";
        a.first_build = "<@U2>";
        a.failures = 3;
        a.failing_since_ms = T0 - 3600000LL;
        a.threshold = 2;
        a.lines = lines;
        a.nlines = 3;
        a.more = 2;
        a.suppressed = 5;
        root = format_parse(&a, &s_hook, NULL, &raw);
        all_texts(root, check_no_raw_injection);
        assert_null(strstr(raw, "<!channel>"));
        assert_null(strstr(raw, "a&b"));
        assert_non_null(strstr(raw, "&lt;!channel&gt;"));
        assert_non_null(strstr(raw, "a&amp;b"));
        assert_non_null(strstr(header_text(root), "a&amp;b"));
        assert_null(strstr(str_of(root, "text"), "a&b"));
        if (k != ALERT_ECOSYSTEM && k != ALERT_ECO_RECOVERED)
            assert_non_null(strstr(header_text(root), "&lt;!channel&gt; a&amp;b"));
        free(raw);
        cJSON_Delete(root);
    }
}

/* Long lists stay within Slack's limits and the counts still add up. */
static void test_format_long_lists(void **state)
{
    enum { N = 400 };
    static char text[N][256];
    static const char *lines[N];
    const enum alert_kind kinds[] = {ALERT_ECOSYSTEM, ALERT_ECO_RECOVERED, ALERT_STALLED,
                                     ALERT_FAILURE};
    struct event ev;
    struct alert a;
    cJSON *root;
    (void)state;

    for (int i = 0; i < N; i++) {
        char prefix[32];
        int n = snprintf(prefix, sizeof(prefix), "item%d ", i);
        memset(text[i], "&<x"[i % 3], sizeof(text[i]) - 1);
        memcpy(text[i], prefix, (size_t)n); /* "item7 <<<<...": one long line */
        text[i][sizeof(text[i]) - 1] = '\0';
        lines[i] = text[i];
    }
    fill_event(&ev);
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        fill_alert(&a, kinds[k] == ALERT_FAILURE ? &ev : NULL);
        a.kind = kinds[k];
        a.lines = lines;
        a.nlines = N;
        a.more = 100;
        a.suppressed = N + 100;
        root = format_parse(&a, &s_hook, NULL, NULL);
        const char *sec = kinds[k] == ALERT_FAILURE
                              ? line_with(root, "section", "Also failed")
                              : block_text(root, "section", 0);
        assert_non_null(sec);
        assert_true(strlen(sec) <= 3000);
        assert_true(util_utf8_valid(sec, strlen(sec)));
        long long shown = count_str(sec, "item");
        assert_true(shown > 1);
        assert_true(more_of(sec) > 100);
        assert_int_equal(shown + more_of(sec), N + 100);
        /* each line cut whole, never inside an entity */
        assert_null(strstr(sec, "&am\xe2"));
        assert_null(strstr(sec, "&l\xe2"));
        assert_true(strlen(header_text(root)) <= 150);
        assert_true(strlen(str_of(root, "text")) <= 500);
        max_field = 0;
        all_texts(root, note_len);
        assert_true(max_field <= 3000);
        cJSON_Delete(root);
    }
}

static void test_format_limits(void **state)
{
    char *desc = malloc(EVENT_MAX_FIELD + 1);
    char *job = malloc(EVENT_MAX_FIELD + 1);
    struct event ev;
    struct alert a;
    cJSON *root;
    const char *h, *d;
    (void)state;

    assert_non_null(desc);
    assert_non_null(job);
    for (size_t i = 0; i < EVENT_MAX_FIELD; i++) {
        desc[i] = "a&<"[i % 3];
        job[i] = i % 2 ? 'j' : '>';
    }
    desc[EVENT_MAX_FIELD] = job[EVENT_MAX_FIELD] = '\0';
    fill_event(&ev);
    ev.description = desc;
    ev.job = job;
    fill_alert(&a, &ev);
    a.service = job;
    root = format_parse(&a, &s_hook, NULL, NULL);
    h = header_text(root);
    assert_true(strlen(h) <= 150);
    assert_non_null(strstr(h, "\xe2\x80\xa6"));
    d = field_text(root, "Description");
    assert_non_null(d);
    assert_true(strlen(d) + strlen("*Description*\n") <= 2000);
    assert_non_null(strstr(d, "\xe2\x80\xa6"));
    assert_true(util_utf8_valid(d, strlen(d)));
    /* a cut never splits an entity */
    assert_null(strstr(d, "&amp\xe2"));
    assert_null(strstr(d, "&a\xe2"));
    max_field = 0;
    all_texts(root, note_len);
    assert_true(max_field <= 3000);
    assert_true(strlen(str_of(root, "text")) <= 500);
    cJSON_Delete(root);
    free(desc);
    free(job);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_specials),
        cmocka_unit_test(test_escape_controls),
        cmocka_unit_test(test_escape_utf8_cut),
        cmocka_unit_test(test_format_webhook_failure),
        cmocka_unit_test(test_format_tiers_and_kinds),
        cmocka_unit_test(test_format_webapi),
        cmocka_unit_test(test_format_escapes_event_text),
        cmocka_unit_test(test_format_presubmit_pr),
        cmocka_unit_test(test_format_suppressed),
        cmocka_unit_test(test_format_malicious_url),
        cmocka_unit_test(test_format_failure_streak),
        cmocka_unit_test(test_format_failure_release),
        cmocka_unit_test(test_format_failure_infra),
        cmocka_unit_test(test_format_reminder),
        cmocka_unit_test(test_format_recovered),
        cmocka_unit_test(test_format_consequence),
        cmocka_unit_test(test_format_ecosystem),
        cmocka_unit_test(test_format_eco_recovered),
        cmocka_unit_test(test_format_stalled),
        cmocka_unit_test(test_format_ecosystem_members),
        cmocka_unit_test(test_format_passed_again),
        cmocka_unit_test(test_format_required),
        cmocka_unit_test(test_format_escapes_every_kind),
        cmocka_unit_test(test_format_long_lists),
        cmocka_unit_test(test_format_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
