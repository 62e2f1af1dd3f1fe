/* replay.h -- a finite input, published in event-time order (contracts §1).
 *
 * Files named on the command line and a bucket are read whole into a replay set,
 * sorted by (event time, event id) and published in that order, with the start
 * record (first event time - 1), throttled watermark records at event-time
 * boundaries, a 1 s heartbeat while --replay-speed pacing waits, and the final
 * record. Bounded: at most `max_events` events and REPLAY_MAX_BYTES of encoded events
 * are held; past either, replay_add fails with a clear error and the caller stops
 * before publishing anything.
 *
 * Not thread-safe: one thread fills and publishes a set.
 */
#ifndef HERALD_REPLAY_H
#define HERALD_REPLAY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "publish.h"

#define REPLAY_DEFAULT_MAX_EVENTS 1000000L
#define REPLAY_MAX_BYTES ((size_t)4 << 30) /* bytes of encoded events held */

struct replay_item {
    int64_t event_ms;
    char *id;   /* owned */
    char *key;  /* owned */
    char *json; /* owned */
    size_t len; /* of json */
};

struct replay {
    struct replay_item *items;
    size_t n, cap;
    size_t max_events;
    size_t bytes;
};

/* An empty set holding at most max_events (>= 1) events. */
void replay_init(struct replay *r, size_t max_events);

/* Free every item; NULL is accepted. */
void replay_release(struct replay *r);

/* Encode ev (borrowed) and keep it. Returns 0; -1 when the set is full (errstr says
 * the bound and what to do: the caller must stop); -2 when the event cannot be
 * encoded (errstr; the caller rejects that one document and goes on). */
int replay_add(struct replay *r, const struct event *ev, char *errstr,
               size_t errstr_size);

/* Read every ProwJob document of `path` (common/input: "-" is stdin read to its
 * end) into r; bad documents are rejected through the publisher (counted, named on
 * stderr) and reading goes on. Returns 0, or -1 if the file cannot be opened (logged,
 * counted as rejected) or the set is full (logged; the caller must stop). */
int replay_read_path(struct replay *r, struct publisher *p, const char *path);

/* Sort by (event time, event id). */
void replay_sort(struct replay *r);

/* Publish the sorted set through p: start record, events, throttled watermarks, the
 * pacing at `speed` times real time (0 = as fast as possible) with its heartbeat,
 * and the final record. Stops early when *run becomes 0 (the final record is still
 * sent: this run publishes nothing more). Returns the number of events handed over. */
size_t replay_publish(struct replay *r, struct publisher *p, double speed,
                      const volatile sig_atomic_t *run);

#endif
