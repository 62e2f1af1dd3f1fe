/* deliver_int.h -- private to the deliverer (deliver.c: attempts, retries, the
 * drivers; deliver_judge.c: what an answer means); nothing else includes it. The
 * public manual is deliver.h.
 *
 * Threads: as struct deliverer's: one thread at a time.
 */
#ifndef HERALD_DELIVER_INT_H
#define HERALD_DELIVER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "deliver.h"
#include "util.h"

#define DELIVER_RESP_MAX (64 * 1024) /* bytes of an answer kept */

/* One delivery in flight or waiting for its next attempt. */
struct xfer {
    struct delivery *it;
    CURL *easy;              /* non-NULL while an attempt runs */
    struct curl_slist *hdrs; /* owned by the running attempt */
    char *url;               /* full URL; secret */
    struct buf resp;         /* answer body, at most DELIVER_RESP_MAX */
    int64_t first_ms;        /* monotonic start of the first attempt; 0 before */
    int64_t next_ms;         /* monotonic time the next attempt may start */
    bool done;
    bool single; /* one attempt (deliverer_start): a transient failure ends it */
    struct xfer *prev, *next; /* deliverer_start's attempts in flight */
};

enum verdict { V_OK, V_RETRY, V_PERMANENT };

/* The verdict on an attempt of x that ended with cc and, if cc is CURLE_OK, the HTTP
 * status code; the answer's body is x->resp. Sets x->it->reason (a short word,
 * "ratelimited", "http_503", Slack's error) and, for a Web API answer, x->it->ts;
 * *ratelimited tells a 429 or Slack's ratelimited error (deliver_judge.c). */
enum verdict deliver_judge(struct xfer *x, CURLcode cc, long code, bool *ratelimited);

#endif
