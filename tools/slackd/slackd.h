/* slackd.h -- herald-slackd's shared state and the functions its files share (main.c:
 * the HTTP server and the answers; api.c: the Slack API and the recorded messages;
 * faults.c: the fault rules). Private to tools/slackd/.
 *
 * Threads: MHD runs one thread per connection; every function here may be called from
 * any of them. struct slackd's members below `mu` are guarded by it: a function takes
 * it itself unless it says "caller holds mu".
 */
#ifndef HERALD_SLACKD_H
#define HERALD_SLACKD_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "util.h"

#define SLACKD_MAX_MESSAGES 100000
#define SLACKD_MAX_STORED_BYTES (256u * 1024 * 1024) /* recorded JSON, all messages */
#define SLACKD_MAX_BODY_LIMIT (64L * 1024 * 1024)    /* highest --max-body */
#define SLACKD_MAX_RULES 1024
#define SLACKD_MAX_CHANNEL 200 /* bytes */
#define SLACKD_MAX_ERROR 63    /* bytes of a fault's error code */
#define SLACKD_MAX_TOKEN 512   /* bytes */
#define SLACKD_MAX_DELAY_MS 600000
#define SLACKD_MAX_COUNT 1000000

/* The configuration, immutable after parse_args(). Strings borrowed from argv. */
struct slackd_conf {
    uint16_t port;      /* 0 = pick a free one */
    const char *token;  /* NULL = no auth check */
    const char *record; /* NDJSON file or NULL */
    size_t max_body;    /* bytes */
    bool any_addr;      /* --listen 0.0.0.0:PORT (needs --allow-remote) */
    bool allow_remote;  /* containers: the compose stack's slack-sim profile */
};

struct fault_rule {
    char channel[SLACKD_MAX_CHANNEL + 1]; /* glob; "*" = any */
    char error[SLACKD_MAX_ERROR + 1];
    long status;      /* 200 = success (after delay_ms) */
    long retry_after; /* s, for 429 */
    long count;       /* requests left */
    long delay_ms;
};

struct msg {
    uint64_t seq;
    char *channel; /* owned */
    char *json;    /* owned; the record object, one line */
    size_t len;
};

/* Shared state; every member below `mu` is guarded by it. */
struct slackd {
    const struct slackd_conf *conf;
    pthread_mutex_t mu;
    struct fault_rule rules[SLACKD_MAX_RULES];
    int rule_cnt;
    struct msg *ring; /* SLACKD_MAX_MESSAGES slots */
    size_t head, cnt; /* oldest slot, messages held */
    size_t bytes;     /* sum of msg.len */
    uint64_t seq;
    int64_t last_ts_us;
    uint64_t requests, recorded, faulted, dropped;
    uint64_t by_status[600];
    FILE *record;
    int record_failed; /* bool: warned once already */
};

/* One HTTP request in flight. */
struct req {
    struct buf body;
    int too_large; /* bool */
    int oom;       /* bool */
    int64_t received_ms;
};

/* A reply being built: status, body (owned, malloc'd) and extras. */
struct answer {
    unsigned status;
    int json; /* bool: application/json, else text/plain */
    char *body;
    int retry_after; /* s; < 0 = no header */
    int faulted;     /* bool */
};

/* Set by SIGTERM/SIGINT (main.c); ends a fault's delay early. */
extern volatile sig_atomic_t g_stop;

/* ---- answers (main.c); a->body is replaced, the old one freed ---- */

/* A text/plain answer. */
void answer_text(struct answer *a, unsigned status, const char *text);

/* Print obj (borrowed) as the body. cJSON allocates with malloc (default hooks). */
void answer_json(struct answer *a, unsigned status, const cJSON *obj);

/* {"ok":false,"error":err} with the given HTTP status; {"ok":true} if err is NULL. */
void answer_error(struct answer *a, unsigned status, const char *err);

/* ---- faults (faults.c) ---- */

/* Consume one count of the first fault rule matching channel (removing the rule when
 * used up), wait out its delay, and answer per the rule (webapi: as the Web API
 * does, else as a webhook). Returns 1 if a now holds the faulted answer, 0 if the
 * request should go on normally (no rule, or status 200). */
int fault_check(struct slackd *sd, const char *channel, int webapi, struct answer *a);

/* POST /_control/faults: a rule object or an array of them, appended atomically. */
void control_faults_add(struct slackd *sd, const struct req *rq, struct answer *a);

/* ---- the Slack API and the recorded messages (api.c) ---- */

/* Drop the oldest message. Caller holds mu and sd->cnt > 0. */
void ring_drop_oldest(struct slackd *sd);

/* POST /hooks/<channel>: an incoming webhook. */
void handle_webhook(struct slackd *sd, const struct req *rq, const char *channel,
                    struct answer *a);

/* POST /api/chat.postMessage: the Web API; errors are HTTP 200 {"ok":false,...}. */
void handle_webapi(struct slackd *sd, struct MHD_Connection *conn, const struct req *rq,
                   struct answer *a);

/* POST /api/chat.update: edit a message the Web API posted. */
void handle_update(struct slackd *sd, struct MHD_Connection *conn, const struct req *rq,
                   struct answer *a);

/* POST /api/conversations.history: the messages the Web API posted to a channel. */
void handle_history(struct slackd *sd, struct MHD_Connection *conn, const struct req *rq,
                    struct answer *a);

/* GET /_control/messages[?channel=X][&since=SEQ]: the recorded messages, oldest
 * first, as a JSON array. */
void control_messages(struct slackd *sd, struct MHD_Connection *conn, struct answer *a);

#endif
