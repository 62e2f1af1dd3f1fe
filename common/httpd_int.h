/* httpd_int.h -- private to the HTTP server (httpd.c: the listener, the I/O thread,
 * the workers; httpd_conn.c: one connection's request and response); nothing else
 * includes it. The public manual is httpd.h.
 *
 * Threads: the httpd_conn_*() functions run on the I/O thread only, on a connection
 * that is not BUSY; struct httpd says which members mu guards.
 */
#ifndef HERALD_HTTPD_INT_H
#define HERALD_HTTPD_INT_H

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "httpd.h"
#include "util.h"

enum conn_state {
    CONN_READ,   /* waiting for the whole request; evictable */
    CONN_BUSY,   /* a worker has it; never closed by the I/O thread */
    CONN_WRITE,  /* sending the response */
    CONN_LINGER, /* response sent, write side shut: discarding input until EOF */
};

struct conn {
    int fd;
    enum conn_state state;
    int64_t accepted_ms; /* monotonic */
    int64_t deadline_ms; /* monotonic: of the current state */
    int pi;              /* index in this round's pollfd array, -1 if not polled */
    char peer[INET6_ADDRSTRLEN];
    char head[HTTPD_HEAD_MAX + 1]; /* request line and headers (+ start of body) */
    size_t head_len;
    size_t scan;     /* where to go on looking for the end of the headers */
    size_t body_off; /* offset of the body in head once the headers are complete */
    char *body;      /* Content-Length + 1 bytes */
    size_t body_len, body_need;
    bool head_only; /* a HEAD request: no body in the response */
    char allow[24]; /* the Allow header of a 405 */
    const struct httpd_route *route;
    struct httpd_request req;
    struct httpd_response resp;
    struct buf out; /* the whole response */
    size_t out_off, lingered;
    struct conn *next; /* queue and done list */
};

struct httpd {
    int lfd, wake[2];
    int port;
    char name[64];
    struct httpd_options o;
    struct httpd_route *routes;
    size_t nroutes;
    void *opaque;
    pthread_t io;
    pthread_t workers[HTTPD_MAX_WORKERS];
    unsigned nworkers;
    /* I/O thread only: */
    struct conn **conns;
    size_t nconns;
    struct pollfd *pfd;
    int64_t accept_pause_ms; /* monotonic; no accept before (out of descriptors) */
    int64_t warned_ms;
    unsigned long evicted, timed_out; /* since the last warning */
    /* guarded by mu: */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct conn *q_head, *q_tail; /* waiting for a worker */
    size_t q_len;
    struct conn *done; /* handled, back to the I/O thread */
    bool stopping;
};

/* ---- one connection (httpd_conn.c) ---- */

/* Close c's socket and free it and its buffers; NULL is accepted. */
void httpd_conn_free(struct conn *c);

/* Remove h->conns[i] (order does not matter) and free it. */
void httpd_conn_drop(struct httpd *h, size_t i);

/* Send a short fixed response with this status without waiting, then drop
 * h->conns[i]: for connections refused or given up, where nothing more is owed. */
void httpd_conn_abort(struct httpd *h, size_t i, int status);

/* Readable in CONN_READ: take what arrived; once the request is complete, answer an
 * error, run a fast handler or queue it for a worker. Returns -1 to close. */
int httpd_conn_read(struct httpd *h, struct conn *c, int64_t now);

/* Format c->resp into c->out and start sending it (CONN_WRITE). Returns -1 to close. */
int httpd_conn_respond(struct httpd *h, struct conn *c, int64_t now);

/* Writable in CONN_WRITE: send what is left, then linger. Returns -1 to close. */
int httpd_conn_flush(struct conn *c, int64_t now);

/* Readable in CONN_LINGER: discard, at most HTTPD_LINGER_MAX bytes in all. Returns -1
 * to close. */
int httpd_conn_discard(struct conn *c);

#endif
