/* sender.h -- the consumer's delivery thread: the outbox (outbox.h) to Slack.
 *
 * It claims the head message of every ready destination, renders it (render.h) and
 * sends one attempt per destination at a time, all destinations concurrently (curl's
 * multi interface), so a slow or dead channel holds up only itself. Then:
 *   accepted        -> finished as sent; recorded on the alerts topic (io->record)
 *   refused for good (4xx, channel_not_found, invalid_payload, ...)
 *                   -> dead-lettered (io->dead_letter) and queued to
 *                      delivery.fallback_receiver with a note
 *   unavailable (network, timeout, 5xx, 429)
 *                   -> stays at the head, tried again after the Retry-After it gave
 *                      (whatever its length) or the backoff, for as long as it takes
 * A Web API message whose earlier attempt timed out is first looked up in the
 * channel's history (by the alert id in its metadata) so it is not posted twice.
 *
 * Threads: sender_start runs it on its own thread with its own Redis connection; the
 * io callbacks are called on that thread.
 */
#ifndef HERALD_SENDER_H
#define HERALD_SENDER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "deliver.h"
#include "metrics.h"
#include "outbox.h"
#include "rconn.h"

#define SENDER_MAX_INFLIGHT 64 /* destinations sent to at once */

/* Where the sender hands what Kafka should keep. Either may be NULL. */
struct sender_io {
    void *opaque;
    /* Write `value` to the dead-letter topic: kind is a metric label, why says why. */
    void (*dead_letter)(void *opaque, const char *kind, const char *why,
                        const char *source, const char *value, size_t len);
    /* Write a delivered alert's record (render_topic_record) to the alerts topic. */
    void (*record)(void *opaque, const char *key, const char *value, size_t len);
};

struct sender_slot;

struct sender {
    const struct config *cfg; /* borrowed */
    struct metrics *metrics;  /* borrowed; may be NULL */
    struct sender_io io;
    const volatile int *stop; /* borrowed: the process is stopping */
    struct rconn redis;
    struct outbox ob;
    struct deliverer *dl;
    int64_t lease_ms;          /* how long a claimed destination is ours */
    struct sender_slot *slots; /* SENDER_MAX_INFLIGHT */
    size_t parallel;           /* slots in use at most (delivery.parallel) */
    atomic_int redis_ok;       /* for /readyz */
    atomic_long depth;         /* messages queued, at the last claim */
    pthread_t thread;
    bool running;
    bool drained; /* set by the thread when it has stopped sending */
};

/* Set up s for cfg (no thread yet, no I/O). Returns 0, or -1 with errstr. */
int sender_init(struct sender *s, const struct config *cfg, struct metrics *m,
                const struct sender_io *io, const volatile int *stop, char *errstr,
                size_t errstr_size);

/* Run the delivery loop on a new thread. Returns 0, or -1 with errstr. */
int sender_start(struct sender *s, char *errstr, size_t errstr_size);

/* Look at the queue now instead of at the next tick (a step queued alerts). Any
 * thread. */
void sender_wake(struct sender *s);

/* Run the delivery loop on the calling thread until *stop, then wind down as
 * sender_join describes. For the backtest and tests. */
void sender_run(struct sender *s);

/* After *stop was set: wait for the thread, which stops claiming, lets what is in flight
 * finish for at most delivery.shutdown_timeout, aborts the rest and gives every
 * destination it held back to the queue (the next consumer sends them at once). */
void sender_join(struct sender *s);

void sender_release(struct sender *s);

#endif
