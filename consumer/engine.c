/* engine.c -- see engine.h. */
#include "engine.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

#include "confirm.lua.h"
#include "decide.lua.h"
#include "flush.lua.h"
#include "settle.lua.h"

#define EXPLAIN_TTL_S "604800" /* 7 days */

int engine_setup(struct rconn *r)
{
    if (rconn_add_script(r, decide_lua) < 0 || rconn_add_script(r, confirm_lua) < 0 ||
        rconn_add_script(r, flush_lua) < 0 || rconn_add_script(r, settle_lua) < 0)
        return -1;
    return 0;
}

/* The SHA of one of our scripts on r (engine_setup registered it). */
static const char *sha_of(const struct rconn *r, const char *lua)
{
    return rconn_sha(r, rconn_script_index(r, lua));
}

int engine_key(char *out, size_t size, const char *prefix, const char *what, const char *a)
{
    int n = snprintf(out, size, "%s%s:{%s}", prefix, what, a);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int engine_release_key(char *out, size_t size, const char *prefix, const char *service,
                       const char *version)
{
    int n = snprintf(out, size, "%srel:{%s|%s}", prefix, service, version);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int engine_eco_key(char *out, size_t size, const char *prefix, const char *stage)
{
    return engine_key(out, size, prefix, "eco", stage);
}

const char *engine_verdict_name(enum engine_verdict v)
{
    static const char *const names[] = {"alert", "suppressed", "duplicate", "held",
                                        "no-alert"};
    return (unsigned)v < 5 ? names[v] : "no-alert";
}

void engine_decision_release(struct engine_decision *d)
{
    if (!d)
        return;
    cJSON_Delete(d->ts);
    for (size_t i = 0; i < d->nlines; i++)
        free(d->lines[i]);
    free(d->lines);
    d->ts = NULL;
    d->lines = NULL;
    d->nlines = 0;
}

/* ---- replies ---- */

static int64_t rint64(const redisReply *r)
{
    long long v = 0;

    if (!r)
        return 0;
    if (r->type == REDIS_REPLY_INTEGER)
        return (int64_t)r->integer;
    if (r->type == REDIS_REPLY_STRING && util_parse_int(r->str, INT64_MIN, INT64_MAX, &v) == 0)
        return (int64_t)v;
    return 0;
}

static void rstr(const redisReply *r, char *out, size_t size)
{
    snprintf(out, size, "%s", r && r->type == REDIS_REPLY_STRING ? r->str : "");
}

/* A JSON array of strings into *lines / *n (at most ENGINE_MAX_LINES). */
static int parse_lines(const redisReply *r, char ***lines, size_t *n)
{
    cJSON *a = r && r->type == REDIS_REPLY_STRING ? cJSON_Parse(r->str) : NULL, *e;
    size_t cnt = 0;

    *lines = NULL;
    *n = 0;
    if (!cJSON_IsArray(a)) { /* Lua's cjson encodes an empty table as {} */
        cJSON_Delete(a);
        return 0;
    }
    if (!(*lines = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(char *)))) {
        cJSON_Delete(a);
        return -1;
    }
    cJSON_ArrayForEach(e, a) {
        if (cJSON_IsString(e) && cnt < ENGINE_MAX_LINES && ((*lines)[cnt] = strdup(e->valuestring)))
            cnt++;
    }
    *n = cnt;
    cJSON_Delete(a);
    return 0;
}

/* decide.lua's reply: {verdict, kind, reason, detail, nf, fft, ffb, sup, since,
 * started, more, ts JSON, lines JSON}. */
static int parse_decision(const redisReply *r, struct engine_decision *d)
{
    memset(d, 0, sizeof(*d));
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 13)
        return -1;
    d->verdict = (enum engine_verdict)rint64(r->element[0]);
    d->kind = (enum alert_kind)rint64(r->element[1]);
    rstr(r->element[2], d->reason, sizeof(d->reason));
    rstr(r->element[3], d->detail, sizeof(d->detail));
    d->failures = rint64(r->element[4]);
    d->failing_since = rint64(r->element[5]);
    rstr(r->element[6], d->first_build, sizeof(d->first_build));
    d->suppressed = rint64(r->element[7]);
    d->suppressed_since = rint64(r->element[8]);
    d->started = rint64(r->element[9]);
    d->more = rint64(r->element[10]);
    if (r->element[11]->type == REDIS_REPLY_STRING) {
        d->ts = cJSON_Parse(r->element[11]->str);
        if (d->ts && !cJSON_IsObject(d->ts)) {
            cJSON_Delete(d->ts);
            d->ts = NULL;
        }
    }
    return parse_lines(r->element[12], &d->lines, &d->nlines);
}

/* Read n pipelined replies into rep[]. Returns 0; 1 if Redis lost the scripts
 * (restarted: reconnect and retry); -1 on an I/O or script error. */
static int read_replies(redisContext *ctx, redisReply **rep, size_t n, char *errstr,
                        size_t errstr_size)
{
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        void *p = NULL;
        if (redisGetReply(ctx, &p) != REDIS_OK || !p) {
            snprintf(errstr, errstr_size, "%s", ctx->errstr[0] ? ctx->errstr : "no reply");
            return -1;
        }
        rep[i] = p;
        if (rconn_is_noscript(rep[i])) {
            if (rc == 0)
                rc = 1;
        } else if (rep[i]->type == REDIS_REPLY_ERROR && rc == 0) {
            snprintf(errstr, errstr_size, "%.200s", rep[i]->str);
            rc = -1;
        }
    }
    return rc;
}

static void free_replies(redisReply **rep, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (rep[i])
            freeReplyObject(rep[i]);
        rep[i] = NULL;
    }
}

/* A command builder per request: append request i to ctx. */
typedef int (*append_fn)(struct rconn *r, redisContext *ctx, const void *arg, size_t i);

/* Pipeline n commands and hand each reply to `take` (may be NULL). A NOSCRIPT reply
 * (Redis restarted) reconnects, which reloads the scripts, and retries once: every
 * script is atomic, so nothing ran. Returns 0 or -1 (the connection is reset). */
static int pipeline(struct rconn *r, size_t n, append_fn append, const void *arg,
                    int (*take)(const redisReply *rep, void *arg, size_t i), void *take_arg,
                    char *errstr, size_t errstr_size)
{
    redisReply **rep;
    redisContext *ctx;
    int rc = -1;

    if (n == 0)
        return 0;
    if (!(rep = calloc(n, sizeof(*rep)))) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!(ctx = rconn_get(r))) {
            snprintf(errstr, errstr_size, "%s", r->err);
            break;
        }
        rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++)
            if (append(r, ctx, arg, i) != REDIS_OK) {
                snprintf(errstr, errstr_size, "%s", ctx->errstr);
                rc = -1;
            }
        if (rc == 0)
            rc = read_replies(ctx, rep, n, errstr, errstr_size);
        for (size_t i = 0; rc == 0 && take && i < n; i++)
            if (take(rep[i], take_arg, i) < 0) {
                snprintf(errstr, errstr_size, "unexpected reply from a Herald script");
                rc = -1;
            }
        free_replies(rep, n);
        if (rc == 0)
            break;
        bool lost = rc == 1;
        rconn_fail(r, lost ? "scripts lost (Redis restarted?)" : errstr);
        rc = -1;
        if (!lost)
            break;
        r->next_try_ms = 0;
    }
    free(rep);
    return rc;
}

/* ---- decide ---- */

struct decide_arg {
    const char *prefix;
    const struct config *cfg;
    struct engine_req *reqs;
};

static int append_decide(struct rconn *r, redisContext *ctx, const void *arg, size_t i)
{
    const struct decide_arg *a = arg;
    const struct config *cfg = a->cfg;
    const struct engine_req *q = &a->reqs[i];
    char t[24], n[16], win[24], ttl[24], rh[24], k[16], w[24], eh[24], wall[24], st[24];
    int64_t longest = cfg->window_ms > cfg->eco_window_ms ? cfg->window_ms : cfg->eco_window_ms;

    snprintf(t, sizeof(t), "%" PRId64, q->event_ms);
    snprintf(n, sizeof(n), "%d", q->threshold);
    snprintf(win, sizeof(win), "%" PRId64, cfg->window_ms);
    /* State outlives its windows; Redis expiry only collects garbage. */
    snprintf(ttl, sizeof(ttl), "%" PRId64, (int64_t)(2 * longest + 7 * 86400000LL));
    snprintf(rh, sizeof(rh), "%" PRId64, cfg->release_hold_ms);
    snprintf(k, sizeof(k), "%d", cfg->eco_services);
    snprintf(w, sizeof(w), "%" PRId64, cfg->eco_window_ms);
    snprintf(eh, sizeof(eh), "%" PRId64, cfg->eco_hold_ms);
    snprintf(wall, sizeof(wall), "%" PRId64, util_now_ms());
    snprintf(st, sizeof(st), "%" PRId64, cfg->stall_ms);
    const char *argv[] = {"EVALSHA", sha_of(r, decide_lua), "1", q->key,
                          a->prefix, q->event_id, q->cls, t, q->build ? q->build : "",
                          n, win, ttl, q->service, q->stage, q->version, q->anc, q->succ,
                          rh, q->eco ? "1" : "0", k, w, eh, q->payload, wall,
                          q->silenced ? "1" : "0", q->job, q->state, st};
    size_t lens[sizeof(argv) / sizeof(argv[0])];
    for (size_t j = 0; j < sizeof(argv) / sizeof(argv[0]); j++)
        lens[j] = j == 22 ? q->payload_len : strlen(argv[j]); /* payload: not a C string */
    return redisAppendCommandArgv(ctx, (int)(sizeof(argv) / sizeof(argv[0])), argv, lens);
}

static int take_decide(const redisReply *rep, void *arg, size_t i)
{
    struct engine_req *reqs = arg;
    return parse_decision(rep, &reqs[i].d);
}

int engine_decide(struct rconn *r, const char *prefix, const struct config *cfg,
                  struct engine_req *reqs, size_t n, char *errstr, size_t errstr_size)
{
    struct decide_arg a = {prefix, cfg, reqs};
    int rc = pipeline(r, n, append_decide, &a, take_decide, reqs, errstr, errstr_size);

    if (rc < 0)
        for (size_t i = 0; i < n; i++)
            engine_decision_release(&reqs[i].d);
    return rc;
}

/* ---- acks ---- */

struct ack_arg {
    const char *prefix;
    const struct engine_ack *acks;
};

static int append_ack(struct rconn *r, redisContext *ctx, const void *arg, size_t i)
{
    const struct ack_arg *a = arg;
    const struct engine_ack *k = &a->acks[i];
    const char *argv[8 + 2 * 16];
    char kind[8];
    int c = 0;

    argv[c++] = "EVALSHA";
    if (k->held) {
        argv[c++] = sha_of(r, settle_lua);
        argv[c++] = "0";
        argv[c++] = a->prefix;
        argv[c++] = k->id;
    } else {
        snprintf(kind, sizeof(kind), "%d", (int)k->kind);
        argv[c++] = sha_of(r, confirm_lua);
        argv[c++] = "1";
        argv[c++] = k->key;
        argv[c++] = k->id;
        argv[c++] = kind;
        argv[c++] = k->rel;
        argv[c++] = k->eco;
    }
    for (size_t j = 0; j < k->nts && j < 16; j++) {
        argv[c++] = k->rcv[j];
        argv[c++] = k->ts[j];
    }
    return redisAppendCommandArgv(ctx, c, argv, NULL);
}

int engine_ack(struct rconn *r, const char *prefix, const struct engine_ack *acks, size_t n,
               char *errstr, size_t errstr_size)
{
    struct ack_arg a = {prefix, acks};
    return pipeline(r, n, append_ack, &a, NULL, NULL, errstr, errstr_size);
}

/* ---- due ---- */

struct due_arg {
    const char *prefix;
    int64_t now_ms, lease_ms;
    size_t max;
};

static int append_due(struct rconn *r, redisContext *ctx, const void *arg, size_t i)
{
    const struct due_arg *a = arg;
    char now[24], lease[24], max[24];

    (void)i;
    snprintf(now, sizeof(now), "%" PRId64, a->now_ms);
    snprintf(lease, sizeof(lease), "%" PRId64, a->lease_ms);
    snprintf(max, sizeof(max), "%zu", a->max);
    const char *argv[] = {"EVALSHA", sha_of(r, flush_lua), "0", a->prefix, now, lease, max};
    return redisAppendCommandArgv(ctx, 7, argv, NULL);
}

static int take_held(const redisReply *e, struct engine_held *h)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 9 ||
        e->element[1]->type != REDIS_REPLY_STRING)
        return -1;
    rstr(e->element[0], h->id, sizeof(h->id));
    if (!(h->event_json = strdup(e->element[1]->str)))
        return -1;
    h->failures = rint64(e->element[2]);
    h->failing_since = rint64(e->element[3]);
    rstr(e->element[4], h->first_build, sizeof(h->first_build));
    h->threshold = (int)rint64(e->element[5]);
    rstr(e->element[6], h->recovered, sizeof(h->recovered));
    h->total_lines = rint64(e->element[8]);
    return parse_lines(e->element[7], &h->lines, &h->nlines);
}

static int take_due(const redisReply *rep, void *arg, size_t i)
{
    struct engine_due *due = arg;
    const redisReply *held, *stalls;

    (void)i;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3)
        return -1;
    due->clock = rint64(rep->element[0]);
    held = rep->element[1];
    stalls = rep->element[2];
    if (held->type == REDIS_REPLY_ARRAY && held->elements) {
        if (!(due->held = calloc(held->elements, sizeof(*due->held))))
            return -1;
        for (size_t j = 0; j < held->elements; j++)
            if (take_held(held->element[j], &due->held[due->nheld++]) < 0)
                return -1;
    }
    if (stalls->type == REDIS_REPLY_ARRAY && stalls->elements) {
        if (!(due->stalls = calloc(stalls->elements, sizeof(char *))))
            return -1;
        for (size_t j = 0; j < stalls->elements; j++)
            if (stalls->element[j]->type == REDIS_REPLY_STRING &&
                (due->stalls[due->nstalls] = strdup(stalls->element[j]->str)))
                due->nstalls++;
    }
    return 0;
}

int engine_due(struct rconn *r, const char *prefix, int64_t now_ms, int64_t lease_ms,
               size_t max, struct engine_due *due, char *errstr, size_t errstr_size)
{
    struct due_arg a = {prefix, now_ms, lease_ms, max};
    int rc;

    memset(due, 0, sizeof(*due));
    if ((rc = pipeline(r, 1, append_due, &a, take_due, due, errstr, errstr_size)) < 0)
        engine_due_release(due);
    return rc;
}

void engine_due_release(struct engine_due *due)
{
    if (!due)
        return;
    for (size_t i = 0; i < due->nheld; i++) {
        struct engine_held *h = &due->held[i];
        free(h->event_json);
        for (size_t j = 0; j < h->nlines; j++)
            free(h->lines[j]);
        free(h->lines);
    }
    free(due->held);
    for (size_t i = 0; i < due->nstalls; i++)
        free(due->stalls[i]);
    free(due->stalls);
    memset(due, 0, sizeof(*due));
}

/* ---- explain ---- */

struct explain_arg {
    const char *prefix;
    const char *const *ids, *const *jsons;
};

static int append_explain(struct rconn *r, redisContext *ctx, const void *arg, size_t i)
{
    const struct explain_arg *a = arg;
    char key[ENGINE_MAX_KEY];

    (void)r;
    snprintf(key, sizeof(key), "%sexplain:%s", a->prefix, a->ids[i]);
    const char *argv[] = {"SET", key, a->jsons[i], "EX", EXPLAIN_TTL_S};
    return redisAppendCommandArgv(ctx, 5, argv, NULL);
}

int engine_explain(struct rconn *r, const char *prefix, const char *const *ids,
                   const char *const *jsons, size_t n, char *errstr, size_t errstr_size)
{
    struct explain_arg a = {prefix, ids, jsons};
    return pipeline(r, n, append_explain, &a, NULL, NULL, errstr, errstr_size);
}

/* ---- partition progress ---- */

struct parts_arg {
    const char *prefix;
    const char *const *names, *const *values;
};

static int append_part(struct rconn *r, redisContext *ctx, const void *arg, size_t i)
{
    const struct parts_arg *a = arg;
    char key[ENGINE_MAX_KEY];

    (void)r;
    snprintf(key, sizeof(key), "%sclock:parts", a->prefix);
    const char *argv[] = {"HSET", key, a->names[i], a->values[i]};
    return redisAppendCommandArgv(ctx, 4, argv, NULL);
}

int engine_parts(struct rconn *r, const char *prefix, const char *const *names,
                 const char *const *values, size_t n, char *errstr, size_t errstr_size)
{
    struct parts_arg a = {prefix, names, values};
    return pipeline(r, n, append_part, &a, NULL, NULL, errstr, errstr_size);
}
