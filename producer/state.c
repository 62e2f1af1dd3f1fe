/* state.c -- see state.h. */
#include "state.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* KEYS[1] the key; ARGV: state, now ms, claim ms, ttl s. 1 = claimed. */
static const char claim_lua[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v then\n"
    "  local st, ts = string.match(v, '^([^|]*)|?(%d*)$')\n"
    "  if st == ARGV[1] then\n"
    "    if ts == nil or ts == '' then return 0 end\n"
    "    if tonumber(ARGV[2]) - tonumber(ts) < tonumber(ARGV[3]) then return 0 end\n"
    "  end\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', ARGV[4])\n"
    "return 1\n";

/* KEYS[1]; ARGV: state, ttl s, confirm (1) or unclaim (0). Acts only on a claim of
 * this state (or no value, when confirming). */
static const char settle_lua[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "local mine = v and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. '|'\n"
    "if ARGV[3] == '1' then\n"
    "  if mine or not v then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end\n"
    "elseif mine then redis.call('DEL', KEYS[1]) end\n"
    "return 1\n";

void state_init(struct state *s, const struct config *cfg, struct metrics *m)
{
    memset(s, 0, sizeof(*s));
    rconn_init(&s->r, cfg->redis_host, cfg->redis_port, cfg->redis_db,
               cfg->redis_password, cfg->redis_timeout_ms);
    rconn_add_script(&s->r, claim_lua);
    rconn_add_script(&s->r, settle_lua);
    s->prefix = cfg->key_prefix;
    s->m = m;
}

void state_release(struct state *s)
{
    if (s)
        rconn_release(&s->r);
}

static int key_of(const struct state *s, const char *name, char *key, size_t size)
{
    int n = snprintf(key, size, "%sproducer:last:%s", s->prefix, name);
    return strlen(name) > STATE_MAX_NAME || n < 0 || (size_t)n >= size ? -1 : n;
}

/* Run a script; the integer reply, or -1 when Redis cannot answer. */
static long long eval(struct state *s, const char *lua, int nargs, const char **args)
{
    const char *argv[8];
    char err[256];
    long long v = -1;

    for (int i = 0; i < nargs; i++)
        argv[2 + i] = args[i];
    redisReply *rep = rconn_eval(&s->r, lua, 2 + nargs, argv, NULL, err, sizeof(err));
    if (!rep) {
        if (!s->down)
            log_warn(
                "redis: %s: publishing every state the source reads until it is back; "
                "the consumer drops the repeats",
                err);
        s->down = true;
        metrics_counter_add(s->m, "herald_producer_redis_errors_total",
                            "Redis calls of the producer that failed.", 1, NULL);
        return -1;
    }
    if (s->down)
        log_info("redis is back");
    s->down = false;
    if (rep->type == REDIS_REPLY_INTEGER)
        v = rep->integer;
    freeReplyObject(rep);
    return v;
}

bool state_claim(struct state *s, const char *name, const char *state)
{
    char key[STATE_MAX_NAME + 128], now[24], claim[24], ttl[24];

    if (key_of(s, name, key, sizeof(key)) < 0)
        return true;
    snprintf(now, sizeof(now), "%lld", (long long)util_now_ms());
    snprintf(claim, sizeof(claim), "%d", STATE_CLAIM_MS);
    snprintf(ttl, sizeof(ttl), "%d", STATE_TTL_S);
    const char *args[] = {"1", key, state, now, claim, ttl};
    return eval(s, claim_lua, 6, args) != 0;
}

static int settle(struct state *s, const char *name, const char *state, bool ok)
{
    char key[STATE_MAX_NAME + 128], ttl[24];

    if (key_of(s, name, key, sizeof(key)) < 0)
        return -1;
    snprintf(ttl, sizeof(ttl), "%d", STATE_TTL_S);
    const char *args[] = {"1", key, state, ttl, ok ? "1" : "0"};
    return eval(s, settle_lua, 5, args) < 0 ? -1 : 0;
}

int state_confirm(struct state *s, const char *name, const char *state)
{
    return settle(s, name, state, true);
}

int state_unclaim(struct state *s, const char *name, const char *state)
{
    return settle(s, name, state, false);
}
