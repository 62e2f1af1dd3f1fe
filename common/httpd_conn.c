/* httpd_conn.c -- see httpd.h: one connection of the server, on the I/O thread:
 * reading its request (the syntax is httpmsg.c), finding the route, running a fast
 * handler or queueing it for a worker, sending the response, lingering; and the
 * request and response helpers handlers use. The server around it is httpd.c. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd.h"
#include "httpd_int.h"
#include "httpmsg.h"
#include "log.h"

#define HTTPD_LINGER_MS 500    /* after the response: read what the client sends */
#define HTTPD_LINGER_MAX 65536 /* bytes discarded while lingering */

/* --- for handlers --- */

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

/* --- connections --- */

void httpd_conn_free(struct conn *c)
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
void httpd_conn_drop(struct httpd *h, size_t i)
{
    httpd_conn_free(h->conns[i]);
    h->conns[i] = h->conns[--h->nconns];
}

/* Send a short fixed response without waiting and close: for connections refused
 * or given up, where nothing more is owed. */
void httpd_conn_abort(struct httpd *h, size_t i, int status)
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
    httpd_conn_drop(h, i);
}

/* The response is complete: send the write side's FIN, then discard input briefly. */
static void conn_linger(struct conn *c, int64_t now)
{
    shutdown(c->fd, SHUT_WR);
    c->state = CONN_LINGER;
    c->deadline_ms = now + HTTPD_LINGER_MS;
}

/* Send what is left of c->out. Returns -1 if the connection is to be closed. */
int httpd_conn_flush(struct conn *c, int64_t now)
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
int httpd_conn_respond(struct httpd *h, struct conn *c, int64_t now)
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
    return httpd_conn_flush(c, now);
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
    return httpd_conn_respond(h, c, now);
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
        return httpd_conn_respond(h, c, now);
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
int httpd_conn_read(struct httpd *h, struct conn *c, int64_t now)
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
int httpd_conn_discard(struct conn *c)
{
    char sink[4096];
    ssize_t n = recv(c->fd, sink, sizeof(sink), 0);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (n <= 0 || (c->lingered += (size_t)n) > HTTPD_LINGER_MAX)
        return -1;
    return 0;
}
