/* engine.h -- Herald's alert rules, kept in Redis and shared by every consumer
 * (docs/rules.md). The rules themselves are Lua scripts run atomically by Redis:
 *
 *   decide.lua   one event: the job's state across runs (threshold, reminders,
 *                recovery), the release it belongs to (one alert per service +
 *                version, downstream failures attached), the ecosystem (K services
 *                failing one stage within W), and the hold that lets related
 *                failures join one alert;
 *   confirm.lua  Slack accepted the alert chosen for an event;
 *   flush.lua    held alerts and release stall timers that are due;
 *   settle.lua   a held alert was delivered.
 *
 * Time is event time (the job's completion), so a replay decides as live did. The
 * hold and stall timers run on the event clock: the newest event time seen, moved on
 * by wall time while no newer event arrives.
 *
 * All calls are pipelined: one round trip per batch. Only the consumer thread that
 * owns the rconn may call them.
 */
#ifndef HERALD_ENGINE_H
#define HERALD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alert.h"
#include "config.h"
#include "rconn.h"

#define ENGINE_MAX_KEY 1024   /* bytes of a Redis key */
#define ENGINE_MAX_LIST 512   /* ",a,b," lists of stages */
#define ENGINE_MAX_LINES 50   /* lines returned with one alert */

enum engine_verdict {
    ENGINE_ALERT = 0,  /* send d.kind now */
    ENGINE_SUPPRESS,   /* counted, not sent (d.reason says why) */
    ENGINE_DUPLICATE,  /* this event was decided before */
    ENGINE_HELD,       /* waiting in the hold for related failures */
    ENGINE_NONE,       /* changes the job's state only */
};

/* What the rules decided for one event, or what the hold released. */
struct engine_decision {
    enum engine_verdict verdict;
    enum alert_kind kind;
    char reason[32];        /* metric label: dedup, threshold, correlation, silence, ... */
    char detail[256];       /* for people: why */
    int64_t failures;       /* consecutive failures of the job */
    int64_t failing_since;  /* ms, event time */
    char first_build[64];
    int64_t suppressed, suppressed_since; /* repeats since the last alert, from when */
    int64_t started;        /* ecosystem: first failure of the incident, ms */
    int64_t more;           /* lines not returned */
    cJSON *ts;              /* {receiver name: Slack ts} of the thread; owned; may be NULL */
    char **lines;           /* owned */
    size_t nlines;
};

/* One event to decide. */
struct engine_req {
    /* in (strings borrowed) */
    char key[ENGINE_MAX_KEY];  /* the job's state hash */
    const char *event_id;
    const char *cls;           /* "fail", "ok", "skip" or "start" */
    int64_t event_ms;
    const char *build;
    int threshold;
    const char *service, *stage, *version; /* version "" when not a release */
    char anc[ENGINE_MAX_LIST]; /* ",a,b," ancestors in the release DAG; "" not in it */
    char succ[ENGINE_MAX_LIST];/* ",c," successors */
    bool eco;                  /* the stage takes part in the ecosystem level */
    bool silenced;
    const char *payload;       /* the event as JSON (kept if held) */
    size_t payload_len;
    const char *job, *state;
    /* out */
    struct engine_decision d;
};

/* A held alert released by the hold. */
struct engine_held {
    char id[512];             /* the event id it was held for */
    char *event_json;         /* owned */
    int64_t failures, failing_since;
    char first_build[64];
    int threshold;
    char recovered[96];       /* "build|ms" if the job passed while it was held */
    char **lines;             /* consequences attached; owned */
    size_t nlines;
    int64_t total_lines;
};

/* What is due now. */
struct engine_due {
    int64_t clock;            /* the event clock, ms */
    struct engine_held *held;
    size_t nheld;
    char **stalls;            /* "service|version|stage|start" or "...|finish"; owned */
    size_t nstalls;
};

/* Register the scripts on r; call once before the first rconn_get. 0 or -1. */
int engine_setup(struct rconn *r);

/* Build "<prefix><what>:{<a>}" into out. 0, or -1 if it would not fit. */
int engine_key(char *out, size_t size, const char *prefix, const char *what, const char *a);

/* Decide reqs[0..n) in one pipelined round trip. Returns 0 with every reqs[i].d set,
 * or -1 if Redis failed (nothing decided; errstr says why). */
int engine_decide(struct rconn *r, const char *prefix, const struct config *cfg,
                  struct engine_req *reqs, size_t n, char *errstr, size_t errstr_size);

/* One confirmation or settlement, with the Slack threads it opened. */
struct engine_ack {
    bool held;                 /* settle a held alert (id), else confirm an event */
    const char *key;           /* confirm: the job's state hash */
    const char *id;            /* the event id */
    enum alert_kind kind;
    char rel[ENGINE_MAX_KEY];  /* confirm: release hash that opens a thread, or "" */
    char eco[ENGINE_MAX_KEY];  /* confirm: ecosystem hash, or "" */
    const char *rcv[16];       /* Web API receivers that returned a ts ... */
    const char *ts[16];        /* ... and those ts */
    size_t nts;
};

/* Record acks[0..n) in one round trip. 0 or -1 (then a redelivery alerts again:
 * at least once). */
int engine_ack(struct rconn *r, const char *prefix, const struct engine_ack *acks, size_t n,
               char *errstr, size_t errstr_size);

/* Lease what is due at wall time now_ms (at most max held alerts and max stalls).
 * 0 with *due filled (release with engine_due_release), or -1. */
int engine_due(struct rconn *r, const char *prefix, int64_t now_ms, int64_t lease_ms,
               size_t max, struct engine_due *due, char *errstr, size_t errstr_size);
void engine_due_release(struct engine_due *due);

/* Report partition progress to the event clock, one round trip: for each i, HSET
 * <prefix>clock:parts names[i] values[i], where the value is the newest event time
 * (ms, decimal) read from that partition, or "eof" when it has nothing left to read.
 * Partitions with something left hold the clock back to their time, so a partition
 * read ahead cannot end a hold before a slower one's related events arrive. 0 or -1. */
int engine_parts(struct rconn *r, const char *prefix, const char *const *names,
                 const char *const *values, size_t n, char *errstr, size_t errstr_size);

/* Keep a decision record per event (`heraldctl explain`), one round trip:
 * SET <prefix>explain:<id> json EX 7 days for each of ids/jsons[0..n). 0 or -1. */
int engine_explain(struct rconn *r, const char *prefix, const char *const *ids,
                   const char *const *jsons, size_t n, char *errstr, size_t errstr_size);

void engine_decision_release(struct engine_decision *d);

/* The Redis key of a release (service + version) and of an ecosystem incident
 * (stage), as decide.lua builds them. */
int engine_release_key(char *out, size_t size, const char *prefix, const char *service,
                       const char *version);
int engine_eco_key(char *out, size_t size, const char *prefix, const char *stage);

/* "alert", "suppressed", "duplicate", "held", "no-alert" */
const char *engine_verdict_name(enum engine_verdict v);

#endif
