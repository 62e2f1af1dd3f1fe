/* api.c -- herald-slackd's Slack: incoming webhooks, chat.postMessage, chat.update and
 * conversations.history as Slack answers them, and the messages they recorded. */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "log.h"
#include "slackd.h"
#include "util.h"

/* ---- recording --------------------------------------------------------------- */

/* A new message ts, strictly increasing ("1764064800.000100"). Caller holds mu. */
static void next_ts(struct slackd *sd, char *out, size_t size)
{
    int64_t us = util_now_ms() * 1000;

    if (us <= sd->last_ts_us)
        us = sd->last_ts_us + 1;
    sd->last_ts_us = us;
    snprintf(out, size, "%lld.%06lld", (long long)(us / 1000000),
             (long long)(us % 1000000));
}

/* Drop the oldest message. Caller holds mu and sd->cnt > 0. */
void ring_drop_oldest(struct slackd *sd)
{
    struct msg *m = &sd->ring[sd->head];

    sd->bytes -= m->len;
    free(m->channel);
    free(m->json);
    memset(m, 0, sizeof(*m));
    sd->head = (sd->head + 1) % SLACKD_MAX_MESSAGES;
    sd->cnt--;
    sd->dropped++;
}

/* Record an accepted message; takes ownership of payload. ts may be NULL (webhook).
 * Returns 0, or -1 if out of memory (nothing recorded). */
static int record_add(struct slackd *sd, const char *channel, const char *api,
                      int64_t received_ms, const char *ts, cJSON *payload)
{
    cJSON *o = cJSON_CreateObject();
    const cJSON *tts = cJSON_GetObjectItemCaseSensitive(payload, "thread_ts");
    struct msg m = {0};
    int ret = -1;

    pthread_mutex_lock(&sd->mu);
    if (o == NULL || !cJSON_AddNumberToObject(o, "seq", (double)(sd->seq + 1)) ||
        !cJSON_AddStringToObject(o, "channel", channel) ||
        !cJSON_AddStringToObject(o, "api", api) ||
        !cJSON_AddNumberToObject(o, "received_ms", (double)received_ms) ||
        (ts && !cJSON_AddStringToObject(o, "ts", ts)))
        goto out;
    if (tts && !cJSON_AddItemToObject(o, "thread_ts", cJSON_Duplicate(tts, 1)))
        goto out;
    if (!cJSON_AddItemToObject(o, "payload", payload))
        goto out;
    payload = NULL; /* owned by o */
    if ((m.json = cJSON_PrintUnformatted(o)) == NULL ||
        (m.channel = util_strdup0(channel)) == NULL)
        goto out;
    m.len = strlen(m.json);
    m.seq = ++sd->seq;
    while (sd->cnt > 0 && (sd->cnt == SLACKD_MAX_MESSAGES ||
                           sd->bytes + m.len > SLACKD_MAX_STORED_BYTES))
        ring_drop_oldest(sd);
    sd->ring[(sd->head + sd->cnt) % SLACKD_MAX_MESSAGES] = m;
    sd->cnt++;
    sd->bytes += m.len;
    sd->recorded++;
    if (sd->record &&
        (fprintf(sd->record, "%s\n", m.json) < 0 || fflush(sd->record) != 0) &&
        !sd->record_failed) {
        sd->record_failed = 1;
        log_warn("cannot append to the record file; messages stay in memory only");
    }
    memset(&m, 0, sizeof(m)); /* owned by the ring */
    ret = 0;
out:
    pthread_mutex_unlock(&sd->mu);
    free(m.channel);
    free(m.json);
    cJSON_Delete(o);
    cJSON_Delete(payload);
    return ret;
}

/* true if payload carries something to show: non-empty "text", or "blocks" or
 * "attachments" arrays. */
static int has_content(const cJSON *p)
{
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "text"));

    return (text && *text) ||
           cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(p, "blocks")) ||
           cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(p, "attachments"));
}

static cJSON *parse_body(const struct req *rq)
{
    cJSON *p = cJSON_ParseWithLength(rq->body.data ? rq->body.data : "", rq->body.len);

    if (p && !cJSON_IsObject(p)) {
        cJSON_Delete(p);
        p = NULL;
    }
    return p;
}

/* ---- Slack endpoints --------------------------------------------------------- */

/* POST /hooks/<channel>: an incoming webhook. */
void handle_webhook(struct slackd *sd, const struct req *rq, const char *channel,
                    struct answer *a)
{
    cJSON *p;

    if (fault_check(sd, channel, 0, a))
        return;
    if ((p = parse_body(rq)) == NULL || !has_content(p)) {
        cJSON_Delete(p);
        answer_text(a, MHD_HTTP_BAD_REQUEST, "invalid_payload");
        return;
    }
    if (record_add(sd, channel, "webhook", rq->received_ms, NULL, p) != 0)
        answer_text(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error");
    else
        answer_text(a, MHD_HTTP_OK, "ok");
}

/* true if the Authorization header is "Bearer <token>" (constant time on length). */
static int auth_ok(struct MHD_Connection *conn, const char *token)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    size_t tl = strlen(token);
    unsigned char diff = 0;

    if (h == NULL || strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) != tl)
        return 0;
    for (size_t i = 0; i < tl; i++)
        diff |= (unsigned char)(h[7 + i] ^ token[i]);
    return diff == 0;
}

/* POST /api/chat.postMessage: the Web API; errors are HTTP 200 {"ok":false,...}. */
void handle_webapi(struct slackd *sd, struct MHD_Connection *conn, const struct req *rq,
                   struct answer *a)
{
    static const char *const copy_keys[] = {"text", "blocks", "attachments", "thread_ts"};
    cJSON *p = parse_body(rq), *res = NULL, *m;
    const char *ch = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "channel"));
    char channel[SLACKD_MAX_CHANNEL + 1] = "";
    const char *err;
    char ts[32];

    if (ch && strlen(ch) <= SLACKD_MAX_CHANNEL)
        memcpy(channel, ch, strlen(ch) + 1);
    if (fault_check(sd, channel, 1, a))
        goto out;
    err = sd->conf->token && !auth_ok(conn, sd->conf->token) ? "invalid_auth"
          : p == NULL                                        ? "invalid_json"
          : channel[0] == '\0'                               ? "channel_not_found"
          : !has_content(p)                                  ? "no_text"
                                                             : NULL;
    if (err) {
        answer_error(a, MHD_HTTP_OK, err);
        goto out;
    }
    pthread_mutex_lock(&sd->mu);
    next_ts(sd, ts, sizeof(ts));
    pthread_mutex_unlock(&sd->mu);
    if ((res = cJSON_CreateObject()) == NULL || !cJSON_AddTrueToObject(res, "ok") ||
        !cJSON_AddStringToObject(res, "channel", channel) ||
        !cJSON_AddStringToObject(res, "ts", ts) ||
        (m = cJSON_AddObjectToObject(res, "message")) == NULL ||
        !cJSON_AddStringToObject(m, "type", "message") ||
        !cJSON_AddStringToObject(m, "bot_id", "B0HERALD") ||
        !cJSON_AddStringToObject(m, "ts", ts))
        goto oom;
    for (size_t i = 0; i < sizeof(copy_keys) / sizeof(copy_keys[0]); i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(p, copy_keys[i]);
        if (it && !cJSON_AddItemToObject(m, copy_keys[i], cJSON_Duplicate(it, 1)))
            goto oom;
    }
    if (record_add(sd, channel, "webapi", rq->received_ms, ts, p) != 0) {
        p = NULL; /* record_add took it */
        goto oom;
    }
    p = NULL;
    answer_json(a, MHD_HTTP_OK, res);
    goto out;
oom:
    answer_text(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error");
out:
    cJSON_Delete(res);
    cJSON_Delete(p);
}

/* One form field of an application/x-www-form-urlencoded body, decoded into out
 * (NUL-terminated, cut to size). Returns 1 if present. */
static int form_field(const char *body, size_t len, const char *name, char *out,
                      size_t size)
{
    size_t nl = strlen(name), o = 0;
    const char *p = body, *end = body + len;

    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *fe = amp ? amp : end;
        if ((size_t)(fe - p) > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            for (const char *q = p + nl + 1; q < fe && o + 1 < size; q++) {
                unsigned v;
                if (*q == '%' && fe - q >= 3 && sscanf(q + 1, "%2x", &v) == 1) {
                    out[o++] = (char)v;
                    q += 2;
                } else {
                    out[o++] = *q == '+' ? ' ' : *q;
                }
            }
            out[o] = '\0';
            return 1;
        }
        p = fe + 1;
    }
    return 0;
}

/* true if a message (api "webapi") was posted to channel with ts. Under sd->mu. */
static int posted(struct slackd *sd, const char *channel, const char *ts)
{
    char needle[96]; /* "ts":"<up to 63 bytes>" */

    snprintf(needle, sizeof(needle), "\"ts\":\"%s\"", ts);
    for (size_t i = 0; i < sd->cnt; i++) {
        const struct msg *m = &sd->ring[(sd->head + i) % SLACKD_MAX_MESSAGES];
        if (strcmp(m->channel, channel) == 0 && strstr(m->json, "\"api\":\"webapi\"") &&
            strstr(m->json, needle))
            return 1;
    }
    return 0;
}

/* POST /api/chat.update: edit a message the Web API posted (recorded as api
 * "webapi-update" with the edited message's ts). */
void handle_update(struct slackd *sd, struct MHD_Connection *conn, const struct req *rq,
                   struct answer *a)
{
    cJSON *p = parse_body(rq), *res = NULL;
    const char *ch = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "channel"));
    const char *ts = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "ts"));
    char channel[SLACKD_MAX_CHANNEL + 1] = "", tsb[64] = "";
    const char *err;
    int found;

    if (ch && strlen(ch) <= SLACKD_MAX_CHANNEL)
        memcpy(channel, ch, strlen(ch) + 1);
    if (ts && strlen(ts) < sizeof(tsb))
        memcpy(tsb, ts, strlen(ts) + 1);
    if (fault_check(sd, channel, 1, a))
        goto out;
    pthread_mutex_lock(&sd->mu);
    found = tsb[0] && posted(sd, channel, tsb);
    pthread_mutex_unlock(&sd->mu);
    err = sd->conf->token && !auth_ok(conn, sd->conf->token) ? "invalid_auth"
          : p == NULL                                        ? "invalid_json"
          : channel[0] == '\0'                               ? "channel_not_found"
          : !found                                           ? "message_not_found"
          : !has_content(p)                                  ? "no_text"
                                                             : NULL;
    if (err) {
        answer_error(a, MHD_HTTP_OK, err);
        goto out;
    }
    if (record_add(sd, channel, "webapi-update", rq->received_ms, tsb, p) != 0) {
        p = NULL;
        answer_text(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error");
        goto out;
    }
    p = NULL;
    if ((res = cJSON_CreateObject()) && cJSON_AddTrueToObject(res, "ok") &&
        cJSON_AddStringToObject(res, "channel", channel) &&
        cJSON_AddStringToObject(res, "ts", tsb))
        answer_json(a, MHD_HTTP_OK, res);
    else
        answer_text(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error");
out:
    cJSON_Delete(res);
    cJSON_Delete(p);
}

/* POST /api/conversations.history (form body: channel, limit): the messages the Web
 * API posted to channel, newest first, with their metadata. */
void handle_history(struct slackd *sd, struct MHD_Connection *conn, const struct req *rq,
                    struct answer *a)
{
    char channel[SLACKD_MAX_CHANNEL + 1] = "", lim[16] = "";
    const char *body = rq->body.data ? rq->body.data : "";
    cJSON *res = NULL, *list;
    long long limit = 100;

    form_field(body, rq->body.len, "channel", channel, sizeof(channel));
    if (form_field(body, rq->body.len, "limit", lim, sizeof(lim)) &&
        util_parse_int(lim, 1, 1000, &limit) != 0)
        limit = 100;
    if (fault_check(sd, channel, 1, a))
        return;
    if (sd->conf->token && !auth_ok(conn, sd->conf->token)) {
        answer_error(a, MHD_HTTP_OK, "invalid_auth");
        return;
    }
    if (!(res = cJSON_CreateObject()) || !cJSON_AddTrueToObject(res, "ok") ||
        !(list = cJSON_AddArrayToObject(res, "messages"))) {
        cJSON_Delete(res);
        answer_text(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error");
        return;
    }
    pthread_mutex_lock(&sd->mu);
    for (size_t i = sd->cnt; i-- > 0 && cJSON_GetArraySize(list) < limit;) {
        const struct msg *m = &sd->ring[(sd->head + i) % SLACKD_MAX_MESSAGES];
        if (strcmp(m->channel, channel) != 0 || !strstr(m->json, "\"api\":\"webapi\""))
            continue;
        cJSON *rec = cJSON_Parse(m->json), *out = cJSON_CreateObject();
        const cJSON *pl = cJSON_GetObjectItemCaseSensitive(rec, "payload");
        cJSON_AddStringToObject(out, "type", "message");
        cJSON_AddItemToObject(
            out, "ts", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(rec, "ts"), 1));
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(pl, "metadata");
        if (md)
            cJSON_AddItemToObject(out, "metadata", cJSON_Duplicate(md, 1));
        cJSON_AddItemToArray(list, out);
        cJSON_Delete(rec);
    }
    pthread_mutex_unlock(&sd->mu);
    answer_json(a, MHD_HTTP_OK, res);
    cJSON_Delete(res);
}

/* ---- the recorded messages --------------------------------------------------- */

/* GET /_control/messages[?channel=X][&since=SEQ] */
void control_messages(struct slackd *sd, struct MHD_Connection *conn, struct answer *a)
{
    const char *ch = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "channel");
    const char *since_s =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
    struct buf b;
    long long since = 0;
    int first = 1, err = 0;

    if (since_s && util_parse_int(since_s, 0, LLONG_MAX, &since) != 0) {
        answer_error(a, MHD_HTTP_BAD_REQUEST, "bad 'since': want a sequence number");
        return;
    }
    buf_init(&b, (size_t)SLACKD_MAX_STORED_BYTES + SLACKD_MAX_MESSAGES + 2);
    pthread_mutex_lock(&sd->mu);
    err |= buf_puts(&b, "[");
    for (size_t i = 0; i < sd->cnt && !err; i++) {
        const struct msg *m = &sd->ring[(sd->head + i) % SLACKD_MAX_MESSAGES];
        if ((ch && strcmp(ch, m->channel) != 0) || m->seq <= (uint64_t)since)
            continue;
        if ((!first && buf_puts(&b, ",") != 0) || buf_append(&b, m->json, m->len) != 0)
            err = 1;
        first = 0;
    }
    err |= buf_puts(&b, "]");
    pthread_mutex_unlock(&sd->mu);
    if (err) {
        buf_release(&b);
        answer_error(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        return;
    }
    free(a->body);
    a->status = MHD_HTTP_OK;
    a->json = 1;
    a->body = buf_detach(&b, NULL);
}

/* GET /_control/stats */
