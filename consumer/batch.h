/* batch.h -- the first stage of the consumer: a batch of plain messages (no Kafka
 * types) into the engine's input (engine.h). For each message:
 *
 *   watermark record  -> an engine_wm (docs/rules.md "Event time")
 *   job event         -> parsed and validated (event.h), classified (service, stage,
 *                        tier, infrastructure cause, release version), its class for
 *                        the rules (fail, ok, start, skip), routed to destinations
 *                        (dests.h; a drop route drops it here), matched against the
 *                        silences, its job key built, and its facts written as JSON
 *   anything else     -> rejected through ctx->reject (logged, counted, dead-lettered
 *                        by the caller); the rest of the batch goes on
 *
 * Testable without a broker or Redis. One batch per thread.
 */
#ifndef HERALD_BATCH_H
#define HERALD_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "engine.h"
#include "silence.h"
#include "storied.h"

/* One consumed message, borrowed for as long as the batch lives. */
struct batch_msg {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const void *key; /* may be NULL */
    size_t keylen;
    const void *value; /* may be NULL */
    size_t len;
    const char *kind; /* the herald-kind header, or NULL */
};

struct batch_ctx {
    const struct config *cfg;           /* borrowed */
    const struct silence_set *silences; /* borrowed; may be NULL (none) */
    /* Jobs with a story (storied.h): an event of any other job that is not a failure
     * nor a release run goes light; the others' jobs are added as the batch is built,
     * so a success after its job's failure in the same batch goes in full. NULL: every
     * event goes in full. */
    struct storied *storied;
    /* A message that is not a valid event or watermark: reason is a metric label
     * (event_error_name, "bad_watermark"), why says what and where. May be NULL. */
    void (*reject)(void *opaque, const struct batch_msg *m, const char *reason,
                   const char *why);
    void *opaque;
};

struct batch {
    struct engine_wm *wm; /* owned */
    size_t nwm;
    struct engine_event *ev; /* owned (facts and strings inside too) */
    size_t nev;
    char **tps; /* "<topic>:<partition>" of every message, once each */
    size_t ntps;
    size_t rejected, dropped; /* messages rejected; events a drop route dropped */
    struct event *events;     /* parsed, one per ev (for logs and fail-open) */
};

/* Build b from msgs[0..n). b need not be initialised. Returns 0, or -1 when memory ran
 * out (b is released then). */
int batch_build(struct batch *b, const struct batch_ctx *ctx,
                const struct batch_msg *msgs, size_t n);

/* Free what b owns. NULL-safe; b may be built again afterwards. */
void batch_release(struct batch *b);

/* The engine input of b (borrowed from b). */
void batch_input(const struct batch *b, struct engine_in *in);

/* The job key of an event: org/repo/job with '%', '/', '#' and control characters
 * escaped as %XX, and with_pull "#<pr>" for a presubmit (its state is kept per pull
 * request), so no two jobs share a key. Returns a new string (caller frees) or NULL. */
char *batch_job_key(const struct event *ev, bool with_pull);

/* The release version of an event: a tag-like base ref ("v1.2.3", "1.2.3-rc1"), else
 * "" (into out). */
void batch_release_version(const struct event *ev, char *out, size_t size);

/* What the run means for its job's rules: "fail", "ok", "start" or "skip"; *why says
 * why a failure does not count (Prow's switches, a superseded abort), else NULL. */
const char *batch_class(const struct config *cfg, const struct event *ev,
                        const char **why);

#endif
