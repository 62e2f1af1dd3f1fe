/* event.h -- Herald's job event: one ProwJob state, normalised (docs/events.md).
 *
 * The producer turns ProwJob documents into events (event_from_prowjob) and writes
 * them to Kafka as JSON (event_to_json), keyed by event_key(). The consumer parses
 * them back (event_from_json), which validates every field it uses.
 */
#ifndef HERALD_EVENT_H
#define HERALD_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define EVENT_SCHEMA_VERSION 1
#define EVENT_MAX_BYTES (256 * 1024) /* largest event accepted on either side */
#define EVENT_MAX_FIELD 4096         /* bytes; longest string field kept */
#define EVENT_MAX_PULLS 32
#define EVENT_MAX_DEPTH 32   /* JSON nesting accepted by the parsers */
#define EVENT_MAX_ID 256     /* bytes; event_from_prowjob never builds a longer id */
#define EVENT_ID_HASH_HEX 32 /* hex digits of SHA-256 in an id built from a long name */

struct event_pull {
    long number;
    char *author; /* may be NULL */
    char *sha;    /* may be NULL */
    char *title;  /* may be NULL */
    char *link;   /* may be NULL */
};

/* Every char * is owned by the event and may be NULL unless said otherwise. */
struct event {
    int schema;     /* EVENT_SCHEMA_VERSION */
    char *id;       /* never NULL: deterministic, "<prowjob name>:<state>",
                       at most EVENT_MAX_ID bytes from event_from_prowjob */
    char *job;      /* never NULL: spec.job */
    char *type;     /* never NULL: presubmit | postsubmit | periodic | batch */
    char *state;    /* never NULL: triggered | pending | success | failure | ... */
    char *build_id; /* status.build_id */
    char *prowjob;  /* metadata.name */
    char *org;      /* refs.org, else extra_refs[0].org */
    char *repo;     /* refs.repo, else extra_refs[0].repo */
    char *base_ref; /* branch, or the tag for tag-triggered postsubmits */
    char *base_sha;
    struct event_pull *pulls;
    size_t npulls;
    char *url;             /* Deck/Spyglass link */
    char *description;     /* status.description */
    char *cluster;         /* spec.cluster */
    char *service;         /* derived (classify_service); never NULL after parsing */
    int64_t start_ms;      /* epoch ms; 0 = unknown */
    int64_t completion_ms; /* epoch ms; 0 = unknown (still running) */
    int64_t event_ms;      /* event time: completion, else start, else observed */
    int64_t observed_ms;   /* when the producer read it */
    bool report;           /* spec.report (false = Prow reporting off) */
    cJSON *labels;         /* object of strings, owned; never NULL after parsing */
    cJSON *annotations;    /* object of strings, owned; never NULL after parsing */
    cJSON *reporter_slack; /* spec.reporter_config.slack verbatim, owned; may be NULL */
};

/* Zero an event. */
void event_init(struct event *ev);

/* Free everything the event owns and zero it. NULL is accepted. */
void event_release(struct event *ev);

/* Fill `ev` from a ProwJob JSON object (borrowed). observed_ms is used for event time
 * when the ProwJob has no times. On failure returns -1, writes the reason to errstr
 * ("spec.job: missing") and leaves ev released. */
int event_from_prowjob(struct event *ev, const cJSON *pj, int64_t observed_ms,
                       char *errstr, size_t errstr_size);

/* Serialise to the schema's JSON. Returns a new string (caller frees) or NULL. */
char *event_to_json(const struct event *ev);

/* Serialise as event_to_json() does, then parse the result with event_from_json(),
 * the consumers' parser: what this returns, every consumer accepts. Returns a new
 * string (caller frees), or NULL with the reason in errstr ("consumers would reject
 * the event (too_large): event is larger than 262144 bytes", or out of memory).
 * The producer publishes only what this returns. */
char *event_encode(const struct event *ev, char *errstr, size_t errstr_size);

/* Why event_from_json rejected an event: its negative return values. */
enum event_error {
    EVENT_ERR_INVALID = -1,   /* a field is missing or has the wrong type */
    EVENT_ERR_TOO_LARGE = -2, /* more than EVENT_MAX_BYTES */
    EVENT_ERR_UTF8 = -3,      /* not valid UTF-8 */
    EVENT_ERR_TOO_DEEP = -4,  /* nested deeper than EVENT_MAX_DEPTH */
    EVENT_ERR_JSON = -5,      /* malformed JSON */
    EVENT_ERR_SCHEMA = -6,    /* schema version missing or unsupported */
};

/* A short name for an event_error ("invalid_event", "too_large", "invalid_utf8",
 * "too_deep", "malformed_json", "bad_schema"): metric labels and dead-letter reasons.
 * Static string. */
const char *event_error_name(int err);

/* Parse and validate an event from Kafka. On failure returns an enum event_error
 * (negative) with the reason (what field, why) in errstr and leaves ev released.
 * Rejects: more than EVENT_MAX_BYTES, invalid UTF-8, nesting over EVENT_MAX_DEPTH,
 * wrong types, missing required fields, unknown schema version. */
int event_from_json(struct event *ev, const char *data, size_t len, char *errstr,
                    size_t errstr_size);

/* The Kafka key: "org/repo/job" ("-" for a missing org or repo). Writes into buf
 * and returns its length, or -1 if it did not fit. */
int event_key(const struct event *ev, char *buf, size_t size);

/* true for the states a finished run ends in (success, failure, aborted, error). */
bool event_is_final(const struct event *ev);

/* true for failure and error. */
bool event_is_failure(const struct event *ev);

/* Value of a label/annotation, or NULL (borrowed, valid while ev lives). */
const char *event_label(const struct event *ev, const char *name);
const char *event_annotation(const struct event *ev, const char *name);

/* Nesting depth of raw JSON text (brackets outside strings), to refuse deep input
 * before handing it to a recursive parser. Returns the maximum depth seen. */
int event_json_depth(const char *data, size_t len);

#endif
