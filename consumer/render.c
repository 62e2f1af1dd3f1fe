/* render.c -- see render.h. */
#include "render.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#include "classify.h"
#include "slack.h"
#include "util.h"

#define RENDER_MAX_LINES 200 /* lines kept from one record */

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static int64_t num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

/* The record's kind: an alert kind, or "ecosystem-update" (an ECOSYSTEM message with
 * the incident's current state). -1 if unknown. */
static int kind_of(const char *k, bool *update)
{
    *update = k && strcmp(k, "ecosystem-update") == 0;
    return *update ? ALERT_ECOSYSTEM : alert_kind_parse(k);
}

/* A JSON array of strings as a borrowed array (at most RENDER_MAX_LINES). */
static const char **lines_of(const cJSON *arr, size_t *n, int64_t *more)
{
    const cJSON *e, *list = cJSON_IsArray(arr) ? arr : NULL;
    size_t cnt = list ? (size_t)cJSON_GetArraySize(list) : 0, k = 0;
    const char **v = calloc(cnt + 1, sizeof(*v));

    *n = 0;
    if (!v)
        return NULL;
    cJSON_ArrayForEach(e, list)
    {
        if (!cJSON_IsString(e))
            continue;
        if (k < RENDER_MAX_LINES)
            v[k++] = e->valuestring;
        else if (more)
            (*more)++;
    }
    *n = k;
    return v;
}

static int parse_members(struct rendered *r, const cJSON *arr)
{
    const cJSON *e, *list = cJSON_IsArray(arr) ? arr : NULL;
    size_t cnt = list ? (size_t)cJSON_GetArraySize(list) : 0, k = 0;

    if (!(r->members = calloc(cnt + 1, sizeof(*r->members))) ||
        !(r->lines = calloc(cnt + 1, sizeof(*r->lines))))
        return -1;
    cJSON_ArrayForEach(e, list)
    {
        struct alert_member *m = &r->members[k];
        size_t nl;
        if (!(m->service = str(e, "svc")))
            continue;
        m->version = str(e, "ver");
        m->job = str(e, "job");
        m->build = str(e, "b");
        m->url = str(e, "url");
        m->lines = lines_of(cJSON_GetObjectItemCaseSensitive(e, "lines"), &nl, NULL);
        m->nlines = nl;
        m->recovered = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "rec"));
        r->lines[k++] = m->service; /* the services, for the text fallback */
    }
    r->a.members = r->members;
    r->a.nmembers = k;
    r->a.lines = r->lines;
    r->a.nlines = k;
    return 0;
}

/* Append s percent-encoded as one URL path segment (RFC 3986 unreserved kept). */
static int put_segment(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = buf_puts(b, "/");
    for (const unsigned char *p = (const unsigned char *)s; rc == 0 && *p; p++) {
        char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        if (isalnum(*p) || strchr("-._~", *p))
            rc = buf_append(b, p, 1);
        else
            rc = buf_append(b, e, 3);
    }
    return rc;
}

/* The dashboard page an alert points to (web.public_url set): the release graph of
 * its version, the history of its job, or for the ecosystem the trends page. NULL
 * when there is none or out of memory (the message goes without the link). */
static char *dashboard_link(const struct config *cfg, const struct rendered *r)
{
    const struct alert *a = &r->a;
    const char *base = cfg->web_public_url;
    size_t n;
    struct buf b;
    int rc;

    if (!base || !*base)
        return NULL;
    n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    buf_init(&b, 4096);
    rc = buf_append(&b, base, n);
    if (a->kind == ALERT_ECOSYSTEM || a->kind == ALERT_ECO_RECOVERED)
        rc = rc ? rc : buf_puts(&b, "/trends");
    else if (a->version && *a->version && a->service && *a->service)
        rc = rc ? rc
                : put_segment(&b, "release") || put_segment(&b, a->service) ||
                      put_segment(&b, a->version);
    else if (r->has_ev && r->ev.job && *r->ev.job)
        rc = rc ? rc
                : put_segment(&b, "job") ||
                      put_segment(&b, r->ev.org && *r->ev.org ? r->ev.org : "-") ||
                      put_segment(&b, r->ev.repo && *r->ev.repo ? r->ev.repo : "-") ||
                      put_segment(&b, r->ev.job);
    else
        rc = -1;
    if (rc) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

int render_parse(const struct config *cfg, const char *record, struct rendered *r,
                 char *errstr, size_t errstr_size)
{
    struct alert *a = &r->a;
    const char *ev;
    int kind;

    memset(r, 0, sizeof(*r));
    if (!(r->root = cJSON_Parse(record)) || !cJSON_IsObject(r->root)) {
        snprintf(errstr, errstr_size, "alert record: not JSON");
        return -1;
    }
    r->kind = str(r->root, "kind");
    if ((kind = kind_of(r->kind, &r->update)) < 0) {
        snprintf(errstr, errstr_size, "alert record: unknown kind %s",
                 r->kind ? r->kind : "-");
        return -1;
    }
    r->id = str(r->root, "id");
    r->inc = str(r->root, "inc");
    r->thread = str(r->root, "thread");
    r->t = num(r->root, "t");
    if (!r->id)
        r->id = "";
    if (!r->inc)
        r->inc = "";
    if (!r->thread)
        r->thread = "none";
    a->kind = (enum alert_kind)kind;
    a->update = r->update;
    a->service = str(r->root, "svc");
    a->stage = str(r->root, "stg");
    a->version = str(r->root, "ver");
    int t = tier_parse(str(r->root, "tier") ? str(r->root, "tier") : "info");
    a->tier = t < 0 ? TIER_INFO : (enum tier)t;
    if ((ev = str(r->root, "ev")) != NULL) {
        char err[256];
        if (event_from_json(&r->ev, ev, strlen(ev), err, sizeof(err)) < 0) {
            snprintf(errstr, errstr_size, "alert record %s: its event: %s", r->id, err);
            return -1;
        }
        r->has_ev = true;
        a->ev = &r->ev;
        a->infra_cause = classify_infra(&r->ev);
    }
    a->failures = num(r->root, "nf");
    a->failing_since_ms = num(r->root, "fft");
    a->first_build = str(r->root, "ffb");
    a->threshold = num(r->root, "thr") > 0 ? num(r->root, "thr") : cfg->failures_to_alert;
    a->suppressed = num(r->root, "sup");
    a->suppressed_since_ms = num(r->root, "since");
    const cJSON *note = cJSON_GetObjectItemCaseSensitive(r->root, "note");
    if (cJSON_IsObject(note)) {
        a->passed_build = str(note, "b") ? str(note, "b") : "-";
        a->passed_ms = num(note, "t");
    }
    if (a->kind == ALERT_ECOSYSTEM || a->kind == ALERT_ECO_RECOVERED) {
        a->window_ms = num(r->root, "win");
        a->started_ms = num(r->root, "start");
        if (parse_members(r, cJSON_GetObjectItemCaseSensitive(r->root, "members")) < 0)
            goto oom;
        if (!a->service)
            a->service = "";
    } else {
        size_t n;
        if (!(r->lines = lines_of(cJSON_GetObjectItemCaseSensitive(r->root, "lines"), &n,
                                  &a->more)))
            goto oom;
        a->lines = r->lines;
        a->nlines = n;
    }
    if (!a->service)
        a->service = r->has_ev && r->ev.service ? r->ev.service : "";
    if (!a->stage)
        a->stage = "other";
    a->link = r->link = dashboard_link(cfg, r);
    return 0;
oom:
    snprintf(errstr, errstr_size, "out of memory");
    return -1;
}

void render_release(struct rendered *r)
{
    if (!r)
        return;
    if (r->has_ev)
        event_release(&r->ev);
    for (size_t i = 0; r->members && i < r->a.nmembers; i++)
        free((void *)(uintptr_t)r->members[i].lines);
    free(r->members);
    free(r->lines);
    free(r->link);
    cJSON_Delete(r->root);
    memset(r, 0, sizeof(*r));
}

/* Web API extras on a formatted payload: metadata naming the alert, or the chat.update
 * form (channel + ts, no thread). Returns a new string or NULL. */
static char *web_api_body(const struct rendered *r, char *body, const char *channel,
                          const char *update_ts)
{
    cJSON *o = cJSON_Parse(body), *md, *pl;
    char *out = NULL;

    free(body);
    if (!o)
        return NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(o, "channel");
    if (!cJSON_AddStringToObject(o, "channel", channel))
        goto out;
    if (update_ts) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, "thread_ts");
        if (!cJSON_AddStringToObject(o, "ts", update_ts))
            goto out;
    }
    {
        if (!(md = cJSON_AddObjectToObject(o, "metadata")) ||
            !cJSON_AddStringToObject(md, "event_type", "herald_alert") ||
            !(pl = cJSON_AddObjectToObject(md, "event_payload")) ||
            !cJSON_AddStringToObject(pl, "alert_id", r->id) ||
            !cJSON_AddStringToObject(pl, "kind", r->kind) ||
            !cJSON_AddStringToObject(pl, "incident", r->inc))
            goto out;
    }
    out = cJSON_PrintUnformatted(o);
out:
    cJSON_Delete(o);
    return out;
}

int render_request(const struct rendered *r, const struct receiver *rcv,
                   const char *channel, const char *parent_ts, const char *note,
                   struct delivery *d)
{
    struct alert a = r->a;
    struct receiver to = *rcv;
    char *body, *esc = NULL;
    bool update = rcv->type == RECEIVER_WEBAPI && strcmp(r->thread, "update") == 0 &&
                  parent_ts && *parent_ts;
    bool reply = rcv->type == RECEIVER_WEBAPI && !update && parent_ts && *parent_ts &&
                 strcmp(r->thread, "open") != 0;

    if (note && *note) {
        if (!(esc = slack_escape(note)))
            return -1;
        a.extra = esc;
    }
    if (channel && *channel)
        to.channel = channel;
    body = slack_format(&a, &to, reply ? parent_ts : NULL);
    free(esc);
    if (!body)
        return -1;
    if (rcv->type == RECEIVER_WEBAPI &&
        !(body = web_api_body(r, body, to.channel ? to.channel : "",
                              update ? parent_ts : NULL)))
        return -1;
    d->rcv = rcv;
    d->body = body;
    d->method = update ? "chat.update" : NULL;
    d->content_type = NULL;
    return 0;
}

char *render_history_query(const char *channel, int64_t since_ms)
{
    struct buf b;
    char *ch = NULL;

    buf_init(&b, 1024);
    /* form-encoded, as Slack's read methods take it; channel names are [#a-z0-9_-] */
    if (buf_puts(&b, "channel=") < 0)
        goto fail;
    for (const char *p = channel; *p; p++) {
        if (*p == '#' || *p == '&' || *p == '=' || *p == '+' || *p == '%' || *p == ' ') {
            if (buf_printf(&b, "%%%02X", (unsigned char)*p) < 0)
                goto fail;
        } else if (buf_append(&b, p, 1) < 0) {
            goto fail;
        }
    }
    if (buf_printf(&b, "&oldest=%" PRId64 ".000000&limit=200&include_all_metadata=true",
                   since_ms / 1000 - 60) < 0)
        goto fail;
    return buf_detach(&b, NULL);
fail:
    free(ch);
    buf_release(&b);
    return NULL;
}

bool render_history_find(const char *answer, const char *id, char *ts, size_t ts_size)
{
    cJSON *o = answer ? cJSON_Parse(answer) : NULL, *m;
    bool found = false;

    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(o, "messages"))
    {
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(m, "metadata");
        const cJSON *pl = cJSON_GetObjectItemCaseSensitive(md, "event_payload");
        const char *aid = str(pl, "alert_id"), *t = str(m, "ts");
        if (aid && t && strcmp(aid, id) == 0) {
            snprintf(ts, ts_size, "%s", t);
            found = true;
            break;
        }
    }
    cJSON_Delete(o);
    return found;
}

static void add_str(cJSON *o, const char *k, const char *v)
{
    if (v && *v)
        cJSON_AddStringToObject(o, k, v);
    else
        cJSON_AddNullToObject(o, k);
}

char *render_topic_record(const struct rendered *r, const char *receiver,
                          const char *channel, int64_t sent_ms, const char *ts)
{
    const struct alert *a = &r->a;
    const struct event *ev = r->has_ev ? &r->ev : NULL;
    cJSON *o = cJSON_CreateObject(), *svcs;
    char *out = NULL;

    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "schema", 1);
    add_str(o, "alert_id", r->id);
    add_str(o, "kind", r->kind);
    add_str(o, "receiver", receiver);
    add_str(o, "channel", channel);
    add_str(o, "incident", r->inc);
    add_str(o, "service", a->service);
    add_str(o, "stage", a->stage);
    add_str(o, "version", a->version);
    add_str(o, "tier", tier_name(a->tier));
    add_str(o, "job", ev ? ev->job : NULL);
    add_str(o, "org", ev ? ev->org : NULL);
    add_str(o, "repo", ev ? ev->repo : NULL);
    add_str(o, "event_id", ev ? ev->id : NULL);
    add_str(o, "build_id", ev ? ev->build_id : NULL);
    add_str(o, "url", ev ? ev->url : NULL);
    cJSON_AddNumberToObject(o, "event_ms",
                            (double)(ev && ev->event_ms ? ev->event_ms : r->t));
    int64_t first = a->kind == ALERT_ECOSYSTEM || a->kind == ALERT_ECO_RECOVERED
                        ? a->started_ms
                        : a->failing_since_ms;
    if (first > 0)
        cJSON_AddNumberToObject(o, "first_failure_ms", (double)first);
    else
        cJSON_AddNullToObject(o, "first_failure_ms");
    cJSON_AddNumberToObject(o, "sent_ms", (double)sent_ms);
    add_str(o, "slack_ts", ts);
    if (a->nmembers && (svcs = cJSON_AddArrayToObject(o, "services")))
        for (size_t i = 0; i < a->nmembers; i++)
            cJSON_AddItemToArray(svcs, cJSON_CreateString(a->members[i].service));
    out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return out;
}

char *render_summary(const struct rendered *r, const char *dest, const char *body,
                     bool with_body)
{
    const struct alert *a = &r->a;
    cJSON *o = cJSON_CreateObject(), *l, *b = body ? cJSON_Parse(body) : NULL;
    char *out = NULL;

    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "dest", dest);
    cJSON_AddStringToObject(o, "kind", r->kind);
    cJSON_AddStringToObject(o, "thread", r->thread);
    cJSON_AddStringToObject(o, "incident", r->inc);
    cJSON_AddStringToObject(o, "subject", r->has_ev ? r->ev.job : a->stage);
    cJSON_AddStringToObject(o, "service", a->service);
    cJSON_AddStringToObject(o, "stage", a->stage);
    add_str(o, "version", a->version);
    add_str(o, "url", r->has_ev ? r->ev.url : NULL);
    if ((l = cJSON_AddArrayToObject(o, "services")))
        for (size_t i = 0; i < a->nmembers; i++)
            cJSON_AddItemToArray(l, cJSON_CreateString(a->members[i].service));
    if ((l = cJSON_AddArrayToObject(o, "lines")))
        for (size_t i = 0; a->nmembers == 0 && i < a->nlines; i++)
            cJSON_AddItemToArray(l, cJSON_CreateString(a->lines[i]));
    cJSON_AddNumberToObject(o, "failures", (double)a->failures);
    cJSON_AddNumberToObject(o, "suppressed", (double)a->suppressed);
    if (a->passed_build)
        cJSON_AddStringToObject(o, "passed_again", a->passed_build);
    cJSON_AddStringToObject(o, "alert_id", r->id);
    add_str(o, "text", str(b, "text"));
    /* event time it was decided at, and of the failure it is about: the rules' delay */
    cJSON_AddNumberToObject(o, "decided_ms", (double)r->t);
    int64_t first = a->kind == ALERT_ECOSYSTEM || a->kind == ALERT_ECO_RECOVERED
                        ? a->started_ms
                    : r->has_ev ? r->ev.event_ms
                                : 0;
    cJSON_AddNumberToObject(o, "failed_ms", (double)first);
    if (with_body)
        add_str(o, "body", body);
    out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    cJSON_Delete(b);
    return out;
}
