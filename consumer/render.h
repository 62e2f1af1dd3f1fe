/* render.h -- an alert record (what the engine queued, consumer/lua/base.lua E.emit)
 * as a Slack message, as a line for the history store's topic (contract in
 * docs/events.md "Alert records"), and as the summary the backtest prints.
 *
 * The record is JSON: {id, kind, inc, thread, t, svc, stg, ver, tier, job, ev (the
 * event JSON of the run it is about), nf, fft, ffb, thr, sup, since, lines, note
 * {b, t}, downstream, start, win, members [{svc, ver, job, b, url, stg, lines, rec}],
 * n, recovered}. Every string from an event reaches Slack through slack.c's escaping.
 */
#ifndef HERALD_RENDER_H
#define HERALD_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alert.h"
#include "config.h"
#include "deliver.h"
#include "event.h"

struct rendered {
    struct alert a;     /* points into the fields below */
    const char *kind;   /* "failure", "ecosystem-update", ... (the record's) */
    const char *id;     /* the alert id */
    const char *inc;    /* the incident it belongs to ("" none) */
    const char *thread; /* open, reply, update, none */
    int64_t t;          /* event time it was decided at */
    bool update;        /* ecosystem-update: the incident's current state */
    struct event ev;    /* the run, when the record has one */
    bool has_ev;
    const char **lines;           /* owned array; strings borrowed from root */
    struct alert_member *members; /* owned array */
    cJSON *root;                  /* the parsed record; owns the strings */
    char *link;                   /* owned: a.link, the dashboard page, or NULL */
};

/* Parse record (NUL-terminated JSON) into r. Returns 0, or -1 with errstr (a bad
 * record: it cannot be sent). r need not be initialised; release it either way. */
int render_parse(const struct config *cfg, const char *record, struct rendered *r,
                 char *errstr, size_t errstr_size);
void render_release(struct rendered *r);

/* The Slack request for r to receiver rcv, into d (d->body a new string the caller
 * frees; d->method set): a webhook payload; on the Web API chat.postMessage to
 * `channel` (a reply when parent_ts is not "", with metadata naming the alert so a
 * retry can find it in the channel's history), or chat.update of parent_ts for an
 * update. note: mrkdwn-unsafe text shown as a context line ("" none). 0 or -1. */
int render_request(const struct rendered *r, const struct receiver *rcv,
                   const char *channel, const char *parent_ts, const char *note,
                   struct delivery *d);

/* The form body of conversations.history for `channel` around since_ms (new string). */
char *render_history_query(const char *channel, int64_t since_ms);

/* true if a conversations.history answer holds the message of alert `id`; its ts goes
 * into ts. */
bool render_history_find(const char *answer, const char *id, char *ts, size_t ts_size);

/* The record of a delivered alert for the alerts topic (docs/events.md). New string. */
char *render_topic_record(const struct rendered *r, const char *receiver,
                          const char *channel, int64_t sent_ms, const char *ts);

/* One line for the backtest and the determinism tests: {"dest", "kind", "thread",
 * "incident", "subject", "service", "stage", "version", "url", "services", "lines",
 * "failures", "suppressed", "alert_id", "text"}; text is the "text" of body (the
 * rendered request, may be NULL); with_body adds "body", the request itself. New
 * string. */
char *render_summary(const struct rendered *r, const char *dest, const char *body,
                     bool with_body);

#endif
