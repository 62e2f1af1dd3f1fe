/* config_conn.c -- the sections of the configuration that say where things are and
 * how to reach them: kafka, redis, receivers, delivery, history, web and http. */
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "config.h"
#include "config_int.h"
#include "util.h"

void cfg_parse_kafka(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"brokers",           "topic",        "group",
                                       "dead_letter_topic", "alerts_topic", "batch_size",
                                       "batch_wait",        "properties",   NULL};
    struct config *c = p->c;
    yaml_node_t *props;

    cfg_check_keys(p, m, "kafka.", keys);
    cfg_get_string(p, m, "brokers", "kafka.", &c->brokers);
    cfg_get_string(p, m, "topic", "kafka.", &c->topic);
    cfg_get_string(p, m, "group", "kafka.", &c->group);
    cfg_get_string(p, m, "dead_letter_topic", "kafka.", &c->dead_letter_topic);
    cfg_get_string(p, m, "alerts_topic", "kafka.", &c->alerts_topic);
    cfg_get_int(p, m, "batch_size", "kafka.", 1, 10000, &c->batch_size);
    cfg_get_duration(p, m, "batch_wait", "kafka.", 1, &c->batch_wait_ms);
    props = cfg_mget(p, m, "properties");
    if (!props)
        return;
    if (!cfg_is_map(props)) {
        cfg_err(p, props, "kafka.properties: expected a mapping of librdkafka settings");
        return;
    }
    size_t n = (size_t)(props->data.mapping.pairs.top - props->data.mapping.pairs.start);
    c->kafka_props = cfg_alloc(&c->arena, (n ? n : 1) * sizeof(struct kv));
    if (!c->kafka_props) {
        p->oom = true;
        return;
    }
    for (yaml_node_pair_t *kv = props->data.mapping.pairs.start;
         kv < props->data.mapping.pairs.top; kv++) {
        const char *k = cfg_sval(cfg_node(p, kv->key)), *v;
        char base[CONFIG_MAX_KEY + 1];
        size_t kl;
        if (!k || !cfg_sval(cfg_node(p, kv->value))) {
            cfg_err(p, cfg_node(p, kv->key),
                    "kafka.properties: keys and values must be strings");
            continue;
        }
        /* librdkafka's names are short: a longer key is a mistake, never cut. */
        kl = strlen(k);
        if (kl > CONFIG_MAX_KEY) {
            cfg_err(p, cfg_node(p, kv->key),
                    "kafka.properties: key \"%.40s...\" is %zu bytes "
                    "long (at most %d)",
                    k, kl, CONFIG_MAX_KEY);
            continue;
        }
        /* sasl.password_env: NAME -> sasl.password from the environment. */
        memcpy(base, k, kl + 1);
        if (kl > 4 && strcmp(k + kl - 4, "_env") == 0)
            base[kl - 4] = '\0';
        else if (kl > 5 && strcmp(k + kl - 5, "_file") == 0)
            base[kl - 5] = '\0';
        v = strcmp(base, k) != 0 ? cfg_get_secret(p, props, base, "kafka.properties.")
                                 : cfg_dup(p, cfg_sval(cfg_node(p, kv->value)));
        if (!v)
            continue;
        c->kafka_props[c->nkafka_props].key = cfg_dup(p, base);
        c->kafka_props[c->nkafka_props++].value = v;
    }
}

void cfg_parse_redis(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {
        "host",          "port",       "db",      "password",       "password_env",
        "password_file", "key_prefix", "timeout", "on_unavailable", NULL};
    struct config *c = p->c;

    cfg_check_keys(p, m, "redis.", keys);
    cfg_get_string(p, m, "host", "redis.", &c->redis_host);
    cfg_get_int(p, m, "port", "redis.", 1, 65535, &c->redis_port);
    cfg_get_int(p, m, "db", "redis.", 0, 1000, &c->redis_db);
    cfg_get_string(p, m, "key_prefix", "redis.", &c->key_prefix);
    cfg_get_duration(p, m, "timeout", "redis.", 10, &c->redis_timeout_ms);
    c->redis_password = cfg_get_secret(p, m, "password", "redis.");
    const char *ou = cfg_get_scalar(p, m, "on_unavailable", "redis.");
    if (ou && strcmp(ou, "wait") != 0 && strcmp(ou, "alert") != 0)
        cfg_err(
            p, cfg_mget(p, m, "on_unavailable"),
            "redis.on_unavailable: \"%s\" is not wait (fail closed) or alert (fail open)",
            ou);
    else if (ou)
        c->redis_fail_open = strcmp(ou, "alert") == 0;
}

void cfg_parse_receivers(struct cfgp *p, const yaml_node_t *n)
{
    static const char *const keys[] = {"name",       "type",     "channel", "url",
                                       "url_env",    "url_file", "token",   "token_env",
                                       "token_file", NULL};
    struct config *c = p->c;
    size_t cnt;

    if (n->type != YAML_SEQUENCE_NODE) {
        cfg_err(p, n, "receivers: expected a list");
        return;
    }
    cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt > CONFIG_MAX_LIST) {
        cfg_err(p, n, "receivers: more than %d", CONFIG_MAX_LIST);
        return;
    }
    c->receivers = cfg_alloc(&c->arena, (cnt ? cnt : 1) * sizeof(struct receiver));
    if (!c->receivers) {
        p->oom = true;
        return;
    }
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++) {
        yaml_node_t *e = cfg_node(p, *it);
        struct receiver *r = &c->receivers[c->nreceivers];
        const char *name = cfg_get_scalar(p, e, "name", "receivers[].");
        const char *type = cfg_get_scalar(p, e, "type", "receivers[].");
        const char *ch = cfg_get_scalar(p, e, "channel", "receivers[].");
        char path[160];

        if (!cfg_is_map(e) || !name || !*name) {
            cfg_err(p, e, "receivers[]: each receiver needs a name");
            continue;
        }
        snprintf(path, sizeof(path), "receivers[%s].", name);
        cfg_check_keys(p, e, path, keys);
        for (const char *q = name; *q; q++)
            if (*q == '#' || (unsigned char)*q < 0x20 || *q == 0x7f) {
                cfg_err(p, e, "%sname: no '#' or control characters in a receiver name",
                        path);
                break;
            }
        if (config_receiver_index(c, name) >= 0)
            cfg_err(p, e, "%sname: defined twice", path);
        r->name = cfg_dup(p, name);
        r->channel = ch ? cfg_dup(p, ch) : NULL;
        if (!type || strcmp(type, "webhook") == 0) {
            int before = p->nerr;
            r->type = RECEIVER_WEBHOOK;
            r->url = cfg_get_secret(p, e, "url", path);
            if (!r->url && p->nerr == before) /* get_secret said nothing yet */
                cfg_err(p, e, "%surl: a webhook receiver needs url, url_env or url_file",
                        path);
        } else if (strcmp(type, "webapi") == 0) {
            r->type = RECEIVER_WEBAPI;
            r->url = cfg_get_secret(p, e, "url", path);
            if (!r->url)
                r->url = cfg_dup(p, "https://slack.com/api");
            r->token = cfg_get_secret(p, e, "token", path);
            if (!r->token)
                cfg_err(p, e,
                        "%stoken: a webapi receiver needs token, token_env or token_file",
                        path);
            if (!r->channel)
                cfg_err(p, e, "%schannel: a webapi receiver needs a channel", path);
        } else {
            cfg_err(p, cfg_mget(p, e, "type"), "%stype: \"%s\" is not webhook or webapi",
                    path, type);
            continue;
        }
        if (r->channel && strchr(r->channel, '{') &&
            (r->type != RECEIVER_WEBAPI || util_template_check(r->channel) < 0))
            cfg_err(p, cfg_mget(p, e, "channel"),
                    "%schannel: \"%s\": a channel template needs type "
                    "webapi and only {service}, {stage}, {repo} or {org}",
                    path, r->channel);
        if (r->url && strncmp(r->url, "http://", 7) != 0 &&
            strncmp(r->url, "https://", 8) != 0)
            cfg_err(p, e, "%surl: must start with http:// or https://", path);
        c->nreceivers++;
    }
}

void cfg_parse_delivery(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"timeout",          "max_attempts",
                                       "backoff",          "backoff_max",
                                       "give_up_after",    "retry_after_max",
                                       "parallel",         "fallback_receiver",
                                       "shutdown_timeout", NULL};
    struct deliver_opts *d = &p->c->delivery;

    cfg_check_keys(p, m, "delivery.", keys);
    cfg_get_duration(p, m, "timeout", "delivery.", 10, &d->timeout_ms);
    cfg_get_int(p, m, "max_attempts", "delivery.", 1, 100, &d->max_attempts);
    cfg_get_duration(p, m, "backoff", "delivery.", 1, &d->backoff_initial_ms);
    cfg_get_duration(p, m, "backoff_max", "delivery.", 1, &d->backoff_max_ms);
    cfg_get_duration(p, m, "give_up_after", "delivery.", 10, &d->give_up_ms);
    cfg_get_duration(p, m, "retry_after_max", "delivery.", 0, &d->retry_after_max_ms);
    cfg_get_int(p, m, "parallel", "delivery.", 1, 64, &d->max_parallel);
    cfg_get_duration(p, m, "shutdown_timeout", "delivery.", 0, &d->shutdown_ms);
    const char *fb = cfg_get_scalar(p, m, "fallback_receiver", "delivery.");
    if (fb && (p->c->fallback_receiver = config_receiver_index(p->c, fb)) < 0)
        cfg_err(p, cfg_mget(p, m, "fallback_receiver"),
                "delivery.fallback_receiver: no receiver named \"%s\"", fb);
}

/* history: { dsn | dsn_env | dsn_file, group, alerts_topic, listen, batch_size,
 * refresh } -- herald-recorder and herald-web (docs/dashboard.md). */
void cfg_parse_history(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"dsn",        "dsn_env",      "dsn_file",
                                       "group",      "alerts_topic", "listen",
                                       "batch_size", "refresh",      NULL};
    static const char *const dsn_keys[] = {"dsn", "dsn_env", "dsn_file"};
    struct config *c = p->c;
    const char **dst[] = {&c->history_dsn, &c->history_dsn_env, &c->history_dsn_file};
    int given = 0;

    cfg_check_keys(p, m, "history.", keys);
    /* Kept as written: resolved by the recorder and herald-web only. */
    for (size_t i = 0; i < 3; i++) {
        cfg_get_string(p, m, dsn_keys[i], "history.", dst[i]);
        if (*dst[i] && !**dst[i]) {
            cfg_err(p, cfg_mget(p, m, dsn_keys[i]), "history.%s: must not be empty",
                    dsn_keys[i]);
            *dst[i] = NULL;
        }
        given += *dst[i] != NULL;
    }
    if (given > 1)
        cfg_err(p, m, "history.dsn: give only one of dsn, dsn_env, dsn_file");
    cfg_get_string(p, m, "group", "history.", &c->history_group);
    cfg_get_string(p, m, "alerts_topic", "history.", &c->history_alerts_topic);
    p->history_topic_set = cfg_mget(p, m, "alerts_topic") != NULL;
    cfg_get_string(p, m, "listen", "history.", &c->history_listen);
    cfg_get_int(p, m, "batch_size", "history.", 1, 5000, &c->history_batch_size);
    cfg_get_duration(p, m, "refresh", "history.", 100, &c->history_refresh_ms);
    if (c->history_group && !*c->history_group)
        cfg_err(p, cfg_mget(p, m, "group"), "history.group: must not be empty");
}

/* web: { listen, public_url, deck_url, slack_url, release_window } -- herald-web. */
void cfg_parse_web(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"listen",    "public_url",     "deck_url",
                                       "slack_url", "release_window", NULL};
    static const char *const urls[] = {"public_url", "deck_url", "slack_url"};
    struct config *c = p->c;
    const char **dst[] = {&c->web_public_url, &c->web_deck_url, &c->web_slack_url};

    cfg_check_keys(p, m, "web.", keys);
    cfg_get_string(p, m, "listen", "web.", &c->web_listen);
    cfg_get_duration(p, m, "release_window", "web.", 60 * 1000,
                     &c->web_release_window_ms);
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        const char *v = cfg_get_scalar(p, m, urls[i], "web.");
        size_t l;
        if (!v)
            continue;
        if (*v && strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
            cfg_err(p, cfg_mget(p, m, urls[i]),
                    "web.%s: must start with http:// or https://", urls[i]);
            continue;
        }
        /* Links are built as <url>/release/...: drop trailing slashes. */
        char *d = cfg_strdup(&c->arena, v);
        if (!d) {
            p->oom = true;
            return;
        }
        for (l = strlen(d); l > 0 && d[l - 1] == '/'; l--)
            d[l - 1] = '\0';
        *dst[i] = d;
    }
    if (c->web_listen && !*c->web_listen)
        cfg_err(p, cfg_mget(p, m, "listen"), "web.listen: must not be empty");
}

/* http: { listen } -- the consumers' /metrics, /healthz and /readyz. */
void cfg_parse_http(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"listen", NULL};

    cfg_check_keys(p, m, "http.", keys);
    cfg_get_string(p, m, "listen", "http.", &p->c->http_listen);
}
