/* test_silence.c -- silence matchers and matching (common/silence.c), no Redis. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "silence.h"

/* ---- silence_matcher_parse ---- */

static void test_matcher_parse_good(void **state)
{
    struct silence_matcher m;
    char err[256] = "", out[64];

    (void)state;
    assert_int_equal(silence_matcher_parse("service=lambda", &m, err, sizeof(err)), 0);
    assert_int_equal(m.field, FIELD_SERVICE);
    assert_string_equal(m.glob, "lambda");
    assert_string_equal(silence_matcher_format(&m, out, sizeof(out)), "service=lambda");
    free(m.glob);

    assert_int_equal(silence_matcher_parse("stage=olm-*", &m, err, sizeof(err)), 0);
    assert_int_equal(m.field, FIELD_STAGE);
    assert_string_equal(m.glob, "olm-*");
    free(m.glob);

    /* split at the first '=': the glob may contain '=' */
    assert_int_equal(silence_matcher_parse("job=a=b", &m, err, sizeof(err)), 0);
    assert_int_equal(m.field, FIELD_JOB);
    assert_string_equal(m.glob, "a=b");
    free(m.glob);

    assert_int_equal(silence_matcher_parse("base_ref=release-?", &m, err, sizeof(err)),
                     0);
    assert_int_equal(m.field, FIELD_BASE_REF);
    free(m.glob);
}

static void test_matcher_parse_every_field(void **state)
{
    struct silence_matcher m;
    char err[256], s[64];

    (void)state;
    for (int f = 0; f < FIELD__COUNT; f++) {
        snprintf(s, sizeof(s), "%s=x*", field_name((enum field)f));
        assert_int_equal(silence_matcher_parse(s, &m, err, sizeof(err)), 0);
        assert_int_equal(m.field, f);
        free(m.glob);
    }
}

static void test_matcher_parse_unknown_field(void **state)
{
    struct silence_matcher m;
    char err[256] = "";

    (void)state;
    assert_int_equal(silence_matcher_parse("team=lambda", &m, err, sizeof(err)), -1);
    assert_null(m.glob);
    assert_non_null(strstr(err, "team=lambda"));
    assert_non_null(strstr(err, "unknown field \"team\""));
    /* case matters, and no spaces around '=' */
    assert_int_equal(silence_matcher_parse("Service=x", &m, err, sizeof(err)), -1);
    assert_int_equal(silence_matcher_parse("service =x", &m, err, sizeof(err)), -1);
    assert_int_equal(silence_matcher_parse("=x", &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "\"=x\""));
    /* a field name longer than any buffer is still just unknown */
    assert_int_equal(
        silence_matcher_parse("servicexxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                              "xxxxxxxxxxxx=x",
                              &m, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "unknown field"));
}

static void test_matcher_parse_no_equals(void **state)
{
    struct silence_matcher m;
    char err[256] = "";

    (void)state;
    assert_int_equal(silence_matcher_parse("service", &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "\"service\""));
    assert_non_null(strstr(err, "FIELD=GLOB"));
    assert_int_equal(silence_matcher_parse("", &m, err, sizeof(err)), -1);
    /* != and =~ are not supported; != says so */
    assert_int_equal(silence_matcher_parse("service!=s3", &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "service!=s3"));
    assert_non_null(strstr(err, "!="));
}

static void test_matcher_parse_empty_glob(void **state)
{
    struct silence_matcher m;
    char err[256] = "", big[SILENCE_MAX_GLOB + 32];

    (void)state;
    assert_int_equal(silence_matcher_parse("service=", &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "\"service=\""));
    assert_non_null(strstr(err, "empty glob"));
    assert_null(m.glob);

    /* too long */
    memcpy(big, "job=", 4);
    memset(big + 4, 'a', SILENCE_MAX_GLOB + 1);
    big[4 + SILENCE_MAX_GLOB + 1] = '\0';
    assert_int_equal(silence_matcher_parse(big, &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "longer than"));
    big[4 + SILENCE_MAX_GLOB] = '\0';
    assert_int_equal(silence_matcher_parse(big, &m, err, sizeof(err)), 0);
    free(m.glob);

    /* invalid UTF-8 */
    assert_int_equal(silence_matcher_parse("job=\xff", &m, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "UTF-8"));
}

static void test_matcher_parse_small_errstr(void **state)
{
    struct silence_matcher m;
    char err[8];

    (void)state;
    assert_int_equal(silence_matcher_parse("nope=x", &m, err, sizeof(err)), -1);
    assert_int_equal(strlen(err), sizeof(err) - 1);
}

/* ---- ids ---- */

static void test_make_id(void **state)
{
    char a[16], b[16], err[128];

    (void)state;
    assert_int_equal(silence_make_id(a, err, sizeof(err)), 0);
    assert_int_equal(silence_make_id(b, err, sizeof(err)), 0);
    assert_int_equal(strlen(a), SILENCE_ID_LEN);
    assert_true(silence_id_valid(a));
    assert_true(silence_id_valid(b));
    assert_string_not_equal(a, b);
    assert_true(silence_id_valid("0a1b2c3d4e5f"));
    assert_false(silence_id_valid("0A1B2C3D4E5F"));
    assert_false(silence_id_valid("0a1b2c3d4e5"));
    assert_false(silence_id_valid("0a1b2c3d4e5f0"));
    assert_false(silence_id_valid("0a1b2c3d4e5g"));
    assert_false(silence_id_valid(""));
}

/* ---- silence_match ---- */

/* Add a silence with `id` and the NULL-terminated matchers to set. */
static void add(struct silence_set *set, const char *id, ...)
{
    struct silence *s;
    const char *m;
    char err[256];
    va_list ap;

    set->v = realloc(set->v, (set->n + 1) * sizeof(*set->v));
    assert_non_null(set->v);
    s = &set->v[set->n++];
    silence_init(s);
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->reason = strdup("");
    s->created_by = strdup("");
    va_start(ap, id);
    while ((m = va_arg(ap, const char *)) != NULL) {
        assert_true(s->nm < SILENCE_MAX_MATCHERS);
        assert_int_equal(silence_matcher_parse(m, &s->m[s->nm], err, sizeof(err)), 0);
        s->nm++;
    }
    va_end(ap);
}

struct fixture {
    struct event ev;
    struct facts f;
    char id[32], job[64], type[32], state[32], org[32], repo[32];
};

static void facts_for(struct fixture *x, const char *service, const char *stage,
                      const char *job, const char *state, enum tier tier)
{
    memset(x, 0, sizeof(*x));
    snprintf(x->id, sizeof(x->id), "pj:%s", state);
    snprintf(x->job, sizeof(x->job), "%s", job);
    snprintf(x->type, sizeof(x->type), "postsubmit");
    snprintf(x->state, sizeof(x->state), "%s", state);
    snprintf(x->org, sizeof(x->org), "aws-controllers-k8s");
    snprintf(x->repo, sizeof(x->repo), "lambda-controller");
    x->ev.id = x->id;
    x->ev.job = x->job;
    x->ev.type = x->type;
    x->ev.state = x->state;
    x->ev.org = x->org;
    x->ev.repo = x->repo;
    x->ev.base_ref = NULL; /* facts_get gives "" */
    x->f.ev = &x->ev;
    x->f.service = service;
    x->f.stage = stage;
    x->f.tier = tier;
}

static void test_match_and(void **state)
{
    struct silence_set set = {NULL, 0, 0};
    struct fixture x;

    (void)state;
    add(&set, "000000000001", "service=lambda", "stage=olm-bundle", NULL);

    facts_for(&x, "lambda", "olm-bundle", "lambda-olm", "failure", TIER_CRITICAL);
    assert_ptr_equal(silence_match(&set, &x.f), &set.v[0]);
    /* one matcher of two is not enough */
    facts_for(&x, "lambda", "post-submit", "lambda-post", "failure", TIER_CRITICAL);
    assert_null(silence_match(&set, &x.f));
    facts_for(&x, "s3", "olm-bundle", "s3-olm", "failure", TIER_CRITICAL);
    assert_null(silence_match(&set, &x.f));
    silence_set_release(&set);
    assert_null(set.v);
    assert_int_equal(set.n, 0);
}

static void test_match_globs(void **state)
{
    struct silence_set set = {NULL, 0, 0};
    struct fixture x;

    (void)state;
    add(&set, "000000000001", "repo=*-controller", "job=*-e2e-?", "tier=crit*", NULL);

    facts_for(&x, "lambda", "e2e", "lambda-e2e-1", "failure", TIER_CRITICAL);
    assert_non_null(silence_match(&set, &x.f));
    facts_for(&x, "lambda", "e2e", "lambda-e2e-12", "failure", TIER_CRITICAL);
    assert_null(silence_match(&set, &x.f)); /* ? is one character */
    facts_for(&x, "lambda", "e2e", "lambda-e2e-1", "failure", TIER_WARNING);
    assert_null(silence_match(&set, &x.f)); /* tier by name */
    silence_set_release(&set);

    /* a glob matches the whole value, not a part of it */
    add(&set, "000000000002", "service=lamb", NULL);
    facts_for(&x, "lambda", "e2e", "j", "failure", TIER_INFO);
    assert_null(silence_match(&set, &x.f));
    silence_set_release(&set);

    /* an unknown value ("") is matched by "*" only */
    add(&set, "000000000003", "base_ref=*", "org=aws-controllers-k8s", NULL);
    assert_non_null(silence_match(&set, &x.f));
    silence_set_release(&set);
    add(&set, "000000000004", "base_ref=main", NULL);
    assert_null(silence_match(&set, &x.f));
    silence_set_release(&set);
}

static void test_match_first_wins(void **state)
{
    struct silence_set set = {NULL, 0, 0};
    struct fixture x;
    const struct silence *s;

    (void)state;
    add(&set, "00000000000a", "service=s3", NULL);
    add(&set, "00000000000b", "state=fail*", NULL);
    add(&set, "00000000000c", "service=lambda", "state=failure", NULL);

    facts_for(&x, "lambda", "e2e", "j", "failure", TIER_INFO);
    s = silence_match(&set, &x.f);
    assert_non_null(s);
    assert_string_equal(s->id, "00000000000b");
    facts_for(&x, "s3", "e2e", "j", "failure", TIER_INFO);
    assert_string_equal(silence_match(&set, &x.f)->id, "00000000000a");
    facts_for(&x, "lambda", "e2e", "j", "error", TIER_INFO);
    assert_null(silence_match(&set, &x.f));
    silence_set_release(&set);
}

static void test_match_empty(void **state)
{
    struct silence_set set = {NULL, 0, 0};
    struct fixture x;

    (void)state;
    facts_for(&x, "lambda", "e2e", "j", "failure", TIER_INFO);
    assert_null(silence_match(&set, &x.f));
    assert_null(silence_match(NULL, &x.f));
    silence_set_release(&set);
    silence_set_release(NULL);
    silence_release(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matcher_parse_good),
        cmocka_unit_test(test_matcher_parse_every_field),
        cmocka_unit_test(test_matcher_parse_unknown_field),
        cmocka_unit_test(test_matcher_parse_no_equals),
        cmocka_unit_test(test_matcher_parse_empty_glob),
        cmocka_unit_test(test_matcher_parse_small_errstr),
        cmocka_unit_test(test_make_id),
        cmocka_unit_test(test_match_and),
        cmocka_unit_test(test_match_globs),
        cmocka_unit_test(test_match_first_wins),
        cmocka_unit_test(test_match_empty),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
