/* devbroker.h -- herald-devbroker's configuration and what its two files share
 * (main.c: the arguments, the cluster, main; control.c: the control endpoint).
 * Private to tools/devbroker/.
 *
 * Threads: main() runs alone until control_start(); the control handlers then run on
 * MHD's polling thread, reading the immutable configuration and calling the mock
 * cluster's thread-safe functions.
 */
#ifndef HERALD_DEVBROKER_H
#define HERALD_DEVBROKER_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <microhttpd.h>

#define DEVBROKER_MAX_BROKERS 32
#define DEVBROKER_MAX_TOPICS 64
#define DEVBROKER_MAX_PARTITIONS 1024
#define DEVBROKER_MAX_TOPIC_LEN 249 /* Kafka's own limit */
#define DEVBROKER_MAX_ERRORS 100000 /* per /errors call */
#define DEVBROKER_MAX_RTT_MS 600000

struct topic_spec {
    char name[DEVBROKER_MAX_TOPIC_LEN + 1];
    int partitions;
};

/* The configuration, immutable after parse_args(). */
struct devbroker_conf {
    int brokers;
    struct topic_spec topics[DEVBROKER_MAX_TOPICS];
    int topic_cnt;
    int control;            /* bool: --control given */
    uint16_t control_port;  /* 0 = pick a free one */
    const char *ready_file; /* borrowed from argv; may be NULL */
};

/* What the control handlers need; lives in main()'s frame. */
struct devbroker_ctx {
    const struct devbroker_conf *conf;
    rd_kafka_mock_cluster_t *mc;
    const char *bootstrap; /* borrowed from the mock cluster */
};

/* Parse the whole of s as an integer in [min, max] (util_parse_int); 0 or -1
 * (main.c). */
int parse_num(const char *s, long min, long max, long *out);

/* true (1) if s[0..len) is a Kafka topic name: 1..249 of [A-Za-z0-9._-] (main.c). */
int topic_name_valid(const char *s, size_t len);

/* Start the control server on 127.0.0.1:port (0: a free one), handlers reading ctx
 * (borrowed until MHD_stop_daemon); sets *bound to the port. Returns the daemon, or
 * NULL (control.c). */
struct MHD_Daemon *control_start(struct devbroker_ctx *ctx, uint16_t port,
                                 uint16_t *bound);

#endif
