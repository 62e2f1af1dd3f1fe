/* config_int.h -- private to the configuration loader (config.c, config_yaml.c,
 * config_rules.c, config_conn.c); nothing outside those files includes it. The
 * public manual is config.h.
 *
 * config_parse() (config.c) walks the top level and hands each section's node to its
 * cfg_parse_<section>(), which reads it with the cfg_get_*() readers (config_yaml.c)
 * into p->c, allocating from the config's arena (cfg_alloc). Every problem is
 * reported with cfg_err() and parsing goes on, so one run reports every error; a
 * failed allocation sets p->oom. The config is only returned if nothing was reported.
 *
 * Names carry the cfg_ prefix because they are visible to the whole library: a
 * helper called dup() would replace libc's dup(2) in every binary.
 *
 * Threads: one parse at a time per struct cfgp; nothing here is shared.
 */
#ifndef HERALD_CONFIG_INT_H
#define HERALD_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "config.h"

/* The state of one config_parse(). */
struct cfgp {
    const char *name;       /* the file name, for messages */
    yaml_document_t *doc;   /* borrowed */
    struct config *c;       /* being filled */
    char *errbuf;           /* config_parse's errbuf: one line per error */
    size_t errsize, errlen; /* bytes */
    int nerr;               /* errors reported, also past CONFIG_MAX_ERRORS */
    bool oom;               /* an allocation failed */
    bool history_topic_set; /* history.alerts_topic given: else kafka.alerts_topic */
};

/* ---- the arena (config.c): freed with the config by config_free ---- */

/* size bytes, zeroed and aligned for any type, owned by *arena; NULL when out of
 * memory (the caller sets p->oom). */
void *cfg_alloc(void **arena, size_t size);

/* A copy of s in *arena, or NULL when out of memory. */
char *cfg_strdup(void **arena, const char *s);

/* ---- errors and the document (config_yaml.c) ---- */

/* Report one error as "NAME:LINE: what" with n's line (0 if n is NULL). Past
 * CONFIG_MAX_ERRORS errors are only counted; a full errbuf ends cut. */
__attribute__((format(printf, 3, 4))) void cfg_err(struct cfgp *p, const yaml_node_t *n,
                                                   const char *fmt, ...);

/* The node with this id in p's document. */
yaml_node_t *cfg_node(struct cfgp *p, int id);

/* true if n (may be NULL) is a mapping. */
bool cfg_is_map(const yaml_node_t *n);

/* n's text if it is a scalar, else NULL (n may be NULL). Borrowed from the document. */
const char *cfg_sval(const yaml_node_t *n);

/* The value at key in map, or NULL if map is not a mapping or has no such key. */
yaml_node_t *cfg_mget(struct cfgp *p, const yaml_node_t *map, const char *key);

/* Report each key of map that is not in allowed (NULL-terminated), with path ("kafka.")
 * in front: a typo must not pass. Nothing if map is not a mapping. */
void cfg_check_keys(struct cfgp *p, const yaml_node_t *map, const char *path,
                    const char *const *allowed);

/* Report every key given twice in one mapping, anywhere in the document, with both
 * lines. */
void cfg_check_duplicates(struct cfgp *p);

/* A copy of s in the config's arena; NULL (and p->oom) when out of memory. */
const char *cfg_dup(struct cfgp *p, const char *s);

/* The readers: map[key], reported as path+key ("redis.port") when it is not what is
 * expected. An absent key leaves *out as it was (the default); a bad value reports an
 * error and leaves it too. */

/* The scalar at map[key], borrowed from the document; NULL if absent or not a scalar
 * (reported). */
const char *cfg_get_scalar(struct cfgp *p, const yaml_node_t *map, const char *key,
                           const char *path);

/* A string, copied into the arena. */
void cfg_get_string(struct cfgp *p, const yaml_node_t *map, const char *key,
                    const char *path, const char **out);

/* An integer from min to max. */
void cfg_get_int(struct cfgp *p, const yaml_node_t *map, const char *key,
                 const char *path, long long min, long long max, int *out);

/* A duration ("500ms", "30s", "15m", "2h") of at least min_ms, in ms. */
void cfg_get_duration(struct cfgp *p, const yaml_node_t *map, const char *key,
                      const char *path, int64_t min_ms, int64_t *out);

/* true/yes/on or false/no/off. */
void cfg_get_bool(struct cfgp *p, const yaml_node_t *map, const char *key,
                  const char *path, bool *out);

/* The list of scalars at n (NULL: an empty list); a single scalar is a list of one.
 * *out is always set, its strings in the arena; what names it in errors. */
void cfg_get_list(struct cfgp *p, const yaml_node_t *n, const char *what,
                  struct strlist *out);

/* A secret given as key (inline), key_env (an environment variable) or key_file (a
 * file, trailing newlines dropped), at most one of them. Returns the value in the
 * arena (never log it), or NULL if none is given or it cannot be read (reported). */
const char *cfg_get_secret(struct cfgp *p, const yaml_node_t *map, const char *key,
                           const char *path);

/* ---- the sections: each reads its node m (or the list n) into p->c ---- */

/* config_rules.c: what alerts. */
void cfg_parse_dedup(struct cfgp *p, const yaml_node_t *m);
void cfg_parse_watermark(struct cfgp *p, const yaml_node_t *m);
void cfg_parse_release(struct cfgp *p, const yaml_node_t *m);
/* After cfg_parse_receivers: ecosystem.receiver names one. */
void cfg_parse_ecosystem(struct cfgp *p, const yaml_node_t *m);
void cfg_parse_storm(struct cfgp *p, const yaml_node_t *m);
void cfg_parse_classify(struct cfgp *p, const yaml_node_t *m);
/* After cfg_parse_receivers: a route names its receivers. */
void cfg_parse_routes(struct cfgp *p, const yaml_node_t *n);

/* config_conn.c: where things are and how to reach them. */
void cfg_parse_kafka(struct cfgp *p, const yaml_node_t *m);
void cfg_parse_redis(struct cfgp *p, const yaml_node_t *m);
void cfg_parse_receivers(struct cfgp *p, const yaml_node_t *n);
/* After cfg_parse_receivers: delivery.fallback_receiver names one. */
void cfg_parse_delivery(struct cfgp *p, const yaml_node_t *m);
/* Sets p->history_topic_set when history.alerts_topic is given. */
void cfg_parse_history(struct cfgp *p, const yaml_node_t *m);
void cfg_parse_web(struct cfgp *p, const yaml_node_t *m);
void cfg_parse_http(struct cfgp *p, const yaml_node_t *m);

#endif
