/* metrics.h -- a small thread-safe Prometheus registry and its HTTP endpoint.
 *
 * The registry holds counters, gauges and histograms, each a family (one metric name,
 * one help text, one type) of series told apart by their label set. Series are
 * created on first use; there is no registration step:
 *
 *     char lbl[METRICS_LABELS_MAX + 1] = "";
 *     metrics_labels_add(lbl, sizeof(lbl), "receiver", rcv->name);
 *     metrics_labels_add(lbl, sizeof(lbl), "tier", tier_name(t));
 *     metrics_counter_add(m, "herald_slack_posts_total", "Slack posts sent.", 1, lbl);
 *
 * Labels are passed as one preformatted string in Prometheus syntax,
 * `receiver="x",tier="critical"`, or NULL / "" for none. The string is the series
 * key: callers must write the same labels in the same order every time. Values taken
 * from events (repo, job, receiver names from config) must be escaped with
 * metrics_label_escape() or added with metrics_labels_add(); a malformed string is
 * refused (-1), never rendered. (Repeated label names are not detected: don't.)
 *
 * Bounded: at most METRICS_MAX_SERIES series in all (a histogram series counts as
 * one), names up to METRICS_NAME_MAX bytes, labels up to METRICS_LABELS_MAX, help up
 * to METRICS_HELP_MAX, METRICS_MAX_BUCKETS histogram bounds. Calls past a limit or
 * with invalid arguments return -1 and change nothing; the first such call of each
 * kind logs one warning (later ones are silent, so a hot path cannot flood the log).
 *
 * Threads: every function taking a `struct metrics *` may be called from any thread
 * at any time, except metrics_free(). One mutex guards the registry; updates are a
 * binary search and an add under it.
 *
 * NULL registry: every function accepts m == NULL and does nothing (metrics_get()
 * returns 0, metrics_render() appends nothing), so code runs unchanged without
 * metrics.
 */
#ifndef HERALD_METRICS_H
#define HERALD_METRICS_H

#include <stddef.h>

#include "util.h"

#define METRICS_MAX_SERIES 4096        /* series over all families */
#define METRICS_LABELS_MAX 512         /* bytes of a label string, without the NUL */
#define METRICS_NAME_MAX 128           /* bytes of a metric name, without the NUL */
#define METRICS_HELP_MAX 512           /* bytes of a help text, without the NUL */
#define METRICS_MAX_BUCKETS 32         /* histogram bounds, without the implicit +Inf */
#define METRICS_RENDER_MAX (16u << 20) /* bytes of one /metrics response */
#define METRICS_WHY_MAX 256            /* bytes for the ready callback's reason */

struct metrics;

/* Create an empty registry. `prog` (may be NULL) is copied, cut at 63 bytes, and only
 * names the registry in its warnings. Returns a new registry (free with
 * metrics_free()) or NULL if memory ran out. */
struct metrics *metrics_new(const char *prog);

/* Free the registry and every series. NULL is a no-op. No other thread may use `m`
 * during or after the call; stop any metrics_http on it first. */
void metrics_free(struct metrics *m);

/* Add v (finite, >= 0) to the counter `name`{labels}, creating it at 0 first if
 * needed. `name` must match [a-zA-Z_:][a-zA-Z0-9_:]* (by convention ending in
 * _total); `help` (may be NULL) is used when the family is created and ignored later.
 * `labels` may be NULL or "". All strings are borrowed for the call only.
 * Returns 0, or -1 if an argument is invalid, `name` already exists with another type,
 * or the series limit is reached. */
int metrics_counter_add(struct metrics *m, const char *name, const char *help, double v,
                        const char *labels);

/* Set the gauge `name`{labels} to v (any value, NaN and infinities included).
 * Arguments and return as for metrics_counter_add(). */
/* Add 1 to counter `name` with up to two labels (k1/k2 NULL for none). m may be
 * NULL (nothing counted). */
void metrics_count(struct metrics *m, const char *name, const char *help, const char *k1,
                   const char *v1, const char *k2, const char *v2);

int metrics_gauge_set(struct metrics *m, const char *name, const char *help, double v,
                      const char *labels);

/* Add v (finite, may be negative) to the gauge `name`{labels}, creating it at 0
 * first if needed; for in-flight counts and queue depths. Arguments and return as for
 * metrics_counter_add(). */
int metrics_gauge_add(struct metrics *m, const char *name, const char *help, double v,
                      const char *labels);

/* Record the observation v (not NaN) in the histogram `name`{labels}.
 * `bounds[0..nbounds)` are the upper bounds of the buckets: finite, strictly
 * increasing, at most METRICS_MAX_BUCKETS (the +Inf bucket is implicit; nbounds may
 * be 0, then bounds may be NULL). The bounds are copied when the family is created;
 * later calls must pass the same bounds, or get -1. `labels` must not contain the
 * label `le`. Otherwise as for metrics_counter_add(). */
int metrics_histogram_observe(struct metrics *m, const char *name, const char *help,
                              const double *bounds, size_t nbounds, double v,
                              const char *labels);

/* The current value of `name`{labels} (labels NULL or "" for none): a counter's or
 * gauge's value, a histogram's observation count. Returns 0 if there is no such
 * series (or m is NULL). Meant for tests and end-of-run summaries. */
double metrics_get(struct metrics *m, const char *name, const char *labels);

/* Append the whole registry to `out` in the Prometheus text exposition format 0.0.4:
 * per family, sorted by name, "# HELP" (when there is help text) and "# TYPE", then
 * its samples sorted by label string; a histogram as cumulative
 * name_bucket{...,le="..."} lines ending with le="+Inf", then name_sum and
 * name_count. `out` is initialised by the caller (buf_init()) and stays the caller's.
 * Returns 0, or -1 if out->max or memory ran out; then `out` is left as it was.
 * m == NULL appends nothing and returns 0. */
int metrics_render(struct metrics *m, struct buf *out);

/* Escape a label value for the text format: backslash, double quote and newline
 * become \\, \" and \n, and bytes that are not valid UTF-8 become U+FFFD. Writes the
 * result into out[0..out_size), always NUL-terminated if out_size > 0, never cutting
 * an escape or a UTF-8 sequence in half. `in` NULL is treated as "". Returns 0, or -1
 * if the result was cut short. Thread-safe; needs no registry. */
int metrics_label_escape(const char *in, char *out, size_t out_size);

/* Append one label, `name="<escaped value>"`, to the label string `labels` (a
 * NUL-terminated buffer of `size` bytes, "" to start), with a comma first if it is
 * not empty. `name` must match [a-zA-Z_][a-zA-Z0-9_]*; `value` NULL is "". Returns 0,
 * or -1 if the name is invalid or the result would not fit in size bytes or in
 * METRICS_LABELS_MAX; then `labels` is left as it was. Thread-safe; needs no
 * registry. */
int metrics_labels_add(char *labels, size_t size, const char *name, const char *value);

/* --- HTTP endpoint (libmicrohttpd) --- */

struct metrics_http;

/* Serve `m` over HTTP on `listen`, "host:port": "127.0.0.1:9464", "0.0.0.0:9464"
 * (for containers), ":9464" (all IPv4 interfaces) or "[::1]:9464". The host must be a
 * numeric address; port 0 binds a free port (see metrics_http_port()). Answers:
 *   GET /metrics  200, text/plain; version=0.0.4, metrics_render() of m
 *                 (500 if it exceeds METRICS_RENDER_MAX)
 *   GET /healthz  200 "ok\n" -- the process is alive and serving
 *   GET /readyz   ready_cb (NULL means always ready): 0 -> 200 "ready\n",
 *                 non-zero -> 503 "not ready: <why>\n"
 *   other paths 404, methods other than GET and HEAD 405.
 * ready_cb is called on a server thread (so it must be thread-safe) with `opaque`;
 * it returns 0 when ready, otherwise non-zero after writing a short reason into
 * why[0..why_size) (NUL-terminated; it starts as "", why_size is METRICS_WHY_MAX).
 * It should answer quickly from state it already has.
 * Served by common/httpd.c until metrics_http_stop(): /healthz on its I/O thread, so
 * it answers at once under connection pressure (idle, half-sent or unread
 * connections, a port scan) and whatever /readyz and /metrics do; those two run on
 * two worker threads. Limits and timeouts: see httpd.h.
 * `m` (may be NULL: /metrics is then empty) and `opaque` are borrowed and must stay
 * valid until metrics_http_stop() returns. Returns the new server, or NULL with a
 * reason in errstr[0..errstr_size) (bad address, port in use, ...). Call from any
 * thread. */
struct metrics_http *metrics_http_start(struct metrics *m, const char *listen,
                                        int (*ready_cb)(void *opaque, char *why,
                                                        size_t why_size),
                                        void *opaque, char *errstr, size_t errstr_size);

/* The TCP port the server is bound to (the real one when port 0 was asked for), or
 * -1 for NULL. */
int metrics_http_port(const struct metrics_http *h);

/* Stop serving: closes the listening socket, waits for requests in progress to finish
 * and frees the server. NULL is a no-op. Must not be called from ready_cb. */
void metrics_http_stop(struct metrics_http *h);

#endif
