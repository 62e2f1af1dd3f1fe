/* engine.h -- the decision engine: the rules of docs/rules.md, run in Redis.
 *
 * The rules are one Lua script (the files in consumer/lua/). One call, engine_step(), per
 * batch: it buffers the batch's events, takes its watermark records, then decides in
 * event-time order every buffered event and every timer (a hold ending, a stall, an
 * ecosystem incident settling) with event time up to the group watermark, and queues
 * the alerts for delivery (outbox.h). Any consumer may run a step: what it decides
 * depends only on the events and the watermarks, never on which consumer saw what
 * first, on wall-clock time or on batch boundaries.
 *
 * A step is idempotent: after a timeout (the script may have run) running it again
 * with the same batch finds everything already done.
 *
 * Light events (engine_event.light) travel without their facts and JSON. One the
 * engine cannot take without them is left out, and the step then decides nothing: it
 * returns the indexes (engine_out.need) for a second call with those events in full,
 * which decides. So a batch costs one call, or two when a job's story was unknown.
 *
 * One engine per thread (it uses that thread's rconn).
 */
#ifndef HERALD_ENGINE_H
#define HERALD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "keys.h"
#include "rconn.h"

#define ENGINE_MAX_STEP 2000 /* items (events + timers) decided per call */
#define ENGINE_MAX_TPS 256   /* partitions a step reports pins for */
#define ENGINE_STATE_TTL_MS                                                              \
    (14LL * 24 * 3600 * 1000) /* event time a quiet job is kept                          \
                               */

/* A watermark record read from partition `partition`. */
struct engine_wm {
    char *source; /* owned by the batch */
    int32_t partition;
    int64_t ms;
    bool final;
    int partitions;
};

/* One event for the rules. Strings are owned by the batch that made it. */
struct engine_event {
    char *id;
    int64_t t;       /* event time, ms */
    char *key;       /* the job key (batch_job_key) */
    char *bkey;      /* ... without the pull request */
    const char *cls; /* "fail", "ok", "start", "skip" (static) */
    bool rel;        /* a release stage with a version: always decided */
    char *tp;        /* "<topic>:<partition>" */
    int64_t offset;
    char *facts;         /* JSON: what the rules need (batch.c) */
    const char *payload; /* the event JSON as consumed, borrowed */
    size_t payload_len;
    bool light; /* sent without facts and payload: the engine takes it only if it can
                   change nothing, else reports it in engine_out.need (storied.h) */
};

struct engine_in {
    const struct engine_wm *wm;
    size_t nwm;
    const struct engine_event *ev;
    size_t nev;
    const char *const
        *tps; /* report pins for these partitions (at most ENGINE_MAX_TPS) */
    size_t ntps;
};

/* What one step did. */
struct engine_out {
    bool epoch_lost;   /* Redis lost Herald's state (docs/reliability.md): nothing done */
    long fast;         /* events that could change nothing, not stored */
    long dup;          /* redeliveries and copies */
    long buffered;     /* events stored to be decided */
    long late;         /* ... with event time behind the watermark already */
    long decided;      /* events decided this step */
    long timers;       /* timers fired */
    long alerts;       /* alerts queued */
    long held, folded; /* alerts put in the hold; folded into an ecosystem incident */
    long idle_sources; /* watermark sources silent past watermark.idle_timeout */
    long failed;       /* items a rule failed on (a bug): dropped, see errors */
    cJSON *errors;     /* [text] of the first of them; owned; may be NULL */
    long pending;      /* events stored, waiting for the watermark */
    bool more;         /* items are due beyond the step's bound: step again */
    int64_t wm;        /* the group watermark (ms; 2^53-1 = none holds back) */
    int64_t clock;     /* event time of the last item decided */
    cJSON *suppressed; /* {reason: count}; owned */
    cJSON *silences;   /* {silence id: events it matched}; owned */
    cJSON *kinds;      /* {alert kind: count}; owned */
    int64_t
        pins[ENGINE_MAX_TPS]; /* per in->tps[i]: lowest offset still needed, -1 none */
    size_t *need; /* indexes into in->ev of light events it could not take: send them
                     again in full (nothing was decided this step); owned; may be NULL */
    size_t nneed;
};

struct engine {
    struct rconn *r; /* borrowed */
    struct keys keys;
    char *cfg_json; /* the rules' settings without the closing brace; owned */
    char epoch[48]; /* Herald's state in this Redis, read at start */
};

/* Prepare e for cfg (borrowed; must outlive e) on r: keys, settings. Registers the
 * script on r (call before r's first rconn_get). name: this consumer, for the
 * decision records. Returns 0, or -1 with errstr. */
int engine_init(struct engine *e, struct rconn *r, const struct config *cfg,
                const char *name, char *errstr, size_t errstr_size);
void engine_release(struct engine *e);

/* Read Herald's epoch from Redis into e->epoch, creating it when Redis holds no
 * Herald state yet (create true) -- a fresh Redis. Returns 1 if it was created, 0 if it
 * was there, -1 with errstr (Redis failed). */
int engine_epoch(struct engine *e, bool create, char *errstr, size_t errstr_size);

/* One step (one round trip). Returns 0 with *out filled (release it), or -1 with errstr
 * (Redis failed or timed out: the step may have run; run it again). */
int engine_step(struct engine *e, const struct engine_in *in, struct engine_out *out,
                char *errstr, size_t errstr_size);
void engine_out_release(struct engine_out *o);

#endif
