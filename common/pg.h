/* pg.h -- a PostgreSQL connection for herald-recorder and herald-web (libpq).
 *
 * A struct pg is one connection that reconnects on demand: pg_ensure() connects if
 * there is no healthy connection; a failed call closes the connection so that the
 * next pg_ensure() starts a new one. The DSN is borrowed (it comes from the config,
 * history.dsn*, and may hold a password: never log it; errors name the host only as
 * libpq reports it, which never includes the password).
 *
 * Threads: one struct pg belongs to one thread at a time.
 */
#ifndef HERALD_PG_H
#define HERALD_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#define PG_ERR_MAX 512

struct pg {
    const char *dsn;       /* borrowed: the libpq connection string or URI */
    const char *app;       /* borrowed: application_name */
    int connect_timeout_s; /* s; libpq's connect_timeout */
    int64_t statement_ms;  /* ms; statement_timeout, 0 = none */
    PGconn *conn;          /* NULL when not connected */
    char err[PG_ERR_MAX];  /* the last error, one line */
};

/* Initialise (does not connect). dsn and app are borrowed and must outlive pg. */
void pg_init(struct pg *pg, const char *dsn, const char *app, int connect_timeout_s,
             int64_t statement_ms);

/* Connect unless connected. Returns 0, or -1 with pg->err set. */
int pg_ensure(struct pg *pg);

/* Close the connection (pg_ensure() reconnects). */
void pg_close(struct pg *pg);

/* Close and forget everything; pg may be initialised again. NULL is accepted. */
void pg_release(struct pg *pg);

/* Run one statement with text parameters (params[i] NULL = SQL NULL) and return its
 * result (caller frees with PQclear) if it succeeded (PGRES_COMMAND_OK or
 * PGRES_TUPLES_OK). On failure returns NULL with pg->err set ("what: libpq's
 * message"); if the connection is broken it is closed. `what` names the statement in
 * the message. Connects first when needed. */
PGresult *pg_query(struct pg *pg, const char *what, const char *sql, int nparams,
                   const char *const *params);

/* Same, for statements without a result set; returns 0 or -1. */
int pg_exec(struct pg *pg, const char *what, const char *sql);

/* The text of row `row`, column `col`, or NULL for SQL NULL (borrowed from res). */
const char *pg_value(const PGresult *res, int row, int col);

#endif
