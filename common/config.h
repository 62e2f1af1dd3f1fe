/* config.h -- Herald's configuration: one YAML file (deploy/herald.example.yaml,
 * docs/configuration.md).
 *
 * config_load() parses and validates the whole file and reports every problem it
 * finds with its line ("herald.yaml:12: dedup.window: not a duration: \"1 hour\"").
 * The loaded config is immutable and may be shared by all threads. Secrets (*_env,
 * *_file) are resolved at load time and never printed.
 */
#ifndef HERALD_CONFIG_H
#define HERALD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "classify.h"
#include "deliver.h"

#define CONFIG_MAX_BYTES (1024 * 1024)
#define CONFIG_MAX_ERRORS 32
#define CONFIG_MAX_LIST 1024 /* entries in any list */
#define CONFIG_MAX_KEY 255   /* bytes of a kafka.properties key */

/* Event fields a fingerprint or a route can use. */
enum field {
    FIELD_SERVICE = 0,
    FIELD_REPO,
    FIELD_JOB,
    FIELD_STAGE,
    FIELD_TYPE,
    FIELD_TIER,
    FIELD_STATE,
    FIELD_ORG,
    FIELD_BASE_REF,
    FIELD__COUNT
};

/* "service", "repo", ...; field_parse returns -1 for an unknown name. */
const char *field_name(enum field f);
int field_parse(const char *s);

struct strlist {
    const char *const *v;
    size_t n;
};

struct route {
    struct strlist match[FIELD__COUNT]; /* globs per field; empty = any */
    size_t *receivers;                  /* indexes into config.receivers */
    size_t nreceivers;
    bool cont; /* go on to later routes after a match */
    bool drop; /* drop: true or receivers: [] -- what matches
                * is dropped before the rules see it */
    int line;  /* where it was defined; 0 = built in */
};

#define CONFIG_MAX_REMINDERS 16

/* One stage of the release DAG and the stages that must succeed before it runs. */
struct release_stage {
    const char *stage;
    const char *const *after;
    size_t nafter;
};

struct kv {
    const char *key;
    const char *value; /* may be a secret: never log */
};

struct config {
    char *path; /* the file it came from, or "<default>" */

    /* kafka */
    const char *brokers;
    const char *topic;
    const char *group;
    const char *dead_letter_topic;
    const char *alerts_topic; /* what Slack accepted, for the history store; "" off */
    int batch_size;           /* messages per batch */
    int64_t batch_wait_ms;    /* ms to fill a batch */
    struct kv *kafka_props;
    size_t nkafka_props;

    /* redis */
    const char *redis_host;
    int redis_port;
    int redis_db;
    const char *redis_password; /* secret; NULL for none */
    const char *key_prefix;
    int64_t redis_timeout_ms;
    bool redis_fail_open; /* on_unavailable: alert (true) or wait (false, default) */

    /* dedup: job state across runs (docs/rules.md) */
    int64_t window_ms; /* the first reminder interval (dedup.window, kept for
                        * explanations); reminders_ms[0] */
    int64_t reminders_ms[CONFIG_MAX_REMINDERS]; /* event time between reminders: the
                                                 * i-th needs reminders_ms[min(i, n-1)]
                                                 * and 2^min(i,3) failed runs since the
                                                 * alert before it */
    size_t nreminders;                          /* >= 1 */
    int failures_to_alert; /* N consecutive failures before the first alert (>= 1) */
    struct strlist alert_states;

    /* release: the pipeline of one service + version */
    const struct release_stage *release_stages; /* the DAG; empty = release level off */
    size_t nrelease_stages;
    int64_t release_hold_ms; /* event time a release failure waits for related ones */
    int64_t stall_ms;        /* event time; 0 = no "release stalled" alerts */

    /* ecosystem: many services failing one stage */
    bool eco_on;
    int eco_services;      /* K distinct services ... */
    int64_t eco_window_ms; /* ... within W (event time) */
    int64_t eco_hold_ms;   /* event time a per-service failure waits for the verdict */
    struct strlist eco_stages; /* globs on the stage; default "*" */
    long eco_receiver; /* index, or -1: route the ecosystem alert like its events */

    /* event time: watermarks (docs/rules.md "Event time") */
    int64_t wm_idle_ms; /* wall clock: a source silent this long holds nothing back */

    /* storm control, per receiver, shared by every consumer */
    double storm_rate; /* messages per second */
    int storm_burst;   /* messages at once */

    struct classify_conf classify;

    struct receiver *receivers;
    size_t nreceivers;
    struct route *routes;
    size_t nroutes;
    long default_receiver;  /* index, or -1 */
    long fallback_receiver; /* index, or -1: gets what a receiver refused for good */

    struct deliver_opts delivery;
    const char *http_listen; /* "" = off */

    /* history: herald-recorder and herald-web (docs/dashboard.md) */
    /* The database: one of these three, resolved only by the programs that use it
     * (config_history_dsn), so the consumers never need the secret. */
    const char *history_dsn;          /* inline libpq connection string (secret) */
    const char *history_dsn_env;      /* ... or the environment variable holding it */
    const char *history_dsn_file;     /* ... or the file holding it */
    const char *history_group;        /* the recorder's consumer group */
    const char *history_alerts_topic; /* alert records (contract §2); "" = events only */
    const char *history_listen;       /* the recorder's /metrics; "" = off */
    int history_batch_size;           /* messages per database round trip */
    int64_t history_refresh_ms;       /* ms between rollup refreshes (at most one per) */

    /* web: herald-web */
    const char *web_listen;        /* "host:port" */
    const char *web_public_url;    /* how people reach herald-web; "" = unknown */
    const char *web_deck_url;      /* Deck, for job links without a url; "" = none */
    const char *web_slack_url;     /* Slack workspace, for message links; "" = none */
    int64_t web_release_window_ms; /* ms a release has to succeed (success rate) */

    void *arena; /* every string and array above lives here */
};

/* Load and validate `path`. On success returns a new config (caller frees with
 * config_free). On failure returns NULL and writes one line per error ("FILE:LINE:
 * what: why") into errbuf (cut to errbuf_size). */
struct config *config_load(const char *path, char *errbuf, size_t errbuf_size);

/* Same, from a string already in memory; `name` is used in messages. */
struct config *config_parse(const char *name, const char *text, size_t len, char *errbuf,
                            size_t errbuf_size);

/* Free a config; NULL is accepted. */
void config_free(struct config *c);

/* The history database's connection string (history.dsn, or the variable named by
 * history.dsn_env, or the file history.dsn_file with its trailing newline dropped).
 * Returns a new string (caller frees; a secret: never log it), or NULL with the reason
 * in errstr ("herald.yaml: history.dsn_env: environment variable X is not set"). */
char *config_history_dsn(const struct config *c, char *errstr, size_t errstr_size);

/* Index of the receiver named `name`, or -1. */
long config_receiver_index(const struct config *c, const char *name);

#endif
