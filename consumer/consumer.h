/* consumer.h -- the herald-consumer process: one member of the consumer group, its
 * stages in the order a message meets them:
 *
 *   intake.c   Kafka: batches of messages, offsets, rebalances (no rules)
 *   batch.c    messages -> events and watermarks, classified, routed, silenced
 *   engine.c   one step in Redis: buffer, then decide up to the watermark, queue alerts
 *   sender.c   (its own thread) the queued alerts -> Slack, retries, fallback, records
 *   failopen.c Redis down and redis.on_unavailable: alert -- failures straight to Slack
 *
 * Threads: the main thread runs the Kafka loop and the engine steps; the sender runs on
 * its own thread with its own Redis connection; the metrics HTTP server answers on its
 * own threads and reads only atomics.
 */
#ifndef HERALD_CONSUMER_H
#define HERALD_CONSUMER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "engine.h"
#include "intake.h"
#include "metrics.h"
#include "rconn.h"
#include "sender.h"
#include "storied.h"
#include "silence.h"

struct consumer {
    const struct config *cfg; /* borrowed */
    const char *name;         /* instance name for logs */
    struct metrics *metrics;  /* borrowed; may be NULL */
    const volatile int *stop; /* set by the signal handler */
    struct intake in;
    struct rconn redis; /* the main thread's */
    struct engine eng;
    struct sender snd;
    bool have_epoch;       /* engine_epoch succeeded */
    atomic_int redis_ok;   /* for /readyz */
    atomic_int state_lost; /* Redis lost Herald's state; rebuilding from Kafka */
    int64_t state_lost_ms; /* monotonic: when it was found */
    struct silence_set silences;
    struct storied storied;     /* jobs seen with a story: the others' events go light */
    int64_t silences_loaded_ms; /* monotonic; 0 = never */
    int64_t last_step_ms;       /* monotonic */
};

/* Set everything up (Kafka, Redis lazily, the sender's thread not yet). Returns 0 or
 * -1 with errstr. */
int consumer_init(struct consumer *c, const struct config *cfg, const char *name,
                  struct metrics *m, const volatile int *stop, char *errstr,
                  size_t errstr_size);

/* Start the sender and run the Kafka loop until *stop, then stop the sender within
 * delivery.shutdown_timeout. Returns 0. */
int consumer_run(struct consumer *c);

/* Commit, leave the group, free everything. NULL-safe. */
void consumer_release(struct consumer *c);

/* Readiness for /readyz (thread-safe): 0 ready, else 1 with why. */
int consumer_ready(void *opaque, char *why, size_t why_size);

#endif
