/* html.h -- building herald-web's pages: escaping, the page frame, formats.
 *
 * Every value that comes from an event, a config or a request goes through
 * html_text() (element content and attribute values: & < > " ' escaped) or
 * html_path() (a URL path segment: percent-encoded). All functions append to a
 * struct buf and return 0, or -1 when the buffer's limit or memory ran out (the
 * page is then refused whole, never sent half-escaped).
 */
#ifndef HERALD_WEB_HTML_H
#define HERALD_WEB_HTML_H

#include <stdint.h>

#include "util.h"

/* Escaped text (NULL appends nothing). */
int html_text(struct buf *b, const char *s);

/* A URL path segment or query value, percent-encoded (unreserved bytes kept). */
int html_path(struct buf *b, const char *s);

/* printf, then html_text of the result: for numbers and fixed formats with
 * event values inside. */
int html_textf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The page frame: doctype, <head> with the style sheet, the navigation (active is
 * "board", "trends", "outcomes" or NULL), <main>. html_foot closes it. */
int html_head(struct buf *b, const char *title, const char *active);
int html_foot(struct buf *b);

/* A whole error page: status and message. */
int html_error_page(struct buf *b, unsigned int status, const char *msg);

/* "2026-11-24 13:06:30 UTC" ("-" for 0). */
int html_time(struct buf *b, int64_t ms);

/* "15 min", "2 h 3 min" ("-" for a negative value). */
int html_duration(struct buf *b, int64_t ms);

/* The colour of a state: succeeded/success green, failed/failure/error red,
 * blocked orange, stale purple, running/pending blue, waiting/aborted grey. */
const char *html_state_color(const char *state);

/* A coloured badge <span class="st st-STATE">TEXT</span> (text NULL = the state). */
int html_badge(struct buf *b, const char *state, const char *text);

#endif
