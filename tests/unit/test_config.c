/* test_config.c -- loading and validating the YAML configuration (common/config*.c).
 * Run from the repository root (tools/run-tests.sh does). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define EXAMPLE "deploy/herald.example.yaml"

#define URL_REL "https://hooks.slack.test/services/T0/B1/releases"
#define URL_CI "https://hooks.slack.test/services/T0/B2/ci"

/* Parse a YAML string; errbuf is always written. */
/* The 1-based line of `path` holding `needle` (the example config's lines move as it
 * gains comments). */
static int line_of(const char *path, const char *needle)
{
    char line[512];
    int n = 0;
    FILE *f = fopen(path, "r");

    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        n++;
        if (strstr(line, needle)) {
            fclose(f);
            return n;
        }
    }
    fclose(f);
    fail_msg("%s: no line with \"%s\"", path, needle);
    return -1;
}

static struct config *parse(const char *yaml, char *err, size_t errsize)
{
    memset(err, 'Z', errsize); /* config_parse must terminate it */
    return config_parse("t.yaml", yaml, strlen(yaml), err, errsize);
}

/* Parsing `yaml` must fail with an error line containing every one of the
 * NULL-terminated needles. */
static void expect_error(const char *yaml, ...)
{
    char err[4096];
    struct config *c = parse(yaml, err, sizeof(err));
    va_list ap;
    const char *needle;

    if (c) {
        config_free(c);
        fail_msg("config accepted:\n%s", yaml);
    }
    assert_non_null(memchr(err, '\0', sizeof(err)));
    va_start(ap, yaml);
    while ((needle = va_arg(ap, const char *)) != NULL) {
        if (!strstr(err, needle)) {
            va_end(ap);
            fail_msg("error text lacks \"%s\":\n%s", needle, err);
        }
    }
    va_end(ap);
}

static int count_lines(const char *s)
{
    int n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static int setup_env(void **state)
{
    (void)state;
    setenv("SLACK_ACK_RELEASES_URL", URL_REL, 1);
    setenv("SLACK_ACK_CI_URL", URL_CI, 1);
    return 0;
}

/* ---- the example configuration ---- */

static void test_load_example(void **state)
{
    char err[4096] = "";
    struct config *c;

    (void)state;
    c = config_load(EXAMPLE, err, sizeof(err));
    if (!c)
        fail_msg("config_load(%s) failed:\n%s", EXAMPLE, err);
    assert_string_equal(c->path, EXAMPLE);

    /* kafka */
    assert_string_equal(c->brokers, "127.0.0.1:9092");
    assert_string_equal(c->topic, "herald.events");
    assert_string_equal(c->group, "herald");
    assert_string_equal(c->dead_letter_topic, "herald.dead-letter"); /* default */
    assert_int_equal(c->batch_size, 200);
    assert_int_equal(c->batch_wait_ms, 100);
    assert_int_equal(c->nkafka_props, 1);
    assert_string_equal(c->kafka_props[0].key, "session.timeout.ms");
    assert_string_equal(c->kafka_props[0].value, "10000");

    /* redis */
    assert_string_equal(c->redis_host, "127.0.0.1");
    assert_int_equal(c->redis_port, 6379);
    assert_int_equal(c->redis_db, 0);
    assert_null(c->redis_password);
    assert_string_equal(c->key_prefix, "herald:");
    assert_int_equal(c->redis_timeout_ms, 2000);

    /* dedup */
    assert_int_equal(c->window_ms, 3600000);
    assert_int_equal(c->nreminders, 3);
    assert_int_equal(c->reminders_ms[2], 86400000);
    assert_int_equal(c->failures_to_alert, 1);
    assert_string_equal(c->alerts_topic, "herald.alerts");
    assert_int_equal(c->wm_idle_ms, 120000);

    /* release, ecosystem, storm: ACK's defaults */
    assert_int_equal(c->nrelease_stages, 3);
    assert_string_equal(c->release_stages[2].stage, "chart-update");
    assert_int_equal(c->release_stages[2].nafter, 1);
    assert_string_equal(c->release_stages[2].after[0], "post-submit");
    assert_int_equal(c->release_hold_ms, 1800000);
    assert_int_equal(c->stall_ms, 3600000);
    assert_true(c->eco_on);
    assert_int_equal(c->eco_services, 5);
    assert_int_equal(c->eco_window_ms, 900000);
    assert_int_equal(c->eco_hold_ms, 300000);
    assert_int_equal(c->eco_receiver, -1);
    assert_true(c->storm_rate > 0.99 && c->storm_rate < 1.01);
    assert_int_equal(c->storm_burst, 3);
    assert_int_equal(c->alert_states.n, 2);
    assert_string_equal(c->alert_states.v[0], "failure");
    assert_string_equal(c->alert_states.v[1], "error");

    /* classify: the same rules as the built-in defaults */
    assert_int_equal(c->classify.nstages, 12);
    assert_string_equal(c->classify.stages[0].name, "release-pr");
    assert_int_equal(c->classify.stages[0].njobs, 1);
    assert_string_equal(c->classify.stages[0].jobs[0], "*-controller-release-pr");
    assert_string_equal(c->classify.stages[9].name, "verify");
    assert_int_equal(c->classify.stages[9].njobs, 6);
    assert_string_equal(c->classify.stages[11].name, "maintenance");
    assert_int_equal(c->classify.stages[11].njobs, 4);
    assert_int_equal(c->classify.ntiers, 3);
    assert_int_equal(c->classify.tiers[0].tier, TIER_CRITICAL);
    assert_int_equal(c->classify.tiers[0].nstages, 6);
    assert_int_equal(c->classify.tiers[0].ntypes, 0);
    assert_int_equal(c->classify.tiers[1].tier, TIER_WARNING);
    assert_int_equal(c->classify.tiers[1].nstages, 0);
    assert_int_equal(c->classify.tiers[1].ntypes, 2);
    assert_string_equal(c->classify.tiers[1].types[1], "periodic");
    assert_int_equal(c->classify.tiers[2].tier, TIER_INFO);
    assert_int_equal(c->classify.tiers[2].nstages, 0);
    assert_int_equal(c->classify.tiers[2].ntypes, 0);

    /* receivers: URLs resolved from the environment */
    assert_int_equal(c->nreceivers, 2);
    assert_string_equal(c->receivers[0].name, "ack-releases");
    assert_int_equal(c->receivers[0].type, RECEIVER_WEBHOOK);
    assert_string_equal(c->receivers[0].channel, "#ack-releases");
    assert_string_equal(c->receivers[0].url, URL_REL);
    assert_null(c->receivers[0].token);
    assert_string_equal(c->receivers[1].name, "ack-ci");
    assert_string_equal(c->receivers[1].url, URL_CI);
    assert_int_equal(config_receiver_index(c, "ack-releases"), 0);
    assert_int_equal(config_receiver_index(c, "ack-ci"), 1);
    assert_int_equal(config_receiver_index(c, "nope"), -1);

    /* routes: presubmits dropped, then the critical ones to releases */
    assert_int_equal(c->nroutes, 2);
    assert_true(c->routes[0].drop);
    assert_int_equal(c->routes[0].match[FIELD_TYPE].n, 2);
    assert_int_equal(c->routes[0].nreceivers, 0);
    assert_false(c->routes[1].drop);
    assert_int_equal(c->routes[1].match[FIELD_TIER].n, 1);
    assert_string_equal(c->routes[1].match[FIELD_TIER].v[0], "critical");
    for (int f = 0; f < FIELD__COUNT; f++)
        if (f != FIELD_TIER)
            assert_int_equal(c->routes[1].match[f].n, 0);
    assert_int_equal(c->routes[1].nreceivers, 1);
    assert_int_equal(c->routes[1].receivers[0], 0);
    assert_false(c->routes[1].cont);
    assert_int_equal(c->routes[1].line, line_of(EXAMPLE, "- match: { tier: critical }"));
    assert_int_equal(c->default_receiver, 1);

    /* delivery, http */
    assert_int_equal(c->delivery.timeout_ms, 10000);
    assert_int_equal(c->delivery.max_attempts, 6); /* default: fail-open sends only */
    assert_int_equal(c->delivery.backoff_initial_ms, 1000);
    assert_int_equal(c->delivery.backoff_max_ms, 30000);
    assert_int_equal(c->delivery.give_up_ms, 120000);
    assert_int_equal(c->delivery.max_parallel, 8);
    assert_int_equal(c->delivery.shutdown_ms, 10000);
    assert_string_equal(c->http_listen, "127.0.0.1:9464");
    config_free(c);
}

static void test_load_example_env_unset(void **state)
{
    char err[4096] = "";
    struct config *c;

    (void)state;
    unsetenv("SLACK_ACK_CI_URL");
    c = config_load(EXAMPLE, err, sizeof(err));
    setenv("SLACK_ACK_CI_URL", URL_CI, 1);
    assert_null(c);
    char where[64];
    snprintf(where, sizeof(where), "%s:%d: ", EXAMPLE,
             line_of(EXAMPLE, "url_env: SLACK_ACK_CI_URL"));
    assert_non_null(strstr(err, where));
    assert_non_null(strstr(err, "url_env"));
    assert_non_null(strstr(err, "SLACK_ACK_CI_URL is not set"));
    /* the variable that was set is not printed */
    assert_null(strstr(err, URL_REL));
}

static void test_load_missing_file(void **state)
{
    char err[512] = "";

    (void)state;
    assert_null(config_load("/nonexistent/herald.yaml", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/herald.yaml"));
}

static void test_parse_minimal_and_defaults(void **state)
{
    char err[1024];
    struct config *c;

    (void)state;
    c = parse("receivers:\n  - name: only\n    url: http://h/only\n", err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(err, "");
    assert_int_equal(c->nreceivers, 1);
    assert_int_equal(c->receivers[0].type, RECEIVER_WEBHOOK);
    assert_null(c->receivers[0].channel);
    /* no default_receiver: the first receiver */
    assert_int_equal(c->default_receiver, 0);
    /* no routes: section: the built-in route drops presubmits and batches */
    assert_int_equal(c->nroutes, 1);
    assert_true(c->routes[0].drop);
    assert_int_equal(c->routes[0].match[FIELD_TYPE].n, 2);
    assert_int_equal(c->window_ms, 3600000);
    assert_int_equal(c->nreminders, 3);
    assert_int_equal(c->reminders_ms[0], 3600000);
    assert_int_equal(c->reminders_ms[1], 4 * 3600000);
    assert_int_equal(c->reminders_ms[2], 24 * 3600000);
    assert_int_equal(c->wm_idle_ms, 120000);
    assert_int_equal(c->classify.nstages, classify_default()->nstages);
    assert_string_equal(c->dead_letter_topic, "herald.dead-letter");
    config_free(c);
    config_free(NULL);
}

static void test_parse_values(void **state)
{
    static const char yaml[] = "kafka:\n"
                               "  brokers: k1:9092,k2:9092\n"
                               "  batch_size: 50\n"
                               "  batch_wait: 1s\n"
                               "redis:\n"
                               "  port: 6380\n"
                               "  db: 3\n"
                               "  password: hunter2\n"
                               "  timeout: 1h30m\n"
                               "dedup:\n"
                               "  window: 15m\n"
                               "  failures_to_alert: 3\n"
                               "  alert_states: [failure, error, aborted]\n"
                               "receivers:\n"
                               "  - name: bot\n"
                               "    type: webapi\n"
                               "    channel: C0123\n"
                               "    token: xoxb-1\n"
                               "delivery:\n"
                               "  timeout: 250ms\n"
                               "  parallel: 2\n"
                               "  retry_after_max: 0s\n"
                               "http:\n"
                               "  listen: \"\"\n"
                               "release:\n"
                               "  stages:\n"
                               "    - { stage: build }\n"
                               "    - { stage: publish, after: build }\n"
                               "  hold: 0s\n"
                               "  stall_timeout: 30m\n"
                               "ecosystem:\n"
                               "  services: 12\n"
                               "  window: 10m\n"
                               "  hold: 2m\n"
                               "  stages: [e2e]\n"
                               "  receiver: bot\n"
                               "storm:\n"
                               "  rate: 0.5\n"
                               "  burst: 5\n";
    char err[1024];
    struct config *c;

    (void)state;
    c = parse(yaml, err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    assert_string_equal(c->brokers, "k1:9092,k2:9092");
    assert_int_equal(c->batch_size, 50);
    assert_int_equal(c->batch_wait_ms, 1000);
    assert_int_equal(c->redis_port, 6380);
    assert_int_equal(c->redis_db, 3);
    assert_string_equal(c->redis_password, "hunter2");
    assert_int_equal(c->redis_timeout_ms, 5400000);
    assert_int_equal(c->window_ms, 900000);
    assert_int_equal(c->failures_to_alert, 3);
    assert_int_equal(c->nrelease_stages, 2);
    assert_string_equal(c->release_stages[1].after[0], "build");
    assert_int_equal(c->release_hold_ms, 0);
    assert_int_equal(c->stall_ms, 1800000);
    assert_int_equal(c->eco_services, 12);
    assert_int_equal(c->eco_window_ms, 600000);
    assert_int_equal(c->eco_hold_ms, 120000);
    assert_int_equal(c->eco_stages.n, 1);
    assert_int_equal(c->eco_receiver, 0);
    assert_true(c->storm_rate > 0.49 && c->storm_rate < 0.51);
    assert_int_equal(c->storm_burst, 5);
    assert_int_equal(c->alert_states.n, 3);
    assert_string_equal(c->alert_states.v[2], "aborted");
    assert_int_equal(c->receivers[0].type, RECEIVER_WEBAPI);
    assert_string_equal(c->receivers[0].url, "https://slack.com/api");
    assert_string_equal(c->receivers[0].token, "xoxb-1");
    assert_string_equal(c->receivers[0].channel, "C0123");
    assert_int_equal(c->delivery.timeout_ms, 250);
    assert_int_equal(c->delivery.max_parallel, 2);
    assert_int_equal(c->delivery.retry_after_max_ms, 0);
    assert_int_equal(c->delivery.max_attempts, 6); /* untouched default */
    assert_string_equal(c->http_listen, "");
    config_free(c);
}

/* ---- errors, each with its line ---- */

static void test_error_unknown_key(void **state)
{
    (void)state;
    expect_error("dedup:\n  windw: 1h\n", "t.yaml:2: ", "dedup.windw: unknown key",
                 "window", NULL);
    expect_error("receivers:\n  - name: a\n    url: http://h/a\nkafak:\n  brokers: x\n",
                 "t.yaml:4: ", "kafak: unknown key", NULL);
    expect_error("receivers:\n  - name: a\n    url: http://h/a\n    chanel: \"#x\"\n",
                 "t.yaml:4: ", "receivers[a].chanel: unknown key", NULL);
    expect_error("receivers:\n  - name: a\n    url: http://h/a\nroutes:\n"
                 "  - match: { servce: s3 }\n    receivers: [a]\n",
                 "t.yaml:5: ", "routes[].match.servce: unknown field", NULL);
}

static void test_error_bad_values(void **state)
{
    (void)state;
    expect_error("dedup:\n  window: 1 hour\n",
                 "t.yaml:2: ", "dedup.window: not a duration: \"1 hour\"", NULL);
    expect_error("receivers:\n  - name: a\n    url: http://h/a\ndedup:\n  window: 10ms\n",
                 "t.yaml:5: ", "dedup.window: must be at least 60000 ms", NULL);
    expect_error("receivers:\n  - name: a\n    url: http://h/a\nredis:\n  port: 70000\n",
                 "t.yaml:5: ", "redis.port: expected an integer from 1 to 65535", NULL);
    expect_error("receivers:\n  - name: a\n    url: http://h/a\nredis:\n  port: [1]\n",
                 "t.yaml:5: ", "redis.port: expected a single value", NULL);
    expect_error("receivers:\n  - name: a\n    url: http://h/a\nrelease:\n  stages:\n"
                 "    - { stage: b, after: [a] }\n",
                 "t.yaml:6: ", "release.stages[].after: \"a\" is not listed before \"b\"",
                 NULL);
    expect_error("receivers:\n  - name: a\n    url: http://h/a\necosystem:\n"
                 "  receiver: nobody\n",
                 "t.yaml:5: ", "ecosystem.receiver: no receiver named \"nobody\"", NULL);
    expect_error("receivers:\n  - name: a\n    url: http://h/a\nstorm:\n  rate: 0\n",
                 "t.yaml:5: ", "storm.rate: expected messages per second", NULL);
    expect_error("receivers:\n  - name: a\n    url: http://h/a\ndedup:\n"
                 "  failures_to_alert: 0\n",
                 "t.yaml:5: ", "dedup.failures_to_alert: expected an integer from 1",
                 NULL);
    expect_error("receivers:\n  - name: a\n    url: http://h/a\ndedup:\n"
                 "  alert_states: [failure, pending]\n",
                 "t.yaml:5: ", "\"pending\" is not a state of a failed run", NULL);
    /* success would make every run an alert: refused, not accepted quietly */
    expect_error("receivers:\n  - name: a\n    url: http://h/a\ndedup:\n"
                 "  alert_states: [failure, success]\n",
                 "t.yaml:5: ", "\"success\" is not a state of a failed run", NULL);
    expect_error("receivers:\n  - name: a\n    url: http://h/a\ndedup:\n"
                 "  reminders: [1h, soon]\n",
                 "t.yaml:5: ", "dedup.reminders: \"soon\" is not a duration", NULL);
    expect_error("receivers:\n  - name: a\n    url: http://h/a\ndedup:\n"
                 "  window: 1h\n  reminders: [1h]\n",
                 "dedup.window: give reminders or window, not both", NULL);
    expect_error("receivers:\n  - name: a\n    url: http://h/a\nroutes:\n"
                 "  - receivers: [a]\n    continue: maybe\n",
                 "t.yaml:6: ", "routes[].continue: expected true or false", NULL);
    expect_error("receivers:\n  - name: a\n    url: http://h/a\ndelivery:\n"
                 "  backoff: 10s\n  backoff_max: 1s\n",
                 "delivery.backoff_max: shorter than delivery.backoff", NULL);
    expect_error(
        "receivers:\n  - name: a\n    url: http://h/a\nclassify:\n"
        "  tiers:\n    - { tier: urgent }\n",
        "t.yaml:6: ", "classify.tiers[].tier: expected critical, warning or info", NULL);
    expect_error("- just\n- a list\n", "t.yaml:1: ", "the top level must be a mapping",
                 NULL);
}

static void test_error_receivers(void **state)
{
    (void)state;
    /* a route to an unknown receiver */
    expect_error("receivers:\n  - name: a\n    url: http://h/a\nroutes:\n"
                 "  - match: { tier: critical }\n    receivers: [a, b]\n",
                 "t.yaml:6: ", "routes[].receivers: no receiver named \"b\"", NULL);
    expect_error("receivers:\n  - name: a\n    url: http://h/a\nroutes:\n"
                 "  - match: { tier: critical }\n",
                 "t.yaml:5: ", "a route needs receivers, or receivers: []", NULL);
    expect_error("receivers:\n  - name: a\n    url: http://h/a\nroutes:\n"
                 "  - match: { type: presubmit }\n    receivers: [a]\n    drop: true\n",
                 "t.yaml:5: ", "drop: true and receivers contradict each other", NULL);
    /* a channel template needs the Web API: a webhook's URL decides its channel */
    expect_error(
        "receivers:\n  - name: a\n    url: http://h/a\n    channel: \"#ack-{service}\"\n",
        "t.yaml:4: ", "a channel template needs type webapi", NULL);
    expect_error("receivers:\n  - name: a\n    type: webapi\n    token: x\n"
                 "    channel: \"#ack-{servce}\"\n",
                 "t.yaml:5: ", "a channel template needs type webapi and only {service}",
                 NULL);
    expect_error("receivers:\n  - name: a\n    url: http://h/a\ndefault_receiver: z\n",
                 "t.yaml:4: ", "default_receiver: no receiver named \"z\"", NULL);
    /* a receiver without url */
    expect_error("receivers:\n  - name: a\n    channel: \"#a\"\n", "t.yaml:2: ",
                 "receivers[a].url: a webhook receiver needs url, url_env or url_file",
                 NULL);
    /* url_env naming an unset variable */
    unsetenv("HERALD_TEST_UNSET_VAR");
    expect_error("receivers:\n  - name: a\n    url_env: HERALD_TEST_UNSET_VAR\n",
                 "t.yaml:3: ",
                 "receivers[a].url_env: environment variable "
                 "HERALD_TEST_UNSET_VAR is not set",
                 NULL);
    /* two ways to give one secret */
    setenv("HERALD_TEST_URL", "http://h/env", 1);
    expect_error(
        "receivers:\n  - name: a\n    url: http://h/a\n    url_env: HERALD_TEST_URL\n",
        "t.yaml:3: ", "receivers[a].url: give only one of url, url_env, url_file", NULL);
    /* a duplicate receiver */
    expect_error("receivers:\n  - name: a\n    url: http://h/a\n  - name: b\n"
                 "    url: http://h/b\n  - name: a\n    url: http://h/a2\n",
                 "t.yaml:6: ", "receivers[a].name: defined twice", NULL);
    /* a receiver without a name, a bad type, a bad scheme */
    expect_error("receivers:\n  - url: http://h/a\n",
                 "t.yaml:2: ", "each receiver needs a name", NULL);
    expect_error("receivers:\n  - name: a\n    type: email\n    url: http://h/a\n",
                 "t.yaml:3: ", "receivers[a].type: \"email\" is not webhook or webapi",
                 NULL);
    expect_error("receivers:\n  - name: a\n    url: ftp://h/a\n",
                 "t.yaml:2: ", "receivers[a].url: must start with http:// or https://",
                 NULL);
    /* webapi needs a token and a channel */
    expect_error("receivers:\n  - name: bot\n    type: webapi\n    channel: C1\n",
                 "t.yaml:2: ", "receivers[bot].token: a webapi receiver needs token",
                 NULL);
    expect_error(
        "receivers:\n  - name: bot\n    type: webapi\n    token: xoxb-1\n",
        "t.yaml:2: ", "receivers[bot].channel: a webapi receiver needs a channel", NULL);
    /* none at all */
    expect_error("dedup:\n  window: 2h\n", "receivers: at least one receiver is needed",
                 NULL);
    expect_error("", "receivers: at least one receiver is needed", NULL);
}

static void test_error_yaml_syntax(void **state)
{
    (void)state;
    expect_error("receivers:\n  - name: a\n    url: http://h/a\nkafka: {brokers: x\n"
                 "redis:\n  port: 1\n",
                 "t.yaml:5: ", "YAML syntax error", NULL);
    expect_error("kafka:\n  brokers: x\n  topic: t: u\n",
                 "t.yaml:3: ", "YAML syntax error", "mapping values are not allowed",
                 NULL);
    expect_error("kafka:\n  brokers: x\n\tgroup: g\n", "t.yaml:3: ", "YAML syntax error",
                 NULL);
}

static void test_error_several_at_once(void **state)
{
    static const char yaml[] = "kafka:\n"                 /* 1 */
                               "  batch_size: lots\n"     /* 2 */
                               "dedup:\n"                 /* 3 */
                               "  windw: 1h\n"            /* 4 */
                               "redis:\n"                 /* 5 */
                               "  timeout: soon\n"        /* 6 */
                               "receivers:\n"             /* 7 */
                               "  - name: a\n"            /* 8 */
                               "    url: http://h/a\n"    /* 9 */
                               "routes:\n"                /* 10 */
                               "  - receivers: [nope]\n"; /* 11 */
    char err[4096];
    struct config *c;

    (void)state;
    c = parse(yaml, err, sizeof(err));
    assert_null(c);
    assert_non_null(strstr(err, "t.yaml:2: kafka.batch_size: expected an integer"));
    assert_non_null(strstr(err, "t.yaml:4: dedup.windw: unknown key"));
    assert_non_null(strstr(err, "t.yaml:6: redis.timeout: not a duration: \"soon\""));
    assert_non_null(
        strstr(err, "t.yaml:11: routes[].receivers: no receiver named \"nope\""));
    assert_int_equal(count_lines(err), 4);
}

/* Every problem is reported, whatever came before it: a receiver without a URL must be
 * named even when an unrelated section already had an error. */
static void test_error_missing_url_after_other_error(void **state)
{
    static const char yaml[] = "dedup:\n"
                               "  window: 1 hour\n"
                               "receivers:\n"
                               "  - name: a\n"
                               "    type: webhook\n";
    char err[4096];
    struct config *c;

    (void)state;
    c = parse(yaml, err, sizeof(err));
    assert_null(c);
    assert_non_null(strstr(err, "t.yaml:2: dedup.window: not a duration"));
    if (!strstr(err, "t.yaml:4: receivers[a].url: a webhook receiver needs url"))
        fail_msg("the missing url is not reported:\n%s", err);
}

static void test_error_limit(void **state)
{
    struct text {
        char s[8192];
        size_t n;
    } b = {"", 0};
    char err[16384];
    struct config *c;

    (void)state;
    b.n += (size_t)snprintf(b.s + b.n, sizeof(b.s) - b.n,
                            "receivers:\n  - name: a\n    url: http://h/a\ndedup:\n");
    for (int i = 0; i < CONFIG_MAX_ERRORS + 5; i++)
        b.n += (size_t)snprintf(b.s + b.n, sizeof(b.s) - b.n, "  bad%d: 1\n", i);
    c = parse(b.s, err, sizeof(err));
    assert_null(c);
    assert_int_equal(count_lines(err), CONFIG_MAX_ERRORS + 1);
    assert_non_null(strstr(err, "... and 5 more errors"));
}

static void test_error_small_buffer(void **state)
{
    char err[24];
    struct config *c;

    (void)state;
    c = parse("dedup:\n  windw: 1h\n  window: never\n", err, sizeof(err));
    assert_null(c);
    assert_true(strlen(err) < sizeof(err));
    assert_memory_equal(err, "t.yaml:2: dedup.windw", 21);
}

/* ---- secrets ---- */

static void test_kafka_property_secret(void **state)
{
    static const char yaml[] = "kafka:\n"
                               "  properties:\n"
                               "    security.protocol: SASL_SSL\n"
                               "    sasl.username: herald\n"
                               "    sasl.password_env: HERALD_TEST_KAFKA_PW\n"
                               "receivers:\n"
                               "  - name: a\n"
                               "    url: http://h/a\n";
    char err[1024];
    struct config *c;
    bool seen = false;

    (void)state;
    setenv("HERALD_TEST_KAFKA_PW", "s3cr3t-kafka", 1);
    c = parse(yaml, err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    assert_int_equal(c->nkafka_props, 3);
    assert_string_equal(c->kafka_props[0].key, "security.protocol");
    assert_string_equal(c->kafka_props[0].value, "SASL_SSL");
    for (size_t i = 0; i < c->nkafka_props; i++) {
        assert_null(strstr(c->kafka_props[i].key, "_env"));
        if (strcmp(c->kafka_props[i].key, "sasl.password") == 0) {
            assert_string_equal(c->kafka_props[i].value, "s3cr3t-kafka");
            seen = true;
        }
    }
    assert_true(seen);
    config_free(c);

    unsetenv("HERALD_TEST_KAFKA_PW");
    expect_error(yaml, "t.yaml:5: ",
                 "sasl.password_env: environment variable "
                 "HERALD_TEST_KAFKA_PW is not set",
                 NULL);
}

static void test_url_file(void **state)
{
    char path[] = "/tmp/herald-test-url-XXXXXX";
    char yaml[512], err[1024];
    struct config *c;
    int fd;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "https://hooks.slack.test/from-file\n", 35), 35);
    close(fd);
    snprintf(yaml, sizeof(yaml),
             "receivers:\n  - name: f\n    url_file: %s\n"
             "redis:\n  password_file: %s\n",
             path, path);
    c = parse(yaml, err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    assert_string_equal(c->receivers[0].url, "https://hooks.slack.test/from-file");
    assert_string_equal(c->redis_password, "https://hooks.slack.test/from-file");
    config_free(c);

    unlink(path);
    c = parse(yaml, err, sizeof(err));
    assert_null(c);
    assert_non_null(strstr(err, "t.yaml:3: receivers[f].url_file: "));
    assert_non_null(strstr(err, path));
}

static void test_secret_never_in_errors(void **state)
{
    static const char *const yamls[] = {
        /* the secret's own receiver is fine; something else is wrong */
        "receivers:\n  - name: a\n    url: http://x/SECRET123\nredis:\n  port: [1]\n",
        "receivers:\n  - name: a\n    url: http://x/SECRET123\nredis:\n  port: lots\n",
        "receivers:\n  - name: a\n    url: http://x/SECRET123\n    bogus: 1\n",
        /* the secret's receiver itself is wrong */
        "receivers:\n  - name: a\n    url: SECRET123\n",
        "receivers:\n  - name: a\n    url: http://x/SECRET123\n    url_env: HOME\n",
        "receivers:\n  - name: a\n    url: http://x/SECRET123\n  - name: a\n"
        "    url: http://x/SECRET123\n",
        "receivers:\n  - name: a\n    type: webapi\n    token: SECRET123\n",
        "receivers:\n  - name: a\n    url: [http://x/SECRET123]\n",
        "redis:\n  password: SECRET123\n  password_env: HOME\n",
        "kafka:\n  properties:\n    sasl.password: SECRET123\n    sasl.password_env: "
        "HOME\n",
        "kafka:\n  properties:\n    sasl.password: SECRET123\n    x: [1]\n",
        "receivers:\n  - name: a\n    url: http://x/SECRET123\nkafka: {brokers: x\n",
    };
    char err[4096];
    struct config *c;

    (void)state;
    setenv("HERALD_TEST_ENV_SECRET", "ENVSECRET456", 1);
    for (size_t i = 0; i < sizeof(yamls) / sizeof(yamls[0]); i++) {
        c = parse(yamls[i], err, sizeof(err));
        if (c) {
            config_free(c);
            fail_msg("config %zu accepted", i);
        }
        if (strstr(err, "SECRET123"))
            fail_msg("config %zu: the secret is in the error text:\n%s", i, err);
    }
    /* and a secret from the environment */
    c = parse("receivers:\n  - name: a\n    url_env: HERALD_TEST_ENV_SECRET\n", err,
              sizeof(err));
    assert_null(c); /* not http(s) */
    assert_non_null(strstr(err, "must start with http"));
    assert_null(strstr(err, "ENVSECRET456"));
}

/* ---- field names ---- */

/* Issue 8: drop routes, per-service channels from one Web API receiver, reminders. */
static void test_drop_templates_reminders(void **state)
{
    char err[4096];
    struct config *c;

    (void)state;
    c = parse("receivers:\n"
              "  - { name: ack, type: webapi, token: t, channel: \"#ack-{service}\" }\n"
              "routes:\n"
              "  - match: { type: [presubmit, batch] }\n    drop: true\n"
              "  - match: { job: noisy-* }\n    receivers: []\n"
              "  - receivers: [ack]\n"
              "dedup:\n  reminders: [2h, 1d]\n",
              err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(c->nroutes, 3);
    assert_true(c->routes[0].drop);
    assert_true(c->routes[1].drop);
    assert_false(c->routes[2].drop);
    assert_string_equal(c->receivers[0].channel, "#ack-{service}");
    assert_int_equal(c->nreminders, 2);
    assert_int_equal(c->reminders_ms[0], 2 * 3600000);
    assert_int_equal(c->reminders_ms[1], 24 * 3600000);
    assert_int_equal(c->window_ms, 2 * 3600000);
    config_free(c);
}

static void test_field_names(void **state)
{
    (void)state;
    for (int f = 0; f < FIELD__COUNT; f++)
        assert_int_equal(field_parse(field_name((enum field)f)), f);
    assert_int_equal(field_parse("service"), FIELD_SERVICE);
    assert_int_equal(field_parse("base_ref"), FIELD_BASE_REF);
    assert_int_equal(field_parse("Service"), -1);
    assert_int_equal(field_parse(""), -1);
    assert_string_equal(field_name(FIELD__COUNT), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_example),
        cmocka_unit_test(test_load_example_env_unset),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_parse_minimal_and_defaults),
        cmocka_unit_test(test_parse_values),
        cmocka_unit_test(test_error_unknown_key),
        cmocka_unit_test(test_error_bad_values),
        cmocka_unit_test(test_error_receivers),
        cmocka_unit_test(test_error_yaml_syntax),
        cmocka_unit_test(test_error_several_at_once),
        cmocka_unit_test(test_error_missing_url_after_other_error),
        cmocka_unit_test(test_error_limit),
        cmocka_unit_test(test_error_small_buffer),
        cmocka_unit_test(test_kafka_property_secret),
        cmocka_unit_test(test_url_file),
        cmocka_unit_test(test_secret_never_in_errors),
        cmocka_unit_test(test_drop_templates_reminders),
        cmocka_unit_test(test_field_names),
    };

    return cmocka_run_group_tests(tests, setup_env, NULL);
}
