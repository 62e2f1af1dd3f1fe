/* event.c -- see event.h: the event: its lifecycle, the field readers and checks both
 * parsers share, its JSON form (event_to_json, event_encode, event_from_json) and the
 * accessors. A ProwJob as an event is event_prowjob.c. */
#include "event.h"

#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "event_int.h"
#include "util.h"

void event_init(struct event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->schema = EVENT_SCHEMA_VERSION;
    ev->report = true;
}

void event_release(struct event *ev)
{
    if (!ev)
        return;
    char **strs[] = {&ev->id,       &ev->job,      &ev->type, &ev->state,
                     &ev->build_id, &ev->prowjob,  &ev->org,  &ev->repo,
                     &ev->base_ref, &ev->base_sha, &ev->url,  &ev->description,
                     &ev->cluster,  &ev->service};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(*strs[i]);
    for (size_t i = 0; i < ev->npulls; i++) {
        free(ev->pulls[i].author);
        free(ev->pulls[i].sha);
        free(ev->pulls[i].title);
        free(ev->pulls[i].link);
    }
    free(ev->pulls);
    cJSON_Delete(ev->labels);
    cJSON_Delete(ev->annotations);
    cJSON_Delete(ev->reporter_slack);
    event_init(ev);
}

/* Copy a string member of obj (NULL if absent). Returns -1 if present but not a
 * string, or longer than EVENT_MAX_FIELD. */
int event_get_str(const cJSON *obj, const char *name, const char *path, char **out,
                  char *errstr, size_t errstr_size)
{
    const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;

    *out = NULL;
    if (!it || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsString(it)) {
        snprintf(errstr, errstr_size, "%s%s: not a string", path, name);
        return -1;
    }
    if (strlen(it->valuestring) > EVENT_MAX_FIELD) {
        snprintf(errstr, errstr_size, "%s%s: longer than %d bytes", path, name,
                 EVENT_MAX_FIELD);
        return -1;
    }
    *out = strdup(it->valuestring);
    return *out ? 0 : -1;
}

static int require(const char *val, const char *path, char *errstr, size_t errstr_size)
{
    if (val && *val)
        return 0;
    snprintf(errstr, errstr_size, "%s: missing or empty", path);
    return -1;
}

int event_get_time(const cJSON *obj, const char *name, const char *path, int64_t *out,
                   char *errstr, size_t errstr_size)
{
    char *s = NULL;
    int rc = 0;

    *out = 0;
    if (event_get_str(obj, name, path, &s, errstr, errstr_size) < 0)
        return -1;
    if (s && *s && util_parse_time(s, out) < 0) {
        snprintf(errstr, errstr_size, "%s%s: not an RFC 3339 time: \"%.40s\"", path, name,
                 s);
        rc = -1;
    }
    free(s);
    return rc;
}

/* Copy an object whose values must all be strings (labels, annotations). */
int event_get_string_map(const cJSON *obj, const char *name, const char *path,
                         cJSON **out, char *errstr, size_t errstr_size)
{
    const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
    const cJSON *kv;

    *out = NULL;
    if (it && !cJSON_IsNull(it)) {
        if (!cJSON_IsObject(it)) {
            snprintf(errstr, errstr_size, "%s%s: not an object", path, name);
            return -1;
        }
        cJSON_ArrayForEach(kv, it)
        {
            if (!cJSON_IsString(kv) || strlen(kv->valuestring) > EVENT_MAX_FIELD) {
                snprintf(errstr, errstr_size, "%s%s.%s: not a string (or too long)", path,
                         name, kv->string ? kv->string : "?");
                return -1;
            }
        }
        *out = cJSON_Duplicate(it, 1);
    } else {
        *out = cJSON_CreateObject();
    }
    return *out ? 0 : -1;
}

int event_get_pulls(struct event *ev, const cJSON *arr, const char *path, char *errstr,
                    size_t errstr_size)
{
    const cJSON *p;
    size_t n;

    if (!arr || cJSON_IsNull(arr))
        return 0;
    if (!cJSON_IsArray(arr)) {
        snprintf(errstr, errstr_size, "%spulls: not an array", path);
        return -1;
    }
    n = (size_t)cJSON_GetArraySize(arr);
    if (n > EVENT_MAX_PULLS)
        n = EVENT_MAX_PULLS;
    if (n == 0)
        return 0;
    ev->pulls = calloc(n, sizeof(*ev->pulls));
    if (!ev->pulls)
        return -1;
    cJSON_ArrayForEach(p, arr)
    {
        struct event_pull *pl;
        const cJSON *num;
        char ppath[64];

        if (ev->npulls == n)
            break;
        snprintf(ppath, sizeof(ppath), "%spulls[%zu].", path, ev->npulls);
        if (!cJSON_IsObject(p)) {
            snprintf(errstr, errstr_size, "%.60s: not an object", ppath);
            return -1;
        }
        pl = &ev->pulls[ev->npulls++];
        num = cJSON_GetObjectItemCaseSensitive(p, "number");
        if (!cJSON_IsNumber(num) || num->valuedouble < 0 || num->valuedouble > 1e12) {
            snprintf(errstr, errstr_size, "%snumber: missing or not a number", ppath);
            return -1;
        }
        pl->number = (long)num->valuedouble;
        if (event_get_str(p, "author", ppath, &pl->author, errstr, errstr_size) < 0 ||
            event_get_str(p, "sha", ppath, &pl->sha, errstr, errstr_size) < 0 ||
            event_get_str(p, "title", ppath, &pl->title, errstr, errstr_size) < 0 ||
            event_get_str(p, "link", ppath, &pl->link, errstr, errstr_size) < 0)
            return -1;
    }
    return 0;
}

static const char *const job_types[] = {"presubmit", "postsubmit", "periodic", "batch",
                                        NULL};
static const char *const job_states[] = {"scheduling", "triggered", "pending", "success",
                                         "failure",    "aborted",   "error",   NULL};

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/* Checks shared by both parsers once the fields are in place. */
int event_validate(struct event *ev, char *errstr, size_t errstr_size)
{
    if (require(ev->job, "job", errstr, errstr_size) < 0 ||
        require(ev->type, "type", errstr, errstr_size) < 0 ||
        require(ev->state, "state", errstr, errstr_size) < 0)
        return -1;
    if (!in_list(ev->type, job_types)) {
        snprintf(errstr, errstr_size, "type: unknown job type \"%.40s\"", ev->type);
        return -1;
    }
    if (!in_list(ev->state, job_states)) {
        snprintf(errstr, errstr_size, "state: unknown job state \"%.40s\"", ev->state);
        return -1;
    }
    return 0;
}

static int add_str(cJSON *o, const char *name, const char *val)
{
    if (!val)
        return 0;
    return cJSON_AddStringToObject(o, name, val) ? 0 : -1;
}

static int add_time(cJSON *o, const char *name, int64_t ms)
{
    char tb[40];

    if (!ms)
        return 0;
    return cJSON_AddStringToObject(o, name, util_format_time_ms(ms, tb, sizeof(tb))) ? 0
                                                                                     : -1;
}

char *event_to_json(const struct event *ev)
{
    cJSON *o = cJSON_CreateObject(), *pulls, *dup;
    char *out = NULL;

    if (!o)
        return NULL;
    if (!cJSON_AddNumberToObject(o, "schema", EVENT_SCHEMA_VERSION) ||
        add_str(o, "id", ev->id) || add_str(o, "job", ev->job) ||
        add_str(o, "type", ev->type) || add_str(o, "state", ev->state) ||
        add_str(o, "build_id", ev->build_id) || add_str(o, "prowjob", ev->prowjob) ||
        add_str(o, "org", ev->org) || add_str(o, "repo", ev->repo) ||
        add_str(o, "base_ref", ev->base_ref) || add_str(o, "base_sha", ev->base_sha) ||
        add_str(o, "url", ev->url) || add_str(o, "description", ev->description) ||
        add_str(o, "cluster", ev->cluster) || add_str(o, "service", ev->service) ||
        add_time(o, "start_time", ev->start_ms) ||
        add_time(o, "completion_time", ev->completion_ms) ||
        add_time(o, "event_time", ev->event_ms) ||
        add_time(o, "observed_time", ev->observed_ms) ||
        !cJSON_AddBoolToObject(o, "report", ev->report))
        goto out;
    if (ev->npulls) {
        if (!(pulls = cJSON_AddArrayToObject(o, "pulls")))
            goto out;
        for (size_t i = 0; i < ev->npulls; i++) {
            cJSON *p = cJSON_CreateObject();
            if (!p || !cJSON_AddItemToArray(pulls, p))
                goto out;
            if (!cJSON_AddNumberToObject(p, "number", (double)ev->pulls[i].number) ||
                add_str(p, "author", ev->pulls[i].author) ||
                add_str(p, "sha", ev->pulls[i].sha) ||
                add_str(p, "title", ev->pulls[i].title) ||
                add_str(p, "link", ev->pulls[i].link))
                goto out;
        }
    }
    const struct {
        const char *name;
        const cJSON *val;
    } objs[] = {{"labels", ev->labels},
                {"annotations", ev->annotations},
                {"reporter_slack", ev->reporter_slack}};
    for (size_t i = 0; i < 3; i++) {
        if (!objs[i].val)
            continue;
        if (!(dup = cJSON_Duplicate(objs[i].val, 1)) ||
            !cJSON_AddItemToObject(o, objs[i].name, dup)) {
            cJSON_Delete(dup);
            goto out;
        }
    }
    out = cJSON_PrintUnformatted(o);
out:
    cJSON_Delete(o);
    return out;
}

/* The producer's last check: what it publishes goes through the same parser every
 * consumer runs, so nothing it sends can be refused for the reasons a consumer
 * checks. */
char *event_encode(const struct event *ev, char *errstr, size_t errstr_size)
{
    char *json = event_to_json(ev);
    struct event back;
    char why[256];
    int rc;

    if (!json) {
        snprintf(errstr, errstr_size, "cannot serialise the event (out of memory)");
        return NULL;
    }
    rc = event_from_json(&back, json, strlen(json), why, sizeof(why));
    event_release(&back);
    if (rc < 0) {
        snprintf(errstr, errstr_size, "consumers would reject the event (%s): %s",
                 event_error_name(rc), why);
        free(json);
        return NULL;
    }
    return json;
}

int event_json_depth(const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    int depth = 0, max = 0;

    while (p < end) {
        char c = *p++;
        if (c == '"') {
            /* to the closing quote: one not preceded by an odd run of backslashes */
            for (;;) {
                const char *q = memchr(p, '"', (size_t)(end - p));
                size_t bs = 0;
                if (!q)
                    return max;
                while (q - bs > p && q[-1 - (ptrdiff_t)bs] == '\\')
                    bs++;
                p = q + 1;
                if (bs % 2 == 0)
                    break;
            }
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                max = depth;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

const char *event_error_name(int err)
{
    switch (err) {
    case EVENT_ERR_TOO_LARGE:
        return "too_large";
    case EVENT_ERR_UTF8:
        return "invalid_utf8";
    case EVENT_ERR_TOO_DEEP:
        return "too_deep";
    case EVENT_ERR_JSON:
        return "malformed_json";
    case EVENT_ERR_SCHEMA:
        return "bad_schema";
    default:
        return "invalid_event";
    }
}

int event_from_json(struct event *ev, const char *data, size_t len, char *errstr,
                    size_t errstr_size)
{
    cJSON *o = NULL;
    const cJSON *it;
    int rc = -1;

    event_init(ev);
    if (len > EVENT_MAX_BYTES) {
        snprintf(errstr, errstr_size, "event is %zu bytes, over the %d-byte limit", len,
                 EVENT_MAX_BYTES);
        return EVENT_ERR_TOO_LARGE;
    }
    if (!util_utf8_valid(data, len)) {
        snprintf(errstr, errstr_size, "event is not valid UTF-8");
        return EVENT_ERR_UTF8;
    }
    if (event_json_depth(data, len) > EVENT_MAX_DEPTH) {
        snprintf(errstr, errstr_size, "event JSON nests deeper than %d", EVENT_MAX_DEPTH);
        return EVENT_ERR_TOO_DEEP;
    }
    if (!(o = cJSON_ParseWithLength(data, len))) {
        snprintf(errstr, errstr_size, "malformed JSON near byte %ld",
                 (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - data : 0));
        return EVENT_ERR_JSON;
    }
    if (!cJSON_IsObject(o)) {
        snprintf(errstr, errstr_size, "event is not a JSON object");
        goto out;
    }
    it = cJSON_GetObjectItemCaseSensitive(o, "schema");
    if (!cJSON_IsNumber(it) || it->valuedouble != EVENT_SCHEMA_VERSION) {
        snprintf(errstr, errstr_size, "schema: missing or unsupported (want %d)",
                 EVENT_SCHEMA_VERSION);
        rc = EVENT_ERR_SCHEMA;
        goto out;
    }
    if (event_get_str(o, "id", "", &ev->id, errstr, errstr_size) < 0 ||
        event_get_str(o, "job", "", &ev->job, errstr, errstr_size) < 0 ||
        event_get_str(o, "type", "", &ev->type, errstr, errstr_size) < 0 ||
        event_get_str(o, "state", "", &ev->state, errstr, errstr_size) < 0 ||
        event_get_str(o, "build_id", "", &ev->build_id, errstr, errstr_size) < 0 ||
        event_get_str(o, "prowjob", "", &ev->prowjob, errstr, errstr_size) < 0 ||
        event_get_str(o, "org", "", &ev->org, errstr, errstr_size) < 0 ||
        event_get_str(o, "repo", "", &ev->repo, errstr, errstr_size) < 0 ||
        event_get_str(o, "base_ref", "", &ev->base_ref, errstr, errstr_size) < 0 ||
        event_get_str(o, "base_sha", "", &ev->base_sha, errstr, errstr_size) < 0 ||
        event_get_str(o, "url", "", &ev->url, errstr, errstr_size) < 0 ||
        event_get_str(o, "description", "", &ev->description, errstr, errstr_size) < 0 ||
        event_get_str(o, "cluster", "", &ev->cluster, errstr, errstr_size) < 0 ||
        event_get_str(o, "service", "", &ev->service, errstr, errstr_size) < 0 ||
        event_get_time(o, "start_time", "", &ev->start_ms, errstr, errstr_size) < 0 ||
        event_get_time(o, "completion_time", "", &ev->completion_ms, errstr,
                       errstr_size) < 0 ||
        event_get_time(o, "event_time", "", &ev->event_ms, errstr, errstr_size) < 0 ||
        event_get_time(o, "observed_time", "", &ev->observed_ms, errstr, errstr_size) <
            0 ||
        event_get_pulls(ev, cJSON_GetObjectItemCaseSensitive(o, "pulls"), "", errstr,
                        errstr_size) < 0 ||
        event_get_string_map(o, "labels", "", &ev->labels, errstr, errstr_size) < 0 ||
        event_get_string_map(o, "annotations", "", &ev->annotations, errstr,
                             errstr_size) < 0)
        goto out;
    if (require(ev->id, "id", errstr, errstr_size) < 0 ||
        event_validate(ev, errstr, errstr_size) < 0)
        goto out;
    if (!ev->event_ms) {
        snprintf(errstr, errstr_size, "event_time: missing");
        goto out;
    }
    it = cJSON_GetObjectItemCaseSensitive(o, "report");
    if (it && !cJSON_IsBool(it)) {
        snprintf(errstr, errstr_size, "report: not a boolean");
        goto out;
    }
    ev->report = !it || cJSON_IsTrue(it);
    it = cJSON_GetObjectItemCaseSensitive(o, "reporter_slack");
    if (it && !cJSON_IsNull(it)) {
        if (!cJSON_IsObject(it)) {
            snprintf(errstr, errstr_size, "reporter_slack: not an object");
            goto out;
        }
        if (!(ev->reporter_slack = cJSON_Duplicate(it, 1)))
            goto out;
    }
    rc = 0;
out:
    cJSON_Delete(o);
    if (rc < 0)
        event_release(ev);
    return rc;
}

int event_key(const struct event *ev, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/%s/%s", ev->org && *ev->org ? ev->org : "-",
                     ev->repo && *ev->repo ? ev->repo : "-", ev->job);
    return n < 0 || (size_t)n >= size ? -1 : n;
}

bool event_is_final(const struct event *ev)
{
    static const char *const finals[] = {"success", "failure", "aborted", "error", NULL};
    return ev->state && in_list(ev->state, finals);
}

bool event_is_failure(const struct event *ev)
{
    return ev->state &&
           (strcmp(ev->state, "failure") == 0 || strcmp(ev->state, "error") == 0);
}

static const char *map_get(const cJSON *m, const char *name)
{
    const cJSON *it = m ? cJSON_GetObjectItemCaseSensitive(m, name) : NULL;
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

const char *event_label(const struct event *ev, const char *name)
{
    return map_get(ev->labels, name);
}

const char *event_annotation(const struct event *ev, const char *name)
{
    return map_get(ev->annotations, name);
}
