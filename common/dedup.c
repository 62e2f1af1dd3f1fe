/* dedup.c -- see dedup.h. */
#include "dedup.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* KEYS[1] window hash, KEYS[2] set of ids counted in this window.
 * ARGV: event id, event time ms, window ms, ttl ms.
 * Hash fields: ws window start, aid alerted event id, conf 1 once delivered,
 * sup/since suppressed in this window, psup/psince what the alert of this window
 * carried (kept to re-send the same alert after a crash).
 * Returns {verdict, suppressed, since, window start}. */
static const char check_lua[] =
    "local h = redis.call('HMGET', KEYS[1], 'ws', 'aid', 'conf', 'sup', 'since',"
    " 'psup', 'psince')\n"
    "local id, t = ARGV[1], tonumber(ARGV[2])\n"
    "local win, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "local ws = tonumber(h[1])\n"
    "if h[2] == id then\n"
    "  if h[3] == '1' then return {2, 0, 0, ws} end\n"
    "  return {0, tonumber(h[6]) or 0, tonumber(h[7]) or 0, ws}\n"
    "end\n"
    "if ws == nil or t >= ws + win then\n"
    "  local sup, since = tonumber(h[4]) or 0, tonumber(h[5]) or 0\n"
    "  redis.call('HSET', KEYS[1], 'ws', t, 'aid', id, 'conf', '0', 'sup', 0,"
    " 'since', 0, 'psup', sup, 'psince', since)\n"
    "  redis.call('DEL', KEYS[2])\n"
    "  redis.call('PEXPIRE', KEYS[1], ttl)\n"
    "  return {0, sup, since, t}\n"
    "end\n"
    "if redis.call('SADD', KEYS[2], id) == 0 then return {2, 0, 0, ws} end\n"
    "redis.call('PEXPIRE', KEYS[2], ttl)\n"
    "local n = redis.call('HINCRBY', KEYS[1], 'sup', 1)\n"
    "if n == 1 then redis.call('HSET', KEYS[1], 'since', t) end\n"
    "redis.call('PEXPIRE', KEYS[1], ttl)\n"
    "return {1, n, 0, ws}\n";

/* KEYS[1] window hash; ARGV[1] event id. Confirms only if it is still the alert
 * of the current window. */
static const char confirm_lua[] =
    "if redis.call('HGET', KEYS[1], 'aid') == ARGV[1] then\n"
    "  redis.call('HSET', KEYS[1], 'conf', '1') return 1 end\n"
    "return 0\n";

static int check_idx = -1, confirm_idx = -1;

int dedup_setup(struct rconn *r)
{
    check_idx = rconn_add_script(r, check_lua);
    confirm_idx = rconn_add_script(r, confirm_lua);
    return check_idx < 0 || confirm_idx < 0 ? -1 : 0;
}

int dedup_key(struct dedup_req *req, const char *prefix, const char *const *parts,
              size_t nparts)
{
    struct buf b;
    int rc = 0;

    buf_init(&b, DEDUP_MAX_KEY - 8);
    rc |= buf_printf(&b, "%sdd:{", prefix);
    for (size_t i = 0; i < nparts; i++)
        rc |= buf_printf(&b, "%s%s", i ? "|" : "", parts[i]);
    rc |= buf_puts(&b, "}");
    if (rc == 0)
        memcpy(req->key, b.data, b.len + 1);
    buf_release(&b);
    return rc ? -1 : 0;
}

/* Read n pipelined replies into replies[]. Returns 0; 1 if Redis lost the scripts
 * (restarted: reload and retry); -1 on I/O or script error. */
static int read_replies(redisContext *ctx, redisReply **replies, size_t n, char *errstr,
                        size_t errstr_size)
{
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        void *rep = NULL;
        if (redisGetReply(ctx, &rep) != REDIS_OK || !rep) {
            snprintf(errstr, errstr_size, "%s", ctx->errstr[0] ? ctx->errstr : "no reply");
            return -1;
        }
        replies[i] = rep;
        if (rconn_is_noscript(rep)) {
            if (rc == 0)
                rc = 1;
        } else if (replies[i]->type == REDIS_REPLY_ERROR) {
            snprintf(errstr, errstr_size, "%.200s", replies[i]->str);
            rc = -1;
        }
    }
    return rc;
}

static void free_replies(redisReply **replies, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (replies[i]) {
            freeReplyObject(replies[i]);
            replies[i] = NULL;
        }
}

static int64_t reply_int(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_INTEGER ? (int64_t)r->integer : 0;
}

/* One attempt: append every command, read every reply. */
static int check_once(struct rconn *r, redisContext *ctx, struct dedup_req *reqs, size_t n,
                      int64_t window_ms, redisReply **replies, char *errstr,
                      size_t errstr_size)
{
    char key2[DEDUP_MAX_KEY + 8], t[32], w[32], ttl[32];
    int64_t ttl_ms = 2 * window_ms + 86400000LL;
    int rc;

    snprintf(w, sizeof(w), "%" PRId64, window_ms);
    snprintf(ttl, sizeof(ttl), "%" PRId64, ttl_ms);
    for (size_t i = 0; i < n; i++) {
        snprintf(key2, sizeof(key2), "%s:ids", reqs[i].key);
        snprintf(t, sizeof(t), "%" PRId64, reqs[i].event_ms);
        const char *argv[] = {"EVALSHA", rconn_sha(r, check_idx), "2", reqs[i].key, key2,
                              reqs[i].event_id, t, w, ttl};
        if (redisAppendCommandArgv(ctx, 9, argv, NULL) != REDIS_OK) {
            snprintf(errstr, errstr_size, "%s", ctx->errstr);
            return -1;
        }
    }
    if ((rc = read_replies(ctx, replies, n, errstr, errstr_size)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const redisReply *rep = replies[i];
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 4) {
            snprintf(errstr, errstr_size, "unexpected reply from the dedup script");
            return -1;
        }
        reqs[i].verdict = (enum dedup_verdict)reply_int(rep->element[0]);
        reqs[i].suppressed = reqs[i].verdict == DEDUP_ALERT ? reply_int(rep->element[1]) : 0;
        reqs[i].since_ms = reqs[i].verdict == DEDUP_ALERT ? reply_int(rep->element[2]) : 0;
        reqs[i].window_start_ms = reply_int(rep->element[3]);
    }
    return 0;
}

int dedup_check(struct rconn *r, struct dedup_req *reqs, size_t n, int64_t window_ms,
                char *errstr, size_t errstr_size)
{
    redisReply **replies;
    redisContext *ctx;
    int rc = -1;

    if (n == 0)
        return 0;
    if (!(replies = calloc(n, sizeof(*replies)))) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!(ctx = rconn_get(r))) {
            snprintf(errstr, errstr_size, "%s", r->err);
            break;
        }
        rc = check_once(r, ctx, reqs, n, window_ms, replies, errstr, errstr_size);
        free_replies(replies, n);
        if (rc == 0)
            break;
        /* NOSCRIPT: Redis restarted; reconnect (reloads scripts) and retry once.
         * The script is atomic and nothing ran, so the retry is safe. */
        bool lost = rc == 1;
        rconn_fail(r, lost ? "scripts lost (Redis restarted?)" : errstr);
        rc = -1;
        if (!lost)
            break;
        r->next_try_ms = 0;
    }
    free(replies);
    return rc;
}

int dedup_confirm(struct rconn *r, const struct dedup_req *reqs, const size_t *idx,
                  size_t n, char *errstr, size_t errstr_size)
{
    redisReply **replies;
    redisContext *ctx;
    int rc = -1;

    if (n == 0)
        return 0;
    if (!(ctx = rconn_get(r))) {
        snprintf(errstr, errstr_size, "%s", r->err);
        return -1;
    }
    if (!(replies = calloc(n, sizeof(*replies)))) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *argv[] = {"EVALSHA", rconn_sha(r, confirm_idx), "1", reqs[idx[i]].key,
                              reqs[idx[i]].event_id};
        if (redisAppendCommandArgv(ctx, 5, argv, NULL) != REDIS_OK) {
            snprintf(errstr, errstr_size, "%s", ctx->errstr);
            goto out;
        }
    }
    rc = read_replies(ctx, replies, n, errstr, errstr_size) == 0 ? 0 : -1;
out:
    free_replies(replies, n);
    free(replies);
    if (rc < 0)
        rconn_fail(r, errstr);
    return rc;
}
