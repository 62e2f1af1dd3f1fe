/* router.h -- which receivers an event goes to (config: routes, default_receiver). */
#ifndef HERALD_ROUTER_H
#define HERALD_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "alert.h"
#include "config.h"
#include "event.h"

/* What the consumer knows about one event after classification. All borrowed. */
struct facts {
    const struct event *ev;
    const char *service;
    const char *stage;
    enum tier tier;
};

/* The value of a field for matching and fingerprints; never NULL ("" if unknown). */
const char *facts_get(const struct facts *f, enum field fld);

/* Fill out[0..max) with the indexes of the receivers this event goes to, in route
 * order, without repeats: every matching route contributes until one with
 * continue: false matches; if none matched, the default receiver. Returns the count
 * (0 only when the config has no receivers). *route_line is set to the line of the
 * first matching route, 0 for the default (for explanations); may be NULL. */
size_t router_route(const struct config *c, const struct facts *f, size_t *out,
                    size_t max, int *route_line);

/* The same; a matching route with drop: true (or receivers: []) ends the walk: 0
 * receivers, *dropped true (dropped may be NULL), *route_line its line (0 for the
 * built-in route that drops presubmits when the config has no routes). */
size_t router_route_ex(const struct config *c, const struct facts *f, size_t *out,
                       size_t max, int *route_line, bool *dropped);

#endif
