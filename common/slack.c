/* slack.c -- see slack.h. */
#include "slack.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "alert.h"
#include "event.h"
#include "util.h"

/* Slack's limits, in characters; we count bytes, which is never more lenient. */
#define SLACK_HEADER_MAX 150
#define SLACK_TEXT_MAX 3000  /* section text, context element */
#define SLACK_FIELD_MAX 2000 /* one section field */
#define SLACK_FALLBACK_MAX 400
#define SLACK_URL_MAX 2000
#define SLACK_RAW_MAX (64 * 1024) /* unescaped text composed before escaping */

#define ESC_HTML 1    /* & < > become entities */
#define ESC_ONELINE 2 /* newline and tab become spaces */

static const char ellipsis[] = "\xe2\x80\xa6"; /* U+2026 */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if p starts an invalid one. */
static size_t utf8_seq_len(const unsigned char *p)
{
    unsigned c = p[0];
    size_t n;

    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        n = 2;
    else if ((c & 0xf0) == 0xe0)
        n = 3;
    else if ((c & 0xf8) == 0xf0)
        n = 4;
    else
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
    return util_utf8_valid((const char *)p, n) ? n : 0;
}

/* One unit of input at p: sets *out and *outlen to what it becomes (maybe nothing) and
 * returns how many input bytes it spans (>= 1). */
static size_t esc_unit(const char *p, int flags, const char **out, size_t *outlen)
{
    unsigned char c = (unsigned char)*p;
    size_t n;

    *out = p;
    *outlen = 1;
    if (c == '\n' || c == '\t') {
        if (flags & ESC_ONELINE)
            *out = " ";
        return 1;
    }
    if (c < 0x20 || c == 0x7f) {
        *outlen = 0;
        return 1;
    }
    if (flags & ESC_HTML) {
        const char *e = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : NULL;
        if (e) {
            *out = e;
            *outlen = strlen(e);
            return 1;
        }
    }
    n = utf8_seq_len((const unsigned char *)p);
    if (n == 0) { /* invalid UTF-8 byte: drop it, Slack would refuse the payload */
        *outlen = 0;
        return 1;
    }
    *outlen = n;
    return n;
}

/* Append s to b transformed by flags, taking at most max_in input bytes and writing at
 * most max_out bytes (including the "…" added when cut). On failure b is unchanged. */
static int esc_bounded(struct buf *b, const char *s, size_t max_in, size_t max_out,
                       int flags)
{
    size_t in = 0, out = 0, budget, mark = b->len;
    const char *p, *o;
    size_t n, ol;
    bool cut;

    if (!s)
        s = "";
    for (p = s; *p; p += n) {
        n = esc_unit(p, flags, &o, &ol);
        in += n;
        out += ol;
    }
    cut = in > max_in || out > max_out;
    budget = max_out;
    if (cut)
        budget = max_out >= sizeof(ellipsis) - 1 ? max_out - (sizeof(ellipsis) - 1) : 0;
    in = out = 0;
    for (p = s; *p; p += n) {
        n = esc_unit(p, flags, &o, &ol);
        if (in + n > max_in || out + ol > budget)
            break;
        if (ol && buf_append(b, o, ol) < 0)
            goto fail;
        in += n;
        out += ol;
    }
    if (cut && max_out >= sizeof(ellipsis) - 1 &&
        buf_append(b, ellipsis, sizeof(ellipsis) - 1) < 0)
        goto fail;
    if (buf_append(b, "", 0) < 0) /* make sure data is allocated and terminated */
        goto fail;
    return 0;
fail:
    if (b->data) {
        b->len = mark;
        b->data[mark] = '\0';
    }
    return -1;
}

int slack_escape_append(struct buf *b, const char *s, size_t max_chars)
{
    return esc_bounded(b, s, max_chars, SIZE_MAX, ESC_HTML);
}

char *slack_escape(const char *s)
{
    struct buf b;
    size_t len = s ? strlen(s) : 0;

    buf_init(&b, len * 5 + 16);
    if (esc_bounded(&b, s, SIZE_MAX, SIZE_MAX, ESC_HTML) < 0) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

/* Room left in b before its limit. */
static size_t room(const struct buf *b)
{
    return b->max > b->len ? b->max - b->len : 0;
}

/* Escape s into b, cut to the room left. -1 only when memory ran out. */
static int put_esc(struct buf *b, const char *s, int flags)
{
    return esc_bounded(b, s, SIZE_MAX, room(b), flags);
}

/* Append trusted text; silently skipped when it does not fit. -1 on no memory. */
static int put_raw(struct buf *b, const char *s)
{
    size_t len = strlen(s);

    if (len > room(b))
        return 0;
    return buf_append(b, s, len);
}

/* Append an http(s) URL safe to put inside <url|text>: < > | space, quotes, controls
 * and non-ASCII bytes are percent-encoded and & becomes &amp;, so the URL can
 * neither end the link early nor add text to it. Returns 0, or -1 (b unchanged) if
 * the URL is not http(s), has no host, is too long or memory ran out. */
static int put_url(struct buf *b, const char *url)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t mark = b->len, start;
    const unsigned char *p;

    if (!url)
        return -1;
    if (strncasecmp(url, "https://", 8) == 0)
        start = 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        start = 7;
    else
        return -1;
    if (url[start] == '\0' || url[start] == '/' || strlen(url) > SLACK_URL_MAX)
        return -1;
    for (p = (const unsigned char *)url; *p; p++) {
        char enc[4];
        int rc;
        if (*p <= 0x20 || *p >= 0x7f || strchr("<>|\"`\\", *p)) {
            enc[0] = '%';
            enc[1] = hex[*p >> 4];
            enc[2] = hex[*p & 15];
            rc = buf_append(b, enc, 3);
        } else if (*p == '&') {
            rc = buf_append(b, "&amp;", 5);
        } else {
            rc = buf_append(b, p, 1);
        }
        if (rc < 0 || b->len - mark > SLACK_URL_MAX)
            goto fail;
    }
    return 0;
fail:
    if (b->data) {
        b->len = mark;
        b->data[mark] = '\0';
    }
    return -1;
}

/* {"type": type, "text": text} appended to arr (array) or set as arr[key]. */
static int add_text(cJSON *parent, const char *key, const char *type, const char *text,
                    bool emoji)
{
    cJSON *o = cJSON_CreateObject();

    if (!o || !cJSON_AddStringToObject(o, "type", type) ||
        !cJSON_AddStringToObject(o, "text", text ? text : "") ||
        (emoji && !cJSON_AddTrueToObject(o, "emoji")))
        goto fail;
    if (key ? cJSON_AddItemToObject(parent, key, o) : cJSON_AddItemToArray(parent, o))
        return 0;
fail:
    cJSON_Delete(o);
    return -1;
}

/* Append a block {"type": type} to blocks; returns it (owned by blocks) or NULL. */
static cJSON *add_block(cJSON *blocks, const char *type)
{
    cJSON *o = cJSON_CreateObject();

    if (!o || !cJSON_AddStringToObject(o, "type", type) ||
        !cJSON_AddItemToArray(blocks, o)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* A header block; raw is unescaped text, escaped here and cut to Slack's limit. */
static int add_header(cJSON *blocks, const char *raw)
{
    struct buf b;
    cJSON *blk;
    int rc = -1;

    buf_init(&b, SLACK_HEADER_MAX);
    if (put_esc(&b, raw, ESC_HTML | ESC_ONELINE) < 0 ||
        !(blk = add_block(blocks, "header")))
        goto out;
    rc = add_text(blk, "text", "plain_text", b.len ? b.data : "-", true);
out:
    buf_release(&b);
    return rc;
}

/* A context block (one line) or a section with mrkdwn text already safe. */
static int add_mrkdwn_block(cJSON *blocks, const char *type, const char *text)
{
    cJSON *blk = add_block(blocks, type), *elems;

    if (!blk)
        return -1;
    if (strcmp(type, "section") == 0)
        return add_text(blk, "text", "mrkdwn", text, false);
    if (!(elems = cJSON_AddArrayToObject(blk, "elements")))
        return -1;
    return add_text(elems, NULL, "mrkdwn", text, false);
}

/* A mrkdwn field "*label*\n<value>", value escaped and cut to fit. */
static int add_field(cJSON *fields, const char *label, const char *value)
{
    struct buf b;
    int rc = -1;

    buf_init(&b, SLACK_FIELD_MAX);
    if (put_raw(&b, "*") < 0 || put_raw(&b, label) < 0 || put_raw(&b, "*\n") < 0 ||
        put_esc(&b, value && *value ? value : "-", ESC_HTML) < 0)
        goto out;
    rc = add_text(fields, NULL, "mrkdwn", b.data, false);
out:
    buf_release(&b);
    return rc;
}

/* Same, for a value already escaped in v. */
static int add_field_buf(cJSON *fields, const char *label, const struct buf *v)
{
    struct buf b;
    int rc = -1;

    buf_init(&b, SLACK_FIELD_MAX + 64);
    if (buf_printf(&b, "*%s*\n%s", label, v->len ? v->data : "-") < 0)
        goto out;
    rc = add_text(fields, NULL, "mrkdwn", b.data, false);
out:
    buf_release(&b);
    return rc;
}

static const char *tier_color(const struct alert *a)
{
    if (a->kind == ALERT_RECOVERED)
        return "#2eb886";
    return a->tier == TIER_CRITICAL  ? "#d40e0d"
           : a->tier == TIER_WARNING ? "#e8a317"
                                     : "#439fe0";
}

static const char *tier_emoji(const struct alert *a)
{
    if (a->kind == ALERT_RECOVERED)
        return ":large_green_circle:";
    return a->tier == TIER_CRITICAL  ? ":red_circle:"
           : a->tier == TIER_WARNING ? ":large_orange_circle:"
                                     : ":large_blue_circle:";
}

/* What happened, as words for the header and the fallback line. */
static const char *kind_verb(const struct alert *a)
{
    const char *st = a->ev ? a->ev->state : NULL;

    if (a->kind == ALERT_RECOVERED)
        return "recovered";
    if (a->kind == ALERT_REMINDER)
        return "still failing";
    if (!st || strcmp(st, "failure") == 0)
        return "failed";
    if (strcmp(st, "error") == 0)
        return "errored";
    return st;
}

/* The one-line "text" fallback and the header, both composed raw then escaped. */
static int add_summary(cJSON *root, cJSON *blocks, const struct alert *a)
{
    struct buf raw, line;
    int rc = -1;

    buf_init(&raw, SLACK_RAW_MAX);
    buf_init(&line, SLACK_FALLBACK_MAX + 64);
    if (a->kind == ALERT_DIGEST) {
        if (buf_printf(&raw, "%lld alert%s folded into this digest",
                       (long long)a->suppressed, a->suppressed == 1 ? "" : "s") < 0 ||
            add_header(blocks, raw.data) < 0 ||
            buf_printf(&line, "%s [%s] ", tier_emoji(a), tier_name(a->tier)) < 0 ||
            put_esc(&line, a->service, ESC_HTML | ESC_ONELINE) < 0 ||
            put_raw(&line, ": ") < 0 || put_raw(&line, raw.data) < 0)
            goto out;
    } else {
        const char *what = a->kind == ALERT_FAILURE ? a->ev->state : kind_verb(a);
        if (buf_printf(&raw, "%s \xc2\xb7 %s %s", a->service, a->stage, kind_verb(a)) <
                0 ||
            add_header(blocks, raw.data) < 0)
            goto out;
        buf_reset(&raw);
        if (buf_printf(&raw, "%s: %s %s", a->service, a->ev->job, what) < 0 ||
            buf_printf(&line, "%s [%s] ", tier_emoji(a), tier_name(a->tier)) < 0 ||
            put_esc(&line, raw.data, ESC_HTML | ESC_ONELINE) < 0)
            goto out;
    }
    if (cJSON_AddStringToObject(root, "text", line.data))
        rc = 0;
out:
    buf_release(&raw);
    buf_release(&line);
    return rc;
}

/* "Version/ref": the branch or tag and, for presubmits and batches, the PRs. */
static int put_ref(struct buf *v, const struct event *ev)
{
    bool prs = strcmp(ev->type, "presubmit") == 0 || strcmp(ev->type, "batch") == 0;
    char num[32];

    if (put_esc(v, ev->base_ref && *ev->base_ref ? ev->base_ref : "-", ESC_HTML) < 0)
        return -1;
    if (!prs || ev->npulls == 0)
        return 0;
    if (ev->npulls == 1) {
        const struct event_pull *pr = &ev->pulls[0];
        bool linked = false;
        size_t mark;
        snprintf(num, sizeof(num), "PR #%ld", pr->number);
        if (put_raw(v, "\n") < 0)
            return -1;
        mark = v->len;
        if (pr->link && room(v) > 1) {
            if (put_raw(v, "<") < 0)
                return -1;
            if (put_url(v, pr->link) == 0 && room(v) > strlen(num) + 2) {
                if (put_raw(v, "|") < 0 || put_raw(v, num) < 0 || put_raw(v, ">") < 0)
                    return -1;
                linked = true;
            } else { /* refused or no room: no link */
                v->len = mark;
                v->data[mark] = '\0';
            }
        }
        if (!linked && put_raw(v, num) < 0)
            return -1;
        if (pr->author &&
            (put_raw(v, " by ") < 0 || put_esc(v, pr->author, ESC_HTML) < 0))
            return -1;
        if (pr->title && (put_raw(v, "\n") < 0 || put_esc(v, pr->title, ESC_HTML) < 0))
            return -1;
        return 0;
    }
    snprintf(num, sizeof(num), "\n%zu PRs:", ev->npulls);
    if (put_raw(v, num) < 0)
        return -1;
    for (size_t i = 0; i < ev->npulls && room(v) > 32; i++) {
        snprintf(num, sizeof(num), "%s #%ld", i ? "," : "", ev->pulls[i].number);
        if (put_raw(v, num) < 0)
            return -1;
    }
    return 0;
}

/* The fields section: service, job, stage, state, tier, repository, ref, description. */
static int add_event_fields(cJSON *blocks, const struct alert *a)
{
    const struct event *ev = a->ev;
    cJSON *blk, *fields;
    struct buf v;
    char dur[48];
    int rc = -1;

    buf_init(&v, SLACK_FIELD_MAX - 64);
    if (!(blk = add_block(blocks, "section")) ||
        !(fields = cJSON_AddArrayToObject(blk, "fields")))
        goto out;
    if (add_field(fields, "Service", a->service) < 0 ||
        add_field(fields, "Job", ev->job) < 0 || add_field(fields, "Stage", a->stage) < 0)
        goto out;
    if (put_esc(&v, ev->state, ESC_HTML) < 0)
        goto out;
    if (ev->start_ms > 0 && ev->completion_ms > ev->start_ms) {
        util_human_duration(ev->completion_ms - ev->start_ms, dur, sizeof(dur));
        if (put_raw(&v, " after ") < 0 || put_raw(&v, dur) < 0)
            goto out;
    }
    if (add_field_buf(fields, "State", &v) < 0 ||
        add_field(fields, "Tier", tier_name(a->tier)) < 0)
        goto out;
    if (ev->org || ev->repo) {
        buf_reset(&v);
        if (put_esc(&v, ev->org ? ev->org : "-", ESC_HTML) < 0 || put_raw(&v, "/") < 0 ||
            put_esc(&v, ev->repo ? ev->repo : "-", ESC_HTML) < 0 ||
            add_field_buf(fields, "Repository", &v) < 0)
            goto out;
    }
    buf_reset(&v);
    if (put_ref(&v, ev) < 0 || add_field_buf(fields, "Version/ref", &v) < 0)
        goto out;
    if (a->infra_cause || (ev->description && *ev->description)) {
        buf_reset(&v);
        if (a->infra_cause && (put_raw(&v, "infrastructure: ") < 0 ||
                               put_esc(&v, a->infra_cause, ESC_HTML) < 0 ||
                               (ev->description && put_raw(&v, "\n") < 0)))
            goto out;
        if (ev->description && put_esc(&v, ev->description, ESC_HTML) < 0)
            goto out;
        if (add_field_buf(fields, "Description", &v) < 0)
            goto out;
    }
    rc = 0;
out:
    buf_release(&v);
    return rc;
}

/* Context lines: suppressed repeats, the caller's extra text, the job link. */
static int add_event_context(cJSON *blocks, const struct alert *a)
{
    const struct event *ev = a->ev;
    struct buf v;
    char ts[40];
    int rc = -1;

    buf_init(&v, SLACK_TEXT_MAX);
    if (ev && ev->url && put_raw(&v, "<") == 0 && put_url(&v, ev->url) == 0) {
        if (put_raw(&v, "|View job>") < 0 ||
            add_mrkdwn_block(blocks, "section", v.data) < 0)
            goto out;
    }
    if (a->suppressed > 0) {
        buf_reset(&v);
        if (buf_printf(&v, "Suppressed %lld repeat%s", (long long)a->suppressed,
                       a->suppressed == 1 ? "" : "s") < 0)
            goto out;
        if (a->suppressed_since_ms > 0 &&
            buf_printf(&v, " since %s",
                       util_format_time_s(a->suppressed_since_ms, ts, sizeof(ts))) < 0)
            goto out;
        if (add_mrkdwn_block(blocks, "context", v.data) < 0)
            goto out;
    }
    if (a->extra && *a->extra) {
        buf_reset(&v);
        if (put_esc(&v, a->extra, 0) < 0 ||
            add_mrkdwn_block(blocks, "context", v.data) < 0)
            goto out;
    }
    rc = 0;
out:
    buf_release(&v);
    return rc;
}

/* Blocks of a digest: the folded alerts (a->extra) and who they are about. */
static int add_digest_blocks(cJSON *blocks, const struct alert *a)
{
    struct buf v;
    char ts[40];
    int rc = -1;

    buf_init(&v, SLACK_TEXT_MAX);
    if (a->extra && *a->extra) {
        if (put_esc(&v, a->extra, 0) < 0 ||
            add_mrkdwn_block(blocks, "section", v.data) < 0)
            goto out;
    }
    buf_reset(&v);
    if (put_raw(&v, "Service ") < 0 ||
        put_esc(&v, a->service, ESC_HTML | ESC_ONELINE) < 0 ||
        put_raw(&v, " \xc2\xb7 stage ") < 0 ||
        put_esc(&v, a->stage, ESC_HTML | ESC_ONELINE) < 0 ||
        put_raw(&v, " \xc2\xb7 ") < 0 || put_raw(&v, tier_name(a->tier)) < 0)
        goto out;
    if (a->suppressed_since_ms > 0 &&
        (put_raw(&v, " \xc2\xb7 since ") < 0 ||
         put_raw(&v, util_format_time_s(a->suppressed_since_ms, ts, sizeof(ts))) < 0))
        goto out;
    rc = add_mrkdwn_block(blocks, "context", v.data);
out:
    buf_release(&v);
    return rc;
}

char *slack_format(const struct alert *a, const struct receiver *r, const char *thread_ts)
{
    cJSON *root = NULL, *atts, *att, *blocks;
    char *out = NULL;

    if (!a || !r || !a->service || !a->stage || (a->kind != ALERT_DIGEST && !a->ev))
        return NULL;
    if (!(root = cJSON_CreateObject()))
        goto out;
    if (r->type == RECEIVER_WEBAPI) {
        if (r->channel && !cJSON_AddStringToObject(root, "channel", r->channel))
            goto out;
        if (thread_ts && !cJSON_AddStringToObject(root, "thread_ts", thread_ts))
            goto out;
    }
    if (!(atts = cJSON_AddArrayToObject(root, "attachments")) ||
        !(att = cJSON_CreateObject()))
        goto out;
    if (!cJSON_AddItemToArray(atts, att)) {
        cJSON_Delete(att);
        goto out;
    }
    if (!cJSON_AddStringToObject(att, "color", tier_color(a)) ||
        !(blocks = cJSON_AddArrayToObject(att, "blocks")))
        goto out;
    if (add_summary(root, blocks, a) < 0)
        goto out;
    if (a->kind == ALERT_DIGEST) {
        if (add_digest_blocks(blocks, a) < 0)
            goto out;
    } else if (add_event_fields(blocks, a) < 0 || add_event_context(blocks, a) < 0) {
        goto out;
    }
    out = cJSON_PrintUnformatted(root);
out:
    cJSON_Delete(root);
    return out;
}
