/* kafka.h -- librdkafka configuration shared by the producer and the consumer. */
#ifndef HERALD_KAFKA_H
#define HERALD_KAFKA_H

#include <stdbool.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "config.h"

/* Build a conf with bootstrap.servers = brokers and then every property in
 * props[0..n) (the config's kafka.properties, or -X options). Returns a new conf
 * (caller owns; hand it to rd_kafka_new) or NULL with errstr set. The value of a
 * property whose name suggests a secret (password, secret, token, key) is never
 * copied into errstr. */
rd_kafka_conf_t *kafka_conf_new(const char *brokers, const struct kv *props, size_t n,
                                char *errstr, size_t errstr_size);

/* Set one property, checked; same secrecy rule. Returns 0 or -1. */
int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                   char *errstr, size_t errstr_size);

/* true if a property name looks like it holds a secret. */
bool kafka_prop_is_secret(const char *key);

#endif
