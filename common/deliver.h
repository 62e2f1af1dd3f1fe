/* deliver.h -- send Slack messages over HTTP, concurrently, with retries.
 *
 * One deliverer per consumer thread (it owns a curl multi handle). A batch of
 * deliveries runs concurrently; each is retried on network errors, timeouts and 5xx
 * with exponential backoff, on 429 after the Retry-After the server gave, until
 * max_attempts or give_up_ms; a permanent answer (invalid_payload, channel_not_found,
 * channel_is_archived, other 4xx, or a Web API {"ok":false}) ends it at once.
 *
 * Secrets: a receiver's URL and token never appear in a log line or a reason; the
 * receiver is named by its name.
 */
#ifndef HERALD_DELIVER_H
#define HERALD_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum receiver_type {
    RECEIVER_WEBHOOK = 0, /* incoming webhook: POST payload to url, answer "ok" */
    RECEIVER_WEBAPI,      /* chat.postMessage with a bot token, answer {"ok":true,"ts"} */
};

struct receiver {
    const char *name; /* never NULL */
    enum receiver_type type;
    const char
        *url; /* webhook URL, or the Web API base ("https://slack.com/api"); secret */
    const char *token;   /* Web API bot token; secret; NULL for webhooks */
    const char *channel; /* Web API: channel to post to; webhook: display name only; may
                            be NULL */
};

struct deliver_opts {
    int64_t timeout_ms;         /* per attempt, connect + transfer */
    int max_attempts;           /* >= 1 */
    int64_t backoff_initial_ms; /* first retry delay; doubles each time */
    int64_t backoff_max_ms;     /* cap on one delay */
    int64_t give_up_ms;         /* total time for one delivery, across retries */
    int64_t retry_after_max_ms; /* longest Retry-After honoured as given */
    int max_parallel;           /* concurrent transfers */
    int64_t shutdown_ms;        /* on SIGTERM, how long sends in flight may finish */
};

enum deliver_status {
    DELIVER_PENDING = 0, /* not finished (stopped early) */
    DELIVER_OK,          /* Slack accepted the message */
    DELIVER_PERMANENT,   /* Slack refused it for good (reason says why) */
    DELIVER_GAVE_UP,     /* retries or time exhausted (reason: the last error) */
};

struct delivery {
    /* in */
    const struct receiver *rcv; /* borrowed */
    const char *body;           /* payload, borrowed until deliverer_run returns */
    const char *method;         /* Web API method: NULL = "chat.postMessage" */
    const char *content_type;   /* NULL = "application/json; charset=utf-8" */
    /* out */
    enum deliver_status status;
    int attempts;
    long http_status; /* last HTTP status, 0 if none */
    char reason[128]; /* "invalid_payload", "http_500", "timeout", ...; "" when OK */
    char ts[64];      /* Web API: ts of the posted message; "" otherwise */
    int64_t done_ms;  /* wall-clock ms when Slack accepted it */
    int64_t retry_after_ms; /* the last answer's Retry-After (ms), as given; 0 none */
    char *answer;     /* keep_answer: the last answer's body (caller frees); else NULL */
    bool keep_answer; /* in: keep the answer (conversations.history) */
};

struct deliverer;

/* Fill opts with the defaults (10 s timeout, 6 attempts, 1 s .. 30 s backoff,
 * give up after 120 s, Retry-After honoured up to 120 s, 8 in parallel). */
void deliver_opts_default(struct deliver_opts *o);

/* Create a deliverer. Requires curl_global_init() done once by main(). Returns NULL
 * and sets errstr on failure. */
struct deliverer *deliverer_new(const struct deliver_opts *o, char *errstr,
                                size_t errstr_size);
void deliverer_free(struct deliverer *d);

/* Deliver items[0..n) concurrently; returns when every item has a final status or
 * when *stop (may be NULL) becomes non-zero — then unfinished items are left
 * DELIVER_PENDING. Returns the number of items with DELIVER_OK. Only the thread that
 * owns d may call it. */
size_t deliverer_run(struct deliverer *d, struct delivery *items, size_t n,
                     const volatile int *stop);

/* One attempt of `it` (borrowed until it comes back from deliverer_poll or
 * deliverer_abort), concurrently with the others started: a transient failure
 * (network, timeout, 5xx, 429) ends it DELIVER_GAVE_UP with the reason and
 * retry_after_ms, a refusal DELIVER_PERMANENT. The caller schedules retries
 * (consumer/sender.c keeps them in Redis). Returns 0 when started, 1 when it is
 * malformed and already DELIVER_PERMANENT (not started), -1 out of memory. */
int deliverer_start(struct deliverer *d, struct delivery *it);

/* Run the attempts in flight for at most wait_ms (less when one ends) and put up to
 * max of the finished ones in done[]. Returns how many. With none in flight it
 * waits wait_ms (or until deliverer_wakeup) and returns 0. */
size_t deliverer_poll(struct deliverer *d, int wait_ms, struct delivery **done,
                      size_t max);

/* End a deliverer_poll() waiting in another thread now (more work was queued). The
 * one call that is thread-safe. */
void deliverer_wakeup(struct deliverer *d);

/* Stop every attempt in flight (shutdown): each comes back DELIVER_PENDING with
 * reason "aborted" (up to max of them in done[]; call again while it returns max). */
size_t deliverer_abort(struct deliverer *d, struct delivery **done, size_t max);

/* Attempts in flight. */
size_t deliverer_active(const struct deliverer *d);

/* Parse a delay from a Retry-After header value (seconds); -1 if invalid. */
int64_t deliver_parse_retry_after(const char *value);

#endif
