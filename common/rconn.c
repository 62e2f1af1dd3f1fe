/* rconn.c -- see rconn.h. */
#include "rconn.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "log.h"
#include "util.h"

#define RCONN_BACKOFF_MIN 100  /* ms */
#define RCONN_BACKOFF_MAX 5000 /* ms */

void rconn_init(struct rconn *r, const char *host, int port, int db, const char *password,
                int64_t timeout_ms)
{
    memset(r, 0, sizeof(*r));
    r->host = host;
    r->port = port;
    r->db = db;
    r->password = password;
    r->timeout_ms = timeout_ms;
    r->backoff_ms = RCONN_BACKOFF_MIN;
}

int rconn_add_script(struct rconn *r, const char *lua)
{
    if (r->nscripts >= RCONN_MAX_SCRIPTS)
        return -1;
    r->scripts[r->nscripts] = lua;
    return (int)r->nscripts++;
}

const char *rconn_sha(const struct rconn *r, int idx)
{
    return idx >= 0 && (size_t)idx < r->nscripts ? r->shas[idx] : "";
}

void rconn_fail(struct rconn *r, const char *why)
{
    if (why && why != r->err)
        snprintf(r->err, sizeof(r->err), "%s", why);
    if (r->ctx) {
        log_warn("redis %s:%d: %s; reconnecting", r->host, r->port, r->err);
        redisFree(r->ctx);
        r->ctx = NULL;
    }
    r->next_try_ms = util_mono_ms() + r->backoff_ms;
    r->backoff_ms =
        r->backoff_ms * 2 > RCONN_BACKOFF_MAX ? RCONN_BACKOFF_MAX : r->backoff_ms * 2;
}

/* Run one command given as argv; returns the reply (caller frees) or NULL. */
static redisReply *command(struct rconn *r, int argc, const char **argv)
{
    redisReply *rep = redisCommandArgv(r->ctx, argc, argv, NULL);

    if (!rep) {
        snprintf(r->err, sizeof(r->err), "%s",
                 r->ctx->errstr[0] ? r->ctx->errstr : "I/O error");
        return NULL;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        /* Never echo AUTH arguments; Redis' own error text carries none. */
        snprintf(r->err, sizeof(r->err), "%s: %.180s", argv[0], rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

redisContext *rconn_get(struct rconn *r)
{
    struct timeval tv;
    redisReply *rep;
    char db[16];

    if (r->ctx)
        return r->ctx;
    if (util_mono_ms() < r->next_try_ms)
        return NULL;
    tv.tv_sec = r->timeout_ms / 1000;
    tv.tv_usec = (r->timeout_ms % 1000) * 1000;
    r->ctx = redisConnectWithTimeout(r->host, r->port, tv);
    if (!r->ctx || r->ctx->err) {
        snprintf(r->err, sizeof(r->err), "connect: %s",
                 r->ctx ? r->ctx->errstr : "out of memory");
        goto fail;
    }
    redisSetTimeout(r->ctx, tv);
    if (r->password) {
        const char *argv[] = {"AUTH", r->username ? r->username : r->password,
                              r->password};
        if (!(rep = command(r, r->username ? 3 : 2, argv)))
            goto fail;
        freeReplyObject(rep);
    }
    if (r->db) {
        snprintf(db, sizeof(db), "%d", r->db);
        const char *argv[] = {"SELECT", db};
        if (!(rep = command(r, 2, argv)))
            goto fail;
        freeReplyObject(rep);
    }
    for (size_t i = 0; i < r->nscripts; i++) {
        const char *argv[] = {"SCRIPT", "LOAD", r->scripts[i]};
        if (!(rep = command(r, 3, argv)))
            goto fail;
        if (rep->type != REDIS_REPLY_STRING || rep->len != 40) {
            snprintf(r->err, sizeof(r->err), "SCRIPT LOAD: unexpected reply");
            freeReplyObject(rep);
            goto fail;
        }
        memcpy(r->shas[i], rep->str, 40);
        r->shas[i][40] = '\0';
        freeReplyObject(rep);
    }
    if (r->backoff_ms > RCONN_BACKOFF_MIN)
        log_info("redis %s:%d: connected", r->host, r->port);
    r->backoff_ms = RCONN_BACKOFF_MIN;
    r->err[0] = '\0';
    return r->ctx;
fail:
    if (r->backoff_ms == RCONN_BACKOFF_MIN)
        log_warn("redis %s:%d: %s", r->host, r->port, r->err);
    if (r->ctx) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
    rconn_fail(r, NULL);
    return NULL;
}

int rconn_script_index(const struct rconn *r, const char *lua)
{
    for (size_t i = 0; i < r->nscripts; i++)
        if (r->scripts[i] == lua)
            return (int)i;
    return -1;
}

redisReply *rconn_eval(struct rconn *r, const char *lua, int argc, const char **argv,
                       size_t *lens, char *errstr, size_t errstr_size)
{
    int idx = rconn_script_index(r, lua);
    redisContext *ctx;
    redisReply *rep = NULL;

    for (int attempt = 0; attempt < 2; attempt++) {
        bool sha = idx >= 0 && attempt == 0;
        if (!(ctx = rconn_get(r))) {
            snprintf(errstr, errstr_size, "redis: %s",
                     r->err[0] ? r->err : "unavailable");
            return NULL;
        }
        argv[0] = sha ? "EVALSHA" : "EVAL";
        argv[1] = sha ? rconn_sha(r, idx) : lua;
        if (lens) {
            lens[0] = strlen(argv[0]);
            lens[1] = strlen(argv[1]);
        }
        if (!(rep = redisCommandArgv(ctx, argc, argv, lens))) {
            snprintf(errstr, errstr_size, "redis: %s",
                     ctx->errstr[0] ? ctx->errstr : "I/O error");
            rconn_fail(r, errstr);
            return NULL;
        }
        if (!sha || !rconn_is_noscript(rep))
            break;
        freeReplyObject(rep); /* Redis restarted: send the source this time */
        rep = NULL;
    }
    if (rep && rep->type == REDIS_REPLY_ERROR) {
        snprintf(errstr, errstr_size, "script error: %.200s", rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

bool rconn_is_noscript(const redisReply *rep)
{
    return rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0;
}

void rconn_release(struct rconn *r)
{
    if (r && r->ctx) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
}
