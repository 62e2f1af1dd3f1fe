/* classify.c -- service, stage and tier of a job event. */
#include "classify.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ACK's release stages (prow-facts.md); the same list is in
 * deploy/herald.example.yaml. */
static const char *const j_release_pr[] = {"*-controller-release-pr"};
static const char *const j_release_tag[] = {"*-controller-release-tag"};
static const char *const j_post_submit[] = {"*-post-submit"};
static const char *const j_olm[] = {"*-controller-olm-bundle-pr"};
static const char *const j_chart[] = {"update-ack-chart"};
static const char *const j_umbrella[] = {"ack-chart-release"};
static const char *const j_codegen[] = {"auto-generate-controllers", "*-controller-test"};
static const char *const j_e2e[] = {"*-kind-e2e", "*-e2e-tests", "*-release-test"};
static const char *const j_unit[] = {"*-unit-test", "unit-test"};
static const char *const j_verify[] = {
    "*-verify-code-gen",    "*-verify-attribution",      "verify-attribution",
    "*-metadata-file-test", "*-recommended-policy-test", "*-crd-compat-check"};
static const char *const j_docs[] = {"docs-release", "*-docs-release",
                                     "periodic-deploy-docs"};
static const char *const j_maint[] = {"label-sync", "periodic-*", "scan-controllers-cve",
                                      "upgrade-*"};

static const struct stage_rule default_stages[] = {
    {"release-pr", j_release_pr, N(j_release_pr)},
    {"release-tag", j_release_tag, N(j_release_tag)},
    {"post-submit", j_post_submit, N(j_post_submit)},
    {"olm-bundle", j_olm, N(j_olm)},
    {"chart-update", j_chart, N(j_chart)},
    {"umbrella-chart", j_umbrella, N(j_umbrella)},
    {"codegen", j_codegen, N(j_codegen)},
    {"e2e", j_e2e, N(j_e2e)},
    {"unit", j_unit, N(j_unit)},
    {"verify", j_verify, N(j_verify)},
    {"docs", j_docs, N(j_docs)},
    {"maintenance", j_maint, N(j_maint)},
};

static const char *const t_critical[] = {"release-pr", "release-tag",  "post-submit",
                                         "olm-bundle", "chart-update", "umbrella-chart"};
static const char *const t_warning[] = {"postsubmit", "periodic"};

static const struct tier_rule default_tiers[] = {
    {TIER_CRITICAL, t_critical, N(t_critical), NULL, 0},
    {TIER_WARNING, NULL, 0, t_warning, N(t_warning)},
    {TIER_INFO, NULL, 0, NULL, 0},
};

static const struct classify_conf default_conf = {default_stages, N(default_stages),
                                                  default_tiers, N(default_tiers)};

const struct classify_conf *classify_default(void)
{
    return &default_conf;
}

static const struct stage_rule *match_stage(const struct classify_conf *cc,
                                            const char *job, const char **pattern)
{
    for (size_t i = 0; i < cc->nstages; i++)
        for (size_t j = 0; j < cc->stages[i].njobs; j++)
            if (util_glob_match(cc->stages[i].jobs[j], job)) {
                *pattern = cc->stages[i].jobs[j];
                return &cc->stages[i];
            }
    return NULL;
}

char *classify_service(const struct classify_conf *cc, const struct event *ev)
{
    static const char suffix[] = "-controller";
    const char *pattern = NULL;
    size_t n;

    if (!cc)
        cc = &default_conf;
    if (ev->repo && (n = strlen(ev->repo)) > sizeof(suffix) - 1 &&
        strcmp(ev->repo + n - (sizeof(suffix) - 1), suffix) == 0)
        return strndup(ev->repo, n - (sizeof(suffix) - 1));
    /* A pattern "*-rest" captures what the '*' matched: job minus "-rest". */
    if (ev->job && match_stage(cc, ev->job, &pattern) && pattern[0] == '*' &&
        pattern[1] == '-' && !strchr(pattern + 1, '*')) {
        size_t rest = strlen(pattern + 1), jl = strlen(ev->job);
        if (jl > rest)
            return strndup(ev->job, jl - rest);
    }
    /* Not a controller (test-infra, community, ack-chart): the repo itself. */
    if (ev->repo && *ev->repo)
        return strdup(ev->repo);
    return strdup("unknown");
}

const char *classify_stage(const struct classify_conf *cc, const struct event *ev)
{
    const char *pattern;
    const struct stage_rule *r;

    if (!cc)
        cc = &default_conf;
    r = ev->job ? match_stage(cc, ev->job, &pattern) : NULL;
    return r ? r->name : "other";
}

static bool list_has(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (s && util_glob_match(list[i], s))
            return true;
    return false;
}

enum tier classify_tier(const struct classify_conf *cc, const struct event *ev,
                        const char *stage)
{
    if (!cc)
        cc = &default_conf;
    for (size_t i = 0; i < cc->ntiers; i++) {
        const struct tier_rule *t = &cc->tiers[i];
        if (t->nstages && !list_has(t->stages, t->nstages, stage))
            continue;
        if (t->ntypes && !list_has(t->types, t->ntypes, ev->type))
            continue;
        return t->tier;
    }
    return TIER_INFO;
}

/* Prow's descriptions of runs that failed for reasons outside the job's code
 * (pkg/plank, pkg/crier; docs/rules.md). Matched case-insensitively as substrings. */
static const struct {
    const char *needle;
    const char *label;
} infra_causes[] = {
    {"oom killed", "OOM kill"},
    {"evicted", "pod evicted"},
    {"pod scheduling timeout", "pod scheduling timeout"},
    {"pod pending timeout", "pod pending timeout"},
    {"pod got deleted", "pod deleted"},
    {"pod can not be created", "pod not created"},
    {"pod cannot be created", "pod not created"},
};

/* true if `needle` (lowercase) occurs in s, ignoring ASCII case. */
static bool contains_ci(const char *s, const char *needle)
{
    size_t n = strlen(needle);

    for (; *s; s++) {
        size_t i = 0;
        while (i < n && s[i] && (s[i] | 0x20) == needle[i])
            i++;
        if (i == n)
            return true;
    }
    return false;
}

const char *classify_infra(const struct event *ev)
{
    if (!ev->description || strcmp(ev->state, "success") == 0)
        return NULL;
    for (size_t i = 0; i < sizeof(infra_causes) / sizeof(infra_causes[0]); i++)
        if (contains_ci(ev->description, infra_causes[i].needle))
            return infra_causes[i].label;
    return NULL;
}

bool classify_superseded(const struct event *ev)
{
    return strcmp(ev->state, "aborted") == 0 && ev->description &&
           contains_ci(ev->description, "newer version of this job is running");
}
