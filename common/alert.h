/* alert.h -- what the consumer decided to tell people. Built by the consumer's rules
 * (consumer/engine.c), formatted by slack.c, delivered by deliver.c.
 *
 * Three levels (docs/rules.md):
 *   job        FAILURE, REMINDER, RECOVERED        one job's runs over time
 *   release    FAILURE with `related` consequences, CONSEQUENCE, STALLED
 *                                                  one service + version
 *   ecosystem  ECOSYSTEM, ECO_RECOVERED            K services, one stage
 */
#ifndef HERALD_ALERT_H
#define HERALD_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

enum tier { TIER_INFO = 0, TIER_WARNING, TIER_CRITICAL };

enum alert_kind {
    ALERT_FAILURE = 0,   /* a job started failing (after its threshold) */
    ALERT_RECOVERED,     /* a job that alerted succeeded again */
    ALERT_REMINDER,      /* still failing after the repeat interval */
    ALERT_CONSEQUENCE,   /* a release's downstream stage failed after its upstream */
    ALERT_ECOSYSTEM,     /* K or more services failed the same stage within W */
    ALERT_ECO_RECOVERED, /* every service of an ecosystem incident recovered */
    ALERT_STALLED, /* a release stage did not finish, or its successor never started */
};

/* A service in an ecosystem incident. Everything borrowed, raw text. */
struct alert_member {
    const char *service;
    const char *version;      /* may be NULL */
    const char *job;          /* may be NULL */
    const char *build;        /* may be NULL */
    const char *url;          /* the failing run's link; may be NULL */
    const char *const *lines; /* consequences inside it ("chart-update: ...") */
    size_t nlines;
    bool recovered;
};

/* Everything borrowed; every string is raw text (slack.c escapes it). */
struct alert {
    enum alert_kind kind;
    const struct event *ev; /* the run this is about; NULL for DIGEST, ECOSYSTEM,
                             * ECO_RECOVERED and STALLED */
    const char *service;    /* never NULL ("" for ECOSYSTEM/DIGEST if none) */
    const char *stage;      /* never NULL ("other" when unknown) */
    enum tier tier;
    int64_t suppressed;          /* repeats suppressed since the previous alert;
                                  * DIGEST: how many alerts it folds */
    int64_t suppressed_since_ms; /* event time of the first of them; 0 if none */
    const char *infra_cause;     /* non-NULL if the failure looks like infrastructure
                                  * ("OOM kill", "pod scheduling timeout", ...) */
    const char *extra;           /* mrkdwn-safe text added as a context line */

    /* job state (FAILURE, REMINDER, RECOVERED) */
    int64_t failures;         /* consecutive failed runs in this streak; 0 unknown */
    int64_t failing_since_ms; /* event time of the streak's first failure; 0 unknown */
    const char *first_build;  /* build id of the streak's first failure, or NULL */
    int64_t threshold;        /* N consecutive failures needed to alert (>= 1) */

    /* release (service + version) */
    const char *version; /* release version ("v1.2.3"), or NULL */

    /* Lines listed under the alert, each raw text:
     *   FAILURE      the release's other failed stages ("chart-update: update-ack-chart
     *                failed (build 123)") -- consequences attached to this alert
     *   CONSEQUENCE  one line: what failed downstream
     *   ECOSYSTEM    the services ("s3", "ec2", ...)
     *   ECO_RECOVERED the services that recovered
     *   STALLED      what is missing ("chart-update did not start within 1h after
     *                post-submit succeeded")
     *   DIGEST       one line per folded alert */
    const char *const *lines;
    size_t nlines;
    int64_t more; /* lines left out for room (the counts still add up) */

    /* ECOSYSTEM / ECO_RECOVERED: the window and when it began */
    int64_t window_ms;
    int64_t started_ms;                 /* event time of the incident's first failure */
    const struct alert_member *members; /* every service in it, by name */
    size_t nmembers;
    bool update; /* the incident's current state, after its first alert */

    /* FAILURE sent from the hold: the job passed again meanwhile (build, event time) */
    const char *passed_build; /* NULL if it did not */
    int64_t passed_ms;

    const char *link; /* the dashboard page of its release or job, or NULL */
};

/* "critical" / "warning" / "info"; tier_parse returns -1 for an unknown name. */
const char *tier_name(enum tier t);
int tier_parse(const char *s);

/* "failure", "recovered", "reminder", "consequence", "ecosystem",
 * "ecosystem-recovered", "stalled" (metric labels, logs); alert_kind_parse is the
 * reverse (-1 for an unknown name). */
const char *alert_kind_name(enum alert_kind k);
int alert_kind_parse(const char *s);

#define ALERT_KIND_COUNT 7

#endif
