/* intake.h -- the Kafka side of herald-consumer: group membership, batches of
 * messages, offsets, and the two topics it writes (dead letters, alert records).
 *
 * Offsets are stored (enable.auto.offset.store=false) only up to what Redis no
 * longer needs: after a step, a partition's offset is the lowest one the engine still
 * pins (an event waiting to be decided, or one whose alert is held), else the end of
 * the batch. librdkafka commits stored offsets in the background, in the rebalance
 * callback before partitions are given up, and on close. So a consumer that dies, or
 * a Redis that lost its data, costs a re-read, never an event (docs/reliability.md).
 *
 * Threads: the intake belongs to the consumer's main thread, except intake_dead_letter
 * and intake_record, which any thread may call (librdkafka producers are
 * thread-safe).
 */
#ifndef HERALD_INTAKE_H
#define HERALD_INTAKE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "batch.h"
#include "config.h"
#include "metrics.h"

struct intake {
    const struct config *cfg; /* borrowed */
    const char *name;         /* for logs */
    struct metrics *metrics;  /* borrowed; may be NULL */
    rd_kafka_t *rk;
    rd_kafka_t *out; /* producer for the dead-letter and alerts topics; may be NULL */
    rd_kafka_topic_partition_list_t *assigned; /* current assignment (owned) */
    unsigned generation;                       /* bumped on every rebalance */
    atomic_int kafka_ok;                       /* for /readyz */
    atomic_long resets;        /* offsets reset because the log was not there */
    rd_kafka_message_t **held; /* the batch in hand (owned) */
    struct batch_msg *msgs;
    size_t n, max;
    bool paused;
    rd_kafka_topic_partition_list_t *rewind; /* fetched while paused: read again */
};

/* Create the consumer, subscribe. Returns 0, or -1 with errstr. */
int intake_init(struct intake *in, const struct config *cfg, const char *name,
                struct metrics *m, char *errstr, size_t errstr_size);

/* Poll up to kafka.batch_size messages within kafka.batch_wait (stop: give up early).
 * The batch is borrowed until the next intake_poll or intake_done; messages of
 * partitions revoked meanwhile are dropped. Returns the count (0: nothing). */
size_t intake_poll(struct intake *in, const volatile int *stop,
                   const struct batch_msg **msgs);

/* The batch in hand is done: store for each of its partitions the offset `pins` says
 * (tps[i] -> pins[i], -1 = none pinned: after the batch's last message). Frees the
 * batch. */
void intake_done(struct intake *in, const char *const *tps, const int64_t *pins,
                 size_t ntps);

/* Keep the batch in hand for a retry (Redis unavailable): pause the assignment and
 * poll only to stay in the group, for about wait_ms. */
void intake_wait(struct intake *in, int64_t wait_ms);
/* Resume after intake_wait, re-reading what was fetched meanwhile. */
void intake_resume(struct intake *in);

/* Redis lost Herald's state: seek every assigned partition back to its committed
 * offset so what Redis needed is read again. */
void intake_rewind(struct intake *in);

/* Write to the dead-letter topic (headers herald-reason, herald-kind, herald-source)
 * and count herald_dead_lettered_total{reason=kind}. Any thread. */
void intake_dead_letter(struct intake *in, const char *kind, const char *why,
                        const char *source, const void *key, size_t keylen,
                        const void *value, size_t len);

/* Write an alert record to kafka.alerts_topic (when set). Any thread. */
void intake_record(struct intake *in, const char *key, const char *value, size_t len);

/* Commit, leave the group, flush the producer, free everything. NULL-safe. */
void intake_release(struct intake *in);

#endif
