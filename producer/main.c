/* herald-producer -- read ProwJob documents, normalise them to Herald's event schema
 * (docs/events.md) and publish them to Kafka with the idempotent producer, with the
 * watermark records consumers order their decisions by (contracts §1).
 *
 * Files named on the command line are a finite input: read whole, sorted by event
 * time, published in that order (producer/replay.c). stdin ("-" or no file) is a
 * stream: each value is published as it completes (producer/stream.c).
 *
 * Exit status: 0 all published; 1 usage or start-up error; 2 some documents were
 * rejected (each named on stderr) but every valid one was published; 3 some events
 * (or watermark records) were not delivered.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "bucket.h"
#include "config.h"
#include "deck.h"
#include "http.h"
#include "kafka.h"
#include "kube.h"
#include "live.h"
#include "log.h"
#include "metrics.h"
#include "publish.h"
#include "replay.h"
#include "state.h"
#include "stream.h"
#include "util.h"
#include "version.h"
#include "watch.h"

#define PRODUCER_MAX_PROPS 64
/* --lateness by default: how far behind its newest event (a stream) or the clock (the
 * watch) a live source may still deliver one. A watch delivers a ProwJob's change
 * within a second of it; Deck's snapshot may lag its cluster by its own refresh, so a
 * poll may still bring a run that ended before the previous poll. */
#define PRODUCER_LATENESS_MS 2000
#define PRODUCER_LATENESS_DECK_MS 30000

static volatile sig_atomic_t run_flag = 1;

static void on_signal(int sig)
{
    (void)sig;
    run_flag = 0;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: herald-producer [options] [FILE...|-]\n"
        "  Reads ProwJob documents (one object, {\"items\":[...]}, watch events, or\n"
        "  NDJSON of those) and publishes them as Herald events. Files are read\n"
        "  whole and published in event-time order; stdin (- or no FILE) is a\n"
        "  stream, published as it is read.\n"
        "  -b, --brokers LIST      Kafka bootstrap servers (default 127.0.0.1:9092)\n"
        "  -t, --topic NAME        topic (default herald.events)\n"
        "  -c, --config FILE       take brokers, topic and properties from the\n"
        "                          kafka: section of a Herald config\n"
        "  -X KEY=VALUE            a librdkafka property (repeatable)\n"
        "      --replay-speed X    pace events by their event time at X times real\n"
        "                          time (0 = as fast as possible; default 0)\n"
        "      --lateness DUR      how late a live source's events may come\n"
        "                          (default 2s; 30s for --deck)\n"
        "      --source-id ID      the watermark source id (default: one per run,\n"
        "                          replay:HOST:PID:START_MS or stdin:...)\n"
        "      --max-events N      most events a file replay sorts in memory\n"
        "                          (default 1000000)\n"
        "  Live sources (docs/sources.md); they need -c FILE for its redis: section:\n"
        "      --watch             list and watch ProwJobs in the Kubernetes API\n"
        "      --kubeconfig FILE   ... with this kubeconfig (default: in-cluster)\n"
        "      --namespace NS      ... in this namespace (default: the context's, or "
        "prow)\n"
        "      --selector SEL      ... with this label selector\n"
        "      --deck URL          poll Deck's /prowjobs.js at URL\n"
        "      --interval DUR      Deck poll interval (default 30s)\n"
        "      --metrics-listen A  serve /metrics, /healthz, /readyz on A (host:port)\n"
        "  History:\n"
        "      --bucket URL        replay a job-log bucket: s3://B/PREFIX, "
        "gs://B/PREFIX\n"
        "                          or a local folder in the bucket layout\n"
        "      --since TIME        only runs started at or after TIME (RFC 3339, or a\n"
        "                          duration back from now: 30d)\n"
        "      --until TIME        only runs started before TIME\n"
        "      --parallel N        bucket requests in flight (default 16)\n"
        "      --link-base URL     status.url of runs without prowjob.json: URL/PATH\n"
        "      --raw               publish each input line unchanged (key test/raw);\n"
        "                          for testing how consumers handle bad input\n"
        "      --timeout SECONDS   how long to wait for delivery at the end (60)\n"
        "  -h, --help\n"
        "      --version\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"brokers", required_argument, NULL, 'b'},
                                         {"topic", required_argument, NULL, 't'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"replay-speed", required_argument, NULL, 's'},
                                         {"raw", no_argument, NULL, 'r'},
                                         {"timeout", required_argument, NULL, 'T'},
                                         {"lateness", required_argument, NULL, 'L'},
                                         {"source-id", required_argument, NULL, 'S'},
                                         {"max-events", required_argument, NULL, 'M'},
                                         {"watch", no_argument, NULL, 'W'},
                                         {"kubeconfig", required_argument, NULL, 'K'},
                                         {"namespace", required_argument, NULL, 'N'},
                                         {"selector", required_argument, NULL, 'l'},
                                         {"deck", required_argument, NULL, 'D'},
                                         {"interval", required_argument, NULL, 'I'},
                                         {"metrics-listen", required_argument, NULL, 'm'},
                                         {"bucket", required_argument, NULL, 'B'},
                                         {"since", required_argument, NULL, 'a'},
                                         {"until", required_argument, NULL, 'u'},
                                         {"parallel", required_argument, NULL, 'P'},
                                         {"link-base", required_argument, NULL, 'U'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    const char *brokers = NULL, *topic = NULL, *config_path = NULL, *source_id = NULL;
    struct kv props[PRODUCER_MAX_PROPS];
    size_t nprops = 0;
    double speed = 0;
    long long timeout_s = 60, max_events = REPLAY_DEFAULT_MAX_EVENTS;
    int64_t lateness_ms = -1; /* by source: PRODUCER_LATENESS_* */
    bool raw = false, stream = false, watch = false;
    const char *kubeconfig = NULL, *ns = NULL, *selector = NULL, *deck = NULL;
    const char *metrics_listen = NULL, *bucket = NULL, *link_base = NULL;
    int64_t interval_ms = 30000, since_ms = 0, until_ms = 0;
    long long parallel = 16;
    struct metrics *metrics = NULL;
    struct metrics_http *mhttp = NULL;
    struct kube kc;
    struct config *cfg = NULL;
    struct publisher pub;
    struct replay rep;
    char err[4096], source[WATERMARK_SOURCE_MAX + 1];
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_t *rk = NULL;
    int opt, status = 1, partitions;
    bool pub_ok = false;

    memset(&pub, 0, sizeof(pub));
    memset(&kc, 0, sizeof(kc));
    replay_init(&rep, 1);
    log_init("herald-producer", LOG_INFO, LOG_TEXT);
    while ((opt = getopt_long(argc, argv, "b:t:c:X:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            brokers = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'c':
            config_path = optarg;
            break;
        case 'r':
            raw = true;
            break;
        case 'S':
            source_id = optarg;
            break;
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
                fprintf(stderr,
                        "herald-producer: --replay-speed: not a number >= 0: %s\n",
                        optarg);
                return 1;
            }
            break;
        case 'T':
            if (util_parse_int(optarg, 1, 3600, &timeout_s) < 0) {
                fprintf(stderr, "herald-producer: --timeout: 1..3600 seconds: %s\n",
                        optarg);
                return 1;
            }
            break;
        case 'L':
            if (util_parse_duration(optarg, &lateness_ms) < 0 || lateness_ms < 0) {
                fprintf(stderr, "herald-producer: --lateness: not a duration: %s\n",
                        optarg);
                return 1;
            }
            break;
        case 'M':
            if (util_parse_int(optarg, 1, 100000000, &max_events) < 0) {
                fprintf(stderr, "herald-producer: --max-events: 1..100000000: %s\n",
                        optarg);
                return 1;
            }
            break;
        case 'W':
            watch = true;
            break;
        case 'K':
            kubeconfig = optarg;
            break;
        case 'N':
            ns = optarg;
            break;
        case 'l':
            selector = optarg;
            break;
        case 'D':
            deck = optarg;
            break;
        case 'm':
            metrics_listen = optarg;
            break;
        case 'B':
            bucket = optarg;
            break;
        case 'U':
            link_base = optarg;
            break;
        case 'I':
            if (util_parse_duration(optarg, &interval_ms) < 0 || interval_ms < 100) {
                fprintf(stderr,
                        "herald-producer: --interval: a duration of 100ms or more: %s\n",
                        optarg);
                return 1;
            }
            break;
        case 'a':
        case 'u': {
            int64_t *t = opt == 'a' ? &since_ms : &until_ms, d;
            if (util_parse_time(optarg, t) == 0)
                break;
            if (util_parse_duration(optarg, &d) == 0) {
                *t = util_now_ms() - d;
                break;
            }
            fprintf(stderr, "herald-producer: --%s: an RFC 3339 time or a duration: %s\n",
                    opt == 'a' ? "since" : "until", optarg);
            return 1;
        }
        case 'P':
            if (util_parse_int(optarg, 1, 256, &parallel) < 0) {
                fprintf(stderr, "herald-producer: --parallel: 1..256: %s\n", optarg);
                return 1;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            version_print(stdout, "herald-producer");
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    int live = (watch ? 1 : 0) + (deck ? 1 : 0) + (bucket ? 1 : 0);
    if (live > 1 || (live && (raw || optind < argc))) {
        fprintf(stderr,
                "herald-producer: --watch, --deck, --bucket and input files are one "
                "source each: run one producer per source\n");
        return 1;
    }
    if (selector && strlen(selector) > WATCH_MAX_SELECTOR) {
        fprintf(stderr, "herald-producer: --selector: longer than %d bytes\n",
                WATCH_MAX_SELECTOR);
        return 1;
    }
    if ((watch || deck) && !config_path) {
        fprintf(stderr,
                "herald-producer: --%s needs -c FILE: its redis: section keeps the "
                "last state published per ProwJob\n",
                watch ? "watch" : "deck");
        return 1;
    }
    stream = !live && !raw &&
             (optind == argc || (optind + 1 == argc && strcmp(argv[optind], "-") == 0));
    if (!raw && !stream && !live)
        for (int i = optind; i < argc; i++)
            if (strcmp(argv[i], "-") == 0) {
                fprintf(stderr,
                        "herald-producer: '-' (stdin, a stream) cannot be mixed with "
                        "files (a sorted replay)\n");
                return 1;
            }
    if (source_id && !watermark_source_valid(source_id)) {
        fprintf(stderr,
                "herald-producer: --source-id: want 1..%d bytes of [A-Za-z0-9._:/@-]\n",
                WATERMARK_SOURCE_MAX);
        return 1;
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
    rd_kafka_conf_set_dr_msg_cb(conf, publisher_on_delivery);
    rd_kafka_conf_set_opaque(conf, &pub);
    if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err))))
        goto out;
    conf = NULL; /* owned by rk now */

    util_stop_signals(on_signal, NULL);
    if (http_global_init() < 0) {
        snprintf(err, sizeof(err), "libcurl: cannot initialise");
        goto out;
    }

    /* Learn the partitions before the first record: watermarks go to every one, and a
     * paced replay's clock must not start while the client is still connecting. */
    if ((partitions = watermark_partitions(rk, topic, 30000, err, sizeof(err))) < 0)
        goto out;
    const char *label = watch    ? "watch"
                        : deck   ? "deck"
                        : bucket ? "bucket"
                        : stream ? "stdin"
                                 : "replay";
    if (watch && kube_load(&kc, kubeconfig, ns, err, sizeof(err)) < 0)
        goto out;
    if (source_id)
        snprintf(source, sizeof(source), "%s", source_id);
    else if (watch)
        snprintf(source, sizeof(source), "watch:%.190s", kc.ns);
    else if (deck)
        deck_source_id(deck, source, sizeof(source));
    else
        publisher_run_source(bucket   ? "bucket"
                             : stream ? "stdin"
                                      : "replay",
                             source, sizeof(source));
    if ((watch || deck || metrics_listen) &&
        !(metrics = metrics_new("herald-producer"))) {
        snprintf(err, sizeof(err), "out of memory");
        goto out;
    }
    if (lateness_ms < 0)
        lateness_ms = deck ? PRODUCER_LATENESS_DECK_MS : PRODUCER_LATENESS_MS;
    if (publisher_init(&pub, rk, topic, partitions, source, label, metrics, lateness_ms,
                       err, sizeof(err)) < 0)
        goto out;
    pub_ok = true;
    if (metrics_listen && !(mhttp = metrics_http_start(metrics, metrics_listen, NULL,
                                                       NULL, err, sizeof(err))))
        goto out;
    if (mhttp)
        log_info("metrics on %s (port %d)", metrics_listen, metrics_http_port(mhttp));

    if (watch || deck) {
        struct state st;
        struct live lv = {.p = &pub,
                          .st = &st,
                          .m = metrics,
                          .label = label,
                          .seen_cache = calloc(LIVE_CACHE, sizeof(struct live_seen))};
        if (!lv.seen_cache) {
            snprintf(err, sizeof(err), "out of memory");
            goto out;
        }
        state_init(&st, cfg, metrics);
        publisher_start_heartbeat(&pub, PUBLISH_CLOCK_LIVE);
        if (watch) {
            struct watch_opts wo = {
                .k = &kc, .selector = selector, .run = &run_flag, .watch_timeout_s = 300};
            watch_run(&lv, &wo);
        } else {
            struct deck_opts dop = {
                .url = deck, .interval_ms = interval_ms, .run = &run_flag};
            deck_run(&lv, &dop);
        }
        /* A live source stops, it does not finish: no final record, so a restart (or
         * the other replica) goes on with the same source. */
        publisher_flush(&pub, 10000);
        live_settle(&lv);
        publisher_stop_heartbeat(&pub);
        state_release(&st);
        free(lv.seen_cache);
    } else if (bucket) {
        struct bucket_opts bo = {.url = bucket,
                                 .since_ms = since_ms,
                                 .until_ms = until_ms,
                                 .parallel = (int)parallel,
                                 .link_base = link_base,
                                 .run = &run_flag};
        replay_init(&rep, (size_t)max_events);
        if (bucket_read(&rep, &pub, &bo, err, sizeof(err)) < 0)
            goto out;
        replay_sort(&rep);
        replay_publish(&rep, &pub, speed, &run_flag);
    } else if (raw) {
        stream_run_raw(&pub, argv + optind, argc - optind, &run_flag);
    } else if (stream) {
        stream_run(&pub, "-", &run_flag);
    } else {
        replay_init(&rep, (size_t)max_events);
        for (int i = optind; i < argc && run_flag; i++)
            if (replay_read_path(&rep, &pub, argv[i]) < 0 && rep.n >= rep.max_events) {
                snprintf(err, sizeof(err), "nothing published");
                goto out;
            }
        replay_sort(&rep);
        replay_publish(&rep, &pub, speed, &run_flag);
    }

    /* Wait for every delivery report; what is still queued after the timeout is
     * counted as undelivered. */
    publisher_flush(&pub, timeout_s * 1000);
    long published = atomic_load(&pub.published), delivered = atomic_load(&pub.delivered);
    long undelivered = published - delivered;
    printf("herald-producer: read %ld, published %ld, rejected %ld, undelivered %ld\n",
           atomic_load(&pub.read), delivered, atomic_load(&pub.rejected), undelivered);
    fflush(stdout);
    long wm_lost = atomic_load(&pub.wm_failed);
    if (wm_lost > 0)
        log_error("%ld watermark records were not delivered: consumers wait for this "
                  "source until watermark.idle_timeout",
                  wm_lost);
    status = undelivered > 0 || wm_lost > 0 ? 3 : atomic_load(&pub.rejected) > 0 ? 2 : 0;
    err[0] = '\0';
out:
    if (err[0])
        log_error("%s", err);
    metrics_http_stop(mhttp);
    kube_release(&kc);
    replay_release(&rep);
    if (pub_ok)
        publisher_release(&pub);
    metrics_free(metrics);
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (rk)
        rd_kafka_destroy(rk);
    config_free(cfg);
    return status;
}
