/* util.h -- small helpers every module needs: time, durations, numbers, strings,
 * a bounded growable buffer. No state; all functions are thread-safe. */
#ifndef HERALD_UTIL_H
#define HERALD_UTIL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Install `handler` for SIGTERM and SIGINT and ignore SIGPIPE. If old_mask is not
 * NULL, also block SIGTERM and SIGINT in the calling thread (threads started later
 * inherit it) and store the previous mask there, for a main loop in sigsuspend() that
 * cannot miss the signal. Call once from main() before starting threads. */
void util_stop_signals(void (*handler)(int), sigset_t *old_mask);

/* Wall-clock time in ms since the epoch; monotonic time in ms (for timeouts). */
int64_t util_now_ms(void);
int64_t util_mono_ms(void);

/* Sleep `ms` milliseconds or until *stop becomes non-zero (checked every 50 ms);
 * stop may be NULL. */
void util_sleep_ms(int64_t ms, const volatile int *stop);

/* Parse an RFC 3339 timestamp ("2026-11-25T10:00:00Z", "...T10:00:00.123456+02:00")
 * into ms since the epoch. Returns 0 and sets *out_ms, or -1 if it is not one. */
int util_parse_time(const char *s, int64_t *out_ms);

/* Format ms since the epoch as RFC 3339 UTC with milliseconds into buf
 * ("2026-11-25T10:00:00.123Z"). buf should hold 32 bytes. Returns buf. */
char *util_format_time_ms(int64_t ms, char *buf, size_t size);

/* Format ms since the epoch as RFC 3339 UTC to the second ("...T10:00:00Z"). */
char *util_format_time_s(int64_t ms, char *buf, size_t size);

/* Parse a duration: "250ms", "30s", "15m", "2h", "1d", or combinations ("1h30m");
 * a bare number is seconds. Returns 0 and sets *out_ms, or -1. */
int util_parse_duration(const char *s, int64_t *out_ms);

/* Human duration for messages: "45s", "12 min", "5 h 3 min", "2 d 4 h". */
char *util_human_duration(int64_t ms, char *buf, size_t size);

/* Strict integer parse of the whole string (strtoll with errno/endptr checks).
 * Returns 0 and sets *out, or -1. */
int util_parse_int(const char *s, long long min, long long max, long long *out);

/* Strict non-negative double parse of the whole string. Returns 0 or -1. */
int util_parse_double(const char *s, double *out);

/* Escape `in` for a JSON string body into out (always NUL-terminated, cut at size). */
void util_json_escape(const char *in, char *out, size_t size);

/* Shell-style glob match with '*' and '?' only (no character classes). */
bool util_glob_match(const char *pattern, const char *s);

/* FNV-1a of the NUL-terminated s: for in-process hash tables, not stored anywhere. */
uint64_t util_fnv1a(const char *s);

/* true if [s, s+len) is valid UTF-8 (no overlongs, no surrogates). */
bool util_utf8_valid(const char *s, size_t len);

/* strdup that returns NULL for a NULL argument. Returns a new string; caller frees. */
char *util_strdup0(const char *s);

/* Read a whole regular file (at most max bytes). Returns a new NUL-terminated buffer
 * and sets *len, or NULL with errstr set ("<path>: <why>"). Caller frees. Anything
 * but a regular file (after following symlinks) is refused without reading or
 * waiting: a FIFO, a device, a socket or a directory. */
char *util_read_file(const char *path, size_t max, size_t *len, char *errstr,
                     size_t errstr_size);

/* Thread-safe strerror into buf; returns buf. */
const char *util_strerror(int err, char *buf, size_t size);

/* Channel templates: "#ack-{service}". The placeholders are {service}, {stage},
 * {repo} and {org}. util_template_expand writes tpl with each placeholder replaced by
 * values[i] (borrowed, NULL = "") in the order service, stage, repo, org into out
 * (NUL-terminated). Returns 0, or -1 for an unknown or unclosed placeholder or if the
 * result does not fit. util_template_check is 0 for a valid template. */
int util_template_expand(const char *tpl, const char *const values[4], char *out,
                         size_t size);
int util_template_check(const char *tpl);

/* A growable byte buffer with a hard limit (git's strbuf, curl's dynbuf).
 * Always NUL-terminated. Initialise with buf_init(); release with buf_release(). */
struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* bytes; appends past it fail */
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
/* Append; return 0, or -1 if the result would exceed b->max or memory ran out
 * (the buffer is left as it was). */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s (NULL = "") as a JSON string, quoted and escaped. 0 or -1. */
int buf_json_str(struct buf *b, const char *s);
/* Take the data out: returns it (caller frees) and leaves b empty. */
char *buf_detach(struct buf *b, size_t *len);

#endif
