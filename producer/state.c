/* state.c -- see state.h. */
#include "state.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

void state_init(struct state *s, const struct config *cfg, struct metrics *m)
{
    memset(s, 0, sizeof(*s));
    rconn_init(&s->r, cfg->redis_host, cfg->redis_port, cfg->redis_db,
               cfg->redis_password, cfg->redis_timeout_ms);
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
    return n < 0 || (size_t)n >= size ? -1 : n;
}

/* One command; NULL (and the connection reset on I/O errors) when Redis cannot answer. */
static redisReply *cmd(struct state *s, int argc, const char **argv)
{
    redisContext *c = rconn_get(&s->r);
    redisReply *rep;

    if (!c) {
        if (!s->down)
            log_warn("redis unreachable (%s): publishing every state the source reads "
                     "until it is back; the consumer drops the duplicates",
                     s->r.err);
        s->down = true;
        metrics_counter_add(s->m, "herald_producer_redis_errors_total",
                            "Redis calls of the producer that failed.", 1, NULL);
        return NULL;
    }
    rep = redisCommandArgv(c, argc, argv, NULL);
    if (!rep) {
        rconn_fail(&s->r, c->errstr[0] ? c->errstr : "I/O error");
        metrics_counter_add(s->m, "herald_producer_redis_errors_total",
                            "Redis calls of the producer that failed.", 1, NULL);
        return NULL;
    }
    if (s->down)
        log_info("redis is back");
    s->down = false;
    if (rep->type == REDIS_REPLY_ERROR) {
        log_error("redis %s: %s", argv[0], rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

bool state_changed(struct state *s, const char *name, const char *state)
{
    char key[STATE_MAX_NAME + 128];
    const char *argv[2] = {"GET", key};
    redisReply *rep;
    bool changed = true;

    if (strlen(name) > STATE_MAX_NAME || key_of(s, name, key, sizeof(key)) < 0)
        return true;
    if (!(rep = cmd(s, 2, argv)))
        return true;
    if (rep->type == REDIS_REPLY_STRING)
        changed = strcmp(rep->str, state) != 0;
    freeReplyObject(rep);
    return changed;
}

int state_record(struct state *s, const char *name, const char *state)
{
    char key[STATE_MAX_NAME + 128], ttl[24];
    const char *argv[5] = {"SET", key, state, "EX", ttl};
    redisReply *rep;

    if (strlen(name) > STATE_MAX_NAME || key_of(s, name, key, sizeof(key)) < 0)
        return -1;
    snprintf(ttl, sizeof(ttl), "%d", STATE_TTL_S);
    if (!(rep = cmd(s, 5, argv)))
        return -1;
    freeReplyObject(rep);
    return 0;
}

int state_forget(struct state *s, const char *name)
{
    char key[STATE_MAX_NAME + 128];
    const char *argv[2] = {"DEL", key};
    redisReply *rep;

    if (strlen(name) > STATE_MAX_NAME || key_of(s, name, key, sizeof(key)) < 0)
        return -1;
    if (!(rep = cmd(s, 2, argv)))
        return -1;
    freeReplyObject(rep);
    return 0;
}
