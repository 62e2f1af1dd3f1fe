/* send.h -- the consumer's sending half (internal to consumer/): silences, routes,
 * storm control, delivery with the fallback receiver, metrics, and recording in Redis
 * what Slack accepted. Used by pipeline.c for a batch and for the periodic tick. */
#ifndef HERALD_SEND_H
#define HERALD_SEND_H

#include <stdbool.h>
#include <stddef.h>

#include "alert.h"
#include "consumer.h"
#include "engine.h"
#include "router.h"

#define PIPELINE_MAX_RECEIVERS 16 /* receivers one alert may go to */

struct work;

/* One alert to send, and how to record it once sent. */
struct out {
    struct alert a;
    struct facts f;
    cJSON *owned_ts;              /* a thread map made for this out; freed with it */
    struct engine_ack ack;
    bool do_ack;
    const cJSON *ts;              /* borrowed: {receiver: thread ts} */
    struct work *w;               /* the batch item it came from, or NULL */
    const char *label;            /* for logs: event id or a description */
    bool ok, bad;                 /* some / a failed delivery */
    char tsbuf[PIPELINE_MAX_RECEIVERS][64];
    struct receiver override;     /* reporter_config.slack.channel on a Web API receiver */
};

/* Send outs[0..n): silences, routes (reporter_config.slack.channel honoured), storm
 * control, delivery, the fallback receiver, metrics. Sets each out's ok / bad. */
void send_alerts(struct consumer *c, struct out *outs, size_t n);

/* Record in Redis what was delivered (confirm / settle), one round trip. */
void ack_alerts(struct consumer *c, struct out *outs, size_t n);

/* Free what an out owns. */
void out_release(struct out *o);

/* Send the digest of every receiver with one pending, as its rate limit allows. */
void send_digests(struct consumer *c);

/* Add 1 to counter `name` with up to two labels (k1/k2 may be NULL). */
void count(struct consumer *c, const char *name, const char *help, const char *k1,
           const char *v1, const char *k2, const char *v2);
void count_suppressed(struct consumer *c, const char *reason);

/* Add to the MATCHED counters of the silences ids[0..n) (repeats count once each),
 * in one round trip. */
void count_silences(struct consumer *c, const char *const *ids, size_t n);

/* Note that a silence matched the batch item w (for its decision record). */
void work_note_silence(struct work *w, const char *id);
/* Note that w's alert went to receiver `name`. */
void work_note_receiver(struct work *w, const char *name);

#endif
