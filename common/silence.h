/* silence.h -- silences: "no alerts for events matching these fields until T"
 * (docs/silences.md). heraldctl adds, lists and expires them; every consumer loads the
 * active ones, drops matching events and counts them.
 *
 * Redis layout (P = redis.key_prefix, "herald:" by default):
 *   P silence:<id>  hash: id, matchers (JSON array of "field=glob"), reason,
 *                   created_by, created_ms, starts_ms, ends_ms (wall clock, ms since
 *                   the epoch), matched (events suppressed; HINCRBY by consumers),
 *                   and where it was added: origin_user (the OS user), origin_host,
 *                   origin_tool ("heraldctl <version>"); absent on silences written
 *                   by other means. Expires (PEXPIREAT) at ends_ms + 7 days.
 * Nothing here is authenticated: whoever can write these keys can silence anything
 * and write any author or origin (docs/reliability.md, "Who can silence").
 *   P silences      sorted set: member id, score ends_ms.
 * A silence is active at t when starts_ms <= t < ends_ms. All its matchers must
 * match (AND); a matcher is an enum field name (config.h) and a util_glob_match glob.
 *
 * Not thread-safe beyond rconn's rule (one rconn per thread); a silence_set is
 * read-only after silence_load and may then be shared.
 */
#ifndef HERALD_SILENCE_H
#define HERALD_SILENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "rconn.h"
#include "router.h"

#define SILENCE_MAX_MATCHERS 16
#define SILENCE_ID_LEN 12       /* lowercase hex chars */
#define SILENCE_MAX 1024        /* unexpired silences in Redis */
#define SILENCE_MAX_GLOB 256    /* bytes of one matcher's glob */
#define SILENCE_MAX_REASON 1024 /* bytes of a reason */
#define SILENCE_MAX_ORIGIN 256  /* bytes of created_by and of each origin_* field */
#define SILENCE_KEEP_MS ((int64_t)7 * 24 * 3600 * 1000) /* ms kept after ends_ms */

struct silence_matcher {
    enum field field;
    char *glob; /* owned, non-empty */
};

/* One silence. Every string is owned by it (silence_release frees them). */
struct silence {
    char id[16]; /* SILENCE_ID_LEN lowercase hex chars, NUL-terminated */
    struct silence_matcher m[SILENCE_MAX_MATCHERS];
    size_t nm;
    int64_t starts_ms, ends_ms; /* wall clock, ms since the epoch */
    char *reason;               /* may be "" never NULL (after silence_load) */
    /* Filled by silence_load/silence_list; ignored by silence_add: */
    char *created_by;   /* "" if unknown, never NULL after loading */
    int64_t created_ms; /* wall clock */
    int64_t matched;    /* events suppressed so far */
    /* Where it was added: filled by silence_load/silence_list ("" if not recorded,
     * never NULL after loading) and stored by silence_add (NULL: not recorded). */
    char *origin_user; /* OS user name */
    char *origin_host; /* host name */
    char *origin_tool; /* "heraldctl v1.2.3" */
};

/* Silences as loaded, sorted by ends_ms ascending. Zero it before first use. */
struct silence_set {
    struct silence *v;
    size_t n;
    size_t skipped; /* silences in Redis that could not be read (bad matchers) */
};

/* Zero s. */
void silence_init(struct silence *s);

/* Free what s owns and zero it; NULL is accepted. */
void silence_release(struct silence *s);

/* Parse "field=glob" (split at the first '=') into m; the glob is copied (m->glob is
 * a new string owned by m; free it, or the silence holding m, with silence_release).
 * Returns 0, or -1 with errstr naming the bad matcher (no '=', unknown field, empty
 * or too long glob). */
int silence_matcher_parse(const char *s, struct silence_matcher *m, char *errstr,
                          size_t errstr_size);

/* Format m as "field=glob" into buf (cut at size). Returns buf. */
char *silence_matcher_format(const struct silence_matcher *m, char *buf, size_t size);

/* Write a new random id (SILENCE_ID_LEN lowercase hex chars from /dev/urandom) into
 * id (at least 16 bytes). Returns 0, or -1 with errstr. */
int silence_make_id(char *id, char *errstr, size_t errstr_size);

/* true if id is SILENCE_ID_LEN lowercase hex chars. */
bool silence_id_valid(const char *id);

/* Register the Lua scripts on r (two of RCONN_MAX_SCRIPTS). Call once before the
 * first rconn_get(). Returns 0 or -1 (no room). Without it, silence_load and
 * silence_count still work but send the script source with every call (EVAL). */
int silence_setup(struct rconn *r);

/* Load the silences active at now_ms (starts_ms <= now_ms < ends_ms) in one round
 * trip. *out must be zeroed or hold an earlier result: on success it is released and
 * replaced; on failure it is left as it was (the caller may keep using it) and -1 is
 * returned with errstr (Redis unreachable or failed: the caller decides; after an
 * I/O error the connection is reset). At most SILENCE_MAX silences. */
int silence_load(struct rconn *r, const char *prefix, int64_t now_ms,
                 struct silence_set *out, char *errstr, size_t errstr_size);

/* For listing (heraldctl): like silence_load, but every silence not yet over
 * (ends_ms > now_ms, including those starting later), and with `all` also those that
 * ended but are still kept in Redis. Uses only read commands (no script), so a
 * read-only Redis ACL user may list; not atomic. */
int silence_list(struct rconn *r, const char *prefix, int64_t now_ms, bool all,
                 struct silence_set *out, char *errstr, size_t errstr_size);

/* The first silence in s matching f (every matcher's glob matches facts_get of its
 * field), or NULL. s may be NULL. Borrowed from s. Does not look at time: s holds
 * what was active when it was loaded. */
const struct silence *silence_match(const struct silence_set *s, const struct facts *f);

/* Add counts[i] to the `matched` counter of silence ids[i], for i in [0, n), in one
 * round trip; silences no longer in Redis are skipped (nothing is created).
 * n <= SILENCE_MAX. Returns 0, or -1 with errstr. */
int silence_count(struct rconn *r, const char *prefix, const char *const *ids,
                  const int64_t *counts, size_t n, char *errstr, size_t errstr_size);

/* Free everything in s and zero it; NULL is accepted. */
void silence_set_release(struct silence_set *s);

/* Store s (its id must be set, see silence_make_id; 1..SILENCE_MAX_MATCHERS matchers;
 * starts_ms < ends_ms; reason may be NULL for "") with created_by (may be NULL for
 * "") and created_ms = now, and s->origin_* (each NULL or valid UTF-8 of at most
 * SILENCE_MAX_ORIGIN bytes). Fails if the id exists or SILENCE_MAX silences are not
 * yet over, or ends_ms is not after now. Also drops from the sorted set the ids of
 * silences that ended more than 7 days ago. Returns 0 or -1 with errstr. */
int silence_add(struct rconn *r, const char *prefix, const struct silence *s,
                const char *created_by, char *errstr, size_t errstr_size);

/* End silence `id` now: ends_ms = now_ms (unless it already ended earlier), kept
 * for 7 more days. Returns 0, or -1 with errstr ("no silence <id>" if unknown). */
int silence_expire(struct rconn *r, const char *prefix, const char *id, int64_t now_ms,
                   char *errstr, size_t errstr_size);

#endif
