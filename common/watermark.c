/* watermark.c -- see watermark.h. */
#include "watermark.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util.h"

bool watermark_source_valid(const char *s)
{
    size_t n = 0;

    if (!s)
        return false;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= WATERMARK_SOURCE_MAX)
            return false;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '/' ||
              c == '@' || c == '-'))
            return false;
    }
    return n > 0;
}

/* The checks shared by set, encode and parse. */
static int check(const char *source, int64_t watermark_ms, long long partitions,
                 char *errstr, size_t errstr_size)
{
    if (!watermark_source_valid(source)) {
        snprintf(errstr, errstr_size,
                 "source: want 1..%d bytes of [A-Za-z0-9._:/@-], got \"%.60s\"",
                 WATERMARK_SOURCE_MAX, source ? source : "(null)");
        return -1;
    }
    if (partitions < 1 || partitions > WATERMARK_MAX_PARTITIONS) {
        snprintf(errstr, errstr_size, "partitions: %lld is outside 1..%d", partitions,
                 WATERMARK_MAX_PARTITIONS);
        return -1;
    }
    if (watermark_ms > WATERMARK_MS_LIMIT || watermark_ms < -WATERMARK_MS_LIMIT) {
        snprintf(errstr, errstr_size, "watermark_ms: %lld is outside +-2^53",
                 (long long)watermark_ms);
        return -1;
    }
    return 0;
}

int watermark_set(struct watermark *wm, const char *source, int64_t watermark_ms,
                  int partitions, bool final, char *errstr, size_t errstr_size)
{
    memset(wm, 0, sizeof(*wm));
    if (check(source, watermark_ms, partitions, errstr, errstr_size) < 0)
        return -1;
    memcpy(wm->source, source, strlen(source) + 1);
    wm->watermark_ms = watermark_ms;
    wm->partitions = partitions;
    wm->final = final;
    return 0;
}

int watermark_encode(const struct watermark *wm, char *buf, size_t size)
{
    char err[128];
    int n;

    if (check(wm->source, wm->watermark_ms, wm->partitions, err, sizeof(err)) < 0)
        return -1;
    /* The source's alphabet needs no JSON escaping. */
    n = snprintf(buf, size,
                 "{\"schema\":%d,\"kind\":\"%s\",\"source\":\"%s\",\"watermark_ms\":%lld,"
                 "\"partitions\":%d,\"final\":%s}",
                 WATERMARK_SCHEMA, WATERMARK_KIND, wm->source,
                 (long long)wm->watermark_ms, wm->partitions,
                 wm->final ? "true" : "false");
    return n < 0 || (size_t)n >= size ? -1 : n;
}

/* A member that must be a JSON number holding an integer. */
static int get_int(const cJSON *o, const char *name, long long *out, char *errstr,
                   size_t errstr_size)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

    if (!it) {
        snprintf(errstr, errstr_size, "%s: missing", name);
        return -1;
    }
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) ||
        it->valuedouble != floor(it->valuedouble) ||
        fabs(it->valuedouble) > (double)WATERMARK_MS_LIMIT) {
        snprintf(errstr, errstr_size, "%s: not an integer within +-2^53", name);
        return -1;
    }
    *out = (long long)it->valuedouble;
    return 0;
}

int watermark_parse(struct watermark *wm, const char *data, size_t len, char *errstr,
                    size_t errstr_size)
{
    cJSON *o = NULL;
    const cJSON *it;
    long long schema, ms, parts;
    int rc = -1;

    memset(wm, 0, sizeof(*wm));
    if (len > WATERMARK_MAX_BYTES) {
        snprintf(errstr, errstr_size, "record is %zu bytes, over the %d-byte limit", len,
                 WATERMARK_MAX_BYTES);
        return -1;
    }
    if (!(o = cJSON_ParseWithLength(data, len))) {
        snprintf(errstr, errstr_size, "malformed JSON");
        return -1;
    }
    if (!cJSON_IsObject(o)) {
        snprintf(errstr, errstr_size, "not a JSON object");
        goto out;
    }
    if (get_int(o, "schema", &schema, errstr, errstr_size) < 0)
        goto out;
    if (schema != WATERMARK_SCHEMA) {
        snprintf(errstr, errstr_size, "schema: %lld is not supported (want %d)", schema,
                 WATERMARK_SCHEMA);
        goto out;
    }
    it = cJSON_GetObjectItemCaseSensitive(o, "kind");
    if (!cJSON_IsString(it) || strcmp(it->valuestring, WATERMARK_KIND) != 0) {
        snprintf(errstr, errstr_size, "kind: missing or not \"%s\"", WATERMARK_KIND);
        goto out;
    }
    it = cJSON_GetObjectItemCaseSensitive(o, "source");
    if (!cJSON_IsString(it)) {
        snprintf(errstr, errstr_size, "source: missing or not a string");
        goto out;
    }
    if (get_int(o, "watermark_ms", &ms, errstr, errstr_size) < 0 ||
        get_int(o, "partitions", &parts, errstr, errstr_size) < 0)
        goto out;
    const cJSON *fin = cJSON_GetObjectItemCaseSensitive(o, "final");
    if (!cJSON_IsBool(fin)) {
        snprintf(errstr, errstr_size, "final: missing or not a boolean");
        goto out;
    }
    if (check(it->valuestring, ms, parts, errstr, errstr_size) < 0)
        goto out;
    rc = watermark_set(wm, it->valuestring, ms, (int)parts, cJSON_IsTrue(fin), errstr,
                       errstr_size);
out:
    cJSON_Delete(o);
    if (rc < 0)
        memset(wm, 0, sizeof(*wm));
    return rc;
}

bool watermark_message_is(const rd_kafka_message_t *m)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *val = NULL;
    size_t len = 0;

    if (!m || rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || !hdrs)
        return false;
    if (rd_kafka_header_get_last(hdrs, "herald-kind", &val, &len) !=
        RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    return val && len == strlen(WATERMARK_KIND) && memcmp(val, WATERMARK_KIND, len) == 0;
}

int watermark_partitions(rd_kafka_t *rk, const char *topic, int64_t timeout_ms,
                         char *errstr, size_t errstr_size)
{
    int64_t deadline = util_mono_ms() + timeout_ms;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t last = RD_KAFKA_RESP_ERR__TIMED_OUT;
    int rc = -1;

    if (!rkt) {
        snprintf(errstr, errstr_size, "topic %s: %s", topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    for (;;) {
        const struct rd_kafka_metadata *md = NULL;
        int64_t left = deadline - util_mono_ms();
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md,
                                                    (int)(left < 200    ? 200
                                                          : left > 5000 ? 5000
                                                                        : left));
        if (!err && md) {
            if (md->topic_cnt == 1) {
                const rd_kafka_metadata_topic_t *t = &md->topics[0];
                if (t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
                    snprintf(
                        errstr, errstr_size,
                        "topic %s does not exist (create it with the partition count "
                        "the consumers use)",
                        topic);
                    rd_kafka_metadata_destroy(md);
                    goto out;
                }
                if (!t->err && t->partition_cnt > 0) {
                    rc = t->partition_cnt;
                    rd_kafka_metadata_destroy(md);
                    goto out;
                }
                last = t->err ? t->err : RD_KAFKA_RESP_ERR__PARTITION_EOF;
            }
        } else {
            last = err;
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        if (util_mono_ms() >= deadline)
            break;
        rd_kafka_poll(rk, 200);
    }
    snprintf(errstr, errstr_size, "topic %s: no partition metadata within %lld ms (%s)",
             topic, (long long)timeout_ms,
             last == RD_KAFKA_RESP_ERR__PARTITION_EOF ? "no partitions"
                                                      : rd_kafka_err2str(last));
out:
    rd_kafka_topic_destroy(rkt);
    return rc;
}

int watermark_publish(rd_kafka_t *rk, const char *topic, const struct watermark *wm,
                      void *msg_opaque, int64_t queue_wait_ms, char *errstr,
                      size_t errstr_size)
{
    char val[WATERMARK_MAX_BYTES + 1];
    int n = watermark_encode(wm, val, sizeof(val));

    if (n < 0) {
        snprintf(errstr, errstr_size, "invalid watermark record (source \"%.60s\")",
                 wm->source);
        return -1;
    }
    for (int p = 0; p < wm->partitions; p++) {
        int64_t until = util_mono_ms() + queue_wait_ms;
        rd_kafka_resp_err_t err;
        for (;;) {
            err = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p),
                RD_KAFKA_V_KEY(WATERMARK_KEY, strlen(WATERMARK_KEY)),
                RD_KAFKA_V_VALUE(val, (size_t)n),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_HEADER("herald-schema", "1", 1),
                RD_KAFKA_V_HEADER("herald-kind", WATERMARK_KIND, strlen(WATERMARK_KIND)),
                RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || util_mono_ms() >= until)
                break;
            rd_kafka_poll(rk, 50);
        }
        if (err) {
            snprintf(errstr, errstr_size, "watermark to %s [%d]: %s", topic, p,
                     rd_kafka_err2str(err));
            return -1;
        }
    }
    rd_kafka_poll(rk, 0);
    return wm->partitions;
}
