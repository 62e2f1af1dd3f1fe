/* faults.c -- herald-slackd's fault injection: the rules a test posts to
 * /_control/faults (rate limits, errors, slow answers) and their use on a request. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "slackd.h"
#include "util.h"

/* Consume one count of the first fault rule matching channel (removing the rule when
 * used up), wait out its delay, and answer per the rule. Returns 1 if a now holds the
 * faulted answer, 0 if the request should go on normally (no rule, or status 200). */
int fault_check(struct slackd *sd, const char *channel, int webapi, struct answer *a)
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
void control_faults_add(struct slackd *sd, const struct req *rq, struct answer *a)
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
