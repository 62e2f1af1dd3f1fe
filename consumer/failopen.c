/* failopen.c -- see failopen.h. */
#include "failopen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "classify.h"
#include "dests.h"
#include "log.h"
#include "slack.h"

size_t failopen_send(const struct config *cfg, struct deliverer *d, struct metrics *m,
                     const struct batch *b)
{
    struct delivery *dl = calloc(b->nev * DESTS_MAX + 1, sizeof(*dl));
    struct receiver *to = calloc(b->nev * DESTS_MAX + 1, sizeof(*to));
    char(*chan)[DESTS_MAX_LEN] = calloc(b->nev * DESTS_MAX + 1, sizeof(*chan));
    size_t k = 0, ok = 0;

    if (!dl || !to || !chan)
        goto out;
    for (size_t i = 0; i < b->nev; i++) {
        const struct engine_event *q = &b->ev[i];
        const struct event *ev = &b->events[i];
        if (strcmp(q->cls, "fail") != 0)
            continue;
        cJSON *f = cJSON_Parse(q->facts), *e;
        const cJSON *stg = cJSON_GetObjectItemCaseSensitive(f, "stg");
        const cJSON *tier = cJSON_GetObjectItemCaseSensitive(f, "tier");
        struct alert a = {.kind = ALERT_FAILURE,
                          .ev = ev,
                          .service = ev->service,
                          .stage = cJSON_IsString(stg) ? stg->valuestring : "other",
                          .tier =
                              cJSON_IsString(tier) && tier_parse(tier->valuestring) >= 0
                                  ? (enum tier)tier_parse(tier->valuestring)
                                  : TIER_INFO,
                          .infra_cause = classify_infra(ev),
                          .threshold = 1,
                          .extra = "Sent without Herald's memory: Redis is unavailable "
                                   "(redis.on_unavailable: alert)."};
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(f, "d"))
        {
            const struct receiver *r;
            if (!cJSON_IsString(e) ||
                !(r = dests_receiver(cfg, e->valuestring, chan[k], sizeof(chan[k]))))
                continue;
            to[k] = *r;
            if (chan[k][0])
                to[k].channel = chan[k];
            dl[k].rcv = &to[k];
            if ((dl[k].body = slack_format(&a, &to[k], NULL)))
                k++;
        }
        cJSON_Delete(f);
    }
    if (k)
        log_warn("redis unavailable: %zu alerts sent without dedup (fail-open)", k);
    ok = deliverer_run(d, dl, k, NULL);
    for (size_t j = 0; j < k; j++) {
        if (dl[j].status == DELIVER_OK)
            metrics_count(m, "herald_alerts_sent_total", "Alerts Slack accepted.",
                          "receiver", dl[j].rcv->name, "tier", "fail-open");
        else
            metrics_count(m, "herald_delivery_failures_total",
                          "Alerts Slack did not accept.", "receiver", dl[j].rcv->name,
                          "reason", dl[j].reason);
        free((void *)(uintptr_t)dl[j].body);
    }
    metrics_count(m, "herald_fail_open_batches_total", "Batches alerted without dedup.",
                  NULL, NULL, NULL, NULL);
out:
    free(dl);
    free(to);
    free(chan);
    return ok;
}
