/* mrkdwn.h -- text for Slack: escaping event text so it can never form a link, a
 * mention or <!channel>, cutting it to Slack's limits on a UTF-8 boundary, and the
 * Block Kit pieces (header, section, context, fields) slack.c builds messages of.
 *
 * Limits are bytes (Slack counts characters; bytes are never more lenient). A
 * function that appends to a struct buf returns 0, or -1 only when memory ran out (a
 * text that does not fit is cut with "…", or left out, as each says). Thread-safe. */
#ifndef HERALD_MRKDWN_H
#define HERALD_MRKDWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "util.h"

/* Slack's limits, in characters; we count bytes, which is never more lenient. */
#define MRKDWN_HEADER_MAX 150
#define MRKDWN_TEXT_MAX 3000  /* section text, context element */
#define MRKDWN_FIELD_MAX 2000 /* one section field */
#define MRKDWN_FALLBACK_MAX 400
#define MRKDWN_URL_MAX 2000
#define MRKDWN_RAW_MAX (64 * 1024) /* unescaped text composed before escaping */
/* Our own cuts, so one long value cannot crowd out the rest of a line. */
#define MRKDWN_NAME_MAX 80  /* service, version, stage, build id in a header or line */
#define MRKDWN_JOB_MAX 160  /* job name in the fallback line */
#define MRKDWN_ITEM_MAX 300 /* one listed line (escaped) */
#define MRKDWN_TAIL_MAX 40  /* room kept for ", …and N more" after a list */

#define MRKDWN_HTML 1    /* & < > become entities */
#define MRKDWN_ONELINE 2 /* newline and tab become spaces */

/* Append s (NULL = "") to b transformed by flags (control characters other than
 * newline and tab dropped, invalid UTF-8 dropped), taking at most max_in input bytes
 * and writing at most max_out bytes ("…" included when cut). b is unchanged on -1. */
int mrkdwn_esc(struct buf *b, const char *s, size_t max_in, size_t max_out, int flags);

/* Append `s` to b escaped for Slack mrkdwn/text: & -> &amp;, < -> &lt;, > -> &gt;,
 * so event text can never form a link, a mention or <!channel>. At most max_chars
 * input bytes are taken. */
int slack_escape_append(struct buf *b, const char *s, size_t max_chars);

/* A new escaped copy of s (caller frees), or NULL on allocation failure. */
char *slack_escape(const char *s);

/* Room left in b before its limit. */
size_t mrkdwn_room(const struct buf *b);

/* s escaped with flags, cut to the room left. */
int mrkdwn_put_esc(struct buf *b, const char *s, int flags);

/* Trusted text; left out when it does not fit. */
int mrkdwn_put_raw(struct buf *b, const char *s);

/* Raw text for a header or a fallback line (escaped later as a whole): controls
 * dropped, newlines made spaces, cut to max bytes. */
int mrkdwn_piece(struct buf *raw, const char *s, size_t max);

/* An http(s) URL safe inside <url|text>: < > | space, quotes, controls and non-ASCII
 * bytes percent-encoded, & as &amp;. -1 (b unchanged) if it is not http(s), has no
 * host, is too long, or memory ran out. */
int mrkdwn_put_url(struct buf *b, const char *url);

/* lines[0..n) each escaped with flags and cut to item_max bytes, as "• line" bullets or
 * comma-separated, in at most limit bytes; what does not fit is counted with more in a
 * closing "…and N more", so the shown plus N always equal n + more. */
int mrkdwn_list(struct buf *b, const char *const *lines, size_t n, int64_t more,
                bool bullets, size_t item_max, size_t limit, int flags);

/* Block Kit. Every function returns 0 (or the new object) or -1 (NULL) on no memory. */
/* {"type": type, "text": text} appended to an array parent (key NULL) or set as
 * parent[key]. */
int mrkdwn_text(cJSON *parent, const char *key, const char *type, const char *text,
                bool emoji);
/* A new block {"type": type} appended to blocks; returns it (owned by blocks). */
cJSON *mrkdwn_block(cJSON *blocks, const char *type);
/* A header block from raw text, escaped and cut to MRKDWN_HEADER_MAX. */
int mrkdwn_header(cJSON *blocks, const char *raw);
/* A "section" or a "context" block of mrkdwn text that is already safe. */
int mrkdwn_add(cJSON *blocks, const char *type, const char *text);
/* A field "*label*\nvalue", value escaped and cut to fit; _buf: already escaped. */
int mrkdwn_field(cJSON *fields, const char *label, const char *value);
int mrkdwn_field_buf(cJSON *fields, const char *label, const struct buf *v);

#endif
