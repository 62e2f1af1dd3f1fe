/* config.c -- load and validate the YAML configuration (libyaml's document API, so
 * every node keeps the line it came from): the arena, the defaults and the top level;
 * the sections are config_rules.c and config_conn.c, the YAML readers config_yaml.c. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config_int.h"
#include "util.h"

/* ---- arena: every string and array of a config, freed together ---- */

struct arena_blk {
    struct arena_blk *next;
    max_align_t data[];
};

void *cfg_alloc(void **arena, size_t size)
{
    struct arena_blk *b = calloc(1, sizeof(*b) + size);

    if (!b)
        return NULL;
    b->next = *arena;
    *arena = b;
    return b->data;
}

char *cfg_strdup(void **arena, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = cfg_alloc(arena, n);

    if (d)
        memcpy(d, s, n);
    return d;
}

static void arena_free(void *arena)
{
    struct arena_blk *b = arena;

    while (b) {
        struct arena_blk *next = b->next;
        free(b);
        b = next;
    }
}

/* ---- field names ---- */

static const char *const field_names[FIELD__COUNT] = {
    "service", "repo", "job", "stage", "type", "tier", "state", "org", "base_ref"};

const char *field_name(enum field f)
{
    return (unsigned)f < FIELD__COUNT ? field_names[f] : "?";
}

int field_parse(const char *s)
{
    for (int i = 0; i < FIELD__COUNT; i++)
        if (strcmp(s, field_names[i]) == 0)
            return i;
    return -1;
}

/* ---- defaults and the top level ---- */

/* ACK's release of one controller version (docs/rules.md): the tag starts
 * post-submit and the OLM bundle; update-ack-chart needs post-submit's chart. */
static const char *const after_post_submit[] = {"post-submit"};
static const struct release_stage ack_release[] = {
    {"post-submit", NULL, 0},
    {"olm-bundle", NULL, 0},
    {"chart-update", after_post_submit, 1},
};
static const char *const any_stage[] = {"*"};

/* Without a routes: section, presubmit and batch failures are dropped: they belong on
 * the pull request, where Prow's GitHub reporter already puts them. */
static const char *const pr_types[] = {"presubmit", "batch"};
static struct route pr_drop = {.match[FIELD_TYPE] = {pr_types, 2}, .drop = true};

static void set_default_routes(struct config *c)
{
    c->routes = &pr_drop;
    c->nroutes = 1;
}

static void set_defaults(struct config *c)
{
    static const char *const states[] = {"failure", "error"};

    c->brokers = "127.0.0.1:9092";
    c->topic = "herald.events";
    c->group = "herald";
    c->dead_letter_topic = "herald.dead-letter";
    c->batch_size = 200;
    c->batch_wait_ms = 100;
    c->redis_host = "127.0.0.1";
    c->redis_port = 6379;
    c->key_prefix = "herald:";
    c->redis_timeout_ms = 2000;
    c->window_ms = 3600 * 1000;
    c->reminders_ms[0] = 3600 * 1000;
    c->reminders_ms[1] = 4 * 3600 * 1000;
    c->reminders_ms[2] = 24 * 3600 * 1000;
    c->nreminders = 3;
    c->failures_to_alert = 1;
    c->wm_idle_ms = 2 * 60 * 1000;
    c->alerts_topic = "";
    c->release_stages = ack_release;
    c->nrelease_stages = sizeof(ack_release) / sizeof(ack_release[0]);
    c->release_hold_ms = 30 * 60 * 1000;
    c->stall_ms = 3600 * 1000;
    c->eco_on = true;
    c->eco_services = 5;
    c->eco_window_ms = 15 * 60 * 1000;
    c->eco_hold_ms = 5 * 60 * 1000;
    c->eco_stages.v = any_stage;
    c->eco_stages.n = 1;
    c->eco_receiver = -1;
    c->storm_rate = 1.0;
    c->storm_burst = 3;
    c->alert_states.v = states;
    c->alert_states.n = 2;
    c->classify = *classify_default();
    c->default_receiver = -1;
    c->fallback_receiver = -1;
    deliver_opts_default(&c->delivery);
    c->http_listen = "127.0.0.1:9464";
    c->history_group = "herald-recorder";
    c->history_alerts_topic = "herald.alerts";
    c->history_listen = "127.0.0.1:9465";
    c->history_batch_size = 1000;
    c->history_refresh_ms = 30 * 1000;
    c->web_listen = "127.0.0.1:8080";
    c->web_public_url = "";
    c->web_deck_url = "";
    c->web_slack_url = "";
    c->web_release_window_ms = 6 * 3600 * 1000LL;
}

struct config *config_parse(const char *name, const char *text, size_t len, char *errbuf,
                            size_t errbuf_size)
{
    static const char *const top[] = {"kafka",
                                      "redis",
                                      "dedup",
                                      "classify",
                                      "receivers",
                                      "routes",
                                      "default_receiver",
                                      "delivery",
                                      "http",
                                      "release",
                                      "ecosystem",
                                      "storm",
                                      "watermark",
                                      "history",
                                      "web",
                                      NULL};
    yaml_parser_t parser;
    yaml_document_t doc;
    struct config *c = NULL;
    struct cfgp p = {0};
    yaml_node_t *root, *n;
    bool have_doc = false;

    if (errbuf_size)
        errbuf[0] = '\0';
    p.name = name;
    p.errbuf = errbuf;
    p.errsize = errbuf_size;
    if (!(c = calloc(1, sizeof(*c))))
        return NULL;
    p.c = c;
    set_defaults(c);
    c->path = strdup(name);
    if (!yaml_parser_initialize(&parser)) {
        cfg_err(&p, NULL, "cannot initialise the YAML parser");
        goto out;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(errbuf, errbuf_size, "%s:%lu: YAML syntax error: %s\n", name,
                 (unsigned long)parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "unknown");
        p.nerr++;
        yaml_parser_delete(&parser);
        goto out;
    }
    yaml_parser_delete(&parser);
    have_doc = true;
    p.doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (!root) /* an empty file: all defaults */
        goto validate;
    if (!cfg_is_map(root)) {
        cfg_err(&p, root,
                "the top level must be a mapping (kafka:, redis:, receivers:, ...)");
        goto out;
    }
    cfg_check_duplicates(&p);
    cfg_check_keys(&p, root, "", top);
    if ((n = cfg_mget(&p, root, "kafka")) != NULL)
        cfg_parse_kafka(&p, n);
    if ((n = cfg_mget(&p, root, "redis")) != NULL)
        cfg_parse_redis(&p, n);
    if ((n = cfg_mget(&p, root, "dedup")) != NULL)
        cfg_parse_dedup(&p, n);
    if ((n = cfg_mget(&p, root, "classify")) != NULL)
        cfg_parse_classify(&p, n);
    if ((n = cfg_mget(&p, root, "release")) != NULL)
        cfg_parse_release(&p, n);
    if ((n = cfg_mget(&p, root, "receivers")) != NULL)
        cfg_parse_receivers(&p, n);
    if ((n = cfg_mget(&p, root, "ecosystem")) != NULL)
        cfg_parse_ecosystem(&p, n);
    if ((n = cfg_mget(&p, root, "storm")) != NULL)
        cfg_parse_storm(&p, n);
    if ((n = cfg_mget(&p, root, "watermark")) != NULL)
        cfg_parse_watermark(&p, n);
    if ((n = cfg_mget(&p, root, "routes")) != NULL)
        cfg_parse_routes(&p, n);
    else
        set_default_routes(c);
    if ((n = cfg_mget(&p, root, "default_receiver")) != NULL) {
        c->default_receiver = cfg_sval(n) ? config_receiver_index(c, cfg_sval(n)) : -1;
        if (c->default_receiver < 0)
            cfg_err(&p, n, "default_receiver: no receiver named \"%s\"",
                    cfg_sval(n) ? cfg_sval(n) : "?");
    }
    if ((n = cfg_mget(&p, root, "delivery")) != NULL)
        cfg_parse_delivery(&p, n);
    if ((n = cfg_mget(&p, root, "history")) != NULL)
        cfg_parse_history(&p, n);
    if ((n = cfg_mget(&p, root, "web")) != NULL)
        cfg_parse_web(&p, n);
    if ((n = cfg_mget(&p, root, "http")) != NULL)
        cfg_parse_http(&p, n);
validate:
    /* The recorder reads the alert records where the consumers write them. */
    if (!p.history_topic_set && c->alerts_topic && *c->alerts_topic)
        c->history_alerts_topic = c->alerts_topic;
    if (c->nreceivers == 0)
        cfg_err(&p, root, "receivers: at least one receiver is needed to send alerts");
    if (c->default_receiver < 0 && c->nreceivers > 0)
        c->default_receiver = 0; /* the first receiver catches what no route matched */
    if (c->delivery.backoff_max_ms < c->delivery.backoff_initial_ms)
        cfg_err(&p, root, "delivery.backoff_max: shorter than delivery.backoff");
out:
    if (have_doc)
        yaml_document_delete(&doc);
    if (p.oom)
        cfg_err(&p, NULL, "out of memory");
    if (p.nerr > CONFIG_MAX_ERRORS && p.errlen + 40 < p.errsize)
        snprintf(errbuf + p.errlen, p.errsize - p.errlen, "... and %d more errors\n",
                 p.nerr - CONFIG_MAX_ERRORS);
    if (p.nerr) {
        config_free(c);
        return NULL;
    }
    return c;
}

struct config *config_load(const char *path, char *errbuf, size_t errbuf_size)
{
    char err[512];
    size_t len;
    char *text = util_read_file(path, CONFIG_MAX_BYTES, &len, err, sizeof(err));
    struct config *c;

    if (!text) {
        snprintf(errbuf, errbuf_size, "%s\n", err);
        return NULL;
    }
    c = config_parse(path, text, len, errbuf, errbuf_size);
    free(text);
    return c;
}

void config_free(struct config *c)
{
    if (!c)
        return;
    arena_free(c->arena);
    free(c->path);
    free(c);
}

char *config_history_dsn(const struct config *c, char *errstr, size_t errstr_size)
{
    char err[256];
    const char *v;
    size_t len;
    char *data;

    if (c->history_dsn)
        return strdup(c->history_dsn);
    if (c->history_dsn_env) {
        if (!(v = getenv(c->history_dsn_env)) || !*v) {
            snprintf(errstr, errstr_size,
                     "%s: history.dsn_env: environment variable %s is "
                     "not set",
                     c->path, c->history_dsn_env);
            return NULL;
        }
        return strdup(v);
    }
    if (c->history_dsn_file) {
        if (!(data = util_read_file(c->history_dsn_file, 64 * 1024, &len, err,
                                    sizeof(err)))) {
            snprintf(errstr, errstr_size, "%s: history.dsn_file: %s", c->path, err);
            return NULL;
        }
        while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
            data[--len] = '\0';
        return data;
    }
    snprintf(errstr, errstr_size,
             "%s: history.dsn (or dsn_env, dsn_file) is not set: the "
             "history lives in PostgreSQL",
             c->path);
    return NULL;
}

long config_receiver_index(const struct config *c, const char *name)
{
    for (size_t i = 0; i < c->nreceivers; i++)
        if (strcmp(c->receivers[i].name, name) == 0)
            return (long)i;
    return -1;
}
