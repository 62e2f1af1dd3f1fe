/* herald-backtest -- run a history through a config's rules, with no Kafka and no
 * Slack, and print what each channel would have received (docs/rules.md "Backtest").
 *
 *   herald-backtest -c CONFIG [--compare OTHER] [--messages FILE] [--redis HOST:PORT]
 *                   HISTORY...
 *
 * The history is read like herald-producer reads files (any ProwJob form), sorted by
 * event time and fed in batches, with the watermarks a replay publishes, through the
 * consumer's own stages (batch, engine, outbox, render): the same decisions the live
 * pipeline makes on the same history. Redis: a throwaway redis-server it starts and
 * stops, or with --redis the given one under a key prefix of its own (removed after).
 *
 * Exit: 0 done; 1 usage, config or start-up error; 2 some documents were rejected.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "config.h"
#include "dests.h"
#include "engine.h"
#include "event.h"
#include "input.h"
#include "log.h"
#include "outbox.h"
#include "redis.h"
#include "render.h"
#include "replay.h"
#include "util.h"
#include "version.h"
#include "watermark.h"

#define BT_SOURCE "backtest"
#define BT_MAX_KINDS 9

static const char *const kind_names[BT_MAX_KINDS] = {
    "failure", "recovered", "reminder",         "consequence",
    "stalled", "ecosystem", "ecosystem-update", "ecosystem-recovered",
    "other"};

struct bt_channel {
    char name[DESTS_MAX_LEN];
    long n[BT_MAX_KINDS];
};

struct bt_result {
    struct bt_channel *ch;
    size_t nch;
    long messages, rejected;
    FILE *out;   /* --messages, or NULL */
    bool bodies; /* --bodies: each line carries the Slack request too */
    const char *tag;
};

static int kind_index(const char *k)
{
    for (int i = 0; i < BT_MAX_KINDS - 1; i++)
        if (strcmp(kind_names[i], k) == 0)
            return i;
    return BT_MAX_KINDS - 1;
}

static struct bt_channel *channel(struct bt_result *res, const char *name)
{
    for (size_t i = 0; i < res->nch; i++)
        if (strcmp(res->ch[i].name, name) == 0)
            return &res->ch[i];
    struct bt_channel *n = realloc(res->ch, (res->nch + 1) * sizeof(*n));
    if (!n)
        return NULL;
    res->ch = n;
    memset(&n[res->nch], 0, sizeof(n[0]));
    snprintf(n[res->nch].name, sizeof(n[0].name), "%s", name);
    return &n[res->nch++];
}

/* The channel a destination posts to, for people: "#ack-lambda". */
static void channel_name(const struct config *cfg, const char *dest, char *out,
                         size_t size)
{
    char ch[DESTS_MAX_LEN];
    const struct receiver *r = dests_receiver(cfg, dest, ch, sizeof(ch));

    if (r && ch[0])
        snprintf(out, size, "%s", ch);
    else if (r && r->channel)
        snprintf(out, size, "%s", r->channel);
    else
        snprintf(out, size, "%s", dest);
}

/* ---- reading the history ---- */

/* Every ProwJob of path into h (bad documents are named and counted). 0, or -1 if the
 * file cannot be read or h is full. */
static int bt_read(struct replay *h, const char *path, struct bt_result *res)
{
    char err[1024], where[1024];
    struct input *in = input_open(path, err, sizeof(err));
    const cJSON *pj;
    int rc, status = 0;

    if (!in) {
        fprintf(stderr, "herald-backtest: %s\n", err);
        return -1;
    }
    while ((rc = input_next(in, &pj, where, sizeof(where), err, sizeof(err))) != 0) {
        struct event ev;
        if (rc < 0 || event_from_prowjob(&ev, pj, util_now_ms(), err, sizeof(err)) < 0) {
            fprintf(stderr, "herald-backtest: rejected %s: %s\n", where, err);
            res->rejected++;
            continue;
        }
        rc = replay_add(h, &ev, err, sizeof(err));
        event_release(&ev);
        if (rc == -2) {
            fprintf(stderr, "herald-backtest: rejected %s: %s\n", where, err);
            res->rejected++;
        } else if (rc < 0) {
            fprintf(stderr, "herald-backtest: %s: %s\n", where, err);
            status = -1;
            break;
        }
    }
    input_close(in);
    return status;
}

/* ---- feeding the history ---- */

static int add_watermark(struct batch_msg *m, char *buf, size_t size, int64_t ms,
                         bool final, int64_t offset)
{
    struct watermark w;
    char err[128];
    int n;

    if (watermark_set(&w, BT_SOURCE, ms, 1, final, err, sizeof(err)) < 0 ||
        (n = watermark_encode(&w, buf, size)) < 0)
        return -1;
    *m = (struct batch_msg){"backtest", 0,   offset,    NULL,
                            0,          buf, (size_t)n, WATERMARK_KIND};
    return 0;
}

static void bt_reject(void *opaque, const struct batch_msg *m, const char *reason,
                      const char *why)
{
    struct bt_result *res = opaque;

    res->rejected++;
    log_warn("event %" PRId64 " rejected (%s): %s", m->offset, reason, why);
}

static int step_all(struct engine *e, const struct batch *b, char *err, size_t esz)
{
    struct engine_in in;
    struct engine_out out;

    batch_input(b, &in);
    do {
        if (engine_step(e, &in, &out, err, esz) < 0)
            return -1;
        if (out.failed)
            log_error(
                "the rules failed on %ld events or timers (see the consumer's docs: "
                "a bug to report)",
                out.failed);
        if (out.epoch_lost) {
            snprintf(err, esz, "redis lost the state during the run");
            engine_out_release(&out);
            return -1;
        }
        memset(&in, 0, sizeof(in)); /* again with nothing new while more is due */
        engine_out_release(&out);
    } while (out.more);
    return 0;
}

/* Feed the sorted history in batches of the config's size, each followed by the
 * watermark a replay would publish after it, then the final one. */
static int feed(const struct config *cfg, struct engine *e, const struct replay *h,
                struct bt_result *res, char *err, size_t esz)
{
    size_t bs = (size_t)cfg->batch_size, i = 0;
    struct batch_msg *msgs = calloc(bs + 2, sizeof(*msgs));
    char wm[2][WATERMARK_MAX_BYTES];
    /* every event in full (no storied set): the reference the light path must match */
    struct batch_ctx ctx = {.cfg = cfg, .reject = bt_reject, .opaque = res};
    int rc = -1;

    if (!msgs)
        return -1;
    do {
        size_t n = 0;
        if (i == 0 && add_watermark(&msgs[n++], wm[0], sizeof(wm[0]),
                                    h->n ? h->items[0].event_ms - 1 : 0, false, 0) < 0)
            goto out;
        for (size_t k = 0; k < bs && i < h->n; k++, i++, n++)
            msgs[n] = (struct batch_msg){"backtest",
                                         0,
                                         (int64_t)i + 1,
                                         h->items[i].key,
                                         strlen(h->items[i].key),
                                         h->items[i].json,
                                         h->items[i].len,
                                         NULL};
        /* All events up to T are in: T is the last one's time, less 1 ms if the next
         * one has the same time. */
        bool last = i >= h->n;
        int64_t t = i ? h->items[i - 1].event_ms : 0;
        if (!last && h->items[i].event_ms == t)
            t--;
        if (add_watermark(&msgs[n++], wm[1], sizeof(wm[1]), t, last, (int64_t)i + 1) < 0)
            goto out;
        struct batch b;
        if (batch_build(&b, &ctx, msgs, n) < 0) {
            snprintf(err, esz, "out of memory");
            goto out;
        }
        int s = step_all(e, &b, err, esz);
        batch_release(&b);
        if (s < 0)
            goto out;
    } while (i < h->n);
    rc = 0;
out:
    free(msgs);
    return rc;
}

/* ---- draining the outbox, as Slack would take it ---- */

static int drain(const struct config *cfg, struct outbox *ob, struct bt_result *res,
                 char *err, size_t esz)
{
    long seq = 0;

    for (;;) {
        struct outbox_item *items;
        size_t n;
        long depth;
        int64_t next;
        if (outbox_claim(ob, util_now_ms(), 60000, 64, &items, &n, &depth, &next, err,
                         esz) < 0)
            return -1;
        if (n == 0) {
            outbox_items_free(items, n);
            if (depth == 0)
                return 0;
            util_sleep_ms(10, NULL);
            continue;
        }
        struct outbox_done *d = calloc(n, sizeof(*d));
        char(*ts)[32] = calloc(n, sizeof(*ts));
        for (size_t i = 0; d && ts && i < n; i++) {
            struct rendered r;
            char rerr[256], ch[DESTS_MAX_LEN];
            struct delivery dl = {0};
            const struct receiver *rcv =
                dests_receiver(cfg, items[i].dest, ch, sizeof(ch));
            d[i].it = &items[i];
            d[i].result = OUTBOX_SENT;
            snprintf(ts[i], sizeof(ts[i]), "%ld.000100", ++seq);
            d[i].ts = ts[i];
            if (!rcv || render_parse(cfg, items[i].record, &r, rerr, sizeof(rerr)) < 0 ||
                render_request(&r, rcv, ch, items[i].parent_ts, items[i].note, &dl) < 0) {
                log_error("alert %s -> %s cannot be rendered", items[i].alert_id,
                          items[i].dest);
                d[i].result = OUTBOX_REFUSED;
                render_release(&r);
                continue;
            }
            char name[DESTS_MAX_LEN];
            channel_name(cfg, items[i].dest, name, sizeof(name));
            struct bt_channel *c = channel(res, name);
            if (c)
                c->n[kind_index(r.kind)]++;
            res->messages++;
            char *line = render_summary(&r, name, dl.body, res->bodies);
            free((void *)(uintptr_t)dl.body);
            if (line && res->out)
                fprintf(res->out, "{\"config\":\"%s\",%s\n", res->tag, line + 1);
            free(line);
            render_release(&r);
        }
        int rc = d ? outbox_finish(ob, util_now_ms(), d, n, err, esz) : -1;
        free(d);
        free(ts);
        outbox_items_free(items, n);
        if (rc < 0)
            return -1;
    }
}

/* Remove what a run left under its prefix in a Redis it did not start. */
static void cleanup(struct rconn *r, const char *prefix)
{
    redisContext *ctx = rconn_get(r);
    char pattern[KEYS_MAX + 2], cursor[32] = "0";

    if (!ctx)
        return;
    snprintf(pattern, sizeof(pattern), "%s*", prefix);
    do {
        redisReply *rep =
            redisCommand(ctx, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
            if (rep)
                freeReplyObject(rep);
            return;
        }
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        for (size_t i = 0; i < rep->element[1]->elements; i++) {
            redisReply *d = redisCommand(ctx, "DEL %s", rep->element[1]->element[i]->str);
            if (d)
                freeReplyObject(d);
        }
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
}

/* One config over the history. */
static int run(struct config *cfg, const char *host, int port, const char *prefix,
               const struct replay *h, struct bt_result *res)
{
    struct rconn r;
    struct engine e;
    struct outbox ob;
    char err[512];
    int rc = -1;

    cfg->redis_host = host;
    cfg->redis_port = port;
    cfg->redis_password = NULL;
    cfg->key_prefix = prefix;
    rconn_init(&r, host, port, 0, NULL, 30000);
    if (engine_init(&e, &r, cfg, "herald-backtest", err, sizeof(err)) < 0 ||
        outbox_init(&ob, &r, prefix, 1e6, 1000000) < 0) {
        log_error("%s", err);
        goto out;
    }
    if (engine_epoch(&e, true, err, sizeof(err)) < 0 ||
        feed(cfg, &e, h, res, err, sizeof(err)) < 0 ||
        drain(cfg, &ob, res, err, sizeof(err)) < 0) {
        log_error("%s", err);
        goto out;
    }
    rc = 0;
out:
    cleanup(&r, prefix);
    engine_release(&e);
    rconn_release(&r);
    return rc;
}

static long total(const struct bt_result *res, const char *ch, int k)
{
    long n = 0;

    for (size_t i = 0; i < res->nch; i++)
        if (!ch || strcmp(res->ch[i].name, ch) == 0)
            n += k < 0 ? 0 : res->ch[i].n[k];
    if (k < 0)
        for (int j = 0; j < BT_MAX_KINDS; j++)
            n += total(res, ch, j);
    return n;
}

/* The table: one row per channel and kind with messages, then the totals. */
static void print_table(const struct bt_result *a, const struct bt_result *b)
{
    struct bt_result all = {0};

    for (size_t i = 0; i < a->nch; i++)
        channel(&all, a->ch[i].name);
    for (size_t i = 0; b && i < b->nch; i++)
        channel(&all, b->ch[i].name);
    if (b)
        printf("%-28s %-20s %8s %8s %8s\n", "channel", "kind", "A", "B", "B-A");
    else
        printf("%-28s %-20s %8s\n", "channel", "kind", "messages");
    for (size_t i = 0; i < all.nch; i++) {
        const char *ch = all.ch[i].name;
        for (int k = 0; k < BT_MAX_KINDS; k++) {
            long x = total(a, ch, k), y = b ? total(b, ch, k) : 0;
            if (!x && !y)
                continue;
            if (b)
                printf("%-28s %-20s %8ld %8ld %+8ld\n", ch, kind_names[k], x, y, y - x);
            else
                printf("%-28s %-20s %8ld\n", ch, kind_names[k], x);
        }
    }
    if (b)
        printf("%-28s %-20s %8ld %8ld %+8ld\n", "total", "", a->messages, b->messages,
               b->messages - a->messages);
    else
        printf("%-28s %-20s %8ld\n", "total", "", a->messages);
    free(all.ch);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: herald-backtest -c CONFIG [--compare OTHER] [--messages FILE]\n"
            "                      [--redis HOST:PORT] HISTORY...\n"
            "  Runs HISTORY (ProwJob files, as herald-producer reads them) through the\n"
            "  rules of CONFIG and prints the messages each channel would have got.\n"
            "  -c, --config FILE     the Herald config whose rules to try\n"
            "      --compare FILE    a second config: both side by side, and B-A\n"
            "      --messages FILE   every message as one JSON line (- = stdout)\n"
            "      --bodies          ... with the Slack request it would be\n"
            "      --redis HOST:PORT use this Redis (under a prefix of its own) instead\n"
            "                        of starting a throwaway redis-server\n"
            "      --version\n"
            "  -h, --help\n");
}

static struct config *load(const char *path)
{
    char err[8192];
    struct config *c = config_load(path, err, sizeof(err));

    if (!c)
        fputs(err, stderr);
    return c;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"compare", required_argument, NULL, 'C'},
                                         {"messages", required_argument, NULL, 'm'},
                                         {"redis", required_argument, NULL, 'r'},
                                         {"bodies", no_argument, NULL, 'B'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *cpath = NULL, *opath = NULL, *mpath = NULL, *redis = NULL;
    struct config *ca = NULL, *cb = NULL;
    struct bt_result ra = {.tag = "A"}, rb = {.tag = "B"};
    struct bt_redis srv = {0};
    struct replay h;
    char host[256] = "127.0.0.1", prefix[2][64], err[512];
    int port = 0, opt, status = 1;
    long long pl;

    log_init("herald-backtest", LOG_WARN, LOG_TEXT);
    replay_init(&h, REPLAY_DEFAULT_MAX_EVENTS);
    while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            cpath = optarg;
            break;
        case 'C':
            opath = optarg;
            break;
        case 'm':
            mpath = optarg;
            break;
        case 'r':
            redis = optarg;
            break;
        case 'B':
            ra.bodies = rb.bodies = true;
            break;
        case 'V':
            version_print(stdout, "herald-backtest");
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (!cpath || optind == argc) {
        usage(stderr);
        return 1;
    }
    if (!(ca = load(cpath)) || (opath && !(cb = load(opath))))
        goto out;
    for (int i = optind; i < argc; i++)
        if (bt_read(&h, argv[i], &ra) < 0)
            goto out;
    replay_sort(&h);
    if (redis) {
        const char *colon = strrchr(redis, ':');
        if (!colon || (size_t)(colon - redis) >= sizeof(host) ||
            util_parse_int(colon + 1, 1, 65535, &pl) < 0) {
            fprintf(stderr, "herald-backtest: --redis: expected HOST:PORT, got %s\n",
                    redis);
            goto out;
        }
        snprintf(host, sizeof(host), "%.*s", (int)(colon - redis), redis);
        port = (int)pl;
    } else if (bt_redis_start(&srv, NULL, err, sizeof(err)) < 0) {
        fprintf(stderr, "herald-backtest: %s\n", err);
        goto out;
    } else {
        port = srv.port;
    }
    for (int i = 0; i < 2; i++)
        snprintf(prefix[i], sizeof(prefix[i]), "herald-backtest:%ld:%c:", (long)getpid(),
                 'A' + i);
    if (mpath)
        ra.out = rb.out = strcmp(mpath, "-") == 0 ? stdout : fopen(mpath, "w");
    if (mpath && !ra.out) {
        fprintf(stderr, "herald-backtest: cannot write %s\n", mpath);
        goto out;
    }
    if (run(ca, host, port, prefix[0], &h, &ra) < 0 ||
        (cb && run(cb, host, port, prefix[1], &h, &rb) < 0))
        goto out;
    printf("herald-backtest: %zu events, %ld rejected; %s%s%s\n", h.n, ra.rejected, cpath,
           opath ? " (A) vs " : "", opath ? opath : "");
    print_table(&ra, cb ? &rb : NULL);
    status = ra.rejected ? 2 : 0;
out:
    if (ra.out && ra.out != stdout)
        fclose(ra.out);
    bt_redis_stop(&srv);
    replay_release(&h);
    free(ra.ch);
    free(rb.ch);
    config_free(ca);
    config_free(cb);
    return status;
}
