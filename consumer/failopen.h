/* failopen.h -- redis.on_unavailable: alert. While Redis cannot be reached, every
 * failure that may alert is sent at once to its destinations, without the rules'
 * memory (duplicates are preferred to waiting). Main thread only. */
#ifndef HERALD_FAILOPEN_H
#define HERALD_FAILOPEN_H

#include "batch.h"
#include "config.h"
#include "deliver.h"
#include "metrics.h"

/* Send every failure of b to its destinations (deliveries with retries, as configured)
 * on d. Returns how many messages Slack accepted. */
size_t failopen_send(const struct config *cfg, struct deliverer *d, struct metrics *m,
                     const struct batch *b);

#endif
