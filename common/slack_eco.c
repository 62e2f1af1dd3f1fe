/* slack_eco.c -- see slack_eco.h. */
#include "slack_eco.h"

#include <stdio.h>
#include <string.h>

#include "mrkdwn.h"

/* How many services the message is about: its members (or, for an old record, its
 * lines). */
static size_t count_of(const struct alert *a)
{
    return a->nmembers ? a->nmembers : a->nlines + (size_t)(a->more > 0 ? a->more : 0);
}

int slack_eco_summary(const struct alert *a, struct buf *head, struct buf *fb)
{
    size_t n = count_of(a);
    const char *s = n == 1 ? "" : "s";

    if (a->kind == ALERT_ECOSYSTEM) {
        if (buf_printf(head, ":rotating_light: Ecosystem: %zu service%s failing ", n, s) <
                0 ||
            mrkdwn_piece(head, a->stage, MRKDWN_NAME_MAX) < 0 ||
            buf_printf(fb, "Ecosystem: %zu service%s failing ", n, s) < 0 ||
            mrkdwn_piece(fb, a->stage, MRKDWN_NAME_MAX) < 0 ||
            mrkdwn_put_raw(fb, ": ") < 0 ||
            mrkdwn_list(fb, a->lines, a->nlines, a->more, false, MRKDWN_NAME_MAX,
                        MRKDWN_FALLBACK_MAX / 2, MRKDWN_ONELINE) < 0)
            return -1;
        return 0;
    }
    if (mrkdwn_put_raw(head, "Ecosystem: ") < 0 ||
        mrkdwn_piece(head, a->stage, MRKDWN_NAME_MAX) < 0 ||
        mrkdwn_put_raw(head, " recovered") < 0 || mrkdwn_put_raw(fb, "Ecosystem: ") < 0 ||
        mrkdwn_piece(fb, a->stage, MRKDWN_NAME_MAX) < 0 ||
        buf_printf(fb, " recovered (%zu service%s)", n, s) < 0)
        return -1;
    return 0;
}

/* One member: "• *s3* v1.2.3 · <url|s3-post-submit> build 12" and its consequences
 * ("   ↳ chart-update: update-ack-chart failure (build 9)"), escaped, into b; nothing
 * (and 1) when it does not fit in limit bytes of b. It goes on a new line unless b is
 * empty. */
static int put_member(struct buf *b, const struct alert_member *m, size_t limit)
{
    struct buf one;
    int rc = -1;

    buf_init(&one, MRKDWN_TEXT_MAX);
    if (mrkdwn_put_raw(&one, "\xe2\x80\xa2 *") < 0 ||
        mrkdwn_esc(&one, m->service, SIZE_MAX, MRKDWN_NAME_MAX,
                   MRKDWN_HTML | MRKDWN_ONELINE) < 0 ||
        mrkdwn_put_raw(&one, "*") < 0)
        goto out;
    if (m->version && (mrkdwn_put_raw(&one, " ") < 0 ||
                       mrkdwn_esc(&one, m->version, SIZE_MAX, MRKDWN_NAME_MAX,
                                  MRKDWN_HTML | MRKDWN_ONELINE) < 0))
        goto out;
    if (m->job) {
        size_t at = one.len;
        bool linked = false;
        if (mrkdwn_put_raw(&one, " \xc2\xb7 ") < 0)
            goto out;
        if (m->url && mrkdwn_put_raw(&one, "<") == 0 &&
            mrkdwn_put_url(&one, m->url) == 0 && mrkdwn_put_raw(&one, "|") == 0 &&
            mrkdwn_esc(&one, m->job, SIZE_MAX, MRKDWN_JOB_MAX,
                       MRKDWN_HTML | MRKDWN_ONELINE) == 0 &&
            mrkdwn_put_raw(&one, ">") == 0)
            linked = true;
        if (!linked) {
            one.len = at;
            one.data[at] = '\0';
            if (mrkdwn_put_raw(&one, " \xc2\xb7 ") < 0 ||
                mrkdwn_esc(&one, m->job, SIZE_MAX, MRKDWN_JOB_MAX,
                           MRKDWN_HTML | MRKDWN_ONELINE) < 0)
                goto out;
        }
    }
    if (m->build && (mrkdwn_put_raw(&one, " build ") < 0 ||
                     mrkdwn_esc(&one, m->build, SIZE_MAX, MRKDWN_NAME_MAX,
                                MRKDWN_HTML | MRKDWN_ONELINE) < 0))
        goto out;
    if (m->recovered && mrkdwn_put_raw(&one, " \xe2\x80\x94 recovered") < 0)
        goto out;
    for (size_t i = 0; i < m->nlines; i++)
        if (mrkdwn_put_raw(&one, "\n      \xe2\x86\xb3 ") < 0 ||
            mrkdwn_esc(&one, m->lines[i], SIZE_MAX, MRKDWN_ITEM_MAX,
                       MRKDWN_HTML | MRKDWN_ONELINE) < 0)
            goto out;
    if (b->len + one.len + 1 > limit) {
        rc = 1;
        goto out;
    }
    /* on a line of its own, unless it opens a section */
    rc = (b->len && buf_puts(b, "\n") < 0) || buf_append(b, one.data, one.len) < 0 ? -1
                                                                                   : 0;
out:
    buf_release(&one);
    return rc;
}

/* The members as bullets: at most SLACK_ECO_SHOW of them, over as many sections
 * (SLACK_ECO_SECTIONS at most) as they need; the rest counted, pointing at the
 * dashboard when there is one. */
static int add_members(cJSON *blocks, const struct alert *a)
{
    const size_t room = MRKDWN_TEXT_MAX - MRKDWN_TAIL_MAX - 80;
    struct buf v;
    size_t shown = 0, sections = 1;
    int rc = -1;

    buf_init(&v, MRKDWN_TEXT_MAX);
    if (mrkdwn_put_raw(&v, a->kind == ALERT_ECOSYSTEM ? "*Services failing:*"
                                                      : "*Services:*") < 0)
        goto out;
    for (size_t i = 0; i < a->nmembers && shown < SLACK_ECO_SHOW; i++) {
        int r = put_member(&v, &a->members[i], room);
        if (r < 0)
            goto out;
        if (r > 0) { /* this section is full: the next one */
            if (sections == SLACK_ECO_SECTIONS ||
                mrkdwn_add(blocks, "section", v.data) < 0)
                break;
            sections++;
            buf_reset(&v);
            if ((r = put_member(&v, &a->members[i], room)) != 0)
                break; /* one member larger than a section (cannot be: it is cut) */
        }
        shown++;
    }
    if (shown < a->nmembers &&
        (buf_printf(&v,
                    "\n\xe2\x80\xa6"
                    "and %zu more",
                    a->nmembers - shown) < 0 ||
         (a->link && (mrkdwn_put_raw(&v, " (<") < 0 || mrkdwn_put_url(&v, a->link) < 0 ||
                      mrkdwn_put_raw(&v, "|the whole list>)") < 0))))
        goto out;
    rc = mrkdwn_add(blocks, "section", v.data);
out:
    buf_release(&v);
    return rc;
}

int slack_eco_blocks(cJSON *blocks, const struct alert *a)
{
    size_t n = count_of(a), rec = 0;
    const char *s = n == 1 ? "" : "s";
    struct buf v;
    char ts[40], dur[48];
    int rc = -1;

    for (size_t i = 0; i < a->nmembers; i++)
        rec += a->members[i].recovered;
    buf_init(&v, MRKDWN_TEXT_MAX);
    if (a->nmembers) {
        if (add_members(blocks, a) < 0)
            goto out;
    } else if (a->nlines) {
        if (mrkdwn_put_raw(&v, a->kind == ALERT_ECOSYSTEM ? "*Services failing:*\n"
                                                          : "*Services:*\n") < 0 ||
            mrkdwn_list(&v, a->lines, a->nlines, a->more, false, MRKDWN_ITEM_MAX,
                        mrkdwn_room(&v), MRKDWN_HTML | MRKDWN_ONELINE) < 0 ||
            mrkdwn_add(blocks, "section", v.data) < 0)
            goto out;
        buf_reset(&v);
    }
    if (a->window_ms > 0)
        util_human_duration(a->window_ms, dur, sizeof(dur));
    if (a->started_ms > 0)
        util_format_time_s(a->started_ms, ts, sizeof(ts));
    if (a->kind == ALERT_ECOSYSTEM) {
        if (buf_printf(&v, "%zu service%s", n, s) < 0 ||
            (a->window_ms > 0 && buf_printf(&v, " within %s", dur) < 0) ||
            (a->started_ms > 0 && buf_printf(&v, " since %s", ts) < 0) ||
            (rec && buf_printf(&v, ", %zu recovered", rec) < 0) ||
            mrkdwn_put_raw(&v, a->update
                                   ? ". The incident so far; their per-service alerts "
                                     "are in it."
                                   : ". Their per-service alerts are folded into this "
                                     "one; services that fail the same way join it.") < 0)
            goto out;
    } else if (buf_printf(&v, "All %zu service%s recovered", n, s) < 0 ||
               (a->window_ms > 0 && buf_printf(&v, " within %s", dur) < 0) ||
               (a->started_ms > 0 && buf_printf(&v, " (incident began %s)", ts) < 0) ||
               mrkdwn_put_raw(&v, ".") < 0) {
        goto out;
    }
    if (mrkdwn_add(blocks, "context", v.data) < 0)
        goto out;
    rc = slack_context_extra(blocks, a);
out:
    buf_release(&v);
    return rc;
}
