/* publish.h -- the producer's one way onto the events topic: events and the
 * watermark records that go with them (contracts §1, docs/events.md).
 *
 * A publisher wraps the idempotent rd_kafka_t and the topic's partition count, counts
 * what was handed over and what the broker confirmed (the delivery report is the
 * only truth), and keeps the watermark rules: a start record before the first event,
 * never a record that goes back in time, the throttle, the 1 s heartbeat, and the
 * final record.
 *
 * Threads: publisher_send(), publisher_watermark() and the heartbeat thread
 * serialise on the publisher's mutex, so a watermark is never handed to librdkafka
 * between an event's time being noted and the event itself. Counters are atomics
 * readable from any thread.
 */
#ifndef HERALD_PUBLISH_H
#define HERALD_PUBLISH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "event.h"
#include "metrics.h"
#include "watermark.h"

#define PUBLISH_WM_EVERY_MS 100 /* throttle: at most one watermark set per 100 ms ... */
#define PUBLISH_WM_EVERY_EVENTS 1000 /* ... unless this many events went out since */
#define PUBLISH_HEARTBEAT_MS 1000 /* a record every second while nothing else is sent */
#define PUBLISH_WM_LIVE_MS 10     /* a live clock's watermark follows it within this */
#define PUBLISH_WM_NONE INT64_MIN
#define PUBLISH_MAX_SETTLED 65536 /* tracked delivery reports kept for the source */

/* How the heartbeat thread computes the watermark. */
enum publish_clock {
    PUBLISH_CLOCK_NONE = 0, /* no heartbeat thread (a replay paces its own) */
    PUBLISH_CLOCK_LIVE,     /* now - lateness (the watch, Deck) */
    PUBLISH_CLOCK_STREAM,   /* newest event time - lateness; now - lateness once idle
                               for the lateness (stdin) */
};

/* The outcome of a tracked event (the `track` of publisher_send). */
struct publish_settled {
    char *track; /* caller frees */
    bool ok;     /* the broker confirmed it */
};

struct publisher {
    rd_kafka_t *rk;    /* borrowed */
    const char *topic; /* borrowed */
    int partitions;
    char source[WATERMARK_SOURCE_MAX + 1];
    const char *label;       /* metrics label of this source ("replay", "watch", ...) */
    struct metrics *metrics; /* borrowed, may be NULL */

    pthread_mutex_t mu;
    int64_t wm_ms;   /* last watermark published; PUBLISH_WM_NONE before the start */
    int64_t wm_mono; /* when (monotonic ms) */
    long events_since_wm;
    bool final_sent;
    int64_t newest_ms;       /* newest event time handed over (stream clock) */
    int64_t last_event_mono; /* monotonic ms of the last event (stream idle) */
    int64_t last_event_wall; /* wall ms of the last event (metrics: last event age) */
    int64_t lateness_ms;

    enum publish_clock clock;
    pthread_t hb_thread;
    bool hb_running;
    atomic_int hb_stop;

    atomic_long published;    /* events handed to librdkafka */
    atomic_long delivered;    /* events the broker confirmed */
    atomic_long failed;       /* events whose delivery failed */
    atomic_long wm_published; /* watermark records handed over (one per partition) */
    atomic_long wm_failed;    /* watermark records whose delivery failed */
    atomic_long read;         /* documents read, good or bad (the summary's "read") */
    struct publish_settled *settled; /* reported tracked events (under mu) */
    size_t nsettled;
    atomic_long rejected; /* documents rejected (publisher_reject) */
};

/* The delivery-report callback to install with rd_kafka_conf_set_dr_msg_cb(); the
 * conf's opaque must be the publisher (rd_kafka_conf_set_opaque). Counts and logs. */
void publisher_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

/* Set up (no I/O). rk, topic, label and metrics are borrowed. source must be a valid
 * watermark source id (watermark_source_valid). Returns 0, or -1 with errstr. */
int publisher_init(struct publisher *p, rd_kafka_t *rk, const char *topic, int partitions,
                   const char *source, const char *label, struct metrics *metrics,
                   int64_t lateness_ms, char *errstr, size_t errstr_size);

/* Stop the heartbeat thread (if any) and release the mutex. NULL is accepted. */
void publisher_release(struct publisher *p);

/* Publish one event value under its key (both copied). Waits while librdkafka's queue
 * is full. Returns 0, or -1 (logged) if librdkafka refused it. event_ms is its event
 * time (the stream clock follows it). track (may be NULL; copied): a name to hand
 * back through publisher_take_settled() when the broker reports on the event. */
int publisher_send(struct publisher *p, const char *key, size_t keylen, const char *json,
                   size_t len, int64_t event_ms, const char *track);

/* Tracked events whose delivery was reported since the last call: up to max of them
 * into out[]. Returns the count. */
size_t publisher_take_settled(struct publisher *p, struct publish_settled *out,
                              size_t max);

/* Count and log a document that cannot be an event: "rejected WHERE: WHY" on stderr,
 * and herald_producer_rejected_total{source}. Any thread. */
void publisher_reject(struct publisher *p, const char *where, const char *why);

/* Encode and publish an event (event_to_json, event_key; track as publisher_send).
 * Returns 0, -1 if librdkafka refused it, -2 if it cannot be encoded (errstr says why).
 */
int publisher_event(struct publisher *p, const struct event *ev, const char *track,
                    char *errstr, size_t errstr_size);

/* Publish a watermark record with wm_ms in every partition, unless a record with a
 * value >= wm_ms was already published and `repeat` is false. final marks the source
 * finished (sent once; later calls do nothing). Returns 0 (sent or not needed), -1 if
 * librdkafka refused it (logged). */
int publisher_watermark(struct publisher *p, int64_t wm_ms, bool final, bool repeat);

/* The throttle: true if a watermark set is due now (PUBLISH_WM_EVERY_MS since the
 * last one, or PUBLISH_WM_EVERY_EVENTS events). */
bool publisher_wm_due(struct publisher *p);

/* Start the heartbeat thread for a live or stream clock: every 100 ms it publishes the
 * clock's watermark when the throttle allows and it moved, and at least every
 * PUBLISH_HEARTBEAT_MS. The first record it sends is the start record if none was
 * sent. Returns 0, or -1 if the thread could not start. */
int publisher_start_heartbeat(struct publisher *p, enum publish_clock clock);

/* Stop the heartbeat thread (joins it). Safe to call when none runs. */
void publisher_stop_heartbeat(struct publisher *p);

/* The stream/live clock's current watermark (what the heartbeat would send), or
 * PUBLISH_WM_NONE when a stream has seen nothing and is not idle yet. */
int64_t publisher_clock_ms(struct publisher *p);

/* Wait for outstanding deliveries for at most timeout_ms. Returns what is still
 * queued (0 when everything was reported). */
int publisher_flush(struct publisher *p, int64_t timeout_ms);

/* A source id for a run of a finite input: "<kind>:<host>:<pid>:<start wall ms>",
 * the host cut and its bytes outside the id alphabet replaced by '-'. */
void publisher_run_source(const char *kind, char *out, size_t size);

#endif
