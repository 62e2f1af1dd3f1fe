/* prowlog.c -- see prowlog.h. */
#include "prowlog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int prowlog_snowflake_ms(const char *build, int64_t *ms)
{
    char *end;
    unsigned long long id;

    if (!build || !*build || strspn(build, "0123456789") != strlen(build))
        return -1;
    errno = 0;
    id = strtoull(build, &end, 10);
    if (errno || *end)
        return -1;
    int64_t t = (int64_t)(id >> 22) + PROWLOG_SNOWFLAKE_EPOCH_MS;
    if (t < 1262304000000LL || t > 4102444800000LL) /* 2010 .. 2100 */
        return -1;
    *ms = t;
    return 0;
}

uint64_t prowlog_snowflake_at(int64_t ms)
{
    if (ms <= PROWLOG_SNOWFLAKE_EPOCH_MS)
        return 0;
    return (uint64_t)(ms - PROWLOG_SNOWFLAKE_EPOCH_MS) << 22;
}

/* Copy the next '/'-separated part of *s into out; returns false if empty or too long. */
static bool next_part(const char **s, char *out)
{
    const char *e = strchr(*s, '/');
    size_t n = e ? (size_t)(e - *s) : strlen(*s);

    if (n == 0 || n >= PROWLOG_MAX_PART)
        return false;
    memcpy(out, *s, n);
    out[n] = '\0';
    *s += n;
    if (**s == '/')
        (*s)++;
    return true;
}

static bool parse_at(const char *path, const char *at, struct prowlog_path *p)
{
    const char *s = at;
    char part[PROWLOG_MAX_PART];

    memset(p, 0, sizeof(*p));
    if (strncmp(s, "pr-logs/pull/", 13) == 0) {
        s += 13;
        if (!next_part(&s, part))
            return false;
        if (strcmp(part, "batch") == 0) {
            p->kind = PROWLOG_BATCH;
        } else {
            char *us = strchr(part, '_'), *end;
            if (!us || us == part || !us[1])
                return false;
            *us = '\0';
            snprintf(p->org, sizeof(p->org), "%s", part);
            snprintf(p->repo, sizeof(p->repo), "%s", us + 1);
            if (!next_part(&s, part))
                return false;
            errno = 0;
            p->pr = strtol(part, &end, 10);
            if (errno || *end || p->pr < 0)
                return false;
            p->kind = PROWLOG_PULL;
        }
    } else if (strncmp(s, "logs/", 5) == 0) {
        s += 5;
        p->kind = PROWLOG_LOGS;
    } else {
        return false;
    }
    if (!next_part(&s, p->job) || !next_part(&s, p->build) ||
        strspn(p->build, "0123456789") != strlen(p->build))
        return false;
    p->dir_len = (size_t)(s - path);
    if (s > path && s[-1] != '/')
        p->dir_len = (size_t)(s - path); /* the folder named without its slash */
    return true;
}

bool prowlog_path_parse(const char *path, struct prowlog_path *p)
{
    const char *best = NULL;

    for (const char *s = path; *s; s++) {
        if (s != path && s[-1] != '/')
            continue;
        if (strncmp(s, "pr-logs/pull/", 13) == 0 || strncmp(s, "logs/", 5) == 0) {
            struct prowlog_path tmp;
            if (parse_at(path, s, &tmp))
                best = s;
        }
    }
    return best && parse_at(path, best, p);
}

bool prowlog_is_artifact(const cJSON *doc, bool *finished)
{
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(doc, "timestamp");

    if (!cJSON_IsObject(doc) || !cJSON_IsNumber(ts) ||
        cJSON_GetObjectItemCaseSensitive(doc, "spec"))
        return false;
    if (finished)
        *finished = cJSON_GetObjectItemCaseSensitive(doc, "passed") ||
                    cJSON_GetObjectItemCaseSensitive(doc, "result");
    return true;
}

static int add_time(cJSON *o, const char *name, const cJSON *doc)
{
    const cJSON *ts = doc ? cJSON_GetObjectItemCaseSensitive(doc, "timestamp") : NULL;
    char tb[40];

    if (!cJSON_IsNumber(ts) || ts->valuedouble <= 0 || ts->valuedouble > 4102444800.0)
        return 0;
    util_format_time_s((int64_t)ts->valuedouble * 1000, tb, sizeof(tb));
    return cJSON_AddStringToObject(o, name, tb) ? 0 : -1;
}

/* started.json "repos": {"org/repo": "base_ref:base_sha[,pr:sha]..."}: the first. */
static int add_refs(cJSON *refs, const struct prowlog_path *p, const cJSON *started)
{
    const cJSON *repos =
        started ? cJSON_GetObjectItemCaseSensitive(started, "repos") : NULL;
    const cJSON *first = cJSON_IsObject(repos) ? repos->child : NULL;
    char ref[512] = "", sha[256] = "", prsha[256] = "";

    if (p->kind == PROWLOG_PULL) {
        if (!cJSON_AddStringToObject(refs, "org", p->org) ||
            !cJSON_AddStringToObject(refs, "repo", p->repo))
            return -1;
        /* the repo's own entry, if the run cloned several */
        char want[2 * PROWLOG_MAX_PART + 2];
        snprintf(want, sizeof(want), "%s/%s", p->org, p->repo);
        const cJSON *mine =
            cJSON_IsObject(repos) ? cJSON_GetObjectItemCaseSensitive(repos, want) : NULL;
        if (mine)
            first = mine;
    } else if (first && first->string && strchr(first->string, '/')) {
        const char *sl = strchr(first->string, '/');
        char org[PROWLOG_MAX_PART];
        snprintf(org, sizeof(org), "%.*s", (int)(sl - first->string), first->string);
        if (!cJSON_AddStringToObject(refs, "org", org) ||
            !cJSON_AddStringToObject(refs, "repo", sl + 1))
            return -1;
    }
    if (cJSON_IsString(first)) {
        /* "main:abc123,42:def456" */
        const char *v = first->valuestring, *colon = strchr(v, ':'),
                   *comma = strchr(v, ',');
        size_t rl = colon && (!comma || colon < comma) ? (size_t)(colon - v)
                    : comma                            ? (size_t)(comma - v)
                                                       : strlen(v);
        snprintf(ref, sizeof(ref), "%.*s", (int)rl, v);
        if (colon && (!comma || colon < comma))
            snprintf(sha, sizeof(sha), "%.*s",
                     (int)(comma ? (size_t)(comma - colon - 1) : strlen(colon + 1)),
                     colon + 1);
        if (comma) {
            const char *c2 = strchr(comma + 1, ':');
            if (c2)
                snprintf(prsha, sizeof(prsha), "%.*s", (int)strcspn(c2 + 1, ","), c2 + 1);
        }
    }
    if ((ref[0] && !cJSON_AddStringToObject(refs, "base_ref", ref)) ||
        (sha[0] && !cJSON_AddStringToObject(refs, "base_sha", sha)))
        return -1;
    if (p->kind == PROWLOG_PULL) {
        cJSON *pulls = cJSON_AddArrayToObject(refs, "pulls"), *pl = cJSON_CreateObject();
        if (!pulls || !pl || !cJSON_AddItemToArray(pulls, pl) ||
            !cJSON_AddNumberToObject(pl, "number", (double)p->pr) ||
            (prsha[0] && !cJSON_AddStringToObject(pl, "sha", prsha)))
            return -1;
    }
    return 0;
}

static const char *state_of(const cJSON *finished, char *errstr, size_t errstr_size)
{
    const cJSON *res, *passed;

    if (!finished)
        return "pending";
    res = cJSON_GetObjectItemCaseSensitive(finished, "result");
    if (cJSON_IsString(res)) {
        static const char *const map[][2] = {{"SUCCESS", "success"},
                                             {"FAILURE", "failure"},
                                             {"ABORTED", "aborted"},
                                             {"ERROR", "error"},
                                             {"PENDING", "pending"}};
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
            if (strcasecmp(res->valuestring, map[i][0]) == 0)
                return map[i][1];
    }
    passed = cJSON_GetObjectItemCaseSensitive(finished, "passed");
    if (cJSON_IsBool(passed))
        return cJSON_IsTrue(passed) ? "success" : "failure";
    snprintf(errstr, errstr_size,
             "finished.json: no \"result\" or \"passed\" it could be read from");
    return NULL;
}

cJSON *prowlog_make_prowjob(const struct prowlog_path *p, const char *dir,
                            const cJSON *started, const cJSON *finished,
                            const char *url_base, char *errstr, size_t errstr_size)
{
    cJSON *pj = cJSON_CreateObject(), *spec, *status, *refs;
    const char *state = state_of(finished, errstr, errstr_size), *type;
    char tb[40];
    int64_t ms;

    if (!pj || !state)
        goto fail;
    type = p->kind == PROWLOG_PULL    ? "presubmit"
           : p->kind == PROWLOG_BATCH ? "batch"
           : started &&
                   cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(started, "repos")) &&
                   cJSON_GetObjectItemCaseSensitive(started, "repos")->child
               ? "postsubmit"
               : "periodic";
    if (!cJSON_AddStringToObject(pj, "apiVersion", "prow.k8s.io/v1") ||
        !cJSON_AddStringToObject(pj, "kind", "ProwJob") ||
        !(spec = cJSON_AddObjectToObject(pj, "spec")) ||
        !(status = cJSON_AddObjectToObject(pj, "status")) ||
        !cJSON_AddStringToObject(spec, "type", type) ||
        !cJSON_AddStringToObject(spec, "job", p->job) ||
        !(refs = cJSON_AddObjectToObject(spec, "refs")) ||
        add_refs(refs, p, started) < 0 ||
        !cJSON_AddStringToObject(status, "state", state) ||
        !cJSON_AddStringToObject(status, "build_id", p->build))
        goto oom;
    if (add_time(status, "startTime", started) < 0 ||
        add_time(status, "completionTime", finished) < 0)
        goto oom;
    if (!cJSON_GetObjectItemCaseSensitive(status, "startTime") &&
        prowlog_snowflake_ms(p->build, &ms) == 0 &&
        !cJSON_AddStringToObject(status, "startTime",
                                 util_format_time_s(ms, tb, sizeof(tb))))
        goto oom;
    if (url_base && dir) {
        char url[4096];
        int n = snprintf(url, sizeof(url), "%s/%.*s", url_base, (int)p->dir_len, dir);
        while (n > 0 && (size_t)n < sizeof(url) && url[n - 1] == '/')
            url[--n] = '\0';
        if (n > 0 && (size_t)n < sizeof(url) &&
            !cJSON_AddStringToObject(status, "url", url))
            goto oom;
    }
    return pj;
oom:
    snprintf(errstr, errstr_size, "out of memory");
fail:
    cJSON_Delete(pj);
    return NULL;
}
