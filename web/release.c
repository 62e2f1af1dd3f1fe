/* release.c -- one release (/release/<service>/<version>): the DAG drawn as a graph,
 * the timeline of its runs (reruns marked), the alerts sent about it; and one job
 * (/job/<org>/<repo>/<job>): its runs, pass rate, flakiness and alerts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "pages.h"
#include "svg.h"

const char alert_cols[] =
    "'alert_id', a.alert_id, 'receiver', a.receiver, 'kind', a.kind, 'channel', "
    "a.channel, "
    "'incident', a.incident, 'service', a.service, 'stage', a.stage, 'version', "
    "a.version, "
    "'job', a.job, 'org', a.org, 'repo', a.repo, 'url', a.url, 'build_id', a.build_id, "
    "'event_ms', a.event_ms, 'first_failure_ms', a.first_failure_ms, 'sent_ms', "
    "a.sent_ms, "
    "'slack_ts', a.slack_ts";

int link_slack(struct buf *b, const struct config *cfg, const char *channel,
               const char *ts)
{
    char digits[64];
    size_t n = 0;

    if (!cfg->web_slack_url || !*cfg->web_slack_url || !channel || !*channel || !ts)
        return 0;
    for (const char *p = ts; *p && n + 1 < sizeof(digits); p++)
        if (*p >= '0' && *p <= '9')
            digits[n++] = *p;
    digits[n] = '\0';
    if (!n)
        return 0;
    if (*channel == '#')
        channel++;
    return buf_puts(b, cfg->web_slack_url) < 0 || buf_puts(b, "/archives/") < 0 ||
                   html_path(b, channel) < 0 || buf_printf(b, "/p%s", digits) < 0
               ? -1
               : 1;
}

int render_alerts(struct buf *b, const struct config *cfg, const cJSON *alerts)
{
    const cJSON *a;

    if (cJSON_GetArraySize(alerts) == 0)
        return buf_puts(b, "<p class=\"muted\">No alert was sent.</p>");
    if (buf_puts(b, "<table class=\"alerts\"><thead><tr><th>Sent</th><th>Kind</th>"
                    "<th>Channel</th><th>About</th><th class=\"num\">Detected after</th>"
                    "<th>Slack</th></tr></thead><tbody>") < 0)
        return -1;
    cJSON_ArrayForEach(a, alerts)
    {
        struct buf link;
        double ev = jnum(a, "event_ms", 0), sent = jnum(a, "sent_ms", 0);
        int have;
        buf_init(&link, 4096);
        have = link_slack(&link, cfg, jstr(a, "channel"), jstr(a, "slack_ts"));
        if (buf_puts(b, "<tr data-kind=\"") < 0 || html_text(b, jstr(a, "kind")) < 0 ||
            buf_puts(b, "\"><td>") < 0 || html_time(b, (int64_t)sent) < 0 ||
            buf_puts(b, "</td><td>") < 0 || html_text(b, jstr(a, "kind")) < 0 ||
            buf_puts(b, "</td><td>") < 0 || html_text(b, jstr(a, "channel")) < 0 ||
            buf_puts(b, " <small class=\"muted\">") < 0 ||
            html_text(b, jstr(a, "receiver")) < 0 ||
            buf_puts(b, "</small></td><td>") < 0 || html_text(b, jstr(a, "stage")) < 0 ||
            buf_puts(b, " ") < 0 || html_text(b, jstr(a, "job")) < 0 ||
            buf_puts(b, "</td><td class=\"num\">") < 0 ||
            html_duration(b, ev > 0 ? (int64_t)(sent - ev) : -1) < 0 ||
            buf_puts(b, "</td><td>") < 0) {
            buf_release(&link);
            return -1;
        }
        if (have > 0
                ? (buf_puts(b, "<a href=\"") < 0 || html_text(b, link.data) < 0 ||
                   buf_puts(b, "\">message</a>") < 0)
                : html_text(b, jstr(a, "slack_ts") ? jstr(a, "slack_ts") : "-") < 0) {
            buf_release(&link);
            return -1;
        }
        buf_release(&link);
        if (buf_puts(b, "</td></tr>") < 0)
            return -1;
    }
    return buf_puts(b, "</tbody></table>");
}

/* The runs table shared by both pages. */
int render_runs(struct buf *b, const cJSON *runs, bool show_stage)
{
    const cJSON *run;

    if (buf_printf(
            b,
            "<table class=\"runs\"><thead><tr><th>Started</th>%s<th>Job</th>"
            "<th>State</th><th class=\"num\">Took</th><th>Build</th><th>Description</th>"
            "<th>Intervention</th></tr></thead><tbody>",
            show_stage ? "<th>Stage</th>" : "") < 0)
        return -1;
    cJSON_ArrayForEach(run, runs)
    {
        double s = jnum(run, "start_ms", 0), e = jnum(run, "end_ms", 0);
        struct buf jl;
        buf_init(&jl, 4096);
        link_job(&jl, jstr(run, "org"), jstr(run, "repo"), jstr(run, "job"));
        if (buf_puts(b, "<tr data-state=\"") < 0 ||
            html_text(b, jstr(run, "state")) < 0 || buf_puts(b, "\"><td>") < 0 ||
            html_time(b, (int64_t)s) < 0 || buf_puts(b, "</td>") < 0 ||
            (show_stage &&
             (buf_puts(b, "<td>") < 0 || html_text(b, jstr(run, "stage")) < 0 ||
              buf_puts(b, "</td>") < 0)) ||
            buf_puts(b, "<td><a href=\"") < 0 || html_text(b, jl.data) < 0 ||
            buf_puts(b, "\">") < 0 || html_text(b, jstr(run, "job")) < 0 ||
            buf_puts(b, "</a></td><td>") < 0 ||
            html_badge(b, jstr(run, "state"), NULL) < 0 ||
            buf_puts(b, "</td><td class=\"num\">") < 0 ||
            html_duration(b, e > 0 ? (int64_t)(e - s) : -1) < 0 ||
            buf_puts(b, "</td><td>") < 0) {
            buf_release(&jl);
            return -1;
        }
        buf_release(&jl);
        if (jstr(run, "url")
                ? (buf_puts(b, "<a href=\"") < 0 || html_text(b, jstr(run, "url")) < 0 ||
                   buf_puts(b, "\">") < 0 || html_text(b, jstr(run, "build_id")) < 0 ||
                   buf_puts(b, "</a>") < 0)
                : html_text(b, jstr(run, "build_id")) < 0)
            return -1;
        if (buf_puts(b, "</td><td>") < 0 || html_text(b, jstr(run, "description")) < 0 ||
            (jstr(run, "infra_cause") &&
             (buf_puts(b, " <small class=\"muted\">(infrastructure: ") < 0 ||
              html_text(b, jstr(run, "infra_cause")) < 0 ||
              buf_puts(b, ")</small>") < 0)) ||
            buf_puts(b, "</td><td>") < 0 || html_text(b, jstr(run, "intervention")) < 0 ||
            buf_puts(b, "</td></tr>") < 0)
            return -1;
    }
    return buf_puts(b, "</tbody></table>");
}

/* The release's latest run per stage, as board_release_cells wants it. */
static cJSON *release_stages(const struct config *cfg, const cJSON *runs)
{
    cJSON *st = cJSON_CreateObject();
    const cJSON *run;

    for (size_t i = 0; st && i < cfg->nrelease_stages; i++) {
        const char *name = cfg->release_stages[i].stage;
        const cJSON *last = NULL;
        int n = 0;
        cJSON_ArrayForEach(run, runs) if (jstr(run, "stage") &&
                                          !strcmp(jstr(run, "stage"), name))
        {
            last = run; /* runs are in start order */
            n++;
        }
        if (!last) {
            cJSON_AddNullToObject(st, name);
            continue;
        }
        cJSON *c = cJSON_Duplicate(last, 1);
        cJSON_AddNumberToObject(c, "runs", n);
        cJSON_AddItemToObject(st, name, c);
    }
    return st;
}

static int render_release(const struct req *r, const cJSON *d, struct buf *b)
{
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(d, "cells");
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(d, "runs");
    size_t n = r->cfg->nrelease_stages, ne = 0, nr = (size_t)cJSON_GetArraySize(runs);
    struct svg_node *nodes = calloc(n ? n : 1, sizeof(*nodes));
    struct svg_edge *edges = calloc(n * 8 + 1, sizeof(*edges));
    struct svg_span *spans = calloc(nr ? nr : 1, sizeof(*spans));
    char(*subs)[128] = calloc(n ? n : 1, sizeof(*subs));
    char(*labels)[160] = calloc(nr ? nr : 1, sizeof(*labels));
    char title[600];
    int rc = -1;
    int64_t t0 = 0, t1 = 0;

    if (!nodes || !edges || !spans || !subs || !labels)
        goto out;
    snprintf(title, sizeof(title), "%s %s", jstr(d, "service"), jstr(d, "version"));
    for (size_t i = 0; i < n; i++) {
        const struct release_stage *rs = &r->cfg->release_stages[i];
        const cJSON *c = cJSON_GetArrayItem(cells, (int)i);
        int depth = 0;
        for (size_t k = 0; k < rs->nafter; k++)
            for (size_t u = 0; u < i; u++)
                if (!strcmp(r->cfg->release_stages[u].stage, rs->after[k])) {
                    if (nodes[u].depth + 1 > depth)
                        depth = nodes[u].depth + 1;
                    if (ne < n * 8)
                        edges[ne++] = (struct svg_edge){u, i};
                }
        nodes[i].id = rs->stage;
        nodes[i].state = jstr(c, "state") ? jstr(c, "state") : "waiting";
        nodes[i].depth = depth;
        nodes[i].href = jstr(c, "url");
        if (jstr(c, "job"))
            snprintf(subs[i], sizeof(subs[i]), "%s%s", jstr(c, "job"),
                     jnum(c, "runs", 0) > 1 ? " (rerun)" : "");
        else
            snprintf(subs[i], sizeof(subs[i]), "%s",
                     jstr(c, "why") ? jstr(c, "why") : "not run yet");
        nodes[i].sub = subs[i];
    }
    for (size_t i = 0; i < nr; i++) {
        const cJSON *run = cJSON_GetArrayItem(runs, (int)i);
        spans[i].start_ms = (int64_t)jnum(run, "start_ms", 0);
        spans[i].end_ms = (int64_t)jnum(run, "end_ms", 0);
        spans[i].state = jstr(run, "state");
        spans[i].href = jstr(run, "url");
        snprintf(labels[i], sizeof(labels[i]), "%s · %s%s", jstr(run, "stage"),
                 jstr(run, "job"), jstr(run, "intervention") ? " (rerun)" : "");
        spans[i].label = labels[i];
        if (!t0 || spans[i].start_ms < t0)
            t0 = spans[i].start_ms;
        if (spans[i].end_ms > t1)
            t1 = spans[i].end_ms;
        if (spans[i].start_ms > t1)
            t1 = spans[i].start_ms;
    }
    if (html_head(b, title, "board") < 0 || buf_puts(b, "<h1>") < 0 ||
        html_text(b, jstr(d, "service")) < 0 || buf_puts(b, " ") < 0 ||
        html_text(b, jstr(d, "version")) < 0 || buf_puts(b, " ") < 0 ||
        html_badge(b, jstr(d, "status"), NULL) < 0 ||
        buf_puts(b, "</h1><p class=\"muted\">First run ") < 0 ||
        html_time(b, (int64_t)jnum(d, "first_ms", 0)) < 0 ||
        buf_puts(b, ", last event ") < 0 ||
        html_time(b, (int64_t)jnum(d, "last_ms", 0)) < 0 ||
        buf_puts(
            b,
            ".</p><h2>Release graph</h2><p class=\"muted\">Stages in the order of "
            "release.stages; an arrow points from a stage to the stages that wait for it "
            "(update-ack-chart polls for post-submit's chart).</p><div class=\"plot\">") <
            0 ||
        svg_dag(b, nodes, n, edges, ne) < 0 ||
        buf_puts(b, "</div><h2>Timeline</h2><div class=\"plot\">") < 0 ||
        (nr ? svg_timeline(b, spans, nr, t0, t1 > t0 ? t1 : t0 + 1000)
            : buf_puts(b, "<p class=\"muted\">No runs.</p>")) < 0 ||
        buf_puts(b, "</div><h2>Runs</h2>") < 0 || render_runs(b, runs, true) < 0 ||
        buf_puts(b, "<h2>Alerts sent</h2>") < 0 ||
        render_alerts(b, r->cfg, cJSON_GetObjectItemCaseSensitive(d, "alerts")) < 0 ||
        html_foot(b) < 0)
        goto out;
    rc = 0;
out:
    free(nodes);
    free(edges);
    free(spans);
    free(subs);
    free(labels);
    return rc;
}

enum MHD_Result page_release(struct req *r)
{
    static const char fmt[] =
        "SELECT coalesce((SELECT json_build_object('service', x.service, 'version', "
        "x.version, "
        " 'first_ms', x.first_ms, 'last_ms', x.last_ms, "
        " 'asof_ms', greatest((SELECT max(end_ms) FROM runs), (SELECT max(last_ms) FROM "
        "releases)), "
        " 'runs', coalesce((SELECT json_agg(json_build_object('run_key', q.run_key, "
        "'job', q.job, "
        "   'org', q.org, 'repo', q.repo, 'stage', q.stage, 'state', q.state, "
        "   'start_ms', q.start_ms, 'end_ms', q.end_ms, 'url', q.url, 'build_id', "
        "q.build_id, "
        "   'description', q.description, 'infra_cause', q.infra_cause, 'rerun_of', "
        "q.rerun_of, "
        "   'intervention', q.intervention) ORDER BY q.start_ms, q.run_key) FROM runs q "
        "   WHERE q.service = $1 AND q.version = $2), '[]'), "
        " 'alerts', coalesce((SELECT json_agg(json_build_object(%s) ORDER BY a.sent_ms) "
        "   FROM alerts a WHERE (a.service = $1 AND a.version = $2) "
        "   OR a.incident = 'rel:' || $1 || '|' || $2), '[]')) "
        " FROM releases x WHERE x.service = $1 AND x.version = $2), 'null'::json)";
    char sql[sizeof(fmt) + sizeof(alert_cols)];
    const char *params[2] = {r->seg[0], r->seg[1]};
    cJSON *d, *st, *cells;
    enum MHD_Result ret;

    snprintf(sql, sizeof(sql), fmt, alert_cols);
    if (!(d = query_json(r, "release", sql, 2, params)))
        return reply_db_error(r);
    if (cJSON_IsNull(d)) {
        cJSON_Delete(d);
        return reply_error(r, 404, "no release %s %s in the history", r->seg[0],
                           r->seg[1]);
    }
    st = release_stages(r->cfg, cJSON_GetObjectItemCaseSensitive(d, "runs"));
    cJSON_AddItemToObject(d, "stages", st);
    cells = board_release_cells(r->cfg, d, (int64_t)jnum(d, "asof_ms", 0));
    cJSON_DeleteItemFromObjectCaseSensitive(d, "stages");
    if (cells) {
        cJSON_AddStringToObject(d, "status", jstr(cells, "status"));
        cJSON_AddItemToObject(d, "cells",
                              cJSON_DetachItemFromObjectCaseSensitive(cells, "cells"));
        cJSON_Delete(cells);
    }
    {
        cJSON *edges = cJSON_AddArrayToObject(d, "edges");
        for (size_t i = 0; i < r->cfg->nrelease_stages; i++)
            for (size_t k = 0; k < r->cfg->release_stages[i].nafter; k++) {
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "from", r->cfg->release_stages[i].after[k]);
                cJSON_AddStringToObject(e, "to", r->cfg->release_stages[i].stage);
                cJSON_AddItemToArray(edges, e);
            }
    }
    ret = reply_page(r, d, render_release);
    cJSON_Delete(d);
    return ret;
}
