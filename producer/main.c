/* herald-producer -- read ProwJob documents, normalise them to Herald's event schema
 * (docs/events.md) and publish them to Kafka with the idempotent producer.
 *
 * Exit status: 0 all published; 1 usage or start-up error; 2 some documents were
 * rejected (each named on stderr) but every valid one was published; 3 some events
 * were not delivered.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "event.h"
#include "input.h"
#include "kafka.h"
#include "log.h"
#include "util.h"
#include "version.h"

#define PRODUCER_MAX_PROPS 64

static volatile sig_atomic_t run_flag = 1;

struct counts {
    long read;       /* documents read (good or bad) */
    long published;  /* handed to librdkafka */
    long rejected;   /* bad documents */
    long delivered;  /* confirmed by the broker (delivery reports) */
    long failed;     /* delivery reports with an error */
};

static void on_signal(int sig)
{
    (void)sig;
    run_flag = 0;
}

/* The delivery report is the only truth about what reached Kafka. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct counts *c = opaque;

    (void)rk;
    if (m->err) {
        c->failed++;
        log_error("delivery failed for key %.*s: %s", (int)m->key_len,
                  (const char *)m->key, rd_kafka_err2str(m->err));
    } else {
        c->delivered++;
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: herald-producer [options] [FILE|-]...\n"
            "  Reads ProwJob documents (one object, {\"items\":[...]}, watch events, or\n"
            "  NDJSON of those) and publishes them as Herald events.\n"
            "  -b, --brokers LIST      Kafka bootstrap servers (default 127.0.0.1:9092)\n"
            "  -t, --topic NAME        topic (default herald.events)\n"
            "  -c, --config FILE       take brokers, topic and properties from the\n"
            "                          kafka: section of a Herald config\n"
            "  -X KEY=VALUE            a librdkafka property (repeatable)\n"
            "      --replay-speed X    pace events by their event time at X times real\n"
            "                          time (0 = as fast as possible; default 0)\n"
            "      --raw               publish each input line unchanged (key test/raw);\n"
            "                          for testing how consumers handle bad input\n"
            "      --timeout SECONDS   how long to wait for delivery at the end (60)\n"
            "  -h, --help\n"
            "      --version\n");
}

/* Publish one message, waiting while librdkafka's queue is full. */
static int publish(rd_kafka_t *rk, const char *topic, const char *key, size_t keylen,
                   const char *val, size_t len)
{
    rd_kafka_resp_err_t err;

    for (;;) {
        err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                RD_KAFKA_V_KEY((void *)(uintptr_t)key, keylen),
                                RD_KAFKA_V_VALUE((void *)(uintptr_t)val, len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_HEADER("herald-schema", "1", 1), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(rk, 100);
    }
    if (err) {
        log_error("produce failed: %s", rd_kafka_err2str(err));
        return -1;
    }
    rd_kafka_poll(rk, 0);
    return 0;
}

/* Wait until the event's place in the replay: first event at t0, the others
 * (event_ms - first_ms) / speed later. Out-of-order events go at once. */
static void pace(double speed, int64_t event_ms, int64_t *first_ms, int64_t *start_mono,
                 rd_kafka_t *rk)
{
    if (speed <= 0)
        return;
    if (*first_ms == 0) {
        *first_ms = event_ms;
        *start_mono = util_mono_ms();
        return;
    }
    int64_t due = *start_mono + (int64_t)((double)(event_ms - *first_ms) / speed);
    while (run_flag) {
        int64_t left = due - util_mono_ms();
        if (left <= 0)
            break;
        rd_kafka_poll(rk, (int)(left > 100 ? 100 : left));
    }
}

static int run_file(rd_kafka_t *rk, const char *topic, const char *path, bool raw,
                    double speed, struct counts *c, int64_t *first_ms, int64_t *start_mono)
{
    char err[512], where[512], key[1024];
    struct input *in = input_open(path, err, sizeof(err));
    const cJSON *pj;
    int rc;

    if (!in) {
        log_error("%s", err);
        return -1;
    }
    while (run_flag) {
        if (raw) {
            const char *line;
            long n = input_next_raw(in, &line, err, sizeof(err));
            if (n == 0)
                break;
            c->read++;
            if (n < 0) {
                c->rejected++;
                log_error("rejected %s", err);
                continue;
            }
            if (publish(rk, topic, "test/raw", 8, line, (size_t)n) == 0)
                c->published++;
            continue;
        }
        rc = input_next(in, &pj, where, sizeof(where), err, sizeof(err));
        if (rc == 0)
            break;
        c->read++;
        if (rc < 0) {
            c->rejected++;
            log_error("rejected %s: %s", where, err);
            continue;
        }
        struct event ev;
        if (event_from_prowjob(&ev, pj, util_now_ms(), err, sizeof(err)) < 0) {
            c->rejected++;
            log_error("rejected %s: %s", where, err);
            continue;
        }
        /* Only what every consumer accepts is published; the rest is rejected here,
         * loudly, and makes the exit status 2. */
        char *json = event_encode(&ev, err, sizeof(err));
        int kl = event_key(&ev, key, sizeof(key));
        if (!json || kl < 0) {
            c->rejected++;
            log_error("rejected %s: %s", where,
                      json ? "the Kafka key (org/repo/job) is too long" : err);
        } else {
            pace(speed, ev.event_ms, first_ms, start_mono, rk);
            if (publish(rk, topic, key, (size_t)kl, json, strlen(json)) == 0)
                c->published++;
        }
        free(json);
        event_release(&ev);
    }
    input_close(in);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'}, {"topic", required_argument, NULL, 't'},
        {"config", required_argument, NULL, 'c'},  {"replay-speed", required_argument, NULL, 's'},
        {"raw", no_argument, NULL, 'r'},           {"timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},          {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    const char *brokers = NULL, *topic = NULL, *config_path = NULL;
    struct kv props[PRODUCER_MAX_PROPS];
    size_t nprops = 0;
    double speed = 0;
    long long timeout_s = 60;
    bool raw = false;
    struct config *cfg = NULL;
    struct counts c = {0};
    char err[4096];
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    int opt, status = 1;
    int64_t first_ms = 0, start_mono = 0;

    log_init("herald-producer", LOG_INFO, LOG_TEXT);
    while ((opt = getopt_long(argc, argv, "b:t:c:X:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'b': brokers = optarg; break;
        case 't': topic = optarg; break;
        case 'c': config_path = optarg; break;
        case 'r': raw = true; break;
        case 'X': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || nprops == PRODUCER_MAX_PROPS) {
                fprintf(stderr, "herald-producer: -X needs KEY=VALUE (at most %d)\n",
                        PRODUCER_MAX_PROPS);
                return 1;
            }
            *eq = '\0';
            props[nprops].key = optarg;
            props[nprops++].value = eq + 1;
            break;
        }
        case 's':
            if (util_parse_double(optarg, &speed) < 0) {
                fprintf(stderr, "herald-producer: --replay-speed: not a number >= 0: %s\n",
                        optarg);
                return 1;
            }
            break;
        case 'T':
            if (util_parse_int(optarg, 1, 3600, &timeout_s) < 0) {
                fprintf(stderr, "herald-producer: --timeout: 1..3600 seconds: %s\n", optarg);
                return 1;
            }
            break;
        case 'h': usage(stdout); return 0;
        case 'V': version_print(stdout, "herald-producer"); return 0;
        default: usage(stderr); return 1;
        }
    }

    if (config_path) {
        if (!(cfg = config_load(config_path, err, sizeof(err)))) {
            fprintf(stderr, "%s", err);
            return 1;
        }
        brokers = brokers ? brokers : cfg->brokers;
        topic = topic ? topic : cfg->topic;
    }
    brokers = brokers ? brokers : "127.0.0.1:9092";
    topic = topic ? topic : "herald.events";

    if (!(conf = kafka_conf_new(brokers, cfg ? cfg->kafka_props : NULL,
                                cfg ? cfg->nkafka_props : 0, err, sizeof(err))))
        goto out;
    for (size_t i = 0; i < nprops; i++)
        if (kafka_conf_set(conf, props[i].key, props[i].value, err, sizeof(err)) < 0)
            goto out;
    /* Idempotent: retries never duplicate or reorder a partition's events. */
    if (kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)) < 0 ||
        kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err)) < 0 ||
        kafka_conf_set(conf, "compression.codec", "lz4", err, sizeof(err)) < 0)
        goto out;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &c);
    if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err))))
        goto out;
    conf = NULL; /* owned by rk now */

    util_stop_signals(on_signal, NULL);

    /* Connect and learn the topic's partitions before the first event, so a paced
     * replay's clock does not start while the client is still connecting. */
    {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t merr =
            rkt ? rd_kafka_metadata(rk, 0, rkt, &md, 10000) : RD_KAFKA_RESP_ERR__FAIL;
        if (merr)
            log_warn("topic %s: no metadata yet (%s); publishing anyway", topic,
                     rd_kafka_err2str(merr));
        if (md)
            rd_kafka_metadata_destroy(md);
        if (rkt)
            rd_kafka_topic_destroy(rkt);
    }

    if (optind == argc) {
        run_file(rk, topic, "-", raw, speed, &c, &first_ms, &start_mono);
    } else {
        for (int i = optind; i < argc && run_flag; i++)
            if (run_file(rk, topic, argv[i], raw, speed, &c, &first_ms, &start_mono) < 0)
                c.rejected++;
    }

    /* Wait for every delivery report; what is still queued after the timeout is
     * counted as undelivered. */
    int64_t deadline = util_mono_ms() + timeout_s * 1000;
    while (rd_kafka_outq_len(rk) > 0 && util_mono_ms() < deadline)
        rd_kafka_flush(rk, 200);
    long undelivered = c.published - c.delivered;
    printf("herald-producer: read %ld, published %ld, rejected %ld, undelivered %ld\n",
           c.read, c.delivered, c.rejected, undelivered);
    fflush(stdout);
    status = undelivered > 0 ? 3 : c.rejected > 0 ? 2 : 0;
    err[0] = '\0';
out:
    if (err[0])
        log_error("%s", err);
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (rk)
        rd_kafka_destroy(rk);
    config_free(cfg);
    return status;
}
