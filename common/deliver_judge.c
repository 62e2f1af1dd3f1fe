/* deliver_judge.c -- see deliver.h: what Slack's answer to an attempt means: OK, a
 * permanent refusal or worth a retry, and the reason in a word (curl's errors,
 * webhook answers, the Web API's {"ok":false,"error":...}, Retry-After). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "deliver.h"
#include "deliver_int.h"

#define DELIVER_TOKEN_MAX 64 /* longest error word copied into a reason */

int64_t deliver_parse_retry_after(const char *value)
{
    const char *p = value;
    int64_t secs = 0;
    int digits = 0;

    if (!p)
        return -1;
    while (*p == ' ' || *p == '\t')
        p++;
    for (; isdigit((unsigned char)*p); p++) {
        if (++digits > 9) /* over 30 years: not a delay */
            return -1;
        secs = secs * 10 + (*p - '0');
    }
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    if (digits == 0 || *p)
        return -1;
    return secs * 1000;
}

/* Fixed words for curl's errors: curl's own messages may name the host. */
static const char *curl_reason(CURLcode cc, bool *permanent)
{
    *permanent = false;
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_COULDNT_CONNECT:
        return "connect_failed";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return "resolve_failed";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
        return "tls_error";
    case CURLE_SEND_ERROR:
        return "send_failed";
    case CURLE_RECV_ERROR:
        return "recv_failed";
    case CURLE_GOT_NOTHING:
        return "empty_reply";
    case CURLE_PARTIAL_FILE:
        return "partial_reply";
    case CURLE_OUT_OF_MEMORY:
        return "out_of_memory";
    case CURLE_UNSUPPORTED_PROTOCOL:
        *permanent = true;
        return "unsupported_protocol";
    case CURLE_URL_MALFORMAT:
        *permanent = true;
        return "bad_url";
    default:
        return "network_error";
    }
}

/* Copy s[0..len) trimmed into out if it is one short word of [A-Za-z0-9_.-] (what
 * Slack answers: "invalid_payload"); returns false otherwise. */
static bool reason_token(const char *s, size_t len, char *out, size_t size)
{
    while (len && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    if (len == 0 || len > DELIVER_TOKEN_MAX || len >= size)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
            return false;
    memcpy(out, s, len);
    out[len] = '\0';
    return true;
}

/* The body of an answer; never NULL. */
static const char *resp_body(const struct xfer *x)
{
    return x->resp.data ? x->resp.data : "";
}

/* Judge a Web API answer that is neither 429 nor 5xx: {"ok":true,"ts":...} or
 * {"ok":false,"error":...}. */
static enum verdict judge_webapi(struct xfer *x, long code, bool *ratelimited)
{
    static const char *const transient[] = {"internal_error", "fatal_error",
                                            "service_unavailable", "request_timeout"};
    struct delivery *it = x->it;
    cJSON *root = cJSON_ParseWithLength(resp_body(x), x->resp.len);
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(root, "ok");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(root, "ts");
    enum verdict v;

    *ratelimited = false;
    if (cJSON_IsTrue(ok) && code >= 200 && code < 300) {
        if (cJSON_IsString(ts) && strlen(ts->valuestring) < sizeof(it->ts))
            snprintf(it->ts, sizeof(it->ts), "%s", ts->valuestring);
        v = V_OK;
    } else if (cJSON_IsFalse(ok)) {
        if (!cJSON_IsString(err) ||
            !reason_token(err->valuestring, strlen(err->valuestring), it->reason,
                          sizeof(it->reason)))
            snprintf(it->reason, sizeof(it->reason), "api_error");
        v = V_PERMANENT;
        if (strcmp(it->reason, "ratelimited") == 0 ||
            strcmp(it->reason, "rate_limited") == 0) {
            *ratelimited = true;
            v = V_RETRY;
        }
        for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
            if (strcmp(it->reason, transient[i]) == 0)
                v = V_RETRY;
    } else if (code >= 200 && code < 300) {
        snprintf(it->reason, sizeof(it->reason), "bad_response");
        v = V_RETRY;
    } else {
        snprintf(it->reason, sizeof(it->reason), "http_%ld", code);
        v = V_PERMANENT;
    }
    cJSON_Delete(root);
    return v;
}

/* The verdict on an attempt that ended with cc and, if cc is CURLE_OK, HTTP status
 * code: sets x->it->reason and *ratelimited. */
enum verdict deliver_judge(struct xfer *x, CURLcode cc, long code, bool *ratelimited)
{
    struct delivery *it = x->it;
    enum verdict v;
    bool perm;

    *ratelimited = false;
    if (cc != CURLE_OK) {
        snprintf(it->reason, sizeof(it->reason), "%s", curl_reason(cc, &perm));
        v = perm ? V_PERMANENT : V_RETRY;
    } else if (code == 429) {
        snprintf(it->reason, sizeof(it->reason), "ratelimited");
        *ratelimited = true;
        v = V_RETRY;
    } else if (code >= 500) {
        snprintf(it->reason, sizeof(it->reason), "http_%ld", code);
        v = V_RETRY;
    } else if (it->rcv->type == RECEIVER_WEBAPI) {
        v = judge_webapi(x, code, ratelimited);
    } else if (code >= 200 && code < 300) {
        v = V_OK;
    } else {
        if (!reason_token(resp_body(x), x->resp.len, it->reason, sizeof(it->reason)))
            snprintf(it->reason, sizeof(it->reason), "http_%ld", code);
        v = V_PERMANENT;
    }
    return v;
}
