/* job.c -- one job (/job/<org>/<repo>/<job>, '-' for a missing org or repo): its runs
 * newest first (?limit=1..500, default 100; ?before=<epoch ms> pages back), the pass
 * rate and TestGrid flakiness of the last 7 and 30 days against the window before,
 * and the alerts sent about it. Slack alerts link here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "pages.h"
#include "svg.h"

#define JOB_RUNS_DEFAULT 100
#define JOB_RUNS_MAX 500

static int render_stats(struct buf *b, const cJSON *stats)
{
    static const char *const windows[] = {"7", "30"};

    if (buf_puts(
            b,
            "<table class=\"stats\"><thead><tr><th>Window</th><th class=\"num\">Runs</th>"
            "<th class=\"num\">Failures</th><th class=\"num\">Pass rate</th>"
            "<th class=\"num\">Before</th><th class=\"num\">Flakiness</th>"
            "<th class=\"num\">Before</th></tr></thead><tbody>") < 0)
        return -1;
    for (size_t i = 0; i < 2; i++) {
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(stats, windows[i]);
        double runs = jnum(w, "runs", 0), fail = jnum(w, "failures", 0);
        double pr = jnum(w, "prev_runs", 0), pf = jnum(w, "prev_failures", 0);
        double fr = jnum(w, "flake_runs", 0), fl = jnum(w, "flips", 0);
        double pfr = jnum(w, "prev_flake_runs", 0), pfl = jnum(w, "prev_flips", 0);
        if (buf_printf(b,
                       "<tr><td>last %s days</td><td class=\"num\">%.0f</td>"
                       "<td class=\"num\">%.0f</td>",
                       windows[i], runs, fail) < 0)
            return -1;
        if (runs > 0 ? buf_printf(b, "<td class=\"num\">%.1f%%</td>",
                                  100 * (runs - fail) / runs)
                     : buf_puts(b, "<td class=\"num\">-</td>") < 0)
            return -1;
        if (pr > 0 ? buf_printf(b, "<td class=\"num\">%.1f%%</td>", 100 * (pr - pf) / pr)
                   : buf_puts(b, "<td class=\"num\">-</td>") < 0)
            return -1;
        if (fr > 0 ? buf_printf(b, "<td class=\"num\">%.1f%%</td>", 100 * fl / fr)
                   : buf_puts(b, "<td class=\"num\">-</td>") < 0)
            return -1;
        if ((pfr > 0 ? buf_printf(b, "<td class=\"num\">%.1f%%</td>", 100 * pfl / pfr)
                     : buf_puts(b, "<td class=\"num\">-</td>")) < 0 ||
            buf_puts(b, "</tr>") < 0)
            return -1;
    }
    return buf_puts(b, "</tbody></table>");
}

/* " · the job on Deck" when web.deck_url is set (Deck's ?job= filter). */
static int deck_link(struct buf *b, const struct config *cfg, const char *job)
{
    if (!cfg->web_deck_url || !*cfg->web_deck_url)
        return 0;
    return buf_puts(b, " · <a class=\"deck\" href=\"") < 0 ||
                   html_text(b, cfg->web_deck_url) < 0 || buf_puts(b, "/?job=") < 0 ||
                   html_path(b, job) < 0 || buf_puts(b, "\">the job on Deck</a>") < 0
               ? -1
               : 0;
}

static int render_job(const struct req *r, const cJSON *d, struct buf *b)
{
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(d, "runs"), *run;
    size_t n = (size_t)cJSON_GetArraySize(runs), k = 0;
    struct svg_span *spans = calloc(n ? n : 1, sizeof(*spans));
    int64_t t0 = 0, t1 = 0;
    int rc = -1;
    char title[800];

    if (!spans)
        return -1;
    snprintf(title, sizeof(title), "%s", jstr(d, "job"));
    /* Oldest at the top of the timeline: the runs come newest first. */
    for (size_t i = n; i-- > 0 && k < 40;) {
        run = cJSON_GetArrayItem(runs, (int)i);
        if (n - i > 40)
            continue;
        spans[k].label =
            jstr(run, "build_id") ? jstr(run, "build_id") : jstr(run, "run_key");
        spans[k].state = jstr(run, "state");
        spans[k].start_ms = (int64_t)jnum(run, "start_ms", 0);
        spans[k].end_ms = (int64_t)jnum(run, "end_ms", 0);
        spans[k].href = jstr(run, "url");
        if (!t0 || spans[k].start_ms < t0)
            t0 = spans[k].start_ms;
        if (spans[k].end_ms > t1)
            t1 = spans[k].end_ms;
        if (spans[k].start_ms > t1)
            t1 = spans[k].start_ms;
        k++;
    }
    if (html_head(b, title, NULL) < 0 || buf_puts(b, "<h1 id=\"job-name\">") < 0 ||
        html_text(b, jstr(d, "job")) < 0 || buf_puts(b, "</h1><p class=\"muted\">") < 0 ||
        html_text(b, jstr(d, "org")) < 0 || buf_puts(b, "/") < 0 ||
        html_text(b, jstr(d, "repo")) < 0 || deck_link(b, r->cfg, jstr(d, "job")) < 0 ||
        buf_puts(
            b,
            "</p><h2>Pass rate and flakiness</h2><p class=\"muted\">Flakiness as "
            "TestGrid counts it: failures right after a pass (flips), not counting runs "
            "inside a streak of 3 or more failures, over the runs outside such streaks; "
            "\"before\" is the window before it, as Sippy compares.</p>") < 0 ||
        render_stats(b, cJSON_GetObjectItemCaseSensitive(d, "stats")) < 0 ||
        buf_puts(b, "<h2>Recent runs</h2><div class=\"plot\">") < 0 ||
        (k ? svg_timeline(b, spans, k, t0, t1 > t0 ? t1 : t0 + 1000)
           : buf_puts(b, "<p class=\"muted\">No runs in this page.</p>")) < 0 ||
        buf_puts(b, "</div><h2>Runs</h2>") < 0 || render_runs(b, runs, true) < 0 ||
        buf_puts(b, "<h2>Alerts sent</h2>") < 0 ||
        render_alerts(b, r->cfg, cJSON_GetObjectItemCaseSensitive(d, "alerts")) < 0 ||
        html_foot(b) < 0)
        goto out;
    rc = 0;
out:
    free(spans);
    return rc;
}

enum MHD_Result page_job(struct req *r)
{
    static const char fmt[] =
        "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM runs WHERE job = $3 AND org = $1 "
        " AND repo = $2) THEN 'null'::json ELSE json_build_object('org', $1, 'repo', $2, "
        " 'job', $3, 'runs', (SELECT coalesce(json_agg(json_build_object('run_key', "
        "q.run_key, "
        "   'job', q.job, 'org', q.org, 'repo', q.repo, 'stage', q.stage, 'state', "
        "q.state, "
        "   'start_ms', q.start_ms, 'end_ms', q.end_ms, 'url', q.url, 'build_id', "
        "q.build_id, "
        "   'description', q.description, 'infra_cause', q.infra_cause, 'cause', "
        "q.cause, "
        "   'service', q.service, 'version', q.version, 'base_ref', q.base_ref, "
        "   'pull_number', q.pull_number, 'intervention', q.intervention, "
        "   'rerun_of', q.rerun_of) ORDER BY q.start_ms DESC, q.run_key DESC), '[]') "
        "   FROM (SELECT * FROM runs WHERE job = $3 AND org = $1 AND repo = $2 "
        "     AND ($5::bigint IS NULL OR start_ms < $5::bigint) "
        "     ORDER BY start_ms DESC, run_key DESC LIMIT $4::int) q), "
        " 'stats', (SELECT coalesce(json_object_agg(t.days, json_build_object('runs', "
        "t.runs, "
        "   'failures', t.failures, 'flips', t.flips, 'flake_runs', t.flake_runs, "
        "   'prev_runs', t.prev_runs, 'prev_failures', t.prev_failures, "
        "   'prev_flips', t.prev_flips, 'prev_flake_runs', t.prev_flake_runs)), '{}') "
        "   FROM trend_jobs t WHERE t.job = $3 AND t.org = $1 AND t.repo = $2), "
        " 'alerts', (SELECT coalesce(json_agg(json_build_object(%s) ORDER BY a.sent_ms "
        "DESC), "
        "   '[]') FROM (SELECT * FROM alerts WHERE job = $3 AND coalesce(org, '-') = $1 "
        "   AND coalesce(repo, '-') = $2 ORDER BY sent_ms DESC LIMIT 100) a)) END";
    char sql[sizeof(fmt) + 1024], limit[24];
    const char *lim = req_param(r, "limit"), *before = req_param(r, "before");
    const char *params[5];
    long long v;
    cJSON *d;
    enum MHD_Result ret;

    snprintf(limit, sizeof(limit), "%d", JOB_RUNS_DEFAULT);
    if (lim) {
        if (param_int(lim, 1, JOB_RUNS_MAX, &v) < 0)
            return reply_error(r, 400, "limit: expected a number of runs from 1 to %d",
                               JOB_RUNS_MAX);
        snprintf(limit, sizeof(limit), "%lld", v);
    }
    if (before && param_int(before, 0, 253402300799999LL, &v) < 0)
        return reply_error(r, 400, "before: expected a time in epoch milliseconds");
    snprintf(sql, sizeof(sql), fmt, alert_cols);
    params[0] = r->seg[0];
    params[1] = r->seg[1];
    params[2] = r->seg[2];
    params[3] = limit;
    params[4] = before;
    if (!(d = query_json(r, "job", sql, 5, params)))
        return reply_db_error(r);
    if (cJSON_IsNull(d)) {
        cJSON_Delete(d);
        return reply_error(r, 404, "no runs of job %s in %s/%s in the history", r->seg[2],
                           r->seg[0], r->seg[1]);
    }
    ret = reply_page(r, d, render_job);
    cJSON_Delete(d);
    return ret;
}
