/* server.h -- herald-web's HTTP server: libmicrohttpd, a pool of PostgreSQL
 * connections, the routes and their query parameters (docs/dashboard.md).
 *
 * Every page has a JSON twin: /X renders HTML, /api/X answers the same data as JSON.
 * Query parameters are checked before a handler runs (unknown names and bad values
 * are 400 with the reason); an unknown path is a 404 page.
 *
 * Threads: libmicrohttpd's thread pool runs the handlers; each request borrows one
 * database connection from the pool for its duration.
 */
#ifndef HERALD_WEB_SERVER_H
#define HERALD_WEB_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "config.h"
#include "pg.h"
#include "util.h"

#define WEB_THREADS 4           /* server threads = database connections */
#define WEB_CONN_MAX 128        /* concurrent HTTP connections */
#define WEB_PAGE_MAX (8u << 20) /* bytes of one response */
#define WEB_SEGMENT_MAX 256     /* bytes of one path segment (service, job, ...) */
#define WEB_STATEMENT_MS 10000  /* statement_timeout of the web's queries */

struct web;

/* One request, as a handler sees it. Everything is borrowed for the call. */
struct req {
    struct MHD_Connection *conn;
    const struct config *cfg;
    struct pg *pg;      /* a connected database handle of the pool */
    bool api;           /* /api/...: answer JSON */
    const char *seg[3]; /* path segments after the route (decoded), or NULL */
    size_t nseg;
};

/* The value of query parameter `name`, or NULL. */
const char *req_param(const struct req *r, const char *name);

/* Answer 200 with the page (HTML) or the data (JSON) -- whichever the route is.
 * `data` stays the caller's. render builds the HTML from data into out; it returns 0
 * or -1 (then 500). */
enum MHD_Result reply_page(struct req *r, const cJSON *data,
                           int (*render)(const struct req *r, const cJSON *data,
                                         struct buf *out));

/* Answer an error: status (400, 404, 500, 503) with the message, as an HTML page or a
 * JSON object {"error": message}. */
enum MHD_Result reply_error(struct req *r, unsigned int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Answer 200 with a body the handler built (HTML fragment, text). Takes b's data. */
enum MHD_Result reply_raw(struct req *r, const char *ctype, struct buf *b);

/* Start serving `listen` ("host:port", IPv4 numeric host or empty for all; port 0 =
 * a free port) from the database `dsn`. cfg and dsn are borrowed and must outlive the
 * server. Returns the server or NULL with errstr. */
struct web *web_start(const struct config *cfg, const char *dsn, const char *listen,
                      char *errstr, size_t errstr_size);

/* The port bound. */
int web_port(const struct web *w);

/* Stop serving, wait for requests in progress, close the pool. NULL is accepted. */
void web_stop(struct web *w);

/* Parsing helpers for handlers. Each returns 0 and sets *out, or -1 (the caller
 * answers 400 naming the parameter). */
int param_int(const char *v, long long min, long long max, long long *out);
/* A name from an event (service, stage, version): 1..WEB_SEGMENT_MAX bytes of
 * [A-Za-z0-9._-]; with glob, also '*' and '?'. */
bool param_is_name(const char *v, bool glob);

#endif
