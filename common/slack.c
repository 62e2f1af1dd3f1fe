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
/* Our own cuts, so one long value cannot crowd out the rest of a line. */
#define SLACK_NAME_MAX 80  /* service, version, stage, build id in a header or line */
#define SLACK_JOB_MAX 160  /* job name in the fallback line */
#define SLACK_ITEM_MAX 300 /* one listed line (escaped) */
#define SLACK_TAIL_MAX 40  /* room kept for ", …and N more" after a list */

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

/* Whether the alert is about a set of runs that ended well (green). */
static bool is_recovery(const struct alert *a)
{
    return a->kind == ALERT_RECOVERED || a->kind == ALERT_ECO_RECOVERED;
}

static const char *tier_color(const struct alert *a)
{
    if (is_recovery(a))
        return "#2eb886";
    return a->tier == TIER_CRITICAL  ? "#d40e0d"
           : a->tier == TIER_WARNING ? "#e8a317"
                                     : "#439fe0";
}

static const char *tier_emoji(const struct alert *a)
{
    if (is_recovery(a))
        return ":large_green_circle:";
    if (a->kind == ALERT_ECOSYSTEM)
        return ":rotating_light:";
    return a->tier == TIER_CRITICAL  ? ":red_circle:"
           : a->tier == TIER_WARNING ? ":large_orange_circle:"
                                     : ":large_blue_circle:";
}

/* What happened to the run, as words for the header and the fallback line. */
static const char *kind_verb(const struct alert *a)
{
    const char *st = a->ev ? a->ev->state : NULL;

    if (a->kind == ALERT_RECOVERED)
        return "recovered";
    if (a->kind == ALERT_REMINDER)
        return "still failing";
    if (a->kind == ALERT_CONSEQUENCE)
        return "failed (consequence)";
    if (!st || strcmp(st, "failure") == 0)
        return "failed";
    if (strcmp(st, "error") == 0)
        return "errored";
    return st;
}

/* " (infrastructure)" for a failing run whose cause looks like infrastructure, so
 * the header and the notification say at a glance that it is not the code. */
static const char *infra_tag(const struct alert *a)
{
    if (a->infra_cause && (a->kind == ALERT_FAILURE || a->kind == ALERT_REMINDER))
        return " (infrastructure)";
    return "";
}

/* Lines listed plus lines left out: the count the alert is about. */
static int64_t list_total(const struct alert *a)
{
    return (int64_t)a->nlines + (a->more > 0 ? a->more : 0);
}

/* Append raw (unescaped) text for the header or the fallback line: control characters
 * dropped, newlines made spaces, cut to max bytes with "…". The whole is escaped
 * later. -1 only when memory ran out. */
static int put_piece(struct buf *raw, const char *s, size_t max)
{
    return esc_bounded(raw, s, SIZE_MAX, max < room(raw) ? max : room(raw), ESC_ONELINE);
}

/* "<service>" or "<service> <version>", raw. */
static int put_who(struct buf *raw, const struct alert *a, bool with_version)
{
    if (put_piece(raw, a->service, SLACK_NAME_MAX) < 0)
        return -1;
    if (with_version && a->version && *a->version &&
        (put_raw(raw, " ") < 0 || put_piece(raw, a->version, SLACK_NAME_MAX) < 0))
        return -1;
    return 0;
}

/* Append a->lines to b, each escaped with flags and cut to item_max bytes, either as
 * "• line" bullets one per line or comma-separated, using at most limit bytes of b.
 * Lines that do not fit (and NULL ones) are counted with a->more in a closing
 * "…and N more", so the lines shown plus N always equal nlines + more. */
static int put_list(struct buf *b, const struct alert *a, bool bullets, size_t item_max,
                    size_t limit, int flags)
{
    struct buf item;
    size_t start = b->len, budget, shown = 0;
    int64_t more;
    char tail[64];
    int rc = -1;

    if (limit > room(b))
        limit = room(b);
    budget = limit > SLACK_TAIL_MAX ? limit - SLACK_TAIL_MAX : 0;
    buf_init(&item, item_max);
    for (size_t i = 0; a->lines && i < a->nlines; i++) {
        const char *sep = bullets ? "\xe2\x80\xa2 " : shown ? ", " : "";
        const char *end = bullets ? "\n" : "";

        if (!a->lines[i])
            continue;
        buf_reset(&item);
        if (esc_bounded(&item, a->lines[i], SIZE_MAX, item_max, flags) < 0)
            goto out;
        if (b->len - start + strlen(sep) + item.len + strlen(end) > budget)
            break;
        if (buf_puts(b, sep) < 0 || buf_append(b, item.data, item.len) < 0 ||
            buf_puts(b, end) < 0)
            goto out;
        shown++;
    }
    more = list_total(a) - (int64_t)shown;
    if (bullets && more == 0 && b->len > start && b->data[b->len - 1] == '\n')
        b->data[--b->len] = '\0';
    if (more > 0) {
        snprintf(tail, sizeof(tail),
                 "%s\xe2\x80\xa6"
                 "and %lld more",
                 !bullets && shown ? ", " : "", (long long)more);
        if (put_raw(b, tail) < 0)
            goto out;
    }
    rc = 0;
out:
    buf_release(&item);
    return rc;
}

/* The header and the fallback line for alerts about one run (ev non-NULL). */
static int compose_run_summary(const struct alert *a, struct buf *head, struct buf *fb)
{
    bool ver = a->kind == ALERT_FAILURE || a->kind == ALERT_CONSEQUENCE;
    const char *verb = kind_verb(a);

    if (put_who(head, a, ver) < 0 || put_raw(head, " \xc2\xb7 ") < 0 ||
        put_piece(head, a->stage, SLACK_NAME_MAX) < 0 ||
        buf_printf(head, " %s%s", verb, infra_tag(a)) < 0)
        return -1;
    if (put_who(fb, a, ver) < 0 || put_raw(fb, ": ") < 0 ||
        put_piece(fb, a->ev->job, SLACK_JOB_MAX) < 0 ||
        buf_printf(fb, " %s%s", a->kind == ALERT_FAILURE ? a->ev->state : verb,
                   infra_tag(a)) < 0)
        return -1;
    return 0;
}

/* The header and the fallback line, both raw (escaped when added), for every kind. */
static int compose_summary(const struct alert *a, struct buf *head, struct buf *fb)
{
    int64_t n = list_total(a);
    const char *s;

    if (a->kind == ALERT_DIGEST && a->suppressed > n) /* never fewer than listed */
        n = a->suppressed;
    s = n == 1 ? "" : "s";
    switch (a->kind) {
    case ALERT_FAILURE:
    case ALERT_REMINDER:
    case ALERT_RECOVERED:
    case ALERT_CONSEQUENCE:
        return compose_run_summary(a, head, fb);
    case ALERT_ECOSYSTEM:
        if (buf_printf(head, ":rotating_light: Ecosystem: %lld service%s failing ",
                       (long long)n, s) < 0 ||
            put_piece(head, a->stage, SLACK_NAME_MAX) < 0 ||
            buf_printf(fb, "Ecosystem: %lld service%s failing ", (long long)n, s) < 0 ||
            put_piece(fb, a->stage, SLACK_NAME_MAX) < 0 || put_raw(fb, ": ") < 0 ||
            put_list(fb, a, false, SLACK_NAME_MAX, SLACK_FALLBACK_MAX / 2, ESC_ONELINE) <
                0)
            return -1;
        return 0;
    case ALERT_ECO_RECOVERED:
        if (put_raw(head, "Ecosystem: ") < 0 ||
            put_piece(head, a->stage, SLACK_NAME_MAX) < 0 ||
            put_raw(head, " recovered") < 0 || put_raw(fb, "Ecosystem: ") < 0 ||
            put_piece(fb, a->stage, SLACK_NAME_MAX) < 0 ||
            buf_printf(fb, " recovered (%lld service%s)", (long long)n, s) < 0)
            return -1;
        return 0;
    case ALERT_STALLED:
        if (put_who(head, a, true) < 0 ||
            put_raw(head, " \xc2\xb7 release stalled at ") < 0 ||
            put_piece(head, a->stage, SLACK_NAME_MAX) < 0 || put_who(fb, a, true) < 0 ||
            put_raw(fb, ": release stalled at ") < 0 ||
            put_piece(fb, a->stage, SLACK_NAME_MAX) < 0)
            return -1;
        return 0;
    case ALERT_DIGEST:
        if (buf_printf(head, "%lld alert%s folded into this digest", (long long)n, s) < 0)
            return -1;
        if (*a->service && put_piece(fb, a->service, SLACK_NAME_MAX) < 0)
            return -1;
        if (*a->stage && ((*a->service && put_raw(fb, " \xc2\xb7 ") < 0) ||
                          put_piece(fb, a->stage, SLACK_NAME_MAX) < 0))
            return -1;
        if ((*a->service || *a->stage) && put_raw(fb, ": ") < 0)
            return -1;
        return put_raw(fb, head->data);
    }
    return -1;
}

/* The one-line "text" fallback and the header block. */
static int add_summary(cJSON *root, cJSON *blocks, const struct alert *a)
{
    struct buf head, fb, line;
    int rc = -1;

    buf_init(&head, SLACK_RAW_MAX);
    buf_init(&fb, SLACK_RAW_MAX);
    buf_init(&line, SLACK_FALLBACK_MAX + 64);
    if (compose_summary(a, &head, &fb) < 0 || buf_puts(&head, "") < 0 ||
        buf_puts(&fb, "") < 0 || add_header(blocks, head.data) < 0 ||
        buf_printf(&line, "%s [%s] ", tier_emoji(a), tier_name(a->tier)) < 0 ||
        put_esc(&line, fb.data, ESC_HTML | ESC_ONELINE) < 0)
        goto out;
    if (cJSON_AddStringToObject(root, "text", line.data))
        rc = 0;
out:
    buf_release(&head);
    buf_release(&fb);
    buf_release(&line);
    return rc;
}

/* "Version/ref": the release version if known (with the branch or tag when it says
 * something more), else the branch or tag; for presubmits and batches, the PRs. */
static int put_ref(struct buf *v, const struct event *ev, const char *version)
{
    bool prs = strcmp(ev->type, "presubmit") == 0 || strcmp(ev->type, "batch") == 0;
    bool has_ref = ev->base_ref && *ev->base_ref;
    char num[32];

    if (version && *version) {
        if (put_esc(v, version, ESC_HTML) < 0)
            return -1;
        if (has_ref && strcmp(ev->base_ref, version) != 0 &&
            (put_raw(v, " (") < 0 || put_esc(v, ev->base_ref, ESC_HTML) < 0 ||
             put_raw(v, ")") < 0))
            return -1;
    } else if (put_esc(v, has_ref ? ev->base_ref : "-", ESC_HTML) < 0) {
        return -1;
    }
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
    if (put_ref(&v, ev, a->version) < 0 || add_field_buf(fields, "Version/ref", &v) < 0)
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

/* The job's streak as one context line: how long and how often it has been failing,
 * since when and from which build (FAILURE, REMINDER, RECOVERED). Parts that are not
 * known (0 / NULL) are left out, and so is the line when nothing is known. */
static int add_streak_context(cJSON *blocks, const struct alert *a)
{
    const struct event *ev = a->ev;
    int64_t end = ev->completion_ms > 0 ? ev->completion_ms : ev->event_ms;
    bool since = a->failing_since_ms > 0;
    struct buf v;
    char ts[40], dur[48];
    int rc = -1;

    buf_init(&v, SLACK_TEXT_MAX);
    if (a->kind == ALERT_RECOVERED)
        end = ev->event_ms;
    if (since && end > a->failing_since_ms)
        util_human_duration(end - a->failing_since_ms, dur, sizeof(dur));
    else
        dur[0] = '\0';
    if (since)
        util_format_time_s(a->failing_since_ms, ts, sizeof(ts));

    switch (a->kind) {
    case ALERT_FAILURE:
        if (a->failures <= 1 && a->threshold <= 1)
            break;
        if (a->failures == 1) {
            if (put_raw(&v, "Failed once") < 0)
                goto out;
        } else if (buf_printf(&v, "Failed %s%lld times in a row",
                              a->failures > 0 ? "" : "at least ",
                              (long long)(a->failures > 0 ? a->failures : a->threshold)) <
                   0) {
            goto out;
        }
        if (since && (put_raw(&v, " since ") < 0 || put_raw(&v, ts) < 0))
            goto out;
        break;
    case ALERT_REMINDER:
        if (*dur && buf_printf(&v, "Failing for %s", dur) < 0)
            goto out;
        if (a->failures > 0 &&
            buf_printf(&v, "%s%lld run%s", *dur ? ", " : "Failing for ",
                       (long long)a->failures, a->failures == 1 ? "" : "s") < 0)
            goto out;
        if (v.len && since && (put_raw(&v, " since ") < 0 || put_raw(&v, ts) < 0))
            goto out;
        break;
    case ALERT_RECOVERED:
        if (a->failures > 0 &&
            buf_printf(&v, "Recovered after %lld failure%s", (long long)a->failures,
                       a->failures == 1 ? "" : "s") < 0)
            goto out;
        if (*dur && buf_printf(&v, "%s %s",
                               v.len ? " over" : "Recovered after failing for", dur) < 0)
            goto out;
        break;
    default:
        break;
    }
    if (v.len && a->first_build && *a->first_build &&
        (put_raw(&v, " (first failure: build ") < 0 ||
         esc_bounded(&v, a->first_build, SIZE_MAX, SLACK_NAME_MAX,
                     ESC_HTML | ESC_ONELINE) < 0 ||
         put_raw(&v, ")") < 0))
        goto out;
    rc = v.len ? add_mrkdwn_block(blocks, "context", v.data) : 0;
out:
    buf_release(&v);
    return rc;
}

/* A section: an optional mrkdwn title line, then the alert's lines as bullets or
 * comma-separated, within Slack's section limit. Nothing when there is nothing to list.
 */
static int add_list_section(cJSON *blocks, const struct alert *a, const char *title,
                            bool bullets)
{
    struct buf v;
    int rc = -1;

    if (list_total(a) == 0)
        return 0;
    buf_init(&v, SLACK_TEXT_MAX);
    if (title && (put_raw(&v, title) < 0 || put_raw(&v, "\n") < 0))
        goto out;
    if (put_list(&v, a, bullets, SLACK_ITEM_MAX, room(&v), ESC_HTML | ESC_ONELINE) < 0)
        goto out;
    rc = v.len ? add_mrkdwn_block(blocks, "section", v.data) : 0;
out:
    buf_release(&v);
    return rc;
}

/* A context line of trusted text. */
static int add_context(cJSON *blocks, const char *text)
{
    return add_mrkdwn_block(blocks, "context", text);
}

/* Blocks of the alerts about one run: FAILURE, REMINDER, RECOVERED, CONSEQUENCE. */
static int add_run_blocks(cJSON *blocks, const struct alert *a)
{
    if (add_event_fields(blocks, a) < 0)
        return -1;
    switch (a->kind) {
    case ALERT_FAILURE:
        if (add_streak_context(blocks, a) < 0 ||
            add_list_section(blocks, a, "*Also failed in this release:*", true) < 0)
            return -1;
        break;
    case ALERT_REMINDER:
    case ALERT_RECOVERED:
        if (add_streak_context(blocks, a) < 0)
            return -1;
        break;
    case ALERT_CONSEQUENCE:
        if (add_list_section(blocks, a, NULL, true) < 0 ||
            add_context(blocks, "Downstream of an earlier failure in this release; see "
                                "the first alert.") < 0)
            return -1;
        break;
    default:
        break;
    }
    return add_event_context(blocks, a);
}

/* Blocks of an ecosystem incident (ECOSYSTEM) or its end (ECO_RECOVERED). */
static int add_ecosystem_blocks(cJSON *blocks, const struct alert *a)
{
    int64_t n = list_total(a);
    const char *s = n == 1 ? "" : "s";
    struct buf v;
    char ts[40], dur[48];
    int rc = -1;

    buf_init(&v, SLACK_TEXT_MAX);
    if (add_list_section(
            blocks, a, a->kind == ALERT_ECOSYSTEM ? "*Services failing:*" : "*Services:*",
            false) < 0)
        goto out;
    if (a->window_ms > 0)
        util_human_duration(a->window_ms, dur, sizeof(dur));
    if (a->started_ms > 0)
        util_format_time_s(a->started_ms, ts, sizeof(ts));
    if (a->kind == ALERT_ECOSYSTEM) {
        if (buf_printf(&v, "%lld service%s", (long long)n, s) < 0 ||
            (a->window_ms > 0 && buf_printf(&v, " within %s", dur) < 0) ||
            (a->started_ms > 0 && buf_printf(&v, " since %s", ts) < 0) ||
            put_raw(&v, ". Per-service alerts for this stage are held while the "
                        "incident is open.") < 0)
            goto out;
    } else {
        if (buf_printf(&v, "All %lld service%s recovered", (long long)n, s) < 0 ||
            (a->window_ms > 0 && buf_printf(&v, " within %s", dur) < 0) ||
            (a->started_ms > 0 && buf_printf(&v, " (incident began %s)", ts) < 0) ||
            put_raw(&v, ".") < 0)
            goto out;
    }
    if (add_context(blocks, v.data) < 0)
        goto out;
    rc = add_event_context(blocks, a);
out:
    buf_release(&v);
    return rc;
}

/* Blocks of a stalled release: what is missing. */
static int add_stalled_blocks(cJSON *blocks, const struct alert *a)
{
    if (add_list_section(blocks, a, "*What is missing:*", true) < 0)
        return -1;
    return add_event_context(blocks, a);
}

/* Blocks of a digest: the folded alerts, why they were held and who they are about. */
static int add_digest_blocks(cJSON *blocks, const struct alert *a)
{
    struct buf v;
    char ts[40];
    int rc = -1;

    buf_init(&v, SLACK_TEXT_MAX);
    if (add_list_section(blocks, a, NULL, true) < 0)
        goto out;
    if (put_raw(&v, "Held back by the rate limit") < 0)
        goto out;
    if (*a->service && (put_raw(&v, " \xc2\xb7 service ") < 0 ||
                        esc_bounded(&v, a->service, SIZE_MAX, SLACK_NAME_MAX,
                                    ESC_HTML | ESC_ONELINE) < 0))
        goto out;
    if (*a->stage &&
        (put_raw(&v, " \xc2\xb7 stage ") < 0 ||
         esc_bounded(&v, a->stage, SIZE_MAX, SLACK_NAME_MAX, ESC_HTML | ESC_ONELINE) < 0))
        goto out;
    if (put_raw(&v, " \xc2\xb7 ") < 0 || put_raw(&v, tier_name(a->tier)) < 0)
        goto out;
    if (a->suppressed_since_ms > 0 &&
        (put_raw(&v, " \xc2\xb7 since ") < 0 ||
         put_raw(&v, util_format_time_s(a->suppressed_since_ms, ts, sizeof(ts))) < 0))
        goto out;
    if (add_context(blocks, v.data) < 0)
        goto out;
    if (a->extra && *a->extra) {
        buf_reset(&v);
        if (put_esc(&v, a->extra, 0) < 0 || (v.len && add_context(blocks, v.data) < 0))
            goto out;
    }
    rc = 0;
out:
    buf_release(&v);
    return rc;
}

/* Whether the alert carries what its kind needs (see slack.h). */
static bool alert_is_complete(const struct alert *a)
{
    if (!a->service || !a->stage)
        return false;
    switch (a->kind) {
    case ALERT_FAILURE:
    case ALERT_REMINDER:
    case ALERT_RECOVERED:
    case ALERT_CONSEQUENCE:
        return a->ev && a->ev->job && a->ev->state && a->ev->type;
    case ALERT_DIGEST:
    case ALERT_ECOSYSTEM:
    case ALERT_ECO_RECOVERED:
    case ALERT_STALLED:
        return true;
    }
    return false;
}

char *slack_format(const struct alert *a, const struct receiver *r, const char *thread_ts)
{
    cJSON *root = NULL, *atts, *att, *blocks;
    char *out = NULL;
    int rc;

    if (!a || !r || !alert_is_complete(a))
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
    switch (a->kind) {
    case ALERT_DIGEST:
        rc = add_digest_blocks(blocks, a);
        break;
    case ALERT_ECOSYSTEM:
    case ALERT_ECO_RECOVERED:
        rc = add_ecosystem_blocks(blocks, a);
        break;
    case ALERT_STALLED:
        rc = add_stalled_blocks(blocks, a);
        break;
    default:
        rc = add_run_blocks(blocks, a);
        break;
    }
    if (rc < 0)
        goto out;
    out = cJSON_PrintUnformatted(root);
out:
    cJSON_Delete(root);
    return out;
}
