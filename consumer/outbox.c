/* outbox.c -- see outbox.h. */
#include "outbox.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "silence.h"
#include "util.h"

#include "claim.lua.h"
#include "finish.lua.h"

static const enum key_id outbox_keys[] = {KEY_ALERTS,  KEY_Q,     KEY_QSCHED, KEY_QSTATE,
                                          KEY_THREADS, KEY_STORM, KEY_SENT};
#define OUTBOX_NKEYS (sizeof(outbox_keys) / sizeof(outbox_keys[0]))

int outbox_init(struct outbox *o, struct rconn *r, const char *prefix, double rate,
                int burst)
{
    char err[128];

    memset(o, 0, sizeof(*o));
    o->r = r;
    o->rate = rate > 0 ? rate : 1;
    o->burst = burst > 0 ? burst : 1;
    if (keys_init(&o->keys, prefix) < 0 ||
        silence_make_id(o->holder, err, sizeof(err)) < 0)
        return -1;
    if (rconn_add_script(r, claim_lua) < 0 || rconn_add_script(r, finish_lua) < 0)
        return -1;
    return 0;
}

/* "numkeys key..." from argv[a]; nk holds the count. Returns the next index. */
static size_t put_keys(const struct outbox *o, const char **argv, size_t a, char *nk,
                       size_t nk_size)
{
    snprintf(nk, nk_size, "%zu", OUTBOX_NKEYS);
    argv[a++] = nk;
    for (size_t k = 0; k < OUTBOX_NKEYS; k++)
        argv[a++] = o->keys.name[outbox_keys[k]];
    return a;
}

static char *dupstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return strdup(cJSON_IsString(v) ? v->valuestring : "");
}

static long inum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
}

int outbox_claim(struct outbox *o, int64_t now_ms, int64_t lease_ms, size_t max,
                 struct outbox_item **items, size_t *n, long *depth, int64_t *next_ms,
                 char *errstr, size_t errstr_size)
{
    const char *argv[2 + 1 + OUTBOX_NKEYS + 6];
    char nk[8], now[24], lease[24], mx[24], rate[32], burst[16];
    redisReply *rep;
    cJSON *root = NULL, *e;
    size_t a;
    int rc = -1;

    *items = NULL;
    *n = 0;
    *depth = 0;
    *next_ms = 0;
    a = put_keys(o, argv, 2, nk, sizeof(nk));
    snprintf(now, sizeof(now), "%" PRId64, now_ms);
    snprintf(lease, sizeof(lease), "%" PRId64, lease_ms);
    snprintf(mx, sizeof(mx), "%zu", max);
    snprintf(rate, sizeof(rate), "%.6f", o->rate);
    snprintf(burst, sizeof(burst), "%d", o->burst);
    argv[a++] = now;
    argv[a++] = lease;
    argv[a++] = mx;
    argv[a++] = o->holder;
    argv[a++] = rate;
    argv[a++] = burst;
    if (!(rep = rconn_eval(o->r, claim_lua, (int)a, argv, NULL, errstr, errstr_size)))
        return -1;
    if (rep->type != REDIS_REPLY_STRING ||
        !cJSON_IsObject(root = cJSON_Parse(rep->str))) {
        snprintf(errstr, errstr_size, "claim: the reply is not JSON");
        goto out;
    }
    *depth = inum(root, "depth");
    *next_ms = inum(root, "next");
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "items");
    size_t cnt = cJSON_IsArray(list) ? (size_t)cJSON_GetArraySize(list) : 0;
    if (cnt && !(*items = calloc(cnt, sizeof(**items)))) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    cJSON_ArrayForEach(e, list)
    {
        struct outbox_item *it = &(*items)[*n];
        it->dest = dupstr(e, "d");
        it->member = dupstr(e, "m");
        it->alert_id = dupstr(e, "id");
        it->record = dupstr(e, "rec");
        it->parent_ts = dupstr(e, "parent");
        it->note = dupstr(e, "note");
        it->attempts = (int)inum(e, "attempts");
        it->uncertain = inum(e, "uncertain") != 0;
        it->since_ms = inum(e, "since");
        (*n)++;
        if (!it->dest || !it->member || !it->alert_id || !it->record || !it->parent_ts ||
            !it->note) {
            snprintf(errstr, errstr_size, "out of memory");
            outbox_items_free(*items, *n);
            *items = NULL;
            *n = 0;
            goto out;
        }
    }
    rc = 0;
out:
    cJSON_Delete(root);
    freeReplyObject(rep);
    return rc;
}

int outbox_finish(struct outbox *o, int64_t now_ms, const struct outbox_done *d, size_t n,
                  char *errstr, size_t errstr_size)
{
    static const char *const results[] = {"sent", "refused", "retry", "aborted"};
    size_t argc = 2 + 1 + OUTBOX_NKEYS + 1 + 9 * n;
    const char **argv = calloc(argc, sizeof(*argv));
    char(*nums)[24] = calloc(n + 1, sizeof(*nums)), now[24], nk[8];
    redisReply *rep = NULL;
    size_t a;
    int rc = -1;

    if (n == 0) {
        free(argv);
        free(nums);
        return 0;
    }
    if (!argv || !nums) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    a = put_keys(o, argv, 2, nk, sizeof(nk));
    snprintf(now, sizeof(now), "%" PRId64, now_ms);
    argv[a++] = now;
    for (size_t i = 0; i < n; i++) {
        snprintf(nums[i], sizeof(nums[i]), "%" PRId64, d[i].delay_ms);
        argv[a++] = d[i].it->dest;
        argv[a++] = d[i].it->member;
        argv[a++] = d[i].it->alert_id;
        argv[a++] = results[d[i].result];
        argv[a++] = d[i].ts ? d[i].ts : "";
        argv[a++] = nums[i];
        argv[a++] = d[i].uncertain ? "1" : "0";
        argv[a++] = d[i].fallback ? d[i].fallback : "";
        argv[a++] = d[i].note ? d[i].note : "";
    }
    if ((rep = rconn_eval(o->r, finish_lua, (int)a, argv, NULL, errstr, errstr_size)))
        rc = 0;
out:
    if (rep)
        freeReplyObject(rep);
    free(argv);
    free(nums);
    return rc;
}

void outbox_item_release(struct outbox_item *it)
{
    if (!it)
        return;
    free(it->dest);
    free(it->member);
    free(it->alert_id);
    free(it->record);
    free(it->parent_ts);
    free(it->note);
    memset(it, 0, sizeof(*it));
}

void outbox_items_free(struct outbox_item *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++)
        outbox_item_release(&items[i]);
    free(items);
}
