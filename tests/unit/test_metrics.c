/* test_metrics.c -- the Prometheus registry and its HTTP endpoint. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "metrics.h"
#include "util.h"

static const double lat_bounds[] = {0.1, 0.5, 2.5};

/* Render m into a new string; caller frees. */
static char *render(struct metrics *m)
{
    struct buf b;
    char *s;

    buf_init(&b, 1 << 20);
    assert_int_equal(metrics_render(m, &b), 0);
    s = b.data ? buf_detach(&b, NULL) : util_strdup0("");
    assert_non_null(s);
    return s;
}

/* Compare text line by line with the NULL-terminated list `want`. */
static void assert_lines(const char *text, const char *const *want)
{
    const char *p = text, *nl;
    size_t i = 0;
    char line[1024];

    while (*p) {
        nl = strchr(p, '\n');
        assert_non_null(nl); /* every line ends with a newline */
        assert_true((size_t)(nl - p) < sizeof(line));
        memcpy(line, p, (size_t)(nl - p));
        line[nl - p] = '\0';
        assert_non_null(want[i]);
        assert_string_equal(line, want[i]);
        i++;
        p = nl + 1;
    }
    assert_null(want[i]);
}

static void test_counter_labels(void **state)
{
    struct metrics *m = metrics_new("test");

    (void)state;
    assert_non_null(m);
    assert_int_equal(metrics_counter_add(m, "ev_total", "Events.", 1, "tier=\"a\""), 0);
    assert_int_equal(metrics_counter_add(m, "ev_total", "Events.", 2, "tier=\"a\""), 0);
    assert_int_equal(metrics_counter_add(m, "ev_total", NULL, 0.5, "tier=\"b\""), 0);
    assert_int_equal(metrics_counter_add(m, "ev_total", NULL, 4, NULL), 0);
    assert_int_equal(metrics_counter_add(m, "ev_total", NULL, 1, ""), 0);
    assert_true(metrics_get(m, "ev_total", "tier=\"a\"") == 3);
    assert_true(metrics_get(m, "ev_total", "tier=\"b\"") == 0.5);
    assert_true(metrics_get(m, "ev_total", NULL) == 5);
    assert_true(metrics_get(m, "ev_total", "tier=\"c\"") == 0);
    assert_true(metrics_get(m, "nope_total", NULL) == 0);
    /* counters only go up */
    assert_int_equal(metrics_counter_add(m, "ev_total", NULL, -1, NULL), -1);
    assert_int_equal(metrics_counter_add(m, "ev_total", NULL, NAN, NULL), -1);
    assert_true(metrics_get(m, "ev_total", NULL) == 5);
    metrics_free(m);
}

static void test_gauge(void **state)
{
    struct metrics *m = metrics_new("test");

    (void)state;
    assert_int_equal(metrics_gauge_set(m, "lag", "Lag.", 10, "p=\"0\""), 0);
    assert_int_equal(metrics_gauge_set(m, "lag", "Lag.", 3, "p=\"0\""), 0);
    assert_true(metrics_get(m, "lag", "p=\"0\"") == 3);
    assert_int_equal(metrics_gauge_set(m, "lag", NULL, -7.25, "p=\"0\""), 0);
    assert_true(metrics_get(m, "lag", "p=\"0\"") == -7.25);
    assert_int_equal(metrics_gauge_add(m, "inflight", NULL, 2, NULL), 0);
    assert_int_equal(metrics_gauge_add(m, "inflight", NULL, -1, NULL), 0);
    assert_true(metrics_get(m, "inflight", NULL) == 1);
    assert_int_equal(metrics_gauge_add(m, "inflight", NULL, INFINITY, NULL), -1);
    /* a gauge may be set to NaN and is rendered as such */
    assert_int_equal(metrics_gauge_set(m, "odd", NULL, NAN, NULL), 0);
    assert_true(isnan(metrics_get(m, "odd", NULL)));
    metrics_free(m);
}

static void test_histogram(void **state)
{
    struct metrics *m = metrics_new("test");
    const double vals[] = {0.0625, 0.1, 0.25, 1, 3, 7};
    static const char *const want[] = {
        "# HELP lat_seconds Latency.",
        "# TYPE lat_seconds histogram",
        "lat_seconds_bucket{r=\"x\",le=\"0.1\"} 2",
        "lat_seconds_bucket{r=\"x\",le=\"0.5\"} 3",
        "lat_seconds_bucket{r=\"x\",le=\"2.5\"} 4",
        "lat_seconds_bucket{r=\"x\",le=\"+Inf\"} 6",
        "lat_seconds_sum{r=\"x\"} 11.4125",
        "lat_seconds_count{r=\"x\"} 6",
        NULL,
    };
    char *out;

    (void)state;
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
        assert_int_equal(metrics_histogram_observe(m, "lat_seconds", "Latency.",
                                                   lat_bounds, 3, vals[i], "r=\"x\""),
                         0);
    assert_true(metrics_get(m, "lat_seconds", "r=\"x\"") == 6);
    out = render(m);
    assert_lines(out, want);
    free(out);

    /* other bounds, le label, NaN, bad bounds: refused */
    const double other[] = {1, 2};
    const double unsorted[] = {2, 1};
    const double inf[] = {1, INFINITY};
    assert_int_equal(
        metrics_histogram_observe(m, "lat_seconds", NULL, other, 2, 1, "r=\"x\""), -1);
    assert_int_equal(
        metrics_histogram_observe(m, "h2", NULL, lat_bounds, 3, 1, "le=\"1\""), -1);
    assert_int_equal(metrics_histogram_observe(m, "h2", NULL, lat_bounds, 3, NAN, NULL),
                     -1);
    assert_int_equal(metrics_histogram_observe(m, "h2", NULL, unsorted, 2, 1, NULL), -1);
    assert_int_equal(metrics_histogram_observe(m, "h2", NULL, inf, 2, 1, NULL), -1);
    assert_int_equal(metrics_histogram_observe(m, "h2", NULL, NULL, 1, 1, NULL), -1);
    assert_true(metrics_get(m, "lat_seconds", "r=\"x\"") == 6);

    /* no bounds: only +Inf; no labels: bare le */
    assert_int_equal(metrics_histogram_observe(m, "h0", NULL, NULL, 0, 2, NULL), 0);
    static const char *const want0[] = {
        "# TYPE h0 histogram", "h0_bucket{le=\"+Inf\"} 1", "h0_sum 2", "h0_count 1", NULL,
    };
    metrics_free(m);
    m = metrics_new(NULL);
    assert_int_equal(metrics_histogram_observe(m, "h0", NULL, NULL, 0, 2, NULL), 0);
    out = render(m);
    assert_lines(out, want0);
    free(out);
    metrics_free(m);
}

static void test_render(void **state)
{
    struct metrics *m = metrics_new("test");
    static const char *const want[] = {
        "# HELP a_total First \\\\ line\\nsecond.",
        "# TYPE a_total counter",
        "a_total 1",
        "a_total{r=\"q\\\"x\\\\y\\nz\"} 2",
        "# TYPE b counter",
        "b{x=\"1\"} 0.1",
        "b{x=\"2\"} 1e+21",
        "# HELP g Gauge.",
        "# TYPE g gauge",
        "g{k=\"v\"} -3",
        "g{k=\"w\"} +Inf",
        "g{k=\"z\"} NaN",
        NULL,
    };
    char lbl[METRICS_LABELS_MAX + 1] = "";
    char *out;
    struct buf small;

    (void)state;
    assert_int_equal(metrics_labels_add(lbl, sizeof(lbl), "r", "q\"x\\y\nz"), 0);
    /* added out of order on purpose: render sorts families and series */
    assert_int_equal(metrics_gauge_set(m, "g", "Gauge.", NAN, "k=\"z\""), 0);
    assert_int_equal(metrics_gauge_set(m, "g", NULL, -3, "k=\"v\""), 0);
    assert_int_equal(metrics_gauge_set(m, "g", NULL, INFINITY, "k=\"w\""), 0);
    assert_int_equal(metrics_counter_add(m, "b", NULL, 1e21, "x=\"2\""), 0);
    assert_int_equal(metrics_counter_add(m, "b", NULL, 0.1, "x=\"1\""), 0);
    assert_int_equal(metrics_counter_add(m, "a_total", "First \\ line\nsecond.", 2, lbl),
                     0);
    assert_int_equal(metrics_counter_add(m, "a_total", "ignored", 1, NULL), 0);
    out = render(m);
    assert_lines(out, want);

    /* appends to what is there; on overflow leaves the buffer as it was */
    buf_init(&small, strlen(out) + 5);
    assert_int_equal(buf_puts(&small, "head\n"), 0);
    assert_int_equal(metrics_render(m, &small), 0);
    assert_int_equal(small.len, strlen(out) + 5);
    assert_int_equal(metrics_render(m, &small), -1);
    assert_int_equal(small.len, strlen(out) + 5);
    assert_int_equal(strlen(small.data), small.len);
    buf_release(&small);
    free(out);

    /* type conflicts and invalid input are refused, nothing changes */
    assert_int_equal(metrics_gauge_set(m, "a_total", NULL, 1, NULL), -1);
    assert_int_equal(metrics_histogram_observe(m, "g", NULL, lat_bounds, 3, 1, NULL), -1);
    assert_int_equal(metrics_counter_add(m, "9bad", NULL, 1, NULL), -1);
    assert_int_equal(metrics_counter_add(m, "bad-name", NULL, 1, NULL), -1);
    assert_int_equal(metrics_counter_add(m, NULL, NULL, 1, NULL), -1);
    assert_int_equal(metrics_counter_add(m, "c", NULL, 1, "x=\"unterminated"), -1);
    assert_int_equal(metrics_counter_add(m, "c", NULL, 1, "x=\"a\"b\""), -1);
    assert_int_equal(metrics_counter_add(m, "c", NULL, 1, "x=\"a\\q\""), -1);
    assert_int_equal(metrics_counter_add(m, "c", NULL, 1, "x=\"a\","), -1);
    assert_int_equal(metrics_counter_add(m, "c", NULL, 1, "x=1"), -1);
    assert_int_equal(metrics_counter_add(m, "c", NULL, 1, "1x=\"a\""), -1);
    assert_int_equal(metrics_counter_add(m, "c", NULL, 1, "x=\"a\nb\""), -1);
    assert_int_equal(metrics_counter_add(m, "c", NULL, 1, "x=\"\xff\""), -1);
    assert_int_equal(metrics_counter_add(m, "c", NULL, 1, "x=\"a\",y=\"b\""), 0);
    out = render(m);
    assert_null(strstr(out, "9bad"));
    assert_non_null(strstr(out, "\nc{x=\"a\",y=\"b\"} 1\n"));
    free(out);
    metrics_free(m);
}

static void test_label_escape(void **state)
{
    char out[64], lbl[32];

    (void)state;
    assert_int_equal(metrics_label_escape("a\"b\\c\nd", out, sizeof(out)), 0);
    assert_string_equal(out, "a\\\"b\\\\c\\nd");
    assert_int_equal(metrics_label_escape(NULL, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    /* valid UTF-8 kept, invalid bytes replaced by U+FFFD */
    assert_int_equal(metrics_label_escape("caf\xc3\xa9 \xff\xc3", out, sizeof(out)), 0);
    assert_string_equal(out, "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd");
    assert_int_equal(metrics_label_escape("\xed\xa0\x80", out, sizeof(out)), 0);
    assert_string_equal(out, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
    /* cut short: never in the middle of an escape or a sequence */
    assert_int_equal(metrics_label_escape("ab\"", out, 4), -1);
    assert_string_equal(out, "ab");
    assert_int_equal(metrics_label_escape("a\xc3\xa9", out, 3), -1);
    assert_string_equal(out, "a");
    assert_int_equal(metrics_label_escape("abc", out, 4), 0);
    assert_int_equal(metrics_label_escape("abc", out, 0), -1);

    lbl[0] = '\0';
    assert_int_equal(metrics_labels_add(lbl, sizeof(lbl), "a", "x\"y"), 0);
    assert_int_equal(metrics_labels_add(lbl, sizeof(lbl), "b", NULL), 0);
    assert_string_equal(lbl, "a=\"x\\\"y\",b=\"\"");
    assert_int_equal(metrics_labels_add(lbl, sizeof(lbl), "c", "too long for the rest"),
                     -1);
    assert_string_equal(lbl, "a=\"x\\\"y\",b=\"\"");
    assert_int_equal(metrics_labels_add(lbl, sizeof(lbl), "bad-name", "v"), -1);
    assert_int_equal(metrics_labels_add(lbl, sizeof(lbl), "le:x", "v"), -1);
    assert_string_equal(lbl, "a=\"x\\\"y\",b=\"\"");
}

static void test_null_registry(void **state)
{
    struct buf b;

    (void)state;
    assert_int_equal(metrics_counter_add(NULL, "a_total", NULL, 1, NULL), 0);
    assert_int_equal(metrics_gauge_set(NULL, "g", NULL, 1, NULL), 0);
    assert_int_equal(metrics_gauge_add(NULL, "g", NULL, 1, NULL), 0);
    assert_int_equal(metrics_histogram_observe(NULL, "h", NULL, lat_bounds, 3, 1, NULL),
                     0);
    assert_true(metrics_get(NULL, "a_total", NULL) == 0);
    buf_init(&b, 64);
    assert_int_equal(metrics_render(NULL, &b), 0);
    assert_int_equal(b.len, 0);
    buf_release(&b);
    metrics_free(NULL);
    metrics_http_stop(NULL);
    assert_int_equal(metrics_http_port(NULL), -1);
}

/* Counts of accepted and refused calls while filling a registry past its limit. */
struct fill_result {
    int ok, refused;
};

/* Add METRICS_MAX_SERIES series, then a few more; no asserts here, as stderr is
 * redirected while it runs. */
static struct fill_result fill_past_limit(struct metrics *m)
{
    struct fill_result r = {0, 0};
    char lbl[32];

    for (int i = 0; i < METRICS_MAX_SERIES; i++) {
        snprintf(lbl, sizeof(lbl), "i=\"%d\"", i);
        if (metrics_counter_add(m, i % 2 ? "odd_total" : "even_total", NULL, 1, lbl) == 0)
            r.ok++;
    }
    for (int i = 0; i < 3; i++) {
        snprintf(lbl, sizeof(lbl), "i=\"x%d\"", i);
        r.refused += metrics_counter_add(m, "even_total", NULL, 1, lbl) == -1;
        r.refused += metrics_gauge_set(m, "new_gauge", NULL, 1, NULL) == -1;
    }
    return r;
}

static void test_series_limit(void **state)
{
    struct metrics *m = metrics_new("limit-test");
    FILE *tmp = tmpfile();
    int saved = dup(STDERR_FILENO), warnings = 0;
    struct fill_result fr;
    char err[4096], *p;
    long n;
    char big[METRICS_LABELS_MAX + 16];

    (void)state;
    assert_non_null(tmp);
    assert_true(saved >= 0);
    fflush(stderr);
    assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    fr = fill_past_limit(m);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    assert_int_equal(fr.ok, METRICS_MAX_SERIES);
    assert_int_equal(fr.refused, 6);

    assert_int_equal(fseek(tmp, 0, SEEK_END), 0);
    n = ftell(tmp);
    assert_true(n > 0 && (size_t)n < sizeof(err));
    rewind(tmp);
    assert_int_equal(fread(err, 1, (size_t)n, tmp), (size_t)n);
    err[n] = '\0';
    fclose(tmp);
    for (p = err; (p = strstr(p, "series limit")) != NULL; p++)
        warnings++;
    assert_int_equal(warnings, 1); /* one warning for six refusals */
    assert_non_null(strstr(err, "limit-test"));
    /* existing series still update */
    assert_int_equal(metrics_counter_add(m, "even_total", NULL, 1, "i=\"0\""), 0);
    assert_true(metrics_get(m, "even_total", "i=\"0\"") == 2);
    assert_true(metrics_get(m, "new_gauge", NULL) == 0);
    metrics_free(m);

    /* label strings are bounded too */
    m = metrics_new("test");
    memset(big, 0, sizeof(big));
    memcpy(big, "x=\"", 3);
    memset(big + 3, 'a', METRICS_LABELS_MAX - 4);
    big[METRICS_LABELS_MAX - 1] = '"';
    assert_int_equal(strlen(big), METRICS_LABELS_MAX);
    assert_int_equal(metrics_counter_add(m, "c", NULL, 1, big), 0);
    big[METRICS_LABELS_MAX - 1] = 'a';
    big[METRICS_LABELS_MAX] = '"';
    assert_int_equal(metrics_counter_add(m, "c", NULL, 1, big), -1);
    metrics_free(m);
}

#define THREADS 4
#define PER_THREAD 20000

static void *hammer(void *arg)
{
    struct metrics *m = arg;

    for (int i = 0; i < PER_THREAD; i++) {
        metrics_counter_add(m, "hits_total", NULL, 1, "k=\"v\"");
        metrics_histogram_observe(m, "h", NULL, lat_bounds, 3, 0.2, NULL);
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct metrics *m = metrics_new("test");
    pthread_t t[THREADS];

    (void)state;
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, m), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_true(metrics_get(m, "hits_total", "k=\"v\"") == THREADS * PER_THREAD);
    assert_true(metrics_get(m, "h", NULL) == THREADS * PER_THREAD);
    metrics_free(m);
}

/* --- HTTP --- */

struct reply {
    long status;
    struct buf body;
    char ctype[128];
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;

    return buf_append(&r->body, data, size * n) == 0 ? size * n : 0;
}

/* Fetch http://127.0.0.1:port/path with method (NULL = GET) into r. */
static void fetch(int port, const char *path, const char *method, struct reply *r)
{
    CURL *c = curl_easy_init();
    char url[128];
    char *ct = NULL;

    assert_non_null(c);
    memset(r, 0, sizeof(*r));
    buf_init(&r->body, 1 << 20);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    if (method && strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (method && strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
    else if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        snprintf(r->ctype, sizeof(r->ctype), "%s", ct);
    if (!r->body.data)
        assert_int_equal(buf_append(&r->body, "", 0), 0);
    curl_easy_cleanup(c);
}

struct readiness {
    int rc;
    const char *why;
    int calls;
};

static int ready_cb(void *opaque, char *why, size_t why_size)
{
    struct readiness *rd = opaque;

    rd->calls++;
    if (rd->rc)
        snprintf(why, why_size, "%s", rd->why);
    return rd->rc;
}

static void test_http(void **state)
{
    struct metrics *m = metrics_new("test");
    struct metrics_http *h;
    struct reply r;
    char err[256] = "";
    int port;

    (void)state;
    assert_int_equal(metrics_counter_add(m, "herald_test_total", "T.", 3, "x=\"1\""), 0);
    h = metrics_http_start(m, "127.0.0.1:0", NULL, NULL, err, sizeof(err));
    assert_non_null(h);
    port = metrics_http_port(h);
    assert_true(port > 0 && port <= 65535);

    fetch(port, "/metrics", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.ctype, "text/plain; version=0.0.4"));
    assert_non_null(strstr(r.body.data, "# TYPE herald_test_total counter\n"));
    assert_non_null(strstr(r.body.data, "\nherald_test_total{x=\"1\"} 3\n"));
    buf_release(&r.body);

    /* live: a second scrape sees the update */
    assert_int_equal(metrics_counter_add(m, "herald_test_total", NULL, 1, "x=\"1\""), 0);
    fetch(port, "/metrics?x=y", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\nherald_test_total{x=\"1\"} 4\n"));
    buf_release(&r.body);

    fetch(port, "/healthz", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "ok\n");
    buf_release(&r.body);

    fetch(port, "/readyz", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "ready\n");
    buf_release(&r.body);

    fetch(port, "/healthz", "HEAD", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "");
    buf_release(&r.body);

    fetch(port, "/nope", NULL, &r);
    assert_int_equal(r.status, 404);
    buf_release(&r.body);

    fetch(port, "/", NULL, &r);
    assert_int_equal(r.status, 404);
    buf_release(&r.body);

    fetch(port, "/metrics", "POST", &r);
    assert_int_equal(r.status, 405);
    buf_release(&r.body);

    fetch(port, "/metrics", "DELETE", &r);
    assert_int_equal(r.status, 405);
    buf_release(&r.body);

    /* the port is taken now */
    {
        char listen[32], err2[256] = "";
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
        assert_null(metrics_http_start(m, listen, NULL, NULL, err2, sizeof(err2)));
        assert_non_null(strstr(err2, listen));
    }

    metrics_http_stop(h);
    metrics_free(m);
}

static void test_http_readyz(void **state)
{
    struct readiness rd = {1, "kafka not connected", 0};
    struct metrics_http *h;
    struct reply r;
    char err[256] = "";
    int port;

    (void)state;
    /* no registry: /metrics is empty but served */
    h = metrics_http_start(NULL, ":0", ready_cb, &rd, err, sizeof(err));
    assert_non_null(h);
    port = metrics_http_port(h);

    fetch(port, "/readyz", NULL, &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body.data, "not ready: kafka not connected\n");
    buf_release(&r.body);

    rd.why = "";
    fetch(port, "/readyz", NULL, &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body.data, "not ready\n");
    buf_release(&r.body);

    rd.rc = 0;
    fetch(port, "/readyz", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "ready\n");
    buf_release(&r.body);
    assert_int_equal(rd.calls, 3);

    /* healthz does not ask readiness */
    rd.rc = 1;
    fetch(port, "/healthz", NULL, &r);
    assert_int_equal(r.status, 200);
    buf_release(&r.body);
    assert_int_equal(rd.calls, 3);

    fetch(port, "/metrics", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "");
    buf_release(&r.body);

    metrics_http_stop(h);
}

static void test_http_listen_parse(void **state)
{
    static const char *const bad[] = {
        "",       "127.0.0.1", "127.0.0.1:", ":99999",       ":-1",
        ":+80",   ":80x",      ": 80",       "localhost:80", "1.2.3:80",
        "::1:80", "[::1]",     "[::1]80",    "[nope]:80",    "0.0.0.0:65536",
    };
    struct metrics_http *h;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_null(metrics_http_start(NULL, bad[i], NULL, NULL, err, sizeof(err)));
        assert_true(err[0] != '\0');
    }
    err[0] = '\0';
    assert_null(metrics_http_start(NULL, NULL, NULL, NULL, err, sizeof(err)));
    assert_true(err[0] != '\0');

    h = metrics_http_start(NULL, "0.0.0.0:0", NULL, NULL, err, sizeof(err));
    assert_non_null(h);
    metrics_http_stop(h);

    /* IPv6 loopback, where the host has it */
    h = metrics_http_start(NULL, "[::1]:0", NULL, NULL, err, sizeof(err));
    if (h) {
        assert_true(metrics_http_port(h) > 0);
        metrics_http_stop(h);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_labels),
        cmocka_unit_test(test_gauge),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_label_escape),
        cmocka_unit_test(test_null_registry),
        cmocka_unit_test(test_series_limit),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_http),
        cmocka_unit_test(test_http_readyz),
        cmocka_unit_test(test_http_listen_parse),
    };
    int rc;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
