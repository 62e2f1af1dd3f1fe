/* trends.c -- /trends?days=7|30&service=GLOB: the most failing jobs and services of the
 * window with the change against the window before (as Sippy compares), the flakiest
 * jobs as TestGrid counts flakiness (flips, not runs of failures), failures by cause,
 * and a service x day heat map. Read from the rollups trend_jobs, trend_causes and
 * trend_service_days (recorder/migrations/002), which the recorder refreshes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "html.h"
#include "pages.h"
#include "svg.h"

static const char sql[] =
    "WITH j AS (SELECT * FROM trend_jobs WHERE days = $1::int "
    "  AND ($2::text IS NULL OR service LIKE $2)), "
    "asof AS (SELECT coalesce((SELECT max(asof_ms) FROM trend_service_days), "
    "  (SELECT max(asof_ms) FROM trend_jobs), 0) AS t) "
    "SELECT json_build_object('days', $1::int, 'asof_ms', (SELECT t FROM asof), "
    " 'failing', (SELECT coalesce(json_agg(row_to_json(x)), '[]') FROM (SELECT job, org, "
    "repo, "
    "   service, type, runs, failures, fail_days, prev_runs, prev_failures, "
    "last_failure_ms "
    "   FROM j WHERE failures > 0 ORDER BY failures DESC, fail_days DESC, job LIMIT 20) "
    "x), "
    " 'flaky', (SELECT coalesce(json_agg(row_to_json(x)), '[]') FROM (SELECT job, org, "
    "repo, "
    "   service, type, runs, flips, flake_runs, prev_flips, prev_flake_runs, "
    "   round(100.0 * flips / greatest(flake_runs, 1), 1)::float AS flakiness, "
    "   CASE WHEN prev_flake_runs > 0 THEN round(100.0 * prev_flips / prev_flake_runs, "
    "1)::float "
    "   END AS prev_flakiness FROM j WHERE flips > 0 "
    "   ORDER BY 1.0 * flips / greatest(flake_runs, 1) DESC, flips DESC, job LIMIT 20) "
    "x), "
    " 'services', (SELECT coalesce(json_agg(row_to_json(x)), '[]') FROM (SELECT service, "
    "   sum(runs)::int AS runs, sum(failures)::int AS failures, sum(prev_runs)::int AS "
    "prev_runs, "
    "   sum(prev_failures)::int AS prev_failures FROM j GROUP BY service "
    "   HAVING sum(failures) > 0 ORDER BY sum(failures) DESC, service LIMIT 20) x), "
    " 'causes', (SELECT coalesce(json_agg(row_to_json(x)), '[]') FROM (SELECT cause, "
    "failures, "
    "   prev_failures FROM trend_causes WHERE days = $1::int "
    "   ORDER BY failures DESC, cause) x), "
    " 'heatmap', (SELECT coalesce(json_agg(row_to_json(x)), '[]') FROM (SELECT "
    "d.service, "
    "   json_agg(json_build_object('day', d.day, 'runs', d.runs, 'failures', d.failures) "
    "   ORDER BY d.day) AS days, sum(d.failures)::int AS failures FROM "
    "trend_service_days d "
    "   WHERE d.day > (SELECT t FROM asof) / 86400000 - $1::int "
    "   AND ($2::text IS NULL OR d.service LIKE $2) GROUP BY d.service "
    "   HAVING sum(d.failures) > 0 ORDER BY sum(d.failures) DESC, d.service LIMIT 30) "
    "x))";

/* "+3.2 pts" against the previous window; rising failure rates are bad (red). */
static int trend(struct buf *b, double cur, double prev, bool have_prev)
{
    double d = cur - prev;

    if (!have_prev)
        return buf_puts(b, "<td class=\"num muted\">new</td>");
    if (fabs(d) < 0.05)
        return buf_puts(b, "<td class=\"num muted\">=</td>");
    return buf_printf(b, "<td class=\"num %s\">%s %+.1f pts</td>", d > 0 ? "up" : "down",
                      d > 0 ? "&#9650;" : "&#9660;", d);
}

static int job_cell(struct buf *b, const cJSON *j)
{
    struct buf href;
    int rc;

    buf_init(&href, 4096);
    rc = link_job(&href, jstr(j, "org"), jstr(j, "repo"), jstr(j, "job")) < 0 ||
                 buf_puts(b, "<td class=\"job\"><a href=\"") < 0 ||
                 html_text(b, href.data) < 0 || buf_puts(b, "\">") < 0 ||
                 html_text(b, jstr(j, "job")) < 0 || buf_puts(b, "</a></td><td>") < 0 ||
                 html_text(b, jstr(j, "service")) < 0 || buf_puts(b, "</td><td>") < 0 ||
                 html_text(b, jstr(j, "type")) < 0 || buf_puts(b, "</td>") < 0
             ? -1
             : 0;
    buf_release(&href);
    return rc;
}

static int render_failing(struct buf *b, const cJSON *list)
{
    const cJSON *j;
    size_t n = (size_t)cJSON_GetArraySize(list), i = 0;
    const char **labels = calloc(n ? n : 1, sizeof(*labels));
    double *v = calloc(n ? n : 1, sizeof(*v));
    int rc = -1;

    if (!labels || !v)
        goto out;
    if (buf_puts(
            b,
            "<table id=\"failing-jobs\"><thead><tr><th class=\"num\">#</th><th>Job</th>"
            "<th>Service</th><th>Type</th><th class=\"num\">Failures</th>"
            "<th class=\"num\">Days failing</th><th class=\"num\">Runs</th>"
            "<th class=\"num\">Failure rate</th><th class=\"num\">Before</th>"
            "<th class=\"num\">Trend</th></tr></thead><tbody>") < 0)
        goto out;
    cJSON_ArrayForEach(j, list)
    {
        double runs = jnum(j, "runs", 0), f = jnum(j, "failures", 0);
        double pr = jnum(j, "prev_runs", 0), pf = jnum(j, "prev_failures", 0);
        double rate = runs > 0 ? 100 * f / runs : 0, prate = pr > 0 ? 100 * pf / pr : 0;
        labels[i] = jstr(j, "job");
        v[i++] = f;
        if (buf_printf(b, "<tr><td class=\"num\">%zu</td>", i) < 0 ||
            job_cell(b, j) < 0 ||
            buf_printf(b,
                       "<td class=\"num\">%.0f</td><td class=\"num\">%.0f</td>"
                       "<td class=\"num\">%.0f</td><td class=\"num\">%.1f%%</td>",
                       f, jnum(j, "fail_days", 0), runs, rate) < 0 ||
            (pr > 0 ? buf_printf(b, "<td class=\"num\">%.1f%%</td>", prate)
                    : buf_puts(b, "<td class=\"num\">-</td>")) < 0 ||
            trend(b, rate, prate, pr > 0) < 0 || buf_puts(b, "</tr>") < 0)
            goto out;
    }
    if (buf_puts(b, "</tbody></table>") < 0)
        goto out;
    if (n && (buf_puts(b, "<div class=\"plot\"><h3>Failures per job</h3>") < 0 ||
              svg_bars(b, labels, v, NULL, n, 0, "", "#cf222e") < 0 ||
              buf_puts(b, "</div>") < 0))
        goto out;
    rc = 0;
out:
    free(labels);
    free(v);
    return rc;
}

static int render_flaky(struct buf *b, const cJSON *list)
{
    const cJSON *j;

    if (cJSON_GetArraySize(list) == 0)
        return buf_puts(b, "<p class=\"muted\">No job flipped from pass to fail in this "
                           "window.</p>");
    if (buf_puts(
            b,
            "<table id=\"flaky-jobs\"><thead><tr><th>Job</th><th>Service</th>"
            "<th>Type</th><th class=\"num\">Flips</th><th class=\"num\">Runs counted</th>"
            "<th class=\"num\">Flakiness</th><th class=\"num\">Before</th>"
            "<th class=\"num\">Trend</th></tr></thead><tbody>") < 0)
        return -1;
    cJSON_ArrayForEach(j, list)
    {
        const cJSON *pf = cJSON_GetObjectItemCaseSensitive(j, "prev_flakiness");
        double fl = jnum(j, "flakiness", 0);
        if (buf_puts(b, "<tr>") < 0 || job_cell(b, j) < 0 ||
            buf_printf(b,
                       "<td class=\"num\">%.0f</td><td class=\"num\">%.0f</td>"
                       "<td class=\"num\">%.1f%%</td>",
                       jnum(j, "flips", 0), jnum(j, "flake_runs", 0), fl) < 0 ||
            (cJSON_IsNumber(pf)
                 ? buf_printf(b, "<td class=\"num\">%.1f%%</td>", pf->valuedouble)
                 : buf_puts(b, "<td class=\"num\">-</td>")) < 0 ||
            trend(b, fl, cJSON_IsNumber(pf) ? pf->valuedouble : 0, cJSON_IsNumber(pf)) <
                0 ||
            buf_puts(b, "</tr>") < 0)
            return -1;
    }
    return buf_puts(b, "</tbody></table>");
}

/* Bars with the numbers beside them, and a table with the window before. */
static int render_counted(struct buf *b, const cJSON *list, const char *key,
                          const char *id, const char *what, const char *color)
{
    const cJSON *x;
    size_t n = (size_t)cJSON_GetArraySize(list), i = 0;
    const char **labels = calloc(n ? n : 1, sizeof(*labels));
    double *v = calloc(n ? n : 1, sizeof(*v));
    int rc = -1;

    if (!labels || !v)
        goto out;
    if (n == 0) {
        rc = buf_puts(b, "<p class=\"muted\">No failures in this window.</p>");
        goto out;
    }
    if (buf_printf(b, "<div class=\"plots\"><div class=\"plot\"><h3>%s</h3>", what) < 0)
        goto out;
    cJSON_ArrayForEach(x, list)
    {
        labels[i] = jstr(x, key);
        v[i++] = jnum(x, "failures", 0);
    }
    if (svg_bars(b, labels, v, NULL, n, 0, "", color) < 0 ||
        buf_printf(
            b,
            "</div><table id=\"%s\"><thead><tr><th>%s</th><th class=\"num\">Failures"
            "</th><th class=\"num\">Before</th></tr></thead><tbody>",
            id, key) < 0)
        goto out;
    cJSON_ArrayForEach(x, list)
    {
        if (buf_puts(b, "<tr><td>") < 0 || html_text(b, jstr(x, key)) < 0 ||
            buf_printf(b,
                       "</td><td class=\"num\">%.0f</td><td class=\"num\">%.0f</td></tr>",
                       jnum(x, "failures", 0), jnum(x, "prev_failures", 0)) < 0)
            goto out;
    }
    rc = buf_puts(b, "</tbody></table></div>");
out:
    free(labels);
    free(v);
    return rc;
}

static int render_heatmap(struct buf *b, const cJSON *heat, int days, int64_t asof)
{
    size_t nr = (size_t)cJSON_GetArraySize(heat), nc = (size_t)days;
    const char **rows = calloc(nr ? nr : 1, sizeof(*rows));
    const char **cols = calloc(nc, sizeof(*cols));
    char(*colbuf)[8] = calloc(nc, sizeof(*colbuf));
    double *v = calloc(nr * nc + 1, sizeof(*v));
    char(*tips)[64] = calloc(nr * nc + 1, sizeof(*tips));
    const char **titles = calloc(nr * nc + 1, sizeof(*titles));
    int64_t last_day = asof / 86400000;
    int rc = -1;

    if (!rows || !cols || !colbuf || !v || !tips || !titles)
        goto out;
    if (nr == 0) {
        rc = buf_puts(b, "<p class=\"muted\">No failures in this window.</p>");
        goto out;
    }
    for (size_t c = 0; c < nc; c++) {
        time_t t = (time_t)((last_day - (int64_t)nc + 1 + (int64_t)c) * 86400);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(colbuf[c], sizeof(colbuf[c]), "%m-%d", &tm);
        cols[c] = colbuf[c];
    }
    for (size_t i = 0; i < nr * nc; i++)
        v[i] = NAN;
    for (size_t r = 0; r < nr; r++) {
        const cJSON *s = cJSON_GetArrayItem(heat, (int)r), *d;
        rows[r] = jstr(s, "service");
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(s, "days"))
        {
            int64_t c = (int64_t)jnum(d, "day", 0) - (last_day - (int64_t)nc + 1);
            if (c < 0 || c >= (int64_t)nc)
                continue;
            v[r * nc + (size_t)c] = jnum(d, "failures", 0);
            snprintf(tips[r * nc + (size_t)c], sizeof(tips[0]),
                     "%.0f failures in %.0f runs", jnum(d, "failures", 0),
                     jnum(d, "runs", 0));
            titles[r * nc + (size_t)c] = tips[r * nc + (size_t)c];
        }
    }
    rc = svg_heatmap(b, rows, nr, cols, nc, v, titles);
out:
    free(rows);
    free(cols);
    free(colbuf);
    free(v);
    free(tips);
    free(titles);
    return rc;
}

static int render_trends(const struct req *r, const cJSON *d, struct buf *b)
{
    int days = (int)jnum(d, "days", 7);
    const char *service = req_param(r, "service");

    (void)r;
    if (html_head(b, "Trends", "trends") < 0 ||
        buf_printf(b, "<h1>Trends: the last %d days</h1><p class=\"muted\">", days) < 0 ||
        buf_puts(b, "Up to ") < 0 || html_time(b, (int64_t)jnum(d, "asof_ms", 0)) < 0 ||
        buf_printf(
            b,
            " (the newest completion recorded), against the %d days before. "
            "Window: <a href=\"/trends?days=7\">7 days</a> · "
            "<a href=\"/trends?days=30\">30 days</a>.</p>"
            "<form class=\"filters\" method=\"get\" action=\"/trends\">"
            "<input type=\"hidden\" name=\"days\" value=\"%d\"><label>Service (glob)"
            "<input name=\"service\" value=\"",
            days, days) < 0 ||
        html_text(b, service) < 0 ||
        buf_puts(b, "\"></label><button>Filter</button></form>"
                    "<h2>Most failing jobs</h2>") < 0 ||
        render_failing(b, cJSON_GetObjectItemCaseSensitive(d, "failing")) < 0 ||
        buf_puts(b, "<h2>Most failing services</h2>") < 0 ||
        render_counted(b, cJSON_GetObjectItemCaseSensitive(d, "services"), "service",
                       "failing-services", "Failures per service", "#bc4c00") < 0 ||
        buf_puts(
            b,
            "<h2>Flakiest jobs</h2><p class=\"muted\">Flakiness = 100 &times; flips "
            "(a failure right after a pass) / runs, not counting runs inside a streak of "
            "3 or more failures (TestGrid); the trend compares with the window before "
            "(Sippy).</p>") < 0 ||
        render_flaky(b, cJSON_GetObjectItemCaseSensitive(d, "flaky")) < 0 ||
        buf_puts(b, "<h2>Failures by cause</h2>") < 0 ||
        render_counted(b, cJSON_GetObjectItemCaseSensitive(d, "causes"), "cause",
                       "causes", "Failures per cause", "#8250df") < 0 ||
        buf_puts(b, "<h2>Failures per service and day</h2><div class=\"plot\">") < 0 ||
        render_heatmap(b, cJSON_GetObjectItemCaseSensitive(d, "heatmap"), days,
                       (int64_t)jnum(d, "asof_ms", 0)) < 0 ||
        buf_puts(b, "</div>") < 0)
        return -1;
    return html_foot(b);
}

enum MHD_Result page_trends(struct req *r)
{
    const char *days = req_param(r, "days"), *service = req_param(r, "service");
    const char *params[2];
    struct buf like;
    cJSON *d;
    enum MHD_Result ret;

    if (!days || !*days)
        days = "7";
    if (strcmp(days, "7") != 0 && strcmp(days, "30") != 0)
        return reply_error(r, 400, "days: expected 7 or 30");
    if (service && !*service)
        service = NULL;
    if (service && !param_is_name(service, true))
        return reply_error(r, 400,
                           "service: expected a name or a glob of [A-Za-z0-9._-*?]");
    buf_init(&like, 1024);
    if (service && glob_to_like(service, &like) < 0) {
        buf_release(&like);
        return reply_error(r, 400, "service: too long");
    }
    params[0] = days;
    params[1] = service ? like.data : NULL;
    d = query_json(r, "trends", sql, 2, params);
    buf_release(&like);
    if (!d)
        return reply_db_error(r);
    ret = reply_page(r, d, render_trends);
    cJSON_Delete(d);
    return ret;
}
