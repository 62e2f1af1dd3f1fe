/* pipeline.c -- one batch of Kafka messages through classify -> dedup -> route ->
 * deliver -> confirm. All Redis work of a batch is pipelined: one round trip to
 * decide, one to confirm. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "consumer.h"
#include "dedup.h"
#include "event.h"
#include "log.h"
#include "router.h"
#include "slack.h"
#include "util.h"

#define PIPELINE_MAX_RECEIVERS 16 /* receivers one alert may go to */

/* Per-message working state. */
struct work {
    struct event ev;
    const char *stage;
    enum tier tier;
    long dreq;      /* index into the dedup requests, or -1 */
};

static const double latency_bounds[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
                                        600, 1800, 3600};

static void count(struct consumer *c, const char *name, const char *help, const char *k1,
                  const char *v1, const char *k2, const char *v2)
{
    char labels[512] = "";

    if (k1)
        metrics_labels_add(labels, sizeof(labels), k1, v1);
    if (k2)
        metrics_labels_add(labels, sizeof(labels), k2, v2);
    metrics_counter_add(c->metrics, name, help, 1, labels);
}

/* Classify a rejection reason into a short metric label. */
static const char *reject_reason(const char *err)
{
    if (strstr(err, "over the"))
        return "too_large";
    if (strstr(err, "UTF-8"))
        return "invalid_utf8";
    if (strstr(err, "nests deeper"))
        return "too_deep";
    if (strstr(err, "malformed JSON"))
        return "malformed_json";
    if (strstr(err, "schema"))
        return "bad_schema";
    return "invalid_event";
}

static bool wants_alert(const struct config *cfg, const struct event *ev, const char **why)
{
    bool in = false;

    for (size_t i = 0; i < cfg->alert_states.n && !in; i++)
        in = strcmp(cfg->alert_states.v[i], ev->state) == 0;
    if (!in) {
        *why = "state does not alert";
        return false;
    }
    if (!ev->report) {
        *why = "spec.report is false";
        return false;
    }
    /* Prow's own per-job switch: reporter_config.slack.job_states_to_report: [] */
    const cJSON *st = ev->reporter_slack
                          ? cJSON_GetObjectItemCaseSensitive(ev->reporter_slack,
                                                             "job_states_to_report")
                          : NULL;
    if (cJSON_IsArray(st)) {
        const cJSON *s;
        bool listed = false;
        cJSON_ArrayForEach(s, st) listed |= cJSON_IsString(s) && !strcmp(s->valuestring, ev->state);
        if (!listed) {
            *why = "reporter_config.slack.job_states_to_report excludes the state";
            return false;
        }
    }
    return true;
}

/* Build the fingerprint key of an event. */
static int fingerprint(const struct consumer *c, const struct facts *f, struct dedup_req *r)
{
    const char *parts[FIELD__COUNT];

    for (size_t i = 0; i < c->cfg->nfingerprint; i++)
        parts[i] = facts_get(f, c->cfg->fingerprint[i]);
    return dedup_key(r, c->cfg->key_prefix, parts, c->cfg->nfingerprint);
}

struct outgoing {
    size_t work;      /* index of the work item */
    size_t dreq;      /* its dedup request */
};

/* Count one delivery Slack accepted, with its latencies. */
static void count_sent(struct consumer *c, const struct work *wi, const struct delivery *d,
                       int64_t suppressed)
{
    char labels[256] = "";
    const size_t nb = sizeof(latency_bounds) / sizeof(latency_bounds[0]);

    count(c, "herald_alerts_sent_total", "Alerts Slack accepted.", "receiver", d->rcv->name,
          "tier", tier_name(wi->tier));
    if (wi->ev.completion_ms) {
        metrics_labels_add(labels, sizeof(labels), "tier", tier_name(wi->tier));
        metrics_histogram_observe(c->metrics, "herald_detection_latency_seconds",
                                  "Job completion to Slack accepting the alert (MTTD).",
                                  latency_bounds, nb,
                                  (double)(d->done_ms - wi->ev.completion_ms) / 1000.0, labels);
    }
    metrics_histogram_observe(c->metrics, "herald_pipeline_latency_seconds",
                              "Producer reading the event to Slack accepting the alert.",
                              latency_bounds, nb,
                              (double)(d->done_ms - wi->ev.observed_ms) / 1000.0, "");
    log_info("alert %s -> %s (%s, suppressed %" PRId64 ")", wi->ev.id, d->rcv->name,
             tier_name(wi->tier), suppressed);
}

/* Count, log and dead-letter one delivery Slack did not accept. */
static void count_failed(struct consumer *c, const struct work *wi, const struct delivery *d)
{
    char why[256];

    count(c, "herald_delivery_failures_total", "Alerts Slack did not accept.", "receiver",
          d->rcv->name, "reason", d->reason[0] ? d->reason : "unknown");
    log_error("alert %s -> %s failed after %d attempts: %s", wi->ev.id, d->rcv->name,
              d->attempts, d->reason);
    /* Never silently dropped: the alert as it would have been posted, with the
     * receiver's name (not its URL) and the reason. */
    snprintf(why, sizeof(why), "receiver %s: %s", d->rcv->name, d->reason);
    consumer_dlq(c, "undeliverable", why, wi->ev.id, wi->ev.id, strlen(wi->ev.id), d->body,
                 strlen(d->body));
}

/* Deliver the alerts of a batch; an alert a receiver refused for good goes to the
 * fallback receiver (delivery.fallback_receiver) with a note saying why. Confirm in
 * Redis the alerts that reached every receiver (or its fallback); count everything. */
static void deliver_alerts(struct consumer *c, struct work *w, struct dedup_req *reqs,
                           struct outgoing *out, size_t nout, bool use_redis)
{
    const struct config *cfg = c->cfg;
    const struct receiver *fallback =
        cfg->fallback_receiver >= 0 ? &cfg->receivers[cfg->fallback_receiver] : NULL;
    struct delivery *dl = NULL;
    struct alert *alerts = NULL;
    char **bodies = NULL, **notes = NULL;
    size_t *confirm = NULL, *owner = NULL, *fb_of = NULL, cap, k = 0, nprim, nconf = 0;
    size_t rcv[PIPELINE_MAX_RECEIVERS];

    cap = 2 * nout * PIPELINE_MAX_RECEIVERS; /* each alert's receivers, and fallbacks */
    dl = calloc(cap, sizeof(*dl));
    bodies = calloc(cap, sizeof(*bodies));
    notes = calloc(cap, sizeof(*notes));
    owner = calloc(cap, sizeof(*owner));
    fb_of = calloc(cap, sizeof(*fb_of));
    alerts = calloc(nout, sizeof(*alerts));
    confirm = calloc(nout, sizeof(*confirm));
    if (!dl || !bodies || !notes || !owner || !fb_of || !alerts || !confirm) {
        log_error("out of memory delivering %zu alerts", nout);
        goto out;
    }
    for (size_t i = 0; i < nout; i++) {
        struct work *wi = &w[out[i].work];
        struct dedup_req *r = &reqs[out[i].dreq];
        struct facts f = {&wi->ev, wi->ev.service, wi->stage, wi->tier};
        alerts[i] = (struct alert){.kind = ALERT_FAILURE,
                                   .ev = &wi->ev,
                                   .service = wi->ev.service,
                                   .stage = wi->stage,
                                   .tier = wi->tier,
                                   .suppressed = r->suppressed,
                                   .suppressed_since_ms = r->since_ms};
        size_t nr = router_route(cfg, &f, rcv, PIPELINE_MAX_RECEIVERS, NULL);
        for (size_t j = 0; j < nr; j++) {
            if (!(bodies[k] = slack_format(&alerts[i], &cfg->receivers[rcv[j]], NULL))) {
                log_error("cannot format the alert for %s", wi->ev.id);
                continue;
            }
            dl[k].rcv = &cfg->receivers[rcv[j]];
            dl[k].body = bodies[k];
            owner[k++] = i;
        }
    }
    nprim = k;
    /* In-flight deliveries finish even during shutdown (bounded by give_up_after). */
    deliverer_run(c->deliverer, dl, nprim, NULL);
    for (size_t j = 0; fallback && j < nprim; j++) {
        if (dl[j].status == DELIVER_OK || dl[j].rcv == fallback)
            continue;
        char note[256];
        snprintf(note, sizeof(note), "Sent to %s because %s refused it: %s", fallback->name,
                 dl[j].rcv->name, dl[j].reason);
        struct alert a = alerts[owner[j]];
        a.extra = notes[k] = slack_escape(note);
        if (!notes[k] || !(bodies[k] = slack_format(&a, fallback, NULL)))
            continue;
        dl[k].rcv = fallback;
        dl[k].body = bodies[k];
        owner[k] = owner[j];
        fb_of[k++] = j;
    }
    if (k > nprim)
        deliverer_run(c->deliverer, dl + nprim, k - nprim, NULL);

    bool *ok = calloc(nout, sizeof(*ok)), *bad = calloc(nout, sizeof(*bad));
    bool *rescued = calloc(nprim ? nprim : 1, sizeof(*rescued));
    if (!ok || !bad || !rescued) {
        free(ok);
        free(bad);
        free(rescued);
        goto out;
    }
    for (size_t j = nprim; j < k; j++)
        if (dl[j].status == DELIVER_OK)
            rescued[fb_of[j]] = true;
    for (size_t j = 0; j < k; j++) {
        struct work *wi = &w[out[owner[j]].work];
        if (dl[j].status == DELIVER_OK) {
            ok[owner[j]] = true;
            count_sent(c, wi, &dl[j], alerts[owner[j]].suppressed);
        } else {
            count_failed(c, wi, &dl[j]);
            if (j >= nprim || !rescued[j])
                bad[owner[j]] = true;
        }
    }
    for (size_t i = 0; i < nout; i++)
        if (ok[i] && !bad[i])
            confirm[nconf++] = out[i].dreq;
    free(ok);
    free(bad);
    free(rescued);
    char err[256];
    if (use_redis && dedup_confirm(&c->redis, reqs, confirm, nconf, err, sizeof(err)) < 0) {
        log_warn("could not confirm %zu deliveries in Redis (%s): a redelivery of these "
                 "events would alert again", nconf, err);
        count(c, "herald_redis_errors_total", "Redis operations that failed.", "op",
              "confirm", NULL, NULL);
    }
out:
    for (size_t i = 0; bodies && notes && i < k; i++) {
        free(bodies[i]);
        free(notes[i]);
    }
    free(bodies);
    free(notes);
    free(owner);
    free(fb_of);
    free(alerts);
    free(dl);
    free(confirm);
}

int pipeline_process(struct consumer *c, struct batch_item *items, size_t n, bool use_redis)
{
    const struct config *cfg = c->cfg;
    struct work *w = calloc(n ? n : 1, sizeof(*w));
    struct dedup_req *reqs = calloc(n ? n : 1, sizeof(*reqs));
    struct outgoing *out = calloc(n ? n : 1, sizeof(*out));
    size_t nreq = 0, nout = 0;
    char err[512];
    int rc = 0;

    if (!w || !reqs || !out) {
        log_error("out of memory for a batch of %zu", n);
        rc = -1;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = items[i].msg;
        const char *why = NULL;

        w[i].dreq = -1;
        if (items[i].skip)
            continue;
        if (event_from_json(&w[i].ev, m->payload, m->len, err, sizeof(err)) < 0) {
            count(c, "herald_events_rejected_total", "Events that failed validation.",
                  "reason", reject_reason(err), NULL, NULL);
            char src[256];
            snprintf(src, sizeof(src), "%s[%" PRId32 "]@%" PRId64, rd_kafka_topic_name(m->rkt),
                     m->partition, m->offset);
            log_warn("rejected event at %s: %s", src, err);
            consumer_dlq(c, reject_reason(err), err, src, m->key, m->key_len, m->payload,
                         m->len);
            continue;
        }
        count(c, "herald_events_consumed_total", "Valid job events consumed.", "state",
              w[i].ev.state, NULL, NULL);
        free(w[i].ev.service); /* the consumer's rules decide, not the producer's */
        w[i].ev.service = classify_service(&cfg->classify, &w[i].ev);
        w[i].stage = classify_stage(&cfg->classify, &w[i].ev);
        if (!w[i].ev.service) {
            log_error("out of memory classifying %s", w[i].ev.id);
            continue;
        }
        w[i].tier = classify_tier(&cfg->classify, &w[i].ev, w[i].stage);
        if (!wants_alert(cfg, &w[i].ev, &why)) {
            log_debug("event %s (%s %s): no alert: %s", w[i].ev.id, w[i].ev.job,
                      w[i].ev.state, why);
            continue;
        }
        struct facts f = {&w[i].ev, w[i].ev.service, w[i].stage, w[i].tier};
        if (fingerprint(c, &f, &reqs[nreq]) < 0) {
            log_warn("event %s: fingerprint too long; alerting without dedup", w[i].ev.id);
            snprintf(reqs[nreq].key, sizeof(reqs[nreq].key), "%sdd:{id|%.200s}",
                     cfg->key_prefix, w[i].ev.id);
        }
        reqs[nreq].event_id = w[i].ev.id;
        reqs[nreq].event_ms = w[i].ev.event_ms;
        w[i].dreq = (long)nreq++;
    }

    if (!use_redis) {
        /* Fail-open: Redis is down and the config prefers duplicates to waiting. */
        for (size_t i = 0; i < nreq; i++)
            reqs[i] = (struct dedup_req){.event_id = reqs[i].event_id,
                                         .event_ms = reqs[i].event_ms,
                                         .verdict = DEDUP_ALERT};
        if (nreq)
            log_warn("redis unavailable: %zu alerts sent without dedup (fail-open)", nreq);
        count(c, "herald_fail_open_batches_total", "Batches alerted without dedup.", NULL,
              NULL, NULL, NULL);
    } else if (dedup_check(&c->redis, reqs, nreq, cfg->window_ms, err, sizeof(err)) < 0) {
        atomic_store(&c->redis_ok, 0);
        count(c, "herald_redis_errors_total", "Redis operations that failed.", "op", "dedup",
              NULL, NULL);
        log_warn("redis unavailable (%s): holding a batch of %zu events", err, n);
        rc = -1;
        goto done;
    }
    if (use_redis)
        atomic_store(&c->redis_ok, 1);
    for (size_t i = 0; i < n; i++) {
        if (w[i].dreq < 0)
            continue;
        struct dedup_req *r = &reqs[w[i].dreq];
        if (r->verdict == DEDUP_ALERT) {
            out[nout].work = i;
            out[nout++].dreq = (size_t)w[i].dreq;
        } else {
            count(c, "herald_events_suppressed_total", "Failures that did not alert.",
                  "reason", r->verdict == DEDUP_SUPPRESS ? "dedup" : "duplicate", NULL,
                  NULL);
            log_debug("event %s: suppressed (%s; window from %" PRId64 ")", w[i].ev.id,
                      r->verdict == DEDUP_SUPPRESS ? "dedup" : "already handled",
                      r->window_start_ms);
        }
    }
    if (nout)
        deliver_alerts(c, w, reqs, out, nout, use_redis);
done:
    for (size_t i = 0; w && i < n; i++) {
        event_release(&w[i].ev);
    }
    free(w);
    free(reqs);
    free(out);
    return rc;
}
