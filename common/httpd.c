/* httpd.c -- see httpd.h: the server; one connection's request and response are
 * httpd_conn.c.
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
#include <sys/socket.h>
#include <unistd.h>

#include "httpd_int.h"
#include "httpmsg.h"
#include "log.h"

#define HTTPD_ACCEPT_BATCH 64     /* accepts per poll round, so reads are not starved */
#define HTTPD_WARN_EVERY_MS 60000 /* at most one pressure warning a minute */
#define HTTPD_POLL_MAX_MS 1000

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
                httpd_conn_abort(h, (size_t)v, 503); /* frees a descriptor; try again */
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
            httpd_conn_abort(h, (size_t)v, 503);
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
            httpd_conn_abort(h, i, 408);
        } else {
            h->timed_out += c->state == CONN_WRITE;
            httpd_conn_drop(h, i);
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
            if (httpd_conn_respond(h, done, now) < 0) {
                done->state = CONN_LINGER; /* expire() below closes it */
                done->deadline_ms = 0;
            }
        for (size_t i = 0; i < h->nconns;) {
            struct conn *c = h->conns[i];
            short ev = c->pi >= 0 ? h->pfd[c->pi].revents : 0;
            int rc = 0;
            if (ev && c->state == CONN_READ)
                rc = httpd_conn_read(h, c, now);
            else if (ev && c->state == CONN_WRITE)
                rc = (ev & (POLLERR | POLLHUP)) && !(ev & POLLOUT)
                         ? -1
                         : httpd_conn_flush(c, now);
            else if (ev && c->state == CONN_LINGER)
                rc = httpd_conn_discard(c);
            if (rc < 0) {
                httpd_conn_drop(h, i);
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
        httpd_conn_free(h->conns[i]);
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
