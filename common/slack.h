/* slack.h -- Slack messages: mrkdwn escaping and Block Kit payloads for alerts. */
#ifndef HERALD_SLACK_H
#define HERALD_SLACK_H

#include <stddef.h>

#include "alert.h"
#include "deliver.h"
#include "util.h"

/* Append `s` to b escaped for Slack mrkdwn/text: & -> &amp;, < -> &lt;, > -> &gt;,
 * so event text can never form a link, a mention or <!channel>. Control characters
 * other than newline and tab are dropped. At most max_chars input bytes are taken
 * (cut on a UTF-8 boundary, "…" added). Returns 0 or -1 (buffer limit). */
int slack_escape_append(struct buf *b, const char *s, size_t max_chars);

/* Returns a new escaped copy of s (caller frees), or NULL on allocation failure. */
char *slack_escape(const char *s);

/* Build the JSON payload for alert `a` to receiver `r`: a "text" fallback line and an
 * attachment with the tier colour holding Block Kit blocks (header, fields for
 * service, job, stage, state, tier, version/ref, description, a "View job" link,
 * suppressed count and since when). For a Web API receiver "channel" is set, and
 * "thread_ts" when thread_ts is non-NULL. Returns a new string (caller frees), or NULL. */
char *slack_format(const struct alert *a, const struct receiver *r, const char *thread_ts);

#endif
