/* keys.h -- the Redis keys of the decision engine and its outbox, defined once.
 *
 * Every key starts with the configured prefix (redis.key_prefix). The engine keeps
 * per-job, per-release and per-stage state as fields of a few hashes, so every script
 * names every key it touches in KEYS (docs/rules.md "State in Redis"):
 *
 *   jobs      hash  job key -> its state        hot     hash  job key -> events buffered
 *   rels      hash  "svc|ver" -> a release      ecos    hash  stage / incident -> state
 *   pend      hash  id -> a held alert          buf     zset  event id by event time
 *   bufdata   hash  event id -> facts + event   timers  zset  timer by deadline
 *   wm        hash  watermarks                  meta    hash  epoch, seq, wm, clock
 *   alerts    hash  alert id -> record          q       zset  "<dest>\1<seq>" (by lex)
 *   qsched    zset  dest -> next attempt (wall) explain hash  event id -> decision
 *   explain:t zset  event id by event time      pins    zset  "<tp>\1<offset>" (by lex)
 *   gc        zset  state by last event time    qstate  hash  dest -> lease, attempts
 *   threads   hash  "<incident>\1<dest>" -> Slack ts of the message that opened it
 *   storm     hash  dest -> token bucket        sent    hash  "<alert>\1<dest>" -> ts
 */
#ifndef HERALD_KEYS_H
#define HERALD_KEYS_H

#include <stddef.h>

enum key_id {
    KEY_JOBS = 0,
    KEY_HOT,
    KEY_RELS,
    KEY_ECOS,
    KEY_PEND,
    KEY_BUF,
    KEY_BUFDATA,
    KEY_TIMERS,
    KEY_WM,
    KEY_META,
    KEY_ALERTS,
    KEY_Q,
    KEY_QSCHED,
    KEY_EXPLAIN,
    KEY_EXPLAIN_T,
    KEY_PINS,
    KEY_GC,
    KEY_QSTATE,
    KEY_THREADS,
    KEY_STORM,
    KEY_SENT,
    KEY__COUNT
};

#define KEYS_MAX_PREFIX 200 /* bytes of redis.key_prefix */
#define KEYS_MAX 224        /* bytes of one key, prefix included */

struct keys {
    char name[KEY__COUNT][KEYS_MAX];
};

/* Fill k with every key under `prefix` (NULL = ""). Returns 0, or -1 if the prefix
 * is longer than KEYS_MAX_PREFIX. */
int keys_init(struct keys *k, const char *prefix);

/* The suffix of a key ("jobs", "explain:t", ...), for docs and tools. Static string. */
const char *keys_suffix(enum key_id id);

#endif
