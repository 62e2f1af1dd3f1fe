/* dedup.h -- failure deduplication in Redis time windows, measured in event time.
 *
 * A fingerprint (by default repo + job + state) alerts on the first failure of a
 * window; later failures whose event time falls inside [window start, start + window)
 * are suppressed and counted; the first alert after the window carries that count and
 * the event time of the first suppressed one. Event time is the job's completion time,
 * so a replay at any speed decides exactly as live did. Redis expiry only collects
 * garbage (key TTL = 2 windows + 1 day of wall time).
 *
 * Crash safety: the record remembers WHICH event it chose to alert on and whether the
 * delivery was confirmed (dedup_confirm). That event seen again while unconfirmed
 * (the consumer died before Slack accepted it) alerts again; once confirmed it is a
 * duplicate. A suppressed event seen again is not counted twice.
 *
 * One Lua script per event, all of a batch pipelined in one round trip.
 */
#ifndef HERALD_DEDUP_H
#define HERALD_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "rconn.h"

#define DEDUP_MAX_KEY 1024 /* bytes of a fingerprint key */

enum dedup_verdict {
    DEDUP_ALERT = 0,   /* alert now (first in window, or unconfirmed redelivery) */
    DEDUP_SUPPRESS,    /* inside the window: counted, no alert */
    DEDUP_DUPLICATE,   /* this very event was already handled (alerted or counted) */
};

struct dedup_req {
    /* in */
    char key[DEDUP_MAX_KEY]; /* full Redis key, built by dedup_key() */
    const char *event_id;    /* borrowed */
    int64_t event_ms;
    /* out */
    enum dedup_verdict verdict;
    int64_t suppressed;     /* ALERT: repeats suppressed since the previous alert */
    int64_t since_ms;       /* ALERT: event time of the first of them (0 if none) */
    int64_t window_start_ms;/* the window this event fell in */
};

/* Register the scripts on r; call once before use. Returns 0 or -1. */
int dedup_setup(struct rconn *r);

/* Build the key "<prefix>dd:{<parts joined by '|'>}" into req->key. Returns 0, or -1
 * if it would not fit. */
int dedup_key(struct dedup_req *req, const char *prefix, const char *const *parts,
              size_t nparts);

/* Decide reqs[0..n) in one pipelined round trip. Returns 0 with every verdict set, or
 * -1 if Redis failed (nothing decided; errstr says why; the connection is reset). */
int dedup_check(struct rconn *r, struct dedup_req *reqs, size_t n, int64_t window_ms,
                char *errstr, size_t errstr_size);

/* Record that the alert for reqs[i] was accepted by Slack, for each i in idx[0..n).
 * Returns 0 or -1 (Redis failed; the alerts stay unconfirmed, so a redelivery would
 * alert again: at least once). */
int dedup_confirm(struct rconn *r, const struct dedup_req *reqs, const size_t *idx,
                  size_t n, char *errstr, size_t errstr_size);

#endif
