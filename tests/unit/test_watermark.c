/* test_watermark.c -- watermark records (common/watermark.c, contracts §1): encode,
 * parse, and what a parser must refuse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watermark.h"

static int parse_str(struct watermark *wm, const char *s, char *err, size_t errsz)
{
    return watermark_parse(wm, s, strlen(s), err, errsz);
}

static void test_encode_contract_example(void **state)
{
    struct watermark wm;
    char buf[WATERMARK_MAX_BYTES + 1], err[256];

    (void)state;
    assert_int_equal(watermark_set(&wm, "replay:host:4242:1764583200000", 1764583199999LL,
                                   4, false, err, sizeof(err)),
                     0);
    int n = watermark_encode(&wm, buf, sizeof(buf));
    assert_true(n > 0);
    /* The contract's own example, byte for byte. */
    assert_string_equal(
        buf, "{\"schema\":1,\"kind\":\"watermark\",\"source\":\"replay:host:4242:"
             "1764583200000\",\"watermark_ms\":1764583199999,\"partitions\":4,"
             "\"final\":false}");
    assert_int_equal((size_t)n, strlen(buf));
}

static void test_round_trip(void **state)
{
    static const struct {
        const char *source;
        int64_t ms;
        int parts;
        bool final;
    } cases[] = {
        {"watch:prow", 1764583199999LL, 4, false},
        {"deck:prow.ack.aws.dev", -1, 1, true},
        {"a", 0, WATERMARK_MAX_PARTITIONS, true},
        {"x@y/z_1.2-3:4", WATERMARK_MS_LIMIT, 12, false},
        {"neg", -WATERMARK_MS_LIMIT, 3, false},
    };
    char buf[WATERMARK_MAX_BYTES + 1], err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct watermark in, out;
        assert_int_equal(watermark_set(&in, cases[i].source, cases[i].ms, cases[i].parts,
                                       cases[i].final, err, sizeof(err)),
                         0);
        int n = watermark_encode(&in, buf, sizeof(buf));
        assert_true(n > 0);
        assert_int_equal(watermark_parse(&out, buf, (size_t)n, err, sizeof(err)), 0);
        assert_string_equal(out.source, cases[i].source);
        assert_true(out.watermark_ms == cases[i].ms);
        assert_int_equal(out.partitions, cases[i].parts);
        assert_int_equal(out.final, cases[i].final);
    }
}

static void test_source_ids(void **state)
{
    char longest[WATERMARK_SOURCE_MAX + 2];

    (void)state;
    memset(longest, 'a', sizeof(longest));
    longest[WATERMARK_SOURCE_MAX] = '\0';
    assert_true(watermark_source_valid(longest));
    longest[WATERMARK_SOURCE_MAX] = 'a';
    longest[WATERMARK_SOURCE_MAX + 1] = '\0';
    assert_false(watermark_source_valid(longest)); /* 201 bytes */
    assert_false(watermark_source_valid(""));
    assert_false(watermark_source_valid(NULL));
    assert_false(watermark_source_valid("has space"));
    assert_false(watermark_source_valid("quote\""));
    assert_false(watermark_source_valid("back\\slash"));
    assert_false(watermark_source_valid("caf\xc3\xa9"));
    assert_false(watermark_source_valid("new\nline"));
    assert_true(watermark_source_valid("replay:ci-host.local:99:1764583200000"));
}

static void test_set_and_encode_refuse_bad_values(void **state)
{
    struct watermark wm;
    char buf[WATERMARK_MAX_BYTES + 1], err[256];

    (void)state;
    assert_int_equal(watermark_set(&wm, "bad source", 1, 1, false, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "source"));
    assert_int_equal(watermark_set(&wm, "ok", 1, 0, false, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "partitions"));
    assert_int_equal(
        watermark_set(&wm, "ok", WATERMARK_MS_LIMIT + 1, 1, false, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "watermark_ms"));
    /* encode checks too, and refuses a buffer that is too small */
    assert_int_equal(watermark_set(&wm, "ok", 5, 2, true, err, sizeof(err)), 0);
    assert_int_equal(watermark_encode(&wm, buf, 10), -1);
    wm.partitions = -3;
    assert_int_equal(watermark_encode(&wm, buf, sizeof(buf)), -1);
}

/* A record missing one field, or with the wrong type, names that field. */
static void test_parse_rejects(void **state)
{
    static const struct {
        const char *json;
        const char *want; /* in the error */
    } cases[] = {
        {"", "malformed"},
        {"{\"schema\":1,", "malformed"},
        {"[1,2]", "not a JSON object"},
        {"{\"kind\":\"watermark\",\"source\":\"s\",\"watermark_ms\":1,\"partitions\":1,"
         "\"final\":false}",
         "schema: missing"},
        {"{\"schema\":2,\"kind\":\"watermark\",\"source\":\"s\",\"watermark_ms\":1,"
         "\"partitions\":1,\"final\":false}",
         "schema: 2"},
        {"{\"schema\":\"1\",\"kind\":\"watermark\",\"source\":\"s\",\"watermark_ms\":1,"
         "\"partitions\":1,\"final\":false}",
         "schema: not an integer"},
        {"{\"schema\":1,\"source\":\"s\",\"watermark_ms\":1,\"partitions\":1,\"final\":"
         "false}",
         "kind"},
        {"{\"schema\":1,\"kind\":\"event\",\"source\":\"s\",\"watermark_ms\":1,"
         "\"partitions\":1,\"final\":false}",
         "kind"},
        {"{\"schema\":1,\"kind\":\"watermark\",\"watermark_ms\":1,\"partitions\":1,"
         "\"final\":false}",
         "source: missing"},
        {"{\"schema\":1,\"kind\":\"watermark\",\"source\":7,\"watermark_ms\":1,"
         "\"partitions\":1,\"final\":false}",
         "source: missing or not a string"},
        {"{\"schema\":1,\"kind\":\"watermark\",\"source\":\"two "
         "words\",\"watermark_ms\":1,"
         "\"partitions\":1,\"final\":false}",
         "source: want"},
        {"{\"schema\":1,\"kind\":\"watermark\",\"source\":\"\",\"watermark_ms\":1,"
         "\"partitions\":1,\"final\":false}",
         "source: want"},
        {"{\"schema\":1,\"kind\":\"watermark\",\"source\":\"s\",\"partitions\":1,"
         "\"final\":false}",
         "watermark_ms: missing"},
        {"{\"schema\":1,\"kind\":\"watermark\",\"source\":\"s\",\"watermark_ms\":\"1\","
         "\"partitions\":1,\"final\":false}",
         "watermark_ms: not an integer"},
        {"{\"schema\":1,\"kind\":\"watermark\",\"source\":\"s\",\"watermark_ms\":1.5,"
         "\"partitions\":1,\"final\":false}",
         "watermark_ms: not an integer"},
        {"{\"schema\":1,\"kind\":\"watermark\",\"source\":\"s\",\"watermark_ms\":1e300,"
         "\"partitions\":1,\"final\":false}",
         "watermark_ms: not an integer"},
        {"{\"schema\":1,\"kind\":\"watermark\",\"source\":\"s\",\"watermark_ms\":1,"
         "\"final\":false}",
         "partitions: missing"},
        {"{\"schema\":1,\"kind\":\"watermark\",\"source\":\"s\",\"watermark_ms\":1,"
         "\"partitions\":0,\"final\":false}",
         "partitions: 0"},
        {"{\"schema\":1,\"kind\":\"watermark\",\"source\":\"s\",\"watermark_ms\":1,"
         "\"partitions\":100001,\"final\":false}",
         "partitions: 100001"},
        {"{\"schema\":1,\"kind\":\"watermark\",\"source\":\"s\",\"watermark_ms\":1,"
         "\"partitions\":true,\"final\":false}",
         "partitions: not an integer"},
        {"{\"schema\":1,\"kind\":\"watermark\",\"source\":\"s\",\"watermark_ms\":1,"
         "\"partitions\":1}",
         "final: missing"},
        {"{\"schema\":1,\"kind\":\"watermark\",\"source\":\"s\",\"watermark_ms\":1,"
         "\"partitions\":1,\"final\":\"true\"}",
         "final: missing or not a boolean"},
    };
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct watermark wm;
        err[0] = '\0';
        int rc = parse_str(&wm, cases[i].json, err, sizeof(err));
        if (rc != -1 || !strstr(err, cases[i].want))
            fail_msg("case %zu: rc %d, error \"%s\", wanted \"%s\"", i, rc, err,
                     cases[i].want);
        assert_int_equal(wm.partitions, 0); /* left cleared */
    }
}

static void test_parse_source_too_long(void **state)
{
    char src[WATERMARK_SOURCE_MAX + 2], json[WATERMARK_MAX_BYTES], err[256];
    struct watermark wm;

    (void)state;
    memset(src, 'b', WATERMARK_SOURCE_MAX + 1);
    src[WATERMARK_SOURCE_MAX + 1] = '\0';
    snprintf(json, sizeof(json),
             "{\"schema\":1,\"kind\":\"watermark\",\"source\":\"%s\",\"watermark_ms\":1,"
             "\"partitions\":1,\"final\":false}",
             src);
    assert_int_equal(parse_str(&wm, json, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "source"));
    src[WATERMARK_SOURCE_MAX] = '\0'; /* 200 bytes: fine */
    snprintf(json, sizeof(json),
             "{\"schema\":1,\"kind\":\"watermark\",\"source\":\"%s\",\"watermark_ms\":1,"
             "\"partitions\":1,\"final\":false}",
             src);
    assert_int_equal(parse_str(&wm, json, err, sizeof(err)), 0);
    assert_int_equal(strlen(wm.source), WATERMARK_SOURCE_MAX);
}

static void test_parse_oversize(void **state)
{
    size_t n = WATERMARK_MAX_BYTES + 200;
    char *json = malloc(n + 1), err[256];
    struct watermark wm;

    (void)state;
    assert_non_null(json);
    /* A valid record padded with an unknown field past the limit. */
    int k = snprintf(
        json, n + 1,
        "{\"schema\":1,\"kind\":\"watermark\",\"source\":\"s\",\"watermark_ms\":1,"
        "\"partitions\":1,\"final\":false,\"pad\":\"");
    memset(json + k, 'x', n - (size_t)k - 2);
    memcpy(json + n - 2, "\"}", 3);
    assert_int_equal(watermark_parse(&wm, json, n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "over the"));
    free(json);
}

static void test_parse_ignores_unknown_fields_and_order(void **state)
{
    struct watermark wm;
    char err[256];

    (void)state;
    assert_int_equal(
        parse_str(&wm,
                  "{\"final\":true,\"partitions\":8,\"watermark_ms\":42,"
                  "\"source\":\"deck:x\",\"kind\":\"watermark\",\"schema\":1,"
                  "\"extra\":{\"a\":[1]}}",
                  err, sizeof(err)),
        0);
    assert_string_equal(wm.source, "deck:x");
    assert_true(wm.watermark_ms == 42);
    assert_int_equal(wm.partitions, 8);
    assert_true(wm.final);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_contract_example),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_source_ids),
        cmocka_unit_test(test_set_and_encode_refuse_bad_values),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_parse_source_too_long),
        cmocka_unit_test(test_parse_oversize),
        cmocka_unit_test(test_parse_ignores_unknown_fields_and_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
