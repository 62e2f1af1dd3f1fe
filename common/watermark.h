/* watermark.h -- watermark records on the events topic (contracts §1, docs/events.md).
 *
 * A producer writes one watermark record into EVERY partition of the events topic,
 * with an explicit partition number, key "herald/watermark" and the headers
 * "herald-schema: 1" and "herald-kind: watermark". Its value is compact JSON:
 *
 *   {"schema":1,"kind":"watermark","source":"replay:host:4242:1764583200000",
 *    "watermark_ms":1764583199999,"partitions":4,"final":false}
 *
 * meaning: every event of `source` with event time <= watermark_ms that belongs to
 * this partition was published to it before this record. `final: true` says the
 * source publishes nothing more (its watermark in that partition is +infinity).
 *
 * This module encodes and parses one record and publishes one record to every
 * partition of a topic. The producer owns publishing; the consumer owns reading.
 * Every function is thread-safe (no state of its own).
 */
#ifndef HERALD_WATERMARK_H
#define HERALD_WATERMARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#define WATERMARK_KEY "herald/watermark"
#define WATERMARK_KIND "watermark" /* value of the herald-kind header */
#define WATERMARK_SCHEMA 1
#define WATERMARK_SOURCE_MAX 200 /* bytes of a source id */
#define WATERMARK_MAX_BYTES 1024 /* bytes of an encoded record; longer is refused */
#define WATERMARK_MAX_PARTITIONS 100000 /* partitions a record may name */
#define WATERMARK_MS_LIMIT                                                               \
    9007199254740991LL /* |watermark_ms| <= 2^53 - 1 (exact in JSON) */

struct watermark {
    char source[WATERMARK_SOURCE_MAX + 1]; /* 1..200 bytes of [A-Za-z0-9._:/@-] */
    int64_t watermark_ms;                  /* epoch ms, event time */
    int partitions;                        /* partition count the producer saw, >= 1 */
    bool final;                            /* the source is finished */
};

/* true if s is a valid source id: 1..WATERMARK_SOURCE_MAX bytes, each one of
 * [A-Za-z0-9._:/@-]. NULL is not valid. */
bool watermark_source_valid(const char *s);

/* Fill wm from its parts (source copied; it must be valid). Returns 0, or -1 with
 * errstr set for an invalid source, partitions outside 1..WATERMARK_MAX_PARTITIONS
 * or watermark_ms outside +-WATERMARK_MS_LIMIT. */
int watermark_set(struct watermark *wm, const char *source, int64_t watermark_ms,
                  int partitions, bool final, char *errstr, size_t errstr_size);

/* Encode wm as the record's compact JSON into buf[0..size), NUL-terminated.
 * Returns the length (without the NUL), or -1 if wm is invalid (as watermark_set
 * checks) or the text does not fit in size (at most WATERMARK_MAX_BYTES is ever
 * needed). */
int watermark_encode(const struct watermark *wm, char *buf, size_t size);

/* Parse and validate one record's value (data need not be NUL-terminated). Returns
 * 0 and fills wm, or -1 with the reason in errstr ("watermark_ms: not an integer"):
 * more than WATERMARK_MAX_BYTES, malformed JSON, not an object, schema not 1, kind
 * not "watermark", a missing field or one of the wrong type, an invalid source,
 * partitions outside 1..WATERMARK_MAX_PARTITIONS, watermark_ms not an integer within
 * +-WATERMARK_MS_LIMIT. Unknown extra fields are ignored (forward compatible). */
int watermark_parse(struct watermark *wm, const char *data, size_t len, char *errstr,
                    size_t errstr_size);

/* true if a consumed message is a watermark record: its herald-kind header is
 * "watermark". (The key is not enough: anyone can write a key.) m is borrowed. */
bool watermark_message_is(const rd_kafka_message_t *m);

/* The partition count of `topic`, from the cluster's metadata, retried every 200 ms
 * for at most timeout_ms (a broker that is still starting, a leader election).
 * Returns the count (>= 1), or -1 with errstr: the topic does not exist (said
 * plainly: "topic herald.events does not exist"), it has no partitions, or no
 * metadata came within the time. rk is borrowed; any thread. */
int watermark_partitions(rd_kafka_t *rk, const char *topic, int64_t timeout_ms,
                         char *errstr, size_t errstr_size);

/* Publish wm to every partition 0..wm->partitions-1 of topic, in partition order,
 * each with RD_KAFKA_V_PARTITION(p), key WATERMARK_KEY and the two headers. The
 * value is copied. `msg_opaque` is handed to the delivery-report callback as the
 * message's _private (so a producer can tell watermark reports from events'). While
 * librdkafka's queue is full it polls and retries (at most queue_wait_ms, then
 * fails). Returns the number of records handed to librdkafka (== partitions on
 * success), or -1 with errstr: wm invalid, or librdkafka refused one (the records
 * before it are queued). rk and topic are borrowed; any thread. */
int watermark_publish(rd_kafka_t *rk, const char *topic, const struct watermark *wm,
                      void *msg_opaque, int64_t queue_wait_ms, char *errstr,
                      size_t errstr_size);

#endif
