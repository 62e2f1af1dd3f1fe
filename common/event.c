/* event.c -- ProwJob -> event normalisation and the event's JSON form. */
#include "event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "classify.h"
#include "pjfit.h"
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
static int get_str(const cJSON *obj, const char *name, const char *path, char **out,
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

static int get_time(const cJSON *obj, const char *name, const char *path, int64_t *out,
                    char *errstr, size_t errstr_size)
{
    char *s = NULL;
    int rc = 0;

    *out = 0;
    if (get_str(obj, name, path, &s, errstr, errstr_size) < 0)
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
static int get_string_map(const cJSON *obj, const char *name, const char *path,
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

static int get_pulls(struct event *ev, const cJSON *arr, const char *path, char *errstr,
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
        if (get_str(p, "author", ppath, &pl->author, errstr, errstr_size) < 0 ||
            get_str(p, "sha", ppath, &pl->sha, errstr, errstr_size) < 0 ||
            get_str(p, "title", ppath, &pl->title, errstr, errstr_size) < 0 ||
            get_str(p, "link", ppath, &pl->link, errstr, errstr_size) < 0)
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
static int validate(struct event *ev, char *errstr, size_t errstr_size)
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

/* Write the first EVENT_ID_HASH_HEX hex digits of the SHA-256 of data[0..len) into
 * hex (EVENT_ID_HASH_HEX + 1 bytes). Returns 0, or -1 if libcrypto failed. */
static int id_hash(const char *data, size_t len, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) ||
        mdlen * 2 < EVENT_ID_HASH_HEX)
        return -1;
    for (size_t i = 0; i < EVENT_ID_HASH_HEX / 2; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[EVENT_ID_HASH_HEX] = '\0';
    return 0;
}

/* The event id (docs/events.md), deterministic so that a re-read or replayed ProwJob
 * is the same event: "<base>:<state>" with base the ProwJob's name, or for a ProwJob
 * without one "<job>:<build id or ->:<start ms>". Never longer than EVENT_MAX_ID
 * bytes, whatever the input: a longer base is cut at a UTF-8 character boundary and
 * followed by "~" and EVENT_ID_HASH_HEX hex digits of the SHA-256 of the whole base,
 * so two long names sharing a prefix still get two ids (a plain cut made them one,
 * and an uncut id over EVENT_MAX_FIELD was refused by every consumer). Returns a new
 * string (caller frees) or NULL if memory ran out. */
static char *make_id(const struct event *ev)
{
    char hex[EVENT_ID_HASH_HEX + 1];
    size_t state_len = strlen(ev->state), keep;
    struct buf base, id;
    char *out = NULL;

    buf_init(&base, 4 * EVENT_MAX_FIELD);
    buf_init(&id, EVENT_MAX_ID + 1);
    if (ev->prowjob && *ev->prowjob
            ? buf_puts(&base, ev->prowjob)
            : buf_printf(&base, "%s:%s:%lld", ev->job, ev->build_id ? ev->build_id : "-",
                         (long long)ev->start_ms))
        goto out;
    if (base.len + 1 + state_len <= EVENT_MAX_ID) {
        if (buf_printf(&id, "%s:%s", base.data, ev->state) == 0)
            out = buf_detach(&id, NULL);
        goto out;
    }
    /* "<prefix>~<hash>:<state>"; the state is one of job_states, at most 10 bytes. */
    keep = EVENT_MAX_ID - (1 + EVENT_ID_HASH_HEX + 1 + state_len);
    while (keep > 0 && ((unsigned char)base.data[keep] & 0xc0) == 0x80)
        keep--; /* base.data[keep] would start the cut-off part: not inside a char */
    if (id_hash(base.data, base.len, hex) == 0 && buf_append(&id, base.data, keep) == 0 &&
        buf_printf(&id, "~%s:%s", hex, ev->state) == 0)
        out = buf_detach(&id, NULL);
out:
    buf_release(&base);
    buf_release(&id);
    return out;
}

/* Normalise a ProwJob already fitted to the limits (common/pjfit.h). */
static int from_fitted(struct event *ev, const cJSON *pj, int64_t observed_ms,
                       char *errstr, size_t errstr_size)
{
    const cJSON *meta, *spec, *status, *refs, *rc, *rep;

    errstr[0] = '\0';
    event_init(ev);
    if (!cJSON_IsObject(pj)) {
        snprintf(errstr, errstr_size, "not a JSON object");
        goto fail;
    }
    meta = cJSON_GetObjectItemCaseSensitive(pj, "metadata");
    spec = cJSON_GetObjectItemCaseSensitive(pj, "spec");
    status = cJSON_GetObjectItemCaseSensitive(pj, "status");
    if (!cJSON_IsObject(spec)) {
        snprintf(errstr, errstr_size, "spec: missing or not an object");
        goto fail;
    }
    if ((meta && !cJSON_IsObject(meta)) || (status && !cJSON_IsObject(status))) {
        snprintf(errstr, errstr_size, "%s: not an object",
                 meta && !cJSON_IsObject(meta) ? "metadata" : "status");
        goto fail;
    }
    if (get_str(spec, "job", "spec.", &ev->job, errstr, errstr_size) < 0 ||
        get_str(spec, "type", "spec.", &ev->type, errstr, errstr_size) < 0 ||
        get_str(spec, "cluster", "spec.", &ev->cluster, errstr, errstr_size) < 0 ||
        get_str(status, "state", "status.", &ev->state, errstr, errstr_size) < 0 ||
        get_str(status, "build_id", "status.", &ev->build_id, errstr, errstr_size) < 0 ||
        get_str(status, "url", "status.", &ev->url, errstr, errstr_size) < 0 ||
        get_str(status, "description", "status.", &ev->description, errstr, errstr_size) <
            0 ||
        get_str(meta, "name", "metadata.", &ev->prowjob, errstr, errstr_size) < 0 ||
        get_time(status, "startTime", "status.", &ev->start_ms, errstr, errstr_size) <
            0 ||
        get_time(status, "completionTime", "status.", &ev->completion_ms, errstr,
                 errstr_size) < 0 ||
        get_string_map(meta, "labels", "metadata.", &ev->labels, errstr, errstr_size) <
            0 ||
        get_string_map(meta, "annotations", "metadata.", &ev->annotations, errstr,
                       errstr_size) < 0)
        goto fail;
    if (!ev->state) {
        /* A ProwJob with no status yet has just been created. */
        snprintf(errstr, errstr_size, "status.state: missing");
        goto fail;
    }
    if (ev->job == NULL) {
        snprintf(errstr, errstr_size, "spec.job: missing");
        goto fail;
    }
    if (ev->type == NULL) {
        snprintf(errstr, errstr_size, "spec.type: missing");
        goto fail;
    }
    /* Periodics often have no refs, only extra_refs: take the first. */
    refs = cJSON_GetObjectItemCaseSensitive(spec, "refs");
    if (!refs || cJSON_IsNull(refs)) {
        const cJSON *extra = cJSON_GetObjectItemCaseSensitive(spec, "extra_refs");
        if (extra && !cJSON_IsNull(extra) && !cJSON_IsArray(extra)) {
            snprintf(errstr, errstr_size, "spec.extra_refs: not an array");
            goto fail;
        }
        refs = cJSON_GetArrayItem(extra, 0);
    }
    if (refs && !cJSON_IsObject(refs)) {
        snprintf(errstr, errstr_size, "spec.refs: not an object");
        goto fail;
    }
    if (get_str(refs, "org", "spec.refs.", &ev->org, errstr, errstr_size) < 0 ||
        get_str(refs, "repo", "spec.refs.", &ev->repo, errstr, errstr_size) < 0 ||
        get_str(refs, "base_ref", "spec.refs.", &ev->base_ref, errstr, errstr_size) < 0 ||
        get_str(refs, "base_sha", "spec.refs.", &ev->base_sha, errstr, errstr_size) < 0 ||
        get_pulls(ev, refs ? cJSON_GetObjectItemCaseSensitive(refs, "pulls") : NULL,
                  "spec.refs.", errstr, errstr_size) < 0)
        goto fail;
    rep = cJSON_GetObjectItemCaseSensitive(spec, "report");
    if (rep && !cJSON_IsNull(rep)) {
        if (!cJSON_IsBool(rep)) {
            snprintf(errstr, errstr_size, "spec.report: not a boolean");
            goto fail;
        }
        ev->report = cJSON_IsTrue(rep);
    }
    rc = cJSON_GetObjectItemCaseSensitive(spec, "reporter_config");
    rc = rc ? cJSON_GetObjectItemCaseSensitive(rc, "slack") : NULL;
    if (rc && cJSON_IsObject(rc) && !(ev->reporter_slack = cJSON_Duplicate(rc, 1)))
        goto fail;
    if (validate(ev, errstr, errstr_size) < 0)
        goto fail;

    ev->observed_ms = observed_ms;
    ev->event_ms = ev->completion_ms ? ev->completion_ms
                   : ev->start_ms    ? ev->start_ms
                                     : observed_ms;
    if (!(ev->id = make_id(ev)))
        goto fail;
    if (!(ev->service = classify_service(NULL, ev)))
        goto fail;
    return 0;
fail:
    if (!*errstr)
        snprintf(errstr, errstr_size, "out of memory");
    event_release(ev);
    return -1;
}

int event_from_prowjob(struct event *ev, const cJSON *pj, int64_t observed_ms,
                       char *errstr, size_t errstr_size)
{
    /* Fields Herald does not use never cost the event, and what is published always
     * fits what a consumer accepts: a fitted copy, cut further if it must be. */
    for (int level = PJFIT_NORMAL; level <= PJFIT_TIGHT; level++) {
        cJSON *fit = pjfit_prowjob(pj, (enum pjfit_level)level);
        char *json;
        size_t n;
        if (!fit) {
            snprintf(errstr, errstr_size, "out of memory");
            event_init(ev);
            return -1;
        }
        int rc = from_fitted(ev, fit, observed_ms, errstr, errstr_size);
        cJSON_Delete(fit);
        if (rc < 0)
            return -1;
        json = event_to_json(ev);
        n = json ? strlen(json) : 0;
        free(json);
        if (n && n <= EVENT_MAX_BYTES)
            return 0;
        event_release(ev);
    }
    snprintf(errstr, errstr_size,
             "the event would be larger than %d bytes even with its fields cut",
             EVENT_MAX_BYTES);
    return -1;
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
    int depth = 0, max = 0;
    bool in_str = false, esc = false;

    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
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
    if (get_str(o, "id", "", &ev->id, errstr, errstr_size) < 0 ||
        get_str(o, "job", "", &ev->job, errstr, errstr_size) < 0 ||
        get_str(o, "type", "", &ev->type, errstr, errstr_size) < 0 ||
        get_str(o, "state", "", &ev->state, errstr, errstr_size) < 0 ||
        get_str(o, "build_id", "", &ev->build_id, errstr, errstr_size) < 0 ||
        get_str(o, "prowjob", "", &ev->prowjob, errstr, errstr_size) < 0 ||
        get_str(o, "org", "", &ev->org, errstr, errstr_size) < 0 ||
        get_str(o, "repo", "", &ev->repo, errstr, errstr_size) < 0 ||
        get_str(o, "base_ref", "", &ev->base_ref, errstr, errstr_size) < 0 ||
        get_str(o, "base_sha", "", &ev->base_sha, errstr, errstr_size) < 0 ||
        get_str(o, "url", "", &ev->url, errstr, errstr_size) < 0 ||
        get_str(o, "description", "", &ev->description, errstr, errstr_size) < 0 ||
        get_str(o, "cluster", "", &ev->cluster, errstr, errstr_size) < 0 ||
        get_str(o, "service", "", &ev->service, errstr, errstr_size) < 0 ||
        get_time(o, "start_time", "", &ev->start_ms, errstr, errstr_size) < 0 ||
        get_time(o, "completion_time", "", &ev->completion_ms, errstr, errstr_size) < 0 ||
        get_time(o, "event_time", "", &ev->event_ms, errstr, errstr_size) < 0 ||
        get_time(o, "observed_time", "", &ev->observed_ms, errstr, errstr_size) < 0 ||
        get_pulls(ev, cJSON_GetObjectItemCaseSensitive(o, "pulls"), "", errstr,
                  errstr_size) < 0 ||
        get_string_map(o, "labels", "", &ev->labels, errstr, errstr_size) < 0 ||
        get_string_map(o, "annotations", "", &ev->annotations, errstr, errstr_size) < 0)
        goto out;
    if (require(ev->id, "id", errstr, errstr_size) < 0 ||
        validate(ev, errstr, errstr_size) < 0)
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
