/* kafka.c -- see kafka.h. */
#include "kafka.h"

#include <stdio.h>
#include <string.h>

bool kafka_prop_is_secret(const char *key)
{
    static const char *const words[] = {"password", "secret", "token", ".key", "jaas"};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strstr(key, words[i]))
            return true;
    return false;
}

int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                   char *errstr, size_t errstr_size)
{
    char err[512];

    if (rd_kafka_conf_set(conf, key, value, err, sizeof(err)) == RD_KAFKA_CONF_OK)
        return 0;
    if (kafka_prop_is_secret(key))
        snprintf(errstr, errstr_size, "kafka property %s: invalid value (not shown)",
                 key);
    else
        snprintf(errstr, errstr_size, "kafka property %s: %s", key, err);
    return -1;
}

rd_kafka_conf_t *kafka_conf_new(const char *brokers, const struct kv *props, size_t n,
                                char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    if (!conf) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, errstr_size) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (kafka_conf_set(conf, props[i].key, props[i].value, errstr, errstr_size) < 0)
            goto fail;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}
