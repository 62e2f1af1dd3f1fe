/* send.c -- see send.h. */
#include "send.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "silence.h"
#include "slack.h"
#include "storm.h"
#include "util.h"

#define DIGEST_LEASE_MS 60000
#define DIGEST_MAX_LINES 20

static const double latency_bounds[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
                                        600, 1800, 3600};

void count(struct consumer *c, const char *name, const char *help, const char *k1,
                  const char *v1, const char *k2, const char *v2)
{
    char labels[512] = "";

    if (k1)
        metrics_labels_add(labels, sizeof(labels), k1, v1);
    if (k2)
        metrics_labels_add(labels, sizeof(labels), k2, v2);
    metrics_counter_add(c->metrics, name, help, 1, labels);
}

void count_suppressed(struct consumer *c, const char *reason)
{
    count(c, "herald_events_suppressed_total", "Failures that did not alert.", "reason",
          reason, NULL, NULL);
}


/* One line for a digest: "s3 · post-submit failed: s3-post-submit (build 12)". */
static void digest_line(const struct out *o, char *buf, size_t size)
{
    const struct alert *a = &o->a;
    const char *what = a->kind == ALERT_FAILURE && a->ev ? a->ev->state : alert_kind_name(a->kind);

    if (a->ev)
        snprintf(buf, size, "%s \xc2\xb7 %s %s: %s (build %s)", a->service, a->stage, what,
                 a->ev->job, a->ev->build_id ? a->ev->build_id : "-");
    else
        snprintf(buf, size, "%s%s%s \xc2\xb7 %s", a->service, *a->service ? " " : "",
                 a->stage, what);
}

/* The receivers of one alert, with reporter_config.slack.channel honoured: a receiver
 * for that channel, else the first Web API receiver posting to it. */
static size_t receivers_of(struct consumer *c, struct out *o, const struct receiver **rcv)
{
    const struct config *cfg = c->cfg;
    size_t idx[PIPELINE_MAX_RECEIVERS], n;

    if ((o->a.kind == ALERT_ECOSYSTEM || o->a.kind == ALERT_ECO_RECOVERED) &&
        cfg->eco_receiver >= 0) {
        rcv[0] = &cfg->receivers[cfg->eco_receiver];
        return 1;
    }
    const cJSON *ch = o->a.ev && o->a.ev->reporter_slack
                          ? cJSON_GetObjectItemCaseSensitive(o->a.ev->reporter_slack, "channel")
                          : NULL;
    if (cJSON_IsString(ch) && *ch->valuestring) {
        const char *want = ch->valuestring + (ch->valuestring[0] == '#');
        const struct receiver *api = NULL;
        for (size_t i = 0; i < cfg->nreceivers; i++) {
            const struct receiver *r = &cfg->receivers[i];
            if (r->channel && strcmp(r->channel + (r->channel[0] == '#'), want) == 0) {
                rcv[0] = r;
                return 1;
            }
            if (!api && r->type == RECEIVER_WEBAPI)
                api = r;
        }
        if (api) {
            o->override = *api;
            o->override.channel = ch->valuestring;
            rcv[0] = &o->override;
            return 1;
        }
        log_debug("%s: reporter_config.slack.channel %s has no receiver; routing by rules",
                  o->label, ch->valuestring);
    }
    n = router_route(cfg, &o->f, idx, PIPELINE_MAX_RECEIVERS, NULL);
    for (size_t i = 0; i < n; i++)
        rcv[i] = &cfg->receivers[idx[i]];
    return n;
}

/* Count one delivery Slack accepted, with its latencies. */
static void count_sent(struct consumer *c, const struct out *o, const struct delivery *d)
{
    char labels[256] = "";
    const size_t nb = sizeof(latency_bounds) / sizeof(latency_bounds[0]);
    const struct event *ev = o->a.ev;

    count(c, "herald_alerts_sent_total", "Alerts Slack accepted.", "receiver", d->rcv->name,
          "tier", tier_name(o->a.tier));
    count(c, "herald_alerts_by_kind_total", "Alerts Slack accepted, by kind.", "kind",
          alert_kind_name(o->a.kind), NULL, NULL);
    if (ev && ev->completion_ms && o->a.kind == ALERT_FAILURE) {
        metrics_labels_add(labels, sizeof(labels), "tier", tier_name(o->a.tier));
        metrics_histogram_observe(c->metrics, "herald_detection_latency_seconds",
                                  "Job completion to Slack accepting the alert (MTTD).",
                                  latency_bounds, nb,
                                  (double)(d->done_ms - ev->completion_ms) / 1000.0, labels);
    }
    if (ev && o->w)
        metrics_histogram_observe(c->metrics, "herald_pipeline_latency_seconds",
                                  "Producer reading the event to Slack accepting the alert.",
                                  latency_bounds, nb,
                                  (double)(d->done_ms - ev->observed_ms) / 1000.0, "");
    log_info("%s alert %s -> %s (%s, suppressed %" PRId64 ")", alert_kind_name(o->a.kind),
             o->label, d->rcv->name, tier_name(o->a.tier), o->a.suppressed);
}

/* Count, log and dead-letter one delivery Slack did not accept. */
static void count_failed(struct consumer *c, const struct out *o, const struct delivery *d)
{
    char why[256];

    count(c, "herald_delivery_failures_total", "Alerts Slack did not accept.", "receiver",
          d->rcv->name, "reason", d->reason[0] ? d->reason : "unknown");
    log_error("alert %s -> %s failed after %d attempts: %s", o->label, d->rcv->name,
              d->attempts, d->reason);
    snprintf(why, sizeof(why), "receiver %s: %s", d->rcv->name, d->reason);
    consumer_dlq(c, "undeliverable", why, o->label, o->label, strlen(o->label), d->body,
                 strlen(d->body));
}

/* Keep the thread ts a Web API delivery returned, for the ack. */
static void keep_ts(struct out *o, const struct delivery *d)
{
    size_t k = o->ack.nts;

    if (!d->ts[0] || k >= PIPELINE_MAX_RECEIVERS)
        return;
    snprintf(o->tsbuf[k], sizeof(o->tsbuf[k]), "%s", d->ts);
    o->ack.rcv[k] = d->rcv->name;
    o->ack.ts[k] = o->tsbuf[k];
    o->ack.nts++;
}

/* Storm control: of the nd deliveries, let through what each receiver's rate limit
 * allows now; fold the rest into the receiver's digest (folded[j] = true). */
static void storm_control(struct consumer *c, struct out *outs, struct delivery *dl,
                          const size_t *owner, size_t nd, bool *folded)
{
    const struct config *cfg = c->cfg;
    struct storm_limit lim = {cfg->storm_rate, cfg->storm_burst};
    char err[256], line[512];

    for (size_t j = 0; j < nd; j++) {
        if (folded[j] || (j > 0 && dl[j].rcv == NULL))
            continue;
        bool first = true;
        for (size_t k = 0; k < j && first; k++)
            first = strcmp(dl[k].rcv->name, dl[j].rcv->name) != 0;
        if (!first)
            continue;
        int want = 0;
        for (size_t k = j; k < nd; k++)
            want += strcmp(dl[k].rcv->name, dl[j].rcv->name) == 0;
        int got = storm_take(&c->redis, cfg->key_prefix, dl[j].rcv->name, &lim,
                             util_now_ms(), want, err, sizeof(err));
        if (got < 0) {
            log_warn("storm control unavailable (%s): sending without the rate limit", err);
            continue;
        }
        for (size_t k = j; k < nd; k++) {
            if (strcmp(dl[k].rcv->name, dl[j].rcv->name) != 0)
                continue;
            if (got > 0) {
                got--;
                continue;
            }
            const char *l = line;
            digest_line(&outs[owner[k]], line, sizeof(line));
            if (storm_fold(&c->redis, cfg->key_prefix, dl[k].rcv->name, &l, 1,
                           util_now_ms(), err, sizeof(err)) < 0) {
                log_warn("cannot fold into the digest of %s (%s): sending it", dl[k].rcv->name,
                         err);
                continue;
            }
            folded[k] = true;
            count_suppressed(c, "rate_limit");
            log_info("%s alert %s -> %s: folded into the digest (rate limit)",
                     alert_kind_name(outs[owner[k]].a.kind), outs[owner[k]].label,
                     dl[k].rcv->name);
        }
    }
}

void count_silences(struct consumer *c, const char *const *ids, size_t n)
{
    const char **uniq = calloc(n + 1, sizeof(*uniq));
    int64_t *counts = calloc(n + 1, sizeof(*counts));
    size_t k = 0;
    char err[256];

    if (!uniq || !counts)
        goto out;
    for (size_t i = 0; i < n; i++) {
        size_t j;
        for (j = 0; j < k && strcmp(uniq[j], ids[i]) != 0; j++)
            ;
        if (j == k)
            uniq[k++] = ids[i];
        counts[j]++;
    }
    if (k && silence_count(&c->redis, c->cfg->key_prefix, uniq, counts, k, err,
                           sizeof(err)) < 0)
        log_warn("cannot count %zu silenced events: %s", n, err);
out:
    free(uniq);
    free(counts);
}

/* Send outs[0..n): silences, routes, storm control, delivery, the fallback receiver
 * for what a receiver refused for good, metrics. Sets each out's ok / bad. */
void send_alerts(struct consumer *c, struct out *outs, size_t n)
{
    const struct config *cfg = c->cfg;
    const struct receiver *fallback =
        cfg->fallback_receiver >= 0 ? &cfg->receivers[cfg->fallback_receiver] : NULL;
    size_t cap = 2 * n * PIPELINE_MAX_RECEIVERS + 1, k = 0, nprim;
    struct delivery *dl = calloc(cap, sizeof(*dl));
    char **bodies = calloc(cap, sizeof(*bodies)), **notes = calloc(cap, sizeof(*notes));
    size_t *owner = calloc(cap, sizeof(*owner)), *fb_of = calloc(cap, sizeof(*fb_of));
    bool *folded = calloc(cap, sizeof(*folded)), *rescued = calloc(cap, sizeof(*rescued));
    const char **silenced = calloc(n + 1, sizeof(*silenced));
    size_t nsil = 0;

    if (!dl || !bodies || !notes || !owner || !fb_of || !folded || !rescued || !silenced) {
        log_error("out of memory sending %zu alerts", n);
        for (size_t i = 0; i < n; i++)
            outs[i].bad = true;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct out *o = &outs[i];
        const struct receiver *rcv[PIPELINE_MAX_RECEIVERS];
        const struct silence *s = silence_match(&c->silences, &o->f);
        if (s) {
            count_suppressed(c, "silence");
            log_info("%s alert %s: silenced by %s (%s)", alert_kind_name(o->a.kind), o->label,
                     s->id, s->reason);
            if (o->w)
                work_note_silence(o->w, s->id);
            silenced[nsil++] = s->id;
            o->ok = true;
            continue;
        }
        size_t nr = receivers_of(c, o, rcv);
        for (size_t j = 0; j < nr; j++) {
            dl[k].rcv = rcv[j];
            owner[k++] = i;
            if (o->w)
                work_note_receiver(o->w, rcv[j]->name);
        }
    }
    count_silences(c, silenced, nsil);
    nprim = k;
    storm_control(c, outs, dl, owner, nprim, folded);
    for (size_t j = 0; j < nprim; j++) {
        struct out *o = &outs[owner[j]];
        const cJSON *t = o->ts ? cJSON_GetObjectItemCaseSensitive(o->ts, dl[j].rcv->name) : NULL;
        if (folded[j])
            continue;
        if (!(bodies[j] = slack_format(&o->a, dl[j].rcv, cJSON_IsString(t) ? t->valuestring
                                                                            : NULL))) {
            log_error("cannot format the alert for %s", o->label);
            o->bad = true;
            folded[j] = true; /* nothing to send */
            continue;
        }
        dl[j].body = bodies[j];
    }
    /* Deliver the primaries: compact the ones to send to the front of a scratch
     * array so deliverer_run sees only real deliveries. */
    {
        struct delivery *send = calloc(nprim + 1, sizeof(*send));
        size_t *map = calloc(nprim + 1, sizeof(*map)), ns = 0;
        if (!send || !map) {
            free(send);
            free(map);
            for (size_t i = 0; i < n; i++)
                outs[i].bad = true;
            goto out;
        }
        for (size_t j = 0; j < nprim; j++)
            if (!folded[j]) {
                send[ns] = dl[j];
                map[ns++] = j;
            }
        deliverer_run(c->deliverer, send, ns, NULL);
        for (size_t s = 0; s < ns; s++)
            dl[map[s]] = send[s];
        free(send);
        free(map);
    }
    for (size_t j = 0; fallback && j < nprim; j++) {
        if (folded[j] || dl[j].status == DELIVER_OK || dl[j].rcv == fallback)
            continue;
        char note[256];
        snprintf(note, sizeof(note), "Sent to %s because %s refused it: %s", fallback->name,
                 dl[j].rcv->name, dl[j].reason);
        struct alert a = outs[owner[j]].a;
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
    for (size_t j = nprim; j < k; j++)
        if (dl[j].status == DELIVER_OK)
            rescued[fb_of[j]] = true;
    for (size_t j = 0; j < k; j++) {
        struct out *o = &outs[owner[j]];
        if (j < nprim && folded[j]) {
            if (dl[j].body == NULL && !o->bad)
                o->ok = true; /* in the digest */
            continue;
        }
        if (dl[j].status == DELIVER_OK) {
            o->ok = true;
            count_sent(c, o, &dl[j]);
            if (j < nprim)
                keep_ts(o, &dl[j]);
        } else {
            count_failed(c, o, &dl[j]);
            if (j >= nprim || !rescued[j])
                o->bad = true;
        }
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
    free(folded);
    free(rescued);
    free(silenced);
    free(dl);
}

/* Record in Redis what was delivered (confirm / settle). */
void ack_alerts(struct consumer *c, struct out *outs, size_t n)
{
    struct engine_ack *acks = calloc(n + 1, sizeof(*acks));
    size_t na = 0;
    char err[256];

    if (!acks)
        return;
    for (size_t i = 0; i < n; i++)
        if (outs[i].do_ack && outs[i].ok && !outs[i].bad)
            acks[na++] = outs[i].ack;
    if (engine_ack(&c->redis, c->cfg->key_prefix, acks, na, err, sizeof(err)) < 0) {
        log_warn("could not record %zu deliveries in Redis (%s): a redelivery of these "
                 "events would alert again", na, err);
        count(c, "herald_redis_errors_total", "Redis operations that failed.", "op", "confirm",
              NULL, NULL);
    }
    free(acks);
}

void out_release(struct out *o)
{
    cJSON_Delete(o->owned_ts);
    o->owned_ts = NULL;
}


/* Send the digest of every receiver with one pending, as the rate limit allows. */
void send_digests(struct consumer *c)
{
    const struct config *cfg = c->cfg;
    struct storm_limit lim = {cfg->storm_rate, cfg->storm_burst};
    char **names = NULL, err[256];
    size_t nn = 0;

    if (storm_pending(&c->redis, cfg->key_prefix, &names, &nn, err, sizeof(err)) < 0) {
        log_warn("cannot list pending digests: %s", err);
        return;
    }
    for (size_t i = 0; i < nn; i++) {
        long ri = config_receiver_index(cfg, names[i]);
        struct storm_digest d = {0};
        if (ri < 0 || storm_digest_claim(&c->redis, cfg->key_prefix, names[i], &lim,
                                         util_now_ms(), DIGEST_LEASE_MS, DIGEST_MAX_LINES, &d,
                                         err, sizeof(err)) <= 0)
            continue;
        const struct receiver *r = &cfg->receivers[ri];
        struct alert a = {.kind = ALERT_DIGEST,
                          .service = "",
                          .stage = "",
                          .tier = TIER_WARNING,
                          .suppressed = d.total,
                          .suppressed_since_ms = d.first_ms,
                          .lines = (const char *const *)d.lines,
                          .nlines = d.nlines,
                          .more = d.total - (int64_t)d.nlines};
        struct delivery dl = {.rcv = r};
        char *body = slack_format(&a, r, NULL);
        if (body) {
            dl.body = body;
            deliverer_run(c->deliverer, &dl, 1, NULL);
        }
        if (body && dl.status == DELIVER_OK) {
            storm_digest_done(&c->redis, cfg->key_prefix, names[i], &d, err, sizeof(err));
            count(c, "herald_alerts_sent_total", "Alerts Slack accepted.", "receiver", r->name,
                  "tier", tier_name(a.tier));
            count(c, "herald_alerts_by_kind_total", "Alerts Slack accepted, by kind.", "kind",
                  "digest", NULL, NULL);
            log_info("digest -> %s: %" PRId64 " alerts", r->name, d.total);
        } else {
            storm_digest_abort(&c->redis, cfg->key_prefix, names[i], &d, err, sizeof(err));
            log_warn("digest -> %s not delivered (%s); kept for the next try", r->name,
                     body ? dl.reason : "cannot format");
        }
        free(body);
        storm_digest_release(&d);
    }
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
}

