/* test_deliver.c -- HTTP delivery with retries (common/deliver.c) against an
 * in-process libmicrohttpd server scripted per path. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <microhttpd.h>

#include "deliver.h"
#include "log.h"
#include "util.h"

#define BODY "{\"text\":\"hello\"}"
#define API_OK "{\"ok\":true,\"channel\":\"C1\",\"ts\":\"1700000000.000100\"}"

/* One scripted answer; the last step of a route repeats. */
struct step {
    unsigned status;
    const char *body;
    const char *retry_after; /* header value, or NULL */
    int delay_ms;            /* sleep before answering */
};

struct route {
    const char *path;
    const struct step *steps;
    size_t nsteps;
    int hits;
};

#define S(...)                                                                           \
    (const struct step[])                                                                \
    {                                                                                    \
        __VA_ARGS__                                                                      \
    }
#define ROUTE(p, ...)                                                                    \
    {                                                                                    \
        p, S(__VA_ARGS__), sizeof(S(__VA_ARGS__)) / sizeof(struct step), 0               \
    }

static char big_body[100 * 1024];

static struct route routes[] = {
    ROUTE("/ok", {200, "ok", NULL, 0}),
    ROUTE("/ratelimit", {429, "rate_limited", "1", 0}, {200, "ok", NULL, 0}),
    ROUTE("/flaky", {500, "oops", NULL, 0}, {502, "", NULL, 0}, {200, "ok", NULL, 0}),
    ROUTE("/invalid", {400, "invalid_payload\n", NULL, 0}),
    ROUTE("/gone", {404, "channel_not_found", NULL, 0}),
    ROUTE("/archived", {410, "channel_is_archived", NULL, 0}),
    ROUTE("/html", {403, "<html><body>Forbidden at host x</body></html>", NULL, 0}),
    ROUTE("/big", {400, big_body, NULL, 0}),
    ROUTE("/down", {503, "unavailable", NULL, 0}),
    ROUTE("/slow", {200, "ok", NULL, 600}, {200, "ok", NULL, 0}),
    ROUTE("/redir", {302, "", NULL, 0}),
    ROUTE("/okslow", {200, "ok", NULL, 60}),
    ROUTE("/hang", {200, "ok", NULL, 5000}),
    ROUTE("/api/chat.postMessage", {200, API_OK, NULL, 0}),
    ROUTE("/api2/chat.postMessage",
          {200, "{\"ok\":false,\"error\":\"channel_not_found\"}", NULL, 0}),
    ROUTE("/api3/chat.postMessage",
          {200, "{\"ok\":false,\"error\":\"ratelimited\"}", NULL, 0},
          {200, API_OK, NULL, 0}),
    ROUTE("/api4/chat.postMessage", {429, "", "1", 0}, {200, API_OK, NULL, 0}),
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct MHD_Daemon *daemon_h;
static unsigned short port;
static volatile int server_closing;
static int inflight, inflight_max;
static char last_auth[256], last_ctype[128], last_path[128];
static char last_body[4096];

struct req {
    char body[4096];
    size_t len;
};

static struct route *find_route(const char *path)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (strcmp(routes[i].path, path) == 0)
            return &routes[i];
    return NULL;
}

static int hits(const char *path)
{
    int n;

    pthread_mutex_lock(&mu);
    n = find_route(path)->hits;
    pthread_mutex_unlock(&mu);
    return n;
}

static void copy_hdr(char *dst, size_t size, const char *v)
{
    snprintf(dst, size, "%s", v ? v : "");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct req *r = *con_cls;
    struct MHD_Response *resp;
    struct route *rt;
    struct step st = {404, "no_service", NULL, 0};
    char *body;
    enum MHD_Result ret;
    (void)cls;
    (void)method;
    (void)version;

    if (!r) {
        if (!(r = calloc(1, sizeof(*r))))
            return MHD_NO;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        if (n > sizeof(r->body) - 1 - r->len)
            n = sizeof(r->body) - 1 - r->len;
        memcpy(r->body + r->len, upload_data, n);
        r->len += n;
        *upload_data_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&mu);
    if ((rt = find_route(url)) != NULL) {
        size_t i = (size_t)rt->hits < rt->nsteps ? (size_t)rt->hits : rt->nsteps - 1;
        st = rt->steps[i];
        rt->hits++;
    }
    copy_hdr(last_auth, sizeof(last_auth),
             MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"));
    copy_hdr(last_ctype, sizeof(last_ctype),
             MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"));
    copy_hdr(last_path, sizeof(last_path), url);
    copy_hdr(last_body, sizeof(last_body), r->body);
    if (++inflight > inflight_max)
        inflight_max = inflight;
    pthread_mutex_unlock(&mu);
    for (int slept = 0; slept < st.delay_ms && !server_closing; slept += 10)
        nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
    pthread_mutex_lock(&mu);
    inflight--;
    pthread_mutex_unlock(&mu);

    if (!(body = strdup(st.body)))
        return MHD_NO;
    resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    if (st.retry_after)
        MHD_add_response_header(resp, "Retry-After", st.retry_after);
    if (st.status == 302)
        MHD_add_response_header(resp, "Location", "/ok");
    ret = MHD_queue_response(c, st.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

static int group_setup(void **state)
{
    struct sockaddr_in sa;
    const union MHD_DaemonInfo *info;
    (void)state;

    memset(big_body, 'x', sizeof(big_body) - 1);
    log_init("test_deliver", LOG_WARN, LOG_TEXT);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    daemon_h =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                         0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &sa,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (!daemon_h)
        return -1;
    info = MHD_get_daemon_info(daemon_h, MHD_DAEMON_INFO_BIND_PORT);
    if (!info || info->port == 0)
        return -1;
    port = info->port;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    server_closing = 1;
    MHD_stop_daemon(daemon_h);
    curl_global_cleanup();
    return 0;
}

static int reset(void **state)
{
    (void)state;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        routes[i].hits = 0;
    inflight = inflight_max = 0;
    last_auth[0] = last_ctype[0] = last_path[0] = last_body[0] = '\0';
    pthread_mutex_unlock(&mu);
    return 0;
}

/* Small, fast options for tests. */
static void test_opts(struct deliver_opts *o)
{
    deliver_opts_default(o);
    o->timeout_ms = 2000;
    o->max_attempts = 5;
    o->backoff_initial_ms = 20;
    o->backoff_max_ms = 80;
    o->give_up_ms = 10000;
    o->retry_after_max_ms = 5000;
    o->max_parallel = 4;
}

static char *url_for(const char *path)
{
    char buf[256];

    snprintf(buf, sizeof(buf), "http://127.0.0.1:%u%s", port, path);
    return strdup(buf);
}

/* Deliver one body to a webhook (or Web API base) at path; fills *out. */
static void run_one(const struct deliver_opts *o, enum receiver_type type,
                    const char *path, struct delivery *out)
{
    char name[] = "test-receiver", token[] = "xoxb-test-secret", channel[] = "C1";
    char *url = url_for(path);
    struct receiver r = {.name = name, .type = type, .url = url, .channel = channel};
    char err[128] = "";
    struct deliverer *d = deliverer_new(o, err, sizeof(err));
    size_t n_ok;

    assert_non_null(d);
    assert_non_null(r.url);
    if (type == RECEIVER_WEBAPI)
        r.token = token;
    memset(out, 0, sizeof(*out));
    out->rcv = &r;
    out->body = BODY;
    n_ok = deliverer_run(d, out, 1, NULL);
    assert_int_equal(n_ok, out->status == DELIVER_OK ? 1 : 0);
    out->rcv = NULL; /* r is gone */
    /* no secret in the reason */
    assert_null(strstr(out->reason, "127.0.0.1"));
    assert_null(strstr(out->reason, "xoxb"));
    deliverer_free(d);
    free(url);
}

static void test_ok(void **state)
{
    struct deliver_opts o;
    struct delivery it;
    int64_t t0 = util_now_ms();
    (void)state;

    test_opts(&o);
    run_one(&o, RECEIVER_WEBHOOK, "/ok", &it);
    assert_int_equal(it.status, DELIVER_OK);
    assert_int_equal(it.attempts, 1);
    assert_int_equal(it.http_status, 200);
    assert_string_equal(it.reason, "");
    assert_string_equal(it.ts, "");
    assert_true(it.done_ms >= t0 && it.done_ms <= util_now_ms());
    assert_int_equal(hits("/ok"), 1);
    assert_string_equal(last_ctype, "application/json; charset=utf-8");
    assert_string_equal(last_auth, "");
    assert_string_equal(last_body, BODY);
}

static void test_429_retry_after(void **state)
{
    struct deliver_opts o;
    struct delivery it;
    int64_t t0 = util_mono_ms(), took;
    (void)state;

    test_opts(&o);
    run_one(&o, RECEIVER_WEBHOOK, "/ratelimit", &it);
    took = util_mono_ms() - t0;
    assert_int_equal(it.status, DELIVER_OK);
    assert_int_equal(it.attempts, 2);
    assert_int_equal(hits("/ratelimit"), 2);
    assert_true(took >= 950); /* Retry-After: 1, not the 20 ms backoff */
    assert_true(took < 3000);
}

static void test_429_retry_after_capped(void **state)
{
    struct deliver_opts o;
    struct delivery it;
    int64_t t0 = util_mono_ms(), took;
    (void)state;

    test_opts(&o);
    o.retry_after_max_ms = 100;
    run_one(&o, RECEIVER_WEBHOOK, "/ratelimit", &it);
    took = util_mono_ms() - t0;
    assert_int_equal(it.status, DELIVER_OK);
    assert_int_equal(it.attempts, 2);
    assert_true(took >= 90);
    assert_true(took < 900);
}

static void test_5xx_then_ok(void **state)
{
    struct deliver_opts o;
    struct delivery it;
    (void)state;

    test_opts(&o);
    run_one(&o, RECEIVER_WEBHOOK, "/flaky", &it);
    assert_int_equal(it.status, DELIVER_OK);
    assert_int_equal(it.attempts, 3);
    assert_int_equal(hits("/flaky"), 3);
    assert_int_equal(it.http_status, 200);
}

static void test_permanent_answers(void **state)
{
    static const struct {
        const char *path, *reason;
        long status;
    } cases[] = {
        {"/invalid", "invalid_payload", 400},
        {"/gone", "channel_not_found", 404},
        {"/archived", "channel_is_archived", 410},
        {"/html", "http_403", 403},
        {"/big", "http_400", 400},
        {"/redir", "http_302", 302},
    };
    struct deliver_opts o;
    struct delivery it;
    (void)state;

    test_opts(&o);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_one(&o, RECEIVER_WEBHOOK, cases[i].path, &it);
        assert_int_equal(it.status, DELIVER_PERMANENT);
        assert_string_equal(it.reason, cases[i].reason);
        assert_int_equal(it.attempts, 1);
        assert_int_equal(it.http_status, cases[i].status);
        assert_int_equal(hits(cases[i].path), 1);
        assert_int_equal(it.done_ms, 0);
    }
    assert_int_equal(hits("/ok"), 0); /* the redirect was not followed */
}

static void test_5xx_gives_up(void **state)
{
    struct deliver_opts o;
    struct delivery it;
    (void)state;

    test_opts(&o);
    o.max_attempts = 4;
    run_one(&o, RECEIVER_WEBHOOK, "/down", &it);
    assert_int_equal(it.status, DELIVER_GAVE_UP);
    assert_int_equal(it.attempts, 4);
    assert_string_equal(it.reason, "http_503");
    assert_int_equal(it.http_status, 503);
    assert_int_equal(hits("/down"), 4);
}

static void test_give_up_time(void **state)
{
    struct deliver_opts o;
    struct delivery it;
    int64_t t0 = util_mono_ms();
    (void)state;

    test_opts(&o);
    o.max_attempts = 100;
    o.backoff_initial_ms = 50;
    o.backoff_max_ms = 50;
    o.give_up_ms = 300;
    run_one(&o, RECEIVER_WEBHOOK, "/down", &it);
    assert_int_equal(it.status, DELIVER_GAVE_UP);
    assert_true(it.attempts >= 2 && it.attempts < 100);
    assert_true(util_mono_ms() - t0 < 1000);
}

static void test_webapi_ok(void **state)
{
    struct deliver_opts o;
    struct delivery it;
    (void)state;

    test_opts(&o);
    run_one(&o, RECEIVER_WEBAPI, "/api", &it);
    assert_int_equal(it.status, DELIVER_OK);
    assert_int_equal(it.attempts, 1);
    assert_string_equal(it.ts, "1700000000.000100");
    assert_string_equal(last_path, "/api/chat.postMessage");
    assert_string_equal(last_auth, "Bearer xoxb-test-secret");
    assert_string_equal(last_ctype, "application/json; charset=utf-8");
    assert_string_equal(last_body, BODY);
}

static void test_webapi_error(void **state)
{
    struct deliver_opts o;
    struct delivery it;
    (void)state;

    test_opts(&o);
    run_one(&o, RECEIVER_WEBAPI, "/api2/", &it); /* trailing slash is fine */
    assert_int_equal(it.status, DELIVER_PERMANENT);
    assert_string_equal(it.reason, "channel_not_found");
    assert_int_equal(it.attempts, 1);
    assert_string_equal(it.ts, "");
    assert_int_equal(hits("/api2/chat.postMessage"), 1);
}

static void test_webapi_ratelimited(void **state)
{
    struct deliver_opts o;
    struct delivery it;
    int64_t t0;
    (void)state;

    test_opts(&o);
    run_one(&o, RECEIVER_WEBAPI, "/api3", &it); /* {"ok":false,"error":"ratelimited"} */
    assert_int_equal(it.status, DELIVER_OK);
    assert_int_equal(it.attempts, 2);
    assert_string_equal(it.ts, "1700000000.000100");

    t0 = util_mono_ms();
    run_one(&o, RECEIVER_WEBAPI, "/api4", &it); /* HTTP 429, Retry-After: 1 */
    assert_int_equal(it.status, DELIVER_OK);
    assert_int_equal(it.attempts, 2);
    assert_true(util_mono_ms() - t0 >= 950);
}

static void test_timeout_retried(void **state)
{
    struct deliver_opts o;
    struct delivery it;
    int64_t t0 = util_mono_ms();
    (void)state;

    test_opts(&o);
    o.timeout_ms = 150;
    run_one(&o, RECEIVER_WEBHOOK, "/slow", &it);
    assert_int_equal(it.status, DELIVER_OK);
    assert_int_equal(it.attempts, 2);
    assert_int_equal(hits("/slow"), 2);
    assert_true(util_mono_ms() - t0 < 600); /* did not wait for the slow answer */

    o.max_attempts = 2;
    run_one(&o, RECEIVER_WEBHOOK, "/hang", &it);
    assert_int_equal(it.status, DELIVER_GAVE_UP);
    assert_string_equal(it.reason, "timeout");
    assert_int_equal(it.attempts, 2);
    assert_int_equal(it.http_status, 0);
}

static void test_connect_refused(void **state)
{
    struct deliver_opts o;
    struct delivery it;
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    char path[64];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    unsigned short saved = port;
    (void)state;

    /* a bound port nobody listens on refuses connections */
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    port = ntohs(sa.sin_port);
    snprintf(path, sizeof(path), "/hooks/T0/B0/secret");
    test_opts(&o);
    o.max_attempts = 3;
    run_one(&o, RECEIVER_WEBHOOK, path, &it);
    port = saved;
    close(fd);
    assert_int_equal(it.status, DELIVER_GAVE_UP);
    assert_string_equal(it.reason, "connect_failed");
    assert_int_equal(it.attempts, 3);
    assert_null(strstr(it.reason, "secret"));
}

static void test_batch_parallel(void **state)
{
    char name[] = "batch", ch[] = "C1";
    char *u_ok = url_for("/okslow"), *u_bad = url_for("/invalid"),
         *u_flaky = url_for("/flaky");
    struct receiver ok = {.name = name, .type = RECEIVER_WEBHOOK, .url = u_ok};
    struct receiver bad = {.name = name, .type = RECEIVER_WEBHOOK, .url = u_bad};
    struct receiver flaky = {.name = name, .type = RECEIVER_WEBHOOK, .url = u_flaky};
    struct receiver noapi = {
        .name = name, .type = RECEIVER_WEBAPI, .url = u_ok, .channel = ch};
    struct delivery items[9];
    struct deliver_opts o;
    struct deliverer *d;
    char err[128];
    (void)state;

    test_opts(&o);
    o.max_parallel = 2;
    d = deliverer_new(&o, err, sizeof(err));
    assert_non_null(d);
    memset(items, 0, sizeof(items));
    for (size_t i = 0; i < 9; i++) {
        items[i].rcv = &ok;
        items[i].body = BODY;
    }
    items[2].rcv = &bad;
    items[5].rcv = &flaky;
    items[7].rcv = &noapi; /* Web API receiver without a token */
    items[8].body = NULL;  /* no body */
    assert_int_equal(deliverer_run(d, items, 9, NULL), 6);
    for (size_t i = 0; i < 9; i++) {
        if (i == 2) {
            assert_int_equal(items[i].status, DELIVER_PERMANENT);
            assert_string_equal(items[i].reason, "invalid_payload");
        } else if (i == 5) {
            assert_int_equal(items[i].status, DELIVER_OK);
            assert_int_equal(items[i].attempts, 3);
        } else if (i >= 7) {
            assert_int_equal(items[i].status, DELIVER_PERMANENT);
            assert_string_equal(items[i].reason, "invalid_delivery");
            assert_int_equal(items[i].attempts, 0);
        } else {
            assert_int_equal(items[i].status, DELIVER_OK);
            assert_int_equal(items[i].attempts, 1);
        }
    }
    assert_int_equal(hits("/okslow"), 5);
    assert_int_equal(inflight_max, 2); /* max_parallel honoured, and used */

    /* the deliverer is reusable */
    assert_int_equal(deliverer_run(d, items, 2, NULL), 2);
    deliverer_free(d);
    free(u_ok);
    free(u_bad);
    free(u_flaky);
}

struct stopper {
    volatile int *stop;
    int after_ms;
};

static void *stop_later(void *arg)
{
    struct stopper *s = arg;

    util_sleep_ms(s->after_ms, NULL);
    *s->stop = 1;
    return NULL;
}

static void test_stop(void **state)
{
    char name[] = "stopper";
    char *u_hang = url_for("/hang"), *u_down = url_for("/down");
    struct receiver hang = {.name = name, .type = RECEIVER_WEBHOOK, .url = u_hang};
    struct receiver down = {.name = name, .type = RECEIVER_WEBHOOK, .url = u_down};
    struct delivery items[2];
    struct deliver_opts o;
    struct deliverer *d;
    volatile int stop = 1;
    struct stopper s = {&stop, 150};
    pthread_t th;
    int64_t t0;
    char err[128];
    (void)state;

    test_opts(&o);
    o.timeout_ms = 10000;
    o.backoff_initial_ms = o.backoff_max_ms = 5000;
    d = deliverer_new(&o, err, sizeof(err));
    assert_non_null(d);
    memset(items, 0, sizeof(items));
    items[0].rcv = &hang;
    items[1].rcv = &down;
    items[0].body = items[1].body = BODY;

    /* already stopped: nothing is sent */
    assert_int_equal(deliverer_run(d, items, 2, &stop), 0);
    assert_int_equal(items[0].status, DELIVER_PENDING);
    assert_int_equal(items[0].attempts, 0);
    assert_int_equal(hits("/hang"), 0);

    /* stopped while one transfer hangs and the other waits 5 s to retry */
    stop = 0;
    assert_int_equal(pthread_create(&th, NULL, stop_later, &s), 0);
    t0 = util_mono_ms();
    assert_int_equal(deliverer_run(d, items, 2, &stop), 0);
    assert_true(util_mono_ms() - t0 < 500);
    pthread_join(th, NULL);
    assert_int_equal(items[0].status, DELIVER_PENDING);
    assert_int_equal(items[1].status, DELIVER_PENDING);
    assert_int_equal(items[1].attempts, 1);
    assert_string_equal(items[1].reason, "http_503");
    deliverer_free(d);
    free(u_hang);
    free(u_down);
}

static void test_parse_retry_after(void **state)
{
    (void)state;
    assert_int_equal(deliver_parse_retry_after("5"), 5000);
    assert_int_equal(deliver_parse_retry_after(" 12 "), 12000);
    assert_int_equal(deliver_parse_retry_after("0"), 0);
    assert_int_equal(deliver_parse_retry_after("30\r\n"), 30000);
    assert_int_equal(deliver_parse_retry_after(""), -1);
    assert_int_equal(deliver_parse_retry_after("-1"), -1);
    assert_int_equal(deliver_parse_retry_after("1.5"), -1);
    assert_int_equal(deliver_parse_retry_after("abc"), -1);
    assert_int_equal(deliver_parse_retry_after("99999999999999999999"), -1);
    assert_int_equal(deliver_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), -1);
    assert_int_equal(deliver_parse_retry_after(NULL), -1);
}

static void test_opts_and_new(void **state)
{
    struct deliver_opts o;
    struct deliverer *d;
    char err[128] = "";
    (void)state;

    deliver_opts_default(&o);
    assert_int_equal(o.timeout_ms, 10000);
    assert_int_equal(o.max_attempts, 6);
    assert_int_equal(o.backoff_initial_ms, 1000);
    assert_int_equal(o.backoff_max_ms, 30000);
    assert_int_equal(o.give_up_ms, 120000);
    assert_int_equal(o.retry_after_max_ms, 120000);
    assert_int_equal(o.max_parallel, 8);
    o.max_attempts = 0;
    assert_null(deliverer_new(&o, err, sizeof(err)));
    assert_string_not_equal(err, "");
    deliver_opts_default(&o);
    o.max_parallel = 0;
    assert_null(deliverer_new(&o, err, sizeof(err)));
    d = deliverer_new(NULL, err, sizeof(err));
    assert_non_null(d);
    deliverer_free(d);
    deliverer_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_ok, reset),
        cmocka_unit_test_setup(test_429_retry_after, reset),
        cmocka_unit_test_setup(test_429_retry_after_capped, reset),
        cmocka_unit_test_setup(test_5xx_then_ok, reset),
        cmocka_unit_test_setup(test_permanent_answers, reset),
        cmocka_unit_test_setup(test_5xx_gives_up, reset),
        cmocka_unit_test_setup(test_give_up_time, reset),
        cmocka_unit_test_setup(test_webapi_ok, reset),
        cmocka_unit_test_setup(test_webapi_error, reset),
        cmocka_unit_test_setup(test_webapi_ratelimited, reset),
        cmocka_unit_test_setup(test_timeout_retried, reset),
        cmocka_unit_test_setup(test_connect_refused, reset),
        cmocka_unit_test_setup(test_batch_parallel, reset),
        cmocka_unit_test_setup(test_stop, reset),
        cmocka_unit_test(test_parse_retry_after),
        cmocka_unit_test(test_opts_and_new),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
