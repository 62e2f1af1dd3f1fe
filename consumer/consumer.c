/* consumer.c -- the Kafka side of herald-consumer: group membership, batches,
 * at-least-once offsets.
 *
 * Offsets are stored (enable.auto.offset.store=false) only after a batch's alert work
 * is done; librdkafka commits stored offsets in the background, in the rebalance
 * callback before partitions are given up, and on close. While Redis is unavailable
 * the batch in hand is kept, the assignment is paused and the consumer keeps polling
 * (so it stays in the group) until Redis answers again.
 */
#include "consumer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "kafka.h"
#include "log.h"
#include "storm.h"
#include "util.h"

#define HEALTH_PING_MS 1000

static void set_assigned_gauge(struct consumer *c)
{
    metrics_gauge_set(c->metrics, "herald_partitions_assigned",
                      "Partitions this consumer owns.", c->assigned ? c->assigned->cnt : 0,
                      "");
}

static void describe(const rd_kafka_topic_partition_list_t *l, char *buf, size_t size)
{
    size_t o = 0;

    buf[0] = '\0';
    for (int i = 0; l && i < l->cnt && o + 16 < size; i++) {
        int w = snprintf(buf + o, size - o, "%s%s[%" PRId32 "]", i ? "," : "", l->elems[i].topic,
                         l->elems[i].partition);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

/* Rebalance: commit what is stored before giving partitions up, so the next owner
 * starts right after the last finished batch. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct consumer *c = opaque;
    char desc[1024];
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;

    describe(parts, desc, sizeof(desc));
    c->generation++;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_info("%s: assigned %s", c->name, desc[0] ? desc : "(nothing)");
        if (coop)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
    } else {
        log_info("%s: revoked %s", c->name, desc[0] ? desc : "(nothing)");
        rd_kafka_resp_err_t cerr = rd_kafka_commit(rk, NULL, 0);
        if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
            log_warn("%s: commit on revoke: %s (the next owner may redeliver the last "
                     "batch; dedup absorbs it)", c->name, rd_kafka_err2str(cerr));
        if (coop)
            rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
        else
            rd_kafka_assign(rk, NULL);
    }
    rd_kafka_topic_partition_list_t *now = NULL;
    if (rd_kafka_assignment(rk, &now) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (c->assigned)
            rd_kafka_topic_partition_list_destroy(c->assigned);
        c->assigned = now;
    }
    set_assigned_gauge(c);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct consumer *c = opaque;

    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        atomic_store(&c->kafka_ok, 0);
    metrics_counter_add(c->metrics, "herald_kafka_errors_total", "Kafka client errors.", 1, "");
    log_warn("%s: kafka: %s: %s", c->name, rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void on_dlq_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct consumer *c = opaque;

    (void)rk;
    if (m->err) {
        metrics_counter_add(c->metrics, "herald_dead_letter_errors_total",
                            "Dead-letter writes Kafka did not acknowledge.", 1, "");
        log_error("%s: dead-letter write failed: %s", c->name, rd_kafka_err2str(m->err));
    }
}

/* true for the kafka.properties the dead-letter producer shares with the consumer:
 * how to reach and authenticate to the brokers, not consumer behaviour. */
static bool is_connection_prop(const char *key)
{
    static const char *const prefixes[] = {"security.", "sasl.", "ssl.", "socket.",
                                           "broker.", "client.dns", "api.version",
                                           "metadata.", "reconnect.", "debug"};

    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncmp(key, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

/* The dead-letter producer: idempotent, same brokers and security properties. */
static rd_kafka_t *dlq_new(struct consumer *c, char *errstr, size_t errstr_size)
{
    const struct config *cfg = c->cfg;
    rd_kafka_conf_t *conf = kafka_conf_new(cfg->brokers, NULL, 0, errstr, errstr_size);
    rd_kafka_t *rk;

    if (!conf)
        return NULL;
    for (size_t i = 0; i < cfg->nkafka_props; i++)
        if (is_connection_prop(cfg->kafka_props[i].key) &&
            kafka_conf_set(conf, cfg->kafka_props[i].key, cfg->kafka_props[i].value, errstr,
                           errstr_size) < 0) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    if (kafka_conf_set(conf, "enable.idempotence", "true", errstr, errstr_size) < 0 ||
        kafka_conf_set(conf, "linger.ms", "5", errstr, errstr_size) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_dlq_delivery);
    rd_kafka_conf_set_opaque(conf, c);
    if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size)))
        rd_kafka_conf_destroy(conf);
    return rk;
}

int consumer_dlq(struct consumer *c, const char *kind, const char *why, const char *source,
                 const void *key, size_t keylen, const void *value, size_t len)
{
    char labels[128] = "";
    rd_kafka_resp_err_t err;

    metrics_labels_add(labels, sizeof(labels), "reason", kind);
    metrics_counter_add(c->metrics, "herald_dead_lettered_total",
                        "Messages written to the dead-letter topic.", 1, labels);
    if (!c->dlq)
        return -1;
    err = rd_kafka_producev(
        c->dlq, RD_KAFKA_V_TOPIC(c->cfg->dead_letter_topic),
        RD_KAFKA_V_KEY((void *)(uintptr_t)key, keylen),
        RD_KAFKA_V_VALUE((void *)(uintptr_t)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADER("herald-reason", why, -1),
        RD_KAFKA_V_HEADER("herald-kind", kind, -1),
        RD_KAFKA_V_HEADER("herald-source", source ? source : "", -1), RD_KAFKA_V_END);
    if (err) {
        log_error("%s: dead-letter write refused: %s", c->name, rd_kafka_err2str(err));
        return -1;
    }
    rd_kafka_poll(c->dlq, 0);
    return 0;
}

int consumer_dlq_flush(struct consumer *c)
{
    if (!c->dlq || rd_kafka_outq_len(c->dlq) == 0)
        return 0;
    rd_kafka_flush(c->dlq, 10000);
    if (rd_kafka_outq_len(c->dlq) > 0) {
        log_error("%s: %d dead-letter writes still unacknowledged after 10 s", c->name,
                  rd_kafka_outq_len(c->dlq));
        return -1;
    }
    return 0;
}

int consumer_init(struct consumer *c, const struct config *cfg, const char *name,
                  struct metrics *m, const volatile int *stop, char *errstr,
                  size_t errstr_size)
{
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_topic_partition_list_t *topics = NULL;
    rd_kafka_resp_err_t err;
    int rc = -1;

    memset(c, 0, sizeof(*c));
    c->cfg = cfg;
    c->name = name;
    c->metrics = m;
    c->stop = stop;
    atomic_init(&c->redis_ok, 0);
    atomic_init(&c->kafka_ok, 1);
    rconn_init(&c->redis, cfg->redis_host, cfg->redis_port, cfg->redis_db,
               cfg->redis_password, cfg->redis_timeout_ms);
    if (engine_setup(&c->redis) < 0 || silence_setup(&c->redis) < 0 ||
        storm_setup(&c->redis) < 0) {
        snprintf(errstr, errstr_size, "cannot register Redis scripts");
        goto out;
    }
    if (!(c->deliverer = deliverer_new(&cfg->delivery, errstr, errstr_size)))
        goto out;
    if (cfg->dead_letter_topic && *cfg->dead_letter_topic &&
        !(c->dlq = dlq_new(c, errstr, errstr_size)))
        goto out;
    if (!(conf = kafka_conf_new(cfg->brokers, NULL, 0, errstr, errstr_size)))
        goto out;
    /* Ours first, then the user's properties may override timeouts and security. */
    if (kafka_conf_set(conf, "group.id", cfg->group, errstr, errstr_size) < 0 ||
        kafka_conf_set(conf, "client.id", name, errstr, errstr_size) < 0 ||
        kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr, errstr_size) < 0 ||
        kafka_conf_set(conf, "enable.auto.commit", "true", errstr, errstr_size) < 0 ||
        kafka_conf_set(conf, "auto.commit.interval.ms", "1000", errstr, errstr_size) < 0 ||
        kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, errstr_size) < 0 ||
        /* the event clock needs to know which partitions have nothing left to read */
        kafka_conf_set(conf, "enable.partition.eof", "true", errstr, errstr_size) < 0)
        goto out;
    for (size_t i = 0; i < cfg->nkafka_props; i++)
        if (kafka_conf_set(conf, cfg->kafka_props[i].key, cfg->kafka_props[i].value, errstr,
                           errstr_size) < 0)
            goto out;
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_opaque(conf, c);
    if (!(c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size)))
        goto out;
    conf = NULL; /* owned by rk */
    rd_kafka_poll_set_consumer(c->rk);
    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, cfg->topic, RD_KAFKA_PARTITION_UA);
    if ((err = rd_kafka_subscribe(c->rk, topics)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "subscribe to %s: %s", cfg->topic, rd_kafka_err2str(err));
        goto out;
    }
    set_assigned_gauge(c);
    log_info("%s: member of group %s on topic %s (brokers %s)", name, cfg->group, cfg->topic,
             cfg->brokers);
    rc = 0;
out:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (topics)
        rd_kafka_topic_partition_list_destroy(topics);
    return rc;
}

static bool is_assigned(const struct consumer *c, const rd_kafka_message_t *m)
{
    if (!c->assigned)
        return false;
    return rd_kafka_topic_partition_list_find(c->assigned, rd_kafka_topic_name(m->rkt),
                                              m->partition) != NULL;
}

/* Drop batch items whose partition this member no longer owns: the new owner gets
 * them from the last committed offset. */
static void drop_revoked(struct consumer *c, struct batch_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!items[i].skip && !is_assigned(c, items[i].msg))
            items[i].skip = true;
}

struct consumer_part *consumer_part(struct consumer *c, const char *topic, int32_t partition)
{
    char name[256];

    snprintf(name, sizeof(name), "%s:%" PRId32, topic, partition);
    for (size_t i = 0; i < c->nparts; i++)
        if (strcmp(c->parts[i].name, name) == 0)
            return &c->parts[i];
    if (c->nparts == CONSUMER_MAX_PARTS)
        return NULL;
    struct consumer_part *p = &c->parts[c->nparts++];
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->next_offset = -1;
    p->last_ms = 0;
    return p;
}

/* Remember that m's partition was read to its end. */
static void note_eof(struct consumer *c, const rd_kafka_message_t *m)
{
    struct consumer_part *p = consumer_part(c, rd_kafka_topic_name(m->rkt), m->partition);

    if (p && m->offset > p->next_offset)
        p->next_offset = m->offset;
}

/* Collect up to batch_size messages, waiting at most batch_wait in all. */
static size_t collect(struct consumer *c, struct batch_item *items, size_t max)
{
    size_t n = 0;
    int64_t deadline = util_mono_ms() + c->cfg->batch_wait_ms;
    unsigned gen = c->generation;

    while (n < max && !*c->stop) {
        int64_t left = deadline - util_mono_ms();
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, (int)(left > 0 ? left : 0));
        if (!m) {
            if (left <= 0)
                break;
            continue;
        }
        if (m->err) {
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                note_eof(c, m);
            else
                log_warn("%s: consume: %s", c->name, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        atomic_store(&c->kafka_ok, 1);
        items[n].msg = m;
        items[n++].skip = false;
    }
    if (gen != c->generation)
        drop_revoked(c, items, n);
    return n;
}

/* Store offset+1 of each finished message's partition (highest wins). */
static void store_offsets(struct consumer *c, struct batch_item *items, size_t n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    rd_kafka_resp_err_t err;

    for (size_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = items[i].msg;
        rd_kafka_topic_partition_t *p;
        if (items[i].skip || !is_assigned(c, m))
            continue;
        p = rd_kafka_topic_partition_list_find(l, rd_kafka_topic_name(m->rkt), m->partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition);
        if (m->offset + 1 > p->offset)
            p->offset = m->offset + 1;
    }
    if (l->cnt && (err = rd_kafka_offsets_store(c->rk, l)) != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_warn("%s: storing offsets: %s", c->name, rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
}

/* Redis is down: pause, keep polling to stay in the group, retry the batch with
 * backoff. Messages fetched meanwhile are dropped and their partitions rewound to
 * the first one so nothing is skipped. Returns 0 when the batch is done, -1 if
 * stopped first. */
static int wait_for_redis(struct consumer *c, struct batch_item *items, size_t n)
{
    int64_t backoff = 200;
    rd_kafka_topic_partition_list_t *rewind = rd_kafka_topic_partition_list_new(4);

    if (c->assigned)
        rd_kafka_pause_partitions(c->rk, c->assigned);
    while (!*c->stop) {
        int64_t until = util_mono_ms() + backoff;
        while (!*c->stop && util_mono_ms() < until) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 100);
            if (!m)
                continue;
            if (!m->err &&
                !rd_kafka_topic_partition_list_find(rewind, rd_kafka_topic_name(m->rkt),
                                                    m->partition))
                rd_kafka_topic_partition_list_add(rewind, rd_kafka_topic_name(m->rkt),
                                                  m->partition)
                    ->offset = m->offset;
            rd_kafka_message_destroy(m);
        }
        drop_revoked(c, items, n);
        if (pipeline_process(c, items, n, true) == 0) {
            if (c->assigned)
                rd_kafka_resume_partitions(c->rk, c->assigned);
            if (rewind->cnt) {
                rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, rewind, 5000);
                if (e) {
                    log_warn("%s: rewind after pause: %s", c->name, rd_kafka_error_string(e));
                    rd_kafka_error_destroy(e);
                }
            }
            log_info("%s: redis is back; resumed", c->name);
            rd_kafka_topic_partition_list_destroy(rewind);
            return 0;
        }
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
    rd_kafka_topic_partition_list_destroy(rewind);
    return -1;
}

/* Keep /readyz honest while idle: PING Redis about once a second. */
static void health_ping(struct consumer *c)
{
    int64_t now = util_mono_ms();
    redisContext *ctx;
    redisReply *rep;

    if (now - c->last_ping_ms < HEALTH_PING_MS)
        return;
    c->last_ping_ms = now;
    if (!(ctx = rconn_get(&c->redis))) {
        atomic_store(&c->redis_ok, 0);
        return;
    }
    rep = redisCommand(ctx, "PING");
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        rconn_fail(&c->redis, rep ? rep->str : ctx->errstr);
        atomic_store(&c->redis_ok, 0);
    } else {
        atomic_store(&c->redis_ok, 1);
    }
    if (rep)
        freeReplyObject(rep);
}

int consumer_run(struct consumer *c)
{
    size_t max = (size_t)c->cfg->batch_size;
    struct batch_item *items = calloc(max, sizeof(*items));

    if (!items) {
        log_error("%s: out of memory", c->name);
        return -1;
    }
    while (!*c->stop) {
        size_t n = collect(c, items, max);
        if (n == 0) {
            health_ping(c);
            if (atomic_load(&c->redis_ok))
                pipeline_tick(c);
            continue;
        }
        int done = pipeline_process(c, items, n, true) == 0 ||
                   (c->cfg->redis_fail_open ? pipeline_process(c, items, n, false) == 0
                                            : wait_for_redis(c, items, n) == 0);
        consumer_dlq_flush(c);
        if (done)
            store_offsets(c, items, n);
        for (size_t i = 0; i < n; i++)
            rd_kafka_message_destroy(items[i].msg);
        metrics_counter_add(c->metrics, "herald_batches_total", "Batches processed.", 1, "");
        c->last_ping_ms = util_mono_ms();
        if (done)
            pipeline_tick(c);
    }
    free(items);
    return 0;
}

void consumer_release(struct consumer *c)
{
    if (!c)
        return;
    consumer_dlq_flush(c); /* before offsets are committed by close */
    if (c->rk) {
        rd_kafka_resp_err_t err = rd_kafka_consumer_close(c->rk); /* commits, leaves */
        if (err)
            log_warn("%s: close: %s", c->name, rd_kafka_err2str(err));
        rd_kafka_destroy(c->rk);
        c->rk = NULL;
    }
    if (c->assigned)
        rd_kafka_topic_partition_list_destroy(c->assigned);
    c->assigned = NULL;
    deliverer_free(c->deliverer);
    c->deliverer = NULL;
    if (c->dlq) {
        rd_kafka_flush(c->dlq, 10000);
        rd_kafka_destroy(c->dlq);
        c->dlq = NULL;
    }
    silence_set_release(&c->silences);
    rconn_release(&c->redis);
}

int consumer_ready(void *opaque, char *why, size_t why_size)
{
    struct consumer *c = opaque;

    if (!atomic_load(&c->kafka_ok)) {
        snprintf(why, why_size, "kafka: all brokers down");
        return 1;
    }
    if (!atomic_load(&c->redis_ok)) {
        snprintf(why, why_size, "redis unreachable");
        return 1;
    }
    return 0;
}
