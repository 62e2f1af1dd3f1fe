/* dests.h -- where an event's alerts go, as the destinations the engine queues on.
 *
 * A destination is a string:
 *   "w:<receiver>"            a webhook receiver (its URL decides the channel)
 *   "a:<receiver>#<channel>"  a Web API receiver posting to <channel>, its channel
 *                             template ("#ack-{service}") expanded for the event
 * Each destination has its own queue, rate limit and retries (docs/operations.md), so
 * one slow channel never holds up another. Receiver names never contain '#' or
 * control characters (config_conn.c refuses them).
 *
 * Pure functions of the config and the event: any thread.
 */
#ifndef HERALD_DESTS_H
#define HERALD_DESTS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "router.h"

#define DESTS_MAX 16      /* destinations of one alert */
#define DESTS_MAX_LEN 400 /* bytes of one destination, NUL included */

struct dests {
    size_t n;
    bool dropped;   /* a route with drop: true (or receivers: []) matched */
    int route_line; /* the first matching route's line; 0 default or built in */
    char v[DESTS_MAX][DESTS_MAX_LEN];
};

/* The destinations of the alerts about the run in f: the receiver for the channel the
 * ProwJob's reporter_config.slack.channel names (else the first Web API receiver,
 * posting to it), else the routes. A destination that does not fit is left out and
 * logged. */
void dests_route(const struct config *cfg, const struct facts *f, struct dests *out);

/* The destination of receiver r for the run in f (f may be NULL: templates expand
 * with empty values, "{service}" with "ecosystem"). Returns 0, or -1 if it does not
 * fit in size or the template is bad. */
int dests_format(const struct receiver *r, const struct facts *f, char *out, size_t size);

/* The receiver of destination d and, for a Web API one, its channel (into channel,
 * "" for a webhook). Returns NULL for a destination naming no receiver of cfg. */
const struct receiver *dests_receiver(const struct config *cfg, const char *d,
                                      char *channel, size_t channel_size);

#endif
