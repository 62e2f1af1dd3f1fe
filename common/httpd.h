/* httpd.h -- a small HTTP/1.1 server for Herald's own endpoints (/metrics, /healthz,
 * /readyz, herald-web's pages) that keeps answering under connection pressure.
 *
 * A liveness probe must get its answer while a port scan, a misbehaving scraper or a
 * slow client holds connections open, so:
 *   - one I/O thread multiplexes every connection with poll(); an idle or half-sent
 *     connection costs a slot, never a thread;
 *   - at HTTPD_MAX_CONNS open connections, a new one closes the connection that has
 *     waited longest for its request (idle, half-sent or lingering), so the newest
 *     client is always served; connections whose request is being handled are never
 *     closed that way;
 *   - a request must arrive whole within read_timeout_ms of the accept (a deadline,
 *     not an idle timer: a client sending a byte a second gains nothing), and the
 *     response must be taken within write_timeout_ms; then the connection is closed;
 *   - requests are bounded: HTTPD_HEAD_MAX bytes of request line and headers,
 *     HTTPD_MAX_HEADERS headers, HTTPD_BODY_MAX bytes of body, no chunked bodies;
 *   - "fast" routes (health) run on the I/O thread and answer at once; the others run
 *     on a pool of worker threads behind a bounded queue (full: 503 at once), so a
 *     slow page or a slow readiness check never delays health.
 * One request per connection: every response carries "Connection: close", and the
 * server reads what the client still sends for a moment before closing (a close with
 * unread data would reset the connection and could destroy the response).
 */
#ifndef HERALD_HTTPD_H
#define HERALD_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

#include "httpmsg.h"
#include "util.h"

#define HTTPD_MAX_CONNS 256                   /* default limit of open connections */
#define HTTPD_HEAD_MAX 8192                   /* bytes of request line + headers */
#define HTTPD_MAX_HEADERS HTTPMSG_MAX_HEADERS /* header fields of one request */
#define HTTPD_BODY_MAX (64 * 1024)            /* bytes of a request body */
#define HTTPD_RESPONSE_MAX (32u << 20)        /* bytes of a response body */
#define HTTPD_READ_TIMEOUT_MS 5000            /* default: accept to complete request */
#define HTTPD_WRITE_TIMEOUT_MS 10000          /* default: response ready to fully sent */
#define HTTPD_MAX_WORKERS 16
#define HTTPD_QUEUE_MAX 64           /* requests waiting for a worker */
#define HTTPD_EXTRA_HEADERS_MAX 1024 /* bytes of extra response header lines */

/* Methods, as a bit set in struct httpd_route. */
enum httpd_method {
    HTTPD_GET = 1,
    HTTPD_HEAD = 2, /* answered as GET, without the body */
    HTTPD_POST = 4,
};

/* One request, as a handler sees it. Every string is NUL-terminated and borrowed,
 * valid until the handler returns. */
struct httpd_request {
    const char *method; /* "GET", "HEAD", "POST" */
    const char *path;   /* the target before any '?', as sent (not %-decoded) */
    const char *query;  /* after the '?', "" if none (not decoded) */
    const char *body;   /* Content-Length bytes, NUL-terminated; "" if none */
    size_t body_len;
    const char *peer; /* the client's numeric address, "127.0.0.1" */
    size_t nheaders;
    const char *header_names[HTTPD_MAX_HEADERS]; /* as sent */
    const char *header_values[HTTPD_MAX_HEADERS];
};

/* What a handler fills in. The server sets status 200, content type
 * "text/plain; charset=utf-8" and an empty body before the call. */
struct httpd_response {
    int status;               /* 100..599 */
    const char *content_type; /* a string that outlives the server (a literal) */
    struct buf body;          /* append to it; at most HTTPD_RESPONSE_MAX bytes */
    char headers[HTTPD_EXTRA_HEADERS_MAX]; /* extra lines, see httpd_add_header() */
};

/* Called once per request, on the I/O thread for a fast route and on a worker thread
 * otherwise (so several may run at once: handlers must be thread-safe). `opaque` is
 * httpd_start()'s. A fast handler must not block: it delays every connection. */
typedef void (*httpd_handler)(void *opaque, const struct httpd_request *req,
                              struct httpd_response *resp);

struct httpd_route {
    const char *path; /* exact match, or any path under it if it ends in '/' */
    unsigned methods; /* enum httpd_method bits; others get 405 with Allow */
    bool fast;        /* run on the I/O thread (health checks) */
    httpd_handler fn;
};

/* Knobs; zero fields take the defaults. */
struct httpd_options {
    const char *name;     /* for log lines, "metrics http" by default; borrowed */
    unsigned workers;     /* threads for the routes that are not fast; default 2 */
    int max_conns;        /* default HTTPD_MAX_CONNS */
    int read_timeout_ms;  /* default HTTPD_READ_TIMEOUT_MS */
    int write_timeout_ms; /* default HTTPD_WRITE_TIMEOUT_MS */
};

struct httpd;

/* Listen on `listen`, "host:port": "127.0.0.1:9464", "0.0.0.0:9464", ":9464" (all
 * IPv4 interfaces) or "[::1]:9464"; the host must be numeric; port 0 binds a free
 * port (see httpd_port()). Serves routes[0..nroutes) (copied; the strings and
 * `opaque` are borrowed and must outlive the server) from new threads until
 * httpd_stop(). The first route whose path matches is used; none: 404. `opts` may be
 * NULL. Returns the server, or NULL with the reason in errstr ("cannot listen on
 * 127.0.0.1:9464: Address already in use", a bad address). Call from any thread. */
struct httpd *httpd_start(const char *listen, const struct httpd_route *routes,
                          size_t nroutes, void *opaque, const struct httpd_options *opts,
                          char *errstr, size_t errstr_size);

/* The bound TCP port (the real one when port 0 was asked for), or -1 for NULL. */
int httpd_port(const struct httpd *h);

/* Stop: close the listening socket and every connection, after waiting for the
 * handlers running on workers to return. Frees h; NULL is a no-op. Must not be
 * called from a handler. */
void httpd_stop(struct httpd *h);

/* The value of request header `name` (case-insensitive), or NULL. Borrowed. */
const char *httpd_header(const struct httpd_request *req, const char *name);

/* Add the response header line "name: value". Both must be printable ASCII without
 * CR or LF (-1 otherwise, or if resp->headers is full). Returns 0 or -1. */
int httpd_add_header(struct httpd_response *resp, const char *name, const char *value);

#endif
