/* metrics_expo.c -- see metrics.h: the exposition. The Prometheus text format (metric
 * and label names, label strings checked, escaped and built, values, the rendered
 * registry) and the HTTP endpoint that serves it: common/httpd.c, health on its I/O
 * thread, the rest on two workers. */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "log.h"
#include "metrics.h"
#include "metrics_int.h"

#define METRICS_HTTP_THREADS 2 /* workers for /readyz and /metrics */

static const char *const kind_names[] = {"counter", "gauge", "histogram"};

struct metrics_http {
    struct httpd *srv;
    struct metrics *m; /* borrowed, may be NULL */
    int (*ready_cb)(void *opaque, char *why, size_t why_size);
    void *opaque; /* borrowed */
};

/* --- names, labels, values --- */

static bool is_name_start(char c, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (colon && c == ':');
}

static bool is_name_char(char c, bool colon)
{
    return is_name_start(c, colon) || (c >= '0' && c <= '9');
}

/* Metric names may contain ':', label names may not. */
bool metrics_name_valid(const char *s, bool colon)
{
    size_t i;

    if (!s || !is_name_start(s[0], colon))
        return false;
    for (i = 1; s[i]; i++)
        if (!is_name_char(s[i], colon) || i >= METRICS_NAME_MAX)
            return false;
    return true;
}

/* Check a preformatted label string; NULL if fine, else what is wrong with it. */
const char *metrics_labels_problem(const char *l, bool hist)
{
    size_t len = strlen(l);
    const char *p = l, *n;

    if (len > METRICS_LABELS_MAX)
        return "label string too long";
    if (!util_utf8_valid(l, len))
        return "labels are not valid UTF-8";
    while (*p) {
        n = p;
        if (!is_name_start(*p, false))
            return "bad label name";
        while (is_name_char(*p, false))
            p++;
        if (hist && p - n == 2 && memcmp(n, "le", 2) == 0)
            return "label le is reserved in histograms";
        if (p[0] != '=' || p[1] != '"')
            return "expected =\" after a label name";
        for (p += 2; *p != '"'; p++) {
            if (*p == '\0' || *p == '\n')
                return "unterminated label value";
            if (*p == '\\' && *++p != '\\' && *p != '"' && *p != 'n')
                return "bad escape in a label value";
        }
        p++;
        if (*p == ',' && p[1] != '\0')
            p++;
        else if (*p)
            return "expected , between labels";
    }
    return NULL;
}

/* Shortest of %.15g / %.17g that reads back as v; Prometheus spellings for the rest. */
static void fmt_double(double v, char *out, size_t size)
{
    if (isnan(v)) {
        snprintf(out, size, "%s", "NaN");
    } else if (isinf(v)) {
        snprintf(out, size, "%s", v > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(out, size, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, size, "%.17g", v);
    }
}

/* Length of the valid UTF-8 sequence (2-4 bytes) at p, or 0 if there is none.
 * Stops at the first byte that is not a continuation, so never reads past a NUL. */
static size_t utf8_seq_len(const unsigned char *p)
{
    size_t n, i;

    if (*p >= 0xC2 && *p <= 0xDF)
        n = 2;
    else if (*p >= 0xE0 && *p <= 0xEF)
        n = 3;
    else if (*p >= 0xF0 && *p <= 0xF4)
        n = 4;
    else
        return 0;
    for (i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return util_utf8_valid((const char *)p, n) ? n : 0;
}

int metrics_label_escape(const char *in, char *out, size_t out_size)
{
    const unsigned char *p = (const unsigned char *)(in ? in : "");
    size_t o = 0, n, adv;
    char tmp[4];

    if (out_size == 0)
        return -1;
    while (*p) {
        adv = 1;
        if (*p == '\\' || *p == '"' || *p == '\n') {
            tmp[0] = '\\';
            tmp[1] = *p == '\n' ? 'n' : (char)*p;
            n = 2;
        } else if (*p < 0x80) {
            tmp[0] = (char)*p;
            n = 1;
        } else if ((adv = utf8_seq_len(p)) != 0) {
            memcpy(tmp, p, adv);
            n = adv;
        } else {
            memcpy(tmp, "\xEF\xBF\xBD", 3); /* U+FFFD */
            n = 3;
            adv = 1;
        }
        if (o + n >= out_size) {
            out[o] = '\0';
            return -1;
        }
        memcpy(out + o, tmp, n);
        o += n;
        p += adv;
    }
    out[o] = '\0';
    return 0;
}

int metrics_labels_add(char *labels, size_t size, const char *name, const char *value)
{
    char esc[METRICS_LABELS_MAX + 1];
    size_t len, limit;
    int n;

    if (!labels || size == 0 || !metrics_name_valid(name, false))
        return -1;
    limit = size < sizeof(esc) ? size : sizeof(esc);
    len = strnlen(labels, size);
    if (len >= limit || metrics_label_escape(value, esc, sizeof(esc)) < 0)
        return -1;
    n = snprintf(labels + len, limit - len, "%s%s=\"%s\"", len ? "," : "", name, esc);
    if (n < 0 || (size_t)n >= limit - len) {
        labels[len] = '\0';
        return -1;
    }
    return 0;
}

/* --- rendering --- */

/* One sample line: name suffix{labels[,le="le"]} value. */
static int put_sample(struct buf *out, const char *name, const char *suffix,
                      const char *labels, const char *le, const char *value)
{
    bool braces = labels[0] || le;

    if (buf_puts(out, name) < 0 || buf_puts(out, suffix) < 0)
        return -1;
    if (braces && (buf_puts(out, "{") < 0 || buf_puts(out, labels) < 0))
        return -1;
    if (le && buf_printf(out, "%sle=\"%s\"", labels[0] ? "," : "", le) < 0)
        return -1;
    if (braces && buf_puts(out, "}") < 0)
        return -1;
    return buf_printf(out, " %s\n", value);
}

/* HELP, TYPE and every sample of one family. Caller holds m->mu. */
static int render_family(const struct family *f, struct buf *out)
{
    char val[32], le[32];
    uint64_t cum;

    if (f->help[0] && buf_printf(out, "# HELP %s %s\n", f->name, f->help) < 0)
        return -1;
    if (buf_printf(out, "# TYPE %s %s\n", f->name, kind_names[f->kind]) < 0)
        return -1;
    for (size_t i = 0; i < f->nseries; i++) {
        const struct series *s = f->series[i];
        if (f->kind != KIND_HISTOGRAM) {
            fmt_double(s->value, val, sizeof(val));
            if (put_sample(out, f->name, "", s->labels, NULL, val) < 0)
                return -1;
            continue;
        }
        cum = 0;
        for (size_t b = 0; b <= f->nbounds; b++) {
            cum += s->buckets[b];
            if (b < f->nbounds)
                fmt_double(f->bounds[b], le, sizeof(le));
            else
                snprintf(le, sizeof(le), "%s", "+Inf");
            snprintf(val, sizeof(val), "%" PRIu64, cum);
            if (put_sample(out, f->name, "_bucket", s->labels, le, val) < 0)
                return -1;
        }
        fmt_double(s->sum, val, sizeof(val));
        if (put_sample(out, f->name, "_sum", s->labels, NULL, val) < 0)
            return -1;
        snprintf(val, sizeof(val), "%" PRIu64, s->count);
        if (put_sample(out, f->name, "_count", s->labels, NULL, val) < 0)
            return -1;
    }
    return 0;
}

int metrics_render(struct metrics *m, struct buf *out)
{
    size_t start;
    int rc = 0;

    if (!m)
        return 0;
    start = out->len;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->nfams && rc == 0; i++)
        rc = render_family(m->fams[i], out);
    pthread_mutex_unlock(&m->mu);
    if (rc < 0) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return rc;
}

/* --- HTTP endpoint (common/httpd.c) --- */

static void http_metrics(void *opaque, const struct httpd_request *req,
                         struct httpd_response *resp)
{
    struct metrics_http *h = opaque;

    (void)req;
    httpd_add_header(resp, "Cache-Control", "no-store");
    buf_release(&resp->body);
    buf_init(&resp->body, METRICS_RENDER_MAX);
    if (metrics_render(h->m, &resp->body) < 0) {
        log_warn("metrics http: /metrics larger than %u bytes or out of memory",
                 METRICS_RENDER_MAX);
        buf_reset(&resp->body);
        resp->status = 500;
        buf_puts(&resp->body, "metrics unavailable\n");
        return;
    }
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static void http_health(void *opaque, const struct httpd_request *req,
                        struct httpd_response *resp)
{
    (void)opaque;
    (void)req;
    httpd_add_header(resp, "Cache-Control", "no-store");
    buf_puts(&resp->body, "ok\n");
}

static void http_ready(void *opaque, const struct httpd_request *req,
                       struct httpd_response *resp)
{
    struct metrics_http *h = opaque;
    char why[METRICS_WHY_MAX] = "";

    (void)req;
    httpd_add_header(resp, "Cache-Control", "no-store");
    if (!h->ready_cb || h->ready_cb(h->opaque, why, sizeof(why)) == 0) {
        buf_puts(&resp->body, "ready\n");
        return;
    }
    why[sizeof(why) - 1] = '\0';
    resp->status = 503;
    buf_printf(&resp->body, "not ready%s%s\n", why[0] ? ": " : "", why);
}

struct metrics_http *metrics_http_start(struct metrics *m, const char *listen,
                                        int (*ready_cb)(void *opaque, char *why,
                                                        size_t why_size),
                                        void *opaque, char *errstr, size_t errstr_size)
{
    /* Health answers on the I/O thread, at once, whatever /readyz or /metrics do. */
    static const struct httpd_route routes[] = {
        {"/healthz", HTTPD_GET | HTTPD_HEAD, true, http_health},
        {"/readyz", HTTPD_GET | HTTPD_HEAD, false, http_ready},
        {"/metrics", HTTPD_GET | HTTPD_HEAD, false, http_metrics},
    };
    static const struct httpd_options opts = {"metrics http", METRICS_HTTP_THREADS, 0, 0,
                                              0};
    struct metrics_http *h = calloc(1, sizeof(*h));
    char err[256];

    if (!h) {
        snprintf(errstr, errstr_size, "metrics http: out of memory");
        return NULL;
    }
    h->m = m;
    h->ready_cb = ready_cb;
    h->opaque = opaque;
    if (!(h->srv = httpd_start(listen, routes, sizeof(routes) / sizeof(routes[0]), h,
                               &opts, err, sizeof(err)))) {
        snprintf(errstr, errstr_size, "metrics http: %s", err);
        free(h);
        return NULL;
    }
    return h;
}

int metrics_http_port(const struct metrics_http *h)
{
    return h ? httpd_port(h->srv) : -1;
}

void metrics_http_stop(struct metrics_http *h)
{
    if (!h)
        return;
    httpd_stop(h->srv);
    free(h);
}
