/* test_config_input.c -- hostile and careless input to the configuration parser
 * (common/config*.c): over-long kafka.properties keys, keys given twice, secrets read
 * from files that are not regular files. Run from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

#define RECEIVER "receivers:\n  - name: r\n    url: http://h/r\n"

/* Parse text (of len bytes); err is always terminated. */
static struct config *parse_len(const char *text, size_t len, char *err, size_t errsize)
{
    memset(err, 'Z', errsize);
    return config_parse("t.yaml", text, len, err, errsize);
}

/* Parsing must fail and the error text must hold every NULL-terminated needle. */
static void expect_error(const char *yaml, ...)
{
    char err[4096];
    struct config *c = parse_len(yaml, strlen(yaml), err, sizeof(err));
    const char *needle;
    va_list ap;

    if (c) {
        config_free(c);
        fail_msg("config accepted:\n%.300s", yaml);
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

/* A config whose kafka.properties has one key: `n` bytes of 'a' then `suffix`,
 * given as an explicit key ("? key") so libyaml takes keys over 1024 bytes. */
static char *long_key_config(size_t n, const char *suffix)
{
    struct buf b;
    char *out;

    buf_init(&b, n + 4096);
    assert_int_equal(buf_puts(&b, "kafka:\n  properties:\n    ? "), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(buf_append(&b, "a", 1), 0);
    assert_int_equal(
        buf_printf(&b, "%s\n    : HERALD_TEST_LONG_KEY\n%s", suffix, RECEIVER), 0);
    out = buf_detach(&b, NULL);
    assert_non_null(out);
    return out;
}

/* Issue 11 item 14: a key over 256 bytes ending in _env or _file wrote past a stack
 * buffer (100,000 bytes crashed --check-config). Now it is an error naming the key. */
static void test_long_kafka_key(void **state)
{
    static const size_t lens[] = {252, 300, 1000, 100000};
    static const char *const suffixes[] = {"_env", "_file", ""};

    (void)state;
    setenv("HERALD_TEST_LONG_KEY", "x", 1);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        for (size_t j = 0; j < sizeof(suffixes) / sizeof(suffixes[0]); j++) {
            char *yaml = long_key_config(lens[i], suffixes[j]);
            size_t kl = lens[i] + strlen(suffixes[j]);
            char want[64];
            snprintf(want, sizeof(want), "is %zu bytes long (at most %d)", kl,
                     CONFIG_MAX_KEY);
            if (kl <= CONFIG_MAX_KEY) {
                char err[4096];
                struct config *c = parse_len(yaml, strlen(yaml), err, sizeof(err));
                if (!c)
                    fail_msg("key of %zu bytes refused:\n%s", kl, err);
                assert_int_equal(c->nkafka_props, 1);
                assert_int_equal(strlen(c->kafka_props[0].key), lens[i]);
                config_free(c);
            } else {
                expect_error(yaml, "t.yaml:3: kafka.properties: key \"aaaa", want, NULL);
            }
            free(yaml);
        }
    unsetenv("HERALD_TEST_LONG_KEY");
}

/* A key of exactly CONFIG_MAX_KEY bytes whose secret names are longer still: the
 * _env lookup must not look at a cut name. */
static void test_max_key_secret(void **state)
{
    char *yaml;
    char err[4096];
    struct config *c;

    (void)state;
    setenv("HERALD_TEST_LONG_KEY", "from-env", 1);
    yaml = long_key_config(CONFIG_MAX_KEY - 4, "_env");
    c = parse_len(yaml, strlen(yaml), err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    assert_int_equal(c->nkafka_props, 1);
    assert_int_equal(strlen(c->kafka_props[0].key), CONFIG_MAX_KEY - 4);
    assert_string_equal(c->kafka_props[0].value, "from-env");
    config_free(c);
    free(yaml);
    unsetenv("HERALD_TEST_LONG_KEY");
}

/* Issue 11 item 17: a key given twice was accepted and the first one won. */
static void test_duplicate_keys(void **state)
{
    (void)state;
    /* top level */
    expect_error("storm:\n  rate: 2\n" RECEIVER "storm:\n  rate: 5\n",
                 "t.yaml:6: duplicate key \"storm\": given at lines 1 and 6", NULL);
    /* inside a section */
    expect_error("kafka:\n  brokers: a:1\n  topic: t\n  brokers: b:2\n" RECEIVER,
                 "t.yaml:4: duplicate key \"brokers\": given at lines 2 and 4", NULL);
    /* inside a list entry: a receiver with two urls */
    expect_error("receivers:\n  - name: r\n    url: http://h/1\n    url: http://h/2\n",
                 "t.yaml:4: duplicate key \"url\": given at lines 3 and 4", NULL);
    /* kafka.properties and routes[].match */
    expect_error("kafka:\n  properties:\n    acks: all\n    acks: '1'\n" RECEIVER,
                 "t.yaml:4: duplicate key \"acks\": given at lines 3 and 4", NULL);
    expect_error(RECEIVER "routes:\n  - match:\n      repo: a\n      repo: b\n"
                          "    receivers: r\n",
                 "t.yaml:7: duplicate key \"repo\": given at lines 6 and 7", NULL);
    /* flow style and quoting do not hide a duplicate */
    expect_error("dedup: {window: 1h, \"window\": 2h}\n" RECEIVER,
                 "duplicate key \"window\": given at lines 1 and 1", NULL);
    /* three times: both later ones named against the first */
    expect_error("http:\n  listen: a\n  listen: b\n  listen: c\n" RECEIVER,
                 "t.yaml:3: duplicate key \"listen\": given at lines 2 and 3",
                 "t.yaml:4: duplicate key \"listen\": given at lines 2 and 4", NULL);
}

/* The same key in different mappings is not a duplicate. */
static void test_same_key_elsewhere(void **state)
{
    char err[4096];
    static const char yaml[] = "receivers:\n"
                               "  - name: a\n    url: http://h/a\n"
                               "  - name: b\n    url: http://h/b\n"
                               "release:\n  hold: 1m\necosystem:\n  hold: 2m\n";
    struct config *c;

    (void)state;
    c = parse_len(yaml, strlen(yaml), err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    assert_int_equal(c->nreceivers, 2);
    config_free(c);
}

/* A duplicate in a mapping of many keys is found (and quickly: sorted, not n^2). */
static void test_duplicate_in_many_keys(void **state)
{
    struct buf b;
    char *yaml;

    (void)state;
    buf_init(&b, 1 << 20);
    assert_int_equal(buf_puts(&b, "kafka:\n  properties:\n"), 0);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(buf_printf(&b, "    p%d: v\n", i), 0);
    assert_int_equal(buf_puts(&b, "    p1234: again\n" RECEIVER), 0);
    yaml = buf_detach(&b, NULL);
    expect_error(
        yaml, "t.yaml:5003: duplicate key \"p1234\": given at lines 1237 and 5003", NULL);
    free(yaml);
}

static void on_alarm(int sig)
{
    (void)sig;
    /* Reading a FIFO hung: fail loudly instead of hanging the suite. */
    static const char msg[] = "test_config_input: config_parse hung on a FIFO\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    _exit(1);
}

/* Issue 11 item 17: url_file naming a FIFO hung start-up waiting for a writer. Every
 * non-regular file is refused at once with a clear error. */
static void test_secret_file_not_regular(void **state)
{
    char dir[] = "/tmp/herald-test-fifo-XXXXXX";
    char fifo[128], yaml[512], err[4096];
    const char *paths[3];
    const char *kinds[] = {"a FIFO", "a directory", "a character device"};
    struct config *c;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof(fifo), "%s/url", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    paths[0] = fifo;
    paths[1] = dir;
    paths[2] = "/dev/zero";
    signal(SIGALRM, on_alarm);
    for (size_t i = 0; i < 3; i++) {
        snprintf(yaml, sizeof(yaml), "receivers:\n  - name: f\n    url_file: %s\n",
                 paths[i]);
        alarm(10);
        c = parse_len(yaml, strlen(yaml), err, sizeof(err));
        alarm(0);
        if (c) {
            config_free(c);
            fail_msg("url_file %s accepted", paths[i]);
        }
        if (!strstr(err, "t.yaml:3: receivers[f].url_file: ") || !strstr(err, paths[i]) ||
            !strstr(err, "not a regular file") || !strstr(err, kinds[i]))
            fail_msg("unclear error for %s:\n%s", paths[i], err);
    }
    /* token_file, password_file and kafka's *_file go through the same reader. */
    snprintf(yaml, sizeof(yaml),
             "kafka:\n  properties:\n    sasl.password_file: %s\n" RECEIVER, fifo);
    alarm(10);
    expect_error(yaml, "t.yaml:3: kafka.properties.sasl.password_file: ", "a FIFO", NULL);
    snprintf(yaml, sizeof(yaml), "redis:\n  password_file: %s\n" RECEIVER, fifo);
    expect_error(yaml, "t.yaml:2: redis.password_file: ", "a FIFO", NULL);
    alarm(0);
    signal(SIGALRM, SIG_DFL);
    unlink(fifo);
    rmdir(dir);
}

/* A symlink to a regular file is fine (Kubernetes mounts secrets that way). */
static void test_secret_file_symlink(void **state)
{
    char dir[] = "/tmp/herald-test-link-XXXXXX";
    char file[128], link[128], yaml[512], err[4096];
    struct config *c;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof(file), "%s/data", dir);
    snprintf(link, sizeof(link), "%s/url", dir);
    assert_non_null(f = fopen(file, "w"));
    fputs("https://hooks.slack.test/linked\n", f);
    fclose(f);
    assert_int_equal(symlink(file, link), 0);
    snprintf(yaml, sizeof(yaml), "receivers:\n  - name: f\n    url_file: %s\n", link);
    c = parse_len(yaml, strlen(yaml), err, sizeof(err));
    if (!c)
        fail_msg("%s", err);
    assert_string_equal(c->receivers[0].url, "https://hooks.slack.test/linked");
    config_free(c);
    unlink(link);
    unlink(file);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_kafka_key),
        cmocka_unit_test(test_max_key_secret),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_same_key_elsewhere),
        cmocka_unit_test(test_duplicate_in_many_keys),
        cmocka_unit_test(test_secret_file_not_regular),
        cmocka_unit_test(test_secret_file_symlink),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
