/* outbox.h -- the alerts the engine queued, waiting for Slack: one queue per
 * destination (dests.h) in Redis, shared by every consumer (consumer/lua/claim.lua,
 * finish.lua).
 *
 * A sender claims the head message of each ready destination (a lease: nobody else
 * sends that destination until it ends), sends it, and finishes it: sent (it leaves
 * the queue; a Web API ts is kept for the incident's thread), refused for good (it
 * leaves; a copy goes to the fallback destination), or retry after a delay (it stays
 * at the head, however long the receiver is away). Nothing is lost when a consumer
 * dies: its leases end and another consumer sends the same messages.
 *
 * One outbox per thread (it uses that thread's rconn).
 */
#ifndef HERALD_OUTBOX_H
#define HERALD_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "rconn.h"

struct outbox {
    struct rconn *r; /* borrowed */
    struct keys keys;
    char holder[24]; /* this consumer's lease token */
    double rate;     /* messages per second per destination */
    int burst;
};

/* A claimed message. Strings owned by the item. */
struct outbox_item {
    char *dest;   /* "w:<receiver>" or "a:<receiver>#<channel>" */
    char *member; /* its queue entry */
    char *alert_id;
    char *record;     /* the alert (render.h) */
    char *parent_ts;  /* ts of the message that opened its thread; "" none */
    char *note;       /* fallback: "<receiver>: <reason>" it was refused with; "" none */
    int attempts;     /* failed attempts so far */
    bool uncertain;   /* an earlier attempt may have been delivered (a timeout) */
    int64_t since_ms; /* wall: first claimed */
};

enum outbox_result { OUTBOX_SENT, OUTBOX_REFUSED, OUTBOX_RETRY, OUTBOX_ABORTED };

struct outbox_done {
    const struct outbox_item *it; /* borrowed */
    enum outbox_result result;
    const char *ts;       /* SENT on the Web API: the message's ts; else NULL */
    int64_t delay_ms;     /* RETRY: when to try again */
    bool uncertain;       /* RETRY: this attempt may have been delivered */
    const char *fallback; /* REFUSED: the fallback destination, or NULL */
    const char *note;     /* REFUSED: for the fallback's message */
};

/* Set up on r (registers the scripts: call before r's first rconn_get). rate/burst:
 * storm control per destination. Returns 0, or -1. */
int outbox_init(struct outbox *o, struct rconn *r, const char *prefix, double rate,
                int burst);

/* Claim up to max ready destinations' head messages at wall time now_ms, leased for
 * lease_ms. *items is a new array of *n items (release with outbox_items_free).
 * *depth: messages queued in all; *next_ms: when the next destination is due (0 none).
 * Returns 0, or -1 with errstr (nothing claimed, or the claims end with their lease). */
int outbox_claim(struct outbox *o, int64_t now_ms, int64_t lease_ms, size_t max,
                 struct outbox_item **items, size_t *n, long *depth, int64_t *next_ms,
                 char *errstr, size_t errstr_size);

/* Record what became of claimed messages (one round trip; idempotent, so it may be
 * repeated after a timeout). Returns 0, or -1 with errstr. */
int outbox_finish(struct outbox *o, int64_t now_ms, const struct outbox_done *d, size_t n,
                  char *errstr, size_t errstr_size);

void outbox_item_release(struct outbox_item *it);
void outbox_items_free(struct outbox_item *items, size_t n);

#endif
