/* test_httpd.c -- the HTTP server behind /metrics, /healthz and /readyz
 * (common/httpd.c): routing and bad requests, and above all that health answers
 * under connection pressure (issue 11 item 12: 64 idle connections made /healthz time
 * out). Talks raw TCP on 127.0.0.1 so each test controls every byte and every delay.
 * Every wait is bounded; the bounds are generous and only tell "answers" from "hangs".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd.h"
#include "util.h"

#define ANSWER_MS 3000 /* an answer within this is an answer; the old code hung */

/* --- a client --- */

/* A connection to 127.0.0.1:port; rcvbuf > 0 sets a small receive buffer first. */
static int dial_buf(int port, int rcvbuf)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    if (rcvbuf > 0)
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)),
                         0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static int dial(int port)
{
    return dial_buf(port, 0);
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

/* Read until EOF or timeout_ms into out (NUL-terminated, cut at size). Returns the
 * bytes read, or -1 on timeout before EOF. */
static long read_all(int fd, char *out, size_t size, int timeout_ms)
{
    int64_t end = util_mono_ms() + timeout_ms;
    size_t got = 0;

    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int64_t left = end - util_mono_ms();
        char sink[4096];
        ssize_t n;
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            out[got < size ? got : size - 1] = '\0';
            return -1;
        }
        n = recv(fd, sink, sizeof(sink), 0);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            if (got + 1 < size)
                out[got++] = sink[i];
    }
    out[got] = '\0';
    return (long)got;
}

/* Send `request` on a new connection and return the status of the answer, 0 if the
 * connection closed without one, -1 if nothing came within timeout_ms. The response
 * goes to out. */
static int roundtrip(int port, const char *request, char *out, size_t size,
                     int timeout_ms)
{
    int fd = dial(port), status = 0;
    long n;

    send_all(fd, request, strlen(request));
    n = read_all(fd, out, size, timeout_ms);
    close(fd);
    if (n < 0)
        return -1;
    if (sscanf(out, "HTTP/1.1 %d ", &status) != 1)
        return 0;
    return status;
}

static int get(int port, const char *path, char *out, size_t size)
{
    char req[512];

    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    return roundtrip(port, req, out, size, ANSWER_MS);
}

static const char *body_of(const char *resp)
{
    const char *b = strstr(resp, "\r\n\r\n");

    return b ? b + 4 : "";
}

/* --- handlers --- */

static void h_health(void *opaque, const struct httpd_request *req,
                     struct httpd_response *resp)
{
    (void)opaque;
    (void)req;
    buf_puts(&resp->body, "ok\n");
}

/* Echoes what it saw: method, path, query, a header, the body, the peer. */
static void h_echo(void *opaque, const struct httpd_request *req,
                   struct httpd_response *resp)
{
    const char *x = httpd_header(req, "x-test");

    (void)opaque;
    resp->content_type = "text/x-echo";
    httpd_add_header(resp, "X-Seen", "yes");
    assert_int_equal(httpd_add_header(resp, "Bad", "a\r\nInjected: 1"), -1);
    buf_printf(&resp->body, "%s %s ?%s x=%s body=%zu:%s peer=%s\n", req->method,
               req->path, req->query, x ? x : "-", req->body_len, req->body, req->peer);
}

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    int entered;
};

static struct gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};

/* Blocks until the gate opens: a slow page or a stuck readiness check. */
static void h_slow(void *opaque, const struct httpd_request *req,
                   struct httpd_response *resp)
{
    (void)opaque;
    (void)req;
    pthread_mutex_lock(&gate.mu);
    gate.entered++;
    pthread_cond_broadcast(&gate.cv);
    while (!gate.open)
        pthread_cond_wait(&gate.cv, &gate.mu);
    pthread_mutex_unlock(&gate.mu);
    buf_puts(&resp->body, "slow\n");
}

static void h_big(void *opaque, const struct httpd_request *req,
                  struct httpd_response *resp)
{
    (void)opaque;
    (void)req;
    for (int i = 0; i < 64 * 1024; i++)
        buf_puts(&resp->body,
                 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n");
}

static const struct httpd_route routes[] = {
    {"/healthz", HTTPD_GET | HTTPD_HEAD, true, h_health},
    {"/echo", HTTPD_GET | HTTPD_HEAD | HTTPD_POST, false, h_echo},
    {"/tree/", HTTPD_GET, false, h_echo},
    {"/slow", HTTPD_GET, false, h_slow},
    {"/big", HTTPD_GET, false, h_big},
};

static struct httpd *start(const struct httpd_options *o)
{
    char err[256] = "";
    struct httpd *h =
        httpd_start("127.0.0.1:0", routes, sizeof(routes) / sizeof(routes[0]), NULL, o,
                    err, sizeof(err));

    if (!h)
        fail_msg("httpd_start: %s", err);
    assert_true(httpd_port(h) > 0);
    return h;
}

/* --- tests --- */

static void test_routes(void **state)
{
    struct httpd *h = start(NULL);
    int port = httpd_port(h);
    char out[8192];

    (void)state;
    assert_int_equal(get(port, "/healthz", out, sizeof(out)), 200);
    assert_string_equal(body_of(out), "ok\n");
    assert_non_null(strstr(out, "Content-Length: 3\r\n"));
    assert_non_null(strstr(out, "Connection: close\r\n"));

    assert_int_equal(
        roundtrip(port, "HEAD /healthz HTTP/1.0\r\n\r\n", out, sizeof(out), ANSWER_MS),
        200);
    assert_non_null(strstr(out, "Content-Length: 3\r\n"));
    assert_string_equal(body_of(out), "");

    assert_int_equal(
        roundtrip(port,
                  "GET /echo?a=1&b HTTP/1.1\r\nHost: t\r\nX-Test:  spaced \r\n"
                  "\r\n",
                  out, sizeof(out), ANSWER_MS),
        200);
    assert_non_null(strstr(out, "Content-Type: text/x-echo\r\n"));
    assert_non_null(strstr(out, "X-Seen: yes\r\n"));
    assert_null(strstr(out, "Injected"));
    assert_string_equal(body_of(out),
                        "GET /echo ?a=1&b x=spaced body=0: peer=127.0.0.1\n");

    /* a body, in two pieces, and bare-LF line ends */
    {
        int fd = dial(port);
        send_all(fd, "POST /echo HTTP/1.1\nContent-Length: 11\n\nhello", 45);
        util_sleep_ms(50, NULL);
        send_all(fd, " world", 6);
        assert_true(read_all(fd, out, sizeof(out), ANSWER_MS) > 0);
        close(fd);
        assert_string_equal(body_of(out),
                            "POST /echo ? x=- body=11:hello world peer=127.0.0.1\n");
    }
    /* Expect: 100-continue gets its interim answer, then the real one */
    {
        int fd = dial(port);
        const char *req = "POST /echo HTTP/1.1\r\nContent-Length: 2\r\n"
                          "Expect: 100-continue\r\n\r\n";
        send_all(fd, req, strlen(req));
        assert_true(read_all(fd, out, 64, 300) < 0); /* not closed: waiting */
        assert_non_null(strstr(out, "HTTP/1.1 100 Continue\r\n\r\n"));
        send_all(fd, "ok", 2);
        assert_true(read_all(fd, out, sizeof(out), ANSWER_MS) > 0);
        close(fd);
        assert_non_null(strstr(out, "body=2:ok"));
    }

    assert_int_equal(get(port, "/tree/a/b", out, sizeof(out)), 200);
    assert_non_null(strstr(body_of(out), "GET /tree/a/b ?"));
    assert_int_equal(get(port, "/tree", out, sizeof(out)), 404);
    assert_int_equal(get(port, "/healthz/x", out, sizeof(out)), 404);
    assert_int_equal(get(port, "/", out, sizeof(out)), 404);
    assert_string_equal(body_of(out), "not found\n");

    assert_int_equal(roundtrip(port,
                               "POST /healthz HTTP/1.1\r\nContent-Length: 3\r\n\r\nx=1",
                               out, sizeof(out), ANSWER_MS),
                     405);
    assert_non_null(strstr(out, "Allow: GET, HEAD\r\n"));
    assert_int_equal(
        roundtrip(port, "DELETE /echo HTTP/1.1\r\n\r\n", out, sizeof(out), ANSWER_MS),
        405);
    assert_non_null(strstr(out, "Allow: GET, HEAD, POST\r\n"));

    /* a big response arrives whole */
    {
        static char big[5 << 20];
        int fd = dial(port);
        long n;
        send_all(fd, "GET /big HTTP/1.1\r\n\r\n", 21);
        n = read_all(fd, big, sizeof(big), 10000);
        close(fd);
        assert_true(n > 4 * 1024 * 1024);
        assert_non_null(strstr(big, "Content-Length: 4194304\r\n"));
        assert_int_equal(strlen(body_of(big)), 4194304);
    }
    httpd_stop(h);
}

static void test_bad_requests(void **state)
{
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        {"garbage\r\n\r\n", 400},
        {"GET healthz HTTP/1.1\r\n\r\n", 400},
        {"get /healthz HTTP/1.1\r\n\r\n", 400},
        {"GET /healthz HTTP/2.0\r\n\r\n", 505},
        {"GET /healthz SPDY\r\n\r\n", 400},
        {"GET /a b HTTP/1.1\r\n\r\n", 400},
        {"GET /healthz HTTP/1.1\r\nno colon\r\n\r\n", 400},
        {"GET /healthz HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n", 400},
        {"GET /healthz HTTP/1.1\r\nA: \x01\r\n\r\n", 400},
        {"POST /echo HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400},
        {"POST /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
        {"POST /echo HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 413},
        {"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
    };
    struct httpd *h = start(NULL);
    int port = httpd_port(h);
    char out[8192], *big;
    struct buf b;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int st = roundtrip(port, cases[i].req, out, sizeof(out), ANSWER_MS);
        if (st != cases[i].status)
            fail_msg("%s: got %d, want %d", cases[i].req, st, cases[i].status);
    }
    /* a NUL in the headers */
    {
        int fd = dial(port);
        send_all(fd, "GET /healthz HTTP/1.1\r\nA: x\0y\r\n\r\n", 33);
        assert_true(read_all(fd, out, sizeof(out), ANSWER_MS) > 0);
        close(fd);
        assert_non_null(strstr(out, "HTTP/1.1 400 "));
    }
    /* too many headers, headers too long */
    buf_init(&b, 1 << 20);
    buf_puts(&b, "GET /healthz HTTP/1.1\r\n");
    for (int i = 0; i <= HTTPD_MAX_HEADERS; i++)
        buf_printf(&b, "H%d: v\r\n", i);
    buf_puts(&b, "\r\n");
    big = buf_detach(&b, NULL);
    assert_int_equal(roundtrip(port, big, out, sizeof(out), ANSWER_MS), 431);
    free(big);
    buf_init(&b, 1 << 20);
    buf_puts(&b, "GET /healthz HTTP/1.1\r\nCookie: ");
    for (int i = 0; i < HTTPD_HEAD_MAX; i++)
        buf_puts(&b, "c");
    buf_puts(&b, "\r\n\r\n");
    big = buf_detach(&b, NULL);
    assert_int_equal(roundtrip(port, big, out, sizeof(out), ANSWER_MS), 431);
    free(big);
    /* and the server is still fine */
    assert_int_equal(get(port, "/healthz", out, sizeof(out)), 200);
    httpd_stop(h);
}

/* Issue 11 item 12. More idle connections than the limit, and half-sent requests
 * trickling a byte at a time: every health check still answers, and the connections
 * that waited longest were the ones closed. */
static void test_health_under_pressure(void **state)
{
    enum { IDLE = HTTPD_MAX_CONNS + 44, HALF = 32 };
    struct httpd *h = start(NULL);
    int port = httpd_port(h);
    int idle[IDLE], half[HALF], closed_early = 0;
    char out[4096];
    struct rlimit rl;

    (void)state;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * IDLE + 64) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (int i = 0; i < IDLE; i++)
        idle[i] = dial(port);
    for (int i = 0; i < HALF; i++) {
        half[i] = dial(port);
        send_all(half[i], "GET /healthz HTTP/1.1\r\nHost: ", 29);
    }
    util_sleep_ms(200, NULL);
    for (int round = 0; round < 5; round++) {
        int64_t t0 = util_mono_ms();
        assert_int_equal(get(port, "/healthz", out, sizeof(out)), 200);
        assert_true(util_mono_ms() - t0 < ANSWER_MS);
        for (int i = 0; i < HALF; i++) {
            ssize_t w = send(half[i], "x", 1, MSG_NOSIGNAL);
            (void)w;
        }
    }
    /* The first idle connections were closed to make room (with a 503 or nothing). */
    for (int i = 0; i < IDLE; i++) {
        struct pollfd p = {idle[i], POLLIN, 0};
        if (poll(&p, 1, 0) == 1)
            closed_early++;
    }
    assert_true(closed_early >= IDLE + HALF - HTTPD_MAX_CONNS);
    {
        struct pollfd p = {idle[0], POLLIN, 0};
        assert_int_equal(poll(&p, 1, 0), 1);
    }
    for (int i = 0; i < IDLE; i++)
        close(idle[i]);
    for (int i = 0; i < HALF; i++)
        close(half[i]);
    httpd_stop(h);
}

/* A request must be complete within the read deadline from the accept, however
 * steadily it trickles in; then the client gets a 408 and the connection is closed. */
static void test_read_deadline(void **state)
{
    struct httpd_options o = {"test", 0, 0, 400, 0};
    struct httpd *h = start(&o);
    int port = httpd_port(h), fd;
    const char *req = "GET /healthz HTTP/1.1\r\nHost: trickle.example\r\n";
    char out[1024];
    int64_t t0;
    bool closed = false;

    (void)state;
    fd = dial(port);
    t0 = util_mono_ms();
    for (size_t i = 0; i < strlen(req) && !closed; i++) {
        struct pollfd p = {fd, POLLIN, 0};
        if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1 || poll(&p, 1, 50) == 1)
            closed = true;
    }
    assert_true(read_all(fd, out, sizeof(out), ANSWER_MS) >= 0);
    close(fd);
    assert_true(closed);
    assert_non_null(strstr(out, "HTTP/1.1 408 "));
    assert_true(util_mono_ms() - t0 < ANSWER_MS);
    /* An idle connection gets the same. */
    fd = dial(port);
    assert_true(read_all(fd, out, sizeof(out), ANSWER_MS) >= 0);
    close(fd);
    assert_non_null(strstr(out, "HTTP/1.1 408 "));
    httpd_stop(h);
}

/* Slow handlers run on workers: while every worker is stuck and the queue is full,
 * health (a fast route) still answers, and a page gets 503 at once. */
static void test_slow_handlers(void **state)
{
    struct httpd_options o = {"test", 2, 0, 30000, 0};
    struct httpd *h = start(&o);
    int port = httpd_port(h);
    int fds[2 + HTTPD_QUEUE_MAX];
    char out[4096];

    (void)state;
    gate.open = false;
    gate.entered = 0;
    /* Both workers stuck first, then a full queue behind them. */
    for (int i = 0; i < 2 + HTTPD_QUEUE_MAX; i++) {
        fds[i] = dial(port);
        send_all(fds[i], "GET /slow HTTP/1.1\r\n\r\n", 22);
        if (i != 1)
            continue;
        pthread_mutex_lock(&gate.mu);
        while (gate.entered < 2)
            pthread_cond_wait(&gate.cv, &gate.mu);
        pthread_mutex_unlock(&gate.mu);
    }
    util_sleep_ms(200, NULL); /* the rest is queued by now */
    assert_int_equal(get(port, "/healthz", out, sizeof(out)), 200);
    assert_int_equal(get(port, "/echo", out, sizeof(out)), 503);
    pthread_mutex_lock(&gate.mu);
    gate.open = true;
    pthread_cond_broadcast(&gate.cv);
    pthread_mutex_unlock(&gate.mu);
    for (int i = 0; i < 2 + HTTPD_QUEUE_MAX; i++) {
        assert_true(read_all(fds[i], out, sizeof(out), 10000) > 0);
        assert_string_equal(body_of(out), "slow\n");
        close(fds[i]);
    }
    assert_int_equal(get(port, "/echo", out, sizeof(out)), 200);
    httpd_stop(h);
}

/* A client that asks for a big response and never reads it is dropped at the write
 * deadline; the server goes on. */
static void test_write_deadline(void **state)
{
    struct httpd_options o = {"test", 0, 0, 0, 300};
    struct httpd *h = start(&o);
    int port = httpd_port(h), fd;
    char out[4096];
    long n;

    (void)state;
    fd = dial_buf(port, 4096);
    send_all(fd, "GET /big HTTP/1.1\r\n\r\n", 21);
    util_sleep_ms(1500, NULL); /* never reading: the server gives up after 300 ms */
    assert_int_equal(get(port, "/healthz", out, sizeof(out)), 200);
    {
        static char big[5 << 20];
        n = read_all(fd, big, sizeof(big), 5000);
    }
    close(fd);
    assert_true(n < 4194304); /* cut short: the connection was closed */
    httpd_stop(h);
}

static void test_start_errors(void **state)
{
    static const char *const bad[] = {
        "",       "127.0.0.1", "127.0.0.1:", ":99999", ":80x", "localhost:80",
        "::1:80", "[::1]",     "[nope]:80"};
    char err[256], listen_at[32];
    struct httpd *h;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_null(httpd_start(bad[i], routes, 1, NULL, NULL, err, sizeof(err)));
        assert_non_null(strstr(err, "listen address"));
    }
    h = start(NULL);
    snprintf(listen_at, sizeof(listen_at), "127.0.0.1:%d", httpd_port(h));
    assert_null(httpd_start(listen_at, routes, 1, NULL, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "cannot listen on 127.0.0.1:"));
    httpd_stop(h);
    httpd_stop(NULL);
    assert_int_equal(httpd_port(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_health_under_pressure),
        cmocka_unit_test(test_read_deadline),
        cmocka_unit_test(test_slow_handlers),
        cmocka_unit_test(test_write_deadline),
        cmocka_unit_test(test_start_errors),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
