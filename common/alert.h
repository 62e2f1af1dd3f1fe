/* alert.h -- what the consumer decided to tell people about one event. Built by the
 * consumer, formatted by slack.c, delivered by deliver.c. */
#ifndef HERALD_ALERT_H
#define HERALD_ALERT_H

#include <stdint.h>

#include "event.h"

enum tier { TIER_INFO = 0, TIER_WARNING, TIER_CRITICAL };

enum alert_kind {
    ALERT_FAILURE = 0, /* a job failed (the first in its window) */
    ALERT_RECOVERED,   /* a failing job succeeded */
    ALERT_REMINDER,    /* still failing after the repeat interval */
    ALERT_DIGEST,      /* storm control: several alerts folded into one */
};

struct alert {
    enum alert_kind kind;
    const struct event *ev;      /* borrowed; NULL only for ALERT_DIGEST */
    const char *service;         /* borrowed; never NULL */
    const char *stage;           /* borrowed; never NULL ("other" when unknown) */
    enum tier tier;
    int64_t suppressed;          /* repeats suppressed since the previous alert */
    int64_t suppressed_since_ms; /* event time of the first of them; 0 if none */
    const char *infra_cause;     /* borrowed; non-NULL if an infrastructure failure */
    const char *extra;           /* borrowed mrkdwn-safe text added as a context line */
};

/* "critical" / "warning" / "info"; tier_parse returns -1 for an unknown name. */
const char *tier_name(enum tier t);
int tier_parse(const char *s);

#endif
