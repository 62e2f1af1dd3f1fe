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
#include "mrkdwn.h"
#include "slack_eco.h"
#include "util.h"

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

/* "<service>" or "<service> <version>", raw. */
static int put_who(struct buf *raw, const struct alert *a, bool with_version)
{
    if (mrkdwn_piece(raw, a->service, MRKDWN_NAME_MAX) < 0)
        return -1;
    if (with_version && a->version && *a->version &&
        (mrkdwn_put_raw(raw, " ") < 0 ||
         mrkdwn_piece(raw, a->version, MRKDWN_NAME_MAX) < 0))
        return -1;
    return 0;
}

/* The alert's lines into b (mrkdwn_list): the shown plus "…and N more" add up to
 * nlines + more. */
static int put_list(struct buf *b, const struct alert *a, bool bullets, size_t item_max,
                    size_t limit, int flags)
{
    return mrkdwn_list(b, a->lines, a->nlines, a->more, bullets, item_max, limit, flags);
}

/* The header and the fallback line for alerts about one run (ev non-NULL). */
static int compose_run_summary(const struct alert *a, struct buf *head, struct buf *fb)
{
    bool ver = a->kind == ALERT_FAILURE || a->kind == ALERT_CONSEQUENCE;
    const char *verb = kind_verb(a);

    if (put_who(head, a, ver) < 0 || mrkdwn_put_raw(head, " \xc2\xb7 ") < 0 ||
        mrkdwn_piece(head, a->stage, MRKDWN_NAME_MAX) < 0 ||
        buf_printf(head, " %s%s", verb, infra_tag(a)) < 0)
        return -1;
    if (put_who(fb, a, ver) < 0 || mrkdwn_put_raw(fb, ": ") < 0 ||
        mrkdwn_piece(fb, a->ev->job, MRKDWN_JOB_MAX) < 0 ||
        buf_printf(fb, " %s%s", a->kind == ALERT_FAILURE ? a->ev->state : verb,
                   infra_tag(a)) < 0)
        return -1;
    return 0;
}

/* The header and the fallback line, both raw (escaped when added), for every kind. */
static int compose_summary(const struct alert *a, struct buf *head, struct buf *fb)
{
    switch (a->kind) {
    case ALERT_FAILURE:
    case ALERT_REMINDER:
    case ALERT_RECOVERED:
    case ALERT_CONSEQUENCE:
        return compose_run_summary(a, head, fb);
    case ALERT_ECOSYSTEM:
    case ALERT_ECO_RECOVERED:
        return slack_eco_summary(a, head, fb);
    case ALERT_STALLED:
        if (put_who(head, a, true) < 0 ||
            mrkdwn_put_raw(head, " \xc2\xb7 release stalled at ") < 0 ||
            mrkdwn_piece(head, a->stage, MRKDWN_NAME_MAX) < 0 ||
            put_who(fb, a, true) < 0 || mrkdwn_put_raw(fb, ": release stalled at ") < 0 ||
            mrkdwn_piece(fb, a->stage, MRKDWN_NAME_MAX) < 0)
            return -1;
        return 0;
    }
    return -1;
}

/* The one-line "text" fallback and the header block. */
static int add_summary(cJSON *root, cJSON *blocks, const struct alert *a)
{
    struct buf head, fb, line;
    int rc = -1;

    buf_init(&head, MRKDWN_RAW_MAX);
    buf_init(&fb, MRKDWN_RAW_MAX);
    buf_init(&line, MRKDWN_FALLBACK_MAX + 64);
    if (compose_summary(a, &head, &fb) < 0 || buf_puts(&head, "") < 0 ||
        buf_puts(&fb, "") < 0 || mrkdwn_header(blocks, head.data) < 0 ||
        buf_printf(&line, "%s [%s] ", tier_emoji(a), tier_name(a->tier)) < 0 ||
        mrkdwn_put_esc(&line, fb.data, MRKDWN_HTML | MRKDWN_ONELINE) < 0)
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
        if (mrkdwn_put_esc(v, version, MRKDWN_HTML) < 0)
            return -1;
        if (has_ref && strcmp(ev->base_ref, version) != 0 &&
            (mrkdwn_put_raw(v, " (") < 0 ||
             mrkdwn_put_esc(v, ev->base_ref, MRKDWN_HTML) < 0 ||
             mrkdwn_put_raw(v, ")") < 0))
            return -1;
    } else if (mrkdwn_put_esc(v, has_ref ? ev->base_ref : "-", MRKDWN_HTML) < 0) {
        return -1;
    }
    if (!prs || ev->npulls == 0)
        return 0;
    if (ev->npulls == 1) {
        const struct event_pull *pr = &ev->pulls[0];
        bool linked = false;
        size_t mark;
        snprintf(num, sizeof(num), "PR #%ld", pr->number);
        if (mrkdwn_put_raw(v, "\n") < 0)
            return -1;
        mark = v->len;
        if (pr->link && mrkdwn_room(v) > 1) {
            if (mrkdwn_put_raw(v, "<") < 0)
                return -1;
            if (mrkdwn_put_url(v, pr->link) == 0 && mrkdwn_room(v) > strlen(num) + 2) {
                if (mrkdwn_put_raw(v, "|") < 0 || mrkdwn_put_raw(v, num) < 0 ||
                    mrkdwn_put_raw(v, ">") < 0)
                    return -1;
                linked = true;
            } else { /* refused or no room: no link */
                v->len = mark;
                v->data[mark] = '\0';
            }
        }
        if (!linked && mrkdwn_put_raw(v, num) < 0)
            return -1;
        if (pr->author && (mrkdwn_put_raw(v, " by ") < 0 ||
                           mrkdwn_put_esc(v, pr->author, MRKDWN_HTML) < 0))
            return -1;
        if (pr->title && (mrkdwn_put_raw(v, "\n") < 0 ||
                          mrkdwn_put_esc(v, pr->title, MRKDWN_HTML) < 0))
            return -1;
        return 0;
    }
    snprintf(num, sizeof(num), "\n%zu PRs:", ev->npulls);
    if (mrkdwn_put_raw(v, num) < 0)
        return -1;
    for (size_t i = 0; i < ev->npulls && mrkdwn_room(v) > 32; i++) {
        snprintf(num, sizeof(num), "%s #%ld", i ? "," : "", ev->pulls[i].number);
        if (mrkdwn_put_raw(v, num) < 0)
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

    buf_init(&v, MRKDWN_FIELD_MAX - 64);
    if (!(blk = mrkdwn_block(blocks, "section")) ||
        !(fields = cJSON_AddArrayToObject(blk, "fields")))
        goto out;
    if (mrkdwn_field(fields, "Service", a->service) < 0 ||
        mrkdwn_field(fields, "Job", ev->job) < 0 ||
        mrkdwn_field(fields, "Stage", a->stage) < 0)
        goto out;
    if (mrkdwn_put_esc(&v, ev->state, MRKDWN_HTML) < 0)
        goto out;
    if (ev->start_ms > 0 && ev->completion_ms > ev->start_ms) {
        util_human_duration(ev->completion_ms - ev->start_ms, dur, sizeof(dur));
        if (mrkdwn_put_raw(&v, " after ") < 0 || mrkdwn_put_raw(&v, dur) < 0)
            goto out;
    }
    if (mrkdwn_field_buf(fields, "State", &v) < 0 ||
        mrkdwn_field(fields, "Tier", tier_name(a->tier)) < 0)
        goto out;
    if (ev->org || ev->repo) {
        buf_reset(&v);
        if (mrkdwn_put_esc(&v, ev->org ? ev->org : "-", MRKDWN_HTML) < 0 ||
            mrkdwn_put_raw(&v, "/") < 0 ||
            mrkdwn_put_esc(&v, ev->repo ? ev->repo : "-", MRKDWN_HTML) < 0 ||
            mrkdwn_field_buf(fields, "Repository", &v) < 0)
            goto out;
    }
    buf_reset(&v);
    if (put_ref(&v, ev, a->version) < 0 ||
        mrkdwn_field_buf(fields, "Version/ref", &v) < 0)
        goto out;
    if (a->infra_cause || (ev->description && *ev->description)) {
        buf_reset(&v);
        if (a->infra_cause && (mrkdwn_put_raw(&v, "infrastructure: ") < 0 ||
                               mrkdwn_put_esc(&v, a->infra_cause, MRKDWN_HTML) < 0 ||
                               (ev->description && mrkdwn_put_raw(&v, "\n") < 0)))
            goto out;
        if (ev->description && mrkdwn_put_esc(&v, ev->description, MRKDWN_HTML) < 0)
            goto out;
        if (mrkdwn_field_buf(fields, "Description", &v) < 0)
            goto out;
    }
    rc = 0;
out:
    buf_release(&v);
    return rc;
}

int slack_context_extra(cJSON *blocks, const struct alert *a)
{
    struct buf v;
    int rc = -1;

    buf_init(&v, MRKDWN_TEXT_MAX);
    if (a->extra && *a->extra &&
        (mrkdwn_put_esc(&v, a->extra, 0) < 0 ||
         mrkdwn_add(blocks, "context", v.data) < 0))
        goto out;
    buf_reset(&v);
    if (a->link && mrkdwn_put_raw(&v, "<") == 0 && mrkdwn_put_url(&v, a->link) == 0 &&
        (mrkdwn_put_raw(&v, "|On the dashboard>") < 0 ||
         mrkdwn_add(blocks, "context", v.data) < 0))
        goto out;
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

    buf_init(&v, MRKDWN_TEXT_MAX);
    if (ev && ev->url && mrkdwn_put_raw(&v, "<") == 0 &&
        mrkdwn_put_url(&v, ev->url) == 0) {
        if (mrkdwn_put_raw(&v, "|View job>") < 0 ||
            mrkdwn_add(blocks, "section", v.data) < 0)
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
        if (mrkdwn_add(blocks, "context", v.data) < 0)
            goto out;
    }
    if (a->passed_build) {
        buf_reset(&v);
        if (mrkdwn_put_raw(&v, "Passed again since: build ") < 0 ||
            mrkdwn_esc(&v, a->passed_build, SIZE_MAX, MRKDWN_NAME_MAX,
                       MRKDWN_HTML | MRKDWN_ONELINE) < 0 ||
            (a->passed_ms > 0 &&
             buf_printf(&v, " at %s", util_format_time_s(a->passed_ms, ts, sizeof(ts))) <
                 0) ||
            mrkdwn_add(blocks, "context", v.data) < 0)
            goto out;
    }
    if (slack_context_extra(blocks, a) < 0)
        goto out;
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

    buf_init(&v, MRKDWN_TEXT_MAX);
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
            if (mrkdwn_put_raw(&v, "Failed once") < 0)
                goto out;
        } else if (buf_printf(&v, "Failed %s%lld times in a row",
                              a->failures > 0 ? "" : "at least ",
                              (long long)(a->failures > 0 ? a->failures : a->threshold)) <
                   0) {
            goto out;
        }
        if (since && (mrkdwn_put_raw(&v, " since ") < 0 || mrkdwn_put_raw(&v, ts) < 0))
            goto out;
        break;
    case ALERT_REMINDER:
        if (*dur && buf_printf(&v, "Failing for %s", dur) < 0)
            goto out;
        if (a->failures > 0 &&
            buf_printf(&v, "%s%lld run%s", *dur ? ", " : "Failing for ",
                       (long long)a->failures, a->failures == 1 ? "" : "s") < 0)
            goto out;
        if (v.len && since &&
            (mrkdwn_put_raw(&v, " since ") < 0 || mrkdwn_put_raw(&v, ts) < 0))
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
        (mrkdwn_put_raw(&v, " (first failure: build ") < 0 ||
         mrkdwn_esc(&v, a->first_build, SIZE_MAX, MRKDWN_NAME_MAX,
                    MRKDWN_HTML | MRKDWN_ONELINE) < 0 ||
         mrkdwn_put_raw(&v, ")") < 0))
        goto out;
    rc = v.len ? mrkdwn_add(blocks, "context", v.data) : 0;
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
    buf_init(&v, MRKDWN_TEXT_MAX);
    if (title && (mrkdwn_put_raw(&v, title) < 0 || mrkdwn_put_raw(&v, "\n") < 0))
        goto out;
    if (put_list(&v, a, bullets, MRKDWN_ITEM_MAX, mrkdwn_room(&v),
                 MRKDWN_HTML | MRKDWN_ONELINE) < 0)
        goto out;
    rc = v.len ? mrkdwn_add(blocks, "section", v.data) : 0;
out:
    buf_release(&v);
    return rc;
}

/* A context line of trusted text. */
static int add_context(cJSON *blocks, const char *text)
{
    return mrkdwn_add(blocks, "context", text);
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

/* Blocks of a stalled release: what is missing. */
static int add_stalled_blocks(cJSON *blocks, const struct alert *a)
{
    if (add_list_section(blocks, a, "*What is missing:*", true) < 0)
        return -1;
    return add_event_context(blocks, a);
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
    case ALERT_ECOSYSTEM:
    case ALERT_ECO_RECOVERED:
        rc = slack_eco_blocks(blocks, a);
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
