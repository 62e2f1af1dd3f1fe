/* metrics.c -- see metrics.h: the registry.
 *
 * The registry is an array of families sorted by name, each with an array of series
 * sorted by label string; both are found by binary search under one mutex. The
 * Prometheus text format and the HTTP endpoint are metrics_expo.c. */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics_int.h"

enum metrics_op { OP_ADD, OP_SET, OP_OBSERVE };

/* Reasons a call is refused; each is logged once per registry. */
enum metrics_warn {
    WARN_INVALID = 1,  /* bad name, labels, help, bounds or value */
    WARN_CONFLICT = 2, /* name exists with another type or other bounds */
    WARN_LIMIT = 4,    /* METRICS_MAX_SERIES reached */
    WARN_NOMEM = 8,
};

/* --- the registry --- */

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

    if (!metrics_name_valid(name, true))
        return "invalid metric name";
    if (help && strlen(help) > METRICS_HELP_MAX)
        return "help text too long";
    if (kind == KIND_HISTOGRAM && (problem = bounds_problem(bounds, nbounds)) != NULL)
        return problem;
    if ((problem = metrics_labels_problem(labels, kind == KIND_HISTOGRAM)) != NULL)
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
