/* consumer.h -- the herald-consumer process: one Kafka consumer-group member.
 *
 * Threads: the main thread runs the Kafka loop and the alert pipeline (so Redis,
 * curl and Kafka handles have one owner); the metrics HTTP server answers on its own
 * threads and reads only the atomics below.
 */
#ifndef HERALD_CONSUMER_H
#define HERALD_CONSUMER_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "deliver.h"
#include "metrics.h"
#include "rconn.h"
#include "silence.h"

#define CONSUMER_MAX_PARTS 256

/* How far this consumer has read one partition, for the event clock. */
struct consumer_part {
    char name[256];       /* "<topic>:<partition>" */
    int64_t next_offset;  /* offset after the last message processed, or the end
                           * offset a PARTITION_EOF reported; -1 unknown */
    int64_t last_ms;      /* newest event time processed from it; 0 none */
};

struct consumer {
    const struct config *cfg;        /* borrowed */
    const char *name;                /* instance name for logs */
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *assigned; /* current assignment (owned) */
    unsigned generation;             /* bumped on every rebalance */
    struct rconn redis;
    struct deliverer *deliverer;
    rd_kafka_t *dlq;                 /* producer for the dead-letter topic; may be NULL */
    struct metrics *metrics;         /* borrowed; may be NULL */
    const volatile int *stop;        /* set by the signal handler */
    atomic_int redis_ok;             /* for /readyz */
    atomic_int kafka_ok;             /* for /readyz */
    int64_t last_ping_ms;            /* monotonic, last Redis health check */
    int64_t last_tick_ms;            /* monotonic, last pipeline_tick that ran */
    struct consumer_part parts[CONSUMER_MAX_PARTS]; /* progress per partition seen */
    size_t nparts;
    struct silence_set silences;     /* active silences, refreshed about once a second */
    int64_t silences_loaded_ms;      /* monotonic; 0 = never */
};

/* Create the Kafka consumer, subscribe, connect Redis lazily. Returns 0 or -1 with
 * errstr set. */
int consumer_init(struct consumer *c, const struct config *cfg, const char *name,
                  struct metrics *m, const volatile int *stop, char *errstr,
                  size_t errstr_size);

/* Run until *stop: poll batches, process them, store offsets. Returns 0. */
int consumer_run(struct consumer *c);

/* Commit, leave the group, free everything. NULL-safe. */
void consumer_release(struct consumer *c);

/* Readiness for /readyz (thread-safe). */
int consumer_ready(void *opaque, char *why, size_t why_size);

/* Write `value` to the dead-letter topic with headers herald-reason (why) and
 * herald-source (topic[partition]@offset, may be NULL). The write is confirmed by
 * consumer_dlq_flush() before the batch's offsets are stored. Counts
 * herald_dead_lettered_total{reason=kind}. Returns 0 or -1. */
int consumer_dlq(struct consumer *c, const char *kind, const char *why, const char *source,
                 const void *key, size_t keylen, const void *value, size_t len);

/* Wait until every dead-letter write of the batch is acknowledged. Returns 0, or -1
 * if some could not be written (logged and counted). */
int consumer_dlq_flush(struct consumer *c);

/* ---- pipeline.c ---- */

struct batch_item {
    rd_kafka_message_t *msg; /* owned until the batch is done */
    bool skip;               /* dropped (partition revoked) */
};

/* Process a batch: parse, classify, dedup, route, deliver, confirm. Returns 0 when
 * every item's work is done (offsets may be stored), -1 if Redis was unavailable
 * (nothing was done; retry the same batch later). With use_redis false (fail-open,
 * redis.on_unavailable: alert) every failure that may alert does, without dedup. */
int pipeline_process(struct consumer *c, struct batch_item *items, size_t n, bool use_redis);

/* The progress record of a partition (created if new; NULL when the table is full). */
struct consumer_part *consumer_part(struct consumer *c, const char *topic, int32_t partition);

/* Tell the event clock how far each assigned partition is read: "eof" when nothing is
 * left to read (by the high watermark librdkafka last fetched), else the newest event
 * time processed from it, which holds the clock back. One round trip. */
void pipeline_report_progress(struct consumer *c);

/* Send what has become due: held alerts whose hold ended, release stall timers, and
 * the digests storm control kept. Runs at most every 500 ms; call it from the
 * consumer loop, busy or idle. */
void pipeline_tick(struct consumer *c);

#endif
