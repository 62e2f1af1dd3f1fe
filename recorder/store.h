/* store.h -- the history database as herald-recorder writes it (docs/schema.md).
 *
 * The schema is versioned by the migrations in recorder/migrations/NNN_name.sql,
 * compiled into the binary; store_migrate() applies the missing ones at start-up, each
 * in its own transaction, under a PostgreSQL advisory lock so that recorders starting
 * together apply each migration once. The table herald_schema lists what was applied.
 *
 * A batch is written by one call of herald_ingest() (one round trip, one
 * transaction): the rows are sent as two JSON arrays and upserted, so a batch written
 * twice changes nothing.
 *
 * Threads: a struct store belongs to one thread.
 */
#ifndef HERALD_STORE_H
#define HERALD_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "pg.h"

#define STORE_LOCK_KEY 0x486572616c64LL /* "Herald": the migration advisory lock */

/* Results of store_write(). */
enum store_result {
    STORE_OK = 0,
    STORE_RETRY = -1, /* the database is unreachable or busy: keep the batch, retry */
    STORE_BAD = -2,   /* the database refused the data: retrying will not help */
};

struct store {
    struct pg pg;
    bool inflight; /* store_send() sent a batch whose answer store_wait() has not read */
};

/* The migrations compiled in, in order. */
struct store_migration {
    int version;
    const char *name;
    const char *sql;
};
const struct store_migration *store_migrations(size_t *n);

/* Prepare (does not connect). dsn is borrowed (a secret: never logged). */
void store_init(struct store *st, const char *dsn, const char *app);
void store_release(struct store *st);

/* Apply every migration up to `target` (0 = the newest) that herald_schema does not
 * list. Returns the schema version now in force (>= 0), or -1 with errstr set. A
 * database newer than this binary (an unknown version applied) is an error. */
int store_migrate(struct store *st, int target, char *errstr, size_t errstr_size);

/* Write a batch: runs and alerts are JSON arrays of rows (record.h); either may be
 * empty. On STORE_OK sets *runs_written and *alerts_written (rows that changed).
 * Otherwise st->pg.err says why. */
enum store_result store_write(struct store *st, const cJSON *runs, const cJSON *alerts,
                              int *runs_written, int *alerts_written);

/* The same in two halves, so the caller can prepare the next batch while the database
 * works on this one: store_send() sends the batch (STORE_OK: sent; STORE_RETRY: the
 * database is unreachable, nothing was sent); store_wait() waits for its answer and
 * returns what store_write() would. Exactly one store_wait() per sent batch, before
 * any other call on st. */
enum store_result store_send(struct store *st, const cJSON *runs, const cJSON *alerts);
enum store_result store_wait(struct store *st, int *runs_written, int *alerts_written);

/* Refresh the /trends rollups (concurrently: readers never wait). Returns 0 or -1. */
int store_refresh(struct store *st);

#endif
