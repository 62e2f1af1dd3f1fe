/* live.h -- what the live sources (the watch, Deck) do with each ProwJob they read:
 * publish it only when its status.state changed since the last state published
 * (producer/state.h), and count what they saw.
 *
 * One thread per live context (it owns a state store).
 */
#ifndef HERALD_LIVE_H
#define HERALD_LIVE_H

#include <cjson/cJSON.h>

#include "metrics.h"
#include "publish.h"
#include "state.h"

struct live {
    struct publisher *p; /* borrowed */
    struct state *st;    /* borrowed */
    struct metrics *m;   /* borrowed, may be NULL */
    const char *label;   /* "watch" or "deck": the metrics' source label */
    long seen;           /* ProwJobs read */
    long changed;        /* ... whose state changed: published */
    long unchanged;      /* ... whose state had been published already */
};

/* Handle one ProwJob (borrowed). `where` names it in errors ("watch prow/NAME"). A
 * document that cannot be an event (no status yet, a field of the wrong type) is
 * rejected through the publisher: named, counted, and the source goes on. Returns 1
 * published, 0 unchanged, -1 rejected. */
int live_handle(struct live *l, const cJSON *pj, const char *where);

/* Forget the stored state of every ProwJob whose event the broker did not confirm,
 * so that the next relist or poll publishes it again. Call from the source's loop. */
void live_retry_failed(struct live *l);

#endif
