/* rconn.h -- one Redis connection with reconnect, AUTH, SELECT and Lua scripts.
 *
 * hiredis 0.14 is not thread-safe: one rconn per thread. A failed connection is
 * freed; rconn_get() reconnects no more often than the backoff allows (100 ms
 * doubling to 5 s) so a Redis outage costs no busy loop.
 */
#ifndef HERALD_RCONN_H
#define HERALD_RCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis.h>

#define RCONN_MAX_SCRIPTS 16

struct rconn {
    redisContext *ctx; /* NULL while disconnected */
    const char *host;  /* borrowed from the config */
    int port;
    int db;
    const char *password; /* borrowed; secret */
    const char *username; /* borrowed; NULL (rconn_init): AUTH with the password
                             alone, as Redis' default user; else an ACL user,
                             set after rconn_init */
    int64_t timeout_ms;
    int64_t next_try_ms; /* monotonic; no reconnect before this */
    int64_t backoff_ms;
    const char *scripts[RCONN_MAX_SCRIPTS]; /* borrowed Lua sources */
    char shas[RCONN_MAX_SCRIPTS][41];
    size_t nscripts;
    char err[256]; /* last error, for logs and /readyz */
};

/* Set up (no I/O). Strings are borrowed and must outlive the rconn. */
void rconn_init(struct rconn *r, const char *host, int port, int db, const char *password,
                int64_t timeout_ms);

/* Register a Lua script (borrowed source); returns its index for rconn_sha(), or -1.
 * Call before the first rconn_get(). */
int rconn_add_script(struct rconn *r, const char *lua);

/* The connected context, connecting (and loading scripts) if needed; NULL while
 * Redis is unreachable or the backoff has not elapsed (r->err says why). */
redisContext *rconn_get(struct rconn *r);

/* SHA1 of script `idx` (valid after a successful rconn_get). */
const char *rconn_sha(const struct rconn *r, int idx);

/* Mark the connection broken (after an I/O error): frees it, schedules a reconnect. */
void rconn_fail(struct rconn *r, const char *why);

/* Index of the registered script whose source is `lua` (the same pointer), or -1. */
int rconn_script_index(const struct rconn *r, const char *lua);

/* Run Lua script `lua` (borrowed source): argv[2..argc) are "numkeys keys... args..."
 * (lens NULL, or their lengths); argv[0..1] (and lens[0..1]) are filled in here.
 * EVALSHA when the script is registered on r; after NOSCRIPT (Redis restarted) or if
 * it is not registered, EVAL with the source, which caches it again. Returns the
 * reply (caller frees with freeReplyObject), or NULL with errstr: Redis unreachable
 * or an I/O error (the connection is reset), or the script's error reply. */
redisReply *rconn_eval(struct rconn *r, const char *lua, int argc, const char **argv,
                       size_t *lens, char *errstr, size_t errstr_size);

/* true if a reply is a NOSCRIPT error (Redis restarted and lost the scripts). */
bool rconn_is_noscript(const redisReply *rep);

/* Drop the connection. */
void rconn_release(struct rconn *r);

#endif
