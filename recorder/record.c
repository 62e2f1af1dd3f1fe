/* record.c -- see record.h. */
#include "record.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "event.h"
#include "util.h"

/* true if the NUL-free string `needle` occurs in [hay, hay+len). */
static bool mentions(const char *hay, size_t len, const char *needle)
{
    size_t nl = strlen(needle);

    for (const char *p = hay; nl <= len && p <= hay + len - nl;) {
        const char *q = memchr(p, needle[0], (size_t)(hay + len - nl - p) + 1);
        if (!q)
            return false;
        if (memcmp(q, needle, nl) == 0)
            return true;
        p = q + 1;
    }
    return false;
}

bool record_is_watermark(const char *kind_header, const char *value, size_t len)
{
    cJSON *doc, *kind;
    bool wm;

    if (kind_header)
        return strcmp(kind_header, "watermark") == 0;
    /* Without the header: parse only what mentions a watermark at all (a job event
     * never has a top-level "kind"), so events are not parsed twice. */
    if (!value || len == 0 || len > EVENT_MAX_BYTES ||
        !memchr(value, '{', len < 4 ? len : 4) || !mentions(value, len, "\"watermark\""))
        return false;
    if (event_json_depth(value, len) > EVENT_MAX_DEPTH)
        return false;
    if (!(doc = cJSON_ParseWithLength(value, len)))
        return false;
    kind = cJSON_GetObjectItemCaseSensitive(doc, "kind");
    wm = cJSON_IsString(kind) && strcmp(kind->valuestring, "watermark") == 0;
    cJSON_Delete(doc);
    return wm;
}

int record_run_key(const char *id, const char *state, char *buf, size_t size)
{
    size_t il = strlen(id), sl = strlen(state);
    size_t keep = il;

    if (il > sl + 1 && id[il - sl - 1] == ':' && strcmp(id + il - sl, state) == 0)
        keep = il - sl - 1;
    if (keep + 1 > size)
        return -1;
    memcpy(buf, id, keep);
    buf[keep] = '\0';
    return 0;
}

static bool contains_ci(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);

    for (; *hay; hay++) {
        size_t i;
        for (i = 0; i < nl && hay[i] &&
                    tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]);
             i++)
            ;
        if (i == nl)
            return true;
    }
    return false;
}

const char *record_cause(const char *state, const char *infra, const char *description)
{
    bool failure = strcmp(state, "failure") == 0, error = strcmp(state, "error") == 0;

    if (!failure && !error)
        return NULL;
    if (infra)
        return "infrastructure";
    if (description &&
        (contains_ci(description, "timeout") || contains_ci(description, "timed out")))
        return "timeout";
    return failure ? "test failure" : "error";
}

bool record_is_version(const char *s)
{
    if (!s || !*s)
        return false;
    if (*s == 'v' || *s == 'V')
        s++;
    return isdigit((unsigned char)*s) != 0;
}

/* The labels a run row keeps (docs/schema.md). */
static const char *const kept_labels[] = {"prow.k8s.io/retest", "prow.k8s.io/re-run",
                                          "prow.k8s.io/is-optional"};

static int state_rank(const char *state)
{
    if (!strcmp(state, "scheduling"))
        return 0;
    if (!strcmp(state, "triggered"))
        return 1;
    if (!strcmp(state, "pending"))
        return 2;
    return 3; /* success, failure, aborted, error */
}

static bool is_release_stage(const struct config *cfg, const char *stage)
{
    for (size_t i = 0; i < cfg->nrelease_stages; i++)
        if (strcmp(cfg->release_stages[i].stage, stage) == 0)
            return true;
    return false;
}

/* Add s as a string, or null when NULL. Returns false when out of memory. */
static bool add_str(cJSON *o, const char *key, const char *s)
{
    return (s ? cJSON_AddStringToObject(o, key, s) : cJSON_AddNullToObject(o, key)) !=
           NULL;
}

static bool add_num(cJSON *o, const char *key, double v)
{
    return cJSON_AddNumberToObject(o, key, v) != NULL;
}

cJSON *record_run(const struct config *cfg, const char *value, size_t len, char *errstr,
                  size_t errstr_size)
{
    struct event ev;
    char err[256], key[EVENT_MAX_FIELD + 1];
    char *service = NULL;
    cJSON *row = NULL, *labels;
    const char *stage, *infra;
    bool ok;

    event_init(&ev);
    if (event_from_json(&ev, value, len, err, sizeof(err)) < 0) {
        snprintf(errstr, errstr_size, "event: %s", err);
        return NULL;
    }
    if (record_run_key(ev.id, ev.state, key, sizeof(key)) < 0) {
        snprintf(errstr, errstr_size, "event: id: too long");
        goto out;
    }
    if (!(service = classify_service(&cfg->classify, &ev)) ||
        !(row = cJSON_CreateObject()))
        goto oom;
    stage = classify_stage(&cfg->classify, &ev);
    infra = classify_infra(&ev);
    ok = add_str(row, "run_key", key) && add_str(row, "job", ev.job) &&
         add_str(row, "type", ev.type) && add_str(row, "org", ev.org ? ev.org : "-") &&
         add_str(row, "repo", ev.repo ? ev.repo : "-") &&
         add_str(row, "state", ev.state) &&
         add_num(row, "state_rank", state_rank(ev.state)) &&
         add_str(row, "service", service) && add_str(row, "stage", stage) &&
         add_str(row, "tier", tier_name(classify_tier(&cfg->classify, &ev, stage))) &&
         add_str(row, "version",
                 is_release_stage(cfg, stage) && record_is_version(ev.base_ref)
                     ? ev.base_ref
                     : NULL) &&
         add_str(row, "base_ref", ev.base_ref) && add_str(row, "base_sha", ev.base_sha) &&
         add_str(row, "build_id", ev.build_id) && add_str(row, "url", ev.url) &&
         add_str(row, "description", ev.description) &&
         add_str(row, "infra_cause", infra) &&
         add_str(row, "cause", record_cause(ev.state, infra, ev.description)) &&
         add_num(row, "start_ms", (double)(ev.start_ms ? ev.start_ms : ev.event_ms)) &&
         add_num(row, "event_ms", (double)ev.event_ms) && add_str(row, "event_id", ev.id);
    if (!ok)
        goto oom;
    if (event_is_final(&ev) && ev.completion_ms > 0)
        ok = add_num(row, "end_ms", (double)ev.completion_ms);
    else if (event_is_final(&ev)) /* final without a completion time: its event time */
        ok = add_num(row, "end_ms", (double)ev.event_ms);
    else
        ok = cJSON_AddNullToObject(row, "end_ms") != NULL;
    if (ok && ev.npulls > 0)
        ok = add_num(row, "pull_number", (double)ev.pulls[0].number) &&
             add_str(row, "pull_sha", ev.pulls[0].sha);
    else if (ok)
        ok = cJSON_AddNullToObject(row, "pull_number") &&
             cJSON_AddNullToObject(row, "pull_sha");
    if (!ok || !(labels = cJSON_AddObjectToObject(row, "labels")))
        goto oom;
    /* Only the labels the history reads (interventions): the rest is Prow's bookkeeping
     * and would only make every batch heavier. */
    for (size_t i = 0; i < sizeof(kept_labels) / sizeof(kept_labels[0]); i++) {
        const char *v = event_label(&ev, kept_labels[i]);
        if (v && !cJSON_AddStringToObject(labels, kept_labels[i], v))
            goto oom;
    }
    goto out;
oom:
    snprintf(errstr, errstr_size, "out of memory");
    cJSON_Delete(row);
    row = NULL;
out:
    free(service);
    event_release(&ev);
    return row;
}

/* Copy an optional string field (absent or null -> null). Returns -1 (with errstr) if
 * present with another type. */
static int copy_str(const cJSON *src, cJSON *dst, const char *key, bool required,
                    char *errstr, size_t errstr_size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, key);

    if (!v || cJSON_IsNull(v)) {
        if (required) {
            snprintf(errstr, errstr_size, "alert: %s: missing", key);
            return -1;
        }
        return cJSON_AddNullToObject(dst, key) ? 0 : -1;
    }
    if (!cJSON_IsString(v) || (required && !*v->valuestring) ||
        strlen(v->valuestring) > EVENT_MAX_FIELD) {
        snprintf(errstr, errstr_size, "alert: %s: %s", key,
                 cJSON_IsString(v) ? (*v->valuestring ? "too long" : "empty")
                                   : "not a string");
        return -1;
    }
    return cJSON_AddStringToObject(dst, key, v->valuestring) ? 0 : -1;
}

/* An optional integral number of ms (absent or null -> null). */
static int copy_ms(const cJSON *src, cJSON *dst, const char *key, bool required,
                   char *errstr, size_t errstr_size)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, key);

    if (!v || cJSON_IsNull(v)) {
        if (required) {
            snprintf(errstr, errstr_size, "alert: %s: missing", key);
            return -1;
        }
        return cJSON_AddNullToObject(dst, key) ? 0 : -1;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 253402300799999.0 ||
        v->valuedouble != (double)(long long)v->valuedouble) {
        snprintf(errstr, errstr_size, "alert: %s: not a time in epoch ms", key);
        return -1;
    }
    return cJSON_AddNumberToObject(dst, key, v->valuedouble) ? 0 : -1;
}

cJSON *record_alert(const char *value, size_t len, char *errstr, size_t errstr_size)
{
    static const char *const strs[] = {
        "channel", "incident", "service",  "stage",    "version", "tier",    "job",
        "org",     "repo",     "event_id", "build_id", "url",     "slack_ts"};
    cJSON *doc = NULL, *row = NULL;
    const cJSON *schema, *services;

    snprintf(errstr, errstr_size, "out of memory");
    if (len > RECORD_ALERT_MAX_BYTES) {
        snprintf(errstr, errstr_size, "alert: more than %d bytes",
                 RECORD_ALERT_MAX_BYTES);
        return NULL;
    }
    if (!util_utf8_valid(value, len)) {
        snprintf(errstr, errstr_size, "alert: not valid UTF-8");
        return NULL;
    }
    if (event_json_depth(value, len) > EVENT_MAX_DEPTH ||
        !(doc = cJSON_ParseWithLength(value, len)) || !cJSON_IsObject(doc)) {
        snprintf(errstr, errstr_size, "alert: not a JSON object");
        goto fail;
    }
    schema = cJSON_GetObjectItemCaseSensitive(doc, "schema");
    if (!cJSON_IsNumber(schema) || schema->valuedouble != 1) {
        snprintf(errstr, errstr_size, "alert: schema: not 1");
        goto fail;
    }
    if (!(row = cJSON_CreateObject()))
        goto fail;
    if (copy_str(doc, row, "alert_id", true, errstr, errstr_size) < 0 ||
        copy_str(doc, row, "receiver", true, errstr, errstr_size) < 0 ||
        copy_str(doc, row, "kind", true, errstr, errstr_size) < 0 ||
        copy_ms(doc, row, "sent_ms", true, errstr, errstr_size) < 0 ||
        copy_ms(doc, row, "event_ms", false, errstr, errstr_size) < 0 ||
        copy_ms(doc, row, "first_failure_ms", false, errstr, errstr_size) < 0)
        goto fail;
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if (copy_str(doc, row, strs[i], false, errstr, errstr_size) < 0)
            goto fail;
    services = cJSON_GetObjectItemCaseSensitive(doc, "services");
    if (services && !cJSON_IsNull(services)) {
        const cJSON *s;
        cJSON *copy;
        if (!cJSON_IsArray(services)) {
            snprintf(errstr, errstr_size, "alert: services: not a list");
            goto fail;
        }
        cJSON_ArrayForEach(s, services) if (!cJSON_IsString(s))
        {
            snprintf(errstr, errstr_size, "alert: services: not a list of strings");
            goto fail;
        }
        if (!(copy = cJSON_Duplicate(services, 1)))
            goto fail;
        cJSON_AddItemToObject(row, "services", copy);
    } else if (!cJSON_AddNullToObject(row, "services")) {
        goto fail;
    }
    cJSON_Delete(doc);
    errstr[0] = '\0';
    return row;
fail:
    cJSON_Delete(doc);
    cJSON_Delete(row);
    return NULL;
}
