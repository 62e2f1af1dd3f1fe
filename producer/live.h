/* live.h -- what the live sources (the watch, Deck) do with each ProwJob they read:
 * publish it only when its status.state changed since the last state published
 * (producer/state.h; a small in-memory cache in front of it absorbs crier's patches
 * that arrive before the delivery report), and count what they saw.
 *
 * One thread per live context (it owns a state store).
 */
#ifndef HERALD_LIVE_H
#define HERALD_LIVE_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "metrics.h"
#include "publish.h"
#include "state.h"

#define LIVE_CACHE                                                                       \
    65536 /* ProwJobs whose last published state is also kept in memory                  \
           */

struct live_seen {
    uint64_t hash; /* of the name; 0 = empty */
    char state[16];
};

struct live {
    struct publisher *p;          /* borrowed */
    struct state *st;             /* borrowed */
    struct metrics *m;            /* borrowed, may be NULL */
    const char *label;            /* "watch" or "deck": the metrics' source label */
    long seen;                    /* ProwJobs read */
    long changed;                 /* ... whose state changed: published */
    long unchanged;               /* ... whose state had been published already */
    struct live_seen *seen_cache; /* LIVE_CACHE entries, owned by the caller */
};

/* Handle one ProwJob (borrowed). `where` names it in errors ("watch prow/NAME"). A
 * document that cannot be an event (no status yet, a field of the wrong type) is
 * rejected through the publisher: named, counted, and the source goes on. Returns 1
 * published, 0 unchanged, -1 rejected. */
int live_handle(struct live *l, const cJSON *pj, const char *where);

/* Settle the delivery reports: store the state of every event the broker confirmed
 * (only then: a crash before it republishes, never loses), and forget the ones it
 * refused so that the next read publishes them again. Call from the source's loop. */
void live_settle(struct live *l);

#endif
