/* engine.c -- see engine.h. */
#include "engine.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dag.h"
#include "dests.h"
#include "log.h"
#include "silence.h"
#include "util.h"

#include "engine.lua.h"

#define ENGINE_NKEYS 17 /* KEY_JOBS .. KEY_GC, in that order */
#define ENGINE_TOMBSTONE_MS                                                              \
    86400000               /* wall: a finished source is remembered this long            \
                            */
#define ENGINE_ECO_LIST 20 /* members an ecosystem message lists in full */

/* The release DAG for the rules: {"stage": {"a": [ancestors], "s": [successors],
 * "d": [descendants]}}. */
static int put_dag(struct buf *b, const struct config *cfg)
{
    int rc = buf_puts(b, ",\"dag\":{");

    for (size_t i = 0; i < cfg->nrelease_stages && rc == 0; i++) {
        bool anc[CLASSIFY_MAX_RULES] = {false}, succ[CLASSIFY_MAX_RULES] = {false},
             desc[CLASSIFY_MAX_RULES] = {false};
        const bool *sets[3] = {anc, succ, desc};
        static const char *const names[3] = {"a", "s", "d"};
        dag_ancestors(cfg, i, anc);
        dag_successors(cfg, i, succ);
        dag_descendants(cfg, i, desc);
        rc = (i ? buf_puts(b, ",") : 0) ||
             buf_json_str(b, cfg->release_stages[i].stage) || buf_puts(b, ":{");
        for (int pass = 0; pass < 3 && rc == 0; pass++) {
            const bool *set = sets[pass];
            bool first = true;
            rc = buf_printf(b, "%s\"%s\":[", pass ? "]," : "", names[pass]) < 0;
            for (size_t j = 0; j < cfg->nrelease_stages && rc == 0; j++)
                if (set[j]) {
                    rc = (first ? 0 : buf_puts(b, ",")) ||
                         buf_json_str(b, cfg->release_stages[j].stage);
                    first = false;
                }
        }
        rc = rc || buf_puts(b, "]}");
    }
    return rc || buf_puts(b, "}");
}

/* The rules' settings, built once: everything but the wall clock and the epoch. */
static char *settings(const struct config *cfg, const char *name)
{
    struct buf b;
    char d[DESTS_MAX_LEN];
    int rc;

    buf_init(&b, 1024 * 1024);
    rc = buf_printf(&b,
                    "{\"max\":%d,\"idle\":%" PRId64 ",\"tombstone\":%d,\"ttl\":%lld,"
                    "\"hold\":%" PRId64 ",\"stall\":%" PRId64 ",\"explain\":1,\"rem\":[",
                    ENGINE_MAX_STEP, cfg->wm_idle_ms, ENGINE_TOMBSTONE_MS,
                    ENGINE_STATE_TTL_MS, cfg->release_hold_ms, cfg->stall_ms) < 0;
    for (size_t i = 0; i < cfg->nreminders && !rc; i++)
        rc = buf_printf(&b, "%s%" PRId64, i ? "," : "", cfg->reminders_ms[i]) < 0;
    rc = rc || buf_printf(&b,
                          "],\"eco\":{\"on\":%d,\"K\":%d,\"W\":%" PRId64
                          ",\"hold\":%" PRId64 ",\"list\":%d",
                          cfg->eco_on ? 1 : 0, cfg->eco_services, cfg->eco_window_ms,
                          cfg->eco_hold_ms, ENGINE_ECO_LIST) < 0;
    if (!rc && cfg->eco_receiver >= 0 &&
        dests_format(&cfg->receivers[cfg->eco_receiver], NULL, d, sizeof(d)) == 0)
        rc = buf_puts(&b, ",\"d\":[") || buf_json_str(&b, d) || buf_puts(&b, "]");
    rc = rc || buf_puts(&b, "}") || put_dag(&b, cfg) || buf_puts(&b, ",\"name\":") ||
         buf_json_str(&b, name);
    if (rc) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

int engine_init(struct engine *e, struct rconn *r, const struct config *cfg,
                const char *name, char *errstr, size_t errstr_size)
{
    memset(e, 0, sizeof(*e));
    e->r = r;
    if (keys_init(&e->keys, cfg->key_prefix) < 0) {
        snprintf(errstr, errstr_size, "redis.key_prefix: longer than %d bytes",
                 KEYS_MAX_PREFIX);
        return -1;
    }
    if (rconn_add_script(r, engine_lua) < 0) {
        snprintf(errstr, errstr_size, "cannot register the engine's script");
        return -1;
    }
    if (!(e->cfg_json = settings(cfg, name))) {
        snprintf(errstr, errstr_size, "out of memory for the rules' settings");
        return -1;
    }
    return 0;
}

void engine_release(struct engine *e)
{
    if (!e)
        return;
    free(e->cfg_json);
    e->cfg_json = NULL;
}

int engine_epoch(struct engine *e, bool create, char *errstr, size_t errstr_size)
{
    redisContext *ctx = rconn_get(e->r);
    redisReply *rep = NULL;
    char fresh[48], err[128];
    int rc = -1;

    if (!ctx) {
        snprintf(errstr, errstr_size, "redis unreachable: %s", e->r->err);
        return -1;
    }
    if (silence_make_id(fresh, err, sizeof(err)) < 0) {
        snprintf(errstr, errstr_size, "no random epoch: %s", err);
        return -1;
    }
    if (create)
        rep = redisCommand(ctx, "HSETNX %s epoch %s", e->keys.name[KEY_META], fresh);
    else
        rep = redisCommand(ctx, "HEXISTS %s epoch", e->keys.name[KEY_META]);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        snprintf(errstr, errstr_size, "redis: %s", rep ? rep->str : ctx->errstr);
        rconn_fail(e->r, errstr);
        goto out;
    }
    bool made = create && rep->integer == 1;
    freeReplyObject(rep);
    rep = redisCommand(ctx, "HGET %s epoch", e->keys.name[KEY_META]);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        snprintf(errstr, errstr_size, "redis: %s", rep ? rep->str : ctx->errstr);
        rconn_fail(e->r, errstr);
        goto out;
    }
    snprintf(e->epoch, sizeof(e->epoch), "%s",
             rep->type == REDIS_REPLY_STRING ? rep->str : "");
    rc = made ? 1 : 0;
out:
    if (rep)
        freeReplyObject(rep);
    return rc;
}

/* ---- the step's reply ---- */

static long num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
}

static cJSON *take_obj(cJSON *o, const char *k)
{
    cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(o, k);
    if (v && !cJSON_IsObject(v) && !cJSON_IsArray(v)) { /* Lua's {} may come as [] */
        cJSON_Delete(v);
        v = NULL;
    }
    return v;
}

static int parse_out(const char *json, const struct engine_in *in, struct engine_out *out,
                     char *errstr, size_t errstr_size)
{
    cJSON *o = cJSON_Parse(json), *pins;

    memset(out, 0, sizeof(*out));
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        snprintf(errstr, errstr_size, "the engine's reply is not JSON");
        return -1;
    }
    out->epoch_lost = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "epoch_lost"));
    out->fast = num(o, "fast");
    out->dup = num(o, "dup");
    out->buffered = num(o, "buffered");
    out->late = num(o, "late");
    out->decided = num(o, "decided");
    out->timers = num(o, "timers");
    out->alerts = num(o, "alerts");
    out->held = num(o, "held");
    out->folded = num(o, "folded");
    out->idle_sources = num(o, "idle_sources");
    out->failed = num(o, "failed");
    out->errors = take_obj(o, "errors");
    out->pending = num(o, "pending");
    out->more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "more"));
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "wm");
    out->wm = cJSON_IsNumber(w) ? (int64_t)w->valuedouble : 0;
    out->clock = (int64_t)num(o, "clock");
    out->suppressed = take_obj(o, "suppressed");
    out->silences = take_obj(o, "silences");
    out->kinds = take_obj(o, "kinds");
    const cJSON *need = cJSON_GetObjectItemCaseSensitive(o, "need"), *x;
    if (cJSON_IsArray(need) && cJSON_GetArraySize(need) > 0) {
        out->need = calloc((size_t)cJSON_GetArraySize(need), sizeof(*out->need));
        if (!out->need) {
            cJSON_Delete(o);
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
        cJSON_ArrayForEach(x, need)
        {
            if (cJSON_IsNumber(x) && x->valuedouble >= 0 &&
                (size_t)x->valuedouble < in->nev)
                out->need[out->nneed++] = (size_t)x->valuedouble;
        }
    }
    pins = cJSON_GetObjectItemCaseSensitive(o, "pins");
    for (size_t i = 0; i < in->ntps && i < ENGINE_MAX_TPS; i++) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(pins, in->tps[i]);
        out->pins[i] = cJSON_IsNumber(p) ? (int64_t)p->valuedouble : -1;
    }
    cJSON_Delete(o);
    return 0;
}

void engine_out_release(struct engine_out *o)
{
    if (!o)
        return;
    cJSON_Delete(o->suppressed);
    cJSON_Delete(o->silences);
    cJSON_Delete(o->kinds);
    cJSON_Delete(o->errors);
    o->suppressed = o->silences = o->kinds = o->errors = NULL;
    free(o->need);
    o->need = NULL;
    o->nneed = 0;
}

/* The batch header: {"wm": [[source, partition, ms, final, partitions]...], "tps": [...]}
 */
static char *header(const struct engine_in *in)
{
    struct buf b;
    int rc;

    buf_init(&b, 16 * 1024 * 1024);
    rc = buf_puts(&b, "{\"wm\":[");
    for (size_t i = 0; i < in->nwm && !rc; i++) {
        const struct engine_wm *w = &in->wm[i];
        rc = (i ? buf_puts(&b, ",") : 0) || buf_puts(&b, "[") ||
             buf_json_str(&b, w->source) ||
             buf_printf(&b, ",%" PRId32 ",%" PRId64 ",%d,%d]", w->partition, w->ms,
                        w->final ? 1 : 0, w->partitions) < 0;
    }
    rc = rc || buf_puts(&b, "],\"tps\":[");
    for (size_t i = 0; i < in->ntps && !rc; i++)
        rc = (i ? buf_puts(&b, ",") : 0) || buf_json_str(&b, in->tps[i]);
    if (rc || buf_puts(&b, "]}") < 0) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

int engine_step(struct engine *e, const struct engine_in *in, struct engine_out *out,
                char *errstr, size_t errstr_size)
{
    size_t argc = 2 + 1 + ENGINE_NKEYS + 2 + 10 * in->nev;
    const char **argv = calloc(argc, sizeof(*argv));
    size_t *lens = calloc(argc, sizeof(*lens));
    char(*nums)[3][24] = calloc(in->nev + 1, sizeof(*nums));
    char *cfg = NULL, *hdr = NULL, nk[8];
    redisReply *rep = NULL;
    size_t a = 2;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (!argv || !lens || !nums || !(hdr = header(in))) {
        snprintf(errstr, errstr_size, "out of memory for a step of %zu events", in->nev);
        goto out;
    }
    size_t cl = strlen(e->cfg_json) + 128;
    if (!(cfg = malloc(cl)))
        goto out;
    snprintf(cfg, cl, "%s,\"wall\":%" PRId64 ",\"epoch\":\"%s\"}", e->cfg_json,
             util_now_ms(), e->epoch);
    snprintf(nk, sizeof(nk), "%d", ENGINE_NKEYS);
    argv[a++] = nk;
    for (int k = 0; k < ENGINE_NKEYS; k++)
        argv[a++] = e->keys.name[k];
    argv[a++] = cfg;
    argv[a++] = hdr;
    for (size_t i = 0; i < in->nev; i++) {
        const struct engine_event *v = &in->ev[i];
        snprintf(nums[i][0], sizeof(nums[i][0]), "%" PRId64, v->t);
        snprintf(nums[i][1], sizeof(nums[i][1]), "%" PRId64, v->offset);
        argv[a++] = v->id;
        argv[a++] = nums[i][0];
        argv[a++] = v->key;
        argv[a++] = v->cls;
        argv[a++] = v->rel ? "1" : "0";
        argv[a++] = v->tp;
        argv[a++] = nums[i][1];
        argv[a++] = v->bkey;
        argv[a++] = v->light ? "" : v->facts;
        lens[a] = v->light ? 0 : v->payload_len;
        argv[a++] = v->light ? "" : v->payload;
    }
    for (size_t i = 0; i < a; i++)
        if (!lens[i] && argv[i])
            lens[i] = strlen(argv[i]);
    rep = rconn_eval(e->r, engine_lua, (int)a, argv, lens, errstr, errstr_size);
    if (!rep)
        goto out;
    if (rep->type != REDIS_REPLY_STRING) {
        snprintf(errstr, errstr_size, "the engine's reply is not a string");
        goto out;
    }
    rc = parse_out(rep->str, in, out, errstr, errstr_size);
out:
    if (rep)
        freeReplyObject(rep);
    free(argv);
    free(lens);
    free(nums);
    free(cfg);
    free(hdr);
    return rc;
}
