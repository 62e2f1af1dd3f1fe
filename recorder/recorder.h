/* recorder.h -- herald-recorder's loop: its own Kafka consumer group on the events and
 * alerts topics, writing the history database (docs/dashboard.md, docs/schema.md).
 *
 * At least once, idempotent: a batch's offsets are stored only after the database
 * committed it (enable.auto.offset.store=false); librdkafka commits stored offsets
 * every second, on revoke and on close. A redelivered batch changes nothing
 * (store.h). While the database is unreachable the batch in hand is kept, the
 * assignment is paused and the recorder keeps polling Kafka (so it stays in its group)
 * and retries with backoff (200 ms doubling to 5 s) until the database answers.
 * The recorder shares nothing with the consumers: a slow or absent database never
 * delays an alert.
 *
 * Threads: recorder_run() on one thread; recorder_ready() from any.
 */
#ifndef HERALD_RECORDER_H
#define HERALD_RECORDER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "metrics.h"
#include "store.h"

struct recorder {
    const struct config *cfg; /* borrowed */
    const char *name;         /* borrowed */
    struct metrics *metrics;  /* borrowed, may be NULL */
    const volatile int *stop; /* borrowed: non-zero ends recorder_run() */
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *assigned; /* current assignment, owned */
    unsigned generation;                       /* bumped on every rebalance */
    struct store store;
    char *dsn;        /* the resolved history DSN, owned (a secret) */
    atomic_int db_ok; /* the last database call succeeded */
    atomic_int kafka_ok;
    bool dirty;              /* rows written since the last rollup refresh */
    int64_t last_refresh_ms; /* monotonic ms */
    int64_t last_ping_ms;    /* monotonic ms */
};

/* `r` must be zeroed by the caller (memset) before anything reads it (the /readyz
 * callback may run while this waits for the database). Connect to the database, apply the
 * migrations (store_migrate), join the group history.group on kafka.topic and
 * history.alerts_topic. Retries the database with backoff until it answers or *stop is
 * set. Returns 0, or -1 with errstr set. */
int recorder_init(struct recorder *r, const struct config *cfg, const char *name,
                  struct metrics *m, const volatile int *stop, char *errstr,
                  size_t errstr_size);

/* Consume, write, store offsets, refresh the rollups, until *stop. Returns 0. */
int recorder_run(struct recorder *r);

/* Leave the group (committing stored offsets) and close everything. NULL is
 * accepted. */
void recorder_release(struct recorder *r);

/* The /readyz callback: ready while Kafka and the database answer. */
int recorder_ready(void *opaque, char *why, size_t why_size);

#endif
