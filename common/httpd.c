/* httpd.c -- see httpd.h.
 *
 * One I/O thread owns the listening socket and every connection: it polls them,
 * reads and parses requests, runs fast handlers, writes responses and closes. Other
 * handlers go through a bounded queue to the worker threads, which hand the
 * connection back on the done list and wake the I/O thread through a pipe. A
 * connection is in exactly one state; only the I/O thread changes it, except that a
 * BUSY one belongs to a worker until it is on the done list. */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpmsg.h"
#include "log.h"

#define HTTPD_LINGER_MS 500       /* after the response: read what the client sends */
#define HTTPD_LINGER_MAX 65536    /* bytes discarded while lingering */
#define HTTPD_ACCEPT_BATCH 64     /* accepts per poll round, so reads are not starved */
#define HTTPD_WARN_EVERY_MS 60000 /* at most one pressure warning a minute */
#define HTTPD_POLL_MAX_MS 1000

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

/* --- small helpers --- */

int httpd_add_header(struct httpd_response *resp, const char *name, const char *value)
{
    size_t used = strlen(resp->headers);
    int n;

    if (!name || !value || !*name || !httpmsg_printable(name, false) ||
        strchr(name, ':') || !httpmsg_printable(value, true))
        return -1;
    n = snprintf(resp->headers + used, sizeof(resp->headers) - used, "%s: %s\r\n", name,
                 value);
    if (n < 0 || (size_t)n >= sizeof(resp->headers) - used) {
        resp->headers[used] = '\0';
        return -1;
    }
    return 0;
}

const char *httpd_header(const struct httpd_request *req, const char *name)
{
    return httpmsg_header(req->header_names, req->header_values, req->nheaders, name);
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return -1;
    return 0;
}

static void wake(struct httpd *h)
{
    ssize_t w = write(h->wake[1], "x", 1); /* full pipe: a wake-up is pending anyway */

    (void)w;
}

/* --- connections --- */

static void conn_free(struct conn *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->body);
    buf_release(&c->resp.body);
    buf_release(&c->out);
    free(c);
}

/* Remove conns[i] (order does not matter) and free it. */
static void conn_drop(struct httpd *h, size_t i)
{
    conn_free(h->conns[i]);
    h->conns[i] = h->conns[--h->nconns];
}

/* Send a short fixed response without waiting and close: for connections refused
 * or given up, where nothing more is owed. */
static void conn_abort(struct httpd *h, size_t i, int status)
{
    char msg[160];
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
                     status, httpmsg_reason(status), strlen(httpmsg_reason(status)) + 1,
                     httpmsg_reason(status));

    if (n > 0 && (size_t)n < sizeof(msg)) {
        ssize_t w = send(h->conns[i]->fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w;
    }
    conn_drop(h, i);
}

/* The response is complete: send the write side's FIN, then discard input briefly. */
static void conn_linger(struct conn *c, int64_t now)
{
    shutdown(c->fd, SHUT_WR);
    c->state = CONN_LINGER;
    c->deadline_ms = now + HTTPD_LINGER_MS;
}

/* Send what is left of c->out. Returns -1 if the connection is to be closed. */
static int conn_flush(struct conn *c, int64_t now)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0)
            return -1;
        c->out_off += (size_t)n;
    }
    conn_linger(c, now);
    return 0;
}

/* Format c->resp into c->out and start sending it. Returns -1 to close. */
static int conn_respond(struct httpd *h, struct conn *c, int64_t now)
{
    struct httpd_response *r = &c->resp;
    size_t blen = r->body.len;

    if (r->status < 100 || r->status > 599)
        r->status = 500;
    buf_init(&c->out, HTTPD_RESPONSE_MAX + HTTPD_HEAD_MAX);
    if (buf_printf(&c->out,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n%s\r\n",
                   r->status, httpmsg_reason(r->status),
                   r->content_type ? r->content_type : "text/plain; charset=utf-8", blen,
                   r->headers) < 0 ||
        (!c->head_only && blen && buf_append(&c->out, r->body.data, blen) < 0)) {
        log_warn("%s: out of memory for a response to %s", h->name, c->peer);
        return -1;
    }
    buf_release(&r->body);
    c->state = CONN_WRITE;
    c->out_off = 0;
    c->deadline_ms = now + h->o.write_timeout_ms;
    return conn_flush(c, now);
}

/* Answer with a short text body (errors the server itself gives). */
static int conn_error(struct httpd *h, struct conn *c, int status, const char *allow,
                      int64_t now)
{
    static const char *const lower[] = {"not found", "method not allowed", NULL};
    const char *text = status == 404   ? lower[0]
                       : status == 405 ? lower[1]
                                       : httpmsg_reason(status);

    buf_release(&c->resp.body);
    buf_init(&c->resp.body, 4096);
    c->resp.status = status;
    c->resp.content_type = "text/plain; charset=utf-8";
    c->resp.headers[0] = '\0';
    httpd_add_header(&c->resp, "Cache-Control", "no-store");
    if (allow)
        httpd_add_header(&c->resp, "Allow", allow);
    if (buf_printf(&c->resp.body, "%s\n", text) < 0)
        return -1;
    return conn_respond(h, c, now);
}

/* --- requests --- */

static const struct httpd_route *find_route(const struct httpd *h, const char *path)
{
    for (size_t i = 0; i < h->nroutes; i++) {
        const char *rp = h->routes[i].path;
        size_t n = strlen(rp);
        if (n && rp[n - 1] == '/' ? strncmp(path, rp, n) == 0 : strcmp(path, rp) == 0)
            return &h->routes[i];
    }
    return NULL;
}

static unsigned method_bit(const char *m)
{
    return !strcmp(m, "GET")    ? HTTPD_GET
           : !strcmp(m, "HEAD") ? HTTPD_HEAD
           : !strcmp(m, "POST") ? HTTPD_POST
                                : 0;
}

/* Parse c->head[0..c->body_off) and find the route. Returns 0, or the HTTP status
 * to answer with; sets *allow for a 405. */
static int parse_head(const struct httpd *h, struct conn *c, const char **allow)
{
    struct httpmsg_head m;
    struct httpd_request *rq = &c->req;
    int st = httpmsg_parse_head(c->head, c->body_off, HTTPD_BODY_MAX, &m);

    if (st != 0)
        return st;
    rq->method = m.method;
    rq->path = m.path;
    rq->query = m.query;
    rq->nheaders = m.nheaders;
    memcpy(rq->header_names, m.names, sizeof(m.names));
    memcpy(rq->header_values, m.values, sizeof(m.values));
    c->body_need = m.content_length;
    c->head_only = strcmp(rq->method, "HEAD") == 0;
    if (!(c->route = find_route(h, rq->path)))
        return 404;
    if (!(c->route->methods & method_bit(rq->method))) {
        unsigned ms = c->route->methods;
        snprintf(c->allow, sizeof(c->allow), "%s%s%s", ms & HTTPD_GET ? "GET" : "",
                 ms & HTTPD_HEAD ? (ms & HTTPD_GET ? ", HEAD" : "HEAD") : "",
                 ms & HTTPD_POST ? (ms & 3 ? ", POST" : "POST") : "");
        *allow = c->allow;
        return 405;
    }
    return 0;
}

/* The request is complete: run a fast handler here, or queue it for a worker. */
static int dispatch(struct httpd *h, struct conn *c, int64_t now)
{
    c->req.body = c->body ? c->body : "";
    c->req.body_len = c->body_len;
    c->req.peer = c->peer;
    c->resp.status = 200;
    c->resp.content_type = NULL;
    c->resp.headers[0] = '\0';
    buf_init(&c->resp.body, HTTPD_RESPONSE_MAX);
    if (c->route->fast) {
        c->route->fn(h->opaque, &c->req, &c->resp);
        return conn_respond(h, c, now);
    }
    pthread_mutex_lock(&h->mu);
    if (h->q_len >= HTTPD_QUEUE_MAX) {
        pthread_mutex_unlock(&h->mu);
        return conn_error(h, c, 503, NULL, now);
    }
    c->state = CONN_BUSY;
    c->next = NULL;
    if (h->q_tail)
        h->q_tail->next = c;
    else
        h->q_head = c;
    h->q_tail = c;
    h->q_len++;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

/* Readable in CONN_READ: take what arrived; parse when the headers are complete.
 * Returns -1 to close. */
static int conn_read(struct httpd *h, struct conn *c, int64_t now)
{
    const char *allow = NULL;
    ssize_t n;
    char first;
    int st;

    if (!c->body_off) {
        n = recv(c->fd, c->head + c->head_len, HTTPD_HEAD_MAX - c->head_len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return 0;
        if (n <= 0)
            return -1;
        c->head_len += (size_t)n;
        if (!(c->body_off = httpmsg_head_end(c->head, c->head_len, &c->scan)))
            return c->head_len < HTTPD_HEAD_MAX ? 0 : conn_error(h, c, 431, NULL, now);
        first = c->head[c->body_off]; /* parse_head cuts the headers off here */
        st = parse_head(h, c, &allow);
        c->head[c->body_off] = first;
        if (st != 0)
            return conn_error(h, c, st, allow, now);
        if (c->body_need) {
            const char *expect = httpd_header(&c->req, "Expect");
            size_t have = c->head_len - c->body_off;
            if (!(c->body = malloc(c->body_need + 1)))
                return -1;
            c->body_len = have < c->body_need ? have : c->body_need;
            memcpy(c->body, c->head + c->body_off, c->body_len);
            c->body[c->body_len] = '\0';
            if (c->body_len < c->body_need && expect &&
                strcasecmp(expect, "100-continue") == 0) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                ssize_t w =
                    send(c->fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                (void)w;
            }
        }
    } else {
        n = recv(c->fd, c->body + c->body_len, c->body_need - c->body_len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return 0;
        if (n <= 0)
            return -1;
        c->body_len += (size_t)n;
        c->body[c->body_len] = '\0';
    }
    if (c->body_len < c->body_need)
        return 0;
    return dispatch(h, c, now);
}

/* Readable in CONN_LINGER: discard. Returns -1 to close. */
static int conn_discard(struct conn *c)
{
    char sink[4096];
    ssize_t n = recv(c->fd, sink, sizeof(sink), 0);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (n <= 0 || (c->lingered += (size_t)n) > HTTPD_LINGER_MAX)
        return -1;
    return 0;
}

/* --- the I/O thread --- */

/* The connection to give up to make room: lingering first, then the oldest one still
 * waiting for its request, then the oldest slow reader; never a BUSY one. Returns its
 * index or -1. */
static long pick_victim(const struct httpd *h)
{
    static const enum conn_state order[] = {CONN_LINGER, CONN_READ, CONN_WRITE};

    for (size_t k = 0; k < 3; k++) {
        long best = -1;
        for (size_t i = 0; i < h->nconns; i++)
            if (h->conns[i]->state == order[k] &&
                (best < 0 || h->conns[i]->accepted_ms < h->conns[best]->accepted_ms))
                best = (long)i;
        if (best >= 0)
            return best;
    }
    return -1;
}

static void accept_some(struct httpd *h, int64_t now)
{
    for (int k = 0; k < HTTPD_ACCEPT_BATCH; k++) {
        union {
            struct sockaddr sa;
            struct sockaddr_in in4;
            struct sockaddr_in6 in6;
        } a;
        socklen_t alen = sizeof(a);
        struct conn *c;
        long v;
        int fd = accept(h->lfd, &a.sa, &alen);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if ((errno == EMFILE || errno == ENFILE) && (v = pick_victim(h)) >= 0) {
                conn_abort(h, (size_t)v, 503); /* frees a descriptor; try again */
                h->evicted++;
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                char eb[128];
                log_warn("%s: accept: %s", h->name, util_strerror(errno, eb, sizeof(eb)));
                h->accept_pause_ms = now + 100;
            }
            return;
        }
        if ((size_t)h->nconns >= (size_t)h->o.max_conns) {
            if ((v = pick_victim(h)) < 0) {
                close(fd);
                continue;
            }
            conn_abort(h, (size_t)v, 503);
            h->evicted++;
        }
        if (set_nonblock(fd) < 0 || !(c = calloc(1, sizeof(*c)))) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->state = CONN_READ;
        c->accepted_ms = now;
        c->deadline_ms = now + h->o.read_timeout_ms;
        c->pi = -1;
        if (a.sa.sa_family == AF_INET6)
            inet_ntop(AF_INET6, &a.in6.sin6_addr, c->peer, sizeof(c->peer));
        else
            inet_ntop(AF_INET, &a.in4.sin_addr, c->peer, sizeof(c->peer));
        h->conns[h->nconns++] = c;
    }
}

/* Close what ran out of time; warn (at most once a minute) about pressure. */
static void expire(struct httpd *h, int64_t now)
{
    for (size_t i = 0; i < h->nconns;) {
        struct conn *c = h->conns[i];
        if (c->state == CONN_BUSY || c->deadline_ms > now) {
            i++;
            continue;
        }
        if (c->state == CONN_READ) {
            h->timed_out++;
            conn_abort(h, i, 408);
        } else {
            h->timed_out += c->state == CONN_WRITE;
            conn_drop(h, i);
        }
    }
    if ((h->evicted || h->timed_out) && now - h->warned_ms >= HTTPD_WARN_EVERY_MS) {
        log_warn("%s: %lu connection(s) closed to make room for new ones, %lu timed out "
                 "(a port scan, a stuck scraper or a slow client?)",
                 h->name, h->evicted, h->timed_out);
        h->evicted = h->timed_out = 0;
        h->warned_ms = now;
    }
}

static void *io_main(void *arg)
{
    struct httpd *h = arg;

    for (;;) {
        int64_t now = util_mono_ms(), next = now + HTTPD_POLL_MAX_MS;
        nfds_t np = 0;
        struct conn *done;
        bool stop;

        h->pfd[np++] = (struct pollfd){h->wake[0], POLLIN, 0};
        h->pfd[np++] =
            (struct pollfd){now >= h->accept_pause_ms ? h->lfd : -1, POLLIN, 0};
        for (size_t i = 0; i < h->nconns; i++) {
            struct conn *c = h->conns[i];
            c->pi = -1;
            if (c->state == CONN_BUSY)
                continue;
            c->pi = (int)np;
            h->pfd[np++] =
                (struct pollfd){c->fd, c->state == CONN_WRITE ? POLLOUT : POLLIN, 0};
            if (c->deadline_ms < next)
                next = c->deadline_ms;
        }
        if (h->accept_pause_ms > now && h->accept_pause_ms < next)
            next = h->accept_pause_ms;
        if (poll(h->pfd, np, next > now ? (int)(next - now) : 0) < 0 && errno != EINTR) {
            char eb[128];
            log_warn("%s: poll: %s", h->name, util_strerror(errno, eb, sizeof(eb)));
            util_sleep_ms(100, NULL);
            continue;
        }
        now = util_mono_ms();
        if (h->pfd[0].revents) {
            char sink[256];
            while (read(h->wake[0], sink, sizeof(sink)) > 0)
                ;
        }
        pthread_mutex_lock(&h->mu);
        stop = h->stopping;
        done = h->done;
        h->done = NULL;
        pthread_mutex_unlock(&h->mu);
        if (stop)
            break;
        for (; done; done = done->next)
            if (conn_respond(h, done, now) < 0) {
                done->state = CONN_LINGER; /* expire() below closes it */
                done->deadline_ms = 0;
            }
        for (size_t i = 0; i < h->nconns;) {
            struct conn *c = h->conns[i];
            short ev = c->pi >= 0 ? h->pfd[c->pi].revents : 0;
            int rc = 0;
            if (ev && c->state == CONN_READ)
                rc = conn_read(h, c, now);
            else if (ev && c->state == CONN_WRITE)
                rc = (ev & (POLLERR | POLLHUP)) && !(ev & POLLOUT) ? -1
                                                                   : conn_flush(c, now);
            else if (ev && c->state == CONN_LINGER)
                rc = conn_discard(c);
            if (rc < 0) {
                conn_drop(h, i);
                continue;
            }
            i++;
        }
        if (h->pfd[1].fd >= 0 && h->pfd[1].revents)
            accept_some(h, now);
        expire(h, now);
    }
    return NULL;
}

static void *worker_main(void *arg)
{
    struct httpd *h = arg;

    for (;;) {
        struct conn *c;
        pthread_mutex_lock(&h->mu);
        while (!h->stopping && !h->q_head)
            pthread_cond_wait(&h->cv, &h->mu);
        if (h->stopping) {
            pthread_mutex_unlock(&h->mu);
            return NULL;
        }
        c = h->q_head;
        if (!(h->q_head = c->next))
            h->q_tail = NULL;
        h->q_len--;
        pthread_mutex_unlock(&h->mu);
        c->route->fn(h->opaque, &c->req, &c->resp);
        pthread_mutex_lock(&h->mu);
        c->next = h->done;
        h->done = c;
        pthread_mutex_unlock(&h->mu);
        wake(h);
    }
}

/* --- starting and stopping --- */

/* Bind and listen; fills h->lfd and h->port. Returns 0 or -1 with errstr. */
static int open_listener(struct httpd *h, const char *where, char *errstr,
                         size_t errstr_size)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } a;
    socklen_t alen = sizeof(a);
    unsigned len = 0;
    char eb[128];
    int one = 1;

    if (httpmsg_parse_listen(where, &a, sizeof(a), &len, errstr, errstr_size) < 0)
        return -1;
    if ((h->lfd = socket(a.sa.sa_family, SOCK_STREAM, 0)) < 0 ||
        set_nonblock(h->lfd) < 0 ||
        setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(h->lfd, &a.sa, (socklen_t)len) < 0 || listen(h->lfd, 128) < 0 ||
        getsockname(h->lfd, &a.sa, &alen) < 0) {
        snprintf(errstr, errstr_size, "cannot listen on %s: %s", where,
                 util_strerror(errno, eb, sizeof(eb)));
        return -1;
    }
    h->port = ntohs(a.sa.sa_family == AF_INET6 ? a.in6.sin6_port : a.in4.sin_port);
    return 0;
}

struct httpd *httpd_start(const char *where, const struct httpd_route *routes,
                          size_t nroutes, void *opaque, const struct httpd_options *opts,
                          char *errstr, size_t errstr_size)
{
    struct httpd *h = calloc(1, sizeof(*h));
    bool mu = false, io = false;

    if (!h) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    h->lfd = h->wake[0] = h->wake[1] = -1;
    if (opts)
        h->o = *opts;
    snprintf(h->name, sizeof(h->name), "%s", h->o.name ? h->o.name : "metrics http");
    h->o.name = h->name;
    if (!h->o.workers)
        h->o.workers = 2;
    if (h->o.workers > HTTPD_MAX_WORKERS)
        h->o.workers = HTTPD_MAX_WORKERS;
    if (h->o.max_conns <= 0)
        h->o.max_conns = HTTPD_MAX_CONNS;
    if (h->o.read_timeout_ms <= 0)
        h->o.read_timeout_ms = HTTPD_READ_TIMEOUT_MS;
    if (h->o.write_timeout_ms <= 0)
        h->o.write_timeout_ms = HTTPD_WRITE_TIMEOUT_MS;
    h->opaque = opaque;
    h->nroutes = nroutes;
    if ((nroutes && !(h->routes = calloc(nroutes, sizeof(*routes)))) ||
        !(h->conns = calloc((size_t)h->o.max_conns, sizeof(*h->conns))) ||
        !(h->pfd = calloc((size_t)h->o.max_conns + 2, sizeof(*h->pfd)))) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    if (nroutes)
        memcpy(h->routes, routes, nroutes * sizeof(*routes));
    if (open_listener(h, where, errstr, errstr_size) < 0)
        goto fail;
    if (pipe(h->wake) < 0 || set_nonblock(h->wake[0]) < 0 ||
        set_nonblock(h->wake[1]) < 0) {
        snprintf(errstr, errstr_size, "cannot create a pipe");
        goto fail;
    }
    if (pthread_mutex_init(&h->mu, NULL) != 0 || pthread_cond_init(&h->cv, NULL) != 0) {
        snprintf(errstr, errstr_size, "cannot create a mutex");
        goto fail;
    }
    mu = true;
    if (pthread_create(&h->io, NULL, io_main, h) != 0) {
        snprintf(errstr, errstr_size, "cannot start the I/O thread");
        goto fail;
    }
    io = true;
    for (; h->nworkers < h->o.workers; h->nworkers++)
        if (pthread_create(&h->workers[h->nworkers], NULL, worker_main, h) != 0) {
            snprintf(errstr, errstr_size, "cannot start a worker thread");
            goto fail;
        }
    return h;
fail:
    if (io) {
        httpd_stop(h);
        return NULL;
    }
    if (mu) {
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
    }
    for (int i = 0; i < 2; i++)
        if (h->wake[i] >= 0)
            close(h->wake[i]);
    if (h->lfd >= 0)
        close(h->lfd);
    free(h->routes);
    free(h->conns);
    free(h->pfd);
    free(h);
    return NULL;
}

int httpd_port(const struct httpd *h)
{
    return h ? h->port : -1;
}

void httpd_stop(struct httpd *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stopping = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    wake(h);
    pthread_join(h->io, NULL);
    for (unsigned i = 0; i < h->nworkers; i++)
        pthread_join(h->workers[i], NULL);
    for (size_t i = 0; i < h->nconns; i++)
        conn_free(h->conns[i]);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    close(h->wake[0]);
    close(h->wake[1]);
    close(h->lfd);
    free(h->routes);
    free(h->conns);
    free(h->pfd);
    free(h);
}
