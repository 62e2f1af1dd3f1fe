/* state.h -- the last state published per ProwJob, in Redis, shared by every producer
 * replica and surviving a restart (docs/sources.md).
 *
 * Key: <redis.key_prefix>producer:last:<prowjob name>, expiring after STATE_TTL_S
 * (ProwJobs live 48 h). Its value is the state ("failure") once the broker confirmed
 * the event, or "failure|<ms>" while a producer holds the claim to publish it.
 *
 * A live source publishes a ProwJob state only if it wins the claim (state_claim, one
 * Lua script, atomic): the stored state differs, or nobody holds a claim on this state
 * younger than STATE_CLAIM_MS. So two replicas reading the same change publish it
 * once. The winner confirms after the delivery report (state_confirm); if it dies
 * before, its claim ages out and the next reader (the other replica, or itself after
 * the restart, on its relist) publishes it: at least once, never lost. A repeat is the
 * same event id (<name>:<state>), which the consumer takes for a duplicate.
 *
 * While Redis is unreachable every claim is won (at least once), with one warning per
 * outage.
 *
 * One thread per state store (hiredis is not thread-safe).
 */
#ifndef HERALD_STATE_H
#define HERALD_STATE_H

#include <stdbool.h>

#include "config.h"
#include "metrics.h"
#include "rconn.h"

#define STATE_TTL_S (7 * 24 * 3600)
#define STATE_CLAIM_MS 30000 /* a claim not confirmed within this is taken over */
#define STATE_MAX_NAME 512   /* bytes of a ProwJob name used in a key */

struct state {
    struct rconn r;
    const char *prefix; /* borrowed */
    struct metrics *m;  /* borrowed, may be NULL */
    bool down;          /* warned about the outage in progress */
};

/* Set up from the config's redis: section (borrowed; must outlive the store). No I/O. */
void state_init(struct state *s, const struct config *cfg, struct metrics *m);

/* Drop the connection. */
void state_release(struct state *s);

/* Claim the publication of name's state: true if this producer should publish it
 * (also when Redis cannot say), false if it was published already or another
 * producer's claim on it is in flight. */
bool state_claim(struct state *s, const char *name, const char *state);

/* The event was delivered: store state as published (unless a newer state was
 * claimed meanwhile). Returns 0, or -1 (logged). */
int state_confirm(struct state *s, const char *name, const char *state);

/* The event was not delivered: drop this claim so the next read publishes it. */
int state_unclaim(struct state *s, const char *name, const char *state);

#endif
