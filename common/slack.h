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

/* Build the JSON payload for alert `a` to receiver `r`: a "text" fallback line (tier
 * emoji, tier, what happened) and one attachment with the colour (green for RECOVERED
 * and ECO_RECOVERED, else by tier) holding Block Kit blocks, headed by a header block.
 * For a Web API receiver "channel" is set, and "thread_ts" when thread_ts is non-NULL.
 *
 * Per kind (header, then body):
 *   FAILURE      "<service>[ <version>] · <stage> failed|errored[ (infrastructure)]";
 *                fields (service, job, stage, state, tier, repository, Version/ref --
 *                the version when set --, description with "infrastructure: <cause>");
 *                "Failed N times in a row since <time> (first failure: build <id>)"
 *                when failures > 1 or threshold > 1; "*Also failed in this release:*"
 *                bullets from lines ("…and N more" when more > 0); "View job" link.
 *   REMINDER     "<service> · <stage> still failing[ (infrastructure)]"; fields;
 *                "Failing for <duration>, <failures> runs since <time>".
 *   RECOVERED    "<service> · <stage> recovered"; fields; "Recovered after N failures
 *                over <duration>".
 *   CONSEQUENCE  "<service>[ <version>] · <stage> failed (consequence)"; fields;
 *                lines[0]; "Downstream of an earlier failure in this release; ...".
 *   ECOSYSTEM    ":rotating_light: Ecosystem: N services failing <stage>" (N = nlines +
 *                more); the services comma-separated; "N services within <window>
 *                since <time>. Per-service alerts for this stage are held ...".
 *   ECO_RECOVERED "Ecosystem: <stage> recovered"; the services; "All N services
 *                recovered[ within <window>]".
 *   STALLED      "<service>[ <version>] · release stalled at <stage>"; lines as bullets.
 *   DIGEST       "N alerts folded into this digest" (N = suppressed); lines as bullets
 *                and "…and <more> more"; "Held back by the rate limit" with the service
 *                and stage when not "", the tier and since when.
 * Every kind: "Suppressed N repeats since <time>" when suppressed > 0 (not DIGEST),
 * and `extra` (already mrkdwn-safe) as a context line. Every event-derived string
 * (alert strings, lines, event fields) is escaped as slack_escape_append does and cut
 * to Slack's limits (header 150, section/context 3000, field 2000 bytes); a list that
 * does not fit says how many it left out, so the counts still add up.
 *
 * `a` and everything it points to are borrowed. a->service and a->stage must be
 * non-NULL, and a->ev non-NULL for FAILURE, REMINDER, RECOVERED and CONSEQUENCE (it
 * is optional for the others: when given, only its "View job" link is used).
 * Thread-safe (no shared state). Returns a new string (caller frees), or NULL when a
 * required input is missing or memory ran out. */
char *slack_format(const struct alert *a, const struct receiver *r,
                   const char *thread_ts);

#endif
