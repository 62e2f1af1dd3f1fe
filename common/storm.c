/* storm.c -- see storm.h. */
#include "storm.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"
#include "util.h"

#define NKEYS 5 /* bucket, digest, meta, lock, pending */
#define ARGS0 9 /* EVALSHA sha 5 <5 keys> op: the fixed head of every call */
#define BUCKET_TTL_MIN 3600000LL        /* ms */
#define BUCKET_TTL_MAX (7 * 86400000LL) /* ms */

/* One script for every operation (one of RCONN_MAX_SCRIPTS), dispatched on ARGV[1].
 * KEYS: 1 bucket hash, 2 digest list, 3 digest meta hash, 4 lock, 5 pending set.
 *   take  now rate burst ttl want                     -> granted
 *   fold  now rcv cap line...                         -> alerts in the digest
 *   claim now rate burst ttl rcv token lease maxlines
 *         -> {0} | {1, total, first ms, seq end, xadd, line...}
 *   done  token rcv seq_end extra_end                 -> {trimmed, counted, released}
 *   abort token                                       -> released
 * Numbers written back go through string.format: Lua's default conversion keeps only
 * 14 digits. */
static const char storm_lua[] =
    "local op = ARGV[1]\n"
    "local function refill(now, rate, burst)\n"
    "  local h = redis.call('HMGET', KEYS[1], 'tokens', 'ts')\n"
    "  local tokens, ts = tonumber(h[1]), tonumber(h[2])\n"
    "  if tokens == nil or ts == nil then return burst, now end\n"
    "  if now > ts then\n"
    "    tokens = tokens + (now - ts) * rate / 1000\n"
    "    ts = now\n"
    "  end\n"
    "  return math.min(burst, tokens), ts\n"
    "end\n"
    "local function save(tokens, ts, ttl)\n"
    "  if tokens < 0 then tokens = 0 end\n"
    "  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),"
    " 'ts', string.format('%.0f', ts))\n"
    "  redis.call('PEXPIRE', KEYS[1], ttl)\n"
    "end\n"
    "local function meta()\n"
    "  local m = redis.call('HMGET', KEYS[3], 'removed', 'xadd', 'xdel', 'xfirst',"
    " 'xmark')\n"
    "  return tonumber(m[1]) or 0, tonumber(m[2]) or 0, tonumber(m[3]) or 0,"
    " tonumber(m[4]) or 0, tonumber(m[5])\n"
    "end\n"
    "if op == 'take' then\n"
    "  local now, rate, burst = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "  local tokens, ts = refill(now, rate, burst)\n"
    "  local g = math.min(math.floor(tokens + 1e-9), tonumber(ARGV[6]))\n"
    "  if g < 0 then g = 0 end\n"
    "  save(tokens - g, ts, ARGV[5])\n"
    "  return g\n"
    "elseif op == 'fold' then\n"
    "  local now, cap = ARGV[2], tonumber(ARGV[4])\n"
    "  local n = redis.call('LLEN', KEYS[2])\n"
    "  local _, xadd, xdel, _, xmark = meta()\n"
    "  local x0 = xadd\n"
    "  for i = 5, #ARGV do\n"
    "    if n < cap then\n"
    "      redis.call('RPUSH', KEYS[2], now .. ' ' .. ARGV[i])\n"
    "      n = n + 1\n"
    "    else\n"
    "      if xadd == xdel then redis.call('HSET', KEYS[3], 'xfirst', now) end\n"
    "      if xmark == nil then\n"
    "        redis.call('HSET', KEYS[3], 'xmark', now)\n"
    "        xmark = now\n"
    "      end\n"
    "      xadd = xadd + 1\n"
    "    end\n"
    "  end\n"
    "  if xadd ~= x0 then\n"
    "    redis.call('HSET', KEYS[3], 'xadd', string.format('%.0f', xadd))\n"
    "  end\n"
    "  redis.call('SADD', KEYS[5], ARGV[3])\n"
    "  return n + xadd - xdel\n"
    "elseif op == 'claim' then\n"
    "  local now, rate, burst = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "  local maxl = tonumber(ARGV[9])\n"
    "  local n = redis.call('LLEN', KEYS[2])\n"
    "  local removed, xadd, xdel, xfirst = meta()\n"
    "  if n + xadd - xdel <= 0 then\n"
    "    redis.call('SREM', KEYS[5], ARGV[6])\n"
    "    return {0}\n"
    "  end\n"
    "  if redis.call('EXISTS', KEYS[4]) == 1 then return {0} end\n"
    "  local tokens, ts = refill(now, rate, burst)\n"
    "  if tokens + 1e-9 < 1 then\n"
    "    save(tokens, ts, ARGV[5])\n"
    "    return {0}\n"
    "  end\n"
    "  save(tokens - 1, ts, ARGV[5])\n"
    "  redis.call('SET', KEYS[4], ARGV[7], 'PX', ARGV[8])\n"
    "  redis.call('HDEL', KEYS[3], 'xmark')\n"
    "  local first = 0\n"
    "  if n > 0 then\n"
    "    first = tonumber(string.match(redis.call('LINDEX', KEYS[2], 0), '^(%d+) '))"
    " or 0\n"
    "  end\n"
    "  if xadd > xdel and (first == 0 or xfirst < first) then first = xfirst end\n"
    "  local out = {1, n + xadd - xdel, first, removed + n, xadd}\n"
    "  if maxl > 0 then\n"
    "    local lines = redis.call('LRANGE', KEYS[2], 0, maxl - 1)\n"
    "    for i = 1, #lines do out[5 + i] = lines[i] end\n"
    "  end\n"
    "  return out\n"
    "elseif op == 'done' then\n"
    "  local removed, xadd, xdel, _, xmark = meta()\n"
    "  local n = redis.call('LLEN', KEYS[2])\n"
    "  local cnt = math.min(tonumber(ARGV[4]) - removed, n)\n"
    "  if cnt > 0 then\n"
    "    redis.call('LTRIM', KEYS[2], cnt, -1)\n"
    "    redis.call('HSET', KEYS[3], 'removed', string.format('%.0f', removed + cnt))\n"
    "  else\n"
    "    cnt = 0\n"
    "  end\n"
    "  local xc = math.min(tonumber(ARGV[5]), xadd) - xdel\n"
    "  if xc > 0 then\n"
    "    redis.call('HSET', KEYS[3], 'xdel', string.format('%.0f', xdel + xc))\n"
    "    if xadd > xdel + xc and xmark then\n"
    "      redis.call('HSET', KEYS[3], 'xfirst', string.format('%.0f', xmark))\n"
    "    end\n"
    "  else\n"
    "    xc = 0\n"
    "  end\n"
    "  local released = 0\n"
    "  if redis.call('GET', KEYS[4]) == ARGV[2] then\n"
    "    redis.call('DEL', KEYS[4])\n"
    "    released = 1\n"
    "  end\n"
    "  if n - cnt + xadd - xdel - xc <= 0 then redis.call('SREM', KEYS[5], ARGV[3]) end\n"
    "  return {cnt, xc, released}\n"
    "elseif op == 'abort' then\n"
    "  if redis.call('GET', KEYS[4]) == ARGV[2] then\n"
    "    redis.call('DEL', KEYS[4])\n"
    "    return 1\n"
    "  end\n"
    "  return 0\n"
    "end\n"
    "return redis.error_reply('storm: unknown op')\n";

/* The five keys of one receiver, in the script's KEYS order. */
struct keys {
    char k[NKEYS][STORM_MAX_KEY];
};

int storm_setup(struct rconn *r)
{
    for (size_t i = 0; i < r->nscripts; i++)
        if (r->scripts[i] == storm_lua)
            return 0;
    return rconn_add_script(r, storm_lua) < 0 ? -1 : 0;
}

/* Build rcv's keys; checks the name and that every key fits. */
static int make_keys(struct keys *ks, const char *prefix, const char *rcv, char *errstr,
                     size_t errstr_size)
{
    static const char *const suffix[NKEYS - 1] = {"", ":digest", ":digest:meta", ":lock"};
    int w;

    if (!prefix || !rcv || !rcv[0]) {
        snprintf(errstr, errstr_size, "storm: no prefix or receiver name");
        return -1;
    }
    if (strlen(rcv) > STORM_MAX_NAME) {
        snprintf(errstr, errstr_size, "storm: receiver name longer than %d bytes",
                 STORM_MAX_NAME);
        return -1;
    }
    for (int i = 0; i < NKEYS; i++) {
        if (i < NKEYS - 1)
            w = snprintf(ks->k[i], STORM_MAX_KEY, "%sstorm:{%s}%s", prefix, rcv,
                         suffix[i]);
        else
            w = snprintf(ks->k[i], STORM_MAX_KEY, "%sstorm:pending", prefix);
        if (w < 0 || w >= STORM_MAX_KEY) {
            snprintf(errstr, errstr_size, "storm: key longer than %d bytes",
                     STORM_MAX_KEY);
            return -1;
        }
    }
    return 0;
}

/* Fill argv[0..ARGS0) with EVALSHA <sha slot> 5 <keys> op. */
static void head(const char **argv, const struct keys *ks, const char *op)
{
    argv[0] = "EVALSHA";
    argv[1] = NULL; /* set by run() on each attempt */
    argv[2] = "5";
    for (int i = 0; i < NKEYS; i++)
        argv[3 + i] = ks->k[i];
    argv[3 + NKEYS] = op;
}

/* Check a limit (NULL: the defaults) and format its rate, burst and bucket TTL. */
static int limit_args(const struct storm_limit *lim, char *rate, char *burst, char *ttl,
                      size_t size, char *errstr, size_t errstr_size)
{
    double r = lim ? lim->rate : STORM_DEFAULT_RATE;
    int b = lim ? lim->burst : STORM_DEFAULT_BURST;
    double full_ms;
    int64_t ttl_ms;

    if (!isfinite(r) || r < STORM_MIN_RATE || b < 1 || b > STORM_MAX_BURST) {
        snprintf(errstr, errstr_size, "storm: limit out of range (rate %g/s, burst %d)",
                 r, b);
        return -1;
    }
    /* After burst/rate seconds idle the bucket is full: expiring it loses nothing. */
    full_ms = ceil(b * 1000.0 / r) + 60000.0;
    ttl_ms = full_ms > (double)BUCKET_TTL_MAX ? BUCKET_TTL_MAX : (int64_t)full_ms;
    if (ttl_ms < BUCKET_TTL_MIN)
        ttl_ms = BUCKET_TTL_MIN;
    snprintf(rate, size, "%.17g", r);
    snprintf(burst, size, "%d", b);
    snprintf(ttl, size, "%" PRId64, ttl_ms);
    return 0;
}

/* Run the script with argv (head() filled; argv[0..1] are set by rconn_eval; lens
 * NULL, or one length per argument). Returns the reply (caller frees), or NULL with
 * errstr set. */
static redisReply *run(struct rconn *r, int argc, const char **argv, size_t *lens,
                       char *errstr, size_t errstr_size)
{
    if (rconn_script_index(r, storm_lua) < 0) {
        snprintf(errstr, errstr_size,
                 "storm: storm_setup() was not called on this rconn");
        return NULL;
    }
    return rconn_eval(r, storm_lua, argc, argv, lens, errstr, errstr_size);
}

static bool is_int(const redisReply *rep)
{
    return rep && rep->type == REDIS_REPLY_INTEGER;
}

int storm_take(struct rconn *r, const char *prefix, const char *rcv,
               const struct storm_limit *lim, int64_t now_ms, int want, char *errstr,
               size_t errstr_size)
{
    char rate[32], burst[32], ttl[32], now[32], w[32];
    const char *argv[ARGS0 + 5];
    struct keys ks;
    redisReply *rep;
    int granted = -1;

    if (make_keys(&ks, prefix, rcv, errstr, errstr_size) < 0 ||
        limit_args(lim, rate, burst, ttl, sizeof(rate), errstr, errstr_size) < 0)
        return -1;
    if (want <= 0)
        return 0;
    snprintf(now, sizeof(now), "%" PRId64, now_ms);
    snprintf(w, sizeof(w), "%d", want);
    head(argv, &ks, "take");
    argv[ARGS0] = now;
    argv[ARGS0 + 1] = rate;
    argv[ARGS0 + 2] = burst;
    argv[ARGS0 + 3] = ttl;
    argv[ARGS0 + 4] = w;
    if (!(rep = run(r, ARGS0 + 5, argv, NULL, errstr, errstr_size)))
        return -1;
    if (is_int(rep) && rep->integer >= 0 && rep->integer <= want)
        granted = (int)rep->integer;
    else
        snprintf(errstr, errstr_size, "storm: unexpected reply to take");
    freeReplyObject(rep);
    return granted;
}

/* Length of s cut to at most max bytes without splitting a UTF-8 character. */
static size_t cut_len(const char *s, size_t max)
{
    size_t len = strlen(s);

    if (len <= max)
        return len;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

int storm_fold(struct rconn *r, const char *prefix, const char *rcv,
               const char *const *lines, size_t n, int64_t now_ms, char *errstr,
               size_t errstr_size)
{
    char now[32], cap[32];
    const char **argv = NULL;
    size_t *lens = NULL;
    struct keys ks;
    redisReply *rep = NULL;
    size_t argc = ARGS0 + 3 + n;
    int rc = -1;

    if (make_keys(&ks, prefix, rcv, errstr, errstr_size) < 0)
        return -1;
    if (n == 0)
        return 0;
    if (n > STORM_MAX_FOLD) {
        snprintf(errstr, errstr_size, "storm: %zu lines to fold, at most %d per call", n,
                 STORM_MAX_FOLD);
        return -1;
    }
    argv = calloc(argc, sizeof(*argv));
    lens = calloc(argc, sizeof(*lens));
    if (!argv || !lens) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    snprintf(now, sizeof(now), "%" PRId64, now_ms);
    snprintf(cap, sizeof(cap), "%d", STORM_MAX_DIGEST);
    head(argv, &ks, "fold");
    argv[ARGS0] = now;
    argv[ARGS0 + 1] = rcv;
    argv[ARGS0 + 2] = cap;
    for (size_t i = 0; i < n; i++) {
        if (!lines[i]) {
            snprintf(errstr, errstr_size, "storm: line %zu is NULL", i);
            goto out;
        }
        argv[ARGS0 + 3 + i] = lines[i];
    }
    for (size_t i = 0; i < argc; i++)
        if (i != 1)
            lens[i] = i >= ARGS0 + 3 ? cut_len(argv[i], STORM_MAX_LINE) : strlen(argv[i]);
    if (!(rep = run(r, (int)argc, argv, lens, errstr, errstr_size)))
        goto out;
    if (!is_int(rep)) {
        snprintf(errstr, errstr_size, "storm: unexpected reply to fold");
        goto out;
    }
    rc = 0;
out:
    if (rep)
        freeReplyObject(rep);
    free(argv);
    free(lens);
    return rc;
}

/* 32 hex digits from the kernel's CSPRNG into tok[33]. */
static int new_token(char *tok, char *errstr, size_t errstr_size)
{
    unsigned char raw[16];
    ssize_t got;
    char ebuf[128];

    do
        got = getrandom(raw, sizeof(raw), 0);
    while (got < 0 && errno == EINTR);
    if (got != (ssize_t)sizeof(raw)) {
        snprintf(errstr, errstr_size, "storm: getrandom: %s",
                 got < 0 ? util_strerror(errno, ebuf, sizeof(ebuf)) : "short read");
        return -1;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(tok + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

/* A digest element "<fold ms> <text>": a new copy of the text (caller frees). */
static char *line_text(const redisReply *e)
{
    const char *s, *sp;

    if (!e || e->type != REDIS_REPLY_STRING)
        return strdup("");
    s = e->str;
    sp = memchr(s, ' ', e->len);
    if (sp && sp > s && strspn(s, "0123456789") == (size_t)(sp - s))
        return strndup(sp + 1, e->len - (size_t)(sp + 1 - s));
    return strndup(s, e->len);
}

int storm_digest_claim(struct rconn *r, const char *prefix, const char *rcv,
                       const struct storm_limit *lim, int64_t now_ms, int64_t lease_ms,
                       size_t max_lines, struct storm_digest *d, char *errstr,
                       size_t errstr_size)
{
    char rate[32], burst[32], ttl[32], now[32], lease[32], maxl[32];
    const char *argv[ARGS0 + 8];
    struct keys ks;
    redisReply *rep = NULL;
    size_t nl;
    int rc = -1;

    memset(d, 0, sizeof(*d));
    if (make_keys(&ks, prefix, rcv, errstr, errstr_size) < 0 ||
        limit_args(lim, rate, burst, ttl, sizeof(rate), errstr, errstr_size) < 0)
        return -1;
    if (lease_ms <= 0) {
        snprintf(errstr, errstr_size, "storm: lease must be > 0 ms");
        return -1;
    }
    if (new_token(d->lock, errstr, errstr_size) < 0)
        return -1;
    snprintf(now, sizeof(now), "%" PRId64, now_ms);
    snprintf(lease, sizeof(lease), "%" PRId64, lease_ms);
    snprintf(maxl, sizeof(maxl), "%zu",
             max_lines < STORM_MAX_CLAIM ? max_lines : (size_t)STORM_MAX_CLAIM);
    head(argv, &ks, "claim");
    argv[ARGS0] = now;
    argv[ARGS0 + 1] = rate;
    argv[ARGS0 + 2] = burst;
    argv[ARGS0 + 3] = ttl;
    argv[ARGS0 + 4] = rcv;
    argv[ARGS0 + 5] = d->lock;
    argv[ARGS0 + 6] = lease;
    argv[ARGS0 + 7] = maxl;
    if (!(rep = run(r, ARGS0 + 8, argv, NULL, errstr, errstr_size)))
        goto out;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 || !is_int(rep->element[0]))
        goto bad;
    if (rep->element[0]->integer == 0) {
        rc = 0;
        goto out;
    }
    if (rep->elements < 5 || rep->elements - 5 > STORM_MAX_CLAIM)
        goto bad;
    for (size_t i = 1; i < 5; i++)
        if (!is_int(rep->element[i]))
            goto bad;
    d->total = rep->element[1]->integer;
    d->first_ms = rep->element[2]->integer;
    d->seq_end = rep->element[3]->integer;
    d->extra_end = rep->element[4]->integer;
    nl = rep->elements - 5;
    if (nl > 0 && !(d->lines = calloc(nl, sizeof(*d->lines))))
        goto oom;
    for (d->nlines = 0; d->nlines < nl; d->nlines++)
        if (!(d->lines[d->nlines] = line_text(rep->element[5 + d->nlines])))
            goto oom;
    rc = 1;
    goto out;
oom:
    snprintf(errstr, errstr_size, "out of memory");
    goto unlock;
bad:
    snprintf(errstr, errstr_size, "storm: unexpected reply to claim");
unlock:
    /* We may hold the lock: give it back now rather than after the lease. */
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1 && is_int(rep->element[0]) &&
        rep->element[0]->integer == 1) {
        char ignored[64];
        storm_digest_abort(r, prefix, rcv, d, ignored, sizeof(ignored));
    }
out:
    if (rep)
        freeReplyObject(rep);
    if (rc != 1)
        storm_digest_release(d);
    return rc;
}

/* done or abort for d; *released set to whether the lock was still ours. */
static int finish(struct rconn *r, const char *prefix, const char *rcv,
                  const struct storm_digest *d, bool done, bool *released, char *errstr,
                  size_t errstr_size)
{
    char end[32], xend[32];
    const char *argv[ARGS0 + 4];
    struct keys ks;
    redisReply *rep;
    const redisReply *flag;
    int rc = -1;

    if (make_keys(&ks, prefix, rcv, errstr, errstr_size) < 0)
        return -1;
    if (!d || strlen(d->lock) != 32) {
        snprintf(errstr, errstr_size, "storm: not a claimed digest");
        return -1;
    }
    snprintf(end, sizeof(end), "%" PRId64, d->seq_end);
    snprintf(xend, sizeof(xend), "%" PRId64, d->extra_end);
    head(argv, &ks, done ? "done" : "abort");
    argv[ARGS0] = d->lock;
    argv[ARGS0 + 1] = rcv;
    argv[ARGS0 + 2] = end;
    argv[ARGS0 + 3] = xend;
    if (!(rep = run(r, done ? ARGS0 + 4 : ARGS0 + 1, argv, NULL, errstr, errstr_size)))
        return -1;
    if (done)
        flag =
            rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 ? rep->element[2] : NULL;
    else
        flag = rep;
    if (is_int(flag)) {
        *released = flag->integer == 1;
        rc = 0;
    } else {
        snprintf(errstr, errstr_size, "storm: unexpected reply to %s",
                 done ? "done" : "abort");
    }
    freeReplyObject(rep);
    return rc;
}

int storm_digest_done(struct rconn *r, const char *prefix, const char *rcv,
                      const struct storm_digest *d, char *errstr, size_t errstr_size)
{
    bool released = false;

    if (finish(r, prefix, rcv, d, true, &released, errstr, errstr_size) < 0)
        return -1;
    if (!released)
        log_warn("storm %s: the digest lock expired before its delivery was done; it may "
                 "have been sent twice (lease too short?)",
                 rcv);
    return 0;
}

int storm_digest_abort(struct rconn *r, const char *prefix, const char *rcv,
                       const struct storm_digest *d, char *errstr, size_t errstr_size)
{
    bool released = false;

    return finish(r, prefix, rcv, d, false, &released, errstr, errstr_size);
}

void storm_digest_release(struct storm_digest *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nlines; i++)
        free(d->lines[i]);
    free(d->lines);
    memset(d, 0, sizeof(*d));
}

int storm_pending(struct rconn *r, const char *prefix, char ***names, size_t *n,
                  char *errstr, size_t errstr_size)
{
    char key[STORM_MAX_KEY], count[32];
    redisContext *ctx;
    redisReply *rep = NULL;
    char **out = NULL;
    size_t got = 0;
    int w, rc = -1;

    *names = NULL;
    *n = 0;
    w = snprintf(key, sizeof(key), "%sstorm:pending", prefix ? prefix : "");
    if (!prefix || w < 0 || (size_t)w >= sizeof(key)) {
        snprintf(errstr, errstr_size, "storm: no prefix, or it is too long");
        return -1;
    }
    if (!(ctx = rconn_get(r))) {
        snprintf(errstr, errstr_size, "redis: %s", r->err[0] ? r->err : "unavailable");
        return -1;
    }
    snprintf(count, sizeof(count), "%d", STORM_MAX_PENDING);
    const char *argv[] = {"SRANDMEMBER", key, count};
    if (!(rep = redisCommandArgv(ctx, 3, argv, NULL))) {
        snprintf(errstr, errstr_size, "redis: %s",
                 ctx->errstr[0] ? ctx->errstr : "I/O error");
        rconn_fail(r, errstr);
        return -1;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(errstr, errstr_size, "SRANDMEMBER: %.200s", rep->str);
        rconn_fail(r, errstr);
        goto out;
    }
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements > STORM_MAX_PENDING) {
        snprintf(errstr, errstr_size, "storm: unexpected reply to SRANDMEMBER");
        goto out;
    }
    if (rep->elements > 0 && !(out = calloc(rep->elements, sizeof(*out))))
        goto oom;
    for (got = 0; got < rep->elements; got++) {
        const redisReply *e = rep->element[got];
        if (!e || e->type != REDIS_REPLY_STRING) {
            snprintf(errstr, errstr_size, "storm: unexpected reply to SRANDMEMBER");
            goto out;
        }
        if (!(out[got] = strndup(e->str, e->len)))
            goto oom;
    }
    *names = out;
    *n = got;
    out = NULL;
    rc = 0;
    goto out;
oom:
    snprintf(errstr, errstr_size, "out of memory");
out:
    if (out) {
        for (size_t i = 0; i < got; i++)
            free(out[i]);
        free(out);
    }
    freeReplyObject(rep);
    return rc;
}
