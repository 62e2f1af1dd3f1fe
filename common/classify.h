/* classify.h -- what a job event is about: its service, release stage and tier.
 *
 * The rules come from the config (classify: stages, tiers); NULL means ACK's built-in
 * rules, the defaults documented in docs/configuration.md. All strings in the rule
 * structs are borrowed (owned by the config, or static for the defaults).
 */
#ifndef HERALD_CLASSIFY_H
#define HERALD_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "alert.h"
#include "event.h"

#define CLASSIFY_MAX_RULES 256

struct stage_rule {
    const char *name; /* "post-submit" */
    const char *const
        *jobs; /* globs on the job name; a leading "*-" captures a service */
    size_t njobs;
};

struct tier_rule {
    enum tier tier;
    const char *const *stages; /* stage names; none = any */
    size_t nstages;
    const char *const *types; /* job types; none = any */
    size_t ntypes;
};

struct classify_conf {
    const struct stage_rule *stages;
    size_t nstages;
    const struct tier_rule *tiers;
    size_t ntiers;
};

/* ACK's rules (the defaults). */
const struct classify_conf *classify_default(void);

/* The service an event belongs to: the repo without "-controller"; else the part a
 * leading '*' of a stage pattern captured from the job name ("s3" from
 * "s3-post-submit"); else the repo name; else "unknown". cc may be NULL (defaults).
 * Returns a new string; caller frees. NULL only when out of memory. */
char *classify_service(const struct classify_conf *cc, const struct event *ev);

/* The release stage of the event's job (borrowed name), or "other". */
const char *classify_stage(const struct classify_conf *cc, const struct event *ev);

/* The tier of an event whose stage is `stage`; first matching rule wins; info if
 * none matches. */
enum tier classify_tier(const struct classify_conf *cc, const struct event *ev,
                        const char *stage);

#endif

/* If the run failed for an infrastructure reason its description names (pod
 * scheduling or pending timeout, OOM kill, eviction, pod deleted, pod not created),
 * a short label for it ("OOM kill"); otherwise NULL. Static string. */
const char *classify_infra(const struct event *ev);

/* true if the run was aborted because a newer run of the same job replaced it
 * (Prow: "Aborted as the newer version of this job is running."): not a failure. */
bool classify_superseded(const struct event *ev);
