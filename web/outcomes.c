/* outcomes.c -- /outcomes?weeks=1..52 (default 8): did things get better? Per week:
 * MTTD (pipeline: completion -> Slack accepted the failure alert; incident: first
 * failure -> the incident's first alert) p50/p90, the release success rate (eventual:
 * every stage of release.stages succeeded within web.release_window of the release's
 * first run; first pass: and no stage ran twice), human interventions (reruns,
 * /retest, /test) and time to recover (a postsubmit's or periodic's first failure ->
 * its next success). Plots with the numbers beside them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "html.h"
#include "outcomes.sql.h"
#include "pages.h"
#include "svg.h"

#define WEEKS_DEFAULT 8
#define WEEKS_MAX 52

/* o[key][field] as a number, NaN when null or absent. */
static double sub(const cJSON *o, const char *key, const char *field)
{
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, key), field);

    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int cell_dur(struct buf *b, double ms)
{
    if (!isfinite(ms))
        return buf_puts(b, "<td class=\"num\">-</td>");
    return buf_puts(b, "<td class=\"num\">") < 0 ||
                   html_duration(b, (int64_t)llround(ms)) < 0 || buf_puts(b, "</td>") < 0
               ? -1
               : 0;
}

static int cell_pct(struct buf *b, double num, double den)
{
    if (!(den > 0))
        return buf_puts(b, "<td class=\"num\">-</td>");
    return buf_printf(
        b, "<td class=\"num\">%.1f%% <small class=\"muted\">(%.0f/%.0f)</small></td>",
        100 * num / den, num, den);
}

/* Summary table of the whole window; ids for the tests. */
static int render_totals(struct buf *b, const cJSON *t)
{
    double rn = sub(t, "releases", "n"), rs = sub(t, "releases", "succeeded");
    double rf = sub(t, "releases", "first_pass");

    if (buf_puts(b,
                 "<table id=\"totals\"><tbody><tr><th>MTTD, pipeline (p50 / p90)</th>") <
            0 ||
        cell_dur(b, sub(t, "mttd_pipeline", "p50_ms")) < 0 ||
        cell_dur(b, sub(t, "mttd_pipeline", "p90_ms")) < 0 ||
        buf_printf(
            b,
            "<td class=\"num\" id=\"mttd-pipeline-p50-ms\" data-ms=\"%.0f\">%.0f alerts"
            "</td></tr>",
            sub(t, "mttd_pipeline", "p50_ms"), sub(t, "mttd_pipeline", "n")) < 0 ||
        buf_puts(b, "<tr><th>MTTD, incident (p50 / p90)</th>") < 0 ||
        cell_dur(b, sub(t, "mttd_incident", "p50_ms")) < 0 ||
        cell_dur(b, sub(t, "mttd_incident", "p90_ms")) < 0 ||
        buf_printf(b,
                   "<td class=\"num\" id=\"mttd-incident-p50-ms\" data-ms=\"%.0f\">%.0f "
                   "incidents</td></tr>",
                   sub(t, "mttd_incident", "p50_ms"), sub(t, "mttd_incident", "n")) < 0 ||
        buf_puts(b, "<tr><th>Release success rate (eventual / first pass)</th>") < 0 ||
        cell_pct(b, rs, rn) < 0 || cell_pct(b, rf, rn) < 0 ||
        buf_printf(b, "<td class=\"num\">%.0f pending</td></tr>",
                   sub(t, "releases", "pending")) < 0 ||
        buf_printf(
            b,
            "<tr><th>Human interventions</th><td class=\"num\" id=\"interventions\">"
            "%.0f</td><td colspan=\"2\">%.0f reruns, %.0f /retest, %.0f /test</td></tr>",
            sub(t, "interventions", "total"), sub(t, "interventions", "rerun"),
            sub(t, "interventions", "retest"), sub(t, "interventions", "test")) < 0 ||
        buf_puts(b, "<tr><th>Time to recover (p50 / p90)</th>") < 0 ||
        cell_dur(b, sub(t, "recover", "p50_ms")) < 0 ||
        cell_dur(b, sub(t, "recover", "p90_ms")) < 0 ||
        buf_printf(b, "<td class=\"num\">%.0f recoveries</td></tr></tbody></table>",
                   sub(t, "recover", "n")) < 0)
        return -1;
    return 0;
}

struct plot {
    const char *title, *unit;
    int decimals;
    const char *key[2], *field[2], *name[2];
    double scale; /* value / scale is drawn */
    bool rate;    /* field[0]/field[1] of the same key as percent */
};

static int render_plot(struct buf *b, const cJSON *weeks, const struct plot *p,
                       const char *const *xl, size_t n)
{
    double *v[2] = {calloc(n ? n : 1, sizeof(double)), calloc(n ? n : 1, sizeof(double))};
    struct svg_series s[2];
    size_t ns = p->rate ? 2 : (p->key[1] ? 2 : 1);
    int rc = -1;

    if (!v[0] || !v[1])
        goto out;
    for (size_t i = 0; i < n; i++) {
        const cJSON *w = cJSON_GetArrayItem(weeks, (int)i);
        if (p->rate) {
            double den = sub(w, p->key[0], "n");
            v[0][i] = den > 0 ? 100 * sub(w, p->key[0], "succeeded") / den : NAN;
            v[1][i] = den > 0 ? 100 * sub(w, p->key[0], "first_pass") / den : NAN;
        } else {
            for (size_t k = 0; k < ns; k++)
                v[k][i] = sub(w, p->key[k], p->field[k]) / p->scale;
        }
    }
    s[0] = (struct svg_series){p->name[0], "#0969da", v[0]};
    s[1] = (struct svg_series){p->name[1], "#bc4c00", v[1]};
    if (buf_puts(b, "<div class=\"plot\"><h3>") < 0 || html_text(b, p->title) < 0 ||
        buf_puts(b, "</h3>") < 0 ||
        svg_lines(b, xl, n, s, ns, p->decimals, p->unit) < 0 || buf_puts(b, "</div>") < 0)
        goto out;
    rc = 0;
out:
    free(v[0]);
    free(v[1]);
    return rc;
}

static int render_weeks_table(struct buf *b, const cJSON *weeks, const char *const *xl)
{
    const cJSON *w;
    size_t i = 0;

    if (buf_puts(
            b,
            "<table id=\"weeks\"><thead><tr><th>Week of</th><th class=\"num\">MTTD "
            "pipeline p50</th><th class=\"num\">p90</th><th class=\"num\">MTTD incident "
            "p50</th><th class=\"num\">p90</th><th class=\"num\">Releases ok</th>"
            "<th class=\"num\">First pass</th><th class=\"num\">Reruns</th>"
            "<th class=\"num\">/retest</th><th class=\"num\">/test</th>"
            "<th class=\"num\">TTR p50</th><th "
            "class=\"num\">p90</th></tr></thead><tbody>") < 0)
        return -1;
    cJSON_ArrayForEach(w, weeks)
    {
        double rn = sub(w, "releases", "n");
        if (buf_puts(b, "<tr><td>") < 0 || html_text(b, xl[i++]) < 0 ||
            buf_puts(b, "</td>") < 0 ||
            cell_dur(b, sub(w, "mttd_pipeline", "p50_ms")) < 0 ||
            cell_dur(b, sub(w, "mttd_pipeline", "p90_ms")) < 0 ||
            cell_dur(b, sub(w, "mttd_incident", "p50_ms")) < 0 ||
            cell_dur(b, sub(w, "mttd_incident", "p90_ms")) < 0 ||
            cell_pct(b, sub(w, "releases", "succeeded"), rn) < 0 ||
            cell_pct(b, sub(w, "releases", "first_pass"), rn) < 0 ||
            buf_printf(b,
                       "<td class=\"num\">%.0f</td><td class=\"num\">%.0f</td>"
                       "<td class=\"num\">%.0f</td>",
                       sub(w, "interventions", "rerun"),
                       sub(w, "interventions", "retest"),
                       sub(w, "interventions", "test")) < 0 ||
            cell_dur(b, sub(w, "recover", "p50_ms")) < 0 ||
            cell_dur(b, sub(w, "recover", "p90_ms")) < 0 || buf_puts(b, "</tr>") < 0)
            return -1;
    }
    return buf_puts(b, "</tbody></table>");
}

static int render_services(struct buf *b, const cJSON *svcs)
{
    const cJSON *s;

    if (cJSON_GetArraySize(svcs) == 0)
        return buf_puts(b, "<p class=\"muted\">No release in this window.</p>");
    if (buf_puts(b, "<table id=\"release-services\"><thead><tr><th>Service</th>"
                    "<th class=\"num\">Success rate</th><th class=\"num\">First pass</th>"
                    "<th class=\"num\">Pending</th></tr></thead><tbody>") < 0)
        return -1;
    cJSON_ArrayForEach(s, svcs)
    {
        double n = jnum(s, "n", 0);
        if (buf_puts(b, "<tr><td>") < 0 || html_text(b, jstr(s, "service")) < 0 ||
            buf_puts(b, "</td>") < 0 || cell_pct(b, jnum(s, "succeeded", 0), n) < 0 ||
            cell_pct(b, jnum(s, "first_pass", 0), n) < 0 ||
            buf_printf(b, "<td class=\"num\">%.0f</td></tr>", jnum(s, "pending", 0)) < 0)
            return -1;
    }
    return buf_puts(b, "</tbody></table>");
}

static int render_outcomes(const struct req *r, const cJSON *d, struct buf *b)
{
    static const struct plot plots[] = {
        {"MTTD, pipeline (completion to Slack)",
         "minutes",
         1,
         {"mttd_pipeline", "mttd_pipeline"},
         {"p50_ms", "p90_ms"},
         {"p50", "p90"},
         60000,
         false},
        {"MTTD, incident (first failure to first alert)",
         "minutes",
         1,
         {"mttd_incident", "mttd_incident"},
         {"p50_ms", "p90_ms"},
         {"p50", "p90"},
         60000,
         false},
        {"Release success rate",
         "%",
         0,
         {"releases", NULL},
         {NULL, NULL},
         {"eventual", "first pass"},
         1,
         true},
        {"Human interventions",
         "runs",
         0,
         {"interventions", "interventions"},
         {"total", "rerun"},
         {"all", "manual reruns"},
         1,
         false},
        {"Time to recover",
         "hours",
         1,
         {"recover", "recover"},
         {"p50_ms", "p90_ms"},
         {"p50", "p90"},
         3600000,
         false},
    };
    const cJSON *weeks = cJSON_GetObjectItemCaseSensitive(d, "weeks");
    size_t n = (size_t)cJSON_GetArraySize(weeks);
    const char **xl = calloc(n ? n : 1, sizeof(*xl));
    char(*xb)[16] = calloc(n ? n : 1, sizeof(*xb));
    char(*xs)[8] = calloc(n ? n : 1, sizeof(*xs));
    const char **xshort = calloc(n ? n : 1, sizeof(*xshort));
    int rc = -1;

    (void)r;
    if (!xl || !xb || !xs || !xshort)
        goto out;
    for (size_t i = 0; i < n; i++) {
        time_t t = (time_t)(jnum(cJSON_GetArrayItem(weeks, (int)i), "week_ms", 0) / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(xb[i], sizeof(xb[i]), "%Y-%m-%d", &tm);
        strftime(xs[i], sizeof(xs[i]), "%m-%d", &tm);
        xl[i] = xb[i];
        xshort[i] = xs[i];
    }
    if (html_head(b, "Outcomes", "outcomes") < 0 ||
        buf_printf(b, "<h1>Outcomes: the last %.0f weeks</h1><p class=\"muted\">Up to ",
                   jnum(d, "weeks_n", 0)) < 0 ||
        html_time(b, (int64_t)jnum(d, "asof_ms", 0)) < 0 ||
        buf_puts(
            b,
            ". A release succeeds when every stage of release.stages succeeded within ") <
            0 ||
        html_duration(b, (int64_t)jnum(d, "release_window_ms", 0)) < 0 ||
        buf_puts(
            b,
            " of its first run. Weeks start on Monday (UTC). Windows: "
            "<a href=\"/outcomes?weeks=4\">4</a> · <a href=\"/outcomes?weeks=8\">8</a> · "
            "<a href=\"/outcomes?weeks=26\">26</a> weeks.</p><h2>The whole window</h2>") <
            0 ||
        render_totals(b, cJSON_GetObjectItemCaseSensitive(d, "totals")) < 0 ||
        buf_puts(b, "<h2>Per week</h2><div class=\"plots\">") < 0)
        goto out;
    for (size_t i = 0; i < sizeof(plots) / sizeof(plots[0]); i++)
        if (render_plot(b, weeks, &plots[i], xshort, n) < 0)
            goto out;
    if (buf_puts(b, "</div>") < 0 || render_weeks_table(b, weeks, xl) < 0 ||
        buf_puts(b, "<h2>Release success per service</h2>") < 0 ||
        render_services(b, cJSON_GetObjectItemCaseSensitive(d, "services")) < 0 ||
        html_foot(b) < 0)
        goto out;
    rc = 0;
out:
    free(xl);
    free(xb);
    free(xs);
    free(xshort);
    return rc;
}

enum MHD_Result page_outcomes(struct req *r)
{
    const char *weeks = req_param(r, "weeks");
    char wbuf[16], win[32];
    const char *params[3];
    struct buf arr;
    long long v = WEEKS_DEFAULT;
    cJSON *d;
    enum MHD_Result ret;

    if (weeks && *weeks && param_int(weeks, 1, WEEKS_MAX, &v) < 0)
        return reply_error(r, 400, "weeks: expected a number of weeks from 1 to %d",
                           WEEKS_MAX);
    snprintf(wbuf, sizeof(wbuf), "%lld", v);
    snprintf(win, sizeof(win), "%lld", (long long)r->cfg->web_release_window_ms);
    buf_init(&arr, 64 * 1024);
    if (stages_array(r->cfg, &arr) < 0) {
        buf_release(&arr);
        return reply_error(r, 500, "too many release stages");
    }
    params[0] = wbuf;
    params[1] = arr.data;
    params[2] = win;
    d = query_json(r, "outcomes", outcomes_sql, 3, params);
    buf_release(&arr);
    if (!d)
        return reply_db_error(r);
    ret = reply_page(r, d, render_outcomes);
    cJSON_Delete(d);
    return ret;
}
