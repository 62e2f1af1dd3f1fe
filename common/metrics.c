/* metrics.c -- see metrics.h.
 *
 * The registry is an array of families sorted by name, each with an array of series
 * sorted by label string; both are found by binary search under one mutex. The HTTP
 * endpoint is common/httpd.c: health on its I/O thread, the rest on two workers. */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "log.h"

#define METRICS_HTTP_THREADS 2 /* workers for /readyz and /metrics */

enum metrics_kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM };
enum metrics_op { OP_ADD, OP_SET, OP_OBSERVE };

/* Reasons a call is refused; each is logged once per registry. */
enum metrics_warn {
    WARN_INVALID = 1,  /* bad name, labels, help, bounds or value */
    WARN_CONFLICT = 2, /* name exists with another type or other bounds */
    WARN_LIMIT = 4,    /* METRICS_MAX_SERIES reached */
    WARN_NOMEM = 8,
};

static const char *const kind_names[] = {"counter", "gauge", "histogram"};

/* One label set of a family. */
struct series {
    char *labels;      /* "" for none; owned */
    double value;      /* counter or gauge value */
    double sum;        /* histogram: sum of observations */
    uint64_t count;    /* histogram: number of observations */
    uint64_t *buckets; /* histogram: per-bucket counts, not cumulative; nbounds + 1 */
};

/* One metric name: its type, help and series. */
struct family {
    char *name; /* owned */
    char *help; /* escaped for the HELP line, "" if none; owned */
    enum metrics_kind kind;
    double *bounds; /* histogram bucket upper bounds; owned, may be NULL */
    size_t nbounds;
    struct series **series; /* sorted by labels */
    size_t nseries, cap;
};

struct metrics {
    pthread_mutex_t mu;   /* guards everything below */
    char prog[64];        /* for warnings */
    struct family **fams; /* sorted by name */
    size_t nfams, cap;
    size_t nseries;  /* over all families, <= METRICS_MAX_SERIES */
    unsigned warned; /* enum metrics_warn bits already logged */
};

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
static bool valid_name(const char *s, bool colon)
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
static const char *labels_problem(const char *l, bool hist)
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

/* Check histogram bounds; NULL if fine, else what is wrong with them. */
static const char *bounds_problem(const double *bounds, size_t nbounds)
{
    if (nbounds > METRICS_MAX_BUCKETS)
        return "too many buckets";
    if (nbounds && !bounds)
        return "bounds is NULL";
    for (size_t i = 0; i < nbounds; i++) {
        if (!isfinite(bounds[i]))
            return "bounds must be finite";
        if (i > 0 && !(bounds[i] > bounds[i - 1]))
            return "bounds must be strictly increasing";
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

    if (!labels || size == 0 || !valid_name(name, false))
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

/* --- the registry --- */

/* Log `fmt` unless a warning of this kind was logged before. Call without m->mu. */
__attribute__((format(printf, 3, 4))) static void
warn_once(struct metrics *m, unsigned kind, const char *fmt, ...)
{
    char msg[512];
    bool first;
    va_list ap;

    pthread_mutex_lock(&m->mu);
    first = !(m->warned & kind);
    m->warned |= kind;
    pthread_mutex_unlock(&m->mu);
    if (!first)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_warn("metrics (%s): %s; further warnings of this kind are not logged", m->prog,
             msg);
}

struct metrics *metrics_new(const char *prog)
{
    struct metrics *m = calloc(1, sizeof(*m));

    if (!m)
        return NULL;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return NULL;
    }
    snprintf(m->prog, sizeof(m->prog), "%s", prog ? prog : "herald");
    return m;
}

static void series_free(struct series *s)
{
    if (!s)
        return;
    free(s->labels);
    free(s->buckets);
    free(s);
}

static void family_free(struct family *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->nseries; i++)
        series_free(f->series[i]);
    free(f->series);
    free(f->bounds);
    free(f->help);
    free(f->name);
    free(f);
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nfams; i++)
        family_free(m->fams[i]);
    free(m->fams);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* A new series with `nbuckets` zeroed buckets (0 for counters and gauges). */
static struct series *series_new(const char *labels, size_t nbuckets)
{
    struct series *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->labels = util_strdup0(labels);
    if (nbuckets)
        s->buckets = calloc(nbuckets, sizeof(*s->buckets));
    if (!s->labels || (nbuckets && !s->buckets)) {
        series_free(s);
        return NULL;
    }
    return s;
}

/* A new family without series; help is escaped here (\\ and \n) once for all renders. */
static struct family *family_new(const char *name, const char *help,
                                 enum metrics_kind kind, const double *bounds,
                                 size_t nbounds)
{
    struct family *f = calloc(1, sizeof(*f)), *result = NULL;
    struct buf b;
    const char *p, *e;

    buf_init(&b, 2 * METRICS_HELP_MAX + 1);
    if (!f)
        goto out;
    f->kind = kind;
    f->name = util_strdup0(name);
    for (p = help ? help : ""; *p; p++) {
        e = *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : NULL;
        if ((e ? buf_puts(&b, e) : buf_append(&b, p, 1)) < 0)
            goto out;
    }
    f->help = b.data ? buf_detach(&b, NULL) : util_strdup0("");
    if (nbounds) {
        f->bounds = malloc(nbounds * sizeof(*f->bounds));
        if (f->bounds)
            memcpy(f->bounds, bounds, nbounds * sizeof(*f->bounds));
        f->nbounds = nbounds;
    }
    if (!f->name || !f->help || (nbounds && !f->bounds))
        goto out;
    result = f;
    f = NULL;
out:
    buf_release(&b);
    family_free(f);
    return result;
}

/* realloc an array of pointers to hold one more; returns it or NULL (arr unchanged). */
static void *grow(void *arr, size_t *cap, size_t n)
{
    size_t ncap = *cap ? *cap * 2 : 8;
    void *p;

    if (n < *cap)
        return arr;
    p = realloc(arr, ncap * sizeof(void *));
    if (p)
        *cap = ncap;
    return p;
}

/* Binary search of v[0..n), sorted by key(v[i]): the index of `want` (*found) or
 * where it would go. */
static size_t sorted_find(void *const *v, size_t n, const char *(*key)(const void *),
                          const char *want, bool *found)
{
    size_t lo = 0, hi = n, mid;
    int c;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = strcmp(key(v[mid]), want);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static const char *family_key(const void *p)
{
    return ((const struct family *)p)->name;
}

static const char *series_key(const void *p)
{
    return ((const struct series *)p)->labels;
}

/* Index of family `name` (*found) or where it would go. Caller holds m->mu. */
static size_t family_find(const struct metrics *m, const char *name, bool *found)
{
    return sorted_find((void *const *)m->fams, m->nfams, family_key, name, found);
}

/* Index of the series with `labels` in f (*found) or where it would go. */
static size_t series_find(const struct family *f, const char *labels, bool *found)
{
    return sorted_find((void *const *)f->series, f->nseries, series_key, labels, found);
}

static bool same_bounds(const struct family *f, const double *bounds, size_t nbounds)
{
    if (f->nbounds != nbounds)
        return false;
    for (size_t i = 0; i < nbounds; i++)
        if (f->bounds[i] != bounds[i])
            return false;
    return true;
}

/* The series name{labels} of this kind, created (with its family) if missing.
 * Returns it, or NULL with *why set to an enum metrics_warn. Caller holds m->mu;
 * arguments are validated. */
static struct series *series_get(struct metrics *m, const char *name, const char *help,
                                 enum metrics_kind kind, const double *bounds,
                                 size_t nbounds, const char *labels, unsigned *why)
{
    struct family *f = NULL, *nf = NULL;
    struct series *s = NULL, *result = NULL;
    size_t fi, si = 0;
    bool found;
    void *p;

    fi = family_find(m, name, &found);
    if (found) {
        f = m->fams[fi];
        if (f->kind != kind ||
            (kind == KIND_HISTOGRAM && !same_bounds(f, bounds, nbounds))) {
            *why = WARN_CONFLICT;
            return NULL;
        }
        si = series_find(f, labels, &found);
        if (found)
            return f->series[si];
    }
    if (m->nseries >= METRICS_MAX_SERIES) {
        *why = WARN_LIMIT;
        return NULL;
    }
    *why = WARN_NOMEM;
    s = series_new(labels, kind == KIND_HISTOGRAM ? nbounds + 1 : 0);
    if (!s)
        goto out;
    if (!f) {
        f = nf = family_new(name, help, kind, bounds, nbounds);
        if (!nf || !(p = grow(m->fams, &m->cap, m->nfams)))
            goto out;
        m->fams = p;
    }
    if (!(p = grow(f->series, &f->cap, f->nseries)))
        goto out;
    f->series = p;
    if (nf) {
        memmove(&m->fams[fi + 1], &m->fams[fi], (m->nfams - fi) * sizeof(*m->fams));
        m->fams[fi] = nf;
        m->nfams++;
        nf = NULL;
    }
    memmove(&f->series[si + 1], &f->series[si], (f->nseries - si) * sizeof(*f->series));
    f->series[si] = s;
    f->nseries++;
    m->nseries++;
    result = s;
    s = NULL;
out:
    series_free(s);
    family_free(nf);
    return result;
}

/* What is wrong with the arguments of an update, or NULL if nothing. */
static const char *update_problem(enum metrics_kind kind, enum metrics_op op,
                                  const char *name, const char *help,
                                  const double *bounds, size_t nbounds, double v,
                                  const char *labels)
{
    const char *problem;

    if (!valid_name(name, true))
        return "invalid metric name";
    if (help && strlen(help) > METRICS_HELP_MAX)
        return "help text too long";
    if (kind == KIND_HISTOGRAM && (problem = bounds_problem(bounds, nbounds)) != NULL)
        return problem;
    if ((problem = labels_problem(labels, kind == KIND_HISTOGRAM)) != NULL)
        return problem;
    if (op == OP_ADD && !isfinite(v))
        return "value is not finite";
    if (kind == KIND_COUNTER && v < 0)
        return "counters cannot go down";
    if (op == OP_OBSERVE && isnan(v))
        return "observation is NaN";
    return NULL;
}

/* Validate, find or create the series, apply op; the body of the public updates. */
static int update(struct metrics *m, enum metrics_kind kind, enum metrics_op op,
                  const char *name, const char *help, const double *bounds,
                  size_t nbounds, double v, const char *labels)
{
    const char *problem;
    struct series *s;
    unsigned why = 0;
    size_t i;

    if (!m)
        return 0;
    labels = labels ? labels : "";
    problem = update_problem(kind, op, name, help, bounds, nbounds, v, labels);
    if (problem) {
        warn_once(m, WARN_INVALID, "refused %s: %s", name ? name : "(null)", problem);
        return -1;
    }

    pthread_mutex_lock(&m->mu);
    s = series_get(m, name, help, kind, bounds, nbounds, labels, &why);
    if (s) {
        switch (op) {
        case OP_ADD:
            s->value += v;
            break;
        case OP_SET:
            s->value = v;
            break;
        case OP_OBSERVE:
            for (i = 0; i < nbounds && v > bounds[i]; i++)
                ;
            s->buckets[i]++;
            s->count++;
            s->sum += v;
            break;
        }
    }
    pthread_mutex_unlock(&m->mu);
    if (s)
        return 0;
    if (why == WARN_LIMIT)
        warn_once(m, why, "series limit %d reached, refused new series of %s",
                  METRICS_MAX_SERIES, name);
    else if (why == WARN_CONFLICT)
        warn_once(m, why, "refused %s: registered with another type or other buckets",
                  name);
    else
        warn_once(m, why, "out of memory adding a series of %s", name);
    return -1;
}

int metrics_counter_add(struct metrics *m, const char *name, const char *help, double v,
                        const char *labels)
{
    return update(m, KIND_COUNTER, OP_ADD, name, help, NULL, 0, v, labels);
}

int metrics_gauge_set(struct metrics *m, const char *name, const char *help, double v,
                      const char *labels)
{
    return update(m, KIND_GAUGE, OP_SET, name, help, NULL, 0, v, labels);
}

int metrics_gauge_add(struct metrics *m, const char *name, const char *help, double v,
                      const char *labels)
{
    return update(m, KIND_GAUGE, OP_ADD, name, help, NULL, 0, v, labels);
}

int metrics_histogram_observe(struct metrics *m, const char *name, const char *help,
                              const double *bounds, size_t nbounds, double v,
                              const char *labels)
{
    return update(m, KIND_HISTOGRAM, OP_OBSERVE, name, help, bounds, nbounds, v, labels);
}

double metrics_get(struct metrics *m, const char *name, const char *labels)
{
    const struct family *f;
    const struct series *s;
    double v = 0;
    bool found;
    size_t i;

    if (!m || !name)
        return 0;
    pthread_mutex_lock(&m->mu);
    i = family_find(m, name, &found);
    if (found) {
        f = m->fams[i];
        i = series_find(f, labels ? labels : "", &found);
        if (found) {
            s = f->series[i];
            v = f->kind == KIND_HISTOGRAM ? (double)s->count : s->value;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return v;
}

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

void metrics_count(struct metrics *m, const char *name, const char *help, const char *k1,
                   const char *v1, const char *k2, const char *v2)
{
    char labels[512] = "";

    if (!m)
        return;
    if (k1)
        metrics_labels_add(labels, sizeof(labels), k1, v1);
    if (k2)
        metrics_labels_add(labels, sizeof(labels), k2, v2);
    metrics_counter_add(m, name, help, 1, labels);
}
