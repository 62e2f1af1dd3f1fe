/* silence_redis.c -- see silence.h: silences in Redis: the scripts, loading the
 * active ones (consumers), listing (heraldctl, with plain reads), adding, expiring and
 * counting matches. A silence as a value is silence.c. */
#include "silence.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util.h"

#define SILENCE_MAX_KEY 512 /* bytes of a Redis key */

/* KEYS[1] the sorted set. ARGV: hash key prefix ("P silence:"), now ms, mode (0 active
 * now, 1 not yet over, 2 everything kept), max. Returns one array per silence,
 * latest end first: {id, matchers, reason, created_by, created_ms, starts_ms,
 * ends_ms, matched, origin_user, origin_host, origin_tool}. Ids whose hash is gone
 * are skipped. */
static const char load_lua[] =
    "local now, mode = tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local min = '(' .. ARGV[2]\n"
    "if mode == 2 then min = '-inf' end\n"
    "local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', min, 'LIMIT', 0,"
    " tonumber(ARGV[4]))\n"
    "local out = {}\n"
    "for _, id in ipairs(ids) do\n"
    "  local h = redis.call('HMGET', ARGV[1] .. id, 'matchers', 'reason', 'created_by',"
    " 'created_ms', 'starts_ms', 'ends_ms', 'matched', 'origin_user', 'origin_host',"
    " 'origin_tool')\n"
    "  if h[1] and h[6] then\n"
    "    local s, e = tonumber(h[5]) or 0, tonumber(h[6]) or 0\n"
    "    if mode ~= 0 or (s <= now and now < e) then\n"
    "      out[#out + 1] = {id, h[1], h[2] or '', h[3] or '', h[4] or '0', h[5] or '0',"
    " h[6], h[7] or '0', h[8] or '', h[9] or '', h[10] or ''}\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";

/* KEYS: silence hashes; ARGV[i]: the increment for KEYS[i]. A hash that is gone
 * (the silence expired from Redis) is not recreated. */
static const char count_lua[] = "for i, k in ipairs(KEYS) do\n"
                                "  if redis.call('EXISTS', k) == 1 then\n"
                                "    redis.call('HINCRBY', k, 'matched', ARGV[i])\n"
                                "  end\n"
                                "end\n"
                                "return 0\n";

/* KEYS[1] the silence hash, KEYS[2] the sorted set. ARGV: id, matchers, reason,
 * created_by, created_ms, starts_ms, ends_ms, expire-at ms, max, now, forget-before
 * ms, origin_user, origin_host, origin_tool ("" for each not recorded: not stored).
 * Returns 1, -1 if the id exists, -2 if max silences are not yet over. */
static const char add_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[11])\n"
    "if redis.call('ZCOUNT', KEYS[2], '(' .. ARGV[10], '+inf') >= tonumber(ARGV[9]) then"
    " return -2 end\n"
    "redis.call('HSET', KEYS[1], 'id', ARGV[1], 'matchers', ARGV[2], 'reason', ARGV[3],"
    " 'created_by', ARGV[4], 'created_ms', ARGV[5], 'starts_ms', ARGV[6],"
    " 'ends_ms', ARGV[7], 'matched', 0)\n"
    "for i, f in ipairs({'origin_user', 'origin_host', 'origin_tool'}) do\n"
    "  if ARGV[11 + i] ~= '' then redis.call('HSET', KEYS[1], f, ARGV[11 + i]) end\n"
    "end\n"
    "redis.call('PEXPIREAT', KEYS[1], ARGV[8])\n"
    "redis.call('ZADD', KEYS[2], ARGV[7], ARGV[1])\n"
    "return 1\n";

/* KEYS[1] the silence hash, KEYS[2] the sorted set. ARGV: id, now ms, expire-at ms.
 * Returns 0 if unknown, 1 if ended now, 2 if it had already ended. */
static const char expire_lua[] = "local e = redis.call('HGET', KEYS[1], 'ends_ms')\n"
                                 "if not e then return 0 end\n"
                                 "if tonumber(e) <= tonumber(ARGV[2]) then return 2 end\n"
                                 "redis.call('HSET', KEYS[1], 'ends_ms', ARGV[2])\n"
                                 "redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])\n"
                                 "redis.call('PEXPIREAT', KEYS[1], ARGV[3])\n"
                                 "return 1\n";

int silence_setup(struct rconn *r)
{
    if (rconn_add_script(r, load_lua) < 0 || rconn_add_script(r, count_lua) < 0)
        return -1;
    return 0;
}

/* "<prefix><what><id>" into buf. Returns 0, or -1 if it does not fit. */
static int make_key(char *buf, size_t size, const char *prefix, const char *what,
                    const char *id, char *errstr, size_t errstr_size)
{
    int n = snprintf(buf, size, "%s%s%s", prefix, what, id);

    if (n < 0 || (size_t)n >= size) {
        snprintf(errstr, errstr_size, "Redis key prefix too long");
        return -1;
    }
    return 0;
}

static bool reply_is_str(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_STRING;
}

static int64_t str_int(const char *s)
{
    long long v = 0;

    if (util_parse_int(s, INT64_MIN, INT64_MAX, &v) != 0)
        return 0;
    return (int64_t)v;
}

/* Field i of a stored silence (SILENCE_FIELDS order, see silence_fields) from v[i]:
 * its string, or `def` if it is missing (nil). */
static const char *field_or(redisReply *const *v, size_t i, const char *def)
{
    return reply_is_str(v[i]) ? v[i]->str : def;
}

/* The hash fields a silence is read from, in the order of the load script's rows
 * after the id (and of the HMGET of silence_list). */
static const char *const silence_fields[] = {
    "matchers", "reason",  "created_by",  "created_ms",  "starts_ms",
    "ends_ms",  "matched", "origin_user", "origin_host", "origin_tool"};
#define SILENCE_FIELDS (sizeof(silence_fields) / sizeof(silence_fields[0]))

/* Fill s from id[0..idlen) and its fields v[0..SILENCE_FIELDS) (strings or nil).
 * Returns 0, or -1 if the stored silence is not one we can use (no matchers or end,
 * bad JSON, bad matcher) or memory ran out. */
static int from_values(struct silence *s, const char *id, size_t idlen,
                       redisReply *const *v)
{
    cJSON *arr = NULL;
    const cJSON *it;
    char err[256];
    int rc = -1;

    silence_init(s);
    if (idlen >= sizeof(s->id) || !reply_is_str(v[0]) || !reply_is_str(v[5]))
        return -1;
    memcpy(s->id, id, idlen);
    s->id[idlen] = '\0';
    if (!(arr = cJSON_ParseWithLength(v[0]->str, v[0]->len)) || !cJSON_IsArray(arr))
        goto out;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it) || s->nm >= SILENCE_MAX_MATCHERS ||
            silence_matcher_parse(it->valuestring, &s->m[s->nm], err, sizeof(err)) != 0)
            goto out;
        s->nm++;
    }
    if (s->nm == 0)
        goto out;
    if (!(s->reason = strdup(field_or(v, 1, ""))) ||
        !(s->created_by = strdup(field_or(v, 2, ""))) ||
        !(s->origin_user = strdup(field_or(v, 7, ""))) ||
        !(s->origin_host = strdup(field_or(v, 8, ""))) ||
        !(s->origin_tool = strdup(field_or(v, 9, ""))))
        goto out;
    s->created_ms = str_int(field_or(v, 3, "0"));
    s->starts_ms = str_int(field_or(v, 4, "0"));
    s->ends_ms = str_int(v[5]->str);
    s->matched = str_int(field_or(v, 6, "0"));
    rc = 0;
out:
    cJSON_Delete(arr);
    if (rc != 0)
        silence_release(s);
    return rc;
}

/* Fill s from one row of the load script: {id, the SILENCE_FIELDS fields}. */
static int from_row(struct silence *s, const redisReply *row)
{
    silence_init(s);
    if (row->type != REDIS_REPLY_ARRAY || row->elements < 1 + SILENCE_FIELDS ||
        !reply_is_str(row->element[0]))
        return -1;
    return from_values(s, row->element[0]->str, row->element[0]->len, row->element + 1);
}

/* For heraldctl's listing: the same silences as the load script's modes 1 (not yet
 * over) and 2 (all kept), read with plain read commands (ZREVRANGEBYSCORE, then one
 * pipelined HMGET per id), so that a read-only Redis user can list them: Redis
 * refuses EVAL to a user who may not write the keys it names. Not atomic, which a
 * listing does not need. */
static int list_plain(struct rconn *r, const char *zkey, const char *hprefix,
                      int64_t now_ms, bool all, struct silence_set *out, char *errstr,
                      size_t errstr_size)
{
    char min[32], max[16], hkey[SILENCE_MAX_KEY];
    const char *zargv[] = {"ZREVRANGEBYSCORE", zkey, "+inf", min, "LIMIT", "0", max};
    const char *hargv[2 + SILENCE_FIELDS];
    struct silence *tmp = NULL;
    struct silence_set set = {NULL, 0, 0};
    redisReply *ids = NULL, *rep = NULL;
    redisContext *ctx = rconn_get(r);
    size_t n = 0;
    int rc = -1;

    if (!ctx) {
        snprintf(errstr, errstr_size, "%s", r->err[0] ? r->err : "Redis unreachable");
        return -1;
    }
    snprintf(min, sizeof(min), all ? "-inf" : "(%" PRId64, now_ms);
    snprintf(max, sizeof(max), "%d", SILENCE_MAX);
    if (!(ids = redisCommandArgv(ctx, 7, zargv, NULL))) {
        rconn_fail(r, ctx->errstr[0] ? ctx->errstr : "I/O error");
        snprintf(errstr, errstr_size, "%s", r->err);
        return -1;
    }
    if (ids->type != REDIS_REPLY_ARRAY) {
        snprintf(errstr, errstr_size, "ZREVRANGEBYSCORE %s: %.200s", zkey,
                 ids->type == REDIS_REPLY_ERROR ? ids->str : "unexpected reply");
        goto out;
    }
    n = ids->elements;
    if (n && !(tmp = calloc(n, sizeof(*tmp)))) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    hargv[0] = "HMGET";
    hargv[1] = hkey;
    memcpy(hargv + 2, silence_fields, sizeof(silence_fields));
    for (size_t i = 0; i < n; i++) {
        if (!reply_is_str(ids->element[i]) ||
            make_key(hkey, sizeof(hkey), hprefix, "", ids->element[i]->str, errstr,
                     errstr_size) != 0 ||
            redisAppendCommandArgv(ctx, 2 + (int)SILENCE_FIELDS, hargv, NULL) !=
                REDIS_OK) {
            snprintf(errstr, errstr_size, "cannot queue the silence reads");
            rconn_fail(r, "pipeline broken");
            goto out;
        }
    }
    /* Read every reply (the pipeline must be drained), then judge. */
    for (size_t i = 0; i < n; i++) {
        if (redisGetReply(ctx, (void **)&rep) != REDIS_OK || !rep) {
            rconn_fail(r, ctx->errstr[0] ? ctx->errstr : "I/O error");
            snprintf(errstr, errstr_size, "%s", r->err);
            goto out;
        }
        if (rep->type == REDIS_REPLY_ERROR) {
            if (rc != -2)
                snprintf(errstr, errstr_size, "HMGET: %.200s", rep->str);
            rc = -2; /* NOPERM and the like: report once, after draining */
        } else if (rep->type == REDIS_REPLY_ARRAY && rep->elements == SILENCE_FIELDS &&
                   (reply_is_str(rep->element[0]) || reply_is_str(rep->element[5]))) {
            if (from_values(&tmp[i], ids->element[i]->str, ids->element[i]->len,
                            rep->element) != 0)
                set.skipped++;
        } /* else: the hash is gone (expired); the script skips it too */
        freeReplyObject(rep);
        rep = NULL;
    }
    if (rc == -2) {
        rc = -1;
        goto out;
    }
    if (n && !(set.v = calloc(n, sizeof(*set.v)))) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    /* Latest end first from Redis; keep ends_ms ascending, as silence_load does. */
    for (size_t k = n; k-- > 0;)
        if (tmp[k].nm > 0) {
            set.v[set.n++] = tmp[k];
            silence_init(&tmp[k]);
        }
    silence_set_release(out);
    *out = set;
    set.v = NULL;
    set.n = 0;
    rc = 0;
out:
    for (size_t i = 0; tmp && i < n; i++)
        silence_release(&tmp[i]);
    free(tmp);
    silence_set_release(&set);
    freeReplyObject(ids);
    freeReplyObject(rep);
    return rc;
}

/* Load with the script in `mode` (0 active, 1 not over, 2 all) into *out. */
static int load_mode(struct rconn *r, const char *prefix, int64_t now_ms, int mode,
                     struct silence_set *out, char *errstr, size_t errstr_size)
{
    char zkey[SILENCE_MAX_KEY], hprefix[SILENCE_MAX_KEY], now[32], md[8], max[16];
    const char *argv[8];
    struct silence_set set = {NULL, 0, 0};
    redisReply *rep = NULL;
    int rc = -1;

    if (make_key(zkey, sizeof(zkey), prefix, "silences", "", errstr, errstr_size) != 0 ||
        make_key(hprefix, sizeof(hprefix), prefix, "silence:", "", errstr, errstr_size) !=
            0)
        return -1;
    snprintf(now, sizeof(now), "%" PRId64, now_ms);
    snprintf(md, sizeof(md), "%d", mode);
    snprintf(max, sizeof(max), "%d", SILENCE_MAX);
    argv[2] = "1";
    argv[3] = zkey;
    argv[4] = hprefix;
    argv[5] = now;
    argv[6] = md;
    argv[7] = max;
    if (!(rep = rconn_eval(r, load_lua, 8, argv, NULL, errstr, errstr_size)))
        return -1;
    if (rep->type != REDIS_REPLY_ARRAY) {
        snprintf(errstr, errstr_size, "unexpected reply from the silence script");
        goto out;
    }
    if (rep->elements > 0 && !(set.v = calloc(rep->elements, sizeof(*set.v)))) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    /* The script returns the latest end first; keep ends_ms ascending. */
    for (size_t i = rep->elements; i-- > 0;) {
        if (from_row(&set.v[set.n], rep->element[i]) == 0)
            set.n++;
        else
            set.skipped++;
    }
    silence_set_release(out);
    *out = set;
    set.v = NULL;
    set.n = 0;
    rc = 0;
out:
    silence_set_release(&set);
    freeReplyObject(rep);
    return rc;
}

int silence_load(struct rconn *r, const char *prefix, int64_t now_ms,
                 struct silence_set *out, char *errstr, size_t errstr_size)
{
    return load_mode(r, prefix, now_ms, 0, out, errstr, errstr_size);
}

int silence_list(struct rconn *r, const char *prefix, int64_t now_ms, bool all,
                 struct silence_set *out, char *errstr, size_t errstr_size)
{
    char zkey[SILENCE_MAX_KEY], hprefix[SILENCE_MAX_KEY];

    if (make_key(zkey, sizeof(zkey), prefix, "silences", "", errstr, errstr_size) != 0 ||
        make_key(hprefix, sizeof(hprefix), prefix, "silence:", "", errstr, errstr_size) !=
            0)
        return -1;
    return list_plain(r, zkey, hprefix, now_ms, all, out, errstr, errstr_size);
}

int silence_count(struct rconn *r, const char *prefix, const char *const *ids,
                  const int64_t *counts, size_t n, char *errstr, size_t errstr_size)
{
    const char **argv = NULL;
    char *keys = NULL, *nums = NULL, nk[16];
    redisReply *rep = NULL;
    int rc = -1;

    if (n == 0)
        return 0;
    if (n > SILENCE_MAX) {
        snprintf(errstr, errstr_size, "silence_count: %zu ids (at most %d)", n,
                 SILENCE_MAX);
        return -1;
    }
    argv = calloc(3 + 2 * n, sizeof(*argv));
    keys = malloc(n * SILENCE_MAX_KEY);
    nums = malloc(n * 24);
    if (!argv || !keys || !nums) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    snprintf(nk, sizeof(nk), "%zu", n);
    argv[2] = nk;
    for (size_t i = 0; i < n; i++) {
        char *k = keys + i * SILENCE_MAX_KEY, *c = nums + i * 24;
        if (make_key(k, SILENCE_MAX_KEY, prefix, "silence:", ids[i], errstr, errstr_size))
            goto out;
        snprintf(c, 24, "%" PRId64, counts[i]);
        argv[3 + i] = k;
        argv[3 + n + i] = c;
    }
    if (!(rep = rconn_eval(r, count_lua, (int)(3 + 2 * n), argv, NULL, errstr,
                           errstr_size)))
        goto out;
    rc = 0;
out:
    freeReplyObject(rep);
    free(argv);
    free(keys);
    free(nums);
    return rc;
}

/* The matchers of s as a JSON array of "field=glob". Returns a new string or NULL. */
static char *matchers_json(const struct silence *s)
{
    cJSON *arr = cJSON_CreateArray();
    char m[SILENCE_MAX_GLOB + 32], *out = NULL;

    if (!arr)
        return NULL;
    for (size_t i = 0; i < s->nm; i++) {
        cJSON *str = cJSON_CreateString(silence_matcher_format(&s->m[i], m, sizeof(m)));
        if (!str || !cJSON_AddItemToArray(arr, str)) {
            cJSON_Delete(str);
            goto out;
        }
    }
    out = cJSON_PrintUnformatted(arr);
out:
    cJSON_Delete(arr);
    return out;
}

int silence_add(struct rconn *r, const char *prefix, const struct silence *s,
                const char *created_by, char *errstr, size_t errstr_size)
{
    char hkey[SILENCE_MAX_KEY], zkey[SILENCE_MAX_KEY];
    char created[32], starts[32], ends[32], at[32], max[16], now[32], forget[32];
    const char *reason = s->reason ? s->reason : "";
    const char *argv[19];
    const char *origin[3] = {s->origin_user, s->origin_host, s->origin_tool};
    char *mj = NULL;
    redisReply *rep = NULL;
    int64_t now_ms = util_now_ms();
    int rc = -1;

    if (!created_by)
        created_by = "";
    if (!silence_id_valid(s->id)) {
        snprintf(errstr, errstr_size, "bad silence id \"%.20s\"", s->id);
        return -1;
    }
    if (s->nm == 0 || s->nm > SILENCE_MAX_MATCHERS) {
        snprintf(errstr, errstr_size, "a silence needs 1 to %d matchers",
                 SILENCE_MAX_MATCHERS);
        return -1;
    }
    for (size_t i = 0; i < s->nm; i++)
        if (!s->m[i].glob || !s->m[i].glob[0] ||
            (unsigned)s->m[i].field >= FIELD__COUNT) {
            snprintf(errstr, errstr_size, "matcher %zu: empty glob or bad field", i + 1);
            return -1;
        }
    if (s->ends_ms <= s->starts_ms || s->ends_ms <= now_ms) {
        snprintf(errstr, errstr_size, "the silence would be over before it starts");
        return -1;
    }
    if (strlen(reason) > SILENCE_MAX_REASON || !util_utf8_valid(reason, strlen(reason)) ||
        strlen(created_by) > SILENCE_MAX_ORIGIN ||
        !util_utf8_valid(created_by, strlen(created_by))) {
        snprintf(errstr, errstr_size,
                 "reason (at most %d bytes) and creator must be valid UTF-8",
                 SILENCE_MAX_REASON);
        return -1;
    }
    for (size_t i = 0; i < 3; i++) {
        if (!origin[i])
            origin[i] = "";
        if (strlen(origin[i]) > SILENCE_MAX_ORIGIN ||
            !util_utf8_valid(origin[i], strlen(origin[i]))) {
            snprintf(errstr, errstr_size,
                     "origin (user, host, tool) must be valid UTF-8 of at most %d bytes",
                     SILENCE_MAX_ORIGIN);
            return -1;
        }
    }
    if (make_key(hkey, sizeof(hkey), prefix, "silence:", s->id, errstr, errstr_size) !=
            0 ||
        make_key(zkey, sizeof(zkey), prefix, "silences", "", errstr, errstr_size) != 0)
        return -1;
    if (!(mj = matchers_json(s))) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    snprintf(created, sizeof(created), "%" PRId64, now_ms);
    snprintf(starts, sizeof(starts), "%" PRId64, s->starts_ms);
    snprintf(ends, sizeof(ends), "%" PRId64, s->ends_ms);
    snprintf(at, sizeof(at), "%" PRId64, s->ends_ms + SILENCE_KEEP_MS);
    snprintf(max, sizeof(max), "%d", SILENCE_MAX);
    snprintf(now, sizeof(now), "%" PRId64, now_ms);
    snprintf(forget, sizeof(forget), "%" PRId64, now_ms - SILENCE_KEEP_MS);
    argv[2] = "2";
    argv[3] = hkey;
    argv[4] = zkey;
    argv[5] = s->id;
    argv[6] = mj;
    argv[7] = reason;
    argv[8] = created_by;
    argv[9] = created;
    argv[10] = starts;
    argv[11] = ends;
    argv[12] = at;
    argv[13] = max;
    argv[14] = now;
    argv[15] = forget;
    argv[16] = origin[0];
    argv[17] = origin[1];
    argv[18] = origin[2];
    if (!(rep = rconn_eval(r, add_lua, 19, argv, NULL, errstr, errstr_size)))
        goto out;
    if (rep->type != REDIS_REPLY_INTEGER) {
        snprintf(errstr, errstr_size, "unexpected reply from the silence script");
        goto out;
    }
    if (rep->integer == -1) {
        snprintf(errstr, errstr_size, "silence %s exists already", s->id);
        goto out;
    }
    if (rep->integer == -2) {
        snprintf(errstr, errstr_size,
                 "%d silences are active or pending; expire some first", SILENCE_MAX);
        goto out;
    }
    rc = 0;
out:
    freeReplyObject(rep);
    free(mj);
    return rc;
}

int silence_expire(struct rconn *r, const char *prefix, const char *id, int64_t now_ms,
                   char *errstr, size_t errstr_size)
{
    char hkey[SILENCE_MAX_KEY], zkey[SILENCE_MAX_KEY], now[32], at[32];
    const char *argv[8];
    redisReply *rep;
    int rc = -1;

    if (!silence_id_valid(id)) {
        snprintf(errstr, errstr_size, "no silence %.40s", id);
        return -1;
    }
    if (make_key(hkey, sizeof(hkey), prefix, "silence:", id, errstr, errstr_size) != 0 ||
        make_key(zkey, sizeof(zkey), prefix, "silences", "", errstr, errstr_size) != 0)
        return -1;
    snprintf(now, sizeof(now), "%" PRId64, now_ms);
    snprintf(at, sizeof(at), "%" PRId64, now_ms + SILENCE_KEEP_MS);
    argv[2] = "2";
    argv[3] = hkey;
    argv[4] = zkey;
    argv[5] = id;
    argv[6] = now;
    argv[7] = at;
    if (!(rep = rconn_eval(r, expire_lua, 8, argv, NULL, errstr, errstr_size)))
        return -1;
    if (rep->type != REDIS_REPLY_INTEGER)
        snprintf(errstr, errstr_size, "unexpected reply from the silence script");
    else if (rep->integer == 0)
        snprintf(errstr, errstr_size, "no silence %s", id);
    else
        rc = 0;
    freeReplyObject(rep);
    return rc;
}
