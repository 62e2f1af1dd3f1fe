/* event_prowjob.c -- see event.h: a ProwJob as an event: the fields normalised from a
 * copy fitted to the limits (common/pjfit.c), the deterministic event id, the service.
 * The event's JSON form and the field readers are event.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "classify.h"
#include "event.h"
#include "event_int.h"
#include "pjfit.h"
#include "util.h"

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
    if (event_get_str(spec, "job", "spec.", &ev->job, errstr, errstr_size) < 0 ||
        event_get_str(spec, "type", "spec.", &ev->type, errstr, errstr_size) < 0 ||
        event_get_str(spec, "cluster", "spec.", &ev->cluster, errstr, errstr_size) < 0 ||
        event_get_str(status, "state", "status.", &ev->state, errstr, errstr_size) < 0 ||
        event_get_str(status, "build_id", "status.", &ev->build_id, errstr, errstr_size) <
            0 ||
        event_get_str(status, "url", "status.", &ev->url, errstr, errstr_size) < 0 ||
        event_get_str(status, "description", "status.", &ev->description, errstr,
                      errstr_size) < 0 ||
        event_get_str(meta, "name", "metadata.", &ev->prowjob, errstr, errstr_size) < 0 ||
        event_get_time(status, "startTime", "status.", &ev->start_ms, errstr,
                       errstr_size) < 0 ||
        event_get_time(status, "completionTime", "status.", &ev->completion_ms, errstr,
                       errstr_size) < 0 ||
        event_get_string_map(meta, "labels", "metadata.", &ev->labels, errstr,
                             errstr_size) < 0 ||
        event_get_string_map(meta, "annotations", "metadata.", &ev->annotations, errstr,
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
    if (event_get_str(refs, "org", "spec.refs.", &ev->org, errstr, errstr_size) < 0 ||
        event_get_str(refs, "repo", "spec.refs.", &ev->repo, errstr, errstr_size) < 0 ||
        event_get_str(refs, "base_ref", "spec.refs.", &ev->base_ref, errstr,
                      errstr_size) < 0 ||
        event_get_str(refs, "base_sha", "spec.refs.", &ev->base_sha, errstr,
                      errstr_size) < 0 ||
        event_get_pulls(ev, refs ? cJSON_GetObjectItemCaseSensitive(refs, "pulls") : NULL,
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
    if (event_validate(ev, errstr, errstr_size) < 0)
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
