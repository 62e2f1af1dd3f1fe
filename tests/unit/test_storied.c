/* test_storied.c -- the bounded set of jobs with a story (consumer/storied.c): what is
 * added is found, nothing else is, and a full set starts again empty. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storied.h"

static void test_add_then_has(void **state)
{
    struct storied s;

    (void)state;
    assert_int_equal(storied_init(&s), 0);
    assert_false(storied_has(&s, "aws-controllers-k8s/s3-controller/s3-post-submit"));
    storied_add(&s, "aws-controllers-k8s/s3-controller/s3-post-submit");
    storied_add(&s, "aws-controllers-k8s/s3-controller/s3-post-submit"); /* twice: once */
    assert_true(storied_has(&s, "aws-controllers-k8s/s3-controller/s3-post-submit"));
    assert_false(storied_has(&s, "aws-controllers-k8s/s3-controller/s3-post-submi"));
    assert_false(storied_has(&s, "aws-controllers-k8s/s3-controller/s3-post-submit#1"));
    assert_int_equal(s.n, 1);
    storied_release(&s);
}

static void test_null_safe(void **state)
{
    struct storied s;

    (void)state;
    assert_false(storied_has(NULL, "k"));
    assert_int_equal(storied_init(&s), 0);
    assert_false(storied_has(&s, NULL));
    storied_add(&s, NULL);
    storied_add(NULL, "k");
    assert_int_equal(s.n, 0);
    storied_release(&s);
    storied_release(&s); /* twice: harmless */
}

/* Every key of a full set is found (probing over collisions); one more empties it. */
static void test_full_set_starts_again(void **state)
{
    struct storied s;
    char key[64];

    (void)state;
    assert_int_equal(storied_init(&s), 0);
    for (int i = 0; i < STORIED_MAX; i++) {
        snprintf(key, sizeof(key), "org/repo-%d/job", i);
        storied_add(&s, key);
    }
    assert_int_equal(s.n, STORIED_MAX);
    for (int i = 0; i < STORIED_MAX; i++) {
        snprintf(key, sizeof(key), "org/repo-%d/job", i);
        assert_true(storied_has(&s, key));
    }
    assert_false(storied_has(&s, "org/repo-x/job"));
    storied_add(&s, "org/repo-x/job");
    assert_int_equal(s.n, 1);
    assert_true(storied_has(&s, "org/repo-x/job"));
    assert_false(storied_has(&s, "org/repo-0/job"));
    storied_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_then_has),
        cmocka_unit_test(test_null_safe),
        cmocka_unit_test(test_full_set_starts_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
