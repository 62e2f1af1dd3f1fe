/* main.c -- herald-devbroker: a development Kafka broker for the demo and the
 * end-to-end tests.
 *
 * It is librdkafka's mock cluster (rdkafka_mock.h) behind a small command line: N
 * in-memory brokers on loopback, the Herald topics created up front, and an optional
 * HTTP control endpoint on 127.0.0.1 for fault injection (broker down/up, request
 * errors, leader moves, round-trip time, a group's committed offsets). Nothing is
 * persisted; everything is gone when the process exits.
 *
 *   herald-devbroker [--brokers N] [--topic NAME[:PARTITIONS]]...
 *                    [--control 127.0.0.1:PORT] [--ready-file PATH]
 *
 * stdout carries exactly "BOOTSTRAP=<host:port,...>" and, with --control,
 * "CONTROL=127.0.0.1:<port>"; logs go to stderr. Exit 0 on SIGTERM/SIGINT, 2 on a
 * usage error, 1 on a startup failure.
 *
 * This file: the arguments, the cluster and main; the control endpoint is control.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <microhttpd.h>

#include "devbroker.h"
#include "log.h"
#include "util.h"
#include "version.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: herald-devbroker [--brokers N] [--topic NAME[:PARTITIONS]]...\n"
            "                        [--control 127.0.0.1:PORT] [--ready-file PATH]\n"
            "       herald-devbroker --help | --version\n"
            "\n"
            "A development Kafka broker (librdkafka mock cluster): in-memory, no\n"
            "persistence, loopback only. Default topics: herald.events:4 and\n"
            "herald.dead-letter:1. Prints BOOTSTRAP=... (and CONTROL=...) on stdout.\n");
}

/* Parse the whole of s as an integer in [min, max] (util_parse_int); 0 or -1. */
int parse_num(const char *s, long min, long max, long *out)
{
    long long v;

    if (util_parse_int(s, min, max, &v) != 0)
        return -1;
    *out = (long)v;
    return 0;
}

/* Kafka topic names: 1..249 of [A-Za-z0-9._-]. */
int topic_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > DEVBROKER_MAX_TOPIC_LEN)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* "NAME" or "NAME:PARTITIONS" into t; 0 or -1. */
static int parse_topic(const char *arg, struct topic_spec *t)
{
    const char *colon = strchr(arg, ':');
    size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
    long parts = 1;

    if (!topic_name_valid(arg, len))
        return -1;
    if (colon && parse_num(colon + 1, 1, DEVBROKER_MAX_PARTITIONS, &parts) != 0)
        return -1;
    memcpy(t->name, arg, len);
    t->name[len] = '\0';
    t->partitions = (int)parts;
    return 0;
}

/* "127.0.0.1:PORT" (or "localhost:PORT") into *port; 0 or -1. */
static int parse_loopback(const char *arg, uint16_t *port)
{
    const char *colon = strrchr(arg, ':');
    size_t hlen;
    long p;

    if (colon == NULL)
        return -1;
    hlen = (size_t)(colon - arg);
    if (!((hlen == 9 && strncmp(arg, "127.0.0.1", 9) == 0) ||
          (hlen == 9 && strncmp(arg, "localhost", 9) == 0)))
        return -1;
    if (parse_num(colon + 1, 0, 65535, &p) != 0)
        return -1;
    *port = (uint16_t)p;
    return 0;
}

/* Fill conf from argv. Returns 0, 1 for --help, 2 for --version, or -1 after printing
 * the error. */
static int parse_args(int argc, char **argv, struct devbroker_conf *conf)
{
    int user_topics = 0;

    memset(conf, 0, sizeof(*conf));
    conf->brokers = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            return 1;
        if (strcmp(a, "--version") == 0)
            return 2;
        if (strcmp(a, "--brokers") != 0 && strcmp(a, "--topic") != 0 &&
            strcmp(a, "--control") != 0 && strcmp(a, "--ready-file") != 0) {
            fprintf(stderr, "herald-devbroker: unknown argument '%s'\n", a);
            return -1;
        }
        if (v == NULL) {
            fprintf(stderr, "herald-devbroker: %s needs a value\n", a);
            return -1;
        }
        if (strcmp(a, "--brokers") == 0) {
            if (parse_num(v, 1, DEVBROKER_MAX_BROKERS, &n) != 0) {
                fprintf(stderr, "herald-devbroker: --brokers '%s': want 1..%d\n", v,
                        DEVBROKER_MAX_BROKERS);
                return -1;
            }
            conf->brokers = (int)n;
        } else if (strcmp(a, "--topic") == 0) {
            if (user_topics >= DEVBROKER_MAX_TOPICS) {
                fprintf(stderr, "herald-devbroker: more than %d --topic options\n",
                        DEVBROKER_MAX_TOPICS);
                return -1;
            }
            if (parse_topic(v, &conf->topics[user_topics]) != 0) {
                fprintf(stderr,
                        "herald-devbroker: --topic '%s': want NAME[:PARTITIONS], name "
                        "of [A-Za-z0-9._-] (1..%d chars), partitions 1..%d\n",
                        v, DEVBROKER_MAX_TOPIC_LEN, DEVBROKER_MAX_PARTITIONS);
                return -1;
            }
            user_topics++;
        } else if (strcmp(a, "--control") == 0) {
            if (parse_loopback(v, &conf->control_port) != 0) {
                fprintf(stderr,
                        "herald-devbroker: --control '%s': want 127.0.0.1:PORT "
                        "(loopback only, port 0..65535)\n",
                        v);
                return -1;
            }
            conf->control = 1;
        } else if (strcmp(a, "--ready-file") == 0) {
            if (*v == '\0') {
                fprintf(stderr, "herald-devbroker: --ready-file: empty path\n");
                return -1;
            }
            conf->ready_file = v;
        }
        i++;
    }
    for (int i = 0; i < user_topics; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(conf->topics[i].name, conf->topics[j].name) == 0) {
                fprintf(stderr, "herald-devbroker: --topic '%s' given twice\n",
                        conf->topics[i].name);
                return -1;
            }
    if (user_topics == 0) {
        parse_topic("herald.events:4", &conf->topics[0]);
        parse_topic("herald.dead-letter:1", &conf->topics[1]);
        user_topics = 2;
    }
    conf->topic_cnt = user_topics;
    return 0;
}

/* Write `content` to path atomically: write path.tmp.<pid>, fsync, rename. 0 or -1. */
static int write_ready_file(const char *path, const char *content)
{
    char tmp[4096];
    char eb[128];
    FILE *f = NULL;
    int n, ret = -1;

    n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        log_error("ready file path too long");
        return -1;
    }
    if ((f = fopen(tmp, "w")) == NULL) {
        log_error("ready file %s: %s", tmp, util_strerror(errno, eb, sizeof(eb)));
        goto out;
    }
    if (fprintf(f, "%s\n", content) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        log_error("ready file %s: %s", tmp, util_strerror(errno, eb, sizeof(eb)));
        goto out;
    }
    if (fclose(f) != 0) {
        f = NULL;
        log_error("ready file %s: %s", tmp, util_strerror(errno, eb, sizeof(eb)));
        goto out;
    }
    f = NULL;
    if (rename(tmp, path) != 0) {
        log_error("ready file %s: %s", path, util_strerror(errno, eb, sizeof(eb)));
        goto out;
    }
    ret = 0;
out:
    if (f)
        fclose(f);
    if (ret != 0)
        unlink(tmp);
    return ret;
}

int main(int argc, char **argv)
{
    static struct devbroker_conf conf;
    struct devbroker_ctx ctx;
    sigset_t old;
    rd_kafka_conf_t *kconf = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;
    struct MHD_Daemon *httpd = NULL;
    char errstr[512];
    uint16_t cport = 0;
    int rc, ret = 1;

    rc = parse_args(argc, argv, &conf);
    if (rc == 2) {
        version_print(stdout, "herald-devbroker");
        return 0;
    }
    if (rc != 0) {
        if (rc > 0)
            usage(stdout);
        else
            fputs("herald-devbroker: try --help\n", stderr);
        return rc > 0 ? 0 : 2;
    }
    log_init("herald-devbroker", LOG_INFO, LOG_TEXT);

    /* Signals are blocked everywhere (threads inherit the mask) and taken only in
     * sigsuspend() below, so the stop flag cannot be missed. */
    util_stop_signals(on_signal, &old);

    kconf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(kconf, "log_level", "4", errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(kconf, "client.id", "herald-devbroker", errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        log_error("librdkafka config: %s", errstr);
        goto out;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr, sizeof(errstr));
    if (rk == NULL) {
        log_error("rd_kafka_new: %s", errstr);
        goto out;
    }
    kconf = NULL; /* owned by rk now */

    if ((mc = rd_kafka_mock_cluster_new(rk, conf.brokers)) == NULL) {
        log_error("could not create a mock cluster of %d broker(s)", conf.brokers);
        goto out;
    }
    for (int i = 0; i < conf.topic_cnt; i++) {
        int repl = conf.brokers < 3 ? conf.brokers : 3;
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
            mc, conf.topics[i].name, conf.topics[i].partitions, repl);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            log_error("create topic %s: %s", conf.topics[i].name, rd_kafka_err2str(err));
            goto out;
        }
    }

    ctx.conf = &conf;
    ctx.mc = mc;
    ctx.bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
    if (conf.control &&
        (httpd = control_start(&ctx, conf.control_port, &cport)) == NULL) {
        log_error("could not start the control server on 127.0.0.1:%u",
                  (unsigned)conf.control_port);
        goto out;
    }

    fprintf(stderr, "herald-devbroker: development broker (librdkafka mock cluster, "
                    "in-memory, no persistence) - not for production\n");
    printf("BOOTSTRAP=%s\n", ctx.bootstrap);
    if (httpd)
        printf("CONTROL=127.0.0.1:%u\n", (unsigned)cport);
    if (fflush(stdout) != 0) {
        log_error("cannot write to stdout");
        goto out;
    }
    if (conf.ready_file && write_ready_file(conf.ready_file, ctx.bootstrap) != 0)
        goto out;
    log_info("%d broker(s) at %s, %d topic(s)", conf.brokers, ctx.bootstrap,
             conf.topic_cnt);

    while (!g_stop)
        sigsuspend(&old);
    log_info("stopping");
    ret = 0;
out:
    if (httpd)
        MHD_stop_daemon(httpd);
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    if (rk)
        rd_kafka_destroy(rk);
    if (kconf)
        rd_kafka_conf_destroy(kconf);
    return ret;
}
