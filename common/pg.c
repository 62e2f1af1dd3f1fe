/* pg.c -- see pg.h. */
#include "pg.h"

#include <stdio.h>
#include <string.h>

void pg_init(struct pg *pg, const char *dsn, const char *app, int connect_timeout_s,
             int64_t statement_ms)
{
    memset(pg, 0, sizeof(*pg));
    pg->dsn = dsn;
    pg->app = app;
    pg->connect_timeout_s = connect_timeout_s > 0 ? connect_timeout_s : 5;
    pg->statement_ms = statement_ms;
}

/* Keep libpq's message on one line, without its trailing newline. */
static void set_err(struct pg *pg, const char *what, const char *msg)
{
    size_t n;

    snprintf(pg->err, sizeof(pg->err), "%s: %s", what,
             msg && *msg ? msg : "unknown error");
    for (n = 0; pg->err[n]; n++)
        if (pg->err[n] == '\n' || pg->err[n] == '\r')
            pg->err[n] = ' ';
    while (n > 0 && pg->err[n - 1] == ' ')
        pg->err[--n] = '\0';
}

/* Notices (e.g. "relation already exists, skipping") are not errors: drop them. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

int pg_ensure(struct pg *pg)
{
    char timeout[16], opts[64];
    const char *keys[5], *vals[5];
    int n = 0;

    if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK)
        return 0;
    pg_close(pg);
    snprintf(timeout, sizeof(timeout), "%d", pg->connect_timeout_s);
    snprintf(opts, sizeof(opts), "-c statement_timeout=%lld",
             (long long)pg->statement_ms);
    /* Ours first: the DSN (expanded from dbname) may override them. */
    keys[n] = "application_name", vals[n++] = pg->app ? pg->app : "herald";
    keys[n] = "connect_timeout", vals[n++] = timeout;
    if (pg->statement_ms > 0)
        keys[n] = "options", vals[n++] = opts;
    keys[n] = "dbname", vals[n++] = pg->dsn;
    keys[n] = NULL, vals[n] = NULL;
    pg->conn = PQconnectdbParams(keys, vals, 1);
    if (!pg->conn) {
        set_err(pg, "connect", "out of memory");
        return -1;
    }
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        set_err(pg, "connect", PQerrorMessage(pg->conn));
        pg_close(pg);
        return -1;
    }
    PQsetNoticeProcessor(pg->conn, quiet_notice, NULL);
    return 0;
}

void pg_close(struct pg *pg)
{
    if (pg->conn)
        PQfinish(pg->conn);
    pg->conn = NULL;
}

void pg_release(struct pg *pg)
{
    if (!pg)
        return;
    pg_close(pg);
    memset(pg, 0, sizeof(*pg));
}

PGresult *pg_query(struct pg *pg, const char *what, const char *sql, int nparams,
                   const char *const *params)
{
    PGresult *res;
    ExecStatusType st;

    if (pg_ensure(pg) < 0)
        return NULL;
    res = PQexecParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    set_err(pg, what, res ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn));
    PQclear(res);
    if (PQstatus(pg->conn) != CONNECTION_OK)
        pg_close(pg);
    else /* leave no transaction half open */
        PQclear(PQexec(pg->conn, "ROLLBACK"));
    return NULL;
}

int pg_exec(struct pg *pg, const char *what, const char *sql)
{
    PGresult *res;
    ExecStatusType st;

    if (pg_ensure(pg) < 0)
        return -1;
    res = PQexec(pg->conn, sql);
    st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        PQclear(res);
        return 0;
    }
    set_err(pg, what, res ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn));
    PQclear(res);
    if (PQstatus(pg->conn) != CONNECTION_OK)
        pg_close(pg);
    else
        PQclear(PQexec(pg->conn, "ROLLBACK"));
    return -1;
}

const char *pg_value(const PGresult *res, int row, int col)
{
    if (!res || row >= PQntuples(res) || col >= PQnfields(res) ||
        PQgetisnull(res, row, col))
        return NULL;
    return PQgetvalue(res, row, col);
}
