/* recorder.c -- see recorder.h. */
#include "recorder.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"
#include "log.h"
#include "record.h"
#include "util.h"

#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000
#define PING_MS 2000

static const double batch_bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                      0.25,  0.5,   1,    2.5,   5,    10};

static void count(struct recorder *r, const char *topic, const char *result, double n)
{
    char labels[256] = "";

    metrics_labels_add(labels, sizeof(labels), "topic", topic);
    metrics_labels_add(labels, sizeof(labels), "result", result);
    metrics_counter_add(r->metrics, "herald_recorder_messages_total",
                        "Messages the recorder read, by topic and result.", n, labels);
}

static void set_db_up(struct recorder *r, int up)
{
    atomic_store(&r->db_ok, up);
    metrics_gauge_set(r->metrics, "herald_recorder_db_up",
                      "1 while the history database answers.", up, "");
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct recorder *r = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_topic_partition_list_t *now = NULL;

    r->generation++;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_info("%s: assigned %d partition(s)", r->name, parts->cnt);
        if (coop)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
    } else {
        log_info("%s: revoked %d partition(s)", r->name, parts->cnt);
        rd_kafka_resp_err_t cerr = rd_kafka_commit(rk, NULL, 0);
        if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
            log_warn("%s: commit on revoke: %s (the next owner rewrites the last batch, "
                     "which changes nothing)",
                     r->name, rd_kafka_err2str(cerr));
        if (coop)
            rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
        else
            rd_kafka_assign(rk, NULL);
    }
    if (rd_kafka_assignment(rk, &now) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (r->assigned)
            rd_kafka_topic_partition_list_destroy(r->assigned);
        r->assigned = now;
    }
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct recorder *r = opaque;

    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        atomic_store(&r->kafka_ok, 0);
    log_warn("%s: kafka: %s: %s", r->name, rd_kafka_err2name((rd_kafka_resp_err_t)err),
             reason);
}

/* Wait for the database (start-up): connect and migrate, with backoff. */
static int wait_migrate(struct recorder *r, char *errstr, size_t errstr_size)
{
    int64_t backoff = BACKOFF_MIN_MS;
    int v;

    while (!*r->stop) {
        if ((v = store_migrate(&r->store, 0, errstr, errstr_size)) >= 0) {
            log_info("%s: history schema version %d", r->name, v);
            set_db_up(r, 1);
            return 0;
        }
        set_db_up(r, 0);
        /* A database newer than us will not get older by waiting. */
        if (strstr(errstr, "newer than this binary"))
            return -1;
        log_warn("%s: history database: %s; retrying in %lld ms", r->name, errstr,
                 (long long)backoff);
        util_sleep_ms(backoff, r->stop);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    snprintf(errstr, errstr_size, "stopped before the database answered");
    return -1;
}

int recorder_init(struct recorder *r, const struct config *cfg, const char *name,
                  struct metrics *m, const volatile int *stop, char *errstr,
                  size_t errstr_size)
{
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_topic_partition_list_t *topics = NULL;
    rd_kafka_resp_err_t err;
    int rc = -1;

    r->cfg = cfg;
    r->name = name;
    r->metrics = m;
    r->stop = stop;
    atomic_store(&r->kafka_ok, 1);
    if (!(r->dsn = config_history_dsn(cfg, errstr, errstr_size)))
        return -1;
    store_init(&r->store, r->dsn, name);
    set_db_up(r, 0);
    if (wait_migrate(r, errstr, errstr_size) < 0)
        goto out;
    if (!(conf = kafka_conf_new(cfg->brokers, NULL, 0, errstr, errstr_size)))
        goto out;
    if (kafka_conf_set(conf, "group.id", cfg->history_group, errstr, errstr_size) < 0 ||
        kafka_conf_set(conf, "client.id", name, errstr, errstr_size) < 0 ||
        kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr, errstr_size) <
            0 ||
        kafka_conf_set(conf, "enable.auto.commit", "true", errstr, errstr_size) < 0 ||
        kafka_conf_set(conf, "auto.commit.interval.ms", "1000", errstr, errstr_size) <
            0 ||
        kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, errstr_size) < 0)
        goto out;
    for (size_t i = 0; i < cfg->nkafka_props; i++)
        if (kafka_conf_set(conf, cfg->kafka_props[i].key, cfg->kafka_props[i].value,
                           errstr, errstr_size) < 0)
            goto out;
    /* The consumers' group.id in kafka.properties must not move the recorder into it. */
    if (kafka_conf_set(conf, "group.id", cfg->history_group, errstr, errstr_size) < 0)
        goto out;
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_opaque(conf, r);
    if (!(r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size)))
        goto out;
    conf = NULL;
    rd_kafka_poll_set_consumer(r->rk);
    topics = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(topics, cfg->topic, RD_KAFKA_PARTITION_UA);
    if (cfg->history_alerts_topic && *cfg->history_alerts_topic)
        rd_kafka_topic_partition_list_add(topics, cfg->history_alerts_topic,
                                          RD_KAFKA_PARTITION_UA);
    if ((err = rd_kafka_subscribe(r->rk, topics)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "subscribe: %s", rd_kafka_err2str(err));
        goto out;
    }
    log_info("%s: member of group %s on %s%s%s (brokers %s)", name, cfg->history_group,
             cfg->topic, topics->cnt > 1 ? " and " : "",
             topics->cnt > 1 ? cfg->history_alerts_topic : "", cfg->brokers);
    r->last_refresh_ms = util_mono_ms();
    r->dirty = true; /* refresh once at start: a migration may have added rows */
    rc = 0;
out:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (topics)
        rd_kafka_topic_partition_list_destroy(topics);
    return rc;
}

static bool is_assigned(const struct recorder *r, const rd_kafka_message_t *m)
{
    return r->assigned &&
           rd_kafka_topic_partition_list_find(r->assigned, rd_kafka_topic_name(m->rkt),
                                              m->partition) != NULL;
}

/* Up to max messages within kafka.batch_wait. */
static size_t collect(struct recorder *r, rd_kafka_message_t **msgs, size_t max)
{
    size_t n = 0;
    int64_t deadline = util_mono_ms() + r->cfg->batch_wait_ms;

    while (n < max && !*r->stop) {
        int64_t left = deadline - util_mono_ms();
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, (int)(left > 0 ? left : 0));
        if (!m) {
            if (left <= 0)
                break;
            continue;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                log_warn("%s: consume: %s", r->name, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        atomic_store(&r->kafka_ok, 1);
        msgs[n++] = m;
    }
    return n;
}

/* The value of header `name` as a string in buf, or NULL if absent. */
static const char *header(const rd_kafka_message_t *m, const char *name, char *buf,
                          size_t size)
{
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t len;

    if (rd_kafka_message_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR || !h ||
        rd_kafka_header_get_last(h, name, &v, &len) != RD_KAFKA_RESP_ERR_NO_ERROR || !v)
        return NULL;
    if (len >= size)
        len = size - 1;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return buf;
}

/* Turn a batch into rows. Bad messages are logged and counted, and skipped. */
static void build_rows(struct recorder *r, rd_kafka_message_t **msgs, size_t n,
                       cJSON *runs, cJSON *alerts)
{
    char err[512], kind[32];

    for (size_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = msgs[i];
        const char *topic = rd_kafka_topic_name(m->rkt);
        const char *value = m->payload ? (const char *)m->payload : "";
        bool is_alert = r->cfg->history_alerts_topic &&
                        strcmp(topic, r->cfg->history_alerts_topic) == 0;
        cJSON *row;

        /* on either topic: a producer writes its watermarks to the topic it writes */
        if (record_is_watermark(header(m, "herald-kind", kind, sizeof(kind)), value,
                                m->len)) {
            count(r, topic, "watermark", 1);
            continue;
        }
        row = is_alert ? record_alert(value, m->len, err, sizeof(err))
                       : record_run(r->cfg, value, m->len, err, sizeof(err));
        if (!row) {
            count(r, topic, "rejected", 1);
            log_warn("%s: %s[%" PRId32 "]@%" PRId64 ": skipped: %s", r->name, topic,
                     m->partition, m->offset, err);
            continue;
        }
        cJSON_AddItemToArray(is_alert ? alerts : runs, row);
        count(r, topic, "recorded", 1);
    }
}

/* Store offset+1 of the highest message per partition still ours. */
static void store_offsets(struct recorder *r, rd_kafka_message_t **msgs, size_t n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    rd_kafka_resp_err_t err;

    for (size_t i = 0; i < n; i++) {
        rd_kafka_topic_partition_t *p;
        if (!is_assigned(r, msgs[i]))
            continue;
        p = rd_kafka_topic_partition_list_find(l, rd_kafka_topic_name(msgs[i]->rkt),
                                               msgs[i]->partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(msgs[i]->rkt),
                                                  msgs[i]->partition);
        if (msgs[i]->offset + 1 > p->offset)
            p->offset = msgs[i]->offset + 1;
    }
    if (l->cnt && (err = rd_kafka_offsets_store(r->rk, l)) != RD_KAFKA_RESP_ERR_NO_ERROR)
        log_warn("%s: storing offsets: %s", r->name, rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
}

/* The database refused the batch as data: write the rows one at a time and skip
 * (log, count) the ones it refuses, so that one bad row cannot stop the history.
 * Returns STORE_RETRY if the database went away meanwhile. */
static enum store_result write_one_by_one(struct recorder *r, cJSON *runs, cJSON *alerts)
{
    cJSON *lists[2] = {runs, alerts}, *empty = cJSON_CreateArray();
    enum store_result rc = STORE_OK;
    int nr, na;

    if (!empty)
        return STORE_RETRY;
    for (int k = 0; k < 2 && rc == STORE_OK; k++) {
        cJSON *row, *one;
        cJSON_ArrayForEach(row, lists[k])
        {
            if (!(one = cJSON_CreateArray()) ||
                !cJSON_AddItemReferenceToArray(one, row)) {
                cJSON_Delete(one);
                rc = STORE_RETRY;
                break;
            }
            enum store_result w =
                store_write(&r->store, k ? empty : one, k ? one : empty, &nr, &na);
            cJSON_Delete(one);
            if (w == STORE_RETRY) {
                rc = STORE_RETRY;
                break;
            }
            if (w == STORE_BAD) {
                cJSON *id =
                    cJSON_GetObjectItemCaseSensitive(row, k ? "alert_id" : "event_id");
                log_error("%s: the database refused %s %s: %s", r->name,
                          k ? "alert" : "event",
                          cJSON_IsString(id) ? id->valuestring : "?", r->store.pg.err);
                count(r, k ? "alerts" : "events", "refused", 1);
            }
        }
    }
    cJSON_Delete(empty);
    return rc;
}

/* Write the rows; while the database is away, keep the batch, pause, poll to stay in
 * the group, retry with backoff. Returns 0 when written, -1 if stopped first. */
static int write_batch(struct recorder *r, cJSON *runs, cJSON *alerts)
{
    int64_t backoff = BACKOFF_MIN_MS, t0 = util_mono_ms();
    bool paused = false;
    int nr = 0, na = 0, rc = -1;
    rd_kafka_topic_partition_list_t *rewind = rd_kafka_topic_partition_list_new(4);

    for (;;) {
        enum store_result w = store_write(&r->store, runs, alerts, &nr, &na);
        if (w == STORE_BAD) {
            log_warn("%s: batch refused (%s); writing its rows one by one", r->name,
                     r->store.pg.err);
            w = write_one_by_one(r, runs, alerts);
            nr = na = 0;
        }
        if (w == STORE_OK) {
            rc = 0;
            break;
        }
        if (atomic_load(&r->db_ok))
            log_warn(
                "%s: history database unavailable: %s; holding the batch and retrying",
                r->name, r->store.pg.err);
        set_db_up(r, 0);
        if (!paused && r->assigned) {
            rd_kafka_pause_partitions(r->rk, r->assigned);
            paused = true;
        }
        int64_t until = util_mono_ms() + backoff;
        while (!*r->stop && util_mono_ms() < until) {
            /* Paused: nothing is fetched, but polling serves rebalances and keeps the
             * membership alive. */
            rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 100);
            /* Fetched before the pause: dropped now, read again after the rewind. */
            if (m && !m->err &&
                !rd_kafka_topic_partition_list_find(rewind, rd_kafka_topic_name(m->rkt),
                                                    m->partition))
                rd_kafka_topic_partition_list_add(rewind, rd_kafka_topic_name(m->rkt),
                                                  m->partition)
                    ->offset = m->offset;
            if (m)
                rd_kafka_message_destroy(m);
        }
        if (*r->stop)
            break;
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    if (paused && r->assigned)
        rd_kafka_resume_partitions(r->rk, r->assigned);
    if (rewind->cnt) {
        rd_kafka_error_t *e = rd_kafka_seek_partitions(r->rk, rewind, 5000);
        if (e) {
            log_warn("%s: rewind after pause: %s", r->name, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    }
    rd_kafka_topic_partition_list_destroy(rewind);
    if (rc == 0) {
        if (!atomic_load(&r->db_ok))
            log_info("%s: history database is back; batch written", r->name);
        set_db_up(r, 1);
        metrics_counter_add(r->metrics, "herald_recorder_rows_written_total",
                            "Rows the database changed.", nr, "table=\"runs\"");
        metrics_counter_add(r->metrics, "herald_recorder_rows_written_total",
                            "Rows the database changed.", na, "table=\"alerts\"");
        metrics_histogram_observe(r->metrics, "herald_recorder_batch_seconds",
                                  "Time to write one batch, retries included.",
                                  batch_bounds,
                                  sizeof(batch_bounds) / sizeof(batch_bounds[0]),
                                  (double)(util_mono_ms() - t0) / 1000.0, "");
        r->dirty = r->dirty || nr > 0 || na > 0;
    }
    return rc;
}

/* Refresh the rollups when rows changed and history.refresh has passed. */
static void maybe_refresh(struct recorder *r)
{
    int64_t now = util_mono_ms(), t0;

    if (!r->dirty || now - r->last_refresh_ms < r->cfg->history_refresh_ms)
        return;
    t0 = now;
    if (store_refresh(&r->store) < 0) {
        log_warn("%s: refreshing the trends rollups: %s", r->name, r->store.pg.err);
        r->last_refresh_ms = now; /* try again after the interval */
        return;
    }
    r->dirty = false;
    r->last_refresh_ms = util_mono_ms();
    metrics_histogram_observe(r->metrics, "herald_recorder_refresh_seconds",
                              "Time to refresh the trends rollups.", batch_bounds,
                              sizeof(batch_bounds) / sizeof(batch_bounds[0]),
                              (double)(r->last_refresh_ms - t0) / 1000.0, "");
}

/* Idle: check the database about every PING_MS so /readyz stays honest. */
static void ping(struct recorder *r)
{
    int64_t now = util_mono_ms();

    if (now - r->last_ping_ms < PING_MS)
        return;
    r->last_ping_ms = now;
    set_db_up(r, pg_exec(&r->store.pg, "ping", "SELECT 1") == 0);
}

/* One batch on its way: its messages, its rows, whether it was sent (store_send). */
struct batch {
    rd_kafka_message_t **msgs;
    size_t n;
    cJSON *runs, *alerts;
    bool sent;
    int64_t t0; /* monotonic ms when it was sent */
};

static void batch_clear(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        rd_kafka_message_destroy(b->msgs[i]);
    b->n = 0;
    cJSON_Delete(b->runs);
    cJSON_Delete(b->alerts);
    b->runs = b->alerts = NULL;
    b->sent = false;
}

/* Finish a batch: read the answer of a sent one (or write it now, retrying while the
 * database is away), then store its offsets and free it. */
static void batch_finish(struct recorder *r, struct batch *b)
{
    int nr = 0, na = 0;
    bool done = false;

    int64_t tw = util_mono_ms();
    bool ok = b->sent && store_wait(&r->store, &nr, &na) == STORE_OK;

    if (b->sent)
        log_debug("%s: waited %lld ms for the database", r->name,
                  (long long)(util_mono_ms() - tw));
    if (ok) {
        if (!atomic_load(&r->db_ok))
            log_info("%s: history database is back; batch written", r->name);
        set_db_up(r, 1);
        metrics_counter_add(r->metrics, "herald_recorder_rows_written_total",
                            "Rows the database changed.", nr, "table=\"runs\"");
        metrics_counter_add(r->metrics, "herald_recorder_rows_written_total",
                            "Rows the database changed.", na, "table=\"alerts\"");
        metrics_histogram_observe(r->metrics, "herald_recorder_batch_seconds",
                                  "Time to write one batch, retries included.",
                                  batch_bounds,
                                  sizeof(batch_bounds) / sizeof(batch_bounds[0]),
                                  (double)(util_mono_ms() - b->t0) / 1000.0, "");
        r->dirty = r->dirty || nr > 0 || na > 0;
        done = true;
    } else if (!b->runs ||
               (cJSON_GetArraySize(b->runs) == 0 && cJSON_GetArraySize(b->alerts) == 0)) {
        done = b->runs != NULL; /* nothing to write (only watermarks or bad records) */
    } else {
        done = write_batch(r, b->runs, b->alerts) == 0; /* with retries and backoff */
    }
    if (done)
        store_offsets(r, b->msgs, b->n);
    metrics_counter_add(r->metrics, "herald_recorder_batches_total",
                        "Batches the recorder wrote.", 1, "");
    batch_clear(b);
}

/* Consume in batches. While the database writes one batch the next is read and turned
 * into rows (store_send / store_wait), so the recorder's own work and the database's
 * overlap; offsets are still stored only after each batch's commit, in order. */
int recorder_run(struct recorder *r)
{
    size_t max = (size_t)r->cfg->history_batch_size;
    struct batch b[2] = {
        {calloc(max, sizeof(rd_kafka_message_t *)), 0, NULL, NULL, false, 0},
        {calloc(max, sizeof(rd_kafka_message_t *)), 0, NULL, NULL, false, 0}};
    struct batch *prev = &b[0], *cur = &b[1], *t;

    if (!b[0].msgs || !b[1].msgs) {
        log_error("%s: out of memory", r->name);
        free(b[0].msgs);
        free(b[1].msgs);
        return -1;
    }
    while (!*r->stop) {
        int64_t tc = util_mono_ms();
        cur->n = collect(r, cur->msgs, max);
        if (cur->n)
            log_debug("%s: read %zu messages in %lld ms", r->name, cur->n,
                      (long long)(util_mono_ms() - tc));
        if (cur->n == 0) {
            if (prev->n) {
                batch_finish(r, prev);
            } else {
                ping(r);
                maybe_refresh(r);
            }
            continue;
        }
        cur->runs = cJSON_CreateArray();
        cur->alerts = cJSON_CreateArray();
        if (cur->runs && cur->alerts) {
            build_rows(r, cur->msgs, cur->n, cur->runs, cur->alerts);
        } else {
            log_error("%s: out of memory building a batch; it is read again", r->name);
            cJSON_Delete(cur->runs);
            cJSON_Delete(cur->alerts);
            cur->runs = cur->alerts = NULL;
        }
        if (prev->n)
            batch_finish(r, prev);
        maybe_refresh(r);
        if (cur->runs &&
            (cJSON_GetArraySize(cur->runs) > 0 || cJSON_GetArraySize(cur->alerts) > 0) &&
            store_send(&r->store, cur->runs, cur->alerts) == STORE_OK) {
            cur->sent = true;
            cur->t0 = util_mono_ms();
        } else {
            batch_finish(r, cur); /* nothing to send, or the database is away */
        }
        r->last_ping_ms = util_mono_ms();
        t = prev;
        prev = cur;
        cur = t;
    }
    if (prev->n) /* stopping: wait for the batch in flight, store its offsets */
        batch_finish(r, prev);
    batch_clear(cur);
    free(b[0].msgs);
    free(b[1].msgs);
    return 0;
}

void recorder_release(struct recorder *r)
{
    if (!r)
        return;
    if (r->rk) {
        rd_kafka_resp_err_t err = rd_kafka_consumer_close(r->rk);
        if (err)
            log_warn("%s: close: %s", r->name, rd_kafka_err2str(err));
        rd_kafka_destroy(r->rk);
        r->rk = NULL;
    }
    if (r->assigned)
        rd_kafka_topic_partition_list_destroy(r->assigned);
    r->assigned = NULL;
    store_release(&r->store);
    free(r->dsn);
    r->dsn = NULL;
}

int recorder_ready(void *opaque, char *why, size_t why_size)
{
    struct recorder *r = opaque;

    if (!atomic_load(&r->kafka_ok)) {
        snprintf(why, why_size, "kafka: all brokers down");
        return 1;
    }
    if (!atomic_load(&r->db_ok)) {
        snprintf(why, why_size, "history database unreachable");
        return 1;
    }
    return 0;
}
