/* config_yaml.c -- reading the configuration's YAML document: errors with their line,
 * unknown and duplicate keys, typed values, lists and secrets (config_int.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config.h"
#include "config_int.h"
#include "util.h"

/* ---- errors and the document ---- */

void cfg_err(struct cfgp *p, const yaml_node_t *n, const char *fmt, ...)
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

yaml_node_t *cfg_node(struct cfgp *p, int id)
{
    return yaml_document_get_node(p->doc, id);
}

bool cfg_is_map(const yaml_node_t *n)
{
    return n && n->type == YAML_MAPPING_NODE;
}

const char *cfg_sval(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

yaml_node_t *cfg_mget(struct cfgp *p, const yaml_node_t *map, const char *key)
{
    if (!cfg_is_map(map))
        return NULL;
    for (yaml_node_pair_t *kv = map->data.mapping.pairs.start;
         kv < map->data.mapping.pairs.top; kv++) {
        const char *k = cfg_sval(cfg_node(p, kv->key));
        if (k && strcmp(k, key) == 0)
            return cfg_node(p, kv->value);
    }
    return NULL;
}

/* Report keys of `map` not in `allowed` (NULL-terminated): a typo must not pass. */
void cfg_check_keys(struct cfgp *p, const yaml_node_t *map, const char *path,
                    const char *const *allowed)
{
    if (!cfg_is_map(map))
        return;
    for (yaml_node_pair_t *kv = map->data.mapping.pairs.start;
         kv < map->data.mapping.pairs.top; kv++) {
        yaml_node_t *kn = cfg_node(p, kv->key);
        const char *k = cfg_sval(kn);
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
            cfg_err(p, kn, "%s%s: unknown key (expected one of: %s)", path, k ? k : "?",
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
void cfg_check_duplicates(struct cfgp *p)
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
            yaml_node_t *kn = cfg_node(p, kv->key);
            if (cfg_sval(kn))
                refs[cnt++] = (struct keyref){cfg_sval(kn), kn,
                                              (unsigned long)kn->start_mark.line + 1};
        }
        qsort(refs, cnt, sizeof(*refs), keyref_cmp);
        for (size_t i = 1; i < cnt; i++) {
            size_t first = i - 1;
            if (strcmp(refs[first].key, refs[i].key) != 0)
                continue;
            while (first > 0 && strcmp(refs[first - 1].key, refs[i].key) == 0)
                first--;
            cfg_err(
                p, refs[i].node,
                "duplicate key \"%.80s\": given at lines %lu and %lu (a key may be given "
                "once; remove one)",
                refs[i].key, refs[first].line, refs[i].line);
        }
    }
    free(refs);
}

const char *cfg_dup(struct cfgp *p, const char *s)
{
    const char *d = cfg_strdup(&p->c->arena, s);

    if (!d)
        p->oom = true;
    return d;
}

/* A scalar at map[key] (NULL if absent; error if not a scalar). */
const char *cfg_get_scalar(struct cfgp *p, const yaml_node_t *map, const char *key,
                           const char *path)
{
    yaml_node_t *n = cfg_mget(p, map, key);

    if (!n)
        return NULL;
    if (!cfg_sval(n)) {
        cfg_err(p, n, "%s%s: expected a single value", path, key);
        return NULL;
    }
    return cfg_sval(n);
}

void cfg_get_string(struct cfgp *p, const yaml_node_t *map, const char *key,
                    const char *path, const char **out)
{
    const char *v = cfg_get_scalar(p, map, key, path);

    if (v)
        *out = cfg_dup(p, v);
}

void cfg_get_int(struct cfgp *p, const yaml_node_t *map, const char *key,
                 const char *path, long long min, long long max, int *out)
{
    const char *v = cfg_get_scalar(p, map, key, path);
    long long ll;

    if (!v)
        return;
    if (util_parse_int(v, min, max, &ll) < 0)
        cfg_err(p, cfg_mget(p, map, key),
                "%s%s: expected an integer from %lld to %lld, got \"%s\"", path, key, min,
                max, v);
    else
        *out = (int)ll;
}

void cfg_get_duration(struct cfgp *p, const yaml_node_t *map, const char *key,
                      const char *path, int64_t min_ms, int64_t *out)
{
    const char *v = cfg_get_scalar(p, map, key, path);
    int64_t ms;

    if (!v)
        return;
    if (util_parse_duration(v, &ms) < 0)
        cfg_err(p, cfg_mget(p, map, key),
                "%s%s: not a duration: \"%s\" (use e.g. 500ms, 30s, 15m, 2h)", path, key,
                v);
    else if (ms < min_ms)
        cfg_err(p, cfg_mget(p, map, key), "%s%s: must be at least %lld ms", path, key,
                (long long)min_ms);
    else
        *out = ms;
}

void cfg_get_bool(struct cfgp *p, const yaml_node_t *map, const char *key,
                  const char *path, bool *out)
{
    const char *v = cfg_get_scalar(p, map, key, path);

    if (!v)
        return;
    if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
        *out = true;
    else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
        *out = false;
    else
        cfg_err(p, cfg_mget(p, map, key), "%s%s: expected true or false, got \"%s\"",
                path, key, v);
}

/* A list of scalars; a single scalar counts as a one-element list. */
void cfg_get_list(struct cfgp *p, const yaml_node_t *n, const char *what,
                  struct strlist *out)
{
    const char **v;
    size_t cnt = 0;

    out->v = NULL;
    out->n = 0;
    if (!n)
        return;
    if (cfg_sval(n)) {
        v = cfg_alloc(&p->c->arena, sizeof(*v));
        if (!v || !(v[0] = cfg_dup(p, cfg_sval(n)))) {
            p->oom = true;
            return;
        }
        out->v = v;
        out->n = 1;
        return;
    }
    if (n->type != YAML_SEQUENCE_NODE) {
        cfg_err(p, n, "%s: expected a value or a list of values", what);
        return;
    }
    size_t total = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (total > CONFIG_MAX_LIST) {
        cfg_err(p, n, "%s: more than %d entries", what, CONFIG_MAX_LIST);
        return;
    }
    v = cfg_alloc(&p->c->arena, (total ? total : 1) * sizeof(*v));
    if (!v) {
        p->oom = true;
        return;
    }
    for (yaml_node_item_t *it = n->data.sequence.items.start;
         it < n->data.sequence.items.top; it++) {
        yaml_node_t *e = cfg_node(p, *it);
        if (!cfg_sval(e)) {
            cfg_err(p, e, "%s: entries must be single values", what);
            continue;
        }
        v[cnt++] = cfg_dup(p, cfg_sval(e));
    }
    out->v = v;
    out->n = cnt;
}

/* A secret: `key`, `key_env` or `key_file`, at most one. Returns the value or NULL. */
const char *cfg_get_secret(struct cfgp *p, const yaml_node_t *map, const char *key,
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
        cfg_err(p, map, "%s%.40s...: key longer than %d bytes", path, key,
                CONFIG_MAX_KEY);
        return NULL;
    }
    inl = cfg_get_scalar(p, map, key, path);
    env = cfg_get_scalar(p, map, k_env, path);
    file = cfg_get_scalar(p, map, k_file, path);
    given = !!inl + !!env + !!file;
    if (given > 1) {
        cfg_err(p,
                cfg_mget(p, map, key) ? cfg_mget(p, map, key) : cfg_mget(p, map, k_env),
                "%s%s: give only one of %s, %s, %s", path, key, key, k_env, k_file);
        return NULL;
    }
    if (inl)
        return cfg_dup(p, inl);
    if (env) {
        if (!(v = getenv(env)) || !*v) {
            cfg_err(p, cfg_mget(p, map, k_env),
                    "%s%s: environment variable %s is not set", path, k_env, env);
            return NULL;
        }
        return cfg_dup(p, v);
    }
    if (file) {
        size_t len;
        char *data = util_read_file(file, 64 * 1024, &len, err, sizeof(err));
        if (!data) {
            cfg_err(p, cfg_mget(p, map, k_file), "%s%s: %s", path, k_file, err);
            return NULL;
        }
        while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
            data[--len] = '\0';
        v = cfg_dup(p, data);
        free(data);
        return v;
    }
    return NULL;
}
