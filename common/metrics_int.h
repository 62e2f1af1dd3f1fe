/* metrics_int.h -- private to the metrics module (metrics.c, the registry;
 * metrics_expo.c, the text format and the HTTP endpoint); nothing else includes it.
 * The public manual is metrics.h.
 *
 * Threads: struct metrics' members are guarded by its mu; the functions below touch
 * no shared state.
 */
#ifndef HERALD_METRICS_INT_H
#define HERALD_METRICS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum metrics_kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM };

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
    unsigned warned; /* enum metrics_warn bits already logged (metrics.c) */
};

/* true if s (may be NULL) is a metric name (colon: ':' allowed) or a label name (not),
 * at most METRICS_NAME_MAX bytes (metrics_expo.c). */
bool metrics_name_valid(const char *s, bool colon);

/* What is wrong with a preformatted label string l (not NULL; hist: a histogram's, where
 * le is reserved), or NULL if it is fine (metrics_expo.c). */
const char *metrics_labels_problem(const char *l, bool hist);

#endif
