/* sender.c -- see sender.h. */
#include "sender.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dests.h"
#include "log.h"
#include "render.h"
#include "util.h"

#define SENDER_IDLE_MS 100 /* longest wait between looks at the queue */

static const double latency_bounds[] = {0.1, 0.25, 0.5, 1,   2.5, 5,    10,
                                        30,  60,   120, 300, 600, 1800, 3600};

/* One destination being sent to. */
struct sender_slot {
    bool used;
    bool history; /* the attempt in flight looks the message up first */
    struct outbox_item it;
    struct rendered r;
    const struct receiver *rcv;
    char channel[DESTS_MAX_LEN];
    struct delivery d;
    char *body; /* owned request body */
};

int sender_init(struct sender *s, const struct config *cfg, struct metrics *m,
                const struct sender_io *io, const volatile int *stop, char *errstr,
                size_t errstr_size)
{
    struct deliver_opts o = cfg->delivery;

    memset(s, 0, sizeof(*s));
    s->cfg = cfg;
    s->metrics = m;
    if (io)
        s->io = *io;
    s->stop = stop;
    /* A lease outlives the attempt that holds it: an attempt never runs longer than
     * delivery.timeout. */
    s->lease_ms = 2 * o.timeout_ms + 5000;
    s->parallel = (size_t)o.max_parallel;
    if (s->parallel > SENDER_MAX_INFLIGHT)
        s->parallel = SENDER_MAX_INFLIGHT;
    atomic_init(&s->redis_ok, 0);
    atomic_init(&s->depth, 0);
    rconn_init(&s->redis, cfg->redis_host, cfg->redis_port, cfg->redis_db,
               cfg->redis_password, cfg->redis_timeout_ms);
    if (outbox_init(&s->ob, &s->redis, cfg->key_prefix, cfg->storm_rate,
                    cfg->storm_burst) < 0) {
        snprintf(errstr, errstr_size, "cannot set up the outbox");
        return -1;
    }
    o.max_attempts = 1;
    if (!(s->dl = deliverer_new(&o, errstr, errstr_size)))
        return -1;
    if (!(s->slots = calloc(SENDER_MAX_INFLIGHT, sizeof(*s->slots)))) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    return 0;
}

static void slot_release(struct sender_slot *sl)
{
    outbox_item_release(&sl->it);
    render_release(&sl->r);
    free(sl->body);
    free(sl->d.answer);
    memset(sl, 0, sizeof(*sl));
}

/* The backoff after `attempts` failed attempts: initial, doubling, capped. */
static int64_t backoff(const struct deliver_opts *o, int attempts)
{
    int64_t d = o->backoff_initial_ms;

    for (int i = 1; i < attempts && d < o->backoff_max_ms; i++)
        d *= 2;
    return d > o->backoff_max_ms ? o->backoff_max_ms : d;
}

/* Start the attempt of sl: the history lookup or the message itself. 0, or -1 if it
 * cannot be sent at all (sl->d.reason says why). */
static int slot_send(struct sender *s, struct sender_slot *sl)
{
    free(sl->body);
    sl->body = NULL;
    free(sl->d.answer);
    memset(&sl->d, 0, sizeof(sl->d));
    sl->history = sl->it.uncertain && sl->rcv->type == RECEIVER_WEBAPI &&
                  strcmp(sl->r.thread, "update") != 0;
    if (sl->history) {
        sl->d.rcv = sl->rcv;
        sl->d.method = "conversations.history";
        sl->d.content_type = "application/x-www-form-urlencoded";
        sl->d.keep_answer = true;
        sl->body = render_history_query(sl->channel, sl->it.since_ms ? sl->it.since_ms
                                                                     : util_now_ms());
        sl->d.body = sl->body;
    } else {
        if (render_request(&sl->r, sl->rcv, sl->channel, sl->it.parent_ts, sl->it.note,
                           &sl->d) < 0)
            sl->d.body = NULL;
        sl->body = (char *)(uintptr_t)sl->d.body;
    }
    if (!sl->body) {
        snprintf(sl->d.reason, sizeof(sl->d.reason), "cannot_render");
        return -1;
    }
    int rc = deliverer_start(s->dl, &sl->d);
    if (rc < 0)
        snprintf(sl->d.reason, sizeof(sl->d.reason), "internal_error");
    return rc == 0 ? 0 : -1;
}

/* The fallback destination for a message dest refused, with the note; NULL if none. */
static const char *fallback_of(struct sender *s, struct sender_slot *sl, char *fb,
                               size_t fb_size, char *note, size_t note_size)
{
    const struct config *cfg = s->cfg;
    const struct receiver *f =
        cfg->fallback_receiver >= 0 ? &cfg->receivers[cfg->fallback_receiver] : NULL;
    struct facts facts = {sl->r.has_ev ? &sl->r.ev : NULL, sl->r.a.service, sl->r.a.stage,
                          sl->r.a.tier};

    if (!f || f == sl->rcv || sl->it.note[0]) /* no fallback, or this was the fallback */
        return NULL;
    if (dests_format(f, facts.ev ? &facts : NULL, fb, fb_size) < 0)
        return NULL;
    snprintf(note, note_size, "Sent to %s because %s refused it: %s", f->name,
             sl->rcv->name, sl->d.reason);
    return fb;
}

static void count_sent(struct sender *s, struct sender_slot *sl)
{
    const struct alert *a = &sl->r.a;
    const size_t nb = sizeof(latency_bounds) / sizeof(latency_bounds[0]);
    char labels[128] = "";

    metrics_count(s->metrics, "herald_alerts_sent_total", "Alerts Slack accepted.",
                  "receiver", sl->rcv->name, "tier", tier_name(a->tier));
    metrics_count(s->metrics, "herald_alerts_by_kind_total",
                  "Alerts Slack accepted, by kind.", "kind", sl->r.kind, NULL, NULL);
    if (sl->r.has_ev && sl->r.ev.completion_ms && a->kind == ALERT_FAILURE) {
        metrics_labels_add(labels, sizeof(labels), "tier", tier_name(a->tier));
        metrics_histogram_observe(
            s->metrics, "herald_detection_latency_seconds",
            "Job completion to Slack accepting the alert (MTTD).", latency_bounds, nb,
            (double)(sl->d.done_ms - sl->r.ev.completion_ms) / 1000.0, labels);
    }
    if (sl->r.has_ev && sl->r.ev.observed_ms)
        metrics_histogram_observe(
            s->metrics, "herald_pipeline_latency_seconds",
            "Producer reading the event to Slack accepting the alert.", latency_bounds,
            nb, (double)(sl->d.done_ms - sl->r.ev.observed_ms) / 1000.0, "");
    log_info("%s alert %s (%s) -> %s", sl->r.kind, sl->r.id, sl->r.inc, sl->it.dest);
}

/* What became of sl's attempt, as a finish record; false while sl goes on (the
 * history lookup found nothing: now the message itself). */
static bool judge(struct sender *s, struct sender_slot *sl, struct outbox_done *od,
                  char *fb, size_t fb_size, char *note, size_t note_size)
{
    struct delivery *d = &sl->d;

    memset(od, 0, sizeof(*od));
    od->it = &sl->it;
    if (sl->history && d->status == DELIVER_OK) {
        char ts[64];
        if (render_history_find(d->answer, sl->it.alert_id, ts, sizeof(ts))) {
            log_info(
                "alert %s -> %s: already in the channel (an earlier attempt timed out)",
                sl->it.alert_id, sl->it.dest);
            snprintf(d->ts, sizeof(d->ts), "%s", ts);
            d->done_ms = util_now_ms();
            od->result = OUTBOX_SENT;
            od->ts = d->ts;
            return true;
        }
        sl->it.uncertain = false; /* not there: post it */
        if (slot_send(s, sl) == 0)
            return false;
    }
    switch (d->status) {
    case DELIVER_OK:
        od->result = OUTBOX_SENT;
        od->ts = d->ts[0] ? d->ts : NULL;
        return true;
    case DELIVER_PERMANENT:
        od->result = OUTBOX_REFUSED;
        od->fallback = fallback_of(s, sl, fb, fb_size, note, note_size);
        od->note = od->fallback ? note : NULL;
        return true;
    case DELIVER_GAVE_UP:
        od->result = OUTBOX_RETRY;
        od->delay_ms = d->retry_after_ms > 0
                           ? d->retry_after_ms
                           : backoff(&s->cfg->delivery, sl->it.attempts + 1);
        od->uncertain = strcmp(d->reason, "timeout") == 0 ||
                        strcmp(d->reason, "recv_failed") == 0 ||
                        strcmp(d->reason, "empty_reply") == 0 ||
                        strcmp(d->reason, "partial_reply") == 0;
        /* An attempt that may have been posted: on the Web API its retry first looks in
         * the channel's history, so give the slow answer time to land there. */
        if (od->uncertain && sl->rcv->type == RECEIVER_WEBAPI &&
            od->delay_ms < 3 * s->cfg->delivery.timeout_ms)
            od->delay_ms = 3 * s->cfg->delivery.timeout_ms;
        return true;
    case DELIVER_PENDING:
        od->result = OUTBOX_ABORTED;
        return true;
    }
    return true;
}

/* Metrics, logs and Kafka for a message whose fate is known. */
static void account(struct sender *s, struct sender_slot *sl,
                    const struct outbox_done *od)
{
    struct delivery *d = &sl->d;

    if (od->result == OUTBOX_SENT) {
        count_sent(s, sl);
        char *rec = render_topic_record(&sl->r, sl->rcv->name,
                                        sl->channel[0] ? sl->channel : sl->rcv->channel,
                                        d->done_ms ? d->done_ms : util_now_ms(), od->ts);
        if (rec && s->io.record)
            s->io.record(s->io.opaque, sl->r.inc, rec, strlen(rec));
        free(rec);
    } else if (od->result == OUTBOX_REFUSED) {
        char why[256];
        metrics_count(s->metrics, "herald_delivery_failures_total",
                      "Alerts Slack did not accept.", "receiver",
                      sl->rcv ? sl->rcv->name : "-", "reason",
                      d->reason[0] ? d->reason : "unknown");
        log_error("alert %s -> %s refused: %s%s", sl->it.alert_id, sl->it.dest, d->reason,
                  od->fallback ? " (sent to the fallback receiver)" : "");
        snprintf(why, sizeof(why), "receiver %s: %s",
                 sl->rcv ? sl->rcv->name : sl->it.dest, d->reason);
        if (s->io.dead_letter)
            s->io.dead_letter(s->io.opaque, "undeliverable", why, sl->it.alert_id,
                              sl->body ? sl->body : sl->it.record,
                              strlen(sl->body ? sl->body : sl->it.record));
    } else if (od->result == OUTBOX_RETRY) {
        metrics_count(s->metrics, "herald_delivery_retries_total",
                      "Attempts Slack could not take now; tried again later.", "receiver",
                      sl->rcv->name, "reason", d->reason);
        log_warn(
            "slack delivery to receiver %s failed (%s), attempt %d, retrying in %" PRId64
            " ms (alert %s to %s)",
            sl->rcv->name, d->reason, sl->it.attempts + 1, od->delay_ms, sl->it.alert_id,
            sl->it.dest);
    }
}

/* Take what is ready into free slots and start it. */
static size_t fill(struct sender *s)
{
    size_t used = 0, free_slots;
    struct outbox_item *items = NULL;
    size_t n = 0;
    long depth = 0;
    int64_t next = 0;
    char err[256];

    for (size_t i = 0; i < s->parallel; i++)
        used += s->slots[i].used;
    if ((free_slots = s->parallel - used) == 0)
        return 1; /* busy: more may be waiting */
    if (outbox_claim(&s->ob, util_now_ms(), s->lease_ms, free_slots, &items, &n, &depth,
                     &next, err, sizeof(err)) < 0) {
        if (atomic_exchange(&s->redis_ok, 0))
            log_warn("sender: %s", err);
        return 0;
    }
    atomic_store(&s->redis_ok, 1);
    atomic_store(&s->depth, depth);
    metrics_gauge_set(s->metrics, "herald_outbox_messages",
                      "Alert messages waiting for Slack.", (double)depth, "");
    struct outbox_done *bad = calloc(n + 1, sizeof(*bad));
    size_t nbad = 0, k = 0;
    for (size_t i = 0; i < s->parallel && k < n; i++) {
        struct sender_slot *sl = &s->slots[i];
        if (sl->used)
            continue;
        sl->used = true;
        sl->it = items[k];
        memset(&items[k++], 0, sizeof(items[0]));
        char rerr[256];
        if (!(sl->rcv = dests_receiver(s->cfg, sl->it.dest, sl->channel,
                                       sizeof(sl->channel))) ||
            render_parse(s->cfg, sl->it.record, &sl->r, rerr, sizeof(rerr)) < 0 ||
            slot_send(s, sl) < 0) {
            if (!sl->rcv)
                snprintf(sl->d.reason, sizeof(sl->d.reason), "no_such_receiver");
            else if (!sl->d.reason[0])
                snprintf(sl->d.reason, sizeof(sl->d.reason), "bad_record");
            log_error("alert %s -> %s cannot be sent: %s", sl->it.alert_id, sl->it.dest,
                      sl->d.reason);
            if (bad) {
                bad[nbad].it = &sl->it;
                bad[nbad++].result = OUTBOX_REFUSED;
            }
            if (s->io.dead_letter)
                s->io.dead_letter(s->io.opaque, "undeliverable", sl->d.reason,
                                  sl->it.alert_id, sl->it.record, strlen(sl->it.record));
        }
    }
    if (nbad && outbox_finish(&s->ob, util_now_ms(), bad, nbad, err, sizeof(err)) < 0)
        log_warn("sender: %s (the messages come back when their lease ends)", err);
    for (size_t i = 0; i < s->parallel; i++)
        for (size_t j = 0; bad && j < nbad; j++)
            if (bad[j].it == &s->slots[i].it)
                slot_release(&s->slots[i]);
    free(bad);
    outbox_items_free(items, n);
    return n;
}

/* Collect finished attempts, finish them in one round trip. */
static void reap(struct sender *s, int wait_ms)
{
    struct delivery *done[SENDER_MAX_INFLIGHT];
    struct outbox_done od[SENDER_MAX_INFLIGHT];
    struct sender_slot *owner[SENDER_MAX_INFLIGHT];
    char fb[SENDER_MAX_INFLIGHT][DESTS_MAX_LEN], note[SENDER_MAX_INFLIGHT][256], err[256];
    size_t n = *s->stop && s->drained
                   ? deliverer_abort(s->dl, done, SENDER_MAX_INFLIGHT)
                   : deliverer_poll(s->dl, wait_ms, done, SENDER_MAX_INFLIGHT),
           k = 0;

    for (size_t i = 0; i < n; i++) {
        struct sender_slot *sl = NULL;
        for (size_t j = 0; j < SENDER_MAX_INFLIGHT && !sl; j++)
            if (s->slots[j].used && &s->slots[j].d == done[i])
                sl = &s->slots[j];
        if (!sl || !judge(s, sl, &od[k], fb[k], sizeof(fb[k]), note[k], sizeof(note[k])))
            continue;
        owner[k++] = sl;
    }
    if (k == 0)
        return;
    int64_t now = util_now_ms();
    int rc = outbox_finish(&s->ob, now, od, k, err, sizeof(err));
    if (rc < 0) /* may have run: finishing is idempotent, so try once more */
        rc = outbox_finish(&s->ob, now, od, k, err, sizeof(err));
    if (rc < 0)
        log_warn("sender: %s (these messages may be sent again when their lease ends)",
                 err);
    for (size_t i = 0; i < k; i++) {
        account(s, owner[i], &od[i]);
        slot_release(owner[i]);
    }
}

void sender_run(struct sender *s)
{
    int64_t stop_at = 0;

    /* On stop: go on sending what is queued for at most delivery.shutdown_timeout, then
     * abort what is in flight; what is left stays queued for the next consumer. */
    for (;;) {
        size_t claimed = 0;
        if (*s->stop && !stop_at)
            stop_at = util_mono_ms() + s->cfg->delivery.shutdown_ms;
        if (stop_at && util_mono_ms() >= stop_at)
            s->drained = true; /* the next reap aborts what is left */
        else
            claimed = fill(s);
        if (stop_at && deliverer_active(s->dl) == 0 && (s->drained || claimed == 0))
            break;
        reap(s, SENDER_IDLE_MS);
    }
    s->drained = true;
}

void sender_wake(struct sender *s)
{
    deliverer_wakeup(s->dl);
}

static void *thread_main(void *arg)
{
    sender_run(arg);
    return NULL;
}

int sender_start(struct sender *s, char *errstr, size_t errstr_size)
{
    int e = pthread_create(&s->thread, NULL, thread_main, s);

    if (e != 0) {
        char buf[128];
        snprintf(errstr, errstr_size, "cannot start the sender: %s",
                 util_strerror(e, buf, sizeof(buf)));
        return -1;
    }
    s->running = true;
    return 0;
}

void sender_join(struct sender *s)
{
    if (s->running)
        pthread_join(s->thread, NULL);
    s->running = false;
}

void sender_release(struct sender *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->slots && i < SENDER_MAX_INFLIGHT; i++)
        if (s->slots[i].used)
            slot_release(&s->slots[i]);
    free(s->slots);
    deliverer_free(s->dl);
    rconn_release(&s->redis);
    memset(s, 0, sizeof(*s));
}
