/* storm.h -- storm control per receiver: a rate limit shared by every consumer, and
 * a digest for what exceeds it.
 *
 * Slack takes about one message per second per channel, with short bursts. Every
 * consumer process takes tokens for a receiver from one token bucket in Redis before
 * it sends; an alert that gets no token is folded into the receiver's digest (one line
 * per alert), and the digest is sent as one message when a token is available again.
 * Nothing is dropped: a digest is removed only after its delivery was reported
 * (storm_digest_done), and the count it carries (`total`) always covers every line,
 * also those not shown.
 *
 * Keys (P = the caller's prefix, R = the receiver name; the braces are a Redis
 * Cluster hash tag, so one receiver's keys share a slot):
 *
 *   P storm:{R}               hash  tokens (float), ts (wall ms of the last refill);
 *                                   PEXPIREs once it would be full again anyway (>= 1 h)
 *   P storm:{R}:digest        list  one folded alert per element, "<fold ms> <text>";
 *                                   oldest first; at most STORM_MAX_DIGEST elements
 *   P storm:{R}:digest:meta   hash  removed (elements ever trimmed from the head),
 *                                   xadd/xdel (alerts ever counted without a line
 *                                   because the list was full / of those, delivered),
 *                                   xfirst (ms of the oldest counted-only alert),
 *                                   xmark (ms of the first one counted since the last
 *                                   claim: xfirst of what a done leaves)
 *   P storm:{R}:lock          string  random token of the consumer sending the digest,
 *                                   PX lease_ms
 *   P storm:pending           set   receivers whose digest is not empty
 *
 * The digest list and its meta hash do not expire: an undelivered digest is kept
 * until it is delivered. `P storm:pending` is outside the receiver's hash tag, so the
 * scripts need a single Redis (or one slot); Herald does not use Redis Cluster.
 *
 * Positions: `removed` + the index in the list is a line's position in the receiver's
 * stream of folded lines. A claim records where its digest ends; done trims only what
 * lies before that end and has not been trimmed yet. So a late done from a consumer
 * whose lease expired, a second claimer that re-sent the same lines, and folds that
 * arrive while a digest is in flight can never remove a line nobody delivered.
 *
 * Time: now_ms is wall-clock ms (Slack's limit is wall time); consumers' clocks should
 * agree within a few ms. A clock behind the bucket's `ts` refills nothing (never more
 * than the limit).
 *
 * Threads: hiredis is not thread-safe, so each thread passes its own rconn; the
 * functions keep no other state. All of them reach Redis through one Lua script
 * (atomic), registered by storm_setup(); after NOSCRIPT (Redis restarted) they
 * reconnect, which reloads it, and retry once. On any other Redis failure they return
 * -1 with errstr set and the connection reset (rconn_fail), as dedup does.
 */
#ifndef HERALD_STORM_H
#define HERALD_STORM_H

#include <stddef.h>
#include <stdint.h>

#include "rconn.h"

#define STORM_DEFAULT_RATE 1.0 /* tokens per second */
#define STORM_DEFAULT_BURST 3  /* tokens */
#define STORM_MIN_RATE 0.001   /* tokens per second */
#define STORM_MAX_BURST 10000  /* tokens */
#define STORM_MAX_NAME 256     /* bytes of a receiver name */
#define STORM_MAX_KEY 512      /* bytes of a Redis key, prefix included */
#define STORM_MAX_LINE 2000    /* bytes of a folded line; longer ones are cut (UTF-8) */
#define STORM_MAX_FOLD 4096    /* lines per storm_fold() call */
#define STORM_MAX_DIGEST 10000 /* lines kept per receiver; more are only counted */
#define STORM_MAX_CLAIM 1000   /* lines a claim returns at most */
#define STORM_MAX_PENDING 4096 /* receivers storm_pending() returns at most */

struct storm_limit {
    double rate; /* tokens per second, >= STORM_MIN_RATE */
    int burst;   /* bucket capacity in tokens, 1..STORM_MAX_BURST */
};

/* Register the storm script on r. Call once per rconn, before its first rconn_get()
 * (a second call on the same rconn is harmless). Returns 0, or -1 if r has no room for
 * another script (RCONN_MAX_SCRIPTS). */
int storm_setup(struct rconn *r);

/* Take up to `want` tokens from receiver rcv's bucket at wall time now_ms; lim NULL
 * means the defaults (STORM_DEFAULT_RATE, STORM_DEFAULT_BURST). The bucket starts
 * full. Returns the number granted (0..want; 0 without I/O when want <= 0), or -1 with
 * errstr set (Redis failed, or an argument is out of range). prefix may be "" but not
 * NULL; rcv is a non-empty name of at most STORM_MAX_NAME bytes. */
int storm_take(struct rconn *r, const char *prefix, const char *rcv,
               const struct storm_limit *lim, int64_t now_ms, int want, char *errstr,
               size_t errstr_size);

/* Append lines[0..n) (borrowed; none NULL) to rcv's digest at wall time now_ms, in
 * one atomic round trip, and list rcv in `P storm:pending`. Lines longer than
 * STORM_MAX_LINE bytes are cut at a UTF-8 character boundary; once the list holds
 * STORM_MAX_DIGEST lines, further alerts are only counted (they still add up in
 * `total`). n may be 0 (no I/O); at most STORM_MAX_FOLD. Returns 0, or -1 with errstr
 * set. After -1 following a timeout the lines may have been appended: a retry can
 * fold them twice (at least once, never lost). */
int storm_fold(struct rconn *r, const char *prefix, const char *rcv,
               const char *const *lines, size_t n, int64_t now_ms, char *errstr,
               size_t errstr_size);

/* A claimed digest. Filled by storm_digest_claim(); release with
 * storm_digest_release(). */
struct storm_digest {
    char lock[33];     /* our lock token (32 hex digits) */
    char **lines;      /* the oldest nlines lines, text only (no fold time); owned */
    size_t nlines;     /* <= max_lines */
    int64_t total;     /* alerts in the digest when claimed (>= nlines) */
    int64_t first_ms;  /* wall ms when the oldest of them was folded */
    int64_t seq_end;   /* internal: stream position where this digest ends */
    int64_t extra_end; /* internal: counted-only alerts covered (xadd at claim) */
};

/* Claim rcv's digest for sending: if it is not empty, nobody holds its lock and the
 * bucket has a token (a digest is a message too), take the token, lock the digest for
 * lease_ms (> 0) and return 1 with *d filled: the oldest min(max_lines,
 * STORM_MAX_CLAIM) lines (max_lines 0: none, only the count) and `total`, the number
 * of alerts the digest stands for.
 * Returns 0 with *d empty when there is nothing to send now (empty, locked by another
 * consumer, or no token: try later); an empty digest is also taken off
 * `P storm:pending`. Returns -1 with errstr set and *d empty on failure. d need not be
 * initialised (it is overwritten). Follow a 1 with storm_digest_done() or
 * storm_digest_abort() before the lease ends; if the caller dies instead, the lock
 * expires and another consumer sends the same digest again (at least once). */
int storm_digest_claim(struct rconn *r, const char *prefix, const char *rcv,
                       const struct storm_limit *lim, int64_t now_ms, int64_t lease_ms,
                       size_t max_lines, struct storm_digest *d, char *errstr,
                       size_t errstr_size);

/* The digest in d was delivered: remove the alerts it covered (all `total`, also
 * those beyond nlines; lines folded since the claim stay for the next digest), release
 * the lock if it still holds d->lock, and take rcv off `P storm:pending` if nothing is
 * left. If the lease had expired meanwhile this still removes only what was not removed
 * already, and logs a warning (the digest may have been sent twice). d is not changed;
 * release it afterwards. Returns 0, or -1 with errstr set (the lines stay; the lock
 * expires: they will be sent again). */
int storm_digest_done(struct rconn *r, const char *prefix, const char *rcv,
                      const struct storm_digest *d, char *errstr, size_t errstr_size);

/* Delivery of d failed: release the lock if it still holds d->lock and keep every
 * line for the next claim. The token stays spent. Returns 0, or -1 with errstr set
 * (the lock then expires after its lease). */
int storm_digest_abort(struct rconn *r, const char *prefix, const char *rcv,
                       const struct storm_digest *d, char *errstr, size_t errstr_size);

/* Free d's lines and empty it. Accepts NULL and an empty or released digest. */
void storm_digest_release(struct storm_digest *d);

/* Receivers listed in `P storm:pending` (a non-empty digest), for a periodic flush:
 * at most STORM_MAX_PENDING of them, a random subset if there are more. Sets *names to
 * a new array of *n new strings (caller frees each and the array; NULL when *n is 0).
 * Returns 0, or -1 with errstr set and *names NULL, *n 0. */
int storm_pending(struct rconn *r, const char *prefix, char ***names, size_t *n,
                  char *errstr, size_t errstr_size);

#endif
