/* config.c -- load and validate the YAML configuration (libyaml's document API, so
 * every node keeps the line it came from). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "util.h"

/* ---- arena: every string and array of a config, freed together ---- */

struct arena_blk {
    struct arena_blk *next;
    max_align_t data[];
};

static void *arena_alloc(void **arena, size_t size)
{
    struct arena_blk *b = calloc(1, sizeof(*b) + size);

    if (!b)
        return NULL;
    b->next = *arena;
    *arena = b;
    return b->data;
}

static char *arena_strdup(void **arena, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = arena_alloc(arena, n);

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

/* ---- parser state and error reporting ---- */

struct cfgp {
    const char *name;
    yaml_document_t *doc;
    struct config *c;
    char *errbuf;
    size_t errsize, errlen;
    int nerr;
    bool oom;
    bool history_topic_set; /* history.alerts_topic given: else kafka.alerts_topic */
};

__attribute__((format(printf, 3, 4))) static void
cerr(struct cfgp *p, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    int w;

    if (p->nerr++ >= CONFIG_MAX_ERRORS || p->errlen + 1 >= p->errsize)
        return;
    w = snprintf(p->errbuf + p->errlen, p->errsize - p->errlen, "%s:%lu: ", p->name,
                 n ? (unsigned long)n->start_mark.line + 1 : 0UL);
    if (w < 0 || (size_t)w >= p->errsize - p->errlen)
        goto full;
    p->errlen += (size_t)w;
    va_start(ap, fmt);
    w = vsnprintf(p->errbuf + p->errlen, p->errsize - p->errlen, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= p->errsize - p->errlen - 1)
        goto full;
    p->errlen += (size_t)w;
    p->errbuf[p->errlen++] = '\n';
    p->errbuf[p->errlen] = '\0';
    return;
full:
    p->errlen = p->errsize - 1;
    p->errbuf[p->errlen] = '\0';
}

static yaml_node_t *node(struct cfgp *p, int id)
{
    return yaml_document_get_node(p->doc, id);
}

static bool is_map(const yaml_node_t *n)
{
    return n && n->type == YAML_MAPPING_NODE;
}

static const char *sval(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *mget(struct cfgp *p, const yaml_node_t *map, const char *key)
{
    if (!is_map(map))
        return NULL;
    for (yaml_node_pair_t *kv = map->data.mapping.pairs.start;
         kv < map->data.mapping.pairs.top; kv++) {
        const char *k = sval(node(p, kv->key));
        if (k && strcmp(k, key) == 0)
            return node(p, kv->value);
    }
    return NULL;
}

/* Report keys of `map` not in `allowed` (NULL-terminated): a typo must not pass. */
static void check_keys(struct cfgp *p, const yaml_node_t *map, const char *path,
                       const char *const *allowed)
{
    if (!is_map(map))
        return;
    for (yaml_node_pair_t *kv = map->data.mapping.pairs.start;
         kv < map->data.mapping.pairs.top; kv++) {
        yaml_node_t *kn = node(p, kv->key);
        const char *k = sval(kn);
        const char *const *a;
        for (a = allowed; *a && (!k || strcmp(*a, k) != 0); a++)
            ;
        if (!*a) {
            char list[512] = "";
            size_t l = 0;
            for (a = allowed; *a && l < sizeof(list) - 1; a++) {
                int w = snprintf(list + l, sizeof(list) - l, "%s%s", l ? ", " : "", *a);
                if (w > 0)
                    l += (size_t)w;
            }
            cerr(p, kn, "%s%s: unknown key (expected one of: %s)", path, k ? k : "?",
                 list);
        }
    }
}

/* One key of a mapping, for finding duplicates. */
struct keyref {
    const char *key;
    const yaml_node_t *node; /* the key's node, for its line */
    unsigned long line;      /* 1-based */
};

static int keyref_cmp(const void *a, const void *b)
{
    const struct keyref *x = a, *y = b;
    int c = strcmp(x->key, y->key);

    if (c)
        return c;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* Report every key given twice in one mapping, anywhere in the document, with both
 * lines: lookups take the first and would silently ignore the second. Sorting keeps
 * this O(n log n) for a mapping of many keys. */
static void check_duplicates(struct cfgp *p)
{
    struct keyref *refs = NULL;
    size_t cap = 0;

    for (yaml_node_t *n = p->doc->nodes.start; n < p->doc->nodes.top; n++) {
        size_t cnt = 0, total;
        if (n->type != YAML_MAPPING_NODE)
            continue;
        total = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
        if (total < 2)
            continue;
        if (total > cap) {
            struct keyref *r = realloc(refs, total * sizeof(*refs));
            if (!r) {
                p->oom = true;
                break;
            }
            refs = r;
            cap = total;
        }
        for (yaml_node_pair_t *kv = n->data.mapping.pairs.start;
             kv < n->data.mapping.pairs.top; kv++) {
            yaml_node_t *kn = node(p, kv->key);
            if (sval(kn))
                refs[cnt++] =
                    (struct keyref){sval(kn), kn, (unsigned long)kn->start_mark.line + 1};
        }
        qsort(refs, cnt, sizeof(*refs), keyref_cmp);
        for (size_t i = 1; i < cnt; i++) {
            size_t first = i - 1;
            if (strcmp(refs[first].key, refs[i].key) != 0)
                continue;
            while (first > 0 && strcmp(refs[first - 1].key, refs[i].key) == 0)
                first--;
            cerr(
                p, refs[i].node,
                "duplicate key \"%.80s\": given at lines %lu and %lu (a key may be given "
                "once; remove one)",
                refs[i].key, refs[first].line, refs[i].line);
        }
    }
    free(refs);
}

static const char *dup(struct cfgp *p, const char *s)
{
    const char *d = arena_strdup(&p->c->arena, s);

    if (!d)
        p->oom = true;
    return d;
}

/* A scalar at map[key] (NULL if absent; error if not a scalar). */
static const char *get_scalar(struct cfgp *p, const yaml_node_t *map, const char *key,
                              const char *path)
{
    yaml_node_t *n = mget(p, map, key);

    if (!n)
        return NULL;
    if (!sval(n)) {
        cerr(p, n, "%s%s: expected a single value", path, key);
        return NULL;
    }
    return sval(n);
}

static void get_string(struct cfgp *p, const yaml_node_t *map, const char *key,
                       const char *path, const char **out)
{
    const char *v = get_scalar(p, map, key, path);

    if (v)
        *out = dup(p, v);
}

static void get_int(struct cfgp *p, const yaml_node_t *map, const char *key,
                    const char *path, long long min, long long max, int *out)
{
    const char *v = get_scalar(p, map, key, path);
    long long ll;

    if (!v)
        return;
    if (util_parse_int(v, min, max, &ll) < 0)
        cerr(p, mget(p, map, key),
             "%s%s: expected an integer from %lld to %lld, got \"%s\"", path, key, min,
             max, v);
    else
        *out = (int)ll;
}

static void get_duration(struct cfgp *p, const yaml_node_t *map, const char *key,
                         const char *path, int64_t min_ms, int64_t *out)
{
    const char *v = get_scalar(p, map, key, path);
    int64_t ms;

    if (!v)
        return;
    if (util_parse_duration(v, &ms) < 0)
        cerr(p, mget(p, map, key),
             "%s%s: not a duration: \"%s\" (use e.g. 500ms, 30s, 15m, 2h)", path, key, v);
    else if (ms < min_ms)
        cerr(p, mget(p, map, key), "%s%s: must be at least %lld ms", path, key,
             (long long)min_ms);
    else
        *out = ms;
}

static void get_bool(struct cfgp *p, const yaml_node_t *map, const char *key,
                     const char *path, bool *out)
{
    const char *v = get_scalar(p, map, key, path);

    if (!v)
        return;
    if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
        *out = true;
    else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
        *out = false;
    else
        cerr(p, mget(p, map, key), "%s%s: expected true or false, got \"%s\"", path, key,
             v);
}

/* A list of scalars; a single scalar counts as a one-element list. */
static void get_list(struct cfgp *p, const yaml_node_t *n, const char *what,
                     struct strlist *out)
{
    const char **v;
    size_t cnt = 0;

    out->v = NULL;
    out->n = 0;
    if (!n)
        return;
    if (sval(n)) {
        v = arena_alloc(&p->c->arena, sizeof(*v));
        if (!v || !(v[0] = dup(p, sval(n)))) {
            p->oom = true;
            return;
        }
        out->v = v;
        out->n = 1;
        return;
    }
    if (n->type != YAML_SEQUENCE_NODE) {
        cerr(p, n, "%s: expected a value or a list of values", what);
        return;
    }
    size_t total = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (total > CONFIG_MAX_LIST) {
        cerr(p, n, "%s: more than %d entries", what, CONFIG_MAX_LIST);
        return;
    }
    v = arena_alloc(&p->c->arena, (total ? total : 1) * sizeof(*v));
    if (!v) {
        p->oom = true;
        return;
    }
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++) {
        yaml_node_t *e = node(p, *it);
        if (!sval(e)) {
            cerr(p, e, "%s: entries must be single values", what);
            continue;
        }
        v[cnt++] = dup(p, sval(e));
    }
    out->v = v;
    out->n = cnt;
}

/* A secret: `key`, `key_env` or `key_file`, at most one. Returns the value or NULL. */
static const char *get_secret(struct cfgp *p, const yaml_node_t *map, const char *key,
                              const char *path)
{
    char k_env[CONFIG_MAX_KEY + 8], k_file[CONFIG_MAX_KEY + 8], err[256];
    const char *inl, *env, *file, *v = NULL;
    int given, we, wf;

    /* Keys are this file's names or kafka.properties keys, both at most
     * CONFIG_MAX_KEY bytes; a cut name would look up another key, so refuse it. */
    we = snprintf(k_env, sizeof(k_env), "%s_env", key);
    wf = snprintf(k_file, sizeof(k_file), "%s_file", key);
    if (we < 0 || wf < 0 || (size_t)we >= sizeof(k_env) || (size_t)wf >= sizeof(k_file)) {
        cerr(p, map, "%s%.40s...: key longer than %d bytes", path, key, CONFIG_MAX_KEY);
        return NULL;
    }
    inl = get_scalar(p, map, key, path);
    env = get_scalar(p, map, k_env, path);
    file = get_scalar(p, map, k_file, path);
    given = !!inl + !!env + !!file;
    if (given > 1) {
        cerr(p, mget(p, map, key) ? mget(p, map, key) : mget(p, map, k_env),
             "%s%s: give only one of %s, %s, %s", path, key, key, k_env, k_file);
        return NULL;
    }
    if (inl)
        return dup(p, inl);
    if (env) {
        if (!(v = getenv(env)) || !*v) {
            cerr(p, mget(p, map, k_env), "%s%s: environment variable %s is not set", path,
                 k_env, env);
            return NULL;
        }
        return dup(p, v);
    }
    if (file) {
        size_t len;
        char *data = util_read_file(file, 64 * 1024, &len, err, sizeof(err));
        if (!data) {
            cerr(p, mget(p, map, k_file), "%s%s: %s", path, k_file, err);
            return NULL;
        }
        while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
            data[--len] = '\0';
        v = dup(p, data);
        free(data);
        return v;
    }
    return NULL;
}

/* ---- sections ---- */

static void parse_kafka(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"brokers",           "topic",        "group",
                                       "dead_letter_topic", "alerts_topic", "batch_size",
                                       "batch_wait",        "properties",   NULL};
    struct config *c = p->c;
    yaml_node_t *props;

    check_keys(p, m, "kafka.", keys);
    get_string(p, m, "brokers", "kafka.", &c->brokers);
    get_string(p, m, "topic", "kafka.", &c->topic);
    get_string(p, m, "group", "kafka.", &c->group);
    get_string(p, m, "dead_letter_topic", "kafka.", &c->dead_letter_topic);
    get_string(p, m, "alerts_topic", "kafka.", &c->alerts_topic);
    get_int(p, m, "batch_size", "kafka.", 1, 10000, &c->batch_size);
    get_duration(p, m, "batch_wait", "kafka.", 1, &c->batch_wait_ms);
    props = mget(p, m, "properties");
    if (!props)
        return;
    if (!is_map(props)) {
        cerr(p, props, "kafka.properties: expected a mapping of librdkafka settings");
        return;
    }
    size_t n = (size_t)(props->data.mapping.pairs.top - props->data.mapping.pairs.start);
    c->kafka_props = arena_alloc(&c->arena, (n ? n : 1) * sizeof(struct kv));
    if (!c->kafka_props) {
        p->oom = true;
        return;
    }
    for (yaml_node_pair_t *kv = props->data.mapping.pairs.start;
         kv < props->data.mapping.pairs.top; kv++) {
        const char *k = sval(node(p, kv->key)), *v;
        char base[CONFIG_MAX_KEY + 1];
        size_t kl;
        if (!k || !sval(node(p, kv->value))) {
            cerr(p, node(p, kv->key),
                 "kafka.properties: keys and values must be strings");
            continue;
        }
        /* librdkafka's names are short: a longer key is a mistake, never cut. */
        kl = strlen(k);
        if (kl > CONFIG_MAX_KEY) {
            cerr(p, node(p, kv->key),
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
        v = strcmp(base, k) != 0 ? get_secret(p, props, base, "kafka.properties.")
                                 : dup(p, sval(node(p, kv->value)));
        if (!v)
            continue;
        c->kafka_props[c->nkafka_props].key = dup(p, base);
        c->kafka_props[c->nkafka_props++].value = v;
    }
}

static void parse_redis(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {
        "host",          "port",       "db",      "password",       "password_env",
        "password_file", "key_prefix", "timeout", "on_unavailable", NULL};
    struct config *c = p->c;

    check_keys(p, m, "redis.", keys);
    get_string(p, m, "host", "redis.", &c->redis_host);
    get_int(p, m, "port", "redis.", 1, 65535, &c->redis_port);
    get_int(p, m, "db", "redis.", 0, 1000, &c->redis_db);
    get_string(p, m, "key_prefix", "redis.", &c->key_prefix);
    get_duration(p, m, "timeout", "redis.", 10, &c->redis_timeout_ms);
    c->redis_password = get_secret(p, m, "password", "redis.");
    const char *ou = get_scalar(p, m, "on_unavailable", "redis.");
    if (ou && strcmp(ou, "wait") != 0 && strcmp(ou, "alert") != 0)
        cerr(
            p, mget(p, m, "on_unavailable"),
            "redis.on_unavailable: \"%s\" is not wait (fail closed) or alert (fail open)",
            ou);
    else if (ou)
        c->redis_fail_open = strcmp(ou, "alert") == 0;
}

/* dedup.reminders: [1h, 4h, 24h] -- the last interval repeats. */
static void parse_reminders(struct cfgp *p, const yaml_node_t *n)
{
    struct config *c = p->c;
    struct strlist l;

    get_list(p, n, "dedup.reminders", &l);
    if (l.n == 0 || l.n > CONFIG_MAX_REMINDERS) {
        cerr(p, n, "dedup.reminders: expected 1 to %d durations", CONFIG_MAX_REMINDERS);
        return;
    }
    for (size_t i = 0; i < l.n; i++) {
        int64_t ms;
        if (util_parse_duration(l.v[i], &ms) < 0 || ms < 60000) {
            cerr(p, n, "dedup.reminders: \"%s\" is not a duration of at least 1m",
                 l.v[i]);
            return;
        }
        c->reminders_ms[i] = ms;
    }
    c->nreminders = l.n;
    c->window_ms = c->reminders_ms[0];
}

static void parse_dedup(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"window", "reminders", "failures_to_alert",
                                       "alert_states", NULL};
    /* States that mean a run failed: success or a state of a run still going is a
     * mistake that would turn every run into an alert. */
    static const char *const states[] = {"failure", "error", "aborted", NULL};
    struct config *c = p->c;
    yaml_node_t *n;

    check_keys(p, m, "dedup.", keys);
    if (mget(p, m, "window") && mget(p, m, "reminders"))
        cerr(p, mget(p, m, "window"),
             "dedup.window: give reminders or window, not both "
             "(window is the first reminder interval)");
    get_duration(p, m, "window", "dedup.", 60000, &c->window_ms);
    if (mget(p, m, "window")) {
        c->reminders_ms[0] = c->window_ms;
        c->nreminders = 1;
    }
    if ((n = mget(p, m, "reminders")) != NULL)
        parse_reminders(p, n);
    get_int(p, m, "failures_to_alert", "dedup.", 1, 1000, &c->failures_to_alert);
    if ((n = mget(p, m, "alert_states")) != NULL) {
        get_list(p, n, "dedup.alert_states", &c->alert_states);
        if (c->alert_states.n == 0)
            cerr(p, n,
                 "dedup.alert_states: list at least one state (failure, error, aborted)");
        for (size_t i = 0; i < c->alert_states.n; i++) {
            const char *const *s;
            for (s = states; *s && strcmp(*s, c->alert_states.v[i]) != 0; s++)
                ;
            if (!*s)
                cerr(p, n,
                     "dedup.alert_states: \"%s\" is not a state of a failed run "
                     "(failure, error, aborted)",
                     c->alert_states.v[i]);
        }
    }
}

/* watermark: { idle_timeout } */
static void parse_watermark(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"idle_timeout", NULL};

    check_keys(p, m, "watermark.", keys);
    get_duration(p, m, "idle_timeout", "watermark.", 1000, &p->c->wm_idle_ms);
}

static long release_index(const struct config *c, const char *stage)
{
    for (size_t i = 0; i < c->nrelease_stages; i++)
        if (strcmp(c->release_stages[i].stage, stage) == 0)
            return (long)i;
    return -1;
}

/* release: { stages: [{stage, after}], hold, stall_timeout } */
static void parse_release(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"stages", "hold", "stall_timeout", NULL};
    static const char *const skeys[] = {"stage", "after", NULL};
    struct config *c = p->c;
    yaml_node_t *n;

    check_keys(p, m, "release.", keys);
    get_duration(p, m, "hold", "release.", 0, &c->release_hold_ms);
    get_duration(p, m, "stall_timeout", "release.", 0, &c->stall_ms);
    if (!(n = mget(p, m, "stages")))
        return;
    size_t cnt = n->type == YAML_SEQUENCE_NODE
                     ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
                     : 0;
    struct release_stage *r;
    if (n->type != YAML_SEQUENCE_NODE || cnt > CLASSIFY_MAX_RULES) {
        cerr(p, n, "release.stages: expected a list of {stage, after} (at most %d)",
             CLASSIFY_MAX_RULES);
        return;
    }
    if (!(r = arena_alloc(&c->arena, (cnt ? cnt : 1) * sizeof(*r)))) {
        p->oom = true;
        return;
    }
    c->release_stages = r;
    c->nrelease_stages = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++) {
        yaml_node_t *e = node(p, *it);
        const char *name = get_scalar(p, e, "stage", "release.stages[].");
        struct strlist after;
        check_keys(p, e, "release.stages[].", skeys);
        get_list(p, mget(p, e, "after"), "release.stages[].after", &after);
        if (!is_map(e) || !name) {
            cerr(p, e, "release.stages[]: each entry needs a stage");
            continue;
        }
        if (release_index(c, name) >= 0) {
            cerr(p, e, "release.stages[]: stage \"%s\" listed twice", name);
            continue;
        }
        for (size_t i = 0; i < after.n; i++)
            if (release_index(c, after.v[i]) < 0)
                cerr(p, e,
                     "release.stages[].after: \"%s\" is not listed before \"%s\" "
                     "(list a stage after the stages it waits for)",
                     after.v[i], name);
        r[c->nrelease_stages++] = (struct release_stage){dup(p, name), after.v, after.n};
    }
}

/* ecosystem: { services, window, hold, stages, receiver }, or `ecosystem: off`. */
static void parse_ecosystem(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"enabled", "services", "window", "hold",
                                       "stages",  "receiver", NULL};
    struct config *c = p->c;
    yaml_node_t *n;

    check_keys(p, m, "ecosystem.", keys);
    get_bool(p, m, "enabled", "ecosystem.", &c->eco_on);
    get_int(p, m, "services", "ecosystem.", 2, 100000, &c->eco_services);
    get_duration(p, m, "window", "ecosystem.", 1000, &c->eco_window_ms);
    get_duration(p, m, "hold", "ecosystem.", 0, &c->eco_hold_ms);
    if ((n = mget(p, m, "stages")) != NULL)
        get_list(p, n, "ecosystem.stages", &c->eco_stages);
    const char *rcv = get_scalar(p, m, "receiver", "ecosystem.");
    if (rcv && (c->eco_receiver = config_receiver_index(c, rcv)) < 0)
        cerr(p, mget(p, m, "receiver"), "ecosystem.receiver: no receiver named \"%s\"",
             rcv);
}

/* storm: { rate, burst } */
static void parse_storm(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"rate", "burst", NULL};
    struct config *c = p->c;
    const char *v;
    double d;

    check_keys(p, m, "storm.", keys);
    if ((v = get_scalar(p, m, "rate", "storm.")) != NULL) {
        if (util_parse_double(v, &d) < 0 || !(d >= 0.01 && d <= 1000))
            cerr(p, mget(p, m, "rate"),
                 "storm.rate: expected messages per second from 0.01 to 1000, got \"%s\"",
                 v);
        else
            c->storm_rate = d;
    }
    get_int(p, m, "burst", "storm.", 1, 1000, &c->storm_burst);
}

static void parse_classify(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"stages", "tiers", NULL};
    static const char *const skeys[] = {"name", "jobs", NULL};
    static const char *const tkeys[] = {"tier", "stages", "types", NULL};
    struct config *c = p->c;
    yaml_node_t *n;

    check_keys(p, m, "classify.", keys);
    if ((n = mget(p, m, "stages")) != NULL) {
        size_t cnt =
            n->type == YAML_SEQUENCE_NODE
                ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
                : 0;
        struct stage_rule *r;
        if (n->type != YAML_SEQUENCE_NODE || cnt > CLASSIFY_MAX_RULES) {
            cerr(p, n, "classify.stages: expected a list of {name, jobs} (at most %d)",
                 CLASSIFY_MAX_RULES);
            return;
        }
        r = arena_alloc(&c->arena, (cnt ? cnt : 1) * sizeof(*r));
        if (!r) {
            p->oom = true;
            return;
        }
        c->classify.stages = r;
        c->classify.nstages = 0;
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             it < n->data.sequence.items.top; it++) {
            yaml_node_t *e = node(p, *it);
            struct strlist jobs;
            const char *name = get_scalar(p, e, "name", "classify.stages[].");
            check_keys(p, e, "classify.stages[].", skeys);
            get_list(p, mget(p, e, "jobs"), "classify.stages[].jobs", &jobs);
            if (!is_map(e) || !name || jobs.n == 0) {
                cerr(p, e, "classify.stages[]: each stage needs a name and jobs");
                continue;
            }
            r[c->classify.nstages].name = dup(p, name);
            r[c->classify.nstages].jobs = jobs.v;
            r[c->classify.nstages++].njobs = jobs.n;
        }
    }
    if ((n = mget(p, m, "tiers")) != NULL) {
        size_t cnt =
            n->type == YAML_SEQUENCE_NODE
                ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
                : 0;
        struct tier_rule *r;
        if (n->type != YAML_SEQUENCE_NODE || cnt > CLASSIFY_MAX_RULES) {
            cerr(p, n, "classify.tiers: expected a list of {tier, stages, types}");
            return;
        }
        r = arena_alloc(&c->arena, (cnt ? cnt : 1) * sizeof(*r));
        if (!r) {
            p->oom = true;
            return;
        }
        c->classify.tiers = r;
        c->classify.ntiers = 0;
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             it < n->data.sequence.items.top; it++) {
            yaml_node_t *e = node(p, *it);
            const char *t = get_scalar(p, e, "tier", "classify.tiers[].");
            struct strlist st, ty;
            check_keys(p, e, "classify.tiers[].", tkeys);
            if (!t || tier_parse(t) < 0) {
                cerr(p, e, "classify.tiers[].tier: expected critical, warning or info");
                continue;
            }
            get_list(p, mget(p, e, "stages"), "classify.tiers[].stages", &st);
            get_list(p, mget(p, e, "types"), "classify.tiers[].types", &ty);
            r[c->classify.ntiers++] =
                (struct tier_rule){(enum tier)tier_parse(t), st.v, st.n, ty.v, ty.n};
        }
    }
}

static void parse_receivers(struct cfgp *p, const yaml_node_t *n)
{
    static const char *const keys[] = {"name",       "type",     "channel", "url",
                                       "url_env",    "url_file", "token",   "token_env",
                                       "token_file", NULL};
    struct config *c = p->c;
    size_t cnt;

    if (n->type != YAML_SEQUENCE_NODE) {
        cerr(p, n, "receivers: expected a list");
        return;
    }
    cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt > CONFIG_MAX_LIST) {
        cerr(p, n, "receivers: more than %d", CONFIG_MAX_LIST);
        return;
    }
    c->receivers = arena_alloc(&c->arena, (cnt ? cnt : 1) * sizeof(struct receiver));
    if (!c->receivers) {
        p->oom = true;
        return;
    }
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++) {
        yaml_node_t *e = node(p, *it);
        struct receiver *r = &c->receivers[c->nreceivers];
        const char *name = get_scalar(p, e, "name", "receivers[].");
        const char *type = get_scalar(p, e, "type", "receivers[].");
        const char *ch = get_scalar(p, e, "channel", "receivers[].");
        char path[160];

        if (!is_map(e) || !name || !*name) {
            cerr(p, e, "receivers[]: each receiver needs a name");
            continue;
        }
        snprintf(path, sizeof(path), "receivers[%s].", name);
        check_keys(p, e, path, keys);
        for (const char *q = name; *q; q++)
            if (*q == '#' || (unsigned char)*q < 0x20 || *q == 0x7f) {
                cerr(p, e, "%sname: no '#' or control characters in a receiver name",
                     path);
                break;
            }
        if (config_receiver_index(c, name) >= 0)
            cerr(p, e, "%sname: defined twice", path);
        r->name = dup(p, name);
        r->channel = ch ? dup(p, ch) : NULL;
        if (!type || strcmp(type, "webhook") == 0) {
            int before = p->nerr;
            r->type = RECEIVER_WEBHOOK;
            r->url = get_secret(p, e, "url", path);
            if (!r->url && p->nerr == before) /* get_secret said nothing yet */
                cerr(p, e, "%surl: a webhook receiver needs url, url_env or url_file",
                     path);
        } else if (strcmp(type, "webapi") == 0) {
            r->type = RECEIVER_WEBAPI;
            r->url = get_secret(p, e, "url", path);
            if (!r->url)
                r->url = dup(p, "https://slack.com/api");
            r->token = get_secret(p, e, "token", path);
            if (!r->token)
                cerr(p, e,
                     "%stoken: a webapi receiver needs token, token_env or token_file",
                     path);
            if (!r->channel)
                cerr(p, e, "%schannel: a webapi receiver needs a channel", path);
        } else {
            cerr(p, mget(p, e, "type"), "%stype: \"%s\" is not webhook or webapi", path,
                 type);
            continue;
        }
        if (r->channel && strchr(r->channel, '{') &&
            (r->type != RECEIVER_WEBAPI || util_template_check(r->channel) < 0))
            cerr(p, mget(p, e, "channel"),
                 "%schannel: \"%s\": a channel template needs type "
                 "webapi and only {service}, {stage}, {repo} or {org}",
                 path, r->channel);
        if (r->url && strncmp(r->url, "http://", 7) != 0 &&
            strncmp(r->url, "https://", 8) != 0)
            cerr(p, e, "%surl: must start with http:// or https://", path);
        c->nreceivers++;
    }
}

static void parse_routes(struct cfgp *p, const yaml_node_t *n)
{
    static const char *const keys[] = {"match", "receivers", "continue", "drop", NULL};
    struct config *c = p->c;
    size_t cnt;

    if (n->type != YAML_SEQUENCE_NODE) {
        cerr(p, n, "routes: expected a list");
        return;
    }
    cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt > CONFIG_MAX_LIST) {
        cerr(p, n, "routes: more than %d", CONFIG_MAX_LIST);
        return;
    }
    c->routes = arena_alloc(&c->arena, (cnt ? cnt : 1) * sizeof(struct route));
    if (!c->routes) {
        p->oom = true;
        return;
    }
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++) {
        yaml_node_t *e = node(p, *it), *m, *rn;
        struct route *r = &c->routes[c->nroutes];
        struct strlist names;

        if (!is_map(e)) {
            cerr(p, e, "routes[]: expected a mapping with match and receivers");
            continue;
        }
        check_keys(p, e, "routes[].", keys);
        r->line = (int)e->start_mark.line + 1;
        r->cont = true;
        get_bool(p, e, "continue", "routes[].", &r->cont);
        if ((m = mget(p, e, "match")) != NULL) {
            if (!is_map(m)) {
                cerr(p, m, "routes[].match: expected a mapping of field: glob(s)");
                continue;
            }
            for (yaml_node_pair_t *kv = m->data.mapping.pairs.start;
                 kv < m->data.mapping.pairs.top; kv++) {
                const char *k = sval(node(p, kv->key));
                int f = k ? field_parse(k) : -1;
                if (f < 0) {
                    cerr(p, node(p, kv->key),
                         "routes[].match.%s: unknown field (expected service, repo, job, "
                         "stage, type, tier, state, org, base_ref)",
                         k ? k : "?");
                    continue;
                }
                get_list(p, node(p, kv->value), "routes[].match", &r->match[f]);
            }
        }
        rn = mget(p, e, "receivers");
        get_list(p, rn, "routes[].receivers", &names);
        get_bool(p, e, "drop", "routes[].", &r->drop);
        if (r->drop && names.n > 0) {
            cerr(p, e, "routes[]: drop: true and receivers contradict each other");
            continue;
        }
        if (names.n == 0 && !r->drop && !(rn && rn->type == YAML_SEQUENCE_NODE)) {
            cerr(p, e,
                 "routes[].receivers: a route needs receivers, or receivers: [] / "
                 "drop: true to drop what it matches");
            continue;
        }
        if (names.n == 0) {
            r->drop = true; /* receivers: [] */
            r->cont = false;
            c->nroutes++;
            continue;
        }
        r->receivers = arena_alloc(&c->arena, names.n * sizeof(size_t));
        if (!r->receivers) {
            p->oom = true;
            return;
        }
        for (size_t i = 0; i < names.n; i++) {
            long idx = config_receiver_index(c, names.v[i]);
            if (idx < 0)
                cerr(p, rn, "routes[].receivers: no receiver named \"%s\"", names.v[i]);
            else
                r->receivers[r->nreceivers++] = (size_t)idx;
        }
        c->nroutes++;
    }
}

static void parse_delivery(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"timeout",          "max_attempts",
                                       "backoff",          "backoff_max",
                                       "give_up_after",    "retry_after_max",
                                       "parallel",         "fallback_receiver",
                                       "shutdown_timeout", NULL};
    struct deliver_opts *d = &p->c->delivery;

    check_keys(p, m, "delivery.", keys);
    get_duration(p, m, "timeout", "delivery.", 10, &d->timeout_ms);
    get_int(p, m, "max_attempts", "delivery.", 1, 100, &d->max_attempts);
    get_duration(p, m, "backoff", "delivery.", 1, &d->backoff_initial_ms);
    get_duration(p, m, "backoff_max", "delivery.", 1, &d->backoff_max_ms);
    get_duration(p, m, "give_up_after", "delivery.", 10, &d->give_up_ms);
    get_duration(p, m, "retry_after_max", "delivery.", 0, &d->retry_after_max_ms);
    get_int(p, m, "parallel", "delivery.", 1, 64, &d->max_parallel);
    get_duration(p, m, "shutdown_timeout", "delivery.", 0, &d->shutdown_ms);
    const char *fb = get_scalar(p, m, "fallback_receiver", "delivery.");
    if (fb && (p->c->fallback_receiver = config_receiver_index(p->c, fb)) < 0)
        cerr(p, mget(p, m, "fallback_receiver"),
             "delivery.fallback_receiver: no receiver named \"%s\"", fb);
}

/* history: { dsn | dsn_env | dsn_file, group, alerts_topic, listen, batch_size,
 * refresh } -- herald-recorder and herald-web (docs/dashboard.md). */
static void parse_history(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"dsn",        "dsn_env",      "dsn_file",
                                       "group",      "alerts_topic", "listen",
                                       "batch_size", "refresh",      NULL};
    static const char *const dsn_keys[] = {"dsn", "dsn_env", "dsn_file"};
    struct config *c = p->c;
    const char **dst[] = {&c->history_dsn, &c->history_dsn_env, &c->history_dsn_file};
    int given = 0;

    check_keys(p, m, "history.", keys);
    /* Kept as written: resolved by the recorder and herald-web only. */
    for (size_t i = 0; i < 3; i++) {
        get_string(p, m, dsn_keys[i], "history.", dst[i]);
        if (*dst[i] && !**dst[i]) {
            cerr(p, mget(p, m, dsn_keys[i]), "history.%s: must not be empty",
                 dsn_keys[i]);
            *dst[i] = NULL;
        }
        given += *dst[i] != NULL;
    }
    if (given > 1)
        cerr(p, m, "history.dsn: give only one of dsn, dsn_env, dsn_file");
    get_string(p, m, "group", "history.", &c->history_group);
    get_string(p, m, "alerts_topic", "history.", &c->history_alerts_topic);
    p->history_topic_set = mget(p, m, "alerts_topic") != NULL;
    get_string(p, m, "listen", "history.", &c->history_listen);
    get_int(p, m, "batch_size", "history.", 1, 5000, &c->history_batch_size);
    get_duration(p, m, "refresh", "history.", 100, &c->history_refresh_ms);
    if (c->history_group && !*c->history_group)
        cerr(p, mget(p, m, "group"), "history.group: must not be empty");
}

/* web: { listen, public_url, deck_url, slack_url, release_window } -- herald-web. */
static void parse_web(struct cfgp *p, const yaml_node_t *m)
{
    static const char *const keys[] = {"listen",    "public_url",     "deck_url",
                                       "slack_url", "release_window", NULL};
    static const char *const urls[] = {"public_url", "deck_url", "slack_url"};
    struct config *c = p->c;
    const char **dst[] = {&c->web_public_url, &c->web_deck_url, &c->web_slack_url};

    check_keys(p, m, "web.", keys);
    get_string(p, m, "listen", "web.", &c->web_listen);
    get_duration(p, m, "release_window", "web.", 60 * 1000, &c->web_release_window_ms);
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        const char *v = get_scalar(p, m, urls[i], "web.");
        size_t l;
        if (!v)
            continue;
        if (*v && strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
            cerr(p, mget(p, m, urls[i]), "web.%s: must start with http:// or https://",
                 urls[i]);
            continue;
        }
        /* Links are built as <url>/release/...: drop trailing slashes. */
        char *d = arena_strdup(&c->arena, v);
        if (!d) {
            p->oom = true;
            return;
        }
        for (l = strlen(d); l > 0 && d[l - 1] == '/'; l--)
            d[l - 1] = '\0';
        *dst[i] = d;
    }
    if (c->web_listen && !*c->web_listen)
        cerr(p, mget(p, m, "listen"), "web.listen: must not be empty");
}

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
        cerr(&p, NULL, "cannot initialise the YAML parser");
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
    if (!is_map(root)) {
        cerr(&p, root,
             "the top level must be a mapping (kafka:, redis:, receivers:, ...)");
        goto out;
    }
    check_duplicates(&p);
    check_keys(&p, root, "", top);
    if ((n = mget(&p, root, "kafka")) != NULL)
        parse_kafka(&p, n);
    if ((n = mget(&p, root, "redis")) != NULL)
        parse_redis(&p, n);
    if ((n = mget(&p, root, "dedup")) != NULL)
        parse_dedup(&p, n);
    if ((n = mget(&p, root, "classify")) != NULL)
        parse_classify(&p, n);
    if ((n = mget(&p, root, "release")) != NULL)
        parse_release(&p, n);
    if ((n = mget(&p, root, "receivers")) != NULL)
        parse_receivers(&p, n);
    if ((n = mget(&p, root, "ecosystem")) != NULL)
        parse_ecosystem(&p, n);
    if ((n = mget(&p, root, "storm")) != NULL)
        parse_storm(&p, n);
    if ((n = mget(&p, root, "watermark")) != NULL)
        parse_watermark(&p, n);
    if ((n = mget(&p, root, "routes")) != NULL)
        parse_routes(&p, n);
    else
        set_default_routes(c);
    if ((n = mget(&p, root, "default_receiver")) != NULL) {
        c->default_receiver = sval(n) ? config_receiver_index(c, sval(n)) : -1;
        if (c->default_receiver < 0)
            cerr(&p, n, "default_receiver: no receiver named \"%s\"",
                 sval(n) ? sval(n) : "?");
    }
    if ((n = mget(&p, root, "delivery")) != NULL)
        parse_delivery(&p, n);
    if ((n = mget(&p, root, "history")) != NULL)
        parse_history(&p, n);
    if ((n = mget(&p, root, "web")) != NULL)
        parse_web(&p, n);
    if ((n = mget(&p, root, "http")) != NULL) {
        static const char *const hkeys[] = {"listen", NULL};
        check_keys(&p, n, "http.", hkeys);
        get_string(&p, n, "listen", "http.", &c->http_listen);
    }
validate:
    /* The recorder reads the alert records where the consumers write them. */
    if (!p.history_topic_set && c->alerts_topic && *c->alerts_topic)
        c->history_alerts_topic = c->alerts_topic;
    if (c->nreceivers == 0)
        cerr(&p, root, "receivers: at least one receiver is needed to send alerts");
    if (c->default_receiver < 0 && c->nreceivers > 0)
        c->default_receiver = 0; /* the first receiver catches what no route matched */
    if (c->delivery.backoff_max_ms < c->delivery.backoff_initial_ms)
        cerr(&p, root, "delivery.backoff_max: shorter than delivery.backoff");
out:
    if (have_doc)
        yaml_document_delete(&doc);
    if (p.oom)
        cerr(&p, NULL, "out of memory");
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
