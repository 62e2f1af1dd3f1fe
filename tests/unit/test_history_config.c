/* test_history_config.c -- the history: and web: sections (common/config_conn.c) and
 * config_history_dsn(): herald-recorder's and herald-web's settings. */
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

#define RECEIVERS "receivers:\n  - { name: ci, url: \"https://hooks.slack.test/x\" }\n"

static struct config *parse(const char *body, char *err, size_t errsize)
{
    char yaml[4096];

    snprintf(yaml, sizeof(yaml), "%s%s", RECEIVERS, body);
    return config_parse("t.yaml", yaml, strlen(yaml), err, errsize);
}

static void expect_error(const char *body, const char *needle)
{
    char err[4096];
    struct config *c = parse(body, err, sizeof(err));

    if (c) {
        config_free(c);
        fail_msg("accepted:\n%s", body);
    }
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not say \"%s\"", err, needle);
}

static void test_defaults(void **state)
{
    char err[1024];
    struct config *c = parse("", err, sizeof(err));

    (void)state;
    assert_non_null(c);
    assert_null(c->history_dsn);
    assert_string_equal(c->history_group, "herald-recorder");
    assert_string_equal(c->history_alerts_topic, "herald.alerts");
    assert_string_equal(c->history_listen, "127.0.0.1:9465");
    assert_int_equal(c->history_batch_size, 1000);
    assert_int_equal(c->history_refresh_ms, 30000);
    assert_string_equal(c->web_listen, "127.0.0.1:8080");
    assert_string_equal(c->web_public_url, "");
    assert_int_equal(c->web_release_window_ms, 6 * 3600 * 1000);
    assert_null(config_history_dsn(c, err, sizeof(err)));
    assert_non_null(strstr(err, "t.yaml: history.dsn (or dsn_env, dsn_file) is not set"));
    config_free(c);
}

static void test_sections(void **state)
{
    char err[1024];
    struct config *c =
        parse("history:\n  dsn: \"postgresql://h@db/herald\"\n  group: rec\n"
              "  alerts_topic: \"\"\n  listen: \"\"\n  batch_size: 50\n  refresh: 2s\n"
              "web:\n  listen: 0.0.0.0:80\n  public_url: https://herald.example.com//\n"
              "  slack_url: https://ack.slack.com/\n  release_window: 2h\n",
              err, sizeof(err));
    char *dsn;

    (void)state;
    assert_non_null(c);
    assert_string_equal(c->history_group, "rec");
    assert_string_equal(c->history_alerts_topic, "");
    assert_int_equal(c->history_batch_size, 50);
    assert_int_equal(c->history_refresh_ms, 2000);
    assert_string_equal(c->web_listen, "0.0.0.0:80");
    assert_string_equal(c->web_public_url,
                        "https://herald.example.com"); /* no trailing / */
    assert_string_equal(c->web_slack_url, "https://ack.slack.com");
    assert_int_equal(c->web_release_window_ms, 2 * 3600 * 1000);
    dsn = config_history_dsn(c, err, sizeof(err));
    assert_non_null(dsn);
    assert_string_equal(dsn, "postgresql://h@db/herald");
    free(dsn);
    config_free(c);
}

/* dsn_env and dsn_file are resolved when asked, not at load: a consumer loading the
 * same file never needs the database's secret. */
static void test_dsn_env_and_file_resolved_late(void **state)
{
    char err[1024], path[] = "/tmp/herald-dsn-XXXXXX";
    struct config *c;
    char *dsn;
    int fd;

    (void)state;
    unsetenv("HERALD_TEST_DSN");
    c = parse("history: { dsn_env: HERALD_TEST_DSN }\n", err, sizeof(err));
    assert_non_null(c); /* loads although the variable is not set */
    assert_null(config_history_dsn(c, err, sizeof(err)));
    assert_non_null(strstr(err,
                           "history.dsn_env: environment variable HERALD_TEST_DSN is "
                           "not set"));
    setenv("HERALD_TEST_DSN", "host=db password=s3cret", 1);
    dsn = config_history_dsn(c, err, sizeof(err));
    assert_string_equal(dsn, "host=db password=s3cret");
    free(dsn);
    unsetenv("HERALD_TEST_DSN");
    config_free(c);

    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "postgresql://db/h\n", 18), 18);
    close(fd);
    {
        char body[256];
        snprintf(body, sizeof(body), "history: { dsn_file: \"%s\" }\n", path);
        c = parse(body, err, sizeof(err));
    }
    assert_non_null(c);
    dsn = config_history_dsn(c, err, sizeof(err));
    assert_string_equal(dsn, "postgresql://db/h"); /* newline dropped */
    free(dsn);
    unlink(path);
    assert_null(config_history_dsn(c, err, sizeof(err)));
    assert_non_null(strstr(err, "history.dsn_file:"));
    config_free(c);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("history: { dsn: a, dsn_env: B }\n",
                 "history.dsn: give only one of dsn, dsn_env, dsn_file");
    expect_error("history: { dns: a }\n", "history.dns: unknown key");
    expect_error("history: { dsn: \"\" }\n", "history.dsn: must not be empty");
    expect_error("history: { group: \"\" }\n", "history.group: must not be empty");
    expect_error("history: { batch_size: 0 }\n",
                 "history.batch_size: expected an integer");
    expect_error("history: { refresh: soon }\n", "history.refresh: not a duration");
    expect_error("web: { public_url: herald.example.com }\n",
                 "web.public_url: must start with http:// or https://");
    expect_error("web: { listen: \"\" }\n", "web.listen: must not be empty");
    expect_error("web: { release_window: 10s }\n",
                 "web.release_window: must be at least");
    expect_error("web: { port: 80 }\n", "web.port: unknown key");
}

/* The secret never shows in an error. */
static void test_dsn_not_in_errors(void **state)
{
    char err[4096];
    struct config *c =
        parse("history: { dsn: \"password=hunter2\", dsn_file: /x }\n", err, sizeof(err));

    (void)state;
    assert_null(c);
    assert_null(strstr(err, "hunter2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_sections),
        cmocka_unit_test(test_dsn_env_and_file_resolved_late),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_dsn_not_in_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
