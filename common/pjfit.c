/* pjfit.c -- see pjfit.h. */
#include "pjfit.h"

#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "jsonstream.h"
#include "util.h"

int pjfit_key_used(const char *key)
{
    return strncmp(key, "prow.k8s.io/", 12) == 0 || strncmp(key, "testgrid-", 9) == 0 ||
           strcmp(key, "created-by-prow") == 0;
}

char *pjfit_string(const char *s, size_t max)
{
    size_t len = strlen(s), n;
    char *fixed = NULL, *out;

    if (!util_utf8_valid(s, len)) {
        if (!(fixed = malloc(3 * len + 1)))
            return NULL;
        long r = jstream_utf8_repair(s, len, fixed, 3 * len + 1, NULL);
        if (r < 0) {
            free(fixed);
            return NULL;
        }
        s = fixed;
        len = (size_t)r;
    }
    if (len <= max) {
        out = fixed ? fixed : strdup(s);
        return out;
    }
    /* Cut at a character boundary, leaving room for the mark. */
    n = max >= 3 ? max - 3 : 0;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    if ((out = malloc(n + 4))) {
        memcpy(out, s, n);
        memcpy(out + n, PJFIT_MARK, 4);
    }
    free(fixed);
    return out;
}

/* Copy member `name` of src into dst: a string fitted to max, anything else as it is. */
static int copy_str(cJSON *dst, const cJSON *src, const char *name, size_t max)
{
    const cJSON *it = src ? cJSON_GetObjectItemCaseSensitive(src, name) : NULL;
    cJSON *v;

    if (!it)
        return 0;
    if (cJSON_IsString(it)) {
        char *s = pjfit_string(it->valuestring, max);
        v = s ? cJSON_CreateString(s) : NULL;
        free(s);
    } else {
        v = cJSON_Duplicate(it, 1);
    }
    if (!v || !cJSON_AddItemToObject(dst, name, v)) {
        cJSON_Delete(v);
        return -1;
    }
    return 0;
}

/* Labels or annotations: string values only, fitted (see pjfit.h). */
static int copy_map(cJSON *dst, const cJSON *src, const char *name, size_t max,
                    bool tight)
{
    const cJSON *it = src ? cJSON_GetObjectItemCaseSensitive(src, name) : NULL, *kv;
    size_t total = 0;
    cJSON *m;

    if (!it)
        return 0;
    if (!cJSON_IsObject(it))
        return cJSON_IsNull(it)
                   ? 0
                   : (cJSON_AddItemToObject(dst, name, cJSON_Duplicate(it, 1)) ? 0 : -1);
    if (!(m = cJSON_AddObjectToObject(dst, name)))
        return -1;
    if (tight)
        max = PJFIT_TIGHT_VALUE;
    cJSON_ArrayForEach(kv, it)
    {
        const char *k = kv->string;
        if (!k || !cJSON_IsString(kv) || strlen(k) > PJFIT_MAX_KEY ||
            !util_utf8_valid(k, strlen(k)))
            continue;
        bool used = pjfit_key_used(k);
        size_t vl = strlen(kv->valuestring);
        if ((tight && !used) || (vl > max && !used))
            continue;
        size_t cost = strlen(k) + (vl > max ? max : vl);
        if ((total + cost > PJFIT_MAX_MAP && !used) ||
            (tight && total + cost > PJFIT_TIGHT_MAP))
            continue;
        if (cJSON_GetObjectItemCaseSensitive(m, k))
            continue; /* a duplicate key: the first wins, as the parser read it */
        char *s = pjfit_string(kv->valuestring, max);
        if (!s || !cJSON_AddStringToObject(m, k, s)) {
            free(s);
            return -1;
        }
        total += strlen(k) + strlen(s);
        free(s);
    }
    return 0;
}

static int copy_refs(cJSON *dst, const cJSON *refs, size_t max, bool tight)
{
    static const char *const names[] = {"org", "repo", "base_ref", "base_sha"};
    const cJSON *pulls = cJSON_GetObjectItemCaseSensitive(refs, "pulls"), *p;
    int n = 0;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (copy_str(dst, refs, names[i], max) < 0)
            return -1;
    if (!pulls)
        return 0;
    if (!cJSON_IsArray(pulls))
        return cJSON_AddItemToObject(dst, "pulls", cJSON_Duplicate(pulls, 1)) ? 0 : -1;
    cJSON *arr = cJSON_AddArrayToObject(dst, "pulls");
    if (!arr)
        return -1;
    if (tight)
        max = PJFIT_TIGHT_VALUE;
    cJSON_ArrayForEach(p, pulls)
    {
        if (n++ >= (tight ? 4 : EVENT_MAX_PULLS))
            break;
        if (!cJSON_IsObject(p)) {
            if (!cJSON_AddItemToArray(arr, cJSON_Duplicate(p, 1)))
                return -1;
            continue;
        }
        cJSON *q = cJSON_CreateObject();
        if (!q || !cJSON_AddItemToArray(arr, q))
            return -1;
        const cJSON *num = cJSON_GetObjectItemCaseSensitive(p, "number");
        if (num && !cJSON_AddItemToObject(q, "number", cJSON_Duplicate(num, 1)))
            return -1;
        if (copy_str(q, p, "author", max) < 0 || copy_str(q, p, "sha", max) < 0 ||
            copy_str(q, p, "title", max) < 0 || copy_str(q, p, "link", max) < 0)
            return -1;
    }
    return 0;
}

/* spec.reporter_config.slack: the keys Herald reads, with their types. */
static int copy_slack(cJSON *spec_out, const cJSON *slack, size_t max)
{
    const cJSON *it, *s;
    cJSON *rc, *out;

    if (!cJSON_IsObject(slack))
        return 0;
    if (!(rc = cJSON_AddObjectToObject(spec_out, "reporter_config")) ||
        !(out = cJSON_AddObjectToObject(rc, "slack")))
        return -1;
    const char *strs[] = {"channel", "host", "report_template"};
    for (size_t i = 0; i < 3; i++) {
        it = cJSON_GetObjectItemCaseSensitive(slack, strs[i]);
        if (cJSON_IsString(it) && copy_str(out, slack, strs[i], max) < 0)
            return -1;
    }
    it = cJSON_GetObjectItemCaseSensitive(slack, "job_states_to_report");
    if (cJSON_IsArray(it)) {
        cJSON *arr = cJSON_AddArrayToObject(out, "job_states_to_report");
        int n = 0;
        if (!arr)
            return -1;
        cJSON_ArrayForEach(s, it)
        {
            if (!cJSON_IsString(s) || strlen(s->valuestring) > 32 || n++ >= 16)
                continue;
            if (!cJSON_AddItemToArray(arr, cJSON_CreateString(s->valuestring)))
                return -1;
        }
    }
    it = cJSON_GetObjectItemCaseSensitive(slack, "report");
    if (cJSON_IsBool(it)) {
        if (!cJSON_AddBoolToObject(out, "report", cJSON_IsTrue(it)))
            return -1;
        /* Prow's own Slack reporter is off for this job: so is Herald. */
        if (!cJSON_IsTrue(it)) {
            cJSON_DeleteItemFromObjectCaseSensitive(spec_out, "report");
            if (!cJSON_AddFalseToObject(spec_out, "report"))
                return -1;
        }
    }
    return 0;
}

cJSON *pjfit_prowjob(const cJSON *pj, enum pjfit_level level)
{
    bool tight = level == PJFIT_TIGHT;
    size_t max = tight ? PJFIT_TIGHT_FIELD : EVENT_MAX_FIELD;
    const cJSON *meta, *spec, *status, *refs, *extra, *rcfg;
    cJSON *out, *m = NULL, *sp = NULL, *st = NULL;

    if (!cJSON_IsObject(pj))
        return cJSON_Duplicate(pj, 1);
    if (!(out = cJSON_CreateObject()))
        return NULL;
    meta = cJSON_GetObjectItemCaseSensitive(pj, "metadata");
    spec = cJSON_GetObjectItemCaseSensitive(pj, "spec");
    status = cJSON_GetObjectItemCaseSensitive(pj, "status");
    /* Parts of the wrong type are copied whole: the normaliser names them. */
    if (meta && !cJSON_IsObject(meta)) {
        if (!cJSON_AddItemToObject(out, "metadata", cJSON_Duplicate(meta, 1)))
            goto fail;
    } else if (meta) {
        if (!(m = cJSON_AddObjectToObject(out, "metadata")) ||
            copy_str(m, meta, "name", max) < 0 ||
            copy_map(m, meta, "labels", max, tight) < 0 ||
            copy_map(m, meta, "annotations", max, tight) < 0)
            goto fail;
    }
    if (spec && !cJSON_IsObject(spec)) {
        if (!cJSON_AddItemToObject(out, "spec", cJSON_Duplicate(spec, 1)))
            goto fail;
    } else if (spec) {
        if (!(sp = cJSON_AddObjectToObject(out, "spec")) ||
            copy_str(sp, spec, "job", max) < 0 || copy_str(sp, spec, "type", max) < 0 ||
            copy_str(sp, spec, "cluster", max) < 0 ||
            copy_str(sp, spec, "report", max) < 0)
            goto fail;
        refs = cJSON_GetObjectItemCaseSensitive(spec, "refs");
        if (cJSON_IsObject(refs)) {
            cJSON *r = cJSON_AddObjectToObject(sp, "refs");
            if (!r || copy_refs(r, refs, max, tight) < 0)
                goto fail;
        } else if (refs && copy_str(sp, spec, "refs", max) < 0) {
            goto fail;
        }
        extra = cJSON_GetObjectItemCaseSensitive(spec, "extra_refs");
        if (cJSON_IsArray(extra) && cJSON_IsObject(cJSON_GetArrayItem(extra, 0))) {
            cJSON *arr = cJSON_AddArrayToObject(sp, "extra_refs"),
                  *r = cJSON_CreateObject();
            if (!arr || !r || !cJSON_AddItemToArray(arr, r) ||
                copy_refs(r, cJSON_GetArrayItem(extra, 0), max, tight) < 0)
                goto fail;
        } else if (extra && copy_str(sp, spec, "extra_refs", max) < 0) {
            goto fail;
        }
        rcfg = cJSON_GetObjectItemCaseSensitive(spec, "reporter_config");
        if (copy_slack(sp,
                       cJSON_IsObject(rcfg)
                           ? cJSON_GetObjectItemCaseSensitive(rcfg, "slack")
                           : NULL,
                       max) < 0)
            goto fail;
    }
    if (status && !cJSON_IsObject(status)) {
        if (!cJSON_AddItemToObject(out, "status", cJSON_Duplicate(status, 1)))
            goto fail;
    } else if (status) {
        static const char *const names[] = {"state",       "build_id",  "url",
                                            "description", "startTime", "completionTime"};
        if (!(st = cJSON_AddObjectToObject(out, "status")))
            goto fail;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (copy_str(st, status, names[i], max) < 0)
                goto fail;
    }
    return out;
fail:
    cJSON_Delete(out);
    return NULL;
}
