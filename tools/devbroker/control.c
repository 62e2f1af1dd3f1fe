/* control.c -- herald-devbroker's control endpoint on 127.0.0.1 (MHD): fault injection
 * into the mock cluster (broker down/up, request errors, leader moves, round-trip
 * time), a group's committed offsets, and /info. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <microhttpd.h>

#include "devbroker.h"
#include "log.h"
#include "util.h"

/* ---- control endpoint ------------------------------------------------------ */

/* Queue a response with a copy of body. Returns MHD's verdict. */
static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status,
                               const char *body)
{
    size_t len = strlen(body);
    char *copy = malloc(len + 1);
    struct MHD_Response *r;
    enum MHD_Result ret;

    if (copy == NULL)
        return MHD_NO;
    memcpy(copy, body, len + 1);
    r = MHD_create_response_from_buffer(len, copy, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(copy);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* 400 {"ok":false,"error":msg} (msg JSON-escaped). */
static enum MHD_Result respond_err(struct MHD_Connection *conn, unsigned status,
                                   const char *msg)
{
    char esc[512], body[600];

    util_json_escape(msg, esc, sizeof(esc));
    snprintf(body, sizeof(body), "{\"ok\":false,\"error\":\"%s\"}", esc);
    return respond(conn, status, body);
}

/* Result of a mock call: {"ok":true} or 400 with librdkafka's error text. */
static enum MHD_Result respond_mock(struct MHD_Connection *conn, rd_kafka_resp_err_t err)
{
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return respond_err(conn, MHD_HTTP_BAD_REQUEST, rd_kafka_err2str(err));
    return respond(conn, MHD_HTTP_OK, "{\"ok\":true}");
}

/* Fetch query parameter `key` as an integer in [min, max]. 0, or -1 with errbuf set. */
static int query_num(struct MHD_Connection *conn, const char *key, long min, long max,
                     long *out, char *errbuf, size_t errsize)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);

    if (v == NULL) {
        snprintf(errbuf, errsize, "missing query parameter '%s'", key);
        return -1;
    }
    if (parse_num(v, min, max, out) != 0) {
        snprintf(errbuf, errsize, "bad '%s'=%.64s: want an integer %ld..%ld", key, v, min,
                 max);
        return -1;
    }
    return 0;
}

static const struct {
    const char *name;
    int16_t key;
} api_names[] = {
    {"Produce", 0},
    {"Fetch", 1},
    {"ListOffsets", 2},
    {"Metadata", 3},
    {"OffsetCommit", 8},
    {"OffsetFetch", 9},
    {"FindCoordinator", 10},
    {"JoinGroup", 11},
    {"Heartbeat", 12},
    {"LeaveGroup", 13},
    {"SyncGroup", 14},
    {"DescribeGroups", 15},
    {"ListGroups", 16},
    {"ApiVersions", 18},
    {"CreateTopics", 19},
    {"InitProducerId", 22},
    {"AddPartitionsToTxn", 24},
    {"AddOffsetsToTxn", 25},
    {"EndTxn", 26},
    {"TxnOffsetCommit", 28},
};

/* Api key by number (0..32767) or name (case-insensitive). 0 or -1. */
static int parse_api(const char *s, int16_t *out)
{
    long n;

    if (parse_num(s, 0, INT16_MAX, &n) == 0) {
        *out = (int16_t)n;
        return 0;
    }
    for (size_t i = 0; i < sizeof(api_names) / sizeof(api_names[0]); i++)
        if (strcasecmp(s, api_names[i].name) == 0) {
            *out = api_names[i].key;
            return 0;
        }
    return -1;
}

/* Error code by number (-200..32767) or name, with or without the RD_KAFKA_RESP_ERR_
 * prefix, case-insensitive (any name librdkafka knows). 0 or -1. */
static int parse_err(const char *s, rd_kafka_resp_err_t *out)
{
    const struct rd_kafka_err_desc *descs = NULL;
    size_t cnt = 0;
    long n;

    if (parse_num(s, -200, INT16_MAX, &n) == 0) {
        *out = (rd_kafka_resp_err_t)n;
        return 0;
    }
    if (strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18) == 0)
        s += 18;
    rd_kafka_get_err_descs(&descs, &cnt);
    for (size_t i = 0; i < cnt; i++) {
        const char *name = descs[i].name;
        if (name == NULL || descs[i].code == RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        /* internal errors are named "_TRANSPORT"; accept "TRANSPORT" too */
        if (strcasecmp(s, name) == 0 ||
            (name[0] == '_' && strcasecmp(s, name + 1) == 0)) {
            *out = descs[i].code;
            return 0;
        }
    }
    return -1;
}

/* POST /errors?api=KEY&code=ERR&count=C */
static enum MHD_Result handle_errors(struct devbroker_ctx *ctx,
                                     struct MHD_Connection *conn)
{
    const char *api = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "api");
    const char *code = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "code");
    char eb[160];
    rd_kafka_resp_err_t err, *errs;
    int16_t key;
    long count = 1;

    if (api == NULL || parse_api(api, &key) != 0) {
        snprintf(eb, sizeof(eb),
                 "bad or missing 'api': want a number or a name like "
                 "Produce, Fetch, Metadata, JoinGroup");
        return respond_err(conn, MHD_HTTP_BAD_REQUEST, eb);
    }
    if (code == NULL || parse_err(code, &err) != 0) {
        snprintf(eb, sizeof(eb),
                 "bad or missing 'code': want a number or a name like "
                 "NOT_LEADER_FOR_PARTITION");
        return respond_err(conn, MHD_HTTP_BAD_REQUEST, eb);
    }
    if (MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "count") != NULL &&
        query_num(conn, "count", 1, DEVBROKER_MAX_ERRORS, &count, eb, sizeof(eb)) != 0)
        return respond_err(conn, MHD_HTTP_BAD_REQUEST, eb);
    if ((errs = calloc((size_t)count, sizeof(*errs))) == NULL)
        return respond_err(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    for (long i = 0; i < count; i++)
        errs[i] = err;
    rd_kafka_mock_push_request_errors_array(ctx->mc, key, (size_t)count, errs);
    free(errs);
    log_info("control: next %ld request(s) of api %d fail with %s", count, (int)key,
             rd_kafka_err2name(err));
    return respond(conn, MHD_HTTP_OK, "{\"ok\":true}");
}

/* GET /info */
static enum MHD_Result handle_info(struct devbroker_ctx *ctx, struct MHD_Connection *conn)
{
    cJSON *root = cJSON_CreateObject(), *topics = NULL;
    char *text = NULL;
    enum MHD_Result ret = MHD_NO;

    if (root == NULL)
        goto out;
    if (!cJSON_AddStringToObject(root, "bootstrap", ctx->bootstrap) ||
        !cJSON_AddNumberToObject(root, "brokers", ctx->conf->brokers) ||
        (topics = cJSON_AddArrayToObject(root, "topics")) == NULL)
        goto out;
    for (int i = 0; i < ctx->conf->topic_cnt; i++) {
        cJSON *t = cJSON_CreateObject();
        if (t == NULL)
            goto out;
        cJSON_AddItemToArray(topics, t);
        if (!cJSON_AddStringToObject(t, "name", ctx->conf->topics[i].name) ||
            !cJSON_AddNumberToObject(t, "partitions", ctx->conf->topics[i].partitions))
            goto out;
    }
    if ((text = cJSON_PrintUnformatted(root)) == NULL)
        goto out;
    ret = respond(conn, MHD_HTTP_OK, text);
out:
    if (text == NULL && ret == MHD_NO)
        ret = respond_err(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    cJSON_free(text);
    cJSON_Delete(root);
    return ret;
}

/* POST /commit?group=G&topic=T&partition=P&offset=O: commit offset O for group G, as
 * a group's member would. Tests use it to put a group's offset past the end of a log
 * (a broker that lost its log). The group must have no active member. */
static enum MHD_Result handle_commit(struct devbroker_ctx *ctx,
                                     struct MHD_Connection *conn)
{
    const char *group = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "group");
    const char *topic = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "topic");
    char eb[160], errstr[256];
    long part, off;
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_resp_err_t err;

    if (!group || !*group || strlen(group) > 255)
        return respond_err(conn, MHD_HTTP_BAD_REQUEST, "bad or missing 'group'");
    if (topic == NULL || !topic_name_valid(topic, strlen(topic)))
        return respond_err(conn, MHD_HTTP_BAD_REQUEST, "bad or missing 'topic'");
    if (query_num(conn, "partition", 0, DEVBROKER_MAX_PARTITIONS - 1, &part, eb,
                  sizeof(eb)) != 0 ||
        query_num(conn, "offset", 0, INT32_MAX, &off, eb, sizeof(eb)) != 0)
        return respond_err(conn, MHD_HTTP_BAD_REQUEST, eb);
    conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", ctx->bootstrap, errstr,
                          sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)) ||
        !(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr)))) {
        rd_kafka_conf_destroy(conf);
        return respond_err(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, errstr);
    }
    l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, (int32_t)part)->offset = off;
    err = rd_kafka_commit(rk, l, 0);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    log_info("control: group %s commits %s [%ld] at %ld: %s", group, topic, part, off,
             rd_kafka_err2str(err));
    return respond_mock(conn, err);
}

/* Route one complete request. */
static enum MHD_Result route(struct devbroker_ctx *ctx, struct MHD_Connection *conn,
                             const char *url, const char *method)
{
    int is_post = strcmp(method, "POST") == 0;
    char eb[160];
    long id, part, ms;

    if (strcmp(url, "/info") == 0) {
        if (strcmp(method, "GET") != 0)
            return respond_err(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
        return handle_info(ctx, conn);
    }
    if (strcmp(url, "/broker/down") != 0 && strcmp(url, "/broker/up") != 0 &&
        strcmp(url, "/errors") != 0 && strcmp(url, "/leader") != 0 &&
        strcmp(url, "/rtt") != 0 && strcmp(url, "/commit") != 0)
        return respond_err(conn, MHD_HTTP_NOT_FOUND, "not_found");
    if (!is_post)
        return respond_err(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST");
    if (strcmp(url, "/commit") == 0)
        return handle_commit(ctx, conn);

    if (strcmp(url, "/errors") == 0)
        return handle_errors(ctx, conn);
    if (strcmp(url, "/leader") == 0) {
        const char *topic =
            MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "topic");
        if (topic == NULL || !topic_name_valid(topic, strlen(topic)))
            return respond_err(conn, MHD_HTTP_BAD_REQUEST, "bad or missing 'topic'");
        if (query_num(conn, "partition", 0, DEVBROKER_MAX_PARTITIONS - 1, &part, eb,
                      sizeof(eb)) != 0 ||
            query_num(conn, "id", -1, INT32_MAX, &id, eb, sizeof(eb)) != 0)
            return respond_err(conn, MHD_HTTP_BAD_REQUEST, eb);
        log_info("control: leader of %s [%ld] -> broker %ld", topic, part, id);
        return respond_mock(conn, rd_kafka_mock_partition_set_leader(
                                      ctx->mc, topic, (int32_t)part, (int32_t)id));
    }
    if (query_num(conn, "id", 0, INT32_MAX, &id, eb, sizeof(eb)) != 0)
        return respond_err(conn, MHD_HTTP_BAD_REQUEST, eb);
    if (strcmp(url, "/rtt") == 0) {
        if (query_num(conn, "ms", 0, DEVBROKER_MAX_RTT_MS, &ms, eb, sizeof(eb)) != 0)
            return respond_err(conn, MHD_HTTP_BAD_REQUEST, eb);
        log_info("control: broker %ld rtt %ld ms", id, ms);
        return respond_mock(conn,
                            rd_kafka_mock_broker_set_rtt(ctx->mc, (int32_t)id, (int)ms));
    }
    if (strcmp(url, "/broker/down") == 0) {
        log_info("control: broker %ld down", id);
        return respond_mock(conn, rd_kafka_mock_broker_set_down(ctx->mc, (int32_t)id));
    }
    log_info("control: broker %ld up", id);
    return respond_mock(conn, rd_kafka_mock_broker_set_up(ctx->mc, (int32_t)id));
}

/* MHD access handler: swallow any request body, then route on the final call. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    static int started; /* address used as a marker only */

    (void)version;
    (void)upload_data;
    if (*con_cls == NULL) {
        *con_cls = &started;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* query parameters only; ignore any body */
        return MHD_YES;
    }
    return route(cls, conn, url, method);
}

/* Start the control server on 127.0.0.1:port; returns the daemon or NULL. */
struct MHD_Daemon *control_start(struct devbroker_ctx *ctx, uint16_t port,
                                 uint16_t *bound)
{
    struct sockaddr_in sa;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, port, NULL,
                         NULL, on_request, ctx, MHD_OPTION_SOCK_ADDR, &sa,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (d == NULL)
        return NULL;
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0) {
        MHD_stop_daemon(d);
        return NULL;
    }
    *bound = info->port;
    return d;
}
