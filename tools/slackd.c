/* slackd.c -- herald-slackd: a Slack-compatible HTTP receiver for the demo and the
 * end-to-end tests.
 *
 * It answers Slack's incoming webhooks (POST /hooks/<channel>) and the Web API's
 * chat.postMessage, chat.update and conversations.history the way Slack does, records
 * every accepted message in memory (and optionally as NDJSON in a file), and lets a
 * test inject faults (rate limits, errors, slow answers) through /_control/. Loopback
 * only; nothing here is a real Slack.
 *
 *   herald-slackd [--listen 127.0.0.1:PORT] [--token TOKEN] [--record FILE]
 *                 [--max-body BYTES]
 *
 * stdout carries exactly "LISTEN=127.0.0.1:<port>"; logs go to stderr. Exit 0 on
 * SIGTERM/SIGINT, 2 on a usage error, 1 on a startup failure.
 *
 * Threads: MHD runs one thread per connection; all shared state lives in struct
 * slackd under its mutex.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "log.h"
#include "util.h"
#include "version.h"

#define SLACKD_MAX_MESSAGES 100000
#define SLACKD_MAX_STORED_BYTES (256u * 1024 * 1024) /* recorded JSON, all messages */
#define SLACKD_MAX_BODY_LIMIT (64L * 1024 * 1024)    /* highest --max-body */
#define SLACKD_MAX_RULES 1024
#define SLACKD_MAX_CHANNEL 200 /* bytes */
#define SLACKD_MAX_ERROR 63    /* bytes of a fault's error code */
#define SLACKD_MAX_TOKEN 512   /* bytes */
#define SLACKD_MAX_DELAY_MS 600000
#define SLACKD_MAX_COUNT 1000000

/* The configuration, immutable after parse_args(). Strings borrowed from argv. */
struct slackd_conf {
    uint16_t port;      /* 0 = pick a free one */
    const char *token;  /* NULL = no auth check */
    const char *record; /* NDJSON file or NULL */
    size_t max_body;    /* bytes */
    bool any_addr;      /* --listen 0.0.0.0:PORT (needs --allow-remote) */
    bool allow_remote;  /* containers: the compose stack's slack-sim profile */
};

struct fault_rule {
    char channel[SLACKD_MAX_CHANNEL + 1]; /* glob; "*" = any */
    char error[SLACKD_MAX_ERROR + 1];
    long status;      /* 200 = success (after delay_ms) */
    long retry_after; /* s, for 429 */
    long count;       /* requests left */
    long delay_ms;
};

struct msg {
    uint64_t seq;
    char *channel; /* owned */
    char *json;    /* owned; the record object, one line */
    size_t len;
};

/* Shared state; every member below `mu` is guarded by it. */
struct slackd {
    const struct slackd_conf *conf;
    pthread_mutex_t mu;
    struct fault_rule rules[SLACKD_MAX_RULES];
    int rule_cnt;
    struct msg *ring; /* SLACKD_MAX_MESSAGES slots */
    size_t head, cnt; /* oldest slot, messages held */
    size_t bytes;     /* sum of msg.len */
    uint64_t seq;
    int64_t last_ts_us;
    uint64_t requests, recorded, faulted, dropped;
    uint64_t by_status[600];
    FILE *record;
    int record_failed; /* bool: warned once already */
};

/* One HTTP request in flight. */
struct req {
    struct buf body;
    int too_large; /* bool */
    int oom;       /* bool */
    int64_t received_ms;
};

/* A reply being built: status, body (owned, malloc'd) and extras. */
struct answer {
    unsigned status;
    int json; /* bool: application/json, else text/plain */
    char *body;
    int retry_after; /* s; < 0 = no header */
    int faulted;     /* bool */
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* ---- answers ----------------------------------------------------------------- */

static void answer_text(struct answer *a, unsigned status, const char *text)
{
    free(a->body);
    a->status = status;
    a->json = 0;
    a->body = util_strdup0(text);
}

/* Print obj (borrowed) as the body. cJSON allocates with malloc (default hooks). */
static void answer_json(struct answer *a, unsigned status, const cJSON *obj)
{
    free(a->body);
    a->status = status;
    a->json = 1;
    a->body = cJSON_PrintUnformatted(obj);
}

/* {"ok":false,"error":err} with the given HTTP status; {"ok":true} if err is NULL. */
static void answer_error(struct answer *a, unsigned status, const char *err)
{
    cJSON *o = cJSON_CreateObject();

    if (o && cJSON_AddBoolToObject(o, "ok", err == NULL) &&
        (err == NULL || cJSON_AddStringToObject(o, "error", err)))
        answer_json(a, status, o);
    else
        answer_text(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    cJSON_Delete(o);
}

/* Queue a (takes ownership of a->body). MHD_NO if the body could not be built. */
static enum MHD_Result send_answer(struct MHD_Connection *conn, struct answer *a)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    char ra[16];

    if (a->body == NULL)
        return MHD_NO;
    r = MHD_create_response_from_buffer(strlen(a->body), a->body, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(a->body);
        a->body = NULL;
        return MHD_NO;
    }
    a->body = NULL;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            a->json ? "application/json; charset=utf-8"
                                    : "text/plain; charset=utf-8");
    if (a->retry_after >= 0) {
        snprintf(ra, sizeof(ra), "%d", a->retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    ret = MHD_queue_response(conn, a->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- faults ------------------------------------------------------------------ */

/* Consume one count of the first fault rule matching channel (removing the rule when
 * used up), wait out its delay, and answer per the rule. Returns 1 if a now holds the
 * faulted answer, 0 if the request should go on normally (no rule, or status 200). */
static int fault_check(struct slackd *sd, const char *channel, int webapi,
                       struct answer *a)
{
    struct fault_rule f = {.status = 0};

    pthread_mutex_lock(&sd->mu);
    for (int i = 0; i < sd->rule_cnt; i++) {
        struct fault_rule *r = &sd->rules[i];
        if (!util_glob_match(r->channel, channel))
            continue;
        f = *r;
        if (--r->count == 0) {
            sd->rule_cnt--;
            memmove(r, r + 1, (size_t)(sd->rule_cnt - i) * sizeof(*r));
        }
        break;
    }
    pthread_mutex_unlock(&sd->mu);
    if (f.status == 0)
        return 0;
    if (f.delay_ms > 0)
        util_sleep_ms(f.delay_ms, &g_stop);
    if (f.status == MHD_HTTP_OK)
        return 0;
    a->faulted = 1;
    if (f.status == MHD_HTTP_TOO_MANY_REQUESTS) {
        if (webapi)
            answer_error(a, MHD_HTTP_TOO_MANY_REQUESTS, "ratelimited");
        else
            answer_text(a, MHD_HTTP_TOO_MANY_REQUESTS, "rate_limited");
        a->retry_after = (int)f.retry_after;
    } else if (webapi && f.status < 500) {
        answer_error(a, MHD_HTTP_OK, f.error);
    } else {
        answer_text(a, (unsigned)f.status, f.error);
    }
    return 1;
}

/* Fill r from one rule object; unknown keys are errors. 0, or -1 with eb set. */
static int fault_parse(const cJSON *o, struct fault_rule *r, char *eb, size_t ebsz)
{
    static const struct {
        const char *key;
        long min, max;
    } nums[] = {
        {"status", 200, 599},
        {"retry_after", 0, 3600},
        {"count", 1, SLACKD_MAX_COUNT},
        {"delay_ms", 0, SLACKD_MAX_DELAY_MS},
    };
    long *const dsts[] = {&r->status, &r->retry_after, &r->count, &r->delay_ms};
    const cJSON *it;

    if (!cJSON_IsObject(o)) {
        snprintf(eb, ebsz, "a rule must be a JSON object");
        return -1;
    }
    memset(r, 0, sizeof(*r));
    r->channel[0] = '*';
    r->status = -1;
    r->retry_after = 1;
    r->count = 1;
    cJSON_ArrayForEach(it, o)
    {
        const char *k = it->string, *s = cJSON_GetStringValue(it);
        char *dst = strcmp(k, "channel") == 0 ? r->channel
                    : strcmp(k, "error") == 0 ? r->error
                                              : NULL;
        size_t i, max = dst == r->channel ? SLACKD_MAX_CHANNEL : SLACKD_MAX_ERROR;

        if (dst) {
            if (s == NULL || *s == '\0' || strlen(s) > max) {
                snprintf(eb, ebsz, "'%s' must be a string of 1..%zu bytes", k, max);
                return -1;
            }
            memcpy(dst, s, strlen(s) + 1);
            continue;
        }
        for (i = 0; i < sizeof(nums) / sizeof(nums[0]) && strcmp(k, nums[i].key); i++)
            ;
        if (i == sizeof(nums) / sizeof(nums[0])) {
            snprintf(eb, ebsz, "unknown key '%.64s'", k);
            return -1;
        }
        /* an integer-valued number in range; 201..399 are no Slack answer */
        if (!cJSON_IsNumber(it) || it->valuedouble != (double)(long)it->valuedouble ||
            it->valuedouble < nums[i].min || it->valuedouble > nums[i].max ||
            (i == 0 && it->valuedouble > 200 && it->valuedouble < 400)) {
            snprintf(eb, ebsz, "'%s' must be an integer %ld..%ld%s", k, nums[i].min,
                     nums[i].max, i == 0 ? " (200 or 4xx/5xx)" : "");
            return -1;
        }
        *dsts[i] = (long)it->valuedouble;
    }
    if (r->status < 0)
        r->status = r->delay_ms > 0 ? 200 : 500;
    if (r->error[0] == '\0') {
        const char *e = r->status >= 500   ? "internal_error"
                        : r->status == 403 ? "action_prohibited"
                        : r->status == 404 ? "channel_not_found"
                        : r->status == 410 ? "channel_is_archived"
                                           : "invalid_payload";
        memcpy(r->error, e, strlen(e) + 1);
    }
    return 0;
}

/* POST /_control/faults: a rule object or an array of them, appended atomically. */
static void control_faults_add(struct slackd *sd, const struct req *rq, struct answer *a)
{
    struct fault_rule *add = NULL;
    cJSON *root = cJSON_ParseWithLength(rq->body.data ? rq->body.data : "", rq->body.len);
    cJSON *res = NULL;
    char eb[160];
    int n = 0, total;

    if (root == NULL) {
        answer_error(a, MHD_HTTP_BAD_REQUEST, "body is not JSON");
        goto out;
    }
    total = cJSON_IsArray(root) ? cJSON_GetArraySize(root) : 1;
    if (total < 1 || total > SLACKD_MAX_RULES ||
        (add = calloc((size_t)total, sizeof(*add))) == NULL) {
        answer_error(a, MHD_HTTP_BAD_REQUEST, "want 1..1024 rules");
        goto out;
    }
    for (n = 0; n < total; n++)
        if (fault_parse(cJSON_IsArray(root) ? cJSON_GetArrayItem(root, n) : root, &add[n],
                        eb, sizeof(eb)) != 0) {
            answer_error(a, MHD_HTTP_BAD_REQUEST, eb);
            goto out;
        }
    pthread_mutex_lock(&sd->mu);
    if (sd->rule_cnt + total > SLACKD_MAX_RULES) {
        pthread_mutex_unlock(&sd->mu);
        answer_error(a, MHD_HTTP_BAD_REQUEST, "too many fault rules (max 1024)");
        goto out;
    }
    memcpy(&sd->rules[sd->rule_cnt], add, (size_t)total * sizeof(*add));
    sd->rule_cnt += total;
    total = sd->rule_cnt;
    pthread_mutex_unlock(&sd->mu);
    if ((res = cJSON_CreateObject()) && cJSON_AddTrueToObject(res, "ok") &&
        cJSON_AddNumberToObject(res, "rules", total))
        answer_json(a, MHD_HTTP_OK, res);
out:
    cJSON_Delete(res);
    cJSON_Delete(root);
    free(add);
}

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
static void ring_drop_oldest(struct slackd *sd)
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
static void handle_webhook(struct slackd *sd, const struct req *rq, const char *channel,
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
static void handle_webapi(struct slackd *sd, struct MHD_Connection *conn,
                          const struct req *rq, struct answer *a)
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
    char needle[64];

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
static void handle_update(struct slackd *sd, struct MHD_Connection *conn,
                          const struct req *rq, struct answer *a)
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
static void handle_history(struct slackd *sd, struct MHD_Connection *conn,
                           const struct req *rq, struct answer *a)
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

/* ---- control endpoints ------------------------------------------------------- */

/* GET /_control/messages[?channel=X][&since=SEQ] */
static void control_messages(struct slackd *sd, struct MHD_Connection *conn,
                             struct answer *a)
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
static void control_stats(struct slackd *sd, struct answer *a)
{
    cJSON *o = cJSON_CreateObject(), *bs;
    char key[16];
    int ok;

    pthread_mutex_lock(&sd->mu);
    ok = o && cJSON_AddNumberToObject(o, "requests", (double)sd->requests) &&
         cJSON_AddNumberToObject(o, "recorded", (double)sd->recorded) &&
         cJSON_AddNumberToObject(o, "faulted", (double)sd->faulted) &&
         cJSON_AddNumberToObject(o, "dropped", (double)sd->dropped) &&
         cJSON_AddNumberToObject(o, "stored", (double)sd->cnt) &&
         cJSON_AddNumberToObject(o, "fault_rules", sd->rule_cnt) &&
         (bs = cJSON_AddObjectToObject(o, "by_status")) != NULL;
    for (int s = 100; ok && s < 600; s++) {
        if (sd->by_status[s] == 0)
            continue;
        snprintf(key, sizeof(key), "%d", s);
        ok = cJSON_AddNumberToObject(bs, key, (double)sd->by_status[s]) != NULL;
    }
    pthread_mutex_unlock(&sd->mu);
    if (ok)
        answer_json(a, MHD_HTTP_OK, o);
    else
        answer_text(a, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    cJSON_Delete(o);
}

/* DELETE /_control/messages (which=0) or /_control/faults (which=1). */
static void control_clear(struct slackd *sd, int which, struct answer *a)
{
    pthread_mutex_lock(&sd->mu);
    if (which == 0) {
        uint64_t dropped = sd->dropped;
        while (sd->cnt > 0)
            ring_drop_oldest(sd);
        sd->dropped = dropped; /* a clear is not a drop */
    } else {
        sd->rule_cnt = 0;
    }
    pthread_mutex_unlock(&sd->mu);
    answer_error(a, MHD_HTTP_OK, NULL);
}

/* Route one complete request; the Slack endpoints are counted in the stats. */
static enum MHD_Result route(struct slackd *sd, struct MHD_Connection *conn,
                             struct req *rq, const char *url, const char *method)
{
    struct answer a = {.status = 0, .retry_after = -1};
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    int del = strcmp(method, "DELETE") == 0;
    int hook = strncmp(url, "/hooks/", 7) == 0;
    int api = strcmp(url, "/api/chat.postMessage") == 0 ||
              strcmp(url, "/api/chat.update") == 0 ||
              strcmp(url, "/api/conversations.history") == 0;

    if (strcmp(url, "/_control/messages") == 0 && (get || del)) {
        if (get)
            control_messages(sd, conn, &a);
        else
            control_clear(sd, 0, &a);
    } else if (strcmp(url, "/_control/faults") == 0 && (post || del)) {
        if (del)
            control_clear(sd, 1, &a);
        else if (rq->too_large || rq->oom)
            answer_error(&a, MHD_HTTP_CONTENT_TOO_LARGE, "request_too_large");
        else
            control_faults_add(sd, rq, &a);
    } else if (strcmp(url, "/_control/stats") == 0 && get) {
        control_stats(sd, &a);
    } else if (strncmp(url, "/_control/", 10) == 0) {
        int known = strcmp(url + 10, "messages") == 0 ||
                    strcmp(url + 10, "faults") == 0 || strcmp(url + 10, "stats") == 0;
        answer_error(&a, known ? MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND,
                     known ? "method_not_allowed" : "not_found");
    } else if (!hook && !api) {
        answer_text(&a, MHD_HTTP_NOT_FOUND, "not_found");
    }
    if (a.status != 0)
        return send_answer(conn, &a);

    if (!post)
        answer_text(&a, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed");
    else if (rq->too_large)
        answer_text(&a, MHD_HTTP_CONTENT_TOO_LARGE, "request_too_large");
    else if (rq->oom)
        answer_text(&a, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal_error");
    else if (hook && (url[7] == '\0' || strlen(url + 7) > SLACKD_MAX_CHANNEL))
        answer_text(&a, MHD_HTTP_NOT_FOUND, "no_service");
    else if (hook)
        handle_webhook(sd, rq, url + 7, &a);
    else if (strcmp(url, "/api/chat.update") == 0)
        handle_update(sd, conn, rq, &a);
    else if (strcmp(url, "/api/conversations.history") == 0)
        handle_history(sd, conn, rq, &a);
    else
        handle_webapi(sd, conn, rq, &a);
    pthread_mutex_lock(&sd->mu);
    sd->requests++;
    sd->faulted += a.faulted != 0;
    if (a.status >= 100 && a.status < 600)
        sd->by_status[a.status]++;
    pthread_mutex_unlock(&sd->mu);
    return send_answer(conn, &a);
}

/* MHD access handler: collect the body (bounded by --max-body), then route. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct slackd *sd = cls;
    struct req *rq = *con_cls;

    (void)version;
    if (rq == NULL) {
        if ((rq = calloc(1, sizeof(*rq))) == NULL)
            return MHD_NO;
        buf_init(&rq->body, sd->conf->max_body);
        rq->received_ms = util_now_ms();
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        if (rq->too_large || rq->oom)
            ; /* keep discarding */
        else if (*upload_data_size > sd->conf->max_body - rq->body.len)
            rq->too_large = 1;
        else if (buf_append(&rq->body, upload_data, *upload_data_size) != 0)
            rq->oom = 1;
        *upload_data_size = 0;
        return MHD_YES;
    }
    return route(sd, conn, rq, url, method);
}

/* MHD completion callback: free the request. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct req *rq = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (rq) {
        buf_release(&rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

/* ---- main -------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out, "usage: herald-slackd [--listen 127.0.0.1:PORT] [--token TOKEN]\n"
                 "                     [--record FILE] [--max-body BYTES]\n"
                 "                     [--allow-remote --listen 0.0.0.0:PORT]\n"
                 "       herald-slackd --help | --version\n"
                 "\n"
                 "A Slack-compatible receiver for tests: POST /hooks/<channel>,\n"
                 "POST /api/chat.postMessage, chat.update, conversations.history;\n"
                 "/_control/{messages,faults,stats}.\n"
                 "Loopback only unless --allow-remote (containers). Prints\n"
                 "LISTEN=<addr>:<port> on stdout.\n");
}

/* Fill conf from argv. Returns 0, 1 for --help, 2 for --version, or -1 after printing
 * the error. */
static int parse_args(int argc, char **argv, struct slackd_conf *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->max_body = 1024 * 1024;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char *colon = v ? strrchr(v, ':') : NULL;
        long long n;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            return 1;
        if (strcmp(a, "--version") == 0)
            return 2;
        if (strcmp(a, "--allow-remote") == 0) {
            conf->allow_remote = true;
            i--; /* a flag without a value */
            continue;
        }
        if (strcmp(a, "--listen") != 0 && strcmp(a, "--token") != 0 &&
            strcmp(a, "--record") != 0 && strcmp(a, "--max-body") != 0) {
            fprintf(stderr, "herald-slackd: unknown argument '%s'\n", a);
            return -1;
        }
        if (v == NULL || *v == '\0') {
            fprintf(stderr, "herald-slackd: %s needs a non-empty value\n", a);
            return -1;
        }
        if (strcmp(a, "--listen") == 0) {
            conf->any_addr = colon && colon - v == 7 && strncmp(v, "0.0.0.0", 7) == 0;
            if (colon == NULL ||
                (!conf->any_addr &&
                 (colon - v != 9 || strncmp(v, "127.0.0.1", 9) != 0)) ||
                util_parse_int(colon + 1, 0, 65535, &n) != 0) {
                fprintf(stderr,
                        "herald-slackd: --listen '%s': want 127.0.0.1:PORT (loopback "
                        "only, port 0..65535)\n",
                        v);
                return -1;
            }
            conf->port = (uint16_t)n;
        } else if (strcmp(a, "--token") == 0) {
            if (strlen(v) > SLACKD_MAX_TOKEN) {
                fprintf(stderr, "herald-slackd: --token longer than %d bytes\n",
                        SLACKD_MAX_TOKEN);
                return -1;
            }
            conf->token = v;
        } else if (strcmp(a, "--record") == 0) {
            conf->record = v;
        } else if (util_parse_int(v, 1, SLACKD_MAX_BODY_LIMIT, &n) != 0) {
            fprintf(stderr, "herald-slackd: --max-body '%s': want 1..%ld bytes\n", v,
                    SLACKD_MAX_BODY_LIMIT);
            return -1;
        } else {
            conf->max_body = (size_t)n;
        }
    }
    if (conf->any_addr && !conf->allow_remote) {
        fprintf(stderr, "herald-slackd: --listen 0.0.0.0 needs --allow-remote (this is a "
                        "test double; it records everything it is sent)\n");
        return -1;
    }
    return 0;
}

/* Start MHD on 127.0.0.1:port, one thread per connection; sets *bound. NULL on error. */
static struct MHD_Daemon *http_start(struct slackd *sd, uint16_t port, uint16_t *bound)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    const union MHD_DaemonInfo *info;
    struct MHD_Daemon *d;

    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(sd->conf->any_addr ? INADDR_ANY : INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_ERROR_LOG,
                         port, NULL, NULL, on_request, sd, MHD_OPTION_SOCK_ADDR, &sin,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, sd,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
    if (d && ((info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)) == NULL ||
              info->port == 0)) {
        MHD_stop_daemon(d);
        d = NULL;
    }
    if (d)
        *bound = info->port;
    return d;
}

int main(int argc, char **argv)
{
    static struct slackd_conf conf;
    static struct slackd sd;
    sigset_t old;
    struct MHD_Daemon *d = NULL;
    char eb[128];
    uint16_t port = 0;
    int rc, ret = 1;

    if ((rc = parse_args(argc, argv, &conf)) == 2) {
        version_print(stdout, "herald-slackd");
        return 0;
    }
    if (rc != 0) {
        if (rc > 0)
            usage(stdout);
        else
            fputs("herald-slackd: try --help\n", stderr);
        return rc > 0 ? 0 : 2;
    }
    log_init("herald-slackd", LOG_INFO, LOG_TEXT);

    /* Block the stop signals in every thread (MHD's inherit the mask); main takes
     * them in sigsuspend(), so the flag cannot be missed. */
    util_stop_signals(on_signal, &old);

    sd.conf = &conf;
    pthread_mutex_init(&sd.mu, NULL); /* default attributes: cannot fail on Linux */
    if ((sd.ring = calloc(SLACKD_MAX_MESSAGES, sizeof(*sd.ring))) == NULL) {
        log_error("out of memory");
        goto out;
    }
    if (conf.record && (sd.record = fopen(conf.record, "a")) == NULL) {
        log_error("--record %s: %s", conf.record, util_strerror(errno, eb, sizeof(eb)));
        goto out;
    }
    if ((d = http_start(&sd, conf.port, &port)) == NULL) {
        log_error("could not listen on 127.0.0.1:%u", (unsigned)conf.port);
        goto out;
    }
    printf("LISTEN=%s:%u\n", conf.any_addr ? "0.0.0.0" : "127.0.0.1", (unsigned)port);
    if (fflush(stdout) != 0) {
        log_error("cannot write to stdout");
        goto out;
    }
    log_info("Slack-compatible receiver on 127.0.0.1:%u (test double, not Slack)%s",
             (unsigned)port, conf.token ? ", Web API token required" : "");

    while (!g_stop)
        sigsuspend(&old);
    log_info("stopping: %llu request(s), %llu message(s) recorded",
             (unsigned long long)sd.requests, (unsigned long long)sd.recorded);
    ret = 0;
out:
    g_stop = 1; /* wakes delayed answers */
    if (d)
        MHD_stop_daemon(d);
    while (sd.ring && sd.cnt > 0)
        ring_drop_oldest(&sd);
    free(sd.ring);
    if (sd.record && fclose(sd.record) != 0)
        log_warn("closing the record file failed");
    pthread_mutex_destroy(&sd.mu);
    return ret;
}
