/* publish.c -- see publish.h. */
#include "publish.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* The msg_opaque of watermark records, so delivery reports can tell them apart. */
static char wm_tag;

void publisher_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct publisher *p = opaque;
    bool wm = m->_private == &wm_tag;
    char lbl[METRICS_LABELS_MAX + 1] = "";

    (void)rk;
    if (!p)
        return;
    char *track = wm ? NULL : m->_private;
    if (track) {
        /* Hand the outcome back to the source (it records or retries the state). */
        pthread_mutex_lock(&p->mu);
        if (p->nsettled < PUBLISH_MAX_SETTLED) {
            p->settled[p->nsettled].track = track;
            p->settled[p->nsettled++].ok = !m->err;
            track = NULL;
        }
        pthread_mutex_unlock(&p->mu);
        free(track);
    }
    if (m->err) {
        atomic_fetch_add(wm ? &p->wm_failed : &p->failed, 1);
        log_error("delivery failed for %s %.*s [%d]: %s", wm ? "watermark" : "key",
                  (int)m->key_len, (const char *)m->key, (int)m->partition,
                  rd_kafka_err2str(m->err));
        return;
    }
    if (wm)
        return;
    atomic_fetch_add(&p->delivered, 1);
    metrics_labels_add(lbl, sizeof(lbl), "source", p->label);
    metrics_counter_add(p->metrics, "herald_producer_events_published_total",
                        "Events the broker confirmed, by source.", 1, lbl);
}

int publisher_init(struct publisher *p, rd_kafka_t *rk, const char *topic, int partitions,
                   const char *source, const char *label, struct metrics *metrics,
                   int64_t lateness_ms, char *errstr, size_t errstr_size)
{
    memset(p, 0, sizeof(*p));
    if (!watermark_source_valid(source)) {
        snprintf(errstr, errstr_size,
                 "source id \"%.60s\": want 1..%d bytes of [A-Za-z0-9._:/@-]", source,
                 WATERMARK_SOURCE_MAX);
        return -1;
    }
    if (partitions < 1) {
        snprintf(errstr, errstr_size, "topic %s: no partitions", topic);
        return -1;
    }
    p->rk = rk;
    p->topic = topic;
    p->partitions = partitions;
    memcpy(p->source, source, strlen(source) + 1);
    p->label = label;
    p->metrics = metrics;
    p->lateness_ms = lateness_ms;
    p->wm_ms = PUBLISH_WM_NONE;
    p->newest_ms = PUBLISH_WM_NONE;
    p->last_event_mono = util_mono_ms();
    if (!(p->settled = calloc(PUBLISH_MAX_SETTLED, sizeof(*p->settled)))) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    pthread_mutex_init(&p->mu, NULL);
    return 0;
}

void publisher_release(struct publisher *p)
{
    if (!p || !p->rk)
        return;
    publisher_stop_heartbeat(p);
    for (size_t i = 0; i < p->nsettled; i++)
        free(p->settled[i].track);
    free(p->settled);
    pthread_mutex_destroy(&p->mu);
    p->rk = NULL;
}

/* Publish one record set; p->mu held. */
static int wm_locked(struct publisher *p, int64_t wm_ms, bool final)
{
    struct watermark wm;
    char err[256];

    if (p->final_sent)
        return 0;
    if (wm_ms > WATERMARK_MS_LIMIT)
        wm_ms = WATERMARK_MS_LIMIT;
    if (wm_ms < -WATERMARK_MS_LIMIT)
        wm_ms = -WATERMARK_MS_LIMIT;
    if (watermark_set(&wm, p->source, wm_ms, p->partitions, final, err, sizeof(err)) <
            0 ||
        watermark_publish(p->rk, p->topic, &wm, &wm_tag, 60000, err, sizeof(err)) < 0) {
        log_error("watermark %lld: %s", (long long)wm_ms, err);
        return -1;
    }
    atomic_fetch_add(&p->wm_published, p->partitions);
    p->wm_ms = wm_ms;
    p->wm_mono = util_mono_ms();
    p->events_since_wm = 0;
    p->final_sent = final;
    return 0;
}

/* The clock's value; p->mu held. */
static int64_t clock_locked(struct publisher *p)
{
    int64_t now = util_now_ms(), w = PUBLISH_WM_NONE;

    switch (p->clock) {
    case PUBLISH_CLOCK_LIVE:
        return now - p->lateness_ms;
    case PUBLISH_CLOCK_STREAM:
        if (p->newest_ms != PUBLISH_WM_NONE)
            w = p->newest_ms - p->lateness_ms;
        if (util_mono_ms() - p->last_event_mono >= p->lateness_ms &&
            now - p->lateness_ms > w)
            w = now - p->lateness_ms;
        return w;
    default:
        return PUBLISH_WM_NONE;
    }
}

int publisher_send(struct publisher *p, const char *key, size_t keylen, const char *json,
                   size_t len, int64_t event_ms, const char *track)
{
    rd_kafka_resp_err_t err;
    char *tr = track ? strdup(track) : NULL;
    int rc = 0;

    pthread_mutex_lock(&p->mu);
    if (p->wm_ms == PUBLISH_WM_NONE) {
        /* Nothing before the start record: all events up to it were (none) sent. */
        int64_t start = event_ms - 1, c = clock_locked(p);
        if (p->clock != PUBLISH_CLOCK_NONE && event_ms - p->lateness_ms < start)
            start = event_ms - p->lateness_ms;
        if (c != PUBLISH_WM_NONE && c < start)
            start = c;
        wm_locked(p, start, false);
    }
    for (;;) {
        err =
            rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(p->topic),
                              RD_KAFKA_V_KEY((void *)(uintptr_t)key, keylen),
                              RD_KAFKA_V_VALUE((void *)(uintptr_t)json, len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_HEADER("herald-schema", "1", 1), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(p->rk, 100);
    }
    if (err) {
        log_error("produce failed: %s", rd_kafka_err2str(err));
        free(tr);
        rc = -1;
    } else {
        atomic_fetch_add(&p->published, 1);
        p->events_since_wm++;
        if (p->newest_ms == PUBLISH_WM_NONE || event_ms > p->newest_ms)
            p->newest_ms = event_ms;
        p->last_event_mono = util_mono_ms();
        p->last_event_wall = util_now_ms();
        /* A stream's watermark follows its newest event at once (not at the next
         * heartbeat): decisions on it wait only for the lateness. */
        if (p->clock == PUBLISH_CLOCK_STREAM && !p->final_sent) {
            int64_t w = clock_locked(p);
            if (w != PUBLISH_WM_NONE && w > p->wm_ms &&
                p->last_event_mono - p->wm_mono >= PUBLISH_WM_LIVE_MS)
                wm_locked(p, w, false);
        }
    }
    pthread_mutex_unlock(&p->mu);
    rd_kafka_poll(p->rk, 0);
    return rc;
}

void publisher_reject(struct publisher *p, const char *where, const char *why)
{
    char lbl[METRICS_LABELS_MAX + 1] = "";

    atomic_fetch_add(&p->rejected, 1);
    log_error("rejected %s: %s", where, why);
    metrics_labels_add(lbl, sizeof(lbl), "source", p->label);
    metrics_counter_add(p->metrics, "herald_producer_rejected_total",
                        "Documents that could not be made into an event, by source.", 1,
                        lbl);
}

int publisher_event(struct publisher *p, const struct event *ev, const char *track,
                    char *errstr, size_t errstr_size)
{
    char key[EVENT_MAX_FIELD * 3 + 8];
    char *json = event_encode(ev, errstr, errstr_size); /* what consumers accept */
    int kl = event_key(ev, key, sizeof(key)), rc;

    if (!json || kl < 0) {
        if (json)
            snprintf(errstr, errstr_size, "cannot encode the event key (too large)");
        free(json);
        return -2;
    }
    rc = publisher_send(p, key, (size_t)kl, json, strlen(json), ev->event_ms, track);
    free(json);
    return rc;
}

int publisher_watermark(struct publisher *p, int64_t wm_ms, bool final, bool repeat)
{
    int rc = 0;

    pthread_mutex_lock(&p->mu);
    if (p->wm_ms != PUBLISH_WM_NONE && wm_ms < p->wm_ms)
        wm_ms = p->wm_ms; /* never back in time */
    if (final || repeat || p->wm_ms == PUBLISH_WM_NONE || wm_ms > p->wm_ms)
        rc = wm_locked(p, wm_ms, final);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

size_t publisher_take_settled(struct publisher *p, struct publish_settled *out,
                              size_t max)
{
    size_t n;

    pthread_mutex_lock(&p->mu);
    n = p->nsettled < max ? p->nsettled : max;
    memcpy(out, p->settled, n * sizeof(*out));
    memmove(p->settled, p->settled + n, (p->nsettled - n) * sizeof(*out));
    p->nsettled -= n;
    pthread_mutex_unlock(&p->mu);
    return n;
}

bool publisher_wm_due(struct publisher *p)
{
    bool due;

    pthread_mutex_lock(&p->mu);
    due = p->wm_ms == PUBLISH_WM_NONE || p->events_since_wm >= PUBLISH_WM_EVERY_EVENTS ||
          util_mono_ms() - p->wm_mono >= PUBLISH_WM_EVERY_MS;
    pthread_mutex_unlock(&p->mu);
    return due;
}

int64_t publisher_clock_ms(struct publisher *p)
{
    int64_t w;

    pthread_mutex_lock(&p->mu);
    w = clock_locked(p);
    pthread_mutex_unlock(&p->mu);
    return w;
}

static void *heartbeat_main(void *arg)
{
    struct publisher *p = arg;
    sigset_t stop;

    /* SIGTERM is for the main thread: it interrupts the read it is blocked in. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    while (!atomic_load(&p->hb_stop)) {
        pthread_mutex_lock(&p->mu);
        int64_t w = clock_locked(p), mono = util_mono_ms();
        /* Fine steps while an event may be waiting for it (one went out within the
         * lateness), else the heartbeat: an idle source costs a record a second. */
        int64_t gap =
            p->last_event_mono && mono - p->last_event_mono <= p->lateness_ms + 1000
                ? PUBLISH_WM_LIVE_MS
                : PUBLISH_HEARTBEAT_MS;
        if (!p->final_sent && w != PUBLISH_WM_NONE) {
            if (p->wm_ms == PUBLISH_WM_NONE)
                wm_locked(p, w, false);
            else if (w > p->wm_ms && (mono - p->wm_mono >= gap ||
                                      p->events_since_wm >= PUBLISH_WM_EVERY_EVENTS))
                wm_locked(p, w, false);
            else if (mono - p->wm_mono >= PUBLISH_HEARTBEAT_MS)
                wm_locked(p, w > p->wm_ms ? w : p->wm_ms, false);
        }
        if (p->last_event_wall)
            metrics_gauge_set(p->metrics, "herald_producer_last_event_age_seconds",
                              "Seconds since the last event was published.",
                              (double)(util_now_ms() - p->last_event_wall) / 1000.0,
                              NULL);
        pthread_mutex_unlock(&p->mu);
        rd_kafka_poll(p->rk, 0);
        util_sleep_ms(PUBLISH_WM_LIVE_MS, NULL);
    }
    return NULL;
}

int publisher_start_heartbeat(struct publisher *p, enum publish_clock clock)
{
    pthread_mutex_lock(&p->mu);
    p->clock = clock;
    p->last_event_mono = util_mono_ms();
    pthread_mutex_unlock(&p->mu);
    if (clock == PUBLISH_CLOCK_NONE || p->hb_running)
        return 0;
    atomic_store(&p->hb_stop, 0);
    if (pthread_create(&p->hb_thread, NULL, heartbeat_main, p) != 0) {
        log_error("cannot start the watermark heartbeat thread");
        return -1;
    }
    p->hb_running = true;
    return 0;
}

void publisher_stop_heartbeat(struct publisher *p)
{
    if (!p->hb_running)
        return;
    atomic_store(&p->hb_stop, 1);
    pthread_join(p->hb_thread, NULL);
    p->hb_running = false;
}

int publisher_flush(struct publisher *p, int64_t timeout_ms)
{
    int64_t deadline = util_mono_ms() + timeout_ms;

    while (rd_kafka_outq_len(p->rk) > 0 && util_mono_ms() < deadline)
        rd_kafka_flush(p->rk, 200);
    return rd_kafka_outq_len(p->rk);
}

void publisher_run_source(const char *kind, char *out, size_t size)
{
    char host[65] = "";

    if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    for (char *c = host; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (!((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') ||
              (u >= '0' && u <= '9') || u == '.' || u == '_' || u == '-'))
            *c = '-';
    }
    snprintf(out, size, "%s:%s:%ld:%lld", kind, host, (long)getpid(),
             (long long)util_now_ms());
}
