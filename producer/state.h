/* state.h -- the last state published per ProwJob, in Redis, shared by every producer
 * replica and surviving a restart (docs/sources.md).
 *
 * Key: <redis.key_prefix>producer:last:<prowjob name>, value the state, expiring
 * after STATE_TTL_S (ProwJobs live 48 h). A live source publishes a ProwJob only when
 * its status.state differs from the stored one, and stores it after handing the
 * event to librdkafka; a delivery that fails later forgets it (state_forget) so the
 * next relist publishes it again. Two replicas may both publish one change (they
 * read before either writes): the event id is deterministic (<name>:<state>) and the
 * consumer takes a repeated id for a duplicate, so they still send one alert.
 *
 * While Redis is unreachable every state read counts as a change (at least once; the
 * consumer drops the duplicates), with one warning per outage.
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
#define STATE_MAX_NAME 512 /* bytes of a ProwJob name used in a key */

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

/* true if state differs from the last one stored for name, or nothing is stored, or
 * Redis cannot say. */
bool state_changed(struct state *s, const char *name, const char *state);

/* Store state as the last published for name. Returns 0, or -1 (logged) if Redis did
 * not take it. */
int state_record(struct state *s, const char *name, const char *state);

/* Forget name (its event was not delivered). Returns 0 or -1. */
int state_forget(struct state *s, const char *name);

#endif
