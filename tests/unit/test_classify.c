/* test_classify.c -- service, stage and tier of ACK job events (common/classify.c) and
 * routing them to receivers (common/router.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "classify.h"
#include "config.h"
#include "event.h"
#include "router.h"

/* An event with just the fields classification and routing read; repo may be NULL. */
static void mkev(struct event *ev, const char *job, const char *type, const char *state,
                 const char *repo)
{
    event_init(ev);
    ev->job = strdup(job);
    ev->type = strdup(type);
    ev->state = strdup(state);
    ev->org = repo ? strdup("aws-controllers-k8s") : NULL;
    ev->repo = repo ? strdup(repo) : NULL;
    ev->base_ref = strdup("main");
    ev->id = strdup("pj:state");
    assert_non_null(ev->job);
    assert_non_null(ev->base_ref);
}

/* ---- ACK's default rules ---- */

struct case_ {
    const char *job, *type, *repo; /* repo may be NULL */
    const char *stage;
    enum tier tier;
    const char *service;
};

static const struct case_ ack_cases[] = {
    {"s3-controller-release-pr", "postsubmit", "s3-controller", "release-pr",
     TIER_CRITICAL, "s3"},
    {"s3-controller-release-tag", "postsubmit", "s3-controller", "release-tag",
     TIER_CRITICAL, "s3"},
    {"s3-post-submit", "postsubmit", "s3-controller", "post-submit", TIER_CRITICAL, "s3"},
    {"lambda-controller-olm-bundle-pr", "postsubmit", "lambda-controller", "olm-bundle",
     TIER_CRITICAL, "lambda"},
    {"update-ack-chart", "postsubmit", "lambda-controller", "chart-update", TIER_CRITICAL,
     "lambda"},
    {"ack-chart-release", "postsubmit", "ack-chart", "umbrella-chart", TIER_CRITICAL,
     "ack-chart"},
    {"auto-generate-controllers", "postsubmit", "code-generator", "codegen", TIER_WARNING,
     "code-generator"},
    {"s3-controller-test", "presubmit", "code-generator", "codegen", TIER_INFO, "s3"},
    {"s3-kind-e2e", "presubmit", "s3-controller", "e2e", TIER_INFO, "s3"},
    {"s3-kind-e2e", "batch", "s3-controller", "e2e", TIER_INFO, "s3"},
    {"s3-unit-test", "presubmit", "s3-controller", "unit", TIER_INFO, "s3"},
    {"unit-test", "presubmit", "runtime", "unit", TIER_INFO, "runtime"},
    {"ec2-verify-code-gen", "presubmit", "ec2-controller", "verify", TIER_INFO, "ec2"},
    {"verify-attribution", "presubmit", "runtime", "verify", TIER_INFO, "runtime"},
    {"lambda-metadata-file-test", "presubmit", "lambda-controller", "verify", TIER_INFO,
     "lambda"},
    {"docs-release", "periodic", "community", "docs", TIER_WARNING, "community"},
    {"periodic-deploy-docs", "periodic", "docs", "docs", TIER_WARNING, "docs"},
    {"label-sync", "periodic", NULL, "maintenance", TIER_WARNING, "unknown"},
    {"periodic-close", "periodic", NULL, "maintenance", TIER_WARNING, "unknown"},
    {"upgrade-go-version", "periodic", "test-infra", "maintenance", TIER_WARNING,
     "test-infra"},
    {"scan-controllers-cve", "periodic", "test-infra", "maintenance", TIER_WARNING,
     "test-infra"},
    /* unknown jobs: stage "other", tier from the job type */
    {"build-something-new", "postsubmit", "s3-controller", "other", TIER_WARNING, "s3"},
    {"build-something-new", "presubmit", "s3-controller", "other", TIER_INFO, "s3"},
    {"ci-k8s-infra-build-cluster-prow-build", "periodic", "test-infra", "other",
     TIER_WARNING, "test-infra"},
    /* no refs: the service comes from what '*' captured in the job name */
    {"s3-post-submit", "postsubmit", NULL, "post-submit", TIER_CRITICAL, "s3"},
    {"s3-controller-release-pr", "postsubmit", NULL, "release-pr", TIER_CRITICAL, "s3"},
    {"lambda-controller-olm-bundle-pr", "postsubmit", NULL, "olm-bundle", TIER_CRITICAL,
     "lambda"},
    {"ec2-unit-test", "presubmit", NULL, "unit", TIER_INFO, "ec2"},
    /* ... and from nowhere when the pattern has no '*' */
    {"update-ack-chart", "postsubmit", NULL, "chart-update", TIER_CRITICAL, "unknown"},
    {"build-something-new", "periodic", NULL, "other", TIER_WARNING, "unknown"},
};

static void test_ack_defaults(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ack_cases) / sizeof(ack_cases[0]); i++) {
        const struct case_ *k = &ack_cases[i];
        struct event ev;
        char *svc;
        const char *stage;
        enum tier tier;

        mkev(&ev, k->job, k->type, "failure", k->repo);
        stage = classify_stage(NULL, &ev);
        tier = classify_tier(NULL, &ev, stage);
        svc = classify_service(NULL, &ev);
        assert_non_null(svc);
        if (strcmp(stage, k->stage) != 0 || tier != k->tier ||
            strcmp(svc, k->service) != 0)
            fail_msg("%s (%s, repo %s): got %s/%s/%s, want %s/%s/%s", k->job, k->type,
                     k->repo ? k->repo : "-", stage, tier_name(tier), svc, k->stage,
                     tier_name(k->tier), k->service);
        /* classify_default() is what NULL means */
        assert_string_equal(classify_stage(classify_default(), &ev), stage);
        assert_int_equal(classify_tier(classify_default(), &ev, stage), tier);
        free(svc);
        event_release(&ev);
    }
}

static void test_service_edge_cases(void **state)
{
    struct event ev;
    char *s;

    (void)state;
    /* the repo wins over the job name */
    mkev(&ev, "s3-post-submit", "postsubmit", "failure", "ecr-controller");
    s = classify_service(NULL, &ev);
    assert_string_equal(s, "ecr");
    free(s);
    event_release(&ev);

    /* a repo that is only the suffix is kept whole */
    mkev(&ev, "thing", "postsubmit", "failure", "-controller");
    s = classify_service(NULL, &ev);
    assert_string_equal(s, "-controller");
    free(s);
    event_release(&ev);

    /* empty repo counts as none */
    mkev(&ev, "thing", "postsubmit", "failure", "");
    s = classify_service(NULL, &ev);
    assert_string_equal(s, "unknown");
    free(s);
    event_release(&ev);

    /* a job that is exactly the pattern's tail captures nothing */
    mkev(&ev, "-post-submit", "postsubmit", "failure", NULL);
    assert_string_equal(classify_stage(NULL, &ev), "post-submit");
    s = classify_service(NULL, &ev);
    assert_string_equal(s, "unknown");
    free(s);
    event_release(&ev);
}

static void test_custom_rules(void **state)
{
    static const char *const j_deploy[] = {"*-deploy", "deploy-*"};
    static const char *const j_smoke[] = {"smoke"};
    static const struct stage_rule stages[] = {{"deploy", j_deploy, 2},
                                               {"smoke", j_smoke, 1}};
    static const char *const t_crit_stages[] = {"deploy"};
    static const char *const t_warn_types[] = {"periodic"};
    static const char *const t_pre_stages[] = {"smoke"};
    static const char *const t_pre_types[] = {"presubmit"};
    static const struct tier_rule tiers[] = {
        {TIER_CRITICAL, t_crit_stages, 1, NULL, 0},
        /* stages and types must both match */
        {TIER_WARNING, t_pre_stages, 1, t_pre_types, 1},
        {TIER_WARNING, NULL, 0, t_warn_types, 1},
    }; /* no catch-all: info when nothing matches */
    static const struct classify_conf cc = {stages, 2, tiers, 3};
    struct event ev;
    char *s;

    (void)state;
    mkev(&ev, "payments-deploy", "postsubmit", "failure", NULL);
    assert_string_equal(classify_stage(&cc, &ev), "deploy");
    assert_int_equal(classify_tier(&cc, &ev, "deploy"), TIER_CRITICAL);
    s = classify_service(&cc, &ev);
    assert_string_equal(s, "payments");
    free(s);
    event_release(&ev);

    mkev(&ev, "deploy-payments", "postsubmit", "failure", NULL);
    assert_string_equal(classify_stage(&cc, &ev), "deploy");
    s = classify_service(&cc, &ev); /* a trailing '*' captures nothing */
    assert_string_equal(s, "unknown");
    free(s);
    event_release(&ev);

    mkev(&ev, "smoke", "presubmit", "failure", "svc");
    assert_string_equal(classify_stage(&cc, &ev), "smoke");
    assert_int_equal(classify_tier(&cc, &ev, "smoke"), TIER_WARNING);
    event_release(&ev);

    mkev(&ev, "smoke", "postsubmit", "failure", "svc");
    assert_int_equal(classify_tier(&cc, &ev, "smoke"), TIER_INFO);
    event_release(&ev);

    /* ACK job names are "other" under these rules */
    mkev(&ev, "s3-post-submit", "periodic", "failure", NULL);
    assert_string_equal(classify_stage(&cc, &ev), "other");
    assert_int_equal(classify_tier(&cc, &ev, "other"), TIER_WARNING);
    event_release(&ev);
}

/* Jobs of the ACK list that ACK's default stages leave as "other" on purpose: image
 * builds and controller bumps, not release stages. */
static const char *const ack_unstaged[] = {"auto-update-controllers", "build-prow-images",
                                           "deploy-docs"};

static bool is_unstaged(const char *job)
{
    for (size_t i = 0; i < sizeof(ack_unstaged) / sizeof(ack_unstaged[0]); i++)
        if (strcmp(job, ack_unstaged[i]) == 0)
            return true;
    return false;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t sl = strlen(s), xl = strlen(suffix);
    return sl >= xl && strcmp(s + sl - xl, suffix) == 0;
}

/* Every ACK job in tests/fixtures/ack-jobs.txt (TYPE, REPO, JOB, ... tab-separated):
 * release jobs are critical with the right stage, other postsubmits and periodics are
 * warnings with a stage, presubmits are info, and a controller repo names the
 * service. */
static void test_ack_job_list(void **state)
{
    FILE *f = fopen("tests/fixtures/ack-jobs.txt", "r");
    char line[1024];
    int n = 0, ncrit = 0;

    (void)state;
    if (!f)
        fail_msg("tests/fixtures/ack-jobs.txt: run from the repository root");
    while (fgets(line, sizeof(line), f)) {
        char *type = line, *repo, *job, *end;
        struct event ev;
        const char *stage;
        enum tier tier;
        char *svc;

        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\n")] = '\0';
        repo = strchr(type, '\t');
        assert_non_null(repo);
        *repo++ = '\0';
        job = strchr(repo, '\t');
        assert_non_null(job);
        *job++ = '\0';
        if ((end = strchr(job, '\t')) != NULL)
            *end = '\0';
        if (strcmp(type, "periodic") == 0)
            repo = NULL; /* "(extra_refs: ...)" */
        else if (strchr(repo, '/'))
            repo = strchr(repo, '/') + 1; /* "${TEST_INFRA_ORG}/s3-controller" */
        mkev(&ev, job, type, "failure", repo);
        stage = classify_stage(NULL, &ev);
        tier = classify_tier(NULL, &ev, stage);
        svc = classify_service(NULL, &ev);
        assert_non_null(svc);

        if (ends_with(job, "-controller-release-pr") ||
            ends_with(job, "-controller-release-tag") || ends_with(job, "-post-submit") ||
            ends_with(job, "-controller-olm-bundle-pr") ||
            strcmp(job, "update-ack-chart") == 0 ||
            strcmp(job, "ack-chart-release") == 0) {
            ncrit++;
            if (tier != TIER_CRITICAL)
                fail_msg("%s in %s: %s, %s", job, repo, stage, tier_name(tier));
        } else if (strcmp(type, "presubmit") == 0) {
            if (tier != TIER_INFO)
                fail_msg("presubmit %s in %s: %s", job, repo, tier_name(tier));
        } else {
            if (tier != TIER_WARNING)
                fail_msg("%s %s: %s", type, job, tier_name(tier));
            if (strcmp(stage, "other") == 0 && !is_unstaged(job))
                fail_msg("%s job %s has no stage", type, job);
        }
        if (repo && ends_with(repo, "-controller") && strlen(repo) > 11) {
            if (strlen(svc) != strlen(repo) - 11 || strncmp(svc, repo, strlen(svc)) != 0)
                fail_msg("%s in %s: service %s", job, repo, svc);
        }
        free(svc);
        event_release(&ev);
        n++;
    }
    fclose(f);
    assert_true(n > 1000);
    assert_true(ncrit > 300);
}

/* ---- router ---- */

static const char routes_yaml[] =
    "receivers:\n"                                                     /* 1 */
    "  - { name: releases, url: \"http://h/rel\" }\n"                  /* 2 */
    "  - { name: ci, url: \"http://h/ci\" }\n"                         /* 3 */
    "  - { name: s3team, url: \"http://h/s3\" }\n"                     /* 4 */
    "  - { name: fallback, url: \"http://h/fb\" }\n"                   /* 5 */
    "routes:\n"                                                        /* 6 */
    "  - match: { tier: critical }\n"                                  /* 7 */
    "    receivers: [releases]\n"                                      /* 8 */
    "  - match:\n"                                                     /* 9 */
    "      service: s3\n"                                              /* 10 */
    "      job: [\"*-post-submit\", \"*-release-*\"]\n"                /* 11 */
    "    receivers: [s3team, releases, s3team]\n"                      /* 12 */
    "    continue: false\n"                                            /* 13 */
    "  - match: { state: \"fail*\", type: [presubmit, postsubmit] }\n" /* 14 */
    "    receivers: ci\n"                                              /* 15 */
    "  - match: { repo: \"never-*\" }\n"                               /* 16 */
    "    receivers: [fallback]\n"                                      /* 17 */
    "default_receiver: fallback\n";                                    /* 18 */

struct rcase {
    const char *job, *type, *state, *repo, *service;
    const char *want[4]; /* receiver names, in order */
    int line;
};

static struct config *load_routes(void)
{
    char err[2048];
    struct config *c =
        config_parse("routes.yaml", routes_yaml, strlen(routes_yaml), err, sizeof(err));

    if (!c)
        fail_msg("%s", err);
    assert_int_equal(c->nroutes, 4);
    assert_int_equal(c->routes[0].line, 7);
    assert_int_equal(c->routes[1].line, 9);
    assert_true(c->routes[0].cont); /* continue defaults to true */
    assert_false(c->routes[1].cont);
    assert_int_equal(c->default_receiver, 3);
    return c;
}

static void run_route(const struct config *c, const struct rcase *k, size_t max)
{
    struct event ev;
    struct facts f;
    size_t out[8], n, want = 0;
    int line = -1;

    mkev(&ev, k->job, k->type, k->state, k->repo);
    f.ev = &ev;
    f.service = k->service;
    f.stage = classify_stage(NULL, &ev);
    f.tier = classify_tier(NULL, &ev, f.stage);
    n = router_route(c, &f, out, max, &line);
    while (want < 4 && k->want[want])
        want++;
    if (want > max)
        want = max;
    if (n != want)
        fail_msg("%s/%s: %zu receivers, want %zu", k->job, k->state, n, want);
    for (size_t i = 0; i < n; i++)
        if (strcmp(c->receivers[out[i]].name, k->want[i]) != 0)
            fail_msg("%s/%s: receiver %zu is %s, want %s", k->job, k->state, i,
                     c->receivers[out[i]].name, k->want[i]);
    assert_int_equal(line, k->line);
    event_release(&ev);
}

static const struct rcase route_cases[] = {
    /* critical + s3: route 1, then route 2 (no repeats), which stops before route 3 */
    {"s3-post-submit",
     "postsubmit",
     "failure",
     "s3-controller",
     "s3",
     {"releases", "s3team"},
     7},
    {"s3-controller-release-pr",
     "postsubmit",
     "failure",
     "s3-controller",
     "s3",
     {"releases", "s3team"},
     7},
    /* critical, not s3: route 1 continues to route 3 */
    {"lambda-post-submit",
     "postsubmit",
     "failure",
     "lambda-controller",
     "lambda",
     {"releases", "ci"},
     7},
    /* critical and successful: route 1 only, and no default after a match */
    {"lambda-post-submit",
     "postsubmit",
     "success",
     "lambda-controller",
     "lambda",
     {"releases"},
     7},
    /* s3 post-submit that is not critical can't happen with ACK rules; an s3 presubmit
     * failure skips route 2 (job glob) and lands on route 3 */
    {"s3-unit-test", "presubmit", "failure", "s3-controller", "s3", {"ci"}, 14},
    /* periodic failure: nothing matches -> default */
    {"docs-release", "periodic", "failure", "community", "community", {"fallback"}, 0},
    /* presubmit success: nothing matches -> default */
    {"s3-unit-test", "presubmit", "success", "s3-controller", "s3", {"fallback"}, 0},
};

static void test_router(void **state)
{
    struct config *c = load_routes();

    (void)state;
    for (size_t i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]); i++)
        run_route(c, &route_cases[i], 8);
    /* out is bounded by max */
    run_route(c, &route_cases[0], 1);
    config_free(c);
}

static void test_router_null_line_and_no_default(void **state)
{
    static const char yaml[] = "receivers:\n"
                               "  - { name: a, url: \"http://h/a\" }\n"
                               "  - { name: b, url: \"http://h/b\" }\n"
                               "routes:\n"
                               "  - match: { service: \"s?\", base_ref: \"v*\" }\n"
                               "    receivers: [b]\n";
    char err[1024];
    struct config *c = config_parse("r.yaml", yaml, strlen(yaml), err, sizeof(err));
    struct event ev;
    struct facts f;
    size_t out[4];
    int line = -1;

    (void)state;
    if (!c)
        fail_msg("%s", err);
    /* no default_receiver given: the first receiver */
    assert_int_equal(c->default_receiver, 0);

    mkev(&ev, "s3-post-submit", "postsubmit", "failure", "s3-controller");
    f = (struct facts){&ev, "s3", "post-submit", TIER_CRITICAL};
    /* base_ref is "main": no match -> default a */
    assert_int_equal(router_route(c, &f, out, 4, NULL), 1);
    assert_int_equal(out[0], 0);
    free(ev.base_ref);
    ev.base_ref = strdup("v1.6.0");
    assert_int_equal(router_route(c, &f, out, 4, &line), 1);
    assert_int_equal(out[0], 1);
    assert_int_equal(line, 5);
    /* "s?" does not match a longer service */
    f.service = "ec2";
    assert_int_equal(router_route(c, &f, out, 4, &line), 1);
    assert_int_equal(out[0], 0);
    assert_int_equal(line, 0);
    event_release(&ev);
    config_free(c);
}

static void test_router_catch_all_routes(void **state)
{
    /* a route with no match matches everything; continue: true lets every later match
     * add its receivers */
    static const char yaml[] = "receivers:\n"
                               "  - { name: a, url: \"http://h/a\" }\n"
                               "  - { name: b, url: \"http://h/b\" }\n"
                               "  - { name: c, url: \"http://h/c\" }\n"
                               "routes:\n"
                               "  - receivers: [c]\n"
                               "  - match: { org: aws-controllers-k8s }\n"
                               "    receivers: [b, c]\n"
                               "    continue: true\n"
                               "  - match: { tier: [warning, critical] }\n"
                               "    receivers: [a]\n"
                               "default_receiver: a\n";
    char err[1024];
    struct config *c = config_parse("r.yaml", yaml, strlen(yaml), err, sizeof(err));
    struct event ev;
    struct facts f;
    size_t out[4];
    int line = -1;

    (void)state;
    if (!c)
        fail_msg("%s", err);
    mkev(&ev, "s3-post-submit", "postsubmit", "failure", "s3-controller");
    f = (struct facts){&ev, "s3", "post-submit", TIER_CRITICAL};
    assert_int_equal(router_route(c, &f, out, 4, &line), 3);
    assert_int_equal(out[0], 2);
    assert_int_equal(out[1], 1);
    assert_int_equal(out[2], 0);
    assert_int_equal(line, 6);
    /* info, no refs: only the catch-all */
    event_release(&ev);
    mkev(&ev, "label-sync", "periodic", "failure", NULL);
    f = (struct facts){&ev, "unknown", "maintenance", TIER_INFO};
    assert_int_equal(router_route(c, &f, out, 4, &line), 1);
    assert_int_equal(out[0], 2);
    event_release(&ev);
    config_free(c);
}

static void test_facts_get(void **state)
{
    struct event ev;
    struct facts f;

    (void)state;
    mkev(&ev, "s3-post-submit", "postsubmit", "failure", NULL);
    f = (struct facts){&ev, "s3", "post-submit", TIER_WARNING};
    assert_string_equal(facts_get(&f, FIELD_SERVICE), "s3");
    assert_string_equal(facts_get(&f, FIELD_JOB), "s3-post-submit");
    assert_string_equal(facts_get(&f, FIELD_STAGE), "post-submit");
    assert_string_equal(facts_get(&f, FIELD_TYPE), "postsubmit");
    assert_string_equal(facts_get(&f, FIELD_TIER), "warning");
    assert_string_equal(facts_get(&f, FIELD_STATE), "failure");
    assert_string_equal(facts_get(&f, FIELD_BASE_REF), "main");
    /* unknown values are "", never NULL */
    assert_string_equal(facts_get(&f, FIELD_REPO), "");
    assert_string_equal(facts_get(&f, FIELD_ORG), "");
    f.service = NULL;
    assert_string_equal(facts_get(&f, FIELD_SERVICE), "");
    event_release(&ev);
}

/* Infrastructure causes from Prow's descriptions, and superseded aborts. */
static void test_infra_and_superseded(void **state)
{
    static const struct {
        const char *state, *description, *label;
    } cases[] = {
        {"error", "Job pod was OOM killed by the cluster.", "OOM kill"},
        {"error", "Job pod was evicted by the cluster.", "pod evicted"},
        {"error", "Pod scheduling timeout.", "pod scheduling timeout"},
        {"error", "Pod pending timeout.", "pod pending timeout"},
        {"error", "Pod got deleted unexpectedly", "pod deleted"},
        {"error", "Pod can not be created: quota exceeded", "pod not created"},
        {"failure", "JOB POD WAS OOM KILLED", "OOM kill"},
        {"failure", "Job failed.", NULL},
        {"success", "Job pod was OOM killed by the cluster.", NULL},
        {"error", NULL, NULL},
    };
    struct event ev;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mkev(&ev, "s3-kind-e2e", "presubmit", cases[i].state, "s3-controller");
        ev.description = cases[i].description ? strdup(cases[i].description) : NULL;
        const char *got = classify_infra(&ev);
        if (cases[i].label)
            assert_string_equal(got, cases[i].label);
        else
            assert_null(got);
        assert_false(classify_superseded(&ev));
        event_release(&ev);
    }
    mkev(&ev, "s3-kind-e2e", "presubmit", "aborted", "s3-controller");
    ev.description = strdup("Aborted as the newer version of this job is running.");
    assert_true(classify_superseded(&ev));
    free(ev.description);
    ev.description = strdup("Pod running timeout.");
    assert_false(classify_superseded(&ev)); /* a timeout is not a newer run */
    event_release(&ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack_defaults),
        cmocka_unit_test(test_service_edge_cases),
        cmocka_unit_test(test_custom_rules),
        cmocka_unit_test(test_ack_job_list),
        cmocka_unit_test(test_router),
        cmocka_unit_test(test_router_null_line_and_no_default),
        cmocka_unit_test(test_router_catch_all_routes),
        cmocka_unit_test(test_facts_get),
        cmocka_unit_test(test_infra_and_superseded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
