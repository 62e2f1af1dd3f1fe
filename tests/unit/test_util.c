/* test_util.c -- time, durations, numbers, globs, UTF-8, bounded buffers
 * (common/util.c, util_time.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define T0 1795600800000LL /* 2026-11-25T10:00:00Z */

/* ---- util_parse_time ---- */

static void test_parse_time_utc(void **state)
{
    int64_t ms = -1;

    (void)state;
    assert_int_equal(util_parse_time("2026-11-25T10:00:00Z", &ms), 0);
    assert_int_equal(ms, T0);
    assert_int_equal(util_parse_time("1970-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
    /* lower-case separators are allowed by RFC 3339 */
    assert_int_equal(util_parse_time("2026-11-25t10:00:00z", &ms), 0);
    assert_int_equal(ms, T0);
    /* leap day */
    assert_int_equal(util_parse_time("2024-02-29T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 1709164800000LL);
}

static void test_parse_time_fraction(void **state)
{
    int64_t ms = -1;

    (void)state;
    assert_int_equal(util_parse_time("2026-11-25T10:00:00.123Z", &ms), 0);
    assert_int_equal(ms, T0 + 123);
    /* microseconds are truncated to ms */
    assert_int_equal(util_parse_time("2026-11-25T10:00:00.123456Z", &ms), 0);
    assert_int_equal(ms, T0 + 123);
    /* short fractions are scaled: .5 = 500 ms, .05 = 50 ms */
    assert_int_equal(util_parse_time("2026-11-25T10:00:00.5Z", &ms), 0);
    assert_int_equal(ms, T0 + 500);
    assert_int_equal(util_parse_time("2026-11-25T10:00:00.05Z", &ms), 0);
    assert_int_equal(ms, T0 + 50);
    /* the ProwJob fixture's startTime */
    assert_int_equal(util_parse_time("2017-05-10T23:34:22.567457Z", &ms), 0);
    assert_int_equal(ms, 1494459262567LL);
}

static void test_parse_time_offsets(void **state)
{
    int64_t ms = -1;

    (void)state;
    /* 12:00 at +02:00 is 10:00 UTC */
    assert_int_equal(util_parse_time("2026-11-25T12:00:00+02:00", &ms), 0);
    assert_int_equal(ms, T0);
    assert_int_equal(util_parse_time("2026-11-25T10:00:00.123456+02:00", &ms), 0);
    assert_int_equal(ms, T0 - 2 * 3600000LL + 123);
    /* 04:30 at -05:30 is 10:00 UTC */
    assert_int_equal(util_parse_time("2026-11-25T04:30:00-05:30", &ms), 0);
    assert_int_equal(ms, T0);
    assert_int_equal(util_parse_time("2026-11-25T10:00:00+00:00", &ms), 0);
    assert_int_equal(ms, T0);
    /* crossing midnight backwards */
    assert_int_equal(util_parse_time("2026-11-26T01:00:00+15:00", &ms), 0);
    assert_int_equal(ms, T0);
}

static void test_parse_time_invalid(void **state)
{
    static const char *const bad[] = {
        "",
        "2026-13-01T00:00:00Z",     /* month 13 */
        "2026-00-10T00:00:00Z",     /* month 0 */
        "2026-11-00T00:00:00Z",     /* day 0 */
        "2026-11-32T00:00:00Z",     /* day 32 */
        "2026-11-25T24:00:00Z",     /* hour 24 */
        "2026-11-25T10:60:00Z",     /* minute 60 */
        "2026-11-25T10:00:61Z",     /* second 61 */
        "2026-11-25T10:00:00",      /* no zone */
        "2026-11-25T10:00:00Zjunk", /* trailing junk */
        "2026-11-25T10:00:00Z ",    /* trailing space */
        "2026-11-25T10:00:00+02:00x",
        "2026-11-25T10:00:00+2:00",  /* one-digit offset hour */
        "2026-11-25T10:00:00+0200",  /* offset without colon */
        "2026-11-25T10:00:00+24:00", /* offset hour out of range */
        "2026-11-25T10:00:00.Z",     /* dot without digits */
        "2026-11-25",                /* date only */
        "2026-11-25X10:00:00Z",      /* wrong separator */
        "26-11-25T10:00:00Z",
        "2026/11/25T10:00:00Z",
        "yesterday",
    };
    int64_t ms;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ms = 4242;
        if (util_parse_time(bad[i], &ms) != -1)
            fail_msg("util_parse_time accepted \"%s\"", bad[i]);
        assert_int_equal(ms, 4242); /* untouched on failure */
    }
    assert_int_equal(util_parse_time(NULL, &ms), -1);
}

/* RFC 3339 (5.7): the day must exist in its month. Go's time.Parse, which produces
 * Prow's timestamps, rejects these too. */
static void test_parse_time_day_not_in_month(void **state)
{
    static const char *const bad[] = {
        "2026-02-31T00:00:00Z",
        "2026-02-29T00:00:00Z", /* 2026 is not a leap year */
        "2026-04-31T00:00:00Z",
        "2026-11-31T00:00:00Z",
    };
    int64_t ms;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ms = 4242;
        if (util_parse_time(bad[i], &ms) != -1)
            fail_msg("util_parse_time accepted \"%s\" as %lld", bad[i], (long long)ms);
    }
}

/* ---- util_format_time_* ---- */

static void test_format_time(void **state)
{
    char buf[32];
    int64_t ms;

    (void)state;
    assert_string_equal(util_format_time_ms(T0 + 123, buf, sizeof(buf)),
                        "2026-11-25T10:00:00.123Z");
    assert_string_equal(util_format_time_s(T0 + 999, buf, sizeof(buf)),
                        "2026-11-25T10:00:00Z");
    assert_string_equal(util_format_time_ms(0, buf, sizeof(buf)),
                        "1970-01-01T00:00:00.000Z");
    /* the return value is buf */
    assert_ptr_equal(util_format_time_ms(T0, buf, sizeof(buf)), buf);

    /* round trips */
    static const int64_t samples[] = {
        0, 1, 999, T0, T0 + 7, 1494459262567LL, 1709164800000LL, 4102444799999LL};
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        util_format_time_ms(samples[i], buf, sizeof(buf));
        assert_int_equal(util_parse_time(buf, &ms), 0);
        assert_int_equal(ms, samples[i]);
        util_format_time_s(samples[i], buf, sizeof(buf));
        assert_int_equal(util_parse_time(buf, &ms), 0);
        assert_int_equal(ms, samples[i] - samples[i] % 1000);
    }
}

static void test_format_time_small_buffer(void **state)
{
    char buf[8];

    (void)state;
    memset(buf, 'x', sizeof(buf));
    util_format_time_ms(T0, buf, sizeof(buf));
    assert_int_equal(strlen(buf), sizeof(buf) - 1); /* cut, NUL-terminated */
    assert_memory_equal(buf, "2026-11", 7);
}

/* ---- util_parse_duration ---- */

static void test_parse_duration_valid(void **state)
{
    static const struct {
        const char *s;
        int64_t ms;
    } ok[] = {
        {"250ms", 250},   {"30s", 30000},     {"15m", 900000},     {"2h", 7200000},
        {"1d", 86400000}, {"1h30m", 5400000}, {"5", 5000},         {"0", 0},
        {"0s", 0},        {"1m30s", 90000},   {"2h0m0s", 7200000}, {"1d2h", 93600000},
        {"1.5s", 1500},   {"100ms", 100},     {"1s500ms", 1500},
    };
    int64_t ms;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        ms = -42;
        if (util_parse_duration(ok[i].s, &ms) != 0)
            fail_msg("util_parse_duration rejected \"%s\"", ok[i].s);
        if (ms != ok[i].ms)
            fail_msg("\"%s\": got %lld ms, want %lld", ok[i].s, (long long)ms,
                     (long long)ok[i].ms);
    }
}

static void test_parse_duration_invalid(void **state)
{
    static const char *const bad[] = {
        "",    "h",   "-1s", "1x", "ms",  "1h30", /* a bare number only on its own */
        "5 5", "1hh", "s",   "-5", "abc", "1 hour", "inf", "1e300d",
    };
    int64_t ms;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ms = 4242;
        if (util_parse_duration(bad[i], &ms) != -1)
            fail_msg("util_parse_duration accepted \"%s\" as %lld", bad[i],
                     (long long)ms);
        assert_int_equal(ms, 4242);
    }
    assert_int_equal(util_parse_duration(NULL, &ms), -1);
}

/* "nan" is not a number of seconds; today strtod() takes it, the NaN is converted to
 * int64_t (undefined behaviour; INT64_MIN on x86-64) and a negative duration is
 * returned as success. */
static void test_parse_duration_nan(void **state)
{
    static const char *const bad[] = {"nan", "nanms", "NaNs"};
    int64_t ms;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ms = 4242;
        if (util_parse_duration(bad[i], &ms) != -1)
            fail_msg("util_parse_duration accepted \"%s\" as %lld ms", bad[i],
                     (long long)ms);
    }
}

/* ---- util_human_duration ---- */

static void test_human_duration(void **state)
{
    char buf[32];

    (void)state;
    assert_string_equal(util_human_duration(0, buf, sizeof(buf)), "0s");
    assert_string_equal(util_human_duration(45000, buf, sizeof(buf)), "45s");
    assert_string_equal(util_human_duration(59999, buf, sizeof(buf)), "59s");
    assert_string_equal(util_human_duration(60000, buf, sizeof(buf)), "1 min");
    assert_string_equal(util_human_duration(12 * 60000 + 30000, buf, sizeof(buf)),
                        "12 min");
    assert_string_equal(util_human_duration(3600000, buf, sizeof(buf)), "1 h 0 min");
    assert_string_equal(util_human_duration(5 * 3600000LL + 3 * 60000, buf, sizeof(buf)),
                        "5 h 3 min");
    assert_string_equal(
        util_human_duration(2 * 86400000LL + 4 * 3600000LL, buf, sizeof(buf)), "2 d 4 h");
    /* negative durations read as zero */
    assert_string_equal(util_human_duration(-5000, buf, sizeof(buf)), "0s");
    assert_ptr_equal(util_human_duration(1000, buf, sizeof(buf)), buf);
}

/* ---- util_parse_int / util_parse_double ---- */

static void test_parse_int(void **state)
{
    long long v = 0;

    (void)state;
    assert_int_equal(util_parse_int("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(util_parse_int("-7", -10, 10, &v), 0);
    assert_int_equal(v, -7);
    /* bounds are inclusive */
    assert_int_equal(util_parse_int("1", 1, 65535, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(util_parse_int("65535", 1, 65535, &v), 0);
    assert_int_equal(v, 65535);
    assert_int_equal(util_parse_int("9223372036854775807", 0, INT64_MAX, &v), 0);
    assert_true(v == INT64_MAX);

    v = 99;
    assert_int_equal(util_parse_int("0", 1, 65535, &v), -1);
    assert_int_equal(util_parse_int("65536", 1, 65535, &v), -1);
    assert_int_equal(util_parse_int("-11", -10, 10, &v), -1);
    assert_int_equal(util_parse_int("9223372036854775808", 0, INT64_MAX, &v),
                     -1); /* ERANGE */
    assert_int_equal(util_parse_int("", 0, 100, &v), -1);
    assert_int_equal(util_parse_int(NULL, 0, 100, &v), -1);
    assert_int_equal(util_parse_int("12abc", 0, 100, &v), -1);
    assert_int_equal(util_parse_int("12 ", 0, 100, &v), -1);
    assert_int_equal(util_parse_int(" 12", 0, 100, &v), -1);
    assert_int_equal(util_parse_int("1.5", 0, 100, &v), -1);
    assert_int_equal(util_parse_int("0x10", 0, 100, &v), -1);
    assert_int_equal(util_parse_int("-", -10, 10, &v), -1);
    assert_int_equal(util_parse_int("abc", 0, 100, &v), -1);
    assert_int_equal(v, 99); /* untouched on failure */
}

static void test_parse_double(void **state)
{
    double d = -1;

    (void)state;
    assert_int_equal(util_parse_double("1.5", &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(util_parse_double("0", &d), 0);
    assert_true(d == 0.0);
    d = 7;
    assert_int_equal(util_parse_double("-1", &d), -1);
    assert_int_equal(util_parse_double("", &d), -1);
    assert_int_equal(util_parse_double(" 1", &d), -1);
    assert_int_equal(util_parse_double("1.5x", &d), -1);
    assert_int_equal(util_parse_double("nan", &d), -1);
    assert_true(d == 7);
}

/* ---- util_glob_match ---- */

static void test_glob_match(void **state)
{
    (void)state;
    assert_true(util_glob_match("*", "anything"));
    assert_true(util_glob_match("*", ""));
    assert_true(util_glob_match("", ""));
    assert_false(util_glob_match("", "a"));
    assert_false(util_glob_match("a", ""));
    assert_true(util_glob_match("s3-post-submit", "s3-post-submit"));
    assert_false(util_glob_match("s3-post-submit", "s3-post-submitx"));
    assert_true(util_glob_match("*-post-submit", "s3-post-submit"));
    assert_true(util_glob_match("*-post-submit", "-post-submit"));
    assert_false(util_glob_match("*-post-submit", "post-submit"));
    assert_false(util_glob_match("*-post-submit", "s3-post-submit-2"));
    assert_true(util_glob_match("periodic-*", "periodic-close"));
    assert_false(util_glob_match("periodic-*", "label-sync"));
    assert_true(util_glob_match("*-controller-*", "s3-controller-release-pr"));
    assert_true(util_glob_match("s?-unit-test", "s3-unit-test"));
    assert_false(util_glob_match("s?-unit-test", "s-unit-test"));
    assert_false(util_glob_match("s?-unit-test", "ec2-unit-test"));
    assert_true(util_glob_match("???", "abc"));
    assert_false(util_glob_match("???", "ab"));
    assert_true(util_glob_match("a*b*c", "aXXbYYc"));
    assert_true(util_glob_match("a*b*c", "abcbc"));
    assert_false(util_glob_match("a*b*c", "aXXbYY"));
    assert_true(util_glob_match("**", "x"));
    /* no character classes: '[' is literal */
    assert_true(util_glob_match("v[1]", "v[1]"));
    assert_false(util_glob_match("v[1]", "v1"));
    /* case-sensitive */
    assert_false(util_glob_match("S3-*", "s3-post-submit"));
}

/* ---- buf_json_str ---- */

static void test_buf_json_str(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 1024);
    assert_int_equal(buf_json_str(&b, "plain run"), 0);
    assert_int_equal(buf_json_str(&b, "a\"b\\c\nd\x01"
                                      "e"),
                     0);
    assert_int_equal(buf_json_str(&b, ""), 0);
    assert_int_equal(buf_json_str(&b, NULL), 0);
    assert_string_equal(b.data, "\"plain run\"\"a\\\"b\\\\c\\nd\\u0001e\"\"\"\"\"");
    buf_release(&b);
    buf_init(&b, 8); /* too small: nothing of the string is left behind */
    assert_int_equal(buf_json_str(&b, "0123456789"), -1);
    assert_int_equal(b.len, 0);
    buf_release(&b);
}

/* ---- util_utf8_valid ---- */

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(util_utf8_valid("", 0));
    assert_true(util_utf8_valid("plain ascii", 11));
    assert_true(util_utf8_valid("caf\xc3\xa9", 5));      /* é */
    assert_true(util_utf8_valid("\xe2\x82\xac", 3));     /* € */
    assert_true(util_utf8_valid("\xf0\x9f\x9a\x80", 4)); /* 🚀 */
    assert_true(util_utf8_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
    assert_true(util_utf8_valid("\xed\x9f\xbf", 3));     /* U+D7FF */
    assert_true(util_utf8_valid("a\0b", 3));             /* NUL is valid */
    /* a bad byte after a long ASCII run (the eight-at-a-time path), or in its tail */
    assert_false(util_utf8_valid("abcdefghijklmnopq\xff", 18));
    assert_false(util_utf8_valid("abcdefghijklmnop\xc3", 17));
    assert_true(util_utf8_valid("abcdefghijklmnop\xc3\xa9xyz", 20));
    /* len is honoured: the invalid byte after it is not read */
    assert_true(util_utf8_valid("ok\xff", 2));

    assert_false(util_utf8_valid("\xff", 1));
    assert_false(util_utf8_valid("\x80", 1));                 /* lone continuation */
    assert_false(util_utf8_valid("\xc0\x80", 2));             /* overlong NUL */
    assert_false(util_utf8_valid("\xc1\xbf", 2));             /* overlong */
    assert_false(util_utf8_valid("\xe0\x80\xaf", 3));         /* overlong '/' */
    assert_false(util_utf8_valid("\xf0\x82\x82\xac", 4));     /* overlong € */
    assert_false(util_utf8_valid("\xed\xa0\x80", 3));         /* U+D800 surrogate */
    assert_false(util_utf8_valid("\xed\xbf\xbf", 3));         /* U+DFFF surrogate */
    assert_false(util_utf8_valid("\xf4\x90\x80\x80", 4));     /* > U+10FFFF */
    assert_false(util_utf8_valid("\xf8\x88\x80\x80\x80", 5)); /* 5-byte form */
    assert_false(util_utf8_valid("caf\xc3", 4));              /* truncated */
    assert_false(util_utf8_valid("\xe2\x82", 2));             /* truncated */
    assert_false(util_utf8_valid("\xf0\x9f\x9a", 3));         /* truncated */
    assert_false(util_utf8_valid("\xe2\x82\xac", 2));         /* cut by len */
    assert_false(util_utf8_valid("\xc3(", 2));                /* bad continuation */
}

/* ---- buf_* ---- */

static void test_buf_basic(void **state)
{
    struct buf b;
    size_t len = 0;
    char *d;

    (void)state;
    buf_init(&b, 1024);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(buf_puts(&b, "hello"), 0);
    assert_int_equal(buf_append(&b, ", ", 2), 0);
    assert_int_equal(buf_printf(&b, "%s #%d", "world", 7), 0);
    assert_string_equal(b.data, "hello, world #7");
    assert_int_equal(b.len, strlen("hello, world #7"));

    buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");

    assert_int_equal(buf_puts(&b, "abc"), 0);
    d = buf_detach(&b, &len);
    assert_string_equal(d, "abc");
    assert_int_equal(len, 3);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.max, 1024); /* the limit survives detach */
    free(d);

    buf_release(&b);
    buf_release(NULL);
}

static void test_buf_limit(void **state)
{
    struct buf b;
    char big[64];

    (void)state;
    memset(big, 'x', sizeof(big));
    buf_init(&b, 10);
    assert_int_equal(buf_puts(&b, "12345678"), 0);
    /* 8 + 3 > 10: refused, content unchanged */
    assert_int_equal(buf_puts(&b, "abc"), -1);
    assert_string_equal(b.data, "12345678");
    assert_int_equal(b.len, 8);
    assert_int_equal(buf_printf(&b, "%d", 123), -1);
    assert_string_equal(b.data, "12345678");
    /* exactly up to the limit is fine */
    assert_int_equal(buf_puts(&b, "90"), 0);
    assert_string_equal(b.data, "1234567890");
    assert_int_equal(b.len, 10);
    /* full: even one more byte fails, zero bytes does not */
    assert_int_equal(buf_append(&b, "!", 1), -1);
    assert_int_equal(buf_append(&b, "", 0), 0);
    assert_string_equal(b.data, "1234567890");
    buf_release(&b);

    /* a single append larger than max, on an empty buffer */
    buf_init(&b, 10);
    assert_int_equal(buf_append(&b, big, sizeof(big)), -1);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    /* SIZE_MAX-sized lengths must not wrap around the check */
    assert_int_equal(buf_puts(&b, "ab"), 0);
    assert_int_equal(buf_append(&b, big, SIZE_MAX), -1);
    assert_string_equal(b.data, "ab");
    buf_release(&b);
}

static void test_buf_printf_large(void **state)
{
    struct buf b;
    char big[2000];

    (void)state;
    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    buf_init(&b, 4096);
    /* longer than buf_printf's 512-byte stack buffer */
    assert_int_equal(buf_printf(&b, "<%s>", big), 0);
    assert_int_equal(b.len, sizeof(big) - 1 + 2);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[b.len - 1], '>');
    assert_int_equal(b.data[b.len], '\0');
    /* and past the limit it fails without touching the content */
    assert_int_equal(buf_printf(&b, "%s%s", big, big), -1);
    assert_int_equal(b.len, sizeof(big) + 1);
    buf_release(&b);
}

/* ---- util_json_escape ---- */

static void test_json_escape(void **state)
{
    char out[64];

    (void)state;
    util_json_escape("plain", out, sizeof(out));
    assert_string_equal(out, "plain");
    util_json_escape("say \"hi\"\\", out, sizeof(out));
    assert_string_equal(out, "say \\\"hi\\\"\\\\");
    util_json_escape("a\nb\rc\td", out, sizeof(out));
    assert_string_equal(out, "a\\nb\\rc\\td");
    util_json_escape("\x01\x1f", out, sizeof(out));
    assert_string_equal(out, "\\u0001\\u001f");
    /* UTF-8 passes through */
    util_json_escape("caf\xc3\xa9", out, sizeof(out));
    assert_string_equal(out, "caf\xc3\xa9");
    util_json_escape("", out, sizeof(out));
    assert_string_equal(out, "");
}

static void test_json_escape_truncation(void **state)
{
    char out[6];

    (void)state;
    memset(out, 'Z', sizeof(out));
    util_json_escape("abcdefgh", out, sizeof(out));
    assert_string_equal(out, "abcde");
    /* an escape sequence is never cut in half */
    util_json_escape("abcd\"", out, sizeof(out));
    assert_string_equal(out, "abcd");
    util_json_escape("ab\x01", out, sizeof(out));
    assert_string_equal(out, "ab");
    /* size 0 writes nothing */
    out[0] = 'Q';
    util_json_escape("abc", out, 0);
    assert_int_equal(out[0], 'Q');
}

/* ---- misc ---- */

static void test_strdup0_and_read_file(void **state)
{
    char path[] = "/tmp/herald-test-util-XXXXXX";
    char err[256] = "";
    size_t len = 0;
    char *s;
    int fd;

    (void)state;
    assert_null(util_strdup0(NULL));
    s = util_strdup0("x");
    assert_string_equal(s, "x");
    free(s);

    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello\n", 6), 6);
    close(fd);
    s = util_read_file(path, 100, &len, err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(len, 6);
    assert_string_equal(s, "hello\n");
    free(s);
    /* over the limit */
    s = util_read_file(path, 3, &len, err, sizeof(err));
    assert_null(s);
    assert_non_null(strstr(err, "larger than 3 bytes"));
    unlink(path);
    /* missing */
    err[0] = '\0';
    s = util_read_file(path, 100, &len, err, sizeof(err));
    assert_null(s);
    assert_non_null(strstr(err, path));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time_utc),
        cmocka_unit_test(test_parse_time_fraction),
        cmocka_unit_test(test_parse_time_offsets),
        cmocka_unit_test(test_parse_time_invalid),
        cmocka_unit_test(test_parse_time_day_not_in_month),
        cmocka_unit_test(test_format_time),
        cmocka_unit_test(test_format_time_small_buffer),
        cmocka_unit_test(test_parse_duration_valid),
        cmocka_unit_test(test_parse_duration_invalid),
        cmocka_unit_test(test_parse_duration_nan),
        cmocka_unit_test(test_human_duration),
        cmocka_unit_test(test_parse_int),
        cmocka_unit_test(test_parse_double),
        cmocka_unit_test(test_glob_match),
        cmocka_unit_test(test_buf_json_str),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_buf_basic),
        cmocka_unit_test(test_buf_limit),
        cmocka_unit_test(test_buf_printf_large),
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_json_escape_truncation),
        cmocka_unit_test(test_strdup0_and_read_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
