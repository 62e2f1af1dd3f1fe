/* intake.c -- see intake.h. */
#include "intake.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"
#include "log.h"
#include "util.h"

static void set_assigned_gauge(struct intake *in)
{
    metrics_gauge_set(in->metrics, "herald_partitions_assigned",
                      "Partitions this consumer owns.",
                      in->assigned ? in->assigned->cnt : 0, "");
}

static void describe(const rd_kafka_topic_partition_list_t *l, char *buf, size_t size)
{
    size_t o = 0;

    buf[0] = '\0';
    for (int i = 0; l && i < l->cnt && o + 16 < size; i++) {
        int w = snprintf(buf + o, size - o, "%s%s[%" PRId32 "]", i ? "," : "",
                         l->elems[i].topic, l->elems[i].partition);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

/* Newly assigned partitions whose committed offset lies past the end of the log (a
 * broker that lost its log, an unclean leader election, a topic recreated) are read
 * from the start of what is there, loudly. The rest start at their committed offset. */
static void check_log_ends(struct intake *in, rd_kafka_t *rk,
                           rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_copy(parts);

    if (rd_kafka_committed(rk, c, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        goto out;
    for (int i = 0; i < c->cnt; i++) {
        int64_t lo = -1, hi = -1;
        const rd_kafka_topic_partition_t *p = &c->elems[i];
        if (p->offset < 0 || rd_kafka_query_watermark_offsets(rk, p->topic, p->partition,
                                                              &lo, &hi, 5000) != 0)
            continue;
        if (p->offset <= hi)
            continue;
        atomic_fetch_add(&in->resets, 1);
        metrics_count(in->metrics, "herald_offset_resets_total",
                      "Partitions read again from the start because the log lost the "
                      "offset we had.",
                      NULL, NULL, NULL, NULL);
        log_error("%s: %s[%" PRId32 "]: the committed offset %" PRId64
                  " is past the end of the log (%" PRId64 "): the log does not hold our "
                  "offset any more (was the broker's log lost?); reading from its start "
                  "(%" PRId64 ")",
                  in->name, p->topic, p->partition, p->offset, hi, lo);
        rd_kafka_topic_partition_list_find(parts, p->topic, p->partition)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    }
out:
    rd_kafka_topic_partition_list_destroy(c);
}

/* Rebalance: commit what is stored before giving partitions up, so the next owner
 * starts at the first offset Redis still needs. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct intake *in = opaque;
    char desc[1024];
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;

    describe(parts, desc, sizeof(desc));
    in->generation++;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_info("%s: assigned %s", in->name, desc[0] ? desc : "(nothing)");
        check_log_ends(in, rk, parts);
        if (coop)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
    } else {
        log_info("%s: revoked %s", in->name, desc[0] ? desc : "(nothing)");
        rd_kafka_resp_err_t cerr = rd_kafka_commit(rk, NULL, 0);
        if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
            log_warn("%s: commit on revoke: %s (the next owner re-reads from the offset "
                     "committed before; nothing is lost)",
                     in->name, rd_kafka_err2str(cerr));
        if (coop)
            rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
        else
            rd_kafka_assign(rk, NULL);
    }
    rd_kafka_topic_partition_list_t *now = NULL;
    if (rd_kafka_assignment(rk, &now) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (in->assigned)
            rd_kafka_topic_partition_list_destroy(in->assigned);
        in->assigned = now;
    }
    set_assigned_gauge(in);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct intake *in = opaque;

    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        atomic_store(&in->kafka_ok, 0);
    metrics_counter_add(in->metrics, "herald_kafka_errors_total", "Kafka client errors.",
                        1, "");
    log_warn("%s: kafka: %s: %s", in->name, rd_kafka_err2name((rd_kafka_resp_err_t)err),
             reason);
}

static void on_out_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct intake *in = opaque;

    (void)rk;
    if (m->err) {
        metrics_counter_add(
            in->metrics, "herald_dead_letter_errors_total",
            "Dead-letter and alert-record writes Kafka did not acknowledge.", 1, "");
        log_error("%s: write to %s failed: %s", in->name, rd_kafka_topic_name(m->rkt),
                  rd_kafka_err2str(m->err));
    }
}

/* true for the kafka.properties the producer shares with the consumer: how to reach
 * and authenticate to the brokers, not consumer behaviour. */
static bool is_connection_prop(const char *key)
{
    static const char *const prefixes[] = {
        "security.",  "sasl.",       "ssl.",      "socket.",    "broker.",
        "client.dns", "api.version", "metadata.", "reconnect.", "debug"};

    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncmp(key, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

static rd_kafka_t *out_new(struct intake *in, char *errstr, size_t errstr_size)
{
    const struct config *cfg = in->cfg;
    rd_kafka_conf_t *conf = kafka_conf_new(cfg->brokers, NULL, 0, errstr, errstr_size);
    rd_kafka_t *rk;

    if (!conf)
        return NULL;
    for (size_t i = 0; i < cfg->nkafka_props; i++)
        if (is_connection_prop(cfg->kafka_props[i].key) &&
            kafka_conf_set(conf, cfg->kafka_props[i].key, cfg->kafka_props[i].value,
                           errstr, errstr_size) < 0)
            goto fail;
    if (kafka_conf_set(conf, "enable.idempotence", "true", errstr, errstr_size) < 0 ||
        kafka_conf_set(conf, "linger.ms", "5", errstr, errstr_size) < 0)
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, on_out_delivery);
    rd_kafka_conf_set_opaque(conf, in);
    if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size)))
        return rk;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* The consumer's own settings first; the user's kafka.properties may override them. */
static const char *const consumer_props[][2] = {
    {"enable.auto.offset.store", "false"},
    {"enable.auto.commit", "true"},
    {"auto.commit.interval.ms", "1000"},
    {"auto.offset.reset", "earliest"},
    /* small fetches, soon: an alert waits for its batch (docs/performance.md) */
    {"fetch.wait.max.ms", "10"},
    {"queued.max.messages.kbytes", "4096"},
};

int intake_init(struct intake *in, const struct config *cfg, const char *name,
                struct metrics *m, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_topic_partition_list_t *topics = NULL;
    rd_kafka_resp_err_t err;
    int rc = -1;

    memset(in, 0, sizeof(*in));
    in->cfg = cfg;
    in->name = name;
    in->metrics = m;
    in->max = (size_t)cfg->batch_size;
    atomic_init(&in->kafka_ok, 1);
    atomic_init(&in->resets, 0);
    if (!(in->held = calloc(in->max, sizeof(*in->held))) ||
        !(in->msgs = calloc(in->max, sizeof(*in->msgs)))) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    if (((cfg->dead_letter_topic && *cfg->dead_letter_topic) ||
         (cfg->alerts_topic && *cfg->alerts_topic)) &&
        !(in->out = out_new(in, errstr, errstr_size)))
        goto out;
    if (!(conf = kafka_conf_new(cfg->brokers, NULL, 0, errstr, errstr_size)))
        goto out;
    if (kafka_conf_set(conf, "group.id", cfg->group, errstr, errstr_size) < 0 ||
        kafka_conf_set(conf, "client.id", name, errstr, errstr_size) < 0)
        goto out;
    for (size_t i = 0; i < sizeof(consumer_props) / sizeof(consumer_props[0]); i++)
        if (kafka_conf_set(conf, consumer_props[i][0], consumer_props[i][1], errstr,
                           errstr_size) < 0)
            goto out;
    /* librdkafka >= 2.1 looks at a full prefetch queue again after this long (2.0.2:
     * a fixed second, which caps a replay at about queued.max.messages.kbytes a
     * second: docs/performance.md). */
    if (rd_kafka_version() >= 0x020100ff &&
        kafka_conf_set(conf, "fetch.queue.backoff.ms", "10", errstr, errstr_size) < 0)
        goto out;
    for (size_t i = 0; i < cfg->nkafka_props; i++)
        if (kafka_conf_set(conf, cfg->kafka_props[i].key, cfg->kafka_props[i].value,
                           errstr, errstr_size) < 0)
            goto out;
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_opaque(conf, in);
    if (!(in->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size)))
        goto out;
    conf = NULL; /* owned by rk */
    rd_kafka_poll_set_consumer(in->rk);
    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, cfg->topic, RD_KAFKA_PARTITION_UA);
    if ((err = rd_kafka_subscribe(in->rk, topics)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "subscribe to %s: %s", cfg->topic,
                 rd_kafka_err2str(err));
        goto out;
    }
    set_assigned_gauge(in);
    log_info("%s: member of group %s on topic %s (brokers %s)", name, cfg->group,
             cfg->topic, cfg->brokers);
    rc = 0;
out:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (topics)
        rd_kafka_topic_partition_list_destroy(topics);
    return rc;
}

static bool is_assigned(const struct intake *in, const rd_kafka_message_t *m)
{
    return in->assigned &&
           rd_kafka_topic_partition_list_find(in->assigned, rd_kafka_topic_name(m->rkt),
                                              m->partition) != NULL;
}

static void free_held(struct intake *in)
{
    for (size_t i = 0; i < in->n; i++)
        rd_kafka_message_destroy(in->held[i]);
    in->n = 0;
}

/* A log that lost what we read (a broker that restarted empty, an unclean leader
 * election, a topic recreated) answers our offset with "out of range", and
 * auto.offset.reset reads from the start of what is there. Say so loudly. */
static void note_error(struct intake *in, const rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return;
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
        m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        atomic_fetch_add(&in->resets, 1);
        metrics_count(in->metrics, "herald_offset_resets_total",
                      "Partitions read again from the start because the log lost the "
                      "offset we had.",
                      NULL, NULL, NULL, NULL);
        log_error(
            "%s: %s: the log does not hold our offset any more (was the broker's log "
            "lost?); reading from the start of what is there",
            in->name, rd_kafka_message_errstr(m));
        return;
    }
    log_warn("%s: consume: %s", in->name, rd_kafka_message_errstr(m));
}

static const char *header_kind(const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t len = 0;
    static const char wm[] = "watermark";

    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        rd_kafka_header_get_last(h, "herald-kind", &v, &len) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
        return NULL;
    return len == sizeof(wm) - 1 && memcmp(v, wm, len) == 0 ? wm : NULL;
}

size_t intake_poll(struct intake *in, const volatile int *stop,
                   const struct batch_msg **msgs)
{
    int64_t deadline = util_mono_ms() + in->cfg->batch_wait_ms;
    unsigned gen = in->generation;

    free_held(in);
    while (in->n < in->max && !*stop) {
        int64_t left = deadline - util_mono_ms();
        rd_kafka_message_t *m =
            rd_kafka_consumer_poll(in->rk, (int)(left > 0 ? left : 0));
        if (!m) {
            if (left <= 0)
                break;
            continue;
        }
        if (m->err) {
            note_error(in, m);
            rd_kafka_message_destroy(m);
            continue;
        }
        atomic_store(&in->kafka_ok, 1);
        in->held[in->n++] = m;
    }
    size_t k = 0;
    for (size_t i = 0; i < in->n; i++) {
        rd_kafka_message_t *m = in->held[i];
        if (gen != in->generation && !is_assigned(in, m)) {
            rd_kafka_message_destroy(m); /* revoked: its new owner reads it */
            continue;
        }
        in->held[k] = m;
        in->msgs[k] = (struct batch_msg){rd_kafka_topic_name(m->rkt),
                                         m->partition,
                                         m->offset,
                                         m->key,
                                         m->key_len,
                                         m->payload,
                                         m->len,
                                         header_kind(m)};
        k++;
    }
    in->n = k;
    *msgs = in->msgs;
    return k;
}

void intake_done(struct intake *in, const char *const *tps, const int64_t *pins,
                 size_t ntps)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)ntps + 1);
    rd_kafka_resp_err_t err;

    for (size_t i = 0; i < in->n; i++) {
        rd_kafka_message_t *m = in->held[i];
        rd_kafka_topic_partition_t *p;
        if (!is_assigned(in, m))
            continue;
        p = rd_kafka_topic_partition_list_find(l, rd_kafka_topic_name(m->rkt),
                                               m->partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt),
                                                  m->partition);
        if (m->offset + 1 > p->offset)
            p->offset = m->offset + 1;
    }
    /* Not past what Redis still needs. */
    for (int j = 0; j < l->cnt; j++) {
        char tp[300];
        snprintf(tp, sizeof(tp), "%s:%" PRId32, l->elems[j].topic, l->elems[j].partition);
        for (size_t i = 0; i < ntps; i++)
            if (pins[i] >= 0 && strcmp(tps[i], tp) == 0 && pins[i] < l->elems[j].offset)
                l->elems[j].offset = pins[i];
    }
    if (l->cnt && (err = rd_kafka_offsets_store(in->rk, l)) != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_warn("%s: storing offsets: %s", in->name, rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
    free_held(in);
}

void intake_wait(struct intake *in, int64_t wait_ms)
{
    int64_t until = util_mono_ms() + wait_ms;

    if (!in->paused && in->assigned)
        rd_kafka_pause_partitions(in->rk, in->assigned);
    in->paused = true;
    if (!in->rewind)
        in->rewind = rd_kafka_topic_partition_list_new(4);
    while (util_mono_ms() < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(in->rk, 100);
        if (!m)
            continue;
        /* fetched before the pause took: read again from here on resume */
        if (!m->err && in->rewind &&
            !rd_kafka_topic_partition_list_find(in->rewind, rd_kafka_topic_name(m->rkt),
                                                m->partition))
            rd_kafka_topic_partition_list_add(in->rewind, rd_kafka_topic_name(m->rkt),
                                              m->partition)
                ->offset = m->offset;
        rd_kafka_message_destroy(m);
    }
}

/* Seek each assigned partition to `where` (its committed offset, or the batch's
 * first message when rewinding after a pause). */
static void seek_committed(struct intake *in)
{
    rd_kafka_topic_partition_list_t *l;

    if (!in->assigned || in->assigned->cnt == 0)
        return;
    l = rd_kafka_topic_partition_list_copy(in->assigned);
    if (rd_kafka_committed(in->rk, l, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < l->cnt; i++)
            if (l->elems[i].offset < 0)
                l->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_error_t *e = rd_kafka_seek_partitions(in->rk, l, 5000);
        if (e) {
            log_warn("%s: seek: %s", in->name, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

void intake_resume(struct intake *in)
{
    rd_kafka_topic_partition_list_t *l;

    if (!in->paused)
        return;
    in->paused = false;
    if (!in->assigned)
        return;
    rd_kafka_resume_partitions(in->rk, in->assigned);
    /* What was fetched while paused was dropped: read it again, and read on after
     * the batch in hand in its partitions. */
    l = in->rewind ? in->rewind : rd_kafka_topic_partition_list_new(4);
    in->rewind = NULL;
    for (size_t i = 0; i < in->n; i++) {
        rd_kafka_message_t *m = in->held[i];
        rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(
            l, rd_kafka_topic_name(m->rkt), m->partition);
        if (!p)
            rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt),
                                              m->partition)
                ->offset = m->offset + 1;
        else if (m->offset + 1 > p->offset)
            p->offset = m->offset + 1;
    }
    if (l->cnt) {
        rd_kafka_error_t *e = rd_kafka_seek_partitions(in->rk, l, 5000);
        if (e) {
            log_warn("%s: seek after pause: %s", in->name, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

void intake_rewind(struct intake *in)
{
    free_held(in);
    seek_committed(in);
}

void intake_dead_letter(struct intake *in, const char *kind, const char *why,
                        const char *source, const void *key, size_t keylen,
                        const void *value, size_t len)
{
    char labels[128] = "";

    metrics_labels_add(labels, sizeof(labels), "reason", kind);
    metrics_counter_add(in->metrics, "herald_dead_lettered_total",
                        "Messages written to the dead-letter topic.", 1, labels);
    if (!in->out || !in->cfg->dead_letter_topic || !*in->cfg->dead_letter_topic)
        return;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        in->out, RD_KAFKA_V_TOPIC(in->cfg->dead_letter_topic),
        RD_KAFKA_V_KEY((void *)(uintptr_t)key, keylen),
        RD_KAFKA_V_VALUE((void *)(uintptr_t)value, len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADER("herald-reason", why, -1),
        RD_KAFKA_V_HEADER("herald-kind", kind, -1),
        RD_KAFKA_V_HEADER("herald-source", source ? source : "", -1), RD_KAFKA_V_END);
    if (err)
        log_error("%s: dead-letter write refused: %s", in->name, rd_kafka_err2str(err));
    rd_kafka_poll(in->out, 0);
}

void intake_record(struct intake *in, const char *key, const char *value, size_t len)
{
    if (!in->out || !in->cfg->alerts_topic || !*in->cfg->alerts_topic)
        return;
    rd_kafka_resp_err_t err =
        rd_kafka_producev(in->out, RD_KAFKA_V_TOPIC(in->cfg->alerts_topic),
                          RD_KAFKA_V_KEY((void *)(uintptr_t)key, key ? strlen(key) : 0),
                          RD_KAFKA_V_VALUE((void *)(uintptr_t)value, len),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_HEADER("herald-schema", "1", 1),
                          RD_KAFKA_V_HEADER("herald-kind", "alert", 5), RD_KAFKA_V_END);
    if (err)
        log_error("%s: alert record refused: %s", in->name, rd_kafka_err2str(err));
    rd_kafka_poll(in->out, 0);
}

void intake_release(struct intake *in)
{
    if (!in)
        return;
    free_held(in);
    if (in->rk) {
        rd_kafka_resp_err_t err = rd_kafka_consumer_close(in->rk); /* commits, leaves */
        if (err)
            log_warn("%s: close: %s", in->name, rd_kafka_err2str(err));
        rd_kafka_destroy(in->rk);
        in->rk = NULL;
    }
    if (in->assigned)
        rd_kafka_topic_partition_list_destroy(in->assigned);
    in->assigned = NULL;
    if (in->rewind)
        rd_kafka_topic_partition_list_destroy(in->rewind);
    in->rewind = NULL;
    if (in->out) {
        rd_kafka_flush(in->out, 10000);
        rd_kafka_destroy(in->out);
        in->out = NULL;
    }
    free(in->held);
    free(in->msgs);
    in->held = NULL;
    in->msgs = NULL;
}
